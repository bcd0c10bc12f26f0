//! The README's run command, as a newcomer would use it: `imauth serve --demo` prints a
//! curl command; running it returns every field of the login answer (docs/api.md), and
//! the token verifies with the public keys the same server publishes.

use std::net::SocketAddr;
use std::time::Duration;

use integration::client::request;
use integration::serve::ServeProcess;
use shared::auth::tokens::{PublicJwk, TokenType, Verifier};

struct Serve {
    _process: ServeProcess,
    addr: SocketAddr,
    curl: String,
}

async fn start_demo() -> Serve {
    let mut process = ServeProcess::start(&["--demo"]).await.unwrap();
    let curl = tokio::time::timeout(Duration::from_secs(5), process.stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    Serve {
        addr: process.addr,
        _process: process,
        curl,
    }
}

/// The pieces of the printed `curl -s -X POST URL -H 'k: v' ... -d 'BODY'`.
fn parse_curl(curl: &str) -> (String, Vec<(String, String)>, String) {
    let quoted: Vec<&str> = curl.split('\'').collect();
    let mut headers = Vec::new();
    let mut body = String::new();
    for pair in quoted.chunks(2) {
        let (before, Some(value)) = (pair[0], pair.get(1)) else {
            continue;
        };
        if before.trim_end().ends_with("-H") {
            let (k, v) = value.split_once(':').unwrap();
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        } else if before.trim_end().ends_with("-d") {
            body = (*value).to_owned();
        }
    }
    let url = curl
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap();
    let path = url.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap();
    (path, headers, body)
}

#[tokio::test]
async fn the_printed_curl_logs_in_and_the_token_verifies_with_the_served_jwks() {
    let serve = start_demo().await;
    assert!(serve.curl.starts_with("curl "), "{}", serve.curl);
    let (path, headers, body) = parse_curl(&serve.curl);
    assert_eq!(path, "/token/id");
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let response = request(serve.addr, "POST", &path, &headers, body.as_bytes())
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    let json = response.json().unwrap();
    assert_eq!(json["code"], 200);
    assert_eq!(json["message"], serde_json::Value::Null);
    for field in [
        "access_key_secret",
        "encrypt_type",
        "expire",
        "public_key",
        "store_token",
        "token",
        "user_id",
    ] {
        assert!(json["data"].get(field).is_some(), "missing {field}");
    }

    let jwks = request(serve.addr, "GET", "/.well-known/jwks.json", &[], b"")
        .await
        .unwrap();
    assert_eq!(jwks.status, 200);
    assert!(jwks.header("cache-control").unwrap().contains("max-age"));
    let keys: Vec<PublicJwk> =
        serde_json::from_value(jwks.json().unwrap()["keys"].clone()).unwrap();
    let verifier = Verifier::from_jwks(&keys, "imauth").unwrap();
    let claims = verifier
        .verify(json["data"]["token"].as_str().unwrap(), TokenType::Access)
        .unwrap();
    assert_eq!(claims.sub, "10001");
    verifier
        .verify(
            json["data"]["store_token"].as_str().unwrap(),
            TokenType::Store,
        )
        .unwrap();
}

#[tokio::test]
async fn bad_requests_over_http_get_4xx_never_5xx() {
    let serve = start_demo().await;
    let json = [("app_id", "demo"), ("content-type", "application/json")];
    let big = vec![b'a'; 1024 * 1024];
    let cases: Vec<(&str, &str, &[u8], u16, &str)> = vec![
        (
            "POST",
            "/token/id",
            b"{\"user_id\":10001,",
            400,
            "malformed JSON",
        ),
        ("POST", "/token/id", b"{\"user_id\":10001}", 400, "password"),
        (
            "POST",
            "/token/id",
            b"{\"user_id\":\"abc\",\"password\":\"x\"}",
            400,
            "user_id",
        ),
        ("POST", "/token/id", b"", 400, "empty"),
        ("POST", "/token/id", &big, 413, "bytes"),
        ("GET", "/token/id", b"", 405, "GET"),
        ("POST", "/no/such/route", b"{}", 404, "/no/such/route"),
    ];
    for (method, path, body, status, mention) in cases {
        let r = request(serve.addr, method, path, &json, body)
            .await
            .unwrap();
        let answer = r.json().unwrap();
        assert_eq!(r.status, status, "{method} {path}: {answer}");
        assert_eq!(answer["code"], status);
        assert!(
            answer["message"].as_str().unwrap().contains(mention),
            "{answer}"
        );
    }
    // Unknown user and wrong password: same status, same body.
    let wrong = request(
        serve.addr,
        "POST",
        "/token/user",
        &json,
        br#"{"name":"alice","password":"wrong"}"#,
    )
    .await
    .unwrap();
    let unknown = request(
        serve.addr,
        "POST",
        "/token/user",
        &json,
        br#"{"name":"mallory","password":"wrong"}"#,
    )
    .await
    .unwrap();
    assert_eq!(wrong.status, 401);
    assert_eq!((wrong.status, wrong.body), (unknown.status, unknown.body));
}

/// `--cors-origin` makes `imauth serve` answer a browser's preflight as API Gateway does
/// with CorsAllowedOrigins, and mark its answers for that origin; without it (or for
/// another origin) nothing changes: a preflight is a 405 like any unknown method.
/// (tests/browser.rs proves the same with a real browser.)
#[tokio::test]
async fn cors_origin_answers_preflights_and_marks_answers_for_that_origin_only() {
    const PAGE: &str = "https://chat.example.com";
    let preflight = [
        ("origin", PAGE),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "app_id,content-type"),
    ];
    let login = [
        ("origin", PAGE),
        ("app_id", "demo"),
        ("content-type", "application/json"),
    ];
    let body = br#"{"user_id":10001,"password":"wrong"}"#;

    let on = ServeProcess::start(&["--demo", "--cors-origin", PAGE])
        .await
        .unwrap();
    let answer = request(on.addr, "OPTIONS", "/token/id", &preflight, b"")
        .await
        .unwrap();
    assert_eq!(answer.status, 204);
    assert_eq!(answer.header("access-control-allow-origin"), Some(PAGE));
    assert_eq!(
        answer.header("access-control-allow-methods"),
        Some("GET,POST,PUT,DELETE")
    );
    let headers = answer.header("access-control-allow-headers").unwrap();
    assert!(headers.split(',').any(|h| h == "app_id"), "{headers}");
    assert_eq!(answer.header("access-control-max-age"), Some("7200"));
    assert_eq!(answer.header("access-control-allow-credentials"), None);
    let refused = request(on.addr, "POST", "/token/id", &login, body)
        .await
        .unwrap();
    assert_eq!(refused.status, 401, "the route still answers as ever");
    assert_eq!(refused.header("access-control-allow-origin"), Some(PAGE));
    assert_eq!(
        refused.header("access-control-expose-headers"),
        Some("x-request-id")
    );

    let other = ServeProcess::start(&["--demo", "--cors-origin", "https://other.example.com"])
        .await
        .unwrap();
    let off = ServeProcess::start(&["--demo"]).await.unwrap();
    for (server, preflight_status) in [(&other, 204), (&off, 405)] {
        let answer = request(server.addr, "OPTIONS", "/token/id", &preflight, b"")
            .await
            .unwrap();
        assert_eq!(answer.status, preflight_status);
        let login = request(server.addr, "POST", "/token/id", &login, body)
            .await
            .unwrap();
        for response in [&answer, &login] {
            assert!(
                response
                    .headers
                    .iter()
                    .all(|(name, _)| !name.to_ascii_lowercase().starts_with("access-control-")),
                "{:?}",
                response.headers
            );
        }
    }
}

#[tokio::test]
async fn a_cors_origin_not_written_as_browsers_send_it_is_refused_at_start() {
    let error = ServeProcess::start(&["--cors-origin", "https://chat.example.com/"])
        .await
        .err()
        .expect("imauth serve must refuse a path in an origin");
    assert!(
        format!("{error:#}").contains("exited before listening"),
        "{error:#}"
    );
}
