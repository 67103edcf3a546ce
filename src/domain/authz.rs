//! The one permission table. Every route names the [`Action`] it performs;
//! the web layer's extractors ask [`permits`] and nothing else decides.

/// Who is asking, at the platform level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Anonymous,
    Member,
    Admin,
}

use super::project::ProjectRole;
use super::storage::{MountAccess, StoragePermission};

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Sign in, see the login page, health checks, static assets.
    UsePublicPages,
    /// See the workspace pages and one's own account; change one's own
    /// profile, password and settings; log out.
    UseWorkspace,
    /// The Administration section: users, the review queue, all projects,
    /// the catalog, platform settings and the mail outbox.
    Administer,
}

/// Whether `role` may perform `action`.
pub fn permits(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match (role, action) {
        (_, UsePublicPages) => true,
        (Member | Admin, UseWorkspace) => true,
        (Admin, Administer) => true,
        (Anonymous, UseWorkspace | Administer) | (Member, Administer) => false,
    }
}

/// What is done to one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectAction {
    /// See the project, its members, quota and use.
    View,
    /// Edit name, description, members and managers; set member caps.
    Manage,
    /// Delete the project (releases everything in it).
    Delete,
    /// Apply for a period extension or more quota.
    Apply,
    /// Change quota and dates directly, force a release.
    Revise,
}

/// Whether someone with platform `role` and `membership` in a project may do
/// `action` to it.
pub fn permits_project(role: Role, membership: Option<ProjectRole>, action: ProjectAction) -> bool {
    use ProjectAction::*;
    match action {
        View => role == Role::Admin || membership.is_some(),
        Manage | Delete | Apply => {
            role != Role::Anonymous && membership == Some(ProjectRole::Manager)
        }
        Revise => role == Role::Admin,
    }
}

/// What is done to a workload (container or job) or a volume of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadAction {
    /// Create one in the project, owned by oneself.
    Create,
    /// See it, its status, events and logs.
    View,
    /// Stop, start, cancel or delete it.
    Operate,
}

/// Whether someone with platform `role` and `membership` in a project may do
/// `action` to a workload or volume of it; `owner`: they own it (ignored for
/// `Create`). Members act on their own, managers on all of the project's, an
/// admin on every one (but creates only where a member).
pub fn permits_workload(
    role: Role,
    membership: Option<ProjectRole>,
    owner: bool,
    action: WorkloadAction,
) -> bool {
    use WorkloadAction::*;
    if role == Role::Anonymous {
        return false;
    }
    match action {
        Create => membership.is_some(),
        View | Operate => {
            role == Role::Admin
                || membership == Some(ProjectRole::Manager)
                || (membership.is_some() && owner)
        }
    }
}

/// Whether someone may see a storage of a project (Storage Management):
/// whoever may see its owner's workloads, and every member of the project
/// when its permission shares it.
pub fn permits_storage_view(
    role: Role,
    membership: Option<ProjectRole>,
    owner: bool,
    permission: StoragePermission,
) -> bool {
    permits_workload(role, membership, owner, WorkloadAction::View)
        || (role != Role::Anonymous && membership.is_some() && permission.is_shared())
}

/// How a workload owned by a member with `membership` (the storage's owner
/// or not) mounts a storage with `permission`; None: it may not mount it.
pub fn storage_mount(
    membership: Option<ProjectRole>,
    owner: bool,
    permission: StoragePermission,
) -> Option<MountAccess> {
    membership?;
    match (owner, permission) {
        (true, _) | (false, StoragePermission::ProjectReadWrite) => Some(MountAccess::ReadWrite),
        (false, StoragePermission::ProjectReadOnly) => Some(MountAccess::ReadOnly),
        (false, StoragePermission::Personal) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_table() {
        use WorkloadAction::*;
        let manager = Some(ProjectRole::Manager);
        let member = Some(ProjectRole::Member);
        let rows = [
            // (role, membership, owner, [Create, View, Operate])
            (Role::Admin, None, false, [false, true, true]),
            (Role::Admin, member, false, [true, true, true]),
            (Role::Member, manager, false, [true, true, true]),
            (Role::Member, member, true, [true, true, true]),
            (Role::Member, member, false, [true, false, false]),
            (Role::Member, None, false, [false, false, false]),
            (Role::Member, None, true, [false, false, false]),
            (Role::Anonymous, None, true, [false, false, false]),
        ];
        for (role, membership, owner, expected) in rows {
            for (action, allowed) in [Create, View, Operate].into_iter().zip(expected) {
                assert_eq!(
                    permits_workload(role, membership, owner, action),
                    allowed,
                    "{role:?} {membership:?} owner={owner} {action:?}"
                );
            }
        }
    }

    #[test]
    fn the_project_table() {
        use ProjectAction::*;
        let manager = Some(ProjectRole::Manager);
        let member = Some(ProjectRole::Member);
        let rows = [
            // (role, membership, [View, Manage, Delete, Apply, Revise])
            (Role::Admin, None, [true, false, false, false, true]),
            (Role::Admin, manager, [true, true, true, true, true]),
            (Role::Member, manager, [true, true, true, true, false]),
            (Role::Member, member, [true, false, false, false, false]),
            (Role::Member, None, [false, false, false, false, false]),
            (Role::Anonymous, None, [false, false, false, false, false]),
        ];
        for (role, membership, expected) in rows {
            for (action, allowed) in [View, Manage, Delete, Apply, Revise]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(
                    permits_project(role, membership, action),
                    allowed,
                    "{role:?} {membership:?} {action:?}"
                );
            }
        }
    }

    #[test]
    fn the_storage_table() {
        use StoragePermission::*;
        let manager = Some(ProjectRole::Manager);
        let member = Some(ProjectRole::Member);
        // Seeing: a personal storage as a container; shared ones by members.
        assert!(!permits_storage_view(Role::Member, member, false, Personal));
        assert!(permits_storage_view(
            Role::Member,
            member,
            false,
            ProjectReadOnly
        ));
        assert!(permits_storage_view(Role::Member, manager, false, Personal));
        assert!(permits_storage_view(Role::Admin, None, false, Personal));
        assert!(!permits_storage_view(
            Role::Member,
            None,
            false,
            ProjectReadWrite
        ));
        assert!(!permits_storage_view(
            Role::Anonymous,
            None,
            false,
            ProjectReadWrite
        ));
        // Mounting.
        let rw = Some(MountAccess::ReadWrite);
        let ro = Some(MountAccess::ReadOnly);
        let rows = [
            (member, true, Personal, rw),
            (member, false, Personal, None),
            (manager, false, Personal, None),
            (member, false, ProjectReadWrite, rw),
            (member, true, ProjectReadOnly, rw),
            (member, false, ProjectReadOnly, ro),
            (manager, false, ProjectReadOnly, ro),
            (None, true, ProjectReadWrite, None),
        ];
        for (membership, owner, permission, expected) in rows {
            assert_eq!(
                storage_mount(membership, owner, permission),
                expected,
                "{membership:?} owner={owner} {permission:?}"
            );
        }
    }

    #[test]
    fn the_table() {
        let cases = [
            (Role::Anonymous, Action::UsePublicPages, true),
            (Role::Anonymous, Action::UseWorkspace, false),
            (Role::Anonymous, Action::Administer, false),
            (Role::Member, Action::UsePublicPages, true),
            (Role::Member, Action::UseWorkspace, true),
            (Role::Member, Action::Administer, false),
            (Role::Admin, Action::UsePublicPages, true),
            (Role::Admin, Action::UseWorkspace, true),
            (Role::Admin, Action::Administer, true),
        ];
        for (role, action, expected) in cases {
            assert_eq!(permits(role, action), expected, "{role:?} {action:?}");
        }
    }
}
