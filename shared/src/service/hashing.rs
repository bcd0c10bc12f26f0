//! A fixed set of threads for argon2, for processes that take many logins at once
//! (`imauth serve`).
//!
//! Why not `spawn_blocking` behind a semaphore: tokio's blocking pool hands a job to any
//! idle thread or starts a new one, so over a spike the verifies wander across more
//! threads than there are permits, and each new thread allocates and first-touches its
//! own 19 MiB work area (measured: 111 MiB peak RSS for 2 permits). Here the threads are
//! the permits: exactly `threads` work areas ever exist, each stays hot in its thread,
//! and a finished verify picks up the next queued job without a scheduler round trip.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

pub struct HashingPool {
    jobs: mpsc::Sender<Job>,
    threads: usize,
}

impl std::fmt::Debug for HashingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashingPool")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

/// Queued jobs per thread before callers wait (asynchronously) to enqueue: enough to
/// keep every thread busy, small enough that a spike waits as tasks, not as a queue.
const QUEUE_PER_THREAD: usize = 4;

impl HashingPool {
    /// Starts `threads` (at least one) hashing threads. They end when the pool is dropped
    /// and the queue has drained.
    pub fn new(threads: usize) -> Result<Self> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>(threads * QUEUE_PER_THREAD);
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || work(&queue))
                .map_err(|e| Error::internal(format!("starting a hashing thread: {e}")))?;
        }
        Ok(Self { jobs, threads })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `job` on one of the pool's threads and waits for its answer.
    pub async fn run<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have gone (client hung up); its answer is then dropped.
            let _ = answer.send(job());
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| Error::internal("hashing pool stopped"))?;
        answered
            .await
            .map_err(|_| Error::internal("a hashing thread stopped mid-job"))
    }
}

fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // One thread waits on the queue at a time; the others wait for the lock. Either
        // way an idle thread sleeps, and the lock is released before the job runs.
        let job = match queue.lock() {
            Ok(mut queue) => queue.blocking_recv(),
            Err(_) => return,
        };
        let Some(job) = job else { return };
        // A panicking job (a bug) drops its answer, so its caller gets an error; the
        // thread lives on, so the pool never shrinks. (Release builds abort instead.)
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::thread::ThreadId;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn many_concurrent_jobs_run_on_exactly_the_pools_threads() {
        let pool = Arc::new(HashingPool::new(2).unwrap());
        let seen = Arc::new(Mutex::new(HashSet::<ThreadId>::new()));
        let mut tasks = Vec::new();
        for i in 0..64u64 {
            let (pool, seen) = (pool.clone(), seen.clone());
            tasks.push(tokio::spawn(async move {
                pool.run(move || {
                    seen.lock().unwrap().insert(std::thread::current().id());
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    i * 2
                })
                .await
                .unwrap()
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        assert_eq!(answers, (0..64).map(|i| i * 2).collect::<Vec<_>>());
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "jobs ran on {} threads", seen.len());
        assert!(!seen.contains(&std::thread::current().id()));
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_pool_keeps_working() {
        let pool = HashingPool::new(1).unwrap();
        let outcome = pool.run(|| -> u8 { panic!("job panicked") }).await;
        assert!(outcome.is_err());
        // The panic ended that thread; a pool of one must not be left without workers.
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }
}
