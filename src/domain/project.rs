//! Projects (manual §5): applications, members and roles, the lifecycle
//! `Reviewing -> Active -> BufferPeriod -> Released` (or `Declined`, or
//! `Revoked` by the applicant), and the rules of each form.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::ids::UserId;
use super::quota::{MemberCap, Resources, parse_gb_as_mib, parse_milli};
use super::validation::FieldErrors;

pub const NAME_MAX: usize = 64;
pub const DESCRIPTION_MAX: usize = 2000;
pub const REASON_MAX: usize = 1000;
/// Each text's limit with the message that names it.
const DESCRIPTION_LIMIT: (usize, &str) = (DESCRIPTION_MAX, "error.field.description_too_long");
const REASON_LIMIT: (usize, &str) = (REASON_MAX, "error.field.reason_too_long");
pub const EXTENSION_DAYS: std::ops::RangeInclusive<u32> = 1..=365;
/// The longest project period an application may ask for.
pub const MAX_PERIOD_DAYS: i32 = 5 * 366;
/// Upper bounds of one quota request, far above any small lab (RAM: 16,384
/// GB; storage: 1,048,576 GB). The translation of each amount's error names
/// these numbers.
pub const MAX_GPU_MILLI: u64 = 1_000_000;
pub const MAX_CPU_MILLI: u64 = 10_000_000;
pub const MAX_RAM_MIB: u64 = 16 * 1024 * 1024;
pub const MAX_STORAGE_GIB: u64 = 1024 * 1024;

/// A person's role inside one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectRole {
    Manager,
    Member,
}

/// One member of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub user: UserId,
    pub role: ProjectRole,
    /// What this member may hold at once inside the project (default: no cap).
    #[serde(default)]
    pub cap: MemberCap,
}

/// Where a project is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    Reviewing,
    Active,
    BufferPeriod,
    Declined,
    Revoked,
    Released,
}

impl ProjectStatus {
    pub fn code(self) -> &'static str {
        match self {
            ProjectStatus::Reviewing => "reviewing",
            ProjectStatus::Active => "active",
            ProjectStatus::BufferPeriod => "buffer_period",
            ProjectStatus::Declined => "declined",
            ProjectStatus::Revoked => "revoked",
            ProjectStatus::Released => "released",
        }
    }

    /// Whether the project's resources can be used and created.
    pub fn is_usable(self) -> bool {
        self == ProjectStatus::Active
    }

    /// Whether the header's project selector offers the project: only one
    /// that workloads can run in (Active) or that still holds them (Buffer
    /// Period).
    pub fn is_selectable(self) -> bool {
        matches!(self, ProjectStatus::Active | ProjectStatus::BufferPeriod)
    }

    /// Whether the project still exists for its members (not yet over).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ProjectStatus::Reviewing | ProjectStatus::Active | ProjectStatus::BufferPeriod
        )
    }
}

/// The kinds of application (manual §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ApplicationKind {
    /// A new project.
    Project,
    /// A period extension: the end moves by `days`.
    Extension {
        days: u32,
        next_start: Date,
        next_end: Date,
    },
    /// More quota, added to the current one.
    Quota { add: Resources },
}

impl ApplicationKind {
    pub fn code(&self) -> &'static str {
        match self {
            ApplicationKind::Project => "project",
            ApplicationKind::Extension { .. } => "extension",
            ApplicationKind::Quota { .. } => "quota",
        }
    }
}

/// Where an application is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Reviewing,
    Approved,
    Declined,
    Revoked,
}

impl ApplicationStatus {
    pub fn code(self) -> &'static str {
        match self {
            ApplicationStatus::Reviewing => "reviewing",
            ApplicationStatus::Approved => "approved",
            ApplicationStatus::Declined => "declined",
            ApplicationStatus::Revoked => "revoked",
        }
    }
}

/// A free text of at most `max` characters; `too_long` names the limit.
fn text_field(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    (max, too_long): (usize, &'static str),
) -> String {
    let value = value.trim();
    if value.chars().count() > max {
        errors.add(field, too_long);
    } else if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        errors.add(field, "error.field.control_chars");
    }
    value.to_owned()
}

fn name_field(errors: &mut FieldErrors, value: &str) -> String {
    let name = value.trim();
    if name.is_empty() {
        errors.add("name", "error.project.name_required");
    } else if name.chars().count() > NAME_MAX {
        errors.add("name", "error.project.name_too_long");
    } else if name.chars().any(char::is_control) {
        errors.add("name", "error.field.control_chars");
    }
    name.to_owned()
}

/// Parses a date as pages write it (YYYY/MM/DD) or as a date picker sends
/// it (YYYY-MM-DD).
pub fn parse_date(value: &str) -> Option<Date> {
    value.trim().replace('/', "-").parse::<Date>().ok()
}

fn date_field(errors: &mut FieldErrors, field: &'static str, value: &str) -> Option<Date> {
    let date = parse_date(value);
    if date.is_none() {
        errors.add(field, "error.date.invalid");
    }
    date
}

/// Checks the period an admin gives a project in All Projects: the rules of
/// an application's period (valid dates, the end not before the start, at
/// most [`MAX_PERIOD_DAYS`]); unlike an application the start may lie in the
/// past, as a running project's does.
pub fn validate_revised_period(start: &str, end: &str) -> Result<(Date, Date), FieldErrors> {
    let mut errors = FieldErrors::new();
    let start = date_field(&mut errors, "start", start);
    let end = date_field(&mut errors, "end", end);
    match (start, end) {
        (Some(start), Some(end)) => {
            if end < start {
                errors.add("end", "error.project.end_before_start");
            } else if (end - start).get_days() > MAX_PERIOD_DAYS {
                errors.add("end", "error.project.period_too_long");
            }
            errors.into_result((start, end))
        }
        _ => Err(errors),
    }
}

/// A project application as typed into the form. Members are usernames,
/// one list for managers and one for other members.
#[derive(Debug, Clone, Default)]
pub struct ProjectForm {
    pub name: String,
    pub start: String,
    pub end: String,
    pub purpose: String,
    pub description: String,
    pub managers: Vec<String>,
    pub members: Vec<String>,
}

/// A project application that passed the form's rules. Usernames are not
/// yet resolved to accounts (the service does that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidProjectForm {
    pub name: String,
    pub start: Date,
    pub end: Date,
    pub description: String,
    /// (username, role); a name in both lists is a manager.
    pub members: Vec<(String, ProjectRole)>,
}

/// A manager's edit that passed the form's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidProjectEdit {
    pub name: String,
    pub description: String,
    pub members: Vec<(String, ProjectRole)>,
}

fn member_list(form: &ProjectForm, errors: &mut FieldErrors) -> Vec<(String, ProjectRole)> {
    let mut members: Vec<(String, ProjectRole)> = Vec::new();
    let mut push = |name: &str, role: ProjectRole| {
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            return;
        }
        match members.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => {
                if role == ProjectRole::Manager {
                    *existing = ProjectRole::Manager;
                }
            }
            None => members.push((name, role)),
        }
    };
    for name in &form.managers {
        push(name, ProjectRole::Manager);
    }
    for name in &form.members {
        push(name, ProjectRole::Member);
    }
    if members.is_empty() {
        errors.add("members", "error.project.no_members");
    } else if !members.iter().any(|(_, r)| *r == ProjectRole::Manager) {
        errors.add("members", "error.project.no_manager");
    }
    members
}

impl ProjectForm {
    /// Checks a new application on `today` (the platform's date).
    pub fn validate_new(&self, today: Date) -> Result<ValidProjectForm, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = name_field(&mut errors, &self.name);
        let description = text_field(
            &mut errors,
            "description",
            &self.description,
            DESCRIPTION_LIMIT,
        );
        let start = date_field(&mut errors, "start", &self.start);
        let end = date_field(&mut errors, "end", &self.end);
        if let Some(start) = start
            && start < today
        {
            errors.add("start", "error.project.start_past");
        }
        if let (Some(start), Some(end)) = (start, end) {
            if end < start {
                errors.add("end", "error.project.end_before_start");
            } else if (end - start).get_days() > MAX_PERIOD_DAYS {
                errors.add("end", "error.project.period_too_long");
            }
        }
        let members = member_list(self, &mut errors);
        match (start, end) {
            (Some(start), Some(end)) if errors.is_empty() => Ok(ValidProjectForm {
                name,
                start,
                end,
                description,
                members,
            }),
            _ => Err(errors),
        }
    }

    /// Checks a manager's edit: name, description and members; the dates
    /// are not part of an edit (they change through extensions).
    pub fn validate_edit(&self) -> Result<ValidProjectEdit, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = name_field(&mut errors, &self.name);
        let description = text_field(
            &mut errors,
            "description",
            &self.description,
            DESCRIPTION_LIMIT,
        );
        let members = member_list(self, &mut errors);
        errors.into_result(ValidProjectEdit {
            name,
            description,
            members,
        })
    }
}

/// Checks a period extension application.
pub fn validate_extension(days: &str, reason: &str) -> Result<(u32, String), FieldErrors> {
    let mut errors = FieldErrors::new();
    let days = match days.trim().parse::<u32>() {
        Ok(d) if EXTENSION_DAYS.contains(&d) => d,
        _ => {
            errors.add("days", "error.extension.days");
            0
        }
    };
    let reason = text_field(&mut errors, "reason", reason, REASON_LIMIT);
    errors.into_result((days, reason))
}

/// The next period after an extension of `days` from a project ending `end`.
pub fn extended_period(end: Date, days: u32) -> Option<(Date, Date)> {
    let next_start = end.tomorrow().ok()?;
    let next_end = end
        .checked_add(jiff::Span::new().days(i64::from(days)))
        .ok()?;
    Some((next_start, next_end))
}

/// Parses an optional resource amount field; empty means zero.
fn amount(errors: &mut FieldErrors, field: &'static str, text: &str) -> u64 {
    if text.trim().is_empty() {
        return 0;
    }
    let (parsed, max, message) = match field {
        "gpu" => (parse_milli(text), MAX_GPU_MILLI, "error.quota.gpu_amount"),
        "cpu" => (parse_milli(text), MAX_CPU_MILLI, "error.quota.cpu_amount"),
        "storage" => (
            parse_whole(text),
            MAX_STORAGE_GIB,
            "error.quota.storage_amount",
        ),
        _ => (parse_gb_as_mib(text), MAX_RAM_MIB, "error.quota.ram_amount"),
    };
    match parsed {
        Some(v) if v <= max => v,
        _ => {
            errors.add(field, message);
            0
        }
    }
}

/// A whole number of GB (storage): digits only.
fn parse_whole(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The amounts of a quota form, as typed: GPU units and CPU cores (both
/// decimal), RAM in GB with one decimal, storage in whole GB.
#[derive(Debug, Clone, Copy, Default)]
pub struct AmountFields<'a> {
    pub gpu: &'a str,
    pub cpu: &'a str,
    pub ram: &'a str,
    pub storage: &'a str,
}

impl AmountFields<'_> {
    fn each(&self) -> [(&'static str, &str); 4] {
        [
            ("gpu", self.gpu),
            ("cpu", self.cpu),
            ("ram", self.ram),
            ("storage", self.storage),
        ]
    }
}

/// Parses the amounts of a form (RAM kept in MiB). Empty fields are zero.
pub fn parse_resources(fields: AmountFields<'_>) -> Result<Resources, FieldErrors> {
    let mut errors = FieldErrors::new();
    let resources = Resources {
        gpu_milli: amount(&mut errors, "gpu", fields.gpu),
        cpu_milli: amount(&mut errors, "cpu", fields.cpu),
        ram_mib: amount(&mut errors, "ram", fields.ram),
        storage_gib: amount(&mut errors, "storage", fields.storage),
    };
    errors.into_result(resources)
}

/// Parses a project's whole quota (an approval, an admin's revision): every
/// field is required, and 0 means none of that resource — a quota has no
/// "no limit".
pub fn parse_quota(fields: AmountFields<'_>) -> Result<Resources, FieldErrors> {
    let mut errors = parse_resources(fields).err().unwrap_or_default();
    for (field, text) in fields.each() {
        if text.trim().is_empty() {
            errors.add(field, "error.quota.required");
        }
    }
    if errors.is_empty() {
        parse_resources(fields)
    } else {
        Err(errors)
    }
}

/// Checks that a member's cap is within the project's quota, one error per
/// resource over it.
pub fn check_cap_within(cap: &MemberCap, quota: &Resources) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    let over = |value: Option<u64>, limit: u64| value.is_some_and(|v| v > limit);
    if over(cap.gpu_milli, quota.gpu_milli) {
        errors.add("gpu", "error.cap.over_quota_gpu");
    }
    if over(cap.cpu_milli, quota.cpu_milli) {
        errors.add("cpu", "error.cap.over_quota_cpu");
    }
    if over(cap.ram_mib, quota.ram_mib) {
        errors.add("ram", "error.cap.over_quota_ram");
    }
    errors.into_result(())
}

/// Checks a quota application: more of something, with a reason.
pub fn validate_quota_application(
    fields: AmountFields<'_>,
    reason: &str,
) -> Result<(Resources, String), FieldErrors> {
    let mut errors = parse_resources(fields).err().unwrap_or_default();
    let add = parse_resources(fields).unwrap_or_default();
    if errors.is_empty() && add == Resources::ZERO {
        errors.add("gpu", "error.quota.nothing");
    }
    let reason = text_field(&mut errors, "reason", reason, REASON_LIMIT);
    if reason.is_empty() {
        errors.add("reason", "error.quota.reason_required");
    }
    errors.into_result((add, reason))
}

/// Parses a member cap form; an empty field means "no cap" for that amount.
/// Storage has no member cap.
pub fn parse_cap(gpu: &str, cpu: &str, ram: &str) -> Result<MemberCap, FieldErrors> {
    let resources = parse_resources(AmountFields {
        gpu,
        cpu,
        ram,
        storage: "",
    })?;
    let given = |text: &str, value: u64| (!text.trim().is_empty()).then_some(value);
    Ok(MemberCap {
        gpu_milli: given(gpu, resources.gpu_milli),
        cpu_milli: given(cpu, resources.cpu_milli),
        ram_mib: given(ram, resources.ram_mib),
    })
}

/// The verification code a manager types back to delete a project: derived
/// from the project and the session, so it is stable for the dialog and
/// useless elsewhere.
pub fn deletion_code(seed: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed);
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    format!("{:06}", n % 1_000_000)
}

/// The status a project should have on `today`, after the end date
/// (`end`, the last usable day) and the buffer of `buffer_days` days.
pub fn status_on(status: ProjectStatus, end: Date, today: Date, buffer_days: u32) -> ProjectStatus {
    let buffer_end = end
        .checked_add(jiff::Span::new().days(i64::from(buffer_days)))
        .unwrap_or(Date::MAX);
    match status {
        ProjectStatus::Active | ProjectStatus::BufferPeriod if today > buffer_end => {
            ProjectStatus::Released
        }
        ProjectStatus::Active if today > end => ProjectStatus::BufferPeriod,
        ProjectStatus::BufferPeriod if today <= end => ProjectStatus::Active,
        other => other,
    }
}

/// The reminder due on `today` for a project ending `end`, given the
/// platform's reminder days (e.g. 7, 3, 1 days before the end) and the ones
/// already sent for this end date. Days missed while the server was down
/// collapse into one reminder (the latest); returns the days to mark sent.
pub fn due_reminders(
    end: Date,
    today: Date,
    reminder_days: &[u32],
    sent: &[u32],
) -> Option<(u32, Vec<u32>)> {
    let days_left = (end - today).get_days();
    if days_left < 0 {
        return None;
    }
    let due: Vec<u32> = reminder_days
        .iter()
        .copied()
        .filter(|d| i64::from(*d) >= i64::from(days_left) && !sent.contains(d))
        .collect();
    let latest = due.iter().copied().min()?;
    Some((latest, due))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn form() -> ProjectForm {
        ProjectForm {
            name: "Iris Model Service".into(),
            start: "2026-12-01".into(),
            end: "2027-02-28".into(),
            purpose: String::new(),
            description: "classify irises".into(),
            managers: vec!["alice".into()],
            members: vec!["bob".into(), "Alice".into()],
        }
    }

    #[test]
    fn a_good_application_passes_and_roles_merge() {
        let valid = form().validate_new(date(2026, 11, 29)).expect("valid");
        assert_eq!(valid.start, date(2026, 12, 1));
        assert_eq!(
            valid.members,
            vec![
                ("alice".into(), ProjectRole::Manager),
                ("bob".into(), ProjectRole::Member)
            ]
        );
    }

    #[test]
    fn bad_applications_name_each_field() {
        let today = date(2026, 11, 29);
        let mut f = form();
        f.start = "2026-11-01".into();
        assert_eq!(
            f.validate_new(today).err().and_then(|e| e.get("start")),
            Some("error.project.start_past")
        );
        let mut f = form();
        f.end = "2026-11-30".into();
        assert_eq!(
            f.validate_new(today).err().and_then(|e| e.get("end")),
            Some("error.project.end_before_start")
        );
        let mut f = form();
        f.managers.clear();
        assert_eq!(
            f.validate_new(today).err().and_then(|e| e.get("members")),
            Some("error.project.no_manager")
        );
        let mut f = form();
        f.managers.clear();
        f.members.clear();
        assert_eq!(
            f.validate_new(today).err().and_then(|e| e.get("members")),
            Some("error.project.no_members")
        );
        let mut f = form();
        f.name = "  ".into();
        f.start = "tomorrow".into();
        let errors = f.validate_new(today).err().unwrap_or_default();
        assert_eq!(errors.get("name"), Some("error.project.name_required"));
        assert_eq!(errors.get("start"), Some("error.date.invalid"));
        let mut f = form();
        f.end = "2040-01-01".into();
        assert_eq!(
            f.validate_new(today).err().and_then(|e| e.get("end")),
            Some("error.project.period_too_long")
        );
    }

    #[test]
    fn extensions_are_1_to_365_days_and_move_the_period() {
        assert_eq!(validate_extension("7", "").map(|(d, _)| d), Ok(7));
        for bad in ["0", "366", "-1", "seven", ""] {
            assert!(validate_extension(bad, "").is_err(), "{bad}");
        }
        assert_eq!(
            extended_period(date(2023, 7, 23), 7),
            Some((date(2023, 7, 24), date(2023, 7, 30)))
        );
    }

    fn f<'a>(gpu: &'a str, cpu: &'a str, ram: &'a str, storage: &'a str) -> AmountFields<'a> {
        AmountFields {
            gpu,
            cpu,
            ram,
            storage,
        }
    }

    #[test]
    fn quota_applications_need_an_amount_and_a_reason() {
        let (add, _) =
            validate_quota_application(f("0.5", "", "2", "50"), "more students").expect("valid");
        assert_eq!(
            add,
            Resources {
                gpu_milli: 500,
                cpu_milli: 0,
                ram_mib: 2048,
                storage_gib: 50,
            }
        );
        let errors = validate_quota_application(f("", "", "", ""), "")
            .err()
            .unwrap_or_default();
        assert_eq!(errors.get("gpu"), Some("error.quota.nothing"));
        assert_eq!(errors.get("reason"), Some("error.quota.reason_required"));
        let errors = validate_quota_application(f("-1", "1e9", "lots", "1.5"), "x")
            .err()
            .unwrap_or_default();
        assert_eq!(errors.get("gpu"), Some("error.quota.gpu_amount"));
        assert_eq!(errors.get("cpu"), Some("error.quota.cpu_amount"));
        assert_eq!(errors.get("ram"), Some("error.quota.ram_amount"));
        assert_eq!(
            errors.get("storage"),
            Some("error.quota.storage_amount"),
            "storage is whole GB"
        );
        assert!(
            validate_quota_application(f("99999999", "", "", ""), "x").is_err(),
            "absurd amounts are refused"
        );
        let errors = validate_quota_application(f("", "", "16384.1", ""), "x")
            .err()
            .unwrap_or_default();
        assert_eq!(
            errors.get("ram"),
            Some("error.quota.ram_amount"),
            "RAM is typed in GB, at most 16,384"
        );
        assert!(validate_quota_application(f("", "", "16384", ""), "x").is_ok());
        assert!(validate_quota_application(f("", "", "", "1048576"), "x").is_ok());
        assert!(
            validate_quota_application(f("", "", "", "1048577"), "x").is_err(),
            "storage is at most 1,048,576 GB"
        );
    }

    #[test]
    fn caps_are_optional_per_amount() {
        let cap = parse_cap("2", "", "").expect("cap");
        assert_eq!(
            cap,
            MemberCap {
                gpu_milli: Some(2000),
                cpu_milli: None,
                ram_mib: None
            }
        );
        assert!(parse_cap("", "", "").expect("none").is_none());
    }

    #[test]
    fn the_lifecycle_follows_the_calendar() {
        let end = date(2027, 2, 28);
        use ProjectStatus::*;
        assert_eq!(
            status_on(Active, end, date(2027, 2, 28), 14),
            Active,
            "the end date is still usable"
        );
        assert_eq!(status_on(Active, end, date(2027, 3, 1), 14), BufferPeriod);
        assert_eq!(
            status_on(BufferPeriod, end, date(2027, 3, 14), 14),
            BufferPeriod
        );
        assert_eq!(
            status_on(BufferPeriod, end, date(2027, 3, 15), 14),
            Released
        );
        assert_eq!(
            status_on(Active, end, date(2027, 6, 1), 14),
            Released,
            "a long outage goes all the way"
        );
        assert_eq!(
            status_on(BufferPeriod, date(2027, 3, 20), date(2027, 3, 10), 14),
            Active,
            "an extension revives"
        );
        for other in [Reviewing, Declined, Revoked, Released] {
            assert_eq!(status_on(other, end, date(2030, 1, 1), 14), other);
        }
    }

    #[test]
    fn reminders_fire_once_per_day_and_catch_up_as_one() {
        let end = date(2027, 2, 28);
        let days = [7, 3, 1];
        assert_eq!(due_reminders(end, date(2027, 2, 20), &days, &[]), None);
        assert_eq!(
            due_reminders(end, date(2027, 2, 21), &days, &[]),
            Some((7, vec![7]))
        );
        assert_eq!(due_reminders(end, date(2027, 2, 22), &days, &[7]), None);
        assert_eq!(
            due_reminders(end, date(2027, 2, 27), &days, &[]),
            Some((1, vec![7, 3, 1])),
            "after an outage"
        );
        assert_eq!(
            due_reminders(end, date(2027, 3, 1), &days, &[]),
            None,
            "past the end"
        );
    }

    #[test]
    fn deletion_codes_are_six_digits_and_depend_on_the_seed() {
        let a = deletion_code(b"project-a");
        assert_eq!(a.len(), 6);
        assert_eq!(a, deletion_code(b"project-a"));
        assert_ne!(a, deletion_code(b"project-b"));
    }

    #[test]
    fn quotas_need_every_amount_and_caps_fit_the_quota() {
        assert_eq!(
            parse_quota(f("", "1", "1", "1"))
                .err()
                .and_then(|e| e.get("gpu")),
            Some("error.quota.required")
        );
        assert_eq!(
            parse_quota(f("1", "1", "1", " "))
                .err()
                .and_then(|e| e.get("storage")),
            Some("error.quota.required")
        );
        assert_eq!(parse_quota(f("0", "0", "0", "0")), Ok(Resources::ZERO));
        let quota = Resources {
            gpu_milli: 3000,
            cpu_milli: 16000,
            ram_mib: 65536,
            storage_gib: 500,
        };
        let cap = MemberCap {
            gpu_milli: Some(4000),
            cpu_milli: None,
            ram_mib: Some(65536),
        };
        let errors = check_cap_within(&cap, &quota).err().unwrap_or_default();
        assert_eq!(errors.get("gpu"), Some("error.cap.over_quota_gpu"));
        assert_eq!(errors.get("cpu"), None, "no cap is not over");
        assert_eq!(errors.get("ram"), None, "the whole quota is allowed");
    }

    #[test]
    fn revised_periods_follow_the_application_rules() {
        assert!(
            validate_revised_period("2026/11/01", "2026-12-31").is_ok(),
            "a start in the past may stay"
        );
        for (start, end, error) in [
            ("2020-01-01", "2026-12-31", "error.project.period_too_long"),
            ("2026-11-01", "9999-12-31", "error.project.period_too_long"),
            ("2026-11-01", "2026-10-31", "error.project.end_before_start"),
        ] {
            assert_eq!(
                validate_revised_period(start, end)
                    .err()
                    .and_then(|e| e.get("end")),
                Some(error),
                "{start} {end}"
            );
        }
        assert_eq!(
            parse_date(" 2026/12/04 "),
            Some(jiff::civil::date(2026, 12, 4))
        );
    }
}
