//! QSEoW's repository API as the commands that use the QMC's client certificate reach it
//! (setup-qseow --apply, doctor-qseow): the client for --qrs with --qrs-cert and --qrs-key (a
//! secret, read here and registered before anything is sent), --cacert, and the `X-Qlik-User`
//! of --qrs-user. Shared, not a command.

use std::path::Path;
use std::time::Duration;

use crate::error::UserError;
use crate::http::{ClientCertificate, ClientOptions, Server};
use crate::input::{self, FileFlag};
use crate::keys;
use crate::qlik::qrs::Repository;
use crate::qlik::rules::QSEOW_REPOSITORY_PORT;
use crate::secret::SecretText;

const QRS_KEY_FILE: FileFlag = FileFlag {
    flag: "--qrs-key",
    holds: "client certificate's private key",
    format: "PEM",
    der_hint: None,
};

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
pub fn connect(args: &RepositoryConnection<'_>) -> Result<Repository, UserError> {
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
    let client = crate::http::Client::new(
        server,
        &ClientOptions {
            cacert: args.cacert,
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

#[cfg(test)]
mod tests {
    use super::*;

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
