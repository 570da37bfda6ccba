//! qs-jwt: create signed JWTs for Qlik Sense. See README.md and docs/.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result};

use qs_jwt::cli::{self, Command};
use qs_jwt::{Output, completions, create, decode, error, log};

fn main() -> ExitCode {
    let cli = match cli::try_parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(err) => return report_clap_error(&err),
    };
    let (level, minimal_output) = cli.command.log_settings();
    log::init(level, minimal_output);

    match run(&cli.command, SystemTime::now()) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(failure)) => {
            eprintln!("{}", error::redact_pem(&format!("error: {failure}")));
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("{}", error::render(&err));
            ExitCode::from(error::exit_code(&err))
        }
    }
}

/// Runs the command and prints its output; `Ok(Some(why))` when it printed but failed.
fn run(command: &Command, now: SystemTime) -> Result<Option<String>> {
    let output = match command {
        Command::CreateQseow(args) => Output {
            stdout: create::create_qseow(args, now)?.render(args.output.output),
            failure: None,
        },
        Command::CreateQscloud(args) => Output {
            stdout: create::create_qscloud(args, now)?.render(args.output.output),
            failure: None,
        },
        Command::Decode(args) => decode::decode(args, now)?,
        Command::Completions(args) => Output {
            stdout: completions::script(args.shell),
            failure: None,
        },
    };
    print_stdout(&output.stdout)?;
    Ok(output.failure)
}

/// stdout holds the product and one newline, nothing else.
fn print_stdout(text: &str) -> Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .context("cannot write to standard output")
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
