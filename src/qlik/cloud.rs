//! Qlik Cloud's REST API, as typed requests and replies: the JWT login (`POST
//! /login/jwt-session`), the session's user (`GET /api/v1/users/me`), and Qlik's error body.
//!
//! Sources (see docs/research notes of issue 10): qlik.dev's Login API (`POST
//! /login/jwt-session`: 200 and the cookies `eas.sid`, `_csrfToken` and their signatures, or
//! 401 and `{"errors": [...]}`), Users API (`GET /api/v1/users/me`, a 301 to the user), rate
//! limiting (429 with Retry-After).

use serde_json::Value;

use super::{session_user, text};
use crate::error::UserError;
use crate::http::{Client, Method, Reply, Request};
use crate::secret::SecretText;

/// Where a JWT is exchanged for a session.
pub const JWT_SESSION_PATH: &str = "/login/jwt-session";

const USERS_ME_PATH: &str = "/api/v1/users/me";

/// Sends `token` to `POST /login/jwt-session`; the reply as it came (a session's cookies, or
/// Qlik's error), for the caller to read.
pub fn jwt_session(client: &Client, token: &SecretText) -> Result<Reply, UserError> {
    client.send(&Request {
        method: Method::Post,
        path: JWT_SESSION_PATH.to_owned(),
        bearer: Some(token),
        cookies: None,
        headers: vec![("Accept", "application/json".to_owned())],
    })
}

/// The session's user (`GET /api/v1/users/me` with the session's cookies), or none with a
/// warning: the session is made either way.
pub fn users_me(client: &Client, cookies: Option<&SecretText>) -> Option<Me> {
    session_user(client, USERS_ME_PATH, cookies, &[], |v| {
        Some(Me::from_json(v))
    })
}

/// Qlik Cloud's User object, the fields qs-jwt shows, each only when the tenant gave it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Me {
    pub name: Option<String>,
    pub email: Option<String>,
    pub subject: Option<String>,
    pub id: Option<String>,
    pub status: Option<String>,
    pub groups: Option<Vec<String>>,
}

impl Me {
    /// Groups are `assignedGroups[].name` (or `groups`, which `?fields=groups` returns).
    pub fn from_json(value: &Value) -> Self {
        let groups = value
            .get("assignedGroups")
            .and_then(Value::as_array)
            .map(|groups| {
                groups
                    .iter()
                    .filter_map(|g| g.get("name").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .or_else(|| strings(value.get("groups")));
        Self {
            name: text(value, "name"),
            email: text(value, "email"),
            subject: text(value, "subject"),
            id: text(value, "id"),
            status: text(value, "status"),
            groups,
        }
    }
}

/// Qlik's error body `{"errors": [{"code", "title", "detail", "status"}], "traceId"}`: the
/// first error. QSEoW's proxy answers in the same shape when it answers in JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorBody {
    pub code: Option<String>,
    pub title: Option<String>,
    pub detail: Option<String>,
    /// For Qlik's support.
    pub trace_id: Option<String>,
}

impl ErrorBody {
    /// Another body (an HTML page, a proxy's text) gives nothing.
    pub fn parse(body: &[u8]) -> Self {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let first = json
            .as_ref()
            .and_then(|v| v.get("errors"))
            .and_then(Value::as_array)
            .and_then(|errors| errors.first());
        let field = |name: &str| first.and_then(|e| text(e, name));
        Self {
            code: field("code"),
            title: field("title"),
            detail: field("detail"),
            trace_id: json.as_ref().and_then(|v| text(v, "traceId")),
        }
    }
}

fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    let items = value?.as_array()?;
    Some(
        items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_user_is_read_from_the_users_api() {
        let me = Me::from_json(&json!({
            "id": "u1", "tenantId": "t", "subject": "anna", "name": "Anna", "email": "a@b.c",
            "status": "active", "assignedGroups": [{"id": "g", "name": "Finance"}]
        }));
        assert_eq!(me.groups.as_deref(), Some(&["Finance".to_owned()][..]));
        assert_eq!(me.subject.as_deref(), Some("anna"));
    }

    #[test]
    fn errors_are_read_from_their_published_shape() {
        let error = ErrorBody::parse(
            json!({"errors": [{"code": "INTERNAL-TOKEN-1", "title": "Invalid token request",
                   "detail": "d", "status": "401"}], "traceId": "t1"})
            .to_string()
            .as_bytes(),
        );
        assert_eq!(error.code.as_deref(), Some("INTERNAL-TOKEN-1"));
        assert_eq!(error.trace_id.as_deref(), Some("t1"));
        assert_eq!(
            ErrorBody::parse(b"<html>bad gateway</html>"),
            ErrorBody::default()
        );
    }
}
