//! imauth's shared crate: the domain, credentials and tokens, the store seam, the use
//! cases, and the HTTP handlers every Lambda function and `imauth serve` run.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod auth;
pub mod aws;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod domain;
pub mod env;
pub mod error;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod retry;
pub mod service;
pub mod store;

pub use error::{Error, Result};
