//! Log lines on standard error, `LEVEL message`, in qs-jwt 1.x's level names.
//!
//! qs-jwt's five levels sit on tracing's: `verbose` is tracing's DEBUG and `debug` is TRACE. The
//! code logs with this module's `verbose!` and `debug!`, named for the level the user asks for,
//! and tracing's `error!`, `warn!` and `info!`.

use std::fmt;
use std::io::{IsTerminal, Write as _};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::{error, render};

/// How much to log, in qs-jwt 1.x's level names, quietest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Error,
    Warning,
    Info,
    Verbose,
    Debug,
}

/// A verbose line (`--loglevel verbose`): tracing's DEBUG level.
#[macro_export]
macro_rules! verbose {
    ($($arg:tt)*) => { ::tracing::debug!($($arg)*) };
}

/// A debug line (`--loglevel debug`), the most detailed: tracing's TRACE level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { ::tracing::trace!($($arg)*) };
}

/// Starts logging at the level the options ask for. `--minimal-output` hides info lines unless
/// a more verbose level was asked for explicitly.
pub fn init(level: Verbosity, minimal_output: bool) {
    let level = match (minimal_output, level) {
        (true, Verbosity::Info) => Verbosity::Warning,
        (_, level) => level,
    };
    let max_level = match level {
        Verbosity::Error => Level::ERROR,
        Verbosity::Warning => Level::WARN,
        Verbosity::Info => Level::INFO,
        Verbosity::Verbose => Level::DEBUG,
        Verbosity::Debug => Level::TRACE,
    };
    // Fails only if a subscriber is already set, and main sets one once.
    let _ =
        tracing::subscriber::set_global_default(subscriber(max_level, colour_on_stderr(), || {
            LossyStderr
        }));
}

/// Writes `text` and a newline to standard error. A standard error that is closed or a broken
/// pipe loses the text: it is only talk about the run, and the run's product and exit code
/// must not depend on it (`eprintln!` would panic instead).
pub fn eprint_line(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}").and_then(|()| stderr.flush());
}

/// Standard error for log lines, dropping what cannot be written (see [`eprint_line`]).
struct LossyStderr;

impl std::io::Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// The subscriber: `LevelAndMessage` lines up to `max_level`, written to `writer`.
fn subscriber<W>(max_level: Level, colour: bool, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_max_level(max_level)
        // Its own report of a failed write is an eprintln!, which panics on a broken stderr.
        .log_internal_errors(false)
        // LevelAndMessage colours the level itself; tracing-subscriber's own ANSI support is a
        // crate feature we leave out, and asking for it without the feature panics.
        .with_ansi(false)
        .event_format(LevelAndMessage { colour })
        .finish()
}

/// A warning shown whatever `--loglevel` says (`--insecure`'s: a run that sends a token without
/// checking who receives it says so even at `--loglevel error`), in the same `WARN` form.
pub fn warn_always(message: &str) {
    let name = if colour_on_stderr() {
        "\x1b[33mWARN\x1b[0m"
    } else {
        "WARN"
    };
    eprint_line(&format!(
        "{name} {}",
        render::escape(&error::redact_keys(message))
    ));
}

/// Colour only for a person at a terminal, and never when NO_COLOR is set (no-color.org) or
/// the terminal says it has none (`TERM=dumb`: Emacs shells, some CI log viewers).
pub fn colour_on_stderr() -> bool {
    std::io::stderr().is_terminal() && colour_allowed()
}

/// Whether the environment allows colour at all: NO_COLOR unset or empty, TERM not `dumb`.
pub fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|term| term != "dumb")
}

struct LevelAndMessage {
    colour: bool,
}

impl<S, N> FormatEvent<S, N> for LevelAndMessage
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let (name, ansi) = match *event.metadata().level() {
            Level::ERROR => ("ERROR", "\x1b[31m"),
            Level::WARN => ("WARN", "\x1b[33m"),
            Level::INFO => ("INFO", "\x1b[32m"),
            Level::DEBUG => ("VERBOSE", "\x1b[34m"),
            Level::TRACE => ("DEBUG", "\x1b[35m"),
        };
        if self.colour {
            write!(writer, "{ansi}{name}\x1b[0m ")?;
        } else {
            write!(writer, "{name} ")?;
        }
        // Messages quote file names, arguments and claims: shown, never obeyed by the terminal.
        // Whatever the level, a secret the run loaded is redacted, and so is key text it did not
        // load (error::redact_keys); names, ids and the debug lines' claims are shown as given.
        let mut message = String::new();
        ctx.field_format()
            .format_fields(Writer::new(&mut message), event)?;
        let message = error::redact_keys(&message);
        writeln!(writer, "{}", render::escape(&message))
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn log_all_levels(max_level: Level, colour: bool) -> String {
        let captured = Captured::default();
        tracing::subscriber::with_default(subscriber(max_level, colour, captured.clone()), || {
            tracing::error!("e");
            tracing::warn!("w");
            tracing::info!("i");
            tracing::debug!("v");
            tracing::trace!("d");
        });
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn lines_are_level_and_message_in_qs_jwt_level_names() {
        assert_eq!(
            log_all_levels(Level::TRACE, false),
            "ERROR e\nWARN w\nINFO i\nVERBOSE v\nDEBUG d\n"
        );
        assert_eq!(log_all_levels(Level::WARN, false), "ERROR e\nWARN w\n");
    }

    #[test]
    fn messages_are_escaped() {
        let captured = Captured::default();
        tracing::subscriber::with_default(subscriber(Level::INFO, false, captured.clone()), || {
            tracing::info!("file '{}'", "a\x1b[2Jb\r");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "INFO file 'a\\x1b[2Jb\\r'\n");
    }

    #[test]
    fn colour_marks_the_level_only() {
        assert_eq!(
            log_all_levels(Level::WARN, true),
            "\x1b[31mERROR\x1b[0m e\n\x1b[33mWARN\x1b[0m w\n"
        );
    }
}
