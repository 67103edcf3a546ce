//! The audit log's rules: what a security-relevant event records (who, when,
//! from where, what, to what, with which outcome — never a secret), which
//! events a filter selects, how long events are kept, and the export lines.

use std::net::IpAddr;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::ids::UserId;
use super::validation::FieldErrors;

/// Days events are kept when the admin has not chosen.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;
/// The shortest retention an admin may set.
pub const MIN_RETENTION_DAYS: u32 = 1;
/// The longest retention an admin may set (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// What happened. The code (`code()`) is what filters and exports name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A sign-in (succeeded, or failed with the reason in the outcome).
    Login,
    Logout,
    /// An account was created by an admin.
    UserCreated,
    /// An account was disabled or enabled.
    UserDisabled,
    UserEnabled,
    /// The platform admin role was granted or revoked.
    AdminGranted,
    AdminRevoked,
    /// An admin reset another user's password.
    PasswordReset,
    /// An application (project, extension, quota) was approved or declined.
    ApplicationApproved,
    ApplicationDeclined,
    /// A project's members, managers or caps were changed by a manager.
    MembersChanged,
    /// An admin revised a project's quota or dates.
    ProjectRevised,
    /// A catalog item (GPU type, spec, image, storage type, purpose) was
    /// created, changed, retired or brought back, or deleted.
    CatalogSaved,
    CatalogRetired,
    CatalogDeleted,
    /// Deletions of what users own.
    ProjectDeleted,
    WorkloadDeleted,
    StorageDeleted,
    KeyPairDeleted,
    ImageDeleted,
    /// A session through the service proxy or the web terminal was opened
    /// to a container.
    ProxyOpened,
    TerminalOpened,
    /// The audit log's retention was changed.
    RetentionChanged,
    /// The platform settings were changed.
    SettingsChanged,
    /// An admin released a project before its end.
    ProjectReleased,
    /// A container was stopped or started again, a job cancelled.
    ContainerStopped,
    ContainerStarted,
    JobCancelled,
    /// A container was saved as a custom image.
    ImageCreated,
}

impl AuditAction {
    /// Every action, in the order the filter offers them.
    pub const ALL: [AuditAction; 29] = [
        AuditAction::Login,
        AuditAction::Logout,
        AuditAction::UserCreated,
        AuditAction::UserDisabled,
        AuditAction::UserEnabled,
        AuditAction::AdminGranted,
        AuditAction::AdminRevoked,
        AuditAction::PasswordReset,
        AuditAction::ApplicationApproved,
        AuditAction::ApplicationDeclined,
        AuditAction::MembersChanged,
        AuditAction::ProjectRevised,
        AuditAction::CatalogSaved,
        AuditAction::CatalogRetired,
        AuditAction::CatalogDeleted,
        AuditAction::ProjectDeleted,
        AuditAction::WorkloadDeleted,
        AuditAction::StorageDeleted,
        AuditAction::KeyPairDeleted,
        AuditAction::ImageDeleted,
        AuditAction::ProxyOpened,
        AuditAction::TerminalOpened,
        AuditAction::RetentionChanged,
        AuditAction::SettingsChanged,
        AuditAction::ProjectReleased,
        AuditAction::ContainerStopped,
        AuditAction::ContainerStarted,
        AuditAction::JobCancelled,
        AuditAction::ImageCreated,
    ];

    /// The action's stable name in filters and exports.
    pub fn code(self) -> &'static str {
        match self {
            AuditAction::Login => "login",
            AuditAction::Logout => "logout",
            AuditAction::UserCreated => "user_created",
            AuditAction::UserDisabled => "user_disabled",
            AuditAction::UserEnabled => "user_enabled",
            AuditAction::AdminGranted => "admin_granted",
            AuditAction::AdminRevoked => "admin_revoked",
            AuditAction::PasswordReset => "password_reset",
            AuditAction::ApplicationApproved => "application_approved",
            AuditAction::ApplicationDeclined => "application_declined",
            AuditAction::MembersChanged => "members_changed",
            AuditAction::ProjectRevised => "project_revised",
            AuditAction::CatalogSaved => "catalog_saved",
            AuditAction::CatalogRetired => "catalog_retired",
            AuditAction::CatalogDeleted => "catalog_deleted",
            AuditAction::ProjectDeleted => "project_deleted",
            AuditAction::WorkloadDeleted => "workload_deleted",
            AuditAction::StorageDeleted => "storage_deleted",
            AuditAction::KeyPairDeleted => "key_pair_deleted",
            AuditAction::ImageDeleted => "image_deleted",
            AuditAction::ProxyOpened => "proxy_opened",
            AuditAction::TerminalOpened => "terminal_opened",
            AuditAction::RetentionChanged => "retention_changed",
            AuditAction::SettingsChanged => "settings_changed",
            AuditAction::ProjectReleased => "project_released",
            AuditAction::ContainerStopped => "container_stopped",
            AuditAction::ContainerStarted => "container_started",
            AuditAction::JobCancelled => "job_cancelled",
            AuditAction::ImageCreated => "image_created",
        }
    }

    /// The action named `code`, if any.
    pub fn from_code(code: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.code() == code)
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Succeeded,
    /// Wrong username or password.
    BadCredentials,
    /// Refused before the password was checked: too many failures.
    Throttled,
    /// The account is disabled.
    Disabled,
    /// Refused by a rule of the product (e.g. a catalog item in use).
    Refused,
}

impl AuditOutcome {
    pub fn code(self) -> &'static str {
        match self {
            AuditOutcome::Succeeded => "succeeded",
            AuditOutcome::BadCredentials => "bad_credentials",
            AuditOutcome::Throttled => "throttled",
            AuditOutcome::Disabled => "disabled",
            AuditOutcome::Refused => "refused",
        }
    }
}

/// One security-relevant event. `actor_name` is the username at the time
/// (for a failed login, the name that was typed); `actor` is None for the
/// system's own work and for names that are no account. `target` names
/// what was acted on in words an admin reads (a username, `project/name`,
/// `gpu_type:A100`); nothing here is ever a password, token or key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: Timestamp,
    pub actor: Option<UserId>,
    pub actor_name: String,
    pub client: Option<IpAddr>,
    pub action: AuditAction,
    pub target: String,
    pub outcome: AuditOutcome,
}

/// Which events a list or an export shows: all of them by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The actor's name, exactly (case-insensitive).
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    /// From this instant (inclusive).
    pub from: Option<Timestamp>,
    /// Until this instant (exclusive).
    pub until: Option<Timestamp>,
}

impl AuditFilter {
    /// Whether `event` is one the filter selects.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.actor
            .as_deref()
            .is_none_or(|a| event.actor_name.eq_ignore_ascii_case(a))
            && self.action.is_none_or(|a| a == event.action)
            && self.from.is_none_or(|f| event.at >= f)
            && self.until.is_none_or(|u| event.at < u)
    }
}

/// The filter form's time range: dates (`YYYY-MM-DD`, either may be empty)
/// in `zone`, `to` included whole. Refused, naming the field, when a date
/// does not read or the range ends before it starts.
pub fn date_range(
    from: &str,
    to: &str,
    zone: &TimeZone,
) -> Result<(Option<Timestamp>, Option<Timestamp>), FieldErrors> {
    let mut errors = FieldErrors::new();
    let day = |text: &str, field: &'static str, errors: &mut FieldErrors| -> Option<Date> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        match text.parse::<Date>() {
            Ok(d) => Some(d),
            Err(_) => {
                errors.add(field, "audit.error.date");
                None
            }
        }
    };
    let from = day(from, "from", &mut errors);
    let to = day(to, "to", &mut errors);
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        errors.add("to", "audit.error.range");
    }
    let start = |d: Date| d.to_zoned(zone.clone()).ok().map(|z| z.timestamp());
    let from = from.and_then(start);
    let until = to.and_then(|d| d.tomorrow().ok()).and_then(start);
    errors.into_result((from, until))
}

/// Why a retention was refused: the translation key of the message.
pub fn check_retention_days(days: u32) -> Result<u32, &'static str> {
    if (MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err("audit.error.retention_range")
    }
}

/// Events before this instant are pruned when `days` are kept at `now`.
pub fn retention_cutoff(now: Timestamp, days: u32) -> Timestamp {
    now.checked_sub(SignedDuration::from_hours(24 * i64::from(days)))
        .unwrap_or(Timestamp::MIN)
}

/// The CSV export's header line.
pub const CSV_HEADER: &str = "time,actor,client,action,target,outcome\r\n";

/// One event as a CSV line (RFC 4180 quoting; a cell that a spreadsheet
/// would run as a formula starts with `'`).
pub fn csv_line(event: &AuditEvent) -> String {
    let client = event.client.map(|c| c.to_string()).unwrap_or_default();
    let cells = [
        event.at.to_string(),
        csv_cell(&event.actor_name),
        client,
        event.action.code().to_owned(),
        csv_cell(&event.target),
        event.outcome.code().to_owned(),
    ];
    format!("{}\r\n", cells.join(","))
}

fn csv_cell(text: &str) -> String {
    let guarded = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(actor: &str, action: AuditAction, at: &str) -> AuditEvent {
        AuditEvent {
            at: at.parse().expect("time"),
            actor: None,
            actor_name: actor.into(),
            client: Some("192.0.2.7".parse().expect("addr")),
            action,
            target: "target".into(),
            outcome: AuditOutcome::Succeeded,
        }
    }

    #[test]
    fn every_action_has_a_unique_code_that_reads_back() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::from_code(action.code()), Some(action));
        }
        let mut codes: Vec<_> = AuditAction::ALL.iter().map(|a| a.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), AuditAction::ALL.len());
        assert_eq!(AuditAction::from_code("nope"), None);
    }

    #[test]
    fn a_filter_selects_by_actor_action_and_half_open_time_range() {
        let e = event("Ivy", AuditAction::Login, "2026-12-01T10:00:00Z");
        assert!(AuditFilter::default().matches(&e));
        let by_actor = AuditFilter {
            actor: Some("ivy".into()),
            ..Default::default()
        };
        assert!(by_actor.matches(&e));
        let other = AuditFilter {
            actor: Some("iv".into()),
            ..Default::default()
        };
        assert!(!other.matches(&e));
        let by_action = AuditFilter {
            action: Some(AuditAction::Logout),
            ..Default::default()
        };
        assert!(!by_action.matches(&e));
        let range = AuditFilter {
            from: Some("2026-12-01T10:00:00Z".parse().expect("t")),
            until: Some("2026-12-01T10:00:01Z".parse().expect("t")),
            ..Default::default()
        };
        assert!(range.matches(&e));
        let before = AuditFilter {
            until: Some("2026-12-01T10:00:00Z".parse().expect("t")),
            ..Default::default()
        };
        assert!(!before.matches(&e));
    }

    #[test]
    fn retention_is_between_one_day_and_ten_years() {
        assert_eq!(check_retention_days(0), Err("audit.error.retention_range"));
        assert_eq!(check_retention_days(1), Ok(1));
        assert_eq!(check_retention_days(3650), Ok(3650));
        assert!(check_retention_days(3651).is_err());
        let now: Timestamp = "2026-12-10T00:00:00Z".parse().expect("t");
        assert_eq!(
            retention_cutoff(now, 3),
            "2026-12-07T00:00:00Z".parse::<Timestamp>().expect("t")
        );
    }

    #[test]
    fn the_date_range_is_whole_days_in_the_zone() {
        let zone = TimeZone::get("Asia/Taipei").expect("zone");
        let (from, until) = date_range("2026-12-01", "2026-12-01", &zone).expect("range");
        assert_eq!(
            from.map(|t| t.to_string()).as_deref(),
            Some("2026-11-30T16:00:00Z")
        );
        assert_eq!(
            until.map(|t| t.to_string()).as_deref(),
            Some("2026-12-01T16:00:00Z")
        );
        assert_eq!(date_range("", " ", &zone).expect("empty"), (None, None));
        let errors = date_range("yesterday", "2026-12-01", &zone).expect_err("bad");
        assert_eq!(errors.get("from"), Some("audit.error.date"));
        let errors = date_range("2026-12-02", "2026-12-01", &zone).expect_err("reversed");
        assert_eq!(errors.get("to"), Some("audit.error.range"));
    }

    #[test]
    fn csv_lines_quote_and_defuse_formulas() {
        let mut e = event("=cmd", AuditAction::Login, "2026-12-01T10:00:00Z");
        e.target = "a,\"b\"\nc".into();
        assert_eq!(
            csv_line(&e),
            "2026-12-01T10:00:00Z,'=cmd,192.0.2.7,login,\"a,\"\"b\"\"\nc\",succeeded\r\n"
        );
    }
}
