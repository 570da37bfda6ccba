//! Reading what a flag points at: a file, or standard input for `-`. One place, so every such
//! flag (--cert-privatekey-file, --cert-publickey-file, --jwt-file) gets the same checks (a
//! folder, binary content, a terminal, a size limit) and messages that name the flag.

use std::fs::{self, File};
use std::io::{self, IsTerminal, Read};
use std::path::Path;

use crate::error::UserError;

/// The most any of these inputs may hold: far above a real key, certificate or token (a
/// 16384-bit key in PEM is about 13 KB, a certificate chain a few KB), far below what would
/// hurt. `--cert-privatekey-file /dev/zero` read until memory ran out before this limit.
pub const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// Reads at most `limit` bytes; more is an error built by `too_large`. Checked while reading,
/// so an endless source (a device, a pipe) stops at the limit; a FIFO or a process
/// substitution (`<(...)`) is read like any file.
fn read_bounded(
    reader: impl Read,
    size_hint: u64,
    limit: u64,
    too_large: impl FnOnce() -> UserError,
    cannot_read: impl FnOnce(io::Error) -> UserError,
) -> Result<Vec<u8>, UserError> {
    // Room for the whole file at once (one read, as fs::read does), never more than the limit.
    let capacity = usize::try_from(size_hint.min(limit) + 1).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

fn size(limit: u64) -> String {
    if limit.is_multiple_of(1024 * 1024) {
        format!("{} MiB", limit / (1024 * 1024))
    } else {
        format!("{limit} bytes")
    }
}

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
    let file = File::open(path).map_err(cannot_read)?;
    // A device or a FIFO reports 0 (or anything): only a hint.
    let size_hint = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bytes = read_bounded(
        file,
        size_hint,
        MAX_INPUT_BYTES,
        || {
            UserError::runtime(format!(
                "{flag} '{shown}' holds more than {}, far more than any {holds}; give the {holds} \
                 file",
                size(MAX_INPUT_BYTES)
            ))
        },
        cannot_read,
    )?;
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
    let stdin = io::stdin();
    // Waiting for someone to type would hang a script; qs-jwt never prompts.
    if stdin.is_terminal() {
        return Err(UserError::usage(format!(
            "{flag} - reads {what} from standard input, which is a terminal; pipe {what} in, for \
             example: {example}"
        )));
    }
    let bytes = read_bounded(
        stdin.lock(),
        0,
        MAX_INPUT_BYTES,
        || {
            UserError::runtime(format!(
                "standard input ({flag} -) holds more than {}, far more than {what}",
                size(MAX_INPUT_BYTES)
            ))
        },
        |e| UserError::runtime(format!("cannot read {what} from standard input: {e}")),
    )?;
    String::from_utf8(bytes).map_err(|_| {
        UserError::runtime(format!(
            "standard input ({flag} -) is binary, not text; pipe {what} in as text"
        ))
    })
}

const TOKEN_FILE: FileFlag = FileFlag {
    flag: "--jwt-file",
    holds: "token",
    format: "JWT",
    der_hint: None,
};

/// The token of `--jwt` (its text) or `--jwt-file` (a file, or standard input for `-`), as it
/// was given; `command` shows how to pipe one in (`decode`, `login-qscloud --tenant <tenant>`).
/// For decode and the login commands alike.
pub fn read_token(
    jwt: Option<&str>,
    jwt_file: Option<&Path>,
    command: &str,
) -> Result<String, UserError> {
    match (jwt, jwt_file) {
        (Some(jwt), _) => Ok(jwt.to_owned()),
        (None, Some(path)) if path.as_os_str() == "-" => read_stdin(
            "--jwt-file",
            "the token",
            &format!("echo \"$TOKEN\" | qs-jwt {command} --jwt-file -"),
        ),
        (None, Some(path)) => read_file(path, &TOKEN_FILE),
        // clap's groups require one of the two.
        (None, None) => Err(UserError::usage("give --jwt <token> or --jwt-file <file>")),
    }
}
