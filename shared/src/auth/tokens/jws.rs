//! Minting and verifying compact JWS through `jsonwebtoken`, and what the library does
//! not do for us, in a thin layer around it: the size cap before anything is parsed,
//! refusing a `crit` header, the key lookup by `kid` (and telling the caller when a kid
//! is unknown, so it can re-read the key set), our leeway on `exp` read from the
//! [`Clock`], and the pairing of `typ` with the app-scoped `aud`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::VerifyingKey;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

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

/// Signs with one Ed25519 key, named by `kid` in every header it writes.
pub(super) struct Signer {
    header: Header,
    key: EncodingKey,
}

impl Signer {
    /// `pkcs8_der`: the private key as PKCS#8 DER, the form `jsonwebtoken` takes.
    pub(super) fn new(kid: &str, pkcs8_der: &[u8]) -> Self {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        Self {
            header,
            key: EncodingKey::from_ed_der(pkcs8_der),
        }
    }

    pub(super) fn sign(&self, claims: &Claims) -> Result<String> {
        eddsa::install();
        jsonwebtoken::encode(&self.header, claims, &self.key).map_err(Error::internal)
    }

    pub(super) fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }
}

/// Verifies tokens with public keys only: what other IM services hold (built from the
/// JWKS document) and what [`super::TokenKeys`] uses itself.
pub struct Verifier {
    issuer: String,
    /// By `kid`. Grows (never shrinks) when a rotated key set is re-read at run time
    /// (see `crate::service::KeyRefresh`).
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    validation: Validation,
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
        let issuer = issuer.into();
        // What the library checks: the signature (EdDSA only), and that `exp`, `iss`,
        // `aud` and `sub` are present and `iss` is ours. Expiry is ours to check (our
        // clock, our leeway), and so is `aud`, which must pair with `typ`.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer.as_str()]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        let verifier = Self {
            issuer,
            keys: RwLock::new(HashMap::new()),
            validation,
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
        let kid = header(token).ok()?.0.kid?;
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
        let (header, signature) = header(token)?;
        if header.alg != Algorithm::EdDSA {
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
        // A missing `exp`, `iss`, `aud` or `sub` fails here (the claims do not parse, or
        // the library finds a required claim missing): no token without an expiry is
        // ever accepted.
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => unauthorized("bad signature"),
                ErrorKind::InvalidAlgorithm => unauthorized("unexpected algorithm"),
                ErrorKind::InvalidIssuer => unauthorized("wrong audience or issuer"),
                _ => malformed(),
            })?
            .claims;
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

/// The header and the signature segment of a token of at most [`MAX_TOKEN_BYTES`] in
/// three segments, both checked before the library parses anything.
fn header(token: &str) -> Result<(Header, &str)> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed());
    }
    let mut segments = token.split('.');
    let (Some(_), Some(_), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(malformed());
    };
    let header = jsonwebtoken::decode_header(token).map_err(|_| malformed())?;
    Ok((header, signature))
}
