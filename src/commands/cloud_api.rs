//! Qlik Cloud's REST API as the commands that use a tenant admin's API key reach it
//! (setup-qscloud --apply and --remove, doctor-qscloud): the client for --tenant, the API key
//! from QLIK_API_KEY or --api-key-file, and Qlik's refusals in words. Shared, not a command.

use std::path::Path;
use std::time::Duration;

use crate::error::UserError;
use crate::http::{Client, ClientOptions, Server};
use crate::input::{self, FileFlag};
use crate::keys;
use crate::qlik::cloud::ApiFailure;
use crate::secret::SecretText;

/// The environment variable that holds the API key when --api-key-file is not given.
pub const API_KEY_VARIABLE: &str = "QLIK_API_KEY";

const API_KEY_FILE: FileFlag = FileFlag {
    flag: "--api-key-file",
    holds: "API key",
    format: "text",
    der_hint: None,
};

/// How a command reaches the tenant's API, in plain values.
pub struct TenantConnection<'a> {
    /// --tenant as given: a host name or an https URL.
    pub tenant: &'a str,
    pub api_key_file: Option<&'a Path>,
    pub cacert: Option<&'a Path>,
    pub insecure: bool,
    pub timeout: Duration,
    /// What needs the API key, for the usage error when there is none: "--apply and --remove".
    pub needed_by: &'a str,
}

/// The client for --tenant and the API key, read before anything is sent.
pub fn connect(args: &TenantConnection<'_>) -> Result<(Client, SecretText), UserError> {
    let tenant = args.tenant;
    let server = Server::parse_tenant(tenant)?;
    let api_key = api_key(args.api_key_file, args.needed_by)?;
    let client = Client::new(
        server,
        &ClientOptions {
            cacert: args.cacert,
            insecure: args.insecure,
            timeout: args.timeout,
            sends: "the API key",
            client_certificate: None,
        },
    )?;
    Ok((client, api_key))
}

/// The API key from --api-key-file (a file, or - for standard input) or QLIK_API_KEY.
fn api_key(file: Option<&Path>, needed_by: &str) -> Result<SecretText, UserError> {
    let (text, origin) = match file {
        Some(path) if path.as_os_str() == "-" => (
            SecretText::new(input::read_stdin(
                "--api-key-file",
                "the API key",
                "... | qs-jwt setup-qscloud ... --api-key-file -",
            )?),
            "standard input (--api-key-file -)".to_owned(),
        ),
        // The key itself where its file's name belongs: an error quoting the "name" would
        // print the key.
        Some(path) if !path.exists() && looks_like_api_key(path) => {
            return Err(UserError::usage(
                "--api-key-file is given an API key itself (not shown here) where the name of a \
                 file that holds it belongs; put the key in QLIK_API_KEY, or in a file readable \
                 by you only and give that file's name",
            ));
        }
        Some(path) => {
            keys::warn_if_others_can_read(path, API_KEY_FILE.flag);
            (
                SecretText::new(input::read_file(path, &API_KEY_FILE)?),
                format!("--api-key-file '{}'", path.display()),
            )
        }
        None => match std::env::var(API_KEY_VARIABLE) {
            Ok(value) => (SecretText::new(value), API_KEY_VARIABLE.to_owned()),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(UserError::runtime(format!(
                    "{API_KEY_VARIABLE} is not valid text; set it to the API key"
                )));
            }
            Err(std::env::VarError::NotPresent) => {
                return Err(UserError::usage(format!(
                    "{needed_by} need a tenant admin's API key: set {API_KEY_VARIABLE} or give \
                     --api-key-file <file|->"
                )));
            }
        },
    };
    let key = SecretText::new(text.expose().trim());
    if key.expose().is_empty() {
        return Err(UserError::runtime(format!(
            "{origin} is empty; it must hold the API key"
        )));
    }
    // An API key is one word (a JWT); anything else would break the header or be a wrong file,
    // which is not quoted: it may be some other secret.
    if key
        .expose()
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(UserError::runtime(format!(
            "{origin} holds more than one word; it must hold the API key alone, on one line"
        )));
    }
    Ok(key)
}

/// Whether `path` is a Qlik Cloud API key rather than a file's name: a JWT, three base64url
/// parts whose header starts as every JSON object does (`{"` is `eyJ`).
fn looks_like_api_key(path: &Path) -> bool {
    let Some(text) = path.to_str() else {
        return false;
    };
    let parts: Vec<&str> = text.trim().split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// A call that failed, in words: Qlik's errors with a hint, the API key never quoted.
pub fn failure(failure: ApiFailure, action: &str, tenant: &str, api_key: &SecretText) -> UserError {
    let (status, errors, trace_id) = match failure {
        ApiFailure::Transport(err) => return err,
        ApiFailure::Unreadable { status, what } => {
            return UserError::runtime(format!(
                "cannot {action}: {tenant} answered HTTP {status}, but {what}"
            ))
            .with_hint(
                "check that --tenant is the Qlik Cloud tenant (a proxy in between may answer \
                 for it)",
            );
        }
        ApiFailure::Refused {
            status,
            errors,
            trace_id,
        } => (status, errors, trace_id),
    };
    let said: Vec<String> = errors
        .iter()
        .map(|e| {
            let parts: Vec<&str> = [&e.title, &e.detail, &e.code]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            parts.join(", ")
        })
        .filter(|s| !s.is_empty())
        .collect();
    let mut said = if said.is_empty() {
        String::new()
    } else {
        format!(": {}", said.join("; "))
    };
    if !api_key.expose().is_empty() && said.contains(api_key.expose()) {
        said = said.replace(api_key.expose(), "[the API key]");
    }
    let has_trace = trace_id.is_some();
    let trace = trace_id
        .map(|t| format!(" (traceId {t})"))
        .unwrap_or_default();
    let (message, hint) = match status {
        401 => (
            format!("{tenant} refused the API key (HTTP 401){said}{trace}"),
            "the key is wrong, expired or another tenant's: make one in the tenant's profile \
             settings (API keys) and give it in QLIK_API_KEY or --api-key-file"
                .to_owned(),
        ),
        403 => (
            format!("{tenant} does not let the API key's user {action} (HTTP 403){said}{trace}"),
            "identity providers are managed by tenant admins: use the API key of a user with \
             the TenantAdmin role"
                .to_owned(),
        ),
        400 => (
            format!("{tenant} refused to {action} (HTTP 400){said}{trace}"),
            "qs-jwt setup-qscloud without --apply prints the body it sends; check the issuer, \
             key ID, description or certificate that Qlik names"
                .to_owned(),
        ),
        404 => (
            format!("cannot {action}: HTTP 404 from {tenant}{said}{trace}"),
            "check --tenant: it must be the Qlik Cloud tenant's host, such as \
             mytenant.eu.qlikcloud.com"
                .to_owned(),
        ),
        429 => (
            format!("cannot {action}: {tenant} limits the rate (HTTP 429){said}{trace}"),
            "wait a minute, then try again".to_owned(),
        ),
        // Qlik's API answers a call with an API key itself; a redirect is a sign-in page or a
        // proxy in between, not a reason to wait.
        300..400 => (
            format!(
                "cannot {action}: {tenant} answered with a redirect (HTTP {status}), as a \
                 sign-in page or a proxy in between does{said}{trace}"
            ),
            "check --tenant: it must be the Qlik Cloud tenant's host, such as \
             mytenant.eu.qlikcloud.com, reached without a proxy that signs in"
                .to_owned(),
        ),
        _ if has_trace => (
            format!("cannot {action}: HTTP {status} from {tenant}{said}{trace}"),
            "try again later; if it persists, give Qlik's support the traceId".to_owned(),
        ),
        _ => (
            format!("cannot {action}: HTTP {status} from {tenant}{said}"),
            "try again later".to_owned(),
        ),
    };
    UserError::runtime(message).with_hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qlik::cloud;

    #[test]
    fn qliks_errors_are_said_without_the_api_key() {
        let key = SecretText::new("sekrit-api-key");
        let err = failure(
            ApiFailure::Refused {
                status: 400,
                errors: cloud::all_errors(
                    br#"{"errors": [{"title": "Invalid request", "detail": "bad sekrit-api-key"}]}"#,
                )
                .0,
                trace_id: Some("t1".to_owned()),
            },
            "create the identity provider",
            "https://t.example.com",
            &key,
        );
        let text = err.to_string();
        assert!(!text.contains("sekrit"), "{text}");
        assert!(
            text.contains("HTTP 400") && text.contains("traceId t1"),
            "{text}"
        );
    }
}
