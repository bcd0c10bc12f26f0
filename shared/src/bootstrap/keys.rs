//! Where a process's keys come from: the private key set (`IMAUTH_KEYS_SECRET_ARN`, or
//! `IMAUTH_KEYS_FILE` / a generated set locally) for functions that sign, or only the
//! public key set (`IMAUTH_PUBLIC_KEYS_SECRET_ARN`) for functions that only verify, so
//! their execution role need not be able to read any private key or HMAC secret.

use std::sync::Arc;

use aws_types::SdkConfig;

use crate::auth::password::PasswordHasher;
use crate::auth::tokens::{KeySetDocument, PublicJwk, PublicKeySet, TokenKeys};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::service::{Crypto, KeyRefresh};

impl Settings {
    /// The key set from `keys_file`, or a freshly generated one.
    pub fn load_keys(&self, clock: &dyn Clock) -> Result<KeySetDocument> {
        match &self.keys_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::config(format!("reading key file {}: {e}", path.display()))
                })?;
                KeySetDocument::from_json(&text, &format!("key file {}", path.display()))
            }
            None if self.store_is_local() => {
                tracing::warn!("no signing keys configured: generated an ephemeral key set");
                KeySetDocument::generate(clock.now_secs())
            }
            None => Err(Error::config(
                "no signing keys configured: set IMAUTH_KEYS_SECRET_ARN (or IMAUTH_KEYS_FILE)",
            )),
        }
    }

    /// Crypto from a key file or generated keys (no network).
    pub fn crypto(&self) -> Result<Arc<Crypto>> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let keys = self.load_keys(clock.as_ref())?;
        self.crypto_with_keys(&keys, clock, None)
    }

    /// Crypto for operator commands, which hash passwords but sign nothing: the password
    /// policy is checked as everywhere; the key set is a throwaway that never signs.
    pub fn admin_crypto(&self) -> Result<Arc<Crypto>> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let throwaway = KeySetDocument::generate(clock.now_secs())?;
        self.crypto_with_keys(&throwaway, clock, None)
    }

    fn crypto_with_keys(
        &self,
        keys: &KeySetDocument,
        clock: Arc<dyn Clock>,
        key_refresh: Option<KeyRefresh>,
    ) -> Result<Arc<Crypto>> {
        let tokens = TokenKeys::from_document(keys, self.issuer.clone())?;
        self.crypto_with_tokens(tokens, clock, key_refresh)
    }

    fn crypto_with_tokens(
        &self,
        tokens: TokenKeys,
        clock: Arc<dyn Clock>,
        key_refresh: Option<KeyRefresh>,
    ) -> Result<Arc<Crypto>> {
        self.check()?;
        Ok(Arc::new(Crypto {
            hasher: PasswordHasher::new(self.password_policy)?,
            tokens: tokens.with_clock(clock.clone()),
            clock,
            key_refresh,
        }))
    }

    /// Crypto for a deployed function: keys from Secrets Manager when
    /// `keys_secret_arn` (or, verifying only, `public_keys_secret_arn`) is set, read
    /// here, at cold start, and again only when a token names a key this instance does
    /// not know; else as [`Self::crypto`].
    pub async fn load_crypto(&self, sdk: Option<&SdkConfig>) -> Result<Arc<Crypto>> {
        let (arn, public_only) = match (&self.keys_secret_arn, &self.public_keys_secret_arn) {
            (Some(arn), _) => (arn.clone(), false),
            (None, Some(arn)) => (arn.clone(), true),
            (None, None) => return self.crypto(),
        };
        let loaded;
        let sdk = match sdk {
            Some(sdk) => sdk,
            None => {
                loaded = crate::aws::lambda_sdk_config()?;
                &loaded
            }
        };
        let tokens = if public_only {
            TokenKeys::verify_only(
                &public_keys_from_secret(sdk, &arn).await?,
                self.issuer.clone(),
            )?
        } else {
            TokenKeys::from_document(&keys_from_secret(sdk, &arn).await?, self.issuer.clone())?
        };
        // The same secret, re-read when a token names a key this instance has not seen
        // (a rotation after its cold start).
        let sdk = sdk.clone();
        let refresh = KeyRefresh::new(move || {
            let (sdk, arn) = (sdk.clone(), arn.clone());
            async move { public_keys(&sdk, &arn, public_only).await }
        });
        self.crypto_with_tokens(tokens, Arc::new(SystemClock), Some(refresh))
    }
}

/// The public keys in the private or the public key secret.
async fn public_keys(sdk: &SdkConfig, arn: &str, public_only: bool) -> Result<Vec<PublicJwk>> {
    if public_only {
        Ok(public_keys_from_secret(sdk, arn).await?.keys)
    } else {
        keys_from_secret(sdk, arn).await?.public_jwks()
    }
}

async fn secret_string(sdk: &SdkConfig, arn: &str, what: &str) -> Result<String> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            Error::config(format!(
                "reading {what} from secret {arn}: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            ))
        })?;
    output
        .secret_string()
        .map(str::to_owned)
        .ok_or_else(|| Error::config(format!("secret {arn} has no string value")))
}

/// The private key set stored in a Secrets Manager secret's string.
pub async fn keys_from_secret(sdk: &SdkConfig, arn: &str) -> Result<KeySetDocument> {
    let text = secret_string(sdk, arn, "signing keys").await?;
    KeySetDocument::from_json(&text, &format!("secret {arn}"))
}

/// The public key set stored in a Secrets Manager secret's string.
pub async fn public_keys_from_secret(sdk: &SdkConfig, arn: &str) -> Result<PublicKeySet> {
    let text = secret_string(sdk, arn, "public keys").await?;
    serde_json::from_str(&text)
        .map_err(|e| Error::config(format!("secret {arn} is not a public key set: {e}")))
}
