//! qs-jwt: create signed JWTs for Qlik Sense. See README.md and docs/.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;

use qs_jwt::cli;
use qs_jwt::commands::{self, Output, Run};
use qs_jwt::{error, input, log, secret, stdio};

/// Runs [`stdio::record_stdout_at_start`] before Rust's runtime, which hides a closed standard
/// output behind `/dev/null`. glibc and musl (static binaries too) run `.init_array` before
/// `main`; macOS's dyld runs `__mod_init_func`. In the binary's own object file, so that no
/// linker drops it as unused.
#[cfg(all(
    unix,
    any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "illumos",
        target_os = "solaris",
        target_vendor = "apple"
    )
))]
#[used]
#[cfg_attr(not(target_vendor = "apple"), unsafe(link_section = ".init_array"))]
#[cfg_attr(
    target_vendor = "apple",
    unsafe(link_section = "__DATA,__mod_init_func")
)]
static RECORD_STDOUT_AT_START: extern "C" fn() = stdio::record_stdout_at_start;

fn main() -> ExitCode {
    let colour = log::colour_on_stderr();
    let stdout_closed = stdio::stdout_was_closed();
    // Before any flag is parsed or checked: an error quoting a flag's value must not show a
    // secret of the environment given there by mistake (`--timeout "$QLIK_CLIENT_SECRET"`).
    secret::register_environment();
    let cli = match cli::try_parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(err) => return report_clap_error(&err, colour, stdout_closed),
    };
    let command = cli.command.runner();
    log::init(command.log_level().into(), command.minimal_output());

    if stdout_closed {
        return stdout_is_closed(colour);
    }
    match run(command, SystemTime::now()) {
        Ok(output) => deliver(output, colour),
        Err(err) => {
            if let Some(json) = commands::failure_json(command, &err) {
                // Scripts branch on this object ($login.error.detail): it goes out whatever
                // stderr gets. A standard output that cannot take it changes nothing more.
                let _ = stdio::print_product(&json);
            }
            log::eprint_line(&error::render(&err, colour));
            ExitCode::from(error::exit_code(&err))
        }
    }
}

/// Runs the command; what it prints is delivered by `deliver`.
fn run(command: &dyn Run, now: SystemTime) -> Result<Output> {
    // A command's --timeout bounds its reads too (a --cacert or --jwt-file FIFO nobody writes).
    if let Some(limit) = command.timeout() {
        input::set_time_limit(limit);
        // And every request, page and retry of the run: one deadline, not one a request.
        qs_jwt::http::set_deadline(limit);
    }
    command.run(now)
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
        // A report lost after Qlik changed: the change stays, and the error says so.
        let err = match output.changed {
            Some(changed) => error::UserError::runtime(format!(
                "{changed}, and Qlik holds that change, but its report could not be written: \
                 {err:#}"
            ))
            .with_hint(
                "run the same command again with a standard output that takes the report: it \
                 reads what Qlik holds now and changes only what still differs, so a rerun \
                 converges",
            )
            .into(),
            None => err,
        };
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
        let text = if std::io::IsTerminal::is_terminal(&std::io::stdout()) && log::colour_allowed()
        {
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
    let args: Vec<_> = std::env::args_os().collect();
    let text = cli::render_clap_for(err, colour, &args);
    if !stdout_closed
        && let Some(json) =
            commands::usage_failure_json(&args, &cli::render_clap_for(err, false, &args))
    {
        // As after parsing: a script that asked for JSON reads one object, whatever stderr gets.
        let _ = stdio::print_product(&json);
    }
    log::eprint_line(text.trim_end());
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}
