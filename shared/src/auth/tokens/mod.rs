//! Ed25519-signed JWTs: access, push, store and app (admin) tokens, and the keys that
//! sign and verify them.
//!
//! Every token type has its own `typ` claim and its own audience, and verification pins
//! the algorithm to EdDSA and checks `iss`, `aud`, `exp`, `sub` and `typ`, so no token can
//! stand in for another. Keys are named by `kid`; the active key signs, every listed key
//! verifies, so a rotated-out key keeps verifying the tokens it signed until it is retired.
//!
//! Every token is signed and verified by `jsonwebtoken` over an EdDSA-only crypto
//! provider ([`eddsa`]); [`jws`] holds the compact serialization and the checks around
//! it.

mod claims;
mod eddsa;
mod jws;
mod keys;
#[cfg(test)]
mod tests;

pub use claims::{Actor, Claims, Minting};
pub use jws::Verifier;
pub use keys::TokenKeys;

// Public paths kept stable for the crates that import them from here.
pub use crate::auth::keyset::{KeyMaterial, KeySetDocument, PublicJwk, PublicKeySet};
pub use crate::auth::random::random_id;
pub use crate::auth::token_type::TokenType;
