//! Timing parity of failed logins on DynamoDB Local: an unknown user, a wrong password, a
//! locked account and a banned user with a wrong password must cost the same (the same
//! status and body are checked too), so that time tells an attacker nothing. Also shown:
//! a locked account given the right password, which is refused with the same answer.
//!
//! Each sample is one `POST /token/id` through the real handler (`shared::http::handle`)
//! over `DynamoStore`, in this process, argon2 at the OWASP policy inline (as a Lambda
//! runs it). Outcomes are interleaved: every round takes one sample of each, in a random
//! order, so drift of the machine or of DynamoDB Local hits all of them alike.
//!
//! ```sh
//! cargo build --release -p bench-tools --bin login-timing
//! scripts/dynamodb-local.sh run -- target/release/login-timing --samples 60
//! scripts/dynamodb-local.sh run -- target/debug/login-timing --quick   # smoke, no claims
//! ```
//!
//! Flags: `--samples N` per outcome (60; at least 40 for the report), `--policy P`
//! (owasp), `--quick` (3 samples, insecure-fast policy: checks it works, claims nothing).
//! It needs `AWS_ENDPOINT_URL_DYNAMODB` (the script above sets it) and creates a fresh
//! table there.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use bench_tools::{Flags, Summary, machine, ms};
use integration::dynamo::{RequestLog, client_for, endpoint};
use serde_json::{Value, json};
use shared::auth::password::PasswordHasher;
use shared::auth::tokens::{KeySetDocument, TokenKeys};
use shared::clock::SystemClock;
use shared::config::parse_password_policy;
use shared::http::{Route, Services, handle};
use shared::service::Crypto;
use shared::service::provision::{NewApp, NewUser, build_app, build_user};
use shared::store::dynamo::table::create_table;
use shared::store::{AppAdmin as _, DynamoStore, UserAdmin as _};

const OUTCOMES: [&str; 5] = [
    "unknown user",
    "wrong password",
    "locked, wrong password",
    "banned, wrong password",
    "locked, right password",
];
/// Issue 12: every failed outcome within 0.9-1.1x of the wrong-password median.
const PARITY: (f64, f64) = (0.9, 1.1);
const PASSWORD: &str = "the-right-password";

#[tokio::main]
async fn main() -> Result<()> {
    let mut flags = Flags::from_env();
    let quick = flags.switch("quick");
    let samples: usize = flags
        .parsed("samples")?
        .unwrap_or(if quick { 3 } else { 60 });
    let policy_text = flags
        .value("policy")?
        .unwrap_or_else(|| if quick { "insecure-fast" } else { "owasp" }.into());
    flags.finish()?;
    ensure!(samples > 0, "--samples must be at least 1");
    let policy = parse_password_policy(&policy_text)?;

    let log = RequestLog::default();
    let client = client_for(&endpoint()?, &log).await;
    let table = format!("imauth-timing-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table).await?;
    let store = Arc::new(DynamoStore::new(client, table));
    let crypto = Arc::new(Crypto {
        hasher: PasswordHasher::new(policy)?,
        tokens: TokenKeys::from_document(&KeySetDocument::generate(0)?, "imauth")?,
        clock: Arc::new(SystemClock),
        key_refresh: None,
    });
    let services = Services::over(store.clone(), crypto.clone());
    println!("machine: {}", machine());
    println!(
        "password policy: {policy_text}   samples per outcome: {samples}   store: DynamoDB Local"
    );

    let (app, _) = build_app(NewApp {
        app_id: "timing".into(),
        ..NewApp::default()
    })?;
    store.create_app(&app).await?;
    // A wrong-password sample hits a user with no earlier failure (as an attacker who
    // probes many names once each), so each gets a user of its own; the locked and the
    // banned user are one each.
    const LOCKED: i64 = 1;
    const BANNED: i64 = 2;
    const FIRST_FRESH: i64 = 100;
    for user_id in [LOCKED, BANNED]
        .into_iter()
        .chain(FIRST_FRESH..FIRST_FRESH + samples as i64 + 5)
    {
        let user = build_user(
            NewUser {
                app_id: "timing".into(),
                user_id,
                username: format!("user-{user_id}"),
                phone: None,
                email: None,
                password: PASSWORD.into(),
                activated: Some(user_id != BANNED),
            },
            &crypto.hasher,
            &SystemClock,
        )?;
        store.create_user(&user).await?;
    }
    let login = |user_id: i64, password: &str| {
        let services = &services;
        let body = json!({"user_id": user_id, "password": password}).to_string();
        async move {
            let req = http::Request::builder()
                .method("POST")
                .uri("/token/id")
                .header("app_id", "timing")
                .body(lambda_http::Body::Text(body))?;
            let started = Instant::now();
            let response = handle(services, Route::TokenId, req).await;
            let took = started.elapsed();
            let answer: Value = serde_json::from_slice(response.body().as_ref())?;
            anyhow::Ok((took, response.status().as_u16(), answer["message"].clone()))
        }
    };
    for _ in 0..6 {
        login(LOCKED, "wrong").await?; // the lock, kept in force by every later failure
    }

    let mut timings: Vec<Vec<Duration>> = vec![Vec::new(); OUTCOMES.len()];
    let mut answers: Vec<Option<(u16, Value)>> = vec![None; OUTCOMES.len()];
    let mut order: Vec<usize> = (0..OUTCOMES.len()).collect();
    let mut next_unknown = 1_000_000_i64;
    let mut next_fresh = FIRST_FRESH;
    log.take();
    let warmup = 3;
    for round in 0..samples + warmup {
        shuffle(&mut order);
        for &outcome in &order {
            let (user_id, password) = match outcome {
                0 => {
                    next_unknown += 1;
                    (next_unknown, "wrong")
                }
                1 => {
                    next_fresh += 1;
                    (next_fresh, "wrong")
                }
                2 => (LOCKED, "wrong"),
                3 => (BANNED, "wrong"),
                _ => (LOCKED, PASSWORD),
            };
            let (took, status, message) = login(user_id, password).await?;
            let seen = answers[outcome].get_or_insert_with(|| (status, message.clone()));
            ensure!(
                *seen == (status, message.clone()) && status == 401,
                "{}: answered {status} {message}, expected the same 401 every time",
                OUTCOMES[outcome]
            );
            if round >= warmup {
                timings[outcome].push(took);
            }
        }
    }
    let requests = log.take();
    if answers.iter().any(|a| *a != answers[0]) {
        bail!("the outcomes were answered differently: {answers:?}");
    }
    println!(
        "every outcome answered: {:?}",
        answers[0].as_ref().context("no sample")?
    );
    println!(
        "DynamoDB requests per sample: {:.2} ({} in all)",
        requests.len() as f64 / ((samples + warmup) * OUTCOMES.len()) as f64,
        requests.len()
    );

    let summaries: Vec<Summary> = timings
        .iter()
        .map(|t| Summary::of(t).context("no samples"))
        .collect::<Result<_>>()?;
    let yardstick = ms(summaries[1].median);
    println!("\n| outcome | median ms | p90 ms | ratio to wrong password |");
    println!("|---|---|---|---|");
    let mut outside = Vec::new();
    for (name, summary) in OUTCOMES.iter().zip(&summaries) {
        let ratio = ms(summary.median) / yardstick;
        println!(
            "| {name} | {:.2} | {:.2} | {ratio:.3}x |",
            ms(summary.median),
            ms(summary.p90)
        );
        if !(PARITY.0..=PARITY.1).contains(&ratio) {
            outside.push(*name);
        }
    }
    if quick {
        println!("\n(--quick: a smoke run; the figures mean nothing)");
    } else if outside.is_empty() {
        println!("\nparity: every ratio within {}-{}x", PARITY.0, PARITY.1);
    } else {
        println!("\nparity NOT met for: {}", outside.join(", "));
    }
    Ok(())
}

/// Fisher-Yates; the order only has to vary between rounds, not be secret.
fn shuffle(items: &mut [usize]) {
    for i in (1..items.len()).rev() {
        let j = (uuid::Uuid::new_v4().as_u128() % (i as u128 + 1)) as usize;
        items.swap(i, j);
    }
}
