//! `imauth`: the operator binary. `serve` runs every route locally on one listener; the
//! other commands provision the DynamoDB table, apps and users.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod app;
mod common;
mod dev;
mod import;
mod keys;
mod serve;
mod table;
mod user;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "imauth",
    version,
    about = "imauth: IM login and device-registration backend",
    after_help = "\
DynamoDB is chosen only by the standard AWS environment (AWS_REGION, \
AWS_ENDPOINT_URL_DYNAMODB, the credentials chain) and the table by --table or TABLE_NAME; \
`keys` reaches Secrets Manager the same way (AWS_ENDPOINT_URL_SECRETS_MANAGER).

Exit status: 0 success; 1 error, with a one-line `error: ...` on stderr (bad arguments \
too); `import` exits 2 when some rows were bad."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route on one local listener (embedded store by default).
    Serve(serve::ServeArgs),
    /// The DynamoDB table.
    #[command(subcommand)]
    Table(table::TableCommand),
    /// Apps (tenants).
    #[command(subcommand)]
    App(app::AppCommand),
    /// Users of an app.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Import users from a CSV file (see `imauth import --help`).
    Import(import::ImportArgs),
    /// The token signing key set, in Secrets Manager or a local file.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Development stand-ins for AWS services (local runs, `sam local`).
    #[command(subcommand)]
    Dev(dev::DevCommand),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are not errors; every usage error is status 1, so that
            // 2 keeps its one meaning (`import`: some rows were bad).
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // `serve` logs JSON lines like the functions; the operator commands print their own
    // messages and log only when asked to (RUST_LOG).
    if matches!(cli.command, Command::Serve(_)) || std::env::var_os("RUST_LOG").is_some() {
        shared::logging::init_logging();
    }
    let outcome = match cli.command {
        Command::Serve(args) => serve::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Table(command) => table::run(command).await.map(|()| ExitCode::SUCCESS),
        Command::App(command) => app::run(command).await.map(|()| ExitCode::SUCCESS),
        Command::User(command) => user::run(command).await.map(|()| ExitCode::SUCCESS),
        Command::Import(args) => import::run(args).await,
        Command::Keys(command) => keys::run(command).await.map(|()| ExitCode::SUCCESS),
        Command::Dev(command) => dev::run(command).await.map(|()| ExitCode::SUCCESS),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Error chains from the AWS SDK can span lines; the message stays one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
