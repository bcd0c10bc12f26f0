//! Fixtures the tests and the performance tools share: a temporary directory and a signing
//! key file.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use shared::auth::tokens::KeySetDocument;

/// A fresh signing key set written to `dir/keys.json`, as `IMAUTH_KEYS_FILE` reads it.
pub fn write_key_file(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let doc = KeySetDocument::generate(1).context("generating a key set")?;
    let path = dir.join("keys.json");
    std::fs::write(&path, serde_json::to_vec(&doc)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "imauth-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
