//! The two create commands' options: who the token is for (one user or --users) and what is
//! printed. The signing key's options are `key`'s.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::{Args, ValueEnum, ValueHint};

use super::key::KeyArgs;
use super::output::LogArgs;
use super::{NoKeyText, parse_true_false};
use crate::claims::{ExtraClaim, QscloudUser, QseowUser, User, parse_claim};
use crate::expires::parse_expires;

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

    /// The signing algorithm; a QSEoW virtual proxy verifies all three
    #[arg(long, value_name = "alg", value_enum, default_value_t = QseowAlg::Rs256)]
    pub alg: QseowAlg,

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

    /// Groups of the user, one or more values (--groups sales "group 2"); the flag may repeat.
    /// A comma is part of a group's name. Claim group (create-qseow) or groups (create-qscloud)
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

#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// What to print: the token alone, or one JSON object with the token, its header, its
    /// payload and its expiry (expiresAt, ISO 8601); with json, a failure is {"error": {"detail",
    /// "hint"}}
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

/// create-qseow's `--alg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QseowAlg {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "RS384")]
    Rs384,
    #[value(name = "RS512")]
    Rs512,
}

impl From<QseowAlg> for jsonwebtoken::Algorithm {
    fn from(alg: QseowAlg) -> Self {
        match alg {
            QseowAlg::Rs256 => Self::RS256,
            QseowAlg::Rs384 => Self::RS384,
            QseowAlg::Rs512 => Self::RS512,
        }
    }
}
