//! A real browser for the web-client test (tests/browser.rs): Debian's headless Chromium,
//! driven from its command line (no driver crate, no DevTools client), and a static site
//! on its own loopback origin serving the test page and the Easemob web SDK.
//!
//! A page run is `chromium --headless --dump-dom --virtual-time-budget=...`: Chromium
//! loads the page, lets it run (virtual time stands still while a request is pending, so
//! a slow login is waited for) and prints the DOM, into which the page wrote its results;
//! the console, Chromium's own CORS errors included, goes to Chromium's log. Chromium
//! and the SDK come from `scripts/web-client-deps.sh`, which `scripts/test.sh` runs:
//! tests that need them fail (never skip) without them.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::fixtures::TempDir;

/// The `easemob-websdk` version `scripts/web-client-deps.sh` installs (tests/web/package.json).
pub const EASEMOB_WEBSDK_VERSION: &str = "4.21.1";

const HOW_TO_INSTALL: &str = "run scripts/web-client-deps.sh (scripts/test.sh does) to install Chromium and the Easemob web SDK";

/// The Chromium binary: `IMAUTH_CHROMIUM`, else `chromium` on the PATH.
pub fn chromium() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("IMAUTH_CHROMIUM").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("no chromium on the PATH: {HOW_TO_INSTALL}"))
}

/// The SDK's browser build (a UMD script defining `websdk`), checked to be the pinned
/// version, from the npm install under `$IMAUTH_CACHE/websdk`.
pub fn easemob_websdk() -> Result<PathBuf> {
    let cache = std::env::var_os("IMAUTH_CACHE")
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/imauth")))
        .context("neither IMAUTH_CACHE nor HOME is set")?;
    let package = cache.join("websdk/node_modules/easemob-websdk");
    let manifest: serde_json::Value = std::fs::read(package.join("package.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .with_context(|| {
            format!(
                "no easemob-websdk in {}: {HOW_TO_INSTALL}",
                package.display()
            )
        })?;
    if manifest["version"] != EASEMOB_WEBSDK_VERSION {
        bail!(
            "{} is easemob-websdk {}, not {EASEMOB_WEBSDK_VERSION}: {HOW_TO_INSTALL}",
            package.display(),
            manifest["version"]
        );
    }
    Ok(package.join("Easemob-chat.js"))
}

/// Files served by path on `http://127.0.0.1:<port>` until dropped: the page's origin.
pub struct StaticSite {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl StaticSite {
    /// Serves each `(url path, file)`; anything else is 404.
    pub async fn serve(files: &[(&str, &Path)]) -> Result<Self> {
        let mut served = BTreeMap::new();
        for (path, file) in files {
            let body =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let kind = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                _ => "application/octet-stream",
            };
            served.insert((*path).to_owned(), (kind, Bytes::from(body)));
        }
        let served = Arc::new(served);
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let served = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let found = served.get(req.uri().path()).cloned();
                        async move {
                            let response = match found {
                                Some((kind, body)) => hyper::Response::builder()
                                    .header("content-type", kind)
                                    .body(Full::new(body)),
                                None => hyper::Response::builder()
                                    .status(404)
                                    .body(Full::new(Bytes::new())),
                            };
                            Ok::<_, Infallible>(response.unwrap_or_default())
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, task })
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for StaticSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a page run left in the DOM.
#[derive(Debug)]
pub struct PageRun {
    /// The whole DOM Chromium printed.
    pub dom: String,
    /// The text of `<pre id="result">`, parsed as JSON (`Null` if it is not JSON).
    pub result: serde_json::Value,
    /// The console lines Chromium logged, its own included (a CORS refusal is one:
    /// "... has been blocked by CORS policy ...", which the page cannot see).
    pub browser_console: Vec<String>,
}

/// A browser run's working directory (Chromium's profile, and what a failure leaves):
/// removed on drop unless [`Artifacts::keep`] is called.
pub struct Artifacts(TempDir);

impl Artifacts {
    pub fn new(tag: &str) -> Result<Self> {
        TempDir::new(&format!("browser-{tag}")).map(Self)
    }

    pub fn dir(&self) -> &Path {
        &self.0.0
    }

    /// Keeps the directory with the page's DOM, the browser console and a screenshot
    /// (from a second run of the same page), and says where they are, console included.
    pub async fn keep(self, url: &str, run: Option<&PageRun>) -> String {
        let dir = self.0.keep();
        if let Some(run) = run {
            let _ = std::fs::write(dir.join("page.html"), &run.dom);
            let _ = std::fs::write(dir.join("console.txt"), run.browser_console.join("\n"));
        }
        // The screenshot run's log replaces the page run's; keep that one.
        let _ = std::fs::rename(dir.join("chromium.log"), dir.join("chromium-page.log"));
        let screenshot = dir.join("page.png");
        let flag = format!("--screenshot={}", screenshot.display());
        let screenshot_note = match chromium_run(url, &dir, &[&flag]).await {
            Ok(_) if screenshot.is_file() => format!("screenshot {}", screenshot.display()),
            Ok(_) => "Chromium wrote no screenshot".to_owned(),
            Err(e) => format!("no screenshot: {e:#}"),
        };
        let console = run.map_or_else(
            || "(the page did not run)".to_owned(),
            |r| r.browser_console.join("\n"),
        );
        format!(
            "browser artifacts kept in {} (page.html: the DOM; console.txt: the browser \
             console; chromium-page.log; {screenshot_note})\nbrowser console:\n{console}",
            dir.display(),
        )
    }
}

/// Loads `url` in headless Chromium and returns what the page wrote into the DOM.
pub async fn run_page(url: &str, artifacts: &Artifacts) -> Result<PageRun> {
    let dom = chromium_run(url, artifacts.dir(), &["--dump-dom"]).await?;
    let result = element_text(&dom, "result")
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(serde_json::Value::Null);
    let log = std::fs::read_to_string(artifacts.dir().join("chromium.log")).unwrap_or_default();
    let browser_console = log
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    Ok(PageRun {
        dom,
        result,
        browser_console,
    })
}

/// One headless Chromium run on a fresh profile in `dir` (its own log in
/// `dir/chromium.log`); returns its stdout.
async fn chromium_run(url: &str, dir: &Path, action: &[&str]) -> Result<String> {
    let log = std::fs::File::create(dir.join("chromium.log"))?;
    let child = tokio::process::Command::new(chromium()?)
        .args([
            "--headless",
            // Root in CI containers cannot use the setuid/namespace sandbox; the page
            // is this test's own.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--window-size=1000,1400",
            // Console lines, Chromium's own CORS errors included, into chromium.log.
            "--enable-logging=stderr",
            // Virtual time: timers run ahead, pending requests are waited for.
            "--virtual-time-budget=30000",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(action)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting chromium")?;
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .context("chromium did not finish within 120 s")??;
    if !output.status.success() {
        bail!("chromium exited with {}", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The text of the element with `id` in serialised HTML (a `<pre>` without children).
fn element_text(dom: &str, id: &str) -> Option<String> {
    let open = format!("id=\"{id}\">");
    let start = dom.find(&open)? + open.len();
    let end = start + dom[start..].find("</")?;
    Some(
        dom[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&nbsp;", "\u{a0}")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::element_text;

    #[test]
    fn element_text_reads_a_pre_and_unescapes_it() {
        let dom = r#"<body><pre id="result">{"a":"x &lt;b&gt; &amp;amp;"}</pre><pre id="empty"></pre></body>"#;
        assert_eq!(
            element_text(dom, "result").unwrap(),
            r#"{"a":"x <b> &amp;"}"#
        );
        assert_eq!(element_text(dom, "empty").unwrap(), "");
        assert_eq!(element_text(dom, "missing"), None);
    }
}
