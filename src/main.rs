//! The `recsql` binary: command line and logging, then the library does the work.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use recsql::server::{self, Config};
use recsql::wire::Credentials;
use tracing_subscriber::EnvFilter;

/// A PostgreSQL wire-protocol server that trains and serves recommendation models with
/// MindsDB's SQL.
#[derive(Parser, Debug)]
#[command(name = "recsql", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server. Connect with: psql -h 127.0.0.1 -p 55432
    Serve(ServeArgs),
    /// Measurements that are not part of the server.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Train on a CSV of positives and evaluate on another (../shared/bench's contract).
    Train(recsql::bench::TrainArgs),
    /// Write a synthetic implicit-feedback CSV with planted tastes.
    Gen(recsql::bench::GenArgs),
    /// Measure plain queries and the model workflow through the wire, on an in-process server.
    Wire(recsql::bench::WireArgs),
    /// Hybrid against pure collaborative models: warm users, and held-out users given only by
    /// their features (through SQL, on an in-process server).
    Hybrid(recsql::bench::HybridArgs),
    /// FINETUNE on the newest interactions against a full retrain (through SQL, on an
    /// in-process server).
    Finetune(recsql::bench::FinetuneArgs),
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "RECSQL_LISTEN", default_value = "127.0.0.1:55432")]
    listen: SocketAddr,
    /// Directory for the catalog, models and the `files` database (created if missing).
    #[arg(long, env = "RECSQL_DATA_DIR", default_value = "./recsql-data")]
    data_dir: PathBuf,
    /// Require this user name (with --password). Without it any user name is accepted with
    /// no password.
    #[arg(long, env = "RECSQL_USER", requires = "password")]
    user: Option<String>,
    /// The password of --user (sent by clients as a cleartext password message).
    #[arg(
        long,
        env = "RECSQL_PASSWORD",
        requires = "user",
        hide_env_values = true
    )]
    password: Option<String>,
    /// Memory that queries may hold for sorts, joins and aggregations, such as 8GB or 512MB;
    /// beyond it they spill to temporary files or fail with an error. Default: half of the
    /// machine's memory.
    #[arg(long, env = "RECSQL_MEMORY_LIMIT", value_parser = parse_bytes)]
    memory_limit: Option<usize>,
}

/// `512MB`, `8GB`, `1.5GiB` or a number of bytes.
fn parse_bytes(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 8GB or 512MB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown unit {other:?}; use KB, MB or GB")),
    };
    let bytes = number * scale;
    if bytes < 1.0 {
        return Err("the memory limit must be positive".into());
    }
    Ok(bytes as usize)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("RECSQL_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(recsql::server::THREAD_STACK_SIZE)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("recsql: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Bench(BenchCommand::Train(args)) => match recsql::bench::train(&args) {
            Ok(out) => {
                if !args.json {
                    eprintln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
                }
                println!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("recsql bench train: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Bench(BenchCommand::Wire(args)) => {
            print_json("wire", runtime.block_on(recsql::bench::wire(&args)))
        }
        Command::Bench(BenchCommand::Hybrid(args)) => {
            print_json("hybrid", runtime.block_on(recsql::bench::hybrid(&args)))
        }
        Command::Bench(BenchCommand::Finetune(args)) => {
            print_json("finetune", runtime.block_on(recsql::bench::finetune(&args)))
        }
        Command::Bench(BenchCommand::Gen(args)) => match recsql::bench::generate(&args) {
            Ok(n) => {
                eprintln!("wrote {n} interactions to {}", args.out.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("recsql bench gen: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Prints a benchmark's JSON result, or its error.
fn print_json(bench: &str, result: Result<serde_json::Value, String>) -> ExitCode {
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("recsql bench {bench}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    let listener = match server::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(
        "recsql {} listening on {addr}, data dir {}",
        env!("CARGO_PKG_VERSION"),
        args.data_dir.display()
    );
    let config = Config {
        data_dir: args.data_dir,
        credentials: match (args.user, args.password) {
            (Some(user), Some(password)) => Some(Credentials { user, password }),
            _ => None,
        },
        memory_limit: args.memory_limit,
    };
    match server::run(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("signal received");
}
