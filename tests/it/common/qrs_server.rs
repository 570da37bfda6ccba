//! A local stand-in for a QSEoW site's repository API (QRS, port 4242) and its proxy (port
//! 443), for `setup-qseow --apply` and the tests of what reads the repository: two HTTPS
//! listeners on 127.0.0.1 (rustls on aws-lc-rs, a certificate authority of its own from `ca`,
//! which also issues the client certificate the tests give qs-jwt, as the QMC exports
//! client.pem, client_key.pem and root.pem).
//!
//! Qlik's published behaviour it follows (help.qlik.com, Repository Service API: "Connecting
//! to the QRS API", "Using Xrfkey headers", "Virtual Proxy: Create", "Virtual Proxy: Link", the
//! entity reference; sources in src/qlik/qseow/):
//! - the repository port demands a client certificate signed by the site's CA (mutual TLS);
//!   every call carries the same xrfkey in the query (`xrfkey=`) and `X-Qlik-Xrfkey`, else 403
//!   "XSRF prevention check failed."; and `X-Qlik-User`;
//! - `GET /qrs/{virtualproxyconfig,proxyservice,engineservice,servernodeconfiguration}/full`
//!   (`filter=prefix eq '...'` on virtual proxies), `POST /qrs/virtualproxyconfig` (201, the
//!   entity with `id`, `createdDate`, `modifiedDate`), `PUT /qrs/{virtualproxyconfig,
//!   proxyservice}/{id}` (200, the entity with a new `modifiedDate`; 409 when the body's
//!   `modifiedDate` is not the one held: someone changed it meanwhile);
//! - a proxy service's `settings.virtualProxies` is what links a virtual proxy to it; a virtual
//!   proxy "must be linked to a proxy service before [it] is available for use";
//! - the proxy authenticates `Authorization: Bearer <JWT>` on `/{prefix}/qrs/about?xrfkey=`
//!   through the virtual proxy with that prefix, by its `jwtPublicKeyCertificate`,
//!   `jwtAudience`, `jwtAttributeUserId` and `jwtAttributeUserDirectory` (the rules of
//!   `qlik_server::qseow_user_with`), sets its `sessionCookieHeaderName` cookie, and answers
//!   `/{prefix}/qps/user` with the session's user.
//!
//! The stand-in's own (Qlik publishes no wording or does not behave exactly so): the text of a
//! 403 for a missing `X-Qlik-User` or a user that is not an admin, of a 404, of a 409; that a
//! virtual proxy without load-balancing nodes answers 503 (a real proxy may still reach the
//! repository, and fails at the first app); that a prefix no linked JWT virtual proxy serves
//! gets the default virtual proxy's 302 to a login page, and a virtual proxy that is not JWT a
//! 401. Only the fields qs-jwt reads and writes are kept faithfully; the rest of an entity is
//! kept as it was sent.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rcgen::KeyPair;
use serde_json::{Value, json};

use super::ca::TestCa;
use super::engine::{self as stand_in_engine, App, EngineSession, Handshake};
use super::fixture_text;
use super::qlik_server::{
    Answer, Recorded, SessionCounts, bearer, cookie, end_qps_session, jwt_certificate_key,
    qps_csrf_token, qseow_user_with, random, read_request,
};

/// The repository's service account, which the stand-in takes as an admin.
pub const ADMIN_USER: &str = "UserDirectory=INTERNAL; UserId=sa_repository";

/// What the repository holds; the tests read it back and set it up as an admin would.
#[derive(Default)]
pub struct Repository {
    pub virtual_proxies: Vec<Value>,
    pub proxy_services: Vec<Value>,
    pub server_nodes: Vec<Value>,
    pub engine_services: Vec<Value>,
    /// The `X-Qlik-User` values let in (else 403).
    pub admins: Vec<String>,
    /// A knob: after every read of the virtual proxies, someone saves each of them in the QMC
    /// (a new `modifiedDate`), so that a PUT with the date read gets 409.
    pub changed_behind: bool,
    /// A knob: every POST and PUT is answered with this status and text body (a repository
    /// that refuses a value, or fails).
    pub refuse_writes: Option<(u16, &'static str)>,
    /// A knob: every PUT of a proxy service (a link) is answered with this status and text
    /// body, after the virtual proxy itself was written.
    pub refuse_links: Option<(u16, &'static str)>,
    /// A knob: every PUT of a proxy service (a link) is carried out, and its answer lost (the
    /// connection closed without one).
    pub lose_link_answers: bool,
    /// A knob: the next POST of a virtual proxy finds that another run (a second --apply
    /// started at the same time) made this one with its prefix a moment before, so the prefix
    /// is taken and the POST refused, as the repository refuses a prefix that is not unique.
    pub made_meanwhile: Option<Value>,
    /// Session cookie value → the user, for the proxy.
    sessions: HashMap<String, Value>,
    /// Session cookie value → its CSRF token.
    csrf_tokens: HashMap<String, String>,
    /// Sessions the proxy made and ended.
    pub counts: SessionCounts,
    /// The engine's apps.
    pub apps: Vec<App>,
    /// A knob: the proxy has no `/qps/csrftoken` (404), as QSEoW before November 2024.
    pub no_csrf_endpoint: bool,
    /// A knob: OnConnected's qSessionState (SESSION_CREATED unless set).
    pub engine_session_state: Option<String>,
    /// A knob: the proxy serves the prefix, but the virtual proxy is not linked to the central
    /// proxy whose engine the WebSocket needs: the handshake gets 400.
    pub engine_unlinked: bool,
    /// A knob: the first this many `/qps/csrftoken` answers hand out a token the session then
    /// replaces (stale by the time of the handshake: 403).
    pub stale_csrf_tokens: usize,
    /// A knob: the WebSocket reaches a proxy node that does not hold the HTTP login's session
    /// (a load balancer without sticky sessions): the handshake gets 401.
    pub engine_forgets_sessions: bool,
    /// A knob: the engine sends a 2 MiB message before OnConnected (a server that lies).
    pub engine_floods: bool,
    /// A knob: the WebSocket's handshake is never answered (a proxy in between that holds it).
    pub engine_hangs: bool,
    stamps: u64,
}

impl Repository {
    /// A new `modifiedDate`, later than every earlier one.
    fn stamp(&mut self) -> String {
        self.stamps += 1;
        format!(
            "2026-11-29T{:02}:{:02}:{:02}.000Z",
            10 + self.stamps / 3600 % 10,
            self.stamps / 60 % 60,
            self.stamps % 60
        )
    }
}

/// A running stand-in; it serves until the test process ends.
pub struct QrsServer {
    /// The repository API's port (mutual TLS).
    pub qrs_port: u16,
    /// The proxy's port (the virtual proxies).
    pub proxy_port: u16,
    /// root.pem: the CA that signed the servers' and the client's certificates.
    pub root_pem: String,
    /// client.pem and client_key.pem (PKCS#1, `BEGIN RSA PRIVATE KEY`, as the QMC exports it;
    /// the key is the fixture rsa2048-pkcs1.pem, whose PKCS#8 form is rsa2048-pkcs8.pem).
    pub client_pem: String,
    pub client_key_pem: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    proxy_requests: Arc<Mutex<Vec<Recorded>>>,
    state: Arc<Mutex<Repository>>,
}

/// A central node that runs an engine and a proxy service with no virtual proxy linked: a
/// site as installed, before any virtual proxy for JWT.
pub const NODE_ID: &str = "5b8a4c1e-0000-4000-8000-00000000c0de";
pub const PROXY_SERVICE_ID: &str = "6c9b5d2f-0000-4000-8000-00000000beef";

impl QrsServer {
    pub fn start() -> Self {
        let ca = TestCa::new("qs-jwt test site CA");
        let server = ca.server("qs-jwt test site");
        // The QMC's client certificate: CN=QlikClient, for an RSA key in PKCS#1.
        let client_key = KeyPair::from_pem(&fixture_text("rsa2048-pkcs8.pem")).unwrap();
        let client_pem = ca.client_certificate(&client_key, "QlikClient");
        let qrs_config = server.config_for_clients_of(&ca);
        Self::start_with(&ca, &server, qrs_config, client_pem)
    }

    /// A repository whose QMC exported an X.509 v1 client certificate (the fixture
    /// client-v1.pem, signed by client-v1-ca.pem, for rsa2048-pkcs1.pem's key), which it takes
    /// as QSEoW does (issue 27).
    pub fn start_for_v1_clients() -> Self {
        let ca = TestCa::new("qs-jwt test site CA");
        let server = ca.server("qs-jwt test site");
        let qrs_config =
            super::ca::config_for_v1_clients(&server, &fixture_text("client-v1-ca.pem"));
        Self::start_with(&ca, &server, qrs_config, fixture_text("client-v1.pem"))
    }

    fn start_with(
        ca: &TestCa,
        server: &super::ca::ServerCertificate,
        qrs_config: Arc<rustls::ServerConfig>,
        client_pem: String,
    ) -> Self {
        let proxy_config = server.config();

        let mut repository = Repository {
            admins: vec![ADMIN_USER.to_owned()],
            ..Repository::default()
        };
        let node = json!({"id": NODE_ID, "name": "central", "hostName": "qlikserver.example.com",
                          "isCentral": true});
        repository.server_nodes.push(node.clone());
        repository.engine_services.push(json!({
            "id": "7dac6e3a-0000-4000-8000-00000000e001", "serverNodeConfiguration": node,
        }));
        let stamp = repository.stamp();
        repository.proxy_services.push(json!({
            "id": PROXY_SERVICE_ID, "modifiedDate": stamp, "serverNodeConfiguration": node,
            "settings": {"listenPort": 443, "virtualProxies": [
                {"id": "0fa0c7d1-0000-4000-8000-000000000001", "prefix": "",
                 "description": "Central Proxy (Default)", "defaultVirtualProxy": true}
            ]},
        }));
        let state = Arc::new(Mutex::new(repository));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let proxy_requests = Arc::new(Mutex::new(Vec::new()));
        let qrs_port = listen(qrs_config, requests.clone(), state.clone(), Port::Qrs);
        let proxy_port = listen(
            proxy_config,
            proxy_requests.clone(),
            state.clone(),
            Port::Proxy,
        );
        Self {
            qrs_port,
            proxy_port,
            root_pem: ca.pem().to_owned(),
            client_pem,
            client_key_pem: fixture_text("rsa2048-pkcs1.pem"),
            requests,
            proxy_requests,
            state,
        }
    }

    /// `https://127.0.0.1:<qrs port>`: what `--qrs` takes.
    pub fn qrs_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.qrs_port)
    }

    /// `https://127.0.0.1:<proxy port>`: the hub's origin, before a virtual proxy prefix.
    pub fn proxy_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.proxy_port)
    }

    /// Writes client.pem, client_key.pem (owner only) and root.pem into `dir`, as an admin
    /// copies the QMC's export.
    pub fn write_certificates(&self, dir: &std::path::Path) {
        std::fs::write(dir.join("client.pem"), &self.client_pem).unwrap();
        let key = dir.join("client_key.pem");
        std::fs::write(&key, &self.client_key_pem).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::write(dir.join("root.pem"), &self.root_pem).unwrap();
    }

    /// The repository's requests so far (method, target, headers, body).
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The proxy's requests so far.
    pub fn proxy_requests(&self) -> Vec<Recorded> {
        self.proxy_requests.lock().unwrap().clone()
    }

    /// The repository, to read or to set up as an admin would in the QMC.
    pub fn with<T>(&self, f: impl FnOnce(&mut Repository) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub fn virtual_proxies(&self) -> Vec<Value> {
        self.with(|r| r.virtual_proxies.clone())
    }

    pub fn proxy_services(&self) -> Vec<Value> {
        self.with(|r| r.proxy_services.clone())
    }

    /// Adds a virtual proxy as an admin would (an `id` and `modifiedDate` stamped unless it
    /// has them); its id. Link it with [`QrsServer::link`], or leave it unlinked.
    pub fn add_virtual_proxy(&self, mut virtual_proxy: Value) -> String {
        self.with(|r| {
            if virtual_proxy.get("id").is_none() {
                virtual_proxy["id"] = json!(uuid());
            }
            virtual_proxy["modifiedDate"] = json!(r.stamp());
            let id = virtual_proxy["id"].as_str().unwrap().to_owned();
            r.virtual_proxies
                .push(expand_nodes(virtual_proxy, &r.server_nodes));
            id
        })
    }

    /// Links the virtual proxy `id` to every proxy service, as the QMC's Associated items do.
    pub fn link(&self, id: &str) {
        self.with(|r| {
            let stamp = r.stamp();
            for service in &mut r.proxy_services {
                service["settings"]["virtualProxies"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"id": id}));
                service["modifiedDate"] = json!(stamp);
            }
        })
    }

    /// Adds a second node with an engine (and no proxy service), as a rim node.
    pub fn add_engine_node(&self, id: &str, name: &str) {
        self.with(|r| {
            let node = json!({"id": id, "name": name, "hostName": format!("{name}.example.com")});
            r.server_nodes.push(node.clone());
            r.engine_services
                .push(json!({"id": uuid(), "serverNodeConfiguration": node}));
        })
    }
}

/// A virtual proxy as an admin would make it by hand for qs-jwt's tokens: JWT, the claim names
/// create-qseow writes, load balancing to the central node. Change a field to break it (another
/// `jwtAudience` or `jwtPublicKeyCertificate`, `authenticationMethod` 0, no
/// `loadBalancingServerNodes`), and leave it unlinked to break it further.
pub fn jwt_virtual_proxy(prefix: &str, audience: &str, certificate_pem: &str) -> Value {
    json!({
        "prefix": prefix,
        "description": "made by hand",
        "sessionCookieHeaderName": format!("X-Qlik-Session-{prefix}"),
        "authenticationMethod": 4,
        "anonymousAccessMode": 0,
        "sessionInactivityTimeout": 30,
        "jwtAudience": audience,
        "jwtPublicKeyCertificate": certificate_pem,
        "jwtAttributeUserId": "userId",
        "jwtAttributeUserDirectory": "userDirectory",
        "jwtAttributeMap": [],
        "loadBalancingServerNodes": [{"id": NODE_ID}],
        "websocketCrossOriginWhiteList": [],
    })
}

/// A virtual proxy whose users sign in through a SAML identity provider (authenticationMethod
/// 3): what setup-qseow --apply must not convert silently.
pub fn saml_virtual_proxy(prefix: &str) -> Value {
    json!({
        "prefix": prefix,
        "description": "SAML sign-in",
        "sessionCookieHeaderName": format!("X-Qlik-Session-{prefix}"),
        "authenticationMethod": 3,
        "anonymousAccessMode": 0,
        "sessionInactivityTimeout": 30,
        "samlMetadataIdP": "<EntityDescriptor/>",
        "samlHostUri": "https://qlik.example.com",
        "samlEntityId": "qlik",
        "samlAttributeUserId": "uid",
        "samlAttributeUserDirectory": "[CORP]",
        "loadBalancingServerNodes": [{"id": NODE_ID}],
        "websocketCrossOriginWhiteList": [],
    })
}

/// A virtual proxy whose users a front-end names in a header (authenticationMethod 1).
pub fn header_virtual_proxy(prefix: &str) -> Value {
    json!({
        "prefix": prefix,
        "description": "header authentication",
        "sessionCookieHeaderName": format!("X-Qlik-Session-{prefix}"),
        "authenticationMethod": 1,
        "headerAuthenticationHeaderName": "X-Remote-User",
        "headerAuthenticationStaticUserDirectory": "CORP",
        "anonymousAccessMode": 0,
        "sessionInactivityTimeout": 30,
        "loadBalancingServerNodes": [{"id": NODE_ID}],
        "websocketCrossOriginWhiteList": [],
    })
}

fn uuid() -> String {
    let hex = format!("{:032x}", rand::random::<u128>());
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `loadBalancingServerNodes` as the repository returns them: condensed nodes.
fn expand_nodes(mut virtual_proxy: Value, nodes: &[Value]) -> Value {
    if let Some(list) = virtual_proxy["loadBalancingServerNodes"].as_array() {
        let expanded: Vec<Value> = list
            .iter()
            .map(|n| {
                nodes
                    .iter()
                    .find(|node| node["id"] == n["id"])
                    .cloned()
                    .unwrap_or_else(|| n.clone())
            })
            .collect();
        virtual_proxy["loadBalancingServerNodes"] = json!(expanded);
    }
    virtual_proxy
}

#[derive(Clone, Copy)]
enum Port {
    Qrs,
    Proxy,
}

fn listen(
    config: Arc<rustls::ServerConfig>,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    state: Arc<Mutex<Repository>>,
    port: Port,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let number = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (config, recorded, state) = (config.clone(), recorded.clone(), state.clone());
            thread::spawn(move || {
                let _ = serve(stream, config, &recorded, &state, port);
            });
        }
    });
    number
}

fn serve(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    recorded: &Mutex<Vec<Recorded>>,
    state: &Mutex<Repository>,
    port: Port,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let connection = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, stream);
    // A client without an accepted certificate fails here, with rustls's alert to it.
    let request = read_request(&mut BufReader::new(&mut tls))?;
    recorded.lock().unwrap().push(request.clone());
    if matches!(port, Port::Proxy) && stand_in_engine::is_upgrade(&request) {
        if state.lock().unwrap().engine_hangs {
            // Holds the handshake unanswered until the client gives up (or a minute).
            let mut byte = [0u8; 1];
            let _ = tls.sock.set_read_timeout(Some(Duration::from_secs(60)));
            let _ = tls.read(&mut byte);
            return Ok(());
        }
        let decided = engine_session(&request, &state.lock().unwrap());
        match decided {
            Ok(session) => return stand_in_engine::serve(tls, &request, &session),
            Err(answer) => {
                tls.write_all(&answer.bytes())?;
                tls.conn.send_close_notify();
                return tls.flush();
            }
        }
    }
    let answer = match port {
        Port::Qrs => qrs(&request, &mut state.lock().unwrap()),
        Port::Proxy => proxy(&request, &mut state.lock().unwrap()),
    };
    if matches!(port, Port::Qrs)
        && request.method == "PUT"
        && request.target.starts_with("/qrs/proxyservice/")
        && state.lock().unwrap().lose_link_answers
    {
        return Ok(());
    }
    tls.write_all(&answer.bytes())?;
    tls.flush()?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// The query parameter `name` (compared without letter case, as QRS does for Xrfkey),
/// %-decoded.
fn query(request: &Recorded, name: &str) -> Option<String> {
    let (_, query) = request.target.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        n.eq_ignore_ascii_case(name).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn xrfkey_ok(request: &Recorded) -> bool {
    let key = query(request, "xrfkey");
    key.is_some() && key.as_deref() == request.header("x-qlik-xrfkey")
}

fn qrs(request: &Recorded, repository: &mut Repository) -> Answer {
    if !xrfkey_ok(request) {
        return Answer::new(403, "text/plain", "XSRF prevention check failed.");
    }
    let Some(user) = request.header("x-qlik-user") else {
        return Answer::new(
            403,
            "text/plain",
            "No X-Qlik-User header (the stand-in's wording)",
        );
    };
    if !repository.admins.iter().any(|a| a == user) {
        return Answer::new(
            403,
            "text/plain",
            "Access denied: the user has no admin rights (the stand-in's wording)",
        );
    }
    if let Some((status, text)) = repository.refuse_writes
        && request.method != "GET"
    {
        return Answer::new(status, "text/plain", text);
    }
    let path = request.target.split('?').next().unwrap_or_default();
    if let Some((status, text)) = repository.refuse_links
        && request.method == "PUT"
        && path.starts_with("/qrs/proxyservice/")
    {
        return Answer::new(status, "text/plain", text);
    }
    let body: Option<Value> = serde_json::from_str(&request.body).ok();
    match (request.method.as_str(), path) {
        ("GET", "/qrs/about") => Answer::json(200, json!({"buildVersion": "14.254.6"})),
        ("GET", "/qrs/virtualproxyconfig/full") => {
            let filter = query(request, "filter");
            let wanted = filter.as_deref().and_then(|f| {
                f.strip_prefix("prefix eq '")
                    .and_then(|rest| rest.strip_suffix('\''))
                    .map(|p| p.replace("''", "'"))
            });
            let list: Vec<Value> = repository
                .virtual_proxies
                .iter()
                .filter(|vp| wanted.as_deref().is_none_or(|p| vp["prefix"] == p))
                .cloned()
                .collect();
            if repository.changed_behind {
                for i in 0..repository.virtual_proxies.len() {
                    let stamp = repository.stamp();
                    repository.virtual_proxies[i]["modifiedDate"] = json!(stamp);
                }
            }
            Answer::json(200, json!(list))
        }
        ("POST", "/qrs/virtualproxyconfig") | ("POST", "/qrs/virtualproxyconfig/") => {
            let Some(mut vp) = body.filter(Value::is_object) else {
                return Answer::new(400, "text/plain", "The body is not a virtual proxy");
            };
            if let Some(mut other) = repository.made_meanwhile.take() {
                other["id"] = json!(uuid());
                let stamp = repository.stamp();
                other["createdDate"] = json!(stamp);
                other["modifiedDate"] = json!(stamp);
                repository.virtual_proxies.push(other);
            }
            if repository
                .virtual_proxies
                .iter()
                .any(|other| other["prefix"] == vp["prefix"])
            {
                return Answer::new(400, "text/plain", "Prefix must be unique");
            }
            let cookie = vp["sessionCookieHeaderName"].as_str().unwrap_or_default();
            if repository.virtual_proxies.iter().any(|other| {
                other["sessionCookieHeaderName"]
                    .as_str()
                    .is_some_and(|held| held.eq_ignore_ascii_case(cookie))
            }) {
                return Answer::new(
                    400,
                    "text/plain",
                    "Session cookie header name must be unique",
                );
            }
            vp["id"] = json!(uuid());
            let stamp = repository.stamp();
            vp["createdDate"] = json!(stamp);
            vp["modifiedDate"] = json!(stamp);
            vp["modifiedByUserName"] = json!("INTERNAL\\sa_repository");
            let vp = expand_nodes(vp, &repository.server_nodes);
            repository.virtual_proxies.push(vp.clone());
            Answer::json(201, vp)
        }
        ("PUT", path) if path.starts_with("/qrs/virtualproxyconfig/") => {
            let id = &path["/qrs/virtualproxyconfig/".len()..];
            let Some(vp) = body.filter(Value::is_object) else {
                return Answer::new(400, "text/plain", "The body is not a virtual proxy");
            };
            let nodes = repository.server_nodes.clone();
            let stamp = repository.stamp();
            let Some(held) = repository
                .virtual_proxies
                .iter_mut()
                .find(|vp| vp["id"] == id)
            else {
                return Answer::new(404, "text/plain", "Not found");
            };
            if held["modifiedDate"] != vp["modifiedDate"] {
                return Answer::new(
                    409,
                    "text/plain",
                    "The entity was modified by another user since it was read",
                );
            }
            let mut vp = expand_nodes(vp, &nodes);
            vp["modifiedDate"] = json!(stamp);
            *held = vp.clone();
            Answer::json(200, vp)
        }
        ("GET", "/qrs/proxyservice/full") => Answer::json(200, json!(repository.proxy_services)),
        ("PUT", path) if path.starts_with("/qrs/proxyservice/") => {
            let id = &path["/qrs/proxyservice/".len()..];
            let Some(mut service) = body.filter(Value::is_object) else {
                return Answer::new(400, "text/plain", "The body is not a proxy service");
            };
            let stamp = repository.stamp();
            let known: Vec<Value> = repository.virtual_proxies.clone();
            let Some(held) = repository.proxy_services.iter_mut().find(|s| s["id"] == id) else {
                return Answer::new(404, "text/plain", "Not found");
            };
            if held["modifiedDate"] != service["modifiedDate"] {
                return Answer::new(
                    409,
                    "text/plain",
                    "The entity was modified by another user since it was read",
                );
            }
            // The repository keeps references: condensed virtual proxies, by id.
            if let Some(list) = service["settings"]["virtualProxies"].as_array_mut() {
                for item in list.iter_mut() {
                    if let Some(vp) = known.iter().find(|vp| vp["id"] == item["id"]) {
                        *item = json!({"id": vp["id"], "prefix": vp["prefix"],
                                       "description": vp["description"]});
                    }
                }
            }
            service["modifiedDate"] = json!(stamp);
            *held = service.clone();
            Answer::json(200, service)
        }
        ("GET", "/qrs/engineservice/full") => Answer::json(200, json!(repository.engine_services)),
        ("GET", "/qrs/servernodeconfiguration/full") => {
            Answer::json(200, json!(repository.server_nodes))
        }
        _ => Answer::new(404, "text/plain", "Not found"),
    }
}

/// The engine's session for a WebSocket through `/{prefix}/app/...`, or the proxy's refusal.
fn engine_session(request: &Recorded, repository: &Repository) -> Result<EngineSession, Answer> {
    let path = request.target.split('?').next().unwrap_or_default();
    let login_page = || {
        Answer::new(302, "text/html", "")
            .header("Location", "/internal_forms_authentication/?targetId=x")
    };
    let Some((prefix, _)) = path.trim_start_matches('/').split_once('/') else {
        return Err(login_page());
    };
    let Some(vp) = served(repository, prefix) else {
        return Err(login_page());
    };
    let cookie_name = vp["sessionCookieHeaderName"]
        .as_str()
        .unwrap_or("X-Qlik-Session");
    let sid = cookie(request, cookie_name).unwrap_or_default();
    let user = repository.sessions.get(sid);
    let allow_list: Vec<String> = vp["websocketCrossOriginWhiteList"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|h| h.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    stand_in_engine::check(
        request,
        &Handshake {
            linked: !repository.engine_unlinked,
            cookie_name,
            session: user.is_some() && !repository.engine_forgets_sessions,
            bearer: false,
            csrf_token: repository.csrf_tokens.get(sid).map(String::as_str),
            allow_list: &allow_list,
        },
    )?;
    let user = user.cloned().unwrap_or_default();
    Ok(EngineSession {
        user: format!(
            "UserDirectory={}; UserId={}",
            user["userDirectory"].as_str().unwrap_or_default(),
            user["userId"].as_str().unwrap_or_default()
        ),
        state: repository
            .engine_session_state
            .clone()
            .unwrap_or_else(|| "SESSION_CREATED".to_owned()),
        apps: repository.apps.clone(),
        flood: repository.engine_floods,
    })
}

/// The virtual proxy with `prefix` that the proxy serves: linked to a proxy service.
fn served<'a>(repository: &'a Repository, prefix: &str) -> Option<&'a Value> {
    let vp = repository
        .virtual_proxies
        .iter()
        .find(|vp| vp["prefix"] == prefix)?;
    let linked = repository.proxy_services.iter().any(|s| {
        s["settings"]["virtualProxies"]
            .as_array()
            .is_some_and(|list| list.iter().any(|item| item["id"] == vp["id"]))
    });
    linked.then_some(vp)
}

fn proxy(request: &Recorded, repository: &mut Repository) -> Answer {
    let path = request.target.split('?').next().unwrap_or_default();
    let login_page = || {
        Answer::new(302, "text/html", "")
            .header("Location", "/internal_forms_authentication/?targetId=x")
    };
    let Some((prefix, rest)) = path.trim_start_matches('/').split_once('/') else {
        return login_page();
    };
    let Some(vp) = served(repository, prefix).cloned() else {
        return login_page();
    };
    let cookie_name = vp["sessionCookieHeaderName"]
        .as_str()
        .unwrap_or("X-Qlik-Session")
        .to_owned();
    let session =
        cookie(request, &cookie_name).and_then(|sid| repository.sessions.get(sid).cloned());
    match rest {
        "qrs/about" => {
            if !xrfkey_ok(request) {
                return Answer::new(403, "text/plain", "XSRF prevention check failed.");
            }
            let about = json!({"buildVersion": "14.254.6", "schemaPath": "About"});
            if session.is_some() {
                return Answer::json(200, about);
            }
            if vp["authenticationMethod"] != 4 {
                return Answer::new(401, "text/html", "<html>Unauthorized</html>");
            }
            if vp["loadBalancingServerNodes"]
                .as_array()
                .is_none_or(|n| n.is_empty())
            {
                return Answer::new(
                    503,
                    "text/html",
                    "<html>No available nodes (the stand-in's wording)</html>",
                );
            }
            let Some(token) = bearer(request) else {
                return Answer::new(401, "text/html", "<html>Unauthorized</html>");
            };
            let Some(key) = vp["jwtPublicKeyCertificate"]
                .as_str()
                .and_then(jwt_certificate_key)
            else {
                return Answer::new(401, "text/html", "<html>Unauthorized</html>");
            };
            let text = |name: &str| vp[name].as_str().unwrap_or_default().to_owned();
            match qseow_user_with(
                token,
                &key,
                &text("jwtAudience"),
                &text("jwtAttributeUserId"),
                &text("jwtAttributeUserDirectory"),
                prefix,
            ) {
                Ok(user) => {
                    let sid = random(36);
                    repository.sessions.insert(sid.clone(), user);
                    repository.counts.opened += 1;
                    // The virtual proxy's session cookie domain, when set, as QSEoW sends it.
                    let domain = match vp["sessionCookieDomain"].as_str() {
                        Some(domain) if !domain.is_empty() => format!("; Domain={domain}"),
                        _ => String::new(),
                    };
                    Answer::json(200, about).header(
                        "Set-Cookie",
                        &format!(
                            "{cookie_name}={sid}; Path=/{domain}; HttpOnly; SameSite=None; Secure"
                        ),
                    )
                }
                Err(_) => Answer::new(401, "text/html", "<html>Unauthorized</html>"),
            }
        }
        "qps/user" if request.method == "DELETE" => {
            let Repository {
                sessions,
                csrf_tokens,
                counts,
                ..
            } = repository;
            end_qps_session(request, &cookie_name, sessions, counts);
            csrf_tokens.retain(|sid, _| sessions.contains_key(sid));
            Answer::json(200, json!({"session": "inactive"}))
        }
        "qps/user" => match session {
            Some(user) => Answer::json(200, user),
            None => Answer::json(200, json!({"session": "inactive"})),
        },
        "qps/csrftoken" if repository.no_csrf_endpoint => {
            Answer::new(404, "text/html", "<html>Not found</html>")
        }
        "qps/csrftoken" => {
            let answer = qps_csrf_token(
                request,
                &cookie_name,
                &repository.sessions,
                &mut repository.csrf_tokens,
            );
            if repository.stale_csrf_tokens > 0
                && let Some(sid) = cookie(request, &cookie_name)
                && repository.csrf_tokens.contains_key(sid)
            {
                repository.stale_csrf_tokens -= 1;
                repository.csrf_tokens.insert(sid.to_owned(), random(24));
            }
            answer
        }
        _ => Answer::new(404, "text/html", "<html>Not found</html>"),
    }
}
