//! Secret text (a private key's PEM, a token sent to a server, session cookies) in a type that
//! never shows it: its `Debug` and `Display` print a placeholder, so a `{:?}` in a log line, a
//! panic message or a test failure cannot leak it.

use std::fmt;

/// Text that must not be shown: a private key's PEM, a token, a cookie.
#[derive(Clone, PartialEq, Eq)]
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
    }
}
