//! Account Management › E-mail (manual §6.1): the login e-mail changes only
//! through a mailed link (after the password), the backup address is
//! verified the same way, links work once, for their own account, until
//! they expire; the notification switches choose which mails go where. The
//! issue's "Done when" for mail: a verified backup address receives the
//! project-ending reminder through a real SMTP server.

use jiff::SignedDuration;
use mlstack::store::outbox::MailStatus;
use reqwest::StatusCode;

use crate::common::smtp::{self, SmtpSink};
use crate::common::{Client, TestApp};

/// The path and query of the verification link in a mail's text (a raw
/// message from the SMTP server or an outbox record's body): quoted-printable
/// soft line breaks joined and `=3D` decoded.
pub(crate) fn verify_link_in(text: &str) -> String {
    let text = text
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let at = text
        .find("/account/emails/verify?token=")
        .unwrap_or_else(|| panic!("no verification link in {text}"));
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/?=_-".contains(*c))
        .collect()
}

/// The newest verification link mailed to `address`, read from the outbox
/// (which lists the newest first).
async fn outbox_link(app: &TestApp, address: &str) -> String {
    let mails = app
        .services()
        .outbox_page(1, usize::MAX)
        .await
        .map(|page| page.mails)
        .expect("outbox");
    let mail = mails
        .iter()
        .find(|m| m.to_address == address && m.body.contains("/account/emails/verify"))
        .unwrap_or_else(|| panic!("no link mailed to {address}: {mails:?}"));
    verify_link_in(&mail.body)
}

/// Opens `link` and confirms it, as the user does.
async fn follow(client: &Client, link: &str) -> crate::common::Page {
    let page = client.get(link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let token = link.split("token=").nth(1).expect("token");
    client
        .post_form("/account/emails/verify", &[("token", token)])
        .await
}

/// Makes `address` the login e-mail of `client`'s account through the
/// mailed link (read from the outbox, whether or not SMTP is configured).
pub(crate) async fn set_login_email(app: &TestApp, client: &Client, password: &str, address: &str) {
    let asked = client
        .post_form(
            "/account/emails/login",
            &[("address", address), ("current_password", password)],
        )
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    let confirmed = follow(client, &outbox_link(app, address).await).await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.body
    );
}

#[tokio::test]
async fn the_login_email_changes_only_once_its_link_is_followed() {
    let app = TestApp::start();
    let (mei, password) = app.member("mei").await;
    set_login_email(&app, &mei, &password, "mei@lab.example").await;
    let profile = mei.get("/account/profile").await;
    assert!(profile.body.contains("mei@lab.example"), "{}", profile.body);

    // Bad input: a message naming the limit, nothing changed, no mail.
    let mails_before = app
        .services()
        .outbox_page(1, usize::MAX)
        .await
        .map(|page| page.mails)
        .expect("outbox")
        .len();
    let long = format!("{}@lab.example", "m".repeat(250));
    for (address, pass, message) in [
        (
            "mei-at-lab",
            password.as_str(),
            "Enter an email address such as name@example.org.",
        ),
        (
            long.as_str(),
            password.as_str(),
            "An email address has at most 254 characters.",
        ),
        ("", password.as_str(), "Enter an email address."),
        (
            "mei@lab.example",
            password.as_str(),
            "This is already the address you have.",
        ),
        ("new@lab.example", "wrong password", "current password"),
        ("new@lab.example", "", "Enter"),
    ] {
        let refused = mei
            .post_form(
                "/account/emails/login",
                &[("address", address), ("current_password", pass)],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{address}"
        );
        assert!(
            refused.body.contains(message),
            "{message}: {}",
            refused.body
        );
    }
    assert_eq!(
        app.services()
            .outbox_page(1, usize::MAX)
            .await
            .map(|page| page.mails)
            .expect("outbox")
            .len(),
        mails_before
    );

    // A new address waits until its link is followed.
    let asked = mei
        .post_form(
            "/account/emails/login",
            &[
                ("address", "mei.lin@lab.example"),
                ("current_password", &password),
            ],
        )
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    let page = mei.get("/account/emails?done=sent").await;
    assert!(page.body.contains("A confirmation link was mailed."));
    assert!(
        page.body
            .contains("mei.lin@lab.example will become your login e-mail")
    );
    let mails = app
        .services()
        .outbox_page(1, usize::MAX)
        .await
        .map(|page| page.mails)
        .expect("outbox");
    let to_new: Vec<_> = mails
        .iter()
        .filter(|m| m.to_address == "mei.lin@lab.example")
        .collect();
    assert_eq!(to_new.len(), 1, "mailed to the new address: {mails:?}");
    let mail = to_new[0];
    assert!(
        mail.body.contains("(Asia/Taipei)"),
        "expiry with its zone: {}",
        mail.body
    );
    let link = verify_link_in(&mail.body);
    assert!(
        mei.get("/account/profile")
            .await
            .body
            .contains(">mei@lab.example"),
        "not changed before the link is followed"
    );

    // Another account cannot use it.
    let (zed, _) = app.member("zed").await;
    let other = zed.get(&link).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert!(
        other.body.contains("mailed to another account"),
        "{}",
        other.body
    );
    let token = link.split("token=").nth(1).expect("token");
    let other = zed
        .post_form("/account/emails/verify", &[("token", token)])
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);

    let confirmed = follow(&mei, &link).await;
    assert_eq!(confirmed.location(), Some("/account/emails?done=login"));
    let page = mei.get("/account/emails?done=login").await;
    assert!(page.body.contains("Your login e-mail was changed."));
    assert!(page.body.contains("mei.lin@lab.example") && page.body.contains("Verified"));

    // A link works once; an unknown one is not found.
    let again = mei.get(&link).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains("used already"), "{}", again.body);
    let unknown = mei.get("/account/emails/verify?token=nothing").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // A link expires after 24 hours.
    mei.post_form(
        "/account/emails/login",
        &[
            ("address", "late@lab.example"),
            ("current_password", &password),
        ],
    )
    .await;
    let late = outbox_link(&app, "late@lab.example").await;
    app.advance(SignedDuration::from_hours(25));
    // The session ended meanwhile; mei signs in again.
    mei.login_ok("mei", &password).await;
    let expired = mei.get(&late).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.body.contains("expired"), "{}", expired.body);
    let token = late.split("token=").nth(1).expect("token");
    let refused = mei
        .post_form("/account/emails/verify", &[("token", token)])
        .await;
    assert_eq!(refused.status, StatusCode::GONE);
    assert!(
        mei.get("/account/profile")
            .await
            .body
            .contains("mei.lin@lab.example"),
        "an expired link changes nothing"
    );

    // Resend mails a new link that works.
    let resent = mei
        .post_form("/account/emails/resend", &[("slot", "login")])
        .await;
    assert_eq!(resent.status, StatusCode::SEE_OTHER);
    let fresh = outbox_link(&app, "late@lab.example").await;
    assert_ne!(fresh, late);
    follow(&mei, &fresh).await;
    assert!(
        mei.get("/account/profile")
            .await
            .body
            .contains("late@lab.example")
    );
    let nothing = mei
        .post_form("/account/emails/resend", &[("slot", "login")])
        .await;
    assert_eq!(nothing.status, StatusCode::CONFLICT, "{}", nothing.body);
}

#[tokio::test]
async fn the_switches_choose_which_mails_go_to_which_verified_address() {
    let app = TestApp::start();
    let (mei, password) = app.member("mei").await;
    set_login_email(&app, &mei, &password, "mei@lab.example").await;

    // A backup that is the login e-mail, or malformed, is refused.
    for (address, message) in [
        ("mei@lab.example", "must differ from your login e-mail"),
        ("nope", "Enter an email address such as name@example.org."),
    ] {
        let refused = mei
            .post_form("/account/emails/backup", &[("backup", address)])
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains(message), "{}", refused.body);
    }
    let set = mei
        .post_form("/account/emails/backup", &[("backup", "mei@home.example")])
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
    let page = mei.get("/account/emails").await;
    assert!(page.body.contains("mei@home.example") && page.body.contains("Not verified"));

    // Notifications go to the backup only once it is verified.
    let backup_only = [
        ("decisions", "on"),
        ("reminders", "on"),
        ("to_backup", "on"),
    ];
    let refused = mei
        .post_form("/account/emails/notifications", &backup_only)
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("Verify your backup e-mail"),
        "{}",
        refused.body
    );
    let none = mei
        .post_form("/account/emails/notifications", &[("decisions", "on")])
        .await;
    assert!(
        none.body.contains("Choose at least one address"),
        "{}",
        none.body
    );

    follow(&mei, &outbox_link(&app, "mei@home.example").await).await;
    let saved = mei
        .post_form("/account/emails/notifications", &backup_only)
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = mei.get("/account/emails?done=saved").await;
    assert!(page.body.contains("Your notification settings were saved."));
    assert!(
        page.body.contains("name=\"workload_failed\" value=\"on\">"),
        "off now"
    );

    // A decision now goes to the backup only.
    crate::mail::apply_and_approve(&app, &mei, "Lotus", "mei").await;
    let mails = app
        .services()
        .outbox_page(1, usize::MAX)
        .await
        .map(|page| page.mails)
        .expect("outbox");
    let approved: Vec<_> = mails
        .iter()
        .filter(|m| m.subject.starts_with("Approved"))
        .collect();
    assert_eq!(approved.len(), 1, "{mails:?}");
    assert_eq!(approved[0].to_address, "mei@home.example");

    // Switched off: no mail at all.
    mei.post_form("/account/emails/notifications", &[("to_login", "on")])
        .await;
    crate::mail::apply_and_approve(&app, &mei, "Orchid", "mei").await;
    let mails = app
        .services()
        .outbox_page(1, usize::MAX)
        .await
        .map(|page| page.mails)
        .expect("outbox");
    assert!(
        !mails.iter().any(|m| m.subject.contains("Orchid")),
        "{mails:?}"
    );

    // Removing the backup sends mail to the login e-mail again.
    let removed = mei.post_form("/account/emails/backup/delete", &[]).await;
    assert_eq!(removed.location(), Some("/account/emails?done=removed"));
    assert!(
        mei.get("/account/emails")
            .await
            .body
            .contains("No backup e-mail"),
        "removed"
    );
}

/// The "Done when", mail part: a member verifies a backup e-mail
/// with the link that reached it through a real SMTP server, asks for
/// notifications there, and receives the project-ending reminder at that
/// address.
#[tokio::test]
async fn a_verified_backup_address_receives_the_project_ending_reminder() {
    let sink = SmtpSink::start(smtp::free_port());
    let port = sink.port;
    let app = TestApp::start_configured(|c| c.mail = Some(smtp::settings(port)));
    let (mei, password) = app.member("mei").await;
    set_login_email(&app, &mei, &password, "mei@lab.example").await;
    let set = mei
        .post_form("/account/emails/backup", &[("backup", "mei@home.example")])
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);

    // The link arrives at the backup address; mei opens it from there.
    let messages = sink.wait_for(2).await;
    let letter = messages
        .iter()
        .find(|m| m.contains("X-RcptTo: mei@home.example"))
        .expect("the verification letter at the backup address");
    assert!(letter.contains("Confirm your e-mail address"), "{letter}");
    let link = verify_link_in(letter);
    let confirmed = follow(&mei, &link).await;
    assert_eq!(confirmed.location(), Some("/account/emails?done=backup"));
    let chosen = mei
        .post_form(
            "/account/emails/notifications",
            &[
                ("decisions", "on"),
                ("reminders", "on"),
                ("to_login", "on"),
                ("to_backup", "on"),
            ],
        )
        .await;
    assert_eq!(chosen.status, StatusCode::SEE_OTHER, "{}", chosen.body);

    // mei manages a project ending 2027-01-31; a week before, the sweep
    // writes the reminder, and the mail sender delivers it.
    crate::mail::apply_and_approve(&app, &mei, "Lotus", "mei").await;
    app.advance(SignedDuration::from_hours(24 * 56));
    let report = app.services().sweep_lifecycle().await.expect("sweep");
    assert_eq!(report.reminders, 1);
    let mut reminders = Vec::new();
    for _ in 0..3000 {
        reminders = sink
            .messages()
            .into_iter()
            .filter(|m| m.contains("Subject: Lotus ends in 7 days"))
            .collect();
        if reminders.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let at_backup = reminders
        .iter()
        .find(|m| m.contains("X-RcptTo: mei@home.example"))
        .unwrap_or_else(|| panic!("the reminder at the backup address: {reminders:?}"));
    assert!(at_backup.contains("2027-01-31"), "{at_backup}");
    assert!(
        reminders
            .iter()
            .any(|m| m.contains("X-RcptTo: mei@lab.example")),
        "and at the login e-mail, as chosen"
    );
    // The outbox records it as sent (written just after the server took it).
    let mut mails = Vec::new();
    for _ in 0..3000 {
        mails = app
            .services()
            .outbox_page(1, usize::MAX)
            .await
            .map(|page| page.mails)
            .expect("outbox");
        let at_backup = mails.iter().filter(|m| m.to_address == "mei@home.example");
        if at_backup.clone().count() == 3 && at_backup.clone().all(|m| m.status == MailStatus::Sent)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let at_backup = mails.iter().filter(|m| m.to_address == "mei@home.example");
    assert!(
        at_backup.clone().count() == 3 && at_backup.clone().all(|m| m.status == MailStatus::Sent),
        "the letter, the decision and the reminder: {mails:?}"
    );
}
