//! The log options every command shares.

use clap::{Args, ValueEnum};

use crate::log::Verbosity;

#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct LogArgs {
    /// How much to log on standard error
    #[arg(long, value_name = "level", value_enum, default_value_t = LogLevel::Info, ignore_case = true)]
    pub loglevel: LogLevel,
}

/// qs-jwt 1.x's log levels, quietest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum LogLevel {
    Error,
    #[value(alias = "warn")]
    Warning,
    Info,
    Verbose,
    Debug,
}

impl From<LogLevel> for Verbosity {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => Verbosity::Error,
            LogLevel::Warning => Verbosity::Warning,
            LogLevel::Info => Verbosity::Info,
            LogLevel::Verbose => Verbosity::Verbose,
            LogLevel::Debug => Verbosity::Debug,
        }
    }
}
