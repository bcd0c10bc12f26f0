//! The process's token keys: the verifier every process holds, and, in the functions
//! that mint, the active signing key and the HMAC secrets.

use std::fmt;
use std::sync::Arc;

use super::claims::Claims;
use super::jws::{Signer, Verifier};
use crate::auth::hmac_keys::{self, HmacKeys};
use crate::auth::keyset::{KeySetDocument, PublicJwk, PublicKeySet};
use crate::auth::token_type::TokenType;
use crate::clock::Clock;
use crate::error::{Error, Result};

/// Signs and verifies every token type. Built once per process from a [`KeySetDocument`],
/// or, in a process that only verifies, from a [`PublicKeySet`].
pub struct TokenKeys {
    verifier: Verifier,
    public: Vec<PublicJwk>,
    /// `None` in a verify-only process: it can sign nothing and holds no secret.
    private: Option<PrivateKeys>,
}

/// What only the signing functions hold.
struct PrivateKeys {
    signer: Signer,
    refresh: HmacKeys,
    store: HmacKeys,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.verifier.issuer())
            .field("active_kid", &self.private.as_ref().map(|p| p.signer.kid()))
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn from_document(doc: &KeySetDocument, issuer: impl Into<String>) -> Result<Self> {
        let mut public = Vec::new();
        let mut signer = None;
        for key in &doc.keys {
            let (jwk, secret) = key.public_jwk()?;
            public.push(jwk);
            if key.kid == doc.active {
                signer = Some(Signer::new(&key.kid, &secret.to_bytes())?);
            }
        }
        let signer = signer.ok_or_else(|| {
            Error::internal(format!("active key {} is not in the key set", doc.active))
        })?;
        Ok(Self {
            verifier: Verifier::from_jwks(&public, issuer)?,
            public,
            private: Some(PrivateKeys {
                signer,
                refresh: HmacKeys::from_versions(&doc.refresh, "refresh")?,
                store: HmacKeys::from_versions(&doc.store, "store")?,
            }),
        })
    }

    /// Keys that verify and sign nothing, from the public key set alone.
    pub fn verify_only(keys: &PublicKeySet, issuer: impl Into<String>) -> Result<Self> {
        Ok(Self {
            verifier: Verifier::from_jwks(&keys.keys, issuer)?,
            public: keys.keys.clone(),
            private: None,
        })
    }

    /// The same keys verifying against `clock` (the services' clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.verifier = self.verifier.with_clock(clock);
        self
    }

    /// Whether this process holds the private key set (can sign and seal).
    pub fn can_sign(&self) -> bool {
        self.private.is_some()
    }

    fn private(&self) -> Result<&PrivateKeys> {
        self.private.as_ref().ok_or_else(|| {
            Error::internal("this process holds only the public keys: it cannot sign or seal")
        })
    }

    pub fn issuer(&self) -> &str {
        self.verifier.issuer()
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Public keys of every live key, for the JWKS document.
    pub fn public_jwks(&self) -> &[PublicJwk] {
        &self.public
    }

    /// A compact JWS of `claims`, signed by the active key.
    pub fn sign(&self, claims: &Claims) -> Result<String> {
        self.private()?.signer.sign(claims)
    }

    pub fn verify(&self, token: &str, expected: TokenType) -> Result<Claims> {
        self.verifier.verify(token, expected)
    }

    pub fn verify_one_of(&self, token: &str, allowed: &[TokenType]) -> Result<Claims> {
        self.verifier.verify_one_of(token, allowed)
    }

    /// The refresh secret's live versions, which seal refresh-family openers.
    pub fn refresh_keys(&self) -> Result<&HmacKeys> {
        Ok(&self.private()?.refresh)
    }

    /// A new session id, naming the store-secret version its `access_key_secret` is
    /// derived with.
    pub fn new_session_id(&self) -> Result<String> {
        hmac_keys::new_session_id(&self.private()?.store)
    }

    /// `access_key_secret` of the vendor login API: derived, not stored, so the file store can
    /// re-derive it from the session id with the store secret (see
    /// [`hmac_keys::access_key_secret`]).
    pub fn access_key_secret(&self, session_id: &str) -> Result<String> {
        hmac_keys::access_key_secret(&self.private()?.store, session_id)
    }
}
