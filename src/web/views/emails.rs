//! Account Management › E-mail (manual §6.1): the login and backup
//! addresses with their verification state, the forms that change them,
//! resending a link, the notification switches, and the page a mailed link
//! opens.

use maud::{Markup, html};

use super::components::{BadgeColor, Field, Tone, badge, csrf_field, input, notice};
use super::layout::{Crumb, Shell, page};
use crate::domain::mail::{AccountEmails, EmailSlot, MailKind, MailPrefs};
use crate::domain::validation::FieldErrors;
use crate::i18n::Tr;
use crate::web::paths;

/// What the page says on top after an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailNotice {
    /// A link was mailed to the address waiting in the slot.
    LinkSent,
    LoginConfirmed,
    BackupConfirmed,
    BackupRemoved,
    PrefsSaved,
}

impl EmailNotice {
    pub fn code(self) -> &'static str {
        match self {
            EmailNotice::LinkSent => "sent",
            EmailNotice::LoginConfirmed => "login",
            EmailNotice::BackupConfirmed => "backup",
            EmailNotice::BackupRemoved => "removed",
            EmailNotice::PrefsSaved => "saved",
        }
    }

    pub fn from_code(code: &str) -> Option<EmailNotice> {
        [
            EmailNotice::LinkSent,
            EmailNotice::LoginConfirmed,
            EmailNotice::BackupConfirmed,
            EmailNotice::BackupRemoved,
            EmailNotice::PrefsSaved,
        ]
        .into_iter()
        .find(|n| n.code() == code)
    }

    fn key(self) -> &'static str {
        match self {
            EmailNotice::LinkSent => "emails.notice.sent",
            EmailNotice::LoginConfirmed => "emails.notice.login_confirmed",
            EmailNotice::BackupConfirmed => "emails.notice.backup_confirmed",
            EmailNotice::BackupRemoved => "emails.notice.backup_removed",
            EmailNotice::PrefsSaved => "emails.notice.saved",
        }
    }
}

/// The page's data: the account's addresses, and a refused form's input.
pub struct EmailsView<'a> {
    pub login: &'a str,
    pub emails: &'a AccountEmails,
    pub notice: Option<EmailNotice>,
    /// The typed new login e-mail or backup address, shown again.
    pub login_input: &'a str,
    pub backup_input: &'a str,
    /// The switches as submitted when they were refused.
    pub prefs: MailPrefs,
    pub errors: &'a FieldErrors,
}

fn crumbs<'a>(tr: Tr<'a>, title: &'a str) -> [Crumb<'a>; 2] {
    [
        Crumb {
            label: tr.t("nav.section.account"),
            href: Some(paths::PROFILE),
        },
        Crumb {
            label: title,
            href: None,
        },
    ]
}

fn verified_badge(tr: Tr, verified: bool) -> Markup {
    if verified {
        badge(BadgeColor::Green, tr.t("emails.verified"))
    } else {
        badge(BadgeColor::Amber, tr.t("emails.unverified"))
    }
}

fn resend_form(shell: &Shell, slot: EmailSlot) -> Markup {
    html! {
        form method="post" action=(paths::EMAIL_RESEND) class="inline-form" {
            (csrf_field(shell))
            input type="hidden" name="slot" value=(slot.code());
            button type="submit" class="btn" { (shell.tr.t("emails.resend")) }
        }
    }
}

fn kind_label(kind: MailKind) -> &'static str {
    match kind {
        MailKind::Decisions => "emails.kind.decisions",
        MailKind::Reminders => "emails.kind.reminders",
        MailKind::WorkloadFailed => "emails.kind.workload_failed",
        MailKind::JobFinished => "emails.kind.job_finished",
        MailKind::ScheduleFailed => "emails.kind.schedule_failed",
        MailKind::GpusIdle => "emails.kind.gpus_idle",
        MailKind::Account => "emails.kind.account",
    }
}

fn on_off<'a>(tr: Tr<'a>, on: bool) -> &'a str {
    tr.t(if on { "emails.on" } else { "emails.off" })
}

/// The addresses: login (and one waiting to replace it) and backup.
fn addresses(shell: &Shell, view: &EmailsView) -> Markup {
    let tr = shell.tr;
    let emails = view.emails;
    html! {
        section class="panel email-addresses" aria-labelledby="emails-addresses" {
            h2 id="emails-addresses" { (tr.t("emails.addresses")) }
            div class="email-address" {
                h3 { (tr.t("emails.login")) }
                dl class="facts" {
                    dt { (tr.t("emails.address")) }
                    dd { @if view.login.is_empty() { span class="muted" { (tr.t("emails.none")) } } @else { (view.login) } }
                    dt { (tr.t("emails.verification")) }
                    dd { (verified_badge(tr, emails.login_verified)) }
                    dt { (tr.t("emails.notifications")) }
                    dd { (on_off(tr, emails.prefs.to_login)) }
                }
                @if let Some(pending) = &emails.pending_login {
                    p class="hint" { (tr.f("emails.login_pending", &[("address", pending.as_str())])) }
                    (resend_form(shell, EmailSlot::Login))
                }
            }
            div class="email-address" {
                h3 { (tr.t("emails.backup")) }
                @if let Some(backup) = &emails.backup {
                    dl class="facts" {
                        dt { (tr.t("emails.address")) }
                        dd { (backup.address) }
                        dt { (tr.t("emails.verification")) }
                        dd { (verified_badge(tr, backup.verified)) }
                        dt { (tr.t("emails.notifications")) }
                        dd { (on_off(tr, emails.prefs.to_backup && backup.verified)) }
                    }
                    div class="actions" {
                        @if !backup.verified { (resend_form(shell, EmailSlot::Backup)) }
                        form method="post" action=(paths::EMAIL_BACKUP_DELETE) class="inline-form" {
                            (csrf_field(shell))
                            button type="submit" class="btn danger" { (tr.t("emails.backup_remove")) }
                        }
                    }
                } @else {
                    p class="muted" { (tr.t("emails.backup_none")) }
                }
            }
        }
    }
}

fn checkbox(tr: Tr, name: &str, label: &str, checked: bool) -> Markup {
    html! {
        label class="choice" {
            input type="checkbox" name=(name) value="on" checked[checked];
            span { (tr.t(label)) }
        }
    }
}

fn prefs_form(shell: &Shell, view: &EmailsView) -> Markup {
    let tr = shell.tr;
    let prefs = view.prefs;
    let error = view.errors.get("addresses");
    html! {
        section class="panel" aria-labelledby="emails-prefs" {
            h2 id="emails-prefs" { (tr.t("emails.prefs")) }
            form method="post" action=(paths::EMAIL_NOTIFICATIONS) class="form" novalidate {
                (csrf_field(shell))
                fieldset class="field" {
                    legend { (tr.t("emails.prefs_kinds")) }
                    div class="choices stacked" {
                        @for kind in MailKind::SWITCHABLE {
                            (checkbox(tr, kind.code(), kind_label(kind), prefs.wants(kind)))
                        }
                    }
                    p class="hint" { (tr.t("emails.prefs_always")) }
                }
                fieldset.field.has-error[error.is_some()] {
                    legend { (tr.t("emails.prefs_addresses")) }
                    div class="choices stacked" {
                        (checkbox(tr, "to_login", "emails.to_login", prefs.to_login))
                        (checkbox(tr, "to_backup", "emails.to_backup", prefs.to_backup))
                    }
                    @if let Some(error) = error { p class="field-error" id="addresses-error" { (tr.t(error)) } }
                }
                div class="actions" {
                    button type="submit" class="btn primary" { (tr.t("emails.prefs_submit")) }
                }
            }
        }
    }
}

/// Account Management › E-mail.
pub fn emails(shell: &Shell, view: &EmailsView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.emails");
    let errors = view.errors;
    page(
        shell,
        title,
        &crumbs(tr, title),
        html! {
            @if let Some(n) = view.notice { (notice(Tone::Success, html! { (tr.t(n.key())) })) }
            @if !errors.is_empty() { (notice(Tone::Error, html! { (tr.t("form.fix_errors")) })) }
            (addresses(shell, view))
            section class="panel" aria-labelledby="emails-login" {
                h2 id="emails-login" { (tr.t("emails.login_change")) }
                p class="hint" { (tr.t("emails.login_change_hint")) }
                form method="post" action=(paths::EMAIL_LOGIN) class="form" novalidate {
                    (csrf_field(shell))
                    (input(tr, Field::text("address", "emails.new_address", view.login_input).kind("email").autocomplete("email"), errors))
                    (input(tr, Field::password("current_password", "password.current", "current-password"), errors))
                    div class="actions" {
                        button type="submit" class="btn primary" { (tr.t("emails.login_submit")) }
                    }
                }
            }
            section class="panel" aria-labelledby="emails-backup" {
                h2 id="emails-backup" { (tr.t("emails.backup_set")) }
                form method="post" action=(paths::EMAIL_BACKUP) class="form" novalidate {
                    (csrf_field(shell))
                    (input(tr, Field::text("backup", "emails.backup_address", view.backup_input).kind("email").autocomplete("email").hint("emails.backup_hint"), errors))
                    div class="actions" {
                        button type="submit" class="btn primary" { (tr.t("emails.backup_submit")) }
                    }
                }
            }
            (prefs_form(shell, view))
        },
    )
}

/// What a verification link opened: a confirmation form, or why it does
/// not work.
pub enum LinkView<'a> {
    Valid {
        token: &'a str,
        address: &'a str,
        slot: EmailSlot,
    },
    Used,
    Expired,
    Superseded,
    OtherUser,
    Unknown,
}

/// The page a mailed link opens.
pub fn verify(shell: &Shell, view: &LinkView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("emails.verify_title");
    let refusal = match view {
        LinkView::Valid { .. } => None,
        LinkView::Used => Some("emails.link.used"),
        LinkView::Expired => Some("emails.link.expired"),
        LinkView::Superseded => Some("emails.link.superseded"),
        LinkView::OtherUser => Some("emails.link.other_user"),
        LinkView::Unknown => Some("emails.link.unknown"),
    };
    page(
        shell,
        title,
        &crumbs(tr, title),
        html! {
            section class="panel" {
                @if let LinkView::Valid { token, address, slot } = view {
                    p { (tr.f(match slot {
                        EmailSlot::Login => "emails.verify_login",
                        EmailSlot::Backup => "emails.verify_backup",
                    }, &[("address", address)])) }
                    form method="post" action=(paths::EMAIL_VERIFY) class="form" {
                        (csrf_field(shell))
                        input type="hidden" name="token" value=(token);
                        div class="actions" {
                            button type="submit" class="btn primary" { (tr.t("emails.verify_submit")) }
                        }
                    }
                }
                @if let Some(key) = refusal {
                    (notice(Tone::Error, html! { (tr.t(key)) }))
                    p { a href=(paths::EMAILS) { (tr.t("emails.back")) } }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::mail::BackupEmail;
    use crate::domain::user::Lang;
    use crate::web::views::test_support::{member, shell};

    #[test]
    fn the_page_shows_each_address_with_its_state_and_the_switches() {
        let emails = AccountEmails {
            pending_login: Some("new@lab.example".into()),
            backup: Some(BackupEmail {
                address: "b@home.example".into(),
                verified: false,
            }),
            ..AccountEmails::default()
        };
        for lang in [Lang::En, Lang::ZhTw] {
            let html = emails_page(lang, &emails);
            assert!(html.contains("mei@lab.example") && html.contains("b@home.example"));
            assert!(html.contains("new@lab.example"), "the waiting address");
            assert_eq!(html.matches("name=\"slot\"").count(), 2, "two resend forms");
            assert!(
                html.contains("name=\"job_finished\" value=\"on\">"),
                "opt-in: unchecked"
            );
            assert!(html.contains("name=\"reminders\" value=\"on\" checked"));
        }
    }

    fn emails_page(lang: Lang, account: &AccountEmails) -> String {
        super::emails(
            &shell(lang, member()),
            &EmailsView {
                login: "mei@lab.example",
                emails: account,
                notice: None,
                login_input: "",
                backup_input: "",
                prefs: account.prefs,
                errors: &FieldErrors::new(),
            },
        )
        .into_string()
    }

    #[test]
    fn a_link_that_does_not_work_says_why_and_offers_no_form() {
        let html = verify(&shell(Lang::En, member()), &LinkView::Expired).into_string();
        assert!(html.contains("expired"), "{html}");
        assert!(!html.contains("name=\"token\""));
        let html = verify(
            &shell(Lang::En, member()),
            &LinkView::Valid {
                token: "t0k",
                address: "b@home.example",
                slot: EmailSlot::Backup,
            },
        )
        .into_string();
        assert!(html.contains("value=\"t0k\"") && html.contains("b@home.example"));
    }
}
