//! A login's session cookies: read from the server's `Set-Cookie` headers, sent back as one
//! `Cookie` header, and written for curl as a Netscape cookie file. Their values are secrets:
//! they stay in `SecretText` and only their names are ever shown.

use std::fmt::Write as _;

use cookie::{Cookie, Expiration};

use crate::expires::MAX_TIMESTAMP;
use crate::secret::SecretText;

/// One cookie the server set, as a cookie file records it.
pub struct SessionCookie {
    pub name: String,
    value: SecretText,
    /// The host that set it, or the Domain attribute (without its leading dot).
    domain: String,
    /// Whether a Domain attribute made the cookie go to the hosts below `domain` too.
    include_subdomains: bool,
    path: String,
    secure: bool,
    http_only: bool,
    /// Seconds since 1970; 0 for a session cookie, as curl writes it.
    expires: u64,
}

/// Whether `host` may set a cookie for `domain`: the same name, or a name below it that is not
/// an IP address, and never a bare top-level name such as `com`.
fn domain_matches(host: &str, domain: &str) -> bool {
    if host == domain {
        return true;
    }
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    !is_ip && domain.contains('.') && host.ends_with(&format!(".{domain}"))
}

/// The cookies in `set_cookies`, sent by `host` in answer to a request for `request_path`.
/// Headers that do not parse, cookies the server deletes (expired, `Max-Age=0`) and cookies
/// whose name or value would break a cookie file's line are left out; `skipped` gets the name
/// of each of the last, for a warning.
pub fn parse(
    set_cookies: &[SecretText],
    host: &str,
    request_path: &str,
    now: u64,
    skipped: &mut Vec<String>,
) -> Vec<SessionCookie> {
    let mut cookies: Vec<SessionCookie> = Vec::new();
    for header in set_cookies {
        let Ok(cookie) = Cookie::parse(header.expose()) else {
            continue;
        };
        let expires = match (cookie.max_age(), cookie.expires()) {
            (Some(max_age), _) => match u64::try_from(max_age.whole_seconds()) {
                // Capped at the year 9999: curl drops a line whose expiry it cannot read.
                Ok(seconds) if seconds > 0 => now.saturating_add(seconds).min(MAX_TIMESTAMP),
                _ => continue,
            },
            (None, Some(Expiration::DateTime(at))) => match u64::try_from(at.unix_timestamp()) {
                Ok(at) if at > now => at,
                _ => continue,
            },
            _ => 0,
        };
        let unsafe_text = |text: &str| text.chars().any(|c| c.is_control());
        if unsafe_text(cookie.name()) || unsafe_text(cookie.value()) {
            skipped.push(cookie.name().to_owned());
            continue;
        }
        let host = host.to_ascii_lowercase();
        let (domain, include_subdomains) = match cookie.domain() {
            Some(domain) if !domain.is_empty() => {
                // RFC 6265, 5.3: a Domain the host does not belong to is ignored with its
                // cookie, as browsers do; a jar that curl reads must not hand it to that domain.
                let domain = domain.trim_start_matches('.').to_ascii_lowercase();
                if !domain_matches(&host, &domain) {
                    skipped.push(cookie.name().to_owned());
                    continue;
                }
                (domain, true)
            }
            _ => (host.clone(), false),
        };
        let path = match cookie.path() {
            Some(path) if path.starts_with('/') => path.to_owned(),
            _ => default_path(request_path),
        };
        if unsafe_text(&domain) || unsafe_text(&path) {
            skipped.push(cookie.name().to_owned());
            continue;
        }
        let new = SessionCookie {
            name: cookie.name().to_owned(),
            value: SecretText::new(cookie.value()),
            domain,
            include_subdomains,
            path,
            secure: cookie.secure().unwrap_or(false),
            http_only: cookie.http_only().unwrap_or(false),
            expires,
        };
        // A later Set-Cookie for the same cookie replaces the earlier one.
        cookies.retain(|c| (&c.name, &c.domain, &c.path) != (&new.name, &new.domain, &new.path));
        cookies.push(new);
    }
    cookies
}

/// RFC 6265, 5.1.4: the request path up to its last '/', or "/".
fn default_path(request_path: &str) -> String {
    let path = request_path.split('?').next().unwrap_or_default();
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(end) => path[..end].to_owned(),
    }
}

/// The `Cookie` header that sends every cookie back to the host that set them.
/// The earliest expiry of the session's cookies (seconds since 1970), if one has any.
pub fn earliest_expiry(cookies: &[SessionCookie]) -> Option<u64> {
    cookies.iter().map(|c| c.expires).filter(|e| *e > 0).min()
}

pub fn header(cookies: &[SessionCookie]) -> Option<SecretText> {
    if cookies.is_empty() {
        return None;
    }
    let pairs: Vec<String> = cookies
        .iter()
        .map(|c| format!("{}={}", c.name, c.value.expose()))
        .collect();
    Some(SecretText::composed(pairs.join("; ")))
}

/// The cookies in the Netscape cookie file format that curl reads with `-b` and writes with
/// `-c`: a header line, then one line per cookie of seven fields separated by tabs (domain,
/// whether hosts below it match, path, secure, expiry, name, value); an HttpOnly cookie's line
/// starts with `#HttpOnly_`, as curl writes it.
pub fn netscape_file(cookies: &[SessionCookie]) -> SecretText {
    let mut text = String::from(
        "# Netscape HTTP Cookie File\n# https://curl.se/docs/http-cookies.html\n# Written by \
         qs-jwt: the session cookies of a Qlik login. Keep this file secret.\n\n",
    );
    for c in cookies {
        let flag = |on: bool| if on { "TRUE" } else { "FALSE" };
        let domain = if c.include_subdomains {
            format!(".{}", c.domain.trim_start_matches('.'))
        } else {
            c.domain.clone()
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "{}{domain}\t{}\t{}\t{}\t{}\t{}\t{}",
            if c.http_only { "#HttpOnly_" } else { "" },
            flag(c.include_subdomains),
            c.path,
            flag(c.secure),
            c.expires,
            c.name,
            c.value.expose()
        );
    }
    SecretText::composed(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = crate::times::EXAMPLE_NOW;

    fn set(headers: &[&str]) -> Vec<SecretText> {
        headers.iter().map(|h| SecretText::new(*h)).collect()
    }

    #[test]
    fn a_cookie_for_another_domain_or_with_a_tab_is_left_out() {
        let mut skipped = Vec::new();
        let cookies = parse(
            &set(&[
                "a=1; Domain=evil.example",
                "b=2; Domain=.com",
                "c=3; Path=/x\tTRUE",
                "d=4; Domain=example.com; Max-Age=99999999999999999999",
                "e=5; Domain=t.example.com",
            ]),
            "t.example.com",
            "/",
            NOW,
            &mut skipped,
        );
        let names: Vec<&str> = cookies.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(skipped, ["a", "b", "c"]);
        assert!(names.iter().all(|n| ["d", "e"].contains(n)), "{names:?}");
        assert!(cookies.iter().all(|c| c.expires <= MAX_TIMESTAMP));
        assert!(!domain_matches("127.0.0.1", "0.0.1"));
        assert!(domain_matches("127.0.0.1", "127.0.0.1"));
    }

    #[test]
    fn cookies_are_read_with_their_attributes() {
        let mut skipped = Vec::new();
        let cookies = parse(
            &set(&[
                "eas.sid=abc; path=/; secure; httponly; samesite=none",
                "_csrfToken=xyz; Domain=.Example.com; Max-Age=3600",
                "gone=1; Max-Age=0",
                "old=1; Expires=Thu, 01 Jan 1970 00:00:01 GMT",
                "X-Qlik-Session-jwt=s1",
            ]),
            "t.example.com",
            "/jwt/qrs/about?xrfkey=0123456789abcdef",
            NOW,
            &mut skipped,
        );
        let file = netscape_file(&cookies);
        assert_eq!(
            file.expose().lines().skip(4).collect::<Vec<_>>(),
            [
                "#HttpOnly_t.example.com\tFALSE\t/\tTRUE\t0\teas.sid\tabc",
                &format!(
                    ".example.com\tTRUE\t/jwt/qrs\tFALSE\t{}\t_csrfToken\txyz",
                    NOW + 3600
                ),
                "t.example.com\tFALSE\t/jwt/qrs\tFALSE\t0\tX-Qlik-Session-jwt\ts1",
            ]
        );
        assert!(file.expose().starts_with("# Netscape HTTP Cookie File\n"));
        assert_eq!(
            header(&cookies).unwrap().expose(),
            "eas.sid=abc; _csrfToken=xyz; X-Qlik-Session-jwt=s1"
        );
        assert!(skipped.is_empty());
    }

    #[test]
    fn a_later_cookie_replaces_an_earlier_one_and_bad_ones_are_skipped() {
        let mut skipped = Vec::new();
        let cookies = parse(
            &set(&["a=1; Path=/", "a=2; Path=/", "b=x\ty", "not a cookie"]),
            "h",
            "/login/jwt-session",
            NOW,
            &mut skipped,
        );
        assert_eq!(header(&cookies).unwrap().expose(), "a=2");
        assert_eq!(skipped, ["b"]);
        assert!(header(&[]).is_none());
    }

    #[test]
    fn the_default_path_is_the_request_paths_folder() {
        assert_eq!(default_path("/login/jwt-session"), "/login");
        assert_eq!(default_path("/about"), "/");
        assert_eq!(default_path("/a/b/c?x=/y"), "/a/b");
        assert_eq!(default_path(""), "/");
    }
}
