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
use std::process::{Child, Stdio};
use std::thread::JoinHandle;

use serde_json::{Value, json};

use crate::common::oauth_server::{OauthClient, OauthConfig};
use crate::common::qlik_server::{QlikServer, Trust};
use crate::common::tenant::{Tenant, TenantBuilder};
use crate::common::{
    QLIK_CLOUD_AUDIENCE, decode_parts, fixture, fixture_text, verify_with_public_key,
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
    start_with_input(dir, args, None)
}

/// `start`, with `input` written to the server's standard input (then closed).
fn start_with_input(dir: &Path, args: &[&str], input: Option<&str>) -> Served {
    let mut cmd = crate::common::command(assert_cmd::cargo::cargo_bin("qs-jwt"));
    cmd.current_dir(dir)
        .args(args)
        .args(["--port", "0"])
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = input {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
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
        let status = crate::common::command("kill")
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

/// `POST path` with `body`, from the page's origin: a page asking for a token.
fn post(url: &str, path: &str, body: &str) -> Answer {
    ask(url, "POST", path, Some(PAGE), Some(body))
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

    let answer = post(&url, "/token", r#"{"user": "anna"}"#);
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
    let stranger = post(&url, "/token", r#"{"user": "ben"}"#);
    assert_eq!(stranger.status, 403);
    assert!(
        stranger.json()["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--user")
    );
    assert_eq!(post(&url, "/token", "{}").status, 400);
    let big = format!(r#"{{"user": "anna", "pad": "{}"}}"#, "x".repeat(20 * 1024));
    let too_large = post(&url, "/token", &big);
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
    let answer = post(&served.url, "/token", r#"{"user": "anna"}"#);
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
    let other = post(&served.url, "/token", r#"{"user": "ben"}"#);
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
fn tenant() -> Tenant {
    tenant_of(vec![("anna", "64d0f0a7a1b2c3d4e5f60718")])
}

/// A tenant stand-in whose OAuth client has a secret and may impersonate `users` (subject,
/// user id).
fn tenant_of(users: Vec<(&'static str, &'static str)>) -> Tenant {
    let config = OauthConfig {
        clients: vec![OauthClient {
            id: CLIENT_ID.to_owned(),
            secret: Some(SECRET.to_owned()),
            impersonation: true,
            ..OauthClient::default()
        }],
        users,
        ..OauthConfig::default()
    };
    let tenant = TenantBuilder::new()
        .trust(Trust {
            oauth: config,
            ..Trust::default()
        })
        .start();
    fs::write(tenant.path().join("secret.txt"), format!("{SECRET}\n")).unwrap();
    tenant
}

/// `serve-qscloud-oauth` for the tenant at `url` (its CA in ca.pem), the secret from
/// `secret_file`, for anna and the page.
fn oauth_serve_args<'a>(url: &'a str, secret_file: &'a str) -> Vec<&'a str> {
    vec![
        "serve-qscloud-oauth",
        "--tenant",
        url,
        "--cacert",
        "ca.pem",
        "--client-id",
        CLIENT_ID,
        "--client-secret-file",
        secret_file,
        "--user",
        "anna",
        "--origin",
        PAGE,
    ]
}

#[test]
fn an_impersonation_token_is_asked_of_qlik_once_a_user_while_fresh() {
    let dir = tenant();
    let tenant = &dir.server;
    let url = tenant.url();
    let mut args = oauth_serve_args(&url, "secret.txt");
    args.extend(["--user", "nobody-in-the-tenant"]);
    let served = start(dir.path(), &args);
    let token_requests = || {
        tenant
            .requests()
            .iter()
            .filter(|r| r.target.starts_with("/oauth/token"))
            .count()
    };
    let first = post(&served.url, "/access-token", r#"{"user": "anna"}"#);
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(
        first
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let (_, payload) = decode_parts(&first.body);
    assert_eq!(payload["sub"], "anna", "{payload}");
    let again = post(&served.url, "/token", r#"{"user": "anna"}"#);
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["access_token"], first.body.as_str());
    assert!(again.json()["expires_in"].as_u64().unwrap() > 60);
    assert_eq!(token_requests(), 1, "Qlik asked once for anna");

    // A user not allowed: Qlik is not asked. One Qlik does not know: its refusal, in words.
    let stranger = post(&served.url, "/token", r#"{"user": "ben"}"#);
    assert_eq!(stranger.status, 403);
    assert_eq!(token_requests(), 1);
    let unknown = post(&served.url, "/token", r#"{"user": "nobody-in-the-tenant"}"#);
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

#[test]
fn the_client_secret_is_read_from_standard_input_as_oauth_qscloud_reads_it() {
    let dir = tenant();
    let tenant = &dir.server;
    let url = tenant.url();
    let served = start_with_input(
        dir.path(),
        &oauth_serve_args(&url, "-"),
        Some(&format!("{SECRET}\n")),
    );
    let reply = post(&served.url, "/access-token", r#"{"user": "anna"}"#);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (code, stderr) = served.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
}

/// Two users asked for at once: each one's request to Qlik is in flight while the other's
/// comes (the stand-in holds both until both are there), so one user's wait for Qlik, a 429's
/// Retry-After included, holds up no other user.
#[test]
fn one_users_wait_for_qlik_holds_up_no_other_user() {
    let dir = tenant_of(vec![
        ("anna", "64d0f0a7a1b2c3d4e5f60718"),
        ("ben", "64d0f0a7a1b2c3d4e5f60719"),
    ]);
    let tenant = &dir.server;
    tenant.hold_token_requests_for(2);
    let url = tenant.url();
    let mut args = oauth_serve_args(&url, "secret.txt");
    args.extend(["--user", "ben"]);
    let served = start(dir.path(), &args);
    let replies: Vec<_> = std::thread::scope(|scope| {
        let asks: Vec<_> = ["anna", "ben"]
            .into_iter()
            .map(|user| {
                let served = &served.url;
                scope.spawn(move || {
                    post(served, "/access-token", &format!(r#"{{"user": "{user}"}}"#))
                })
            })
            .collect();
        asks.into_iter().map(|a| a.join().unwrap()).collect()
    });
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(
        tenant.token_requests_that_waited_alone(),
        0,
        "anna's and ben's requests were at Qlik at the same time"
    );
    let (code, stderr) = served.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

/// The JWK setup-qscloud-oauth prints for the fixture's key, as an admin registers it.
fn fixture_jwk() -> Value {
    let out = crate::common::qs_jwt(Path::new("."))
        .args(["setup-qscloud-oauth", "--cert-publickey-file"])
        .arg(fixture("rsa2048-public.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A tenant stand-in whose OAuth client holds the fixture's public key and no secret.
fn key_tenant(configure: impl FnOnce(&mut OauthConfig)) -> Tenant {
    let mut config = OauthConfig {
        clients: vec![OauthClient {
            id: CLIENT_ID.to_owned(),
            public_keys: vec![fixture_jwk()],
            impersonation: true,
            ..OauthClient::default()
        }],
        users: vec![("anna", "64d0f0a7a1b2c3d4e5f60718")],
        ..OauthConfig::default()
    };
    configure(&mut config);
    TenantBuilder::new()
        .trust(Trust {
            oauth: config,
            ..Trust::default()
        })
        .start()
}

/// `serve-qscloud-oauth --tenant <stand-in> --cacert ca.pem` with the fixture's key, for anna
/// and the page, and `extra`.
fn serve_with_key(tenant: &Tenant, extra: &[&str]) -> Served {
    let key = fixture("rsa2048-pkcs8.pem");
    let connection = tenant.connection();
    let mut args = vec!["serve-qscloud-oauth"];
    args.extend(connection.iter().map(String::as_str));
    args.extend([
        "--client-id",
        CLIENT_ID,
        "--cert-privatekey-file",
        key.to_str().unwrap(),
        "--user",
        "anna",
        "--origin",
        PAGE,
    ]);
    args.extend_from_slice(extra);
    start(tenant.path(), &args)
}

/// The token requests the tenant stand-in received, as form fields.
fn token_requests(tenant: &QlikServer) -> Vec<serde_json::Map<String, Value>> {
    tenant
        .requests()
        .iter()
        .filter(|r| r.target.starts_with("/oauth/token"))
        .map(|r| {
            let content_type = r.header("content-type").unwrap_or_default();
            assert_eq!(content_type, "application/x-www-form-urlencoded");
            crate::common::oauth_server::body_fields(content_type, &r.body).unwrap()
        })
        .collect()
}

#[test]
fn a_key_based_oauth_client_proves_itself_with_a_signed_assertion() {
    let dir = key_tenant(|_| {});
    let tenant = &dir.server;
    let served = serve_with_key(&dir, &[]);
    let answer = post(&served.url, "/access-token", r#"{"user": "anna"}"#);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(decode_parts(&answer.body).1["sub"], "anna");

    let sent = token_requests(tenant);
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].contains_key("client_secret"), "{:?}", sent[0]);
    assert_eq!(sent[0]["grant_type"], "urn:qlik:oauth:user-impersonation");
    assert_eq!(sent[0]["user_lookup"]["value"], "anna");
    let assertion = sent[0]["client_assertion"].as_str().unwrap().to_owned();
    let (header, claims) = decode_parts(&assertion);
    // The key's RFC 7638 thumbprint, as setup-qscloud-oauth gave it to the admin.
    assert_eq!(header["kid"], fixture_jwk()["kid"]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["aud"], format!("{}/oauth/token", tenant.url()));

    let (code, stderr) = served.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !stderr.contains(&assertion) && !stderr.contains(&answer.body),
        "{stderr}"
    );
}

#[test]
fn a_429_from_qlik_is_waited_for_as_oauth_qscloud_waits() {
    // Retry-After: 1 within --timeout: waited for, asked again with a new assertion.
    let dir = key_tenant(|config| config.rate_limit = Some((1, "1")));
    let tenant = &dir.server;
    let served = serve_with_key(&dir, &[]);
    let answer = post(&served.url, "/token", r#"{"user": "anna"}"#);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.json()["access_token"].is_string());
    let sent = token_requests(tenant);
    assert_eq!(sent.len(), 2);
    let jti =
        |i: usize| decode_parts(sent[i]["client_assertion"].as_str().unwrap()).1["jti"].clone();
    assert_ne!(jti(0), jti(1), "Qlik takes a jti once");
    let (code, stderr) = served.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("HTTP 429") && stderr.contains("waiting 1s"),
        "{stderr}"
    );

    // Retry-After: 120, more than --timeout 5s leaves: the page is told, at once.
    let dir = key_tenant(|config| config.rate_limit = Some((1, "120")));
    let tenant = &dir.server;
    let served = serve_with_key(&dir, &["--timeout", "5s"]);
    let refused = post(&served.url, "/token", r#"{"user": "anna"}"#);
    assert_eq!(refused.status, 502, "{}", refused.body);
    let error = &refused.json()["error"];
    assert!(
        error["detail"].as_str().unwrap().contains(
            "HTTP 429) and asks to wait 2m (Retry-After: 120), more than --timeout 5s leaves"
        ),
        "{error}"
    );
    assert!(
        error["hint"].as_str().unwrap().contains("raise --timeout"),
        "{error}"
    );
    assert_eq!(token_requests(tenant).len(), 1);
    assert_eq!(served.stop().0, Some(0));
}

#[test]
fn a_qseow_user_in_two_directories_is_chosen_by_userdir() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("staff.csv"),
        "userid,userdir,name\nanna,ACME,Anna of ACME\nanna,PARTNER,Anna of PARTNER\nben,,Ben\n",
    )
    .unwrap();
    let served = qseow(dir.path(), &["--users", "staff.csv"]);
    let token_of = |path: &str, body: &str| {
        let answer = post(&served.url, path, body);
        assert_eq!(answer.status, 200, "{}", answer.body);
        decode_parts(answer.json()["token"].as_str().unwrap()).1
    };
    // A row without a directory takes --userdir.
    let ben = token_of("/token", r#"{"user": "ben"}"#);
    assert_eq!(
        (&ben["userId"], &ben["userDirectory"]),
        (&json!("ben"), &json!("ACME"))
    );
    let partner = token_of("/token", r#"{"user": "anna", "userdir": "PARTNER"}"#);
    assert_eq!(partner["userDirectory"], "PARTNER");
    assert_eq!(partner["name"], "Anna of PARTNER");
    let acme = token_of("/token?user=anna&userdir=ACME", "");
    assert_eq!(acme["userDirectory"], "ACME");
    assert_eq!(acme["name"], "Anna of ACME");
    // A directory and a user id are names without letter case in QSEoW: the token carries the
    // file's spelling.
    let partner = token_of("/token", r#"{"user": "ANNA", "userdir": "partner"}"#);
    assert_eq!(
        (&partner["userId"], &partner["userDirectory"]),
        (&json!("anna"), &json!("PARTNER"))
    );
    // A row without a directory is in --userdir's, asked by name too.
    let ben = token_of("/token", r#"{"user": "ben", "userdir": "acme"}"#);
    assert_eq!(ben["userDirectory"], "ACME");

    // Two rows and no directory asked: which one is not guessed.
    let ambiguous = post(&served.url, "/token", r#"{"user": "anna"}"#);
    assert_eq!(ambiguous.status, 400, "{}", ambiguous.body);
    let error = &ambiguous.json()["error"];
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains("more than one user directory")
            && error["hint"].as_str().unwrap().contains(r#""userdir""#),
        "{error}"
    );
    // A directory the file does not give anna: refused.
    let elsewhere = post(
        &served.url,
        "/token",
        r#"{"user": "anna", "userdir": "OTHER"}"#,
    );
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    assert!(!elsewhere.body.contains("eyJ"));
    assert_eq!(served.stop().0, Some(0));
}

#[test]
fn any_user_on_qseow_needs_a_directory_from_the_request_or_userdir() {
    let dir = tempfile::tempdir().unwrap();
    let key = fixture("rsa2048-pkcs8.pem");
    let served = start(
        dir.path(),
        &[
            "serve-qseow",
            "--audience",
            "test-audience",
            "--cert-privatekey-file",
            key.to_str().unwrap(),
            "--allow-any-user",
            "--origin",
            PAGE,
        ],
    );
    let nowhere = post(&served.url, "/token", r#"{"user": "zoe"}"#);
    assert_eq!(nowhere.status, 400, "{}", nowhere.body);
    assert!(
        nowhere.json()["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("names no user directory")
    );
    let answer = post(
        &served.url,
        "/token",
        r#"{"user": "zoe", "userdir": "GUESTS"}"#,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let (_, payload) = decode_parts(answer.json()["token"].as_str().unwrap());
    assert_eq!(
        (&payload["userId"], &payload["userDirectory"]),
        (&json!("zoe"), &json!("GUESTS"))
    );
    let (code, stderr) = served.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("--allow-any-user"), "{stderr}");

    // --user names an id, and an id needs its directory.
    let out = crate::common::qs_jwt(dir.path())
        .args([
            "serve-qseow",
            "--audience",
            "a",
            "--user",
            "anna",
            "--port",
            "0",
        ])
        .args(["--cert-privatekey-file"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("give --userdir <directory>"),
        "{out:?}"
    );
}

/// A page server for the browser test: every GET on 127.0.0.1:<its port> answers `page`.
/// Its port makes its origin, http://127.0.0.1:<port>.
fn page_server(page: String) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                request.push(byte[0]);
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \
                 {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    port
}

/// What a headless Chromium shows of `url` once its scripts ran: its DOM. Nothing reaches
/// further than 127.0.0.1 (every other name resolves to nothing).
fn browser_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = crate::common::command("timeout")
        .args([
            "120",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args([
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_real_browser_gets_a_token_from_an_allowed_origin_and_none_from_another() {
    if !crate::common::skip::require_tool("chromium") {
        return;
    }
    // The page asks as examples/qlik-embed.html does (a POST with credentials and JSON, so a
    // preflight first) the server its address names (?serve=<URL>), and shows what it got.
    let page = r#"<!doctype html><html><body><p id="result">not asked</p><script>
const shown = (text) => { document.getElementById("result").textContent = text; };
const serve = new URLSearchParams(location.search).get("serve");
fetch(serve + "/token", {
  method: "POST",
  credentials: "include",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ user: "anna" }),
})
  .then((response) => response.json())
  .then((answer) => shown("token " + answer.token))
  .catch((error) => shown("refused " + error.name));
</script></body></html>"#;
    // One page from two origins: two ports.
    let allowed = format!("http://127.0.0.1:{}", page_server(page.to_owned()));
    let refused = format!("http://127.0.0.1:{}", page_server(page.to_owned()));
    let dir = tempfile::tempdir().unwrap();
    let key = fixture("rsa2048-pkcs8.pem");
    let served = start(
        dir.path(),
        &[
            "serve-qseow",
            "--userdir",
            "ACME",
            "--audience",
            "test-audience",
            "--cert-privatekey-file",
            key.to_str().unwrap(),
            "--user",
            "anna",
            "--origin",
            &allowed,
        ],
    );

    let dom = browser_dom(&format!("{allowed}/?serve={}", served.url));
    let token = dom
        .split(r#"<p id="result">token "#)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no token in the page: {dom}"));
    verify_with_public_key(token, &fixture_text("rsa2048-public.pem"), "test-audience");
    assert_eq!(decode_parts(token).1["userId"], "anna");

    let dom = browser_dom(&format!("{refused}/?serve={}", served.url));
    assert!(
        dom.contains(r#"<p id="result">refused TypeError</p>"#),
        "{dom}"
    );
    assert!(!dom.contains("eyJ"), "{dom}");

    let (code, stderr) = served.stop();
    assert_eq!(code, Some(0), "{stderr}");
    // The allowed page's preflight and POST, the other's preflight refused: no POST from it.
    assert!(
        stderr.contains("OPTIONS /token 204") && stderr.contains("POST /token 200 for user anna"),
        "{stderr}"
    );
    assert!(stderr.contains("OPTIONS /token 403"), "{stderr}");
    assert_eq!(stderr.matches("INFO POST /token").count(), 1, "{stderr}");
}
