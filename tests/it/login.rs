//! login-qscloud and login-qseow against a local stand-in for Qlik (tests/it/common/qlik_server.rs:
//! a real HTTPS server on 127.0.0.1 that answers as Qlik's published API does). Nothing here
//! reaches the network.

use crate::common;

use std::fs;

use assert_cmd::Command;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::qlik_server::{
    Behaviour, ConnectProxy, ISSUER, KEY_ID, closed_port, silent_listener,
};
use crate::common::tenant::{Tenant, TenantBuilder};
use crate::common::{Create, QLIK_CLOUD_AUDIENCE, error_lines, fixture, fixture_text, now, qs_jwt};

/// What the login tests do in a stand-in's folder (a [`Tenant`]: the stand-in's CA
/// certificate as ca.pem, tokens as files).
trait Folder {
    /// The binary with no proxy from the developer's environment.
    fn qs_jwt(&self) -> Command;
    /// A token made by the binary, as a user makes one.
    fn created(&self, create: Create) -> String;
    /// `login-qscloud --tenant <server> --cacert ca.pem --jwt-file token.txt`, and `extra`.
    fn login_qscloud(&self, token: &str, extra: &[&str]) -> Command;
    /// `login-qseow --server <server>/jwt --jwt-file token.txt --cacert ca.pem`, and `extra`.
    fn login_qseow(&self, token: &str, extra: &[&str]) -> Command;
}

impl Folder for Tenant {
    fn qs_jwt(&self) -> Command {
        self.command_without_api_key()
    }

    fn created(&self, create: Create) -> String {
        let output = create
            .key_file(fixture("rsa2048-pkcs8.pem"))
            .run_in(self.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    fn login_qscloud(&self, token: &str, extra: &[&str]) -> Command {
        fs::write(self.path().join("token.txt"), token).unwrap();
        let mut cmd = self.qs_jwt();
        cmd.arg("login-qscloud")
            .args(self.connection())
            .args(["--jwt-file", "token.txt"])
            .args(extra);
        cmd
    }

    fn login_qseow(&self, token: &str, extra: &[&str]) -> Command {
        fs::write(self.path().join("token.txt"), token).unwrap();
        let mut cmd = self.qs_jwt();
        cmd.args([
            "login-qseow",
            "--server",
            &format!("{}/jwt", self.server.url()),
            "--jwt-file",
            "token.txt",
            "--cacert",
            "ca.pem",
        ])
        .args(extra);
        cmd
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let output = cmd.output().unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

/// A Qlik Cloud token for Anna, as the stand-in's identity provider expects it.
fn anna() -> Create {
    Create::qscloud().args([
        "--sub",
        "anna",
        "--username",
        "Anna Anderson",
        "--useremail",
        "anna@grusgrus.com",
        "--useremail-verified",
        "true",
        "--groups",
        "Finance",
        "group 2",
    ])
}

/// A token signed here with the fixture key, for claims the create commands never write.
fn signed(kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(fixture_text("rsa2048-pkcs8.pem").as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn cloud_claims() -> Value {
    let now = now();
    json!({
        "iss": ISSUER, "aud": QLIK_CLOUD_AUDIENCE, "sub": "anna", "subType": "user",
        "name": "Anna", "email": "anna@grusgrus.com", "email_verified": true,
        "jti": format!("jti-{now}-{}", rand_suffix()), "iat": now, "nbf": now, "exp": now + 1_800
    })
}

fn rand_suffix() -> u32 {
    use rand::RngExt;
    rand::rng().random()
}

fn accepted_json(stdout: &str) -> Value {
    let json: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    json
}

// ---- Qlik Cloud ----

#[test]
fn qscloud_accepts_a_good_token_and_shows_the_user() {
    let folder = TenantBuilder::new().start();
    let server = &folder.server;
    let token = folder.created(anna());
    let run = run(&mut folder.login_qscloud(&token, &[]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = [
        format!(
            "Accepted: Qlik Cloud made a session at {} (HTTP 200)",
            server.url()
        ),
        "Name:           Anna Anderson".to_owned(),
        "Email:          anna@grusgrus.com".to_owned(),
        "Subject:        anna".to_owned(),
        "Status:         active".to_owned(),
        "Groups:         Finance, group 2".to_owned(),
        "Cookies:        eas.sid, eas.sid.sig, _csrfToken, _csrfToken.sig".to_owned(),
    ];
    for line in expected {
        assert!(run.stdout.contains(&line), "{line} in {}", run.stdout);
    }
    assert!(run.stdout.contains("User id:        "), "{}", run.stdout);
    assert!(
        run.stderr.is_empty() || !run.stderr.contains("WARN"),
        "{}",
        run.stderr
    );

    let requests = server.requests();
    let login = &requests[0];
    assert_eq!(
        (login.method.as_str(), login.target.as_str()),
        ("POST", "/login/jwt-session")
    );
    assert_eq!(
        login.header("authorization"),
        Some(&*format!("Bearer {token}"))
    );
    // The user is read with the session's cookies, never the token, through users/me's redirect.
    let targets: Vec<&str> = requests[1..].iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets[0], "/api/v1/users/me");
    assert!(targets[1].starts_with("/api/v1/users/"), "{targets:?}");
    for request in &requests[1..] {
        assert_eq!(request.header("authorization"), None);
        assert!(request.header("cookie").unwrap().contains("eas.sid="));
    }
}

#[test]
fn qscloud_a_user_without_groups_is_said_to_have_none() {
    let folder = TenantBuilder::new().start();
    let token = folder.created(Create::qscloud().args([
        "--sub",
        "bo",
        "--username",
        "Bo",
        "--useremail",
        "bo@grusgrus.com",
        "--useremail-verified",
        "true",
    ]));
    let run = run(&mut folder.login_qscloud(&token, &[]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("\nGroups:         none\n"),
        "{}",
        run.stdout
    );
    for line in run.stdout.lines() {
        assert_eq!(
            line,
            line.trim_end(),
            "no line ends in blanks: {:?}",
            run.stdout
        );
    }
}

#[test]
fn qscloud_json_output_is_one_object() {
    let folder = TenantBuilder::new().start();
    let server = &folder.server;
    let token = folder.created(anna());
    let run = run(&mut folder.login_qscloud(&token, &["--output", "json"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = accepted_json(&run.stdout);
    assert_eq!(json["accepted"], true);
    assert_eq!(json["status"], 200);
    assert_eq!(json["server"], server.url());
    assert_eq!(json["error"], Value::Null);
    assert_eq!(json["user"]["name"], "Anna Anderson");
    assert_eq!(json["user"]["email"], "anna@grusgrus.com");
    assert_eq!(json["user"]["subject"], "anna");
    assert_eq!(json["user"]["status"], "active");
    assert_eq!(json["user"]["groups"], json!(["Finance", "group 2"]));
    assert!(json["user"]["id"].is_string());
    assert_eq!(
        json["cookies"],
        json!(["eas.sid", "eas.sid.sig", "_csrfToken", "_csrfToken.sig"])
    );
}

/// Each kind of refusal: Qlik's own error on the error line, a hint for the cause, and the
/// warning qs-jwt gave before sending where its own checks saw it coming.
#[test]
fn qscloud_rejections_show_qliks_error_and_a_hint() {
    let folder = TenantBuilder::new().start();
    let server = &folder.server;
    let now = now();
    let mut no_nbf = cloud_claims();
    no_nbf.as_object_mut().unwrap().remove("nbf");
    let mut expired = cloud_claims();
    expired["nbf"] = json!(now - 3_000);
    expired["iat"] = json!(now - 3_000);
    expired["exp"] = json!(now - 60);
    let mut future = cloud_claims();
    future["nbf"] = json!(now + 600);
    future["exp"] = json!(now + 1_200);
    let new_key = tempfile::tempdir().unwrap();
    let unknown_key = {
        let output = anna().new_key().run_in(new_key.path()).output().unwrap();
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };

    let cases: [(&str, String, &str, &str, Option<&str>); 7] = [
        (
            "a missing claim",
            signed(KEY_ID, &no_nbf),
            "Missing required claim: nbf",
            "lacks the claim nbf, which Qlik Cloud requires",
            Some("the rule \"nbf is a number\" fails"),
        ),
        (
            "more than an hour",
            folder.created(anna().args(["--expires", "2h"])),
            "token lifetime exceeds 3600 seconds",
            "valid for an hour at most",
            Some("the rule \"exp - nbf is at most 3600 seconds\" fails"),
        ),
        (
            "expired",
            signed(KEY_ID, &expired),
            "token expired",
            "has expired",
            Some("will reject this token: the token expired at"),
        ),
        (
            "in the future",
            signed(KEY_ID, &future),
            "token not yet valid (nbf)",
            "not valid yet",
            Some("the rule \"nbf is not in the future\" fails"),
        ),
        (
            "another kid",
            folder.created(anna().args(["--keyid", "other-key"])),
            "kid does not match",
            "must equal the key ID",
            None,
        ),
        (
            "another issuer",
            folder.created(anna().args(["--issuer", "other.example.com"])),
            "invalid issuer",
            "must equal the issuer",
            None,
        ),
        (
            "an unknown signing key",
            unknown_key,
            "invalid signature",
            "signature does not verify",
            None,
        ),
    ];
    for (what, token, detail, hint, warning) in cases {
        let run = run(&mut folder.login_qscloud(&token, &[]));
        assert_eq!(run.code, 1, "{what}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{what}");
        let text = error_lines(run.stderr.as_bytes());
        assert!(
            text.contains(&format!(
                "error: Qlik Cloud rejected the token: HTTP 401, INTERNAL-TOKEN-1 Invalid token \
                 request: JWT_LOGIN_VALIDATIONS {detail}"
            )),
            "{what}: {text}"
        );
        assert!(text.contains("\nhint: "), "{what}: {text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("hint: ") && l.contains(hint)),
            "{what}: {text}"
        );
        assert!(
            text.contains(&format!(
                "to check the whole setup, run qs-jwt doctor-qscloud --tenant {} --issuer ",
                server.url()
            )),
            "{what}: {text}"
        );
        match warning {
            Some(warning) => assert!(
                run.stderr
                    .lines()
                    .any(|l| l.starts_with("WARN ") && l.contains(warning)),
                "{what}: {}",
                run.stderr
            ),
            None => assert!(!run.stderr.contains("WARN "), "{what}: {}", run.stderr),
        }
    }
}

/// Issue 27: each refusal has the hint of what happened, not a guess: an inactive identity
/// provider is not a wrong kid, an audience is named, a virtual proxy that no proxy serves
/// (HTTP 404) is not a certificate or a claim, a host the allow list lacks is said; and every
/// refused login ends with the doctor to run, with the connection's options as typed and
/// placeholders for what login does not have.
#[test]
fn each_refusal_has_its_own_hint_and_the_doctor_to_run() {
    use common::identity_providers::jwt_idp;
    let folder = TenantBuilder::new().start();
    let server = &folder.server;
    let pem: String = fixture_text("rsa2048-cert.pem").lines().collect();
    server.add_identity_provider(jwt_idp("sleeping", ISSUER, KEY_ID, &pem, false));
    let run_inactive = run(&mut folder.login_qscloud(&folder.created(anna()), &[]));
    let text = error_lines(run_inactive.stderr.as_bytes());
    assert_eq!(run_inactive.code, 1, "{text}");
    assert!(
        text.contains("hint: no active JWT identity provider on the tenant has the token's issuer and key ID: the one made for them may be inactive"),
        "{text}"
    );
    assert!(!text.contains("must equal the key ID"), "{text}");
    assert!(
        text.contains(&format!(
            "to check the whole setup, run qs-jwt doctor-qscloud --tenant {} --issuer {ISSUER} \
             --keyid {KEY_ID} --cert-privatekey-file <privatekey.pem> --cacert ca.pem (with a \
             tenant admin's API key in QLIK_API_KEY)",
            server.url()
        )),
        "{text}"
    );

    let folder = TenantBuilder::new().start();
    let mut claims = cloud_claims();
    claims["aud"] = json!("qlik.example.com");
    let audience = run(&mut folder.login_qscloud(&signed(KEY_ID, &claims), &["--output", "json"]));
    assert_eq!(audience.code, 1, "{}", audience.stderr);
    let report: Value = serde_json::from_str(&audience.stdout).unwrap();
    let hint = report["error"]["hint"].as_str().unwrap();
    assert!(
        hint.starts_with(&format!(
            "the claim aud must be {QLIK_CLOUD_AUDIENCE} and subType user"
        )),
        "{hint}"
    );
    assert!(
        hint.contains("run qs-jwt doctor-qscloud --tenant"),
        "{hint}"
    );

    for (behaviour, expected) in [
        (
            Behaviour::Fixed(404, "<html>Not found</html>"),
            "hint: no virtual proxy serves this prefix: the virtual proxy may not be linked to a \
             proxy service",
        ),
        (
            Behaviour::Fixed(403, "<html>Host not allowed</html>"),
            "hint: the virtual proxy does not take requests for this host: add the host of \
             --server to the virtual proxy's host allow list",
        ),
    ] {
        let folder = TenantBuilder::new().behaviour(behaviour).start();
        let token = qseow_token(&folder, &["--userdir", "GRUSGRUS", "--userid", "anna"]);
        let refused = run(&mut folder.login_qseow(&token, &["--insecure"]));
        let text = error_lines(refused.stderr.as_bytes());
        assert_eq!(refused.code, 1, "{text}");
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains("JWT certificate"), "{text}");
        assert!(
            text.contains(
                "to check the whole setup, run qs-jwt doctor-qseow --qrs https://<server>:4242 \
                 --qrs-cert <client.pem> --qrs-key <client_key.pem> --prefix jwt --audience \
                 test-audience --cert-privatekey-file <privatekey.pem> --cacert ca.pem \
                 --insecure"
            ),
            "{text}"
        );
    }
}

/// Issue 27: a server that hangs up is said in words, not in rustls' own (a docs.rs link).
#[test]
fn a_server_that_hangs_up_is_said_in_words() {
    let folder = TenantBuilder::new().behaviour(Behaviour::HangUp).start();
    let refused = run(&mut folder.login_qscloud(&folder.created(anna()), &[]));
    let text = error_lines(refused.stderr.as_bytes());
    assert_eq!(refused.code, 1, "{text}");
    assert!(
        text.contains("closed the connection before its answer was complete")
            && text.contains("\nhint: try again"),
        "{text}"
    );
    for library in ["docs.rs", "close_notify", "rustls", "peer closed"] {
        assert!(
            !refused.stderr.contains(library),
            "{library}: {}",
            refused.stderr
        );
    }
}

#[test]
fn qscloud_takes_a_token_once() {
    let folder = TenantBuilder::new().start();
    let token = folder.created(anna());
    assert_eq!(run(&mut folder.login_qscloud(&token, &[])).code, 0);
    let again = run(&mut folder.login_qscloud(&token, &["--output", "json"]));
    assert_eq!(again.code, 1);
    let json = accepted_json(&again.stdout);
    assert_eq!(json["accepted"], false);
    assert_eq!(json["status"], 401);
    assert_eq!(json["user"], Value::Null);
    assert_eq!(json["error"]["code"], "INTERNAL-TOKEN-1");
    assert_eq!(json["error"]["title"], "Invalid token request");
    assert_eq!(
        json["error"]["detail"],
        "JWT_LOGIN_VALIDATIONS jti has already been used"
    );
    assert!(json["error"]["traceId"].is_string());
    assert!(
        json["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("takes each token once")
    );
    // JSON on stdout, and still the one error line on stderr.
    let text = error_lines(again.stderr.as_bytes());
    assert!(text.contains("jti has already been used"), "{text}");
}

/// A 429 whose wait is longer than --timeout leaves is not waited for: reported at once, with
/// how long the tenant asked to wait.
#[test]
fn rate_limiting_reports_retry_after() {
    let folder = TenantBuilder::new()
        .behaviour(Behaviour::RateLimited("13"))
        .start();
    let token = folder.created(anna());
    let run1 = run(&mut folder.login_qscloud(&token, &["--timeout", "10s"]));
    assert_eq!(run1.code, 1);
    let text = error_lines(run1.stderr.as_bytes());
    assert!(
        text.contains("error: Qlik Cloud is rate limiting this client (HTTP 429); Retry-After: 13"),
        "{text}"
    );
    assert!(
        text.contains(
            "hint: Qlik Cloud asks to wait 13s (Retry-After: 13), more than --timeout 10s leaves"
        ),
        "{text}"
    );
    let run2 = run(&mut folder.login_qscloud(&token, &["--output", "json", "--timeout", "10s"]));
    let json = accepted_json(&run2.stdout);
    assert_eq!(json["status"], 429);
    assert_eq!(json["error"]["retryAfter"], "13");
    assert_eq!(json["error"]["title"], "API rate limit reached.");
}

/// Issue 26: login's 429 is waited for as OAuth's is (`http::retry_wait`), and no number a
/// server sends can panic it: a Retry-After of u64::MAX seconds is a clear failure, exit 1,
/// with the JSON report too.
#[test]
fn a_retry_after_beyond_any_wait_is_a_clear_failure() {
    let folder = TenantBuilder::new()
        .behaviour(Behaviour::RateLimited("18446744073709551615"))
        .start();
    let server = &folder.server;
    let token = folder.created(anna());
    let text_run = run(&mut folder.login_qscloud(&token, &[]));
    assert_eq!(text_run.code, 1, "{}", text_run.stderr);
    let text = error_lines(text_run.stderr.as_bytes());
    assert!(text.contains("(HTTP 429)"), "{text}");
    assert!(
        text.contains("more than --timeout 30s leaves or than qs-jwt waits (2m)"),
        "{text}"
    );
    let json_run = run(&mut folder.login_qscloud(&token, &["--output", "json"]));
    assert_eq!(json_run.code, 1);
    let json = accepted_json(&json_run.stdout);
    assert_eq!(json["status"], 429);
    assert!(
        json["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("Retry-After: 18446744073709551615")
    );
    // One login each: a wait too long is not waited for, and not asked again.
    let logins = server
        .requests()
        .iter()
        .filter(|r| r.target.starts_with("/login/jwt-session"))
        .count();
    assert_eq!(logins, 2);
}

/// The token goes to the host given and nowhere else: a redirect to another host is reported,
/// not followed, and that host never hears of the token.
#[test]
fn a_redirect_is_reported_and_not_followed() {
    let elsewhere = TenantBuilder::new().start();
    let elsewhere = &elsewhere.server;
    let target = format!("https://localhost:{}/login/jwt-session", elsewhere.port);
    let folder = TenantBuilder::new()
        .behaviour(Behaviour::RedirectTo(target.clone()))
        .start();
    let server = &folder.server;
    let token = folder.created(anna());
    let run = run(&mut folder.login_qscloud(&token, &[]));
    assert_eq!(run.code, 1);
    let text = error_lines(run.stderr.as_bytes());
    assert!(
        text.contains(&format!(
            "error: Qlik Cloud answered HTTP 302, a redirect to '{target}', and made no session; \
             qs-jwt does not follow redirects"
        )),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1);
    assert!(
        elsewhere.requests().is_empty(),
        "{:?}",
        elsewhere.requests()
    );
}

// ---- Transport ----

#[test]
fn nothing_listening_is_connection_refused() {
    let folder = tempfile::tempdir().unwrap();
    let port = closed_port();
    let mut cmd = qs_jwt(folder.path());
    cmd.args([
        "login-qscloud",
        "--tenant",
        &format!("https://127.0.0.1:{port}"),
        "--jwt",
        &signed(KEY_ID, &cloud_claims()),
    ]);
    let run = run(&mut cmd);
    assert_eq!(run.code, 1);
    let text = error_lines(run.stderr.as_bytes());
    assert!(
        text.contains(&format!(
            "error: cannot connect to 127.0.0.1:{port}: connection refused"
        )),
        "{text}"
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    let (_listener, port) = silent_listener();
    let folder = tempfile::tempdir().unwrap();
    let mut cmd = qs_jwt(folder.path());
    cmd.args([
        "login-qseow",
        "--server",
        &format!("https://127.0.0.1:{port}/jwt"),
        "--jwt",
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
        "--timeout",
        "1s",
        "--loglevel",
        "error",
    ]);
    let run = run(&mut cmd);
    assert_eq!(run.code, 1);
    let text = error_lines(run.stderr.as_bytes());
    assert!(
        text.contains(&format!(
            "error: no answer from 127.0.0.1:{port} within 1s (--timeout)"
        )),
        "{text}"
    );
}

#[test]
fn an_unknown_certificate_authority_suggests_cacert_and_insecure_warns() {
    let folder = TenantBuilder::new().start();
    let server = &folder.server;
    let token = folder.created(anna());
    let mut cmd = folder.qs_jwt();
    cmd.args(["login-qscloud", "--tenant", &server.url(), "--jwt", &token]);
    let run1 = run(&mut cmd);
    assert_eq!(run1.code, 1);
    let text = error_lines(run1.stderr.as_bytes());
    assert!(
        text.contains(&format!(
            "error: the certificate of 127.0.0.1:{} is signed by an unknown certificate authority",
            server.port
        )),
        "{text}"
    );
    assert!(
        text.contains("hint: give that authority's certificate with --cacert"),
        "{text}"
    );
    assert!(server.requests().is_empty(), "the token was sent");

    let mut cmd = folder.qs_jwt();
    cmd.args([
        "login-qscloud",
        "--tenant",
        &server.url(),
        "--jwt",
        &token,
        "--insecure",
    ]);
    let run2 = run(&mut cmd);
    assert_eq!(run2.code, 0, "{}", run2.stderr);
    assert!(
        run2.stderr.contains(&format!(
            "WARN --insecure: the certificate of {} is not verified",
            server.url()
        )),
        "{}",
        run2.stderr
    );
}

#[test]
fn https_proxy_is_used_unless_no_proxy_names_the_host() {
    let folder = TenantBuilder::new().start();
    let server = &folder.server;
    let proxy = ConnectProxy::start();

    let token = folder.created(anna());
    let through = run(folder
        .login_qscloud(&token, &[])
        .env("HTTPS_PROXY", proxy.url()));
    assert_eq!(through.code, 0, "{}", through.stderr);
    let target = format!("127.0.0.1:{}", server.port);
    // The login, users/me and its redirect: each through the proxy, to the tenant.
    assert!(!proxy.targets().is_empty());
    assert!(
        proxy.targets().iter().all(|t| *t == target),
        "{:?}",
        proxy.targets()
    );

    let before = proxy.targets().len();
    let token = folder.created(anna());
    let direct = run(folder
        .login_qscloud(&token, &[])
        .env("HTTPS_PROXY", proxy.url())
        .env("NO_PROXY", "localhost, 127.0.0.1"));
    assert_eq!(direct.code, 0, "{}", direct.stderr);
    assert_eq!(proxy.targets().len(), before);
}

// ---- Probes end their sessions ----

#[test]
fn every_login_ends_the_session_it_made_unless_a_cookie_jar_keeps_it() {
    let folder = TenantBuilder::new().start();
    let cloud = &folder.server;
    let qseow_folder = TenantBuilder::new().behaviour(Behaviour::Qseow).start();
    let qseow = &qseow_folder.server;
    for (i, output) in ["text", "json"].into_iter().enumerate() {
        let token = folder.created(anna());
        let done = run(&mut folder.login_qscloud(&token, &["--output", output]));
        assert_eq!(done.code, 0, "{}", done.stderr);
        let counts = cloud.sessions();
        assert_eq!((counts.opened, counts.ended), (i + 1, i + 1), "{counts:?}");

        let token = qseow_token(&qseow_folder, &["--userdir", "CORP", "--userid", "anna"]);
        let done = run(&mut qseow_folder.login_qseow(&token, &["--output", output]));
        assert_eq!(done.code, 0, "{}", done.stderr);
        let counts = qseow.sessions();
        assert_eq!((counts.opened, counts.ended), (i + 1, i + 1), "{counts:?}");
        if output == "json" {
            assert_eq!(accepted_json(&done.stdout)["session"], "ended");
        } else {
            assert!(
                done.stdout
                    .contains("Session:        ended (a probe leaves no session behind)"),
                "{}",
                done.stdout
            );
        }
    }
    // QSEoW's logout is the Personal API's DELETE /{prefix}/qps/user with the session cookie.
    let delete = qseow
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert!(
        delete.target.starts_with("/jwt/qps/user"),
        "{}",
        delete.target
    );
    assert!(
        delete
            .header("cookie")
            .unwrap()
            .starts_with("X-Qlik-Session-jwt=")
    );

    // A cookie jar is a session kept on purpose.
    let token = folder.created(anna());
    let kept = run(&mut folder.login_qscloud(&token, &["--cookie-jar", "jar.txt"]));
    assert_eq!(kept.code, 0, "{}", kept.stderr);
    assert!(
        kept.stdout.contains("Session:        kept open"),
        "{}",
        kept.stdout
    );
    let counts = cloud.sessions();
    assert_eq!((counts.opened, counts.ended), (3, 2), "{counts:?}");
}

/// A jar that cannot be written once the session exists (here a name too long to rename to,
/// which no check before the login can see) keeps nothing: the session is ended and the error
/// says so, on both platforms. It used to stay open, held by nobody.
#[test]
fn a_cookie_jar_that_cannot_be_written_after_the_login_ends_the_session() {
    let jar = format!("{}.txt", "j".repeat(300));
    let folder = TenantBuilder::new().start();
    let token = folder.created(anna());
    let failed = run(&mut folder.login_qscloud(&token, &["--cookie-jar", &jar]));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("cannot write --cookie-jar 'jjj")
            && failed
                .stderr
                .contains("; the session it opened was ended, as no jar keeps it"),
        "{}",
        failed.stderr
    );
    let counts = folder.server.sessions();
    assert_eq!((counts.opened, counts.ended), (1, 1), "{counts:?}");

    let qseow_folder = TenantBuilder::new().behaviour(Behaviour::Qseow).start();
    let token = qseow_token(&qseow_folder, &["--userdir", "CORP", "--userid", "anna"]);
    let failed =
        run(&mut qseow_folder.login_qseow(&token, &["--cookie-jar", &jar, "--output", "json"]));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let object: serde_json::Value = serde_json::from_str(&failed.stdout).unwrap();
    assert!(
        object
            .to_string()
            .contains("the session it opened was ended"),
        "{object}"
    );
    let counts = qseow_folder.server.sessions();
    assert_eq!((counts.opened, counts.ended), (1, 1), "{counts:?}");
}

/// A virtual proxy whose session cookie domain does not cover the host of --server (the
/// site is reached by its address, its cookies are for corp.example.com) makes a session the
/// login cannot take: the login fails, names the Domain as the cause, and ends that session
/// with the cookies as they were set. It used to stay open, held by nobody.
#[test]
fn a_session_whose_cookie_domain_is_not_the_servers_is_ended_and_the_domain_named() {
    use crate::common::qrs_server::jwt_virtual_proxy;
    use crate::common::site::SiteBuilder;
    let mut vp = jwt_virtual_proxy("jwt", "qlik-jwt", &fixture_text("rsa2048-cert.pem"));
    vp["sessionCookieDomain"] = json!("corp.example.com");
    let site = SiteBuilder::new().virtual_proxy(vp, true).start();
    for output in ["text", "json"] {
        let failed = run(&mut site.login("qlik-jwt", &["--output", output]));
        assert_eq!(failed.code, 1, "{}", failed.stderr);
        assert!(
            failed.stderr.contains("a Domain that is not the server's")
                && failed
                    .stderr
                    .contains("set cookies, but none for this server"),
            "{}",
            failed.stderr
        );
        if output == "json" {
            let report = accepted_json(&failed.stdout);
            assert_eq!(report["session"], "ended");
            let hint = report["error"]["hint"].as_str().unwrap();
            assert!(hint.contains("Session cookie domain"), "{hint}");
        } else {
            assert!(
                failed.stderr.contains("Session cookie domain"),
                "{}",
                failed.stderr
            );
            assert!(
                failed
                    .stderr
                    .contains("the session those cookies hold was ended"),
                "{}",
                failed.stderr
            );
        }
    }
    let counts = site.server.with(|r| r.counts);
    assert_eq!((counts.opened, counts.ended), (2, 2), "{counts:?}");
}

// ---- The cookie jar, and secrets ----

#[test]
fn the_cookie_jar_is_owner_only_and_curl_reads_it() {
    let folder = TenantBuilder::new().start();
    let server = &folder.server;
    let token = folder.created(anna());
    let jar = folder.path().join("jar.txt");
    fs::write(&jar, "an old jar").unwrap();
    let run = run(&mut folder.login_qscloud(&token, &["--cookie-jar", "jar.txt"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("Cookie jar:     'jar.txt'"),
        "{}",
        run.stdout
    );
    let text = fs::read_to_string(&jar).unwrap();
    assert!(text.starts_with("# Netscape HTTP Cookie File\n"), "{text}");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains('\t')).collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("#HttpOnly_127.0.0.1\tFALSE\t/\tTRUE\t0\teas.sid\t"));
    assert!(lines[2].starts_with("127.0.0.1\tFALSE\t/\tTRUE\t0\t_csrfToken\t"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&jar).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let names: Vec<String> = fs::read_dir(folder.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".qs-jwt-")),
        "{names:?}"
    );

    if !crate::common::skip::require_tool("curl") {
        return;
    }
    let output = common::command("curl")
        .current_dir(folder.path())
        .args(["-sSL", "-b", "jar.txt", "--cacert", "ca.pem"])
        .arg(format!("{}/api/v1/users/me", server.url()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let user: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(user["name"], "Anna Anderson");
}

#[test]
fn neither_the_token_nor_a_cookie_is_logged_at_debug() {
    let folder = TenantBuilder::new().start();
    let token = folder.created(anna());
    let accepted =
        run(&mut folder.login_qscloud(&token, &["--loglevel", "debug", "--cookie-jar", "jar.txt"]));
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    assert!(accepted.stderr.contains("DEBUG "), "{}", accepted.stderr);
    let jar = fs::read_to_string(folder.path().join("jar.txt")).unwrap();
    let values: Vec<&str> = jar
        .lines()
        .filter_map(|l| l.rsplit('\t').next().filter(|_| l.contains('\t')))
        .collect();
    assert_eq!(values.len(), 4);
    // The token's signature is what makes it a credential; its parts are checked one by one.
    for secret in token.split('.').chain(values.iter().copied()) {
        assert!(
            !accepted.stderr.contains(secret),
            "{secret} in {}",
            accepted.stderr
        );
        assert!(
            !accepted.stdout.contains(secret),
            "{secret} in {}",
            accepted.stdout
        );
    }
    let rejected = run(&mut folder.login_qscloud(&token, &["--loglevel", "debug"]));
    assert_eq!(rejected.code, 1);
    for part in token.split('.') {
        assert!(!rejected.stderr.contains(part), "{}", rejected.stderr);
    }
}

// ---- QSEoW ----

fn qseow_token(folder: &Tenant, extra: &[&str]) -> String {
    folder.created(
        Create::qseow()
            .args(["--username", "Anna Anderson"])
            .args(extra),
    )
}

#[test]
fn qseow_accepts_a_good_token_and_shows_the_user() {
    let folder = TenantBuilder::new().behaviour(Behaviour::Qseow).start();
    let server = &folder.server;
    let token = qseow_token(&folder, &["--userdir", "GRUSGRUS", "--userid", "anna"]);
    let run = run(&mut folder.login_qseow(&token, &[]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    for line in [
        format!(
            "Accepted: the virtual proxy made a session at {}/jwt (HTTP 200)",
            server.url()
        ),
        "Name:           Anna Anderson".to_owned(),
        "User id:        anna".to_owned(),
        "User directory: GRUSGRUS".to_owned(),
        "Cookies:        X-Qlik-Session-jwt".to_owned(),
    ] {
        assert!(run.stdout.contains(&line), "{line} in {}", run.stdout);
    }
    let requests = server.requests();
    let about = &requests[0];
    let key = about.target.strip_prefix("/jwt/qrs/about?xrfkey=").unwrap();
    assert_eq!(key.len(), 16);
    assert_eq!(about.header("x-qlik-xrfkey"), Some(key));
    assert_eq!(
        about.header("authorization"),
        Some(&*format!("Bearer {token}"))
    );
    assert!(requests[1].target.starts_with("/jwt/qps/user"));
    assert_eq!(requests[1].header("authorization"), None);

    let json_run = run_json(&folder, &token);
    assert_eq!(json_run["accepted"], true);
    assert_eq!(
        json_run["user"],
        json!({"name": "Anna Anderson", "userDirectory": "GRUSGRUS", "userId": "anna"})
    );
}

fn run_json(folder: &Tenant, token: &str) -> Value {
    let run = run(&mut folder.login_qseow(token, &["--output", "json"]));
    accepted_json(&run.stdout)
}

#[test]
fn qseow_refusals_name_the_status_and_a_hint() {
    let folder = TenantBuilder::new().behaviour(Behaviour::Qseow).start();
    let cases: [(&str, String, &str, &str); 3] = [
        (
            "another audience",
            qseow_token(&folder, &["--audience", "other"]),
            "error: the virtual proxy rejected the token: HTTP 401",
            "the proxy gives no reason",
        ),
        (
            "a user without access",
            qseow_token(&folder, &["--userid", "nolicense"]),
            "error: the virtual proxy rejected the token: HTTP 403",
            "check the user's access",
        ),
        (
            "expired",
            qseow_expired(),
            "error: the virtual proxy rejected the token: HTTP 401",
            "the token expired at",
        ),
    ];
    for (what, token, line, hint) in cases {
        let run = run(&mut folder.login_qseow(&token, &[]));
        assert_eq!(run.code, 1, "{what}: {}", run.stderr);
        assert_eq!(run.stdout, "");
        let text = error_lines(run.stderr.as_bytes());
        assert!(text.contains(line), "{what}: {text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("hint: ") && l.contains(hint)),
            "{what}: {text}"
        );
    }
}

fn qseow_expired() -> String {
    let now = now();
    let key = EncodingKey::from_rsa_pem(fixture_text("rsa2048-pkcs8.pem").as_bytes()).unwrap();
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &json!({"userId": "anna", "userDirectory": "D", "aud": common::QSEOW_AUDIENCE,
                "iat": now - 7_200, "exp": now - 3_600}),
        &key,
    )
    .unwrap()
}

#[test]
fn qseows_redirect_to_a_login_page_means_no_session() {
    let folder = TenantBuilder::new().behaviour(Behaviour::Qseow).start();
    let server = &folder.server;
    let token = qseow_token(&folder, &[]);
    let mut cmd = folder.qs_jwt();
    cmd.args([
        "login-qseow",
        "--server",
        &format!("{}/forms", server.url()),
        "--jwt",
        &token,
        "--cacert",
        "ca.pem",
    ]);
    let run = run(&mut cmd);
    assert_eq!(run.code, 1);
    let text = error_lines(run.stderr.as_bytes());
    assert!(
        text.contains(&format!(
            "error: the virtual proxy answered HTTP 302, a redirect to \
             'https://127.0.0.1:{}/internal_forms_authentication/', and made no session",
            server.port
        )),
        "{text}"
    );
    assert!(text.contains("hint: a QSEoW proxy redirects"), "{text}");
    assert_eq!(server.requests().len(), 1, "the redirect was followed");
}

// ---- Usage ----

#[test]
fn usage_errors_exit_2() {
    let folder = tempfile::tempdir().unwrap();
    for args in [
        &[
            "login-qseow",
            "--server",
            "http://qlik.example.com/jwt",
            "--jwt",
            "a.b.c",
        ][..],
        &[
            "login-qseow",
            "--server",
            "qlik.example.com/jwt",
            "--jwt",
            "a.b.c",
        ],
        &["login-qscloud", "--tenant", "t.example.com"],
        &[
            "login-qscloud",
            "--tenant",
            "t",
            "--jwt",
            "a.b.c",
            "--timeout",
            "0s",
        ],
    ] {
        let output = qs_jwt(folder.path()).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty());
    }
}

// What an adversarial pass found, each fixed and tested here.

/// A jar name that is a device, a FIFO or a link would be replaced by the rename (as root,
/// `--cookie-jar /dev/null` replaced the system's /dev/null); a missing folder would fail only
/// after the one-time token was used. Both are told before anything is sent.
#[cfg(unix)]
#[test]
fn a_cookie_jar_that_cannot_be_written_is_refused_before_the_token_is_sent() {
    let folder = TenantBuilder::new().start();
    let server = &folder.server;
    let token = folder.created(anna());
    std::os::unix::fs::symlink("/dev/null", folder.path().join("null-link")).unwrap();
    let fifo = folder.path().join("fifo");
    assert!(
        common::command("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (jar, code, expected) in [
        ("null-link", 1, "is a symbolic link"),
        ("fifo", 1, "not a regular file"),
        (
            "missing/cookies.txt",
            1,
            "the folder 'missing' does not exist",
        ),
    ] {
        let result = run(&mut folder.login_qscloud(&token, &["--cookie-jar", jar]));
        assert_eq!(result.code, code, "{jar}: {}", result.stderr);
        assert!(result.stderr.contains(expected), "{jar}: {}", result.stderr);
    }
    assert!(server.requests().is_empty(), "the token was sent");
    assert!(
        fs::symlink_metadata(folder.path().join("null-link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_port_out_of_range_a_socks_proxy_and_a_huge_timeout_are_named_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let mut port = qs_jwt(dir.path());
    port.args([
        "login-qscloud",
        "--tenant",
        "127.0.0.1:99999",
        "--jwt",
        "a.b.c",
    ]);
    let result = run(&mut port);
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert!(
        result.stderr.contains("port outside 1 to 65535"),
        "{}",
        result.stderr
    );

    let token = Create::qscloud()
        .key_file(fixture("rsa2048-pkcs8.pem"))
        .run_in(dir.path())
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap();
    let mut socks = qs_jwt(dir.path());
    socks.env("ALL_PROXY", "socks5h://127.0.0.1:1080").args([
        "login-qscloud",
        "--tenant",
        "127.0.0.1:8443",
        "--jwt",
        token.trim(),
    ]);
    let result = run(&mut socks);
    assert_eq!(result.code, 1, "{}", result.stderr);
    assert!(
        result
            .stderr
            .contains("is a socks5h proxy; qs-jwt goes through an HTTP proxy"),
        "{}",
        result.stderr
    );

    let mut timeout = qs_jwt(dir.path());
    timeout.args([
        "login-qscloud",
        "--tenant",
        "h",
        "--jwt",
        "a.b.c",
        "--timeout",
        "500000000000y",
    ]);
    let result = run(&mut timeout);
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert!(result.stderr.contains("a day at most"), "{}", result.stderr);
}

/// A 2xx that sets no cookie made no session; a refusal whose body says nothing gets the
/// general hint, whole (the message shortener took the apostrophes in it for quotes).
#[test]
fn an_answer_without_a_session_cookie_is_no_session_and_hints_stay_whole() {
    let folder = TenantBuilder::new()
        .behaviour(Behaviour::Fixed(200, "{}"))
        .start();
    let token = folder.created(anna());
    let result = run(&mut folder.login_qscloud(&token, &[]));
    assert_eq!(result.code, 1, "{}", result.stderr);
    assert!(result.stdout.is_empty());
    assert!(
        result
            .stderr
            .contains("answered HTTP 200 but set no session cookie"),
        "{}",
        result.stderr
    );

    let folder = TenantBuilder::new()
        .behaviour(Behaviour::Fixed(401, "{}"))
        .start();
    let token = folder.created(anna());
    let result = run(&mut folder.login_qscloud(&token, &[]));
    assert_eq!(result.code, 1, "{}", result.stderr);
    let hint = result
        .stderr
        .lines()
        .find(|l| l.starts_with("hint: "))
        .unwrap_or_default()
        .to_owned();
    assert!(
        !hint.is_empty() && !hint.contains("characters)"),
        "{}",
        result.stderr
    );
}

/// A server that quotes the token back in its error does not make qs-jwt print it.
#[test]
fn a_token_quoted_back_by_the_server_is_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let token = String::from_utf8(
        Create::qscloud()
            .key_file(fixture("rsa2048-pkcs8.pem"))
            .run_in(dir.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let token = token.trim();
    let body: &'static str = Box::leak(
        json!({"errors": [{"code": "X", "title": "Bad", "detail": format!("token {token} is bad")}]})
            .to_string()
            .into_boxed_str(),
    );
    let folder = TenantBuilder::new()
        .behaviour(Behaviour::Fixed(401, body))
        .start();
    for output in ["text", "json"] {
        let result = run(&mut folder.login_qscloud(token, &["--output", output]));
        assert_eq!(result.code, 1);
        let signature = token.rsplit('.').next().unwrap();
        for shown in [&result.stdout, &result.stderr] {
            assert!(!shown.contains(signature), "{output}: {shown}");
        }
        assert!(
            result.stderr.contains("[the token]") || result.stdout.contains("[the token]"),
            "{output}: {}{}",
            result.stdout,
            result.stderr
        );
    }
}

// ---- Issue 17: what a login shows, and to whom ----

/// A Qlik Cloud token made in a folder of its own, before any server starts (a redirect that
/// quotes it is set up with it).
fn standalone_cloud_token() -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = anna()
        .key_file(fixture("rsa2048-pkcs8.pem"))
        .run_in(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Neither the token nor any part of it is in `shown`.
fn assert_no_token(token: &str, shown: &str, what: &str) {
    assert!(!shown.contains(token), "{what}: the token in {shown}");
    for part in token.split('.') {
        assert!(
            !shown.contains(part),
            "{what}: a part of the token in {shown}"
        );
    }
}

/// A server that answers the login with a redirect quoting the token, in the query or in the
/// path: the token shows in no field of any output, at any log level.
#[test]
fn a_token_in_a_redirect_is_never_shown() {
    let token = standalone_cloud_token();
    for (location, shown) in [
        (
            format!("https://idp.example.com/login?jwt={token}"),
            "https://idp.example.com/login",
        ),
        (
            format!("https://idp.example.com/login/{token}/next"),
            "https://idp.example.com/login/[the token]/next",
        ),
        (
            format!("https://idp.example.com/sso#id_token={token}"),
            "https://idp.example.com/sso",
        ),
    ] {
        let folder = TenantBuilder::new()
            .behaviour(Behaviour::RedirectTo(location.clone()))
            .start();
        for output in ["text", "json"] {
            let run = run(
                &mut folder.login_qscloud(&token, &["--output", output, "--loglevel", "debug"])
            );
            assert_eq!(run.code, 1, "{}", run.stderr);
            assert!(run.stderr.contains("DEBUG "), "{}", run.stderr);
            assert_no_token(&token, &run.stdout, &location);
            assert_no_token(&token, &run.stderr, &location);
            assert!(
                run.stderr
                    .contains(&format!("HTTP 302, a redirect to '{shown}', and made no")),
                "{location}: {}",
                run.stderr
            );
            if output == "json" {
                let json = accepted_json(&run.stdout);
                assert_eq!(json["error"]["location"], shown, "{json}");
            }
        }
    }
}

/// A password in --server or --tenant, or a key in a query, is never echoed; the host and the
/// path are.
#[test]
fn a_password_or_a_query_in_a_url_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let token = signed(KEY_ID, &cloud_claims());
    for (args, shown, secret) in [
        (
            vec![
                "login-qseow",
                "--server",
                "https://admin:Secr3t@qlik.example.com/jwt",
            ],
            "--server 'https://qlik.example.com/jwt' holds a user name or password",
            "Secr3t",
        ),
        (
            vec![
                "login-qseow",
                "--server",
                "https://admin:pa/ss@qlik.example.com/jwt",
            ],
            "--server 'https://qlik.example.com/jwt' holds a user name or password",
            "pa/ss",
        ),
        (
            vec![
                "login-qscloud",
                "--tenant",
                "admin:Secr3t@t.eu.qlikcloud.com",
            ],
            "--tenant 't.eu.qlikcloud.com' holds a user name or password",
            "Secr3t",
        ),
        (
            vec![
                "login-qseow",
                "--server",
                "https://qlik.example.com/jwt?apikey=hunter2",
            ],
            "--server 'https://qlik.example.com/jwt' has a query or a fragment",
            "hunter2",
        ),
        (
            vec![
                "login-qscloud",
                "--tenant",
                "http://u:Secr3t@t.eu.qlikcloud.com/?k=hunter2",
            ],
            "--tenant 'http://t.eu.qlikcloud.com/' holds a user name or password",
            "hunter2",
        ),
    ] {
        for output in ["text", "json"] {
            let mut cmd = qs_jwt(dir.path());
            cmd.args(&args)
                .args(["--jwt", &token, "--output", output, "--loglevel", "debug"]);
            let run = run(&mut cmd);
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert!(run.stderr.contains(shown), "{args:?}: {}", run.stderr);
            for text in [&run.stdout, &run.stderr] {
                assert!(!text.contains(secret), "{args:?}: {text}");
                assert!(!text.contains("Secr3t"), "{args:?}: {text}");
                assert_no_token(&token, text, &format!("{args:?}"));
            }
        }
    }
}

/// A self-signed server certificate (`openssl req -x509`, CA:TRUE) given to --cacert is that
/// server's pinned certificate: the login works, and its name and dates are still checked.
#[test]
fn a_self_signed_server_certificate_given_to_cacert_is_trusted() {
    use crate::common::ca::ServerCertificate;
    let folder = TenantBuilder::new()
        .certificate(ServerCertificate::self_signed(
            &["127.0.0.1", "localhost"],
            false,
        ))
        .start();
    let server = &folder.server;
    let token = folder.created(anna());
    let accepted = run(&mut folder.login_qscloud(&token, &["--loglevel", "debug"]));
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    assert!(
        accepted.stdout.starts_with("Accepted: "),
        "{}",
        accepted.stdout
    );
    assert_no_token(&token, &accepted.stdout, "stdout");
    assert_no_token(&token, &accepted.stderr, "stderr");

    // Without --cacert: said in words (webpki's CaUsedAsEndEntity), and what to give.
    let mut cmd = folder.qs_jwt();
    cmd.args(["login-qscloud", "--tenant", &server.url(), "--jwt", &token]);
    let unknown = run(&mut cmd);
    assert_eq!(unknown.code, 1);
    let text = error_lines(unknown.stderr.as_bytes());
    assert!(
        text.contains(&format!(
            "error: the certificate of 127.0.0.1:{} is self-signed or a certificate \
             authority's (it says CA:TRUE), not a server's",
            server.port
        )) && text.contains("give that very certificate with --cacert <file>"),
        "{text}"
    );
    assert!(
        !text.contains("CaUsedAsEndEntity") && !text.contains("Other("),
        "{text}"
    );

    // Pinned, but made out to another name: refused, naming the names it has.
    let folder = TenantBuilder::new()
        .certificate(ServerCertificate::self_signed(&["qlik.example.com"], false))
        .start();
    let other_name = &folder.server;
    let wrong_name = run(&mut folder.login_qscloud(&token, &[]));
    assert_eq!(wrong_name.code, 1);
    let text = error_lines(wrong_name.stderr.as_bytes());
    assert!(
        text.contains(&format!(
            "error: the certificate of 127.0.0.1:{} is made out to 'qlik.example.com', not to the \
             host given",
            other_name.port
        )),
        "{text}"
    );
    assert!(other_name.requests().is_empty(), "the token was sent");
}

/// An expired server certificate says since when, in words; no TLS error is a debug string.
#[test]
fn an_expired_server_certificate_says_since_when() {
    use crate::common::ca::ServerCertificate;
    let folder = TenantBuilder::new()
        .certificate(ServerCertificate::self_signed(&["127.0.0.1"], true))
        .start();
    let server = &folder.server;
    let token = signed(KEY_ID, &cloud_claims());
    for output in ["text", "json"] {
        let run = run(&mut folder.login_qscloud(&token, &["--output", output]));
        assert_eq!(run.code, 1, "{}", run.stderr);
        let text = error_lines(run.stderr.as_bytes());
        assert!(
            text.contains(&format!(
                "error: the certificate of 127.0.0.1:{} expired at 2021-01-01T00:00:00Z, ",
                server.port
            )) && text.contains(" ago"),
            "{text}"
        );
        assert!(
            text.contains("hint: the server needs a new certificate"),
            "{text}"
        );
        for debug_words in ["Other(", "Error(", "Context", "CertificateError"] {
            assert!(!text.contains(debug_words), "{text}");
        }
        if output == "json" {
            let json = accepted_json(&run.stdout);
            assert!(
                json["error"]["detail"]
                    .as_str()
                    .unwrap()
                    .contains("expired at 2021-01-01T00:00:00Z"),
                "{json}"
            );
        }
    }
    assert!(server.requests().is_empty(), "the token was sent");
}

/// With --output json, a failure without Qlik's answer (refused connection, timeout, a bad
/// --cacert, a token file that is not there) is one JSON object on stdout, with the keys of a
/// refused login's report; stderr keeps its error line.
#[test]
fn output_json_on_a_transport_failure_is_one_object() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let token = signed(KEY_ID, &cloud_claims());
    let mut cmd = qs_jwt(dir.path());
    cmd.args([
        "login-qscloud",
        "--tenant",
        &format!("https://127.0.0.1:{port}"),
        "--jwt",
        &token,
        "--output",
        "json",
        "--loglevel",
        "debug",
    ]);
    let refused = run(&mut cmd);
    assert_eq!(refused.code, 1);
    let json = accepted_json(&refused.stdout);
    assert_eq!(json["accepted"], false);
    assert_eq!(json["status"], Value::Null);
    assert_eq!(json["server"], format!("https://127.0.0.1:{port}"));
    assert_eq!(
        json["error"]["detail"],
        format!("cannot connect to 127.0.0.1:{port}: connection refused")
    );
    assert!(
        json["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("check the host")
    );
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(&json),
        [
            "accepted", "status", "server", "user", "cookies", "session", "engine", "error"
        ]
    );
    assert_eq!(
        keys(&json["error"]),
        [
            "status",
            "code",
            "title",
            "detail",
            "traceId",
            "location",
            "retryAfter",
            "hint"
        ]
    );
    assert!(
        refused.stderr.contains(&format!(
            "error: cannot connect to 127.0.0.1:{port}: connection refused"
        )),
        "{}",
        refused.stderr
    );
    assert_no_token(&token, &refused.stderr, "stderr");
    assert_no_token(&token, &refused.stdout, "stdout");

    // The same keys as a refused login's report, whose shape it copies.
    let folder = TenantBuilder::new()
        .behaviour(Behaviour::Fixed(401, r#"{"errors":[{"title":"no"}]}"#))
        .start();
    let rejected = run(&mut folder.login_qscloud(&token, &["--output", "json"]));
    let report = accepted_json(&rejected.stdout);
    assert_eq!(keys(&report), keys(&json));
    assert_eq!(keys(&report["error"]), keys(&json["error"]));

    // A failure before any connection, in login-qseow: a --jwt-file that is not there.
    let mut cmd = qs_jwt(dir.path());
    cmd.args([
        "login-qseow",
        "--server",
        "https://qlik.example.com/jwt",
        "--jwt-file",
        "missing.txt",
        "--output",
        "json",
    ]);
    let missing = run(&mut cmd);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    let json = accepted_json(&missing.stdout);
    assert_eq!(json["server"], "https://qlik.example.com/jwt");
    assert!(
        json["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("missing.txt"),
        "{json}"
    );
    assert!(missing.stderr.contains("error: "), "{}", missing.stderr);

    // Text output prints nothing on stdout, as before.
    let mut cmd = qs_jwt(dir.path());
    cmd.args([
        "login-qscloud",
        "--tenant",
        &format!("https://127.0.0.1:{port}"),
        "--jwt",
        &token,
    ]);
    let text = run(&mut cmd);
    assert_eq!(text.code, 1);
    assert_eq!(text.stdout, "");
}

/// create-* --output json and decode --minimal-output fail with one JSON object too.
#[test]
fn json_output_of_create_and_decode_on_a_failure_is_one_object() {
    let dir = tempfile::tempdir().unwrap();
    let create = run(&mut Create::qscloud()
        .args(["--output", "json", "--cert-privatekey-file", "missing.pem"])
        .run_in(dir.path()));
    assert_eq!(create.code, 1, "{}", create.stderr);
    let json = accepted_json(&create.stdout);
    assert!(
        json["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("missing.pem"),
        "{json}"
    );
    assert!(create.stderr.contains("error: "), "{}", create.stderr);

    let mut cmd = qs_jwt(dir.path());
    cmd.args(["decode", "--jwt", "not-a-token", "--minimal-output"]);
    let decode = run(&mut cmd);
    assert_eq!(decode.code, 1);
    let json = accepted_json(&decode.stdout);
    assert!(
        json["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("not a JWT"),
        "{json}"
    );
}

/// The text report names Qlik's traceId, which Qlik's support asks for.
#[test]
fn the_text_report_shows_qliks_trace_id() {
    let folder = TenantBuilder::new().start();
    let mut no_nbf = cloud_claims();
    no_nbf.as_object_mut().unwrap().remove("nbf");
    let token = signed(KEY_ID, &no_nbf);
    let text = run(&mut folder.login_qscloud(&token, &[]));
    assert_eq!(text.code, 1);
    let json = run(&mut folder.login_qscloud(&signed(KEY_ID, &no_nbf), &["--output", "json"]));
    let trace_id = accepted_json(&json.stdout)["error"]["traceId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!trace_id.is_empty());
    let lines = error_lines(text.stderr.as_bytes());
    assert!(lines.contains("(Qlik's traceId: "), "{lines}");
    assert!(json.stderr.contains("(Qlik's traceId: "), "{}", json.stderr);
    // The id itself, as Qlik wrote it, once error.rs's redaction no longer takes random-looking
    // ids for key text (issue 17, section 2, another branch): today the guess may hide it.
    if !json.stderr.contains("[key text redacted]") {
        assert!(
            json.stderr
                .contains(&format!("(Qlik's traceId: {trace_id})")),
            "{}",
            json.stderr
        );
    }
}

/// A create-qseow token sent to Qlik Cloud (and the reverse) is said so first, in one line,
/// with what to do: not a dozen rule warnings.
#[test]
fn a_token_for_the_other_platform_is_named_first() {
    let folder = TenantBuilder::new().start();
    let qseow = qseow_token(&folder, &[]);
    let run1 = run(&mut folder.login_qscloud(&qseow, &["--loglevel", "debug"]));
    assert_eq!(run1.code, 1);
    let warnings: Vec<&str> = run1
        .stderr
        .lines()
        .filter(|l| l.starts_with("WARN "))
        .collect();
    assert!(
        warnings[0].starts_with(
            "WARN this token was made for QSEoW (it has userId and userDirectory, no sub), not \
             for Qlik Cloud: make one with create-qscloud"
        ),
        "{}",
        run1.stderr
    );
    assert!(warnings.len() <= 2, "{}", run1.stderr);
    assert!(
        run1.stderr.contains("hint: this token was made for QSEoW"),
        "{}",
        run1.stderr
    );
    assert_no_token(&qseow, &run1.stderr, "stderr");

    let folder = TenantBuilder::new().behaviour(Behaviour::Qseow).start();
    let cloud = folder.created(anna());
    let run2 = run(&mut folder.login_qseow(&cloud, &[]));
    assert_eq!(run2.code, 1);
    let warnings: Vec<&str> = run2
        .stderr
        .lines()
        .filter(|l| l.starts_with("WARN "))
        .collect();
    assert!(
        warnings[0].starts_with(
            "WARN this token was made for Qlik Cloud (it has subType or Qlik Cloud's audience, \
             no userId), not for QSEoW: make one with create-qseow"
        ),
        "{}",
        run2.stderr
    );
    assert!(warnings.len() <= 2, "{}", run2.stderr);
}

/// --insecure's warning shows at every --loglevel.
#[test]
fn the_insecure_warning_survives_loglevel_error() {
    let folder = TenantBuilder::new().start();
    let server = &folder.server;
    let token = folder.created(anna());
    let mut cmd = folder.qs_jwt();
    cmd.args([
        "login-qscloud",
        "--tenant",
        &server.url(),
        "--jwt",
        &token,
        "--insecure",
        "--loglevel",
        "error",
    ]);
    let run = run(&mut cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "WARN --insecure: the certificate of {} is not verified",
            server.url()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}
