use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signer as _, SigningKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::*;
use crate::clock::{Clock as _, SystemClock};
use crate::error::Error;

fn keys() -> (KeySetDocument, TokenKeys) {
    let doc = KeySetDocument::generate(1).unwrap();
    let keys = TokenKeys::from_document(&doc, "imauth").unwrap();
    (doc, keys)
}

fn claims(typ: TokenType, exp: Option<i64>) -> Claims {
    let now = SystemClock.now_secs();
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

/// The active signing key of `doc`.
fn signing_key(doc: &KeySetDocument) -> SigningKey {
    let active = doc.keys.iter().find(|k| k.kid == doc.active).unwrap();
    let seed: [u8; 32] = B64
        .decode(&active.ed25519_seed)
        .unwrap()
        .try_into()
        .unwrap();
    SigningKey::from_bytes(&seed)
}

/// `header.payload.signature` framed by hand (RFC 7515 compact serialization, no JWT
/// library), signed with `doc`'s active key over any header and payload bytes.
fn signed_raw(doc: &KeySetDocument, header: &str, payload: &[u8]) -> String {
    let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
    let signature = signing_key(doc).sign(input.as_bytes());
    format!("{input}.{}", B64.encode(signature.to_bytes()))
}

#[test]
fn only_well_formed_compact_tokens_are_looked_at() {
    let (doc, keys) = keys();
    let kid = keys.public_jwks()[0].kid.clone();
    let c = serde_json::to_vec(&claims(TokenType::Access, Some(60))).unwrap();
    let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#);
    let good = signed_raw(&doc, &header, &c);
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
    is_refused(&signed_raw(&doc, &crit, &c), "malformed");
    let no_kid = r#"{"alg":"EdDSA","typ":"JWT"}"#;
    is_refused(&signed_raw(&doc, no_kid, &c), "no key id");
    let other_kid = r#"{"alg":"EdDSA","kid":"someone-else"}"#;
    is_refused(&signed_raw(&doc, other_kid, &c), "unknown key id");
    let twice = format!(r#"{{"alg":"EdDSA","alg":"none","kid":"{kid}"}}"#);
    is_refused(&signed_raw(&doc, &twice, &c), "malformed");
    is_refused(&signed_raw(&doc, "[]", &c), "malformed");
    is_refused(&signed_raw(&doc, &header, b"not json"), "malformed");
    let mut wrong_issuer = claims(TokenType::Access, Some(60));
    wrong_issuer.iss = "someone".into();
    let wrong_issuer = serde_json::to_vec(&wrong_issuer).unwrap();
    is_refused(&signed_raw(&doc, &header, &wrong_issuer), "issuer");
}

/// Now that `jsonwebtoken` mints and verifies, the reference it is checked against is
/// the RFC 7515 compact serialization written out by hand over `ed25519-dalek`, as any
/// other service's verifier would read it: no JWT library on that side.
#[test]
fn tokens_interoperate_with_a_hand_written_jws() {
    use ed25519_dalek::{Signature, VerifyingKey};
    let (doc, keys) = keys();
    let jwk = &keys.public_jwks()[0];
    let public: [u8; 32] = B64.decode(&jwk.x).unwrap().try_into().unwrap();
    let public = VerifyingKey::from_bytes(&public).unwrap();

    // Ours, verified there.
    let ours = keys.sign(&claims(TokenType::Access, Some(60))).unwrap();
    let (input, signature) = ours.rsplit_once('.').unwrap();
    let (header, payload) = input.split_once('.').unwrap();
    let header: serde_json::Value = serde_json::from_slice(&B64.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], jwk.kid.as_str());
    let signature: [u8; 64] = B64.decode(signature).unwrap().try_into().unwrap();
    public
        .verify_strict(input.as_bytes(), &Signature::from_bytes(&signature))
        .unwrap();
    let there: Claims = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    assert_eq!(there, claims(TokenType::Access, Some(60)));

    // Theirs, verified here.
    let c = claims(TokenType::Access, Some(60));
    let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#, jwk.kid);
    let theirs = signed_raw(&doc, &header, &serde_json::to_vec(&c).unwrap());
    assert_eq!(keys.verify(&theirs, TokenType::Access).unwrap(), c);
}

/// Expiry is read from the verifier's clock, with our leeway and no more.
#[test]
fn expiry_is_judged_by_the_clock_with_thirty_seconds_of_leeway() {
    use std::sync::Arc;

    use crate::clock::ManualClock;
    let (_, keys) = keys();
    let c = claims(TokenType::Access, Some(60));
    let token = keys.sign(&c).unwrap();
    let clock = Arc::new(ManualClock::at_ms((c.exp + 30) * 1000));
    let keys = keys.with_clock(clock.clone());
    assert!(keys.verify(&token, TokenType::Access).is_ok());
    clock.advance_secs(1);
    assert!(
        matches!(keys.verify(&token, TokenType::Access), Err(Error::Unauthorized(m)) if m.contains("expired"))
    );
}

#[test]
fn tokens_without_expiry_are_refused() {
    let (doc, keys) = keys();
    let mut c = serde_json::to_value(claims(TokenType::App, Some(60))).unwrap();
    c.as_object_mut().unwrap().remove("exp");
    let header = format!(
        r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#,
        keys.public_jwks()[0].kid
    );
    let forever = signed_raw(&doc, &header, &serde_json::to_vec(&c).unwrap());
    assert!(keys.verify(&forever, TokenType::App).is_err());
    // The same claims with `exp` verify: the refusal is the missing expiry.
    c["exp"] = serde_json::json!(i64::MAX);
    let with_exp = signed_raw(&doc, &header, &serde_json::to_vec(&c).unwrap());
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
