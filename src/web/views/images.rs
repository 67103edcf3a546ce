//! Advanced Settings › Custom Image (manual §8.1): the list of the current
//! project's custom images with the "+" that saves a Running container, and
//! the Create a Custom Image form (manual §4.4).

use jiff::tz::TimeZone;
use maud::{Markup, html};

use super::catalog::service_label;
use super::components::{
    BadgeColor, Confirm, Field, Tone, badge, confirm_dialog_with, csrf_field, hint_and_error,
    input, notice,
};
use super::format;
use super::layout::{Shell, section_page};
use crate::domain::image::{ImageStatus, ImageType};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::{FailureReason, ServiceSpec, WorkloadId};
use crate::i18n::Tr;
use crate::service::images::{CustomImage, SaveableContainer};

/// The Create a Custom Image form of a container.
pub fn form_path(container: WorkloadId) -> String {
    format!("/containers/{container}/image")
}

/// Where an image's delete form posts.
pub fn delete_path(image: WorkloadId) -> String {
    format!("/advanced/custom-images/{image}/delete")
}

/// The services of an image, as the manual lists them: `JupyterLab:8889`.
pub(crate) fn services_text(tr: Tr, services: &[ServiceSpec]) -> String {
    if services.is_empty() {
        return tr.t("image.no_services").to_owned();
    }
    services
        .iter()
        .map(|s| format!("{}:{}", tr.t(service_label(s.kind)), s.port))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn type_key(image_type: ImageType) -> &'static str {
    match image_type {
        ImageType::Private => "image.type.private",
        ImageType::Project => "image.type.project",
    }
}

fn status_badge(tr: Tr, status: ImageStatus) -> Markup {
    let (color, key) = match status {
        ImageStatus::Building => (BadgeColor::Amber, "image.status.building"),
        ImageStatus::Ready => (BadgeColor::Green, "image.status.ready"),
        ImageStatus::Failed => (BadgeColor::Red, "image.status.failed"),
    };
    badge(color, tr.t(key))
}

/// What the list page shows.
pub struct ListView<'a> {
    /// The project the list is of (None: no project chosen).
    pub project: Option<&'a str>,
    pub images: &'a [CustomImage],
    /// Running containers the user may save (the "+").
    pub saveable: &'a [SaveableContainer],
    pub zone: &'a TimeZone,
    /// `created` or `deleted` after a form that succeeded.
    pub done: Option<&'a str>,
    /// An image whose deletion was refused, and why.
    pub refused: Option<(WorkloadId, &'static str)>,
}

pub fn list(shell: &Shell, view: &ListView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.custom_images");
    section_page(
        shell,
        "nav.section.advanced",
        title,
        html! {
            @match view.done {
                Some("created") => (notice(Tone::Success, html! { (tr.t("image.created")) })),
                Some("deleted") => (notice(Tone::Success, html! { (tr.t("image.deleted")) })),
                _ => {}
            }
            @if let Some((_, key)) = view.refused {
                (notice(Tone::Error, html! { (tr.t(key)) }))
            }
            @if let Some(project) = view.project {
                (project_images(shell, project, view))
            } @else {
                (notice(Tone::Info, html! { (tr.t("image.choose_project")) }))
            }
        },
    )
}

fn project_images(shell: &Shell, project: &str, view: &ListView) -> Markup {
    let tr = shell.tr;
    html! {
            p class="lead" { (tr.f("image.of_project", &[("project", project)])) }
            details class="image-create" {
                summary class="btn primary" { "+ " (tr.t("image.create")) }
                @if view.saveable.is_empty() {
                    p { (tr.t("image.no_running")) }
                } @else {
                    p { (tr.t("image.choose_container")) }
                    ul class="image-sources" {
                        @for c in view.saveable {
                            li {
                                a href=(form_path(c.id)) { (c.name) }
                                " " span class="muted" { (c.image) }
                            }
                        }
                    }
                }
            }
            p class="muted" { (tr.f("image.count", &[("count", &view.images.len().to_string())])) }
            @if view.images.is_empty() {
                p { (tr.t("image.none")) }
            } @else {
                div class="image-table-wrap" {
                    table class="table image-table" {
                        thead { tr {
                            th scope="col" { (tr.t("image.name")) }
                            th scope="col" { (tr.t("image.description")) }
                            th scope="col" { (tr.t("image.image")) }
                            th scope="col" { (tr.t("image.image_type")) }
                            th scope="col" { (tr.t("image.services")) }
                            th scope="col" { (tr.t("image.status_column")) }
                            th scope="col" { (tr.t("image.created_on")) }
                            th scope="col" { span class="sr-only" { (tr.t("image.actions")) } }
                        } }
                        tbody {
                            @for image in view.images {
                                (row(shell, image, view))
                            }
                        }
                    }
                }
            }
    }
}

fn row(shell: &Shell, image: &CustomImage, view: &ListView) -> Markup {
    let tr = shell.tr;
    let r = &image.record;
    let dialog = format!("delete-{}", r.id);
    html! {
        tr {
            td { (r.name) }
            td class="image-description" { (r.description) }
            td { code { (r.image.to_string()) } }
            td { (tr.t(type_key(r.image_type))) }
            td { (services_text(tr, &r.services)) }
            td {
                (status_badge(tr, image.status))
                @match &image.failure {
                    Some(FailureReason::Other(detail)) => {
                        p class="hint" { (tr.f("image.failed_detail", &[("reason", detail)])) }
                    }
                    Some(reason) => p class="hint" { (tr.t(reason.message_key())) },
                    None => {}
                }
            }
            td { (format::date_time(r.created_at, view.zone)) }
            td {
                @if image.may_delete {
                    (confirm_dialog_with(shell, Confirm {
                        id: dialog,
                        open_label: tr.t("image.delete"),
                        title: &tr.f("image.delete_title", &[("image", &r.image.to_string())]),
                        text: tr.t("image.delete_text"),
                        action: &delete_path(r.id),
                        confirm_label: tr.t("image.delete"),
                        danger: true,
                        reopen: false,
                    }, html! { input type="hidden" name="confirm" value="yes"; }))
                }
            }
        }
    }
}

/// What the form holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct FormValues {
    pub name: String,
    pub description: String,
    pub image_name: String,
    pub tag: String,
    pub image_type: String,
}

/// The Create a Custom Image form for the container `container` (its name
/// and services).
pub fn form(
    shell: &Shell,
    container: WorkloadId,
    container_name: &str,
    services: &[ServiceSpec],
    values: &FormValues,
    errors: &FieldErrors,
) -> Markup {
    let tr = shell.tr;
    let title = tr.t("image.create");
    let type_error = errors.get("image_type");
    section_page(
        shell,
        "nav.section.advanced",
        title,
        html! {
            p class="lead" { (tr.f("image.from_container", &[("container", container_name)])) }
            @if !errors.is_empty() {
                (notice(Tone::Error, html! { (tr.t("image.fix_errors")) }))
            }
            form method="post" action=(form_path(container)) class="form image-form" {
                (csrf_field(shell))
                (input(tr, Field::text("name", "image.name", &values.name).required().hint("image.name_hint"), errors))
                div.field.has-error[errors.get("description").is_some()] {
                    label for="f-description" { (tr.t("image.description")) }
                    textarea id="f-description" name="description" rows="3" maxlength="500"
                        aria-describedby="description-hint" { (values.description) }
                    (hint_and_error(tr, "description", Some("image.description_hint"), errors.get("description")))
                }
                (input(tr, Field::text("image_name", "image.image_name", &values.image_name).required().hint("image.image_name_hint"), errors))
                (input(tr, Field::text("tag", "image.tag", &values.tag).required().hint("image.tag_hint"), errors))
                fieldset.field.has-error[type_error.is_some()] {
                    legend { (tr.t("image.image_type")) span class="req" aria-hidden="true" { "*" } }
                    @for (value, key, hint) in [
                        ("private", "image.type.private", "image.type.private_hint"),
                        ("project", "image.type.project", "image.type.project_hint"),
                    ] {
                        label class="choice" {
                            input type="radio" name="image_type" value=(value)
                                checked[values.image_type == value];
                            " " (tr.t(key)) " — " span class="muted" { (tr.t(hint)) }
                        }
                    }
                    (hint_and_error(tr, "image_type", None, type_error))
                }
                div class="field" {
                    p class="label" { (tr.t("image.services")) }
                    p { (services_text(tr, services)) }
                    p class="hint" { (tr.t("image.services_hint")) }
                }
                div class="actions" {
                    button type="submit" class="btn primary" { (tr.t("image.submit")) }
                    a class="btn" href=(crate::web::paths::CUSTOM_IMAGES) { (tr.t("common.cancel")) }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::Protocol;
    use crate::domain::ids::{ProjectId, UserId};
    use crate::domain::user::Lang;
    use crate::domain::workload::ImageRef;
    use crate::store::custom_images::CustomImageRecord;
    use crate::web::views::test_support::{member, shell};

    fn image(name: &str, status: ImageStatus, failure: Option<FailureReason>) -> CustomImage {
        CustomImage {
            record: CustomImageRecord {
                id: WorkloadId::generate(),
                project: ProjectId::generate(),
                owner: UserId::generate(),
                name: format!("<i>{name}</i>"),
                description: "for iris".into(),
                image: ImageRef {
                    name: name.into(),
                    tag: "v1".into(),
                },
                target: ImageRef {
                    name: format!("custom/lab/{name}"),
                    tag: "v1".into(),
                },
                image_type: ImageType::Project,
                services: vec![ServiceSpec {
                    name: "jupyter".into(),
                    kind: crate::domain::catalog::ServiceKind::JupyterLab,
                    port: 8889,
                    protocol: Protocol::Http,
                    local_command: None,
                }],
                source: WorkloadId::generate(),
                source_name: "iris01".into(),
                created_at: jiff::Timestamp::UNIX_EPOCH,
            },
            status,
            failure,
            may_delete: status == ImageStatus::Ready,
        }
    }

    #[test]
    fn the_list_shows_each_image_with_its_status_and_the_owners_delete() {
        let images = vec![
            image("iris", ImageStatus::Ready, None),
            image(
                "big",
                ImageStatus::Failed,
                Some(FailureReason::Other("too large".into())),
            ),
        ];
        let saveable = vec![SaveableContainer {
            id: WorkloadId::generate(),
            name: "iris01".into(),
            image: "ubuntu:24.04".into(),
        }];
        let view = ListView {
            project: Some("Vision"),
            images: &images,
            saveable: &saveable,
            zone: &TimeZone::UTC,
            done: Some("created"),
            refused: None,
        };
        for lang in [Lang::En, Lang::ZhTw] {
            let html = list(&shell(lang, member()), &view).into_string();
            assert!(html.contains("iris:v1") && html.contains("big:v1"));
            assert!(html.contains(&form_path(saveable[0].id)), "the + offers it");
            assert_eq!(html.matches("name=\"confirm\"").count(), 1, "one delete");
            assert!(
                html.contains("&lt;i&gt;iris&lt;/i&gt;"),
                "names are escaped"
            );
            assert!(html.contains("too large"), "why saving failed");
            assert!(!html.contains("<script>") && !html.contains("style="));
        }
        let html = list(&shell(Lang::En, member()), &view).into_string();
        assert!(html.contains("JupyterLab:8889") && html.contains(">Ready<"));
        assert!(html.contains("is being saved"));
    }

    #[test]
    fn the_form_marks_refused_fields_and_keeps_the_input() {
        let values = FormValues {
            name: "Iris".into(),
            image_name: "Bad".into(),
            tag: "v1".into(),
            image_type: "project".into(),
            ..FormValues::default()
        };
        let errors = FieldErrors::single("image_name", "image.error.image_name");
        let html = form(
            &shell(Lang::En, member()),
            WorkloadId::generate(),
            "iris01",
            &[],
            &values,
            &errors,
        )
        .into_string();
        assert!(html.contains("class=\"field-error\" id=\"image_name-error\""));
        assert!(html.contains("2 to 128 characters"));
        assert!(html.contains("value=\"Bad\""));
        assert!(html.contains("value=\"project\" checked"));
        assert!(html.contains("name=\"csrf\""));
    }
}
