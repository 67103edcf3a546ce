//! The command line: `serve`, `check-config`, and `user add | reset-password | list`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::app;
use crate::clock::SystemClock;
use crate::cluster::Driver;
use crate::config::{self, CliOverrides, Config, ConfigError, LogFormat};
use crate::service::{ServiceError, Services};
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "mlstack",
    version,
    about = "A self-hosted machine-learning platform for small labs"
)]
struct Cli {
    /// Configuration file (default: ./mlstack.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory holding the store (overrides data_dir).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web interface.
    Serve {
        /// Address and port to listen on (overrides listen).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<String>,
    },
    /// Validate the configuration without serving.
    CheckConfig,
    /// Write a consistent copy of the store to FILE (a new file), asking
    /// the running server when there is one.
    Backup { file: PathBuf },
    /// Replace the store with the backup FILE (while the server is stopped).
    Restore { file: PathBuf },
    /// Manage user accounts (while the server is stopped).
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account and print its generated password.
    Add {
        name: String,
        /// Make the account a platform admin.
        #[arg(long)]
        admin: bool,
    },
    /// Give an account a new generated password and end its sessions.
    ResetPassword { name: String },
    /// List every account.
    List,
}

/// Why the command failed, and so which exit code it ends with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad configuration or arguments: exit code 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Anything else: exit code 1.
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) => 2,
            CliError::Failed(_) => 1,
        }
    }
}

fn load_config(cli: &Cli, listen: Option<String>) -> Result<Config, CliError> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let path = config::config_path(cli.config.as_deref(), &env);
    let text = match &path {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| ConfigError {
            key: "--config".into(),
            problem: format!("cannot read {}: {e}", path.display()),
        })?),
        None => None,
    };
    let overrides = CliOverrides {
        listen,
        data_dir: cli.data_dir.clone(),
    };
    let config = config::resolve(text.as_deref(), &env, &overrides)?;
    if let Some(tls) = &config.tls {
        crate::tls::ReloadableCert::load(tls)?;
    }
    config::check_files(&config)?;
    Ok(config)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A second initialisation (tests calling `run` twice) keeps the first.
    let _ = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs the command line; `Err` carries the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<(), CliError> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = e.exit_code();
            // Help and version go to stdout and exit 0; usage errors exit 2.
            let _ = e.print();
            if code == 0 {
                return Ok(());
            }
            return Err(CliError::Config(ConfigError {
                key: "arguments".into(),
                problem: "see the message above".into(),
            }));
        }
    };
    match &cli.command {
        Command::Serve { listen } => serve(load_config(&cli, listen.clone())?),
        Command::CheckConfig => {
            let config = load_config(&cli, None)?;
            println!("configuration is valid");
            println!("  listen:        {}", config.listen);
            println!("  data_dir:      {}", config.data_dir.display());
            println!("  session idle:  {:#}", config.session_idle_timeout);
            println!("  session life:  {:#}", config.session_lifetime);
            let proxies: Vec<String> = config
                .trusted_proxies
                .iter()
                .map(|p| p.to_string())
                .collect();
            println!(
                "  proxies:       {}",
                if proxies.is_empty() {
                    "none".to_owned()
                } else {
                    proxies.join(", ")
                }
            );
            println!(
                "  tls:           {}",
                if config.tls.is_some() { "on" } else { "off" }
            );
            let limits = &config.limits;
            println!(
                "  limits:        body {} B, headers {} B, {} connections",
                limits.max_body_bytes, limits.max_header_bytes, limits.max_connections
            );
            println!(
                "  timeouts:      keep-alive {:?}, request head {:?}, disconnect {:?}",
                limits.keep_alive, limits.client_request_timeout, limits.client_disconnect_timeout
            );
            check_driver(&config)
        }
        Command::User { action } => user(load_config(&cli, None)?, action),
        Command::Backup { file } => backup(load_config(&cli, None)?, file),
        Command::Restore { file } => restore(load_config(&cli, None)?, file),
    }
}

/// A start-up failure; one that names a configuration key exits with 2.
fn failed(e: anyhow::Error) -> CliError {
    match e.downcast::<ConfigError>() {
        Ok(config) => CliError::Config(config),
        Err(other) => CliError::Failed(other),
    }
}

/// Quiet logging and a one-thread runtime, for commands that do their work
/// and exit.
fn tool_runtime(config: &Config) -> Result<tokio::runtime::Runtime, CliError> {
    init_logging(&Config {
        log_level: "warn".into(),
        ..config.clone()
    });
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?)
}

/// Opens the configured driver and reports whether it works and what the
/// cluster has; every call is bounded by the request timeout. Fails when
/// the driver is not healthy.
fn check_driver(config: &Config) -> Result<(), CliError> {
    let runtime = tool_runtime(config)?;
    let timeout = config.cluster.request_timeout;
    runtime.block_on(async {
        let driver = app::open_driver(config, app::DriverPurpose::Inspect)
            .await
            .map_err(failed)?;
        println!(
            "  driver:        {} (request timeout {:#})",
            driver.name(),
            jiff::SignedDuration::try_from(timeout).unwrap_or_default()
        );
        let bounded = |what: &str| format!("the cluster did not answer {what} within {timeout:?}");
        let health = tokio::time::timeout(timeout, driver.health())
            .await
            .map_err(|_| anyhow::anyhow!(bounded("the health check")))?
            .map_err(|e| anyhow::anyhow!("the cluster driver cannot work: {e}"))?;
        println!(
            "  health:        {} ({})",
            if health.ok { "ok" } else { "NOT OK" },
            health.message
        );
        let capacity = tokio::time::timeout(timeout, driver.capacity())
            .await
            .map_err(|_| anyhow::anyhow!(bounded("the capacity query")))?
            .map_err(|e| anyhow::anyhow!("the cluster driver cannot tell its capacity: {e}"))?;
        println!("  nodes:         {}", capacity.nodes.len());
        for node in &capacity.nodes {
            println!(
                "    {}: {} CPU cores, {} MiB RAM",
                node.name,
                node.cpu_milli as f64 / 1000.0,
                node.ram_mib
            );
        }
        if capacity.gpus.is_empty() {
            println!("  GPUs:          none");
        } else {
            println!("  GPUs:");
            for gpu in &capacity.gpus {
                println!(
                    "    {} ({}): {} free of {}",
                    gpu.type_name, gpu.resource_name, gpu.free, gpu.total
                );
            }
        }
        if !health.ok {
            return Err(CliError::Failed(anyhow::anyhow!(
                "the cluster driver is not healthy: {}",
                health.message
            )));
        }
        Ok(())
    })
}

fn serve(config: Config) -> Result<(), CliError> {
    init_logging(&config);
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let data_dir = config.data_dir.clone();
    let running = app::start(
        config,
        Arc::new(SystemClock),
        app::Options {
            handle_signals: true,
        },
    )
    .map_err(failed)?;
    if let Some(initial) = &running.initial_password {
        println!();
        println!("  First start: created the platform admin account.");
        println!("    username: {}", initial.username);
        println!("    password: {}", initial.password);
        println!(
            "  The password is also in {} until you change it.",
            data_dir
                .join(crate::service::INITIAL_PASSWORD_FILE)
                .display()
        );
        println!();
    }
    println!("  mlstack is listening on {scheme}://{}/", running.addr);
    running.wait()?;
    Ok(())
}

fn user(config: Config, action: &UserCommand) -> Result<(), CliError> {
    let runtime = tool_runtime(&config)?;
    runtime.block_on(async {
        let store = Arc::new(Store::open_in(&config.data_dir).map_err(anyhow::Error::from)?);
        let catalog = Arc::new(crate::i18n::Catalog::load().map_err(anyhow::Error::msg)?);
        let services = Services::new(
            store,
            Arc::new(SystemClock),
            config.session_idle_timeout,
            &config.data_dir,
            catalog,
        );
        let outcome = match action {
            UserCommand::Add { name, admin } => {
                services.create_user(name, *admin).await.map(|created| {
                    println!(
                        "created {} ({})",
                        created.username,
                        if *admin { "admin" } else { "member" }
                    );
                    println!("password: {}", created.password);
                })
            }
            UserCommand::ResetPassword { name } => {
                services.reset_password(None, name).await.map(|reset| {
                    println!("new password for {}: {}", reset.username, reset.password);
                })
            }
            UserCommand::List => services.list_users().await.map(|all| {
                println!("{:<32} {:<7} {:<9} created", "username", "role", "status");
                for u in all {
                    println!(
                        "{:<32} {:<7} {:<9} {}",
                        u.username.as_str(),
                        if u.is_admin { "admin" } else { "member" },
                        if u.disabled { "disabled" } else { "active" },
                        u.created_at.strftime("%Y-%m-%d %H:%M UTC")
                    );
                }
            }),
        };
        outcome.map_err(describe)
    })
}

fn backup(config: Config, file: &std::path::Path) -> Result<(), CliError> {
    if file.exists() {
        return Err(CliError::Failed(anyhow::anyhow!(
            "{} exists; name a new file",
            file.display()
        )));
    }
    let runtime = tool_runtime(&config)?;
    runtime.block_on(async {
        if let Some(bytes) = crate::control::request_backup(&config.data_dir, file)? {
            println!(
                "backup of the running server written to {} ({bytes} bytes)",
                file.display()
            );
            return Ok(());
        }
        // No server: this process holds the store for the copy.
        let store = Store::open_in(&config.data_dir).map_err(anyhow::Error::from)?;
        let partial = crate::control::partial_path(file);
        let entries = store
            .backup_to(&partial)
            .map_err(anyhow::Error::from)
            .and_then(|entries| {
                std::fs::rename(&partial, file)?;
                Ok(entries)
            });
        if entries.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        println!(
            "backup written to {} ({} entries; no server was running)",
            file.display(),
            entries?
        );
        Ok(())
    })
}

fn restore(config: Config, file: &std::path::Path) -> Result<(), CliError> {
    let _runtime = tool_runtime(&config)?;
    let restored =
        crate::service::backup::restore(&config.data_dir, file).map_err(|e| match e {
            ServiceError::Store(store) => {
                CliError::Failed(anyhow::anyhow!("cannot restore: {store}"))
            }
            other => describe(other),
        })?;
    println!(
        "restored {} into {} (schema version {})",
        file.display(),
        config.data_dir.display(),
        restored.schema_version
    );
    if let Some(previous) = restored.previous {
        println!("  the replaced store is kept as {}", previous.display());
    }
    Ok(())
}

/// A message for a person at a terminal.
fn describe(e: ServiceError) -> CliError {
    let catalog = crate::i18n::Catalog::load();
    let text = |key: &str| match &catalog {
        Ok(c) => c.tr(crate::domain::user::Lang::En).t(key).to_owned(),
        Err(_) => key.to_owned(),
    };
    let message = match e {
        ServiceError::NotFound => "no such user".to_owned(),
        ServiceError::Invalid(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.field, text(e.message)))
            .collect::<Vec<_>>()
            .join("; "),
        ServiceError::Refused(key) => text(key),
        other => other.to_string(),
    };
    CliError::Failed(anyhow::anyhow!(message))
}
