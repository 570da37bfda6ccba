//! The header and payload of each token kind, built from plain inputs and a given `now`.
//! Nothing here reads a clock, a key, the environment or the command line, so every rule is
//! unit-tested with values alone.

use std::collections::HashSet;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::UserError;
use crate::expires::expires_at;
use crate::qlik::rules::{Profile, QLIK_CLOUD_AUDIENCE};

/// Who a token is for and how long it lasts: the same for both token kinds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct User {
    pub name: Option<String>,
    pub email: Option<String>,
    /// In the order given; duplicates are dropped when the claim is written.
    pub groups: Vec<String>,
    pub expires: Duration,
    pub extra: Vec<ExtraClaim>,
}

/// What a QSEoW token says, besides the times.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QseowUser {
    pub user_id: String,
    pub user_directory: String,
    pub audience: String,
    pub user: User,
}

/// What a Qlik Cloud token says, besides the times and the random `jti`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QscloudUser {
    pub issuer: String,
    pub key_id: String,
    /// `None`: a random subject, so a new user for Qlik Cloud each time.
    pub sub: Option<String>,
    pub email_verified: Option<bool>,
    pub user: User,
}

/// One `--claim name=value`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraClaim {
    pub name: String,
    pub value: Value,
}

/// Reads `--claim name=value`. The value is JSON when it parses as JSON, else a string, so
/// `level=3` is a number and `dept=sales` a string without any quoting in the shell.
pub fn parse_claim(text: &str) -> Result<ExtraClaim, String> {
    let (name, raw) = text
        .split_once('=')
        .ok_or("expected name=value, for example --claim department=sales")?;
    let name = name.trim();
    if name.is_empty() {
        return Err(
            "the claim name before '=' is empty; for example --claim department=sales".into(),
        );
    }
    Ok(ExtraClaim {
        name: name.to_owned(),
        value: claim_value(raw),
    })
}

/// A claim's value as `--claim` reads it (and a `claim.<name>` column of a `--users` CSV file):
/// JSON when it parses as JSON, else the text as a string.
pub fn claim_value(raw: &str) -> Value {
    match serde_json::from_str::<Value>(raw) {
        // An integer too big for 64 bits would come back as a rounded float; an id such as
        // 12345678901234567890123 must stay what the user typed.
        Ok(Value::Number(n)) if n.is_f64() && !raw.contains(['.', 'e', 'E']) => {
            Value::String(raw.to_owned())
        }
        Ok(value) => value,
        Err(_) => Value::String(raw.to_owned()),
    }
}

/// The claims a command writes itself, which `--claim` (and a `claim.<name>` column) may not
/// give.
pub fn claims_set_by(profile: Profile) -> &'static [&'static str] {
    match profile {
        Profile::Qseow => QSEOW_CLAIMS,
        Profile::Qscloud => QSCLOUD_CLAIMS,
    }
}

/// The payload of a QSEoW token. `group` keeps that name (not `groups`): virtual proxy
/// attribute mappings and security rules such as `user.environment.group` rely on it.
#[derive(Debug, Serialize)]
pub struct QseowClaims {
    #[serde(rename = "userId")]
    pub user_id: String,
    #[serde(rename = "userDirectory")]
    pub user_directory: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Vec<String>>,
    pub iat: u64,
    pub exp: u64,
    pub aud: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Claims create-qseow writes itself; `--claim` may not replace them.
const QSEOW_CLAIMS: &[&str] = &[
    "userId",
    "userDirectory",
    "name",
    "email",
    "group",
    "iat",
    "exp",
    "aud",
];

/// The payload of a Qlik Cloud token, in the claim names Qlik Cloud reads.
#[derive(Debug, Serialize)]
pub struct QscloudClaims {
    pub jti: String,
    pub sub: String,
    #[serde(rename = "subType")]
    pub sub_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub aud: &'static str,
    pub iss: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Claims create-qscloud writes itself; `--claim` may not replace them.
const QSCLOUD_CLAIMS: &[&str] = &[
    "jti",
    "sub",
    "subType",
    "name",
    "email",
    "email_verified",
    "groups",
    "iat",
    "nbf",
    "exp",
    "aud",
    "iss",
];

pub fn qseow_header() -> Header {
    Header::new(Algorithm::RS256)
}

pub fn qscloud_header(key_id: &str) -> Header {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key_id.to_owned());
    header
}

/// The payload of a QSEoW token issued at `now` (seconds since 1970).
pub fn qseow_claims(input: &QseowUser, now: u64) -> Result<QseowClaims, UserError> {
    let user = &input.user;
    Ok(QseowClaims {
        user_id: input.user_id.clone(),
        user_directory: input.user_directory.clone(),
        name: user.name.clone(),
        email: user.email.clone(),
        group: groups(user),
        iat: now,
        exp: expiry(now, user.expires)?,
        aud: input.audience.clone(),
        extra: extra_claims(&user.extra, QSEOW_CLAIMS)?,
    })
}

/// The payload of a Qlik Cloud token issued at `now`. `random_id` supplies the `jti` and, when
/// `--sub` is absent, the subject: a fresh URL-safe value of at least 128 bits each call.
pub fn qscloud_claims(
    input: &QscloudUser,
    now: u64,
    random_id: &mut dyn FnMut() -> String,
) -> Result<QscloudClaims, UserError> {
    let user = &input.user;
    let email_verified = match (&user.email, input.email_verified) {
        (Some(_), Some(verified)) => Some(verified),
        (Some(_), None) => {
            return Err(UserError::usage(
                "--useremail needs --useremail-verified true|false: Qlik Cloud reads claim \
                 email_verified with every email",
            ));
        }
        // Without an email there is nothing to verify; create.rs warns that it is ignored.
        (None, _) => None,
    };
    Ok(QscloudClaims {
        jti: random_id(),
        sub: input.sub.clone().unwrap_or_else(&mut *random_id),
        sub_type: "user",
        name: user.name.clone(),
        email: user.email.clone(),
        email_verified,
        groups: groups(user),
        iat: now,
        nbf: now,
        exp: expiry(now, user.expires)?,
        aud: QLIK_CLOUD_AUDIENCE,
        iss: input.issuer.clone(),
        extra: extra_claims(&user.extra, QSCLOUD_CLAIMS)?,
    })
}

/// `--groups` in the order given, exact duplicates dropped; `None` when there are none, so the
/// claim is left out rather than written as an empty list.
fn groups(user: &User) -> Option<Vec<String>> {
    // A set beside the list: linear in the number of groups (a list search was quadratic:
    // 170,000 groups took 39 s).
    let mut seen = HashSet::with_capacity(user.groups.len());
    let groups: Vec<String> = user
        .groups
        .iter()
        .filter(|group| seen.insert(group.as_str()))
        .cloned()
        .collect();
    (!groups.is_empty()).then_some(groups)
}

/// What to say of each `--groups` value that looks like several groups run together, as
/// `--groups "group1,group2"` (or `;`, the separator of a `--users` groups cell) gives: one
/// group whose name holds the separator, which the token carries as such. A warning, not an
/// error: a group name may hold a comma. A distinguished name (`CN=Sales,OU=Groups,DC=corp`)
/// is one name, so a value with `=` is left alone.
pub fn group_list_warnings(groups: &[String]) -> Vec<String> {
    groups
        .iter()
        .filter(|group| !group.contains('='))
        .filter_map(|group| {
            let separator = [',', ';'].into_iter().find(|c| group.contains(*c))?;
            let parts: Vec<&str> = group
                .split(separator)
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .collect();
            (parts.len() > 1).then(|| {
                let each: Vec<String> = parts.iter().map(|part| shell_word(part)).collect();
                format!(
                    "--groups {} is one group, whose name holds '{separator}'; for {} groups, \
                     give each as its own value: --groups {} (or repeat --groups)",
                    shell_word(group),
                    parts.len(),
                    each.join(" ")
                )
            })
        })
        .collect()
}

/// A value as a shell word: as it is when bash and PowerShell read it unchanged, else in
/// single quotes (which both read the same way, `'` doubled in PowerShell aside).
fn shell_word(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || "_-./:".contains(c));
    if plain {
        value.to_owned()
    } else {
        crate::render::shell_quoted(value)
    }
}

fn expiry(now: u64, validity: Duration) -> Result<u64, UserError> {
    expires_at(now, validity).map_err(|reason| UserError::usage(format!("--expires: {reason}")))
}

fn extra_claims(claims: &[ExtraClaim], reserved: &[&str]) -> Result<Map<String, Value>, UserError> {
    let mut extra = Map::new();
    for claim in claims {
        if reserved.contains(&claim.name.as_str()) {
            return Err(UserError::usage(format!(
                "--claim {}=...: this command sets claim {} itself; use its own option or \
                 another claim name",
                claim.name, claim.name
            )));
        }
        if extra
            .insert(claim.name.clone(), claim.value.clone())
            .is_some()
        {
            return Err(UserError::usage(format!(
                "--claim {} is given twice; give each claim once",
                claim.name
            )));
        }
    }
    Ok(extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qlik::check::{CheckReport, evaluate};
    use serde_json::json;

    use crate::times::EXAMPLE_NOW as NOW;

    fn user(minutes: u64) -> User {
        User {
            expires: Duration::from_secs(minutes * 60),
            ..User::default()
        }
    }

    /// The QSEoW input of `--userdir DIR --userid anna --audience aud --expires 60m`, changed by
    /// `edit`.
    fn qseow(edit: impl FnOnce(&mut QseowUser)) -> QseowUser {
        let mut input = QseowUser {
            user_id: "anna".into(),
            user_directory: "DIR".into(),
            audience: "aud".into(),
            user: user(60),
        };
        edit(&mut input);
        input
    }

    /// The Qlik Cloud input of `--issuer iss --keyid kid --expires 30m`, changed by `edit`.
    fn qscloud(edit: impl FnOnce(&mut QscloudUser)) -> QscloudUser {
        let mut input = QscloudUser {
            issuer: "iss".into(),
            key_id: "kid".into(),
            user: user(30),
            ..QscloudUser::default()
        };
        edit(&mut input);
        input
    }

    fn claim(text: &str) -> ExtraClaim {
        parse_claim(text).unwrap()
    }

    fn counter() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("id{n}")
        }
    }

    #[test]
    fn qseow_payload_has_every_claim_in_order() {
        let input = qseow(|q| {
            q.user.name = Some("Anna Anderson".into());
            q.user.email = Some("anna@grusgrus.com".into());
            q.user.groups = vec!["group1".into(), "group 2".into()];
            q.user.extra = vec![claim("dept=sales")];
        });
        let claims = qseow_claims(&input, NOW).unwrap();
        let json = serde_json::to_string(&claims).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"userId":"anna","userDirectory":"DIR","name":"Anna Anderson","email":"anna@grusgrus.com","group":["group1","group 2"],"iat":{NOW},"exp":{},"aud":"aud","dept":"sales"}}"#,
                NOW + 3_600
            )
        );
    }

    #[test]
    fn qseow_leaves_out_absent_claims() {
        let value = serde_json::to_value(qseow_claims(&qseow(|_| {}), NOW).unwrap()).unwrap();
        assert_eq!(
            value,
            json!({"userId": "anna", "userDirectory": "DIR", "iat": NOW, "exp": NOW + 3_600, "aud": "aud"})
        );
    }

    #[test]
    fn qseow_header_is_rs256_jwt() {
        let header = serde_json::to_value(qseow_header()).unwrap();
        assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
    }

    #[test]
    fn qscloud_payload_has_every_claim() {
        let input = qscloud(|q| {
            q.sub = Some("anna".into());
            q.user.name = Some("Anna".into());
            q.user.email = Some("a@b.c".into());
            q.email_verified = Some(true);
            q.user.groups = vec!["g1".into(), "g2".into()];
            q.user.extra = vec![claim("level=3")];
        });
        let claims = qscloud_claims(&input, NOW, &mut counter()).unwrap();
        assert_eq!(
            serde_json::to_value(&claims).unwrap(),
            json!({
                "jti": "id1", "sub": "anna", "subType": "user", "name": "Anna", "email": "a@b.c",
                "email_verified": true, "groups": ["g1", "g2"], "iat": NOW, "nbf": NOW,
                "exp": NOW + 1_800, "aud": "qlik.api/login/jwt-session", "iss": "iss", "level": 3
            })
        );
        assert!(cloud_check(&claims).passed);
    }

    #[test]
    fn qscloud_header_carries_the_key_id() {
        let header = serde_json::to_value(qscloud_header("my-kid")).unwrap();
        assert_eq!(
            header,
            json!({"alg": "RS256", "typ": "JWT", "kid": "my-kid"})
        );
    }

    #[test]
    fn qscloud_without_sub_gets_a_random_subject_distinct_from_jti() {
        let claims = qscloud_claims(&qscloud(|_| {}), NOW, &mut counter()).unwrap();
        assert_eq!((claims.jti.as_str(), claims.sub.as_str()), ("id1", "id2"));
    }

    #[test]
    fn qscloud_email_needs_verified_flag() {
        let input = qscloud(|q| q.user.email = Some("a@b.c".into()));
        let err = qscloud_claims(&input, NOW, &mut counter()).unwrap_err();
        assert!(err.is_usage());
        assert!(err.to_string().contains("--useremail-verified"), "{err}");
    }

    #[test]
    fn qscloud_verified_flag_without_email_writes_nothing() {
        let input = qscloud(|q| q.email_verified = Some(true));
        let claims = qscloud_claims(&input, NOW, &mut counter()).unwrap();
        assert_eq!(claims.email_verified, None);
    }

    #[test]
    fn qscloud_email_verified_false_is_a_boolean() {
        let input = qscloud(|q| {
            q.user.email = Some("a@b.c".into());
            q.email_verified = Some(false);
        });
        let value =
            serde_json::to_value(qscloud_claims(&input, NOW, &mut counter()).unwrap()).unwrap();
        assert_eq!(value["email_verified"], json!(false));
    }

    /// What create-qscloud warns about: the rules of decode --check qscloud that fail.
    fn cloud_check(claims: &QscloudClaims) -> CheckReport {
        let header = serde_json::to_value(qscloud_header("kid")).unwrap();
        let payload = serde_json::to_value(claims).unwrap();
        evaluate(
            Profile::Qscloud,
            header.as_object().unwrap(),
            payload.as_object().unwrap(),
            NOW,
            None,
        )
    }

    fn failed_rules(claims: &QscloudClaims) -> Vec<String> {
        cloud_check(claims)
            .failures()
            .map(|r| r.rule.clone())
            .collect()
    }

    #[test]
    fn qscloud_breaks_qlik_cloud_rules_that_create_warns_about() {
        let input = qscloud(|q| q.user.expires = Duration::from_secs(365 * 86_400));
        let claims = qscloud_claims(&input, NOW, &mut counter()).unwrap();
        assert_eq!(
            failed_rules(&claims),
            [
                "exp - nbf is at most 3600 seconds",
                "name is present",
                "email is present"
            ]
        );
        let report = cloud_check(&claims);
        let validity = report.failures().next().unwrap();
        assert_eq!(validity.detail, "31536000 seconds (365d)");
        assert_eq!(
            validity.fix.map(|fix| fix.options),
            Some("use --expires 60m or less")
        );
    }

    #[test]
    fn qscloud_allows_exactly_one_hour() {
        let mut input = qscloud(|q| {
            q.user.name = Some("A".into());
            q.user.email = Some("a@b.c".into());
            q.email_verified = Some(true);
        });
        input.user.expires = Duration::from_secs(3_600);
        let claims = qscloud_claims(&input, NOW, &mut counter()).unwrap();
        assert!(failed_rules(&claims).is_empty());
        input.user.expires = Duration::from_secs(3_601);
        let claims = qscloud_claims(&input, NOW, &mut counter()).unwrap();
        assert_eq!(failed_rules(&claims), ["exp - nbf is at most 3600 seconds"]);
    }

    #[test]
    fn groups_keep_order_and_drop_exact_duplicates() {
        let input = qseow(|q| {
            q.user.groups = ["b", "a", "b", "A", "a", "c"].map(String::from).to_vec();
        });
        assert_eq!(
            groups(&input.user),
            Some(vec!["b".into(), "a".into(), "A".into(), "c".into()])
        );
    }

    #[test]
    fn a_list_in_one_group_is_told_how_to_give_several() {
        let warnings = |groups: &[&str]| {
            group_list_warnings(&groups.iter().map(|g| g.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            warnings(&["group1,group2"]),
            [
                "--groups 'group1,group2' is one group, whose name holds ','; for 2 groups, give \
              each as its own value: --groups group1 group2 (or repeat --groups)"
            ]
        );
        let semicolons = warnings(&["a; group 2 ;c"]);
        assert!(
            semicolons[0].contains("for 3 groups")
                && semicolons[0].contains("--groups a 'group 2' c"),
            "{semicolons:?}"
        );
        // One name, not a list: a distinguished name, a single comma-ended name, plain names.
        assert!(warnings(&["CN=Sales,OU=Groups,DC=corp", "group1,", "g1", "group 2"]).is_empty());
        assert_eq!(warnings(&["a,b", "ok", "c;d"]).len(), 2);
    }

    #[test]
    fn claim_values_are_json_when_they_parse() {
        let cases = [
            ("n=3", json!(3)),
            ("n=-2.5", json!(-2.5)),
            ("b=true", json!(true)),
            ("a=[\"x\",1]", json!(["x", 1])),
            ("o={\"k\":\"v\"}", json!({"k": "v"})),
            ("s=\"3\"", json!("3")),
            ("z=null", json!(null)),
            ("s=sales", json!("sales")),
            ("s=", json!("")),
            ("s=a=b", json!("a=b")),
            ("id=00123", json!("00123")),
            (
                "id=12345678901234567890123",
                json!("12345678901234567890123"),
            ),
            ("big=1e3", json!(1000.0)),
            (" spaced =x", json!("x")),
        ];
        for (text, value) in cases {
            let claim = parse_claim(text).unwrap();
            assert_eq!(claim.value, value, "--claim {text}");
        }
        assert_eq!(parse_claim(" spaced =x").unwrap().name, "spaced");
    }

    #[test]
    fn claim_needs_a_name_and_an_equals_sign() {
        assert!(parse_claim("novalue").unwrap_err().contains("name=value"));
        assert!(parse_claim("=3").unwrap_err().contains("empty"));
    }

    #[test]
    fn claim_cannot_replace_a_command_claim() {
        for name in QSEOW_CLAIMS {
            let input = qseow(|q| q.user.extra = vec![claim(&format!("{name}=x"))]);
            let err = qseow_claims(&input, NOW).unwrap_err();
            assert!(err.is_usage() && err.to_string().contains(name), "{err}");
        }
        for name in QSCLOUD_CLAIMS {
            let input = qscloud(|q| q.user.extra = vec![claim(&format!("{name}=x"))]);
            let err = qscloud_claims(&input, NOW, &mut counter()).unwrap_err();
            assert!(err.is_usage() && err.to_string().contains(name), "{err}");
        }
        // A claim one command sets is free in the other.
        assert!(qseow_claims(&qseow(|q| q.user.extra = vec![claim("sub=x")]), NOW).is_ok());
    }

    #[test]
    fn claim_given_twice_is_refused() {
        let input = qseow(|q| q.user.extra = vec![claim("a=1"), claim("a=2")]);
        let err = qseow_claims(&input, NOW).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }

    #[test]
    fn expiry_past_9999_is_a_usage_error() {
        let input = qseow(|q| q.user.expires = Duration::from_secs(8_000 * 31_557_600));
        let err = qseow_claims(&input, NOW).unwrap_err();
        assert!(err.is_usage() && err.to_string().contains("9999"), "{err}");
    }
}
