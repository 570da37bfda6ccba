//! How a command reaches a server: trust, cookies, the time limit.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueHint};

/// How the login reaches the server. A proxy comes from https_proxy/HTTPS_PROXY (or
/// all_proxy/ALL_PROXY), except for the hosts NO_PROXY names.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectionArgs {
    /// File with the certificate (PEM) of a certificate authority to trust besides the operating
    /// system's, such as the one that signed a QSEoW server's certificate; or the server's own
    /// self-signed certificate, then trusted for that server alone (its name and dates are still
    /// checked)
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cacert: Option<PathBuf>,

    /// Do not verify the server's certificate: anyone on the way could read the token. For a
    /// test server only; qs-jwt warns on every use, at every --loglevel
    #[arg(long)]
    pub insecure: bool,

    /// Write the session's cookies to this file, in the Netscape format curl -b reads (owner
    /// only; an existing file is replaced), and keep the session open for them. Without it
    /// the session is ended before exit
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub cookie_jar: Option<PathBuf>,

    /// The most time the login may take, each request, and reading the --cacert and --jwt-file
    /// files: 30s, 2m, 1m 30s. Once a session is made, the last quarter (5s at most) is kept for
    /// ending it
    #[arg(long, value_name = "time", default_value = "30s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

/// The longest --timeout: a day. Far beyond any login; a time past the clock's range would
/// overflow when it is added to now.
const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// A time limit such as 30s, 2m or 1m 30s (humantime's grammar), one second to a day.
pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    let example = "for example 30s, 2m or 1m 30s";
    match humantime::parse_duration(text.trim()) {
        Ok(duration) if duration > MAX_TIMEOUT => Err(format!("must be a day at most; {example}")),
        Ok(duration) if duration >= Duration::from_secs(1) => Ok(duration),
        Ok(_) => Err(format!("must be at least one second; {example}")),
        Err(_) => Err(format!("expected a time with a unit; {example}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_have_a_unit_and_last_a_second_at_least() {
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(parse_timeout("30").unwrap_err().contains("unit"));
        assert!(parse_timeout("0s").unwrap_err().contains("at least"));
        assert!(parse_timeout("500ms").unwrap_err().contains("at least"));
        assert!(
            parse_timeout("500000000000y")
                .unwrap_err()
                .contains("a day at most")
        );
        assert!(parse_timeout("18446744073709551615s").is_err());
    }
}
