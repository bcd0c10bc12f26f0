//! The production store: one DynamoDB table, configured only from the standard AWS
//! environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, the credentials chain) and
//! the table its settings name. This module is the only place that knows `AttributeValue`.
//!
//! Key design (`pk`, `sk` are strings; see [`table`]):
//!
//! | pk                              | sk      | item                                   |
//! |---------------------------------|---------|----------------------------------------|
//! | `APP#{app_id}`                  | `#APP`  | the app                                |
//! | `APPNAME#{org_name}#{app_name}` | `#APP`  | a copy of the app (Easemob routes)     |
//! | `APPS`                          | `{app_id}` | a copy of the app, for `app list`   |
//! | `USER#{app_id}#ID#{user_id}`    | `#USER` | the user: credential, flags, revision  |
//! | `USER#{app_id}#NAME#{username}` | `#USER` | a full copy of the user                |
//! | `USER#{app_id}#PHONE#{phone}`   | `#USER` | a full copy of the user                |
//! | `USER#{app_id}#EMAIL#{email}`   | `#USER` | a full copy of the user                |
//! | `FAMILY#{family_id}`            | `#FAMILY` | a refresh family: `revoked`, TTL     |
//! | `REFRESH#{sha256(token)}`       | `#REFRESH` | a rotated refresh token: `used`, TTL |
//! | `PUSH#{app}#{kind}#{channel}#{sha256(token)}` | `#PUSH` | a push registration (owner) |
//! | `PUSHUSER#{app}#{user}#{kind}`  | `{channel}#{sha256(token)}` | the owner's copy, for listing |
//! | `DEVICE#{app}#{user}`           | `{device_guid}` | last login from that device      |
//! | `SESSIONS#{app}#{user}`         | `FAMILY#…` / `REFRESH#…` | the user's refresh items, for deleting the user |
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
mod keys;
mod lockout;
mod push;
mod removal;
mod sessions;
pub mod table;
mod transactions;
mod users;

use aws_sdk_dynamodb::Client;
use aws_smithy_types::error::display::DisplayErrorContext;

use keys::key;
pub(crate) use transactions::sdk_error;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// `table`, through a client from `config`.
    pub fn from_sdk_config(config: &aws_types::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
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
}
