//! Use cases. Each public function here is one thing a route or an operator command
//! does; they own the rules and see storage only through the store traits.

pub mod admin;
pub mod attempts;
pub mod audit;
pub mod crypto;
pub mod hashing;
pub mod inherit;
pub mod key_refresh;
pub mod lifetime;
pub mod login;
pub mod provision;
pub mod push;
pub mod seed;
pub mod services;
pub mod session;
pub mod users;

pub use crypto::{Crypto, IssuedTokens, Subject};
pub use key_refresh::KeyRefresh;
pub use login::{Acting, AppGrant, Lifetime, LoginGrant, LoginRequest, LoginService};
pub use services::{PushCaller, Services};
