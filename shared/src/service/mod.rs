//! Use cases. Each public function here is one thing a route or an operator command
//! does; they own the rules and see storage only through the store traits.

pub mod admin;
pub mod audit;
pub mod hashing;
pub mod login;
pub mod provision;
pub mod push;
pub mod seed;
pub mod session;

use std::sync::Arc;

use crate::auth::password::PasswordHasher;
use crate::auth::tokens::TokenKeys;
use crate::clock::Clock;

pub use login::{
    Acting, AppGrant, IssuedTokens, Lifetime, LoginGrant, LoginRequest, LoginService, Subject,
};

/// The process-wide secrets and policies every service shares: built once at cold start.
pub struct Crypto {
    pub hasher: PasswordHasher,
    pub tokens: TokenKeys,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Crypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crypto")
            .field("hasher", &self.hasher)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}
