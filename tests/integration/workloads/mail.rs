//! Mail about workloads, end to end: the reconcile loop sees a job of the
//! local driver (a real sandboxed process) fail or succeed, writes the mail
//! in the same transaction as the status, and the mail sender delivers it
//! to a real SMTP server, as the owner's switches say.

use super::*;
use crate::common::smtp::{self, SmtpSink};

/// The messages with `subject` that reached `address` (waits a minute at most).
async fn wait_mail(sink: &SmtpSink, address: &str, subject: &str) -> String {
    for _ in 0..3000 {
        let found = sink.messages().into_iter().find(|m| {
            m.contains(&format!("X-RcptTo: {address}"))
                && m.contains(&format!("Subject: {subject}"))
        });
        if let Some(message) = found {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no mail {subject:?} to {address}: {:?}", sink.messages());
}

#[tokio::test]
async fn a_failed_job_and_a_finished_one_are_mailed_to_their_owner() {
    let sink = SmtpSink::start(smtp::free_port());
    let port = sink.port;
    let lab = lab_with(|config| {
        config.local.detect_gpus = false;
        config.local.gpus = Vec::new();
        config.mail = Some(smtp::settings(port));
    })
    .await;
    let password = &lab.passwords["bob"];
    let bob_web = lab.app.client();
    bob_web.login_ok("bob", password).await;
    crate::emails::set_login_email(&lab.app, &bob_web, password, "bob@lab.example").await;
    // Job endings are opt-in.
    let chosen = bob_web
        .post_form(
            "/account/emails/notifications",
            &[
                ("workload_failed", "on"),
                ("job_finished", "on"),
                ("to_login", "on"),
            ],
        )
        .await;
    assert_eq!(
        chosen.status,
        reqwest::StatusCode::SEE_OTHER,
        "{}",
        chosen.body
    );

    let (services, bob) = (&lab.services, &lab.bob);
    let failing = services
        .create_job(bob, job(lab.project, "failing", "exit 3"))
        .await
        .expect("created");
    let hello = services
        .create_job(bob, job(lab.project, "hello", "echo hello"))
        .await
        .expect("created");
    wait_for(services, bob, failing, "failed", |r| {
        matches!(r.status(), WorkloadStatus::Failed { .. })
    })
    .await;
    wait_status(services, bob, hello, WorkloadStatus::Succeeded).await;

    let failed = wait_mail(&sink, "bob@lab.example", "failing failed in Vision").await;
    assert!(failed.contains("Reason:"), "{failed}");
    wait_mail(&sink, "bob@lab.example", "Job hello finished: succeeded").await;
    // The failure is told once, as a failure (not also as a job ending).
    let outbox = services
        .outbox_page(1, usize::MAX)
        .await
        .map(|page| page.mails)
        .expect("outbox");
    let about_failing: Vec<_> = outbox
        .iter()
        .filter(|m| m.subject.contains("failing"))
        .collect();
    assert_eq!(about_failing.len(), 1, "{outbox:?}");
}
