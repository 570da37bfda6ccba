//! The engine proof that login-* and the doctors' --login share (not a command): after the
//! HTTP login, the session's CSRF token, the engine's WebSocket with the session's cookies, an
//! `Origin` and no `Authorization` header, then `engine`'s conversation; each step said, the
//! first that failed named in Qlik's terms with the one thing to change. `forbidden` opens the
//! WebSocket for both platforms, and tells a 403 apart by trying again one change at a time.
//!
//! Sources (issue 28): Qlik's support article "Extended WebSocket CSRF protection" (QSEoW
//! November 2024: `GET /<prefix>/qps/csrftoken`, the `qlik-csrf-token` header, the WebSocket's
//! `?qlik-csrf-token=` query, the Origin's host in the virtual proxy's host allow list, no
//! Authorization header, 403 otherwise); qlik.dev's CSRF token API (`GET /api/v1/csrf-token`)
//! and its WebSocket URL (`wss://<tenant>/app/<app id or SessionApp_...>`); a virtual proxy not
//! linked to the central proxy answers 400.

use serde::Serialize;

use crate::engine::{self, EngineFailure};
use crate::error::UserError;
use crate::http::{Server, Socket, percent_encode};
use crate::qlik::cloud::Tenant;
use crate::qlik::qseow::Proxy;
use crate::render::{escape, redacted};
use crate::secret::SecretText;

mod forbidden;

use forbidden::{Handshake, Handshaken, Sent, fresh_token, qscloud_forbidden, qseow_forbidden};

/// What the proof found, step by step, and `--output json`'s `engine` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineReport {
    pub proven: bool,
    pub steps: Vec<Step>,
    /// The engine's version (`EngineVersion`).
    pub version: Option<String>,
    /// The engine's user (`GetAuthenticatedUser`).
    pub user: Option<String>,
    /// The app opened with `--app`: its id and title.
    pub app: Option<String>,
    pub app_title: Option<String>,
    /// The first step that failed.
    pub failed_step: Option<&'static str>,
    /// The CSRF token the engine took (a secret, never serialized): `--output session` hands it
    /// over without asking Qlik again.
    #[serde(skip)]
    pub csrf_token: Option<SecretText>,
}

/// One step: its name, whether it passed, what was found, and the fix when it failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub step: &'static str,
    pub ok: bool,
    pub found: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

pub const CSRF_TOKEN: &str = "csrfToken";
pub const WEBSOCKET: &str = "websocket";
pub const ON_CONNECTED: &str = "onConnected";
pub const AUTHENTICATED_USER: &str = "authenticatedUser";
pub const ENGINE_VERSION: &str = "engineVersion";
pub const OPEN_DOC: &str = "openDoc";

impl EngineReport {
    fn pass(&mut self, step: &'static str, found: String) {
        self.steps.push(Step {
            step,
            ok: true,
            found,
            fix: None,
        });
    }

    fn fail(mut self, step: &'static str, found: String, fix: impl Into<String>) -> Self {
        self.steps.push(Step {
            step,
            ok: false,
            found,
            fix: Some(fix.into()),
        });
        self.failed_step = Some(step);
        self.proven = false;
        self
    }

    /// A proof that could not reach the engine (time, TLS, the network): the step it stopped
    /// at, with the error's words.
    pub fn unreachable(err: &UserError, app: Option<&str>) -> Self {
        let report = EngineReport {
            app: app.map(str::to_owned),
            ..EngineReport::default()
        };
        report.fail(
            WEBSOCKET,
            crate::error::for_people(&err.to_string()),
            err.hint()
                .unwrap_or("run again with --loglevel debug to see the requests")
                .to_owned(),
        )
    }

    /// The failed step's words and fix, for the error line and its hint.
    pub fn failure(&self) -> Option<(&str, Option<&str>)> {
        let step = self.steps.iter().find(|s| !s.ok)?;
        Some((&step.found, step.fix.as_deref()))
    }

    /// The report's lines for people, a step a line. A step's words may quote the server (a
    /// refused handshake's page, a close reason), which may echo the CSRF token or the cookie
    /// it was sent: they go through the one redaction, as the JSON report's do.
    pub fn text_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for step in &self.steps {
            let mark = if step.ok { "ok  " } else { "FAIL" };
            lines.push(format!(
                "  {mark} {:<18}{}",
                step.step,
                redacted(&step.found)
            ));
            if let Some(fix) = &step.fix {
                lines.push(format!("       fix: {}", redacted(fix)));
            }
        }
        lines
    }
}

/// How the engine is reached, from the command line.
pub struct EngineTarget<'a> {
    /// `--origin`, else the server's origin.
    pub origin: Option<&'a str>,
    /// `--app`: an app to open.
    pub app: Option<&'a str>,
}

/// The `Origin` sent: `--origin` (made an origin as clap parsed it, `cli::login::parse_origin`),
/// else the server's own.
pub fn origin(server: &Server, given: Option<&str>) -> String {
    given.map_or_else(|| server.origin(), str::to_owned)
}

/// The host of an origin, as the host allow list names it.
pub fn origin_host(origin: &str) -> &str {
    let rest = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let rest = rest.split('/').next().unwrap_or(rest);
    match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => rest.rsplit_once(':').map_or(rest, |(host, _)| host),
    }
}

/// The QSEoW proof through `proxy`'s virtual proxy with the session's `cookies`. `expected`
/// is the token's user (directory, id); `authorization` a JWT the WebSocket also sends as
/// `Authorization: Bearer` (`--websocket-authorization`), as clients written before November
/// 2024 do.
pub fn qseow(
    proxy: &Proxy,
    cookies: &SecretText,
    authorization: Option<&SecretText>,
    target: &EngineTarget<'_>,
    expected: Option<(&str, &str)>,
) -> Result<EngineReport, UserError> {
    let mut report = EngineReport {
        app: target.app.map(str::to_owned),
        ..EngineReport::default()
    };
    let server = proxy.server();
    let origin = origin(server, target.origin);
    let reply = proxy.csrf_token(cookies)?;
    let csrf = match (reply.status, reply.csrf_token) {
        (200..=299, Some(token)) => {
            report.pass(
                CSRF_TOKEN,
                "the session's CSRF token from /qps/csrftoken".to_owned(),
            );
            Some(token)
        }
        (404, _) => {
            report.pass(
                CSRF_TOKEN,
                "no /qps/csrftoken (QSEoW before November 2024): the WebSocket goes without a \
                 CSRF token"
                    .to_owned(),
            );
            None
        }
        (status, _) => {
            return Ok(report.fail(
                CSRF_TOKEN,
                format!(
                    "{server}/qps/csrftoken answered HTTP {status} without a qlik-csrf-token \
                     header: the session gets no CSRF token"
                ),
                "check that the session is the virtual proxy's (log in through the same prefix) \
                 and that the proxy is QSEoW November 2024 or later",
            ));
        }
    };
    let path = match target.app {
        Some(app) => format!("/app/{}", percent_encode(app)),
        None => "/app/engineData".to_owned(),
    };
    let shown = format!(
        "wss://{}{}{path}",
        server.origin().trim_start_matches("https://"),
        server.base_path
    );
    let handshake = Handshake {
        client: proxy.client(),
        path: &path,
        cookies: Some(cookies),
        sent: Sent {
            origin: &origin,
            csrf: csrf.as_ref(),
            bearer: authorization,
        },
        bearer_is_the_session: false,
        fresh_csrf: || {
            proxy
                .csrf_token(cookies)
                .map(|r| fresh_token(r.status, r.csrf_token))
        },
    };
    let socket = match handshake.open()? {
        Handshaken::Open(socket) => socket,
        Handshaken::Refused {
            status,
            body,
            forbidden,
        } => {
            let refused = refused(&shown, status, &body);
            let (found, fix) = match (status, forbidden) {
                (_, Some(forbidden)) => {
                    qseow_forbidden(&refused, &forbidden, &origin, &server.origin())
                }
                (400, _) => (
                    format!("{refused}: the virtual proxy is not linked to the central proxy"),
                    "link the virtual proxy to the proxy service: qs-jwt setup-qseow --apply (or \
                     QMC > Virtual proxies > Associated items > Proxies)"
                        .to_owned(),
                ),
                (401, _) => (
                    format!("{refused}: the proxy did not take the JWT session's cookie"),
                    "the session the JWT made is not the one the WebSocket carries: check the \
                     virtual proxy's session cookie header name, that every proxy node behind \
                     the name holds the session (sticky load balancing), and that the token is \
                     valid"
                        .to_owned(),
                ),
                _ => (
                    refused,
                    "check the proxy's log for the engine's WebSocket".to_owned(),
                ),
            };
            return Ok(report.fail(WEBSOCKET, found, fix));
        }
    };
    report.csrf_token = csrf;
    Ok(converse(
        report,
        socket,
        format!("opened {shown} with the session's cookie and Origin {origin}"),
        target.app,
        |user| match expected {
            Some((directory, id)) => engine::same_qseow_user(user, directory, id),
            None => true,
        },
        expected.map(|(d, i)| format!("UserDirectory={d}; UserId={i}")),
    ))
}

/// The Qlik Cloud proof on `tenant` with the session's `cookies` (or an OAuth access token as
/// `bearer`). `expected` is the session's user id (users/me).
pub fn qscloud(
    tenant: &Tenant,
    cookies: Option<&SecretText>,
    bearer: Option<&SecretText>,
    target: &EngineTarget<'_>,
    expected: Option<&str>,
) -> Result<EngineReport, UserError> {
    let mut report = EngineReport {
        app: target.app.map(str::to_owned),
        ..EngineReport::default()
    };
    let server = tenant.server();
    let origin = origin(server, target.origin);
    let reply = tenant.csrf_token(cookies, bearer)?;
    let csrf = match (reply.status, reply.csrf_token) {
        (200..=299, Some(token)) => {
            report.pass(
                CSRF_TOKEN,
                "the session's CSRF token from /api/v1/csrf-token".to_owned(),
            );
            token
        }
        (status, _) => {
            return Ok(report.fail(
                CSRF_TOKEN,
                format!("{server}/api/v1/csrf-token answered HTTP {status} without a qlik-csrf-token header"),
                "check that the session is alive (log in again) and that the tenant is reached at its own host",
            ));
        }
    };
    let app = target
        .app
        .map(str::to_owned)
        .unwrap_or_else(|| format!("SessionApp_{}", crate::commands::random_id()));
    let path = format!("/app/{}", percent_encode(&app));
    let shown = format!(
        "wss://{}{path}",
        server.origin().trim_start_matches("https://")
    );
    let handshake = Handshake {
        client: tenant.client(),
        path: &path,
        cookies,
        sent: Sent {
            origin: &origin,
            csrf: Some(&csrf),
            bearer,
        },
        // An OAuth access token is Qlik Cloud's own way in: it is kept in retries.
        bearer_is_the_session: true,
        fresh_csrf: || {
            tenant
                .csrf_token(cookies, bearer)
                .map(|r| fresh_token(r.status, r.csrf_token))
        },
    };
    let socket = match handshake.open()? {
        Handshaken::Open(socket) => socket,
        Handshaken::Refused {
            status,
            body,
            forbidden,
        } => {
            let refused = refused(&shown, status, &body);
            let (found, fix) = match (status, forbidden) {
                (_, Some(forbidden)) => {
                    qscloud_forbidden(&refused, &forbidden, &origin, &server.origin())
                }
                (401, _) => (
                    format!("{refused}: the session is not accepted"),
                    "log in again: the session ended or its cookies were not all sent".to_owned(),
                ),
                _ => (refused, "check the app id and the tenant".to_owned()),
            };
            return Ok(report.fail(WEBSOCKET, found, fix));
        }
    };
    report.csrf_token = Some(csrf);
    Ok(converse(
        report,
        socket,
        format!("opened {shown} with the session and Origin {origin}"),
        target.app,
        |user| expected.is_none_or(|e| e == user),
        expected.map(str::to_owned),
    ))
}

/// The rest of the proof once the WebSocket is open (`opened` says how): the engine's
/// conversation, the socket closed, and the steps it makes.
fn converse(
    mut report: EngineReport,
    mut socket: Box<Socket>,
    opened: String,
    app: Option<&str>,
    same_user: impl Fn(&str) -> bool,
    expected: Option<String>,
) -> EngineReport {
    report.pass(WEBSOCKET, opened);
    let said = engine::prove(&mut socket, app);
    socket.close();
    conversation(report, said, app, same_user, expected)
}

/// The fix when the conversation was cut: the socket broke, closed or went quiet.
const CUT_FIX: &str = "check that the URL reaches a Qlik engine and that nothing in between (a \
                       proxy, a load balancer) cuts or rewrites the WebSocket; run again with \
                       --loglevel debug";

/// The engine's conversation as steps.
fn conversation(
    mut report: EngineReport,
    said: engine::Conversation,
    app: Option<&str>,
    same_user: impl Fn(&str) -> bool,
    expected: Option<String>,
) -> EngineReport {
    report.version = said.version.clone();
    report.user = said.user.clone();
    report.app_title = said.app_title.clone();
    // A socket that broke, closed or went quiet ends the proof at the first step it left
    // unanswered, in its own words.
    let cut = match &said.failure {
        Some(
            failure @ (EngineFailure::Broken(_)
            | EngineFailure::NoAnswer
            | EngineFailure::Closed(_)),
        ) => Some(escape(&failure.words()).into_owned()),
        _ => None,
    };
    if let Some(EngineFailure::Closed(reason)) = &said.failure
        && said.session_state.is_none()
    {
        let reason = reason
            .as_deref()
            .map(|r| format!(" ({})", escape(r)))
            .unwrap_or_default();
        return report.fail(
            ON_CONNECTED,
            format!("the engine closed the socket before OnConnected{reason}"),
            "check the engine's log for this user: the engine made no session",
        );
    }
    match &said.session_state {
        Some(state) => match engine::session_state_problem(state) {
            Some((words, fix)) => {
                return report.fail(ON_CONNECTED, format!("OnConnected: {words}"), fix);
            }
            None => report.pass(ON_CONNECTED, format!("OnConnected: {state}")),
        },
        None => {
            return match cut {
                Some(words) => report.fail(
                    ON_CONNECTED,
                    format!("{words}, before OnConnected"),
                    CUT_FIX,
                ),
                None => report.fail(
                    ON_CONNECTED,
                    "the engine sent no OnConnected".to_owned(),
                    "check that the URL reaches a Qlik engine",
                ),
            };
        }
    }
    if let Some(EngineFailure::Refused {
        method,
        code,
        message,
    }) = &said.failure
    {
        let step = match *method {
            "GetAuthenticatedUser" => AUTHENTICATED_USER,
            "EngineVersion" => ENGINE_VERSION,
            _ => OPEN_DOC,
        };
        return report.fail(
            step,
            format!("{method} failed: error {code}, {}", escape(message)),
            "check the engine's log for this user",
        );
    }
    match &said.user {
        Some(user) if same_user(user) => {
            report.pass(AUTHENTICATED_USER, format!("the engine's user is '{user}'"))
        }
        Some(user) => {
            return report.fail(
                AUTHENTICATED_USER,
                format!(
                    "the engine's user is '{user}', not the token's '{}'",
                    expected.unwrap_or_default()
                ),
                "the WebSocket carries another session than the token's: send only the cookies \
                 of this login",
            );
        }
        None => {
            return match cut {
                Some(words) => report.fail(
                    AUTHENTICATED_USER,
                    format!("{words}, before GetAuthenticatedUser's reply"),
                    CUT_FIX,
                ),
                None => report.fail(
                    AUTHENTICATED_USER,
                    "GetAuthenticatedUser gave no user".to_owned(),
                    "check the engine's log",
                ),
            };
        }
    }
    match &said.version {
        Some(version) => report.pass(ENGINE_VERSION, format!("engine {version}")),
        None => {
            return match cut {
                Some(words) => report.fail(
                    ENGINE_VERSION,
                    format!("{words}, before EngineVersion's reply"),
                    CUT_FIX,
                ),
                None => report.fail(
                    ENGINE_VERSION,
                    "EngineVersion gave no version".to_owned(),
                    "check that the URL reaches a Qlik engine",
                ),
            };
        }
    }
    if let Some(app) = app {
        match &said.failure {
            Some(EngineFailure::OpenDoc { code, message }) => {
                let fix = match code {
                    5 => {
                        "give the user read access to the app: publish it to a stream the user \
                          can read, or a security rule that grants it (QMC > Security rules)"
                    }
                    1002 => "check the app's id (QMC > Apps, or the hub's URL of the app)",
                    _ => "check the engine's log for this app",
                };
                return report.fail(
                    OPEN_DOC,
                    format!(
                        "OpenDoc '{}' refused: error {code}, {}",
                        escape(app),
                        escape(message)
                    ),
                    fix,
                );
            }
            _ if said.app_title.is_none() => {
                return match cut {
                    Some(words) => report.fail(
                        OPEN_DOC,
                        format!("{words}, before the app '{}' opened", escape(app)),
                        CUT_FIX,
                    ),
                    None => report.fail(
                        OPEN_DOC,
                        format!("the app '{}' did not open", escape(app)),
                        "check the engine's log for this app",
                    ),
                };
            }
            _ => report.pass(
                OPEN_DOC,
                format!(
                    "opened '{}', titled '{}'",
                    escape(app),
                    escape(said.app_title.as_deref().unwrap_or_default())
                ),
            ),
        }
    } else if let Some(failure) = &said.failure {
        return report.fail(
            ENGINE_VERSION,
            format!("the engine stopped answering: {}", escape(&failure.words())),
            "check the engine's log",
        );
    }
    report.proven = true;
    report
}

/// The line said of a refused handshake at `shown`: its status and Qlik's words.
fn refused(shown: &str, status: u16, body: &[u8]) -> String {
    format!(
        "the handshake at {shown} got HTTP {status}{}",
        qlik_said(body)
    )
}

/// Qlik's words in a refused handshake's body, short and escaped, when it said any.
fn qlik_said(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let cut: String = text.chars().take(200).collect();
    format!(" ('{}')", escape(&cut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Conversation;

    fn steps(report: &EngineReport) -> Vec<(&'static str, bool)> {
        report.steps.iter().map(|s| (s.step, s.ok)).collect()
    }

    fn said(failure: EngineFailure) -> Conversation {
        Conversation {
            session_state: Some("SESSION_CREATED".to_owned()),
            user: Some("UserDirectory=CORP; UserId=anna".to_owned()),
            version: Some("12.2044.0".to_owned()),
            app_title: None,
            failure: Some(failure),
        }
    }

    #[test]
    fn a_server_echoing_a_secret_in_a_step_shows_it_nowhere_in_the_text_lines() {
        let token = SecretText::new("c5rf-t0ken-the-proxy-echoes-9f8e7d");
        let mut report = EngineReport::default();
        report.steps.push(Step {
            step: WEBSOCKET,
            ok: false,
            found: format!(
                "HTTP 403: the proxy said \"GET /app/engineData?qlik-csrf-token={} \x1b[31m\"",
                token.expose()
            ),
            fix: Some(format!("send {}", token.expose())),
        });
        let text = report.text_lines().join("\n");
        assert!(!text.contains(token.expose()), "{text}");
        assert!(text.contains("qlik-csrf-token="), "{text}");
        assert!(text.contains("\\x1b[31m"), "still escaped: {text}");
    }

    #[test]
    fn a_cut_conversation_fails_the_first_step_it_left_unanswered_in_its_own_words() {
        // Broken after OnConnected, before the user's reply.
        let mut broken = said(EngineFailure::Broken("the engine timed out".to_owned()));
        broken.user = None;
        broken.version = None;
        let report = conversation(EngineReport::default(), broken, None, |_| true, None);
        assert_eq!(
            steps(&report),
            [(ON_CONNECTED, true), (AUTHENTICATED_USER, false)]
        );
        assert_eq!(
            report.failure().unwrap().0,
            "the engine timed out, before GetAuthenticatedUser's reply"
        );
        assert_eq!(report.failure().unwrap().1, Some(CUT_FIX));
        // Quiet before the app opened: the app is not said to be open.
        let report = conversation(
            EngineReport::default(),
            said(EngineFailure::NoAnswer),
            Some("app-1"),
            |_| true,
            None,
        );
        assert!(!report.proven);
        assert_eq!(report.failed_step, Some(OPEN_DOC));
        assert_eq!(
            report.failure().unwrap().0,
            "the engine stopped answering before every reply came, before the app 'app-1' opened"
        );
        // Nothing at all: no OnConnected, in the socket's words.
        let nothing = Conversation {
            failure: Some(EngineFailure::Broken("a message too large".to_owned())),
            ..Conversation::default()
        };
        let report = conversation(EngineReport::default(), nothing, None, |_| true, None);
        assert_eq!(steps(&report), [(ON_CONNECTED, false)]);
        assert_eq!(
            report.failure().unwrap().0,
            "a message too large, before OnConnected"
        );
    }
}
