//! Qlik's half: its published rules (`rules`), a token checked against them (`check`), and its
//! two APIs as typed requests and replies: Qlik Cloud's (`cloud`) and QSEoW's repository and
//! proxy (`qseow`). They talk through `http` and know neither the command line nor how a result
//! is shown.

pub mod check;
pub mod cloud;
pub mod qseow;
pub mod rules;

use serde_json::Value;
use tracing::warn;

use crate::debug;
use crate::http::{Client, Method, Request, Server, url_shown};
use crate::secret::SecretText;

/// Redirects followed for reading the user (same host only, cookies only): Qlik Cloud's
/// `/api/v1/users/me` answers with a 301 to the user.
const MAX_USER_REDIRECTS: usize = 3;

/// The session's user from `path`, following same-host redirects with the cookies only. A
/// failure is a warning: the session is made either way.
fn session_user<T>(
    client: &Client,
    path: &str,
    cookies: Option<&SecretText>,
    headers: &[(&'static str, String)],
    read: impl Fn(&Value) -> Option<T>,
) -> Option<T> {
    let mut path = path.to_owned();
    for _ in 0..=MAX_USER_REDIRECTS {
        let reply = match client.send(&Request {
            method: Method::Get,
            path: path.clone(),
            bearer: None,
            cookies,
            headers: [headers, &[("Accept", "application/json".to_owned())]].concat(),
        }) {
            Ok(reply) => reply,
            Err(err) => {
                warn!("cannot read the session's user: {err}");
                return None;
            }
        };
        if (300..400).contains(&reply.status) {
            let target = reply
                .location
                .as_deref()
                .and_then(|l| same_server_path(client.server(), l));
            match target {
                Some(next) => {
                    debug!(
                        "following HTTP {} to {}",
                        reply.status,
                        next.split('?').next().unwrap_or_default()
                    );
                    path = next;
                    continue;
                }
                None => {
                    warn!(
                        "cannot read the session's user: HTTP {} redirects to another host \
                         ('{}'), which qs-jwt does not follow",
                        reply.status,
                        reply.location.as_deref().map(url_shown).unwrap_or_default()
                    );
                    return None;
                }
            }
        }
        if !(200..300).contains(&reply.status) {
            warn!(
                "cannot read the session's user: HTTP {} from {}",
                reply.status,
                path.split('?').next().unwrap_or_default()
            );
            return None;
        }
        let user = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|v| read(&v));
        if user.is_none() {
            warn!("cannot read the session's user: the server's answer names none");
        }
        return user;
    }
    warn!("cannot read the session's user: too many redirects");
    None
}

/// The path below the server's base path that `location` points at, if it stays on the same
/// server (a path, or a URL with the same origin).
pub(crate) fn same_server_path(server: &Server, location: &str) -> Option<String> {
    let base = format!("{}{}", server.origin(), server.base_path);
    let absolute = if location.starts_with('/') && !location.starts_with("//") {
        format!("{}{location}", server.origin())
    } else {
        canonical_origin(location)
    };
    let rest = absolute.strip_prefix(&base)?;
    rest.starts_with('/').then(|| rest.to_owned())
}

/// An absolute https URL with its origin written as `Server::parse_tenant` writes a tenant's:
/// scheme and host in lower case, a trailing dot and the default port dropped (Qlik's own
/// links may write the host another way than --tenant did). Anything else is left as it is.
fn canonical_origin(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    if !scheme.eq_ignore_ascii_case("https") {
        return url.to_owned();
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return url.to_owned();
    }
    let authority = authority.to_ascii_lowercase();
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if host.ends_with(']') || !host.contains(':') => {
            (host.to_owned(), Some(port.to_owned()))
        }
        _ => (authority.clone(), None),
    };
    let host = host
        .strip_suffix('.')
        .filter(|h| !h.is_empty())
        .unwrap_or(&host);
    match port.as_deref() {
        None | Some("443") => format!("https://{host}{tail}"),
        Some(port) => format!("https://{host}:{port}{tail}"),
    }
}

/// A field of Qlik's JSON as text: a string as it is, another value as JSON, null as none.
fn text(value: &Value, name: &str) -> Option<String> {
    match value.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_followed_only_on_the_same_server() {
        let server = Server::parse("https://t.example.com/jwt", "--server", false).unwrap();
        for (location, expected) in [
            ("/jwt/api/v1/users/u1", Some("/api/v1/users/u1")),
            ("https://t.example.com/jwt/qps/user", Some("/qps/user")),
            ("https://t.example.com/other", None),
            ("https://t.example.com/jwtx/a", None),
            ("https://evil.example.com/jwt/a", None),
            ("https://t.example.com.evil.com/jwt/a", None),
            ("//evil.example.com/jwt/a", None),
            ("http://t.example.com/jwt/a", None),
            // Qlik's links may write the origin another way: the same origin all the same.
            ("https://T.Example.COM/jwt/a", Some("/a")),
            ("HTTPS://t.example.com.:443/jwt/a", Some("/a")),
            ("https://t.example.com:8443/jwt/a", None),
        ] {
            assert_eq!(
                same_server_path(&server, location).as_deref(),
                expected,
                "{location}"
            );
        }
    }
}
