//! create-key: a key pair and its certificate, written as --cert-create writes them, with no
//! token; the paths on standard output (or one JSON object), the log on standard error.

use std::fs;
use std::path::Path;

use crate::common::*;

fn create_key(dir: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = qs_jwt(dir);
    cmd.arg("create-key")
        .args(["--cert-create-expires-days", "30"])
        .args(args);
    cmd
}

/// The RSA key size of a certificate file, and that it is self-signed with SHA-256 and RSA.
fn certificate_bits(path: &Path) -> usize {
    let text = fs::read(path).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&text).unwrap();
    let cert = pem.parse_x509().unwrap();
    assert_eq!(cert.subject().to_string(), "CN=qs-jwt");
    assert!(cert.verify_signature(None).is_ok(), "self-signed");
    match cert.public_key().parsed().unwrap() {
        x509_parser::public_key::PublicKey::RSA(rsa) => rsa.key_size(),
        other => panic!("not RSA: {other:?}"),
    }
}

#[test]
fn makes_a_4096_bit_rsa_key_its_certificate_and_prints_the_paths() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("keys")).unwrap();
    let output = succeeds(&mut create_key(
        dir.path(),
        &["--cert-file-prefix", "keys/qsjwt_"],
    ));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "keys/qsjwt_privatekey.pem\nkeys/qsjwt_publickey.pem\nkeys/qsjwt_publickey.cer\n",
        "the paths written, a line each, and no token"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("INFO wrote keys/qsjwt_privatekey.pem (the private key: keep it secret)")
            && stderr.contains("INFO wrote keys/qsjwt_publickey.cer (the certificate for Qlik")
            && stderr.contains("--cert-publickey-file 'keys/qsjwt_publickey.cer'"),
        "{stderr}"
    );
    assert!(!stderr.contains("BEGIN"), "{stderr}");
    let keys = dir.path().join("keys");
    assert_eq!(certificate_bits(&keys.join("qsjwt_publickey.cer")), 4096);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(keys.join("qsjwt_privatekey.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The key signs, and Qlik's certificate verifies what it signs.
    let output = succeeds(
        Create::qseow()
            .run_in(dir.path())
            .args(["--cert-privatekey-file", "keys/qsjwt_privatekey.pem"]),
    );
    verify_with_certificate(
        &single_token(&output.stdout),
        &fs::read_to_string(keys.join("qsjwt_publickey.cer")).unwrap(),
        QSEOW_AUDIENCE,
    );
}

#[test]
fn rsa_2048_and_json_output() {
    let dir = tempfile::tempdir().unwrap();
    let output = succeeds(&mut create_key(
        dir.path(),
        &["--key-size", "2048", "--output", "json"],
    ));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["privateKey"], "privatekey.pem");
    assert_eq!(json["publicKey"], "publickey.pem");
    assert_eq!(json["certificate"], "publickey.cer");
    assert_eq!(json["keyType"], "rsa");
    assert_eq!(json["keySize"], 2048);
    assert_eq!(json["encrypted"], false);
    assert!(json["notAfter"].as_str().unwrap().ends_with('Z'));
    assert_eq!(certificate_bits(&dir.path().join("publickey.cer")), 2048);
    // The thumbprint is the key ID setup-qscloud-oauth gives the same key.
    let jwk = succeeds(qs_jwt(dir.path()).args([
        "setup-qscloud-oauth",
        "--cert-publickey-file",
        "publickey.cer",
    ]));
    let jwk: serde_json::Value = serde_json::from_slice(&jwk.stdout).unwrap();
    assert_eq!(jwk["kid"], json["thumbprint"]);
}

#[test]
fn existing_files_are_kept_unless_force() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--key-size", "2048"];
    succeeds(&mut create_key(dir.path(), &args));
    let stderr = fails_cleanly(&mut create_key(dir.path(), &args), dir.path(), 1);
    assert_eq!(
        error_lines(stderr.as_bytes()),
        "error: 'privatekey.pem', 'publickey.pem', 'publickey.cer' already exist; keep that key \
         and sign with it: --cert-privatekey-file 'privatekey.pem'\nhint: --force replaces the \
         key files, and Qlik then rejects tokens until it has the new certificate; or choose \
         another --cert-file-prefix\n"
    );
    let old = fs::read(dir.path().join("privatekey.pem")).unwrap();
    let output = succeeds(create_key(dir.path(), &args).arg("--force"));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--force replaced"));
    assert_ne!(fs::read(dir.path().join("privatekey.pem")).unwrap(), old);
    assert!(!dir.path().join("privatekey.pem.qs-jwt-old").exists());
}

#[test]
fn a_passphrase_encrypts_the_key_and_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let passphrase = "create-key-passphrase-7b1e";
    let output = succeeds(
        create_key(dir.path(), &["--key-size", "2048", "--output", "json"])
            .env("QSJWTPASSPHRASE", passphrase)
            .args(["--loglevel", "debug"]),
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["encrypted"], true);
    let key = fs::read_to_string(dir.path().join("privatekey.pem")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains(passphrase) && !stderr.contains("BEGIN"));
    // It signs with the passphrase.
    succeeds(
        Create::qseow()
            .run_in(dir.path())
            .env("QSJWTPASSPHRASE", passphrase)
            .args(["--cert-privatekey-file", "privatekey.pem"]),
    );
}

#[test]
fn mistakes_are_usage_errors_that_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // No days: the certificate's validity is the caller's to choose, as with --cert-create.
    let stderr = fails_cleanly(qs_jwt(dir.path()).arg("create-key"), dir.path(), 2);
    assert!(
        stderr.contains("--cert-create-expires-days <days>"),
        "{stderr}"
    );
    let stderr = fails_cleanly(
        &mut create_key(dir.path(), &["--key-size", "1024"]),
        dir.path(),
        2,
    );
    assert!(
        stderr.contains("invalid value '1024' for '--key-size <bits>'")
            && stderr.contains("[possible values: 4096, 2048]"),
        "{stderr}"
    );
    let stderr = fails_cleanly(
        &mut create_key(dir.path(), &["--key-type", "rsa-2048"]),
        dir.path(),
        2,
    );
    assert!(
        stderr.contains("invalid value 'rsa-2048' for '--key-type <type>'")
            && stderr.contains("[possible values: rsa, ec-p384]"),
        "{stderr}"
    );
    // An EC key's size is its curve's.
    let stderr = fails_cleanly(
        &mut create_key(dir.path(), &["--key-type", "ec-p384", "--key-size", "4096"]),
        dir.path(),
        2,
    );
    assert_eq!(
        error_lines(stderr.as_bytes()),
        "error: --key-size is an RSA key's; an EC P-384 key's size is its curve's: leave \
         --key-size out with --key-type ec-p384\n"
    );
    let stderr = fails_cleanly(
        &mut create_key(dir.path(), &["--cert-file-prefix", "missing/k_"]),
        dir.path(),
        1,
    );
    assert_eq!(
        error_lines(stderr.as_bytes()),
        "error: folder 'missing' (from --cert-file-prefix 'missing/k_') does not exist; create \
         it first\n"
    );
    // With --output json, a failure is one JSON object on standard output.
    succeeds(&mut create_key(dir.path(), &["--key-size", "2048"]));
    let output = create_key(dir.path(), &["--key-size", "2048", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        json["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("already exist"),
        "{json}"
    );
}

#[test]
fn ec_p384_for_an_oauth_client_with_its_thumbprint_as_setup_qscloud_oauth_gives_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = succeeds(&mut create_key(
        dir.path(),
        &["--key-type", "ec-p384", "--output", "json"],
    ));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (&json["keyType"], &json["keySize"]),
        (&"ec-p384".into(), &384.into())
    );
    // The key: unencrypted PKCS#8 of an EC P-384 key, as aws-lc reads one strictly.
    let key = fs::read_to_string(dir.path().join("privatekey.pem")).unwrap();
    let block = pem::parse(&key).unwrap();
    assert_eq!(block.tag(), "PRIVATE KEY");
    aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        block.contents(),
    )
    .expect("an EC P-384 key in PKCS#8");
    // The certificate: self-signed with ECDSA and SHA-384, over a P-384 point.
    let text = fs::read(dir.path().join("publickey.cer")).unwrap();
    let (_, cert_pem) = x509_parser::pem::parse_x509_pem(&text).unwrap();
    let cert = cert_pem.parse_x509().unwrap();
    assert_eq!(cert.subject().to_string(), "CN=qs-jwt");
    assert_eq!(
        cert.signature_algorithm.algorithm,
        x509_parser::oid_registry::OID_SIG_ECDSA_WITH_SHA384
    );
    assert!(cert.verify_signature(None).is_ok(), "self-signed");
    match cert.public_key().parsed().unwrap() {
        x509_parser::public_key::PublicKey::EC(point) => assert_eq!(point.key_size(), 384),
        other => panic!("not EC: {other:?}"),
    }
    // Its thumbprint is the kid setup-qscloud-oauth gives it, and the one oauth-qscloud signs
    // ES384 assertions with.
    let jwk = succeeds(qs_jwt(dir.path()).args([
        "setup-qscloud-oauth",
        "--cert-publickey-file",
        "publickey.cer",
    ]));
    let jwk: serde_json::Value = serde_json::from_slice(&jwk.stdout).unwrap();
    assert_eq!((&jwk["kty"], &jwk["crv"]), (&"EC".into(), &"P-384".into()));
    assert_eq!(jwk["kid"], json["thumbprint"]);
    let assertion = succeeds(qs_jwt(dir.path()).args([
        "oauth-qscloud",
        "--tenant",
        "mytenant.eu.qlikcloud.com",
        "--client-id",
        "0123456789abcdef",
        "--assertion-only",
        "--output",
        "json",
        "--cert-privatekey-file",
        "privatekey.pem",
    ]));
    let assertion: serde_json::Value = serde_json::from_slice(&assertion.stdout).unwrap();
    assert_eq!(
        (&assertion["alg"], &assertion["kid"]),
        (&"ES384".into(), &json["thumbprint"])
    );
}
