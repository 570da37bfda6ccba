//! The command line, as clap types. Flag names, value names and defaults follow qs-jwt 1.x so
//! that existing scripts keep working; options both create commands share are declared once.

use std::ffi::{OsStr, OsString};

use clap::builder::TypedValueParser;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use clap_complete::Shell;

use crate::secret::{self, SecretText};

mod clap_error;
pub mod connection;
pub mod create;
pub mod decode;
pub mod doctor;
pub mod key;
pub mod login;
pub mod oauth;
pub mod output;
pub mod serve;
pub mod setup;

use oauth::{OAUTH_QSCLOUD_EXAMPLE, SETUP_QSCLOUD_OAUTH_EXAMPLE};
use serve::{SERVE_QSCLOUD_EXAMPLE, SERVE_QSCLOUD_OAUTH_EXAMPLE, SERVE_QSEOW_EXAMPLE};

pub use clap_error::{render_clap, render_clap_for};

/// Create signed JWTs for Qlik Sense.
///
/// The token is printed alone on standard output; log lines go to standard error. Exit code 0
/// means success, 1 a failure at run time (a key that cannot be read, a file that exists, a
/// token that fails decode's checks), 2 a usage error.
///
/// Files and standard input are read up to 1 MiB, as UTF-8 with or without a byte order mark,
/// or as UTF-16 with one (what Windows PowerShell 5.1's > and Out-File write); a key, token, API
/// key or client secret file in UTF-16 without a byte order mark is read too.
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

/// The one list of commands: each line is a subcommand (its doc comment is its `--help`) and
/// its clap args type, which implements `commands::Run` in its module under `commands/`. A new
/// command is a line here. The list is handed to a macro: `cli` makes the clap enum of it, and
/// `commands` the dispatch (so that `cli` imports nothing from `commands`).
macro_rules! for_each_command {
    ($then:ident) => {
        $then! {
            /// Make a key pair and its self-signed certificate, the files you give Qlik, and sign
            /// nothing
            #[command(after_help = CREATE_KEY_EXAMPLE)]
            CreateKey(crate::cli::key::CreateKeyArgs),
            /// Create a JWT for a Qlik Sense Enterprise on Windows virtual proxy
            #[command(after_help = QSEOW_EXAMPLE, override_usage = QSEOW_USAGE)]
            CreateQseow(crate::cli::create::CreateQseowArgs),
            /// Create a JWT for a Qlik Cloud JWT identity provider
            #[command(after_help = QSCLOUD_EXAMPLE, override_usage = QSCLOUD_USAGE)]
            CreateQscloud(crate::cli::create::CreateQscloudArgs),
            /// Show what a JWT holds, verify its signature, and check it against Qlik's rules
            #[command(after_help = DECODE_EXAMPLE)]
            Decode(crate::cli::decode::DecodeArgs),
            /// Print what to give Qlik Cloud for a JWT identity provider, or configure it on the tenant
            /// with --apply and --remove
            #[command(after_help = SETUP_QSCLOUD_EXAMPLE, override_usage = SETUP_QSCLOUD_USAGE)]
            SetupQscloud(crate::cli::setup::SetupQscloudArgs),
            /// Print what to give a QSEoW virtual proxy for JWT (the repository API body, or the QMC's
            /// fields), or configure it through the repository API (--apply)
            #[command(after_help = SETUP_QSEOW_EXAMPLE)]
            SetupQseow(crate::cli::setup::SetupQseowArgs),
            /// Print an OAuth client's public key as Qlik Cloud takes it: a JWK, or the console's fields
            #[command(after_help = SETUP_QSCLOUD_OAUTH_EXAMPLE)]
            SetupQscloudOauth(crate::cli::oauth::SetupQscloudOauthArgs),
            /// Get a Qlik Cloud OAuth access token: a machine token, or a user's by impersonation
            #[command(after_help = OAUTH_QSCLOUD_EXAMPLE)]
            OauthQscloud(crate::cli::oauth::OauthQscloudArgs),
            /// Check Qlik Cloud's identity provider against the key, key ID and issuer you sign with,
            /// and say what to fix
            #[command(after_help = DOCTOR_QSCLOUD_EXAMPLE)]
            DoctorQscloud(crate::cli::doctor::DoctorQscloudArgs),
            /// Check a QSEoW virtual proxy against the key, audience and prefix you sign with, and say
            /// what to fix
            #[command(after_help = DOCTOR_QSEOW_EXAMPLE)]
            DoctorQseow(crate::cli::doctor::DoctorQseowArgs),
            /// Send a JWT to Qlik Cloud's POST /login/jwt-session and show the session's user
            #[command(after_help = LOGIN_QSCLOUD_EXAMPLE)]
            LoginQscloud(crate::cli::login::LoginQscloudArgs),
            /// Send a JWT through a QSEoW virtual proxy and show the session's user
            #[command(after_help = LOGIN_QSEOW_EXAMPLE)]
            LoginQseow(crate::cli::login::LoginQseowArgs),
            /// Serve QSEoW virtual proxy JWTs to a web page on this machine, for the allowed users
            #[command(after_help = SERVE_QSEOW_EXAMPLE)]
            ServeQseow(crate::cli::serve::ServeQseowArgs),
            /// Serve Qlik Cloud JWTs (for POST /login/jwt-session) to a web page on this machine
            #[command(after_help = SERVE_QSCLOUD_EXAMPLE)]
            ServeQscloud(crate::cli::serve::ServeQscloudArgs),
            /// Serve Qlik Cloud OAuth impersonation access tokens to a web page (qlik-embed) on
            /// this machine
            #[command(after_help = SERVE_QSCLOUD_OAUTH_EXAMPLE)]
            ServeQscloudOauth(crate::cli::serve::ServeQscloudOauthArgs),
            /// Print a shell completion script
            #[command(after_help = COMPLETIONS_EXAMPLE)]
            Completions(crate::cli::CompletionsArgs),
        }
    };
}
pub(crate) use for_each_command;

macro_rules! command_enum {
    ($($(#[$attribute:meta])* $variant:ident($args:ty),)*) => {
        #[derive(Debug, Subcommand)]
        pub enum Command {
            $($(#[$attribute])* $variant($args),)*
        }
    };
}

for_each_command!(command_enum);

/// The name clap derives for a variant: `CreateQseow` is `create-qseow`.
pub(crate) fn subcommand_name(variant: &str) -> String {
    let mut name = String::new();
    for c in variant.chars() {
        if c.is_ascii_uppercase() && !name.is_empty() {
            name.push('-');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

const CREATE_KEY_EXAMPLE: &str = "\
Examples:
  mkdir -p keys
  qs-jwt create-key --cert-create-expires-days 730 --cert-file-prefix keys/qsjwt_
  qs-jwt create-key --key-size 2048 --cert-create-expires-days 365 --output json
  qs-jwt create-key --key-type ec-p384 --cert-create-expires-days 365 --cert-file-prefix oauth_

Writes <prefix>privatekey.pem (PKCS#8, owner-only), <prefix>publickey.pem and <prefix>publickey.cer
(the certificate for Qlik: CN=qs-jwt, SHA-256 with RSA, or ECDSA with SHA-384 for ec-p384), all
three or none; existing files only with --force. Prints the three paths, a line each. Exit code 0:
the files are written. 1: they exist, or cannot be written. 2: a usage error.";

const SETUP_QSCLOUD_EXAMPLE: &str = "\
Examples:
  qs-jwt setup-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id \\
    --cert-publickey-file publickey.cer > idp.json
  curl -X POST \"https://mytenant.eu.qlikcloud.com/api/v1/identity-providers\" \\
    -H \"Authorization: Bearer $QLIK_API_KEY\" -H \"Content-Type: application/json\" --data @idp.json
  qs-jwt setup-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id \\
    --cert-publickey-file publickey.cer --output console
  QLIK_API_KEY=... qs-jwt setup-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id \\
    --cert-publickey-file publickey.cer --apply --tenant mytenant.eu.qlikcloud.com
  qs-jwt setup-qscloud --issuer mytenant.eu.qlikcloud.com --keyid old-key-id --remove \\
    --tenant mytenant.eu.qlikcloud.com --api-key-file apikey.txt";

const SETUP_QSEOW_EXAMPLE: &str = "\
Examples:
  qs-jwt setup-qseow --audience hdJh34wkK --prefix jwt --cert-publickey-file publickey.cer > vp.json
  qs-jwt setup-qseow --audience hdJh34wkK --prefix jwt --cert-publickey-file publickey.cer \\
    --output console
  qs-jwt setup-qseow --audience hdJh34wkK --prefix jwt --cert-publickey-file publickey.cer \\
    --apply --qrs https://qlikserver.example.com:4242 --qrs-cert client.pem \\
    --qrs-key client_key.pem --cacert root.pem --allow-host qlik.example.com";

// clap leaves out of its usage line the options required only without --users: both forms.
const QSEOW_USAGE: &str = "\
qs-jwt create-qseow [OPTIONS] --userdir <directory> --userid <userid> --audience <audience> --expires <time>
       qs-jwt create-qseow [OPTIONS] --users <file> --audience <audience> --expires <time>";

const QSCLOUD_USAGE: &str = "\
qs-jwt create-qscloud [OPTIONS] --issuer <issuer> --keyid <id> --expires <time>
       qs-jwt create-qscloud [OPTIONS] --users <file> --issuer <issuer> --keyid <id> --expires <time>";

// The key options are required by the command unless --remove (see cli/setup.rs): the three forms.
const SETUP_QSCLOUD_USAGE: &str = "\
qs-jwt setup-qscloud [OPTIONS] --issuer <issuer> --keyid <id> <--cert-publickey-file <file>|--cert-publickey <pem>>
       qs-jwt setup-qscloud [OPTIONS] --issuer <issuer> --keyid <id> <--cert-publickey-file <file>|--cert-publickey <pem>> --apply --tenant <host or URL>
       qs-jwt setup-qscloud [OPTIONS] --issuer <issuer> --keyid <id> --remove --tenant <host or URL>";

const QSEOW_EXAMPLE: &str = "\
Examples:
  qs-jwt create-qseow --userdir GRUSGRUS --userid anna --audience hdJh34wkK \\
    --groups group1 \"group 2\" --expires 60m --cert-privatekey-file privatekey.pem
  qs-jwt create-qseow --userdir GRUSGRUS --audience hdJh34wkK --expires 60m \\
    --cert-privatekey-file privatekey.pem --users staff.csv > tokens.txt

A users file is CSV with a header row (columns userid, userdir, name, email, groups separated by
;, claim.<name>; separated by commas, or by semicolons or tabs when the header row has no comma)
or JSON Lines; a token a line comes out, in the file's order.";

const QSCLOUD_EXAMPLE: &str = "\
Examples:
  qs-jwt create-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id --sub anna \\
    --username \"Anna Anderson\" --useremail anna@grusgrus.com --useremail-verified true \\
    --expires 60m --cert-privatekey-file privatekey.pem
  qs-jwt create-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id --expires 60m \\
    --cert-privatekey-file privatekey.pem --users users.csv > tokens.txt

A users file is CSV with a header row (columns sub, name, email, email_verified, groups separated
by ;, claim.<name>; separated by commas, or by semicolons or tabs when the header row has no
comma) or JSON Lines; a token a line comes out, in the file's order.";

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
comes from https_proxy or HTTPS_PROXY, except for the hosts NO_PROXY names (10.0.0.0/8 names a
range of addresses).";

const LOGIN_QSEOW_EXAMPLE: &str = "\
Examples:
  qs-jwt login-qseow --server https://qlik.example.com/jwt --jwt \"$TOKEN\"
  qs-jwt login-qseow --server https://qlik.example.com/jwt --jwt-file token.txt \\
    --cacert qlik-root.pem --cookie-jar cookies.txt

--server is the https URL of the virtual proxy: the server and the proxy's prefix. Exit code 0:
the proxy accepted the token and made a session. 1: it refused the token (a 401, a 403 or a
redirect to a login page) or the server could not be reached. 2: a usage error. A proxy comes
from https_proxy or HTTPS_PROXY, except for the hosts NO_PROXY names (10.0.0.0/8 names a range
of addresses).";

const DOCTOR_QSCLOUD_EXAMPLE: &str = "\
Examples:
  QLIK_API_KEY=... qs-jwt doctor-qscloud --tenant mytenant.eu.qlikcloud.com \\
    --issuer mytenant.eu.qlikcloud.com --keyid my-key-id --cert-privatekey-file privatekey.pem
  qs-jwt doctor-qscloud --tenant mytenant.eu.qlikcloud.com --api-key-file apikey.txt \\
    --issuer mytenant.eu.qlikcloud.com --keyid my-key-id --cert-privatekey-file privatekey.pem \\
    --login --output json | jq '.checks[] | select(.status == \"fail\")'

Checks: the tenant is reachable and takes the API key (a tenant admin's); an identity provider
has this issuer and key ID (if not, those that have one of them, with the value the tenant
holds); it is active and of type JWT; its key is the public half of your private key; your key
is RSA, 2048 bits or more; its certificate is valid for 30 days more; its options read the claims
create-qscloud writes; with --login, a fresh token for the probe user qs-jwt-doctor logs in, the
engine takes the session (csrf-token, WebSocket, OnConnected) and the session is ended again.
Each line is PASS, WARN, FAIL or
SKIP, with the qs-jwt command that fixes a failure. Exit code 0: no check failed (warnings
allowed). 1: a check failed. 2: a usage error.";

const DOCTOR_QSEOW_EXAMPLE: &str = "\
Examples:
  qs-jwt doctor-qseow --qrs https://qlikserver.example.com:4242 --qrs-cert client.pem \\
    --qrs-key client_key.pem --cacert root.pem --prefix jwt --audience qlik.example.com \\
    --cert-privatekey-file privatekey.pem
  qs-jwt doctor-qseow --qrs https://qlikserver.example.com:4242 --qrs-cert client.pem \\
    --qrs-key client_key.pem --cacert root.pem --prefix jwt --audience qlik.example.com \\
    --cert-privatekey-file privatekey.pem --login --server https://qlikserver.example.com \\
    --userdir ACME --userid anna --output json | jq '.checks[] | select(.status == \"fail\")'

Checks: your key is RSA, 2048 bits or more; the repository is reachable and takes the client
certificate (--qrs-cert, --qrs-key) and --qrs-user; a virtual proxy has --prefix (if not, the
prefixes the repository holds, and the JWT virtual proxies with your audience); it uses JWT; its
certificate is of your private key and valid for 30 days more; its audience is --audience and its
attribute names are those create-qseow writes (userId, userDirectory), the server's values shown;
it is linked to a proxy service and has load-balancing nodes; with --login, its host allow list
holds the host of --server (else 403 at the engine's WebSocket), a fresh token logs in
through it, the engine takes the session, and the session is ended again. Each line is PASS, WARN, FAIL or SKIP, with the qs-jwt command that fixes a failure.
Exit code 0: no check failed (warnings allowed). 1: a check failed. 2: a usage error.";

const COMPLETIONS_EXAMPLE: &str = "\
Examples:
  qs-jwt completions bash > ~/.local/share/bash-completion/completions/qs-jwt
  qs-jwt completions powershell | Out-String | Invoke-Expression";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
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

/// Parses the command line; a clap error carries its own exit code (2, or 0 for --help).
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = help_of_help(args.into_iter().map(Into::into).collect());
    let matches = Cli::command()
        .try_get_matches_from(&args)
        .map_err(|err| with_the_flag_meant(err, &args))?;
    Cli::from_arg_matches(&matches)
}

/// `qs-jwt help --help` (and `help create-qseow --help`): clap's help command takes command
/// names only and calls `--help` an unknown command; asked for help, it is the help of `help`
/// (or of the command named).
fn help_of_help(mut args: Vec<OsString>) -> Vec<OsString> {
    if args.get(1).is_none_or(|arg| arg != "help") {
        return args;
    }
    let before = args.len();
    let mut index = 0;
    args.retain(|arg| {
        index += 1;
        index <= 2 || (arg != "--help" && arg != "-h")
    });
    if args.len() < before && args.len() == 2 {
        args.push("help".into());
    }
    args
}

/// Flags named after the claim they set (or as other JWT tools name them), and the flag of
/// qs-jwt's that sets it. clap suggests by spelling alone: `--email` got
/// `--useremail-verified`, and `--name` or `--kid` nothing.
const FLAGS_BY_CLAIM: &[(&str, &str)] = &[
    ("--email", "--useremail"),
    ("--mail", "--useremail"),
    ("--email-verified", "--useremail-verified"),
    ("--email_verified", "--useremail-verified"),
    ("--name", "--username"),
    ("--user-name", "--username"),
    ("--userId", "--userid"),
    ("--user-id", "--userid"),
    ("--userDirectory", "--userdir"),
    ("--user-directory", "--userdir"),
    ("--userdirectory", "--userdir"),
    ("--group", "--groups"),
    ("--kid", "--keyid"),
    ("--key-id", "--keyid"),
    ("--subject", "--sub"),
    ("--iss", "--issuer"),
    ("--aud", "--audience"),
    ("--exp", "--expires"),
];

/// An unknown flag from [`FLAGS_BY_CLAIM`] gets clap's "a similar argument exists" tip with
/// the flag that is meant, when the command has that flag.
fn with_the_flag_meant(mut err: clap::Error, args: &[OsString]) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if err.kind() != ErrorKind::UnknownArgument {
        return err;
    }
    let Some(ContextValue::String(given)) = err.get(ContextKind::InvalidArg) else {
        return err;
    };
    let given = given
        .split_once('=')
        .map_or(given.as_str(), |(flag, _)| flag);
    let Some((_, meant)) = FLAGS_BY_CLAIM.iter().find(|(name, _)| *name == given) else {
        return err;
    };
    let command = Cli::command();
    let has_it = args
        .iter()
        .skip(1)
        .find_map(|arg| command.find_subcommand(arg))
        .is_some_and(|sub| {
            sub.get_arguments()
                .any(|a| a.get_long() == Some(meant.trim_start_matches("--")))
        });
    if has_it {
        err.insert(
            ContextKind::SuggestedArg,
            ContextValue::String((*meant).to_owned()),
        );
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn clap_configuration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_registered_command_is_found_by_its_name() {
        let cli = Cli::command();
        let names: Vec<&str> = cli.get_subcommands().map(clap::Command::get_name).collect();
        for name in [
            "create-qseow",
            "decode",
            "setup-qscloud-oauth",
            "doctor-qseow",
        ] {
            assert!(names.contains(&name), "{names:?}");
        }
        assert_eq!(subcommand_name("SetupQscloudOauth"), "setup-qscloud-oauth");
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
    fn true_false_in_any_case() {
        assert_eq!(parse_true_false("TRUE"), Ok(true));
        assert_eq!(parse_true_false("False"), Ok(false));
        assert!(parse_true_false("yes").is_err());
        assert!(parse_true_false("").is_err());
    }
}
