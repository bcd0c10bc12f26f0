//! The claims every token carries, and the one way they are put together.

use serde::{Deserialize, Serialize};

use crate::auth::audience::Audience;
use crate::auth::token_type::TokenType;

/// RFC 8693 actor claim: who minted this token on the subject's behalf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The type's audience and the same scoped to the app (see [`Audience`]).
    pub aud: Audience,
    /// The user id for user tokens; the client id for app tokens.
    pub sub: String,
    /// The app the token belongs to.
    pub app: String,
    pub iat: i64,
    /// `iat` in milliseconds, so a revocation (`tokens_valid_after`, ms) and a token
    /// minted in the same second are told apart.
    #[serde(default)]
    pub iat_ms: i64,
    /// Always present: a "non-expiring" token (Easemob `ttl: 0`) gets an `exp` a century
    /// away, so no verifier ever has to accept a token without one.
    pub exp: i64,
    /// Session id: shared by the tokens of one login; the file store derives
    /// `access_key_secret` from it.
    pub sid: String,
    pub typ: TokenType,
    /// Device the push token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// Group whose admin this token acts as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grp: Option<i64>,
}

/// Who a token is minted by, for whom and when: what [`Claims::new`] needs.
#[derive(Debug, Clone, Copy)]
pub struct Minting<'a> {
    pub issuer: &'a str,
    pub app_id: &'a str,
    pub sub: &'a str,
    pub session_id: &'a str,
    pub now_ms: i64,
    pub exp: i64,
}

impl Claims {
    /// The claims of a token of `typ`, with the audience its type and app call for and
    /// no device, actor or group (add them with the `with_` methods).
    pub fn new(typ: TokenType, minting: Minting<'_>) -> Self {
        Self {
            iss: minting.issuer.to_owned(),
            aud: Audience::minted(typ, minting.app_id),
            sub: minting.sub.to_owned(),
            app: minting.app_id.to_owned(),
            iat: minting.now_ms.div_euclid(1000),
            iat_ms: minting.now_ms,
            exp: minting.exp,
            sid: minting.session_id.to_owned(),
            typ,
            dev: None,
            act: None,
            grp: None,
        }
    }

    /// Bound to the device `guid` (push tokens, device proofs).
    pub fn with_device(mut self, guid: Option<&str>) -> Self {
        self.dev = guid.map(str::to_owned);
        self
    }

    /// Minted by `act` on the subject's behalf, as admin of group `grp` if any.
    pub fn with_actor(mut self, act: Option<Actor>, grp: Option<i64>) -> Self {
        self.act = act;
        self.grp = grp;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_claims_name_their_type_app_and_instant() {
        let minting = Minting {
            issuer: "imauth",
            app_id: "acme",
            sub: "42",
            session_id: "s1",
            now_ms: 1_700_000_000_999,
            exp: 1_700_000_060,
        };
        let claims = Claims::new(TokenType::Push, minting).with_device(Some("phone"));
        assert_eq!(claims.iat, 1_700_000_000);
        assert_eq!(claims.iat_ms, 1_700_000_000_999);
        assert_eq!(claims.aud, Audience::minted(TokenType::Push, "acme"));
        assert!(claims.aud.fits(TokenType::Push, "acme"));
        assert_eq!(claims.dev.as_deref(), Some("phone"));
        assert_eq!((claims.act, claims.grp), (None, None));
        let acted = Claims::new(TokenType::Access, minting).with_actor(
            Some(Actor {
                sub: "admin".into(),
            }),
            Some(7),
        );
        assert_eq!(acted.act.map(|a| a.sub).as_deref(), Some("admin"));
        assert_eq!(acted.grp, Some(7));
    }
}
