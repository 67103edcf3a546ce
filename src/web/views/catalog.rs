//! Admin: the catalog (GPU types, hardware specs, images, storage types and
//! project purposes): an overview, one page per kind with its table and
//! create form, and an edit page per item.

use maud::{Markup, html};

use super::components::{
    BadgeColor, Confirm, Field, Tone, badge, confirm_dialog, csrf_field, described_by,
    hint_and_error, input, notice, select,
};
use super::layout::{Crumb, Shell, page};
use crate::domain::catalog::{
    CatalogKind, GpuTypeRequest, HardwareSpecRequest, ImageRequest, PurposeRequest, ServiceKind,
    Sharing, SshLogin, StorageTypeRequest,
};
use crate::domain::validation::FieldErrors;
use crate::i18n::Tr;
use crate::web::paths;

/// What a page says above its content.
pub enum CatalogNotice {
    None,
    Done(String),
    Refused(String),
}

/// One row of a kind's table. `cells` follow the kind's columns.
pub struct ItemRowView {
    pub id: String,
    pub name: String,
    pub cells: Vec<String>,
    pub retired: bool,
    /// Put there by the first start (the default catalog).
    pub seeded: bool,
}

/// An item offered in a select or a checkbox list.
pub struct ChoiceView {
    pub id: String,
    pub name: String,
    pub retired: bool,
}

/// A kind's form with what it is filled with (stored values or the refused
/// input) and the items it offers.
pub enum ItemForm {
    GpuType(GpuTypeRequest),
    HardwareSpec {
        form: HardwareSpecRequest,
        gpu_types: Vec<ChoiceView>,
    },
    Image(ImageRequest),
    StorageType(StorageTypeRequest),
    Purpose {
        form: PurposeRequest,
        gpu_types: Vec<ChoiceView>,
        specs: Vec<ChoiceView>,
    },
}

impl ItemForm {
    pub fn kind(&self) -> CatalogKind {
        match self {
            ItemForm::GpuType(_) => CatalogKind::GpuType,
            ItemForm::HardwareSpec { .. } => CatalogKind::HardwareSpec,
            ItemForm::Image(_) => CatalogKind::Image,
            ItemForm::StorageType(_) => CatalogKind::StorageType,
            ItemForm::Purpose { .. } => CatalogKind::Purpose,
        }
    }
}

/// How many items of a kind there are, for the overview.
pub struct KindCountView {
    pub kind: CatalogKind,
    pub offered: usize,
    pub retired: usize,
}

/// A kind's page: its table and the create form.
pub struct ListView {
    pub rows: Vec<ItemRowView>,
    pub notice: CatalogNotice,
    pub form: ItemForm,
    pub errors: FieldErrors,
}

/// An item's edit page.
pub struct EditView {
    pub id: String,
    /// The stored name (the form may hold a refused new one).
    pub name: String,
    pub retired: bool,
    pub form: ItemForm,
    pub errors: FieldErrors,
}

/// The translation keys of a kind's texts.
struct KindText {
    title: &'static str,
    intro: &'static str,
    add: &'static str,
    empty: &'static str,
    columns: &'static [&'static str],
}

fn kind_text(kind: CatalogKind) -> KindText {
    match kind {
        CatalogKind::GpuType => KindText {
            title: "catalog.gpu_type.title",
            intro: "catalog.gpu_type.intro",
            add: "catalog.gpu_type.add",
            empty: "catalog.gpu_type.empty",
            columns: &[
                "catalog.gpu_type.resource_name",
                "catalog.gpu_type.sharing",
                "catalog.gpu_type.memory_gb",
                "catalog.gpu_type.allowed_counts",
                "catalog.column.price",
            ],
        },
        CatalogKind::HardwareSpec => KindText {
            title: "catalog.hardware_spec.title",
            intro: "catalog.hardware_spec.intro",
            add: "catalog.hardware_spec.add",
            empty: "catalog.hardware_spec.empty",
            columns: &[
                "catalog.hardware_spec.cpu_cores",
                "project.ram",
                "catalog.hardware_spec.gpu_type",
                "catalog.column.price",
            ],
        },
        CatalogKind::Image => KindText {
            title: "catalog.image.title",
            intro: "catalog.image.intro",
            add: "catalog.image.add",
            empty: "catalog.image.empty",
            columns: &[
                "catalog.image.versions",
                "catalog.image.services",
                "catalog.image.ssh_login",
            ],
        },
        CatalogKind::StorageType => KindText {
            title: "catalog.storage_type.title",
            intro: "catalog.storage_type.intro",
            add: "catalog.storage_type.add",
            empty: "catalog.storage_type.empty",
            columns: &[
                "catalog.storage_type.storage_class",
                "catalog.storage_type.size",
            ],
        },
        CatalogKind::Purpose => KindText {
            title: "catalog.purpose.title",
            intro: "catalog.purpose.intro",
            add: "catalog.purpose.add",
            empty: "catalog.purpose.empty",
            columns: &[
                "catalog.purpose.description",
                "catalog.purpose.allowed_gpu_types",
                "catalog.purpose.allowed_specs",
            ],
        },
    }
}

/// Translation key of a sharing mechanism's name.
pub fn sharing_label(sharing: Sharing) -> &'static str {
    match sharing {
        Sharing::Whole => "catalog.sharing.whole",
        Sharing::TimeSliced => "catalog.sharing.time_sliced",
        Sharing::Mig => "catalog.sharing.mig",
        Sharing::MemorySliced => "catalog.sharing.memory_sliced",
    }
}

/// Translation key of what isolation a sharing mechanism gives.
fn sharing_isolation(sharing: Sharing) -> &'static str {
    match sharing {
        Sharing::Whole => "catalog.sharing.whole_text",
        Sharing::TimeSliced => "catalog.sharing.time_sliced_text",
        Sharing::Mig => "catalog.sharing.mig_text",
        Sharing::MemorySliced => "catalog.sharing.memory_sliced_text",
    }
}

/// Translation key of a service kind's name.
pub fn service_label(kind: ServiceKind) -> &'static str {
    match kind {
        ServiceKind::Ssh => "catalog.service.ssh",
        ServiceKind::JupyterLab => "catalog.service.jupyterlab",
        ServiceKind::Jupyter => "catalog.service.jupyter",
        ServiceKind::TensorBoard => "catalog.service.tensorboard",
        ServiceKind::WebTerminal => "catalog.service.webterminal",
        ServiceKind::CodeServer => "catalog.service.code_server",
        ServiceKind::Custom => "catalog.service.custom",
    }
}

/// Translation key of an SSH login method's name.
pub fn ssh_login_label(login: SshLogin) -> &'static str {
    match login {
        SshLogin::Password => "catalog.ssh_login.password",
        SshLogin::KeyPair => "catalog.ssh_login.key_pair",
    }
}

fn crumbs<'a>(shell: &Shell<'a>, rest: Vec<Crumb<'a>>) -> Vec<Crumb<'a>> {
    let tr = shell.tr;
    let mut all = vec![
        Crumb {
            label: tr.t("nav.section.admin"),
            href: Some(paths::ADMIN_USERS),
        },
        Crumb {
            label: tr.t("nav.admin_catalog"),
            href: Some(paths::ADMIN_CATALOG),
        },
    ];
    all.extend(rest);
    all
}

/// The tabs: the overview and one per kind.
fn tabs(tr: Tr, current: Option<CatalogKind>) -> Markup {
    let here = |on: bool| on.then_some("page");
    html! {
        nav class="actions" aria-label=(tr.t("catalog.tabs")) {
            a.btn.primary[current.is_none()] href=(paths::ADMIN_CATALOG) aria-current=[here(current.is_none())] {
                (tr.t("catalog.overview.tab"))
            }
            @for kind in CatalogKind::ALL {
                a.btn.primary[current == Some(kind)] href=(paths::admin_catalog_kind(kind))
                    aria-current=[here(current == Some(kind))] { (tr.t(kind_text(kind).title)) }
            }
        }
    }
}

fn notice_of(n: &CatalogNotice) -> Markup {
    match n {
        CatalogNotice::None => html! {},
        CatalogNotice::Done(text) => notice(Tone::Success, html! { (text) }),
        CatalogNotice::Refused(text) => notice(Tone::Error, html! { (text) }),
    }
}

/// Administration › Catalog: what each kind is and how many there are.
pub fn overview(shell: &Shell, counts: &[KindCountView]) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.admin_catalog");
    page(
        shell,
        title,
        &[
            Crumb {
                label: tr.t("nav.section.admin"),
                href: Some(paths::ADMIN_USERS),
            },
            Crumb {
                label: title,
                href: None,
            },
        ],
        html! {
            (tabs(tr, None))
            p class="lead" { (tr.t("catalog.overview.intro")) }
            div class="cards" {
                @for c in counts {
                    @let text = kind_text(c.kind);
                    a class="card" href=(paths::admin_catalog_kind(c.kind)) {
                        h2 { (tr.t(text.title)) }
                        p { (tr.t(text.intro)) }
                        p { (tr.f("catalog.overview.count", &[
                            ("offered", &c.offered.to_string()),
                            ("retired", &c.retired.to_string()),
                        ])) }
                    }
                }
            }
        },
    )
}

/// A kind's page: its items and the form that adds one.
pub fn list(shell: &Shell, view: &ListView) -> Markup {
    let tr = shell.tr;
    let kind = view.form.kind();
    let text = kind_text(kind);
    let title = tr.t(text.title);
    page(
        shell,
        title,
        &crumbs(
            shell,
            vec![Crumb {
                label: title,
                href: None,
            }],
        ),
        html! {
            (tabs(tr, Some(kind)))
            (notice_of(&view.notice))
            p class="lead" { (tr.t(text.intro)) }
            section class="panel" {
                @if view.rows.is_empty() {
                    p class="muted" { (tr.t(text.empty)) }
                } @else {
                    table class="table" {
                        caption class="sr-only" { (title) }
                        thead { tr {
                            th scope="col" { (tr.t("catalog.column.name")) }
                            @for column in text.columns { th scope="col" { (tr.t(column)) } }
                            th scope="col" { (tr.t("catalog.column.status")) }
                            th scope="col" { span class="sr-only" { (tr.t("catalog.column.actions")) } }
                        } }
                        tbody {
                            @for row in &view.rows { (item_row(shell, kind, row)) }
                        }
                    }
                }
            }
            section class="panel" aria-labelledby="catalog-add" {
                h2 id="catalog-add" { (tr.t(text.add)) }
                @if !view.errors.is_empty() { (notice(Tone::Error, html! { (tr.t("form.fix_errors")) })) }
                form method="post" action=(paths::admin_catalog_kind(kind)) class="form" novalidate {
                    (csrf_field(shell))
                    (fields(tr, &view.form, &view.errors))
                    div class="actions" {
                        button type="submit" class="btn primary" { (tr.t("catalog.create_submit")) }
                    }
                }
            }
        },
    )
}

fn item_row(shell: &Shell, kind: CatalogKind, row: &ItemRowView) -> Markup {
    let tr = shell.tr;
    let edit = paths::admin_catalog_item(kind, &row.id);
    let dialog = |action: &str, open: &'static str, text: &'static str, danger: bool| {
        let url = paths::admin_catalog_action(kind, &row.id, action);
        let text = tr.f(text, &[("name", &row.name)]);
        confirm_dialog(
            shell,
            Confirm {
                id: format!("d-{action}-{}", row.id),
                open_label: tr.t(open),
                title: tr.t(open),
                text: &text,
                action: &url,
                confirm_label: tr.t(open),
                danger,
                reopen: false,
            },
        )
    };
    html! {
        tr class=[row.retired.then_some("muted")] {
            td { a href=(edit) { (row.name) } }
            @for cell in &row.cells { td { (cell) } }
            td {
                @if row.retired {
                    (badge(BadgeColor::Grey, tr.t("catalog.retired")))
                } @else {
                    (badge(BadgeColor::Green, tr.t("catalog.offered")))
                }
                @if row.seeded {
                    " "
                    span title=(tr.t("catalog.seeded_title")) {
                        (badge(BadgeColor::Blue, tr.t("catalog.seeded")))
                    }
                }
            }
            td class="row-actions" {
                a class="btn small" href=(edit) { (tr.t("catalog.edit")) }
                @if row.retired {
                    (dialog("unretire", "catalog.unretire", "catalog.unretire_confirm", false))
                } @else {
                    (dialog("retire", "catalog.retire", "catalog.retire_confirm", false))
                }
                (dialog("delete", "catalog.delete", "catalog.delete_confirm", true))
            }
        }
    }
}

/// An item's edit page.
pub fn edit(shell: &Shell, view: &EditView) -> Markup {
    let tr = shell.tr;
    let kind = view.form.kind();
    let text = kind_text(kind);
    let kind_title = tr.t(text.title);
    let list_path = paths::admin_catalog_kind(kind);
    let title = tr.f("catalog.edit_title", &[("name", &view.name)]);
    page(
        shell,
        &title,
        &crumbs(
            shell,
            vec![
                Crumb {
                    label: kind_title,
                    href: Some(&list_path),
                },
                Crumb {
                    label: &view.name,
                    href: None,
                },
            ],
        ),
        html! {
            (tabs(tr, Some(kind)))
            @if view.retired {
                (notice(Tone::Info, html! {
                    (badge(BadgeColor::Grey, tr.t("catalog.retired"))) " " (tr.t("catalog.retired_text"))
                }))
            }
            @if !view.errors.is_empty() { (notice(Tone::Error, html! { (tr.t("form.fix_errors")) })) }
            section class="panel" {
                form method="post" action=(paths::admin_catalog_item(kind, &view.id)) class="form" novalidate {
                    (csrf_field(shell))
                    (fields(tr, &view.form, &view.errors))
                    div class="actions" {
                        button type="submit" class="btn primary" { (tr.t("catalog.save_submit")) }
                        a class="btn" href=(list_path) { (tr.t("common.cancel")) }
                    }
                }
            }
        },
    )
}

fn fields(tr: Tr, form: &ItemForm, errors: &FieldErrors) -> Markup {
    match form {
        ItemForm::GpuType(f) => gpu_type_fields(tr, f, errors),
        ItemForm::HardwareSpec { form, gpu_types } => {
            hardware_spec_fields(tr, form, gpu_types, errors)
        }
        ItemForm::Image(f) => image_fields(tr, f, errors),
        ItemForm::StorageType(f) => storage_type_fields(tr, f, errors),
        ItemForm::Purpose {
            form,
            gpu_types,
            specs,
        } => purpose_fields(tr, form, gpu_types, specs, errors),
    }
}

fn gpu_type_fields(tr: Tr, f: &GpuTypeRequest, errors: &FieldErrors) -> Markup {
    let sharing: Vec<(&str, &str)> = Sharing::ALL
        .iter()
        .map(|s| (s.code(), sharing_label(*s)))
        .collect();
    html! {
        (input(tr, Field::text("name", "catalog.gpu_type.name", &f.name).required().hint("catalog.gpu_type.name_hint"), errors))
        (input(tr, Field::text("resource_name", "catalog.gpu_type.resource_name", &f.resource_name).required().hint("catalog.gpu_type.resource_name_hint"), errors))
        (select(tr, "sharing", "catalog.gpu_type.sharing", &sharing, &f.sharing, errors))
        div class="hint" {
            p { (tr.t("catalog.sharing.help")) }
            ul {
                @for s in Sharing::ALL {
                    li { strong { (tr.t(sharing_label(s))) } ": " (tr.t(sharing_isolation(s))) }
                }
            }
        }
        div class="row" {
            (input(tr, Field::text("memory_gb", "catalog.gpu_type.memory_gb", &f.memory_gb).required().hint("catalog.gpu_type.memory_gb_hint"), errors))
            (input(tr, Field::text("allowed_counts", "catalog.gpu_type.allowed_counts", &f.allowed_counts).required().hint("catalog.gpu_type.allowed_counts_hint"), errors))
        }
        (textarea(tr, TextArea { name: "node_selector", label: "catalog.gpu_type.node_selector", value: &f.node_selector, hint: Some("catalog.gpu_type.node_selector_hint"), required: false }, errors))
        (input(tr, Field::text("price", "catalog.gpu_type.price", &f.price).hint("catalog.gpu_type.price_hint"), errors))
    }
}

fn hardware_spec_fields(
    tr: Tr,
    f: &HardwareSpecRequest,
    gpu_types: &[ChoiceView],
    errors: &FieldErrors,
) -> Markup {
    html! {
        (input(tr, Field::text("name", "catalog.hardware_spec.name", &f.name).required().hint("catalog.hardware_spec.name_hint"), errors))
        div class="row" {
            (input(tr, Field::text("cpu_cores", "catalog.hardware_spec.cpu_cores", &f.cpu_cores).required().hint("catalog.hardware_spec.cpu_cores_hint"), errors))
            (input(tr, Field::text("ram_gb", "catalog.hardware_spec.ram_gb", &f.ram_gb).required().hint("catalog.hardware_spec.ram_gb_hint"), errors))
        }
        (choice_select(tr, "gpu_type", "catalog.hardware_spec.gpu_type", gpu_types, &f.gpu_type, errors))
        (input(tr, Field::text("price", "catalog.hardware_spec.price", &f.price).required().hint("catalog.hardware_spec.price_hint"), errors))
    }
}

fn image_fields(tr: Tr, f: &ImageRequest, errors: &FieldErrors) -> Markup {
    let logins: Vec<(&str, &str)> = SshLogin::ALL
        .iter()
        .map(|l| (l.code(), ssh_login_label(*l)))
        .collect();
    html! {
        (input(tr, Field::text("name", "catalog.image.name", &f.name).required().hint("catalog.image.name_hint"), errors))
        (textarea(tr, TextArea { name: "versions", label: "catalog.image.versions", value: &f.versions, hint: Some("catalog.image.versions_hint"), required: true }, errors))
        (select(tr, "ssh_login", "catalog.image.ssh_login", &logins, &f.ssh_login, errors))
        (textarea(tr, TextArea { name: "services", label: "catalog.image.services", value: &f.services, hint: Some("catalog.image.services_hint"), required: false }, errors))
        (textarea(tr, TextArea { name: "local_commands", label: "catalog.image.local_commands", value: &f.local_commands, hint: Some("catalog.image.local_commands_hint"), required: false }, errors))
    }
}

fn storage_type_fields(tr: Tr, f: &StorageTypeRequest, errors: &FieldErrors) -> Markup {
    html! {
        (input(tr, Field::text("name", "catalog.storage_type.name", &f.name).required().hint("catalog.storage_type.name_hint"), errors))
        (input(tr, Field::text("storage_class", "catalog.storage_type.storage_class", &f.storage_class).required().hint("catalog.storage_type.storage_class_hint"), errors))
        div class="row" {
            (input(tr, Field::text("min_gib", "catalog.storage_type.min_gib", &f.min_gib).required().hint("catalog.storage_type.size_hint"), errors))
            (input(tr, Field::text("max_gib", "catalog.storage_type.max_gib", &f.max_gib).required(), errors))
        }
    }
}

fn purpose_fields(
    tr: Tr,
    f: &PurposeRequest,
    gpu_types: &[ChoiceView],
    specs: &[ChoiceView],
    errors: &FieldErrors,
) -> Markup {
    html! {
        (input(tr, Field::text("name", "catalog.purpose.name", &f.name).required().hint("catalog.purpose.name_hint"), errors))
        (textarea(tr, TextArea { name: "description", label: "catalog.purpose.description", value: &f.description, hint: None, required: false }, errors))
        (checkboxes(tr, Checkboxes { name: "allowed_gpu_types", legend: "catalog.purpose.allowed_gpu_types", choices: gpu_types, ticked: &f.allowed_gpu_types }, errors))
        (checkboxes(tr, Checkboxes { name: "allowed_specs", legend: "catalog.purpose.allowed_specs", choices: specs, ticked: &f.allowed_specs }, errors))
    }
}

/// A labelled multi-line field with its error beside it.
struct TextArea<'a> {
    name: &'static str,
    label: &'static str,
    value: &'a str,
    hint: Option<&'static str>,
    required: bool,
}

fn textarea(tr: Tr, t: TextArea, errors: &FieldErrors) -> Markup {
    let error = errors.get(t.name);
    let id = format!("f-{}", t.name);
    html! {
        div.field.has-error[error.is_some()] {
            label for=(id) { (tr.t(t.label)) @if t.required { span class="req" aria-hidden="true" { "*" } } }
            textarea id=(id) name=(t.name) rows="4" required[t.required]
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[described_by(t.name, error.is_some(), t.hint.is_some())] { (t.value) }
            (hint_and_error(tr, t.name, t.hint, error))
        }
    }
}

/// A select of catalog items with "none" first; a retired item is offered
/// only when it is the current choice.
fn choice_select(
    tr: Tr,
    name: &'static str,
    label: &'static str,
    choices: &[ChoiceView],
    selected: &str,
    errors: &FieldErrors,
) -> Markup {
    let error = errors.get(name);
    let id = format!("f-{name}");
    html! {
        div.field.has-error[error.is_some()] {
            label for=(id) { (tr.t(label)) }
            select id=(id) name=(name) aria-invalid=[error.map(|_| "true")]
                aria-describedby=[described_by(name, error.is_some(), false)] {
                option value="" selected[selected.is_empty()] { (tr.t("catalog.hardware_spec.cpu_only")) }
                @for c in choices.iter().filter(|c| !c.retired || c.id == selected) {
                    option value=(c.id) selected[c.id == selected] {
                        (c.name) @if c.retired { " (" (tr.t("catalog.retired")) ")" }
                    }
                }
            }
            (hint_and_error(tr, name, None, error))
        }
    }
}

/// A group of checkboxes; a retired item is listed only while ticked.
struct Checkboxes<'a> {
    name: &'static str,
    legend: &'static str,
    choices: &'a [ChoiceView],
    ticked: &'a [String],
}

fn checkboxes(tr: Tr, c: Checkboxes, errors: &FieldErrors) -> Markup {
    let error = errors.get(c.name);
    let is_ticked = |id: &str| c.ticked.iter().any(|t| t.trim() == id);
    let visible: Vec<&ChoiceView> = c
        .choices
        .iter()
        .filter(|choice| !choice.retired || is_ticked(&choice.id))
        .collect();
    html! {
        fieldset.field.has-error[error.is_some()] aria-describedby=[described_by(c.name, error.is_some(), true)] {
            legend { (tr.t(c.legend)) }
            @if visible.is_empty() {
                p class="muted" { (tr.t("catalog.purpose.nothing_to_choose")) }
            } @else {
                div class="choices" {
                    @for choice in visible {
                        label class="choice" {
                            input type="checkbox" name=(c.name) value=(choice.id) checked[is_ticked(&choice.id)];
                            span { (choice.name) }
                            @if choice.retired { (badge(BadgeColor::Grey, tr.t("catalog.retired"))) }
                        }
                    }
                }
            }
            (hint_and_error(tr, c.name, Some("catalog.purpose.none_ticked_hint"), error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Lang;
    use crate::web::views::layout::ShellUser;
    use crate::web::views::test_support::shell;

    fn admin() -> Option<ShellUser<'static>> {
        Some(ShellUser {
            username: "admin",
            is_admin: true,
            initial_password: false,
        })
    }

    fn row(id: &str, name: &str, retired: bool) -> ItemRowView {
        ItemRowView {
            id: id.into(),
            name: name.into(),
            cells: vec![
                "nvidia.com/gpu".into(),
                "Whole GPU".into(),
                "16 GB".into(),
                "1, 2".into(),
                String::new(),
            ],
            retired,
            seeded: false,
        }
    }

    #[test]
    fn a_kind_page_lists_items_with_their_actions() {
        let view = ListView {
            rows: vec![
                row("a", "V100", false),
                row("b", "K80", true),
                ItemRowView {
                    seeded: true,
                    ..row("c", "T4", false)
                },
            ],
            notice: CatalogNotice::Refused("K80 is in use".into()),
            form: ItemForm::GpuType(GpuTypeRequest {
                name: "<b>x</b>".into(),
                ..GpuTypeRequest::default()
            }),
            errors: FieldErrors::single("memory_gb", "catalog.error.memory_gb"),
        };
        let html = list(&shell(Lang::En, admin()), &view).into_string();
        assert!(html.contains("K80 is in use"));
        assert_eq!(
            html.matches("/retire\"").count(),
            2,
            "V100 and T4 can be retired"
        );
        assert_eq!(
            html.matches(">Seeded<").count(),
            1,
            "T4 came with the store"
        );
        assert_eq!(
            html.matches("/unretire\"").count(),
            1,
            "K80 can be offered again"
        );
        assert_eq!(html.matches("/delete\"").count(), 3);
        assert!(
            html.contains("<tr class=\"muted\">"),
            "a retired row is greyed"
        );
        assert!(html.contains(">Retired<"));
        assert!(html.contains("class=\"field-error\" id=\"memory_gb-error\""));
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"), "input is escaped");
        assert!(
            html.contains("aria-current=\"page\""),
            "the kind's tab is marked"
        );
        assert!(html.contains("no memory isolation"), "sharing is explained");
        assert!(!html.contains("<script>") && !html.contains("style="));
    }

    #[test]
    fn forms_offer_retired_items_only_where_already_chosen() {
        let choices = vec![
            ChoiceView {
                id: "g1".into(),
                name: "V100".into(),
                retired: false,
            },
            ChoiceView {
                id: "g2".into(),
                name: "K80".into(),
                retired: true,
            },
        ];
        let spec = |selected: &str| {
            let view = ListView {
                rows: Vec::new(),
                notice: CatalogNotice::None,
                form: ItemForm::HardwareSpec {
                    form: HardwareSpecRequest {
                        gpu_type: selected.into(),
                        ..HardwareSpecRequest::default()
                    },
                    gpu_types: choices
                        .iter()
                        .map(|c| ChoiceView {
                            id: c.id.clone(),
                            name: c.name.clone(),
                            retired: c.retired,
                        })
                        .collect(),
                },
                errors: FieldErrors::new(),
            };
            list(&shell(Lang::En, admin()), &view).into_string()
        };
        let fresh = spec("");
        assert!(fresh.contains("V100"));
        assert!(!fresh.contains("K80"));
        assert!(spec("g2").contains("K80 (Retired)"));

        let purpose = EditView {
            id: "p1".into(),
            name: "Teaching".into(),
            retired: true,
            form: ItemForm::Purpose {
                form: PurposeRequest {
                    name: "Teaching".into(),
                    allowed_gpu_types: vec!["g2".into()],
                    ..PurposeRequest::default()
                },
                gpu_types: choices,
                specs: Vec::new(),
            },
            errors: FieldErrors::new(),
        };
        let html = edit(&shell(Lang::ZhTw, admin()), &purpose).into_string();
        assert!(html.contains("value=\"g2\" checked"));
        assert!(html.contains("value=\"g1\""));
        assert!(html.contains("action=\"/admin/catalog/purposes/p1\""));
        assert!(html.contains("lang=\"zh-TW\""));
    }

    #[test]
    fn the_overview_links_every_kind() {
        let counts: Vec<KindCountView> = CatalogKind::ALL
            .iter()
            .map(|&kind| KindCountView {
                kind,
                offered: 2,
                retired: 1,
            })
            .collect();
        let html = overview(&shell(Lang::En, admin()), &counts).into_string();
        for kind in CatalogKind::ALL {
            assert!(html.contains(&format!("href=\"/admin/catalog/{}\"", kind.slug())));
        }
    }
}
