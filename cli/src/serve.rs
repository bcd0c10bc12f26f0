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
use shared::bootstrap::Store;
use shared::config::{Settings, StoreKind, parse_password_policy};
use shared::error::Error;
use shared::http::caller::ClientAddr;
use shared::http::cors::CorsPolicy;
use shared::http::request::MAX_BODY_BYTES;
use shared::http::{Route, Services, handle, not_found};
use shared::service::provision::{NewApp, NewUser, build_app, build_user};
use shared::store::{AppAdmin as _, EmbeddedStore, UserAdmin as _};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
With --store dynamodb, apps and users come from the table (create them with \
`imauth app create` and `imauth user create` or `imauth import`); --seed and --demo \
only fill the embedded store and are refused with dynamodb.")]
pub struct ServeArgs {
    /// Address to listen on (`sam local start-api` uses port 3000 too).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Where apps and users are read from: `embedded` (in-process, filled by --seed and
    /// --demo, gone when the process ends) or `dynamodb` (the table named by --table,
    /// through the standard AWS environment, as the Lambda functions).
    #[arg(long, default_value = "embedded", value_name = "embedded|dynamodb")]
    pub store: StoreKind,
    /// The DynamoDB table (with --store dynamodb).
    #[arg(long, env = "TABLE_NAME", value_name = "NAME")]
    pub table: Option<String>,
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
    /// Let pages from this origin call the API (repeatable; `*` for any): preflights are
    /// answered as API Gateway answers them with the template's CorsAllowedOrigins
    /// (docs/web-clients.md). Without it, browsers refuse cross-origin calls.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    if args.store == StoreKind::Dynamo && (args.seed.is_some() || args.demo) {
        bail!(
            "--seed and --demo only fill the embedded store; with --store dynamodb create \
             apps and users in the table with `imauth app create` / `imauth user create` / `imauth import`"
        );
    }
    let cors = Arc::new(CorsPolicy::new(&args.cors_origins)?);
    let settings = Settings {
        store: args.store,
        table_name: args.table.clone().filter(|t| !t.trim().is_empty()),
        seed_file: args.seed.clone(),
        keys_file: args.keys.clone(),
        password_policy: parse_password_policy(&args.password_policy)?,
        ..Settings::default()
    };
    // The operator's AWS configuration (full credentials chain), else the same start
    // as a Lambda function's.
    let sdk = match args.store {
        StoreKind::Dynamo => Some(crate::common::sdk_config().await),
        StoreKind::Embedded => None,
    };
    let (crypto, store) = settings.open(sdk).await?;
    let demo = match (&store, args.demo) {
        (Store::Embedded(store), true) => Some(add_demo(store, &crypto).await?),
        _ => None,
    };
    let services = store.services(crypto);
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
        let cors = cors.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let services = services.clone();
                let cors = cors.clone();
                async move { Ok::<_, Infallible>(answer(&services, &cors, peer, req).await) }
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

/// What API Gateway's CORS configuration does in front of the functions: a preflight is
/// answered here, and the route's answer to an allowed origin gets the CORS headers.
async fn answer(
    services: &Services,
    cors: &CorsPolicy,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    if Route::for_path(req.uri().path()).is_some()
        && let Some(preflight) = cors.preflight(req.method(), req.headers())
    {
        return into_hyper(preflight);
    }
    let request_headers = req.headers().clone();
    let mut response = route(services, peer, req).await;
    cors.decorate(&request_headers, response.headers_mut());
    response
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
