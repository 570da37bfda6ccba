//! Issue 17: redaction by knowledge, not by guess. Every message that quotes a path, a file
//! name, an id, a key ID or an audience shows it as the user gave it, however random it looks
//! (a corpus of real-world values, tests/fixtures/real-world-names.txt); key text given where a
//! name belongs is refused, naming the flag or the column and never quoting the key.

use crate::common;

use std::fs;
use std::path::Path;

use crate::common::qlik_server::{Behaviour, closed_port};
use crate::common::tenant::TenantBuilder;
use crate::common::{Create, fixture, fixture_text, qs_jwt, single_token, succeeds};

const NAMES: &str = include_str!("../fixtures/real-world-names.txt");

fn names() -> Vec<&'static str> {
    NAMES
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The names that can be one file's name (no folder in them).
fn file_names() -> Vec<&'static str> {
    names()
        .into_iter()
        .filter(|n| !n.contains(['/', '\\', ':', '|', '~']) && !n.starts_with('.'))
        .collect()
}

fn stderr_of(cmd: &mut assert_cmd::Command) -> (Option<i32>, String, Vec<u8>) {
    let output = cmd.output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.stdout,
    )
}

#[track_caller]
fn assert_shown(text: &str, name: &str, what: &str) {
    assert!(
        text.contains(name) && !text.contains("redacted"),
        "{what}: '{name}' is not shown as given in:\n{text}"
    );
}

/// A token signed by the fixture key, for the commands that read one before the file named.
fn token(dir: &Path, create: Create) -> String {
    let output = succeeds(&mut create.key_file(fixture("rsa2048-pkcs8.pem")).run_in(dir));
    single_token(&output.stdout)
}

#[test]
fn a_missing_file_is_named_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let qseow_token = token(dir.path(), Create::qseow());
    let server = format!("https://127.0.0.1:{}/jwt", closed_port());
    let names = names();
    assert!(names.len() >= 200, "{}", names.len());
    let qseow = Create::qseow().argv();
    let qseow: Vec<&str> = qseow.iter().map(String::as_str).collect();
    for name in names {
        let cases: Vec<(&str, Vec<&str>)> = vec![
            (
                "--cert-privatekey-file",
                [&qseow[..], &["--cert-privatekey-file", name]].concat(),
            ),
            ("--jwt-file", vec!["decode", "--jwt-file", name]),
            (
                "--cert-publickey-file",
                vec![
                    "decode",
                    "--jwt",
                    &qseow_token,
                    "--cert-publickey-file",
                    name,
                ],
            ),
            (
                "--cacert",
                vec![
                    "login-qseow",
                    "--server",
                    &server,
                    "--jwt",
                    &qseow_token,
                    "--cacert",
                    name,
                ],
            ),
            (
                "--users",
                vec![
                    "create-qseow",
                    "--users",
                    name,
                    "--audience",
                    "a",
                    "--expires",
                    "1h",
                    "--cert-privatekey-file",
                    "key.pem",
                ],
            ),
        ];
        for (flag, args) in cases {
            let (code, stderr, _) = stderr_of(qs_jwt(dir.path()).args(&args));
            assert_eq!(code, Some(1), "{flag} '{name}': {stderr}");
            assert_shown(&stderr, name, flag);
        }
    }
}

/// The warning for a key file others can read gives the chmod command with the file's name.
#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_named_in_the_warning_and_its_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for name in file_names() {
        let file = format!("{name}.pem");
        let path = dir.path().join(&file);
        fs::copy(fixture("rsa2048-pkcs8.pem"), &path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let (code, stderr, _) = stderr_of(&mut Create::qseow().key_file(&file).run_in(dir.path()));
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stderr.contains("chmod"), "{stderr}");
        assert_shown(&stderr, &file, "the key file warning");
        fs::remove_file(&path).unwrap();
    }
}

/// The INFO line that says where a new private key went names the folder as given.
#[test]
fn the_folder_of_a_new_key_is_named_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let folders: Vec<&str> = file_names().into_iter().step_by(12).collect();
    assert!(folders.len() >= 10);
    for folder in folders.into_iter().chain(["QlikKeys2024/Prod2025Q3"]) {
        fs::create_dir_all(dir.path().join(folder)).unwrap();
        let prefix = format!("{folder}/");
        let output = succeeds(
            &mut Create::qseow()
                .new_key()
                .args(["--cert-file-prefix", &prefix])
                .run_in(dir.path()),
        );
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains("INFO"), "{stderr}");
        assert_shown(
            &stderr,
            &format!("{prefix}privatekey.pem"),
            "the new key's INFO line",
        );
        assert!(dir.path().join(&prefix).join("privatekey.pem").exists());
    }
}

/// User ids, subjects and directories are named in --users messages as the file has them.
#[test]
fn ids_in_users_messages_are_shown_as_given() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(fixture("rsa2048-pkcs8.pem"), dir.path().join("key.pem")).unwrap();
    common::owner_only(&dir.path().join("key.pem"));
    // Each id twice: the second row of each is named as a duplicate (20 at most a run).
    for chunk in names().chunks(20) {
        let mut cloud = String::from("sub\n");
        let mut qseow = String::from("userid,userdir\n");
        for id in chunk {
            for _ in 0..2 {
                cloud.push_str(&format!("\"{id}\"\n"));
                qseow.push_str(&format!("\"{id}\",\"{id}\"\n"));
            }
        }
        fs::write(dir.path().join("cloud.csv"), &cloud).unwrap();
        fs::write(dir.path().join("qseow.csv"), &qseow).unwrap();
        let runs = [
            Create::qscloud().args(["--users", "cloud.csv"]),
            Create::qseow_users().args(["--users", "qseow.csv"]),
        ];
        for run in runs {
            let (code, stderr, stdout) = stderr_of(&mut run.key_file("key.pem").run_in(dir.path()));
            assert_ne!(code, Some(0), "{stderr}");
            assert!(stdout.is_empty());
            for id in chunk {
                assert_shown(&stderr, id, "a duplicate user");
            }
        }
    }
}

/// decode says which audience it expected, as given.
#[test]
fn an_expected_audience_is_shown_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let token = token(dir.path(), Create::qseow());
    let public_key = fixture("rsa2048-public.pem");
    let public_key = public_key.to_str().unwrap();
    for audience in names() {
        let (code, stderr, stdout) = stderr_of(qs_jwt(dir.path()).args([
            "decode",
            "--jwt",
            &token,
            "--cert-publickey-file",
            public_key,
            "--expected-audience",
            audience,
        ]));
        assert_eq!(code, Some(1), "{stderr}");
        let shown = format!("{stderr}{}", String::from_utf8_lossy(&stdout));
        assert_shown(&shown, audience, "--expected-audience");
    }
}

/// Qlik's own error text, naming the key ID and the user, reaches the user as Qlik wrote it.
#[test]
fn qlik_error_text_naming_a_kid_and_a_user_is_shown_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let token = token(dir.path(), Create::qscloud());
    let names = names();
    for pair in names.chunks(2).step_by(10) {
        let (kid, user) = (pair[0], pair[pair.len() - 1]);
        let body = serde_json::json!({
            "errors": [{
                "code": "LOGIN-3",
                "title": "Unauthorized",
                "detail": format!("JWT_LOGIN_VALIDATIONS no key {kid} for user {user}"),
                "status": "401"
            }],
            "traceId": "0c6c4ed7a1f1e5b2d3c4b5a697887766"
        });
        let tenant = TenantBuilder::new().answering(401, &body).start();
        let (code, stderr, stdout) = stderr_of(
            tenant
                .command_without_api_key()
                .arg("login-qscloud")
                .args(tenant.connection())
                .args(["--jwt", &token]),
        );
        assert_eq!(code, Some(1), "{stderr}");
        let shown = format!("{stderr}{}", String::from_utf8_lossy(&stdout));
        assert_shown(&shown, kid, "Qlik's error text");
        assert_shown(&shown, user, "Qlik's error text");
    }
}

// Key text where a name belongs.

/// Every 20 characters of the key's base64.
fn key_windows(pem: &str) -> Vec<String> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let chars: Vec<char> = body.chars().collect();
    chars.windows(20).map(|w| w.iter().collect()).collect()
}

/// The ways a key lands in a value: the PEM as `$(cat key.pem)` gives it, its body on one
/// line, and a JWK's `d` (base64url, as long as an RSA key's modulus).
fn keys_as_values() -> Vec<(&'static str, String)> {
    let pem = fixture_text("rsa2048-pkcs8.pem");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    vec![
        ("pem", pem.trim_end().to_owned()),
        ("body", body.clone()),
        ("jwk d", body[400..742].replace('+', "-").replace('/', "_")),
    ]
}

#[track_caller]
fn assert_refused(args: &[&str], flag: &str, dir: &Path, windows: &[String]) {
    let mut args = args.to_vec();
    args.extend(["--loglevel", "debug"]);
    let (code, stderr, stdout) = stderr_of(qs_jwt(dir).args(&args));
    assert_eq!(code, Some(2), "{flag}: {stderr}");
    assert!(stdout.is_empty(), "{flag}: something on stdout");
    assert!(stderr.contains(flag), "{flag} is not named: {stderr}");
    assert!(stderr.contains("holds key text"), "{stderr}");
    for window in windows {
        assert!(
            !stderr.contains(window.as_str()),
            "{flag}: {window} in {stderr}"
        );
    }
}

#[test]
fn key_text_in_a_value_for_a_token_or_a_setup_body_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(fixture("rsa2048-pkcs8.pem"), dir.path().join("key.pem")).unwrap();
    common::owner_only(&dir.path().join("key.pem"));
    let public = fixture("rsa2048-cert.pem");
    let public = public.to_str().unwrap();
    let windows = key_windows(&fixture_text("rsa2048-pkcs8.pem"));
    let qseow = [
        "create-qseow",
        "--userdir",
        "D",
        "--userid",
        "u",
        "--audience",
        "a",
    ];
    let qscloud = [
        "create-qscloud",
        "--issuer",
        "i",
        "--keyid",
        "k",
        "--sub",
        "s",
    ];
    let key = ["--expires", "1h", "--cert-privatekey-file", "key.pem"];
    for (how, value) in keys_as_values() {
        let claim = format!("x={value}");
        let v = value.as_str();
        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("--keyid", [&qscloud[..], &key, &["--keyid", v]].concat()),
            ("--issuer", [&qscloud[..], &key, &["--issuer", v]].concat()),
            ("--sub", [&qscloud[..], &key, &["--sub", v]].concat()),
            (
                "--claim",
                [&qscloud[..], &key, &["--claim", &claim]].concat(),
            ),
            ("--userid", [&qseow[..], &key, &["--userid", v]].concat()),
            ("--userdir", [&qseow[..], &key, &["--userdir", v]].concat()),
            (
                "--audience",
                [&qseow[..], &key, &["--audience", v]].concat(),
            ),
            (
                "--username",
                [&qseow[..], &key, &["--username", v]].concat(),
            ),
            (
                "--useremail",
                [&qseow[..], &key, &["--useremail", v]].concat(),
            ),
            ("--groups", [&qseow[..], &key, &["--groups", v]].concat()),
            (
                "--keyid",
                vec![
                    "setup-qscloud",
                    "--issuer",
                    "i",
                    "--keyid",
                    v,
                    "--cert-publickey-file",
                    public,
                ],
            ),
            (
                "--issuer",
                vec![
                    "setup-qscloud",
                    "--issuer",
                    v,
                    "--keyid",
                    "k",
                    "--cert-publickey-file",
                    public,
                ],
            ),
            (
                "--description",
                vec![
                    "setup-qscloud",
                    "--issuer",
                    "i",
                    "--keyid",
                    "k",
                    "--cert-publickey-file",
                    public,
                    "--description",
                    v,
                ],
            ),
            (
                "--audience",
                vec![
                    "setup-qseow",
                    "--audience",
                    v,
                    "--cert-publickey-file",
                    public,
                ],
            ),
            (
                "--description",
                vec![
                    "setup-qseow",
                    "--audience",
                    "a",
                    "--cert-publickey-file",
                    public,
                    "--description",
                    v,
                ],
            ),
            (
                "--prefix",
                vec![
                    "setup-qseow",
                    "--audience",
                    "a",
                    "--cert-publickey-file",
                    public,
                    "--prefix",
                    v,
                ],
            ),
            (
                "--origin",
                vec![
                    "login-qseow",
                    "--server",
                    "https://qlik.example.com/jwt",
                    "--jwt",
                    "a.b.c",
                    "--origin",
                    v,
                ],
            ),
            (
                "--app",
                vec![
                    "login-qscloud",
                    "--tenant",
                    "t.example.com",
                    "--jwt",
                    "a.b.c",
                    "--app",
                    v,
                ],
            ),
        ];
        for (flag, args) in cases {
            // `--flag=value`, so that a value starting with dashes reaches the flag (given
            // apart, clap takes the PEM for an unknown flag and refuses it as such, redacted).
            let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            let at = args.iter().rposition(|a| a == flag).unwrap();
            let value = args.remove(at + 1);
            args[at] = format!("{flag}={value}");
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            assert_refused(&args, &format!("{flag} <"), dir.path(), &windows);
        }
        let _ = how;
    }
}

/// The issue's own example: `create-qscloud --keyid "$(cat key.pem)"` signed the key into the
/// header and logged it at debug.
#[test]
fn a_pem_as_keyid_exits_2_with_nothing_on_stdout_or_in_any_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let pem = fixture_text("rsa2048-pkcs8.pem");
    let keyid_equals = format!("--keyid={}", pem.trim_end());
    for (keyid, first_line) in [
        (
            vec!["--keyid", pem.trim_end()],
            "error: unexpected argument '[key text redacted]'",
        ),
        (
            vec![keyid_equals.as_str()],
            "error: --keyid <id> holds key text",
        ),
    ] {
        let output = qs_jwt(dir.path())
            .args(["create-qscloud", "--issuer", "i"])
            .args(&keyid)
            .args(["--expires", "1h", "--loglevel", "debug"])
            .arg("--cert-privatekey-file")
            .arg(fixture("rsa2048-pkcs8.pem"))
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(output.stdout.is_empty());
        assert!(
            !stderr.contains("DEBUG") && !stderr.contains("VERBOSE"),
            "{stderr}"
        );
        assert!(stderr.starts_with(first_line), "{stderr}");
        // The flag is named: in our own error, or in a tip beside clap's (whose usage lines
        // name every flag, so they prove nothing).
        assert!(
            stderr.contains("tip: the value given to --keyid holds key text")
                || stderr.starts_with("error: --keyid <id> holds key text"),
            "{stderr}"
        );
        for window in key_windows(&pem) {
            assert!(!stderr.contains(&window), "{stderr}");
        }
    }
}

/// A --users cell holding key text, in CSV or JSON Lines, is named by line and column.
#[test]
fn key_text_in_a_users_cell_is_refused_by_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(fixture("rsa2048-pkcs8.pem"), dir.path().join("key.pem")).unwrap();
    common::owner_only(&dir.path().join("key.pem"));
    let pem = fixture_text("rsa2048-pkcs8.pem");
    let windows = key_windows(&pem);
    let json_pem = serde_json::to_string(pem.trim_end()).unwrap();
    for (file, text, at) in [
        (
            "users.csv",
            format!("sub,name\nanna,Anna\nbob,\"{}\"\n", pem.trim_end()),
            "line 3, column name",
        ),
        (
            "users.csv",
            format!("sub,claim.x\n{},1\n", keys_as_values()[2].1),
            "line 2, column sub",
        ),
        (
            "users.jsonl",
            format!("{{\"sub\":\"anna\"}}\n{{\"sub\":\"bob\",\"claim.x\":{json_pem}}}\n"),
            "line 2, column claim.x",
        ),
    ] {
        fs::write(dir.path().join(file), text).unwrap();
        let (code, stderr, stdout) = stderr_of(
            &mut Create::qscloud()
                .args(["--users", file, "--loglevel", "debug"])
                .key_file("key.pem")
                .run_in(dir.path()),
        );
        assert_ne!(code, Some(0), "{stderr}");
        assert!(stdout.is_empty());
        assert!(
            stderr.contains(at) && stderr.contains("holds key text"),
            "{stderr}"
        );
        for window in &windows {
            assert!(!stderr.contains(window.as_str()), "{stderr}");
        }
    }
}

/// What the run loaded as a secret is redacted wherever an error or log line would show it, in
/// pieces too: here Qlik's error text quoting back a piece of the token's signature.
#[test]
fn the_token_sent_is_redacted_from_qlik_error_text() {
    let dir = tempfile::tempdir().unwrap();
    let token = token(dir.path(), Create::qscloud());
    let signature = token.rsplit('.').next().unwrap();
    // A piece with a `-` or `_` inside: the guess this replaced left the parts on either side
    // that were too short to look random.
    let at = (20..signature.len() - 20)
        .find(|&i| matches!(signature.as_bytes()[i], b'-' | b'_'))
        .unwrap();
    let piece = &signature[at - 20..at + 20];
    let body = serde_json::json!({
        "errors": [{
            "code": "LOGIN-3",
            "title": "Unauthorized",
            "detail": format!("JWT_LOGIN_VALIDATIONS signature ...{piece}... does not verify"),
            "status": "401"
        }],
        "traceId": "0c6c4ed7a1f1e5b2d3c4b5a697887766"
    });
    let tenant = TenantBuilder::new().answering(401, &body).start();
    fs::write(tenant.path().join("token.jwt"), &token).unwrap();
    let (code, stderr, stdout) = stderr_of(
        tenant
            .command_without_api_key()
            .arg("login-qscloud")
            .args(tenant.connection())
            .args(["--jwt-file", "token.jwt", "--loglevel", "debug"]),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr
            .contains("JWT_LOGIN_VALIDATIONS signature ...[key text redacted]... does not verify"),
        "{stderr}"
    );
    let chars: Vec<char> = signature.chars().collect();
    for window in chars.windows(16) {
        let window: String = window.iter().collect();
        assert!(!stderr.contains(&window), "{window} in {stderr}");
    }
}

// Issue 27: one redaction for every output, secrets known from the start.

/// The secrets of the tests below: an API key (a JWT), a client secret, a passphrase.
const API_KEY: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InFsaWsifQ.eyJzdWIiOiJhZG1pbiIsInRlbmFudCI6InQifQ.Xq7pL2vN9kR4sT6wY8zAb3Cd5Ef0Gh1Ij2Kl";
const CLIENT_SECRET: &str = "Zk8vQ2xp4RnT7wYs1BdFg6HjK9mLc3NqW5eR0tY2uI4oP6aS";
const PASSPHRASE: &str = "correct horse battery staple 2024";

/// Every character as `%XX`.
fn percent_encoded(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Asserts that nothing of `secret` shows in `text`: no 16 characters of it in a row, in any
/// case, as written or URL-encoded.
#[track_caller]
fn assert_nothing_of(secret: &str, text: &str, what: &str) {
    let shown = text.to_ascii_lowercase();
    let chars: Vec<char> = secret.to_ascii_lowercase().chars().collect();
    for window in chars.windows(16) {
        let window: String = window.iter().collect();
        assert!(
            !shown.contains(&window),
            "{what}: '{window}' shows in:\n{text}"
        );
        let encoded = percent_encoded(&window).to_ascii_lowercase();
        assert!(
            !shown.contains(&encoded),
            "{what}: '{encoded}' shows in:\n{text}"
        );
    }
}

/// A value of a secret variable given to another flag by mistake: the flag's error quotes the
/// value, which is registered before the command line is read, so it never shows; the flag is
/// still named. An API key with its header's `Bearer ` is caught as the key it holds.
#[test]
fn a_secret_of_the_environment_given_to_another_flag_is_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let bearer = format!("Bearer {API_KEY}");
    let cases: [(&str, &str, Vec<&str>, &str); 7] = [
        (
            "QLIK_API_KEY",
            API_KEY,
            vec![
                "setup-qscloud",
                "--issuer",
                "i",
                "--keyid",
                "k",
                "--cert-publickey-file",
                API_KEY,
            ],
            "--cert-publickey-file",
        ),
        (
            "QSJWTPASSPHRASE",
            PASSPHRASE,
            vec![
                "create-qscloud",
                "--issuer",
                "i",
                "--keyid",
                "k",
                "--sub",
                "s",
                "--name",
                "n",
                "--email",
                "e@x",
                "--expires",
                PASSPHRASE,
            ],
            "--expires",
        ),
        (
            "QSJWTPASSPHRASE",
            PASSPHRASE,
            vec![
                "login-qscloud",
                "--tenant",
                "t.eu.qlikcloud.com",
                "--jwt-file",
                PASSPHRASE,
            ],
            "--jwt-file",
        ),
        (
            "QLIK_CLIENT_SECRET",
            CLIENT_SECRET,
            vec![
                "login-qscloud",
                "--tenant",
                "t.eu.qlikcloud.com",
                "--jwt-file",
                "t.jwt",
                "--timeout",
                CLIENT_SECRET,
            ],
            "--timeout",
        ),
        (
            "QLIK_CLIENT_SECRET",
            CLIENT_SECRET,
            vec![
                "login-qscloud",
                "--tenant",
                "t.eu.qlikcloud.com",
                "--jwt-file",
                "t.jwt",
                "--output",
                CLIENT_SECRET,
            ],
            "--output",
        ),
        (
            "QLIK_API_KEY",
            API_KEY,
            vec![
                "doctor-qscloud",
                "--tenant",
                "t.eu.qlikcloud.com",
                "--issuer",
                "i",
                "--keyid",
                "k",
                "--cert-privatekey-file",
                "k.pem",
                "--api-key-file",
                &bearer,
            ],
            "--api-key-file",
        ),
        // Not in the environment at all: the Bearer value is the key it holds.
        (
            "UNSET_HERE",
            API_KEY,
            vec![
                "setup-qscloud",
                "--issuer",
                "i",
                "--keyid",
                "k",
                "--cert-publickey-file",
                &bearer,
            ],
            "--cert-publickey-file",
        ),
    ];
    for (variable, value, args, flag) in cases {
        let mut cmd = qs_jwt(dir.path());
        cmd.env(variable, value).args(&args);
        let (code, stderr, stdout) = stderr_of(&mut cmd);
        let what = format!("{variable} given to {flag}");
        assert_ne!(code, Some(0), "{what}: {stderr}");
        assert!(stderr.contains(flag), "{what}: {stderr}");
        assert_nothing_of(value, &stderr, &what);
        assert_nothing_of(value, &String::from_utf8_lossy(&stdout), &what);
    }
}

/// Qlik's words that are names, never secrets: they show whole in every message.
const SUBJECT: &str = "auth0|a08D000001DVHcIIAX";
const CLIENT_ID: &str = "5f1e2d3c4b5a69788796a5b4c3d2e1f0";
const SCOPE: &str = "user_default admin_classic";

/// `text` as `application/x-www-form-urlencoded` writes it (every byte but ASCII letters,
/// digits and `*-._` percent-encoded).
fn form_encoded(text: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const FORM: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'*')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_');
    utf8_percent_encode(text, FORM).to_string()
}

/// A command line, its environment, and the names it sends that must show.
type Run<'a> = (Vec<&'a str>, Vec<(&'a str, String)>, &'a [&'a str]);

/// Every secret kind (an API key, a client secret, a client assertion, a token sent to log in,
/// a private key and a passphrase from the environment) through every output path (text on
/// stderr, JSON on stdout, debug log lines) against a server that echoes everything it is sent
/// whole, in a piece, in capitals and URL-encoded: nothing of a secret shows, and the names sent
/// beside them (a client ID, a grant, a scope, a subject) show as typed.
#[test]
fn every_secret_kind_echoed_by_a_server_shows_nowhere() {
    use common::qlik_server::Behaviour;
    // The runs below list their arguments as text, --tenant and --cacert among them.
    let dir = TenantBuilder::new().behaviour(Behaviour::Echo(401)).start();
    let server = &dir.server;
    let token = token(dir.path(), Create::qscloud());
    fs::write(dir.path().join("token.jwt"), &token).unwrap();
    fs::write(dir.path().join("k.pem"), fixture_text("rsa2048-pkcs8.pem")).unwrap();
    let url = server.url();
    let oauth = [
        "oauth-qscloud",
        "--tenant",
        &url,
        "--cacert",
        "ca.pem",
        "--client-id",
        CLIENT_ID,
        "--impersonate-sub",
        SUBJECT,
        "--scope",
        SCOPE,
    ];
    let runs: Vec<Run> = vec![
        (
            oauth.to_vec(),
            vec![("QLIK_CLIENT_SECRET", CLIENT_SECRET.to_owned())],
            &[
                SUBJECT,
                CLIENT_ID,
                SCOPE,
                "urn:qlik:oauth:user-impersonation",
            ],
        ),
        (
            oauth.to_vec(),
            vec![
                ("QSJWTPRIVKEY", fixture_text("rsa2048-pkcs8.pem")),
                ("QLIK_API_KEY", API_KEY.to_owned()),
            ],
            &[
                SUBJECT,
                CLIENT_ID,
                SCOPE,
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ],
        ),
        (
            vec![
                "login-qscloud",
                "--tenant",
                &url,
                "--cacert",
                "ca.pem",
                "--jwt-file",
                "token.jwt",
            ],
            vec![("QSJWTPASSPHRASE", PASSPHRASE.to_owned())],
            &[],
        ),
        (
            vec![
                "setup-qscloud",
                "--issuer",
                "i",
                "--keyid",
                "k",
                "--cert-publickey-file",
            ],
            vec![("QLIK_API_KEY", API_KEY.to_owned())],
            &[],
        ),
        (
            vec![
                "doctor-qscloud",
                "--tenant",
                &url,
                "--cacert",
                "ca.pem",
                "--issuer",
                "i",
                "--keyid",
                "k",
                "--cert-privatekey-file",
                "k.pem",
            ],
            vec![("QLIK_API_KEY", API_KEY.to_owned())],
            &[],
        ),
    ];
    let cert = fixture("rsa2048-cert.pem").display().to_string();
    for (args, env, names) in runs {
        let mut args = args.clone();
        if args[0] == "setup-qscloud" {
            args.extend([
                cert.as_str(),
                "--apply",
                "--tenant",
                &url,
                "--cacert",
                "ca.pem",
            ]);
        }
        let json = ["--output", "json"];
        let debug = ["--loglevel", "debug"];
        let shapes: Vec<Vec<&str>> = match args[0] {
            "setup-qscloud" => vec![vec![], debug.to_vec()],
            _ => vec![
                vec![],
                json.to_vec(),
                [&json[..], &debug[..]].concat(),
                debug.to_vec(),
            ],
        };
        for shape in shapes {
            let before = server.requests().len();
            let mut cmd = qs_jwt(dir.path());
            for (name, value) in &env {
                cmd.env(name, value);
            }
            cmd.args(&args).args(&shape);
            let (code, stderr, stdout) = stderr_of(&mut cmd);
            let stdout = String::from_utf8_lossy(&stdout).into_owned();
            let what = format!("{} {}", args[0], shape.join(" "));
            assert_eq!(code, Some(1), "{what}: {stderr}");
            let all = format!("{stdout}\n{stderr}");
            assert!(
                all.contains("you sent"),
                "{what}: the echo is not shown: {all}"
            );
            let mut secrets = vec![
                API_KEY.to_owned(),
                CLIENT_SECRET.to_owned(),
                PASSPHRASE.to_owned(),
                token.clone(),
            ];
            for request in &server.requests()[before..] {
                if let Ok(body) = serde_json::from_str::<serde_json::Value>(&request.body) {
                    for field in ["client_secret", "client_assertion"] {
                        if let Some(value) = body[field].as_str() {
                            secrets.push(value.to_owned());
                        }
                    }
                }
                // An assertion goes form-encoded.
                for pair in request.body.split('&') {
                    if let Some(("client_secret" | "client_assertion", value)) =
                        pair.split_once('=')
                    {
                        let value = percent_encoding::percent_decode_str(value)
                            .decode_utf8_lossy()
                            .into_owned();
                        secrets.push(value);
                    }
                }
                if let Some(bearer) = request.header("authorization") {
                    secrets.push(bearer.trim_start_matches("Bearer ").to_owned());
                }
            }
            for secret in &secrets {
                assert_nothing_of(secret, &all, &what);
            }
            // A name the server echoes from a form body is shown as the form encoded it.
            let all = all.replace("[key text redacted]", "[R]");
            for name in names {
                let encoded = form_encoded(name);
                if all.contains(&encoded) {
                    assert_shown(&all, &encoded, &what);
                } else {
                    assert_shown(&all, name, &what);
                }
            }
        }
    }
}

/// A client secret that holds characters outside base64's alphabet (`"`, `\`, `%`, `@`, `.`, a
/// space), echoed by the server whole, in a piece, in capitals and URL-encoded: nothing of it
/// shows in text, JSON or debug lines, in any form (as written, JSON-escaped, URL-encoded); the
/// names sent beside it show as typed. Such a secret was found only through its own alphabet,
/// and most of it showed.
#[test]
fn a_client_secret_with_any_characters_echoed_by_a_server_shows_nowhere() {
    let secret = r#"Sup3r/Secret+"q"\Passw0rd-2024xyz anna.berg@example.com 100%"#;
    let tenant = TenantBuilder::new().behaviour(Behaviour::Echo(401)).start();
    let json_escaped = serde_json::to_string(secret).unwrap();
    let forms = [
        secret.to_owned(),
        json_escaped[1..json_escaped.len() - 1].to_owned(),
        form_encoded(secret),
    ];
    for shape in [
        vec![],
        vec!["--output", "json"],
        vec!["--output", "json", "--loglevel", "debug"],
        vec!["--loglevel", "debug"],
    ] {
        let mut cmd = tenant.command_without_api_key();
        cmd.env("QLIK_CLIENT_SECRET", secret)
            .arg("oauth-qscloud")
            .args(tenant.connection())
            .args(["--client-id", CLIENT_ID, "--impersonate-sub", SUBJECT])
            .args(&shape);
        let (code, stderr, stdout) = stderr_of(&mut cmd);
        let all = format!("{}\n{stderr}", String::from_utf8_lossy(&stdout));
        let what = format!("oauth-qscloud {}", shape.join(" "));
        assert_eq!(code, Some(1), "{what}: {all}");
        assert!(
            all.contains("you sent"),
            "{what}: the echo is not shown: {all}"
        );
        for form in &forms {
            assert_nothing_of(form, &all, &what);
        }
        let all = all.replace("[key text redacted]", "[R]");
        for name in [CLIENT_ID, SUBJECT] {
            let encoded = form_encoded(name);
            if all.contains(&encoded) {
                assert_shown(&all, &encoded, &what);
            } else {
                assert_shown(&all, name, &what);
            }
        }
    }
}
