//! Handler time of the non-login routes (push registration, list, refresh, JWKS) on the
//! embedded store, whose "round trip" is an in-memory map access: what is measured is
//! the handler's own cost (parse, token verify, rules, render) beyond the store.
//! Budget: under 1 ms each. `cargo bench -p shared --bench requests`.

mod common;
// The handler tests' helpers, for `repo_path`.
#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use common::{budget, measure, report};
use lambda_http::{Body, Request};
use serde_json::json;
use shared::auth::password::{Password, PasswordPolicy};
use shared::config::{Settings, StoreKind};
use shared::domain::LoginKey;
use shared::http::{Route, Services, handle};
use shared::service::{Lifetime, LoginRequest};
use support::repo_path;

fn request(method: &str, route: Route, headers: &[(&str, &str)], body: Option<String>) -> Request {
    let mut builder = http::Request::builder().method(method).uri(route.path());
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(body.map_or(Body::Empty, Body::Text)).unwrap()
}

fn main() {
    let (time, min_runs) = budget(Duration::from_secs(2));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seed = repo_path("events/seed.json");
    let settings = Settings {
        seed_file: Some(seed),
        password_policy: PasswordPolicy::INSECURE_FAST,
        store: StoreKind::Embedded,
        ..Settings::default()
    };
    let services: Arc<Services> = runtime.block_on(async {
        let crypto = settings.crypto().unwrap();
        let store = Arc::new(settings.embedded_store(&crypto).await.unwrap());
        Arc::new(Services::over(store, crypto))
    });
    let grant = runtime
        .block_on(async {
            let app = services.login.app("demo").await?;
            services
                .login
                .login(LoginRequest {
                    app,
                    key: LoginKey::UserId(10001),
                    password: Password::new("alice-password".into())?,
                    device_guid: None,
                    device_proof: None,
                    lifetime: Lifetime::AppDefault,
                })
                .await
        })
        .unwrap();
    let bearer = format!("Bearer {}", grant.tokens.token);
    let run = |req: Request, route: Route| {
        let response = runtime.block_on(handle(&services, route, req));
        assert!(response.status().is_success(), "{:?}", response.body());
    };

    let mut n = 0u64;
    let register = measure(time, min_runs, || {
        n += 1;
        let body = json!({"push_token": format!("tok-{}", n % 8), "language": "zh-CN", "id": 10001,
                          "dev": 0, "push_platform": "HUAWEI", "os": "HUAWEI", "os_token": "hw"});
        run(
            request(
                "POST",
                Route::PushRing,
                &[("authorization", &bearer)],
                Some(body.to_string()),
            ),
            Route::PushRing,
        );
    });
    report("push registration (POST, handler)", &register);
    let list = measure(time, min_runs, || {
        run(
            request("GET", Route::PushRing, &[("authorization", &bearer)], None),
            Route::PushRing,
        );
    });
    report("push list (GET, handler)", &list);

    let mut refresh_token = grant.tokens.refresh.clone().unwrap().0;
    let refresh = measure(time, min_runs, || {
        let body = json!({"refresh_token": refresh_token}).to_string();
        let response = runtime.block_on(handle(
            &services,
            Route::TokenRefresh,
            request("POST", Route::TokenRefresh, &[], Some(body)),
        ));
        assert_eq!(response.status(), 200);
        let answer: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        refresh_token = answer["data"]["refresh_token"].as_str().unwrap().to_owned();
    });
    report("refresh rotation (handler)", &refresh);
    let jwks = measure(time, min_runs, || {
        run(request("GET", Route::Jwks, &[], None), Route::Jwks);
    });
    report("JWKS (handler)", &jwks);
    for (name, stats) in [
        ("push registration", &register),
        ("push list", &list),
        ("refresh", &refresh),
        ("jwks", &jwks),
    ] {
        println!(
            "{name:<20} {:.3} ms median: {}",
            stats.median.as_secs_f64() * 1e3,
            if stats.median < Duration::from_millis(1) {
                "within the 1 ms budget"
            } else {
                "OVER the 1 ms budget"
            }
        );
    }
}
