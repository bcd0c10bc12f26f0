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
