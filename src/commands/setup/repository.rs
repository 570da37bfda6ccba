//! setup-qseow --apply: the virtual proxy configured through QSEoW's repository API on its own
//! port (4242), with the client certificate the QMC exports (`qlik::qseow`, sources there). The
//! plan-then-apply habit: read the virtual proxy, the engine nodes and the proxy services,
//! change only what differs from what qs-jwt's tokens need, and send nothing when nothing does.

use anyhow::Result;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::cli::setup::RepositoryArgs;
use crate::commands::Output;
use crate::commands::connect::{self, RepositoryConnection, qrs_failure};
use crate::error::UserError;
use crate::qlik::qseow::{self, Repository, VirtualProxy};
use crate::render;

use super::Plan;

/// `--apply`: the virtual proxy with `prefix` made to take tokens as `body` (the body
/// setup-qseow prints) says; the virtual proxy as the repository returned it, as JSON, with
/// what changed on the site (said when that report cannot be written).
pub fn apply(args: &RepositoryArgs, prefix: &str, body: &Value) -> Result<Output> {
    let repository = connect(args)?;
    let server = repository.server().to_string();
    let found = repository.virtual_proxies_by_prefix(prefix).map_err(|f| {
        qrs_failure(
            f,
            &format!("read the virtual proxy '{prefix}'"),
            &repository,
        )
    })?;
    let nodes = repository
        .engine_nodes()
        .map_err(|f| qrs_failure(f, "read the engine services' nodes", &repository))?;
    let wanted = Wanted {
        prefix,
        body,
        nodes: &nodes,
        allow_hosts: &args.allow_host,
        convert: args.convert_to_jwt,
    };
    let mut plan = Plan::new(&server, args.dry_run);
    if plan.dry_run() {
        match found.as_slice() {
            [] => {
                let body = unique_cookie(&repository, wanted.body, prefix)?;
                plan_create(&mut plan, &wanted, &body);
            }
            [existing] => {
                if !wanted.convert {
                    refuse_other_method(&server, prefix, existing)?;
                }
                plan_update(&mut plan, existing, &wanted);
            }
            many => return Err(several(&server, prefix, many).into()),
        }
        let id = found.first().map(|vp| vp.id.as_str());
        plan_links(&repository, &mut plan, id, prefix, &nodes)?;
        return Ok(Output::product(plan.product()));
    }
    let (virtual_proxy, changed) = match found.as_slice() {
        [] => create(&repository, &mut plan, &wanted)?,
        [existing] => update(&repository, &mut plan, existing, &wanted)?,
        many => return Err(several(&server, prefix, many).into()),
    };
    if nodes.is_empty() && virtual_proxy.load_balancing_nodes.is_empty() {
        warn!(
            "{server} lists no engine service, so the virtual proxy '{prefix}' has no \
             load-balancing node and opens no app: add the engine nodes in the QMC (Virtual \
             proxies > Load balancing)"
        );
    }
    let mut done: Vec<String> = changed.into_iter().collect();
    if let Err(err) = link(
        &repository,
        &mut plan,
        &virtual_proxy,
        prefix,
        &nodes,
        &mut done,
    ) {
        return Err(if done.is_empty() {
            err
        } else {
            changed_before(&err, &server, &done).into()
        });
    }
    if done.is_empty() {
        info!(
            "{server} has the virtual proxy '{prefix}' ({}) as qs-jwt's tokens need it \
             already: nothing to change",
            virtual_proxy.id
        );
    }
    let output = Output::product(super::json_text(&virtual_proxy.json));
    Ok(if done.is_empty() {
        output
    } else {
        output.changed(format!("--apply on {server} {}", done.join(", ")))
    })
}

/// A write's failure: the repository's refusal in its words; any other (an answer lost, late,
/// empty or unreadable) came after the request was sent, so Qlik may have changed.
fn write_failure(failure: qseow::QrsFailure, action: &str, repository: &Repository) -> UserError {
    let refused = matches!(failure, qseow::QrsFailure::Refused { .. });
    let err = qrs_failure(failure, action, repository);
    if refused {
        err
    } else {
        super::outcome_unknown(&err, action, &repository.server().to_string())
    }
}

/// A failure after this run changed the site: the error, and what was changed before it, which
/// Qlik keeps. A rerun converges (it changes only what still differs).
fn changed_before(err: &anyhow::Error, server: &str, done: &[String]) -> UserError {
    let (message, hint) = match err.downcast_ref::<UserError>() {
        Some(user) => (user.to_string(), user.hint().map(str::to_owned)),
        None => (format!("{err:#}"), None),
    };
    let rerun = "then run the same command again: it reads what Qlik holds now and changes only \
                 what still differs";
    UserError::runtime(format!(
        "{message}; {server} was changed before that, and keeps it: {}",
        done.join(", ")
    ))
    .with_hint(match hint {
        // A lost answer's hint says the rerun already.
        Some(hint) if hint.contains("run the same command again") => hint,
        Some(hint) => format!("{hint}; {rerun}"),
        None => format!("mend the cause above, {rerun}"),
    })
}

/// What the virtual proxy must hold: the JWT fields of setup-qseow's body, engine nodes for an
/// empty load-balancing list, the allowed hosts.
struct Wanted<'a> {
    prefix: &'a str,
    body: &'a Value,
    nodes: &'a [qseow::ServerNode],
    allow_hosts: &'a [String],
    /// --convert-to-jwt: a virtual proxy of another authentication method may be converted.
    convert: bool,
}

/// A new virtual proxy, and what changed on the site. When the repository refuses it because
/// another run (a second `--apply` started at the same time, or an admin in the QMC) made the
/// prefix meanwhile, that one is read back and brought to what the tokens need instead, as a
/// second run would: two runs at once both end with the same virtual proxy.
fn create(
    repository: &Repository,
    plan: &mut Plan,
    wanted: &Wanted<'_>,
) -> Result<(VirtualProxy, Option<String>)> {
    let prefix = wanted.prefix;
    let server = repository.server().to_string();
    let body = unique_cookie(repository, wanted.body, prefix)?;
    plan_create(plan, wanted, &body);
    let merged = qseow::merge_virtual_proxy(&body, &body, wanted.nodes, wanted.allow_hosts);
    match repository.create_virtual_proxy(&merged.json) {
        Ok(created) => {
            info!(
                "created the virtual proxy '{prefix}' ({}) on {server}{}",
                created.id,
                with_changes(&merged.changes)
            );
            let done = format!("created the virtual proxy '{prefix}' ({})", created.id);
            Ok((created, Some(done)))
        }
        Err(refused @ qseow::QrsFailure::Refused { .. }) => {
            let made_meanwhile = repository.virtual_proxies_by_prefix(prefix).ok();
            match made_meanwhile.as_deref() {
                Some([existing]) => {
                    info!(
                        "the virtual proxy '{prefix}' ({}) was made on {server} while this run \
                         read the repository (another run, or the QMC); setting it as qs-jwt's \
                         tokens need it",
                        existing.id
                    );
                    update(repository, plan, existing, wanted)
                }
                _ => Err(qrs_failure(
                    refused,
                    &format!("create the virtual proxy '{prefix}'"),
                    repository,
                )
                .into()),
            }
        }
        Err(failure) => Err(write_failure(
            failure,
            &format!("create the virtual proxy '{prefix}'"),
            repository,
        )
        .into()),
    }
}

/// The virtual proxy found, with only what differs changed (nothing sent when nothing does),
/// and what changed on the site, if anything did.
fn update(
    repository: &Repository,
    plan: &mut Plan,
    existing: &VirtualProxy,
    wanted: &Wanted<'_>,
) -> Result<(VirtualProxy, Option<String>)> {
    let prefix = wanted.prefix;
    let server = repository.server().to_string();
    if !wanted.convert {
        refuse_other_method(&server, prefix, existing)?;
    }
    plan_update(plan, existing, wanted);
    let merged = qseow::merge_virtual_proxy(
        &existing.json,
        wanted.body,
        wanted.nodes,
        wanted.allow_hosts,
    );
    if merged.changes.is_empty() {
        return Ok((existing.clone(), None));
    }
    let updated = repository.update_virtual_proxy(&merged.json).map_err(|f| {
        write_failure(
            f,
            &format!("update the virtual proxy '{prefix}' ({})", existing.id),
            repository,
        )
    })?;
    info!(
        "updated the virtual proxy '{prefix}' ({}) on {server}: {}",
        existing.id,
        merged.changes.join("; ")
    );
    if replaces_certificate(existing, wanted.body) {
        // A virtual proxy holds one JWT certificate (jwtPublicKeyCertificate): the new one
        // replaces the old, with no overlap.
        warn!(
            "replaced the JWT certificate of the virtual proxy '{prefix}' ({}): tokens signed \
             with the old key are refused from now on (sessions already made go on); sign with \
             the new key",
            existing.id
        );
    }
    let done = format!(
        "updated the virtual proxy '{prefix}' ({}): {}",
        existing.id,
        merged.changes.join("; ")
    );
    Ok((updated, Some(done)))
}

/// Nothing of another kind is converted silently: a virtual proxy that uses another
/// authentication method than JWT is refused, naming it and who loses their login, unless
/// --convert-to-jwt says to convert it.
fn refuse_other_method(server: &str, prefix: &str, existing: &VirtualProxy) -> Result<()> {
    let method = existing.authentication_method;
    if method.is_none() || existing.is_jwt() {
        return Ok(());
    }
    Err(UserError::runtime(format!(
        "{server} has the virtual proxy '{prefix}' ({}) with authenticationMethod {}: --apply \
         would make it a JWT virtual proxy, and its users, who {}, could log in through it no \
         more; nothing changed",
        existing.id,
        qseow::authentication_method_name(method),
        qseow::authentication_method_users(method),
    ))
    .with_hint(format!(
        "give the JWT virtual proxy a prefix of its own (--prefix jwt), or add --convert-to-jwt \
         to convert '{prefix}'"
    ))
    .into())
}

fn several(server: &str, prefix: &str, many: &[VirtualProxy]) -> UserError {
    let ids: Vec<&str> = many.iter().map(|vp| vp.id.as_str()).collect();
    UserError::runtime(format!(
        "{server} has {} virtual proxies with the prefix '{prefix}' ({}); nothing changed",
        many.len(),
        ids.join(", ")
    ))
    .with_hint("keep one of them in the QMC (Virtual proxies), then run again")
}

/// Links the virtual proxy to every proxy service that lacks it, each link added to `done`. A
/// service is named as the doctor names it: by its node (`nodes`, the engine nodes read).
fn link(
    repository: &Repository,
    plan: &mut Plan,
    virtual_proxy: &VirtualProxy,
    prefix: &str,
    nodes: &[qseow::ServerNode],
    done: &mut Vec<String>,
) -> Result<()> {
    let server = repository.server().to_string();
    let services = repository
        .proxy_services()
        .map_err(|f| qrs_failure(f, "read the proxy services", repository))?;
    if services.is_empty() {
        warn!(
            "{server} lists no proxy service: the virtual proxy '{prefix}' serves nobody until \
             one links it (QMC: Proxies)"
        );
    }
    let names = qseow::proxy_service_names(&services, nodes);
    for (service, name) in services.iter().zip(&names) {
        if service.links(&virtual_proxy.id) {
            continue;
        }
        plan_link(plan, prefix, name);
        repository
            .link_virtual_proxy(service, &virtual_proxy.id)
            .map_err(|f| {
                write_failure(
                    f,
                    &format!("link the virtual proxy '{prefix}' to the proxy service of {name}"),
                    repository,
                )
            })?;
        info!("linked the virtual proxy '{prefix}' to the proxy service of {name}");
        done.push(format!(
            "linked the virtual proxy '{prefix}' to the proxy service of {name}"
        ));
    }
    Ok(())
}

/// Whether `body` gives the virtual proxy another key than the one it holds: compared by the
/// public key (`keys::same_public_key`), so a renewed certificate of the same key replaces
/// nobody's key. A held certificate that cannot be read counts as another key.
fn replaces_certificate(existing: &VirtualProxy, body: &Value) -> bool {
    let held = existing
        .jwt_certificate
        .as_deref()
        .filter(|t| !t.trim().is_empty());
    let wanted = body
        .get("jwtPublicKeyCertificate")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty());
    match (held, wanted) {
        (Some(held), Some(wanted)) => crate::keys::same_public_key(held, wanted) != Some(true),
        _ => false,
    }
}

/// The plan's line for a new virtual proxy: its prefix and the fields qs-jwt sets.
fn plan_create(plan: &mut Plan, wanted: &Wanted<'_>, body: &Value) {
    let merged = qseow::merge_virtual_proxy(body, body, wanted.nodes, wanted.allow_hosts);
    let cookie = body
        .get("sessionCookieHeaderName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    plan.step(
        &format!(
            "create the virtual proxy '{}' (JWT, audience {}, session cookie header {}{})",
            wanted.prefix,
            super::shown_value(body.get("jwtAudience")),
            render::escape(cookie),
            with_changes(&merged.changes)
        ),
        json!({"action": "create", "prefix": wanted.prefix, "fields": merged.json}),
    );
}

/// The plan's lines for a virtual proxy found: each field that changes, old → new.
fn plan_update(plan: &mut Plan, existing: &VirtualProxy, wanted: &Wanted<'_>) {
    let merged = qseow::merge_virtual_proxy(
        &existing.json,
        wanted.body,
        wanted.nodes,
        wanted.allow_hosts,
    );
    let Some(fields) = merged.json.as_object() else {
        return;
    };
    for (field, new) in fields {
        let old = existing.json.get(field);
        if old == Some(new) {
            continue;
        }
        plan.step(
            &format!(
                "set {field} of the virtual proxy '{}' ({}): {} -> {}",
                wanted.prefix,
                existing.id,
                super::shown_value(old),
                super::shown_value(Some(new))
            ),
            json!({"action": "update", "prefix": wanted.prefix, "id": existing.id,
                   "field": field, "old": old, "new": new}),
        );
    }
}

fn plan_link(plan: &mut Plan, prefix: &str, name: &str) {
    plan.step(
        &format!("link the virtual proxy '{prefix}' to the proxy service of {name}"),
        json!({"action": "link", "prefix": prefix, "proxy_service": name}),
    );
}

/// A dry run's links: every proxy service that does not link the virtual proxy (a new one:
/// every proxy service).
fn plan_links(
    repository: &Repository,
    plan: &mut Plan,
    id: Option<&str>,
    prefix: &str,
    nodes: &[qseow::ServerNode],
) -> Result<()> {
    let services = repository
        .proxy_services()
        .map_err(|f| qrs_failure(f, "read the proxy services", repository))?;
    let names = qseow::proxy_service_names(&services, nodes);
    for (service, name) in services.iter().zip(&names) {
        if id.is_some_and(|id| service.links(id)) {
            continue;
        }
        plan_link(plan, prefix, name);
    }
    Ok(())
}

/// The body with a session cookie header name no other virtual proxy uses: Qlik requires it
/// unique. `X-Qlik-Session-<prefix>`, or with `-2`, `-3`... after it when that is taken.
fn unique_cookie(repository: &Repository, body: &Value, prefix: &str) -> Result<Value> {
    let others = repository
        .virtual_proxies()
        .map_err(|f| qrs_failure(f, "read the virtual proxies", repository))?;
    let taken = |name: &str| {
        others.iter().any(|vp| {
            vp.json
                .get("sessionCookieHeaderName")
                .and_then(Value::as_str)
                .is_some_and(|held| held.eq_ignore_ascii_case(name))
        })
    };
    let base = format!("X-Qlik-Session-{prefix}");
    let Some(name) = std::iter::once(base.clone())
        .chain((2..100).map(|n| format!("{base}-{n}")))
        .find(|name| !taken(name))
    else {
        return Err(UserError::runtime(format!(
            "every session cookie header name from {base} to {base}-99 is used by another \
             virtual proxy on {}; nothing changed",
            repository.server()
        ))
        .with_hint(
            "give one of those virtual proxies another session cookie header name in the QMC",
        )
        .into());
    };
    if name != base {
        info!(
            "another virtual proxy uses the session cookie header {base}: the new one gets {name} \
             (Qlik requires it unique)"
        );
    }
    let mut body = body.clone();
    body["sessionCookieHeaderName"] = Value::String(name);
    Ok(body)
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
    connect::repository(&RepositoryConnection {
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
