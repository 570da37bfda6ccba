//! What no user mistake and no attacker's input may do to qs-jwt: lose a key, mix two key
//! pairs, drive the terminal, crash on a broken stream, echo a key, read without end, blame the
//! token for the crypto library's limits, trip over a stray variable, or accept `crit`. Each
//! test runs the built binary and looks at what a user would: exit code, stdout, stderr, files.
// Many of these tests use Unix shells and file modes; elsewhere some helpers go unused.
#![cfg_attr(not(unix), allow(unused_imports, dead_code))]

use crate::common;

use std::fs::{self, File};
use std::path::Path;
use std::process::Stdio;

use crate::common::{
    Create, error_lines, fails_cleanly, fixture, fixture_text, folder_with_key, owner_only, qs_jwt,
    single_token, snapshot, succeeds,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_qs-jwt");

/// `create-qseow` making a new key pair in the folder, and `extra`.
fn create_args(extra: &[&str]) -> Vec<String> {
    Create::qseow().new_key().args(extra).argv()
}

/// `create-qseow` for one hour; each test adds the key and the rest.
fn qseow(dir: &Path) -> assert_cmd::Command {
    Create::qseow().run_in(dir)
}

/// `create-qseow` for one hour, signed with the folder's `privatekey.pem`.
fn signing_qseow(dir: &Path) -> assert_cmd::Command {
    Create::qseow().key_file("privatekey.pem").run_in(dir)
}

/// Makes a first key pair in `dir` with qs-jwt itself.
fn first_key_pair(dir: &Path) {
    qs_jwt(dir).args(create_args(&[])).assert().success();
}

#[cfg(unix)]
/// Runs a shell line with `$BIN` set to the binary, in `dir`; returns code, stdout, stderr.
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

#[cfg(unix)]
fn no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

// 1. --force never loses the existing key pair.

/// The old `publickey.cer` belongs to root in a sticky folder, so a run as another user can
/// move its own key files but not that one: the last step fails after the first ones worked.
#[cfg(target_os = "linux")]
#[test]
fn force_keeps_every_old_file_when_one_cannot_be_replaced_sticky_folder() {
    if !crate::common::skip::require(is_root(), "root, to give files to another user") {
        return;
    }
    use std::os::unix::fs::{PermissionsExt, chown};
    // The binary is copied where the other user can run it: the checkout may sit in a folder
    // only root can enter.
    let bin_dir = tempfile::tempdir().unwrap();
    fs::set_permissions(bin_dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = bin_dir.path().join("qs-jwt");
    fs::copy(BIN, &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    first_key_pair(dir.path());
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    for name in ["privatekey.pem", "publickey.pem"] {
        chown(dir.path().join(name), Some(65534), Some(65534)).unwrap();
    }
    let before = snapshot(dir.path());
    let output = common::command("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(create_args(&["--force"]))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(stderr.contains("publickey.cer"), "{stderr}");
    assert!(stderr.contains("no key file was changed"), "{stderr}");
    assert_eq!(snapshot(dir.path()), before, "{stderr}");
}

/// The same with an immutable `publickey.cer` (chattr +i), where the file system has it.
#[cfg(target_os = "linux")]
#[test]
fn force_keeps_every_old_file_when_one_is_immutable() {
    let dir = tempfile::tempdir().unwrap();
    first_key_pair(dir.path());
    let cer = dir.path().join("publickey.cer");
    if !crate::common::skip::require_tool("chattr") {
        return;
    }
    let immutable = common::command("chattr").arg("+i").arg(&cer).output();
    if !crate::common::skip::require(
        immutable.is_ok_and(|o| o.status.success()),
        "chattr +i, which needs root and a file system such as ext4",
    ) {
        return;
    }
    let before = snapshot(dir.path());
    let output = qs_jwt(dir.path())
        .args(create_args(&["--force"]))
        .output()
        .unwrap();
    let after = snapshot(dir.path());
    let _ = common::command("chattr").arg("-i").arg(&cer).status();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert_eq!(after, before, "{stderr}");
}

#[cfg(target_os = "linux")]
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // The owner of a file we just made is who we are.
    let probe = tempfile::NamedTempFile::new().unwrap();
    probe.as_file().metadata().unwrap().uid() == 0
}

// 2. All three files or none, also under concurrency and when stdout fails.

/// Signs with `privatekey.pem` and verifies with the `.cer` and `publickey.pem`: the three
/// files belong together.
fn assert_one_key_pair(dir: &Path) {
    let token = signing_qseow(dir).output().unwrap();
    assert!(token.status.success());
    let token = single_token(&token.stdout);
    for public in ["publickey.cer", "publickey.pem"] {
        qs_jwt(dir)
            .args(["decode", "--jwt", &token, "--cert-publickey-file", public])
            .assert()
            .success();
    }
}

#[test]
fn two_runs_with_force_at_once_leave_one_key_pair() {
    let dir = tempfile::tempdir().unwrap();
    first_key_pair(dir.path());
    for _ in 0..3 {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                common::command(BIN)
                    .args(create_args(&["--force"]))
                    .current_dir(dir.path())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for run in runs {
            let output = run.wait_with_output().unwrap();
            // The second waits for the first (the lock), then replaces its files.
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert_one_key_pair(dir.path());
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["privatekey.pem", "publickey.cer", "publickey.pem"],
            "no temporary, lock or old file is left"
        );
    }
}

/// Holds the lock file the way a running qs-jwt does.
fn hold_lock(dir: &Path) -> File {
    let lock = File::create(dir.join(".privatekey.pem.lock")).unwrap();
    lock.lock().unwrap();
    lock
}

#[test]
fn a_run_that_holds_the_prefix_is_named_and_waited_for_not_forever() {
    let dir = tempfile::tempdir().unwrap();
    let lock = hold_lock(dir.path());
    let output = qs_jwt(dir.path()).args(create_args(&[])).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        error_lines(stderr.as_bytes()).contains("another qs-jwt run is writing key files"),
        "{stderr}"
    );
    assert!(!dir.path().join("privatekey.pem").exists());
    drop(lock);

    // Released while the run waits: it goes on. The lock is dropped only once the run has said
    // it waits, however slow the machine is to start it.
    let lock = hold_lock(dir.path());
    let mut child = common::command(BIN)
        .args(create_args(&[]))
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("waiting for another qs-jwt run") {
        let read = std::io::BufRead::read_line(&mut stderr, &mut said).unwrap();
        assert!(read > 0, "the run ended without saying it waits: {said}");
    }
    drop(lock);
    std::io::Read::read_to_string(&mut stderr, &mut said).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{said}");
    single_token(&output.stdout);
}

// Shell redirections (`>&-`, `2>&-`, `/dev/full`) are Unix ones.
#[cfg(unix)]
#[test]
fn a_token_that_cannot_be_delivered_leaves_no_new_key() {
    for stdout in [">/dev/full", ">&-", "| true", "1<ro.txt"] {
        // A new key: nothing of it may stay.
        let dir = tempfile::tempdir().unwrap();
        let read_only =
            |dir: &Path| fs::write(dir.join("ro.txt"), "a file opened read-only").unwrap();
        read_only(dir.path());
        let line = format!(
            "\"$BIN\" {} {stdout}; exit ${{PIPESTATUS[0]}}",
            create_args(&[]).join(" ")
        );
        let (code, _, stderr) = shell(dir.path(), &line);
        assert_eq!(code, 1, "{stdout}: {stderr}");
        no_panic(&stderr);
        assert!(stderr.contains("standard output"), "{stdout}: {stderr}");
        let left: Vec<_> = snapshot(dir.path()).into_keys().collect();
        assert_eq!(left, [Path::new("ro.txt")], "{stdout}: files left");

        // --force over an existing pair: the old files stay as they were.
        let dir = tempfile::tempdir().unwrap();
        first_key_pair(dir.path());
        read_only(dir.path());
        let before = snapshot(dir.path());
        let line = format!(
            "\"$BIN\" {} {stdout}; exit ${{PIPESTATUS[0]}}",
            create_args(&["--force"]).join(" ")
        );
        let (code, _, stderr) = shell(dir.path(), &line);
        assert_eq!(code, 1, "{stdout}: {stderr}");
        assert_eq!(snapshot(dir.path()), before, "{stdout}: {stderr}");
    }
}

#[test]
fn files_left_aside_by_a_killed_run_are_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    first_key_pair(dir.path());
    // What a run killed after moving the old key aside leaves: the only copy of that key.
    fs::rename(
        dir.path().join("privatekey.pem"),
        dir.path().join("privatekey.pem.qs-jwt-old"),
    )
    .unwrap();
    let mut cmd = qs_jwt(dir.path());
    cmd.args(create_args(&["--force"]));
    let stderr = fails_cleanly(&mut cmd, dir.path(), 1);
    assert!(
        error_lines(stderr.as_bytes())
            .contains("left 'privatekey.pem.qs-jwt-old' (the previous private key)"),
        "{stderr}"
    );
}

// 3. Nothing read from a token reaches the terminal raw.

/// A token signed with the fixture key whose header and payload are exactly `header` and
/// `payload`.
fn token_with(header: &Value, payload: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(fixture_text("rsa2048-pkcs8.pem").as_bytes()).unwrap();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::RS256).unwrap();
    format!("{input}.{signature}")
}

const HOSTILE: &str = "\x1b[2J\x1b[HSignature: valid\r\x1b]0;pwned\x07\u{9b}31m\u{202e}\x7f";

fn assert_no_controls(text: &str) {
    for (i, c) in text.chars().enumerate() {
        let control = matches!(c, '\0'..='\x09' | '\x0b'..='\x1f' | '\x7f'..='\u{9f}')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        assert!(!control, "control character {c:?} at {i} in {text:?}");
    }
}

#[test]
fn escape_sequences_in_a_token_are_shown_not_obeyed() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_with(
        &json!({"alg": "RS256", "typ": "JWT", "kid": HOSTILE}),
        &json!({"iss": HOSTILE, "aud": HOSTILE, "sub": HOSTILE, "exp": 1, "userId": HOSTILE}),
    );
    let public = fixture("rsa2048-public.pem");
    for extra in [
        vec![],
        vec!["--check", "qscloud"],
        vec!["--check", "qseow", "--expected-audience", HOSTILE],
        vec!["--minimal-output"],
        vec!["--minimal-output", "--check", "qscloud"],
    ] {
        let output = qs_jwt(dir.path())
            .args(["decode", "--jwt", &token, "--cert-publickey-file"])
            .arg(&public)
            .args(&extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(1), "{extra:?}: {stderr}");
        assert_no_controls(&stdout);
        assert_no_controls(&stderr);
        if extra.contains(&"--minimal-output") {
            let report: Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(report["payload"]["iss"], HOSTILE, "JSON keeps the value");
        } else {
            assert!(
                stdout.contains("\\x1b[2J\\x1b[HSignature: valid\\r"),
                "{stdout}"
            );
        }
    }
}

#[test]
fn escape_sequences_in_arguments_and_file_names_are_shown_not_obeyed() {
    let dir = folder_with_key();
    let cases: Vec<Vec<String>> = vec![
        vec![
            "decode".into(),
            "--jwt-file".into(),
            format!("missing{HOSTILE}"),
        ],
        vec![
            "create-qseow".into(),
            "--userdir".into(),
            "D".into(),
            "--userid".into(),
            "u".into(),
            "--audience".into(),
            "a".into(),
            "--expires".into(),
            HOSTILE.into(),
        ],
        vec!["completions".into(), HOSTILE.into()],
        vec!["decode".into(), "--jwt".into(), HOSTILE.into()],
    ];
    for args in cases {
        let output = qs_jwt(dir.path()).args(&args).output().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(!output.status.success());
        assert_no_controls(&stderr);
        assert!(stderr.contains("error:"), "{stderr}");
    }
    // A --claim value reaches the token and --output json, and there stays valid JSON.
    let output = signing_qseow(dir.path())
        .args(["--claim", &format!("x={HOSTILE}"), "--output", "json"])
        .args(["--loglevel", "debug"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_no_controls(stdout.trim_end());
    assert_no_controls(&stderr.replace('\n', " "));
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["payload"]["x"], HOSTILE);
}

// 4. A broken or closed stderr or stdout never panics and never lies.

#[cfg(unix)]
/// A Qlik Cloud run that logs an INFO line and three WARN lines, then prints the token.
fn qscloud_args() -> Vec<String> {
    Create::qscloud()
        .args(["--expires", "365d"])
        .key_file("privatekey.pem")
        .argv()
}

#[cfg(unix)]
fn words(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

// Shell redirections (`>&-`, `2>&-`, `/dev/full`) are Unix ones.
#[cfg(unix)]
#[test]
fn a_broken_stderr_loses_log_lines_not_the_token_or_the_exit_code() {
    let dir = folder_with_key();
    for (args, code) in [
        // Logs an INFO line and three WARN lines, then prints the token.
        (qscloud_args(), 0),
        (words(&["create-qseow", "--userdir", "D"]), 2),
        (words(&["decode", "--jwt-file", "missing.jwt"]), 1),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = common::command(BIN)
            .args(&args)
            .current_dir(dir.path())
            .stderr(writer)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(code), "{args:?}");
        if code == 0 {
            single_token(&output.stdout);
        }

        let line = format!("\"$BIN\" {} 2>&-", args.join(" "));
        let (closed_code, stdout, _) = shell(dir.path(), &line);
        assert_eq!(closed_code, code, "{args:?} with stderr closed");
        if code == 0 {
            single_token(stdout.as_bytes());
        }
    }
}

// Shell redirections (`>&-`, `2>&-`, `/dev/full`) are Unix ones.
#[cfg(unix)]
#[test]
fn a_closed_stdout_is_a_failure_with_one_error_line() {
    let dir = folder_with_key();
    let token_line = format!("\"$BIN\" {}", qscloud_args().join(" "));
    let (_, token, _) = shell(dir.path(), &token_line);
    for args in [
        qscloud_args().join(" "),
        format!("decode --jwt {}", token.trim()),
        "completions bash".to_owned(),
        "--version".to_owned(),
        "decode --help".to_owned(),
    ] {
        let (code, _, stderr) = shell(dir.path(), &format!("\"$BIN\" {args} >&-"));
        assert_eq!(code, 1, "{args}: {stderr}");
        no_panic(&stderr);
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].contains("standard output is closed"), "{stderr}");
    }
}

// 5. Key text never appears in an error: see also tests/it/properties.rs, which mangles keys in
// many more ways in-process.

/// Every 20-character run of the key's base64.
fn key_windows(pem: &str) -> Vec<String> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let chars: Vec<char> = body.chars().collect();
    chars.windows(20).map(|w| w.iter().collect()).collect()
}

fn manglings(pem: &str) -> Vec<(&'static str, String)> {
    let trimmed = pem.trim();
    let body: Vec<&str> = trimmed
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    vec![
        ("\\n", trimmed.replace('\n', "\\n")),
        ("\\u000a", trimmed.replace('\n', "\\u000a")),
        ("|", trimmed.replace('\n', "|")),
        (",", trimmed.replace('\n', ",")),
        (
            "url",
            trimmed
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
                .replace('\n', "%0A")
                .replace(' ', "%20"),
        ),
        (
            "lowercase label",
            trimmed.replace("PRIVATE KEY", "private key"),
        ),
        (
            "no spaces",
            trimmed.replace("BEGIN RSA PRIVATE KEY", "BEGINRSAPRIVATEKEY"),
        ),
        (
            "zero-width",
            trimmed
                .replace("BEGIN", "BE\u{200b}GIN")
                .replace('\n', "\u{200b}\n"),
        ),
        ("body only", body.join("")),
        ("spaces", trimmed.replace('\n', " ")),
    ]
}

#[test]
fn a_mangled_key_in_any_option_never_reaches_stderr() {
    let dir = folder_with_key();
    let pem = fixture_text("rsa2048-pkcs1.pem");
    let windows = key_windows(&pem);
    let qseow_base = Create::qseow().argv();
    let qseow_base: Vec<&str> = qseow_base.iter().map(String::as_str).collect();
    let qscloud_base = Create::qscloud().argv();
    let qscloud_base: Vec<&str> = qscloud_base.iter().map(String::as_str).collect();
    for (how, key) in manglings(&pem) {
        let key = key.as_str();
        let prefix = format!("missing/{key}");
        let cases: Vec<Vec<&str>> = vec![
            [&qseow_base[..], &["--expires", key]].concat(),
            [
                &qseow_base[..],
                &["--expires", "1h", "--cert-privatekey-file", key],
            ]
            .concat(),
            [&qseow_base[..], &["--expires", "1h", "--cert-create", key]].concat(),
            [
                &qseow_base[..],
                &[
                    "--expires",
                    "1h",
                    "--cert-create",
                    "--cert-create-expires-days",
                    key,
                ],
            ]
            .concat(),
            [
                &qseow_base[..],
                &[
                    "--expires",
                    "1h",
                    "--cert-create",
                    "--cert-create-expires-days",
                    "1",
                    "--cert-file-prefix",
                    &prefix,
                ],
            ]
            .concat(),
            [&qseow_base[..], &["--expires", "1h", "--output", key]].concat(),
            [&qseow_base[..], &["--expires", "1h", "--loglevel", key]].concat(),
            [&qseow_base[..], &["--expires", "1h", key]].concat(),
            [
                &qscloud_base[..],
                &["--useremail", "e", "--useremail-verified", key],
            ]
            .concat(),
            vec!["decode", "--jwt", key],
            vec!["decode", "--jwt-file", key],
            vec!["decode", "--jwt", "a.b.c", "--cert-publickey-file", key],
            vec!["decode", "--jwt", "a.b.c", "--cert-publickey", key],
            vec!["decode", "--jwt", "a.b.c", "--check", key],
            vec!["completions", key],
            vec![key],
        ];
        for args in cases {
            let output = qs_jwt(dir.path()).args(&args).output().unwrap();
            assert!(!output.status.success(), "{how}: {args:?}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            for window in &windows {
                assert!(
                    !stderr.contains(window.as_str()),
                    "{how}: {:?} shows {window}: {stderr}",
                    &args[..2]
                );
            }
        }
    }
}

// 6. Every read is bounded.

#[cfg(unix)]
#[test]
fn endless_inputs_stop_at_the_limit_with_the_flag_and_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let qseow_line = "create-qseow --userdir D --userid u --audience a --expires 1h";
    // A memory limit far above what a run needs, far below what reading /dev/zero to the end
    // took (3 GB in 6 s): a run that does not stop at the limit fails here instead of
    // taking the machine's memory.
    let limit = "ulimit -v 4000000;";
    for (args, named) in [
        (
            format!("{qseow_line} --cert-privatekey-file /dev/zero"),
            "--cert-privatekey-file '/dev/zero'",
        ),
        (
            "decode --jwt-file /dev/zero".to_owned(),
            "--jwt-file '/dev/zero'",
        ),
        (
            format!(
                "decode --jwt-file '{}' --cert-publickey-file /dev/zero",
                fixture("rsa1024-signed.jwt").display()
            ),
            "--cert-publickey-file '/dev/zero'",
        ),
        (
            format!("{qseow_line} --cert-privatekey-file - < /dev/zero"),
            "standard input (--cert-privatekey-file -)",
        ),
        (
            "decode --jwt-file - < /dev/zero".to_owned(),
            "standard input (--jwt-file -)",
        ),
    ] {
        let (code, stdout, stderr) = shell(dir.path(), &format!("{limit} \"$BIN\" {args}"));
        assert_eq!(code, 1, "{args}: {stderr}");
        assert!(stdout.is_empty());
        let error = error_lines(stderr.as_bytes());
        assert!(
            error.contains(named) && error.contains("1 MiB"),
            "{args}: {error}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_process_substitution_or_a_fifo_is_still_read() {
    let dir = folder_with_key();
    let base = "create-qseow --userdir D --userid u --audience a --expires 1h";
    let (code, stdout, stderr) = shell(
        dir.path(),
        &format!("\"$BIN\" {base} --cert-privatekey-file <(cat privatekey.pem)"),
    );
    assert_eq!(code, 0, "{stderr}");
    single_token(stdout.as_bytes());
    let (code, stdout, stderr) = shell(
        dir.path(),
        &format!(
            "mkfifo key.fifo && (cat privatekey.pem > key.fifo &) && \"$BIN\" {base} \
             --cert-privatekey-file key.fifo"
        ),
    );
    assert_eq!(code, 0, "{stderr}");
    single_token(stdout.as_bytes());
}

// 7. Keys the crypto library cannot use get an honest message.

#[test]
fn private_keys_outside_aws_lcs_limits_are_named_when_read() {
    let dir = tempfile::tempdir().unwrap();
    for (file, expected) in [
        ("rsa16384.pem", "16384-bit RSA key, and aws-lc"),
        ("rsa2048-big-exponent.pem", "public exponent is 8589934593"),
    ] {
        let path = fixture(file);
        let mut cmd = qseow(dir.path());
        cmd.args(["--expires", "1h", "--cert-privatekey-file"])
            .arg(&path);
        let stderr = error_lines(fails_cleanly(&mut cmd, dir.path(), 1).as_bytes());
        assert!(stderr.contains(expected), "{file}: {stderr}");
        assert!(
            stderr.contains(&format!("--cert-privatekey-file '{}'", path.display())),
            "{stderr}"
        );
        assert!(!stderr.contains("damaged"), "{stderr}");
    }
}

#[test]
fn decode_says_a_key_is_unsupported_not_that_the_token_was_changed() {
    let dir = tempfile::tempdir().unwrap();
    for (bits, token, public) in [
        (1024, "rsa1024-signed.jwt", "rsa1024-public.pem"),
        (16384, "rsa16384-signed.jwt", "rsa16384-public.pem"),
    ] {
        let output = qs_jwt(dir.path())
            .args(["decode", "--jwt-file"])
            .arg(fixture(token))
            .arg("--cert-publickey-file")
            .arg(fixture(public))
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        let expected = format!("cannot be checked: it is a {bits}-bit RSA key");
        assert!(stdout.contains(&expected), "{stdout}");
        assert!(stderr.contains(&expected), "{stderr}");
        assert!(!stdout.contains("changed"), "{stdout}");
    }
}

// 8. A stray variable does not break an unrelated run.

#[cfg(unix)]
#[test]
fn a_qsjwtprivkey_that_is_not_utf8_matters_only_when_it_is_the_source() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let stray = OsStr::from_bytes(b"\xff\xfe not a key");
    let dir = folder_with_key();
    let output = qseow(dir.path())
        .env("QSJWTPRIVKEY", stray)
        .args([
            "--expires",
            "1h",
            "--cert-privatekey-file",
            "privatekey.pem",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let created = tempfile::tempdir().unwrap();
    qs_jwt(created.path())
        .env("QSJWTPRIVKEY", stray)
        .args(create_args(&[]))
        .assert()
        .success();

    let mut cmd = qseow(dir.path());
    cmd.env("QSJWTPRIVKEY", stray).args(["--expires", "1h"]);
    let stderr = error_lines(fails_cleanly(&mut cmd, dir.path(), 1).as_bytes());
    assert!(
        stderr.contains("QSJWTPRIVKEY holds bytes that are not UTF-8"),
        "{stderr}"
    );
}

// 9. decode honours crit.

#[test]
fn a_critical_extension_makes_a_well_signed_token_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_with(
        &json!({"alg": "RS256", "typ": "JWT", "crit": ["x"], "x": 1}),
        &json!({"sub": "s"}),
    );
    let output = qs_jwt(dir.path())
        .args(["decode", "--jwt", &token, "--cert-publickey-file"])
        .arg(fixture("rsa2048-public.pem"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(" valid (RS256"),
        "the signature itself holds: {stdout}"
    );
    assert!(
        stdout.contains("marks \"x\" as critical (crit)"),
        "{stdout}"
    );
    assert!(error_lines(stderr.as_bytes()).contains("\"x\""), "{stderr}");
}

// 10. Smaller ones.

#[test]
fn a_token_file_with_a_byte_order_mark_is_read() {
    let dir = folder_with_key();
    let output = signing_qseow(dir.path()).output().unwrap();
    let token = single_token(&output.stdout);
    fs::write(dir.path().join("token.txt"), format!("\u{feff}{token}\r\n")).unwrap();
    qs_jwt(dir.path())
        .args(["decode", "--jwt-file", "token.txt", "--cert-publickey-file"])
        .arg(fixture("rsa2048-public.pem"))
        .assert()
        .success();
}

#[test]
fn a_pem_with_two_private_keys_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let two = format!(
        "{}{}",
        fixture_text("rsa2048-pkcs8.pem"),
        fixture_text("rsa1024.pem")
    );
    fs::write(dir.path().join("two.pem"), two).unwrap();
    owner_only(&dir.path().join("two.pem"));
    let mut cmd = qseow(dir.path());
    cmd.args(["--expires", "1h", "--cert-privatekey-file", "two.pem"]);
    let stderr = error_lines(fails_cleanly(&mut cmd, dir.path(), 1).as_bytes());
    assert!(
        stderr.contains("'two.pem' holds 2 private keys"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_gets_a_warning_and_still_signs() {
    use std::os::unix::fs::PermissionsExt;
    let dir = folder_with_key();
    let key = dir.path().join("privatekey.pem");
    for (mode, who) in [
        (0o644, "can be read by every user"),
        (0o640, "can be read by its group"),
        (0o620, "is open to its group or to other users"),
    ] {
        fs::set_permissions(&key, fs::Permissions::from_mode(mode)).unwrap();
        let output = signing_qseow(dir.path()).output().unwrap();
        assert!(output.status.success());
        single_token(&output.stdout);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.contains(&format!(
                "WARN --cert-privatekey-file 'privatekey.pem' {who}"
            )) && stderr.contains("chmod 600 'privatekey.pem'"),
            "{stderr}"
        );
    }
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let output = signing_qseow(dir.path()).output().unwrap();
    assert!(String::from_utf8(output.stderr).unwrap().is_empty());
}

#[test]
fn the_hint_for_a_number_without_a_unit_proposes_values_that_work() {
    let dir = folder_with_key();
    for value in ["0", "5", "0.01"] {
        let mut cmd = qseow(dir.path());
        cmd.args([
            "--expires",
            value,
            "--cert-privatekey-file",
            "privatekey.pem",
        ]);
        let stderr = fails_cleanly(&mut cmd, dir.path(), 2);
        let proposed: Vec<&str> = stderr
            .split("for example ")
            .nth(1)
            .unwrap_or_else(|| panic!("{stderr}"))
            .lines()
            .next()
            .unwrap()
            .split([',', ' '])
            .filter(|word| word.starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        assert!(!proposed.is_empty(), "{stderr}");
        for example in proposed {
            qseow(dir.path())
                .args([
                    "--expires",
                    example,
                    "--cert-privatekey-file",
                    "privatekey.pem",
                ])
                .assert()
                .success();
        }
    }
}

#[test]
fn a_huge_value_is_cut_in_the_message() {
    let dir = folder_with_key();
    let huge = "9".repeat(100_000) + "x";
    let mut cmd = qseow(dir.path());
    cmd.args([
        "--expires",
        &huge,
        "--cert-privatekey-file",
        "privatekey.pem",
    ]);
    let stderr = fails_cleanly(&mut cmd, dir.path(), 2);
    assert!(stderr.len() < 2_000, "{} bytes of stderr", stderr.len());
    assert!(stderr.contains("(100001 characters)"), "{stderr}");
}

#[test]
fn many_groups_are_deduplicated_in_order() {
    let dir = folder_with_key();
    let mut groups: Vec<String> = (0..20_000).map(|i| format!("g{i}")).collect();
    groups.extend((0..20_000).rev().map(|i| format!("g{i}")));
    let output = qseow(dir.path())
        .args([
            "--expires",
            "1h",
            "--cert-privatekey-file",
            "privatekey.pem",
            "--groups",
        ])
        .args(&groups)
        .output()
        .unwrap();
    assert!(output.status.success());
    let (_, payload) = common::decode_parts(&single_token(&output.stdout));
    let written: Vec<&str> = payload["group"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(written, groups[..20_000]);
}

/// A key pasted as --cert-file-prefix would name the files and every log line about them:
/// refused by its structure (PEM markers, a body as long as a key's DER), however mangled.
#[test]
fn key_text_as_a_file_prefix_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let pem = fixture_text("rsa2048-pkcs8.pem");
    let windows = key_windows(&pem);
    let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    for prefix in [
        format!("keys/{pem}"),
        body.join(""),
        body.join("|").to_ascii_lowercase(),
        format!("keys/{}", body.join("\\n")),
    ] {
        let mut cmd = qs_jwt(dir.path());
        cmd.args(create_args(&["--cert-file-prefix", &prefix]));
        let stderr = error_lines(fails_cleanly(&mut cmd, dir.path(), 2).as_bytes());
        assert!(
            stderr.contains("--cert-file-prefix holds what looks like key text"),
            "{stderr}"
        );
        for window in &windows {
            assert!(!stderr.contains(window.as_str()), "{stderr}");
        }
    }
}

/// Issue 17: a folder whose name has capitals and digits is a folder, not key text.
#[test]
fn a_prefix_with_capitals_and_digits_is_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("QlikKeys2024/Prod2025Q3")).unwrap();
    let mut cmd = qs_jwt(dir.path());
    cmd.args(create_args(&[
        "--cert-file-prefix",
        "QlikKeys2024/Prod2025Q3/",
    ]));
    let output = succeeds(&mut cmd);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        dir.path()
            .join("QlikKeys2024/Prod2025Q3/privatekey.pem")
            .exists()
    );
    assert!(
        stderr.contains("QlikKeys2024/Prod2025Q3/privatekey.pem"),
        "{stderr}"
    );
    assert!(!stderr.contains("redacted"), "{stderr}");
}

/// Issue 17: log lines show file names as given, however random they look; the key that was
/// loaded is what is redacted.
#[test]
fn a_random_looking_file_name_is_shown_in_log_lines() {
    let dir = folder_with_key();
    let name = "k3YbT9xQ2mLp8vR4sW7nZ1aC6dE0fG5h.pem";
    fs::copy(dir.path().join("privatekey.pem"), dir.path().join(name)).unwrap();
    owner_only(&dir.path().join(name));
    let output = qseow(dir.path())
        .args(["--cert-privatekey-file", name, "--loglevel", "debug"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("VERBOSE loaded a 2048-bit RSA private key from --cert-privatekey-file 'k3YbT9xQ2mLp8vR4sW7nZ1aC6dE0fG5h.pem'"), "{stderr}");
    assert!(!stderr.contains("redacted"), "{stderr}");
}
