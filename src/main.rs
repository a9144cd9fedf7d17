//! The `stsgate` binary: wiring only. Parse the CLI, load and check the config before binding
//! any port (exit 64 on a bad config), serve, drain on a signal.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use stsgate::config::{self, Problem, Severity};
use stsgate::identity::{KeyKind, new_access_key_id, new_secret_access_key};

/// Exit code for a configuration error (64, as linkerd2-proxy uses).
const EXIT_CONFIG: u8 = 64;
/// Exit code when a listener cannot be bound (sysexits EX_UNAVAILABLE).
const EXIT_UNAVAILABLE: u8 = 69;

#[derive(Parser)]
#[command(
    name = "stsgate",
    version,
    about = "Short-lived AWS-style credentials and SigV4 enforcement in front of S3 stores and HTTP APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (S3, STS and HTTP APIs on one listener, plus the admin listener).
    Serve {
        #[arg(long, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
    },
    /// Validate a config file and lint its policies. Exit 0 if clean, 64 if invalid,
    /// 1 if there are warnings and --strict is given.
    Check {
        #[arg(long, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
        /// Treat warnings as failures (exit 1).
        #[arg(long)]
        strict: bool,
    },
    /// Evaluate policy files against actions and resources (like `aws iam
    /// simulate-custom-policy`): one JSON line per (action, resource). Exit 0 whatever the
    /// decisions, 64 on a malformed policy or argument.
    Simulate {
        /// Identity policy file (repeatable).
        #[arg(long = "policy", value_name = "FILE")]
        policies: Vec<PathBuf>,
        /// Session policy file (repeatable; together they form one set).
        #[arg(long = "session-policy", value_name = "FILE")]
        session_policies: Vec<PathBuf>,
        /// Permissions boundary policy file.
        #[arg(long, value_name = "FILE")]
        boundary: Option<PathBuf>,
        /// Resource policy file (needs Principal; see --caller).
        #[arg(long, value_name = "FILE")]
        resource_policy: Option<PathBuf>,
        /// Action to evaluate, e.g. s3:GetObject (repeatable).
        #[arg(long = "action", required = true)]
        actions: Vec<String>,
        /// Resource ARN (repeatable; default "*").
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// Context key: key=type:value[,value], type one of string, numeric, boolean, date, ip,
        /// binary or their List forms (repeatable).
        #[arg(long = "context")]
        context: Vec<String>,
        /// Caller ARN for Principal matching (user, assumed-role session or root).
        #[arg(long)]
        caller: Option<String>,
    },
    /// Print the current TOTP code of a configured MFA device (like `oathtool --totp`).
    MfaCode {
        #[arg(long, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
        /// The device's serial, e.g. arn:aws:iam::111122223333:mfa/no_skill.
        #[arg(long)]
        serial: String,
    },
    /// Print a new random keyring key (or, with --access-key, a user access key) as TOML.
    Keygen {
        /// Key id for the keyring entry (default: key-<UTC date>-<random>).
        #[arg(long)]
        id: Option<String>,
        /// Instead print a long-term access key id and secret for this 12-digit account.
        #[arg(long, value_name = "ACCOUNT")]
        access_key: Option<String>,
    },
    /// Revoke sessions now (POST /revocations on the admin listener, signed with the AWS
    /// credentials in the environment; needs stsgate:RevokeSessions). Name one scope: a role
    /// (optionally one session name of it), a user, a source identity or an access key id.
    /// Exit 0 when revoked, 1 when refused.
    Revoke {
        /// The admin listener.
        #[arg(long, default_value = "http://127.0.0.1:7481")]
        admin: String,
        /// Every session of this role (or, with --session-name, those of that name).
        #[arg(long)]
        role_arn: Option<String>,
        #[arg(long, requires = "role_arn")]
        session_name: Option<String>,
        /// Every GetSessionToken session of this user.
        #[arg(long)]
        user_arn: Option<String>,
        #[arg(long)]
        source_identity: Option<String>,
        /// One temporary access key id (ASIA…).
        #[arg(long)]
        access_key_id: Option<String>,
        /// Sessions issued before this time (RFC 3339, e.g. 2026-12-07T10:00:00Z; default: now).
        #[arg(long)]
        issued_before: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config, strict } => check(&config, strict),
        Command::Keygen { id, access_key } => keygen(id, access_key),
        Command::MfaCode { config, serial } => mfa_code(&config, &serial),
        Command::Serve { config } => serve(&config),
        Command::Revoke {
            admin,
            role_arn,
            session_name,
            user_arn,
            source_identity,
            access_key_id,
            issued_before,
        } => revoke(
            &admin,
            serde_json::json!({
                "role_arn": role_arn,
                "session_name": session_name,
                "user_arn": user_arn,
                "source_identity": source_identity,
                "access_key_id": access_key_id,
            }),
            issued_before.as_deref(),
        ),
        Command::Simulate {
            policies,
            session_policies,
            boundary,
            resource_policy,
            actions,
            resources,
            context,
            caller,
        } => simulate(
            policies,
            session_policies,
            boundary,
            resource_policy,
            actions,
            resources,
            context,
            caller,
        ),
    }
}

fn revoke(admin: &str, mut ask: serde_json::Value, issued_before: Option<&str>) -> ExitCode {
    // Only the scope given goes out (the API refuses nulls it does not need).
    if let Some(fields) = ask.as_object_mut() {
        fields.retain(|_, v| !v.is_null());
    }
    if let Some(t) = issued_before {
        match time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339) {
            Ok(t) => ask["issued_before"] = t.unix_timestamp().into(),
            Err(e) => {
                eprintln!("--issued-before {t}: not an RFC 3339 time: {e}");
                return ExitCode::from(64);
            }
        }
    }
    match stsgate::revocation::client::revoke(admin, &ask) {
        Ok((200, body)) => {
            println!("{body}");
            ExitCode::SUCCESS
        }
        Ok((status, body)) => {
            eprintln!("refused ({status}): {body}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn print_problems(problems: &[Problem]) {
    for p in problems {
        eprintln!("{p}");
    }
}

fn check(path: &std::path::Path, strict: bool) -> ExitCode {
    match config::load(path) {
        Ok(loaded) => {
            print_problems(&loaded.warnings);
            let c = &loaded.config;
            let users: usize = c.accounts.iter().map(|a| a.users.len()).sum();
            let roles: usize = c.accounts.iter().map(|a| a.roles.len()).sum();
            println!(
                "{}: valid ({} account(s), {users} user(s), {roles} role(s), {} backend(s)); {} warning(s)",
                path.display(),
                c.accounts.len(),
                c.backends.len(),
                loaded.warnings.len()
            );
            if strict && !loaded.warnings.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(problems) => {
            print_problems(&problems);
            let errors = problems
                .iter()
                .filter(|p| p.severity == Severity::Error)
                .count();
            println!("{}: invalid ({errors} error(s))", path.display());
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn mfa_code(path: &std::path::Path, serial: &str) -> ExitCode {
    let loaded = match config::load(path) {
        Ok(l) => l,
        Err(problems) => {
            print_problems(&problems);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let device = loaded
        .config
        .accounts
        .iter()
        .flat_map(|a| &a.users)
        .flat_map(|u| &u.mfa_devices)
        .find(|d| d.serial == serial);
    let Some(device) = device else {
        eprintln!("error: no MFA device {serial} in {}", path.display());
        return ExitCode::from(EXIT_CONFIG);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match stsgate::sts::mfa::current_code(device.seed.expose(), now) {
        Some(code) => {
            println!("{code}");
            ExitCode::SUCCESS
        }
        None => ExitCode::from(EXIT_CONFIG),
    }
}

#[allow(clippy::too_many_arguments)]
fn simulate(
    policies: Vec<PathBuf>,
    session_policies: Vec<PathBuf>,
    boundary: Option<PathBuf>,
    resource_policy: Option<PathBuf>,
    actions: Vec<String>,
    resources: Vec<String>,
    context: Vec<String>,
    caller: Option<String>,
) -> ExitCode {
    let read = |p: &PathBuf| -> Result<(String, String), String> {
        std::fs::read_to_string(p)
            .map(|t| (p.display().to_string(), t))
            .map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let input = (|| -> Result<stsgate::policy::simulate::SimulateInput, String> {
        Ok(stsgate::policy::simulate::SimulateInput {
            policies: policies.iter().map(read).collect::<Result<_, _>>()?,
            session_policies: session_policies
                .iter()
                .map(read)
                .collect::<Result<_, _>>()?,
            boundary: boundary.as_ref().map(read).transpose()?,
            resource_policy: resource_policy.as_ref().map(read).transpose()?,
            actions,
            resources,
            context,
            caller,
        })
    })();
    match input.and_then(|i| stsgate::policy::simulate::simulate(&i)) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn keygen(id: Option<String>, access_key: Option<String>) -> ExitCode {
    if let Some(account) = access_key {
        let Some(number) = account.parse::<u64>().ok().filter(|_| account.len() == 12) else {
            eprintln!("error: --access-key needs a 12-digit account id, not \"{account}\"");
            return ExitCode::from(EXIT_CONFIG);
        };
        println!("[[accounts.users.access_keys]]");
        println!("id = \"{}\"", new_access_key_id(KeyKind::LongTerm, number));
        println!(
            "secret = \"{}\"   # store it with env: or file: outside a demo",
            new_secret_access_key()
        );
        return ExitCode::SUCCESS;
    }
    let mut key = [0u8; config::KEYRING_KEY_BYTES];
    getrandom::fill(&mut key).expect("the operating system's random source failed");
    let id = id.unwrap_or_else(|| {
        let today = time::OffsetDateTime::now_utc().date();
        let mut tag = [0u8; 3];
        getrandom::fill(&mut tag).expect("the operating system's random source failed");
        format!(
            "key-{}{:02}{:02}-{}",
            today.year(),
            u8::from(today.month()),
            today.day(),
            hex::encode(tag)
        )
    });
    println!("[[keyring.keys]]");
    println!("id = \"{id}\"");
    println!("secret = \"{}\"", data_encoding::BASE64.encode(&key));
    println!(
        "# then set [keyring] active = \"{id}\" to mint with it; keep older keys until their tokens expire"
    );
    ExitCode::SUCCESS
}

fn serve(path: &std::path::Path) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STSGATE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // The process's TLS provider, for the libraries that build their own rustls configs (the
    // Redis client for rediss://); the gateway's own configs name ring themselves.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let loaded = match config::load(path) {
        Ok(loaded) => loaded,
        Err(problems) => {
            print_problems(&problems);
            eprintln!("{}: invalid config, not starting", path.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    print_problems(&loaded.warnings);
    let config = Arc::new(loaded.config);
    let state = match stsgate::server::State::new(config.clone()) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the async runtime");
    runtime.block_on(async move {
        let bound = match stsgate::server::Bound::bind(&config).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EXIT_UNAVAILABLE);
            }
        };
        tracing::info!(
            gateway = %bound.gateway_addr().map(|a| a.to_string()).unwrap_or_default(),
            admin = %bound.admin_addr().map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
            tls = config.server.tls.is_some(),
            workers = config.server.workers,
            "stsgate listening"
        );
        state.sts.federation.prefetch();
        match stsgate::server::serve(state, bound, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("server error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
