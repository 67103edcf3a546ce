//! Advanced Settings › Job Templates (manual §8.2): the templates of the
//! current project (name, operation environment, owner, created on; search
//! and paging) and a template's page with "Run job", "Run job with
//! schedule", and — for those the policy lets change it — edit and delete.
//! The form is `jobs_new::template_form`.

use jiff::tz::TimeZone;
use maud::{Markup, html};

use super::components::{Confirm, ListPlace, confirm_dialog_with, search_and_pager};
use super::format;
use super::layout::{Crumb, Shell, page, section_page};
use crate::domain::quota::Milli;
use crate::store::job_templates::JobTemplateRecord;
use crate::web::paths;

/// One row of the list: the template, its owner's name and its operation
/// environment (`image:version`, "--" where the catalog lost the image).
pub struct TemplateRow<'a> {
    pub record: &'a JobTemplateRecord,
    pub owner: &'a str,
    pub environment: String,
}

pub struct TemplateListView<'a> {
    /// The current project's name (None: no project chosen).
    pub project: Option<&'a str>,
    pub rows: &'a [TemplateRow<'a>],
    pub query: &'a str,
    pub query_error: Option<String>,
    pub page: usize,
    pub pages: usize,
    pub page_size: usize,
    pub total: usize,
    pub zone: &'a TimeZone,
}

pub fn list(shell: &Shell, view: &TemplateListView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.job_templates");
    section_page(
        shell,
        "nav.section.advanced",
        title,
        html! {
            @match view.project {
                None => div class="empty" {
                    p { (tr.t("job.no_project")) }
                    a class="btn primary" href=(paths::PROJECTS) { (tr.t("nav.projects")) }
                },
                Some(project) => {
                    p class="lead" { (tr.f("template.list_lead", &[("project", project)])) }
                    div class="toolbar" {
                        (search_and_pager(tr, &ListPlace {
                            base: paths::JOB_TEMPLATES,
                            search_key: "template.search",
                            query: view.query,
                            query_refused: view.query_error.is_some(),
                            page: view.page,
                            pages: view.pages,
                            page_size: view.page_size,
                            shown: view.rows.len(),
                            total: view.total,
                        }))
                        a class="btn primary small" href=(paths::JOB_TEMPLATE_NEW) { "+ " (tr.t("template.create")) }
                    }
                    @if let Some(error) = &view.query_error {
                        p class="field-error" id="q-error" role="alert" { (error) }
                    }
                    @if view.rows.is_empty() {
                        div class="empty" {
                            p { (tr.t(if view.query.is_empty() { "template.empty" } else { "template.no_match" })) }
                        }
                    } @else {
                        div class="panel table-scroll" {
                            table class="table template-table" {
                                caption class="sr-only" { (title) }
                                thead { tr {
                                    th scope="col" { (tr.t("template.name")) }
                                    th scope="col" { (tr.t("template.environment")) }
                                    th scope="col" { (tr.t("template.owner")) }
                                    th scope="col" { (tr.t("template.created_on")) }
                                } }
                                tbody {
                                    @for row in view.rows {
                                        tr {
                                            td { a href=(paths::job_template(row.record.id)) { (row.record.name) } }
                                            td { (row.environment) }
                                            td { (row.owner) }
                                            td class="nowrap" { (format::date_time(row.record.created_at, view.zone)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub struct TemplateDetailView<'a> {
    pub record: &'a JobTemplateRecord,
    pub owner: &'a str,
    pub environment: String,
    /// `GPU type × count`, or None for CPU only.
    pub gpu: Option<String>,
    /// The spec's name, CPU and RAM ("--" where the catalog lost it).
    pub spec: Option<(String, u64, u64)>,
    /// Whether the viewer may edit and delete it.
    pub may_change: bool,
    pub zone: &'a TimeZone,
}

pub fn detail(shell: &Shell, view: &TemplateDetailView) -> Markup {
    let tr = shell.tr;
    let r = view.record;
    let href = paths::job_template(r.id);
    let crumbs = [
        Crumb {
            label: tr.t("nav.job_templates"),
            href: Some(paths::JOB_TEMPLATES),
        },
        Crumb {
            label: &r.name,
            href: None,
        },
    ];
    let delete_action = format!("{href}/delete");
    let delete_text = tr.f("template.delete_text", &[("name", &r.name)]);
    page(
        shell,
        &r.name,
        &crumbs,
        html! {
            div class="container-head" {
                div class="actions" {
                    a class="btn primary small" href=(format!("{}?template={}", paths::JOB_NEW, r.id)) { (tr.t("template.run_job")) }
                    a class="btn small" href=(format!("{}?template={}", paths::JOB_SCHEDULE_NEW, r.id)) { (tr.t("template.run_with_schedule")) }
                    @if view.may_change {
                        a class="btn small" href=(format!("{href}/edit")) { (tr.t("template.edit")) }
                        (confirm_dialog_with(shell, Confirm {
                            id: "delete-template".into(),
                            open_label: tr.t("template.delete"),
                            title: tr.t("template.delete"),
                            text: &delete_text,
                            action: &delete_action,
                            confirm_label: tr.t("template.delete"),
                            danger: true,
                            reopen: false,
                        }, html! { input type="hidden" name="confirm" value="yes"; }))
                    }
                }
            }
            section class="panel" aria-labelledby="template-facts" {
                h2 id="template-facts" { (tr.t("template.detail")) }
                dl class="facts" {
                    dt { (tr.t("template.name")) } dd { (r.name) }
                    dt { (tr.t("template.owner")) } dd { (view.owner) }
                    dt { (tr.t("wizard.gpu")) } dd {
                        @match &view.gpu { Some(g) => (g), None => (tr.t("wizard.cpu_only")) }
                    }
                    dt { (tr.t("wizard.spec")) } dd {
                        @match &view.spec {
                            Some((name, cpu, ram)) => { (name) " — " (tr.f("wizard.spec_text", &[("cpu", &Milli(*cpu).to_string()), ("ram", &format::ram_gb(*ram))])) }
                            None => "--",
                        }
                    }
                    dt { (tr.t("template.created_on")) } dd { (format::date_time(r.created_at, view.zone)) }
                    dt { (tr.t("wizard.shm")) } dd {
                        @if r.shm_mib == 0 { (tr.t("template.shm_off")) } @else { (format!("{} MB", r.shm_mib)) }
                    }
                    dt { (tr.t("template.environment")) } dd { (view.environment) }
                    dt { (tr.t("job.env")) } dd {
                        @if r.env.is_empty() { "--" }
                        @for (k, v) in &r.env { div { code { (k) "=" (v) } } }
                    }
                    dt { (tr.t("job.command")) } dd { pre class="command" { (r.command) } }
                }
            }
        },
    )
}
