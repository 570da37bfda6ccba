//! The doctor commands: why does Qlik reject my tokens? Each compares what the server holds
//! with the key, key ID, issuer (or audience and prefix) the admin signs with, one check a line
//! (`flutter doctor`'s way): a status, what was found, and the qs-jwt command that fixes it.
//!
//! This module is the frame both doctors share: a [`Check`], the [`Report`] of every check in
//! order, and its rendering (text for people, one JSON object for scripts). The checks
//! themselves are pure functions over what was read (`cloud` for Qlik Cloud), so that unit tests
//! cover them without a server. A check that cannot run because an earlier one failed is
//! [`Status::Skip`] with the reason. The run exits 0 when no check fails (warnings allowed), 1
//! otherwise; the report is printed either way.

mod cloud;
mod qseow;

pub use cloud::doctor_qscloud;
pub use qseow::doctor_qseow;

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::cli::doctor::{DoctorFormat, DoctorQscloudArgs, DoctorQseowArgs};
use crate::cli::output::LogLevel;
use crate::commands::{JsonAskedBy, Output, Run};
use crate::error::{self, UserError};
use crate::keys::{self, RsaPublic};
use crate::render;

/// How a check came out. Ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Pass,
    /// Works today, but needs care (a certificate that expires soon).
    Warn,
    /// Qlik will refuse the tokens, or the check itself could not reach what it checks.
    Fail,
    /// Not run: an earlier check failed (`found` says which), or nothing to check.
    Skip,
}

impl Status {
    /// The word scripts read in `--output json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }

    /// ANSI colour of the label on a terminal.
    fn colour(self) -> &'static str {
        match self {
            Status::Pass => "\x1b[32m",
            Status::Warn => "\x1b[33m",
            Status::Fail => "\x1b[1;31m",
            Status::Skip => "\x1b[2m",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check: what was looked at, how it came out, what was found, and the command that fixes
/// it. `found` and `fix` may hold values from the server or the command line: they are escaped
/// (and key text redacted) when rendered, never here.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Stable, for scripts: `identity-provider`, `local-key`.
    pub id: &'static str,
    /// For people: `identity provider`.
    pub title: &'static str,
    pub status: Status,
    pub found: String,
    /// A runnable qs-jwt command (or, where no command can fix it, None; `found` then says
    /// what to do).
    pub fix: Option<String>,
}

impl Check {
    pub fn new(
        id: &'static str,
        title: &'static str,
        status: Status,
        found: impl Into<String>,
    ) -> Self {
        Self {
            id,
            title,
            status,
            found: found.into(),
            fix: None,
        }
    }

    pub fn pass(id: &'static str, title: &'static str, found: impl Into<String>) -> Self {
        Self::new(id, title, Status::Pass, found)
    }

    pub fn warn(id: &'static str, title: &'static str, found: impl Into<String>) -> Self {
        Self::new(id, title, Status::Warn, found)
    }

    pub fn fail(id: &'static str, title: &'static str, found: impl Into<String>) -> Self {
        Self::new(id, title, Status::Fail, found)
    }

    pub fn skip(id: &'static str, title: &'static str, why: impl Into<String>) -> Self {
        Self::new(id, title, Status::Skip, why)
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    pub fn failed(&self) -> bool {
        self.status == Status::Fail
    }
}

/// Every check of a run, in the order they ran, and what they were run against (`about`:
/// the server, the issuer, the key ID...; shown at the top of the text and in the JSON).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub about: Vec<(&'static str, String)>,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(about: Vec<(&'static str, String)>) -> Self {
        Self {
            about,
            checks: Vec::new(),
        }
    }

    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    /// The first failed check, for a later one's skip reason.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.failed())
    }

    /// Whether the check `id` ran and did not fail (a warning passes).
    pub fn passed(&self, id: &str) -> bool {
        self.checks
            .iter()
            .any(|c| c.id == id && matches!(c.status, Status::Pass | Status::Warn))
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.failed())
    }

    pub fn ok(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The text for people: a line a check, its fix indented below it. `colour` only for a
    /// terminal.
    pub fn render_text(&self, colour: bool) -> String {
        let width = self
            .checks
            .iter()
            .map(|c| c.title.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (name, value) in &self.about {
            out.push_str(&format!("{name}: {}\n", shown(value)));
        }
        if !self.about.is_empty() {
            out.push('\n');
        }
        for check in &self.checks {
            let label = if colour {
                format!("{}{}\x1b[0m", check.status.colour(), check.status.label())
            } else {
                check.status.label().to_owned()
            };
            out.push_str(&format!(
                "{label}  {:<width$}  {}\n",
                check.title,
                shown(&check.found)
            ));
            if let Some(fix) = &check.fix {
                out.push_str(&format!("      fix: {}\n", shown(fix)));
            }
        }
        out.push('\n');
        out.push_str(&self.summary());
        out
    }

    /// One JSON object: `{"status": "ok"|"failed", <about>..., "checks": [{"id", "status",
    /// "title", "found", "fix"}]}`.
    pub fn render_json(&self) -> String {
        let mut object = serde_json::Map::new();
        object.insert(
            "status".into(),
            Value::from(if self.ok() { "ok" } else { "failed" }),
        );
        for (name, value) in &self.about {
            object.insert((*name).to_owned(), Value::from(redacted(value)));
        }
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "status": c.status.as_str(),
                    "title": c.title,
                    "found": redacted(&c.found),
                    "fix": c.fix.as_deref().map(redacted),
                })
            })
            .collect();
        object.insert("checks".into(), Value::from(checks));
        let text = serde_json::to_string_pretty(&Value::Object(object)).unwrap_or_default();
        render::json_for_terminal(&text).into_owned()
    }

    /// `9 checks: 7 passed, 1 warning, 1 failed`.
    pub fn summary(&self) -> String {
        let count = |status| self.checks.iter().filter(|c| c.status == status).count();
        let mut parts = vec![format!("{} passed", count(Status::Pass))];
        for (status, one, many) in [
            (Status::Warn, "warning", "warnings"),
            (Status::Fail, "failed", "failed"),
            (Status::Skip, "skipped", "skipped"),
        ] {
            match count(status) {
                0 => {}
                1 => parts.push(format!("1 {one}")),
                n => parts.push(format!("{n} {many}")),
            }
        }
        format!(
            "{}: {}",
            render::count(self.checks.len(), "check"),
            parts.join(", ")
        )
    }

    /// What the run prints, and the failure that makes it exit 1 when a check failed.
    pub fn into_output(self, format: DoctorFormat) -> Output {
        let stdout = match format {
            DoctorFormat::Text => {
                let colour = std::io::IsTerminal::is_terminal(&std::io::stdout())
                    && crate::log::colour_allowed();
                self.render_text(colour)
            }
            DoctorFormat::Json => self.render_json(),
        };
        let failure = (!self.ok()).then(|| {
            let names: Vec<&str> = self.failures().map(|c| c.title).collect();
            format!(
                "{} failed: {}",
                render::count(names.len(), "check"),
                names.join(", ")
            )
        });
        Output {
            failure,
            ..Output::product(stdout)
        }
    }
}

/// The line on the local key, alike for both doctors: what it is, or why it cannot sign for
/// Qlik. `then` says what to do with a new key pair on this platform, `new_pair` is the
/// command that makes one.
pub(super) fn local_key_check(
    local: &Result<LocalKey, KeyTrouble>,
    then: &str,
    new_pair: String,
) -> Check {
    const ID: &str = "local-key";
    const TITLE: &str = "local key";
    match local {
        // A key of a size qs-jwt cannot sign with needs a new pair; any other failure says its
        // own fix (a passphrase, a format to convert) in its words.
        Err(trouble) if trouble.new_pair => {
            Check::fail(ID, TITLE, trouble.said.clone()).with_fix(new_pair)
        }
        Err(trouble) => Check::fail(ID, TITLE, trouble.said.clone()),
        Ok(key) if key.bits < MIN_KEY_BITS => Check::fail(
            ID,
            TITLE,
            format!(
                "a {}-bit RSA key; Qlik needs {MIN_KEY_BITS} bits or more: make a new key pair and \
                 {then}",
                key.bits
            ),
        )
        .with_fix(new_pair),
        Ok(key) => Check::pass(
            ID,
            TITLE,
            format!(
                "a {}-bit RSA key, thumbprint {}",
                key.bits,
                key.public.thumbprint()
            ),
        ),
    }
}

/// The line on the dates of the certificate Qlik holds: failed before its start or after its
/// end, a warning within `EXPIRY_WARNING_SECS` of the end, with `fix` (configure a renewed one)
/// for the last two. `certificate` is the file a renewed certificate goes to, `then` what to
/// do with it on this platform.
pub(super) struct CertificateLine<'a> {
    pub id: &'static str,
    pub title: &'static str,
    pub certificate: &'a str,
    pub then: &'a str,
    pub fix: String,
}

pub(super) fn certificate_dates_check(
    line: CertificateLine<'_>,
    validity: &keys::Validity,
    now: u64,
) -> Check {
    use crate::times::{iso8601, span};
    let CertificateLine {
        id,
        title,
        certificate,
        then,
        fix,
    } = line;
    let renew = format!(
        "make a new certificate from your key (openssl req -new -x509 -key <private key> -out \
         {certificate} -days 730 -subj /CN=qs-jwt) and {then}"
    );
    if now < validity.not_before {
        return Check::fail(
            id,
            title,
            format!(
                "the certificate is valid only from {}, in {}",
                iso8601(validity.not_before),
                span(validity.not_before - now)
            ),
        );
    }
    if now >= validity.not_after {
        return Check::fail(
            id,
            title,
            format!(
                "the certificate expired at {}, {} ago: {renew}",
                iso8601(validity.not_after),
                span(now - validity.not_after)
            ),
        )
        .with_fix(fix);
    }
    let left = validity.not_after - now;
    if left < EXPIRY_WARNING_SECS {
        return Check::warn(
            id,
            title,
            format!(
                "the certificate expires at {}, in {}: {renew}",
                iso8601(validity.not_after),
                span(left)
            ),
        )
        .with_fix(fix);
    }
    Check::pass(
        id,
        title,
        format!(
            "valid from {} to {}",
            iso8601(validity.not_before),
            iso8601(validity.not_after)
        ),
    )
}

/// Qlik verifies RS256 with keys of 2048 bits or more (aws-lc, qs-jwt's signer, too).
pub const MIN_KEY_BITS: usize = 2048;

/// A certificate that ends sooner than this is a warning.
pub const EXPIRY_WARNING_SECS: u64 = 30 * 86_400;

/// --login's token lives five minutes: enough for the exchange, under Qlik's hour.
pub const LOGIN_TOKEN_SECS: u64 = 300;

/// The private key as read, its public half; or why it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalKey {
    pub bits: usize,
    pub public: RsaPublic,
}

/// Whether the public key in `pem` (a certificate or a public key a server holds) is the
/// local key's public half; None when either cannot be read.
pub fn holds_local_key(pem: Option<&str>, local: Option<&LocalKey>) -> Option<bool> {
    let server =
        keys::verifying_key_from(pem?, &keys::PublicKeyOrigin::Named(String::new())).ok()?;
    Some(server.rsa.as_ref()? == &local?.public)
}

/// A fix's command line: `command` (the qs-jwt command and the values the check named), then
/// each of `typed` that is not empty (the key's source and the connection's options, as the
/// user typed them).
pub fn command_line(command: String, typed: &[&str]) -> String {
    let mut line = command;
    for more in typed.iter().filter(|more| !more.is_empty()) {
        line.push(' ');
        line.push_str(more);
    }
    line
}

/// Why the private key could not be used, in words; `new_pair` when only a new key pair helps
/// (a size qs-jwt cannot sign with).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyTrouble {
    pub said: String,
    pub new_pair: bool,
}

impl KeyTrouble {
    pub fn from_error(err: &anyhow::Error) -> Self {
        let new_pair = err
            .chain()
            .find_map(|e| e.downcast_ref::<UserError>())
            .and_then(UserError::hint)
            == Some(keys::NEW_KEY_HINT);
        Self {
            said: said(err),
            new_pair,
        }
    }
}

/// The private key from its source: what the checks compare (its size, its public half), and
/// the key --login signs with; or why it could not be read, in words.
pub fn read_local_key(
    source: &keys::KeySource<'_>,
    passphrase: Option<&crate::secret::Passphrase>,
    now: std::time::SystemTime,
) -> (Result<LocalKey, KeyTrouble>, Option<keys::SigningKey>) {
    match keys::signing_key(source, passphrase, now) {
        Ok(loaded) => match loaded.key.public() {
            Ok(public) => (
                Ok(LocalKey {
                    bits: loaded.key.bits,
                    public,
                }),
                Some(loaded.key),
            ),
            Err(err) => (Err(KeyTrouble::from_error(&err)), None),
        },
        Err(err) => (Err(KeyTrouble::from_error(&err)), None),
    }
}

/// An error as a check shows it: its words and its hint, one line.
pub fn said(err: &anyhow::Error) -> String {
    let (detail, hint, _) = error::parts_for_json(err);
    match hint {
        Some(hint) => format!("{detail} ({hint})"),
        None => detail,
    }
}

/// `keys/qsjwt_privatekey.pem` -> `keys/qsjwt_publickey.cer`, the name --cert-create gives the
/// certificate; another name -> `publickey.cer` in the key's folder. Written with the
/// separators the user typed (Path::with_file_name would write `\` on Windows).
pub fn certificate_beside(private_key: &str) -> String {
    if let Some(prefix) = private_key.strip_suffix("privatekey.pem") {
        return format!("{prefix}publickey.cer");
    }
    let folder_end = private_key.rfind(['/', '\\']).map_or(0, |at| at + 1);
    format!("{}publickey.cer", &private_key[..folder_end])
}

/// A value as a person may see it: key text and the run's secrets redacted, controls escaped.
fn shown(text: &str) -> String {
    render::escape(&error::redact_keys(text)).into_owned()
}

/// The same for JSON, where serde escapes the controls.
fn redacted(text: &str) -> String {
    error::redact_keys(text).into_owned()
}

/// A value for a fix line, quoted when it needs to be, so that it can be pasted into bash and
/// PowerShell alike.
pub fn quoted(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@=+,".contains(c))
        && !value.starts_with('-');
    if plain {
        value.to_owned()
    } else {
        render::shell_quoted(value)
    }
}

impl Run for DoctorQscloudArgs {
    fn log_level(&self) -> LogLevel {
        self.output.log.loglevel
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.connection.timeout)
    }

    fn json_failure(&self) -> bool {
        self.output.output == DoctorFormat::Json
    }

    fn run(&self, now: SystemTime) -> anyhow::Result<Output> {
        doctor_qscloud(self, now)
    }

    fn json_asked_by() -> JsonAskedBy {
        JsonAskedBy::OutputJson
    }
}

impl Run for DoctorQseowArgs {
    fn log_level(&self) -> LogLevel {
        self.output.log.loglevel
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.connection.timeout)
    }

    fn json_failure(&self) -> bool {
        self.output.output == DoctorFormat::Json
    }

    fn run(&self, now: SystemTime) -> anyhow::Result<Output> {
        doctor_qseow(self, now)
    }

    fn json_asked_by() -> JsonAskedBy {
        JsonAskedBy::OutputJson
    }
}

/// The engine proof's check, for both doctors' --login.
pub const ENGINE_ID: &str = "engine";
pub const ENGINE_TITLE: &str = "engine";

/// The engine proof as one check: its steps, or the first failure and what to change (in
/// `found`: the change is not always one runnable command).
pub fn engine_check(report: &crate::commands::prove::EngineReport) -> Check {
    let steps = report
        .steps
        .iter()
        .map(|s| s.step)
        .collect::<Vec<_>>()
        .join(", ");
    match report.failure() {
        None => Check::pass(
            ENGINE_ID,
            ENGINE_TITLE,
            format!(
                "proven ({steps}): engine {}, user '{}'",
                report.version.as_deref().unwrap_or("?"),
                report.user.as_deref().unwrap_or("?")
            ),
        ),
        Some((found, fix)) => Check::fail(
            ENGINE_ID,
            ENGINE_TITLE,
            format!(
                "the step {} failed: {found}{}",
                report.failed_step.unwrap_or_default(),
                fix.map(|f| format!("; to change: {f}")).unwrap_or_default()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut report = Report::new(vec![("server", "https://t.example".to_owned())]);
        report.push(Check::pass("a", "first", "fine"));
        report.push(Check::warn("b", "second one", "soon"));
        report.push(
            Check::fail("c", "third", "bad \x1b[2J").with_fix("qs-jwt setup-qscloud --apply"),
        );
        report.push(Check::skip("d", "fourth", "the third failed"));
        report
    }

    #[test]
    fn text_is_a_line_a_check_with_the_fix_below() {
        let text = report().render_text(false);
        assert!(text.contains("PASS  first       fine\n"), "{text}");
        assert!(text.contains("WARN  second one  soon\n"), "{text}");
        assert!(
            text.contains(
                "FAIL  third       bad \\x1b[2J\n      fix: qs-jwt setup-qscloud --apply\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("SKIP  fourth      the third failed\n"),
            "{text}"
        );
        assert!(text.starts_with("server: https://t.example\n\n"), "{text}");
        assert!(
            text.ends_with("4 checks: 1 passed, 1 warning, 1 failed, 1 skipped"),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
        assert!(report().render_text(true).contains("\x1b[1;31mFAIL\x1b[0m"));
    }

    #[test]
    fn json_is_one_object_with_every_check() {
        let value: Value = serde_json::from_str(&report().render_json()).unwrap();
        assert_eq!(value["status"], "failed");
        assert_eq!(value["server"], "https://t.example");
        assert_eq!(value["checks"].as_array().unwrap().len(), 4);
        assert_eq!(value["checks"][2]["status"], "fail");
        assert_eq!(value["checks"][2]["fix"], "qs-jwt setup-qscloud --apply");
        assert_eq!(value["checks"][0]["fix"], Value::Null);
        let mut ok = Report::default();
        ok.push(Check::warn("b", "w", "soon"));
        assert!(ok.ok());
        let value: Value = serde_json::from_str(&ok.render_json()).unwrap();
        assert_eq!(value["status"], "ok");
    }

    #[test]
    fn a_failed_check_fails_the_run_and_a_warning_does_not() {
        let output = report().into_output(DoctorFormat::Json);
        assert_eq!(output.failure.as_deref(), Some("1 check failed: third"));
        let mut ok = Report::default();
        ok.push(Check::warn("b", "w", "soon"));
        assert!(ok.into_output(DoctorFormat::Text).failure.is_none());
    }
}
