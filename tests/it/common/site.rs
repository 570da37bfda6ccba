//! One builder for a QSEoW site stand-in (as cargo-test-support's `RegistryBuilder`): the
//! repository (QRS, mutual TLS) and proxy of `qrs_server`, started with the site's own test CA,
//! and a temporary folder holding the QMC's export (client.pem, client_key.pem, root.pem) and
//! whatever fixture files the test names. The tests build their command lines from
//! [`Site::command`] and [`Site::connection`], not by hand.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

use super::qrs_server::QrsServer;
use super::tenant::copy_fixtures;
use super::{Create, fixture, qs_jwt};

/// How a site stand-in starts: `SiteBuilder::new()` is a site as installed (a central node,
/// its proxy service, no virtual proxy for JWT), the folder holding the QMC's export only.
pub struct SiteBuilder {
    virtual_proxies: Vec<(Value, bool)>,
    files: Vec<(String, String, bool)>,
    v1_client: bool,
}

impl SiteBuilder {
    pub fn new() -> Self {
        Self {
            virtual_proxies: Vec::new(),
            files: Vec::new(),
            v1_client: false,
        }
    }

    /// A site whose QMC exported an X.509 v1 client certificate, which its repository takes
    /// (`QrsServer::start_for_v1_clients`): client.pem is the fixture client-v1.pem.
    pub fn v1_client_certificate(mut self) -> Self {
        self.v1_client = true;
        self
    }

    /// A virtual proxy an admin made by hand (see `qrs_server::jwt_virtual_proxy`), linked to
    /// the proxy service when `linked`.
    pub fn virtual_proxy(mut self, virtual_proxy: Value, linked: bool) -> Self {
        self.virtual_proxies.push((virtual_proxy, linked));
        self
    }

    /// The fixture `name` copied to `to` in the folder (folders made as needed).
    pub fn file(mut self, to: &str, name: &str) -> Self {
        self.files.push((to.to_owned(), name.to_owned(), false));
        self
    }

    /// As [`SiteBuilder::file`], readable by its owner only (a private key).
    pub fn private_file(mut self, to: &str, name: &str) -> Self {
        self.files.push((to.to_owned(), name.to_owned(), true));
        self
    }

    pub fn start(self) -> Site {
        let server = if self.v1_client {
            QrsServer::start_for_v1_clients()
        } else {
            QrsServer::start()
        };
        for (virtual_proxy, linked) in self.virtual_proxies {
            let id = server.add_virtual_proxy(virtual_proxy);
            if linked {
                server.link(&id);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        server.write_certificates(dir.path());
        copy_fixtures(dir.path(), &self.files);
        Site { server, dir }
    }
}

/// A running site stand-in and its folder.
pub struct Site {
    pub server: QrsServer,
    dir: tempfile::TempDir,
}

impl Site {
    /// The folder the commands run in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// qs-jwt run in the folder (with no proxy variables, as every run).
    pub fn command(&self) -> Command {
        qs_jwt(self.path())
    }

    /// `login-qseow --server <proxy>/jwt --cacert root.pem --jwt-file token.txt` with a fresh
    /// token for CORP\anna of `audience`, signed by the fixture key, then `extra`.
    pub fn login(&self, audience: &str, extra: &[&str]) -> Command {
        let token = Create::qseow()
            .args([
                "--userdir",
                "CORP",
                "--userid",
                "anna",
                "--audience",
                audience,
            ])
            .key_file(fixture("rsa2048-pkcs8.pem"))
            .run_in(self.path())
            .output()
            .unwrap();
        assert!(token.status.success(), "{token:?}");
        fs::write(self.path().join("token.txt"), &token.stdout).unwrap();
        let mut cmd = self.command();
        cmd.args(["login-qseow", "--server"])
            .arg(format!("{}/jwt", self.server.proxy_url()))
            .args(["--cacert", "root.pem", "--jwt-file", "token.txt"])
            .args(extra);
        cmd
    }

    /// `--qrs <stand-in's repository> --qrs-cert client.pem --qrs-key client_key.pem --cacert
    /// root.pem`
    pub fn connection(&self) -> [String; 8] {
        self.connection_to(&self.server.qrs_url())
    }

    /// As [`Site::connection`], with `--qrs` another URL (a server that is not a repository).
    pub fn connection_to(&self, qrs: &str) -> [String; 8] {
        [
            "--qrs".into(),
            qrs.into(),
            "--qrs-cert".into(),
            "client.pem".into(),
            "--qrs-key".into(),
            "client_key.pem".into(),
            "--cacert".into(),
            "root.pem".into(),
        ]
    }

    /// The PUT and POST requests the repository received, as `METHOD /path`.
    pub fn writes(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" || r.method == "POST")
            .map(|r| format!("{} {}", r.method, r.target.split('?').next().unwrap()))
            .collect()
    }
}
