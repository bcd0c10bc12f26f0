//! JSON with its keys in the order they were written, printed byte for byte as the event
//! files have always been printed (Python's `json` module: `", "`/`": "` separators, two-space
//! indentation, non-ASCII escaped). `serde_json` sorts keys unless `preserve_order` is on, and
//! that feature would reach every crate of the workspace build, so the events keep their own.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Object(Vec<(String, Json)>),
}

/// An object from `(key, value)` pairs, keys kept in this order.
pub fn obj<const N: usize>(pairs: [(&str, Json); N]) -> Json {
    Json::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

impl From<&str> for Json {
    fn from(s: &str) -> Self {
        Json::Str(s.to_owned())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Self {
        Json::Str(s)
    }
}

impl From<i64> for Json {
    fn from(n: i64) -> Self {
        Json::Int(n)
    }
}

impl From<f64> for Json {
    fn from(n: f64) -> Self {
        Json::Float(n)
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Self {
        Json::Bool(b)
    }
}

impl Json {
    /// Sets `key`, in place when it exists (as a dict update does), else at the end.
    pub fn set(&mut self, key: &str, value: Json) {
        if let Json::Object(pairs) = self {
            match pairs.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v = value,
                None => pairs.push((key.to_owned(), value)),
            }
        }
    }

    /// One line, `{"a": 1, "b": "x"}`: how request bodies are written.
    pub fn compact(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, None);
        out
    }

    /// Indented by two spaces per level: how event files are written.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, Some(0));
        out
    }

    fn write(&self, out: &mut String, depth: Option<usize>) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Float(n) => {
                let _ = write!(out, "{n:?}");
            }
            Json::Str(s) => write_string(out, s),
            Json::Object(pairs) if pairs.is_empty() => out.push_str("{}"),
            Json::Object(pairs) => {
                out.push('{');
                for (i, (key, value)) in pairs.iter().enumerate() {
                    match depth {
                        Some(d) => {
                            out.push_str(if i == 0 { "\n" } else { ",\n" });
                            out.push_str(&"  ".repeat(d + 1));
                        }
                        None if i > 0 => out.push_str(", "),
                        None => {}
                    }
                    write_string(out, key);
                    out.push_str(": ");
                    value.write(out, depth.map(|d| d + 1));
                }
                if let Some(d) = depth {
                    out.push('\n');
                    out.push_str(&"  ".repeat(d));
                }
                out.push('}');
            }
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0_u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_keeps_key_order_and_python_separators() {
        let body = obj([
            ("user_id", 10001.into()),
            ("a", obj([])),
            ("ttl", 1.5.into()),
        ]);
        assert_eq!(body.compact(), r#"{"user_id": 10001, "a": {}, "ttl": 1.5}"#);
    }

    #[test]
    fn pretty_indents_two_spaces_and_escapes_like_python() {
        let event = obj([
            ("body", "{\"x\": \"é\u{1F600}\"}\n".into()),
            ("inner", obj([("ok", true.into()), ("none", Json::Null)])),
        ]);
        assert_eq!(
            event.pretty(),
            "{\n  \"body\": \"{\\\"x\\\": \\\"\\u00e9\\ud83d\\ude00\\\"}\\n\",\n  \"inner\": {\n    \"ok\": true,\n    \"none\": null\n  }\n}"
        );
    }

    #[test]
    fn set_replaces_in_place_and_appends_new_keys() {
        let mut headers = obj([("a", 1.into()), ("b", 2.into())]);
        headers.set("a", 3.into());
        headers.set("c", 4.into());
        assert_eq!(headers.compact(), r#"{"a": 3, "b": 2, "c": 4}"#);
    }
}
