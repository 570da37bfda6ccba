//! The commands, one module each: parse's plain inputs in, the lower modules asked, the product
//! out. No command imports another; `main` dispatches here.

pub mod cloud_api;
pub mod completions;
pub mod create;
pub mod decode;
pub mod doctor;
pub mod key;
pub mod login;
pub mod oauth;
pub mod repository_api;
pub mod setup;

use std::ffi::OsString;

use crate::cli::Command;
use crate::cli::create::TokenFormat;
use crate::cli::doctor::DoctorFormat;
use crate::error;

/// With JSON output asked for (`--output json`; decode's `--minimal-output`), a failure is a JSON
/// object on stdout too: a login's has the keys of a refused login's report, the others
/// `{"error": {"detail", "hint"}}` (and `details`, the lines said before the error, when there
/// are any). None for text output.
pub fn failure_json(command: &Command, err: &anyhow::Error) -> Option<String> {
    let (detail, hint, details) = error::parts_for_json(err);
    if let Some(json) = login::failure_json(command, &detail, hint.as_deref()) {
        return Some(json);
    }
    if let Some(json) = oauth::failure_json(command, &detail, hint.as_deref()) {
        return Some(json);
    }
    let json_asked = match command {
        Command::CreateKey(args) => args.output == crate::cli::key::KeyFormat::Json,
        Command::CreateQseow(args) => args.output.output == TokenFormat::Json,
        Command::CreateQscloud(args) => args.output.output == TokenFormat::Json,
        Command::Decode(args) => args.minimal_output,
        Command::DoctorQscloud(args) => args.output.output == DoctorFormat::Json,
        Command::DoctorQseow(args) => args.output.output == DoctorFormat::Json,
        _ => false,
    };
    if !json_asked {
        return None;
    }
    let mut error = serde_json::json!({ "detail": detail, "hint": hint });
    if !details.is_empty() {
        error["details"] = serde_json::json!(details);
    }
    let json = serde_json::json!({ "error": error }).to_string();
    Some(crate::render::json_for_terminal(&json).into_owned())
}

/// The commands whose `--output json` makes a failure a JSON object (decode: `--minimal-output`).
const JSON_FAILURE_COMMANDS: [&str; 8] = [
    "create-key",
    "create-qseow",
    "create-qscloud",
    "login-qscloud",
    "login-qseow",
    "oauth-qscloud",
    "doctor-qscloud",
    "doctor-qseow",
];

/// A usage error that clap found before the command existed, as the JSON object a script that
/// asked for JSON reads (`error.detail`, `error.hint`, as every failure object has), when the
/// words typed ask for it: the command is one of those above with `--output json`, or decode
/// with `--minimal-output`. `message` is the error as shown on stderr (redacted, escaped); its
/// first line is the detail, a `tip:` line the hint.
pub fn usage_failure_json(args: &[OsString], message: &str) -> Option<String> {
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    let command = *words.iter().find(|w| !w.starts_with('-'))?;
    let json_asked = if command == "decode" {
        words.contains(&"--minimal-output")
    } else {
        JSON_FAILURE_COMMANDS.contains(&command)
            && (words.contains(&"--output=json")
                || words.windows(2).any(|pair| pair == ["--output", "json"]))
    };
    if !json_asked {
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
    })
    .to_string();
    Some(crate::render::json_for_terminal(&json).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

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
