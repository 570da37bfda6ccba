//! The only place that signs or verifies a token, and the one reader of a token's parts: a thin
//! layer over jsonwebtoken.

use crate::{debug, verbose};
use anyhow::Result;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RsaEncoding};
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::UserError;
use crate::keys::{SigningKey, SigningKeyPair, VerifyingKey};

/// Signs `claims` under `header` (RS256, RS384 or RS512: RSASSA-PKCS1-v1_5, RFC 7518 3.3;
/// ES384 with an EC P-384 key: ECDSA, RFC 7518 3.4) and returns the compact JWT: the same bytes
/// jsonwebtoken's `encode` makes, with the key parsed once (`SigningKey`) instead of once per
/// token. `key` may sign from many threads at once (`--users`).
pub fn sign(header: &Header, claims: &impl Serialize, key: &SigningKey) -> Result<String> {
    let encoding: Option<&'static dyn RsaEncoding> = match (header.alg, &key.key_pair) {
        (Algorithm::RS256, SigningKeyPair::Rsa(_)) => Some(&RSA_PKCS1_SHA256),
        (Algorithm::RS384, SigningKeyPair::Rsa(_)) => Some(&RSA_PKCS1_SHA384),
        (Algorithm::RS512, SigningKeyPair::Rsa(_)) => Some(&RSA_PKCS1_SHA512),
        (Algorithm::ES384, SigningKeyPair::EcP384(_)) => None,
        (other, _) => anyhow::bail!(
            "internal error: qs-jwt signs RS256, RS384 and RS512 with an RSA key and ES384 with an \
             EC P-384 key, not {other:?} with the key from {}",
            key.origin
        ),
    };
    let header_json = serde_json::to_string(header)?;
    let claims_json = serde_json::to_string(claims)?;
    // Header and payload hold no key material; the debug level exists to show them.
    debug!("header {header_json}");
    debug!("payload {claims_json}");
    let mut token =
        String::with_capacity((header_json.len() + claims_json.len()) * 4 / 3 + key.bits / 6 + 8);
    BASE64URL_NO_PAD.encode_string(header_json, &mut token);
    token.push('.');
    BASE64URL_NO_PAD.encode_string(claims_json, &mut token);
    let signature = match (&key.key_pair, encoding) {
        (SigningKeyPair::Rsa(key_pair), Some(encoding)) => {
            let mut signature = vec![0; key_pair.public_modulus_len()];
            key_pair
                .sign(
                    encoding,
                    &SystemRandom::new(),
                    token.as_bytes(),
                    &mut signature,
                )
                .map_err(|_| {
                    anyhow::anyhow!(
                        "the crypto library (aws-lc) could not sign with the {}-bit RSA key from {}",
                        key.bits,
                        key.origin
                    )
                })?;
            signature
        }
        // ECDSA_P384_SHA384_FIXED_SIGNING: r and s, 48 bytes each, as JWS wants them.
        (SigningKeyPair::EcP384(key_pair), _) => key_pair
            .sign(&SystemRandom::new(), token.as_bytes())
            .map_err(|_| {
                anyhow::anyhow!(
                    "the crypto library (aws-lc) could not sign with the EC P-384 key from {}",
                    key.origin
                )
            })?
            .as_ref()
            .to_vec(),
        // The match above pairs an RSA key with its encoding.
        (SigningKeyPair::Rsa(_), None) => {
            anyhow::bail!("internal error: no RSA encoding for {:?}", header.alg)
        }
    };
    token.push('.');
    BASE64URL_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// base64url without padding, as a JWT writes its parts.
const BASE64URL_NO_PAD: GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A compact JWS taken apart: the header and payload as JSON objects, and what the signature
/// covers. Nothing here is trusted until `verify` says so.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenParts {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    /// `header.payload` as it appears in the token: the bytes the signature covers.
    pub signing_input: String,
    /// The third part, still base64url.
    pub signature: String,
}

/// base64url without padding, as JWTs use it; padding is tolerated, since some tools add it.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Takes a token as pasted: a byte order mark (Notepad writes one), surrounding whitespace and
/// a `Bearer ` prefix are dropped.
pub fn clean(text: &str) -> &str {
    let text = text.trim_start_matches('\u{feff}').trim();
    let lower = text.get(..7).map(str::to_ascii_lowercase);
    match lower.as_deref() {
        Some("bearer ") => text[7..].trim_start(),
        _ => text,
    }
}

/// Splits and decodes a token; the error says which part is bad.
pub fn parts(token: &str) -> Result<TokenParts, UserError> {
    if token.is_empty() {
        return Err(UserError::runtime("the token is empty"));
    }
    // A token has no blank space inside; a file with two tokens, or a token broken across
    // lines, would otherwise be taken for a JWE by its count of dots.
    if token.contains(char::is_whitespace) {
        return Err(UserError::runtime(
            "the token has blank space or a line break inside: give one token, on one line",
        ));
    }
    let pieces: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = pieces[..] else {
        let found = pieces.len();
        return Err(UserError::runtime(if found == 5 {
            "the token has five parts: it is an encrypted JWT (JWE), which cannot be read without \
             its decryption key; Qlik uses signed JWTs of three parts"
                .to_owned()
        } else {
            format!("the token is not a JWT: expected three parts separated by dots, found {found}")
        }));
    };
    let header_json = json_object(header, "header (part 1)")?;
    let payload_json = json_object(payload, "payload (part 2)")?;
    if !signature.is_empty() && BASE64URL.decode(signature).is_err() {
        return Err(UserError::runtime(
            "the token's signature (part 3) is not valid base64url",
        ));
    }
    Ok(TokenParts {
        header: header_json,
        payload: payload_json,
        signing_input: format!("{header}.{payload}"),
        signature: signature.to_owned(),
    })
}

fn json_object(part: &str, name: &str) -> Result<Map<String, Value>, UserError> {
    let bytes = BASE64URL.decode(part).map_err(|e| {
        UserError::runtime(format!("the token's {name} is not valid base64url: {e}"))
    })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(UserError::runtime(format!(
            "the token's {name} is JSON but not an object"
        ))),
        Err(e) => Err(UserError::runtime(format!(
            "the token's {name} is not JSON: {e}"
        ))),
    }
}

/// Checks the signature with `key`. The key decides which algorithms are allowed; the token's
/// `alg` only picks among them, so `none` and HMAC tokens (the key-confusion attack, where the
/// public key's bytes are used as the HMAC secret) are refused. `Err` carries the reason.
pub fn verify(parts: &TokenParts, key: &VerifyingKey) -> Result<Algorithm, String> {
    let allowed = key.kind.algorithms();
    let alg = match parts.header.get("alg") {
        Some(Value::String(alg)) => alg.as_str(),
        Some(other) => {
            return Err(format!(
                "the header's alg is {other}, not an algorithm name"
            ));
        }
        None => return Err("the header has no alg".to_owned()),
    };
    let algorithm = match alg.parse::<Algorithm>() {
        Ok(algorithm) if allowed.contains(&algorithm) => algorithm,
        _ if alg.eq_ignore_ascii_case("none") => {
            return Err("the token is unsigned (alg none); only signed tokens are accepted".into());
        }
        _ if alg.starts_with("HS") => {
            return Err(format!(
                "the token uses {alg}, a shared-secret algorithm; a public key never verifies one \
                 (expected {})",
                names(allowed)
            ));
        }
        _ => {
            return Err(format!(
                "the token uses {alg}, but the key is {}, which verifies {} only",
                key.kind,
                names(allowed)
            ));
        }
    };
    if let Some(why) = &key.unsupported {
        return Err(format!("the signature cannot be checked: {why}"));
    }
    verbose!("verifying a {algorithm:?} signature with {}", key.kind);
    match jsonwebtoken::crypto::verify(
        &parts.signature,
        parts.signing_input.as_bytes(),
        &key.decoding_key,
        algorithm,
    ) {
        Ok(true) => Ok(algorithm),
        Ok(false) => Err(
            "the signature does not match: the token was changed, or signed with another key"
                .to_owned(),
        ),
        Err(e) => Err(format!("the signature cannot be checked: {e}")),
    }
}

/// RFC 7515, 4.1.11: a header may list in `crit` extensions the verifier must understand; one
/// it does not understand makes the token invalid. qs-jwt understands none, so any `crit` is
/// refused, named, as is a `crit` that is not a non-empty list of names.
pub fn critical_extensions(header: &Map<String, Value>) -> Result<(), String> {
    let Some(crit) = header.get("crit") else {
        return Ok(());
    };
    let names: Option<Vec<&str>> = crit
        .as_array()
        .filter(|names| !names.is_empty())
        .and_then(|names| names.iter().map(Value::as_str).collect());
    Err(match names {
        Some(names) => format!(
            "the header marks {} as critical (crit), an extension qs-jwt does not understand, so \
             the token must be refused (RFC 7515, 4.1.11)",
            names
                .iter()
                .map(|name| format!("\"{name}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!(
            "the header's crit is {crit}, not a non-empty list of extension names (RFC 7515, \
             4.1.11)"
        ),
    })
}

fn names(algorithms: &[Algorithm]) -> String {
    let names: Vec<String> = algorithms.iter().map(|a| format!("{a:?}")).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose;
    use serde_json::json;

    fn b64(value: &Value) -> String {
        general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    }

    #[test]
    fn crit_is_never_understood() {
        let header = |value: Value| {
            json!({"alg": "RS256", "crit": value})
                .as_object()
                .cloned()
                .unwrap()
        };
        assert!(critical_extensions(&Map::new()).is_ok());
        let err = critical_extensions(&header(json!(["x", "b64"]))).unwrap_err();
        assert!(err.contains("\"x\", \"b64\" as critical"), "{err}");
        for bad in [json!([]), json!("x"), json!([1])] {
            let err = critical_extensions(&header(bad)).unwrap_err();
            assert!(err.contains("not a non-empty list"), "{err}");
        }
    }

    #[test]
    fn clean_drops_whitespace_and_bearer() {
        assert_eq!(clean("\u{feff}a.b.c\r\n"), "a.b.c");
        assert_eq!(clean("  a.b.c\n"), "a.b.c");
        assert_eq!(clean("Bearer a.b.c"), "a.b.c");
        assert_eq!(clean("bearer   a.b.c "), "a.b.c");
        assert_eq!(clean("Bearera.b.c"), "Bearera.b.c");
        assert_eq!(clean("ab"), "ab");
        assert_eq!(clean("é"), "é");
    }

    #[test]
    fn parts_decodes_header_and_payload() {
        let token = format!(
            "{}.{}.c2ln",
            b64(&json!({"alg": "RS256"})),
            b64(&json!({"sub": "x"}))
        );
        let parts = parts(&token).unwrap();
        assert_eq!(parts.header["alg"], "RS256");
        assert_eq!(parts.payload["sub"], "x");
        assert_eq!(parts.signature, "c2ln");
        assert!(token.starts_with(&parts.signing_input));
    }

    #[test]
    fn each_bad_part_is_named() {
        let obj = b64(&json!({}));
        let cases = [
            (String::new(), "is empty"),
            (
                "a.b.c\na.b.c".to_owned(),
                "blank space or a line break inside",
            ),
            ("a.b".to_owned(), "found 2"),
            ("a.b.c.d.e".to_owned(), "encrypted JWT (JWE)"),
            (
                format!("!!.{obj}.x"),
                "header (part 1) is not valid base64url",
            ),
            (
                format!("{obj}.{}.x", b64(&json!([1]))),
                "payload (part 2) is JSON but not an object",
            ),
            (
                format!("{obj}.{}.x", general_purpose::URL_SAFE_NO_PAD.encode("{")),
                "payload (part 2) is not JSON",
            ),
            (
                format!("{obj}.{obj}.a+b/"),
                "signature (part 3) is not valid base64url",
            ),
        ];
        for (token, expected) in cases {
            let err = parts(&token).unwrap_err().to_string();
            assert!(err.contains(expected), "{token}: {err}");
        }
    }
}
