//! The decode command: take a token apart, verify it when a key is given, check it against
//! Qlik's rules when asked, and report, for people or as JSON. The report is built by a pure
//! function of the token, the key and `now`; only reading the input touches the outside world.

use std::fmt::Write as _;
use std::time::SystemTime;

use anyhow::Result;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::Output;
use crate::check::{self, Profile};
use crate::cli::DecodeArgs;
use crate::error::UserError;
use crate::input::{self, FileFlag};
use crate::keys::{self, VerifyingKey};
use crate::render;
use crate::times::{iso8601, numeric_date, span, unix_seconds};
use crate::token::{self, TokenParts};

const TOKEN_FILE: FileFlag = FileFlag {
    flag: "--jwt-file",
    holds: "token",
    format: "JWT",
    der_hint: None,
};

pub fn decode(args: &DecodeArgs, now: SystemTime) -> Result<Output> {
    let text = match (&args.jwt, &args.jwt_file) {
        (Some(jwt), _) => jwt.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => input::read_stdin(
            "--jwt-file",
            "the token",
            "echo \"$TOKEN\" | qs-jwt decode --jwt-file -",
        )?,
        (None, Some(path)) => input::read_file(path, &TOKEN_FILE)?,
        // clap's "token" group requires one of the two.
        (None, None) => {
            return Err(UserError::usage("give --jwt <token> or --jwt-file <file>").into());
        }
    };
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
        args.check,
    );
    let stdout = render(&report, key.as_ref(), args.minimal_output)?;
    Ok(Output {
        failure: report.failure(),
        ..Output::product(stdout)
    })
}

/// Everything decode found, in the JSON shape qs-jwt's consumers read.
#[derive(Debug, Serialize)]
pub struct Report {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<check::Report>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// "valid" when the signature holds, the token is valid now and the audience matches.
    pub status: &'static str,
    pub algorithm: String,
    /// The signature holds.
    pub integrity: bool,
    pub issued_at: String,
    pub not_before: String,
    pub expires_at: String,
    pub currently_valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience_match: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Value>,
    /// Every reason the token is invalid, joined by "; ".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the token stands against `now`, for people: "expires in 59m 58s".
    #[serde(skip)]
    pub now: String,
}

impl Report {
    /// Why decode exits 1, in one line; `None` when everything asked for passed.
    pub fn failure(&self) -> Option<String> {
        let mut problems = Vec::new();
        if let Some(reason) = self.verification.as_ref().and_then(|v| v.reason.as_ref()) {
            problems.push(format!("the token is invalid: {reason}"));
        }
        if let Some(check) = self.check.as_ref().filter(|c| !c.passed) {
            let failed: Vec<&str> = check.failures().map(|r| r.rule.as_str()).collect();
            problems.push(format!(
                "--check {}: {} of {} rules fail: {}",
                check.profile.name(),
                failed.len(),
                check.rules.len(),
                failed.join(", ")
            ));
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

/// The report on a token: pure, so every verdict is tested with a fixed `now`.
pub fn report(
    parts: TokenParts,
    key: Option<&VerifyingKey>,
    now: u64,
    expected_audience: Option<&str>,
    profile: Option<Profile>,
) -> Report {
    let verification = key.map(|key| verification(&parts, key, now, expected_audience));
    let check = profile.map(|profile| {
        check::check(
            profile,
            &parts.header,
            &parts.payload,
            now,
            expected_audience,
        )
    });
    Report {
        header: parts.header,
        payload: parts.payload,
        verification,
        check,
    }
}

fn verification(
    parts: &TokenParts,
    key: &VerifyingKey,
    now: u64,
    expected_audience: Option<&str>,
) -> Verification {
    let mut reasons = Vec::new();
    let signature = token::verify(parts, key);
    if let Err(reason) = token::critical_extensions(&parts.header) {
        reasons.push(reason);
    }
    let algorithm = match &signature {
        Ok(algorithm) => format!("{algorithm:?}"),
        Err(reason) => {
            reasons.push(reason.clone());
            match parts.header.get("alg") {
                Some(Value::String(alg)) => alg.clone(),
                Some(other) => other.to_string(),
                None => "N/A".to_owned(),
            }
        }
    };

    let claim = |name: &str| parts.payload.get(name);
    let date = |name: &str| match numeric_date(claim(name)) {
        Ok(Some(seconds)) => iso8601(seconds),
        Ok(None) => "N/A".to_owned(),
        Err(_) => "invalid".to_owned(),
    };
    let (currently_valid, now_text) = validity_now(claim("nbf"), claim("exp"), now);
    if !currently_valid {
        reasons.push(now_text.clone());
    }

    let audience = claim("aud").cloned();
    let audience_match = expected_audience.map(|expected| {
        audience
            .as_ref()
            .is_some_and(|aud| check::audience_matches(aud, expected))
    });
    if audience_match == Some(false) {
        let seen = audience
            .as_ref()
            .map_or("missing".to_owned(), Value::to_string);
        reasons.push(format!(
            "the audience (aud) is {seen}, not --expected-audience {}",
            expected_audience.unwrap_or_default()
        ));
    }

    let valid = reasons.is_empty();
    Verification {
        status: if valid { "valid" } else { "invalid" },
        algorithm,
        integrity: signature.is_ok(),
        issued_at: date("iat"),
        not_before: date("nbf"),
        expires_at: date("exp"),
        currently_valid,
        key_id: parts
            .header
            .get("kid")
            .map(|kid| kid.as_str().map_or_else(|| kid.to_string(), str::to_owned)),
        audience,
        audience_match,
        issuer: claim("iss").cloned(),
        reason: (!valid).then(|| reasons.join("; ")),
        now: now_text,
    }
}

/// Whether the token is valid at `now` by its nbf and exp, and why in words. A token without
/// exp never expires; one whose nbf is a few seconds ahead is allowed for clock skew.
fn validity_now(nbf: Option<&Value>, exp: Option<&Value>, now: u64) -> (bool, String) {
    let nbf = match numeric_date(nbf) {
        Ok(nbf) => nbf,
        Err(value) => return (false, format!("nbf is {value}, not a time in seconds")),
    };
    let exp = match numeric_date(exp) {
        Ok(exp) => exp,
        Err(value) => return (false, format!("exp is {value}, not a time in seconds")),
    };
    if let Some(nbf) = nbf.filter(|nbf| check::not_yet_valid(*nbf as f64, now)) {
        return (
            false,
            format!(
                "not yet valid: valid from {} (in {})",
                iso8601(nbf),
                span(nbf - now)
            ),
        );
    }
    match exp {
        Some(exp) if exp <= now => (
            false,
            format!("expired {} ago, at {}", span(now - exp), iso8601(exp)),
        ),
        Some(exp) => (true, format!("valid, expires in {}", span(exp - now))),
        None => (true, "valid, never expires (no exp)".to_owned()),
    }
}

/// What decode prints: the JSON of `--minimal-output`, or the report for people.
pub fn render(report: &Report, key: Option<&VerifyingKey>, json: bool) -> Result<String> {
    Ok(if json {
        render::json_for_terminal(&serde_json::to_string_pretty(report)?).into_owned()
    } else {
        human(report, key)
    })
}

/// The report for people: the header and payload as JSON, then one section per verdict.
fn human(report: &Report, key: Option<&VerifyingKey>) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let pretty = |object: &Map<String, Value>| {
        let json = serde_json::to_string_pretty(object).unwrap_or_else(|_| "{}".to_owned());
        render::json_for_terminal(&json).into_owned()
    };
    let _ = writeln!(out, "Header:\n{}\n", pretty(&report.header));
    let _ = writeln!(out, "Payload:\n{}", pretty(&report.payload));

    let times: Vec<(&str, String)> = ["iat", "nbf", "exp"]
        .into_iter()
        .filter_map(|name| {
            let value = report.payload.get(name)?;
            let shown = match numeric_date(Some(value)) {
                Ok(Some(seconds)) => iso8601(seconds),
                _ => format!("{value} (not a time in seconds)"),
            };
            Some((name, shown))
        })
        .collect();
    if !times.is_empty() {
        let _ = writeln!(out, "\nTimes (UTC):");
        for (name, shown) in times {
            let _ = writeln!(out, "  {name}  {}", render::escape(&shown));
        }
    }

    match (&report.verification, key) {
        (Some(v), Some(key)) => {
            let from = if key.from_certificate {
                " from the certificate"
            } else {
                ""
            };
            let signature = if v.integrity {
                format!("valid ({}, {}{from})", v.algorithm, key.kind)
            } else {
                format!("INVALID (alg {}, {}{from})", v.algorithm, key.kind)
            };
            let mut rows = vec![
                ("Signature", signature),
                (
                    "Key id",
                    v.key_id.clone().unwrap_or_else(|| "N/A".to_owned()),
                ),
                ("Issued", v.issued_at.clone()),
                ("Not before", v.not_before.clone()),
                ("Expires", v.expires_at.clone()),
                ("Now", v.now.clone()),
            ];
            let audience = v.audience.as_ref().map_or("N/A".to_owned(), plain);
            rows.push((
                "Audience",
                match v.audience_match {
                    Some(true) => format!("{audience} (matches --expected-audience)"),
                    Some(false) => format!("{audience} (does NOT match --expected-audience)"),
                    None => audience,
                },
            ));
            rows.push(("Issuer", v.issuer.as_ref().map_or("N/A".to_owned(), plain)));
            rows.push((
                "Result",
                match &v.reason {
                    None => "valid".to_owned(),
                    Some(reason) => format!("INVALID: {reason}"),
                },
            ));
            let _ = writeln!(out, "\nVerification:");
            write_rows(&mut out, &rows);
        }
        _ => {
            let _ = writeln!(
                out,
                "\nSignature: not verified (give --cert-publickey-file or --cert-publickey)"
            );
        }
    }

    if let Some(check) = &report.check {
        let failed = check.failures().count();
        let verdict = if check.passed {
            format!("passed, {} rules", check.rules.len())
        } else {
            format!("FAILED, {failed} of {} rules", check.rules.len())
        };
        let _ = writeln!(out, "\nCheck {}: {verdict}", check.profile.name());
        // Rule names hold --expected-audience and details the token's values: both escaped.
        let rules: Vec<(String, String, bool)> = check
            .rules
            .iter()
            .map(|r| {
                let name = render::escape(&r.rule).into_owned();
                (name, render::escape(&r.detail).into_owned(), r.passed)
            })
            .collect();
        let width = rules
            .iter()
            .map(|(name, ..)| name.chars().count())
            .max()
            .unwrap_or(0);
        for (name, detail, passed) in rules {
            let mark = if passed { "pass" } else { "FAIL" };
            let _ = writeln!(out, "  {mark}  {name:<width$}  {detail}");
        }
    }
    // main adds the final newline.
    out.truncate(out.trim_end().len());
    out
}

/// The rows of a section; each value is escaped, since most of them come from the token.
fn write_rows(out: &mut String, rows: &[(&str, String)]) {
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0) + 1;
    for (name, value) in rows {
        let _ = writeln!(
            out,
            "  {:<width$} {}",
            format!("{name}:"),
            render::escape(value)
        );
    }
}

/// A string as it is, anything else as JSON.
fn plain(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CLOCK_SKEW;
    use serde_json::json;

    const NOW: u64 = 1_795_000_000;

    fn at(nbf: Option<Value>, exp: Option<Value>) -> (bool, String) {
        validity_now(nbf.as_ref(), exp.as_ref(), NOW)
    }

    #[test]
    fn validity_against_now() {
        assert_eq!(
            at(None, Some(json!(NOW + 90))),
            (true, "valid, expires in 1m 30s".into())
        );
        assert_eq!(
            at(None, None),
            (true, "valid, never expires (no exp)".into())
        );
        assert_eq!(
            at(None, Some(json!(NOW))),
            (false, "expired 0s ago, at 2026-11-18T11:06:40Z".into())
        );
        assert!(at(Some(json!(NOW + CLOCK_SKEW)), Some(json!(NOW + 60))).0);
        assert_eq!(
            at(Some(json!(NOW + 3_600)), None),
            (
                false,
                "not yet valid: valid from 2026-11-18T12:06:40Z (in 1h)".into()
            )
        );
        assert_eq!(
            at(None, Some(json!("tomorrow"))),
            (false, "exp is \"tomorrow\", not a time in seconds".into())
        );
    }

    #[test]
    fn without_a_key_or_check_nothing_fails() {
        let parts = TokenParts {
            header: Map::new(),
            payload: json!({"exp": 1}).as_object().unwrap().clone(),
            signing_input: String::new(),
            signature: String::new(),
        };
        let report = report(parts, None, NOW, None, None);
        assert!(report.verification.is_none() && report.check.is_none());
        assert_eq!(report.failure(), None);
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            json!({"header": {}, "payload": {"exp": 1}})
        );
    }
}
