//! The two create commands: check the options, get the key, sign, and return the token.
//!
//! Everything the user can get wrong is checked before a key is read or made, so a usage error
//! never leaves a key file behind.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use jsonwebtoken::Header;
use rand::RngExt;
use rand::distr::Alphanumeric;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tracing::{info, warn};

use crate::check::{self, Profile};
use crate::claims;
use crate::cli::{CreateQscloudArgs, CreateQseowArgs, KeyArgs, TokenFormat};
use crate::keys;
use crate::times;
use crate::token;

/// 24 characters from 62: about 143 bits, URL-safe as they are.
const RANDOM_ID_LEN: usize = 24;

/// A signed token and what went into it, for `--output json`.
#[derive(Debug)]
pub struct Created {
    pub token: String,
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    pub expires_at: u64,
}

impl Created {
    /// What create prints on standard output, without the final newline.
    pub fn render(&self, format: TokenFormat) -> String {
        match format {
            TokenFormat::Token => self.token.clone(),
            TokenFormat::Json => json!({
                "token": self.token,
                "header": self.header,
                "payload": self.payload,
                "expiresAt": times::iso8601(self.expires_at),
            })
            .to_string(),
        }
    }
}

pub fn create_qseow(args: &CreateQseowArgs, now: SystemTime) -> Result<Created> {
    let source = keys::key_source(&args.key)?;
    let header = claims::qseow_header();
    let payload = claims::qseow_claims(args, unix_seconds(now)?)?;
    warn_about_unused_key_options(&args.key);

    let key = keys::signing_key(&source, now)?;
    let token = token::sign(&header, &payload, &key)?;
    created(token, &header, &payload, payload.exp)
}

pub fn create_qscloud(args: &CreateQscloudArgs, now: SystemTime) -> Result<Created> {
    let source = keys::key_source(&args.key)?;
    let header = claims::qscloud_header(&args.keyid);
    let now_seconds = unix_seconds(now)?;
    let payload = claims::qscloud_claims(args, now_seconds, &mut random_id)?;
    warn_about_unused_key_options(&args.key);
    if args.useremail_verified.is_some() && args.user.useremail.is_none() {
        warn!("--useremail-verified is ignored without --useremail");
    }

    let key = keys::signing_key(&source, now)?;
    let token = token::sign(&header, &payload, &key)?;
    if args.sub.is_none() {
        info!(
            "no --sub: the subject is the random value {}, so Qlik Cloud sees a new user with \
             every token; pass --sub <subject> for a stable identity",
            payload.sub
        );
    }
    let created = created(token, &header, &payload, payload.exp)?;
    // The same rules as decode --check qscloud: the token is still printed (the user may know
    // better, for a test tenant or a token to inspect), but is told what Qlik Cloud will refuse.
    let report = check::check(
        Profile::Qscloud,
        &created.header,
        &created.payload,
        now_seconds,
        None,
    );
    for failure in report.failures() {
        let fix = failure
            .fix
            .map(|fix| format!("; {fix}"))
            .unwrap_or_default();
        warn!(
            "Qlik Cloud will reject this token: the rule \"{}\" fails (seen: {}){fix}",
            failure.rule, failure.detail
        );
    }
    Ok(created)
}

fn created(
    token: String,
    header: &Header,
    payload: &impl Serialize,
    expires_at: u64,
) -> Result<Created> {
    Ok(Created {
        token,
        header: json_object(header)?,
        payload: json_object(payload)?,
        expires_at,
    })
}

fn json_object(value: &impl Serialize) -> Result<Map<String, Value>> {
    match serde_json::to_value(value).context("cannot turn the token into JSON")? {
        Value::Object(object) => Ok(object),
        // The header and both claim structs are serde structs, which always make objects.
        other => anyhow::bail!("internal error: expected a JSON object, got {other}"),
    }
}

fn warn_about_unused_key_options(args: &KeyArgs) {
    if !args.cert_create && args.cert_create_expires_days.is_some() {
        warn!("--cert-create-expires-days is ignored without --cert-create true");
    }
}

pub fn unix_seconds(now: SystemTime) -> Result<u64> {
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .context("the system clock is set before 1970; fix the clock and try again")
}

fn random_id() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(RANDOM_ID_LEN)
        .map(char::from)
        .collect()
}
