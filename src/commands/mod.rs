//! The commands, one module each: parse's plain inputs in, the lower modules asked, the product
//! out. No command imports another; each command's args type implements [`Run`], which `main`
//! calls. `connect` (flags and environment made into Qlik clients, Qlik's refusals in words) and
//! `Output` are shared, not commands.

pub mod completions;
pub mod connect;
pub mod create;
pub mod decode;
pub mod doctor;
pub mod key;
pub mod login;
pub mod oauth;
pub mod oauth_client;
mod output;
pub mod prove;
pub mod serve;
pub mod setup;
pub mod stop;

use std::ffi::OsString;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::output::LogLevel;
use crate::cli::{Cli, Command};
use crate::error;

pub use output::Output;

/// A random id of 24 letters and digits (from 62: about 143 bits, URL-safe as they are): a
/// Qlik Cloud token's `jti`, and its `sub` when none is given.
pub fn random_id() -> String {
    use rand::RngExt;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// What `main` asks of a command, implemented by its clap args type in the command's module.
/// A new command is its args type, its module, and one line in `cli`'s list of commands.
pub trait Run {
    /// --loglevel.
    fn log_level(&self) -> LogLevel;

    /// Whether --minimal-output hides info lines.
    fn minimal_output(&self) -> bool {
        false
    }

    /// The command's --timeout, which bounds its reads of files too; None for commands that
    /// have none (their reads get input's own limit).
    fn timeout(&self) -> Option<Duration> {
        None
    }

    /// Whether a failure is a JSON object on stdout too (`--output json`; decode's
    /// `--minimal-output`).
    fn json_failure(&self) -> bool {
        false
    }

    /// The failure object when [`Run::json_failure`]: `{"error": {"detail", "hint"}}` (and
    /// `details`, the lines said before the error, when there are any); a login's and an OAuth
    /// request's have the keys of their reports.
    fn failure_object(&self, detail: &str, hint: Option<&str>, details: &[String]) -> String {
        error_object(detail, hint, details)
    }

    /// Runs the command; `main` delivers what it prints.
    fn run(&self, now: SystemTime) -> Result<Output>;

    /// What asks for JSON failures on the command line, for a usage error clap finds before
    /// the args exist.
    fn json_asked_by() -> JsonAskedBy
    where
        Self: Sized,
    {
        JsonAskedBy::Nothing
    }
}

/// What `main` runs, and what asks for JSON failures, for each command of `cli`'s list.
macro_rules! command_dispatch {
    ($($(#[$attribute:meta])* $variant:ident($args:ty),)*) => {
        impl Command {
            /// The command's args, as `main` runs them.
            pub fn runner(&self) -> &dyn Run {
                match self {
                    $(Command::$variant(args) => args,)*
                }
            }

            /// What asks for JSON failures in the subcommand clap names `name`.
            pub fn json_asked_by(name: &str) -> JsonAskedBy {
                $(if name == crate::cli::subcommand_name(stringify!($variant)) {
                    return <$args as Run>::json_asked_by();
                })*
                JsonAskedBy::Nothing
            }
        }
    };
}
crate::cli::for_each_command!(command_dispatch);

/// What, on the command line, makes a command's failures JSON objects.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum JsonAskedBy {
    Nothing,
    /// `--output json` (`--output=json`), where the command's `--output` takes `json`.
    OutputJson,
    /// A flag of its own: decode's `--minimal-output`.
    Flag(&'static str),
}

/// With JSON output asked for, a failure as the JSON object on stdout; None for text output.
pub fn failure_json(command: &dyn Run, err: &anyhow::Error) -> Option<String> {
    if !command.json_failure() {
        return None;
    }
    let (detail, hint, details) = error::parts_for_json(err);
    Some(command.failure_object(&detail, hint.as_deref(), &details))
}

fn error_object(detail: &str, hint: Option<&str>, details: &[String]) -> String {
    let mut error = serde_json::json!({ "detail": detail, "hint": hint });
    if !details.is_empty() {
        error["details"] = serde_json::json!(details);
    }
    crate::render::json_for_people(&serde_json::json!({ "error": error }), &[])
}

/// Whether the words typed ask for JSON failures: the command clap finds among them, what its
/// [`Run::json_asked_by`] says, and its `--output`'s possible values as clap defines them.
fn json_asked_in(words: &[&str]) -> bool {
    let cli = Cli::command();
    let Some(sub) = words
        .iter()
        .filter(|w| !w.starts_with('-'))
        .take(1)
        .find_map(|w| cli.find_subcommand(w))
    else {
        return false;
    };
    match Command::json_asked_by(sub.get_name()) {
        JsonAskedBy::Nothing => false,
        JsonAskedBy::Flag(flag) => words.contains(&flag),
        JsonAskedBy::OutputJson => {
            let takes_json = sub.get_arguments().any(|arg| {
                arg.get_long() == Some("output")
                    && arg
                        .get_possible_values()
                        .iter()
                        .any(|value| value.matches("json", false))
            });
            takes_json
                && (words.contains(&"--output=json")
                    || words.windows(2).any(|pair| pair == ["--output", "json"]))
        }
    }
}

/// A usage error that clap found before the command existed, as the JSON object a script that
/// asked for JSON reads (`error.detail`, `error.hint`, as every failure object has), when the
/// words typed ask for it ([`Run::json_asked_by`]). `message` is the error as shown on stderr (redacted, escaped); its
/// first line is the detail, a `tip:` line the hint.
pub fn usage_failure_json(args: &[OsString], message: &str) -> Option<String> {
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    if !json_asked_in(&words) {
        return None;
    }
    // The first paragraph is the error (a list of missing options goes on below its first
    // line), on one line.
    let paragraph: Vec<&str> = message
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .collect();
    let joined = paragraph.join(" ");
    let detail = joined.strip_prefix("error:").unwrap_or(&joined).trim();
    let hint = message
        .lines()
        .find_map(|line| line.trim().strip_prefix("tip:").map(str::trim));
    let json = serde_json::json!({
        "error": { "code": "usage", "detail": detail, "hint": hint },
    });
    Some(crate::render::json_for_people(&json, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_command_says_what_asks_for_its_json_failures() {
        assert_eq!(
            Command::json_asked_by("decode"),
            JsonAskedBy::Flag("--minimal-output")
        );
        assert_eq!(
            Command::json_asked_by("login-qseow"),
            JsonAskedBy::OutputJson
        );
        assert_eq!(Command::json_asked_by("setup-qseow"), JsonAskedBy::Nothing);
    }

    fn args(words: &[&str]) -> Vec<OsString> {
        std::iter::once("qs-jwt")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn a_usage_error_is_json_only_where_json_was_asked() {
        let message = "error: unexpected argument '--bogus' found\n\n  tip: to pass '--bogus' as \
                       a value, use '-- --bogus'\n\nUsage: qs-jwt create-qseow [OPTIONS]";
        let json = usage_failure_json(&args(&["create-qseow", "--output", "json"]), message);
        let value: serde_json::Value = serde_json::from_str(&json.unwrap()).unwrap();
        assert_eq!(value["error"]["code"], "usage");
        assert_eq!(
            value["error"]["detail"],
            "unexpected argument '--bogus' found"
        );
        assert_eq!(
            value["error"]["hint"],
            "to pass '--bogus' as a value, use '-- --bogus'"
        );
        let missing = "error: the following required arguments were not provided:\n  \
                       --audience <audience>\n\nUsage: qs-jwt create-qseow";
        let json = usage_failure_json(&args(&["login-qseow", "--output=json"]), missing).unwrap();
        assert!(json.contains(
            r#""detail":"the following required arguments were not provided: --audience <audience>""#
        ));
        assert!(usage_failure_json(&args(&["decode", "--minimal-output"]), message).is_some());
        // Text output, setup's --output json (the body for Qlik's API), no command at all.
        assert!(usage_failure_json(&args(&["create-qseow"]), message).is_none());
        assert!(usage_failure_json(&args(&["setup-qseow", "--output", "json"]), message).is_none());
        assert!(usage_failure_json(&args(&["--output", "json"]), message).is_none());
    }
}
