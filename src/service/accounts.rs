//! A user's own account: profile and settings (manual §6).

use super::{ServiceError, Services};
use crate::domain::ids::UserId;
use crate::domain::user::{Settings, UpdateProfileRequest};
use crate::store::users::{self, UserRecord};

impl Services {
    pub async fn user(&self, id: UserId) -> Result<UserRecord, ServiceError> {
        self.blocking(move |store| users::get(store, id)?.ok_or(ServiceError::NotFound))
            .await
    }

    /// Validates and stores "My Profile".
    pub async fn update_profile(
        &self,
        id: UserId,
        request: &UpdateProfileRequest,
    ) -> Result<(), ServiceError> {
        let request = request.clone();
        self.blocking(move |store| {
            store.write(|tx| {
                let mut user = users::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                user.profile = request
                    .validate(&user.profile.email)
                    .map_err(ServiceError::Invalid)?;
                users::update_tx(tx, &user)?;
                Ok(())
            })
        })
        .await
    }

    /// Stores the theme and language settings.
    pub async fn update_settings(
        &self,
        id: UserId,
        settings: Settings,
    ) -> Result<(), ServiceError> {
        self.blocking(move |store| {
            store.write(|tx| {
                let mut user = users::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                user.settings = settings;
                users::update_tx(tx, &user)?;
                Ok(())
            })
        })
        .await
    }
}
