//! The setup commands' options.

use clap::builder::{NonEmptyStringValueParser, StringValueParser};
use clap::{Args, ValueEnum};

use super::NoKeyText;
use super::key::PublicKeyArgs;
use super::output::LogArgs;

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
