//! The versions of one HMAC secret as the key-set document stores them: the current one
//! and the one it replaced (one rotation of overlap).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

use crate::auth::random::{random_bytes, random_id};
use crate::error::Result;

/// Version id the store secret of a key set from before versioning gets when upgraded.
/// Session ids minted then carry no version, and derive with this one.
pub const LEGACY_STORE_SECRET_ID: &str = "legacy";

/// One version of an HMAC secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct SecretVersion {
    /// Names this version in what it authenticates; never contains `.`.
    pub id: String,
    /// 32 random bytes, base64url without padding.
    pub secret: String,
    #[serde(default)]
    pub created: i64,
}

impl fmt::Debug for SecretVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretVersion")
            .field("id", &self.id)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl SecretVersion {
    pub(crate) fn generate(now: i64) -> Result<Self> {
        Ok(Self {
            id: random_id::<6>()?,
            secret: B64.encode(random_bytes::<32>()?),
            created: now,
        })
    }
}

/// An HMAC secret's current version and the one it replaced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretVersions {
    pub current: SecretVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<SecretVersion>,
}

impl SecretVersions {
    pub(crate) fn generate(now: i64) -> Result<Self> {
        Ok(Self {
            current: SecretVersion::generate(now)?,
            previous: None,
        })
    }

    /// A new current version; the old current one stays as `previous`, the one before it
    /// is dropped (and with it everything it authenticated).
    pub(crate) fn rotate(&mut self, now: i64) -> Result<()> {
        let next = SecretVersion::generate(now)?;
        self.previous = Some(std::mem::replace(&mut self.current, next));
        Ok(())
    }

    /// The ids of the live versions, current first.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|v| v.id.as_str())
            .collect()
    }
}
