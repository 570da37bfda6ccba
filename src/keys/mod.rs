//! Where the signing key comes from: a file, standard input, the text of a flag, the
//! QSJWTPRIVKEY environment variable, or a new key pair made on the spot.

mod files;
mod generate;
mod pem;
mod public;

use std::borrow::Cow;
use std::path::Path;
use std::time::SystemTime;

use anyhow::Result;
use jsonwebtoken::EncodingKey;
use tracing::{debug, info};

use crate::cli::KeyArgs;
use crate::error::UserError;
use crate::input::{self, FileFlag};
use files::{KeyFileContents, KeyFiles};
pub use pem::normalise as normalise_pem;
use pem::{Origin, RsaPrivateKey};
use public::PublicKeyOrigin;
pub use public::VerifyingKey;

const PRIVATE_KEY_FILE: FileFlag = FileFlag {
    flag: "--cert-privatekey-file",
    holds: "private key",
    format: "PEM",
    der_hint: Some(|shown| {
        format!(
            "if it is a DER key, convert it: openssl pkey -inform DER -in '{shown}' -out privatekey.pem"
        )
    }),
};

const PUBLIC_KEY_FILE: FileFlag = FileFlag {
    flag: "--cert-publickey-file",
    holds: "public key or certificate",
    format: "PEM",
    der_hint: Some(|shown| {
        format!(
            "if it is a DER certificate, convert it: openssl x509 -inform DER -in '{shown}' -out publickey.cer"
        )
    }),
};

/// The one place the signing key was asked to come from.
#[derive(Debug, PartialEq)]
pub enum KeySource<'a> {
    File(&'a Path),
    Stdin,
    Text(&'a str),
    Env(&'a str),
    Create {
        prefix: &'a str,
        days: u32,
        force: bool,
    },
}

/// An RSA private key, checked and ready for the signer. Its bytes never reach a log line:
/// `EncodingKey`'s Debug prints "[redacted]" and is wiped on drop.
pub struct SigningKey {
    pub encoding_key: EncodingKey,
    pub bits: usize,
}

impl From<RsaPrivateKey> for SigningKey {
    fn from(key: RsaPrivateKey) -> Self {
        Self {
            encoding_key: EncodingKey::from_rsa_der(&key.pkcs1_der),
            bits: key.bits,
        }
    }
}

/// Picks the key source from the options: exactly one of the file, the text and a new key;
/// QSJWTPRIVKEY only when none of them is given.
pub fn key_source(args: &KeyArgs) -> Result<KeySource<'_>, UserError> {
    let text_on_command_line = args
        .cert_privatekey
        .as_deref()
        .filter(|_| !args.cert_privatekey_from_env);
    let mut given = Vec::new();
    if let Some(path) = &args.cert_privatekey_file {
        given.push((
            "--cert-privatekey-file",
            if path.as_os_str() == "-" {
                KeySource::Stdin
            } else {
                KeySource::File(path)
            },
        ));
    }
    if let Some(text) = text_on_command_line {
        given.push(("--cert-privatekey", KeySource::Text(text)));
    }
    if args.cert_create {
        let days = args.cert_create_expires_days.ok_or_else(|| {
            UserError::usage(
                "--cert-create true needs --cert-create-expires-days <days>, the validity of the \
                 new certificate, for example --cert-create-expires-days 365",
            )
        })?;
        given.push((
            "--cert-create true",
            KeySource::Create {
                prefix: &args.cert_file_prefix,
                days,
                force: args.force,
            },
        ));
    }

    match given.len() {
        0 => match args.cert_privatekey.as_deref() {
            Some(text) if args.cert_privatekey_from_env => Ok(KeySource::Env(text)),
            _ => Err(UserError::usage(
                "no signing key: give --cert-privatekey-file <file>, --cert-privatekey <pem>, or \
                 --cert-create true, or set the environment variable QSJWTPRIVKEY",
            )),
        },
        1 => Ok(given.remove(0).1),
        _ => {
            let names: Vec<&str> = given.iter().map(|(name, _)| *name).collect();
            Err(UserError::usage(format!(
                "{} each give a signing key; use exactly one",
                join_and(&names)
            )))
        }
    }
}

/// Loads the key, or makes a new key pair and writes its files (logging what was written).
pub fn signing_key(source: &KeySource, now: SystemTime) -> Result<SigningKey> {
    let (text, origin): (Cow<str>, _) = match source {
        KeySource::File(path) => (
            input::read_file(path, &PRIVATE_KEY_FILE)?.into(),
            Origin::File(path.to_path_buf()),
        ),
        KeySource::Stdin => (
            input::read_stdin(
                "--cert-privatekey-file",
                "the key",
                "qs-jwt ... --cert-privatekey-file - < privatekey.pem",
            )?
            .into(),
            Origin::Stdin,
        ),
        KeySource::Text(text) => ((*text).into(), Origin::Flag),
        KeySource::Env(text) => ((*text).into(), Origin::Env),
        KeySource::Create {
            prefix,
            days,
            force,
        } => return create(prefix, *days, *force, now),
    };
    let key = pem::rsa_private_key(&text, &origin)?;
    debug!("loaded a {}-bit RSA private key from {origin}", key.bits);
    Ok(key.into())
}

fn create(prefix: &str, days: u32, force: bool, now: SystemTime) -> Result<SigningKey> {
    let validity = generate::validity(now, days)?;
    let files = KeyFiles::new(prefix);
    files.check(force)?;

    debug!("generating a {}-bit RSA key", generate::NEW_KEY_BITS);
    let pair = generate::new_key_pair(validity)?;
    files.write(
        &KeyFileContents {
            private_key: &pair.private_key_pem,
            public_key: &pair.public_key_pem,
            certificate: &pair.certificate_pem,
        },
        force,
    )?;
    info!(
        "wrote {} (the private key: keep it secret), {} (the public key)",
        files.private_key.display(),
        files.public_key.display()
    );
    info!(
        "wrote {} (the certificate for Qlik: CN=qs-jwt, valid from {} to {})",
        files.certificate.display(),
        humantime::format_rfc3339_seconds(validity.not_before),
        humantime::format_rfc3339_seconds(validity.not_after)
    );

    // The same checks as a loaded key, so the new key reaches the signer by the same road.
    let origin = Origin::File(files.private_key.clone());
    let key = pem::private_key_block("PRIVATE KEY", &pair.private_key_der, false, &origin)?;
    Ok(key.into())
}

/// Loads decode's public key or certificate from the file or the text, whichever was given.
pub fn verifying_key(file: Option<&Path>, text: Option<&str>) -> Result<Option<VerifyingKey>> {
    let (text, origin): (Cow<str>, _) = match (file, text) {
        (Some(path), _) => (
            input::read_file(path, &PUBLIC_KEY_FILE)?.into(),
            PublicKeyOrigin::File(path.to_path_buf()),
        ),
        (None, Some(text)) => (text.into(), PublicKeyOrigin::Flag),
        (None, None) => return Ok(None),
    };
    let key = public::verifying_key(&text, &origin)?;
    debug!("loaded {} from {origin}", key.kind);
    Ok(Some(key))
}

fn join_and(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Command, try_parse_from};

    fn key_args(extra: &[&str]) -> KeyArgs {
        let base = [
            "qs-jwt",
            "create-qseow",
            "--userdir",
            "d",
            "--userid",
            "u",
            "--audience",
            "a",
        ];
        let args = base.iter().chain(&["--expires", "1h"]).chain(extra);
        match try_parse_from(args).unwrap().command {
            Command::CreateQseow(args) => args.key,
            other => panic!("parsed as {other:?}"),
        }
    }

    fn from_env(mut args: KeyArgs, text: &str) -> KeyArgs {
        if args.cert_privatekey.is_none() {
            args.cert_privatekey = Some(text.to_owned());
            args.cert_privatekey_from_env = true;
        }
        args
    }

    #[test]
    fn one_source_each() {
        assert_eq!(
            key_source(&key_args(&["--cert-privatekey-file", "k.pem"])),
            Ok(KeySource::File(Path::new("k.pem")))
        );
        assert_eq!(
            key_source(&key_args(&["--cert-privatekey-file", "-"])),
            Ok(KeySource::Stdin)
        );
        assert_eq!(
            key_source(&key_args(&["--cert-privatekey", "pem"])),
            Ok(KeySource::Text("pem"))
        );
        assert_eq!(
            key_source(&key_args(&[
                "--cert-create",
                "--cert-create-expires-days",
                "30",
                "--force"
            ])),
            Ok(KeySource::Create {
                prefix: "",
                days: 30,
                force: true
            })
        );
        assert_eq!(
            key_source(&from_env(key_args(&[]), "env")),
            Ok(KeySource::Env("env"))
        );
    }

    #[test]
    fn the_environment_is_only_a_fallback() {
        let args = from_env(key_args(&["--cert-privatekey-file", "k.pem"]), "env");
        assert_eq!(key_source(&args), Ok(KeySource::File(Path::new("k.pem"))));
        let args = from_env(
            key_args(&["--cert-create", "false", "--cert-privatekey", "flag"]),
            "env",
        );
        assert_eq!(key_source(&args), Ok(KeySource::Text("flag")));
    }

    #[test]
    fn two_or_three_sources_are_named() {
        let err = key_source(&key_args(&[
            "--cert-privatekey-file",
            "k",
            "--cert-privatekey",
            "p",
        ]))
        .unwrap_err();
        assert!(err.is_usage());
        assert_eq!(
            err.to_string(),
            "--cert-privatekey-file and --cert-privatekey each give a signing key; use exactly one"
        );
        let err = key_source(&key_args(&[
            "--cert-privatekey-file",
            "k",
            "--cert-privatekey",
            "p",
            "--cert-create",
            "true",
            "--cert-create-expires-days",
            "1",
        ]))
        .unwrap_err();
        assert!(err.to_string().starts_with(
            "--cert-privatekey-file, --cert-privatekey and --cert-create true each give"
        ));
    }

    #[test]
    fn no_source_lists_all_four() {
        let err = key_source(&key_args(&["--cert-create", "false"])).unwrap_err();
        assert!(err.is_usage());
        for way in [
            "--cert-privatekey-file",
            "--cert-privatekey <pem>",
            "--cert-create true",
            "QSJWTPRIVKEY",
        ] {
            assert!(err.to_string().contains(way), "{err}");
        }
    }

    #[test]
    fn create_needs_days() {
        let err = key_source(&key_args(&["--cert-create"])).unwrap_err();
        assert!(
            err.is_usage() && err.to_string().contains("--cert-create-expires-days"),
            "{err}"
        );
    }
}
