//! The engine's WebSocket handshake for both platforms ([`Handshake`]), and why it got 403.
//! Qlik's answer names no cause ("Cross-Site Websocket Hijacking attack prevention check
//! failed"), so the handshake is tried again with one thing changed at a time (no
//! `Authorization` header, a CSRF token asked for again, the server's own Origin), and what
//! opened it is said in each platform's terms with the one thing to change.

use crate::error::UserError;
use crate::http::{Client, Opened, Socket, Upgrade, percent_encode};
use crate::secret::SecretText;

use super::origin_host;

/// One handshake as a platform makes it: where (`path` below the client's server, with the
/// session's `cookies`), what it sends, and, for a 403, how its CSRF token is asked for again
/// and whether its bearer is the session itself (Qlik Cloud's OAuth access token).
pub(super) struct Handshake<'a, F> {
    pub client: &'a Client,
    pub path: &'a str,
    pub cookies: Option<&'a SecretText>,
    pub sent: Sent<'a>,
    pub bearer_is_the_session: bool,
    pub fresh_csrf: F,
}

/// A handshake's outcome: the open socket, or the refusal with its body and, for a 403, its
/// cause told apart.
pub(super) enum Handshaken {
    Open(Box<Socket>),
    Refused {
        status: u16,
        body: Vec<u8>,
        forbidden: Option<Forbidden>,
    },
}

impl<F> Handshake<'_, F>
where
    F: FnOnce() -> Result<Option<SecretText>, UserError>,
{
    /// Opens the WebSocket; after a 403, tries again one change at a time ([`tell_forbidden`]).
    pub fn open(self) -> Result<Handshaken, UserError> {
        let try_once = |sent: Sent<'_>| {
            self.client.websocket(&Upgrade {
                path: format!("{}{}", self.path, csrf_query(sent.csrf)),
                cookies: self.cookies,
                bearer: sent.bearer,
                origin: sent.origin,
            })
        };
        Ok(match try_once(self.sent)? {
            Opened::Open(socket) => Handshaken::Open(socket),
            Opened::Refused { status, body } => Handshaken::Refused {
                status,
                body,
                forbidden: (status == 403).then(|| {
                    tell_forbidden(
                        self.sent,
                        &self.client.server().origin(),
                        self.bearer_is_the_session,
                        self.fresh_csrf,
                        |sent| try_once(sent).map(opened),
                    )
                }),
            },
        })
    }
}

/// What a handshake sends besides the session's cookies: the Origin, the CSRF token, and an
/// `Authorization: Bearer` (Qlik Cloud's OAuth access token, or `--websocket-authorization`).
#[derive(Clone, Copy)]
pub(super) struct Sent<'a> {
    pub origin: &'a str,
    pub csrf: Option<&'a SecretText>,
    pub bearer: Option<&'a SecretText>,
}

/// `?qlik-csrf-token=...`, or nothing without a token.
fn csrf_query(csrf: Option<&SecretText>) -> String {
    csrf.map(|t| format!("?qlik-csrf-token={}", percent_encode(t.expose())))
        .unwrap_or_default()
}

/// A CSRF token asked for again: the header of a 2xx answer.
pub(super) fn fresh_token(status: u16, token: Option<SecretText>) -> Option<SecretText> {
    token.filter(|_| (200..300).contains(&status))
}

/// Whether a handshake opened; an open socket is closed at once.
fn opened(outcome: Opened) -> bool {
    match outcome {
        Opened::Open(socket) => {
            socket.close();
            true
        }
        Opened::Refused { .. } => false,
    }
}

/// Why a handshake got 403. Qlik's answer names no cause ("Cross-Site Websocket Hijacking
/// attack prevention check failed"), so it is told apart by trying again with one thing
/// changed at a time.
#[derive(Debug, PartialEq)]
pub(super) enum Forbidden {
    /// The same handshake without the `Authorization` header opened.
    Authorization,
    /// The proxy gave no CSRF token to send.
    NoCsrfToken,
    /// A CSRF token asked for again opened it: the first was stale.
    StaleCsrfToken,
    /// The server's own Origin opened it: the Origin sent is refused.
    OtherOrigin,
    /// Nothing was left to change but the Origin, which was the server's own.
    Origin,
    /// The CSRF token changed between two asks (a session keeps one) and neither opened it,
    /// nor the server's own Origin: the token or the Origin, not told apart.
    TokenChanges,
    /// A try failed before the cause was told apart: its error.
    Untold(String),
}

/// Tells the cause of a 403 apart: without the `Authorization` header (unless it is the
/// session, as Qlik Cloud's access token is), then with a CSRF token asked for again, then with
/// the server's own Origin; what is left is the Origin. `opens` tries one handshake.
fn tell_forbidden(
    mut sent: Sent<'_>,
    own_origin: &str,
    bearer_is_the_session: bool,
    fresh_csrf: impl FnOnce() -> Result<Option<SecretText>, UserError>,
    mut opens: impl FnMut(Sent<'_>) -> Result<bool, UserError>,
) -> Forbidden {
    let untold = |e: UserError| Forbidden::Untold(crate::error::for_people(&e.to_string()));
    if sent.bearer.is_some() && !bearer_is_the_session {
        sent.bearer = None;
        match opens(sent) {
            Ok(true) => return Forbidden::Authorization,
            Ok(false) => {}
            Err(e) => return untold(e),
        }
    }
    if sent.csrf.is_none() {
        return Forbidden::NoCsrfToken;
    }
    let fresh = match fresh_csrf() {
        Ok(fresh) => fresh,
        Err(e) => return untold(e),
    };
    // The same token again needs no second try.
    if let Some(fresh) = fresh.as_ref().filter(|fresh| Some(*fresh) != sent.csrf) {
        match opens(Sent {
            csrf: Some(fresh),
            ..sent
        }) {
            Ok(true) => return Forbidden::StaleCsrfToken,
            Ok(false) => {}
            Err(e) => return untold(e),
        }
    }
    if !sent.origin.eq_ignore_ascii_case(own_origin) {
        match opens(Sent {
            origin: own_origin,
            csrf: fresh.as_ref().or(sent.csrf),
            ..sent
        }) {
            Ok(true) => return Forbidden::OtherOrigin,
            Ok(false) => {}
            Err(e) => return untold(e),
        }
    }
    // A token that changes at every ask is not the session's one: then the token may be what
    // is refused, and the Origin is not the only thing left.
    if fresh.as_ref().is_some_and(|fresh| Some(fresh) != sent.csrf) {
        return Forbidden::TokenChanges;
    }
    Forbidden::Origin
}

/// A QSEoW 403's words and fix, by its cause.
pub(super) fn qseow_forbidden(
    refused: &str,
    forbidden: &Forbidden,
    origin: &str,
    own_origin: &str,
) -> (String, String) {
    let host = origin_host(origin);
    let add_host = format!(
        "add '{host}' to the host allow list: qs-jwt setup-qseow --apply --allow-host {host} \
         (with your --qrs connection), or give --origin a name the list holds"
    );
    match forbidden {
        Forbidden::Authorization => (
            format!(
                "{refused}; without the Authorization header the same handshake opened: QSEoW \
                 (November 2024 and later) refuses an engine WebSocket that carries one"
            ),
            "send no Authorization header on the WebSocket: log in with the JWT over HTTP \
             first, then send the session's cookie, its CSRF token and an Origin (login-qseow \
             --output session prints them)"
                .to_owned(),
        ),
        Forbidden::NoCsrfToken => (
            format!("{refused}: the CSRF token is missing"),
            "this QSEoW checks a CSRF token but /qps/csrftoken gave none: update the proxy, or \
             check the prefix"
                .to_owned(),
        ),
        Forbidden::StaleCsrfToken => (
            format!(
                "{refused}; with a CSRF token asked for again it opened: the first token was \
                 stale, no longer the session's"
            ),
            "ask /qps/csrftoken for the token with the session's cookie right before each \
             WebSocket, and send it as ?qlik-csrf-token="
                .to_owned(),
        ),
        Forbidden::OtherOrigin => (
            format!(
                "{refused}; with the server's own Origin {own_origin} it opened: the Origin \
                 '{origin}' is refused, its host '{host}' is not in the virtual proxy's host \
                 allow list"
            ),
            add_host,
        ),
        Forbidden::Origin => (
            format!(
                "{refused}: the CSRF token was fresh and no Authorization header was sent, so \
                 the Origin '{origin}' is refused: its host '{host}' is not in the virtual \
                 proxy's host allow list"
            ),
            add_host,
        ),
        Forbidden::TokenChanges => (
            format!(
                "{refused}; /qps/csrftoken gave another token when asked again (a session keeps \
                 one) and the handshake did not open with it either: the proxy may check a \
                 token other than those it hands out, or refuse the Origin '{origin}'"
            ),
            format!(
                "check that one proxy node serves the session from the login to the WebSocket \
                 (sticky load balancing) and that the proxy is up to date; and that the host \
                 allow list holds '{host}' (doctor-qseow shows it)"
            ),
        ),
        Forbidden::Untold(error) => (
            format!("{refused}; trying again to tell the cause apart failed: {error}"),
            format!(
                "a WebSocket needs the Origin's host ('{host}') in the host allow list, the \
                 session's current CSRF token and no Authorization header: run again with \
                 --loglevel debug"
            ),
        ),
    }
}

/// A Qlik Cloud 403's words and fix, by its cause.
pub(super) fn qscloud_forbidden(
    refused: &str,
    forbidden: &Forbidden,
    origin: &str,
    own_origin: &str,
) -> (String, String) {
    match forbidden {
        Forbidden::StaleCsrfToken => (
            format!(
                "{refused}; with a CSRF token asked for again it opened: the first token was \
                 stale, no longer the session's"
            ),
            "ask /api/v1/csrf-token for the token with the session's cookies right before \
             each WebSocket, and send it as ?qlik-csrf-token="
                .to_owned(),
        ),
        Forbidden::OtherOrigin => (
            format!(
                "{refused}; with the tenant's own Origin {own_origin} it opened: the Origin \
                 '{origin}' is refused"
            ),
            format!(
                "a page on '{origin}' reaches the engine through a web integration that allows \
                 that origin (Administration > Web), its id sent as qlik-web-integration-id; \
                 or send the tenant's own origin"
            ),
        ),
        Forbidden::Untold(error) => (
            format!("{refused}; trying again to tell the cause apart failed: {error}"),
            "run again with --loglevel debug".to_owned(),
        ),
        Forbidden::TokenChanges => (
            format!(
                "{refused}; /api/v1/csrf-token gave another token when asked again (a session \
                 keeps one) and the handshake did not open with it either"
            ),
            "log in again and ask for the CSRF token once, right before the WebSocket; run \
             again with --loglevel debug to see the requests"
                .to_owned(),
        ),
        Forbidden::Authorization | Forbidden::NoCsrfToken | Forbidden::Origin => (
            format!(
                "{refused}: the tenant refused its own Origin with the session's current CSRF \
                 token"
            ),
            "log in again, sending every cookie of the session; run again with --loglevel \
             debug to see the requests"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "https://qlik.example.com";

    /// What one try sent: its Origin, CSRF token and whether it carried a bearer.
    type Tried = (String, Option<String>, bool);

    /// Runs `tell_forbidden` with a server that opens a handshake when `opens_when` says so,
    /// and a fresh CSRF token `fresh`; the cause and every try.
    fn tell(
        sent: Sent<'_>,
        bearer_is_the_session: bool,
        fresh: Option<&str>,
        opens_when: impl Fn(&Tried) -> bool,
    ) -> (Forbidden, Vec<Tried>) {
        let mut tried = Vec::new();
        let forbidden = tell_forbidden(
            sent,
            OWN,
            bearer_is_the_session,
            || Ok(fresh.map(SecretText::composed)),
            |sent: Sent<'_>| {
                let this = (
                    sent.origin.to_owned(),
                    sent.csrf.map(|c| c.expose().to_owned()),
                    sent.bearer.is_some(),
                );
                let open = opens_when(&this);
                tried.push(this);
                Ok(open)
            },
        );
        (forbidden, tried)
    }

    #[test]
    fn a_403_is_told_apart_one_change_at_a_time() {
        let old = SecretText::composed("old-token");
        let jwt = SecretText::composed("a.jwt.sig");
        let mashup = "https://mashup.example.com";
        let sent = |origin, bearer| Sent {
            origin,
            csrf: Some(&old),
            bearer,
        };
        // An Authorization header: gone, it opens at the first try.
        let (why, tried) = tell(sent(OWN, Some(&jwt)), false, Some("new"), |t| !t.2);
        assert_eq!(why, Forbidden::Authorization);
        assert_eq!(
            tried,
            [(OWN.to_owned(), Some("old-token".to_owned()), false)]
        );
        // A stale token: a fresh one opens.
        let (why, tried) = tell(sent(OWN, None), false, Some("new"), |t| {
            t.1.as_deref() == Some("new")
        });
        assert_eq!(why, Forbidden::StaleCsrfToken);
        assert_eq!(tried.len(), 1);
        // Another Origin: the server's own opens, with the fresh token.
        let (why, tried) = tell(sent(mashup, None), false, Some("new"), |t| t.0 == OWN);
        assert_eq!(why, Forbidden::OtherOrigin);
        assert_eq!(
            tried,
            [
                (mashup.to_owned(), Some("new".to_owned()), false),
                (OWN.to_owned(), Some("new".to_owned()), false)
            ]
        );
        // The server's own Origin, the session's one token, and nothing opens: the Origin is
        // what is left, and the same token is not tried twice.
        let (why, tried) = tell(sent(OWN, None), false, Some("old-token"), |_| false);
        assert_eq!(why, Forbidden::Origin);
        assert!(tried.is_empty(), "{tried:?}");
        // A token that changed at the second ask, and nothing opens: not told apart.
        let (why, tried) = tell(sent(OWN, None), false, Some("new"), |_| false);
        assert_eq!(why, Forbidden::TokenChanges);
        assert_eq!(tried.len(), 1, "the own origin is not tried twice");
        // No fresh token to be had: the Origin is still tried.
        let (why, tried) = tell(sent(mashup, None), false, None, |t| t.0 == OWN);
        assert_eq!(why, Forbidden::OtherOrigin);
        assert_eq!(
            tried,
            [(OWN.to_owned(), Some("old-token".to_owned()), false)]
        );
        // Qlik Cloud's access token is the session: it stays in every try.
        let (why, tried) = tell(sent(mashup, Some(&jwt)), true, Some("new"), |t| {
            t.0 == OWN && t.2
        });
        assert_eq!(why, Forbidden::OtherOrigin);
        assert!(tried.iter().all(|t| t.2), "{tried:?}");
        // No CSRF token at all.
        let none = Sent {
            origin: OWN,
            csrf: None,
            bearer: None,
        };
        let (why, tried) = tell(none, false, Some("new"), |_| true);
        assert_eq!(why, Forbidden::NoCsrfToken);
        assert!(tried.is_empty());
    }

    #[test]
    fn a_try_that_fails_leaves_the_cause_untold_in_words() {
        let old = SecretText::composed("old-token");
        let sent = Sent {
            origin: OWN,
            csrf: Some(&old),
            bearer: None,
        };
        let why = tell_forbidden(
            sent,
            OWN,
            false,
            || Ok(Some(SecretText::composed("new"))),
            |_: Sent<'_>| Err(UserError::runtime("cannot connect to qlik.example.com")),
        );
        assert_eq!(
            why,
            Forbidden::Untold("cannot connect to qlik.example.com".to_owned())
        );
        let (found, fix) = qseow_forbidden("the handshake got HTTP 403", &why, OWN, OWN);
        assert!(found.contains("trying again to tell the cause apart failed: cannot connect"));
        assert!(fix.contains("'qlik.example.com'"), "{fix}");
    }
}
