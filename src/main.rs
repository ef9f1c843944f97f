//! Entry point: parse the command line and run it.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = million::cli::Cli::parse();
    match million::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("million: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
