//! An RSA public key as a JSON Web Key (RFC 7517, RFC 7518 section 6.3.1), and its RFC 7638
//! thumbprint: what a Qlik Cloud OAuth client's `publicKeys` hold, and the key ID qs-jwt gives
//! a key by default, so the same key always has the same ID whoever computes it.
//!
//! Sources: RFC 7638, "JSON Web Key (JWK) Thumbprint", section 3 (the members `e`, `kty`, `n`
//! in that order, no white space, SHA-256, base64url) and its example in section 3.1, which the
//! tests check; qlik.dev, "Private Key JWT reference"
//! (https://qlik.dev/authenticate/oauth/oauth-private-key-jwt-reference/: a JWK with `kty`,
//! `n`, `e`, `alg`, `use: sig` and `kid` per public key).

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// The two numbers of an RSA public key, big-endian, without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublic {
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

impl RsaPublic {
    /// From the numbers as DER integers give them (a leading zero byte keeps them positive).
    pub fn new(modulus: &[u8], exponent: &[u8]) -> Self {
        let strip = |bytes: &[u8]| {
            let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
            bytes[start..].to_vec()
        };
        Self {
            modulus: strip(modulus),
            exponent: strip(exponent),
        }
    }

    /// From a PKCS#1 `RSAPublicKey` (what aws-lc gives for a private key's public half).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        let key = pkcs1::RsaPublicKeyRef::try_from(der).map_err(|e| e.to_string())?;
        Ok(Self::new(
            key.modulus.as_bytes(),
            key.public_exponent.as_bytes(),
        ))
    }

    pub fn bits(&self) -> usize {
        super::pem::bit_length(&self.modulus)
    }

    /// RFC 7638: SHA-256 over `{"e":"..","kty":"RSA","n":".."}`, base64url without padding.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(&self.exponent),
            URL_SAFE_NO_PAD.encode(&self.modulus)
        );
        URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
    }

    /// The JWK Qlik's OAuth client takes, members in the order people read them.
    pub fn jwk(&self, alg: &str, kid: &str) -> Map<String, Value> {
        let value = json!({
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(&self.modulus),
            "e": URL_SAFE_NO_PAD.encode(&self.exponent),
            "alg": alg,
            "use": "sig",
            "kid": kid,
        });
        match value {
            Value::Object(map) => map,
            // json! of an object literal is an object.
            _ => Map::new(),
        }
    }
}

/// An EC P-384 public key's point (RFC 7518 section 6.2.1): x and y, 48 bytes each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcP384Public {
    pub x: Vec<u8>,
    pub y: Vec<u8>,
}

impl EcP384Public {
    /// The size of a P-384 coordinate in bytes.
    const COORDINATE: usize = 48;

    /// From an uncompressed point (SEC 1, 2.3.3: 0x04, x, y), what an SPKI and aws-lc hold.
    pub fn from_uncompressed(point: &[u8]) -> Result<Self, String> {
        match point {
            [0x04, rest @ ..] if rest.len() == 2 * Self::COORDINATE => {
                let (x, y) = rest.split_at(Self::COORDINATE);
                Ok(Self {
                    x: x.to_vec(),
                    y: y.to_vec(),
                })
            }
            _ => Err("not an uncompressed P-384 point".to_owned()),
        }
    }

    /// RFC 7638: SHA-256 over `{"crv":"P-384","kty":"EC","x":"..","y":".."}`, base64url
    /// without padding.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"P-384","kty":"EC","x":"{}","y":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(&self.x),
            URL_SAFE_NO_PAD.encode(&self.y)
        );
        URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
    }

    /// The JWK Qlik's OAuth client takes for an ES384 key.
    pub fn jwk(&self, kid: &str) -> Map<String, Value> {
        let value = json!({
            "kty": "EC",
            "crv": "P-384",
            "x": URL_SAFE_NO_PAD.encode(&self.x),
            "y": URL_SAFE_NO_PAD.encode(&self.y),
            "alg": "ES384",
            "use": "sig",
            "kid": kid,
        });
        match value {
            Value::Object(map) => map,
            // json! of an object literal is an object.
            _ => Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638, section 3.1: the example key and its thumbprint.
    #[test]
    fn rfc_7638_example() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let key = RsaPublic::new(
            &URL_SAFE_NO_PAD.decode(n).unwrap(),
            &URL_SAFE_NO_PAD.decode("AQAB").unwrap(),
        );
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(key.bits(), 2048);
    }

    #[test]
    fn leading_zeros_do_not_change_the_key() {
        let a = RsaPublic::new(&[0, 0xc5, 1], &[0, 1, 0, 1]);
        assert_eq!(a, RsaPublic::new(&[0xc5, 1], &[1, 0, 1]));
        let jwk = a.jwk("RS256", "k");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(
            jwk.keys().collect::<Vec<_>>(),
            ["kty", "n", "e", "alg", "use", "kid"]
        );
    }
}
