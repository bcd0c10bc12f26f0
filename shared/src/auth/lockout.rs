//! Account lockout, per account (not per IP), on Cognito's schedule: after 5 failed
//! logins the account is locked for 2^(n-5) seconds, capped at 15 minutes; a success or
//! 15 minutes without failures resets the count. Attempts while locked are not counted,
//! so they do not extend the lock.

use crate::domain::User;

/// Failures allowed before the first lock.
pub const FREE_FAILURES: u32 = 5;
/// Longest lock, and the quiet period after which the count restarts.
pub const MAX_LOCK_MS: i64 = 15 * 60 * 1000;

/// The count that applies at `now_ms`: zero after 15 minutes of quiet.
pub fn effective_failures(user: &User, now_ms: i64) -> u32 {
    if now_ms.saturating_sub(user.last_failure_ms) > MAX_LOCK_MS {
        0
    } else {
        user.failed_logins
    }
}

/// Lock length after the `failures`-th consecutive failure.
pub fn lock_ms(failures: u32) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let exponent = failures - FREE_FAILURES;
    if exponent >= 20 {
        return MAX_LOCK_MS;
    }
    (1000_i64 << exponent).min(MAX_LOCK_MS)
}

/// Until when (ms) the account is locked, if it is at `now_ms`.
pub fn locked_until(user: &User, now_ms: i64) -> Option<i64> {
    let failures = effective_failures(user, now_ms);
    let until = user.last_failure_ms.saturating_add(lock_ms(failures));
    (failures >= FREE_FAILURES && until > now_ms).then_some(until)
}

/// What a failed attempt does to the counter: `Some(restart)` to count it (`restart`
/// when the count begins again after quiet), `None` when the account is locked and the
/// attempt must not be counted.
pub fn failure_update(user: &User, now_ms: i64) -> Option<bool> {
    if locked_until(user, now_ms).is_some() {
        return None;
    }
    Some(effective_failures(user, now_ms) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cognito_schedule() {
        assert_eq!(lock_ms(4), 0);
        assert_eq!(lock_ms(5), 1_000);
        assert_eq!(lock_ms(6), 2_000);
        assert_eq!(lock_ms(10), 32_000);
        assert_eq!(lock_ms(14), 512_000);
        assert_eq!(lock_ms(15), MAX_LOCK_MS);
        assert_eq!(lock_ms(u32::MAX), MAX_LOCK_MS);
    }
}
