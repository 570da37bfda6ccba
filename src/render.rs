//! Text from outside (a token's claims, a file name, an argument, a server's reply) made safe to
//! show to a person: it is shown, never obeyed by the terminal.
//!
//! A token is attacker-controlled input. Left raw, an `iss` holding escape sequences could clear
//! the screen and paint "Signature: valid" over decode's real verdict, a `\r` in `kid` could
//! overwrite its own line, and an OSC sequence could set the window title. Everything qs-jwt
//! prints about such text goes through here, on stdout and stderr alike.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

use crate::secret;

/// Whether `c` would drive the terminal instead of being shown: C0 controls, DEL, C1 controls
/// (U+0080 to U+009F; U+009B is CSI on many terminals), and the Unicode bidirectional controls
/// that reorder what is shown (the "Trojan Source" characters, CVE-2021-42574).
pub fn is_control(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with every control character written visibly: `\n`, `\r`, `\t`, `\x1b`, `\u{202e}`.
/// For one value on one line.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_where(text, is_control)
}

/// As [`escape`], but line breaks stay: for a message of several lines that qs-jwt composed,
/// such as clap's usage error, whose lines are ours.
pub fn escape_keeping_lines(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c != '\n' && is_control(c))
}

fn escape_where(text: &str, unsafe_char: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !unsafe_char(c) {
            out.push(c);
            continue;
        }
        // Writing to a String cannot fail.
        let _ = match c {
            '\n' => out.write_str("\\n"),
            '\r' => out.write_str("\\r"),
            '\t' => out.write_str("\\t"),
            c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
            c => write!(out, "\\u{{{:x}}}", c as u32),
        };
    }
    Cow::Owned(out)
}

/// JSON text as serde_json writes it, with DEL, C1 and bidirectional controls also written as
/// `\uXXXX` escapes (serde escapes only C0). Still the same JSON: outside strings JSON is ASCII,
/// so these characters can only stand inside a string, where `\uXXXX` means the same character.
pub fn json_for_terminal(json: &str) -> Cow<'_, str> {
    // C0 stays: serde escapes it inside strings, and outside them it is the layout of pretty
    // JSON (line breaks and indentation).
    let needs_escape = |c: char| c >= '\x7f' && is_control(c);
    if !json.chars().any(needs_escape) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs_escape(c) {
            // DEL, C1 and bidi controls, all in the BMP.
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text from outside as people may read it: through the one redaction ([`secret::redact`]),
/// then with control characters escaped. For a report's values (a server's words, a user's
/// name), on one line.
pub fn redacted(text: &str) -> String {
    escape(&secret::redact(text)).into_owned()
}

/// Puts every string of `value` (the names of fields too) through the one redaction
/// ([`secret::redact`]), except the values of the top-level fields named in `product` (the
/// token a command was asked for): a server's answer or Qlik's error quoted in a JSON object is
/// redacted as it would be on stderr, whole, in pieces, in any case or encoded.
pub fn redact_json(value: &mut Value, product: &[&str]) {
    fn walk(value: &mut Value) {
        match value {
            Value::String(text) => {
                if let Cow::Owned(shown) = secret::redact(text) {
                    *text = shown;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            Value::Object(object) => {
                let fields = std::mem::take(object);
                for (name, mut field) in fields {
                    walk(&mut field);
                    object.insert(secret::redact(&name).into_owned(), field);
                }
            }
            _ => {}
        }
    }
    match value {
        Value::Object(object) if !product.is_empty() => {
            let fields = std::mem::take(object);
            for (name, mut field) in fields {
                if !product.contains(&name.as_str()) {
                    walk(&mut field);
                }
                object.insert(name, field);
            }
        }
        _ => walk(value),
    }
}

/// `value` as one line of JSON for stdout: redacted ([`redact_json`], `product` fields as they
/// are) and safe for a terminal ([`json_for_terminal`]).
pub fn json_for_people(value: &Value, product: &[&str]) -> String {
    let mut value = value.clone();
    redact_json(&mut value, product);
    // A Value always serializes.
    let text = serde_json::to_string(&value).unwrap_or_default();
    json_for_terminal(&text).into_owned()
}

/// A quoted value in a message (`'...'`) longer than this many characters is cut: an error that
/// echoes a 100 KB argument helps nobody.
pub const MAX_QUOTED: usize = 200;

/// Cuts every single-quoted value longer than [`MAX_QUOTED`] characters to its start, an
/// ellipsis and its length, and any line longer than four times that.
pub fn shorten(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_QUOTED {
        return Cow::Borrowed(text);
    }
    let mut lines = Vec::new();
    for line in text.split('\n') {
        lines.push(shorten_line(line));
    }
    Cow::Owned(lines.join("\n"))
}

/// Where a quoted value opens: a `'` at the start or after a space, `(`, `[`, `=` or `:`; an
/// apostrophe inside a word ("the provider's key") opens nothing.
fn opening_quote(text: &str) -> Option<usize> {
    text.char_indices()
        .find(|&(at, c)| {
            c == '\''
                && text[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|before| before.is_whitespace() || "([=:".contains(before))
        })
        .map(|(at, _)| at)
}

/// Where the value closes: a `'` at the end or before a space or punctuation.
fn closing_quote(text: &str) -> Option<usize> {
    text.char_indices()
        .find(|&(at, c)| {
            c == '\''
                && text[at + 1..]
                    .chars()
                    .next()
                    .is_none_or(|after| after.is_whitespace() || ",.;:)]".contains(after))
        })
        .map(|(at, _)| at)
}

fn shorten_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len().min(4 * MAX_QUOTED));
    let mut rest = line;
    while let Some(open) = opening_quote(rest) {
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        let Some(close) = closing_quote(after) else {
            rest = after;
            break;
        };
        let value = &after[..close];
        let count = value.chars().count();
        if count > MAX_QUOTED {
            let start: String = value.chars().take(MAX_QUOTED / 2).collect();
            let _ = write!(out, "{start}...' ({count} characters)");
        } else {
            out.push_str(value);
            out.push('\'');
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    let count = out.chars().count();
    if count > 4 * MAX_QUOTED {
        let start: String = out.chars().take(2 * MAX_QUOTED).collect();
        return format!("{start}... ({count} characters)");
    }
    out
}

/// `text` as one word for a POSIX shell, ready to paste into a suggested command.
pub fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// "1 user", "2 users": a count and what it counts, for messages.
pub fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(escape("plain é ü 漢"), "plain é ü 漢");
        assert_eq!(
            escape("a\x1b[2Jb\rc\nd\te\x07"),
            "a\\x1b[2Jb\\rc\\nd\\te\\x07"
        );
        assert_eq!(escape("\x7f\u{9b}31m"), "\\x7f\\u{9b}31m");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(
            escape("\u{2066}x\u{2069}\u{200f}"),
            "\\u{2066}x\\u{2069}\\u{200f}"
        );
        assert_eq!(escape_keeping_lines("a\nb\x1b"), "a\nb\\x1b");
    }

    #[test]
    fn json_stays_json() {
        let value = serde_json::json!({"iss": "a\u{7f}\u{9b}\u{202e}\x1b"});
        let text = serde_json::to_string(&value).unwrap();
        let safe = json_for_terminal(&text);
        assert!(!safe.chars().any(is_control), "{safe}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&safe).unwrap(),
            value
        );
    }

    #[test]
    fn long_quoted_values_are_cut() {
        let long = "x".repeat(100_000);
        let message = format!("invalid value '{long}' for '--expires <time>'");
        let short = shorten(&message);
        assert!(short.len() < 300, "{short}");
        assert!(short.ends_with("...' (100000 characters) for '--expires <time>'"));
        assert_eq!(shorten("a 'b' c"), "a 'b' c");
        // Apostrophes inside words are not quotes: nothing is cut between them.
        let prose = format!(
            "hint: the identity provider's issuer {} and the IdP's certificate",
            "x ".repeat(120)
        );
        assert_eq!(shorten(&prose), prose);
        let long_line = "y".repeat(5_000);
        assert!(shorten(&long_line).ends_with("... (5000 characters)"));
    }
}
