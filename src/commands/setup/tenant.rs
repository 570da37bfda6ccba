//! setup-qscloud --apply and --remove: the identity provider configured on the tenant through
//! Qlik Cloud's identity-providers API (`qlik::cloud`, sources there), with a tenant admin's API
//! key. A key is never replaced in place (Qlik's PATCH changes the description only): a new
//! key is a second identity provider with a new key ID, and the old one is removed after a
//! login with the new one worked (docs/qlik-setup.md, "Rotating the key").

use anyhow::Result;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::cli::setup::TenantArgs;
use crate::commands::Output;
use crate::commands::connect::{TenantConnection, cloud_failure, tenant_with_api_key};
use crate::error::UserError;
use crate::keys;
use crate::qlik::cloud::{ApiFailure, IdentityProvider, StaticKey, Tenant};

use super::Plan;

/// What the tenant is asked for: the identity provider with this issuer and key ID.
pub struct Wanted<'a> {
    pub issuer: &'a str,
    pub key_id: &'a str,
}

/// `--apply`: creates the identity provider from `body` unless the tenant has one with this
/// issuer and key ID; the same key is success without a change, another key is an error.
/// Twins (identity providers with this issuer, key ID and key, made by runs that overlapped)
/// end as one: the one every run keeps (`keeper`) stays, the others are removed.
pub fn apply(
    args: &TenantArgs,
    wanted: &Wanted<'_>,
    body: &Value,
    one_line_pem: &str,
) -> Result<Output> {
    let client = tenant_with_api_key(&tenant_connection(args))?;
    let tenant = client.server().to_string();
    let providers = client
        .identity_providers()
        .map_err(|f| cloud_failure(f, "list the identity providers", &client))?;
    let mut plan = Plan::new(&tenant, args.dry_run);
    let matching: Vec<(&IdentityProvider, &StaticKey)> = providers
        .iter()
        .filter_map(|p| p.key_for(wanted.issuer, wanted.key_id).map(|k| (p, k)))
        .collect();
    if matching.is_empty() {
        plan.step(
            &format!(
                "create the identity provider: issuer '{}', key ID '{}'",
                wanted.issuer, wanted.key_id
            ),
            json!({"action": "create", "issuer": wanted.issuer, "key_id": wanted.key_id}),
        );
        if plan.dry_run() {
            return Ok(Output::product(plan.product()));
        }
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
        let kept = converge(&client, wanted, one_line_pem, created)?;
        return Ok(
            Output::product(super::json_text(&shown(&kept))).changed(format!(
                "--apply created the identity provider {} on {tenant} (issuer '{}', key ID '{}')",
                kept.id, wanted.issuer, wanted.key_id
            )),
        );
    }
    if let Some((provider, _)) = matching.iter().find(|(_, k)| {
        k.pem
            .as_deref()
            .is_some_and(|pem| !same_key(pem, one_line_pem))
    }) {
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
    let same: Vec<&IdentityProvider> = matching
        .iter()
        .filter(|(_, k)| k.pem.is_some())
        .map(|(p, _)| *p)
        .collect();
    let Some(provider) = keeper(&same).or_else(|| matching.first().map(|(p, _)| *p)) else {
        unreachable!("matching is not empty")
    };
    for twin in same.iter().filter(|p| p.id != provider.id) {
        plan.step(
            &format!(
                "remove the identity provider {}: a twin of {}, which stays (same issuer '{}', \
                 key ID '{}' and key)",
                twin.id, provider.id, wanted.issuer, wanted.key_id
            ),
            json!({"action": "remove", "id": twin.id, "twin_of": provider.id}),
        );
    }
    if plan.dry_run() {
        return Ok(Output::product(plan.product()));
    }
    let mut removed = Vec::new();
    for twin in same.iter().filter(|p| p.id != provider.id) {
        delete(&client, &tenant, &twin.id)?;
        removed.push(twin.id.as_str());
    }
    if same.is_empty() {
        warn!(
            "{tenant} has the identity provider {} with issuer '{}' and key ID '{}', but did not \
             return its key, so qs-jwt cannot compare it with yours: nothing changed",
            provider.id, wanted.issuer, wanted.key_id
        );
    } else if plan.is_empty() {
        info!(
            "{tenant} has the identity provider {} with issuer '{}', key ID '{}' and this key \
             already: nothing changed",
            provider.id, wanted.issuer, wanted.key_id
        );
    }
    if !provider.active {
        warn!(
            "the identity provider {} is not active: Qlik accepts no token through it until an \
             admin activates it in the management console",
            provider.id
        );
    }
    let output = Output::product(super::json_text(&shown(provider)));
    Ok(if removed.is_empty() {
        output
    } else {
        output.changed(format!(
            "--apply removed the identity provider {} from {tenant}, a twin of {}",
            removed.join(", "),
            provider.id
        ))
    })
}

/// After a create, the list read back: when runs overlapped, each made an identity provider
/// for the same issuer, key ID and key. Every run keeps the same one (`keeper`), so a run
/// whose own is not it removes its own, and the runs end with one.
fn converge(
    client: &Tenant,
    wanted: &Wanted<'_>,
    one_line_pem: &str,
    created: IdentityProvider,
) -> Result<IdentityProvider> {
    let tenant = client.server().to_string();
    let same = |p: &&IdentityProvider| {
        p.key_for(wanted.issuer, wanted.key_id)
            .and_then(|k| k.pem.as_deref())
            .is_some_and(|pem| same_key(pem, one_line_pem))
    };
    // The list is paged: while other runs remove their twins, the one this run made can move
    // to a page already read and be missed. A read that misses it is read again; it exists
    // all the same (it was just made), so after three reads it is weighed with the others as
    // the create answered it, or a run that missed its own would keep it beside the keeper.
    let mut now = Vec::new();
    for _ in 0..3 {
        now = match client.identity_providers() {
            Ok(now) => now,
            Err(failure) => {
                let err = cloud_failure(failure, "list the identity providers", client);
                warn!(
                    "could not read the identity providers back after the create ({err}), so \
                     qs-jwt cannot see whether another run made a twin at the same time: run the \
                     same command again, which keeps one"
                );
                return Ok(created);
            }
        };
        if now.iter().any(|p| p.id == created.id) {
            break;
        }
    }
    let mut twins: Vec<&IdentityProvider> = now.iter().filter(same).collect();
    if !twins.iter().any(|p| p.id == created.id) {
        twins.push(&created);
    }
    match keeper(&twins) {
        Some(kept) if kept.id != created.id => {
            let kept = kept.clone();
            plan_remove_own(&created, &kept);
            delete(client, &tenant, &created.id)?;
            Ok(kept)
        }
        _ => Ok(created),
    }
}

fn plan_remove_own(created: &IdentityProvider, kept: &IdentityProvider) {
    info!(
        "plan: remove the identity provider {} this run created: {} holds the same issuer, key \
         ID and key (another run made it at the same time) and stays",
        created.id, kept.id
    );
}

/// The one of identity providers holding the same issuer, key ID and key that every run keeps,
/// so that runs that overlap agree without talking: an active one before an inactive one, then
/// the earliest made (`createdAt`, when Qlik gives it), then the smallest id.
fn keeper<'a>(twins: &[&'a IdentityProvider]) -> Option<&'a IdentityProvider> {
    twins
        .iter()
        .copied()
        .min_by(|a, b| (!a.active, created_at(a), &a.id).cmp(&(!b.active, created_at(b), &b.id)))
}

/// When the identity provider was made, as Qlik gives it (`createdAt`, or `meta.createdAt`);
/// ISO 8601 texts compare in time order. None sorts first, so a tenant that gives no date is
/// ordered by id alone.
fn created_at(provider: &IdentityProvider) -> Option<&str> {
    provider
        .json
        .get("createdAt")
        .or_else(|| provider.json.pointer("/meta/createdAt"))
        .and_then(Value::as_str)
}

/// Deletes an identity provider; one already gone (404: another run removed it) is what was
/// asked. A lost answer says Qlik may have changed.
fn delete(client: &Tenant, tenant: &str, id: &str) -> Result<()> {
    match client.delete_identity_provider(id) {
        Ok(()) => {
            info!("removed the identity provider {id} from {tenant}");
            Ok(())
        }
        Err(ApiFailure::Refused { status: 404, .. }) => {
            info!("the identity provider {id} was removed meanwhile (by another run?)");
            Ok(())
        }
        Err(failure) => {
            let action = format!("delete the identity provider {id}");
            let unknown = !matches!(failure, ApiFailure::Refused { .. });
            let err = cloud_failure(failure, &action, client);
            Err(if unknown {
                super::outcome_unknown(&err, &action, tenant)
            } else {
                err
            }
            .into())
        }
    }
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
    if matching.is_empty() {
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
        if args.dry_run {
            return Ok(Output::product(Plan::new(&tenant, true).product()));
        }
        return Ok(Output::streamed(None));
    }
    // Twins (runs that overlapped made one each) are all the identity provider with this
    // issuer and key ID: all of them go.
    let other_active = providers
        .iter()
        .filter(of_issuer)
        .filter(|p| matching.iter().all(|m| m.id != p.id) && p.active)
        .count();
    if let Some(last) = matching.iter().find(|p| p.active)
        && other_active == 0
        && !args.force
    {
        return Err(UserError::runtime(format!(
            "the identity provider {} is the last active JWT identity provider of issuer '{}' \
             on {tenant}: without it no token of that issuer logs in; nothing removed",
            last.id, wanted.issuer
        ))
        .with_hint(
            "configure the new key first (--keyid <new id> --apply) and prove a login with it; \
             or add --force to remove it all the same",
        )
        .into());
    }
    let mut plan = Plan::new(&tenant, args.dry_run);
    for target in &matching {
        plan.step(
            &format!(
                "remove the identity provider {}: issuer '{}', key ID '{}'",
                target.id, wanted.issuer, wanted.key_id
            ),
            json!({"action": "remove", "id": target.id, "issuer": wanted.issuer,
                   "key_id": wanted.key_id}),
        );
    }
    if plan.dry_run() {
        return Ok(Output::product(plan.product()));
    }
    let mut removed = None;
    for target in &matching {
        if !remove_one(&client, &tenant, target)? {
            continue;
        }
        info!(
            "removed the identity provider {} from {tenant}: issuer '{}', key ID '{}'",
            target.id, wanted.issuer, wanted.key_id
        );
        removed = removed.or(Some(*target));
    }
    Ok(match removed {
        Some(target) => Output::product(super::json_text(&shown(target))).changed(format!(
            "--remove removed the identity provider {} from {tenant} (issuer '{}', key ID '{}')",
            target.id, wanted.issuer, wanted.key_id
        )),
        None => Output::streamed(None),
    })
}

/// Deletes `target`; false when another run that overlapped this one removed it after it was
/// read (404, and the list confirms it): what --remove asks for is true, as a rerun's.
fn remove_one(client: &Tenant, tenant: &str, target: &IdentityProvider) -> Result<bool> {
    let Err(failure) = client.delete_identity_provider(&target.id) else {
        return Ok(true);
    };
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
        return Ok(false);
    }
    let action = format!("delete the identity provider {}", target.id);
    let unknown = !matches!(failure, ApiFailure::Refused { .. });
    let err = cloud_failure(failure, &action, client);
    Err(if unknown {
        super::outcome_unknown(&err, &action, tenant)
    } else {
        err
    }
    .into())
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
