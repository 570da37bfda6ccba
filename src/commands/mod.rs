//! The commands, one module each: parse's plain inputs in, the lower modules asked, the product
//! out. No command imports another; `main` dispatches here.

pub mod cloud_api;
pub mod completions;
pub mod create;
pub mod decode;
pub mod doctor;
pub mod login;
pub mod oauth;
pub mod repository_api;
pub mod setup;

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
