//! Storage Management (manual §5.7): the current project's storages with a
//! detail pane below the selected row, the "+" form that creates one, and
//! the detail's permission form and deletion.

use jiff::tz::TimeZone;
use maud::{Markup, html};

use super::components::{
    BadgeColor, Confirm, Field, Tone, badge, confirm_dialog_with, csrf_field, hint_and_error,
    input, notice,
};
use super::format;
use super::layout::{Shell, section_page};
use crate::domain::ids::{ProjectId, VolumeId};
use crate::domain::storage::{StoragePermission, StorageStatus};
use crate::domain::validation::FieldErrors;
use crate::i18n::Tr;
use crate::service::storage::{
    CloneStorageRequest, CreateStorageRequest, StorageItem, StorageOverview,
};
use crate::web::paths;

/// Where a storage's permission form posts.
pub fn permission_path(id: VolumeId) -> String {
    format!("/storage/{id}/permission")
}

/// Where a storage's clone form posts.
pub fn clone_path(id: VolumeId) -> String {
    format!("/storage/{id}/clone")
}

/// Where a storage's delete form posts.
pub fn delete_path(id: VolumeId) -> String {
    format!("/storage/{id}/delete")
}

/// The list of `project` with the storage `selected` in the detail pane.
pub fn list_path(project: ProjectId, selected: Option<VolumeId>) -> String {
    match selected {
        Some(id) => format!("{}?project={project}&selected={id}#detail", paths::STORAGE),
        None => format!("{}?project={project}", paths::STORAGE),
    }
}

fn permission_key(permission: StoragePermission) -> &'static str {
    match permission {
        StoragePermission::Personal => "storage.permission.personal",
        StoragePermission::ProjectReadWrite => "storage.permission.project_read_write",
        StoragePermission::ProjectReadOnly => "storage.permission.project_read_only",
    }
}

fn status_badge(tr: Tr, status: StorageStatus) -> Markup {
    let (color, key) = match status {
        StorageStatus::Creating => (BadgeColor::Amber, "storage.status.creating"),
        StorageStatus::Available => (BadgeColor::Green, "storage.status.available"),
        StorageStatus::InUse => (BadgeColor::Blue, "storage.status.in_use"),
        StorageStatus::Failed => (BadgeColor::Red, "storage.status.failed"),
        StorageStatus::Deleting => (BadgeColor::Grey, "storage.status.deleting"),
    };
    badge(color, tr.t(key))
}

/// The status as the list shows it: a clone's copy with how far it is, a
/// failure with its reason.
fn status_cell(tr: Tr, item: &StorageItem) -> Markup {
    let r = &item.record;
    html! {
        (status_badge(tr, item.status))
        @if item.status == StorageStatus::Creating && let Some(percent) = r.copy_percent {
            " " span class="muted storage-progress" { (tr.f("storage.copying", &[("percent", &percent.to_string())])) }
        }
        @if item.status == StorageStatus::Failed && let Some(error) = &r.error {
            " " span class="muted storage-reason" { (error.message) }
        }
    }
}

/// A message above the list after a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageNotice {
    Created,
    Cloned,
    Deleted,
    PermissionChanged,
    /// A key of the storage catalog, refused.
    Refused(&'static str),
    /// Refused because these containers or jobs mount the storage
    /// (`key` names what was refused).
    MountedBy {
        key: &'static str,
        names: Vec<String>,
    },
}

/// What the list page shows.
pub struct ListView<'a> {
    /// The project and its name (None: no project chosen).
    pub project: Option<(ProjectId, &'a str)>,
    pub overview: &'a StorageOverview,
    pub selected: Option<VolumeId>,
    pub zone: &'a TimeZone,
    pub notice: Option<StorageNotice>,
    /// The create form's input and what was refused (open when refused).
    pub form: &'a CreateStorageRequest,
    pub form_errors: &'a FieldErrors,
    /// The selected storage's clone form and what was refused (open when
    /// refused).
    pub clone_form: &'a CloneStorageRequest,
    pub clone_errors: &'a FieldErrors,
}

pub fn list(shell: &Shell, view: &ListView) -> Markup {
    let tr = shell.tr;
    section_page(
        shell,
        "nav.section.project",
        tr.t("nav.storage"),
        html! {
            @match &view.notice {
                Some(StorageNotice::Created) => (notice(Tone::Success, html! { (tr.t("storage.created")) })),
                Some(StorageNotice::Cloned) => (notice(Tone::Success, html! { (tr.t("storage.cloned")) })),
                Some(StorageNotice::Deleted) => (notice(Tone::Success, html! { (tr.t("storage.deleted")) })),
                Some(StorageNotice::PermissionChanged) => (notice(Tone::Success, html! { (tr.t("storage.permission_changed")) })),
                Some(StorageNotice::Refused(key)) => (notice(Tone::Error, html! { (tr.t(key)) })),
                Some(StorageNotice::MountedBy { key, names }) => (notice(Tone::Error, html! {
                    (tr.f(key, &[("containers", &names.join(", "))]))
                })),
                None => {}
            }
            @if let Some((id, name)) = view.project {
                (project_storage(shell, id, name, view))
            } @else {
                (notice(Tone::Info, html! { (tr.t("storage.choose_project")) }))
            }
        },
    )
}

fn project_storage(shell: &Shell, project: ProjectId, name: &str, view: &ListView) -> Markup {
    let tr = shell.tr;
    let items = &view.overview.items;
    let selected = view
        .selected
        .and_then(|id| items.iter().find(|i| i.record.id == id));
    html! {
        p class="lead" { (tr.f("storage.of_project", &[("project", name)])) }
        @let (quota, used) = (view.overview.quota_gib, view.overview.used_gib);
        p class="muted" id="storage-quota" {
            (tr.f("storage.quota_use", &[
                ("used", &used.to_string()),
                ("quota", &quota.to_string()),
                ("left", &quota.saturating_sub(used).to_string()),
            ]))
        }
        details class="storage-create" open[!view.form_errors.is_empty()] {
            summary class="btn primary" { "+ " (tr.t("storage.create")) }
            (create_form(shell, project, view))
        }
        p class="muted" { (tr.f("storage.count", &[("count", &items.len().to_string())])) }
        @if items.is_empty() {
            p { (tr.t("storage.none")) }
        } @else {
            div class="table-wrap" {
                table class="table storage-table" {
                    thead { tr {
                        th scope="col" { (tr.t("storage.name")) }
                        th scope="col" { (tr.t("storage.owner")) }
                        th scope="col" { (tr.t("storage.storage_type")) }
                        th scope="col" { (tr.t("storage.size")) }
                        th scope="col" { (tr.t("storage.permission_label")) }
                        th scope="col" { (tr.t("storage.status_column")) }
                    } }
                    tbody data-poll=(rows_path(project, view.selected)) {
                        (rows(tr, project, items, view.selected))
                    }
                }
            }
            script src=(crate::web::assets::url("containers.js")) defer {}
        }
        @if let Some(item) = selected {
            (detail(shell, item, view))
        }
    }
}

/// The address the list's rows are polled at (`containers.js`), so that
/// statuses change without a reload.
fn rows_path(project: ProjectId, selected: Option<VolumeId>) -> String {
    match selected {
        Some(id) => format!(
            "{}?project={project}&selected={id}&part=rows",
            paths::STORAGE
        ),
        None => format!("{}?project={project}&part=rows", paths::STORAGE),
    }
}

/// The list's rows: what the page shows and polls.
pub fn rows(
    tr: Tr,
    project: ProjectId,
    items: &[StorageItem],
    selected: Option<VolumeId>,
) -> Markup {
    html! {
        @for item in items {
            @let r = &item.record;
            @let current = Some(r.id) == selected;
            tr class=[current.then_some("selected")] {
                td { a href=(list_path(project, Some(r.id))) aria-current=[current.then_some("true")] { (r.spec.name) } }
                td { (item.owner_name) }
                td { (item.type_name) }
                td { (tr.f("storage.size_gb", &[("size", &r.spec.size_gib.to_string())])) }
                td { (tr.t(permission_key(r.permission))) }
                td { (status_cell(tr, item)) }
            }
        }
    }
}

fn create_form(shell: &Shell, project: ProjectId, view: &ListView) -> Markup {
    let tr = shell.tr;
    let values = view.form;
    let errors = view.form_errors;
    let types = &view.overview.types;
    let type_error = errors.get("storage_type");
    let permission_error = errors.get("permission");
    html! {
        @if types.is_empty() {
            (notice(Tone::Info, html! { (tr.t("storage.no_types")) }))
        } @else {
            @if !errors.is_empty() {
                (notice(Tone::Error, html! { (tr.t("storage.fix_errors")) }))
            }
            form method="post" action=(paths::STORAGE) class="form storage-form" {
                (csrf_field(shell))
                input type="hidden" name="project" value=(project.to_string());
                (input(tr, Field::text("name", "storage.name", &values.name).required().hint("storage.name_hint"), errors))
                div.field.has-error[type_error.is_some()] {
                    label for="f-storage_type" { (tr.t("storage.storage_type")) span class="req" aria-hidden="true" { "*" } }
                    select id="f-storage_type" name="storage_type" required
                        aria-invalid=[type_error.map(|_| "true")]
                        aria-describedby=[type_error.map(|_| "storage_type-error")] {
                        @for t in types {
                            @let id = t.id.to_string();
                            option value=(id) selected[values.storage_type == id] {
                                (tr.f("storage.type_option", &[
                                    ("name", &t.name),
                                    ("min", &t.min_gib.to_string()),
                                    ("max", &t.max_gib.to_string()),
                                ]))
                            }
                        }
                    }
                    (hint_and_error(tr, "storage_type", None, type_error))
                }
                (input(tr, Field::text("size", "storage.size_field", &values.size).kind("number").hint("storage.size_hint"), errors))
                fieldset.field.has-error[permission_error.is_some()] {
                    legend { (tr.t("storage.permission_label")) span class="req" aria-hidden="true" { "*" } }
                    @for p in StoragePermission::ALL {
                        label class="choice" {
                            input type="radio" name="permission" value=(p.code())
                                checked[values.permission == p.code()];
                            " " (tr.t(permission_key(p)))
                        }
                    }
                    (hint_and_error(tr, "permission", Some("storage.permission_hint"), permission_error))
                }
                div class="actions" {
                    button type="submit" class="btn primary" { (tr.t("storage.submit")) }
                }
            }
        }
    }
}

fn detail(shell: &Shell, item: &StorageItem, view: &ListView) -> Markup {
    let tr = shell.tr;
    let r = &item.record;
    let zone = view.zone;
    html! {
        section class="panel storage-detail" id="detail" aria-labelledby="detail-title" {
            h2 id="detail-title" { (tr.t("storage.detail")) }
            dl class="facts" {
                dt { (tr.t("storage.name")) } dd { (r.spec.name) }
                dt { (tr.t("storage.status_column")) } dd { (status_cell(tr, item)) }
                @if let Some(source) = &r.spec.clone_of {
                    dt { (tr.t("storage.clone_of")) } dd { (source) }
                }
                dt { (tr.t("storage.owner")) } dd { (item.owner_name) }
                dt { (tr.t("storage.storage_type")) } dd { (item.type_name) }
                dt { (tr.t("storage.size")) } dd { (tr.f("storage.size_gb", &[("size", &r.spec.size_gib.to_string())])) }
                dt { (tr.t("storage.permission_label")) } dd { (tr.t(permission_key(r.permission))) }
                dt { (tr.t("storage.created_on")) } dd { (format::date_time(r.created_at, zone)) }
                dt { (tr.t("storage.mounted_by")) }
                dd {
                    @if item.mounted_by.is_empty() { (tr.t("storage.mounted_by_none")) }
                    @else { (item.mounted_by.join(", ")) }
                }
            }
            @if item.read_only_for_viewer {
                p class="hint" { (tr.t("storage.read_only_for_you")) }
            }
            @if let Some(error) = &r.error {
                p class="hint" { (tr.f("storage.failed_detail", &[("reason", &error.message)])) }
            }
            @if item.may_clone && matches!(item.status, StorageStatus::Available | StorageStatus::InUse) {
                (clone_form(shell, item, view))
            }
            @if item.may_manage && item.status != StorageStatus::Deleting {
                form method="post" action=(permission_path(r.id)) class="form storage-permission" {
                    (csrf_field(shell))
                    fieldset class="field" {
                        legend { (tr.t("storage.edit_permission")) }
                        @for p in StoragePermission::ALL {
                            label class="choice" {
                                input type="radio" name="permission" value=(p.code())
                                    checked[r.permission == p];
                                " " (tr.t(permission_key(p)))
                            }
                        }
                    }
                    div class="actions" {
                        button type="submit" class="btn" { (tr.t("storage.save_permission")) }
                    }
                }
                (confirm_dialog_with(shell, Confirm {
                    id: format!("delete-{}", r.id),
                    open_label: tr.t("storage.delete"),
                    title: &tr.f("storage.delete_title", &[("storage", &r.spec.name)]),
                    text: tr.t("storage.delete_text"),
                    action: &delete_path(r.id),
                    confirm_label: tr.t("storage.delete"),
                    danger: true,
                    reopen: false,
                }, html! { input type="hidden" name="confirm" value="yes"; }))
            }
        }
    }
}

fn clone_form(shell: &Shell, item: &StorageItem, view: &ListView) -> Markup {
    let tr = shell.tr;
    let r = &item.record;
    let values = view.clone_form;
    let errors = view.clone_errors;
    let permission_error = errors.get("permission");
    let permission = if values.permission.is_empty() {
        StoragePermission::Personal.code()
    } else {
        values.permission.as_str()
    };
    html! {
        details class="storage-clone" open[!errors.is_empty()] {
            summary class="btn" { (tr.t("storage.clone")) }
            form method="post" action=(clone_path(r.id)) class="form storage-clone-form" {
                (csrf_field(shell))
                h3 { (tr.t("storage.clone_title")) }
                p class="hint" { (tr.f("storage.clone_text", &[("size", &r.spec.size_gib.to_string())])) }
                @if !errors.is_empty() {
                    (notice(Tone::Error, html! { (tr.t("storage.fix_errors")) }))
                }
                (input(tr, Field::text("name", "storage.clone_name", &values.name).required().hint("storage.name_hint").scoped("clone-"), errors))
                fieldset.field.has-error[permission_error.is_some()] {
                    legend { (tr.t("storage.permission_label")) span class="req" aria-hidden="true" { "*" } }
                    @for p in StoragePermission::ALL {
                        label class="choice" {
                            input type="radio" name="permission" value=(p.code())
                                checked[permission == p.code()];
                            " " (tr.t(permission_key(p)))
                        }
                    }
                    (hint_and_error(tr, "clone-permission", Some("storage.permission_hint"), permission_error))
                }
                div class="actions" {
                    button type="submit" class="btn primary" { (tr.t("storage.clone_submit")) }
                }
            }
        }
    }
}

/// The storage panel of Project Detail: how much the project's storages
/// take and their list, each linking to its detail in Storage Management.
pub fn project_panel(shell: &Shell, project: ProjectId, items: &[StorageItem]) -> Markup {
    let tr = shell.tr;
    let total: u64 = items
        .iter()
        .filter(|i| i.status != StorageStatus::Deleting)
        .map(|i| i.record.spec.size_gib)
        .sum();
    html! {
        section class="panel" aria-labelledby="project-storage" {
            h2 id="project-storage" { (tr.t("nav.storage")) }
            p { (tr.f("storage.project_total", &[
                ("size", &total.to_string()),
                ("count", &items.len().to_string()),
            ])) }
            @if items.is_empty() {
                p class="muted" { (tr.t("storage.none")) }
            } @else {
                div class="table-wrap" {
                    table class="table storage-table" {
                        thead { tr {
                            th scope="col" { (tr.t("storage.name")) }
                            th scope="col" { (tr.t("storage.owner")) }
                            th scope="col" { (tr.t("storage.size")) }
                            th scope="col" { (tr.t("storage.permission_label")) }
                            th scope="col" { (tr.t("storage.status_column")) }
                        } }
                        tbody {
                            @for item in items {
                                @let r = &item.record;
                                tr {
                                    td { a href=(list_path(project, Some(r.id))) { (r.spec.name) } }
                                    td { (item.owner_name) }
                                    td { (tr.f("storage.size_gb", &[("size", &r.spec.size_gib.to_string())])) }
                                    td { (tr.t(permission_key(r.permission))) }
                                    td { (status_badge(tr, item.status)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{StorageTypeId, UserId};
    use crate::domain::user::Lang;
    use crate::domain::workload::VolumeSpec;
    use crate::store::catalog::StorageTypeRecord;
    use crate::store::volumes::{VolumeDesired, VolumeRecord};
    use crate::web::views::test_support::{member, shell};

    fn item(name: &str, permission: StoragePermission, status: StorageStatus) -> StorageItem {
        StorageItem {
            record: VolumeRecord {
                id: VolumeId::generate(),
                spec: VolumeSpec {
                    project: ProjectId::generate(),
                    owner: UserId::generate(),
                    name: name.into(),
                    storage_class: "nfs".into(),
                    size_gib: 20,
                    clone_of: None,
                },
                desired: VolumeDesired::Present,
                generation: 1,
                ready: true,
                error: None,
                due_at: None,
                created_at: jiff::Timestamp::UNIX_EPOCH,
                updated_at: jiff::Timestamp::UNIX_EPOCH,
                permission,
                storage_type: None,
                copy_percent: None,
                hold: None,
            },
            owner_name: "<b>bob</b>".into(),
            type_name: "NFS".into(),
            status,
            mounted_by: vec!["nb1".into()],
            may_manage: true,
            may_clone: true,
            read_only_for_viewer: false,
        }
    }

    #[test]
    fn the_list_shows_each_storage_and_the_selected_ones_detail() {
        let overview = StorageOverview {
            items: vec![
                item(
                    "data",
                    StoragePermission::ProjectReadOnly,
                    StorageStatus::InUse,
                ),
                item(
                    "scratch",
                    StoragePermission::Personal,
                    StorageStatus::Creating,
                ),
            ],
            types: vec![StorageTypeRecord {
                id: StorageTypeId::generate(),
                name: "NFS".into(),
                storage_class: "nfs".into(),
                min_gib: 1,
                max_gib: 100,
                retired: false,
            }],
            quota_gib: 100,
            used_gib: 0,
        };
        let project = ProjectId::generate();
        let view = ListView {
            project: Some((project, "Vision")),
            overview: &overview,
            selected: Some(overview.items[0].record.id),
            zone: &TimeZone::UTC,
            notice: Some(StorageNotice::MountedBy {
                key: "storage.error.in_use",
                names: vec!["nb1".into(), "nb2".into()],
            }),
            form: &CreateStorageRequest::default(),
            form_errors: &FieldErrors::new(),
            clone_form: &CloneStorageRequest::default(),
            clone_errors: &FieldErrors::new(),
        };
        for lang in [Lang::En, Lang::ZhTw] {
            let html = list(&shell(lang, member()), &view).into_string();
            assert!(html.contains("data") && html.contains("scratch"));
            assert!(html.contains("&lt;b&gt;bob&lt;/b&gt;"), "names are escaped");
            assert!(
                html.contains("nb1, nb2"),
                "the refusal names the containers"
            );
            assert!(html.contains("id=\"detail\""));
            assert_eq!(html.matches("name=\"confirm\"").count(), 1, "one delete");
            assert!(html.contains(&permission_path(overview.items[0].record.id)));
            assert!(!html.contains("<script>") && !html.contains("style="));
        }
        let html = list(&shell(Lang::En, member()), &view).into_string();
        assert!(
            html.contains(&clone_path(overview.items[0].record.id)),
            "the in-use one may be cloned"
        );
        assert!(html.contains(">In use<") && html.contains(">Creating<"));
        assert!(html.contains("Readable by project"));
        assert!(html.contains("NFS (1–100 GB)"));
        let panel =
            project_panel(&shell(Lang::En, member()), project, &overview.items).into_string();
        assert!(panel.contains("40 GB in 2 storages"), "{panel}");
        let link = list_path(project, Some(overview.items[1].record.id)).replace('&', "&amp;");
        assert!(panel.contains(&link), "{panel}");
    }

    #[test]
    fn a_clone_shows_how_far_its_copy_is_and_a_failure_its_reason() {
        let mut copying = item("copy", StoragePermission::Personal, StorageStatus::Creating);
        copying.record.copy_percent = Some(42);
        copying.record.spec.clone_of = Some("data".into());
        let mut failed = item("broken", StoragePermission::Personal, StorageStatus::Failed);
        failed.record.ready = false;
        failed.record.error = Some(crate::store::workloads::LastError {
            at: jiff::Timestamp::UNIX_EPOCH,
            reason: "NotFound".into(),
            message: "the storage to clone (data) not found".into(),
            attempts: 1,
            retry_at: None,
        });
        let overview = StorageOverview {
            items: vec![copying, failed],
            types: Vec::new(),
            quota_gib: 100,
            used_gib: 0,
        };
        let view = ListView {
            project: Some((ProjectId::generate(), "Vision")),
            overview: &overview,
            selected: Some(overview.items[0].record.id),
            zone: &TimeZone::UTC,
            notice: Some(StorageNotice::Cloned),
            form: &CreateStorageRequest::default(),
            form_errors: &FieldErrors::new(),
            clone_form: &CloneStorageRequest::default(),
            clone_errors: &FieldErrors::new(),
        };
        let html = list(&shell(Lang::En, member()), &view).into_string();
        assert!(html.contains("42 % copied"), "{html}");
        assert!(html.contains("the storage to clone (data) not found"));
        assert!(html.contains("Cloned from"));
        assert!(
            !html.contains(&clone_path(overview.items[0].record.id)),
            "a storage still being created is not cloned"
        );
        let html = list(&shell(Lang::ZhTw, member()), &view).into_string();
        assert!(html.contains("已複製 42%"), "{html}");
    }

    #[test]
    fn a_refused_form_is_open_with_its_input_and_messages() {
        let overview = StorageOverview {
            items: Vec::new(),
            types: vec![StorageTypeRecord {
                id: StorageTypeId::generate(),
                name: "NFS".into(),
                storage_class: "nfs".into(),
                min_gib: 1,
                max_gib: 100,
                retired: false,
            }],
            quota_gib: 100,
            used_gib: 0,
        };
        let form = CreateStorageRequest {
            name: "Bad Name".into(),
            size: "500".into(),
            permission: "project_read_write".into(),
            ..CreateStorageRequest::default()
        };
        let mut errors = FieldErrors::single("name", "storage.error.name");
        errors.add("size", "storage.error.size");
        let view = ListView {
            project: Some((ProjectId::generate(), "Vision")),
            overview: &overview,
            selected: None,
            zone: &TimeZone::UTC,
            notice: None,
            form: &form,
            form_errors: &errors,
            clone_form: &CloneStorageRequest::default(),
            clone_errors: &FieldErrors::new(),
        };
        let html = list(&shell(Lang::En, member()), &view).into_string();
        assert!(html.contains("<details class=\"storage-create\" open"));
        assert!(html.contains("value=\"Bad Name\"") && html.contains("value=\"500\""));
        assert!(html.contains("value=\"project_read_write\" checked"));
        assert!(html.contains("id=\"name-error\"") && html.contains("id=\"size-error\""));
        assert!(html.contains("No storage yet"));
    }
}
