//! CORS for web clients: the one list of the methods and request headers a browser page
//! may use on our routes, and the policy `imauth serve --cors-origin` applies with it.
//!
//! Deployed, API Gateway answers preflights itself from `template.yaml`'s
//! `CorsConfiguration` (the functions never see an `OPTIONS`); `imauth serve` answers them
//! here the same way, so a page behaves alike against both. The template's lists are
//! checked against these, and these against every header `openapi.yaml` declares, by
//! tests/tests/deploy_consistency.rs.
//!
//! No credentials mode: tokens travel in bodies and headers, never in cookies, so a page
//! never needs `credentials: "include"`, and allowing it would only widen what a listed
//! origin could do with a user's ambient cookies.

use http::header::{self, HeaderMap, HeaderValue};
use lambda_http::{Body, Response};

use crate::error::{Error, Result};

/// Every method some route answers (`Route::methods`, checked by a test below).
pub const ALLOWED_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];

/// Every request header `openapi.yaml` declares, lowercase (both spellings where proxies
/// force two: `app_id` / `app-id`, as some drop header names with `_`), and the JSON
/// bodies' `content-type`.
pub const ALLOWED_HEADERS: &[&str] = &[
    "access-token",
    "app-id",
    "app_id",
    "authorization",
    "content-type",
    "group-id",
    "group_id",
    "user-id",
    "user_id",
];

/// Response headers a page may read beyond the CORS-safelisted ones: the request id to
/// quote when reporting a problem.
pub const EXPOSED_HEADERS: &[&str] = &["x-request-id"];

/// How long a browser may reuse a preflight's answer. Chromium caps it at 7200 s; a
/// refused preflight is never cached, so a fixed deploy is seen at once.
pub const MAX_AGE_SECONDS: u32 = 7200;

/// Which origins may call the API from a page. Empty (the default): none, so every
/// cross-origin browser request is refused as before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    /// A policy allowing exactly `origins`: each `scheme://host[:port]` as a browser
    /// sends it in `Origin` (lowercase, no path, no trailing slash), or `*` for any.
    pub fn new<I, S>(origins: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let origins = origins
            .into_iter()
            .map(|origin| check_origin(origin.as_ref()).map(str::to_owned))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { origins })
    }

    pub fn is_enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    /// The value of `Access-Control-Allow-Origin` for a request with these headers, if
    /// its `Origin` is allowed.
    fn allowed(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        if self.origins.iter().any(|o| o == "*") {
            return Some(HeaderValue::from_static("*"));
        }
        let sent = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|o| o == sent)
            .then(|| origin.clone())
    }

    /// The answer to a preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`), or `None` when the request is not one or CORS
    /// is off (it then goes to its route like any other request: 405 for `OPTIONS`).
    /// As API Gateway does, the answer lists every allowed method and header and lets
    /// the browser decide; an origin not allowed gets no `Access-Control-*` at all.
    pub fn preflight(&self, method: &http::Method, headers: &HeaderMap) -> Option<Response<Body>> {
        let is_preflight = method == http::Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if !self.is_enabled() || !is_preflight {
            return None;
        }
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = http::StatusCode::NO_CONTENT;
        let out = response.headers_mut();
        out.insert(header::VARY, HeaderValue::from_static("origin"));
        if let Some(origin) = self.allowed(headers) {
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            out.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                joined(ALLOWED_METHODS),
            );
            out.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                joined(ALLOWED_HEADERS),
            );
            out.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECONDS.into());
        }
        Some(response)
    }

    /// Adds the CORS answer headers to a route's response to a request from an allowed
    /// origin (API Gateway does this to every integration response).
    pub fn decorate(&self, request: &HeaderMap, out: &mut HeaderMap) {
        let Some(origin) = self.allowed(request) else {
            return;
        };
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        out.insert(header::VARY, HeaderValue::from_static("origin"));
        out.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            joined(EXPOSED_HEADERS),
        );
    }
}

/// A header list as one value (the lists above are plain ASCII tokens).
fn joined(names: &[&str]) -> HeaderValue {
    HeaderValue::from_str(&names.join(",")).unwrap_or(HeaderValue::from_static(""))
}

/// `*`, or an origin as browsers serialise it: `http`/`https`, a lowercase host (name,
/// IPv4 or bracketed IPv6) and an optional port; nothing after.
fn check_origin(origin: &str) -> Result<&str> {
    let host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let well_formed = origin == "*"
        || host.is_some_and(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-:[]".contains(c))
        });
    if well_formed {
        Ok(origin)
    } else {
        Err(Error::Config(format!(
            "CORS origin {origin:?}: expected `*` or scheme://host[:port] as a browser sends it \
             (http or https, lowercase, no path or trailing slash), e.g. https://chat.example.com"
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::http::Route;

    fn request(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    const PREFLIGHT: &[(&str, &str)] = &[
        ("origin", "https://chat.example.com"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "app_id,content-type"),
    ];

    #[test]
    fn allowed_methods_are_exactly_the_routes_methods() {
        let routes: BTreeSet<&str> = Route::ALL
            .iter()
            .flat_map(|r| r.methods().iter().map(http::Method::as_str))
            .collect();
        let allowed: BTreeSet<&str> = ALLOWED_METHODS.iter().copied().collect();
        assert_eq!(allowed, routes);
    }

    #[test]
    fn a_preflight_from_a_listed_origin_gets_the_lists() {
        let policy = CorsPolicy::new(["https://chat.example.com"]).unwrap();
        let answer = policy
            .preflight(&http::Method::OPTIONS, &request(PREFLIGHT))
            .unwrap();
        assert_eq!(answer.status(), 204);
        let h = answer.headers();
        assert_eq!(h["access-control-allow-origin"], "https://chat.example.com");
        assert_eq!(h["access-control-allow-methods"], "GET,POST,PUT,DELETE");
        assert!(
            h["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .split(',')
                .any(|name| name == "app_id")
        );
        assert_eq!(h["access-control-max-age"], "7200");
        assert!(!h.contains_key("access-control-allow-credentials"));
    }

    #[test]
    fn an_unlisted_origin_gets_no_cors_headers() {
        let policy = CorsPolicy::new(["https://other.example.com"]).unwrap();
        let preflight = policy
            .preflight(&http::Method::OPTIONS, &request(PREFLIGHT))
            .unwrap();
        let mut answer = Response::new(Body::Empty);
        policy.decorate(&request(PREFLIGHT), answer.headers_mut());
        for headers in [preflight.headers(), answer.headers()] {
            assert!(
                headers
                    .keys()
                    .all(|k| !k.as_str().starts_with("access-control-")),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn without_origins_nothing_is_a_preflight() {
        let off = CorsPolicy::default();
        assert!(!off.is_enabled());
        assert!(
            off.preflight(&http::Method::OPTIONS, &request(PREFLIGHT))
                .is_none()
        );
        let mut answer = Response::new(Body::Empty);
        off.decorate(&request(PREFLIGHT), answer.headers_mut());
        assert!(answer.headers().is_empty());
    }

    #[test]
    fn an_options_without_a_requested_method_is_not_a_preflight() {
        let policy = CorsPolicy::new(["*"]).unwrap();
        let plain = request(&[("origin", "https://chat.example.com")]);
        assert!(policy.preflight(&http::Method::OPTIONS, &plain).is_none());
        assert!(
            policy
                .preflight(&http::Method::POST, &request(PREFLIGHT))
                .is_none()
        );
    }

    #[test]
    fn responses_to_an_allowed_origin_expose_the_request_id() {
        for (origins, expected) in [
            (vec!["https://chat.example.com"], "https://chat.example.com"),
            (vec!["*"], "*"),
        ] {
            let policy = CorsPolicy::new(origins).unwrap();
            let mut answer = Response::new(Body::Empty);
            policy.decorate(&request(PREFLIGHT), answer.headers_mut());
            let h = answer.headers();
            assert_eq!(h["access-control-allow-origin"], expected);
            assert_eq!(h["access-control-expose-headers"], "x-request-id");
            assert_eq!(h["vary"], "origin");
        }
    }

    #[test]
    fn origins_must_be_written_as_browsers_send_them() {
        for good in [
            "*",
            "https://chat.example.com",
            "http://127.0.0.1:8080",
            "http://[::1]:3000",
        ] {
            assert!(CorsPolicy::new([good]).is_ok(), "{good}");
        }
        for bad in [
            "",
            "chat.example.com",
            "https://chat.example.com/",
            "https://chat.example.com/app",
            "https://Chat.Example.com",
            "ftp://chat.example.com",
            "https://",
            "https://a.example.com,https://b.example.com",
        ] {
            let error = CorsPolicy::new([bad]).unwrap_err().to_string();
            assert!(error.contains("CORS origin"), "{bad}: {error}");
        }
    }
}
