//! The only place that signs a token: a thin layer over jsonwebtoken.

use anyhow::{Context, Result};
use jsonwebtoken::Header;
use serde::Serialize;
use tracing::{debug, trace};

use crate::keys::SigningKey;

/// Signs `claims` under `header` (which names the algorithm) and returns the compact JWT.
pub fn sign(header: &Header, claims: &impl Serialize, key: &SigningKey) -> Result<String> {
    // Header and payload hold no key material; the debug level exists to show them.
    trace!("header {}", serde_json::to_string(header)?);
    trace!("payload {}", serde_json::to_string(claims)?);
    debug!("signing with a {}-bit RSA key", key.bits);
    jsonwebtoken::encode(header, claims, &key.encoding_key).with_context(|| {
        format!(
            "could not sign the token with the {}-bit RSA key (is the key damaged?)",
            key.bits
        )
    })
}
