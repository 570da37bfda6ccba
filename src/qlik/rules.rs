//! Qlik's published rules and constants, in one place that both the token builders
//! (`claims`) and the checker (`check`) read.
//!
//! Sources: Qlik Cloud, "Create signed tokens for JWT authorization" and the JWT identity
//! provider reference on qlik.dev (audience, the one-hour window, the claims `POST
//! /login/jwt-session` reads); QSEoW, "JWT authentication" for virtual proxies on
//! help.qlik.com (the user id and user directory attributes, RS256/384/512).

use serde::Serialize;

/// The only audience Qlik Cloud's `POST /login/jwt-session` accepts.
pub const QLIK_CLOUD_AUDIENCE: &str = "qlik.api/login/jwt-session";

/// Qlik Cloud rejects a token whose `exp` is more than this many seconds after its `nbf`.
pub const QLIK_CLOUD_MAX_VALIDITY: u64 = 3_600;

/// Seconds a token's `nbf` may lie ahead of our clock before it counts as "in the future":
/// clocks on two machines are never quite equal, and Qlik allows a little skew too.
pub const CLOCK_SKEW: u64 = 5;

/// The claims create-qseow writes for the user id, the user directory and the groups: the
/// attribute names a QSEoW virtual proxy must be configured with (setup-qseow writes them).
pub const QSEOW_USER_ID_CLAIM: &str = "userId";
pub const QSEOW_USER_DIRECTORY_CLAIM: &str = "userDirectory";
pub const QSEOW_GROUP_CLAIM: &str = "group";

/// The port QSEoW's repository API (QRS) listens on for clients with a certificate, as the
/// QMC's "Ports" overview and the repository API's reference give it: what `--qrs <host>` means.
pub const QSEOW_REPOSITORY_PORT: u16 = 4242;

/// Whether a token whose `nbf` is `nbf` (seconds since 1970) is not valid yet at `now`: the one
/// rule for "in the future", used by `--check` and by decode's validity verdict alike.
pub fn not_yet_valid(nbf: f64, now: u64) -> bool {
    nbf > now.saturating_add(CLOCK_SKEW) as f64
}

/// The two kinds of Qlik that take a JWT, each with its own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Qlik Sense Enterprise on Windows, a virtual proxy with JWT authentication
    Qseow,
    /// Qlik Cloud, POST /login/jwt-session with a JWT identity provider
    Qscloud,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Qseow => "qseow",
            Profile::Qscloud => "qscloud",
        }
    }
}
