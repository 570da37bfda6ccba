//! setup-qseow --apply against the local stand-in for a QSEoW site's repository API and proxy
//! (tests/common/qrs_server.rs: HTTPS on 127.0.0.1, a client certificate from its test CA).
//! Nothing here reaches the network.

mod common;

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};

use common::qrs_server::{
    NODE_ID, PROXY_SERVICE_ID, QrsServer, foreign_client_certificate, jwt_virtual_proxy,
    other_jwt_certificate,
};
use common::{Create, error_lines, fails_cleanly, fixture, fixture_text, qs_jwt};

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

const AUDIENCE: &str = "qlik-jwt";

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

    /// `setup-qseow --audience qlik-jwt --cert-publickey-file publickey.cer --apply --qrs
    /// <stand-in> --qrs-cert client.pem --qrs-key client_key.pem --cacert root.pem`, then `more`.
    fn apply(&self, more: &[&str]) -> Command {
        let mut cmd = qs_jwt(self.path());
        for name in PROXY_VARIABLES {
            cmd.env_remove(name);
        }
        cmd.args([
            "setup-qseow",
            "--audience",
            AUDIENCE,
            "--cert-publickey-file",
            "publickey.cer",
            "--apply",
            "--qrs",
            &self.server.qrs_url(),
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

    /// The PUT and POST requests the repository received.
    fn writes(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" || r.method == "POST")
            .map(|r| format!("{} {}", r.method, r.target.split('?').next().unwrap()))
            .collect()
    }
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
    let site = Site::new();
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
    let site = Site::new();
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
    let site = Site::new();
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
    let site = Site::new();
    let mut by_hand = jwt_virtual_proxy("jwt", "old-audience", "not a certificate");
    by_hand["description"] = json!("the admin's words");
    by_hand["sessionInactivityTimeout"] = json!(90);
    by_hand["authenticationMethod"] = json!(0);
    by_hand["websocketCrossOriginWhiteList"] = json!(["kept.example.com"]);
    by_hand["loadBalancingServerNodes"] = json!([]);
    let id = site.server.add_virtual_proxy(by_hand);
    site.server.link(&id);
    site.server.add_engine_node("rim-1-id", "rim1");
    let output = site
        .apply(&[
            "--allow-host",
            "kept.example.com",
            "--allow-host",
            "new.example.com",
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
    let site = Site::new();
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
    let site = Site::new();
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
    let site = Site::new();
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
    let site = Site::new();
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
    let site = Site::new();
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
    let site = Site::new();
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
    let site = Site::new();
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
    let site = Site::new();
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

/// The token of `create-qseow --userdir CORP --userid anna --audience qlik-jwt`, signed by the
/// fixture key, sent by login-qseow through the stand-in's proxy at `/jwt`.
fn login(site: &Site) -> std::process::Output {
    let token = Create::qseow()
        .args([
            "--audience",
            AUDIENCE,
            "--userdir",
            "CORP",
            "--userid",
            "anna",
        ])
        .key_file(fixture("rsa2048-pkcs8.pem"))
        .run_in(site.path())
        .output()
        .unwrap();
    assert!(token.status.success());
    let mut cmd = qs_jwt(site.path());
    for name in PROXY_VARIABLES {
        cmd.env_remove(name);
    }
    cmd.args([
        "login-qseow",
        "--server",
        &format!("{}/jwt", site.server.proxy_url()),
        "--jwt-file",
        "-",
        "--cacert",
        "root.pem",
        "--loglevel",
        "debug",
    ])
    .write_stdin(token.stdout)
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
        let site = Site::new();
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
    let site = Site::new();
    let id = site.server.add_virtual_proxy(whole);
    site.server.link(&id);
    let output = login(&site);
    assert!(output.status.success(), "{}", stderr(&output));
}

/// The end to end walk: before --apply, the proxy has no virtual proxy for the token; after
/// it, create-qseow and login-qseow make a session.
#[test]
fn login_qseow_succeeds_only_after_apply() {
    let site = Site::new();
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
    let site = Site::new();
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
    let site = Site::new();
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
    let site = Site::new();
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

/// The repository client's public calls, as doctor-qseow will use them, against the stand-in.
#[test]
fn the_repository_client_reads_the_site() {
    use qs_jwt::http::{Client, ClientCertificate, ClientOptions, Server};
    use qs_jwt::qlik::qrs::{self, DEFAULT_QRS_USER, Repository};
    use qs_jwt::secret::SecretText;

    let site = Site::new();
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
    assert!(qrs::repository_about(&repository).unwrap()["buildVersion"].is_string());
    let found = qrs::virtual_proxies_by_prefix(&repository, "jwt").unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].is_jwt());
    assert_eq!(found[0].id, id);
    assert_eq!(found[0].jwt_audience.as_deref(), Some(AUDIENCE));
    assert_eq!(found[0].load_balancing_nodes, [NODE_ID]);
    assert!(
        qrs::virtual_proxies_by_prefix(&repository, "other")
            .unwrap()
            .is_empty()
    );
    let services = qrs::proxy_services(&repository).unwrap();
    assert_eq!(services.len(), 1);
    assert!(!services[0].links(&id));
    assert_eq!(services[0].shown(), "central");
    let linked = qrs::link_virtual_proxy(&repository, &services[0], &id).unwrap();
    assert!(linked.links(&id));
    let engines: Vec<String> = qrs::engine_nodes(&repository)
        .unwrap()
        .iter()
        .map(|n| n.id.clone())
        .collect();
    assert_eq!(engines, [NODE_ID, "rim-1-id"]);
    assert_eq!(qrs::server_nodes(&repository).unwrap().len(), 2);
    // A stale modifiedDate: 409, in words.
    let mut stale = found[0].json.clone();
    stale["modifiedDate"] = json!("2000-01-01T00:00:00.000Z");
    let failure = qrs::update_virtual_proxy(&repository, &stale).unwrap_err();
    let text = failure
        .into_user_error("update it", &repository)
        .to_string();
    assert!(text.contains("HTTP 409"), "{text}");
}

#[test]
fn replacing_another_jwt_certificate_is_warned_about() {
    let site = Site::new();
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
    let site = Site::new();
    let mut vp = jwt_virtual_proxy("jwt", AUDIENCE, "");
    vp["authenticationMethod"] = json!(0);
    let id = site.server.add_virtual_proxy(vp);
    site.server.link(&id);
    let output = site.apply(&[]).output().unwrap();
    stdout_json(&output);
    assert!(!stderr(&output).contains("replaced"), "{}", stderr(&output));
}
