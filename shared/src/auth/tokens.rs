//! Ed25519-signed JWTs: access, push, store and app (admin) tokens, and the key set
//! that signs and verifies them.
//!
//! Every token type has its own `typ` claim and its own audience, and verification pins
//! the algorithm to EdDSA and checks `iss`, `aud`, `exp`, `sub` and `typ`, so no token can
//! stand in for another. Keys are named by `kid`; the active key signs, every listed key
//! verifies, so a rotated-out key keeps verifying the tokens it signed until it is retired.
//!
//! The JWS compact serialization (RFC 7515) is written here over `ed25519-dalek`, for the
//! one algorithm we use, rather than through a JWT library: `jsonwebtoken` links RSA and
//! ECDSA (~340 KB of every function binary) for algorithms we must refuse anyway. What a
//! library would check is checked here, in this order: size, three base64url segments,
//! a header naming EdDSA and a known `kid` and no `crit`, a strict Ed25519 signature over
//! the first two segments, then the claims. `jsonwebtoken` remains a dev-dependency: the
//! tests check that tokens minted here verify there and the other way round.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::audience::Audience;
use crate::auth::hmac_keys::{self, HmacKeys};
pub use crate::auth::keyset::{KeyMaterial, KeySetDocument, PublicKeySet};
use crate::error::{Error, Result};

/// What a token is for. Serialized as the `typ` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// A user's API token (seed 000's `token`, Easemob's `access_token`).
    Access,
    /// Bound to one device; for the push gateway.
    Push,
    /// For the file store (seed 000's `store_token`).
    Store,
    /// An app's admin token (Easemob's `client_credentials` grant).
    App,
    /// Proof that a device logged in as the user before (service::attempts): lets that
    /// device past the account-wide lock. Never accepted as anything else.
    #[serde(rename = "device-proof")]
    DeviceProof,
}

impl TokenType {
    /// The audience each type is minted for (with its app-scoped form, see
    /// [`Audience`]); a verifier accepts only its own.
    pub fn audience(self) -> &'static str {
        match self {
            Self::Access => "im-api",
            Self::Push => "im-push",
            Self::Store => "im-store",
            Self::App => "im-admin",
            Self::DeviceProof => "imauth-device",
        }
    }
}

/// RFC 8693 actor claim: who minted this token on the subject's behalf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The type's audience and the same scoped to the app (see [`Audience`]).
    pub aud: Audience,
    /// The user id for user tokens; the client id for app tokens.
    pub sub: String,
    /// The app the token belongs to.
    pub app: String,
    pub iat: i64,
    /// `iat` in milliseconds, so a revocation (`tokens_valid_after`, ms) and a token
    /// minted in the same second are told apart.
    #[serde(default)]
    pub iat_ms: i64,
    /// Always present: a "non-expiring" token (Easemob `ttl: 0`) gets an `exp` a century
    /// away, so no verifier ever has to accept a token without one.
    pub exp: i64,
    /// Session id: shared by the tokens of one login; the file store derives
    /// `access_key_secret` from it.
    pub sid: String,
    pub typ: TokenType,
    /// Device the push token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// Group whose admin this token acts as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grp: Option<i64>,
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(Error::internal)?;
    Ok(bytes)
}

/// A random URL-safe identifier of `N` bytes of entropy.
pub fn random_id<const N: usize>() -> Result<String> {
    Ok(B64.encode(random_bytes::<N>()?))
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

/// Verifies tokens with public keys only: what other IM services hold (built from the
/// JWKS document) and what [`TokenKeys`] uses itself.
pub struct Verifier {
    issuer: String,
    /// By `kid`. Grows (never shrinks) when a rotated key set is re-read at run time
    /// (see `crate::service::KeyRefresh`).
    keys: RwLock<HashMap<String, VerifyingKey>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("kids", &self.kids())
            .finish()
    }
}

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
    active_kid: String,
    signing: SigningKey,
    /// The active key's JWS header, base64url: the same for every token it signs.
    header_b64: String,
    refresh: HmacKeys,
    store: HmacKeys,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.verifier.issuer)
            .field(
                "active_kid",
                &self.private.as_ref().map(|p| p.active_kid.as_str()),
            )
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// From the public keys of a JWKS document (`{"keys": [...]}`'s array).
    pub fn from_jwks(keys: &[PublicJwk], issuer: impl Into<String>) -> Result<Self> {
        let verifier = Self {
            issuer: issuer.into(),
            keys: RwLock::new(HashMap::new()),
        };
        verifier.add_keys(keys)?;
        Ok(verifier)
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
                .and_then(|x| VerifyingKey::from_bytes(&x).ok())
                .ok_or_else(|| {
                    Error::internal(format!("jwk {} has no valid Ed25519 x", jwk.kid))
                })?;
            parsed.push((jwk.kid.clone(), key));
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

    fn key(&self, kid: &str) -> Option<VerifyingKey> {
        let map = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        map.get(kid).copied()
    }

    /// The `kid` a token's header names, when it is one this verifier does not know
    /// (nothing is verified here: it only decides whether re-reading the keys may help).
    pub fn unknown_kid(&self, token: &str) -> Option<String> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let kid = ReceivedHeader::decode(token.split('.').next()?)?.kid?;
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
        let unauthorized = |why: &str| Error::Unauthorized(format!("invalid token: {why}"));
        let malformed = || unauthorized("malformed");
        if token.len() > MAX_TOKEN_BYTES {
            return Err(malformed());
        }
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(malformed());
        };
        let header = ReceivedHeader::decode(header_b64).ok_or_else(malformed)?;
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
        let signature = B64
            .decode(signature_b64)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or_else(malformed)?;
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        key.verify_strict(signing_input.as_bytes(), &signature)
            .map_err(|_| unauthorized("bad signature"))?;
        // Signed by us: now the claims. A missing `exp`, `iss`, `aud` or `sub` fails to
        // parse, so no token without an expiry is ever accepted.
        let claims: Claims = B64
            .decode(payload_b64)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(malformed)?;
        if claims.iss != self.issuer || !allowed.iter().any(|typ| claims.aud.names(*typ)) {
            return Err(unauthorized("wrong audience or issuer"));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if claims.exp < now - LEEWAY_SECS {
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

/// Allowed clock skew between us and a verifier, in seconds.
const LEEWAY_SECS: i64 = 30;

/// The only JWS algorithm minted or accepted.
const ALGORITHM: &str = "EdDSA";

/// Longest token looked at; ours are well under 1 KB.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

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

impl ReceivedHeader {
    /// The header from its base64url segment; `None` if either layer is malformed.
    fn decode(header_b64: &str) -> Option<Self> {
        serde_json::from_slice(&B64.decode(header_b64).ok()?).ok()
    }
}

impl TokenKeys {
    pub fn from_document(doc: &KeySetDocument, issuer: impl Into<String>) -> Result<Self> {
        let mut public = Vec::new();
        let mut signing = None;
        for key in &doc.keys {
            let (jwk, secret) = key.public_jwk()?;
            public.push(jwk);
            if key.kid == doc.active {
                signing = Some(secret);
            }
        }
        let signing = signing.ok_or_else(|| {
            Error::internal(format!("active key {} is not in the key set", doc.active))
        })?;
        let header = Header {
            alg: ALGORITHM,
            typ: "JWT",
            kid: &doc.active,
        };
        let header_b64 = B64.encode(serde_json::to_vec(&header).map_err(Error::internal)?);
        Ok(Self {
            verifier: Verifier::from_jwks(&public, issuer)?,
            public,
            private: Some(PrivateKeys {
                active_kid: doc.active.clone(),
                signing,
                header_b64,
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
        &self.verifier.issuer
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
        let private = self.private()?;
        let payload = serde_json::to_vec(claims).map_err(Error::internal)?;
        Ok(private.sign_payload(&payload))
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

    /// `access_key_secret` of seed 000: derived, not stored, so the file store can
    /// re-derive it from the session id with the store secret (see
    /// [`hmac_keys::access_key_secret`]).
    pub fn access_key_secret(&self, session_id: &str) -> Result<String> {
        hmac_keys::access_key_secret(&self.private()?.store, session_id)
    }
}

impl PrivateKeys {
    fn sign_payload(&self, payload: &[u8]) -> String {
        let mut token = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 90);
        token.push_str(&self.header_b64);
        token.push('.');
        B64.encode_string(payload, &mut token);
        let signature = self.signing.sign(token.as_bytes());
        token.push('.');
        B64.encode_string(signature.to_bytes(), &mut token);
        token
    }
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    use super::*;

    fn keys() -> (KeySetDocument, TokenKeys) {
        let doc = KeySetDocument::generate(1).unwrap();
        let keys = TokenKeys::from_document(&doc, "imauth").unwrap();
        (doc, keys)
    }

    fn claims(typ: TokenType, exp: Option<i64>) -> Claims {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        Claims {
            iss: "imauth".into(),
            aud: typ.audience().into(),
            sub: "42".into(),
            app: "demo".into(),
            iat: now,
            iat_ms: now * 1000,
            exp: now + exp.unwrap_or(0),
            sid: "s1".into(),
            typ,
            dev: None,
            act: None,
            grp: None,
        }
    }

    #[test]
    fn round_trip_and_type_pinning() {
        let (_, keys) = keys();
        let access = keys.sign(&claims(TokenType::Access, Some(60))).unwrap();
        assert_eq!(keys.verify(&access, TokenType::Access).unwrap().sub, "42");
        for other in [TokenType::Push, TokenType::Store, TokenType::App] {
            assert!(keys.verify(&access, other).is_err(), "{other:?}");
        }
    }

    #[test]
    fn a_token_relabelled_as_another_type_is_refused() {
        let (_, keys) = keys();
        // Right audience for a push token but typ says access: refused.
        let mut c = claims(TokenType::Access, Some(60));
        c.aud = TokenType::Push.audience().into();
        let token = keys.sign(&c).unwrap();
        assert!(keys.verify(&token, TokenType::Push).is_err());
        assert!(keys.verify(&token, TokenType::Access).is_err());
    }

    #[test]
    fn expired_foreign_and_tampered_tokens_are_refused() {
        let (_, keys) = keys();
        let expired = keys.sign(&claims(TokenType::Access, Some(-3600))).unwrap();
        assert!(
            matches!(keys.verify(&expired, TokenType::Access), Err(Error::Unauthorized(m)) if m.contains("expired"))
        );

        let (_, other) = self::keys();
        let foreign = other.sign(&claims(TokenType::Access, Some(60))).unwrap();
        assert!(keys.verify(&foreign, TokenType::Access).is_err());

        let good = keys.sign(&claims(TokenType::Access, Some(60))).unwrap();
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let mut payload = B64.decode(&parts[1]).unwrap();
        let text = String::from_utf8(payload.clone())
            .unwrap()
            .replace("\"42\"", "\"43\"");
        payload = text.into_bytes();
        parts[1] = B64.encode(payload);
        assert!(keys.verify(&parts.join("."), TokenType::Access).is_err());
        assert!(keys.verify("not.a.jwt", TokenType::Access).is_err());
        assert!(keys.verify("", TokenType::Access).is_err());
    }

    #[test]
    fn alg_none_and_hmac_confusion_are_refused() {
        let (_, keys) = keys();
        let c = claims(TokenType::Access, Some(60));
        let payload = B64.encode(serde_json::to_vec(&c).unwrap());
        let none = format!(
            "{}.{payload}.",
            B64.encode(br#"{"alg":"none","typ":"JWT"}"#)
        );
        assert!(keys.verify(&none, TokenType::Access).is_err());
        // HS256 signed with the public key bytes as the secret: the classic confusion.
        let kid = &keys.public_jwks()[0].kid;
        for secret in [
            keys.public_jwks()[0].x.clone().into_bytes(),
            B64.decode(&keys.public_jwks()[0].x).unwrap(),
        ] {
            let input = format!(
                "{}.{payload}",
                B64.encode(format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#))
            );
            let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
            mac.update(input.as_bytes());
            let forged = format!("{input}.{}", B64.encode(mac.finalize().into_bytes()));
            assert!(
                matches!(keys.verify(&forged, TokenType::Access), Err(Error::Unauthorized(m)) if m.contains("algorithm"))
            );
        }
    }

    /// `header.payload.signature` with our key but any header and payload bytes.
    fn signed_raw(keys: &TokenKeys, header: &str, payload: &[u8]) -> String {
        let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
        let signature = keys.private().unwrap().signing.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }

    #[test]
    fn only_well_formed_compact_tokens_are_looked_at() {
        let (_, keys) = keys();
        let kid = keys.public_jwks()[0].kid.clone();
        let c = serde_json::to_vec(&claims(TokenType::Access, Some(60))).unwrap();
        let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#);
        let good = signed_raw(&keys, &header, &c);
        assert!(keys.verify(&good, TokenType::Access).is_ok());

        let is_refused = |token: &str, why: &str| {
            let outcome = keys.verify(token, TokenType::Access);
            assert!(
                matches!(&outcome, Err(Error::Unauthorized(m)) if m.contains(why)),
                "{why}: {outcome:?}"
            );
        };
        is_refused(&format!("{good}.extra"), "malformed");
        is_refused(&good.replacen('.', "..", 1), "malformed");
        is_refused(&format!("{good}="), "malformed");
        is_refused(&good.replace('.', "=."), "malformed");
        is_refused(&format!("{good}{}", "A".repeat(9000)), "malformed");
        let (head, _) = good.rsplit_once('.').unwrap();
        is_refused(&format!("{head}.{}", B64.encode([0u8; 63])), "malformed");
        is_refused(
            &format!("{head}.{}", B64.encode([0u8; 64])),
            "bad signature",
        );
        // Signed, but with a header or claims we do not accept.
        let crit = format!(r#"{{"alg":"EdDSA","kid":"{kid}","crit":["exp"],"exp":1}}"#);
        is_refused(&signed_raw(&keys, &crit, &c), "malformed");
        let no_kid = r#"{"alg":"EdDSA","typ":"JWT"}"#;
        is_refused(&signed_raw(&keys, no_kid, &c), "no key id");
        let other_kid = r#"{"alg":"EdDSA","kid":"someone-else"}"#;
        is_refused(&signed_raw(&keys, other_kid, &c), "unknown key id");
        let twice = format!(r#"{{"alg":"EdDSA","alg":"none","kid":"{kid}"}}"#);
        is_refused(&signed_raw(&keys, &twice, &c), "malformed");
        is_refused(&signed_raw(&keys, "[]", &c), "malformed");
        is_refused(&signed_raw(&keys, &header, b"not json"), "malformed");
        let mut wrong_issuer = claims(TokenType::Access, Some(60));
        wrong_issuer.iss = "someone".into();
        let wrong_issuer = serde_json::to_vec(&wrong_issuer).unwrap();
        is_refused(&signed_raw(&keys, &header, &wrong_issuer), "issuer");
    }

    #[test]
    fn tokens_interoperate_with_a_reference_jwt_library() {
        use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
        let (doc, keys) = keys();
        let jwk = &keys.public_jwks()[0];
        let public = B64.decode(&jwk.x).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&["imauth"]);
        validation.set_audience(&["im-api"]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

        // Ours, verified there.
        let ours = keys.sign(&claims(TokenType::Access, Some(60))).unwrap();
        let header = jsonwebtoken::decode_header(&ours).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(jwk.kid.as_str()));
        let there =
            jsonwebtoken::decode::<Claims>(&ours, &DecodingKey::from_ed_der(&public), &validation)
                .unwrap();
        assert_eq!(there.claims, claims(TokenType::Access, Some(60)));

        // Theirs, verified here.
        let seed: [u8; 32] = B64
            .decode(&doc.keys[0].ed25519_seed)
            .unwrap()
            .try_into()
            .unwrap();
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let der = SigningKey::from_bytes(&seed).to_pkcs8_der().unwrap();
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.kid = Some(jwk.kid.clone());
        let c = claims(TokenType::Access, Some(60));
        let theirs =
            jsonwebtoken::encode(&header, &c, &EncodingKey::from_ed_der(der.as_bytes())).unwrap();
        assert_eq!(keys.verify(&theirs, TokenType::Access).unwrap(), c);
    }

    #[test]
    fn tokens_without_expiry_are_refused() {
        let (_, keys) = keys();
        let mut c = serde_json::to_value(claims(TokenType::App, Some(60))).unwrap();
        c.as_object_mut().unwrap().remove("exp");
        let header = format!(
            r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#,
            keys.public_jwks()[0].kid
        );
        let forever = signed_raw(&keys, &header, &serde_json::to_vec(&c).unwrap());
        assert!(keys.verify(&forever, TokenType::App).is_err());
        // The same claims with `exp` verify: the refusal is the missing expiry.
        c["exp"] = serde_json::json!(i64::MAX);
        let with_exp = signed_raw(&keys, &header, &serde_json::to_vec(&c).unwrap());
        assert!(keys.verify(&with_exp, TokenType::App).is_ok());
    }

    #[test]
    fn one_of_accepts_each_allowed_type_and_nothing_else() {
        let (_, keys) = keys();
        let both = [TokenType::Access, TokenType::App];
        for typ in both {
            let token = keys.sign(&claims(typ, Some(60))).unwrap();
            assert_eq!(keys.verify_one_of(&token, &both).unwrap().typ, typ);
        }
        let store = keys.sign(&claims(TokenType::Store, Some(60))).unwrap();
        assert!(keys.verify_one_of(&store, &both).is_err());
        // An access-typed token carrying the admin audience is refused.
        let mut c = claims(TokenType::Access, Some(60));
        c.aud = TokenType::App.audience().into();
        let token = keys.sign(&c).unwrap();
        assert!(keys.verify_one_of(&token, &both).is_err());
    }

    #[test]
    fn rotated_keys_keep_verifying_until_retired() {
        let (mut doc, keys) = keys();
        let old = keys.sign(&claims(TokenType::Access, Some(60))).unwrap();
        doc.rotate(2).unwrap();
        let rotated = TokenKeys::from_document(&doc, "imauth").unwrap();
        assert!(rotated.verify(&old, TokenType::Access).is_ok());
        let new = rotated.sign(&claims(TokenType::Access, Some(60))).unwrap();
        assert_eq!(rotated.public_jwks().len(), 2);
        doc.retire(1);
        let retired = TokenKeys::from_document(&doc, "imauth").unwrap();
        assert!(retired.verify(&old, TokenType::Access).is_err());
        assert!(retired.verify(&new, TokenType::Access).is_ok());
    }

    #[test]
    fn a_verifier_learns_the_keys_of_a_rotated_set_and_only_new_ones() {
        let (mut doc, keys) = keys();
        doc.rotate(2).unwrap();
        let rotated = TokenKeys::from_document(&doc, "imauth").unwrap();
        let new = rotated.sign(&claims(TokenType::Access, Some(60))).unwrap();
        let new_kid = doc.active.clone();

        assert_eq!(keys.verifier().unknown_kid(&new), Some(new_kid.clone()));
        assert!(keys.verify(&new, TokenType::Access).is_err());
        assert_eq!(
            keys.verifier()
                .add_keys(&doc.public_jwks().unwrap())
                .unwrap(),
            1
        );
        assert_eq!(keys.verifier().unknown_kid(&new), None);
        assert!(keys.verify(&new, TokenType::Access).is_ok());
        assert_eq!(
            keys.verifier()
                .add_keys(&doc.public_jwks().unwrap())
                .unwrap(),
            0
        );
        assert!(keys.verifier().kids().contains(&new_kid));

        // Only a parsable header with a kid says "unknown".
        assert_eq!(keys.verifier().unknown_kid("garbage"), None);
        assert_eq!(keys.verifier().unknown_kid(""), None);
        let no_kid = format!("{}.e30.", B64.encode(r#"{"alg":"EdDSA"}"#));
        assert_eq!(keys.verifier().unknown_kid(&no_kid), None);
    }

    #[test]
    fn access_key_secret_is_derived_per_session() {
        let (_, keys) = keys();
        let s1 = keys.new_session_id().unwrap();
        let a = keys.access_key_secret(&s1).unwrap();
        assert_eq!(a, keys.access_key_secret(&s1).unwrap());
        assert_ne!(
            a,
            keys.access_key_secret(&keys.new_session_id().unwrap())
                .unwrap()
        );
        assert_eq!(B64.decode(&a).unwrap().len(), 32);
    }

    #[test]
    fn verify_only_keys_verify_but_sign_and_seal_nothing() {
        let (doc, keys) = keys();
        let public = doc.public_key_set().unwrap();
        let verifying = TokenKeys::verify_only(&public, "imauth").unwrap();
        let token = keys.sign(&claims(TokenType::Access, Some(60))).unwrap();
        assert!(verifying.verify(&token, TokenType::Access).is_ok());
        assert!(!verifying.can_sign() && keys.can_sign());
        assert!(
            verifying
                .sign(&claims(TokenType::Access, Some(60)))
                .is_err()
        );
        assert!(verifying.refresh_keys().is_err());
        assert!(verifying.access_key_secret("s1").is_err());
        let text = serde_json::to_string(&public).unwrap();
        assert!(!text.contains(&doc.keys[0].ed25519_seed));
        assert!(!text.contains(&doc.store.current.secret));
    }

    #[test]
    fn debug_never_prints_key_material() {
        let (doc, keys) = keys();
        let seed = &doc.keys[0].ed25519_seed;
        assert!(!format!("{doc:?}").contains(seed.as_str()));
        assert!(!format!("{keys:?}").contains(seed.as_str()));
        assert!(!format!("{doc:?}").contains(doc.store.current.secret.as_str()));
        assert!(!format!("{doc:?}").contains(doc.refresh.current.secret.as_str()));
    }
}
