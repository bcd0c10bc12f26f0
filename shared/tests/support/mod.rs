//! What the handler-level tests share: the demo seed on the embedded store, an injected
//! clock, and one call per route.
#![allow(dead_code)] // each test file uses its own subset

use std::sync::Arc;

use lambda_http::{Body, Request};
use serde_json::{Value, json};
use shared::auth::password::{PasswordHasher, PasswordPolicy};
use shared::auth::tokens::{KeySetDocument, TokenKeys};
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::http::{Route, Services, handle};
use shared::service::Crypto;
use shared::service::audit::MemoryAudit;
use shared::service::seed::SeedFile;
use shared::store::EmbeddedStore;

/// A file of the repository. The package directory comes from the environment cargo
/// and nextest run tests in, before the one compiled in: a test binary built in another
/// clone (one target directory serves them all) must read this clone's files.
pub fn repo_path(relative: &str) -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || env!("CARGO_MANIFEST_DIR").into(),
            std::path::PathBuf::from,
        )
        .join("..")
        .join(relative)
}

pub struct Env {
    pub services: Services,
    pub store: Arc<EmbeddedStore>,
    pub clock: Arc<ManualClock>,
    pub audit: Arc<MemoryAudit>,
}

pub async fn env() -> Env {
    let clock = Arc::new(ManualClock::at_ms(SystemClock.now_ms()));
    let crypto = Arc::new(Crypto {
        hasher: PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap(),
        tokens: TokenKeys::from_document(&KeySetDocument::generate(0).unwrap(), "imauth")
            .unwrap()
            .with_clock(clock.clone()),
        clock: clock.clone(),
        key_refresh: None,
    });
    let seed = std::fs::read_to_string(repo_path("events/seed.json")).unwrap();
    let store = Arc::new(
        SeedFile::parse(&seed)
            .unwrap()
            .into_store(&crypto.hasher, clock.as_ref())
            .await
            .unwrap(),
    );
    let audit = Arc::new(MemoryAudit::default());
    Env {
        services: Services::with_audit(store.clone(), crypto, audit.clone()),
        store,
        clock,
        audit,
    }
}

pub fn request(route: Route, headers: &[(&str, &str)], body: Value) -> Request {
    let path = match route {
        Route::AppToken => "/demo-org/demo-app/token",
        other => other.path(),
    };
    let mut req = http::Request::builder().method("POST").uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Body::Text(body.to_string())).unwrap()
}

pub async fn call(env: &Env, route: Route, headers: &[(&str, &str)], body: Value) -> (u16, Value) {
    let response = handle(&env.services, route, request(route, headers, body)).await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

pub async fn login(env: &Env, user_id: i64, password: &str) -> (u16, Value) {
    call(
        env,
        Route::TokenId,
        &[("app_id", "demo")],
        json!({"user_id": user_id, "password": password}),
    )
    .await
}

pub async fn refresh(env: &Env, token: &str) -> (u16, Value) {
    call(
        env,
        Route::TokenRefresh,
        &[],
        json!({"refresh_token": token}),
    )
    .await
}

pub fn refresh_token(answer: &Value) -> String {
    answer["data"]["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token in {answer}"))
        .to_owned()
}

pub async fn wrong(env: &Env, how: usize) -> (u16, Value) {
    // Every way of naming alice, so the counter is shown to be per account.
    match how % 5 {
        0 => login(env, 10001, "wrong").await,
        1 => {
            call(
                env,
                Route::TokenUser,
                &[("app_id", "demo")],
                json!({"name": "ALICE", "password": "wrong"}),
            )
            .await
        }
        2 => {
            call(
                env,
                Route::TokenLogin,
                &[("app_id", "demo")],
                json!({"login_name": "+8613800000000", "password": "wrong"}),
            )
            .await
        }
        3 => {
            call(
                env,
                Route::TokenLogin,
                &[("app_id", "demo")],
                json!({"login_name": "alice@example.com", "password": "wrong"}),
            )
            .await
        }
        _ => {
            call(
                env,
                Route::AppToken,
                &[],
                json!({"grant_type": "password", "username": "alice", "password": "wrong"}),
            )
            .await
        }
    }
}
