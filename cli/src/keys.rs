//! `imauth keys init | rotate | show | upgrade`: the private key set (`KeySetDocument`:
//! signing keys, refresh secret, store secret), in the Secrets Manager secret the signing
//! functions read at cold start (`--secret-id`), or in a local key file for `imauth serve
//! --keys` / `IMAUTH_KEYS_FILE` (`--file`).
//!
//! Beside a secret `NAME`, the commands keep `NAME-public`: the public key set only,
//! which the verify-only functions (`jwks`, `push-token`) read. Every command that changes
//! the private secret writes the public one first, so a verifier can know a key before
//! any token signed with it exists.
//!
//! Key material is never printed: every command answers with a JSON summary of key ids,
//! secret version ids and creation times only.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
use serde_json::{Value, json};
use shared::auth::tokens::{KeySetDocument, TokenKeys};
use shared::clock::{Clock as _, SystemClock};

use crate::common::{fail, print_json};

/// Keys kept by `rotate` unless `--keep` says otherwise: the new active key and the two
/// before it, so tokens signed up to two rotations ago still verify.
const DEFAULT_KEEP: u16 = 3;

#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a new key set (one active Ed25519 key, a refresh secret and a store
    /// secret) and, for a secret NAME, the public key secret NAME-public. Refuses to
    /// overwrite an existing secret or file.
    Init(InitArgs),
    /// Add a new active key (older keys keep verifying until retired: only the `--keep`
    /// newest are kept) and new versions of the refresh and store secrets (the previous
    /// versions stay for one rotation). Writes new secret versions, or rewrites the file.
    Rotate(RotateArgs),
    /// Show the key ids, their creation times, which one is active, and the secret
    /// version ids.
    Show(Location),
    /// Convert a key set of the old layout (one store_secret for every purpose), which
    /// the functions refuse; for a secret, also (re)write the public key secret.
    Upgrade(Location),
    /// Print the public key set (what NAME-public holds, no secret material) on stdout:
    /// for local runs of the verify-only functions and for other verifiers.
    Public(Location),
}

/// Where the key set lives: exactly one of `--secret-id` and `--file`.
#[derive(clap::Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct Location {
    /// Secrets Manager secret: a name for `init`, a name or ARN otherwise. Region,
    /// endpoint and credentials come from the standard AWS environment.
    #[arg(long, value_name = "ID")]
    pub secret_id: Option<String>,
    /// A local key file (JSON), as `imauth serve --keys` and `IMAUTH_KEYS_FILE` read it.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    pub location: Location,
    /// KMS key (id, alias or ARN) to encrypt the secret with, instead of the account's
    /// default `aws/secretsmanager` key.
    #[arg(long, value_name = "KEY", conflicts_with = "file")]
    pub kms_key_id: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct RotateArgs {
    #[command(flatten)]
    pub location: Location,
    /// How many of the newest keys to keep after adding the new one (at least 1; the
    /// active key is always kept). Retiring a key ends every token it signed.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_KEEP,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub keep: u16,
}

pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Init(args) => init(args).await,
        KeysCommand::Rotate(args) => rotate(args).await,
        KeysCommand::Show(location) => show(location).await,
        KeysCommand::Upgrade(location) => upgrade(location).await,
        KeysCommand::Public(location) => {
            let (doc, _) = read(&location).await?;
            let public = doc.public_key_set().map_err(fail)?;
            println!("{}", serde_json::to_string(&public)?);
            Ok(())
        }
    }
}

fn now_secs() -> i64 {
    SystemClock.now_secs()
}

/// Fails unless the document is a key set the functions can load.
fn check(doc: &KeySetDocument) -> anyhow::Result<()> {
    TokenKeys::from_document(doc, shared::config::DEFAULT_ISSUER)
        .map(drop)
        .map_err(fail)
        .context("the key set is not usable")
}

fn parse(text: &str, source: &str) -> anyhow::Result<KeySetDocument> {
    let doc = KeySetDocument::from_json(text, source).map_err(fail)?;
    check(&doc).with_context(|| format!("{source} holds a broken key set"))?;
    Ok(doc)
}

fn to_json(doc: &KeySetDocument) -> anyhow::Result<String> {
    serde_json::to_string(doc).context("serializing the key set")
}

/// What the commands print: ids and dates, never key material.
fn summary(doc: &KeySetDocument, retired: &[String]) -> Value {
    let keys: Vec<Value> = doc
        .keys
        .iter()
        .map(|k| json!({"kid": k.kid, "created": k.created, "active": k.kid == doc.active}))
        .collect();
    let mut value = json!({
        "active": doc.active,
        "keys": keys,
        "secrets": {"refresh": doc.refresh.ids(), "store": doc.store.ids()},
    });
    if !retired.is_empty() {
        value["retired"] = json!(retired);
    }
    value
}

fn with_location(mut value: Value, location: &Location, extra: Value) -> Value {
    if let Some(file) = &location.file {
        value["file"] = json!(file.display().to_string());
    }
    if let Some(id) = &location.secret_id {
        value["secret_id"] = json!(id);
    }
    if let (Some(target), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
        target.extend(extra.clone());
    }
    value
}

async fn init(args: InitArgs) -> anyhow::Result<()> {
    let doc = KeySetDocument::generate(now_secs()).map_err(fail)?;
    check(&doc)?;
    let extra = match (&args.location.secret_id, &args.location.file) {
        (_, Some(path)) => {
            write_new_file(path, &to_json(&doc)?)?;
            json!({})
        }
        (Some(id), None) => {
            let mut created =
                create_secret(id, &to_json(&doc)?, args.kms_key_id.as_deref(), PRIVATE).await?;
            created["public_secret"] = publish_public(id, &doc).await?;
            created
        }
        (None, None) => bail!("name the key set with --secret-id or --file"),
    };
    print_json(&with_location(summary(&doc, &[]), &args.location, extra))
}

async fn rotate(args: RotateArgs) -> anyhow::Result<()> {
    let (mut doc, stored) = read(&args.location).await?;
    let before: Vec<String> = doc.keys.iter().map(|k| k.kid.clone()).collect();
    doc.rotate(now_secs()).map_err(fail)?;
    doc.retire(usize::from(args.keep));
    check(&doc)?;
    let retired: Vec<String> = before
        .into_iter()
        .filter(|kid| !doc.keys.iter().any(|k| &k.kid == kid))
        .collect();
    let text = to_json(&doc)?;
    let extra = write(&args.location, stored.as_ref(), &doc, &text).await?;
    print_json(&with_location(
        summary(&doc, &retired),
        &args.location,
        extra,
    ))
}

async fn show(location: Location) -> anyhow::Result<()> {
    let (doc, _) = read(&location).await?;
    print_json(&with_location(summary(&doc, &[]), &location, json!({})))
}

/// Where a key set read from Secrets Manager lives: its ARN (the new version goes to the
/// same secret) and its name (the public key secret is named after it).
struct Stored {
    arn: String,
    name: String,
}

/// Writes a changed key set back: the file, or the public key secret and then a new
/// version of the private one.
async fn write(
    location: &Location,
    stored: Option<&Stored>,
    doc: &KeySetDocument,
    text: &str,
) -> anyhow::Result<Value> {
    match (&location.file, stored) {
        (Some(path), _) => {
            replace_file(path, text)?;
            Ok(json!({}))
        }
        (None, Some(stored)) => {
            let public = publish_public(&stored.name, doc).await?;
            let mut written = put_secret(&stored.arn, text).await?;
            written["public_secret"] = public;
            Ok(written)
        }
        (None, None) => bail!("name the key set with --secret-id or --file"),
    }
}

async fn upgrade(location: Location) -> anyhow::Result<()> {
    let (text, source, stored) = read_text(&location).await?;
    let (doc, upgraded) = match KeySetDocument::upgrade_legacy(&text, now_secs()).map_err(fail)? {
        Some(doc) => (doc, true),
        None => (parse(&text, &source)?, false),
    };
    check(&doc)?;
    let extra = match (upgraded, &stored) {
        (true, _) => write(&location, stored.as_ref(), &doc, &to_json(&doc)?).await?,
        // Already separated: only the public key secret may be missing or stale.
        (false, Some(stored)) => {
            json!({"public_secret": publish_public(&stored.name, &doc).await?})
        }
        (false, None) => json!({}),
    };
    let mut value = with_location(summary(&doc, &[]), &location, extra);
    value["upgraded"] = json!(upgraded);
    print_json(&value)
}

/// The key set and, for a secret, where it is stored.
async fn read(location: &Location) -> anyhow::Result<(KeySetDocument, Option<Stored>)> {
    let (text, source, stored) = read_text(location).await?;
    Ok((parse(&text, &source)?, stored))
}

/// The key set's text, a description of its source, and where a secret is stored.
async fn read_text(location: &Location) -> anyhow::Result<(String, String, Option<Stored>)> {
    match (&location.secret_id, &location.file) {
        (_, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading key file {}", path.display()))?;
            Ok((text, format!("key file {}", path.display()), None))
        }
        (Some(id), None) => {
            let output = client()
                .await
                .get_secret_value()
                .secret_id(id)
                .send()
                .await
                .map_err(|e| anyhow!("reading secret {id}: {}", DisplayErrorContext(&e)))?;
            let text = output
                .secret_string()
                .ok_or_else(|| anyhow!("secret {id} holds no SecretString"))?;
            let stored = Stored {
                arn: output.arn().unwrap_or(id).to_owned(),
                name: output.name().unwrap_or(id).to_owned(),
            };
            Ok((text.to_owned(), format!("secret {id}"), Some(stored)))
        }
        (None, None) => bail!("name the key set with --secret-id or --file"),
    }
}

async fn client() -> Client {
    Client::new(&crate::common::sdk_config().await)
}

const PRIVATE: &str = "imauth private key set: signing keys, refresh and store secrets \
                       (imauth keys init; rotate with imauth keys rotate)";
const PUBLIC: &str = "imauth public key set, for the functions that only verify \
                      (written by imauth keys init, rotate and upgrade)";

/// The secret holding `private_name`'s public key set.
fn public_secret_name(private_name: &str) -> String {
    format!("{private_name}-public")
}

/// Writes the public half of `doc` to the public key secret beside `private_name`,
/// creating that secret if it does not exist yet.
async fn publish_public(private_name: &str, doc: &KeySetDocument) -> anyhow::Result<Value> {
    let name = public_secret_name(private_name);
    let text = serde_json::to_string(&doc.public_key_set().map_err(fail)?)
        .context("serializing the public key set")?;
    let put = client()
        .await
        .put_secret_value()
        .secret_id(&name)
        .secret_string(&text)
        .send()
        .await;
    match put {
        Ok(output) => Ok(json!({"arn": output.arn(), "version_id": output.version_id()})),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(PutSecretValueError::ResourceNotFoundException(_))
            ) =>
        {
            create_secret(&name, &text, None, PUBLIC).await
        }
        Err(e) => bail!(
            "writing a new version of {name}: {}",
            DisplayErrorContext(&e)
        ),
    }
}

async fn create_secret(
    name: &str,
    text: &str,
    kms_key_id: Option<&str>,
    description: &str,
) -> anyhow::Result<Value> {
    let output = client()
        .await
        .create_secret()
        .name(name)
        .description(description)
        .set_kms_key_id(kms_key_id.map(str::to_owned))
        .secret_string(text)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(CreateSecretError::ResourceExistsException(_)) => anyhow!(
                "secret {name} already exists; rotate it with `imauth keys rotate --secret-id {name}`"
            ),
            _ => anyhow!("creating secret {name}: {}", DisplayErrorContext(&e)),
        })?;
    Ok(json!({"arn": output.arn(), "version_id": output.version_id()}))
}

async fn put_secret(arn: &str, text: &str) -> anyhow::Result<Value> {
    let output = client()
        .await
        .put_secret_value()
        .secret_id(arn)
        .secret_string(text)
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "writing a new version of {arn}: {}",
                DisplayErrorContext(&e)
            )
        })?;
    Ok(json!({"arn": output.arn(), "version_id": output.version_id()}))
}

/// Opens a file readable by its owner only (the key set is a secret).
fn open_private(path: &Path, create_new: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

fn write_all(mut file: std::fs::File, text: &str) -> std::io::Result<()> {
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

fn write_new_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let file = open_private(path, true).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow!(
                "key file {} already exists; rotate it with `imauth keys rotate --file {}`",
                path.display(),
                path.display()
            )
        } else {
            anyhow!("creating key file {}: {e}", path.display())
        }
    })?;
    write_all(file, text).with_context(|| format!("writing key file {}", path.display()))
}

/// Replaces the file atomically (a temporary file beside it, then a rename), so a crash
/// never leaves a half-written key set.
fn replace_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("key file {} has no file name", path.display()))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = open_private(&temp, true)
        .and_then(|file| write_all(file, text))
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        bail!("writing key file {}: {e}", path.display());
    }
    Ok(())
}
