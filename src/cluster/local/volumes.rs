//! Volumes and workload folders on disk: directories only their owner may
//! enter, handed to a project's user, the volumes found under
//! `projects/<project>/volumes/<name>`, and a clone's copy of another.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cluster::DriverError;
use crate::domain::ids::ProjectId;
use crate::domain::workload::is_workload_name;

/// Creates a directory only its owner may enter (0700), or makes an
/// existing one so.
pub(super) fn private_dir(path: &Path) -> Result<(), DriverError> {
    folder(path, 0o700)
}

/// Creates a directory with `mode` (0700, or 0711: others may pass
/// through to what they own inside, never list it), or makes an existing
/// one so.
pub(super) fn folder(path: &Path, mode: u32) -> Result<(), DriverError> {
    std::fs::create_dir_all(path)
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
        .map_err(|e| DriverError::io(format!("creating {}", path.display()), e))
}

/// Writes a file only its owner may read (0600), whatever the umask.
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}

/// Hands a file or directory to the workload's user (when it has one).
pub(super) fn give_to(path: &Path, uid: Option<u32>) -> Result<(), DriverError> {
    match uid {
        Some(uid) => std::os::unix::fs::chown(path, Some(uid), Some(uid))
            .map_err(|e| DriverError::io(format!("giving {} to user {uid}", path.display()), e)),
        None => Ok(()),
    }
}

/// A project's user as kept in its `uid` file.
pub(super) fn read_uid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Volume directories under `<root>/<project>/volumes/<name>`.
pub(super) fn list_volumes(root: &Path) -> Result<Vec<(ProjectId, String)>, DriverError> {
    let read = |dir: &Path| match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect::<Vec<_>>()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(DriverError::io(format!("listing {}", dir.display()), e)),
    };
    let mut found = Vec::new();
    for project in read(root)? {
        let Ok(id) = project.parse::<ProjectId>() else {
            continue;
        };
        for name in read(&root.join(&project).join("volumes"))? {
            if is_workload_name(&name) {
                found.push((id, name));
            }
        }
    }
    Ok(found)
}

/// How far a clone's copy is, shared between the copying thread and the
/// driver's `ensure_volume`.
#[derive(Debug, Default)]
pub(super) struct CopyProgress {
    total: AtomicU64,
    copied: AtomicU64,
    /// Set once the copy ended: its outcome.
    outcome: Mutex<Option<Result<(), DriverError>>>,
}

impl CopyProgress {
    /// Percent of the source's bytes copied (100 for an empty source).
    pub(super) fn percent(&self) -> u8 {
        let total = self.total.load(Ordering::Relaxed);
        let copied = self.copied.load(Ordering::Relaxed).min(total);
        match total {
            0 => 100,
            total => u8::try_from(copied.saturating_mul(100) / total).unwrap_or(100),
        }
    }

    /// The copy's outcome once it ended.
    pub(super) fn outcome(&self) -> Option<Result<(), DriverError>> {
        self.outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn finish(&self, outcome: Result<(), DriverError>) {
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
    }
}

/// The hidden folder a clone is copied into before it is renamed to
/// `target` (a name no volume can have, so the volume list skips it).
pub(super) fn partial_copy_dir(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".clone-{name}"))
}

/// Copies the volume folder `source` into the new volume folder `target`,
/// through a hidden folder renamed when the copy is whole, so that `target`
/// exists only complete. Folders and regular files are copied with their
/// permission bits (never set-id bits), symbolic links as links (never
/// followed), anything else (sockets, devices) is left out; everything is
/// handed to `uid`. Records progress and the outcome in `progress`.
pub(super) fn copy_volume(source: &Path, target: &Path, uid: Option<u32>, progress: &CopyProgress) {
    let outcome = copy_volume_inner(source, target, uid, progress);
    progress.finish(outcome);
}

fn copy_volume_inner(
    source: &Path,
    target: &Path,
    uid: Option<u32>,
    progress: &CopyProgress,
) -> Result<(), DriverError> {
    let io = |what: &str, path: &Path| {
        let what = format!("{what} {}", path.display());
        move |e| DriverError::io(what, e)
    };
    let meta = std::fs::symlink_metadata(source).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DriverError::NotFound {
            what: format!(
                "the storage to clone ({})",
                source.file_name().unwrap_or_default().to_string_lossy()
            ),
        },
        _ => DriverError::io(format!("reading {}", source.display()), e),
    })?;
    if !meta.is_dir() {
        return Err(DriverError::NotFound {
            what: format!("the storage folder {}", source.display()),
        });
    }
    progress.total.store(
        tree_bytes(source).map_err(io("measuring", source))?,
        Ordering::Relaxed,
    );
    let partial = partial_copy_dir(target);
    match std::fs::remove_dir_all(&partial) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("removing", &partial)(e)),
    }
    copy_tree(source, &partial, uid, progress)?;
    private_dir(&partial)?;
    give_to(&partial, uid)?;
    std::fs::rename(&partial, target).map_err(io("renaming", &partial))
}

/// The bytes of the regular files under `dir`.
fn tree_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0u64;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total = total.saturating_add(tree_bytes(&entry.path())?);
        } else if kind.is_file() {
            total = total.saturating_add(entry.metadata()?.len());
        }
    }
    Ok(total)
}

fn copy_tree(
    from: &Path,
    to: &Path,
    uid: Option<u32>,
    progress: &CopyProgress,
) -> Result<(), DriverError> {
    let io = |what: &'static str, path: &Path| {
        let path = path.display().to_string();
        move |e| DriverError::io(format!("{what} {path}"), e)
    };
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(to)
        .map_err(io("creating", to))?;
    for entry in std::fs::read_dir(from).map_err(io("reading", from))? {
        let entry = entry.map_err(io("reading", from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let meta = entry.metadata().map_err(io("reading", &source))?;
        let kind = meta.file_type();
        let mode = meta.permissions().mode() & 0o1777;
        if kind.is_dir() {
            copy_tree(&source, &target, uid, progress)?;
        } else if kind.is_file() {
            let copied = std::fs::copy(&source, &target).map_err(io("copying", &source))?;
            progress.copied.fetch_add(copied, Ordering::Relaxed);
        } else if kind.is_symlink() {
            let link = std::fs::read_link(&source).map_err(io("reading", &source))?;
            std::os::unix::fs::symlink(link, &target).map_err(io("linking", &target))?;
            if let Some(uid) = uid {
                std::os::unix::fs::lchown(&target, Some(uid), Some(uid))
                    .map_err(io("giving away", &target))?;
            }
            continue;
        } else {
            continue;
        }
        give_to(&target, uid)?;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
            .map_err(io("setting the mode of", &target))?;
    }
    Ok(())
}
