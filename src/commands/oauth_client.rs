//! The Qlik Cloud OAuth client both oauth-qscloud and serve-qscloud-oauth ask for tokens
//! through: its credential (a private key that signs a client assertion, or the client's
//! secret), the token request with Qlik's 429 waited for, and Qlik's refusals in words. Shared,
//! not a command (as `connect`); see `oauth` for the sources on Qlik's rules.

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use jsonwebtoken::{Algorithm, Header};
use rand::RngExt;
use tracing::{info, warn};

use crate::cli::oauth::{OauthAlg, OauthClientArgs, OauthConnectionArgs};
use crate::commands::connect::{self, Connection};
use crate::error::UserError;
use crate::http::Server;
use crate::input::{self, FileFlag};
use crate::keys::{self, KeyOptions, SigningKey};
use crate::qlik::cloud::Tenant;
use crate::qlik::cloud::oauth::{
    self, Cause, ClientAuth, Grant, MAX_ASSERTION_LIFETIME, MIN_RSA_BITS, TokenError, TokenReply,
};
use crate::render;
use crate::secret::SecretText;
use crate::times::{self, iso8601};
use crate::token;
use crate::verbose;

/// The environment variable that holds the client secret when no key and no secret file are
/// given.
pub const SECRET_VARIABLE: &str = "QLIK_CLIENT_SECRET";

const SECRET_FILE: FileFlag = FileFlag {
    flag: "--client-secret-file",
    holds: "client secret",
    format: "text",
    der_hint: None,
};

pub const MAKE_KEY: &str = "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out \
                        privatekey.pem";

pub const MAKE_EC_KEY: &str = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out \
                           privatekey.pem";

/// The assertion's algorithm: `--alg` when it fits the key, else the key's own default (RS256
/// for RSA, ES384 for EC P-384). A mismatch is refused before anything is sent, naming what
/// Qlik takes: Qlik would refuse it, and a JWK with a wrong alg would be refused at every
/// request.
pub fn key_alg(
    alg: Option<OauthAlg>,
    rsa: bool,
    origin: &str,
    kind: &str,
) -> Result<Algorithm, UserError> {
    match (alg, rsa) {
        (None, true) => Ok(Algorithm::RS256),
        (None, false) => Ok(Algorithm::ES384),
        (Some(OauthAlg::Es384), true) | (Some(OauthAlg::Rs256 | OauthAlg::Rs512), false) => {
            let alg = Algorithm::from(alg.unwrap_or(OauthAlg::Rs256));
            Err(UserError::usage(format!(
                "--alg {alg:?} does not fit the key from {origin}, {kind}; {}",
                keys::OAUTH_KEYS
            )))
        }
        (Some(alg), _) => Ok(Algorithm::from(alg)),
    }
}

/// Whether a value given where an ID belongs holds PEM dashes or blanks, which no key ID or
/// client ID has. Key text itself is refused as the command line is parsed (`cli::NoKeyText`);
/// this also catches a PEM line or two pasted by mistake.
pub fn holds_pem(text: &str) -> bool {
    text.contains("-----") || text.contains(char::is_whitespace)
}

/// A key ID given where a name belongs: refused when it holds key material, so that no
/// message that quotes it can show a key.
pub fn checked_key_id(kid: &str) -> Result<&str, UserError> {
    if holds_pem(kid) {
        return Err(UserError::usage(
            "--keyid holds PEM text or blanks, not a key ID; give the ID the OAuth client \
             has for the key, or leave --keyid out for the key's thumbprint",
        ));
    }
    Ok(kid)
}

/// How this run proves the client's identity.
pub enum Credential {
    Key {
        key: SigningKey,
        kid: String,
        /// True when `kid` is the key's thumbprint, not a --keyid.
        thumbprint: bool,
        alg: Algorithm,
    },
    Secret(SecretText),
}

/// The options that say how the client proves its identity, as the command line gave them.
pub struct ClientOptions<'a> {
    /// create's key sources (oauth-qscloud's --cert-create too, with its key type in
    /// `key.key_type`).
    pub key: KeyOptions<'a>,
    /// Whether --cert-create-key-type was given other than rsa (warned about without
    /// --cert-create).
    pub key_type_given: bool,
    pub secret_file: Option<&'a Path>,
    pub keyid: Option<&'a str>,
    pub alg: Option<OauthAlg>,
}

impl<'a> ClientOptions<'a> {
    /// The options of the client's flags and the key's sources.
    pub fn of(client: &'a OauthClientArgs, key: KeyOptions<'a>, key_type_given: bool) -> Self {
        Self {
            key,
            key_type_given,
            secret_file: client.client_secret_file.as_deref(),
            keyid: client.keyid.as_deref(),
            alg: client.alg,
        }
    }
}

/// The client's tenant, checked before anything is read or sent: its server, and its token URL
/// (the assertion's audience). The client ID and a kid are names, written into the assertion
/// and shown in messages: key text or blanks pasted into them are refused.
pub fn checked_client(client: &OauthClientArgs) -> Result<(Server, String), UserError> {
    let server = connect::tenant_server(&client.tenant, "the client's credentials")?;
    let audience = oauth::token_endpoint(&server.origin());
    if let Some(kid) = &client.keyid {
        checked_key_id(kid)?;
    }
    if holds_pem(&client.client_id) {
        return Err(UserError::usage(
            "--client-id holds PEM text or blanks, not a client ID; give the OAuth client's ID \
             from the management console",
        ));
    }
    Ok((server, audience))
}

/// The tenant reached over the connection flags; `sends` says what goes to it (for
/// `--insecure`'s warning).
pub fn connect(
    server: Server,
    connection: &OauthConnectionArgs,
    sends: &'static str,
) -> Result<Tenant, UserError> {
    connect::tenant(
        server,
        &Connection {
            cacert: connection.cacert.as_deref(),
            insecure: connection.insecure,
            timeout: connection.timeout,
            sends,
        },
    )
}

/// The key (from any of create's sources) or the secret (its file, or QLIK_CLIENT_SECRET):
/// exactly one. An option beats a variable; two options, or two variables and no option, are
/// a usage error.
pub fn credential(
    options: &ClientOptions<'_>,
    now: SystemTime,
) -> Result<(Credential, Option<keys::PendingKeyFiles>)> {
    let key_option = options.key.file.is_some() || options.key.text.is_some() || options.key.create;
    let env_key = std::env::var_os(keys::KEY_VARIABLE).filter(|v| !v.is_empty());
    let env_secret = std::env::var_os(SECRET_VARIABLE).filter(|v| !v.is_empty());
    let use_key = match (key_option, options.secret_file) {
        (true, Some(_)) => {
            return Err(UserError::usage(
                "a private key and --client-secret-file both authenticate the client; give one",
            )
            .into());
        }
        (true, None) => true,
        (false, Some(_)) => false,
        (false, None) => match (&env_key, &env_secret) {
            (Some(_), Some(_)) => {
                return Err(UserError::usage(format!(
                    "{} and {SECRET_VARIABLE} are both set; choose with --cert-privatekey-file \
                     <file> or --client-secret-file <file>, or unset one",
                    keys::KEY_VARIABLE
                ))
                .into());
            }
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => {
                return Err(UserError::usage(format!(
                    "no client credentials: give the client's private key \
                     (--cert-privatekey-file <file>, --cert-privatekey <pem> or {}) or its secret \
                     (--client-secret-file <file|-> or {SECRET_VARIABLE})",
                    keys::KEY_VARIABLE
                ))
                .into());
            }
        },
    };
    if !use_key {
        if options.keyid.is_some() {
            warn!("--keyid is ignored with a client secret: no assertion is signed");
        }
        let secret = client_secret(options.secret_file, env_secret)?;
        return Ok((Credential::Secret(secret), None));
    }
    let key_options = &options.key;
    if options.key_type_given && !key_options.create {
        warn!("--cert-create-key-type is ignored without --cert-create true");
    }
    let source = keys::key_source(key_options, env_key.as_deref())?;
    let passphrase = keys::passphrase(key_options, std::env::var_os(keys::PASSPHRASE_VARIABLE))?;
    let loaded =
        keys::signing_key_of(&source, passphrase.as_ref(), now, keys::Accept::RsaOrEcP384)?;
    let key = loaded.key;
    let kind = if key.is_rsa() {
        format!("a {}-bit RSA key", key.bits)
    } else {
        "an EC P-384 key".to_owned()
    };
    let alg = key_alg(options.alg, key.is_rsa(), &key.origin, &kind)?;
    if key.is_rsa() && key.bits < MIN_RSA_BITS {
        return Err(UserError::runtime(format!(
            "the key from {} is a {}-bit RSA key; Qlik Cloud takes {MIN_RSA_BITS} bits at least \
             for an OAuth client (4096 recommended)",
            key.origin, key.bits
        ))
        .with_hint(format!("make a new key: {MAKE_KEY}"))
        .into());
    }
    let kid = match options.keyid {
        Some(kid) => kid.to_owned(),
        None => key.thumbprint()?,
    };
    let thumbprint = options.keyid.is_none();
    Ok((
        Credential::Key {
            key,
            kid,
            thumbprint,
            alg,
        },
        loaded.pending_files,
    ))
}

/// Why Qlik gave no token: the error for people, Qlik's HTTP status, and its OAuth error
/// when it answered with one.
pub struct Refusal {
    pub error: UserError,
    pub status: u16,
    pub token_error: Option<TokenError>,
}

/// What a token request asks for.
pub struct TokenAsk<'a> {
    pub client_id: &'a str,
    /// The token endpoint of the tenant's canonical origin: the assertion's aud.
    pub audience: &'a str,
    pub grant: Grant<'a>,
    pub scope: &'a str,
    /// The most time the request may take, waits for Retry-After included.
    pub timeout: Duration,
}

/// Asks the tenant for a token: a new assertion each attempt (Qlik takes a jti once only), a
/// 429 waited for as its Retry-After says (`http::retry_wait`: a floor, a growing backoff and
/// a cap) while `timeout` allows. Qlik's answer, or its
/// refusal in words; an error when the tenant could not be asked.
pub fn request_token(
    tenant: &Tenant,
    credential: &Credential,
    ask: &TokenAsk<'_>,
    now: SystemTime,
) -> Result<Result<TokenReply, Refusal>> {
    let started = Instant::now();
    let mut attempt_now = now;
    let mut attempt = 0u32;
    loop {
        let proof = match credential {
            Credential::Key { key, kid, alg, .. } => {
                assertion(key, kid, *alg, ask.client_id, ask.audience, attempt_now)?.0
            }
            Credential::Secret(secret) => secret.clone(),
        };
        let auth = match credential {
            Credential::Key { .. } => ClientAuth::Assertion(&proof),
            Credential::Secret(_) => ClientAuth::Secret(&proof),
        };
        let request = oauth::token_request(ask.client_id, &auth, ask.grant, ask.scope);
        let reply = tenant.oauth_token(&request)?;
        if reply.status == 429 {
            let after = reply.retry_after.as_deref().unwrap_or("(not given)");
            // The run's one deadline, when main set it, bounds this wait too.
            let left = ask.timeout.saturating_sub(started.elapsed());
            let left = crate::http::time_left().map_or(left, |run| run.min(left));
            match crate::http::retry_wait(reply.retry_after.as_deref(), attempt, left) {
                Ok(wait) => {
                    info!(
                        "Qlik Cloud is limiting requests (HTTP 429); waiting {}s (its Retry-After: \
                         {}), then asking again",
                        wait.as_secs(),
                        render::escape(after)
                    );
                    std::thread::sleep(wait);
                    attempt = attempt.saturating_add(1);
                    attempt_now = attempt_now.checked_add(wait).unwrap_or(attempt_now);
                    continue;
                }
                Err(no) => {
                    let why = match no {
                        crate::http::NoRetry::TooLong(wait) => format!(
                            "asks to wait {} (Retry-After: {}), more than --timeout {} leaves \
                             or than qs-jwt waits ({})",
                            humantime::format_duration(wait),
                            render::escape(after),
                            humantime::format_duration(ask.timeout),
                            humantime::format_duration(crate::http::RETRY_CAP)
                        ),
                        // An HTTP date, or nothing: qs-jwt waits only for a number of seconds.
                        crate::http::NoRetry::NoSeconds => format!(
                            "gives no number of seconds to wait (Retry-After: {})",
                            render::escape(after)
                        ),
                    };
                    return Ok(Err(Refusal {
                        error: UserError::runtime(format!(
                            "Qlik Cloud is limiting requests (HTTP 429) and {why}"
                        ))
                        .with_hint("wait that long and try again, or raise --timeout"),
                        status: 429,
                        token_error: None,
                    }));
                }
            }
        }
        if !(200..300).contains(&reply.status) {
            let error = TokenError::from_body(&reply.body);
            let message = refusal_message(reply.status, &error);
            let hint = hint(&error, credential, ask.grant, ask.audience, attempt_now);
            let mut err = UserError::runtime(message);
            if let Some(hint) = hint {
                err = err.with_hint(hint);
            }
            return Ok(Err(Refusal {
                error: err,
                status: reply.status,
                token_error: Some(error),
            }));
        }
        let token = oauth::token_reply(&reply.body).map_err(|why| {
            UserError::runtime(format!(
                "Qlik Cloud answered HTTP {} to POST {}, but {why}",
                reply.status,
                oauth::TOKEN_PATH
            ))
            .with_hint("check that --tenant is the Qlik Cloud tenant (a proxy in between may answer for it)")
        })?;
        return Ok(Ok(token));
    }
}

/// The secret from `--client-secret-file` (standard input for `-`) or from QLIK_CLIENT_SECRET;
/// one trailing line break is dropped.
fn client_secret(file: Option<&Path>, env: Option<OsString>) -> Result<SecretText, UserError> {
    let (bytes, source) = match file {
        Some(path) if path.as_os_str() == "-" => (
            input::read_stdin_bytes(
                "--client-secret-file",
                "the client secret",
                "vault read -field=secret secret/qlik | qs-jwt oauth-qscloud ... \
                 --client-secret-file -",
            )?,
            "standard input (--client-secret-file -)".to_owned(),
        ),
        Some(path) => {
            // A secret typed where its file belongs must not come back in the error.
            if !path.exists() {
                return Err(UserError::runtime(format!(
                    "--client-secret-file names no file that exists (the value is not shown: it \
                     may be the secret itself); give the file that holds the secret, or set \
                     {SECRET_VARIABLE}"
                )));
            }
            // A secret as worth guarding as a key: a file others can read is said, as a key
            // file's and the API key file's are.
            keys::warn_if_others_can_read(path, SECRET_FILE.flag);
            (
                input::read_file_bytes(path, &SECRET_FILE)?,
                format!("--client-secret-file '{}'", path.display()),
            )
        }
        None => match env {
            Some(value) => (value.into_encoded_bytes(), SECRET_VARIABLE.to_owned()),
            None => {
                return Err(UserError::usage(format!(
                    "no client secret: give --client-secret-file <file|-> or set {SECRET_VARIABLE}"
                )));
            }
        },
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| UserError::runtime(format!("{source} is not UTF-8 text")))?;
    let secret = SecretText::new(text);
    let trimmed = secret
        .expose()
        .strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(secret.expose());
    if trimmed.is_empty() {
        return Err(UserError::runtime(format!(
            "{source} is empty; put the client's secret there"
        )));
    }
    verbose!("read the client secret from {source}");
    Ok(SecretText::new(trimmed))
}

/// A signed client assertion made at `now`, and its claims.
pub fn assertion(
    key: &SigningKey,
    kid: &str,
    alg: Algorithm,
    client_id: &str,
    audience: &str,
    now: SystemTime,
) -> Result<(SecretText, oauth::AssertionClaims)> {
    let now = times::unix_seconds(now)?;
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    let claims = oauth::assertion_claims(
        client_id,
        audience,
        now,
        oauth::uuid_v4(rand::rng().random()),
    );
    // The kid is not shown: a thumbprint looks like key text to the log's redaction.
    verbose!(
        "signing a client assertion ({alg:?}, jti {}, valid until {})",
        claims.jti,
        iso8601(claims.exp)
    );
    let assertion = SecretText::new(token::sign(&header, &claims, key)?);
    Ok((assertion, claims))
}

/// Qlik's refusal in one line, with any secret the server quoted back taken out (the one
/// redaction: the secret, the assertion and the key are registered, so a piece of them goes too).
fn refusal_message(status: u16, error: &TokenError) -> String {
    let text = match (&error.error, &error.description) {
        (Some(code), Some(description)) => format!("{code}: {description}"),
        (Some(code), None) => code.clone(),
        (None, Some(description)) => description.clone(),
        (None, None) => "no error in the answer".to_owned(),
    };
    let text = crate::secret::redact(&text).into_owned();
    format!(
        "Qlik Cloud refused the token request (HTTP {status}): {}",
        render::escape(&render::shorten(&text))
    )
}

fn hint(
    error: &TokenError,
    credential: &Credential,
    grant: Grant<'_>,
    audience: &str,
    now: SystemTime,
) -> Option<String> {
    // A kid the user typed is shown as typed; the default thumbprint is named, not quoted (the
    // error's redaction would take its 43 base64url characters for key text).
    let kid = match credential {
        Credential::Key {
            thumbprint: true, ..
        } => Some("the key's thumbprint (the default; setup-qscloud-oauth prints it)".to_owned()),
        Credential::Key { kid, .. } => Some(render::escape(kid).into_owned()),
        Credential::Secret(_) => None,
    };
    let clock = times::unix_seconds(now).map(iso8601).unwrap_or_default();
    Some(match error.cause() {
        Some(Cause::UnknownKey) => format!(
            "the client holds no public key whose kid is {}: add the key's JWK (qs-jwt \
             setup-qscloud-oauth --cert-publickey-file <public key>) to the client's publicKeys, \
             or give --keyid <the ID the client has for it>",
            kid.as_deref().unwrap_or("(none)")
        ),
        Some(Cause::WrongAudience) => format!(
            "the assertion's aud is {audience}: --tenant must be the tenant's own host name \
             (<tenant>.<region>.qlikcloud.com), not an alias or a custom domain"
        ),
        Some(Cause::ClockSkew) => format!(
            "the assertion says it was made at {clock} (this machine's clock) and lives {} \
             minutes: check this machine's clock (NTP)",
            MAX_ASSERTION_LIFETIME / 60
        ),
        Some(Cause::GrantNotAllowed) if grant == Grant::ClientCredentials => {
            "the client may not use the client credentials grant: it must be a confidential \
             machine-to-machine client (Administration > OAuth)"
                .to_owned()
        }
        Some(Cause::GrantNotAllowed) => "the client may not impersonate users: allow user \
             impersonation on the OAuth client (Administration > OAuth), or leave out \
             --impersonate-sub/--impersonate-user-id for the client's own token"
            .to_owned(),
        Some(Cause::UserNotFound) => "impersonation needs a user who already exists in the \
             tenant: check the subject or user ID (a first JWT login creates a user: qs-jwt \
             create-qscloud ... | qs-jwt login-qscloud ...)"
            .to_owned(),
        Some(Cause::WrongSecret) => format!(
            "check --client-id and the secret ({SECRET_VARIABLE} or --client-secret-file): Qlik \
             shows a client's secret once, when the client is made"
        ),
        Some(Cause::WrongAlgorithm) => {
            "--alg must be the alg of the key in the client's publicKeys".to_owned()
        }
        Some(Cause::ReusedJti) => {
            "every request has a new jti; was the assertion replayed (--assertion-only output \
             used twice)?"
                .to_owned()
        }
        None if error.error.as_deref() == Some("invalid_client") => match kid {
            Some(kid) => format!(
                "check --client-id, and that the client holds this key (kid: {kid}) with this \
                 --alg"
            ),
            None => format!(
                "check --client-id and the secret ({SECRET_VARIABLE} or --client-secret-file)"
            ),
        },
        None => return None,
    })
}
