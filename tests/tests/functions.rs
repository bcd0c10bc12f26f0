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

#[tokio::test]
async fn app_token_function_answers_the_easemob_route_and_its_admin_token_acts() {
    let f = fixture("app-token");
    let r = run(
        "app-token",
        &f,
        &[
            "events/app-token/seed-example.json",
            "events/app-token/client-credentials.json",
            "events/app-token/wrong-password.json",
            "events/app-token/unknown-user.json",
            "events/app-token/banned.json",
            "events/app-token/unknown-app.json",
            "events/app-token/unsupported-grant.json",
            "events/app-token/ttl-fractional.json",
        ],
    )
    .await;
    assert_eq!(r[0].status, 200, "{}", r[0].body);
    assert_eq!(r[0].body["expires_in"], 1_024_000);
    assert_eq!(r[0].body["user"]["username"], "c");
    f.keys
        .verify(
            r[0].body["access_token"].as_str().unwrap(),
            TokenType::Access,
        )
        .unwrap();
    assert_eq!(r[1].status, 200, "{}", r[1].body);
    let admin = r[1].body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        f.keys.verify(&admin, TokenType::App).unwrap().sub,
        "demo-client"
    );
    assert_eq!(
        (r[2].status, &r[2].body["error"]),
        (400, &Value::from("invalid_grant"))
    );
    assert_eq!(r[2].raw_body, r[3].raw_body);
    assert_eq!(r[4].body["error_description"], "user not activated");
    assert_eq!(r[5].status, 404);
    assert_eq!(r[5].body["error"], "organization_application_not_found");
    assert_eq!(r[6].body["error"], "unsupported_grant_type");
    assert_eq!(r[7].status, 400);

    // The admin token, used by another function (another process, same key set).
    let mut acting = load_event("events/token-id/acting-as-user.json").unwrap();
    acting["headers"]["access-token"] = Value::from(admin.as_str());
    let mut group = load_event("events/token-id/acting-as-group-admin.json").unwrap();
    group["headers"]["access-token"] = Value::from(admin.as_str());
    let mut by_user = load_event("events/token-id/acting-as-user.json").unwrap();
    by_user["headers"]["access-token"] = r[0].body["access_token"].clone();
    let run = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &f.env,
        vec![acting, group, by_user],
    )
    .await
    .unwrap();
    let answers: Vec<ApiResponse> = run
        .invocations
        .iter()
        .map(|i| i.api_response().unwrap())
        .collect();
    assert_eq!(answers[0].status, 200, "{}", answers[0].body);
    let claims = f
        .keys
        .verify(
            answers[0].body["data"]["token"].as_str().unwrap(),
            TokenType::Access,
        )
        .unwrap();
    assert_eq!(claims.act.map(|a| a.sub), Some("demo-client".to_owned()));
    assert_eq!(answers[1].status, 200, "{}", answers[1].body);
    assert_eq!(answers[2].status, 403, "a user token may not act");
    let logs = format!("{}{}", run.stdout, run.stderr);
    let audit_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("imauth::audit"))
        .collect();
    assert_eq!(
        audit_lines.len(),
        2,
        "one audit line per act: {audit_lines:?}"
    );
    assert!(
        audit_lines[0].contains("\"target_user\":\"Some(10001)\"")
            || audit_lines[0].contains("10001")
    );
    assert!(audit_lines[0].contains("203.0.113.7"), "{}", audit_lines[0]);
    assert!(
        !logs.contains(&admin),
        "the admin token must never be logged"
    );
}

fn with_body_token(event: &str, field: &str, token: &str) -> Value {
    let mut e = load_event(event).unwrap();
    let mut body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
    body[field] = Value::from(token);
    e["body"] = Value::from(body.to_string());
    e
}

#[tokio::test]
async fn token_refresh_function_rotates_detects_reuse_and_revokes() {
    let f = fixture("token-refresh");
    let login = run("token-id", &f, &["events/token-id/ok.json"]).await;
    let opener = login[0].body["data"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let access = login[0].body["data"]["token"].as_str().unwrap().to_owned();

    // Another process, another cold start: the opener is self-contained.
    let binary = workspace_binary("token-refresh").unwrap();
    let first = invoke_all(
        &binary,
        &f.env,
        vec![with_body_token(
            "events/token-refresh/refresh.json",
            "refresh_token",
            &opener,
        )],
    )
    .await
    .unwrap();
    let first = first.invocations[0].api_response().unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    let rotated = first.body["data"]["reflash_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(first.body["data"]["refresh_token"], rotated.as_str());
    f.keys
        .verify(
            first.body["data"]["token"].as_str().unwrap(),
            TokenType::Access,
        )
        .unwrap();

    let mut logout = load_event("events/token-refresh/logout-everywhere.json").unwrap();
    logout["headers"]["authorization"] = Value::from(format!("Bearer {access}"));
    let run = invoke_all(
        &binary,
        &f.env,
        vec![
            with_body_token(
                "events/token-refresh/refresh.json",
                "refresh_token",
                &opener,
            ),
            with_body_token(
                "events/token-refresh/refresh-reflash-key.json",
                "reflash_key",
                &opener,
            ),
            load_event("events/token-refresh/refresh-garbage.json").unwrap(),
            load_event("events/token-refresh/refresh-missing-token.json").unwrap(),
            load_event("events/token-refresh/logout-everywhere-no-token.json").unwrap(),
            logout,
            load_event("events/token-refresh/get.json").unwrap(),
            load_event("events/token-id/ok.json").unwrap(),
        ],
    )
    .await
    .unwrap();
    let r: Vec<ApiResponse> = run
        .invocations
        .iter()
        .map(|i| i.api_response().unwrap())
        .collect();
    // This process's store had never seen the family: the first use opens it here...
    assert_eq!(r[0].status, 200, "{}", r[0].body);
    // ...and the second use of the same opener is reuse.
    assert_eq!(r[1].status, 401, "{}", r[1].body);
    assert_eq!(r[2].status, 401);
    assert_eq!(r[3].status, 400);
    assert_eq!(r[4].status, 401);
    assert_eq!(r[5].status, 200, "{}", r[5].body);
    assert_eq!(r[6].status, 405);
    assert_eq!(
        r[7].status, 404,
        "a login path is not this function's route"
    );
    let logs = format!("{}{}", run.stdout, run.stderr);
    assert!(
        !logs.contains(&opener) && !logs.contains(&access),
        "no token in logs"
    );
}

fn with_header(event: &str, name: &str, value: &str) -> Value {
    let mut e = load_event(event).unwrap();
    e["headers"][name] = Value::from(value);
    e
}

#[tokio::test]
async fn push_token_function_registers_lists_and_unregisters() {
    let f = fixture("push-token");
    let login = run("token-id", &f, &["events/token-id/ok-device.json"]).await;
    let access = login[0].body["data"]["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {access}");
    let run = invoke_all(
        &workspace_binary("push-token").unwrap(),
        &f.env,
        vec![
            with_header(
                "events/push-token/register-ring.json",
                "authorization",
                &bearer,
            ),
            with_header(
                "events/push-token/register-message.json",
                "access-token",
                &access,
            ),
            with_header(
                "events/push-token/register-other-user.json",
                "authorization",
                &bearer,
            ),
            with_header(
                "events/push-token/register-bad-platform.json",
                "authorization",
                &bearer,
            ),
            load_event("events/push-token/register-no-token.json").unwrap(),
            with_header("events/push-token/list-ring.json", "authorization", &bearer),
            with_header(
                "events/push-token/unregister-ring.json",
                "authorization",
                &bearer,
            ),
            with_header("events/push-token/list-ring.json", "authorization", &bearer),
            with_header("events/push-token/put.json", "authorization", &bearer),
        ],
    )
    .await
    .unwrap();
    let r: Vec<ApiResponse> = run
        .invocations
        .iter()
        .map(|i| i.api_response().unwrap())
        .collect();
    assert_eq!(r[0].status, 200, "{}", r[0].body);
    assert_eq!(r[0].body["data"]["push_platform"], "HUAWEI");
    assert_eq!(r[0].body["data"]["bundleid"], "com.example.chat");
    assert_eq!(r[1].status, 200, "{}", r[1].body);
    assert_eq!(r[1].body["data"]["kind"], "message");
    assert_eq!(r[2].status, 403, "id is not the caller's");
    assert_eq!(r[3].status, 400);
    assert_eq!(r[4].status, 401);
    assert_eq!(r[5].body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r[6].status, 200, "{}", r[6].body);
    assert_eq!(r[7].body["data"].as_array().unwrap().len(), 0);
    assert_eq!(r[8].status, 405);
    assert!(!format!("{}{}", run.stdout, run.stderr).contains(&access));
}

#[tokio::test]
async fn tokens_from_every_login_function_verify_with_the_jwks_function() {
    let f = fixture("jwks");
    let served = invoke_all(
        &workspace_binary("jwks").unwrap(),
        &f.env,
        vec![load_event("events/jwks/get.json").unwrap()],
    )
    .await
    .unwrap();
    let answer = served.invocations[0].api_response().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.header("cache-control").unwrap().contains("max-age"));
    let keys: Vec<shared::auth::tokens::PublicJwk> =
        serde_json::from_value(answer.body["keys"].clone()).unwrap();
    // Public keys only: what another IM service holds.
    let verifier = shared::auth::tokens::Verifier::from_jwks(&keys, "imauth").unwrap();
    for (binary, event, pointer) in [
        ("token-id", "events/token-id/ok.json", "/data/token"),
        (
            "token-login",
            "events/token-login/ok-email.json",
            "/data/token",
        ),
        ("token-user", "events/token-user/ok.json", "/data/token"),
        (
            "app-token",
            "events/app-token/seed-example.json",
            "/access_token",
        ),
    ] {
        let r = run(binary, &f, &[event]).await;
        let token = r[0].body.pointer(pointer).and_then(Value::as_str).unwrap();
        let claims = verifier.verify(token, TokenType::Access).unwrap();
        assert!(!claims.sub.is_empty(), "{binary}");
    }
}

/// An event of `events/` with the app token in place of ADMIN_TOKEN.
fn with_admin(event: &str, admin: &str) -> Value {
    let text = load_event(event).unwrap().to_string();
    serde_json::from_str(&text.replace("ADMIN_TOKEN", admin)).unwrap()
}

async fn invoke(binary: &str, f: &Fixture, events: Vec<Value>) -> Vec<ApiResponse> {
    let run = invoke_all(&workspace_binary(binary).unwrap(), &f.env, events)
        .await
        .unwrap();
    run.api_responses().unwrap()
}

#[tokio::test]
async fn app_token_function_inherits_with_the_app_token_only() {
    let f = fixture("inherit");
    let first = run(
        "app-token",
        &f,
        &[
            "events/app-token/client-credentials.json",
            "events/app-token/seed-example.json",
        ],
    )
    .await;
    let admin = first[0].body["access_token"].as_str().unwrap().to_owned();
    let user_token = first[1].body["access_token"].as_str().unwrap().to_owned();
    let r = invoke(
        "app-token",
        &f,
        vec![
            with_admin("events/app-token/inherit.json", &admin),
            with_admin("events/app-token/inherit-unknown-user.json", &admin),
            with_admin("events/app-token/inherit-auto-create.json", &admin),
            with_admin("events/app-token/inherit.json", &user_token),
            with_body_token(
                "events/app-token/wrong-password.json",
                "username",
                "newcomer",
            ),
            load_event("events/app-token/wrong-password.json").unwrap(),
        ],
    )
    .await;
    assert_eq!(r[0].status, 200, "{}", r[0].body);
    let claims = f
        .keys
        .verify(
            r[0].body["access_token"].as_str().unwrap(),
            TokenType::Access,
        )
        .unwrap();
    assert_eq!(claims.sub, "10001");
    assert!(r[0].body["refresh_token"].is_string());
    assert_eq!(
        (r[1].status, &r[1].body["error"]),
        (404, &Value::from("service_resource_not_found"))
    );
    assert_eq!(r[2].status, 200, "{}", r[2].body);
    assert_eq!(r[2].body["user"]["username"], "newcomer");
    assert_eq!(
        (r[3].status, &r[3].body["error"]),
        (401, &Value::from("unauthorized")),
        "a user token is not an app token"
    );
    assert_eq!(r[4].status, 400, "{}", r[4].body);
    assert_eq!(
        r[4].raw_body, r[5].raw_body,
        "the password-less user fails like a wrong password"
    );
}

#[tokio::test]
async fn user_admin_function_manages_users_with_the_app_token() {
    let f = fixture("user-admin");
    let admin = run(
        "app-token",
        &f,
        &["events/app-token/client-credentials.json"],
    )
    .await[0]
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let events = [
        "register.json",
        "register.json",
        "register-batch.json",
        "get.json",
        "get-unknown.json",
        "password.json",
        "deactivate.json",
        "activate.json",
        "disconnect.json",
        "delete.json",
        "delete.json",
        "register-no-token.json",
    ];
    let r = invoke(
        "user-admin",
        &f,
        events
            .iter()
            .map(|e| with_admin(&format!("events/user-admin/{e}"), &admin))
            .collect(),
    )
    .await;
    let statuses: Vec<u16> = r.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses,
        [200, 400, 200, 200, 404, 200, 200, 200, 200, 200, 404, 401],
        "{:#?}",
        r.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    assert_eq!(r[0].body["entities"][0]["username"], "dave");
    assert_eq!(r[0].body["organization"], "demo-org");
    assert_eq!(r[1].body["error"], "duplicate_unique_property_exists");
    assert_eq!(r[2].body["data"][0]["username"], "alice");
    assert_eq!(r[6].body["entities"][0]["activated"], false);
    assert_eq!(r[8].body["data"]["result"], true);
    assert_eq!(r[9].body["entities"][0]["username"], "c");
    assert_eq!(r[11].body["error"], "unauthorized");
    assert_eq!(r[0].header("content-type"), Some("application/json"));
}

/// Resident memory (VmRSS, KiB) of `binary` once its init is done (first `next` poll).
async fn rss_after_init(binary: &str, env: &[(String, String)]) -> u64 {
    let mut function = integration::FunctionProcess::spawn(&workspace_binary(binary).unwrap(), env)
        .await
        .unwrap();
    function.wait_ready().await.unwrap();
    let pid = function.pid().unwrap();
    let rss = integration::proc_status_kib(pid, "VmRSS").unwrap();
    function.shutdown().await;
    rss
}

/// Issue 16: a function that verifies passwords faults argon2's 19 MiB work area in
/// during init (beside its network reads), so its first login does not; a function
/// that verifies none (jwks) does not spend the memory.
#[tokio::test]
async fn login_functions_fault_in_the_argon2_work_area_during_init() {
    let fixture = fixture("prefault");
    // No seed file: hashing the seed users would touch a work area of its own.
    let env: Vec<(String, String)> = fixture
        .env
        .iter()
        .filter(|(k, _)| k != "IMAUTH_SEED_FILE" && k != "IMAUTH_PASSWORD_POLICY")
        .cloned()
        .chain([("IMAUTH_PASSWORD_POLICY".into(), "owasp".into())])
        .collect();
    let login = rss_after_init("token-id", &env).await;
    let verifies_none = rss_after_init("jwks", &env).await;
    // The area is 19 MiB; the functions' other memory differs by far less than 1 MiB.
    let most_of_the_area_kib = 18 * 1024;
    assert!(
        login >= verifies_none + most_of_the_area_kib,
        "token-id {login} KiB after init vs jwks {verifies_none} KiB: the work area was not faulted in"
    );
}
