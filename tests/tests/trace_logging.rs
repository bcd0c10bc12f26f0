//! No secret reaches the logs at any level: the login functions, run as Lambda runs them
//! with `RUST_LOG=trace` against DynamoDB Local, print neither the password, nor the
//! stored password or client secret hash, nor any token, nor key material, nor the AWS
//! credentials they sign with.

use integration::dynamo::fresh_store;
use integration::{FunctionRun, invoke_all, load_event, workspace_binary};
use serde_json::Value;
use shared::auth::password::{PasswordHasher, PasswordPolicy};
use shared::auth::tokens::KeySetDocument;
use shared::clock::SystemClock;
use shared::service::provision::{NewApp, NewUser, build_app, build_user};
use shared::store::{AppAdmin as _, DynamoStore, UserAdmin as _};

const PASSWORD: &str = "alice-password";
const CLIENT_SECRET: &str = "demo-client-secret-0123456789";
const AWS_SECRET_KEY: &str = "aws-secret-key-never-logged-0123456789";
const AWS_SESSION_TOKEN: &str = "aws-session-token-never-logged-0123456789";

/// The fixture app and user of `events/`, in a fresh table; returns their stored hashes.
async fn provision(store: &DynamoStore) -> (String, String) {
    let (app, _) = build_app(NewApp {
        app_id: "demo".into(),
        org_name: Some("demo-org".into()),
        app_name: Some("demo-app".into()),
        client_id: Some("demo-client".into()),
        client_secret: Some(CLIENT_SECRET.into()),
        ..NewApp::default()
    })
    .unwrap();
    store.create_app(&app).await.unwrap();
    let user = build_user(
        NewUser {
            app_id: "demo".into(),
            user_id: 10001,
            username: "alice".into(),
            phone: None,
            email: None,
            password: PASSWORD.into(),
            activated: Some(true),
        },
        &PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap(),
        &SystemClock,
    )
    .unwrap();
    store.create_user(&user).await.unwrap();
    (user.password_hash, app.client_secret_hash)
}

async fn run(binary: &str, env: &[(String, String)], events: Vec<Value>) -> FunctionRun {
    invoke_all(&workspace_binary(binary).unwrap(), env, events)
        .await
        .unwrap()
}

fn answer(run: &FunctionRun, i: usize) -> Value {
    let response = run.invocations[i].api_response().unwrap();
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(response.status, 200, "{}: {errors:?}", response.body);
    response.body
}

fn text(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_login_at_rust_log_trace_logs_no_password_hash_token_or_key() {
    let (store, _) = fresh_store().await.unwrap();
    let (password_hash, secret_hash) = provision(&store).await;
    let keys = KeySetDocument::generate(1).unwrap();
    let key_file = std::env::temp_dir().join(format!("imauth-trace-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&key_file, serde_json::to_vec(&keys).unwrap()).unwrap();
    let env: Vec<(String, String)> = [
        ("RUST_LOG", "trace"),
        ("IMAUTH_STORE", "dynamodb"),
        ("TABLE_NAME", store.table()),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            &integration::dynamo::endpoint().unwrap(),
        ),
        // DynamoDB Local keeps tables per access key: the one the table was made with.
        (
            "AWS_ACCESS_KEY_ID",
            &std::env::var("AWS_ACCESS_KEY_ID").unwrap(),
        ),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET_KEY),
        ("AWS_SESSION_TOKEN", AWS_SESSION_TOKEN),
        ("IMAUTH_KEYS_FILE", &key_file.display().to_string()),
        ("IMAUTH_PASSWORD_POLICY", "insecure-fast"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();

    let login = run(
        "token-id",
        &env,
        vec![load_event("events/token-id/ok-device.json").unwrap()],
    )
    .await;
    let data = answer(&login, 0)["data"].clone();
    let mut refresh = load_event("events/token-refresh/refresh.json").unwrap();
    refresh["body"] = serde_json::json!({"refresh_token": data["refresh_token"]})
        .to_string()
        .into();
    let refreshed = run("token-refresh", &env, vec![refresh]).await;
    let easemob = run(
        "app-token",
        &env,
        vec![
            load_event("events/app-token/password-default-ttl.json").unwrap(),
            load_event("events/app-token/client-credentials.json").unwrap(),
        ],
    )
    .await;
    let _ = std::fs::remove_file(&key_file);

    let rotated = answer(&refreshed, 0)["data"].clone();
    let mut secrets = vec![
        ("password", PASSWORD.to_owned()),
        ("password hash", password_hash.clone()),
        ("client secret", CLIENT_SECRET.to_owned()),
        ("client secret hash", secret_hash.clone()),
        ("AWS secret key", AWS_SECRET_KEY.to_owned()),
        ("AWS session token", AWS_SESSION_TOKEN.to_owned()),
        ("store secret", keys.store.current.secret.clone()),
        ("refresh secret", keys.refresh.current.secret.clone()),
        ("signing key", keys.keys[0].ed25519_seed.clone()),
    ];
    // The hash's last two fields (salt, digest) are what a leak would show, even re-encoded.
    for part in password_hash.rsplit('$').take(2) {
        secrets.push(("password hash part", part.to_owned()));
    }
    secrets.push((
        "client secret digest",
        secret_hash.trim_start_matches("sha256:").into(),
    ));
    for field in [
        "token",
        "store_token",
        "push_token",
        "refresh_token",
        "access_key_secret",
    ] {
        secrets.push(("login answer", text(&data[field])));
    }
    for field in ["token", "store_token", "refresh_token", "access_key_secret"] {
        secrets.push(("refresh answer", text(&rotated[field])));
    }
    secrets.push(("user token", text(&answer(&easemob, 0)["access_token"])));
    secrets.push(("app token", text(&answer(&easemob, 1)["access_token"])));

    let output = [&login, &refreshed, &easemob]
        .iter()
        .map(|run| format!("{}\n{}", run.stdout, run.stderr))
        .collect::<String>();
    // The logs really are at trace: our request lines and the SDK's debug lines are there.
    assert!(output.contains("\"status\":200"), "{output}");
    assert!(
        output.contains("\"level\":\"DEBUG\"") && output.contains("aws_smithy_runtime"),
        "RUST_LOG=trace was not honoured:\n{output}"
    );
    let leaked: Vec<&str> = secrets
        .iter()
        .filter(|(_, secret)| output.contains(secret.as_str()))
        .map(|(what, _)| *what)
        .collect();
    assert!(leaked.is_empty(), "logged at trace: {leaked:?}");
}
