//! decode's report as people read it, and as JSON for machines. Everything that came from the
//! token is escaped on its way out (`render`): a token must not drive the terminal.

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::{Map, Value};

use super::report::DecodeReport;
use crate::keys::VerifyingKey;
use crate::render;
use crate::times::{iso8601, numeric_date};

/// What decode prints: the JSON of `--minimal-output`, or the report for people.
pub fn render(report: &DecodeReport, key: Option<&VerifyingKey>, json: bool) -> Result<String> {
    Ok(if json {
        render::json_for_terminal(&serde_json::to_string_pretty(report)?).into_owned()
    } else {
        human(report, key)
    })
}

/// The report for people: the header and payload as JSON, then one section per verdict.
fn human(report: &DecodeReport, key: Option<&VerifyingKey>) -> String {
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
