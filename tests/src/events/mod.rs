//! The API Gateway HTTP API (payload 2.0) events in `events/`: one folder per function,
//! success and failure cases against the fixture apps and users of `events/seed.json`. The
//! handler and Runtime-API tests and `sam local invoke` read these files; this module writes
//! them, and the `events` test fails when a file differs from what it would write, so an
//! event is changed here, never by hand. Rewrite them after a change with
//! `IMAUTH_WRITE_EVENTS=1 cargo nextest run -p integration --test events`.
//!
//! The generator owns the route folders only: other files under `events/` (`seed.json`, a
//! local env file) are left alone.

mod catalogue;
pub mod json;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use base64::Engine as _;

pub use catalogue::catalogue;
use json::{Json, obj};

/// The folders of `events/` the generator owns: every `.json` file in them is generated.
pub const ROUTE_FOLDERS: &[&str] = &[
    "token-id",
    "token-login",
    "token-user",
    "app-token",
    "token-refresh",
    "push-token",
    "user-admin",
    "jwks",
];

/// How a request carries its body.
pub enum Body {
    None,
    /// Serialised as the client would send it.
    Json(Json),
    /// Sent as is (malformed or empty bodies).
    Raw(&'static str),
    /// Serialised, then base64-encoded with `isBase64Encoded: true`.
    Base64(Json),
}

/// An HTTP API event for `method path` with `headers` added to the usual ones; the route key
/// is `method path` unless the route is a catch-all (`ANY ...`) or has path parameters.
pub fn event(method: &str, path: &str, headers: Json, body: Body, route_key: Option<&str>) -> Json {
    let mut all_headers = obj([
        ("content-type", "application/json".into()),
        ("host", "api.example.com".into()),
        ("user-agent", "curl/8.5.0".into()),
    ]);
    if let Json::Object(pairs) = headers {
        for (name, value) in pairs {
            all_headers.set(&name, value);
        }
    }
    let (raw_body, base64) = match body {
        Body::None => (None, false),
        Body::Json(json) => (Some(json.compact()), false),
        Body::Raw(text) => (Some(text.to_owned()), false),
        Body::Base64(json) => (
            Some(base64::engine::general_purpose::STANDARD.encode(json.compact())),
            true,
        ),
    };
    let key = route_key.map_or_else(|| format!("{method} {path}"), str::to_owned);
    let request_id = format!(
        "req-{}-{}",
        path.trim_matches('/').replace('/', "-").replace('.', ""),
        method.to_lowercase()
    );
    let mut event = obj([
        ("version", "2.0".into()),
        ("routeKey", key.clone().into()),
        ("rawPath", path.into()),
        ("rawQueryString", "".into()),
        ("headers", all_headers),
        (
            "requestContext",
            obj([
                ("accountId", "123456789012".into()),
                ("apiId", "imauthapi".into()),
                ("domainName", "api.example.com".into()),
                ("domainPrefix", "api".into()),
                (
                    "http",
                    obj([
                        ("method", method.into()),
                        ("path", path.into()),
                        ("protocol", "HTTP/1.1".into()),
                        ("sourceIp", "203.0.113.7".into()),
                        ("userAgent", "curl/8.5.0".into()),
                    ]),
                ),
                ("requestId", request_id.into()),
                ("routeKey", key.into()),
                ("stage", "$default".into()),
                ("time", "22/Nov/2026:13:00:00 +0000".into()),
                ("timeEpoch", Json::Int(1_795_352_400_000)),
            ]),
        ),
        ("isBase64Encoded", base64.into()),
    ]);
    if let Some(raw_body) = raw_body {
        event.set("body", raw_body.into());
    }
    event
}

/// Every generated file, by path under `events/`, with the exact text it must hold.
pub fn rendered() -> BTreeMap<String, String> {
    catalogue()
        .into_iter()
        .map(|(name, event)| (name.to_owned(), event.pretty() + "\n"))
        .collect()
}

/// The files under `events_dir` that differ from the generator: changed, missing, or in a
/// route folder without being generated. Empty when the folder is up to date.
pub fn stale_files(events_dir: &Path) -> Result<Vec<String>> {
    let expected = rendered();
    let mut stale = Vec::new();
    for (name, text) in &expected {
        match std::fs::read_to_string(events_dir.join(name)) {
            Ok(actual) if actual == *text => {}
            Ok(_) => stale.push(format!("{name}: differs from the generator")),
            Err(_) => stale.push(format!("{name}: missing")),
        }
    }
    for name in route_folder_files(events_dir)? {
        if !expected.contains_key(&name) {
            stale.push(format!("{name}: not generated"));
        }
    }
    Ok(stale)
}

/// Writes every generated file and removes the files of the route folders it does not write.
pub fn write_all(events_dir: &Path) -> Result<usize> {
    let expected = rendered();
    for name in route_folder_files(events_dir)? {
        if !expected.contains_key(&name) {
            let path = events_dir.join(&name);
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    for (name, text) in &expected {
        let path = events_dir.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(expected.len())
}

/// `folder/file.json` for every `.json` file in the route folders.
fn route_folder_files(events_dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for folder in ROUTE_FOLDERS {
        let dir = events_dir.join(folder);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.ends_with(".json") {
                names.push(format!("{folder}/{file}"));
            }
        }
    }
    Ok(names)
}
