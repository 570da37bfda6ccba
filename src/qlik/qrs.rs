//! QSEoW's repository (QRS) and proxy (QPS) APIs through a virtual proxy, as typed requests and
//! replies: the xrfkey pair every call carries, `GET /qrs/about` (the call a JWT login goes
//! with) and `GET /qps/user` (the session's user).
//!
//! Sources (see docs/research notes of issue 10): help.qlik.com's QRS xrfkey rule and QPS
//! Personal API (`GET /{virtual proxy}/qps/user`).

use rand::RngExt;
use rand::distr::Alphanumeric;
use serde_json::Value;

use super::{session_user, text};
use crate::error::UserError;
use crate::http::{Client, Method, Reply, Request};
use crate::secret::SecretText;

const ABOUT_PATH: &str = "/qrs/about";
const QPS_USER_PATH: &str = "/qps/user";

/// QRS refuses a request without the same random key in the query and a header (its
/// protection against cross-site request forgery); one key serves every call of a run.
#[derive(Debug, Clone)]
pub struct Xrfkey(String);

impl Xrfkey {
    /// 16 letters and digits, as QRS asks of an xrfkey.
    pub fn random() -> Self {
        Self(
            rand::rng()
                .sample_iter(Alphanumeric)
                .take(16)
                .map(char::from)
                .collect(),
        )
    }

    /// `GET /qrs/about`'s path and query, below the virtual proxy: where the session's cookies
    /// are set.
    pub fn about_path(&self) -> String {
        self.query(ABOUT_PATH)
    }

    fn query(&self, path: &str) -> String {
        format!("{path}?xrfkey={}", self.0)
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        vec![("X-Qlik-Xrfkey", self.0.clone())]
    }
}

/// Sends `token` with `GET /qrs/about`; the reply as it came (a session's cookies, a refusal or
/// a redirect to a login page), for the caller to read.
pub fn about(client: &Client, token: &SecretText, xrfkey: &Xrfkey) -> Result<Reply, UserError> {
    client.send(&Request {
        method: Method::Get,
        path: xrfkey.about_path(),
        bearer: Some(token),
        cookies: None,
        headers: xrfkey.headers(),
    })
}

/// The session's user (`GET /qps/user` with the session's cookies), or none with a warning:
/// the session is made either way.
pub fn qps_user(client: &Client, cookies: &SecretText, xrfkey: &Xrfkey) -> Option<QpsUser> {
    session_user(
        client,
        &xrfkey.query(QPS_USER_PATH),
        Some(cookies),
        &xrfkey.headers(),
        QpsUser::from_json,
    )
}

/// QPS's user of a session, the fields qs-jwt shows, each only when the proxy gave it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QpsUser {
    pub name: Option<String>,
    pub user_directory: Option<String>,
    pub user_id: Option<String>,
}

impl QpsUser {
    /// `{"userDirectory", "userId", "userName", "logoutUri"}` for a session,
    /// `{"session": "inactive"}` without one (None).
    pub fn from_json(value: &Value) -> Option<Self> {
        let user = Self {
            name: text(value, "userName"),
            user_directory: text(value, "userDirectory"),
            user_id: text(value, "userId"),
        };
        let inactive = value.get("session").and_then(Value::as_str) == Some("inactive");
        (!inactive && user.user_id.is_some()).then_some(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn xrfkeys_are_16_letters_and_digits() {
        let key = Xrfkey::random();
        assert_eq!(key.0.len(), 16);
        assert!(key.0.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(key.about_path(), format!("/qrs/about?xrfkey={}", key.0));
        assert_eq!(key.headers(), [("X-Qlik-Xrfkey", key.0.clone())]);
    }

    #[test]
    fn the_user_is_read_from_qps() {
        let user =
            QpsUser::from_json(&json!({"userDirectory": "D", "userId": "u", "userName": "U"}));
        assert_eq!(user.unwrap().user_directory.as_deref(), Some("D"));
        assert_eq!(QpsUser::from_json(&json!({"session": "inactive"})), None);
    }
}
