//! The function's stdout and stderr, read as they come so a failure can show their tail.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;

use crate::process::DRAIN_TIMEOUT;
use crate::runtime_api::lock;

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> &str {
    let text = text.trim_end();
    match lines
        .checked_sub(1)
        .and_then(|skip| text.rmatch_indices('\n').nth(skip))
    {
        Some((newline, _)) => &text[newline + 1..],
        None => text,
    }
}

pub(crate) struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Capture {
    pub(crate) fn start<R>(pipe: Option<R>) -> Self
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let reader = pipe.map(|mut pipe| {
            let buf = Arc::clone(&buf);
            tokio::spawn(async move {
                let mut chunk = [0_u8; 8192];
                // Read errors mean the pipe is gone; what was captured so far is all there is.
                while let Ok(n @ 1..) = pipe.read(&mut chunk).await {
                    lock(&buf).extend_from_slice(&chunk[..n]);
                }
            })
        });
        Self { buf, reader }
    }

    pub(crate) fn snapshot(&self) -> String {
        String::from_utf8_lossy(&lock(&self.buf)).into_owned()
    }

    pub(crate) async fn drain(&mut self) {
        if let Some(mut reader) = self.reader.take()
            && tokio::time::timeout(DRAIN_TIMEOUT, &mut reader)
                .await
                .is_err()
        {
            reader.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a\nb", 5), "a\nb");
        assert_eq!(tail("", 3), "");
    }
}
