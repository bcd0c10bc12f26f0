//! The key set: three independent kinds of secret, one per job, so that holding one
//! grants nothing the others guard.
//!
//! - Ed25519 signing keys (`keys`, `active`) sign every token. Only their public halves
//!   leave the signing functions: the JWKS, and the public key set ([`PublicKeySet`])
//!   the verify-only functions (`jwks`, `push-token`) read from a secret of its own.
//! - The refresh secret (`refresh`) seals refresh-family openers
//!   ([`crate::auth::refresh`]). Nothing outside imauth ever needs it.
//! - The store secret (`store`) derives `access_key_secret` from a session id. The file
//!   store holds it to re-derive that secret; it seals nothing imauth accepts.
//!
//! The HMAC secrets are versioned: `imauth keys rotate` makes a new current version and
//! keeps the one before it, one rotation of overlap. What they authenticate names its
//! version (an opener carries its refresh-secret id, a session id starts with its
//! store-secret id), so a version is looked up, never guessed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::SigningKey;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use crate::auth::hmac_keys::{HmacKeys, access_key_secret, new_session_id};
use crate::auth::random::random_bytes;
pub use crate::auth::secret_versions::{LEGACY_STORE_SECRET_ID, SecretVersion, SecretVersions};
use crate::error::{Error, Result};

/// One signing key as stored in the key-set document.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyMaterial {
    pub kid: String,
    /// The 32-byte Ed25519 seed, base64url without padding.
    pub ed25519_seed: String,
    #[serde(default)]
    pub created: i64,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The key-set document: what a key file or the production (private) secret holds.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeySetDocument {
    /// `kid` of the key that signs new tokens.
    pub active: String,
    pub keys: Vec<KeyMaterial>,
    /// Seals refresh-family openers.
    pub refresh: SecretVersions,
    /// Derives `access_key_secret`; the file store holds this one (and only this one).
    pub store: SecretVersions,
}

impl fmt::Debug for KeySetDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySetDocument")
            .field("active", &self.active)
            .field("keys", &self.keys)
            .field("refresh", &self.refresh)
            .field("store", &self.store)
            .finish()
    }
}

/// A key set as written before the secrets were separated: one `store_secret` for both
/// HMAC jobs.
#[derive(Deserialize)]
struct LegacyKeySet {
    active: String,
    keys: Vec<KeyMaterial>,
    store_secret: String,
}

/// Just enough of a document to tell the layouts apart.
#[derive(Deserialize)]
struct Layout {
    #[serde(default)]
    store_secret: Option<IgnoredAny>,
    #[serde(default)]
    refresh: Option<IgnoredAny>,
}

fn is_legacy(text: &str) -> bool {
    serde_json::from_str::<Layout>(text)
        .is_ok_and(|layout| layout.store_secret.is_some() && layout.refresh.is_none())
}

impl KeySetDocument {
    /// A fresh key set: one active signing key and a first version of each HMAC secret.
    pub fn generate(now: i64) -> Result<Self> {
        let key = KeyMaterial::generate(now)?;
        Ok(Self {
            active: key.kid.clone(),
            keys: vec![key],
            refresh: SecretVersions::generate(now)?,
            store: SecretVersions::generate(now)?,
        })
    }

    /// The document in `text`, read from `source` (named in the error). A key set of the
    /// old layout (one `store_secret` for every job) is refused, naming the command that
    /// converts it: accepting it would keep accepting openers sealed with the secret the
    /// file store holds.
    pub fn from_json(text: &str, source: &str) -> Result<Self> {
        if is_legacy(text) {
            return Err(Error::internal(format!(
                "{source} has the old key-set layout (one store_secret for every purpose), \
                 which this version refuses; convert it with `imauth keys upgrade`"
            )));
        }
        // serde_json's message names a line and column, never the content.
        serde_json::from_str(text)
            .map_err(|e| Error::internal(format!("{source} does not hold a key set: {e}")))
    }

    /// Converts a key set of the old layout; `None` if `text` is not one. The signing keys
    /// stay; the old `store_secret` becomes the store secret's current version (id
    /// [`LEGACY_STORE_SECRET_ID`], so live sessions' `access_key_secret` still derives);
    /// the refresh secret is new, so openers sealed with the old secret are refused.
    pub fn upgrade_legacy(text: &str, now: i64) -> Result<Option<Self>> {
        if !is_legacy(text) {
            return Ok(None);
        }
        let legacy: LegacyKeySet = serde_json::from_str(text).map_err(Error::internal)?;
        Ok(Some(Self {
            active: legacy.active,
            keys: legacy.keys,
            refresh: SecretVersions::generate(now)?,
            store: SecretVersions {
                current: SecretVersion {
                    id: LEGACY_STORE_SECRET_ID.to_owned(),
                    secret: legacy.store_secret,
                    created: now,
                },
                previous: None,
            },
        }))
    }

    /// Adds a new signing key and makes it the active one (older keys keep verifying),
    /// and rotates both HMAC secrets (the previous versions stay for one rotation).
    pub fn rotate(&mut self, now: i64) -> Result<&KeyMaterial> {
        self.refresh.rotate(now)?;
        self.store.rotate(now)?;
        let key = KeyMaterial::generate(now)?;
        self.active = key.kid.clone();
        self.keys.push(key);
        self.keys
            .last()
            .ok_or_else(|| Error::internal("key set is empty after rotation"))
    }

    /// The public keys of every key in the set.
    pub fn public_jwks(&self) -> Result<Vec<PublicJwk>> {
        self.keys
            .iter()
            .map(|key| key.public_jwk().map(|(jwk, _)| jwk))
            .collect()
    }

    /// What the verify-only functions may read: the public keys, nothing secret.
    pub fn public_key_set(&self) -> Result<PublicKeySet> {
        Ok(PublicKeySet {
            keys: self.public_jwks()?,
        })
    }

    /// Drops every signing key but the `keep` newest (the active key is always kept).
    pub fn retire(&mut self, keep: usize) {
        self.keys.sort_by_key(|k| k.created);
        let excess = self.keys.len().saturating_sub(keep.max(1));
        let active = self.active.clone();
        let mut dropped = 0;
        self.keys.retain(|k| {
            let drop = dropped < excess && k.kid != active;
            dropped += usize::from(drop);
            !drop
        });
    }
}

impl KeyMaterial {
    /// The public half, as the JWKS document serves it, and the signing key.
    pub(crate) fn public_jwk(&self) -> Result<(PublicJwk, SigningKey)> {
        let seed: [u8; 32] = B64
            .decode(&self.ed25519_seed)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                Error::internal(format!("key {} has no valid 32-byte seed", self.kid))
            })?;
        let secret = SigningKey::from_bytes(&seed);
        let jwk = PublicJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: B64.encode(secret.verifying_key().to_bytes()),
            kid: self.kid.clone(),
            use_: "sig".into(),
            alg: "EdDSA".into(),
        };
        Ok((jwk, secret))
    }

    fn generate(now: i64) -> Result<Self> {
        let seed = random_bytes::<32>()?;
        let public = SigningKey::from_bytes(&seed).verifying_key();
        // The kid is derived from the public key, so it is stable and collision-free.
        let kid = B64.encode(&Sha256::digest(public.as_bytes())[..12]);
        Ok(Self {
            kid,
            ed25519_seed: B64.encode(seed),
            created: now,
        })
    }
}

/// A public key as served in the JWKS document (RFC 8037 OKP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
}

/// The public key set (a JWKS document, `{"keys": [...]}`): what the public secret holds
/// and the verify-only functions read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeySet {
    pub keys: Vec<PublicJwk>,
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, Mac};

    use super::*;

    fn store_keys(doc: &KeySetDocument) -> HmacKeys {
        HmacKeys::from_versions(&doc.store, "store").unwrap()
    }

    #[test]
    fn every_hmac_secret_is_independent_and_rotation_keeps_one_previous_version() {
        let mut doc = KeySetDocument::generate(1).unwrap();
        assert_ne!(doc.refresh.current.secret, doc.store.current.secret);
        let (first_refresh, first_store) = (doc.refresh.current.clone(), doc.store.current.clone());
        doc.rotate(2).unwrap();
        assert_eq!(doc.refresh.previous.as_ref().unwrap().id, first_refresh.id);
        assert_eq!(doc.store.previous.as_ref().unwrap().id, first_store.id);
        assert_ne!(doc.refresh.current.secret, first_refresh.secret);
        doc.rotate(3).unwrap();
        assert!(!doc.refresh.ids().contains(&first_refresh.id.as_str()));
        assert!(!doc.store.ids().contains(&first_store.id.as_str()));
    }

    #[test]
    fn the_old_layout_is_refused_and_upgrades_keeping_live_sessions_secrets() {
        let doc = KeySetDocument::generate(1).unwrap();
        let legacy_secret = B64.encode([9u8; 32]);
        let legacy = serde_json::json!({
            "active": doc.active, "keys": doc.keys, "store_secret": legacy_secret,
        })
        .to_string();
        let refused = KeySetDocument::from_json(&legacy, "secret s")
            .unwrap_err()
            .to_string();
        assert!(refused.contains("imauth keys upgrade"), "{refused}");
        assert!(!refused.contains(&legacy_secret));
        assert!(
            KeySetDocument::upgrade_legacy(&serde_json::to_string(&doc).unwrap(), 2)
                .unwrap()
                .is_none()
        );

        let upgraded = KeySetDocument::upgrade_legacy(&legacy, 2).unwrap().unwrap();
        assert_eq!(upgraded.active, doc.active);
        assert_eq!(upgraded.store.current.secret, legacy_secret);
        assert_ne!(upgraded.refresh.current.secret, legacy_secret);
        // A session id from before versioning derives exactly as it did then.
        let mut mac = Hmac::<Sha256>::new_from_slice(&[9u8; 32]).unwrap();
        mac.update(b"imauth access_key_secret v1\0old-sid");
        assert_eq!(
            access_key_secret(&store_keys(&upgraded), "old-sid").unwrap(),
            B64.encode(mac.finalize().into_bytes())
        );
        let text = serde_json::to_string(&upgraded).unwrap();
        assert!(KeySetDocument::from_json(&text, "secret s").is_ok());
    }

    #[test]
    fn debug_never_prints_a_secret() {
        let mut doc = KeySetDocument::generate(1).unwrap();
        doc.rotate(2).unwrap();
        let printed = format!("{doc:?} {:?}", store_keys(&doc));
        for secret in [
            &doc.refresh.current.secret,
            &doc.store.current.secret,
            &doc.store.previous.as_ref().unwrap().secret,
            &doc.keys[0].ed25519_seed,
        ] {
            assert!(!printed.contains(secret.as_str()), "{printed}");
        }
        assert!(printed.contains(&doc.store.current.id));
    }
}
