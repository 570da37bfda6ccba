//! Where flags and environment become Qlik clients, and every Qlik refusal is put in words for
//! people: the tenant of --tenant (with the API key from QLIK_API_KEY or --api-key-file, or
//! with no credential for the calls that carry their own token), QSEoW's repository of --qrs
//! (with the QMC's client certificate, --qrs-key a secret read and registered here before
//! anything is sent, and the `X-Qlik-User` of --qrs-user), and a virtual proxy of --server.
//! `qlik/` holds the clients and names no flag; this module does. Shared, not a command.

use std::path::Path;
use std::time::Duration;

use crate::error::UserError;
use crate::http::{Client, ClientCertificate, ClientOptions, Server};
use crate::input::{self, FileFlag};
use crate::keys;
use crate::qlik::cloud::{ApiFailure, Tenant};
use crate::qlik::qseow::{Proxy, QrsFailure, Repository};
use crate::qlik::rules::QSEOW_REPOSITORY_PORT;
use crate::secret::SecretText;

/// The environment variable that holds the API key when --api-key-file is not given.
pub const API_KEY_VARIABLE: &str = "QLIK_API_KEY";

const API_KEY_FILE: FileFlag = FileFlag {
    flag: "--api-key-file",
    holds: "API key",
    format: "text",
    der_hint: None,
};

const QRS_KEY_FILE: FileFlag = FileFlag {
    flag: "--qrs-key",
    holds: "client certificate's private key",
    format: "PEM",
    der_hint: None,
};

/// How a command reaches a server, in plain values: --cacert, --insecure, --timeout, and what
/// it sends there (for the --insecure warning).
pub struct Connection<'a> {
    pub cacert: Option<&'a Path>,
    pub insecure: bool,
    pub timeout: Duration,
    pub sends: &'static str,
}

/// --tenant as the tenant's canonical origin (a path is refused). `sends` names what the
/// command sends there ("the API key"), for the refusal of an http URL.
pub fn tenant_server(tenant: &str, sends: &str) -> Result<Server, UserError> {
    Server::parse_tenant_sending(tenant, sends)
}

/// The tenant at `server`, reached without an API key: the login and the OAuth token request
/// carry their own token or credentials.
pub fn tenant(server: Server, connection: &Connection<'_>) -> Result<Tenant, UserError> {
    Ok(Tenant::new(client(server, connection, None)?, None))
}

/// The virtual proxy at `server` (its prefix the server's path).
pub fn proxy(server: Server, connection: &Connection<'_>) -> Result<Proxy, UserError> {
    Ok(Proxy::new(client(server, connection, None)?))
}

fn client(
    server: Server,
    connection: &Connection<'_>,
    client_certificate: Option<ClientCertificate<'_>>,
) -> Result<Client, UserError> {
    Client::new(
        server,
        &ClientOptions {
            cacert: connection.cacert,
            insecure: connection.insecure,
            timeout: connection.timeout,
            sends: connection.sends,
            client_certificate,
        },
    )
}

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

/// The tenant of --tenant with its API key, read before anything is sent.
pub fn tenant_with_api_key(args: &TenantConnection<'_>) -> Result<Tenant, UserError> {
    let server = tenant_server(args.tenant, "the API key")?;
    let api_key = api_key(args.api_key_file, args.needed_by)?;
    let connection = Connection {
        cacert: args.cacert,
        insecure: args.insecure,
        timeout: args.timeout,
        sends: "the API key",
    };
    Ok(Tenant::new(
        client(server, &connection, None)?,
        Some(api_key),
    ))
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
                    "{needed_by} needs a tenant admin's API key: set {API_KEY_VARIABLE} or give \
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
/// parts whose header starts as every JSON object does (`{"` is `eyJ`), with or without the
/// `Bearer ` of an Authorization header.
fn looks_like_api_key(path: &Path) -> bool {
    let Some(text) = path.to_str() else {
        return false;
    };
    let text = text.trim();
    let text = match text.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => text[7..].trim_start(),
        _ => text,
    };
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// A call to the tenant's API that failed, in words: Qlik's errors with a hint, the API key
/// never quoted.
pub fn cloud_failure(failure: ApiFailure, action: &str, tenant: &Tenant) -> UserError {
    let api_key = tenant.credential();
    let tenant = tenant.server().to_string();
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
    if let Some(key) = api_key.map(SecretText::expose)
        && !key.is_empty()
        && said.contains(key)
    {
        said = said.replace(key, "[the API key]");
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

/// How a command reaches the repository, in plain values.
pub struct RepositoryConnection<'a> {
    /// --qrs as given.
    pub qrs: &'a str,
    pub qrs_cert: Option<&'a Path>,
    pub qrs_key: Option<&'a Path>,
    pub cacert: Option<&'a Path>,
    /// --qrs-user as given.
    pub qrs_user: &'a str,
    pub insecure: bool,
    pub timeout: Duration,
    /// What needs the client certificate, for the usage error when there is none: "--apply".
    pub needed_by: &'a str,
}

/// `--qrs`: an https URL, or a bare `host` or `host:port` as `--tenant` takes one, which means
/// https and, without a port, the repository's own 4242.
fn repository_server(qrs: &str) -> Result<Server, UserError> {
    let mut server = Server::parse(qrs, "--qrs", true)?;
    if !server.base_path.is_empty() {
        return Err(UserError::usage(format!(
            "--qrs '{server}' has a path; give the repository API's URL alone, such as \
             https://qlikserver.example.com:4242 (the repository has no virtual proxy prefix)"
        )));
    }
    if server.port.is_none() && !qrs.contains("://") {
        server.port = Some(QSEOW_REPOSITORY_PORT);
    }
    Ok(server)
}

/// The repository client: --qrs, the client certificate and key, --cacert.
pub fn repository(args: &RepositoryConnection<'_>) -> Result<Repository, UserError> {
    let server = repository_server(args.qrs)?;
    let (cert_path, key_path) = match (args.qrs_cert, args.qrs_key) {
        (Some(cert), Some(key)) => (cert, key),
        // clap requires both.
        _ => {
            return Err(UserError::usage(format!(
                "{} needs --qrs-cert <client.pem> and --qrs-key <client_key.pem>",
                args.needed_by
            )));
        }
    };
    let user = qrs_user(args.qrs_user)?;
    let key = client_key(key_path)?;
    let connection = Connection {
        cacert: args.cacert,
        insecure: args.insecure,
        timeout: args.timeout,
        sends: "what the repository is told",
    };
    let client = client(
        server,
        &connection,
        Some(ClientCertificate {
            cert_path,
            cert_flag: "--qrs-cert",
            key_path,
            key_flag: "--qrs-key",
            key: &key,
        }),
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

/// A call to the repository that failed, in words: `action` ("update the virtual proxy 'jwt'")
/// on `repository`, what the status means for a repository call, and how to fix it.
pub fn qrs_failure(failure: QrsFailure, action: &str, repository: &Repository) -> UserError {
    let server = repository.server().to_string();
    let (status, body) = match failure {
        QrsFailure::Transport(err) => return err,
        QrsFailure::Unreadable { status, what } => {
            return UserError::runtime(format!(
                "cannot {action}: {server} answered HTTP {status}, but {what}"
            ))
            .with_hint(
                "check that --qrs is the repository API (https://<server>:4242), not the \
                     hub or a virtual proxy",
            );
        }
        QrsFailure::Refused { status, body } => (status, body),
    };
    let said = said(&body);
    match status {
        401 | 403 => UserError::runtime(format!(
            "{server} did not let qs-jwt {action} (HTTP {status}) as --qrs-user '{}'{said}",
            repository.user()
        ))
        .with_hint(
            "the repository takes the client certificate the QMC exported from this site \
                 (--qrs-cert, --qrs-key) and an X-Qlik-User with admin rights (--qrs-user, \
                 default UserDirectory=INTERNAL; UserId=sa_repository)",
        ),
        409 => UserError::runtime(format!(
            "cannot {action}: someone changed it since qs-jwt read it (HTTP 409); nothing \
                 was overwritten{said}"
        ))
        .with_hint(
            "run the same command again: it reads the new version and changes only what \
                 it must",
        ),
        300..400 => UserError::runtime(format!(
            "cannot {action}: {server} answered with a redirect (HTTP {status}), as the hub \
                 does to a login page"
        ))
        .with_hint(
            "--qrs must be the repository API on its own port, such as \
                 https://qlikserver.example.com:4242, not the hub or a virtual proxy",
        ),
        404 => UserError::runtime(format!("cannot {action}: HTTP 404 from {server}{said}"))
            .with_hint(
                "check --qrs: the repository API's URL with its port, such as \
                     https://qlikserver.example.com:4242 (no virtual proxy prefix)",
            ),
        400 => UserError::runtime(format!("{server} refused to {action} (HTTP 400){said}"))
            .with_hint(
                "qs-jwt setup-qseow without --apply prints the body it sends; check the value \
                 the repository names",
            ),
        _ => UserError::runtime(format!(
            "cannot {action}: HTTP {status} from {server}{said}"
        ))
        .with_hint("try again later; the repository's log says why"),
    }
}

/// The most of a refusal's body that an error quotes.
const MAX_SAID: usize = 300;

/// A refusal's body as a clause (`: <text>`), cut; empty for none. Shown through
/// `error::for_people`, which escapes it.
fn said(body: &str) -> String {
    let text = body.trim();
    if text.is_empty() || text.starts_with('<') {
        return String::new();
    }
    let cut: String = text.chars().take(MAX_SAID).collect();
    let more = if cut.len() < text.len() { "..." } else { "" };
    format!(
        ": {}{more}",
        cut.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

/// Ends a probe's session on a virtual proxy (the Personal API's `DELETE /qps/user`): true when
/// it ended. A failure is a warning, for what the probe proved stands.
pub fn end_qseow_session(proxy: &Proxy, cookies: &SecretText) -> bool {
    crate::http::for_cleanup(|| ended(proxy.logout(cookies), "the virtual proxy"))
}

/// Ends a probe's session on Qlik Cloud: its CSRF token, then `POST /logout` with both.
pub fn end_qscloud_session(tenant: &Tenant, cookies: &SecretText) -> bool {
    crate::http::for_cleanup(|| {
        let csrf = tenant
            .csrf_token(Some(cookies), None)
            .ok()
            .and_then(|reply| reply.csrf_token);
        ended(tenant.logout(cookies, csrf.as_ref()), "Qlik Cloud")
    })
}

fn ended(reply: Result<crate::http::Reply, UserError>, who: &str) -> bool {
    match reply {
        Ok(reply) if (200..400).contains(&reply.status) => {
            crate::verbose!("{who} ended the session (HTTP {})", reply.status);
            true
        }
        Ok(reply) => {
            tracing::warn!(
                "{who} did not end the session (HTTP {}): it stays open until it times out",
                reply.status
            );
            false
        }
        Err(err) => {
            tracing::warn!("cannot end the session: {err}; it stays open until it times out");
            false
        }
    }
}

/// The `Cookie` header that carries back what a login's `Set-Cookie` lines set (each line's
/// `name=value`), for a probe that keeps no cookie jar. (Each value is registered as a secret
/// when the reply is read: `http::Reply::set_cookies`.)
pub fn cookie_header(set_cookies: &[SecretText]) -> Option<SecretText> {
    let pairs: Vec<&str> = set_cookies
        .iter()
        .filter_map(|line| line.expose().split(';').next())
        .map(str::trim)
        .filter(|pair| pair.contains('='))
        .collect();
    (!pairs.is_empty()).then(|| SecretText::composed(pairs.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Server;
    use crate::qlik::cloud;

    #[test]
    fn qliks_errors_are_said_without_the_api_key() {
        let key = SecretText::new("sekrit-api-key");
        let server = Server::parse("t.example.com", "--tenant", true).unwrap();
        let connection = Connection {
            cacert: None,
            insecure: false,
            timeout: Duration::from_secs(1),
            sends: "the API key",
        };
        let tenant = Tenant::new(client(server, &connection, None).unwrap(), Some(key));
        let err = cloud_failure(
            ApiFailure::Refused {
                status: 400,
                errors: cloud::all_errors(
                    br#"{"errors": [{"title": "Invalid request", "detail": "bad sekrit-api-key"}]}"#,
                )
                .0,
                trace_id: Some("t1".to_owned()),
            },
            "create the identity provider",
            &tenant,
        );
        let text = err.to_string();
        assert!(!text.contains("sekrit"), "{text}");
        assert!(
            text.contains("HTTP 400") && text.contains("traceId t1"),
            "{text}"
        );
    }

    #[test]
    fn a_refusals_body_is_quoted_cut_and_without_html() {
        assert_eq!(said(""), "");
        assert_eq!(said("<html>x</html>"), "");
        assert_eq!(said(" Prefix  must\nbe unique "), ": Prefix must be unique");
        assert!(said(&"x".repeat(1000)).ends_with("..."));
    }

    #[test]
    fn qrs_takes_a_host_and_a_host_with_a_port_as_https_on_4242_by_default() {
        let server = repository_server("qlikserver.example.com").unwrap();
        assert_eq!(server.to_string(), "https://qlikserver.example.com:4242");
        let server = repository_server("qlikserver.example.com:4343").unwrap();
        assert_eq!(server.to_string(), "https://qlikserver.example.com:4343");
        // A URL means what it says: its port, or https's own.
        let server = repository_server("https://qlikserver.example.com:4242").unwrap();
        assert_eq!(server.port, Some(4242));
        let server = repository_server("https://qlikserver.example.com").unwrap();
        assert_eq!(server.port, None);
        for refused in [
            "http://qlikserver.example.com",
            "qlikserver.example.com/jwt",
        ] {
            assert!(
                repository_server(refused).unwrap_err().is_usage(),
                "{refused}"
            );
        }
    }
}
