//! `chatlink-customer-site`: serves the demo customer website on a local port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use chatlink_customer_site::{Config, Site};
use clap::Parser;

/// A demo shop website with the Chatlink chat widget.
#[derive(Debug, Parser)]
struct Args {
    /// Where this demo site listens
    #[arg(long, default_value = "127.0.0.1:3000")]
    bind: SocketAddr,
    /// The Chatlink server's address
    #[arg(long, default_value = "http://127.0.0.1:8640")]
    chatlink: String,
    /// The widget app's id (from `chatlink app create`)
    #[arg(long)]
    app_id: String,
    /// A file holding the widget app's appSecret; read on every exchange, so a rotated secret
    /// needs no restart
    #[arg(long)]
    app_secret_file: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let site = match Site::new(Config {
        chatlink_url: args.chatlink,
        app_id: args.app_id,
        app_secret_file: args.app_secret_file,
    }) {
        Ok(site) => site,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.bind);
            return ExitCode::FAILURE;
        }
    };
    println!("The demo shop is on http://{}", args.bind);
    match axum::serve(listener, site.router()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: the server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
