//! What the operator commands share: the DynamoDB store from the standard AWS
//! environment, `Crypto` for hashing, password input that never touches argv, user JSON
//! without the hash, and the mapping of service errors to one-line messages.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use shared::config::{Settings, StoreKind, parse_password_policy};
use shared::domain::User;
use shared::error::Error;
use shared::service::Crypto;
use shared::store::DynamoStore;

/// The DynamoDB table to work on. Region, endpoint and credentials come from the
/// standard AWS environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, the credentials
/// chain), as for the Lambda functions.
#[derive(clap::Args, Debug, Clone)]
pub struct TableArg {
    /// DynamoDB table name.
    #[arg(long, env = "TABLE_NAME", value_name = "NAME")]
    pub table: String,
}

impl TableArg {
    pub async fn store(&self) -> anyhow::Result<DynamoStore> {
        if self.table.trim().is_empty() {
            bail!("the table name is empty: pass --table or set TABLE_NAME");
        }
        let config = sdk_config().await;
        Ok(DynamoStore::from_sdk_config(&config, self.table.clone()))
    }
}

/// The operator's AWS configuration: the full standard chain (profiles, SSO, process
/// credentials, IMDS…), unlike a function's, which reads only the Lambda environment.
/// The same HTTPS client, timeouts and retries as the functions, trusting the platform's
/// roots too (an operator's network may sit behind a TLS-inspecting proxy).
pub async fn sdk_config() -> aws_types::SdkConfig {
    let (retry, timeout) = shared::aws::service_limits();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(shared::aws::https_client(
            shared::aws::TrustedRoots::AmazonAndNative,
        ))
        .retry_config(retry)
        .timeout_config(timeout)
        .load()
        .await
}

/// The argon2id cost for new password hashes.
#[derive(clap::Args, Debug, Clone)]
pub struct PolicyArg {
    /// `owasp`, `m=KIB,t=N,p=N`, or `insecure-fast` (weaker than OWASP is refused unless
    /// DynamoDB is reached on a loopback endpoint, i.e. DynamoDB Local).
    #[arg(
        long,
        env = "IMAUTH_PASSWORD_POLICY",
        default_value = "owasp",
        value_name = "POLICY"
    )]
    pub password_policy: String,
}

impl PolicyArg {
    /// `Crypto` for admin commands against the DynamoDB store: the password policy as the
    /// login functions check it; they sign no tokens, so no signing keys are read.
    pub fn crypto(&self) -> anyhow::Result<Arc<Crypto>> {
        let settings = Settings {
            store: StoreKind::Dynamo,
            password_policy: parse_password_policy(&self.password_policy)
                .map_err(|e| fail(e).context("--password-policy"))?,
            ..Settings::default()
        };
        settings.admin_crypto().map_err(fail)
    }
}

/// Where a password comes from: never argv (it would show in `ps` and shell history).
#[derive(clap::Args, Debug, Clone)]
pub struct PasswordSource {
    /// Read the password as one line from stdin (the default).
    #[arg(long, conflicts_with = "password_file")]
    pub password_stdin: bool,
    /// Read the password from the first line of FILE.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

impl PasswordSource {
    pub fn read(&self) -> anyhow::Result<String> {
        match &self.password_file {
            Some(path) => read_password_file(path),
            None => read_password_stdin(),
        }
    }
}

fn strip_line_end(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

fn read_password_stdin() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("password (one line, read from stdin; it is echoed):");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    if line.is_empty() {
        bail!("no password on stdin (expected one line)");
    }
    Ok(strip_line_end(line))
}

fn read_password_file(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the password file {}", path.display()))?;
    let first = text.split_inclusive('\n').next().unwrap_or_default();
    if text.len() != first.len() && !text[first.len()..].trim().is_empty() {
        bail!(
            "password file {} holds more than one line; it must hold only the password",
            path.display()
        );
    }
    Ok(strip_line_end(first.to_owned()))
}

/// A user as the CLI shows it: every field but the password hash.
pub fn user_json(user: &User) -> Value {
    json!({
        "app_id": user.app_id,
        "user_id": user.user_id,
        "uuid": user.uuid,
        "username": user.username,
        "phone": user.phone,
        "email": user.email,
        "activated": user.activated,
        "has_password": !user.password_hash.is_empty(),
        "created_ms": user.created_ms,
        "modified_ms": user.modified_ms,
        "tokens_valid_after": user.tokens_valid_after,
        "revision": user.revision,
    })
}

/// Prints pretty JSON on stdout.
pub fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A service error as a one-line operator message.
pub fn describe(err: &Error) -> String {
    match err {
        Error::NotFound(message) | Error::BadRequest(message) | Error::Conflict(message) => {
            message.clone()
        }
        other => other.to_string(),
    }
}

pub fn fail(err: Error) -> anyhow::Error {
    anyhow::Error::msg(describe(&err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_are_stripped_once() {
        assert_eq!(strip_line_end("pw\n".into()), "pw");
        assert_eq!(strip_line_end("pw\r\n".into()), "pw");
        assert_eq!(strip_line_end("pw".into()), "pw");
        assert_eq!(strip_line_end(" pw \n\n".into()), " pw \n");
    }

    #[test]
    fn errors_read_as_one_line() {
        assert_eq!(
            describe(&Error::Conflict("username already taken".into())),
            "username already taken"
        );
        assert_eq!(
            describe(&Error::NotFound("no user 5 in app a".into())),
            "no user 5 in app a"
        );
    }
}
