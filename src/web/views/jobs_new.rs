//! The job create wizard (manual §5.5): Create Job, Advanced Settings,
//! Schedule; and the job template form (manual §8.2), built of the same
//! parts as the container wizard (`wizard_parts`). One form carries every
//! field on every step; the server validates and moves between steps.

use maud::{Markup, html};

use super::components::{csrf_field, described_by, hint_and_error};
use super::layout::{Crumb, Shell, page};
use super::wizard_parts::{
    availability, cost_row, hardware, image_choice, overview_rows, shm_field, step_fieldset,
    text_field, volumes_field, wizard_head,
};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::JOB_COMMAND_MAX;
use crate::i18n::Tr;
use crate::service::containers::{NAME_MAX, WizardContext};
use crate::service::job_wizard::{JobForm, TIME_LIMIT_MAX_MINUTES};
use crate::web::{assets, paths};

/// The job wizard's steps, in order: (number, title key).
pub const STEPS: [(u8, &str); 3] = [
    (1, "job.step.create"),
    (2, "wizard.step.advanced"),
    (3, "job.step.schedule"),
];

/// The step a field is on.
pub fn step_of(field: &str) -> u8 {
    match field {
        "shm_mb" | "volumes" | "time_limit" | "env" => 2,
        _ => 1,
    }
}

/// The name, the hardware, the image and the command.
fn create_job(tr: Tr, ctx: &WizardContext, form: &JobForm, errors: &FieldErrors) -> Markup {
    let name_hint = tr.f("wizard.name_hint", &[("max", &NAME_MAX.to_string())]);
    html! {
        (text_field(tr, "name", tr.t("wizard.name"), &form.wizard.name, "text", Some(&name_hint), errors))
        (hardware(tr, ctx, &form.wizard, errors))
        (availability(tr, ctx))
        (image_choice(tr, ctx, &form.wizard, errors, true))
        (command_field(tr, form, errors))
    }
}

/// The command: several lines of shell.
fn command_field(tr: Tr, form: &JobForm, errors: &FieldErrors) -> Markup {
    let error = errors.get("command");
    let hint = tr.f(
        "job.command_hint",
        &[("max", &(JOB_COMMAND_MAX / 1024).to_string())],
    );
    html! {
        div.field.has-error[error.is_some()] {
            label for="f-command" { (tr.t("job.command")) }
            textarea id="f-command" name="command" rows="6" class="code" spellcheck="false"
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[described_by("command", error.is_some(), true)] { (form.command) }
            (hint_and_error(tr, "command", Some(&hint), error))
        }
    }
}

/// The environment: `NAME=value`, one a line.
fn env_field(tr: Tr, form: &JobForm, errors: &FieldErrors) -> Markup {
    let error = errors.get("env");
    html! {
        div.field.has-error[error.is_some()] {
            label for="f-env" { (tr.t("job.env")) }
            textarea id="f-env" name="env" rows="3" class="code" spellcheck="false"
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[described_by("env", error.is_some(), true)] { (form.env) }
            (hint_and_error(tr, "env", Some("job.env_hint"), error))
        }
    }
}

fn advanced(tr: Tr, ctx: &WizardContext, form: &JobForm, errors: &FieldErrors) -> Markup {
    let hint = tr.f(
        "job.time_limit_hint",
        &[("max", &TIME_LIMIT_MAX_MINUTES.to_string())],
    );
    html! {
        (text_field(tr, "time_limit", tr.t("job.time_limit"), &form.time_limit, "number", Some(&hint), errors))
        (env_field(tr, form, errors))
        (shm_field(tr, ctx, &form.wizard, errors))
        (volumes_field(tr, ctx, &form.wizard, errors, false))
    }
}

fn overview(tr: Tr, ctx: &WizardContext, form: &JobForm, cost: u64) -> Markup {
    html! {
        dl class="facts two-columns wizard-overview" {
            dt { (tr.t("wizard.name")) } dd { (form.wizard.name) }
            (overview_rows(tr, ctx, &form.wizard))
            dt { (tr.t("job.command")) } dd { pre class="command" { (form.command) } }
            dt { (tr.t("job.time_limit")) } dd {
                @match form.time_limit.trim() {
                    "" => (tr.t("job.no_time_limit")),
                    minutes => (tr.f("job.time_limit_text", &[("minutes", minutes)])),
                }
            }
            (cost_row(tr, ctx, cost, 1))
        }
    }
}

/// The whole job wizard at `step`; `message` is a refusal shown above it.
pub fn wizard(
    shell: &Shell,
    ctx: &WizardContext,
    form: &JobForm,
    errors: &FieldErrors,
    step: u8,
    message: Option<String>,
) -> Markup {
    let tr = shell.tr;
    let title = tr.t("job.create_title");
    let crumbs = [
        Crumb {
            label: tr.t("nav.jobs"),
            href: Some(paths::JOBS),
        },
        Crumb {
            label: title,
            href: None,
        },
    ];
    let cost = ctx.hourly_cost_milli(&form.wizard);
    page(
        shell,
        title,
        &crumbs,
        html! {
            (wizard_head(tr, ctx, message.as_deref(), errors, &STEPS, step, cost, 1))
            form method="post" action=(paths::JOB_NEW) class="form wizard" novalidate {
                (csrf_field(shell))
                input type="hidden" name="step" value=(step);
                (step_fieldset(tr, 1, step, "job.step.create", create_job(tr, ctx, form, errors)))
                (step_fieldset(tr, 2, step, "wizard.step.advanced", advanced(tr, ctx, form, errors)))
                @if step == 3 {
                    section id="wizard-step-3" class="wizard-step" aria-labelledby="wizard-overview" {
                        h2 id="wizard-overview" { (tr.t("job.step.schedule")) }
                        p class="hint" { (tr.t("job.schedule_hint")) }
                        (overview(tr, ctx, form, cost))
                    }
                }
                div class="actions wizard-actions" {
                    button type="submit" name="go" value="clear" class="btn" { (tr.t("wizard.clear")) }
                    @if step > 1 {
                        button type="submit" name="go" value="previous" class="btn" { (tr.t("wizard.previous")) }
                    }
                    @if step < 3 {
                        button type="submit" name="go" value="next" class="btn primary" { (tr.t("wizard.next")) }
                    } @else {
                        button type="submit" name="go" value="template" class="btn" { (tr.t("job.save_as_template")) }
                        button type="submit" name="go" value="schedule" class="btn" { (tr.t("template.run_with_schedule")) }
                        button type="submit" name="go" value="create" class="btn primary" { (tr.t("job.create_now")) }
                    }
                }
            }
            script src=(assets::url("container-wizard.js")) defer {}
        },
    )
}

/// The job template form (manual §8.2: Create Job Template, Advanced
/// Settings), to create (`editing` None) or change one.
pub fn template_form(
    shell: &Shell,
    ctx: &WizardContext,
    form: &JobForm,
    errors: &FieldErrors,
    editing: Option<(&str, &str)>,
) -> Markup {
    let tr = shell.tr;
    let title = match editing {
        Some(_) => tr.t("template.edit"),
        None => tr.t("template.create"),
    };
    let (action, back) = match editing {
        Some((_, href)) => (format!("{href}/edit"), href.to_owned()),
        None => (
            paths::JOB_TEMPLATE_NEW.to_owned(),
            paths::JOB_TEMPLATES.to_owned(),
        ),
    };
    let crumbs = [
        Crumb {
            label: tr.t("nav.job_templates"),
            href: Some(paths::JOB_TEMPLATES),
        },
        Crumb {
            label: editing.map_or(title, |(name, _)| name),
            href: None,
        },
    ];
    let name_hint = tr.f("wizard.name_hint", &[("max", &NAME_MAX.to_string())]);
    let cost = ctx.hourly_cost_milli(&form.wizard);
    page(
        shell,
        title,
        &crumbs,
        html! {
            (wizard_head(tr, ctx, None, errors, &[], 1, cost, 1))
            form method="post" action=(action) class="form wizard" novalidate {
                (csrf_field(shell))
                fieldset class="wizard-step" {
                    legend { (tr.t("template.step.create")) }
                    (text_field(tr, "name", tr.t("wizard.name"), &form.wizard.name, "text", Some(&name_hint), errors))
                    (hardware(tr, ctx, &form.wizard, errors))
                    (image_choice(tr, ctx, &form.wizard, errors, false))
                    (command_field(tr, form, errors))
                }
                fieldset class="wizard-step" {
                    legend { (tr.t("wizard.step.advanced")) }
                    (env_field(tr, form, errors))
                    (shm_field(tr, ctx, &form.wizard, errors))
                }
                div class="actions" {
                    a class="btn" href=(back) { (tr.t("common.cancel")) }
                    button type="submit" class="btn primary" { (title) }
                }
            }
            script src=(assets::url("container-wizard.js")) defer {}
        },
    )
}
