//! User administration: the first-run admin, the admin's users page and the
//! `mlstack user` commands.

use std::io::Write;

use super::workloads::stop_disabled_owner_workloads_tx;
use super::{ServiceError, Services, random_password};
use crate::domain::audit::AuditAction;
use crate::domain::ids::UserId;
use crate::domain::mail::MailKind;
use crate::domain::user::{Profile, Settings, USER_SEARCH_MAX, USER_SEARCH_MIN, Username};
use crate::domain::validation::FieldErrors;
use crate::store::users::{self, UserRecord};
use crate::store::{StoreError, sessions};

/// The outcome of an action that set a generated password, shown once.
#[derive(Debug)]
pub struct GeneratedPassword {
    pub username: Username,
    pub password: String,
}

/// A change an admin makes to another account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange {
    Disable,
    Enable,
    GrantAdmin,
    RevokeAdmin,
}

impl Services {
    /// On a store with no admin, creates `admin` with a random password,
    /// writes it to the data directory (mode 0600) and returns it.
    pub async fn ensure_initial_admin(&self) -> Result<Option<GeneratedPassword>, ServiceError> {
        let has_admin = self
            .blocking(|store| Ok(users::list(store)?.iter().any(|u| u.is_admin)))
            .await?;
        if has_admin {
            return Ok(None);
        }
        let username = Username::parse("admin").map_err(|e| ServiceError::Internal(e.into()))?;
        let password = random_password();
        let hash = self.passwords.hash(password.clone()).await?;
        let now = self.clock.now();
        let record = UserRecord {
            id: UserId::generate(),
            username: username.clone(),
            password_hash: hash,
            is_admin: true,
            disabled: false,
            initial_password: true,
            password_must_change: true,
            last_login_lang: None,
            created_at: now,
            profile: Profile::default(),
            settings: Settings::default(),
            current_project: None,
            emails: Default::default(),
        };
        self.blocking(move |store| {
            store.write(|tx| match users::insert_tx(tx, &record) {
                Err(StoreError::Conflict(_)) => {
                    Err(ServiceError::Refused("error.bootstrap.admin_name_taken"))
                }
                other => other.map_err(ServiceError::from),
            })
        })
        .await?;
        self.write_initial_password_file(&password)?;
        Ok(Some(GeneratedPassword { username, password }))
    }

    fn write_initial_password_file(&self, password: &str) -> Result<(), ServiceError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.initial_password_path();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{password}\n").as_bytes()).map(|()| f))
            .map_err(|e| ServiceError::Internal(format!("cannot write {}: {e}", path.display())))?;
        file.flush()
            .and_then(|()| file.sync_all())
            .map_err(|e| ServiceError::Internal(format!("cannot write {}: {e}", path.display())))
    }

    /// Enabled usernames containing `query` (at least
    /// [`USER_SEARCH_MIN`] characters), in order, at most
    /// [`USER_SEARCH_MAX`]: how the project form finds people without
    /// listing every account to every member.
    pub async fn search_usernames(&self, query: &str) -> Result<Vec<String>, ServiceError> {
        let query = query.trim().to_lowercase();
        if query.chars().count() < USER_SEARCH_MIN {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "q",
                "auth.user_search.too_short",
            )));
        }
        let mut names: Vec<String> = self
            .list_users()
            .await?
            .into_iter()
            .filter(|u| !u.disabled && u.username.as_str().contains(&query))
            .map(|u| u.username.to_string())
            .collect();
        names.sort();
        names.truncate(USER_SEARCH_MAX);
        Ok(names)
    }

    /// Every account, oldest first.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>, ServiceError> {
        self.blocking(|store| Ok(users::list(store)?)).await
    }

    /// Creates an account with a generated password, which the user must
    /// change at first login.
    pub async fn create_user(
        &self,
        username: &str,
        is_admin: bool,
    ) -> Result<GeneratedPassword, ServiceError> {
        let username = Username::parse(username)
            .map_err(|message| ServiceError::Invalid(FieldErrors::single("username", message)))?;
        let password = random_password();
        let hash = self.passwords.hash(password.clone()).await?;
        let record = UserRecord {
            id: UserId::generate(),
            username: username.clone(),
            password_hash: hash,
            is_admin,
            disabled: false,
            initial_password: false,
            password_must_change: true,
            last_login_lang: None,
            created_at: self.clock.now(),
            profile: Profile::default(),
            settings: Settings::default(),
            current_project: None,
            emails: Default::default(),
        };
        let stamp = self.audit_stamp();
        self.blocking(move |store| {
            store.write(|tx| match users::insert_tx(tx, &record) {
                Err(StoreError::Conflict(_)) => Err(ServiceError::Invalid(FieldErrors::single(
                    "username",
                    "error.username.taken",
                ))),
                other => {
                    other?;
                    stamp.record_tx(tx, AuditAction::UserCreated, record.username.as_str())?;
                    if record.is_admin {
                        stamp.record_tx(tx, AuditAction::AdminGranted, record.username.as_str())?;
                    }
                    Ok(())
                }
            })
        })
        .await?;
        tracing::info!(username = %username, is_admin, "user created");
        Ok(GeneratedPassword { username, password })
    }

    /// Gives an account a new generated password (to change at the next
    /// login) and ends its sessions.
    /// `actor` is the admin doing it, `None` for the command line.
    pub async fn reset_password(
        &self,
        actor: Option<UserId>,
        target: &str,
    ) -> Result<GeneratedPassword, ServiceError> {
        let password = random_password();
        let hash = self.passwords.hash(password.clone()).await?;
        let name = target.trim().to_owned();
        let (catalog, now) = (self.catalog.clone(), self.clock.now());
        let stamp = self.audit_stamp();
        let (user, was_initial) = self
            .blocking(move |store| {
                store.write(|tx| {
                    let mut user =
                        users::get_by_username_tx(tx, &name)?.ok_or(ServiceError::NotFound)?;
                    if actor == Some(user.id) {
                        return Err(ServiceError::Refused("error.users.reset_self"));
                    }
                    let was_initial = user.initial_password;
                    user.password_hash = hash;
                    user.initial_password = false;
                    user.password_must_change = true;
                    users::update_tx(tx, &user)?;
                    sessions::delete_all_for_user_tx(tx, user.id, None)?;
                    stamp.record_tx(tx, AuditAction::PasswordReset, user.username.as_str())?;
                    if actor.is_some() {
                        // The password itself is never mailed.
                        let username = user.username.as_str().to_owned();
                        super::mail::enqueue_tx(
                            tx,
                            &catalog,
                            &user,
                            MailKind::Account,
                            now,
                            |tr| crate::notify::password_reset_by_admin(tr, &username),
                        )?;
                    }
                    Ok((user, was_initial))
                })
            })
            .await?;
        if was_initial {
            self.forget_initial_password();
        }
        tracing::info!(username = %user.username, "password reset");
        Ok(GeneratedPassword {
            username: user.username,
            password,
        })
    }

    /// Disables, enables, grants or revokes admin on another account. An
    /// admin cannot change their own account this way, so an enabled admin
    /// always remains. Disabling ends the account's sessions at once and
    /// stops the account's running workloads, giving back what they held.
    pub async fn change_user(
        &self,
        actor: UserId,
        target: UserId,
        change: UserChange,
    ) -> Result<UserRecord, ServiceError> {
        let now = self.clock.now();
        let stamp = self.audit_stamp();
        let (user, stopped) = self
            .blocking(move |store| {
                store.write(|tx| {
                    if actor == target {
                        return Err(ServiceError::Refused("error.users.change_self"));
                    }
                    // The actor's rights are checked again inside the
                    // transaction: two admins revoking each other at the same
                    // moment must not both succeed.
                    let acting = users::get_tx(tx, actor)?;
                    if !acting.is_some_and(|a| a.is_admin && !a.disabled) {
                        return Err(ServiceError::Refused("error.users.not_admin"));
                    }
                    let mut user = users::get_tx(tx, target)?.ok_or(ServiceError::NotFound)?;
                    match change {
                        UserChange::Disable => user.disabled = true,
                        UserChange::Enable => user.disabled = false,
                        UserChange::GrantAdmin => user.is_admin = true,
                        UserChange::RevokeAdmin => user.is_admin = false,
                    }
                    users::update_tx(tx, &user)?;
                    let action = match change {
                        UserChange::Disable => AuditAction::UserDisabled,
                        UserChange::Enable => AuditAction::UserEnabled,
                        UserChange::GrantAdmin => AuditAction::AdminGranted,
                        UserChange::RevokeAdmin => AuditAction::AdminRevoked,
                    };
                    stamp.record_tx(tx, action, user.username.as_str())?;
                    let stopped = match change {
                        UserChange::Disable => stop_disabled_owner_workloads_tx(tx, target, now)?,
                        _ => false,
                    };
                    Ok((user, stopped))
                })
            })
            .await?;
        if stopped {
            self.wake_reconciler();
        }
        tracing::info!(username = %user.username, change = ?change, "user changed");
        Ok(user)
    }
}
