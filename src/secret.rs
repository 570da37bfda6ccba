//! Secrets (a private key's PEM, a passphrase, a token sent to a server, session cookies) in
//! types that never show them and wipe them: their `Debug` and `Display` print a placeholder, so
//! a `{:?}` in a log line, a panic message or a test failure cannot leak them, and their bytes
//! are overwritten with zeros when they are dropped (the `zeroize` crate), not left in freed
//! memory.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Text that must not be shown: a private key's PEM, a token, a cookie.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretText(String);

impl SecretText {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text itself, for the code that must use it: the key parser, the request that carries
    /// the token or the cookies, the cookie jar.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText([redacted])")
    }
}

impl fmt::Display for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A passphrase, as the bytes it was given in, wiped when dropped; `source` names where it came
/// from (`QSJWTPASSPHRASE`, `--cert-privatekey-passphrase-file 'pass.txt'`) for messages.
pub struct Passphrase {
    bytes: Zeroizing<Vec<u8>>,
    pub source: String,
    /// Where openssl's `-passin` finds the same passphrase (`env:QSJWTPASSPHRASE`,
    /// `file:'pass.txt'`), for the commands qs-jwt suggests; `None` for standard input.
    pub for_openssl: Option<String>,
}

impl Passphrase {
    pub fn new(bytes: Zeroizing<Vec<u8>>, source: impl Into<String>) -> Self {
        Self {
            bytes,
            source: source.into(),
            for_openssl: None,
        }
    }

    /// The same, with where openssl's `-passin` finds it.
    pub fn for_openssl(mut self, passin: impl Into<String>) -> Self {
        self.for_openssl = Some(passin.into());
        self
    }

    /// The bytes, for the key derivation.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Passphrase(from {}, [redacted])", self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_text() {
        let secret = SecretText::new("-----BEGIN PRIVATE KEY-----\nMIIE");
        assert_eq!(
            format!("{secret:?} {secret}"),
            "SecretText([redacted]) [redacted]"
        );
        assert!(secret.expose().starts_with("-----BEGIN"));
        let passphrase = Passphrase::new(Zeroizing::new(b"hunter2".to_vec()), "QSJWTPASSPHRASE");
        assert_eq!(
            format!("{passphrase:?}"),
            "Passphrase(from QSJWTPASSPHRASE, [redacted])"
        );
    }
}
