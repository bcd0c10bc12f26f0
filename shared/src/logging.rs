//! What `RUST_LOG` may turn on. Our own targets follow it to any level; every other
//! target (the AWS SDK, its HTTP client and signer, hyper, h2, rustls, the Lambda
//! runtime, and any dependency added later) stops at `debug`, even when asked for
//! `trace` by name. At `trace` those crates print whole requests and responses: the
//! Lambda runtime the raw event (a login's password), the SDK the DynamoDB items it
//! reads (password hashes, client secret hashes) and the signer what it signs. Their
//! `debug` events carry no bodies.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;

/// Targets of our own code (`shared`, and `imauth` for the CLI and the request log).
const OWN_TARGETS: [&str; 2] = ["shared", "imauth"];

/// The most any other target may log.
pub const DEPENDENCY_MAX_LEVEL: LevelFilter = LevelFilter::DEBUG;

fn is_own(target: &str) -> bool {
    OWN_TARGETS.iter().any(|own| target.starts_with(own))
}

/// `configured` with every target but ours capped at [`DEPENDENCY_MAX_LEVEL`].
pub fn cap_dependencies(configured: &Targets) -> Targets {
    let default = configured.default_level().unwrap_or(LevelFilter::OFF);
    let mut filter = Targets::new().with_default(default.min(DEPENDENCY_MAX_LEVEL));
    for own in OWN_TARGETS {
        if !configured.iter().any(|(target, _)| target == own) {
            filter = filter.with_target(own, default);
        }
    }
    for (target, level) in configured.iter() {
        let level = if is_own(target) {
            level
        } else {
            level.min(DEPENDENCY_MAX_LEVEL)
        };
        filter = filter.with_target(target, level);
    }
    filter
}

/// JSON log lines on stderr, filtered by `RUST_LOG` (default `info`).
///
/// `RUST_LOG` takes `level` and `target=level` directives (`info,shared=debug`): a
/// `Targets` filter, not an `EnvFilter`, whose span and field matching would cost every
/// binary a regex engine (~160 KB) for filters nobody sets on a login function. A
/// malformed `RUST_LOG` falls back to `info` and says so.
pub fn init_logging() {
    let configured = std::env::var("RUST_LOG").ok();
    let (filter, malformed) = log_filter(configured.as_deref());
    let subscriber = tracing_subscriber::fmt()
        // The builder's own ceiling is `info`; `filter` alone decides.
        .with_max_level(tracing::level_filters::LevelFilter::TRACE)
        .json()
        // The runtime opens a span per invocation holding `requestId` and `xrayTraceId`:
        // printing it puts both on every line a request logs.
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(std::io::stderr)
        .finish();
    use tracing_subscriber::layer::SubscriberExt as _;
    let _ = tracing::subscriber::set_global_default(subscriber.with(filter));
    if malformed {
        tracing::warn!(rust_log = ?configured, "RUST_LOG is malformed; logging at info");
    }
}

/// The filter `RUST_LOG` asks for (`info` when unset or blank), and whether it was
/// malformed (then also `info`). Dependencies never log above `debug`, where they would
/// print request and response bodies (see [`crate::logging`]).
fn log_filter(rust_log: Option<&str>) -> (tracing_subscriber::filter::Targets, bool) {
    let info = || tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO);
    let (filter, malformed) = match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        None => (info(), false),
        Some(directives) => match directives.parse() {
            Ok(filter) => (filter, false),
            Err(_) => (info(), true),
        },
    };
    (crate::logging::cap_dependencies(&filter), malformed)
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    fn capped(rust_log: &str) -> Targets {
        cap_dependencies(&rust_log.parse().unwrap())
    }

    #[test]
    fn dependencies_never_log_at_trace_even_when_named() {
        for rust_log in [
            "trace",
            "trace,aws_smithy_runtime=trace,lambda_runtime=trace,hyper::proto=trace",
            "info,aws_sigv4=trace,aws_smithy_runtime::client::orchestrator=trace",
        ] {
            let filter = capped(rust_log);
            for target in [
                "aws_smithy_runtime::client::orchestrator",
                "aws_smithy_runtime::client::orchestrator::http",
                "aws_sigv4::http_request::sign",
                "lambda_runtime::layers::api_response",
                "hyper::proto::h1::io",
                "h2::codec::framed_write",
                "rustls::client::hs",
                "some_future_dependency",
            ] {
                assert!(
                    !filter.would_enable(target, &Level::TRACE),
                    "{rust_log}: {target}"
                );
            }
        }
        let filter = capped("trace");
        assert!(filter.would_enable("aws_smithy_runtime::client::orchestrator", &Level::DEBUG));
    }

    #[test]
    fn our_targets_follow_rust_log_and_nothing_is_raised() {
        let filter = capped("trace");
        assert!(filter.would_enable("shared::service::login", &Level::TRACE));
        assert!(filter.would_enable("imauth::request", &Level::TRACE));

        let filter = capped("warn,shared::http=debug");
        assert!(filter.would_enable("shared::http::login", &Level::DEBUG));
        assert!(!filter.would_enable("shared::service", &Level::INFO));
        assert!(filter.would_enable("shared::service", &Level::WARN));
        assert!(!filter.would_enable("imauth::request", &Level::INFO));
        assert!(!filter.would_enable("hyper", &Level::INFO));

        let filter = capped("shared=debug");
        assert!(filter.would_enable("shared::store", &Level::DEBUG));
        assert!(!filter.would_enable("imauth::request", &Level::ERROR));
        assert!(!filter.would_enable("hyper", &Level::ERROR));
    }

    #[test]
    fn rust_log_takes_levels_and_target_directives_and_falls_back_to_info() {
        let (filter, malformed) = log_filter(Some("warn,shared=debug"));
        assert!(!malformed);
        assert!(filter.would_enable("shared::http", &Level::DEBUG));
        assert!(!filter.would_enable("hyper", &Level::INFO));
        assert!(filter.would_enable("hyper", &Level::WARN));

        for unset in [None, Some(""), Some("  ")] {
            let (filter, malformed) = log_filter(unset);
            assert!(!malformed);
            assert!(filter.would_enable("shared", &Level::INFO));
            assert!(!filter.would_enable("shared", &Level::DEBUG));
        }

        let (filter, malformed) = log_filter(Some("shared=[{loud}]"));
        assert!(malformed);
        assert!(filter.would_enable("shared", &Level::INFO));
        assert!(!filter.would_enable("shared", &Level::DEBUG));
    }
}
