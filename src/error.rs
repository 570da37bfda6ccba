//! Errors the user can act on, the exit code each one gets, and the last line of defence that
//! keeps key text out of whatever we print about them.

use std::borrow::Cow;
use std::fmt;

use crate::render::{escape, escape_keeping_lines, shorten};

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

/// A clap usage error in clap's words and layout, made safe like ours: clap quotes the
/// argument it rejects, which may be a key in the wrong place or text with escape sequences.
/// clap's own colouring cannot tell its codes from an argument's, so the text is taken plain
/// and `error:` coloured here, as in [`render`].
pub fn render_clap(err: &clap::Error, colour: bool) -> String {
    let plain = err.render().to_string();
    let safe = shorten(&escape_keeping_lines(&redact_keys(&plain))).into_owned();
    match safe.strip_prefix("error:") {
        Some(rest) if colour => format!("{}{rest}", label("error:", true)),
        _ => safe,
    }
}

/// Text about an error as it may be shown: key material redacted first (so that nothing of a
/// key survives cutting), then control characters escaped, then long values cut.
pub fn for_people(text: &str) -> String {
    shorten(&escape(&redact_keys(text))).into_owned()
}

fn label(text: &str, colour: bool) -> String {
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
pub const REDACTED: &str = "[key text redacted]";

/// Base64 runs at least this long are taken for key material when they look random.
const MIN_KEY_RUN: usize = 20;

/// The most characters between two pieces of key material that are still taken as one key: a
/// line break written as `\n` or `\u000a`, `%0A`, a separator such as `|` or `,`.
const MAX_GLUE: usize = 8;

/// Replaces key material in `text` with [`REDACTED`].
///
/// Our own messages never quote key text, but clap quotes the arguments it rejects, and a key
/// passed to the wrong flag (or a path that is really `$QSJWTPRIVKEY`) would land in an error.
/// Keys arrive mangled by shells, CI secret stores and copy and paste, so this does not rely on
/// well-formed PEM. Two rules, each enough on its own:
/// - everything from a BEGIN-like marker (dashes, then "begin", in any case, with any spacing
///   or invisible characters) to the end of an END-like marker, or without one to the closing
///   quote or the end of the text;
/// - every run of base64 of [`MIN_KEY_RUN`] or more characters that looks random (see
///   `Run::looks_random`: as random base64 does, and words, paths and flags do not), together
///   with the short base64 pieces glued to it (the first or last line of a key).
pub fn redact_keys(text: &str) -> Cow<'_, str> {
    let mut spans = marker_spans(text);
    spans.extend(base64_spans(text));
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 || is_glue(&text[last.1..start]) => {
                last.1 = last.1.max(end);
            }
            _ => merged.push((start, end)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in merged {
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// Characters a mangled key may carry that show as nothing: zero-width spaces and joiners, the
/// soft hyphen, word joiners, a byte order mark.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}' | '\u{180e}' | '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}'
    )
}

fn is_base64(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')
}

/// Text between two pieces of a key that still joins them: short, and only line breaks (real or
/// written out), separators and percent signs.
fn is_glue(between: &str) -> bool {
    between.len() <= MAX_GLUE
        && between.chars().all(|c| {
            c.is_whitespace() || is_invisible(c) || matches!(c, '\\' | '|' | ',' | ';' | '%')
        })
}

/// The text folded for finding markers: invisible characters dropped, letters in lower case,
/// each with its byte range in `text`.
fn folded(text: &str) -> Vec<(char, usize, usize)> {
    text.char_indices()
        .filter(|(_, c)| !is_invisible(*c))
        .map(|(at, c)| (c.to_ascii_lowercase(), at, at + c.len_utf8()))
        .collect()
}

/// Whether `word` follows a run of dashes that ends at `dashes_end`, after optional spaces.
fn marker_at(folded: &[(char, usize, usize)], dashes_end: usize, word: &str) -> bool {
    let mut i = dashes_end;
    while folded.get(i).is_some_and(|(c, ..)| *c == ' ') {
        i += 1;
    }
    word.chars()
        .enumerate()
        .all(|(k, w)| folded.get(i + k).is_some_and(|(c, ..)| *c == w))
}

fn marker_spans(text: &str) -> Vec<(usize, usize)> {
    let folded = folded(text);
    let mut spans = Vec::new();
    let mut i = 0;
    while i < folded.len() {
        let dashes = folded[i..].iter().take_while(|(c, ..)| *c == '-').count();
        if dashes < 2 || !marker_at(&folded, i + dashes, "begin") {
            i += dashes.max(1);
            continue;
        }
        let start = folded[i].1;
        let (end, next) = end_marker(&folded, i + dashes).unwrap_or_else(|| {
            // No END: up to the quote clap closes a value with, or to the end.
            let quote = folded[i..]
                .iter()
                .position(|(c, ..)| *c == '\'')
                .map(|k| i + k);
            match quote {
                Some(q) => (folded[q].1, q),
                None => (text.len(), folded.len()),
            }
        });
        spans.push((start, end));
        i = next;
    }
    spans
}

/// The end of the first END-like marker from `from`: its dashes, "end", the label, and the
/// closing dashes. Returns the byte end and the folded index after it.
fn end_marker(folded: &[(char, usize, usize)], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i < folded.len() {
        let dashes = folded[i..].iter().take_while(|(c, ..)| *c == '-').count();
        if dashes >= 2 && marker_at(folded, i + dashes, "end") {
            let mut j = i + dashes;
            while folded
                .get(j)
                .is_some_and(|(c, ..)| c.is_ascii_alphanumeric() || *c == ' ')
            {
                j += 1;
            }
            while folded.get(j).is_some_and(|(c, ..)| *c == '-') {
                j += 1;
            }
            let end = folded.get(j - 1).map_or(0, |(_, _, end)| *end);
            return Some((end, j));
        }
        i += dashes.max(1);
    }
    None
}

/// One run of base64 characters (invisible characters inside it included), with what tells
/// random base64 from words, paths and flags.
struct Run {
    start: usize,
    end: usize,
    len: usize,
    upper: usize,
    lower: usize,
    digit: usize,
    /// A letter next to a digit: what is left of randomness in a key whose letters were all
    /// turned to one case, and rare in `keys2024` or `user2`.
    digit_switches: usize,
    last: Option<char>,
}

impl Run {
    /// Random base64 is about 40% upper case, 40% lower case and 15% digits, mixed all through;
    /// words, paths and flags are mostly lower case, with a capital at the start of a word
    /// (`/Users/AnnaAnderson/Documents`) and digits in a clump (`keys2024`).
    fn looks_random(&self) -> bool {
        self.len >= MIN_KEY_RUN
            && ((self.upper > 0 && self.lower > 0 && self.digit > 0)
                || (self.upper * 4 >= self.len && self.lower * 4 >= self.len)
                || self.digit_switches * 8 >= self.len)
    }

    /// A short piece that may end or start a key: anything but a lower-case word.
    fn may_be_key(&self) -> bool {
        self.upper > 0 || self.digit > 0
    }

    fn push(&mut self, c: char) {
        self.len += 1;
        self.upper += usize::from(c.is_ascii_uppercase());
        self.lower += usize::from(c.is_ascii_lowercase());
        self.digit += usize::from(c.is_ascii_digit());
        let switch = self.last.is_some_and(|last| {
            (last.is_ascii_alphabetic() && c.is_ascii_digit())
                || (last.is_ascii_digit() && c.is_ascii_alphabetic())
        });
        self.digit_switches += usize::from(switch);
        self.last = Some(c);
    }
}

fn base64_runs(text: &str) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut current: Option<Run> = None;
    for (at, c) in text.char_indices() {
        if is_base64(c) || (is_invisible(c) && current.is_some()) {
            let run = current.get_or_insert(Run {
                start: at,
                end: at,
                len: 0,
                upper: 0,
                lower: 0,
                digit: 0,
                digit_switches: 0,
                last: None,
            });
            run.end = at + c.len_utf8();
            if is_base64(c) {
                run.push(c);
            }
        } else if let Some(run) = current.take() {
            runs.push(run);
        }
    }
    runs.extend(current);
    runs
}

fn base64_spans(text: &str) -> Vec<(usize, usize)> {
    let runs = base64_runs(text);
    let mut keep: Vec<bool> = runs.iter().map(Run::looks_random).collect();
    // Spread to the pieces glued on either side, as far as the glue goes.
    for i in 1..runs.len() {
        if keep[i - 1] && !keep[i] && runs[i].may_be_key() {
            keep[i] = is_glue(&text[runs[i - 1].end..runs[i].start]);
        }
    }
    for i in (0..runs.len().saturating_sub(1)).rev() {
        if keep[i + 1] && !keep[i] && runs[i].may_be_key() {
            keep[i] = is_glue(&text[runs[i].end..runs[i + 1].start]);
        }
    }
    runs.iter()
        .zip(keep)
        .filter(|(_, keep)| *keep)
        .map(|(run, _)| (run.start, run.end))
        .collect()
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

    #[test]
    fn a_quoted_part_of_a_key_without_digits_is_redacted() {
        let text = "folder 'ONiDz/chNkKP/qvrKounOGATyWrCLSZGEsXzD' does not exist";
        assert_eq!(
            redact_keys(text),
            "folder '[key text redacted]' does not exist"
        );
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
