//! What a login found, and how it is shown: the verdict, the user, Qlik's own error and a hint
//! for its known causes. Pure: built from the server's answers, rendered for people (every byte
//! from the server escaped) or as one JSON object.

use serde::Serialize;
use serde_json::Value;

use crate::commands::prove::EngineReport;
use crate::qlik::check::RuleResult;
use crate::qlik::rules::{
    Profile, QLIK_CLOUD_AUDIENCE, QSEOW_USER_DIRECTORY_CLAIM, QSEOW_USER_ID_CLAIM,
};
use crate::qlik::{cloud, qseow};
use crate::render::{json_for_people, redacted};

/// The outcome of one login, and `--output json`'s object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginReport {
    /// Whether the server accepted the token and made a session.
    pub accepted: bool,
    /// The HTTP status of the login request.
    pub status: u16,
    /// Where the token went: the tenant, or the virtual proxy.
    pub server: String,
    /// The user the server says the session is for, when it said so.
    pub user: Option<User>,
    /// The names of the cookies the server set (never their values).
    pub cookies: Vec<String>,
    /// What became of the session: ended before exit (a probe leaves none behind), kept (a
    /// cookie jar asked for it), or left open (ending it failed); none without a session.
    pub session: Option<SessionEnd>,
    /// The engine proof: each step, the engine's version, the first step that failed.
    pub engine: Option<EngineReport>,
    pub error: Option<LoginError>,
    /// An OAuth access token was proven (`--access-token-file`): no JWT login, no session.
    #[serde(skip)]
    pub access_token: bool,
}

/// What became of a login's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SessionEnd {
    Ended,
    Kept,
    LeftOpen,
}

impl LoginReport {
    /// The report of a login request that got `status` from `server`: not accepted until the
    /// session is taken.
    pub fn new(status: u16, server: String) -> Self {
        Self {
            accepted: false,
            status,
            server,
            user: None,
            cookies: Vec::new(),
            session: None,
            engine: None,
            error: None,
            access_token: false,
        }
    }
}

/// A session's user, as Qlik Cloud's `/api/v1/users/me` or QSEoW's `/qps/user` tells it: each
/// field only when the server gave it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_directory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// Why the token was not accepted: Qlik's own error where it gave one, and a hint.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginError {
    pub status: u16,
    pub code: Option<String>,
    pub title: Option<String>,
    pub detail: Option<String>,
    /// Qlik Cloud's trace id, for Qlik's support.
    pub trace_id: Option<String>,
    /// Where a redirect pointed; redirects are never followed.
    pub location: Option<String>,
    /// A 429's Retry-After, as the server wrote it.
    pub retry_after: Option<String>,
    pub hint: Option<String>,
}

impl From<cloud::Me> for User {
    fn from(me: cloud::Me) -> Self {
        Self {
            name: me.name,
            email: me.email,
            subject: me.subject,
            id: me.id,
            status: me.status,
            groups: me.groups,
            ..Self::default()
        }
    }
}

impl From<qseow::QpsUser> for User {
    fn from(user: qseow::QpsUser) -> Self {
        Self {
            name: user.name,
            user_directory: user.user_directory,
            user_id: user.user_id,
            ..Self::default()
        }
    }
}

impl LoginError {
    /// Qlik's error body (`cloud::ErrorBody`): the first error. Another body (an HTML page, a
    /// proxy's text) gives only the status.
    pub fn from_body(status: u16, body: &[u8]) -> Self {
        let body = cloud::ErrorBody::parse(body);
        Self {
            status,
            code: body.code,
            title: body.title,
            detail: body.detail,
            trace_id: body.trace_id,
            ..Self::default()
        }
    }

    /// Qlik's words in one line: `INTERNAL-TOKEN-1 Invalid token request: <detail>`.
    fn qlik_says(&self) -> Option<String> {
        let words: Vec<&str> = [self.code.as_deref(), self.title.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let head = words.join(" ");
        match (&self.detail, head.is_empty()) {
            (Some(detail), true) => Some(detail.clone()),
            (Some(detail), false) => Some(format!("{head}: {detail}")),
            (None, false) => Some(head),
            (None, true) => None,
        }
    }
}

/// What qs-jwt found wrong with the token before sending it: the failing `--check` rules, and
/// the expiry, which the rules leave to the verifier.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreCheck {
    pub failures: Vec<RuleResult>,
    /// "the token expired at 2026-11-18T10:06:40Z, 1h ago", when it did.
    pub expired: Option<String>,
    /// What [`made_for_other_platform`] says, when the token was made for the other one.
    pub other_platform: Option<String>,
}

/// One line saying that the token was made for the other platform, and what to do: a
/// create-qseow token (userId, userDirectory, no sub) sent to Qlik Cloud, or a create-qscloud
/// token (subType, or Qlik Cloud's audience, and no userId) sent to a virtual proxy. None
/// when the token is of the platform it goes to, or of neither.
pub fn made_for_other_platform(
    profile: Profile,
    payload: &serde_json::Map<String, Value>,
) -> Option<String> {
    let has = |name: &str| payload.contains_key(name);
    match profile {
        Profile::Qscloud
            if (has(QSEOW_USER_ID_CLAIM) || has(QSEOW_USER_DIRECTORY_CLAIM))
                && !has("sub")
                && !has("subType") =>
        {
            Some(
                "this token was made for QSEoW (it has userId and userDirectory, no sub), not for \
                 Qlik Cloud: make one with create-qscloud, or send this one with login-qseow \
                 --server <URL>"
                    .to_owned(),
            )
        }
        Profile::Qseow if !has(QSEOW_USER_ID_CLAIM) => {
            let cloud_audience = match payload.get("aud") {
                Some(Value::String(aud)) => aud == QLIK_CLOUD_AUDIENCE,
                Some(Value::Array(auds)) => auds
                    .iter()
                    .any(|aud| aud.as_str() == Some(QLIK_CLOUD_AUDIENCE)),
                _ => false,
            };
            (has("subType") || cloud_audience).then(|| {
                "this token was made for Qlik Cloud (it has subType or Qlik Cloud's audience, no \
                 userId), not for QSEoW: make one with create-qseow, or send this one with \
                 login-qscloud --tenant <tenant>"
                    .to_owned()
            })
        }
        _ => None,
    }
}

/// A hint for a token Qlik Cloud refused, from what happened: Qlik's words where they name a
/// cause (the texts Qlik publishes are few: "JWT_LOGIN_VALIDATIONS Missing required claim:
/// nbf"), the status, else what the pre-check found, else the list of what Qlik Cloud checks.
/// Each cause has its own hint; the most specific words are read first (an inactive provider
/// before a key ID, a missing claim before the claim's own rule).
pub fn qscloud_hint(error: &LoginError, pre: &PreCheck) -> String {
    if let Some(other) = &pre.other_platform {
        return other.clone();
    }
    let said = [
        error.code.as_deref(),
        error.title.as_deref(),
        error.detail.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
    .to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| said.contains(w));
    let decode = "qs-jwt decode --check qscloud --cert-publickey-file <the IdP's certificate> \
                  shows each rule";
    if has(&["not active", "inactive", "no active", "disabled"]) {
        return "no active JWT identity provider on the tenant has the token's issuer and key ID: \
                the one made for them may be inactive (turn it on in the Management Console, \
                Identity providers, or with setup-qscloud --apply), or iss and kid differ from \
                its issuer and key ID"
            .to_owned();
    }
    if has(&["missing required claim", "missing claim", "claim missing"]) {
        let claim = said
            .rsplit_once("claim:")
            .map(|(_, name)| name.trim().trim_end_matches('.'))
            .filter(|name| !name.is_empty() && !name.contains(' '));
        let which = match claim {
            Some(name) => format!("the claim {name}, which Qlik Cloud requires"),
            None => "a claim Qlik Cloud requires".to_owned(),
        };
        return format!(
            "the token lacks {which} (Qlik Cloud requires iss, aud, sub, subType, name, email, \
             email_verified, jti, iat, nbf, exp and the header's kid); make it with \
             create-qscloud, which writes them all; {decode}"
        );
    }
    if has(&[
        "jti",
        "replay",
        "already been used",
        "reuse",
        "already used",
    ]) {
        return "Qlik Cloud takes each token once (its jti): make a new token for each login"
            .to_owned();
    }
    if has(&["host"]) && has(&["not allowed", "allowlist", "allow list", "whitelist"]) {
        return "Qlik Cloud does not take logins from this host or origin: add it to the \
                tenant's allowed origins (a web integration in the Management Console), or call \
                the tenant from a host it allows"
            .to_owned();
    }
    if has(&["kid", "key id", "keyid"]) {
        return "Qlik Cloud knows no key with the header's kid: the kid must equal the key ID of \
                the tenant's JWT identity provider; pass that key ID to create-qscloud --keyid"
            .to_owned();
    }
    if has(&["issuer", "iss "]) || said.ends_with("iss") {
        return "the claim iss must equal the issuer of the tenant's JWT identity provider: pass \
                it to create-qscloud --issuer"
            .to_owned();
    }
    if has(&["audience", "aud ", "subtype"]) || said.ends_with("aud") {
        return format!(
            "the claim aud must be {QLIK_CLOUD_AUDIENCE} and subType user, as create-qscloud \
             writes them; {decode}"
        );
    }
    if has(&[
        "signature",
        "signing key",
        "public key",
        "certificate",
        "verify",
    ]) {
        return "the signature does not verify with the identity provider's certificate: sign \
                with the private key of the certificate the JWT identity provider holds"
            .to_owned();
    }
    if has(&[
        "3600",
        "one hour",
        "60 minutes",
        "exceed",
        "lifetime",
        "window",
    ]) {
        return "Qlik Cloud takes tokens valid for an hour at most (exp - nbf <= 3600): use \
                create-qscloud --expires 60m or less"
            .to_owned();
    }
    if has(&["expired", "exp "]) || said.ends_with("exp") {
        return "the token has expired: make a new one".to_owned();
    }
    if has(&["nbf", "not before", "not yet valid", "future", "iat"]) {
        return "the token is not valid yet (nbf or iat in the future): check the clock of the \
                machine that made it"
            .to_owned();
    }
    if let Some(local) = local_hint(pre) {
        return local;
    }
    match error.status {
        403 => "Qlik Cloud knows the user but refuses access: the user may be disabled, or not \
                a member of this tenant"
            .to_owned(),
        404 => "the tenant has no JWT login here: check that --tenant is the Qlik Cloud tenant's \
                host, such as mytenant.eu.qlikcloud.com"
            .to_owned(),
        _ => format!(
            "Qlik Cloud checks that iss and kid equal the JWT identity provider's issuer and key \
             ID, that the signature verifies with its certificate, that jti is new, and that the \
             token is valid now for an hour at most; {decode}"
        ),
    }
}

/// A hint for a token a QSEoW virtual proxy did not take: a 404 (no virtual proxy serves the
/// prefix: not linked to a proxy service, or another prefix), a host the virtual proxy's allow
/// list lacks (said in `body`), else what the pre-check found, else where to look (a 401 gives
/// no reason).
pub fn qseow_hint(status: u16, body: &[u8], pre: &PreCheck) -> String {
    let said = String::from_utf8_lossy(body).to_ascii_lowercase();
    if said.contains("host")
        && ["not allowed", "allowlist", "allow list", "whitelist"]
            .iter()
            .any(|w| said.contains(w))
    {
        return "the virtual proxy does not take requests for this host: add the host of \
                --server to the virtual proxy's host allow list in the QMC (Virtual proxies, \
                Host allow list), or give --server with a host it holds"
            .to_owned();
    }
    if status == 404 {
        return "no virtual proxy serves this prefix: the virtual proxy may not be linked to a \
                proxy service (QMC, Virtual proxies, Associated items, Proxies; setup-qseow \
                --apply links it), or --server's prefix is not its prefix"
            .to_owned();
    }
    if let Some(local) = local_hint(pre) {
        return local;
    }
    if status == 403 {
        return "the proxy took the token but the user may not enter: check the user's access \
                (a license, the security rules) in the QMC"
            .to_owned();
    }
    "the proxy gives no reason; check that the JWT certificate of the virtual proxy matches the \
     signing key, that the token has the claims the proxy's JWT attributes for user ID and user \
     directory name, and that the token has not expired; the proxy's audit log names the reason"
        .to_owned()
}

/// How a login reached the server, as typed: for the doctor's command line.
#[derive(Debug, Clone, Default)]
pub struct Typed<'a> {
    pub cacert: Option<&'a str>,
    pub insecure: bool,
}

impl Typed<'_> {
    fn connection(&self) -> String {
        let mut more = String::new();
        if let Some(cacert) = self.cacert {
            more.push_str(&format!(" --cacert {}", quoted(cacert)));
        }
        if self.insecure {
            more.push_str(" --insecure");
        }
        more
    }
}

fn quoted(value: &str) -> String {
    crate::commands::doctor::quoted(value)
}

/// The doctor that checks what a refused Qlik Cloud login depends on: --tenant and the
/// connection as typed, the issuer and key ID the token names, and a placeholder for the key
/// (which login does not read).
pub fn doctor_qscloud(
    tenant: &str,
    issuer: Option<&str>,
    kid: Option<&str>,
    typed: &Typed<'_>,
) -> String {
    format!(
        "qs-jwt doctor-qscloud --tenant {} --issuer {} --keyid {} --cert-privatekey-file \
         <privatekey.pem>{} (with a tenant admin's API key in QLIK_API_KEY)",
        quoted(tenant.trim()),
        issuer.map_or_else(|| "<issuer>".to_owned(), quoted),
        kid.map_or_else(|| "<keyid>".to_owned(), quoted),
        typed.connection()
    )
}

/// The doctor that checks what a refused QSEoW login depends on: the prefix of --server, the
/// audience the token names, the connection as typed, and placeholders for what the doctor
/// needs and login does not have (the repository, its client certificate, the key).
pub fn doctor_qseow(prefix: &str, audience: Option<&str>, typed: &Typed<'_>) -> String {
    let prefix = prefix.trim_matches('/');
    format!(
        "qs-jwt doctor-qseow --qrs https://<server>:4242 --qrs-cert <client.pem> --qrs-key \
         <client_key.pem> --prefix {} --audience {} --cert-privatekey-file <privatekey.pem>{}",
        if prefix.is_empty() {
            "<prefix>".to_owned()
        } else {
            quoted(prefix)
        },
        audience.map_or_else(|| "<audience>".to_owned(), quoted),
        typed.connection()
    )
}

/// `hint` ended with the doctor to run: every refused login says which (a rate limit aside,
/// where only waiting helps).
pub fn with_doctor(hint: Option<String>, doctor: &str) -> String {
    match hint {
        Some(hint) => format!("{hint}; to check the whole setup, run {doctor}"),
        None => format!("to check the whole setup, run {doctor}"),
    }
}

fn local_hint(pre: &PreCheck) -> Option<String> {
    if let Some(other) = &pre.other_platform {
        return Some(other.clone());
    }
    if let Some(expired) = &pre.expired {
        return Some(format!("{expired}: make a new token"));
    }
    let failure = pre.failures.first()?;
    let fix = failure
        .fix
        .map(|fix| format!("; {}", fix.options))
        .unwrap_or_default();
    Some(format!(
        "the token breaks the rule \"{}\" (seen: {}){fix}",
        failure.rule, failure.detail
    ))
}

/// The one line the user reads when the token was not accepted. `who` is "Qlik Cloud" or "the
/// virtual proxy".
pub fn failure_line(report: &LoginReport, who: &str) -> String {
    let Some(error) = &report.error else {
        return format!("{who} did not accept the token");
    };
    let status = error.status;
    if let Some(location) = &error.location {
        return format!(
            "{who} answered HTTP {status}, a redirect to '{location}', and made no session; \
             qs-jwt does not follow redirects"
        );
    }
    if status == 429 {
        let wait = error
            .retry_after
            .as_ref()
            .map(|after| format!("; Retry-After: {after}"))
            .unwrap_or_default();
        return format!("{who} is rate limiting this client (HTTP 429){wait}");
    }
    // Qlik's trace id is what Qlik's support asks for: in the line, not only in the JSON.
    let trace = error
        .trace_id
        .as_ref()
        .map(|id| format!(" (Qlik's traceId: {id})"))
        .unwrap_or_default();
    match error.qlik_says() {
        Some(said) => format!("{who} rejected the token: HTTP {status}, {said}{trace}"),
        None => format!("{who} rejected the token: HTTP {status}{trace}"),
    }
}

/// The report for people: whether the token was accepted, then the user, a field a line. For a
/// token that was not accepted, the error line says it all (see `failure_line`).
pub fn render_text(report: &LoginReport, who: &str, jar: Option<&str>) -> String {
    let mut lines = vec![format!(
        "Accepted: {who} {} at {} (HTTP {})",
        if report.access_token {
            "took the access token"
        } else {
            "made a session"
        },
        redacted(&report.server),
        report.status
    )];
    // A field Qlik left empty is no line: a label followed by blanks says nothing.
    fn add(lines: &mut Vec<String>, label: &str, value: Option<String>) {
        if let Some(value) = value.filter(|value| !value.trim().is_empty()) {
            lines.push(format!("{label:<16}{}", redacted(&value)));
        }
    }
    let mut field = |label: &str, value: Option<String>| add(&mut lines, label, value);
    match &report.user {
        Some(user) => {
            field("Name:", user.name.clone());
            field("Email:", user.email.clone());
            field("Subject:", user.subject.clone());
            field("User id:", user.id.clone().or_else(|| user.user_id.clone()));
            field("User directory:", user.user_directory.clone());
            field("Status:", user.status.clone());
            // Qlik's list of the user's groups, when it sent one: an empty list is "none".
            field(
                "Groups:",
                user.groups.as_ref().map(|groups| match groups.as_slice() {
                    [] => "none".to_owned(),
                    _ => groups.join(", "),
                }),
            );
        }
        // An access token's user is the engine's (its authenticatedUser step).
        None if report.access_token => {}
        None => field(
            "User:",
            Some("not known (see the warning above)".to_owned()),
        ),
    }
    field(
        "Cookies:",
        (!report.cookies.is_empty()).then(|| report.cookies.join(", ")),
    );
    field("Cookie jar:", jar.map(|path| format!("'{path}'")));
    if let Some(engine) = &report.engine {
        field(
            "Engine:",
            Some(match (&engine.version, engine.proven) {
                (Some(version), true) => format!("proven, engine {version}"),
                (None, true) => "proven".to_owned(),
                (_, false) => format!(
                    "not proven: the step {} failed",
                    engine.failed_step.unwrap_or_default()
                ),
            }),
        );
        if let Some(title) = &engine.app_title {
            field("App:", Some(title.clone()));
        }
    }
    if let Some(engine) = &report.engine {
        lines.extend(engine.text_lines());
    }
    add(
        &mut lines,
        "Session:",
        report.session.map(|end| {
            match end {
                SessionEnd::Ended => "ended (a probe leaves no session behind)",
                SessionEnd::Kept => "kept open, for the cookies to use",
                SessionEnd::LeftOpen => {
                    "left open (see the warning above); it ends when it times out"
                }
            }
            .to_owned()
        }),
    );
    lines.join("\n")
}

/// `--output json`'s object for a login that failed without an answer from Qlik (the server
/// could not be reached, the token could not be read): the keys of a refused login's report,
/// with `status` null, `server` where it is known, and the error's `detail` and `hint`.
pub fn failure_json(server: Option<String>, detail: &str, hint: Option<&str>) -> String {
    let json = serde_json::json!({
        "accepted": false,
        "status": null,
        "server": server,
        "user": null,
        "cookies": [],
        "session": null,
        "engine": null,
        "error": {
            "status": null,
            "code": null,
            "title": null,
            "detail": detail,
            "traceId": null,
            "location": null,
            "retryAfter": null,
            "hint": hint,
        },
    });
    json_for_people(&json, &[])
}

/// `--output json`: one line, safe for a terminal.
pub fn render_json(report: &LoginReport) -> String {
    // A struct of strings, numbers and options always serializes.
    let json = serde_json::to_value(report).unwrap_or_default();
    json_for_people(&json, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rejected(detail: &str) -> LoginError {
        LoginError::from_body(
            401,
            json!({"errors": [{"code": "INTERNAL-TOKEN-1", "title": "Invalid token request",
                   "detail": detail, "status": "401"}], "traceId": "t1"})
            .to_string()
            .as_bytes(),
        )
    }

    #[test]
    fn qlik_errors_are_read_from_their_published_shape() {
        let error = rejected("JWT_LOGIN_VALIDATIONS Missing required claim: nbf");
        assert_eq!(error.code.as_deref(), Some("INTERNAL-TOKEN-1"));
        assert_eq!(error.trace_id.as_deref(), Some("t1"));
        assert_eq!(
            error.qlik_says().unwrap(),
            "INTERNAL-TOKEN-1 Invalid token request: JWT_LOGIN_VALIDATIONS Missing required \
             claim: nbf"
        );
        let html = LoginError::from_body(502, b"<html>bad gateway</html>");
        assert_eq!(html.qlik_says(), None);
        assert_eq!(html.status, 502);
    }

    #[test]
    fn each_known_cause_has_its_hint() {
        let none = PreCheck::default();
        for (detail, expected) in [
            ("Missing required claim: nbf", "lacks the claim nbf"),
            ("jti has already been used", "takes each token once"),
            ("kid does not match", "key ID"),
            ("invalid issuer", "issuer"),
            ("invalid signature", "signature does not verify"),
            ("token lifetime exceeds 3600 seconds", "an hour at most"),
            ("token expired", "has expired"),
            ("token not yet valid (nbf)", "not valid yet"),
        ] {
            let hint = qscloud_hint(&rejected(detail), &none);
            assert!(hint.contains(expected), "{detail}: {hint}");
        }
        let generic = qscloud_hint(&LoginError::from_body(401, b""), &none);
        assert!(generic.contains("decode --check qscloud"), "{generic}");
        let pre = PreCheck {
            expired: Some("the token expired at X".to_owned()),
            ..PreCheck::default()
        };
        assert_eq!(
            qscloud_hint(&LoginError::from_body(401, b""), &pre),
            "the token expired at X: make a new token"
        );
        assert!(qseow_hint(401, b"", &none).contains("audit log"));
        assert!(qseow_hint(403, b"", &none).contains("license"));
    }

    #[test]
    fn a_token_for_the_other_platform_is_named() {
        let map = |v: Value| v.as_object().unwrap().clone();
        let qseow = map(json!({"userId": "anna", "userDirectory": "D", "aud": "a"}));
        let cloud = map(json!({"sub": "anna", "subType": "user", "aud": QLIK_CLOUD_AUDIENCE}));
        let cloud_aud_only = map(json!({"sub": "anna", "aud": [QLIK_CLOUD_AUDIENCE]}));
        assert!(
            made_for_other_platform(Profile::Qscloud, &qseow)
                .unwrap()
                .starts_with("this token was made for QSEoW")
        );
        assert_eq!(made_for_other_platform(Profile::Qscloud, &cloud), None);
        assert!(
            made_for_other_platform(Profile::Qseow, &cloud)
                .unwrap()
                .starts_with("this token was made for Qlik Cloud")
        );
        assert!(made_for_other_platform(Profile::Qseow, &cloud_aud_only).is_some());
        assert_eq!(made_for_other_platform(Profile::Qseow, &qseow), None);
        // A QSEoW proxy may read the user id from sub: that alone is no Qlik Cloud token.
        let sub_only = map(json!({"sub": "anna", "userDirectory": "D", "aud": "a"}));
        assert_eq!(made_for_other_platform(Profile::Qseow, &sub_only), None);
        let pre = PreCheck {
            other_platform: made_for_other_platform(Profile::Qscloud, &qseow),
            ..PreCheck::default()
        };
        let hint = qscloud_hint(&rejected("Missing required claim: sub"), &pre);
        assert!(hint.starts_with("this token was made for QSEoW"), "{hint}");
    }

    #[test]
    fn the_failure_line_names_qliks_trace_id() {
        let report = LoginReport {
            error: Some(rejected("token expired")),
            ..LoginReport::new(401, "https://t".to_owned())
        };
        assert!(
            failure_line(&report, "Qlik Cloud").ends_with("token expired (Qlik's traceId: t1)"),
            "{}",
            failure_line(&report, "Qlik Cloud")
        );
        let report = LoginReport {
            error: Some(LoginError::from_body(401, b"")),
            ..LoginReport::new(401, "https://t".to_owned())
        };
        assert_eq!(
            failure_line(&report, "Qlik Cloud"),
            "Qlik Cloud rejected the token: HTTP 401"
        );
    }

    #[test]
    fn a_failure_without_an_answer_has_the_keys_of_a_refused_login() {
        let refused = LoginReport {
            error: Some(rejected("x")),
            ..LoginReport::new(401, "https://t".to_owned())
        };
        let refused: Value = serde_json::from_str(&render_json(&refused)).unwrap();
        let failed: Value =
            serde_json::from_str(&failure_json(None, "cannot connect", Some("check"))).unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&refused), keys(&failed));
        assert_eq!(keys(&refused["error"]), keys(&failed["error"]));
        assert_eq!(failed["error"]["detail"], "cannot connect");
        assert_eq!(failed["status"], Value::Null);
    }

    #[test]
    fn the_report_escapes_what_the_server_sent() {
        let report = LoginReport {
            accepted: true,
            status: 200,
            server: "https://t".to_owned(),
            user: Some(User {
                name: Some("A\x1b[2J".to_owned()),
                ..User::default()
            }),
            cookies: vec!["eas.sid".to_owned()],
            session: None,
            engine: None,
            error: None,
            access_token: false,
        };
        let text = render_text(&report, "Qlik Cloud", None);
        assert!(text.contains("Name:           A\\x1b[2J"), "{text}");
        let json = render_json(&report);
        assert!(!json.contains('\x1b'), "{json}");
        assert!(json.contains("\"accepted\":true"), "{json}");
    }
}
