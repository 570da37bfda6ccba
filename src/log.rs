//! Log lines on standard error, `LEVEL message`, in qs-jwt 1.x's level names.
//!
//! qs-jwt's five levels sit on tracing's: `verbose` is tracing's DEBUG and `debug` is TRACE, so
//! in this code `debug!` writes a verbose line and `trace!` a debug line (header and payload).

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::{LogLevel, OutputArgs};

/// Starts logging at the level the options ask for. `--minimal-output` hides info lines unless
/// a more verbose level was asked for explicitly.
pub fn init(output: &OutputArgs) {
    let level = match (output.minimal_output, output.loglevel) {
        (true, LogLevel::Info) => LogLevel::Warning,
        (_, level) => level,
    };
    let max_level = match level {
        LogLevel::Error => Level::ERROR,
        LogLevel::Warning => Level::WARN,
        LogLevel::Info => Level::INFO,
        LogLevel::Verbose => Level::DEBUG,
        LogLevel::Debug => Level::TRACE,
    };
    let colour = colour_on_stderr();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(max_level)
        .with_ansi(colour)
        .event_format(LevelAndMessage { colour })
        .init();
}

/// Colour only for a person at a terminal, and never when NO_COLOR is set (no-color.org).
pub fn colour_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
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
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
