//! The decode command: take a token apart, verify it when a key is given, check it against
//! Qlik's rules when asked, and report, for people or as JSON. Three parts, one job each: this
//! module reads the input (the only part that touches the outside world), `report` decides the
//! verdict (a pure function of the token, the key and `now`), and `text` formats it.

mod report;
mod text;

use std::time::SystemTime;

use anyhow::Result;

pub use report::{DecodeReport, Verification, report};
pub use text::render;

use crate::Output;
use crate::cli::decode::DecodeArgs;
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
    let report = report(
        parts,
        key.as_ref(),
        unix_seconds(now)?,
        args.expected_audience.as_deref(),
        args.check.map(Into::into),
    );
    let stdout = render(&report, key.as_ref(), args.minimal_output)?;
    Ok(Output {
        failure: report.failure(),
        ..Output::product(stdout)
    })
}
