//! The process's standard streams: the product goes to standard output, and a stream that was
//! closed before qs-jwt started must not lend its number to a file qs-jwt opens.

use std::io::{self, Write};

use anyhow::{Context, Result};

/// Which standard streams were closed when qs-jwt started (`qs-jwt ... >&-`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClosedStreams {
    pub stdout: bool,
}

/// Puts `/dev/null` on every standard stream that is closed, and says which were.
///
/// Must run before anything opens a file. A closed descriptor 1 or 2 is the lowest free
/// number, so the next file opened gets it: the private key file of `--cert-create`, say, and
/// then the token, or a log line, would be written into that file. `/dev/null` takes the number
/// instead; the caller then refuses to run with a closed standard output, since the product
/// could not be delivered (std's `Stdout` would silently drop it: it treats a closed descriptor
/// as a sink).
#[cfg(unix)]
pub fn reopen_closed() -> ClosedStreams {
    use std::os::fd::{AsFd, BorrowedFd, IntoRawFd};

    fn is_closed(fd: BorrowedFd) -> bool {
        // dup fails with EBADF exactly when the descriptor is not open.
        fd.try_clone_to_owned().is_err()
    }
    let mut closed = ClosedStreams::default();
    let streams = [
        is_closed(io::stdin().as_fd()),
        is_closed(io::stdout().as_fd()),
        is_closed(io::stderr().as_fd()),
    ];
    for (number, is_closed) in streams.into_iter().enumerate() {
        if !is_closed {
            continue;
        }
        if number == 1 {
            closed.stdout = true;
        }
        // Lower numbers are open by now, so open() returns exactly this one; it stays open for
        // the life of the process, as a standard stream does.
        if let Ok(null) = std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
        {
            let _ = null.into_raw_fd();
        }
    }
    closed
}

/// Windows has no descriptor numbers to reuse; a missing standard output shows as an error
/// when the product is written.
#[cfg(not(unix))]
pub fn reopen_closed() -> ClosedStreams {
    ClosedStreams::default()
}

/// Writes the product and one newline to standard output, all of it or an error: a full disk
/// (`/dev/full`), a closed pipe or a closed stream is a failure, never a silent exit 0.
pub fn print_product(text: &str) -> Result<()> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush())
        .context("cannot write to standard output")
}
