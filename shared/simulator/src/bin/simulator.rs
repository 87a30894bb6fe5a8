//! `cargo run -p simulator -- --port 3100 --notify-url URL`: the simulated WeChat and 2C2P alone, on
//! loopback, for the Lambda functions under `cargo lambda watch` (`scripts/dev` starts it).
//!
//! Who it believes it serves comes from the same variables the functions read, so one set of exports
//! configures both: `PGW_MERCHANT_ID`, `PGW_SECRET_KEY`, `WECHAT_APP_ID`, `WECHAT_APP_SECRET` (each
//! overridable by a flag, each with a public local default). `POST /sandbox/pay/{invoiceNo}` posts the
//! signed notification to `--notify-url`.

use std::process::ExitCode;

use simulator::{Simulator, SimulatorConfig};
use tokio::net::TcpListener;

const USAGE: &str = "usage: simulator [--port PORT] [--notify-url URL] [--merchant-id ID] [--secret-key KEY] \
                     [--app-id ID] [--app-secret SECRET]
  --port        port on 127.0.0.1 (default 3100; 0 picks a free one, printed)
  --notify-url  where the pay route posts 2C2P's signed notification
                (default http://127.0.0.1:9000/lambda-url/notify, the notify function under cargo lambda watch)
  --merchant-id, --secret-key, --app-id, --app-secret
                default to PGW_MERCHANT_ID, PGW_SECRET_KEY, WECHAT_APP_ID, WECHAT_APP_SECRET,
                else to local test values (M0001, S3cretKeyForTests, wxsandbox0000000001, sandbox-wechat-app-secret)";

const DEFAULT_PORT: u16 = 3100;
const DEFAULT_NOTIFY_URL: &str = "http://127.0.0.1:9000/lambda-url/notify";

struct Options {
    port: u16,
    config: SimulatorConfig,
}

/// The flag's value, else the variable's (when set and not empty), else the default.
fn setting(flag: Option<String>, variable: &str, default: &str) -> String {
    flag.or_else(|| std::env::var(variable).ok().filter(|v| !v.is_empty())).unwrap_or_else(|| default.to_owned())
}

fn options(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let (mut port, mut notify_url) = (None, None);
    let (mut merchant_id, mut secret_key, mut app_id, mut app_secret) = (None, None, None, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value.to_owned())),
            _ => (arg.clone(), None),
        };
        let slot = match name.as_str() {
            "-h" | "--help" => return Err(USAGE.to_owned()),
            "--port" => &mut port,
            "--notify-url" => &mut notify_url,
            "--merchant-id" => &mut merchant_id,
            "--secret-key" => &mut secret_key,
            "--app-id" => &mut app_id,
            "--app-secret" => &mut app_secret,
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        };
        let value = inline.or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?;
        *slot = Some(value);
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(text) => text.parse().map_err(|_| format!("--port {text:?} is not a port number"))?,
    };
    let notify_url = notify_url.unwrap_or_else(|| DEFAULT_NOTIFY_URL.to_owned());
    match reqwest::Url::parse(&notify_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {}
        _ => return Err(format!("--notify-url {notify_url:?} is not an http(s) URL")),
    }
    let config = SimulatorConfig {
        merchant_id: setting(merchant_id, "PGW_MERCHANT_ID", "M0001"),
        secret_key: setting(secret_key, "PGW_SECRET_KEY", "S3cretKeyForTests"),
        app_id: setting(app_id, "WECHAT_APP_ID", "wxsandbox0000000001"),
        app_secret: setting(app_secret, "WECHAT_APP_SECRET", "sandbox-wechat-app-secret"),
        notify_url,
    };
    Ok(Options { port, config })
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("simulator: {message}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", options.port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("simulator: cannot listen on 127.0.0.1:{}: {error}", options.port);
            return ExitCode::FAILURE;
        }
    };
    let base = match listener.local_addr() {
        Ok(addr) => format!("http://{addr}"),
        Err(error) => {
            eprintln!("simulator: cannot read the listening address: {error}");
            return ExitCode::FAILURE;
        }
    };
    let config = &options.config;
    println!(
        "Simulated WeChat and 2C2P on {base} (merchant {}, mini program {}; Ctrl-C stops it)",
        config.merchant_id, config.app_id
    );
    println!("  WECHAT_API_URL={base}/wechat");
    println!("  PGW_PAYMENT_URL={base}/2c2p/SecurePayment/Payment.aspx");
    println!("  PGW_ACTION_URL={base}/2c2p/PaymentActionV2/PaymentProcess.aspx");
    println!("  pay: curl -s {base}/sandbox/pay/<invoiceNo> -d '{{\"result\":\"success\"}}'");
    println!("  notifications go to {}", config.notify_url);
    let router = Simulator::new(options.config).router();
    if let Err(error) = axum::serve(listener, router).await {
        eprintln!("simulator: stopped serving: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
