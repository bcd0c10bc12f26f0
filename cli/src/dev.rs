//! `imauth dev secrets-manager`: development stand-ins for AWS services, so the Lambda
//! functions run locally (`sam local`) through exactly the code they run in AWS. The
//! functions read their keys from Secrets Manager (`IMAUTH_KEYS_SECRET_ARN`); pointed at
//! this one with `AWS_ENDPOINT_URL_SECRETS_MANAGER`, they read a local file's contents
//! through the same call, and no key material has to be placed in the build or the
//! template.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use devtools::secrets_manager::{DEFAULT_REGION, SecretsManager};
use serde_json::json;

#[derive(clap::Subcommand, Debug)]
pub enum DevCommand {
    /// Serve secrets from files over the Secrets Manager protocol, on loopback only and
    /// without authentication, until interrupted. Prints one JSON line with the endpoint
    /// (for AWS_ENDPOINT_URL_SECRETS_MANAGER) and each secret's name and ARN.
    SecretsManager(SecretsManagerArgs),
}

#[derive(clap::Args, Debug)]
pub struct SecretsManagerArgs {
    /// Loopback address to listen on (port 0: any free port; the line printed names it).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// A secret: its name or full ARN, and the file whose contents are its SecretString
    /// (read once, at start). Repeatable.
    #[arg(long = "secret", value_name = "ID=FILE", value_parser = parse_secret, required = true)]
    pub secrets: Vec<(String, PathBuf)>,
    /// Region in the ARNs of secrets given by name.
    #[arg(long, env = "AWS_REGION", default_value = DEFAULT_REGION)]
    pub region: String,
}

/// `ID=FILE`, split at the first `=` (names and ARNs have none; a path may).
fn parse_secret(text: &str) -> anyhow::Result<(String, PathBuf)> {
    let (id, file) = text
        .split_once('=')
        .filter(|(id, file)| !id.is_empty() && !file.is_empty())
        .ok_or_else(|| anyhow!("expected ID=FILE, got {text:?}"))?;
    Ok((id.to_owned(), PathBuf::from(file)))
}

pub async fn run(command: DevCommand) -> anyhow::Result<()> {
    match command {
        DevCommand::SecretsManager(args) => secrets_manager(args).await,
    }
}

async fn secrets_manager(args: SecretsManagerArgs) -> anyhow::Result<()> {
    let service = SecretsManager::bind(args.listen, &args.region).await?;
    let mut secrets = Vec::new();
    for (id, file) in &args.secrets {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the secret {id} from {}", file.display()))?;
        let arn = service.insert(id, &text);
        secrets.push(json!({"id": id, "arn": arn}));
    }
    // One line, so a script can read it as soon as it appears.
    println!(
        "{}",
        json!({"endpoint": service.endpoint(), "secrets": secrets})
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
