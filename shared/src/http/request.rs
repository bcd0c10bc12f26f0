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
    /// 2^53, as a string of decimal digits.
    pub fn optional_i64(&self, name: &str) -> Result<Option<i64>> {
        let wrong = || Error::bad_request(format!("field {name} must be an int64 integer"));
        match self.present(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(wrong),
            Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| wrong()),
            Some(_) => Err(wrong()),
        }
    }

    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.present(name)
    }
}

/// A header as text; `None` when absent, an error naming it when not valid UTF-8.
pub fn header<'r>(req: &'r Request, name: &str) -> Result<Option<&'r str>> {
    match req.headers().get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| Error::bad_request(format!("header {name} must be visible ASCII"))),
    }
}

/// An int64 header such as seed 000's `user_id` and `group_id`.
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
        let ok = JsonFields::parse(br#"{"user_id":"9007199254740993","x":42}"#).unwrap();
        assert_eq!(ok.required_i64("user_id").unwrap(), 9_007_199_254_740_993);
        assert_eq!(ok.required_i64("x").unwrap(), 42);
    }
}
