//! Where a key comes from, shared by the commands that need one: the signing key of the create
//! commands (exactly one source), the public key or certificate of the setup commands.

use std::path::PathBuf;

use clap::{ArgGroup, Args, ValueEnum, ValueHint};

use super::output::LogArgs;
use super::{parse_true_false, secret_text};
use crate::error::UserError;
use crate::keys::{KeyOptions, NewKeyType};
use crate::secret::SecretText;

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
    /// encrypted (one trailing newline is dropped; an empty file is an empty passphrase); - reads
    /// standard input. Without it, the passphrase comes from QSJWTPASSPHRASE, if set. Never the
    /// passphrase itself
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cert_privatekey_passphrase_file: Option<PathBuf>,

    /// Days the created certificate is valid; required with --cert-create true
    #[arg(long, value_name = "days", value_parser = parse_days, allow_hyphen_values = true)]
    pub cert_create_expires_days: Option<u32>,

    /// Let --cert-create replace existing key files
    #[arg(long)]
    pub force: bool,
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
            offers_create: true,
            key_type: NewKeyType::Rsa4096,
        }
    }
}

/// An existing private key, for the commands that check one rather than make one (the
/// doctors): create's key sources without --cert-create. At most one of the file and the text;
/// with neither, QSJWTPRIVKEY.
#[derive(Debug, Args)]
#[command(next_help_heading = "Signing key (one source)")]
pub struct PrivateKeyArgs {
    /// File with the RSA private key (PEM, PKCS#8 or PKCS#1) the tokens are signed with; -
    /// reads standard input
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cert_privatekey_file: Option<PathBuf>,

    /// The RSA private key as PEM text. With no other key option, it is read from QSJWTPRIVKEY,
    /// which keeps the key off the command line
    // allow_hyphen_values and not clap's `env`: as KeyArgs says.
    #[arg(long, value_name = "privatekey", allow_hyphen_values = true, value_parser = secret_text)]
    pub cert_privatekey: Option<SecretText>,

    /// File with the passphrase of an encrypted private key (one trailing newline is dropped);
    /// - reads standard input. Without it, the passphrase comes from QSJWTPASSPHRASE, if set
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cert_privatekey_passphrase_file: Option<PathBuf>,
}

impl PrivateKeyArgs {
    pub fn options(&self) -> KeyOptions<'_> {
        KeyOptions {
            file: self.cert_privatekey_file.as_deref(),
            text: self.cert_privatekey.as_ref(),
            passphrase_file: self.cert_privatekey_passphrase_file.as_deref(),
            create: false,
            prefix: "",
            days: None,
            force: false,
            offers_create: false,
            key_type: NewKeyType::Rsa4096,
        }
    }
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

/// `create-key`: a new key pair and its certificate, and nothing signed.
#[derive(Debug, Args)]
pub struct CreateKeyArgs {
    /// The kind of key: rsa (the default; tokens, and OAuth's RS256, RS512) or ec-p384 (a Qlik
    /// Cloud OAuth client's ES384 assertions only), the words of oauth-qscloud's
    /// --cert-create-key-type
    #[arg(long, value_name = "type", value_enum, default_value_t = KeyTypeArg::Rsa, ignore_case = true)]
    pub key_type: KeyTypeArg,

    /// An RSA key's size in bits: 4096 (the default, what Qlik's own guide makes) or 2048 (the
    /// least Qlik takes)
    #[arg(long, value_name = "bits", value_enum)]
    pub key_size: Option<KeySizeArg>,

    /// Days the certificate is valid
    #[arg(long, value_name = "days", value_parser = parse_days, allow_hyphen_values = true)]
    pub cert_create_expires_days: u32,

    /// Prefix of the file names; may include a folder, such as keys/qsjwt_. An existing folder
    /// given without a trailing / (keys) means the files go into it
    #[arg(long, value_name = "prefix", default_value = "")]
    pub cert_file_prefix: String,

    /// File with a passphrase to encrypt the private key with (one trailing newline is dropped;
    /// standard input for -). Without it, the passphrase comes from QSJWTPASSPHRASE, if set;
    /// with neither, the key is not encrypted. Never the passphrase itself
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cert_privatekey_passphrase_file: Option<PathBuf>,

    /// Replace existing key files of the prefix (Qlik then rejects tokens until it has the new
    /// certificate)
    #[arg(long)]
    pub force: bool,

    /// What to print on standard output: the paths written, a line each (text), or one JSON
    /// object (json)
    #[arg(long, value_name = "format", value_enum, default_value_t = KeyFormat::Text, ignore_case = true)]
    pub output: KeyFormat,

    #[command(flatten)]
    pub log: LogArgs,
}

impl CreateKeyArgs {
    /// The options as the passphrase reader takes them.
    pub fn options(&self) -> KeyOptions<'_> {
        KeyOptions {
            file: None,
            text: None,
            passphrase_file: self.cert_privatekey_passphrase_file.as_deref(),
            create: true,
            prefix: &self.cert_file_prefix,
            days: Some(self.cert_create_expires_days),
            force: self.force,
            offers_create: false,
            // The passphrase reader reads no key type; create-key's is new_key_type's.
            key_type: NewKeyType::default(),
        }
    }
}

/// `create-key --key-type`: the words of oauth-qscloud's `--cert-create-key-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyTypeArg {
    // No doc comments on the values: clap would print the help in its long form.
    Rsa,
    EcP384,
}

/// `create-key --key-size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeySizeArg {
    #[value(name = "4096")]
    Bits4096,
    #[value(name = "2048")]
    Bits2048,
}

impl CreateKeyArgs {
    /// The key asked for by --key-type and --key-size; a size given for an EC key is a usage
    /// error, since its curve fixes it.
    pub fn new_key_type(&self) -> Result<NewKeyType, UserError> {
        match (self.key_type, self.key_size) {
            (KeyTypeArg::Rsa, None | Some(KeySizeArg::Bits4096)) => Ok(NewKeyType::Rsa4096),
            (KeyTypeArg::Rsa, Some(KeySizeArg::Bits2048)) => Ok(NewKeyType::Rsa2048),
            (KeyTypeArg::EcP384, None) => Ok(NewKeyType::EcP384),
            (KeyTypeArg::EcP384, Some(_)) => Err(UserError::usage(
                "--key-size is an RSA key's; an EC P-384 key's size is its curve's: leave \
                 --key-size out with --key-type ec-p384",
            )),
        }
    }
}

/// `create-key --output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyFormat {
    Text,
    Json,
}

/// A whole number of days, at least one.
fn parse_days(text: &str) -> Result<u32, String> {
    match text.trim().parse::<i64>() {
        Ok(days) if days >= 1 => u32::try_from(days).map_err(|_| "is too large".to_owned()),
        Ok(_) => Err("must be 1 or more".to_owned()),
        Err(_) => Err("expected a whole number of days, for example 365".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_whole_and_positive() {
        assert_eq!(parse_days("365"), Ok(365));
        assert!(parse_days("0").unwrap_err().contains("1 or more"));
        assert!(parse_days("-3").unwrap_err().contains("1 or more"));
        assert!(parse_days("1.5").unwrap_err().contains("whole number"));
        assert!(parse_days("99999999999").unwrap_err().contains("too large"));
    }
}
