//! setup-qscloud --apply and --remove: the identity provider configured on the tenant through
//! Qlik Cloud's identity-providers API (`qlik::cloud`, sources there), with a tenant admin's API
//! key. A key is never replaced in place (Qlik's PATCH changes the description only): a new
//! key is a second identity provider with a new key ID, and the old one is removed after a
//! login with the new one worked (docs/qlik-setup.md, "Rotating the key").

use anyhow::Result;
use serde_json::Value;
use tracing::{info, warn};

use crate::cli::setup::TenantArgs;
use crate::commands::Output;
use crate::commands::connect::{TenantConnection, cloud_failure, tenant_with_api_key};
use crate::error::UserError;
use crate::keys;
use crate::qlik::cloud::{ApiFailure, IdentityProvider};

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
    let client = tenant_with_api_key(&tenant_connection(args))?;
    let tenant = client.server().to_string();
    let providers = client
        .identity_providers()
        .map_err(|f| cloud_failure(f, "list the identity providers", &client))?;
    let existing = providers
        .iter()
        .find_map(|p| p.key_for(wanted.issuer, wanted.key_id).map(|k| (p, k)));
    let Some((provider, key)) = existing else {
        let created = client.create_identity_provider(body).map_err(|f| {
            let unknown = !matches!(f, ApiFailure::Refused { .. });
            let err = cloud_failure(f, "create the identity provider", &client);
            if unknown {
                super::outcome_unknown(&err, "create the identity provider", &tenant)
            } else {
                err
            }
        })?;
        info!(
            "created the identity provider {} on {tenant}: issuer '{}', key ID '{}'",
            created.id, wanted.issuer, wanted.key_id
        );
        return Ok(super::json_text(&shown(&created)));
    };
    match &key.pem {
        Some(pem) if same_key(pem, one_line_pem) => {
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
    Ok(super::json_text(&shown(provider)))
}

/// An identity provider as printed: its documented fields only, each through the one
/// redaction; its certificates (public key text, the product) through the redaction of what
/// the run registered only.
fn shown(provider: &IdentityProvider) -> Value {
    let mut value = provider.documented();
    let mut pems = Vec::new();
    if let Some(keys) = static_keys(&mut value) {
        for key in keys {
            if let Some(Value::String(pem)) = key.get_mut("pem") {
                pems.push(crate::secret::redact_registered(pem).into_owned());
                *pem = String::new();
            }
        }
    }
    crate::render::redact_json(&mut value, &[]);
    if let Some(keys) = static_keys(&mut value) {
        let mut pems = pems.into_iter();
        for key in keys {
            if let Some(Value::String(pem)) = key.get_mut("pem") {
                *pem = pems.next().unwrap_or_default();
            }
        }
    }
    value
}

/// `--remove`: deletes the identity provider with this issuer and key ID, and nothing else;
/// the last active JWT identity provider of the issuer only with `--force`.
pub fn remove(args: &TenantArgs, wanted: &Wanted<'_>) -> Result<Output> {
    let client = tenant_with_api_key(&tenant_connection(args))?;
    let tenant = client.server().to_string();
    let providers = client
        .identity_providers()
        .map_err(|f| cloud_failure(f, "list the identity providers", &client))?;
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
            // Already gone (a second run, or one that overlapped): what --remove asks for is
            // true, so the rerun converges with exit 0, as --apply's does.
            let others = if key_ids.is_empty() {
                format!(
                    "it has no JWT identity provider with issuer '{}'",
                    wanted.issuer
                )
            } else {
                format!(
                    "its identity providers with issuer '{}' have the key IDs {}",
                    wanted.issuer,
                    key_ids.join(", ")
                )
            };
            info!(
                "{tenant} has no JWT identity provider with issuer '{}' and key ID '{}': nothing \
                 to remove, nothing changed ({others})",
                wanted.issuer, wanted.key_id
            );
            return Ok(Output::streamed(None));
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
    if let Err(failure) = client.delete_identity_provider(&target.id) {
        // Not found: another run that overlapped this one removed it after it was read. When
        // the list confirms it is gone, what --remove asks for is true: converge as a rerun does.
        let gone = matches!(failure, ApiFailure::Refused { status: 404, .. })
            && client
                .identity_providers()
                .is_ok_and(|now| now.iter().all(|p| p.id != target.id));
        if gone {
            info!(
                "the identity provider {} was removed meanwhile (by another run?): nothing to \
                 remove, nothing changed",
                target.id
            );
            return Ok(Output::streamed(None));
        }
        let action = format!("delete the identity provider {}", target.id);
        let unknown = !matches!(failure, ApiFailure::Refused { .. });
        let err = cloud_failure(failure, &action, &client);
        return Err(if unknown {
            super::outcome_unknown(&err, &action, &tenant)
        } else {
            err
        }
        .into());
    }
    info!(
        "removed the identity provider {} from {tenant}: issuer '{}', key ID '{}'",
        target.id, wanted.issuer, wanted.key_id
    );
    Ok(Output::product(super::json_text(&shown(target))))
}

fn tenant_connection(args: &TenantArgs) -> TenantConnection<'_> {
    TenantConnection {
        tenant: args.tenant.as_deref().unwrap_or_default(),
        api_key_file: args.api_key_file.as_deref(),
        cacert: args.cacert.as_deref(),
        insecure: args.insecure,
        timeout: args.timeout,
        needed_by: "setup-qscloud --apply or --remove",
    }
}

/// Whether the identity provider's key is the one given: by the public key (the one
/// comparison, `keys::same_public_key`), so that a renewed certificate of the key, or its bare
/// public key, is the same key; text compared without white space only when one cannot be read.
fn same_key(held: &str, given: &str) -> bool {
    keys::same_public_key(held, given).unwrap_or_else(|| same_pem(held, given))
}

fn static_keys(value: &mut Value) -> Option<&mut Vec<Value>> {
    value
        .get_mut("options")?
        .get_mut("staticKeys")?
        .as_array_mut()
}

/// Whether two PEM texts hold the same thing: Qlik may give back line breaks or spaces.
fn same_pem(a: &str, b: &str) -> bool {
    let bare = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    bare(a) == bare(b)
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
}
