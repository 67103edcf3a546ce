//! Serving safely: the `[limits]` section over real TCP — oversized heads
//! and bodies answered with a page, slow clients cut off while others are
//! served, the connection cap.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Client, TestApp};

fn host_port(app: &TestApp) -> String {
    app.url.trim_start_matches("http://").to_owned()
}

/// Reads one answer's head (up to the blank line), or what came before the
/// connection closed.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(0) | Err(_) => break,
            Ok(_) => head.push(byte[0]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test]
async fn oversized_headers_get_a_431_page_in_the_clients_language() {
    let app = TestApp::start_configured(|c| c.limits.max_header_bytes = 4096);
    let client = app.client();
    let big = "a".repeat(5000);
    for (lang, title) in [
        ("en", "Request headers too large"),
        ("zh-TW", "請求標頭過大"),
    ] {
        let page = Client::read(
            client
                .http
                .get(client.url("/login"))
                .header("accept-language", lang)
                .header("x-padding", &big)
                .send()
                .await
                .expect("GET"),
        )
        .await;
        assert_eq!(page.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert!(page.body.contains(title), "{}", page.body);
        assert!(page.body.contains("4096"), "the page names the limit");
    }
    let ordinary = client.get("/login").await;
    assert_eq!(ordinary.status, StatusCode::OK, "a normal head passes");
}

#[tokio::test]
async fn bodies_over_the_configured_limit_get_a_413_page_declared_or_streamed() {
    let app = TestApp::start_configured(|c| c.limits.max_body_bytes = 4096);
    let client = app.admin().await;
    let token = client.csrf().await;
    let address = "y".repeat(5000);
    let declared = client
        .post_raw(
            "/account/profile",
            &[
                ("first_name", "Big"),
                ("address", &address),
                ("csrf", &token),
            ],
        )
        .await;
    assert_eq!(declared.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(declared.body.contains("Request too large"));
    assert!(declared.body.contains("4096"));
    // A chunked body declares no length: it is counted as it is read.
    let mut raw = TcpStream::connect(host_port(&app)).await.expect("connect");
    raw.write_all(
        b"POST /login HTTP/1.1\r\nHost: mlstack\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await
    .expect("head");
    for _ in 0..5 {
        let chunk = format!("3e8\r\n{}\r\n", "z".repeat(1000));
        if raw.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = raw.write_all(b"0\r\n\r\n").await;
    let head = read_head(&mut raw).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        !client
            .get("/account/profile")
            .await
            .body
            .contains("value=\"Big\""),
        "nothing changed"
    );
}

#[tokio::test]
async fn a_slow_client_is_cut_off_by_the_request_timeout_while_others_are_served() {
    let app = TestApp::start_configured(|c| {
        c.limits.client_request_timeout = Duration::from_secs(1);
    });
    let client = app.client();
    let mut slow = TcpStream::connect(host_port(&app)).await.expect("connect");
    slow.write_all(b"GET /login HTTP/1.1\r\nHost: mlstack\r\n")
        .await
        .expect("request line");
    // A slowloris: one header line every 200 ms, never the blank line. The
    // server must answer (408) and close within the timeout, long before
    // 60 lines (12 s) are trickled.
    let mut lines = 0;
    let mut served = 0;
    let (mut reader, mut writer) = slow.into_split();
    let reading = tokio::spawn(async move {
        let mut answer = Vec::new();
        let _ = reader.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    });
    while !reading.is_finished() && lines < 60 {
        if writer.write_all(b"X-Slow: 1\r\n").await.is_err() {
            break;
        }
        lines += 1;
        let page = client.get("/healthz").await;
        assert_eq!(page.status, StatusCode::OK, "others are served meanwhile");
        served += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answer = tokio::time::timeout(Duration::from_secs(5), reading)
        .await
        .expect("the slow connection was closed")
        .expect("reader");
    assert!(
        lines < 60,
        "the slow client was cut off ({lines} lines sent)"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(served > 0);
    assert_eq!(client.get("/login").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_connection_cap_holds_and_frees_as_connections_close() {
    let app = TestApp::start_configured(|c| {
        c.workers = 1;
        c.limits.max_connections = 3;
        c.limits.keep_alive = Duration::from_secs(60);
    });
    let request = b"GET /healthz HTTP/1.1\r\nHost: mlstack\r\n\r\n";
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(host_port(&app)).await.expect("connect");
        stream.write_all(request).await.expect("write");
        let head = read_head(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let mut body = [0u8; 2];
        stream.read_exact(&mut body).await.expect("body");
        open.push(stream);
    }
    // The fourth waits in the listen queue: no answer while three are open.
    let mut fourth = TcpStream::connect(host_port(&app)).await.expect("connect");
    fourth.write_all(request).await.expect("write");
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(1500), fourth.read(&mut byte)).await;
    assert!(early.is_err(), "no fourth connection is served at the cap");
    // One closes: the fourth is served.
    drop(open.pop());
    let head = tokio::time::timeout(Duration::from_secs(10), read_head(&mut fourth))
        .await
        .expect("served once a connection closed");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

/// A self-signed certificate for localhost, written as `cert.pem` and
/// `key.pem` in `dir`; returns its DER.
fn write_certificate(dir: &std::path::Path) -> Vec<u8> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("cert");
    // Written beside and renamed over, as certbot and cp-then-mv do.
    std::fs::write(dir.join("cert.pem.new"), cert.cert.pem()).expect("write cert");
    std::fs::write(dir.join("key.pem.new"), cert.signing_key.serialize_pem()).expect("write key");
    std::fs::rename(dir.join("cert.pem.new"), dir.join("cert.pem")).expect("rename");
    std::fs::rename(dir.join("key.pem.new"), dir.join("key.pem")).expect("rename");
    cert.cert.der().to_vec()
}

/// The certificate a new TLS connection to `url` is offered.
async fn served_certificate(url: &str) -> Vec<u8> {
    crate::common::install_crypto();
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .build()
        .expect("client");
    let response = client
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("GET over TLS");
    assert_eq!(response.status(), StatusCode::OK);
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("peer certificate")
        .to_vec()
}

#[tokio::test]
async fn sighup_reloads_the_tls_certificate_and_a_broken_one_keeps_the_old() {
    let dir = tempfile::tempdir().expect("dir");
    let first = write_certificate(dir.path());
    std::fs::write(
        dir.path().join("tls.toml"),
        "[tls]\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n",
    )
    .expect("config");
    let server = crate::cli::Server::start_with(dir.path(), &["--config", "tls.toml"]);
    let (_, url) = server.until_listening();
    assert!(url.starts_with("https://"), "{url}");
    assert_eq!(served_certificate(&url).await, first);
    let pid = nix::unistd::Pid::from_raw(server.pid() as i32);
    let hangup = || nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).expect("SIGHUP");

    // Replaced and signalled: new connections see the new certificate.
    let second = write_certificate(dir.path());
    hangup();
    let mut seen = served_certificate(&url).await;
    for _ in 0..50 {
        if seen == second {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = served_certificate(&url).await;
    }
    assert_eq!(seen, second, "the reloaded certificate is served");

    // A key that does not fit the certificate: the second pair stays.
    let third = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    std::fs::write(dir.path().join("cert.pem"), third.cert.pem()).expect("write");
    hangup();
    // Garbage for a certificate, too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(served_certificate(&url).await, second);
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").expect("write");
    hangup();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        served_certificate(&url).await,
        second,
        "a broken pair keeps the old"
    );

    let (code, logs) = server.terminate();
    assert_eq!(code, Some(0), "{logs}");
    assert!(logs.contains("SIGHUP: TLS certificate reloaded"), "{logs}");
    assert!(
        logs.contains("TLS certificate not reloaded")
            && logs.contains("does not fit the certificate"),
        "the refusal says why: {logs}"
    );
    assert!(logs.contains("no certificate found"), "{logs}");
}
