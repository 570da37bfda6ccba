//! setup-qscloud and setup-qseow: the bodies field by field and against the schemas Qlik
//! publishes (tests/fixtures/qlik/, transcribed with their sources), the console fields word for
//! word, the refusals, and the round trip: a token made with the same issuer, key id or audience
//! passes decode with the certificate the body carries.

mod common;

use std::fs;
use std::path::Path;

use common::{Create, error_lines, fails_cleanly, fixture, fixture_text, qs_jwt, single_token};
// For the test that runs openssl as qs-jwt's hint prints it (Linux only).
#[cfg(target_os = "linux")]
use common::{succeeds, verify_with_certificate};
use serde_json::Value;

fn schema(name: &str) -> jsonschema::Validator {
    let text = fixture_text(&format!("qlik/{name}"));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, body: &Value) {
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{body:#}");
}

/// Runs a setup command that must succeed; returns stdout and stderr.
fn setup(dir: &Path, args: &[&str]) -> (String, String) {
    let output = qs_jwt(dir).args(args).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    (String::from_utf8(output.stdout).unwrap(), stderr)
}

fn cert() -> String {
    fixture("rsa2048-cert.pem").display().to_string()
}

#[test]
fn qscloud_body_is_what_the_identity_providers_api_takes() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = setup(
        dir.path(),
        &[
            "setup-qscloud",
            "--issuer",
            "t.example",
            "--keyid",
            "k1",
            "--cert-publickey-file",
            &cert(),
        ],
    );
    let body: Value = serde_json::from_str(&stdout).unwrap();
    assert_valid(&schema("identity-providers-create-jwt.schema.json"), &body);
    assert_eq!(body["provider"], "external");
    assert_eq!(body["protocol"], "jwtAuth");
    assert_eq!(body["interactive"], false);
    assert_eq!(body["active"], true);
    assert_eq!(
        body["description"],
        "JWT login for t.example, key k1 (qs-jwt)"
    );
    assert_eq!(body["options"]["jwtLoginEnabled"], true);
    assert_eq!(body["options"]["issuer"], "t.example");
    let keys = body["options"]["staticKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], "k1");
    // One line, as Qlik Cloud wants it: the certificate with its line breaks taken out.
    let one_line: String = fixture_text("rsa2048-cert.pem").lines().collect();
    assert_eq!(keys[0]["pem"], one_line.as_str());
    assert!(stderr.contains("/api/v1/identity-providers"), "{stderr}");
    // The curl line reads the variable the tool reads, and the file docs/qlik-setup.md writes.
    assert!(
        stderr.contains("save the body in idp.json")
            && stderr.contains("\"Authorization: Bearer $QLIK_API_KEY\"")
            && stderr.contains("--data @idp.json;"),
        "{stderr}"
    );
}

#[test]
fn qscloud_console_shows_the_form_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = setup(
        dir.path(),
        &[
            "setup-qscloud",
            "--issuer",
            "t.example",
            "--keyid",
            "k1",
            "--cert-publickey-file",
            &cert(),
            "--output",
            "console",
            "--description",
            "Web app",
        ],
    );
    snapbox::assert_data_eq!(
        stdout,
        snapbox::file!["snapshots/setup/qscloud-console.txt"]
    );
    // The API's curl line goes with --output json only: the console's fields are pasted.
    assert!(
        !stderr.contains("curl") && !stderr.contains("/api/v1/identity-providers"),
        "{stderr}"
    );
}

#[test]
fn qseow_body_is_what_the_repository_api_takes() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = setup(
        dir.path(),
        &[
            "setup-qseow",
            "--audience",
            "hdJh34wkK",
            "--prefix",
            "/corp-jwt",
            "--cert-publickey-file",
            &cert(),
        ],
    );
    let body: Value = serde_json::from_str(&stdout).unwrap();
    assert_valid(&schema("virtualproxyconfig-jwt.schema.json"), &body);
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
    let (stdout, _) = setup(
        dir.path(),
        &[
            "setup-qseow",
            "--audience",
            "hdJh34wkK",
            "--cert-publickey-file",
            &cert(),
            "--output",
            "console",
        ],
    );
    snapbox::assert_data_eq!(stdout, snapbox::file!["snapshots/setup/qseow-console.txt"]);
}

#[test]
fn what_qlik_cannot_use_is_refused_or_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let public = fixture("rsa2048-public.pem").display().to_string();
    // QSEoW needs a certificate: refused, with the command that makes one.
    let mut cmd = qs_jwt(dir.path());
    cmd.args([
        "setup-qseow",
        "--audience",
        "a",
        "--cert-publickey-file",
        &public,
    ]);
    let stderr = error_lines(fails_cleanly(&mut cmd, dir.path(), 1).as_bytes());
    assert!(
        stderr.contains(
            "is a public key, but a QSEoW virtual proxy verifies tokens with an X.509 certificate"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: make one from the private key: openssl req -new -x509"),
        "{stderr}"
    );
    // Qlik Cloud's schema says public key, its console and examples certificate: a warning.
    let (stdout, stderr) = setup(
        dir.path(),
        &[
            "setup-qscloud",
            "--issuer",
            "i",
            "--keyid",
            "k",
            "--cert-publickey-file",
            &public,
        ],
    );
    assert!(stdout.contains("-----BEGIN PUBLIC KEY-----MII"), "{stdout}");
    assert!(
        stderr.contains("WARN") && stderr.contains("openssl req -new -x509"),
        "{stderr}"
    );

    let cert = cert();
    let long = "d".repeat(129);
    for (args, expected) in [
        (
            vec![
                "setup-qseow",
                "--audience",
                "a",
                "--prefix",
                "Bad/Prefix",
                "--cert-publickey-file",
                &cert,
            ],
            "is not a virtual proxy prefix",
        ),
        (
            vec![
                "setup-qscloud",
                "--issuer",
                "i",
                "--keyid",
                "k",
                "--description",
                &long,
                "--cert-publickey-file",
                &cert,
            ],
            "Qlik Cloud takes at most 128",
        ),
        (
            vec!["setup-qscloud", "--issuer", "i", "--keyid", "k"],
            "--cert-publickey-file",
        ),
    ] {
        let mut cmd = qs_jwt(dir.path());
        cmd.args(&args);
        let stderr = fails_cleanly(&mut cmd, dir.path(), 2);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    for (file, expected) in [
        (
            "ec-p256-public.pem",
            "holds an EC P-256 key; Qlik verifies qs-jwt's tokens (RS256) with an RSA key",
        ),
        ("rsa2048-pkcs8.pem", "holds a private key"),
    ] {
        let path = fixture(file).display().to_string();
        let mut cmd = qs_jwt(dir.path());
        cmd.args([
            "setup-qscloud",
            "--issuer",
            "i",
            "--keyid",
            "k",
            "--cert-publickey-file",
            &path,
        ]);
        let stderr = fails_cleanly(&mut cmd, dir.path(), 1);
        assert!(stderr.contains(expected), "{file}: {stderr}");
    }
}

/// What setup gives Qlik and what create signs belong together: a token made with the same
/// issuer and key id (or audience) passes decode's checks against the certificate in the body.
#[test]
fn a_token_from_create_verifies_with_the_certificate_in_the_body() {
    let dir = tempfile::tempdir().unwrap();
    Create::qseow()
        .new_key()
        .run_in(dir.path())
        .assert()
        .success();

    let (stdout, _) = setup(
        dir.path(),
        &[
            "setup-qscloud",
            "--issuer",
            "t.example",
            "--keyid",
            "k1",
            "--cert-publickey-file",
            "publickey.cer",
        ],
    );
    let body: Value = serde_json::from_str(&stdout).unwrap();
    let pem = body["options"]["staticKeys"][0]["pem"].as_str().unwrap();
    fs::write(dir.path().join("from-body.pem"), pem).unwrap();
    let token = Create::qscloud()
        .args([
            "--issuer",
            "t.example",
            "--keyid",
            "k1",
            "--sub",
            "anna",
            "--username",
            "A",
        ])
        .args(["--useremail", "a@b.c", "--useremail-verified", "true"])
        .key_file("privatekey.pem")
        .run_in(dir.path())
        .output()
        .unwrap();
    let token = single_token(&token.stdout);
    qs_jwt(dir.path())
        .args([
            "decode",
            "--jwt",
            &token,
            "--cert-publickey-file",
            "from-body.pem",
            "--check",
            "qscloud",
        ])
        .assert()
        .success();

    let (stdout, _) = setup(
        dir.path(),
        &[
            "setup-qseow",
            "--audience",
            "aud-1",
            "--cert-publickey-file",
            "publickey.cer",
        ],
    );
    let body: Value = serde_json::from_str(&stdout).unwrap();
    fs::write(
        dir.path().join("vp.pem"),
        body["jwtPublicKeyCertificate"].as_str().unwrap(),
    )
    .unwrap();
    let token = Create::qseow()
        .args(["--audience", "aud-1"])
        .key_file("privatekey.pem")
        .run_in(dir.path())
        .output()
        .unwrap();
    let token = single_token(&token.stdout);
    let (_, payload) = common::decode_parts(&token);
    for attribute in ["jwtAttributeUserId", "jwtAttributeUserDirectory"] {
        let claim = body[attribute].as_str().unwrap();
        assert!(
            payload.get(claim).is_some(),
            "{attribute} names claim {claim}: {payload}"
        );
    }
    qs_jwt(dir.path())
        .args(["decode", "--jwt", &token, "--cert-publickey-file", "vp.pem"])
        .args([
            "--expected-audience",
            body["jwtAudience"].as_str().unwrap(),
            "--check",
            "qseow",
        ])
        .assert()
        .success();
}

/// `setup-qseow --cert-publickey-file signing.pem` given the private key: the hint names the
/// user's file, and its command, run as printed, makes the certificate setup-qseow takes and
/// that verifies the tokens the key signs.
#[cfg(target_os = "linux")]
#[test]
fn a_private_key_given_for_the_certificate_gets_the_command_that_makes_one() {
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
    let made = std::process::Command::new("bash")
        .args(["-c", command])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");

    let (stdout, _) = setup(
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
        &mut Create::qseow()
            .args(["--audience", "a"])
            .key_file("signing.pem")
            .run_in(dir.path()),
    );
    verify_with_certificate(&single_token(&output.stdout), certificate, "a");
}
