//! Settings: what a process runs with, from the environment (Lambda) or flags
//! (`imauth serve`, the CLI), with one default. Turning them into services is
//! [`crate::bootstrap`]'s job.
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
//! - `RUST_LOG`: `level` and `target=level` directives (see [`crate::logging::init_logging`]).
//! - `IMAUTH_KEYS_GENERATION` (template parameter `KeysGeneration`) is not read: changing
//!   it is how a deploy replaces every running instance after a key rotation.

use std::path::PathBuf;

use crate::auth::password::PasswordPolicy;
use crate::env::{self, var};
use crate::error::{Error, Result};

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
            other => Err(Error::config(format!(
                "store {other:?}: expected dynamodb or embedded"
            ))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub store: StoreKind,
    /// The DynamoDB table (`TABLE_NAME`); required with [`StoreKind::Dynamo`].
    pub table_name: Option<String>,
    pub seed_file: Option<PathBuf>,
    pub keys_secret_arn: Option<String>,
    pub public_keys_secret_arn: Option<String>,
    pub keys_file: Option<PathBuf>,
    pub password_policy: PasswordPolicy,
    pub issuer: String,
}

/// What a process runs with when nothing is configured: what a deployed function gets
/// from an empty environment (`imauth serve` picks its store with `--store`).
impl Default for Settings {
    fn default() -> Self {
        Self {
            store: StoreKind::Dynamo,
            table_name: None,
            seed_file: None,
            keys_secret_arn: None,
            public_keys_secret_arn: None,
            keys_file: None,
            password_policy: PasswordPolicy::OWASP,
            issuer: DEFAULT_ISSUER.to_owned(),
        }
    }
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
            .ok_or_else(|| Error::config(format!("password policy part {part:?}")))?;
        let value: u32 = value
            .trim()
            .parse()
            .map_err(|_| Error::config(format!("password policy value {value:?}")))?;
        match key.trim() {
            "m" => policy.memory_kib = value,
            "t" => policy.iterations = value,
            "p" => policy.parallelism = value,
            other => return Err(Error::config(format!("password policy key {other:?}"))),
        }
    }
    Ok(policy)
}

impl Settings {
    pub fn from_env() -> Result<Self> {
        let mut settings = Self::default();
        if let Some(kind) = var("IMAUTH_STORE") {
            settings.store = kind.parse()?;
        }
        settings.table_name = var(env::TABLE_NAME);
        settings.seed_file = var("IMAUTH_SEED_FILE").map(PathBuf::from);
        settings.keys_file = var("IMAUTH_KEYS_FILE").map(PathBuf::from);
        settings.keys_secret_arn = var("IMAUTH_KEYS_SECRET_ARN");
        settings.public_keys_secret_arn = var("IMAUTH_PUBLIC_KEYS_SECRET_ARN");
        if let Some(policy) = var("IMAUTH_PASSWORD_POLICY") {
            settings.password_policy = parse_password_policy(&policy)?;
        }
        if let Some(issuer) = var("IMAUTH_ISSUER") {
            settings.issuer = issuer;
        }
        Ok(settings)
    }

    /// Whether the store is one only this machine uses (embedded, or DynamoDB Local).
    pub(crate) fn store_is_local(&self) -> bool {
        self.store == StoreKind::Embedded || env::dynamo_endpoint_is_loopback()
    }

    /// The table the DynamoDB store serves.
    pub fn table(&self) -> Result<&str> {
        self.table_name
            .as_deref()
            .ok_or_else(|| Error::config("the DynamoDB store needs a table: TABLE_NAME is not set"))
    }

    /// Refuses what must never run: a weak password policy over a shared store.
    pub(crate) fn check(&self) -> Result<()> {
        let weak = self.password_policy.memory_kib < PasswordPolicy::OWASP.memory_kib
            || self.password_policy.iterations < PasswordPolicy::OWASP.iterations;
        if weak && !self.store_is_local() {
            return Err(Error::config(
                "a password policy weaker than OWASP's is only allowed with the embedded store or DynamoDB Local",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_what_an_empty_lambda_environment_gets() {
        let settings = Settings::default();
        assert_eq!(settings.store, StoreKind::Dynamo);
        assert_eq!(settings.password_policy, PasswordPolicy::OWASP);
        assert_eq!(settings.issuer, DEFAULT_ISSUER);
        assert!(matches!(settings.table(), Err(Error::Config(m)) if m.contains("TABLE_NAME")));
        let named = Settings {
            table_name: Some("imauth".into()),
            ..Settings::default()
        };
        assert_eq!(named.table().unwrap(), "imauth");
    }

    #[test]
    fn refused_settings_are_configuration_errors() {
        assert!(matches!(
            "sqlite".parse::<StoreKind>(),
            Err(Error::Config(_))
        ));
        assert_eq!(
            "embedded".parse::<StoreKind>().unwrap(),
            StoreKind::Embedded
        );
        assert_eq!("dynamodb".parse::<StoreKind>().unwrap(), StoreKind::Dynamo);
        for bad in ["m=lots", "q=1", "fast"] {
            assert!(
                matches!(parse_password_policy(bad), Err(Error::Config(_))),
                "{bad}"
            );
        }
        let policy = parse_password_policy("m=8192,t=1,p=1").unwrap();
        assert_eq!((policy.memory_kib, policy.iterations), (8192, 1));
        // A weak policy is fine on a store only this process uses.
        let local = Settings {
            store: StoreKind::Embedded,
            password_policy: PasswordPolicy::INSECURE_FAST,
            ..Settings::default()
        };
        assert!(local.check().is_ok());
    }
}
