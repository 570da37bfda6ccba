//! The header and payload of each token kind, built from the parsed options and a given `now`.
//! Nothing here reads a clock, a key or the environment, so every rule is unit-tested.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cli::{CreateQscloudArgs, CreateQseowArgs, UserArgs};
use crate::error::UserError;
use crate::expires::expires_at;

/// The only audience Qlik Cloud's `POST /login/jwt-session` accepts.
pub const QLIK_CLOUD_AUDIENCE: &str = "qlik.api/login/jwt-session";

/// Qlik Cloud rejects a token whose `exp` is more than this many seconds after its `nbf`.
pub const QLIK_CLOUD_MAX_VALIDITY: u64 = 3_600;

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
    let value = match serde_json::from_str::<Value>(raw) {
        // An integer too big for 64 bits would come back as a rounded float; an id such as
        // 12345678901234567890123 must stay what the user typed.
        Ok(Value::Number(n)) if n.is_f64() && !raw.contains(['.', 'e', 'E']) => {
            Value::String(raw.to_owned())
        }
        Ok(value) => value,
        Err(_) => Value::String(raw.to_owned()),
    };
    Ok(ExtraClaim {
        name: name.to_owned(),
        value,
    })
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
pub fn qseow_claims(args: &CreateQseowArgs, now: u64) -> Result<QseowClaims, UserError> {
    let user = &args.user;
    Ok(QseowClaims {
        user_id: args.userid.clone(),
        user_directory: args.userdir.clone(),
        name: user.username.clone(),
        email: user.useremail.clone(),
        group: groups(user),
        iat: now,
        exp: expiry(now, user.expires)?,
        aud: args.audience.clone(),
        extra: extra_claims(&user.claim, QSEOW_CLAIMS)?,
    })
}

/// The payload of a Qlik Cloud token issued at `now`. `random_id` supplies the `jti` and, when
/// `--sub` is absent, the subject: a fresh URL-safe value of at least 128 bits each call.
pub fn qscloud_claims(
    args: &CreateQscloudArgs,
    now: u64,
    random_id: &mut dyn FnMut() -> String,
) -> Result<QscloudClaims, UserError> {
    let user = &args.user;
    let email_verified = match (&user.useremail, args.useremail_verified) {
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
        sub: args.sub.clone().unwrap_or_else(&mut *random_id),
        sub_type: "user",
        name: user.username.clone(),
        email: user.useremail.clone(),
        email_verified,
        groups: groups(user),
        iat: now,
        nbf: now,
        exp: expiry(now, user.expires)?,
        aud: QLIK_CLOUD_AUDIENCE,
        iss: args.issuer.clone(),
        extra: extra_claims(&user.claim, QSCLOUD_CLAIMS)?,
    })
}

/// `--groups` in the order given, exact duplicates dropped; `None` when there are none, so the
/// claim is left out rather than written as an empty list.
fn groups(user: &UserArgs) -> Option<Vec<String>> {
    // A set beside the list: linear in the number of groups (a list search was quadratic:
    // 170,000 groups took 39 s).
    let mut seen = std::collections::HashSet::with_capacity(user.groups.len());
    let groups: Vec<String> = user
        .groups
        .iter()
        .filter(|group| seen.insert(group.as_str()))
        .cloned()
        .collect();
    (!groups.is_empty()).then_some(groups)
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
    use crate::cli::{Command, try_parse_from};
    use serde_json::json;

    const NOW: u64 = 1_795_000_000;

    fn qseow(extra: &[&str]) -> CreateQseowArgs {
        let base = [
            "qs-jwt",
            "create-qseow",
            "--userdir",
            "DIR",
            "--userid",
            "anna",
        ];
        let args = base
            .iter()
            .chain(&["--audience", "aud", "--expires", "60m"])
            .chain(extra);
        match try_parse_from(args).unwrap().command {
            Command::CreateQseow(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    fn qscloud(extra: &[&str]) -> CreateQscloudArgs {
        let base = [
            "qs-jwt",
            "create-qscloud",
            "--issuer",
            "iss",
            "--keyid",
            "kid",
        ];
        let args = base.iter().chain(&["--expires", "30m"]).chain(extra);
        match try_parse_from(args).unwrap().command {
            Command::CreateQscloud(args) => args,
            other => panic!("parsed as {other:?}"),
        }
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
        let args = qseow(&[
            "--username",
            "Anna Anderson",
            "--useremail",
            "anna@grusgrus.com",
            "--groups",
            "group1",
            "group 2",
            "--claim",
            "dept=sales",
        ]);
        let claims = qseow_claims(&args, NOW).unwrap();
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
        let value = serde_json::to_value(qseow_claims(&qseow(&[]), NOW).unwrap()).unwrap();
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
        let args = qscloud(&[
            "--sub",
            "anna",
            "--username",
            "Anna",
            "--useremail",
            "a@b.c",
            "--useremail-verified",
            "TRUE",
            "--groups",
            "g1",
            "g2",
            "--claim",
            "level=3",
        ]);
        let claims = qscloud_claims(&args, NOW, &mut counter()).unwrap();
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
        let claims = qscloud_claims(&qscloud(&[]), NOW, &mut counter()).unwrap();
        assert_eq!((claims.jti.as_str(), claims.sub.as_str()), ("id1", "id2"));
    }

    #[test]
    fn qscloud_email_needs_verified_flag() {
        let err =
            qscloud_claims(&qscloud(&["--useremail", "a@b.c"]), NOW, &mut counter()).unwrap_err();
        assert!(err.is_usage());
        assert!(err.to_string().contains("--useremail-verified"), "{err}");
    }

    #[test]
    fn qscloud_verified_flag_without_email_writes_nothing() {
        let args = qscloud(&["--useremail-verified", "true"]);
        let claims = qscloud_claims(&args, NOW, &mut counter()).unwrap();
        assert_eq!(claims.email_verified, None);
    }

    #[test]
    fn qscloud_email_verified_false_is_a_boolean() {
        let args = qscloud(&["--useremail", "a@b.c", "--useremail-verified", "false"]);
        let value =
            serde_json::to_value(qscloud_claims(&args, NOW, &mut counter()).unwrap()).unwrap();
        assert_eq!(value["email_verified"], json!(false));
    }

    /// What create-qscloud warns about: the rules of decode --check qscloud that fail.
    fn cloud_check(claims: &QscloudClaims) -> crate::check::Report {
        let header = serde_json::to_value(qscloud_header("kid")).unwrap();
        let payload = serde_json::to_value(claims).unwrap();
        crate::check::check(
            crate::check::Profile::Qscloud,
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
        let mut args = qscloud(&[]);
        args.user.expires = Duration::from_secs(365 * 86_400);
        let claims = qscloud_claims(&args, NOW, &mut counter()).unwrap();
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
        assert_eq!(validity.fix, Some("use --expires 60m or less"));
    }

    #[test]
    fn qscloud_allows_exactly_one_hour() {
        let mut args = qscloud(&[
            "--username",
            "A",
            "--useremail",
            "a@b.c",
            "--useremail-verified",
            "true",
        ]);
        args.user.expires = Duration::from_secs(3_600);
        let claims = qscloud_claims(&args, NOW, &mut counter()).unwrap();
        assert!(failed_rules(&claims).is_empty());
        args.user.expires = Duration::from_secs(3_601);
        let claims = qscloud_claims(&args, NOW, &mut counter()).unwrap();
        assert_eq!(failed_rules(&claims), ["exp - nbf is at most 3600 seconds"]);
    }

    #[test]
    fn groups_keep_order_and_drop_exact_duplicates() {
        let args = qseow(&["--groups", "b", "a", "b", "--groups", "A", "a", "c"]);
        assert_eq!(
            groups(&args.user),
            Some(vec!["b".into(), "a".into(), "A".into(), "c".into()])
        );
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
            let err = qseow_claims(&qseow(&["--claim", &format!("{name}=x")]), NOW).unwrap_err();
            assert!(err.is_usage() && err.to_string().contains(name), "{err}");
        }
        for name in QSCLOUD_CLAIMS {
            let args = qscloud(&["--claim", &format!("{name}=x")]);
            let err = qscloud_claims(&args, NOW, &mut counter()).unwrap_err();
            assert!(err.is_usage() && err.to_string().contains(name), "{err}");
        }
        // A claim one command sets is free in the other.
        assert!(qseow_claims(&qseow(&["--claim", "sub=x"]), NOW).is_ok());
    }

    #[test]
    fn claim_given_twice_is_refused() {
        let err = qseow_claims(&qseow(&["--claim", "a=1", "--claim", "a=2"]), NOW).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }

    #[test]
    fn expiry_past_9999_is_a_usage_error() {
        let mut args = qseow(&[]);
        args.user.expires = Duration::from_secs(8_000 * 31_557_600);
        let err = qseow_claims(&args, NOW).unwrap_err();
        assert!(err.is_usage() && err.to_string().contains("9999"), "{err}");
    }
}
