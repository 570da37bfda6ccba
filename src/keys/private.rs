//! The private key that signs: PEM text from a file, standard input, a flag or QSJWTPRIVKEY,
//! normalised (see `pem`), then classified so that every wrong input (encrypted, public, a
//! certificate, EC, too short, two keys) gets a message that says what it is and how to get the
//! right thing.

use std::fmt;
use std::path::PathBuf;

use pkcs8::PrivateKeyInfoRef;
use pkcs8::der::asn1::ObjectIdentifier;

use super::encrypted::{self, DecryptError};
use super::pem::{
    DSA, EC_PUBLIC_KEY, ED448, ED25519, MIN_RSA_BITS, RSA_ENCRYPTION, RSA_PSS, bit_length,
    normalise, pem_blocks, rsa_limits,
};
use super::ssh::{self, SshText};
use crate::error::UserError;
use crate::render;
use crate::secret::Passphrase;
use zeroize::Zeroizing;

/// Where key text came from, so that every message names the thing the user passed.
#[derive(Debug, Clone)]
pub enum Origin {
    File(PathBuf),
    Stdin,
    Flag,
    Env,
}

impl Origin {
    /// The file, when the key came from one: commands in hints name it.
    fn path(&self) -> Option<&std::path::Path> {
        match self {
            Origin::File(path) => Some(path),
            _ => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "--cert-privatekey-file '{}'", path.display()),
            Origin::Stdin => f.write_str("standard input (--cert-privatekey-file -)"),
            Origin::Flag => f.write_str("--cert-privatekey"),
            Origin::Env => f.write_str("QSJWTPRIVKEY"),
        }
    }
}

/// An RSA private key as PKCS#1 DER, the form the signer takes, wiped when dropped.
pub struct RsaPrivateKey {
    pub pkcs1_der: Zeroizing<Vec<u8>>,
    pub bits: usize,
    /// Whether it was read from an ENCRYPTED PRIVATE KEY block.
    pub was_encrypted: bool,
}

/// Shows the size only: key bytes must not reach a log line or a panic message.
impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPrivateKey({} bits, [redacted])", self.bits)
    }
}

/// An EC private key on P-384 (ES384, which Qlik Cloud takes for an OAuth client), as the DER
/// it was read in (PKCS#8 or SEC1), wiped when dropped.
pub struct EcP384PrivateKey {
    pub der: Zeroizing<Vec<u8>>,
    pub was_encrypted: bool,
}

/// Shows the kind only.
impl fmt::Debug for EcP384PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EcP384PrivateKey([redacted])")
    }
}

/// A private key qs-jwt signs with: RSA for every token, EC P-384 for an OAuth client's
/// assertion only.
#[derive(Debug)]
pub enum PrivateKey {
    Rsa(RsaPrivateKey),
    EcP384(EcP384PrivateKey),
}

/// Which keys a command takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// RSA only: the tokens of QSEoW and of Qlik Cloud's JWT login are RS256.
    Rsa,
    /// RSA or EC P-384: a Qlik Cloud OAuth client's assertion (RS256, RS512 or ES384).
    RsaOrEcP384,
}

/// Finds the private key in PEM text, decrypts it with `passphrase` if it is encrypted, and
/// checks it is an RSA key Qlik can use.
#[cfg(test)]
pub fn rsa_private_key(
    text: &str,
    origin: &Origin,
    passphrase: Option<&Passphrase>,
) -> Result<RsaPrivateKey, UserError> {
    match private_key(text, origin, passphrase, Accept::Rsa)? {
        PrivateKey::Rsa(key) => Ok(key),
        // Accept::Rsa refuses an EC key before it gets here.
        PrivateKey::EcP384(_) => Err(not_rsa(origin, "an EC (ECDSA) P-384 key")),
    }
}

/// The same, taking the keys `accept` names.
pub fn private_key(
    text: &str,
    origin: &Origin,
    passphrase: Option<&Passphrase>,
    accept: Accept,
) -> Result<PrivateKey, UserError> {
    let text = Zeroizing::new(normalise(text).into_owned());
    if text.is_empty() {
        let err = UserError::runtime(format!("{origin} is empty; it must hold a PEM private key"));
        return Err(match origin {
            Origin::Flag => err.with_hint(
                "if you pass \"$QSJWTPRIVKEY\", that variable is empty or not set; set it, or \
                 leave --cert-privatekey out and qs-jwt reads QSJWTPRIVKEY itself",
            ),
            _ => err,
        });
    }
    let blocks = pem_blocks(&text).ok_or_else(|| not_pem(origin, &text))?;
    // A file may hold a certificate and the key together; the key is what we want. Two keys:
    // which one Qlik trusts is not ours to guess.
    let keys = blocks
        .iter()
        .filter(|b| b.tag().ends_with("PRIVATE KEY"))
        .count();
    if keys > 1 {
        return Err(UserError::runtime(format!(
            "{origin} holds {keys} private keys; give it only the one that signs (the one whose \
             certificate Qlik has)"
        )));
    }
    let index = blocks
        .iter()
        .position(|b| b.tag().ends_with("PRIVATE KEY"))
        .unwrap_or(0);
    // The blocks' bytes are wiped when they go, the key's with them.
    let mut blocks: Vec<(String, bool, Zeroizing<Vec<u8>>)> = blocks
        .into_iter()
        .map(|b| {
            let legacy = is_encrypted_pkcs1(&b);
            (
                b.tag().to_owned(),
                legacy,
                Zeroizing::new(b.into_contents()),
            )
        })
        .collect();
    let (label, legacy_encrypted, der) = blocks.swap_remove(index);
    if label == "ENCRYPTED PRIVATE KEY" {
        let Some(passphrase) = passphrase else {
            return Err(encrypted_key(origin));
        };
        let plain = encrypted::decrypt(&der, passphrase.expose())
            .map_err(|err| decrypt_error(err, origin, passphrase))?;
        let mut key = any_private_key_block("PRIVATE KEY", &plain, origin, accept)?;
        match &mut key {
            PrivateKey::Rsa(key) => key.was_encrypted = true,
            PrivateKey::EcP384(key) => key.was_encrypted = true,
        }
        return Ok(key);
    }
    if legacy_encrypted {
        return Err(legacy_encrypted_key(origin, passphrase));
    }
    any_private_key_block(&label, &der, origin, accept)
}

/// Classifies DER by its PEM label; also used for the PKCS#8 key --cert-create makes.
pub fn any_private_key_block(
    label: &str,
    der: &[u8],
    origin: &Origin,
    accept: Accept,
) -> Result<PrivateKey, UserError> {
    let ec = accept == Accept::RsaOrEcP384;
    match label {
        "PRIVATE KEY" if ec => {
            if let Ok(info) = PrivateKeyInfoRef::try_from(der)
                && info.algorithm.oid == EC_PUBLIC_KEY
            {
                let curve = info.algorithm.parameters_oid().ok();
                return ec_p384(der, curve, origin);
            }
            private_key_block(label, der, origin).map(PrivateKey::Rsa)
        }
        "EC PRIVATE KEY" if ec => ec_p384(der, None, origin),
        _ => private_key_block(label, der, origin).map(PrivateKey::Rsa),
    }
}

/// What Qlik Cloud takes for an OAuth client's key, for the errors that refuse another.
pub const OAUTH_KEYS: &str = "Qlik Cloud takes RS256 or RS512 with an RSA key of 2048 bits or \
                              more, or ES384 with an EC P-384 key";

const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// An EC key (PKCS#8 or SEC1 DER) that must be on P-384; `curve` is the PKCS#8 header's, when
/// there is one. A key on another curve is named with its curve.
fn ec_p384(
    der: &[u8],
    curve: Option<ObjectIdentifier>,
    origin: &Origin,
) -> Result<PrivateKey, UserError> {
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P256K1_SHA256_FIXED_SIGNING,
        ECDSA_P384_SHA384_FIXED_SIGNING, ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair,
    };
    if EcdsaKeyPair::from_private_key_der(&ECDSA_P384_SHA384_FIXED_SIGNING, der).is_ok() {
        return Ok(PrivateKey::EcP384(EcP384PrivateKey {
            der: Zeroizing::new(der.to_vec()),
            was_encrypted: false,
        }));
    }
    let named = [
        (&ECDSA_P256_SHA256_FIXED_SIGNING, "P-256"),
        (&ECDSA_P521_SHA512_FIXED_SIGNING, "P-521"),
        (&ECDSA_P256K1_SHA256_FIXED_SIGNING, "secp256k1"),
    ]
    .into_iter()
    .find(|(alg, _)| EcdsaKeyPair::from_private_key_der(alg, der).is_ok())
    .map(|(_, name)| name.to_owned())
    .or_else(|| curve.filter(|c| *c != P384).map(|c| c.to_string()));
    Err(match named {
        Some(curve) => UserError::runtime(format!(
            "{origin} holds an EC key on curve {curve}; {OAUTH_KEYS}"
        )),
        None => UserError::runtime(format!(
            "{origin} holds an EC private key the crypto library (aws-lc) cannot read; check it \
             with: openssl pkey -check -noout -in <key file>"
        )),
    })
    .map_err(|err| err.with_hint(NEW_EC_KEY_HINT))
}

/// How to make a key of the kind Qlik Cloud's OAuth clients take.
pub const NEW_EC_KEY_HINT: &str = "make one with --cert-create true --cert-create-key-type \
     ec-p384, or with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out \
     privatekey.pem";

/// Classifies DER by its PEM label, for an RSA key.
pub fn private_key_block(
    label: &str,
    der: &[u8],
    origin: &Origin,
) -> Result<RsaPrivateKey, UserError> {
    match label {
        "RSA PRIVATE KEY" => rsa_pkcs1(der, origin),
        "PRIVATE KEY" => {
            let info = PrivateKeyInfoRef::try_from(der).map_err(|e| {
                UserError::runtime(format!(
                    "{origin} holds a PRIVATE KEY block that is not valid PKCS#8 ({e})"
                ))
            })?;
            match info.algorithm.oid {
                RSA_ENCRYPTION => rsa_pkcs1(info.private_key.as_bytes(), origin),
                RSA_PSS => Err(not_rsa(
                    origin,
                    "an RSA-PSS key (restricted to PS signatures)",
                )),
                EC_PUBLIC_KEY => Err(not_rsa(origin, "an EC (ECDSA) key")),
                ED25519 => Err(not_rsa(origin, "an Ed25519 key")),
                ED448 => Err(not_rsa(origin, "an Ed448 key")),
                DSA => Err(not_rsa(origin, "a DSA key")),
                other => Err(not_rsa(origin, &format!("a key of algorithm {other}"))),
            }
        }
        "ENCRYPTED PRIVATE KEY" => Err(encrypted_key(origin)),
        "EC PRIVATE KEY" => Err(not_rsa(origin, "an EC (ECDSA) key")),
        "DSA PRIVATE KEY" => Err(not_rsa(origin, "a DSA key")),
        "OPENSSH PRIVATE KEY" => Err(openssh_private_key(der, origin)),
        "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(UserError::runtime(format!(
            "{origin} holds a public key; the private key belongs here (the public key and the \
             certificate are what you give Qlik)"
        ))),
        "CERTIFICATE" | "TRUSTED CERTIFICATE" | "X509 CERTIFICATE" => {
            Err(UserError::runtime(format!(
                "{origin} holds a certificate; the private key belongs here (the certificate is what \
             you give Qlik)"
            )))
        }
        other => Err(UserError::runtime(format!(
            "{origin} holds a '{other}' PEM block, not a private key"
        ))),
    }
}

fn rsa_pkcs1(der: &[u8], origin: &Origin) -> Result<RsaPrivateKey, UserError> {
    let key = pkcs1::RsaPrivateKeyRef::try_from(der).map_err(|e| {
        UserError::runtime(format!(
            "{origin} does not hold a valid RSA private key ({e})"
        ))
    })?;
    let bits = bit_length(key.modulus.as_bytes());
    if bits < MIN_RSA_BITS {
        return Err(UserError::runtime(format!(
            "{origin} holds a {bits}-bit RSA key; Qlik needs at least {MIN_RSA_BITS} bits"
        ))
        .with_hint(NEW_KEY_HINT));
    }
    rsa_limits(bits, key.public_exponent.as_bytes()).map_err(|why| {
        UserError::runtime(format!(
            "{origin} holds a key qs-jwt cannot sign with: {why}"
        ))
        .with_hint(NEW_KEY_HINT)
    })?;
    Ok(RsaPrivateKey {
        pkcs1_der: Zeroizing::new(der.to_vec()),
        bits,
        was_encrypted: false,
    })
}

/// OpenSSL's traditional encrypted PEM: an RSA PRIVATE KEY block with a Proc-Type header.
fn is_encrypted_pkcs1(block: &pem::Pem) -> bool {
    block
        .headers()
        .get("Proc-Type")
        .is_some_and(|value| value.contains("ENCRYPTED"))
}

/// The hint of a key qs-jwt cannot sign with for its size: doctor-qscloud's fix is a new pair.
pub const NEW_KEY_HINT: &str = "create a new key with --cert-create true, or with: \
     openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out privatekey.pem";

/// An encrypted key and no passphrase: the ways to give one (standard input only when the key
/// does not come from there).
fn encrypted_key(origin: &Origin) -> UserError {
    let stdin = match origin {
        Origin::Stdin => "",
        _ => " (- reads standard input)",
    };
    UserError::runtime(format!(
        "{origin} holds an encrypted private key and no passphrase is given; qs-jwt never \
         prompts: set QSJWTPASSPHRASE, or give --cert-privatekey-passphrase-file <file>{stdin}"
    ))
}

/// Why an encrypted key could not be read; a wrong passphrase says nothing else about the key.
fn decrypt_error(err: DecryptError, origin: &Origin, passphrase: &Passphrase) -> UserError {
    match err {
        DecryptError::WrongPassphrase => UserError::runtime(format!(
            "wrong passphrase for {origin} (the passphrase from {})",
            passphrase.source
        )),
        DecryptError::Malformed(why) => UserError::runtime(format!(
            "{origin} holds an ENCRYPTED PRIVATE KEY block that is not valid PKCS#8 ({why})"
        )),
        DecryptError::Unsupported(what) => UserError::runtime(format!(
            "{origin} is encrypted with {what}, which qs-jwt does not read"
        ))
        .with_hint(format!(
            "re-encrypt it with AES-256 and PBKDF2: {}",
            convert_command(origin, Some(passphrase))
        )),
        DecryptError::TooCostly(what) => UserError::runtime(format!(
            "{origin} asks for {what} to decrypt it; that is more work than any tool writes, so \
             qs-jwt refuses it"
        ))
        .with_hint(format!(
            "re-encrypt it with OpenSSL's defaults: {}",
            convert_command(origin, Some(passphrase))
        )),
    }
}

/// OpenSSL 1.x's `genrsa -aes256` format (`Proc-Type: 4,ENCRYPTED` in an RSA PRIVATE KEY
/// block): its key derivation is one round of MD5, and no maintained crate on qs-jwt's crypto
/// library reads it; the openssl command converts it to PKCS#8 with the same passphrase.
fn legacy_encrypted_key(origin: &Origin, passphrase: Option<&Passphrase>) -> UserError {
    let given = match passphrase.and_then(|p| p.for_openssl.as_ref()) {
        Some(_) => "",
        None => " (and set QSJWTPASSPHRASE, which the command reads too)",
    };
    UserError::runtime(format!(
        "{origin} holds a key in OpenSSL's old encrypted format (Proc-Type: 4,ENCRYPTED), which \
         qs-jwt does not read; convert it to encrypted PKCS#8, with the same passphrase{given}"
    ))
    .with_hint(convert_command(origin, passphrase))
}

/// The openssl command that re-encrypts the key from where it came as PKCS#8 with AES-256 and
/// PBKDF2, reading the passphrase where qs-jwt read it (else from QSJWTPASSPHRASE), into a new
/// file (never the input file: openssl would truncate it before reading it).
fn convert_command(origin: &Origin, passphrase: Option<&Passphrase>) -> String {
    let input = match origin {
        Origin::File(path) => format!("-in {}", render::shell_quoted(&path.display().to_string())),
        // %b: the variable may hold its line breaks written as \n, which qs-jwt reads too.
        Origin::Env => "-in <(printf '%b\\n' \"$QSJWTPRIVKEY\")".to_owned(),
        Origin::Stdin | Origin::Flag => "-in <encrypted key file>".to_owned(),
    };
    // openssl reads a -passin and a -passout that name the same file as two lines of it, so a
    // passphrase from a file reaches openssl through the variable, set for that command only.
    let from_file = passphrase
        .and_then(|p| p.for_openssl.as_deref())
        .and_then(|passin| passin.strip_prefix("file:"))
        .map(|file| format!("QSJWTPASSPHRASE=\"$(cat {file})\" "))
        .unwrap_or_default();
    format!(
        "{from_file}openssl pkcs8 -topk8 -v2 aes-256-cbc {input} -passin env:QSJWTPASSPHRASE \
         -passout env:QSJWTPASSPHRASE -out privatekey-pkcs8.pem"
    )
}

fn not_rsa(origin: &Origin, what: &str) -> UserError {
    // An EC key is fine for one thing: a Qlik Cloud OAuth client's assertion.
    let ec = if what.contains("EC (ECDSA)") {
        " (an EC P-384 key signs only Qlik Cloud OAuth client assertions, with oauth-qscloud)"
    } else {
        ""
    };
    UserError::runtime(format!(
        "{origin} holds {what}; Qlik's RS256 tokens need an RSA private key{ec}"
    ))
    .with_hint(NEW_KEY_HINT)
}

/// An OpenSSH private key: its type, read from its public part, decides whether converting it
/// helps (ssh-keygen writes PKCS#8 for RSA and ECDSA keys, and leaves an Ed25519 key as it was).
fn openssh_private_key(der: &[u8], origin: &Origin) -> UserError {
    let key = ssh::openssh_private_key_type(der);
    let kind = key.as_ref().map(|k| format!(", {k}")).unwrap_or_default();
    match key {
        Some(key) if !key.is_rsa() => not_rsa(origin, &format!("an OpenSSH private key{kind}")),
        Some(key) if key.too_small().is_some() => UserError::runtime(format!(
            "{origin} holds an OpenSSH private key{kind}; Qlik needs at least {MIN_RSA_BITS} bits"
        ))
        .with_hint(NEW_KEY_HINT),
        _ => UserError::runtime(format!(
            "{origin} holds an OpenSSH private key{kind}; qs-jwt reads PEM (PKCS#8 or PKCS#1)"
        ))
        .with_hint(format!(
            "convert a copy to PKCS#8 (ssh-keygen asks for its passphrase, if any, and the \
             copy's): {}",
            ssh::openssh_to_pkcs8(origin.path()).0
        )),
    }
}

/// Text an SSH tool wrote, which has no PEM block: a PuTTY key, or a public key line.
fn ssh_text(found: &SshText, origin: &Origin) -> UserError {
    match found {
        SshText::Putty(key) if !key.is_rsa() => {
            not_rsa(origin, &format!("a PuTTY private key (.ppk), {key}"))
        }
        SshText::Putty(key) => UserError::runtime(format!(
            "{origin} holds a PuTTY private key (.ppk), {key}; qs-jwt reads PEM (PKCS#8 or \
             PKCS#1)"
        ))
        .with_hint(format!(
            "export it with PuTTYgen (Conversions > Export OpenSSH key), or: {}",
            ssh::putty_to_pem(origin.path()).0
        )),
        SshText::OpenSshPublic(key) | SshText::Ssh2Public(key) => {
            let format = match &found {
                SshText::Ssh2Public(_) => "an SSH2 public key (RFC 4716)",
                _ => "an OpenSSH public key",
            };
            let needed = if key.is_rsa() {
                "the private key belongs here, in PEM (PKCS#8 or PKCS#1)"
            } else {
                "the private key belongs here, and Qlik's RS256 tokens need an RSA key"
            };
            let err = UserError::runtime(format!("{origin} holds {format}, {key}; {needed}"));
            // id_rsa.pub: its private key is id_rsa, in OpenSSH's format.
            let private = origin
                .path()
                .filter(|_| matches!(found, SshText::OpenSshPublic(_)))
                .filter(|path| path.extension().is_some_and(|e| e == "pub"))
                .map(|path| path.with_extension(""));
            match private {
                Some(private) if key.is_rsa() => err.with_hint(format!(
                    "if its private key is {} (in OpenSSH's format), convert a copy of it: {}",
                    render::shell_quoted(&private.display().to_string()),
                    ssh::openssh_to_pkcs8(Some(&private)).0
                )),
                _ if key.is_rsa() => err,
                _ => err.with_hint(NEW_KEY_HINT),
            }
        }
    }
}

fn not_pem(origin: &Origin, text: &str) -> UserError {
    if let Some(found) = ssh::ssh_text(text) {
        return ssh_text(&found, origin);
    }
    // Our words name the markers without their dashes: error text is redacted from a dashed
    // BEGIN onwards (error::redact_keys).
    let found = if text.contains("-----BEGIN") {
        "a BEGIN line but no complete PEM block"
    } else {
        "no BEGIN line"
    };
    UserError::runtime(format!(
        "{origin} is not a PEM private key ({found}); expected a BEGIN PRIVATE KEY or BEGIN RSA \
         PRIVATE KEY block"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PKCS8: &str = include_str!("../../tests/fixtures/rsa2048-pkcs8.pem");
    const PKCS1: &str = include_str!("../../tests/fixtures/rsa2048-pkcs1.pem");

    fn load(text: &str) -> Result<RsaPrivateKey, String> {
        rsa_private_key(text, &Origin::Flag, None).map_err(|e| e.to_string())
    }

    #[test]
    fn pkcs1_and_pkcs8_give_the_same_key() {
        let a = load(PKCS1).unwrap();
        let b = load(PKCS8).unwrap();
        assert_eq!(a.bits, 2048);
        assert_eq!(a.pkcs1_der, b.pkcs1_der);
    }

    #[test]
    fn normalise_undoes_transport_damage() {
        let bom = format!("\u{feff}{PKCS8}");
        let crlf = PKCS8.replace('\n', "\r\n");
        let literal = PKCS8.trim().replace('\n', "\\n");
        let literal_crlf = PKCS8.trim().replace('\n', "\\r\\n");
        let spaced = PKCS8.trim().replace('\n', " ");
        let padded = format!("\n\n  {PKCS1}  \n\t");
        let expected = load(PKCS8).unwrap().pkcs1_der;
        for (name, text) in [
            ("bom", bom),
            ("crlf", crlf),
            ("literal \\n", literal),
            ("literal \\r\\n", literal_crlf),
            ("spaces", spaced),
            ("padding", padded),
        ] {
            assert_eq!(
                load(&text).map(|k| k.pkcs1_der).as_ref(),
                Ok(&expected),
                "{name}"
            );
        }
    }

    #[test]
    fn finds_the_key_beside_a_certificate() {
        let cert = include_str!("../../tests/fixtures/rsa2048-cert.pem");
        let bundle = format!("{cert}{PKCS8}");
        assert_eq!(load(&bundle).unwrap().bits, 2048);
    }

    #[test]
    fn names_what_it_found_instead() {
        let cases = [
            ("rsa2048-encrypted-pkcs8.pem", "encrypted"),
            ("rsa2048-encrypted-pkcs1.pem", "encrypted"),
            ("rsa2048-public.pem", "public key"),
            ("rsa2048-public-pkcs1.pem", "public key"),
            ("rsa2048-cert.pem", "certificate"),
            ("ec-p256-sec1.pem", "EC (ECDSA) key"),
            ("ec-p256-pkcs8.pem", "EC (ECDSA) key"),
            ("ed25519.pem", "Ed25519 key"),
            ("rsa1024.pem", "1024-bit RSA key"),
        ];
        for (file, expected) in cases {
            let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(path).unwrap();
            let err = load(&text).map(|k| k.bits).unwrap_err();
            assert!(err.contains(expected), "{file}: {err}");
            assert!(err.starts_with("--cert-privatekey holds"), "{file}: {err}");
        }
    }

    #[test]
    fn rejects_text_that_is_not_pem() {
        assert!(load("hello").unwrap_err().contains("no BEGIN line"));
        assert!(
            load("-----BEGIN PRIVATE KEY-----\nMIIE")
                .unwrap_err()
                .contains("no complete PEM block")
        );
        assert!(load("   \n").unwrap_err().contains("is empty"));
        let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(load(garbage).unwrap_err().contains("not valid PKCS#8"));
        let garbage = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(
            load(garbage)
                .unwrap_err()
                .contains("not hold a valid RSA private key")
        );
    }

    #[test]
    fn messages_never_quote_the_key() {
        let damaged = PKCS8.replace("-----END PRIVATE KEY-----", "");
        let err = load(&damaged).unwrap_err();
        let body_line = PKCS8.lines().nth(1).unwrap();
        assert!(!err.contains(body_line), "{err}");
    }

    #[test]
    fn two_private_keys_are_refused() {
        let two = format!("{PKCS8}{PKCS1}");
        assert!(load(&two).unwrap_err().contains("holds 2 private keys"));
    }

    #[test]
    fn the_conversion_hint_names_the_users_file() {
        let hint = convert_command(&Origin::File("keys/k.pem".into()), None);
        assert!(
            hint.contains("-in 'keys/k.pem' -passin env:QSJWTPASSPHRASE"),
            "{hint}"
        );
        let err = legacy_encrypted_key(&Origin::Env, None);
        assert!(err.to_string().contains("set QSJWTPASSPHRASE"), "{err}");
        assert!(err.hint().unwrap().contains("$QSJWTPRIVKEY"));
    }

    #[test]
    fn origin_names_the_source() {
        assert_eq!(
            Origin::File("k.pem".into()).to_string(),
            "--cert-privatekey-file 'k.pem'"
        );
        assert_eq!(Origin::Env.to_string(), "QSJWTPRIVKEY");
    }
}
