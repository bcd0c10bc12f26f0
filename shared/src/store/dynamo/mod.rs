//! The production store: one DynamoDB table, configured only from the standard AWS
//! environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, the credentials chain) and
//! `TABLE_NAME`. This module is the only place that knows `AttributeValue`.
//!
//! Key design (`pk`, `sk` are strings; see [`table`]):
//!
//! | pk                              | sk      | item                                   |
//! |---------------------------------|---------|----------------------------------------|
//! | `APP#{app_id}`                  | `#APP`  | the app                                |
//! | `APPNAME#{org_name}#{app_name}` | `#APP`  | a copy of the app (Easemob routes)     |
//! | `USER#{app_id}#ID#{user_id}`    | `#USER` | the user: credential, flags, revision  |
//! | `USER#{app_id}#NAME#{username}` | `#USER` | a full copy of the user                |
//! | `USER#{app_id}#PHONE#{phone}`   | `#USER` | a full copy of the user                |
//! | `USER#{app_id}#EMAIL#{email}`   | `#USER` | a full copy of the user                |
//! | `FAMILY#{family_id}`            | `#FAMILY` | a refresh family: `revoked`, TTL     |
//! | `REFRESH#{sha256(token)}`       | `#REFRESH` | a rotated refresh token: `used`, TTL |
//! | `PUSH#{app}#{kind}#{channel}#{sha256(token)}` | `#PUSH` | a push registration (owner) |
//! | `PUSHUSER#{app}#{user}#{kind}`  | `{channel}#{sha256(token)}` | the owner's copy, for listing |
//! | `DEVICE#{app}#{user}`           | `{device_guid}` | last login from that device      |
//!
//! Every login key has its own item holding the whole credential, so a login, whichever
//! way it names the user, is one strongly consistent GetItem (a ban or password change
//! is seen by the very next login). The copies double as the uniqueness markers: creating
//! a user puts all of them in one `TransactWriteItems` with `attribute_not_exists(pk)`,
//! and every change rewrites all of them in one transaction conditioned on the
//! `revision` read, so copies never disagree and races have exactly one winner.
//! `app_id`, org and app names and usernames cannot contain `#`, so keys cannot collide.
//! Failed-login counters live in items of their own (`LOCK#…`, see [`lockout`]): a
//! failure is one conditional UpdateItem, a success reads the counter once. Refresh
//! items carry `expires_at` (the table's TTL attribute); reads treat an item past it as
//! gone, since DynamoDB deletes expired items only eventually.

mod apps;
mod lockout;
pub mod table;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};
use aws_smithy_types::error::display::DisplayErrorContext;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    AppAdmin, AppChange, AppDirectory, CredentialLookup, DeviceStore, PasswordRehash, PushStore,
    RefreshStore, Rotation, UserAdmin, UserChange, secondary_keys,
};
use crate::auth::refresh::{RefreshFamily, RefreshRecord};
use crate::domain::{App, LoginKey, PushKey, PushKind, PushRegistration, User};
use crate::error::{Error, Result};

type Item = HashMap<String, AttributeValue>;

const APP_SK: &str = "#APP";
const USER_SK: &str = "#USER";
const FAMILY_SK: &str = "#FAMILY";
const REFRESH_SK: &str = "#REFRESH";
const PUSH_SK: &str = "#PUSH";

/// Attempts of one optimistic update before giving up (each re-reads the user).
const UPDATE_ATTEMPTS: u32 = 5;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

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

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (table::PARTITION_KEY.to_owned(), s(pk)),
        (table::SORT_KEY.to_owned(), s(sk)),
    ])
}

fn app_pk(app_id: &str) -> String {
    format!("APP#{app_id}")
}

fn app_name_pk(org_name: &str, app_name: &str) -> String {
    format!("APPNAME#{org_name}#{app_name}")
}

fn user_pk(app_id: &str, key: &LoginKey) -> String {
    match key {
        LoginKey::UserId(id) => format!("USER#{app_id}#ID#{id}"),
        LoginKey::Username(name) => format!("USER#{app_id}#NAME#{name}"),
        LoginKey::Phone(phone) => format!("USER#{app_id}#PHONE#{phone}"),
        LoginKey::Email(email) => format!("USER#{app_id}#EMAIL#{email}"),
    }
}

/// Every key a user is stored under, id first, with the field name for conflicts.
fn user_keys(user: &User) -> Vec<(&'static str, String)> {
    let mut keys = vec![(
        "user_id",
        user_pk(&user.app_id, &LoginKey::UserId(user.user_id)),
    )];
    keys.extend(
        secondary_keys(user)
            .into_iter()
            .map(|(field, key)| (field, user_pk(&user.app_id, &key))),
    );
    keys
}

fn to_item(value: &impl Serialize, pk: String, sk: &str) -> Result<Item> {
    let mut item: Item =
        serde_dynamo::aws_sdk_dynamodb_1::to_item(value).map_err(Error::internal)?;
    item.extend(key(pk, sk));
    Ok(item)
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
        .map_err(|e| Error::internal(format!("stored item does not map: {e}")))
}

/// Why a transaction was cancelled, per item, as DynamoDB reports it.
fn cancellation_codes(
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

fn put_new(table: &str, item: Item) -> Result<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(Error::internal)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn at_revision(revision: i64) -> HashMap<String, AttributeValue> {
    HashMap::from([(":rev".to_owned(), AttributeValue::N(revision.to_string()))])
}

/// Outcome of one attempt at rewriting a user's copies.
enum Replace {
    Done,
    /// The user changed since it was read (or a concurrent transaction held an item).
    Stale,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `TABLE_NAME`, through a client from `config`.
    pub fn from_sdk_config(config: &aws_types::SdkConfig) -> Result<Self> {
        let table = std::env::var("TABLE_NAME")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| Error::internal("TABLE_NAME is not set"))?;
        Ok(Self::new(Client::new(config), table))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Opens the connection (DNS, TCP, TLS) during init so the first request does not
    /// pay for it. Uses GetItem, which every function is granted anyway.
    pub async fn warm_up(&self) {
        let outcome = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key("WARMUP".to_owned(), "#WARMUP")))
            .send()
            .await;
        if let Err(e) = outcome {
            tracing::warn!(error = %DisplayErrorContext(&e), "DynamoDB warm-up request failed");
        }
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>> {
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

    /// Rewrites every copy of `old` as `new` in one transaction: copies that stay are
    /// replaced only if still at `old.revision`; copies that go are deleted under the
    /// same condition; new copies must not exist yet (uniqueness).
    async fn replace_user(&self, old: &User, new: &User) -> Result<Replace> {
        let old_keys = user_keys(old);
        let new_keys = user_keys(new);
        let mut items = Vec::new();
        // (index in the transaction, field) of puts that claim a new unique key.
        let mut claims = Vec::new();
        for (field, pk) in &new_keys {
            let item = to_item(new, pk.clone(), USER_SK)?;
            if old_keys.iter().any(|(_, old_pk)| old_pk == pk) {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("revision = :rev")
                    .set_expression_attribute_values(Some(at_revision(old.revision)))
                    .build()
                    .map_err(Error::internal)?;
                items.push(TransactWriteItem::builder().put(put).build());
            } else {
                claims.push((items.len(), *field));
                items.push(put_new(&self.table, item)?);
            }
        }
        for (_, pk) in &old_keys {
            if !new_keys.iter().any(|(_, new_pk)| new_pk == pk) {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk.clone(), USER_SK)))
                    .condition_expression("revision = :rev")
                    .set_expression_attribute_values(Some(at_revision(old.revision)))
                    .build()
                    .map_err(Error::internal)?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
        }
        match self.transact(items).await? {
            None => Ok(Replace::Done),
            Some(codes) => {
                if let Some((_, field)) = claims
                    .iter()
                    .find(|(i, _)| codes.get(*i).is_some_and(|c| c == "ConditionalCheckFailed"))
                {
                    return Err(Error::Conflict(format!("{field} already taken")));
                }
                Ok(Replace::Stale)
            }
        }
    }

    /// Runs one transaction. `Ok(None)` when it committed; `Ok(Some(codes))` with the
    /// per-item cancellation reasons when a condition failed. Cancellations caused only
    /// by concurrent transactions on the same items (`TransactionConflict`) are retried
    /// with backoff, so a race ends with one winner and clear condition failures for the
    /// others rather than spurious errors.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Option<Vec<String>>> {
        let mut backoff = Duration::from_millis(20);
        for attempt in 1..=UPDATE_ATTEMPTS {
            let err = match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await
            {
                Ok(_) => return Ok(None),
                Err(err) => err,
            };
            let codes = cancellation_codes(&err);
            if codes.is_empty() {
                return Err(sdk_error("TransactWriteItems", err));
            }
            if codes.iter().any(|c| c == "ConditionalCheckFailed") {
                return Ok(Some(codes));
            }
            if attempt == UPDATE_ATTEMPTS {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        Err(Error::Unavailable(
            "TransactWriteItems: conflicting transactions".into(),
        ))
    }

    /// Creates items that must not exist yet, in one transaction; a cancelled item is
    /// reported as a conflict on its field.
    async fn create_all(&self, items: Vec<(&'static str, Item)>) -> Result<()> {
        let transaction = items
            .iter()
            .map(|(_, item)| put_new(&self.table, item.clone()))
            .collect::<Result<Vec<_>>>()?;
        match self.transact(transaction).await? {
            None => Ok(()),
            Some(codes) => {
                let field = codes
                    .iter()
                    .position(|c| c == "ConditionalCheckFailed")
                    .and_then(|i| items.get(i))
                    .map_or("key", |(field, _)| *field);
                Err(Error::Conflict(format!("{field} already taken")))
            }
        }
    }
}

fn family_pk(family_id: &str) -> String {
    format!("FAMILY#{family_id}")
}

fn refresh_pk(token_hash: &str) -> String {
    format!("REFRESH#{token_hash}")
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn values<const N: usize>(pairs: [(&str, AttributeValue); N]) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[async_trait]
impl AppDirectory for DynamoStore {
    async fn app_by_id(&self, app_id: &str) -> Result<Option<App>> {
        self.get(app_pk(app_id), APP_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn app_by_name(&self, org_name: &str, app_name: &str) -> Result<Option<App>> {
        self.get(app_name_pk(org_name, app_name), APP_SK)
            .await?
            .map(from_item)
            .transpose()
    }
}

#[async_trait]
impl CredentialLookup for DynamoStore {
    async fn find_user(&self, app_id: &str, key: &LoginKey) -> Result<Option<User>> {
        self.get(user_pk(app_id, key), USER_SK)
            .await?
            .map(from_item)
            .transpose()
    }
}

#[async_trait]
impl PasswordRehash for DynamoStore {
    async fn rehash_password(&self, user: &User, new_hash: &str) -> Result<bool> {
        let change = UserChange::Rehash {
            hash: new_hash.to_owned(),
        };
        let next = change.apply(user, user.modified_ms);
        Ok(matches!(
            self.replace_user(user, &next).await?,
            Replace::Done
        ))
    }
}

#[async_trait]
impl AppAdmin for DynamoStore {
    async fn create_app(&self, app: &App) -> Result<()> {
        self.create_all(vec![
            ("app_id", to_item(app, app_pk(&app.app_id), APP_SK)?),
            (
                "org_name/app_name",
                to_item(app, app_name_pk(&app.org_name, &app.app_name), APP_SK)?,
            ),
        ])
        .await
    }

    async fn update_app(&self, app_id: &str, change: &AppChange, now_ms: i64) -> Result<App> {
        self.change_app(app_id, change, now_ms).await
    }
}

#[async_trait]
impl UserAdmin for DynamoStore {
    async fn create_user(&self, user: &User) -> Result<()> {
        let items = user_keys(user)
            .into_iter()
            .map(|(field, pk)| Ok((field, to_item(user, pk, USER_SK)?)))
            .collect::<Result<Vec<_>>>()?;
        self.create_all(items).await
    }

    async fn update_user(
        &self,
        app_id: &str,
        user_id: i64,
        change: &UserChange,
        now_ms: i64,
    ) -> Result<User> {
        let mut backoff = Duration::from_millis(10);
        for _ in 0..UPDATE_ATTEMPTS {
            let current: User = self
                .find_user(app_id, &LoginKey::UserId(user_id))
                .await?
                .ok_or_else(|| Error::NotFound(format!("no user {user_id} in app {app_id}")))?;
            let next = change.apply(&current, now_ms);
            match self.replace_user(&current, &next).await? {
                Replace::Done => return Ok(next),
                Replace::Stale => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
            }
        }
        Err(Error::Unavailable(format!(
            "user {user_id} kept changing; update not applied"
        )))
    }
}

#[async_trait]
impl RefreshStore for DynamoStore {
    async fn open_family(&self, family: &RefreshFamily, first: &RefreshRecord) -> Result<Rotation> {
        let marker: Item = HashMap::from([
            ("revoked".to_owned(), AttributeValue::Bool(false)),
            (table::TTL_ATTRIBUTE.to_owned(), n(family.expires_at)),
        ])
        .into_iter()
        .chain(key(family_pk(&family.family_id), FAMILY_SK))
        .collect();
        let items = vec![
            put_new(&self.table, marker)?,
            put_new(
                &self.table,
                to_item(first, refresh_pk(&first.token_hash), REFRESH_SK)?,
            )?,
        ];
        Ok(match self.transact(items).await? {
            None => Rotation::Rotated,
            Some(_) => Rotation::Reused,
        })
    }

    async fn find_refresh(&self, token_hash: &str) -> Result<Option<RefreshRecord>> {
        self.get(refresh_pk(token_hash), REFRESH_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn rotate_refresh(&self, old: &RefreshRecord, next: &RefreshRecord) -> Result<Rotation> {
        let mark_used = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(refresh_pk(&old.token_hash), REFRESH_SK)))
            .update_expression("SET used = :yes")
            .condition_expression("used = :no")
            .set_expression_attribute_values(Some(values([
                (":yes", AttributeValue::Bool(true)),
                (":no", AttributeValue::Bool(false)),
            ])))
            .build()
            .map_err(Error::internal)?;
        let family_live = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(family_pk(&old.family.family_id), FAMILY_SK)))
            .condition_expression("revoked = :no")
            .set_expression_attribute_values(Some(values([(":no", AttributeValue::Bool(false))])))
            .build()
            .map_err(Error::internal)?;
        let items = vec![
            TransactWriteItem::builder().update(mark_used).build(),
            TransactWriteItem::builder()
                .condition_check(family_live)
                .build(),
            put_new(
                &self.table,
                to_item(next, refresh_pk(&next.token_hash), REFRESH_SK)?,
            )?,
        ];
        Ok(match self.transact(items).await? {
            None => Rotation::Rotated,
            Some(codes) if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") => {
                Rotation::Reused
            }
            Some(_) => Rotation::Revoked,
        })
    }

    async fn revoke_family(&self, family: &RefreshFamily) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(family_pk(&family.family_id), FAMILY_SK)))
            .update_expression("SET revoked = :yes, #ttl = :exp")
            .expression_attribute_names("#ttl", table::TTL_ATTRIBUTE)
            .set_expression_attribute_values(Some(values([
                (":yes", AttributeValue::Bool(true)),
                (":exp", n(family.expires_at)),
            ])))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        Ok(())
    }
}

fn push_pk(key: &PushKey) -> String {
    format!(
        "PUSH#{}#{}#{}#{}",
        key.app_id,
        key.kind.as_str(),
        key.channel,
        crate::auth::refresh::hash_token(&key.push_token)
    )
}

fn push_owner_pk(app_id: &str, user_id: i64, kind: PushKind) -> String {
    format!("PUSHUSER#{app_id}#{user_id}#{}", kind.as_str())
}

fn push_owner_sk(registration: &PushRegistration) -> String {
    format!(
        "{}#{}",
        registration.channel,
        crate::auth::refresh::hash_token(&registration.push_token)
    )
}

impl DynamoStore {
    fn push_owner_key(registration: &PushRegistration) -> Item {
        let mut k = key(
            push_owner_pk(
                &registration.app_id,
                registration.user_id,
                registration.kind,
            ),
            "",
        );
        k.insert(table::SORT_KEY.to_owned(), s(push_owner_sk(registration)));
        k
    }

    /// The registration item, written only if it is still at `current`'s revision (or
    /// absent when `current` is none).
    fn put_push(
        &self,
        current: Option<&PushRegistration>,
        next: &PushRegistration,
    ) -> Result<TransactWriteItem> {
        let item = to_item(next, push_pk(&next.key()), PUSH_SK)?;
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match current {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(current) => put
                .condition_expression("revision = :rev")
                .set_expression_attribute_values(Some(at_revision(current.revision))),
        };
        Ok(TransactWriteItem::builder()
            .put(put.build().map_err(Error::internal)?)
            .build())
    }

    fn delete_push(&self, registration: &PushRegistration) -> Result<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(push_pk(&registration.key()), PUSH_SK)))
            .condition_expression("revision = :rev")
            .set_expression_attribute_values(Some(at_revision(registration.revision)))
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    fn delete_owner_copy(&self, registration: &PushRegistration) -> Result<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::push_owner_key(registration)))
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

#[async_trait]
impl PushStore for DynamoStore {
    async fn push_registration(&self, key: &PushKey) -> Result<Option<PushRegistration>> {
        self.get(push_pk(key), PUSH_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn user_push_registrations(
        &self,
        app_id: &str,
        user_id: i64,
        kind: PushKind,
    ) -> Result<Vec<PushRegistration>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(push_owner_pk(app_id, user_id, kind)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn save_push_registration(
        &self,
        current: Option<&PushRegistration>,
        next: &PushRegistration,
        evict: &[PushRegistration],
    ) -> Result<bool> {
        let owner_copy = to_item(next, String::new(), "")?
            .into_iter()
            .chain(Self::push_owner_key(next))
            .collect::<Item>();
        let mut items = vec![
            self.put_push(current, next)?,
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(owner_copy))
                        .build()
                        .map_err(Error::internal)?,
                )
                .build(),
        ];
        // Moved from another user: that user's copy goes in the same transaction.
        if let Some(previous) = current.filter(|c| c.user_id != next.user_id) {
            items.push(self.delete_owner_copy(previous)?);
        }
        for evicted in evict {
            items.push(self.delete_push(evicted)?);
            items.push(self.delete_owner_copy(evicted)?);
        }
        Ok(self.transact(items).await?.is_none())
    }

    async fn delete_push_registration(&self, registration: &PushRegistration) -> Result<bool> {
        let items = vec![
            self.delete_push(registration)?,
            self.delete_owner_copy(registration)?,
        ];
        Ok(self.transact(items).await?.is_none())
    }
}

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn record_device(
        &self,
        app_id: &str,
        user_id: i64,
        device_guid: &str,
        now_ms: i64,
    ) -> Result<()> {
        let mut item = key(format!("DEVICE#{app_id}#{user_id}"), "");
        item.insert(table::SORT_KEY.to_owned(), s(device_guid));
        item.insert("last_login_ms".to_owned(), n(now_ms));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }
}
