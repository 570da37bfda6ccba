//! setup-qseow --apply: the virtual proxy configured through QSEoW's repository API on its own
//! port (4242), with the client certificate the QMC exports (`qlik::qrs`, sources there). The
//! plan-then-apply habit: read the virtual proxy, the engine nodes and the proxy services,
//! change only what differs from what qs-jwt's tokens need, and send nothing when nothing does.

use std::path::Path;

use anyhow::Result;
use serde_json::Value;
use tracing::{info, warn};

use crate::cli::setup::RepositoryArgs;
use crate::error::UserError;
use crate::http::{ClientCertificate, ClientOptions, Server};
use crate::input::{self, FileFlag};
use crate::keys;
use crate::qlik::qrs::{self, Repository, VirtualProxy};
use crate::secret::SecretText;

const QRS_KEY_FILE: FileFlag = FileFlag {
    flag: "--qrs-key",
    holds: "client certificate's private key",
    format: "PEM",
    der_hint: None,
};

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

fn with_changes(changes: &[String]) -> String {
    if changes.is_empty() {
        String::new()
    } else {
        format!(", with {}", changes.join("; "))
    }
}

/// The repository client: --qrs, the client certificate and key (a secret, read here and
/// registered before anything is sent), --cacert.
fn connect(args: &RepositoryArgs) -> Result<Repository, UserError> {
    let url = args.qrs.as_deref().unwrap_or_default();
    let server = Server::parse(url, "--qrs", false)?;
    if !server.base_path.is_empty() {
        return Err(UserError::usage(format!(
            "--qrs '{server}' has a path; give the repository API's URL alone, such as \
             https://qlikserver.example.com:4242 (the repository has no virtual proxy prefix)"
        )));
    }
    let (cert_path, key_path) = match (&args.qrs_cert, &args.qrs_key) {
        (Some(cert), Some(key)) => (cert.as_path(), key.as_path()),
        // clap requires both with --apply.
        _ => {
            return Err(UserError::usage(
                "--apply needs --qrs-cert <client.pem> and --qrs-key <client_key.pem>",
            ));
        }
    };
    let user = qrs_user(&args.qrs_user)?;
    let key = client_key(key_path)?;
    let client = crate::http::Client::new(
        server,
        &ClientOptions {
            cacert: args.cacert.as_deref(),
            insecure: args.insecure,
            timeout: args.timeout,
            sends: "what the repository is told",
            client_certificate: Some(ClientCertificate {
                cert_path,
                cert_flag: "--qrs-cert",
                key_path,
                key_flag: "--qrs-key",
                key: &key,
            }),
        },
    )?;
    Ok(Repository::new(client, user))
}

/// `--qrs-user` as the header `X-Qlik-User` takes it: `UserDirectory=<dir>; UserId=<id>`, on
/// one line.
fn qrs_user(text: &str) -> Result<String, UserError> {
    let user = text.trim();
    let lower = user.to_ascii_lowercase();
    if user.chars().any(char::is_control)
        || !lower.contains("userdirectory=")
        || !lower.contains("userid=")
    {
        return Err(UserError::usage(format!(
            "--qrs-user '{user}' is not a repository user; give it as the header X-Qlik-User \
             takes it, on one line: 'UserDirectory=INTERNAL; UserId=sa_repository'"
        )));
    }
    Ok(user.to_owned())
}

/// The client key file's text, a secret from the moment it is read.
fn client_key(path: &Path) -> Result<SecretText, UserError> {
    keys::warn_if_others_can_read(path, QRS_KEY_FILE.flag);
    let text = input::read_file(path, &QRS_KEY_FILE).map_err(|e| {
        if e.hint().is_some() {
            return e;
        }
        e.with_hint(
            "give the client_key.pem that the QMC exported with client.pem (Certificates > \
             Export, Include secret key)",
        )
    })?;
    Ok(SecretText::new(text))
}
