//! Errors the user can act on, the exit code each one gets, and the last line of defence that
//! keeps key text out of whatever we print about them.

use std::borrow::Cow;
use std::fmt;

/// An error whose message tells the user what to fix.
///
/// `usage` errors (how the command was called) exit 2, like clap's own; the others (what the
/// input turned out to hold: a missing file, an encrypted key) exit 1. The optional hint is a
/// second line with the command or option that fixes it.
#[derive(Debug, PartialEq)]
pub struct UserError {
    message: String,
    hint: Option<String>,
    usage: bool,
}

impl UserError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            usage: true,
        }
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            usage: false,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_usage(&self) -> bool {
        self.usage
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// 2 for a usage error anywhere in the chain, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    match user_error(err) {
        Some(e) if e.is_usage() => 2,
        _ => 1,
    }
}

/// The error as the user sees it: one line, plus a hint line when there is one.
pub fn render(err: &anyhow::Error) -> String {
    let mut text = format!("error: {err:#}");
    if let Some(hint) = user_error(err).and_then(|e| e.hint.as_deref()) {
        text.push_str("\nhint: ");
        text.push_str(hint);
    }
    redact_pem(&text).into_owned()
}

fn user_error(err: &anyhow::Error) -> Option<&UserError> {
    err.chain().find_map(|e| e.downcast_ref::<UserError>())
}

const REDACTED: &str = "[PEM text redacted]";
const BEGIN: &str = "-----BEGIN ";

/// Replaces every PEM block that carries key material with a placeholder.
///
/// Our own messages never quote key text, but clap quotes the arguments it rejects, and a key
/// passed to the wrong flag (or a path that is really `$QSJWTPRIVKEY`) would land in an error
/// message. Everything printed about an error goes through here. A BEGIN line with no encoded
/// data after it (as in our own hints) is left alone: it holds no secret.
pub fn redact_pem(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut rest = text;
    let mut changed = false;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        match pem_block_len(block) {
            Some(len) => {
                out.push_str(&rest[..start]);
                out.push_str(REDACTED);
                rest = &block[len..];
                changed = true;
            }
            None => {
                out.push_str(&rest[..start + BEGIN.len()]);
                rest = &block[BEGIN.len()..];
            }
        }
    }
    if !changed {
        return Cow::Borrowed(text);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The length of the PEM block `block` starts with, if encoded data follows its BEGIN line:
/// up to the end of its END line, or without one, to the quote clap closes a value with or to
/// the end of the text, since all of it may be key material.
fn pem_block_len(block: &str) -> Option<usize> {
    let label_len = block[BEGIN.len()..].find("-----")?;
    let label = &block[BEGIN.len()..BEGIN.len() + label_len];
    if label.is_empty()
        || !label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
    {
        return None;
    }
    let body_start = BEGIN.len() + label_len + "-----".len();
    let body = block[body_start..].replace("\\r", "").replace("\\n", "");
    let body = body.trim_start();
    let encoded = body
        .bytes()
        .take_while(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b' ' | b'\n' | b'\r')
        })
        .filter(|b| !b.is_ascii_whitespace())
        .count();
    if encoded < 8 && !body.starts_with("Proc-Type:") {
        return None;
    }
    let end_line = format!("-----END {label}-----");
    let len = match block.find(&end_line) {
        Some(end) => end + end_line.len(),
        None => block.find('\'').unwrap_or(block.len()),
    };
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_and_others_exit_1() {
        let usage = anyhow::Error::new(UserError::usage("bad flag"));
        let runtime = anyhow::Error::new(UserError::runtime("bad file"));
        let plain = anyhow::anyhow!("disk full");
        assert_eq!(exit_code(&usage), 2);
        assert_eq!(exit_code(&runtime), 1);
        assert_eq!(exit_code(&plain), 1);
        assert_eq!(exit_code(&usage.context("while creating")), 2);
    }

    #[test]
    fn render_is_one_line_plus_hint() {
        let err = anyhow::Error::new(UserError::runtime("key is encrypted").with_hint("decrypt"));
        assert_eq!(render(&err), "error: key is encrypted\nhint: decrypt");
        let err = anyhow::Error::new(UserError::runtime("gone")).context("reading key.pem");
        assert_eq!(render(&err), "error: reading key.pem: gone");
    }

    #[test]
    fn redacts_whole_pem_blocks() {
        let text = "invalid value '-----BEGIN RSA PRIVATE KEY-----\nMIIEsecret\n-----END RSA PRIVATE KEY-----' for x";
        assert_eq!(
            redact_pem(text),
            "invalid value '[PEM text redacted]' for x"
        );
    }

    #[test]
    fn redacts_a_truncated_block_to_the_closing_quote_or_the_end() {
        assert_eq!(
            redact_pem(
                "unexpected argument '-----BEGIN PRIVATE KEY----- MIIEvQIBADANBgkqhkiG9w0' found"
            ),
            "unexpected argument '[PEM text redacted]' found"
        );
        assert_eq!(
            redact_pem("cannot read -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0"),
            "cannot read [PEM text redacted]"
        );
    }

    #[test]
    fn redacts_one_line_and_literal_newline_forms() {
        let spaced = "value '-----BEGIN PRIVATE KEY----- MIIEvQIBADANBgkqhkiG9w0BAQEFAASC -----END PRIVATE KEY-----' x";
        assert_eq!(redact_pem(spaced), "value '[PEM text redacted]' x");
        let literal = r"value '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----'";
        assert_eq!(redact_pem(literal), "value '[PEM text redacted]'");
        let encrypted =
            "'-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: x\n\nMIIE'";
        assert_eq!(redact_pem(encrypted), "'[PEM text redacted]'");
    }

    #[test]
    fn leaves_text_without_key_material_alone() {
        assert!(matches!(
            redact_pem("no key here"),
            Cow::Borrowed("no key here")
        ));
        let hint = "not a PEM private key (no -----BEGIN line); expected \
                    -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----";
        assert_eq!(redact_pem(hint), hint);
    }
}
