//! A local stand-in for Qlik, for the login tests: a real HTTPS server on 127.0.0.1 (rustls on
//! aws-lc-rs, a certificate from `ca`'s test certificate authority) that answers as Qlik's
//! published API does, and validates tokens by Qlik's documented rules. It is not Qlik: where
//! Qlik publishes no wording (the reasons of a refused JWT beyond "Missing required claim"),
//! the stand-in writes its own in Qlik's published shape, and the tests check qs-jwt's hints
//! on those and on what qs-jwt finds itself before sending.
//!
//! Qlik Cloud (qlik.dev: Login API, Users API, rate limiting): `POST /login/jwt-session` with
//! `Authorization: Bearer <JWT>` gives 200 and the cookies `eas.sid`, `eas.sid.sig`,
//! `_csrfToken`, `_csrfToken.sig`, or 401 and `{"errors": [{"code", "title", "detail",
//! "status"}], "traceId"}`; `GET /api/v1/users/me` with the cookies redirects (301) to
//! `/api/v1/users/{id}`, the User object (`assignedGroups`). Tokens: RS256, `kid` and `iss` of
//! the identity provider, `aud` qlik.api/login/jwt-session, the required claims, exp - nbf at
//! most 3600 s, not expired, nbf not ahead (5 s tolerance), a `jti` used once.
//!
//! QSEoW (help.qlik.com: JWT authentication, QRS xrfkey, QPS Personal API): a virtual proxy
//! with prefix `jwt` takes `Authorization: Bearer <JWT>` signed by its certificate (RS256/384/
//! 512, the claims userId and userDirectory, its audience, not expired), answers
//! `/jwt/qrs/about?xrfkey=` (header X-Qlik-Xrfkey equal) with 200 and the cookie
//! `X-Qlik-Session-jwt`, and `/jwt/qps/user` with the session's user, `{"session": "inactive"}`
//! without one. A bad token gets 401; a request under another prefix gets what Qlik's default
//! virtual proxy gives one it cannot authenticate: a 302 to a login page.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::ca::{ServerCertificate, TestCa};
use super::{QLIK_CLOUD_AUDIENCE, fixture_text, identity_providers, now};

/// The identity provider the Qlik Cloud stand-in trusts, as `Create::qscloud()` makes tokens.
pub const ISSUER: &str = "i";
pub const KEY_ID: &str = "k";
/// The QSEoW stand-in's virtual proxy prefix and JWT audience.
pub const PREFIX: &str = "jwt";
pub const QSEOW_AUDIENCE: &str = super::QSEOW_AUDIENCE;

/// How the server answers.
#[derive(Clone)]
pub enum Behaviour {
    QlikCloud,
    Qseow,
    /// Every request: 429 with this Retry-After, Qlik's rate-limit body.
    RateLimited(&'static str),
    /// Every request: 302 to this URL.
    RedirectTo(String),
    /// Every request: this status and JSON body, and no cookie (a server that is not Qlik, or
    /// a Qlik error whose body says nothing).
    Fixed(u16, &'static str),
    /// Every request: this status and an error body (Qlik's `errors` and OAuth's `error`
    /// together) that quotes back everything the request sent, each value whole, a piece of
    /// it, the piece in upper case and the whole URL-encoded: a server that echoes secrets.
    Echo(u16),
    /// Every request read, then the connection closed without an answer and without TLS's
    /// close_notify: a server or a proxy that hangs up.
    HangUp,
}

/// `Behaviour::Echo`'s answer to `request`.
fn echo(status: u16, request: &Recorded) -> Answer {
    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(text) => out.push(text.clone()),
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Object(object) => object.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut sent = Vec::new();
    match serde_json::from_str::<Value>(&request.body) {
        Ok(value) => strings(&value, &mut sent),
        Err(_) if !request.body.is_empty() => sent.push(request.body.clone()),
        Err(_) => {}
    }
    for name in ["authorization", "cookie", "x-qlik-xrfkey"] {
        if let Some(value) = request.header(name) {
            sent.push(value.trim_start_matches("Bearer ").to_owned());
        }
    }
    // Short values (names) first: a long line is cut when shown.
    sent.sort_by_key(String::len);
    let quoted: Vec<String> = sent
        .iter()
        .map(|value| {
            let chars: Vec<char> = value.chars().collect();
            // Names (ids, grants, scopes, subjects) whole; secrets (longer) in pieces too.
            if chars.len() < 40 {
                return value.clone();
            }
            let piece: String = chars[chars.len() / 2 - 12..chars.len() / 2 + 12]
                .iter()
                .collect();
            let encoded: String = piece.bytes().map(|b| format!("%{b:02X}")).collect();
            format!(
                "{piece} (in capitals {}, encoded {encoded}), whole {value}",
                piece.to_ascii_uppercase()
            )
        })
        .collect();
    let detail = format!("you sent: {}", quoted.join("; "));
    Answer::json(
        status,
        json!({
            "error": "invalid_request",
            "error_description": detail,
            "errors": [{"code": "ECHO-1", "title": "Echo", "detail": detail, "status": status.to_string()}],
            "traceId": "0c6c4ed7a1f1e5b2d3c4b5a697887766",
        }),
    )
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the stand-in is configured with, as an admin configures Qlik: the identity provider
/// (issuer, key ID) or the virtual proxy (prefix, audience), and the certificate that verifies
/// tokens (the fixture's, or a file read at each request, for a walk that makes its key first).
#[derive(Clone)]
pub struct Trust {
    pub issuer: String,
    pub key_id: String,
    pub prefix: String,
    pub audience: String,
    pub certificate: Option<std::path::PathBuf>,
    /// The OAuth clients, users and settings of `POST /oauth/token` (see `oauth_server`).
    pub oauth: super::oauth_server::OauthConfig,
    /// The QSEoW virtual proxy's host allow list, for the engine's WebSocket.
    pub allow_hosts: Vec<String>,
    /// The engine's apps.
    pub apps: Vec<super::engine::App>,
    /// Qlik Cloud's engine: OnConnected's qSessionState (SESSION_CREATED unless set).
    pub engine_session_state: Option<String>,
    /// Qlik Cloud: the first this many `/api/v1/csrf-token` answers hand out a token the
    /// session then replaces (stale by the time of the handshake: 403).
    pub stale_csrf_tokens: usize,
    /// Qlik Cloud: the engine does not know the login's session (the handshake gets 401).
    pub engine_forgets_sessions: bool,
}

impl Default for Trust {
    fn default() -> Self {
        Self {
            issuer: ISSUER.to_owned(),
            key_id: KEY_ID.to_owned(),
            prefix: PREFIX.to_owned(),
            audience: QSEOW_AUDIENCE.to_owned(),
            certificate: None,
            oauth: Default::default(),
            allow_hosts: vec!["127.0.0.1".to_owned()],
            apps: Vec::new(),
            engine_session_state: None,
            stale_csrf_tokens: 0,
            engine_forgets_sessions: false,
        }
    }
}

/// What the stand-in keeps between requests.
#[derive(Default)]
struct State {
    used_jtis: HashSet<String>,
    /// Requests to `POST /oauth/token` so far.
    oauth_requests: usize,
    /// Session cookie value → the user.
    sessions: HashMap<String, Value>,
    /// Sessions made and ended so far (a probe ends each it makes).
    counts: SessionCounts,
    /// Session cookie value → its CSRF token (`/qps/csrftoken`, `/api/v1/csrf-token`).
    csrf_tokens: HashMap<String, String>,
    /// Qlik Cloud: a subject's user id, made at its first login.
    user_ids: HashMap<String, String>,
    trust: Trust,
    /// The identity providers of `identity_providers`' API. When there are any, a login is
    /// validated against them (an active one with the token's issuer and key ID, its key), not
    /// against `trust`.
    idps: Vec<Value>,
    /// Holds the identity providers' list (its first page) until this many runs have asked
    /// for it: runs that overlap, each acting on what it read before the others changed it.
    list_gate: Option<Arc<Gate>>,
    /// Holds the OAuth token requests until this many have arrived.
    token_gate: Option<Arc<Gate>>,
}

/// Arrivals wait until `expected` have come (or `limit` has passed, so that one that never
/// comes fails the test instead of hanging it).
struct Gate {
    arrived: Mutex<usize>,
    all_here: std::sync::Condvar,
    expected: usize,
    limit: Duration,
    /// Arrivals let go by the limit.
    alone: Mutex<usize>,
}

impl Gate {
    fn new(expected: usize, limit: Duration) -> Self {
        Self {
            arrived: Mutex::new(0),
            all_here: std::sync::Condvar::new(),
            expected,
            limit,
            alone: Mutex::new(0),
        }
    }

    fn arrive_and_wait(&self) {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, waited) = self
            .all_here
            .wait_timeout_while(arrived, self.limit, |n| *n < self.expected)
            .unwrap();
        drop(arrived);
        if waited.timed_out() {
            *self.alone.lock().unwrap() += 1;
        }
    }
}

/// How many sessions a stand-in made and how many were ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SessionCounts {
    pub opened: usize,
    pub ended: usize,
}

/// The CSRF token of the session `sid`, made at the first ask and kept with the session.
pub fn csrf_token_of(tokens: &mut HashMap<String, String>, sid: &str) -> String {
    tokens
        .entry(sid.to_owned())
        .or_insert_with(|| random(24))
        .clone()
}

/// A running stand-in; it serves until the test process ends.
pub struct QlikServer {
    pub port: u16,
    pub ca_pem: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    state: Arc<Mutex<State>>,
}

impl QlikServer {
    pub fn start(behaviour: Behaviour) -> Self {
        Self::start_with(behaviour, Trust::default())
    }

    pub fn start_with(behaviour: Behaviour, trust: Trust) -> Self {
        Self::start_with_ca(
            behaviour,
            trust,
            TestCa::new("qs-jwt test CA").server("qs-jwt test server"),
        )
    }

    /// A stand-in that presents `certificate` (a self-signed one, say).
    pub fn start_with_ca(
        behaviour: Behaviour,
        trust: Trust,
        certificate: ServerCertificate,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(Mutex::new(State {
            trust,
            ..State::default()
        }));
        let config = certificate.config();
        let recorded = requests.clone();
        let kept = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (config, recorded, state, behaviour) = (
                    config.clone(),
                    recorded.clone(),
                    state.clone(),
                    behaviour.clone(),
                );
                thread::spawn(move || {
                    let _ = serve(stream, config, port, &recorded, &state, &behaviour);
                });
            }
        });
        Self {
            port,
            ca_pem: certificate.ca_pem,
            requests,
            state: kept,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The identity providers the Qlik Cloud stand-in holds now.
    pub fn identity_providers(&self) -> Vec<Value> {
        self.state.lock().unwrap().idps.clone()
    }

    /// The sessions made and ended so far.
    pub fn sessions(&self) -> SessionCounts {
        self.state.lock().unwrap().counts
    }

    /// From now on, the first page of the identity providers' list is answered only once
    /// `runs` requests for it have come: that many runs read the same list before any acts.
    pub fn hold_identity_provider_lists_for(&self, runs: usize) {
        self.state.lock().unwrap().list_gate =
            Some(Arc::new(Gate::new(runs, Duration::from_secs(60))));
    }

    /// Gives the engine these apps from now on.
    pub fn set_apps(&self, apps: Vec<super::engine::App>) {
        self.state.lock().unwrap().trust.apps = apps;
    }

    /// Holds each `POST /oauth/token` until `requests` of them have arrived (or 20 seconds
    /// have passed): asks that overlap, each in flight while the others come. (The serve tests
    /// that use it run on Unix.)
    #[cfg(unix)]
    pub fn hold_token_requests_for(&self, requests: usize) {
        self.state.lock().unwrap().token_gate =
            Some(Arc::new(Gate::new(requests, Duration::from_secs(20))));
    }

    /// How many held token requests were let go by the time limit, not by the others' arrival.
    #[cfg(unix)]
    pub fn token_requests_that_waited_alone(&self) -> usize {
        self.state
            .lock()
            .unwrap()
            .token_gate
            .as_ref()
            .map_or(0, |gate| *gate.alone.lock().unwrap())
    }

    /// Adds an identity provider, as an admin would in the console.
    pub fn add_identity_provider(&self, idp: Value) {
        self.state.lock().unwrap().idps.push(idp);
    }
}

/// One connection: TLS, one HTTP/1.1 request, one answer, close.
fn serve(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    port: u16,
    recorded: &Mutex<Vec<Recorded>>,
    state: &Mutex<State>,
    behaviour: &Behaviour,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let connection = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let request = read_request(&mut BufReader::new(&mut tls))?;
    recorded.lock().unwrap().push(request.clone());
    if matches!(behaviour, Behaviour::HangUp) {
        return Ok(());
    }
    let gate = state.lock().unwrap().token_gate.clone();
    if let Some(gate) = gate
        && request.method == "POST"
        && request.target.starts_with("/oauth/token")
    {
        gate.arrive_and_wait();
    }
    let gate = state.lock().unwrap().list_gate.clone();
    if let Some(gate) = gate
        && request.method == "GET"
        && request.target.starts_with(identity_providers::PATH)
        && !request.target.contains("page=")
    {
        gate.arrive_and_wait();
    }
    if super::engine::is_upgrade(&request)
        && matches!(behaviour, Behaviour::QlikCloud | Behaviour::Qseow)
    {
        let decided = engine_session(&request, &state.lock().unwrap(), behaviour);
        match decided {
            Ok(session) => return super::engine::serve(tls, &request, &session),
            Err(answer) => {
                tls.write_all(&answer.bytes())?;
                tls.conn.send_close_notify();
                return tls.flush();
            }
        }
    }
    let answer = match behaviour {
        Behaviour::HangUp => unreachable!("answered above"),
        Behaviour::QlikCloud => qlik_cloud(&request, port, &mut state.lock().unwrap()),
        Behaviour::Qseow => qseow(&request, port, &mut state.lock().unwrap()),
        Behaviour::RateLimited(after) => Answer::json(
            429,
            json!({"errors": [{"code": "HTTP-429", "title": "API rate limit reached.",
                   "detail": format!("You need to wait {after} seconds until limit is lifted.")}]}),
        )
        .header("Retry-After", after),
        Behaviour::RedirectTo(url) => Answer::new(302, "text/html", "").header("Location", url),
        Behaviour::Fixed(status, body) => Answer::new(*status, "application/json", body),
        Behaviour::Echo(status) => echo(*status, &request),
    };
    tls.write_all(&answer.bytes())?;
    tls.flush()?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// The engine's session for a WebSocket, or the refusal: Qlik Cloud's `/app/<id>` with the
/// `eas.sid` session (the Origin the tenant's own host), QSEoW's `/{prefix}/app/...` with the
/// virtual proxy's session cookie (the Origin's host in `Trust::allow_hosts`).
fn engine_session(
    request: &Recorded,
    state: &State,
    behaviour: &Behaviour,
) -> Result<super::engine::EngineSession, Answer> {
    use super::engine::{EngineSession, Handshake, check};
    let cloud = matches!(behaviour, Behaviour::QlikCloud);
    let cookie_name = if cloud {
        "eas.sid".to_owned()
    } else {
        format!("X-Qlik-Session-{}", state.trust.prefix)
    };
    if !cloud
        && !request
            .target
            .starts_with(&format!("/{}/app/", state.trust.prefix))
    {
        return Err(Answer::new(404, "text/html", "<html>Not found</html>"));
    }
    let sid = cookie(request, &cookie_name).unwrap_or_default();
    let mut user = state.sessions.get(sid).cloned();
    // Qlik Cloud takes an OAuth access token in place of the session (issue 28).
    let access = cloud.then(|| access_token_user(request)).flatten();
    let sid = match (&access, bearer(request)) {
        (Some(owner), Some(token)) if user.is_none() => {
            user = Some(owner.clone());
            token
        }
        _ => sid,
    };
    let own_host = vec!["127.0.0.1".to_owned()];
    check(
        request,
        &Handshake {
            linked: true,
            cookie_name: &cookie_name,
            session: user.is_some() && !(cloud && state.trust.engine_forgets_sessions),
            bearer: access.is_some(),
            csrf_token: state.csrf_tokens.get(sid).map(String::as_str),
            allow_list: if cloud {
                &own_host
            } else {
                &state.trust.allow_hosts
            },
        },
    )?;
    let user = user.unwrap_or_default();
    let name = if cloud {
        user["id"].as_str().unwrap_or_default().to_owned()
    } else {
        format!(
            "UserDirectory={}; UserId={}",
            user["userDirectory"].as_str().unwrap_or_default(),
            user["userId"].as_str().unwrap_or_default()
        )
    };
    Ok(EngineSession {
        user: name,
        state: state
            .trust
            .engine_session_state
            .clone()
            .unwrap_or_else(|| "SESSION_CREATED".to_owned()),
        apps: state.trust.apps.clone(),
        flood: false,
    })
}

pub fn read_request(reader: &mut impl BufRead) -> io::Result<Recorded> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let target = words.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut request = Recorded {
        method,
        target,
        headers,
        body: String::new(),
    };
    let length: usize = request
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    request.body = String::from_utf8_lossy(&body).into_owned();
    Ok(request)
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn new(status: u16, content_type: &str, body: &str) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.to_owned(),
        }
    }

    pub fn json(status: u16, body: Value) -> Self {
        Self::new(status, "application/json", &body.to_string())
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            201 => "Created",
            301 => "Moved Permanently",
            302 => "Found",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            409 => "Conflict",
            503 => "Service Unavailable",
            429 => "Too Many Requests",
            _ => "Status",
        };
        let mut text = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (name, value) in &self.headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            self.body.len(),
            self.body
        ));
        text.into_bytes()
    }
}

pub fn random(len: usize) -> String {
    use rand::RngExt;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub fn bearer(request: &Recorded) -> Option<&str> {
    request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
}

pub fn cookie<'a>(request: &'a Recorded, name: &str) -> Option<&'a str> {
    request.header("cookie")?.split(';').find_map(|pair| {
        let (n, v) = pair.trim().split_once('=')?;
        (n == name).then_some(v)
    })
}

/// The RSA public key in the certificate Qlik is configured with.
fn certificate_key(trust: &Trust) -> DecodingKey {
    let pem = match &trust.certificate {
        Some(path) => std::fs::read_to_string(path).unwrap_or_default(),
        None => fixture_text("rsa2048-cert.pem"),
    };
    certificate_pem_key(&pem).unwrap()
}

/// The RSA public key of a PEM certificate, if it is one.
fn certificate_pem_key(pem: &str) -> Option<DecodingKey> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    Some(DecodingKey::from_rsa_der(
        &cert.public_key().subject_public_key.data,
    ))
}

/// The payload if the signature verifies with the certificate and `alg` is one of `algs`; no
/// claim checked (the callers check them as Qlik does, each with its own error).
fn verified_payload(token: &str, algs: &[Algorithm], trust: &Trust) -> Result<Value, &'static str> {
    verified_with(token, algs, &certificate_key(trust))
}

fn verified_with(
    token: &str,
    algs: &[Algorithm],
    key: &DecodingKey,
) -> Result<Value, &'static str> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed token")?;
    if !algs.contains(&header.alg) {
        return Err("unsupported algorithm");
    }
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|_| "invalid signature")
}

/// The payload, not verified (the caller has verified it, or picks the key by it).
fn unverified_claims(token: &str) -> Option<Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn qlik_cloud_error(detail: &str) -> Answer {
    Answer::json(
        401,
        json!({"errors": [{"title": "Invalid token request",
               "detail": format!("JWT_LOGIN_VALIDATIONS {detail}"),
               "code": "INTERNAL-TOKEN-1", "status": "401"}],
               "traceId": random(32).to_ascii_lowercase()}),
    )
}

fn qlik_cloud(request: &Recorded, port: u16, state: &mut State) -> Answer {
    let path = request.target.split('?').next().unwrap_or_default();
    match (request.method.as_str(), path) {
        ("POST", "/oauth/token") => {
            let attempt = state.oauth_requests;
            state.oauth_requests += 1;
            let answer = super::oauth_server::token(
                &state.trust.oauth,
                request.header("content-type").unwrap_or_default(),
                &request.body,
                port,
                &mut state.used_jtis,
                attempt,
            );
            let mut reply = Answer::json(answer.status, answer.body);
            for (name, value) in &answer.headers {
                reply = reply.header(name, value);
            }
            reply
        }
        ("POST", "/login/jwt-session") => match qlik_cloud_login(request, state) {
            Ok(answer) => answer,
            Err(detail) => qlik_cloud_error(&detail),
        },
        (method, path) if path.starts_with(identity_providers::PATH) => {
            let (status, body) = identity_providers::handle(
                method,
                // Qlik's links name its origin in lower case, whatever case the client wrote.
                &format!(
                    "https://{}{}",
                    request
                        .header("host")
                        .map_or_else(|| format!("127.0.0.1:{port}"), str::to_ascii_lowercase),
                    request.target
                ),
                bearer(request),
                request.body.as_bytes(),
                &mut state.idps,
            );
            if body.is_null() {
                Answer::new(status, "application/json", "")
            } else {
                Answer::json(status, body)
            }
        }
        ("GET", "/api/v1/csrf-token") => match cookie(request, "eas.sid") {
            Some(sid) if state.sessions.contains_key(sid) => {
                let token = csrf_token_of(&mut state.csrf_tokens, sid);
                if state.trust.stale_csrf_tokens > 0 {
                    state.trust.stale_csrf_tokens -= 1;
                    state.csrf_tokens.insert(sid.to_owned(), random(24));
                }
                Answer::new(204, "application/json", "").header("qlik-csrf-token", &token)
            }
            // An OAuth access token the tenant issued: its CSRF token is the token's own.
            _ => match (access_token_user(request), bearer(request)) {
                (Some(_), Some(token)) => {
                    let token = csrf_token_of(&mut state.csrf_tokens, token);
                    Answer::new(204, "application/json", "").header("qlik-csrf-token", &token)
                }
                _ => unauthorized(),
            },
        },
        // The tenant's sign-out: the session's cookie and its CSRF token.
        ("POST", "/logout") => match cookie(request, "eas.sid") {
            Some(sid) if state.sessions.contains_key(sid) => {
                let sid = sid.to_owned();
                if state.csrf_tokens.get(&sid).map(String::as_str)
                    != request.header("qlik-csrf-token")
                {
                    return Answer::json(
                        403,
                        json!({"errors": [{"code": "CSRF-1", "title": "Invalid CSRF token"}]}),
                    );
                }
                state.sessions.remove(&sid);
                state.csrf_tokens.remove(&sid);
                state.counts.ended += 1;
                Answer::new(200, "application/json", "{}")
            }
            _ => unauthorized(),
        },
        ("GET", "/api/v1/users/me") => match session_user(request, state, "eas.sid") {
            Some(user) => Answer::new(301, "text/html", "").header(
                "Location",
                &format!("/api/v1/users/{}", user["id"].as_str().unwrap()),
            ),
            None => unauthorized(),
        },
        ("GET", path) if path.starts_with("/api/v1/users/") => {
            match session_user(request, state, "eas.sid") {
                Some(user) if path.ends_with(user["id"].as_str().unwrap()) => {
                    Answer::json(200, user)
                }
                Some(_) => Answer::json(
                    404,
                    json!({"errors": [{"code": "USERS-7", "title": "Not found", "status": 404}]}),
                ),
                None => unauthorized(),
            }
        }
        _ => Answer::json(
            404,
            json!({"errors": [{"code": "HTTP-404", "title": "Not found"}]}),
        ),
    }
}

/// The user of an OAuth access token this tenant issued (`Authorization: Bearer`, checked with
/// the tenant's own key), as users/me names one: its id (the userId, else the subject).
fn access_token_user(request: &Recorded) -> Option<Value> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(
        bearer(request)?,
        &DecodingKey::from_secret(super::oauth_server::TENANT_KEY),
        &validation,
    )
    .ok()?
    .claims;
    let id = claims["userId"].as_str().or(claims["sub"].as_str())?;
    Some(json!({"id": id}))
}

fn unauthorized() -> Answer {
    Answer::json(
        401,
        json!({"errors": [{"code": "HTTP-401", "title": "Unauthorized", "status": "401"}]}),
    )
}

fn session_user(request: &Recorded, state: &State, name: &str) -> Option<Value> {
    state.sessions.get(cookie(request, name)?).cloned()
}

/// Qlik Cloud's rules for `POST /login/jwt-session`, in the order the published list gives.
fn qlik_cloud_login(request: &Recorded, state: &mut State) -> Result<Answer, String> {
    let token = bearer(request).ok_or("Missing bearer token")?;
    let header = jsonwebtoken::decode_header(token).map_err(|_| "Malformed token")?;
    if !state.idps.is_empty() {
        // Configured through the API: the token's issuer and key ID pick an active identity
        // provider, whose key must verify it; then the same rules as below.
        let claims = unverified_claims(token).ok_or("Malformed token")?;
        let kid = header.kid.clone().ok_or("Missing required claim: kid")?;
        let issuer = claims["iss"].as_str().unwrap_or_default().to_owned();
        let idp = state
            .idps
            .iter()
            .find(|p| {
                p["active"] == true
                    && p["options"]["issuer"] == issuer.as_str()
                    && p["options"]["staticKeys"][0]["kid"] == kid.as_str()
            })
            .ok_or("invalid issuer or kid: no active identity provider has them")?;
        let pem = idp["options"]["staticKeys"][0]["pem"]
            .as_str()
            .unwrap_or_default();
        let der =
            identity_providers::rsa_der(pem).ok_or("the identity provider's key is unreadable")?;
        let mut trust = state.trust.clone();
        trust.issuer = issuer;
        trust.key_id = kid;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_rsa_der(&der), &validation)
            .map_err(|_| "invalid signature: the signature does not verify with the IdP's key")?;
        state.trust = trust;
    }
    let payload = if state.idps.is_empty() {
        verified_payload(token, &[Algorithm::RS256], &state.trust)
            .map_err(|why| format!("{why}: the signature does not verify with the IdP's key"))?
    } else {
        unverified_claims(token).ok_or("Malformed token")?
    };
    for claim in [
        "iss",
        "aud",
        "sub",
        "subType",
        "name",
        "email",
        "email_verified",
        "jti",
        "iat",
        "nbf",
        "exp",
    ] {
        if payload.get(claim).is_none_or(Value::is_null) {
            return Err(format!("Missing required claim: {claim}"));
        }
    }
    match header.kid.as_deref() {
        None => return Err("Missing required claim: kid".to_owned()),
        Some(kid) if kid == state.trust.key_id => {}
        Some(_) => return Err("kid does not match the identity provider's key ID".to_owned()),
    }
    if payload["iss"] != state.trust.issuer.as_str() {
        return Err("invalid issuer: no identity provider has this issuer".to_owned());
    }
    if payload["aud"] != QLIK_CLOUD_AUDIENCE || payload["subType"] != "user" {
        return Err("invalid audience or subType".to_owned());
    }
    let (nbf, exp) = (
        payload["nbf"].as_u64().unwrap_or(0),
        payload["exp"].as_u64().unwrap_or(0),
    );
    if exp.saturating_sub(nbf) > 3_600 {
        return Err("token lifetime exceeds 3600 seconds".to_owned());
    }
    let now = now();
    if exp <= now {
        return Err("token expired".to_owned());
    }
    if nbf > now + 5 {
        return Err("token not yet valid (nbf)".to_owned());
    }
    let jti = payload["jti"].to_string();
    if !state.used_jtis.insert(jti) {
        return Err("jti has already been used".to_owned());
    }
    let sid = random(32);
    let groups: Vec<Value> = payload["groups"]
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .map(|g| json!({"id": random(24), "name": g, "providerType": "idp"}))
                .collect()
        })
        .unwrap_or_default();
    // A subject is one user: the same id at every login, as on a tenant.
    let user_id = state
        .user_ids
        .entry(payload["sub"].as_str().unwrap_or_default().to_owned())
        .or_insert_with(|| random(24).to_ascii_lowercase())
        .clone();
    let user = json!({
        "id": user_id, "tenantId": "T3nant", "status": "active",
        "subject": payload["sub"], "name": payload["name"], "email": payload["email"],
        "assignedGroups": groups, "assignedRoles": [],
    });
    state.sessions.insert(sid.clone(), user);
    state.counts.opened += 1;
    Ok(Answer::json(200, json!({}))
        .header(
            "Set-Cookie",
            &format!("eas.sid={sid}; path=/; samesite=none; secure; httponly"),
        )
        .header(
            "Set-Cookie",
            &format!(
                "eas.sid.sig={}; path=/; samesite=none; secure; httponly",
                random(27)
            ),
        )
        .header(
            "Set-Cookie",
            &format!("_csrfToken={}; path=/; samesite=none; secure", random(36)),
        )
        .header(
            "Set-Cookie",
            &format!(
                "_csrfToken.sig={}; path=/; samesite=none; secure",
                random(27)
            ),
        ))
}

fn qseow(request: &Recorded, port: u16, state: &mut State) -> Answer {
    let path = request.target.split('?').next().unwrap_or_default();
    let prefix = state.trust.prefix.clone();
    let Some(rest) = path.strip_prefix(&format!("/{prefix}/")) else {
        // The default virtual proxy, with its login page.
        return Answer::new(302, "text/html", "").header(
            "Location",
            &format!("https://127.0.0.1:{port}/internal_forms_authentication/?targetId=x"),
        );
    };
    let cookie_name = format!("X-Qlik-Session-{prefix}");
    match rest {
        "qrs/about" => {
            let query_key = request
                .target
                .split_once("xrfkey=")
                .map(|(_, key)| key.split('&').next().unwrap_or_default());
            if query_key.is_none() || query_key != request.header("x-qlik-xrfkey") {
                return Answer::new(403, "text/plain", "XSRF prevention check failed.");
            }
            let about = json!({"buildVersion": "14.254.6", "databaseProvider": "Devart.Data.PostgreSql",
                               "nodeType": 1, "sharedPersistence": true, "schemaPath": "About"});
            if session_user(request, state, &cookie_name).is_some() {
                return Answer::json(200, about);
            }
            let Some(token) = bearer(request) else {
                return Answer::new(401, "text/html", "<html>Unauthorized</html>");
            };
            match qseow_user(token, &state.trust) {
                Ok(user) if user["userId"] == "nolicense" => Answer::new(
                    403,
                    "text/html",
                    "<html>You cannot access Qlik Sense because you have no access pass.</html>",
                ),
                Ok(user) => {
                    let sid = random(36);
                    state.sessions.insert(sid.clone(), user);
                    state.counts.opened += 1;
                    Answer::json(200, about).header(
                        "Set-Cookie",
                        &format!("{cookie_name}={sid}; Path=/; HttpOnly; SameSite=None; Secure"),
                    )
                }
                Err(_) => Answer::new(401, "text/html", "<html>Unauthorized</html>"),
            }
        }
        "qps/user" if request.method == "DELETE" => {
            end_qps_session(
                request,
                &cookie_name,
                &mut state.sessions,
                &mut state.counts,
            );
            state
                .csrf_tokens
                .retain(|sid, _| state.sessions.contains_key(sid));
            Answer::json(200, json!({"session": "inactive"}))
        }
        "qps/user" => match session_user(request, state, &cookie_name) {
            Some(user) => Answer::json(200, user),
            None => Answer::json(200, json!({"session": "inactive"})),
        },
        "qps/csrftoken" => qps_csrf_token(
            request,
            &cookie_name,
            &state.sessions,
            &mut state.csrf_tokens,
        ),
        _ => Answer::new(404, "text/html", "<html>Not found</html>"),
    }
}

/// The Personal API's logout (`DELETE /{prefix}/qps/user`): the session of the cookie ends.
pub fn end_qps_session(
    request: &Recorded,
    cookie_name: &str,
    sessions: &mut HashMap<String, Value>,
    counts: &mut SessionCounts,
) {
    if let Some(sid) = cookie(request, cookie_name)
        && sessions.remove(sid).is_some()
    {
        counts.ended += 1;
    }
}

/// `GET /{prefix}/qps/csrftoken`: the session's CSRF token in the `qlik-csrf-token` header,
/// 401 without a session.
pub fn qps_csrf_token(
    request: &Recorded,
    cookie_name: &str,
    sessions: &HashMap<String, Value>,
    tokens: &mut HashMap<String, String>,
) -> Answer {
    match cookie(request, cookie_name).filter(|sid| sessions.contains_key(*sid)) {
        Some(sid) => {
            let token = csrf_token_of(tokens, sid);
            Answer::new(200, "application/json", "{}").header("qlik-csrf-token", &token)
        }
        None => Answer::new(401, "text/html", "<html>Unauthorized</html>"),
    }
}

/// The virtual proxy's JWT rules: the signature, the attributes for user ID and directory, the
/// audience, the expiry.
fn qseow_user(token: &str, trust: &Trust) -> Result<Value, &'static str> {
    qseow_user_with(
        token,
        &certificate_key(trust),
        &trust.audience,
        "userId",
        "userDirectory",
        &trust.prefix,
    )
}

/// As `qseow_user`, for a virtual proxy configured with this certificate's key, audience,
/// attribute names and prefix (the repository stand-in's, `qrs_server`).
pub fn qseow_user_with(
    token: &str,
    key: &DecodingKey,
    audience: &str,
    user_id_attribute: &str,
    user_directory_attribute: &str,
    prefix: &str,
) -> Result<Value, &'static str> {
    let payload = verified_with(
        token,
        &[Algorithm::RS256, Algorithm::RS384, Algorithm::RS512],
        key,
    )?;
    let text = |name: &str| payload[name].as_str().filter(|s| !s.is_empty());
    let (Some(user_id), Some(directory)) =
        (text(user_id_attribute), text(user_directory_attribute))
    else {
        return Err("missing user attributes");
    };
    if payload["aud"] != audience {
        return Err("wrong audience");
    }
    if payload["exp"].as_u64().is_none_or(|exp| exp <= now()) {
        return Err("expired");
    }
    Ok(json!({"userDirectory": directory, "userId": user_id,
              "userName": text("name").unwrap_or(user_id),
              "logoutUri": format!("/{prefix}/qps/user")}))
}

/// The decoding key of a virtual proxy's `jwtPublicKeyCertificate`, if it is a certificate.
pub fn jwt_certificate_key(pem: &str) -> Option<DecodingKey> {
    certificate_pem_key(pem)
}

/// A TCP listener that never answers: connections wait in its backlog.
pub fn silent_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// A port on 127.0.0.1 where nothing listens (bound, then let go).
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP CONNECT proxy, as HTTPS_PROXY names one: records each CONNECT target, then
/// relays bytes both ways.
pub struct ConnectProxy {
    pub port: u16,
    targets: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let recorded = targets.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let recorded = recorded.clone();
                thread::spawn(move || {
                    let _ = relay(client, &recorded);
                });
            }
        });
        Self { port, targets }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

fn relay(client: TcpStream, recorded: &Mutex<Vec<String>>) -> io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let request = read_request(&mut reader)?;
    if request.method != "CONNECT" {
        return (&client).write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
    }
    recorded.lock().unwrap().push(request.target.clone());
    let upstream = TcpStream::connect(&request.target)?;
    (&client).write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    let (mut up_read, mut up_write) = (upstream.try_clone()?, upstream);
    let mut client_write = client;
    let down = thread::spawn(move || io::copy(&mut up_read, &mut client_write));
    // Whatever the client sent after the CONNECT header is still in the reader's buffer.
    io::copy(&mut reader, &mut up_write)?;
    let _ = down.join();
    Ok(())
}
