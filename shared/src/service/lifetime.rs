//! How long minted tokens live, and the app's rules on what a client may ask for.

use crate::domain::App;
use crate::error::{Error, Result};

/// The `exp` distance given to a "non-expiring" token (`ttl: 0`): a century. Revocation
/// (`tokens_valid_after`, `app_tokens_valid_after`) still ends it.
pub const NON_EXPIRING_SECS: i64 = 100 * 365 * 86_400;

pub use crate::domain::MAX_TTL_SECS;

/// How long the minted tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// The app's `token_ttl`.
    AppDefault,
    /// A client's `ttl`: at most the app's [`App::ttl_cap`].
    Seconds(u64),
    /// Easemob's `ttl: 0`; only for apps that allow it.
    NonExpiring,
}

impl Lifetime {
    /// The seconds tokens of this lifetime live in `app` (`None`: non-expiring), or why
    /// the app refuses it. Checked before any password work and again when minting.
    ///
    /// A `ttl` over the app's cap is refused rather than shortened: a client that asked
    /// for a week and silently got a day would find out only when its token stops working.
    pub fn seconds_in(self, app: &App) -> Result<Option<u64>> {
        match self {
            Self::AppDefault => Ok(Some(app.token_ttl)),
            Self::Seconds(0) | Self::NonExpiring => {
                if app.allow_non_expiring {
                    Ok(None)
                } else {
                    Err(Error::bad_request(
                        "ttl 0 (a token that never expires) is not allowed for this app",
                    ))
                }
            }
            Self::Seconds(seconds) if seconds > app.ttl_cap() => Err(Error::bad_request(format!(
                "ttl must be at most {} seconds for this app",
                app.ttl_cap()
            ))),
            Self::Seconds(seconds) => Ok(Some(seconds)),
        }
    }

    /// `(exp, expires_in)` for a token minted at `now` (Unix seconds) in `app`;
    /// `expires_in` is 0 for a non-expiring token (Easemob's convention).
    pub fn expiry(self, app: &App, now: i64) -> Result<(i64, u64)> {
        Ok(match self.seconds_in(app)? {
            None => (now.saturating_add(NON_EXPIRING_SECS), 0),
            Some(seconds) => (
                now.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX)),
                seconds,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::provision::{NewApp, build_app};

    fn app(token_ttl: u64, max_token_ttl: Option<u64>, allow_non_expiring: bool) -> App {
        build_app(NewApp {
            app_id: "a".into(),
            token_ttl: Some(token_ttl),
            max_token_ttl,
            allow_non_expiring: Some(allow_non_expiring),
            ..NewApp::default()
        })
        .unwrap()
        .0
    }

    #[test]
    fn a_client_ttl_is_capped_by_the_app_and_never_clamped() {
        let app = app(3_600, Some(7_200), false);
        assert_eq!(
            Lifetime::Seconds(7_200).expiry(&app, 100).unwrap(),
            (7_300, 7_200)
        );
        let refused = Lifetime::Seconds(7_201).expiry(&app, 100).unwrap_err();
        assert!(
            matches!(&refused, Error::BadRequest(m) if m.contains("ttl") && m.contains("7200")),
            "{refused}"
        );
        assert_eq!(
            Lifetime::AppDefault.expiry(&app, 100).unwrap(),
            (3_700, 3_600)
        );
    }

    #[test]
    fn the_cap_is_never_below_the_app_default_and_zero_keeps_its_own_rule() {
        let mut old = app(3_600, None, true);
        // An app stored before `max_token_ttl` existed may default to more than the
        // default cap: asking explicitly for its own default still works.
        old.token_ttl = 60 * 86_400;
        old.max_token_ttl = 30 * 86_400;
        assert_eq!(old.ttl_cap(), 60 * 86_400);
        assert!(Lifetime::Seconds(60 * 86_400).expiry(&old, 0).is_ok());
        assert!(Lifetime::Seconds(60 * 86_400 + 1).expiry(&old, 0).is_err());
        // ttl 0 is not "over the cap": the app's allow_non_expiring decides.
        assert_eq!(
            Lifetime::NonExpiring.expiry(&old, 0).unwrap(),
            (NON_EXPIRING_SECS, 0)
        );
        let strict = app(3_600, None, false);
        assert!(Lifetime::Seconds(0).expiry(&strict, 0).is_err());
    }
}
