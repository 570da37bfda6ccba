//! Standard streams and inputs as ordinary callers give them: `/dev/null` opened read-write on
//! standard output (Python's `subprocess.DEVNULL`, `1<>/dev/null`), files written by Windows
//! PowerShell 5.1 (UTF-16 with a byte order mark), a FIFO nobody writes to, an empty pipe, an
//! empty passphrase, `TERM=dumb`. Each test runs the built binary and looks at what a user
//! would: exit code, stdout, stderr, files.
// Most of these tests use Unix shells, FIFOs and file modes; elsewhere helpers go unused.
#![cfg_attr(not(unix), allow(unused_imports, dead_code))]

mod common;

use std::path::Path;
use std::process::Command as StdCommand;

use common::{Create, error_lines, folder_with_key};

const BIN: &str = env!("CARGO_BIN_EXE_qs-jwt");

/// Runs a bash line with `$BIN` set to the binary, in `dir`; returns code, stdout, stderr.
#[cfg(unix)]
fn shell(dir: &Path, line: &str) -> (i32, String, String) {
    let output = StdCommand::new("bash")
        .args(["-c", line])
        .current_dir(dir)
        .env("BIN", BIN)
        .env_remove("QSJWTPRIVKEY")
        .env_remove("QSJWTPASSPHRASE")
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
        let output = StdCommand::new("python3")
            .args(["-c", &python])
            .current_dir(dir.path())
            .env_remove("QSJWTPRIVKEY")
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
