//! Entry point: parse the command line and run it.

use clap::Parser;
use million::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // The hashing helper is plain threads reading standard input.
        Command::HashHelper { threads } => million::auth::password::serve_helper(threads),
        _ => {
            // This executable can be its own hashing helper. On Linux the
            // helper starts from `/proc/self/exe`, which still names this
            // build when a deploy has replaced the file on disk.
            let program = if cfg!(target_os = "linux") {
                Some(std::path::PathBuf::from("/proc/self/exe"))
            } else {
                std::env::current_exe().ok()
            };
            if let Some(program) = program {
                million::auth::password::hash_in_helper_process(program);
            }
            match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime.block_on(million::cli::run(cli)),
                Err(error) => Err(anyhow::Error::new(error).context("starting the runtime")),
            }
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("million: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
