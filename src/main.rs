//! qs-jwt: create signed JWTs for Qlik Sense. See README.md and docs/.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;

use qs_jwt::cli::{self, Command};
use qs_jwt::{Output, completions, create, decode, error, log, login, oauth, setup, stdio};

fn main() -> ExitCode {
    let colour = log::colour_on_stderr();
    let stdout_closed = stdio::stdout_was_closed();
    let cli = match cli::try_parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(err) => return report_clap_error(&err, colour, stdout_closed),
    };
    let (level, minimal_output) = cli.command.log_settings();
    log::init(level, minimal_output);

    if stdout_closed {
        return stdout_is_closed(colour);
    }
    match run(&cli.command, SystemTime::now()) {
        Ok(output) => deliver(output, colour),
        Err(err) => {
            log::eprint_line(&error::render(&err, colour));
            ExitCode::from(error::exit_code(&err))
        }
    }
}

/// Runs the command; what it prints is delivered by `deliver`.
fn run(command: &Command, now: SystemTime) -> Result<Output> {
    Ok(match command {
        Command::CreateQseow(args) => create::create_qseow(args, now)?,
        Command::CreateQscloud(args) => create::create_qscloud(args, now)?,
        Command::Decode(args) => decode::decode(args, now)?,
        Command::SetupQscloud(args) => setup::setup_qscloud(args)?,
        Command::SetupQseow(args) => setup::setup_qseow(args)?,
        Command::SetupQscloudOauth(args) => oauth::setup_qscloud_oauth(args)?,
        Command::OauthQscloud(args) => oauth::oauth_qscloud(args, now)?,
        Command::LoginQscloud(args) => login::login_qscloud(args, now)?,
        Command::LoginQseow(args) => login::login_qseow(args, now)?,
        Command::Completions(args) => Output::product(completions::script(args.shell)),
    })
}

/// Prints the product; new key files stay only if it reached standard output, so that a token
/// nobody received leaves no key behind (and `--force` leaves the previous files as they were).
fn deliver(output: Output, colour: bool) -> ExitCode {
    let printed = output
        .stdout
        .as_deref()
        .map_or(Ok(()), stdio::print_product);
    if let Err(err) = printed {
        drop(output.pending_files);
        log::eprint_line(&error::render(&err, colour));
        return ExitCode::FAILURE;
    }
    if let Some(files) = output.pending_files {
        files.commit();
    }
    match output.failure {
        Some(failure) => {
            log::eprint_line(&error::render_failure(&failure, colour));
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}

fn stdout_is_closed(colour: bool) -> ExitCode {
    log::eprint_line(&error::render_failure(
        "standard output is closed, and qs-jwt prints its result there; run it with standard \
         output open, for example TOKEN=$(qs-jwt ...), or send it to >/dev/null if you want no \
         result",
        colour,
    ));
    ExitCode::FAILURE
}

/// Help and version go to stdout with exit 0; errors to stderr with exit 2, made safe to show.
fn report_clap_error(err: &clap::Error, colour: bool, stdout_closed: bool) -> ExitCode {
    if !err.use_stderr() {
        // --help and --version: their text is the product, delivered like any other.
        if stdout_closed {
            return stdout_is_closed(colour);
        }
        let rendered = err.render();
        let text = if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            rendered.ansi().to_string()
        } else {
            rendered.to_string()
        };
        return match stdio::print_product(text.trim_end()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                log::eprint_line(&error::render(&err, colour));
                ExitCode::FAILURE
            }
        };
    }
    let text = error::render_clap(err, colour);
    log::eprint_line(text.trim_end());
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}
