//! Logging in and out, sessions, login throttling and password changes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};

use super::{ServiceError, Services, random_token};
use crate::domain::audit::{AuditAction, AuditOutcome};
use crate::domain::ids::ProjectId;
use crate::domain::project::ProjectRole;
use crate::domain::session;
use crate::domain::throttle::Failures;
use crate::domain::user::{Lang, check_login_name, validate_new_password};
use crate::domain::validation::FieldErrors;
use crate::store::activations::{self, ActivationStatus};
use crate::store::projects;
use crate::store::sessions::{self, SessionRecord, TokenHash};
use crate::store::users::{self, UserRecord};

/// Counted login attempts per account and per client address, in memory.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    accounts: Mutex<HashMap<String, Failures>>,
    addresses: Mutex<HashMap<IpAddr, Failures>>,
}

/// An attempt counted before its password was checked, to take back if the
/// password is right.
struct Counted {
    username: String,
    addr: Option<IpAddr>,
    at: Timestamp,
}

impl LoginThrottle {
    /// Counts an attempt on `username` from `addr`: refused when the account
    /// has too many attempts, else how long the address must wait first.
    fn begin(
        &self,
        username: &str,
        addr: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<(Counted, SignedDuration), SignedDuration> {
        {
            let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
            accounts.retain(|_, f| !f.is_idle(now));
            let account = accounts.entry(username.to_owned()).or_default();
            if let Some(wait) = account.wait(now) {
                return Err(wait);
            }
            account.record(now);
        }
        let delay = match addr {
            Some(addr) => {
                let mut addresses = self
                    .addresses
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                addresses.retain(|_, f| !f.is_idle(now));
                let address = addresses.entry(addr).or_default();
                let delay = address.delay(now);
                address.record(now);
                delay
            }
            None => SignedDuration::ZERO,
        };
        let counted = Counted {
            username: username.to_owned(),
            addr,
            at: now,
        };
        Ok((counted, delay))
    }

    /// How long the next login attempt from `addr` would be slowed down,
    /// changing nothing.
    fn address_delay(&self, addr: IpAddr, now: Timestamp) -> SignedDuration {
        let addresses = self
            .addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        addresses
            .get(&addr)
            .map_or(SignedDuration::ZERO, |f| f.clone().delay(now))
    }

    /// Takes back an attempt whose password was right.
    fn succeeded(&self, counted: &Counted) {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = accounts.get_mut(&counted.username) {
            f.take_back(counted.at);
        }
        drop(accounts);
        if let Some(addr) = counted.addr {
            let mut addresses = self
                .addresses
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(f) = addresses.get_mut(&addr) {
                f.take_back(counted.at);
            }
        }
    }
}

/// Who is logging in, as the web layer saw the request.
#[derive(Debug, Default, Clone)]
pub struct LoginClient<'a> {
    /// The client's address (behind a trusted proxy, the forwarded one).
    pub addr: Option<IpAddr>,
    /// The request's `Accept-Language`, remembered for mail.
    pub accept_language: Option<&'a str>,
    /// The session cookie the browser had before; that session ends.
    pub previous_token: Option<&'a str>,
}

/// A session that was just created: the cookie token goes to the browser.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub user: UserRecord,
    /// Whether the user's Cloud Provisioning has passed.
    pub activated: bool,
}

/// A project offered by the header's project selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectChoice {
    pub id: ProjectId,
    pub name: String,
    pub role: ProjectRole,
}

/// The session a request belongs to.
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub user: UserRecord,
    pub token_hash: TokenHash,
    pub csrf_token: String,
    /// The user's open projects, for the project selector.
    pub projects: Vec<ProjectChoice>,
}

impl SessionContext {
    /// The project chosen in the selector, if it is still one of the user's.
    pub fn current_project(&self) -> Option<&ProjectChoice> {
        let chosen = self.user.current_project?;
        self.projects.iter().find(|p| p.id == chosen)
    }
}

impl Services {
    /// How long the next login attempt from the client address `addr` would
    /// be slowed down now (zero when the address is not throttled).
    pub fn login_delay(&self, addr: IpAddr) -> SignedDuration {
        self.throttle.address_delay(addr, self.clock.now())
    }

    /// Checks a username and password and opens a session; the session the
    /// browser had before ends (no session fixation).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &LoginClient<'_>,
    ) -> Result<NewSession, ServiceError> {
        let username = username.trim().to_lowercase();
        let mut errors = FieldErrors::new();
        if username.is_empty() {
            errors.add("username", "error.username.required");
        } else if let Err(message) = check_login_name(&username) {
            errors.add("username", message);
        }
        if password.is_empty() {
            errors.add("password", "error.password.required");
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }

        let (counted, delay) = match self
            .throttle
            .begin(&username, client.addr, self.clock.now())
        {
            Ok(begun) => begun,
            Err(wait) => {
                tracing::warn!(username = %username, "login refused: throttled");
                let stamp = self.audit_stamp_for(None, &username, client.addr);
                self.record_audit(stamp.event(AuditAction::Login, "", AuditOutcome::Throttled))
                    .await;
                return Err(ServiceError::Throttled { wait });
            }
        };
        if delay.is_positive() {
            tracing::info!(
                delay_ms = delay.as_millis(),
                "login slowed down for this address"
            );
            tokio::time::sleep(delay.unsigned_abs()).await;
        }

        let name = username.clone();
        let user = self
            .blocking(move |store| Ok(users::get_by_username(store, &name)?))
            .await?;
        let matches = match &user {
            Some(user) => {
                self.passwords
                    .verify(password.to_owned(), user.password_hash.clone())
                    .await?
            }
            None => self.passwords.verify_decoy(password.to_owned()).await?,
        };
        let user = match user {
            Some(user) if matches => user,
            _ => {
                tracing::info!(username = %username, "login failed");
                let stamp = self.audit_stamp_for(user.as_ref(), &username, client.addr);
                self.record_audit(stamp.event(
                    AuditAction::Login,
                    "",
                    AuditOutcome::BadCredentials,
                ))
                .await;
                return Err(ServiceError::InvalidCredentials);
            }
        };
        self.throttle.succeeded(&counted);
        if user.disabled {
            tracing::info!(username = %username, "login refused: account disabled");
            let stamp = self.audit_stamp_for(Some(&user), &username, client.addr);
            self.record_audit(stamp.event(AuditAction::Login, "", AuditOutcome::Disabled))
                .await;
            return Err(ServiceError::AccountDisabled);
        }

        let token = random_token();
        let now = self.clock.now();
        let record = SessionRecord {
            user_id: user.id,
            csrf_token: random_token(),
            created_at: now,
            last_seen_at: now,
        };
        let hash = sessions::hash_token(&token);
        let previous = client.previous_token.map(sessions::hash_token);
        let lang = Lang::negotiate(client.accept_language);
        let user_id = user.id;
        let stamp = self.audit_stamp_for(Some(&user), &username, client.addr);
        let (user, activated) = self
            .blocking(move |store| {
                store.write(|tx| {
                    stamp.record_tx(tx, AuditAction::Login, "")?;
                    if let Some(previous) = previous {
                        sessions::delete_tx(tx, &previous)?;
                    }
                    sessions::put_tx(tx, &hash, &record)?;
                    let mut user = users::get_tx(tx, user_id)?.ok_or(ServiceError::NotFound)?;
                    if user.last_login_lang != Some(lang) {
                        user.last_login_lang = Some(lang);
                        users::update_tx(tx, &user)?;
                    }
                    let activated = activations::get_tx(tx, user_id)?
                        .is_some_and(|a| a.status == ActivationStatus::Passed);
                    Ok((user, activated))
                })
            })
            .await?;
        tracing::info!(username = %username, "logged in");
        Ok(NewSession {
            token,
            user,
            activated,
        })
    }

    /// The session for a cookie token, if it is live. Ends idle sessions and
    /// records use at most once a minute.
    pub async fn authenticate(&self, token: &str) -> Result<Option<SessionContext>, ServiceError> {
        let hash = sessions::hash_token(token);
        let now = self.clock.now();
        // This read runs on every request, so it runs right here: a read
        // transaction over cached pages takes microseconds and never waits
        // on a writer (redb readers see a snapshot), where a hop to the
        // blocking pool would cost more than the read itself.
        let found: Option<(SessionRecord, UserRecord, Vec<ProjectChoice>)> =
            self.store.read(|tx| {
                let Some(session) = sessions::get_read_tx(tx, &hash)? else {
                    return Ok(None);
                };
                let Some(user) = users::get_read_tx(tx, session.user_id)? else {
                    return Ok(None);
                };
                let choices = projects::of_user_read_tx(tx, user.id)?
                    .into_iter()
                    .filter(|p| !p.deleted && p.status.is_selectable())
                    .filter_map(|p| {
                        p.role_of(user.id).map(|role| ProjectChoice {
                            id: p.id,
                            name: p.name,
                            role,
                        })
                    })
                    .collect::<Vec<_>>();
                Ok::<_, ServiceError>(Some((session, user, choices)))
            })?;
        let Some((session, user, projects)) = found else {
            return Ok(None);
        };
        if session::is_expired(session.last_seen_at, now, self.idle_timeout)
            || session::outlived(session.created_at, now, self.session_lifetime)
            || user.disabled
        {
            self.blocking(move |store| store.write(|tx| Ok(sessions::delete_tx(tx, &hash)?)))
                .await?;
            return Ok(None);
        }
        if session::needs_touch(session.last_seen_at, now) {
            let touched = SessionRecord {
                last_seen_at: now,
                ..session.clone()
            };
            let touch = self
                .blocking(move |store| {
                    store.write(|tx| {
                        if sessions::get_tx(tx, &hash)?.is_some() {
                            sessions::put_tx(tx, &hash, &touched)?;
                        }
                        Ok(())
                    })
                })
                .await;
            // A full disk stops writes, not reading: the session stays as
            // it was touched last.
            match touch {
                Err(e) if e.is_disk_full() => {
                    tracing::warn!("the session was not touched: the disk is full");
                }
                other => other?,
            }
        }
        Ok(Some(SessionContext {
            user,
            token_hash: hash,
            csrf_token: session.csrf_token,
            projects,
        }))
    }

    /// Ends one session.
    pub async fn logout(&self, session: &SessionContext) -> Result<(), ServiceError> {
        let hash = session.token_hash;
        let stamp = self.audit_stamp_for(Some(&session.user), "", None);
        self.blocking(move |store| {
            store.write(|tx| {
                sessions::delete_tx(tx, &hash)?;
                stamp.record_tx(tx, AuditAction::Logout, "")?;
                Ok(())
            })
        })
        .await?;
        tracing::info!(username = %session.user.username, "logged out");
        Ok(())
    }

    /// Changes the session user's password after checking the current one;
    /// every other session of the user ends.
    pub async fn change_password(
        &self,
        session: &SessionContext,
        current: &str,
        new: &str,
        confirm: &str,
    ) -> Result<(), ServiceError> {
        let mut errors = validate_new_password(new, confirm)
            .err()
            .unwrap_or_default();
        if current.is_empty() {
            errors.add("current_password", "error.password.required");
        } else if new == current {
            errors.add("new_password", "error.password.unchanged");
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        let user_id = session.user.id;
        let stored = self
            .blocking(move |store| users::get(store, user_id)?.ok_or(ServiceError::NotFound))
            .await?;
        if !self
            .passwords
            .verify(current.to_owned(), stored.password_hash.clone())
            .await?
        {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "current_password",
                "error.password.current_wrong",
            )));
        }
        let new_hash = self.passwords.hash(new.to_owned()).await?;
        let keep = session.token_hash;
        let (was_initial, ended) = self
            .blocking(move |store| {
                store.write(|tx| {
                    let mut user = users::get_tx(tx, user_id)?.ok_or(ServiceError::NotFound)?;
                    let was_initial = user.initial_password;
                    user.password_hash = new_hash;
                    user.initial_password = false;
                    user.password_must_change = false;
                    users::update_tx(tx, &user)?;
                    let ended = sessions::delete_all_for_user_tx(tx, user_id, Some(&keep))?;
                    Ok((was_initial, ended))
                })
            })
            .await?;
        if was_initial {
            self.forget_initial_password();
        }
        tracing::info!(username = %session.user.username, other_sessions_ended = ended, "password changed");
        Ok(())
    }

    /// Deletes sessions idle longer than the timeout or older than their
    /// lifetime; returns how many.
    pub async fn purge_expired_sessions(&self) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let before = |age: SignedDuration| {
            now.checked_sub(age)
                .map_err(|e| ServiceError::Internal(e.to_string()))
        };
        let idle_cutoff = before(self.idle_timeout)?;
        let created_cutoff = before(self.session_lifetime)?;
        self.blocking(move |store| {
            store.write(|tx| {
                Ok(sessions::delete_expired_tx(
                    tx,
                    idle_cutoff,
                    created_cutoff,
                )?)
            })
        })
        .await
    }
}

/// Name of the file, in the data directory, that holds the form key.
pub const FORM_KEY_FILE: &str = "form-key";

/// The server's key for the tokens it issues before login (the pre-login
/// CSRF cookie): a token is a random nonce and its HMAC-SHA256 under this
/// key, so a cookie the server did not issue is refused. Generated at the
/// first start and kept in the data directory with mode 0600; never logged.
#[derive(Clone)]
pub struct FormKey([u8; 64]);

impl std::fmt::Debug for FormKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormKey(..)")
    }
}

type FormMac = hmac::Hmac<sha2::Sha256>;

impl FormKey {
    /// Reads the key from `data_dir`, creating it at the first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, ServiceError> {
        use base64::Engine;
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = data_dir.join(FORM_KEY_FILE);
        let engine = base64::engine::general_purpose::STANDARD;
        let failed = |e: std::io::Error| {
            ServiceError::Internal(format!("cannot use {}: {e}", path.display()))
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = engine
                    .decode(text.trim())
                    .ok()
                    .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
                    .ok_or_else(|| {
                        ServiceError::Internal(format!(
                            "{} does not hold a key (64 bytes in base64); remove it to make a new one",
                            path.display()
                        ))
                    })?;
                Ok(Self(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 64] = rand::random();
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(failed)?;
                file.write_all(format!("{}\n", engine.encode(key)).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(failed)?;
                Ok(Self(key))
            }
            Err(e) => Err(failed(e)),
        }
    }

    fn mac(&self, nonce: &str) -> FormMac {
        use hmac::Mac;
        use hmac::digest::KeyInit;
        // A key of HMAC-SHA256's block size (64 bytes) is used as it is.
        let mut mac = <FormMac as KeyInit>::new(&self.0.into());
        mac.update(nonce.as_bytes());
        mac
    }

    /// A new token: `<nonce>.<HMAC of the nonce>`, both base64url.
    pub fn issue(&self) -> String {
        use base64::Engine;
        use hmac::Mac;
        let nonce = random_token();
        let tag = self.mac(&nonce).finalize().into_bytes();
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag);
        format!("{nonce}.{tag}")
    }

    /// Whether `token` is one this key issued (compared in constant time).
    pub fn verify(&self, token: &str) -> bool {
        use base64::Engine;
        use hmac::Mac;
        let Some((nonce, tag)) = token.split_once('.') else {
            return false;
        };
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        self.mac(nonce).verify_slice(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_tokens_verify_only_under_their_key() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = FormKey::load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let again = FormKey::load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let token = key.issue();
        assert!(key.verify(&token));
        assert!(again.verify(&token), "the key is kept across starts");
        assert!(!key.verify(&random_token()));
        let (nonce, _) = token.split_once('.').unwrap_or_default();
        assert!(!key.verify(&format!("{nonce}.{}", random_token())));
        let mode = std::fs::metadata(dir.path().join(FORM_KEY_FILE))
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .unwrap_or_default();
        assert_eq!(mode, 0o600);
    }
}
