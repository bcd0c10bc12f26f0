//! DynamoDB Local for tests: the endpoint comes from the environment that
//! `scripts/dynamodb-local.sh run` (called by `scripts/test.sh`) sets; each test gets a
//! fresh table, so tests run in parallel without seeing each other's items.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result, bail};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::ConfigBag;
use shared::store::DynamoStore;
use shared::store::dynamo::table::create_table;

/// The DynamoDB Local endpoint, or an error telling how to get one. Tests that need it
/// fail (never skip) without it: `scripts/test.sh` always provides it.
pub fn endpoint() -> Result<String> {
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => bail!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with scripts/test.sh \
             (or scripts/dynamodb-local.sh run -- cargo nextest run)"
        ),
    }
}

/// Every HTTP request the SDK sends (retries included), by operation name.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<String>>>);

impl RequestLog {
    pub fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map_or("unknown", |m| m.name())
            .to_owned();
        if let Ok(mut log) = self.0.lock() {
            log.push(name);
        }
        Ok(())
    }
}

/// A client for `endpoint` with the store's production configuration (timeouts,
/// standard retries) plus the request log.
pub async fn client_for(endpoint: &str, log: &RequestLog) -> Client {
    let sdk = shared::aws::lambda_sdk_config().expect("the SDK configuration from the environment");
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .interceptor(log.clone())
        .build();
    Client::from_conf(config)
}

/// A store over a new, empty table in DynamoDB Local, and the log of its requests.
pub async fn fresh_store() -> Result<(DynamoStore, RequestLog)> {
    let log = RequestLog::default();
    let client = client_for(&endpoint()?, &log).await;
    let table = format!("imauth-test-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table)
        .await
        .with_context(|| format!("creating table {table}"))?;
    log.take();
    Ok((DynamoStore::new(client, table), log))
}

/// Every item of the store's table (a full Scan, all pages).
pub async fn scan_all(store: &DynamoStore) -> Result<Vec<HashMap<String, AttributeValue>>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = store
            .client()
            .scan()
            .table_name(store.table())
            .set_exclusive_start_key(start)
            .send()
            .await
            .context("scanning the table")?;
        items.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// Whether a stored value names a user: `user_id` as a `user_id` attribute (at any
/// depth) or in a key (`…#{user_id}`), or any of `needles` (its names, family ids,
/// token hashes…) anywhere in a string.
pub fn names_user(value: &AttributeValue, user_id: i64, needles: &[&str]) -> bool {
    let id = user_id.to_string();
    match value {
        AttributeValue::S(text) => {
            text.contains(&format!("#{id}")) || needles.iter().any(|n| text.contains(n))
        }
        AttributeValue::M(map) => map.iter().any(|(name, v)| {
            (name == "user_id" && v.as_n().is_ok_and(|n| *n == id))
                || names_user(v, user_id, needles)
        }),
        AttributeValue::L(list) => list.iter().any(|v| names_user(v, user_id, needles)),
        _ => false,
    }
}

/// The items of the table that name the user (see [`names_user`]).
pub async fn items_naming(
    store: &DynamoStore,
    user_id: i64,
    needles: &[&str],
) -> Result<Vec<HashMap<String, AttributeValue>>> {
    Ok(scan_all(store)
        .await?
        .into_iter()
        .filter(|item| names_user(&AttributeValue::M(item.clone()), user_id, needles))
        .collect())
}
