//! Shared pieces: form fields with their errors, notices, badges, dialogs.

use maud::{Markup, html};

use super::layout::Shell;
use crate::domain::validation::FieldErrors;
use crate::i18n::Tr;

/// The hidden CSRF field every state-changing form carries.
pub fn csrf_field(shell: &Shell) -> Markup {
    html! { input type="hidden" name="csrf" value=(shell.csrf); }
}

/// A labelled input with its error message beside it.
pub struct Field<'a> {
    pub name: &'static str,
    pub label: &'static str,
    pub value: &'a str,
    pub kind: &'static str,
    pub required: bool,
    pub autocomplete: &'static str,
    pub hint: Option<&'static str>,
    /// Prefix of the element ids, for pages with several forms that share
    /// field names (empty: the ids are `f-<name>`).
    pub scope: String,
}

impl<'a> Field<'a> {
    pub fn text(name: &'static str, label: &'static str, value: &'a str) -> Self {
        Self {
            name,
            label,
            value,
            kind: "text",
            required: false,
            autocomplete: "off",
            hint: None,
            scope: String::new(),
        }
    }

    pub fn password(name: &'static str, label: &'static str, autocomplete: &'static str) -> Self {
        Self {
            kind: "password",
            required: true,
            autocomplete,
            ..Self::text(name, label, "")
        }
    }

    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn autocomplete(mut self, value: &'static str) -> Self {
        self.autocomplete = value;
        self
    }

    pub fn hint(mut self, key: &'static str) -> Self {
        self.hint = Some(key);
        self
    }

    /// Gives the field's ids a prefix unique to its form on the page.
    pub fn scoped(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }
}

/// The `aria-describedby` of a field with `name`'s hint and error ids.
pub(super) fn described_by(name: &str, has_error: bool, has_hint: bool) -> Option<String> {
    let mut ids = Vec::new();
    if has_hint {
        ids.push(format!("{name}-hint"));
    }
    if has_error {
        ids.push(format!("{name}-error"));
    }
    (!ids.is_empty()).then(|| ids.join(" "))
}

pub fn input(tr: Tr, field: Field, errors: &FieldErrors) -> Markup {
    let error = errors.get(field.name);
    let scoped = format!("{}{}", field.scope, field.name);
    let id = format!("f-{scoped}");
    html! {
        div.field.has-error[error.is_some()] {
            label for=(id) { (tr.t(field.label)) @if field.required { span class="req" aria-hidden="true" { "*" } } }
            input id=(id) name=(field.name) type=(field.kind) value=(field.value)
                autocomplete=(field.autocomplete) required[field.required]
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[described_by(&scoped, error.is_some(), field.hint.is_some())];
            (hint_and_error(tr, &scoped, field.hint, error))
        }
    }
}

/// A field's hint and error, with the ids `described_by` names.
pub(super) fn hint_and_error(
    tr: Tr,
    name: &str,
    hint: Option<&str>,
    error: Option<&str>,
) -> Markup {
    html! {
        @if let Some(hint) = hint {
            p class="hint" id=(format!("{name}-hint")) { (tr.t(hint)) }
        }
        @if let Some(error) = error {
            p class="field-error" id=(format!("{name}-error")) { (tr.t(error)) }
        }
    }
}

/// A labelled select; options are (value, translation key).
pub fn select(
    tr: Tr,
    name: &'static str,
    label: &'static str,
    options: &[(&str, &str)],
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
                @for (value, text) in options {
                    option value=(value) selected[*value == selected] { (tr.t(text)) }
                }
            }
            (hint_and_error(tr, name, None, error))
        }
    }
}

/// How a notice looks and is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Success,
    Error,
    Info,
    Warning,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Success => "notice success",
            Tone::Error => "notice error",
            Tone::Info => "notice info",
            Tone::Warning => "notice warning",
        }
    }
}

/// A message above a form or table.
pub fn notice(tone: Tone, body: Markup) -> Markup {
    let role = if tone == Tone::Error {
        "alert"
    } else {
        "status"
    };
    html! { div class=(tone.class()) role=(role) { (body) } }
}

/// A status badge; the colour carries one meaning (see the stylesheet).
#[derive(Debug, Clone, Copy)]
pub enum BadgeColor {
    Green,
    Amber,
    Red,
    Grey,
    Blue,
}

pub fn badge(color: BadgeColor, text: &str) -> Markup {
    let class = match color {
        BadgeColor::Green => "badge green",
        BadgeColor::Amber => "badge amber",
        BadgeColor::Red => "badge red",
        BadgeColor::Grey => "badge grey",
        BadgeColor::Blue => "badge blue",
    };
    html! { span class=(class) { (text) } }
}

/// A button that opens a confirmation dialog whose Confirm button posts a
/// form to `action`. The dialog is a native `<dialog>`: focus moves into it,
/// Escape closes it.
pub struct Confirm<'a> {
    pub id: String,
    pub open_label: &'a str,
    pub title: &'a str,
    pub text: &'a str,
    pub action: &'a str,
    pub confirm_label: &'a str,
    pub danger: bool,
    /// Render the dialog open: its form was refused and shows the error.
    pub reopen: bool,
}

pub fn confirm_dialog(shell: &Shell, c: Confirm) -> Markup {
    confirm_dialog_with(shell, c, html! {})
}

/// A confirmation dialog whose form also carries `fields` (such as a
/// verification code to type back).
pub fn confirm_dialog_with(shell: &Shell, c: Confirm, fields: Markup) -> Markup {
    let tr = shell.tr;
    let title_id = format!("{}-title", c.id);
    let text_id = format!("{}-text", c.id);
    html! {
        button.btn.small.danger[c.danger] type="button" data-dialog=(c.id) { (c.open_label) }
        dialog id=(c.id) aria-labelledby=(title_id) aria-describedby=(text_id) open[c.reopen] data-reopen[c.reopen] {
            h2 id=(title_id) { (c.title) }
            p id=(text_id) { (c.text) }
            form method="post" action=(c.action) id=(format!("{}-form", c.id)) {
                (csrf_field(shell))
                (fields)
            }
            div class="dialog-actions" {
                form method="dialog" { button type="submit" class="btn" { (tr.t("common.cancel")) } }
                button.btn.primary.danger[c.danger] type="submit" form=(format!("{}-form", c.id)) { (c.confirm_label) }
            }
        }
    }
}

/// Where a list is: items `first` to `last` of `total`, with the links to
/// the previous and next pages (none at either end).
pub struct PagerView {
    pub first: usize,
    pub last: usize,
    pub total: usize,
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// The pager: "1 - 6 of 6" between Previous and Next.
pub fn pager(tr: Tr, view: &PagerView) -> Markup {
    let link = |href: &Option<String>, rel: &'static str, key: &'static str| {
        html! {
            @match href {
                Some(href) => a class="btn small" href=(href) rel=(rel) { (tr.t(key)) },
                None => span class="btn small" aria-disabled="true" { (tr.t(key)) },
            }
        }
    };
    html! {
        nav class="pager" aria-label=(tr.t("common.pages")) {
            (link(&view.previous, "prev", "common.previous"))
            span { (tr.f("common.range_of", &[
                ("first", &view.first.to_string()),
                ("last", &view.last.to_string()),
                ("total", &view.total.to_string()),
            ])) }
            (link(&view.next, "next", "common.next"))
        }
    }
}

/// A searchable list's address: `base` with its search text and page (an
/// empty search and page 1 left out).
pub fn list_url(base: &str, query: &str, page: usize) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if !query.is_empty() {
        pairs.push(("q", query.to_owned()));
    }
    if page > 1 {
        pairs.push(("page", page.to_string()));
    }
    match serde_urlencoded::to_string(&pairs) {
        Ok(q) if !q.is_empty() => format!("{base}?{q}"),
        _ => base.to_owned(),
    }
}

/// Where a searchable, paged list stands: its address and search, the page
/// shown (from 1) of `pages`, and how many rows it shows of `total`.
pub struct ListPlace<'a> {
    pub base: &'a str,
    /// Translation key of the search box's label and placeholder.
    pub search_key: &'a str,
    pub query: &'a str,
    /// Whether the search was refused (its message is shown as `#q-error`).
    pub query_refused: bool,
    pub page: usize,
    pub pages: usize,
    pub page_size: usize,
    pub shown: usize,
    pub total: usize,
}

/// A list's search box (GET `?q=`) and its pager ("1 - 10 of 42").
pub fn search_and_pager(tr: Tr, place: &ListPlace) -> Markup {
    let first = if place.total == 0 {
        0
    } else {
        (place.page - 1) * place.page_size + 1
    };
    let url = |page| list_url(place.base, place.query, page);
    html! {
        form method="get" action=(place.base) class="search" role="search" {
            label for="q" class="sr-only" { (tr.t(place.search_key)) }
            input id="q" type="search" name="q" value=(place.query) placeholder=(tr.t(place.search_key))
                aria-invalid=[place.query_refused.then_some("true")]
                aria-describedby=[place.query_refused.then_some("q-error")];
            button type="submit" class="btn" { (tr.t("common.search")) }
        }
        (pager(tr, &PagerView {
            first,
            last: ((place.page - 1) * place.page_size + place.shown).min(place.total),
            total: place.total,
            previous: (place.page > 1).then(|| url(place.page - 1)),
            next: (place.page < place.pages).then(|| url(place.page + 1)),
        }))
    }
}

/// The address a searchable list's rows are polled at.
pub fn rows_url(base: &str, query: &str, page: usize) -> String {
    let url = list_url(base, query, page);
    let glue = if url.contains('?') { '&' } else { '?' };
    format!("{url}{glue}part=rows")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Lang;
    use crate::web::views::test_support::{member, shell};

    #[test]
    fn the_pager_reads_a_range_between_previous_and_next() {
        let s = shell(Lang::En, member());
        let html = pager(
            s.tr,
            &PagerView {
                first: 1,
                last: 6,
                total: 6,
                previous: None,
                next: None,
            },
        )
        .into_string();
        assert!(html.contains("1 - 6 of 6"));
        assert!(html.contains("aria-disabled=\"true\">Previous"));
        assert!(html.contains("aria-disabled=\"true\">Next"));
        let zh = shell(Lang::ZhTw, member());
        let html = pager(
            zh.tr,
            &PagerView {
                first: 13,
                last: 14,
                total: 14,
                previous: Some("/projects?page=1".into()),
                next: None,
            },
        )
        .into_string();
        assert!(html.contains("13 - 14，共 14 筆"));
        assert!(html.contains("href=\"/projects?page=1\" rel=\"prev\">上一頁"));
    }
}
