//! Key sources and formats, and the key pair and certificate --cert-create writes.

use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::*;
use predicates::prelude::*;

const AUDIENCE: &str = QSEOW_AUDIENCE;

/// `create-qseow` for one hour; each test adds the key options.
fn qseow(dir: &Path) -> assert_cmd::Command {
    Create::qseow().run_in(dir)
}

/// Runs and checks that the token verifies with the fixture key pair.
fn signs_with_fixture_key(cmd: &mut assert_cmd::Command) {
    let output = cmd.assert().success().get_output().clone();
    let token = single_token(&output.stdout);
    verify_with_public_key(&token, &fixture_text("rsa2048-public.pem"), AUDIENCE);
}

#[test]
fn reads_pkcs1_and_pkcs8_files() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["rsa2048-pkcs1.pem", "rsa2048-pkcs8.pem"] {
        signs_with_fixture_key(
            qseow(dir.path())
                .arg("--cert-privatekey-file")
                .arg(fixture(name)),
        );
    }
}

#[test]
fn tolerates_crlf_bom_whitespace_and_literal_newlines_in_files() {
    let dir = tempfile::tempdir().unwrap();
    let pkcs8 = fixture_text("rsa2048-pkcs8.pem");
    let pkcs1 = fixture_text("rsa2048-pkcs1.pem");
    let variants = [
        ("crlf.pem", pkcs8.replace('\n', "\r\n")),
        ("bom.pem", format!("\u{feff}{pkcs1}")),
        (
            "bom-crlf.pem",
            format!("\u{feff}{}", pkcs1.replace('\n', "\r\n")),
        ),
        ("padded.pem", format!("\n\n   {pkcs8}\n\n  ")),
        ("literal.pem", pkcs8.trim().replace('\n', "\\n")),
    ];
    for (name, text) in variants {
        fs::write(dir.path().join(name), text).unwrap();
        signs_with_fixture_key(qseow(dir.path()).args(["--cert-privatekey-file", name]));
    }
}

#[test]
fn reads_the_key_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    signs_with_fixture_key(
        qseow(dir.path())
            .args(["--cert-privatekey-file", "-"])
            .write_stdin(fixture_text("rsa2048-pkcs1.pem")),
    );
}

#[test]
fn reads_qsjwtprivkey_when_no_key_option_is_given() {
    let dir = tempfile::tempdir().unwrap();
    signs_with_fixture_key(
        qseow(dir.path()).env("QSJWTPRIVKEY", fixture_text("rsa2048-pkcs8.pem")),
    );
}

/// CI secrets and .env files often hold the key on one line with `\n` written out.
#[test]
fn reads_qsjwtprivkey_with_literal_newlines() {
    let dir = tempfile::tempdir().unwrap();
    let one_line = fixture_text("rsa2048-pkcs1.pem")
        .trim()
        .replace('\n', "\\n");
    signs_with_fixture_key(qseow(dir.path()).env("QSJWTPRIVKEY", one_line));
}

/// PowerShell's `"$(Get-Content key.pem)"` (without -Raw) joins the lines with spaces.
#[test]
fn reads_a_key_whose_line_breaks_became_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let joined = fixture_text("rsa2048-pkcs8.pem").trim().replace('\n', " ");
    signs_with_fixture_key(qseow(dir.path()).args(["--cert-privatekey", &joined]));
}

#[test]
fn qsjwtprivkey_is_ignored_when_a_key_option_is_given() {
    let dir = tempfile::tempdir().unwrap();
    signs_with_fixture_key(
        qseow(dir.path())
            .env("QSJWTPRIVKEY", "not a key at all")
            .arg("--cert-privatekey-file")
            .arg(fixture("rsa2048-pkcs8.pem")),
    );
}

#[test]
fn help_names_qsjwtprivkey_but_never_shows_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let key = fixture_text("rsa2048-pkcs8.pem");
    let body = key.lines().nth(1).unwrap();
    for command in ["create-qseow", "create-qscloud"] {
        qs_jwt(dir.path())
            .env("QSJWTPRIVKEY", &key)
            .args([command, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("QSJWTPRIVKEY"))
            .stdout(predicate::str::contains(body).not())
            .stdout(predicate::str::contains("BEGIN").not());
    }
}

#[test]
fn key_text_never_reaches_stderr_at_debug_level() {
    let dir = tempfile::tempdir().unwrap();
    let key = fixture_text("rsa2048-pkcs8.pem");
    let output = qseow(dir.path())
        .args(["--loglevel", "debug", "--cert-privatekey", &key])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("DEBUG payload"), "{stderr}");
    for line in key.lines() {
        assert!(!stderr.contains(line), "stderr shows key line {line:?}");
    }
}

/// A key passed where a path or a plain value belongs must not be echoed in the error.
#[test]
fn key_text_in_the_wrong_place_is_redacted_from_errors() {
    let dir = tempfile::tempdir().unwrap();
    let key = fixture_text("rsa2048-pkcs1.pem");
    let body = key.lines().nth(1).unwrap();
    let misplaced: [Vec<&str>; 3] = [
        vec!["--cert-privatekey-file", &key],
        vec![&key],
        vec!["--claim", &key],
    ];
    for args in misplaced {
        let output = qseow(dir.path())
            .args(&args)
            .assert()
            .failure()
            .get_output()
            .clone();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(output.stdout.is_empty());
        assert!(
            !stderr.contains(body) && !stderr.contains("BEGIN RSA"),
            "{stderr}"
        );
        assert!(stderr.contains("[key text redacted]"), "{stderr}");
    }
}

fn create_in(dir: &Path, extra: &[&str]) -> assert_cmd::Command {
    Create::qseow().new_key().args(extra).run_in(dir)
}

#[test]
fn certificate_is_self_signed_sha256_rsa_4096_for_the_given_days() {
    let dir = tempfile::tempdir().unwrap();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    create_in(dir.path(), &["--cert-create-expires-days", "400"])
        .assert()
        .success();
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;

    let pem_text = fs::read(dir.path().join("publickey.cer")).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem_text).unwrap();
    let cert = pem.parse_x509().unwrap();
    assert_eq!(cert.version(), x509_parser::x509::X509Version::V3);
    assert_eq!(cert.subject().to_string(), "CN=qs-jwt");
    assert_eq!(cert.issuer().to_string(), "CN=qs-jwt");
    assert_eq!(
        cert.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.113549.1.1.11",
        "sha256WithRSAEncryption"
    );
    let serial = cert.raw_serial();
    assert!(
        serial[0] < 0x80 && serial.iter().any(|b| *b != 0),
        "positive serial {serial:?}"
    );
    assert!(cert.verify_signature(None).is_ok(), "self-signed");

    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    assert!(
        not_before <= before && not_before >= before - 10 * 60,
        "not_before {not_before}"
    );
    assert!(
        (before + 400 * 86_400..=after + 400 * 86_400).contains(&not_after),
        "not_after"
    );

    let spki = cert.public_key();
    match spki.parsed().unwrap() {
        x509_parser::public_key::PublicKey::RSA(rsa) => assert_eq!(rsa.key_size(), 4096),
        other => panic!("not RSA: {other:?}"),
    }
    // publickey.pem is the certificate's key.
    let public_pem = fs::read_to_string(dir.path().join("publickey.pem")).unwrap();
    let (_, public) = x509_parser::pem::parse_x509_pem(public_pem.as_bytes()).unwrap();
    assert_eq!(public.contents, spki.raw);
}

#[test]
fn two_certificates_get_different_serials() {
    let dir = tempfile::tempdir().unwrap();
    create_in(dir.path(), &["--cert-file-prefix", "a_"])
        .assert()
        .success();
    create_in(dir.path(), &["--cert-file-prefix", "b_"])
        .assert()
        .success();
    let serial = |name: &str| {
        let text = fs::read(dir.path().join(name)).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&text).unwrap();
        pem.parse_x509().unwrap().raw_serial().to_vec()
    };
    assert_ne!(serial("a_publickey.cer"), serial("b_publickey.cer"));
}

#[test]
fn the_bare_flag_means_true_and_a_prefix_may_name_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("keys")).unwrap();
    let output = qseow(dir.path())
        .args([
            "--cert-create",
            "--cert-create-expires-days",
            "1",
            "--cert-file-prefix",
            "keys/qsjwt_",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let token = single_token(&output.stdout);
    let public = fs::read_to_string(dir.path().join("keys/qsjwt_publickey.pem")).unwrap();
    verify_with_public_key(&token, &public, AUDIENCE);
    let mut names: Vec<String> = fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "qsjwt_privatekey.pem",
            "qsjwt_publickey.cer",
            "qsjwt_publickey.pem"
        ]
    );
}

#[test]
fn refuses_to_overwrite_without_force_and_replaces_with_it() {
    let dir = tempfile::tempdir().unwrap();
    create_in(dir.path(), &[]).assert().success();
    let first = snapshot(dir.path());

    let stderr = fails_cleanly(&mut create_in(dir.path(), &[]), dir.path(), 1);
    let stderr = error_lines(stderr.as_bytes());
    // The safe way first: the key Qlik may already trust; --force only in the hint.
    assert!(
        stderr.contains(
            "already exist; sign with the key you have: --cert-privatekey-file \
             'privatekey.pem' instead of --cert-create"
        ) && stderr.contains("hint: --force replaces the key files"),
        "{stderr}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join("privatekey.pem");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    }
    let output = create_in(dir.path(), &["--force"])
        .assert()
        .success()
        .get_output()
        .clone();
    let token = single_token(&output.stdout);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(
            "WARN --force replaced 'privatekey.pem', 'publickey.pem', 'publickey.cer'; give Qlik \
             the new certificate"
        ),
        "{stderr}"
    );
    let second = snapshot(dir.path());
    assert_eq!(
        second.len(),
        3,
        "no temporary files left: {:?}",
        second.keys()
    );
    for (name, contents) in &first {
        assert_ne!(&second[name], contents, "{} was replaced", name.display());
    }
    let public = fs::read_to_string(dir.path().join("publickey.pem")).unwrap();
    verify_with_public_key(&token, &public, AUDIENCE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("privatekey.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "a replaced private key is private again"
        );
    }
}

#[test]
fn one_existing_file_is_enough_to_refuse_and_write_nothing() {
    for existing in ["privatekey.pem", "publickey.pem", "publickey.cer"] {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(format!("x_{existing}")), "keep me").unwrap();
        let mut cmd = create_in(dir.path(), &["--cert-file-prefix", "x_"]);
        let stderr = error_lines(fails_cleanly(&mut cmd, dir.path(), 1).as_bytes());
        assert!(
            stderr.contains(&format!("'x_{existing}' already exists")),
            "{stderr}"
        );
    }
}

#[test]
fn a_missing_folder_or_a_file_as_folder_fails_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("plainfile"), "x").unwrap();
    for (prefix, expected) in [
        ("missing/k_", "does not exist"),
        ("plainfile/k_", "is not a folder"),
    ] {
        let mut cmd = create_in(dir.path(), &["--cert-file-prefix", prefix]);
        let stderr = error_lines(fails_cleanly(&mut cmd, dir.path(), 1).as_bytes());
        assert!(
            stderr.contains(expected) && stderr.contains("--cert-file-prefix"),
            "{stderr}"
        );
    }
}

/// /proc takes no new files, even from root, so the write itself fails after the checks pass.
#[cfg(target_os = "linux")]
#[test]
fn a_folder_that_refuses_files_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = create_in(dir.path(), &["--cert-file-prefix", "/proc/qsjwt_"]);
    let stderr = error_lines(fails_cleanly(&mut cmd, dir.path(), 1).as_bytes());
    assert!(
        stderr.contains("cannot write '/proc/qsjwt_privatekey.pem'"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(".qs-jwt-"),
        "our temporary names are ours: {stderr}"
    );
    assert!(!Path::new("/proc/qsjwt_privatekey.pem").exists());
}

#[test]
fn certificate_days_past_the_year_9999_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = create_in(dir.path(), &["--cert-create-expires-days", "4000000"]);
    let stderr = fails_cleanly(&mut cmd, dir.path(), 2);
    assert!(error_lines(stderr.as_bytes()).contains("9999"));
}

#[test]
fn a_prefix_that_names_a_folder_writes_into_it() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("keys")).unwrap();
    let output = create_in(dir.path(), &["--cert-file-prefix", "keys"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("--cert-file-prefix 'keys' is a folder: the key files go into it"),
        "{stderr}"
    );
    for name in ["privatekey.pem", "publickey.pem", "publickey.cer"] {
        assert!(dir.path().join("keys").join(name).is_file(), "{name}");
    }
    assert!(!dir.path().join("keysprivatekey.pem").exists());
}

/// Our own run-time errors look like clap's usage errors on a terminal: `error:` in red.
#[cfg(target_os = "linux")]
#[test]
fn run_time_errors_are_coloured_like_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let args = "create-qseow --userdir D --userid u --audience a --expires 1h \
                --cert-privatekey-file missing.pem";
    let (code, screen) = on_terminal(dir.path(), args, None);
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("\x1b[1;31merror:\x1b[0m cannot read"),
        "{screen:?}"
    );
    let (code, screen) = on_terminal(dir.path(), "create-qseow --bogus", None);
    assert_eq!(code, 2, "{screen}");
    assert!(
        screen.contains("\x1b[1;31merror:\x1b[0m unexpected argument"),
        "{screen:?}"
    );
}

/// Keys in SSH tools' formats (tests/fixtures/make-fixtures.sh makes them with ssh-keygen and
/// puttygen) are named with their type, and a key Qlik cannot use is not offered a conversion.
#[test]
fn ssh_and_putty_keys_are_named_with_their_type() {
    let dir = tempfile::tempdir().unwrap();
    let private = "--cert-privatekey-file";
    let public = "--cert-publickey-file";
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "openssh-rsa2048",
            private,
            "holds an OpenSSH private key, a 2048-bit RSA key; qs-jwt reads PEM",
            "ssh-keygen -p -m PKCS8 -f",
        ),
        (
            "openssh-ed25519",
            private,
            "holds an OpenSSH private key, an Ed25519 key; Qlik's RS256 tokens need an RSA \
             private key",
            "--cert-create true",
        ),
        (
            "openssh-ecdsa-encrypted",
            private,
            "holds an OpenSSH private key, an ECDSA (P-256) key; Qlik's RS256 tokens need an RSA",
            "--cert-create true",
        ),
        (
            "putty-rsa2048.ppk",
            private,
            "holds a PuTTY private key (.ppk), a 2048-bit RSA key; qs-jwt reads PEM",
            "PuTTYgen (Conversions > Export OpenSSH key), or: puttygen",
        ),
        (
            "putty-ed25519.ppk",
            private,
            "holds a PuTTY private key (.ppk), an Ed25519 key; Qlik's RS256 tokens need an RSA",
            "--cert-create true",
        ),
        (
            "openssh-rsa2048.pub",
            private,
            "holds an OpenSSH public key, a 2048-bit RSA key; the private key belongs here",
            "if its private key is",
        ),
        (
            "openssh-ed25519.pub",
            private,
            "holds an OpenSSH public key, an Ed25519 key; the private key belongs here, and \
             Qlik's RS256 tokens need an RSA key",
            "--cert-create true",
        ),
        (
            "putty-rsa2048-ssh2.pub",
            private,
            "holds an SSH2 public key (RFC 4716), a 2048-bit RSA key",
            "",
        ),
        (
            "openssh-rsa2048.pub",
            public,
            "holds an OpenSSH public key, a 2048-bit RSA key; this option takes PEM",
            "ssh-keygen -e -m PKCS8 -f",
        ),
        (
            "openssh-ed25519.pub",
            public,
            "holds an OpenSSH public key, an Ed25519 key",
            "RSA and EC keys only",
        ),
        (
            "putty-rsa2048-ssh2.pub",
            public,
            "holds an SSH2 public key (RFC 4716), a 2048-bit RSA key",
            "make a PEM public key of it: ssh-keygen -i -m RFC4716 -f",
        ),
        (
            "openssh-rsa2048",
            public,
            "holds an OpenSSH private key, a 2048-bit RSA key; this option takes the certificate",
            "openssl req -new -x509 -key",
        ),
        (
            "putty-ed25519.ppk",
            public,
            "holds a PuTTY private key (.ppk), an Ed25519 key",
            "with an RSA key",
        ),
    ];
    let token = single_token(
        &succeeds(
            qseow(dir.path()).args([private, fixture("rsa2048-pkcs8.pem").to_str().unwrap()]),
        )
        .stdout,
    );
    for (file, flag, message, hint) in cases {
        let path = fixture(file).display().to_string();
        let mut cmd = if *flag == private {
            qseow(dir.path())
        } else {
            let mut decode = qs_jwt(dir.path());
            decode.args(["decode", "--jwt", &token]);
            decode
        };
        cmd.args([flag, &path.as_str()]);
        let stderr = error_lines(fails_cleanly(&mut cmd, dir.path(), 1).as_bytes());
        assert!(stderr.contains(message), "{file} {flag}: {stderr}");
        assert!(stderr.contains(hint), "{file} {flag}: {stderr}");
        assert!(!stderr.contains("no BEGIN line"), "{file} {flag}: {stderr}");
        if !message.contains("a 2048-bit RSA key") {
            assert!(!stderr.contains("ssh-keygen -p"), "no conversion: {stderr}");
        }
    }
}

/// The hint's command, run in `dir` as printed (with `extra` where ssh-keygen would ask for a
/// passphrase on a terminal); fails the test when the command does.
#[cfg(target_os = "linux")]
fn run_hint(dir: &Path, stderr: &str, after: &str, extra: (&str, &str)) {
    let command = stderr
        .lines()
        .find_map(|line| line.strip_prefix("hint: ")?.split_once(after))
        .unwrap_or_else(|| panic!("no '{after}' in: {stderr}"))
        .1
        .replace(extra.0, extra.1);
    let ran = crate::common::command("bash")
        .args(["-c", &command])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(ran.status.success(), "{command}: {ran:?}");
}

/// The commands qs-jwt gives for an OpenSSH key, its .pub and a PuTTY key, run as printed, give
/// keys qs-jwt signs and verifies with, and a certificate setup-qseow takes.
#[cfg(target_os = "linux")]
#[test]
fn the_commands_given_for_ssh_and_putty_keys_work_as_printed() {
    if !["ssh-keygen", "puttygen"]
        .map(crate::common::skip::require_tool)
        .iter()
        .all(|has| *has)
    {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (fixture_name, name) in [
        ("openssh-rsa2048", "id_rsa"),
        ("openssh-rsa2048.pub", "id_rsa.pub"),
        ("putty-rsa2048.ppk", "work key.ppk"),
    ] {
        fs::copy(fixture(fixture_name), d.join(name)).unwrap();
        // As ssh-keygen and PuTTYgen leave a private key (ssh-keygen refuses one others read).
        fs::set_permissions(d.join(name), fs::Permissions::from_mode(0o600)).unwrap();
    }
    let fails = |args: &[&str]| {
        let mut cmd = qs_jwt(d);
        cmd.args(args);
        error_lines(fails_cleanly(&mut cmd, d, 1).as_bytes())
    };
    let create = [
        "create-qseow",
        "--userdir",
        "D",
        "--userid",
        "u",
        "--audience",
        "a",
        "--expires",
        "1h",
    ];
    // ssh-keygen asks for the key's passphrase and the copy's on a terminal: none here.
    let no_passphrase = ("-f 'id_rsa-pkcs8.pem'", "-f 'id_rsa-pkcs8.pem' -P '' -N ''");

    // id_rsa.pub where the private key belongs: the hint names id_rsa and converts a copy.
    let stderr = fails(&[&create[..], &["--cert-privatekey-file", "id_rsa.pub"]].concat());
    run_hint(d, &stderr, "convert a copy of it: ", no_passphrase);
    assert!(
        fs::read_to_string(d.join("id_rsa"))
            .unwrap()
            .contains("OPENSSH PRIVATE KEY")
    );
    let signed = succeeds(
        qs_jwt(d)
            .args(create)
            .args(["--cert-privatekey-file", "id_rsa-pkcs8.pem"]),
    );
    let token = single_token(&signed.stdout);

    // The OpenSSH key itself: the same command.
    let stderr = fails(&[&create[..], &["--cert-privatekey-file", "id_rsa"]].concat());
    assert!(
        stderr.contains(
            "cp 'id_rsa' 'id_rsa-pkcs8.pem'; ssh-keygen -p -m PKCS8 -f 'id_rsa-pkcs8.pem'"
        ),
        "{stderr}"
    );

    // id_rsa.pub for decode: a PEM public key that verifies the token.
    let stderr = fails(&[
        "decode",
        "--jwt",
        &token,
        "--cert-publickey-file",
        "id_rsa.pub",
    ]);
    run_hint(d, &stderr, "make a PEM public key of it: ", ("", ""));
    succeeds(qs_jwt(d).args([
        "decode",
        "--jwt",
        &token,
        "--cert-publickey-file",
        "id_rsa-public.pem",
        "--expected-audience",
        "a",
    ]));

    // PuTTYgen's SSH2 public key for decode: two conversions, and the key verifies.
    fs::copy(fixture("putty-rsa2048-ssh2.pub"), d.join("ssh2.pub")).unwrap();
    let stderr = fails(&[
        "decode",
        "--jwt",
        &token,
        "--cert-publickey-file",
        "ssh2.pub",
    ]);
    run_hint(d, &stderr, "make a PEM public key of it: ", ("", ""));
    succeeds(qs_jwt(d).args([
        "decode",
        "--jwt",
        &token,
        "--cert-publickey-file",
        "ssh2-openssh-public.pem",
        "--expected-audience",
        "a",
    ]));

    // The PuTTY key: exported to PEM, it signs.
    let stderr = fails(&[&create[..], &["--cert-privatekey-file", "work key.ppk"]].concat());
    run_hint(d, &stderr, "Export OpenSSH key), or: ", ("", ""));
    succeeds(
        qs_jwt(d)
            .args(create)
            .args(["--cert-privatekey-file", "work key-pkcs1.pem"]),
    );

    // The OpenSSH key given for the certificate: converted, then the certificate made, which
    // setup-qseow takes.
    fs::remove_file(d.join("id_rsa-pkcs8.pem")).unwrap();
    let stderr = fails(&[
        "setup-qseow",
        "--audience",
        "a",
        "--cert-publickey-file",
        "id_rsa",
    ]);
    run_hint(
        d,
        &stderr,
        "convert it, then make the certificate: ",
        no_passphrase,
    );
    succeeds(qs_jwt(d).args([
        "setup-qseow",
        "--audience",
        "a",
        "--cert-publickey-file",
        "id_rsa-pkcs8.cer",
    ]));
}
