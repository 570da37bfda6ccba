//! The only place that talks to a server: the login commands' HTTPS requests.
//!
//! What it guarantees, whoever calls it:
//! - TLS with rustls on the aws-lc-rs provider (the crate's one crypto backend), trusting the
//!   operating system's certificate store plus `--cacert`; `--insecure` turns verification off
//!   and the caller says so.
//! - Redirects are never followed: a token sent as `Authorization` must reach only the host the
//!   user named, and a redirect is an answer to report (QSEoW's redirect to a login page means
//!   "no session"), not an instruction.
//! - A time limit on each request (`--timeout`); replies read up to [`MAX_REPLY_BYTES`].
//! - A proxy only from `https_proxy`/`HTTPS_PROXY` (or `all_proxy`/`ALL_PROXY`), as curl reads
//!   them for https URLs, and never for a host `NO_PROXY` names.
//! - Every failure is one line naming the host and the cause, with a hint where one helps.
//! - Nothing here logs a header's value: the token and the cookies are secrets.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ureq::Agent;
use ureq::http::Uri;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

use crate::error::UserError;
use crate::input::{self, FileFlag};
use crate::secret::SecretText;
use crate::{debug, verbose};

/// The most of a reply that is read: Qlik's answers to these requests are a few KB.
pub const MAX_REPLY_BYTES: u64 = 1024 * 1024;

/// Where requests go: an https origin and an optional base path (a QSEoW virtual proxy prefix),
/// parsed once from `--tenant` or `--server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// The host as written in the URL (an IPv6 address keeps its brackets).
    pub host: String,
    pub port: Option<u16>,
    /// "" or "/prefix", never ending in '/'.
    pub base_path: String,
}

impl Server {
    /// Reads `text` (from `flag`) as an https URL, or as a bare host name when `bare_host` says
    /// one is fine (`--tenant mytenant.eu.qlikcloud.com`). http is refused: the token would
    /// cross the network in clear text.
    pub fn parse(text: &str, flag: &str, bare_host: bool) -> Result<Self, UserError> {
        let trimmed = text.trim();
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_owned()
        } else if bare_host {
            format!("https://{trimmed}")
        } else {
            return Err(UserError::usage(format!(
                "{flag} '{trimmed}' is not a URL; give the https URL, for example \
                 https://qlik.example.com/jwt"
            )));
        };
        let bad = |why: &str| UserError::usage(format!("{flag} '{trimmed}' {why}"));
        let uri: Uri = with_scheme
            .parse()
            .map_err(|_| bad("is not a valid URL or host name"))?;
        match uri.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => {}
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => {
                return Err(bad(
                    "is http: the token would cross the network in clear text; use https",
                ));
            }
            _ => return Err(bad("is not an https URL")),
        }
        let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("holds a user name or password; give the host alone"));
        }
        if authority.host().is_empty() {
            return Err(bad("has no host"));
        }
        if uri.query().is_some() || with_scheme.contains('#') {
            return Err(bad(
                "has a query or a fragment; give the host and path alone",
            ));
        }
        // port_u16() is None for a port out of range as for no port at all: the token would
        // go to 443 instead of the port the user named.
        // (The http crate's own port() says None then too, so the text after the host is read.)
        let text = authority.as_str();
        let after_host = match text.strip_prefix('[') {
            Some(rest) => rest
                .find(']')
                .map(|end| &rest[end + 1..])
                .unwrap_or_default(),
            None => text.rfind(':').map(|at| &text[at..]).unwrap_or_default(),
        };
        let port = match after_host.strip_prefix(':') {
            Some("") => return Err(bad("has an empty port; give one, such as :443, or none")),
            Some(digits) => Some(
                digits
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad("has a port outside 1 to 65535"))?,
            ),
            None => None,
        };
        let base_path = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            host: authority.host().to_owned(),
            port,
            base_path,
        })
    }

    /// `https://host[:port]`, for messages and for the start of every request's URL.
    pub fn origin(&self) -> String {
        match self.port {
            Some(port) => format!("https://{}:{port}", self.host),
            None => format!("https://{}", self.host),
        }
    }

    /// The URL of `path` (starting with '/') below the base path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}{path}", self.origin(), self.base_path)
    }

    /// The host without IPv6 brackets, as NO_PROXY and cookie domains name it.
    pub fn bare_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }

    fn shown(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.base_path)
    }
}

/// How to reach the server, from the command line.
pub struct ClientOptions<'a> {
    pub cacert: Option<&'a Path>,
    pub insecure: bool,
    pub timeout: Duration,
}

/// An HTTPS client for one server.
pub struct Client {
    agent: Agent,
    server: Server,
    timeout: Duration,
    proxy: Option<String>,
}

/// One request: a method, a path below the server's base path, and its secrets.
pub struct Request<'a> {
    pub method: Method,
    /// Starts with '/'; may carry a query.
    pub path: String,
    pub bearer: Option<&'a SecretText>,
    /// The `Cookie` header's value.
    pub cookies: Option<&'a SecretText>,
    /// Headers that are not secret.
    pub headers: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A server's answer, of any status: what the caller needs of it.
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    /// Every `Set-Cookie` header, raw: they hold session secrets.
    pub set_cookies: Vec<SecretText>,
    pub body: Vec<u8>,
}

const CACERT_FILE: FileFlag = FileFlag {
    flag: "--cacert",
    holds: "CA certificate",
    format: "PEM",
    der_hint: Some(der_hint),
};

fn der_hint(path: &str) -> String {
    format!("convert it to PEM: openssl x509 -inform DER -in '{path}' -out ca.pem")
}

impl Client {
    pub fn new(server: Server, options: &ClientOptions<'_>) -> Result<Self, UserError> {
        let proxy = proxy_for(server.bare_host(), |name| std::env::var(name).ok());
        // ureq is built without SOCKS (it would panic on one): an HTTP proxy or none.
        if let Some(url) = &proxy {
            let scheme = url
                .split("://")
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if url.contains("://") && !matches!(scheme.as_str(), "http" | "https") {
                return Err(UserError::runtime(format!(
                    "the proxy {} in {} is a {scheme} proxy; qs-jwt goes through an HTTP proxy \
                     (CONNECT) only: set HTTPS_PROXY to one, or add {} to NO_PROXY",
                    proxy_shown(url),
                    PROXY_VARIABLES.join(" or "),
                    server.bare_host()
                )));
            }
        }
        let ureq_proxy = match &proxy {
            // The environment, not the command line: a run-time error (exit 1).
            Some(url) => Some(ureq::Proxy::new(url).map_err(|_| {
                UserError::runtime(format!(
                    "the proxy in {} is not a proxy URL; give one such as http://proxy.example.com:3128",
                    PROXY_VARIABLES.join(" or ")
                ))
            })?),
            None => None,
        };
        let tls = tls_config(options)?;
        let config = Agent::config_builder()
            .https_only(true)
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(options.timeout))
            .proxy(ureq_proxy)
            .tls_config(tls)
            .user_agent(concat!("qs-jwt/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Self {
            agent: config.into(),
            server,
            timeout: options.timeout,
            proxy,
        })
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Sends one request and reads the reply, whatever its status.
    pub fn send(&self, request: &Request<'_>) -> Result<Reply, UserError> {
        let url = self.server.url(&request.path);
        let shown_path = request.path.split('?').next().unwrap_or_default();
        // At debug, whose lines are not redacted: a path may hold a random user id, which the
        // redaction of the other levels would take for key text.
        debug!(
            "{} {}{}{shown_path}{}",
            match request.method {
                Method::Get => "GET",
                Method::Post => "POST",
            },
            self.server.origin(),
            self.server.base_path,
            match &self.proxy {
                Some(proxy) => format!(" through the proxy {}", proxy_shown(proxy)),
                None => String::new(),
            }
        );
        let mut headers: Vec<(&str, String)> = request
            .headers
            .iter()
            .map(|(name, value)| (*name, value.clone()))
            .collect();
        if let Some(token) = request.bearer {
            headers.push(("Authorization", format!("Bearer {}", token.expose())));
        }
        if let Some(cookies) = request.cookies {
            headers.push(("Cookie", cookies.expose().to_owned()));
        }
        // ureq types a request with a body apart from one without; the headers go on either.
        fn with_headers<B>(
            mut builder: ureq::RequestBuilder<B>,
            headers: &[(&str, String)],
        ) -> ureq::RequestBuilder<B> {
            for (name, value) in headers {
                builder = builder.header(*name, value);
            }
            builder
        }
        let result = match request.method {
            Method::Get => with_headers(self.agent.get(&url), &headers).call(),
            Method::Post => with_headers(self.agent.post(&url), &headers).send_empty(),
        };
        let mut response = result.map_err(|e| self.failure(&e))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status().as_u16();
        let location = header("location");
        let retry_after = header("retry-after");
        let content_type = header("content-type");
        let set_cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(SecretText::composed)
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_vec()
            .map_err(|e| self.failure(&e))?;
        debug!("HTTP {status}, {} bytes", body.len());
        Ok(Reply {
            status,
            location,
            retry_after,
            content_type,
            set_cookies,
            body,
        })
    }

    /// A transport failure as one line naming the host, and a hint where one helps.
    fn failure(&self, err: &ureq::Error) -> UserError {
        let host = self.server.shown();
        let via = match &self.proxy {
            Some(proxy) => format!(" (through the proxy {})", proxy_shown(proxy)),
            None => String::new(),
        };
        if let Some(tls) = rustls_error(err) {
            return tls_failure(&host, tls);
        }
        let message = match err {
            ureq::Error::HostNotFound => return self.host_not_found(&via),
            ureq::Error::Io(e) if is_lookup_failure(e) => return self.host_not_found(&via),
            ureq::Error::Timeout(_) => {
                return UserError::runtime(format!(
                    "no answer from {host}{via} within {} (--timeout)",
                    humantime::format_duration(self.timeout)
                ))
                .with_hint(
                    "check the host, the port and any firewall on the way, or raise --timeout",
                );
            }
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return UserError::runtime(format!(
                    "cannot connect to {host}{via}: connection refused"
                ))
                .with_hint("check the host and the port: nothing accepts connections there");
            }
            ureq::Error::Io(e) => format!("the connection to {host}{via} failed: {e}"),
            ureq::Error::ConnectProxyFailed(why) => {
                format!("the proxy did not connect to {host}{via}: {why}")
            }
            ureq::Error::ConnectionFailed => format!("cannot connect to {host}{via}"),
            ureq::Error::BodyExceedsLimit(_) => format!(
                "the reply from {host} is larger than {} MiB, far more than Qlik sends here",
                MAX_REPLY_BYTES / (1024 * 1024)
            ),
            ureq::Error::Protocol(e) => {
                format!("{host} did not answer in HTTP/1.1: {e}")
            }
            other => format!("the request to {host}{via} failed: {other}"),
        };
        UserError::runtime(message)
    }
}

impl Client {
    fn host_not_found(&self, via: &str) -> UserError {
        UserError::runtime(format!(
            "cannot find the host {}{via}: the name does not resolve",
            self.server.bare_host()
        ))
        .with_hint("check the host name, and the network or VPN that serves it")
    }
}

/// Whether an I/O error is a failed name lookup: std reports getaddrinfo's failures as
/// "failed to lookup address information" on Unix, and Windows as WSAHOST_NOT_FOUND (11001) or
/// WSANO_DATA (11004).
fn is_lookup_failure(e: &std::io::Error) -> bool {
    e.to_string().contains("lookup address") || matches!(e.raw_os_error(), Some(11001 | 11004))
}

/// The rustls error inside a ureq error, if the failure was in TLS: ureq gives a handshake
/// failure as an I/O error that wraps it.
fn rustls_error(err: &ureq::Error) -> Option<&rustls::Error> {
    match err {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e.get_ref().and_then(|inner| inner.downcast_ref()),
        _ => None,
    }
}

fn tls_failure(host: &str, err: &rustls::Error) -> UserError {
    use rustls::CertificateError as C;
    let insecure = "or, for a test server only, --insecure";
    match err {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => UserError::runtime(format!(
            "the certificate of {host} is signed by an unknown certificate authority"
        ))
        .with_hint(format!(
            "give that authority's certificate with --cacert <file> (PEM), {insecure}"
        )),
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => UserError::runtime(format!(
            "the certificate of {host} is not made out to that name"
        ))
        .with_hint("use the host name the certificate names"),
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            UserError::runtime(format!("the certificate of {host} has expired"))
        }
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            UserError::runtime(format!(
                "the certificate of {host} is not valid yet: check this machine's clock"
            ))
        }
        rustls::Error::InvalidCertificate(other) => UserError::runtime(format!(
            "the certificate of {host} is not accepted: {other:?}"
        ))
        .with_hint(format!("check the server's certificate, {insecure}")),
        other => UserError::runtime(format!("TLS with {host} failed: {other}")),
    }
}

fn tls_config(options: &ClientOptions<'_>) -> Result<TlsConfig, UserError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(provider);
    if options.insecure {
        return Ok(builder.disable_verification(true).build());
    }
    let mut roots: Vec<Certificate<'static>> = Vec::new();
    let native = rustls_native_certs::load_native_certs();
    verbose!(
        "{} certificate authorities from the operating system's store",
        native.certs.len()
    );
    roots.extend(
        native
            .certs
            .into_iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
    );
    if let Some(path) = options.cacert {
        let added = cacert(path)?;
        verbose!(
            "{} certificate authorities from --cacert '{}'",
            added.len(),
            path.display()
        );
        roots.extend(added);
    }
    Ok(builder
        .root_certs(RootCerts::new_with_certs(&roots))
        .build())
}

/// The certificates in the `--cacert` file, PEM, one or more.
fn cacert(path: &Path) -> Result<Vec<Certificate<'static>>, UserError> {
    let text = input::read_file(path, &CACERT_FILE)?;
    let shown = path.display();
    let blocks = pem::parse_many(text.as_bytes())
        .map_err(|e| UserError::runtime(format!("--cacert '{shown}' is not PEM text: {e}")))?;
    let certs: Vec<Certificate<'static>> = blocks
        .iter()
        .filter(|block| block.tag() == "CERTIFICATE")
        .map(|block| Certificate::from_der(block.contents()).to_owned())
        .collect();
    if certs.is_empty() {
        return Err(UserError::runtime(format!(
            "--cacert '{shown}' holds no certificate; expected BEGIN CERTIFICATE"
        )));
    }
    Ok(certs)
}

/// The variables a proxy is read from, in the order curl reads them for an https URL.
const PROXY_VARIABLES: [&str; 4] = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];

/// The proxy for `host`, if any: the first of [`PROXY_VARIABLES`] that is set and not empty,
/// unless `no_proxy`/`NO_PROXY` names the host. Pure: `env` reads a variable.
pub fn proxy_for(host: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let proxy = PROXY_VARIABLES
        .iter()
        .filter_map(|name| env(name))
        .map(|value| value.trim().to_owned())
        .find(|value| !value.is_empty())?;
    let no_proxy = env("no_proxy")
        .filter(|v| !v.trim().is_empty())
        .or_else(|| env("NO_PROXY"))
        .unwrap_or_default();
    if no_proxy_matches(&no_proxy, host) {
        return None;
    }
    Some(proxy)
}

/// curl's NO_PROXY: `*` for every host, else names separated by commas; a name matches itself
/// and the hosts below it (`example.com` and `.example.com` both match `a.example.com`); an IP
/// address matches itself.
fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    list.split(',')
        .map(|entry| entry.trim())
        .filter(|entry| !entry.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry
                .trim_start_matches('.')
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            host == entry || host.ends_with(&format!(".{entry}"))
        })
}

/// A proxy URL as it may be shown: without a user name or password.
fn proxy_shown(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{rest}")
        }
        None => url.rsplit_once('@').map_or(url, |(_, h)| h).to_owned(),
    }
}

#[cfg(test)]
mod port_tests {
    use super::*;

    #[test]
    fn a_port_out_of_range_is_refused_not_dropped() {
        for bad in [
            "127.0.0.1:99999",
            "https://127.0.0.1:65536/jwt",
            "h:0",
            "h:4294967739",
        ] {
            match Server::parse(bad, "--tenant", true) {
                Ok(server) => panic!("{bad} parsed, with port {:?}", server.port),
                Err(err) => {
                    let err = err.to_string();
                    assert!(
                        err.contains("port outside 1 to 65535") || err.contains("not a valid URL"),
                        "{bad}: {err}"
                    );
                }
            }
        }
        assert_eq!(
            Server::parse("h:8443", "--tenant", true).unwrap().port,
            Some(8443)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn tenant_is_a_host_or_an_https_url() {
        let server = Server::parse("mytenant.eu.qlikcloud.com", "--tenant", true).unwrap();
        assert_eq!(server.origin(), "https://mytenant.eu.qlikcloud.com");
        assert_eq!(
            server.url("/login/jwt-session"),
            "https://mytenant.eu.qlikcloud.com/login/jwt-session"
        );
        let server = Server::parse(" https://127.0.0.1:8443/ ", "--tenant", true).unwrap();
        assert_eq!(server.origin(), "https://127.0.0.1:8443");
        assert_eq!(server.base_path, "");
        let server = Server::parse("https://qlik.example.com/jwt/", "--server", false).unwrap();
        assert_eq!(
            server.url("/qrs/about"),
            "https://qlik.example.com/jwt/qrs/about"
        );
        assert_eq!(server.to_string(), "https://qlik.example.com/jwt");
        let server = Server::parse("https://[::1]:443/x", "--server", false).unwrap();
        assert_eq!(server.bare_host(), "::1");
    }

    #[test]
    fn what_is_not_an_https_url_is_a_usage_error() {
        for (text, bare, why) in [
            ("http://t.example.com", true, "clear text"),
            ("ftp://t.example.com", true, "not an https URL"),
            ("qlik.example.com/jwt", false, "not a URL"),
            (
                "https://user:pw@t.example.com",
                true,
                "user name or password",
            ),
            ("https://t.example.com/?a=b", true, "query or a fragment"),
            ("https://t.example.com/#x", true, "query or a fragment"),
            ("https:// bad host", true, "not a valid URL"),
        ] {
            let err = Server::parse(text, "--tenant", bare).unwrap_err();
            assert!(err.is_usage(), "{text}");
            assert!(err.to_string().contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn proxy_comes_from_https_proxy_or_all_proxy_unless_no_proxy_names_the_host() {
        let host = "t.eu.qlikcloud.com";
        assert_eq!(proxy_for(host, env(&[])), None);
        assert_eq!(proxy_for(host, env(&[("HTTP_PROXY", "http://p:1")])), None);
        assert_eq!(
            proxy_for(host, env(&[("HTTPS_PROXY", "http://p:1")])).as_deref(),
            Some("http://p:1")
        );
        assert_eq!(
            proxy_for(
                host,
                env(&[("https_proxy", "http://a:1"), ("HTTPS_PROXY", "http://b:1")])
            )
            .as_deref(),
            Some("http://a:1")
        );
        assert_eq!(
            proxy_for(host, env(&[("ALL_PROXY", "http://p:1")])).as_deref(),
            Some("http://p:1")
        );
        for no_proxy in [
            "*",
            "qlikcloud.com",
            ".qlikcloud.com",
            "localhost, eu.qlikcloud.com",
            "T.EU.QLIKCLOUD.COM",
        ] {
            assert_eq!(
                proxy_for(
                    host,
                    env(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no_proxy)])
                ),
                None,
                "{no_proxy}"
            );
        }
        for no_proxy in ["cloud.com", "other.example.com", ""] {
            assert!(
                proxy_for(
                    host,
                    env(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", no_proxy)])
                )
                .is_some(),
                "{no_proxy}"
            );
        }
        assert_eq!(
            proxy_for(
                "127.0.0.1",
                env(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "127.0.0.1")])
            ),
            None
        );
    }

    #[test]
    fn a_proxy_is_shown_without_its_password() {
        assert_eq!(
            proxy_shown("http://user:secret@proxy:3128"),
            "http://proxy:3128"
        );
        assert_eq!(proxy_shown("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(proxy_shown("u:p@proxy:3128"), "proxy:3128");
    }
}
