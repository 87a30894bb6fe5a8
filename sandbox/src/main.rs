//! `cargo run -p sandbox`: the whole payment flow on http://127.0.0.1:3000 (`--port` or `PORT` to change).

use sandbox::{StoreChoice, start};
use tokio::net::TcpListener;

fn port() -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = std::env::var("PORT").ok();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next(),
            other if other.starts_with("--port=") => port = other.strip_prefix("--port=").map(str::to_owned),
            "-h" | "--help" => return Err("usage: sandbox [--port PORT]   (or PORT=...; default 3000)".to_owned()),
            other => return Err(format!("unknown argument {other:?}; usage: sandbox [--port PORT]")),
        }
    }
    match port {
        None => Ok(3000),
        Some(text) => text.parse().map_err(|_| format!("port {text:?} is not a port number")),
    }
}

async fn ctrl_c() {
    // If the signal handler cannot be installed the sandbox runs until killed.
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber_init();
    if let Err(message) = run().await {
        eprintln!("sandbox: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let port = port()?;
    let store = match std::env::var("TABLE_NAME").ok().filter(|t| !t.is_empty()) {
        Some(table_name) => StoreChoice::Dynamo { table_name },
        None => StoreChoice::Memory,
    };
    let store_name = match &store {
        StoreChoice::Memory => "in-memory store".to_owned(),
        StoreChoice::Dynamo { table_name } => format!("DynamoDB table {table_name}"),
    };
    let listener =
        TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let running = start(listener, store, ctrl_c()).await?;
    let url = format!("http://{}", running.addr);
    println!("Sandbox listening on {url} ({store_name}; simulated WeChat and 2C2P on the same port)");
    println!("Open {url}/ in a browser, or try it with curl:");
    println!("{}", walkthrough(&url));
    println!("Press Ctrl-C to stop.");
    let result = running.server.await.map_err(|e| format!("server task failed: {e}"))?;
    result.map_err(|e| format!("server failed: {e}"))?;
    println!("Sandbox stopped.");
    Ok(())
}

fn tracing_subscriber_init() {
    payments::telemetry::init();
}

/// A curl walkthrough that stops at the first step that fails (with `set -e` semantics per line),
/// and uses a fresh orderId each time so that re-running it never pays an order twice.
fn walkthrough(url: &str) -> String {
    let field = |name: &str| {
        format!(
            "python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[\"{name}\"]) if \"{name}\" in d else sys.exit(\"no {name}: \"+json.dumps(d))'"
        )
    };
    [
        "  ORDER=A-$(date +%s)".to_owned(),
        format!("  LOGIN=$(curl -s {url}/openid -d '{{\"code\":\"sandbox-alice\"}}') && TOKEN=$(echo \"$LOGIN\" | {}) && OPENID=$(echo \"$LOGIN\" | {})", field("token"), field("openid")),
        format!("  ORDER_TOKEN=$(curl -s {url}/sandbox/orders -d '{{\"orderId\":\"'$ORDER'\",\"amount\":\"12.50\",\"currency\":\"SGD\",\"description\":\"Latte x2\",\"sub\":\"'$OPENID'\"}}' | {})", field("orderToken")),
        format!("  INVOICE=$(curl -s {url}/prepay -H \"Authorization: Bearer $TOKEN\" -d '{{\"orderToken\":\"'$ORDER_TOKEN'\"}}' | {})", field("invoiceNo")),
        format!("  curl -s {url}/sandbox/pay/$INVOICE -d '{{\"result\":\"success\"}}'; echo"),
        format!("  curl -s {url}/orders/$ORDER -H \"Authorization: Bearer $TOKEN\"; echo"),
        format!("  curl -s {url}/sandbox/events; echo"),
    ]
    .join("\n")
}
