//! `imauth import`: users from a CSV file, concurrently, idempotently.
//!
//! A reader thread parses and validates rows (cheap checks, duplicates within the file)
//! and hands good ones over a bounded channel; each good row then becomes a task that
//! (1) skips the row if its user id already exists, (2) hashes the password on the
//! blocking pool, at most one hash per core, (3) writes the user, with a bounded number
//! of DynamoDB requests in flight. Re-running the same file imports nothing twice.

use std::num::NonZero;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use serde_json::json;
use shared::domain::LoginKey;
use shared::error::Error;
use shared::retry::Backoff;
use shared::service::Crypto;
use shared::service::provision::{NewUser, build_user};
use shared::store::{AppDirectory as _, CredentialLookup as _, DynamoStore, UserAdmin as _};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::common::{PolicyArg, TableArg, describe, fail};
use progress::Progress;
use read::{count_rows, read_rows};

mod progress;
mod read;

const COLUMNS: [&str; 5] = ["user_id", "username", "phone", "email", "password"];
/// A row whose store request failed transiently (after the SDK's own retries) is tried
/// twice more, 200 ms and then 800 ms later.
const ROW_RETRY: Backoff = Backoff {
    attempts: 3,
    first_delay: Duration::from_millis(200),
    factor: 4,
};
/// Store failures in a row (not bad data) after which the import gives up: DynamoDB is
/// down or refusing us, and a line per remaining row would help no one.
const MAX_CONSECUTIVE_FAILURES: u64 = 20;
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(1);

#[derive(clap::Args, Debug)]
#[command(after_help = "\
CSV: a header line `user_id,username,phone,email,password`, then one user per line; \
phone and email may be empty. Fields are validated as `imauth user create` does.

Bad rows are reported on stderr as `line N: reason` (N counts lines of the file; the \
header is line 1) and skipped; the import goes on. A row whose user id already exists \
is counted as already present, so re-running a file imports nothing twice; a username, \
phone or email held by a different user is a bad row.

Output: progress on stderr (a bar on a terminal, otherwise a line at most every second), \
a one-line summary on stderr, and on stdout \
{\"imported\":N,\"already_present\":N,\"bad_rows\":N,\"seconds\":F,\"rows_per_second\":F} \
(rows_per_second counts every data row, whatever its outcome).

Exit status: 0 every row imported or already present; 2 some rows were bad (the others \
were imported); 1 error (unreadable file, bad header, unknown app, DynamoDB unavailable).")]
pub struct ImportArgs {
    #[command(flatten)]
    pub table: TableArg,
    #[command(flatten)]
    pub policy: PolicyArg,
    /// The app the users belong to (must exist).
    #[arg(long)]
    pub app_id: String,
    /// The CSV file.
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// Passwords hashed at once [default: the number of CPU cores].
    #[arg(long, value_name = "N")]
    pub hashers: Option<NonZero<usize>>,
    /// DynamoDB requests in flight at once.
    #[arg(long, value_name = "N", default_value = "32")]
    pub writers: NonZero<usize>,
}

/// One data row, as the reader judged it.
enum Row {
    Good { line: u64, user: Box<NewUser> },
    Bad { line: u64, reason: String },
}

enum Outcome {
    Imported,
    AlreadyPresent,
    /// The row is wrong (or clashes with another user): fixing the file fixes it.
    Bad(String),
    /// The store failed; re-running may fix it.
    Failed(String),
}

#[derive(Default)]
struct Tally {
    imported: u64,
    already_present: u64,
    bad: u64,
    consecutive_failures: u64,
    last_failure: String,
}

impl Tally {
    fn rows(&self) -> u64 {
        self.imported + self.already_present + self.bad
    }
}

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let crypto = args.policy.crypto()?;
    let store = args.table.store().await?;
    let started = Instant::now();
    // Checked once here instead of once per row.
    if store.app_by_id(&args.app_id).await.map_err(fail)?.is_none() {
        bail!(
            "unknown app: app_id {:?} names no app in table {}",
            args.app_id,
            store.table()
        );
    }
    let path = args.file.clone();
    let total = tokio::task::spawn_blocking(move || count_rows(&path))
        .await
        .context("counting rows")??;

    let hashers = args.hashers.map_or_else(
        || std::thread::available_parallelism().map_or(1, NonZero::get),
        NonZero::get,
    );
    let writers = args.writers.get();
    // Enough rows in flight to keep every hasher and writer busy, few enough to bound
    // memory whatever the file size.
    let max_in_flight = 2 * (hashers + writers);
    let ctx = Arc::new(Ctx {
        store,
        crypto,
        cpu: Semaphore::new(hashers),
        io: Semaphore::new(writers),
    });

    let (tx, mut rx) = mpsc::channel(1024);
    let (path, app_id) = (args.file.clone(), args.app_id.clone());
    let reader = tokio::task::spawn_blocking(move || read_rows(&path, &app_id, &tx));

    let mut progress = Progress::new(total);
    let mut tally = Tally::default();
    let mut tasks = JoinSet::new();
    let mut eof = false;
    loop {
        tokio::select! {
            row = rx.recv(), if !eof && tasks.len() < max_in_flight => match row {
                None => eof = true,
                Some(Row::Bad { line, reason }) => {
                    progress.line(&format!("line {line}: {reason}"));
                    tally.bad += 1;
                    progress.advance(&tally);
                }
                Some(Row::Good { line, user }) => {
                    let ctx = Arc::clone(&ctx);
                    tasks.spawn(async move { (line, import_row(&ctx, *user).await) });
                }
            },
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                let (line, outcome) = joined.map_err(|e| anyhow!("an import task failed: {e}"))?;
                record(&mut tally, &progress, line, outcome);
                progress.advance(&tally);
                if tally.consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
                    tasks.abort_all();
                    progress.finish();
                    bail!(
                        "giving up after {MAX_CONSECUTIVE_FAILURES} store failures in a row \
                         (last: {}); {} rows were imported, re-run the import to continue",
                        tally.last_failure,
                        tally.imported
                    );
                }
            },
            else => break,
        }
    }
    progress.finish();
    let read = reader.await.context("the CSV reader failed")?;

    let seconds = started.elapsed().as_secs_f64();
    let rate = if seconds > 0.0 {
        tally.rows() as f64 / seconds
    } else {
        0.0
    };
    eprintln!(
        "import: {} imported, {} already present, {} bad rows; {} rows in {seconds:.2} s ({rate:.0} rows/s)",
        tally.imported,
        tally.already_present,
        tally.bad,
        tally.rows()
    );
    println!(
        "{}",
        json!({
            "imported": tally.imported,
            "already_present": tally.already_present,
            "bad_rows": tally.bad,
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "rows_per_second": (rate * 10.0).round() / 10.0,
        })
    );
    read.context("reading the CSV file stopped early; rows after that were not imported")?;
    Ok(if tally.bad > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn record(tally: &mut Tally, progress: &Progress, line: u64, outcome: Outcome) {
    match outcome {
        Outcome::Imported => {
            tally.imported += 1;
            tally.consecutive_failures = 0;
        }
        Outcome::AlreadyPresent => {
            tally.already_present += 1;
            tally.consecutive_failures = 0;
        }
        Outcome::Bad(reason) => {
            progress.line(&format!("line {line}: {reason}"));
            tally.bad += 1;
            tally.consecutive_failures = 0;
        }
        Outcome::Failed(reason) => {
            progress.line(&format!(
                "line {line}: not imported: {reason} (re-run the import to retry it)"
            ));
            tally.bad += 1;
            tally.consecutive_failures += 1;
            tally.last_failure = reason;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Importing one row
// ---------------------------------------------------------------------------------------

struct Ctx {
    store: DynamoStore,
    crypto: Arc<Crypto>,
    /// Password hashes running (CPU-bound, on the blocking pool).
    cpu: Semaphore,
    /// DynamoDB requests in flight.
    io: Semaphore,
}

impl Ctx {
    async fn user_exists(&self, app_id: &str, user_id: i64) -> shared::Result<bool> {
        ROW_RETRY
            .run_while_unavailable(|| async move {
                let _permit = self.io.acquire().await.map_err(Error::internal)?;
                self.store
                    .find_user(app_id, &LoginKey::UserId(user_id))
                    .await
                    .map(|found| found.is_some())
            })
            .await
    }
}

async fn import_row(ctx: &Ctx, new: NewUser) -> Outcome {
    let app_id = new.app_id.clone();
    let user_id = new.user_id;
    // A re-run skips imported rows before paying for a hash.
    match ctx.user_exists(&app_id, user_id).await {
        Ok(true) => return Outcome::AlreadyPresent,
        Ok(false) => {}
        Err(e) => return Outcome::Failed(describe(&e)),
    }
    let user = {
        let _permit = match ctx.cpu.acquire().await {
            Ok(permit) => permit,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let crypto = Arc::clone(&ctx.crypto);
        match tokio::task::spawn_blocking(move || {
            build_user(new, &crypto.hasher, crypto.clock.as_ref())
        })
        .await
        {
            Ok(Ok(user)) => user,
            Ok(Err(Error::BadRequest(reason))) => return Outcome::Bad(reason),
            Ok(Err(e)) => return Outcome::Failed(describe(&e)),
            Err(e) => return Outcome::Failed(format!("hashing failed: {e}")),
        }
    };
    let user = &user;
    let written = ROW_RETRY
        .run_while_unavailable(|| async move {
            let _permit = ctx.io.acquire().await.map_err(Error::internal)?;
            ctx.store.create_user(user).await
        })
        .await;
    match written {
        Ok(()) => Outcome::Imported,
        // Nothing was written. If the user id is taken, this user is already there (a
        // concurrent import, or a race with the check above); otherwise another user
        // holds the username, phone or email.
        Err(Error::Conflict(what)) => match ctx.user_exists(&app_id, user_id).await {
            Ok(true) => Outcome::AlreadyPresent,
            Ok(false) => Outcome::Bad(format!("{what} by another user")),
            Err(e) => Outcome::Failed(describe(&e)),
        },
        Err(Error::BadRequest(reason)) => Outcome::Bad(reason),
        Err(e) => Outcome::Failed(describe(&e)),
    }
}
