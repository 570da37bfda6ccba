//! One builder for a Qlik Cloud tenant stand-in (as cargo-test-support's `RegistryBuilder`):
//! the server of `qlik_server` (identity providers, jwt-session, users/me, the OAuth token
//! endpoint), started with its own test CA, and a temporary folder holding that CA as ca.pem
//! and whatever fixture files the test names. The tests build their command lines from
//! [`Tenant::command`] and [`Tenant::connection`], not by hand.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

use super::ca::ServerCertificate;
use super::identity_providers::ADMIN_API_KEY;
use super::qlik_server::{Behaviour, QlikServer, Trust};
use super::{fixture, owner_only, qs_jwt};

/// How a tenant stand-in starts: `TenantBuilder::new()` answers as Qlik Cloud, trusts the
/// identity provider `i`/`k`, holds no identity provider in its API, presents a certificate of
/// its own test CA, and the folder holds ca.pem only.
pub struct TenantBuilder {
    behaviour: Behaviour,
    trust: Trust,
    certificate: Option<ServerCertificate>,
    identity_providers: Vec<Value>,
    files: Vec<(String, String, bool)>,
}

impl TenantBuilder {
    pub fn new() -> Self {
        Self {
            behaviour: Behaviour::QlikCloud,
            trust: Trust::default(),
            certificate: None,
            identity_providers: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Answers every request as `behaviour` says instead (rate limited, redirected, fixed, or
    /// as a QSEoW virtual proxy with `Behaviour::Qseow`).
    pub fn behaviour(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }

    /// Answers every request with `status` and the JSON `body`: a tenant that lies.
    pub fn answering(self, status: u16, body: &Value) -> Self {
        self.behaviour(Behaviour::Fixed(
            status,
            Box::leak(body.to_string().into_boxed_str()),
        ))
    }

    /// Configured as `trust` says (the identity provider or virtual proxy it trusts, its OAuth
    /// clients and users, its engine) instead of `Trust::default()`.
    pub fn trust(mut self, trust: Trust) -> Self {
        self.trust = trust;
        self
    }

    /// Presents `certificate` (a self-signed or expired one, say) instead of one of its own
    /// test CA; ca.pem is `certificate.ca_pem`.
    pub fn certificate(mut self, certificate: ServerCertificate) -> Self {
        self.certificate = Some(certificate);
        self
    }

    /// An identity provider in the tenant's API, as an admin adds one in the console.
    pub fn identity_provider(mut self, idp: Value) -> Self {
        self.identity_providers.push(idp);
        self
    }

    /// The fixture `name` copied to `to` in the folder (folders made as needed).
    pub fn file(mut self, to: &str, name: &str) -> Self {
        self.files.push((to.to_owned(), name.to_owned(), false));
        self
    }

    pub fn start(self) -> Tenant {
        let server = match self.certificate {
            Some(certificate) => QlikServer::start_with_ca(self.behaviour, self.trust, certificate),
            None => QlikServer::start_with(self.behaviour, self.trust),
        };
        for idp in self.identity_providers {
            server.add_identity_provider(idp);
        }
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("ca.pem"), &server.ca_pem).unwrap();
        copy_fixtures(dir.path(), &self.files);
        Tenant { server, dir }
    }
}

/// A running tenant stand-in and its folder.
pub struct Tenant {
    pub server: QlikServer,
    dir: tempfile::TempDir,
}

impl Tenant {
    /// The folder the commands run in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// qs-jwt run in the folder, with no proxy variables and the admin's API key in
    /// QLIK_API_KEY.
    pub fn command(&self) -> Command {
        let mut cmd = self.command_without_api_key();
        cmd.env("QLIK_API_KEY", ADMIN_API_KEY);
        cmd
    }

    /// qs-jwt run in the folder with no QLIK_API_KEY (and no proxy variables, as every run):
    /// for the commands that read no API key (login-*, oauth-qscloud, serve-*), where a value
    /// of it would be one more secret the run redacts.
    pub fn command_without_api_key(&self) -> Command {
        qs_jwt(self.path())
    }

    /// `--tenant <stand-in> --cacert ca.pem`
    pub fn connection(&self) -> [String; 4] {
        [
            "--tenant".into(),
            self.server.url(),
            "--cacert".into(),
            "ca.pem".into(),
        ]
    }
}

/// Copies each fixture `(to, name, private)` into `dir`.
pub(super) fn copy_fixtures(dir: &Path, files: &[(String, String, bool)]) {
    for (to, name, private) in files {
        let to = dir.join(to);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(fixture(name), &to).unwrap();
        if *private {
            owner_only(&to);
        }
    }
}
