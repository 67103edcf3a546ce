//! An account's e-mail (manual §6.1): changing the login e-mail (after the
//! password, confirmed by a link mailed to the new address), the backup
//! address (verified the same way), resending a link, following one, and
//! the notification switches. A link's token is random, mailed once and
//! stored only as its SHA-256; it works once, for its own user, until it
//! expires, and only while its address is still the one waiting.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::{ServiceError, Services, random_token};
use crate::domain::ids::UserId;
use crate::domain::mail::{BackupEmail, EmailSlot, MailPrefs, parse_email, verify_link_expiry};
use crate::domain::validation::FieldErrors;
use crate::i18n::Catalog;
use crate::notify;
use crate::store::email_verifications::{self, VerificationRecord};
use crate::store::sessions::hash_token;
use crate::store::users::{self, UserRecord};
use crate::store::{StoreError, WriteTx, platform};

/// How long an expired verification link is kept (the janitor removes it
/// then).
const EXPIRED_LINKS_KEPT: SignedDuration = SignedDuration::from_hours(7 * 24);

/// What a verification link is worth now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// It confirms `address` (as the login e-mail or the backup).
    Valid {
        address: String,
        slot: EmailSlot,
    },
    /// It was followed already.
    Used,
    Expired,
    /// A newer address or link replaced the one it confirms.
    Superseded,
    /// It was mailed to another account.
    OtherUser,
    /// No such link.
    Unknown,
}

/// The address `user` waits to confirm in `slot`, if any.
fn waiting(user: &UserRecord, slot: EmailSlot) -> Option<&str> {
    match slot {
        EmailSlot::Login => user.emails.pending_login.as_deref(),
        EmailSlot::Backup => user
            .emails
            .backup
            .as_ref()
            .filter(|b| !b.verified)
            .map(|b| b.address.as_str()),
    }
}

fn state_of(record: Option<VerificationRecord>, user: &UserRecord, now: Timestamp) -> LinkState {
    let Some(record) = record else {
        return LinkState::Unknown;
    };
    if record.user != user.id {
        LinkState::OtherUser
    } else if record.used_at.is_some() {
        LinkState::Used
    } else if record.expires_at <= now {
        LinkState::Expired
    } else if waiting(user, record.slot) != Some(record.address.as_str()) {
        LinkState::Superseded
    } else {
        LinkState::Valid {
            address: record.address,
            slot: record.slot,
        }
    }
}

/// Writes a new link for `address` and mails it there, in the caller's
/// transaction. `base` is the verification page's absolute address (the
/// scheme and host the user reaches mlstack at); the token is its query.
fn send_link_tx(
    tx: &WriteTx,
    catalog: &Catalog,
    user: &UserRecord,
    slot: EmailSlot,
    address: &str,
    base: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let token = random_token();
    let expires_at = verify_link_expiry(now);
    email_verifications::put_tx(
        tx,
        &hash_token(&token),
        &VerificationRecord {
            user: user.id,
            address: address.to_owned(),
            slot,
            expires_at,
            used_at: None,
        },
    )?;
    let settings = platform::get_tx(tx)?;
    let zone = TimeZone::get(&settings.time_zone).unwrap_or(TimeZone::UTC);
    let expires = expires_at
        .to_zoned(zone)
        .strftime("%Y/%m/%d %H:%M (%Q)")
        .to_string();
    let link = format!("{base}?token={token}");
    super::mail::enqueue_to_address_tx(tx, catalog, user, address, now, |tr| {
        notify::email_verification(tr, address, &link, &expires)
    })
}

fn invalid(field: &'static str, key: &'static str) -> ServiceError {
    ServiceError::Invalid(FieldErrors::single(field, key))
}

impl Services {
    /// Asks to change the login e-mail of `id` to `address` after checking
    /// `password`: the address waits, a link is mailed to it, and the login
    /// e-mail changes only when the link is followed.
    pub async fn request_login_email(
        &self,
        id: UserId,
        address: &str,
        password: &str,
        base: &str,
    ) -> Result<(), ServiceError> {
        let address = parse_email(address).map_err(|key| invalid("address", key))?;
        if password.is_empty() {
            return Err(invalid("current_password", "error.password.required"));
        }
        let stored = self.user(id).await?;
        if stored.profile.email.eq_ignore_ascii_case(&address) {
            return Err(invalid("address", "error.email.unchanged"));
        }
        if !self
            .passwords
            .verify(password.to_owned(), stored.password_hash.clone())
            .await?
        {
            return Err(invalid("current_password", "error.password.current_wrong"));
        }
        let (catalog, now, base) = (self.catalog.clone(), self.clock.now(), base.to_owned());
        self.blocking(move |store| {
            store.write(|tx| {
                let mut user = users::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                user.emails
                    .note_link(now)
                    .map_err(|key| invalid("address", key))?;
                user.emails.pending_login = Some(address.clone());
                users::update_tx(tx, &user)?;
                send_link_tx(tx, &catalog, &user, EmailSlot::Login, &address, &base, now)?;
                Ok(())
            })
        })
        .await
    }

    /// Sets the backup address of `id` (unverified until its mailed link
    /// is followed; until then no mail but the link goes there).
    pub async fn set_backup_email(
        &self,
        id: UserId,
        address: &str,
        base: &str,
    ) -> Result<(), ServiceError> {
        let address = parse_email(address).map_err(|key| invalid("backup", key))?;
        let (catalog, now, base) = (self.catalog.clone(), self.clock.now(), base.to_owned());
        self.blocking(move |store| {
            store.write(|tx| {
                let mut user = users::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                if user.profile.email.eq_ignore_ascii_case(&address) {
                    return Err(invalid("backup", "error.email.same_as_login"));
                }
                if user
                    .emails
                    .backup
                    .as_ref()
                    .is_some_and(|b| b.address.eq_ignore_ascii_case(&address))
                {
                    return Err(invalid("backup", "error.email.unchanged"));
                }
                user.emails
                    .note_link(now)
                    .map_err(|key| invalid("backup", key))?;
                user.emails.backup = Some(BackupEmail {
                    address: address.clone(),
                    verified: false,
                });
                user.emails.prefs.to_backup = false;
                user.emails.prefs.to_login = true;
                users::update_tx(tx, &user)?;
                send_link_tx(tx, &catalog, &user, EmailSlot::Backup, &address, &base, now)?;
                Ok(())
            })
        })
        .await
    }

    /// Removes the backup address of `id`; mail goes to the login e-mail.
    pub async fn remove_backup_email(&self, id: UserId) -> Result<(), ServiceError> {
        self.blocking(move |store| {
            store.write(|tx| {
                let mut user = users::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                user.emails.backup = None;
                user.emails.prefs.to_backup = false;
                user.emails.prefs.to_login = true;
                users::update_tx(tx, &user)?;
                Ok(())
            })
        })
        .await
    }

    /// Mails a new link for the address waiting in `slot` (the earlier
    /// links keep working until they expire); at most
    /// `LINKS_PER_HOUR` links an hour.
    pub async fn resend_verification(
        &self,
        id: UserId,
        slot: EmailSlot,
        base: &str,
    ) -> Result<(), ServiceError> {
        let (catalog, now, base) = (self.catalog.clone(), self.clock.now(), base.to_owned());
        self.blocking(move |store| {
            store.write(|tx| {
                let mut user = users::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let address = waiting(&user, slot)
                    .ok_or(ServiceError::Refused("error.email.nothing_to_verify"))?
                    .to_owned();
                user.emails.note_link(now).map_err(ServiceError::Refused)?;
                users::update_tx(tx, &user)?;
                send_link_tx(tx, &catalog, &user, slot, &address, &base, now)?;
                Ok(())
            })
        })
        .await
    }

    /// What the link with `token` is worth to user `id` (changes nothing).
    pub async fn verification_link(
        &self,
        id: UserId,
        token: &str,
    ) -> Result<LinkState, ServiceError> {
        let (hash, now) = (hash_token(token), self.clock.now());
        self.blocking(move |store| {
            store.read(|tx| {
                let user = users::get_read_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let record = email_verifications::get_read_tx(tx, &hash)?;
                Ok(state_of(record, &user, now))
            })
        })
        .await
    }

    /// Follows the link with `token` for user `id`: when it is valid, the
    /// address is confirmed (a login e-mail replaces the old one) and the
    /// link is used up. Returns what the link was worth.
    pub async fn confirm_email(&self, id: UserId, token: &str) -> Result<LinkState, ServiceError> {
        let (hash, now) = (hash_token(token), self.clock.now());
        self.blocking(move |store| {
            store.write(|tx| {
                let mut user = users::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let record = email_verifications::get_tx(tx, &hash)?;
                let state = state_of(record.clone(), &user, now);
                let (LinkState::Valid { address, slot }, Some(mut record)) = (&state, record)
                else {
                    return Ok(state);
                };
                match slot {
                    EmailSlot::Login => {
                        user.profile.email = address.clone();
                        user.emails.pending_login = None;
                        user.emails.login_verified = true;
                    }
                    EmailSlot::Backup => {
                        if let Some(backup) = user.emails.backup.as_mut() {
                            backup.verified = true;
                        }
                    }
                }
                users::update_tx(tx, &user)?;
                record.used_at = Some(now);
                email_verifications::put_tx(tx, &hash, &record)?;
                Ok(state)
            })
        })
        .await
    }

    /// Removes the verification links that expired more than
    /// `EXPIRED_LINKS_KEPT` ago (until then a late click is told "expired"
    /// rather than "not valid"); returns how many.
    pub async fn purge_expired_email_links(&self) -> Result<usize, ServiceError> {
        let cutoff = self
            .clock
            .now()
            .checked_sub(EXPIRED_LINKS_KEPT)
            .unwrap_or(Timestamp::MIN);
        self.blocking(move |store| {
            store.write(|tx| Ok(email_verifications::remove_expired_tx(tx, cutoff)?))
        })
        .await
    }

    /// Stores which mails `id` gets and at which addresses.
    pub async fn update_mail_prefs(
        &self,
        id: UserId,
        prefs: MailPrefs,
    ) -> Result<(), ServiceError> {
        self.blocking(move |store| {
            store.write(|tx| {
                let mut user = users::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                user.emails
                    .check_prefs(&prefs)
                    .map_err(|key| invalid("addresses", key))?;
                user.emails.prefs = prefs;
                users::update_tx(tx, &user)?;
                Ok(())
            })
        })
        .await
    }
}
