//! The login commands' options: the server, the token sent, what is printed. How the server is
//! reached is `connection`'s.

use std::path::PathBuf;

use clap::builder::NonEmptyStringValueParser;
use clap::{ArgGroup, Args, ValueEnum, ValueHint};

use super::connection::ConnectionArgs;
use super::output::LogArgs;
use super::{NoKeyText, secret_text};
use crate::secret::SecretText;

#[derive(Debug, Args)]
pub struct LoginQscloudArgs {
    /// The tenant: its host name (mytenant.eu.qlikcloud.com) or its https URL
    #[arg(long, value_name = "host or URL", value_parser = NonEmptyStringValueParser::new())]
    pub tenant: String,

    #[command(flatten)]
    pub token: LoginTokenArgs,

    /// In place of a JWT: a file holding an OAuth access token (oauth-qscloud's); - reads
    /// standard input. No JWT login: the engine is proven with the token as Authorization:
    /// Bearer, on /api/v1/csrf-token and on the WebSocket, as Qlik Cloud takes one; no session
    /// is made
    #[arg(
        long,
        value_name = "file",
        value_hint = ValueHint::FilePath,
        group = "token",
        conflicts_with_all = ["no_engine", "cookie_jar"]
    )]
    pub access_token_file: Option<PathBuf>,

    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub output: LoginOutputArgs,
}

#[derive(Debug, Args)]
pub struct LoginQseowArgs {
    /// The https URL of the virtual proxy: the server and the proxy's prefix, such as
    /// https://qlik.example.com/jwt
    #[arg(long, value_name = "URL", value_parser = NonEmptyStringValueParser::new())]
    pub server: String,

    #[command(flatten)]
    pub token: LoginTokenArgs,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Also send the JWT as Authorization: Bearer on the engine's WebSocket, as clients written
    /// before QSEoW November 2024 do (enigma.js's old JWT example), to see whether that is
    /// what the proxy refuses: a 403 is then tried again without it, and the report says so
    #[arg(long, help_heading = "Engine", conflicts_with = "no_engine")]
    pub websocket_authorization: bool,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub output: LoginOutputArgs,
}

/// The engine proof after the HTTP login: the CSRF token, the WebSocket, the engine's answers.
#[derive(Debug, Args)]
#[command(next_help_heading = "Engine")]
pub struct EngineArgs {
    /// Also open this app (its id) on the engine and show its title: the user may open it
    #[arg(long, value_name = "app id", value_parser = NoKeyText(NonEmptyStringValueParser::new()))]
    pub app: Option<String>,

    /// The Origin the WebSocket sends (a host name, or https://host[:port] as a browser sends
    /// it; no path), when clients use another name than the server URL's host; the default is
    /// the server URL's origin
    #[arg(long, value_name = "origin", value_parser = NoKeyText(parse_origin))]
    pub origin: Option<String>,

    /// Prove the HTTP login only, not the engine's WebSocket
    #[arg(long, conflicts_with_all = ["app", "origin"])]
    pub no_engine: bool,
}

/// The token a login sends: exactly one source.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("token").required(true).args(["jwt", "jwt_file"])))]
pub struct LoginTokenArgs {
    /// The token to send. Surrounding whitespace and a "Bearer " prefix are ignored. On the
    /// command line others may see it (ps); --jwt-file keeps it off
    #[arg(long, value_name = "token", value_parser = secret_text)]
    pub jwt: Option<SecretText>,

    /// File that holds the token; - reads standard input
    #[arg(long, value_name = "file", value_hint = ValueHint::FilePath)]
    pub jwt_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct LoginOutputArgs {
    /// What to print: a report for people, or one JSON object {"accepted", "status", "server",
    /// "user", "cookies", "session", "error"}, also when the login fails. The session is ended
    /// before exit ("session": "ended") unless --cookie-jar keeps it ("kept")
    #[arg(long, value_name = "format", value_enum, default_value_t = LoginFormat::Text)]
    pub output: LoginFormat,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoginFormat {
    /// Whether the server accepted the token, and the user of the session
    Text,
    /// One JSON object, for jq and PowerShell's ConvertFrom-Json
    Json,
    /// One JSON object a client opens the engine with itself: {"websocketUrl" (with the CSRF
    /// token), "cookie" (the Cookie header's value), "origin", "csrfToken", "expires", "ends"}.
    /// It holds the session's secrets: it goes to stdout only, and the session is kept open.
    /// When the engine refuses the session, nothing is printed and the session is ended; so it
    /// is when the bundle cannot be written (a full disk, a closed pipe), unless --cookie-jar
    /// keeps it
    Session,
}

/// `--origin` as a browser sends an Origin: `scheme://host[:port]`, the scheme http or https
/// (https when only a host is given), the host in lower case, the scheme's own port left out,
/// no path, query or user.
pub(crate) fn parse_origin(text: &str) -> Result<String, String> {
    let example = "give a host name (qlik.example.com) or an origin (https://qlik.example.com)";
    let text = text.trim();
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => ("https".to_owned(), text),
    };
    if scheme != "https" && scheme != "http" {
        return Err(format!(
            "an Origin is http or https, not {scheme}; {example}"
        ));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if let Some(bad) = rest
        .chars()
        .find(|c| matches!(c, '/' | '?' | '#' | '@') || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "an Origin is a scheme, a host and a port only, with no {}; {example}",
            match bad {
                '/' => "path".to_owned(),
                '?' => "query".to_owned(),
                '#' => "fragment".to_owned(),
                '@' => "user name".to_owned(),
                _ => "blank or control character".to_owned(),
            }
        ));
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, after)) => {
                let port = match after {
                    "" => None,
                    _ => Some(after.strip_prefix(':').ok_or_else(|| {
                        format!("'{after}' after the IPv6 address is no :port; {example}")
                    })?),
                };
                if !host
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
                {
                    return Err(format!("'{host}' is no IPv6 address; {example}"));
                }
                (host, port)
            }
            None => return Err(format!("the IPv6 address has no closing ]; {example}")),
        },
        None => match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        },
    };
    if host.is_empty() {
        return Err(format!("no host; {example}"));
    }
    if !rest.starts_with('[')
        && let Some(bad) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err(match bad {
            ':' => format!("'{host}' holds a ':' (an IPv6 address goes in [ ]); {example}"),
            c if !c.is_ascii() => format!(
                "a browser sends the host '{host}' in ASCII, its punycode (xn--...); give that"
            ),
            c => format!("a host name has no '{c}'; {example}"),
        });
    }
    let port = match port {
        Some(port) => match port.parse::<u16>() {
            Ok(number) if port.bytes().all(|b| b.is_ascii_digit()) => Some(number),
            _ => {
                return Err(format!(
                    "the port '{port}' is not a number up to 65535; {example}"
                ));
            }
        },
        None => None,
    };
    let host = if rest.starts_with('[') {
        format!("[{}]", host.to_ascii_lowercase())
    } else {
        host.to_ascii_lowercase()
    };
    // A browser leaves the scheme's own port out of an Origin.
    Ok(match (scheme.as_str(), port) {
        (_, None) | ("https", Some(443)) | ("http", Some(80)) => format!("{scheme}://{host}"),
        (_, Some(port)) => format!("{scheme}://{host}:{port}"),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[test]
    fn an_origin_is_a_scheme_a_host_and_a_port() {
        for (given, origin) in [
            ("qlik.example.com", "https://qlik.example.com"),
            ("Qlik.Example.com", "https://qlik.example.com"),
            ("HTTP://localhost:5173/", "http://localhost:5173"),
            ("https://[::1]:8443", "https://[::1]:8443"),
            ("[::1]", "https://[::1]"),
            ("https://qlik.example.com:443", "https://qlik.example.com"),
            ("http://[::1]:80/", "http://[::1]"),
            ("http://qlik.example.com:443", "http://qlik.example.com:443"),
            ("http://qlik.example.com:80", "http://qlik.example.com"),
            ("qlik.example.com.", "https://qlik.example.com."),
            ("[::FFFF:127.0.0.1]:443", "https://[::ffff:127.0.0.1]"),
        ] {
            assert_eq!(parse_origin(given).as_deref(), Ok(origin), "{given}");
        }
        for (given, said) in [
            ("https://", "no host"),
            ("ftp://x", "not ftp"),
            ("qlik.example.com/hub", "no path"),
            ("https://a b", "no blank"),
            ("https://user@host", "no user name"),
            ("host:99999", "the port '99999'"),
            ("host:", "the port ''"),
            ("[::1", "no closing ]"),
            ("https://::1", "holds a ':'"),
            ("qlik.example.com:8443:1", "holds a ':'"),
            ("host:+80", "the port '+80'"),
            ("[::1]junk", "is no :port"),
            ("[qlik]", "is no IPv6 address"),
            ("bücher.example.com", "punycode"),
            ("qlik.example.com,evil.example.com", "has no ','"),
        ] {
            let err = parse_origin(given).unwrap_err();
            assert!(err.contains(said), "{given}: {err}");
        }
    }
}
