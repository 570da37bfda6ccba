//! setup-qseow --apply: the virtual proxy configured through QSEoW's repository API on its own
//! port (4242), with the client certificate the QMC exports (`qlik::qrs`, sources there). The
//! plan-then-apply habit: read the virtual proxy, the engine nodes and the proxy services,
//! change only what differs from what qs-jwt's tokens need, and send nothing when nothing does.

use anyhow::Result;
use serde_json::Value;
use tracing::{info, warn};

use crate::cli::setup::RepositoryArgs;
use crate::commands::repository_api::{self, RepositoryConnection};
use crate::error::UserError;
use crate::qlik::qrs::{self, Repository, VirtualProxy};

/// `--apply`: the virtual proxy with `prefix` made to take tokens as `body` (the body
/// setup-qseow prints) says; the virtual proxy as the repository returned it, as JSON.
pub fn apply(args: &RepositoryArgs, prefix: &str, body: &Value) -> Result<String> {
    let repository = connect(args)?;
    let server = repository.server().to_string();
    let found = qrs::virtual_proxies_by_prefix(&repository, prefix).map_err(|f| {
        f.into_user_error(&format!("read the virtual proxy '{prefix}'"), &repository)
    })?;
    let nodes = qrs::engine_nodes(&repository)
        .map_err(|f| f.into_user_error("read the engine services' nodes", &repository))?;
    let mut changed = true;
    let virtual_proxy = match found.as_slice() {
        [] => {
            let merged = qrs::merge_virtual_proxy(body, body, &nodes, &args.allow_host);
            let created = qrs::create_virtual_proxy(&repository, &merged.json).map_err(|f| {
                f.into_user_error(&format!("create the virtual proxy '{prefix}'"), &repository)
            })?;
            info!(
                "created the virtual proxy '{prefix}' ({}) on {server}{}",
                created.id,
                with_changes(&merged.changes)
            );
            created
        }
        [existing] => {
            let merged = qrs::merge_virtual_proxy(&existing.json, body, &nodes, &args.allow_host);
            if merged.changes.is_empty() {
                changed = false;
                existing.clone()
            } else {
                let updated =
                    qrs::update_virtual_proxy(&repository, &merged.json).map_err(|f| {
                        f.into_user_error(
                            &format!("update the virtual proxy '{prefix}' ({})", existing.id),
                            &repository,
                        )
                    })?;
                info!(
                    "updated the virtual proxy '{prefix}' ({}) on {server}: {}",
                    existing.id,
                    merged.changes.join("; ")
                );
                if replaces_certificate(existing, body) {
                    // A virtual proxy holds one JWT certificate (jwtPublicKeyCertificate): the
                    // new one replaces the old, with no overlap.
                    warn!(
                        "replaced the JWT certificate of the virtual proxy '{prefix}' ({}):                          tokens signed with the old key are refused from now on (sessions                          already made go on); sign with the new key",
                        existing.id
                    );
                }
                updated
            }
        }
        many => {
            let ids: Vec<&str> = many.iter().map(|vp| vp.id.as_str()).collect();
            return Err(UserError::runtime(format!(
                "{server} has {} virtual proxies with the prefix '{prefix}' ({}); nothing changed",
                many.len(),
                ids.join(", ")
            ))
            .with_hint("keep one of them in the QMC (Virtual proxies), then run again")
            .into());
        }
    };
    if nodes.is_empty() && virtual_proxy.load_balancing_nodes.is_empty() {
        warn!(
            "{server} lists no engine service, so the virtual proxy '{prefix}' has no \
             load-balancing node and opens no app: add the engine nodes in the QMC (Virtual \
             proxies > Load balancing)"
        );
    }
    let linked = link(&repository, &virtual_proxy, prefix)?;
    if !changed && linked == 0 {
        info!(
            "{server} has the virtual proxy '{prefix}' ({}) as qs-jwt's tokens need it \
             already: nothing to change",
            virtual_proxy.id
        );
    }
    Ok(super::json_text(&virtual_proxy.json))
}

/// Links the virtual proxy to every proxy service that lacks it; how many were linked.
fn link(repository: &Repository, virtual_proxy: &VirtualProxy, prefix: &str) -> Result<usize> {
    let server = repository.server().to_string();
    let services = qrs::proxy_services(repository)
        .map_err(|f| f.into_user_error("read the proxy services", repository))?;
    if services.is_empty() {
        warn!(
            "{server} lists no proxy service: the virtual proxy '{prefix}' serves nobody until \
             one links it (QMC: Proxies)"
        );
    }
    let mut linked = 0;
    for service in services.iter().filter(|s| !s.links(&virtual_proxy.id)) {
        qrs::link_virtual_proxy(repository, service, &virtual_proxy.id).map_err(|f| {
            f.into_user_error(
                &format!(
                    "link the virtual proxy '{prefix}' to the proxy service of {}",
                    service.shown()
                ),
                repository,
            )
        })?;
        info!(
            "linked the virtual proxy '{prefix}' to the proxy service of {} ({})",
            service.shown(),
            service.id
        );
        linked += 1;
    }
    Ok(linked)
}

/// Whether `body` gives the virtual proxy another JWT certificate than the one it holds (one
/// held, compared without white space as the repository may keep CRLF).
fn replaces_certificate(existing: &VirtualProxy, body: &Value) -> bool {
    let bare = |text: &str| -> String { text.chars().filter(|c| !c.is_whitespace()).collect() };
    let held = existing
        .jwt_certificate
        .as_deref()
        .map(bare)
        .unwrap_or_default();
    let wanted = body
        .get("jwtPublicKeyCertificate")
        .and_then(Value::as_str)
        .map(bare)
        .unwrap_or_default();
    !held.is_empty() && !wanted.is_empty() && held != wanted
}

fn with_changes(changes: &[String]) -> String {
    if changes.is_empty() {
        String::new()
    } else {
        format!(", with {}", changes.join("; "))
    }
}

/// The repository client for --apply.
fn connect(args: &RepositoryArgs) -> Result<Repository, UserError> {
    repository_api::connect(&RepositoryConnection {
        qrs: args.qrs.as_deref().unwrap_or_default(),
        qrs_cert: args.qrs_cert.as_deref(),
        qrs_key: args.qrs_key.as_deref(),
        cacert: args.cacert.as_deref(),
        qrs_user: &args.qrs_user,
        insecure: args.insecure,
        timeout: args.timeout,
        needed_by: "--apply",
    })
}
