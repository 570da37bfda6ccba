//! qs-jwt: create signed JWTs for Qlik Sense. See README.md and docs/.

mod claims;
mod cli;
mod create;
mod error;
mod expires;
mod keys;
mod log;
mod token;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::cli::Command;

fn main() -> ExitCode {
    let cli = match cli::try_parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(err) => return report_clap_error(&err),
    };
    log::init(cli.command.output());

    let now = SystemTime::now();
    let token = match &cli.command {
        Command::CreateQseow(args) => create::create_qseow(args, now),
        Command::CreateQscloud(args) => create::create_qscloud(args, now),
    };
    match token.and_then(|token| print_token(&token)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", error::render(&err));
            ExitCode::from(error::exit_code(&err))
        }
    }
}

/// stdout holds the token and one newline, nothing else.
fn print_token(token: &str) -> Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{token}")
        .and_then(|()| stdout.flush())
        .context("cannot write the token to standard output")
}

/// Help and version go to stdout with exit 0; errors to stderr with exit 2, key text redacted.
fn report_clap_error(err: &clap::Error) -> ExitCode {
    if !err.use_stderr() {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    let rendered = err.render();
    let text = if log::colour_on_stderr() {
        rendered.ansi().to_string()
    } else {
        rendered.to_string()
    };
    eprint!("{}", error::redact_pem(&text));
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}
