//! `imauth table create`: the table for local development (DynamoDB Local). In AWS the
//! SAM template owns the table.

use anyhow::bail;
use shared::error::Error;
use shared::store::dynamo::table::create_table;

use crate::common::{TableArg, fail};

#[derive(clap::Subcommand, Debug)]
pub enum TableCommand {
    /// Create the table (on-demand, `pk`/`sk` keys, TTL on) — for DynamoDB Local; in AWS
    /// the SAM template creates it.
    Create(TableArg),
}

pub async fn run(command: TableCommand) -> anyhow::Result<()> {
    match command {
        TableCommand::Create(arg) => create(&arg).await,
    }
}

async fn create(arg: &TableArg) -> anyhow::Result<()> {
    let store = arg.store().await?;
    match create_table(store.client(), store.table()).await {
        Ok(()) => {
            eprintln!("created table {}", store.table());
            Ok(())
        }
        Err(Error::Conflict(message)) => bail!("{message}"),
        Err(e) => Err(fail(e).context(format!("creating table {}", store.table()))),
    }
}
