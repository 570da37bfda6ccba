//! The doctor commands' options: the server, the name and key the tokens are signed with, how
//! the server is reached, what is printed.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::{Args, ValueEnum, ValueHint};

use super::NoKeyText;
use super::connection::parse_timeout;
use super::key::PrivateKeyArgs;
use super::output::LogArgs;

#[derive(Debug, Args)]
pub struct DoctorQscloudArgs {
    /// The Qlik Cloud tenant: its host name (tenant.eu.qlikcloud.com) or its https:// URL
    #[arg(long, value_name = "host or URL", value_parser = NonEmptyStringValueParser::new())]
    pub tenant: String,

    /// The issuer the tokens are signed with: create-qscloud's --issuer (claim iss)
    #[arg(long, value_name = "issuer", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub issuer: String,

    /// The key ID the tokens are signed with: create-qscloud's --keyid (header kid)
    #[arg(long, value_name = "id", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub keyid: String,

    #[command(flatten)]
    pub key: PrivateKeyArgs,

    /// Also sign a fresh five-minute token with the key and log in with it at POST
    /// /login/jwt-session (the token and the session's cookies are never shown)
    #[arg(long, help_heading = "Login")]
    pub login: bool,

    /// The subject (claim sub) of the token --login signs. Without it, the documented probe
    /// user qs-jwt-doctor (name "qs-jwt doctor probe", email
    /// qs-jwt-doctor@qs-jwt-doctor.invalid), so that no existing user's profile changes; a
    /// named user only with the --name and --email the admin gives
    #[arg(long, value_name = "subject", requires_all = ["login", "name", "email"],
          help_heading = "Login",
          value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub sub: Option<String>,

    /// The name (claim name) of the --sub user, as Qlik Cloud holds it
    #[arg(long, value_name = "name", requires = "sub", help_heading = "Login",
          value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub name: Option<String>,

    /// The email (claim email) of the --sub user, as Qlik Cloud holds it
    #[arg(long, value_name = "email", requires = "sub", help_heading = "Login",
          value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub email: Option<String>,

    #[command(flatten)]
    pub connection: TenantApiArgs,

    #[command(flatten)]
    pub output: DoctorOutputArgs,
}

/// How a doctor reaches Qlik Cloud's API with a tenant admin's API key.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct TenantApiArgs {
    /// File with a tenant admin's API key, or - for standard input [default: the environment
    /// variable QLIK_API_KEY]
    #[arg(long, value_name = "file|-", value_hint = ValueHint::FilePath)]
    pub api_key_file: Option<PathBuf>,

    /// File with the certificate (PEM) of a certificate authority to trust besides the operating
    /// system's, or the server's own self-signed certificate
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cacert: Option<PathBuf>,

    /// Do not verify the server's certificate: anyone on the way could read the API key and the
    /// token. For a test server only
    #[arg(long)]
    pub insecure: bool,

    /// The most time the whole run may take: every request and read of a file: 30s, 2m, 1m 30s
    #[arg(long, value_name = "time", default_value = "30s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
pub struct DoctorQseowArgs {
    /// The prefix of the virtual proxy the tokens go through: setup-qseow's --prefix
    #[arg(long, value_name = "prefix", default_value = "jwt",
          value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub prefix: String,

    /// The audience the tokens are signed with: create-qseow's --audience (claim aud)
    #[arg(long, value_name = "audience",
          value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub audience: String,

    #[command(flatten)]
    pub key: PrivateKeyArgs,

    /// Also sign a fresh five-minute token with the key and log in with it through the
    /// virtual proxy (GET /<prefix>/qrs/about; the token and the session's cookies are never
    /// shown)
    #[arg(long, requires_all = ["server", "userdir", "userid"], help_heading = "Login")]
    pub login: bool,

    /// The proxy's URL, https://qlikserver.example.com[:port], or with the virtual proxy's
    /// prefix, https://qlikserver.example.com/jwt (without one, --prefix is added)
    #[arg(long, value_name = "URL", requires = "login", help_heading = "Login",
          value_parser = NonEmptyStringValueParser::new())]
    pub server: Option<String>,

    /// The user directory of the token --login signs (claim userDirectory)
    #[arg(long, value_name = "directory", requires = "login", help_heading = "Login",
          value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub userdir: Option<String>,

    /// The user ID of the token --login signs (claim userId)
    #[arg(long, value_name = "id", requires = "login", help_heading = "Login",
          value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub userid: Option<String>,

    #[command(flatten)]
    pub connection: RepositoryApiArgs,

    #[command(flatten)]
    pub output: DoctorOutputArgs,
}

/// How a doctor reaches QSEoW's repository API with the client certificate the QMC exports.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct RepositoryApiArgs {
    /// The repository API: its host (https on port 4242), host:port, or https URL, such as
    /// qlikserver.example.com or https://qlikserver.example.com:4242
    #[arg(long, value_name = "host or URL", value_parser = NonEmptyStringValueParser::new())]
    pub qrs: String,

    /// The client certificate the QMC exported (client.pem, PEM)
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub qrs_cert: PathBuf,

    /// The client certificate's private key the QMC exported (client_key.pem: PKCS#1 or
    /// PKCS#8 PEM); a secret, never shown
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub qrs_key: PathBuf,

    /// File with the certificate authority (PEM) that signed the site's certificates: the
    /// QMC's root.pem, for the repository and for the proxy that --login reaches
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cacert: Option<PathBuf>,

    /// The user the repository API is called as (header X-Qlik-User), an admin
    #[arg(long, value_name = "user",
          default_value = "UserDirectory=INTERNAL; UserId=sa_repository",
          value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub qrs_user: String,

    /// Do not verify the servers' certificates: anyone on the way could read what is sent.
    /// For a test server only
    #[arg(long)]
    pub insecure: bool,

    /// The most time the whole run may take: every request and read of a file: 30s, 2m, 1m 30s
    #[arg(long, value_name = "time", default_value = "30s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct DoctorOutputArgs {
    /// What to print: a line a check for people, or one JSON object {"status", "checks": [{"id",
    /// "status", "title", "found", "fix"}], ...}
    #[arg(long, value_name = "format", value_enum, default_value_t = DoctorFormat::Text)]
    pub output: DoctorFormat,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DoctorFormat {
    /// A line a check (PASS, WARN, FAIL or SKIP, what was found) and the command that fixes it
    Text,
    /// One JSON object, for jq and PowerShell's ConvertFrom-Json
    Json,
}
