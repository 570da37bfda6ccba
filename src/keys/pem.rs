//! PEM text as it arrives from files, flags and CI secrets, made into an RSA private key.
//!
//! The text is normalised first (byte order mark, CRLF, `\n` written as two characters, a key
//! whose line breaks became spaces), then the block is classified so that every wrong input
//! (encrypted, public, certificate, EC, too short) gets a message that says what it is and how to
//! get the right thing.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use pkcs8::PrivateKeyInfoRef;
use pkcs8::der::asn1::ObjectIdentifier;

use crate::error::UserError;

/// The smallest RSA key we sign with; Qlik and NIST both want at least this.
pub const MIN_RSA_BITS: usize = 2048;

pub(super) const RSA_ENCRYPTION: ObjectIdentifier = pkcs1::ALGORITHM_OID;
const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
pub(super) const EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(super) const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");

/// Where key text came from, so that every message names the thing the user passed.
#[derive(Debug, Clone)]
pub enum Origin {
    File(PathBuf),
    Stdin,
    Flag,
    Env,
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

/// An RSA private key as PKCS#1 DER, the form the signer takes.
pub struct RsaPrivateKey {
    pub pkcs1_der: Vec<u8>,
    pub bits: usize,
}

/// Shows the size only: key bytes must not reach a log line or a panic message.
impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPrivateKey({} bits, [redacted])", self.bits)
    }
}

/// Undoes what shells, editors and secret stores do to PEM text on the way to us.
pub fn normalise(text: &str) -> Cow<'_, str> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if !trimmed.contains('\r') && !trimmed.contains("\\n") {
        return Cow::Borrowed(trimmed);
    }
    // Literal "\n" (two characters) comes from .env files and CI secrets stored on one line.
    let text = trimmed
        .replace("\\r\\n", "\n")
        .replace("\\n", "\n")
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    Cow::Owned(text)
}

/// Rebuilds PEM whose line breaks were turned into spaces, as `"$(Get-Content key.pem)"` does
/// in PowerShell and an unquoted `echo $KEY` does in bash. Only for blocks without headers.
fn rejoin_lines(text: &str) -> Option<String> {
    let begin = text.find("-----BEGIN ")?;
    let label_start = begin + "-----BEGIN ".len();
    let label_len = text[label_start..].find("-----")?;
    let label = &text[label_start..label_start + label_len];
    let body_start = label_start + label_len + "-----".len();
    let end_marker = format!("-----END {label}-----");
    let body_len = text[body_start..].find(&end_marker)?;
    let body: String = text[body_start..body_start + body_len]
        .split_whitespace()
        .collect();
    if body.contains(':') {
        return None;
    }
    Some(format!("-----BEGIN {label}-----\n{body}\n{end_marker}\n"))
}

/// The PEM blocks in normalised text, also when its line breaks became spaces; `None` when
/// there is no complete block.
pub fn pem_blocks(text: &str) -> Option<Vec<pem::Pem>> {
    match pem::parse_many(text.as_bytes()) {
        Ok(blocks) if !blocks.is_empty() => Some(blocks),
        _ => rejoin_lines(text)
            .and_then(|pem| pem::parse_many(pem).ok())
            .filter(|blocks| !blocks.is_empty()),
    }
}

/// Finds the private key in PEM text and checks it is an RSA key Qlik can use.
pub fn rsa_private_key(text: &str, origin: &Origin) -> Result<RsaPrivateKey, UserError> {
    let text = normalise(text);
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
    let block = blocks
        .iter()
        .find(|b| b.tag().ends_with("PRIVATE KEY"))
        .unwrap_or(&blocks[0]);
    private_key_block(
        block.tag(),
        block.contents(),
        is_encrypted_pkcs1(block),
        origin,
    )
}

/// Classifies DER by its PEM label; also used for the PKCS#8 key --cert-create makes.
pub fn private_key_block(
    label: &str,
    der: &[u8],
    encrypted: bool,
    origin: &Origin,
) -> Result<RsaPrivateKey, UserError> {
    match label {
        "RSA PRIVATE KEY" if encrypted => Err(encrypted_key(origin)),
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
        "OPENSSH PRIVATE KEY" => Err(UserError::runtime(format!(
            "{origin} holds an OpenSSH private key; qs-jwt reads PEM (PKCS#8 or PKCS#1)"
        ))
        .with_hint(
            "convert a copy of an RSA key with: ssh-keygen -p -m PKCS8 -f <copy of the key file>",
        )),
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
        pkcs1_der: der.to_vec(),
        bits,
    })
}

/// The RSA keys aws-lc, qs-jwt's one crypto library, signs and verifies with: a modulus of
/// 2048 to 8192 bits, and an odd public exponent greater than 1 of at most 33 bits (aws-lc-rs's
/// `rsa::KeyPair` and `RSA_PKCS1_2048_8192_*`). Such keys pass `openssl rsa -check` all the
/// same, so the limit is told when the key is read, not as a failed signature.
pub fn rsa_limits(bits: usize, exponent: &[u8]) -> Result<(), String> {
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(format!(
            "it is a {bits}-bit RSA key, and aws-lc, qs-jwt's crypto library, works with RSA keys \
             of {MIN_RSA_BITS} to {MAX_RSA_BITS} bits"
        ));
    }
    let exponent = trim_leading_zeros(exponent);
    let exponent_bits = bit_length(exponent);
    let odd = exponent.last().is_some_and(|last| last & 1 == 1);
    if exponent_bits > MAX_EXPONENT_BITS || !odd || exponent == [1] {
        let shown = if exponent_bits <= 64 {
            let value = exponent
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            value.to_string()
        } else {
            format!("a {exponent_bits}-bit number")
        };
        return Err(format!(
            "its public exponent is {shown}, and aws-lc, qs-jwt's crypto library, takes odd \
             exponents from 3 to {MAX_EXPONENT_BITS} bits (65537, what every tool makes, is one)"
        ));
    }
    Ok(())
}

/// The largest RSA key aws-lc works with.
pub const MAX_RSA_BITS: usize = 8192;
const MAX_EXPONENT_BITS: usize = 33;

fn trim_leading_zeros(be: &[u8]) -> &[u8] {
    let first = be.iter().position(|b| *b != 0).unwrap_or(be.len());
    &be[first..]
}

/// Bits in a big-endian unsigned integer whose leading zero bytes are already stripped.
pub fn bit_length(be: &[u8]) -> usize {
    match be.first() {
        Some(first) => be.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// OpenSSL's traditional encrypted PEM: an RSA PRIVATE KEY block with a Proc-Type header.
fn is_encrypted_pkcs1(block: &pem::Pem) -> bool {
    block
        .headers()
        .get("Proc-Type")
        .is_some_and(|value| value.contains("ENCRYPTED"))
}

const NEW_KEY_HINT: &str = "create a new key with --cert-create true, or with: \
     openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out privatekey.pem";

fn encrypted_key(origin: &Origin) -> UserError {
    UserError::runtime(format!(
        "{origin} holds an encrypted private key; qs-jwt signs without prompting, so it needs \
         the key unencrypted"
    ))
    .with_hint(
        "decrypt it to a file only you can read: \
         openssl pkey -in encrypted.pem -out privatekey.pem && chmod 600 privatekey.pem",
    )
}

fn not_rsa(origin: &Origin, what: &str) -> UserError {
    UserError::runtime(format!(
        "{origin} holds {what}; Qlik's RS256 tokens need an RSA private key"
    ))
    .with_hint(NEW_KEY_HINT)
}

fn not_pem(origin: &Origin, text: &str) -> UserError {
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
        rsa_private_key(text, &Origin::Flag).map_err(|e| e.to_string())
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
    fn the_crypto_librarys_limits_are_named() {
        let e = [0x01, 0x00, 0x01];
        assert!(rsa_limits(2048, &e).is_ok());
        assert!(rsa_limits(8192, &[0, 0x01, 0x00, 0x01]).is_ok());
        assert!(rsa_limits(16384, &e).unwrap_err().contains("16384-bit"));
        assert!(rsa_limits(1024, &e).unwrap_err().contains("2048 to 8192"));
        let big = [0x02, 0, 0, 0, 0x01];
        assert!(
            rsa_limits(2048, &big)
                .unwrap_err()
                .contains("exponent is 8589934593")
        );
        assert!(rsa_limits(2048, &[0x01, 0x00, 0x00]).is_err(), "even");
        assert!(rsa_limits(2048, &[1]).is_err());
        assert!(rsa_limits(2048, &[0x01, 0, 0, 0, 1]).is_ok(), "33 bits");
    }

    #[test]
    fn bit_length_counts_from_the_top_bit() {
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(bit_length(&[0x01, 0]), 9);
        assert_eq!(bit_length(&[]), 0);
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
