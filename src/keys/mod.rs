//! Where the signing key comes from: a file, standard input, the text of a flag, the
//! QSJWTPRIVKEY environment variable, or a new key pair made on the spot.

mod encrypted;
mod files;
mod generate;
mod jwk;
mod pem;
mod private;
mod public;
mod ssh;
#[cfg(windows)]
mod windows_acl;

use std::borrow::Cow;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Result;
use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, RsaKeyPair};
use tracing::info;

use crate::error::UserError;
use crate::input::{self, FileFlag};
use crate::render;
use crate::secret::{self, Passphrase, SecretText};
use crate::verbose;
pub use encrypted::{DecryptError, decrypt as decrypt_pkcs8};
use files::{KeyFileContents, KeyFiles, Maker};
pub use files::{PendingKeyFiles, folder_of, plain_io, stage};
pub use generate::NewKeyType;
pub use jwk::{EcP384Public, RsaPublic};
pub use pem::normalise as normalise_pem;
pub use private::{Accept, NEW_EC_KEY_HINT, NEW_KEY_HINT, OAUTH_KEYS};
use private::{Origin, PrivateKey};
pub use public::{PublicKeyKind, PublicKeyOrigin, Validity, VerifyingKey, certificate_validity};
use zeroize::Zeroizing;

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
    /// `--cert-privatekey-passphrase-file`; `-` is standard input.
    pub passphrase_file: Option<&'a Path>,
    pub create: bool,
    pub prefix: &'a str,
    pub days: Option<u32>,
    pub force: bool,
    /// Whether the command has --cert-create (the doctors check a key, they make none): the
    /// error for no key names only options the command has.
    pub offers_create: bool,
    /// The kind of key `--cert-create` makes.
    pub key_type: NewKeyType,
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
        key_type: NewKeyType,
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
                key_type,
            } => f
                .debug_struct("Create")
                .field("prefix", prefix)
                .field("days", days)
                .field("force", force)
                .field("key_type", key_type)
                .finish(),
        }
    }
}

/// A private key, parsed once into the crypto library's own form, ready for the signer
/// (`token::sign`), which may use it from many threads at once. Its bytes never reach a log
/// line: the key pairs' Debug shows only the public key, and aws-lc wipes the private numbers
/// when it is dropped.
pub struct SigningKey {
    pub key_pair: SigningKeyPair,
    /// The RSA modulus's size, or 384 for an EC P-384 key.
    pub bits: usize,
    /// Where the key came from, as the user named it (`--cert-privatekey-file 'key.pem'`), for
    /// the signer's messages.
    pub origin: String,
}

/// The two kinds of key qs-jwt signs with.
pub enum SigningKeyPair {
    /// Every token: RS256, RS384, RS512.
    Rsa(RsaKeyPair),
    /// A Qlik Cloud OAuth client's assertion only: ES384.
    EcP384(EcdsaKeyPair),
}

impl SigningKey {
    /// Parsed here, once: jsonwebtoken's `encode` parses the key again for every token, which
    /// costs a third of an RSA signature (120 µs of 330 µs for 2048 bits, 450 µs of 1.4 ms for
    /// 4096 here) and would cap `--users` well below what the cores can sign.
    fn new(key: PrivateKey, origin: Origin) -> Result<Self> {
        let key = match key {
            PrivateKey::Rsa(key) => key,
            PrivateKey::EcP384(key) => {
                let key_pair =
                    EcdsaKeyPair::from_private_key_der(&ECDSA_P384_SHA384_FIXED_SIGNING, &key.der)
                        .map_err(|_| {
                            UserError::runtime(format!(
                                "the crypto library (aws-lc) refuses the EC P-384 key from \
                                 {origin}: the key is damaged; check it with: openssl pkey \
                                 -check -noout -in <key file>"
                            ))
                        })?;
                return Ok(Self {
                    key_pair: SigningKeyPair::EcP384(key_pair),
                    bits: 384,
                    origin: origin.to_string(),
                });
            }
        };
        // The reader already refused what aws-lc is known to refuse (size, exponent); what is
        // left here is a key whose numbers do not fit together.
        let key_pair = RsaKeyPair::from_der(&key.pkcs1_der).map_err(|_| {
            UserError::runtime(format!(
                "the crypto library (aws-lc) refuses the {}-bit RSA key from {origin}: its \
                 numbers are inconsistent, so the key is damaged; check it with: openssl pkey \
                 -check -noout -in <key file>",
                key.bits
            ))
        })?;
        Ok(Self {
            key_pair: SigningKeyPair::Rsa(key_pair),
            bits: key.bits,
            origin: origin.to_string(),
        })
    }

    /// Whether it is an RSA key (the only kind every command takes).
    pub fn is_rsa(&self) -> bool {
        matches!(self.key_pair, SigningKeyPair::Rsa(_))
    }

    /// The public half of an RSA key, for the key ID (its RFC 7638 thumbprint) and the JWK.
    pub fn public(&self) -> Result<RsaPublic> {
        use aws_lc_rs::signature::KeyPair;
        let SigningKeyPair::Rsa(key_pair) = &self.key_pair else {
            anyhow::bail!(
                "internal error: the key from {} is not an RSA key",
                self.origin
            );
        };
        RsaPublic::from_pkcs1_der(key_pair.public_key().as_ref()).map_err(|why| {
            anyhow::anyhow!(
                "internal error: the public half of the key from {} cannot be read: {why}",
                self.origin
            )
        })
    }

    /// The key's RFC 7638 thumbprint, RSA or EC: the key ID qs-jwt gives it by default.
    pub fn thumbprint(&self) -> Result<String> {
        use aws_lc_rs::signature::KeyPair;
        match &self.key_pair {
            SigningKeyPair::Rsa(_) => Ok(self.public()?.thumbprint()),
            SigningKeyPair::EcP384(key_pair) => {
                EcP384Public::from_uncompressed(key_pair.public_key().as_ref())
                    .map(|public| public.thumbprint())
                    .map_err(|why| {
                        anyhow::anyhow!(
                            "internal error: the public half of the key from {} cannot be read: \
                             {why}",
                            self.origin
                        )
                    })
            }
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

/// The environment variable that holds the passphrase when no passphrase file is given.
pub const PASSPHRASE_VARIABLE: &str = "QSJWTPASSPHRASE";

const PASSPHRASE_FILE: FileFlag = FileFlag {
    flag: "--cert-privatekey-passphrase-file",
    holds: "passphrase",
    format: "text",
    der_hint: None,
};

/// The passphrase, if one is given: the file of `--cert-privatekey-passphrase-file` (standard
/// input for `-`), else `env_passphrase`, the value of QSJWTPASSPHRASE. Text with a byte order
/// mark (UTF-8, or UTF-16 as Windows PowerShell 5.1's `Out-File` writes) is read as UTF-8
/// without it; one trailing line break (LF or CRLF) is dropped; the rest is the passphrase,
/// byte for byte, in any encoding. An empty file is an empty passphrase (`openssl ... -passout
/// pass:`); an empty variable or standard input is taken for a mistake. Never a flag that takes
/// the passphrase itself: a command line is visible to every user.
pub fn passphrase(
    options: &KeyOptions,
    env_passphrase: Option<std::ffi::OsString>,
) -> Result<Option<Passphrase>, UserError> {
    const EMPTY_FILE: &str = "for a key encrypted with an empty passphrase, give an empty file to \
                              --cert-privatekey-passphrase-file";
    let (bytes, source, for_openssl) = match options.passphrase_file {
        Some(path) if path.as_os_str() == "-" => {
            if options.file.is_some_and(|file| file.as_os_str() == "-") {
                return Err(UserError::usage(
                    "--cert-privatekey-passphrase-file - and --cert-privatekey-file - both read \
                     standard input, which can carry only one of them; give the passphrase in a \
                     file or in QSJWTPASSPHRASE",
                ));
            }
            let example = "vault read -field=passphrase secret/qs-jwt | qs-jwt ... \
                           --cert-privatekey-passphrase-file -";
            let flag = "--cert-privatekey-passphrase-file";
            let mut bytes =
                Zeroizing::new(input::read_stdin_bytes(flag, "the passphrase", example)?);
            // `false | qs-jwt ...` and `echo "$UNSET" | qs-jwt ...` alike.
            drop_line_break(&mut bytes);
            if bytes.is_empty() {
                return Err(
                    input::empty_stdin(flag, "the passphrase", example).with_hint(EMPTY_FILE)
                );
            }
            let source = "standard input (--cert-privatekey-passphrase-file -)".to_owned();
            (bytes, source, None)
        }
        Some(path) => {
            // A passphrase typed where its file belongs (many tools take --passphrase <value>)
            // must not come back in the error: a path that names nothing is not shown.
            if !path.exists() {
                return Err(UserError::runtime(
                    "--cert-privatekey-passphrase-file names no file that exists (the value is \
                     not shown: it may be the passphrase itself); give the file that holds the \
                     passphrase, or set QSJWTPASSPHRASE",
                ));
            }
            let bytes = input::read_file_bytes(path, &PASSPHRASE_FILE)?;
            warn_if_others_can_read(path, PASSPHRASE_FILE.flag);
            let source = format!("--cert-privatekey-passphrase-file '{}'", path.display());
            let passin = format!("file:{}", render::shell_quoted(&path.display().to_string()));
            (Zeroizing::new(bytes), source, Some(passin))
        }
        None => match env_passphrase {
            // An unset CI secret often expands to an empty variable: as good as no variable.
            Some(value) if value.is_empty() => {
                tracing::warn!(
                    "{PASSPHRASE_VARIABLE} is set but empty; it is not used ({EMPTY_FILE})"
                );
                return Ok(None);
            }
            Some(value) => (
                Zeroizing::new(value.into_encoded_bytes()),
                PASSPHRASE_VARIABLE.to_owned(),
                Some(format!("env:{PASSPHRASE_VARIABLE}")),
            ),
            None => return Ok(None),
        },
    };
    let mut bytes = bytes;
    drop_line_break(&mut bytes);
    if bytes.is_empty() && options.create {
        return Err(UserError::usage(format!(
            "{source} is empty, and an empty passphrase would protect the new key with nothing; \
             put a passphrase there, or leave the passphrase out to write the key unencrypted \
             (readable by you only)"
        )));
    }
    let passphrase = Passphrase::new(bytes, source);
    Ok(Some(match for_openssl {
        Some(passin) => passphrase.for_openssl(passin),
        None => passphrase,
    }))
}

/// Drops one trailing line break, LF or CRLF: what `echo` and editors end a file with.
fn drop_line_break(bytes: &mut Vec<u8>) {
    let line_break = if bytes.ends_with(b"\r\n") {
        2
    } else {
        usize::from(bytes.ends_with(b"\n"))
    };
    bytes.truncate(bytes.len() - line_break);
}

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
        if secret::holds_key_material(options.prefix) {
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
                key_type: options.key_type,
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
            None if options.offers_create => Err(UserError::usage(
                "no signing key: give --cert-privatekey-file <file>, --cert-privatekey <pem>, or \
                 --cert-create true, or set the environment variable QSJWTPRIVKEY",
            )),
            None => Err(UserError::usage(
                "no private key to check: give --cert-privatekey-file <file> or --cert-privatekey \
                 <pem>, or set the environment variable QSJWTPRIVKEY",
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

/// Loads the key, or makes a new key pair and writes its files (logging what was written). An
/// encrypted key is decrypted with `passphrase`; a new key is written encrypted with it.
pub fn signing_key(
    source: &KeySource,
    passphrase: Option<&Passphrase>,
    now: SystemTime,
) -> Result<LoadedKey> {
    signing_key_of(source, passphrase, now, Accept::Rsa)
}

/// The same, taking the keys `accept` names (oauth-qscloud: RSA or EC P-384).
pub fn signing_key_of(
    source: &KeySource,
    passphrase: Option<&Passphrase>,
    now: SystemTime,
    accept: Accept,
) -> Result<LoadedKey> {
    let (text, origin): (Cow<str>, _) = match source {
        KeySource::File(path) => (
            {
                files::check_key_file(path)?;
                input::read_file(path, &PRIVATE_KEY_FILE)?
            }
            .into(),
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
            key_type,
        } => {
            if *key_type == NewKeyType::EcP384 && accept == Accept::Rsa {
                return Err(UserError::usage(
                    "--cert-create-key-type ec-p384 makes a key for Qlik Cloud OAuth clients \
                     (ES384); this command's tokens are RS256 and need an RSA key: leave \
                     --cert-create-key-type out",
                )
                .into());
            }
            return create(prefix, *days, *force, *key_type, passphrase, now);
        }
    };
    // The key's text is wiped once read, whatever happens next; until the run ends, it is
    // redacted from whatever is shown, whole or in pieces, and so is its DER however its PEM
    // was written.
    let text = Zeroizing::new(text.into_owned());
    secret::register(&text);
    let key = private::private_key(&text, &origin, passphrase, accept)?;
    drop(text);
    let (der, was_encrypted, kind) = match &key {
        PrivateKey::Rsa(key) => (
            &key.pkcs1_der,
            key.was_encrypted,
            format!("a {}-bit RSA private key", key.bits),
        ),
        PrivateKey::EcP384(key) => (
            &key.der,
            key.was_encrypted,
            "an EC P-384 private key".to_owned(),
        ),
    };
    secret::register_der(der);
    match (was_encrypted, passphrase) {
        (true, _) => verbose!("decrypted {kind} from {origin}"),
        (false, Some(passphrase)) => tracing::warn!(
            "a passphrase is given ({}), but the key from {origin} is not encrypted; the \
             passphrase is not used",
            passphrase.source
        ),
        (false, None) => verbose!("loaded {kind} from {origin}"),
    }
    if let KeySource::File(path) = source {
        warn_if_others_can_read(path, PRIVATE_KEY_FILE.flag);
    }
    Ok(LoadedKey {
        key: SigningKey::new(key, origin)?,
        pending_files: None,
    })
}

/// A private key file (or its passphrase file, `flag`) that others can read is as good as
/// theirs: warn, as ssh does, and sign all the same (the user may be on a machine of their own).
#[cfg(unix)]
pub(crate) fn warn_if_others_can_read(path: &Path, flag: &str) {
    use std::os::unix::fs::PermissionsExt;
    use tracing::warn;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    // A device (/dev/null for an empty passphrase) or a pipe (`<(...)`) is no file to guard.
    if !meta.is_file() {
        return;
    }
    let mode = meta.permissions().mode() & 0o777;
    let who = match (mode & 0o004 != 0, mode & 0o040 != 0, mode & 0o077 != 0) {
        (true, _, _) => "can be read by every user on this machine",
        (false, true, _) => "can be read by its group",
        (false, false, true) => "is open to its group or to other users",
        (false, false, false) => return,
    };
    let shown = path.display();
    warn!(
        "{flag} '{shown}' {who} (mode {mode:03o}); make it readable by you only: \
         chmod 600 {}",
        render::shell_quoted(&shown.to_string())
    );
}

/// The same on Windows, from the file's access control list: anyone but the user, SYSTEM and
/// Administrators who may read it. A list that cannot be read says nothing, as on Unix.
#[cfg(windows)]
pub(crate) fn warn_if_others_can_read(path: &Path, flag: &str) {
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
        "{flag} '{shown}' can be read by other users ({}); make it readable by \
         you only: icacls \"{shown}\" /inheritance:r /grant:r \"{user}:F\"",
        others.join(", ")
    );
}

#[cfg(not(any(unix, windows)))]
pub(crate) fn warn_if_others_can_read(_path: &Path, _flag: &str) {}

fn create(
    prefix: &str,
    days: u32,
    force: bool,
    key_type: NewKeyType,
    passphrase: Option<&Passphrase>,
    now: SystemTime,
) -> Result<LoadedKey> {
    let made = write_key_files(
        &NewKeyOptions {
            prefix,
            days,
            force,
            key_type,
        },
        Maker::CertCreate,
        passphrase,
        now,
    )?;
    Ok(LoadedKey {
        key: made.key,
        pending_files: Some(made.files.pending),
    })
}

/// What `create-key` is asked for, in plain values.
#[derive(Debug, Clone, Copy)]
pub struct NewKeyOptions<'a> {
    pub prefix: &'a str,
    pub days: u32,
    pub force: bool,
    pub key_type: NewKeyType,
}

/// The files `create-key` wrote, still pending (see [`PendingKeyFiles`]): they stay once their
/// names are on standard output.
pub struct NewKeyFiles {
    pub private_key: PathBuf,
    pub public_key: PathBuf,
    pub certificate: PathBuf,
    pub key_type: NewKeyType,
    pub encrypted: bool,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    pub pending: PendingKeyFiles,
}

/// `create-key`'s new key: its files, and the public key's RFC 7638 thumbprint (the key ID
/// `setup-qscloud-oauth` gives it, and what the doctors show for the local key). A key made
/// by `--cert-create` goes to the signer, and needs no thumbprint.
pub struct NewKey {
    pub files: NewKeyFiles,
    pub thumbprint: String,
}

/// `create-key`: a new key pair and its certificate, written as `--cert-create` writes them
/// (the same lock, temporary files, owner-only private key, `--force` rules and restore after
/// an interrupted run), encrypted with `passphrase` when one is given. No token is signed.
pub fn create_key_files(
    options: &NewKeyOptions,
    passphrase: Option<&Passphrase>,
    now: SystemTime,
) -> Result<NewKey> {
    if secret::holds_key_material(options.prefix) {
        return Err(UserError::usage(
            "--cert-file-prefix holds what looks like key text, not a file name prefix; give a \
             folder or a short prefix, such as keys/qsjwt_",
        )
        .into());
    }
    let made = write_key_files(options, Maker::CreateKey, passphrase, now)?;
    Ok(NewKey {
        thumbprint: made.key.thumbprint()?,
        files: made.files,
    })
}

/// A new key in its files, and the key itself for the signer.
struct MadeKey {
    key: SigningKey,
    files: NewKeyFiles,
}

fn write_key_files(
    options: &NewKeyOptions,
    maker: Maker,
    passphrase: Option<&Passphrase>,
    now: SystemTime,
) -> Result<MadeKey> {
    let NewKeyOptions {
        prefix,
        days,
        force,
        key_type,
    } = *options;
    let validity = generate::validity(now, days)?;
    let files = KeyFiles::for_prefix(prefix, maker);
    // What an interrupted run left comes first: "sign with the key you have" or --force would
    // be the wrong advice while it is there.
    files.check_interrupted()?;
    files.check(force)?;
    // Checked once before waiting for the lock, so a mistake is told at once, and again under
    // the lock, since a run that held it may have written the files meanwhile; files left by a
    // killed run only under the lock (a live run has them for a moment).
    let lock = files.lock()?;
    files.check_left_over()?;
    files.check(force)?;

    verbose!("generating {}", key_type.described());
    let pair = generate::new_key_pair(key_type, validity)?;
    secret::register_der(&pair.private_key_der);
    // The same checks as a loaded key, so the new key reaches the signer by the same road.
    let origin = Origin::File(files.private_key.clone());
    let accept = match key_type {
        NewKeyType::Rsa4096 | NewKeyType::Rsa2048 => Accept::Rsa,
        NewKeyType::EcP384 => Accept::RsaOrEcP384,
    };
    let key =
        private::any_private_key_block("PRIVATE KEY", &pair.private_key_der, &origin, accept)?;
    // With a passphrase, the file holds the key encrypted (PKCS#8, PBES2); the signer takes the
    // key as it is in memory.
    let private_key_pem = match passphrase {
        Some(passphrase) => {
            verbose!(
                "encrypting the new private key with the passphrase from {} ({} PBKDF2 \
                 iterations)",
                passphrase.source,
                encrypted::WRITE_ITERATIONS
            );
            let der = encrypted::encrypt(
                &pair.private_key_der,
                passphrase.expose(),
                encrypted::WRITE_ITERATIONS,
            )
            .map_err(|why| anyhow::anyhow!("could not encrypt the new private key: {why}"))?;
            // LF line ends, as the other files: the pem crate's default is CRLF.
            let config = ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF);
            secret::register_der(&der);
            let block = ::pem::Pem::new("ENCRYPTED PRIVATE KEY", der);
            Zeroizing::new(::pem::encode_config(&block, config))
        }
        None => pair.private_key_pem.clone(),
    };
    let pending = files.write(
        &KeyFileContents {
            private_key: &private_key_pem,
            public_key: &pair.public_key_pem,
            certificate: &pair.certificate_pem,
        },
        force,
        lock,
    )?;
    let secret = match passphrase {
        Some(passphrase) => format!(
            "the private key, encrypted with the passphrase from {}",
            passphrase.source
        ),
        None => "the private key: keep it secret".to_owned(),
    };
    info!(
        "wrote {} ({secret}), {} (the public key)",
        files.private_key.display(),
        files.public_key.display()
    );
    info!(
        "wrote {} (the certificate for Qlik: CN=qs-jwt, valid from {} to {})",
        files.certificate.display(),
        humantime::format_rfc3339_seconds(validity.not_before),
        humantime::format_rfc3339_seconds(validity.not_after)
    );
    let key = SigningKey::new(key, origin)?;
    Ok(MadeKey {
        key,
        files: NewKeyFiles {
            private_key: files.private_key.clone(),
            public_key: files.public_key.clone(),
            certificate: files.certificate.clone(),
            key_type,
            encrypted: passphrase.is_some(),
            not_before: validity.not_before,
            not_after: validity.not_after,
            pending,
        },
    })
}

/// Reads a public key or certificate that came from somewhere other than the command line (a
/// server), named in messages as `origin` says.
pub fn verifying_key_from(text: &str, origin: &PublicKeyOrigin) -> Result<VerifyingKey, UserError> {
    public::verifying_key(text, origin)
}

/// The RSA public key a certificate or public key PEM holds (one line, as Qlik Cloud keeps
/// it, or many); None when the text holds none qs-jwt can read.
pub fn rsa_public_of(pem: &str) -> Option<RsaPublic> {
    public::verifying_key(pem, &PublicKeyOrigin::Named(String::new()))
        .ok()?
        .rsa
}

/// The one comparison of keys for setup, --remove and the doctors: whether two certificates or
/// public keys hold the same public key (a renewed certificate of a key, or its bare public
/// key, is the same key); None when either cannot be read.
pub fn same_public_key(a: &str, b: &str) -> Option<bool> {
    Some(rsa_public_of(a)? == rsa_public_of(b)?)
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
            offers_create: true,
            file: None,
            text: None,
            passphrase_file: None,
            create: false,
            prefix: "",
            days: None,
            force: false,
            key_type: NewKeyType::Rsa4096,
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
                force: true,
                key_type: NewKeyType::Rsa4096,
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
