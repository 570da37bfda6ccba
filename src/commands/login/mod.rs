//! The login commands: send a token to Qlik the way a real integration does, and say whether
//! Qlik made a session and for whom. `login-qscloud` posts it to Qlik Cloud's
//! `/login/jwt-session`; `login-qseow` sends it through a QSEoW virtual proxy. This module reads
//! the input, runs `--check`'s rules as warnings, and reads Qlik's answers; `connect` makes the
//! clients (a `qlik::cloud::Tenant`, a `qlik::qseow::Proxy`), which make the requests, `cookies` keeps the session, `report` decides what is shown.
//!
//! Qlik's requests and replies are `qlik::cloud`'s and `qlik::qseow`'s (sources there).

mod cookies;
mod report;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use serde_json::Value;
use tracing::{info, warn};

pub use report::{LoginError, LoginReport, PreCheck, SessionEnd, User};

use crate::cli::connection::ConnectionArgs;
use crate::cli::login::{
    EngineArgs, LoginFormat, LoginQscloudArgs, LoginQseowArgs, LoginTokenArgs,
};
use crate::cli::output::LogLevel;
use crate::commands::connect::{self, Connection};
use crate::commands::prove;
use crate::commands::{JsonAskedBy, Output, Run};
use crate::error::UserError;
use crate::http::{Reply, Server, percent_encode, url_shown};
use crate::input;
use crate::keys;
use crate::qlik::rules::Profile;
use crate::qlik::{check, cloud};
use crate::secret::SecretText;
use crate::times::{self, iso8601, numeric_date, span};
use crate::token::{self, TokenParts};
use crate::verbose;

const QLIK_CLOUD: &str = "Qlik Cloud";
const VIRTUAL_PROXY: &str = "the virtual proxy";

/// `--access-token-file`'s file: an OAuth access token, held as a secret.
const ACCESS_TOKEN_FILE: input::FileFlag = input::FileFlag {
    flag: "--access-token-file",
    holds: "access token",
    format: "text",
    der_hint: None,
};

pub fn login_qscloud(args: &LoginQscloudArgs, now: SystemTime) -> Result<Output> {
    if let Some(file) = &args.access_token_file {
        return prove_access_token(args, file);
    }
    let server = connect::tenant_server(&args.tenant, "the token")?;
    let token = read_token(&args.token, "login-qscloud --tenant <tenant>")?;
    check_jar(args.connection.cookie_jar.as_deref())?;
    let now = times::unix_seconds(now)?;
    let pre = pre_check(&token, Profile::Qscloud, now, QLIK_CLOUD)?;
    let tenant = connect::tenant(server, &connection(&args.connection))?;

    let (header, payload) = named(&token);
    let doctor = report::doctor_qscloud(
        &args.tenant,
        payload.get("iss").and_then(Value::as_str),
        header.get("kid").and_then(Value::as_str),
        &typed(&args.connection),
    );

    let (reply, no_wait) = waiting_out_429(args.connection.timeout, QLIK_CLOUD, || {
        tenant.jwt_session(&token)
    })?;
    let mut report = LoginReport::new(reply.status, tenant.server().to_string());
    if !(200..300).contains(&reply.status) {
        let mut error = not_accepted(&reply, &token);
        if let Some(why) = no_wait {
            error.hint = Some(why);
        }
        if error.location.is_none() && reply.status != 429 {
            error.hint = Some(report::qscloud_hint(&error, &pre));
        }
        report.error = Some(error);
        return finish(report, args.output.output, QLIK_CLOUD, None, &doctor);
    }

    // Every way this login's session is ended, whichever step ends it.
    let end = |header: &SecretText| connect::end_qscloud_session(&tenant, header);
    let session = session_cookies(&reply, tenant.server(), cloud::JWT_SESSION_PATH, now);
    if !take_session(&mut report, &reply, &session, QLIK_CLOUD) {
        end_untaken_session(&mut report, &reply, end);
        return finish(report, args.output.output, QLIK_CLOUD, None, &doctor);
    }
    let cookie_header = cookies::header(&session);
    crate::http::hold_back_for_cleanup();
    report.user = tenant.users_me(cookie_header.as_ref()).map(User::from);
    if !args.engine.no_engine {
        let expected = report.user.as_ref().and_then(|u| u.id.clone());
        report.engine = Some(
            prove::qscloud(
                &tenant,
                cookie_header.as_ref(),
                None,
                &target(&args.engine),
                expected.as_deref(),
            )
            .unwrap_or_else(|e| prove::EngineReport::unreachable(&e, args.engine.app.as_deref())),
        );
    }
    let jar = write_jar(
        args.connection.cookie_jar.as_deref(),
        &session,
        TENANT_TIMEOUT,
        || cookie_header.as_ref().is_some_and(end),
    )?;
    if args.output.output == LoginFormat::Session {
        let header = cookie_header.ok_or_else(|| UserError::runtime("Qlik Cloud set no cookie"))?;
        if let Err(err) = engine_proven(&report, QLIK_CLOUD) {
            // No session to hand over: the probe ends the one it made (unless a jar keeps it).
            if jar.is_none() {
                end(&header);
            }
            return Err(err.into());
        }
        let csrf = proven_csrf_token(&report);
        let app = args
            .engine
            .app
            .clone()
            .unwrap_or_else(|| format!("SessionApp_{}", crate::commands::random_id()));
        let url = format!(
            "wss://{}/app/{}",
            tenant.server().shown_authority(),
            percent_encode(&app)
        );
        let bundle = bundle(
            url,
            csrf,
            &header,
            prove::origin(tenant.server(), args.engine.origin.as_deref()),
            cookies::earliest_expiry(&session),
            &format!("when it is idle for {TENANT_TIMEOUT}, or at a logout"),
        );
        return hand_over(&bundle, jar.is_some(), TENANT_TIMEOUT, || end(&header));
    }
    report.session = Some(match (&jar, &cookie_header) {
        (Some(_), _) => SessionEnd::Kept,
        (None, Some(header)) => session_end(end(header)),
        (None, None) => SessionEnd::LeftOpen,
    });
    finish(
        report,
        args.output.output,
        QLIK_CLOUD,
        jar.as_deref(),
        &doctor,
    )
}

/// `login-qscloud --access-token-file`: no JWT login; Qlik Cloud is asked for a CSRF token with
/// the access token as the bearer (whether it takes the token), then the engine is proven with
/// it. The token is a secret: never shown, logged or written.
fn prove_access_token(args: &LoginQscloudArgs, file: &Path) -> Result<Output> {
    let server = connect::tenant_server(&args.tenant, "the access token")?;
    if args.output.output == LoginFormat::Session {
        return Err(UserError::usage(
            "--output session hands over a session's cookies, and --access-token-file makes no \
             session: give --output text or json, or open the engine with the access token itself",
        )
        .into());
    }
    let text = if file.as_os_str() == "-" {
        input::read_stdin(
            ACCESS_TOKEN_FILE.flag,
            "the access token",
            "qs-jwt oauth-qscloud ... | qs-jwt login-qscloud --tenant <tenant> --access-token-file -",
        )?
    } else {
        input::read_file(file, &ACCESS_TOKEN_FILE)?
    };
    let token = SecretText::new(text);
    let token = SecretText::new(token::clean(token.expose()));
    if token.expose().is_empty() {
        return Err(UserError::usage(format!(
            "--access-token-file '{}' holds no access token; give the file oauth-qscloud wrote",
            file.display()
        ))
        .into());
    }
    let tenant = connect::tenant(server, &connection(&args.connection))?;
    let reply = tenant.csrf_token(None, Some(&token))?;
    let mut report = LoginReport::new(reply.status, tenant.server().to_string());
    report.access_token = true;
    if !(200..300).contains(&reply.status) {
        let mut error = not_accepted(&reply, &token);
        if error.location.is_none() && reply.status != 429 {
            error.hint = Some(
                "Qlik Cloud takes an access token for six hours at most, from the tenant that \
                 issued it: get a new one with qs-jwt oauth-qscloud --tenant <this tenant>"
                    .to_owned(),
            );
        }
        report.error = Some(error);
        return finish(report, args.output.output, QLIK_CLOUD, None, "");
    }
    report.accepted = true;
    report.engine = Some(
        prove::qscloud(&tenant, None, Some(&token), &target(&args.engine), None)
            .unwrap_or_else(|e| prove::EngineReport::unreachable(&e, args.engine.app.as_deref())),
    );
    finish(report, args.output.output, QLIK_CLOUD, None, "")
}

pub fn login_qseow(args: &LoginQseowArgs, now: SystemTime) -> Result<Output> {
    let server = Server::parse(&args.server, "--server", false)?;
    if server.base_path.is_empty() {
        info!(
            "--server has no virtual proxy prefix: the token goes to the default virtual proxy, \
             which rarely takes JWTs; give https://<host>/<prefix>"
        );
    }
    let token = read_token(&args.token, "login-qseow --server <URL>")?;
    check_jar(args.connection.cookie_jar.as_deref())?;
    let now = times::unix_seconds(now)?;
    let pre = pre_check(&token, Profile::Qseow, now, "the virtual proxy")?;
    let proxy = connect::proxy(server, &connection(&args.connection))?;

    let (_, payload) = named(&token);
    let audience = match payload.get("aud") {
        Some(Value::String(aud)) => Some(aud.as_str()),
        Some(Value::Array(auds)) => auds.first().and_then(Value::as_str),
        _ => None,
    };
    let doctor = report::doctor_qseow(
        &proxy.server().base_path,
        audience,
        &typed(&args.connection),
    );

    let (reply, no_wait) = waiting_out_429(args.connection.timeout, VIRTUAL_PROXY, || {
        proxy.login(&token)
    })?;
    let mut report = LoginReport::new(reply.status, proxy.server().to_string());
    if !(200..300).contains(&reply.status) {
        let mut error = not_accepted(&reply, &token);
        if let Some(why) = no_wait {
            error.hint = Some(why);
        }
        if error.location.is_some() {
            error.hint = Some(
                "a QSEoW proxy redirects what it cannot authenticate to a login page: check that \
                 --server ends with the prefix of the virtual proxy that has JWT authentication"
                    .to_owned(),
            );
        } else if reply.status != 429 {
            error.hint = Some(report::qseow_hint(reply.status, &reply.body, &pre));
        }
        report.error = Some(error);
        return finish(report, args.output.output, VIRTUAL_PROXY, None, &doctor);
    }

    // Every way this login's session is ended, whichever step ends it.
    let end = |header: &SecretText| connect::end_qseow_session(&proxy, header);
    let session = session_cookies(&reply, proxy.server(), &proxy.login_path(), now);
    if !take_session(&mut report, &reply, &session, VIRTUAL_PROXY) {
        end_untaken_session(&mut report, &reply, end);
        return finish(report, args.output.output, VIRTUAL_PROXY, None, &doctor);
    }
    let cookie_header = cookies::header(&session);
    crate::http::hold_back_for_cleanup();
    report.user = match &cookie_header {
        Some(header) => proxy.user(header).map(User::from),
        None => None,
    };
    if !args.engine.no_engine
        && let Some(header) = &cookie_header
    {
        let claims = token::parts(token.expose()).ok().map(|parts| parts.payload);
        let claim = |name: &str| {
            claims
                .as_ref()
                .and_then(|c| c.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let (directory, id) = (claim("userDirectory"), claim("userId"));
        let expected = directory.as_deref().zip(id.as_deref());
        report.engine = Some(
            prove::qseow(
                &proxy,
                header,
                args.websocket_authorization.then_some(&token),
                &target(&args.engine),
                expected,
            )
            .unwrap_or_else(|e| prove::EngineReport::unreachable(&e, args.engine.app.as_deref())),
        );
    }
    let jar = write_jar(
        args.connection.cookie_jar.as_deref(),
        &session,
        PROXY_TIMEOUT,
        || cookie_header.as_ref().is_some_and(end),
    )?;
    if args.output.output == LoginFormat::Session {
        let header =
            cookie_header.ok_or_else(|| UserError::runtime("the virtual proxy set no cookie"))?;
        if let Err(err) = engine_proven(&report, VIRTUAL_PROXY) {
            // No session to hand over: the probe ends the one it made (unless a jar keeps it).
            if jar.is_none() {
                end(&header);
            }
            return Err(err.into());
        }
        let csrf = proven_csrf_token(&report);
        let path = match &args.engine.app {
            Some(app) => format!("/app/{}", percent_encode(app)),
            None => "/app/engineData".to_owned(),
        };
        let url = format!(
            "wss://{}{}{path}",
            proxy.server().shown_authority(),
            proxy.server().base_path
        );
        let bundle = bundle(
            url,
            csrf,
            &header,
            prove::origin(proxy.server(), args.engine.origin.as_deref()),
            cookies::earliest_expiry(&session),
            &format!("when it is idle for {PROXY_TIMEOUT}, or at a logout"),
        );
        return hand_over(&bundle, jar.is_some(), PROXY_TIMEOUT, || end(&header));
    }
    report.session = Some(match (&jar, &cookie_header) {
        (Some(_), _) => SessionEnd::Kept,
        (None, Some(header)) => session_end(end(header)),
        (None, None) => SessionEnd::LeftOpen,
    });
    finish(
        report,
        args.output.output,
        VIRTUAL_PROXY,
        jar.as_deref(),
        &doctor,
    )
}

/// The CSRF token the proof's WebSocket carried (none from a QSEoW older than November 2024):
/// the session's, handed over as it is.
fn proven_csrf_token(report: &LoginReport) -> Option<SecretText> {
    report.engine.as_ref().and_then(|e| e.csrf_token.clone())
}

/// `--output session` hands over a session the engine took: a failed proof is the error.
fn engine_proven(report: &LoginReport, who: &str) -> Result<(), UserError> {
    if !report.accepted {
        let err = UserError::runtime(report::failure_line(report, who));
        return Err(match report.error.as_ref().and_then(|e| e.hint.clone()) {
            Some(hint) => err.with_hint(hint),
            None => err,
        });
    }
    match report.engine.as_ref().and_then(|e| e.failure()) {
        Some((found, fix)) => {
            let err = UserError::runtime(format!(
                "{who} made a session, but the engine refused it: {found}"
            ));
            Err(match fix {
                Some(fix) => err.with_hint(fix.to_owned()),
                None => err,
            })
        }
        None => Ok(()),
    }
}

/// `--output session`'s object: what a client needs to open the engine with this session.
/// The session is kept open; nothing of it is logged.
fn bundle(
    url: String,
    csrf: Option<SecretText>,
    cookie: &SecretText,
    origin: String,
    expires: Option<u64>,
    ends: &str,
) -> String {
    let websocket_url = match &csrf {
        Some(token) => format!("{url}?qlik-csrf-token={}", percent_encode(token.expose())),
        None => url,
    };
    let json = serde_json::json!({
        "websocketUrl": websocket_url,
        "cookie": cookie.expose(),
        "origin": origin,
        "csrfToken": csrf.as_ref().map(SecretText::expose),
        "expires": expires.map(iso8601),
        "ends": ends,
    });
    crate::render::json_for_terminal(&json.to_string()).into_owned()
}

/// Prints the session bundle. A bundle that does not reach standard output (a full disk, a
/// closed pipe) leaves a session nobody can use: it is ended then, as every probe's is, unless
/// a cookie jar keeps it; the error says which, and what became of the session.
fn hand_over(
    bundle: &str,
    kept: bool,
    timeout: &str,
    end: impl FnOnce() -> bool,
) -> Result<Output> {
    let Err(err) = crate::stdio::print_product(bundle) else {
        return Ok(Output::streamed(None));
    };
    let session = if kept {
        "the session stays open, kept by --cookie-jar".to_owned()
    } else {
        ended_as("nobody received it", timeout, end)
    };
    Err(UserError::runtime(format!(
        "the session bundle was not delivered: {err:#}; {session}"
    ))
    .with_hint(
        "give it a standard output that takes the bundle, for example SESSION=$(qs-jwt ...) in \
         bash or $session = qs-jwt ... in PowerShell",
    )
    .into())
}

fn target(args: &EngineArgs) -> prove::EngineTarget<'_> {
    prove::EngineTarget {
        origin: args.origin.as_deref(),
        app: args.app.as_deref(),
    }
}

fn session_end(ended: bool) -> SessionEnd {
    if ended {
        SessionEnd::Ended
    } else {
        SessionEnd::LeftOpen
    }
}

/// The token from `--jwt` or `--jwt-file`, cleaned (whitespace, "Bearer "), held as a secret.
fn read_token(args: &LoginTokenArgs, command: &str) -> Result<SecretText, UserError> {
    let text = SecretText::new(input::read_token(
        args.jwt.as_ref().map(SecretText::expose),
        args.jwt_file.as_deref(),
        command,
    )?);
    Ok(SecretText::new(token::clean(text.expose())))
}

/// `--check`'s rules for `profile`, and the expiry, run before the token is sent: each failure
/// is a warning (the server has the last word), and the hint for a refusal. A token made for
/// the other platform is said so in one line, with the rules it breaks counted, not listed.
fn pre_check(token: &SecretText, profile: Profile, now: u64, who: &str) -> Result<PreCheck> {
    let TokenParts {
        header, payload, ..
    } = token::parts(token.expose())?;
    let report = check::evaluate(profile, &header, &payload, now, None);
    let failures: Vec<_> = report.failures().cloned().collect();
    let other_platform = report::made_for_other_platform(profile, &payload);
    match &other_platform {
        Some(other) => {
            warn!("{other}");
            if !failures.is_empty() {
                let check = match profile {
                    Profile::Qscloud => "qscloud",
                    Profile::Qseow => "qseow",
                };
                warn!(
                    "{who} will reject it: it breaks {} of the rules; qs-jwt decode --check \
                     {check} lists them",
                    failures.len()
                );
            }
        }
        None => {
            for failure in &failures {
                warn!(
                    "{who} will likely reject this token: {}",
                    failure.failure_text()
                );
            }
        }
    }
    let expired = match numeric_date(payload.get("exp")) {
        Ok(Some(exp)) if exp <= now => Some(format!(
            "the token expired at {}, {} ago",
            iso8601(exp),
            span(now - exp)
        )),
        _ => None,
    };
    if let Some(expired) = &expired {
        warn!("{who} will reject this token: {expired}");
    }
    Ok(PreCheck {
        failures,
        expired,
        other_platform,
    })
}

/// The token's header and payload, for the names a doctor's command line takes from it (the
/// token was read by `pre_check` already; an unreadable one names nothing).
fn named(
    token: &SecretText,
) -> (
    serde_json::Map<String, Value>,
    serde_json::Map<String, Value>,
) {
    match token::parts(token.expose()) {
        Ok(TokenParts {
            header, payload, ..
        }) => (header, payload),
        Err(_) => Default::default(),
    }
}

/// The connection's options as typed, for the doctor's command line.
fn typed(connection: &ConnectionArgs) -> report::Typed<'_> {
    report::Typed {
        cacert: connection.cacert.as_deref().and_then(Path::to_str),
        insecure: connection.insecure,
    }
}

fn connection(connection: &ConnectionArgs) -> Connection<'_> {
    Connection {
        cacert: connection.cacert.as_deref(),
        insecure: connection.insecure,
        timeout: connection.timeout,
        sends: "the token",
    }
}

/// The cookies a reply set; a cookie that a cookie file cannot hold is named in a warning.
fn session_cookies(
    reply: &Reply,
    server: &Server,
    request_path: &str,
    now: u64,
) -> Vec<cookies::SessionCookie> {
    let mut skipped = Vec::new();
    let session = cookies::parse(
        &reply.set_cookies,
        server.bare_host(),
        request_path,
        now,
        &mut skipped,
    );
    for name in skipped {
        warn!(
            "the cookie '{name}' is left out: control characters in it, or a Domain that is not \
             the server's"
        );
    }
    session
}

/// The login's reply, asked again after a 429 as `http::retry_wait` allows (at least its
/// floor, a growing backoff, at most its cap and the time `timeout` and the run's deadline
/// leave), as OAuth's token request does: a 429 takes no token, so the same one is sent again.
/// With the last 429, why it was not waited for when its wait is too long (the hint to show).
fn waiting_out_429(
    timeout: Duration,
    who: &str,
    mut send: impl FnMut() -> Result<Reply, UserError>,
) -> Result<(Reply, Option<String>), UserError> {
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        let reply = send()?;
        if reply.status != 429 {
            return Ok((reply, None));
        }
        let left = timeout.saturating_sub(started.elapsed());
        let left = crate::http::time_left().map_or(left, |run| run.min(left));
        let after = reply.retry_after.as_deref().unwrap_or("(not given)");
        match crate::http::retry_wait(reply.retry_after.as_deref(), attempt, left) {
            Ok(wait) => {
                info!(
                    "{who} is limiting requests (HTTP 429); waiting {}s (its Retry-After: {}), \
                     then logging in again",
                    wait.as_secs(),
                    crate::render::escape(after)
                );
                std::thread::sleep(wait);
                attempt = attempt.saturating_add(1);
            }
            Err(crate::http::NoRetry::TooLong(wait)) => {
                let why = format!(
                    "{who} asks to wait {} (Retry-After: {}), more than --timeout {} leaves or \
                     than qs-jwt waits ({}): wait that long and try again, or raise --timeout",
                    humantime::format_duration(wait),
                    crate::render::escape(after),
                    humantime::format_duration(timeout),
                    humantime::format_duration(crate::http::RETRY_CAP)
                );
                return Ok((reply, Some(why)));
            }
            // An HTTP date, or nothing: qs-jwt waits only for a number of seconds; the
            // report's hint says what the server wrote.
            Err(crate::http::NoRetry::NoSeconds) => return Ok((reply, None)),
        }
    }
}

/// A reply that is not a session: a redirect (never followed), a 429, or Qlik's error.
/// Records a 2xx answer in `report`: accepted when it set a session cookie, else not (a 2xx
/// without a cookie is no session: nothing would carry the next request). True when accepted.
fn take_session(
    report: &mut LoginReport,
    reply: &Reply,
    session: &[cookies::SessionCookie],
    who: &str,
) -> bool {
    if session.is_empty() {
        report.error = Some(no_session(reply, who));
        return false;
    }
    report.accepted = true;
    report.cookies = session.iter().map(|c| c.name.clone()).collect();
    info!(
        "{who} accepted the token and set {}",
        cookie_names(&report.cookies)
    );
    true
}

/// A 2xx answer that set no session cookie the login could take: Qlik made no session, or
/// made one whose cookies are left out (a Domain that does not cover the server's host).
fn no_session(reply: &Reply, who: &str) -> LoginError {
    let (detail, hint) = if reply.set_cookies.is_empty() {
        (
            format!(
                "{who} answered HTTP {} but set no session cookie",
                reply.status
            ),
            "check that the URL is Qlik's (a proxy or a load balancer in between may answer for \
             it), and run again with --loglevel debug to see the requests",
        )
    } else {
        (
            format!(
                "{who} answered HTTP {} and set cookies, but none for this server (see the \
                 warning above)",
                reply.status
            ),
            "a cookie's Domain must cover the server's host, as a browser's would: connect by a \
             name within the session cookie domain (QSEoW: the virtual proxy's Session cookie \
             domain), or clear that setting",
        )
    };
    LoginError {
        detail: Some(detail),
        hint: Some(hint.to_owned()),
        ..LoginError::from_body(reply.status, b"")
    }
}

/// A 2xx answer whose cookies the login left out may have made a session on Qlik all the
/// same: it is ended with the cookies as they were set, as a probe's session is, and the
/// report says how that went.
fn end_untaken_session(
    report: &mut LoginReport,
    reply: &Reply,
    end: impl FnOnce(&SecretText) -> bool,
) {
    if let Some(header) = connect::cookie_header(&reply.set_cookies) {
        let ended = end(&header);
        if ended {
            info!("the session those cookies hold was ended, as the login cannot use them");
        }
        report.session = Some(session_end(ended));
    }
}

/// Qlik's error, or the redirect, as it may be shown. A server that quotes the token back, in
/// its error or in a redirect's URL (`Location: https://idp.example.com/login?jwt=<token>`),
/// must not make qs-jwt print it: the token, each of its parts and what its signature covers
/// are replaced, and a redirect's URL is shown without its user info and query.
fn not_accepted(reply: &Reply, token: &SecretText) -> LoginError {
    let mut error = LoginError::from_body(reply.status, &reply.body);
    if (300..400).contains(&reply.status) {
        error.location = Some(reply.location.as_deref().map(url_shown).unwrap_or_default());
    }
    let whole = token.expose();
    let mut secrets: Vec<&str> = vec![whole];
    if let Some((covered, _)) = whole.rsplit_once('.') {
        secrets.push(covered);
    }
    secrets.extend(whole.split('.').filter(|part| part.len() >= 16));
    for text in [
        &mut error.title,
        &mut error.detail,
        &mut error.code,
        &mut error.trace_id,
        &mut error.location,
    ]
    .into_iter()
    .flatten()
    {
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            if text.contains(*secret) {
                *text = text.replace(*secret, "[the token]");
            }
        }
    }
    if reply.status == 429 {
        error.retry_after = reply.retry_after.clone();
        error.hint = Some(match &reply.retry_after {
            Some(after) => format!("wait as long as Retry-After says ({after}), then try again"),
            None => "wait a minute, then try again".to_owned(),
        });
    }
    error
}

/// Checks `--cookie-jar` before the token is sent (a Qlik Cloud token is good for one login):
/// its folder must exist, and the name must be free or a regular file. A device, a FIFO or a
/// link there would be replaced by the rename (`--cookie-jar /dev/null`, curl's way to drop
/// cookies, would replace the system's /dev/null when run as root).
fn check_jar(path: Option<&Path>) -> Result<(), UserError> {
    let Some(path) = path else {
        return Ok(());
    };
    let shown = path.display();
    if path.as_os_str() == "-" {
        return Err(UserError::usage(
            "--cookie-jar - would be a file named '-': standard output carries the login's \
             report; give a file name, such as cookies.txt",
        ));
    }
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && !meta.file_type().is_file()
    {
        let what = if meta.is_dir() {
            "a folder"
        } else if meta.file_type().is_symlink() {
            "a symbolic link"
        } else {
            "not a regular file (a device or a pipe)"
        };
        return Err(UserError::runtime(format!(
            "--cookie-jar '{shown}' is {what}; give the name of a file to write, such as \
                 cookies.txt, or leave --cookie-jar out to keep no cookies"
        )));
    }
    let folder = keys::folder_of(path);
    if !folder.is_dir() {
        return Err(UserError::runtime(format!(
            "--cookie-jar '{shown}': the folder '{}' does not exist; create it first",
            folder.display()
        )));
    }
    Ok(())
}

/// Writes the cookie jar, when asked for, through a temporary file renamed into place,
/// readable by its owner only. Returns the path as shown. A jar that cannot be written keeps
/// no session: the run ends it with `end`, as a probe does, and the error says so.
fn write_jar(
    path: Option<&Path>,
    session: &[cookies::SessionCookie],
    timeout: &str,
    end: impl FnOnce() -> bool,
) -> Result<Option<String>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let shown = path.display().to_string();
    match jar_file(path, &shown, session) {
        Ok(()) => {
            verbose!("wrote {} cookies to '{shown}'", session.len());
            Ok(Some(shown))
        }
        Err(why) => Err(UserError::runtime(format!(
            "{why}; {}",
            ended_as("no jar keeps it", timeout, end)
        ))
        .with_hint(
            "give --cookie-jar a file name in a folder you may write to, such as cookies.txt",
        )
        .into()),
    }
}

fn jar_file(path: &Path, shown: &str, session: &[cookies::SessionCookie]) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!("--cookie-jar '{shown}' is a folder"));
    }
    let text = cookies::netscape_file(session);
    let cannot = |e: std::io::Error| {
        format!(
            "cannot write --cookie-jar '{shown}': {}",
            keys::plain_io(&e)
        )
    };
    let staged = keys::stage(keys::folder_of(path), text.expose(), 0o600).map_err(cannot)?;
    staged.persist(path).map(drop).map_err(|e| cannot(e.error))
}

/// What ends an idle session on each platform: said in the session bundle's `ends`, and when a
/// session could not be ended.
const TENANT_TIMEOUT: &str = "the tenant's session timeout";
const PROXY_TIMEOUT: &str = "the virtual proxy's session inactivity timeout";

/// Ends a session that nothing holds (its bundle or jar was not written, `as_`), in words.
fn ended_as(as_: &str, timeout: &str, end: impl FnOnce() -> bool) -> String {
    if end() {
        format!("the session it opened was ended, as {as_}")
    } else {
        format!("the session it opened could not be ended and stays open until {timeout}")
    }
}

/// The login's product, or its failure ended with `doctor`, the command that checks the setup.
fn finish(
    mut report: LoginReport,
    format: LoginFormat,
    who: &str,
    jar: Option<&str>,
    doctor: &str,
) -> Result<Output> {
    let engine_failure = report
        .engine
        .as_ref()
        .and_then(|e| e.failure())
        .map(|(found, fix)| (found.to_owned(), fix.map(str::to_owned)));
    if let Some((found, fix)) = engine_failure {
        let took = if report.access_token {
            "took the access token"
        } else {
            "made a session"
        };
        let line = format!("{who} {took}, but the engine refused it: {found}");
        // The report goes to stdout all the same: the steps that passed are the diagnosis too.
        let _ = fix;
        let stdout = match format {
            LoginFormat::Text | LoginFormat::Session => report::render_text(&report, who, jar),
            LoginFormat::Json => report::render_json(&report),
        };
        return Ok(Output {
            failure: Some(line),
            ..Output::product(stdout)
        });
    }
    if let Some(error) = report.error.as_mut()
        && !report.accepted
        && error.status != 429
        && !doctor.is_empty()
    {
        error.hint = Some(report::with_doctor(error.hint.take(), doctor));
    }
    if report.accepted {
        let stdout = match format {
            LoginFormat::Text | LoginFormat::Session => report::render_text(&report, who, jar),
            LoginFormat::Json => report::render_json(&report),
        };
        return Ok(Output::product(stdout));
    }
    let line = report::failure_line(&report, who);
    let hint = report.error.as_ref().and_then(|e| e.hint.clone());
    match format {
        LoginFormat::Text | LoginFormat::Session => {
            let err = UserError::runtime(line);
            Err(match hint {
                Some(hint) => err.with_hint(hint),
                None => err,
            }
            .into())
        }
        LoginFormat::Json => Ok(Output {
            failure: Some(line),
            ..Output::product(report::render_json(&report))
        }),
    }
}

fn cookie_names(names: &[String]) -> String {
    match names {
        [] => "no cookie".to_owned(),
        [one] => format!("the cookie {one}"),
        many => format!("the cookies {}", many.join(", ")),
    }
}

impl Run for LoginQscloudArgs {
    fn log_level(&self) -> LogLevel {
        self.output.log.loglevel
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.connection.timeout)
    }

    fn json_failure(&self) -> bool {
        self.output.output == LoginFormat::Json
    }

    /// The keys of a refused login's report.
    fn failure_object(&self, detail: &str, hint: Option<&str>, _details: &[String]) -> String {
        let server = Server::parse(&self.tenant, "--tenant", true)
            .ok()
            .map(|mut server| {
                server.base_path.clear();
                server.to_string()
            });
        report::failure_json(server, detail, hint)
    }

    fn run(&self, now: SystemTime) -> Result<Output> {
        login_qscloud(self, now)
    }

    fn json_asked_by() -> JsonAskedBy {
        JsonAskedBy::OutputJson
    }
}

impl Run for LoginQseowArgs {
    fn log_level(&self) -> LogLevel {
        self.output.log.loglevel
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.connection.timeout)
    }

    fn json_failure(&self) -> bool {
        self.output.output == LoginFormat::Json
    }

    /// The keys of a refused login's report.
    fn failure_object(&self, detail: &str, hint: Option<&str>, _details: &[String]) -> String {
        let server = Server::parse(&self.server, "--server", false)
            .ok()
            .map(|server| server.to_string());
        report::failure_json(server, detail, hint)
    }

    fn run(&self, now: SystemTime) -> Result<Output> {
        login_qseow(self, now)
    }

    fn json_asked_by() -> JsonAskedBy {
        JsonAskedBy::OutputJson
    }
}
