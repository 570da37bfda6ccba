//! A stand-in Qlik engine behind the proxy stand-ins: the WebSocket handshake checked by the
//! rules Qlik publishes for it (issue 28: the session cookie; the CSRF token of that session in
//! `qlik-csrf-token`; the Origin's host in the virtual proxy's host allow list; no
//! `Authorization` header; a virtual proxy linked to the central proxy, else 400), then enough
//! QIX JSON-RPC: `OnConnected` with a `qSessionState`, `GetAuthenticatedUser`, `EngineVersion`,
//! `OpenDoc` (error 5 for an app the user may not open, 1002 for none) and `GetAppLayout`.
//! The wording of the refusals is the stand-in's own (Qlik's is not published).

use std::io::{self, Read, Write};

use serde_json::{Value, json};
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

use super::qlik_server::{Answer, Recorded, cookie};

/// The version the stand-in engine reports.
pub const ENGINE_VERSION: &str = "12.2044.0";

/// An app the engine holds: its id, title, and the users (their engine names) who may open it.
#[derive(Clone, Debug)]
pub struct App {
    pub id: String,
    pub title: String,
    pub readers: Vec<String>,
}

/// What the engine knows of a session that reached it.
pub struct EngineSession {
    /// What GetAuthenticatedUser answers.
    pub user: String,
    /// OnConnected's qSessionState.
    pub state: String,
    pub apps: Vec<App>,
    /// A lying engine: a 2 MiB message before OnConnected.
    pub flood: bool,
}

/// Whether the request asks for a WebSocket.
pub fn is_upgrade(request: &Recorded) -> bool {
    request
        .header("upgrade")
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The rules of the handshake, in the order a proxy applies them; the refusal, if any.
pub struct Handshake<'a> {
    pub linked: bool,
    /// The session cookie's name, and the session's CSRF token if it has one.
    pub cookie_name: &'a str,
    pub session: bool,
    /// Qlik Cloud: an OAuth access token the tenant issued came as `Authorization: Bearer`, which
    /// stands for the session cookie (and is then no hijacking).
    pub bearer: bool,
    pub csrf_token: Option<&'a str>,
    /// The host allow list; None: the Origin must be the server's own host.
    pub allow_list: &'a [String],
}

pub fn check(request: &Recorded, rules: &Handshake<'_>) -> Result<(), Answer> {
    let refuse = |status: u16, text: &str| Err(Answer::new(status, "text/plain", text));
    if !rules.linked {
        return refuse(400, "Bad Request");
    }
    if !rules.bearer && (cookie(request, rules.cookie_name).is_none() || !rules.session) {
        return refuse(401, "Unauthorized");
    }
    if !rules.bearer && request.header("authorization").is_some() {
        return refuse(
            403,
            "Cross-Site Websocket Hijacking attack prevention check failed (Authorization)",
        );
    }
    let sent = query(&request.target, "qlik-csrf-token");
    if rules.csrf_token.is_none() || sent.as_deref() != rules.csrf_token {
        return refuse(
            403,
            "Cross-Site Websocket Hijacking attack prevention check failed (CSRF token)",
        );
    }
    let origin_host = request
        .header("origin")
        .and_then(|o| o.split_once("://").map(|(_, rest)| rest))
        .map(|rest| rest.split(':').next().unwrap_or(rest).trim_end_matches('/'));
    if !origin_host.is_some_and(|host| {
        rules
            .allow_list
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host))
    }) {
        return refuse(
            403,
            "Cross-Site Websocket Hijacking attack prevention check failed (Origin)",
        );
    }
    Ok(())
}

fn query(target: &str, name: &str) -> Option<String> {
    let (_, query) = target.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n == name).then(|| v.to_owned())
    })
}

/// Answers the handshake (101) and serves the engine's conversation until the client closes.
pub fn serve<S: Read + Write>(
    mut stream: S,
    request: &Recorded,
    session: &EngineSession,
) -> io::Result<()> {
    let key = request.header("sec-websocket-key").unwrap_or_default();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    stream.write_all(
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .as_bytes(),
    )?;
    stream.flush()?;
    let mut socket = WebSocket::from_raw_socket(stream, Role::Server, None);
    let send = |socket: &mut WebSocket<S>, value: Value| {
        socket
            .send(Message::text(value.to_string()))
            .map_err(io::Error::other)
    };
    if session.flood {
        let _ = socket.send(Message::text("x".repeat(2 * 1024 * 1024)));
        while socket.read().is_ok() {}
        return Ok(());
    }
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "method": "OnConnected", "params": {"qSessionState": session.state}}),
    )?;
    if !matches!(
        session.state.as_str(),
        "SESSION_CREATED" | "SESSION_ATTACHED"
    ) {
        // A close handshake, reading what the client sent meanwhile until it answers: closing
        // with its requests unread would reset the connection and lose OnConnected.
        let _ = socket.close(None);
        while socket.read().is_ok() {}
        return Ok(());
    }
    let mut opened: Option<&App> = None;
    loop {
        let text = match socket.read() {
            Ok(Message::Text(text)) => text.as_str().to_owned(),
            Ok(Message::Close(_)) | Err(_) => return Ok(()),
            Ok(_) => continue,
        };
        let Ok(call) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let id = call["id"].clone();
        let reply = match call["method"].as_str().unwrap_or_default() {
            "GetAuthenticatedUser" => json!({"qReturn": session.user}),
            "EngineVersion" => json!({"qVersion": {"qComponentVersion": ENGINE_VERSION}}),
            "OpenDoc" => {
                let name = call["params"]["qDocName"].as_str().unwrap_or_default();
                match session.apps.iter().find(|a| a.id == name) {
                    None => {
                        send(
                            &mut socket,
                            json!({"jsonrpc": "2.0", "id": id,
                            "error": {"code": 1002, "parameter": name, "message": "App not found"}}),
                        )?;
                        continue;
                    }
                    Some(app) if !app.readers.contains(&session.user) => {
                        send(
                            &mut socket,
                            json!({"jsonrpc": "2.0", "id": id,
                            "error": {"code": 5, "parameter": "", "message": "Access denied"}}),
                        )?;
                        continue;
                    }
                    Some(app) => {
                        opened = Some(app);
                        json!({"qReturn": {"qType": "Doc", "qHandle": 1, "qGenericId": app.id}})
                    }
                }
            }
            "GetAppLayout" => match opened {
                Some(app) => json!({"qLayout": {"qTitle": app.title, "qFileName": app.id}}),
                None => json!({}),
            },
            _ => {
                send(
                    &mut socket,
                    json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": -32601, "message": "Method not found"}}),
                )?;
                continue;
            }
        };
        send(
            &mut socket,
            json!({"jsonrpc": "2.0", "id": id, "result": reply}),
        )?;
    }
}
