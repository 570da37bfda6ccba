//! setup-qscloud-oauth and oauth-qscloud: a Qlik Cloud OAuth client's public key as a JWK, and
//! an access token from `POST /oauth/token`, with a private key (a signed client assertion) or
//! the client's secret. Qlik's request and reply shapes and its rules are in `qlik::cloud::oauth`;
//! the tenant's client (`qlik::cloud::Tenant`, made by `connect`) sends the request; `token`
//! signs.
//!
//! Sources (see `qlik::cloud::oauth` for the rules): qlik.dev "Private Key JWT reference"
//! (https://qlik.dev/authenticate/oauth/oauth-private-key-jwt-reference/), "Authenticate with
//! Private Key JWT" (https://qlik.dev/authenticate/oauth/oauth-private-key-jwt/), "Retrieve and
//! use OAuth impersonation tokens"
//! (https://qlik.dev/authenticate/oauth/implement-oauth-impersonation/); RFC 7523 (client
//! assertions), RFC 7638 (the key ID), RFC 6749 5.2 (errors); rate limiting (429 with
//! Retry-After) as qlik.dev's API rate limits describe it.

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use jsonwebtoken::{Algorithm, Header};
use rand::RngExt;
use serde_json::Value;
use tracing::{info, warn};

use crate::cli::oauth::{
    CreateKeyType, OauthAlg, OauthFormat, OauthQscloudArgs, SetupQscloudOauthArgs,
};
use crate::cli::output::LogLevel;
use crate::cli::setup::SetupFormat;
use crate::commands::connect::{self, Connection};
use crate::commands::{JsonAskedBy, Output, Run};
use crate::error::UserError;
use crate::input::{self, FileFlag};
use crate::keys::{self, PublicKeyKind, SigningKey};
use crate::qlik::cloud::oauth::{
    self, Cause, ClientAuth, Grant, MAX_ASSERTION_LIFETIME, MIN_RSA_BITS, TokenError,
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

const MAKE_KEY: &str = "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out \
                        privatekey.pem";

const MAKE_EC_KEY: &str = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out \
                           privatekey.pem";

pub fn setup_qscloud_oauth(args: &SetupQscloudOauthArgs) -> Result<Output> {
    let origin = args.key.origin();
    let key = keys::verifying_key(
        args.key.cert_publickey_file.as_deref(),
        args.key.cert_publickey.as_deref(),
    )?
    .ok_or_else(|| {
        UserError::usage("give --cert-publickey-file <file> or --cert-publickey <pem>")
    })?;
    if key.blocks > 1 {
        return Err(UserError::runtime(format!(
            "{origin} holds {} certificates or public keys; give the one whose private key signs \
             the assertions, alone in its file",
            key.blocks
        ))
        .into());
    }
    let (jwk, kid, alg) = match (key.kind, &key.rsa, &key.ec_p384) {
        (PublicKeyKind::Rsa { .. }, Some(rsa), _) => {
            if rsa.bits() < MIN_RSA_BITS {
                return Err(UserError::runtime(format!(
                    "{origin} holds a {}-bit RSA key; Qlik Cloud takes {MIN_RSA_BITS} bits at \
                     least for an OAuth client (4096 recommended)",
                    rsa.bits()
                ))
                .with_hint(format!("make a new key: {MAKE_KEY}"))
                .into());
            }
            let alg = key_alg(args.alg, true, &origin, &key.kind.to_string())?;
            let kid = match &args.keyid {
                Some(kid) => checked_key_id(kid)?.to_owned(),
                None => rsa.thumbprint(),
            };
            let alg = format!("{alg:?}");
            (rsa.jwk(&alg, &kid), kid, alg)
        }
        (PublicKeyKind::EcP384, _, Some(ec)) => {
            let alg = key_alg(args.alg, false, &origin, &key.kind.to_string())?;
            let kid = match &args.keyid {
                Some(kid) => checked_key_id(kid)?.to_owned(),
                None => ec.thumbprint(),
            };
            (ec.jwk(&kid), kid, format!("{alg:?}"))
        }
        (other, _, _) => {
            return Err(UserError::runtime(format!(
                "{origin} holds {other}; {}",
                keys::OAUTH_KEYS
            ))
            .with_hint(format!(
                "make an RSA key ({MAKE_KEY}) or an EC P-384 key ({MAKE_EC_KEY})"
            ))
            .into());
        }
    };
    let jwk = Value::Object(jwk);
    let stdout = match args.output {
        // A JWK of a public key holds nothing a terminal would act on, but it is shown as JSON
        // from outside all the same.
        SetupFormat::Json => {
            render::json_for_terminal(&serde_json::to_string_pretty(&jwk)?).into_owned()
        }
        SetupFormat::Console => format!(
            "Public key of the OAuth client (Administration > OAuth > the client > public keys)\n\
             Key ID (kid):  {kid}\n\
             Algorithm:     {alg}\n\
             Key (JWK):     {}",
            render::escape(&jwk.to_string())
        ),
    };
    info!(
        "{}",
        match &args.keyid {
            Some(_) =>
                "add the JWK to the OAuth client's publicKeys; give oauth-qscloud the same \
                        --keyid",
            None =>
                "add the JWK to the OAuth client's publicKeys; oauth-qscloud writes the same \
                     kid (the key's thumbprint) by default, so the key matches without --keyid",
        }
    );
    Ok(Output::product(stdout))
}

/// The assertion's algorithm: `--alg` when it fits the key, else the key's own default (RS256
/// for RSA, ES384 for EC P-384). A mismatch is refused before anything is sent, naming what
/// Qlik takes: Qlik would refuse it, and a JWK with a wrong alg would be refused at every
/// request.
fn key_alg(
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
fn holds_pem(text: &str) -> bool {
    text.contains("-----") || text.contains(char::is_whitespace)
}

/// A key ID given where a name belongs: refused when it holds key material, so that no
/// message that quotes it can show a key.
fn checked_key_id(kid: &str) -> Result<&str, UserError> {
    if holds_pem(kid) {
        return Err(UserError::usage(
            "--keyid holds PEM text or blanks, not a key ID; give the ID the OAuth client \
             has for the key, or leave --keyid out for the key's thumbprint",
        ));
    }
    Ok(kid)
}

/// How this run proves the client's identity.
enum Credential {
    Key {
        key: SigningKey,
        kid: String,
        /// True when `kid` is the key's thumbprint, not a --keyid.
        thumbprint: bool,
        alg: Algorithm,
    },
    Secret(SecretText),
}

pub fn oauth_qscloud(args: &OauthQscloudArgs, now: SystemTime) -> Result<Output> {
    let server = connect::tenant_server(&args.tenant)?;
    let audience = oauth::token_endpoint(&server.origin());
    let grant = match (&args.impersonate_sub, &args.impersonate_user_id) {
        (Some(sub), _) => Grant::ImpersonateSubject(sub),
        (None, Some(id)) => Grant::ImpersonateUserId(id),
        (None, None) => Grant::ClientCredentials,
    };
    if let Some(kid) = &args.keyid {
        checked_key_id(kid)?;
    }
    // The client ID is a name, written into the assertion and shown in messages: key text
    // pasted into it is refused before it goes anywhere.
    if holds_pem(&args.client_id) {
        return Err(UserError::usage(
            "--client-id holds PEM text or blanks, not a client ID; give the OAuth \
             client's ID from the management console",
        )
        .into());
    }

    let (credential, pending_files) = credential(args, now)?;
    if args.assertion_only {
        let Credential::Key { key, kid, alg, .. } = &credential else {
            return Err(UserError::usage(
                "--assertion-only signs a client assertion, which needs the client's private key: \
                 give --cert-privatekey-file <file> (a client secret makes no assertion)",
            )
            .into());
        };
        if grant != Grant::ClientCredentials || args.scope != oauth::DEFAULT_SCOPE {
            warn!(
                "--assertion-only sends nothing: --impersonate-sub, --impersonate-user-id and \
                 --scope are for the token request, which the tool you give the assertion makes"
            );
        }
        let (assertion, claims) = assertion(key, kid, *alg, &args.client_id, &audience, now)?;
        let stdout = match args.output {
            OauthFormat::Token => assertion.expose().to_owned(),
            OauthFormat::Json => {
                oauth::assertion_json(&assertion, kid, &format!("{alg:?}"), &claims)
            }
        };
        return Ok(Output {
            pending_files,
            ..Output::product(stdout)
        });
    }

    let tenant = connect::tenant(
        server,
        &Connection {
            cacert: args.cacert.as_deref(),
            insecure: args.insecure,
            timeout: args.timeout,
            sends: "the client's credentials and the token",
        },
    )?;
    let started = Instant::now();
    let mut attempt_now = now;
    let mut attempt = 0u32;
    loop {
        let proof = match &credential {
            // A new assertion each attempt: Qlik takes a jti once only.
            Credential::Key { key, kid, alg, .. } => {
                assertion(key, kid, *alg, &args.client_id, &audience, attempt_now)?.0
            }
            Credential::Secret(secret) => secret.clone(),
        };
        let auth = match &credential {
            Credential::Key { .. } => ClientAuth::Assertion(&proof),
            Credential::Secret(_) => ClientAuth::Secret(&proof),
        };
        let request = oauth::token_request(&args.client_id, &auth, grant, &args.scope);
        let reply = tenant.oauth_token(&request)?;
        if reply.status == 429 {
            let after = reply.retry_after.as_deref().unwrap_or("(not given)");
            let left = args.timeout.saturating_sub(started.elapsed());
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
                            humantime::format_duration(args.timeout),
                            humantime::format_duration(crate::http::RETRY_CAP)
                        ),
                        // An HTTP date, or nothing: qs-jwt waits only for a number of seconds.
                        crate::http::NoRetry::NoSeconds => format!(
                            "gives no number of seconds to wait (Retry-After: {})",
                            render::escape(after)
                        ),
                    };
                    return refused(
                        args.output,
                        UserError::runtime(format!(
                            "Qlik Cloud is limiting requests (HTTP 429) and {why}"
                        ))
                        .with_hint("wait that long and try again, or raise --timeout"),
                        429,
                        None,
                    );
                }
            }
        }
        if !(200..300).contains(&reply.status) {
            let error = TokenError::from_body(&reply.body);
            let message = refusal_message(reply.status, &error, &[&proof, &request.body]);
            let hint = hint(&error, &credential, grant, &audience, attempt_now);
            let mut err = UserError::runtime(message);
            if let Some(hint) = hint {
                err = err.with_hint(hint);
            }
            return refused(args.output, err, reply.status, Some(&error));
        }
        let token = oauth::token_reply(&reply.body).map_err(|why| {
            UserError::runtime(format!(
                "Qlik Cloud answered HTTP {} to POST {}, but {why}",
                reply.status,
                oauth::TOKEN_PATH
            ))
            .with_hint("check that --tenant is the Qlik Cloud tenant (a proxy in between may answer for it)")
        })?;
        info!(
            "Qlik Cloud issued an access token{}{}",
            token
                .scope
                .as_deref()
                .map(|scope| format!(" (scope {})", render::escape(scope)))
                .unwrap_or_default(),
            token
                .expires_in
                .map(|s| format!(", valid for {}", times::span(s)))
                .unwrap_or_default()
        );
        let stdout = match args.output {
            OauthFormat::Token => token.access_token.expose().to_owned(),
            OauthFormat::Json => token.json.expose().to_owned(),
        };
        return Ok(Output::product(stdout));
    }
}

/// The key (from any of create's sources) or the secret (its file, or QLIK_CLIENT_SECRET):
/// exactly one. An option beats a variable; two options, or two variables and no option, are
/// a usage error.
fn credential(
    args: &OauthQscloudArgs,
    now: SystemTime,
) -> Result<(Credential, Option<keys::PendingKeyFiles>)> {
    let key_args = &args.key;
    let key_option = key_args.cert_privatekey_file.is_some()
        || key_args.cert_privatekey.is_some()
        || key_args.cert_create;
    let env_key = std::env::var_os(keys::KEY_VARIABLE).filter(|v| !v.is_empty());
    let env_secret = std::env::var_os(SECRET_VARIABLE).filter(|v| !v.is_empty());
    let use_key = match (key_option, &args.client_secret_file) {
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
        if args.keyid.is_some() {
            warn!("--keyid is ignored with a client secret: no assertion is signed");
        }
        let secret = client_secret(args.client_secret_file.as_deref(), env_secret)?;
        return Ok((Credential::Secret(secret), None));
    }
    let mut options = key_args.options();
    options.key_type = args.cert_create_key_type.into();
    if args.cert_create_key_type != CreateKeyType::Rsa && !options.create {
        warn!("--cert-create-key-type is ignored without --cert-create true");
    }
    let source = keys::key_source(&options, env_key.as_deref())?;
    let passphrase = keys::passphrase(&options, std::env::var_os(keys::PASSPHRASE_VARIABLE))?;
    let loaded =
        keys::signing_key_of(&source, passphrase.as_ref(), now, keys::Accept::RsaOrEcP384)?;
    let key = loaded.key;
    let kind = if key.is_rsa() {
        format!("a {}-bit RSA key", key.bits)
    } else {
        "an EC P-384 key".to_owned()
    };
    let alg = key_alg(args.alg, key.is_rsa(), &key.origin, &kind)?;
    if key.is_rsa() && key.bits < MIN_RSA_BITS {
        return Err(UserError::runtime(format!(
            "the key from {} is a {}-bit RSA key; Qlik Cloud takes {MIN_RSA_BITS} bits at least \
             for an OAuth client (4096 recommended)",
            key.origin, key.bits
        ))
        .with_hint(format!("make a new key: {MAKE_KEY}"))
        .into());
    }
    let kid = match &args.keyid {
        Some(kid) => kid.clone(),
        None => key.thumbprint()?,
    };
    let thumbprint = args.keyid.is_none();
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
fn assertion(
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

/// Qlik's refusal in one line, with any secret the server quoted back taken out.
fn refusal_message(status: u16, error: &TokenError, secrets: &[&SecretText]) -> String {
    let mut text = match (&error.error, &error.description) {
        (Some(code), Some(description)) => format!("{code}: {description}"),
        (Some(code), None) => code.clone(),
        (None, Some(description)) => description.clone(),
        (None, None) => "no error in the answer".to_owned(),
    };
    for secret in secrets {
        let secret = secret.expose();
        if !secret.is_empty() && text.contains(secret) {
            text = text.replace(secret, "[redacted]");
        }
    }
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

/// A refusal: an error for people; with `--output json`, also a JSON object on standard output.
fn refused(
    format: OauthFormat,
    err: UserError,
    status: u16,
    error: Option<&TokenError>,
) -> Result<Output> {
    match format {
        OauthFormat::Token => Err(err.into()),
        OauthFormat::Json => {
            let object = failure_object(
                Some(status),
                error.and_then(|e| e.error.clone()),
                &err.to_string(),
                err.hint(),
            );
            Ok(Output {
                failure: Some(err.to_string()),
                ..Output::product(render::json_for_terminal(&object.to_string()).into_owned())
            })
        }
    }
}

/// `--output json`'s object for a failure: Qlik's HTTP status and OAuth error code when Qlik
/// answered (null when it could not be reached), and the error in words with its hint, in the
/// `{"error": {"detail", "hint"}}` shape of the other commands.
fn failure_object(
    status: Option<u16>,
    code: Option<String>,
    detail: &str,
    hint: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({
        "status": status,
        "error": { "code": code, "detail": detail, "hint": hint },
    })
}

impl Run for SetupQscloudOauthArgs {
    fn log_level(&self) -> LogLevel {
        self.log.loglevel
    }

    fn run(&self, _now: SystemTime) -> Result<Output> {
        setup_qscloud_oauth(self)
    }
}

impl Run for OauthQscloudArgs {
    fn log_level(&self) -> LogLevel {
        self.log.loglevel
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.timeout)
    }

    fn json_failure(&self) -> bool {
        self.output == OauthFormat::Json
    }

    /// The keys of the token's report, as a script reads either.
    fn failure_object(&self, detail: &str, hint: Option<&str>, _details: &[String]) -> String {
        let object = failure_object(None, None, detail, hint);
        render::json_for_terminal(&object.to_string()).into_owned()
    }

    fn run(&self, now: SystemTime) -> Result<Output> {
        oauth_qscloud(self, now)
    }

    fn json_asked_by() -> JsonAskedBy {
        JsonAskedBy::OutputJson
    }
}
