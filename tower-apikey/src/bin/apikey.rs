//! `apikey`: create, list, revoke and rotate API keys in a store.
//!
//! ```text
//! apikey --database-url sqlite://keys.db create --account acme --scopes "read write" --expires-in 90d
//! APIKEY_DATABASE_URL=postgres://… apikey list --account acme
//! ```
//!
//! A pepper, if the servers use one, comes from `APIKEY_PEPPER` (never a flag: command
//! lines are visible to other users).

use std::process::ExitCode;

use clap::Parser;
use tower_apikey::cli::KeysCommand;
use tower_apikey::{ApiKeys, KeyFormat};

/// Manage API keys.
#[derive(Debug, Parser)]
#[command(name = "apikey", version, about)]
struct Args {
    /// `sqlite://PATH` (created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "APIKEY_DATABASE_URL",
        default_value = "sqlite://apikeys.db"
    )]
    database_url: String,
    /// The key type prefix.
    #[arg(long, default_value = "sk")]
    prefix: String,
    #[command(subcommand)]
    command: KeysCommand,
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let format = KeyFormat::new(args.prefix)?;
    let store = tower_apikey::store::connect(&args.database_url).await?;
    let mut builder = ApiKeys::builder(store.clone())
        .format(format)
        .touch_interval(None);
    if let Some(pepper) = std::env::var_os("APIKEY_PEPPER") {
        builder = builder.pepper(pepper.into_encoded_bytes());
    }
    let keys = builder.build()?;
    let result = args.command.run(&keys, &mut std::io::stdout().lock()).await;
    store.close().await;
    Ok(result?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
