//! Passphrase-protected private keys: every scheme openssl writes that qs-jwt reads, from every
//! key source and every passphrase source; wrong, missing and superfluous passphrases; the old
//! formats qs-jwt refuses; keys qs-jwt writes encrypted, read back by openssl; and nothing of a
//! passphrase or a key in any output at any log level.

#[cfg(target_os = "linux")]
use crate::common;

use std::fs;
#[cfg(target_os = "linux")]
use std::process::Command as Process;

#[cfg(target_os = "linux")]
use crate::common::verify_with_certificate;
use crate::common::{
    Create, QSEOW_AUDIENCE, error_lines, fails_cleanly, fixture, fixture_text, owner_only,
    single_token, succeeds, verify_with_public_key,
};

/// The passphrase of the encrypted fixtures (tests/fixtures/make-fixtures.sh).
const PASSPHRASE: &str = "fixture";

/// A folder with a copy of a fixture, owner-only, as `key.pem`.
fn folder_with(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    fs::copy(fixture(name), &key).unwrap();
    owner_only(&key);
    dir
}

fn public_key_of(name: &str) -> String {
    match name {
        "rsa2048-encrypted-genpkey.pem" => fixture_text("rsa2048-genpkey-public.pem"),
        _ => fixture_text("rsa2048-public.pem"),
    }
}

#[test]
fn every_scheme_from_every_key_source_and_passphrase_source() {
    let schemes = [
        "rsa2048-encrypted-pkcs8.pem",   // openssl pkcs8 -topk8 -v2 aes-256-cbc
        "rsa2048-encrypted-genpkey.pem", // openssl genpkey -aes-256-cbc
        "rsa2048-encrypted-aes128-sha1.pem", // -v2 aes-128-cbc -v2prf hmacWithSHA1
        "rsa2048-encrypted-aes192-sha512.pem", // -v2 aes-192-cbc -v2prf hmacWithSHA512
        "rsa2048-encrypted-scrypt.pem",  // -scrypt
    ];
    for name in schemes {
        let dir = folder_with(name);
        fs::write(dir.path().join("pass.txt"), format!("{PASSPHRASE}\n")).unwrap();
        // Readable by its owner only, as a passphrase file should be (others get a warning).
        owner_only(&dir.path().join("pass.txt"));
        let key_text = fixture_text(name);
        // (key source, passphrase source), each as arguments, environment and standard input.
        type Setup<'a> = (&'a [&'a str], Vec<(&'a str, String)>, Option<String>);
        let cases: Vec<(&str, Setup)> = vec![
            (
                "file + QSJWTPASSPHRASE",
                (
                    &["--cert-privatekey-file", "key.pem"],
                    vec![("QSJWTPASSPHRASE", PASSPHRASE.into())],
                    None,
                ),
            ),
            (
                "file + passphrase file",
                (
                    &[
                        "--cert-privatekey-file",
                        "key.pem",
                        "--cert-privatekey-passphrase-file",
                        "pass.txt",
                    ],
                    vec![],
                    None,
                ),
            ),
            (
                "file + passphrase on stdin",
                (
                    &[
                        "--cert-privatekey-file",
                        "key.pem",
                        "--cert-privatekey-passphrase-file",
                        "-",
                    ],
                    vec![],
                    Some(format!("{PASSPHRASE}\n")),
                ),
            ),
            (
                "stdin + QSJWTPASSPHRASE",
                (
                    &["--cert-privatekey-file", "-"],
                    vec![("QSJWTPASSPHRASE", PASSPHRASE.into())],
                    Some(key_text.clone()),
                ),
            ),
            (
                "QSJWTPRIVKEY + passphrase file",
                (
                    &["--cert-privatekey-passphrase-file", "pass.txt"],
                    vec![("QSJWTPRIVKEY", key_text.clone())],
                    None,
                ),
            ),
        ];
        for (case, (args, env, stdin)) in cases {
            let mut cmd = Create::qseow().args(args).run_in(dir.path());
            for (name, value) in env {
                cmd.env(name, value);
            }
            if let Some(input) = stdin {
                cmd.write_stdin(input);
            }
            let output = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{name}, {case}: {stderr}");
            assert!(stderr.is_empty(), "{name}, {case}: {stderr}");
            let token = single_token(&output.stdout);
            verify_with_public_key(&token, &public_key_of(name), QSEOW_AUDIENCE);
        }
        // --cert-privatekey <pem>: the text itself.
        let output = Create::qseow()
            .args(["--cert-privatekey", &key_text])
            .run_in(dir.path())
            .env("QSJWTPASSPHRASE", PASSPHRASE)
            .output()
            .unwrap();
        assert!(output.status.success(), "{name}, --cert-privatekey");
        verify_with_public_key(
            &single_token(&output.stdout),
            &public_key_of(name),
            QSEOW_AUDIENCE,
        );
    }
}

#[test]
fn a_non_ascii_passphrase_with_a_trailing_crlf() {
    let dir = folder_with("rsa2048-encrypted-unicode.pem");
    fs::write(dir.path().join("pass.txt"), "pässwörd ✓\r\n").unwrap();
    // Readable by its owner only, as a passphrase file should be (others get a warning).
    owner_only(&dir.path().join("pass.txt"));
    let output = succeeds(
        &mut Create::qseow()
            .args([
                "--cert-privatekey-file",
                "key.pem",
                "--cert-privatekey-passphrase-file",
                "pass.txt",
            ])
            .run_in(dir.path()),
    );
    verify_with_public_key(
        &single_token(&output.stdout),
        &fixture_text("rsa2048-public.pem"),
        QSEOW_AUDIENCE,
    );
    // Only one line break is dropped: a passphrase that ends in a space keeps it.
    let output = Create::qseow()
        .args(["--cert-privatekey-file", "key.pem"])
        .run_in(dir.path())
        .env("QSJWTPASSPHRASE", "pässwörd ✓")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = fails_cleanly(
        Create::qseow()
            .args(["--cert-privatekey-file", "key.pem"])
            .run_in(dir.path())
            .env("QSJWTPASSPHRASE", "pässwörd ✓ "),
        dir.path(),
        1,
    );
    assert!(stderr.contains("wrong passphrase"), "{stderr}");
}

#[test]
fn wrong_missing_and_superfluous_passphrases() {
    let dir = folder_with("rsa2048-encrypted-pkcs8.pem");
    let stderr = fails_cleanly(
        Create::qseow()
            .args(["--cert-privatekey-file", "key.pem"])
            .run_in(dir.path())
            .env("QSJWTPASSPHRASE", "not the passphrase"),
        dir.path(),
        1,
    );
    assert_eq!(
        stderr,
        "error: wrong passphrase for --cert-privatekey-file 'key.pem' (the passphrase from \
         QSJWTPASSPHRASE)\n"
    );
    let stderr = fails_cleanly(
        &mut Create::qseow()
            .args(["--cert-privatekey-file", "key.pem"])
            .run_in(dir.path()),
        dir.path(),
        1,
    );
    assert_eq!(
        stderr,
        "error: --cert-privatekey-file 'key.pem' holds an encrypted private key and no \
         passphrase is given; qs-jwt never prompts: set QSJWTPASSPHRASE, or give \
         --cert-privatekey-passphrase-file <file> (- reads standard input)\n"
    );
    // A passphrase for a key that is not encrypted: a warning, and the token.
    let plain = folder_with("rsa2048-pkcs8.pem");
    let output = Create::qseow()
        .args(["--cert-privatekey-file", "key.pem"])
        .run_in(plain.path())
        .env("QSJWTPASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert!(output.status.success());
    single_token(&output.stdout);
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "WARN a passphrase is given (QSJWTPASSPHRASE), but the key from --cert-privatekey-file \
         'key.pem' is not encrypted; the passphrase is not used\n"
    );
}

#[test]
fn passphrase_source_mistakes() {
    let dir = folder_with("rsa2048-encrypted-pkcs8.pem");
    fs::write(dir.path().join("empty.txt"), "\n").unwrap();
    let cases: [(&[&str], i32, &str); 4] = [
        (
            &[
                "--cert-privatekey-file",
                "-",
                "--cert-privatekey-passphrase-file",
                "-",
            ],
            2,
            "both read standard input",
        ),
        (
            &[
                "--cert-privatekey-file",
                "key.pem",
                "--cert-privatekey-passphrase-file",
                "Zq9-secret-PASS-77xy",
            ],
            1,
            "--cert-privatekey-passphrase-file names no file that exists (the value is not \
             shown: it may be the passphrase itself)",
        ),
        (
            &[
                "--cert-privatekey-file",
                "key.pem",
                "--cert-privatekey-passphrase-file",
                "empty.txt",
            ],
            1,
            // An empty file is an empty passphrase (`-passout pass:`), not this key's.
            "wrong passphrase for --cert-privatekey-file 'key.pem' (the passphrase from \
             --cert-privatekey-passphrase-file 'empty.txt')",
        ),
        (
            &[
                "--cert-privatekey-file",
                "key.pem",
                "--cert-privatekey-passphrase-file",
                ".",
            ],
            1,
            "is a folder",
        ),
    ];
    for (args, code, expected) in cases {
        let stderr = fails_cleanly(
            Create::qseow()
                .args(args)
                .run_in(dir.path())
                .write_stdin("x\n"),
            dir.path(),
            code,
        );
        error_lines(stderr.as_bytes());
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        // A passphrase given where its file belongs never comes back.
        assert!(!stderr.contains("Zq9"), "{stderr}");
    }
    // An empty QSJWTPASSPHRASE (an unset CI secret) is no passphrase, with a warning.
    let stderr = fails_cleanly(
        Create::qseow()
            .args(["--cert-privatekey-file", "key.pem"])
            .run_in(dir.path())
            .env("QSJWTPASSPHRASE", ""),
        dir.path(),
        1,
    );
    assert!(
        stderr.starts_with(
            "WARN QSJWTPASSPHRASE is set but empty; it is not used (for a key encrypted with an \
             empty passphrase, give an empty file to --cert-privatekey-passphrase-file)\n"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("no passphrase is given"), "{stderr}");
    // --users - and the passphrase on standard input.
    fs::write(dir.path().join("users.csv"), "sub\nanna\n").unwrap();
    let stderr = fails_cleanly(
        Create::qscloud()
            .args([
                "--cert-privatekey-file",
                "key.pem",
                "--cert-privatekey-passphrase-file",
                "-",
                "--users",
                "-",
            ])
            .run_in(dir.path())
            .write_stdin("sub\nanna\n"),
        dir.path(),
        2,
    );
    assert!(stderr.contains("both read standard input"), "{stderr}");
}

// Runs openssl 3 (and bash): the Linux CI, where .ci/install-test-tools.sh installs them.
#[cfg(target_os = "linux")]
#[test]
fn old_formats_are_refused_with_the_command_that_converts_them() {
    if !crate::common::skip::require_tool("openssl") {
        return;
    }
    for (name, expected) in [
        (
            "rsa2048-encrypted-pkcs1.pem",
            "error: --cert-privatekey-file 'key.pem' holds a key in OpenSSL's old encrypted \
             format (Proc-Type: 4,ENCRYPTED), which qs-jwt does not read; convert it to \
             encrypted PKCS#8, with the same passphrase\n",
        ),
        (
            "rsa2048-encrypted-pbes1.pem",
            "error: --cert-privatekey-file 'key.pem' is encrypted with the scheme \
             1.2.840.113549.1.12.1.3, older than PBES2, which qs-jwt does not read\n",
        ),
    ] {
        let dir = folder_with(name);
        let stderr = fails_cleanly(
            Create::qseow()
                .args(["--cert-privatekey-file", "key.pem"])
                .run_in(dir.path())
                .env("QSJWTPASSPHRASE", PASSPHRASE),
            dir.path(),
            1,
        );
        let (error, hint) = stderr.split_once("hint: ").unwrap();
        assert_eq!(error, expected);
        let command = hint
            .trim()
            .split_once(": ")
            .map_or(hint.trim(), |(_, command)| command);
        // The hint runs as written, and what it makes, qs-jwt reads.
        let status = Process::new("bash")
            .args(["-c", command])
            .current_dir(dir.path())
            .env("QSJWTPASSPHRASE", PASSPHRASE)
            .status()
            .unwrap();
        assert!(status.success(), "{command}");
        let output = succeeds(
            Create::qseow()
                .args(["--cert-privatekey-file", "privatekey-pkcs8.pem"])
                .run_in(dir.path())
                .env("QSJWTPASSPHRASE", PASSPHRASE),
        );
        verify_with_public_key(
            &single_token(&output.stdout),
            &fixture_text("rsa2048-public.pem"),
            QSEOW_AUDIENCE,
        );
    }
}

// Runs openssl 3 (and bash): the Linux CI, where .ci/install-test-tools.sh installs them.
#[cfg(target_os = "linux")]
#[test]
fn cert_create_writes_an_encrypted_key_that_openssl_and_qs_jwt_read() {
    if !crate::common::skip::require_tool("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("pass.txt"), "new pässphrase\n").unwrap();
    // Readable by its owner only, as a passphrase file should be (others get a warning).
    owner_only(&dir.path().join("pass.txt"));
    let output = succeeds(
        &mut Create::qscloud()
            .new_key()
            .args(["--cert-privatekey-passphrase-file", "pass.txt"])
            .run_in(dir.path()),
    );
    let certificate = fs::read_to_string(dir.path().join("publickey.cer")).unwrap();
    verify_with_certificate(
        &single_token(&output.stdout),
        &certificate,
        common::QLIK_CLOUD_AUDIENCE,
    );
    let key = fs::read_to_string(dir.path().join("privatekey.pem")).unwrap();
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"),
        "{key}"
    );
    // openssl reads it with the passphrase (PBKDF2-HMAC-SHA256, 600,000 iterations, AES-256)...
    let parsed = Process::new("openssl")
        .args(["asn1parse", "-in", "privatekey.pem"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let structure = String::from_utf8(parsed.stdout).unwrap();
    for part in [
        "PBES2",
        "PBKDF2",
        "hmacWithSHA256",
        "aes-256-cbc",
        ":0927C0",
    ] {
        assert!(structure.contains(part), "{part} in {structure}");
    }
    let public = Process::new("openssl")
        .args([
            "pkey",
            "-in",
            "privatekey.pem",
            "-passin",
            "file:pass.txt",
            "-pubout",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        public.status.success(),
        "{}",
        String::from_utf8_lossy(&public.stderr)
    );
    assert_eq!(
        String::from_utf8(public.stdout).unwrap(),
        fs::read_to_string(dir.path().join("publickey.pem")).unwrap()
    );
    // ...and not without it.
    let refused = Process::new("openssl")
        .args(["pkey", "-in", "privatekey.pem", "-passin", "pass:wrong"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    // qs-jwt signs with it, given the passphrase.
    let output = succeeds(
        Create::qscloud()
            .key_file("privatekey.pem")
            .run_in(dir.path())
            .env("QSJWTPASSPHRASE", "new pässphrase"),
    );
    verify_with_certificate(
        &single_token(&output.stdout),
        &certificate,
        common::QLIK_CLOUD_AUDIENCE,
    );
    // Without one, the key is written as before.
    let plain = tempfile::tempdir().unwrap();
    Create::qscloud()
        .new_key()
        .run_in(plain.path())
        .assert()
        .success();
    let key = fs::read_to_string(plain.path().join("privatekey.pem")).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
}

// Runs openssl 3 (and bash): the Linux CI, where .ci/install-test-tools.sh installs them.
#[cfg(target_os = "linux")]
#[test]
fn no_passphrase_and_no_key_in_any_output_at_any_level() {
    if !crate::common::skip::require_tool("openssl") {
        return;
    }
    let secret_passphrase = "Zq7-hunter2-passphrase";
    let key_text = fixture_text("rsa2048-pkcs8.pem");
    // Windows of the key's base64, and the passphrase.
    let base64: String = key_text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let windows: Vec<&str> = (0..base64.len() - 20)
        .step_by(40)
        .map(|at| &base64[at..at + 20])
        .collect();
    let dir = tempfile::tempdir().unwrap();
    // A key encrypted with the secret passphrase.
    let status = Process::new("openssl")
        .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout"])
        .arg(format!("pass:{secret_passphrase}"))
        .args(["-in"])
        .arg(fixture("rsa2048-pkcs8.pem"))
        .args(["-out", "key.pem"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    owner_only(&dir.path().join("key.pem"));
    for level in ["error", "warning", "info", "verbose", "debug"] {
        for passphrase in [secret_passphrase, "wrong-Zq7-passphrase"] {
            let output = Create::qseow()
                .args(["--cert-privatekey-file", "key.pem", "--loglevel", level])
                .run_in(dir.path())
                .env("QSJWTPASSPHRASE", passphrase)
                .output()
                .unwrap();
            let shown = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(!shown.contains(passphrase), "{level}: {shown}");
            assert!(!shown.contains("Zq7"), "{level}: {shown}");
            for window in &windows {
                assert!(!shown.contains(window), "{level}: {window} in {shown}");
            }
        }
    }
}

// Runs openssl 3 (and bash): the Linux CI, where .ci/install-test-tools.sh installs them.
#[cfg(target_os = "linux")]
#[test]
fn schemes_qs_jwt_does_not_read_are_named_and_damage_is_not_a_wrong_passphrase() {
    if !crate::common::skip::require_tool("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // PBES2 with Triple DES: named, with the command that re-encrypts it reading the passphrase
    // file qs-jwt was given.
    let status = Process::new("openssl")
        .args([
            "pkcs8",
            "-topk8",
            "-v2",
            "des-ede3-cbc",
            "-passout",
            "pass:fixture",
        ])
        .arg("-in")
        .arg(fixture("rsa2048-pkcs8.pem"))
        .args(["-out", "des3.pem"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    fs::write(dir.path().join("pass.txt"), "fixture\n").unwrap();
    // Readable by its owner only, as a passphrase file should be (others get a warning).
    owner_only(&dir.path().join("pass.txt"));
    let stderr = fails_cleanly(
        &mut Create::qseow()
            .args([
                "--cert-privatekey-file",
                "des3.pem",
                "--cert-privatekey-passphrase-file",
                "pass.txt",
            ])
            .run_in(dir.path()),
        dir.path(),
        1,
    );
    assert!(
        stderr.starts_with(
            "error: --cert-privatekey-file 'des3.pem' is encrypted with PBES2 and the cipher \
             DES-EDE3-CBC (qs-jwt reads AES-128, AES-192 and AES-256 in CBC mode)"
        ),
        "{stderr}"
    );
    let command = stderr.split_once("AES-256 and PBKDF2: ").unwrap().1.trim();
    assert!(
        command.starts_with("QSJWTPASSPHRASE=\"$(cat 'pass.txt')\" openssl pkcs8"),
        "{command}"
    );
    let status = Process::new("bash")
        .args(["-c", command])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "{command}");
    succeeds(
        &mut Create::qseow()
            .args([
                "--cert-privatekey-file",
                "privatekey-pkcs8.pem",
                "--cert-privatekey-passphrase-file",
                "pass.txt",
            ])
            .run_in(dir.path()),
    );
    // The encrypted data cut short: damaged, not a wrong passphrase.
    let text = fixture_text("rsa2048-encrypted-pkcs8.pem");
    let block = pem::parse(&text).unwrap();
    let mut der = block.contents().to_vec();
    der.truncate(der.len() - 5);
    fs::write(
        dir.path().join("cut.pem"),
        pem::encode(&pem::Pem::new("ENCRYPTED PRIVATE KEY", der)),
    )
    .unwrap();
    let stderr = fails_cleanly(
        Create::qseow()
            .args(["--cert-privatekey-file", "cut.pem"])
            .run_in(dir.path())
            .env("QSJWTPASSPHRASE", PASSPHRASE),
        dir.path(),
        1,
    );
    assert!(!stderr.contains("wrong passphrase"), "{stderr}");
    assert!(
        stderr.contains("damaged") || stderr.contains("not valid PKCS#8"),
        "{stderr}"
    );
}
