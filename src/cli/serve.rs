//! The clap types of the serve commands: serve-qseow, serve-qscloud and serve-qscloud-oauth, a
//! local token endpoint for a web page under development. The signing key is `key`'s
//! (an existing key: a server makes none), the claims are create's.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::{ArgGroup, Args, ValueHint};

use super::create::{QseowAlg, UsersFormat};
use super::key::PrivateKeyArgs;
use super::oauth::{OauthClientArgs, OauthConnectionArgs};
use super::output::LogArgs;
use super::{NoKeyText, parse_true_false};
use crate::claims::{ExtraClaim, parse_claim};
use crate::expires::parse_expires;

pub(super) const SERVE_QSEOW_EXAMPLE: &str = "\
Examples:
  qs-jwt serve-qseow --userdir ACME --audience qlik.example.com \\
    --cert-privatekey-file privatekey.pem --user anna --user ben --origin http://localhost:5173
  curl -s -X POST http://127.0.0.1:8765/token -H 'Content-Type: application/json' \\
    -d '{\"user\": \"anna\"}'

POST /token {\"user\": \"anna\"} (or /token?user=anna) answers {\"token\", \"expiresAt\", ...};
POST /access-token answers the token alone as text; GET /health answers {\"status\": \"ok\"}. Only
the users allowed (--user, --users, or --allow-any-user) get a token, and a browser only from an
--origin. Ctrl-C or SIGTERM ends it (exit 0).";

pub(super) const SERVE_QSCLOUD_EXAMPLE: &str = "\
Examples:
  qs-jwt serve-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id \\
    --cert-privatekey-file privatekey.pem --users users.csv --origin http://localhost:5173
  qs-jwt serve-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id \\
    --cert-privatekey-file privatekey.pem --user anna --port 0

The token is for POST /login/jwt-session. POST /token {\"user\": \"<sub>\"} answers {\"token\",
\"expiresAt\", ...}; POST /access-token answers the token alone as text; GET /health answers
{\"status\": \"ok\"}. Ctrl-C or SIGTERM ends it (exit 0).";

pub(super) const SERVE_QSCLOUD_OAUTH_EXAMPLE: &str = "\
Examples:
  qs-jwt serve-qscloud-oauth --tenant mytenant.eu.qlikcloud.com --client-id \"$CLIENT_ID\" \\
    --client-secret-file secret.txt --user anna --origin http://localhost:5173

The OAuth client must be allowed to impersonate users (\"Allow M2M user impersonation\" in the
management console). POST /access-token {\"user\": \"<sub>\"} answers the user's impersonation
access token as text, what qlik-embed's data-get-access-token function returns; POST /token
answers Qlik's JSON {\"access_token\", \"token_type\", \"expires_in\", \"scope\"}. A user's token is
kept and given again until a minute before it expires (Qlik is asked once). GET /health answers
{\"status\": \"ok\"}. Ctrl-C or SIGTERM ends it (exit 0).";

/// Where the server listens and which pages may ask it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Server")]
pub struct ServerArgs {
    /// The address to listen on; an address other than loopback (127.0.0.1, ::1) needs
    /// --allow-remote
    #[arg(long, value_name = "address", default_value = "127.0.0.1")]
    pub listen: IpAddr,

    /// The port to listen on; 0 takes a free one. The server's URL is printed on standard output
    #[arg(long, value_name = "port", default_value_t = 8765)]
    pub port: u16,

    /// Let --listen name an address other computers reach: anyone who reaches it gets tokens for
    /// the allowed users. For a test machine only; qs-jwt warns
    #[arg(long)]
    pub allow_remote: bool,

    /// The origin of a page that may ask for tokens, as the browser sends it
    /// (http://localhost:5173); repeatable. A request from any other origin is refused
    #[arg(long = "origin", value_name = "origin", value_parser = NonEmptyStringValueParser::new())]
    pub origins: Vec<String>,
}

/// Which users may get a token.
#[derive(Debug, Args)]
#[command(next_help_heading = "Users (one or more)")]
#[command(group(ArgGroup::new("allowed").required(true).multiple(true)
    .args(["allowed_users", "users", "allow_any_user"])))]
pub struct AllowedUsersArgs {
    /// A user who may get a token (a subject; a user id on QSEoW); repeatable
    #[arg(long = "user", value_name = "id", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub allowed_users: Vec<String>,

    /// File of the users who may get a token, with their name, email, groups and claims: create's
    /// CSV or JSON Lines (see "Many users" in the README)
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub users: Option<PathBuf>,

    /// The format of --users [default: jsonl for a file ending in .jsonl or .ndjson, else csv]
    #[arg(long, value_name = "format", value_enum, requires = "users")]
    pub users_format: Option<UsersFormat>,

    /// Give a token to whatever user a request names. Any page of an allowed origin can then be
    /// anyone
    #[arg(long)]
    pub allow_any_user: bool,
}

/// What every token says besides its user: create's claims.
#[derive(Debug, Args)]
pub struct ServeClaimsArgs {
    /// Time each token is valid, from when it is asked for: 5m, 60m, 1h
    #[arg(long, value_name = "time", value_parser = parse_expires, default_value = "5m",
          allow_hyphen_values = true)]
    pub expires: Duration,

    /// Groups of every user, before the groups --users gives; the flag may repeat
    #[arg(long, value_name = "groups", num_args = 1.., value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub groups: Vec<String>,

    /// Extra claim of every token, repeatable, as create's --claim
    #[arg(long, value_name = "name=value", value_parser = NoKeyText(parse_claim))]
    pub claim: Vec<ExtraClaim>,
}

#[derive(Debug, Args)]
pub struct ServeQseowArgs {
    /// Qlik Sense user directory of the users whose row gives none (and of --user)
    #[arg(long, value_name = "directory", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub userdir: Option<String>,

    /// Claim aud; must equal the JWT audience set on the virtual proxy
    #[arg(long, value_name = "audience", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub audience: String,

    /// The signing algorithm; a QSEoW virtual proxy verifies all three
    #[arg(long, value_name = "alg", value_enum, default_value_t = QseowAlg::Rs256)]
    pub alg: QseowAlg,

    #[command(flatten)]
    pub claims: ServeClaimsArgs,

    #[command(flatten)]
    pub allowed: AllowedUsersArgs,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub key: PrivateKeyArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args)]
pub struct ServeQscloudArgs {
    /// Claim iss; must equal the issuer of the Qlik Cloud JWT identity provider
    #[arg(long, value_name = "issuer", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub issuer: String,

    /// Header kid; must equal the key ID of the Qlik Cloud JWT identity provider
    #[arg(long, value_name = "id", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub keyid: String,

    /// Claim email_verified of every user whose row gives none
    #[arg(long, value_name = "true|false", value_parser = parse_true_false)]
    pub useremail_verified: Option<bool>,

    #[command(flatten)]
    pub claims: ServeClaimsArgs,

    #[command(flatten)]
    pub allowed: AllowedUsersArgs,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub key: PrivateKeyArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args)]
pub struct ServeQscloudOauthArgs {
    #[command(flatten)]
    pub client: OauthClientArgs,

    #[command(flatten)]
    pub allowed: AllowedUsersArgs,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub key: PrivateKeyArgs,

    #[command(flatten)]
    pub connection: OauthConnectionArgs,

    #[command(flatten)]
    pub log: LogArgs,
}
