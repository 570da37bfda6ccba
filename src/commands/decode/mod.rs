//! The decode command: take a token apart, verify it when a key is given, check it against
//! Qlik's rules when asked, and report, for people or as JSON. Three parts, one job each: this
//! module reads the input (the only part that touches the outside world), `report` decides the
//! verdict (a pure function of the token, the key and `now`), and `text` formats it.

mod report;
mod text;

use std::time::SystemTime;

use anyhow::Result;
use serde_json::{Map, Value};
use tracing::{info, warn};

pub use report::{DecodeReport, Verification, report};
pub use text::render;

use crate::cli::decode::DecodeArgs;
use crate::cli::output::LogLevel;
use crate::commands::{JsonAskedBy, Output, Run};
use crate::input;
use crate::keys;
use crate::times::unix_seconds;
use crate::token;

pub fn decode(args: &DecodeArgs, now: SystemTime) -> Result<Output> {
    let text = input::read_token(args.jwt.as_deref(), args.jwt_file.as_deref(), "decode")?;
    let parts = token::parts(token::clean(&text))?;
    let key = keys::verifying_key(
        args.cert_publickey_file.as_deref(),
        args.cert_publickey.as_deref(),
    )?;
    let rules = args.check.map(crate::qlik::check::Rules::from);
    let token_url = match (&args.tenant, rules) {
        (None, _) => None,
        (Some(tenant), Some(crate::qlik::check::Rules::QscloudOauth)) => {
            Some(crate::qlik::cloud::oauth::token_endpoint(
                &crate::http::Server::parse_tenant(tenant)?.origin(),
            ))
        }
        (Some(_), _) => {
            return Err(crate::error::UserError::usage(
                "--tenant names the tenant whose token endpoint an OAuth client assertion must \
                 name; it goes with --check qscloud-oauth",
            )
            .into());
        }
    };
    let report = report(
        parts,
        key.as_ref(),
        unix_seconds(now)?,
        args.expected_audience.as_deref(),
        token_url.as_deref(),
        rules,
    );
    if looks_like_access_token(&report.payload) {
        info!(
            "this is an OAuth access token (it has client_id and scope, RFC 9068), made for API \
             calls: the tenant signs it with a key of its own, which no client holds, so qs-jwt \
             cannot check its signature; Qlik's API is what accepts it (GET /api/v1/users/me)"
        );
        if report.verification.as_ref().is_some_and(|v| !v.integrity) {
            warn!(
                "the signature is not checked against the key given: an access token is signed \
                 by the tenant, not with the OAuth client's key"
            );
        }
    }
    let stdout = render(&report, key.as_ref(), args.minimal_output)?;
    Ok(Output {
        failure: report.failure(),
        ..Output::product(stdout)
    })
}

/// An OAuth access token (RFC 9068's JWT profile: `client_id` and `scope`), such as Qlik
/// Cloud's `POST /oauth/token` gives: not a token for Qlik to verify with the user's key.
fn looks_like_access_token(payload: &Map<String, Value>) -> bool {
    payload.get("client_id").is_some_and(Value::is_string)
        && payload.get("scope").is_some_and(Value::is_string)
}

impl Run for DecodeArgs {
    fn log_level(&self) -> LogLevel {
        self.log.loglevel
    }

    fn minimal_output(&self) -> bool {
        self.minimal_output
    }

    fn json_failure(&self) -> bool {
        self.minimal_output
    }

    fn run(&self, now: SystemTime) -> Result<Output> {
        decode(self, now)
    }

    fn json_asked_by() -> JsonAskedBy {
        JsonAskedBy::Flag("--minimal-output")
    }
}
