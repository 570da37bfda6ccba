//! The key that verifies a token in `decode`: an RSA or EC public key, or the X.509 certificate
//! Qlik is configured with. The key decides which algorithms a token may use; the token's own
//! `alg` only picks among them.

use std::fmt;
use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, DecodingKey};
use tracing::warn;
use x509_cert::Certificate;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};
use x509_cert::spki::SubjectPublicKeyInfoRef;

use super::pem::{
    EC_PUBLIC_KEY, ED25519, RSA_ENCRYPTION, bit_length, normalise, pem_blocks, rsa_limits,
};
use super::ssh::{self, SshKeyType, SshText};
use crate::error::UserError;
use crate::render;

const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

const RSA_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// Where the public key text came from, so that every message names what the user passed.
#[derive(Debug, Clone)]
pub enum PublicKeyOrigin {
    File(PathBuf),
    Flag,
    /// A key that came from a server, named as messages show it: "the identity provider
    /// abc's key".
    Named(String),
}

impl fmt::Display for PublicKeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicKeyOrigin::File(path) => {
                write!(f, "--cert-publickey-file '{}'", path.display())
            }
            PublicKeyOrigin::Flag => f.write_str("--cert-publickey"),
            PublicKeyOrigin::Named(name) => f.write_str(name),
        }
    }
}

/// What kind of public key it is; this alone decides the algorithms a token may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyKind {
    Rsa { bits: usize },
    EcP256,
    EcP384,
}

impl PublicKeyKind {
    pub fn algorithms(self) -> &'static [Algorithm] {
        match self {
            PublicKeyKind::Rsa { .. } => RSA_ALGORITHMS,
            PublicKeyKind::EcP256 => &[Algorithm::ES256],
            PublicKeyKind::EcP384 => &[Algorithm::ES384],
        }
    }
}

impl fmt::Display for PublicKeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicKeyKind::Rsa { bits } => write!(f, "a {bits}-bit RSA key"),
            PublicKeyKind::EcP256 => f.write_str("an EC P-256 key"),
            PublicKeyKind::EcP384 => f.write_str("an EC P-384 key"),
        }
    }
}

/// A public key, checked and ready for the verifier. Nothing secret in it.
#[derive(Debug)]
pub struct VerifyingKey {
    pub decoding_key: DecodingKey,
    pub kind: PublicKeyKind,
    /// True when the key came out of a certificate, as Qlik's `.cer` file.
    pub from_certificate: bool,
    /// Why the crypto library cannot verify with this key, when it cannot: a signature must
    /// then be reported as uncheckable, not as forged.
    pub unsupported: Option<String>,
    /// The PEM block the key was read from (the certificate, or the public key), written anew:
    /// line breaks LF, 64 characters a line, no text around it. What setup gives Qlik.
    pub pem: String,
    /// How many public keys and certificates the text held (a chain holds several; decode
    /// takes the first, setup wants exactly one).
    pub blocks: usize,
    /// An RSA key's numbers, for its JWK (setup-qscloud-oauth); `None` for an EC key.
    pub rsa: Option<super::RsaPublic>,
    /// An EC P-384 key's point, for its JWK; `None` for the others.
    pub ec_p384: Option<super::EcP384Public>,
}

/// Reads the first public key or certificate in PEM text.
pub fn verifying_key(text: &str, origin: &PublicKeyOrigin) -> Result<VerifyingKey, UserError> {
    let text = normalise(text);
    if text.is_empty() {
        return Err(UserError::runtime(format!(
            "{origin} is empty; it must hold a PEM public key or certificate"
        )));
    }
    let blocks = pem_blocks(&text).ok_or_else(|| match ssh::ssh_text(&text) {
        Some(found) => ssh_text(&found, origin),
        None => UserError::runtime(format!(
            "{origin} is not PEM text; expected a BEGIN PUBLIC KEY, BEGIN RSA PUBLIC KEY or BEGIN \
             CERTIFICATE block"
        )),
    })?;
    let wanted = ["PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE"];
    let block = blocks
        .iter()
        .find(|b| wanted.contains(&b.tag()))
        .unwrap_or(&blocks[0]);
    let count = blocks.iter().filter(|b| wanted.contains(&b.tag())).count();
    let der = block.contents();
    let pem = pem::encode_config(
        block,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    );
    let key = match block.tag() {
        "PUBLIC KEY" => spki_key(der, origin, false),
        "RSA PUBLIC KEY" => rsa_pkcs1_key(der, origin, false),
        "CERTIFICATE" => {
            let certificate = Certificate::from_der(der).map_err(|e| {
                UserError::runtime(format!(
                    "{origin} holds a CERTIFICATE block that is not a valid X.509 certificate ({e})"
                ))
            })?;
            let spki = certificate
                .tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .map_err(|e| {
                    UserError::runtime(format!("{origin}: cannot read the certificate's key ({e})"))
                })?;
            spki_key(&spki, origin, true)
        }
        "OPENSSH PRIVATE KEY" => Err(ssh_private_key(
            "an OpenSSH private key",
            ssh::openssh_private_key_type(der),
            ssh::openssh_to_pkcs8(origin.path()),
            origin,
        )),
        label if label.ends_with("PRIVATE KEY") => Err(UserError::runtime(format!(
            "{origin} holds a private key; this option takes the certificate (or the public \
             key), which is safe to share"
        ))
        .with_hint(format!(
            "make the certificate from it, and give that: {}",
            certificate_command(origin)
        ))),
        other => Err(UserError::runtime(format!(
            "{origin} holds a '{other}' PEM block, not a public key or certificate"
        ))),
    }?;
    Ok(VerifyingKey {
        pem,
        blocks: count,
        ..key
    })
}

/// When a certificate is valid: from and until, in seconds since 1970.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: u64,
    pub not_after: u64,
}

/// The validity of the first certificate in PEM text; None when the text holds no certificate
/// (a bare public key has no dates) or one that cannot be read.
pub fn certificate_validity(text: &str) -> Option<Validity> {
    let text = normalise(text);
    let blocks = pem_blocks(&text)?;
    let block = blocks.iter().find(|b| b.tag() == "CERTIFICATE")?;
    let certificate = Certificate::from_der(block.contents()).ok()?;
    let validity = certificate.tbs_certificate().validity();
    Some(Validity {
        not_before: validity.not_before.to_unix_duration().as_secs(),
        not_after: validity.not_after.to_unix_duration().as_secs(),
    })
}

impl PublicKeyOrigin {
    /// The file, when the key came from one: commands in hints name it.
    fn path(&self) -> Option<&std::path::Path> {
        match self {
            PublicKeyOrigin::File(path) => Some(path),
            PublicKeyOrigin::Flag | PublicKeyOrigin::Named(_) => None,
        }
    }
}

/// A private key of an SSH tool where the certificate belongs: an RSA key is converted first
/// (openssl reads neither format), then the certificate made; another key type Qlik cannot use.
fn ssh_private_key(
    format: &str,
    key: Option<SshKeyType>,
    (convert, converted): (String, PathBuf),
    origin: &PublicKeyOrigin,
) -> UserError {
    let kind = key.as_ref().map(|k| format!(", {k}")).unwrap_or_default();
    let err = UserError::runtime(format!(
        "{origin} holds {format}{kind}; this option takes the certificate (or the public key), \
         which is safe to share"
    ));
    match key {
        Some(key) if !key.is_rsa() => err.with_hint(
            "Qlik verifies qs-jwt's tokens (RS256) with an RSA key: make a new key pair with \
             qs-jwt create-qseow (or create-qscloud) --cert-create true",
        ),
        _ => {
            let quoted = |path: &Path| render::shell_quoted(&path.display().to_string());
            err.with_hint(format!(
                "convert it, then make the certificate: {convert}; openssl req -new -x509 -key \
                 {} -out {} -days 730 -subj /CN=qs-jwt",
                quoted(&converted),
                quoted(&converted.with_extension("cer"))
            ))
        }
    }
}

/// Text an SSH tool wrote where PEM belongs.
fn ssh_text(found: &SshText, origin: &PublicKeyOrigin) -> UserError {
    let (format, key, hint) = match found {
        SshText::Putty(key) => {
            return ssh_private_key(
                "a PuTTY private key (.ppk)",
                Some(key.clone()),
                ssh::putty_to_pem(origin.path()),
                origin,
            );
        }
        SshText::OpenSshPublic(key) => (
            "an OpenSSH public key",
            key,
            format!(
                "make a PEM public key of it: {}",
                ssh::openssh_public_to_pem(origin.path())
            ),
        ),
        SshText::Ssh2Public(key) => (
            "an SSH2 public key (RFC 4716)",
            key,
            format!(
                "make a PEM public key of it: {}",
                ssh::ssh2_to_pem(origin.path())
            ),
        ),
    };
    let err = UserError::runtime(format!(
        "{origin} holds {format}, {key}; this option takes PEM: a certificate or a public key"
    ));
    match key {
        SshKeyType::Rsa { .. } | SshKeyType::Ecdsa { .. } => err.with_hint(hint),
        _ => err.with_hint("Qlik signs and verifies RSA and EC keys only"),
    }
}

/// The openssl command that makes a self-signed certificate from the private key the user gave
/// where the certificate belongs: what setup-qseow needs (a virtual proxy takes nothing else),
/// what Qlik Cloud's console asks for, and what decode reads. The certificate goes beside the
/// key, named after it (`signing.pem` makes `signing.cer`); the key file is never the output.
fn certificate_command(origin: &PublicKeyOrigin) -> String {
    let (key, certificate) = match origin {
        PublicKeyOrigin::File(path) => {
            let stem = path
                .file_stem()
                .map_or_else(|| "publickey".into(), |s| s.to_string_lossy());
            let mut certificate = path.with_file_name(format!("{stem}.cer"));
            if certificate == *path {
                certificate = path.with_file_name(format!("{stem}-certificate.cer"));
            }
            (
                render::shell_quoted(&path.display().to_string()),
                render::shell_quoted(&certificate.display().to_string()),
            )
        }
        PublicKeyOrigin::Flag | PublicKeyOrigin::Named(_) => {
            ("<private key file>".to_owned(), "publickey.cer".to_owned())
        }
    };
    format!("openssl req -new -x509 -key {key} -out {certificate} -days 730 -subj /CN=qs-jwt")
}

fn spki_key(
    der: &[u8],
    origin: &PublicKeyOrigin,
    from_certificate: bool,
) -> Result<VerifyingKey, UserError> {
    let invalid = |e: &dyn fmt::Display| {
        UserError::runtime(format!("{origin} does not hold a valid public key ({e})"))
    };
    let spki = SubjectPublicKeyInfoRef::try_from(der).map_err(|e| invalid(&e))?;
    let (algorithm, parameters) = spki.algorithm.oids().map_err(|e| invalid(&e))?;
    let key_bytes = spki.subject_public_key.raw_bytes();
    match (algorithm, parameters) {
        (RSA_ENCRYPTION, _) => rsa_pkcs1_key(key_bytes, origin, from_certificate),
        (EC_PUBLIC_KEY, Some(curve)) if curve == P256 || curve == P384 => Ok(VerifyingKey {
            decoding_key: DecodingKey::from_ec_der(key_bytes),
            kind: if curve == P256 {
                PublicKeyKind::EcP256
            } else {
                PublicKeyKind::EcP384
            },
            from_certificate,
            unsupported: None,
            pem: String::new(),
            blocks: 1,
            rsa: None,
            ec_p384: if curve == P384 {
                super::EcP384Public::from_uncompressed(key_bytes).ok()
            } else {
                None
            },
        }),
        (EC_PUBLIC_KEY, curve) => Err(UserError::runtime(format!(
            "{origin} holds an EC key on curve {}; qs-jwt verifies P-256 (ES256) and P-384 (ES384)",
            curve.map_or_else(|| "(none named)".to_owned(), |c| c.to_string())
        ))),
        (ED25519, _) => Err(UserError::runtime(format!(
            "{origin} holds an Ed25519 key; Qlik signs and verifies RSA and EC keys only"
        ))),
        (other, _) => Err(UserError::runtime(format!(
            "{origin} holds a public key of algorithm {other}; expected an RSA or EC key"
        ))),
    }
}

fn rsa_pkcs1_key(
    der: &[u8],
    origin: &PublicKeyOrigin,
    from_certificate: bool,
) -> Result<VerifyingKey, UserError> {
    let key = pkcs1::RsaPublicKeyRef::try_from(der).map_err(|e| {
        UserError::runtime(format!(
            "{origin} does not hold a valid RSA public key ({e})"
        ))
    })?;
    let bits = bit_length(key.modulus.as_bytes());
    let unsupported = rsa_limits(bits, key.public_exponent.as_bytes()).err();
    if let Some(why) = &unsupported {
        warn!("{origin}: {why}");
    }
    Ok(VerifyingKey {
        decoding_key: DecodingKey::from_rsa_der(der),
        kind: PublicKeyKind::Rsa { bits },
        from_certificate,
        unsupported,
        pem: String::new(),
        blocks: 1,
        rsa: Some(super::RsaPublic::new(
            key.modulus.as_bytes(),
            key.public_exponent.as_bytes(),
        )),
        ec_p384: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Result<(PublicKeyKind, bool), String> {
        verifying_key(text, &PublicKeyOrigin::Flag)
            .map(|key| (key.kind, key.from_certificate))
            .map_err(|e| e.to_string())
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn reads_rsa_keys_in_every_form() {
        let rsa = PublicKeyKind::Rsa { bits: 2048 };
        assert_eq!(kind(&fixture("rsa2048-public.pem")), Ok((rsa, false)));
        assert_eq!(kind(&fixture("rsa2048-public-pkcs1.pem")), Ok((rsa, false)));
        assert_eq!(kind(&fixture("rsa2048-cert.pem")), Ok((rsa, true)));
    }

    #[test]
    fn the_key_decides_the_algorithms() {
        assert!(
            PublicKeyKind::Rsa { bits: 2048 }
                .algorithms()
                .contains(&Algorithm::PS512)
        );
        assert!(
            !PublicKeyKind::Rsa { bits: 2048 }
                .algorithms()
                .contains(&Algorithm::HS256)
        );
        assert_eq!(PublicKeyKind::EcP256.algorithms(), [Algorithm::ES256]);
        assert_eq!(PublicKeyKind::EcP384.algorithms(), [Algorithm::ES384]);
    }

    #[test]
    fn a_private_key_is_refused_with_the_command_that_fixes_it() {
        let err = verifying_key(&fixture("rsa2048-pkcs8.pem"), &PublicKeyOrigin::Flag).unwrap_err();
        assert!(err.to_string().contains("holds a private key"), "{err}");
        assert!(
            err.hint()
                .unwrap()
                .contains("openssl req -new -x509 -key <private key file> -out publickey.cer"),
            "{err}"
        );
        // The user's own file, and a certificate beside it that is never the key file itself.
        let origin = |path: &str| PublicKeyOrigin::File(path.into());
        // Beside the key as the platform writes a path: keys\signing.cer on Windows.
        let beside = std::path::Path::new("keys/signing.pem").with_file_name("signing.cer");
        assert!(
            certificate_command(&origin("keys/signing.pem")).contains(&format!(
                "-key 'keys/signing.pem' -out '{}' -days 730",
                beside.display()
            )),
        );
        assert!(
            certificate_command(&origin("it's.cer"))
                .contains("-key 'it'\\''s.cer' -out 'it'\\''s-certificate.cer'"),
        );
    }

    #[test]
    fn not_pem_and_empty_are_named() {
        assert!(kind("").unwrap_err().contains("--cert-publickey is empty"));
        assert!(kind("hello").unwrap_err().contains("is not PEM text"));
    }
}
