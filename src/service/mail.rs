//! The outbox as the mail sender and the admin see it: due mails, the
//! outcome of each try (sent; failed, retried with backoff; given up), and
//! resend. Composition lives in `notify/`, delivery in `mail/` and
//! `worker/mailer.rs`.

use jiff::Timestamp;

use super::{ServiceError, Services};
use crate::domain::ids::MailId;
use crate::domain::mail::{self, MailKind};
use crate::domain::user::{Lang, LanguageSetting};
use crate::i18n::{Catalog, Tr};
use crate::notify::Mail;
use crate::store::outbox::{self, MailRecord, MailStatus};
use crate::store::users::UserRecord;
use crate::store::{StoreError, WriteTx};

/// The language a user reads mail in: their setting, else the language of
/// their last login.
pub(crate) fn mail_lang(user: &UserRecord) -> Lang {
    match user.settings.language {
        LanguageSetting::Fixed(lang) => lang,
        LanguageSetting::Browser => user.last_login_lang.unwrap_or(Lang::En),
    }
}

/// Writes a mail of `kind` to `user`, composed in their language, into the
/// outbox in the caller's transaction (it is delivered only if that
/// commits): nothing when they switched the kind off, else one record per
/// address their preferences choose (`AccountEmails::recipients`), or one
/// kept without an address when they have none.
pub(crate) fn enqueue_tx(
    tx: &WriteTx,
    catalog: &Catalog,
    user: &UserRecord,
    kind: MailKind,
    now: Timestamp,
    compose: impl FnOnce(Tr) -> Mail,
) -> Result<(), StoreError> {
    if !user.emails.prefs.wants(kind) {
        return Ok(());
    }
    let mail = compose(catalog.tr(mail_lang(user)));
    let addresses = user.emails.recipients(&user.profile.email, kind);
    if addresses.is_empty() {
        return outbox::put_tx(tx, &mail_record(user, "", mail, now));
    }
    for address in addresses {
        outbox::put_tx(tx, &mail_record(user, address, mail.clone(), now))?;
    }
    Ok(())
}

/// Writes a mail to `user` at `address` whatever their preferences (the
/// link that verifies that address).
pub(crate) fn enqueue_to_address_tx(
    tx: &WriteTx,
    catalog: &Catalog,
    user: &UserRecord,
    address: &str,
    now: Timestamp,
    compose: impl FnOnce(Tr) -> Mail,
) -> Result<(), StoreError> {
    let mail = compose(catalog.tr(mail_lang(user)));
    outbox::put_tx(tx, &mail_record(user, address, mail, now))
}

/// What one try to deliver a mail gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    Failed { permanent: bool, error: String },
}

/// The longest error text kept with a mail.
const ERROR_MAX: usize = 500;

/// The outbox record of a composed mail to `user` at `address` (empty: the
/// user has no address mail may go to, and it is only kept).
pub(crate) fn mail_record(
    user: &UserRecord,
    address: &str,
    mail: Mail,
    now: Timestamp,
) -> MailRecord {
    let name = format!(
        "{} {}",
        user.profile.first_name.trim(),
        user.profile.last_name.trim()
    )
    .trim()
    .to_owned();
    MailRecord {
        id: MailId::generate(),
        to_user: user.id,
        to_address: address.to_owned(),
        to_name: if name.is_empty() {
            user.username.as_str().to_owned()
        } else {
            name
        },
        subject: mail.subject,
        body: mail.body,
        html: mail.html,
        created_at: now,
        status: if address.is_empty() {
            MailStatus::NoAddress
        } else {
            MailStatus::Pending
        },
        attempts: 0,
        last_error: None,
        next_try: None,
        sent_at: None,
    }
}

impl Services {
    /// Whether an SMTP relay is configured (else mail stays in the outbox).
    pub fn mail_delivery_configured(&self) -> bool {
        self.mail_delivery
    }

    /// At most `limit` mails due for a try now, the longest waiting first.
    pub async fn due_mails(&self, limit: usize) -> Result<Vec<MailRecord>, ServiceError> {
        let now = self.clock.now();
        self.blocking(move |store| store.read(|tx| Ok(outbox::due_read_tx(tx, now, limit)?)))
            .await
    }

    /// Records the outcome of a batch of tries in one transaction: sent;
    /// failed and due again after the backoff; or given up (a permanent
    /// refusal, or the last try).
    pub async fn record_deliveries(
        &self,
        outcomes: Vec<(MailId, Delivery)>,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                for (id, outcome) in &outcomes {
                    let Some(mut m) = outbox::get_tx(tx, *id)? else {
                        continue;
                    };
                    if m.status != MailStatus::Pending {
                        continue;
                    }
                    m.attempts = m.attempts.saturating_add(1);
                    match outcome {
                        Delivery::Sent => {
                            m.status = MailStatus::Sent;
                            m.sent_at = Some(now);
                            m.next_try = None;
                        }
                        Delivery::Failed { permanent, error } => {
                            m.last_error = Some(error.chars().take(ERROR_MAX).collect());
                            let retry = if *permanent {
                                None
                            } else {
                                mail::retry_delay(m.attempts)
                            };
                            match retry.and_then(|d| now.checked_add(d).ok()) {
                                Some(at) => m.next_try = Some(at),
                                None => {
                                    m.status = MailStatus::Failed;
                                    m.next_try = None;
                                }
                            }
                        }
                    }
                    outbox::put_tx(tx, &m)?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Queues a mail again now, whatever happened to it (admins); one with
    /// no address cannot be sent.
    pub async fn resend_mail(&self, id: MailId) -> Result<(), ServiceError> {
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                let mut m = outbox::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                if m.to_address.is_empty() {
                    return Err(ServiceError::Refused("error.mail.no_address"));
                }
                m.status = MailStatus::Pending;
                m.attempts = 0;
                m.next_try = Some(now);
                m.sent_at = None;
                outbox::put_tx(tx, &m)?;
                Ok(())
            })
        })
        .await
    }
}
