//! What a token is for, and the audience each kind is minted for.

use serde::{Deserialize, Serialize};

/// What a token is for. Serialized as the `typ` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// A user's API token (the vendor login API's `token`, Easemob's `access_token`).
    Access,
    /// Bound to one device; for the push gateway.
    Push,
    /// For the file store (the vendor login API's `store_token`).
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
    /// [`crate::auth::audience::Audience`]); a verifier accepts only its own.
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
