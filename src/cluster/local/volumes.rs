//! Volumes and workload folders on disk: directories only their owner may
//! enter, handed to a project's user, and the volumes found under
//! `projects/<project>/volumes/<name>`.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

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
