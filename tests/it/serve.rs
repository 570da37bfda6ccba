//! serve-qseow, serve-qscloud and serve-qscloud-oauth, started as a developer starts them
//! (`--port 0`, the URL read from standard output) and asked as a page asks: a preflight,
//! allowed and refused origins and users, the token verified, the OAuth stand-in asked once a
//! user while the token is fresh, SIGTERM ending the server with exit 0. Unix only: the end is
//! a SIGTERM.
#![cfg(unix)]

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

use serde_json::{Value, json};

use crate::common::oauth_server::{OauthClient, OauthConfig};
use crate::common::qlik_server::{Behaviour, QlikServer, Trust};
use crate::common::{
    PROXY_VARIABLES, QLIK_CLOUD_AUDIENCE, decode_parts, fixture, fixture_text,
    verify_with_public_key,
};

const PAGE: &str = "http://localhost:5173";
const CLIENT_ID: &str = "0123456789abcdef0123456789abcdef";
const SECRET: &str = "s3cr3t-client-secret-value-of-qlik";

/// A running server: its URL, and its standard error read to the end on a thread.
struct Served {
    child: Child,
    url: String,
    stderr: Option<JoinHandle<String>>,
}

fn start(dir: &Path, args: &[&str]) -> Served {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("qs-jwt"));
    cmd.current_dir(dir)
        .env_remove("QSJWTPRIVKEY")
        .env_remove("QLIK_CLIENT_SECRET")
        .args(args)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in PROXY_VARIABLES {
        cmd.env_remove(name);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("http://127.0.0.1:") && line.ends_with('\n'),
        "stdout: {line:?}"
    );
    Served {
        child,
        url: line.trim().to_owned(),
        stderr: Some(stderr),
    }
}

impl Served {
    /// SIGTERM; the exit code and everything on standard error.
    fn stop(mut self) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let code = self.child.wait().unwrap().code();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        (code, stderr)
    }

    fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer: status, headers by lower-case name, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

/// A request as a page's fetch makes it: the method, the path, the Origin (if any) and a body.
fn ask(url: &str, method: &str, path: &str, origin: Option<&str>, body: Option<&str>) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let target = format!("{url}{path}");
    let mut response = match method {
        "GET" => {
            let mut request = agent.get(&target);
            if let Some(origin) = origin {
                request = request.header("Origin", origin);
            }
            request.call()
        }
        "OPTIONS" => {
            let mut request = agent
                .options(&target)
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "content-type");
            if let Some(origin) = origin {
                request = request.header("Origin", origin);
            }
            request.call()
        }
        _ => {
            let mut request = agent
                .post(&target)
                .header("Content-Type", "application/json");
            if let Some(origin) = origin {
                request = request.header("Origin", origin);
            }
            request.send(body.unwrap_or_default())
        }
    }
    .unwrap();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Answer {
        status: response.status().as_u16(),
        headers,
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn qseow(dir: &Path, extra: &[&str]) -> Served {
    let key = fixture("rsa2048-pkcs8.pem");
    let mut args = vec![
        "serve-qseow",
        "--userdir",
        "ACME",
        "--audience",
        "test-audience",
        "--cert-privatekey-file",
        key.to_str().unwrap(),
        "--origin",
        PAGE,
    ];
    args.extend_from_slice(extra);
    start(dir, &args)
}

#[test]
fn a_page_of_an_allowed_origin_gets_an_allowed_users_token_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let served = qseow(dir.path(), &["--user", "anna"]);
    let url = served.url.clone();

    let health = ask(&url, "GET", "/health", None, None);
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );

    let preflight = ask(&url, "OPTIONS", "/token", Some(PAGE), None);
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some(PAGE));
    assert_eq!(
        preflight.header("access-control-allow-credentials"),
        Some("true")
    );
    assert!(
        preflight
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("POST"))
    );

    let answer = ask(
        &url,
        "POST",
        "/token",
        Some(PAGE),
        Some(r#"{"user": "anna"}"#),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("access-control-allow-origin"), Some(PAGE));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let token = answer.json()["token"].as_str().unwrap().to_owned();
    verify_with_public_key(&token, &fixture_text("rsa2048-public.pem"), "test-audience");
    let (_, payload) = decode_parts(&token);
    assert_eq!(payload["userId"], "anna");
    assert_eq!(payload["userDirectory"], "ACME");

    // The same user from the query, the token alone as text.
    let text = ask(&url, "POST", "/access-token?user=anna", Some(PAGE), None);
    assert_eq!(text.status, 200);
    assert_eq!(decode_parts(&text.body).1["userId"], "anna");

    // Another origin: refused, and told nothing a browser would let it read.
    let refused = ask(
        &url,
        "POST",
        "/token",
        Some("http://evil.example"),
        Some(r#"{"user": "anna"}"#),
    );
    assert_eq!(refused.status, 403);
    assert!(refused.header("access-control-allow-origin").is_none());
    assert!(!refused.body.contains("eyJ"));
    assert!(
        refused.json()["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("http://evil.example")
    );
    let refused_preflight = ask(&url, "OPTIONS", "/token", Some("http://evil.example"), None);
    assert_eq!(refused_preflight.status, 403);
    assert!(
        refused_preflight
            .header("access-control-allow-origin")
            .is_none()
    );

    // A user not allowed, no user, a body too large.
    let stranger = ask(
        &url,
        "POST",
        "/token",
        Some(PAGE),
        Some(r#"{"user": "ben"}"#),
    );
    assert_eq!(stranger.status, 403);
    assert!(
        stranger.json()["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--user")
    );
    assert_eq!(
        ask(&url, "POST", "/token", Some(PAGE), Some("{}")).status,
        400
    );
    let big = format!(r#"{{"user": "anna", "pad": "{}"}}"#, "x".repeat(20 * 1024));
    let too_large = ask(&url, "POST", "/token", Some(PAGE), Some(&big));
    assert_eq!(too_large.status, 413);
    assert!(too_large.json()["error"]["detail"].is_string());

    let (code, stderr) = served.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("POST /token 200 for user anna"), "{stderr}");
    assert!(
        !stderr.contains(&token) && !stderr.contains("eyJ"),
        "{stderr}"
    );
}

#[test]
fn a_host_other_than_loopback_is_refused_against_dns_rebinding() {
    let dir = tempfile::tempdir().unwrap();
    let served = qseow(dir.path(), &["--user", "anna"]);
    let mut stream = TcpStream::connect(("127.0.0.1", served.port())).unwrap();
    write!(
        stream,
        "POST /token?user=anna HTTP/1.1\r\nHost: rebound.example:{}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n",
        served.port()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(!answer.contains("eyJ"), "{answer}");
}

#[test]
fn a_qlik_cloud_jwt_carries_the_users_file_groups() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("users.csv"),
        "sub,name,groups\nanna,Anna Anderson,sales;emea\n",
    )
    .unwrap();
    let key = fixture("rsa2048-pkcs8.pem");
    let served = start(
        dir.path(),
        &[
            "serve-qscloud",
            "--issuer",
            "mytenant.example",
            "--keyid",
            "my-key",
            "--cert-privatekey-file",
            key.to_str().unwrap(),
            "--users",
            "users.csv",
            "--groups",
            "everyone",
            "--origin",
            PAGE,
        ],
    );
    let answer = ask(
        &served.url,
        "POST",
        "/token",
        Some(PAGE),
        Some(r#"{"user": "anna"}"#),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = answer.json()["token"].as_str().unwrap().to_owned();
    verify_with_public_key(
        &token,
        &fixture_text("rsa2048-public.pem"),
        QLIK_CLOUD_AUDIENCE,
    );
    let (header, payload) = decode_parts(&token);
    assert_eq!(header["kid"], "my-key");
    assert_eq!(payload["sub"], "anna");
    assert_eq!(payload["name"], "Anna Anderson");
    assert_eq!(payload["groups"], json!(["everyone", "sales", "emea"]));
    let other = ask(
        &served.url,
        "POST",
        "/token",
        Some(PAGE),
        Some(r#"{"user": "ben"}"#),
    );
    assert_eq!(other.status, 403);
    assert_eq!(served.stop().0, Some(0));
}

#[test]
fn an_address_others_reach_needs_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::common::qs_jwt(dir.path())
        .args([
            "serve-qseow",
            "--userdir",
            "ACME",
            "--audience",
            "a",
            "--user",
            "anna",
        ])
        .args(["--cert-privatekey-file"])
        .arg(fixture("rsa2048-pkcs8.pem"))
        .args(["--listen", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--listen 0.0.0.0") && stderr.contains("--allow-remote"),
        "{stderr}"
    );
    // No user allowed at all is a usage error too.
    let out = crate::common::qs_jwt(dir.path())
        .args(["serve-qseow", "--userdir", "ACME", "--audience", "a"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A tenant stand-in whose OAuth client has a secret and may impersonate anna.
fn tenant() -> (QlikServer, tempfile::TempDir) {
    let config = OauthConfig {
        clients: vec![OauthClient {
            id: CLIENT_ID.to_owned(),
            secret: Some(SECRET.to_owned()),
            impersonation: true,
            ..OauthClient::default()
        }],
        users: vec![("anna", "64d0f0a7a1b2c3d4e5f60718")],
        ..OauthConfig::default()
    };
    let server = QlikServer::start_with(
        Behaviour::QlikCloud,
        Trust {
            oauth: config,
            ..Trust::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("ca.pem"), &server.ca_pem).unwrap();
    fs::write(dir.path().join("secret.txt"), format!("{SECRET}\n")).unwrap();
    (server, dir)
}

#[test]
fn an_impersonation_token_is_asked_of_qlik_once_a_user_while_fresh() {
    let (tenant, dir) = tenant();
    let served = start(
        dir.path(),
        &[
            "serve-qscloud-oauth",
            "--tenant",
            &tenant.url(),
            "--cacert",
            "ca.pem",
            "--client-id",
            CLIENT_ID,
            "--client-secret-file",
            "secret.txt",
            "--user",
            "anna",
            "--user",
            "nobody-in-the-tenant",
            "--origin",
            PAGE,
        ],
    );
    let token_requests = || {
        tenant
            .requests()
            .iter()
            .filter(|r| r.target.starts_with("/oauth/token"))
            .count()
    };
    let first = ask(
        &served.url,
        "POST",
        "/access-token",
        Some(PAGE),
        Some(r#"{"user": "anna"}"#),
    );
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(
        first
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let (_, payload) = decode_parts(&first.body);
    assert_eq!(payload["sub"], "anna", "{payload}");
    let again = ask(
        &served.url,
        "POST",
        "/token",
        Some(PAGE),
        Some(r#"{"user": "anna"}"#),
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["access_token"], first.body.as_str());
    assert!(again.json()["expires_in"].as_u64().unwrap() > 60);
    assert_eq!(token_requests(), 1, "Qlik asked once for anna");

    // A user not allowed: Qlik is not asked. One Qlik does not know: its refusal, in words.
    let stranger = ask(
        &served.url,
        "POST",
        "/token",
        Some(PAGE),
        Some(r#"{"user": "ben"}"#),
    );
    assert_eq!(stranger.status, 403);
    assert_eq!(token_requests(), 1);
    let unknown = ask(
        &served.url,
        "POST",
        "/token",
        Some(PAGE),
        Some(r#"{"user": "nobody-in-the-tenant"}"#),
    );
    assert_eq!(unknown.status, 502, "{}", unknown.body);
    assert!(
        unknown.json()["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("refused")
    );

    let (code, stderr) = served.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !stderr.contains(SECRET) && !stderr.contains(&first.body),
        "{stderr}"
    );
}
