//! The setup commands' options.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{NonEmptyStringValueParser, StringValueParser};
use clap::{Args, ValueEnum, ValueHint};

use super::connection::parse_timeout;

use super::NoKeyText;
use super::key::PublicKeyArgs;
use super::output::LogArgs;

#[derive(Debug, Args)]
// --remove needs no key: the key options are required by the command (setup_qscloud) instead.
#[command(mut_group("publickey", |g| g.required(false)))]
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
    pub tenant: TenantArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

/// --apply and --remove: the tenant, its API key and how to reach it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Configure the tenant")]
pub struct TenantArgs {
    /// Create the identity provider on --tenant, unless one with this issuer and key ID is
    /// there already (same key: nothing to do, exit 0; another key: exit 1). Prints the
    /// identity provider as Qlik returned it
    #[arg(long, requires = "tenant", conflicts_with = "remove")]
    pub apply: bool,

    /// Delete the identity provider with this issuer and key ID from --tenant, and nothing
    /// else; refused for the last active JWT identity provider of the issuer unless --force
    #[arg(long, requires = "tenant")]
    pub remove: bool,

    /// With --apply or --remove, print the plan (what would be created or removed) as JSON and
    /// change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Lets --remove delete the last active JWT identity provider of its issuer too (tokens of
    /// that issuer then log in no more)
    #[arg(long, requires = "remove")]
    pub force: bool,

    /// The Qlik Cloud tenant: its host name (tenant.eu.qlikcloud.com) or its https:// URL
    #[arg(long, value_name = "host or URL", value_parser = NonEmptyStringValueParser::new())]
    pub tenant: Option<String>,

    /// File with a tenant admin's API key, or - for standard input [default: the environment
    /// variable QLIK_API_KEY]
    #[arg(long, value_name = "file|-", value_hint = ValueHint::FilePath, requires = "tenant")]
    pub api_key_file: Option<PathBuf>,

    /// File with the certificate (PEM) of a certificate authority to trust besides the operating
    /// system's, or the server's own self-signed certificate
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath, requires = "tenant")]
    pub cacert: Option<PathBuf>,

    /// Do not verify the server's certificate: anyone on the way could read the API key. For a
    /// test server only
    #[arg(long, requires = "tenant")]
    pub insecure: bool,

    /// The most time the whole run may take: every request to the tenant, page and read of a
    /// file: 30s, 2m, 1m 30s
    #[arg(long, value_name = "time", default_value = "30s", value_parser = parse_timeout)]
    pub timeout: Duration,
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
    pub repository: RepositoryArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

/// --apply: the repository API, the certificates the QMC exports, and how to reach it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Configure the repository")]
pub struct RepositoryArgs {
    /// Create the virtual proxy with --prefix through the repository API, or set the JWT
    /// settings of the one there (keeping the rest); give it load balancing to the engine nodes
    /// when it has none, add --allow-host names, and link it to every proxy service. Prints
    /// the virtual proxy as the repository returned it; a second run changes nothing
    #[arg(long, requires_all = ["qrs", "qrs_cert", "qrs_key"])]
    pub apply: bool,

    /// The repository API: its host (https on port 4242), host:port, or https URL, such as
    /// qlikserver.example.com or https://qlikserver.example.com:4242
    #[arg(long, value_name = "host or URL", value_parser = NonEmptyStringValueParser::new(),
          requires = "apply")]
    pub qrs: Option<String>,

    /// The client certificate the QMC exported (client.pem, PEM)
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath, requires = "apply")]
    pub qrs_cert: Option<PathBuf>,

    /// The client certificate's private key the QMC exported (client_key.pem: PKCS#1 or
    /// PKCS#8 PEM); a secret, never shown
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath, requires = "apply")]
    pub qrs_key: Option<PathBuf>,

    /// File with the certificate authority (PEM) that signed the repository's certificate:
    /// the QMC's root.pem
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath, requires = "apply")]
    pub cacert: Option<PathBuf>,

    /// The user the repository API is called as (header X-Qlik-User), an admin
    #[arg(long, value_name = "user", requires = "apply",
          default_value = "UserDirectory=INTERNAL; UserId=sa_repository",
          value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub qrs_user: String,

    /// A host name clients use, added to the virtual proxy's host allow list
    /// (websocketCrossOriginWhiteList) unless it is there; repeat for more
    #[arg(long, value_name = "host", requires = "apply",
          value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub allow_host: Vec<String>,

    /// Print the plan (the virtual proxy created, or each field's old and new value, the links)
    /// as JSON and change nothing
    #[arg(long, requires = "apply")]
    pub dry_run: bool,

    /// Lets --apply turn the virtual proxy with --prefix into a JWT one when it uses another
    /// authentication method (Ticket, header, SAML, OIDC): its users then log in with tokens
    /// only. Without it, such a virtual proxy is refused and nothing changes
    #[arg(long, requires = "apply")]
    pub convert_to_jwt: bool,

    /// Do not verify the repository's certificate: anyone on the way could read what is sent.
    /// For a test server only
    #[arg(long, requires = "apply")]
    pub insecure: bool,

    /// The most time the whole run may take: every request to the repository and read of a
    /// file: 30s, 2m, 1m 30s
    #[arg(long, value_name = "time", default_value = "30s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SetupFormat {
    /// The body for Qlik's API, to send with curl, Invoke-RestMethod or qlik-cli
    Json,
    /// The fields of Qlik's admin console, for people
    Console,
}
