//! Minting and verifying compact JWS: `jsonwebtoken` signs and verifies every token
//! (`jsonwebtoken::crypto`, over our EdDSA-only provider); around it, the compact
//! serialization (RFC 7515) for the one header we write, the size cap before anything is
//! parsed, refusing a `crit` header, the key lookup by `kid` (and telling the caller when
//! a kid is unknown, so it can re-read the key set), the claims checks with our leeway on
//! `exp` read from the [`Clock`], and the pairing of `typ` with the app-scoped `aud`.
//!
//! Why not `jsonwebtoken::encode`/`decode`: their `Header` carries an embedded JWK (every
//! RSA, EC and OKP parameter) and `Validation` its own claim parsing, and deserializing
//! those costs every function binary ~290 KB, past its 6 MB budget, for a header we
//! refuse unless it is exactly ours.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::VerifyingKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};

use super::claims::Claims;
use super::eddsa;
use crate::auth::keyset::PublicJwk;
use crate::auth::token_type::TokenType;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};

/// Allowed clock skew between us and a verifier, in seconds.
const LEEWAY_SECS: i64 = 30;

/// Longest token looked at; ours are well under 1 KB.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// An Ed25519 signature (64 bytes) in base64url without padding.
const SIGNATURE_B64_LEN: usize = 86;

/// The only JWS algorithm minted or accepted.
const ALGORITHM: &str = "EdDSA";

/// Signs with one Ed25519 key, named by `kid` in every header it writes.
pub(super) struct Signer {
    kid: String,
    /// The JWS header, base64url: the same for every token this key signs.
    header_b64: String,
    key: EncodingKey,
}

/// The JWS header we write.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// The parts of a received JWS header that decide how (and whether) to verify it.
#[derive(Deserialize)]
struct ReceivedHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

impl Signer {
    /// `seed`: the 32-byte Ed25519 seed (see [`eddsa`] for why not PKCS#8).
    pub(super) fn new(kid: &str, seed: &[u8; 32]) -> Result<Self> {
        let header = Header {
            alg: ALGORITHM,
            typ: "JWT",
            kid,
        };
        let header = serde_json::to_vec(&header).map_err(Error::internal)?;
        Ok(Self {
            kid: kid.to_owned(),
            header_b64: B64.encode(header),
            key: EncodingKey::from_ed_der(seed),
        })
    }

    pub(super) fn sign(&self, claims: &Claims) -> Result<String> {
        let payload = serde_json::to_vec(claims).map_err(Error::internal)?;
        let mut token = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 90);
        token.push_str(&self.header_b64);
        token.push('.');
        B64.encode_string(payload, &mut token);
        eddsa::install();
        // The library's error is not printed: its `Display` would link every algorithm's
        // messages for one that cannot happen with a key `new` accepted.
        let signature = jsonwebtoken::crypto::sign(token.as_bytes(), &self.key, Algorithm::EdDSA)
            .map_err(|_| Error::internal("signing a token failed"))?;
        token.push('.');
        token.push_str(&signature);
        Ok(token)
    }

    pub(super) fn kid(&self) -> &str {
        &self.kid
    }
}

/// Verifies tokens with public keys only: what other IM services hold (built from the
/// JWKS document) and what [`super::TokenKeys`] uses itself.
pub struct Verifier {
    issuer: String,
    /// By `kid`. Grows (never shrinks) when a rotated key set is re-read at run time
    /// (see `crate::service::KeyRefresh`).
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("kids", &self.kids())
            .finish()
    }
}

impl Verifier {
    /// From the public keys of a JWKS document (`{"keys": [...]}`'s array).
    pub fn from_jwks(keys: &[PublicJwk], issuer: impl Into<String>) -> Result<Self> {
        let verifier = Self {
            issuer: issuer.into(),
            keys: RwLock::new(HashMap::new()),
            clock: Arc::new(SystemClock),
        };
        verifier.add_keys(keys)?;
        Ok(verifier)
    }

    /// The same verifier reading the time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Adds the Ed25519 keys of `keys` whose `kid` is new; returns how many. Known kids
    /// are left as they are (a kid names one key for good: it is derived from it).
    pub fn add_keys(&self, keys: &[PublicJwk]) -> Result<usize> {
        let mut parsed = Vec::new();
        for jwk in keys {
            if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
                continue;
            }
            let key = B64
                .decode(&jwk.x)
                .ok()
                .and_then(|x| <[u8; 32]>::try_from(x).ok())
                .filter(|x| VerifyingKey::from_bytes(x).is_ok())
                .ok_or_else(|| {
                    Error::internal(format!("jwk {} has no valid Ed25519 x", jwk.kid))
                })?;
            parsed.push((jwk.kid.clone(), Arc::new(DecodingKey::from_ed_der(&key))));
        }
        let mut map = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let before = map.len();
        for (kid, key) in parsed {
            map.entry(kid).or_insert(key);
        }
        Ok(map.len() - before)
    }

    /// The key ids this verifier knows.
    pub fn kids(&self) -> Vec<String> {
        let map = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let mut kids: Vec<String> = map.keys().cloned().collect();
        kids.sort();
        kids
    }

    fn key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        let map = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        map.get(kid).cloned()
    }

    /// The `kid` a token's header names, when it is one this verifier does not know
    /// (nothing is verified here: it only decides whether re-reading the keys may help).
    pub fn unknown_kid(&self, token: &str) -> Option<String> {
        let kid = parts(token).ok()?.header.kid?;
        self.key(&kid).is_none().then_some(kid)
    }

    /// Verifies a token of type `expected` and returns its claims. Any failure is
    /// `Unauthorized` with a short reason; the token itself is never echoed.
    pub fn verify(&self, token: &str, expected: TokenType) -> Result<Claims> {
        self.verify_one_of(token, &[expected])
    }

    /// Verifies a token that may be any of `allowed` (e.g. a user's access token or an
    /// app's admin token on the same header); its `typ` and `aud` must agree.
    pub fn verify_one_of(&self, token: &str, allowed: &[TokenType]) -> Result<Claims> {
        let Parts {
            header,
            signing_input,
            payload,
            signature,
        } = parts(token)?;
        if header.alg != ALGORITHM {
            return Err(unauthorized("unexpected algorithm"));
        }
        // RFC 7515 §4.1.11: a `crit` extension we do not implement must be refused.
        if header.crit.is_some() {
            return Err(malformed());
        }
        let kid = header.kid.ok_or_else(|| unauthorized("no key id"))?;
        let key = self
            .key(&kid)
            .ok_or_else(|| unauthorized("unknown key id"))?;
        if signature.len() != SIGNATURE_B64_LEN {
            return Err(malformed());
        }
        eddsa::install();
        let verified = jsonwebtoken::crypto::verify(
            signature,
            signing_input.as_bytes(),
            &key,
            Algorithm::EdDSA,
        )
        .map_err(|_| malformed())?;
        if !verified {
            return Err(unauthorized("bad signature"));
        }
        // Signed by us: now the claims. A missing `exp`, `iss`, `aud` or `sub` fails to
        // parse, so no token without an expiry is ever accepted.
        let claims: Claims = B64
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(malformed)?;
        if claims.iss != self.issuer {
            return Err(unauthorized("wrong audience or issuer"));
        }
        if !allowed.iter().any(|typ| claims.aud.names(*typ)) {
            return Err(unauthorized("wrong audience or issuer"));
        }
        if claims.exp < self.clock.now_secs() - LEEWAY_SECS {
            return Err(unauthorized("expired"));
        }
        if !allowed.contains(&claims.typ) || !claims.aud.fits(claims.typ, &claims.app) {
            return Err(unauthorized("wrong token type"));
        }
        if claims.sub.is_empty() {
            return Err(unauthorized("no subject"));
        }
        Ok(claims)
    }
}

fn unauthorized(why: &str) -> Error {
    Error::Unauthorized(format!("invalid token: {why}"))
}

fn malformed() -> Error {
    unauthorized("malformed")
}

/// A token cut into its segments, its header decoded.
struct Parts<'a> {
    header: ReceivedHeader,
    /// `header.payload`, what the signature covers.
    signing_input: &'a str,
    payload: &'a str,
    signature: &'a str,
}

/// A token of at most [`MAX_TOKEN_BYTES`] in three segments, with a header that
/// decodes; nothing else is looked at before these hold.
fn parts(token: &str) -> Result<Parts<'_>> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed());
    }
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(malformed());
    };
    let header: ReceivedHeader = B64
        .decode(header)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(malformed)?;
    Ok(Parts {
        header,
        signing_input: &token[..token.len() - signature.len() - 1],
        payload,
        signature,
    })
}
