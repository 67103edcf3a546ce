//! Logging in and out, sessions, login throttling and password changes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};

use super::{ServiceError, Services, random_token};
use crate::domain::ids::ProjectId;
use crate::domain::project::ProjectRole;
use crate::domain::session;
use crate::domain::throttle::Failures;
use crate::domain::user::validate_new_password;
use crate::domain::validation::FieldErrors;
use crate::store::projects;
use crate::store::sessions::{self, SessionRecord, TokenHash};
use crate::store::users::{self, UserRecord};

/// Failed logins per account and per client address, kept in memory.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

impl LoginThrottle {
    fn keys(username: &str, addr: Option<IpAddr>) -> Vec<String> {
        let mut keys = vec![format!("user:{username}")];
        if let Some(addr) = addr {
            keys.push(format!("addr:{addr}"));
        }
        keys
    }

    fn wait(&self, keys: &[String], now: Timestamp) -> Option<SignedDuration> {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        keys.iter()
            .filter_map(|k| failures.get_mut(k).and_then(|f| f.wait(now)))
            .max()
    }

    fn record(&self, keys: &[String], now: Timestamp) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.retain(|_, f| !f.is_idle(now));
        for key in keys {
            failures.entry(key.clone()).or_default().record(now);
        }
    }
}

/// A session that was just created: the cookie token goes to the browser.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub user: UserRecord,
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
    /// Checks a username and password and opens a session.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        addr: Option<IpAddr>,
    ) -> Result<NewSession, ServiceError> {
        let username = username.trim().to_lowercase();
        let mut errors = FieldErrors::new();
        if username.is_empty() {
            errors.add("username", "error.username.required");
        }
        if password.is_empty() {
            errors.add("password", "error.password.required");
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }

        let keys = LoginThrottle::keys(&username, addr);
        if let Some(wait) = self.throttle.wait(&keys, self.clock.now()) {
            tracing::warn!(username = %username, "login refused: throttled");
            return Err(ServiceError::Throttled { wait });
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
                self.throttle.record(&keys, self.clock.now());
                tracing::info!(username = %username, "login failed");
                return Err(ServiceError::InvalidCredentials);
            }
        };
        if user.disabled {
            tracing::info!(username = %username, "login refused: account disabled");
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
        self.blocking(move |store| store.write(|tx| Ok(sessions::put_tx(tx, &hash, &record)?)))
            .await?;
        tracing::info!(username = %username, "logged in");
        Ok(NewSession { token, user })
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
        if session::is_expired(session.last_seen_at, now, self.idle_timeout) || user.disabled {
            self.blocking(move |store| store.write(|tx| Ok(sessions::delete_tx(tx, &hash)?)))
                .await?;
            return Ok(None);
        }
        if session::needs_touch(session.last_seen_at, now) {
            let touched = SessionRecord {
                last_seen_at: now,
                ..session.clone()
            };
            self.blocking(move |store| {
                store.write(|tx| {
                    if sessions::get_tx(tx, &hash)?.is_some() {
                        sessions::put_tx(tx, &hash, &touched)?;
                    }
                    Ok(())
                })
            })
            .await?;
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
        self.blocking(move |store| store.write(|tx| Ok(sessions::delete_tx(tx, &hash)?)))
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

    /// Deletes sessions idle longer than the timeout; returns how many.
    pub async fn purge_idle_sessions(&self) -> Result<usize, ServiceError> {
        let cutoff = self
            .clock
            .now()
            .checked_sub(self.idle_timeout)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.blocking(move |store| {
            store.write(|tx| Ok(sessions::delete_idle_since_tx(tx, cutoff)?))
        })
        .await
    }
}
