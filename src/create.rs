//! The two create commands: check the options, get the key, sign, and return the token.
//!
//! Everything the user can get wrong is checked before a key is read or made, so a usage error
//! never leaves a key file behind.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use rand::RngExt;
use rand::distr::Alphanumeric;
use tracing::{info, warn};

use crate::claims;
use crate::cli::{CreateQscloudArgs, CreateQseowArgs, KeyArgs};
use crate::keys;
use crate::token;

/// 24 characters from 62: about 143 bits, URL-safe as they are.
const RANDOM_ID_LEN: usize = 24;

pub fn create_qseow(args: &CreateQseowArgs, now: SystemTime) -> Result<String> {
    let source = keys::key_source(&args.key)?;
    let header = claims::qseow_header();
    let payload = claims::qseow_claims(args, unix_seconds(now)?)?;
    warn_about_unused_key_options(&args.key);

    let key = keys::signing_key(&source, now)?;
    token::sign(&header, &payload, &key)
}

pub fn create_qscloud(args: &CreateQscloudArgs, now: SystemTime) -> Result<String> {
    let source = keys::key_source(&args.key)?;
    let header = claims::qscloud_header(&args.keyid);
    let payload = claims::qscloud_claims(args, unix_seconds(now)?, &mut random_id)?;
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
    for warning in claims::qscloud_warnings(&payload) {
        warn!("{warning}");
    }
    Ok(token)
}

fn warn_about_unused_key_options(args: &KeyArgs) {
    if !args.cert_create && args.cert_create_expires_days.is_some() {
        warn!("--cert-create-expires-days is ignored without --cert-create true");
    }
}

fn unix_seconds(now: SystemTime) -> Result<u64> {
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
