//! Running the `imauth` operator binary in tests: against DynamoDB Local with only the
//! standard AWS environment and `TABLE_NAME`, as an operator would.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::Command;

use crate::dynamo::endpoint;
use crate::workspace_binary;

pub const FAST: [&str; 2] = ["--password-policy", "insecure-fast"];

/// The binary with a hermetic environment: DynamoDB Local, dummy credentials, the table.
pub fn imauth(table: &str) -> Command {
    let mut command = Command::new(workspace_binary("imauth").unwrap());
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint().unwrap())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("TABLE_NAME", table)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(backtrace) = std::env::var_os("RUST_BACKTRACE") {
        command.env("RUST_BACKTRACE", backtrace);
    }
    command
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }

    /// Exit status 1 with exactly one line, `error: {message}`, on stderr.
    #[track_caller]
    pub fn fails_with(&self, message: &str) {
        assert_eq!(self.code, 1, "{self:?}");
        assert_eq!(self.stderr, format!("error: {message}\n"), "{self:?}");
    }
}

pub async fn run_in(mut command: Command, args: &[&str], stdin: &str) -> Run {
    let mut child = command.args(args).spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("imauth {args:?} did not finish"))
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

pub async fn run(table: &str, args: &[&str], stdin: &str) -> Run {
    run_in(imauth(table), args, stdin).await
}

pub fn args<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(tail).copied().collect()
}

/// `imauth serve --store dynamodb` on an ephemeral port.
pub async fn serve_dynamodb(table: &str) -> (tokio::process::Child, SocketAddr) {
    let mut command = imauth(table);
    command.args(args(
        &["serve", "--store", "dynamodb", "--addr", "127.0.0.1:0"],
        &FAST,
    ));
    let mut child = command.stdin(Stdio::null()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("imauth serving on http://") {
                return url.parse::<SocketAddr>().unwrap();
            }
        }
        panic!("imauth serve exited before listening");
    })
    .await
    .unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    (child, addr)
}
