//! doctor-qscloud against tenants that lie (tests/it/common/qlik_server.rs's fixed answers and
//! its identity-providers API) and broken key sources: one line a check, one JSON object with
//! --output json, exit 0 only without a failed check. Nothing here reaches the network.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};

use crate::common::PROXY_VARIABLES;
use crate::common::identity_providers::{ADMIN_API_KEY, PAGES_LOOP_BACK, jwt_idp};
use crate::common::qlik_server::{Behaviour, QlikServer, silent_listener};
use crate::common::{fixture, fixture_text, qs_jwt};

fn one_line(pem: &str) -> String {
    pem.lines().map(str::trim).collect()
}

struct Tenant {
    server: QlikServer,
    dir: tempfile::TempDir,
}

impl Tenant {
    fn start(behaviour: Behaviour) -> Self {
        let server = QlikServer::start(behaviour);
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("ca.pem"), &server.ca_pem).unwrap();
        fs::create_dir(dir.path().join("keys")).unwrap();
        fs::copy(
            fixture("rsa2048-pkcs1.pem"),
            dir.path().join("keys/qsjwt_privatekey.pem"),
        )
        .unwrap();
        Self { server, dir }
    }

    /// A tenant whose every answer is `status` and `body`.
    fn lying(status: u16, body: Value) -> Self {
        Self::start(Behaviour::Fixed(
            status,
            Box::leak(body.to_string().into_boxed_str()),
        ))
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn doctor_with(&self, key: &[&str], extra: &[&str]) -> Command {
        let mut cmd = qs_jwt(self.path());
        for name in PROXY_VARIABLES {
            cmd.env_remove(name);
        }
        cmd.env("QLIK_API_KEY", ADMIN_API_KEY)
            .args(["doctor-qscloud", "--tenant", &self.server.url()])
            .args(["--cacert", "ca.pem", "--issuer", "i", "--keyid", "k"])
            .args(key)
            .args(extra);
        cmd
    }

    fn doctor(&self, extra: &[&str]) -> Command {
        self.doctor_with(
            &["--cert-privatekey-file", "keys/qsjwt_privatekey.pem"],
            extra,
        )
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

fn my_idp() -> Value {
    jwt_idp(
        "idp1",
        "i",
        "k",
        &one_line(&fixture_text("rsa2048-cert.pem")),
        true,
    )
}

fn line<'a>(stdout: &'a str, title: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.len() > 6 && l[6..].starts_with(title))
        .unwrap_or_else(|| panic!("no line '{title}' in:\n{stdout}"))
}

#[test]
fn a_page_that_repeats_an_identity_provider_does_not_make_it_two() {
    // Every page names itself the next one after the first: the list is one provider.
    let tenant = Tenant::lying(
        200,
        json!({"data": [my_idp()],
               "links": {"next": {"href": "/api/v1/identity-providers?page=2"}}}),
    );
    let (code, out, err) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        line(&out, "API key accepted").ends_with("the API key lists the identity providers (1)"),
        "{out}"
    );
    assert_eq!(tenant.server.requests().len(), 2);
}

#[test]
fn pages_that_loop_back_are_read_once() {
    let tenant = Tenant::start(Behaviour::QlikCloud);
    let pem = one_line(&fixture_text("rsa2048-genpkey-public.pem"));
    let mut looping = jwt_idp("other1", "other", "o1", &pem, true);
    looping[PAGES_LOOP_BACK] = json!(true);
    tenant.server.add_identity_provider(looping);
    tenant
        .server
        .add_identity_provider(jwt_idp("other2", "other", "o2", &pem, true));
    tenant.server.add_identity_provider(my_idp());
    let (code, out, err) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        line(&out, "API key accepted").ends_with("the API key lists the identity providers (3)"),
        "{out}"
    );
    // The list, page 1, page 0 by its own link (the first request had none), and no more.
    assert_eq!(tenant.server.requests().len(), 3);
}

#[test]
fn an_identity_provider_that_does_not_say_it_is_active_is_not_passed_as_active() {
    for active in [json!(null), json!("yes")] {
        let mut idp = my_idp();
        idp["active"] = active.clone();
        let tenant = Tenant::lying(200, json!({"data": [idp]}));
        let (code, out, err) = run(&mut tenant.doctor(&[]));
        assert_eq!(code, 0, "{out}\n{err}");
        let active_line = line(&out, "active ");
        assert!(
            active_line.starts_with("WARN")
                && active_line.contains("the tenant did not say whether 'idp1' is active"),
            "{active}: {out}"
        );
    }
}

/// What held: a tenant that lies fails the line that reads it, --output json stays one object
/// on stdout (nothing else there), the exit code is 1, escapes stay escaped.
#[test]
fn lying_tenants_fail_their_line_and_json_stays_one_object() {
    for body in [
        json!("not an object"),
        json!({"data": null}),
        json!({"data": [{}]}),
        json!({"data": [{"id": "x\u{1b}[2J", "protocol": "jwtAuth", "active": false,
                         "options": {"issuer": "i", "staticKeys": [{"kid": "k", "pem": 5}]}}]}),
    ] {
        let tenant = Tenant::lying(200, body.clone());
        let (code, out, err) = run(&mut tenant.doctor(&[]));
        assert_eq!(code, 1, "{body}: {out}\n{err}");
        assert!(
            !out.contains('\u{1b}') && !err.contains('\u{1b}'),
            "{out:?}"
        );
        assert!(out.lines().any(|l| l.starts_with("FAIL")), "{out}");
        let (code, out, err) = run(&mut tenant.doctor(&["--output", "json", "--login"]));
        assert_eq!(code, 1, "{body}: {out}\n{err}");
        let value: Value = serde_json::from_str(&out).expect("one JSON object on stdout");
        assert_eq!(value["status"], "failed");
        assert!(!out.contains(ADMIN_API_KEY) && !err.contains(ADMIN_API_KEY));
    }
}

/// What held: every key source (an encrypted key without its passphrase, QSJWTPRIVKEY,
/// standard input, a FIFO nobody writes) is read or fails the local key's line in its words;
/// key text where a name belongs is a usage error (2) that shows no key.
#[test]
fn broken_key_sources_fail_the_local_key_line() {
    let tenant = Tenant::start(Behaviour::QlikCloud);
    tenant.server.add_identity_provider(my_idp());
    fs::copy(
        fixture("rsa2048-encrypted-pkcs8.pem"),
        tenant.path().join("keys/enc.pem"),
    )
    .unwrap();
    let key = fixture_text("rsa2048-pkcs1.pem");
    let key_line = key.lines().nth(2).unwrap();
    let fifo = tenant.path().join("keys/fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (code, out, _) = run(&mut tenant.doctor_with(
        &["--cert-privatekey-file", "keys/enc.pem"],
        &["--output", "json"],
    ));
    assert_eq!(code, 1);
    assert!(
        out.contains("holds an encrypted private key and no passphrase"),
        "{out}"
    );
    let (code, out, _) = run(&mut tenant.doctor_with(
        &["--cert-privatekey-file", "keys/fifo"],
        &["--timeout", "2s"],
    ));
    assert_eq!(code, 1);
    assert!(line(&out, "local key").starts_with("FAIL"), "{out}");
    let (code, out, err) = run(tenant.doctor_with(&[], &[]).env("QSJWTPRIVKEY", &key));
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(tenant
        .doctor_with(&["--cert-privatekey-file", "-"], &["--loglevel", "debug"])
        .write_stdin(key.clone()));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        !err.contains(key_line) && !err.contains(ADMIN_API_KEY),
        "{err}"
    );
    for flag in ["--issuer", "--keyid", "--tenant"] {
        let (code, out, err) = run(&mut tenant.doctor(&[flag, &key, "--output", "json"]));
        assert_eq!(code, 2, "{flag}: {err}");
        assert!(!out.contains(key_line) && !err.contains(key_line), "{flag}");
    }
}

#[test]
fn the_api_key_itself_in_place_of_its_file_is_refused_unquoted() {
    let tenant = Tenant::start(Behaviour::QlikCloud);
    tenant.server.add_identity_provider(my_idp());
    for json in [false, true] {
        let mut cmd = tenant.doctor(&["--api-key-file", ADMIN_API_KEY]);
        cmd.env_remove("QLIK_API_KEY");
        if json {
            cmd.args(["--output", "json"]);
        }
        let (code, out, err) = run(&mut cmd);
        assert_eq!(code, 2, "{out}\n{err}");
        assert!(
            !out.contains("admin-api-key") && !err.contains("admin-api-key"),
            "{out}\n{err}"
        );
        assert!(
            err.contains("--api-key-file is given an API key itself"),
            "{err}"
        );
        if json {
            let value: Value = serde_json::from_str(&out).expect("one JSON object on stdout");
            assert!(value["error"].is_object(), "{out}");
        }
    }
    assert!(tenant.server.requests().is_empty());
    // setup-qscloud shares the reading of the API key.
    let mut cmd = qs_jwt(tenant.path());
    cmd.env_remove("QLIK_API_KEY").args([
        "setup-qscloud",
        "--issuer",
        "i",
        "--keyid",
        "k",
        "--cert-publickey-file",
        fixture("rsa2048-cert.pem").to_str().unwrap(),
        "--apply",
        "--tenant",
        &tenant.server.url(),
        "--cacert",
        "ca.pem",
        "--api-key-file",
        ADMIN_API_KEY,
    ]);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(!err.contains("admin-api-key"), "{err}");
}

#[test]
fn a_redirect_to_a_sign_in_page_is_said_so_not_try_again_later() {
    let tenant = Tenant::start(Behaviour::RedirectTo(
        "https://login.example.com/?x=1".to_owned(),
    ));
    let (code, out, err) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 1, "{out}\n{err}");
    let failed = line(&out, "API key accepted");
    assert!(
        failed.contains("answered with a redirect (HTTP 302)")
            && failed.contains("check --tenant")
            && !failed.contains("traceId"),
        "{failed}"
    );
}

/// What held: a tenant that never answers fails "tenant reachable" within --timeout, and
/// --output json is one object.
#[test]
fn a_tenant_that_hangs_fails_within_the_timeout_as_one_json_object() {
    let tenant = Tenant::start(Behaviour::QlikCloud);
    let (_listener, port) = silent_listener();
    let (code, out, err) = run(tenant
        .doctor(&["--output", "json", "--timeout", "2s", "--login"])
        .args(["--tenant", &format!("https://127.0.0.1:{port}")]));
    assert_eq!(code, 1, "{err}");
    let value: Value = serde_json::from_str(&out).expect("one JSON object on stdout");
    assert_eq!(value["checks"][1]["id"], "tenant");
    assert_eq!(value["checks"][1]["status"], "fail");
}

#[test]
fn a_list_past_50_pages_fails_rather_than_being_cut_short() {
    let tenant = Tenant::start(Behaviour::QlikCloud);
    let pem = one_line(&fixture_text("rsa2048-genpkey-public.pem"));
    // Two a page (the stand-in's PAGE): 51 pages, and the provider sought on the last.
    for n in 0..100 {
        tenant.server.add_identity_provider(jwt_idp(
            &format!("other{n}"),
            "other",
            &format!("o{n}"),
            &pem,
            true,
        ));
    }
    tenant.server.add_identity_provider(my_idp());
    let (code, out, err) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 1, "{out}\n{err}");
    let failed = line(&out, "API key accepted");
    assert!(
        failed.starts_with("FAIL") && failed.contains("goes on past 50 pages"),
        "{failed}"
    );
}
