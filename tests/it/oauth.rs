//! setup-qscloud-oauth, oauth-qscloud, create-qseow --alg and decode --check qscloud-oauth, run
//! as a user runs them; the token requests go to the local stand-in of Qlik Cloud's
//! `POST /oauth/token` (tests/it/common/oauth_server.rs), which verifies assertions by Qlik's
//! published rules with jsonwebtoken, not with qs-jwt's code.

use crate::common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use assert_cmd::Command;
// For the independent thumbprint (Unix only: it runs python3).
#[cfg(unix)]
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::common::oauth_server::{OauthClient, OauthConfig};
use crate::common::qlik_server::Trust;
use crate::common::tenant::{Tenant, TenantBuilder};
use crate::common::{Create, decode_parts, fixture, fixture_text, now, qs_jwt, single_token};

const CLIENT_ID: &str = "0123456789abcdef0123456789abcdef";
const SECRET: &str = "s3cr3t-client-secret-value-of-qlik";

/// The JWK setup-qscloud-oauth prints for the fixture's key.
fn fixture_jwk(alg: &str) -> Value {
    let out = qs_jwt(Path::new("."))
        .args(["setup-qscloud-oauth", "--cert-publickey-file"])
        .arg(fixture("rsa2048-public.pem"))
        .args(["--alg", alg])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[cfg(unix)]
/// The RFC 7638 thumbprint, computed by python3's hashlib from the key's numbers read by
/// x509-parser: nothing of qs-jwt's.
fn independent_thumbprint(certificate: &str) -> (String, String, String) {
    let (_, pem) = x509_parser::pem::parse_x509_pem(certificate.as_bytes()).unwrap();
    let cert = pem.parse_x509().unwrap();
    let x509_parser::public_key::PublicKey::RSA(rsa) = cert.public_key().parsed().unwrap() else {
        panic!("not RSA")
    };
    let strip = |b: &[u8]| {
        let start = b.iter().position(|x| *x != 0).unwrap();
        URL_SAFE_NO_PAD.encode(&b[start..])
    };
    let (n, e) = (strip(rsa.modulus), strip(rsa.exponent));
    let script = format!(
        "import hashlib, base64, json\n\
         c = json.dumps({{'e': '{e}', 'kty': 'RSA', 'n': '{n}'}}, separators=(',', ':'), sort_keys=True)\n\
         print(base64.urlsafe_b64encode(hashlib.sha256(c.encode()).digest()).decode().rstrip('='))"
    );
    let out = common::command("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success());
    (
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        n,
        e,
    )
}

#[test]
#[cfg(unix)]
fn the_jwk_kid_is_the_rfc_7638_thumbprint_of_the_key() {
    if !crate::common::skip::require_tool("python3") {
        return;
    }
    let (thumbprint, n, e) = independent_thumbprint(&fixture_text("rsa2048-cert.pem"));
    let jwk = fixture_jwk("RS256");
    assert_eq!(
        jwk,
        json!({"kty": "RSA", "n": n, "e": e, "alg": "RS256", "use": "sig", "kid": thumbprint})
    );
    // The certificate gives the same key, and so the same key ID.
    let out = qs_jwt(Path::new("."))
        .args(["setup-qscloud-oauth", "--cert-publickey"])
        .arg(fixture_text("rsa2048-cert.pem"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let from_cert: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(from_cert, jwk);
}

#[test]
fn setup_takes_a_key_id_an_alg_and_prints_console_fields() {
    let out = qs_jwt(Path::new("."))
        .args(["setup-qscloud-oauth", "--keyid", "my-key", "--alg", "RS512"])
        .args(["--output", "console", "--cert-publickey-file"])
        .arg(fixture("rsa2048-cert.pem"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Key ID (kid):  my-key\n"), "{text}");
    assert!(text.contains("Algorithm:     RS512\n"), "{text}");
    assert!(text.contains(r#""use":"sig""#), "{text}");
}

#[test]
fn setup_refuses_small_and_non_rsa_keys_and_private_keys() {
    for (file, expected) in [
        (
            "rsa1024-public.pem",
            "a 1024-bit RSA key; Qlik Cloud takes 2048 bits at least",
        ),
        (
            "ec-p256-public.pem",
            "holds an EC P-256 key; Qlik Cloud takes RS256 or RS512 with an RSA key",
        ),
        ("rsa2048-pkcs8.pem", "holds a private key"),
    ] {
        let out = qs_jwt(Path::new("."))
            .args(["setup-qscloud-oauth", "--cert-publickey-file"])
            .arg(fixture(file))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{file}: {stderr}");
    }
}

#[test]
fn create_qseow_signs_with_rs384_and_rs512_and_decode_verifies_them() {
    let dir = tempfile::tempdir().unwrap();
    for alg in ["RS256", "RS384", "RS512"] {
        let out = Create::qseow()
            .key_file(fixture("rsa2048-pkcs8.pem"))
            .args(["--alg", alg])
            .run_in(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let token = single_token(&out.stdout);
        assert_eq!(decode_parts(&token).0["alg"], alg);
        qs_jwt(dir.path())
            .args([
                "decode",
                "--check",
                "qseow",
                "--jwt",
                &token,
                "--cert-publickey-file",
            ])
            .arg(fixture("rsa2048-public.pem"))
            .assert()
            .success();
    }
    // The default is unchanged.
    let out = Create::qseow()
        .key_file(fixture("rsa2048-pkcs8.pem"))
        .run_in(dir.path())
        .output()
        .unwrap();
    assert_eq!(decode_parts(&single_token(&out.stdout)).0["alg"], "RS256");
    let out = Create::qseow()
        .key_file(fixture("rsa2048-pkcs8.pem"))
        .args(["--alg", "ES256"])
        .run_in(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

fn assertion(extra: &[&str]) -> std::process::Output {
    qs_jwt(Path::new("."))
        .args(["oauth-qscloud", "--tenant", "mytenant.eu.qlikcloud.com/"])
        .args([
            "--client-id",
            CLIENT_ID,
            "--assertion-only",
            "--cert-privatekey-file",
        ])
        .arg(fixture("rsa2048-pkcs8.pem"))
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn the_assertion_follows_qliks_rules() {
    let started = now();
    let out = assertion(&[]);
    assert!(out.status.success(), "{out:?}");
    let token = single_token(&out.stdout);
    let (header, payload) = decode_parts(&token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], fixture_jwk("RS256")["kid"]);
    assert_eq!(payload["iss"], CLIENT_ID);
    assert_eq!(payload["sub"], CLIENT_ID);
    assert_eq!(
        payload["aud"],
        "https://mytenant.eu.qlikcloud.com/oauth/token"
    );
    let jti = payload["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 36);
    assert_eq!(&jti[14..15], "4", "a version 4 UUID: {jti}");
    let (iat, exp) = (
        payload["iat"].as_u64().unwrap(),
        payload["exp"].as_u64().unwrap(),
    );
    assert!(iat >= started && iat <= now());
    assert!(exp > iat && exp - iat <= 300);
    // Verified by jsonwebtoken with the public key.
    let key =
        jsonwebtoken::DecodingKey::from_rsa_pem(fixture_text("rsa2048-public.pem").as_bytes())
            .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["https://mytenant.eu.qlikcloud.com/oauth/token"]);
    jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();
    // Each assertion has its own jti.
    let again = decode_parts(&single_token(&assertion(&[]).stdout)).1;
    assert_ne!(again["jti"], payload["jti"]);

    let rs512 = single_token(&assertion(&["--alg", "RS512", "--keyid", "k2"]).stdout);
    let (header, _) = decode_parts(&rs512);
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("RS512"), Some("k2"))
    );
}

#[test]
fn decode_checks_an_assertion_against_the_same_rules() {
    let token = single_token(&assertion(&[]).stdout);
    let out = qs_jwt(Path::new("."))
        .args([
            "decode",
            "--check",
            "qscloud-oauth",
            "--minimal-output",
            "--jwt",
            &token,
        ])
        .args([
            "--expected-audience",
            "https://mytenant.eu.qlikcloud.com/oauth/token",
        ])
        .args(["--cert-publickey-file"])
        .arg(fixture("rsa2048-public.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["check"]["profile"], "qscloud-oauth");
    assert_eq!(report["check"]["passed"], true);

    // A Qlik Cloud login token is no assertion: the rules it breaks are named.
    let login = Create::qscloud()
        .key_file(fixture("rsa2048-pkcs8.pem"))
        .run_in(Path::new("."))
        .output()
        .unwrap();
    let login = single_token(&login.stdout);
    let out = qs_jwt(Path::new("."))
        .args(["decode", "--check", "qscloud-oauth", "--jwt", &login])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for rule in [
        "sub is the same as iss",
        "jti is a UUID",
        "aud is a tenant's token endpoint",
    ] {
        assert!(stderr.contains(rule), "{rule}: {stderr}");
    }
}

#[test]
fn assertion_only_needs_a_key_and_credentials_are_one_of_key_and_secret() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("secret.txt"), SECRET).unwrap();
    let base = [
        "oauth-qscloud",
        "--tenant",
        "t.example.com",
        "--client-id",
        CLIENT_ID,
    ];
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (
            &["--assertion-only", "--client-secret-file", "secret.txt"],
            None,
            "needs the client's private key",
        ),
        (&[], None, "no client credentials"),
        (
            &[
                "--client-secret-file",
                "secret.txt",
                "--cert-privatekey",
                "x",
            ],
            None,
            "give one",
        ),
        (&[], Some("both"), "are both set"),
    ];
    for (extra, env, expected) in cases {
        let mut cmd = qs_jwt(dir.path());
        cmd.args(base).args(extra);
        if env.is_some() {
            cmd.env("QLIK_CLIENT_SECRET", SECRET)
                .env("QSJWTPRIVKEY", "x");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
        assert!(!stderr.contains(SECRET));
    }
    // A secret typed where its file belongs is not echoed.
    let out = qs_jwt(dir.path())
        .args(base)
        .args(["--client-secret-file", SECRET])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("names no file") && !stderr.contains(SECRET),
        "{stderr}"
    );
}

/// A tenant with one client that holds the fixture's key (RS256, by its thumbprint) and a
/// secret, may use both grants, and two users.
fn tenant(configure: impl FnOnce(&mut OauthConfig)) -> Tenant {
    let mut config = OauthConfig {
        clients: vec![OauthClient {
            id: CLIENT_ID.to_owned(),
            secret: Some(SECRET.to_owned()),
            public_keys: vec![fixture_jwk("RS256")],
            client_credentials: true,
            impersonation: true,
            ..OauthClient::default()
        }],
        users: vec![("anna", "64d0f0a7a1b2c3d4e5f60718")],
        ..OauthConfig::default()
    };
    configure(&mut config);
    let tenant = TenantBuilder::new()
        .trust(Trust {
            oauth: config,
            ..Trust::default()
        })
        .start();
    fs::write(tenant.path().join("secret.txt"), format!("{SECRET}\n")).unwrap();
    tenant
}

/// `oauth-qscloud --tenant <stand-in> --cacert ca.pem --client-id <id>`, and `extra`.
fn token_request(tenant: &Tenant, extra: &[&str]) -> Command {
    let mut cmd = qs_jwt(tenant.path());
    cmd.arg("oauth-qscloud")
        .args(tenant.connection())
        .args(["--client-id", CLIENT_ID])
        .args(extra);
    cmd
}

fn with_key(extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--cert-privatekey-file".to_owned(),
        fixture("rsa2048-pkcs8.pem").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// The access token's payload (the stand-in's tokens are JWTs of its own).
fn access_token_payload(stdout: &[u8]) -> Value {
    decode_parts(&single_token(stdout)).1
}

#[test]
fn a_machine_token_with_a_key_or_a_secret() {
    let dir = tenant(|_| {});
    let server = &dir.server;
    let key_args = with_key(&[]);
    let key_args: Vec<&str> = key_args.iter().map(String::as_str).collect();
    let out = token_request(&dir, &key_args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let payload = access_token_payload(&out.stdout);
    assert_eq!(
        (payload["sub"].as_str(), payload["scope"].as_str()),
        (Some("client"), Some("user_default"))
    );
    let sent: Value = sent(&server.requests()[0]);
    assert_eq!(sent["grant_type"], "client_credentials");
    assert_eq!(
        sent["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert!(sent.get("client_secret").is_none());

    // The secret, from a file, from standard input and from QLIK_CLIENT_SECRET.
    for how in ["file", "stdin", "env"] {
        let mut cmd = token_request(&dir, &["--scope", "admin_classic user_default"]);
        match how {
            "file" => cmd.args(["--client-secret-file", "secret.txt"]),
            "stdin" => cmd
                .args(["--client-secret-file", "-"])
                .write_stdin(format!("{SECRET}\r\n")),
            _ => cmd.env("QLIK_CLIENT_SECRET", SECRET),
        };
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{how}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            access_token_payload(&out.stdout)["scope"],
            "admin_classic user_default"
        );
    }
}

#[test]
fn impersonation_by_subject_or_user_id_and_json_output() {
    let dir = tenant(|_| {});
    let server = &dir.server;
    let out = token_request(&dir, &["--client-secret-file", "secret.txt"])
        .args(["--impersonate-sub", "anna", "--output", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["token_type"], "bearer");
    assert_eq!(answer["expires_in"], 21_600);
    assert_eq!(
        decode_parts(answer["access_token"].as_str().unwrap()).1["sub"],
        "anna"
    );
    let sent: Value = sent(&server.requests()[0]);
    assert_eq!(sent["grant_type"], "urn:qlik:oauth:user-impersonation");
    assert_eq!(
        sent["user_lookup"],
        json!({"field": "subject", "value": "anna"})
    );

    let key_args = with_key(&["--impersonate-user-id", "64d0f0a7a1b2c3d4e5f60718"]);
    let key_args: Vec<&str> = key_args.iter().map(String::as_str).collect();
    let out = token_request(&dir, &key_args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        access_token_payload(&out.stdout)["userId"],
        "64d0f0a7a1b2c3d4e5f60718"
    );

    // Both at once is a usage error.
    let out = token_request(&dir, &key_args)
        .args(["--impersonate-sub", "anna"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Runs a request that Qlik refuses; returns stderr, after checking exit 1 and an empty stdout.
fn refused(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(!stderr.contains(SECRET), "{stderr}");
    stderr
}

#[test]
fn every_refusal_in_words_with_its_hint() {
    let dir = tenant(|config| {
        config.clients.push(OauthClient {
            id: "no-grants".to_owned(),
            secret: Some(SECRET.to_owned()),
            ..OauthClient::default()
        });
    });
    let key = |extra: &[&str]| {
        let args = with_key(extra);
        let mut cmd = token_request(&dir, &[]);
        cmd.args(args);
        cmd
    };
    let cases: Vec<(Command, &str, &str)> = vec![
        (
            key(&["--keyid", "other-key"]),
            "no public key with kid other-key",
            "whose kid is other-key: add the key's JWK",
        ),
        (
            key(&["--alg", "RS512"]),
            "alg RS512 is not the alg of the key",
            "--alg must be the alg",
        ),
        (
            key(&["--impersonate-sub", "nobody"]),
            "user not found",
            "a user who already exists",
        ),
        (
            {
                let mut cmd = token_request(&dir, &["--client-secret-file", "secret.txt"]);
                cmd.args(["--client-id", "no-grants"]);
                cmd
            },
            "unauthorized_client",
            "machine-to-machine client",
        ),
        (
            {
                let mut cmd = token_request(&dir, &["--client-secret-file", "secret.txt"]);
                cmd.args(["--client-id", "no-grants", "--impersonate-sub", "anna"]);
                cmd
            },
            "unauthorized_client",
            "allow user impersonation",
        ),
        (
            {
                let mut cmd = token_request(&dir, &[]);
                cmd.env("QLIK_CLIENT_SECRET", "not-the-secret-123");
                cmd
            },
            "wrong client secret",
            "check --client-id and the secret",
        ),
    ];
    for (mut cmd, error, hint) in cases {
        let stderr = refused(&mut cmd);
        assert!(
            stderr.contains("Qlik Cloud refused the token request"),
            "{stderr}"
        );
        assert!(stderr.contains(error), "{error}: {stderr}");
        assert!(
            stderr.contains("hint: ") && stderr.contains(hint),
            "{hint}: {stderr}"
        );
    }
}

#[test]
fn a_wrong_audience_and_clock_skew_get_their_hints() {
    // The tenant knows itself as 127.0.0.1; reached as localhost, the audience differs.
    let dir = tenant(|_| {});
    let server = &dir.server;
    let args = with_key(&[]);
    let stderr = refused(
        qs_jwt(dir.path())
            .args([
                "oauth-qscloud",
                "--client-id",
                CLIENT_ID,
                "--cacert",
                "ca.pem",
            ])
            .args(["--tenant", &format!("https://localhost:{}", server.port)])
            .args(&args),
    );
    assert!(stderr.contains("invalid aud"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "aud is https://localhost:{}/oauth/token",
            server.port
        )),
        "{stderr}"
    );

    let dir = tenant(|config| config.clock_ahead = 3_600);
    let stderr = refused(token_request(&dir, &[]).args(&args));
    assert!(stderr.contains("the assertion has expired"), "{stderr}");
    assert!(stderr.contains("check this machine's clock"), "{stderr}");
}

#[test]
fn a_429_is_waited_for_within_the_timeout() {
    let dir = tenant(|config| config.rate_limit = Some((1, "1")));
    let server = &dir.server;
    let args = with_key(&[]);
    let out = token_request(&dir, &[]).args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("HTTP 429") && stderr.contains("waiting 1s"),
        "{stderr}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    // The second request carries a new assertion: Qlik takes a jti once.
    let jti = |i: usize| {
        let body = sent(&requests[i]);
        decode_parts(body["client_assertion"].as_str().unwrap()).1["jti"].clone()
    };
    assert_ne!(jti(0), jti(1));

    let dir = tenant(|config| config.rate_limit = Some((1, "120")));
    let server = &dir.server;
    let stderr = refused(&mut token_request(
        &dir,
        &["--timeout", "5s", "--client-secret-file", "secret.txt"],
    ));
    assert!(
        stderr.contains("asks to wait 2m (Retry-After: 120), more than --timeout 5s leaves"),
        "{stderr}"
    );
    assert_eq!(server.requests().len(), 1);
}

/// Issue 26: no number a server sends can panic the wait (u64::MAX seconds overflowed), and
/// `Retry-After: 0` is waited for with a floor and a growing backoff, not asked again at once
/// (it sent 10,960 requests in 5 s): within --timeout 6s, a few requests, then a clean error.
/// (Waits of 1s, 2s, then 4s: 3 requests, or 2 on a machine that takes over 2s to send the
/// first; 6s rather than 3s keeps that true on a loaded one.)
#[test]
fn retry_after_of_any_size_neither_panics_nor_floods() {
    let dir = tenant(|config| config.rate_limit = Some((u32::MAX as _, "18446744073709551615")));
    let server = &dir.server;
    let out = token_request(&dir, &["--client-secret-file", "secret.txt"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Retry-After: 18446744073709551615"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(server.requests().len(), 1);

    let dir = tenant(|config| config.rate_limit = Some((u32::MAX as _, "0")));
    let server = &dir.server;
    let out = token_request(
        &dir,
        &["--timeout", "6s", "--client-secret-file", "secret.txt"],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("more than --timeout 6s leaves"), "{stderr}");
    let sent = server.requests().len();
    assert!((2..=3).contains(&sent), "{sent} requests");
}

#[test]
fn json_output_of_a_refusal_is_a_json_object() {
    let dir = tenant(|_| {});
    let out = token_request(&dir, &["--output", "json"])
        .env("QLIK_CLIENT_SECRET", "not-the-secret-123")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["status"], 401);
    assert_eq!(answer["error"]["code"], "invalid_client");
    assert!(
        answer["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("check --client-id")
    );
}

/// A tenant that cannot be reached still gets one JSON object with `--output json`, in the shape
/// of a refusal (status null), and `--insecure` is said even at `--loglevel error`.
#[test]
fn json_output_of_a_transport_failure_is_a_json_object_and_insecure_is_always_said() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = qs_jwt(dir.path())
        .args(["oauth-qscloud", "--tenant"])
        .arg(format!("https://127.0.0.1:{port}"))
        .args(["--client-id", CLIENT_ID, "--output", "json", "--insecure"])
        .args(["--loglevel", "error", "--timeout", "5s"])
        .env("QLIK_CLIENT_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["status"], Value::Null);
    assert_eq!(answer["error"]["code"], Value::Null);
    assert!(
        answer["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1"),
        "{answer}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WARN --insecure"), "{stderr}");
    assert!(!stderr.contains(SECRET) && !String::from_utf8_lossy(&out.stdout).contains(SECRET));
}

/// A client secret file others can read is said, as a key file is; an owner-only one is not.
#[cfg(unix)]
#[test]
fn a_client_secret_file_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tenant(|_| {});
    let secret = dir.path().join("secret.txt");
    for (mode, warned) in [(0o644, true), (0o600, false)] {
        fs::set_permissions(&secret, fs::Permissions::from_mode(mode)).unwrap();
        let out = token_request(&dir, &["--client-secret-file", "secret.txt"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.contains("--client-secret-file 'secret.txt' can be read by"),
            warned,
            "{mode:o}: {stderr}"
        );
        assert!(!stderr.contains(SECRET), "{stderr}");
    }
}

#[test]
fn no_secret_assertion_or_token_in_any_output_at_debug() {
    let dir = tenant(|_| {});
    let server = &dir.server;
    for credentials in [
        with_key(&[]),
        vec!["--client-secret-file".into(), "-".into()],
    ] {
        let mut child = common::command(env!("CARGO_BIN_EXE_qs-jwt"))
            .current_dir(dir.path())
            .arg("oauth-qscloud")
            .args(dir.connection())
            .args(["--client-id", CLIENT_ID])
            .args(["--loglevel", "debug", "--output", "json"])
            .args(&credentials)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(SECRET.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("DEBUG"), "{stderr}");
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        let token = answer["access_token"].as_str().unwrap();
        let sent: Value = sent(server.requests().last().unwrap());
        for secret in [
            SECRET,
            token,
            sent["client_assertion"].as_str().unwrap_or(SECRET),
        ] {
            assert!(!stderr.contains(secret), "{stderr}");
            // Not a part of it either (the assertion's signature).
            if let Some((_, signature)) = secret.rsplit_once('.') {
                assert!(!stderr.contains(signature), "{stderr}");
            }
        }
    }
}

#[test]
fn decode_tells_an_access_token_from_a_broken_one() {
    let dir = tenant(|_| {});
    let out = token_request(&dir, &["--client-secret-file", "secret.txt"])
        .output()
        .unwrap();
    let token = single_token(&out.stdout);
    let out = qs_jwt(dir.path())
        .args(["decode", "--jwt", &token])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("an OAuth access token"), "{stderr}");
    // With a key, the signature is not called forged: it is the tenant's own.
    let out = qs_jwt(dir.path())
        .args(["decode", "--jwt", &token, "--cert-publickey-file"])
        .arg(fixture("rsa2048-public.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("signed by the tenant"), "{stderr}");
    // A broken one is broken.
    let broken = format!("{}x", &token[..token.len() / 2]);
    let out = qs_jwt(dir.path())
        .args(["decode", "--jwt", &broken])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("access token"));
}

#[test]
fn a_client_without_the_keys_thumbprint_gets_a_hint_that_names_it() {
    let dir = tenant(|config| {
        let mut jwk = fixture_jwk("RS256");
        jwk["kid"] = json!("registered-by-hand");
        config.clients[0].public_keys = vec![jwk];
    });
    let args = with_key(&[]);
    let stderr = refused(token_request(&dir, &[]).args(&args));
    assert!(
        stderr.contains("no public key whose kid is the key's thumbprint (the default"),
        "{stderr}"
    );
    // With the kid the client has, the same key is taken.
    let args = with_key(&["--keyid", "registered-by-hand"]);
    token_request(&dir, &[]).args(&args).assert().success();
}

#[test]
fn key_text_in_a_name_is_refused_and_a_thumbprint_is_a_fine_key_id() {
    let pem = fixture_text("rsa2048-pkcs8.pem");
    // The key's lines without the BEGIN line (clap takes a value starting with - for a flag,
    // and refuses it, redacted).
    let body: String = pem.lines().skip(1).collect::<Vec<_>>().join("\n");
    let key_line = &pem.lines().nth(1).unwrap()[..20];
    for flag in ["--client-id", "--keyid"] {
        for (value, expected) in [
            (&body, "holds key text (a PEM block or a key's base64)"),
            (&pem, "unexpected argument"),
        ] {
            let out = assertion(&[flag, value]);
            assert_eq!(out.status.code(), Some(2), "{flag}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(expected), "{stderr}");
            assert!(!stderr.contains(key_line), "{stderr}");
        }
    }
    // The kid setup-qscloud-oauth printed, given back: taken as typed.
    let kid = fixture_jwk("RS256")["kid"].as_str().unwrap().to_owned();
    let out = assertion(&[
        "--keyid",
        &kid,
        "--client-id",
        "a3f1c9e07b2d4e5f8a6b1c0d9e8f7a6b",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        decode_parts(&single_token(&out.stdout)).0["kid"],
        kid.as_str()
    );
}

/// The stand-in takes a form body too, as RFC 6749 tools send it (curl -d), with an assertion
/// qs-jwt made offline; and refuses it a second time (the jti is used up).
#[test]
fn the_stand_in_takes_a_form_body_with_an_assertion_made_offline() {
    let token = single_token(
        &qs_jwt(Path::new("."))
            .args(["oauth-qscloud", "--tenant", "https://127.0.0.1:9"])
            .args(["--client-id", CLIENT_ID, "--assertion-only"])
            .arg("--cert-privatekey-file")
            .arg(fixture("rsa2048-pkcs8.pem"))
            .output()
            .unwrap()
            .stdout,
    );
    let config = OauthConfig {
        clients: vec![OauthClient {
            id: CLIENT_ID.to_owned(),
            public_keys: vec![fixture_jwk("RS256")],
            impersonation: true,
            ..OauthClient::default()
        }],
        users: vec![("anna", "u1")],
        ..OauthConfig::default()
    };
    let body = format!(
        "grant_type=urn%3Aqlik%3Aoauth%3Auser-impersonation&client_id={CLIENT_ID}\
         &client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer\
         &client_assertion={token}&user_lookup%5Bfield%5D=subject&user_lookup%5Bvalue%5D=anna"
    );
    let mut used = std::collections::HashSet::new();
    let form = "application/x-www-form-urlencoded";
    let answer = common::oauth_server::token(&config, form, &body, 9, &mut used, 0);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        decode_parts(answer.body["access_token"].as_str().unwrap()).1["sub"],
        "anna"
    );
    let again = common::oauth_server::token(&config, form, &body, 9, &mut used, 1);
    assert_eq!(again.status, 401);
    assert_eq!(again.body["error_description"], "jti was used before");
}

/// The fields of a token request as the stand-in read them (a form body's `user_lookup[...]`
/// as one object), and its media type checked: an assertion form-encoded, a secret JSON.
fn sent(request: &common::qlik_server::Recorded) -> Value {
    let content_type = request.header("content-type").unwrap_or_default();
    let fields = common::oauth_server::body_fields(content_type, &request.body)
        .expect("a JSON or form body");
    let expected = if fields.contains_key("client_assertion") {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    assert_eq!(content_type, expected, "{fields:?}");
    Value::Object(fields)
}

// Issue 29: OAuth by the letter.

#[test]
fn the_assertion_names_the_tenants_canonical_token_url() {
    let aud = |tenant: &str| {
        let out = qs_jwt(Path::new("."))
            .args([
                "oauth-qscloud",
                "--tenant",
                tenant,
                "--client-id",
                CLIENT_ID,
            ])
            .args(["--assertion-only", "--cert-privatekey-file"])
            .arg(fixture("rsa2048-pkcs8.pem"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{tenant}: {out:?}");
        decode_parts(&single_token(&out.stdout)).1["aud"].clone()
    };
    for tenant in [
        "MyTenant.EU.QlikCloud.com",
        "https://mytenant.eu.qlikcloud.com:443",
        "mytenant.eu.qlikcloud.com.",
        "HTTPS://MYTENANT.EU.QLIKCLOUD.COM.:443/",
    ] {
        assert_eq!(
            aud(tenant),
            "https://mytenant.eu.qlikcloud.com/oauth/token",
            "{tenant}"
        );
    }
    assert_eq!(
        aud("mytenant.eu.qlikcloud.com:8443"),
        "https://mytenant.eu.qlikcloud.com:8443/oauth/token"
    );
}

#[test]
fn a_path_on_tenant_is_a_usage_error_naming_it_in_every_qlik_cloud_command() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("token.jwt"), "a.b.c").unwrap();
    let key = fixture("rsa2048-pkcs8.pem").display().to_string();
    let cert = fixture("rsa2048-cert.pem").display().to_string();
    let commands: [Vec<&str>; 3] = [
        vec![
            "oauth-qscloud",
            "--client-id",
            CLIENT_ID,
            "--assertion-only",
            "--cert-privatekey-file",
            &key,
        ],
        vec!["login-qscloud", "--jwt-file", "token.jwt"],
        vec![
            "setup-qscloud",
            "--issuer",
            "i",
            "--keyid",
            "k",
            "--apply",
            "--cert-publickey-file",
            &cert,
        ],
    ];
    for args in commands {
        let mut cmd = qs_jwt(dir.path());
        cmd.args(&args);
        let out = cmd
            .args(["--tenant", "https://mytenant.eu.qlikcloud.com/x"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("--tenant 'https://mytenant.eu.qlikcloud.com/x' has a path ('/x')"),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn assertion_only_with_json_output_is_one_object() {
    let out = assertion(&["--output", "json"]);
    assert!(out.status.success(), "{out:?}");
    let object: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = object
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        ["assertion", "kid", "alg", "jti", "exp", "token_url"]
    );
    let (header, payload) = decode_parts(object["assertion"].as_str().unwrap());
    assert_eq!(object["kid"], header["kid"]);
    assert_eq!(object["kid"], fixture_jwk("RS256")["kid"]);
    assert_eq!(object["alg"], "RS256");
    assert_eq!(object["jti"], payload["jti"]);
    assert_eq!(object["exp"], payload["exp"]);
    assert_eq!(
        object["token_url"],
        "https://mytenant.eu.qlikcloud.com/oauth/token"
    );
    assert_eq!(object["token_url"], payload["aud"]);
}

/// An unsigned token of this header and payload (decode --check needs no signature).
fn unsigned(header: &Value, payload: &Value) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.c2ln", b64(header), b64(payload))
}

/// decode --check qscloud-oauth's report as JSON, and its exit code.
fn oauth_check(token: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let out = qs_jwt(Path::new("."))
        .args(["decode", "--check", "qscloud-oauth", "--minimal-output"])
        .args(["--jwt", token])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

fn failed_rules(report: &Value) -> Vec<String> {
    report["check"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["passed"] == false)
        .map(|r| r["rule"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn decode_checks_the_audience_the_lifetime_and_the_algorithm_as_qlik_does() {
    // Every token lives the 300 s the rule allows, so the runs below may take minutes
    // before "exp is not past" fails too.
    let now = now();
    let claims = |aud: &str, iat: u64, exp: u64| {
        json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": aud,
               "jti": "0f8fad5b-d9cb-469f-a165-70867728950e", "iat": iat, "exp": exp})
    };
    let header = json!({"alg": "RS256", "kid": "k"});
    let good = "https://mytenant.eu.qlikcloud.com/oauth/token";
    let (code, report) = oauth_check(&unsigned(&header, &claims(good, now, now + 300)), &[]);
    assert_eq!(code, Some(0), "{report}");

    let audience = "aud is a tenant's token endpoint, https://<tenant>/oauth/token";
    for aud in [
        "https:///oauth/token",
        "https://evil.example.com/x/oauth/token",
        "https://MyTenant.eu.qlikcloud.com/oauth/token",
        "https://mytenant.eu.qlikcloud.com:443/oauth/token",
    ] {
        let (code, report) = oauth_check(&unsigned(&header, &claims(aud, now, now + 300)), &[]);
        assert_eq!(code, Some(1), "{aud}");
        assert_eq!(failed_rules(&report), [audience], "{aud}");
    }

    // With --tenant, that tenant's token URL exactly, however the tenant is typed.
    let token = unsigned(&header, &claims(good, now, now + 300));
    let (code, _) = oauth_check(&token, &["--tenant", "MyTenant.EU.QlikCloud.com:443"]);
    assert_eq!(code, Some(0));
    let (code, report) = oauth_check(&token, &["--tenant", "other.eu.qlikcloud.com"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        failed_rules(&report),
        ["aud is https://other.eu.qlikcloud.com/oauth/token"]
    );

    let lifetime = "exp is after iat, at most 300 seconds";
    for (iat, exp) in [(now, now - 1), (now, now), (now - 10, now + 300)] {
        let (code, report) = oauth_check(&unsigned(&header, &claims(good, iat, exp)), &[]);
        assert_eq!(code, Some(1));
        assert!(
            failed_rules(&report).contains(&lifetime.to_owned()),
            "{report}"
        );
    }

    for alg in ["RS384", "ES256", "PS256", "HS256"] {
        let header = json!({"alg": alg, "kid": "k"});
        let (code, report) = oauth_check(&unsigned(&header, &claims(good, now, now + 300)), &[]);
        assert_eq!(code, Some(1), "{alg}");
        assert_eq!(
            failed_rules(&report),
            ["alg is RS256, RS512, ES384"],
            "{alg}"
        );
    }

    // --tenant is for this check only.
    let out = qs_jwt(Path::new("."))
        .args(["decode", "--check", "qscloud", "--tenant", "t.example.com"])
        .args(["--jwt", &token])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--check qscloud-oauth"));
}

/// RFC 7638 for an EC key, computed here from the certificate's point: SHA-256 over
/// `{"crv":"P-384","kty":"EC","x":..,"y":..}` (members in that order, no blanks), base64url.
/// Returns the thumbprint, x and y.
fn independent_ec_thumbprint(certificate: &str) -> (String, String, String) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (_, pem) = x509_parser::pem::parse_x509_pem(certificate.as_bytes()).unwrap();
    let cert = pem.parse_x509().unwrap();
    let point = cert.public_key().subject_public_key.data.to_vec();
    assert_eq!(
        (point.len(), point[0]),
        (97, 4),
        "an uncompressed P-384 point"
    );
    let (x, y) = (b64.encode(&point[1..49]), b64.encode(&point[49..]));
    let canonical = format!(r#"{{"crv":"P-384","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    (b64.encode(digest.as_ref()), x, y)
}

#[test]
fn an_es384_client_end_to_end() {
    // The key, made by --cert-create as a user makes it (an assertion is made on the way).
    let keys = tempfile::tempdir().unwrap();
    let out = qs_jwt(keys.path())
        .args(["oauth-qscloud", "--tenant", "mytenant.eu.qlikcloud.com"])
        .args(["--client-id", CLIENT_ID, "--assertion-only"])
        .args(["--cert-create", "--cert-create-key-type", "ec-p384"])
        .args(["--cert-create-expires-days", "30"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (header, _) = decode_parts(&single_token(&out.stdout));
    assert_eq!(header["alg"], "ES384");
    let pem = fs::read_to_string(keys.path().join("privatekey.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8");

    // Its JWK, from setup-qscloud-oauth, checked against RFC 7638 computed here.
    let out = qs_jwt(keys.path())
        .args([
            "setup-qscloud-oauth",
            "--cert-publickey-file",
            "publickey.cer",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let jwk: Value = serde_json::from_slice(&out.stdout).unwrap();
    let certificate = fs::read_to_string(keys.path().join("publickey.cer")).unwrap();
    let (thumbprint, x, y) = independent_ec_thumbprint(&certificate);
    assert_eq!(
        jwk,
        json!({"kty": "EC", "crv": "P-384", "x": x, "y": y, "alg": "ES384", "use": "sig",
               "kid": thumbprint})
    );
    assert_eq!(header["kid"], thumbprint);
    fs::write(keys.path().join("jwk.json"), &out.stdout).unwrap();

    // The client holds that JWK alone; the stand-in verifies with jsonwebtoken.
    let jwk_file = keys.path().join("jwk.json");
    let dir = tenant(|config| {
        config.clients[0].public_keys.clear();
        config.clients[0].public_key_file = Some(jwk_file);
    });
    let server = &dir.server;
    let key = keys.path().join("privatekey.pem").display().to_string();
    let out = token_request(&dir, &["--cert-privatekey-file", &key])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(access_token_payload(&out.stdout)["sub"], "client");
    let out = token_request(&dir, &["--cert-privatekey-file", &key])
        .args(["--impersonate-sub", "anna"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(access_token_payload(&out.stdout)["sub"], "anna");
    let sent = sent(&server.requests()[1]);
    assert_eq!(
        sent["user_lookup"],
        json!({"field": "subject", "value": "anna"})
    );
    let (header, payload) = decode_parts(sent["client_assertion"].as_str().unwrap());
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("ES384"), Some(thumbprint.as_str()))
    );
    assert_eq!(
        payload["aud"],
        format!("https://127.0.0.1:{}/oauth/token", server.port)
    );
    // With the key RSA-keyed, the same client refuses: the ES384 key is what it holds.
    let stderr = refused(&mut token_request(
        &dir,
        &with_key(&[]).iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert!(stderr.contains("no public key with kid"), "{stderr}");
}

#[test]
fn ec_p384_keys_are_read_as_pkcs8_sec1_and_encrypted_pkcs8() {
    let public = fixture("ec-p384-public.pem");
    for (file, passphrase) in [
        ("ec-p384-pkcs8.pem", None),
        ("ec-p384-sec1.pem", None),
        ("ec-p384-encrypted-pkcs8.pem", Some("fixture")),
    ] {
        let mut cmd = qs_jwt(Path::new("."));
        cmd.args([
            "oauth-qscloud",
            "--tenant",
            "t.example.com",
            "--client-id",
            CLIENT_ID,
        ])
        .args(["--assertion-only", "--cert-privatekey-file"])
        .arg(fixture(file));
        if let Some(passphrase) = passphrase {
            cmd.env("QSJWTPASSPHRASE", passphrase);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{file}: {out:?}");
        let token = single_token(&out.stdout);
        let out = qs_jwt(Path::new("."))
            .args(["decode", "--minimal-output", "--check", "qscloud-oauth"])
            .args([
                "--tenant",
                "t.example.com",
                "--jwt",
                &token,
                "--cert-publickey-file",
            ])
            .arg(&public)
            .output()
            .unwrap();
        assert!(out.status.success(), "{file}: {out:?}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["verification"]["algorithm"], "ES384", "{file}");
        assert_eq!(report["check"]["passed"], true, "{file}");
    }
}

#[test]
fn what_qlik_does_not_take_is_refused_before_any_request() {
    let dir = tenant(|_| {});
    let server = &dir.server;
    let ec = fixture("ec-p384-pkcs8.pem").display().to_string();
    let rsa = fixture("rsa2048-pkcs8.pem").display().to_string();
    let qlik_takes = "Qlik Cloud takes RS256 or RS512 with an RSA key of 2048 bits or more, or \
                      ES384 with an EC P-384 key";
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec![
                "--cert-privatekey-file".into(),
                rsa.clone(),
                "--alg".into(),
                "RS384".into(),
            ],
            2,
            "[possible values: RS256, RS512, ES384]",
        ),
        (
            vec![
                "--cert-privatekey-file".into(),
                rsa.clone(),
                "--alg".into(),
                "ES384".into(),
            ],
            2,
            qlik_takes,
        ),
        (
            vec![
                "--cert-privatekey-file".into(),
                ec.clone(),
                "--alg".into(),
                "RS256".into(),
            ],
            2,
            qlik_takes,
        ),
        (
            vec![
                "--cert-privatekey-file".into(),
                fixture("rsa1024.pem").display().to_string(),
            ],
            1,
            "1024-bit RSA key; Qlik needs at least 2048 bits",
        ),
        (
            vec![
                "--cert-privatekey-file".into(),
                fixture("ec-p256-pkcs8.pem").display().to_string(),
            ],
            1,
            "an EC key on curve P-256",
        ),
        (
            vec![
                "--cert-privatekey-file".into(),
                fixture("ec-p256-sec1.pem").display().to_string(),
            ],
            1,
            "an EC key on curve P-256",
        ),
        (
            vec![
                "--cert-privatekey-file".into(),
                fixture("ed25519.pem").display().to_string(),
            ],
            1,
            "Ed25519",
        ),
    ];
    for (args, code, expected) in cases {
        let out = token_request(&dir, &[]).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        if expected.contains("P-256") {
            assert!(stderr.contains(qlik_takes), "{stderr}");
        }
        assert!(out.stdout.is_empty());
    }
    assert!(server.requests().is_empty(), "nothing was sent");

    // setup-qscloud-oauth: the same words for a public key Qlik does not take.
    for (args, code, expected) in [
        (
            vec!["--cert-publickey-file", "ec-p256-public.pem"],
            1,
            "an EC P-256 key",
        ),
        (
            vec![
                "--cert-publickey-file",
                "ec-p384-public.pem",
                "--alg",
                "RS512",
            ],
            2,
            qlik_takes,
        ),
        (
            vec![
                "--cert-publickey-file",
                "rsa2048-public.pem",
                "--alg",
                "ES384",
            ],
            2,
            qlik_takes,
        ),
        (
            vec![
                "--cert-publickey-file",
                "rsa2048-public.pem",
                "--alg",
                "RS384",
            ],
            2,
            "possible values",
        ),
        (
            vec!["--cert-publickey-file", "rsa1024-public.pem"],
            1,
            "2048 bits at least",
        ),
    ] {
        let out = qs_jwt(&fixture(""))
            .arg("setup-qscloud-oauth")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        if code == 1 && expected.contains("EC") {
            assert!(stderr.contains(qlik_takes), "{stderr}");
        }
    }

    // QSEoW and Qlik Cloud JWT logins keep RSA, and say what an EC key is for.
    for create in [Create::qscloud(), Create::qseow()] {
        let out = create
            .key_file(fixture("ec-p384-pkcs8.pem"))
            .run_in(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("need an RSA private key (an EC P-384 key signs only Qlik Cloud OAuth client assertions"),
            "{stderr}"
        );
    }
}
