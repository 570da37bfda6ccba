//! setup-qscloud --apply and --remove: the identity provider configured on the tenant through
//! Qlik Cloud's identity-providers API (`qlik::cloud`, sources there), with a tenant admin's API
//! key. A key is never replaced in place (Qlik's PATCH changes the description only): a new
//! key is a second identity provider with a new key ID, and the old one is removed after a
//! login with the new one worked (docs/qlik-setup.md, "Rotating the key").

use std::path::Path;

use anyhow::Result;
use serde_json::Value;
use tracing::{info, warn};

use crate::Output;
use crate::cli::setup::TenantArgs;
use crate::error::UserError;
use crate::http::{Client, ClientOptions, Server};
use crate::input::{self, FileFlag};
use crate::keys;
use crate::qlik::cloud::{self, ApiFailure, IdentityProvider};
use crate::secret::SecretText;

/// The environment variable that holds the API key when --api-key-file is not given.
pub const API_KEY_VARIABLE: &str = "QLIK_API_KEY";

const API_KEY_FILE: FileFlag = FileFlag {
    flag: "--api-key-file",
    holds: "API key",
    format: "text",
    der_hint: None,
};

/// What the tenant is asked for: the identity provider with this issuer and key ID.
pub struct Wanted<'a> {
    pub issuer: &'a str,
    pub key_id: &'a str,
}

/// `--apply`: creates the identity provider from `body` unless the tenant has one with this
/// issuer and key ID; the same key is success without a change, another key is an error.
pub fn apply(
    args: &TenantArgs,
    wanted: &Wanted<'_>,
    body: &Value,
    one_line_pem: &str,
) -> Result<String> {
    let (client, api_key) = connect(args)?;
    let tenant = client.server().to_string();
    let providers = cloud::list_identity_providers(&client, &api_key)
        .map_err(|f| failure(f, "list the identity providers", &tenant, &api_key))?;
    let existing = providers
        .iter()
        .find_map(|p| p.key_for(wanted.issuer, wanted.key_id).map(|k| (p, k)));
    let Some((provider, key)) = existing else {
        let created = cloud::create_identity_provider(&client, &api_key, body)
            .map_err(|f| failure(f, "create the identity provider", &tenant, &api_key))?;
        info!(
            "created the identity provider {} on {tenant}: issuer '{}', key ID '{}'",
            created.id, wanted.issuer, wanted.key_id
        );
        return Ok(super::json_text(&created.json));
    };
    match &key.pem {
        Some(pem) if same_pem(pem, one_line_pem) => {
            info!(
                "{tenant} has the identity provider {} with issuer '{}', key ID '{}' and this key \
                 already: nothing changed",
                provider.id, wanted.issuer, wanted.key_id
            );
        }
        None => warn!(
            "{tenant} has the identity provider {} with issuer '{}' and key ID '{}', but did not \
             return its key, so qs-jwt cannot compare it with yours: nothing changed",
            provider.id, wanted.issuer, wanted.key_id
        ),
        Some(_) => {
            return Err(UserError::runtime(format!(
                "{tenant} has the identity provider {} with issuer '{}' and key ID '{}', but \
                 with another key; nothing changed (Qlik does not replace an identity \
                 provider's key)",
                provider.id, wanted.issuer, wanted.key_id
            ))
            .with_hint(format!(
                "a new key gets a new key ID: run again with --keyid <new id>, prove a login \
                 with it, then remove the old one with --keyid '{}' --remove (docs/qlik-setup.md, \
                 \"Rotating the key (Qlik Cloud)\")",
                wanted.key_id
            ))
            .into());
        }
    }
    if !provider.active {
        warn!(
            "the identity provider {} is not active: Qlik accepts no token through it until an \
             admin activates it in the management console",
            provider.id
        );
    }
    Ok(super::json_text(&provider.json))
}

/// `--remove`: deletes the identity provider with this issuer and key ID, and nothing else;
/// the last active JWT identity provider of the issuer only with `--force`.
pub fn remove(args: &TenantArgs, wanted: &Wanted<'_>) -> Result<Output> {
    let (client, api_key) = connect(args)?;
    let tenant = client.server().to_string();
    let providers = cloud::list_identity_providers(&client, &api_key)
        .map_err(|f| failure(f, "list the identity providers", &tenant, &api_key))?;
    let matching: Vec<&IdentityProvider> = providers
        .iter()
        .filter(|p| p.key_for(wanted.issuer, wanted.key_id).is_some())
        .collect();
    let of_issuer =
        |p: &&IdentityProvider| p.is_jwt() && p.issuer.as_deref() == Some(wanted.issuer);
    let target = match matching.as_slice() {
        [one] => *one,
        [] => {
            let key_ids: Vec<String> = providers
                .iter()
                .filter(of_issuer)
                .flat_map(|p| p.keys.iter().map(|k| format!("'{}'", k.kid)))
                .collect();
            let hint = if key_ids.is_empty() {
                format!(
                    "the tenant has no JWT identity provider with issuer '{}'",
                    wanted.issuer
                )
            } else {
                format!(
                    "its identity providers with issuer '{}' have the key IDs {}",
                    wanted.issuer,
                    key_ids.join(", ")
                )
            };
            return Err(UserError::runtime(format!(
                "{tenant} has no JWT identity provider with issuer '{}' and key ID '{}'; nothing \
                 removed",
                wanted.issuer, wanted.key_id
            ))
            .with_hint(hint)
            .into());
        }
        many => {
            let ids: Vec<&str> = many.iter().map(|p| p.id.as_str()).collect();
            return Err(UserError::runtime(format!(
                "{tenant} has {} identity providers with issuer '{}' and key ID '{}' ({}); \
                 nothing removed",
                many.len(),
                wanted.issuer,
                wanted.key_id,
                ids.join(", ")
            ))
            .with_hint("remove the one you mean in the management console (Administration > Identity provider)")
            .into());
        }
    };
    let other_active = providers
        .iter()
        .filter(of_issuer)
        .filter(|p| p.id != target.id && p.active)
        .count();
    if target.active && other_active == 0 && !args.force {
        return Err(UserError::runtime(format!(
            "the identity provider {} is the last active JWT identity provider of issuer '{}' \
             on {tenant}: without it no token of that issuer logs in; nothing removed",
            target.id, wanted.issuer
        ))
        .with_hint(
            "configure the new key first (--keyid <new id> --apply) and prove a login with it; \
             or add --force to remove it all the same",
        )
        .into());
    }
    cloud::delete_identity_provider(&client, &api_key, &target.id).map_err(|f| {
        failure(
            f,
            &format!("delete the identity provider {}", target.id),
            &tenant,
            &api_key,
        )
    })?;
    info!(
        "removed the identity provider {} from {tenant}: issuer '{}', key ID '{}'",
        target.id, wanted.issuer, wanted.key_id
    );
    Ok(Output::product(super::json_text(&target.json)))
}

/// Whether two PEM texts hold the same thing: Qlik may give back line breaks or spaces.
fn same_pem(a: &str, b: &str) -> bool {
    let bare = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    bare(a) == bare(b)
}

/// The client for --tenant and the API key, read before anything is sent.
fn connect(args: &TenantArgs) -> Result<(Client, SecretText), UserError> {
    let tenant = args.tenant.as_deref().unwrap_or_default();
    let mut server = Server::parse(tenant, "--tenant", true)?;
    if !server.base_path.is_empty() {
        warn!(
            "--tenant: the path '{}' is ignored; Qlik Cloud's API is at the tenant's root",
            server.base_path
        );
        server.base_path.clear();
    }
    let api_key = api_key(args.api_key_file.as_deref())?;
    let client = Client::new(
        server,
        &ClientOptions {
            cacert: args.cacert.as_deref(),
            insecure: args.insecure,
            timeout: args.timeout,
            sends: "the API key",
            client_certificate: None,
        },
    )?;
    Ok((client, api_key))
}

/// The API key from --api-key-file (a file, or - for standard input) or QLIK_API_KEY.
fn api_key(file: Option<&Path>) -> Result<SecretText, UserError> {
    let (text, origin) = match file {
        Some(path) if path.as_os_str() == "-" => (
            SecretText::new(input::read_stdin(
                "--api-key-file",
                "the API key",
                "... | qs-jwt setup-qscloud ... --api-key-file -",
            )?),
            "standard input (--api-key-file -)".to_owned(),
        ),
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
                    "--apply and --remove need a tenant admin's API key: set {API_KEY_VARIABLE} \
                     or give --api-key-file <file|->"
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

/// A call that failed, in words: Qlik's errors with a hint, the API key never quoted.
fn failure(failure: ApiFailure, action: &str, tenant: &str, api_key: &SecretText) -> UserError {
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
        _ => (
            format!("cannot {action}: HTTP {status} from {tenant}{said}{trace}"),
            "try again later; if it persists, give Qlik's support the traceId".to_owned(),
        ),
    };
    UserError::runtime(message).with_hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pems_are_compared_without_white_space() {
        assert!(same_pem(
            "-----BEGIN X-----\nAB\nCD\n-----END X-----\n",
            "-----BEGIN X-----ABCD-----END X-----"
        ));
        assert!(!same_pem(
            "-----BEGIN X-----AB-----END X-----",
            "-----BEGIN X-----AC-----END X-----"
        ));
    }

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
