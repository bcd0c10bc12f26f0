//! SDK errors as service errors, and the transaction plumbing: conditional puts, one
//! `TransactWriteItems` retried while it only lost a race, and what its cancellation
//! reasons mean.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_smithy_types::error::display::DisplayErrorContext;

use super::DynamoStore;
use super::keys::{Item, key};
use crate::error::{Error, Result};
use crate::retry::{Attempt, Backoff};

/// Attempts of one optimistic update (each re-reads what it changes) or of one
/// transaction that met a concurrent one.
pub(super) const UPDATE_RETRY: Backoff = Backoff {
    attempts: 5,
    first_delay: Duration::from_millis(10),
    factor: 2,
};

/// The code DynamoDB gives an item whose condition failed.
const CONDITION_FAILED: &str = "ConditionalCheckFailed";

/// Maps an SDK failure to the service error: throttling, timeouts and an unreachable
/// endpoint (after the SDK's standard bounded retries) are `Unavailable` (503, "try
/// again"); anything else is a fault of ours.
pub(crate) fn sdk_error<E, R>(operation: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => matches!(
            service.err().code(),
            Some(
                "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "TransactionInProgressException"
            )
        ),
        _ => false,
    };
    let detail = format!("{operation}: {}", DisplayErrorContext(&err));
    if transient {
        Error::Unavailable(detail)
    } else {
        Error::Internal(detail)
    }
}

/// Why a transaction was cancelled, per item, as DynamoDB reports it.
pub(super) fn cancellation_codes(
    err: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> Vec<String> {
    match err {
        SdkError::ServiceError(service) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(cancelled) => cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Whether a cancellation is an answer (a condition failed) rather than only a race
/// with a concurrent transaction on the same items, which is worth retrying.
pub(super) fn condition_failed(codes: &[String]) -> bool {
    codes.iter().any(|c| c == CONDITION_FAILED)
}

/// Of the puts that claim a unique key (`(index in the transaction, field)`), the field
/// of the first whose condition failed: that key is taken.
pub(super) fn taken_field<'a>(codes: &[String], claims: &[(usize, &'a str)]) -> Option<&'a str> {
    claims
        .iter()
        .find(|(i, _)| codes.get(*i).is_some_and(|c| c == CONDITION_FAILED))
        .map(|(_, field)| *field)
}

/// Whether item `index` of a cancelled transaction failed its condition.
pub(super) fn item_failed(codes: &[String], index: usize) -> bool {
    codes.get(index).is_some_and(|c| c == CONDITION_FAILED)
}

pub(super) fn put_new(table: &str, item: Item) -> Result<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(Error::internal)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

pub(super) fn at_revision(revision: i64) -> HashMap<String, AttributeValue> {
    HashMap::from([(":rev".to_owned(), AttributeValue::N(revision.to_string()))])
}

impl DynamoStore {
    pub(super) async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(output.item)
    }

    /// Runs one transaction. `Ok(None)` when it committed; `Ok(Some(codes))` with the
    /// per-item cancellation reasons when a condition failed. Cancellations caused only
    /// by concurrent transactions on the same items (`TransactionConflict`) are retried
    /// with backoff, so a race ends with one winner and clear condition failures for the
    /// others rather than spurious errors.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<String>>> {
        UPDATE_RETRY
            .run(|| async {
                let sent = self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .send()
                    .await;
                let Err(err) = sent else {
                    return Ok(Attempt::Done(None));
                };
                let codes = cancellation_codes(&err);
                if codes.is_empty() {
                    Err(sdk_error("TransactWriteItems", err))
                } else if condition_failed(&codes) {
                    Ok(Attempt::Done(Some(codes)))
                } else {
                    Ok(Attempt::Retry(Error::Unavailable(
                        "TransactWriteItems: conflicting transactions".into(),
                    )))
                }
            })
            .await
    }

    /// Creates items that must not exist yet, in one transaction; a cancelled item is
    /// reported as a conflict on its field.
    pub(super) async fn create_all(&self, items: Vec<(&'static str, Item)>) -> Result<()> {
        let transaction = items
            .iter()
            .map(|(_, item)| put_new(&self.table, item.clone()))
            .collect::<Result<Vec<_>>>()?;
        let claims: Vec<(usize, &str)> =
            items.iter().map(|(field, _)| *field).enumerate().collect();
        match self.transact(transaction).await? {
            None => Ok(()),
            Some(codes) => {
                let field = taken_field(&codes, &claims).unwrap_or("key");
                Err(Error::Conflict(format!("{field} already taken")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn cancelled(codes: &[Option<&str>]) -> SdkError<TransactWriteItemsError, ()> {
        let reasons = codes
            .iter()
            .map(|code| {
                CancellationReason::builder()
                    .set_code(code.map(str::to_owned))
                    .build()
            })
            .collect();
        let exception = TransactionCanceledException::builder()
            .set_cancellation_reasons(Some(reasons))
            .build();
        SdkError::service_error(
            TransactWriteItemsError::TransactionCanceledException(exception),
            (),
        )
    }

    fn codes(codes: &[&str]) -> Vec<String> {
        codes.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn cancellation_reasons_are_read_per_item() {
        let err = cancelled(&[None, Some("ConditionalCheckFailed"), Some("None")]);
        assert_eq!(
            cancellation_codes(&err),
            codes(&["None", "ConditionalCheckFailed", "None"])
        );
        // Not a cancellation: no reasons, so the caller reports the SDK error.
        let other = SdkError::<TransactWriteItemsError, ()>::service_error(
            TransactWriteItemsError::generic(
                ErrorMetadata::builder().code("ValidationException").build(),
            ),
            (),
        );
        assert!(cancellation_codes(&other).is_empty());
    }

    #[test]
    fn a_failed_condition_is_an_answer_and_a_conflict_alone_is_retried() {
        assert!(condition_failed(&codes(&[
            "None",
            "ConditionalCheckFailed"
        ])));
        assert!(!condition_failed(&codes(&["TransactionConflict", "None"])));
        assert!(item_failed(&codes(&["ConditionalCheckFailed", "None"]), 0));
        assert!(!item_failed(&codes(&["ConditionalCheckFailed", "None"]), 1));
        assert!(!item_failed(&codes(&["None"]), 5));
    }

    #[test]
    fn the_taken_field_is_the_first_claimed_key_whose_condition_failed() {
        let claims = [(1, "username"), (2, "phone"), (3, "email")];
        let failed = codes(&[
            "None",
            "None",
            "ConditionalCheckFailed",
            "ConditionalCheckFailed",
        ]);
        assert_eq!(taken_field(&failed, &claims), Some("phone"));
        // A failure on an item that claims nothing (a revision check) names no field.
        let stale = codes(&["ConditionalCheckFailed", "None", "None", "None"]);
        assert_eq!(taken_field(&stale, &claims), None);
    }

    #[test]
    fn throttling_and_timeouts_are_unavailable_and_other_faults_internal() {
        let service = |code: &str| {
            SdkError::<TransactWriteItemsError, ()>::service_error(
                TransactWriteItemsError::generic(ErrorMetadata::builder().code(code).build()),
                (),
            )
        };
        for transient in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
        ] {
            assert!(matches!(
                sdk_error("op", service(transient)),
                Error::Unavailable(_)
            ));
        }
        assert!(matches!(
            sdk_error("op", service("ValidationException")),
            Error::Internal(_)
        ));
    }
}
