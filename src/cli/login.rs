//! The login commands' options: the server, the token sent, what is printed. How the server is
//! reached is `connection`'s.

use std::path::PathBuf;

use clap::builder::NonEmptyStringValueParser;
use clap::{ArgGroup, Args, ValueEnum, ValueHint};

use super::connection::ConnectionArgs;
use super::output::LogArgs;
use super::{NoKeyText, secret_text};
use crate::secret::SecretText;

#[derive(Debug, Args)]
pub struct LoginQscloudArgs {
    /// The tenant: its host name (mytenant.eu.qlikcloud.com) or its https URL
    #[arg(long, value_name = "host or URL", value_parser = NonEmptyStringValueParser::new())]
    pub tenant: String,

    #[command(flatten)]
    pub token: LoginTokenArgs,

    /// In place of a JWT: a file holding an OAuth access token (oauth-qscloud's); - reads
    /// standard input. No JWT login: the engine is proven with the token as Authorization:
    /// Bearer, on /api/v1/csrf-token and on the WebSocket, as Qlik Cloud takes one; no session
    /// is made
    #[arg(
        long,
        value_name = "file",
        value_hint = ValueHint::FilePath,
        group = "token",
        conflicts_with_all = ["no_engine", "cookie_jar"]
    )]
    pub access_token_file: Option<PathBuf>,

    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub output: LoginOutputArgs,
}

#[derive(Debug, Args)]
pub struct LoginQseowArgs {
    /// The https URL of the virtual proxy: the server and the proxy's prefix, such as
    /// https://qlik.example.com/jwt
    #[arg(long, value_name = "URL", value_parser = NonEmptyStringValueParser::new())]
    pub server: String,

    #[command(flatten)]
    pub token: LoginTokenArgs,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Also send the JWT as Authorization: Bearer on the engine's WebSocket, as clients written
    /// before QSEoW November 2024 do (enigma.js's old JWT example), to see whether that is
    /// what the proxy refuses: a 403 is then tried again without it, and the report says so
    #[arg(long, help_heading = "Engine", conflicts_with = "no_engine")]
    pub websocket_authorization: bool,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub output: LoginOutputArgs,
}

/// The engine proof after the HTTP login: the CSRF token, the WebSocket, the engine's answers.
#[derive(Debug, Args)]
#[command(next_help_heading = "Engine")]
pub struct EngineArgs {
    /// Also open this app (its id) on the engine and show its title: the user may open it
    #[arg(long, value_name = "app id", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub app: Option<String>,

    /// The Origin the WebSocket sends (a host name or https://host), when clients use another
    /// name than the server URL's host; the default is the server URL's origin
    #[arg(long, value_name = "origin", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub origin: Option<String>,

    /// Prove the HTTP login only, not the engine's WebSocket
    #[arg(long, conflicts_with_all = ["app", "origin"])]
    pub no_engine: bool,
}

/// The token a login sends: exactly one source.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("token").required(true).args(["jwt", "jwt_file"])))]
pub struct LoginTokenArgs {
    /// The token to send. Surrounding whitespace and a "Bearer " prefix are ignored. On the
    /// command line others may see it (ps); --jwt-file keeps it off
    #[arg(long, value_name = "token", value_parser = secret_text)]
    pub jwt: Option<SecretText>,

    /// File that holds the token; - reads standard input
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub jwt_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct LoginOutputArgs {
    /// What to print: a report for people, or one JSON object {"accepted", "status", "server",
    /// "user", "cookies", "session", "error"}, also when the login fails. The session is ended
    /// before exit ("session": "ended") unless --cookie-jar keeps it ("kept")
    #[arg(long, value_name = "format", value_enum, default_value_t = LoginFormat::Text)]
    pub output: LoginFormat,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoginFormat {
    /// Whether the server accepted the token, and the user of the session
    Text,
    /// One JSON object, for jq and PowerShell's ConvertFrom-Json
    Json,
    /// One JSON object a client opens the engine with itself: {"websocketUrl" (with the CSRF
    /// token), "cookie" (the Cookie header's value), "origin", "csrfToken", "expires", "ends"}.
    /// It holds the session's secrets: it goes to stdout only, and the session is kept open
    Session,
}
