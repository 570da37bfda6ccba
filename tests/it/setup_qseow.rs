//! setup-qseow --apply against the local stand-in for a QSEoW site's repository API and proxy
//! (tests/it/common/qrs_server.rs: HTTPS on 127.0.0.1, a client certificate from its test CA).
//! Nothing here reaches the network.

use crate::common;

use std::fs;

use assert_cmd::Command;
use serde_json::{Value, json};

use crate::common::ca::{foreign_client_certificate, other_jwt_certificate};
use crate::common::qlik_server::{Behaviour, QlikServer, silent_listener};
use crate::common::qrs_server::{
    NODE_ID, PROXY_SERVICE_ID, header_virtual_proxy, jwt_virtual_proxy, saml_virtual_proxy,
};
use crate::common::site::{Site, SiteBuilder};
use crate::common::{
    assert_valid, certificate_path, error_lines, fails_cleanly, fixture, fixture_text, printed,
    qlik_schema, qs_jwt,
};
// For the test that runs openssl as qs-jwt's hint prints it (Linux only).
#[cfg(target_os = "linux")]
use crate::common::{single_token, succeeds, verify_with_certificate};

const AUDIENCE: &str = "qlik-jwt";

/// A site stand-in whose folder holds the certificate to register (publickey.cer).
fn new_site() -> Site {
    SiteBuilder::new()
        .file("publickey.cer", "rsa2048-cert.pem")
        .start()
}

impl Site {
    /// `setup-qseow --audience qlik-jwt --cert-publickey-file publickey.cer --apply --qrs
    /// <qrs> --qrs-cert client.pem --qrs-key client_key.pem --cacert root.pem`, then `more`.
    fn apply_to(&self, qrs: &str, more: &[&str]) -> Command {
        let mut cmd = self.command();
        cmd.args(["setup-qseow", "--audience", AUDIENCE])
            .args(["--cert-publickey-file", "publickey.cer", "--apply"])
            .args(self.connection_to(qrs))
            .args(more);
        cmd
    }

    /// As `apply_to`, `--qrs` the stand-in's repository.
    fn apply(&self, more: &[&str]) -> Command {
        self.apply_to(&self.server.qrs_url(), more)
    }
}

/// An X.509 v1 client certificate, as old QMCs export, with its PKCS#1 key: the repository
/// stand-in takes it as QSEoW does (a signature of the site's CA, not webpki's rules), and
/// --apply goes through (issue 27).
#[test]
fn apply_with_an_x509_v1_client_certificate_configures_the_site() {
    let site = SiteBuilder::new()
        .v1_client_certificate()
        .file("publickey.cer", "rsa2048-cert.pem")
        .start();
    assert_eq!(
        fs::read_to_string(site.path().join("client.pem")).unwrap(),
        fixture_text("client-v1.pem")
    );
    let (code, stdout, stderr) = run(&mut site.apply(&[]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let vps = site.server.virtual_proxies();
    assert_eq!(vps.len(), 1, "{stderr}");
    assert_eq!(vps[0]["jwtAudience"], AUDIENCE);

    // The stand-in refuses a client certificate its CA did not sign: the test can fail.
    let (cert, key) = foreign_client_certificate();
    fs::write(site.path().join("other.pem"), cert).unwrap();
    fs::write(site.path().join("other_key.pem"), key).unwrap();
    let (code, _, stderr) =
        run(&mut site.apply(&["--qrs-cert", "other.pem", "--qrs-key", "other_key.pem"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--qrs-cert 'other.pem'"), "{stderr}");
}

/// Exit code, stdout and stderr.
fn run(cmd: &mut Command) -> (i32, String, String) {
    let output = cmd.output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn stdout_json(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is the virtual proxy as JSON")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn bare(pem: &str) -> String {
    pem.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn creates_the_virtual_proxy_with_nodes_hosts_and_links() {
    let site = new_site();
    // The proxy service's node as the repository's condensed form may give it: its id alone.
    site.server.with(|r| {
        r.proxy_services[0]["serverNodeConfiguration"] = json!({ "id": NODE_ID });
    });
    let output = site
        .apply(&["--allow-host", "qlik.example.com"])
        .output()
        .unwrap();
    let vp = stdout_json(&output);
    let err = stderr(&output);
    assert_eq!(vp["prefix"], "jwt");
    assert!(vp["id"].as_str().is_some_and(|id| !id.is_empty()), "{vp}");
    assert_eq!(vp["authenticationMethod"], 4);
    assert_eq!(vp["jwtAudience"], AUDIENCE);
    assert_eq!(
        bare(vp["jwtPublicKeyCertificate"].as_str().unwrap()),
        bare(&fixture_text("rsa2048-cert.pem"))
    );
    assert_eq!(vp["loadBalancingServerNodes"][0]["id"], NODE_ID);
    assert_eq!(
        vp["websocketCrossOriginWhiteList"],
        json!(["qlik.example.com"])
    );
    assert!(err.contains("created the virtual proxy 'jwt'"), "{err}");
    // Named by its node, as doctor-qseow names it, not by the service's id.
    assert!(
        err.contains("INFO linked the virtual proxy 'jwt' to the proxy service of central\n"),
        "{err}"
    );
    assert!(!err.contains(PROXY_SERVICE_ID), "{err}");
    let services = site.server.proxy_services();
    let linked = services[0]["settings"]["virtualProxies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|item| item["id"] == vp["id"]);
    assert!(linked, "{services:?}");
    assert_eq!(
        site.writes(),
        [
            "POST /qrs/virtualproxyconfig".to_owned(),
            format!("PUT /qrs/proxyservice/{PROXY_SERVICE_ID}")
        ]
    );
    // Every repository request carried the xrfkey pair and X-Qlik-User.
    for request in site.server.requests() {
        let key = request.target.split("xrfkey=").nth(1).unwrap_or_default();
        assert_eq!(key.len(), 16, "{}", request.target);
        assert_eq!(request.header("x-qlik-xrfkey"), Some(key));
        assert_eq!(
            request.header("x-qlik-user"),
            Some("UserDirectory=INTERNAL; UserId=sa_repository")
        );
    }
    let filter = &site.server.requests()[0].target;
    assert!(
        filter.starts_with("/qrs/virtualproxyconfig/full?filter=prefix%20eq%20%27jwt%27&xrfkey="),
        "{filter}"
    );
}

#[test]
fn a_second_run_changes_nothing_and_sends_no_put_or_post() {
    let site = new_site();
    let first = stdout_json(
        &site
            .apply(&["--allow-host", "a.example.com"])
            .output()
            .unwrap(),
    );
    let before = site.writes().len();
    let output = site
        .apply(&["--allow-host", "A.example.com"])
        .output()
        .unwrap();
    let second = stdout_json(&output);
    assert_eq!(site.writes().len(), before, "{:?}", site.writes());
    assert!(
        stderr(&output).contains("nothing to change"),
        "{}",
        stderr(&output)
    );
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["modifiedDate"], first["modifiedDate"]);
}

/// Two `--apply` runs at once: both read "no virtual proxy", one creates it, and the other's
/// POST is refused for its prefix. That one reads the virtual proxy back and sets it as the
/// tokens need (here the other run had written another audience), instead of failing with the
/// repository's "Prefix must be unique" and a hint about its body.
#[test]
fn a_virtual_proxy_made_meanwhile_by_another_run_is_set_not_failed() {
    let site = new_site();
    site.server.with(|repository| {
        repository.made_meanwhile = Some(jwt_virtual_proxy("jwt", "another-audience", "x"));
    });
    let output = site.apply(&[]).output().unwrap();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("was made on"), "{err}");
    let shown = stdout_json(&output);
    let held = site.server.virtual_proxies();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["id"], shown["id"]);
    assert_eq!(held[0]["jwtAudience"], AUDIENCE);
    assert_eq!(shown["jwtAudience"], AUDIENCE);
}

#[test]
fn an_update_sets_only_the_jwt_fields_and_keeps_the_admins_others() {
    let site = new_site();
    let mut by_hand = jwt_virtual_proxy("jwt", "old-audience", "not a certificate");
    by_hand["description"] = json!("the admin's words");
    by_hand["sessionInactivityTimeout"] = json!(90);
    by_hand["authenticationMethod"] = json!(0);
    by_hand["websocketCrossOriginWhiteList"] = json!(["kept.example.com"]);
    by_hand["loadBalancingServerNodes"] = json!([]);
    let id = site.server.add_virtual_proxy(by_hand);
    site.server.link(&id);
    site.server.add_engine_node("rim-1-id", "rim1");
    // A Ticket virtual proxy: converted only when asked.
    let output = site
        .apply(&[
            "--allow-host",
            "kept.example.com",
            "--allow-host",
            "new.example.com",
            "--convert-to-jwt",
        ])
        .output()
        .unwrap();
    let vp = stdout_json(&output);
    assert_eq!(vp["id"], id.as_str());
    assert_eq!(vp["description"], "the admin's words");
    assert_eq!(vp["sessionInactivityTimeout"], 90);
    assert_eq!(vp["authenticationMethod"], 4);
    assert_eq!(vp["jwtAudience"], AUDIENCE);
    assert_eq!(vp["jwtAttributeMap"][0]["jwtAttribute"], "group");
    assert_eq!(
        vp["websocketCrossOriginWhiteList"],
        json!(["kept.example.com", "new.example.com"])
    );
    let nodes: Vec<&Value> = vp["loadBalancingServerNodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["id"])
        .collect();
    assert_eq!(nodes, [&json!(NODE_ID), &json!("rim-1-id")]);
    let err = stderr(&output);
    assert!(err.contains("updated the virtual proxy 'jwt'"), "{err}");
    assert!(
        err.contains("jwtAudience") && err.contains("new.example.com"),
        "{err}"
    );
    // Linked already: one PUT, the virtual proxy's, with the modifiedDate it was read with.
    assert_eq!(site.writes(), [format!("PUT /qrs/virtualproxyconfig/{id}")]);
}

#[test]
fn load_balancing_nodes_are_filled_only_when_the_list_is_empty() {
    let site = new_site();
    let mut by_hand = jwt_virtual_proxy("jwt", AUDIENCE, &fixture_text("rsa2048-cert.pem"));
    by_hand["jwtAttributeMap"] = json!([{"jwtAttribute": "group", "senseAttribute": "group",
                                         "isMandatory": false, "id": "x"}]);
    let id = site.server.add_virtual_proxy(by_hand);
    site.server.link(&id);
    site.server.add_engine_node("rim-1-id", "rim1");
    let output = site.apply(&[]).output().unwrap();
    let vp = stdout_json(&output);
    assert_eq!(vp["loadBalancingServerNodes"].as_array().unwrap().len(), 1);
    assert!(site.writes().is_empty(), "{:?}", site.writes());
    assert!(stderr(&output).contains("nothing to change"));
}

#[test]
fn a_virtual_proxy_changed_meanwhile_is_reported_not_overwritten() {
    let site = new_site();
    let id = site
        .server
        .add_virtual_proxy(jwt_virtual_proxy("jwt", "old-audience", "x"));
    site.server.with(|r| r.changed_behind = true);
    let mut cmd = site.apply(&[]);
    fails_cleanly(&mut cmd, site.path(), 1);
    let output = site.apply(&[]).output().unwrap();
    let text = error_lines(&output.stderr);
    assert!(
        text.contains(&format!("cannot update the virtual proxy 'jwt' ({id})"))
            && text.contains("HTTP 409")
            && text.contains("run the same command again"),
        "{text}"
    );
    let held = site.server.virtual_proxies();
    assert_eq!(held[0]["jwtAudience"], "old-audience");
}

#[test]
fn a_missing_or_refused_client_certificate_names_qrs_cert() {
    let site = new_site();
    // No --qrs-cert at all: a usage error that names it.
    let output = qs_jwt(site.path())
        .args([
            "setup-qseow",
            "--audience",
            AUDIENCE,
            "--cert-publickey-file",
            "publickey.cer",
            "--apply",
            "--qrs",
            &site.server.qrs_url(),
            "--qrs-key",
            "client_key.pem",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--qrs-cert"),
        "{}",
        stderr(&output)
    );

    // A file that is not there.
    let mut cmd = site.apply(&["--qrs-cert", "nowhere.pem"]);
    let err = fails_cleanly(&mut cmd, site.path(), 1);
    let text = error_lines(err.as_bytes());
    assert!(text.contains("--qrs-cert 'nowhere.pem'"), "{text}");
    assert!(
        text.contains("hint: give the client.pem that the QMC exported"),
        "{text}"
    );
    let mut cmd = site.apply(&["--qrs-key", "nowhere.pem"]);
    let err = fails_cleanly(&mut cmd, site.path(), 1);
    let text = error_lines(err.as_bytes());
    assert!(text.contains("--qrs-key 'nowhere.pem'"), "{text}");
    assert!(text.contains("hint: give the client_key.pem"), "{text}");

    // Another site's certificate: the repository refuses it in the handshake.
    let (cert, key) = foreign_client_certificate();
    fs::write(site.path().join("other.pem"), cert).unwrap();
    fs::write(site.path().join("other_key.pem"), key).unwrap();
    common::owner_only(&site.path().join("other_key.pem"));
    let mut cmd = site.apply(&["--qrs-cert", "other.pem", "--qrs-key", "other_key.pem"]);
    let err = fails_cleanly(&mut cmd, site.path(), 1);
    let text = error_lines(err.as_bytes());
    assert!(
        text.contains("refused the client certificate --qrs-cert 'other.pem'"),
        "{text}"
    );
    assert!(site.writes().is_empty());

    // A key that is not the certificate's.
    let mut cmd = site.apply(&["--qrs-key", "other_key.pem"]);
    let err = fails_cleanly(&mut cmd, site.path(), 1);
    assert!(
        err.contains(
            "--qrs-cert 'client.pem' and --qrs-key 'other_key.pem' do not belong together"
        ),
        "{err}"
    );
}

#[test]
fn a_pkcs8_client_key_works_as_the_qmcs_pkcs1_one() {
    let site = new_site();
    fs::copy(
        fixture("rsa2048-pkcs8.pem"),
        site.path().join("client_key8.pem"),
    )
    .unwrap();
    common::owner_only(&site.path().join("client_key8.pem"));
    let output = site
        .apply(&["--qrs-key", "client_key8.pem"])
        .output()
        .unwrap();
    stdout_json(&output);
}

#[test]
fn a_user_the_repository_refuses_is_said_with_the_user() {
    let site = new_site();
    let mut cmd = site.apply(&["--qrs-user", "UserDirectory=CORP; UserId=anna"]);
    let err = fails_cleanly(&mut cmd, site.path(), 1);
    let text = error_lines(err.as_bytes());
    assert!(
        text.contains("HTTP 403") && text.contains("UserDirectory=CORP; UserId=anna"),
        "{text}"
    );
}

#[test]
fn apply_with_console_output_is_a_usage_error() {
    let site = new_site();
    let mut cmd = site.apply(&["--output", "console"]);
    let err = fails_cleanly(&mut cmd, site.path(), 2);
    assert!(err.contains("--output console"), "{err}");
    // And the repository flags without --apply.
    let output = qs_jwt(site.path())
        .args([
            "setup-qseow",
            "--audience",
            AUDIENCE,
            "--cert-publickey-file",
            "publickey.cer",
            "--qrs",
            "https://q.example.com:4242",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--apply"), "{}", stderr(&output));
}

#[cfg(unix)]
#[test]
fn a_client_key_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let site = new_site();
    let key = site.path().join("client_key.pem");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let output = site.apply(&[]).output().unwrap();
    stdout_json(&output);
    assert!(
        stderr(&output).contains("--qrs-key") && stderr(&output).contains("client_key.pem"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn no_client_key_or_token_in_any_output_at_debug() {
    let site = new_site();
    let key = fixture_text("rsa2048-pkcs1.pem");
    let body_lines: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut outputs = Vec::new();
    for more in [
        &["--loglevel", "debug", "--allow-host", "h.example.com"][..],
        &["--loglevel", "debug"][..],
    ] {
        outputs.push(site.apply(more).output().unwrap());
    }
    site.server.with(|r| r.changed_behind = true);
    site.server
        .with(|r| r.virtual_proxies[0]["jwtAudience"] = json!("changed"));
    outputs.push(site.apply(&["--loglevel", "debug"]).output().unwrap());
    for output in &outputs {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        for line in &body_lines {
            assert!(!all.contains(line), "a line of the client key in: {all}");
        }
        assert!(!all.contains("PRIVATE KEY"), "{all}");
    }
    assert!(
        stderr(&outputs[0]).contains("DEBUG"),
        "{}",
        stderr(&outputs[0])
    );
}

/// [`Site::login`] through the stand-in's proxy at `/jwt`, at --loglevel debug.
fn login(site: &Site) -> std::process::Output {
    // The HTTP login alone: these virtual proxies' host allow lists are the engine's business
    // (tests/it/engine.rs).
    site.login(AUDIENCE, &["--no-engine", "--loglevel", "debug"])
        .output()
        .unwrap()
}

/// The stand-in's knobs for a broken configuration (what doctor-qseow will diagnose): each
/// virtual proxy below refuses the token that the whole one takes.
#[test]
fn the_proxy_takes_tokens_only_through_a_linked_jwt_virtual_proxy_with_nodes() {
    let certificate = fixture_text("rsa2048-cert.pem");
    let other_certificate = other_jwt_certificate();
    let whole = jwt_virtual_proxy("jwt", AUDIENCE, &certificate);
    let broken: [(&str, Value, bool); 5] = [
        ("not linked", whole.clone(), false),
        (
            "no load-balancing node",
            json!({"loadBalancingServerNodes": []}),
            true,
        ),
        ("another audience", json!({"jwtAudience": "other"}), true),
        (
            "another certificate",
            json!({"jwtPublicKeyCertificate": other_certificate}),
            true,
        ),
        ("not JWT", json!({"authenticationMethod": 0}), true),
    ];
    for (what, change, linked) in broken {
        let site = new_site();
        let mut vp = whole.clone();
        for (field, value) in change.as_object().unwrap() {
            vp[field] = value.clone();
        }
        let id = site.server.add_virtual_proxy(vp);
        if linked {
            site.server.link(&id);
        }
        let output = login(&site);
        assert_eq!(output.status.code(), Some(1), "{what}: {}", stderr(&output));
    }
    let site = new_site();
    let id = site.server.add_virtual_proxy(whole);
    site.server.link(&id);
    let output = login(&site);
    assert!(output.status.success(), "{}", stderr(&output));
}

/// The end to end walk: before --apply, the proxy has no virtual proxy for the token; after
/// it, create-qseow and login-qseow make a session.
#[test]
fn login_qseow_succeeds_only_after_apply() {
    let site = new_site();
    let before = login(&site);
    assert_eq!(before.status.code(), Some(1), "{}", stderr(&before));
    let output = site.apply(&[]).output().unwrap();
    stdout_json(&output);
    let after = login(&site);
    assert!(after.status.success(), "{}", stderr(&after));
    let report = String::from_utf8_lossy(&after.stdout);
    assert!(report.contains("anna"), "{report}");
    let token_free = format!("{report}{}", stderr(&after));
    assert!(!token_free.contains("eyJ"), "{token_free}");
}

#[test]
fn an_encrypted_client_key_or_a_bad_user_or_the_hubs_port_is_said_so() {
    let site = new_site();
    for name in ["rsa2048-encrypted-pkcs1.pem", "rsa2048-encrypted-pkcs8.pem"] {
        fs::copy(fixture(name), site.path().join(name)).unwrap();
        common::owner_only(&site.path().join(name));
        let mut cmd = site.apply(&["--qrs-key", name]);
        let err = fails_cleanly(&mut cmd, site.path(), 1);
        assert!(
            err.contains(&format!("--qrs-key '{name}' is encrypted")),
            "{err}"
        );
    }
    for user in ["sa_repository", "UserDirectory=INTERNAL;\nUserId=x"] {
        let mut cmd = site.apply(&["--qrs-user", user]);
        let err = fails_cleanly(&mut cmd, site.path(), 2);
        assert!(
            err.contains("--qrs-user") && err.contains("UserId="),
            "{err}"
        );
    }
    // The proxy's port (the hub) in place of the repository's: its login-page redirect.
    let mut cmd = site.apply(&["--qrs", &site.server.proxy_url()]);
    let err = fails_cleanly(&mut cmd, site.path(), 1);
    assert!(err.contains("HTTP 302") && err.contains(":4242"), "{err}");
    assert!(site.writes().is_empty());
}

#[test]
fn the_client_keys_text_in_place_of_its_path_is_refused_unquoted() {
    let site = new_site();
    let key = fixture_text("rsa2048-pkcs1.pem");
    let mut cmd = site.apply(&["--qrs-key", &key]);
    let err = fails_cleanly(&mut cmd, site.path(), 2);
    for line in key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!err.contains(line), "{err}");
    }
    assert!(err.contains("--qrs-key"), "{err}");
    assert!(site.server.requests().is_empty());
}

#[test]
fn a_refusal_is_said_with_the_repositorys_words_and_a_hint() {
    let site = new_site();
    site.server
        .with(|r| r.refuse_writes = Some((400, "jwtAudience: \u{1b}[31mbad value\nsee the log")));
    let mut cmd = site.apply(&[]);
    let err = fails_cleanly(&mut cmd, site.path(), 1);
    let text = error_lines(err.as_bytes());
    assert!(
        text.contains("refused to create the virtual proxy 'jwt' (HTTP 400): jwtAudience:")
            && text.contains("bad value see the log")
            && text.contains("hint: qs-jwt setup-qseow without --apply prints the body"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "escaped: {text:?}");
    site.server
        .with(|r| r.refuse_writes = Some((500, "Internal error")));
    let mut cmd = site.apply(&[]);
    let err = fails_cleanly(&mut cmd, site.path(), 1);
    assert!(
        err.contains("HTTP 500") && err.contains("Internal error"),
        "{err}"
    );
}

/// A link refused after the virtual proxy was made: the error says the site was changed before
/// it and keeps that change, and a rerun converges (it only links).
#[test]
fn a_failure_after_a_change_says_what_was_changed_and_a_rerun_converges() {
    let site = new_site();
    site.server
        .with(|r| r.refuse_links = Some((500, "Internal error")));
    let (code, stdout, stderr) = run(&mut site.apply(&[]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(stdout, "");
    let text = error_lines(stderr.as_bytes());
    assert!(
        text.contains("HTTP 500")
            && text
                .contains("was changed before that, and keeps it: created the virtual proxy 'jwt'")
            && text.contains("run the same command again"),
        "{text}"
    );
    assert_eq!(site.server.virtual_proxies().len(), 1);
    // Mended, the rerun links and changes nothing else.
    site.server.with(|r| r.refuse_links = None);
    let before = site.writes().len();
    let (code, stdout, stderr) = run(&mut site.apply(&[]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let writes = site.writes();
    assert_eq!(writes.len(), before + 1, "{writes:?}");
    assert!(
        writes.last().unwrap().contains("/qrs/proxyservice/"),
        "{writes:?}"
    );
    assert_eq!(site.server.virtual_proxies().len(), 1);
}

/// A link whose answer was lost after the virtual proxy was made: Qlik may have linked it, and
/// the error says so beside what this run changed for sure.
#[test]
fn a_lost_answer_to_a_link_says_qlik_may_have_linked() {
    let site = new_site();
    site.server.with(|r| r.lose_link_answers = true);
    let (code, stdout, stderr) = run(&mut site.apply(&[]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let text = error_lines(stderr.as_bytes());
    assert!(
        text.contains("was changed before that, and keeps it: created the virtual proxy 'jwt'"),
        "{text}"
    );
    assert!(
        text.contains("Qlik may have changed"),
        "the link was sent and may be made: {text}"
    );
    assert_eq!(
        text.matches("run the same command again").count(),
        1,
        "the rerun said once: {text}"
    );
}

/// The repository client's public calls, as doctor-qseow will use them, against the stand-in.
#[test]
fn the_repository_client_reads_the_site() {
    use qs_jwt::commands::connect::qrs_failure;
    use qs_jwt::http::{Client, ClientCertificate, ClientOptions, Server};
    use qs_jwt::qlik::qseow::{DEFAULT_QRS_USER, Repository};
    use qs_jwt::secret::SecretText;

    // The client runs in this process, so it reads the developer's proxy variables, which a
    // test cannot take from its own process as it does from the runs it starts.
    let proxy = qs_jwt::http::proxy_for("127.0.0.1", |name| std::env::var(name).ok());
    if !common::skip::require(
        proxy.is_none(),
        "no proxy for 127.0.0.1 in the environment (HTTPS_PROXY or ALL_PROXY without NO_PROXY)",
    ) {
        return;
    }
    let site = new_site();
    let id = site.server.add_virtual_proxy(jwt_virtual_proxy(
        "jwt",
        AUDIENCE,
        &fixture_text("rsa2048-cert.pem"),
    ));
    site.server.add_engine_node("rim-1-id", "rim1");
    let key = SecretText::new(site.server.client_key_pem.clone());
    let (cert, root) = (site.path().join("client.pem"), site.path().join("root.pem"));
    let key_path = site.path().join("client_key.pem");
    let client = Client::new(
        Server::parse(&site.server.qrs_url(), "--qrs", false).unwrap(),
        &ClientOptions {
            cacert: Some(&root),
            insecure: false,
            timeout: std::time::Duration::from_secs(30),
            sends: "test",
            client_certificate: Some(ClientCertificate {
                cert_path: &cert,
                cert_flag: "--qrs-cert",
                key_path: &key_path,
                key_flag: "--qrs-key",
                key: &key,
            }),
        },
    )
    .unwrap();
    let repository = Repository::new(client, DEFAULT_QRS_USER);
    assert!(repository.about().unwrap()["buildVersion"].is_string());
    let found = repository.virtual_proxies_by_prefix("jwt").unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].is_jwt());
    assert_eq!(found[0].id, id);
    assert_eq!(found[0].jwt_audience.as_deref(), Some(AUDIENCE));
    assert_eq!(found[0].load_balancing_nodes, [NODE_ID]);
    assert!(
        repository
            .virtual_proxies_by_prefix("other")
            .unwrap()
            .is_empty()
    );
    let services = repository.proxy_services().unwrap();
    assert_eq!(services.len(), 1);
    assert!(!services[0].links(&id));
    assert_eq!(services[0].shown(), "central");
    let linked = repository.link_virtual_proxy(&services[0], &id).unwrap();
    assert!(linked.links(&id));
    let engines: Vec<String> = repository
        .engine_nodes()
        .unwrap()
        .iter()
        .map(|n| n.id.clone())
        .collect();
    assert_eq!(engines, [NODE_ID, "rim-1-id"]);
    assert_eq!(repository.server_nodes().unwrap().len(), 2);
    // A stale modifiedDate: 409, in words.
    let mut stale = found[0].json.clone();
    stale["modifiedDate"] = json!("2000-01-01T00:00:00.000Z");
    let failure = repository.update_virtual_proxy(&stale).unwrap_err();
    let text = qrs_failure(failure, "update it", &repository).to_string();
    assert!(text.contains("HTTP 409"), "{text}");
}

#[test]
fn replacing_another_jwt_certificate_is_warned_about() {
    let site = new_site();
    let id =
        site.server
            .add_virtual_proxy(jwt_virtual_proxy("jwt", AUDIENCE, &other_jwt_certificate()));
    site.server.link(&id);
    let output = site.apply(&[]).output().unwrap();
    let vp = stdout_json(&output);
    assert_eq!(
        bare(vp["jwtPublicKeyCertificate"].as_str().unwrap()),
        bare(&fixture_text("rsa2048-cert.pem"))
    );
    let err = stderr(&output);
    assert!(
        err.lines().any(|l| l.starts_with("WARN ")
            && l.contains(&format!(
                "replaced the JWT certificate of the virtual proxy 'jwt' ({id})"
            ))
            && l.contains("tokens signed with the old key are refused from now on")),
        "{err}"
    );
    // The same certificate again: nothing replaced, nothing warned.
    let output = site.apply(&[]).output().unwrap();
    stdout_json(&output);
    assert!(!stderr(&output).contains("replaced"), "{}", stderr(&output));

    // A virtual proxy without a certificate gets one: nothing replaced.
    let site = new_site();
    let mut vp = jwt_virtual_proxy("jwt", AUDIENCE, "");
    vp["authenticationMethod"] = json!(0);
    let id = site.server.add_virtual_proxy(vp);
    site.server.link(&id);
    let output = site.apply(&["--convert-to-jwt"]).output().unwrap();
    stdout_json(&output);
    assert!(!stderr(&output).contains("replaced"), "{}", stderr(&output));
}

/// Issue 26: a virtual proxy found by --prefix that uses another authentication method (SAML,
/// header) is refused, naming the method and who loses their login, and nothing is sent;
/// --convert-to-jwt converts it.
#[test]
fn a_saml_or_header_virtual_proxy_is_refused_unless_converted_explicitly() {
    for (vp, method, users) in [
        (
            saml_virtual_proxy("sso"),
            "authenticationMethod 3, SAML",
            "sign in through its SAML identity provider",
        ),
        (
            header_virtual_proxy("sso"),
            "authenticationMethod 1, Header static user directory",
            "are named by the header a front-end server sets",
        ),
    ] {
        let site = new_site();
        let id = site.server.add_virtual_proxy(vp.clone());
        site.server.link(&id);
        let stderr = fails_cleanly(&mut site.apply(&["--prefix", "sso"]), site.path(), 1);
        let lines = error_lines(stderr.as_bytes());
        assert!(
            lines.contains(&format!("the virtual proxy 'sso' ({id}) with {method}"))
                && lines.contains(users)
                && lines.contains("nothing changed")
                && lines.contains("--convert-to-jwt"),
            "{lines}"
        );
        assert!(site.writes().is_empty(), "{:?}", site.writes());

        let output = site
            .apply(&["--prefix", "sso", "--convert-to-jwt"])
            .output()
            .unwrap();
        let converted = stdout_json(&output);
        assert_eq!(converted["authenticationMethod"], 4);
        assert_eq!(converted["id"], id.as_str());
    }
}

/// Issue 26: keys are compared by their public key. A renewed certificate of the key the
/// virtual proxy holds replaces nobody's key: sent (its new dates), with no lock-out warning.
#[test]
fn a_renewed_certificate_of_the_same_key_is_no_replacement() {
    let key = rcgen::KeyPair::from_pem(&fixture_text("rsa2048-pkcs8.pem")).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "renewed");
    let renewed = params.self_signed(&key).unwrap().pem();
    let site = new_site();
    let id = site
        .server
        .add_virtual_proxy(jwt_virtual_proxy("jwt", AUDIENCE, &renewed));
    site.server.link(&id);
    let output = site.apply(&[]).output().unwrap();
    stdout_json(&output);
    let err = stderr(&output);
    assert!(!err.contains("replaced"), "{err}");
    assert!(!err.contains("refused from now on"), "{err}");
}

// setup-qseow --apply against repositories that lie or break (and common/qlik_server.rs's
// fixed answers for a server that is not a repository): what reaches the repository, what the
// user sees, the exit code.

/// A server that answers every request with `status` and `body` (not a repository), its CA
/// as root.pem in the site's folder.
fn liar(site: &Site, status: u16, body: String) -> QlikServer {
    let server = QlikServer::start(Behaviour::Fixed(status, Box::leak(body.into_boxed_str())));
    fs::write(site.path().join("root.pem"), &server.ca_pem).unwrap();
    server
}

#[test]
fn a_virtual_proxy_without_modified_date_is_not_overwritten() {
    let site = new_site();
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
    let site = new_site();
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
    let site = new_site();
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
    let site = new_site();
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
    let site = new_site();
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

/// `setup-qseow --audience <audience> --cert-publickey-file publickey.cer --apply` with its
/// standard output on /dev/full: the exit code and stderr.
#[cfg(target_os = "linux")]
fn apply_to_dev_full(site: &Site, audience: &str) -> (i32, String) {
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut cmd = common::command(env!("CARGO_BIN_EXE_qs-jwt"));
    let output = cmd
        .current_dir(site.path())
        .args(["setup-qseow", "--audience", audience])
        .args(["--cert-publickey-file", "publickey.cer", "--apply"])
        .args(site.connection())
        .stdout(full)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// Issue 26: a report that cannot be written after the repository changed says what changed,
/// that Qlik holds it and that a rerun converges (exit 1): a create with its link, then an
/// update; the rerun with a working stdout changes nothing.
#[cfg(target_os = "linux")]
#[test]
fn a_report_lost_after_a_change_says_qlik_was_changed() {
    let site = new_site();
    let (code, err) = apply_to_dev_full(&site, AUDIENCE);
    assert_eq!(code, 1, "{err}");
    let held = site.server.virtual_proxies();
    assert_eq!(held.len(), 1, "{held:?}");
    let id = held[0]["id"].as_str().unwrap().to_owned();
    let text = error_lines(err.as_bytes());
    assert!(
        text.contains(&format!(
            "{} created the virtual proxy 'jwt' ({id}), linked the virtual proxy 'jwt' to the \
             proxy service of central, and Qlik holds that change",
            site.server.qrs_url()
        )),
        "{text}"
    );
    assert!(
        text.contains("error: --apply on https://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("cannot write to standard output"), "{text}");
    assert!(text.contains("so a rerun converges"), "{text}");

    let (code, err) = apply_to_dev_full(&site, "another-audience");
    assert_eq!(code, 1, "{err}");
    let text = error_lines(err.as_bytes());
    assert!(
        text.contains(&format!(
            "error: --apply on {} updated the virtual proxy 'jwt' ({id}): ",
            site.server.qrs_url()
        )),
        "{text}"
    );
    assert!(text.contains("so a rerun converges"), "{text}");
    assert_eq!(
        site.server.virtual_proxies()[0]["jwtAudience"],
        "another-audience"
    );

    let before = site.writes().len();
    let output = site.apply(&[]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert_eq!(site.writes().len(), before + 1, "{:?}", site.writes());
    assert!(err.contains("updated the virtual proxy 'jwt'"), "{err}");
    let output = site.apply(&[]).output().unwrap();
    assert!(output.status.success());
    assert_eq!(site.writes().len(), before + 1, "{:?}", site.writes());
    assert!(stderr(&output).contains("nothing to change"));
    assert_eq!(stdout_json(&output)["id"], id.as_str());
}

#[test]
fn a_closed_stdout_is_refused_before_the_repository_is_changed() {
    let site = new_site();
    let cmd = format!(
        "{} setup-qseow --audience qlik-jwt --cert-publickey-file publickey.cer --apply --qrs {} \
         --qrs-cert client.pem --qrs-key client_key.pem --cacert root.pem >&-",
        assert_cmd::cargo::cargo_bin("qs-jwt").display(),
        site.server.qrs_url()
    );
    let output = common::command("bash")
        .current_dir(site.path())
        .args(["-c", &cmd])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("standard output is closed"));
    assert_eq!(site.writes(), Vec::<String>::new());
}

// setup-qseow without --apply: the body field by field and against the schema Qlik publishes
// (tests/fixtures/qlik/), the QMC fields word for word, and the command printed for a private
// key given for the certificate.

#[test]
fn qseow_body_is_what_the_repository_api_takes() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = printed(
        dir.path(),
        &[
            "setup-qseow",
            "--audience",
            "hdJh34wkK",
            "--prefix",
            "/corp-jwt",
            "--cert-publickey-file",
            &certificate_path(),
        ],
    );
    let body: Value = serde_json::from_str(&stdout).unwrap();
    assert_valid(&qlik_schema("virtualproxyconfig-jwt.schema.json"), &body);
    assert_eq!(body["prefix"], "corp-jwt");
    assert_eq!(body["sessionCookieHeaderName"], "X-Qlik-Session-corp-jwt");
    assert_eq!(body["authenticationMethod"], 4);
    assert_eq!(body["jwtAudience"], "hdJh34wkK");
    assert_eq!(body["jwtAttributeUserId"], "userId");
    assert_eq!(body["jwtAttributeUserDirectory"], "userDirectory");
    assert_eq!(
        body["jwtAttributeMap"],
        serde_json::json!([{"jwtAttribute": "group", "senseAttribute": "group", "isMandatory": false}])
    );
    assert_eq!(
        body["jwtPublicKeyCertificate"],
        fixture_text("rsa2048-cert.pem").trim_end()
    );
    // What only the admin can fill in is named on stderr.
    for still_to_do in [
        "loadBalancingServerNodes",
        "PUT /qrs/proxyservice",
        "Host allow list",
    ] {
        assert!(stderr.contains(still_to_do), "{still_to_do}: {stderr}");
    }
}

#[test]
fn qseow_console_shows_the_qmc_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, _) = printed(
        dir.path(),
        &[
            "setup-qseow",
            "--audience",
            "hdJh34wkK",
            "--cert-publickey-file",
            &certificate_path(),
            "--output",
            "console",
        ],
    );
    snapbox::assert_data_eq!(
        stdout,
        snapbox::file!["../snapshots/setup/qseow-console.txt"]
    );
}

/// `setup-qseow --cert-publickey-file signing.pem` given the private key: the hint names the
/// user's file, and its command, run as printed, makes the certificate setup-qseow takes and
/// that verifies the tokens the key signs.
#[cfg(target_os = "linux")]
#[test]
fn a_private_key_given_for_the_certificate_gets_the_command_that_makes_one() {
    if !crate::common::skip::require_tool("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("rsa2048-pkcs8.pem"), dir.path().join("signing.pem")).unwrap();
    let args = [
        "setup-qseow",
        "--audience",
        "a",
        "--cert-publickey-file",
        "signing.pem",
    ];
    let stderr =
        error_lines(fails_cleanly(qs_jwt(dir.path()).args(args), dir.path(), 1).as_bytes());
    assert!(
        stderr.contains("--cert-publickey-file 'signing.pem' holds a private key"),
        "{stderr}"
    );
    assert!(!stderr.contains("privatekey.pem"), "{stderr}");
    let command = stderr
        .lines()
        .find_map(|line| line.strip_prefix("hint: make the certificate from it, and give that: "))
        .unwrap_or_else(|| panic!("no command in: {stderr}"));
    assert_eq!(
        command,
        "openssl req -new -x509 -key 'signing.pem' -out 'signing.cer' -days 730 -subj /CN=qs-jwt"
    );
    let made = common::command("bash")
        .args(["-c", command])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");

    let (stdout, _) = printed(
        dir.path(),
        &[
            "setup-qseow",
            "--audience",
            "a",
            "--cert-publickey-file",
            "signing.cer",
        ],
    );
    let body: Value = serde_json::from_str(&stdout).unwrap();
    let certificate = body["jwtPublicKeyCertificate"].as_str().unwrap();
    let output = succeeds(
        &mut common::Create::qseow()
            .args(["--audience", "a"])
            .key_file("signing.pem")
            .run_in(dir.path()),
    );
    verify_with_certificate(&single_token(&output.stdout), certificate, "a");
}

/// --dry-run: the plan (a create with its fields, then the links; for a virtual proxy found,
/// each field old -> new) as JSON on stdout, the same `plan:` lines a real run prints on
/// stderr, and no PUT or POST; a dry run after the real one plans nothing.
#[test]
fn a_dry_run_prints_the_plan_and_sends_no_write() {
    let site = new_site();
    let (code, stdout, stderr) = run(&mut site.apply(&["--dry-run"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(site.writes(), Vec::<String>::new());
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["changes"][0]["action"], "create");
    assert_eq!(plan["changes"][1]["action"], "link");
    let create = "plan: create the virtual proxy 'jwt' (JWT, audience \"qlik-jwt\"";
    assert!(stderr.contains(create), "{stderr}");
    assert!(
        stderr.contains("plan: link the virtual proxy 'jwt' to the proxy service of"),
        "{stderr}"
    );

    let (code, _, stderr) = run(&mut site.apply(&[]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(create),
        "a real run says the plan's lines: {stderr}"
    );
    let writes = site.writes().len();
    assert!(writes >= 2, "{:?}", site.writes());

    let (code, stdout, stderr) = run(&mut site.apply(&["--dry-run"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["changes"],
        serde_json::json!([])
    );
    assert!(stderr.contains("nothing would change"), "{stderr}");

    let (code, stdout, stderr) = run(site
        .apply(&["--dry-run"])
        .args(["--audience", "other-audience"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(site.writes().len(), writes, "a dry run sends no PUT");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan["changes"][0]["field"], "jwtAudience");
    assert_eq!(plan["changes"][0]["old"], "qlik-jwt");
    assert_eq!(plan["changes"][0]["new"], "other-audience");
    assert!(
        stderr.contains("\"qlik-jwt\" -> \"other-audience\""),
        "{stderr}"
    );
}

/// Qlik requires each virtual proxy's session cookie header name unique: a new virtual proxy
/// whose X-Qlik-Session-<prefix> another one uses gets X-Qlik-Session-<prefix>-2.
#[test]
fn a_new_virtual_proxy_gets_a_session_cookie_header_no_other_uses() {
    let site = new_site();
    let mut other = header_virtual_proxy("sso");
    other["sessionCookieHeaderName"] = Value::from("X-Qlik-Session-jwt");
    site.server.add_virtual_proxy(other);
    let (code, stdout, stderr) = run(&mut site.apply(&[]));
    assert_eq!(code, 0, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(created["sessionCookieHeaderName"], "X-Qlik-Session-jwt-2");
    assert!(
        stderr.contains("the new one gets X-Qlik-Session-jwt-2"),
        "{stderr}"
    );
    assert!(!stderr.contains("run again"), "{stderr}");
}

/// Issue 26: setup-qseow --apply's --timeout bounds the reads of its files too: a FIFO that
/// nothing writes to as --qrs-key fails at --timeout 3s, naming the flag and the limit (it
/// waited for qs-jwt's own 30 s).
#[cfg(unix)]
#[test]
fn a_fifo_as_qrs_key_fails_at_the_timeout_naming_it() {
    let site = new_site();
    let status = common::command("mkfifo")
        .arg(site.path().join("fifo_key.pem"))
        .status()
        .unwrap();
    assert!(status.success());
    let (code, stdout, stderr) =
        run(&mut site.apply(&["--qrs-key", "fifo_key.pem", "--timeout", "3s"]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("--qrs-key 'fifo_key.pem'"), "{stderr}");
    assert!(stderr.contains("within 3s (--timeout)"), "{stderr}");
    assert!(stderr.contains("raise --timeout"), "{stderr}");
    assert!(site.writes().is_empty(), "{:?}", site.writes());
}
