//! Mail composition: what each notification says, in the recipient's
//! language. Pure functions; the outbox stores the result and the mail
//! sender delivers it.

use crate::i18n::Tr;

/// A composed mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub body: String,
}

fn mail(tr: Tr, subject_key: &str, body_key: &str, args: &[(&str, &str)]) -> Mail {
    Mail {
        subject: tr.f(subject_key, args),
        body: format!("{}\n\n{}", tr.f(body_key, args), tr.t("mail.signature")),
    }
}

/// The applicant learns that an application was decided.
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
}
