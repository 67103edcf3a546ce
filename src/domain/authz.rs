//! The one permission table. Every route names the [`Action`] it performs;
//! the web layer's extractors ask [`permits`] and nothing else decides.

/// Who is asking, at the platform level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Anonymous,
    Member,
    Admin,
}

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Sign in, see the login page, health checks, static assets.
    UsePublicPages,
    /// See the workspace pages and one's own account; change one's own
    /// profile, password and settings; log out.
    UseWorkspace,
    /// List, create, disable, enable and reset users; grant and revoke admin.
    ManageUsers,
}

/// Whether `role` may perform `action`.
pub fn permits(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match (role, action) {
        (_, UsePublicPages) => true,
        (Member | Admin, UseWorkspace) => true,
        (Admin, ManageUsers) => true,
        (Anonymous, UseWorkspace | ManageUsers) | (Member, ManageUsers) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        let cases = [
            (Role::Anonymous, Action::UsePublicPages, true),
            (Role::Anonymous, Action::UseWorkspace, false),
            (Role::Anonymous, Action::ManageUsers, false),
            (Role::Member, Action::UsePublicPages, true),
            (Role::Member, Action::UseWorkspace, true),
            (Role::Member, Action::ManageUsers, false),
            (Role::Admin, Action::UsePublicPages, true),
            (Role::Admin, Action::UseWorkspace, true),
            (Role::Admin, Action::ManageUsers, true),
        ];
        for (role, action, expected) in cases {
            assert_eq!(permits(role, action), expected, "{role:?} {action:?}");
        }
    }
}
