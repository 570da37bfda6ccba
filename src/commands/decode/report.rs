//! The verdict on a token: what it holds, whether its signature and times hold against a key
//! and `now`, and Qlik's rules. Pure: every verdict is tested with a fixed `now`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::keys::VerifyingKey;
use crate::qlik::check::{self, CheckReport};
use crate::qlik::rules::not_yet_valid;
use crate::times::{iso8601, numeric_date, span};
use crate::token::{self, TokenParts};

/// Everything decode found, in the JSON shape qs-jwt's consumers read.
#[derive(Debug, Serialize)]
pub struct DecodeReport {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckReport>,
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

impl DecodeReport {
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
pub fn report<P: Into<check::Rules>>(
    parts: TokenParts,
    key: Option<&VerifyingKey>,
    now: u64,
    expected_audience: Option<&str>,
    token_url: Option<&str>,
    profile: Option<P>,
) -> DecodeReport {
    let verification = key.map(|key| verification(&parts, key, now, expected_audience));
    // The tenant's token endpoint (--tenant) is the audience an OAuth assertion must name.
    let check = profile.map(|profile| {
        check::evaluate(
            profile,
            &parts.header,
            &parts.payload,
            now,
            token_url.or(expected_audience),
        )
    });
    DecodeReport {
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
            .map_or("not present".to_owned(), Value::to_string);
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
    if let Some(nbf) = nbf.filter(|nbf| not_yet_valid(*nbf as f64, now)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qlik::rules::CLOCK_SKEW;
    use serde_json::json;

    use crate::times::EXAMPLE_NOW as NOW;

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
        let report = report(parts, None, NOW, None, None, None::<check::Rules>);
        assert!(report.verification.is_none() && report.check.is_none());
        assert_eq!(report.failure(), None);
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            json!({"header": {}, "payload": {"exp": 1}})
        );
    }
}
