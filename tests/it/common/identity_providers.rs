//! The Qlik Cloud stand-in's identity-providers API (qlik.dev, Identity providers API:
//! https://qlik.dev/apis/rest/identity-providers): `GET /api/v1/identity-providers` gives
//! `{"data": [...], "links": {...}}`, `POST` creates a `jwtAuth` identity provider (201, the
//! object with its `id`), `DELETE /api/v1/identity-providers/{id}` gives 204, `PATCH` takes
//! `[{"op": "replace", "path": "/description", "value"}]` and nothing else (qlik-cli's
//! `identity-provider patch jwtauth`: "Allowed paths: /description"). One static key each, as
//! Qlik's schema has it. Every call needs a tenant admin's API key as Bearer: another known key
//! gets 403, an unknown one 401, in Qlik's error body. Where Qlik publishes no wording, the
//! stand-in writes its own in Qlik's shape.

use serde_json::{Value, json};

/// The API key of a tenant admin, and of a user who is not one.
pub const ADMIN_API_KEY: &str = "eyJhbGciOiJFUzM4NCJ9.admin-api-key-for-tests.c2lnbmF0dXJl";
pub const USER_API_KEY: &str = "eyJhbGciOiJFUzM4NCJ9.user-api-key-for-tests.c2lnbmF0dXJl";

pub const PATH: &str = "/api/v1/identity-providers";

fn error(status: u16, code: &str, title: &str, detail: &str) -> (u16, Value) {
    (
        status,
        json!({"errors": [{"code": code, "title": title, "detail": detail,
               "status": status.to_string()}], "traceId": "0123456789abcdef0123456789abcdef"}),
    )
}

/// A knob: an identity provider with this field set to true makes the list's last page link
/// back to the first one (a tenant whose paging loops).
pub const PAGES_LOOP_BACK: &str = "pagesLoopBack";

/// A field of an identity provider seeded by a test: a tenant that creates the identity
/// provider asked for, and answers the POST with this field's value instead (`{}`, an answer
/// without the id): Qlik changed, the answer lost.
pub const CREATE_ANSWERS: &str = "createAnswers";

/// A field of an identity provider seeded by a test: a tenant whose next links lead to another
/// origin (a lying page).
pub const PAGES_ELSEWHERE: &str = "pagesElsewhere";

/// A field of an identity provider seeded by a test: a tenant that takes this many
/// milliseconds to serve each page of the list (a slow tenant, for --timeout's one deadline).
pub const PAGES_SLOW_MS: &str = "pagesSlowMs";

/// Identity providers a page of the list holds: few, so that the tests see `links.next` followed.
pub const PAGE: usize = 2;

/// The answer to a request under `/api/v1/identity-providers` (`url`: the request's, whole): a
/// status and a JSON body (204: no body, given as null).
pub fn handle(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: &[u8],
    idps: &mut Vec<Value>,
) -> (u16, Value) {
    match bearer {
        Some(ADMIN_API_KEY) => {}
        Some(USER_API_KEY) => {
            return error(
                403,
                "IDPS-403",
                "Forbidden",
                "The user does not have the TenantAdmin role",
            );
        }
        _ => return error(401, "HTTP-401", "Unauthorized", "Invalid API key"),
    }
    let origin_end = url.find(PATH).unwrap_or(0);
    let (origin, target) = url.split_at(origin_end);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let id = path
        .strip_prefix(PATH)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty());
    match (method, id) {
        ("GET", None) => {
            // Qlik pages the list and gives the next page's URL in links.next.href.
            let page: usize = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("page="))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if let Some(ms) = idps.iter().find_map(|p| p[PAGES_SLOW_MS].as_u64()) {
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            let data: Vec<Value> = idps.iter().skip(page * PAGE).take(PAGE).cloned().collect();
            let mut links = json!({"self": {"href": format!("{origin}{target}")}});
            if (page + 1) * PAGE < idps.len() && idps.iter().any(|p| p[PAGES_ELSEWHERE] == true) {
                links["next"] = json!({"href": format!("https://elsewhere.example.com{PATH}?page={}", page + 1)});
            } else if (page + 1) * PAGE < idps.len() {
                links["next"] = json!({"href": format!("{origin}{PATH}?page={}", page + 1)});
            } else if idps.iter().any(|p| p[PAGES_LOOP_BACK] == true) {
                // A tenant that pages wrong: the last page's next link is the first page.
                links["next"] = json!({"href": format!("{origin}{PATH}?page=0")});
            }
            (200, json!({"data": data, "links": links}))
        }
        ("POST", None) => create(body, idps),
        ("DELETE", Some(id)) => match idps.iter().position(|p| p["id"] == id) {
            Some(at) => {
                idps.remove(at);
                (204, Value::Null)
            }
            None => error(
                404,
                "IDPS-404",
                "Not found",
                "No identity provider with this id",
            ),
        },
        ("PATCH", Some(id)) => patch(id, body, idps),
        ("GET", Some(id)) => match idps.iter().find(|p| p["id"] == id) {
            Some(idp) => (200, idp.clone()),
            None => error(
                404,
                "IDPS-404",
                "Not found",
                "No identity provider with this id",
            ),
        },
        _ => error(405, "HTTP-405", "Method not allowed", ""),
    }
}

fn create(body: &[u8], idps: &mut Vec<Value>) -> (u16, Value) {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return error(400, "IDPS-400", "Bad request", "The body is not JSON");
    };
    let invalid = |detail: &str| error(400, "IDPS-400", "Invalid request body", detail);
    if body["protocol"] != "jwtAuth" || body["provider"] != "external" {
        return invalid("protocol must be jwtAuth and provider external");
    }
    let issuer = body["options"]["issuer"].as_str().unwrap_or_default();
    if issuer.is_empty() {
        return invalid("options.issuer is required");
    }
    let Some(keys) = body["options"]["staticKeys"].as_array() else {
        return invalid("options.staticKeys is required");
    };
    if keys.len() != 1 {
        return invalid("options.staticKeys must hold exactly one key");
    }
    let pem = keys[0]["pem"].as_str().unwrap_or_default();
    if keys[0]["kid"].as_str().unwrap_or_default().is_empty() {
        return invalid("options.staticKeys[0].kid is required");
    }
    if pem.contains('\n') || !pem.starts_with("-----BEGIN ") {
        return invalid("options.staticKeys[0].pem must be a PEM on one line");
    }
    if body["description"]
        .as_str()
        .is_some_and(|d| d.chars().count() > 128)
    {
        return invalid("description must be at most 128 characters");
    }
    let mut idp = body.clone();
    idp["id"] = json!(new_id());
    idp["tenantIds"] = json!(["stand-in-tenant"]);
    idp["meta"] = json!({"upgradeSubjects": false});
    // When it was made, in the order of the creates (the state's lock orders them).
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let made = MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    idp["createdAt"] = json!(format!("2026-01-01T00:00:00.{made:09}Z"));
    idps.push(idp.clone());
    if let Some(answer) = idps.iter().find_map(|p| p.get(CREATE_ANSWERS)) {
        return (201, answer.clone());
    }
    (201, idp)
}

fn patch(id: &str, body: &[u8], idps: &mut [Value]) -> (u16, Value) {
    let Some(idp) = idps.iter_mut().find(|p| p["id"] == id) else {
        return error(
            404,
            "IDPS-404",
            "Not found",
            "No identity provider with this id",
        );
    };
    let Ok(Value::Array(ops)) = serde_json::from_slice::<Value>(body) else {
        return error(
            400,
            "IDPS-400",
            "Bad request",
            "The body must be a JSON array",
        );
    };
    for op in &ops {
        if op["op"] != "replace" || op["path"] != "/description" {
            return error(
                400,
                "IDPS-400",
                "Invalid patch",
                "Allowed operations: replace. Allowed paths: /description",
            );
        }
    }
    for op in ops {
        idp["description"] = op["value"].clone();
    }
    (204, Value::Null)
}

fn new_id() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    (0..24)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect()
}

/// A JWT identity provider as Qlik lists it, for a test to seed the tenant with.
pub fn jwt_idp(id: &str, issuer: &str, kid: &str, pem: &str, active: bool) -> Value {
    json!({
        "id": id, "tenantIds": ["stand-in-tenant"], "provider": "external",
        "protocol": "jwtAuth", "interactive": false, "active": active,
        "description": format!("seeded {kid}"),
        "options": {"jwtLoginEnabled": true, "issuer": issuer,
                    "staticKeys": [{"kid": kid, "pem": pem}]},
    })
}

/// The RSA public key (DER, PKCS#1) of an identity provider's one-line PEM: a certificate or a
/// public key. None when it is neither.
pub fn rsa_der(one_line_pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use x509_parser::prelude::FromDer;
    let body = one_line_pem.strip_prefix("-----BEGIN ")?;
    let (label, rest) = body.split_once("-----")?;
    let (b64, _) = rest.split_once("-----END ")?;
    let b64: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    match label {
        "CERTIFICATE" => {
            let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
            Some(cert.public_key().subject_public_key.data.to_vec())
        }
        "PUBLIC KEY" => {
            let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&der).ok()?;
            Some(spki.subject_public_key.data.to_vec())
        }
        _ => None,
    }
}
