//! The parts the create wizards share (containers, manual §5.4; jobs and
//! job templates, manual §5.5 and §8.2): the steps, the hourly cost, the GPU
//! type and count, the hardware spec, what is left of the quota and the
//! cluster, the public or custom image, shared memory, volumes and the
//! overview's rows. `container-wizard.js` works on any form built of them.

use maud::{Markup, html};

use super::components::{Tone, described_by, hint_and_error, notice};
use super::format;
use super::images::{services_text, type_key};
use crate::domain::catalog::{ServiceKind, SshLogin};
use crate::domain::quota::Milli;
use crate::domain::validation::FieldErrors;
use crate::i18n::Tr;
use crate::service::containers::{
    CUSTOM_SSH_LOGIN, SHM_MAX_PERCENT, SHM_MIN_MB, WizardContext, WizardForm,
};

/// A price in thousandths of the currency: `TWD 12.5`.
pub fn money(currency: &str, milli: u64) -> String {
    format!("{currency} {}", Milli(milli))
}

/// An amount left, or "∞" where there is no cap.
pub fn left(value: Option<String>) -> String {
    value.unwrap_or_else(|| "∞".to_owned())
}

/// The split of a spec's memory: "x% shared memory | y% system memory".
pub fn shm_split(tr: Tr, shm_mib: u64, ram_mib: u64) -> String {
    let shared = (shm_mib * 100).checked_div(ram_mib).unwrap_or(0).min(100);
    tr.f(
        "wizard.shm_split",
        &[
            ("shared", &shared.to_string()),
            ("system", &(100 - shared).to_string()),
        ],
    )
}

/// A radio button with its label.
pub fn radio(name: &'static str, value: &str, checked: bool, label: Markup) -> Markup {
    let id = format!("f-{name}-{value}");
    html! {
        div class="choice" {
            input type="radio" id=(id) name=(name) value=(value) checked[checked];
            label for=(id) { (label) }
        }
    }
}

/// A text input with its label, hint and error.
pub fn text_field(
    tr: Tr,
    name: &'static str,
    label: &str,
    value: &str,
    kind: &'static str,
    hint: Option<&str>,
    errors: &FieldErrors,
) -> Markup {
    let error = errors.get(name);
    let id = format!("f-{name}");
    html! {
        div.field.has-error[error.is_some()] {
            label for=(id) { (label) }
            input id=(id) name=(name) type=(kind) value=(value) autocomplete="off"
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[described_by(name, error.is_some(), hint.is_some())];
            (hint_and_error(tr, name, hint, error))
        }
    }
}

/// The head of a wizard page: the project it creates in, a refusal
/// (`message`), the form's errors, the steps (none for a one-page form) and
/// the hourly cost.
#[expect(
    clippy::too_many_arguments,
    reason = "each is one part of the head a wizard shows"
)]
pub fn wizard_head(
    tr: Tr,
    ctx: &WizardContext,
    message: Option<&str>,
    errors: &FieldErrors,
    steps: &[(u8, &str)],
    step: u8,
    cost: u64,
    count: u64,
) -> Markup {
    html! {
        p class="hint" { (tr.f("wizard.project", &[("project", &ctx.project.name)])) }
        @if let Some(text) = message { (notice(Tone::Error, html! { (text) })) }
        @if !errors.is_empty() { (notice(Tone::Error, html! { (tr.t("form.fix_errors")) })) }
        @if !steps.is_empty() { (steps_list(tr, steps, step)) }
        (cost_line(tr, ctx, cost, count))
    }
}

/// Step `n` of a wizard's form, titled `legend_key`: hidden unless it is
/// the current `step` (its fields travel with every post).
pub fn step_fieldset(tr: Tr, n: u8, step: u8, legend_key: &str, body: Markup) -> Markup {
    html! {
        fieldset id=(format!("wizard-step-{n}")) class="wizard-step" hidden[step != n] {
            legend { (tr.t(legend_key)) }
            (body)
        }
    }
}

/// The numbered steps of a wizard, `step` the current one.
fn steps_list(tr: Tr, steps: &[(u8, &str)], step: u8) -> Markup {
    html! {
        ol class="wizard-steps" {
            @for &(n, key) in steps {
                li aria-current=[(n == step).then_some("step")] class=[(n < step).then_some("done")] {
                    span class="wizard-step-number" { (n) } " " (tr.t(key))
                }
            }
        }
    }
}

/// The hourly cost of what is chosen so far (`container-wizard.js` keeps
/// it up to date), times `count` when more than one is created.
fn cost_line(tr: Tr, ctx: &WizardContext, cost: u64, count: u64) -> Markup {
    html! {
        p class="wizard-cost" id="wizard-cost" role="status"
            data-currency=(ctx.currency) data-count=(count) {
            (tr.t("wizard.hourly_cost")) ": "
            strong id="wizard-cost-value" { (money(&ctx.currency, cost)) }
            @if count > 1 {
                " " (tr.f("wizard.cost_times", &[("count", &count.to_string()), ("total", &money(&ctx.currency, cost.saturating_mul(count)))]))
            }
        }
    }
}

/// The GPU type and count and the hardware spec.
pub fn hardware(tr: Tr, ctx: &WizardContext, form: &WizardForm, errors: &FieldErrors) -> Markup {
    let chosen_gpu = ctx.gpu_type(&form.gpu_type).map(|g| g.id.to_string());
    let counts: Vec<u32> = {
        let mut all: Vec<u32> = ctx
            .gpu_types
            .iter()
            .flat_map(|g| g.allowed_counts.iter().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    html! {
        fieldset class="field-group" {
            legend { (tr.t("wizard.gpu")) }
            div class="table-wrap" {
                table class="table wizard-gpus" {
                    thead { tr {
                        th scope="col" { span class="visually-hidden" { (tr.t("wizard.choose")) } }
                        th scope="col" { (tr.t("wizard.gpu_type")) }
                        th scope="col" { (tr.t("wizard.gpu_counts")) }
                        th scope="col" { (tr.t("wizard.price_per_unit")) }
                    } }
                    tbody {
                        tr {
                            td { input type="radio" id="f-gpu_type-none" name="gpu_type" value="" checked[chosen_gpu.is_none()] data-price="0" data-shared="0" data-memory="1"; }
                            td { label for="f-gpu_type-none" { (tr.t("wizard.cpu_only")) } }
                            td { "—" }
                            td { "—" }
                        }
                        @for g in &ctx.gpu_types {
                            @let id = g.id.to_string();
                            tr {
                                td { input type="radio" id=(format!("f-gpu_type-{id}")) name="gpu_type" value=(id)
                                    checked[chosen_gpu.as_deref() == Some(id.as_str())]
                                    data-price=(g.price_milli.unwrap_or(0)) data-shared=(u8::from(g.sharing.is_shared()))
                                    data-memory=(g.memory_gb); }
                                td { label for=(format!("f-gpu_type-{id}")) {
                                    (g.name)
                                    @if g.sharing.is_shared() { " (" (tr.t("wizard.shared_gb")) ")" }
                                } }
                                td { (crate::domain::catalog::counts_text(&g.allowed_counts)) }
                                td { (g.price_milli.map_or_else(|| "—".to_owned(), |p| money(&ctx.currency, p))) }
                            }
                        }
                    }
                }
            }
            @if let Some(error) = errors.get("gpu_type") { p class="field-error" id="gpu_type-error" { (tr.t(error)) } }
            div.field.has-error[errors.get("gpu_count").is_some()] {
                label for="f-gpu_count" { (tr.t("wizard.gpu_count")) }
                select id="f-gpu_count" name="gpu_count"
                    aria-describedby=[described_by("gpu_count", errors.get("gpu_count").is_some(), true)] {
                    @for c in &counts {
                        @let types: Vec<String> = ctx.gpu_types.iter().filter(|g| g.allowed_counts.contains(c)).map(|g| g.id.to_string()).collect();
                        option value=(c) selected[form.gpu_count.trim() == c.to_string()] data-types=(types.join(" ")) { (c) }
                    }
                }
                (hint_and_error(tr, "gpu_count", Some("wizard.gpu_count_hint"), errors.get("gpu_count")))
            }
        }

        fieldset class="field-group" {
            legend { (tr.t("wizard.spec")) }
            div class="table-wrap" {
                table class="table wizard-specs" {
                    thead { tr {
                        th scope="col" { span class="visually-hidden" { (tr.t("wizard.choose")) } }
                        th scope="col" { (tr.t("wizard.spec_name")) }
                        th scope="col" { (tr.t("wizard.cpu")) }
                        th scope="col" { (tr.t("wizard.ram")) }
                        th scope="col" { (tr.t("wizard.price")) }
                    } }
                    tbody {
                        @for s in &ctx.specs {
                            @let id = s.id.to_string();
                            @let gpu = s.gpu_type.map(|g| g.to_string()).unwrap_or_default();
                            tr data-gpu-type=(gpu) {
                                td { input type="radio" id=(format!("f-spec-{id}")) name="spec" value=(id)
                                    checked[form.spec == id] data-price=(s.price_milli) data-ram=(s.ram_mib); }
                                td { label for=(format!("f-spec-{id}")) { (s.name) } }
                                td { (Milli(s.cpu_milli)) }
                                td { (format::ram_gb(s.ram_mib)) }
                                td { (money(&ctx.currency, s.price_milli)) }
                            }
                        }
                    }
                }
            }
            @if ctx.specs.is_empty() { p class="hint" { (tr.t("wizard.no_specs")) } }
            @if let Some(error) = errors.get("spec") { p class="field-error" id="spec-error" { (tr.t(error)) } }
        }
    }
}

/// The image: a public image of the catalog and its version, or (where
/// `custom` and the user has some) one of the custom images they may use.
pub fn image_choice(
    tr: Tr,
    ctx: &WizardContext,
    form: &WizardForm,
    errors: &FieldErrors,
    custom: bool,
) -> Markup {
    let chosen_image = ctx.image(&form.image);
    let custom = custom && !ctx.custom_images.is_empty();
    html! {
        fieldset class="field-group" {
            legend { (tr.t("wizard.image")) }
            @if custom {
                (radio("image_source", "public", form.image_source != "custom", html! { (tr.t("wizard.image_source_public")) }))
                (radio("image_source", "custom", form.image_source == "custom", html! { (tr.t("wizard.image_source_custom")) }))
            }
            div class="wizard-source" data-source="public" {
            p class="hint" { (tr.t("wizard.image_public")) }
            div.field.has-error[errors.get("image").is_some()] {
                label for="f-image" { (tr.t("wizard.environment")) }
                select id="f-image" name="image" aria-describedby=[described_by("image", errors.get("image").is_some(), false)] {
                    option value="" { (tr.t("wizard.choose_image")) }
                    @for i in &ctx.images {
                        option value=(i.id) selected[form.image == i.id.to_string()] data-ssh-login=(ssh_mode(i)) { (i.name) }
                    }
                }
                (hint_and_error(tr, "image", None, errors.get("image")))
            }
            div.field.has-error[errors.get("version").is_some()] {
                label for="f-version" { (tr.t("wizard.version")) }
                select id="f-version" name="version" aria-describedby=[described_by("version", errors.get("version").is_some(), false)] {
                    @for i in &ctx.images {
                        @for v in &i.versions {
                            option value=(v) data-image=(i.id) selected[chosen_image.is_some_and(|c| c.id == i.id) && form.version == *v] { (i.name) ":" (v) }
                        }
                    }
                }
                (hint_and_error(tr, "version", None, errors.get("version")))
            }
            }
            @if custom {
                div class="wizard-source" data-source="custom" {
                    (custom_images(tr, ctx, form))
                }
            }
            @if let Some(error) = errors.get("custom_image") { p class="field-error" id="custom_image-error" { (tr.t(error)) } }
        }
    }
}

/// How an image's SSH logs in: `password`, `key_pair`, or `none` without
/// an SSH service.
fn ssh_mode(image: &crate::store::catalog::ImageRecord) -> &'static str {
    login_mode(image.services.iter().map(|s| s.kind), image.ssh_login)
}

fn login_mode(mut kinds: impl Iterator<Item = ServiceKind>, login: SshLogin) -> &'static str {
    if !kinds.any(|k| k == ServiceKind::Ssh) {
        return "none";
    }
    match login {
        SshLogin::Password => "password",
        SshLogin::KeyPair => "key_pair",
    }
}

/// The Ready custom images the user may use: name, image and tag, type and
/// services, one to choose.
fn custom_images(tr: Tr, ctx: &WizardContext, form: &WizardForm) -> Markup {
    html! {
        p class="hint" id="custom_image-hint" { (tr.t("wizard.image_custom")) }
        div class="table-wrap" {
            table class="table wizard-custom-images" {
                thead { tr {
                    th scope="col" { span class="visually-hidden" { (tr.t("wizard.choose")) } }
                    th scope="col" { (tr.t("wizard.custom_name")) }
                    th scope="col" { (tr.t("wizard.custom_image")) }
                    th scope="col" { (tr.t("wizard.custom_type")) }
                    th scope="col" { (tr.t("wizard.custom_services")) }
                } }
                tbody {
                    @for i in &ctx.custom_images {
                        @let id = i.id.to_string();
                        tr {
                            td { input type="radio" id=(format!("f-custom_image-{id}")) name="custom_image" value=(id)
                                checked[form.custom_image == id]
                                data-ssh-login=(login_mode(i.services.iter().map(|s| s.kind), CUSTOM_SSH_LOGIN)); }
                            td { label for=(format!("f-custom_image-{id}")) { (i.name) } }
                            td { code { (i.image) } }
                            td { (tr.t(type_key(i.image_type))) }
                            td { (services_text(tr, &i.services)) }
                        }
                    }
                }
            }
        }
    }
}

pub fn availability(tr: Tr, ctx: &WizardContext) -> Markup {
    let a = &ctx.availability;
    html! {
        section class="panel wizard-availability" aria-labelledby="wizard-availability" {
            h2 id="wizard-availability" { (tr.t("wizard.availability")) }
            dl class="facts two-columns" {
                dt { (tr.t("wizard.left_project")) }
                dd { (tr.f("wizard.amounts", &[
                    ("gpu", &Milli(a.project_left.gpu_milli).to_string()),
                    ("cpu", &Milli(a.project_left.cpu_milli).to_string()),
                    ("ram", &format::ram_gb(a.project_left.ram_mib)),
                ])) }
                dt { (tr.t("wizard.left_member")) }
                dd { (tr.f("wizard.amounts", &[
                    ("gpu", &left(a.member_left.gpu_milli.map(|v| Milli(v).to_string()))),
                    ("cpu", &left(a.member_left.cpu_milli.map(|v| Milli(v).to_string()))),
                    ("ram", &left(a.member_left.ram_mib.map(format::ram_gb))),
                ])) }
                dt { (tr.t("wizard.cluster")) }
                dd {
                    @match &a.capacity {
                        None => (tr.t("wizard.cluster_unknown")),
                        Some(c) => {
                            @for n in &c.nodes {
                                div { (tr.f("wizard.node", &[("node", &n.name), ("cpu", &Milli(n.cpu_milli).to_string()), ("ram", &format::ram_gb(n.ram_mib))])) }
                            }
                            @for g in &c.gpus {
                                div { (tr.f("wizard.gpus_free", &[("type", &g.type_name), ("free", &g.free.to_string()), ("total", &g.total.to_string())])) }
                            }
                            @if c.gpus.is_empty() { div { (tr.t("wizard.no_gpus")) } }
                        }
                    }
                }
            }
        }
    }
}

/// Shared memory: on or off, its size and the split of the spec's memory.
pub fn shm_field(tr: Tr, ctx: &WizardContext, form: &WizardForm, errors: &FieldErrors) -> Markup {
    let ram = ctx.spec(&form.spec).map_or(0, |s| s.ram_mib);
    let shm_mib = form.shm_mb.trim().parse::<u64>().unwrap_or(0);
    let shm_hint = tr.f(
        "wizard.shm_hint",
        &[
            ("min", &SHM_MIN_MB.to_string()),
            ("percent", &SHM_MAX_PERCENT.to_string()),
            ("max", &(ram * SHM_MAX_PERCENT / 100).to_string()),
        ],
    );
    html! {
        fieldset class="field-group" {
            legend { (tr.t("wizard.shm")) }
            div class="choice" {
                input type="checkbox" id="f-shm" name="shm" value="on" checked[form.shm];
                label for="f-shm" { (tr.t("wizard.shm_on")) }
            }
            (text_field(tr, "shm_mb", tr.t("wizard.shm_mb"), &form.shm_mb, "number", Some(&shm_hint), errors))
            p class="hint" id="wizard-shm-split" aria-live="polite" data-template=(tr.t("wizard.shm_split")) {
                @if form.shm && ram > 0 { (shm_split(tr, shm_mib, ram)) }
            }
        }
    }
}

/// The project's volumes to mount, their paths and the working directory.
/// `workdir`: whether one of them may be Jupyter's working directory.
pub fn volumes_field(
    tr: Tr,
    ctx: &WizardContext,
    form: &WizardForm,
    errors: &FieldErrors,
    workdir: bool,
) -> Markup {
    let mounted = |name: &str| form.mounts.iter().find(|m| m.volume == name);
    html! {
        fieldset class="field-group" {
            legend { (tr.t("wizard.volumes")) }
            @if ctx.volumes.is_empty() {
                p class="hint" { (tr.t("wizard.no_volumes")) }
            } @else {
                div class="table-wrap" {
                    table class="table wizard-volumes" {
                        thead { tr {
                            th scope="col" { (tr.t("wizard.mount")) }
                            th scope="col" { (tr.t("wizard.mount_path")) }
                            @if workdir { th scope="col" { (tr.t("wizard.workdir")) } }
                        } }
                        tbody {
                            @for (n, v) in ctx.volumes.iter().enumerate() {
                                @let m = mounted(v);
                                tr {
                                    td { div class="choice" {
                                        input type="checkbox" id=(format!("f-mount-{n}")) name="mount" value=(v) checked[m.is_some()];
                                        label for=(format!("f-mount-{n}")) { (v) }
                                    } }
                                    td {
                                        label class="visually-hidden" for=(format!("f-path-{n}")) { (tr.f("wizard.mount_path_of", &[("volume", v)])) }
                                        input type="text" id=(format!("f-path-{n}")) name=(format!("path_{v}"))
                                            value=(m.map_or_else(|| format!("/workspace/{v}"), |m| m.path.clone())) autocomplete="off";
                                    }
                                    @if workdir {
                                    td { div class="choice" {
                                        input type="radio" id=(format!("f-workdir-{n}")) name="workdir" value=(v) checked[form.workdir == *v];
                                        label for=(format!("f-workdir-{n}")) { span class="visually-hidden" { (tr.f("wizard.workdir_of", &[("volume", v)])) } }
                                    }
                                    } }
                                }
                            }
                        }
                    }
                }
                (hint_and_error(tr, "volumes", Some("wizard.volumes_hint"), errors.get("volumes")))
                @if let Some(error) = errors.get("workdir") { p class="field-error" id="workdir-error" { (tr.t(error)) } }
            }
        }
    }
}

/// The overview's rows of what the wizard parts chose: GPU, spec, image,
/// shared memory, volumes.
pub fn overview_rows(tr: Tr, ctx: &WizardContext, form: &WizardForm) -> Markup {
    let gpu = ctx.gpu_type(&form.gpu_type);
    let spec = ctx.spec(&form.spec);
    let image = ctx.image(&form.image);
    let custom = ctx.custom_image(&form.custom_image);
    let ram = spec.map_or(0, |s| s.ram_mib);
    let shm_mib = form.shm_mb.trim().parse::<u64>().unwrap_or(0);
    html! {
        dt { (tr.t("wizard.gpu")) } dd {
            @match gpu {
                Some(g) => { (g.name) " × " (form.gpu_count) @if g.sharing.is_shared() { " GB" } }
                None => (tr.t("wizard.cpu_only")),
            }
        }
        dt { (tr.t("wizard.spec")) } dd {
            @if let Some(s) = spec {
                (s.name) " — " (tr.f("wizard.spec_text", &[("cpu", &Milli(s.cpu_milli).to_string()), ("ram", &format::ram_gb(s.ram_mib))]))
            }
        }
        @if form.image_source == "custom" {
            dt { (tr.t("wizard.image")) } dd {
                @if let Some(i) = custom {
                    (i.name) " — " code { (i.image) } " (" (tr.t(type_key(i.image_type))) "; " (services_text(tr, &i.services)) ")"
                }
            }
        } @else {
            dt { (tr.t("wizard.environment")) } dd { @if let Some(i) = image { (i.name) } }
            dt { (tr.t("wizard.version")) } dd { (form.version) }
        }
        dt { (tr.t("wizard.shm")) } dd {
            @if form.shm && ram > 0 {
                (format!("{shm_mib} MB")) " — " (shm_split(tr, shm_mib, ram))
            } @else { (tr.t("wizard.off")) }
        }
        dt { (tr.t("wizard.volumes")) } dd {
            @if form.mounts.is_empty() { (tr.t("wizard.none")) }
            @for m in &form.mounts {
                div { (m.volume) " → " (m.path.trim())
                    @if form.workdir == m.volume { " (" (tr.t("wizard.workdir")) ")" } }
            }
        }
    }
}

/// The overview's hourly cost row.
pub fn cost_row(tr: Tr, ctx: &WizardContext, cost: u64, count: u64) -> Markup {
    html! {
        dt { (tr.t("wizard.hourly_cost")) } dd {
            (money(&ctx.currency, cost))
            @if count > 1 { " " (tr.f("wizard.cost_times", &[("count", &count.to_string()), ("total", &money(&ctx.currency, cost.saturating_mul(count)))])) }
        }
    }
}
