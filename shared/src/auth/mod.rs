//! Credentials and tokens.

pub mod audience;
pub mod hmac_keys;
pub mod keyset;
pub mod lockout;
pub mod password;
pub mod random;
pub mod refresh;
pub mod secret_versions;
pub mod token_type;
pub mod tokens;
mod work_area;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// App client secrets are 256-bit random values made by `imauth app create`, so one
/// SHA-256 is enough to store them (a slow hash guards low-entropy secrets; these are not).
pub fn hash_client_secret(secret: &str) -> String {
    format!("sha256:{}", B64.encode(Sha256::digest(secret.as_bytes())))
}

/// Constant-time comparison of a presented client secret with the stored hash.
pub fn verify_client_secret(secret: &str, stored_hash: &str) -> bool {
    let presented = hash_client_secret(secret);
    bool::from(presented.as_bytes().ct_eq(stored_hash.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_secret_hash_round_trip() {
        let stored = hash_client_secret("s3cret");
        assert!(!stored.contains("s3cret"));
        assert!(verify_client_secret("s3cret", &stored));
        assert!(!verify_client_secret("s3cres", &stored));
        assert!(!verify_client_secret("", &stored));
    }
}
