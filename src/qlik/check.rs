//! Would Qlik accept this token? Qlik's published rules for each token kind, one function a
//! profile, run over a token's header and payload as JSON. `decode --check` prints the report;
//! `create-qscloud` warns about the rules its own token breaks. Pure: `now` is passed in.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::qlik::cloud::oauth;
use crate::qlik::rules::{
    CLOCK_SKEW, Profile, QLIK_CLOUD_AUDIENCE, QLIK_CLOUD_MAX_VALIDITY, not_yet_valid,
};
use crate::times::span;

/// One rule, whether the token passes it, and the value seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    pub rule: String,
    pub passed: bool,
    pub detail: String,
    /// How to fix it; for create's warnings, not part of the JSON.
    #[serde(skip)]
    pub fix: Option<Fix>,
}

/// How to fix a failed rule, said twice: with create's options for one user, and with the
/// columns of a `--users` file, where those options are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fix {
    pub options: &'static str,
    pub users_file: &'static str,
}

impl Fix {
    /// A fix that reads the same for one user and for a users file.
    const fn same(text: &'static str) -> Self {
        Self {
            options: text,
            users_file: text,
        }
    }
}

/// The sets of rules `--check` knows: a token of each kind of Qlik (`Profile`), and a Qlik
/// Cloud OAuth client assertion, which is no login token and so no profile of create's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rules {
    Qseow,
    Qscloud,
    QscloudOauth,
}

impl Rules {
    pub fn name(self) -> &'static str {
        match self {
            Rules::Qseow => "qseow",
            Rules::Qscloud => "qscloud",
            Rules::QscloudOauth => "qscloud-oauth",
        }
    }
}

impl From<Profile> for Rules {
    fn from(profile: Profile) -> Self {
        match profile {
            Profile::Qseow => Rules::Qseow,
            Profile::Qscloud => Rules::Qscloud,
        }
    }
}

/// Every rule of a profile, run over one token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub profile: Rules,
    pub passed: bool,
    pub rules: Vec<RuleResult>,
}

impl CheckReport {
    pub fn failures(&self) -> impl Iterator<Item = &RuleResult> {
        self.rules.iter().filter(|r| !r.passed)
    }
}

/// Runs every rule of `profile`. `expected_audience` (decode's --expected-audience) tightens
/// QSEoW's audience rule from "present" to "equal to".
pub fn evaluate(
    profile: impl Into<Rules>,
    header: &Map<String, Value>,
    payload: &Map<String, Value>,
    now: u64,
    expected_audience: Option<&str>,
) -> CheckReport {
    let profile = profile.into();
    let rules = match profile {
        Rules::Qscloud => qscloud_rules(header, payload, now),
        Rules::Qseow => qseow_rules(header, payload, expected_audience),
        Rules::QscloudOauth => qscloud_oauth_rules(header, payload, now, expected_audience),
    };
    CheckReport {
        profile,
        passed: rules.iter().all(|r| r.passed),
        rules,
    }
}

fn qscloud_rules(
    header: &Map<String, Value>,
    payload: &Map<String, Value>,
    now: u64,
) -> Vec<RuleResult> {
    let claim = |name: &str| payload.get(name);
    vec![
        rule("alg is RS256", header.get("alg"), |v| {
            v.as_str() == Some("RS256")
        }),
        rule("kid is present", header.get("kid"), present),
        rule("iss is present", claim("iss"), present),
        rule(
            &format!("aud is {QLIK_CLOUD_AUDIENCE}"),
            claim("aud"),
            |v| v.as_str() == Some(QLIK_CLOUD_AUDIENCE),
        ),
        rule("sub is a non-empty string", claim("sub"), non_empty_string),
        rule("subType is user", claim("subType"), |v| {
            v.as_str() == Some("user")
        }),
        rule("jti is present", claim("jti"), present),
        rule("iat is a number", claim("iat"), Value::is_number),
        rule("nbf is a number", claim("nbf"), Value::is_number),
        rule("exp is a number", claim("exp"), Value::is_number),
        validity_rule(claim("nbf"), claim("exp")),
        not_before_rule(claim("nbf"), now),
        optional_rule(
            "email_verified is a boolean when present",
            claim("email_verified"),
            Value::is_boolean,
        ),
        optional_rule(
            "groups is an array of strings when present",
            claim("groups"),
            strings,
        ),
        rule("name is present", claim("name"), present).fix(Fix {
            options: "add --username <name>",
            users_file: "fill column name",
        }),
        rule("email is present", claim("email"), present).fix(Fix {
            options: "add --useremail <email> --useremail-verified true",
            users_file: "fill columns email and email_verified",
        }),
    ]
}

fn qseow_rules(
    header: &Map<String, Value>,
    payload: &Map<String, Value>,
    expected_audience: Option<&str>,
) -> Vec<RuleResult> {
    let claim = |name: &str| payload.get(name);
    let audience = match expected_audience {
        Some(expected) => rule(&format!("aud is {expected}"), claim("aud"), |v| {
            audience_matches(v, expected)
        }),
        None => rule("aud is present", claim("aud"), present),
    };
    vec![
        rule("alg is RS256, RS384 or RS512", header.get("alg"), |v| {
            matches!(v.as_str(), Some("RS256" | "RS384" | "RS512"))
        }),
        audience,
        rule(
            "userId is a non-empty string",
            claim("userId"),
            non_empty_string,
        ),
        rule(
            "userDirectory is a non-empty string",
            claim("userDirectory"),
            non_empty_string,
        ),
        rule("exp is present", claim("exp"), present),
        optional_rule(
            "group is an array of strings when present",
            claim("group"),
            strings,
        ),
    ]
}

/// A client assertion for Qlik Cloud's `POST /oauth/token` (private key JWT), by the rules of
/// qlik.dev's "Private Key JWT reference" (see `qlik::cloud::oauth`). `expected_audience` tightens the
/// audience rule from "a token endpoint URL" to "this URL".
fn qscloud_oauth_rules(
    header: &Map<String, Value>,
    payload: &Map<String, Value>,
    now: u64,
    expected_audience: Option<&str>,
) -> Vec<RuleResult> {
    let claim = |name: &str| payload.get(name);
    let audience = match expected_audience {
        Some(expected) => rule(&format!("aud is {expected}"), claim("aud"), |v| {
            v.as_str() == Some(expected)
        }),
        None => rule(
            &format!(
                "aud is a tenant's token endpoint, https://<tenant>{}",
                oauth::TOKEN_PATH
            ),
            claim("aud"),
            |v| v.as_str().is_some_and(oauth::is_token_url),
        ),
    }
    .fix(Fix::same(
        "the audience is the tenant's https://<tenant>/oauth/token exactly: the host in lower \
         case, no port 443, no path before /oauth/token, no trailing slash",
    ));
    let iss = claim("iss");
    let lifetime = match (
        claim("iat").and_then(Value::as_f64),
        claim("exp").and_then(Value::as_f64),
    ) {
        (Some(iat), Some(exp)) => (exp - iat, format!("{} seconds", exp - iat)),
        _ => (f64::NAN, "iat or exp is not a number".to_owned()),
    };
    let max = oauth::MAX_ASSERTION_LIFETIME;
    let mut rules = vec![
        rule(
            &format!("alg is {}", oauth::ASSERTION_ALGORITHMS.join(", ")),
            header.get("alg"),
            |v| {
                v.as_str()
                    .is_some_and(|alg| oauth::ASSERTION_ALGORITHMS.contains(&alg))
            },
        ),
        rule("kid is present", header.get("kid"), present),
        rule(
            "iss (the client ID) is a non-empty string",
            iss,
            non_empty_string,
        ),
        rule("sub is the same as iss", claim("sub"), |v| {
            non_empty_string(v) && Some(v) == iss
        }),
        audience,
        rule("jti is a UUID", claim("jti"), |v| {
            v.as_str().is_some_and(oauth::is_uuid)
        }),
        rule("iat is a number", claim("iat"), Value::is_number),
        rule("exp is a number", claim("exp"), Value::is_number),
        RuleResult {
            rule: format!("exp is after iat, at most {max} seconds"),
            passed: lifetime.0 > 0.0 && lifetime.0 <= max as f64,
            detail: lifetime.1,
            fix: None,
        },
    ];
    let iat = claim("iat").and_then(Value::as_f64);
    rules.push(RuleResult {
        rule: "iat is not in the future".to_owned(),
        passed: iat.is_some_and(|iat| !not_yet_valid(iat, now)),
        detail: seen(claim("iat")),
        fix: Some(Fix::same(
            "check the clock of the machine that made the assertion",
        )),
    });
    rules.push(rule("exp is not past", claim("exp"), |v| {
        v.as_f64().is_some_and(|exp| exp > now as f64)
    }));
    rules
}

/// `aud` may be one string or an array of them (RFC 7519, 4.1.3).
pub fn audience_matches(aud: &Value, expected: &str) -> bool {
    match aud {
        Value::String(aud) => aud == expected,
        Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(expected)),
        _ => false,
    }
}

impl RuleResult {
    /// A failed rule as create's and login's warnings say it: the rule, the value seen, and the
    /// fix when there is one.
    pub fn failure_text(&self) -> String {
        self.failure_text_with(self.fix.map(|fix| fix.options))
    }

    /// The same, with the fix said in the columns of a `--users` file.
    pub fn failure_text_for_users_file(&self) -> String {
        self.failure_text_with(self.fix.map(|fix| fix.users_file))
    }

    fn failure_text_with(&self, fix: Option<&str>) -> String {
        let fix = fix.map(|fix| format!("; {fix}")).unwrap_or_default();
        format!(
            "the rule \"{}\" fails (seen: {}){fix}",
            self.rule, self.detail
        )
    }

    fn fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }
}

fn rule(name: &str, value: Option<&Value>, test: impl Fn(&Value) -> bool) -> RuleResult {
    RuleResult {
        rule: name.to_owned(),
        passed: value.is_some_and(test),
        detail: seen(value),
        fix: None,
    }
}

fn optional_rule(name: &str, value: Option<&Value>, test: impl Fn(&Value) -> bool) -> RuleResult {
    RuleResult {
        rule: name.to_owned(),
        passed: value.is_none_or(test),
        detail: seen(value),
        fix: None,
    }
}

fn validity_rule(nbf: Option<&Value>, exp: Option<&Value>) -> RuleResult {
    let name = format!("exp - nbf is at most {QLIK_CLOUD_MAX_VALIDITY} seconds");
    let (passed, detail) = match (nbf.and_then(Value::as_f64), exp.and_then(Value::as_f64)) {
        (Some(nbf), Some(exp)) => {
            let seconds = exp - nbf;
            let shown = if seconds.is_finite() && seconds >= 0.0 {
                let whole = seconds.trunc() as u64;
                format!("{whole} seconds ({})", span(whole))
            } else {
                format!("{seconds} seconds")
            };
            (seconds <= QLIK_CLOUD_MAX_VALIDITY as f64, shown)
        }
        _ => (false, "nbf or exp is not a number".to_owned()),
    };
    RuleResult {
        rule: name,
        passed,
        detail,
        fix: Some(Fix::same("use --expires 60m or less")),
    }
}

fn not_before_rule(nbf: Option<&Value>, now: u64) -> RuleResult {
    let name = "nbf is not in the future".to_owned();
    let (passed, detail) = match nbf.and_then(Value::as_f64) {
        Some(nbf) if !not_yet_valid(nbf, now) => (true, format!("{nbf}")),
        Some(nbf) => {
            let ahead = (nbf - now as f64).min(u64::MAX as f64) as u64;
            (
                false,
                format!(
                    "{nbf}, {} from now (more than {CLOCK_SKEW}s of clock skew)",
                    span(ahead)
                ),
            )
        }
        None => (false, "nbf is not a number".to_owned()),
    };
    RuleResult {
        rule: name,
        passed,
        detail,
        fix: Some(Fix::same(
            "check the clock of the machine that made the token",
        )),
    }
}

/// Present means there and not null; an empty string is as good as missing to Qlik.
fn present(value: &Value) -> bool {
    !value.is_null() && value.as_str() != Some("")
}

fn non_empty_string(value: &Value) -> bool {
    value.as_str().is_some_and(|s| !s.is_empty())
}

fn strings(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.iter().all(Value::is_string))
}

/// The value as the report shows it: JSON, cut short when long.
fn seen(value: Option<&Value>) -> String {
    const MAX: usize = 80;
    let Some(value) = value else {
        return "not present".to_owned();
    };
    let text = value.to_string();
    if text.chars().count() <= MAX {
        return text;
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::times::EXAMPLE_NOW as NOW;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(object) => object,
            other => panic!("not an object: {other}"),
        }
    }

    fn failed(profile: Profile, header: Value, payload: Value, aud: Option<&str>) -> Vec<String> {
        evaluate(profile, &object(header), &object(payload), NOW, aud)
            .failures()
            .map(|r| r.rule.clone())
            .collect()
    }

    fn cloud_payload() -> Value {
        json!({
            "jti": 17111234567_u64, "iss": "t.eu.qlikcloud.com", "aud": QLIK_CLOUD_AUDIENCE,
            "sub": "user1", "subType": "user", "iat": NOW, "nbf": NOW, "exp": NOW + 3_600,
            "name": "John Doe", "email": "j@d.com", "email_verified": true
        })
    }

    fn cloud_header() -> Value {
        json!({"typ": "JWT", "alg": "RS256", "kid": "k"})
    }

    #[test]
    fn qlik_clouds_own_example_passes_every_rule() {
        let report = evaluate(
            Profile::Qscloud,
            &object(cloud_header()),
            &object(cloud_payload()),
            NOW,
            None,
        );
        assert!(report.passed, "{report:#?}");
        assert_eq!(report.rules.len(), 16);
    }

    #[test]
    fn each_qscloud_rule_fails_on_its_own() {
        let cases: [(&str, Value, &str); 10] = [
            (
                "aud",
                json!("qlik.api"),
                "aud is qlik.api/login/jwt-session",
            ),
            ("sub", json!(""), "sub is a non-empty string"),
            ("subType", json!("group"), "subType is user"),
            ("iat", json!("now"), "iat is a number"),
            (
                "exp",
                json!(NOW + 3_601),
                "exp - nbf is at most 3600 seconds",
            ),
            (
                "email_verified",
                json!("true"),
                "email_verified is a boolean when present",
            ),
            (
                "groups",
                json!(["a", 1]),
                "groups is an array of strings when present",
            ),
            (
                "groups",
                json!("a"),
                "groups is an array of strings when present",
            ),
            ("name", Value::Null, "name is present"),
            ("iss", json!(""), "iss is present"),
        ];
        for (claim, value, rule) in cases {
            let mut payload = cloud_payload();
            payload[claim] = value;
            assert_eq!(
                failed(Profile::Qscloud, cloud_header(), payload, None),
                [rule],
                "{claim}"
            );
        }
        let mut header = cloud_header();
        header["alg"] = json!("RS512");
        assert_eq!(
            failed(Profile::Qscloud, header, cloud_payload(), None),
            ["alg is RS256"]
        );
    }

    #[test]
    fn nbf_may_be_ahead_by_the_clock_skew_only() {
        for (ahead, passes) in [(0, true), (CLOCK_SKEW, true), (CLOCK_SKEW + 1, false)] {
            let mut payload = cloud_payload();
            payload["nbf"] = json!(NOW + ahead);
            payload["exp"] = json!(NOW + ahead + 60);
            let failures = failed(Profile::Qscloud, cloud_header(), payload, None);
            assert_eq!(failures.is_empty(), passes, "{ahead}: {failures:?}");
        }
        let report = evaluate(
            Profile::Qscloud,
            &object(cloud_header()),
            &object(json!({"nbf": NOW + 600})),
            NOW,
            None,
        );
        let rule = report
            .rules
            .iter()
            .find(|r| r.rule == "nbf is not in the future");
        assert_eq!(
            rule.unwrap().detail,
            "1795000600, 10m from now (more than 5s of clock skew)"
        );
    }

    #[test]
    fn qseow_rules_and_the_expected_audience() {
        let header = json!({"alg": "RS384"});
        let payload = json!({"userId": "u", "userDirectory": "D", "exp": NOW, "aud": ["a", "b"], "group": ["g"]});
        assert!(failed(Profile::Qseow, header.clone(), payload.clone(), None).is_empty());
        assert!(failed(Profile::Qseow, header.clone(), payload.clone(), Some("b")).is_empty());
        assert_eq!(
            failed(Profile::Qseow, header.clone(), payload, Some("c")),
            ["aud is c"]
        );
        assert_eq!(
            failed(
                Profile::Qseow,
                json!({"alg": "HS256"}),
                json!({"group": [1]}),
                None
            ),
            [
                "alg is RS256, RS384 or RS512",
                "aud is present",
                "userId is a non-empty string",
                "userDirectory is a non-empty string",
                "exp is present",
                "group is an array of strings when present"
            ]
        );
    }

    #[test]
    fn details_show_the_value_seen_cut_short() {
        let long = "x".repeat(200);
        let report = evaluate(
            Profile::Qseow,
            &object(json!({})),
            &object(json!({"userId": long})),
            NOW,
            None,
        );
        assert_eq!(report.rules[0].detail, "not present");
        assert_eq!(report.rules[2].detail, format!("\"{}...", "x".repeat(79)));
    }
}
