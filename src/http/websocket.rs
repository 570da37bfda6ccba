//! The engine's WebSocket: opened here, as every connection is, with the HTTP client's TLS
//! settings (the operating system's store and `--cacert`, pinned self-signed certificates, a
//! client certificate, `--insecure`), its proxy (`https_proxy`, CONNECT) and its time limit, a
//! deadline for the whole conversation. tungstenite speaks the protocol over the rustls stream
//! (its own TLS features off: one TLS, one crypto backend). Frames and messages are bounded.
//! Nothing here logs a header or the query: the cookie and the CSRF token are secrets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use tungstenite::client::ClientRequestBuilder;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{HandshakeError, Message, WebSocket};

use super::{Client, Server, proxy_shown, tls_failure};
use crate::debug;
use crate::error::UserError;
use crate::secret::SecretText;

/// The most one engine message may hold: the replies of a proof are a few hundred bytes.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

type Stream = StreamOwned<ClientConnection, TcpStream>;

/// What the handshake asks for: a path below the server's base path (its query the caller's,
/// a secret: the CSRF token), and the headers of a browser's WebSocket.
pub struct Upgrade<'a> {
    pub path: String,
    pub cookies: Option<&'a SecretText>,
    pub bearer: Option<&'a SecretText>,
    pub origin: &'a str,
}

/// The handshake's outcome: an open socket, or the server's refusal (its status and body).
pub enum Opened {
    Open(Box<Socket>),
    Refused { status: u16, body: Vec<u8> },
}

/// An open WebSocket and the deadline of the conversation.
pub struct Socket {
    socket: WebSocket<Stream>,
    deadline: Instant,
    host: String,
}

impl Client {
    /// Opens `upgrade.path` as a WebSocket (`wss://`), the conversation bounded by the client's
    /// time limit and never past the run's deadline (`--timeout` is for the whole proof).
    pub fn websocket(&self, upgrade: &Upgrade<'_>) -> Result<Opened, UserError> {
        let deadline = Instant::now() + super::request_limit(self.timeout, super::time_left());
        let server = &self.server;
        let host = server.shown();
        let tcp = self.connect(server, deadline)?;
        let name = ServerName::try_from(server.bare_host().to_owned()).map_err(|_| {
            UserError::runtime(format!("the host {host} is not a valid name for TLS"))
        })?;
        let connection = ClientConnection::new(Arc::clone(&self.tls), name)
            .map_err(|e| tls_failure(&host, &e))?;
        let mut stream = StreamOwned::new(connection, tcp);
        while stream.conn.is_handshaking() {
            set_timeouts(&stream.sock, deadline, &host)?;
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| io_failure(&host, &e))?;
        }
        let url = format!(
            "wss://{}{}{}",
            server.shown(),
            server.base_path,
            upgrade.path
        );
        let uri: tungstenite::http::Uri = url
            .parse()
            .map_err(|_| UserError::runtime(format!("the engine's URL for {host} is not valid")))?;
        let mut request = ClientRequestBuilder::new(uri)
            .with_header("Origin", upgrade.origin)
            .with_header("User-Agent", concat!("qs-jwt/", env!("CARGO_PKG_VERSION")));
        if let Some(cookies) = upgrade.cookies {
            request = request.with_header("Cookie", cookies.expose());
        }
        if let Some(bearer) = upgrade.bearer {
            request = request.with_header("Authorization", format!("Bearer {}", bearer.expose()));
        }
        debug!(
            "WebSocket {}{}{} with Origin {}",
            server.origin(),
            server.base_path,
            upgrade.path.split('?').next().unwrap_or_default(),
            upgrade.origin
        );
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        set_timeouts(&stream.sock, deadline, &host)?;
        match tungstenite::client::client_with_config(request, stream, Some(config)) {
            Ok((socket, _)) => Ok(Opened::Open(Box::new(Socket {
                socket,
                deadline,
                host,
            }))),
            Err(HandshakeError::Failure(tungstenite::Error::Http(response))) => {
                let status = response.status().as_u16();
                let body = response.body().clone().unwrap_or_default();
                debug!("the WebSocket handshake got HTTP {status}");
                Ok(Opened::Refused { status, body })
            }
            Err(HandshakeError::Failure(e)) => Err(ws_failure(&host, &e)),
            Err(HandshakeError::Interrupted(_)) => Err(timed_out(&host)),
        }
    }

    /// A TCP connection to the server, or through the CONNECT proxy, before the deadline.
    fn connect(&self, server: &Server, deadline: Instant) -> Result<TcpStream, UserError> {
        let port = server.port.unwrap_or(443);
        let host = server.shown();
        let (target, via) = match &self.proxy {
            Some(proxy) => {
                let authority = proxy
                    .split_once("://")
                    .map_or(proxy.as_str(), |(_, rest)| rest)
                    .trim_end_matches('/');
                let authority = authority.rsplit('@').next().unwrap_or(authority);
                let authority = if authority.contains(':') {
                    authority.to_owned()
                } else {
                    format!("{authority}:80")
                };
                (
                    authority,
                    format!(" (through the proxy {})", proxy_shown(proxy)),
                )
            }
            None => (format!("{}:{port}", server.bare_host()), String::new()),
        };
        let addresses: Vec<_> = target
            .to_socket_addrs()
            .map_err(|_| {
                UserError::runtime(format!(
                    "cannot find the host {host}{via}: the name does not resolve"
                ))
            })?
            .collect();
        let mut last = None;
        let mut tcp = None;
        for address in addresses {
            let left = left(deadline).ok_or_else(|| timed_out(&host))?;
            match TcpStream::connect_timeout(&address, left) {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some(tcp) = tcp else {
            return Err(match last {
                Some(e) if e.kind() == std::io::ErrorKind::TimedOut => timed_out(&host),
                Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    UserError::runtime(format!("cannot connect to {host}{via}: connection refused"))
                }
                _ => UserError::runtime(format!("cannot connect to {host}{via}")),
            });
        };
        if self.proxy.is_some() {
            set_timeouts(&tcp, deadline, &host)?;
            let authority = format!("{}:{port}", server.host);
            (&tcp)
                .write_all(
                    format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes(),
                )
                .map_err(|e| io_failure(&host, &e))?;
            let mut reader = BufReader::new((&tcp).take(16 * 1024));
            let mut status = String::new();
            reader
                .read_line(&mut status)
                .map_err(|e| io_failure(&host, &e))?;
            loop {
                let mut line = String::new();
                let n = reader
                    .read_line(&mut line)
                    .map_err(|e| io_failure(&host, &e))?;
                if n == 0 || line.trim_end().is_empty() {
                    break;
                }
            }
            if status.split_whitespace().nth(1) != Some("200") {
                return Err(UserError::runtime(format!(
                    "the proxy did not connect to {host}{via}: {}",
                    crate::render::escape(status.trim_end())
                )));
            }
        }
        Ok(tcp)
    }
}

impl Socket {
    /// Sends one text message (a JSON-RPC request).
    pub fn send(&mut self, text: &str) -> Result<(), UserError> {
        set_timeouts(self.socket.get_ref().get_ref(), self.deadline, &self.host)?;
        self.socket
            .send(Message::text(text))
            .map_err(|e| ws_failure(&self.host, &e))
    }

    /// The next text message, or None when the server closed the socket (its close reason,
    /// when it gave one, in the error's stead: Qlik closes with a reason on some refusals).
    pub fn receive(&mut self) -> Result<Result<String, Option<String>>, UserError> {
        loop {
            set_timeouts(self.socket.get_ref().get_ref(), self.deadline, &self.host)?;
            match self.socket.read() {
                Ok(Message::Text(text)) => return Ok(Ok(text.as_str().to_owned())),
                Ok(Message::Close(frame)) => {
                    return Ok(Err(frame.map(|f| f.reason.as_str().to_owned())));
                }
                Ok(_) => continue,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Ok(Err(None));
                }
                Err(e) => return Err(ws_failure(&self.host, &e)),
            }
        }
    }

    /// Closes the socket politely; the engine session ends with it.
    pub fn close(mut self) {
        let _ = set_timeouts(self.socket.get_ref().get_ref(), self.deadline, &self.host);
        let _ = self.socket.close(None);
        let _ = self.socket.flush();
    }
}

fn left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

fn set_timeouts(tcp: &TcpStream, deadline: Instant, host: &str) -> Result<(), UserError> {
    let left = left(deadline).ok_or_else(|| timed_out(host))?;
    tcp.set_read_timeout(Some(left))
        .and_then(|()| tcp.set_write_timeout(Some(left)))
        .map_err(|e| io_failure(host, &e))
}

fn timed_out(host: &str) -> UserError {
    UserError::runtime(format!(
        "the engine at {host} did not answer within --timeout"
    ))
    .with_hint("check that the engine runs and the proxy reaches it, or raise --timeout")
}

fn io_failure(host: &str, e: &std::io::Error) -> UserError {
    if matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    ) {
        return timed_out(host);
    }
    if let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return tls_failure(host, tls);
    }
    UserError::runtime(format!("the connection to {host} failed: {e}"))
}

fn ws_failure(host: &str, e: &tungstenite::Error) -> UserError {
    match e {
        tungstenite::Error::Io(io) => io_failure(host, io),
        tungstenite::Error::Tls(_) => UserError::runtime(format!("the TLS with {host} failed")),
        tungstenite::Error::Capacity(_) => UserError::runtime(format!(
            "the engine at {host} sent a message larger than {} MiB, far more than a proof needs",
            MAX_MESSAGE_BYTES / (1024 * 1024)
        )),
        tungstenite::Error::Protocol(p) => UserError::runtime(format!(
            "the engine at {host} broke the WebSocket protocol: {p}"
        )),
        other => UserError::runtime(format!("the WebSocket to {host} failed: {other}")),
    }
}
