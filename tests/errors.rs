//! Every error case: its exit code, a message that names the problem, nothing on stdout, and
//! no file created or changed.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// What a failed run left: its stderr, after checking the exit code, the empty stdout and the
/// untouched folder.
fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    fails_with(qs_jwt(dir).args(args), dir, code)
}

fn fails_with(cmd: &mut assert_cmd::Command, dir: &Path, code: i32) -> String {
    let before = snapshot(dir);
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "stdout: {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(snapshot(dir), before, "files changed; stderr: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    stderr
}

const QSEOW: [&str; 7] = [
    "create-qseow",
    "--userdir",
    "D",
    "--userid",
    "u",
    "--audience",
    "a",
];
const QSCLOUD: [&str; 5] = ["create-qscloud", "--issuer", "i", "--keyid", "k"];

fn qseow_with(extra: &[&str]) -> Vec<String> {
    QSEOW.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn key_file() -> String {
    fixture("rsa2048-pkcs8.pem").display().to_string()
}

#[test]
fn usage_errors_exit_2_and_name_the_option() {
    let dir = folder_with_key();
    let key = ["--cert-privatekey-file", "privatekey.pem"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "create-qseow",
                "--userid",
                "u",
                "--audience",
                "a",
                "--expires",
                "1h",
            ],
            "--userdir",
        ),
        (
            vec![
                "create-qseow",
                "--userdir",
                "D",
                "--audience",
                "a",
                "--expires",
                "1h",
            ],
            "--userid",
        ),
        (
            vec![
                "create-qseow",
                "--userdir",
                "D",
                "--userid",
                "u",
                "--expires",
                "1h",
            ],
            "--audience",
        ),
        (
            vec![
                "create-qseow",
                "--userdir",
                "",
                "--userid",
                "u",
                "--audience",
                "a",
                "--expires",
                "1h",
            ],
            "--userdir",
        ),
        (
            vec![
                "create-qseow",
                "--userdir",
                "D",
                "--userid",
                "",
                "--audience",
                "a",
                "--expires",
                "1h",
            ],
            "--userid",
        ),
        (QSEOW.to_vec(), "--expires"),
        (
            vec!["create-qscloud", "--keyid", "k", "--expires", "1h"],
            "--issuer",
        ),
        (
            vec!["create-qscloud", "--issuer", "i", "--expires", "1h"],
            "--keyid",
        ),
        (
            [&QSEOW[..], &["--expires", "1h", "--bogus"]].concat(),
            "--bogus",
        ),
        (
            [&QSEOW[..], &["--expires", "1h", "--username", ""]].concat(),
            "--username",
        ),
        (
            [&QSEOW[..], &["--expires", "1h", "--groups", "g", ""]].concat(),
            "--groups",
        ),
    ];
    for (args, expected) in cases {
        let stderr = fails(dir.path(), &[&args[..], &key].concat(), 2);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let stderr = fails(dir.path(), &["create-nothing"], 2);
    assert!(stderr.contains("create-nothing"), "{stderr}");
    let stderr = fails(dir.path(), &[], 2);
    assert!(stderr.contains("Usage: qs-jwt <COMMAND>"), "{stderr}");
}

#[test]
fn bad_expires_values_are_usage_errors_with_an_example() {
    let dir = folder_with_key();
    let cases = [
        ("60", "'60' has no unit"),
        ("0m", "at least one second"),
        ("0s", "at least one second"),
        ("-5m", "cannot be negative"),
        ("soon", "expected a number at 'soon'"),
        ("5 fortnights", "unknown unit 'fortnights'"),
        ("10000y", "after the year 9999"),
        ("7975y", "after the year 9999"),
    ];
    for (value, expected) in cases {
        let args = qseow_with(&[
            "--cert-privatekey-file",
            "privatekey.pem",
            "--expires",
            value,
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let stderr = fails(dir.path(), &args, 2);
        assert!(stderr.contains("--expires"), "{value}: {stderr}");
        assert!(stderr.contains(expected), "{value}: {stderr}");
        assert!(stderr.contains("for example"), "{value}: {stderr}");
    }
}

#[test]
fn key_source_mistakes_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = key_file();
    let text = fixture_text("rsa2048-pkcs8.pem");
    let create = ["--cert-create", "true", "--cert-create-expires-days", "30"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![],
            "no signing key: give --cert-privatekey-file <file>, --cert-privatekey <pem>, or --cert-create true, or set the environment variable QSJWTPRIVKEY",
        ),
        (vec!["--cert-create", "false"], "no signing key"),
        (
            vec!["--cert-privatekey-file", &file, "--cert-privatekey", &text],
            "--cert-privatekey-file and --cert-privatekey each give a signing key; use exactly one",
        ),
        (
            [&["--cert-privatekey-file", file.as_str()][..], &create].concat(),
            "--cert-privatekey-file and --cert-create true each give",
        ),
        (
            [&["--cert-privatekey", text.as_str()][..], &create].concat(),
            "--cert-privatekey and --cert-create true each give",
        ),
        (
            [
                &[
                    "--cert-privatekey-file",
                    file.as_str(),
                    "--cert-privatekey",
                    text.as_str(),
                ][..],
                &create,
            ]
            .concat(),
            "--cert-privatekey-file, --cert-privatekey and --cert-create true each give",
        ),
        (
            vec!["--cert-create", "true"],
            "--cert-create true needs --cert-create-expires-days",
        ),
        (
            vec!["--cert-create"],
            "--cert-create true needs --cert-create-expires-days",
        ),
        (
            vec!["--cert-create", "yes", "--cert-create-expires-days", "3"],
            "expected true or false",
        ),
        (
            vec!["--cert-create", "--cert-create-expires-days", "0"],
            "--cert-create-expires-days",
        ),
        (
            vec!["--cert-create", "--cert-create-expires-days", "-3"],
            "--cert-create-expires-days",
        ),
        (
            vec!["--cert-create", "--cert-create-expires-days", "many"],
            "--cert-create-expires-days",
        ),
    ];
    for (extra, expected) in cases {
        let args = qseow_with(&[&["--expires", "1h"][..], &extra].concat());
        let stderr = fails(
            dir.path(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            2,
        );
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
        assert!(!stderr.contains("MII"), "no key text in: {stderr}");
    }
}

#[test]
fn our_own_usage_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = key_file();
    let stderr = fails(dir.path(), &[&QSEOW[..], &["--expires", "1h"]].concat(), 2);
    error_lines(stderr.as_bytes());
    let args = [
        &QSCLOUD[..],
        &[
            "--expires",
            "1h",
            "--useremail",
            "a@b.c",
            "--cert-privatekey-file",
            &file,
        ],
    ]
    .concat();
    let stderr = fails(dir.path(), &args, 2);
    let stderr = error_lines(stderr.as_bytes());
    assert!(
        stderr.contains("--useremail needs --useremail-verified true|false"),
        "{stderr}"
    );
}

#[test]
fn qscloud_option_mistakes_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = key_file();
    let base = [
        &QSCLOUD[..],
        &["--expires", "30m", "--cert-privatekey-file", &file],
    ]
    .concat();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--useremail", "a@b.c"], "--useremail-verified"),
        (
            vec!["--useremail", "a@b.c", "--useremail-verified", "yes"],
            "expected true or false",
        ),
        (
            vec!["--useremail", "a@b.c", "--useremail-verified"],
            "--useremail-verified",
        ),
        (vec!["--sub", ""], "--sub"),
        (vec!["--claim", "sub=x"], "sets claim sub itself"),
        (vec!["--claim", "groups=[]"], "sets claim groups itself"),
        (
            vec!["--claim", "email_verified=true"],
            "sets claim email_verified itself",
        ),
    ];
    for (extra, expected) in cases {
        let stderr = fails(dir.path(), &[&base[..], &extra].concat(), 2);
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
    }
}

#[test]
fn claim_mistakes_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = key_file();
    let base = [
        &QSEOW[..],
        &["--expires", "1h", "--cert-privatekey-file", &file],
    ]
    .concat();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--claim", "department"], "expected name=value"),
        (vec!["--claim", "=sales"], "claim name before '=' is empty"),
        (vec!["--claim", "group=[\"x\"]"], "sets claim group itself"),
        (vec!["--claim", "userId=x"], "sets claim userId itself"),
        (vec!["--claim", "exp=1"], "sets claim exp itself"),
        (
            vec!["--claim", "a=1", "--claim", "a=2"],
            "--claim a is given twice",
        ),
        (vec!["--loglevel", "loud"], "--loglevel"),
        (vec!["--groups"], "--groups"),
    ];
    for (extra, expected) in cases {
        let stderr = fails(dir.path(), &[&base[..], &extra].concat(), 2);
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
    }
}

/// Bad key input is a failure at run time (exit 1) with one line naming the source.
#[test]
fn unusable_key_files_exit_1_and_say_what_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("empty.pem"), "").unwrap();
    fs::write(dir.path().join("blank.pem"), "\n  \r\n").unwrap();
    fs::write(dir.path().join("text.pem"), "just some text").unwrap();
    fs::write(
        dir.path().join("binary.der"),
        [0x30, 0x82, 0xff, 0xfe, 0x00],
    )
    .unwrap();
    fs::create_dir(dir.path().join("folder.pem")).unwrap();
    let fixture_path = |name: &str| fixture(name).display().to_string();
    let cases: Vec<(String, &str)> = vec![
        (
            "missing.pem".into(),
            "cannot read --cert-privatekey-file 'missing.pem'",
        ),
        (
            "empty.pem/child".into(),
            "cannot read --cert-privatekey-file 'empty.pem/child'",
        ),
        ("folder.pem".into(), "'folder.pem' is a folder"),
        ("empty.pem".into(), "'empty.pem' is empty"),
        ("blank.pem".into(), "'blank.pem' is empty"),
        (
            "text.pem".into(),
            "'text.pem' is not a PEM private key (no -----BEGIN line)",
        ),
        ("binary.der".into(), "'binary.der' is binary, not PEM text"),
        (
            fixture_path("rsa2048-encrypted-pkcs8.pem"),
            "holds an encrypted private key",
        ),
        (
            fixture_path("rsa2048-encrypted-pkcs1.pem"),
            "holds an encrypted private key",
        ),
        (
            fixture_path("rsa2048-public.pem"),
            "holds a public key; the private key belongs here",
        ),
        (
            fixture_path("rsa2048-public-pkcs1.pem"),
            "holds a public key",
        ),
        (
            fixture_path("rsa2048-cert.pem"),
            "holds a certificate; the private key belongs here",
        ),
        (
            fixture_path("ec-p256-sec1.pem"),
            "holds an EC (ECDSA) key; Qlik's RS256 tokens need an RSA private key",
        ),
        (fixture_path("ec-p256-pkcs8.pem"), "holds an EC (ECDSA) key"),
        (fixture_path("ed25519.pem"), "holds an Ed25519 key"),
        (
            fixture_path("rsa1024.pem"),
            "holds a 1024-bit RSA key; Qlik needs at least 2048 bits",
        ),
    ];
    for (file, expected) in cases {
        let args = qseow_with(&["--expires", "1h", "--cert-privatekey-file", &file]);
        let stderr = fails(
            dir.path(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            1,
        );
        let stderr = error_lines(stderr.as_bytes());
        assert!(stderr.contains(expected), "{file}: {stderr}");
    }
}

#[test]
fn encrypted_keys_get_the_openssl_command_that_decrypts_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("rsa2048-encrypted-pkcs1.pem").display().to_string();
    let args = [
        &QSEOW[..],
        &["--expires", "1h", "--cert-privatekey-file", &file],
    ]
    .concat();
    let stderr = error_lines(fails(dir.path(), &args, 1).as_bytes());
    assert!(
        stderr.contains("hint: decrypt it to a file only you can read: openssl pkey -in"),
        "{stderr}"
    );
}

#[test]
fn unusable_key_text_names_the_flag_or_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let base = [&QSEOW[..], &["--expires", "1h"]].concat();
    let public = fixture_text("rsa2048-public.pem");

    let stderr = fails(
        dir.path(),
        &[&base[..], &["--cert-privatekey", ""]].concat(),
        1,
    );
    let stderr = error_lines(stderr.as_bytes());
    assert!(stderr.contains("--cert-privatekey is empty"), "{stderr}");
    assert!(
        stderr.contains("hint: if you pass \"$QSJWTPRIVKEY\""),
        "{stderr}"
    );

    let stderr = fails(
        dir.path(),
        &[&base[..], &["--cert-privatekey", &public]].concat(),
        1,
    );
    assert!(
        stderr.contains("error: --cert-privatekey holds a public key"),
        "{stderr}"
    );

    let stderr = fails_with(
        qs_jwt(dir.path())
            .args(&base)
            .env("QSJWTPRIVKEY", "garbage"),
        dir.path(),
        1,
    );
    assert!(
        stderr.contains("error: QSJWTPRIVKEY is not a PEM private key"),
        "{stderr}"
    );

    let stderr = fails_with(
        qs_jwt(dir.path())
            .args(&base)
            .args(["--cert-privatekey-file", "-"])
            .write_stdin(public),
        dir.path(),
        1,
    );
    assert!(
        stderr.contains("standard input (--cert-privatekey-file -) holds a public key"),
        "{stderr}"
    );
}
