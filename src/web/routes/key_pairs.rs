//! Advanced Settings › Key Pairs (manual §8.3): the list, generating a key
//! pair (the POST answers with the private key as a download, once),
//! importing a public key, deleting after confirmation. A user sees and
//! deletes only their own key pairs; another's is not found.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{RouteDef, WORKSPACE, html, ok, route};
use crate::domain::ids::KeyPairId;
use crate::domain::key_pair::ImportKeyPairRequest;
use crate::service::ServiceError;
use crate::web::error::WebError;
use crate::web::extract::CurrentUser;
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::views::format;
use crate::web::views::key_pairs::{
    self as view, KeyPairForm, KeyPairNotice, KeyPairRowView, KeyPairsView, RefusedForm,
};

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::KEY_PAIRS, WORKSPACE => get_list),
        route!(Post paths::KEY_PAIR_GENERATE, WORKSPACE => post_generate),
        route!(Get paths::KEY_PAIR_GENERATE, WORKSPACE => get_back_to_list),
        route!(Post paths::KEY_PAIR_IMPORT, WORKSPACE => post_import),
        route!(Get paths::KEY_PAIR_IMPORT, WORKSPACE => get_back_to_list),
        route!(Post "/advanced/key-pairs/{id}/delete", WORKSPACE => post_delete),
    ]
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Done {
    generated: Option<String>,
    imported: Option<String>,
    deleted: Option<String>,
}

async fn get_list(user: CurrentUser, done: web::Query<Done>) -> Result<HttpResponse, WebError> {
    let notice = if done.generated.is_some() {
        Some(KeyPairNotice::Generated)
    } else if done.imported.is_some() {
        Some(KeyPairNotice::Imported)
    } else if done.deleted.is_some() {
        Some(KeyPairNotice::Deleted)
    } else {
        None
    };
    render(&user, notice, None, StatusCode::OK).await
}

/// The GET of a form's POST address (a reload after a refusal) leads back
/// to the list.
async fn get_back_to_list(_user: CurrentUser) -> HttpResponse {
    see_other(paths::KEY_PAIRS)
}

async fn render(
    user: &CurrentUser,
    notice: Option<KeyPairNotice>,
    refused: Option<RefusedForm<'_>>,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let zone = services.time_zone().await?;
    let rows = services
        .key_pairs(user.session.user.id)
        .await?
        .into_iter()
        .map(|k| KeyPairRowView {
            id: k.id.to_string(),
            name: k.name.to_string(),
            algorithm: k.algorithm,
            bits: k.bits,
            fingerprint: k.fingerprint,
            created_at: format::date_time(k.created_at, &zone),
        })
        .collect();
    let view = KeyPairsView {
        rows,
        notice,
        refused,
    };
    let markup = view::list(&user.page.shell(), &view);
    Ok(if status == StatusCode::OK {
        ok(markup)
    } else {
        html(status, markup)
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GenerateForm {
    name: String,
    /// Set by key-pairs.js: echoed in [`DOWNLOAD_COOKIE`] with the private
    /// key, so the page knows the download started and shows the list again.
    download: String,
}

/// The cookie that tells key-pairs.js a download started (not a secret:
/// the page's own random token).
const DOWNLOAD_COOKIE: &str = "mlstack_key_download";

/// The token of a generate form, when it is one key-pairs.js makes.
fn download_token(token: &str) -> Option<&str> {
    let well_formed =
        (1..=64).contains(&token.len()) && token.chars().all(|c| c.is_ascii_alphanumeric());
    well_formed.then_some(token)
}

/// Answers with the new private key as `<name>.pem`; nothing keeps it.
async fn post_generate(
    user: CurrentUser,
    form: web::Form<GenerateForm>,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    match services
        .generate_key_pair(user.session.user.id, &form.name)
        .await
    {
        Ok(generated) => {
            let file_name = format!("{}.pem", generated.record.name);
            let mut response = HttpResponse::Ok();
            if let Some(token) = download_token(&form.download) {
                response.cookie(
                    Cookie::build(DOWNLOAD_COOKIE, token.to_owned())
                        .path(paths::KEY_PAIRS)
                        .max_age(Duration::minutes(1))
                        .same_site(SameSite::Strict)
                        .secure(user.page.ctx.secure)
                        .finish(),
                );
            }
            Ok(response
                .content_type("application/x-pem-file")
                .insert_header(ContentDisposition {
                    disposition: DispositionType::Attachment,
                    parameters: vec![DispositionParam::Filename(file_name)],
                })
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(generated.private_key.as_str().to_owned()))
        }
        Err(ServiceError::Invalid(errors)) => {
            let refused = RefusedForm {
                form: KeyPairForm::Generate,
                name: &form.name,
                public_key: "",
                errors: &errors,
            };
            render(&user, None, Some(refused), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn post_import(
    user: CurrentUser,
    form: web::Form<ImportKeyPairRequest>,
) -> Result<HttpResponse, WebError> {
    let services = &user.page.state.services;
    let request = form.into_inner();
    match services
        .import_key_pair(user.session.user.id, &request)
        .await
    {
        Ok(_) => Ok(see_other(&format!("{}?imported=1", paths::KEY_PAIRS))),
        Err(ServiceError::Invalid(errors)) => {
            // A pasted private key is not sent back either.
            let public_key = if request.pasted_private_key() {
                ""
            } else {
                request.public_key.as_str()
            };
            let refused = RefusedForm {
                form: KeyPairForm::Import,
                name: &request.name,
                public_key,
                errors: &errors,
            };
            render(&user, None, Some(refused), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn post_delete(user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let id: KeyPairId = path.parse().map_err(|_| WebError::NotFound)?;
    user.page
        .state
        .services
        .delete_key_pair(user.session.user.id, id)
        .await?;
    Ok(see_other(&format!("{}?deleted=1", paths::KEY_PAIRS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_tokens_are_short_and_alphanumeric() {
        assert_eq!(download_token("a1B2"), Some("a1B2"));
        assert_eq!(download_token(&"a".repeat(64)).map(str::len), Some(64));
        for bad in ["", "a;b", "a b", "a=b", &"a".repeat(65)] {
            assert_eq!(download_token(bad), None, "{bad}");
        }
    }
}
