//! What a login attempt is counted against, and whether a right password may be
//! answered: the lockout rules of `auth::lockout` applied through the store, and the
//! device proofs that keep strangers from locking the owner out (OWASP "device
//! cookies"; docs/security.md).
//!
//! A device proof is a token we sign after a successful login with a `device_guid`,
//! naming the app, the user and that device, and stored nowhere. A later login on the
//! same device that presents it is counted against that device alone: the account-wide
//! lock that attempts without a proof build up does not stop it. A password change, a
//! ban or a logout everywhere (`tokens_valid_after`) ends every proof issued before.

use crate::auth::lockout::{LockState, LockSubject};
use crate::auth::tokens::{Claims, Minting, TokenType, random_id};
use crate::domain::{App, LoginKey, User};
use crate::error::{Error, Result};
use crate::service::Crypto;
use crate::store::LockoutStore;

/// How long a device proof is accepted. Every successful login on the device issues a
/// fresh one, so only a device unused for this long falls back to the account's lock.
pub const DEVICE_PROOF_LIFETIME_SECS: i64 = 180 * 86_400;

/// Whom a failed attempt is counted against: the device when the request carries a
/// valid proof for this user, app and device; else the account; else (no such user)
/// the name that was tried.
pub async fn lock_subject(
    crypto: &Crypto,
    app: &App,
    key: &LoginKey,
    user: Option<&User>,
    device_guid: Option<&str>,
    device_proof: Option<&str>,
) -> LockSubject {
    let Some(user) = user else {
        return LockSubject::UnknownName {
            app_id: app.app_id.clone(),
            key: key.clone(),
        };
    };
    if let (Some(guid), Some(proof)) = (device_guid, device_proof)
        && proves_device(crypto, proof, app, user, guid).await
    {
        return LockSubject::Device {
            app_id: app.app_id.clone(),
            user_id: user.user_id,
            device_guid: guid.to_owned(),
        };
    }
    LockSubject::Account {
        app_id: app.app_id.clone(),
        user_id: user.user_id,
    }
}

/// Whether `proof` is a live device proof we issued for exactly this user, app and
/// device. A proof that fails any check is simply not honoured (the attempt counts
/// against the account), so it tells a caller nothing.
async fn proves_device(crypto: &Crypto, proof: &str, app: &App, user: &User, guid: &str) -> bool {
    let Ok(claims) = crypto.verify(proof, TokenType::DeviceProof).await else {
        return false;
    };
    claims.app == app.app_id
        && claims.sub == user.user_id.to_string()
        && claims.dev.as_deref() == Some(guid)
        && claims.iat_ms > user.tokens_valid_after
        && claims.exp > crypto.clock.now_secs()
}

/// A new device proof for `user` on `device_guid`.
pub fn issue_device_proof(crypto: &Crypto, app: &App, user: &User, guid: &str) -> Result<String> {
    let now_ms = crypto.clock.now_ms();
    let tokens = &crypto.tokens;
    let minting = Minting {
        issuer: tokens.issuer(),
        app_id: &app.app_id,
        sub: &user.user_id.to_string(),
        session_id: &random_id::<16>()?,
        now_ms,
        exp: now_ms
            .div_euclid(1000)
            .saturating_add(DEVICE_PROOF_LIFETIME_SECS),
    };
    tokens.sign(&Claims::new(TokenType::DeviceProof, minting).with_device(Some(guid)))
}

/// A right password: answered only if, read after the password was verified, the
/// subject is not locked. The read is the moment of decision: every failure counted
/// before it is seen. It is made with a write (`observe_lock`) so that a right password
/// refused by a lock costs exactly what a wrong one does: otherwise its time would tell
/// an attacker hammering a locked account which guess was right. On success the count restarts (unless a failure was counted
/// after the read; that one stays).
pub async fn admit_right_password(
    store: &dyn LockoutStore,
    subject: &LockSubject,
    now_ms: i64,
) -> Result<()> {
    let state: LockState = store.observe_lock(subject, now_ms).await?;
    if state.locked_until(now_ms).is_some() {
        return Err(Error::Locked);
    }
    if state.failures > 0
        && let Err(e) = store.clear_failures(subject, &state).await
    {
        // The login stands; the next failure then continues the old count, which only
        // ever errs on the strict side.
        tracing::warn!(app_id = %subject.app_id(), error = %e, "failed to reset a failure count");
    }
    Ok(())
}
