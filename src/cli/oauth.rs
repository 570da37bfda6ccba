//! The clap types of the Qlik Cloud OAuth commands: setup-qscloud-oauth and oauth-qscloud.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::{ArgGroup, Args, ValueEnum, ValueHint};

use super::NoKeyText;
use super::connection::parse_timeout;
use super::key::{KeyArgs, PublicKeyArgs};
use super::output::LogArgs;
use super::setup::SetupFormat;

pub(super) const SETUP_QSCLOUD_OAUTH_EXAMPLE: &str = "\
Examples:
  qs-jwt setup-qscloud-oauth --cert-publickey-file publickey.cer > jwk.json
  qs-jwt setup-qscloud-oauth --cert-publickey-file publickey.pem --alg RS512 --output console

The key ID (kid) is the key's RFC 7638 thumbprint unless --keyid gives one: the same key always
gets the same ID, and oauth-qscloud writes the same kid by default. Qlik Cloud takes RSA keys of
2048 bits or more (RS256, RS512) and EC P-384 keys (ES384).";

pub(super) const OAUTH_QSCLOUD_EXAMPLE: &str = "\
Examples:
  TOKEN=$(qs-jwt oauth-qscloud --tenant mytenant.eu.qlikcloud.com --client-id \"$CLIENT_ID\" \\
    --cert-privatekey-file privatekey.pem)
  qs-jwt oauth-qscloud --tenant mytenant.eu.qlikcloud.com --client-id \"$CLIENT_ID\" \\
    --client-secret-file secret.txt --impersonate-sub anna --output json
  qs-jwt oauth-qscloud --tenant mytenant.eu.qlikcloud.com --client-id \"$CLIENT_ID\" \\
    --cert-privatekey-file privatekey.pem --assertion-only

With a key (RSA: RS256 or RS512; EC P-384: ES384), qs-jwt signs a client assertion (private
key JWT: iss and sub the client id, aud https://<tenant>/oauth/token from the tenant's canonical
origin, a new UUID jti, five minutes) and posts it form-encoded to POST /oauth/token;
with a secret (--client-secret-file or QLIK_CLIENT_SECRET) it posts the secret. Exit code 0: a
token is on standard output. 1: Qlik refused (its error is shown, with a hint) or the tenant
could not be reached. 2: a usage error.";

#[derive(Debug, Args)]
pub struct SetupQscloudOauthArgs {
    #[command(flatten)]
    pub key: PublicKeyArgs,

    /// The key ID (kid) to give the key [default: the key's RFC 7638 thumbprint]
    #[arg(long, value_name = "id", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub keyid: Option<String>,

    /// The algorithm the client signs its assertions with (the JWK's alg) [default: RS256 for an
    /// RSA key, ES384 for an EC P-384 key]
    #[arg(long, value_name = "alg", value_enum)]
    pub alg: Option<OauthAlg>,

    /// json: the JWK for the OAuth client's publicKeys; console: the management console's fields
    #[arg(long, value_name = "format", value_enum, default_value_t = SetupFormat::Json)]
    pub output: SetupFormat,

    #[command(flatten)]
    pub log: LogArgs,
}

/// The algorithms Qlik Cloud takes for an OAuth client assertion: RS256 and RS512 with an RSA
/// key, ES384 with an EC P-384 key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OauthAlg {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "RS512")]
    Rs512,
    #[value(name = "ES384")]
    Es384,
}

impl From<OauthAlg> for jsonwebtoken::Algorithm {
    fn from(alg: OauthAlg) -> Self {
        match alg {
            OauthAlg::Rs256 => Self::RS256,
            OauthAlg::Rs512 => Self::RS512,
            OauthAlg::Es384 => Self::ES384,
        }
    }
}

/// The kind of key `--cert-create` makes for an OAuth client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CreateKeyType {
    /// A 4096-bit RSA key (RS256, RS512)
    Rsa,
    /// An EC key on P-384 (ES384)
    EcP384,
}

impl From<CreateKeyType> for crate::keys::NewKeyType {
    fn from(key_type: CreateKeyType) -> Self {
        match key_type {
            CreateKeyType::Rsa => Self::Rsa4096,
            CreateKeyType::EcP384 => Self::EcP384,
        }
    }
}

/// The OAuth client a token is asked for: the tenant, the client, how it proves itself (its
/// secret, or the kid and alg of its key's assertion) and the scope. oauth-qscloud and
/// serve-qscloud-oauth share it.
#[derive(Debug, Args)]
pub struct OauthClientArgs {
    /// The tenant: its host name (mytenant.eu.qlikcloud.com) or its https URL
    #[arg(long, value_name = "host or URL", value_parser = NonEmptyStringValueParser::new())]
    pub tenant: String,

    /// The OAuth client's ID (the assertion's iss and sub)
    #[arg(long, value_name = "id", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub client_id: String,

    /// File with the OAuth client's secret (one trailing newline is dropped); - reads standard
    /// input. Without it and without a key, the secret comes from QLIK_CLIENT_SECRET. Never the
    /// secret itself
    #[arg(long, value_name = "file|-", value_hint = ValueHint::FilePath)]
    pub client_secret_file: Option<PathBuf>,

    /// The assertion's header kid: the ID of the key in the client's publicKeys [default: the
    /// key's RFC 7638 thumbprint, as setup-qscloud-oauth gives it]
    #[arg(long, value_name = "id", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub keyid: Option<String>,

    /// The assertion's signing algorithm; must be the alg of the key in the client's publicKeys
    /// [default: RS256 for an RSA key, ES384 for an EC P-384 key]
    #[arg(long, value_name = "alg", value_enum)]
    pub alg: Option<OauthAlg>,

    /// The scope asked for, one or more separated by spaces
    #[arg(long, value_name = "scope", default_value = "user_default",
          value_parser = NonEmptyStringValueParser::new())]
    pub scope: String,
}

/// How the tenant is reached for a token.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct OauthConnectionArgs {
    /// File with the certificate (PEM) of a certificate authority to trust besides the operating
    /// system's
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cacert: Option<PathBuf>,

    /// Do not verify the server's certificate: anyone on the way could read the secret or the
    /// token. For a test server only; qs-jwt warns on every use
    #[arg(long)]
    pub insecure: bool,

    /// The most time a token request may take, waits for Retry-After included: 30s, 2m, 1m 30s
    #[arg(long, value_name = "time", default_value = "30s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("impersonate").args(["impersonate_sub", "impersonate_user_id"])))]
pub struct OauthQscloudArgs {
    #[command(flatten)]
    pub client: OauthClientArgs,

    /// Ask for a token of this existing user, found by subject (Qlik's user impersonation
    /// grant); the client must be allowed to impersonate
    #[arg(long, value_name = "subject", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub impersonate_sub: Option<String>,

    /// The same, the user found by Qlik user ID
    #[arg(long, value_name = "id", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub impersonate_user_id: Option<String>,

    /// Print the signed client assertion and send nothing (for other tools); needs a key. With
    /// --output json, one object {"assertion", "kid", "alg", "jti", "exp", "token_url"}
    #[arg(long)]
    pub assertion_only: bool,

    #[command(flatten)]
    pub key: KeyArgs,

    /// The kind of key --cert-create makes: rsa (4096 bits) or ec-p384 (for ES384)
    #[arg(long, value_name = "type", value_enum, default_value_t = CreateKeyType::Rsa,
          help_heading = "Signing key (exactly one source)")]
    pub cert_create_key_type: CreateKeyType,

    #[command(flatten)]
    pub connection: OauthConnectionArgs,

    /// What to print: the access token alone, or Qlik's whole answer as JSON
    /// {"access_token", "token_type", "expires_in", "scope"}; with json, a failure is {"status",
    /// "error": {"code", "detail", "hint"}}
    #[arg(long, value_name = "format", value_enum, default_value_t = OauthFormat::Token,
          help_heading = "Output")]
    pub output: OauthFormat,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OauthFormat {
    /// The access token and a newline
    Token,
    /// Qlik's answer, one JSON object
    Json,
}
