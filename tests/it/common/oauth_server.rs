//! The Qlik Cloud stand-in's `POST /oauth/token` (served by `qlik_server`'s `QlikCloud`
//! behaviour when `Trust::oauth` is set): it verifies what it is sent by Qlik's published rules,
//! independently of qs-jwt's code (jsonwebtoken verifies, with the JWKs the client holds).
//!
//! Rules (qlik.dev "Private Key JWT reference", RFC 7523 section 3): the assertion's header
//! `kid` names a JWK the client holds and `alg` is that JWK's alg (RS256, RS512 or ES384);
//! `iss` and `sub` are the client ID; `aud` is the tenant's token endpoint URL exactly; `exp -
//! iat` is 300 seconds at most and `exp` not past by the server's clock; `jti` is a UUID never
//! used before. Or the client's secret. Grants: `client_credentials`, and Qlik's
//! `urn:qlik:oauth:user-impersonation` with `user_lookup` `{field: subject | userId, value}` for
//! an existing user; the client must be allowed the grant. Bodies: an assertion form-urlencoded
//! only (RFC 7523 2.2, Qlik's tutorial); a secret JSON or form-urlencoded. Keys: RSA JWKs and
//! EC P-384 JWKs (ES384).
//!
//! Answers: 200 `{"access_token", "token_type": "bearer", "expires_in", "scope"}`; errors as
//! RFC 6749 5.2 `{"error", "error_description"}` with 400 or 401. Qlik publishes no wording for
//! its descriptions; the stand-in writes its own, naming the cause as Qlik's errors do
//! (invalid_client, unauthorized_client, invalid_request, invalid_grant).

use std::collections::HashSet;
use std::path::PathBuf;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};

/// One OAuth client of the tenant.
#[derive(Clone, Debug, Default)]
pub struct OauthClient {
    pub id: String,
    pub secret: Option<String>,
    /// The JWKs of `publicKeys`.
    pub public_keys: Vec<Value>,
    /// A file holding one more JWK, read at each request (the walk writes it with
    /// setup-qscloud-oauth).
    pub public_key_file: Option<PathBuf>,
    /// More such files (the walk's ES384 key beside its RSA key).
    pub more_key_files: Vec<PathBuf>,
    pub client_credentials: bool,
    pub impersonation: bool,
}

/// A user of the tenant: (subject, user ID).
pub type TenantUser = (&'static str, &'static str);

#[derive(Clone, Debug, Default)]
pub struct OauthConfig {
    pub clients: Vec<OauthClient>,
    pub users: Vec<TenantUser>,
    /// The tenant's origin as the assertion must name it; `None`: https://127.0.0.1:<port>.
    pub origin: Option<String>,
    /// Seconds the server's clock is ahead of the real one (a machine whose clock is behind).
    pub clock_ahead: u64,
    /// The first this many requests get 429 with this Retry-After.
    pub rate_limit: Option<(usize, &'static str)>,
}

/// What the endpoint answers: status, extra headers, JSON body.
pub struct TokenAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

fn error(status: u16, error: &str, description: &str) -> TokenAnswer {
    TokenAnswer {
        status,
        headers: Vec::new(),
        body: json!({"error": error, "error_description": description}),
    }
}

/// The request body as a JSON object: JSON, or form fields (a `user_lookup` given as
/// `user_lookup[field]`/`user_lookup[value]`).
pub fn body_fields(content_type: &str, body: &str) -> Option<Map<String, Value>> {
    if content_type.starts_with("application/json") {
        return match serde_json::from_str(body) {
            Ok(Value::Object(object)) => Some(object),
            _ => None,
        };
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let mut object = Map::new();
        let mut lookup = Map::new();
        for pair in body.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match name {
                "user_lookup%5Bfield%5D" | "user_lookup[field]" => {
                    lookup.insert("field".into(), json!(value));
                }
                "user_lookup%5Bvalue%5D" | "user_lookup[value]" => {
                    lookup.insert("value".into(), json!(value));
                }
                _ => {
                    object.insert(percent_decode(name), json!(value));
                }
            }
        }
        if !lookup.is_empty() {
            object.insert("user_lookup".into(), Value::Object(lookup));
        }
        return Some(object);
    }
    None
}

fn percent_decode(text: &str) -> String {
    let bytes = text.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).map(String::from_utf8_lossy);
        if bytes[i] == b'%'
            && let Some(Ok(b)) = hex.map(|h| u8::from_str_radix(&h, 16))
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `POST /oauth/token`. `attempt` counts the requests so far (for `rate_limit`).
pub fn token(
    config: &OauthConfig,
    content_type: &str,
    body: &str,
    port: u16,
    used_jtis: &mut HashSet<String>,
    attempt: usize,
) -> TokenAnswer {
    if let Some((count, after)) = config.rate_limit
        && attempt < count
    {
        return TokenAnswer {
            status: 429,
            headers: vec![("Retry-After".into(), after.into())],
            body: json!({"errors": [{"code": "HTTP-429", "title": "API rate limit reached."}]}),
        };
    }
    let Some(fields) = body_fields(content_type, body) else {
        return error(
            400,
            "invalid_request",
            "the body must be JSON or form-urlencoded",
        );
    };
    let text = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default();
    let Some(client) = config.clients.iter().find(|c| c.id == text("client_id")) else {
        return error(401, "invalid_client", "unknown client_id");
    };
    let origin = config
        .origin
        .clone()
        .unwrap_or_else(|| format!("https://127.0.0.1:{port}"));
    let now = super::now() + config.clock_ahead;

    // Who the client is: an assertion, or its secret.
    if fields.contains_key("client_assertion") {
        // RFC 7523 2.2 and Qlik's tutorial: an assertion comes as form parameters.
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return error(
                400,
                "invalid_request",
                "a client_assertion must be sent form-urlencoded",
            );
        }
        if text("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        {
            return error(
                400,
                "invalid_request",
                "client_assertion_type is not jwt-bearer",
            );
        }
        if let Err(answer) = check_assertion(
            client,
            text("client_assertion"),
            &format!("{origin}/oauth/token"),
            now,
            used_jtis,
        ) {
            return answer;
        }
    } else if fields.contains_key("client_secret") {
        if client.secret.as_deref() != Some(text("client_secret")) {
            return error(
                401,
                "invalid_client",
                "client authentication failed: wrong client secret",
            );
        }
    } else {
        return error(
            400,
            "invalid_request",
            "no client_secret and no client_assertion",
        );
    }

    let scope = match text("scope") {
        "" => "user_default",
        scope => scope,
    };
    let (subject, user_id) = match text("grant_type") {
        "client_credentials" if client.client_credentials => ("client".to_owned(), None),
        "urn:qlik:oauth:user-impersonation" if client.impersonation => {
            let lookup = fields.get("user_lookup");
            let field = lookup.and_then(|l| l.get("field")).and_then(Value::as_str);
            let value = lookup.and_then(|l| l.get("value")).and_then(Value::as_str);
            let user = match (field, value) {
                (Some("subject"), Some(v)) => config.users.iter().find(|u| u.0 == v),
                (Some("userId"), Some(v)) => config.users.iter().find(|u| u.1 == v),
                _ => {
                    return error(
                        400,
                        "invalid_request",
                        "user_lookup needs field subject or userId, and a value",
                    );
                }
            };
            match user {
                Some((sub, id)) => ((*sub).to_owned(), Some(*id)),
                None => return error(400, "invalid_request", "user not found"),
            }
        }
        "client_credentials" | "urn:qlik:oauth:user-impersonation" => {
            return error(
                401,
                "unauthorized_client",
                &format!(
                    "the grant {} is not allowed for this client",
                    text("grant_type")
                ),
            );
        }
        other => return error(400, "unsupported_grant_type", &format!("grant {other}")),
    };
    // The access token: a JWT the tenant signs with a key of its own, which no client holds.
    let access_token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &json!({"iss": origin, "sub": subject, "userId": user_id, "client_id": client.id,
                "scope": scope, "iat": now, "exp": now + 21_600}),
        &jsonwebtoken::EncodingKey::from_secret(TENANT_KEY),
    )
    .unwrap();
    TokenAnswer {
        status: 200,
        headers: Vec::new(),
        body: json!({"access_token": access_token, "token_type": "bearer",
                     "expires_in": 21_600, "scope": scope}),
    }
}

/// The key the tenant signs its access tokens with (HS256), which no client holds; the tenant
/// stand-in checks a bearer access token with it.
pub const TENANT_KEY: &[u8] = b"the tenant's own key";

fn client_keys(client: &OauthClient) -> Vec<Value> {
    let mut keys = client.public_keys.clone();
    for path in client.public_key_file.iter().chain(&client.more_key_files) {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(jwk) = serde_json::from_str(&text)
        {
            keys.push(jwk);
        }
    }
    keys
}

fn check_assertion(
    client: &OauthClient,
    assertion: &str,
    audience: &str,
    now: u64,
    used_jtis: &mut HashSet<String>,
) -> Result<(), TokenAnswer> {
    let invalid = |why: &str| error(401, "invalid_client", why);
    let header =
        jsonwebtoken::decode_header(assertion).map_err(|_| invalid("malformed assertion"))?;
    let kid = header.kid.clone().unwrap_or_default();
    let keys = client_keys(client);
    let Some(jwk) = keys.iter().find(|k| k["kid"] == kid.as_str()) else {
        return Err(invalid(&format!(
            "no public key with kid {kid} for this client"
        )));
    };
    let alg = format!("{:?}", header.alg);
    if jwk["alg"] != alg.as_str() || !["RS256", "RS512", "ES384"].contains(&alg.as_str()) {
        return Err(invalid(&format!(
            "alg {alg} is not the alg of the key {kid}"
        )));
    }
    let text = |name: &str| jwk[name].as_str().unwrap_or_default();
    let key = match (text("kty"), text("crv")) {
        ("RSA", _) => DecodingKey::from_rsa_components(text("n"), text("e")),
        ("EC", "P-384") => DecodingKey::from_ec_components(text("x"), text("y")),
        _ => return Err(invalid("the client's key is not an RSA or EC P-384 JWK")),
    }
    .map_err(|_| invalid("the client's key is not a valid JWK"))?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|_| invalid("invalid assertion signature"))?
        .claims;
    if claims["iss"] != client.id.as_str() || claims["sub"] != client.id.as_str() {
        return Err(invalid("iss and sub must be the client_id"));
    }
    if claims["aud"] != audience {
        return Err(invalid(&format!("invalid aud: expected {audience}")));
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_u64(), claims["exp"].as_u64()) else {
        return Err(invalid("iat and exp must be numbers"));
    };
    if exp < iat || exp - iat > 300 {
        return Err(invalid("exp must be at most 5 minutes after iat"));
    }
    if exp <= now {
        return Err(invalid("the assertion has expired"));
    }
    if iat > now + 5 {
        return Err(invalid("iat is in the future"));
    }
    let jti = claims["jti"].as_str().unwrap_or_default();
    if !is_uuid(jti) {
        return Err(invalid("jti must be a UUID"));
    }
    if !used_jtis.insert(jti.to_owned()) {
        return Err(invalid("jti was used before"));
    }
    Ok(())
}
