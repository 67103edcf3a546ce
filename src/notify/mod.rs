//! Mail composition: what each notification says, in the recipient's
//! language, as a plain text part and an HTML part. Pure functions; the
//! outbox stores the result and the mail sender delivers it.
//!
//! Which are sent today: application decided (project, extension, quota),
//! the lifecycle ones (reminder, buffer period, released), password reset by
//! an admin, the idle-GPU warning (`gpus_idle`, from the metrics collector),
//! workload failed and job finished (the reconcile loop's outcome writes,
//! `service/workloads.rs::mail_ending_tx`), e-mail verification
//! (`service/emails.rs`) and a scheduled run that could not start
//! (`schedule_failed`, written with the run's outcome by
//! `service/schedules.rs`).
//! Which of them a user gets, and at which address, is their choice
//! (`domain::mail::MailPrefs`, applied by `service/mail.rs::enqueue_tx`).

use maud::{Markup, html};

use crate::i18n::Tr;

/// A composed mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    /// The plain text part.
    pub body: String,
    /// The HTML part: the same text, paragraphs and links marked up.
    pub html: String,
}

fn html_part(tr: Tr, paragraphs: &str, link: Option<&str>) -> String {
    let body: Markup = html! {
        (maud::DOCTYPE)
        html lang=(tr.lang().tag()) {
            head { meta charset="utf-8"; }
            body {
                @for paragraph in paragraphs.split('\n') {
                    p { (paragraph) }
                }
                @if let Some(link) = link {
                    p { a href=(link) { (link) } }
                }
                p { (tr.t("mail.signature")) }
            }
        }
    };
    body.into_string()
}

fn mail(tr: Tr, subject_key: &str, body_key: &str, args: &[(&str, &str)]) -> Mail {
    let text = tr.f(body_key, args);
    Mail {
        subject: tr.f(subject_key, args),
        body: format!("{text}\n\n{}", tr.t("mail.signature")),
        html: html_part(tr, &text, None),
    }
}

/// The applicant learns that an application (project, period extension or
/// quota) was decided.
pub fn application_decided(
    tr: Tr,
    project: &str,
    kind_key: &str,
    approved: bool,
    remark: &str,
) -> Mail {
    let kind = tr.t(kind_key);
    let remark = if remark.is_empty() { "—" } else { remark };
    let args = [("project", project), ("kind", kind), ("remark", remark)];
    if approved {
        mail(tr, "mail.approved.subject", "mail.approved.body", &args)
    } else {
        mail(tr, "mail.declined.subject", "mail.declined.body", &args)
    }
}

/// A manager is reminded that the project ends soon.
pub fn reminder(tr: Tr, project: &str, days: u32, end: &str) -> Mail {
    let days = days.to_string();
    mail(
        tr,
        "mail.reminder.subject",
        "mail.reminder.body",
        &[("project", project), ("days", &days), ("end", end)],
    )
}

/// A manager learns that the project entered its buffer period.
pub fn buffer_started(tr: Tr, project: &str, release: &str) -> Mail {
    mail(
        tr,
        "mail.buffer.subject",
        "mail.buffer.body",
        &[("project", project), ("release", release)],
    )
}

/// A manager learns that the project was released.
pub fn released(tr: Tr, project: &str) -> Mail {
    mail(
        tr,
        "mail.released.subject",
        "mail.released.body",
        &[("project", project)],
    )
}

/// A container's owner learns that its GPUs have stayed idle (the GPU
/// Utilization Rate page flags it too).
pub fn gpus_idle(tr: Tr, container: &str, project: &str, threshold: &str, minutes: &str) -> Mail {
    mail(
        tr,
        "mail.gpus_idle.subject",
        "mail.gpus_idle.body",
        &[
            ("container", container),
            ("project", project),
            ("threshold", threshold),
            ("minutes", minutes),
        ],
    )
}

/// A container's owner learns that it was stopped because its GPUs stayed
/// idle (the project's automatic stop).
pub fn idle_container_stopped(
    tr: Tr,
    container: &str,
    project: &str,
    threshold: &str,
    hours: &str,
) -> Mail {
    mail(
        tr,
        "mail.idle_stopped.subject",
        "mail.idle_stopped.body",
        &[
            ("container", container),
            ("project", project),
            ("threshold", threshold),
            ("hours", hours),
        ],
    )
}

/// A workload's owner learns that it failed, and why.
pub fn workload_failed(tr: Tr, project: &str, workload: &str, reason: &str) -> Mail {
    mail(
        tr,
        "mail.workload_failed.subject",
        "mail.workload_failed.body",
        &[
            ("project", project),
            ("workload", workload),
            ("reason", reason),
        ],
    )
}

/// A job's owner (who asked for it) learns that it finished.
pub fn job_finished(tr: Tr, project: &str, job: &str, succeeded: bool) -> Mail {
    let outcome = tr.t(if succeeded {
        "mail.job_finished.succeeded"
    } else {
        "mail.job_finished.failed"
    });
    mail(
        tr,
        "mail.job_finished.subject",
        "mail.job_finished.body",
        &[("project", project), ("job", job), ("outcome", outcome)],
    )
}

/// A schedule's owner learns that a run could not start or failed.
pub fn schedule_failed(tr: Tr, project: &str, schedule: &str, reason: &str) -> Mail {
    mail(
        tr,
        "mail.schedule_failed.subject",
        "mail.schedule_failed.body",
        &[
            ("project", project),
            ("schedule", schedule),
            ("reason", reason),
        ],
    )
}

/// The link that confirms an address; `expires` is written with its zone.
pub fn email_verification(tr: Tr, address: &str, link: &str, expires: &str) -> Mail {
    let args = [("address", address), ("expires", expires)];
    let text = tr.f("mail.verify.body", &args);
    Mail {
        subject: tr.f("mail.verify.subject", &args),
        body: format!("{text}\n\n{link}\n\n{}", tr.t("mail.signature")),
        html: html_part(tr, &text, Some(link)),
    }
}

/// A user learns that an admin set a new password for their account.
pub fn password_reset_by_admin(tr: Tr, username: &str) -> Mail {
    mail(
        tr,
        "mail.password_reset.subject",
        "mail.password_reset.body",
        &[("username", username)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Lang;
    use crate::i18n::Catalog;

    #[test]
    fn the_idle_gpu_mail_names_the_container_and_the_rule_in_both_languages() {
        let catalog = Catalog::load().unwrap_or_else(|e| panic!("{e}"));
        for (lang, word) in [(Lang::En, "idle"), (Lang::ZhTw, "閒置")] {
            let mail = gpus_idle(catalog.tr(lang), "train", "Vision", "5", "120");
            assert!(
                mail.subject.contains("train") && mail.subject.contains(word),
                "{mail:?}"
            );
            for part in ["Vision", "5%", "120"] {
                assert!(mail.body.contains(part), "{part}: {mail:?}");
            }
            assert!(
                !mail.body.contains('{'),
                "every placeholder filled: {mail:?}"
            );
        }
    }

    #[test]
    fn every_kind_has_both_parts_in_both_languages() {
        let catalog = Catalog::load().expect("catalog");
        for lang in [Lang::En, Lang::ZhTw] {
            let tr = catalog.tr(lang);
            let mails = [
                application_decided(tr, "Lotus", "application.kind.quota", true, ""),
                reminder(tr, "Lotus", 7, "2026-12-31"),
                buffer_started(tr, "Lotus", "2027-01-08"),
                released(tr, "Lotus"),
                workload_failed(tr, "Lotus", "train", "OOMKilled"),
                job_finished(tr, "Lotus", "train", true),
                schedule_failed(tr, "Lotus", "nightly", "over quota"),
                gpus_idle(tr, "notebook", "Lotus", "5", "120"),
                email_verification(
                    tr,
                    "a@b.example",
                    "https://x/verify?t=1",
                    "2026-12-01 10:00 UTC",
                ),
                password_reset_by_admin(tr, "mei"),
            ];
            for m in mails {
                assert!(!m.subject.contains('{'), "{m:?}");
                assert!(!m.body.contains('{'), "{m:?}");
                assert!(m.html.contains("<p>"), "{m:?}");
                assert!(
                    m.html.contains("Lotus")
                        || m.html.contains("mei")
                        || m.html.contains("a@b.example")
                );
            }
        }
    }

    #[test]
    fn the_html_part_escapes_what_users_typed() {
        let catalog = Catalog::load().expect("catalog");
        let m = workload_failed(catalog.tr(Lang::En), "<b>x</b>", "w", "r");
        assert!(m.html.contains("&lt;b&gt;x&lt;/b&gt;"), "{}", m.html);
        assert!(m.body.contains("<b>x</b>"));
    }

    #[test]
    fn the_verification_link_is_in_both_parts() {
        let catalog = Catalog::load().expect("catalog");
        let m = email_verification(
            catalog.tr(Lang::ZhTw),
            "a@b.example",
            "https://x/v?t=abc",
            "e",
        );
        assert!(m.body.contains("https://x/v?t=abc"));
        assert!(m.html.contains("href=\"https://x/v?t=abc\""));
    }
}
