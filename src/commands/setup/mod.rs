//! setup-qscloud and setup-qseow: what to give Qlik so that it trusts qs-jwt's tokens, as the
//! request body of Qlik's API or as the fields of its admin console.
//!
//! Sources (see also docs/qlik-setup.md):
//! - Qlik Cloud: the identity-providers API, `POST /api/v1/identity-providers`, schema
//!   `CreateJWTAuthPayload` (https://qlik.dev/apis/rest/identity-providers), and Qlik's example
//!   body in "Create an identity provider" (https://qlik.dev/manage/automate/identity-provider-create/),
//!   which also sends `interactive`, `active` and `options.jwtLoginEnabled` and notes that the
//!   `pem` must be one line without line breaks. The console form (Description, Certificate,
//!   Issuer, Key ID): "Create signed tokens for JWT authorization" on qlik.dev.
//! - QSEoW: the repository API's `VirtualProxyConfig` (help.qlik.com, Repository Service API,
//!   entity reference): `authenticationMethod` 4 is JWT; `jwtPublicKeyCertificate`,
//!   `jwtAttributeUserId`, `jwtAttributeUserDirectory`, `jwtAttributeMap` items of
//!   `{jwtAttribute, senseAttribute, isMandatory}`; and "Creating a virtual proxy" in the QMC
//!   help for the field labels and the prefix rules.

mod repository;
mod tenant;

use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::cli::output::LogLevel;
use crate::cli::setup::{SetupFormat, SetupQscloudArgs, SetupQseowArgs};
use crate::commands::{Output, Run};
use crate::error::UserError;
use crate::keys::{self, PublicKeyKind, VerifyingKey};
use crate::qlik::rules::{QSEOW_GROUP_CLAIM, QSEOW_USER_DIRECTORY_CLAIM, QSEOW_USER_ID_CLAIM};
use crate::render;

/// Qlik Cloud's limit on an identity provider's description (the schema's maxLength).
pub const MAX_IDP_DESCRIPTION: usize = 128;

/// The command that makes a certificate from the private key, for a user who has only a public
/// key: Qlik's own guides make the certificate this way.
const MAKE_CERTIFICATE: &str = "openssl req -new -x509 -key privatekey.pem -out publickey.cer \
                                -days 730 -subj /CN=qs-jwt";

pub fn setup_qscloud(args: &SetupQscloudArgs) -> Result<Output> {
    let wanted = tenant::Wanted {
        issuer: &args.issuer,
        key_id: &args.keyid,
    };
    if args.tenant.remove {
        return tenant::remove(&args.tenant, &wanted);
    }
    if args.tenant.dry_run && !args.tenant.apply {
        return Err(UserError::usage(
            "--dry-run shows what --apply or --remove would change: add the one you mean",
        )
        .into());
    }
    if args.tenant.tenant.is_some() && !args.tenant.apply {
        return Err(UserError::usage(
            "--tenant is for --apply or --remove: add the one you mean, or leave --tenant out to \
             print the identity provider",
        )
        .into());
    }
    if args.tenant.apply && args.output == SetupFormat::Console {
        return Err(UserError::usage(
            "--apply prints the identity provider Qlik returns, as JSON: leave --output console \
             out",
        )
        .into());
    }
    let key = rsa_key(&args.key)?;
    if !key.from_certificate {
        // The schema says "Pem-encoded public key"; every example of Qlik's and the console's
        // field say certificate. Either may be what a tenant takes: say so, and go on.
        warn!(
            "{} is a public key, not a certificate; Qlik Cloud's console asks for a \
             certificate, and all of Qlik's examples use one. If Qlik refuses the key, make the \
             certificate from the private key: {MAKE_CERTIFICATE}",
            args.key.origin()
        );
    }
    let description = match &args.description {
        Some(text) => text.clone(),
        None => default_description(&args.issuer, &args.keyid),
    };
    if description.chars().count() > MAX_IDP_DESCRIPTION {
        return Err(UserError::usage(format!(
            "--description is {} characters; Qlik Cloud takes at most {MAX_IDP_DESCRIPTION}",
            description.chars().count()
        ))
        .into());
    }
    let pem = one_line_pem(&key.pem);
    if args.tenant.apply {
        let body = qscloud_body(&args.issuer, &args.keyid, &pem, &description);
        return tenant::apply(&args.tenant, &wanted, &body, &pem);
    }
    let stdout = match args.output {
        SetupFormat::Json => {
            // How to send the body belongs to the body: the console's fields are pasted by hand,
            // and a curl line beside them would send nothing anyone piped.
            info!(
                "save the body in idp.json and send it with a tenant admin's API key: curl -X POST \
                 https://<tenant>/api/v1/identity-providers -H \"Authorization: Bearer \
                 $QLIK_API_KEY\" -H \"Content-Type: application/json\" --data @idp.json; or let \
                 qs-jwt send it: --apply --tenant <tenant>"
            );
            json_text(&qscloud_body(&args.issuer, &args.keyid, &pem, &description))
        }
        SetupFormat::Console => qscloud_console(&args.issuer, &args.keyid, &pem, &description),
    };
    Ok(Output::product(stdout))
}

pub fn setup_qseow(args: &SetupQseowArgs) -> Result<Output> {
    let prefix = virtual_proxy_prefix(&args.prefix)?;
    if args.repository.apply && args.output == SetupFormat::Console {
        return Err(UserError::usage(
            "--apply prints the virtual proxy the repository returns, as JSON: leave --output \
             console out",
        )
        .into());
    }
    let key = rsa_key(&args.key)?;
    if !key.from_certificate {
        return Err(UserError::runtime(format!(
            "{} is a public key, but a QSEoW virtual proxy verifies tokens with an X.509 \
             certificate (its field is \"JWT certificate\"); give the certificate, such as the \
             publickey.cer that --cert-create writes",
            args.key.origin()
        ))
        .with_hint(format!("make one from the private key: {MAKE_CERTIFICATE}"))
        .into());
    }
    let description = args
        .description
        .clone()
        .unwrap_or_else(|| format!("JWT authentication for audience {} (qs-jwt)", args.audience));
    if args.repository.apply {
        let body = qseow_body(&prefix, &args.audience, &key.pem, &description);
        return repository::apply(&args.repository, &prefix, &body);
    }
    let stdout = match args.output {
        SetupFormat::Json => {
            json_text(&qseow_body(&prefix, &args.audience, &key.pem, &description))
        }
        SetupFormat::Console => qseow_console(&prefix, &args.audience, &key.pem, &description),
    };
    info!(
        "still to do in the QMC or the repository API: add the server nodes under Load balancing \
         (loadBalancingServerNodes), the host names clients use under Host allow list \
         (websocketCrossOriginWhiteList), and link the virtual proxy to a proxy service \
         (Associated items > Proxies, or PUT /qrs/proxyservice/{{id}} with the virtual proxy \
         added to settings.virtualProxies); or let qs-jwt do all of it: --apply --qrs \
         https://<server>:4242 --qrs-cert client.pem --qrs-key client_key.pem"
    );
    Ok(Output::product(stdout))
}

/// What a change to a Qlik site will do, step by step, before it is done: Terraform's plan.
/// Every step is said on stderr as it is planned (the same line whether it is then done or,
/// with `--dry-run`, only shown); with `--dry-run` the plan is the product, as JSON on stdout.
pub(crate) struct Plan {
    server: String,
    dry_run: bool,
    steps: Vec<Value>,
}

impl Plan {
    pub(crate) fn new(server: &str, dry_run: bool) -> Self {
        if dry_run {
            info!("dry run: the plan for {server}; nothing is sent that changes it");
        }
        Self {
            server: server.to_owned(),
            dry_run,
            steps: Vec::new(),
        }
    }

    pub(crate) fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// A step: `line` for people, `step` (its `action` and what it acts on) for JSON.
    pub(crate) fn step(&mut self, line: &str, step: Value) {
        info!("plan: {line}");
        self.steps.push(step);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The plan as `--dry-run` prints it: `{"dry_run": true, "server", "changes": [...]}`,
    /// with an INFO line saying how many changes a real run would make.
    pub(crate) fn product(&self) -> String {
        if self.steps.is_empty() {
            info!(
                "dry run: {} is as asked already: nothing would change",
                self.server
            );
        } else {
            info!(
                "dry run: {} change(s) planned for {}; nothing changed. Run again without \
                 --dry-run to make them",
                self.steps.len(),
                self.server
            );
        }
        json_text(&json!({
            "dry_run": true,
            "server": self.server,
            "changes": self.steps,
        }))
    }
}

/// A field's value for a plan line: JSON on one line, a long text (a certificate) cut.
pub(crate) fn shown_value(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "(none)".to_owned(),
        Some(Value::String(text)) if text.chars().count() > 40 => {
            let head: String = text.chars().take(30).collect();
            format!(
                "\"{}...\" ({} characters)",
                render::escape(&head),
                text.chars().count()
            )
        }
        Some(other) => render::escape(&other.to_string()).into_owned(),
    }
}

/// A request that changes Qlik was sent, and its answer was lost, late, empty or unreadable:
/// Qlik may have changed. Said so, with the cause, and that a rerun converges (it reads what
/// Qlik holds and changes only what still differs).
pub(crate) fn outcome_unknown(cause: &UserError, action: &str, server: &str) -> UserError {
    UserError::runtime(format!(
        "{action} on {server}: no usable answer ({cause}); Qlik may have changed, as the request \
         was sent"
    ))
    .with_hint(
        "run the same command again: it reads what Qlik holds now and changes only what still \
         differs, so a rerun converges",
    )
}

/// The public key or certificate, which must be RSA: both kinds of Qlik verify RS256 tokens.
fn rsa_key(args: &crate::cli::key::PublicKeyArgs) -> Result<VerifyingKey> {
    let key = keys::verifying_key(
        args.cert_publickey_file.as_deref(),
        args.cert_publickey.as_deref(),
    )?
    .ok_or_else(|| {
        UserError::usage("give --cert-publickey-file <file> or --cert-publickey <pem>")
    })?;
    if key.blocks > 1 {
        return Err(UserError::runtime(format!(
            "{} holds {} certificates or public keys; give Qlik the one whose private key signs \
             the tokens (the publickey.cer that --cert-create wrote), alone in its file",
            args.origin(),
            key.blocks
        ))
        .into());
    }
    match key.kind {
        PublicKeyKind::Rsa { .. } => Ok(key),
        other => Err(UserError::runtime(format!(
            "{} holds {other}; Qlik verifies qs-jwt's tokens (RS256) with an RSA key",
            args.origin()
        ))
        .into()),
    }
}

fn default_description(issuer: &str, key_id: &str) -> String {
    let long = format!("JWT login for {issuer}, key {key_id} (qs-jwt)");
    if long.chars().count() <= MAX_IDP_DESCRIPTION {
        long
    } else {
        "JWT login (qs-jwt)".to_owned()
    }
}

/// PEM on one line, as Qlik Cloud wants it: "the pem must be on a single line without any line
/// breaks" (its API example: `-----BEGIN CERTIFICATE-----MIIF...-----END CERTIFICATE-----`),
/// and its console refuses line breaks and spaces.
pub fn one_line_pem(pem: &str) -> String {
    pem.lines().map(str::trim).collect()
}

/// The body of `POST /api/v1/identity-providers` for a JWT identity provider.
pub fn qscloud_body(issuer: &str, key_id: &str, one_line_pem: &str, description: &str) -> Value {
    json!({
        "provider": "external",
        "protocol": "jwtAuth",
        "interactive": false,
        "active": true,
        "description": description,
        "options": {
            "jwtLoginEnabled": true,
            "issuer": issuer,
            "staticKeys": [{"kid": key_id, "pem": one_line_pem}],
        },
    })
}

/// The fields of the management console's form, for people.
fn qscloud_console(issuer: &str, key_id: &str, one_line_pem: &str, description: &str) -> String {
    let rows = [
        ("Description", description),
        ("Certificate", one_line_pem),
        ("Issuer", issuer),
        ("Key ID", key_id),
    ];
    format!(
        "Qlik Cloud management console: Administration > Identity provider > Create new, \
         type JWT\n\n{}\nPaste the certificate as the one line above: Qlik refuses line breaks \
         and spaces in it.\nIssuer and Key ID must equal --issuer and --keyid of create-qscloud.",
        table(&rows)
    )
}

/// A virtual proxy prefix as the QMC takes it: lower-case letters, digits and `-._~`, no `/`
/// at either end (leading and trailing `/`, as in `/jwt/`, are dropped).
pub fn virtual_proxy_prefix(prefix: &str) -> Result<String, UserError> {
    let trimmed = prefix.trim_matches('/');
    let valid = !trimmed.is_empty()
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b));
    if valid {
        Ok(trimmed.to_owned())
    } else {
        Err(UserError::usage(format!(
            "--prefix '{prefix}' is not a virtual proxy prefix; the QMC takes lower-case letters, \
             digits and - . _ ~, for example --prefix jwt"
        )))
    }
}

/// The body of `POST /qrs/virtualproxyconfig` for a JWT virtual proxy. The attribute names are
/// the claims create-qseow writes; `group` is mapped so that security rules can read
/// `user.environment.group`. `loadBalancingServerNodes` stays empty: only the admin knows the
/// node ids (the info line says so).
pub fn qseow_body(prefix: &str, audience: &str, certificate: &str, description: &str) -> Value {
    json!({
        "prefix": prefix,
        "description": description,
        "sessionCookieHeaderName": format!("X-Qlik-Session-{prefix}"),
        "authenticationMethod": 4,
        "anonymousAccessMode": 0,
        "jwtAudience": audience,
        "jwtPublicKeyCertificate": certificate.trim_end(),
        "jwtAttributeUserId": QSEOW_USER_ID_CLAIM,
        "jwtAttributeUserDirectory": QSEOW_USER_DIRECTORY_CLAIM,
        "jwtAttributeMap": [{
            "jwtAttribute": QSEOW_GROUP_CLAIM,
            "senseAttribute": QSEOW_GROUP_CLAIM,
            "isMandatory": false,
        }],
        "loadBalancingServerNodes": [],
        "websocketCrossOriginWhiteList": [],
    })
}

/// The QMC's fields (Virtual proxies > Create new), for people.
fn qseow_console(prefix: &str, audience: &str, certificate: &str, description: &str) -> String {
    let cookie = format!("X-Qlik-Session-{prefix}");
    let mapping = format!("{QSEOW_GROUP_CLAIM} to the attribute {QSEOW_GROUP_CLAIM} (optional)");
    let identification = table(&[
        ("Description", description),
        ("Prefix", prefix),
        ("Session cookie header name", &cookie),
    ]);
    let authentication = table(&[
        ("Anonymous access mode", "No anonymous user"),
        ("Authentication method", "JWT"),
        ("JWT audience", audience),
        ("JWT attribute for user ID", QSEOW_USER_ID_CLAIM),
        (
            "JWT attribute for user directory",
            QSEOW_USER_DIRECTORY_CLAIM,
        ),
        ("JWT attribute mapping", &mapping),
    ]);
    format!(
        "QMC: Virtual proxies > Create new\n\nIdentification\n{identification}\n\
         Authentication\n{authentication}  JWT certificate: paste the whole certificate, its \
         BEGIN and END lines included:\n{}\n\nLoad balancing\n  add the engine nodes\n\n\
         Advanced\n  Host allow list: the host names clients use\n\nAssociated items\n  \
         Proxies: link the proxy service(s) that serve the prefix",
        certificate.trim_end()
    )
}

/// Rows of `name: value`, aligned, each value escaped (they came from the command line).
fn table(rows: &[(&str, &str)]) -> String {
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(name, value)| {
            format!(
                "  {:<width$} {}\n",
                format!("{name}:"),
                render::escape(value)
            )
        })
        .collect()
}

fn json_text(value: &Value) -> String {
    // A serde_json Value always serializes.
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    render::json_for_terminal(&text).into_owned()
}

impl Run for SetupQscloudArgs {
    fn log_level(&self) -> LogLevel {
        self.log.loglevel
    }

    /// --apply's and --remove's --timeout bounds the reads of files too.
    fn timeout(&self) -> Option<Duration> {
        (self.tenant.apply || self.tenant.remove).then_some(self.tenant.timeout)
    }

    fn run(&self, _now: SystemTime) -> Result<Output> {
        setup_qscloud(self)
    }
}

impl Run for SetupQseowArgs {
    fn log_level(&self) -> LogLevel {
        self.log.loglevel
    }

    /// --apply's --timeout bounds the reads of files too (--qrs-key, --cacert).
    fn timeout(&self) -> Option<Duration> {
        self.repository.apply.then_some(self.repository.timeout)
    }

    fn run(&self, _now: SystemTime) -> Result<Output> {
        setup_qseow(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_on_one_line() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\nAB==\n-----END CERTIFICATE-----\n";
        assert_eq!(
            one_line_pem(pem),
            "-----BEGIN CERTIFICATE-----MIIBAB==-----END CERTIFICATE-----"
        );
    }

    #[test]
    fn prefixes_as_the_qmc_takes_them() {
        assert_eq!(virtual_proxy_prefix("jwt").unwrap(), "jwt");
        assert_eq!(virtual_proxy_prefix("/jwt/").unwrap(), "jwt");
        assert_eq!(virtual_proxy_prefix("a-b.c_d~1").unwrap(), "a-b.c_d~1");
        for bad in ["", "/", "JWT", "a/b", "a b", "ü"] {
            assert!(virtual_proxy_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_description_fits_qlik_clouds_limit() {
        assert_eq!(
            default_description("t.example", "k1"),
            "JWT login for t.example, key k1 (qs-jwt)"
        );
        let long = "x".repeat(200);
        assert_eq!(default_description(&long, "k"), "JWT login (qs-jwt)");
    }
}
