//! `imauth serve`: every route on one listener, through the same `shared::http::handle`
//! the Lambda functions run, so local behaviour is the deployed behaviour.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use shared::auth::tokens::random_id;
use shared::config::{Settings, StoreKind, parse_password_policy};
use shared::error::Error;
use shared::http::caller::ClientAddr;
use shared::http::request::MAX_BODY_BYTES;
use shared::http::{Route, Services, handle, not_found};
use shared::service::provision::{NewApp, NewUser, build_app, build_user};
use shared::store::{AppAdmin as _, EmbeddedStore, UserAdmin as _};

/// Where `serve` reads apps and users from.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreChoice {
    /// In-process, filled by --seed and --demo; gone when the process ends.
    Embedded,
    /// The DynamoDB table named by TABLE_NAME, through the standard AWS environment
    /// (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, credentials), as the Lambda functions.
    Dynamodb,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "\
With --store dynamodb, apps and users come from the table (create them with \
`imauth app create` and `imauth user create` or `imauth import`); --seed and --demo \
only fill the embedded store and are refused with dynamodb.")]
pub struct ServeArgs {
    /// Address to listen on (`sam local start-api` uses port 3000 too).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Where apps and users are read from.
    #[arg(long, value_enum, default_value_t = StoreChoice::Embedded)]
    pub store: StoreChoice,
    /// Apps and users to load (JSON; see README). Embedded store only.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Add a demo app and user and print a curl command that logs in. Embedded store only.
    #[arg(long)]
    pub demo: bool,
    /// Signing key set (JSON). Without it a key set is generated for this run.
    #[arg(long, env = "IMAUTH_KEYS_FILE")]
    pub keys: Option<PathBuf>,
    /// `owasp`, `m=KIB,t=N,p=N`, or `insecure-fast` (local testing only; with dynamodb
    /// only against a loopback endpoint such as DynamoDB Local).
    #[arg(long, env = "IMAUTH_PASSWORD_POLICY", default_value = "owasp")]
    pub password_policy: String,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let store_kind = match args.store {
        StoreChoice::Embedded => StoreKind::Embedded,
        StoreChoice::Dynamodb => StoreKind::Dynamo,
    };
    if store_kind == StoreKind::Dynamo {
        if args.seed.is_some() || args.demo {
            bail!(
                "--seed and --demo only fill the embedded store; with --store dynamodb create \
                 apps and users in the table with `imauth app create` / `imauth user create` / `imauth import`"
            );
        }
        if std::env::var("TABLE_NAME").map_or(true, |t| t.trim().is_empty()) {
            bail!("--store dynamodb serves the table named by TABLE_NAME, which is not set");
        }
    }
    let settings = Settings {
        store: store_kind,
        seed_file: args.seed.clone(),
        keys_file: args.keys.clone(),
        password_policy: parse_password_policy(&args.password_policy)?,
        ..Settings::default()
    };
    let crypto = settings.crypto()?;
    let (services, demo) = match store_kind {
        StoreKind::Embedded => {
            let store = settings.embedded_store(&crypto).await?;
            let demo = if args.demo {
                Some(add_demo(&store, &crypto).await?)
            } else {
                None
            };
            (Services::over(Arc::new(store), crypto), demo)
        }
        StoreKind::Dynamo => (
            Services::over(
                Arc::new(Settings::dynamo_store(&crate::common::sdk_config().await).await?),
                crypto,
            ),
            None,
        ),
    };
    // Many requests share this process: argon2 runs on one dedicated thread per core,
    // each with its own work area, so memory is bounded however many logins queue.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let services = Arc::new(services.with_hashing_pool(cores)?);

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "imauth serve listening");
    eprintln!("imauth serving on http://{local}");
    if let Some(password) = demo {
        println!(
            "curl -s -X POST http://{local}/token/id -H 'app_id: demo' -H 'content-type: application/json' -d '{{\"user_id\":10001,\"password\":\"{password}\"}}'"
        );
    }

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("shutting down");
                return Ok(());
            }
        };
        let services = services.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let services = services.clone();
                async move { Ok::<_, Infallible>(route(&services, peer, req).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// Finds the route for the path, reads the body (bounded), and hands the request to the
/// shared handler as a `lambda_http::Request`.
async fn route(
    services: &Services,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let Some(route) = Route::for_path(req.uri().path()) else {
        return into_hyper(not_found(req.uri().path()));
    };
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(ClientAddr(peer.ip()));
    let body = match Limited::new(body, MAX_BODY_BYTES + 1).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return into_hyper(route.error_response(Error::PayloadTooLarge(MAX_BODY_BYTES))),
    };
    let body = if body.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Binary(body.to_vec())
    };
    into_hyper(handle(services, route, http::Request::from_parts(parts, body)).await)
}

fn into_hyper(response: http::Response<lambda_http::Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    hyper::Response::from_parts(parts, Full::new(Bytes::copy_from_slice(body.as_ref())))
}

/// The demo app and user; returns the user's generated password for the printed curl.
async fn add_demo(
    store: &EmbeddedStore,
    crypto: &shared::service::Crypto,
) -> anyhow::Result<String> {
    let (app, _) = build_app(NewApp {
        app_id: "demo".into(),
        org_name: Some("demo-org".into()),
        app_name: Some("demo-app".into()),
        ..NewApp::default()
    })?;
    store.create_app(&app).await?;
    let password = random_id::<12>()?;
    let user = build_user(
        NewUser {
            app_id: "demo".into(),
            user_id: 10001,
            username: "alice".into(),
            phone: Some("+8613800000000".into()),
            email: Some("alice@example.com".into()),
            password: password.clone(),
            activated: Some(true),
        },
        &crypto.hasher,
        crypto.clock.as_ref(),
    )?;
    store.create_user(&user).await?;
    Ok(password)
}
