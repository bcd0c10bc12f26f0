//! Argon2's work area (19 MiB at the OWASP policy): one per thread, reused by every
//! hash on that thread, and one that can be faulted in ahead of the first hash.
//!
//! Why ahead: the first touch of 19 MiB costs ~10 ms of page faults, which the first
//! login of every cold start would otherwise pay on top of its hash. A login function
//! faults it in during init, while init waits on the network anyway (the DynamoDB
//! warm-up and the key read, `bootstrap`); the first hash, on whatever thread it runs,
//! takes that area instead of allocating its own.
//!
//! Not on transparent huge pages: measured on a kernel with THP in `madvise` mode
//! (issue 16), `MADV_HUGEPAGE` faulted the area in 1.7 ms when free 2 MiB pages were at
//! hand, but stalled for 0.5–0.6 s when the kernel compacted memory to make them
//! (`defrag=madvise` compacts synchronously): longer than any network wait of init.

use std::cell::RefCell;
use std::sync::Mutex;

use argon2::Block;

thread_local! {
    // One argon2 work area per thread, grown to the largest cost seen. Lambda runs one
    // request at a time, so this is one buffer per process there.
    static WORK_AREA: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// A work area faulted in by [`prefault`], until a thread's first hash takes it.
static PREFAULTED: Mutex<Option<Vec<Block>>> = Mutex::new(None);

/// Allocates a work area of `blocks` and touches every page of it, for the next thread
/// whose work area is smaller to take. Blocking (milliseconds): run it off the async
/// threads.
pub fn prefault(blocks: usize) {
    // `resize` writes every block (no calloc shortcut whose pages would stay unmapped),
    // so each page is faulted in here, not in the first hash.
    let mut area = Vec::with_capacity(blocks);
    area.resize(blocks, Block::new());
    if let Ok(mut slot) = PREFAULTED.lock() {
        *slot = Some(area);
    }
}

/// Runs `hash` over this thread's work area, grown to `blocks` (from the prefaulted area
/// if there is one).
pub fn with_work_area<T>(blocks: usize, hash: impl FnOnce(&mut [Block]) -> T) -> T {
    WORK_AREA.with(|area| {
        let mut area = area.borrow_mut();
        if area.len() < blocks
            && let Some(prefaulted) = take_prefaulted()
            && prefaulted.len() > area.len()
        {
            *area = prefaulted;
        }
        if area.len() < blocks {
            area.resize(blocks, Block::new());
        }
        hash(&mut area[..blocks])
    })
}

fn take_prefaulted() -> Option<Vec<Block>> {
    PREFAULTED.lock().ok()?.take()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn this_threads_area() -> usize {
        WORK_AREA.with(|a| a.borrow().len())
    }

    #[test]
    fn the_prefaulted_area_is_taken_by_the_first_hash_on_any_thread() {
        prefault(64);
        let address = PREFAULTED
            .lock()
            .unwrap()
            .as_ref()
            .map(|a| a.as_ptr() as usize);
        assert!(address.is_some());
        // On another thread than the one that prefaulted, as in a Lambda's first login.
        let used = std::thread::spawn(|| {
            let used = with_work_area(64, |area| area.as_ptr() as usize);
            // The next hash on the thread reuses its area: nothing is allocated again.
            assert_eq!(with_work_area(32, |area| area.as_ptr() as usize), used);
            assert_eq!(this_threads_area(), 64);
            used
        })
        .join()
        .unwrap();
        assert_eq!(
            Some(used),
            address,
            "the first hash did not use the prefaulted area"
        );
        assert!(PREFAULTED.lock().unwrap().is_none());
        // Taken once: the next thread grows its own.
        std::thread::spawn(|| {
            with_work_area(8, |area| assert_eq!(area.len(), 8));
        })
        .join()
        .unwrap();
    }
}
