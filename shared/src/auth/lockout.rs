//! Account lockout on Cognito's schedule: after 5 failed logins the account is locked for
//! 2^(n-5) seconds, capped at 15 minutes; a success or 15 minutes without failures resets
//! the count.
//!
//! Two rules make it hold under a burst of parallel guesses (docs/security.md, "Lockout"):
//! - every wrong password is counted by an atomic increment in the store *before* it is
//!   answered, including while the account is locked (a sustained attack keeps the lock
//!   in force; the owner's devices get past it with a device proof);
//! - a right password is answered only after the counter is read *after* the password
//!   was verified (atomically, by a write that changes nothing the decision depends on,
//!   so it costs what a counted failure costs), so the lock in force at that moment
//!   decides.
//!
//! Decisions about one counter are serialized by the store, so of a burst on a fresh
//! account at most [`FREE_FAILURES`] attempts (in the order the store applies them) can
//! be decided while the account is unlocked; every later one is refused, however many
//! run in parallel.

use serde::{Deserialize, Serialize};

use crate::domain::LoginKey;

/// Failures allowed before the first lock.
pub const FREE_FAILURES: u32 = 5;
/// Longest lock, and the quiet period after which the count restarts.
pub const MAX_LOCK_MS: i64 = 15 * 60 * 1000;

/// What a login attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LockSubject {
    /// A known user, however the login named them.
    Account { app_id: String, user_id: i64 },
    /// A known user on a device that presented a valid device proof: its own counter,
    /// untouched by the account-wide one.
    Device {
        app_id: String,
        user_id: i64,
        device_guid: String,
    },
    /// A name that matches no user: counted too, so that a miss costs the store the
    /// same work as a wrong password (and locks the same way).
    UnknownName { app_id: String, key: LoginKey },
}

impl LockSubject {
    pub fn app_id(&self) -> &str {
        match self {
            Self::Account { app_id, .. }
            | Self::Device { app_id, .. }
            | Self::UnknownName { app_id, .. } => app_id,
        }
    }
}

/// A counter as stored: the failures of the current run and when the last one happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LockState {
    pub failures: u32,
    /// Unix ms of the last failure; 0 if never.
    pub last_failure_ms: i64,
}

impl LockState {
    /// Whether a failure at `now_ms` begins a new run (15 quiet minutes, or none yet).
    pub fn run_is_over(&self, now_ms: i64) -> bool {
        self.failures == 0 || now_ms.saturating_sub(self.last_failure_ms) > MAX_LOCK_MS
    }

    /// The count that applies at `now_ms`: zero after 15 minutes of quiet.
    pub fn effective_failures(&self, now_ms: i64) -> u32 {
        if self.run_is_over(now_ms) {
            0
        } else {
            self.failures
        }
    }

    /// Until when (ms) the subject is locked, if it is at `now_ms`.
    pub fn locked_until(&self, now_ms: i64) -> Option<i64> {
        let failures = self.effective_failures(now_ms);
        let until = self.last_failure_ms.saturating_add(lock_ms(failures));
        (failures >= FREE_FAILURES && until > now_ms).then_some(until)
    }

    /// The state after one more failure at `now_ms`: the embedded store's twin of the
    /// DynamoDB store's conditional increment.
    pub fn after_failure(&self, now_ms: i64) -> Self {
        let failures = if self.run_is_over(now_ms) {
            1
        } else {
            self.failures.saturating_add(1)
        };
        Self {
            failures,
            last_failure_ms: now_ms,
        }
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

    #[test]
    fn a_run_locks_at_the_fifth_failure_and_restarts_after_quiet() {
        let mut state = LockState::default();
        for n in 1..=4 {
            state = state.after_failure(10_000 + n);
            assert_eq!(state.failures, n as u32);
            assert_eq!(state.locked_until(10_000 + n), None);
        }
        state = state.after_failure(20_000);
        assert_eq!(state.locked_until(20_000), Some(21_000));
        assert_eq!(state.locked_until(20_999), Some(21_000));
        assert_eq!(state.locked_until(21_000), None);
        // Counted while locked: the lock grows and starts from the newest failure.
        state = state.after_failure(20_500);
        assert_eq!(state.locked_until(20_500), Some(22_500));
        // 15 quiet minutes end the run: the next failure is the first of a new one.
        let later = 20_500 + MAX_LOCK_MS + 1;
        assert_eq!(state.effective_failures(later), 0);
        assert_eq!(state.after_failure(later).failures, 1);
    }
}
