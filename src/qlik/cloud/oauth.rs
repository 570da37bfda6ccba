//! Qlik Cloud's OAuth token endpoint as typed requests and replies, and its published rules for
//! a client assertion (private key JWT). Pure: no clap, no network, no clock; `oauth` (the
//! command) does the talking through `http`, and `check` reads the rules.
//!
//! Sources:
//! - qlik.dev, "Private Key JWT reference"
//!   (https://qlik.dev/authenticate/oauth/oauth-private-key-jwt-reference/): RS256, RS512 and
//!   ES384; RSA keys of 2048 bits at least; the assertion's `iss` and `sub` the client ID, `aud`
//!   the token endpoint URL `https://<tenant>/oauth/token` with no trailing slash, a new UUID
//!   `jti` for every request, `iat` now, `exp` at most five minutes later; header `alg` and
//!   `kid` of a key the client holds.
//! - qlik.dev, "Authenticate with Private Key JWT"
//!   (https://qlik.dev/authenticate/oauth/oauth-private-key-jwt/): the key registered as a JWK
//!   in the OAuth client's `publicKeys`, the assertion posted to `POST /oauth/token` with
//!   `client_assertion_type` `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
//! - RFC 7523, section 2.2 (the client assertion parameters) and section 3 (iss, sub, aud, exp,
//!   jti rules); RFC 6749, section 5.2 (the error reply: `error`, `error_description`).
//! - qlik.dev, "Retrieve and use OAuth impersonation tokens"
//!   (https://qlik.dev/authenticate/oauth/implement-oauth-impersonation/) and the changelog
//!   "OAuth machine-to-machine impersonation" (https://qlik.dev/changelog/84-oauth-m2m-impersonation):
//!   the user-impersonation grant for a user who already exists in the tenant, found by
//!   `user_lookup` (by subject or user ID); scope `user_default` (https://qlik.dev/apis/rest/oauth/).
//!   The body's shape, `grant_type` `urn:qlik:oauth:user-impersonation` with `user_lookup`
//!   `{"field": "subject", "value": ...}`, is the fetch example of
//!   https://qlik.dev/examples/authenticate-examples/oauth-m2m-impersonation; the grant's name
//!   also stands in `allowedGrantTypes` in https://qlik.dev/authenticate/oauth/oauth-clients-api.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::secret::SecretText;

/// The token endpoint's path below the tenant.
pub const TOKEN_PATH: &str = "/oauth/token";

/// RFC 7523, 2.2.
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
/// Qlik's grant for a token of an existing user.
pub const GRANT_USER_IMPERSONATION: &str = "urn:qlik:oauth:user-impersonation";

pub const DEFAULT_SCOPE: &str = "user_default";

/// The longest an assertion may live: `exp` at most five minutes after `iat`.
pub const MAX_ASSERTION_LIFETIME: u64 = 300;

/// The algorithms Qlik Cloud takes for an assertion (qs-jwt signs the RSA two).
pub const ASSERTION_ALGORITHMS: [&str; 3] = ["RS256", "RS512", "ES384"];

/// Qlik's minimum RSA key size for an OAuth client's public key.
pub const MIN_RSA_BITS: usize = 2048;

/// The tenant's token endpoint URL, exactly: the assertion's `aud`. `origin` is
/// `https://host[:port]`, without a trailing slash.
pub fn token_endpoint(origin: &str) -> String {
    format!("{}{TOKEN_PATH}", origin.trim_end_matches('/'))
}

/// Whether `aud` is a tenant's token endpoint URL as Qlik compares it: https, a host, no path
/// before `/oauth/token`, and the tenant's canonical origin (host in lower case, no trailing
/// dot, no port 443), which is the only form qs-jwt signs.
pub fn is_token_url(aud: &str) -> bool {
    let Some(origin) = aud.strip_suffix(TOKEN_PATH) else {
        return false;
    };
    if !origin.starts_with("https://") {
        return false;
    }
    crate::http::Server::parse_tenant(origin)
        .is_ok_and(|server| token_endpoint(&server.origin()) == aud)
}

/// The payload of a client assertion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub jti: String,
    pub iat: u64,
    pub exp: u64,
}

/// The assertion of `client_id` for `audience` (the token endpoint URL), made at `now`
/// (seconds since 1970), living the five minutes Qlik allows.
pub fn assertion_claims(client_id: &str, audience: &str, now: u64, jti: String) -> AssertionClaims {
    AssertionClaims {
        iss: client_id.to_owned(),
        sub: client_id.to_owned(),
        aud: audience.to_owned(),
        jti,
        iat: now,
        exp: now.saturating_add(MAX_ASSERTION_LIFETIME),
    }
}

/// `--assertion-only --output json`: the assertion and what a tool that sends it needs to know,
/// one JSON object `{"assertion", "kid", "alg", "jti", "exp", "token_url"}`. The assertion is
/// the product here, as the access token is for a token request.
pub fn assertion_json(
    assertion: &SecretText,
    kid: &str,
    alg: &str,
    claims: &AssertionClaims,
) -> String {
    json!({
        "assertion": assertion.expose(),
        "kid": kid,
        "alg": alg,
        "jti": claims.jti,
        "exp": claims.exp,
        "token_url": claims.aud,
    })
    .to_string()
}

/// A random (version 4) UUID from 16 random bytes, as RFC 9562 writes it.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether `text` is a UUID: 8-4-4-4-12 hexadecimal digits.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

/// How the client proves who it is.
pub enum ClientAuth<'a> {
    /// A signed client assertion (private key JWT).
    Assertion(&'a SecretText),
    /// The client secret.
    Secret(&'a SecretText),
}

/// Whose token: the client's own, or an existing user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant<'a> {
    ClientCredentials,
    /// `user_lookup` by subject.
    ImpersonateSubject(&'a str),
    /// `user_lookup` by Qlik user ID.
    ImpersonateUserId(&'a str),
}

impl Grant<'_> {
    pub fn grant_type(self) -> &'static str {
        match self {
            Grant::ClientCredentials => GRANT_CLIENT_CREDENTIALS,
            _ => GRANT_USER_IMPERSONATION,
        }
    }
}

/// The body of `POST /oauth/token` and its media type. It holds the secret or the assertion,
/// so it is held as a secret; but only those are registered (they are, where they are made):
/// its client ID, grant, scope and subject are names, shown as typed in Qlik's errors and our
/// log lines.
pub struct TokenRequest {
    pub content_type: &'static str,
    pub body: SecretText,
}

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const JSON: &str = "application/json";

/// The token request. With an assertion, form-encoded, as RFC 7523 2.2 and Qlik's private key
/// JWT tutorial send it (`user_lookup` as `user_lookup[field]` and `user_lookup[value]`); with
/// a secret, JSON, as Qlik's own library sends it.
pub fn token_request(
    client_id: &str,
    auth: &ClientAuth<'_>,
    grant: Grant<'_>,
    scope: &str,
) -> TokenRequest {
    let mut fields: Vec<(&str, &str)> = vec![("grant_type", grant.grant_type())];
    match auth {
        ClientAuth::Assertion(assertion) => {
            fields.push(("client_assertion_type", CLIENT_ASSERTION_TYPE));
            fields.push(("client_assertion", assertion.expose()));
        }
        ClientAuth::Secret(secret) => fields.push(("client_secret", secret.expose())),
    }
    fields.push(("client_id", client_id));
    fields.push(("scope", scope));
    let lookup = match grant {
        Grant::ClientCredentials => None,
        Grant::ImpersonateSubject(subject) => Some(("subject", subject)),
        Grant::ImpersonateUserId(id) => Some(("userId", id)),
    };
    match auth {
        ClientAuth::Assertion(_) => {
            if let Some((field, value)) = lookup {
                fields.push(("user_lookup[field]", field));
                fields.push(("user_lookup[value]", value));
            }
            TokenRequest {
                content_type: FORM,
                body: SecretText::composed(form_encode(&fields)),
            }
        }
        ClientAuth::Secret(_) => {
            let mut body = Map::new();
            for (name, value) in fields {
                body.insert(name.into(), json!(value));
            }
            if let Some((field, value)) = lookup {
                body.insert(
                    "user_lookup".into(),
                    json!({"field": field, "value": value}),
                );
            }
            TokenRequest {
                content_type: JSON,
                body: SecretText::composed(Value::Object(body).to_string()),
            }
        }
    }
}

/// `application/x-www-form-urlencoded` (the WHATWG URL standard's serializer): every byte but
/// ASCII letters, digits and `*-._` percent-encoded.
fn form_encode(fields: &[(&str, &str)]) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const FORM_SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'*')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_');
    fields
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                utf8_percent_encode(name, FORM_SET),
                utf8_percent_encode(value, FORM_SET)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The fields of a token answer that hold a token: the product, printed as they came.
pub const REPLY_TOKENS: [&str; 3] = ["access_token", "refresh_token", "id_token"];

/// A 2xx answer: the access token, and the whole answer for `--output json`.
pub struct TokenReply {
    pub access_token: SecretText,
    /// The answer as JSON text, access token included: a secret until it is the product.
    pub json: SecretText,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
}

/// Reads a 2xx answer; `Err` says what is wrong with it (never quoting it: it may hold a
/// token).
pub fn token_reply(body: &[u8]) -> Result<TokenReply, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| "the answer is not JSON".to_owned())?;
    let Value::Object(object) = value else {
        return Err("the answer is JSON but not an object".to_owned());
    };
    let access_token = match object.get("access_token") {
        // A token is printable text without blanks: anything else would reach the terminal or
        // the script's variable as it came.
        Some(Value::String(token))
            if !token.is_empty() && token.chars().all(|c| c.is_ascii_graphic()) =>
        {
            SecretText::new(token.clone())
        }
        Some(Value::String(_)) => {
            return Err(
                "its access_token holds blanks, control characters or non-ASCII text, \
                        which no token holds"
                    .to_owned(),
            );
        }
        _ => return Err("the answer has no access_token".to_owned()),
    };
    Ok(TokenReply {
        access_token,
        expires_in: object.get("expires_in").and_then(Value::as_u64),
        scope: object
            .get("scope")
            .and_then(Value::as_str)
            .map(str::to_owned),
        // Its tokens are registered, not the whole answer: its scope and token type are words
        // for the log.
        json: {
            for name in REPLY_TOKENS {
                if let Some(Value::String(token)) = object.get(name) {
                    crate::secret::register(token);
                }
            }
            SecretText::composed(Value::Object(object).to_string())
        },
    })
}

/// An error answer: RFC 6749's `{"error", "error_description"}`, or Qlik's usual
/// `{"errors": [{"code", "title", "detail"}]}`, whichever came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenError {
    pub error: Option<String>,
    pub description: Option<String>,
}

impl TokenError {
    pub fn from_body(body: &[u8]) -> Self {
        let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        if object.contains_key("error") {
            return Self {
                error: text(object.get("error")),
                description: text(object.get("error_description")),
            };
        }
        let first = object
            .get("errors")
            .and_then(Value::as_array)
            .and_then(|errors| errors.first());
        match first {
            Some(first) => Self {
                error: text(first.get("title")).or_else(|| text(first.get("code"))),
                description: text(first.get("detail")),
            },
            None => Self::default(),
        }
    }

    /// Which known cause the error names, from its code and words.
    pub fn cause(&self) -> Option<Cause> {
        let error = self
            .error
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let words = self
            .description
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let says = |w: &str| words.contains(w);
        if says("user") && (says("not found") || says("does not exist") || says("no user")) {
            return Some(Cause::UserNotFound);
        }
        if error == "unauthorized_client" || says("grant") && says("not allowed") {
            return Some(Cause::GrantNotAllowed);
        }
        if says("kid") || says("key id") || says("no key") {
            return Some(Cause::UnknownKey);
        }
        if says("aud") {
            return Some(Cause::WrongAudience);
        }
        if says("expired") || says("iat") || says("exp ") || says("clock") || says("future") {
            return Some(Cause::ClockSkew);
        }
        if says("jti") {
            return Some(Cause::ReusedJti);
        }
        if says("secret") {
            return Some(Cause::WrongSecret);
        }
        if says("alg") {
            return Some(Cause::WrongAlgorithm);
        }
        None
    }
}

/// The causes of a refusal qs-jwt knows a fix for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    UnknownKey,
    WrongAudience,
    ClockSkew,
    GrantNotAllowed,
    UserNotFound,
    ReusedJti,
    WrongSecret,
    WrongAlgorithm,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_is_the_token_endpoint_exactly() {
        assert_eq!(
            token_endpoint("https://t.eu.qlikcloud.com"),
            "https://t.eu.qlikcloud.com/oauth/token"
        );
        assert_eq!(
            token_endpoint("https://127.0.0.1:8443/"),
            "https://127.0.0.1:8443/oauth/token"
        );
    }

    #[test]
    fn a_token_url_is_https_a_host_and_the_path() {
        for good in [
            "https://t.eu.qlikcloud.com/oauth/token",
            "https://127.0.0.1:8443/oauth/token",
        ] {
            assert!(is_token_url(good), "{good}");
        }
        for bad in [
            "https:///oauth/token",
            "https://evil.example.com/x/oauth/token",
            "http://t.example.com/oauth/token",
            "https://t.example.com/oauth/token/",
            "https://T.example.com/oauth/token",
            "https://t.example.com:443/oauth/token",
            "https://t.example.com./oauth/token",
            "https://u@t.example.com/oauth/token",
            "t.example.com/oauth/token",
            "",
        ] {
            assert!(!is_token_url(bad), "{bad}");
        }
    }

    #[test]
    fn an_assertion_lives_five_minutes() {
        let claims = assertion_claims("c", "https://t/oauth/token", 1_000, "j".into());
        assert_eq!((claims.iss.as_str(), claims.sub.as_str()), ("c", "c"));
        assert_eq!(claims.exp - claims.iat, MAX_ASSERTION_LIFETIME);
    }

    #[test]
    fn uuids_are_version_4() {
        let id = uuid_v4([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert!(is_uuid(&id));
        assert!(is_uuid(&uuid_v4([0; 16])));
        for bad in [
            "",
            "x",
            "ffffffff-ffff-4fff-bfff-fffffffffff",
            "g-ffff-4fff-bfff-ffffffffffff",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }

    #[test]
    fn the_request_carries_the_grant_and_the_user() {
        let secret = SecretText::new("s3");
        let body = token_request(
            "c",
            &ClientAuth::Secret(&secret),
            Grant::ImpersonateSubject("anna"),
            DEFAULT_SCOPE,
        );
        assert_eq!(body.content_type, JSON);
        let value: Value = serde_json::from_str(body.body.expose()).unwrap();
        assert_eq!(
            value,
            json!({"client_id": "c", "grant_type": GRANT_USER_IMPERSONATION,
                   "scope": "user_default", "client_secret": "s3",
                   "user_lookup": {"field": "subject", "value": "anna"}})
        );
        assert_eq!(format!("{:?}", body.body), "SecretText([redacted])");
    }

    #[test]
    fn an_assertion_is_sent_form_encoded() {
        let assertion = SecretText::new("eyJ.a-b_c.d");
        let request = token_request(
            "my client",
            &ClientAuth::Assertion(&assertion),
            Grant::ImpersonateSubject("anna+b@x"),
            DEFAULT_SCOPE,
        );
        assert_eq!(request.content_type, FORM);
        assert_eq!(
            request.body.expose(),
            "grant_type=urn%3Aqlik%3Aoauth%3Auser-impersonation\
             &client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer\
             &client_assertion=eyJ.a-b_c.d&client_id=my%20client&scope=user_default\
             &user_lookup%5Bfield%5D=subject&user_lookup%5Bvalue%5D=anna%2Bb%40x"
        );
    }

    #[test]
    fn a_token_reply_holds_a_printable_token() {
        let reply = token_reply(br#"{"access_token": "eyJ.a.b", "expires_in": 60}"#).unwrap();
        assert_eq!(reply.access_token.expose(), "eyJ.a.b");
        assert_eq!(reply.expires_in, Some(60));
        for bad in [
            &br#"{"access_token": "a\u001b[2Jb"}"#[..],
            br#"{"access_token": "a b"}"#,
            br#"{"token": "x"}"#,
            b"[]",
            b"<html>",
        ] {
            assert!(
                token_reply(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn errors_of_both_shapes_are_read() {
        let rfc = TokenError::from_body(
            br#"{"error": "invalid_client", "error_description": "no key with kid x"}"#,
        );
        assert_eq!(rfc.error.as_deref(), Some("invalid_client"));
        assert_eq!(rfc.cause(), Some(Cause::UnknownKey));
        let qlik = TokenError::from_body(
            br#"{"errors": [{"code": "OAUTH-1", "title": "unauthorized_client", "detail": "d"}]}"#,
        );
        assert_eq!(qlik.error.as_deref(), Some("unauthorized_client"));
        assert_eq!(qlik.cause(), Some(Cause::GrantNotAllowed));
        assert_eq!(TokenError::from_body(b"<html>"), TokenError::default());
    }
}
