//! Custom images on the local driver. Local workloads run on the host, not
//! in an image, so a "commit" saves what a container changed: its working
//! directory (/workspace in the sandbox), as an uncompressed tarball
//! `workloads/<commit id>/saved.tar`, with a pointer
//! `projects/<project>/images/<sha256 of name:tag>` naming the commit. A
//! container of the same project whose image is that reference starts from
//! a copy: the tarball is unpacked into its new working directory before
//! its sandbox starts (`LocalDriver::apply_container`).
//!
//! Archiving never follows a symlink (it is saved as a link, so a link to
//! a host file saves no host data; each entry is opened through its open
//! parent folder with O_NOFOLLOW, so swapping a file for a link while it is
//! saved fails the save), saves only directories, regular files
//! and symlinks (no devices, fifos or sockets), keeps permission bits but
//! not set-id bits or owners, and stops at [`IMAGE_MAX_BYTES`]. A file that
//! changes while it is read is saved with the size it had when listed.
//! Unpacking is the `tar` crate's, which refuses entries leaving the target
//! folder (`..`, absolute paths, writing through a symlink); what it
//! unpacks is then handed to the project's user.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Entry, Inner, Kind, LocalDriver, Record, ServiceToken};
use crate::cluster::{DriverError, Observed};
use crate::domain::ids::ProjectId;
use crate::domain::workload::{
    FailureReason, ImageCommitSpec, ImageRef, WorkloadId, WorkloadStatus,
};

/// The largest working directory a commit saves (its files' total size).
pub const IMAGE_MAX_BYTES: u64 = 20 * 1024 * 1024 * 1024;
const TARBALL: &str = "saved.tar";

impl Inner {
    /// The pointer naming the commit that saved `image` in `project`.
    fn image_pointer(&self, project: ProjectId, image: &ImageRef) -> PathBuf {
        let digest = Sha256::digest(image.to_string().as_bytes());
        let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.config
            .data_dir
            .join("projects")
            .join(project.to_string())
            .join("images")
            .join(name)
    }

    /// The saved working directory of `image` in `project`, if a commit
    /// saved it.
    pub(super) fn saved_image(&self, project: ProjectId, image: &ImageRef) -> Option<PathBuf> {
        let id: WorkloadId = std::fs::read_to_string(self.image_pointer(project, image))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let tarball = self.workload_dir(id).join(TARBALL);
        tarball.is_file().then_some(tarball)
    }

    /// Removes the pointer of a deleted commit, when it still names it.
    pub(super) fn forget_image(&self, id: WorkloadId, project: ProjectId, target: &str) {
        let Some((name, tag)) = target.rsplit_once(':') else {
            return;
        };
        let image = ImageRef {
            name: name.to_owned(),
            tag: tag.to_owned(),
        };
        let pointer = self.image_pointer(project, &image);
        let ours =
            std::fs::read_to_string(&pointer).is_ok_and(|text| text.trim() == id.to_string());
        if ours {
            let _ = std::fs::remove_file(pointer);
        }
    }
}

impl LocalDriver {
    /// Saves the working directory of the Running container `spec.container`
    /// (in the background: Running, then Succeeded or Failed with the
    /// reason). Applying it again returns what is observed.
    pub(super) async fn commit(&self, spec: &ImageCommitSpec) -> Result<Observed, DriverError> {
        spec.validate().map_err(DriverError::Invalid)?;
        let id = spec.id;
        let source_ok = {
            let state = self.inner.lock();
            if let Some(entry) = state.workloads.get(&id) {
                return Ok(entry.record.observed());
            }
            state.workloads.get(&spec.container).is_some_and(|e| {
                e.record.kind == Kind::Container
                    && e.record.project == spec.project
                    && e.record.status == WorkloadStatus::Running
            })
        };
        if !source_ok {
            return Err(DriverError::Conflict(
                "the container to save is not running".to_owned(),
            ));
        }
        let work = self.inner.workload_dir(spec.container).join("work");
        let dir = self.inner.workload_dir(id);
        super::volumes::private_dir(&dir)?;
        {
            let mut state = self.inner.lock();
            let record = Record {
                id,
                kind: Kind::ImageCommit,
                project: spec.project,
                name: spec.target.to_string(),
                status: WorkloadStatus::Creating,
                stop_requested: false,
                procs: Vec::new(),
                gpus: Vec::new(),
                endpoints: Vec::new(),
                volumes: Vec::new(),
                time_limit_secs: None,
                started_at: Some(jiff::Timestamp::now()),
                finished_at: None,
                events: Vec::new(),
                service_token: ServiceToken::default(),
            };
            state.workloads.insert(
                id,
                Entry {
                    record,
                    monitor: None,
                },
            );
            self.inner.transition(
                &mut state,
                id,
                WorkloadStatus::Running,
                "saving the working directory".to_owned(),
            );
        }
        let inner = self.inner.clone();
        let pointer = self.inner.image_pointer(spec.project, &spec.target);
        let monitor = tokio::spawn(async move {
            let tarball = dir.join(TARBALL);
            let saved = tokio::task::spawn_blocking(move || {
                save(&work, &tarball, IMAGE_MAX_BYTES)?;
                point(&pointer, id)
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            let (status, message) = match saved {
                Ok(()) => (
                    WorkloadStatus::Succeeded,
                    "the working directory was saved".to_owned(),
                ),
                Err(why) => {
                    let status = WorkloadStatus::failed(FailureReason::Other(why));
                    let message = status.to_string();
                    (status, message)
                }
            };
            inner.finish(id, status, message);
        });
        self.set_monitor(id, monitor);
        self.status_of(id)
    }

    /// Unpacks the custom image `image` of `project` into the new working
    /// directory `work` of container `id`; the observation of its failure
    /// when that cannot be done (the folder goes, so a later start tries
    /// again).
    pub(super) async fn start_from_image(
        &self,
        id: WorkloadId,
        project: ProjectId,
        image: &ImageRef,
        work: &Path,
        uid: Option<u32>,
    ) -> Option<Observed> {
        let Some(tarball) = self.inner.saved_image(project, image) else {
            let _ = std::fs::remove_dir_all(work);
            return Some(self.fail_early(id, FailureReason::ImagePull));
        };
        let target = work.to_owned();
        let restored = tokio::task::spawn_blocking(move || restore(&tarball, &target, uid))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        match restored {
            Ok(()) => None,
            Err(why) => {
                let _ = std::fs::remove_dir_all(work);
                Some(self.fail_early(id, FailureReason::Other(why)))
            }
        }
    }

    /// The project and image reference of the image commit `id`, when it
    /// is one.
    pub(super) fn commit_of(&self, id: WorkloadId) -> Option<(ProjectId, String)> {
        self.inner
            .lock()
            .workloads
            .get(&id)
            .filter(|e| e.record.kind == Kind::ImageCommit)
            .map(|e| (e.record.project, e.record.name.clone()))
    }

    fn status_of(&self, id: WorkloadId) -> Result<Observed, DriverError> {
        self.inner
            .lock()
            .workloads
            .get(&id)
            .map(|e| e.record.observed())
            .ok_or_else(|| DriverError::NotFound {
                what: format!("workload {id}"),
            })
    }
}

/// Writes the pointer file naming commit `id` (write, then rename).
fn point(pointer: &Path, id: WorkloadId) -> Result<(), String> {
    let write = || -> io::Result<()> {
        if let Some(dir) = pointer.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = pointer.with_extension("tmp");
        std::fs::write(&tmp, id.to_string())?;
        std::fs::rename(&tmp, pointer)
    };
    write().map_err(|e| format!("recording the saved image: {e}"))
}

/// Reads a file as exactly `size` bytes: cut when it grew, padded with
/// zeros when it shrank since it was listed (the tar header says `size`).
struct Exactly<R> {
    inner: io::Take<R>,
    missing: u64,
}

impl<R: Read> Exactly<R> {
    fn new(inner: R, size: u64) -> Self {
        Self {
            inner: inner.take(size),
            missing: size,
        }
    }
}

impl<R: Read> Read for Exactly<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.missing == 0 || buf.is_empty() {
            return Ok(0);
        }
        let n = match self.inner.read(buf)? {
            0 => {
                let n = buf
                    .len()
                    .min(usize::try_from(self.missing).unwrap_or(usize::MAX));
                buf[..n].fill(0);
                n
            }
            n => n,
        };
        self.missing -= n as u64;
        Ok(n)
    }
}

/// Archives the folder `work` into `tarball` (see the module's rules);
/// Err says why in words a user can act on.
pub(super) fn save(work: &Path, tarball: &Path, max_bytes: u64) -> Result<(), String> {
    let partial = tarball.with_extension("partial");
    let result = (|| {
        let file = File::create(&partial).map_err(|e| format!("creating the image file: {e}"))?;
        let mut builder = tar::Builder::new(BufWriter::new(file));
        builder.mode(tar::HeaderMode::Deterministic);
        builder.follow_symlinks(false);
        let mut total = 0u64;
        let root =
            open_nofollow(work, true).map_err(|e| format!("reading the working directory: {e}"))?;
        append_dir(&mut builder, &root, Path::new(""), &mut total, max_bytes)?;
        let mut out = builder
            .into_inner()
            .map_err(|e| format!("writing the image file: {e}"))?;
        out.flush()
            .map_err(|e| format!("writing the image file: {e}"))?;
        out.into_inner()
            .map_err(|e| format!("writing the image file: {}", e.error()))?
            .sync_all()
            .map_err(|e| format!("writing the image file: {e}"))?;
        std::fs::rename(&partial, tarball).map_err(|e| format!("writing the image file: {e}"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Opens `path` without following a symlink in its last component (ELOOP
/// instead), never blocking on a fifo; a directory only when `dir`.
fn open_nofollow(path: &Path, dir: bool) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let directory = if dir { nix::libc::O_DIRECTORY } else { 0 };
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | directory)
        .open(path)
}

/// The path of an open file through /proc: resolving it names that very
/// file, whatever was renamed or swapped for a symlink since it was opened.
fn opened(file: &File) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Archives the open directory `dir` (at `relative` in the archive). Every
/// entry is reached through its open parent and opened without following
/// links, so a workload that swaps a file or folder for a symlink while it
/// is saved makes the save fail rather than read what the link points to.
fn append_dir<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &File,
    relative: &Path,
    total: &mut u64,
    max_bytes: u64,
) -> Result<(), String> {
    let shown = |path: &Path| format!("/workspace/{}", path.display());
    let parent = opened(dir);
    let mut entries: Vec<_> = std::fs::read_dir(&parent)
        .map_err(|e| format!("reading {}: {e}", shown(relative)))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("reading {}: {e}", shown(relative)))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = parent.join(entry.file_name());
        let name = relative.join(entry.file_name());
        let failed = |e: io::Error| format!("reading {}: {e}", shown(&name));
        let listed = std::fs::symlink_metadata(&path).map_err(failed)?;
        let kind = listed.file_type();
        if kind.is_dir() {
            let sub = open_nofollow(&path, true).map_err(failed)?;
            let meta = sub.metadata().map_err(failed)?;
            let mut header = header_of(&meta);
            header.set_size(0);
            builder
                .append_data(&mut header, &name, io::empty())
                .map_err(|e| format!("saving {}: {e}", shown(&name)))?;
            append_dir(builder, &sub, &name, total, max_bytes)?;
        } else if kind.is_file() {
            let file = open_nofollow(&path, false).map_err(failed)?;
            let meta = file.metadata().map_err(failed)?;
            if !meta.is_file() {
                return Err(format!("{} changed while it was saved", shown(&name)));
            }
            *total += meta.len();
            if *total > max_bytes {
                return Err(format!(
                    "the working directory holds more than {}; a custom image saves at most that",
                    size_words(max_bytes)
                ));
            }
            let mut header = header_of(&meta);
            builder
                .append_data(&mut header, &name, Exactly::new(file, meta.len()))
                .map_err(|e| format!("saving {}: {e}", shown(&name)))?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&path).map_err(failed)?;
            let mut header = header_of(&listed);
            header.set_size(0);
            builder
                .append_link(&mut header, &name, &target)
                .map_err(|e| format!("saving {}: {e}", shown(&name)))?;
        }
        // Devices, fifos and sockets are not saved.
    }
    Ok(())
}

/// A tar header for an entry: permission bits only (never set-id bits,
/// never the owner) and the modification time.
fn header_of(meta: &std::fs::Metadata) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(meta, tar::HeaderMode::Deterministic);
    header.set_mode(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777);
    header
}

/// A size in GiB when it is whole GiB, else in bytes.
fn size_words(bytes: u64) -> String {
    const GIB: u64 = 1024 * 1024 * 1024;
    if bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Unpacks `tarball` into the working directory `work` and hands what it
/// unpacked to `uid` (the project's user) when there is one.
pub(super) fn restore(tarball: &Path, work: &Path, uid: Option<u32>) -> Result<(), String> {
    let file = File::open(tarball).map_err(|e| format!("opening the saved image: {e}"))?;
    let mut archive = tar::Archive::new(BufReader::new(file));
    archive.set_preserve_permissions(false);
    archive.set_preserve_ownerships(false);
    archive.set_overwrite(true);
    archive
        .unpack(work)
        .map_err(|e| format!("unpacking the saved image: {e}"))?;
    if let Some(uid) = uid {
        give_tree(work, uid).map_err(|e| format!("handing the files to the project: {e}"))?;
    }
    Ok(())
}

/// Hands a folder and everything in it to `uid`, never following a link.
fn give_tree(dir: &Path, uid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(dir, Some(uid), Some(uid))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            give_tree(&path, uid)?;
        } else {
            std::os::unix::fs::lchown(&path, Some(uid), Some(uid))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_saved_folder_comes_back_with_links_as_links_and_no_set_id_bits() {
        let dir = tempfile::tempdir().expect("dir");
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("pkg/sub")).expect("dirs");
        std::fs::write(work.join("pkg/sub/model.txt"), "weights").expect("file");
        std::fs::write(work.join("run.sh"), "echo hi").expect("file");
        std::fs::set_permissions(work.join("run.sh"), std::fs::Permissions::from_mode(0o4755))
            .expect("mode");
        let secret = dir.path().join("host-secret");
        std::fs::write(&secret, "host data").expect("file");
        std::os::unix::fs::symlink(&secret, work.join("link")).expect("link");

        let tarball = dir.path().join("saved.tar");
        save(&work, &tarball, IMAGE_MAX_BYTES).expect("saved");
        let bytes = std::fs::read(&tarball).expect("tarball");
        assert!(
            !bytes.windows(9).any(|w| w == b"host data"),
            "a link's target is never read"
        );

        let copy = dir.path().join("copy");
        std::fs::create_dir_all(&copy).expect("dir");
        restore(&tarball, &copy, None).expect("restored");
        assert_eq!(
            std::fs::read_to_string(copy.join("pkg/sub/model.txt")).expect("file"),
            "weights"
        );
        let mode = std::fs::metadata(copy.join("run.sh"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755);
        assert_eq!(std::fs::read_link(copy.join("link")).expect("link"), secret);
    }

    #[test]
    fn links_are_never_followed_to_open_a_folder_or_file() {
        let dir = tempfile::tempdir().expect("dir");
        let host = dir.path().join("host");
        std::fs::create_dir_all(&host).expect("dir");
        std::fs::write(host.join("secret"), "host data").expect("file");
        let work = dir.path().join("work");
        std::os::unix::fs::symlink(&host, &work).expect("link");
        let tarball = dir.path().join("saved.tar");
        assert!(save(&work, &tarball, IMAGE_MAX_BYTES).is_err());
        assert!(open_nofollow(&host.join("secret"), false).is_ok());
        std::os::unix::fs::symlink(host.join("secret"), dir.path().join("alias")).expect("link");
        assert!(open_nofollow(&dir.path().join("alias"), false).is_err());
    }

    #[test]
    fn too_large_a_folder_is_refused_with_the_limit() {
        let dir = tempfile::tempdir().expect("dir");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).expect("dir");
        std::fs::write(work.join("big"), vec![1u8; 2048]).expect("file");
        let tarball = dir.path().join("saved.tar");
        let why = save(&work, &tarball, 1024).expect_err("too large");
        assert!(why.contains("more than 1024 bytes"), "{why}");
        assert_eq!(size_words(IMAGE_MAX_BYTES), "20 GiB");
        assert!(!tarball.exists() && !tarball.with_extension("partial").exists());
    }

    #[test]
    fn a_file_that_changes_while_read_keeps_its_listed_size() {
        let mut short = Exactly::new(&b"abc"[..], 5);
        let mut out = Vec::new();
        short.read_to_end(&mut out).expect("read");
        assert_eq!(out, b"abc\0\0");
        let mut long = Exactly::new(&b"abcdef"[..], 2);
        let mut out = Vec::new();
        long.read_to_end(&mut out).expect("read");
        assert_eq!(out, b"ab");
    }
}
