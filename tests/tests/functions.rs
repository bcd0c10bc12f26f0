//! Each function binary, built as Lambda runs it, answers Runtime-API invocations made
//! from `events/` payloads with the API Gateway response the handler tests expect.

use integration::{ApiResponse, invoke_all, load_event, repo_root, workspace_binary};
use serde_json::Value;
use shared::auth::tokens::{KeySetDocument, TokenKeys, TokenType};

struct Fixture {
    env: Vec<(String, String)>,
    keys: TokenKeys,
    _dir: tempdir::TempDir,
}

mod tempdir {
    /// A directory removed on drop; enough for one key file per test.
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "imauth-{tag}-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn fixture(tag: &str) -> Fixture {
    let dir = tempdir::TempDir::new(tag);
    let doc = KeySetDocument::generate(1).unwrap();
    let key_file = dir.0.join("keys.json");
    std::fs::write(&key_file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let env = vec![
        ("IMAUTH_STORE".into(), "embedded".into()),
        (
            "IMAUTH_SEED_FILE".into(),
            repo_root().join("events/seed.json").display().to_string(),
        ),
        ("IMAUTH_KEYS_FILE".into(), key_file.display().to_string()),
        ("IMAUTH_PASSWORD_POLICY".into(), "insecure-fast".into()),
    ];
    Fixture {
        env,
        keys: TokenKeys::from_document(&doc, "imauth").unwrap(),
        _dir: dir,
    }
}

async fn run(binary: &str, fixture: &Fixture, events: &[&str]) -> Vec<ApiResponse> {
    let payloads = events.iter().map(|e| load_event(e).unwrap()).collect();
    let run = invoke_all(&workspace_binary(binary).unwrap(), &fixture.env, payloads)
        .await
        .unwrap();
    assert_eq!(run.invocations.len(), events.len());
    // Logs must never carry a password or a token.
    for secret in ["alice-password", "bob-password", "eyJ"] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{binary} logged {secret:?}"
        );
    }
    assert!(
        run.stderr.contains("\"status\":200") || run.stdout.contains("\"status\":200"),
        "one JSON log line per request: {}",
        run.stderr
    );
    run.invocations
        .iter()
        .map(|i| i.api_response().unwrap())
        .collect()
}

fn assert_ok_login(fixture: &Fixture, r: &ApiResponse) {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body["code"], 200);
    assert_eq!(r.body["message"], Value::Null);
    let data = &r.body["data"];
    assert_eq!(data["user_id"], 10001);
    let claims = fixture
        .keys
        .verify(data["token"].as_str().unwrap(), TokenType::Access)
        .unwrap();
    assert_eq!(claims.sub, "10001");
    fixture
        .keys
        .verify(data["store_token"].as_str().unwrap(), TokenType::Store)
        .unwrap();
    assert!(
        data["access_key_secret"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(data["expire"].as_i64().unwrap() > claims.iat);
}

#[tokio::test]
async fn token_id_function_answers_runtime_api_invocations() {
    let f = fixture("token-id");
    let r = run(
        "token-id",
        &f,
        &[
            "events/token-id/ok.json",
            "events/token-id/ok-device.json",
            "events/token-id/wrong-password.json",
            "events/token-id/unknown-user.json",
            "events/token-id/banned.json",
            "events/token-id/malformed-json.json",
            "events/token-id/get.json",
        ],
    )
    .await;
    assert_ok_login(&f, &r[0]);
    assert!(r[0].body["data"].get("push_token").is_none());
    assert_ok_login(&f, &r[1]);
    let push = f
        .keys
        .verify(
            r[1].body["data"]["push_token"].as_str().unwrap(),
            TokenType::Push,
        )
        .unwrap();
    assert_eq!(push.dev.as_deref(), Some("ios-7f3a9c"));
    assert_eq!(r[2].status, 401);
    assert_eq!(
        r[2].raw_body, r[3].raw_body,
        "unknown user = wrong password"
    );
    assert_eq!(r[4].status, 403);
    assert_eq!(r[5].status, 400);
    assert_eq!(r[6].status, 405);
}

#[tokio::test]
async fn token_login_function_answers_runtime_api_invocations() {
    let f = fixture("token-login");
    let r = run(
        "token-login",
        &f,
        &[
            "events/token-login/ok-phone.json",
            "events/token-login/ok-email.json",
            "events/token-login/ok-username.json",
            "events/token-login/wrong-password.json",
            "events/token-login/unknown-user.json",
            "events/token-login/missing-login-name.json",
        ],
    )
    .await;
    for ok in &r[..3] {
        assert_ok_login(&f, ok);
    }
    assert!(r[1].body["data"]["push_token"].is_string());
    assert_eq!(r[3].status, 401);
    assert_eq!(r[3].raw_body, r[4].raw_body);
    assert_eq!(r[5].status, 400);
}

#[tokio::test]
async fn token_user_function_answers_runtime_api_invocations() {
    let f = fixture("token-user");
    let r = run(
        "token-user",
        &f,
        &[
            "events/token-user/ok.json",
            "events/token-user/ok-base64.json",
            "events/token-user/wrong-password.json",
            "events/token-user/unknown-user.json",
            "events/token-user/banned.json",
            "events/token-user/name-not-string.json",
        ],
    )
    .await;
    assert_ok_login(&f, &r[0]);
    assert_ok_login(&f, &r[1]);
    assert_eq!(r[2].status, 401);
    assert_eq!(r[2].raw_body, r[3].raw_body);
    assert_eq!(r[4].status, 403);
    assert_eq!(r[5].status, 400);
}

#[tokio::test]
async fn a_function_with_a_broken_configuration_fails_its_cold_start() {
    let mut f = fixture("broken");
    f.env
        .push(("IMAUTH_KEYS_FILE".into(), "/nonexistent/keys.json".into()));
    let err = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &f.env,
        vec![load_event("events/token-id/ok.json").unwrap()],
    )
    .await
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("key file"), "{text}");
}
