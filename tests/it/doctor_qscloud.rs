//! doctor-qscloud against the local stand-in for Qlik Cloud (tests/it/common/qlik_server.rs with
//! its identity-providers API, tests/it/common/identity_providers.rs): each broken configuration
//! fails the line that names it, with the value the tenant holds and a fix. Nothing here reaches
//! the network.

use crate::common;

use std::fs;

use assert_cmd::Command;
use serde_json::{Value, json};

use crate::common::identity_providers::{ADMIN_API_KEY, PAGES_LOOP_BACK, USER_API_KEY, jwt_idp};
use crate::common::qlik_server::{Behaviour, silent_listener};
use crate::common::tenant::{Tenant, TenantBuilder};
use crate::common::{fixture, fixture_text, qs_jwt};

fn one_line(pem: &str) -> String {
    pem.lines().map(str::trim).collect()
}

/// The certificate of keys/qsjwt_privatekey.pem (the fixture pair rsa2048-pkcs1.pem and
/// rsa2048-cert.pem), on one line as Qlik holds it.
fn my_certificate() -> String {
    one_line(&fixture_text("rsa2048-cert.pem"))
}

fn another_key() -> String {
    one_line(&fixture_text("rsa2048-genpkey-public.pem"))
}

/// A tenant stand-in whose folder holds the signing key (keys/qsjwt_privatekey.pem) and a
/// 1024-bit one (keys/short.pem).
fn stand_in() -> TenantBuilder {
    TenantBuilder::new()
        .file("keys/qsjwt_privatekey.pem", "rsa2048-pkcs1.pem")
        .file("keys/short.pem", "rsa1024.pem")
}

/// A tenant holding the identity provider `idp`.
fn tenant_with(idp: Value) -> Tenant {
    stand_in().identity_provider(idp).start()
}

/// A tenant that answers every request as `behaviour` says.
fn tenant_as(behaviour: Behaviour) -> Tenant {
    stand_in().behaviour(behaviour).start()
}

/// A tenant whose every answer is `status` and `body`.
fn lying(status: u16, body: Value) -> Tenant {
    stand_in().answering(status, &body).start()
}

impl Tenant {
    /// `doctor-qscloud --tenant <stand-in> --cacert ca.pem --issuer i --keyid k`, then the key
    /// source `key` and `extra`; the admin's API key in QLIK_API_KEY.
    fn doctor_with(&self, key: &[&str], extra: &[&str]) -> Command {
        let mut cmd = self.command();
        cmd.arg("doctor-qscloud")
            .args(self.connection())
            .args(["--issuer", "i", "--keyid", "k"])
            .args(key)
            .args(extra);
        cmd
    }

    /// As `doctor_with`, the key `--cert-privatekey-file keys/qsjwt_privatekey.pem`.
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
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// The line of the check titled `title`, and the fix line under it if there is one.
fn line<'a>(stdout: &'a str, title: &str) -> (&'a str, Option<&'a str>) {
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.len() > 6 && l[6..].starts_with(title))
        .unwrap_or_else(|| panic!("no line '{title}' in:\n{stdout}"));
    (lines[at], common::doctor_fix(&lines, at))
}

#[test]
fn a_sound_configuration_passes_every_check_and_exits_0() {
    let tenant = tenant_with(jwt_idp("abc123", "i", "k", &my_certificate(), true));
    let (code, stdout, stderr) = run(&mut tenant.doctor(&[
        "--login",
        "--sub",
        "anna",
        "--name",
        "Anna Anderson",
        "--email",
        "anna@grusgrus.com",
    ]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for title in [
        "local key",
        "tenant reachable",
        "API key accepted",
        "identity provider",
        "type JWT",
        "active",
        "same key",
        "certificate dates",
        "options",
        "login",
        "engine",
    ] {
        let (line, fix) = line(&stdout, title);
        assert!(line.starts_with("PASS  "), "{line}\n{stdout}");
        assert_eq!(fix, None);
    }
    assert!(
        line(&stdout, "identity provider")
            .0
            .contains("'abc123' has issuer 'i' and key ID 'k'"),
        "{stdout}"
    );
    assert!(stdout.ends_with("11 checks: 11 passed\n"), "{stdout}");
    assert!(
        line(&stdout, "engine").0.contains(
            "proven (csrfToken, websocket, onConnected, authenticatedUser, engineVersion): \
             engine 12.2044.0"
        ),
        "{stdout}"
    );
    // The named user, with the name and email the admin gave; the session ended again.
    let (login, _) = line(&stdout, "login");
    assert!(
        login.contains("a fresh token for 'anna' made a session (HTTP 200), ended again"),
        "{login}"
    );
    let counts = tenant.server.sessions();
    assert_eq!((counts.opened, counts.ended), (1, 1), "{counts:?}");
    let requests = tenant.server.requests();
    let sent = requests
        .iter()
        .find(|r| r.target == "/login/jwt-session")
        .unwrap();
    let (_, claims) = common::decode_parts(
        sent.header("authorization")
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap(),
    );
    assert_eq!(
        (&claims["sub"], &claims["name"], &claims["email"]),
        (
            &json!("anna"),
            &json!("Anna Anderson"),
            &json!("anna@grusgrus.com")
        )
    );
    // Read only, but for the one login, its engine proof and its logout.
    assert!(
        requests.iter().all(|r| r.method == "GET"
            || r.target == "/login/jwt-session"
            || r.target == "/logout"),
        "{:?}",
        requests.iter().map(|r| &r.target).collect::<Vec<_>>()
    );
    assert_eq!(tenant.server.identity_providers().len(), 1);
}

#[test]
fn no_identity_provider_fails_with_the_apply_that_makes_it() {
    let tenant = stand_in().start();
    let (code, stdout, stderr) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let (line, fix) = line(&stdout, "identity provider");
    assert!(line.starts_with("FAIL  "), "{line}");
    assert!(
        line.contains("no identity provider has issuer 'i' and key ID 'k'"),
        "{line}"
    );
    // No file here holds the key's public half: the fix makes one from the private key first
    // and names that, never a file it has not read.
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines.iter().position(|l| *l == line).unwrap();
    assert_eq!(
        common::doctor_fixes(&lines, at)[0],
        (
            "fix",
            "openssl pkey -in keys/qsjwt_privatekey.pem -pubout -out keys/qsjwt_publickey.pem"
        )
    );
    assert_eq!(
        fix.unwrap(),
        format!(
            "qs-jwt setup-qscloud --issuer i --keyid k --cert-publickey-file \
             keys/qsjwt_publickey.pem --apply --tenant {} --cacert ca.pem",
            tenant.server.url()
        )
    );
    assert!(
        self::line(&stdout, "same key").0.starts_with("SKIP  "),
        "{stdout}"
    );
    assert!(
        stderr.contains("1 check failed: identity provider"),
        "{stderr}"
    );
}

/// Issue 26: two identity providers with the same issuer, key ID and key (runs of --apply that
/// overlapped) fail the identity-provider check, naming both; its fix, run as printed, keeps
/// one (the smallest id, neither being older) and removes the twin, and the check passes.
#[test]
fn twins_fail_and_the_printed_fix_keeps_one() {
    let tenant = stand_in()
        .file("keys/qsjwt_publickey.cer", "rsa2048-cert.pem")
        .identity_provider(jwt_idp("twin-b", "i", "k", &my_certificate(), true))
        .identity_provider(jwt_idp("twin-a", "i", "k", &my_certificate(), true))
        .start();
    let (code, stdout, stderr) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let (line, fix) = line(&stdout, "identity provider");
    assert!(line.starts_with("FAIL  "), "{line}");
    assert!(
        line.contains(
            "2 JWT identity providers have issuer 'i' and key ID 'k' (twin-b, twin-a): twins"
        ),
        "{line}"
    );
    let fix = fix.unwrap();
    assert_eq!(
        fix,
        format!(
            "qs-jwt setup-qscloud --issuer i --keyid k --cert-publickey-file \
             keys/qsjwt_publickey.cer --apply --tenant {} --cacert ca.pem",
            tenant.server.url()
        )
    );
    assert!(
        stderr.contains("1 check failed: identity provider"),
        "{stderr}"
    );

    let mut cmd = tenant.command();
    cmd.args(fix.split_whitespace().skip(1));
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let held = tenant.server.identity_providers();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["id"], "twin-a");
    assert!(
        stderr.contains("plan: remove the identity provider twin-b: a twin of twin-a")
            && stderr.contains("removed the identity provider twin-b from "),
        "{stderr}"
    );

    let (code, stdout, stderr) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (line, _) = self::line(&stdout, "identity provider");
    assert_eq!(
        line, "PASS  identity provider  'twin-a' has issuer 'i' and key ID 'k'",
        "{stdout}"
    );
}

#[test]
fn a_key_id_the_tenant_does_not_hold_shows_the_one_it_holds() {
    let tenant = tenant_with(jwt_idp(
        "abc123",
        "i",
        "server-kid",
        &my_certificate(),
        true,
    ));
    let (code, stdout, _) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 1, "{stdout}");
    let (line, fix) = line(&stdout, "identity provider");
    assert!(line.starts_with("FAIL  "), "{line}");
    assert!(
        line.contains("'abc123' has key ID 'server-kid' (your key)"),
        "{line}"
    );
    let fix = fix.unwrap();
    assert!(fix.contains("--keyid server-kid"), "{fix}");
    // The fix runs as given (--cacert too) and passes.
    let mut cmd = tenant.command();
    let words: Vec<&str> = fix.split_whitespace().skip(1).collect();
    cmd.args(&words);
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
}

#[test]
fn another_key_under_the_key_id_fails_the_key_check() {
    let tenant = tenant_with(jwt_idp("abc123", "i", "k", &another_key(), true));
    let (code, stdout, _) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 1, "{stdout}");
    let (line, fix) = line(&stdout, "same key");
    assert!(
        line.starts_with("FAIL  ") && line.contains("another key"),
        "{line}"
    );
    assert!(
        fix.unwrap()
            .starts_with("qs-jwt setup-qscloud --issuer i --keyid "),
        "{fix:?}"
    );
    assert!(
        self::line(&stdout, "identity provider")
            .0
            .starts_with("PASS  ")
    );
}

#[test]
fn an_inactive_identity_provider_fails_and_so_does_its_login() {
    let tenant = tenant_with(jwt_idp("abc123", "i", "k", &my_certificate(), false));
    let (code, stdout, _) = run(&mut tenant.doctor(&["--login"]));
    assert_eq!(code, 1, "{stdout}");
    let (active, _) = line(&stdout, "active");
    assert!(
        active.starts_with("FAIL  ") && active.contains("not active"),
        "{active}"
    );
    let (login, _) = line(&stdout, "login");
    assert!(login.starts_with("FAIL  "), "{login}");
    assert!(
        login.contains("Qlik Cloud refused a fresh token for 'qs-jwt-doctor' (HTTP"),
        "{login}"
    );
}

#[test]
fn an_identity_provider_of_another_type_fails() {
    let mut idp = jwt_idp("abc123", "i", "k", &my_certificate(), true);
    idp["protocol"] = "OIDC".into();
    let tenant = tenant_with(idp);
    let (code, stdout, _) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 1, "{stdout}");
    let (line, _) = line(&stdout, "type JWT");
    assert!(
        line.starts_with("FAIL  ") && line.contains("'OIDC'"),
        "{line}"
    );
}

#[test]
fn a_short_local_key_fails_with_the_command_that_makes_a_new_pair() {
    let tenant = tenant_with(jwt_idp("abc123", "i", "k", &my_certificate(), true));
    let (code, stdout, _) =
        run(&mut tenant.doctor(&["--cert-privatekey-file", "keys/short.pem", "--login"]));
    assert_eq!(code, 1, "{stdout}");
    let (line, fix) = line(&stdout, "local key");
    assert!(
        line.starts_with("FAIL  ") && line.contains("1024-bit"),
        "{line}"
    );
    assert!(fix.unwrap().contains("--cert-create true"), "{fix:?}");
    assert!(
        self::line(&stdout, "login").0.starts_with("SKIP  "),
        "{stdout}"
    );
}

#[test]
fn an_encrypted_key_without_its_passphrase_fails_its_line_in_its_own_words() {
    let tenant = tenant_with(jwt_idp("abc123", "i", "k", &my_certificate(), true));
    fs::copy(
        fixture("rsa2048-encrypted-pkcs8.pem"),
        tenant.path().join("keys/encrypted.pem"),
    )
    .unwrap();
    let (code, stdout, _) = run(tenant
        .doctor(&["--cert-privatekey-file", "keys/encrypted.pem", "--login"])
        .env_remove("QSJWTPASSPHRASE"));
    assert_eq!(code, 1, "{stdout}");
    let (line, fix) = line(&stdout, "local key");
    assert!(
        line.starts_with("FAIL  ") && line.contains("passphrase"),
        "{line}"
    );
    assert_eq!(fix, None);
    assert!(self::line(&stdout, "same key").0.starts_with("SKIP  "));
    assert!(
        self::line(&stdout, "identity provider")
            .0
            .starts_with("PASS  ")
    );
}

#[test]
fn a_refused_api_key_fails_its_line_and_skips_the_identity_provider() {
    let tenant = tenant_with(jwt_idp("abc123", "i", "k", &my_certificate(), true));
    for (key, words) in [("not-a-key", "HTTP 401"), (USER_API_KEY, "HTTP 403")] {
        let (code, stdout, stderr) = run(tenant.doctor(&[]).env("QLIK_API_KEY", key));
        assert_eq!(code, 1, "{stdout}");
        let (line, _) = line(&stdout, "API key accepted");
        assert!(line.starts_with("FAIL  ") && line.contains(words), "{line}");
        assert!(
            self::line(&stdout, "tenant reachable")
                .0
                .starts_with("PASS  ")
        );
        assert!(
            self::line(&stdout, "identity provider")
                .0
                .starts_with("SKIP  ")
        );
        assert!(!stdout.contains(key) && !stderr.contains(key));
    }
}

#[test]
fn json_is_one_object_for_success_and_failure() {
    let tenant = tenant_with(jwt_idp("abc123", "i", "k", &my_certificate(), true));
    let (code, stdout, _) = run(&mut tenant.doctor(&["--output", "json"]));
    assert_eq!(code, 0, "{stdout}");
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["status"], "ok");
    assert_eq!(value["issuer"], "i");
    let checks = value["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 9);
    assert!(checks.iter().all(|c| c["status"] == "pass"), "{stdout}");
    assert_eq!(checks[3]["id"], "identity-provider");
    assert_eq!(checks[3]["fix"], Value::Null);

    let tenant = stand_in().start();
    let (code, stdout, _) = run(&mut tenant.doctor(&["--output", "json"]));
    assert_eq!(code, 1, "{stdout}");
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["status"], "failed");
    let idp = value["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "identity-provider")
        .unwrap();
    assert_eq!(idp["status"], "fail");
    assert!(idp["fix"].as_str().unwrap().contains("--apply"));
}

#[test]
fn an_unreachable_tenant_fails_its_line_and_json_stays_one_object() {
    let tenant = stand_in().start();
    let cmd = tenant.doctor(&["--output", "json", "--timeout", "5s"]);
    // No CA: the stand-in's certificate is not trusted.
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| a != "--cacert" && a != "ca.pem")
        .collect();
    let mut cmd = qs_jwt(tenant.path());
    cmd.env("QLIK_API_KEY", ADMIN_API_KEY).args(&args);
    let (code, stdout, _) = run(&mut cmd);
    assert_eq!(code, 1, "{stdout}");
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["checks"][1]["id"], "tenant");
    assert_eq!(value["checks"][1]["status"], "fail");
    assert_eq!(value["checks"][2]["status"], "skip");
}

#[test]
fn no_api_key_private_key_or_token_is_shown_at_debug() {
    let tenant = tenant_with(jwt_idp("abc123", "i", "k", &my_certificate(), true));
    let key_text = fixture_text("rsa2048-pkcs1.pem");
    for extra in [&["--login"][..], &["--login", "--output", "json"][..]] {
        let (code, stdout, stderr) = run(tenant
            .doctor(extra)
            .args(["--loglevel", "debug"])
            .arg("--cert-privatekey")
            .arg(&key_text)
            .env_remove("QSJWTPRIVKEY"));
        // Two key sources: a usage error.
        assert_eq!(code, 2, "{stderr}");
        assert!(!stderr.contains("MII"), "{stderr}");
        assert!(!stdout.contains("MII"), "{stdout}");
        let (code, stdout, stderr) = run(tenant.doctor(extra).args(["--loglevel", "debug"]));
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        let token = tenant
            .server
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.target == "/login/jwt-session")
            .and_then(|r| r.header("authorization").map(str::to_owned))
            .unwrap();
        let token = token.strip_prefix("Bearer ").unwrap();
        let both = format!("{stdout}{stderr}");
        for secret in [ADMIN_API_KEY, token, "eas.sid="] {
            assert!(!both.contains(secret), "{secret} in\n{both}");
        }
        for line in key_text.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!both.contains(line), "key text in\n{both}");
        }
        assert!(!both.contains("eyJ"), "{both}");
    }
}

#[test]
fn a_missing_key_source_is_a_usage_error() {
    let tenant = stand_in().start();
    let mut cmd = qs_jwt(tenant.path());
    cmd.env("QLIK_API_KEY", ADMIN_API_KEY).args([
        "doctor-qscloud",
        "--tenant",
        &tenant.server.url(),
        "--issuer",
        "i",
        "--keyid",
        "k",
    ]);
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    // Only options doctor-qscloud has: it checks a key, it makes none (--cert-create).
    assert!(stderr.contains("no private key to check"), "{stderr}");
    assert!(!stderr.contains("--cert-create"), "{stderr}");
    assert!(tenant.server.requests().is_empty());
    // No API key: a usage error too, before anything is sent.
    let (code, _, stderr) = run(tenant.doctor(&[]).env_remove("QLIK_API_KEY"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("QLIK_API_KEY"), "{stderr}");
    assert!(
        stderr.contains("doctor-qscloud needs a tenant admin's API key"),
        "{stderr}"
    );
    assert!(tenant.server.requests().is_empty());
    // Standard input for the API key and the private key both.
    let (code, _, stderr) =
        run(&mut tenant.doctor(&["--api-key-file", "-", "--cert-privatekey-file", "-"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("both read standard input"), "{stderr}");
    // With --output json, the error is a JSON object too.
    let (code, stdout, _) = run(tenant
        .doctor(&["--output", "json"])
        .env_remove("QLIK_API_KEY"));
    assert_eq!(code, 2);
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        value["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("QLIK_API_KEY"),
        "{stdout}"
    );
    let (code, stdout, stderr) =
        run(&mut tenant.doctor(&["--output", "json", "--api-key-file", "missing.txt"]));
    assert_eq!(code, 1, "{stderr}");
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        value["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("missing.txt"),
        "{stdout}"
    );
    // --sub without --login.
    let (code, _, stderr) = run(&mut tenant.doctor(&["--sub", "anna"]));
    assert_eq!(code, 2, "{stderr}");
    // A named user only with the name and email the admin gives: the probe never invents a
    // profile for an existing user.
    let (code, _, stderr) = run(&mut tenant.doctor(&["--login", "--sub", "anna"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--name") && stderr.contains("--email"),
        "{stderr}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn the_marks_are_coloured_on_a_terminal_only_and_never_with_no_color() {
    let tenant = stand_in().start();
    fs::write(tenant.path().join("apikey.txt"), ADMIN_API_KEY).unwrap();
    let args = format!(
        "doctor-qscloud --tenant {} --cacert ca.pem --issuer i --keyid k \
         --cert-privatekey-file keys/qsjwt_privatekey.pem --api-key-file apikey.txt",
        tenant.server.url()
    );
    let (code, screen) = common::on_terminal(tenant.path(), &args, None);
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("\x1b[32mPASS\x1b[0m"), "{screen}");
    assert!(screen.contains("\x1b[1;31mFAIL\x1b[0m"), "{screen}");
    let (_, screen) = common::on_terminal(tenant.path(), &args, Some("1"));
    assert!(
        screen.contains("PASS  local key") && !screen.contains("\x1b[32m"),
        "{screen}"
    );
    // Through a pipe: no colour.
    let (_, stdout, _) = run(&mut tenant.doctor(&[]));
    assert!(!stdout.contains('\x1b'), "{stdout}");
}

#[test]
fn the_tenants_values_are_shown_escaped() {
    let mut idp = jwt_idp("abc\x1b[2J\r", "i", "k2\u{202e}", &my_certificate(), true);
    idp["description"] = "\x07".into();
    let tenant = tenant_with(idp);
    let (code, stdout, stderr) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 1, "{stdout}");
    assert!(
        !stdout.contains('\x1b') && !stdout.contains('\r') && !stdout.contains('\u{202e}'),
        "{stdout:?}"
    );
    assert!(
        stdout.contains("'abc\\x1b[2J\\r' has key ID 'k2\\u{202e}'"),
        "{stdout}"
    );
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    let (_, stdout, _) = run(&mut tenant.doctor(&["--output", "json"]));
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        value["checks"][3]["found"]
            .as_str()
            .unwrap()
            .contains("abc\x1b[2J\r")
    );
    assert!(!stdout.contains('\u{202e}'), "{stdout}");
}

// doctor-qscloud against tenants that lie (fixed answers, pages that loop) and broken key
// sources: one line a check, one JSON object with --output json, exit 0 only without a failed
// check.

fn my_idp() -> Value {
    jwt_idp(
        "idp1",
        "i",
        "k",
        &one_line(&fixture_text("rsa2048-cert.pem")),
        true,
    )
}

/// The line of the check titled `title`.
fn check_line<'a>(stdout: &'a str, title: &str) -> &'a str {
    line(stdout, title).0
}

#[test]
fn a_page_that_repeats_an_identity_provider_does_not_make_it_two() {
    // Every page names itself the next one after the first: the list is one provider.
    let tenant = lying(
        200,
        json!({"data": [my_idp()],
               "links": {"next": {"href": "/api/v1/identity-providers?page=2"}}}),
    );
    let (code, out, err) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        check_line(&out, "API key accepted")
            .ends_with("the API key lists the identity providers (1)"),
        "{out}"
    );
    assert_eq!(tenant.server.requests().len(), 2);
}

#[test]
fn pages_that_loop_back_are_read_once() {
    let tenant = tenant_as(Behaviour::QlikCloud);
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
        check_line(&out, "API key accepted")
            .ends_with("the API key lists the identity providers (3)"),
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
        let tenant = lying(200, json!({"data": [idp]}));
        let (code, out, err) = run(&mut tenant.doctor(&[]));
        assert_eq!(code, 0, "{out}\n{err}");
        let active_line = check_line(&out, "active ");
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
        let tenant = lying(200, body.clone());
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
    let tenant = tenant_as(Behaviour::QlikCloud);
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
        common::command("mkfifo")
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
    assert!(check_line(&out, "local key").starts_with("FAIL"), "{out}");
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
    let tenant = tenant_as(Behaviour::QlikCloud);
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
    let tenant = tenant_as(Behaviour::RedirectTo(
        "https://login.example.com/?x=1".to_owned(),
    ));
    let (code, out, err) = run(&mut tenant.doctor(&[]));
    assert_eq!(code, 1, "{out}\n{err}");
    let failed = check_line(&out, "API key accepted");
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
    let tenant = tenant_as(Behaviour::QlikCloud);
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
    let tenant = tenant_as(Behaviour::QlikCloud);
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
    let failed = check_line(&out, "API key accepted");
    assert!(
        failed.starts_with("FAIL") && failed.contains("goes on past 50 pages"),
        "{failed}"
    );
}

#[test]
fn the_login_probe_signs_its_own_documented_user_by_default_and_ends_its_session() {
    let tenant = tenant_with(jwt_idp("abc123", "i", "k", &my_certificate(), true));
    let (code, stdout, stderr) = run(&mut tenant.doctor(&["--login"]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (login, _) = line(&stdout, "login");
    assert!(
        login.contains("a fresh token for 'qs-jwt-doctor' made a session (HTTP 200), ended again"),
        "{login}"
    );
    let requests = tenant.server.requests();
    let sent = requests
        .iter()
        .find(|r| r.target == "/login/jwt-session")
        .unwrap();
    let (_, claims) = common::decode_parts(
        sent.header("authorization")
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap(),
    );
    assert_eq!(claims["sub"], "qs-jwt-doctor");
    assert_eq!(claims["name"], "qs-jwt doctor probe");
    assert_eq!(claims["email"], "qs-jwt-doctor@qs-jwt-doctor.invalid");
    let counts = tenant.server.sessions();
    assert_eq!((counts.opened, counts.ended), (1, 1), "{counts:?}");
    let logout = requests.iter().find(|r| r.target == "/logout").unwrap();
    assert_eq!(logout.method, "POST");
    assert!(logout.header("qlik-csrf-token").is_some());
    assert_eq!(logout.header("authorization"), None);
}
