//! A new key pair (RSA or EC P-384) and the self-signed certificate an admin gives Qlik.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use rand::RngExt;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256,
    RsaKeySize, SerialNumber,
};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error::UserError;
use crate::expires::MAX_TIMESTAMP;

/// The kinds of key qs-jwt makes: `--cert-create` makes the default (or, for oauth-qscloud,
/// what `--cert-create-key-type` says); `create-key --key-type` and `--key-size` choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NewKeyType {
    /// 4096-bit RSA: what Qlik's own guide generates (`openssl genrsa 4096`); every token.
    #[default]
    Rsa4096,
    /// 2048-bit RSA: the least Qlik takes; quicker to make and to sign with.
    Rsa2048,
    /// EC on P-384: a Qlik Cloud OAuth client's ES384 assertions.
    EcP384,
}

impl NewKeyType {
    /// The name `--key-type` and `--cert-create-key-type` take, and `--output json` shows.
    pub fn name(self) -> &'static str {
        match self {
            NewKeyType::Rsa4096 | NewKeyType::Rsa2048 => "rsa",
            NewKeyType::EcP384 => "ec-p384",
        }
    }

    /// The key's size in bits (an EC key's, its curve's).
    pub fn bits(self) -> u32 {
        match self {
            NewKeyType::Rsa4096 => 4096,
            NewKeyType::Rsa2048 => 2048,
            NewKeyType::EcP384 => 384,
        }
    }

    /// For people: "a 4096-bit RSA key".
    pub fn described(self) -> &'static str {
        match self {
            NewKeyType::Rsa4096 => "a 4096-bit RSA key",
            NewKeyType::Rsa2048 => "a 2048-bit RSA key",
            NewKeyType::EcP384 => "an EC P-384 key",
        }
    }
}

/// The certificate starts this much in the past, so that a server whose clock runs behind ours
/// does not see it as not yet valid. (Not `rules::CLOCK_SKEW`, the few seconds a token's `nbf`
/// may be ahead.)
const CERTIFICATE_BACKDATE: Duration = Duration::from_secs(5 * 60);

/// The certificate's subject and issuer common name.
const COMMON_NAME: &str = "qs-jwt";

/// The three PEM texts `--cert-create` writes.
pub struct NewKeyPair {
    pub private_key_pem: Zeroizing<String>,
    pub public_key_pem: String,
    pub certificate_pem: String,
    /// The private key as PKCS#8 DER, to sign the token with.
    pub private_key_der: Zeroizing<Vec<u8>>,
}

/// When the certificate is valid: from a few minutes before `now` for `days` days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

/// The certificate's validity, or a usage error if it would end after the year 9999.
pub fn validity(now: SystemTime, days: u32) -> Result<Validity, UserError> {
    // Checked with plain integers first: `SystemTime + Duration` panics where the sum leaves
    // the platform's range (on Windows, about 29,000 years on).
    let too_late = || {
        UserError::usage(format!(
            "--cert-create-expires-days {days}: the certificate would expire after the year \
             9999; choose fewer days"
        ))
    };
    let last = UNIX_EPOCH + Duration::from_secs(MAX_TIMESTAMP);
    let not_after = now
        .checked_add(Duration::from_secs(u64::from(days) * 86_400))
        .filter(|not_after| *not_after <= last)
        .ok_or_else(too_late)?;
    Ok(Validity {
        not_before: now.checked_sub(CERTIFICATE_BACKDATE).unwrap_or(UNIX_EPOCH),
        not_after,
    })
}

/// Makes a key of `key_type` with aws-lc-rs and a self-signed X.509 v3 certificate for it,
/// subject and issuer `CN=qs-jwt`, signed with SHA-256 and RSA, or with ECDSA and SHA-384.
pub fn new_key_pair(key_type: NewKeyType, validity: Validity) -> Result<NewKeyPair> {
    let key = match key_type {
        NewKeyType::Rsa4096 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096)
            .context("could not generate a new RSA key")?,
        NewKeyType::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)
            .context("could not generate a new RSA key")?,
        NewKeyType::EcP384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384)
            .context("could not generate a new EC P-384 key")?,
    };

    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, COMMON_NAME);
    params.distinguished_name = name;
    params.not_before = OffsetDateTime::from(validity.not_before);
    params.not_after = OffsetDateTime::from(validity.not_after);
    params.serial_number = Some(random_serial());
    let certificate = params
        .self_signed(&key)
        .context("could not create the self-signed certificate")?;

    Ok(NewKeyPair {
        private_key_pem: Zeroizing::new(key.serialize_pem()),
        public_key_pem: key.public_key_pem(),
        certificate_pem: certificate.pem(),
        private_key_der: Zeroizing::new(key.serialize_der()),
    })
}

/// 126 random bits as a positive 16-byte serial: RFC 5280 wants serials positive, unique per
/// issuer and at most 20 bytes; random ones keep two certificates made the same second apart.
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::rng().fill(&mut bytes);
    // Top bit clear: positive. Next bit set: exactly 16 bytes, with no leading zero to strip.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_starts_before_now_and_lasts_the_given_days() {
        let now = UNIX_EPOCH + Duration::from_secs(crate::times::EXAMPLE_NOW);
        let v = validity(now, 400).unwrap();
        assert_eq!(v.not_before, now - CERTIFICATE_BACKDATE);
        assert_eq!(v.not_after, now + Duration::from_secs(400 * 86_400));
    }

    #[test]
    fn validity_stops_at_the_year_9999() {
        let now = UNIX_EPOCH + Duration::from_secs(crate::times::EXAMPLE_NOW);
        let err = validity(now, u32::MAX).unwrap_err();
        assert!(err.is_usage() && err.to_string().contains("9999"), "{err}");
        let last_day = (MAX_TIMESTAMP - crate::times::EXAMPLE_NOW) / 86_400;
        assert!(validity(now, last_day as u32).is_ok());
        assert!(validity(now, last_day as u32 + 1).is_err());
    }

    #[test]
    fn serials_are_positive_16_bytes_and_differ() {
        let a = random_serial().to_bytes();
        let b = random_serial().to_bytes();
        assert_eq!(a.len(), 16);
        assert_eq!(a[0] & 0xc0, 0x40);
        assert_ne!(a, b);
    }
}
