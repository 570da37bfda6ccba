//! What the private and public key readers share: PEM text as it arrives from files, flags and
//! CI secrets made readable again (byte order mark, CRLF, `\n` written as two characters, line
//! breaks turned into spaces), the algorithm identifiers, and the RSA limits of the crypto
//! library.

use std::borrow::Cow;

use pkcs8::der::asn1::ObjectIdentifier;

/// The smallest RSA key we sign with; Qlik and NIST both want at least this.
pub const MIN_RSA_BITS: usize = 2048;

pub(super) const RSA_ENCRYPTION: ObjectIdentifier = pkcs1::ALGORITHM_OID;
pub(super) const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
pub(super) const EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(super) const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
pub(super) const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
pub(super) const DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
