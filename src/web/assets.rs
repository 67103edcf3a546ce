//! Static assets (CSS, JS, icons), embedded in the binary. Each is linked
//! with its content hash in the query string and served with an ETag; a
//! request carrying the current hash may be cached for a year.

use std::collections::HashMap;
use std::sync::LazyLock;

use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "assets/static"]
struct Files;

/// Content hash of every embedded asset, by path.
static HASHES: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    Files::iter()
        .filter_map(|path| {
            let file = Files::get(&path)?;
            let digest = Sha256::digest(&file.data);
            let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
            Some((path.into_owned(), hash))
        })
        .collect()
});

/// The URL of an asset, with its content hash for cache busting.
pub fn url(path: &str) -> String {
    match HASHES.get(path) {
        Some(hash) => format!("/assets/{path}?v={hash}"),
        None => format!("/assets/{path}"),
    }
}

/// An asset's bytes, MIME type and hash.
pub struct Asset {
    pub data: std::borrow::Cow<'static, [u8]>,
    pub mime: String,
    pub hash: String,
}

pub fn get(path: &str) -> Option<Asset> {
    let file = Files::get(path)?;
    let hash = HASHES.get(path)?.clone();
    let mime = mime_guess::from_path(path)
        .first_or_octet_stream()
        .to_string();
    Some(Asset {
        data: file.data,
        mime,
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_and_script_are_embedded_with_hashes() {
        for path in ["app.css", "app.js", "logo.svg"] {
            assert!(url(path).contains("?v="), "{path}");
            assert!(get(path).is_some(), "{path}");
        }
        assert_eq!(get("app.css").map(|a| a.mime), Some("text/css".into()));
        assert!(get("../Cargo.toml").is_none());
    }
}
