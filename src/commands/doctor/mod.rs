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
use std::path::Path;
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
    /// What fixes it, in the order to try: runnable commands, each marked with what it
    /// changes, and words where no command can be vouched for. Empty when `found` says it all.
    pub fixes: Vec<Fix>,
}

/// What running a fix changes: scripts read it in `--output json` (`effect`), people in the
/// label of the text line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Only reads: a doctor run again (with other values).
    ChecksAgain,
    /// Writes a file here (a certificate or public key made from the private key, a new key
    /// pair); changes nothing in Qlik.
    WritesFile,
    /// Changes Qlik; the signers of the key Qlik holds keep working.
    ChangesQlik,
    /// Changes Qlik by replacing the key it holds: every signer of the old key is locked out.
    ReplacesKey,
    /// Words, not a command: what to look at before changing anything.
    Advice,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::ChecksAgain => "checks-again",
            Effect::WritesFile => "writes-file",
            Effect::ChangesQlik => "changes-qlik",
            Effect::ReplacesKey => "replaces-key",
            Effect::Advice => "advice",
        }
    }

    /// The text line's label: a plain `fix:` reads or writes here only.
    fn label(self) -> &'static str {
        match self {
            Effect::ChecksAgain | Effect::WritesFile => "fix",
            Effect::ChangesQlik => "fix (changes Qlik)",
            Effect::ReplacesKey => {
                "fix (changes Qlik, replaces its key and locks out every signer of the old one)"
            }
            Effect::Advice => "note",
        }
    }

    pub fn changes_qlik(self) -> bool {
        matches!(self, Effect::ChangesQlik | Effect::ReplacesKey)
    }
}

/// One step of a fix: a command line (or words, for [`Effect::Advice`]) and what it changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    pub effect: Effect,
    pub text: String,
}

impl Fix {
    pub fn new(effect: Effect, text: impl Into<String>) -> Self {
        Self {
            effect,
            text: text.into(),
        }
    }

    /// A qs-jwt command classed by what it is: `doctor-*` checks again, `setup-* --apply`
    /// changes Qlik, anything else (a new key pair, openssl) writes files here.
    pub fn command(text: impl Into<String>) -> Self {
        let text = text.into();
        let effect = if text.starts_with("qs-jwt doctor-") {
            Effect::ChecksAgain
        } else if text.starts_with("qs-jwt setup-") && text.contains(" --apply") {
            Effect::ChangesQlik
        } else {
            Effect::WritesFile
        };
        Self { effect, text }
    }

    pub fn advice(text: impl Into<String>) -> Self {
        Self::new(Effect::Advice, text)
    }
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
            fixes: Vec::new(),
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

    /// A qs-jwt command as the fix, classed by [`Fix::command`].
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fixes.push(Fix::command(fix));
        self
    }

    pub fn with_fixes(mut self, fixes: impl IntoIterator<Item = Fix>) -> Self {
        self.fixes.extend(fixes);
        self
    }

    /// The fix's last command line, the one that changes what the check found (the steps
    /// before it make the file it names), if any.
    pub fn fix(&self) -> Option<&str> {
        self.fixes
            .iter()
            .rfind(|f| f.effect != Effect::Advice)
            .map(|f| f.text.as_str())
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
            for fix in &check.fixes {
                out.push_str(&format!(
                    "      {}: {}\n",
                    fix.effect.label(),
                    shown(&fix.text)
                ));
            }
        }
        out.push('\n');
        out.push_str(&self.summary());
        out
    }

    /// One JSON object: `{"status": "ok"|"failed", <about>..., "checks": [{"id", "status",
    /// "title", "found", "fix", "fixes"}]}`: `fix` the command that fixes what was found (or
    /// null), `fixes` every step in order with its `effect` and whether it `changes_qlik`.
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
                    "fix": c.fix().map(redacted),
                    "fixes": c.fixes.iter().map(|f| json!({
                        "effect": f.effect.as_str(),
                        "changes_qlik": f.effect.changes_qlik(),
                        "command": (f.effect != Effect::Advice).then(|| redacted(&f.text)),
                        "note": (f.effect == Effect::Advice).then(|| redacted(&f.text)),
                    })).collect::<Vec<_>>(),
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
/// for the last two. `then` says what to do with a renewed certificate on this platform; `fix`
/// its steps (a certificate made from the key, then given to Qlik).
pub(super) struct CertificateLine<'a> {
    pub id: &'static str,
    pub title: &'static str,
    pub then: &'a str,
    pub fix: Vec<Fix>,
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
        then,
        fix,
    } = line;
    let renew = format!("make a new certificate from your key and {then}");
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
        .with_fixes(fix);
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
        .with_fixes(fix);
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
    Some(keys::rsa_public_of(pem?)? == local?.public)
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

/// A certificate or public key in a file here, read and checked: the only files a fix names.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicFile {
    /// As a fix writes it: the folder as the user typed it, then the file's name.
    pub path: String,
    pub public: RsaPublic,
    pub certificate: bool,
    /// A certificate's dates.
    pub validity: Option<keys::Validity>,
}

/// The files a folder may hold certificates and public keys in, by their ending.
const PUBLIC_ENDINGS: &[&str] = &[".cer", ".crt", ".pem", ".pub"];

/// At most this many entries of the folder are looked at, and files up to this size read.
const MAX_FOLDER_ENTRIES: usize = 512;
const MAX_PUBLIC_FILE: u64 = 64 * 1024;

/// The folder part of a path as typed (`keys/` of `keys/a.pem`; empty for the current folder).
pub fn folder_as_typed(path: &str) -> &str {
    let end = path.rfind(['/', '\\']).map_or(0, |at| at + 1);
    &path[..end]
}

/// The RSA certificates and public keys in `folder` (as typed; empty for the current folder),
/// each read and parsed, sorted by name. Files holding private key text are not read past
/// their size check and a look for it; what cannot be read is left out.
pub fn public_files(folder: &str) -> Vec<PublicFile> {
    let dir = if folder.is_empty() { "." } else { folder };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.take(MAX_FOLDER_ENTRIES).flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !PUBLIC_ENDINGS
            .iter()
            .any(|e| name.to_ascii_lowercase().ends_with(e))
        {
            continue;
        }
        // A regular file of a sane size: never a FIFO or a device that would block.
        let Ok(meta) = std::fs::metadata(entry.path()) else {
            continue;
        };
        if !meta.is_file() || meta.len() > MAX_PUBLIC_FILE {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        if text.contains("PRIVATE KEY") {
            continue;
        }
        let Ok(key) = keys::verifying_key_from(&text, &keys::PublicKeyOrigin::Named(name.clone()))
        else {
            continue;
        };
        if key.blocks != 1 {
            continue;
        }
        if let Some(public) = key.rsa {
            found.push(PublicFile {
                path: format!("{folder}{name}"),
                public,
                certificate: key.from_certificate,
                validity: keys::certificate_validity(&text),
            });
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// Where a fix gets the local key from for Qlik: a file here found to hold it, or a file the
/// fix first makes from the private key (openssl, as Qlik's guides do).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyForQlik {
    /// The step that makes the file, when none here holds the key.
    pub make: Option<Fix>,
    /// The file to give setup-* --apply, quoted for a command line.
    pub file: String,
}

/// `certificate`: QSEoW takes a certificate (one is made from the key itself, as `openssl req
/// -x509 -key` does); Qlik Cloud a certificate or a public key. `key_file`: the private key's
/// file as typed, when it is one. `preferred`: the name --cert-create would give the file.
/// A certificate found is named only while it is valid for `EXPIRY_WARNING_SECS` more.
pub fn key_for_qlik(
    local: &LocalKey,
    files: &[PublicFile],
    key_file: Option<&str>,
    certificate: bool,
    preferred: &str,
    now: u64,
) -> KeyForQlik {
    let lasts = |f: &PublicFile| {
        f.validity.is_none_or(|v| {
            v.not_before <= now && now.saturating_add(EXPIRY_WARNING_SECS) < v.not_after
        })
    };
    if let Some(file) = files
        .iter()
        .filter(|f| f.public == local.public && (f.certificate || !certificate) && lasts(f))
        // The name --cert-create gives first, then the rest by name.
        .min_by_key(|f| (f.path != preferred, f.path.clone()))
    {
        return KeyForQlik {
            make: None,
            file: quoted(&file.path),
        };
    }
    let taken = |name: &str| files.iter().any(|f| f.path == name) || Path::new(name).exists();
    // A public key made from the private key is PEM, not a certificate: named for it.
    let mut file = match preferred.strip_suffix(".cer") {
        Some(stem) if !certificate => format!("{stem}.pem"),
        _ => preferred.to_owned(),
    };
    if taken(&file) {
        let stem = key_file
            .map(|k| {
                let k = k.strip_suffix(".pem").unwrap_or(k);
                format!("{k}_")
            })
            .unwrap_or_else(|| folder_as_typed(preferred).to_owned());
        let ending = if certificate { "cer" } else { "pem" };
        file = format!("{stem}publickey.{ending}");
        let mut n = 2;
        while taken(&file) && n < 100 {
            file = format!("{stem}publickey-{n}.{ending}");
            n += 1;
        }
    }
    let key = key_file.map_or_else(|| "<your private key file>".to_owned(), quoted);
    let make = if certificate {
        format!(
            "openssl req -new -x509 -key {key} -out {} -days 730 -subj /CN=qs-jwt",
            quoted(&file)
        )
    } else {
        format!("openssl pkey -in {key} -pubout -out {}", quoted(&file))
    };
    KeyForQlik {
        make: Some(Fix::new(Effect::WritesFile, make)),
        file: quoted(&file),
    }
}

/// The words that come first when Qlik holds another key than the local one: the signers
/// that work today may hold the right key, and this one the wrong; the file here that holds
/// Qlik's key, when one does.
pub fn wrong_key_advice(held_by: &str, server: &RsaPublic, files: &[PublicFile]) -> Fix {
    let here: Vec<&str> = files
        .iter()
        .filter(|f| &f.public == server)
        .map(|f| f.path.as_str())
        .collect();
    let file = if here.is_empty() {
        String::new()
    } else {
        let verb = if here.len() == 1 { "does" } else { "do" };
        format!(" (as {} here {verb})", here.join(", "))
    };
    Fix::advice(format!(
        "you may be signing with the wrong key: {held_by} holds the key with thumbprint {}{file}; \
         if tokens signed with that key work today, sign with its private key instead, and \
         change nothing in Qlik",
        server.thumbprint()
    ))
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
                "FAIL  third       bad \\x1b[2J\n      fix (changes Qlik): qs-jwt setup-qscloud --apply\n"
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
