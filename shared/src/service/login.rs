//! Logging in: one credential read, one argon2 verify, tokens. Also the two ways to get
//! tokens without a user's password: an app's own admin token (client credentials) and
//! an admin acting as a user or a group's admin.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::auth::password::Password;
use crate::auth::tokens::{Actor, Claims, Minting, TokenType, random_id};
use crate::auth::verify_client_secret;
use crate::domain::{App, LoginKey, User};
use crate::error::{Error, Result};
use crate::metrics::{self, Outcome};
use crate::service::audit::{AuditEvent, AuditLog, TracingAudit};
use crate::service::crypto::verify_now;
pub use crate::service::crypto::{IssuedTokens, Subject};
use crate::service::hashing::HashingPool;
use crate::service::{Crypto, attempts};
use crate::store::LoginStore;

/// How long a warm process trusts its copy of an app record. Apps change rarely, and
/// caching them keeps a login at one store read.
const APP_CACHE_TTL: Duration = Duration::from_secs(60);

pub const MAX_DEVICE_GUID_LEN: usize = 128;

pub use super::lifetime::{Lifetime, MAX_TTL_SECS, NON_EXPIRING_SECS};

pub struct LoginRequest {
    pub app: Arc<App>,
    pub key: LoginKey,
    pub password: Password,
    pub device_guid: Option<String>,
    /// A device proof from an earlier login on `device_guid` (service::attempts).
    pub device_proof: Option<String>,
    pub lifetime: Lifetime,
}

/// An admin token presented with the vendor login API's `user_id` / `group_id` headers.
#[derive(Debug, Clone)]
pub struct Acting {
    pub admin: Claims,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
    pub source_ip: Option<String>,
}

#[derive(Debug)]
pub struct LoginGrant {
    pub app: Arc<App>,
    pub subject: Subject,
    pub tokens: IssuedTokens,
}

/// An app's admin token (Easemob `client_credentials`).
#[derive(Debug)]
pub struct AppGrant {
    pub app: Arc<App>,
    pub access_token: String,
    pub expires_in: u64,
}

type AppCache = Mutex<HashMap<String, (Instant, Arc<App>)>>;

pub struct LoginService {
    store: Arc<dyn LoginStore>,
    crypto: Arc<Crypto>,
    audit: Arc<dyn AuditLog>,
    apps: AppCache,
    /// When set, argon2 runs on these threads instead of the caller's.
    hashing_pool: Option<Arc<HashingPool>>,
}

/// Checks a client-supplied device id before it goes into a token.
pub fn validate_device_guid(guid: &str) -> Result<()> {
    if guid.is_empty() || guid.len() > MAX_DEVICE_GUID_LEN {
        return Err(Error::bad_request(format!(
            "device_guid must be 1 to {MAX_DEVICE_GUID_LEN} characters"
        )));
    }
    if !guid.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::bad_request(
            "device_guid must be printable ASCII without spaces",
        ));
    }
    Ok(())
}

fn cached(cache: &AppCache, key: &str) -> Option<Arc<App>> {
    let cache = cache.lock().ok()?;
    let (at, app) = cache.get(key)?;
    (at.elapsed() < APP_CACHE_TTL).then(|| app.clone())
}

fn remember(cache: &AppCache, key: String, app: &Arc<App>) {
    if let Ok(mut cache) = cache.lock() {
        cache.insert(key, (Instant::now(), app.clone()));
    }
}

impl LoginService {
    pub fn new(store: Arc<dyn LoginStore>, crypto: Arc<Crypto>) -> Self {
        Self::with_audit(store, crypto, Arc::new(TracingAudit))
    }

    pub fn with_audit(
        store: Arc<dyn LoginStore>,
        crypto: Arc<Crypto>,
        audit: Arc<dyn AuditLog>,
    ) -> Self {
        Self {
            store,
            crypto,
            audit,
            apps: Mutex::new(HashMap::new()),
            hashing_pool: None,
        }
    }

    /// Runs password verification on `pool`'s threads, for servers that take many
    /// requests in one process (`imauth serve`): the async workers stay free for I/O,
    /// and memory stays bounded at one argon2 work area per pool thread. Lambda handles
    /// one request at a time and verifies inline.
    pub fn with_hashing_pool(mut self, pool: Arc<HashingPool>) -> Self {
        self.hashing_pool = Some(pool);
        self
    }

    /// Verifies `password` against `stored` (or, for an unknown user, against the dummy
    /// hash, returning false).
    async fn verify_password(&self, password: &Password, stored: Option<&str>) -> Result<bool> {
        let Some(pool) = &self.hashing_pool else {
            return verify_now(&self.crypto, password, stored);
        };
        let crypto = self.crypto.clone();
        let password = password.clone();
        let stored = stored.map(str::to_owned);
        pool.run(move || verify_now(&crypto, &password, stored.as_deref()))
            .await?
    }

    pub fn crypto(&self) -> &Crypto {
        &self.crypto
    }

    pub fn store(&self) -> &dyn LoginStore {
        self.store.as_ref()
    }

    /// The app named by the vendor login API's `app_id` header, from the warm cache when fresh.
    pub async fn app(&self, app_id: &str) -> Result<Arc<App>> {
        match cached(&self.apps, &format!("id:{app_id}")) {
            Some(app) => {
                metrics::record_app(&app.app_id);
                Ok(app)
            }
            None => self.current_app(app_id).await,
        }
    }

    /// The app as stored now, bypassing (and refreshing) the warm cache: for what a
    /// rotated client secret must change at once (the client-credentials grant, acting
    /// with an admin token), at the price of one read.
    pub async fn current_app(&self, app_id: &str) -> Result<Arc<App>> {
        let app = self
            .store
            .app_by_id(app_id)
            .await?
            .map(Arc::new)
            .ok_or_else(|| Error::UnknownApp(format!("app_id {app_id:?} names no app")))?;
        remember(&self.apps, format!("id:{app_id}"), &app);
        let by_name = format!("name:{}/{}", app.org_name, app.app_name);
        remember(&self.apps, by_name, &app);
        metrics::record_app(&app.app_id);
        Ok(app)
    }

    /// The app of a verified app (admin) token, refusing a token minted at or before the
    /// app's last `imauth app rotate-secret`.
    pub async fn admin_app(&self, admin: &Claims) -> Result<Arc<App>> {
        let app = self.current_app(&admin.app).await?;
        if admin.iat_ms <= app.app_tokens_valid_after {
            return Err(Error::Unauthorized(
                "invalid token: revoked by a client secret rotation".into(),
            ));
        }
        Ok(app)
    }

    /// The app named by an Easemob path `/{org_name}/{app_name}/…`.
    pub async fn app_by_name(&self, org_name: &str, app_name: &str) -> Result<Arc<App>> {
        let key = format!("name:{org_name}/{app_name}");
        if let Some(app) = cached(&self.apps, &key) {
            metrics::record_app(&app.app_id);
            return Ok(app);
        }
        let app = self
            .store
            .app_by_name(org_name, app_name)
            .await?
            .map(Arc::new)
            .ok_or_else(|| Error::UnknownApp(format!("no application {org_name}/{app_name}")))?;
        remember(&self.apps, key, &app);
        metrics::record_app(&app.app_id);
        Ok(app)
    }

    /// Verifies the password and mints the session's tokens.
    ///
    /// An unknown user, a wrong password, a locked account and a banned user with a
    /// wrong password all end in `BadCredentials` after the same work: one read, one
    /// argon2 verify (a dummy one for an unknown user) and one counted failure (against
    /// the name tried, for an unknown user). A right password is answered only if the
    /// lock read after the verify allows it; a banned user hears so only then.
    pub async fn login(&self, request: LoginRequest) -> Result<LoginGrant> {
        if let Some(guid) = &request.device_guid {
            validate_device_guid(guid)?;
        }
        let app = request.app;
        let user = self.store.find_user(&app.app_id, &request.key).await?;
        let subject = attempts::lock_subject(
            &self.crypto,
            &app,
            &request.key,
            user.as_ref(),
            request.device_guid.as_deref(),
            request.device_proof.as_deref(),
        )
        .await;
        let password_ok = self
            .verify_password(
                &request.password,
                user.as_ref().map(|u| u.password_hash.as_str()),
            )
            .await?;
        let now_ms = self.crypto.clock.now_ms();
        let user = match user {
            Some(user) if password_ok => user,
            _ => {
                self.store.count_failure(&subject, now_ms).await?;
                return Err(Error::BadCredentials);
            }
        };
        attempts::admit_right_password(self.store.as_ref(), &subject, now_ms).await?;
        if !user.activated {
            return Err(Error::Banned);
        }
        self.rehash_if_needed(&user, &request.password).await;
        let device_guid = request.device_guid;
        let device_proof = device_guid
            .as_deref()
            .map(|guid| attempts::issue_device_proof(&self.crypto, &app, &user, guid))
            .transpose()?;
        let subject = Subject::User(user);
        let mut tokens = self.issue(
            &app,
            &subject,
            device_guid.as_deref(),
            request.lifetime,
            None,
        )?;
        tokens.device_proof = device_proof;
        if let Subject::User(user) = &subject {
            if let Some(guid) = &device_guid
                && let Err(e) = self
                    .store
                    .record_device(&app.app_id, user.user_id, guid, now_ms)
                    .await
            {
                // The push token is bound to the device by its claim either way.
                tracing::warn!(app_id = %app.app_id, user_id = user.user_id, error = %e, "failed to record the device");
            }
            tokens.refresh = Some(self.crypto.open_refresh_family(user, device_guid)?);
        }
        metrics::record(Outcome::LoginSucceeded);
        Ok(LoginGrant {
            app,
            subject,
            tokens,
        })
    }

    /// Mints tokens for the user (or group admin) an admin token names, without the
    /// user's password. `named_in_body`, when the body also names a user, must be the
    /// same user. Writes one audit record.
    pub async fn login_as(
        &self,
        app: Arc<App>,
        acting: &Acting,
        named_in_body: Option<&LoginKey>,
        device_guid: Option<&str>,
        lifetime: Lifetime,
    ) -> Result<LoginGrant> {
        if let Some(guid) = device_guid {
            validate_device_guid(guid)?;
        }
        let subject = match (acting.user_id, acting.group_id) {
            (Some(user_id), _) => {
                let user = self
                    .store
                    .find_user(&app.app_id, &LoginKey::UserId(user_id))
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("no user {user_id} in this app")))?;
                if let Some(key) = named_in_body
                    && !names_user(key, &user)
                {
                    return Err(Error::Forbidden(
                        "the body names a different user than the user_id header".into(),
                    ));
                }
                if !user.activated {
                    return Err(Error::Banned);
                }
                Subject::User(user)
            }
            (None, Some(group_id)) => Subject::GroupAdmin(group_id),
            (None, None) => {
                return Err(Error::bad_request(
                    "acting needs a user_id or group_id header",
                ));
            }
        };
        let actor = Actor {
            sub: acting.admin.sub.clone(),
        };
        let tokens = self.crypto.issue(
            &app,
            &subject,
            device_guid,
            lifetime,
            Some((actor, acting.group_id)),
        )?;
        self.record_act("admin_act", &app, acting);
        Ok(LoginGrant {
            app,
            subject,
            tokens,
        })
    }

    /// Writes the one audit record of an admin act.
    pub fn record_act(&self, event: &'static str, app: &App, acting: &Acting) {
        self.audit.record(AuditEvent {
            event,
            app_id: app.app_id.clone(),
            admin: acting.admin.sub.clone(),
            target_user: acting.user_id,
            target_group: acting.group_id,
            source_ip: acting.source_ip.clone(),
            at_ms: self.crypto.clock.now_ms(),
        });
    }

    /// Easemob's `client_credentials` grant: the app's admin token. The secret is
    /// compared in constant time against the hash stored now (not a cached copy), so a
    /// rotated-out secret stops working at once.
    pub async fn app_token(
        &self,
        app: &App,
        client_id: &str,
        client_secret: &str,
        lifetime: Lifetime,
    ) -> Result<AppGrant> {
        let app = self.current_app(&app.app_id).await?;
        let secret_ok = verify_client_secret(client_secret, &app.client_secret_hash);
        if client_id != app.client_id || !secret_ok {
            return Err(Error::Unauthorized(
                "invalid client_id or client_secret".into(),
            ));
        }
        // Milliseconds, compared with `app_tokens_valid_after`: a token minted in the
        // same second as, but after, a rotation must be accepted.
        let now_ms = self.crypto.clock.now_ms();
        let now = now_ms.div_euclid(1000);
        let (exp, expires_in) = lifetime.expiry(&app, now)?;
        let tokens = &self.crypto.tokens;
        let minting = Minting {
            issuer: tokens.issuer(),
            app_id: &app.app_id,
            sub: &app.client_id,
            session_id: &random_id::<16>()?,
            now_ms,
            exp,
        };
        let access_token = tokens.sign(&Claims::new(TokenType::App, minting))?;
        Ok(AppGrant {
            app,
            access_token,
            expires_in,
        })
    }

    /// The policy changed since this hash was made: store a new one. Failure here must
    /// not fail the login that already succeeded; it is retried at the next login.
    async fn rehash_if_needed(&self, user: &User, password: &Password) {
        let hasher = &self.crypto.hasher;
        if !hasher.needs_rehash(&user.password_hash) {
            return;
        }
        let outcome = match hasher.hash(password) {
            Ok(new_hash) => self.store.rehash_password(user, &new_hash).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            tracing::warn!(app_id = %user.app_id, user_id = user.user_id, error = %e, "password rehash failed");
        }
    }

    /// Mints a session's tokens (see [`Crypto::issue`]).
    pub fn issue(
        &self,
        app: &App,
        subject: &Subject,
        device_guid: Option<&str>,
        lifetime: Lifetime,
        acting: Option<(Actor, Option<i64>)>,
    ) -> Result<IssuedTokens> {
        self.crypto
            .issue(app, subject, device_guid, lifetime, acting)
    }
}

/// Whether a login key names this user (all keys are canonical).
fn names_user(key: &LoginKey, user: &User) -> bool {
    match key {
        LoginKey::UserId(id) => *id == user.user_id,
        LoginKey::Username(name) => *name == user.username,
        LoginKey::Phone(phone) => user.phone.as_ref() == Some(phone),
        LoginKey::Email(email) => user.email.as_ref() == Some(email),
    }
}
