//! Failed-login counters: one small item per [`LockSubject`], updated with single-item
//! conditional writes, so that a burst of failures on one account is a queue of atomic
//! increments rather than transactions over every copy of the user.
//!
//! | pk                                   | sk      | attributes                          |
//! |--------------------------------------|---------|-------------------------------------|
//! | `LOCK#{app}#ID#{user_id}`            | `#LOCK` | `failures`, `last_failure_ms`, TTL  |
//! | `LOCK#{app}#DEV#{user_id}#{device}`  | `#LOCK` | the same, for one proven device     |
//! | `LOCK#{app}#NAME#{username}` (`PHONE`, `EMAIL`) | `#LOCK` | a name that matches no user |
//!
//! Every item carries the TTL attribute: 15 minutes after its last failure the run is
//! over anyway, so DynamoDB may drop it (and the names attackers try cost nothing later).

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValue;

use super::keys::{from_item, key, n, values};
use super::{DynamoStore, sdk_error, table};
use crate::auth::lockout::{LockState, LockSubject, MAX_LOCK_MS};
use crate::domain::LoginKey;
use crate::error::{Error, Result};
use crate::store::LockoutStore;

pub(super) const LOCK_SK: &str = "#LOCK";

/// Rounds of (increment, begin a new run) before giving up. A failed round means
/// another writer moved the counter between our two conditions, which only a clock
/// running backwards by minutes can make happen twice.
const COUNT_ROUNDS: usize = 3;

pub(super) fn lock_pk(subject: &LockSubject) -> String {
    match subject {
        LockSubject::Account { app_id, user_id } => format!("LOCK#{app_id}#ID#{user_id}"),
        LockSubject::Device {
            app_id,
            user_id,
            device_guid,
        } => format!("LOCK#{app_id}#DEV#{user_id}#{device_guid}"),
        LockSubject::UnknownName { app_id, key } => match key {
            LoginKey::UserId(id) => format!("LOCK#{app_id}#ID#{id}"),
            LoginKey::Username(name) => format!("LOCK#{app_id}#NAME#{name}"),
            LoginKey::Phone(phone) => format!("LOCK#{app_id}#PHONE#{phone}"),
            LoginKey::Email(email) => format!("LOCK#{app_id}#EMAIL#{email}"),
        },
    }
}

/// Unix seconds after which the item no longer matters: the run is over by then.
fn expires_at(now_ms: i64) -> i64 {
    now_ms.saturating_add(MAX_LOCK_MS).div_euclid(1000) + 60
}

enum Conditional<T> {
    Applied(T),
    ConditionFailed,
}

impl DynamoStore {
    /// One conditional UpdateItem on the subject's counter, returning the new state.
    async fn update_lock(
        &self,
        subject: &LockSubject,
        update: &str,
        condition: &str,
        now_ms: i64,
    ) -> Result<Conditional<LockState>> {
        // DynamoDB refuses placeholders an expression does not use: pass only those used.
        let used =
            |placeholder: &str| update.contains(placeholder) || condition.contains(placeholder);
        let mut placeholders = values([
            (":zero", n(0)),
            (":one", n(1)),
            (":now", n(now_ms)),
            (":cutoff", n(now_ms.saturating_sub(MAX_LOCK_MS))),
            (":ttl", n(expires_at(now_ms))),
        ]);
        placeholders.retain(|name, _| used(name));
        let names = used("#ttl").then(|| {
            std::collections::HashMap::from([("#ttl".to_owned(), table::TTL_ATTRIBUTE.to_owned())])
        });
        let outcome = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(lock_pk(subject), LOCK_SK)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(Some(placeholders))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match outcome {
            Ok(output) => Ok(Conditional::Applied(from_item(
                output.attributes.unwrap_or_default(),
            )?)),
            Err(e) if is_condition_failure(&e) => Ok(Conditional::ConditionFailed),
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }
}

fn is_condition_failure<R>(err: &aws_sdk_dynamodb::error::SdkError<UpdateItemError, R>) -> bool {
    matches!(
        err.as_service_error(),
        Some(UpdateItemError::ConditionalCheckFailedException(_))
    )
}

#[async_trait]
impl LockoutStore for DynamoStore {
    async fn count_failure(&self, subject: &LockSubject, now_ms: i64) -> Result<LockState> {
        // DynamoDB has no if/else in one update, so the two cases of
        // `LockState::after_failure` are two conditional updates whose conditions
        // exclude each other. The first (a new counter, a cleared one, or a run still
        // going: an increment) is the one that applies almost always; the second starts
        // a new run after 15 quiet minutes. If another writer moves the counter between
        // them, the next round sees its state.
        for _ in 0..COUNT_ROUNDS {
            if let Conditional::Applied(state) = self
                .update_lock(
                    subject,
                    "SET last_failure_ms = :now, #ttl = :ttl ADD failures :one",
                    "attribute_not_exists(failures) OR failures = :zero \
                     OR last_failure_ms >= :cutoff",
                    now_ms,
                )
                .await?
            {
                return Ok(state);
            }
            if let Conditional::Applied(state) = self
                .update_lock(
                    subject,
                    "SET failures = :one, last_failure_ms = :now, #ttl = :ttl",
                    "failures > :zero AND last_failure_ms < :cutoff",
                    now_ms,
                )
                .await?
            {
                return Ok(state);
            }
        }
        Err(Error::Unavailable(
            "failed-login counter kept changing; not counted".into(),
        ))
    }

    async fn lock_state(&self, subject: &LockSubject) -> Result<LockState> {
        self.get(lock_pk(subject), LOCK_SK)
            .await?
            .map(from_item)
            .transpose()
            .map(Option::unwrap_or_default)
    }

    async fn observe_lock(&self, subject: &LockSubject, now_ms: i64) -> Result<LockState> {
        // One UpdateItem like a counted failure's, so both cost the same; it stamps
        // `checked_ms` (read by nothing) on an existing counter and creates none.
        match self
            .update_lock(
                subject,
                "SET checked_ms = :now",
                "attribute_exists(pk)",
                now_ms,
            )
            .await?
        {
            Conditional::Applied(state) => Ok(state),
            Conditional::ConditionFailed => Ok(LockState::default()),
        }
    }

    async fn clear_failures(&self, subject: &LockSubject, seen: &LockState) -> Result<bool> {
        let outcome = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(lock_pk(subject), LOCK_SK)))
            .update_expression("SET failures = :zero")
            .condition_expression("failures = :seen AND last_failure_ms = :last")
            .set_expression_attribute_values(Some(values([
                (":zero", n(0)),
                (":seen", n(i64::from(seen.failures))),
                (":last", n(seen.last_failure_ms)),
            ])))
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_has_its_own_counter_and_names_share_the_account_counter_only_by_id() {
        let account = LockSubject::Account {
            app_id: "a".into(),
            user_id: 7,
        };
        let device = LockSubject::Device {
            app_id: "a".into(),
            user_id: 7,
            device_guid: "ios#1".into(),
        };
        let unknown = |key| LockSubject::UnknownName {
            app_id: "a".into(),
            key,
        };
        assert_eq!(lock_pk(&account), "LOCK#a#ID#7");
        assert_eq!(lock_pk(&device), "LOCK#a#DEV#7#ios#1");
        assert_eq!(lock_pk(&unknown(LoginKey::UserId(7))), lock_pk(&account));
        assert_eq!(
            lock_pk(&unknown(LoginKey::Username("bo".into()))),
            "LOCK#a#NAME#bo"
        );
        assert_ne!(
            lock_pk(&unknown(LoginKey::Phone("123456".into()))),
            lock_pk(&unknown(LoginKey::Email("123456".into())))
        );
    }
}
