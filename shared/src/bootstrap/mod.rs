//! Starting a process: settings into keys, a store and [`Services`] (the same code for
//! a Lambda function and `imauth serve`), and the Lambda runtime loop.

mod keys;

use std::convert::Infallible;
use std::sync::Arc;

use aws_types::SdkConfig;

use crate::config::{Settings, StoreKind};
use crate::error::{Error, Result};
use crate::http::{Route, handle, not_found};
use crate::service::seed::SeedFile;
use crate::service::{Crypto, Services};
use crate::store::{DynamoStore, EmbeddedStore};

pub use keys::{keys_from_secret, public_keys_from_secret};

/// The store a process serves, as built from its settings.
#[derive(Clone)]
pub enum Store {
    Embedded(Arc<EmbeddedStore>),
    Dynamo(Arc<DynamoStore>),
}

impl Store {
    /// Every service over this store.
    pub fn services(self, crypto: Arc<Crypto>) -> Services {
        match self {
            Self::Embedded(store) => Services::over(store, crypto),
            Self::Dynamo(store) => Services::over(store, crypto),
        }
    }
}

impl Settings {
    /// The embedded store, holding the seed file's apps and users if one is named.
    pub async fn embedded_store(&self, crypto: &Crypto) -> Result<EmbeddedStore> {
        match &self.seed_file {
            None => Ok(EmbeddedStore::new()),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::config(format!("reading seed file {}: {e}", path.display()))
                })?;
                SeedFile::parse(&text)?
                    .into_store(&crypto.hasher, crypto.clock.as_ref())
                    .await
            }
        }
    }

    /// The DynamoDB store over `sdk`, its connection opened here, during init, not by
    /// the first request.
    pub async fn dynamo_store(&self, sdk: &SdkConfig) -> Result<DynamoStore> {
        let store = DynamoStore::from_sdk_config(sdk, self.table()?);
        store.warm_up().await;
        Ok(store)
    }

    /// The services a function serving `routes` needs: no store client (and no
    /// connection warm-up) when none of its routes reads the store.
    ///
    /// A function that signs needs the private key set: with only the public one it
    /// refuses to start rather than answer its first login with a 500.
    ///
    /// A function that verifies passwords faults in argon2's work area meanwhile, on a
    /// blocking thread: init waits on the network (DynamoDB warm-up, key read) anyway,
    /// and the first login then hashes in memory already mapped (`work_area`).
    pub async fn build_services_for(&self, routes: &[Route]) -> Result<Services> {
        let policy = self.password_policy;
        let prefault = routes
            .iter()
            .any(|r| r.verifies_passwords())
            .then(|| tokio::task::spawn_blocking(move || policy.prefault_work_area()));
        let services = if routes.iter().any(|r| r.needs_store()) {
            self.build_services().await
        } else {
            let crypto = self.load_crypto(None).await;
            crypto.map(|crypto| Services::over(Arc::new(EmbeddedStore::new()), crypto))
        };
        if let Some(prefault) = prefault {
            // A failed prefault (a panic) only means the first login faults its own area.
            let _ = prefault.await;
        }
        let services = services?;
        if let Some(route) = routes.iter().find(|r| r.needs_private_keys())
            && !services.login.crypto().tokens.can_sign()
        {
            return Err(Error::config(format!(
                "{} signs tokens: it needs the private key set (IMAUTH_KEYS_SECRET_ARN), \
                 not only the public keys",
                route.path()
            )));
        }
        Ok(services)
    }

    /// Every service over the configured store.
    pub async fn build_services(&self) -> Result<Services> {
        let (crypto, store) = self.open(None).await?;
        Ok(store.services(crypto))
    }

    /// The keys and the configured store, built once: what [`Self::build_services`]
    /// runs the services over, and what `imauth serve` fills (`--demo`) before it does.
    /// `sdk`: the AWS configuration to reach DynamoDB with; by default the one a Lambda
    /// function's environment describes.
    pub async fn open(&self, sdk: Option<SdkConfig>) -> Result<(Arc<Crypto>, Store)> {
        Ok(match self.store {
            StoreKind::Embedded => {
                let crypto = self.load_crypto(None).await?;
                let store = self.embedded_store(&crypto).await?;
                (crypto, Store::Embedded(Arc::new(store)))
            }
            StoreKind::Dynamo => {
                // One SDK configuration (credentials, region, HTTP client) for both clients.
                // The key read and the DynamoDB warm-up go to different endpoints, so
                // they run at once: init waits for the slower, not for both.
                let sdk = match sdk {
                    Some(sdk) => sdk,
                    None => crate::aws::lambda_sdk_config()?,
                };
                let (crypto, store) =
                    tokio::join!(self.load_crypto(Some(&sdk)), self.dynamo_store(&sdk));
                (crypto?, Store::Dynamo(Arc::new(store?)))
            }
        })
    }
}

/// The Lambda runtime loop for a function's routes, over services built once at cold
/// start. A path outside `routes` (API Gateway misconfigured) is a 404.
pub async fn serve_lambda(
    services: &Services,
    routes: &'static [Route],
) -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_http::service_fn(
        move |req: lambda_http::Request| async move {
            let response = match Route::for_path(req.uri().path()) {
                Some(route) if routes.contains(&route) => handle(services, route, req).await,
                _ => not_found(req.uri().path()),
            };
            Ok::<_, Infallible>(response)
        },
    ))
    .await
}

/// What every function's `main` does: log setup, settings from the environment,
/// services, then the runtime loop. A bad configuration fails the cold start with a
/// clear log line rather than serving errors.
pub async fn run_function(routes: &'static [Route]) -> Result<(), lambda_http::Error> {
    crate::logging::init_logging();
    let services = match Settings::from_env() {
        Ok(settings) => settings.build_services_for(routes).await,
        Err(e) => Err(e),
    };
    let services = services.inspect_err(|e| {
        tracing::error!(error = %e, "configuration refused; not starting");
    })?;
    serve_lambda(&services, routes).await
}
