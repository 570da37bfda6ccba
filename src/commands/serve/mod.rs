//! serve-qseow, serve-qscloud and serve-qscloud-oauth: a token endpoint on this machine for a
//! web page under development (qlik-embed, a mashup), as the samples' Express servers are.
//! Everything is read and checked before the port is taken; then the URL is printed on
//! standard output and requests are answered until Ctrl-C or SIGTERM (exit 0).
//!
//! The answer qlik-embed takes: its `data-get-access-token` names a page function that resolves
//! to the access token, and qlik.dev's impersonation sample ("Retrieve and use OAuth
//! impersonation tokens", https://qlik.dev/examples/authenticate-examples/oauth-m2m-impersonation/)
//! has its backend send the token as the body (`res.send(accessToken)`), which the page reads
//! with `response.text()`: POST /access-token answers that. POST /token answers JSON.

mod rules;

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use jsonwebtoken::Header;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::claims::{self, ExtraClaim, QscloudUser, QseowUser, User};
use crate::cli::create::UsersFormat;
use crate::cli::key::PrivateKeyArgs;
use crate::cli::output::LogLevel;
use crate::cli::serve::{
    AllowedUsersArgs, ServeClaimsArgs, ServeQscloudArgs, ServeQscloudOauthArgs, ServeQseowArgs,
    ServerArgs,
};
use crate::commands::oauth_client::{self, ClientOptions, Credential, TokenAsk};
use crate::commands::{Output, Run, random_id};
use crate::error::{self, UserError};
use crate::input;
use crate::keys::{self, SigningKey};
use crate::qlik::cloud::Tenant;
use crate::qlik::cloud::oauth::Grant;
use crate::qlik::rules::Profile;
use crate::render;
use crate::stdio;
use crate::times;
use crate::token;
use crate::users::{self, RowClaim, TableError, TableFormat, TableRules, UserRow};

use rules::{Asked, BODY_LIMIT, Reply};

/// A cached access token is given again until this long before it expires.
const FRESH_MARGIN: Duration = Duration::from_secs(60);

/// What a token is made of besides its user.
struct Shared {
    expires: Duration,
    groups: Vec<String>,
    claims: Vec<ExtraClaim>,
}

/// How a token is made.
enum Mint {
    Qseow {
        header: Header,
        audience: String,
        key: SigningKey,
    },
    Qscloud {
        header: Header,
        issuer: String,
        key_id: String,
        email_verified: Option<bool>,
        key: SigningKey,
    },
    Oauth {
        tenant: Box<Tenant>,
        credential: Credential,
        client_id: String,
        audience: String,
        scope: String,
        timeout: Duration,
        /// Each user's token slot.
        cache: Mutex<HashMap<String, TokenSlot>>,
    },
}

/// A user's cached token and when it expires, behind the user's own lock: Qlik is asked once a
/// user even when a page asks twice at once, and one user's wait for Qlik (a 429's Retry-After
/// included) holds up no other user.
type TokenSlot = Arc<Mutex<Option<(Value, Instant)>>>;

/// Who may get a token.
struct Allowed {
    rows: HashMap<String, Vec<UserRow>>,
    any: bool,
    default_userdir: Option<String>,
    profile: Profile,
}

struct Server {
    mint: Mint,
    shared: Shared,
    allowed: Allowed,
    origins: Vec<String>,
    port: u16,
    loopback: bool,
}

pub fn serve_qseow(args: &ServeQseowArgs, now: SystemTime) -> Result<Output> {
    let origins = checked_server(&args.server)?;
    if args.userdir.is_none() && !args.allowed.allowed_users.is_empty() {
        return Err(UserError::usage(
            "--user names a user id; give --userdir <directory> for its user directory",
        )
        .into());
    }
    let allowed = allowed_users(
        &args.allowed,
        Profile::Qseow,
        args.userdir.as_deref(),
        &args.claims,
    )?;
    let shared = shared(&args.claims);
    claims::qseow_claims(
        &QseowUser {
            user_id: "check".into(),
            user_directory: "check".into(),
            audience: args.audience.clone(),
            user: user_of(&shared, None),
        },
        times::unix_seconds(now)?,
    )?;
    let key = signing_key(&args.key, now)?;
    let mut header = claims::qseow_header();
    header.alg = args.alg.into();
    let mint = Mint::Qseow {
        header,
        audience: args.audience.clone(),
        key,
    };
    run(mint, shared, allowed, origins, &args.server)
}

pub fn serve_qscloud(args: &ServeQscloudArgs, now: SystemTime) -> Result<Output> {
    let origins = checked_server(&args.server)?;
    let allowed = allowed_users(&args.allowed, Profile::Qscloud, None, &args.claims)?;
    let shared = shared(&args.claims);
    claims::qscloud_claims(
        &QscloudUser {
            issuer: args.issuer.clone(),
            key_id: args.keyid.clone(),
            sub: Some("check".into()),
            email_verified: args.useremail_verified,
            user: user_of(&shared, None),
        },
        times::unix_seconds(now)?,
        &mut random_id,
    )?;
    let key = signing_key(&args.key, now)?;
    let mint = Mint::Qscloud {
        header: claims::qscloud_header(&args.keyid),
        issuer: args.issuer.clone(),
        key_id: args.keyid.clone(),
        email_verified: args.useremail_verified,
        key,
    };
    run(mint, shared, allowed, origins, &args.server)
}

pub fn serve_qscloud_oauth(args: &ServeQscloudOauthArgs, now: SystemTime) -> Result<Output> {
    let origins = checked_server(&args.server)?;
    let client = &args.client;
    let (server, audience) = oauth_client::checked_client(client)?;
    let no_claims = ServeClaimsArgs {
        expires: Duration::ZERO,
        groups: Vec::new(),
        claim: Vec::new(),
    };
    let allowed = allowed_users(&args.allowed, Profile::Qscloud, None, &no_claims)?;
    let (credential, _) =
        oauth_client::credential(&ClientOptions::of(client, args.key.options(), false), now)?;
    let tenant = oauth_client::connect(
        server,
        &args.connection,
        "the client's credentials and the tokens",
    )?;
    let mint = Mint::Oauth {
        tenant: Box::new(tenant),
        credential,
        client_id: client.client_id.clone(),
        audience,
        scope: client.scope.clone(),
        timeout: args.connection.timeout,
        cache: Mutex::new(HashMap::new()),
    };
    run(mint, shared(&no_claims), allowed, origins, &args.server)
}

/// The listen address and the origins, checked: an address others reach only with
/// --allow-remote.
fn checked_server(args: &ServerArgs) -> Result<Vec<String>> {
    if !args.listen.is_loopback() {
        if !args.allow_remote {
            return Err(UserError::usage(format!(
                "--listen {} is not a loopback address: other computers could ask it for tokens; \
                 give --allow-remote too if that is what you want, or leave --listen out for \
                 127.0.0.1",
                args.listen
            ))
            .into());
        }
        warn!(
            "--listen {} --allow-remote: any computer that reaches this address gets tokens for \
             the allowed users; use it on a test machine only",
            args.listen
        );
    }
    let origins = args
        .origins
        .iter()
        .map(|origin| rules::parse_origin(origin).map_err(UserError::usage))
        .collect::<Result<Vec<_>, _>>()?;
    if origins.is_empty() {
        warn!(
            "no --origin: no web page may ask for tokens, only programs that send no Origin \
             (curl); give --origin http://localhost:<port> for your page"
        );
    }
    Ok(origins)
}

fn shared(args: &ServeClaimsArgs) -> Shared {
    Shared {
        expires: args.expires,
        groups: args.groups.clone(),
        claims: args.claim.clone(),
    }
}

/// A user's claims: every token's, then the row's (its name, email, groups and claims).
fn user_of(shared: &Shared, row: Option<&UserRow>) -> User {
    let mut user = User {
        name: None,
        email: None,
        groups: shared.groups.clone(),
        expires: shared.expires,
        extra: shared.claims.clone(),
    };
    if let Some(row) = row {
        user.name = row.name.as_deref().map(str::to_owned);
        user.email = row.email.as_deref().map(str::to_owned);
        user.groups
            .extend(row.groups.iter().map(|group| group.to_string()));
        user.extra.extend(row.claims.iter().map(RowClaim::to_extra));
    }
    user
}

fn signing_key(args: &PrivateKeyArgs, now: SystemTime) -> Result<SigningKey> {
    let options = args.options();
    let env_key = std::env::var_os(keys::KEY_VARIABLE);
    let source = keys::key_source(&options, env_key.as_deref())?;
    let passphrase = keys::passphrase(&options, std::env::var_os(keys::PASSPHRASE_VARIABLE))?;
    Ok(keys::signing_key(&source, passphrase.as_ref(), now)?.key)
}

/// How a user id is looked up: QSEoW compares user ids without letter case (as `--users`
/// checks them, `users::qseow_folded`); Qlik Cloud's subjects are compared as they are.
fn user_key(profile: Profile, id: &str) -> String {
    match profile {
        Profile::Qseow => users::qseow_folded(id),
        Profile::Qscloud => id.to_owned(),
    }
}

/// The users of --user and --users, checked as create checks a --users file.
fn allowed_users(
    args: &AllowedUsersArgs,
    profile: Profile,
    default_userdir: Option<&str>,
    claims: &ServeClaimsArgs,
) -> Result<Allowed> {
    let mut rows: HashMap<String, Vec<UserRow>> = HashMap::new();
    for user in &args.allowed_users {
        rows.entry(user_key(profile, user))
            .or_default()
            .push(UserRow {
                id: user.as_str().into(),
                userdir: default_userdir.map(Into::into),
                ..UserRow::default()
            });
    }
    if let Some(path) = &args.users {
        for row in users_file(path, args.users_format, profile, default_userdir, claims)? {
            rows.entry(user_key(profile, &row.id))
                .or_default()
                .push(row);
        }
    }
    if args.allow_any_user {
        warn!(
            "--allow-any-user: any page of an allowed origin gets a token for whatever user it \
             names"
        );
    }
    Ok(Allowed {
        rows,
        any: args.allow_any_user,
        default_userdir: default_userdir.map(str::to_owned),
        profile,
    })
}

fn users_file(
    path: &Path,
    format: Option<UsersFormat>,
    profile: Profile,
    default_userdir: Option<&str>,
    claims: &ServeClaimsArgs,
) -> Result<Vec<UserRow>> {
    if path.as_os_str() == "-" {
        return Err(UserError::usage(
            "--users - would read standard input; a server reads its users from a file",
        )
        .into());
    }
    let shown = format!("'{}'", path.display());
    let file = input::UsersFile::open(path)?;
    let format = match format {
        Some(UsersFormat::Csv) => TableFormat::Csv,
        Some(UsersFormat::Jsonl) => TableFormat::JsonLines,
        None => TableFormat::from_file_name(&path.to_string_lossy()),
    };
    let shared_claims: Vec<&str> = claims.claim.iter().map(|c| c.name.as_str()).collect();
    let rules = TableRules {
        profile,
        default_userdir,
        shared_claims: &shared_claims,
        file: &shown,
    };
    let mut rows = Vec::new();
    users::check_table(
        file.first_pass()?,
        || file.reread(),
        format,
        &rules,
        &mut |row| rows.push(row.clone()),
    )
    .map_err(|err| match err {
        TableError::File(message) => UserError::runtime(message),
        TableError::Rows { listed, count } => UserError::runtime(format!(
            "--users {shown} has {} that cannot be used; fix them and start again",
            render::count(count, "row")
        ))
        .with_details(listed),
    })?;
    Ok(rows)
}

/// Takes the port, prints the URL, answers until a signal.
fn run(
    mint: Mint,
    shared: Shared,
    allowed: Allowed,
    origins: Vec<String>,
    args: &ServerArgs,
) -> Result<Output> {
    let stop = crate::commands::stop::requested();
    let address = SocketAddr::new(args.listen, args.port);
    let http = tiny_http::Server::http(address).map_err(|err| {
        UserError::runtime(format!(
            "cannot listen on {address} (--listen {} --port {}): {err}",
            args.listen, args.port
        ))
        .with_hint("choose another --port, or --port 0 for a free one")
    })?;
    let bound = http.server_addr().to_ip().unwrap_or(address);
    let server = Server {
        mint,
        shared,
        allowed,
        origins,
        port: bound.port(),
        loopback: args.listen.is_loopback(),
    };
    stdio::print_product(&format!("http://{bound}"))?;
    info!(
        "serving tokens at http://{bound}: POST /token or /access-token with {{\"user\": \
         \"<id>\"}}, GET /health; Ctrl-C ends"
    );
    let workers = std::thread::available_parallelism()
        .map_or(2, usize::from)
        .clamp(2, 8);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    match http.recv_timeout(Duration::from_millis(200)) {
                        Ok(Some(request)) => server.answer(request),
                        Ok(None) => {}
                        Err(err) => {
                            warn!("cannot take a request: {err}");
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                }
            });
        }
    });
    info!("stopped: the server takes no more requests");
    Ok(Output::streamed(None))
}

impl Server {
    fn answer(&self, mut request: tiny_http::Request) {
        let header = |name: &str| {
            request
                .headers()
                .iter()
                .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                .map(|h| h.value.as_str().to_owned())
        };
        let origin = header("Origin");
        let host = header("Host");
        let private_network = header("Access-Control-Request-Private-Network").is_some();
        let method = request.method().as_str().to_owned();
        let (path, query) = match request.url().split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (request.url().to_owned(), None),
        };
        let allowed_origin = origin
            .as_deref()
            .filter(|o| self.origins.iter().any(|a| a == &o.to_ascii_lowercase()));
        let mut extra = Vec::new();
        let mut user_shown = String::new();
        let reply = if self.loopback && !rules::loopback_host(host.as_deref(), self.port) {
            Reply::error(
                403,
                "the request's Host is not this server's loopback address",
                Some(&format!(
                    "ask http://127.0.0.1:{}/ or http://localhost:{}/",
                    self.port, self.port
                )),
            )
        } else if let (Some(origin), None) = (&origin, allowed_origin) {
            Reply::error(
                403,
                &format!("origin {origin} may not ask for tokens"),
                Some(&format!("start serve with --origin {origin}")),
            )
        } else {
            if let Some(origin) = allowed_origin {
                extra.extend(rules::cors_headers(origin));
            }
            match (method.as_str(), path.as_str()) {
                ("OPTIONS", _) => {
                    extra.extend(rules::preflight_headers(private_network));
                    Reply {
                        status: 204,
                        content_type: "text/plain",
                        body: String::new(),
                    }
                }
                ("GET", "/health") => Reply::json(200, &json!({ "status": "ok" })),
                ("POST", "/token" | "/access-token") => {
                    match read_body(&mut request)
                        .and_then(|body| rules::asked_user(query.as_deref(), &body))
                    {
                        Ok(asked) => {
                            user_shown = format!(" for user {}", render::escape(&asked.user));
                            self.token(&asked, path == "/access-token")
                        }
                        Err(reply) => reply,
                    }
                }
                (_, "/health" | "/token" | "/access-token") => Reply::error(
                    405,
                    &format!("{} takes no {method}", render::escape(&path)),
                    Some("GET /health; POST /token or /access-token"),
                ),
                _ => Reply::error(
                    404,
                    &format!("no {}", render::escape(&path)),
                    Some("GET /health; POST /token or /access-token"),
                ),
            }
        };
        info!(
            "{method} {} {}{user_shown}",
            render::escape(&path),
            reply.status
        );
        let mut response =
            tiny_http::Response::from_string(reply.body).with_status_code(reply.status);
        let headers = [
            ("Content-Type", reply.content_type.to_owned()),
            ("Cache-Control", "no-store".to_owned()),
            ("X-Content-Type-Options", "nosniff".to_owned()),
        ];
        for (name, value) in headers.into_iter().chain(extra) {
            if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(header);
            }
        }
        if let Err(err) = request.respond(response) {
            verbose_gone(&err);
        }
    }

    /// A token for the user asked for, if allowed: JSON, or the token alone as text.
    fn token(&self, asked: &Asked, text: bool) -> Reply {
        let row = match self.allowed.row(asked) {
            Ok(row) => row,
            Err(reply) => return reply,
        };
        let now = SystemTime::now();
        let made = match &self.mint {
            Mint::Qseow {
                header,
                audience,
                key,
            } => self.signed(header, key, now, |seconds| {
                let claims = claims::qseow_claims(
                    &QseowUser {
                        user_id: row.id.to_string(),
                        user_directory: row.userdir.as_deref().unwrap_or_default().to_owned(),
                        audience: audience.clone(),
                        user: user_of(&self.shared, Some(&row)),
                    },
                    seconds,
                )?;
                Ok((serde_json::to_value(&claims)?, claims.exp))
            }),
            Mint::Qscloud {
                header,
                issuer,
                key_id,
                email_verified,
                key,
            } => self.signed(header, key, now, |seconds| {
                let claims = claims::qscloud_claims(
                    &QscloudUser {
                        issuer: issuer.clone(),
                        key_id: key_id.clone(),
                        sub: Some(row.id.to_string()),
                        email_verified: row.email_verified.or(*email_verified),
                        user: user_of(&self.shared, Some(&row)),
                    },
                    seconds,
                    &mut random_id,
                )?;
                Ok((serde_json::to_value(&claims)?, claims.exp))
            }),
            Mint::Oauth { .. } => self.access_token(&row.id, now),
        };
        match made {
            Ok((token, _)) if text => Reply::text(token),
            Ok((_, object)) => Reply::json(200, &object),
            Err(reply) => reply,
        }
    }

    /// A JWT signed now; the token and `{"token", "expiresAt", "payload"}`.
    fn signed(
        &self,
        header: &Header,
        key: &SigningKey,
        now: SystemTime,
        payload: impl FnOnce(u64) -> Result<(Value, u64)>,
    ) -> Result<(String, Value), Reply> {
        let made = times::unix_seconds(now)
            .and_then(payload)
            .and_then(|(payload, exp)| Ok((token::sign(header, &payload, key)?, payload, exp)));
        match made {
            Ok((token, payload, exp)) => {
                let object = json!({
                    "token": token,
                    "expiresAt": times::iso8601(exp),
                    "payload": payload,
                });
                Ok((token, object))
            }
            Err(err) => Err(failure(500, &err)),
        }
    }

    /// The user's impersonation token: the cached one while fresh, else Qlik's.
    fn access_token(&self, user: &str, now: SystemTime) -> Result<(String, Value), Reply> {
        let Mint::Oauth {
            tenant,
            credential,
            client_id,
            audience,
            scope,
            timeout,
            cache,
        } = &self.mint
        else {
            return Err(Reply::error(
                500,
                "internal error: not an OAuth server",
                None,
            ));
        };
        let slot = Arc::clone(
            cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(user.to_owned())
                .or_default(),
        );
        let mut held = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = Instant::now();
        if let Some((object, expires)) = held.as_ref()
            && *expires > at + FRESH_MARGIN
        {
            let mut object = object.clone();
            object["expires_in"] = json!(expires.duration_since(at).as_secs());
            let token = object["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            return Ok((token, object));
        }
        let ask = TokenAsk {
            client_id,
            audience,
            grant: Grant::ImpersonateSubject(user),
            scope,
            timeout: *timeout,
        };
        let answer = match oauth_client::request_token(tenant, credential, &ask, now) {
            Ok(Ok(reply)) => {
                let object: Value =
                    serde_json::from_str(reply.json.expose()).unwrap_or(Value::Null);
                if let Some(seconds) = reply.expires_in {
                    *held = Some((object.clone(), at + Duration::from_secs(seconds)));
                }
                Ok((reply.access_token.expose().to_owned(), object))
            }
            Ok(Err(refusal)) => {
                warn!("{}", error::for_people(&refusal.error.to_string()));
                Err(Reply::error(
                    502,
                    &error::for_people(&refusal.error.to_string()),
                    refusal.error.hint(),
                ))
            }
            Err(err) => Err(failure(502, &err)),
        };
        // A user Qlik gave no token keeps no slot: with --allow-any-user, every name a page
        // makes up would otherwise stay in memory. (The slot's lock, then the map's: no one
        // waits for a slot while holding the map.)
        if held.is_none() {
            let mut slots = cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if slots.get(user).is_some_and(|kept| Arc::ptr_eq(kept, &slot)) {
                slots.remove(user);
            }
        }
        answer
    }
}

impl Allowed {
    /// The row of the user asked for, or the refusal.
    fn row(&self, asked: &Asked) -> Result<UserRow, Reply> {
        let rows: Vec<&UserRow> = self
            .rows
            .get(&user_key(self.profile, &asked.user))
            .map(|rows| {
                rows.iter()
                    .filter(|row| match asked.userdir.as_deref() {
                        None => true,
                        // QSEoW's user directories are names without letter case, and a row
                        // without one is in --userdir's.
                        Some(asked) => row
                            .userdir
                            .as_deref()
                            .or(self.default_userdir.as_deref())
                            .is_some_and(|held| {
                                users::qseow_folded(held) == users::qseow_folded(asked)
                            }),
                    })
                    .collect()
            })
            .unwrap_or_default();
        match rows.as_slice() {
            [row] => Ok((*row).clone()),
            [] if self.any => {
                let userdir = asked
                    .userdir
                    .clone()
                    .or_else(|| self.default_userdir.clone());
                if self.profile == Profile::Qseow && userdir.is_none() {
                    return Err(Reply::error(
                        400,
                        "the request names no user directory",
                        Some(
                            r#"send {"user": "<id>", "userdir": "<directory>"}, or start serve with --userdir"#,
                        ),
                    ));
                }
                Ok(UserRow {
                    id: asked.user.as_str().into(),
                    userdir: userdir.map(Into::into),
                    ..UserRow::default()
                })
            }
            [] => Err(Reply::error(
                403,
                &format!("user {} may not get a token", asked.user),
                Some("start serve with --user <id> or --users <file> that names the user"),
            )),
            _ => Err(Reply::error(
                400,
                &format!("user {} is in more than one user directory", asked.user),
                Some(r#"send {"user": "<id>", "userdir": "<directory>"}"#),
            )),
        }
    }
}

fn read_body(request: &mut tiny_http::Request) -> Result<Vec<u8>, Reply> {
    let too_large = || {
        Reply::error(
            413,
            &format!("the request body is larger than {} KiB", BODY_LIMIT / 1024),
            Some(r#"send {"user": "<id>"} alone"#),
        )
    };
    if request
        .body_length()
        .is_some_and(|length| length > BODY_LIMIT)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    let limit = u64::try_from(BODY_LIMIT).unwrap_or(u64::MAX) + 1;
    if request
        .as_reader()
        .take(limit)
        .read_to_end(&mut body)
        .is_err()
    {
        return Err(Reply::error(
            400,
            "the request body could not be read",
            None,
        ));
    }
    if body.len() > BODY_LIMIT {
        return Err(too_large());
    }
    Ok(body)
}

/// An error of ours as a refusal, in words for people (redacted as every error is).
fn failure(status: u16, err: &anyhow::Error) -> Reply {
    let (detail, hint, _) = error::parts_for_json(err);
    warn!("{}", error::for_people(&detail));
    Reply::error(status, &detail, hint.as_deref())
}

fn verbose_gone(err: &std::io::Error) {
    crate::verbose!("a page went away before its answer: {err}");
}

impl Run for ServeQseowArgs {
    fn log_level(&self) -> LogLevel {
        self.log.loglevel
    }

    fn run(&self, now: SystemTime) -> Result<Output> {
        serve_qseow(self, now)
    }
}

impl Run for ServeQscloudArgs {
    fn log_level(&self) -> LogLevel {
        self.log.loglevel
    }

    fn run(&self, now: SystemTime) -> Result<Output> {
        serve_qscloud(self, now)
    }
}

impl Run for ServeQscloudOauthArgs {
    fn log_level(&self) -> LogLevel {
        self.log.loglevel
    }

    fn run(&self, now: SystemTime) -> Result<Output> {
        serve_qscloud_oauth(self, now)
    }
}
