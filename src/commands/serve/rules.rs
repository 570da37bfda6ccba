//! What serve answers, decided from plain values (pure): which origins and hosts it talks to,
//! which user a request names, and every refusal as `{"error": {"detail", "hint"}}`, the shape
//! of the CLI's JSON failures.

use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

/// The largest request body read: a user's name fits many times over.
pub const BODY_LIMIT: usize = 16 * 1024;

/// An answer: its status, its content type and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, value: &Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: value.to_string(),
        }
    }

    pub fn text(body: String) -> Self {
        Self {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }

    /// A refusal: `{"error": {"detail", "hint"}}`.
    pub fn error(status: u16, detail: &str, hint: Option<&str>) -> Self {
        Self::json(
            status,
            &json!({ "error": { "detail": detail, "hint": hint } }),
        )
    }
}

/// An `--origin` as browsers send it: `scheme://host[:port]`, lower case, no path; or why not.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let lower = text.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
        .ok_or_else(|| {
            format!(
                "--origin {text} is not an origin: give the scheme, the host and any port, as \
                 the browser's address bar shows them (http://localhost:5173)"
            )
        })?;
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty()
        || host.contains(['/', '?', '#', '@', '*'])
        || host.contains(char::is_whitespace)
    {
        return Err(format!(
            "--origin {text} is not an origin: an origin has no path, query, user or wildcard \
             (http://localhost:5173, not http://localhost:5173/app)"
        ));
    }
    Ok(lower[..lower.len() - (rest.len() - host.len())].to_owned())
}

/// Whether a Host header names this server on a loopback address: a page of another site
/// whose name points at 127.0.0.1 (DNS rebinding) sends its own name and is refused.
pub fn loopback_host(host: Option<&str>, port: u16) -> bool {
    let Some(host) = host else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|name| host == format!("{name}:{port}") || (port == 80 && host == *name))
}

/// The user a request names: `user` (and on QSEoW `userdir`) from the query, or from a JSON
/// object body.
#[derive(Debug, Clone, PartialEq)]
pub struct Asked {
    pub user: String,
    pub userdir: Option<String>,
}

/// Reads the user from the query string (`user=anna&userdir=ACME`) or the JSON body
/// (`{"user": "anna"}`); a refusal says what to send.
pub fn asked_user(query: Option<&str>, body: &[u8]) -> Result<Asked, Reply> {
    let mut user = None;
    let mut userdir = None;
    for pair in query.unwrap_or_default().split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(&value.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        match name {
            "user" => user = Some(value),
            "userdir" => userdir = Some(value),
            _ => {}
        }
    }
    let body_text = std::str::from_utf8(body).unwrap_or_default().trim();
    if user.is_none() && !body_text.is_empty() {
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(body_text) else {
            return Err(Reply::error(
                400,
                "the request body is not a JSON object",
                Some(r#"send {"user": "<id>"} with Content-Type: application/json, or ?user=<id>"#),
            ));
        };
        match object.get("user") {
            Some(Value::String(name)) => user = Some(name.clone()),
            Some(_) => {
                return Err(Reply::error(
                    400,
                    "the request's user is not a string",
                    Some(r#"send {"user": "<id>"}"#),
                ));
            }
            None => {}
        }
        if let Some(Value::String(dir)) = object.get("userdir") {
            userdir = Some(dir.clone());
        }
    }
    match user {
        Some(user) if !user.trim().is_empty() => Ok(Asked {
            user,
            userdir: userdir.filter(|dir| !dir.trim().is_empty()),
        }),
        _ => Err(Reply::error(
            400,
            "the request names no user",
            Some(r#"send {"user": "<id>"} as the JSON body, or ?user=<id>"#),
        )),
    }
}

/// The headers of an answer to an allowed origin: the origin itself (never `*`, which
/// browsers refuse with credentials), credentials allowed, and `Vary: Origin` for caches.
pub fn cors_headers(origin: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Access-Control-Allow-Origin", origin.to_owned()),
        ("Access-Control-Allow-Credentials", "true".to_owned()),
        ("Vary", "Origin".to_owned()),
    ]
}

/// The extra headers of a preflight's answer: the methods and headers a page may use, and
/// Chrome's private network access for a page served from elsewhere.
pub fn preflight_headers(asks_private_network: bool) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        (
            "Access-Control-Allow-Methods",
            "GET, POST, OPTIONS".to_owned(),
        ),
        ("Access-Control-Allow-Headers", "Content-Type".to_owned()),
        ("Access-Control-Max-Age", "600".to_owned()),
    ];
    if asks_private_network {
        headers.push(("Access-Control-Allow-Private-Network", "true".to_owned()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(
            parse_origin("http://LocalHost:5173/"),
            Ok("http://localhost:5173".into())
        );
        assert_eq!(
            parse_origin("https://app.example.com"),
            Ok("https://app.example.com".into())
        );
        assert!(parse_origin("localhost:5173").is_err());
        assert!(parse_origin("http://localhost:5173/app").is_err());
        assert!(parse_origin("*").is_err());
        assert!(parse_origin("http://*").is_err());
        assert!(parse_origin("null").is_err());
    }

    #[test]
    fn only_loopback_names_of_this_port_are_this_host() {
        assert!(loopback_host(Some("127.0.0.1:8765"), 8765));
        assert!(loopback_host(Some("localhost:8765"), 8765));
        assert!(loopback_host(Some("[::1]:8765"), 8765));
        assert!(!loopback_host(Some("evil.example:8765"), 8765));
        assert!(!loopback_host(Some("127.0.0.1:8766"), 8765));
        assert!(!loopback_host(None, 8765));
    }

    #[test]
    fn the_user_comes_from_the_query_or_the_body() {
        let asked = asked_user(Some("user=anna%20b&userdir=ACME"), b"").unwrap();
        assert_eq!(asked.user, "anna b");
        assert_eq!(asked.userdir.as_deref(), Some("ACME"));
        let asked = asked_user(None, br#"{"user": "ben"}"#).unwrap();
        assert_eq!(asked.user, "ben");
        assert_eq!(asked_user(None, b"").unwrap_err().status, 400);
        assert_eq!(asked_user(None, b"user=anna").unwrap_err().status, 400);
        assert_eq!(asked_user(None, br#"{"user": 3}"#).unwrap_err().status, 400);
        assert_eq!(asked_user(Some("user="), b"").unwrap_err().status, 400);
    }

    #[test]
    fn a_refusal_is_the_clis_error_object() {
        let reply = Reply::error(403, "no", Some("yes"));
        let value: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(value["error"]["detail"], "no");
        assert_eq!(value["error"]["hint"], "yes");
    }
}
