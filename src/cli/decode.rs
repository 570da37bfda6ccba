//! decode's options.

use std::path::PathBuf;

use clap::{ArgGroup, Args, ValueEnum, ValueHint};

use super::output::LogArgs;

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
        value_name = "qseow|qscloud|qscloud-oauth",
        value_enum,
        help_heading = "Verification"
    )]
    pub check: Option<CheckProfile>,

    /// With --check qscloud-oauth: the tenant (host name or https URL) whose token endpoint the
    /// assertion's aud must be, exactly
    #[arg(
        long,
        value_name = "host or URL",
        requires = "check",
        value_parser = clap::builder::NonEmptyStringValueParser::new(),
        help_heading = "Verification"
    )]
    pub tenant: Option<String>,

    #[command(flatten)]
    pub log: LogArgs,

    /// Print the result as one JSON object only: {"header", "payload", "verification",
    /// "check"}; verification only with a key, check only with --check. A failure is {"error":
    /// {"detail", "hint"}}. Also hides info lines on standard error
    #[arg(long, help_heading = "Output")]
    pub minimal_output: bool,
}

/// `--check`'s values; the rules are `qlik::Profile`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckProfile {
    /// Qlik Sense Enterprise on Windows, a virtual proxy with JWT authentication
    Qseow,
    /// Qlik Cloud, POST /login/jwt-session with a JWT identity provider
    Qscloud,
    /// Qlik Cloud, an OAuth client's assertion (private key JWT) for POST /oauth/token
    QscloudOauth,
}

impl From<CheckProfile> for crate::qlik::check::Rules {
    fn from(profile: CheckProfile) -> Self {
        match profile {
            CheckProfile::Qseow => Self::Qseow,
            CheckProfile::Qscloud => Self::Qscloud,
            CheckProfile::QscloudOauth => Self::QscloudOauth,
        }
    }
}
