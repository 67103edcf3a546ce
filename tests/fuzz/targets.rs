//! Fuzz targets: each parser of outside input, driven by arbitrary bytes.
//! Shared, through `#[path]`, by the bounded random-input tests on stable
//! Rust (`tests/integration/fuzz.rs`, run by `.ci/run`) and by the
//! cargo-fuzz crate (`fuzz/`, libFuzzer on nightly, run by hand for
//! longer). A target panics when the code under test panics or when what it
//! accepted breaks a property named here; anything refused is fine.

use std::collections::BTreeMap;

use mlstack::cluster::metrics::dcgm;
use mlstack::domain::catalog::{
    GpuTypeRequest, HardwareSpecRequest, ImageRequest, StorageTypeRequest,
};
use mlstack::domain::key_pair::{ImportKeyPairRequest, KeyPairName, parse_public_key};
use mlstack::domain::schedule::{Trigger, TriggerFields};
use mlstack::domain::user::UpdateProfileRequest;

/// The text a byte string stands for (scrapes, forms and files reach the
/// parsers as text; invalid UTF-8 is replaced, as a lossy reader would).
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// DCGM exporter output (Prometheus text exposition): never panics; every
/// GPU read is one (host, UUID) with a utilization in 0..=100 and a finite,
/// non-negative memory figure; at most five problems are kept.
pub fn exposition(data: &[u8]) {
    let scrape = dcgm::parse(&text(data));
    let mut keys = std::collections::BTreeSet::new();
    for gpu in &scrape.gpus {
        assert!(
            keys.insert((gpu.host.clone(), gpu.uuid.clone(), gpu.index)),
            "a GPU read twice: {gpu:?}"
        );
        if let Some(u) = gpu.util_pct {
            assert!(u.is_finite() && (0.0..=100.0).contains(&u), "{gpu:?}");
        }
        if let Some(m) = gpu.mem_used_mib {
            assert!(m.is_finite() && m >= 0.0, "{gpu:?}");
        }
    }
    assert!(scrape.problems.len() <= 5);
    let _ = scrape.problem_summary();
}

/// OpenSSH public keys and key pair names: never panics; an accepted key
/// reads back to the same fingerprint from its own OpenSSH line, and an
/// accepted name keeps to the name rule.
pub fn ssh_public_key(data: &[u8]) {
    let input = text(data);
    if let Ok(key) = parse_public_key(&input) {
        assert!(key.fingerprint.starts_with("SHA256:"), "{key:?}");
        assert!(key.bits > 0, "{key:?}");
        assert!(!key.openssh.contains('\n'), "{key:?}");
        let again = parse_public_key(&key.openssh).expect("an accepted key reads back");
        assert_eq!(again.fingerprint, key.fingerprint);
        assert_eq!(again.algorithm, key.algorithm);
    }
    if let Ok(name) = KeyPairName::parse(&input) {
        let name = name.as_str();
        assert!(!name.is_empty() && !name.starts_with('.'), "{name:?}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
            "{name:?}"
        );
    }
}

/// Form bodies (`application/x-www-form-urlencoded`) decoded into the
/// request types the handlers take, then validated: never panics; the
/// first byte picks the form. What the profile accepts has no control
/// characters.
pub fn form(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 7 {
        0 => {
            if let Ok(request) = serde_urlencoded::from_bytes::<UpdateProfileRequest>(body)
                && let Ok(profile) = request.validate("member@example.org")
            {
                for field in [
                    &profile.first_name,
                    &profile.last_name,
                    &profile.email,
                    &profile.address,
                    &profile.phone,
                ] {
                    assert!(!field.chars().any(char::is_control), "{profile:?}");
                }
            }
        }
        1 => {
            if let Ok(request) = serde_urlencoded::from_bytes::<GpuTypeRequest>(body) {
                let _ = request.validate();
            }
        }
        2 => {
            if let Ok(request) = serde_urlencoded::from_bytes::<HardwareSpecRequest>(body) {
                let _ = request.validate();
            }
        }
        3 => {
            if let Ok(request) = serde_urlencoded::from_bytes::<ImageRequest>(body) {
                let _ = request.validate();
            }
        }
        4 => {
            if let Ok(request) = serde_urlencoded::from_bytes::<StorageTypeRequest>(body) {
                let _ = request.validate();
            }
        }
        5 => {
            if let Ok(request) = serde_urlencoded::from_bytes::<ImportKeyPairRequest>(body) {
                let _ = request.validate();
            }
        }
        _ => {
            let fields: Vec<(String, String)> =
                serde_urlencoded::from_bytes(body).unwrap_or_default();
            let get = |name: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or_default()
            };
            let _ = mlstack::domain::project::validate_extension(get("days"), get("reason"));
            let _ = mlstack::domain::project::validate_revised_period(get("start"), get("end"));
            let zone = jiff::tz::TimeZone::UTC;
            if let Ok((Some(from), Some(until))) =
                mlstack::domain::audit::date_range(get("from"), get("to"), &zone)
            {
                assert!(from < until, "{from} {until}");
            }
        }
    }
}

/// The configuration: a TOML file and `MLSTACK_*` variables (after the
/// first NUL byte, one `NAME=value` a line), resolved as at start-up:
/// never panics (a bad key is a `ConfigError` naming it).
pub fn config(data: &[u8]) {
    let input = text(data);
    let (file, env_text) = input.split_once('\0').unwrap_or((&input, ""));
    let env: BTreeMap<String, String> = env_text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let overrides = mlstack::config::CliOverrides::default();
    if let Err(e) = mlstack::config::resolve(Some(file), &env, &overrides) {
        assert!(!e.to_string().is_empty());
    }
}

/// A job schedule's cron expression, and the form's fields read from it:
/// never panics; an accepted expression is five fields that parse again to
/// themselves; its next trigger in the zone the first byte picks is at or
/// after the search start, on a whole minute; fields read from an accepted
/// expression write an expression that is accepted too.
pub fn cron(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(trigger) = Trigger::parse(&text(rest)) else {
        return;
    };
    let expression = trigger.expression();
    assert_eq!(expression.split(' ').count(), 5, "{expression:?}");
    let again = Trigger::parse(expression).expect("an accepted expression parses again");
    assert_eq!(again.expression(), expression);
    let zones = [
        "UTC",
        "Asia/Taipei",
        "America/New_York",
        "Australia/Lord_Howe",
    ];
    let zone = jiff::tz::TimeZone::get(zones[usize::from(which) % zones.len()])
        .expect("a zone of the bundled database");
    let from = jiff::Timestamp::from_second(1_793_000_000).expect("a time");
    if let Some(next) = trigger.next_at_or_after(&zone, from) {
        assert!(next >= from, "{expression:?}: {next} before {from}");
        assert_eq!(next.as_second() % 60, 0, "{expression:?}: {next}");
        assert_eq!(next.subsec_nanosecond(), 0, "{expression:?}: {next}");
    }
    if let Some(fields) = TriggerFields::from_cron(expression) {
        let written = fields.to_cron();
        assert!(
            Trigger::parse(&written).is_ok(),
            "{expression:?} read as fields writes {written:?}"
        );
    }
}
