//! Every error case: its exit code, a message that names the problem, nothing on stdout, and
//! no file created or changed.

use std::fs;
use std::path::Path;
use std::sync::LazyLock;

use crate::common::*;

/// Runs a command that must fail with `code` (see `fails_cleanly`) and records what the user
/// saw in the test's transcript, which its snapshot in tests/snapshots/errors/ pins word for
/// word.
fn fails(seen: &mut Transcript, dir: &Path, args: &[&str], code: i32) -> String {
    let stderr = fails_cleanly(qs_jwt(dir).args(args), dir, code);
    seen.record(args, &stderr, code);
    stderr
}

/// Runs `base` followed by each case's arguments; each must fail with `code` and a message
/// that contains the case's text.
fn each_fails(
    seen: &mut Transcript,
    dir: &Path,
    base: &[&str],
    cases: &[(&[&str], &str)],
    code: i32,
) {
    for (extra, expected) in cases {
        let stderr = fails(seen, dir, &[base, extra].concat(), code);
        assert!(stderr.starts_with("error: "), "{extra:?}: {stderr}");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
        assert!(!stderr.contains("MII"), "no key text in: {stderr}");
    }
}

/// The builder's words as `&str`s, for the tables of arguments below.
fn words(create: Create) -> Vec<&'static str> {
    create
        .argv()
        .into_iter()
        .map(|word| &*Box::leak(word.into_boxed_str()))
        .collect()
}

static QSEOW: LazyLock<Vec<&'static str>> = LazyLock::new(|| words(Create::qseow()));
static QSCLOUD: LazyLock<Vec<&'static str>> = LazyLock::new(|| words(Create::qscloud()));

fn key_file() -> String {
    fixture("rsa2048-pkcs8.pem").display().to_string()
}

#[test]
#[rustfmt::skip]
fn missing_and_unknown_options_exit_2_and_name_the_option() {
    let dir = folder_with_key();
    let mut seen = Transcript::new(dir.path());
    let key = ["--cert-privatekey-file", "privatekey.pem"];
    each_fails(&mut seen, dir.path(), &[&["create-qseow"][..], &key].concat(), &[
        (&["--userid", "u", "--audience", "a", "--expires", "1h"], "--userdir"),
        (&["--userdir", "D", "--audience", "a", "--expires", "1h"], "--userid"),
        (&["--userdir", "D", "--userid", "u", "--expires", "1h"], "--audience"),
        (&["--userdir", "", "--userid", "u", "--audience", "a", "--expires", "1h"], "--userdir"),
        (&["--userdir", "D", "--userid", "", "--audience", "a", "--expires", "1h"], "--userid"),
        (&["--userdir", "D", "--userid", "u", "--audience", "a"], "--expires"),
    ], 2);
    each_fails(&mut seen, dir.path(), &[&["create-qscloud"][..], &key].concat(), &[
        (&["--keyid", "k", "--expires", "1h"], "--issuer"),
        (&["--issuer", "i", "--expires", "1h"], "--keyid"),
    ], 2);
    each_fails(&mut seen, dir.path(), &[&QSEOW[..], &key].concat(), &[
        (&["--bogus"], "--bogus"),
        (&["--username", ""], "--username"),
        (&["--groups", "g", ""], "--groups"),
        (&["--groups"], "--groups"),
        (&["--loglevel", "loud"], "--loglevel"),
    ], 2);
    let stderr = fails(&mut seen, dir.path(), &["create-nothing"], 2);
    assert!(stderr.contains("create-nothing"), "{stderr}");
    let stderr = fails(&mut seen, dir.path(), &[], 2);
    assert!(stderr.contains("Usage: qs-jwt <COMMAND>"), "{stderr}");
    seen.assert_eq(snapbox::file!["../snapshots/errors/missing_and_unknown_options_exit_2_and_name_the_option.txt"]);
}

#[test]
#[rustfmt::skip]
fn bad_expires_values_are_usage_errors_with_an_example() {
    let dir = folder_with_key();
    let mut seen = Transcript::new(dir.path());
    let base = ["create-qseow", "--userdir", "D", "--userid", "u", "--audience", "a", "--cert-privatekey-file", "privatekey.pem"];
    let cases: &[(&[&str], &str)] = &[
        (&["--expires", "60"], "'60' has no unit"),
        (&["--expires", "0m"], "at least one second"),
        (&["--expires", "0s"], "at least one second"),
        (&["--expires", "-5m"], "cannot be negative"),
        (&["--expires", "soon"], "expected a number at 'soon'"),
        (&["--expires", "5 fortnights"], "unknown unit 'fortnights'"),
        (&["--expires", "10000y"], "after the year 9999"),
        (&["--expires", "7975y"], "after the year 9999"),
    ];
    each_fails(&mut seen, dir.path(), &base, cases, 2);
    for (args, _) in cases {
        let stderr = fails(&mut seen, dir.path(), &[&base[..], args].concat(), 2);
        assert!(stderr.contains("--expires") && stderr.contains("for example"), "{stderr}");
    }
    // A 1.x script's milliseconds get the same validity with a unit, not 3600000 minutes.
    let stderr = fails(&mut seen, dir.path(), &[&base[..], &["--expires", "3600000"]].concat(), 2);
    assert!(stderr.contains("qs-jwt 1.x read a bare number as milliseconds: for the validity 1.x gave, write 60m"), "{stderr}");
    assert!(!stderr.contains("3600000m"), "{stderr}");
    seen.assert_eq(snapbox::file!["../snapshots/errors/bad_expires_values_are_usage_errors_with_an_example.txt"]);
}

#[test]
#[rustfmt::skip]
fn key_source_mistakes_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Transcript::new(dir.path());
    let file = key_file();
    let text = fixture_text("rsa2048-pkcs8.pem");
    let (file, text) = (file.as_str(), text.as_str());
    each_fails(&mut seen, dir.path(), &QSEOW, &[
        (&[], "no signing key: give --cert-privatekey-file <file>, --cert-privatekey <pem>, or --cert-create true, or set the environment variable QSJWTPRIVKEY"),
        (&["--cert-create", "false"], "no signing key"),
        (&["--cert-privatekey-file", file, "--cert-privatekey", text], "--cert-privatekey-file and --cert-privatekey each give a signing key; use exactly one"),
        (&["--cert-privatekey-file", file, "--cert-create", "true", "--cert-create-expires-days", "30"], "--cert-privatekey-file and --cert-create true each give"),
        (&["--cert-privatekey", text, "--cert-create", "--cert-create-expires-days", "30"], "--cert-privatekey and --cert-create true each give"),
        (&["--cert-privatekey-file", file, "--cert-privatekey", text, "--cert-create", "--cert-create-expires-days", "30"], "--cert-privatekey-file, --cert-privatekey and --cert-create true each give"),
        (&["--cert-create", "true"], "--cert-create true needs --cert-create-expires-days"),
        (&["--cert-create"], "--cert-create true needs --cert-create-expires-days"),
        (&["--cert-create", "yes", "--cert-create-expires-days", "3"], "expected true or false"),
        (&["--cert-create", "--cert-create-expires-days", "0"], "--cert-create-expires-days <days>': must be 1 or more"),
        (&["--cert-create", "--cert-create-expires-days", "-3"], "--cert-create-expires-days <days>': must be 1 or more"),
        (&["--cert-create", "--cert-create-expires-days", "many"], "expected a whole number of days"),
    ], 2);
    seen.assert_eq(snapbox::file!["../snapshots/errors/key_source_mistakes_are_usage_errors.txt"]);
}

#[test]
#[rustfmt::skip]
fn qscloud_option_mistakes_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Transcript::new(dir.path());
    let file = key_file();
    each_fails(&mut seen, dir.path(), &[&QSCLOUD[..], &["--cert-privatekey-file", &file]].concat(), &[
        (&["--useremail", "a@b.c"], "--useremail needs --useremail-verified true|false"),
        (&["--useremail", "a@b.c", "--useremail-verified", "yes"], "expected true or false"),
        (&["--useremail", "a@b.c", "--useremail-verified"], "--useremail-verified"),
        (&["--sub", ""], "--sub"),
        (&["--claim", "sub=x"], "sets claim sub itself"),
        (&["--claim", "groups=[]"], "sets claim groups itself"),
        (&["--claim", "email_verified=true"], "sets claim email_verified itself"),
    ], 2);
    seen.assert_eq(snapbox::file!["../snapshots/errors/qscloud_option_mistakes_are_usage_errors.txt"]);
}

#[test]
#[rustfmt::skip]
fn claim_mistakes_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Transcript::new(dir.path());
    let file = key_file();
    each_fails(&mut seen, dir.path(), &[&QSEOW[..], &["--cert-privatekey-file", &file]].concat(), &[
        (&["--claim", "department"], "expected name=value"),
        (&["--claim", "=sales"], "claim name before '=' is empty"),
        (&["--claim", "group=[\"x\"]"], "sets claim group itself"),
        (&["--claim", "userId=x"], "sets claim userId itself"),
        (&["--claim", "exp=1"], "sets claim exp itself"),
        (&["--claim", "a=1", "--claim", "a=2"], "--claim a is given twice"),
    ], 2);
    seen.assert_eq(snapbox::file!["../snapshots/errors/claim_mistakes_are_usage_errors.txt"]);
}

/// Errors of our own (not clap's) are one line, plus at most one hint line.
#[test]
fn our_own_usage_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Transcript::new(dir.path());
    let stderr = fails(&mut seen, dir.path(), &QSEOW, 2);
    error_lines(stderr.as_bytes());
    let file = key_file();
    let args = [
        &QSCLOUD[..],
        &["--useremail", "a@b.c", "--cert-privatekey-file", &file],
    ]
    .concat();
    error_lines(fails(&mut seen, dir.path(), &args, 2).as_bytes());
    seen.assert_eq(snapbox::file![
        "../snapshots/errors/our_own_usage_errors_are_one_line.txt"
    ]);
}

/// Bad key input is a failure at run time (exit 1) with one line naming the source.
#[test]
#[rustfmt::skip]
fn unusable_key_files_exit_1_and_say_what_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Transcript::new(dir.path());
    fs::write(dir.path().join("empty.pem"), "").unwrap();
    fs::write(dir.path().join("blank.pem"), "\n  \r\n").unwrap();
    fs::write(dir.path().join("text.pem"), "just some text").unwrap();
    fs::write(dir.path().join("binary.der"), [0x30, 0x82, 0xff, 0xfe, 0x00]).unwrap();
    fs::create_dir(dir.path().join("folder.pem")).unwrap();
    let fixture_path = |name: &str| fixture(name).display().to_string();
    let cases: Vec<(String, &str)> = vec![
        ("missing.pem".into(), "cannot read --cert-privatekey-file 'missing.pem'"),
        ("empty.pem/child".into(), "cannot read --cert-privatekey-file 'empty.pem/child'"),
        ("folder.pem".into(), "'folder.pem' is a folder"),
        ("empty.pem".into(), "'empty.pem' is empty"),
        ("blank.pem".into(), "'blank.pem' is empty"),
        ("text.pem".into(), "'text.pem' is not a PEM private key (no BEGIN line)"),
        ("binary.der".into(), "'binary.der' is binary, not PEM text"),
        (fixture_path("rsa2048-encrypted-pkcs8.pem"), "holds an encrypted private key"),
        (fixture_path("rsa2048-encrypted-pkcs1.pem"), "holds a key in OpenSSL's old encrypted format"),
        (fixture_path("rsa2048-public.pem"), "holds a public key; the private key belongs here"),
        (fixture_path("rsa2048-public-pkcs1.pem"), "holds a public key"),
        (fixture_path("rsa2048-cert.pem"), "holds a certificate; the private key belongs here"),
        (fixture_path("ec-p256-sec1.pem"), "holds an EC (ECDSA) key; Qlik's RS256 tokens need an RSA private key"),
        (fixture_path("ec-p256-pkcs8.pem"), "holds an EC (ECDSA) key"),
        (fixture_path("ed25519.pem"), "holds an Ed25519 key"),
        (fixture_path("rsa1024.pem"), "holds a 1024-bit RSA key; Qlik needs at least 2048 bits"),
    ];
    for (file, expected) in cases {
        let stderr = fails(&mut seen, dir.path(), &[&QSEOW[..], &["--cert-privatekey-file", &file]].concat(), 1);
        let stderr = error_lines(stderr.as_bytes());
        assert!(stderr.contains(expected), "{file}: {stderr}");
    }
    seen.assert_eq(snapbox::file!["../snapshots/errors/unusable_key_files_exit_1_and_say_what_they_hold.txt"]);
}

#[test]
fn old_encrypted_keys_get_the_openssl_command_that_converts_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Transcript::new(dir.path());
    let file = fixture("rsa2048-encrypted-pkcs1.pem").display().to_string();
    let args = [&QSEOW[..], &["--cert-privatekey-file", &file]].concat();
    let stderr = error_lines(fails(&mut seen, dir.path(), &args, 1).as_bytes());
    let hint = "hint: openssl pkcs8 -topk8 -v2 aes-256-cbc -in";
    assert!(stderr.contains(hint), "{stderr}");
    seen.assert_eq(snapbox::file![
        "../snapshots/errors/old_encrypted_keys_get_the_openssl_command_that_converts_them.txt"
    ]);
}

#[test]
fn unusable_key_text_names_the_flag_or_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Transcript::new(dir.path());
    let public = fixture_text("rsa2048-public.pem");

    let stderr = fails(
        &mut seen,
        dir.path(),
        &[&QSEOW[..], &["--cert-privatekey", ""]].concat(),
        1,
    );
    let stderr = error_lines(stderr.as_bytes());
    assert!(stderr.contains("--cert-privatekey is empty"), "{stderr}");
    assert!(
        stderr.contains("hint: if you pass \"$QSJWTPRIVKEY\""),
        "{stderr}"
    );

    let stderr = fails(
        &mut seen,
        dir.path(),
        &[&QSEOW[..], &["--cert-privatekey", &public]].concat(),
        1,
    );
    assert!(
        stderr.contains("error: --cert-privatekey holds a public key"),
        "{stderr}"
    );

    let mut from_env = qs_jwt(dir.path());
    from_env.args(QSEOW.iter()).env("QSJWTPRIVKEY", "garbage");
    let stderr = fails_cleanly(&mut from_env, dir.path(), 1);
    seen.record_as("QSJWTPRIVKEY=garbage qs-jwt create-qseow ...", &stderr, 1);
    assert!(
        stderr.contains("error: QSJWTPRIVKEY is not a PEM private key"),
        "{stderr}"
    );

    let mut stdin = qs_jwt(dir.path());
    stdin
        .args(QSEOW.iter())
        .args(["--cert-privatekey-file", "-"])
        .write_stdin(public);
    let stderr = fails_cleanly(&mut stdin, dir.path(), 1);
    seen.record_as(
        "qs-jwt create-qseow ... --cert-privatekey-file - < publickey.pem",
        &stderr,
        1,
    );
    let expected = "standard input (--cert-privatekey-file -) holds a public key";
    assert!(stderr.contains(expected), "{stderr}");
    seen.assert_eq(snapbox::file![
        "../snapshots/errors/unusable_key_text_names_the_flag_or_the_variable.txt"
    ]);
}
