//! Login cost: a bare argon2id verify against a full login through the handler on the
//! embedded store, at the same parameters, plus JWT mint and verify.
//!
//! `cargo bench -p shared --bench login` measures (release profile); `cargo test
//! --benches` runs it once per case as a smoke test (no timing claims). Set
//! `IMAUTH_BENCH_POLICY=m=..,t=..,p=..` to measure other argon2 parameters.

use std::hint::black_box;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use lambda_http::Body;
use shared::auth::password::{Password, PasswordPolicy};
use shared::auth::tokens::TokenType;
use shared::config::{Settings, parse_password_policy};
use shared::http::{Route, Services, handle};
use shared::service::Lifetime;

mod common;

use common::{measure, report};

fn main() {
    let (budget, min_runs) = common::budget(Duration::from_secs(3));
    let full = min_runs > 1;
    let policy = std::env::var("IMAUTH_BENCH_POLICY")
        .ok()
        .map(|p| parse_password_policy(&p).unwrap())
        .unwrap_or(PasswordPolicy::OWASP);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/seed.json");
    let services: Services = runtime
        .block_on(
            Settings {
                seed_file: Some(seed),
                password_policy: policy,
                ..Settings::default()
            }
            .build_services(),
        )
        .unwrap();
    let crypto = services.login.crypto();
    let password = Password::new("alice-password".into()).unwrap();
    let phc = crypto.hasher.hash(&password).unwrap();
    println!(
        "argon2id m={} KiB t={} p={}  ({} build)",
        policy.memory_kib,
        policy.iterations,
        policy.parallelism,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );

    let parsed = PasswordHash::new(&phc).unwrap();
    let reference = argon2::Argon2::default();
    let bare = measure(budget, min_runs, || {
        assert!(
            reference
                .verify_password(black_box(b"alice-password"), &parsed)
                .is_ok()
        );
    });
    report("argon2 verify (argon2 crate, allocating)", &bare);

    let ours = measure(budget, min_runs, || {
        assert!(crypto.hasher.verify(black_box(&password), &phc).unwrap());
    });
    report("argon2 verify (PasswordHasher, reused)", &ours);

    let event = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/token-id/ok.json"),
    )
    .unwrap();
    let login = measure(budget, min_runs, || {
        let req = lambda_http::request::from_str(&event).unwrap();
        let response = runtime.block_on(handle(&services, Route::TokenId, req));
        assert_eq!(response.status(), 200);
        black_box(response);
    });
    report("login via handler (/token/id, embedded)", &login);

    let wrong = measure(budget, min_runs, || {
        let mut req = lambda_http::request::from_str(&event).unwrap();
        *req.body_mut() = Body::Text(r#"{"user_id":99999,"password":"alice-password"}"#.into());
        let response = runtime.block_on(handle(&services, Route::TokenId, req));
        assert_eq!(response.status(), 401);
    });
    report("failed login, unknown user (dummy verify)", &wrong);

    let grant_user = runtime.block_on(services.login.app("demo")).unwrap();
    let mint_budget = if full {
        Duration::from_secs(1)
    } else {
        Duration::ZERO
    };
    let sample_user = shared::service::Subject::User(shared::domain::User {
        app_id: "demo".into(),
        user_id: 10001,
        uuid: "u".into(),
        username: "alice".into(),
        phone: None,
        email: None,
        password_hash: phc.clone(),
        activated: true,
        created_ms: 0,
        modified_ms: 0,
        tokens_valid_after: 0,
        revision: 0,
        failed_logins: 0,
        last_failure_ms: 0,
    });
    let mint = measure(mint_budget, min_runs, || {
        black_box(
            services
                .login
                .issue(
                    &grant_user,
                    &sample_user,
                    Some("dev-1"),
                    Lifetime::AppDefault,
                    None,
                )
                .unwrap(),
        );
    });
    report("mint access+store+push tokens", &mint);
    let issued = services
        .login
        .issue(&grant_user, &sample_user, None, Lifetime::AppDefault, None)
        .unwrap();
    let verify = measure(mint_budget, min_runs, || {
        black_box(
            crypto
                .tokens
                .verify(&issued.token, TokenType::Access)
                .unwrap(),
        );
    });
    report("verify one access token", &verify);

    let ratio = login.median.as_secs_f64() / bare.median.as_secs_f64();
    let ratio_ours = login.median.as_secs_f64() / ours.median.as_secs_f64();
    println!("login / bare argon2 verify      = {ratio:.3}x (budget <= 1.05x)");
    println!("login / PasswordHasher::verify  = {ratio_ours:.3}x");
    println!(
        "reused-buffer verify / allocating verify = {:.3}x",
        ours.median.as_secs_f64() / bare.median.as_secs_f64()
    );
}
