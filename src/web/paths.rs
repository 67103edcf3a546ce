//! Every URL the interface links to. Views and handlers take paths from here.

use crate::domain::ids::{ApplicationId, ProjectId, UserId, WorkloadId};

pub const HOME: &str = "/";
pub const LOGIN: &str = "/login";
pub const LOGOUT: &str = "/logout";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const ASSETS_PREFIX: &str = "/assets/";

pub const PROJECT_REVIEWS: &str = "/projects/reviews";
pub const PROJECTS: &str = "/projects";
pub const PROJECT_DETAIL: &str = "/projects/detail";
pub const PROJECT_NEW: &str = "/projects/new";
pub const PROJECT_SELECT: &str = "/projects/select";
pub const CONTAINERS: &str = "/containers";
pub const CONTAINER_NEW: &str = "/containers/new";
pub const JOBS: &str = "/jobs";
/// The job create wizard.
pub const JOB_NEW: &str = "/jobs/new";
pub const JOB_SCHEDULES: &str = "/jobs/schedules";
pub const GPU_UTILIZATION: &str = "/gpu-utilization";
pub const STORAGE: &str = "/storage";
pub const CUSTOM_IMAGES: &str = "/advanced/custom-images";
pub const JOB_TEMPLATES: &str = "/advanced/job-templates";
pub const JOB_TEMPLATE_NEW: &str = "/advanced/job-templates/new";
pub const KEY_PAIRS: &str = "/advanced/key-pairs";
pub const KEY_PAIR_GENERATE: &str = "/advanced/key-pairs/generate";
pub const KEY_PAIR_IMPORT: &str = "/advanced/key-pairs/import";
pub const CLOUD_PROVISIONING: &str = "/advanced/cloud-provisioning";
pub const COST_CENTER: &str = "/advanced/cost-center";
/// The cost center's month as CSV (`?project=&month=`).
pub const COST_CENTER_CSV: &str = "/advanced/cost-center/csv";
/// A container's services through mlstack's proxy (every method).
pub const SERVICE_PROXY: &str = "/containers/{id}/services/{name}/{tail:.*}";

/// Whether `path` is under a container's service (`SERVICE_PROXY`): its
/// requests are the service's (bodies streamed, no mlstack CSRF token).
pub fn is_service_proxy(path: &str) -> bool {
    let mut parts = path.split('/');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(""), Some("containers"), Some(id), Some("services"), Some(name), Some(_))
            if !id.is_empty() && !name.is_empty()
    )
}

pub const PROFILE: &str = "/account/profile";
pub const PASSWORD: &str = "/account/password";
pub const ORDERS: &str = "/account/orders";
/// One order's detail: `/account/orders/{id}`.
pub const ORDER_DETAIL: &str = "/account/orders/{id}";
pub const SETTINGS: &str = "/account/settings";
pub const SET_LANGUAGE: &str = "/account/language";
pub const SET_THEME: &str = "/account/theme";
/// Account Management › E-mail: the addresses and notification switches.
pub const EMAILS: &str = "/account/emails";
/// Asks to change the login e-mail (a link is mailed to the new address).
pub const EMAIL_LOGIN: &str = "/account/emails/login";
/// Sets the backup address (a link is mailed to it).
pub const EMAIL_BACKUP: &str = "/account/emails/backup";
pub const EMAIL_BACKUP_DELETE: &str = "/account/emails/backup/delete";
/// Mails a new link for the address waiting (`slot` = login or backup).
pub const EMAIL_RESEND: &str = "/account/emails/resend";
pub const EMAIL_NOTIFICATIONS: &str = "/account/emails/notifications";
/// The page a mailed link opens (`?token=`), and its confirmation.
pub const EMAIL_VERIFY: &str = "/account/emails/verify";
/// Usernames matching `?q=` (JSON), for the project form's member fields.
pub const USER_SEARCH: &str = "/users/search";

pub const ADMIN_USERS: &str = "/admin/users";
pub const ADMIN_REVIEWS: &str = "/admin/reviews";
pub const ADMIN_CATALOG: &str = "/admin/catalog";
/// The metrics sources' status (admins).
pub const ADMIN_METRICS: &str = "/admin/metrics-sources";
/// mlstack's own metrics in the Prometheus text format.
pub const PROMETHEUS: &str = "/metrics";
pub const ADMIN_SETTINGS: &str = "/admin/settings";
pub const ADMIN_PROJECTS: &str = "/admin/projects";
pub const ADMIN_OUTBOX: &str = "/admin/outbox";
/// The audit log (admins), its exports and its retention.
pub const ADMIN_AUDIT: &str = "/admin/audit";
pub const ADMIN_AUDIT_CSV: &str = "/admin/audit/export.csv";
pub const ADMIN_AUDIT_JSONL: &str = "/admin/audit/export.jsonl";
pub const ADMIN_AUDIT_RETENTION: &str = "/admin/audit/retention";

/// Deleting one of the user's key pairs.
pub fn key_pair_delete(id: &str) -> String {
    format!("{KEY_PAIRS}/{id}/delete")
}

/// A project's detail page.
pub fn project(id: ProjectId) -> String {
    format!("{PROJECTS}/{id}")
}

/// A container's detail page.
pub fn container(id: WorkloadId) -> String {
    format!("{CONTAINERS}/{id}")
}

/// A job's page.
pub fn job(id: WorkloadId) -> String {
    format!("{JOBS}/{id}")
}

/// A tab of a container's detail page: `detail`, `services`, `monitor`,
/// `events`.
pub fn container_tab(id: WorkloadId, tab: &str) -> String {
    format!("{CONTAINERS}/{id}?tab={tab}")
}

/// A container's sub-address: `status`, `stop`, `start`, `delete`,
/// `terminal`.
pub fn container_action(id: WorkloadId, action: &str) -> String {
    format!("{CONTAINERS}/{id}/{action}")
}

/// An HTTP service of a container, through mlstack's proxy.
pub fn container_service(id: WorkloadId, service: &str) -> String {
    format!("{CONTAINERS}/{id}/services/{service}/")
}

/// One of a project's actions: `edit`, `extension`, `quota`, `delete`,
/// `caps/<user id>`.
pub fn project_action(id: ProjectId, action: &str) -> String {
    format!("{PROJECTS}/{id}/{action}")
}

/// An application in the Project Review List, selected for its detail pane.
pub fn review(id: ApplicationId) -> String {
    format!("{PROJECT_REVIEWS}?id={id}")
}

/// An action on one's own application: `revoke`.
pub fn review_action(id: ApplicationId, action: &str) -> String {
    format!("{PROJECT_REVIEWS}/{id}/{action}")
}

/// An admin decision on an application: `approve`, `decline`.
pub fn admin_review_action(id: ApplicationId, action: &str) -> String {
    format!("{ADMIN_REVIEWS}/{id}/{action}")
}

/// An admin action on a project: `revise`, `release`.
pub fn admin_project_action(id: ProjectId, action: &str) -> String {
    format!("{ADMIN_PROJECTS}/{id}/{action}")
}

/// An action on one user in the admin's users page; `action` is one of
/// `disable`, `enable`, `grant-admin`, `revoke-admin`, `reset-password`.
pub fn admin_user_action(id: UserId, action: &str) -> String {
    format!("{ADMIN_USERS}/{id}/{action}")
}

/// One kind's page of the admin's catalog.
pub fn admin_catalog_kind(kind: crate::domain::catalog::CatalogKind) -> String {
    format!("{ADMIN_CATALOG}/{}", kind.slug())
}

/// A catalog item's edit page.
pub fn admin_catalog_item(kind: crate::domain::catalog::CatalogKind, id: &str) -> String {
    format!("{ADMIN_CATALOG}/{}/{id}", kind.slug())
}

/// An action on a catalog item: `retire`, `unretire` or `delete`.
pub fn admin_catalog_action(
    kind: crate::domain::catalog::CatalogKind,
    id: &str,
    action: &str,
) -> String {
    format!("{ADMIN_CATALOG}/{}/{id}/{action}", kind.slug())
}

/// The login page, returning to `next` afterwards.
pub fn login_then(next: &str) -> String {
    if next == HOME || !is_local(next) {
        LOGIN.to_owned()
    } else {
        format!("{LOGIN}?next={}", percent_encode(next))
    }
}

/// Whether `target` is a path on this site, safe to redirect to.
pub fn is_local(target: &str) -> bool {
    target.starts_with('/')
        && !target.starts_with("//")
        && !target.starts_with("/\\")
        && !target.chars().any(|c| c.is_control() || c == '\\')
}

fn percent_encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|q| q.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// The WebSocket of a container's web terminal.
pub fn container_terminal_ws(id: WorkloadId) -> String {
    format!("{CONTAINERS}/{id}/terminal/ws")
}

/// One order's detail page.
pub fn order(id: crate::domain::ids::OrderId) -> String {
    format!("{ORDERS}/{id}")
}

/// Queues an outbox mail again (admins).
pub fn admin_outbox_resend(id: crate::domain::ids::MailId) -> String {
    format!("{ADMIN_OUTBOX}/{id}/resend")
}
/// The schedule form's trigger preview (JSON).
pub const JOB_SCHEDULE_PREVIEW: &str = "/jobs/schedules/preview";
/// The job schedule create form.
pub const JOB_SCHEDULE_NEW: &str = "/jobs/schedules/new";

/// A job schedule's page.
pub fn job_schedule(id: crate::domain::ids::JobScheduleId) -> String {
    format!("{JOB_SCHEDULES}/{id}")
}

/// A job template's page.
pub fn job_template(id: impl std::fmt::Display) -> String {
    format!("{JOB_TEMPLATES}/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert!(is_local("/account/profile"));
        assert!(is_local("/admin/users?page=2"));
        assert!(!is_local("//evil.example"));
        assert!(!is_local("/\\evil.example"));
        assert!(!is_local("https://evil.example"));
        assert!(!is_local("/a\r\nSet-Cookie: x"));
        assert_eq!(
            login_then("/account/profile"),
            "/login?next=%2Faccount%2Fprofile"
        );
        assert_eq!(login_then("https://evil.example"), "/login");
        assert_eq!(login_then("/"), "/login");
    }
}
