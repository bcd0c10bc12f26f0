//! The table definition, in one place: `imauth table create`, the test setup and (checked
//! by a test) `template.yaml` all use these values.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use super::sdk_error;
use crate::error::{Error, Result};

/// Partition key (string).
pub const PARTITION_KEY: &str = "pk";
/// Sort key (string).
pub const SORT_KEY: &str = "sk";
/// Unix-seconds attribute after which DynamoDB may delete an item. Reads treat an item
/// past this time as absent, since deletion can lag by days.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// On-demand billing: login spikes need no capacity planning.
pub const BILLING_MODE: BillingMode = BillingMode::PayPerRequest;

/// Creates the table (on-demand, `pk`/`sk` strings) and turns on TTL.
pub async fn create_table(client: &Client, table: &str) -> Result<()> {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(Error::internal)
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(Error::internal)
    };
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(attribute(PARTITION_KEY)?)
        .attribute_definitions(attribute(SORT_KEY)?)
        .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key(SORT_KEY, KeyType::Range)?)
        .billing_mode(BILLING_MODE)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(CreateTableError::ResourceInUseException(_)) => {
                Error::Conflict(format!("table {table} already exists"))
            }
            _ => sdk_error("CreateTable", e),
        })?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(Error::internal)?,
        )
        .send()
        .await
        .map_err(|e| sdk_error("UpdateTimeToLive", e))?;
    Ok(())
}
