//! API Gateway HTTP API (payload v2) responses as `lambda_http` serialises them.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde_json::{Map, Value};

/// An API Gateway HTTP API (payload v2) response as `lambda_http` serialises it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Map<String, Value>,
    /// `Set-Cookie` values, which lambda_http moves out of `headers` for v2.
    pub cookies: Vec<String>,
    /// The body parsed as JSON; `Value::String` if it is not JSON; `Value::Null` if absent.
    pub body: Value,
    /// The body bytes after base64 decoding.
    pub raw_body: Vec<u8>,
    pub is_base64_encoded: bool,
}

impl ApiResponse {
    pub fn from_invocation(response: &Value) -> Result<Self> {
        let obj = response
            .as_object()
            .with_context(|| format!("API Gateway v2 response is not an object: {response}"))?;

        let status = obj
            .get("statusCode")
            .and_then(Value::as_u64)
            .with_context(|| format!("statusCode missing or not an integer in {response}"))?;
        let status = u16::try_from(status)
            .ok()
            .filter(|s| (100..=599).contains(s))
            .with_context(|| format!("statusCode {status} is not an HTTP status"))?;

        let headers = match obj.get("headers") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(headers)) => headers.clone(),
            Some(other) => bail!("headers is not an object: {other}"),
        };

        let cookies = match obj.get("cookies") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|c| {
                    c.as_str()
                        .map(str::to_owned)
                        .with_context(|| format!("cookie is not a string: {c}"))
                })
                .collect::<Result<_>>()?,
            Some(other) => bail!("cookies is not an array: {other}"),
        };

        let is_base64_encoded = match obj.get("isBase64Encoded") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => bail!("isBase64Encoded is not a boolean: {other}"),
        };

        let (raw_body, body) = match obj.get("body") {
            None | Some(Value::Null) => (Vec::new(), Value::Null),
            Some(Value::String(text)) => {
                let raw = if is_base64_encoded {
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .context("body is marked isBase64Encoded but is not valid base64")?
                } else {
                    text.as_bytes().to_vec()
                };
                let body = lenient_json(&raw);
                (raw, body)
            }
            Some(other) => bail!("body is not a string: {other}"),
        };

        Ok(Self {
            status,
            headers,
            cookies,
            body,
            raw_body,
            is_base64_encoded,
        })
    }

    /// Header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
}

/// The body as JSON, or as a JSON string when it is not JSON.
pub(crate) fn lenient_json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_response_parses_json_body_and_headers() {
        let r = ApiResponse::from_invocation(&json!({
            "statusCode": 201,
            "headers": {"content-type": "application/json"},
            "multiValueHeaders": {},
            "body": "{\"ok\":true}",
            "isBase64Encoded": false,
            "cookies": ["a=b; HttpOnly"]
        }))
        .unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.body, json!({"ok": true}));
        assert_eq!(r.cookies, vec!["a=b; HttpOnly".to_owned()]);
    }

    #[test]
    fn api_response_decodes_base64_and_keeps_non_json_as_string() {
        let r = ApiResponse::from_invocation(&json!({
            "statusCode": 200,
            "body": "eyJhIjoxfQ==",
            "isBase64Encoded": true
        }))
        .unwrap();
        assert_eq!(r.body, json!({"a": 1}));

        let r =
            ApiResponse::from_invocation(&json!({"statusCode": 404, "body": "not found"})).unwrap();
        assert_eq!(r.body, Value::String("not found".into()));
        assert_eq!(r.raw_body, b"not found");

        let r = ApiResponse::from_invocation(&json!({"statusCode": 204, "cookies": []})).unwrap();
        assert_eq!(r.body, Value::Null);
    }

    #[test]
    fn api_response_rejects_malformed() {
        assert!(ApiResponse::from_invocation(&json!({"body": "x"})).is_err());
        assert!(ApiResponse::from_invocation(&json!({"statusCode": 70000})).is_err());
        assert!(
            ApiResponse::from_invocation(
                &json!({"statusCode": 200, "body": "%%%", "isBase64Encoded": true})
            )
            .is_err()
        );
    }
}
