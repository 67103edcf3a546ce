//! Mail delivery through a real SMTP server (aiosmtpd): what arrives, the
//! retries while the server is down, and the admin outbox page.

use jiff::SignedDuration;
use mlstack::store::outbox::MailStatus;
use reqwest::StatusCode;

use crate::common::smtp::{self, SmtpSink};
use crate::common::{Client, TestApp};

/// `client` applies for a project named `name`; the admin approves it
/// over HTTP, which writes a mail to the applicant.
/// The outbox once every mail in it has left Pending, or as it stands after
/// ten seconds: the sender records a delivery just after the SMTP server
/// has the message, so the sink may see a mail before the store says Sent.
async fn outbox_after_delivery(app: &TestApp) -> Vec<mlstack::store::outbox::MailRecord> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mails = app
            .services()
            .outbox_page(1, usize::MAX)
            .await
            .map(|page| page.mails)
            .expect("outbox");
        if mails.iter().all(|m| m.status != MailStatus::Pending)
            || std::time::Instant::now() >= deadline
        {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub(crate) async fn apply_and_approve(app: &TestApp, client: &Client, name: &str, manager: &str) {
    let applied = client
        .post_form(
            "/projects/new",
            &[
                ("name", name),
                ("start", "2026-11-29"),
                ("end", "2027-01-31"),
                ("description", "a study"),
                ("manager", manager),
            ],
        )
        .await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}", applied.body);
    let admin = app.admin().await;
    let queue = admin.get("/admin/reviews").await;
    let marker = "action=\"/admin/reviews/";
    let at = queue.body.find(marker).expect("an application") + marker.len();
    let application = &queue.body[at..at + 36];
    let done = admin
        .post_form(
            &format!("/admin/reviews/{application}/approve"),
            &[
                ("gpu", "1"),
                ("cpu", "4"),
                ("ram", "8"),
                ("storage", "100"),
                ("remark", "ok"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
}

/// Sets the names of `client`'s account, and its login e-mail through the
/// mailed link (`emails::set_login_email`).
async fn set_profile(
    app: &TestApp,
    (client, password): &(Client, String),
    first: &str,
    last: &str,
    email: &str,
) {
    let saved = client
        .post_form(
            "/account/profile",
            &[
                ("category", "personal"),
                ("first_name", first),
                ("last_name", last),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    crate::emails::set_login_email(app, client, password, email).await;
}

/// The value of a header (first line only) in a raw message.
fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

#[tokio::test]
async fn a_mail_reaches_the_smtp_server_with_both_parts_and_encoded_headers() {
    let sink = SmtpSink::start(smtp::free_port());
    let port = sink.port;
    let app = TestApp::start_configured(|c| c.mail = Some(smtp::settings(port)));
    let member = app.member("mei").await;
    set_profile(&app, &member, "美玲", "林", "mei@lab.example").await;
    let mei = member.0;
    apply_and_approve(&app, &mei, "Lotus 蓮花", "mei").await;

    // The verification letter, then the decision.
    let messages = sink.wait_for(2).await;
    let raw = messages
        .iter()
        .find(|m| m.contains("Subject: Approved"))
        .expect("the decision");
    assert_eq!(header(raw, "X-RcptTo"), Some("mei@lab.example"), "{raw}");
    let to = header(raw, "To").expect("To");
    assert!(
        to.starts_with("=?utf-8?") && to.ends_with("<mei@lab.example>"),
        "{raw}"
    );
    assert!(
        header(raw, "From").expect("From").starts_with("=?utf-8?"),
        "{raw}"
    );
    // Only the non-ASCII words are encoded (RFC 2047).
    let subject = header(raw, "Subject").expect("Subject");
    assert!(
        subject.starts_with("Approved: ") && subject.contains(" =?utf-8?"),
        "{raw}"
    );
    assert!(
        header(raw, "Date").expect("Date").contains("29 Nov 2026"),
        "{raw}"
    );
    let mails = outbox_after_delivery(&app).await;
    let decision = mails
        .iter()
        .find(|m| m.subject.starts_with("Approved"))
        .expect("the decision's record");
    assert_eq!(
        header(raw, "Message-ID"),
        Some(format!("<{}@lab.example>", decision.id).as_str()),
        "{raw}"
    );
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(
        raw.contains("text/plain") && raw.contains("text/html"),
        "{raw}"
    );

    assert_eq!(decision.status, MailStatus::Sent);
    let page = app.admin().await.get("/admin/outbox").await;
    assert!(page.body.contains("Sent"), "{}", page.body);
    assert!(!page.body.contains("No SMTP relay is configured"));

    // An admin resets mei's password: mei is told, the password is not.
    let mei_id = app
        .services()
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.username.as_str() == "mei")
        .expect("mei")
        .id;
    let reset = app
        .admin()
        .await
        .post_form(&format!("/admin/users/{mei_id}/reset-password"), &[])
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    let generated = crate::common::secret_in(&reset.body).expect("a new password");
    let messages = sink.wait_for(3).await;
    let told = messages
        .iter()
        .find(|m| m.contains("Your mlstack password was reset"))
        .expect("the reset mail");
    assert!(!told.contains(&generated), "the password is never mailed");
}

#[tokio::test]
async fn mail_waits_while_the_server_is_down_and_arrives_once_it_is_back() {
    let port = smtp::free_port();
    let app = TestApp::start_configured(|c| c.mail = Some(smtp::settings(port)));
    let member = app.member("mei").await;
    set_profile(&app, &member, "Mei", "Lin", "mei@lab.example").await;
    // The request answers although no server listens.
    apply_and_approve(&app, &member.0, "Lotus", "mei").await;

    // The verification letter and the decision were each tried once.
    let services = app.services();
    let failed = loop {
        let mails = services
            .outbox_page(1, usize::MAX)
            .await
            .map(|page| page.mails)
            .expect("outbox");
        if mails.len() == 2 && mails.iter().all(|m| m.attempts > 0) {
            break mails[0].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(failed.status, MailStatus::Pending, "kept for a retry");
    assert!(failed.last_error.is_some());
    assert!(failed.next_try.expect("a next try") > failed.created_at);
    let admin = app.admin().await;
    let page = admin.get("/admin/outbox").await;
    assert!(
        page.body.contains("Next try:") && page.body.contains("Last error:"),
        "{}",
        page.body
    );

    let sink = SmtpSink::start(port);
    assert!(sink.messages().is_empty(), "nothing before the next try");
    app.advance(SignedDuration::from_mins(1));
    let messages = sink.wait_for(2).await;
    assert_eq!(
        messages.len(),
        2,
        "each mail once, not lost and not doubled"
    );
    let sent = outbox_after_delivery(&app).await;
    assert!(
        sent.iter()
            .all(|m| m.status == MailStatus::Sent && m.attempts == 2),
        "{sent:?}"
    );

    // Resend queues it again at once.
    let resent = admin
        .post_form(&format!("/admin/outbox/{}/resend", sent[0].id), &[])
        .await;
    assert_eq!(resent.status, StatusCode::SEE_OTHER, "{}", resent.body);
    assert_eq!(sink.wait_for(3).await.len(), 3);
}

#[tokio::test]
async fn without_smtp_mail_stays_in_the_outbox_and_the_page_says_so() {
    let app = TestApp::start();
    let member = app.member("mei").await;
    set_profile(&app, &member, "Mei", "Lin", "mei@lab.example").await;
    apply_and_approve(&app, &member.0, "Lotus", "mei").await;
    let page = app.admin().await.get("/admin/outbox").await;
    assert!(
        page.body.contains("No SMTP relay is configured"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Pending"));
    let mails = app
        .services()
        .outbox_page(1, usize::MAX)
        .await
        .map(|page| page.mails)
        .expect("outbox");
    assert_eq!(
        (mails[0].status, mails[0].attempts),
        (MailStatus::Pending, 0)
    );
}

#[tokio::test]
async fn the_outbox_pages_fifty_mails_at_a_time_newest_first() {
    use mlstack::domain::ids::{MailId, UserId};
    use mlstack::store::outbox::{self, MailRecord};
    let app = TestApp::start();
    let to_user = UserId::generate();
    let app = app.restart_editing(|dir| {
        let db = redb::Database::open(dir.join(mlstack::store::FILE_NAME)).expect("open");
        let tx = db.begin_write().expect("write");
        for n in 1..=120 {
            let mail = MailRecord {
                id: MailId::generate(),
                to_user,
                to_address: format!("user{n}@lab.example"),
                to_name: String::new(),
                subject: format!("Mail number {n:03}"),
                body: "body".into(),
                html: String::new(),
                created_at: crate::common::start_time(),
                status: MailStatus::Sent,
                attempts: 1,
                last_error: None,
                next_try: None,
                sent_at: Some(crate::common::start_time()),
            };
            outbox::put_tx(&tx, &mail).expect("mail");
        }
        tx.commit().expect("commit");
    });
    let admin = app.admin().await;
    let total = app
        .services()
        .outbox_page(1, usize::MAX)
        .await
        .map(|page| page.mails)
        .expect("outbox")
        .len();
    assert!(total >= 120, "{total}");

    let first = admin.get("/admin/outbox").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains(&format!("1 - 50 of {total}")));
    assert!(first.body.contains("Mail number 120"), "newest first");
    assert!(first.body.contains("Mail number 071"));
    assert!(!first.body.contains("Mail number 070"));
    assert!(first.body.contains("href=\"/admin/outbox?page=2\""));
    assert!(
        !first.body.contains("rel=\"prev\""),
        "no previous page before the first"
    );

    let second = admin.get("/admin/outbox?page=2").await;
    assert!(second.body.contains(&format!("51 - 100 of {total}")));
    assert!(second.body.contains("Mail number 070") && !second.body.contains("Mail number 071"));
    assert!(
        second.body.contains("href=\"/admin/outbox\""),
        "back to page 1"
    );

    // Past the end, or not a number: the last page, or the first.
    let last_first = (total - 1) / 50 * 50 + 1;
    for asked in ["99", "1e9", "-1"] {
        let page = admin.get(&format!("/admin/outbox?page={asked}")).await;
        assert_eq!(page.status, StatusCode::OK, "{asked}");
        let expected = if asked == "99" {
            format!("{last_first} - {total} of {total}")
        } else {
            format!("1 - 50 of {total}")
        };
        assert!(page.body.contains(&expected), "{asked}: {}", page.body);
    }
    let zh = admin
        .post_form("/account/language", &[("language", "zh-TW"), ("next", "/")])
        .await;
    assert_eq!(zh.status, StatusCode::SEE_OTHER);
    let chinese = admin.get("/admin/outbox?page=2").await;
    assert!(chinese.body.contains(&format!("51 - 100，共 {total} 筆")));
}
