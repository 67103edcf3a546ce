//! Admin: the catalog. `/admin/catalog` gives an overview; each kind has
//! `/admin/catalog/{kind}` (table and create form), `/{id}` (edit form) and
//! `/{id}/{retire|unretire|delete}`.

use super::{ADMIN, RouteDef, route};
use std::str::FromStr;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::de::value::MapDeserializer;

use super::{html, ok};
use crate::domain::catalog::{
    CatalogKind, GpuTypeRequest, HardwareSpecRequest, ImageRequest, PurposeRequest, Sharing,
    SshLogin, StorageTypeRequest, counts_text, local_commands_text, node_selector_text,
    services_text,
};
use crate::domain::quota::Milli;
use crate::domain::validation::FieldErrors;
use crate::i18n::Tr;
use crate::service::catalog::DeleteOutcome;
use crate::service::{ServiceError, Services};
use crate::store::catalog::{
    CatalogRecord, GpuTypeRecord, HardwareSpecRecord, ImageRecord, PurposeRecord,
    StorageTypeRecord, Uses,
};
use crate::web::error::WebError;
use crate::web::extract::RequireAdmin;
use crate::web::middleware::see_other;
use crate::web::paths;
use crate::web::views::catalog::{
    self as view, CatalogNotice, ChoiceView, EditView, ItemForm, ItemRowView, KindCountView,
    ListView, service_label, sharing_label, ssh_login_label,
};
use crate::web::views::format;

pub fn routes() -> Vec<RouteDef> {
    vec![
        route!(Get paths::ADMIN_CATALOG, ADMIN => get_overview),
        route!(Get "/admin/catalog/{kind}", ADMIN => get_list),
        route!(Post "/admin/catalog/{kind}", ADMIN => post_create),
        route!(Get "/admin/catalog/{kind}/{id}", ADMIN => get_edit),
        route!(Post "/admin/catalog/{kind}/{id}", ADMIN => post_update),
        route!(Post "/admin/catalog/{kind}/{id}/{action}", ADMIN => post_action),
        route!(Get "/admin/catalog/{kind}/{id}/{action}", ADMIN => get_action),
    ]
}

/// The GET of an action's POST address (a reload after a refusal) leads
/// back to the item's page.
async fn get_action(
    _admin: RequireAdmin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (kind, id, _) = path.into_inner();
    let kind = kind_of(&kind)?;
    let id: uuid::Uuid = id_of(&id)?;
    Ok(see_other(&paths::admin_catalog_item(kind, &id.to_string())))
}

fn kind_of(slug: &str) -> Result<CatalogKind, WebError> {
    CatalogKind::from_slug(slug).ok_or(WebError::NotFound)
}

fn id_of<T: FromStr>(id: &str) -> Result<T, WebError> {
    id.parse().map_err(|_| WebError::NotFound)
}

/// A kind's form as submitted (or filled from a stored item).
enum Submitted {
    GpuType(GpuTypeRequest),
    HardwareSpec(HardwareSpecRequest),
    Image(ImageRequest),
    StorageType(StorageTypeRequest),
    Purpose(PurposeRequest),
}

impl Submitted {
    fn blank(kind: CatalogKind) -> Self {
        match kind {
            CatalogKind::GpuType => Submitted::GpuType(GpuTypeRequest {
                sharing: Sharing::Whole.code().to_owned(),
                ..GpuTypeRequest::default()
            }),
            CatalogKind::HardwareSpec => Submitted::HardwareSpec(HardwareSpecRequest::default()),
            CatalogKind::Image => Submitted::Image(ImageRequest {
                ssh_login: SshLogin::Password.code().to_owned(),
                ..ImageRequest::default()
            }),
            CatalogKind::StorageType => Submitted::StorageType(StorageTypeRequest::default()),
            CatalogKind::Purpose => Submitted::Purpose(PurposeRequest::default()),
        }
    }

    /// Reads a submitted form (as field pairs, the app's form extractor
    /// limits and checks the body). Ticked boxes come as repeated fields,
    /// so purposes collect them.
    fn parse(kind: CatalogKind, pairs: Vec<(String, String)>) -> Result<Self, WebError> {
        fn fields<T: serde::de::DeserializeOwned>(
            pairs: Vec<(String, String)>,
        ) -> Result<T, WebError> {
            let map = MapDeserializer::<_, serde::de::value::Error>::new(pairs.into_iter());
            T::deserialize(map).map_err(|e| WebError::BadRequest(e.to_string()))
        }
        Ok(match kind {
            CatalogKind::GpuType => Submitted::GpuType(fields(pairs)?),
            CatalogKind::HardwareSpec => Submitted::HardwareSpec(fields(pairs)?),
            CatalogKind::Image => Submitted::Image(fields(pairs)?),
            CatalogKind::StorageType => Submitted::StorageType(fields(pairs)?),
            CatalogKind::Purpose => {
                let mut request = PurposeRequest::default();
                for (key, value) in pairs {
                    match key.as_str() {
                        "name" => request.name = value,
                        "description" => request.description = value,
                        "allowed_gpu_types" => request.allowed_gpu_types.push(value),
                        "allowed_specs" => request.allowed_specs.push(value),
                        _ => {}
                    }
                }
                Submitted::Purpose(request)
            }
        })
    }
}

// --- Stored items as the forms show them ------------------------------------

fn gpu_type_form(r: &GpuTypeRecord) -> Submitted {
    Submitted::GpuType(GpuTypeRequest {
        name: r.name.clone(),
        resource_name: r.resource_name.clone(),
        sharing: r.sharing.code().to_owned(),
        node_selector: node_selector_text(&r.node_selector),
        memory_gb: r.memory_gb.to_string(),
        allowed_counts: counts_text(&r.allowed_counts),
        price: r
            .price_milli
            .map(|p| Milli(p).to_string())
            .unwrap_or_default(),
    })
}

fn hardware_spec_form(r: &HardwareSpecRecord) -> Submitted {
    Submitted::HardwareSpec(HardwareSpecRequest {
        name: r.name.clone(),
        cpu_cores: Milli(r.cpu_milli).to_string(),
        ram_gb: format::gb_field(r.ram_mib),
        gpu_type: r.gpu_type.map(|g| g.to_string()).unwrap_or_default(),
        price: Milli(r.price_milli).to_string(),
    })
}

fn image_form(r: &ImageRecord) -> Submitted {
    Submitted::Image(ImageRequest {
        name: r.name.clone(),
        versions: r.versions.join("\n"),
        ssh_login: r.ssh_login.code().to_owned(),
        services: services_text(&r.services),
        local_commands: local_commands_text(&r.services),
    })
}

fn storage_type_form(r: &StorageTypeRecord) -> Submitted {
    Submitted::StorageType(StorageTypeRequest {
        name: r.name.clone(),
        storage_class: r.storage_class.clone(),
        min_gib: r.min_gib.to_string(),
        max_gib: r.max_gib.to_string(),
    })
}

fn purpose_form(r: &PurposeRecord) -> Submitted {
    Submitted::Purpose(PurposeRequest {
        name: r.name.clone(),
        description: r.description.clone(),
        allowed_gpu_types: r.allowed_gpu_types.iter().map(|g| g.to_string()).collect(),
        allowed_specs: r.allowed_specs.iter().map(|s| s.to_string()).collect(),
    })
}

/// A stored item: its name, whether retired, and its form.
struct Stored {
    name: String,
    retired: bool,
    form: Submitted,
}

fn stored<T: CatalogRecord>(record: T, form: fn(&T) -> Submitted) -> Stored {
    Stored {
        name: record.name().to_owned(),
        retired: record.retired(),
        form: form(&record),
    }
}

async fn load(services: &Services, kind: CatalogKind, id: &str) -> Result<Stored, WebError> {
    Ok(match kind {
        CatalogKind::GpuType => stored(services.gpu_type(id_of(id)?).await?, gpu_type_form),
        CatalogKind::HardwareSpec => stored(
            services.hardware_spec(id_of(id)?).await?,
            hardware_spec_form,
        ),
        CatalogKind::Image => stored(services.image(id_of(id)?).await?, image_form),
        CatalogKind::StorageType => {
            stored(services.storage_type(id_of(id)?).await?, storage_type_form)
        }
        CatalogKind::Purpose => stored(services.purpose(id_of(id)?).await?, purpose_form),
    })
}

// --- Tables ------------------------------------------------------------------

fn price(tr: Tr, milli: Option<u64>) -> String {
    match milli {
        Some(p) => tr.f("catalog.unit.per_hour", &[("price", &Milli(p).to_string())]),
        None => tr.t("catalog.unit.none").to_owned(),
    }
}

fn names_or_all<Id: PartialEq>(tr: Tr, chosen: &[Id], all: &[(Id, String)]) -> String {
    if chosen.is_empty() {
        return tr.t("catalog.purpose.all").to_owned();
    }
    all.iter()
        .filter(|(id, _)| chosen.contains(id))
        .map(|(_, name)| name.as_str())
        .collect::<Vec<_>>()
        .join(tr.t("catalog.list_separator"))
}

fn choices<Id: ToString>(all: &[(Id, String, bool)]) -> Vec<ChoiceView> {
    all.iter()
        .map(|(id, name, retired)| ChoiceView {
            id: id.to_string(),
            name: name.clone(),
            retired: *retired,
        })
        .collect()
}

fn row(id: impl ToString, name: &str, retired: bool, cells: Vec<String>) -> ItemRowView {
    ItemRowView {
        id: id.to_string(),
        name: name.to_owned(),
        cells,
        retired,
        seeded: false,
    }
}

async fn rows(
    services: &Services,
    tr: Tr<'_>,
    kind: CatalogKind,
) -> Result<Vec<ItemRowView>, WebError> {
    Ok(match kind {
        CatalogKind::GpuType => services
            .list_gpu_types(true)
            .await?
            .iter()
            .map(|g| {
                let counts = counts_text(&g.allowed_counts).replace(',', ", ");
                let counts_key = if g.sharing.is_shared() {
                    "catalog.unit.counts_gb"
                } else {
                    "catalog.unit.counts_devices"
                };
                ItemRowView {
                    seeded: g.seeded,
                    ..row(
                        g.id,
                        &g.name,
                        g.retired,
                        vec![
                            g.resource_name.clone(),
                            tr.t(sharing_label(g.sharing)).to_owned(),
                            tr.f("catalog.unit.gb", &[("amount", &g.memory_gb.to_string())]),
                            tr.f(counts_key, &[("counts", &counts)]),
                            price(tr, g.price_milli),
                        ],
                    )
                }
            })
            .collect(),
        CatalogKind::HardwareSpec => {
            let gpu_types = services.list_gpu_types(true).await?;
            services
                .list_hardware_specs(true)
                .await?
                .iter()
                .map(|s| {
                    let gpu = match s.gpu_type {
                        None => tr.t("catalog.hardware_spec.cpu_only").to_owned(),
                        Some(id) => gpu_types
                            .iter()
                            .find(|g| g.id == id)
                            .map(|g| g.name.clone())
                            .unwrap_or_default(),
                    };
                    ItemRowView {
                        seeded: s.seeded,
                        ..row(
                            s.id,
                            &s.name,
                            s.retired,
                            vec![
                                Milli(s.cpu_milli).to_string(),
                                format::ram_gb(s.ram_mib),
                                gpu,
                                price(tr, Some(s.price_milli)),
                            ],
                        )
                    }
                })
                .collect()
        }
        CatalogKind::Image => services
            .list_images(true)
            .await?
            .iter()
            .map(|i| {
                let services = i
                    .services
                    .iter()
                    .map(|s| format!("{}:{}", tr.t(service_label(s.kind)), s.port))
                    .collect::<Vec<_>>()
                    .join(tr.t("catalog.list_separator"));
                ItemRowView {
                    seeded: i.seeded,
                    ..row(
                        i.id,
                        &i.name,
                        i.retired,
                        vec![
                            i.versions.join(tr.t("catalog.list_separator")),
                            services,
                            tr.t(ssh_login_label(i.ssh_login)).to_owned(),
                        ],
                    )
                }
            })
            .collect(),
        CatalogKind::StorageType => services
            .list_storage_types(true)
            .await?
            .iter()
            .map(|s| {
                row(
                    s.id,
                    &s.name,
                    s.retired,
                    vec![
                        s.storage_class.clone(),
                        tr.f(
                            "catalog.unit.gib_range",
                            &[
                                ("min", &s.min_gib.to_string()),
                                ("max", &s.max_gib.to_string()),
                            ],
                        ),
                    ],
                )
            })
            .collect(),
        CatalogKind::Purpose => {
            let gpu_types: Vec<_> = services
                .list_gpu_types(true)
                .await?
                .into_iter()
                .map(|g| (g.id, g.name))
                .collect();
            let specs: Vec<_> = services
                .list_hardware_specs(true)
                .await?
                .into_iter()
                .map(|s| (s.id, s.name))
                .collect();
            services
                .list_purposes(true)
                .await?
                .iter()
                .map(|p| {
                    row(
                        p.id,
                        &p.name,
                        p.retired,
                        vec![
                            p.description.clone(),
                            names_or_all(tr, &p.allowed_gpu_types, &gpu_types),
                            names_or_all(tr, &p.allowed_specs, &specs),
                        ],
                    )
                })
                .collect()
        }
    })
}

/// The form to show, with the items it offers.
async fn form_view(services: &Services, submitted: Submitted) -> Result<ItemForm, WebError> {
    let gpu_types = || async {
        let all: Vec<_> = services
            .list_gpu_types(true)
            .await?
            .into_iter()
            .map(|g| (g.id, g.name, g.retired))
            .collect();
        Ok::<_, ServiceError>(choices(&all))
    };
    Ok(match submitted {
        Submitted::GpuType(form) => ItemForm::GpuType(form),
        Submitted::HardwareSpec(form) => ItemForm::HardwareSpec {
            form,
            gpu_types: gpu_types().await?,
        },
        Submitted::Image(form) => ItemForm::Image(form),
        Submitted::StorageType(form) => ItemForm::StorageType(form),
        Submitted::Purpose(form) => {
            let specs: Vec<_> = services
                .list_hardware_specs(true)
                .await?
                .into_iter()
                .map(|s| (s.id, s.name, s.retired))
                .collect();
            ItemForm::Purpose {
                form,
                gpu_types: gpu_types().await?,
                specs: choices(&specs),
            }
        }
    })
}

async fn render_list(
    admin: &RequireAdmin,
    status: StatusCode,
    notice: CatalogNotice,
    submitted: Submitted,
    errors: FieldErrors,
) -> Result<HttpResponse, WebError> {
    let services = &admin.page.state.services;
    let form = form_view(services, submitted).await?;
    let rows = rows(services, admin.page.tr(), form.kind()).await?;
    let view = ListView {
        rows,
        notice,
        form,
        errors,
    };
    Ok(html(status, view::list(&admin.page.shell(), &view)))
}

/// A kind's page with a blank create form.
async fn render_blank(
    admin: &RequireAdmin,
    kind: CatalogKind,
    status: StatusCode,
    notice: CatalogNotice,
) -> Result<HttpResponse, WebError> {
    render_list(
        admin,
        status,
        notice,
        Submitted::blank(kind),
        FieldErrors::new(),
    )
    .await
}

async fn render_edit(
    admin: &RequireAdmin,
    status: StatusCode,
    id: String,
    stored: Stored,
    refused: Option<Submitted>,
    errors: FieldErrors,
) -> Result<HttpResponse, WebError> {
    let shown = refused.unwrap_or(stored.form);
    let form = form_view(&admin.page.state.services, shown).await?;
    let view = EditView {
        id,
        name: stored.name,
        retired: stored.retired,
        form,
        errors,
    };
    Ok(html(status, view::edit(&admin.page.shell(), &view)))
}

// --- Handlers ----------------------------------------------------------------

/// How many of a kind's items are offered and how many retired.
fn count<T: CatalogRecord>(items: &[T]) -> KindCountView {
    let retired = items.iter().filter(|r| r.retired()).count();
    KindCountView {
        kind: T::KIND,
        offered: items.len() - retired,
        retired,
    }
}

async fn get_overview(admin: RequireAdmin) -> Result<HttpResponse, WebError> {
    let services = &admin.page.state.services;
    let counts = [
        count(&services.list_gpu_types(true).await?),
        count(&services.list_hardware_specs(true).await?),
        count(&services.list_images(true).await?),
        count(&services.list_storage_types(true).await?),
        count(&services.list_purposes(true).await?),
    ];
    Ok(ok(view::overview(&admin.page.shell(), &counts)))
}

async fn get_list(admin: RequireAdmin, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let kind = kind_of(&path)?;
    render_blank(&admin, kind, StatusCode::OK, CatalogNotice::None).await
}

async fn get_edit(
    admin: RequireAdmin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (kind, id) = path.into_inner();
    let kind = kind_of(&kind)?;
    let stored = load(&admin.page.state.services, kind, &id).await?;
    render_edit(&admin, StatusCode::OK, id, stored, None, FieldErrors::new()).await
}

async fn post_create(
    admin: RequireAdmin,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, WebError> {
    let kind = kind_of(&path)?;
    post_save(admin, kind, None, form.into_inner()).await
}

async fn post_update(
    admin: RequireAdmin,
    path: web::Path<(String, String)>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, WebError> {
    let (kind, id) = path.into_inner();
    let kind = kind_of(&kind)?;
    post_save(admin, kind, Some(id), form.into_inner()).await
}

/// Creates the submitted item (`id` is `None`) or replaces item `id`;
/// returns the saved name.
async fn save(
    services: &Services,
    id: Option<&str>,
    submitted: &Submitted,
) -> Result<String, ServiceError> {
    // An id that does not parse names no item.
    fn id_of<T: FromStr>(id: &str) -> Result<T, ServiceError> {
        id.parse().map_err(|_| ServiceError::NotFound)
    }
    Ok(match (submitted, id) {
        (Submitted::GpuType(r), None) => services.create_gpu_type(r).await?.name,
        (Submitted::GpuType(r), Some(id)) => services.update_gpu_type(id_of(id)?, r).await?.name,
        (Submitted::HardwareSpec(r), None) => services.create_hardware_spec(r).await?.name,
        (Submitted::HardwareSpec(r), Some(id)) => {
            services.update_hardware_spec(id_of(id)?, r).await?.name
        }
        (Submitted::Image(r), None) => services.create_image(r).await?.name,
        (Submitted::Image(r), Some(id)) => services.update_image(id_of(id)?, r).await?.name,
        (Submitted::StorageType(r), None) => services.create_storage_type(r).await?.name,
        (Submitted::StorageType(r), Some(id)) => {
            services.update_storage_type(id_of(id)?, r).await?.name
        }
        (Submitted::Purpose(r), None) => services.create_purpose(r).await?.name,
        (Submitted::Purpose(r), Some(id)) => services.update_purpose(id_of(id)?, r).await?.name,
    })
}

/// The create and edit forms: saved, the kind's page says so; refused, the
/// form is shown again with what was typed.
async fn post_save(
    admin: RequireAdmin,
    kind: CatalogKind,
    id: Option<String>,
    pairs: Vec<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let submitted = Submitted::parse(kind, pairs)?;
    let services = &admin.page.state.services;
    match save(services, id.as_deref(), &submitted).await {
        Ok(name) => {
            let key = if id.is_some() {
                "catalog.notice.saved"
            } else {
                "catalog.notice.created"
            };
            let text = admin.page.tr().f(key, &[("name", &name)]);
            render_blank(&admin, kind, StatusCode::OK, CatalogNotice::Done(text)).await
        }
        Err(ServiceError::Invalid(errors)) => match id {
            None => {
                render_list(
                    &admin,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    CatalogNotice::None,
                    submitted,
                    errors,
                )
                .await
            }
            Some(id) => {
                let stored = load(services, kind, &id).await?;
                render_edit(
                    &admin,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    id,
                    stored,
                    Some(submitted),
                    errors,
                )
                .await
            }
        },
        Err(e) => Err(e.into()),
    }
}

async fn set_retired(
    services: &Services,
    kind: CatalogKind,
    id: &str,
    retired: bool,
) -> Result<String, WebError> {
    Ok(match kind {
        CatalogKind::GpuType => {
            services
                .set_gpu_type_retired(id_of(id)?, retired)
                .await?
                .name
        }
        CatalogKind::HardwareSpec => {
            services
                .set_hardware_spec_retired(id_of(id)?, retired)
                .await?
                .name
        }
        CatalogKind::Image => services.set_image_retired(id_of(id)?, retired).await?.name,
        CatalogKind::StorageType => {
            services
                .set_storage_type_retired(id_of(id)?, retired)
                .await?
                .name
        }
        CatalogKind::Purpose => {
            services
                .set_purpose_retired(id_of(id)?, retired)
                .await?
                .name
        }
    })
}

async fn delete(
    services: &Services,
    kind: CatalogKind,
    id: &str,
) -> Result<DeleteOutcome, WebError> {
    Ok(match kind {
        CatalogKind::GpuType => services.delete_gpu_type(id_of(id)?).await?,
        CatalogKind::HardwareSpec => services.delete_hardware_spec(id_of(id)?).await?,
        CatalogKind::Image => services.delete_image(id_of(id)?).await?,
        CatalogKind::StorageType => services.delete_storage_type(id_of(id)?).await?,
        CatalogKind::Purpose => services.delete_purpose(id_of(id)?).await?,
    })
}

/// Why an item cannot be deleted, naming what uses it.
fn in_use_text(tr: Tr, name: &str, uses: &Uses) -> String {
    let separator = tr.t("catalog.list_separator");
    let mut parts = Vec::new();
    if !uses.specs.is_empty() {
        parts.push(tr.f(
            "catalog.uses.specs",
            &[("names", &uses.specs.join(separator))],
        ));
    }
    if !uses.purposes.is_empty() {
        parts.push(tr.f(
            "catalog.uses.purposes",
            &[("names", &uses.purposes.join(separator))],
        ));
    }
    if uses.projects {
        parts.push(tr.t("catalog.uses.projects").to_owned());
    }
    if !uses.storages.is_empty() {
        parts.push(tr.f(
            "catalog.uses.storages",
            &[("names", &uses.storages.join(separator))],
        ));
    }
    tr.f(
        "catalog.notice.in_use",
        &[
            ("name", name),
            ("uses", &parts.join(tr.t("catalog.uses.separator"))),
        ],
    )
}

async fn post_action(
    admin: RequireAdmin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (kind, id, action) = path.into_inner();
    let kind = kind_of(&kind)?;
    let services = &admin.page.state.services;
    let tr = admin.page.tr();
    let (status, notice) = match action.as_str() {
        "retire" | "unretire" => {
            let retired = action == "retire";
            let name = set_retired(services, kind, &id, retired).await?;
            let key = if retired {
                "catalog.notice.retired"
            } else {
                "catalog.notice.unretired"
            };
            (
                StatusCode::OK,
                CatalogNotice::Done(tr.f(key, &[("name", &name)])),
            )
        }
        "delete" => match delete(services, kind, &id).await? {
            DeleteOutcome::Deleted { name } => (
                StatusCode::OK,
                CatalogNotice::Done(tr.f("catalog.notice.deleted", &[("name", &name)])),
            ),
            DeleteOutcome::InUse { name, uses } => (
                StatusCode::CONFLICT,
                CatalogNotice::Refused(in_use_text(tr, &name, &uses)),
            ),
        },
        _ => return Err(WebError::NotFound),
    };
    render_blank(&admin, kind, status, notice).await
}
