//! Qlik Cloud's REST API, as typed requests and replies: a [`Tenant`] (its origin and its
//! credential) with a method per endpoint: the JWT login (`POST /login/jwt-session`), the
//! session's user (`GET /api/v1/users/me`), the identity providers, the OAuth token request
//! (`POST /oauth/token`, its shapes and rules in `oauth`); and Qlik's error body.
//!
//! Sources (see docs/research notes of issue 10): qlik.dev's Login API (`POST
//! /login/jwt-session`: 200 and the cookies `eas.sid`, `_csrfToken` and their signatures, or
//! 401 and `{"errors": [...]}`), Users API (`GET /api/v1/users/me`, a 301 to the user), rate
//! limiting (429 with Retry-After).
//!
//! The identity providers (setup-qscloud --apply and --remove): qlik.dev's Identity providers
//! API (https://qlik.dev/apis/rest/identity-providers): `GET /api/v1/identity-providers`
//! (`{"data": [...], "links": {"next": {"href"}}}`), `POST` with a `jwtAuth` body (201 and the
//! identity provider, with its `id`), `DELETE /api/v1/identity-providers/{id}` (204), all with a
//! tenant admin's API key as `Authorization: Bearer` ("Requesting user must be assigned the
//! TenantAdmin role", https://qlik.dev/toolkits/qlik-cli/identity-provider/identity-provider-create).
//! `PATCH` replaces the description only ("Allowed paths: /description",
//! https://qlik.dev/toolkits/qlik-cli/identity-provider/identity-provider-patch-jwtauth), so a
//! key is never changed in place: a new key is a new identity provider.

use serde_json::Value;

pub mod oauth;

use crate::error::UserError;
use crate::http::{Client, Method, Reply, Request, Server, percent_encode};
use crate::qlik::{session_user, text};
use crate::secret::SecretText;

/// Where a JWT is exchanged for a session.
pub const JWT_SESSION_PATH: &str = "/login/jwt-session";

const USERS_ME_PATH: &str = "/api/v1/users/me";

/// The session's CSRF token (qlik.dev's CSRF token API: `GET /api/v1/csrf-token`, 204 and the
/// `qlik-csrf-token` header).
const CSRF_TOKEN_PATH: &str = "/api/v1/csrf-token";

/// Where a session is ended. qlik.dev's Login API documents no logout; this is the tenant's
/// own sign-out (the hub's "Log out"), sent with the session's cookies and CSRF token.
pub const LOGOUT_PATH: &str = "/logout";

/// A Qlik Cloud tenant: its origin (the client's server, at the tenant's root) and the
/// credential its API calls carry (a tenant admin's API key), with a method per endpoint.
pub struct Tenant {
    client: Client,
    credential: Option<SecretText>,
}

impl Tenant {
    /// A tenant reached through `client`; `credential` is the API key (or access token) its
    /// API calls send as `Authorization: Bearer`, None for the calls that carry their own.
    pub fn new(client: Client, credential: Option<SecretText>) -> Self {
        Self { client, credential }
    }

    /// The API key (or access token) the API calls carry.
    pub fn credential(&self) -> Option<&SecretText> {
        self.credential.as_ref()
    }

    /// The tenant's origin.
    pub fn server(&self) -> &Server {
        self.client.server()
    }

    /// Sends `token` to `POST /login/jwt-session`; the reply as it came (a session's cookies,
    /// or Qlik's error), for the caller to read.
    pub fn jwt_session(&self, token: &SecretText) -> Result<Reply, UserError> {
        self.client.send(&Request {
            method: Method::Post,
            path: JWT_SESSION_PATH.to_owned(),
            bearer: Some(token),
            cookies: None,
            headers: vec![("Accept", "application/json".to_owned())],
        })
    }

    /// The session's user (`GET /api/v1/users/me` with the session's cookies), or none with a
    /// warning: the session is made either way.
    pub fn users_me(&self, cookies: Option<&SecretText>) -> Option<Me> {
        session_user(&self.client, USERS_ME_PATH, cookies, &[], |v| {
            Some(Me::from_json(v))
        })
    }

    /// The session's CSRF token: `GET /api/v1/csrf-token` with the session's cookies (or an
    /// OAuth access token as the bearer), the reply's `qlik-csrf-token` header.
    pub fn csrf_token(
        &self,
        cookies: Option<&SecretText>,
        bearer: Option<&SecretText>,
    ) -> Result<Reply, UserError> {
        self.client.send(&Request {
            method: Method::Get,
            path: CSRF_TOKEN_PATH.to_owned(),
            bearer,
            cookies,
            headers: vec![("Accept", "application/json".to_owned())],
        })
    }

    /// Ends the session: `POST /logout` with its cookies and, when known, its CSRF token.
    pub fn logout(
        &self,
        cookies: &SecretText,
        csrf: Option<&SecretText>,
    ) -> Result<Reply, UserError> {
        let mut headers = vec![("Accept", "application/json".to_owned())];
        if let Some(csrf) = csrf {
            headers.push(("qlik-csrf-token", csrf.expose().to_owned()));
        }
        self.client.send(&Request {
            method: Method::Post,
            path: LOGOUT_PATH.to_owned(),
            bearer: None,
            cookies: Some(cookies),
            headers,
        })
    }

    /// The client, for the engine's WebSocket (same TLS, proxy and deadline).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends ``request` (`oauth::token_request`: a form or JSON body, a secret) to `POST /oauth/token`; the reply as it
    /// came (a token, Qlik's error, a 429 with Retry-After), for the caller to read.
    pub fn oauth_token(&self, request: &oauth::TokenRequest) -> Result<Reply, UserError> {
        let http_request = Request {
            method: Method::Post,
            path: oauth::TOKEN_PATH.to_owned(),
            bearer: None,
            cookies: None,
            headers: vec![("Accept", "application/json".to_owned())],
        };
        let body = request.body.expose().as_bytes();
        match request.content_type {
            oauth::FORM => self.client.send_form(&http_request, body),
            _ => self.client.send_json(&http_request, body),
        }
    }

    fn api_request(&self, method: Method, path: String) -> Request<'_> {
        Request {
            method,
            path,
            bearer: self.credential.as_ref(),
            cookies: None,
            headers: vec![("Accept", "application/json".to_owned())],
        }
    }
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

/// Where the tenant's identity providers are.
pub const IDENTITY_PROVIDERS_PATH: &str = "/api/v1/identity-providers";

/// Pages of the list followed at most: Qlik pages by `links.next`; a tenant has a handful.
const MAX_PAGES: usize = 50;

/// One of the tenant's identity providers, as the list gives it: what qs-jwt matches on, and
/// the whole object to print.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityProvider {
    pub id: String,
    pub protocol: Option<String>,
    pub active: bool,
    pub issuer: Option<String>,
    pub keys: Vec<StaticKey>,
    pub json: Value,
}

/// One of a JWT identity provider's `options.staticKeys`.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticKey {
    pub kid: String,
    /// Absent when Qlik does not return it.
    pub pem: Option<String>,
}

impl IdentityProvider {
    pub fn from_json(value: &Value) -> Self {
        let options = value.get("options");
        let keys = options
            .and_then(|o| o.get("staticKeys"))
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| {
                        Some(StaticKey {
                            kid: k.get("kid")?.as_str()?.to_owned(),
                            pem: k.get("pem").and_then(Value::as_str).map(str::to_owned),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            id: text(value, "id").unwrap_or_default(),
            protocol: text(value, "protocol"),
            // Qlik's schema has `active` on every identity provider; one without it is taken
            // for active, the safe side for "the last active one".
            active: value.get("active").and_then(Value::as_bool).unwrap_or(true),
            issuer: options.and_then(|o| text(o, "issuer")),
            keys,
            json: value.clone(),
        }
    }

    /// The identity provider by the fields qlik.dev's Identity providers API documents for a
    /// JWT one (`id`, `tenantIds`, `provider`, `protocol`, `interactive`, `active`,
    /// `description`, `meta`, and `options`' `issuer`, `jwtLoginEnabled`, `claimsMapping` and
    /// `staticKeys`' `kid` and `pem`): what is printed. Anything else a server put into the
    /// object (an echo of the request, a credential) is left out.
    pub fn documented(&self) -> Value {
        const TOP: [&str; 8] = [
            "id",
            "tenantIds",
            "provider",
            "protocol",
            "interactive",
            "active",
            "description",
            "meta",
        ];
        const OPTIONS: [&str; 3] = ["issuer", "jwtLoginEnabled", "claimsMapping"];
        let pick = |from: Option<&Value>, names: &[&str]| -> serde_json::Map<String, Value> {
            names
                .iter()
                .filter_map(|name| Some(((*name).to_owned(), from?.get(*name)?.clone())))
                .collect()
        };
        let mut object = pick(Some(&self.json), &TOP);
        if let Some(options) = self.json.get("options") {
            let mut shown = pick(Some(options), &OPTIONS);
            if let Some(keys) = options.get("staticKeys").and_then(Value::as_array) {
                let keys: Vec<Value> = keys
                    .iter()
                    .map(|key| Value::Object(pick(Some(key), &["kid", "pem"])))
                    .collect();
                shown.insert("staticKeys".to_owned(), Value::Array(keys));
            }
            object.insert("options".to_owned(), Value::Object(shown));
        }
        Value::Object(object)
    }

    pub fn is_jwt(&self) -> bool {
        self.protocol.as_deref() == Some("jwtAuth")
    }

    /// The key with this key ID, if this is a JWT identity provider of `issuer`.
    pub fn key_for(&self, issuer: &str, key_id: &str) -> Option<&StaticKey> {
        if !self.is_jwt() || self.issuer.as_deref() != Some(issuer) {
            return None;
        }
        self.keys.iter().find(|k| k.kid == key_id)
    }
}

/// A call to the identity-providers API that did not give what was asked.
#[derive(Debug)]
pub enum ApiFailure {
    /// Transport, TLS, time limit: said as the login commands say it.
    Transport(UserError),
    /// Qlik answered with another status: every error of its body.
    Refused {
        status: u16,
        errors: Vec<ErrorBody>,
        trace_id: Option<String>,
    },
    /// A 2xx whose body is not what the API documents.
    Unreadable { status: u16, what: &'static str },
}

impl From<UserError> for ApiFailure {
    fn from(err: UserError) -> Self {
        Self::Transport(err)
    }
}

/// Every error of Qlik's error body (a 400 may name several fields).
pub fn all_errors(body: &[u8]) -> (Vec<ErrorBody>, Option<String>) {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let errors = json
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .map(|e| ErrorBody {
                    code: text(e, "code"),
                    title: text(e, "title"),
                    detail: text(e, "detail"),
                    trace_id: None,
                })
                .collect()
        })
        .unwrap_or_default();
    (errors, json.as_ref().and_then(|v| text(v, "traceId")))
}

fn refused(reply: &Reply) -> ApiFailure {
    let (errors, trace_id) = all_errors(&reply.body);
    ApiFailure::Refused {
        status: reply.status,
        errors,
        trace_id,
    }
}

impl Tenant {
    /// Every identity provider of the tenant (`GET /api/v1/identity-providers`, following
    /// `links.next` on the same server).
    pub fn identity_providers(&self) -> Result<Vec<IdentityProvider>, ApiFailure> {
        let mut providers: Vec<IdentityProvider> = Vec::new();
        let mut path = IDENTITY_PROVIDERS_PATH.to_owned();
        // Pages already read: a next link back to one of them ends the list instead of reading it
        // again (and counting its identity providers twice).
        let mut read = vec![path.clone()];
        for _ in 0..MAX_PAGES {
            let reply = self
                .client
                .send(&self.api_request(Method::Get, path.clone()))?;
            if !(200..300).contains(&reply.status) {
                return Err(refused(&reply));
            }
            let page: Value =
                serde_json::from_slice(&reply.body).map_err(|_| ApiFailure::Unreadable {
                    status: reply.status,
                    what: "the list of identity providers is not JSON",
                })?;
            let data =
                page.get("data")
                    .and_then(Value::as_array)
                    .ok_or(ApiFailure::Unreadable {
                        status: reply.status,
                        what: "the list of identity providers has no \"data\"",
                    })?;
            for provider in data.iter().map(IdentityProvider::from_json) {
                // A page that repeats one (a server that pages wrong) does not make it two.
                let known =
                    !provider.id.is_empty() && providers.iter().any(|p| p.id == provider.id);
                if !known {
                    providers.push(provider);
                }
            }
            let next = match page.pointer("/links/next") {
                None | Some(Value::Null) => return Ok(providers),
                Some(link) => link
                    .get("href")
                    .and_then(Value::as_str)
                    .and_then(|href| crate::qlik::same_server_path(self.server(), href))
                    // A next page that cannot be read: the list is not whole, and taking it
                    // for whole would create a duplicate or miss the one to remove.
                    .ok_or(ApiFailure::Unreadable {
                        status: reply.status,
                        what: "the list of identity providers has a next page on another origin, \
                               or one that cannot be followed",
                    })?,
            };
            if read.contains(&next) {
                return Ok(providers);
            }
            read.push(next.clone());
            path = next;
        }
        // Still a next page after MAX_PAGES: a list cut short would be taken for the whole one.
        Err(ApiFailure::Unreadable {
            status: 200,
            what: "the list of identity providers goes on past 50 pages",
        })
    }

    /// Creates an identity provider (`POST /api/v1/identity-providers`); Qlik's answer.
    pub fn create_identity_provider(&self, body: &Value) -> Result<IdentityProvider, ApiFailure> {
        let reply = self.client.send_json(
            &self.api_request(Method::Post, IDENTITY_PROVIDERS_PATH.to_owned()),
            body.to_string().as_bytes(),
        )?;
        if !(200..300).contains(&reply.status) {
            return Err(refused(&reply));
        }
        let value: Value =
            serde_json::from_slice(&reply.body).map_err(|_| ApiFailure::Unreadable {
                status: reply.status,
                what: "the identity provider created is not JSON",
            })?;
        let created = IdentityProvider::from_json(&value);
        if created.id.is_empty() {
            // `{}` or an answer without its id: it can be neither printed nor found again.
            return Err(ApiFailure::Unreadable {
                status: reply.status,
                what: "the identity provider created has no id",
            });
        }
        Ok(created)
    }

    /// Deletes the identity provider `id` (`DELETE /api/v1/identity-providers/{id}`).
    pub fn delete_identity_provider(&self, id: &str) -> Result<(), ApiFailure> {
        let path = format!("{IDENTITY_PROVIDERS_PATH}/{}", percent_encode(id));
        let reply = self.client.send(&self.api_request(Method::Delete, path))?;
        if (200..300).contains(&reply.status) {
            Ok(())
        } else {
            Err(refused(&reply))
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
    fn identity_providers_are_matched_on_issuer_and_key_id() {
        let idp = IdentityProvider::from_json(&json!({
            "id": "abc", "protocol": "jwtAuth", "provider": "external", "active": true,
            "options": {"issuer": "i", "staticKeys": [{"kid": "k", "pem": "P"}]}
        }));
        assert_eq!(
            idp.key_for("i", "k").and_then(|k| k.pem.as_deref()),
            Some("P")
        );
        assert!(idp.key_for("i", "k2").is_none());
        assert!(idp.key_for("j", "k").is_none());
        let oidc = IdentityProvider::from_json(&json!({
            "id": "o", "protocol": "OIDC", "options": {"issuer": "i", "staticKeys": [{"kid": "k"}]}
        }));
        assert!(oidc.key_for("i", "k").is_none());
    }

    #[test]
    fn every_error_of_a_400_is_read() {
        let (errors, trace) = all_errors(
            br#"{"errors": [{"title": "a", "code": "c1"}, {"title": "b", "detail": "d"}], "traceId": "t"}"#,
        );
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[1].detail.as_deref(), Some("d"));
        assert_eq!(trace.as_deref(), Some("t"));
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
