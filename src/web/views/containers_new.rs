//! The container create wizard (manual §5.4): Sign the terms, Create
//! resource, Advanced settings, Overview. One form carries every field on
//! every step (the steps not shown are hidden); the server validates and
//! moves between steps, `container-wizard.js` only filters the tables to the chosen
//! GPU type and image and updates the cost as choices change.

use maud::{Markup, html};

use super::components::{csrf_field, described_by, hint_and_error};
use super::format;
use super::layout::{Crumb, Shell, page};
use super::wizard_parts::{
    availability, cost_row, hardware, image_choice, overview_rows, radio, shm_field, step_fieldset,
    text_field, volumes_field, wizard_head,
};
use crate::domain::validation::FieldErrors;
use crate::i18n::Tr;
use crate::service::containers::{
    BATCH_QUANTITY_MAX, END_AFTER_MAX_HOURS, NAME_MAX, WizardContext, WizardForm, parse_local,
    terms_sha256,
};
use crate::web::{assets, paths};

/// The steps, in order: (number, title key).
pub const STEPS: [(u8, &str); 4] = [
    (1, "wizard.step.terms"),
    (2, "wizard.step.resource"),
    (3, "wizard.step.advanced"),
    (4, "wizard.step.overview"),
];

/// The step a field is on.
pub fn step_of(field: &str) -> u8 {
    match field {
        "accept_terms" => 1,
        "shm_mb" | "volumes" | "workdir" | "batch" => 3,
        _ => 2,
    }
}

/// The whole wizard page at `step`; `message` is a refusal shown above it.
pub fn wizard(
    shell: &Shell,
    ctx: &WizardContext,
    form: &WizardForm,
    errors: &FieldErrors,
    step: u8,
    message: Option<String>,
) -> Markup {
    let tr = shell.tr;
    let title = tr.t("wizard.title");
    let crumbs = [
        Crumb {
            label: tr.t("nav.containers"),
            href: Some(paths::CONTAINERS),
        },
        Crumb {
            label: title,
            href: None,
        },
    ];
    let cost = ctx.hourly_cost_milli(form);
    let count = ctx.container_count(form);
    page(
        shell,
        title,
        &crumbs,
        html! {
            (wizard_head(tr, ctx, message.as_deref(), errors, &STEPS, step, cost, count))
            form method="post" action=(paths::CONTAINER_NEW) class="form wizard" novalidate {
                (csrf_field(shell))
                input type="hidden" name="step" value=(step);
                (step_fieldset(tr, 1, step, "wizard.step.terms", terms(tr, ctx, form, errors)))
                (step_fieldset(tr, 2, step, "wizard.step.resource", resource(tr, ctx, form, errors)))
                (step_fieldset(tr, 3, step, "wizard.step.advanced", advanced(tr, ctx, form, errors)))
                @if step == 4 {
                    section id="wizard-step-4" class="wizard-step" aria-labelledby="wizard-overview" {
                        h2 id="wizard-overview" { (tr.t("wizard.step.overview")) }
                        (overview(tr, ctx, form, cost, count))
                    }
                }
                div class="actions wizard-actions" {
                    button type="submit" name="go" value="clear" class="btn" { (tr.t("wizard.clear")) }
                    @if step > 1 {
                        button type="submit" name="go" value="previous" class="btn" { (tr.t("wizard.previous")) }
                    }
                    @if step < 4 {
                        button type="submit" name="go" value="next" class="btn primary" { (tr.t("wizard.next")) }
                    } @else {
                        button type="submit" name="go" value="create" class="btn primary" { (tr.t("wizard.create")) }
                    }
                }
            }
            script src=(assets::url("container-wizard.js")) defer {}
        },
    )
}

fn terms(tr: Tr, ctx: &WizardContext, form: &WizardForm, errors: &FieldErrors) -> Markup {
    let error = errors.get("accept_terms");
    html! {
        div class="terms-text" { (ctx.terms) }
        @match ctx.accepted_at {
            Some(at) => p class="hint" { (tr.f("wizard.terms_accepted", &[("at", &format::date_time(at, &ctx.zone))])) },
            None => div.field.has-error[error.is_some()] {
                div class="choice" {
                    input type="checkbox" id="f-accept_terms" name="accept_terms" value=(terms_sha256(&ctx.terms))
                        checked[form.accept_terms == terms_sha256(&ctx.terms)] aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[described_by("accept_terms", error.is_some(), false)];
                    label for="f-accept_terms" { (tr.t("wizard.accept_terms")) }
                }
                (hint_and_error(tr, "accept_terms", None, error))
            },
        }
    }
}

fn resource(tr: Tr, ctx: &WizardContext, form: &WizardForm, errors: &FieldErrors) -> Markup {
    let zone = format::zone_name(&ctx.zone);
    let name_hint = tr.f("wizard.name_hint", &[("max", &NAME_MAX.to_string())]);
    html! {
        (text_field(tr, "name", tr.t("wizard.name"), &form.name, "text", Some(&name_hint), errors))

        fieldset class="field-group" {
            legend { (tr.t("wizard.start")) }
            (radio("start_mode", "now", form.start_mode == "now", html! { (tr.t("wizard.start_now")) }))
            (radio("start_mode", "at", form.start_mode == "at", html! { (tr.t("wizard.start_at")) }))
            (text_field(tr, "start_at", &tr.f("wizard.time_in_zone", &[("zone", &zone)]), &form.start_at, "datetime-local", None, errors))
        }
        fieldset class="field-group" {
            legend { (tr.t("wizard.end")) }
            (radio("end_mode", "none", form.end_mode == "none", html! { (tr.t("wizard.end_none")) }))
            (radio("end_mode", "at", form.end_mode == "at", html! { (tr.t("wizard.end_at")) }))
            (radio("end_mode", "after", form.end_mode == "after", html! { (tr.t("wizard.end_after")) }))
            (text_field(tr, "end_at", &tr.f("wizard.time_in_zone", &[("zone", &zone)]), &form.end_at, "datetime-local", None, errors))
            (text_field(tr, "end_after_hours", tr.t("wizard.end_after_hours"), &form.end_after_hours, "number",
                Some(&tr.f("wizard.end_after_hint", &[("max", &END_AFTER_MAX_HOURS.to_string())])), errors))
            @if let Some(error) = errors.get("end") { p class="field-error" id="end-error" { (tr.t(error)) } }
        }

        (hardware(tr, ctx, form, errors))

        (availability(tr, ctx))

        (image_choice(tr, ctx, form, errors, true))

        fieldset class="field-group" {
            legend { (tr.t("wizard.login")) }
            div class="wizard-login" data-login="password" {
                @let hint = if form.ssh_password_hash.is_empty() { "wizard.ssh_password_hint" } else { "wizard.ssh_password_kept" };
                (text_field(tr, "ssh_password", tr.t("wizard.ssh_password"), "", "password", Some(tr.t(hint)), errors))
                input type="hidden" name="ssh_password_hash" value=(form.ssh_password_hash);
            }
            div class="wizard-login" data-login="key_pair" {
                @let error = errors.get("ssh_key");
                @if ctx.key_pairs.is_empty() {
                    p class="hint" { (tr.t("wizard.no_key_pairs")) " " a href=(paths::KEY_PAIRS) { (tr.t("wizard.key_pairs_page")) } }
                } @else {
                    div class="field" {
                        label for="f-key_pair" { (tr.t("wizard.key_pair")) }
                        select id="f-key_pair" name="key_pair" aria-describedby="key_pair-hint" {
                            @for k in &ctx.key_pairs {
                                option value=(k.id) selected[form.key_pair == k.id.to_string()] {
                                    (k.name.as_str()) " — " (k.fingerprint)
                                }
                            }
                            option value="" selected[form.key_pair.is_empty() && !form.ssh_key.is_empty()] { (tr.t("wizard.key_pair_paste")) }
                        }
                        p class="hint" id="key_pair-hint" { (tr.t("wizard.key_pair_hint")) }
                    }
                }
                div class="wizard-paste" { div.field.has-error[error.is_some()] {
                    label for="f-ssh_key" { (tr.t("wizard.ssh_key")) }
                    textarea id="f-ssh_key" name="ssh_key" rows="3" aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[described_by("ssh_key", error.is_some(), true)] { (form.ssh_key) }
                    (hint_and_error(tr, "ssh_key", Some("wizard.ssh_key_hint"), error))
                } }
            }
            p class="hint wizard-login" data-login="none" { (tr.t("wizard.no_ssh")) }
        }
    }
}

fn advanced(tr: Tr, ctx: &WizardContext, form: &WizardForm, errors: &FieldErrors) -> Markup {
    html! {
        (shm_field(tr, ctx, form, errors))
        (volumes_field(tr, ctx, form, errors, true))
        @if ctx.may_batch {
            fieldset class="field-group" {
                legend { (tr.t("wizard.batch")) }
                p class="hint" id="batch-hint" { (tr.t("wizard.batch_hint")) }
                div class="table-wrap" {
                    table class="table wizard-batch" {
                        thead { tr {
                            th scope="col" { (tr.t("wizard.member")) }
                            th scope="col" { (tr.t("wizard.quantity")) }
                        } }
                        tbody {
                            @for (id, name) in &ctx.members {
                                @let field = format!("batch_{id}");
                                @let typed = form.batch.iter().find(|(m, _)| *m == id.to_string()).map(|(_, q)| q.as_str()).unwrap_or("");
                                tr {
                                    td { label for=(format!("f-{field}")) { (name) } }
                                    td { input type="number" min="0" max=(BATCH_QUANTITY_MAX) id=(format!("f-{field}")) name=(field) value=(typed) autocomplete="off"; }
                                }
                            }
                        }
                    }
                }
                @if let Some(error) = errors.get("batch") { p class="field-error" id="batch-error" { (tr.t(error)) } }
            }
        } @else if let Some(error) = errors.get("batch") {
            p class="field-error" id="batch-error" { (tr.t(error)) }
        }
    }
}

fn overview(tr: Tr, ctx: &WizardContext, form: &WizardForm, cost: u64, count: u64) -> Markup {
    let zone = format::zone_name(&ctx.zone);
    let typed = |text: &str| match parse_local(text, &ctx.zone) {
        Some(at) => format::date_time(at, &ctx.zone),
        None => format!("{} ({zone})", text.replace('T', " ")),
    };
    let start = match form.start_mode.as_str() {
        "at" => typed(&form.start_at),
        _ => tr.t("wizard.start_now").to_owned(),
    };
    let end = match form.end_mode.as_str() {
        "at" => typed(&form.end_at),
        "after" => tr.f(
            "wizard.end_after_text",
            &[("hours", form.end_after_hours.trim())],
        ),
        _ => tr.t("wizard.end_none").to_owned(),
    };
    let members: Vec<String> = form
        .batch
        .iter()
        .filter(|(_, q)| q.trim().parse::<u32>().is_ok_and(|q| q > 0))
        .filter_map(|(id, q)| {
            let name = ctx.members.iter().find(|(m, _)| m.to_string() == *id)?;
            Some(format!("{} × {}", name.1, q.trim()))
        })
        .collect();
    html! {
        dl class="facts two-columns wizard-overview" {
            dt { (tr.t("wizard.name")) } dd { (form.name) }
            dt { (tr.t("wizard.start")) } dd { (start) }
            dt { (tr.t("wizard.end")) } dd { (end) }
            (overview_rows(tr, ctx, form))
            @if !members.is_empty() {
                dt { (tr.t("wizard.batch")) } dd { (members.join(", ")) }
            }
            (cost_row(tr, ctx, cost, count))
        }
    }
}
