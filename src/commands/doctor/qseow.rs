//! doctor-qseow: the virtual proxy with --prefix, as QSEoW's repository API holds it (port
//! 4242, with the QMC's client certificate: `qlik::qseow`), compared with the audience and the
//! private key the tokens are signed with; with `--login`, a fresh token sent through the
//! proxy (`GET /<prefix>/qrs/about`, as login-qseow does).
//!
//! Qlik's rules, with their sources (help.qlik.com, QRS API reference, sources in
//! src/qlik/qseow/mod.rs): a virtual proxy takes JWTs when its `authenticationMethod` is 4; it
//! verifies a token's signature with its one `jwtPublicKeyCertificate`, and reads the user from
//! the claims its `jwtAttributeUserId` and `jwtAttributeUserDirectory` name, and requires the
//! token's `aud` to be its `jwtAudience` ("Creating a virtual proxy", JWT authentication,
//! https://help.qlik.com/en-US/sense-admin/Subsystems/DeployAdministerQSE/Content/Sense_DeployAdminister/QSEoW/Administer_QSEoW/Managing_QSEoW/create-virtual-proxy.htm);
//! "A virtual proxy must be linked to a proxy service before the virtual proxy is available for
//! use" ("Virtual Proxy: Link"); and it sends a session to one of its
//! `loadBalancingServerNodes` (an empty list opens no app).

use std::time::SystemTime;

use anyhow::Result;

use super::{
    CertificateLine, Check, Effect, Fix, KeyTrouble, LOGIN_TOKEN_SECS, LocalKey, PublicFile,
    Report, certificate_beside, command_line, holds_local_key, key_for_qlik, public_files, quoted,
    read_local_key, said, wrong_key_advice,
};
use crate::claims::{self, QseowUser, User};
use crate::cli::doctor::DoctorQseowArgs;
use crate::commands::Output;
use crate::commands::connect::{self, Connection, RepositoryConnection, qrs_failure};
use crate::commands::prove;
use crate::http::Server;
use crate::keys::{self, KeySource, PublicKeyOrigin, Validity};
use crate::qlik::qseow::{
    self, JWT_AUTHENTICATION, ProxyService, QrsFailure, Repository, ServerNode, VirtualProxy,
};
use crate::qlik::rules::{QSEOW_USER_DIRECTORY_CLAIM, QSEOW_USER_ID_CLAIM};
use crate::render;
use crate::secret::SecretText;
use crate::times;
use crate::token;

mod id {
    pub const REPOSITORY: &str = "repository";
    pub const CLIENT_CERTIFICATE: &str = "client-certificate";
    pub const VP: &str = "virtual-proxy";
    pub const VP_JWT: &str = "virtual-proxy-jwt";
    pub const VP_KEY: &str = "virtual-proxy-key";
    pub const VP_CERTIFICATE: &str = "virtual-proxy-certificate";
    pub const VP_AUDIENCE: &str = "virtual-proxy-audience";
    pub const VP_ATTRIBUTES: &str = "virtual-proxy-attributes";
    pub const VP_LINKED: &str = "virtual-proxy-linked";
    pub const VP_NODES: &str = "virtual-proxy-nodes";
    pub const VP_ALLOW_LIST: &str = "virtual-proxy-allow-list";
    pub const LOGIN: &str = "login";
    pub const ENGINE: &str = "engine";
}

mod title {
    pub const REPOSITORY: &str = "repository reachable";
    pub const CLIENT_CERTIFICATE: &str = "client certificate accepted";
    pub const VP: &str = "virtual proxy";
    pub const VP_JWT: &str = "JWT authentication";
    pub const VP_KEY: &str = "same key";
    pub const VP_CERTIFICATE: &str = "certificate dates";
    pub const VP_AUDIENCE: &str = "audience";
    pub const VP_ATTRIBUTES: &str = "attribute names";
    pub const VP_LINKED: &str = "linked to a proxy";
    pub const VP_NODES: &str = "load balancing";
    pub const VP_ALLOW_LIST: &str = "host allow list";
    pub const LOGIN: &str = "login";
    pub const ENGINE: &str = "engine";
}

/// What reading the site gave.
#[derive(Debug)]
pub enum Read {
    Site(Site),
    /// No answer: transport, TLS, time limit; said in words.
    Unreachable(String),
    /// The repository refused the client certificate in the TLS handshake.
    CertificateRefused(String),
    /// An answer, but the certificate or the user was refused (401, 403): the words and hint.
    Refused {
        status: u16,
        said: String,
    },
    /// Another refusal or an unreadable answer.
    Failed(String),
}

/// What the repository holds that the checks read.
#[derive(Debug, Clone, Default)]
pub struct Site {
    pub virtual_proxies: Vec<VirtualProxy>,
    pub proxy_services: Vec<ProxyService>,
    pub server_nodes: Vec<ServerNode>,
}

/// How the fixes name what the user typed: the repository, the prefix, the audience, the
/// key's source (never its text), the connection options.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed {
    pub qrs: String,
    pub prefix: String,
    pub audience: String,
    /// `--cert-privatekey-file keys/a.pem`, or empty for QSJWTPRIVKEY.
    pub key_source: String,
    /// The private key's file as typed, when the key came from one.
    pub key_file: Option<String>,
    /// The certificate for setup-qseow --apply, as --cert-create names it beside the key
    /// (named in a fix only once read and found to hold the key, or made by the fix first).
    pub certificate: String,
    /// The certificates and public keys in the key's folder, read and checked.
    pub files: Vec<PublicFile>,
    /// `--qrs-cert 'client.pem' as 'UserDirectory=INTERNAL; UserId=sa_repository'`: who the
    /// repository took.
    pub client: String,
    /// `--qrs-cert client.pem --qrs-key client_key.pem` and, as typed, `--cacert root.pem`,
    /// `--qrs-user '...'`, `--insecure`.
    pub connection: String,
}

impl Typed {
    fn doctor(&self, prefix: &str, audience: &str) -> String {
        command_line(
            format!(
                "qs-jwt doctor-qseow --qrs {} --prefix {} --audience {}",
                quoted(&self.qrs),
                quoted(prefix),
                quoted(audience)
            ),
            &[&self.key_source, &self.connection],
        )
    }

    /// The connection's options are never empty here: --qrs-cert and --qrs-key are required.
    fn apply_with(&self, certificate: &str) -> String {
        command_line(
            format!(
                "qs-jwt setup-qseow --audience {} --prefix {} --cert-publickey-file {} --apply \
                 --qrs {}",
                quoted(&self.audience),
                quoted(&self.prefix),
                certificate,
                quoted(&self.qrs)
            ),
            &[&self.connection],
        )
    }

    /// The steps that give the virtual proxy the local key and the settings qs-jwt's tokens
    /// need: a certificate made from the private key when no file here holds it, then
    /// setup-qseow --apply, marked as replacing the key when the proxy holds another one.
    /// Without a readable local key, no file can be vouched for: words only.
    /// `converts`: the proxy uses another authentication method, which the command ends (with
    /// --convert-to-jwt, said first).
    fn apply(
        &self,
        local: Option<&LocalKey>,
        replaces: bool,
        converts: Option<i64>,
        now: u64,
    ) -> Vec<Fix> {
        let Some(local) = local else {
            return vec![Fix::advice(
                "the local key could not be read: fix it first (its line above), then run the \
                 doctor again for the command that gives the virtual proxy its certificate",
            )];
        };
        let key = key_for_qlik(
            local,
            &self.files,
            self.key_file.as_deref(),
            true,
            &self.certificate,
            now,
        );
        let mut steps: Vec<Fix> = key.make.into_iter().collect();
        let effect = if replaces {
            Effect::ReplacesKey
        } else {
            Effect::ChangesQlik
        };
        let mut apply = self.apply_with(&key.file);
        if let Some(method) = converts {
            steps.insert(
                0,
                Fix::advice(format!(
                    "converting '{}' to JWT ends the login of its users, who {}; a JWT virtual \
                     proxy of its own (another --prefix) leaves them be",
                    self.prefix,
                    qseow::authentication_method_users(Some(method))
                )),
            );
            apply = apply.replacen(" --apply ", " --apply --convert-to-jwt ", 1);
        }
        steps.push(Fix::new(effect, apply));
        steps
    }
}

pub fn doctor_qseow(args: &DoctorQseowArgs, now: SystemTime) -> Result<Output> {
    // Usage errors first (no key source, a --qrs or --server that is no URL): exit 2 before
    // anything is read or sent.
    let options = args.key.options();
    let env_key = std::env::var_os(keys::KEY_VARIABLE);
    let source = keys::key_source(&options, env_key.as_deref())?;
    let passphrase = keys::passphrase(&options, std::env::var_os(keys::PASSPHRASE_VARIABLE))?;
    let proxy = match (&args.login, &args.server) {
        (true, Some(url)) => {
            let mut server = Server::parse(url, "--server", false)?;
            if server.base_path.is_empty() {
                server.base_path = format!("/{}", args.prefix.trim_matches('/'));
            }
            Some(server)
        }
        _ => None,
    };
    let connection = &args.connection;
    let repository = connect::repository(&RepositoryConnection {
        qrs: &connection.qrs,
        qrs_cert: Some(&connection.qrs_cert),
        qrs_key: Some(&connection.qrs_key),
        cacert: connection.cacert.as_deref(),
        qrs_user: &connection.qrs_user,
        insecure: connection.insecure,
        timeout: connection.timeout,
        needed_by: "doctor-qseow",
    })?;
    let mut typed = typed(args, &source, &repository);

    let (local, signing) = read_local_key(&source, passphrase.as_ref(), now);
    typed.files = public_files(super::folder_as_typed(
        typed.key_file.as_deref().unwrap_or_default(),
    ));
    let read = read_site(&repository);
    let now_seconds = times::unix_seconds(now)?;
    let mut report = checks(&typed, &local, &read, now_seconds);
    if let Some(server) = proxy {
        report.push(allow_list(&typed, &local, &read, &server, now_seconds));
        match &signing {
            None => report.push(Check::skip(
                id::LOGIN,
                title::LOGIN,
                "no token to log in with: the local key could not be read",
            )),
            Some(key) => {
                let (login, engine) = login(server, args, key, now_seconds);
                report.push(login);
                report.push(engine);
            }
        }
    }
    Ok(report.into_output(args.output.output))
}

/// The repository's about (reached, the certificate and the user taken), then the virtual
/// proxies, proxy services and server nodes.
fn read_site(repository: &Repository) -> Read {
    let failed = |failure: QrsFailure, action: &str| match failure {
        QrsFailure::Transport(err) => {
            let refused = err.to_string().contains("refused the client certificate");
            let words = said(&err.into());
            if refused {
                Read::CertificateRefused(words)
            } else {
                Read::Unreachable(words)
            }
        }
        QrsFailure::Refused { status, .. } if status == 401 || status == 403 => {
            let err = qrs_failure(failure, action, repository);
            Read::Refused {
                status,
                said: said(&err.into()),
            }
        }
        other => Read::Failed(said(&qrs_failure(other, action, repository).into())),
    };
    if let Err(failure) = repository.about() {
        return failed(failure, "read its about");
    }
    let virtual_proxies = match repository.virtual_proxies() {
        Ok(list) => list,
        Err(failure) => return failed(failure, "read the virtual proxies"),
    };
    let proxy_services = match repository.proxy_services() {
        Ok(list) => list,
        Err(failure) => return failed(failure, "read the proxy services"),
    };
    let server_nodes = match repository.server_nodes() {
        Ok(list) => list,
        Err(failure) => return failed(failure, "read the server nodes"),
    };
    Read::Site(Site {
        virtual_proxies,
        proxy_services,
        server_nodes,
    })
}

/// The command line's names, as the fixes repeat them.
fn typed(args: &DoctorQseowArgs, source: &KeySource<'_>, repository: &Repository) -> Typed {
    let key_file = match source {
        KeySource::File(path) => Some(path.display().to_string()),
        _ => None,
    };
    let (key_source, certificate) = match source {
        KeySource::File(path) => (
            format!(
                "--cert-privatekey-file {}",
                quoted(&path.display().to_string())
            ),
            certificate_beside(&path.display().to_string()),
        ),
        KeySource::Stdin => (
            "--cert-privatekey-file -".to_owned(),
            "publickey.cer".to_owned(),
        ),
        // The key's text never goes into a message: the fix names where it goes.
        KeySource::Text(_) => (
            "--cert-privatekey \"$PRIVATE_KEY\"".to_owned(),
            "publickey.cer".to_owned(),
        ),
        KeySource::Env(_) | KeySource::Create { .. } => (String::new(), "publickey.cer".to_owned()),
    };
    let c = &args.connection;
    let mut connection = vec![
        format!("--qrs-cert {}", quoted(&c.qrs_cert.display().to_string())),
        format!("--qrs-key {}", quoted(&c.qrs_key.display().to_string())),
    ];
    if let Some(file) = &c.cacert {
        connection.push(format!("--cacert {}", quoted(&file.display().to_string())));
    }
    if repository.user() != qseow::DEFAULT_QRS_USER {
        connection.push(format!("--qrs-user {}", quoted(repository.user())));
    }
    if c.insecure {
        connection.push("--insecure".to_owned());
    }
    Typed {
        client: format!(
            "--qrs-cert '{}' as '{}'",
            c.qrs_cert.display(),
            repository.user()
        ),
        qrs: c.qrs.clone(),
        prefix: args.prefix.clone(),
        audience: args.audience.clone(),
        key_source,
        key_file,
        certificate,
        files: Vec::new(),
        connection: connection.join(" "),
    }
}

/// Every check but the login, from what was read: pure, for the unit tests.
pub fn checks(
    typed: &Typed,
    local: &Result<LocalKey, KeyTrouble>,
    read: &Read,
    now: u64,
) -> Report {
    let mut report = Report::new(vec![
        ("repository", typed.qrs.clone()),
        ("prefix", typed.prefix.clone()),
        ("audience", typed.audience.clone()),
    ]);
    report.push(local_key_check(typed, local));
    let answered = || {
        Check::pass(
            id::REPOSITORY,
            title::REPOSITORY,
            format!("{} answered", typed.qrs),
        )
    };
    let site = match read {
        Read::Site(site) => {
            report.push(answered());
            report.push(Check::pass(
                id::CLIENT_CERTIFICATE,
                title::CLIENT_CERTIFICATE,
                format!(
                    "{}: the repository lists {} virtual {}",
                    typed.client,
                    site.virtual_proxies.len(),
                    if site.virtual_proxies.len() == 1 {
                        "proxy"
                    } else {
                        "proxies"
                    }
                ),
            ));
            site
        }
        Read::Unreachable(why) => {
            report.push(Check::fail(id::REPOSITORY, title::REPOSITORY, why.clone()));
            skip_all(&mut report, "the repository could not be reached");
            return report;
        }
        Read::CertificateRefused(why) => {
            report.push(answered());
            report.push(Check::fail(
                id::CLIENT_CERTIFICATE,
                title::CLIENT_CERTIFICATE,
                why.clone(),
            ));
            skip_all(&mut report, "the client certificate was refused");
            return report;
        }
        Read::Refused { status, said } => {
            report.push(Check::pass(
                id::REPOSITORY,
                title::REPOSITORY,
                format!("{} answered (HTTP {status})", typed.qrs),
            ));
            report.push(Check::fail(
                id::CLIENT_CERTIFICATE,
                title::CLIENT_CERTIFICATE,
                said.clone(),
            ));
            skip_all(
                &mut report,
                "the repository refused the certificate or user",
            );
            return report;
        }
        Read::Failed(said) => {
            report.push(answered());
            report.push(Check::fail(
                id::CLIENT_CERTIFICATE,
                title::CLIENT_CERTIFICATE,
                said.clone(),
            ));
            skip_all(&mut report, "the repository could not be read");
            return report;
        }
    };
    let local = local.as_ref().ok();
    let found: Vec<&VirtualProxy> = site
        .virtual_proxies
        .iter()
        .filter(|vp| same_prefix(&vp.prefix, &typed.prefix))
        .collect();
    let vp = match found.as_slice() {
        [] => {
            report.push(missing(typed, site, local, now));
            skip_all(&mut report, "no virtual proxy has this prefix");
            return report;
        }
        [one] => *one,
        many => {
            let ids: Vec<&str> = many.iter().map(|vp| vp.id.as_str()).collect();
            report.push(Check::fail(
                id::VP,
                title::VP,
                format!(
                    "{} virtual proxies have the prefix '{}' ({}): keep one of them in the QMC \
                     (Virtual proxies)",
                    many.len(),
                    typed.prefix,
                    ids.join(", ")
                ),
            ));
            skip_all(&mut report, "several virtual proxies have this prefix");
            return report;
        }
    };
    let description = vp
        .json
        .get("description")
        .and_then(serde_json::Value::as_str)
        .filter(|d| !d.is_empty())
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    report.push(Check::pass(
        id::VP,
        title::VP,
        format!("'{}'{description} has the prefix '{}'", vp.id, typed.prefix),
    ));
    let pem = vp
        .jwt_certificate
        .as_deref()
        .filter(|p| !p.trim().is_empty());
    // Every fix that runs setup-qseow --apply gives the proxy the local key: when it holds
    // another, that locks out its signers, and each such fix says so.
    let server_rsa = pem
        .and_then(|p| keys::verifying_key_from(p, &PublicKeyOrigin::Named(String::new())).ok())
        .and_then(|k| k.rsa);
    let replaces = matches!((&server_rsa, local), (Some(held), Some(l)) if *held != l.public);
    let converts = vp.authentication_method.filter(|_| !vp.is_jwt());
    let apply = typed.apply(local, replaces, converts, now);
    report.push(jwt_check(typed, vp, &apply));
    report.push(key_check(typed, vp, pem, local, &apply));
    report.push(certificate_check(
        pem.and_then(keys::certificate_validity),
        pem.is_some(),
        now,
        &apply,
    ));
    report.push(audience_check(typed, vp, &apply));
    report.push(attributes_check(typed, vp, &apply));
    report.push(linked_check(
        typed,
        vp,
        &site.proxy_services,
        &site.server_nodes,
        &apply,
    ));
    report.push(nodes_check(typed, vp, &site.server_nodes, &apply));
    report
}

/// A prefix as the repository keeps it (maybe with slashes, any letter case) against --prefix.
fn same_prefix(held: &str, typed: &str) -> bool {
    held.trim_matches('/')
        .eq_ignore_ascii_case(typed.trim_matches('/'))
}

/// Skips every check of the virtual proxy not run yet.
fn skip_all(report: &mut Report, why: &str) {
    let all = [
        (id::CLIENT_CERTIFICATE, title::CLIENT_CERTIFICATE),
        (id::VP, title::VP),
        (id::VP_JWT, title::VP_JWT),
        (id::VP_KEY, title::VP_KEY),
        (id::VP_CERTIFICATE, title::VP_CERTIFICATE),
        (id::VP_AUDIENCE, title::VP_AUDIENCE),
        (id::VP_ATTRIBUTES, title::VP_ATTRIBUTES),
        (id::VP_LINKED, title::VP_LINKED),
        (id::VP_NODES, title::VP_NODES),
    ];
    for (id, title) in all {
        if !report.checks.iter().any(|c| c.id == id) {
            report.push(Check::skip(id, title, why));
        }
    }
}

/// The command that makes a new 4096-bit key pair and certificate, as docs/qlik-setup.md does.
fn new_key_pair(typed: &Typed) -> String {
    format!(
        "qs-jwt create-qseow --userdir DIR --userid test --audience {} --expires 1m \
         --cert-create true --cert-create-expires-days 730 --cert-file-prefix keys/qsjwt2_",
        quoted(&typed.audience)
    )
}

fn local_key_check(typed: &Typed, local: &Result<LocalKey, KeyTrouble>) -> Check {
    super::local_key_check(
        local,
        "give the virtual proxy its certificate (setup-qseow --apply)",
        new_key_pair(typed),
    )
}

/// No virtual proxy has this prefix: the prefixes the repository holds, and the JWT virtual
/// proxies that take this audience (the fix is one copy when one of them holds the local key).
fn missing(typed: &Typed, site: &Site, local: Option<&LocalKey>, now: u64) -> Check {
    let prefixes: Vec<String> = site
        .virtual_proxies
        .iter()
        .map(|vp| format!("'{}'", vp.prefix))
        .collect();
    let mut found = format!(
        "no virtual proxy has the prefix '{}'; the repository's prefixes: {}",
        typed.prefix,
        if prefixes.is_empty() {
            "none".to_owned()
        } else {
            prefixes.join(", ")
        }
    );
    let same_audience: Vec<&VirtualProxy> = site
        .virtual_proxies
        .iter()
        .filter(|vp| vp.is_jwt() && vp.jwt_audience.as_deref() == Some(typed.audience.as_str()))
        .collect();
    let mut fix = None;
    if !same_audience.is_empty() {
        let named: Vec<String> = same_audience
            .iter()
            .map(|vp| {
                let yours = match holds_local_key(vp.jwt_certificate.as_deref(), local) {
                    Some(true) => " (your key)",
                    Some(false) => " (another key)",
                    None => "",
                };
                format!("'{}'{yours}", vp.prefix)
            })
            .collect();
        found.push_str(&format!(
            "; JWT virtual proxies with the audience '{}': {}",
            typed.audience,
            named.join(", ")
        ));
        let best = same_audience
            .iter()
            .find(|vp| holds_local_key(vp.jwt_certificate.as_deref(), local) == Some(true))
            .or(same_audience.first());
        if let Some(vp) = best {
            fix = Some(typed.doctor(vp.prefix.trim_matches('/'), &typed.audience));
            found.push_str("; check the one you meant with its prefix, or create yours");
        }
    }
    let check = Check::fail(id::VP, title::VP, found);
    match fix {
        Some(fix) => check.with_fix(fix),
        None => check.with_fixes(typed.apply(local, false, None, now)),
    }
}

fn jwt_check(typed: &Typed, vp: &VirtualProxy, apply: &[Fix]) -> Check {
    if vp.is_jwt() {
        return Check::pass(
            id::VP_JWT,
            title::VP_JWT,
            format!("authenticationMethod {JWT_AUTHENTICATION} (JWT)"),
        );
    }
    Check::fail(
        id::VP_JWT,
        title::VP_JWT,
        format!(
            "'{}' has authenticationMethod {}, not {JWT_AUTHENTICATION} (JWT): it takes no token",
            typed.prefix,
            qseow::authentication_method_name(vp.authentication_method)
        ),
    )
    .with_fixes(apply.to_vec())
}

fn key_check(
    typed: &Typed,
    vp: &VirtualProxy,
    pem: Option<&str>,
    local: Option<&LocalKey>,
    apply: &[Fix],
) -> Check {
    let Some(pem) = pem else {
        return Check::fail(
            id::VP_KEY,
            title::VP_KEY,
            format!(
                "'{}' holds no JWT certificate (jwtPublicKeyCertificate is empty)",
                typed.prefix
            ),
        )
        .with_fixes(apply.to_vec());
    };
    let server = match keys::verifying_key_from(
        pem,
        &PublicKeyOrigin::Named(format!("the virtual proxy '{}''s certificate", vp.prefix)),
    ) {
        Ok(key) => key,
        Err(err) => {
            return Check::fail(id::VP_KEY, title::VP_KEY, err.to_string())
                .with_fixes(apply.to_vec());
        }
    };
    let Some(server_rsa) = &server.rsa else {
        return Check::fail(
            id::VP_KEY,
            title::VP_KEY,
            format!(
                "'{}' holds {}; the proxy verifies qs-jwt's tokens (RS256) with an RSA key",
                typed.prefix, server.kind
            ),
        )
        .with_fixes(apply.to_vec());
    };
    let Some(local) = local else {
        return Check::skip(id::VP_KEY, title::VP_KEY, "the local key could not be read");
    };
    if *server_rsa == local.public {
        return Check::pass(
            id::VP_KEY,
            title::VP_KEY,
            format!(
                "'{}' holds the certificate of your private key (thumbprint {})",
                typed.prefix,
                local.public.thumbprint()
            ),
        );
    }
    Check::fail(
        id::VP_KEY,
        title::VP_KEY,
        format!(
            "'{}' holds the certificate of another key (thumbprint {}) than your private key \
             (thumbprint {}): the proxy refuses tokens signed with yours; either sign with the \
             key it holds, or give it your certificate, which replaces the one there \
             (docs/qlik-setup.md \"Rotating the key (QSEoW)\")",
            typed.prefix,
            server_rsa.thumbprint(),
            local.public.thumbprint()
        ),
    )
    .with_fixes([wrong_key_advice(
        &format!("the virtual proxy '{}'", typed.prefix),
        server_rsa,
        &typed.files,
    )])
    .with_fixes(apply.to_vec())
}

fn certificate_check(
    validity: Option<Validity>,
    has_certificate: bool,
    now: u64,
    apply: &[Fix],
) -> Check {
    let Some(validity) = validity else {
        let why = if has_certificate {
            "the virtual proxy's certificate has no dates qs-jwt can read"
        } else {
            "the virtual proxy holds no certificate"
        };
        return Check::skip(id::VP_CERTIFICATE, title::VP_CERTIFICATE, why);
    };
    super::certificate_dates_check(
        CertificateLine {
            id: id::VP_CERTIFICATE,
            title: title::VP_CERTIFICATE,
            then: "give it to the virtual proxy",
            fix: apply.to_vec(),
        },
        &validity,
        now,
    )
}

fn audience_check(typed: &Typed, vp: &VirtualProxy, apply: &[Fix]) -> Check {
    let held = vp.jwt_audience.as_deref().unwrap_or_default();
    if held == typed.audience {
        return Check::pass(id::VP_AUDIENCE, title::VP_AUDIENCE, format!("'{held}'"));
    }
    if held.is_empty() {
        return Check::fail(
            id::VP_AUDIENCE,
            title::VP_AUDIENCE,
            format!("'{}' has no JWT audience", typed.prefix),
        )
        .with_fixes(apply.to_vec());
    }
    Check::fail(
        id::VP_AUDIENCE,
        title::VP_AUDIENCE,
        format!(
            "'{}' takes the audience '{held}', and you sign with '{}': sign with its audience \
             (create-qseow --audience), or give it yours (setup-qseow --apply)",
            typed.prefix, typed.audience
        ),
    )
    .with_fix(typed.doctor(&typed.prefix, held))
}

fn attributes_check(typed: &Typed, vp: &VirtualProxy, apply: &[Fix]) -> Check {
    let field = |name: &str| {
        vp.json
            .get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let user_id = field("jwtAttributeUserId");
    let user_directory = field("jwtAttributeUserDirectory");
    let mut differ = Vec::new();
    for (name, held, written) in [
        ("jwtAttributeUserId", &user_id, QSEOW_USER_ID_CLAIM),
        (
            "jwtAttributeUserDirectory",
            &user_directory,
            QSEOW_USER_DIRECTORY_CLAIM,
        ),
    ] {
        if held != written {
            differ.push(format!(
                "{name} is '{held}', and create-qseow writes the claim '{written}'"
            ));
        }
    }
    if differ.is_empty() {
        return Check::pass(
            id::VP_ATTRIBUTES,
            title::VP_ATTRIBUTES,
            format!("user ID from '{user_id}', user directory from '{user_directory}'"),
        );
    }
    Check::fail(
        id::VP_ATTRIBUTES,
        title::VP_ATTRIBUTES,
        format!("'{}': {}", typed.prefix, differ.join("; ")),
    )
    .with_fixes(apply.to_vec())
}

fn linked_check(
    typed: &Typed,
    vp: &VirtualProxy,
    services: &[ProxyService],
    nodes: &[ServerNode],
    apply: &[Fix],
) -> Check {
    // Named as setup-qseow --apply names them: by node, the id only to tell two apart.
    let all = qseow::proxy_service_names(services, nodes);
    let linked: Vec<&String> = services
        .iter()
        .zip(&all)
        .filter(|(s, _)| s.links(&vp.id))
        .map(|(_, name)| name)
        .collect();
    if !linked.is_empty() {
        return Check::pass(
            id::VP_LINKED,
            title::VP_LINKED,
            format!(
                "linked to the proxy service of {}",
                linked
                    .iter()
                    .map(|name| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    Check::fail(
        id::VP_LINKED,
        title::VP_LINKED,
        format!(
            "no proxy service links '{}', so no proxy serves it (the site's proxy services: {})",
            typed.prefix,
            if all.is_empty() {
                "none".to_owned()
            } else {
                all.join(", ")
            }
        ),
    )
    .with_fixes(apply.to_vec())
}

fn nodes_check(typed: &Typed, vp: &VirtualProxy, nodes: &[ServerNode], apply: &[Fix]) -> Check {
    if !vp.load_balancing_nodes.is_empty() {
        let names: Vec<String> = vp
            .load_balancing_nodes
            .iter()
            .map(|id| {
                nodes
                    .iter()
                    .find(|n| &n.id == id)
                    .map_or_else(|| id.clone(), ServerNode::shown)
            })
            .collect();
        return Check::pass(
            id::VP_NODES,
            title::VP_NODES,
            format!("to {}", names.join(", ")),
        );
    }
    Check::fail(
        id::VP_NODES,
        title::VP_NODES,
        format!(
            "'{}' has no load-balancing node: a session opens no app (the site has {})",
            typed.prefix,
            render::count(nodes.len(), "server node")
        ),
    )
    .with_fixes(apply.to_vec())
}

/// `--login`: a fresh token from the one place that signs, sent through the virtual proxy as
/// login-qseow sends one. Neither the token nor the session's cookies are shown.
fn login(
    server: Server,
    args: &DoctorQseowArgs,
    key: &keys::SigningKey,
    now: u64,
) -> (Check, Check) {
    match login_result(server, args, key, now) {
        Ok(checks) => checks,
        Err(check) => (
            check,
            Check::skip(
                id::ENGINE,
                title::ENGINE,
                "no session to prove the engine with",
            ),
        ),
    }
}

/// The virtual proxy's host allow list holds the host of `--server`: the Origin a browser on
/// that URL sends, which QSEoW's WebSocket CSRF protection checks (else 403 at the handshake).
fn allow_list(
    typed: &Typed,
    local: &Result<LocalKey, KeyTrouble>,
    read: &Read,
    server: &Server,
    now: u64,
) -> Check {
    let host = server.bare_host().to_owned();
    let Read::Site(site) = read else {
        return Check::skip(
            id::VP_ALLOW_LIST,
            title::VP_ALLOW_LIST,
            "the repository was not read",
        );
    };
    let wanted = typed.prefix.trim_matches('/');
    let Some(vp) = site
        .virtual_proxies
        .iter()
        .find(|vp| vp.prefix.trim_matches('/').eq_ignore_ascii_case(wanted))
    else {
        return Check::skip(
            id::VP_ALLOW_LIST,
            title::VP_ALLOW_LIST,
            "no virtual proxy to read",
        );
    };
    let list: Vec<String> = vp
        .json
        .get("websocketCrossOriginWhiteList")
        .and_then(serde_json::Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|h| h.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let shown = if list.is_empty() {
        "nothing".to_owned()
    } else {
        list.iter()
            .map(|h| format!("'{}'", render::escape(h)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if list.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
        return Check::pass(
            id::VP_ALLOW_LIST,
            title::VP_ALLOW_LIST,
            format!("holds '{host}', the host of --server (it holds {shown})"),
        );
    }
    Check::fail(
        id::VP_ALLOW_LIST,
        title::VP_ALLOW_LIST,
        format!(
            "does not hold '{host}', the host of --server (it holds {shown}): the engine's \
             WebSocket from that host is refused with 403"
        ),
    )
    .with_fixes(
        typed
            .apply(local.as_ref().ok(), false, None, now)
            .into_iter()
            .map(|mut fix| {
                if fix.effect.changes_qlik() {
                    fix.text = format!("{} --allow-host {}", fix.text, quoted(&host));
                }
                fix
            }),
    )
}

fn login_result(
    server: Server,
    args: &DoctorQseowArgs,
    key: &keys::SigningKey,
    now: u64,
) -> Result<(Check, Check), Check> {
    let fail = |why: String| Check::fail(id::LOGIN, title::LOGIN, why);
    let user_directory = args.userdir.clone().unwrap_or_default();
    let user_id = args.userid.clone().unwrap_or_default();
    let user = QseowUser {
        user_id: user_id.clone(),
        user_directory: user_directory.clone(),
        audience: args.audience.clone(),
        user: User {
            expires: std::time::Duration::from_secs(LOGIN_TOKEN_SECS),
            ..User::default()
        },
    };
    let payload = claims::qseow_claims(&user, now).map_err(|e| fail(e.to_string()))?;
    let token = token::sign(&claims::qseow_header(), &payload, key).map_err(|e| fail(said(&e)))?;
    let token = SecretText::new(token);
    let proxy = connect::proxy(
        server,
        &Connection {
            cacert: args.connection.cacert.as_deref(),
            insecure: args.connection.insecure,
            timeout: args.connection.timeout,
            sends: "the token",
        },
    )
    .map_err(|e| fail(said(&e.into())))?;
    let shown = proxy.server().to_string();
    let who = format!("{user_directory}\\{user_id}");
    let reply = proxy.login(&token).map_err(|e| fail(said(&e.into())))?;
    if (300..400).contains(&reply.status) {
        return Err(fail(format!(
            "{shown} sent a fresh token for '{who}' to a login page (HTTP {}): no linked JWT \
             virtual proxy serves this prefix",
            reply.status
        )));
    }
    if !(200..300).contains(&reply.status) {
        return Err(fail(format!(
            "{shown} refused a fresh token for '{who}' (HTTP {})",
            reply.status
        )));
    }
    if reply.set_cookies.is_empty() {
        return Err(fail(format!(
            "{shown} answered HTTP {} but set no session cookie",
            reply.status
        )));
    }
    let cookies = connect::cookie_header(&reply.set_cookies);
    // The probe ends its session: the steps before leave time for that.
    crate::http::hold_back_for_cleanup();
    let engine = match &cookies {
        Some(cookies) => {
            let target = prove::EngineTarget {
                origin: None,
                app: None,
            };
            let report = prove::qseow(
                &proxy,
                cookies,
                None,
                &target,
                Some((&user_directory, &user_id)),
            )
            .unwrap_or_else(|e| prove::EngineReport::unreachable(&e, None));
            super::engine_check(&report)
        }
        None => Check::skip(id::ENGINE, title::ENGINE, "no session cookie"),
    };
    let ended = cookies.is_some_and(|cookies| connect::end_qseow_session(&proxy, &cookies));
    Ok((
        Check::pass(
            id::LOGIN,
            title::LOGIN,
            format!(
                "a fresh token for '{who}' made a session at {shown} (HTTP {}){}",
                reply.status,
                if ended {
                    ", ended again"
                } else {
                    ", left open (see the warning)"
                }
            ),
        ),
        engine,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::commands::doctor::EXPIRY_WARNING_SECS;
    use serde_json::json;
    use std::path::Path;

    const NOW: u64 = times::EXAMPLE_NOW;

    fn typed() -> Typed {
        Typed {
            qrs: "https://q.example:4242".to_owned(),
            prefix: "jwt".to_owned(),
            audience: "aud".to_owned(),
            key_source: "--cert-privatekey-file keys/qsjwt_privatekey.pem".to_owned(),
            key_file: Some("keys/qsjwt_privatekey.pem".to_owned()),
            certificate: "keys/qsjwt_publickey.cer".to_owned(),
            files: Vec::new(),
            connection: "--qrs-cert client.pem --qrs-key client_key.pem".to_owned(),
            client: "--qrs-cert 'client.pem' as 'UserDirectory=INTERNAL; UserId=sa_repository'"
                .to_owned(),
        }
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name),
        )
        .unwrap()
    }

    fn local(name: &str) -> LocalKey {
        let key = keys::verifying_key_from(&fixture(name), &PublicKeyOrigin::Flag).unwrap();
        let public = key.rsa.unwrap();
        LocalKey {
            bits: public.bits(),
            public,
        }
    }

    fn vp(prefix: &str, audience: &str, certificate: &str) -> VirtualProxy {
        VirtualProxy::from_json(&json!({
            "id": format!("id-{prefix}"), "prefix": prefix, "authenticationMethod": 4,
            "jwtAudience": audience, "jwtPublicKeyCertificate": certificate,
            "jwtAttributeUserId": "userId", "jwtAttributeUserDirectory": "userDirectory",
            "loadBalancingServerNodes": [{"id": "n1"}],
        }))
    }

    fn site(vps: Vec<VirtualProxy>) -> Read {
        let services = vps
            .iter()
            .map(|v| {
                ProxyService::from_json(&json!({"id": "p1",
                "serverNodeConfiguration": {"id": "n1", "name": "central"},
                "settings": {"virtualProxies": [{"id": v.id}]}}))
            })
            .collect();
        Read::Site(Site {
            virtual_proxies: vps,
            proxy_services: services,
            server_nodes: vec![ServerNode {
                id: "n1".to_owned(),
                name: Some("central".to_owned()),
                host_name: None,
            }],
        })
    }

    fn check<'a>(report: &'a Report, id: &str) -> &'a Check {
        report.checks.iter().find(|c| c.id == id).unwrap()
    }

    fn now_in_certificate() -> u64 {
        keys::certificate_validity(&fixture("rsa2048-cert.pem"))
            .unwrap()
            .not_before
            + 86_400
    }

    #[test]
    fn all_pass_for_the_virtual_proxy_of_this_key() {
        let read = site(vec![vp("jwt", "aud", &fixture("rsa2048-cert.pem"))]);
        let report = checks(
            &typed(),
            &Ok(local("rsa2048-cert.pem")),
            &read,
            now_in_certificate(),
        );
        for c in &report.checks {
            assert_eq!(c.status, Status::Pass, "{c:?}");
        }
        assert_eq!(report.checks.len(), 11);
    }

    #[test]
    fn another_audience_is_shown_and_the_fix_signs_with_it() {
        let read = site(vec![vp("JWT", "theirs", &fixture("rsa2048-cert.pem"))]);
        let report = checks(&typed(), &Ok(local("rsa2048-cert.pem")), &read, NOW);
        let c = check(&report, id::VP_AUDIENCE);
        assert_eq!(c.status, Status::Fail);
        assert!(c.found.contains("'theirs'"), "{}", c.found);
        assert_eq!(
            c.fix(),
            Some(
                "qs-jwt doctor-qseow --qrs https://q.example:4242 --prefix jwt --audience theirs \
                 --cert-privatekey-file keys/qsjwt_privatekey.pem --qrs-cert client.pem \
                 --qrs-key client_key.pem"
            )
        );
    }

    #[test]
    fn no_virtual_proxy_names_the_prefixes_and_the_jwt_ones_with_this_audience() {
        let read = site(vec![
            vp("sso", "aud", &fixture("rsa2048-cert.pem")),
            vp("other", "x", &fixture("rsa2048-cert.pem")),
        ]);
        let report = checks(&typed(), &Ok(local("rsa2048-cert.pem")), &read, NOW);
        let c = check(&report, id::VP);
        assert!(
            c.found.contains("prefixes: 'sso', 'other'")
                && c.found.contains("audience 'aud': 'sso' (your key)"),
            "{}",
            c.found
        );
        assert!(c.fix().unwrap().contains("--prefix sso --audience aud"));
        assert_eq!(check(&report, id::VP_KEY).status, Status::Skip);
        let report = checks(&typed(), &Ok(local("rsa2048-cert.pem")), &site(vec![]), NOW);
        let steps: Vec<&str> = check(&report, id::VP)
            .fixes
            .iter()
            .map(|f| f.text.as_str())
            .collect();
        assert_eq!(
            steps,
            [
                "openssl req -new -x509 -key keys/qsjwt_privatekey.pem -out \
                 keys/qsjwt_publickey.cer -days 730 -subj /CN=qs-jwt",
                "qs-jwt setup-qseow --audience aud --prefix jwt --cert-publickey-file \
                 keys/qsjwt_publickey.cer --apply --qrs https://q.example:4242 --qrs-cert \
                 client.pem --qrs-key client_key.pem"
            ]
        );
    }

    #[test]
    fn another_key_no_nodes_and_unlinked_fail_with_apply() {
        let other = fixture("rsa2048-genpkey-public.pem");
        let mut broken = vp("jwt", "aud", &other);
        broken.load_balancing_nodes.clear();
        let read = Read::Site(Site {
            virtual_proxies: vec![broken],
            ..Site::default()
        });
        let report = checks(&typed(), &Ok(local("rsa2048-cert.pem")), &read, NOW);
        for id in [id::VP_KEY, id::VP_NODES, id::VP_LINKED] {
            let c = check(&report, id);
            assert_eq!(c.status, Status::Fail, "{c:?}");
            // Giving the proxy this key locks out the signers of the one it holds: said.
            let apply = c.fixes.last().unwrap();
            assert!(apply.text.starts_with("qs-jwt setup-qseow"), "{apply:?}");
            assert_eq!(apply.effect, super::super::Effect::ReplacesKey);
        }
        let key = check(&report, id::VP_KEY);
        assert_eq!(key.fixes[0].effect, super::super::Effect::Advice);
        assert!(key.fixes[0].text.contains("wrong key"), "{:?}", key.fixes);
        // A public key, not a certificate: no dates.
        assert_eq!(check(&report, id::VP_CERTIFICATE).status, Status::Skip);
    }

    #[test]
    fn two_virtual_proxies_with_the_prefix_are_named_and_nothing_else_is_checked() {
        let mut second = vp("/JWT/", "aud", &fixture("rsa2048-cert.pem"));
        second.id = "id-second".to_owned();
        let read = site(vec![vp("jwt", "aud", &fixture("rsa2048-cert.pem")), second]);
        let report = checks(&typed(), &Ok(local("rsa2048-cert.pem")), &read, NOW);
        let c = check(&report, id::VP);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.found
                .contains("2 virtual proxies have the prefix 'jwt' (id-jwt, id-second)"),
            "{}",
            c.found
        );
        assert_eq!(check(&report, id::VP_AUDIENCE).status, Status::Skip);
    }

    #[test]
    fn certificate_dates() {
        let validity = keys::certificate_validity(&fixture("rsa2048-cert.pem")).unwrap();
        let at = |now| certificate_check(Some(validity), true, now, &[]).status;
        assert_eq!(at(validity.not_before - 1), Status::Fail);
        assert_eq!(
            at(validity.not_after - EXPIRY_WARNING_SECS - 1),
            Status::Pass
        );
        assert_eq!(at(validity.not_after - 86_400), Status::Warn);
        assert_eq!(at(validity.not_after), Status::Fail);
    }

    #[test]
    fn refusals_and_a_short_key_fail_their_lines() {
        let short = LocalKey {
            bits: 1024,
            ..local("rsa2048-cert.pem")
        };
        let report = checks(
            &typed(),
            &Ok(short),
            &Read::CertificateRefused("refused".into()),
            NOW,
        );
        assert_eq!(check(&report, "local-key").status, Status::Fail);
        assert_eq!(check(&report, id::REPOSITORY).status, Status::Pass);
        assert_eq!(check(&report, id::CLIENT_CERTIFICATE).status, Status::Fail);
        assert_eq!(check(&report, id::VP_NODES).status, Status::Skip);
        let report = checks(
            &typed(),
            &Ok(local("rsa2048-cert.pem")),
            &Read::Unreachable("no".into()),
            NOW,
        );
        assert_eq!(check(&report, id::REPOSITORY).status, Status::Fail);
        assert_eq!(check(&report, id::CLIENT_CERTIFICATE).status, Status::Skip);
    }
}
