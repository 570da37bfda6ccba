//! The command line, as clap types. Flag names, value names and defaults follow qs-jwt 1.x so
//! that existing scripts keep working; options both create commands share are declared once.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{NonEmptyStringValueParser, StringValueParser, TypedValueParser};
use clap::{
    ArgGroup, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum, ValueHint,
};
use clap_complete::Shell;

use crate::claims::{ExtraClaim, QscloudUser, QseowUser, User, parse_claim};
use crate::expires::parse_expires;
use crate::keys::KeyOptions;
use crate::log::Verbosity;
use crate::qlik::Profile;
use crate::secret::{self, SecretText};

/// Create signed JWTs for Qlik Sense.
///
/// The token is printed alone on standard output; log lines go to standard error. Exit code 0
/// means success, 1 a failure at run time (a key that cannot be read, a file that exists, a
/// token that fails decode's checks), 2 a usage error.
#[derive(Debug, Parser)]
#[command(
    name = "qs-jwt",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(arg_required_else_help = true, subcommand_required = true)]
// An option given twice counts once, the last value winning, as in qs-jwt 1.x: scripts append
// overrides to a base argument list. --groups and --claim still collect every value.
#[command(args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a JWT for a Qlik Sense Enterprise on Windows virtual proxy
    #[command(after_help = QSEOW_EXAMPLE, override_usage = QSEOW_USAGE)]
    CreateQseow(CreateQseowArgs),
    /// Create a JWT for a Qlik Cloud JWT identity provider
    #[command(after_help = QSCLOUD_EXAMPLE, override_usage = QSCLOUD_USAGE)]
    CreateQscloud(CreateQscloudArgs),
    /// Show what a JWT holds, verify its signature, and check it against Qlik's rules
    #[command(after_help = DECODE_EXAMPLE)]
    Decode(DecodeArgs),
    /// Print what to give Qlik Cloud for a JWT identity provider: the API body, or the console's fields
    #[command(after_help = SETUP_QSCLOUD_EXAMPLE)]
    SetupQscloud(SetupQscloudArgs),
    /// Print what to give a QSEoW virtual proxy for JWT: the repository API body, or the QMC's fields
    #[command(after_help = SETUP_QSEOW_EXAMPLE)]
    SetupQseow(SetupQseowArgs),
    /// Send a JWT to Qlik Cloud's POST /login/jwt-session and show the session's user
    #[command(after_help = LOGIN_QSCLOUD_EXAMPLE)]
    LoginQscloud(LoginQscloudArgs),
    /// Send a JWT through a QSEoW virtual proxy and show the session's user
    #[command(after_help = LOGIN_QSEOW_EXAMPLE)]
    LoginQseow(LoginQseowArgs),
    /// Print a shell completion script
    #[command(after_help = COMPLETIONS_EXAMPLE)]
    Completions(CompletionsArgs),
}

const SETUP_QSCLOUD_EXAMPLE: &str = "\
Examples:
  qs-jwt setup-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id \\
    --cert-publickey-file publickey.cer > idp.json
  curl -X POST \"https://mytenant.eu.qlikcloud.com/api/v1/identity-providers\" \\
    -H \"Authorization: Bearer $API_KEY\" -H \"Content-Type: application/json\" --data @idp.json
  qs-jwt setup-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id \\
    --cert-publickey-file publickey.cer --output console";

const SETUP_QSEOW_EXAMPLE: &str = "\
Examples:
  qs-jwt setup-qseow --audience hdJh34wkK --prefix jwt --cert-publickey-file publickey.cer > vp.json
  qs-jwt setup-qseow --audience hdJh34wkK --prefix jwt --cert-publickey-file publickey.cer \\
    --output console";

// clap leaves out of its usage line the options required only without --users: both forms.
const QSEOW_USAGE: &str = "\
qs-jwt create-qseow [OPTIONS] --userdir <directory> --userid <userid> --audience <audience> --expires <time>
       qs-jwt create-qseow [OPTIONS] --users <file> --audience <audience> --expires <time>";

const QSCLOUD_USAGE: &str = "\
qs-jwt create-qscloud [OPTIONS] --issuer <issuer> --keyid <id> --expires <time>
       qs-jwt create-qscloud [OPTIONS] --users <file> --issuer <issuer> --keyid <id> --expires <time>";

const QSEOW_EXAMPLE: &str = "\
Examples:
  qs-jwt create-qseow --userdir GRUSGRUS --userid anna --audience hdJh34wkK \\
    --groups group1 \"group 2\" --expires 60m --cert-privatekey-file privatekey.pem
  qs-jwt create-qseow --userdir GRUSGRUS --audience hdJh34wkK --expires 60m \\
    --cert-privatekey-file privatekey.pem --users staff.csv > tokens.txt

A users file is CSV with a header row (columns userid, userdir, name, email, groups separated by
;, claim.<name>) or JSON Lines; a token a line comes out, in the file's order.";

const QSCLOUD_EXAMPLE: &str = "\
Examples:
  qs-jwt create-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id --sub anna \\
    --username \"Anna Anderson\" --useremail anna@grusgrus.com --useremail-verified true \\
    --expires 60m --cert-privatekey-file privatekey.pem
  qs-jwt create-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id --expires 60m \\
    --cert-privatekey-file privatekey.pem --users users.csv > tokens.txt

A users file is CSV with a header row (columns sub, name, email, email_verified, groups separated
by ;, claim.<name>) or JSON Lines; a token a line comes out, in the file's order.";

const DECODE_EXAMPLE: &str = "\
Examples:
  qs-jwt decode --jwt \"$TOKEN\" --cert-publickey-file publickey.cer --check qscloud
  qs-jwt decode --jwt-file token.txt --cert-publickey-file publickey.pem \\
    --expected-audience hdJh34wkK --check qseow --minimal-output | jq .verification

Exit code 0: the token decodes and every check asked for passes. 1: the token is malformed, its
signature is invalid, it is expired or not yet valid, its audience does not match, or a --check
rule fails (the report is still printed). 2: a usage error.";

const LOGIN_QSCLOUD_EXAMPLE: &str = "\
Examples:
  qs-jwt login-qscloud --tenant mytenant.eu.qlikcloud.com --jwt \"$TOKEN\"
  qs-jwt create-qscloud ... | qs-jwt login-qscloud --tenant mytenant.eu.qlikcloud.com \\
    --jwt-file - --cookie-jar cookies.txt --output json

Exit code 0: Qlik Cloud accepted the token and made a session. 1: it rejected the token (its
error is shown, with a hint), or the tenant could not be reached. 2: a usage error. A proxy
comes from https_proxy or HTTPS_PROXY, except for the hosts NO_PROXY names.";

const LOGIN_QSEOW_EXAMPLE: &str = "\
Examples:
  qs-jwt login-qseow --server https://qlik.example.com/jwt --jwt \"$TOKEN\"
  qs-jwt login-qseow --server https://qlik.example.com/jwt --jwt-file token.txt \\
    --cacert qlik-root.pem --cookie-jar cookies.txt

--server is the https URL of the virtual proxy: the server and the proxy's prefix. Exit code 0:
the proxy accepted the token and made a session. 1: it refused the token (a 401, a 403 or a
redirect to a login page) or the server could not be reached. 2: a usage error. A proxy comes
from https_proxy or HTTPS_PROXY, except for the hosts NO_PROXY names.";

const COMPLETIONS_EXAMPLE: &str = "\
Examples:
  qs-jwt completions bash > ~/.local/share/bash-completion/completions/qs-jwt
  qs-jwt completions powershell | Out-String | Invoke-Expression";

impl Command {
    /// The log level asked for, and whether --minimal-output hides info lines.
    pub fn log_settings(&self) -> (Verbosity, bool) {
        let (level, minimal) = match self {
            Command::CreateQseow(args) => (args.output.log.loglevel, args.output.minimal_output),
            Command::CreateQscloud(args) => (args.output.log.loglevel, args.output.minimal_output),
            Command::Decode(args) => (args.log.loglevel, args.minimal_output),
            Command::SetupQscloud(args) => (args.log.loglevel, false),
            Command::SetupQseow(args) => (args.log.loglevel, false),
            Command::LoginQscloud(args) => (args.output.log.loglevel, false),
            Command::LoginQseow(args) => (args.output.log.loglevel, false),
            Command::Completions(_) => (LogLevel::Info, false),
        };
        (level.into(), minimal)
    }
}

#[derive(Debug, Args)]
pub struct CreateQseowArgs {
    /// Qlik Sense user directory, written as claim userDirectory. With --users, the directory
    /// of every user whose userdir column is empty
    #[arg(long, value_name = "directory", value_parser = NoKeyText(NonEmptyStringValueParser::new()),
          required_unless_present = "users")]
    pub userdir: Option<String>,

    /// User id in that directory, written as claim userId
    #[arg(long, value_name = "userid", value_parser = NoKeyText(NonEmptyStringValueParser::new()),
          required_unless_present = "users")]
    pub userid: Option<String>,

    /// Claim aud; must equal the JWT audience set on the virtual proxy
    #[arg(long, value_name = "audience", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub audience: String,

    #[command(flatten)]
    pub user: UserArgs,

    #[command(flatten)]
    pub users: UsersArgs,

    #[command(flatten)]
    pub key: KeyArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CreateQscloudArgs {
    /// Claim iss; must equal the issuer of the Qlik Cloud JWT identity provider
    #[arg(long, value_name = "issuer", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub issuer: String,

    /// Header kid; must equal the key ID of the Qlik Cloud JWT identity provider
    #[arg(long, value_name = "id", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub keyid: String,

    /// Claim sub, the user's stable identity in Qlik Cloud [default: a new random value, so a
    /// new user each time]
    #[arg(long, value_name = "subject", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub sub: Option<String>,

    /// Claim email_verified: whether you have verified that the email belongs to the user.
    /// Required with --useremail
    #[arg(long, value_name = "true|false", value_parser = parse_true_false)]
    pub useremail_verified: Option<bool>,

    #[command(flatten)]
    pub user: UserArgs,

    #[command(flatten)]
    pub users: UsersArgs,

    #[command(flatten)]
    pub key: KeyArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Who the token is for and how long it lasts: the same for both token kinds.
#[derive(Debug, Args)]
pub struct UserArgs {
    /// Time the token is valid, from now: 60m, 48h, 365d, 5y, 90s, 2w, 1.5h, "2 days", "1h 30m"
    // allow_hyphen_values: "-5m" reaches parse_expires, which says it is negative, instead of
    // clap calling it an unknown flag without naming --expires.
    #[arg(long, value_name = "time", value_parser = parse_expires, allow_hyphen_values = true)]
    pub expires: Duration,

    /// User's display name, claim name
    #[arg(long, value_name = "name", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub username: Option<String>,

    /// User's email address, claim email
    #[arg(long, value_name = "email", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub useremail: Option<String>,

    /// Groups of the user, one or more values; the flag may repeat. Claim group (create-qseow)
    /// or groups (create-qscloud)
    #[arg(long, value_name = "groups", num_args = 1.., value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub groups: Vec<String>,

    /// Extra claim, repeatable. The value is JSON if it parses as JSON (3, true, ["a","b"]),
    /// else a string. In QSEoW security rules it is user.environment.<name>
    #[arg(long, value_name = "name=value", value_parser = NoKeyText(parse_claim))]
    pub claim: Vec<ExtraClaim>,
}

/// Many users in one run: a token a user, in the file's order.
#[derive(Debug, Args)]
#[command(next_help_heading = "Many users")]
pub struct UsersArgs {
    /// File with one user a row, a token for each: CSV with a header row naming the columns,
    /// or JSON Lines (a file ending in .jsonl or .ndjson); - reads standard input. The options
    /// for one user (--sub, --userid, --username, ...) become columns; --groups and --claim
    /// apply to every user. See "Many users" in the README
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub users: Option<PathBuf>,

    /// The format of --users [default: jsonl for a file ending in .jsonl or .ndjson, else csv]
    #[arg(long, value_name = "format", value_enum, requires = "users")]
    pub users_format: Option<UsersFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UsersFormat {
    /// A header row naming the columns, then a user a row
    Csv,
    /// One JSON object a line
    Jsonl,
}

/// Where the signing key comes from. Exactly one source: a file, the text, a new key, or
/// (only when none of those is given) the QSJWTPRIVKEY environment variable.
#[derive(Debug, Args)]
#[command(next_help_heading = "Signing key (exactly one source)")]
pub struct KeyArgs {
    /// File with the RSA private key (PEM, PKCS#8 or PKCS#1) that signs the token; - reads
    /// standard input
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cert_privatekey_file: Option<PathBuf>,

    /// The RSA private key as PEM text. With no other key option, it is read from QSJWTPRIVKEY,
    /// which keeps the key off the command line
    // allow_hyphen_values: PEM text starts with "-----BEGIN"; without it clap would take the key
    // for an unknown flag and quote it in the error.
    // QSJWTPRIVKEY is not clap's `env`: clap would read it on every run and fail every command
    // on a value that is not UTF-8, even one that gives another key source (keys::key_source
    // reads it only when it is the source).
    #[arg(long, value_name = "privatekey", allow_hyphen_values = true, value_parser = secret_text)]
    pub cert_privatekey: Option<SecretText>,

    /// Create a new 4096-bit RSA key pair and a self-signed certificate, sign with it, and write
    /// <prefix>privatekey.pem, <prefix>publickey.pem and <prefix>publickey.cer. The bare flag
    /// means true
    #[arg(long, value_name = "true|false", num_args = 0..=1, default_value = "false",
          default_missing_value = "true", value_parser = parse_true_false)]
    pub cert_create: bool,

    /// Prefix of the created file names; may include a folder, such as keys/qsjwt_. An existing
    /// folder given without a trailing / (keys) means the files go into it
    #[arg(long, value_name = "prefix", default_value = "")]
    pub cert_file_prefix: String,

    /// File with the passphrase of an encrypted private key, or of the key --cert-create writes
    /// encrypted (one trailing newline is dropped); - reads standard input. Without it, the
    /// passphrase comes from QSJWTPASSPHRASE, if set. Never the passphrase itself
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cert_privatekey_passphrase_file: Option<PathBuf>,

    /// Days the created certificate is valid; required with --cert-create true
    #[arg(long, value_name = "days", value_parser = parse_days, allow_hyphen_values = true)]
    pub cert_create_expires_days: Option<u32>,

    /// Let --cert-create replace existing key files
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// What to print: the token alone, or one JSON object with the token, its header, its
    /// payload and its expiry (expiresAt, ISO 8601)
    #[arg(long, value_name = "format", value_enum, default_value_t = TokenFormat::Token)]
    pub output: TokenFormat,

    #[command(flatten)]
    pub log: LogArgs,

    /// Accepted for qs-jwt 1.x scripts: hides info lines on standard error. Standard output holds
    /// what --output says either way
    #[arg(long)]
    pub minimal_output: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenFormat {
    /// The token and a newline (with --users, a line a user)
    Token,
    /// {"token", "header", "payload", "expiresAt"}, for jq and PowerShell's ConvertFrom-Json
    /// (with --users, a line a user, with its sub or userdir and userid first)
    Json,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct LogArgs {
    /// How much to log on standard error
    #[arg(long, value_name = "level", value_enum, default_value_t = LogLevel::Info, ignore_case = true)]
    pub loglevel: LogLevel,
}

#[derive(Debug, Args)]
// Exactly one token source; a key only for what needs one.
#[command(group(ArgGroup::new("token").required(true).args(["jwt", "jwt_file"])))]
#[command(group(ArgGroup::new("publickey").args(["cert_publickey_file", "cert_publickey"])))]
pub struct DecodeArgs {
    /// The token. Surrounding whitespace and a "Bearer " prefix are ignored
    #[arg(long, value_name = "token")]
    pub jwt: Option<String>,

    /// File that holds the token; - reads standard input
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub jwt_file: Option<PathBuf>,

    /// File with the public key (PEM: BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY) or the
    /// certificate (BEGIN CERTIFICATE, the .cer file Qlik is configured with). With a key, the
    /// signature, validity and audience are verified
    #[arg(
        long,
        value_name = "file",
        value_hint = ValueHint::FilePath,
        help_heading = "Verification"
    )]
    pub cert_publickey_file: Option<PathBuf>,

    /// The public key or certificate as PEM text
    // allow_hyphen_values: PEM text starts with "-----BEGIN".
    #[arg(
        long,
        value_name = "pem",
        allow_hyphen_values = true,
        help_heading = "Verification"
    )]
    pub cert_publickey: Option<String>,

    /// The audience the token must have (claim aud); needs a public key or certificate
    #[arg(
        long,
        value_name = "aud",
        requires = "publickey",
        help_heading = "Verification"
    )]
    pub expected_audience: Option<String>,

    /// Check the token against the rules Qlik applies to it: every rule, pass or fail, with the
    /// value seen. Works with or without a key
    #[arg(
        long,
        value_name = "qseow|qscloud",
        value_enum,
        help_heading = "Verification"
    )]
    pub check: Option<CheckProfile>,

    #[command(flatten)]
    pub log: LogArgs,

    /// Print the result as one JSON object only: {"header", "payload", "verification",
    /// "check"}; verification only with a key, check only with --check. Also hides info lines on
    /// standard error
    #[arg(long, help_heading = "Output")]
    pub minimal_output: bool,
}

/// The public key or certificate Qlik is to verify tokens with.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("publickey").required(true).args(["cert_publickey_file", "cert_publickey"])))]
pub struct PublicKeyArgs {
    /// File with the certificate (BEGIN CERTIFICATE, the publickey.cer that --cert-create
    /// writes) or the public key (BEGIN PUBLIC KEY)
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cert_publickey_file: Option<PathBuf>,

    /// The certificate or public key as PEM text
    // allow_hyphen_values: PEM text starts with "-----BEGIN".
    #[arg(long, value_name = "pem", allow_hyphen_values = true)]
    pub cert_publickey: Option<String>,
}

impl PublicKeyArgs {
    /// The option that gave the key, for messages.
    pub fn origin(&self) -> String {
        match &self.cert_publickey_file {
            Some(path) => format!("--cert-publickey-file '{}'", path.display()),
            None => "--cert-publickey".to_owned(),
        }
    }
}

#[derive(Debug, Args)]
pub struct SetupQscloudArgs {
    /// The issuer of the identity provider: what create-qscloud --issuer will write as claim iss
    #[arg(long, value_name = "issuer", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub issuer: String,

    /// The key ID of the identity provider: what create-qscloud --keyid will write as header kid
    #[arg(long, value_name = "id", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub keyid: String,

    #[command(flatten)]
    pub key: PublicKeyArgs,

    /// Description of the identity provider, at most 128 characters [default: JWT login for
    /// <issuer>, key <id> (qs-jwt)]
    #[arg(long, value_name = "text", value_parser = NoKeyText(StringValueParser::new()))]
    pub description: Option<String>,

    /// json: the body of POST /api/v1/identity-providers; console: the management console's
    /// fields
    #[arg(long, value_name = "format", value_enum, default_value_t = SetupFormat::Json)]
    pub output: SetupFormat,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args)]
pub struct SetupQseowArgs {
    /// The JWT audience of the virtual proxy: what create-qseow --audience will write as claim
    /// aud
    #[arg(long, value_name = "audience", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub audience: String,

    #[command(flatten)]
    pub key: PublicKeyArgs,

    /// The virtual proxy's prefix, the path after the host: lower-case letters, digits and
    /// - . _ ~
    #[arg(long, value_name = "prefix", default_value = "jwt",
          value_parser = NoKeyText(StringValueParser::new()))]
    pub prefix: String,

    /// Description of the virtual proxy [default: JWT authentication for audience <audience>
    /// (qs-jwt)]
    #[arg(long, value_name = "text", value_parser = NoKeyText(StringValueParser::new()))]
    pub description: Option<String>,

    /// json: the body of POST /qrs/virtualproxyconfig; console: the QMC's fields
    #[arg(long, value_name = "format", value_enum, default_value_t = SetupFormat::Json)]
    pub output: SetupFormat,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SetupFormat {
    /// The body for Qlik's API, to send with curl, Invoke-RestMethod or qlik-cli
    Json,
    /// The fields of Qlik's admin console, for people
    Console,
}

#[derive(Debug, Args)]
pub struct LoginQscloudArgs {
    /// The tenant: its host name (mytenant.eu.qlikcloud.com) or its https URL
    #[arg(long, value_name = "host or URL", value_parser = NonEmptyStringValueParser::new())]
    pub tenant: String,

    #[command(flatten)]
    pub token: LoginTokenArgs,

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
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub output: LoginOutputArgs,
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

/// How the login reaches the server. A proxy comes from https_proxy/HTTPS_PROXY (or
/// all_proxy/ALL_PROXY), except for the hosts NO_PROXY names.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectionArgs {
    /// File with the certificate (PEM) of a certificate authority to trust besides the operating
    /// system's, such as the one that signed a QSEoW server's certificate
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cacert: Option<PathBuf>,

    /// Do not verify the server's certificate: anyone on the way could read the token. For a
    /// test server only; qs-jwt warns on every use
    #[arg(long)]
    pub insecure: bool,

    /// Write the session's cookies to this file, in the Netscape format curl -b reads (owner
    /// only; an existing file is replaced)
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cookie_jar: Option<PathBuf>,

    /// The most time the login may take, each request: 30s, 2m, 1m 30s
    #[arg(long, value_name = "time", default_value = "30s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct LoginOutputArgs {
    /// What to print: a report for people, or one JSON object {"accepted", "status", "server",
    /// "user", "cookies", "error"}
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
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `--check`'s values; the rules are `qlik::Profile`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckProfile {
    /// Qlik Sense Enterprise on Windows, a virtual proxy with JWT authentication
    Qseow,
    /// Qlik Cloud, POST /login/jwt-session with a JWT identity provider
    Qscloud,
}

impl From<CheckProfile> for Profile {
    fn from(profile: CheckProfile) -> Self {
        match profile {
            CheckProfile::Qseow => Profile::Qseow,
            CheckProfile::Qscloud => Profile::Qscloud,
        }
    }
}

impl From<LogLevel> for Verbosity {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => Verbosity::Error,
            LogLevel::Warning => Verbosity::Warning,
            LogLevel::Info => Verbosity::Info,
            LogLevel::Verbose => Verbosity::Verbose,
            LogLevel::Debug => Verbosity::Debug,
        }
    }
}

// The command line made into plain domain inputs, once, here at the edge: the modules below
// (claims, keys, check) never see a clap type (hyperfine's Options::from_cli_arguments).

impl UserArgs {
    pub fn user(&self) -> User {
        User {
            name: self.username.clone(),
            email: self.useremail.clone(),
            groups: self.groups.clone(),
            expires: self.expires,
            extra: self.claim.clone(),
        }
    }
}

impl UserArgs {
    /// The options for one user that --users replaces with a column: (option, column).
    fn per_user_options(&self) -> Vec<(&'static str, &'static str)> {
        let mut given = Vec::new();
        if self.username.is_some() {
            given.push(("--username", "name"));
        }
        if self.useremail.is_some() {
            given.push(("--useremail", "email"));
        }
        given
    }
}

impl CreateQseowArgs {
    /// The token of one user (no --users). `user_id` and `user_directory` are empty with
    /// --users, where each row gives them.
    pub fn token_input(&self) -> QseowUser {
        QseowUser {
            user_id: self.userid.clone().unwrap_or_default(),
            user_directory: self.userdir.clone().unwrap_or_default(),
            audience: self.audience.clone(),
            user: self.user.user(),
        }
    }

    /// The options for one user given with --users: (option, the column to use instead).
    pub fn per_user_options(&self) -> Vec<(&'static str, &'static str)> {
        let mut given = self.user.per_user_options();
        if self.userid.is_some() {
            given.insert(0, ("--userid", "userid"));
        }
        given
    }
}

impl CreateQscloudArgs {
    pub fn token_input(&self) -> QscloudUser {
        QscloudUser {
            issuer: self.issuer.clone(),
            key_id: self.keyid.clone(),
            sub: self.sub.clone(),
            email_verified: self.useremail_verified,
            user: self.user.user(),
        }
    }

    /// The options for one user given with --users: (option, the column to use instead).
    pub fn per_user_options(&self) -> Vec<(&'static str, &'static str)> {
        let mut given = self.user.per_user_options();
        if self.sub.is_some() {
            given.insert(0, ("--sub", "sub"));
        }
        if self.useremail_verified.is_some() {
            given.push(("--useremail-verified", "email_verified"));
        }
        given
    }
}

impl KeyArgs {
    pub fn options(&self) -> KeyOptions<'_> {
        KeyOptions {
            file: self.cert_privatekey_file.as_deref(),
            text: self.cert_privatekey.as_ref(),
            passphrase_file: self.cert_privatekey_passphrase_file.as_deref(),
            create: self.cert_create,
            prefix: &self.cert_file_prefix,
            days: self.cert_create_expires_days,
            force: self.force,
        }
    }
}

/// qs-jwt 1.x's log levels, quietest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum LogLevel {
    Error,
    #[value(alias = "warn")]
    Warning,
    Info,
    Verbose,
    Debug,
}

/// Key text from the command line, wrapped at once so that no `Debug` shows it.
fn secret_text(text: &str) -> Result<SecretText, std::convert::Infallible> {
    Ok(SecretText::new(text))
}

/// A value that goes into a token or a setup body (a name, an id, an issuer, a claim): key
/// material there would be signed into every token, sent to Qlik and logged, so it is refused
/// as a usage error that names the flag and never quotes the value. `P` parses what passes.
#[derive(Clone)]
struct NoKeyText<P>(P);

impl<P: TypedValueParser> TypedValueParser for NoKeyText<P> {
    type Value = P::Value;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Self::Value, clap::Error> {
        if secret::holds_key_material(&value.to_string_lossy()) {
            let flag = arg.map_or_else(String::new, |arg| {
                let name = arg.get_long().unwrap_or_else(|| arg.get_id().as_str());
                match arg.get_value_names().and_then(|names| names.first()) {
                    Some(value_name) => format!("--{name} <{value_name}> "),
                    None => format!("--{name} "),
                }
            });
            let message = format!(
                "{flag}holds key text (a PEM block or a key's base64), which would be signed into \
                 the token or sent to Qlik; give the name or id itself. A private key is given \
                 only with --cert-privatekey-file, --cert-privatekey or QSJWTPRIVKEY\n"
            );
            return Err(
                clap::Error::raw(clap::error::ErrorKind::ValueValidation, message).with_cmd(cmd),
            );
        }
        self.0.parse_ref(cmd, arg, value)
    }
}

/// qs-jwt 1.x took "true" and "false" for its boolean options; any letter case is fine.
fn parse_true_false(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

/// The longest --timeout: a day. Far beyond any login; a time past the clock's range would
/// overflow when it is added to now.
const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// A time limit such as 30s, 2m or 1m 30s (humantime's grammar), one second to a day.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let example = "for example 30s, 2m or 1m 30s";
    match humantime::parse_duration(text.trim()) {
        Ok(duration) if duration > MAX_TIMEOUT => Err(format!("must be a day at most; {example}")),
        Ok(duration) if duration >= Duration::from_secs(1) => Ok(duration),
        Ok(_) => Err(format!("must be at least one second; {example}")),
        Err(_) => Err(format!("expected a time with a unit; {example}")),
    }
}

/// A whole number of days, at least one.
fn parse_days(text: &str) -> Result<u32, String> {
    match text.trim().parse::<i64>() {
        Ok(days) if days >= 1 => u32::try_from(days).map_err(|_| "is too large".to_owned()),
        Ok(_) => Err("must be 1 or more".to_owned()),
        Err(_) => Err("expected a whole number of days, for example 365".to_owned()),
    }
}

/// Parses the command line; a clap error carries its own exit code (2, or 0 for --help).
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = Cli::command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_configuration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_last_of_a_repeated_option_wins_and_lists_collect() {
        let cli = try_parse_from([
            "qs-jwt",
            "create-qseow",
            "--userdir",
            "a",
            "--userdir",
            "b",
            "--userid",
            "u",
            "--audience",
            "x",
            "--expires",
            "1h",
            "--expires",
            "2h",
            "--groups",
            "g1",
            "--groups",
            "g2",
            "g3",
            "--claim",
            "a=1",
            "--claim",
            "b=2",
        ])
        .unwrap();
        let Command::CreateQseow(args) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(args.userdir.as_deref(), Some("b"));
        assert_eq!(args.user.expires, Duration::from_secs(7_200));
        assert_eq!(args.user.groups, ["g1", "g2", "g3"]);
        assert_eq!(args.user.claim.len(), 2);
    }

    #[test]
    fn days_are_whole_and_positive() {
        assert_eq!(parse_days("365"), Ok(365));
        assert!(parse_days("0").unwrap_err().contains("1 or more"));
        assert!(parse_days("-3").unwrap_err().contains("1 or more"));
        assert!(parse_days("1.5").unwrap_err().contains("whole number"));
        assert!(parse_days("99999999999").unwrap_err().contains("too large"));
    }

    #[test]
    fn timeouts_have_a_unit_and_last_a_second_at_least() {
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(parse_timeout("30").unwrap_err().contains("unit"));
        assert!(parse_timeout("0s").unwrap_err().contains("at least"));
        assert!(parse_timeout("500ms").unwrap_err().contains("at least"));
        assert!(
            parse_timeout("500000000000y")
                .unwrap_err()
                .contains("a day at most")
        );
        assert!(parse_timeout("18446744073709551615s").is_err());
    }

    #[test]
    fn true_false_in_any_case() {
        assert_eq!(parse_true_false("TRUE"), Ok(true));
        assert_eq!(parse_true_false("False"), Ok(false));
        assert!(parse_true_false("yes").is_err());
        assert!(parse_true_false("").is_err());
    }
}
