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

use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde_json::Value;
use tracing::{info, warn};

use crate::cli::oauth::{CreateKeyType, OauthFormat, OauthQscloudArgs, SetupQscloudOauthArgs};
use crate::cli::output::LogLevel;
use crate::cli::setup::SetupFormat;
use crate::commands::oauth_client::{
    self, ClientOptions, Credential, MAKE_EC_KEY, MAKE_KEY, TokenAsk, assertion, checked_client,
    checked_key_id, credential, key_alg, request_token,
};
use crate::commands::{JsonAskedBy, Output, Run};
use crate::error::UserError;
use crate::keys::{self, PublicKeyKind};
use crate::qlik::cloud::oauth::{self, Grant, MIN_RSA_BITS, TokenError};
use crate::render;
use crate::times;

pub use crate::commands::oauth_client::SECRET_VARIABLE;

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

pub fn oauth_qscloud(args: &OauthQscloudArgs, now: SystemTime) -> Result<Output> {
    let client = &args.client;
    let (server, audience) = checked_client(client)?;
    let grant = match (&args.impersonate_sub, &args.impersonate_user_id) {
        (Some(sub), _) => Grant::ImpersonateSubject(sub),
        (None, Some(id)) => Grant::ImpersonateUserId(id),
        (None, None) => Grant::ClientCredentials,
    };
    let mut key = args.key.options();
    key.key_type = args.cert_create_key_type.into();
    let options = ClientOptions::of(client, key, args.cert_create_key_type != CreateKeyType::Rsa);
    let (credential, pending_files) = credential(&options, now)?;
    if args.assertion_only {
        let Credential::Key { key, kid, alg, .. } = &credential else {
            return Err(UserError::usage(
                "--assertion-only signs a client assertion, which needs the client's private key: \
                 give --cert-privatekey-file <file> (a client secret makes no assertion)",
            )
            .into());
        };
        if grant != Grant::ClientCredentials || client.scope != oauth::DEFAULT_SCOPE {
            warn!(
                "--assertion-only sends nothing: --impersonate-sub, --impersonate-user-id and \
                 --scope are for the token request, which the tool you give the assertion makes"
            );
        }
        let (assertion, claims) = assertion(key, kid, *alg, &client.client_id, &audience, now)?;
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

    let tenant = oauth_client::connect(
        server,
        &args.connection,
        "the client's credentials and the token",
    )?;
    let ask = TokenAsk {
        client_id: &client.client_id,
        audience: &audience,
        grant,
        scope: &client.scope,
        timeout: args.connection.timeout,
    };
    let token = match request_token(&tenant, &credential, &ask, now)? {
        Ok(token) => token,
        Err(refusal) => {
            return refused(
                args.output,
                refusal.error,
                refusal.status,
                refusal.token_error.as_ref(),
            );
        }
    };
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
        // The answer as Qlik gave it, its tokens (the product) as they are and anything else
        // through the one redaction: a server that echoes the secret back shows none of it.
        OauthFormat::Json => {
            let answer: serde_json::Value =
                serde_json::from_str(token.json.expose()).unwrap_or_default();
            render::json_for_people(&answer, &oauth::REPLY_TOKENS)
        }
    };
    Ok(Output::product(stdout))
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
                ..Output::product(render::json_for_people(&object, &[]))
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
        Some(self.connection.timeout)
    }

    fn json_failure(&self) -> bool {
        self.output == OauthFormat::Json
    }

    /// The keys of the token's report, as a script reads either.
    fn failure_object(&self, detail: &str, hint: Option<&str>, _details: &[String]) -> String {
        let object = failure_object(None, None, detail, hint);
        render::json_for_people(&object, &[])
    }

    fn run(&self, now: SystemTime) -> Result<Output> {
        oauth_qscloud(self, now)
    }

    fn json_asked_by() -> JsonAskedBy {
        JsonAskedBy::OutputJson
    }
}
