//! Standard streams and inputs as ordinary callers give them: `/dev/null` opened read-write on
//! standard output (Python's `subprocess.DEVNULL`, `1<>/dev/null`), files written by Windows
//! PowerShell 5.1 (UTF-16 with a byte order mark), a FIFO nobody writes to, an empty pipe, an
//! empty passphrase, `TERM=dumb`. Each test runs the built binary and looks at what a user
//! would: exit code, stdout, stderr, files.
// Most of these tests use Unix shells, FIFOs and file modes; elsewhere helpers go unused.
#![cfg_attr(not(unix), allow(unused_imports, dead_code))]

use crate::common;

use std::path::Path;

use crate::common::{
    Create, error_lines, fixture, fixture_text, folder_with_key, qs_jwt, single_token,
    verify_with_public_key,
};

const BIN: &str = env!("CARGO_BIN_EXE_qs-jwt");

/// Runs a bash line with `$BIN` set to the binary, in `dir`; returns code, stdout, stderr.
#[cfg(unix)]
fn shell(dir: &Path, line: &str) -> (i32, String, String) {
    let output = common::command("bash")
        .args(["-c", line])
        .current_dir(dir)
        .env("BIN", BIN)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The key files `--cert-create true` writes with the default prefix.
const NEW_KEY_FILES: [&str; 3] = ["privatekey.pem", "publickey.pem", "publickey.cer"];

// 1. /dev/null opened read-write is a caller that throws the product away, not a closed stdout.

#[cfg(unix)]
#[test]
fn dev_null_opened_read_write_on_stdout_is_a_sink_and_keeps_new_keys() {
    if !crate::common::skip::require_tool("python3") {
        return;
    }
    for new_key in [false, true] {
        let dir = folder_with_key();
        let create = if new_key {
            Create::qseow()
                .new_key()
                .args(["--cert-file-prefix", "new/"])
        } else {
            Create::qseow().key_file("privatekey.pem")
        };
        let words = create.argv().join(" ");
        if new_key {
            std::fs::create_dir(dir.path().join("new")).unwrap();
        }

        let (code, _, stderr) = shell(dir.path(), &format!("\"$BIN\" {words} 1<>/dev/null"));
        assert_eq!(code, 0, "1<>/dev/null, new key {new_key}: {stderr}");
        assert!(!stderr.contains("error:"), "{stderr}");

        // Python's subprocess.run(..., stdout=subprocess.DEVNULL), as provisioning scripts call.
        let python = format!(
            "import subprocess, sys\n\
             sys.exit(subprocess.run([{BIN:?}] + {:?}.split(), \
             stdout=subprocess.DEVNULL).returncode)",
            words.replace("new/", "py/")
        );
        if new_key {
            std::fs::create_dir(dir.path().join("py")).unwrap();
        }
        let output = common::command("python3")
            .args(["-c", &python])
            .current_dir(dir.path())
            .output()
            .expect("python3 runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "DEVNULL: {stderr}");

        if new_key {
            // The provisioning script that throws the token away keeps its keys.
            for folder in ["new", "py"] {
                for file in NEW_KEY_FILES {
                    let path = dir.path().join(folder).join(file);
                    assert!(path.is_file(), "{} kept", path.display());
                }
            }
        }
    }
}

#[cfg(unix)]
#[test]
fn a_really_closed_stdout_still_fails_and_takes_new_keys_back() {
    let dir = tempfile::tempdir().unwrap();
    let words = Create::qseow().new_key().argv().join(" ");
    let (code, _, stderr) = shell(dir.path(), &format!("\"$BIN\" {words} >&-"));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        error_lines(stderr.as_bytes()).contains("standard output is closed"),
        "{stderr}"
    );
    for file in NEW_KEY_FILES {
        assert!(!dir.path().join(file).exists(), "{file} taken back");
    }
}

// 2. Text inputs in the encodings Windows tools write.

/// `text` as Windows PowerShell 5.1's `>` and `Out-File` write it: UTF-16LE with a byte order
/// mark (and CRLF line ends).
fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xff, 0xfe];
    for unit in text.replace('\n', "\r\n").encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

/// `text` as Notepad and `Set-Content -Encoding UTF8` write it: UTF-8 with a byte order mark.
fn utf8_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xef, 0xbb, 0xbf];
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

/// Writes text in one encoding.
type Encode = fn(&str) -> Vec<u8>;

const ENCODINGS: [(&str, Encode); 2] = [("UTF-16LE+BOM", utf16le_bom), ("UTF-8+BOM", utf8_bom)];

/// Writes `bytes` to `name` in `dir`, readable by its owner only.
fn owner_only_file(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    common::owner_only(&path);
}

#[test]
fn keys_certificates_and_tokens_saved_by_windows_powershell_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let key = fixture_text("rsa2048-pkcs8.pem");
    for (encoding, encode) in ENCODINGS {
        // The private key, from a file and from standard input.
        owner_only_file(dir.path(), "key.pem", &encode(&key));
        let from_file = Create::qseow()
            .key_file("key.pem")
            .run_in(dir.path())
            .output();
        let from_stdin = Create::qseow()
            .key_file("-")
            .run_in(dir.path())
            .write_stdin(encode(&key))
            .output();
        let mut tokens = Vec::new();
        for output in [from_file.unwrap(), from_stdin.unwrap()] {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{encoding} key: {stderr}");
            let token = single_token(&output.stdout);
            verify_with_public_key(
                &token,
                &fixture_text("rsa2048-public.pem"),
                common::QSEOW_AUDIENCE,
            );
            tokens.push(token);
        }

        // The token, from a file and from standard input, checked with a certificate and a
        // public key saved the same way.
        owner_only_file(
            dir.path(),
            "token.jwt",
            &encode(&format!("{}\n", tokens[0])),
        );
        owner_only_file(
            dir.path(),
            "cert.pem",
            &encode(&fixture_text("rsa2048-cert.pem")),
        );
        owner_only_file(
            dir.path(),
            "public.pem",
            &encode(&fixture_text("rsa2048-public.pem")),
        );
        for public in ["cert.pem", "public.pem"] {
            let check = ["--cert-publickey-file", public];
            for (source, stdin) in [("token.jwt", None), ("-", Some(encode(&tokens[1])))] {
                let mut cmd = qs_jwt(dir.path());
                cmd.args(["decode", "--jwt-file", source]).args(check);
                if let Some(stdin) = stdin {
                    cmd.write_stdin(stdin);
                }
                let output = cmd.output().unwrap();
                let stdout = String::from_utf8_lossy(&output.stdout);
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert!(
                    output.status.success(),
                    "{encoding} token {source}, {public}: {stdout}{stderr}"
                );
                assert!(stdout.contains("Signature:  valid"), "{encoding}: {stdout}");
            }
        }
    }
}

#[test]
fn passphrase_files_saved_by_windows_powershell_are_read() {
    let dir = tempfile::tempdir().unwrap();
    // A passphrase beyond ASCII: the UTF-16 file must give its UTF-8 bytes.
    let key = "rsa2048-encrypted-unicode.pem";
    std::fs::copy(fixture(key), dir.path().join(key)).unwrap();
    common::owner_only(&dir.path().join(key));
    for (encoding, encode) in ENCODINGS {
        owner_only_file(dir.path(), "pass.txt", &encode("pässwörd ✓\n"));
        for (source, stdin) in [("pass.txt", None), ("-", Some(encode("pässwörd ✓\n")))] {
            let mut cmd = Create::qseow()
                .key_file(key)
                .args(["--cert-privatekey-passphrase-file", source])
                .run_in(dir.path());
            if let Some(stdin) = stdin {
                cmd.write_stdin(stdin);
            }
            let output = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{encoding} {source}: {stderr}");
            single_token(&output.stdout);
        }
    }
}

// 3. Every read is bounded in time.

/// A FIFO in `dir` that nobody opens for writing: opening it for reading blocks for ever.
#[cfg(unix)]
fn fifo(dir: &Path, name: &str) {
    let status = common::command("mkfifo")
        .arg(dir.join(name))
        .status()
        .unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn a_fifo_with_no_writer_is_an_error_within_the_timeout() {
    let dir = folder_with_key();
    fifo(dir.path(), "nobody.fifo");
    let token = String::from_utf8(
        Create::qseow()
            .key_file("privatekey.pem")
            .run_in(dir.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let server = "https://127.0.0.1:9/jwt";
    for (flag, args) in [
        (
            "--cacert",
            vec!["--jwt", token.trim(), "--cacert", "nobody.fifo"],
        ),
        ("--jwt-file", vec!["--jwt-file", "nobody.fifo"]),
    ] {
        let output = qs_jwt(dir.path())
            .args(["login-qseow", "--server", server, "--timeout", "1s"])
            .args(args)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{flag}: {stderr}");
        assert_eq!(
            error_lines(&output.stderr).trim_end(),
            format!(
                "error: {flag} 'nobody.fifo' was not read to its end within 1s (--timeout): is \
                 it a FIFO (named pipe) or a process substitution that nothing writes to, or \
                 whose writer is stuck? give a regular file, or raise --timeout"
            ),
        );
    }
}

#[cfg(unix)]
#[test]
fn a_slow_pipe_on_standard_input_is_still_read() {
    let dir = folder_with_key();
    let words = Create::qseow().key_file("-").argv().join(" ");
    let (code, stdout, stderr) = shell(
        dir.path(),
        &format!("{{ sleep 2; cat privatekey.pem; }} | \"$BIN\" {words}"),
    );
    assert_eq!(code, 0, "{stderr}");
    single_token(stdout.as_bytes());
}

// 4. and 5. Passphrases: an empty one, and a file others can read.

/// A copy of the test key encrypted with an empty passphrase, as `openssl ... -passout pass:`
/// writes it.
#[cfg(target_os = "linux")]
fn key_with_empty_passphrase(dir: &Path) {
    let status = common::command("openssl")
        .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:"])
        .arg("-in")
        .arg(fixture("rsa2048-pkcs8.pem"))
        .args(["-out", "empty-pass.pem"])
        .current_dir(dir)
        .status()
        .expect("openssl runs");
    assert!(status.success());
    common::owner_only(&dir.join("empty-pass.pem"));
    assert!(
        std::fs::read_to_string(dir.join("empty-pass.pem"))
            .unwrap()
            .contains("ENCRYPTED PRIVATE KEY")
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_key_encrypted_with_an_empty_passphrase_is_read_with_an_empty_file() {
    if !crate::common::skip::require_tool("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    key_with_empty_passphrase(dir.path());
    owner_only_file(dir.path(), "empty.txt", b"");
    owner_only_file(dir.path(), "newline.txt", b"\n");
    for file in ["empty.txt", "newline.txt", "/dev/null"] {
        let output = Create::qseow()
            .key_file("empty-pass.pem")
            .args(["--cert-privatekey-passphrase-file", file])
            .run_in(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{file}: {stderr}");
        assert!(!stderr.contains("WARN"), "{file}: {stderr}");
        let token = single_token(&output.stdout);
        verify_with_public_key(
            &token,
            &fixture_text("rsa2048-public.pem"),
            common::QSEOW_AUDIENCE,
        );
    }

    // An empty QSJWTPASSPHRASE is still taken for an unset secret, and says what to do.
    let output = Create::qseow()
        .key_file("empty-pass.pem")
        .run_in(dir.path())
        .env("QSJWTPASSPHRASE", "")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "WARN QSJWTPASSPHRASE is set but empty; it is not used (for a key encrypted with an \
             empty passphrase, give an empty file to --cert-privatekey-passphrase-file)"
        ),
        "{stderr}"
    );

    // A new key is never written under an empty passphrase.
    let output = Create::qseow()
        .new_key()
        .args(["--cert-privatekey-passphrase-file", "empty.txt"])
        .run_in(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("an empty passphrase would protect the new key with nothing"),
        "{stderr}"
    );
    assert!(!dir.path().join("privatekey.pem").exists());
}

#[cfg(unix)]
#[test]
fn a_passphrase_file_others_can_read_gets_the_key_files_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = "rsa2048-encrypted-pkcs8.pem";
    std::fs::copy(fixture(key), dir.path().join(key)).unwrap();
    common::owner_only(&dir.path().join(key));
    std::fs::write(dir.path().join("pass.txt"), "fixture\n").unwrap();
    for (mode, warning) in [
        (
            0o644,
            Some("can be read by every user on this machine (mode 644)"),
        ),
        (0o640, Some("can be read by its group (mode 640)")),
        (0o600, None),
    ] {
        let pass = dir.path().join("pass.txt");
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(mode)).unwrap();
        let output = Create::qseow()
            .key_file(key)
            .args(["--cert-privatekey-passphrase-file", "pass.txt"])
            .run_in(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{mode:o}: {stderr}");
        single_token(&output.stdout);
        match warning {
            Some(warning) => assert!(
                stderr.contains(&format!(
                    "WARN --cert-privatekey-passphrase-file 'pass.txt' {warning}; make it \
                     readable by you only: chmod 600 'pass.txt'"
                )),
                "{mode:o}: {stderr}"
            ),
            None => assert!(!stderr.contains("WARN"), "{mode:o}: {stderr}"),
        }
    }
}

// 6. A passphrase file given to --users never shows its first line.

#[test]
fn a_passphrase_file_given_to_users_is_not_quoted() {
    let dir = folder_with_key();
    for (name, secret) in [
        ("pass.txt", "Tr0ub4dor&3-horse"),
        ("pass.csv", "correct,horse,battery"),
        ("single.txt", "hunter2"),
    ] {
        std::fs::write(dir.path().join(name), format!("{secret}\n")).unwrap();
        for create in [
            Create::qseow_users().args(["--userdir", "D"]),
            Create::qscloud(),
        ] {
            let output = create
                .key_file("privatekey.pem")
                .args(["--users", name])
                .run_in(dir.path())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_ne!(output.status.code(), Some(0), "{stderr}");
            assert!(
                stderr.contains("names none of the columns"),
                "{name}: {stderr}"
            );
            for piece in secret.split(',') {
                assert!(!stderr.contains(piece), "{name}: {piece} shown: {stderr}");
            }
        }
    }
}

// 7. An empty pipe says so.

#[cfg(unix)]
#[test]
fn an_empty_standard_input_says_the_command_before_the_pipe_may_have_failed() {
    let dir = folder_with_key();
    std::fs::write(dir.path().join("users.csv"), "userid,userdir\nanna,D\n").unwrap();
    let key_stdin = Create::qseow().key_file("-").argv().join(" ");
    let users = Create::qseow_users()
        .key_file("privatekey.pem")
        .args(["--users", "-"])
        .argv()
        .join(" ");
    let passphrase = Create::qseow()
        .key_file("privatekey.pem")
        .args(["--cert-privatekey-passphrase-file", "-"])
        .argv()
        .join(" ");
    for (pipe, words, flag) in [
        ("false", key_stdin.as_str(), "--cert-privatekey-file"),
        ("echo", key_stdin.as_str(), "--cert-privatekey-file"),
        ("false", "decode --jwt-file -", "--jwt-file"),
        ("false", users.as_str(), "--users"),
        (
            "false",
            passphrase.as_str(),
            "--cert-privatekey-passphrase-file",
        ),
        (
            "echo",
            passphrase.as_str(),
            "--cert-privatekey-passphrase-file",
        ),
    ] {
        let (code, stdout, stderr) = shell(dir.path(), &format!("{pipe} | \"$BIN\" {words}"));
        assert_eq!(code, 1, "{pipe} | {words}: {stderr}");
        assert_eq!(stdout, "");
        let errors = error_lines(stderr.as_bytes());
        assert!(
            errors.starts_with(&format!(
                "error: standard input ({flag} -) is empty: the command before the pipe may have \
                 failed"
            )),
            "{pipe} | {words}: {stderr}"
        );
    }
}

// 8. TERM=dumb gets no colour.

#[cfg(target_os = "linux")]
#[test]
fn a_dumb_terminal_gets_no_colour() {
    let dir = folder_with_key();
    let words = Create::qscloud()
        .key_file("privatekey.pem")
        .argv()
        .join(" ");
    for (args, shows) in [
        (words.as_str(), "INFO no --sub"),
        ("decode --help", "Usage"),
    ] {
        let output = common::command("script")
            .args(["-qec", &format!("'{BIN}' {args}"), "/dev/null"])
            .current_dir(dir.path())
            .env("TERM", "dumb")
            .output()
            .expect("script, from util-linux, runs");
        let screen = String::from_utf8_lossy(&output.stdout);
        assert!(screen.contains(shows), "{args}: {screen:?}");
        assert!(!screen.contains('\x1b'), "{args}: {screen:?}");
    }
}
