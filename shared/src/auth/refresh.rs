//! Refresh tokens (RFC 9700 rotation with reuse detection).
//!
//! A login must stay one store read, so the refresh token a login returns is not
//! stored: it is a *family opener*, the family's description sealed with an HMAC under
//! the refresh secret (`o.` prefix, then the id of the secret version that sealed it: a
//! rotation keeps the previous version, so an opener survives one rotation). The
//! refresh secret is its own: the store secret the file store holds seals nothing here. Its first use creates the family record
//! (conditionally: a second use finds the family and counts as reuse) and returns a
//! rotated token. Every rotated token is 256 random bits (`r.` prefix) stored only as
//! its SHA-256 hash, marked used when rotated; presenting a used one revokes the
//! family.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::auth::hmac_keys::HmacKeys;
use crate::auth::random::random_id;
use crate::error::{Error, Result};

/// A family lives at most this long from its login, whatever the rotations (seconds).
pub const FAMILY_LIFETIME_SECS: i64 = 90 * 86_400;
/// A refresh token unused for this long is dead (seconds).
pub const IDLE_LIFETIME_SECS: i64 = 30 * 86_400;

const OPENER_PREFIX: &str = "o.";
const ROTATED_PREFIX: &str = "r.";
/// Longest refresh token accepted, checked before any work.
pub const MAX_REFRESH_TOKEN_LEN: usize = 1024;

/// One login session's chain of refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFamily {
    pub family_id: String,
    pub app_id: String,
    pub user_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_guid: Option<String>,
    /// Unix seconds of the login that opened it.
    pub created_at: i64,
    /// The same instant in milliseconds, compared with `tokens_valid_after`.
    #[serde(default)]
    pub created_ms: i64,
    /// Unix seconds after which no token of the family is accepted.
    pub expires_at: i64,
}

/// A stored (rotated) refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub family: RefreshFamily,
    /// Unix seconds after which this token is dead even if unused.
    pub expires_at: i64,
    pub used: bool,
}

impl RefreshRecord {
    pub fn is_live(&self, now: i64) -> bool {
        now < self.expires_at && now < self.family.expires_at
    }
}

/// A presented refresh token, parsed.
pub enum Presented {
    /// A login's opener, authenticated.
    Opener(RefreshFamily),
    /// A rotated token: look it up by this hash.
    Rotated { token_hash: String },
}

fn mac(secret: &[u8], version: &str, payload: &[u8]) -> Result<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(Error::internal)?;
    mac.update(b"imauth refresh opener v2\0");
    mac.update(version.as_bytes());
    mac.update(b"\0");
    mac.update(payload);
    Ok(mac)
}

/// The token a login returns, opening `family`: `o.{version}.{payload}.{tag}`, sealed
/// with the refresh secret's current version.
pub fn seal_opener(keys: &HmacKeys, family: &RefreshFamily) -> Result<String> {
    let (version, secret) = keys.current();
    let payload = serde_json::to_vec(family).map_err(Error::internal)?;
    let tag = mac(secret, version, &payload)?.finalize().into_bytes();
    Ok(format!(
        "{OPENER_PREFIX}{version}.{}.{}",
        B64.encode(&payload),
        B64.encode(tag)
    ))
}

/// A new random rotated token and its hash.
pub fn new_rotated() -> Result<(String, String)> {
    let token = format!("{ROTATED_PREFIX}{}", random_id::<32>()?);
    let hash = hash_token(&token);
    Ok((token, hash))
}

pub fn hash_token(token: &str) -> String {
    B64.encode(Sha256::digest(token.as_bytes()))
}

/// A new family id.
pub fn new_family_id() -> Result<String> {
    random_id::<16>()
}

/// Parses and, for an opener, authenticates a presented token. Anything malformed or
/// forged is `Unauthorized`, with no detail on which check failed.
pub fn parse(keys: &HmacKeys, token: &str) -> Result<Presented> {
    let invalid = || Error::Unauthorized("invalid refresh token".into());
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_REFRESH_TOKEN_LEN {
        return Err(invalid());
    }
    if let Some(rest) = token.strip_prefix(OPENER_PREFIX) {
        // A version this process does not hold (retired, or an opener from before the
        // secrets were separated, which has no version part) is refused like a forgery.
        let mut parts = rest.split('.');
        let (Some(version), Some(payload), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let secret = keys.get(version).ok_or_else(invalid)?;
        let payload = B64.decode(payload).map_err(|_| invalid())?;
        let tag = B64.decode(tag).map_err(|_| invalid())?;
        mac(secret, version, &payload)?
            .verify_slice(&tag)
            .map_err(|_| invalid())?;
        let family = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        return Ok(Presented::Opener(family));
    }
    if token.starts_with(ROTATED_PREFIX) {
        return Ok(Presented::Rotated {
            token_hash: hash_token(token),
        });
    }
    Err(invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keyset::KeySetDocument;

    fn family() -> RefreshFamily {
        RefreshFamily {
            family_id: "f1".into(),
            app_id: "demo".into(),
            user_id: 7,
            device_guid: None,
            created_at: 100,
            created_ms: 100_000,
            expires_at: 200,
        }
    }

    fn refresh_keys(doc: &KeySetDocument) -> HmacKeys {
        HmacKeys::from_versions(&doc.refresh, "refresh").unwrap()
    }

    #[test]
    fn openers_round_trip_and_resist_forgery() {
        let doc = KeySetDocument::generate(1).unwrap();
        let keys = refresh_keys(&doc);
        let token = seal_opener(&keys, &family()).unwrap();
        assert!(matches!(parse(&keys, &token), Ok(Presented::Opener(f)) if f == family()));
        let other_server = refresh_keys(&KeySetDocument::generate(1).unwrap());
        assert!(
            parse(&other_server, &token).is_err(),
            "another server's secret"
        );
        let mut other = family();
        other.user_id = 8;
        let (sealed, tag) = token.rsplit_once('.').unwrap();
        let (version, _) = sealed.trim_start_matches("o.").split_once('.').unwrap();
        let forged = format!(
            "o.{version}.{}.{tag}",
            B64.encode(serde_json::to_vec(&other).unwrap())
        );
        assert!(
            parse(&keys, &forged).is_err(),
            "payload swapped under a valid tag"
        );
        for junk in [
            "",
            "o.",
            "o.x.y",
            "o.x.y.z.w",
            "r",
            "x.abc",
            &"r.".repeat(600),
        ] {
            assert!(parse(&keys, junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn the_store_secret_cannot_seal_an_opener() {
        let doc = KeySetDocument::generate(1).unwrap();
        let keys = refresh_keys(&doc);
        // The file store's secret, labelled with a live refresh version or its own id.
        let store = HmacKeys::from_versions(&doc.store, "store").unwrap();
        let store_secret = store.current().1;
        let payload = serde_json::to_vec(&family()).unwrap();
        for version in [keys.current().0, store.current().0] {
            let tag = mac(store_secret, version, &payload)
                .unwrap()
                .finalize()
                .into_bytes();
            let forged = format!("o.{version}.{}.{}", B64.encode(&payload), B64.encode(tag));
            assert!(parse(&keys, &forged).is_err(), "{version}");
        }
        // An opener of the old layout (no version), sealed the old way: refused.
        let mut old = Hmac::<Sha256>::new_from_slice(store_secret).unwrap();
        old.update(b"imauth refresh opener v1\0");
        old.update(&payload);
        let legacy = format!(
            "o.{}.{}",
            B64.encode(&payload),
            B64.encode(old.finalize().into_bytes())
        );
        assert!(parse(&keys, &legacy).is_err());
    }

    #[test]
    fn an_opener_survives_one_rotation_and_not_two() {
        let mut doc = KeySetDocument::generate(1).unwrap();
        let token = seal_opener(&refresh_keys(&doc), &family()).unwrap();
        doc.rotate(2).unwrap();
        assert!(
            matches!(parse(&refresh_keys(&doc), &token), Ok(Presented::Opener(f)) if f == family())
        );
        doc.rotate(3).unwrap();
        assert!(parse(&refresh_keys(&doc), &token).is_err());
    }

    #[test]
    fn rotated_tokens_are_256_bit_random_and_stored_as_hashes() {
        let (a, hash_a) = new_rotated().unwrap();
        let (b, _) = new_rotated().unwrap();
        assert_ne!(a, b);
        assert_eq!(B64.decode(a.trim_start_matches("r.")).unwrap().len(), 32);
        assert!(!hash_a.contains(a.trim_start_matches("r.")));
        assert!(
            matches!(parse(&refresh_keys(&KeySetDocument::generate(1).unwrap()), &a), Ok(Presented::Rotated { token_hash }) if token_hash == hash_a)
        );
    }
}
