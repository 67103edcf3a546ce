//! Mail delivery over SMTP with lettre: the configured relay (`[mail]`),
//! one pooled transport whose connections are reused between mails, and
//! the MIME message of an outbox record (plain text and HTML parts, Date,
//! Message-ID, encoded non-ASCII headers). TLS is rustls; no OpenSSL.

use std::fmt;
use std::time::{Duration, SystemTime};

use lettre::message::{Mailbox, MultiPart, header};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::store::outbox::MailRecord;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (required; never sent plain).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption: a relay on the same host or a trusted network only.
    None,
}

/// A password that never shows in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

/// The `[mail]` section: where mail goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The sender's address (also the domain of Message-IDs).
    pub from_address: Address,
    pub from_name: String,
    /// The most connections kept open to the relay.
    pub connections: u32,
}

/// Why a mail did not leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// The relay refused it for good (a 5xx answer, a bad address): no
    /// retry.
    pub permanent: bool,
    pub message: String,
}

/// The SMTP relay, with its pool of connections.
#[derive(Clone)]
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// How long one SMTP command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

impl SmtpSender {
    /// Builds the transport; no connection is made until the first mail.
    pub fn new(settings: &MailSettings) -> Result<Self, String> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .timeout(Some(COMMAND_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(settings.connections));
        builder = match settings.security {
            Security::None => builder.tls(Tls::None),
            Security::StartTls | Security::Tls => {
                let params = TlsParameters::new(settings.host.clone())
                    .map_err(|e| format!("mail.host: {e}"))?;
                builder.tls(if settings.security == Security::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                })
            }
        };
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.0.clone()));
        }
        let name = Some(settings.from_name.clone()).filter(|n| !n.is_empty());
        Ok(Self {
            transport: builder.build(),
            from: Mailbox::new(name, settings.from_address.clone()),
        })
    }

    /// Sends one outbox mail over a pooled connection.
    pub async fn send(&self, mail: &MailRecord) -> Result<(), SendError> {
        let message = message(&self.from, mail).map_err(|message| SendError {
            permanent: true,
            message,
        })?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| SendError {
                permanent: e.is_permanent(),
                message: e.to_string(),
            })
    }
}

/// The MIME message of an outbox mail: multipart/alternative (text, then
/// HTML), Date of writing, a Message-ID made of the mail's id (the same on
/// every try), encoded non-ASCII names and subject.
pub fn message(from: &Mailbox, mail: &MailRecord) -> Result<Message, String> {
    let address: Address = mail
        .to_address
        .parse()
        .map_err(|e| format!("{:?} is not an e-mail address: {e}", mail.to_address))?;
    let name = Some(mail.to_name.clone()).filter(|n| !n.is_empty());
    let domain = from.email.domain();
    let date = SystemTime::UNIX_EPOCH
        + Duration::from_millis(u64::try_from(mail.created_at.as_millisecond()).unwrap_or(0));
    let builder = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(name, address))
        .subject(mail.subject.clone())
        .date(date)
        .message_id(Some(format!("<{}@{domain}>", mail.id)))
        .header(header::MIME_VERSION_1_0);
    let html = if mail.html.is_empty() {
        None
    } else {
        Some(mail.html.clone())
    };
    match html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(mail.body.clone(), html)),
        None => builder
            .header(header::ContentType::TEXT_PLAIN)
            .body(mail.body.clone()),
    }
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{MailId, UserId};
    use crate::store::outbox::MailStatus;

    fn record() -> MailRecord {
        MailRecord {
            id: MailId::generate(),
            to_user: UserId::generate(),
            to_address: "mei@lab.example".into(),
            to_name: "林美玲".into(),
            subject: "已核准：Lotus".into(),
            body: "text".into(),
            html: "<p>text</p>".into(),
            created_at: "2026-11-29T08:00:00Z".parse().expect("time"),
            status: MailStatus::Pending,
            attempts: 0,
            last_error: None,
            next_try: None,
            sent_at: None,
        }
    }

    #[test]
    fn a_message_has_both_parts_and_encoded_headers() {
        let from = Mailbox::new(
            Some("mlstack".into()),
            "lab@mlstack.example".parse().expect("address"),
        );
        let mail = record();
        let raw =
            String::from_utf8(message(&from, &mail).expect("message").formatted()).expect("utf-8");
        assert!(
            raw.contains("Date: Sun, 29 Nov 2026 08:00:00 +0000"),
            "{raw}"
        );
        assert!(
            raw.contains(&format!("Message-ID: <{}@mlstack.example>", mail.id)),
            "{raw}"
        );
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
        assert!(raw.contains("To: =?utf-8?"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("text/plain") && raw.contains("text/html"),
            "{raw}"
        );
        assert!(raw.is_ascii(), "headers and bodies are encoded");
    }

    #[test]
    fn a_bad_address_is_refused_for_good() {
        let from = Mailbox::new(None, "lab@mlstack.example".parse().expect("address"));
        let mut mail = record();
        mail.to_address = "not mail".into();
        assert!(message(&from, &mail).is_err());
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let settings = MailSettings {
            host: "smtp.example".into(),
            port: 587,
            security: Security::StartTls,
            username: Some("u".into()),
            password: Some(Secret("hunter2".into())),
            from_address: "a@b.example".parse().expect("address"),
            from_name: String::new(),
            connections: 4,
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
