//! doctor-qseow against the local stand-in for a QSEoW site's repository API and proxy
//! (tests/it/common/qrs_server.rs: HTTPS on 127.0.0.1, a client certificate from its test CA):
//! each broken virtual proxy fails the line that names it, with the value the repository holds
//! and a fix that, run as printed, makes the doctor pass. Nothing here reaches the network.

use crate::common;

use std::fs;

use assert_cmd::Command;
use serde_json::{Value, json};

use crate::common::ca::{foreign_client_certificate, other_jwt_certificate};
use crate::common::fixture_text;
use crate::common::qrs_server::jwt_virtual_proxy;
use crate::common::site::{Site, SiteBuilder};

const AUDIENCE: &str = "qlik-jwt";

/// A site stand-in without a virtual proxy for JWT; the signing key in keys/, beside its
/// certificate as --cert-create names them, and a 1024-bit key (keys/short.pem).
fn stand_in() -> SiteBuilder {
    SiteBuilder::new()
        .private_file("keys/qsjwt_privatekey.pem", "rsa2048-pkcs1.pem")
        .file("keys/qsjwt_publickey.cer", "rsa2048-cert.pem")
        .private_file("keys/short.pem", "rsa1024.pem")
}

/// A site with the virtual proxy `vp` (linked unless `linked` is false).
fn site_with(vp: Value, linked: bool) -> Site {
    stand_in().virtual_proxy(vp, linked).start()
}

/// A sound site: the virtual proxy 'jwt' as qs-jwt's tokens need it, linked.
fn sound_site() -> Site {
    site_with(sound_virtual_proxy(), true)
}

/// The virtual proxy 'jwt' as qs-jwt's tokens need it, its host allow list holding the
/// stand-in's host (the host of --server).
fn sound_virtual_proxy() -> Value {
    let mut vp = jwt_virtual_proxy("jwt", AUDIENCE, &fixture_text("rsa2048-cert.pem"));
    vp["websocketCrossOriginWhiteList"] = json!(["127.0.0.1"]);
    vp
}

impl Site {
    /// `doctor-qseow --qrs <stand-in> --qrs-cert client.pem --qrs-key client_key.pem --cacert
    /// root.pem --prefix jwt --audience qlik-jwt --cert-privatekey-file
    /// keys/qsjwt_privatekey.pem`, then `extra` (which may repeat an option to replace it).
    fn doctor(&self, extra: &[&str]) -> Command {
        let mut cmd = self.command();
        cmd.arg("doctor-qseow")
            .args(self.connection())
            .args(["--prefix", "jwt", "--audience", AUDIENCE])
            .args(["--cert-privatekey-file", "keys/qsjwt_privatekey.pem"])
            .args(extra);
        cmd
    }

    fn login_args(&self) -> Vec<String> {
        vec![
            "--login".into(),
            "--server".into(),
            self.server.proxy_url(),
            "--userdir".into(),
            "CORP".into(),
            "--userid".into(),
            "anna".into(),
        ]
    }

    /// Runs a fix line as printed (its words after `qs-jwt`); exit code, stdout, stderr.
    fn run_fix(&self, fix: &str) -> (i32, String, String) {
        let words: Vec<&str> = fix.split_whitespace().skip(1).collect();
        run(self.command().args(&words))
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

const TITLES: [&str; 11] = [
    "local key",
    "repository reachable",
    "client certificate accepted",
    "virtual proxy",
    "JWT authentication",
    "same key",
    "certificate dates",
    "audience",
    "attribute names",
    "linked to a proxy",
    "load balancing",
];

#[test]
fn a_sound_configuration_passes_every_check_and_exits_0() {
    let site = sound_site();
    let (code, stdout, stderr) = run(&mut site.doctor(&[]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for title in TITLES {
        let (line, fix) = line(&stdout, title);
        assert!(line.starts_with("PASS  "), "{line}\n{stdout}");
        assert_eq!(fix, None);
    }
    assert!(stdout.ends_with("11 checks: 11 passed\n"), "{stdout}");
    assert!(
        line(&stdout, "load balancing").0.contains("to central"),
        "{stdout}"
    );
    // Read only.
    assert!(site.server.requests().iter().all(|r| r.method == "GET"));

    let (code, stdout, stderr) = run(site.doctor(&[]).args(site.login_args()));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (login, _) = line(&stdout, "login");
    assert!(login.starts_with("PASS  "), "{stdout}");
    assert!(
        login.contains("a fresh token for 'CORP\\anna' made a session"),
        "{login}"
    );
    assert!(stdout.ends_with("14 checks: 14 passed\n"), "{stdout}");
    assert!(
        line(&stdout, "host allow list")
            .0
            .contains("holds '127.0.0.1', the host of --server"),
        "{stdout}"
    );
    assert!(
        line(&stdout, "engine").0.contains(
            "proven (csrfToken, websocket, onConnected, authenticatedUser, engineVersion): \
             engine 12.2044.0, user 'UserDirectory=CORP; UserId=anna'"
        ),
        "{stdout}"
    );
    // The probe ended the session it made (the Personal API's DELETE /jwt/qps/user).
    assert!(login.contains(", ended again"), "{login}");
    let counts = site.server.with(|r| r.counts);
    assert_eq!((counts.opened, counts.ended), (1, 1), "{counts:?}");
    assert!(
        site.server
            .proxy_requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.target.starts_with("/jwt/qps/user"))
    );
    // The token went through /jwt/qrs/about, signed for five minutes with the audience.
    let sent = site
        .server
        .proxy_requests()
        .into_iter()
        .find(|r| r.target.starts_with("/jwt/qrs/about?xrfkey="))
        .expect("a login through /jwt");
    let token = sent.header("authorization").unwrap();
    let payload = token
        .strip_prefix("Bearer ")
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    use base64::Engine;
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["aud"], AUDIENCE);
    assert_eq!(payload["userId"], "anna");
    assert_eq!(payload["userDirectory"], "CORP");
    assert_eq!(
        payload["exp"].as_u64().unwrap() - payload["iat"].as_u64().unwrap(),
        300
    );
}

/// Runs the doctor on `site`, expects exit 1 with the line `title` failed, `found` in it, and a
/// fix; runs the fix as printed and then the doctor again, which passes. The failed line.
fn fails_then_fix_passes(site: &Site, title: &str, found: &[&str], fix_has: &str) -> String {
    let (code, stdout, stderr) = run(&mut site.doctor(&[]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let (failed, fix) = line(&stdout, title);
    assert!(failed.starts_with("FAIL  "), "{failed}\n{stdout}");
    for words in found {
        assert!(failed.contains(words), "'{words}' not in: {failed}");
    }
    let fix = fix.unwrap_or_else(|| panic!("no fix under {failed}"));
    assert!(fix.contains(fix_has), "{fix}");
    assert!(
        stderr.contains(&format!("check failed: {title}")) || stderr.contains("checks failed:"),
        "{stderr}"
    );
    let (code, fix_out, fix_err) = site.run_fix(fix);
    assert_eq!(code, 0, "{fix}\n{fix_out}\n{fix_err}");
    if fix.starts_with("qs-jwt setup-qseow") {
        let (code, stdout, stderr) = run(&mut site.doctor(&[]));
        assert_eq!(code, 0, "after {fix}:\n{stdout}\n{stderr}");
        // With --login, the engine's host allow list is checked too: its own fix adds the host
        // of --server, after which everything passes.
        let (code, stdout, stderr) = run(site.doctor(&[]).args(site.login_args()));
        if code != 0 {
            let (allow, allow_fix) = line(&stdout, "host allow list");
            assert!(
                allow.starts_with("FAIL  "),
                "after {fix}:\n{stdout}\n{stderr}"
            );
            let (code, _, err) = site.run_fix(allow_fix.unwrap());
            assert_eq!(code, 0, "{err}");
            let (code, stdout, stderr) = run(site.doctor(&[]).args(site.login_args()));
            assert_eq!(code, 0, "after {fix}:\n{stdout}\n{stderr}");
        }
    }
    failed.to_owned()
}

const APPLY: &str = "qs-jwt setup-qseow --audience qlik-jwt --prefix jwt --cert-publickey-file \
                     keys/qsjwt_publickey.cer --apply --qrs https://127.0.0.1:";

#[test]
fn no_virtual_proxy_fails_with_the_prefixes_held_and_the_apply_that_makes_it() {
    let site = stand_in().start();
    fails_then_fix_passes(
        &site,
        "virtual proxy",
        &[
            "no virtual proxy has the prefix 'jwt'",
            "the repository's prefixes: none",
        ],
        APPLY,
    );
}

#[test]
fn another_prefix_with_this_audience_is_named_and_is_the_fix() {
    let site = site_with(
        jwt_virtual_proxy("sso", AUDIENCE, &fixture_text("rsa2048-cert.pem")),
        true,
    );
    let failed = fails_then_fix_passes(
        &site,
        "virtual proxy",
        &[
            "the repository's prefixes: 'sso'",
            "JWT virtual proxies with the audience 'qlik-jwt': 'sso' (your key)",
        ],
        "qs-jwt doctor-qseow --qrs https://127.0.0.1:",
    );
    let (_, stdout, _) = run(&mut site.doctor(&[]));
    assert!(
        line(&stdout, "virtual proxy")
            .1
            .unwrap()
            .contains("--prefix sso --audience qlik-jwt --cert-privatekey-file keys/qsjwt_privatekey.pem --qrs-cert client.pem --qrs-key client_key.pem --cacert root.pem"),
        "{failed}\n{stdout}"
    );
}

#[test]
fn a_virtual_proxy_that_is_not_jwt_fails() {
    let mut vp = jwt_virtual_proxy("jwt", AUDIENCE, &fixture_text("rsa2048-cert.pem"));
    vp["authenticationMethod"] = json!(0);
    let site = site_with(vp, true);
    // The fix converts it, and says so: with --convert-to-jwt, after a note on its users.
    fails_then_fix_passes(
        &site,
        "JWT authentication",
        &["authenticationMethod 0, Ticket, not 4 (JWT)"],
        "--apply --convert-to-jwt --qrs",
    );
}

#[test]
fn another_certificate_fails_the_key_check_and_apply_replaces_it() {
    let site = site_with(
        jwt_virtual_proxy("jwt", AUDIENCE, &other_jwt_certificate()),
        true,
    );
    fails_then_fix_passes(
        &site,
        "same key",
        &["holds the certificate of another key (thumbprint "],
        APPLY,
    );
}

#[test]
fn another_audience_shows_the_servers_and_the_fix_signs_with_it() {
    let site = site_with(
        jwt_virtual_proxy("jwt", "their-audience", &fixture_text("rsa2048-cert.pem")),
        true,
    );
    let failed = fails_then_fix_passes(
        &site,
        "audience",
        &["takes the audience 'their-audience', and you sign with 'qlik-jwt'"],
        "--prefix jwt --audience their-audience",
    );
    assert!(failed.contains("'jwt'"), "{failed}");
}

#[test]
fn other_attribute_names_are_shown_and_fixed_by_apply() {
    let mut vp = jwt_virtual_proxy("jwt", AUDIENCE, &fixture_text("rsa2048-cert.pem"));
    vp["jwtAttributeUserId"] = json!("sub");
    vp["jwtAttributeUserDirectory"] = json!("dir");
    let site = site_with(vp, true);
    fails_then_fix_passes(
        &site,
        "attribute names",
        &[
            "jwtAttributeUserId is 'sub', and create-qseow writes the claim 'userId'",
            "jwtAttributeUserDirectory is 'dir'",
        ],
        APPLY,
    );
}

#[test]
fn an_unlinked_virtual_proxy_names_the_proxy_services() {
    let site = site_with(
        jwt_virtual_proxy("jwt", AUDIENCE, &fixture_text("rsa2048-cert.pem")),
        false,
    );
    fails_then_fix_passes(
        &site,
        "linked to a proxy",
        &["no proxy service links 'jwt'", "proxy services: central"],
        APPLY,
    );
}

/// The repository's condensed node may carry its id alone: the proxy service is named by the
/// node's name all the same (from the server nodes), as setup-qseow --apply names it, never by
/// the service's GUID.
#[test]
fn a_proxy_service_whose_node_is_given_by_id_alone_is_named_by_the_nodes_name() {
    use crate::common::qrs_server::{NODE_ID, PROXY_SERVICE_ID};
    let by_id = |site: &Site| {
        site.server.with(|r| {
            r.proxy_services[0]["serverNodeConfiguration"] = json!({ "id": NODE_ID });
        })
    };
    let site = sound_site();
    by_id(&site);
    let (code, stdout, stderr) = run(&mut site.doctor(&[]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (linked, _) = line(&stdout, "linked to a proxy");
    assert!(
        linked.starts_with("PASS  ") && linked.ends_with("linked to the proxy service of central"),
        "{linked}"
    );
    assert!(!stdout.contains(PROXY_SERVICE_ID), "{stdout}");

    let site = site_with(
        jwt_virtual_proxy("jwt", AUDIENCE, &fixture_text("rsa2048-cert.pem")),
        false,
    );
    by_id(&site);
    fails_then_fix_passes(
        &site,
        "linked to a proxy",
        &["no proxy service links 'jwt'", "proxy services: central"],
        APPLY,
    );
}

#[test]
fn no_load_balancing_node_fails_and_apply_adds_the_engine_nodes() {
    let mut vp = jwt_virtual_proxy("jwt", AUDIENCE, &fixture_text("rsa2048-cert.pem"));
    vp["loadBalancingServerNodes"] = json!([]);
    let site = site_with(vp, true);
    fails_then_fix_passes(
        &site,
        "load balancing",
        &["'jwt' has no load-balancing node", "1 server node"],
        APPLY,
    );
}

#[test]
fn a_short_local_key_fails_with_the_command_that_makes_a_new_pair() {
    let site = sound_site();
    let (code, stdout, stderr) =
        run(&mut site.doctor(&["--cert-privatekey-file", "keys/short.pem"]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let (failed, fix) = line(&stdout, "local key");
    assert!(failed.starts_with("FAIL  "), "{stdout}");
    assert!(failed.contains("1024"), "{failed}");
    let fix = fix.unwrap();
    assert!(fix.contains("--cert-create true"), "{fix}");
    assert!(fix.contains("--audience qlik-jwt"), "{fix}");
}

#[test]
fn a_refused_client_certificate_fails_its_line_naming_qrs_cert() {
    let site = sound_site();
    let (cert, key) = foreign_client_certificate();
    fs::write(site.path().join("other.pem"), cert).unwrap();
    fs::write(site.path().join("other_key.pem"), key).unwrap();
    common::owner_only(&site.path().join("other_key.pem"));
    let (code, stdout, stderr) =
        run(&mut site.doctor(&["--qrs-cert", "other.pem", "--qrs-key", "other_key.pem"]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let (failed, _) = line(&stdout, "client certificate accepted");
    assert!(failed.starts_with("FAIL  "), "{stdout}");
    assert!(
        failed.contains("refused the client certificate --qrs-cert 'other.pem'"),
        "{failed}"
    );
    assert!(line(&stdout, "virtual proxy").0.starts_with("SKIP  "));

    // A user the repository does not take: 403, in words naming --qrs-user.
    let (code, stdout, _) =
        run(&mut site.doctor(&["--qrs-user", "UserDirectory=CORP; UserId=anna"]));
    assert_eq!(code, 1);
    let (failed, _) = line(&stdout, "client certificate accepted");
    assert!(failed.starts_with("FAIL  "), "{stdout}");
    assert!(failed.contains("HTTP 403"), "{failed}");
    assert!(
        failed.contains("--qrs-user 'UserDirectory=CORP; UserId=anna'"),
        "{failed}"
    );
}

#[test]
fn an_unreachable_repository_fails_its_line() {
    let site = sound_site();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("https://127.0.0.1:{port}");
    let (code, stdout, stderr) = run(&mut site.doctor(&["--qrs", &url, "--output", "json"]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["status"], "failed");
    assert_eq!(value["checks"][1]["id"], "repository");
    assert_eq!(value["checks"][1]["status"], "fail");
    assert_eq!(value["checks"][3]["status"], "skip");
}

#[test]
fn json_is_one_object_for_success_failure_and_usage_errors() {
    let site = sound_site();
    let (code, stdout, _) = run(site.doctor(&["--output", "json"]).args(site.login_args()));
    assert_eq!(code, 0, "{stdout}");
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["status"], "ok");
    assert_eq!(value["prefix"], "jwt");
    assert_eq!(value["audience"], AUDIENCE);
    assert_eq!(value["checks"].as_array().unwrap().len(), 14);
    assert_eq!(value["checks"][11]["id"], "virtual-proxy-allow-list");
    assert_eq!(value["checks"][12]["id"], "login");
    assert_eq!(value["checks"][13]["id"], "engine");

    let (code, stdout, _) = run(&mut site.doctor(&["--audience", "other", "--output", "json"]));
    assert_eq!(code, 1);
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["status"], "failed");
    let audience = value["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "virtual-proxy-audience")
        .unwrap();
    assert_eq!(audience["status"], "fail");
    assert!(
        audience["fix"]
            .as_str()
            .unwrap()
            .contains("--audience qlik-jwt")
    );

    // A run-time failure before the checks (a --qrs-key that is not there) and a usage
    // error (no key source) are JSON objects too.
    let (code, stdout, _) =
        run(&mut site.doctor(&["--qrs-key", "nowhere.pem", "--output", "json"]));
    assert_eq!(code, 1);
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        value["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("--qrs-key 'nowhere.pem'"),
        "{value}"
    );
    let mut cmd = site.command();
    cmd.args([
        "doctor-qseow",
        "--qrs",
        &site.server.qrs_url(),
        "--qrs-cert",
        "client.pem",
        "--qrs-key",
        "client_key.pem",
        "--audience",
        AUDIENCE,
        "--output",
        "json",
    ]);
    let (code, stdout, _) = run(&mut cmd);
    assert_eq!(code, 2);
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert!(value["error"]["detail"].as_str().is_some(), "{value}");
}

#[test]
fn login_without_server_is_a_usage_error() {
    let site = sound_site();
    let (code, _, stderr) = run(&mut site.doctor(&["--login"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--server"), "{stderr}");
}

#[test]
fn no_client_key_private_key_token_or_cookie_is_shown_at_debug() {
    let site = sound_site();
    let key_text = fixture_text("rsa2048-pkcs1.pem");
    for extra in [&[][..], &["--output", "json"][..]] {
        let (code, stdout, stderr) = run(site
            .doctor(&["--loglevel", "debug"])
            .args(extra)
            .args(site.login_args()));
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(stderr.contains("DEBUG"), "{stderr}");
        let token = site
            .server
            .proxy_requests()
            .into_iter()
            .rev()
            .find_map(|r| r.header("authorization").map(str::to_owned))
            .unwrap();
        let token = token.strip_prefix("Bearer ").unwrap().to_owned();
        let both = format!("{stdout}{stderr}");
        assert!(!both.contains(&token), "the token in\n{both}");
        assert!(!both.contains("eyJ"), "{both}");
        assert!(!both.contains("X-Qlik-Session-jwt="), "a cookie in\n{both}");
        for line in key_text.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!both.contains(line), "key text in\n{both}");
        }
        assert!(!both.contains("PRIVATE KEY"), "{both}");
    }
    // A broken configuration too (the proxy refuses the token).
    site.server
        .with(|r| r.virtual_proxies[0]["jwtAudience"] = json!("changed"));
    let (code, stdout, stderr) = run(site
        .doctor(&["--loglevel", "debug"])
        .args(site.login_args()));
    assert_eq!(code, 1);
    assert!(line(&stdout, "login").0.starts_with("FAIL  "), "{stdout}");
    let both = format!("{stdout}{stderr}");
    assert!(!both.contains("eyJ"), "{both}");
}

#[test]
fn the_repositorys_values_are_shown_escaped_and_quoted_in_fixes() {
    let site = site_with(
        jwt_virtual_proxy(
            "jwt",
            "their \u{1b}[2J audience",
            &fixture_text("rsa2048-cert.pem"),
        ),
        true,
    );
    let (code, stdout, _) = run(&mut site.doctor(&[]));
    assert_eq!(code, 1);
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    let (failed, fix) = line(&stdout, "audience");
    assert!(failed.contains("'their \\x1b[2J audience'"), "{failed}");
    assert!(
        fix.unwrap()
            .contains("--audience 'their \\x1b[2J audience'"),
        "{fix:?}"
    );
    // In JSON the value stays exact (serde escapes the control character).
    let (_, stdout, _) = run(&mut site.doctor(&["--output", "json"]));
    let value: Value = serde_json::from_str(&stdout).unwrap();
    let audience = value["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "virtual-proxy-audience")
        .unwrap()
        .clone();
    assert!(
        audience["found"]
            .as_str()
            .unwrap()
            .contains("'their \u{1b}[2J audience'"),
        "{audience}"
    );
}

#[test]
fn a_host_allow_list_without_the_server_fails_with_the_apply_that_adds_it_and_the_engine_says_403()
{
    let site = site_with(
        jwt_virtual_proxy("jwt", AUDIENCE, &fixture_text("rsa2048-cert.pem")),
        true,
    );
    let (code, stdout, stderr) = run(site.doctor(&[]).args(site.login_args()));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let (allow, fix) = line(&stdout, "host allow list");
    assert!(
        allow.starts_with("FAIL  ")
            && allow.contains("does not hold '127.0.0.1', the host of --server (it holds nothing)"),
        "{allow}"
    );
    let fix = fix.unwrap();
    assert!(fix.ends_with("--allow-host 127.0.0.1"), "{fix}");
    let (engine, _) = line(&stdout, "engine");
    assert!(
        engine.starts_with("FAIL  ")
            && engine.contains("the step websocket failed")
            && engine.contains("HTTP 403"),
        "{engine}"
    );
    // The session the login made ended all the same.
    let counts = site.server.with(|r| r.counts);
    assert_eq!((counts.opened, counts.ended), (1, 1));
    // The fix, run as printed, makes the doctor pass.
    let (code, out, err) = site.run_fix(fix);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, stdout, stderr) = run(site.doctor(&[]).args(site.login_args()));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
}

/// Issue 26's lock-out: the doctor diagnoses keys/signing-key.pem while the virtual proxy holds
/// the key that works (keys/qsjwt_privatekey.pem's), and keys/publickey.cer (the name a fix
/// used to guess) holds a third key. No fix names a file the doctor has not read and found to
/// hold the key; the one that replaces the proxy's key says it locks out the old key's
/// signers; and every qs-jwt fix line run as printed leaves the working signer working.
#[test]
fn a_fix_names_only_checked_files_and_never_locks_out_a_working_signer() {
    let site = stand_in()
        .private_file("keys/signing-key.pem", "rsa2048-encrypted-genpkey.pem")
        .virtual_proxy(
            jwt_virtual_proxy("jwt", AUDIENCE, &fixture_text("rsa2048-cert.pem")),
            true,
        )
        .start();
    fs::write(
        site.path().join("keys/publickey.cer"),
        other_jwt_certificate(),
    )
    .unwrap();
    let diagnose = || {
        let mut cmd = site.doctor(&["--cert-privatekey-file", "keys/signing-key.pem"]);
        cmd.env("QSJWTPASSPHRASE", "fixture");
        cmd
    };
    let (code, stdout, stderr) = run(&mut diagnose());
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("FAIL  same key"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let fixes = common::doctor_fixes(&lines, at);
    // First: the signer may hold the wrong key; the proxy's key, and the file here holding it.
    let (label, note) = fixes[0];
    assert_eq!(label, "note", "{stdout}");
    assert!(
        note.contains("you may be signing with the wrong key")
            && note.contains("keys/qsjwt_publickey.cer"),
        "{note}"
    );
    // Then the certificate made from the key diagnosed, and the replacement, marked.
    assert_eq!(
        fixes[1],
        (
            "fix",
            "openssl req -new -x509 -key keys/signing-key.pem -out keys/signing-key_publickey.cer \
             -days 730 -subj /CN=qs-jwt"
        )
    );
    let (label, apply) = fixes[2];
    assert_eq!(
        label,
        "fix (changes Qlik, replaces its key and locks out every signer of the old one)"
    );
    assert!(
        apply.contains("--cert-publickey-file keys/signing-key_publickey.cer --apply"),
        "{apply}"
    );
    assert!(!stdout.contains(" keys/publickey.cer"), "{stdout}");

    // Every qs-jwt fix line of the report, run as printed: the working signer still passes.
    for line in stdout.lines() {
        if let Some((label, command)) = line.trim_start().split_once(": ")
            && label.starts_with("fix")
            && command.starts_with("qs-jwt ")
        {
            let _ = site.run_fix(command);
        }
    }
    let (code, stdout, stderr) = run(&mut site.doctor(&[]));
    assert_eq!(
        code, 0,
        "the working signer fails after the fixes:\n{stdout}\n{stderr}"
    );

    // In JSON, each step says what it changes.
    let (_, stdout, _) = run(diagnose().args(["--output", "json"]));
    let value: Value = serde_json::from_str(&stdout).unwrap();
    let key = value["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "virtual-proxy-key")
        .unwrap();
    let effects: Vec<(&str, bool)> = key["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["effect"].as_str().unwrap(),
                f["changes_qlik"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        effects,
        [
            ("advice", false),
            ("writes-file", false),
            ("replaces-key", true)
        ]
    );
    assert!(key["fix"].as_str().unwrap().contains("--apply"));
}
