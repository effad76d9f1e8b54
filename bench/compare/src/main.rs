//! `towerauth-compare [--addr 127.0.0.1:0] --credentials FILE`: serves the comparison routes
//! (see the library docs), writes the API key and the token it accepts to `FILE` as
//! `KEY=…` and `TOKEN=…` lines (readable by its owner only), then prints
//! `listening on http://ADDR`.
//!
//! One Tokio thread serves every connection: the instruction counts then repeat from run to
//! run, and a load run pins the server to one core anyway.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("towerauth-compare: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let mut addr = "127.0.0.1:0".to_owned();
    let mut credentials: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs a value")?,
            "--credentials" => {
                credentials = Some(args.next().ok_or("--credentials needs a file")?.into());
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let credentials = credentials.ok_or("--credentials FILE is required")?;

    let (app, accepted) = towerauth_compare::app().await?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&credentials)
        .map_err(|e| format!("{}: {e}", credentials.display()))?;
    writeln!(file, "KEY={}\nTOKEN={}", accepted.api_key, accepted.token)
        .map_err(|e| format!("{}: {e}", credentials.display()))?;
    drop(file);

    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("bind {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on http://{local}");
    axum::serve(listener, app)
        .await
        .map_err(|e| format!("serve: {e}"))
}
