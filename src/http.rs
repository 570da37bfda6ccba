//! The only place that talks to a server: the login commands' HTTPS requests.
//!
//! What it guarantees, whoever calls it:
//! - TLS with rustls on the aws-lc-rs provider (the crate's one crypto backend), trusting the
//!   operating system's certificate store plus `--cacert`; `--insecure` turns verification off
//!   and the caller says so.
//! - Redirects are never followed: a token sent as `Authorization` must reach only the host the
//!   user named, and a redirect is an answer to report (QSEoW's redirect to a login page means
//!   "no session"), not an instruction.
//! - One time limit for the whole run (`--timeout`, set by [`set_deadline`]): each request may
//!   take only the time left before the run's deadline; replies read up to [`MAX_REPLY_BYTES`].
//!   Once a probe has a session to end, part of that time is kept for ending it
//!   ([`hold_back_for_cleanup`], [`for_cleanup`]).
//! - A proxy only from `https_proxy`/`HTTPS_PROXY` (or `all_proxy`/`ALL_PROXY`), as curl reads
//!   them for https URLs, and never for a host `NO_PROXY` names.
//! - Every failure is one line naming the host and the cause, with a hint where one helps.
//! - Nothing here logs a header's value: the token and the cookies are secrets.

mod tls;
mod websocket;

pub use websocket::{MAX_MESSAGE_BYTES, Opened, Socket, Upgrade};

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use ureq::Agent;
use ureq::http::Uri;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{ConnectProxyConnector, Connector as _, TcpConnector};

use crate::error::UserError;
use crate::input::{self, FileFlag};
use crate::secret::SecretText;
use crate::times::{iso8601, span};
use crate::{debug, verbose};

/// The most of a reply that is read: Qlik's answers to these requests are a few KB.
/// The least a retry waits, whatever a server's Retry-After says (`0` asked for a flood).
pub const RETRY_FLOOR: Duration = Duration::from_secs(1);

/// The most a retry waits: a longer Retry-After is an error at once, naming it.
pub const RETRY_CAP: Duration = Duration::from_secs(120);

/// Why a retry is not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRetry {
    /// Retry-After is not a number of seconds (an HTTP date, or nothing).
    NoSeconds,
    /// The wait (as asked, or as the backoff grew it) is more than the time left or the cap.
    TooLong(Duration),
}

/// How long to wait before retry number `attempt` (0 for the first) after a server asked
/// with `retry_after`, with `left` of the run's time: at least `RETRY_FLOOR` doubled for each
/// earlier attempt (a growing backoff), at least what the server asked, and never more than
/// `RETRY_CAP` or the time left: a longer wait fails at once. Pure, checked arithmetic: no
/// number a server sends can panic it.
pub fn retry_wait(
    retry_after: Option<&str>,
    attempt: u32,
    left: Duration,
) -> Result<Duration, NoRetry> {
    let asked = retry_after
        .and_then(|after| after.trim().parse::<u64>().ok())
        .ok_or(NoRetry::NoSeconds)?;
    let backoff = RETRY_FLOOR
        .checked_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
        .unwrap_or(RETRY_CAP);
    let wait = Duration::from_secs(asked).max(backoff);
    if wait > RETRY_CAP || wait >= left {
        return Err(NoRetry::TooLong(wait));
    }
    Ok(wait)
}

pub const MAX_REPLY_BYTES: u64 = 1024 * 1024;

/// A `Set-Cookie` line as received. Its value is a session's secret from the moment it arrives,
/// as the `qlik-csrf-token` header is: registered, so that no log line, check line, report or
/// JSON shows it, whichever command carries it back or quotes it.
fn set_cookie(line: &str) -> SecretText {
    let pair = line.split(';').next().unwrap_or_default();
    if let Some((_, value)) = pair.split_once('=') {
        crate::secret::register(value);
    }
    SecretText::composed(line)
}

/// The run's deadline and the `--timeout` it was set from: every request, page and retry of
/// the run shares it.
static DEADLINE: OnceLock<(Instant, Duration)> = OnceLock::new();

/// Makes `timeout` (a command's `--timeout`) the time limit of the whole run, from now: every
/// request after it gets only the time left. Set once, before the command asks any server.
pub fn set_deadline(timeout: Duration) {
    let now = Instant::now();
    let deadline = now.checked_add(timeout).unwrap_or(now);
    let _ = DEADLINE.set((deadline, timeout));
}

/// Time held back from the run's deadline once a probe has opened a session it will end
/// (milliseconds; 0 when none), so that a step that hangs until the deadline still leaves time
/// to end the session.
static CLEANUP_RESERVE_MS: AtomicU64 = AtomicU64::new(0);

/// Whether the requests now running end a session, and may use the time held back for it.
static CLEANING_UP: AtomicBool = AtomicBool::new(false);

/// The time the run has left before its deadline, or `None` when no deadline was set. Once a
/// session is to be ended ([`hold_back_for_cleanup`]), every request but its end stops that much
/// earlier.
pub fn time_left() -> Option<Duration> {
    DEADLINE.get().map(|(deadline, _)| {
        let left = deadline.saturating_duration_since(Instant::now());
        if CLEANING_UP.load(Ordering::SeqCst) {
            left
        } else {
            left.saturating_sub(held_back())
        }
    })
}

fn held_back() -> Duration {
    Duration::from_millis(CLEANUP_RESERVE_MS.load(Ordering::SeqCst))
}

/// What is held back to end a session: a quarter of `--timeout`, five seconds at most.
fn cleanup_reserve(timeout: Duration) -> Duration {
    (timeout / 4).min(Duration::from_secs(5))
}

/// A probe opened a session it will end before exit: from now on the steps in between leave
/// part of the run's time for that ([`for_cleanup`]).
pub fn hold_back_for_cleanup() {
    if let Some((_, timeout)) = DEADLINE.get() {
        let reserve = cleanup_reserve(*timeout);
        CLEANUP_RESERVE_MS.store(
            u64::try_from(reserve.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }
}

/// Runs `end`, the requests that end a probe's session, with the time held back for them.
pub fn for_cleanup<T>(end: impl FnOnce() -> T) -> T {
    CLEANING_UP.store(true, Ordering::SeqCst);
    let ended = end();
    CLEANING_UP.store(false, Ordering::SeqCst);
    ended
}

/// What a request may take: the client's own limit, and never more than the run has left.
fn request_limit(own: Duration, left: Option<Duration>) -> Duration {
    left.map_or(own, |left| own.min(left))
}

/// Where requests go: an https origin and an optional base path (a QSEoW virtual proxy prefix),
/// parsed once from `--tenant` or `--server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// The host as written in the URL (an IPv6 address keeps its brackets).
    pub host: String,
    pub port: Option<u16>,
    /// "" or "/prefix", never ending in '/'.
    pub base_path: String,
}

impl Server {
    /// Reads `text` (from `flag`) as an https URL, or as a bare host name when `bare_host` says
    /// one is fine (`--tenant mytenant.eu.qlikcloud.com`). http is refused: the token would
    /// cross the network in clear text.
    pub fn parse(text: &str, flag: &str, bare_host: bool) -> Result<Self, UserError> {
        Self::parse_sending(text, flag, bare_host, "the token")
    }

    /// [`Server::parse`] for a server that is sent `sends` (the API key, the client's
    /// credentials), which an http URL's refusal names.
    pub fn parse_sending(
        text: &str,
        flag: &str,
        bare_host: bool,
        sends: &str,
    ) -> Result<Self, UserError> {
        let trimmed = text.trim();
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_owned()
        } else if bare_host {
            format!("https://{trimmed}")
        } else {
            // The repository API has a port and no virtual proxy prefix; the others are a
            // virtual proxy's or a tenant's URL.
            let example = if flag == "--qrs" {
                "https://qlikserver.example.com:4242"
            } else {
                "https://qlik.example.com/jwt"
            };
            return Err(UserError::usage(format!(
                "{flag} '{}' is not a URL; give the https URL, for example {example}",
                url_shown(trimmed)
            )));
        };
        // The URL as it may be shown: a password or a key in its query is never echoed.
        let shown = url_shown(trimmed);
        let bad = |why: &str| UserError::usage(format!("{flag} '{shown}' {why}"));
        let after_scheme = with_scheme.split_once("://").map_or("", |(_, rest)| rest);
        if user_info_end(after_scheme).is_some() {
            return Err(bad(
                "holds a user name or password (left out here); give the URL without them: \
                 the token is what logs in",
            ));
        }
        let uri: Uri = with_scheme
            .parse()
            .map_err(|_| bad("is not a valid URL or host name"))?;
        match uri.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => {}
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => {
                let why = if flag == "--qrs" {
                    "is http: the repository API takes only https with the client certificate; \
                     use https"
                        .to_owned()
                } else {
                    format!("is http: {sends} would cross the network in clear text; use https")
                };
                return Err(bad(&why));
            }
            _ => return Err(bad("is not an https URL")),
        }
        let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad(
                "holds a user name or password (left out here); give the URL without them: \
                 the token is what logs in",
            ));
        }
        if authority.host().is_empty() {
            return Err(bad("has no host"));
        }
        if uri.query().is_some() || with_scheme.contains('#') {
            return Err(bad(
                "has a query or a fragment (left out here); give the host and path alone",
            ));
        }
        // port_u16() is None for a port out of range as for no port at all: the token would
        // go to 443 instead of the port the user named.
        // (The http crate's own port() says None then too, so the text after the host is read.)
        let text = authority.as_str();
        let after_host = match text.strip_prefix('[') {
            Some(rest) => rest
                .find(']')
                .map(|end| &rest[end + 1..])
                .unwrap_or_default(),
            None => text.rfind(':').map(|at| &text[at..]).unwrap_or_default(),
        };
        let port = match after_host.strip_prefix(':') {
            Some("") => return Err(bad("has an empty port; give one, such as :443, or none")),
            Some(digits) => Some(
                digits
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad("has a port outside 1 to 65535"))?,
            ),
            None => None,
        };
        let base_path = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            host: authority.host().to_owned(),
            port,
            base_path,
        })
    }

    /// A Qlik Cloud tenant from `--tenant` (a host name or an https URL), as its canonical
    /// origin: the host in lower case without a trailing dot, no port 443. The one reading of
    /// `--tenant` for every Qlik Cloud command, so that the tenant a token names (the OAuth
    /// assertion's `aud`) is the exact URL Qlik compares it with, and tenants compare equal
    /// however they were typed. A path is refused: Qlik Cloud's API is at the tenant's root, and
    /// a path dropped silently would send the request elsewhere than the user meant.
    pub fn parse_tenant(text: &str) -> Result<Self, UserError> {
        Self::parse_tenant_sending(text, "the token")
    }

    /// [`Server::parse_tenant`] for a tenant that is sent `sends` (the API key, the client's
    /// credentials), which an http URL's refusal names.
    pub fn parse_tenant_sending(text: &str, sends: &str) -> Result<Self, UserError> {
        let mut server = Self::parse_sending(text, "--tenant", true, sends)?;
        if !server.base_path.is_empty() {
            return Err(UserError::usage(format!(
                "--tenant '{}' has a path ('{}'); Qlik Cloud's API and token endpoint are at the \
                 tenant's root: give the host alone, such as mytenant.eu.qlikcloud.com",
                url_shown(text.trim()),
                crate::render::escape(&server.base_path)
            )));
        }
        server.host = server.host.to_ascii_lowercase();
        if let Some(host) = server.host.strip_suffix('.')
            && !host.is_empty()
        {
            server.host = host.to_owned();
        }
        if server.port == Some(443) {
            server.port = None;
        }
        Ok(server)
    }

    /// `https://host[:port]`, for messages and for the start of every request's URL.
    pub fn origin(&self) -> String {
        match self.port {
            Some(port) => format!("https://{}:{port}", self.host),
            None => format!("https://{}", self.host),
        }
    }

    /// The URL of `path` (starting with '/') below the base path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}{path}", self.origin(), self.base_path)
    }

    /// The host without IPv6 brackets, as NO_PROXY and cookie domains name it.
    pub fn bare_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }

    /// `host[:port]`, as a URL of another scheme (`wss://`) starts.
    pub fn shown_authority(&self) -> String {
        self.shown()
    }

    fn shown(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.base_path)
    }
}

/// How to reach the server, from the command line.
pub struct ClientOptions<'a> {
    pub cacert: Option<&'a Path>,
    pub insecure: bool,
    pub timeout: Duration,
    /// What the requests carry that anyone on the way could read with `--insecure` ("the
    /// token", "the API key"), for its warning.
    pub sends: &'static str,
    /// A TLS client certificate to present: QSEoW's repository API on port 4242 takes the
    /// certificates the QMC exports (client.pem, client_key.pem) instead of a login.
    pub client_certificate: Option<ClientCertificate<'a>>,
}

/// A client certificate and its private key, each with the flag that named its file (errors
/// name the flag and the file as the user typed them).
pub struct ClientCertificate<'a> {
    pub cert_path: &'a Path,
    pub cert_flag: &'static str,
    pub key_path: &'a Path,
    pub key_flag: &'static str,
    /// The key file's text, read (and registered as a secret) by the caller.
    pub key: &'a SecretText,
}

/// An HTTPS client for one server.
pub struct Client {
    agent: Agent,
    /// The TLS configuration, for the engine's WebSocket too.
    tls: std::sync::Arc<rustls::ClientConfig>,
    server: Server,
    timeout: Duration,
    proxy: Option<String>,
    /// The flags and file of the client certificate, for a server that refuses it.
    client_certificate: Option<(&'static str, String)>,
}

/// One request: a method, a path below the server's base path, and its secrets.
pub struct Request<'a> {
    pub method: Method,
    /// Starts with '/'; may carry a query.
    pub path: String,
    pub bearer: Option<&'a SecretText>,
    /// The `Cookie` header's value.
    pub cookies: Option<&'a SecretText>,
    /// Headers that are not secret.
    pub headers: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

/// A server's answer, of any status: what the caller needs of it.
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    /// Every `Set-Cookie` header, raw: they hold session secrets, each value registered as
    /// one ([`set_cookie`]).
    pub set_cookies: Vec<SecretText>,
    /// The `qlik-csrf-token` header (QSEoW's `/qps/csrftoken`, Qlik Cloud's
    /// `/api/v1/csrf-token`): bound to the session, so a secret.
    pub csrf_token: Option<SecretText>,
    pub body: Vec<u8>,
}

const CACERT_FILE: FileFlag = FileFlag {
    flag: "--cacert",
    holds: "CA certificate",
    format: "PEM",
    der_hint: Some(der_hint),
};

fn der_hint(path: &str) -> String {
    format!("convert it to PEM: openssl x509 -inform DER -in '{path}' -out ca.pem")
}

impl Client {
    pub fn new(server: Server, options: &ClientOptions<'_>) -> Result<Self, UserError> {
        if options.insecure {
            // Shown at every --loglevel: a run that sends a secret unprotected always says so.
            crate::log::warn_always(&format!(
                "--insecure: the certificate of {} is not verified, so anyone on the way could \
                 read {}; use --cacert <file> instead for anything but a test server",
                server.origin(),
                options.sends
            ));
        }
        let proxy = proxy_for(server.bare_host(), |name| std::env::var(name).ok());
        // ureq is built without SOCKS (it would panic on one): an HTTP proxy or none.
        if let Some(url) = &proxy {
            let scheme = url
                .split("://")
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if url.contains("://") && !matches!(scheme.as_str(), "http" | "https") {
                return Err(UserError::runtime(format!(
                    "the proxy {} in {} is a {scheme} proxy; qs-jwt goes through an HTTP proxy \
                     (CONNECT) only: set HTTPS_PROXY to one, or add {} to NO_PROXY",
                    proxy_shown(url),
                    PROXY_VARIABLES.join(" or "),
                    server.bare_host()
                )));
            }
        }
        let ureq_proxy = match &proxy {
            // The environment, not the command line: a run-time error (exit 1).
            Some(url) => Some(ureq::Proxy::new(url).map_err(|_| {
                UserError::runtime(format!(
                    "the proxy in {} is not a proxy URL; give one such as http://proxy.example.com:3128",
                    PROXY_VARIABLES.join(" or ")
                ))
            })?),
            None => None,
        };
        let tls = tls_config(options)?;
        let config = Agent::config_builder()
            .https_only(true)
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(options.timeout))
            .proxy(ureq_proxy)
            .user_agent(concat!("qs-jwt/", env!("CARGO_PKG_VERSION")))
            .build();
        // ureq's own chain (SOCKS aside, which is refused above) with qs-jwt's TLS at its end.
        let connector =
            ().chain(ConnectProxyConnector::default())
                .chain(TcpConnector::default())
                .chain(tls::TlsConnector {
                    config: tls.clone(),
                });
        let agent = Agent::with_parts(config, connector, DefaultResolver::default());
        Ok(Self {
            agent,
            tls,
            server,
            timeout: options.timeout,
            proxy,
            client_certificate: options
                .client_certificate
                .as_ref()
                .map(|c| (c.cert_flag, c.cert_path.display().to_string())),
        })
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Sends one request and reads the reply, whatever its status.
    pub fn send(&self, request: &Request<'_>) -> Result<Reply, UserError> {
        self.send_body(request, None)
    }

    /// Sends one request with a JSON body (a POST's or a PUT's), and reads the reply, whatever its status.
    /// The body is never logged: it may hold secrets (a client secret, an assertion), and it is
    /// for the caller to say what it sends.
    pub fn send_json(&self, request: &Request<'_>, body: &[u8]) -> Result<Reply, UserError> {
        self.send_body(request, Some(("application/json", body)))
    }

    /// The same with an `application/x-www-form-urlencoded` body (RFC 6749's token requests).
    pub fn send_form(&self, request: &Request<'_>, body: &[u8]) -> Result<Reply, UserError> {
        self.send_body(request, Some(("application/x-www-form-urlencoded", body)))
    }

    fn send_body(
        &self,
        request: &Request<'_>,
        body: Option<(&'static str, &[u8])>,
    ) -> Result<Reply, UserError> {
        let url = self.server.url(&request.path);
        let shown_path = request.path.split('?').next().unwrap_or_default();
        let limit = request_limit(self.timeout, time_left());
        if limit.is_zero() {
            return Err(self.run_timed_out());
        }
        // At debug, whose lines are not redacted: a path may hold a random user id, which the
        // redaction of the other levels would take for key text.
        debug!(
            "{} {}{}{shown_path}{}",
            match request.method {
                Method::Get => "GET",
                Method::Post => "POST",
                Method::Put => "PUT",
                Method::Delete => "DELETE",
            },
            self.server.origin(),
            self.server.base_path,
            match &self.proxy {
                Some(proxy) => format!(" through the proxy {}", proxy_shown(proxy)),
                None => String::new(),
            }
        );
        let mut headers: Vec<(&str, String)> = request
            .headers
            .iter()
            .map(|(name, value)| (*name, value.clone()))
            .collect();
        if let Some(token) = request.bearer {
            headers.push(("Authorization", format!("Bearer {}", token.expose())));
        }
        if let Some(cookies) = request.cookies {
            headers.push(("Cookie", cookies.expose().to_owned()));
        }
        // ureq types a request with a body apart from one without; the limit and the headers go
        // on either.
        fn with_headers<B>(
            builder: ureq::RequestBuilder<B>,
            headers: &[(&str, String)],
            limit: Duration,
        ) -> ureq::RequestBuilder<B> {
            let mut builder = builder.config().timeout_global(Some(limit)).build();
            for (name, value) in headers {
                builder = builder.header(*name, value);
            }
            builder
        }
        let result = match request.method {
            Method::Get => with_headers(self.agent.get(&url), &headers, limit).call(),
            Method::Delete => with_headers(self.agent.delete(&url), &headers, limit).call(),
            Method::Post => match body {
                Some((content_type, body)) => with_headers(self.agent.post(&url), &headers, limit)
                    .header("Content-Type", content_type)
                    .send(body),
                None => with_headers(self.agent.post(&url), &headers, limit).send_empty(),
            },
            Method::Put => {
                let (content_type, body) = body.unwrap_or(("application/json", &[]));
                with_headers(self.agent.put(&url), &headers, limit)
                    .header("Content-Type", content_type)
                    .send(body)
            }
        };
        let mut response = result.map_err(|e| self.failure(&e))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status().as_u16();
        let location = header("location");
        let retry_after = header("retry-after");
        let content_type = header("content-type");
        let csrf_token = header("qlik-csrf-token").map(SecretText::new);
        let set_cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(set_cookie)
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_vec()
            .map_err(|e| self.failure(&e))?;
        debug!("HTTP {status}, {} bytes", body.len());
        Ok(Reply {
            status,
            location,
            retry_after,
            content_type,
            set_cookies,
            csrf_token,
            body,
        })
    }

    /// A transport failure as one line naming the host, and a hint where one helps.
    fn failure(&self, err: &ureq::Error) -> UserError {
        let host = self.server.shown();
        let via = match &self.proxy {
            Some(proxy) => format!(" (through the proxy {})", proxy_shown(proxy)),
            None => String::new(),
        };
        if let Some(tls) = rustls_error(err) {
            if let (rustls::Error::AlertReceived(alert), Some((flag, path))) =
                (tls, &self.client_certificate)
            {
                // A server that asks for a client certificate answers a missing, unknown or
                // untrusted one with an alert (certificate_required, bad_certificate,
                // unknown_ca...), often only after the client's side of the handshake is done.
                verbose!("TLS with {host}: {tls}");
                return UserError::runtime(format!(
                    "{host} refused the client certificate {flag} '{path}' (TLS alert {alert:?})"
                ))
                .with_hint(
                    "give the client.pem and client_key.pem that the QMC exported from this site \
                     (Certificates > Export, format Platform independent PEM-format), and the \
                     repository's port (4242)",
                );
            }
            return tls_failure(&host, tls);
        }
        let message = match err {
            ureq::Error::HostNotFound => return self.host_not_found(&via),
            ureq::Error::Io(e) if is_lookup_failure(e) => return self.host_not_found(&via),
            ureq::Error::Timeout(_) => return self.run_timed_out(),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return UserError::runtime(format!(
                    "cannot connect to {host}{via}: connection refused"
                ))
                .with_hint("check the host and the port: nothing accepts connections there");
            }
            ureq::Error::Io(e) => return connection_failure(&host, &via, e),
            ureq::Error::ConnectProxyFailed(why) => {
                format!("the proxy did not connect to {host}{via}: {why}")
            }
            ureq::Error::ConnectionFailed => format!("cannot connect to {host}{via}"),
            ureq::Error::BodyExceedsLimit(_) => format!(
                "the reply from {host} is larger than {} MiB, far more than Qlik sends here",
                MAX_REPLY_BYTES / (1024 * 1024)
            ),
            ureq::Error::Protocol(e) => {
                format!("{host} did not answer in HTTP/1.1: {e}")
            }
            other => format!("the request to {host}{via} failed: {other}"),
        };
        UserError::runtime(message)
    }
}

impl Client {
    /// No answer within `--timeout`: the request's own limit, or the run's deadline (which
    /// every request, page and wait of the run shares) when main set one.
    fn run_timed_out(&self) -> UserError {
        let host = self.server.shown();
        let via = match &self.proxy {
            Some(proxy) => format!(" (through the proxy {})", proxy_shown(proxy)),
            None => String::new(),
        };
        let kept = held_back();
        let (limit, whole_run) = match DEADLINE.get() {
            Some((_, timeout)) if !kept.is_zero() && !CLEANING_UP.load(Ordering::SeqCst) => (
                *timeout,
                format!(
                    "; --timeout bounds the whole run, and its last {} are kept to end the \
                     session",
                    humantime::format_duration(kept)
                ),
            ),
            Some((_, timeout)) => (
                *timeout,
                "; --timeout bounds the whole run, every request, page and wait".to_owned(),
            ),
            None => (self.timeout, String::new()),
        };
        UserError::runtime(format!(
            "no answer from {host}{via} within {} (--timeout){whole_run}",
            humantime::format_duration(limit)
        ))
        .with_hint("check the host, the port and any firewall on the way, or raise --timeout")
    }

    fn host_not_found(&self, via: &str) -> UserError {
        UserError::runtime(format!(
            "cannot find the host {}{via}: the name does not resolve",
            self.server.bare_host()
        ))
        .with_hint("check the host name, and the network or VPN that serves it")
    }
}

/// A connection that broke, in words. An operating system's words are for people and are
/// quoted; a library's (rustls' "peer closed connection without sending TLS close_notify" with
/// a link to its manual) go to the verbose log only.
fn connection_failure(host: &str, via: &str, e: &std::io::Error) -> UserError {
    use std::io::ErrorKind as K;
    verbose!("the connection to {host}{via}: {e}");
    let retry = "try again; if it persists, a proxy, a load balancer or a firewall on the way \
                 may cut the connection (run again with --loglevel verbose for the details)";
    match e.kind() {
        K::UnexpectedEof => UserError::runtime(format!(
            "{host}{via} closed the connection before its answer was complete"
        ))
        .with_hint(retry),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
            UserError::runtime(format!("{host}{via} broke off the connection")).with_hint(retry)
        }
        _ if e.raw_os_error().is_some() => {
            UserError::runtime(format!("the connection to {host}{via} failed: {e}"))
        }
        kind => UserError::runtime(format!(
            "the connection to {host}{via} failed ({})",
            kind.to_string().to_lowercase()
        ))
        .with_hint(retry),
    }
}

/// Whether an I/O error is a failed name lookup: std reports getaddrinfo's failures as
/// "failed to lookup address information" on Unix, and Windows as WSAHOST_NOT_FOUND (11001) or
/// WSANO_DATA (11004).
fn is_lookup_failure(e: &std::io::Error) -> bool {
    e.to_string().contains("lookup address") || matches!(e.raw_os_error(), Some(11001 | 11004))
}

/// The rustls error inside a ureq error, if the failure was in TLS: ureq gives a handshake
/// failure as an I/O error that wraps it.
fn rustls_error(err: &ureq::Error) -> Option<&rustls::Error> {
    match err {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e.get_ref().and_then(|inner| inner.downcast_ref()),
        _ => None,
    }
}

/// A TLS failure in words: what is wrong with the server's certificate or the handshake, and
/// what to do. The TLS library's own name for it goes to the verbose log only.
fn tls_failure(host: &str, err: &rustls::Error) -> UserError {
    use rustls::CertificateError as C;
    verbose!("TLS with {host}: {err}");
    let insecure = "or, for a test server only, --insecure";
    let certificate =
        |what: String| UserError::runtime(format!("the certificate of {host} {what}"));
    let rustls::Error::InvalidCertificate(cert_err) = err else {
        return handshake_failure(host, err);
    };
    match cert_err {
        C::UnknownIssuer => certificate("is signed by an unknown certificate authority".to_owned())
            .with_hint(format!(
                "give that authority's certificate with --cacert <file> (PEM; for a self-signed \
             server certificate, that certificate itself), {insecure}"
            )),
        C::NotValidForNameContext { presented, .. } if !presented.is_empty() => {
            certificate(format!(
                "is made out to {}, not to the host given",
                presented
                    .iter()
                    .map(|name| format!("'{}'", presented_name(name)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .with_hint("use a host name the certificate names, in --server or --tenant")
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            certificate("is not made out to that name".to_owned())
                .with_hint("use a host name the certificate names, in --server or --tenant")
        }
        C::ExpiredContext { time, not_after } => certificate(format!(
            "expired at {}, {} ago",
            iso8601(not_after.as_secs()),
            span(time.as_secs().saturating_sub(not_after.as_secs()))
        ))
        .with_hint(format!(
            "the server needs a new certificate (or this machine's clock is wrong), {insecure}"
        )),
        C::Expired => certificate("has expired".to_owned()).with_hint(format!(
            "the server needs a new certificate (or this machine's clock is wrong), {insecure}"
        )),
        C::NotValidYetContext { time, not_before } => certificate(format!(
            "is valid only from {}, {} from now",
            iso8601(not_before.as_secs()),
            span(not_before.as_secs().saturating_sub(time.as_secs()))
        ))
        .with_hint("check this machine's clock"),
        C::NotValidYet => {
            certificate("is not valid yet".to_owned()).with_hint("check this machine's clock")
        }
        C::Revoked => certificate("has been revoked by its authority".to_owned())
            .with_hint("the server needs a new certificate"),
        C::BadSignature => certificate(
            "carries a signature that does not verify with its authority's key".to_owned(),
        )
        .with_hint(format!(
            "check that --cacert holds the authority that signed it, {insecure}"
        )),
        C::BadEncoding => {
            certificate("cannot be read: it is not a valid X.509 certificate".to_owned())
                .with_hint(format!("check the server's certificate, {insecure}"))
        }
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => certificate(
            "is not made for a TLS server (its extended key usage lacks serverAuth)".to_owned(),
        )
        .with_hint(format!(
            "the server needs a certificate for server authentication, {insecure}"
        )),
        C::UnhandledCriticalExtension => {
            certificate("has a critical extension that cannot be checked".to_owned())
                .with_hint(format!("check the server's certificate, {insecure}"))
        }
        // webpki's own reasons reach rustls as Other: read by name, said in words.
        C::Other(other) if other.to_string().contains("CaUsedAsEndEntity") => certificate(
            "is self-signed or a certificate authority's (it says CA:TRUE), not a server's"
                .to_owned(),
        )
        .with_hint(format!(
            "if it is the server's own self-signed certificate, give that very certificate with \
             --cacert <file> (PEM), which trusts it for this server alone; {insecure}"
        )),
        _ => certificate("is not accepted by the checks of TLS".to_owned()).with_hint(format!(
            "run again with --loglevel verbose for the reason, and check the server's \
             certificate, {insecure}"
        )),
    }
}

/// A name of a certificate as webpki writes it (`DnsName("a.example.com")`,
/// `IpAddress(10.0.0.1)`): the name alone.
fn presented_name(debug: &str) -> &str {
    if let Some((_, rest)) = debug.split_once('"')
        && let Some((name, _)) = rest.rsplit_once('"')
    {
        return name;
    }
    match (debug.find('('), debug.rfind(')')) {
        (Some(open), Some(close)) if open < close => &debug[open + 1..close],
        _ => debug,
    }
}

/// A TLS failure that is not about the certificate: the handshake itself.
fn handshake_failure(host: &str, err: &rustls::Error) -> UserError {
    let verbose_hint = "run again with --loglevel verbose for the TLS library's reason";
    match err {
        rustls::Error::InvalidMessage(_)
        | rustls::Error::InappropriateMessage { .. }
        | rustls::Error::InappropriateHandshakeMessage { .. } => {
            UserError::runtime(format!("{host} did not answer in TLS"))
                .with_hint("check that the port is the server's https port (not its http one)")
        }
        rustls::Error::PeerIncompatible(_) => UserError::runtime(format!(
            "{host} offers no TLS version or cipher that qs-jwt takes (TLS 1.2 or 1.3)"
        ))
        .with_hint("the server's TLS settings need TLS 1.2 or newer"),
        rustls::Error::AlertReceived(_) => {
            UserError::runtime(format!("{host} broke off the TLS handshake")).with_hint(format!(
                "the server may ask for a client certificate or another TLS version; {verbose_hint}"
            ))
        }
        rustls::Error::NoCertificatesPresented => {
            UserError::runtime(format!("{host} presented no certificate"))
                .with_hint("check the server's TLS settings")
        }
        _ => UserError::runtime(format!("the TLS handshake with {host} failed"))
            .with_hint(verbose_hint),
    }
}

/// The TLS configuration: the operating system's certificate authorities and `--cacert`'s
/// certificates, each of which is also pinned (a self-signed server certificate given to
/// `--cacert` is taken as that server's; see `tls`).
fn tls_config(
    options: &ClientOptions<'_>,
) -> Result<std::sync::Arc<rustls::ClientConfig>, UserError> {
    let mut roots: Vec<CertificateDer<'static>> = Vec::new();
    let mut pinned = Vec::new();
    if !options.insecure {
        let native = rustls_native_certs::load_native_certs();
        verbose!(
            "{} certificate authorities from the operating system's store",
            native.certs.len()
        );
        roots.extend(native.certs);
        if let Some(path) = options.cacert {
            let added = cacert(path)?;
            verbose!(
                "{} certificates from --cacert '{}'",
                added.len(),
                path.display()
            );
            roots.extend(added.iter().cloned());
            pinned = added;
        }
    }
    let identity = match &options.client_certificate {
        Some(c) => Some((client_chain(c)?, client_key(c)?)),
        None => None,
    };
    tls::client_config(options.insecure, roots, pinned, identity).map_err(|e| {
        match (&e, &options.client_certificate) {
            (rustls::Error::InconsistentKeys(_), Some(c)) => UserError::runtime(format!(
                "{} '{}' and {} '{}' do not belong together: the key is not the certificate's",
                c.cert_flag,
                c.cert_path.display(),
                c.key_flag,
                c.key_path.display()
            ))
            .with_hint(
                "give the client.pem and client_key.pem of one export from the QMC (Certificates > \
             Export)",
            ),
            (_, Some(c)) => UserError::runtime(format!(
                "{} '{}' holds a key that TLS cannot use with {} '{}'",
                c.key_flag,
                c.key_path.display(),
                c.cert_flag,
                c.cert_path.display()
            ))
            .with_hint("give the client_key.pem that the QMC exported with client.pem"),
            _ => {
                verbose!("TLS configuration: {e}");
                UserError::runtime("cannot set up TLS with the crypto library's TLS 1.2 and 1.3")
            }
        }
    })
}

/// The certificates of a client certificate's file, PEM: the client's first.
fn client_chain(c: &ClientCertificate<'_>) -> Result<Vec<CertificateDer<'static>>, UserError> {
    let file = FileFlag {
        flag: c.cert_flag,
        holds: "client certificate",
        format: "PEM",
        der_hint: Some(der_hint),
    };
    let text = input::read_file(c.cert_path, &file).map_err(|e| {
        if e.hint().is_some() {
            return e;
        }
        e.with_hint(format!(
            "give the client.pem that the QMC exported (Certificates > Export, Platform \
             independent PEM-format), with its client_key.pem in {}",
            c.key_flag
        ))
    })?;
    let shown = c.cert_path.display();
    let certs: Vec<CertificateDer<'static>> = pem::parse_many(text.as_bytes())
        .map_err(|_| {
            UserError::runtime(format!("{} '{shown}' is not PEM text", c.cert_flag)).with_hint(
                "give the client.pem that the QMC exported (Platform independent PEM-format)",
            )
        })?
        .iter()
        .filter(|block| block.tag() == "CERTIFICATE")
        .map(|block| CertificateDer::from(block.contents().to_vec()))
        .collect();
    if certs.is_empty() {
        return Err(UserError::runtime(format!(
            "{} '{shown}' holds no certificate; expected BEGIN CERTIFICATE (the QMC's client.pem)",
            c.cert_flag
        )));
    }
    Ok(certs)
}

/// The private key of a client certificate: PKCS#1 (`BEGIN RSA PRIVATE KEY`, as the QMC
/// exports client_key.pem), PKCS#8 or SEC1. Its text is never quoted.
fn client_key(c: &ClientCertificate<'_>) -> Result<PrivateKeyDer<'static>, UserError> {
    let shown = c.key_path.display();
    let not_a_key = || {
        UserError::runtime(format!(
            "{} '{shown}' holds no private key; expected BEGIN RSA PRIVATE KEY or BEGIN PRIVATE \
             KEY (the QMC's client_key.pem)",
            c.key_flag
        ))
    };
    let encrypted = || {
        UserError::runtime(format!(
            "{} '{shown}' is encrypted; TLS needs the key as the QMC exports it, without a \
             password",
            c.key_flag
        ))
        .with_hint(format!(
            "decrypt a copy that only you can read: openssl pkey -in '{shown}' -out \
             client_key.pem"
        ))
    };
    // OpenSSL's legacy encryption keeps the PKCS#1 label and adds headers.
    if c.key.expose().contains("Proc-Type: 4,ENCRYPTED") {
        return Err(encrypted());
    }
    let blocks = pem::parse_many(c.key.expose().as_bytes()).map_err(|_| not_a_key())?;
    for block in &blocks {
        let der = block.contents().to_vec();
        match block.tag() {
            "RSA PRIVATE KEY" => return Ok(PrivatePkcs1KeyDer::from(der).into()),
            "PRIVATE KEY" => return Ok(PrivatePkcs8KeyDer::from(der).into()),
            "EC PRIVATE KEY" => return Ok(PrivateSec1KeyDer::from(der).into()),
            "ENCRYPTED PRIVATE KEY" => return Err(encrypted()),
            _ => {}
        }
    }
    Err(not_a_key())
}

/// The certificates in the `--cacert` file, PEM, one or more.
fn cacert(path: &Path) -> Result<Vec<CertificateDer<'static>>, UserError> {
    let text = input::read_file(path, &CACERT_FILE)?;
    let shown = path.display();
    let blocks = pem::parse_many(text.as_bytes())
        .map_err(|e| UserError::runtime(format!("--cacert '{shown}' is not PEM text: {e}")))?;
    let certs: Vec<CertificateDer<'static>> = blocks
        .iter()
        .filter(|block| block.tag() == "CERTIFICATE")
        .map(|block| CertificateDer::from(block.contents().to_vec()))
        .collect();
    if certs.is_empty() {
        return Err(UserError::runtime(format!(
            "--cacert '{shown}' holds no certificate; expected BEGIN CERTIFICATE"
        )));
    }
    Ok(certs)
}

/// The variables a proxy is read from, in the order curl reads them for an https URL.
const PROXY_VARIABLES: [&str; 4] = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];

/// The proxy for `host`, if any: the first of [`PROXY_VARIABLES`] that is set and not empty,
/// unless `no_proxy`/`NO_PROXY` names the host. Pure: `env` reads a variable.
pub fn proxy_for(host: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let proxy = PROXY_VARIABLES
        .iter()
        .filter_map(|name| env(name))
        .map(|value| value.trim().to_owned())
        .find(|value| !value.is_empty())?;
    let no_proxy = env("no_proxy")
        .filter(|v| !v.trim().is_empty())
        .or_else(|| env("NO_PROXY"))
        .unwrap_or_default();
    if no_proxy_matches(&no_proxy, host) {
        return None;
    }
    Some(proxy)
}

/// curl's NO_PROXY: `*` for every host, else names separated by commas; a name matches itself
/// and the hosts below it (`example.com` and `.example.com` both match `a.example.com`); an IP
/// address matches itself, and a CIDR range (`10.0.0.0/8`, `::1/128`) the addresses in it.
fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host_ip: Option<IpAddr> = host.parse().ok();
    list.split(',')
        .map(|entry| entry.trim())
        .filter(|entry| !entry.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry
                .trim_start_matches('.')
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if let (Some(ip), Some((network, bits))) = (host_ip, entry.split_once('/')) {
                return in_cidr(ip, network.trim_end_matches(']'), bits);
            }
            match (host_ip, entry.parse::<IpAddr>()) {
                (Some(ip), Ok(listed)) => ip == listed,
                _ => host == entry || host.ends_with(&format!(".{entry}")),
            }
        })
}

/// Whether `ip` is in the range `network/bits`; false for a range that is not one (curl
/// ignores those too) or of the other address family.
fn in_cidr(ip: IpAddr, network: &str, bits: &str) -> bool {
    let Ok(bits) = bits.parse::<u32>() else {
        return false;
    };
    match (ip, network.parse::<IpAddr>()) {
        (IpAddr::V4(ip), Ok(IpAddr::V4(net))) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), Ok(IpAddr::V6(net))) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// `text` as a query value or path segment: unreserved characters as they are, the rest
/// %-encoded (a filter's spaces and quotes, an id from a server).
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A URL as it may be shown to anyone: scheme, host, port and path, never its user info (a
/// password) nor its query or fragment (an API key, a token). The host and the path are never
/// hidden. Text that is not a URL is read as one without a scheme.
pub fn url_shown(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let rest = match user_info_end(rest) {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => rest.to_owned(),
    }
}

/// Where the user info of `rest` (a URL after its `scheme://`) ends: the LAST '@' before the
/// host, since a password may hold '/' and '@' (`svc:Sup3r/Secret@Passw0rd-2024xyz@proxy:3128`).
/// There is user info when what comes before the first '/' holds an '@', or a ':' followed by
/// more than a port's digits; an '@' in a path (`https://host:443/users/a@b.example`) is not.
fn user_info_end(rest: &str) -> Option<usize> {
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let has_user_info = authority.contains('@')
        || matches!(authority.split_once(':'),
            Some((host, after)) if !host.starts_with('[') && !after.chars().all(|c| c.is_ascii_digit()));
    if !has_user_info {
        return None;
    }
    let host_after = |at: usize| {
        let after = &rest[at + 1..];
        is_host_and_port(&after[..after.find('/').unwrap_or(after.len())])
    };
    rest.rmatch_indices('@')
        .map(|(at, _)| at)
        .find(|&at| host_after(at))
        // No host stands after any '@': all of it is hidden rather than a piece shown.
        .or_else(|| rest.rfind('@'))
}

/// Whether `text` is a host name or address with an optional port: `proxy.corp:3128`,
/// `[::1]:8080`.
fn is_host_and_port(text: &str) -> bool {
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) if !text.starts_with('[') || host.ends_with(']') => (host, Some(port)),
        _ => (text, None),
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner.strip_suffix(']').is_some_and(|ip| {
            ip.chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        })
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    host_ok && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// A proxy URL as it may be shown: without a user name or password.
fn proxy_shown(url: &str) -> String {
    url_shown(url)
}

#[cfg(test)]
mod port_tests {
    use super::*;

    #[test]
    fn a_port_out_of_range_is_refused_not_dropped() {
        for bad in [
            "127.0.0.1:99999",
            "https://127.0.0.1:65536/jwt",
            "h:0",
            "h:4294967739",
        ] {
            match Server::parse(bad, "--tenant", true) {
                Ok(server) => panic!("{bad} parsed, with port {:?}", server.port),
                Err(err) => {
                    let err = err.to_string();
                    assert!(
                        err.contains("port outside 1 to 65535") || err.contains("not a valid URL"),
                        "{bad}: {err}"
                    );
                }
            }
        }
        assert_eq!(
            Server::parse("h:8443", "--tenant", true).unwrap().port,
            Some(8443)
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cookie_value_is_redacted_from_the_moment_its_reply_is_read() {
        let shown = "the proxy said: session 5e55i0n-v4lue-0f-the-pr0be is unknown";
        assert!(crate::secret::redact(shown).contains("5e55i0n"), "before");
        let line = super::set_cookie("X-Qlik-Session-jwt=5e55i0n-v4lue-0f-the-pr0be; Path=/");
        assert_eq!(
            line.expose(),
            "X-Qlik-Session-jwt=5e55i0n-v4lue-0f-the-pr0be; Path=/"
        );
        assert!(!crate::secret::redact(shown).contains("5e55i0n"));
    }

    #[test]
    fn a_quarter_of_the_timeout_up_to_five_seconds_is_kept_to_end_a_session() {
        use super::cleanup_reserve;
        use std::time::Duration;
        assert_eq!(
            cleanup_reserve(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(
            cleanup_reserve(Duration::from_secs(30)),
            Duration::from_secs(5)
        );
        assert_eq!(
            cleanup_reserve(Duration::from_secs(1)),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn a_request_or_websocket_gets_its_own_limit_but_never_more_than_the_run_has_left() {
        use super::request_limit;
        use std::time::Duration;
        let (thirty, three) = (Duration::from_secs(30), Duration::from_secs(3));
        assert_eq!(request_limit(thirty, None), thirty);
        assert_eq!(request_limit(thirty, Some(three)), three);
        assert_eq!(request_limit(three, Some(thirty)), three);
        assert_eq!(request_limit(thirty, Some(Duration::ZERO)), Duration::ZERO);
    }

    #[test]
    fn retries_have_a_floor_a_growing_backoff_a_cap_and_never_panic() {
        use super::{NoRetry, retry_wait};
        use std::time::Duration;
        let minute = Duration::from_secs(60);
        assert_eq!(retry_wait(Some("0"), 0, minute), Ok(Duration::from_secs(1)));
        assert_eq!(retry_wait(Some("0"), 1, minute), Ok(Duration::from_secs(2)));
        assert_eq!(retry_wait(Some("0"), 3, minute), Ok(Duration::from_secs(8)));
        assert_eq!(
            retry_wait(Some(" 5 "), 0, minute),
            Ok(Duration::from_secs(5))
        );
        assert_eq!(
            retry_wait(Some("18446744073709551615"), 0, minute),
            Err(NoRetry::TooLong(Duration::from_secs(u64::MAX)))
        );
        assert!(matches!(
            retry_wait(Some("0"), u32::MAX, Duration::MAX),
            Err(NoRetry::TooLong(_))
        ));
        assert_eq!(
            retry_wait(Some("10"), 0, Duration::from_secs(10)),
            Err(NoRetry::TooLong(Duration::from_secs(10)))
        );
        assert_eq!(
            retry_wait(Some("Wed, 21 Oct 2015 07:28:00 GMT"), 0, minute),
            Err(NoRetry::NoSeconds)
        );
        assert_eq!(retry_wait(None, 0, minute), Err(NoRetry::NoSeconds));
    }

    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn tenant_is_a_host_or_an_https_url() {
        let server = Server::parse("mytenant.eu.qlikcloud.com", "--tenant", true).unwrap();
        assert_eq!(server.origin(), "https://mytenant.eu.qlikcloud.com");
        assert_eq!(
            server.url("/login/jwt-session"),
            "https://mytenant.eu.qlikcloud.com/login/jwt-session"
        );
        let server = Server::parse(" https://127.0.0.1:8443/ ", "--tenant", true).unwrap();
        assert_eq!(server.origin(), "https://127.0.0.1:8443");
        assert_eq!(server.base_path, "");
        let server = Server::parse("https://qlik.example.com/jwt/", "--server", false).unwrap();
        assert_eq!(
            server.url("/qrs/about"),
            "https://qlik.example.com/jwt/qrs/about"
        );
        assert_eq!(server.to_string(), "https://qlik.example.com/jwt");
        let server = Server::parse("https://[::1]:443/x", "--server", false).unwrap();
        assert_eq!(server.bare_host(), "::1");
    }

    #[test]
    fn what_is_not_an_https_url_is_a_usage_error() {
        for (text, bare, why) in [
            ("http://t.example.com", true, "clear text"),
            ("ftp://t.example.com", true, "not an https URL"),
            ("qlik.example.com/jwt", false, "not a URL"),
            (
                "https://user:pw@t.example.com",
                true,
                "user name or password",
            ),
            ("user:pw@t.example.com", true, "user name or password"),
            ("https://t.example.com/?a=b", true, "query or a fragment"),
            ("https://t.example.com/#x", true, "query or a fragment"),
            ("https:// bad host", true, "not a valid URL"),
        ] {
            let err = Server::parse(text, "--tenant", bare).unwrap_err();
            assert!(err.is_usage(), "{text}");
            assert!(err.to_string().contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn proxy_comes_from_https_proxy_or_all_proxy_unless_no_proxy_names_the_host() {
        let host = "t.eu.qlikcloud.com";
        assert_eq!(proxy_for(host, env(&[])), None);
        assert_eq!(proxy_for(host, env(&[("HTTP_PROXY", "http://p:1")])), None);
        assert_eq!(
            proxy_for(host, env(&[("HTTPS_PROXY", "http://p:1")])).as_deref(),
            Some("http://p:1")
        );
        assert_eq!(
            proxy_for(
                host,
                env(&[("https_proxy", "http://a:1"), ("HTTPS_PROXY", "http://b:1")])
            )
            .as_deref(),
            Some("http://a:1")
        );
        assert_eq!(
            proxy_for(host, env(&[("ALL_PROXY", "http://p:1")])).as_deref(),
            Some("http://p:1")
        );
        for no_proxy in [
            "*",
            "qlikcloud.com",
            ".qlikcloud.com",
            "localhost, eu.qlikcloud.com",
            "T.EU.QLIKCLOUD.COM",
        ] {
            assert_eq!(
                proxy_for(
                    host,
                    env(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no_proxy)])
                ),
                None,
                "{no_proxy}"
            );
        }
        for no_proxy in ["cloud.com", "other.example.com", ""] {
            assert!(
                proxy_for(
                    host,
                    env(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", no_proxy)])
                )
                .is_some(),
                "{no_proxy}"
            );
        }
        assert_eq!(
            proxy_for(
                "127.0.0.1",
                env(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "127.0.0.1")])
            ),
            None
        );
    }

    #[test]
    fn urls_are_shown_without_user_info_query_or_fragment_but_with_host_and_path() {
        for (url, shown) in [
            ("https://admin:Secr3t@host/jwt", "https://host/jwt"),
            ("https://admin:pa/ss@host/jwt", "https://host/jwt"),
            ("https://admin@host:8443/jwt/", "https://host:8443/jwt/"),
            ("https://host/jwt?apikey=hunter2", "https://host/jwt"),
            ("https://host/jwt?xrfkey=abc#frag", "https://host/jwt"),
            (
                "https://idp.example.com/login?jwt=a.b.c",
                "https://idp.example.com/login",
            ),
            ("https://host:8443/a@b", "https://host:8443/a@b"),
            ("https://[::1]:443/a@b", "https://[::1]:443/a@b"),
            ("u:Secr3t@t.eu.qlikcloud.com", "t.eu.qlikcloud.com"),
            ("http://user:secret@proxy:3128", "http://proxy:3128"),
            ("http://proxy:3128/?token=abc", "http://proxy:3128/"),
            (
                "/internal_forms_authentication/?targetId=x",
                "/internal_forms_authentication/",
            ),
            (
                " https://Qlik.Example.COM/Prod2025Q3/ ",
                "https://Qlik.Example.COM/Prod2025Q3/",
            ),
        ] {
            assert_eq!(url_shown(url), shown, "{url}");
        }
    }

    #[test]
    fn a_password_or_a_query_is_refused_and_not_echoed() {
        for text in [
            "https://admin:Secr3t@host/jwt",
            "https://admin:Secr3t/x@host/jwt",
            "https://host/jwt?apikey=Secr3t",
            "https://host/jwt#Secr3t",
        ] {
            let err = Server::parse(text, "--server", false)
                .unwrap_err()
                .to_string();
            assert!(!err.contains("Secr3t"), "{err}");
            assert!(err.contains("'https://host/jwt'"), "{err}");
        }
    }

    #[test]
    fn no_proxy_cidr_ranges_match_ip_hosts() {
        for (list, host, matches) in [
            ("10.0.0.0/8", "10.1.2.3", true),
            ("10.0.0.0/8", "11.1.2.3", false),
            ("192.168.1.0/24", "192.168.1.77", true),
            ("192.168.1.0/24", "192.168.2.1", false),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("127.0.0.1/32", "127.0.0.1", true),
            ("127.0.0.1/32", "127.0.0.2", false),
            ("::1/128", "::1", true),
            ("[::1]/128", "::1", true),
            ("fd00::/8", "fd12:3456::1", true),
            ("fd00::/8", "fe80::1", false),
            ("10.0.0.0/8", "::1", false),
            ("::/0", "10.0.0.1", false),
            ("10.0.0.0/33", "10.0.0.1", false),
            ("10.0.0.0/x", "10.0.0.1", false),
            ("localhost, 172.16.0.0/12", "172.20.1.1", true),
            ("10.0.0.0/8", "host10.example.com", false),
            ("::1", "::1", true),
            ("0::1", "::1", true),
        ] {
            assert_eq!(no_proxy_matches(list, host), matches, "{list} {host}");
        }
        assert_eq!(
            proxy_for(
                "10.20.30.40",
                env(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "10.0.0.0/8")])
            ),
            None
        );
    }

    #[test]
    fn certificate_names_are_shown_as_names() {
        assert_eq!(
            presented_name("DnsName(\"qlik.example.com\")"),
            "qlik.example.com"
        );
        assert_eq!(presented_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(presented_name("plain"), "plain");
    }

    #[test]
    fn percent_encoding_keeps_unreserved_characters_only() {
        assert_eq!(percent_encode("a/b c"), "a%2Fb%20c");
        assert_eq!(percent_encode("prefix eq 'j'"), "prefix%20eq%20%27j%27");
        assert_eq!(percent_encode("A-z_0.9~"), "A-z_0.9~");
    }

    #[test]
    fn a_proxy_is_shown_without_its_password() {
        assert_eq!(
            proxy_shown("http://user:secret@proxy:3128"),
            "http://proxy:3128"
        );
        assert_eq!(proxy_shown("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(proxy_shown("u:p@proxy:3128"), "proxy:3128");
        // A password holding '/' and '@': split at the last '@' before the host.
        for url in [
            "http://svc:Sup3r/Secret@Passw0rd-2024xyz@proxy.corp:3128",
            "http://svc:p@ss/w0rd@proxy.corp:3128",
            "http://svc:a/b/c@d@e@proxy.corp:3128/",
        ] {
            let shown = proxy_shown(url);
            assert!(
                shown.starts_with("http://proxy.corp:3128"),
                "{url}: {shown}"
            );
        }
        assert_eq!(
            url_shown("https://host:443/users/a@b.example"),
            "https://host:443/users/a@b.example"
        );
    }
}
