//! Development stand-ins for AWS services, for local runs (`imauth dev`, `sam local`)
//! and the integration tests. Nothing here is linked into a Lambda function.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod secrets_manager;
