//! Fetching an exporter's `/metrics` over HTTP, bounded in time and size: an
//! endless or huge answer is cut off and named, never read whole.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Why a scrape gave no text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScrapeError {
    #[error("{0} is not an http:// address")]
    BadAddress(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("answered HTTP {0}")]
    Status(StatusCode),
    #[error("the answer is not UTF-8 text")]
    NotText,
    #[error("unreachable: {0}")]
    Unreachable(String),
}

/// A pooled HTTP/1.1 client for exporters.
#[derive(Clone)]
pub struct Scraper {
    client: Client<HttpConnector, Empty<Bytes>>,
    timeout: Duration,
    max_bytes: usize,
}

impl std::fmt::Debug for Scraper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scraper")
            .field("timeout", &self.timeout)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Scraper {
    /// A client whose every scrape ends within `timeout` (connecting,
    /// headers and body together) and reads at most `max_bytes`.
    pub fn new(timeout: Duration, max_bytes: usize) -> Scraper {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        Scraper {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            max_bytes,
        }
    }

    /// The text at `url`.
    pub async fn fetch(&self, url: &str) -> Result<String, ScrapeError> {
        let uri: Uri = url
            .parse()
            .ok()
            .filter(|u: &Uri| u.scheme_str() == Some("http") && u.host().is_some())
            .ok_or_else(|| ScrapeError::BadAddress(url.to_owned()))?;
        match tokio::time::timeout(self.timeout, self.fetch_unbounded(uri)).await {
            Ok(result) => result,
            Err(_) => Err(ScrapeError::Timeout(self.timeout)),
        }
    }

    async fn fetch_unbounded(&self, uri: Uri) -> Result<String, ScrapeError> {
        let request = Request::get(uri)
            .header(http::header::ACCEPT, "text/plain;version=0.0.4")
            .body(Empty::new())
            .map_err(|e| ScrapeError::Unreachable(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| ScrapeError::Unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(ScrapeError::Status(response.status()));
        }
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ScrapeError::Unreachable(e.to_string()))?;
            if let Some(data) = frame.data_ref() {
                if bytes.len() + data.len() > self.max_bytes {
                    return Err(ScrapeError::TooLarge(self.max_bytes));
                }
                bytes.extend_from_slice(data);
            }
        }
        String::from_utf8(bytes).map_err(|_| ScrapeError::NotText)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    const FIXTURE: &str =
        include_str!("../../../tests/fixtures/dcgm/ericsson-ccd-t4-under-load.txt");

    /// Serves one connection: reads the request head, then writes `head` and
    /// `body` chunks (endless when `endless`), pausing `pause` first.
    async fn serve_once(
        head: &'static str,
        body: &'static [u8],
        endless: bool,
        pause: Duration,
    ) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            tokio::time::sleep(pause).await;
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            loop {
                if socket.write_all(body).await.is_err() || !endless {
                    break;
                }
            }
        });
        format!("http://{address}/metrics")
    }

    #[tokio::test]
    async fn a_served_fixture_is_read_and_parsed() {
        let head: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                FIXTURE.len()
            )
            .into_boxed_str(),
        );
        let url = serve_once(head, FIXTURE.as_bytes(), false, Duration::ZERO).await;
        let text = Scraper::new(Duration::from_secs(5), 1 << 20)
            .fetch(&url)
            .await
            .expect("the fixture");
        assert_eq!(text, FIXTURE);
        assert_eq!(
            super::super::dcgm::parse(&text).gpus[0].util_pct,
            Some(91.0)
        );
    }

    #[tokio::test]
    async fn an_endless_answer_is_cut_at_the_size_limit() {
        let url = serve_once(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n",
            b"DCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} 1\n",
            true,
            Duration::ZERO,
        )
        .await;
        let error = Scraper::new(Duration::from_secs(30), 64 * 1024)
            .fetch(&url)
            .await
            .expect_err("too large");
        assert_eq!(error, ScrapeError::TooLarge(64 * 1024));
    }

    #[tokio::test]
    async fn a_silent_exporter_times_out() {
        let url = serve_once("", b"", false, Duration::from_secs(60)).await;
        let error = Scraper::new(Duration::from_millis(300), 1024)
            .fetch(&url)
            .await
            .expect_err("no answer");
        assert_eq!(error, ScrapeError::Timeout(Duration::from_millis(300)));
    }

    #[tokio::test]
    async fn errors_and_bad_addresses_are_named() {
        let url = serve_once(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            b"",
            false,
            Duration::ZERO,
        )
        .await;
        let scraper = Scraper::new(Duration::from_secs(5), 1024);
        assert_eq!(
            scraper.fetch(&url).await,
            Err(ScrapeError::Status(StatusCode::SERVICE_UNAVAILABLE))
        );
        assert!(matches!(
            scraper.fetch("https://example.invalid/metrics").await,
            Err(ScrapeError::BadAddress(_))
        ));
        assert!(matches!(
            scraper.fetch("http://127.0.0.1:1/metrics").await,
            Err(ScrapeError::Unreachable(_))
        ));
    }
}
