//! The engine proof of login-qseow and login-qscloud against the stand-in engine behind the
//! proxy stand-ins (tests/it/common/engine.rs): the happy path step by step, and each refusal
//! in Qlik's terms with the one thing to change. Nothing here reaches the network.

use std::fs;

use assert_cmd::Command;
use serde_json::{Value, json};

use crate::common::engine::{App, ENGINE_VERSION};
use crate::common::qlik_server::Trust;
use crate::common::qrs_server::jwt_virtual_proxy;
use crate::common::site::{Site, SiteBuilder};
use crate::common::tenant::{Tenant, TenantBuilder};
use crate::common::{Create, fixture, fixture_text};

const AUDIENCE: &str = "qlik-jwt";
const APP: &str = "f3a1b2c4-0000-4000-8000-00000000a991";

/// A site whose virtual proxy 'jwt' takes the fixture key's tokens, linked, its host allow
/// list `allow`, and an app CORP\anna may read and one she may not.
fn site(allow: &[&str]) -> Site {
    let mut vp = jwt_virtual_proxy("jwt", AUDIENCE, &fixture_text("rsa2048-cert.pem"));
    vp["websocketCrossOriginWhiteList"] = json!(allow);
    let site = SiteBuilder::new().virtual_proxy(vp, true).start();
    site.server.with(|r| {
        r.apps = vec![
            App {
                id: APP.to_owned(),
                title: "Sales 2026".to_owned(),
                readers: vec!["UserDirectory=CORP; UserId=anna".to_owned()],
            },
            App {
                id: "secret-app".to_owned(),
                title: "Board only".to_owned(),
                readers: vec![],
            },
        ]
    });
    site
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let output = cmd.output().unwrap();
    let run = (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    );
    assert!(!run.2.contains("panicked"), "{}", run.2);
    run
}

fn json_of(stdout: &str) -> Value {
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str(stdout).unwrap()
}

#[test]
fn qseow_the_engine_is_proven_step_by_step_and_the_app_opens() {
    let site = site(&["127.0.0.1"]);
    let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, &["--app", APP]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for line in [
        format!("Engine:         proven, engine {ENGINE_VERSION}"),
        "App:            Sales 2026".to_owned(),
        "  ok   csrfToken         the session's CSRF token from /qps/csrftoken".to_owned(),
        "  ok   onConnected       OnConnected: SESSION_CREATED".to_owned(),
        "  ok   authenticatedUser the engine's user is 'UserDirectory=CORP; UserId=anna'"
            .to_owned(),
        format!("  ok   openDoc           opened '{APP}', titled 'Sales 2026'"),
        "Session:        ended (a probe leaves no session behind)".to_owned(),
    ] {
        assert!(stdout.contains(&line), "{line}\nin\n{stdout}");
    }
    // The WebSocket: the session cookie as a Cookie header, the CSRF token in the query, the
    // server's own origin, no Authorization header.
    let upgrade = site
        .server
        .proxy_requests()
        .into_iter()
        .find(|r| r.header("upgrade").is_some())
        .unwrap();
    assert!(
        upgrade
            .target
            .starts_with(&format!("/jwt/app/{APP}?qlik-csrf-token=")),
        "{}",
        upgrade.target
    );
    assert!(
        upgrade
            .header("cookie")
            .unwrap()
            .starts_with("X-Qlik-Session-jwt=")
    );
    assert_eq!(upgrade.header("origin"), Some(&*site.server.proxy_url()));
    assert_eq!(upgrade.header("authorization"), None);
    let counts = site.server.with(|r| r.counts);
    assert_eq!((counts.opened, counts.ended), (1, 1));
    // No secret on either stream.
    let csrf = upgrade.target.split_once('=').unwrap().1.to_owned();
    assert!(!stdout.contains(&csrf) && !stderr.contains(&csrf));

    let (code, stdout, _) = run(&mut site.login(AUDIENCE, &["--output", "json"]));
    assert_eq!(code, 0);
    let engine = &json_of(&stdout)["engine"];
    assert_eq!(engine["proven"], true);
    assert_eq!(engine["version"], ENGINE_VERSION);
    assert_eq!(engine["failedStep"], Value::Null);
    let steps: Vec<&str> = engine["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "csrfToken",
            "websocket",
            "onConnected",
            "authenticatedUser",
            "engineVersion"
        ]
    );
}

#[test]
fn qseow_an_origin_outside_the_host_allow_list_is_named_with_the_fix() {
    let site = site(&["qlik.example.com"]);
    let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, &[]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the virtual proxy made a session, but the engine refused it")
            && stderr.contains("HTTP 403")
            && stderr
                .contains("its host '127.0.0.1' is not in the virtual proxy's host allow list"),
        "{stderr}"
    );
    assert!(
        stdout.contains("fix: add '127.0.0.1' to the host allow list: qs-jwt setup-qseow --apply --allow-host 127.0.0.1"),
        "{stdout}"
    );
    // The session ends all the same.
    let counts = site.server.with(|r| r.counts);
    assert_eq!((counts.opened, counts.ended), (1, 1));
    // --origin: the name clients use, which the list holds.
    let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, &["--origin", "qlik.example.com"]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (code, stdout, _) = run(&mut site.login(AUDIENCE, &["--output", "json"]));
    assert_eq!(code, 1);
    let report = json_of(&stdout);
    assert_eq!(report["accepted"], true);
    assert_eq!(report["engine"]["failedStep"], "websocket");
    assert_eq!(report["engine"]["proven"], false);
}

/// A handshake that hangs until --timeout still leaves the probe time to end its session.
#[test]
fn a_hanging_engine_fails_within_the_timeout_and_the_session_still_ends() {
    let site = site(&["127.0.0.1"]);
    site.server.with(|r| r.engine_hangs = true);
    // 6s: the login and the CSRF token get 4.5s before the 1.5s held back for the end, room
    // enough on a loaded machine; the hang alone must use up the rest.
    let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, &["--timeout", "6s"]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("  FAIL websocket"), "{stdout}");
    assert!(
        stdout.contains("Session:        ended (a probe leaves no session behind)"),
        "{stdout}\n{stderr}"
    );
    let counts = site.server.with(|r| r.counts);
    assert_eq!((counts.opened, counts.ended), (1, 1), "{stderr}");
}

#[test]
fn an_origin_that_is_no_origin_is_a_usage_error_naming_the_flag() {
    let site = site(&["127.0.0.1"]);
    for (origin, said) in [
        ("https://", "no host"),
        ("qlik.example.com/hub", "no path"),
        ("ftp://qlik.example.com", "not ftp"),
    ] {
        let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, &["--origin", origin]));
        assert_eq!(code, 2, "{origin}: {stderr}");
        assert_eq!(stdout, "");
        assert!(
            stderr.contains(&format!("invalid value '{origin}' for '--origin <origin>'"))
                && stderr.contains(said),
            "{stderr}"
        );
    }
    assert!(site.server.proxy_requests().is_empty(), "nothing was sent");
}

#[test]
fn qseow_each_engine_refusal_is_said_in_qliks_terms() {
    type Knob = fn(&mut crate::common::qrs_server::Repository);
    let cases: [(&str, Knob, &[&str], &str, &str); 9] = [
        (
            "an engine that floods",
            |r| r.engine_floods = true,
            &[],
            "  FAIL onConnected       the engine at 127.0.0.1:",
            "sent a message larger than 1 MiB, far more than a proof needs, before OnConnected",
        ),
        (
            "a stale CSRF token",
            |r| r.stale_csrf_tokens = 1,
            &[],
            "HTTP 403",
            "with a CSRF token asked for again it opened: the first token was stale",
        ),
        (
            "an Authorization header",
            |_| {},
            &["--websocket-authorization"],
            "HTTP 403",
            "without the Authorization header the same handshake opened: QSEoW (November 2024 \
             and later) refuses an engine WebSocket that carries one",
        ),
        (
            "an Origin the list lacks",
            |_| {},
            &["--origin", "mashup.example.com"],
            "it opened: the Origin 'https://mashup.example.com' is refused, its host \
             'mashup.example.com' is not in the virtual proxy's host allow list",
            "fix: add 'mashup.example.com' to the host allow list: qs-jwt setup-qseow --apply \
             --allow-host mashup.example.com",
        ),
        (
            "a proxy node without the session",
            |r| r.engine_forgets_sessions = true,
            &[],
            "HTTP 401",
            "the proxy did not take the JWT session's cookie",
        ),
        (
            "no CSRF token",
            |r| r.no_csrf_endpoint = true,
            &[],
            "HTTP 403",
            "the CSRF token is missing",
        ),
        (
            "not linked",
            |r| r.engine_unlinked = true,
            &[],
            "HTTP 400",
            "the virtual proxy is not linked to the central proxy",
        ),
        (
            "no license",
            |r| r.engine_session_state = Some("SESSION_ERROR_NO_LICENSE".to_owned()),
            &[],
            "OnConnected: the user has no license",
            "SESSION_ERROR_NO_LICENSE",
        ),
        (
            "an app she may not open",
            |_| {},
            &["--app", "secret-app"],
            "OpenDoc 'secret-app' refused: error 5, Access denied",
            "fix: give the user read access to the app",
        ),
    ];
    for (what, knob, extra, said, words) in cases {
        let site = site(&["127.0.0.1"]);
        site.server.with(knob);
        let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, extra));
        assert_eq!(code, 1, "{what}: {stdout}\n{stderr}");
        let both = format!("{stdout}\n{stderr}");
        assert!(
            both.contains(said) && both.contains(words),
            "{what}: {both}"
        );
        let counts = site.server.with(|r| r.counts);
        assert_eq!((counts.opened, counts.ended), (1, 1), "{what}");
    }
}

#[test]
fn qseow_an_authorization_header_is_tried_away_and_the_jwt_not_shown() {
    let site = site(&["127.0.0.1"]);
    let (code, stdout, stderr) = run(&mut site.login(
        AUDIENCE,
        &[
            "--websocket-authorization",
            "--output",
            "json",
            "--loglevel",
            "debug",
        ],
    ));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let report = json_of(&stdout);
    assert_eq!(report["engine"]["failedStep"], "websocket");
    let upgrades: Vec<_> = site
        .server
        .proxy_requests()
        .into_iter()
        .filter(|r| r.header("upgrade").is_some())
        .collect();
    assert_eq!(
        upgrades.len(),
        2,
        "the handshake, then once without the header"
    );
    let token = fs::read_to_string(site.path().join("token.txt")).unwrap();
    assert_eq!(
        upgrades[0].header("authorization"),
        Some(format!("Bearer {}", token.trim()).as_str())
    );
    assert_eq!(upgrades[1].header("authorization"), None);
    assert_eq!(upgrades[0].target, upgrades[1].target);
    let signature = token.trim().rsplit('.').next().unwrap();
    assert!(
        !stdout.contains(signature) && !stderr.contains(signature),
        "{stderr}"
    );
    // Without the flag no such header is sent and the proof passes.
    let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, &[]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // It is a QSEoW flag: the engine must be proven.
    let (code, _, stderr) =
        run(&mut site.login(AUDIENCE, &["--websocket-authorization", "--no-engine"]));
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn qscloud_the_engine_is_proven_through_a_session_app() {
    let ((code, stdout, stderr), tenant) = qscloud_login(Trust::default(), &["--output", "json"]);
    let server = &tenant.server;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report = json_of(&stdout);
    assert_eq!(report["engine"]["proven"], true, "{stdout}");
    assert_eq!(report["engine"]["version"], ENGINE_VERSION);
    assert_eq!(report["session"], "ended");
    let upgrade = server
        .requests()
        .into_iter()
        .find(|r| r.header("upgrade").is_some())
        .unwrap();
    assert!(
        upgrade.target.starts_with("/app/SessionApp_"),
        "{}",
        upgrade.target
    );
    assert!(upgrade.target.contains("?qlik-csrf-token="));
    assert_eq!(upgrade.header("origin"), Some(&*server.url()));
    assert_eq!(upgrade.header("authorization"), None);
}

/// `login-qscloud` with a fresh JWT for anna against a Qlik Cloud stand-in with `trust`,
/// then `extra`; the run, and the stand-in.
fn qscloud_login(trust: Trust, extra: &[&str]) -> ((i32, String, String), Tenant) {
    let tenant = TenantBuilder::new().trust(trust).start();
    (qscloud_login_at(&tenant, extra), tenant)
}

/// `login-qscloud` with a fresh JWT for anna against `tenant`, then `extra`.
fn qscloud_login_at(tenant: &Tenant, extra: &[&str]) -> (i32, String, String) {
    run(&mut qscloud_login_command(tenant, extra))
}

/// The command [`qscloud_login_at`] runs.
fn qscloud_login_command(tenant: &Tenant, extra: &[&str]) -> Command {
    let token = Create::qscloud()
        .args(["--sub", "anna", "--username", "Anna"])
        .args([
            "--useremail",
            "anna@grusgrus.com",
            "--useremail-verified",
            "true",
        ])
        .key_file(fixture("rsa2048-pkcs8.pem"))
        .run_in(tenant.path())
        .output()
        .unwrap();
    assert!(token.status.success(), "{token:?}");
    fs::write(tenant.path().join("token.txt"), &token.stdout).unwrap();
    let mut cmd = tenant.command_without_api_key();
    cmd.arg("login-qscloud")
        .args(tenant.connection())
        .args(["--jwt-file", "token.txt"])
        .args(extra);
    cmd
}

#[test]
fn qscloud_each_engine_refusal_is_said_in_qliks_terms() {
    let app = |readers: Vec<String>| App {
        id: APP.to_owned(),
        title: "Sales 2026".to_owned(),
        readers,
    };
    let cases: [(&str, Trust, &[&str], &str, &str); 5] = [
        (
            "an Origin the tenant refuses",
            Trust::default(),
            &["--origin", "https://mashup.example.com"],
            "it opened: the Origin 'https://mashup.example.com' is refused",
            "fix: a page on 'https://mashup.example.com' reaches the engine through a web \
             integration that allows that origin",
        ),
        (
            "a stale CSRF token",
            Trust {
                stale_csrf_tokens: 1,
                ..Trust::default()
            },
            &[],
            "HTTP 403",
            "with a CSRF token asked for again it opened: the first token was stale",
        ),
        (
            "a session the engine does not know",
            Trust {
                engine_forgets_sessions: true,
                ..Trust::default()
            },
            &[],
            "HTTP 401",
            "the session is not accepted",
        ),
        (
            "too many sessions",
            Trust {
                engine_session_state: Some("SESSION_ERROR_LIMIT_EXCEEDED".to_owned()),
                ..Trust::default()
            },
            &[],
            "OnConnected:",
            "SESSION_ERROR_LIMIT_EXCEEDED",
        ),
        (
            "an app she may not open",
            Trust {
                apps: vec![app(vec![])],
                ..Trust::default()
            },
            &["--app", APP],
            "refused: error 5, Access denied",
            "fix: give the user read access to the app",
        ),
    ];
    for (what, trust, extra, said, words) in cases {
        let ((code, stdout, stderr), tenant) = qscloud_login(trust, extra);
        let server = &tenant.server;
        assert_eq!(code, 1, "{what}: {stdout}\n{stderr}");
        let both = format!("{stdout}\n{stderr}");
        assert!(
            both.contains("Qlik Cloud made a session, but the engine refused it")
                && both.contains(said)
                && both.contains(words),
            "{what}: {both}"
        );
        let counts = server.sessions();
        assert_eq!((counts.opened, counts.ended), (1, 1), "{what}");
    }
    // The Origin the tenant takes, and the app a reader opens, pass.
    let ((code, stdout, stderr), tenant) = qscloud_login(Trust::default(), &["--output", "json"]);
    let server = &tenant.server;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let user = json_of(&stdout)["engine"]["user"]
        .as_str()
        .unwrap()
        .to_owned();
    server.set_apps(vec![app(vec![user])]);
    let (code, stdout, stderr) = qscloud_login_at(&tenant, &["--app", APP]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("titled 'Sales 2026'"), "{stdout}");
}

/// An OAuth access token as the tenant stand-in issues one (oauth-qscloud's), for `user_id`,
/// signed with `key`.
fn access_token(user_id: &str, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"sub": "anna", "userId": user_id, "client_id": "0123456789abcdef",
                            "scope": "user_default", "iat": crate::common::now(),
                            "exp": crate::common::now() + 21_600}),
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .unwrap()
}

/// `login-qscloud --access-token-file` with `token` in a file, against `tenant`.
fn login_with_access_token(tenant: &Tenant, token: &str, extra: &[&str]) -> (i32, String, String) {
    fs::write(tenant.path().join("access-token.txt"), format!("{token}\n")).unwrap();
    let mut cmd = tenant.command_without_api_key();
    cmd.arg("login-qscloud")
        .args(tenant.connection())
        .args([
            "--access-token-file",
            "access-token.txt",
            "--loglevel",
            "debug",
        ])
        .args(extra);
    run(&mut cmd)
}

#[test]
fn qscloud_an_oauth_access_token_proves_the_engine_as_a_bearer() {
    let tenant = TenantBuilder::new().start();
    let server = &tenant.server;
    let token = access_token(
        "64d0f0a7a1b2c3d4e5f60718",
        crate::common::oauth_server::TENANT_KEY,
    );
    let (code, stdout, stderr) = login_with_access_token(&tenant, &token, &["--output", "json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report = json_of(&stdout);
    assert_eq!(report["accepted"], true, "{stdout}");
    assert_eq!(report["engine"]["proven"], true, "{stdout}");
    assert_eq!(report["engine"]["version"], ENGINE_VERSION);
    assert_eq!(
        report["session"],
        serde_json::Value::Null,
        "no session is made"
    );
    assert_eq!(report["cookies"], serde_json::json!([]));
    assert!(
        stdout.contains("the engine's user is '64d0f0a7a1b2c3d4e5f60718'"),
        "{stdout}"
    );
    // No JWT login; the WebSocket carried the access token as the bearer, and no cookie.
    let requests = server.requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.target.starts_with("/login/jwt-session"))
    );
    let upgrade = requests
        .iter()
        .find(|r| r.header("upgrade").is_some())
        .unwrap();
    assert_eq!(
        upgrade.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(upgrade.header("cookie"), None);
    assert!(upgrade.target.contains("?qlik-csrf-token="));
    // The token is a secret: not shown, not logged, even at debug.
    let secret = token.rsplit('.').next().unwrap();
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "{stderr}"
    );

    let (code, stdout, stderr) = login_with_access_token(&tenant, &token, &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("Accepted: Qlik Cloud took the access token at ")
            && stdout.contains("Engine:         proven, engine 12.2044.0")
            && !stdout.contains("User:")
            && !stdout.contains("Session:"),
        "{stdout}"
    );
}

#[test]
fn qscloud_an_access_token_qlik_refuses_is_said_and_not_shown() {
    let tenant = TenantBuilder::new().start();
    let server = &tenant.server;
    let token = access_token("64d0f0a7a1b2c3d4e5f60718", b"another tenant's key");
    let (code, stdout, stderr) = login_with_access_token(&tenant, &token, &[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("error: Qlik Cloud rejected the token: HTTP 401")
            && stderr.contains("hint: Qlik Cloud takes an access token for six hours at most"),
        "{stderr}"
    );
    let secret = token.rsplit('.').next().unwrap();
    assert!(!stderr.contains(secret), "{stderr}");
    assert!(
        !server
            .requests()
            .iter()
            .any(|r| r.header("upgrade").is_some()),
        "no WebSocket after a refusal"
    );
    // What makes no sense without a session is a usage error.
    for extra in [
        &["--no-engine"][..],
        &["--cookie-jar", "jar.txt"],
        &["--output", "session"],
    ] {
        let (code, _, stderr) = login_with_access_token(&tenant, &token, extra);
        assert_eq!(code, 2, "{extra:?}: {stderr}");
    }
}

/// `--output session` for the site; the bundle (stdout) and stderr.
fn session_bundle(site: &Site) -> (String, String) {
    let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, &["--output", "session"]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn output_session_is_one_object_a_client_opens_the_engine_with_and_the_session_stays() {
    let site = site(&["127.0.0.1"]);
    let (stdout, stderr) = session_bundle(&site);
    let bundle = json_of(&stdout);
    let url = bundle["websocketUrl"].as_str().unwrap();
    let prefix = format!(
        "wss://{}/jwt/app/engineData?qlik-csrf-token=",
        site.server.proxy_url().trim_start_matches("https://")
    );
    assert!(url.starts_with(&prefix), "{url}");
    assert_eq!(&url[prefix.len()..], bundle["csrfToken"].as_str().unwrap());
    assert!(
        bundle["cookie"]
            .as_str()
            .unwrap()
            .starts_with("X-Qlik-Session-jwt=")
    );
    assert_eq!(bundle["origin"], site.server.proxy_url());
    assert!(bundle["ends"].as_str().unwrap().contains("inactivity"));
    // Nothing of it is logged, and the session is kept open for the client.
    for secret in [
        bundle["cookie"].as_str().unwrap(),
        bundle["csrfToken"].as_str().unwrap(),
    ] {
        let value = secret.rsplit('=').next().unwrap();
        assert!(!stderr.contains(value), "{stderr}");
    }
    let counts = site.server.with(|r| r.counts);
    assert_eq!((counts.opened, counts.ended), (1, 0));
    // The CSRF token the proof's WebSocket carried is the bundle's: Qlik is asked once.
    let asked = site
        .server
        .proxy_requests()
        .iter()
        .filter(|r| r.target.contains("/qps/csrftoken"))
        .count();
    assert_eq!(asked, 1);

    // The docs' clients, as written, open the engine with it.
    let root = site.path().join("root.pem");
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    if crate::common::skip::require_python_module("websockets") {
        let (stdout, _) = session_bundle(&site);
        let mut python = crate::common::command("python3");
        python
            .arg(examples.join("engine-session.py"))
            .env("QLIK_CA", &root)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let output = piped(python, &stdout);
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "UserDirectory=CORP; UserId=anna"
        );
    }
    if let Some(node_tools) = crate::common::skip::require_node_module("enigma.js") {
        let (stdout, _) = session_bundle(&site);
        let mut node = crate::common::command("node");
        node.arg(examples.join("engine-session.js"))
            .env("QLIK_CA", &root)
            .env("NODE_PATH", node_tools.join("node_modules"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let output = piped(node, &stdout);
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "UserDirectory=CORP; UserId=anna"
        );
    }
}

/// A bundle that never reaches standard output leaves a session nobody holds: the run ends
/// it, exits 1 and says so, on both platforms; with --cookie-jar the jar keeps it.
#[cfg(unix)]
#[test]
fn a_session_bundle_that_cannot_be_written_ends_the_session_and_says_so() {
    // `cmd`'s words, run with standard output on /dev/full (a full disk).
    fn to_full_disk(cmd: &Command, dir: &std::path::Path) -> (i32, String) {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let output = crate::common::command(env!("CARGO_BIN_EXE_qs-jwt"))
            .args(cmd.get_args())
            .current_dir(dir)
            .stdout(full)
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
    let said = "error: the session bundle was not delivered: cannot write to standard output";

    let site = site(&["127.0.0.1"]);
    let (code, stderr) = to_full_disk(&site.login(AUDIENCE, &["--output", "session"]), site.path());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(said), "{stderr}");
    assert!(
        stderr.contains("the session it opened was ended, as nobody received it"),
        "{stderr}"
    );
    assert!(stderr.contains("SESSION=$(qs-jwt ...)"), "{stderr}");
    let counts = site.server.with(|r| r.counts);
    assert_eq!((counts.opened, counts.ended), (1, 1), "{stderr}");

    let kept = site.login(
        AUDIENCE,
        &["--output", "session", "--cookie-jar", "jar.txt"],
    );
    let (code, stderr) = to_full_disk(&kept, site.path());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("the session stays open, kept by --cookie-jar"),
        "{stderr}"
    );
    let counts = site.server.with(|r| r.counts);
    assert_eq!((counts.opened, counts.ended), (2, 1), "{stderr}");

    let tenant = TenantBuilder::new().start();
    let login = qscloud_login_command(&tenant, &["--output", "session"]);
    let (code, stderr) = to_full_disk(&login, tenant.path());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(said), "{stderr}");
    assert!(
        stderr.contains("was ended, as nobody received it"),
        "{stderr}"
    );
    let counts = tenant.server.sessions();
    assert_eq!((counts.opened, counts.ended), (1, 1), "{stderr}");
}

#[test]
fn qscloud_output_session_is_a_session_app_a_client_opens_and_the_session_stays() {
    let ((code, stdout, stderr), tenant) =
        qscloud_login(Trust::default(), &["--output", "session"]);
    let server = &tenant.server;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let bundle = json_of(&stdout);
    let url = bundle["websocketUrl"].as_str().unwrap();
    let prefix = format!(
        "wss://{}/app/SessionApp_",
        server.url().trim_start_matches("https://")
    );
    assert!(url.starts_with(&prefix), "{url}");
    assert!(
        url.ends_with(&format!(
            "?qlik-csrf-token={}",
            bundle["csrfToken"].as_str().unwrap()
        )),
        "{url}"
    );
    assert!(bundle["cookie"].as_str().unwrap().contains("eas.sid="));
    assert_eq!(bundle["origin"], server.url());
    assert!(
        bundle["ends"]
            .as_str()
            .unwrap()
            .contains("tenant's session timeout")
    );
    // Nothing of it logged; the session kept; the CSRF token asked for once, by the proof.
    let sid = bundle["cookie"]
        .as_str()
        .unwrap()
        .split("eas.sid=")
        .nth(1)
        .unwrap();
    let sid = sid.split(';').next().unwrap();
    assert!(!stderr.contains(sid), "{stderr}");
    let counts = server.sessions();
    assert_eq!((counts.opened, counts.ended), (1, 0));
    let asked = server
        .requests()
        .iter()
        .filter(|r| r.target.starts_with("/api/v1/csrf-token"))
        .count();
    assert_eq!(asked, 1);
    // The docs' Python client opens the engine with it.
    if crate::common::skip::require_python_module("websockets") {
        let ca = tenant.path().join("ca.pem");
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut python = crate::common::command("python3");
        python
            .arg(examples.join("engine-session.py"))
            .env("QLIK_CA", &ca)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let output = piped(python, &stdout);
        assert!(output.status.success(), "{output:?}");
        let user = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        assert_eq!(user.len(), 24, "the tenant's user id: {user}");
    }
}

/// `--output session` hands over only a session the engine took: when the proof fails, the
/// probe ends the session it made, prints nothing on stdout and says why.
#[test]
fn output_session_with_a_refused_engine_prints_nothing_and_ends_the_session() {
    let site = site(&["qlik.example.com"]);
    let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, &["--output", "session"]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("error: the virtual proxy made a session, but the engine refused it")
            && stderr.contains("HTTP 403"),
        "{stderr}"
    );
    let counts = site.server.with(|r| r.counts);
    assert_eq!((counts.opened, counts.ended), (1, 1));

    let ((code, stdout, stderr), tenant) = qscloud_login(
        Trust {
            engine_session_state: Some("SESSION_ERROR_NO_LICENSE".to_owned()),
            ..Trust::default()
        },
        &["--output", "session"],
    );
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(stdout, "");
    let counts = tenant.server.sessions();
    assert_eq!((counts.opened, counts.ended), (1, 1));
}

fn piped(mut command: std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_docs_show_the_session_clients_as_the_tests_run_them() {
    let docs = fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/qlik-setup.md"),
    )
    .unwrap();
    for file in ["engine-session.py", "engine-session.js"] {
        let text = fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .join(file),
        )
        .unwrap();
        assert!(
            docs.contains(&text),
            "docs/qlik-setup.md lacks examples/{file} as it is"
        );
    }
}

/// Not a test: the stand-in site of `ONLY=engine scripts/bench.sh`, which measures login-qseow's
/// engine proof beside enigma.js's JWT example. It writes `url` (the virtual proxy, prefix
/// included), `ca.pem`, `key.pem` and `audience` into $QS_JWT_BENCH_DIR, serves until a file
/// `stop` appears there (at most 10 minutes), and then checks every session was ended.
#[test]
#[ignore = "a stand-in for scripts/bench.sh, run with ONLY=engine"]
fn bench_stand_in() {
    let dir = std::path::PathBuf::from(
        std::env::var_os("QS_JWT_BENCH_DIR").expect("QS_JWT_BENCH_DIR names the bench's folder"),
    );
    let site = site(&["127.0.0.1"]);
    fs::copy(site.path().join("root.pem"), dir.join("ca.pem")).unwrap();
    fs::copy(fixture("rsa2048-pkcs8.pem"), dir.join("key.pem")).unwrap();
    fs::write(dir.join("audience"), AUDIENCE).unwrap();
    // The URL last: the bench waits for it.
    fs::write(
        dir.join("url.tmp"),
        format!("{}/jwt", site.server.proxy_url()),
    )
    .unwrap();
    fs::rename(dir.join("url.tmp"), dir.join("url")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while !dir.join("stop").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let counts = site.server.with(|r| r.counts);
    eprintln!(
        "stand-in: {} sessions opened, {} ended",
        counts.opened, counts.ended
    );
    assert_eq!(counts.opened, counts.ended, "a client left a session open");
}

/// Every secret the proxy stand-in saw (the session's cookie values, the CSRF tokens the
/// WebSockets carried, the JWT's signature): none may reach any line qs-jwt writes.
fn secrets_seen(site: &Site) -> Vec<String> {
    let mut secrets = Vec::new();
    for request in site.server.proxy_requests() {
        if let Some(cookie) = request.header("cookie") {
            for pair in cookie.split(';') {
                if let Some((_, value)) = pair.split_once('=')
                    && value.trim().len() >= 8
                {
                    secrets.push(value.trim().to_owned());
                }
            }
        }
        if let Some((_, token)) = request.target.split_once("qlik-csrf-token=") {
            secrets.push(token.split('&').next().unwrap().to_owned());
        }
    }
    let token = fs::read_to_string(site.path().join("token.txt")).unwrap();
    secrets.push(token.trim().rsplit('.').next().unwrap().to_owned());
    secrets
}

#[test]
fn no_secret_of_the_403_retries_reaches_any_line_at_debug() {
    for (knob, extra) in [
        (0, &["--websocket-authorization"][..]),
        (1, &["--origin", "mashup.example.com"][..]),
        (
            5,
            &[
                "--websocket-authorization",
                "--origin",
                "mashup.example.com",
            ][..],
        ),
    ] {
        for output in ["text", "json"] {
            let site = site(&["127.0.0.1"]);
            site.server.with(|r| r.stale_csrf_tokens = knob);
            let mut args = extra.to_vec();
            args.extend(["--loglevel", "debug", "--output", output]);
            let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, &args));
            assert_eq!(code, 1, "{args:?}: {stdout}\n{stderr}");
            let secrets = secrets_seen(&site);
            assert!(secrets.len() >= 3, "{secrets:?}");
            for secret in secrets {
                assert!(
                    !stdout.contains(&secret) && !stderr.contains(&secret),
                    "{args:?}: '{secret}' shown:\n{stdout}\n{stderr}"
                );
            }
        }
    }
}

#[test]
fn a_csrf_token_stale_every_time_is_not_blamed_on_the_allow_list() {
    let site = site(&["127.0.0.1"]);
    site.server.with(|r| r.stale_csrf_tokens = 100);
    let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, &[]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let both = format!("{stdout}\n{stderr}");
    assert!(both.contains("HTTP 403"), "{both}");
    assert!(
        !both.contains("is not in the virtual proxy's host allow list")
            && !both.contains("add '127.0.0.1' to the host allow list"),
        "the list holds 127.0.0.1; the cause is the CSRF token: {both}"
    );
    assert!(
        both.contains("/qps/csrftoken gave another token when asked again"),
        "{both}"
    );
}

#[test]
fn an_origin_whose_host_is_no_host_is_a_usage_error() {
    let site = site(&["127.0.0.1"]);
    let mut taken = Vec::new();
    for origin in [
        "https://::1",
        "qlik.example.com:+443",
        "https://[::1]junk",
        "qlik.example.com:8443:1",
        "https://bücher.example.com",
    ] {
        let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, &["--origin", origin]));
        if code != 2
            || !stderr.contains(&format!("invalid value '{origin}' for '--origin <origin>'"))
        {
            taken.push(format!("{origin} (exit {code}): {stdout}\n{stderr}"));
        }
    }
    assert!(taken.is_empty(), "{}", taken.join("\n\n"));
    assert!(site.server.proxy_requests().is_empty(), "nothing was sent");
}

#[test]
fn an_origin_with_its_schemes_default_port_is_sent_as_a_browser_sends_it() {
    let site = site(&["qlik.example.com"]);
    for (given, sent) in [
        ("https://qlik.example.com:443", "https://qlik.example.com"),
        ("HTTPS://QLIK.example.com:443/", "https://qlik.example.com"),
        ("http://qlik.example.com:80", "http://qlik.example.com"),
    ] {
        let before = site.server.proxy_requests().len();
        let (code, stdout, stderr) = run(&mut site.login(AUDIENCE, &["--origin", given]));
        assert_eq!(code, 0, "{given}: {stdout}\n{stderr}");
        let origins: Vec<String> = site.server.proxy_requests()[before..]
            .iter()
            .filter(|r| r.header("upgrade").is_some())
            .filter_map(|r| r.header("origin").map(str::to_owned))
            .collect();
        assert_eq!(origins, [sent], "{given}");
    }
}
