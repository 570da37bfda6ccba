//! The Qlik engine (QIX) over a WebSocket: the JSON-RPC 2.0 conversation that proves a session
//! can use the engine as apps do. Once the socket is open the engine sends the `OnConnected`
//! notification (`qSessionState`); qs-jwt asks, on the global handle -1,
//! `GetAuthenticatedUser` and `EngineVersion`, and with an app `OpenDoc`, then the app's
//! `GetAppLayout` for its title. The requests go out together, without waiting for
//! `OnConnected` (the engine queues them), so the proof takes one round trip, two with an app.
//!
//! Sources: Qlik's Engine API reference (help.qlik.com, "Engine API": `Global.GetAuthenticatedUser`,
//! `Global.EngineVersion` with `qVersion.qComponentVersion`, `Global.OpenDoc` with
//! `qDocName` and its `qReturn.qHandle`, `Doc.GetAppLayout` with `qLayout.qTitle`, the
//! notification `OnConnected` and its `qSessionState` values, the error codes: 5 access
//! denied, 1002 app not found). Pure but for [`prove`], which talks through `http::Socket`.

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::UserError;
use crate::http::Socket;

/// The replies the proof waits for, by request id.
const USER_ID: u64 = 1;
const VERSION_ID: u64 = 2;
const OPEN_DOC_ID: u64 = 3;
const LAYOUT_ID: u64 = 4;

/// The most messages read before the proof gives up (the engine may send notifications).
const MAX_MESSAGES: usize = 64;

/// One JSON-RPC request on `handle`.
pub fn request(id: u64, handle: i64, method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "handle": handle, "method": method, "params": params})
        .to_string()
}

/// A message from the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Reply { id: u64, result: Value },
    Error { id: u64, code: i64, message: String },
    Notification { method: String, params: Value },
}

/// Reads one engine message; None for what is not JSON-RPC.
pub fn parse(text: &str) -> Option<Incoming> {
    let value: Value = serde_json::from_str(text).ok()?;
    if let Some(method) = value.get("method").and_then(Value::as_str)
        && value.get("id").is_none()
    {
        return Some(Incoming::Notification {
            method: method.to_owned(),
            params: value.get("params").cloned().unwrap_or(Value::Null),
        });
    }
    let id = value.get("id")?.as_u64()?;
    if let Some(error) = value.get("error") {
        return Some(Incoming::Error {
            id,
            code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: [
                error.get("message").and_then(Value::as_str),
                error.get("parameter").and_then(Value::as_str),
            ]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(": "),
        });
    }
    Some(Incoming::Reply {
        id,
        result: value.get("result").cloned().unwrap_or(Value::Null),
    })
}

/// What `OnConnected`'s state means: None for a usable session (created or attached), else
/// Qlik's state in words and what to change.
pub fn session_state_problem(state: &str) -> Option<(String, &'static str)> {
    let (words, fix) = match state {
        "SESSION_CREATED" | "SESSION_ATTACHED" => return None,
        "SESSION_ERROR_NO_LICENSE" => (
            "the user has no license (access pass) for the engine",
            "allocate a professional or analyzer access (QMC > License management) or a license rule that covers the user",
        ),
        "SESSION_ERROR_LICENSE_RENEW" => (
            "the engine must renew the user's license and could not",
            "check the license service and the user's allocation, then try again",
        ),
        "SESSION_ERROR_LIMIT_EXCEEDED" => (
            "the user has too many sessions open",
            "end the user's other sessions (each probe ends its own), or wait for them to time out",
        ),
        "SESSION_ERROR_SECURITY_HEADER_CHANGED" => (
            "the session's security header changed (the user or its attributes)",
            "open a new session: log in again",
        ),
        "SESSION_ACCESS_DENIED" => (
            "the engine denies the user access",
            "check the user's access and the security rules for the engine (QMC > Security rules)",
        ),
        _ => (
            "the engine did not make a session",
            "check the engine's log for this user",
        ),
    };
    Some((format!("{words} ({state})"), fix))
}

/// `GetAuthenticatedUser`'s answer: `UserDirectory=CORP; UserId=anna` on QSEoW, the user's id
/// on Qlik Cloud.
pub fn authenticated_user(result: &Value) -> Option<String> {
    result.get("qReturn")?.as_str().map(str::to_owned)
}

/// `EngineVersion`'s answer.
pub fn engine_version(result: &Value) -> Option<String> {
    result
        .pointer("/qVersion/qComponentVersion")?
        .as_str()
        .map(str::to_owned)
}

/// Whether QSEoW's `UserDirectory=CORP; UserId=anna` names `directory` and `id` (Qlik compares
/// them without letter case).
pub fn same_qseow_user(said: &str, directory: &str, id: &str) -> bool {
    let mut dir = None;
    let mut user = None;
    for part in said.split(';') {
        if let Some((name, value)) = part.trim().split_once('=') {
            match name.trim() {
                n if n.eq_ignore_ascii_case("UserDirectory") => dir = Some(value.trim()),
                n if n.eq_ignore_ascii_case("UserId") => user = Some(value.trim()),
                _ => {}
            }
        }
    }
    dir.is_some_and(|d| d.eq_ignore_ascii_case(directory))
        && user.is_some_and(|u| u.eq_ignore_ascii_case(id))
}

/// What the engine said, step by step; the first failure ends the proof.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// `OnConnected`'s `qSessionState`.
    pub session_state: Option<String>,
    pub user: Option<String>,
    pub version: Option<String>,
    /// The app's title, when one was opened.
    pub app_title: Option<String>,
    /// Why the proof stopped: the step and what the engine said.
    #[serde(skip)]
    pub failure: Option<EngineFailure>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineFailure {
    /// OnConnected with a state that is no session.
    SessionState(String),
    /// The engine closed the socket (with its reason, when it gave one).
    Closed(Option<String>),
    /// OpenDoc refused: the error's code and message.
    OpenDoc { code: i64, message: String },
    /// Another request refused.
    Refused {
        method: &'static str,
        code: i64,
        message: String,
    },
    /// The engine's answers ran out before the replies came.
    NoAnswer,
    /// The WebSocket broke after it opened (time, TLS, the protocol, a message too large): the
    /// error's words.
    Broken(String),
}

impl EngineFailure {
    /// The failure in words, for the step it ended.
    pub fn words(&self) -> String {
        match self {
            Self::SessionState(state) => format!("OnConnected said {state}"),
            Self::Closed(Some(reason)) => format!("the engine closed the socket ({reason})"),
            Self::Closed(None) => "the engine closed the socket".to_owned(),
            Self::OpenDoc { code, message } => format!("OpenDoc refused: error {code}, {message}"),
            Self::Refused {
                method,
                code,
                message,
            } => format!("{method} failed: error {code}, {message}"),
            Self::NoAnswer => "the engine stopped answering before every reply came".to_owned(),
            Self::Broken(words) => words.clone(),
        }
    }
}

/// The conversation on an open socket: the requests at once, then the replies, in any order.
/// What the engine says is in the conversation; so is a socket that broke on the way
/// ([`EngineFailure::Broken`]), with what was said before it.
pub fn prove(socket: &mut Socket, app: Option<&str>) -> Conversation {
    let mut said = Conversation::default();
    if let Err(err) = converse(socket, app, &mut said) {
        said.failure = Some(EngineFailure::Broken(crate::error::for_people(
            &err.to_string(),
        )));
    }
    said
}

/// [`prove`]'s conversation, into `said` as it goes.
fn converse(
    socket: &mut Socket,
    app: Option<&str>,
    said: &mut Conversation,
) -> Result<(), UserError> {
    // An engine that refuses the session sends OnConnected with its state and closes: a
    // request sent meanwhile fails, and the state, already received, is the answer to read.
    let mut sent = socket.send(&request(USER_ID, -1, "GetAuthenticatedUser", json!({})));
    if sent.is_ok() {
        sent = socket.send(&request(VERSION_ID, -1, "EngineVersion", json!({})));
    }
    if let (Ok(()), Some(app)) = (&sent, app) {
        sent = socket.send(&request(
            OPEN_DOC_ID,
            -1,
            "OpenDoc",
            json!({"qDocName": app}),
        ));
    }
    if let Err(err) = sent {
        return match socket.receive() {
            Ok(Ok(text)) => match parse(&text) {
                Some(Incoming::Notification { method, params }) if method == "OnConnected" => {
                    let state = params
                        .get("qSessionState")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    said.session_state = Some(state.clone());
                    said.failure = Some(match session_state_problem(&state) {
                        Some(_) => EngineFailure::SessionState(state),
                        None => EngineFailure::Closed(None),
                    });
                    Ok(())
                }
                _ => Err(err),
            },
            Ok(Err(reason)) => {
                said.failure = Some(EngineFailure::Closed(reason));
                Ok(())
            }
            Err(_) => Err(err),
        };
    }
    let mut waiting: Vec<u64> = vec![USER_ID, VERSION_ID];
    if app.is_some() {
        waiting.push(OPEN_DOC_ID);
    }
    for _ in 0..MAX_MESSAGES {
        if waiting.is_empty() && said.session_state.is_some() {
            break;
        }
        let text = match socket.receive()? {
            Ok(text) => text,
            Err(reason) => {
                said.failure = Some(EngineFailure::Closed(reason));
                return Ok(());
            }
        };
        match parse(&text) {
            Some(Incoming::Notification { method, params }) if method == "OnConnected" => {
                let state = params
                    .get("qSessionState")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                said.session_state = Some(state.clone());
                if session_state_problem(&state).is_some() {
                    said.failure = Some(EngineFailure::SessionState(state));
                    return Ok(());
                }
            }
            Some(Incoming::Reply { id, result }) => {
                waiting.retain(|w| *w != id);
                match id {
                    USER_ID => said.user = authenticated_user(&result),
                    VERSION_ID => said.version = engine_version(&result),
                    OPEN_DOC_ID => {
                        let handle = result
                            .pointer("/qReturn/qHandle")
                            .and_then(Value::as_i64)
                            .unwrap_or(1);
                        socket.send(&request(LAYOUT_ID, handle, "GetAppLayout", json!({})))?;
                        waiting.push(LAYOUT_ID);
                    }
                    LAYOUT_ID => {
                        said.app_title = result
                            .pointer("/qLayout/qTitle")
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                    }
                    _ => {}
                }
            }
            Some(Incoming::Error { id, code, message }) => {
                said.failure = Some(match id {
                    OPEN_DOC_ID => EngineFailure::OpenDoc { code, message },
                    USER_ID => EngineFailure::Refused {
                        method: "GetAuthenticatedUser",
                        code,
                        message,
                    },
                    VERSION_ID => EngineFailure::Refused {
                        method: "EngineVersion",
                        code,
                        message,
                    },
                    _ => EngineFailure::Refused {
                        method: "GetAppLayout",
                        code,
                        message,
                    },
                });
                return Ok(());
            }
            _ => {}
        }
    }
    if !waiting.is_empty() {
        said.failure = Some(EngineFailure::NoAnswer);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_as_replies_errors_and_notifications() {
        assert_eq!(
            parse(
                r#"{"jsonrpc":"2.0","method":"OnConnected","params":{"qSessionState":"SESSION_CREATED"}}"#
            ),
            Some(Incoming::Notification {
                method: "OnConnected".into(),
                params: json!({"qSessionState": "SESSION_CREATED"})
            })
        );
        assert_eq!(
            parse(
                r#"{"jsonrpc":"2.0","id":3,"error":{"code":5,"parameter":"","message":"Access denied"}}"#
            ),
            Some(Incoming::Error {
                id: 3,
                code: 5,
                message: "Access denied".into()
            })
        );
        let reply = parse(
            r#"{"jsonrpc":"2.0","id":2,"result":{"qVersion":{"qComponentVersion":"12.2044.0"}}}"#,
        );
        let Some(Incoming::Reply { id: 2, result }) = reply else {
            panic!()
        };
        assert_eq!(engine_version(&result).as_deref(), Some("12.2044.0"));
        assert_eq!(parse("not json"), None);
    }

    #[test]
    fn session_states_are_named_with_a_fix() {
        assert_eq!(session_state_problem("SESSION_CREATED"), None);
        assert_eq!(session_state_problem("SESSION_ATTACHED"), None);
        let (words, _) = session_state_problem("SESSION_ERROR_NO_LICENSE").unwrap();
        assert!(words.contains("no license") && words.contains("SESSION_ERROR_NO_LICENSE"));
    }

    #[test]
    fn the_qseow_user_is_compared_without_letter_case() {
        assert!(same_qseow_user(
            "UserDirectory=CORP; UserId=anna",
            "corp",
            "Anna"
        ));
        assert!(!same_qseow_user(
            "UserDirectory=CORP; UserId=anna",
            "CORP",
            "bob"
        ));
        assert!(!same_qseow_user("UserId=anna", "CORP", "anna"));
    }
}
