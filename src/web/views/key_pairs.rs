//! Advanced Settings › Key Pairs (manual §8.3): the user's key pairs, the
//! form that generates one (its private key downloads once) and the form
//! that imports a public key.

use maud::{Markup, html};

use super::components::{
    Confirm, Field, Tone, confirm_dialog, csrf_field, described_by, hint_and_error, input, notice,
};
use super::layout::{Shell, section_page};
use crate::domain::validation::FieldErrors;
use crate::i18n::Tr;
use crate::web::{assets, paths};

/// One key pair as the list shows it.
pub struct KeyPairRowView {
    pub id: String,
    pub name: String,
    /// As OpenSSH names it (`ssh-ed25519`).
    pub algorithm: String,
    pub bits: u32,
    pub fingerprint: String,
    /// Written with `format::date_time` (the zone named).
    pub created_at: String,
}

/// Which form a refusal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPairForm {
    Generate,
    Import,
}

/// A form shown again with its input and messages.
pub struct RefusedForm<'a> {
    pub form: KeyPairForm,
    pub name: &'a str,
    /// The pasted public key; empty when it was refused as a private key,
    /// which is never sent back.
    pub public_key: &'a str,
    pub errors: &'a FieldErrors,
}

/// What the page says above the list after an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPairNotice {
    Generated,
    Imported,
    Deleted,
}

pub struct KeyPairsView<'a> {
    pub rows: Vec<KeyPairRowView>,
    pub notice: Option<KeyPairNotice>,
    pub refused: Option<RefusedForm<'a>>,
}

pub fn list(shell: &Shell, view: &KeyPairsView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.key_pairs");
    let refused = |form: KeyPairForm| view.refused.as_ref().filter(|r| r.form == form);
    section_page(
        shell,
        "nav.section.advanced",
        title,
        html! {
            @match view.notice {
                Some(KeyPairNotice::Generated) => (notice(Tone::Success, html! { (tr.t("key_pair.generated")) })),
                Some(KeyPairNotice::Imported) => (notice(Tone::Success, html! { (tr.t("key_pair.imported")) })),
                Some(KeyPairNotice::Deleted) => (notice(Tone::Success, html! { (tr.t("key_pair.deleted")) })),
                None => {}
            }
            p class="lead" { (tr.t("key_pair.intro")) }
            section class="panel" {
                @if view.rows.is_empty() {
                    p class="muted" { (tr.t("key_pair.empty")) }
                } @else {
                    table class="table key-pairs" {
                        caption class="sr-only" { (title) }
                        thead { tr {
                            th scope="col" { (tr.t("key_pair.column.name")) }
                            th scope="col" { (tr.t("key_pair.column.type")) }
                            th scope="col" { (tr.t("key_pair.column.fingerprint")) }
                            th scope="col" { (tr.t("key_pair.column.created")) }
                            th scope="col" { span class="sr-only" { (tr.t("key_pair.column.actions")) } }
                        } }
                        tbody {
                            @for row in &view.rows { (key_pair_row(shell, row)) }
                        }
                    }
                }
            }
            (generate_form(shell, refused(KeyPairForm::Generate)))
            (import_form(shell, refused(KeyPairForm::Import)))
            script src=(assets::url("key-pairs.js")) defer {}
        },
    )
}

fn key_pair_row(shell: &Shell, row: &KeyPairRowView) -> Markup {
    let tr = shell.tr;
    let action = paths::key_pair_delete(&row.id);
    let text = tr.f("key_pair.delete_confirm", &[("name", &row.name)]);
    html! {
        tr {
            td { (row.name) }
            td class="key-type" {
                (row.algorithm)
                br;
                span class="muted" { (tr.f("key_pair.bits", &[("bits", &row.bits.to_string())])) }
            }
            td { code class="fingerprint" { (row.fingerprint) } }
            td class="key-created" { (row.created_at) }
            td class="row-actions" {
                (confirm_dialog(shell, Confirm {
                    id: format!("d-delete-{}", row.id),
                    open_label: tr.t("key_pair.delete"),
                    title: tr.t("key_pair.delete_title"),
                    text: &text,
                    action: &action,
                    confirm_label: tr.t("key_pair.delete"),
                    danger: true,
                    reopen: false,
                }))
            }
        }
    }
}

fn form_errors(tr: Tr, refused: Option<&RefusedForm>) -> Markup {
    html! {
        @if refused.is_some_and(|r| !r.errors.is_empty()) {
            (notice(Tone::Error, html! { (tr.t("form.fix_errors")) }))
        }
    }
}

fn generate_form(shell: &Shell, refused: Option<&RefusedForm>) -> Markup {
    let tr = shell.tr;
    let none = FieldErrors::new();
    let errors = refused.map_or(&none, |r| r.errors);
    html! {
        section class="panel" aria-labelledby="key-pair-generate" {
            h2 id="key-pair-generate" { (tr.t("key_pair.generate_title")) }
            p { (tr.t("key_pair.generate_text")) }
            (form_errors(tr, refused))
            form method="post" action=(paths::KEY_PAIR_GENERATE) class="form" novalidate
                data-download-done=(format!("{}?generated=1", paths::KEY_PAIRS)) {
                (csrf_field(shell))
                input type="hidden" name="download" value="";
                (input(tr, Field::text("name", "key_pair.name", refused.map_or("", |r| r.name))
                    .required().hint("key_pair.generate_name_hint").scoped("generate-"), errors))
                div class="actions" {
                    button type="submit" class="btn primary" { (tr.t("key_pair.generate_submit")) }
                }
            }
        }
    }
}

fn import_form(shell: &Shell, refused: Option<&RefusedForm>) -> Markup {
    let tr = shell.tr;
    let none = FieldErrors::new();
    let errors = refused.map_or(&none, |r| r.errors);
    let key_error = errors.get("public_key");
    let key_id = "import-public_key";
    html! {
        section class="panel" aria-labelledby="key-pair-import" {
            h2 id="key-pair-import" { (tr.t("key_pair.import_title")) }
            p { (tr.t("key_pair.import_text")) }
            (form_errors(tr, refused))
            form method="post" action=(paths::KEY_PAIR_IMPORT) class="form" novalidate {
                (csrf_field(shell))
                (input(tr, Field::text("name", "key_pair.name", refused.map_or("", |r| r.name))
                    .required().hint("key_pair.name_hint").scoped("import-"), errors))
                div.field.has-error[key_error.is_some()] {
                    label for=(format!("f-{key_id}")) {
                        (tr.t("key_pair.public_key")) span class="req" aria-hidden="true" { "*" }
                    }
                    textarea id=(format!("f-{key_id}")) name="public_key" rows="4" required
                        class="public-key" spellcheck="false" autocomplete="off"
                        aria-invalid=[key_error.map(|_| "true")]
                        aria-describedby=[described_by(key_id, key_error.is_some(), true)] {
                        (refused.map_or("", |r| r.public_key))
                    }
                    (hint_and_error(tr, key_id, Some("key_pair.public_key_hint"), key_error))
                }
                div class="actions" {
                    button type="submit" class="btn primary" { (tr.t("key_pair.import_submit")) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Lang;
    use crate::web::views::test_support::{member, shell};

    fn row() -> KeyPairRowView {
        KeyPairRowView {
            id: "0193a5d2-0000-7000-8000-000000000001".into(),
            name: "laptop<b>".into(),
            algorithm: "ssh-ed25519".into(),
            bits: 256,
            fingerprint: "SHA256:abc".into(),
            created_at: "2026/12/04 14:05 (Asia/Taipei)".into(),
        }
    }

    #[test]
    fn the_list_shows_each_key_pair_with_its_fingerprint_and_a_confirmed_delete() {
        let s = shell(Lang::En, member());
        let html = list(
            &s,
            &KeyPairsView {
                rows: vec![row()],
                notice: Some(KeyPairNotice::Imported),
                refused: None,
            },
        )
        .into_string();
        assert!(html.contains("laptop&lt;b&gt;"), "names are escaped");
        assert!(html.contains("SHA256:abc"));
        assert!(html.contains("256 bits"));
        assert!(html.contains("2026/12/04 14:05 (Asia/Taipei)"));
        assert!(html.contains(
            "action=\"/advanced/key-pairs/0193a5d2-0000-7000-8000-000000000001/delete\""
        ));
        assert!(html.contains("<dialog"));
        assert!(html.contains("Key pair imported"));
        let zh = list(
            &shell(Lang::ZhTw, member()),
            &KeyPairsView {
                rows: vec![],
                notice: None,
                refused: None,
            },
        )
        .into_string();
        assert!(zh.contains("金鑰"));
        assert!(!zh.contains("<table"));
    }

    #[test]
    fn a_refused_form_shows_its_messages_beside_its_own_fields() {
        let s = shell(Lang::En, member());
        let errors = FieldErrors::single("public_key", "key_pair.error.private_key");
        let html = list(
            &s,
            &KeyPairsView {
                rows: vec![],
                notice: None,
                refused: Some(RefusedForm {
                    form: KeyPairForm::Import,
                    name: "mine",
                    public_key: "",
                    errors: &errors,
                }),
            },
        )
        .into_string();
        assert!(html.contains("paste the public key"), "{html}");
        assert!(html.contains("id=\"f-import-name\""));
        assert!(html.contains("id=\"f-generate-name\""));
        assert!(html.contains("aria-invalid=\"true\""));
        assert_eq!(html.matches("role=\"alert\"").count(), 1);
    }
}
