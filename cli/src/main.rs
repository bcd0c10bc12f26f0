//! `imauth`: the operator binary. `serve` runs every route locally on one listener.

mod serve;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "imauth",
    version,
    about = "imauth: IM login and device-registration backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route on one local listener (embedded store by default).
    Serve(serve::ServeArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::config::init_logging();
    match Cli::parse().command {
        Command::Serve(args) => serve::run(args).await,
    }
}
