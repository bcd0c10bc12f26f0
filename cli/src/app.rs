//! `imauth app create|show|list|update|rotate-secret`. Output is the app as JSON, never the client
//! secret's hash; a client secret is printed once, when it is made.

use serde_json::{Value, json};
use shared::clock::SystemClock;
use shared::domain::App;
use shared::service::admin;
use shared::service::provision::NewApp;
use shared::store::AppSettings;

use crate::common::{TableArg, fail, print_json};

#[derive(clap::Subcommand, Debug)]
pub enum AppCommand {
    /// Create an app. Prints it as JSON with a generated client_secret, shown only this
    /// once: only its SHA-256 hash is stored.
    Create(CreateArgs),
    /// Show an app as JSON (never the client secret or its hash).
    Show(AppRef),
    /// List apps in app-id order, a page at a time: `{"apps": [...], "next": CURSOR}`;
    /// pass `next` as `--after` for the next page (`null` on the last one).
    List(ListArgs),
    /// Change an app's token lifetimes or connection settings; prints the app. The rules
    /// of `app create` hold for the result. Tokens already issued keep their lifetime.
    Update(UpdateArgs),
    /// Issue a new client secret (printed once, stored only as its hash). The old secret
    /// stops getting app tokens, and every app token issued before is refused.
    RotateSecret(AppRef),
}

#[derive(clap::Args, Debug)]
pub struct AppRef {
    #[command(flatten)]
    pub table: TableArg,
    #[arg(long)]
    pub app_id: String,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub table: TableArg,
    /// Apps per page (1 to 1000).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// List the apps after this app id (the `next` of the previous page).
    #[arg(long, value_name = "APP_ID")]
    pub after: Option<String>,
}

#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(true))]
pub struct UpdateArgs {
    #[command(flatten)]
    pub table: TableArg,
    #[arg(long)]
    pub app_id: String,
    /// Default token lifetime in seconds (1 to one year; at most --max-token-ttl).
    #[arg(long, value_name = "SECS", group = "change")]
    pub token_ttl: Option<u64>,
    /// Longest `ttl` a client may ask for on the Easemob route (from the token ttl to ten
    /// years).
    #[arg(long, value_name = "SECS", group = "change")]
    pub max_token_ttl: Option<u64>,
    /// `encrypt_type` handed to clients.
    #[arg(long, value_name = "N", group = "change")]
    pub encrypt_type: Option<i32>,
    /// `public_key` handed to clients for the encrypted connection (`""` removes it).
    #[arg(long, value_name = "K", group = "change")]
    pub public_key: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    pub table: TableArg,
    /// The app id (letters, digits, '_', '-', '.'; at most 64).
    #[arg(long)]
    pub app_id: String,
    /// Org name for the Easemob-style routes (default: the app id).
    #[arg(long)]
    pub org_name: Option<String>,
    /// App name for the Easemob-style routes (default: the app id).
    #[arg(long)]
    pub app_name: Option<String>,
    /// Default token lifetime in seconds (default 86400; at most one year).
    #[arg(long, value_name = "SECS")]
    pub token_ttl: Option<u64>,
    /// Longest `ttl` a client may ask for on the Easemob route, user and app tokens
    /// alike (default 2592000, 30 days; from --token-ttl to ten years).
    #[arg(long, value_name = "SECS")]
    pub max_token_ttl: Option<u64>,
    /// `encrypt_type` handed to clients (default 0).
    #[arg(long, value_name = "N")]
    pub encrypt_type: Option<i32>,
    /// `public_key` handed to clients for the encrypted connection.
    #[arg(long, value_name = "K")]
    pub public_key: Option<String>,
    /// Allow tokens that never expire (`ttl: 0`) on the Easemob route.
    #[arg(long)]
    pub allow_non_expiring: bool,
    /// Client id (default: `<app-id>-<random>`).
    #[arg(long)]
    pub client_id: Option<String>,
    /// Default `bundleid` of push registrations (reverse DNS, e.g. com.example.chat).
    #[arg(long)]
    pub bundle_id: Option<String>,
}

pub async fn run(command: AppCommand) -> anyhow::Result<()> {
    match command {
        AppCommand::Create(args) => create(args).await,
        AppCommand::Show(args) => show(args).await,
        AppCommand::List(args) => list(args).await,
        AppCommand::Update(args) => update(args).await,
        AppCommand::RotateSecret(args) => rotate_secret(args).await,
    }
}

/// The app as the operator sees it: everything but the client secret's hash.
fn app_json(app: &App) -> Value {
    json!({
        "app_id": app.app_id,
        "org_name": app.org_name,
        "app_name": app.app_name,
        "encrypt_type": app.encrypt_type,
        "public_key": app.public_key,
        "token_ttl": app.token_ttl,
        "max_token_ttl": app.max_token_ttl,
        "allow_non_expiring": app.allow_non_expiring,
        "client_id": app.client_id,
        "bundle_id": app.bundle_id,
        "app_tokens_valid_after": app.app_tokens_valid_after,
    })
}

/// Prints `app` with its new client secret, and says on stderr it is shown only once.
fn print_with_secret(app: &App, secret: Option<String>) -> anyhow::Result<()> {
    let mut shown = app_json(app);
    shown["client_secret"] = json!(secret);
    print_json(&shown)?;
    if secret.is_some() {
        eprintln!(
            "the client_secret above is shown only this once: only its hash is stored, so keep it now"
        );
    }
    Ok(())
}

async fn show(args: AppRef) -> anyhow::Result<()> {
    let store = args.table.store().await?;
    let app = admin::find_app(&store, &args.app_id).await.map_err(fail)?;
    print_json(&app_json(&app))
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let store = args.table.store().await?;
    let (apps, next) = admin::list_apps(&store, args.after.as_deref(), args.limit)
        .await
        .map_err(fail)?;
    print_json(&json!({
        "apps": apps.iter().map(app_json).collect::<Vec<_>>(),
        "next": next,
    }))
}

async fn update(args: UpdateArgs) -> anyhow::Result<()> {
    let store = args.table.store().await?;
    let settings = AppSettings {
        token_ttl: args.token_ttl,
        max_token_ttl: args.max_token_ttl,
        encrypt_type: args.encrypt_type,
        public_key: args.public_key,
    };
    let app = admin::update_app_settings(&store, &SystemClock, &args.app_id, settings)
        .await
        .map_err(fail)?;
    print_json(&app_json(&app))
}

async fn rotate_secret(args: AppRef) -> anyhow::Result<()> {
    let store = args.table.store().await?;
    let (app, secret) = admin::rotate_client_secret(&store, &SystemClock, &args.app_id)
        .await
        .map_err(fail)?;
    print_with_secret(&app, Some(secret))
}

async fn create(args: CreateArgs) -> anyhow::Result<()> {
    let store = args.table.store().await?;
    let new = NewApp {
        app_id: args.app_id,
        org_name: args.org_name,
        app_name: args.app_name,
        client_id: args.client_id,
        client_secret: None,
        encrypt_type: args.encrypt_type,
        public_key: args.public_key,
        token_ttl: args.token_ttl,
        max_token_ttl: args.max_token_ttl,
        allow_non_expiring: Some(args.allow_non_expiring),
        bundle_id: args.bundle_id,
    };
    let (app, secret) = admin::create_app(&store, new).await.map_err(fail)?;
    print_with_secret(&app, secret)
}
