//! Process wiring: settings from the environment (Lambda) or flags (`imauth serve`),
//! built once at cold start into [`Services`], and the Lambda runtime loop.
//!
//! Environment:
//! - `IMAUTH_STORE`: `dynamodb` (default; the table named by `TABLE_NAME`, the client
//!   from the standard AWS environment) or `embedded` (in-process; `IMAUTH_SEED_FILE`
//!   fills it).
//! - `IMAUTH_SEED_FILE`: apps and users to load into the embedded store.
//! - `IMAUTH_KEYS_SECRET_ARN`: production keys: a Secrets Manager secret whose string is
//!   the private key-set JSON (`KeySetDocument`, made by `imauth keys init`), read once
//!   per cold start. A missing or malformed secret fails the cold start.
//! - `IMAUTH_PUBLIC_KEYS_SECRET_ARN`: for the functions that only verify (`jwks`,
//!   `push-token`): a secret holding only the public key set (`PublicKeySet`, written by
//!   `imauth keys init` and `rotate`). Used when `IMAUTH_KEYS_SECRET_ARN` is not set; a
//!   function whose routes sign refuses to start with it alone (see `config/keys.rs`).
//! - `IMAUTH_KEYS_FILE`: the same JSON from a file (local runs, tests). With neither, a key
//!   set is generated at start, which is allowed only for local stores (embedded, or
//!   DynamoDB on loopback): elsewhere each instance would sign with its own key.
//! - `IMAUTH_PASSWORD_POLICY`: `owasp` (default), `m=KIB,t=N,p=N`, or `insecure-fast`
//!   (tests and demos). Anything weaker than OWASP is refused unless the store is
//!   embedded or DynamoDB is reached on a loopback endpoint (DynamoDB Local).
//! - `IMAUTH_ISSUER`: the `iss` of minted tokens, default `imauth`.
//! - `IMAUTH_TLS_ROOTS`: `amazon` (default: only the Amazon Trust Services roots) or
//!   `native` (also the platform's); see [`crate::aws`].
//! - AWS: `AWS_REGION` and the execution role's credentials, as Lambda sets them, and
//!   optional `AWS_ENDPOINT_URL[_<SERVICE>]` overrides (see [`crate::aws::lambda_sdk_config`]).
//! - `RUST_LOG`: `level` and `target=level` directives (see [`init_logging`]).
//! - `IMAUTH_KEYS_GENERATION` (template parameter `KeysGeneration`) is not read: changing
//!   it is how a deploy replaces every running instance after a key rotation.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use aws_types::SdkConfig;

use crate::auth::password::PasswordPolicy;
use crate::error::{Error, Result};
use crate::http::{Route, Services, handle, not_found};
use crate::service::Crypto;
use crate::service::seed::SeedFile;
use crate::store::{DynamoStore, EmbeddedStore};

mod keys;
pub use keys::{keys_from_secret, public_keys_from_secret};

pub const DEFAULT_ISSUER: &str = "imauth";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    Dynamo,
}

impl std::str::FromStr for StoreKind {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "embedded" => Ok(Self::Embedded),
            "dynamodb" => Ok(Self::Dynamo),
            other => Err(Error::bad_request(format!(
                "store {other:?}: expected dynamodb or embedded"
            ))),
        }
    }
}

/// Whether the DynamoDB endpoint from the environment is on this machine.
fn dynamo_endpoint_is_loopback() -> bool {
    let Some(url) = env("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| env("AWS_ENDPOINT_URL")) else {
        return false;
    };
    let authority = url.split("://").nth(1).unwrap_or(&url);
    ["127.0.0.1:", "localhost:", "[::1]:"]
        .iter()
        .any(|loopback| authority.starts_with(loopback))
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub store: StoreKind,
    pub seed_file: Option<PathBuf>,
    pub keys_secret_arn: Option<String>,
    pub public_keys_secret_arn: Option<String>,
    pub keys_file: Option<PathBuf>,
    pub password_policy: PasswordPolicy,
    pub issuer: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            store: StoreKind::Embedded,
            seed_file: None,
            keys_secret_arn: None,
            public_keys_secret_arn: None,
            keys_file: None,
            password_policy: PasswordPolicy::OWASP,
            issuer: DEFAULT_ISSUER.to_owned(),
        }
    }
}

/// An environment variable, unless unset or blank.
pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Parses `owasp`, `insecure-fast` or `m=19456,t=2,p=1`.
pub fn parse_password_policy(text: &str) -> Result<PasswordPolicy> {
    match text.trim() {
        "owasp" => return Ok(PasswordPolicy::OWASP),
        "insecure-fast" => return Ok(PasswordPolicy::INSECURE_FAST),
        _ => {}
    }
    let mut policy = PasswordPolicy::OWASP;
    for part in text.split(',') {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| Error::bad_request(format!("password policy part {part:?}")))?;
        let value: u32 = value
            .trim()
            .parse()
            .map_err(|_| Error::bad_request(format!("password policy value {value:?}")))?;
        match key.trim() {
            "m" => policy.memory_kib = value,
            "t" => policy.iterations = value,
            "p" => policy.parallelism = value,
            other => return Err(Error::bad_request(format!("password policy key {other:?}"))),
        }
    }
    Ok(policy)
}

impl Settings {
    pub fn from_env() -> Result<Self> {
        let store = match env("IMAUTH_STORE") {
            None => StoreKind::Dynamo,
            Some(kind) => kind.parse()?,
        };
        let mut settings = Self {
            store,
            ..Self::default()
        };
        settings.seed_file = env("IMAUTH_SEED_FILE").map(PathBuf::from);
        settings.keys_file = env("IMAUTH_KEYS_FILE").map(PathBuf::from);
        settings.keys_secret_arn = env("IMAUTH_KEYS_SECRET_ARN");
        settings.public_keys_secret_arn = env("IMAUTH_PUBLIC_KEYS_SECRET_ARN");
        if let Some(policy) = env("IMAUTH_PASSWORD_POLICY") {
            settings.password_policy = parse_password_policy(&policy)?;
        }
        if let Some(issuer) = env("IMAUTH_ISSUER") {
            settings.issuer = issuer;
        }
        Ok(settings)
    }

    /// Whether the store is one only this machine uses (embedded, or DynamoDB Local).
    fn store_is_local(&self) -> bool {
        self.store == StoreKind::Embedded || dynamo_endpoint_is_loopback()
    }

    fn check(&self) -> Result<()> {
        let weak = self.password_policy.memory_kib < PasswordPolicy::OWASP.memory_kib
            || self.password_policy.iterations < PasswordPolicy::OWASP.iterations;
        if weak && !self.store_is_local() {
            return Err(Error::bad_request(
                "a password policy weaker than OWASP's is only allowed with the embedded store or DynamoDB Local",
            ));
        }
        Ok(())
    }

    /// The embedded store, holding the seed file's apps and users if one is named.
    pub async fn embedded_store(&self, crypto: &Crypto) -> Result<EmbeddedStore> {
        match &self.seed_file {
            None => Ok(EmbeddedStore::new()),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::bad_request(format!("reading seed file {}: {e}", path.display()))
                })?;
                SeedFile::parse(&text)?
                    .into_store(&crypto.hasher, crypto.clock.as_ref())
                    .await
            }
        }
    }

    /// The DynamoDB store over `sdk`, its connection opened here, during init, not by
    /// the first request.
    pub async fn dynamo_store(sdk: &SdkConfig) -> Result<DynamoStore> {
        let store = DynamoStore::from_sdk_config(sdk)?;
        store.warm_up().await;
        Ok(store)
    }

    /// The services a function serving `routes` needs: no store client (and no
    /// connection warm-up) when none of its routes reads the store.
    ///
    /// A function that signs needs the private key set: with only the public one it
    /// refuses to start rather than answer its first login with a 500.
    pub async fn build_services_for(&self, routes: &[Route]) -> Result<Services> {
        let services = if routes.iter().any(|r| r.needs_store()) {
            self.build_services().await?
        } else {
            let crypto = self.load_crypto(None).await?;
            Services::over(Arc::new(EmbeddedStore::new()), crypto)
        };
        if let Some(route) = routes.iter().find(|r| r.needs_private_keys())
            && !services.login.crypto().tokens.can_sign()
        {
            return Err(Error::internal(format!(
                "{} signs tokens: it needs the private key set (IMAUTH_KEYS_SECRET_ARN), \
                 not only the public keys",
                route.path()
            )));
        }
        Ok(services)
    }

    /// Every service over the configured store.
    pub async fn build_services(&self) -> Result<Services> {
        Ok(match self.store {
            StoreKind::Embedded => {
                let crypto = self.load_crypto(None).await?;
                Services::over(Arc::new(self.embedded_store(&crypto).await?), crypto)
            }
            StoreKind::Dynamo => {
                // One SDK configuration (credentials, region, HTTP client) for both clients.
                // The key read and the DynamoDB warm-up go to different endpoints, so
                // they run at once: init waits for the slower, not for both.
                let sdk = crate::aws::lambda_sdk_config()?;
                let (crypto, store) =
                    tokio::join!(self.load_crypto(Some(&sdk)), Self::dynamo_store(&sdk));
                let crypto = crypto?;
                Services::over(Arc::new(store?), crypto)
            }
        })
    }
}

/// JSON log lines on stderr, filtered by `RUST_LOG` (default `info`).
///
/// `RUST_LOG` takes `level` and `target=level` directives (`info,shared=debug`): a
/// `Targets` filter, not an `EnvFilter`, whose span and field matching would cost every
/// binary a regex engine (~160 KB) for filters nobody sets on a login function. A
/// malformed `RUST_LOG` falls back to `info` and says so.
pub fn init_logging() {
    let configured = std::env::var("RUST_LOG").ok();
    let (filter, malformed) = log_filter(configured.as_deref());
    let subscriber = tracing_subscriber::fmt()
        // The builder's own ceiling is `info`; `filter` alone decides.
        .with_max_level(tracing::level_filters::LevelFilter::TRACE)
        .json()
        // The runtime opens a span per invocation holding `requestId` and `xrayTraceId`:
        // printing it puts both on every line a request logs.
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(std::io::stderr)
        .finish();
    use tracing_subscriber::layer::SubscriberExt as _;
    let _ = tracing::subscriber::set_global_default(subscriber.with(filter));
    if malformed {
        tracing::warn!(rust_log = ?configured, "RUST_LOG is malformed; logging at info");
    }
}

/// The filter `RUST_LOG` asks for (`info` when unset or blank), and whether it was
/// malformed (then also `info`). Dependencies never log above `debug`, where they would
/// print request and response bodies (see [`crate::logging`]).
fn log_filter(rust_log: Option<&str>) -> (tracing_subscriber::filter::Targets, bool) {
    let info = || tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO);
    let (filter, malformed) = match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        None => (info(), false),
        Some(directives) => match directives.parse() {
            Ok(filter) => (filter, false),
            Err(_) => (info(), true),
        },
    };
    (crate::logging::cap_dependencies(&filter), malformed)
}

/// The Lambda runtime loop for a function's routes, over services built once at cold
/// start. A path outside `routes` (API Gateway misconfigured) is a 404.
pub async fn serve_lambda(
    services: &Services,
    routes: &'static [Route],
) -> Result<(), lambda_http::Error> {
    let verifies_passwords = routes.iter().any(|r| r.verifies_passwords());
    lambda_http::run(lambda_http::service_fn(
        move |req: lambda_http::Request| async move {
            if verifies_passwords {
                // First request only: argon2's work area is faulted in while this
                // request reads the store (see `prepare_work_area`).
                services.login.crypto().hasher.prepare_work_area();
            }
            let response = match Route::for_path(req.uri().path()) {
                Some(route) if routes.contains(&route) => handle(services, route, req).await,
                _ => not_found(req.uri().path()),
            };
            Ok::<_, Infallible>(response)
        },
    ))
    .await
}

/// What every function's `main` does: log setup, settings from the environment,
/// services, then the runtime loop. A bad configuration fails the cold start with a
/// clear log line rather than serving errors.
pub async fn run_function(routes: &'static [Route]) -> Result<(), lambda_http::Error> {
    init_logging();
    let services = match Settings::from_env() {
        Ok(settings) => settings.build_services_for(routes).await,
        Err(e) => Err(e),
    };
    let services = services.inspect_err(|e| {
        tracing::error!(error = %e, "configuration refused; not starting");
    })?;
    serve_lambda(&services, routes).await
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn rust_log_takes_levels_and_target_directives_and_falls_back_to_info() {
        let (filter, malformed) = log_filter(Some("warn,shared=debug"));
        assert!(!malformed);
        assert!(filter.would_enable("shared::http", &Level::DEBUG));
        assert!(!filter.would_enable("hyper", &Level::INFO));
        assert!(filter.would_enable("hyper", &Level::WARN));

        for unset in [None, Some(""), Some("  ")] {
            let (filter, malformed) = log_filter(unset);
            assert!(!malformed);
            assert!(filter.would_enable("shared", &Level::INFO));
            assert!(!filter.would_enable("shared", &Level::DEBUG));
        }

        let (filter, malformed) = log_filter(Some("shared=[{loud}]"));
        assert!(malformed);
        assert!(filter.would_enable("shared", &Level::INFO));
        assert!(!filter.would_enable("shared", &Level::DEBUG));
    }
}
