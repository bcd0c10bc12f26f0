//! A web client in a real browser (issue 14): headless Chromium loads a page from one
//! origin (tests/web/login.html, served here) that logs alice in against `imauth serve`
//! on another origin (another port), once with the official Easemob web SDK
//! (`easemob-websdk`, its browser build) and once with `fetch` on `/token/id`; both need
//! a CORS preflight (JSON body, `app_id` header). With `--cors-origin <the page's
//! origin>` both logins succeed and the tokens the page read verify with the server's
//! JWKS; without it, or with another origin listed, the browser refuses both.
//!
//! The refusal must be the browser's CORS refusal (its console says so for both requests).
//! On failure the test keeps the page's DOM, the browser console and a screenshot under a
//! temporary directory and prints its path and the console. Chromium and the SDK come from
//! `scripts/web-client-deps.sh` (run by `scripts/test.sh`).

use integration::browser::{Artifacts, PageRun, StaticSite, easemob_websdk, run_page};
use integration::client::request;
use integration::fixtures::ALICE_PASSWORD;
use integration::repo_root;
use integration::serve::ServeProcess;
use serde_json::Value;
use shared::auth::tokens::{PublicJwk, TokenType, Verifier};

/// The test page's origin, serving the page and the SDK.
async fn page_site() -> StaticSite {
    let page = repo_root().join("tests/web/login.html");
    let sdk = easemob_websdk().unwrap();
    StaticSite::serve(&[("/login.html", &page), ("/easemob-websdk.js", &sdk)])
        .await
        .unwrap()
}

/// `imauth serve` with the fixture apps and users (events/seed.json: alice has
/// [`ALICE_PASSWORD`]) and `cors_args`.
async fn imauth(cors_args: &[&str]) -> ServeProcess {
    let seed = repo_root().join("events/seed.json");
    let seed = seed.to_str().unwrap();
    let mut args = vec!["--seed", seed, "--password-policy", "insecure-fast"];
    args.extend_from_slice(cors_args);
    ServeProcess::start(&args).await.unwrap()
}

/// Runs the page against `api` and applies `check` to what it wrote; on failure keeps
/// the artifacts and panics naming them.
async fn run_and_check(
    tag: &str,
    site: &StaticSite,
    api: &ServeProcess,
    check: impl FnOnce(&PageRun) -> Result<(), String>,
) {
    let url = format!(
        "{}/login.html?api=http://{}&password={ALICE_PASSWORD}",
        site.origin(),
        api.addr
    );
    let artifacts = Artifacts::new(tag).unwrap();
    let (run, failure) = match run_page(&url, &artifacts).await {
        Ok(run) => {
            let failure = check(&run).err();
            (Some(run), failure)
        }
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    if let Some(failure) = failure {
        let report = artifacts.keep(&url, run.as_ref()).await;
        let result = run.as_ref().map_or(&Value::Null, |r| &r.result);
        panic!("{tag}: {failure}\npage result: {result}\n{report}");
    }
}

async fn verifier(api: &ServeProcess) -> Verifier {
    let jwks = request(api.addr, "GET", "/.well-known/jwks.json", &[], b"")
        .await
        .unwrap();
    let keys: Vec<PublicJwk> =
        serde_json::from_value(jwks.json().unwrap()["keys"].clone()).unwrap();
    Verifier::from_jwks(&keys, "imauth").unwrap()
}

/// The browser's console lines reporting a request refused by the CORS policy.
fn cors_refusals(run: &PageRun) -> Vec<&str> {
    run.browser_console
        .iter()
        .map(String::as_str)
        .filter(|line| line.contains("blocked by CORS policy"))
        .collect()
}

/// alice's access token, verified.
fn alice_access_token(verifier: &Verifier, token: &Value, what: &str) -> Result<(), String> {
    let token = token
        .as_str()
        .ok_or_else(|| format!("{what}: the page read no token"))?;
    let claims = verifier
        .verify(token, TokenType::Access)
        .map_err(|e| format!("{what}: the token does not verify: {e}"))?;
    if claims.sub == "10001" {
        Ok(())
    } else {
        Err(format!(
            "{what}: token of {:?}, not alice (10001)",
            claims.sub
        ))
    }
}

#[tokio::test]
async fn a_page_of_an_allowed_origin_logs_in_with_the_easemob_sdk_and_with_fetch() {
    let site = page_site().await;
    let api = imauth(&["--cors-origin", &site.origin()]).await;
    let verifier = verifier(&api).await;
    run_and_check("cors-on", &site, &api, |run| {
        if let Some(refusal) = cors_refusals(run).first() {
            return Err(format!("the browser refused a request: {refusal}"));
        }
        let result = &run.result;
        let fetch = &result["fetch"];
        if fetch["status"] != 200 || fetch["body"]["code"] != 200 {
            return Err(format!("fetch /token/id did not log in: {fetch}"));
        }
        alice_access_token(&verifier, &fetch["body"]["data"]["token"], "fetch")?;
        let sdk = &result["sdk"];
        alice_access_token(&verifier, &sdk["token"], "Easemob SDK")?;
        match sdk["expiresIn"].as_u64() {
            Some(seconds) if seconds > 0 => Ok(()),
            _ => Err(format!("Easemob SDK: no expires_in read: {sdk}")),
        }
    })
    .await;
}

#[tokio::test]
async fn without_the_pages_origin_listed_the_browser_refuses_both_logins() {
    let site = page_site().await;
    for (tag, cors_args) in [
        ("cors-off", &[][..]),
        (
            "other-origin",
            &["--cors-origin", "https://chat.example.com"][..],
        ),
    ] {
        let api = imauth(cors_args).await;
        run_and_check(tag, &site, &api, |run| {
            // Refused by the browser for CORS, not failed for another reason.
            let refusals = cors_refusals(run);
            for path in ["/token/id", "/demo-org/demo-app/token"] {
                if !refusals.iter().any(|line| line.contains(path)) {
                    return Err(format!("no CORS refusal of {path} in the browser console"));
                }
            }
            let result = &run.result;
            let fetch_error = result["fetch"]["error"].as_str().unwrap_or_default();
            if !fetch_error.contains("Failed to fetch") {
                return Err(format!(
                    "fetch was not refused by the browser: {}",
                    result["fetch"]
                ));
            }
            let sdk = &result["sdk"];
            if sdk["token"].is_null() && sdk["error"].is_string() {
                Ok(())
            } else {
                Err(format!(
                    "the Easemob SDK login was not refused by the browser: {sdk}"
                ))
            }
        })
        .await;
    }
}
