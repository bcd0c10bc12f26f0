//! The `aud` claim. A token names its type's audience and the same audience scoped to
//! its app, `["im-api", "im-api:acme"]`, so a verifier holding only the JWKS (any
//! standard JWT library) can pin both what the token is for and whose it is: a token of
//! app A fails a verifier expecting `im-api:B`.
//!
//! Tokens minted before the app-scoped audience existed carry a single string
//! (`"im-api"`); they are still read, and refused by app-pinning verifiers.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::token_type::TokenType;

/// The `aud` claim: one or more audiences (RFC 7519 §4.1.3: a string or an array).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Audience(Vec<String>);

impl Audience {
    /// What a token of `typ` minted for app `app_id` carries.
    pub fn minted(typ: TokenType, app_id: &str) -> Self {
        Self(vec![typ.audience().to_owned(), app_audience(typ, app_id)])
    }

    /// Whether `typ`'s audience is among these (the first question a verifier asks).
    pub fn names(&self, typ: TokenType) -> bool {
        self.0.iter().any(|aud| aud == typ.audience())
    }

    /// Whether these are exactly what a token of `typ` for `app_id` may carry: `typ`'s
    /// audience, optionally with its scoped form for that app, and nothing else (so a
    /// token cannot claim a second type or a second app).
    pub fn fits(&self, typ: TokenType, app_id: &str) -> bool {
        let scoped = app_audience(typ, app_id);
        self.names(typ)
            && self
                .0
                .iter()
                .all(|aud| aud == typ.audience() || *aud == scoped)
    }
}

/// A type audience scoped to one app: `im-api:acme`.
pub fn app_audience(typ: TokenType, app_id: &str) -> String {
    format!("{}:{app_id}", typ.audience())
}

impl From<&str> for Audience {
    /// A single audience, as tokens minted before app scoping carried.
    fn from(aud: &str) -> Self {
        Self(vec![aud.to_owned()])
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringOrArray;

        impl<'de> Visitor<'de> for StringOrArray {
            type Value = Audience;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a non-empty array of strings")
            }

            fn visit_str<E: de::Error>(self, aud: &str) -> Result<Audience, E> {
                Ok(Audience::from(aud))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut auds = Vec::new();
                while let Some(aud) = seq.next_element::<String>()? {
                    // Ours carry two; a long list is not a token we minted.
                    if auds.len() == 8 {
                        return Err(de::Error::invalid_length(9, &self));
                    }
                    auds.push(aud);
                }
                if auds.is_empty() {
                    return Err(de::Error::invalid_length(0, &self));
                }
                Ok(Audience(auds))
            }
        }

        deserializer.deserialize_any(StringOrArray)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<Audience, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn minted_audiences_are_an_array_naming_the_type_and_the_app() {
        let aud = Audience::minted(TokenType::Access, "acme");
        assert_eq!(
            serde_json::to_value(&aud).unwrap(),
            json!(["im-api", "im-api:acme"])
        );
        assert_eq!(parse(json!(["im-api", "im-api:acme"])).unwrap(), aud);
        assert!(aud.fits(TokenType::Access, "acme"));
        assert!(!aud.fits(TokenType::Access, "other"));
        assert!(!aud.names(TokenType::Push));
        assert!(!aud.fits(TokenType::Push, "acme"));
    }

    #[test]
    fn a_single_string_is_read_as_one_audience() {
        let legacy = parse(json!("im-admin")).unwrap();
        assert!(legacy.fits(TokenType::App, "acme"));
        assert!(!legacy.fits(TokenType::Access, "acme"));
    }

    #[test]
    fn extra_types_apps_and_malformed_values_do_not_fit() {
        for claimed in [
            json!(["im-api", "im-push"]),
            json!(["im-api", "im-api:acme", "im-api:other"]),
            json!(["im-api:acme"]),
            json!(["im-api", "im-push:acme"]),
        ] {
            let aud = parse(claimed.clone()).unwrap();
            assert!(!aud.fits(TokenType::Access, "acme"), "{claimed}");
        }
        for malformed in [
            json!([]),
            json!(7),
            json!([1]),
            json!(null),
            json!(vec!["a"; 9]),
        ] {
            assert!(parse(malformed.clone()).is_err(), "{malformed}");
        }
    }
}
