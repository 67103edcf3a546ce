//! Mail rules: when a failed mail is tried again and when mlstack gives up
//! on it; an account's e-mail addresses (login and backup, each verified by
//! a mailed link) and which mails the user gets at which of them.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Tries before a mail is given up (about a day and a half of retries).
pub const MAX_ATTEMPTS: u32 = 12;

/// The wait after the `attempts`-th failed try: 30 s doubling, at most 6 h;
/// None once `MAX_ATTEMPTS` tries failed.
pub fn retry_delay(attempts: u32) -> Option<SignedDuration> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doublings = attempts.saturating_sub(1).min(20);
    let secs = 30_i64.saturating_mul(1 << doublings).min(6 * 3600);
    Some(SignedDuration::from_secs(secs))
}

/// The longest e-mail address (RFC 5321: 254 characters in a path).
pub const EMAIL_MAX: usize = 254;

/// How long a verification link stays valid.
pub const VERIFY_LINK_HOURS: i64 = 24;

/// Verification links an account may have mailed in an hour (each goes to
/// an address the user typed: the limit keeps the form from mailing
/// strangers in bulk).
pub const LINKS_PER_HOUR: usize = 5;

/// When a verification link written at `now` stops working.
pub fn verify_link_expiry(now: Timestamp) -> Timestamp {
    now.checked_add(SignedDuration::from_hours(VERIFY_LINK_HOURS))
        .unwrap_or(Timestamp::MAX)
}

/// Checks a typed address: trimmed, at most `EMAIL_MAX` characters, the
/// shape `name@domain.tld`. Returns the message key of what is wrong.
pub fn parse_email(input: &str) -> Result<String, &'static str> {
    let address = input.trim();
    if address.is_empty() {
        return Err("error.email.required");
    }
    if address.chars().count() > EMAIL_MAX {
        return Err("error.email.too_long");
    }
    if !crate::domain::user::looks_like_email(address) || address.chars().any(char::is_control) {
        return Err("error.email.invalid");
    }
    Ok(address.to_owned())
}

/// Which address of an account a verification link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmailSlot {
    /// The login e-mail: confirmed, it replaces the current one.
    Login,
    Backup,
}

impl EmailSlot {
    pub fn code(self) -> &'static str {
        match self {
            EmailSlot::Login => "login",
            EmailSlot::Backup => "backup",
        }
    }

    pub fn from_code(code: &str) -> Option<EmailSlot> {
        [EmailSlot::Login, EmailSlot::Backup]
            .into_iter()
            .find(|s| s.code() == code)
    }
}

/// The backup address of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupEmail {
    pub address: String,
    pub verified: bool,
}

/// An account's addresses beyond the login e-mail (`Profile::email`) and
/// what mail goes where. Stored with the user; absent fields read as the
/// defaults (nothing verified, every mail but job endings, to the login
/// e-mail).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountEmails {
    /// The login e-mail was confirmed through a mailed link.
    pub login_verified: bool,
    /// A new login e-mail waiting for its link to be followed.
    pub pending_login: Option<String>,
    pub backup: Option<BackupEmail>,
    pub prefs: MailPrefs,
    /// When the verification links of the last hour were mailed.
    pub links_sent: Vec<Timestamp>,
}

/// The kinds of mail a user may switch off (manual §6.1), and the ones
/// they always get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// Project, extension and quota applications decided.
    Decisions,
    /// The project ends in N days, its buffer period, its release.
    Reminders,
    WorkloadFailed,
    /// A job ended (opt-in).
    JobFinished,
    ScheduleFailed,
    GpusIdle,
    /// About the account itself (a password reset by an admin): always
    /// sent, to the login e-mail.
    Account,
}

impl MailKind {
    /// The kinds the notification switches list, in this order.
    pub const SWITCHABLE: [MailKind; 6] = [
        MailKind::Decisions,
        MailKind::Reminders,
        MailKind::WorkloadFailed,
        MailKind::JobFinished,
        MailKind::ScheduleFailed,
        MailKind::GpusIdle,
    ];

    /// The form field and code of a switchable kind.
    pub fn code(self) -> &'static str {
        match self {
            MailKind::Decisions => "decisions",
            MailKind::Reminders => "reminders",
            MailKind::WorkloadFailed => "workload_failed",
            MailKind::JobFinished => "job_finished",
            MailKind::ScheduleFailed => "schedule_failed",
            MailKind::GpusIdle => "gpus_idle",
            MailKind::Account => "account",
        }
    }
}

/// Which mails a user gets, and at which of their addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailPrefs {
    pub decisions: bool,
    pub reminders: bool,
    pub workload_failed: bool,
    pub job_finished: bool,
    pub schedule_failed: bool,
    pub gpus_idle: bool,
    /// Mail goes to the login e-mail.
    pub to_login: bool,
    /// Mail goes to the backup address too, once it is verified.
    pub to_backup: bool,
}

impl Default for MailPrefs {
    fn default() -> Self {
        MailPrefs {
            decisions: true,
            reminders: true,
            workload_failed: true,
            job_finished: false,
            schedule_failed: true,
            gpus_idle: true,
            to_login: true,
            to_backup: false,
        }
    }
}

impl MailPrefs {
    /// Whether the user gets mail of `kind`.
    pub fn wants(&self, kind: MailKind) -> bool {
        match kind {
            MailKind::Decisions => self.decisions,
            MailKind::Reminders => self.reminders,
            MailKind::WorkloadFailed => self.workload_failed,
            MailKind::JobFinished => self.job_finished,
            MailKind::ScheduleFailed => self.schedule_failed,
            MailKind::GpusIdle => self.gpus_idle,
            MailKind::Account => true,
        }
    }

    /// Switches mail of a switchable `kind` on or off.
    pub fn set(&mut self, kind: MailKind, on: bool) {
        match kind {
            MailKind::Decisions => self.decisions = on,
            MailKind::Reminders => self.reminders = on,
            MailKind::WorkloadFailed => self.workload_failed = on,
            MailKind::JobFinished => self.job_finished = on,
            MailKind::ScheduleFailed => self.schedule_failed = on,
            MailKind::GpusIdle => self.gpus_idle = on,
            MailKind::Account => {}
        }
    }
}

impl AccountEmails {
    /// Counts a verification link mailed at `now`, or refuses it when
    /// `LINKS_PER_HOUR` were mailed in the hour before.
    pub fn note_link(&mut self, now: Timestamp) -> Result<(), &'static str> {
        let hour_ago = now
            .checked_sub(SignedDuration::from_hours(1))
            .unwrap_or(Timestamp::MIN);
        self.links_sent.retain(|at| *at > hour_ago);
        if self.links_sent.len() >= LINKS_PER_HOUR {
            return Err("error.email.too_many_links");
        }
        self.links_sent.push(now);
        Ok(())
    }

    /// The addresses a mail of `kind` goes to, given the login e-mail
    /// `login`: none when the kind is switched off; the login e-mail and/or
    /// the verified backup as chosen; the login e-mail when the choice
    /// leaves none (an unverified backup receives nothing but its link).
    pub fn recipients<'a>(&'a self, login: &'a str, kind: MailKind) -> Vec<&'a str> {
        if !self.prefs.wants(kind) {
            return Vec::new();
        }
        let backup = self
            .backup
            .as_ref()
            .filter(|b| b.verified && self.prefs.to_backup && kind != MailKind::Account)
            .map(|b| b.address.as_str());
        let login = (!login.is_empty()).then_some(login);
        match backup {
            Some(backup) if !self.prefs.to_login => vec![backup],
            Some(backup) => login.into_iter().chain([backup]).collect(),
            None => login.into_iter().collect(),
        }
    }

    /// Checks a change of the notification switches: the backup address is
    /// chosen only once verified, and at least one address is chosen.
    pub fn check_prefs(&self, prefs: &MailPrefs) -> Result<(), &'static str> {
        let backup_verified = self.backup.as_ref().is_some_and(|b| b.verified);
        if prefs.to_backup && !backup_verified {
            return Err("error.email.backup_unverified");
        }
        if !prefs.to_login && !prefs.to_backup {
            return Err("error.email.no_address_chosen");
        }
        Ok(())
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_with_the_real_limit() {
        assert_eq!(
            parse_email(" mei@lab.example "),
            Ok("mei@lab.example".into())
        );
        assert_eq!(parse_email(""), Err("error.email.required"));
        assert_eq!(parse_email("mei-at-lab"), Err("error.email.invalid"));
        assert_eq!(parse_email("mei@lab"), Err("error.email.invalid"));
        let long = format!("{}@lab.example", "m".repeat(EMAIL_MAX));
        assert_eq!(parse_email(&long), Err("error.email.too_long"));
        let longest = format!("{}@lab.example", "m".repeat(EMAIL_MAX - 12));
        assert_eq!(longest.chars().count(), EMAIL_MAX);
        assert!(parse_email(&longest).is_ok());
    }

    #[test]
    fn mail_goes_to_the_chosen_verified_addresses() {
        let mut emails = AccountEmails::default();
        assert_eq!(
            emails.recipients("a@x.example", MailKind::Reminders),
            ["a@x.example"]
        );
        assert!(
            emails
                .recipients("a@x.example", MailKind::JobFinished)
                .is_empty(),
            "opt-in"
        );
        assert!(emails.recipients("", MailKind::Reminders).is_empty());

        emails.backup = Some(BackupEmail {
            address: "b@y.example".into(),
            verified: false,
        });
        emails.prefs.to_backup = true;
        assert_eq!(
            emails.recipients("a@x.example", MailKind::Reminders),
            ["a@x.example"],
            "an unverified backup gets nothing"
        );
        emails.backup = Some(BackupEmail {
            address: "b@y.example".into(),
            verified: true,
        });
        assert_eq!(
            emails.recipients("a@x.example", MailKind::Reminders),
            ["a@x.example", "b@y.example"]
        );
        emails.prefs.to_login = false;
        assert_eq!(
            emails.recipients("a@x.example", MailKind::Reminders),
            ["b@y.example"]
        );
        assert_eq!(
            emails.recipients("a@x.example", MailKind::Account),
            ["a@x.example"],
            "account notices go to the login e-mail"
        );
        emails.prefs.set(MailKind::Reminders, false);
        assert!(
            emails
                .recipients("a@x.example", MailKind::Reminders)
                .is_empty()
        );
    }

    #[test]
    fn at_most_five_links_an_hour() {
        let mut emails = AccountEmails::default();
        let start: Timestamp = "2026-11-29T08:00:00Z".parse().expect("time");
        for minute in 0..5 {
            let at = start + SignedDuration::from_mins(minute);
            assert_eq!(emails.note_link(at), Ok(()));
        }
        let sixth = start + SignedDuration::from_mins(30);
        assert_eq!(emails.note_link(sixth), Err("error.email.too_many_links"));
        let later = start + SignedDuration::from_secs(3600 + 30);
        assert_eq!(emails.note_link(later), Ok(()), "the first left the hour");
        assert_eq!(emails.links_sent.len(), 5);
    }

    #[test]
    fn the_switches_need_a_verified_chosen_address() {
        let mut emails = AccountEmails::default();
        let backup_only = MailPrefs {
            to_login: false,
            to_backup: true,
            ..MailPrefs::default()
        };
        assert_eq!(
            emails.check_prefs(&backup_only),
            Err("error.email.backup_unverified")
        );
        emails.backup = Some(BackupEmail {
            address: "b@y.example".into(),
            verified: true,
        });
        assert_eq!(emails.check_prefs(&backup_only), Ok(()));
        let none = MailPrefs {
            to_login: false,
            to_backup: false,
            ..MailPrefs::default()
        };
        assert_eq!(
            emails.check_prefs(&none),
            Err("error.email.no_address_chosen")
        );
    }

    #[test]
    fn retries_back_off_exponentially_then_give_up() {
        assert_eq!(retry_delay(1), Some(SignedDuration::from_secs(30)));
        assert_eq!(retry_delay(2), Some(SignedDuration::from_secs(60)));
        assert_eq!(retry_delay(3), Some(SignedDuration::from_secs(120)));
        assert_eq!(retry_delay(11), Some(SignedDuration::from_secs(6 * 3600)));
        assert_eq!(retry_delay(MAX_ATTEMPTS), None);
    }
}
