//! The only `jsonwebtoken` crypto provider this crate uses: Ed25519 over `ed25519-dalek`.
//!
//! `jsonwebtoken` is built without a crypto feature, so it links no RSA or ECDSA code
//! (its `rust_crypto` provider would add ~340 KB of both to every function binary, for
//! algorithms we must refuse anyway). Every other algorithm is refused here as well as in
//! the verifier that calls us, and signatures are checked with `verify_strict` (no small
//! order keys, no malleable signatures) rather than the lenient `verify`.
//!
//! An [`EncodingKey`] here holds the 32-byte Ed25519 seed (`EncodingKey::from_ed_der`
//! stores whatever bytes it is given; the library's own providers expect PKCS#8 there).
//! Parsing PKCS#8 would link a DER decoder into every function for nothing: the seed is
//! what the key set stores.

use std::sync::{Mutex, Once, PoisonError};

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use subtle::ConstantTimeEq as _;

static EDDSA_ONLY: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(unsupported()),
        rsa_pub_components_from_public_key: |_| Err(unsupported()),
        ec_pub_components_from_private_key: |_, _| Err(unsupported()),
        // JWKs are written by `auth::keyset`, never derived by the library.
        ed_pub_components_from_private_key: |_, _| Err(unsupported()),
        compute_digest: |_, _| Err(unsupported()),
    },
};

/// Makes [`EDDSA_ONLY`] the process's provider; called before every use of
/// `jsonwebtoken`, so no path reaches the library's panicking "no provider" default.
/// Installing fails only if another provider was installed first, which nothing in this
/// workspace does; the algorithm checks of the verifier hold either way.
pub(super) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if EDDSA_ONLY.install_default().is_err() {
            tracing::warn!("a jsonwebtoken crypto provider was installed before ours");
        }
    });
}

fn unsupported() -> jsonwebtoken::errors::Error {
    ErrorKind::UnsupportedAlgorithm.into()
}

fn signer_factory(algorithm: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(unsupported());
    }
    Ok(Box::new(EdDsaSigner(signing_key(key.as_bytes())?)))
}

fn verifier_factory(algorithm: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(unsupported());
    }
    let bytes =
        <[u8; 32]>::try_from(key.try_get_as_bytes()?).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdDsaVerifier(key)))
}

/// The key last signed with. The library asks for a signer per token, and a signing key
/// built from its seed derives its public half first, a scalar multiplication as costly
/// as the signature: kept here, a process signing with its one active key pays it once.
static LAST_SIGNING_KEY: Mutex<Option<SigningKey>> = Mutex::new(None);

/// The key an [`EncodingKey`] of ours holds: its bytes are the Ed25519 seed.
fn signing_key(seed: &[u8]) -> JwtResult<SigningKey> {
    let seed = <[u8; 32]>::try_from(seed).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    let mut last = LAST_SIGNING_KEY
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(key) = last.as_ref()
        && bool::from(key.as_bytes().ct_eq(&seed))
    {
        return Ok(key.clone());
    }
    let key = SigningKey::from_bytes(&seed);
    *last = Some(key.clone());
    Ok(key)
}

struct EdDsaSigner(SigningKey);

impl Signer<Vec<u8>> for EdDsaSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(ed25519_dalek::Signer::sign(&self.0, message)
            .to_bytes()
            .to_vec())
    }
}

impl JwtSigner for EdDsaSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct EdDsaVerifier(VerifyingKey);

impl Verifier<Vec<u8>> for EdDsaVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let signature = Signature::from_slice(signature)?;
        self.0.verify_strict(message, &signature)
    }
}

impl JwtVerifier for EdDsaVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ed25519_keys_and_the_eddsa_algorithm_are_served() {
        let seed = [7u8; 32];
        let public =
            DecodingKey::from_ed_der(SigningKey::from_bytes(&seed).verifying_key().as_bytes());
        let hmac = DecodingKey::from_secret(b"secret");
        for algorithm in [Algorithm::HS256, Algorithm::RS256, Algorithm::ES256] {
            assert!(
                verifier_factory(&algorithm, &public).is_err(),
                "{algorithm:?}"
            );
            assert!(signer_factory(&algorithm, &EncodingKey::from_secret(b"s")).is_err());
        }
        // A secret of the wrong length is no Ed25519 key.
        assert!(verifier_factory(&Algorithm::EdDSA, &hmac).is_err());
        assert!(verifier_factory(&Algorithm::EdDSA, &public).is_ok());
    }

    #[test]
    fn each_seed_signs_with_its_own_key_whichever_signed_last() {
        let message = b"header.payload";
        for seed in [[1u8; 32], [2u8; 32], [1u8; 32]] {
            let signer =
                signer_factory(&Algorithm::EdDSA, &EncodingKey::from_ed_der(&seed)).unwrap();
            let signature = signer.try_sign(message).unwrap();
            let public = SigningKey::from_bytes(&seed).verifying_key();
            let verifier = EdDsaVerifier(public);
            assert!(Verifier::verify(&verifier, message, &signature).is_ok());
        }
    }

    #[test]
    fn a_signature_that_only_the_lenient_check_accepts_is_refused() {
        // The identity point (a small-order key) with the all-identity signature
        // (R = identity, s = 0): `verify` accepts it for every message, `verify_strict`
        // refuses it. A verifier built on `verify` would take any token "signed" so.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let key = VerifyingKey::from_bytes(&identity).unwrap();
        let mut forged = identity.to_vec();
        forged.extend_from_slice(&[0u8; 32]);
        let signature = Signature::from_slice(&forged).unwrap();
        assert!(key.verify(b"any message", &signature).is_ok());
        let verifier = EdDsaVerifier(key);
        assert!(Verifier::verify(&verifier, b"any message", &forged).is_err());
    }
}
