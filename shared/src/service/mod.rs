//! Use cases. Each public function here is one thing a route or an operator command
//! does; they own the rules and see storage only through the store traits.

pub mod admin;
pub mod attempts;
pub mod audit;
pub mod hashing;
pub mod lifetime;
pub mod login;
pub mod provision;
pub mod push;
pub mod seed;
pub mod session;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::password::PasswordHasher;
use crate::auth::tokens::{Claims, PublicJwk, TokenKeys, TokenType};
use crate::clock::Clock;
use crate::error::Result;

pub use login::{
    Acting, AppGrant, IssuedTokens, Lifetime, LoginGrant, LoginRequest, LoginService, Subject,
};

/// The process-wide secrets and policies every service shares: built once at cold start.
pub struct Crypto {
    pub hasher: PasswordHasher,
    pub tokens: TokenKeys,
    pub clock: Arc<dyn Clock>,
    /// Where to re-read the key set when a token names a key this process does not know
    /// (the production secret); `None` for keys from a file or generated.
    pub key_refresh: Option<KeyRefresh>,
}

impl Crypto {
    /// Verifies a token of type `expected` (see [`Crypto::verify_one_of`]).
    pub async fn verify(&self, token: &str, expected: TokenType) -> Result<Claims> {
        self.verify_one_of(token, &[expected]).await
    }

    /// Verifies a token that may be any of `allowed`. A token refused because it names
    /// a key this process does not know makes it re-read the key set (at most once per
    /// [`KeyRefresh::MIN_INTERVAL`]) and try again: after `imauth keys rotate`, instances
    /// started before the rotation learn the new key from the first token it signed
    /// instead of refusing every such token until they are replaced. Accepted tokens
    /// (the hot path) are looked at once.
    pub async fn verify_one_of(&self, token: &str, allowed: &[TokenType]) -> Result<Claims> {
        let verified = self.tokens.verify_one_of(token, allowed);
        if verified.is_ok() {
            return verified;
        }
        let (Some(refresh), Some(kid)) =
            (&self.key_refresh, self.tokens.verifier().unknown_kid(token))
        else {
            return verified;
        };
        refresh.refresh(&self.tokens, &kid).await;
        self.tokens.verify_one_of(token, allowed)
    }
}

type KeyFetch =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Vec<PublicJwk>>> + Send>> + Send + Sync>;

/// Re-reads the public keys (from the private or the public key secret) on demand, rate-limited: a stream of tokens with made-up key ids
/// costs one read per interval, not one per request.
pub struct KeyRefresh {
    fetch: KeyFetch,
    last: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for KeyRefresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRefresh").finish_non_exhaustive()
    }
}

impl KeyRefresh {
    /// The shortest time between two reads of the key set.
    pub const MIN_INTERVAL: Duration = Duration::from_secs(30);

    pub fn new<F, Fut>(fetch: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<PublicJwk>>> + Send + 'static,
    {
        Self {
            fetch: Box::new(move || Box::pin(fetch())),
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Reads the key set again unless that was done less than `MIN_INTERVAL` ago, and
    /// lets `tokens` verify with any key it did not know. Failures are logged: the token
    /// is then refused as it would have been.
    async fn refresh(&self, tokens: &TokenKeys, kid: &str) {
        let mut last = self.last.lock().await;
        if last.is_some_and(|at| at.elapsed() < Self::MIN_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        let added = async {
            let keys = (self.fetch)().await?;
            tokens.verifier().add_keys(&keys)
        }
        .await;
        match added {
            Ok(added) => tracing::info!(
                kid,
                added,
                "a token named an unknown key id: re-read the signing keys"
            ),
            Err(e) => tracing::warn!(error = %e, "re-reading the signing keys failed"),
        }
    }
}

impl std::fmt::Debug for Crypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crypto")
            .field("hasher", &self.hasher)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}
