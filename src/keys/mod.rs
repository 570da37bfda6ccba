//! Where the signing key comes from: a file, standard input, the text of a flag, the
//! QSJWTPRIVKEY environment variable, or a new key pair made on the spot.

mod files;
mod generate;
mod pem;
mod private;
mod public;
#[cfg(windows)]
mod windows_acl;

use std::borrow::Cow;
use std::ffi::OsStr;
use std::path::Path;
use std::time::SystemTime;

use anyhow::Result;
use jsonwebtoken::EncodingKey;
use tracing::info;

use crate::error::{self, UserError};
use crate::input::{self, FileFlag};
use crate::secret::SecretText;
use crate::verbose;
use files::{KeyFileContents, KeyFiles};
pub use files::{PendingKeyFiles, folder_of, plain_io, stage};
pub use pem::normalise as normalise_pem;
use private::{Origin, RsaPrivateKey};
use public::PublicKeyOrigin;
pub use public::{PublicKeyKind, VerifyingKey};

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

/// The key options as given, in plain values.
#[derive(Debug, Clone, Copy)]
pub struct KeyOptions<'a> {
    pub file: Option<&'a Path>,
    pub text: Option<&'a SecretText>,
    pub create: bool,
    pub prefix: &'a str,
    pub days: Option<u32>,
    pub force: bool,
}

/// The one place the signing key was asked to come from.
#[derive(PartialEq)]
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

/// Names the source, never the key text.
impl std::fmt::Debug for KeySource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::File(path) => f.debug_tuple("File").field(path).finish(),
            KeySource::Stdin => f.write_str("Stdin"),
            KeySource::Text(_) => f.write_str("Text([redacted])"),
            KeySource::Env(_) => f.write_str("Env([redacted])"),
            KeySource::Create {
                prefix,
                days,
                force,
            } => f
                .debug_struct("Create")
                .field("prefix", prefix)
                .field("days", days)
                .field("force", force)
                .finish(),
        }
    }
}

/// An RSA private key, checked and ready for the signer. Its bytes never reach a log line:
/// `EncodingKey`'s Debug prints "[redacted]" and is wiped on drop.
pub struct SigningKey {
    pub encoding_key: EncodingKey,
    pub bits: usize,
    /// Where the key came from, as the user named it (`--cert-privatekey-file 'key.pem'`), for
    /// the signer's messages.
    pub origin: String,
}

impl SigningKey {
    fn new(key: RsaPrivateKey, origin: Origin) -> Self {
        Self {
            encoding_key: EncodingKey::from_rsa_der(&key.pkcs1_der),
            bits: key.bits,
            origin: origin.to_string(),
        }
    }
}

/// The signing key, and for a new key the files written for it, which stay only if the token
/// is delivered (see `PendingKeyFiles`).
pub struct LoadedKey {
    pub key: SigningKey,
    pub pending_files: Option<PendingKeyFiles>,
}

/// The environment variable that holds the key when no key option is given.
pub const KEY_VARIABLE: &str = "QSJWTPRIVKEY";

/// Picks the key source from the options: exactly one of the file, the text and a new key;
/// `env_key` (the value of QSJWTPRIVKEY) only when none of them is given. The variable is read
/// as raw bytes by the caller, so that a stray value that is not UTF-8 matters only when it is
/// the source.
pub fn key_source<'a>(
    options: &KeyOptions<'a>,
    env_key: Option<&'a OsStr>,
) -> Result<KeySource<'a>, UserError> {
    let mut given = Vec::new();
    if let Some(path) = options.file {
        given.push((
            "--cert-privatekey-file",
            if path.as_os_str() == "-" {
                KeySource::Stdin
            } else {
                KeySource::File(path)
            },
        ));
    }
    if let Some(text) = options.text {
        given.push(("--cert-privatekey", KeySource::Text(text.expose())));
    }
    if options.create {
        // A key pasted into the wrong option would name the files written and every log line
        // about them: refused before anything is written, without quoting it.
        if error::redact_keys(options.prefix) != options.prefix {
            return Err(UserError::usage(
                "--cert-file-prefix holds what looks like key text, not a file name prefix; give \
                 a folder or a short prefix, such as keys/qsjwt_",
            ));
        }
        let days = options.days.ok_or_else(|| {
            UserError::usage(
                "--cert-create true needs --cert-create-expires-days <days>, the validity of the \
                 new certificate, for example --cert-create-expires-days 365",
            )
        })?;
        given.push((
            "--cert-create true",
            KeySource::Create {
                prefix: options.prefix,
                days,
                force: options.force,
            },
        ));
    }

    match given.len() {
        0 => match env_key {
            Some(value) => value.to_str().map(KeySource::Env).ok_or_else(|| {
                UserError::runtime(format!(
                    "{KEY_VARIABLE} holds bytes that are not UTF-8 text; it must hold a PEM \
                     private key (or unset it and give --cert-privatekey-file <file>)"
                ))
            }),
            None => Err(UserError::usage(
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
pub fn signing_key(source: &KeySource, now: SystemTime) -> Result<LoadedKey> {
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
    let key = private::rsa_private_key(&text, &origin)?;
    verbose!("loaded a {}-bit RSA private key from {origin}", key.bits);
    if let KeySource::File(path) = source {
        warn_if_others_can_read(path);
    }
    Ok(LoadedKey {
        key: SigningKey::new(key, origin),
        pending_files: None,
    })
}

/// A private key file that others can read is as good as theirs: warn, as ssh does, and sign
/// all the same (the user may be on a machine of their own).
#[cfg(unix)]
fn warn_if_others_can_read(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    use tracing::warn;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    let who = match (mode & 0o004 != 0, mode & 0o040 != 0, mode & 0o077 != 0) {
        (true, _, _) => "can be read by every user on this machine",
        (false, true, _) => "can be read by its group",
        (false, false, true) => "is open to its group or to other users",
        (false, false, false) => return,
    };
    let shown = path.display();
    warn!(
        "--cert-privatekey-file '{shown}' {who} (mode {mode:03o}); make it readable by you only: \
         chmod 600 {}",
        shell_quoted(&shown.to_string())
    );
}

/// `text` as one word for a POSIX shell, ready to paste.
#[cfg(unix)]
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The same on Windows, from the file's access control list: anyone but the user, SYSTEM and
/// Administrators who may read it. A list that cannot be read says nothing, as on Unix.
#[cfg(windows)]
fn warn_if_others_can_read(path: &Path) {
    use tracing::warn;
    let Ok(others) = windows_acl::others_who_can_read(path) else {
        return;
    };
    if others.is_empty() {
        return;
    }
    let shown = path.display();
    let user = windows_acl::current_user_name().unwrap_or_else(|_| "%USERNAME%".to_owned());
    warn!(
        "--cert-privatekey-file '{shown}' can be read by other users ({}); make it readable by \
         you only: icacls \"{shown}\" /inheritance:r /grant:r \"{user}:F\"",
        others.join(", ")
    );
}

#[cfg(not(any(unix, windows)))]
fn warn_if_others_can_read(_path: &Path) {}

fn create(prefix: &str, days: u32, force: bool, now: SystemTime) -> Result<LoadedKey> {
    let validity = generate::validity(now, days)?;
    let files = KeyFiles::for_prefix(prefix);
    files.check(force)?;
    // Checked once before waiting for the lock, so a mistake is told at once, and again under
    // the lock, since a run that held it may have written the files meanwhile; files left by a
    // killed run only under the lock (a live run has them for a moment).
    let lock = files.lock()?;
    files.check_left_over()?;
    files.check(force)?;

    verbose!("generating a {}-bit RSA key", generate::NEW_KEY_BITS);
    let pair = generate::new_key_pair(validity)?;
    // The same checks as a loaded key, so the new key reaches the signer by the same road.
    let origin = Origin::File(files.private_key.clone());
    let key = private::private_key_block("PRIVATE KEY", &pair.private_key_der, false, &origin)?;
    let pending = files.write(
        &KeyFileContents {
            private_key: &pair.private_key_pem,
            public_key: &pair.public_key_pem,
            certificate: &pair.certificate_pem,
        },
        force,
        lock,
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
    Ok(LoadedKey {
        key: SigningKey::new(key, origin),
        pending_files: Some(pending),
    })
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
    verbose!("loaded {} from {origin}", key.kind);
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

    const PEM: &str = "pem";

    fn secret() -> &'static SecretText {
        static TEXT: std::sync::OnceLock<SecretText> = std::sync::OnceLock::new();
        TEXT.get_or_init(|| SecretText::new(PEM))
    }

    /// The options of a command line with the key options `extra`, read as clap would.
    fn key_args<'a>(extra: &[&'a str]) -> KeyOptions<'a> {
        let mut options = KeyOptions {
            file: None,
            text: None,
            create: false,
            prefix: "",
            days: None,
            force: false,
        };
        let mut words = extra.iter().copied().peekable();
        while let Some(word) = words.next() {
            let mut value = || words.next().unwrap();
            match word {
                "--cert-privatekey-file" => options.file = Some(Path::new(value())),
                "--cert-privatekey" => {
                    assert_eq!(value(), PEM);
                    options.text = Some(secret());
                }
                "--cert-create" => {
                    options.create = !matches!(words.peek(), Some(&"false"));
                    if matches!(words.peek(), Some(&("true" | "false"))) {
                        words.next();
                    }
                }
                "--cert-create-expires-days" => options.days = value().parse().ok(),
                "--force" => options.force = true,
                other => panic!("not a key option: {other}"),
            }
        }
        options
    }

    #[test]
    fn one_source_each() {
        assert_eq!(
            key_source(&key_args(&["--cert-privatekey-file", "k.pem"]), None),
            Ok(KeySource::File(Path::new("k.pem")))
        );
        assert_eq!(
            key_source(&key_args(&["--cert-privatekey-file", "-"]), None),
            Ok(KeySource::Stdin)
        );
        assert_eq!(
            key_source(&key_args(&["--cert-privatekey", "pem"]), None),
            Ok(KeySource::Text(PEM))
        );
        assert_eq!(
            key_source(
                &key_args(&[
                    "--cert-create",
                    "--cert-create-expires-days",
                    "30",
                    "--force"
                ]),
                None
            ),
            Ok(KeySource::Create {
                prefix: "",
                days: 30,
                force: true
            })
        );
        assert_eq!(
            key_source(&key_args(&[]), Some(OsStr::new("env"))),
            Ok(KeySource::Env("env"))
        );
    }

    #[test]
    fn the_environment_is_only_a_fallback() {
        let env = Some(OsStr::new("env"));
        let args = key_args(&["--cert-privatekey-file", "k.pem"]);
        assert_eq!(
            key_source(&args, env),
            Ok(KeySource::File(Path::new("k.pem")))
        );
        let args = key_args(&["--cert-create", "false", "--cert-privatekey", "pem"]);
        assert_eq!(key_source(&args, env), Ok(KeySource::Text(PEM)));
    }

    #[test]
    fn two_or_three_sources_are_named() {
        let err = key_source(
            &key_args(&["--cert-privatekey-file", "k", "--cert-privatekey", "pem"]),
            None,
        )
        .unwrap_err();
        assert!(err.is_usage());
        assert_eq!(
            err.to_string(),
            "--cert-privatekey-file and --cert-privatekey each give a signing key; use exactly one"
        );
        let err = key_source(
            &key_args(&[
                "--cert-privatekey-file",
                "k",
                "--cert-privatekey",
                "pem",
                "--cert-create",
                "true",
                "--cert-create-expires-days",
                "1",
            ]),
            None,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with(
            "--cert-privatekey-file, --cert-privatekey and --cert-create true each give"
        ));
    }

    #[test]
    fn no_source_lists_all_four() {
        let err = key_source(&key_args(&["--cert-create", "false"]), None).unwrap_err();
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
    fn debug_never_shows_key_text() {
        let shown = format!(
            "{:?} {:?}",
            KeySource::Text("secret"),
            KeySource::Env("secret")
        );
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn create_needs_days() {
        let err = key_source(&key_args(&["--cert-create"]), None).unwrap_err();
        assert!(
            err.is_usage() && err.to_string().contains("--cert-create-expires-days"),
            "{err}"
        );
    }
}
