//! `imauth serve` as a child process on a free loopback port: what the tests that talk
//! HTTP to it (tests/serve.rs, tests/browser.rs) start it with.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use crate::workspace_binary;

/// A running `imauth serve`, killed on drop.
pub struct ServeProcess {
    _child: Child,
    pub addr: SocketAddr,
    /// What it prints on stdout (the demo's curl command), line by line.
    pub stdout: Lines<BufReader<ChildStdout>>,
}

impl ServeProcess {
    /// Starts `imauth serve --addr 127.0.0.1:0 ARGS...` without the keys file and
    /// password policy of the caller's environment, and waits until it listens.
    pub async fn start(args: &[&str]) -> Result<Self> {
        let mut child = tokio::process::Command::new(workspace_binary("imauth")?)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("IMAUTH_KEYS_FILE")
            .env_remove("IMAUTH_PASSWORD_POLICY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting imauth serve")?;
        let mut stderr = BufReader::new(child.stderr.take().context("no stderr")?).lines();
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            let mut said = Vec::new();
            while let Some(line) = stderr.next_line().await? {
                if let Some(url) = line.strip_prefix("imauth serving on http://") {
                    return Ok(url.parse::<SocketAddr>()?);
                }
                said.push(line);
            }
            bail!(
                "imauth serve {args:?} exited before listening:\n{}",
                said.join("\n")
            )
        })
        .await
        .context("imauth serve did not listen within 30 s")??;
        // Keep draining logs so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
        Ok(Self {
            _child: child,
            addr,
            stdout,
        })
    }
}
