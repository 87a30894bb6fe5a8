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
    println!(
        "  TOKEN=$(curl -s {url}/openid -d '{{\"code\":\"sandbox-alice\"}}' | sed -E 's/.*\"token\":\"([^\"]+)\".*/\\1/')"
    );
    println!(
        "  INVOICE=$(curl -s {url}/prepay -H \"Authorization: Bearer $TOKEN\" -d '{{\"orderId\":\"A-1001\",\"amount\":\"12.50\",\"currency\":\"SGD\",\"description\":\"Latte x2\"}}' | sed -E 's/.*\"invoiceNo\":\"([^\"]+)\".*/\\1/')"
    );
    println!(
        "  curl -s {url}/sandbox/pay/$INVOICE -d '{{\"result\":\"success\"}}'; curl -s {url}/orders/A-1001 -H \"Authorization: Bearer $TOKEN\""
    );
    println!("Press Ctrl-C to stop.");
    let result = running.server.await.map_err(|e| format!("server task failed: {e}"))?;
    result.map_err(|e| format!("server failed: {e}"))?;
    println!("Sandbox stopped.");
    Ok(())
}

fn tracing_subscriber_init() {
    lambda_http::tracing::init_default_subscriber();
}
