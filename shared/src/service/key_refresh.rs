//! Re-reading the public keys when a token names a key this process does not know.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::auth::tokens::{PublicJwk, TokenKeys};
use crate::error::Result;

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
    pub(super) async fn refresh(&self, tokens: &TokenKeys, kid: &str) {
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
