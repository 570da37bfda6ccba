//! setup-qseow --apply against repositories that lie or break (tests/common/qrs_server.rs, and
//! tests/common/qlik_server.rs's fixed answers for a server that is not a repository): what
//! reaches the repository, what the user sees, the exit code. Nothing here reaches the network.

mod common;

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use serde_json::json;

use common::qlik_server::{Behaviour, QlikServer, silent_listener};
use common::qrs_server::{QrsServer, jwt_virtual_proxy};
use common::{fixture, fixture_text, qs_jwt};

const PROXY_VARIABLES: [&str; 8] = [
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

struct Site {
    server: QrsServer,
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Self {
        let server = QrsServer::start();
        let dir = tempfile::tempdir().unwrap();
        server.write_certificates(dir.path());
        fs::copy(
            fixture("rsa2048-cert.pem"),
            dir.path().join("publickey.cer"),
        )
        .unwrap();
        Self { server, dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn apply_to(&self, qrs: &str, more: &[&str]) -> Command {
        let mut cmd = qs_jwt(self.path());
        for name in PROXY_VARIABLES {
            cmd.env_remove(name);
        }
        cmd.args([
            "setup-qseow",
            "--audience",
            "qlik-jwt",
            "--cert-publickey-file",
            "publickey.cer",
            "--apply",
            "--qrs",
            qrs,
            "--qrs-cert",
            "client.pem",
            "--qrs-key",
            "client_key.pem",
            "--cacert",
            "root.pem",
        ])
        .args(more);
        cmd
    }

    fn apply(&self, more: &[&str]) -> Command {
        self.apply_to(&self.server.qrs_url(), more)
    }

    fn writes(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" || r.method == "POST")
            .map(|r| format!("{} {}", r.method, r.target.split('?').next().unwrap()))
            .collect()
    }
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let output = cmd.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A server that answers every request with `status` and `body` (not a repository), its CA
/// as root.pem in the site's folder.
fn liar(site: &Site, status: u16, body: String) -> QlikServer {
    let server = QlikServer::start(Behaviour::Fixed(status, Box::leak(body.into_boxed_str())));
    fs::write(site.path().join("root.pem"), &server.ca_pem).unwrap();
    server
}

#[test]
fn a_virtual_proxy_without_modified_date_is_not_overwritten() {
    let site = Site::new();
    let mut vp = jwt_virtual_proxy("jwt", "another-audience", &fixture_text("rsa2048-cert.pem"));
    vp["id"] = json!("11111111-0000-4000-8000-000000000001");
    site.server.with(|r| r.virtual_proxies.push(vp.clone()));
    let (code, out, err) = run(&mut site.apply(&[]));
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert_eq!(out, "");
    assert!(
        err.contains("cannot update the virtual proxy 'jwt'") && err.contains("no modifiedDate"),
        "{err}"
    );
    assert_eq!(site.writes(), Vec::<String>::new());
    assert_eq!(site.server.virtual_proxies(), [vp]);
}

#[test]
fn a_repository_that_gives_no_ids_gets_no_put_to_its_lists() {
    let site = Site::new();
    // Every answer is one virtual proxy without an id: the list, the engine and proxy
    // services, and the reply to a PUT.
    let server = liar(
        &site,
        200,
        json!([{"prefix": "jwt", "authenticationMethod": 0, "modifiedDate": "2026-01-01"}])
            .to_string(),
    );
    let (code, out, err) = run(&mut site.apply_to(&server.url(), &[]));
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert_eq!(out, "");
    assert!(err.contains("a virtual proxy listed has no id"), "{err}");
    let writes: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.target))
        .collect();
    assert_eq!(writes, Vec::<String>::new());
}

#[test]
fn a_proxy_service_without_a_list_of_virtual_proxies_is_not_linked_again_and_again() {
    let site = Site::new();
    site.server
        .with(|r| r.proxy_services[0]["settings"]["virtualProxies"] = json!("none"));
    let (code, out, err) = run(&mut site.apply(&[]));
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(
        err.contains("settings.virtualProxies is not a list"),
        "{err}"
    );
    assert!(
        !site
            .writes()
            .iter()
            .any(|w| w.starts_with("PUT /qrs/proxyservice")),
        "{:?}",
        site.writes()
    );
}

#[test]
fn qrs_takes_host_and_port_as_tenant_does_and_refuses_http() {
    let site = Site::new();
    let port = site.server.qrs_port;
    // host:port, as --tenant takes a bare host: https to that port.
    let (code, out, err) = run(&mut site.apply_to(&format!("127.0.0.1:{port}"), &[]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"prefix\""), "{out}");
    // A bare host is the repository's own port, 4242: where nothing of the test listens.
    let (code, _, err) = run(&mut site.apply_to("127.0.0.1", &["--timeout", "5s"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("127.0.0.1:4242"), "{err}");
    let writes = site.writes().len();
    let (code, _, err) = run(&mut site.apply_to(&format!("http://127.0.0.1:{port}"), &[]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--qrs 'http://127.0.0.1:"), "{err}");
    assert!(!err.contains("token"), "{err}");
    assert_eq!(site.writes().len(), writes);
}

/// What held: each lie is one error line naming --qrs or the repository, exit 1 or 2, nothing
/// written, the server's words escaped, the client key never shown (at debug too).
#[test]
fn lying_or_broken_repositories_fail_cleanly_and_change_nothing() {
    let site = Site::new();
    let key = fs::read_to_string(site.path().join("client_key.pem")).unwrap();
    let key_line = key.lines().nth(2).unwrap().to_owned();
    let cases: Vec<(u16, String, &str)> = vec![
        (200, "not json".to_owned(), "is not a JSON array"),
        (500, "boom \u{1b}[31mred".to_owned(), "HTTP 500"),
        (200, "x".repeat(3 << 20), "larger than 1 MiB"),
        (
            200,
            json!([{"prefix": "JWT", "id": "a", "modifiedDate": "d"},
                   {"prefix": "jwt", "id": "b\u{1b}[2J", "modifiedDate": "d"}])
            .to_string(),
            "2 virtual proxies with the prefix 'jwt' (a, b\\x1b[2J)",
        ),
    ];
    for (status, body, said) in cases {
        let server = liar(&site, status, body);
        let (code, out, err) = run(&mut site.apply_to(&server.url(), &["--loglevel", "debug"]));
        assert_eq!(code, 1, "{err}");
        assert_eq!(out, "");
        assert!(err.contains(said), "{said}: {err}");
        assert!(!err.contains('\u{1b}'), "{err:?}");
        assert!(!err.contains(&key_line), "{err}");
        assert!(server.requests().iter().all(|r| r.method == "GET"));
    }
    let (_listener, port) = silent_listener();
    let (code, _, err) =
        run(&mut site.apply_to(&format!("https://127.0.0.1:{port}"), &["--timeout", "2s"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("within 2s (--timeout)"), "{err}");
}

#[test]
fn a_closed_stdout_is_refused_before_the_repository_is_changed() {
    let site = Site::new();
    let cmd = format!(
        "{} setup-qseow --audience qlik-jwt --cert-publickey-file publickey.cer --apply --qrs {} \
         --qrs-cert client.pem --qrs-key client_key.pem --cacert root.pem >&-",
        assert_cmd::cargo::cargo_bin("qs-jwt").display(),
        site.server.qrs_url()
    );
    let output = std::process::Command::new("bash")
        .current_dir(site.path())
        .args(["-c", &cmd])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("standard output is closed"));
    assert_eq!(site.writes(), Vec::<String>::new());
}
