//! clap's usage errors as people read them: clap's words and layout, made as safe as ours
//! (`error::for_people`), and a tip when key text was taken for an option.

use std::ffi::OsString;

use crate::error::{label, redact_keys};
use crate::render::{escape_keeping_lines, shorten};

/// A clap usage error in clap's words and layout, made safe like ours: clap quotes the
/// argument it rejects, which may be a key in the wrong place or text with escape sequences.
/// clap's own colouring cannot tell its codes from an argument's, so the text is taken plain
/// and `error:` coloured here, as in `error::render`.
pub fn render_clap(err: &clap::Error, colour: bool) -> String {
    render_clap_for(err, colour, &[])
}

/// [`render_clap`], with the command line: a key pasted as a flag's value (`--keyid "$(cat
/// key.pem)"`) starts with dashes, so clap takes it for an unknown option and never names the
/// flag; the flag before it is named in a tip, and what to do.
pub fn render_clap_for(err: &clap::Error, colour: bool, args: &[OsString]) -> String {
    let mut plain = err.render().to_string();
    if let Some(tip) = key_text_taken_for_an_option(err, args) {
        // Before the usage, where clap places its own tips (not after the first line: the
        // quoted key has line breaks of its own).
        let at = plain.find("\n\nUsage:").unwrap_or(plain.len());
        plain.insert_str(at, &format!("\n\n  tip: {tip}"));
    }
    let safe = shorten(&escape_keeping_lines(&redact_keys(&plain))).into_owned();
    match safe.strip_prefix("error:") {
        Some(rest) if colour => format!("{}{rest}", label("error:", true)),
        _ => safe,
    }
}

/// The tip for key text that clap took for an option: which flag it followed, and where a
/// private key goes instead. None for any other error.
fn key_text_taken_for_an_option(err: &clap::Error, args: &[OsString]) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if err.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    if !crate::secret::holds_key_material(arg) {
        return None;
    }
    let flag = args
        .iter()
        // clap cuts an option at its first `=`, which a key's base64 padding holds.
        .position(|a| a.to_string_lossy().starts_with(arg.as_str()))
        .and_then(|i| i.checked_sub(1))
        .map(|i| args[i].to_string_lossy().into_owned())
        .filter(|flag| flag.starts_with("--"));
    let given = match flag {
        Some(flag) => format!("the value given to {flag} holds key text (a PEM block)"),
        None => "a value holds key text (a PEM block)".to_owned(),
    };
    Some(format!(
        "{given}, which would be signed into the token or sent to Qlik; give the name or id \
         itself. A private key is given only with --cert-privatekey-file, --cert-privatekey or \
         QSJWTPRIVKEY"
    ))
}
