//! Key pairs (manual §8.3): names, and the OpenSSH public keys a user
//! imports, read with the `ssh-key` crate. Only public keys are kept; a
//! pasted private key is recognised and refused without being kept.

use serde::{Deserialize, Serialize};
use ssh_key::{Algorithm, EcdsaCurve, HashAlg, PublicKey, public::KeyData};

use super::validation::FieldErrors;

/// A key pair's name is at most this many characters …
pub const NAME_MAX: usize = 64;
/// … and an RSA key has at least this many bits.
pub const RSA_MIN_BITS: u32 = 2048;
/// The longest public key accepted, in characters (an RSA 16384 key's
/// line is about 2,800).
pub const PUBLIC_KEY_MAX: usize = 8192;

/// A key pair's name, also the file name of its private key: letters,
/// digits, `-`, `_` and `.`, not starting with `.`, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyPairName(String);

impl KeyPairName {
    /// Parses a name typed by a person; surrounding spaces are ignored.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let name = input.trim();
        if name.is_empty() {
            return Err("key_pair.error.name_required");
        }
        if name.chars().count() > NAME_MAX {
            return Err("key_pair.error.name_length");
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        if name.starts_with('.') || !name.chars().all(allowed) {
            return Err("key_pair.error.name_chars");
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyPairName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is kept of an accepted public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInfo {
    /// The algorithm as OpenSSH names it (`ssh-ed25519`, `ssh-rsa`, …).
    pub algorithm: String,
    /// The key size in bits, as `ssh-keygen -l` prints it.
    pub bits: u32,
    /// `SHA256:<base64>`, as `ssh-keygen -l -E sha256` prints it.
    pub fingerprint: String,
    /// The key as one OpenSSH line (`<algorithm> <base64> [comment]`).
    pub openssh: String,
}

impl PublicKeyInfo {
    /// Reads what is kept of `key`; refuses the kinds of key not accepted.
    pub fn of(key: &PublicKey) -> Result<Self, &'static str> {
        let bits = match (key.algorithm(), key.key_data()) {
            (Algorithm::Ed25519, _) => 256,
            (Algorithm::Ecdsa { curve }, _) => match curve {
                EcdsaCurve::NistP256 => 256,
                EcdsaCurve::NistP384 => 384,
                EcdsaCurve::NistP521 => 521,
            },
            (Algorithm::Rsa { .. }, KeyData::Rsa(rsa)) => {
                let bits = rsa.n.as_positive_bytes().map_or(0, bit_length);
                if bits < RSA_MIN_BITS {
                    return Err("key_pair.error.rsa_too_short");
                }
                bits
            }
            _ => return Err("key_pair.error.algorithm"),
        };
        Ok(Self {
            algorithm: key.algorithm().as_str().to_owned(),
            bits,
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
            openssh: key
                .to_openssh()
                .map_err(|_| "key_pair.error.public_key_malformed")?,
        })
    }
}

/// The number of significant bits of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> u32 {
    let Some(at) = bytes.iter().position(|b| *b != 0) else {
        return 0;
    };
    let bits = (bytes.len() - at - 1) * 8 + (8 - bytes[at].leading_zeros() as usize);
    u32::try_from(bits).unwrap_or(u32::MAX)
}

/// Whether `text` looks like a private key of any common format (OpenSSH,
/// PEM, PKCS#8, PuTTY): such text is refused and never kept.
fn looks_private(text: &str) -> bool {
    text.contains("PRIVATE KEY") || text.starts_with("PuTTY-User-Key-File")
}

/// Reads a public key pasted by a person: one line in OpenSSH format
/// (`ssh-ed25519 AAAA… comment`), an accepted algorithm, an RSA key of at
/// least [`RSA_MIN_BITS`] bits.
pub fn parse_public_key(input: &str) -> Result<PublicKeyInfo, &'static str> {
    let text = input.trim();
    if text.is_empty() {
        return Err("key_pair.error.public_key_required");
    }
    if looks_private(text) {
        return Err("key_pair.error.private_key");
    }
    if text.chars().count() > PUBLIC_KEY_MAX {
        return Err("key_pair.error.public_key_length");
    }
    if text.contains('\n') {
        return Err("key_pair.error.public_key_lines");
    }
    let key = PublicKey::from_openssh(text).map_err(|_| "key_pair.error.public_key_malformed")?;
    PublicKeyInfo::of(&key)
}

/// A request to import a public key, as the form sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ImportKeyPairRequest {
    pub name: String,
    pub public_key: String,
}

impl ImportKeyPairRequest {
    /// The name and the key, or every problem found.
    pub fn validate(&self) -> Result<(KeyPairName, PublicKeyInfo), FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = KeyPairName::parse(&self.name)
            .map_err(|e| errors.add("name", e))
            .ok();
        let key = parse_public_key(&self.public_key)
            .map_err(|e| errors.add("public_key", e))
            .ok();
        match (name, key) {
            (Some(name), Some(key)) => Ok((name, key)),
            _ => Err(errors),
        }
    }

    /// Whether the pasted text was refused as a private key (the form is
    /// then shown again without it).
    pub fn pasted_private_key(&self) -> bool {
        looks_private(self.public_key.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti user@example";

    #[test]
    fn names_follow_the_rule() {
        for good in ["a", "laptop", "work-2024_rsa.key", &"k".repeat(NAME_MAX)] {
            assert_eq!(KeyPairName::parse(good).map(|n| n.0), Ok(good.to_owned()));
        }
        assert_eq!(
            KeyPairName::parse("  spaced  ").map(|n| n.0),
            Ok("spaced".into())
        );
        assert_eq!(KeyPairName::parse(" "), Err("key_pair.error.name_required"));
        assert_eq!(
            KeyPairName::parse(&"k".repeat(NAME_MAX + 1)),
            Err("key_pair.error.name_length")
        );
        for bad in [".hidden", "a b", "a/b", "鑰匙", "a\"b"] {
            assert_eq!(
                KeyPairName::parse(bad),
                Err("key_pair.error.name_chars"),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_ed25519_key_is_read_with_its_fingerprint() {
        let info = parse_public_key(&format!("  {ED25519}\n")).expect("a key");
        assert_eq!(info.algorithm, "ssh-ed25519");
        assert_eq!(info.bits, 256);
        assert!(info.fingerprint.starts_with("SHA256:"));
        assert_eq!(info.fingerprint.len(), "SHA256:".len() + 43);
        assert_eq!(info.openssh, ED25519);
    }

    #[test]
    fn private_keys_malformed_keys_and_other_kinds_are_refused() {
        let private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        assert_eq!(parse_public_key(private), Err("key_pair.error.private_key"));
        assert_eq!(
            parse_public_key("-----BEGIN RSA PRIVATE KEY-----\nMIIE"),
            Err("key_pair.error.private_key")
        );
        assert_eq!(
            parse_public_key(""),
            Err("key_pair.error.public_key_required")
        );
        assert_eq!(
            parse_public_key("ssh-ed25519 not-base64"),
            Err("key_pair.error.public_key_malformed")
        );
        assert_eq!(
            parse_public_key(&format!("{ED25519}\n{ED25519}")),
            Err("key_pair.error.public_key_lines")
        );
        assert_eq!(
            parse_public_key(&"A".repeat(PUBLIC_KEY_MAX + 1)),
            Err("key_pair.error.public_key_length")
        );
        // The algorithm named in the text must be the one in the data.
        let renamed = ED25519.replacen("ssh-ed25519", "ssh-rsa", 1);
        assert_eq!(
            parse_public_key(&renamed),
            Err("key_pair.error.public_key_malformed")
        );
    }

    /// A DSA key made by `ssh-keygen -t dsa` (OpenSSH 9.2).
    const DSA: &str = "ssh-dss AAAAB3NzaC1kc3MAAACBAJcV7qSSQJh114DqULfQPqQwcKctcO6JeXUFh4mcosLnmAofJODKED9OsHVvJSCEbUswbqjFhVwhgrv73LbDo+/82j8UB3kxZYL2QB9H2AhUdqmy12Wk9VInNNEWPcTb2GJ/qiUR1rOgpOK2AzK/uvstJCHkaJbg0fvoCoSzUYcDAAAAFQCCYzvtWKtt6LmgD47Eo6ULGSkJRQAAAIAKkEZW1988DSDxiX/0U42IyRc7jGkpmEYZB5OC+RlNuWyucW4bp/2WQT4jnwgyptVVbEhhkOb7GBCiu2t4GudsD2lI5mIk8CwIpGcdBVtzMXCxTgIeYOPfYqYyPgfrv9uUzWSn7oHUb1RXJDvWyzRjcXOulPvQApl1atAfx2Gr7QAAAIAM65VmBDcq75HtLzYxc/hBX2OEcXtBpLRiEadCRki4mUccBNtxBBqfWfb7ltV+bYkvMvA3GvX+lSawqqydKCIS+ecScETv/Z369hn31pHklLUlLPMNHKKFVd4RX5tMU1IS47huccnqAQ9wfOnAucXu/TcXw1FH0ja3k3cY3KgFfA== old@lab";

    #[test]
    fn other_kinds_of_key_are_refused_by_name() {
        assert_eq!(parse_public_key(DSA), Err("key_pair.error.algorithm"));
    }

    #[test]
    fn bit_lengths_ignore_leading_zeros() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0, 0x80, 0]), 16);
        assert_eq!(bit_length(&[0x7f; 256]), 2047);
    }

    #[test]
    fn an_import_request_reports_every_field() {
        let request = ImportKeyPairRequest {
            name: ".x".into(),
            public_key: "nonsense".into(),
        };
        let errors = request.validate().expect_err("refused");
        assert_eq!(errors.get("name"), Some("key_pair.error.name_chars"));
        assert_eq!(
            errors.get("public_key"),
            Some("key_pair.error.public_key_malformed")
        );
        assert!(!request.pasted_private_key());
        let request = ImportKeyPairRequest {
            name: "ok".into(),
            public_key: ED25519.into(),
        };
        assert!(request.validate().is_ok());
    }
}
