//! The two create commands: check the options, get the key, sign, and return the token; with
//! `--users`, a token for each user of a file (`batch`).
//!
//! Everything the user can get wrong is checked before a key is read or made, so a usage error
//! never leaves a key file behind.

mod batch;

use std::time::SystemTime;

use anyhow::{Context, Result};
use jsonwebtoken::Header;
use serde::Serialize;
use serde_json::{Map, Value};
use tracing::{info, warn};

use crate::claims;
use crate::cli::create::{CreateQscloudArgs, CreateQseowArgs, TokenFormat};
use crate::cli::key::KeyArgs;
use crate::cli::output::LogLevel;
use crate::commands::{JsonAskedBy, Output, Run, random_id};
use crate::keys::{self, LoadedKey, PendingKeyFiles};
use crate::qlik::check;
use crate::qlik::rules::Profile;
use crate::render;
use crate::secret::Passphrase;
use crate::times;
use crate::token;
use crate::verbose;

/// A signed token and what went into it, for `--output json`.
pub struct Created {
    pub token: String,
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    pub expires_at: u64,
    /// The files of a new key, kept only once the token is delivered.
    pub pending_files: Option<PendingKeyFiles>,
}

impl Created {
    /// What the run prints, with the new key's files still pending: main commits them once the
    /// token is on standard output.
    pub fn into_output(self, format: TokenFormat) -> Output {
        let stdout = self.render(format);
        Output {
            pending_files: self.pending_files,
            ..Output::product(stdout)
        }
    }

    /// What create prints on standard output, without the final newline.
    pub fn render(&self, format: TokenFormat) -> String {
        self.render_for(format, &[])
    }

    /// The same, with `--users`: `user` names whose token it is (`sub`, or `userdir` and
    /// `userid`), ahead of the token in JSON.
    fn render_for(&self, format: TokenFormat, user: &[(&str, &str)]) -> String {
        match format {
            TokenFormat::Token => self.token.clone(),
            TokenFormat::Json => {
                let mut object: Map<String, Value> = user
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), Value::from(*value)))
                    .collect();
                object.insert("token".into(), Value::from(self.token.as_str()));
                object.insert("header".into(), Value::Object(self.header.clone()));
                object.insert("payload".into(), Value::Object(self.payload.clone()));
                object.insert(
                    "expiresAt".into(),
                    Value::from(times::iso8601(self.expires_at)),
                );
                render::json_for_terminal(&Value::Object(object).to_string()).into_owned()
            }
        }
    }
}

/// `create-qseow`: the token of one user, or with `--users` the tokens of every user of the
/// file, written as they are made.
pub fn create_qseow(args: &CreateQseowArgs, now: SystemTime) -> Result<Output> {
    warn_about_group_lists(&args.user.groups);
    match &args.users.users {
        Some(users) => batch::create_qseow(args, users, now),
        None => Ok(create_one_qseow(args, now)?.into_output(args.output.output)),
    }
}

/// `create-qscloud`, as `create_qseow`.
pub fn create_qscloud(args: &CreateQscloudArgs, now: SystemTime) -> Result<Output> {
    warn_about_group_lists(&args.user.groups);
    match &args.users.users {
        Some(users) => batch::create_qscloud(args, users, now),
        None => Ok(create_one_qscloud(args, now)?.into_output(args.output.output)),
    }
}

fn create_one_qseow(args: &CreateQseowArgs, now: SystemTime) -> Result<Created> {
    let env_key = std::env::var_os(keys::KEY_VARIABLE);
    let source = keys::key_source(&args.key.options(), env_key.as_deref())?;
    let mut header = claims::qseow_header();
    header.alg = args.alg.into();
    let payload = claims::qseow_claims(&args.token_input(), times::unix_seconds(now)?)?;
    warn_about_unused_key_options(&args.key);

    let key = keys::signing_key(&source, passphrase(&args.key)?.as_ref(), now)?;
    signed(&header, &payload, payload.exp, key)
}

fn create_one_qscloud(args: &CreateQscloudArgs, now: SystemTime) -> Result<Created> {
    let env_key = std::env::var_os(keys::KEY_VARIABLE);
    let source = keys::key_source(&args.key.options(), env_key.as_deref())?;
    let header = claims::qscloud_header(&args.keyid);
    let now_seconds = times::unix_seconds(now)?;
    let payload = claims::qscloud_claims(&args.token_input(), now_seconds, &mut random_id)?;
    warn_about_unused_key_options(&args.key);
    if args.useremail_verified.is_some() && args.user.useremail.is_none() {
        warn!("--useremail-verified is ignored without --useremail");
    }

    let key = keys::signing_key(&source, passphrase(&args.key)?.as_ref(), now)?;
    let created = signed(&header, &payload, payload.exp, key)?;
    if args.sub.is_none() {
        // The value itself is in the token (decode shows it); here it would only look like key
        // text to the log's redaction.
        info!(
            "no --sub: the subject is a new random value, so Qlik Cloud sees a new user with \
             every token; pass --sub <subject> for a stable identity"
        );
    }
    // The same rules as decode --check qscloud: the token is still printed (the user may know
    // better, for a test tenant or a token to inspect), but is told what Qlik Cloud will refuse.
    let report = check::evaluate(
        Profile::Qscloud,
        &created.header,
        &created.payload,
        now_seconds,
        None,
    );
    for failure in report.failures() {
        warn!(
            "Qlik Cloud will reject this token: {}",
            failure.failure_text()
        );
    }
    Ok(created)
}

/// Signs the payload as the JSON object `Created` carries, so it is serialized once.
fn signed(
    header: &Header,
    payload: &impl Serialize,
    expires_at: u64,
    key: LoadedKey,
) -> Result<Created> {
    let payload = json_object(payload)?;
    verbose!("signing with a {}-bit RSA key", key.key.bits);
    Ok(Created {
        token: token::sign(header, &payload, &key.key)?,
        header: json_object(header)?,
        payload,
        expires_at,
        pending_files: key.pending_files,
    })
}

fn json_object(value: &impl Serialize) -> Result<Map<String, Value>> {
    match serde_json::to_value(value).context("cannot turn the token into JSON")? {
        Value::Object(object) => Ok(object),
        // The header and both claim structs are serde structs, which always make objects.
        other => anyhow::bail!("internal error: expected a JSON object, got {other}"),
    }
}

/// The passphrase of the key, if one is given; read after every usage check, just before the
/// key.
fn passphrase(args: &KeyArgs) -> Result<Option<Passphrase>> {
    Ok(keys::passphrase(
        &args.options(),
        std::env::var_os(keys::PASSPHRASE_VARIABLE),
    )?)
}

/// `--groups "group1,group2"` makes one group: said once a run, with or without `--users`.
fn warn_about_group_lists(groups: &[String]) {
    for warning in claims::group_list_warnings(groups) {
        warn!("{warning}");
    }
}

fn warn_about_unused_key_options(args: &KeyArgs) {
    if !args.cert_create && args.cert_create_expires_days.is_some() {
        warn!("--cert-create-expires-days is ignored without --cert-create true");
    }
}

impl Run for CreateQseowArgs {
    fn log_level(&self) -> LogLevel {
        self.output.log.loglevel
    }

    fn minimal_output(&self) -> bool {
        self.output.minimal_output
    }

    fn json_failure(&self) -> bool {
        self.output.output == TokenFormat::Json
    }

    fn run(&self, now: SystemTime) -> Result<Output> {
        create_qseow(self, now)
    }

    fn json_asked_by() -> JsonAskedBy {
        JsonAskedBy::OutputJson
    }
}

impl Run for CreateQscloudArgs {
    fn log_level(&self) -> LogLevel {
        self.output.log.loglevel
    }

    fn minimal_output(&self) -> bool {
        self.output.minimal_output
    }

    fn json_failure(&self) -> bool {
        self.output.output == TokenFormat::Json
    }

    fn run(&self, now: SystemTime) -> Result<Output> {
        create_qscloud(self, now)
    }

    fn json_asked_by() -> JsonAskedBy {
        JsonAskedBy::OutputJson
    }
}
