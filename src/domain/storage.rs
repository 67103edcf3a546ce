//! Storage Management (manual §5.7): who may read and write a storage, the
//! statuses the list shows, and the size rule of the create form. Pure
//! rules; who may see or mount a storage is asked of `authz`.

use serde::{Deserialize, Serialize};

use super::validation::FieldErrors;

/// Who may read and write a storage (the manual's three permissions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoragePermission {
    /// Only readable and writable personally: only its owner sees and
    /// mounts it. Volumes from before Storage Management read as this.
    #[default]
    Personal,
    /// Readable and writable by the project.
    ProjectReadWrite,
    /// Readable by the project: others mount it read-only, the owner writes.
    ProjectReadOnly,
}

impl StoragePermission {
    pub const ALL: [StoragePermission; 3] = [
        StoragePermission::Personal,
        StoragePermission::ProjectReadWrite,
        StoragePermission::ProjectReadOnly,
    ];

    /// The form value.
    pub fn code(self) -> &'static str {
        match self {
            StoragePermission::Personal => "personal",
            StoragePermission::ProjectReadWrite => "project_read_write",
            StoragePermission::ProjectReadOnly => "project_read_only",
        }
    }

    pub fn parse(code: &str) -> Option<StoragePermission> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    /// Whether members other than the owner see it.
    pub fn is_shared(self) -> bool {
        self != StoragePermission::Personal
    }
}

/// How a workload mounts a storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountAccess {
    ReadWrite,
    ReadOnly,
}

/// What the Storage Management list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageStatus {
    Creating,
    Available,
    /// Mounted by a container, or by a job that has not ended.
    InUse,
    Failed,
    Deleting,
}

impl StorageStatus {
    /// The status of a storage: `deleting` when its deletion was asked,
    /// `ready` once the cluster has it, `failed` when the last attempt to
    /// provide it failed, `mounted` when a workload holds it.
    pub fn of(deleting: bool, ready: bool, failed: bool, mounted: bool) -> StorageStatus {
        match (deleting, ready, failed, mounted) {
            (true, ..) => StorageStatus::Deleting,
            (false, true, _, true) => StorageStatus::InUse,
            (false, true, _, false) => StorageStatus::Available,
            (false, false, true, _) => StorageStatus::Failed,
            (false, false, false, _) => StorageStatus::Creating,
        }
    }
}

/// Whether changing a storage's permission to `new` breaks an existing
/// mount by a workload of the storage's owner (`owner`) or of someone else,
/// mounted read-only or not.
pub fn breaks_mount(new: StoragePermission, owner: bool, read_only: bool) -> bool {
    if owner {
        return false;
    }
    match new {
        StoragePermission::Personal => true,
        StoragePermission::ProjectReadOnly => !read_only,
        StoragePermission::ProjectReadWrite => false,
    }
}

/// The size field of the create form, in GiB, within the storage type's
/// limits; empty means the type's default, its minimum.
pub fn parse_size(input: &str, min_gib: u32, max_gib: u32, errors: &mut FieldErrors) -> u64 {
    let input = input.trim();
    if input.is_empty() {
        return u64::from(min_gib);
    }
    match input.parse::<u64>() {
        Ok(size) if (u64::from(min_gib)..=u64::from(max_gib)).contains(&size) => size,
        _ => {
            errors.add("size", "storage.error.size");
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_round_trip_their_form_codes() {
        for p in StoragePermission::ALL {
            assert_eq!(StoragePermission::parse(p.code()), Some(p));
        }
        assert_eq!(StoragePermission::parse("everyone"), None);
        assert_eq!(StoragePermission::default(), StoragePermission::Personal);
        assert!(!StoragePermission::Personal.is_shared());
        assert!(StoragePermission::ProjectReadOnly.is_shared());
    }

    #[test]
    fn the_status_follows_deletion_readiness_failure_and_mounts() {
        use StorageStatus::*;
        assert_eq!(StorageStatus::of(true, true, false, true), Deleting);
        assert_eq!(StorageStatus::of(false, true, false, true), InUse);
        assert_eq!(StorageStatus::of(false, true, true, false), Available);
        assert_eq!(StorageStatus::of(false, false, true, false), Failed);
        assert_eq!(StorageStatus::of(false, false, false, true), Creating);
    }

    #[test]
    fn a_permission_change_breaks_the_mounts_it_would_no_longer_allow() {
        use StoragePermission::*;
        // The owner's mounts never break.
        for p in StoragePermission::ALL {
            assert!(!breaks_mount(p, true, false));
        }
        assert!(breaks_mount(Personal, false, true));
        assert!(breaks_mount(ProjectReadOnly, false, false));
        assert!(!breaks_mount(ProjectReadOnly, false, true));
        assert!(!breaks_mount(ProjectReadWrite, false, true));
    }

    #[test]
    fn sizes_stay_within_the_types_limits() {
        let mut errors = FieldErrors::new();
        assert_eq!(parse_size("", 5, 100, &mut errors), 5, "the default");
        assert_eq!(parse_size(" 100 ", 5, 100, &mut errors), 100);
        assert!(errors.is_empty());
        for bad in ["4", "101", "-1", "1.5", "ten", "99999999999999999999999"] {
            let mut errors = FieldErrors::new();
            parse_size(bad, 5, 100, &mut errors);
            assert_eq!(errors.get("size"), Some("storage.error.size"), "{bad}");
        }
    }
}
