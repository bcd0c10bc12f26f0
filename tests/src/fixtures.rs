//! Fixtures the tests and the performance tools share: a temporary directory and a signing
//! key file.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use shared::auth::password::PasswordHasher;
use shared::auth::tokens::KeySetDocument;
use shared::clock::SystemClock;
use shared::service::provision::{NewApp, NewUser, build_app, build_user};
use shared::store::{AppAdmin, UserAdmin};

/// Alice's password in [`provision_alice`].
pub const ALICE_PASSWORD: &str = "alice-password";

/// The demo app (`demo`, Easemob path `demo-org/demo-app`) and alice (10001, `alice`,
/// `+8613800000000`, `alice@example.com`), as `events/seed.json` has them, created in
/// `store` with passwords hashed by `hasher`.
pub async fn provision_alice<S: AppAdmin + UserAdmin + ?Sized>(
    store: &S,
    hasher: &PasswordHasher,
) -> Result<()> {
    let (app, _) = build_app(NewApp {
        app_id: "demo".into(),
        org_name: Some("demo-org".into()),
        app_name: Some("demo-app".into()),
        ..NewApp::default()
    })?;
    store.create_app(&app).await?;
    let user = build_user(
        NewUser {
            app_id: "demo".into(),
            user_id: 10001,
            username: "alice".into(),
            phone: Some("+8613800000000".into()),
            email: Some("alice@example.com".into()),
            password: ALICE_PASSWORD.into(),
            activated: Some(true),
        },
        hasher,
        &SystemClock,
    )?;
    store.create_user(&user).await?;
    Ok(())
}

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

    /// Leaves the directory in place (for a failed test's evidence) and returns its path.
    pub fn keep(mut self) -> PathBuf {
        // Drop then removes the empty path, which is nothing.
        std::mem::take(&mut self.0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
