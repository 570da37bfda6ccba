//! Reading what a flag points at: a file, or standard input for `-`. One place, so every such
//! flag (--cert-privatekey-file, --cert-publickey-file, --jwt-file) gets the same checks (a
//! folder, binary content, a terminal) and messages that name the flag.

use std::fs;
use std::io::{self, IsTerminal, Read};
use std::path::Path;

use crate::error::UserError;

/// What a file flag expects, for its messages.
pub struct FileFlag {
    /// The flag, as in `--cert-privatekey-file`.
    pub flag: &'static str,
    /// What the file holds, as in "private key": "give the private key file in it".
    pub holds: &'static str,
    /// The text format expected, as in "PEM": "is binary, not PEM text".
    pub format: &'static str,
    /// The command that converts a binary (DER) file, given the path as shown.
    pub der_hint: Option<fn(&str) -> String>,
}

/// Reads the text file `path` named by `flag`.
pub fn read_file(path: &Path, flag: &FileFlag) -> Result<String, UserError> {
    let FileFlag {
        flag,
        holds,
        format,
        der_hint,
    } = flag;
    let shown = path.display().to_string();
    let cannot_read =
        |e: io::Error| UserError::runtime(format!("cannot read {flag} '{shown}': {e}"));
    if fs::metadata(path).map_err(cannot_read)?.is_dir() {
        return Err(UserError::runtime(format!(
            "{flag} '{shown}' is a folder; give the {holds} file in it"
        )));
    }
    let bytes = fs::read(path).map_err(cannot_read)?;
    String::from_utf8(bytes).map_err(|_| {
        let err = UserError::runtime(format!("{flag} '{shown}' is binary, not {format} text"));
        match der_hint {
            Some(hint) => err.with_hint(hint(&shown)),
            None => err,
        }
    })
}

/// Reads standard input for `<flag> -`. `what` is "the key" or "the token"; `example` shows how
/// to pipe it in.
pub fn read_stdin(flag: &str, what: &str, example: &str) -> Result<String, UserError> {
    let mut stdin = io::stdin();
    // Waiting for someone to type would hang a script; qs-jwt never prompts.
    if stdin.is_terminal() {
        return Err(UserError::usage(format!(
            "{flag} - reads {what} from standard input, which is a terminal; pipe {what} in, for \
             example: {example}"
        )));
    }
    let mut text = String::new();
    stdin
        .read_to_string(&mut text)
        .map_err(|e| UserError::runtime(format!("cannot read {what} from standard input: {e}")))?;
    Ok(text)
}
