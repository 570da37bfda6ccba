//! Errors the user can act on, the exit code each one gets, and the last line of defence that
//! keeps key text out of whatever we print about them.

use std::borrow::Cow;
use std::fmt;

use crate::render::{escape, shorten};
use crate::secret;

/// An error whose message tells the user what to fix.
///
/// `usage` errors (how the command was called) exit 2, like clap's own; the others (what the
/// input turned out to hold: a missing file, an encrypted key) exit 1. The optional hint is a
/// second line with the command or option that fixes it.
#[derive(Debug, PartialEq)]
pub struct UserError {
    message: String,
    hint: Option<String>,
    /// Lines said before the message, each a problem of its own: the bad rows of a users file.
    details: Vec<String>,
    usage: bool,
}

impl UserError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            details: Vec::new(),
            usage: true,
        }
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            details: Vec::new(),
            usage: false,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds lines said before the message, one problem each.
    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    pub fn is_usage(&self) -> bool {
        self.usage
    }

    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
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

/// The error as the user sees it: one line, plus a hint line when there is one, made safe for
/// a terminal ([`for_people`]). `colour` marks `error:` as clap's own errors do.
pub fn render(err: &anyhow::Error, colour: bool) -> String {
    let mut text = String::new();
    for detail in user_error(err).map_or(&[][..], |e| &e.details[..]) {
        text.push_str(&format!(
            "{} {}\n",
            label("error:", colour),
            for_people(detail)
        ));
    }
    text.push_str(&format!(
        "{} {}",
        label("error:", colour),
        for_people(&format!("{err:#}"))
    ));
    if let Some(hint) = user_error(err).and_then(|e| e.hint.as_deref()) {
        text.push('\n');
        text.push_str(&label("hint:", colour));
        text.push(' ');
        text.push_str(&for_people(hint));
    }
    text
}

/// The error as `--output json`'s failure object carries it: the message, the hint and the
/// lines said before it, each made safe as [`render`] makes them.
pub fn parts_for_json(err: &anyhow::Error) -> (String, Option<String>, Vec<String>) {
    let user = user_error(err);
    (
        for_people(&format!("{err:#}")),
        user.and_then(|e| e.hint.as_deref()).map(for_people),
        user.map_or_else(Vec::new, |e| {
            e.details.iter().map(|d| for_people(d)).collect()
        }),
    )
}

/// The one line decode prints on stderr when its report says the token fails.
pub fn render_failure(failure: &str, colour: bool) -> String {
    format!("{} {}", label("error:", colour), for_people(failure))
}

/// Text about an error as it may be shown: key material redacted first (so that nothing of a
/// key survives cutting), then control characters escaped, then long values cut.
pub fn for_people(text: &str) -> String {
    shorten(&escape(&redact_keys(text))).into_owned()
}

pub(crate) fn label(text: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[1;31m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn user_error(err: &anyhow::Error) -> Option<&UserError> {
    err.chain().find_map(|e| e.downcast_ref::<UserError>())
}

/// What stands where key material was.
pub use crate::secret::REDACTED;

/// The one redaction ([`secret::redact`]), by the name the error paths know it.
///
/// Our own messages never quote key text, but clap quotes the arguments it rejects, and a key
/// passed to the wrong flag (or a path that is really `$QSJWTPRIVKEY`) would land in an error.
pub fn redact_keys(text: &str) -> Cow<'_, str> {
    secret::redact(text)
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
        assert_eq!(
            render(&err, false),
            "error: key is encrypted\nhint: decrypt"
        );
        let err = anyhow::Error::new(UserError::runtime("gone")).context("reading key.pem");
        assert_eq!(render(&err, false), "error: reading key.pem: gone");
        assert_eq!(
            render(&err, true),
            "\x1b[1;31merror:\x1b[0m reading key.pem: gone"
        );
    }

    const PKCS8: &str = include_str!("../tests/fixtures/rsa2048-pkcs8.pem");

    /// Every 20-character window of the key's base64, none of which may survive.
    fn key_windows() -> Vec<String> {
        let body: String = PKCS8.lines().filter(|l| !l.starts_with("-----")).collect();
        let chars: Vec<char> = body.chars().collect();
        chars.windows(20).map(|w| w.iter().collect()).collect()
    }

    fn assert_no_key(text: &str) {
        let text = text.to_ascii_lowercase();
        for window in key_windows() {
            let window = window.to_ascii_lowercase();
            assert!(!text.contains(&window), "{window} survived in {text}");
        }
    }

    /// Paths, ids, key IDs and hosts as people have them (tests/fixtures/real-world-names.txt).
    const NAMES: &str = include_str!("../tests/fixtures/real-world-names.txt");

    fn names() -> impl Iterator<Item = &'static str> {
        NAMES
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
    }

    /// A key this run loaded (only these tests register it) is redacted in any piece; the same
    /// piece of a key it did not load is a name like any other, as a folder of that name would be.
    #[test]
    fn a_piece_of_a_loaded_key_is_redacted_and_of_another_is_a_name() {
        let loaded = include_str!("../tests/fixtures/rsa1024.pem");
        crate::secret::register(loaded);
        let piece = |pem: &str| -> String {
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            body[40..77].to_owned()
        };
        let text = format!("folder '{}' does not exist", piece(loaded));
        assert_eq!(
            redact_keys(&text),
            "folder '[key text redacted]' does not exist"
        );
        let text = format!("folder '{}' does not exist", piece(PKCS8));
        assert_eq!(redact_keys(&text), text);
        for name in names() {
            let text = format!("cannot read --cert-privatekey-file '{name}': No such file");
            assert!(matches!(redact_keys(&text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn redacts_whole_pem_blocks() {
        let text = "invalid value '-----BEGIN RSA PRIVATE KEY-----\nMIIEsecret\n-----END RSA PRIVATE KEY-----' for x";
        assert_eq!(
            redact_keys(text),
            "invalid value '[key text redacted]' for x"
        );
    }

    #[test]
    fn redacts_a_truncated_block_to_the_closing_quote_or_the_end() {
        assert_eq!(
            redact_keys(
                "unexpected argument '-----BEGIN PRIVATE KEY----- MIIEvQIBADANBgkqhkiG9w0' found"
            ),
            "unexpected argument '[key text redacted]' found"
        );
        assert_eq!(
            redact_keys("cannot read -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0"),
            "cannot read [key text redacted]"
        );
    }

    #[test]
    fn redacts_markers_in_any_spelling() {
        for text in [
            "'-----begin private key-----\nabc\n-----end private key-----'",
            "'-----BEGINPRIVATEKEY-----abc-----ENDPRIVATEKEY-----'",
            "'--- BEGIN PRIVATE KEY --- abc --- END PRIVATE KEY ---'",
            "'-----B\u{200b}EGIN PRIVATE KEY-----abc-----E\u{200b}ND PRIVATE KEY-----'",
            "'-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: x\n\nMIIE'",
        ] {
            assert_eq!(redact_keys(text), "'[key text redacted]'", "{text:?}");
        }
    }

    #[test]
    fn redacts_mangled_keys_without_markers() {
        let body: Vec<&str> = PKCS8.lines().filter(|l| !l.starts_with("-----")).collect();
        let joined = body.join("");
        let url: String = joined
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        let zero_width: String = joined.chars().flat_map(|c| [c, '\u{200b}']).collect();
        let upper = joined.to_ascii_uppercase();
        let lower = joined.to_ascii_lowercase();
        for mangled in [
            upper,
            lower,
            body.join("\\n"),
            body.join("\\u000a"),
            body.join("|"),
            body.join(","),
            body.join(" "),
            body.join("%0A"),
            body.join("\r\n"),
            url,
            zero_width,
            joined,
        ] {
            let text = format!("error: invalid value '{mangled}' for '--expires <time>'");
            let redacted = redact_keys(&text);
            assert_no_key(&redacted);
            assert!(redacted.contains("for '--expires <time>'"), "{redacted}");
        }
    }

    #[test]
    fn one_line_and_literal_newline_forms() {
        let spaced = "value '-----BEGIN PRIVATE KEY----- MIIEvQIBADANBgkqhkiG9w0BAQEFAASC -----END PRIVATE KEY-----' x";
        assert_eq!(redact_keys(spaced), "value '[key text redacted]' x");
        let literal = r"value '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----'";
        assert_eq!(redact_keys(literal), "value '[key text redacted]'");
    }

    #[test]
    fn leaves_words_paths_and_flags_alone() {
        for text in [
            "no key here",
            "cannot read --cert-privatekey-file '/home/administrator/keys/privatekey.pem'",
            "'/Users/AnnaAnderson/Documents/QlikSenseKeys/key.pem' is a folder",
            "--cert-create-expires-days 365; expected BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY",
            "the audience is qlik.api/login/jwt-session",
            "'/home/user2/keys2024/privatekey.pem' and '/srv/QlikSenseKeys/ProductionTenant'",
            "SomeLongCamelCaseIdentifierName and another_long_snake_case_name_here",
            "missing './Keys/Prod2025Q3/privatekey.pem'; chmod 600 './Keys/Prod2025Q3/privatekey.pem'",
            "user 00u1abcd2EFGH3ijk4x7 is also on line 3; sub 637390ec6541614d3b88a6b5",
            "VERBOSE loaded a key from --cert-privatekey-file 'k3YbT9xQ2mLp8vR4sW7nZ1aC6dE0fG5h.pem'",
        ] {
            assert!(matches!(redact_keys(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn for_people_redacts_escapes_and_cuts() {
        let text = format!("bad '\x1b]0;title\x07' and '{}'", "y".repeat(1000));
        let shown = for_people(&text);
        assert!(
            shown.starts_with("bad '\\x1b]0;title\\x07' and 'yyy"),
            "{shown}"
        );
        assert!(shown.ends_with("...' (1000 characters)"), "{shown}");
    }
}
