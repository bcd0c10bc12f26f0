//! A login spike reaches DynamoDB warm: it is a service that never stopped. DynamoDB
//! Local is a JVM whose just-in-time compiler starts cold, and compiling its request
//! path costs CPU on the cores the function instances need (measured, BENCHMARKS.md
//! §10: the first 600-login burst after start cost the emulator 2.2x the CPU of the
//! next). So before a burst is measured, the store is driven through a login's own two
//! requests, for a user of its own, and the burst measures the functions rather than the
//! emulator's compilation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use shared::auth::lockout::LockSubject;
use shared::clock::{Clock as _, SystemClock};
use shared::domain::LoginKey;
use shared::store::{CredentialLookup as _, DynamoStore, LockoutStore as _};
use tokio::task::JoinSet;

/// How many warm-up rounds run at once: enough to exercise DynamoDB Local's request
/// threads, few enough to leave its compiler threads a core.
const CONCURRENT_ROUNDS: usize = 4;

/// `rounds` x (GetItem of the user, UpdateItem of its lock record: what every login
/// costs) against `table`, for `user_id` of `app_id`. Returns how long it took.
pub async fn warm_up_store(
    table: &str,
    app_id: &str,
    user_id: i64,
    rounds: usize,
) -> Result<Duration> {
    let endpoint = integration::dynamo::endpoint()?;
    let client =
        integration::dynamo::client_for(&endpoint, &integration::dynamo::RequestLog::default())
            .await;
    let store = Arc::new(DynamoStore::new(client, table.to_owned()));
    let subject = Arc::new(LockSubject::Account {
        app_id: app_id.to_owned(),
        user_id,
    });
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for lane in 0..CONCURRENT_ROUNDS {
        let (store, subject, app_id) = (store.clone(), subject.clone(), app_id.to_owned());
        let lane_rounds =
            rounds / CONCURRENT_ROUNDS + usize::from(lane < rounds % CONCURRENT_ROUNDS);
        tasks.spawn(async move {
            for _ in 0..lane_rounds {
                store
                    .find_user(&app_id, &LoginKey::UserId(user_id))
                    .await?
                    .context("the warm-up user is not in the table")?;
                store.observe_lock(&subject, SystemClock.now_ms()).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(lane) = tasks.join_next().await {
        lane.context("a store warm-up task panicked")??;
    }
    Ok(started.elapsed())
}
