//! The only `jsonwebtoken` crypto provider this crate uses: Ed25519 over `ed25519-dalek`.
//!
//! `jsonwebtoken` is built without a crypto feature, so it links no RSA or ECDSA code
//! (its `rust_crypto` provider would add ~340 KB of both to every function binary, for
//! algorithms we must refuse anyway). Every other algorithm is refused here as well as in
//! the verifier that calls us, and signatures are checked with `verify_strict` (no small
//! order keys, no malleable signatures) rather than the lenient `verify`.

use std::sync::Once;

use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use sha2::{Digest as _, Sha256, Sha384, Sha512};

static EDDSA_ONLY: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(unsupported()),
        rsa_pub_components_from_public_key: |_| Err(unsupported()),
        ec_pub_components_from_private_key: |_, _| Err(unsupported()),
        ed_pub_components_from_private_key,
        compute_digest,
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
    let key = SigningKey::from_pkcs8_der(key.as_bytes()).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdDsaSigner(key)))
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

fn ed_pub_components_from_private_key(der: &[u8], curve: &EllipticCurve) -> JwtResult<Vec<u8>> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(unsupported());
    }
    let key = SigningKey::from_pkcs8_der(der).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(key.verifying_key().to_bytes().to_vec())
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> JwtResult<Vec<u8>> {
    Ok(match hash {
        ThumbprintHash::SHA256 => Sha256::digest(data).to_vec(),
        ThumbprintHash::SHA384 => Sha384::digest(data).to_vec(),
        ThumbprintHash::SHA512 => Sha512::digest(data).to_vec(),
        _ => return Err(unsupported()),
    })
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
