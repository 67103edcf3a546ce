//! Configuration: defaults < config file < `MLSTACK_*` environment < command
//! line, resolved by one pure function and validated before anything starts.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use serde::Deserialize;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Serving HTTPS directly (otherwise plain HTTP, e.g. behind a proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub workers: usize,
    pub session_idle_timeout: SignedDuration,
    pub tls: Option<TlsConfig>,
    pub log_level: String,
    pub log_format: LogFormat,
}

/// A configuration problem, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// Values given on the command line.
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<String>,
    workers: Option<u32>,
    #[serde(default)]
    session: FileSession,
    #[serde(default)]
    tls: FileTls,
    #[serde(default)]
    log: FileLog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSession {
    idle_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert_file: Option<String>,
    key_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    level: Option<String>,
    format: Option<String>,
}

/// Environment variables and the key each one sets.
pub const ENV_KEYS: [(&str, &str); 8] = [
    ("MLSTACK_LISTEN", "listen"),
    ("MLSTACK_DATA_DIR", "data_dir"),
    ("MLSTACK_WORKERS", "workers"),
    ("MLSTACK_SESSION_IDLE_TIMEOUT", "session.idle_timeout"),
    ("MLSTACK_TLS_CERT_FILE", "tls.cert_file"),
    ("MLSTACK_TLS_KEY_FILE", "tls.key_file"),
    ("MLSTACK_LOG_LEVEL", "log.level"),
    ("MLSTACK_LOG_FORMAT", "log.format"),
];

/// `MLSTACK_CONFIG` names the config file; it is not a key.
pub const ENV_CONFIG_FILE: &str = "MLSTACK_CONFIG";

/// The config file to read: the `--config` argument, else `MLSTACK_CONFIG`,
/// else `./mlstack.toml` when it exists.
pub fn config_path(cli: Option<&Path>, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    cli.map(Path::to_owned)
        .or_else(|| env.get(ENV_CONFIG_FILE).map(PathBuf::from))
        .or_else(|| {
            let local = PathBuf::from("mlstack.toml");
            local.is_file().then_some(local)
        })
}

/// Resolves the configuration from the file's text (if any), the process
/// environment and the command line.
pub fn resolve(
    file_text: Option<&str>,
    env: &BTreeMap<String, String>,
    cli: &CliOverrides,
) -> Result<Config, ConfigError> {
    let file: FileConfig = match file_text {
        Some(text) => toml::from_str(text).map_err(|e| {
            let key = e
                .message()
                .split('`')
                .nth(1)
                .unwrap_or("config file")
                .to_owned();
            ConfigError::new(key, e.to_string().trim().to_owned())
        })?,
        None => FileConfig::default(),
    };

    for name in env.keys().filter(|k| k.starts_with("MLSTACK_")) {
        if name != ENV_CONFIG_FILE && !ENV_KEYS.iter().any(|(var, _)| var == name) {
            return Err(ConfigError::new(
                name.clone(),
                "unknown environment variable (see config.example.toml for the MLSTACK_* names)",
            ));
        }
    }
    let env_value = |key: &str| {
        ENV_KEYS
            .iter()
            .find(|(_, k)| *k == key)
            .and_then(|(var, _)| env.get(*var).cloned())
    };
    let pick = |key: &str, from_file: Option<String>| env_value(key).or(from_file);

    let listen_text = cli
        .listen
        .clone()
        .or_else(|| pick("listen", file.listen))
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen = listen_text.trim().parse::<SocketAddr>().map_err(|_| {
        ConfigError::new(
            "listen",
            format!(
                "{listen_text:?} is not an address and port such as 127.0.0.1:8080 or [::]:8080"
            ),
        )
    })?;

    let data_dir = cli
        .data_dir
        .clone()
        .or_else(|| pick("data_dir", file.data_dir).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("./data"));
    if data_dir.as_os_str().is_empty() {
        return Err(ConfigError::new("data_dir", "must not be empty"));
    }

    let workers = match env_value("workers") {
        Some(text) => text
            .trim()
            .parse::<u32>()
            .map_err(|_| ConfigError::new("workers", format!("{text:?} is not a whole number")))?,
        None => file.workers.unwrap_or(0),
    };
    if workers > 256 {
        return Err(ConfigError::new(
            "workers",
            "must be between 0 (one per core) and 256",
        ));
    }

    let idle_text =
        pick("session.idle_timeout", file.session.idle_timeout).unwrap_or_else(|| "12h".into());
    let session_idle_timeout = idle_text.trim().parse::<SignedDuration>().map_err(|_| {
        ConfigError::new(
            "session.idle_timeout",
            format!("{idle_text:?} is not a duration such as \"12h\" or \"30m\""),
        )
    })?;
    if session_idle_timeout < SignedDuration::from_mins(1)
        || session_idle_timeout > SignedDuration::from_hours(24 * 90)
    {
        return Err(ConfigError::new(
            "session.idle_timeout",
            "must be between 1 minute and 90 days",
        ));
    }

    let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let cert = non_empty(pick("tls.cert_file", file.tls.cert_file));
    let key = non_empty(pick("tls.key_file", file.tls.key_file));
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(TlsConfig {
            cert_file: PathBuf::from(cert),
            key_file: PathBuf::from(key),
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::new(
                "tls.key_file",
                "is required when tls.cert_file is set",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "tls.cert_file",
                "is required when tls.key_file is set",
            ));
        }
    };

    let log_level = pick("log.level", file.log.level).unwrap_or_else(|| "info".into());
    if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
        return Err(ConfigError::new(
            "log.level",
            format!(
                "{log_level:?} is not a level (error, warn, info, debug, trace) or filter directive"
            ),
        ));
    }
    let format_text = pick("log.format", file.log.format).unwrap_or_else(|| "text".into());
    let log_format = match format_text.trim() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(ConfigError::new(
                "log.format",
                format!("{other:?} is not one of \"text\", \"json\""),
            ));
        }
    };

    Ok(Config {
        listen,
        data_dir,
        workers: workers as usize,
        session_idle_timeout,
        tls,
        log_level,
        log_format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let config = resolve(None, &env(&[]), &CliOverrides::default());
        let config = config.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.session_idle_timeout, SignedDuration::from_hours(12));
        assert_eq!(config.tls, None);
        assert_eq!(config.log_format, LogFormat::Text);
    }

    #[test]
    fn layers_override_in_order() {
        let file = "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/a\"\n[session]\nidle_timeout = \"2h\"\n";
        let e = env(&[
            ("MLSTACK_DATA_DIR", "/srv/b"),
            ("MLSTACK_SESSION_IDLE_TIMEOUT", "30m"),
        ]);
        let cli = CliOverrides {
            listen: Some("0.0.0.0:7000".into()),
            data_dir: None,
        };
        let config = resolve(Some(file), &e, &cli).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.listen.to_string(), "0.0.0.0:7000");
        assert_eq!(config.data_dir, PathBuf::from("/srv/b"));
        assert_eq!(config.session_idle_timeout, SignedDuration::from_mins(30));
    }

    #[test]
    fn errors_name_the_key() {
        type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case; 8] = [
            (Some("listen = \"nowhere\""), &[], "listen"),
            (
                Some("[session]\nidle_timeout = \"soon\""),
                &[],
                "session.idle_timeout",
            ),
            (
                Some("[session]\nidle_timeout = \"5s\""),
                &[],
                "session.idle_timeout",
            ),
            (Some("[tls]\ncert_file = \"/c.pem\""), &[], "tls.key_file"),
            (Some("[log]\nformat = \"xml\""), &[], "log.format"),
            (Some("colour = \"blue\""), &[], "colour"),
            (None, &[("MLSTACK_LISTNE", "x")], "MLSTACK_LISTNE"),
            (None, &[("MLSTACK_WORKERS", "many")], "workers"),
        ];
        for (file, vars, key) in cases {
            let err = resolve(file, &env(vars), &CliOverrides::default()).err();
            assert_eq!(
                err.map(|e| e.key),
                Some(key.to_owned()),
                "{file:?} {vars:?}"
            );
        }
    }

    #[test]
    fn the_example_config_is_valid_and_complete() {
        let text = include_str!("../config.example.toml");
        let config = resolve(Some(text), &env(&[]), &CliOverrides::default());
        let defaults = resolve(None, &env(&[]), &CliOverrides::default());
        assert_eq!(
            config.ok(),
            defaults.ok(),
            "the example documents the defaults"
        );
        for (var, key) in ENV_KEYS {
            let leaf = key.rsplit('.').next().unwrap_or(key);
            assert!(text.contains(leaf), "config.example.toml lacks {key}");
            assert!(text.contains(var), "config.example.toml lacks {var}");
        }
    }
}
