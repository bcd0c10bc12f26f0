//! An HMAC secret's live versions at run time, and the one derivation the file store
//! shares with imauth: `access_key_secret` from a session id.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::auth::random::random_id;
use crate::auth::secret_versions::{LEGACY_STORE_SECRET_ID, SecretVersion, SecretVersions};
use crate::error::{Error, Result};

/// HMAC secrets shorter than this are refused.
const MIN_SECRET_BYTES: usize = 32;

/// One HMAC secret's live versions, decoded, named by id.
pub struct HmacKeys {
    current: (String, Vec<u8>),
    previous: Option<(String, Vec<u8>)>,
}

impl fmt::Debug for HmacKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacKeys")
            .field("current", &self.current.0)
            .field("previous", &self.previous.as_ref().map(|(id, _)| id))
            .finish()
    }
}

impl HmacKeys {
    /// The versions of `purpose`'s secret; each must have a usable id and 32+ bytes.
    pub fn from_versions(versions: &SecretVersions, purpose: &str) -> Result<Self> {
        let decode = |version: &SecretVersion| {
            if version.id.is_empty() || version.id.contains('.') {
                return Err(Error::internal(format!(
                    "the {purpose} secret has a version id that is empty or contains '.'"
                )));
            }
            B64.decode(&version.secret)
                .ok()
                .filter(|s| s.len() >= MIN_SECRET_BYTES)
                .map(|bytes| (version.id.clone(), bytes))
                .ok_or_else(|| {
                    Error::internal(format!(
                        "{purpose} secret {} must be at least {MIN_SECRET_BYTES} bytes, base64url",
                        version.id
                    ))
                })
        };
        let keys = Self {
            current: decode(&versions.current)?,
            previous: versions.previous.as_ref().map(decode).transpose()?,
        };
        if keys.previous.as_ref().map(|(id, _)| id) == Some(&keys.current.0) {
            return Err(Error::internal(format!(
                "the {purpose} secret has two versions named {}",
                keys.current.0
            )));
        }
        Ok(keys)
    }

    /// The id and bytes of the version that authenticates anything new.
    pub(crate) fn current(&self) -> (&str, &[u8]) {
        (&self.current.0, &self.current.1)
    }

    /// The live version named `id`, if any.
    pub(crate) fn get(&self, id: &str) -> Option<&[u8]> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|(version, _)| version == id)
            .map(|(_, bytes)| bytes.as_slice())
    }
}

/// A new session id: the current store-secret id, `.`, 128 random bits.
pub fn new_session_id(store: &HmacKeys) -> Result<String> {
    Ok(format!("{}.{}", store.current().0, random_id::<16>()?))
}

/// `access_key_secret` of the vendor login API for a session, as the file store re-derives it from
/// the store token's `sid`: HMAC-SHA256 under the store-secret version the sid names
/// (the part before its first `.`; a sid without one is from before versioning and
/// names [`LEGACY_STORE_SECRET_ID`]), over a label and the whole sid.
pub fn access_key_secret(store: &HmacKeys, session_id: &str) -> Result<String> {
    let version = session_id
        .split_once('.')
        .map_or(LEGACY_STORE_SECRET_ID, |(id, _)| id);
    let secret = store.get(version).ok_or_else(|| {
        Error::internal(format!("no live store secret {version} for this session"))
    })?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(Error::internal)?;
    mac.update(b"imauth access_key_secret v1\0");
    mac.update(session_id.as_bytes());
    Ok(B64.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keyset::KeySetDocument;

    fn store_keys(doc: &KeySetDocument) -> HmacKeys {
        HmacKeys::from_versions(&doc.store, "store").unwrap()
    }

    #[test]
    fn access_key_secret_follows_the_version_the_session_names() {
        let mut doc = KeySetDocument::generate(1).unwrap();
        let sid = new_session_id(&store_keys(&doc)).unwrap();
        assert!(sid.starts_with(&format!("{}.", doc.store.current.id)));
        let before = access_key_secret(&store_keys(&doc), &sid).unwrap();
        assert_eq!(B64.decode(&before).unwrap().len(), 32);
        let other = new_session_id(&store_keys(&doc)).unwrap();
        assert_ne!(
            before,
            access_key_secret(&store_keys(&doc), &other).unwrap()
        );

        // One rotation later the session still derives the same secret; two, none.
        doc.rotate(2).unwrap();
        assert_eq!(access_key_secret(&store_keys(&doc), &sid).unwrap(), before);
        let newer = new_session_id(&store_keys(&doc)).unwrap();
        assert!(newer.starts_with(&format!("{}.", doc.store.current.id)));
        doc.rotate(3).unwrap();
        assert!(access_key_secret(&store_keys(&doc), &sid).is_err());
    }

    #[test]
    fn short_or_badly_named_secrets_are_refused() {
        let doc = KeySetDocument::generate(1).unwrap();
        let mut short = doc.refresh.clone();
        short.current.secret = B64.encode([1u8; 16]);
        assert!(HmacKeys::from_versions(&short, "refresh").is_err());
        let mut dotted = doc.refresh.clone();
        dotted.current.id = "a.b".into();
        assert!(HmacKeys::from_versions(&dotted, "refresh").is_err());
        let mut twice = doc.refresh.clone();
        twice.previous = Some(twice.current.clone());
        assert!(HmacKeys::from_versions(&twice, "refresh").is_err());
        assert!(HmacKeys::from_versions(&doc.refresh, "refresh").is_ok());
    }
}
