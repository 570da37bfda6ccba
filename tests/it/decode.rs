//! `qs-jwt decode`: what a user sees for good tokens, bad tokens and bad input.

use crate::common;

use std::fs;
use std::path::Path;
use std::time::UNIX_EPOCH;

use assert_cmd::Command;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use qs_jwt::qlik::rules::Profile;
use serde_json::{Value, json};

use crate::common::{
    Create, NOW, QLIK_CLOUD_AUDIENCE, QSEOW_AUDIENCE, error_lines, fails_cleanly, fixture,
    fixture_text, folder_with_key, now, qs_jwt, single_token,
};

fn decode(dir: &Path) -> Command {
    let mut cmd = qs_jwt(dir);
    cmd.arg("decode");
    cmd
}

/// A QSEoW token signed with the fixture key (rsa2048), whose public key and certificate are
/// fixtures too.
fn qseow_token(dir: &Path) -> String {
    let output = Create::qseow()
        .args(["--expires", "60m", "--groups", "g1", "g2"])
        .key_file("privatekey.pem")
        .run_in(dir)
        .output()
        .unwrap();
    assert!(output.status.success());
    single_token(&output.stdout)
}

fn qscloud_token(dir: &Path, expires: &str) -> String {
    let output = Create::qscloud()
        .args([
            "--issuer",
            "tenant.example",
            "--keyid",
            "kid-1",
            "--sub",
            "anna",
        ])
        .args(["--username", "Anna", "--useremail", "a@b.c"])
        .args(["--useremail-verified", "true", "--expires", expires])
        .key_file("privatekey.pem")
        .run_in(dir)
        .output()
        .unwrap();
    assert!(output.status.success());
    single_token(&output.stdout)
}

/// A token signed by the tests themselves, for what create never makes (expired, PS256, ES256).
fn signed(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
}

fn fixture_rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(fixture_text("rsa2048-pkcs8.pem").as_bytes()).unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Runs decode with `--minimal-output` and returns the JSON and the exit code.
fn json_report(dir: &Path, args: &[&str]) -> (Value, i32, String) {
    let output = decode(dir)
        .args(args)
        .arg("--minimal-output")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let stderr = String::from_utf8(output.stderr).unwrap();
    (report, output.status.code().unwrap(), stderr)
}

/// `json_report` for `token` verified with the key or certificate file `key`.
fn verified(dir: &Path, token: &str, key: &Path) -> (Value, i32, String) {
    let key = key.to_str().unwrap();
    json_report(dir, &["--jwt", token, "--cert-publickey-file", key])
}

#[test]
fn round_trip_qseow_verified_with_the_certificate() {
    let dir = folder_with_key();
    let token = qseow_token(dir.path());
    let cert = fixture("rsa2048-cert.pem");
    let output = decode(dir.path())
        .args(["--jwt", &token, "--cert-publickey-file"])
        .arg(&cert)
        .args(["--expected-audience", QSEOW_AUDIENCE, "--check", "qseow"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(output.stderr.is_empty(), "{:?}", output.stderr);
    for expected in [
        "Header:\n{\n  \"typ\": \"JWT\",\n  \"alg\": \"RS256\"\n}",
        "\"userId\": \"u\",\n  \"userDirectory\": \"D\",",
        "\"group\": [\n    \"g1\",\n    \"g2\"\n  ],",
        "Times (UTC):\n  iat  20",
        "Signature:  valid (RS256, a 2048-bit RSA key from the certificate)",
        "Now:        valid, expires in ",
        &format!("Audience:   {QSEOW_AUDIENCE} (matches --expected-audience)"),
        "Result:     valid",
        "Check qseow: passed, 6 rules",
        &format!("pass  aud is {QSEOW_AUDIENCE}"),
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    assert!(stdout.ends_with("present  [\"g1\",\"g2\"]\n"), "{stdout:?}");
}

#[test]
fn round_trip_qscloud_json_with_the_public_key_and_as_text() {
    let dir = folder_with_key();
    let token = qscloud_token(dir.path(), "30m");
    let public_file = fixture("rsa2048-public.pem");
    let public_text = fixture_text("rsa2048-public-pkcs1.pem");
    let by_file = [
        "--jwt",
        &token,
        "--cert-publickey-file",
        public_file.to_str().unwrap(),
    ];
    let by_text = ["--jwt", &token, "--cert-publickey", &public_text];
    for args in [&by_file[..], &by_text[..]] {
        let args = [args, &["--check", "qscloud"]].concat();
        let (report, code, stderr) = json_report(dir.path(), &args);
        assert_eq!(code, 0, "{report:#}");
        assert!(stderr.is_empty(), "{stderr}");
        assert_eq!(
            report["header"],
            json!({"typ": "JWT", "alg": "RS256", "kid": "kid-1"})
        );
        assert_eq!(report["payload"]["sub"], "anna");
        assert_eq!(report["payload"]["aud"], QLIK_CLOUD_AUDIENCE);
        let v = &report["verification"];
        assert_eq!(v["status"], "valid");
        assert_eq!(v["algorithm"], "RS256");
        assert_eq!(v["integrity"], true);
        assert_eq!(v["currentlyValid"], true);
        assert_eq!(v["keyId"], "kid-1");
        assert_eq!(v["audience"], QLIK_CLOUD_AUDIENCE);
        assert_eq!(v["issuer"], "tenant.example");
        assert!(v.get("audienceMatch").is_none() && v.get("reason").is_none());
        let exp = report["payload"]["exp"].as_u64().unwrap();
        assert_eq!(v["expiresAt"], humantime_date(exp));
        assert_eq!(v["notBefore"], humantime_date(exp - 1_800));
        assert_eq!(report["check"]["profile"], "qscloud");
        assert_eq!(report["check"]["passed"], true);
        assert_eq!(report["check"]["rules"].as_array().unwrap().len(), 16);
    }
}

fn humantime_date(seconds: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(seconds))
        .to_string()
}

#[test]
fn a_cert_create_token_verifies_with_the_cer_file_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let output = qs_jwt(dir.path())
        .args([
            "create-qscloud",
            "--issuer",
            "i",
            "--keyid",
            "k",
            "--expires",
            "5m",
        ])
        .args(["--cert-create", "--cert-create-expires-days", "30"])
        .output()
        .unwrap();
    let token = single_token(&output.stdout);
    let (report, code, _) = verified(dir.path(), &token, Path::new("publickey.cer"));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["verification"]["status"], "valid");
    assert!(report.get("check").is_none());

    // The same token against another key: the fixture's.
    let other = fixture("rsa2048-cert.pem");
    let (report, code, stderr) = verified(dir.path(), &token, &other);
    assert_eq!(code, 1);
    assert_eq!(report["verification"]["integrity"], false);
    assert_eq!(report["verification"]["status"], "invalid");
    let reason = report["verification"]["reason"].as_str().unwrap();
    assert!(reason.contains("signature does not match"), "{reason}");
    assert_eq!(
        error_lines(stderr.as_bytes()).trim_end(),
        format!("error: the token is invalid: {reason}")
    );
}

/// Exit 1, the reason on stdout's report and in the one error line.
fn assert_invalid(dir: &Path, token: &str, extra: &[&str], reason: &str) {
    let public = fixture("rsa2048-public.pem");
    let args = [
        &[
            "--jwt",
            token,
            "--cert-publickey-file",
            public.to_str().unwrap(),
        ],
        extra,
    ]
    .concat();
    let output = decode(dir).args(&args).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("Result:     INVALID: "), "{stdout}");
    assert!(stdout.contains(reason), "{reason:?} not in\n{stdout}");
    let error = error_lines(stderr.as_bytes());
    assert_eq!(error.lines().count(), 1, "one line: {error}");
    assert!(
        error.starts_with("error: the token is invalid: "),
        "{error}"
    );
    assert!(error.contains(reason), "{reason:?} not in {error}");

    let (report, code, _) = json_report(dir, &args);
    assert_eq!(code, 1);
    assert_eq!(report["verification"]["status"], "invalid");
    assert!(
        report["verification"]["reason"]
            .as_str()
            .unwrap()
            .contains(reason)
    );
}

#[test]
fn a_tampered_payload_is_invalid() {
    let dir = folder_with_key();
    let token = qseow_token(dir.path());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let (_, mut payload) = common::decode_parts(&token);
    payload["userId"] = json!("admin");
    parts[1] = b64(&payload);
    assert_invalid(
        dir.path(),
        &parts.join("."),
        &[],
        "the signature does not match",
    );
}

#[test]
fn alg_none_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let token = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&json!({"userId": "admin", "exp": now() + 600}))
    );
    assert_invalid(dir.path(), &token, &[], "unsigned (alg none)");
}

#[test]
fn an_hs256_token_signed_with_the_public_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // The key-confusion attack: the public key's own bytes as the HMAC secret.
    let secret = EncodingKey::from_secret(fixture_text("rsa2048-public.pem").as_bytes());
    let token = signed(Algorithm::HS256, &secret, &json!({"exp": now() + 600}));
    assert_invalid(dir.path(), &token, &[], "HS256, a shared-secret algorithm");
}

#[test]
fn an_expired_token_is_invalid_but_its_signature_holds() {
    let dir = tempfile::tempdir().unwrap();
    // 2d 3h 30m ago: the span shows two units, so the seconds that pass
    // between this line and the binary's clock cannot change the words.
    let exp = now() - (2 * 86_400 + 3 * 3_600 + 1_800);
    let token = signed(
        Algorithm::RS256,
        &fixture_rsa_key(),
        &json!({"iat": exp - 60, "exp": exp}),
    );
    assert_invalid(dir.path(), &token, &[], "expired 2d 3h ago, at ");
    let public = fixture("rsa2048-public.pem");
    let (report, _, _) = verified(dir.path(), &token, &public);
    assert_eq!(report["verification"]["integrity"], true);
    assert_eq!(report["verification"]["currentlyValid"], false);
    assert_eq!(report["verification"]["notBefore"], "N/A");
}

#[test]
fn a_token_not_yet_valid_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let nbf = now() + 7_200;
    let token = signed(
        Algorithm::RS256,
        &fixture_rsa_key(),
        &json!({"nbf": nbf, "exp": nbf + 60}),
    );
    assert_invalid(dir.path(), &token, &[], "not yet valid: valid from ");
}

#[test]
fn a_wrong_audience_is_invalid() {
    let dir = folder_with_key();
    let token = qseow_token(dir.path());
    assert_invalid(
        dir.path(),
        &token,
        &["--expected-audience", "other-proxy"],
        &format!("the audience (aud) is \"{QSEOW_AUDIENCE}\", not --expected-audience other-proxy"),
    );
}

#[test]
fn ps256_verifies_with_an_rsa_key_and_es256_with_an_ec_key() {
    let dir = tempfile::tempdir().unwrap();
    let claims = json!({"exp": now() + 600});
    let ps256 = signed(Algorithm::PS256, &fixture_rsa_key(), &claims);
    let (report, code, _) = verified(dir.path(), &ps256, &fixture("rsa2048-public.pem"));
    assert_eq!(
        (code, &report["verification"]["algorithm"]),
        (0, &json!("PS256"))
    );

    let ec = EncodingKey::from_ec_pem(fixture_text("ec-p256-pkcs8.pem").as_bytes()).unwrap();
    let es256 = signed(Algorithm::ES256, &ec, &claims);
    let ec_public = fixture("ec-p256-public.pem");
    let (report, code, _) = verified(dir.path(), &es256, &ec_public);
    assert_eq!(
        (code, &report["verification"]["algorithm"]),
        (0, &json!("ES256"))
    );

    // The key decides: an RS256 token is not checked with the EC key.
    let rs256 = signed(Algorithm::RS256, &fixture_rsa_key(), &claims);
    let (report, code, _) = verified(dir.path(), &rs256, &ec_public);
    assert_eq!(code, 1);
    let reason = report["verification"]["reason"].as_str().unwrap();
    assert_eq!(
        reason,
        "the token uses RS256, but the key is an EC P-256 key, which verifies ES256 only"
    );
}

#[test]
fn check_qscloud_passes_a_30_minute_token_and_fails_a_365_day_one() {
    let dir = folder_with_key();
    let short = qscloud_token(dir.path(), "30m");
    decode(dir.path())
        .args(["--jwt", &short, "--check", "qscloud"])
        .assert()
        .success();

    let long = qscloud_token(dir.path(), "365d");
    let output = decode(dir.path())
        .args(["--jwt", &long, "--check", "qscloud"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout.contains("Check qscloud: FAILED, 1 of 16 rules"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("FAIL  exp - nbf is at most 3600 seconds           31536000 seconds (365d)"),
        "{stdout}"
    );
    assert!(stdout.contains("Signature: not verified"), "{stdout}");
    assert_eq!(
        error_lines(&output.stderr).trim_end(),
        "error: --check qscloud: 1 of 16 rules fail: exp - nbf is at most 3600 seconds"
    );
}

#[test]
fn check_qscloud_fails_a_qseow_token_and_check_qseow_passes_it() {
    let dir = folder_with_key();
    let token = qseow_token(dir.path());
    let (report, code, _) = json_report(dir.path(), &["--jwt", &token, "--check", "qscloud"]);
    assert_eq!(code, 1);
    let failed: Vec<&str> = report["check"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["passed"] == false)
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    for rule in [
        "kid is present",
        "aud is qlik.api/login/jwt-session",
        "subType is user",
    ] {
        assert!(failed.contains(&rule), "{rule} should fail: {failed:?}");
    }
    assert_eq!(report["check"]["passed"], false);
    assert!(report.get("verification").is_none());

    let (report, code, _) = json_report(dir.path(), &["--jwt", &token, "--check", "qseow"]);
    assert_eq!(code, 0, "{report:#}");
    let rule = &report["check"]["rules"][2];
    assert_eq!(
        rule,
        &json!({"rule": "userId is a non-empty string", "passed": true, "detail": "\"u\""})
    );
}

#[test]
fn the_token_comes_from_a_file_or_standard_input_bearer_and_whitespace_ignored() {
    let dir = folder_with_key();
    let token = qseow_token(dir.path());
    fs::write(
        dir.path().join("token.txt"),
        format!("\n  Bearer {token}\r\n"),
    )
    .unwrap();
    let from_file = decode(dir.path())
        .args(["--jwt-file", "token.txt", "--minimal-output"])
        .output()
        .unwrap();
    assert!(from_file.status.success());
    let from_stdin = decode(dir.path())
        .args(["--jwt-file", "-", "--minimal-output"])
        .write_stdin(format!("Bearer {token}\n"))
        .output()
        .unwrap();
    assert!(from_stdin.status.success());
    assert_eq!(from_file.stdout, from_stdin.stdout);
    let report: Value = serde_json::from_slice(&from_file.stdout).unwrap();
    assert_eq!(report["payload"]["userId"], "u");
}

#[test]
fn malformed_tokens_get_one_line_naming_the_part_and_empty_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let object = b64(&json!({"alg": "RS256"}));
    let cases = [
        ("   ", "error: the token is empty"),
        (
            "abc",
            "error: the token is not a JWT: expected three parts separated by dots, found 1",
        ),
        (
            "a.b.c.d.e",
            "error: the token has five parts: it is an encrypted JWT (JWE)",
        ),
        (
            &format!("{object}.%%%.sig") as &str,
            "error: the token's payload (part 2) is not valid base64url",
        ),
        (
            &format!("e30!.{object}.sig"),
            "error: the token's header (part 1) is not valid base64url",
        ),
        (
            &format!("{}.{object}.sig", URL_SAFE_NO_PAD.encode("not json")),
            "error: the token's header (part 1) is not JSON",
        ),
        (
            &format!("{object}.{}.sig", b64(&json!("text"))),
            "error: the token's payload (part 2) is JSON but not an object",
        ),
        (
            &format!("{object}.{object}.s+g/"),
            "error: the token's signature (part 3) is not valid base64url",
        ),
    ];
    for (token, expected) in cases {
        let stderr = fails_cleanly(decode(dir.path()).args(["--jwt", token]), dir.path(), 1);
        let line = error_lines(stderr.as_bytes());
        assert_eq!(line.lines().count(), 1, "{token}: one line: {line}");
        assert!(line.starts_with(expected), "{token}: {line}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let public = fixture("rsa2048-public.pem");
    let public = public.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&[], "--jwt <token>"),
        (
            &["--jwt", "a.b.c", "--jwt-file", "t"],
            "cannot be used with",
        ),
        (
            &["--jwt", "a.b.c", "--expected-audience", "x"],
            "--cert-publickey-file",
        ),
        (
            &[
                "--jwt",
                "a.b.c",
                "--cert-publickey-file",
                public,
                "--cert-publickey",
                "x",
            ],
            "cannot be used with",
        ),
        (
            &["--jwt", "a.b.c", "--check", "qlik"],
            "invalid value 'qlik' for '--check",
        ),
    ];
    for (args, expected) in cases {
        let stderr = fails_cleanly(decode(dir.path()).args(args), dir.path(), 2);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn unreadable_or_wrong_keys_are_named() {
    let dir = folder_with_key();
    let token = qseow_token(dir.path());
    let cases = [
        (
            "missing.pem".to_owned(),
            "error: cannot read --cert-publickey-file 'missing.pem'",
        ),
        (
            fixture("rsa2048-pkcs8.pem").to_str().unwrap().to_owned(),
            "holds a private key; this option takes the certificate (or the public key)",
        ),
    ];
    for (file, expected) in cases {
        let stderr = fails_cleanly(
            decode(dir.path()).args(["--jwt", &token, "--cert-publickey-file", &file]),
            dir.path(),
            1,
        );
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("BEGIN"), "no key text: {stderr}");
    }
}

#[test]
fn folders_and_binary_files_are_named_like_the_key_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("folder")).unwrap();
    std::fs::write(dir.path().join("binary.der"), [0x30, 0x82, 0xff, 0xfe]).unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--jwt-file", "folder"],
            "error: --jwt-file 'folder' is a folder; give the token file in it",
        ),
        (
            &["--jwt", "e30.e30.", "--cert-publickey-file", "folder"],
            "error: --cert-publickey-file 'folder' is a folder",
        ),
        (
            &["--jwt", "e30.e30.", "--cert-publickey-file", "binary.der"],
            "error: --cert-publickey-file 'binary.der' is binary, not PEM text\nhint: if it is a DER certificate, convert it: openssl x509 -inform DER",
        ),
    ];
    for (args, expected) in cases {
        let stderr = fails_cleanly(decode(dir.path()).args(args), dir.path(), 1);
        assert!(stderr.starts_with(expected), "{args:?}: {stderr}");
    }
}

/// A token signed with the fixture key over exactly `header` and `payload` (RS256 signatures
/// are deterministic, so the token is the same on every run).
fn fixed_token(header: &Value, payload: &Value) -> String {
    let key = fixture_rsa_key();
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::RS256).unwrap();
    format!("{input}.{signature}")
}

/// decode's report for `token` at the fixed `NOW`, as people read it or as JSON.
fn report_at_now(
    token: &str,
    with_key: bool,
    audience: Option<&str>,
    profile: Option<Profile>,
) -> (String, String) {
    let parts = qs_jwt::token::parts(token).unwrap();
    let key = with_key.then(|| {
        qs_jwt::keys::verifying_key(None, Some(&fixture_text("rsa2048-cert.pem")))
            .unwrap()
            .unwrap()
    });
    let report =
        qs_jwt::commands::decode::report(parts, key.as_ref(), NOW, audience, None, profile);
    let mut human = qs_jwt::commands::decode::render(&report, key.as_ref(), false).unwrap();
    if let Some(failure) = report.failure() {
        human.push_str(&format!(
            "\n\n(stderr) {}",
            qs_jwt::error::render_failure(&failure, false)
        ));
    }
    let json = qs_jwt::commands::decode::render(&report, key.as_ref(), true).unwrap();
    (human + "\n", json + "\n")
}

/// What people read from decode, word for word, for fixed tokens and a fixed `now`: a change
/// of wording shows as a diff of tests/snapshots/decode/ (`SNAPSHOTS=overwrite` rewrites it).
#[test]
fn the_report_people_read_is_pinned() {
    let cloud = fixed_token(
        &json!({"alg": "RS256", "typ": "JWT", "kid": "my-key-id"}),
        &json!({
            "jti": "2f1c0a4e-fixed", "sub": "anna", "subType": "user", "name": "Anna Anderson",
            "email": "anna@grusgrus.com", "email_verified": true, "groups": ["sales", "emea"],
            "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 3_540,
            "aud": QLIK_CLOUD_AUDIENCE, "iss": "mytenant.eu.qlikcloud.com"
        }),
    );
    let (human, json) = report_at_now(&cloud, true, None, Some(Profile::Qscloud));
    snapbox::assert_data_eq!(
        human,
        snapbox::file!["../snapshots/decode/qscloud-valid.txt"]
    );
    snapbox::assert_data_eq!(
        json,
        snapbox::file!["../snapshots/decode/qscloud-valid.json.txt"]
    );

    let expired = fixed_token(
        &json!({"alg": "RS256", "typ": "JWT"}),
        &json!({
            "userId": "anna", "userDirectory": "GRUSGRUS", "group": ["g1", 2],
            "iat": NOW - 7_200, "exp": NOW - 3_600, "aud": "other-audience"
        }),
    );
    let (human, json) = report_at_now(&expired, true, Some("hdJh34wkK"), Some(Profile::Qseow));
    snapbox::assert_data_eq!(
        human,
        snapbox::file!["../snapshots/decode/qseow-failing.txt"]
    );
    snapbox::assert_data_eq!(
        json,
        snapbox::file!["../snapshots/decode/qseow-failing.json.txt"]
    );

    let (human, _) = report_at_now(&expired, false, None, None);
    snapbox::assert_data_eq!(human, snapbox::file!["../snapshots/decode/without-key.txt"]);
}
