//! QSEoW's repository (QRS) and proxy (QPS) APIs, as typed requests and replies, a client for
//! each: a [`Proxy`] (a virtual proxy, as a browser reaches it) and a [`Repository`]. Through a
//! virtual proxy, the xrfkey pair every call carries, `GET /qrs/about` (the call a JWT login goes
//! with) and `GET /qps/user` (the session's user); on the repository's own port (4242, with a
//! client certificate), the virtual proxies, proxy services and engine nodes that
//! `setup-qseow --apply` configures (and `doctor-qseow` reads).
//!
//! Sources (see docs/research notes of issue 10): help.qlik.com's QRS xrfkey rule and QPS
//! Personal API (`GET /{virtual proxy}/qps/user`). For the repository API (issue 19):
//! - "Connecting to the QRS API" (https://help.qlik.com/en-US/sense-developer/Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Connect-API.htm):
//!   port 4242 "from behind the proxy in the trusted zone (this call requires client and server
//!   cert authentication)"; "Authenticating requests" (…/RepositoryServiceAPI-Connect-API-Authenticate-Reqs.htm):
//!   the certificates exported from the QMC, and the `X-Qlik-User` header
//!   (`UserDirectory=INTERNAL; UserId=sa_repository` in Qlik's own example of the xrfkey page,
//!   "Using Xrfkey headers": 16 characters of 0-9, a-z, A-Z in the `Xrfkey` parameter and the
//!   `X-Qlik-Xrfkey` header).
//! - "Virtual Proxy: Create" (…/RepositoryServiceAPI-Virtual-Proxy-Create.htm): `POST
//!   /qrs/virtualproxyconfig/`; "Properties that are not configured will be set to system
//!   defaults"; "A virtual proxy must be linked to a proxy service before the virtual proxy is
//!   available for use" ("Virtual Proxy: Link": the proxy service's `settings.virtualProxies`
//!   gets the virtual proxy, `PUT /qrs/proxyservice/{id}`).
//! - The entity reference (https://help.qlik.com/en-US/sense-developer/APIs/RepositoryServiceAPI/index.html):
//!   `VirtualProxyConfig` (`authenticationMethod` 4 = JWT, `loadBalancingServerNodes` of
//!   `ServerNodeConfigurationCondensed`, `websocketCrossOriginWhiteList`, `modifiedDate`),
//!   `ProxyService` (`settings.virtualProxies`), `EngineService` (`serverNodeConfiguration`),
//!   and `filter=prefix eq '…'` on `GET /qrs/{type}/full`.
//! - "Updating an entity and handling PUT request conflict responses"
//!   (…/RepositoryServiceAPI-Connect-API-Conflict-Handling.htm): get the entity, change the
//!   properties, send the entire entity back with its `id` and unchanged `modifiedDate`; "if the
//!   modifiedDate property in the repository database is more recent than the one you are
//!   including in your request, there is a conflict and the QRS returns a 409 Conflict error".
//!   So an update never overwrites an admin's change made meanwhile, and is not retried.
//! - "Connecting using certificates" (…/RepositoryServiceAPI-Example-Connect-cURL-Certificates.htm):
//!   the client certificate "exporting it from the Qlik Management Console (QMC) in PEM format
//!   including the secret key", `curl --cert client.pem --key client_key.pem`, requests "made
//!   with full administrator rights", `X-Qlik-User` for another user's security context.

use rand::RngExt;
use rand::distr::Alphanumeric;
use serde_json::Value;

use crate::error::UserError;
use crate::http::{Client, Method, Reply, Request, Server, percent_encode};
use crate::qlik::{session_user, text};
use crate::secret::SecretText;

const ABOUT_PATH: &str = "/qrs/about";
const QPS_USER_PATH: &str = "/qps/user";
const QPS_CSRF_TOKEN_PATH: &str = "/qps/csrftoken";

/// QRS refuses a request without the same random key in the query and a header (its
/// protection against cross-site request forgery); one key serves every call of a run.
#[derive(Debug, Clone)]
pub struct Xrfkey(String);

impl Xrfkey {
    /// 16 letters and digits, as QRS asks of an xrfkey.
    pub fn random() -> Self {
        Self(
            rand::rng()
                .sample_iter(Alphanumeric)
                .take(16)
                .map(char::from)
                .collect(),
        )
    }

    fn about_path(&self) -> String {
        self.query(ABOUT_PATH)
    }

    fn query(&self, path: &str) -> String {
        let joint = if path.contains('?') { '&' } else { '?' };
        format!("{path}{joint}xrfkey={}", self.0)
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        vec![("X-Qlik-Xrfkey", self.0.clone())]
    }
}

/// A virtual proxy, as a user's browser reaches it: the login a token makes through it and the
/// session's user, with one xrfkey for both.
pub struct Proxy {
    client: Client,
    xrfkey: Xrfkey,
}

impl Proxy {
    /// The virtual proxy at `client`'s server (its prefix the server's path).
    pub fn new(client: Client) -> Self {
        Self {
            client,
            xrfkey: Xrfkey::random(),
        }
    }

    pub fn server(&self) -> &Server {
        self.client.server()
    }

    /// Where a login's session cookies are set: `GET /qrs/about`'s path and query below the
    /// virtual proxy's prefix.
    pub fn login_path(&self) -> String {
        format!("{}{}", self.server().base_path, self.xrfkey.about_path())
    }

    /// Sends `token` with `GET /qrs/about`; the reply as it came (a session's cookies, a
    /// refusal or a redirect to a login page), for the caller to read.
    pub fn login(&self, token: &SecretText) -> Result<Reply, UserError> {
        self.client.send(&Request {
            method: Method::Get,
            path: self.xrfkey.about_path(),
            bearer: Some(token),
            cookies: None,
            headers: self.xrfkey.headers(),
        })
    }

    /// The session's user (`GET /qps/user` with the session's cookies), or none with a
    /// warning: the session is made either way.
    pub fn user(&self, cookies: &SecretText) -> Option<QpsUser> {
        session_user(
            &self.client,
            &self.xrfkey.query(QPS_USER_PATH),
            Some(cookies),
            &self.xrfkey.headers(),
            QpsUser::from_json,
        )
    }

    /// Ends the session (the Personal API's `DELETE /{virtual proxy}/qps/user` with the
    /// session's cookies): a probe leaves no session behind, for QSEoW counts them per user.
    pub fn logout(&self, cookies: &SecretText) -> Result<Reply, UserError> {
        self.client.send(&Request {
            method: Method::Delete,
            path: self.xrfkey.query(QPS_USER_PATH),
            bearer: None,
            cookies: Some(cookies),
            headers: self.xrfkey.headers(),
        })
    }

    /// The session's CSRF token for the engine's WebSocket (`GET /{virtual proxy}/qps/csrftoken`,
    /// the `qlik-csrf-token` header of its answer), QSEoW November 2024 and later.
    pub fn csrf_token(&self, cookies: &SecretText) -> Result<Reply, UserError> {
        self.client.send(&Request {
            method: Method::Get,
            path: self.xrfkey.query(QPS_CSRF_TOKEN_PATH),
            bearer: None,
            cookies: Some(cookies),
            headers: self.xrfkey.headers(),
        })
    }

    /// The client, for the engine's WebSocket (same TLS, proxy and deadline).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// QPS's user of a session, the fields qs-jwt shows, each only when the proxy gave it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QpsUser {
    pub name: Option<String>,
    pub user_directory: Option<String>,
    pub user_id: Option<String>,
}

impl QpsUser {
    /// `{"userDirectory", "userId", "userName", "logoutUri"}` for a session,
    /// `{"session": "inactive"}` without one (None).
    pub fn from_json(value: &Value) -> Option<Self> {
        let user = Self {
            name: text(value, "userName"),
            user_directory: text(value, "userDirectory"),
            user_id: text(value, "userId"),
        };
        let inactive = value.get("session").and_then(Value::as_str) == Some("inactive");
        (!inactive && user.user_id.is_some()).then_some(user)
    }
}

/// The `X-Qlik-User` the repository API is called as, unless `--qrs-user` says otherwise:
/// the repository's own service account, as in Qlik's examples.
pub const DEFAULT_QRS_USER: &str = "UserDirectory=INTERNAL; UserId=sa_repository";

/// `authenticationMethod` of a virtual proxy that takes JWTs.
pub const JWT_AUTHENTICATION: i64 = 4;

/// The name of an `authenticationMethod` (the QRS reference's enumeration for
/// VirtualProxyConfig: 0 Ticket, 1 HeaderStaticUserDirectory, 2 HeaderDynamicUserDirectory,
/// 3 SAML, 4 JWT, 5 OIDC).
pub fn authentication_method_name(method: Option<i64>) -> String {
    match method {
        Some(0) => "0, Ticket".to_owned(),
        Some(1) => "1, Header static user directory".to_owned(),
        Some(2) => "2, Header dynamic user directory".to_owned(),
        Some(3) => "3, SAML".to_owned(),
        Some(4) => "4, JWT".to_owned(),
        Some(5) => "5, OIDC".to_owned(),
        Some(other) => other.to_string(),
        None => "none".to_owned(),
    }
}

/// How the users of a virtual proxy with another authentication method log in, which a
/// conversion to JWT ends for them.
pub fn authentication_method_users(method: Option<i64>) -> &'static str {
    match method {
        Some(0) => "log in with Windows or forms authentication (tickets)",
        Some(1 | 2) => "are named by the header a front-end server sets",
        Some(3) => "sign in through its SAML identity provider",
        Some(5) => "sign in through its OpenID Connect provider",
        _ => "log in the way it is set up now",
    }
}

/// The fields of a virtual proxy that say how it verifies a JWT: what `setup-qseow --apply`
/// sets on an existing virtual proxy, and nothing else of what the admin set.
pub const JWT_FIELDS: [&str; 6] = [
    "authenticationMethod",
    "jwtAudience",
    "jwtPublicKeyCertificate",
    "jwtAttributeUserId",
    "jwtAttributeUserDirectory",
    "jwtAttributeMap",
];

/// The repository API on its own port (4242): every call with the xrfkey pair and
/// `X-Qlik-User`, through a client that presents the QMC's client certificate.
pub struct Repository {
    client: Client,
    xrfkey: Xrfkey,
    user: String,
}

/// A call to the repository that did not give what was asked.
#[derive(Debug)]
pub enum QrsFailure {
    /// Transport, TLS (a refused client certificate), time limit: said by `http`.
    Transport(UserError),
    /// The repository answered with another status; its body, as text.
    Refused { status: u16, body: String },
    /// A 2xx whose body is not what the API documents.
    Unreadable { status: u16, what: &'static str },
}

impl From<UserError> for QrsFailure {
    fn from(err: UserError) -> Self {
        Self::Transport(err)
    }
}

impl Repository {
    /// `user` is the `X-Qlik-User` header's value (`UserDirectory=…; UserId=…`).
    pub fn new(client: Client, user: impl Into<String>) -> Self {
        Self {
            client,
            xrfkey: Xrfkey::random(),
            user: user.into(),
        }
    }

    pub fn server(&self) -> &Server {
        self.client.server()
    }

    /// The `X-Qlik-User` every call carries.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// One call: the xrfkey in the query and its header, `X-Qlik-User`, a JSON body for a
    /// POST or PUT; the reply's JSON when the status is 2xx.
    fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &'static str,
    ) -> Result<Value, QrsFailure> {
        let mut headers = self.xrfkey.headers();
        headers.push(("X-Qlik-User", self.user.clone()));
        headers.push(("Accept", "application/json".to_owned()));
        let request = Request {
            method,
            path: self.xrfkey.query(path),
            bearer: None,
            cookies: None,
            headers,
        };
        let reply = match body {
            Some(body) => self
                .client
                .send_json(&request, body.to_string().as_bytes())?,
            None => self.client.send(&request)?,
        };
        if !(200..300).contains(&reply.status) {
            return Err(QrsFailure::Refused {
                status: reply.status,
                body: String::from_utf8_lossy(&reply.body).into_owned(),
            });
        }
        serde_json::from_slice(&reply.body).map_err(|_| QrsFailure::Unreadable {
            status: reply.status,
            what,
        })
    }

    fn list(&self, path: &str, what: &'static str) -> Result<Vec<Value>, QrsFailure> {
        match self.call(Method::Get, path, None, what)? {
            Value::Array(items) => Ok(items),
            _ => Err(QrsFailure::Unreadable { status: 200, what }),
        }
    }
}

/// A virtual proxy as the repository holds it: what qs-jwt reads, and the whole object (to
/// print, and to send back changed).
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualProxy {
    pub id: String,
    pub prefix: String,
    pub modified_date: Option<String>,
    pub authentication_method: Option<i64>,
    pub jwt_audience: Option<String>,
    pub jwt_certificate: Option<String>,
    /// The ids of `loadBalancingServerNodes`.
    pub load_balancing_nodes: Vec<String>,
    pub json: Value,
}

impl VirtualProxy {
    pub fn from_json(value: &Value) -> Self {
        Self {
            id: text(value, "id").unwrap_or_default(),
            prefix: text(value, "prefix").unwrap_or_default(),
            modified_date: text(value, "modifiedDate"),
            authentication_method: value.get("authenticationMethod").and_then(Value::as_i64),
            jwt_audience: text(value, "jwtAudience"),
            jwt_certificate: text(value, "jwtPublicKeyCertificate"),
            load_balancing_nodes: ids(value.get("loadBalancingServerNodes")),
            json: value.clone(),
        }
    }

    pub fn is_jwt(&self) -> bool {
        self.authentication_method == Some(JWT_AUTHENTICATION)
    }
}

/// A proxy service (one a node runs) and the virtual proxies linked to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyService {
    pub id: String,
    /// Its server node's id, name and host name, for messages (the repository's condensed node
    /// may carry the id alone).
    pub node_id: Option<String>,
    pub node_name: Option<String>,
    pub node_host: Option<String>,
    /// The ids of `settings.virtualProxies`.
    pub virtual_proxy_ids: Vec<String>,
    pub json: Value,
}

impl ProxyService {
    pub fn from_json(value: &Value) -> Self {
        let node = value.get("serverNodeConfiguration");
        Self {
            id: text(value, "id").unwrap_or_default(),
            node_id: node.and_then(|n| text(n, "id")),
            node_name: node.and_then(|n| text(n, "name")),
            node_host: node.and_then(|n| text(n, "hostName")),
            virtual_proxy_ids: ids(value.pointer("/settings/virtualProxies")),
            json: value.clone(),
        }
    }

    pub fn links(&self, virtual_proxy_id: &str) -> bool {
        self.virtual_proxy_ids
            .iter()
            .any(|id| id == virtual_proxy_id)
    }

    /// The node's name or host, else the service's id: what a message names it by.
    pub fn shown(&self) -> String {
        self.node_name
            .clone()
            .or_else(|| self.node_host.clone())
            .unwrap_or_else(|| self.id.clone())
    }
}

/// What messages call each of `services`, in their order, as the doctor and setup both name
/// them: its server node's name (from the service, else from `nodes` by the node's id, else the
/// node's host), and the service's id only where it is needed: when no name is known, or to
/// tell two services of the same name apart.
pub fn proxy_service_names(services: &[ProxyService], nodes: &[ServerNode]) -> Vec<String> {
    let named: Vec<Option<String>> = services
        .iter()
        .map(|service| {
            service
                .node_name
                .clone()
                .or_else(|| {
                    let id = service.node_id.as_deref()?;
                    let node = nodes.iter().find(|node| node.id == id)?;
                    node.name.clone().or_else(|| node.host_name.clone())
                })
                .or_else(|| service.node_host.clone())
        })
        .collect();
    named
        .iter()
        .zip(services)
        .map(|(name, service)| match name {
            Some(name) if named.iter().flatten().filter(|n| *n == name).count() == 1 => {
                name.clone()
            }
            Some(name) => format!("{name} ({})", service.id),
            None => service.id.clone(),
        })
        .collect()
}

/// A server node (`ServerNodeConfigurationCondensed`): what load balancing names.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerNode {
    pub id: String,
    pub name: Option<String>,
    pub host_name: Option<String>,
}

impl ServerNode {
    pub fn from_json(value: &Value) -> Option<Self> {
        Some(Self {
            id: text(value, "id")?,
            name: text(value, "name"),
            host_name: text(value, "hostName"),
        })
    }

    pub fn shown(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.host_name.clone())
            .unwrap_or_else(|| self.id.clone())
    }
}

const VIRTUAL_PROXY_PATH: &str = "/qrs/virtualproxyconfig";
const PROXY_SERVICE_PATH: &str = "/qrs/proxyservice";
const ENGINE_SERVICE_PATH: &str = "/qrs/engineservice";

impl Repository {
    /// The virtual proxies with this prefix (`GET /qrs/virtualproxyconfig/full?filter=prefix eq
    /// '<prefix>'`): none, one, or (a repository that let two share it) several.
    pub fn virtual_proxies_by_prefix(&self, prefix: &str) -> Result<Vec<VirtualProxy>, QrsFailure> {
        // QRS's filter quotes a string in '', and doubles a ' inside it.
        let filter = format!("prefix eq '{}'", prefix.replace('\'', "''"));
        let path = format!(
            "{VIRTUAL_PROXY_PATH}/full?filter={}",
            percent_encode(&filter)
        );
        let items = self.list(&path, "the list of virtual proxies is not a JSON array")?;
        // The repository filters; a stand-in or an old version that does not is filtered here.
        let found: Vec<VirtualProxy> = items
            .iter()
            .map(VirtualProxy::from_json)
            .filter(|vp| vp.prefix.trim_matches('/').eq_ignore_ascii_case(prefix))
            .collect();
        if found.iter().any(|vp| vp.id.trim().is_empty()) {
            // Without its id it can be neither updated nor linked.
            return Err(QrsFailure::Unreadable {
                status: 200,
                what: "a virtual proxy listed has no id",
            });
        }
        Ok(found)
    }

    /// Every virtual proxy of the site (`GET /qrs/virtualproxyconfig/full`): what doctor-qseow
    /// names when none has the prefix asked for.
    pub fn virtual_proxies(&self) -> Result<Vec<VirtualProxy>, QrsFailure> {
        let path = format!("{VIRTUAL_PROXY_PATH}/full");
        let items = self.list(&path, "the list of virtual proxies is not a JSON array")?;
        Ok(items.iter().map(VirtualProxy::from_json).collect())
    }

    /// Creates a virtual proxy (`POST /qrs/virtualproxyconfig`); the repository's answer.
    pub fn create_virtual_proxy(&self, body: &Value) -> Result<VirtualProxy, QrsFailure> {
        let value = self.call(
            Method::Post,
            VIRTUAL_PROXY_PATH,
            Some(body),
            "the virtual proxy created is not JSON",
        )?;
        let created = VirtualProxy::from_json(&value);
        if created.id.is_empty() {
            // Without its id it can be neither linked nor found again.
            return Err(QrsFailure::Unreadable {
                status: 201,
                what: "the virtual proxy created has no id",
            });
        }
        Ok(created)
    }

    /// Replaces the virtual proxy `body` names by its `id` (`PUT /qrs/virtualproxyconfig/{id}`),
    /// with the `modifiedDate` the body holds: a 409 means it changed meanwhile.
    pub fn update_virtual_proxy(&self, body: &Value) -> Result<VirtualProxy, QrsFailure> {
        let id = writable(
            body,
            "the virtual proxy read has no id",
            "the virtual proxy read has no modifiedDate (which guards an update against a change \
         made meanwhile)",
        )?;
        let path = format!("{VIRTUAL_PROXY_PATH}/{}", percent_encode(&id));
        let value = self.call(
            Method::Put,
            &path,
            Some(body),
            "the virtual proxy updated is not JSON",
        )?;
        let updated = VirtualProxy::from_json(&value);
        if updated.id.is_empty() {
            // Without its id it can be neither linked nor found again.
            return Err(QrsFailure::Unreadable {
                status: 200,
                what: "the virtual proxy updated has no id",
            });
        }
        Ok(updated)
    }

    /// Every proxy service with the virtual proxies linked to it (`GET /qrs/proxyservice/full`).
    pub fn proxy_services(&self) -> Result<Vec<ProxyService>, QrsFailure> {
        let path = format!("{PROXY_SERVICE_PATH}/full");
        let items = self.list(&path, "the list of proxy services is not a JSON array")?;
        Ok(items.iter().map(ProxyService::from_json).collect())
    }

    /// Links the virtual proxy `virtual_proxy_id` to `service` ("Virtual Proxy: Link": `PUT
    /// /qrs/proxyservice/{id}` with it added to `settings.virtualProxies`, the service's
    /// `modifiedDate` as read); the service as the repository returned it.
    pub fn link_virtual_proxy(
        &self,
        service: &ProxyService,
        virtual_proxy_id: &str,
    ) -> Result<ProxyService, QrsFailure> {
        if virtual_proxy_id.trim().is_empty() {
            return Err(QrsFailure::Unreadable {
                status: 200,
                what: "the virtual proxy to link has no id",
            });
        }
        let mut body = service.json.clone();
        let settings = body.as_object_mut().map(|o| {
            o.entry("settings")
                .or_insert_with(|| Value::Object(Default::default()))
        });
        let mut added = false;
        if let Some(Value::Object(settings)) = settings {
            let list = settings
                .entry("virtualProxies")
                .or_insert_with(|| Value::Array(Vec::new()));
            if list.is_null() {
                *list = Value::Array(Vec::new());
            }
            if let Value::Array(list) = list {
                list.push(serde_json::json!({"id": virtual_proxy_id}));
                added = true;
            }
        }
        if !added {
            // Sent as it is, the PUT would link nothing and each run would "link" it again.
            return Err(QrsFailure::Unreadable {
                status: 200,
                what: "a proxy service's settings.virtualProxies is not a list",
            });
        }
        let id = writable(
            &body,
            "a proxy service read has no id",
            "a proxy service read has no modifiedDate (which guards an update against a change \
         made meanwhile)",
        )?;
        let path = format!("{PROXY_SERVICE_PATH}/{}", percent_encode(&id));
        let value = self.call(
            Method::Put,
            &path,
            Some(&body),
            "the proxy service updated is not JSON",
        )?;
        Ok(ProxyService::from_json(&value))
    }

    /// The server nodes that run an engine (`GET /qrs/engineservice/full`, each service's
    /// `serverNodeConfiguration`), once each: what a virtual proxy load-balances to.
    pub fn engine_nodes(&self) -> Result<Vec<ServerNode>, QrsFailure> {
        let path = format!("{ENGINE_SERVICE_PATH}/full");
        let items = self.list(&path, "the list of engine services is not a JSON array")?;
        let mut nodes: Vec<ServerNode> = Vec::new();
        for node in items
            .iter()
            .filter_map(|e| e.get("serverNodeConfiguration"))
            .filter_map(ServerNode::from_json)
        {
            if !nodes.iter().any(|n| n.id == node.id) {
                nodes.push(node);
            }
        }
        Ok(nodes)
    }

    /// Every server node of the site (`GET /qrs/servernodeconfiguration/full`).
    pub fn server_nodes(&self) -> Result<Vec<ServerNode>, QrsFailure> {
        let path = "/qrs/servernodeconfiguration/full";
        let items = self.list(path, "the list of server nodes is not a JSON array")?;
        Ok(items.iter().filter_map(ServerNode::from_json).collect())
    }

    /// The repository's `GET /qrs/about` (its version, among others): the cheapest call that
    /// proves the repository is reached and takes the certificate and the user.
    pub fn about(&self) -> Result<Value, QrsFailure> {
        self.call(
            Method::Get,
            ABOUT_PATH,
            None,
            "the repository's about is not JSON",
        )
    }
}

/// The `id` of an entity to be sent back with PUT, which must also hold the `modifiedDate` it
/// was read with: without an id the PUT would go to the list's URL, and without the date the
/// repository could not refuse it (409) when an admin changed the entity meanwhile.
fn writable(
    body: &Value,
    no_id: &'static str,
    no_date: &'static str,
) -> Result<String, QrsFailure> {
    let id = text(body, "id").filter(|id| !id.trim().is_empty());
    let Some(id) = id else {
        return Err(QrsFailure::Unreadable {
            status: 200,
            what: no_id,
        });
    };
    if text(body, "modifiedDate").is_none_or(|d| d.trim().is_empty()) {
        return Err(QrsFailure::Unreadable {
            status: 200,
            what: no_date,
        });
    }
    Ok(id)
}

/// A virtual proxy made to take qs-jwt's tokens, and what that changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub json: Value,
    /// What changed, in words, one item each: empty when nothing did.
    pub changes: Vec<String>,
}

/// The virtual proxy `existing` with the JWT fields of `wanted` (the body setup-qseow prints),
/// load balancing to `engine_nodes` when it has no node, and every `allow_hosts` name in its
/// host allow list (kept, not duplicated; compared without letter case). Every other field
/// stays as the admin set it, `id` and `modifiedDate` included. Pure.
pub fn merge_virtual_proxy(
    existing: &Value,
    wanted: &Value,
    engine_nodes: &[ServerNode],
    allow_hosts: &[String],
) -> Merged {
    let mut json = existing.clone();
    let mut changes = Vec::new();
    let Some(object) = json.as_object_mut() else {
        return Merged { json, changes };
    };
    let mut fields = Vec::new();
    for field in JWT_FIELDS {
        let Some(value) = wanted.get(field) else {
            continue;
        };
        if !same_field(field, object.get(field), value) {
            object.insert(field.to_owned(), value.clone());
            fields.push(field);
        }
    }
    if !fields.is_empty() {
        changes.push(format!("JWT settings ({})", fields.join(", ")));
    }
    let has_nodes = object
        .get("loadBalancingServerNodes")
        .and_then(Value::as_array)
        .is_some_and(|nodes| !nodes.is_empty());
    if !has_nodes && !engine_nodes.is_empty() {
        object.insert(
            "loadBalancingServerNodes".to_owned(),
            Value::Array(
                engine_nodes
                    .iter()
                    .map(|n| serde_json::json!({"id": n.id}))
                    .collect(),
            ),
        );
        let names: Vec<String> = engine_nodes.iter().map(ServerNode::shown).collect();
        changes.push(format!("load balancing to {}", names.join(", ")));
    }
    let mut hosts: Vec<Value> = object
        .get("websocketCrossOriginWhiteList")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut added = Vec::new();
    for host in allow_hosts {
        let known = hosts
            .iter()
            .filter_map(Value::as_str)
            .any(|h| h.eq_ignore_ascii_case(host));
        if !known {
            hosts.push(Value::String(host.clone()));
            added.push(host.as_str());
        }
    }
    if !added.is_empty() {
        object.insert(
            "websocketCrossOriginWhiteList".to_owned(),
            Value::Array(hosts),
        );
        changes.push(format!("host allow list + {}", added.join(", ")));
    }
    Merged { json, changes }
}

/// Whether the repository's value of a JWT field is what qs-jwt would set: a certificate
/// compared without white space (the repository may keep CRLF), the attribute map as its
/// (attribute, Sense attribute, mandatory) triples in any order (the repository adds ids).
fn same_field(field: &str, held: Option<&Value>, wanted: &Value) -> bool {
    let Some(held) = held else {
        return false;
    };
    match field {
        "jwtPublicKeyCertificate" => {
            let bare = |v: &Value| {
                v.as_str()
                    .map(|s| s.chars().filter(|c| !c.is_whitespace()).collect::<String>())
            };
            bare(held).is_some() && bare(held) == bare(wanted)
        }
        "jwtAttributeMap" => {
            let triples = |v: &Value| {
                let mut items: Vec<(String, String, bool)> = v
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .map(|i| {
                                (
                                    text(i, "jwtAttribute").unwrap_or_default(),
                                    text(i, "senseAttribute").unwrap_or_default(),
                                    i.get("isMandatory").and_then(Value::as_bool) == Some(true),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                items.sort();
                items
            };
            triples(held) == triples(wanted)
        }
        _ => held == wanted,
    }
}

/// The `id` of each item of a list of condensed entities.
fn ids(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|i| text(i, "id")).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn xrfkeys_are_16_letters_and_digits() {
        let key = Xrfkey::random();
        assert_eq!(key.0.len(), 16);
        assert!(key.0.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(key.about_path(), format!("/qrs/about?xrfkey={}", key.0));
        assert_eq!(key.headers(), [("X-Qlik-Xrfkey", key.0.clone())]);
    }

    #[test]
    fn the_user_is_read_from_qps() {
        let user =
            QpsUser::from_json(&json!({"userDirectory": "D", "userId": "u", "userName": "U"}));
        assert_eq!(user.unwrap().user_directory.as_deref(), Some("D"));
        assert_eq!(QpsUser::from_json(&json!({"session": "inactive"})), None);
    }

    fn node(id: &str, name: &str) -> ServerNode {
        ServerNode {
            id: id.to_owned(),
            name: Some(name.to_owned()),
            host_name: None,
        }
    }

    fn wanted() -> Value {
        json!({
            "prefix": "jwt", "description": "qs-jwt's", "authenticationMethod": 4,
            "jwtAudience": "aud", "jwtPublicKeyCertificate": "-----BEGIN CERTIFICATE-----\nAB\n-----END CERTIFICATE-----",
            "jwtAttributeUserId": "userId", "jwtAttributeUserDirectory": "userDirectory",
            "jwtAttributeMap": [{"jwtAttribute": "group", "senseAttribute": "group", "isMandatory": false}],
            "loadBalancingServerNodes": [], "websocketCrossOriginWhiteList": [],
        })
    }

    #[test]
    fn a_merge_sets_the_jwt_fields_and_keeps_the_admins_others() {
        let existing = json!({
            "id": "v1", "modifiedDate": "2026-01-01T00:00:00.000Z", "prefix": "jwt",
            "description": "the admin's", "sessionInactivityTimeout": 90,
            "authenticationMethod": 0, "jwtAudience": "old",
            "loadBalancingServerNodes": [{"id": "n9"}],
            "websocketCrossOriginWhiteList": ["Kept.example.com"],
        });
        let merged = merge_virtual_proxy(
            &existing,
            &wanted(),
            &[node("n1", "central")],
            &["kept.example.com".to_owned(), "new.example.com".to_owned()],
        );
        let json = &merged.json;
        assert_eq!(json["id"], "v1");
        assert_eq!(json["modifiedDate"], "2026-01-01T00:00:00.000Z");
        assert_eq!(json["description"], "the admin's");
        assert_eq!(json["sessionInactivityTimeout"], 90);
        assert_eq!(json["authenticationMethod"], 4);
        assert_eq!(json["jwtAudience"], "aud");
        assert_eq!(json["loadBalancingServerNodes"], json!([{"id": "n9"}]));
        assert_eq!(
            json["websocketCrossOriginWhiteList"],
            json!(["Kept.example.com", "new.example.com"])
        );
        assert_eq!(merged.changes.len(), 2, "{:?}", merged.changes);
        assert!(merged.changes[0].starts_with("JWT settings (authenticationMethod, jwtAudience"));
        assert_eq!(merged.changes[1], "host allow list + new.example.com");
    }

    #[test]
    fn a_merge_of_what_the_repository_holds_already_changes_nothing() {
        let mut held = wanted();
        held["id"] = json!("v1");
        // The repository keeps CRLF and gives the map's items ids.
        held["jwtPublicKeyCertificate"] =
            json!("-----BEGIN CERTIFICATE-----\r\nAB\r\n-----END CERTIFICATE-----\r\n");
        held["jwtAttributeMap"] = json!([{"id": "m1", "jwtAttribute": "group",
                                           "senseAttribute": "group", "isMandatory": false}]);
        held["loadBalancingServerNodes"] = json!([{"id": "n1", "name": "central"}]);
        held["websocketCrossOriginWhiteList"] = json!(["h.example.com"]);
        let merged = merge_virtual_proxy(
            &held,
            &wanted(),
            &[node("n1", "central"), node("n2", "rim")],
            &["H.EXAMPLE.COM".to_owned()],
        );
        assert_eq!(merged.changes, Vec::<String>::new());
        assert_eq!(merged.json, held);
    }

    #[test]
    fn empty_load_balancing_gets_the_engine_nodes() {
        let merged = merge_virtual_proxy(
            &wanted(),
            &wanted(),
            &[node("n1", "central"), node("n2", "rim")],
            &[],
        );
        assert_eq!(
            merged.json["loadBalancingServerNodes"],
            json!([{"id": "n1"}, {"id": "n2"}])
        );
        assert_eq!(merged.changes, ["load balancing to central, rim"]);
        // No engine node known: left empty (the command warns).
        let merged = merge_virtual_proxy(&wanted(), &wanted(), &[], &[]);
        assert_eq!(merged.json["loadBalancingServerNodes"], json!([]));
        assert!(merged.changes.is_empty());
    }

    #[test]
    fn proxy_services_are_named_by_their_node_with_the_id_only_where_needed() {
        let service = |id: &str, node: Value| {
            ProxyService::from_json(&json!({"id": id, "serverNodeConfiguration": node}))
        };
        let nodes = [ServerNode {
            id: "n2".to_owned(),
            name: Some("rim".to_owned()),
            host_name: None,
        }];
        let services = [
            service("p1", json!({"id": "n1", "name": "central"})),
            // The condensed node with its id alone: its name from the server nodes.
            service("p2", json!({"id": "n2"})),
            service("p3", json!({"id": "n9"})),
        ];
        assert_eq!(
            proxy_service_names(&services, &nodes),
            ["central", "rim", "p3"]
        );
        let twins = [
            service("p1", json!({"name": "central"})),
            service("p2", json!({"name": "central"})),
        ];
        assert_eq!(
            proxy_service_names(&twins, &[]),
            ["central (p1)", "central (p2)"]
        );
    }

    #[test]
    fn entities_are_read_from_their_published_shape() {
        let service = ProxyService::from_json(&json!({
            "id": "p1", "serverNodeConfiguration": {"id": "n1", "name": "central"},
            "settings": {"virtualProxies": [{"id": "v1"}, {"id": "v2"}]}
        }));
        assert!(service.links("v2") && !service.links("v3"));
        assert_eq!(service.shown(), "central");
        assert_eq!(service.node_id.as_deref(), Some("n1"));
        let vp = VirtualProxy::from_json(&json!({"id": "v1", "prefix": "jwt",
            "authenticationMethod": 4, "loadBalancingServerNodes": [{"id": "n1"}]}));
        assert!(vp.is_jwt());
        assert_eq!(vp.load_balancing_nodes, ["n1"]);
        assert_eq!(percent_encode("prefix eq 'jwt'"), "prefix%20eq%20%27jwt%27");
        let key = Xrfkey::random();
        assert_eq!(key.query("/a?b=c"), format!("/a?b=c&xrfkey={}", key.0));
    }
}
