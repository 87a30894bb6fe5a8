//! Logging set-up shared by every function. Whatever `RUST_LOG` or `AWS_LAMBDA_LOG_LEVEL` asks for,
//! the runtime's and the HTTP stacks' own targets are capped below trace: at trace they print raw
//! events (bearer tokens, whole signed envelopes) and raw bodies.

use lambda_http::tracing::subscriber::EnvFilter;
use lambda_http::tracing::subscriber::filter::{Directive, FilterFn, LevelFilter, filter_fn};
use lambda_http::tracing::subscriber::layer::SubscriberExt;
use lambda_http::tracing::subscriber::util::SubscriberInitExt;
use lambda_http::tracing::{Level, Metadata};

/// Targets that log raw requests, responses or events at trace level, capped at debug.
pub const CAPPED_TARGETS: [&str; 9] = [
    "lambda_runtime",
    "lambda_http",
    "lambda_runtime_api_client",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "aws_smithy_runtime",
    "aws_smithy_http_client",
];

/// The filter for `level` (the value of `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`), with the caps applied last
/// so that they win over any directive for the same target. A cap never raises a level: it is debug, or
/// the most verbose level the setting asks for anywhere if that is quieter (with `info`, those
/// libraries stay at info).
pub fn filter(level: Option<&str>) -> EnvFilter {
    let spec = level.map(str::trim).filter(|l| !l.is_empty()).unwrap_or("info");
    let mut filter = EnvFilter::builder().with_default_directive(LevelFilter::INFO.into()).parse_lossy(spec);
    let cap = filter.max_level_hint().map_or(LevelFilter::DEBUG, |asked| asked.min(LevelFilter::DEBUG));
    for target in CAPPED_TARGETS {
        if let Ok(directive) = format!("{target}={cap}").parse::<Directive>() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Drops every trace-level line of the capped targets and of their modules, whatever the filter let
/// through: a directive for a module (`lambda_runtime::layers::api_response=trace`) is more specific
/// than the caps [`filter`] adds, and EnvFilter lets the most specific directive win.
pub fn no_raw_traces() -> FilterFn<impl Fn(&Metadata<'_>) -> bool> {
    filter_fn(|meta| *meta.level() != Level::TRACE || !is_capped(meta.target()))
}

/// A capped target, or one of its modules.
fn is_capped(target: &str) -> bool {
    CAPPED_TARGETS
        .iter()
        .any(|capped| target.strip_prefix(capped).is_some_and(|rest| rest.is_empty() || rest.starts_with("::")))
}

/// Installs the global subscriber once at start: JSON lines when Lambda asks for JSON logs.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).ok();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = lambda_http::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter(level.as_deref()));
    if json {
        builder.json().finish().with(no_raw_traces()).init()
    } else {
        builder.finish().with(no_raw_traces()).init()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use lambda_http::tracing;
    use lambda_http::tracing::subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn logged_with(level: &str) -> String {
        let out = Captured::default();
        let subscriber = lambda_http::tracing::subscriber::fmt()
            .with_env_filter(filter(Some(level)))
            .with_writer(out.clone())
            .finish()
            .with(no_raw_traces());
        tracing::dispatcher::with_default(&tracing::Dispatch::new(subscriber), || {
            // What lambda_runtime 1.x does with every event it receives.
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "Bearer SECRET-TOKEN", "raw JSON event received from Lambda");
            tracing::trace!(target: "hyper::proto::h1", body = "paymentResponse=SIGNED-ENVELOPE", "read body");
            tracing::debug!(target: "lambda_runtime::runtime", "runtime debug line");
            tracing::trace!(target: "payments::usecases", "our own trace line");
        });
        let bytes = out.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn no_level_prints_raw_events() {
        for level in [
            "trace",
            "TRACE",
            "lambda_runtime=trace,hyper=trace",
            "trace,lambda_runtime=trace",
            // More specific than the caps: only the last filter stops these.
            "lambda_runtime::layers::api_response=trace",
            "lambda_runtime::layers=trace,hyper::proto=trace,hyper::proto::h1=trace",
            "debug",
            "info",
            "",
        ] {
            let logged = logged_with(level);
            assert!(!logged.contains("SECRET-TOKEN"), "{level}: {logged}");
            assert!(!logged.contains("SIGNED-ENVELOPE"), "{level}: {logged}");
        }
        let traced = logged_with("trace");
        assert!(traced.contains("our own trace line"), "our code still traces: {traced}");
        assert!(traced.contains("runtime debug line"), "the runtime still logs at debug: {traced}");
        let quiet = logged_with("info");
        assert!(!quiet.contains("runtime debug line"), "a cap never raises a library's level: {quiet}");
    }
}
