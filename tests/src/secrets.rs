//! The loopback Secrets Manager the tests run `imauth keys` and the functions' key loader
//! against (through `AWS_ENDPOINT_URL_SECRETS_MANAGER`; the real service is not reachable
//! from tests). It lives in the `devtools` crate, shared with `imauth dev
//! secrets-manager`, which serves it to local runs of the functions (`sam local`).

use anyhow::Result;

pub use devtools::secrets_manager::SecretsManager as FakeSecretsManager;

use crate::REGION;

/// The built `imauth` binary with a hermetic AWS environment (no profile, no instance
/// metadata, fixed region and credentials) and, given a fake, Secrets Manager on it.
pub fn imauth_command(fake: Option<&FakeSecretsManager>) -> Result<tokio::process::Command> {
    let mut command = tokio::process::Command::new(crate::workspace_binary("imauth")?);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(fake) = fake {
        command.env("AWS_ENDPOINT_URL_SECRETS_MANAGER", fake.endpoint());
    }
    Ok(command)
}
