//! Every example of the qs-jwt 1.x documentation (../shared/seeds/), run unchanged but for the
//! issuer, key id and audience placeholders: one JWT on stdout, every header field and claim as
//! documented, and a signature that verifies with the public key and with the certificate.

use std::fs;
use std::path::Path;

use crate::common::*;
use serde_json::{Value, json};

const ISSUER: &str = "mytenant.eu.qlikcloud.com";
const KEY_ID: &str = "qsjwt-test-key";
const SECONDS_365D: u64 = 365 * 86_400;

/// The options every Qlik Cloud example shares, before its key options.
#[rustfmt::skip]
fn qscloud_user_args() -> Vec<&'static str> {
    vec![
        "create-qscloud",
        "--username",
        "Anna Anderson",
        "--useremail",
        "anna@grusgrus.com",
        "--useremail-verified",
        "true",
        "--issuer",
        ISSUER,
        "--keyid",
        KEY_ID,
        "--expires",
        "365d",
    ]
}

/// Runs the binary and returns the token, checking exit 0 and that iat is the time of the run.
fn run(cmd: &mut assert_cmd::Command) -> (String, Value, Value, String) {
    let before = now();
    let output = cmd.output().unwrap();
    let after = now();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "exit {:?}: {stderr}",
        output.status.code()
    );
    let token = single_token(&output.stdout);
    let (header, payload) = decode_parts(&token);
    let iat = payload["iat"].as_u64().expect("iat is a number");
    assert!(
        (before..=after).contains(&iat),
        "iat {iat} not in {before}..={after}"
    );
    (token, header, payload, stderr)
}

fn assert_random_id(value: &Value) {
    let id = value.as_str().expect("a string");
    assert!(id.len() >= 22, "at least 128 bits: {id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "URL-safe: {id}"
    );
}

fn check_qscloud(header: &Value, payload: &Value, groups: Option<&[&str]>) {
    assert_eq!(
        header,
        &json!({"alg": "RS256", "typ": "JWT", "kid": KEY_ID})
    );
    let iat = payload["iat"].as_u64().unwrap();
    let mut expected = json!({
        "jti": payload["jti"], "sub": payload["sub"], "subType": "user",
        "name": "Anna Anderson", "email": "anna@grusgrus.com", "email_verified": true,
        "iat": iat, "nbf": iat, "exp": iat + SECONDS_365D,
        "aud": QLIK_CLOUD_AUDIENCE, "iss": ISSUER,
    });
    if let Some(groups) = groups {
        expected["groups"] = json!(groups);
    }
    assert_eq!(payload, &expected);
    assert_random_id(&payload["jti"]);
    assert_random_id(&payload["sub"]);
    assert_ne!(payload["jti"], payload["sub"]);
}

fn check_qscloud_stderr(stderr: &str) {
    assert!(
        stderr.contains(
            "WARN Qlik Cloud will reject this token: the rule \"exp - nbf is at most 3600 \
             seconds\" fails (seen: 31536000 seconds (365d)); use --expires 60m or less"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("--sub"),
        "the random subject is explained: {stderr}"
    );
}

fn check_qseow(header: &Value, payload: &Value) {
    assert_eq!(header, &json!({"alg": "RS256", "typ": "JWT"}));
    let iat = payload["iat"].as_u64().unwrap();
    assert_eq!(
        payload,
        &json!({
            "userId": "anna", "userDirectory": "GRUSGRUS", "name": "Anna Anderson",
            "email": "anna@grusgrus.com", "group": ["group1", "group 2"],
            "iat": iat, "exp": iat + SECONDS_365D, "aud": "hdJh34wkK",
        })
    );
}

fn verify_with_fixture_keys(token: &str, audience: &str) {
    verify_with_public_key(token, &fixture_text("rsa2048-public.pem"), audience);
    verify_with_certificate(token, &fixture_text("rsa2048-cert.pem"), audience);
}

/// The three files of mode 3, with the private key private, and a token they verify.
fn check_created_files(dir: &Path, prefix: &str, token: &str, audience: &str, stderr: &str) {
    let private = dir.join(format!("{prefix}privatekey.pem"));
    let public = dir.join(format!("{prefix}publickey.pem"));
    let certificate = dir.join(format!("{prefix}publickey.cer"));
    assert!(
        fs::read_to_string(&private)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let public = fs::read_to_string(&public).unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    let certificate = fs::read_to_string(&certificate).unwrap();
    assert!(certificate.starts_with("-----BEGIN CERTIFICATE-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "private key mode {mode:o}");
    }
    verify_with_public_key(token, &public, audience);
    verify_with_certificate(token, &certificate, audience);
    for name in ["privatekey.pem", "publickey.pem", "publickey.cer"] {
        assert!(
            stderr.contains(&format!("{prefix}{name}")),
            "stderr lists {name}: {stderr}"
        );
    }
    assert!(!stderr.contains("BEGIN PRIVATE KEY"), "{stderr}");
}

/// The QSEoW example of the seeds' README, with its key options replaced by `key`.
#[rustfmt::skip]
fn qseow_seed_args<'a>(key: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "create-qseow", "--userdir", "GRUSGRUS", "--userid", "anna",
        "--username", "Anna Anderson", "--useremail", "anna@grusgrus.com", "--audience", "hdJh34wkK",
    ];
    args.extend(key);
    args.extend(["--groups", "group1", "group 2", "--expires", "365d"]);
    args
}

#[test]
fn qseow_mode_1_existing_key_file() {
    let dir = folder_with_key();
    let args = qseow_seed_args(&["--cert-privatekey-file", "privatekey.pem"]);
    let (token, header, payload, _) = run(qs_jwt(dir.path()).args(args));
    check_qseow(&header, &payload);
    verify_with_fixture_keys(&token, "hdJh34wkK");
}

#[test]
fn qseow_mode_2_key_as_parameter() {
    let dir = folder_with_key();
    let key = fixture_text("rsa2048-pkcs8.pem");
    let args = qseow_seed_args(&["--cert-privatekey", key.trim_end()]);
    let (token, header, payload, _) = run(qs_jwt(dir.path()).args(args));
    check_qseow(&header, &payload);
    verify_with_fixture_keys(&token, "hdJh34wkK");
}

#[test]
fn qseow_mode_3_create_key_and_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let args = qseow_seed_args(&[
        "--cert-create",
        "true",
        "--cert-create-expires-days",
        "400",
        "--cert-file-prefix",
        "qsjwt_",
    ]);
    let (token, header, payload, stderr) = run(qs_jwt(dir.path()).args(args));
    check_qseow(&header, &payload);
    check_created_files(dir.path(), "qsjwt_", &token, "hdJh34wkK", &stderr);
}

#[test]
fn qscloud_mode_1_macos_key_file_with_groups() {
    let dir = folder_with_key();
    let mut args = qscloud_user_args();
    args.extend([
        "--cert-privatekey-file",
        "./privatekey.pem",
        "--groups",
        "group1",
        "group 2",
    ]);
    let (token, header, payload, stderr) = run(qs_jwt(dir.path()).args(args));
    check_qscloud(&header, &payload, Some(&["group1", "group 2"]));
    check_qscloud_stderr(&stderr);
    verify_with_fixture_keys(&token, QLIK_CLOUD_AUDIENCE);
}

#[test]
fn qscloud_mode_1_windows_key_file_without_groups() {
    let dir = folder_with_key();
    let mut args = qscloud_user_args();
    args.extend(["--cert-privatekey-file", "./privatekey.pem"]);
    let (token, header, payload, stderr) = run(qs_jwt(dir.path()).args(args));
    check_qscloud(&header, &payload, None);
    check_qscloud_stderr(&stderr);
    verify_with_fixture_keys(&token, QLIK_CLOUD_AUDIENCE);
}

/// `export QSJWTPRIVKEY=$(cat ./privatekey.pem)`, then `--cert-privatekey "$QSJWTPRIVKEY"`:
/// the variable is set and also passed on the command line, which is still one key source.
#[test]
fn qscloud_mode_2_macos_key_as_parameter_from_variable() {
    let dir = folder_with_key();
    let key = fixture_text("rsa2048-pkcs1.pem").trim_end().to_owned(); // $(cat) drops the newline
    let mut args = qscloud_user_args();
    args.extend(["--cert-privatekey", &key, "--groups", "group1", "group 2"]);
    let (token, header, payload, stderr) =
        run(qs_jwt(dir.path()).env("QSJWTPRIVKEY", &key).args(args));
    check_qscloud(&header, &payload, Some(&["group1", "group 2"]));
    check_qscloud_stderr(&stderr);
    verify_with_fixture_keys(&token, QLIK_CLOUD_AUDIENCE);
}

/// `$QSJWTPRIVKEY = Get-Content .\privatekey.pem -Raw` on Windows: CRLF line ends and the
/// trailing line break kept.
#[test]
fn qscloud_mode_2_windows_key_as_parameter_from_powershell() {
    let dir = folder_with_key();
    let key = fixture_text("rsa2048-pkcs8.pem").replace('\n', "\r\n");
    let mut args = qscloud_user_args();
    args.extend(["--cert-privatekey", &key, "--groups", "group1", "group 2"]);
    let (token, header, payload, _) = run(qs_jwt(dir.path()).args(args));
    check_qscloud(&header, &payload, Some(&["group1", "group 2"]));
    verify_with_fixture_keys(&token, QLIK_CLOUD_AUDIENCE);
}

/// The macOS and the Windows example of mode 3 have the same options.
#[test]
fn qscloud_mode_3_create_key_and_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = qscloud_user_args();
    args.extend([
        "--cert-create",
        "true",
        "--cert-create-expires-days",
        "400",
        "--cert-file-prefix",
        "qsjwt_",
        "--groups",
        "group1",
        "group 2",
    ]);
    let (token, header, payload, stderr) = run(qs_jwt(dir.path()).args(args));
    check_qscloud(&header, &payload, Some(&["group1", "group 2"]));
    check_qscloud_stderr(&stderr);
    check_created_files(dir.path(), "qsjwt_", &token, QLIK_CLOUD_AUDIENCE, &stderr);
}
