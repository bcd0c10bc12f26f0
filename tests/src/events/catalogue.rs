//! Every event, by file name under `events/`. The placeholders ADMIN_TOKEN, ACCESS_TOKEN and
//! REFRESH_TOKEN are replaced by tokens the tests mint.

use super::json::{Json, obj};
use super::{Body, event};

const EASEMOB: &str = "POST /{org_name}/{app_name}/token";

/// The `app_id` header of the fixture app.
fn demo() -> Json {
    obj([("app_id", "demo".into())])
}

fn body<const N: usize>(pairs: [(&str, Json); N]) -> Body {
    Body::Json(obj(pairs))
}

fn bearer() -> Json {
    obj([("authorization", "Bearer ACCESS_TOKEN".into())])
}

fn access_token() -> Json {
    obj([("access-token", "ACCESS_TOKEN".into())])
}

fn post(path: &str, headers: Json, body: Body) -> Json {
    event("POST", path, headers, body, None)
}

/// The Easemob-compatible token route of `org/app`.
fn easemob_in(org: &str, app: &str, body: Body) -> Json {
    let path = format!("/{org}/{app}/token");
    let mut ev = event(
        "POST",
        &path,
        obj([("accept", "application/json".into())]),
        body,
        Some(EASEMOB),
    );
    ev.set(
        "pathParameters",
        obj([("org_name", org.into()), ("app_name", app.into())]),
    );
    ev
}

fn easemob(body: Body) -> Json {
    easemob_in("demo-org", "demo-app", body)
}

/// A password grant of the demo app for alice with `ttl`.
fn alice_with_ttl(ttl: Json) -> Json {
    easemob(body([
        ("grant_type", "password".into()),
        ("username", "alice".into()),
        ("password", "alice-password".into()),
        ("ttl", ttl),
    ]))
}

fn grant(username: &str, password: &str) -> Body {
    body([
        ("grant_type", "password".into()),
        ("username", username.into()),
        ("password", password.into()),
    ])
}

fn id_login(user_id: i64, password: &str) -> Body {
    body([
        ("user_id", Json::Int(user_id)),
        ("password", password.into()),
    ])
}

fn client_credentials(secret: &str, ttl: Option<&str>) -> Body {
    let mut b = obj([
        ("grant_type", "client_credentials".into()),
        ("client_id", "demo-client".into()),
        ("client_secret", secret.into()),
    ]);
    if let Some(ttl) = ttl {
        b.set("ttl", ttl.into());
    }
    Body::Json(b)
}

/// An inherit grant of the demo app for `username`, with the app token the test mints.
fn inherit(username: &str, auto_create: Option<bool>) -> Json {
    let mut b = obj([
        ("grant_type", "inherit".into()),
        ("username", username.into()),
    ]);
    if let Some(auto_create) = auto_create {
        b.set("autoCreateUser", auto_create.into());
    }
    let mut ev = easemob(Body::Json(b));
    ev.set(
        "headers",
        obj([
            ("content-type", "application/json".into()),
            ("host", "api.example.com".into()),
            ("user-agent", "curl/8.5.0".into()),
            ("accept", "application/json".into()),
            ("authorization", "Bearer ADMIN_TOKEN".into()),
        ]),
    );
    ev
}

/// A user-management request of the demo app: `rest` follows `/demo-org/demo-app/users`,
/// `template` is the route's path after `/users` (`""`, `/{username}`, ...).
fn users(method: &str, rest: &str, template: &str, authorized: bool, body: Body) -> Json {
    let path = format!("/demo-org/demo-app/users{rest}");
    let route_key = format!("{method} /{{org_name}}/{{app_name}}/users{template}");
    let headers = if authorized {
        obj([("authorization", "Bearer ADMIN_TOKEN".into())])
    } else {
        obj([])
    };
    let mut ev = event(method, &path, headers, body, Some(&route_key));
    let mut params = obj([
        ("org_name", "demo-org".into()),
        ("app_name", "demo-app".into()),
    ]);
    if let Some(username) = rest.strip_prefix('/') {
        params.set(
            "username",
            username.split('/').next().unwrap_or_default().into(),
        );
    }
    ev.set("pathParameters", params);
    ev
}

#[rustfmt::skip]
pub fn catalogue() -> Vec<(&'static str, Json)> {
    let i = Json::Int;
    let refresh = |key: &str| post("/token/refresh", obj([]), body([(key, "REFRESH_TOKEN".into())]));
    vec![
        ("token-id/ok.json", post("/token/id", demo(), id_login(10001, "alice-password"))),
        ("token-id/ok-device.json", post("/token/id", demo(), body([("user_id", i(10001)), ("password", "alice-password".into()), ("device_guid", "ios-7f3a9c".into())]))),
        ("token-id/wrong-password.json", post("/token/id", demo(), id_login(10001, "wrong"))),
        ("token-id/unknown-user.json", post("/token/id", demo(), id_login(99999, "wrong"))),
        ("token-id/banned.json", post("/token/id", demo(), id_login(10002, "bob-password"))),
        ("token-id/user-id-not-int.json", post("/token/id", demo(), body([("user_id", "abc".into()), ("password", "x".into())]))),
        ("token-id/missing-password.json", post("/token/id", demo(), body([("user_id", i(10001))]))),
        ("token-id/malformed-json.json", post("/token/id", demo(), Body::Raw(r#"{"user_id": 10001, "password": "#))),
        ("token-id/empty-body.json", post("/token/id", demo(), Body::Raw(""))),
        ("token-id/missing-app-id.json", post("/token/id", obj([]), id_login(10001, "alice-password"))),
        ("token-id/unknown-app-id.json", post("/token/id", obj([("app_id", "nope".into())]), id_login(10001, "alice-password"))),
        ("token-id/acting-without-admin.json", post("/token/id", obj([("app_id", "demo".into()), ("user_id", "10001".into())]), id_login(10001, "x"))),
        // The admin token is minted by the test and put in the access-token header.
        ("token-id/acting-as-user.json", post("/token/id", obj([("app_id", "demo".into()), ("user_id", "10001".into()), ("access-token", "ADMIN_TOKEN".into())]), body([("device_guid", "admin-console".into())]))),
        ("token-id/acting-as-group-admin.json", post("/token/id", obj([("app_id", "demo".into()), ("group_id", "555".into()), ("access-token", "ADMIN_TOKEN".into())]), body([]))),
        ("token-id/get.json", event("GET", "/token/id", demo(), Body::None, Some("ANY /token/id"))),
        ("token-login/ok-phone.json", post("/token/login", demo(), body([("login_name", "+86 138-0000-0000".into()), ("password", "alice-password".into())]))),
        ("token-login/ok-email.json", post("/token/login", demo(), body([("login_name", "Alice@Example.com".into()), ("password", "alice-password".into()), ("device_guid", "android-1".into())]))),
        ("token-login/ok-username.json", post("/token/login", demo(), body([("login_name", "ALICE".into()), ("password", "alice-password".into())]))),
        ("token-login/wrong-password.json", post("/token/login", demo(), body([("login_name", "alice@example.com".into()), ("password", "wrong".into())]))),
        ("token-login/unknown-user.json", post("/token/login", demo(), body([("login_name", "nobody@example.com".into()), ("password", "wrong".into())]))),
        ("token-login/missing-login-name.json", post("/token/login", demo(), body([("password", "x".into())]))),
        ("token-user/ok.json", post("/token/user", demo(), body([("name", "alice".into()), ("password", "alice-password".into())]))),
        ("token-user/ok-base64.json", post("/token/user", demo(), Body::Base64(obj([("name", "Alice".into()), ("password", "alice-password".into())])))),
        ("token-user/wrong-password.json", post("/token/user", demo(), body([("name", "alice".into()), ("password", "wrong".into())]))),
        ("token-user/unknown-user.json", post("/token/user", demo(), body([("name", "nobody".into()), ("password", "wrong".into())]))),
        ("token-user/banned.json", post("/token/user", demo(), body([("name", "bob".into()), ("password", "bob-password".into())]))),
        ("token-user/name-not-string.json", post("/token/user", demo(), body([("name", i(12)), ("password", "x".into())]))),
        ("app-token/seed-example.json", easemob(body([("grant_type", "password".into()), ("username", "C".into()), ("password", "1".into()), ("ttl", "1024000".into())]))),
        ("app-token/password-default-ttl.json", easemob(grant("alice", "alice-password"))),
        ("app-token/password-ttl-zero.json", alice_with_ttl(i(0))),
        ("app-token/password-ttl-zero-not-allowed.json", easemob_in("strict-org", "strict-app", body([("grant_type", "password".into()), ("username", "sam".into()), ("password", "sam-password".into()), ("ttl", i(0))]))),
        ("app-token/wrong-password.json", easemob(grant("alice", "wrong"))),
        ("app-token/unknown-user.json", easemob(grant("nobody", "wrong"))),
        ("app-token/banned.json", easemob(grant("bob", "bob-password"))),
        ("app-token/banned-wrong-password.json", easemob(grant("bob", "wrong"))),
        ("app-token/unknown-app.json", easemob_in("no-org", "no-app", grant("alice", "alice-password"))),
        ("app-token/unsupported-grant.json", easemob(body([("grant_type", "authorization_code".into()), ("code", "x".into())]))),
        ("app-token/missing-grant-type.json", easemob(body([("username", "alice".into()), ("password", "alice-password".into())]))),
        ("app-token/missing-username.json", easemob(body([("grant_type", "password".into()), ("password", "x".into())]))),
        ("app-token/malformed-json.json", easemob(Body::Raw(r#"{"grant_type": "password","#))),
        ("app-token/ttl-negative.json", alice_with_ttl(i(-1))),
        ("app-token/ttl-fractional.json", alice_with_ttl(Json::Float(1.5))),
        ("app-token/ttl-not-numeric.json", alice_with_ttl("one day".into())),
        ("app-token/ttl-huge.json", alice_with_ttl("99999999999999999999".into())),
        // The demo app's cap on a client-chosen ttl is the default, 30 days (2592000 s).
        ("app-token/ttl-over-app-cap.json", alice_with_ttl(i(2_592_001))),
        ("app-token/client-credentials-ttl-over-app-cap.json", easemob(client_credentials("demo-client-secret-0123456789", Some("2592001")))),
        ("app-token/client-credentials.json", easemob(client_credentials("demo-client-secret-0123456789", None))),
        ("app-token/client-credentials-wrong-secret.json", easemob(client_credentials("not-the-secret-0123456789", None))),
        // The app token is minted by the test and replaces ADMIN_TOKEN.
        ("app-token/inherit.json", inherit("alice", None)),
        ("app-token/inherit-auto-create.json", inherit("newcomer", Some(true))),
        ("app-token/inherit-unknown-user.json", inherit("nobody", Some(false))),
        ("user-admin/register.json", users("POST", "", "", true, body([("username", "dave".into()), ("password", "dave-password".into())]))),
        ("user-admin/register-batch.json", users("POST", "", "", true, Body::Raw(r#"[{"username":"erin","password":"erin-password"},{"username":"alice","password":"another-password"}]"#))),
        ("user-admin/register-no-token.json", users("POST", "", "", false, body([("username", "dave".into()), ("password", "dave-password".into())]))),
        ("user-admin/get.json", users("GET", "/alice", "/{username}", true, Body::None)),
        ("user-admin/get-unknown.json", users("GET", "/nobody", "/{username}", true, Body::None)),
        ("user-admin/delete.json", users("DELETE", "/c", "/{username}", true, Body::None)),
        ("user-admin/password.json", users("PUT", "/alice/password", "/{username}/password", true, body([("newpassword", "alice-new-password".into())]))),
        ("user-admin/deactivate.json", users("POST", "/alice/deactivate", "/{username}/deactivate", true, Body::None)),
        ("user-admin/activate.json", users("POST", "/bob/activate", "/{username}/activate", true, Body::None)),
        ("user-admin/disconnect.json", users("GET", "/alice/disconnect", "/{username}/disconnect", true, Body::None)),
        ("app-token/get.json", event("GET", "/demo-org/demo-app/token", obj([]), Body::None, Some("ANY /{org_name}/{app_name}/token"))),
        // Tokens are minted by the tests and replace the placeholders.
        ("token-refresh/refresh.json", refresh("refresh_token")),
        ("token-refresh/refresh-reflash-key.json", refresh("reflash_key")),
        ("token-refresh/refresh-garbage.json", post("/token/refresh", obj([]), body([("refresh_token", "r.not-a-real-token".into())]))),
        ("token-refresh/refresh-missing-token.json", post("/token/refresh", obj([]), body([]))),
        ("token-refresh/revoke.json", post("/token/revoke", obj([]), body([("refresh_token", "REFRESH_TOKEN".into())]))),
        ("token-refresh/logout-everywhere.json", post("/token/revoke", obj([("authorization", "Bearer ACCESS_TOKEN".into())]), body([("all", true.into())]))),
        ("token-refresh/logout-everywhere-no-token.json", post("/token/revoke", obj([]), body([("all", true.into())]))),
        ("token-refresh/get.json", event("GET", "/token/refresh", obj([]), Body::None, Some("ANY /token/refresh"))),
        ("push-token/register-ring.json", post("/v1/api/user/token", bearer(), body([
            ("push_token", "ring-7f3a9c0d".into()), ("language", "zh-CN".into()), ("id", i(10001)), ("dev", i(0)),
            ("bundleid", "com.example.chat".into()), ("os", "huawei".into()), ("os_token", "hw-token-1".into()), ("push_platform", "HUAWEI".into())]))),
        ("push-token/register-message.json", post("/v1/api/user/message/token", access_token(), body([
            ("push_token", "apns-0123456789abcdef".into()), ("language", "en".into()), ("id", i(10001)), ("dev", i(1))]))),
        ("push-token/register-other-user.json", post("/v1/api/user/token", bearer(), body([
            ("push_token", "ring-7f3a9c0d".into()), ("language", "en".into()), ("id", i(10003))]))),
        ("push-token/register-bad-platform.json", post("/v1/api/user/token", bearer(), body([
            ("push_token", "ring-1".into()), ("language", "en".into()), ("id", i(10001)), ("push_platform", "BLACKBERRY".into()), ("os_token", "x".into())]))),
        ("push-token/register-no-token.json", post("/v1/api/user/token", obj([]), body([
            ("push_token", "ring-1".into()), ("language", "en".into()), ("id", i(10001))]))),
        ("push-token/list-ring.json", event("GET", "/v1/api/user/token", bearer(), Body::None, None)),
        ("push-token/unregister-ring.json", event("DELETE", "/v1/api/user/token", bearer(), body([
            ("push_token", "ring-7f3a9c0d".into()), ("push_platform", "huawei".into())]), None)),
        ("push-token/put.json", event("PUT", "/v1/api/user/token", bearer(), body([]), Some("ANY /v1/api/user/token"))),
        ("push-token/list-message.json", event("GET", "/v1/api/user/message/token", access_token(), Body::None, None)),
        ("push-token/unregister-message.json", event("DELETE", "/v1/api/user/message/token", access_token(), body([
            ("push_token", "apns-0123456789abcdef".into())]), None)),
        // Public keys: no headers, no body (sam local invoke JwksFunction -e events/jwks/get.json).
        ("jwks/get.json", event("GET", "/.well-known/jwks.json", obj([("accept", "application/json".into())]), Body::None, None)),
    ]
}
