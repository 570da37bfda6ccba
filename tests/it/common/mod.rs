//! Helpers for the integration tests: run the built binary as a user would, and read back
//! what it printed and wrote.

pub mod ca;
pub mod engine;
pub mod identity_providers;
pub mod oauth_server;
pub mod qlik_server;
pub mod qrs_server;
pub mod site;
pub mod skip;
pub mod tenant;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

pub const QLIK_CLOUD_AUDIENCE: &str = "qlik.api/login/jwt-session";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The wall clock in seconds, for tokens the binary made moments ago; tests only compare it
/// with a margin.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn fixture_text(name: &str) -> String {
    fs::read_to_string(fixture(name)).unwrap()
}

/// What a developer's own environment may hold that would change a run: a key, passphrase or
/// secret of theirs, a proxy between the run and a stand-in on 127.0.0.1, their log settings.
/// Every program a test starts, qs-jwt or a shell, Python or Node running it, starts without
/// them ([`qs_jwt`], [`command`]); a test sets what it needs after that.
const DEVELOPER_SETTINGS: [&str; 16] = [
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "QSJWTPRIVKEY",
    "QSJWTPASSPHRASE",
    "QLIK_API_KEY",
    "QLIK_CLIENT_SECRET",
    "NO_COLOR",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "RUST_LIB_BACKTRACE",
];

/// `program` as the tests start it: without the developer's own settings.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    for name in DEVELOPER_SETTINGS {
        cmd.env_remove(name);
    }
    cmd
}

/// The binary, run in `dir`, without the developer's own settings.
pub fn qs_jwt(dir: &Path) -> Command {
    let mut cmd = Command::from_std(command(assert_cmd::cargo::cargo_bin("qs-jwt")));
    cmd.current_dir(dir);
    cmd
}

pub const QSEOW_AUDIENCE: &str = "test-audience";

/// One fixed moment for every test that needs one: 2026-11-18T11:06:40Z, the crate's own
/// (`qs_jwt::times::EXAMPLE_NOW`), which the unit tests use too.
pub const NOW: u64 = qs_jwt::times::EXAMPLE_NOW;

/// A create command as a user types it, the one way the tests build one: the command and its
/// required options (`Create::qseow()`, `Create::qscloud()`), then whatever the test adds. An
/// option given again replaces the earlier value, as in qs-jwt itself (`.args(["--expires",
/// "5m"])` after the default `1h`).
#[derive(Debug, Clone)]
pub struct Create {
    argv: Vec<String>,
}

impl Create {
    /// `create-qseow --userdir D --userid u --audience test-audience --expires 1h`
    pub fn qseow() -> Self {
        Self::from(&[
            "create-qseow",
            "--userdir",
            "D",
            "--userid",
            "u",
            "--audience",
            QSEOW_AUDIENCE,
            "--expires",
            "1h",
        ])
    }

    /// `create-qseow --audience test-audience --expires 1h`: for `--users`, where each row
    /// gives the user (and `--userdir`, when added, the directory of rows without one).
    pub fn qseow_users() -> Self {
        Self::from(&[
            "create-qseow",
            "--audience",
            QSEOW_AUDIENCE,
            "--expires",
            "1h",
        ])
    }

    /// `create-qscloud --issuer i --keyid k --expires 30m`
    pub fn qscloud() -> Self {
        Self::from(&[
            "create-qscloud",
            "--issuer",
            "i",
            "--keyid",
            "k",
            "--expires",
            "30m",
        ])
    }

    fn from(words: &[&str]) -> Self {
        Self {
            argv: words.iter().map(|w| (*w).to_owned()).collect(),
        }
    }

    pub fn arg(mut self, word: impl AsRef<str>) -> Self {
        self.argv.push(word.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.argv
            .extend(words.into_iter().map(|w| w.as_ref().to_owned()));
        self
    }

    /// `--cert-privatekey-file <path>`
    pub fn key_file(self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().display().to_string();
        self.args(["--cert-privatekey-file", &path])
    }

    /// `--cert-create true --cert-create-expires-days 30`: a new key pair in the folder.
    pub fn new_key(self) -> Self {
        self.args(["--cert-create", "true", "--cert-create-expires-days", "30"])
    }

    /// The words after `qs-jwt`, for tables of arguments and for shell lines.
    pub fn argv(&self) -> Vec<String> {
        self.argv.clone()
    }

    /// The binary with these arguments, run in `dir`.
    pub fn run_in(&self, dir: &Path) -> Command {
        let mut cmd = qs_jwt(dir);
        cmd.args(&self.argv);
        cmd
    }
}

/// A temporary folder holding the test key under the name the seed examples use, readable by
/// its owner only, as a private key file should be (others get a warning).
pub fn folder_with_key() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("privatekey.pem");
    fs::copy(fixture("rsa2048-pkcs8.pem"), &key).unwrap();
    owner_only(&key);
    dir
}

/// chmod 600, where there is such a thing.
pub fn owner_only(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Checks that stdout is exactly one compact JWT and a newline, and returns the JWT.
pub fn single_token(stdout: &[u8]) -> String {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    let token = text
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("stdout must end with one newline: {text:?}"));
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "stdout must be one JWT: {text:?}");
    for part in parts {
        assert!(
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "not base64url: {text:?}"
        );
    }
    token.to_owned()
}

/// The header and payload of a token as JSON, without checking the signature.
pub fn decode_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut next = || {
        let bytes = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    (next(), next())
}

/// Verifies the RS256 signature (and exp, nbf and aud) with a PEM public key.
pub fn verify_with_public_key(token: &str, public_key_pem: &str, audience: &str) {
    let key = DecodingKey::from_rsa_pem(public_key_pem.as_bytes()).unwrap();
    verify(token, &key, audience);
}

/// Verifies the RS256 signature with the public key inside a PEM certificate, the way Qlik
/// does with the certificate it is configured with.
pub fn verify_with_certificate(token: &str, certificate_pem: &str, audience: &str) {
    let (_, pem) = x509_parser::pem::parse_x509_pem(certificate_pem.as_bytes()).unwrap();
    let cert = pem.parse_x509().unwrap();
    let key = DecodingKey::from_rsa_der(&cert.public_key().subject_public_key.data);
    verify(token, &key, audience);
}

fn verify(token: &str, key: &DecodingKey, audience: &str) {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.validate_nbf = true;
    validation.leeway = 0;
    if let Err(err) = jsonwebtoken::decode::<Value>(token, key, &validation) {
        panic!("token does not verify: {err}");
    }
}

/// Runs the binary with `args` on a real pseudo-terminal (stdin, stdout and stderr), as a person
/// at a terminal would, through `script` from util-linux; assert_cmd only has pipes. Returns
/// the exit code and everything the terminal showed.
#[cfg(target_os = "linux")]
pub fn on_terminal(dir: &Path, args: &str, no_color: Option<&str>) -> (i32, String) {
    let command = format!("'{}' {args}", env!("CARGO_BIN_EXE_qs-jwt"));
    let mut script = self::command("script");
    script
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir);
    if let Some(value) = no_color {
        script.env("NO_COLOR", value);
    }
    let output = script.output().expect("script, from util-linux, runs");
    let screen = String::from_utf8(output.stdout).unwrap();
    assert!(!screen.contains("panicked"), "{screen}");
    (output.status.code().unwrap_or(-1), screen)
}

/// Every file below `dir` with its contents, to show that a failed run changed nothing.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.insert(
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    b"<dir>".to_vec(),
                );
                pending.push(path);
            } else {
                let contents = fs::read(&path).unwrap();
                files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), contents);
            }
        }
    }
    files
}

/// The schema Qlik publishes for a body (tests/fixtures/qlik/`name`).
pub fn qlik_schema(name: &str) -> jsonschema::Validator {
    let text = fixture_text(&format!("qlik/{name}"));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

pub fn assert_valid(validator: &jsonschema::Validator, body: &Value) {
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{body:#}");
}

/// Runs a command in `dir` that must succeed (a setup command printing its body); returns
/// stdout and stderr.
pub fn printed(dir: &Path, args: &[&str]) -> (String, String) {
    let output = qs_jwt(dir).args(args).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    (String::from_utf8(output.stdout).unwrap(), stderr)
}

/// The path of the fixture certificate rsa2048-cert.pem, as a word of a command line.
pub fn certificate_path() -> String {
    fixture("rsa2048-cert.pem").display().to_string()
}

/// Runs a command that must succeed, and returns what it printed; a failure shows its stderr.
pub fn succeeds(cmd: &mut Command) -> std::process::Output {
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs a command that must fail: checks the exit code, that stdout is empty, that no file
/// below `dir` was created or changed, and that nothing panicked. Returns stderr.
pub fn fails_cleanly(cmd: &mut Command, dir: &Path, code: i32) -> String {
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

/// The one line of an error, checked for shape: `error: ...`, optionally one `hint: ...`.
pub fn error_lines(stderr: &[u8]) -> String {
    let text = String::from_utf8(stderr.to_vec()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("INFO ") && !l.starts_with("WARN "))
        .collect();
    assert!(
        matches!(lines.as_slice(), [first] | [first, _] if first.starts_with("error: ")),
        "expected one error line (and at most one hint): {text:?}"
    );
    if let [_, hint] = lines.as_slice() {
        assert!(
            hint.starts_with("hint: "),
            "second line must be a hint: {text:?}"
        );
    }
    assert!(
        !text.contains("panicked") && !text.contains("backtrace"),
        "{text}"
    );
    text
}

/// What a person saw over a series of runs, as one text for a snapshot
/// (`tests/snapshots/`): each command line, its standard error and its exit code. The test's
/// temporary folder and the fixtures folder are written as `<dir>` and `tests/fixtures`, and
/// key text as `<PEM text>`, so the text is the same on every machine.
pub struct Transcript {
    text: String,
    dir: String,
}

impl Transcript {
    pub fn new(dir: &Path) -> Self {
        Self {
            text: String::new(),
            dir: dir.display().to_string(),
        }
    }

    pub fn record(&mut self, args: &[&str], stderr: &str, code: i32) {
        let words: Vec<String> = args.iter().map(|arg| self.word(arg)).collect();
        self.record_as(&format!("qs-jwt {}", words.join(" ")), stderr, code);
    }

    /// For a run that is more than its arguments (a variable set, standard input).
    pub fn record_as(&mut self, command_line: &str, stderr: &str, code: i32) {
        let stderr = self.normal(stderr);
        self.text
            .push_str(&format!("$ {command_line}\n{stderr}exit {code}\n\n"));
    }

    fn normal(&self, text: &str) -> String {
        let fixtures = fixture("").display().to_string();
        text.replace(&fixtures, "tests/fixtures/")
            .replace(&self.dir, "<dir>")
    }

    fn word(&self, arg: &str) -> String {
        if arg.contains("-----BEGIN") {
            return "<PEM text>".to_owned();
        }
        let arg = self.normal(arg);
        if arg.is_empty() || arg.contains([' ', '"', '$', '|', '\'']) {
            format!("'{}'", arg.replace('\'', "'\\''"))
        } else {
            arg
        }
    }

    /// Compares with the snapshot; `SNAPSHOTS=overwrite cargo test` rewrites it.
    pub fn assert_eq(&self, expected: snapbox::Data) {
        snapbox::assert_data_eq!(self.text.clone(), expected);
    }
}

/// The fix lines a doctor printed under the check line at `at`: each as (its label, its text),
/// `fix`, `fix (changes Qlik)`, ..., or `note`.
pub fn doctor_fixes<'a>(lines: &[&'a str], at: usize) -> Vec<(&'a str, &'a str)> {
    lines[at + 1..]
        .iter()
        .take_while(|l| l.starts_with("      ") && !l[6..].starts_with(' '))
        .filter_map(|l| l.trim_start().split_once(": "))
        .filter(|(label, _)| label.starts_with("fix") || *label == "note")
        .collect()
}

/// The last command among the fix lines under the check line at `at` (the one that changes
/// what the check found; steps before it make the files it names).
pub fn doctor_fix<'a>(lines: &[&'a str], at: usize) -> Option<&'a str> {
    doctor_fixes(lines, at)
        .into_iter()
        .filter(|(label, _)| label.starts_with("fix"))
        .map(|(_, text)| text)
        .next_back()
}
