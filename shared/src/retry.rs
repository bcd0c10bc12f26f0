//! The one retry loop: a bounded number of attempts with exponential backoff between
//! them. Used where an attempt can lose a race (optimistic updates, conflicting
//! DynamoDB transactions) or meet a store that is briefly unavailable (the importer).

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt<T> {
    Done(T),
    /// Worth another try; the error is the answer if none is left.
    Retry(Error),
}

/// `attempts` tries in all, waiting `first_delay` after the first failure and
/// `factor` times longer after each one after it.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub attempts: u32,
    pub first_delay: Duration,
    pub factor: u32,
}

impl Backoff {
    /// Runs `attempt` until it is done, fails (an `Err` is never retried), or the tries
    /// run out (then the last [`Attempt::Retry`]'s error is the answer).
    pub async fn run<T, F, Fut>(self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Attempt<T>>>,
    {
        let mut delay = self.first_delay;
        let mut tried = 1;
        loop {
            match attempt().await? {
                Attempt::Done(value) => return Ok(value),
                Attempt::Retry(last) if tried >= self.attempts => return Err(last),
                Attempt::Retry(_) => {
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(self.factor);
                    tried += 1;
                }
            }
        }
    }

    /// Runs `attempt` again while it answers [`Error::Unavailable`].
    pub async fn run_while_unavailable<T, F, Fut>(self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.run(|| {
            let outcome = attempt();
            async move {
                match outcome.await {
                    Err(unavailable @ Error::Unavailable(_)) => Ok(Attempt::Retry(unavailable)),
                    other => other.map(Attempt::Done),
                }
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;

    use super::*;

    const QUICK: Backoff = Backoff {
        attempts: 4,
        first_delay: Duration::from_millis(5),
        factor: 2,
    };

    #[tokio::test]
    async fn retries_until_done_waiting_longer_each_time() {
        let tries = AtomicU32::new(0);
        let started = Instant::now();
        let outcome = QUICK
            .run(|| async {
                let n = tries.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(if n < 4 {
                    Attempt::Retry(Error::Unavailable(format!("try {n}")))
                } else {
                    Attempt::Done(n)
                })
            })
            .await;
        assert_eq!(outcome.unwrap(), 4);
        // 5 + 10 + 20 ms between the four tries.
        assert!(started.elapsed() >= Duration::from_millis(35));
    }

    #[tokio::test]
    async fn gives_up_with_the_last_error_and_never_retries_a_failure() {
        let tries = AtomicU32::new(0);
        let outcome: Result<()> = QUICK
            .run(|| async {
                let n = tries.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(Attempt::Retry(Error::Unavailable(format!("try {n}"))))
            })
            .await;
        assert!(matches!(outcome, Err(Error::Unavailable(m)) if m == "try 4"));

        tries.store(0, Ordering::SeqCst);
        let outcome: Result<()> = QUICK
            .run_while_unavailable(|| async {
                tries.fetch_add(1, Ordering::SeqCst);
                Err(Error::Conflict("taken".into()))
            })
            .await;
        assert!(matches!(outcome, Err(Error::Conflict(_))));
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn unavailable_is_retried_and_the_answer_after_it_kept() {
        let tries = AtomicU32::new(0);
        let outcome = QUICK
            .run_while_unavailable(|| async {
                match tries.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(Error::Unavailable("busy".into())),
                    n => Ok(n),
                }
            })
            .await;
        assert_eq!(outcome.unwrap(), 1);
    }
}
