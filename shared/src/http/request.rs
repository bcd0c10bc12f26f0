//! Reading requests: size limit, JSON object bodies with field-naming errors, headers.

use lambda_http::Request;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Largest request body accepted. Every route's body is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A JSON object body, read with errors that name the offending field.
#[derive(Debug)]
pub struct JsonFields(Map<String, Value>);

impl JsonFields {
    pub fn from_request(req: &Request) -> Result<Self> {
        Self::parse(req.body().as_ref())
    }

    pub fn parse(body: &[u8]) -> Result<Self> {
        if body.len() > MAX_BODY_BYTES {
            return Err(Error::PayloadTooLarge(MAX_BODY_BYTES));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::bad_request(
                "request body is empty: expected a JSON object",
            ));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(Error::bad_request("request body must be a JSON object")),
            Err(e) => Err(Error::bad_request(format!(
                "malformed JSON body at line {} column {}",
                e.line(),
                e.column()
            ))),
        }
    }

    fn present(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    pub fn required_str(&self, name: &str) -> Result<&str> {
        self.optional_str(name)?
            .ok_or_else(|| Error::bad_request(format!("missing field {name}")))
    }

    /// Absent and `null` are both "not given".
    pub fn optional_str(&self, name: &str) -> Result<Option<&str>> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::bad_request(format!("field {name} must be a string"))),
        }
    }

    pub fn required_i64(&self, name: &str) -> Result<i64> {
        self.optional_i64(name)?
            .ok_or_else(|| Error::bad_request(format!("missing field {name}")))
    }

    /// An int64 as a JSON integer or, because JavaScript clients lose precision past
    /// 2^53, as a string of decimal digits (optionally signed; no surrounding spaces,
    /// as openapi.yaml's `Int64OrDigits` states).
    pub fn optional_i64(&self, name: &str) -> Result<Option<i64>> {
        let wrong = || Error::bad_request(format!("field {name} must be an int64 integer"));
        match self.present(name) {
            None => Ok(None),
            Some(Value::Number(n)) => whole_number(n).map(Some).ok_or_else(wrong),
            Some(Value::String(s)) => s.parse::<i64>().map(Some).map_err(|_| wrong()),
            Some(_) => Err(wrong()),
        }
    }

    /// Absent and `null` are both "not given".
    pub fn optional_bool(&self, name: &str) -> Result<Option<bool>> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Error::bad_request(format!(
                "field {name} must be a boolean"
            ))),
        }
    }

    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.present(name)
    }
}

/// A JSON number that is a whole int64: `10001`, and also `10001.0`, which JSON Schema's
/// `integer` (openapi.yaml) admits and some encoders write for whole floats.
pub fn whole_number(n: &serde_json::Number) -> Option<i64> {
    // 2^63 as f64: every whole f64 in [-2^63, 2^63) converts to i64 exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && (-LIMIT..LIMIT).contains(f))
            .map(|f| f as i64)
    })
}

/// A header as text; `None` when absent, an error naming it when not valid UTF-8.
///
/// The vendor login API names headers with underscores (`app_id`, `user_id`, `group_id`), which nginx
/// (by default) and SAM's local API drop, so the dashed spelling (`app-id`) is accepted as
/// the same header. Both present with different values is a 400, never a silent choice.
pub fn header<'r>(req: &'r Request, name: &str) -> Result<Option<&'r str>> {
    let underscored = single_header(req, name)?;
    if !name.contains('_') {
        return Ok(underscored);
    }
    let dashed_name = name.replace('_', "-");
    match (underscored, single_header(req, &dashed_name)?) {
        (Some(a), Some(b)) if a != b => Err(Error::bad_request(format!(
            "headers {name} and {dashed_name} name the same thing and must agree"
        ))),
        (a, b) => Ok(a.or(b)),
    }
}

fn single_header<'r>(req: &'r Request, name: &str) -> Result<Option<&'r str>> {
    match req.headers().get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| Error::bad_request(format!("header {name} must be visible ASCII"))),
    }
}

/// An int64 header such as the vendor login API's `user_id` and `group_id`.
pub fn header_i64(req: &Request, name: &str) -> Result<Option<i64>> {
    header(req, name)?
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| Error::bad_request(format!("header {name} must be an int64 integer")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscored_headers_also_arrive_dashed_and_must_agree() {
        let req = |headers: &[(&str, &str)]| {
            let mut builder = http::Request::builder();
            for (k, v) in headers {
                builder = builder.header(*k, *v);
            }
            Request::from(builder.body(lambda_http::Body::Empty).unwrap())
        };
        let get = |headers: &[(&str, &str)]| {
            header(&req(headers), "app_id")
                .map(|v| v.map(str::to_owned))
                .map_err(|e| e.to_string())
        };
        let demo = Ok(Some("demo".to_owned()));
        assert_eq!(get(&[("app_id", "demo")]), demo);
        assert_eq!(get(&[("app-id", "demo")]), demo);
        assert_eq!(get(&[("app_id", "demo"), ("app-id", "demo")]), demo);
        assert_eq!(get(&[]), Ok(None));
        let conflict = get(&[("app_id", "demo"), ("app-id", "other")]).unwrap_err();
        assert!(conflict.contains("app_id and app-id"), "{conflict}");
        // Only underscored names have a second spelling.
        assert_eq!(
            header(&req(&[("access_token", "t")]), "access-token").unwrap(),
            None
        );
        assert_eq!(
            header_i64(&req(&[("user-id", "7")]), "user_id").unwrap(),
            Some(7)
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let msg = |body: &[u8]| match JsonFields::parse(body) {
            Err(e) => e.to_string(),
            Ok(_) => "ok".into(),
        };
        assert!(msg(b"").contains("empty"));
        assert!(msg(b"{").contains("malformed JSON"));
        assert!(msg(b"[1]").contains("JSON object"));
        assert!(matches!(
            JsonFields::parse(&vec![b' '; MAX_BODY_BYTES + 1]),
            Err(Error::PayloadTooLarge(_))
        ));
        let fields = JsonFields::parse(br#"{"user_id":"abc","n":1.5,"p":null,"s":7}"#).unwrap();
        assert!(
            fields
                .required_i64("user_id")
                .unwrap_err()
                .to_string()
                .contains("user_id")
        );
        assert!(fields.required_i64("n").is_err());
        assert!(
            fields
                .required_str("p")
                .unwrap_err()
                .to_string()
                .contains("missing field p")
        );
        assert!(
            fields
                .required_str("s")
                .unwrap_err()
                .to_string()
                .contains("must be a string")
        );
        let spaced = JsonFields::parse(br#"{"user_id":" 42"}"#).unwrap();
        assert!(spaced.required_i64("user_id").is_err());
        let ok = JsonFields::parse(br#"{"user_id":"9007199254740993","x":42}"#).unwrap();
        assert_eq!(ok.required_i64("user_id").unwrap(), 9_007_199_254_740_993);
        assert_eq!(ok.required_i64("x").unwrap(), 42);
        let floats = JsonFields::parse(br#"{"a":10001.0,"b":-3.0,"c":1.5,"d":1e19}"#).unwrap();
        assert_eq!(floats.required_i64("a").unwrap(), 10001);
        assert_eq!(floats.required_i64("b").unwrap(), -3);
        assert!(floats.required_i64("c").is_err());
        assert!(floats.required_i64("d").is_err(), "beyond int64");
    }
}
