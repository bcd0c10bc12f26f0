//! Integration-test harness for imauth's Lambda functions.
//!
//! Tests run the real function binaries against a Lambda Runtime API (2018-06-01) served on
//! loopback, so they exercise the same bootstrap, long-polling and (de)serialisation path as
//! production instead of calling handlers in-process.

pub mod api_response;
pub mod browser;
mod capture;
pub mod client;
pub mod dynamo;
pub mod emf;
pub mod events;
pub mod fixtures;
pub mod operator;
pub mod outcome;
pub mod paths;
pub mod proc_status;
pub mod process;
pub mod runtime_api;
pub mod secrets;
pub mod serve;

// The harness's public paths predate its modules; the tests name them from the crate root.
pub use api_response::ApiResponse;
pub use outcome::{
    FailureKind, FunctionFailure, FunctionOutput, FunctionRun, Invocation, InvocationTimings,
};
pub use paths::{bin_dir_override, load_event, profile_binary, repo_root, workspace_binary};
pub use proc_status::proc_status_kib;
pub use process::{FunctionProcess, invoke_all};
pub use runtime_api::{
    ACCOUNT_ID, DEFAULT_INVOKE_TIMEOUT, REGION, RUNTIME_API_VERSION, RuntimeApi, RuntimeReport,
};

/// Runs each listed `async fn case(store: Arc<…>)` twice, as `embedded::case` on the
/// embedded store and as `dynamodb_local::case` on a fresh DynamoDB Local table: the one
/// way the suites prove both stores behave alike.
#[macro_export]
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(std::sync::Arc::new(shared::store::EmbeddedStore::new())).await;
                }
            )*
        }
        mod dynamodb_local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (store, _) = $crate::dynamo::fresh_store().await.unwrap();
                    super::$case(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}
