//! The AWS SDK configuration of the Lambda functions, built from the Lambda environment
//! without `aws-config`.
//!
//! Why not `aws_config::defaults()`: in a function it walks a provider chain (profile
//! files, SSO, web identity, ECS and IMDS endpoints) to arrive where Lambda already is:
//! region and credentials in environment variables. The chain and its STS client are
//! ~0.3 MB of every binary and part of every cold start. The operator CLI, which runs on
//! laptops and CI runners where that chain matters, keeps `aws-config` (see `cli`) and
//! passes it [`https_client`].
//!
//! TLS: rustls on `ring`, trusting only the Amazon Trust Services roots every AWS
//! endpoint chains to ([`TrustedRoots::Amazon`]). The SDK's default client would bring
//! aws-lc (1 MB of every binary, a slow C build) and, at each cold start, a scan of the
//! system's certificate directory (~3 ms on Debian) for roots no AWS endpoint uses.
//! `IMAUTH_TLS_ROOTS=native` adds the platform's roots, for an endpoint behind a TLS
//! proxy with a private CA.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

use crate::env::var as env;
use crate::error::{Error, Result};

/// Amazon Root CA 1–4 and Starfield Services Root G2, as PEM.
pub const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("../certs/amazon-trust-services.pem");

/// Which certificate authorities the HTTPS client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedRoots {
    /// The Amazon Trust Services roots only (the functions).
    Amazon,
    /// Those plus the platform's roots (the CLI, or `IMAUTH_TLS_ROOTS=native`).
    AmazonAndNative,
}

impl TrustedRoots {
    /// `IMAUTH_TLS_ROOTS`: unset or `amazon`, or `native`.
    pub fn from_env() -> Result<Self> {
        match env("IMAUTH_TLS_ROOTS").as_deref().map(str::trim) {
            None | Some("amazon") => Ok(Self::Amazon),
            Some("native") => Ok(Self::AmazonAndNative),
            Some(other) => Err(Error::internal(format!(
                "IMAUTH_TLS_ROOTS={other:?}: expected amazon or native"
            ))),
        }
    }
}

/// The HTTPS client every SDK client of this project uses.
pub fn https_client(roots: TrustedRoots) -> SharedHttpClient {
    let trust = TrustStore::empty()
        .with_native_roots(roots == TrustedRoots::AmazonAndNative)
        .with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS.as_bytes());
    // TlsContextBuilder::build cannot fail today; should it start to, fall back to the
    // SDK's default context (native roots) rather than refusing to start.
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .unwrap_or_default();
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(context)
        .build_https()
}

/// Bounded timeouts and the standard retry mode (3 attempts with backoff), so a throttled
/// or unreachable service answers 503 within seconds instead of hanging the function.
pub fn service_limits() -> (RetryConfig, TimeoutConfig) {
    (
        RetryConfig::standard().with_max_attempts(3),
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(3))
            .operation_timeout(Duration::from_secs(10))
            .build(),
    )
}

/// Endpoint overrides from the environment, as the SDK's own loader reads them:
/// `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_DYNAMODB`,
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER`), then `AWS_ENDPOINT_URL`.
#[derive(Debug)]
struct EnvEndpoints;

impl LoadServiceConfig for EnvEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key
            .service_id()
            .to_ascii_uppercase()
            .replace([' ', '-'], "_");
        env(&format!("{}_{service}", key.env())).or_else(|| env(key.env()))
    }
}

/// The SDK configuration of a function, from what Lambda puts in its environment:
/// `AWS_REGION` (or `AWS_DEFAULT_REGION`), the execution role's `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (valid for the execution
/// environment's life), and optional endpoint overrides (DynamoDB Local, tests).
pub fn lambda_sdk_config() -> Result<SdkConfig> {
    let region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .ok_or_else(|| Error::internal("AWS_REGION is not set"))?;
    let (Some(access_key), Some(secret_key)) =
        (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
    else {
        return Err(Error::internal(
            "AWS credentials are not in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
        ));
    };
    let credentials = Credentials::new(
        access_key,
        secret_key,
        env("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let (retry, timeout) = service_limits();
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client(TrustedRoots::from_env()?))
        .retry_config(retry)
        .timeout_config(timeout)
        .service_config(EnvEndpoints);
    config.set_endpoint_url(env("AWS_ENDPOINT_URL"));
    Ok(config.build())
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    use super::*;

    #[test]
    fn the_trust_store_is_the_five_amazon_roots_and_parses() {
        let roots: Vec<CertificateDer<'_>> =
            CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS.as_bytes())
                .collect::<std::result::Result<_, _>>()
                .unwrap();
        assert_eq!(roots.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        let (valid, invalid) = store.add_parsable_certificates(roots);
        assert_eq!((valid, invalid), (5, 0));
    }

    #[test]
    fn endpoint_overrides_read_the_service_variable_first() {
        let key = |service| {
            ServiceConfigKey::builder()
                .service_id(service)
                .env("IMAUTH_TEST_ENDPOINT")
                .profile("endpoint_url")
                .build()
                .unwrap()
        };
        // Distinct names per case: tests run in parallel threads of one process.
        // SAFETY: no other test reads or writes these variables.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("IMAUTH_TEST_ENDPOINT_SECRETS_MANAGER", "http://127.0.0.1:1");
            std::env::set_var("IMAUTH_TEST_ENDPOINT", "http://127.0.0.1:2");
        }
        assert_eq!(
            EnvEndpoints.load_config(key("Secrets Manager")).as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(
            EnvEndpoints.load_config(key("DynamoDB")).as_deref(),
            Some("http://127.0.0.1:2")
        );
    }
}
