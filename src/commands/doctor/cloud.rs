//! doctor-qscloud: the tenant's identity providers (`GET /api/v1/identity-providers`, with a
//! tenant admin's API key) compared with the issuer, key ID and private key the tokens are
//! signed with; with `--login`, a fresh token exchanged at `POST /login/jwt-session`.
//!
//! Qlik's rules, with their sources: a JWT identity provider is `protocol: "jwtAuth"`, holds
//! one static key (`options.staticKeys[{kid, pem}]`) and its `options.issuer`; a token is
//! matched to it by its `iss` and `kid`, and verified with that key; only an `active` one
//! takes logins (https://qlik.dev/apis/rest/identity-providers,
//! https://qlik.dev/manage/automate/identity-provider-create/, whose JWT example sends
//! `"jwtLoginEnabled": true`). `claimsMapping`, where an identity provider has one, names the
//! claims Qlik reads each user attribute from. The token's claims: "Create signed tokens for JWT
//! authorization" (https://qlik.dev/authenticate/jwt/create-signed-tokens-for-jwt-authorization/).

use std::path::Path;
use std::time::SystemTime;

use anyhow::Result;
use serde_json::Value;

use super::{
    CertificateLine, Check, Fix, KeyTrouble, LOGIN_TOKEN_SECS, LocalKey, PublicFile, Report,
    certificate_beside, command_line, holds_local_key, key_for_qlik, public_files, quoted,
    read_local_key, said, wrong_key_advice,
};
use crate::claims::{self, QscloudUser, User};
use crate::cli::doctor::DoctorQscloudArgs;
use crate::commands::Output;
use crate::commands::connect::{self, TenantConnection, cloud_failure, tenant_with_api_key};
use crate::error::UserError;
use crate::keys::{self, KeySource, PublicKeyOrigin, Validity};
use crate::qlik::cloud::{self, ApiFailure, IdentityProvider, Tenant};
use crate::secret::SecretText;
use crate::times;
use crate::token;

/// The claims create-qscloud writes, by the user attribute `claimsMapping` maps them to.
const CLAIMS_WRITTEN: &[(&str, &str)] = &[
    ("sub", "sub"),
    ("subType", "subType"),
    ("name", "name"),
    ("email", "email"),
    ("email_verified", "email_verified"),
    ("groups", "groups"),
];

mod id {
    pub const TENANT: &str = "tenant";
    pub const API_KEY: &str = "api-key";
    pub const IDP: &str = "identity-provider";
    pub const IDP_TYPE: &str = "identity-provider-type";
    pub const IDP_ACTIVE: &str = "identity-provider-active";
    pub const IDP_KEY: &str = "identity-provider-key";
    pub const IDP_CERTIFICATE: &str = "identity-provider-certificate";
    pub const IDP_OPTIONS: &str = "identity-provider-options";
    pub const LOGIN: &str = "login";
}

mod title {
    pub const TENANT: &str = "tenant reachable";
    pub const API_KEY: &str = "API key accepted";
    pub const IDP: &str = "identity provider";
    pub const IDP_TYPE: &str = "type JWT";
    pub const IDP_ACTIVE: &str = "active";
    pub const IDP_KEY: &str = "same key";
    pub const IDP_CERTIFICATE: &str = "certificate dates";
    pub const IDP_OPTIONS: &str = "options";
    pub const LOGIN: &str = "login";
}

/// What reading the identity providers gave.
#[derive(Debug)]
pub enum Listed {
    Providers(Vec<IdentityProvider>),
    /// No answer: transport, TLS, time limit; said in words.
    Unreachable(String),
    /// An answer, but the API key was refused (401, 403): the words and Qlik's hint.
    KeyRefused {
        status: u16,
        said: String,
    },
    /// Another refusal or an unreadable answer.
    Failed(String),
}

/// How the fixes name what the user typed: the tenant, and the key's source (never its text).
#[derive(Debug, Clone, PartialEq)]
pub struct Typed {
    pub tenant: String,
    pub issuer: String,
    pub key_id: String,
    /// `--cert-privatekey-file keys/a.pem`, or empty for QSJWTPRIVKEY.
    pub key_source: String,
    /// The private key's file as typed, when the key came from one.
    pub key_file: Option<String>,
    /// The certificate for setup-qscloud --apply, as --cert-create names it beside the key
    /// (named in a fix only once read and found to hold the key, or made by the fix first).
    pub certificate: String,
    /// The certificates and public keys in the key's folder, read and checked.
    pub files: Vec<PublicFile>,
    /// The connection options as typed (`--cacert ca.pem`, `--api-key-file key.txt`,
    /// `--insecure`), for the fixes that reach the tenant too; may be empty.
    pub connection: String,
}

impl Typed {
    fn doctor(&self, issuer: &str, key_id: &str) -> String {
        command_line(
            format!(
                "qs-jwt doctor-qscloud --tenant {} --issuer {} --keyid {}",
                quoted(&self.tenant),
                quoted(issuer),
                quoted(key_id)
            ),
            &[&self.key_source, &self.connection],
        )
    }

    /// The steps that add the local key under `key_id`: its public key made from the private
    /// key when no file here holds it, then setup-qscloud --apply (which adds an identity
    /// provider and replaces none). Words only without a readable local key.
    fn apply(&self, local: Option<&LocalKey>, key_id: &str, now: u64) -> Vec<Fix> {
        let Some(local) = local else {
            return vec![Fix::advice(
                "the local key could not be read: fix it first (its line above), then run the \
                 doctor again for the command that configures it",
            )];
        };
        let key = key_for_qlik(
            local,
            &self.files,
            self.key_file.as_deref(),
            false,
            &self.certificate,
            now,
        );
        let mut steps: Vec<Fix> = key.make.into_iter().collect();
        steps.push(Fix::command(self.apply_with(key_id, &key.file)));
        steps
    }

    fn apply_with(&self, key_id: &str, certificate: &str) -> String {
        command_line(
            format!(
                "qs-jwt setup-qscloud --issuer {} --keyid {} --cert-publickey-file {} --apply \
                 --tenant {}",
                quoted(&self.issuer),
                quoted(key_id),
                certificate,
                quoted(&self.tenant)
            ),
            &[&self.connection],
        )
    }
}

/// The command that makes a new 4096-bit key pair and certificate, as docs/qlik-setup.md does.
const NEW_KEY_PAIR: &str = "qs-jwt create-qseow --userdir DIR --userid test --audience x \
                            --expires 1m --cert-create true --cert-create-expires-days 730 \
                            --cert-file-prefix keys/qsjwt2_";

pub fn doctor_qscloud(args: &DoctorQscloudArgs, now: SystemTime) -> Result<Output> {
    // Usage errors first (no key source, no API key, a --tenant that is no host): exit 2
    // before anything is read or sent.
    let options = args.key.options();
    let env_key = std::env::var_os(keys::KEY_VARIABLE);
    let source = keys::key_source(&options, env_key.as_deref())?;
    let passphrase = keys::passphrase(&options, std::env::var_os(keys::PASSPHRASE_VARIABLE))?;
    let stdin = |path: Option<&Path>| path.is_some_and(|p| p.as_os_str() == "-");
    if stdin(args.connection.api_key_file.as_deref())
        && (stdin(args.key.cert_privatekey_file.as_deref())
            || stdin(args.key.cert_privatekey_passphrase_file.as_deref()))
    {
        return Err(UserError::usage(
            "--api-key-file - and the key's option with - both read standard input, which can \
             carry only one of them; give the API key in a file or in QLIK_API_KEY",
        )
        .into());
    }
    let client = tenant_with_api_key(&TenantConnection {
        tenant: &args.tenant,
        api_key_file: args.connection.api_key_file.as_deref(),
        cacert: args.connection.cacert.as_deref(),
        insecure: args.connection.insecure,
        timeout: args.connection.timeout,
        needed_by: "doctor-qscloud",
    })?;
    let mut typed = typed(args, &source);

    let (local, signing) = read_local_key(&source, passphrase.as_ref(), now);
    typed.files = public_files(super::folder_as_typed(
        typed.key_file.as_deref().unwrap_or_default(),
    ));

    let listed = match client.identity_providers() {
        Ok(providers) => Listed::Providers(providers),
        Err(failure) => listed_failure(failure, &client),
    };
    let now_seconds = times::unix_seconds(now)?;
    let mut report = checks(&typed, &local, &listed, now_seconds);
    if args.login {
        match (&signing, report.passed(id::TENANT)) {
            (None, _) => report.push(Check::skip(
                id::LOGIN,
                title::LOGIN,
                "no token to log in with: the local key could not be read",
            )),
            (Some(_), false) => report.push(Check::skip(
                id::LOGIN,
                title::LOGIN,
                "the tenant could not be reached",
            )),
            (Some(key), true) => {
                let (login, engine) = login(&client, args, key, now_seconds);
                report.push(login);
                report.push(engine);
            }
        }
    }
    Ok(report.into_output(args.output.output))
}

fn listed_failure(failure: ApiFailure, tenant: &Tenant) -> Listed {
    match failure {
        ApiFailure::Transport(err) => Listed::Unreachable(said(&err.into())),
        ApiFailure::Refused { status, .. } if status == 401 || status == 403 => {
            let err = cloud_failure(failure, "list the identity providers", tenant);
            Listed::KeyRefused {
                status,
                said: said(&err.into()),
            }
        }
        other => Listed::Failed(said(
            &cloud_failure(other, "list the identity providers", tenant).into(),
        )),
    }
}

/// The command line's names, as the fixes repeat them.
fn typed(args: &DoctorQscloudArgs, source: &KeySource<'_>) -> Typed {
    let key_file = match source {
        KeySource::File(path) => Some(path.display().to_string()),
        _ => None,
    };
    let (key_source, certificate) = match source {
        KeySource::File(path) => (
            format!(
                "--cert-privatekey-file {}",
                quoted(&path.display().to_string())
            ),
            certificate_beside(&path.display().to_string()),
        ),
        KeySource::Stdin => (
            "--cert-privatekey-file -".to_owned(),
            "publickey.cer".to_owned(),
        ),
        // The key's text never goes into a message: the fix names where it goes.
        KeySource::Text(_) => (
            "--cert-privatekey \"$PRIVATE_KEY\"".to_owned(),
            "publickey.cer".to_owned(),
        ),
        KeySource::Env(_) | KeySource::Create { .. } => (String::new(), "publickey.cer".to_owned()),
    };
    let mut connection = Vec::new();
    if let Some(file) = &args.connection.api_key_file {
        connection.push(format!(
            "--api-key-file {}",
            quoted(&file.display().to_string())
        ));
    }
    if let Some(file) = &args.connection.cacert {
        connection.push(format!("--cacert {}", quoted(&file.display().to_string())));
    }
    if args.connection.insecure {
        connection.push("--insecure".to_owned());
    }
    Typed {
        connection: connection.join(" "),
        tenant: args.tenant.clone(),
        issuer: args.issuer.clone(),
        key_id: args.keyid.clone(),
        key_source,
        key_file,
        certificate,
        files: Vec::new(),
    }
}

/// Every check but the login, from what was read: pure, for the unit tests.
pub fn checks(
    typed: &Typed,
    local: &Result<LocalKey, KeyTrouble>,
    listed: &Listed,
    now: u64,
) -> Report {
    let mut report = Report::new(vec![
        ("tenant", typed.tenant.clone()),
        ("issuer", typed.issuer.clone()),
        ("keyid", typed.key_id.clone()),
    ]);
    report.push(local_key_check(local));
    let providers = match listed {
        Listed::Providers(providers) => {
            report.push(Check::pass(
                id::TENANT,
                title::TENANT,
                format!("{} answered", typed.tenant),
            ));
            report.push(Check::pass(
                id::API_KEY,
                title::API_KEY,
                format!(
                    "the API key lists the identity providers ({})",
                    providers.len()
                ),
            ));
            providers
        }
        Listed::Unreachable(why) => {
            report.push(Check::fail(id::TENANT, title::TENANT, why.clone()));
            skip_all(&mut report, "the tenant could not be reached");
            return report;
        }
        Listed::KeyRefused { status, said } => {
            report.push(Check::pass(
                id::TENANT,
                title::TENANT,
                format!("{} answered (HTTP {status})", typed.tenant),
            ));
            report.push(Check::fail(id::API_KEY, title::API_KEY, said.clone()));
            skip_all(&mut report, "the API key was refused");
            return report;
        }
        Listed::Failed(said) => {
            report.push(Check::pass(
                id::TENANT,
                title::TENANT,
                format!("{} answered", typed.tenant),
            ));
            report.push(Check::fail(id::API_KEY, title::API_KEY, said.clone()));
            skip_all(&mut report, "the identity providers could not be listed");
            return report;
        }
    };
    let local = local.as_ref().ok();
    let Some((provider, pem)) = find(providers, &typed.issuer, &typed.key_id) else {
        report.push(missing(typed, providers, local, now));
        skip_all(
            &mut report,
            "no identity provider has this issuer and key ID",
        );
        return report;
    };
    let twins: Vec<&str> = providers
        .iter()
        .filter(|p| p.key_for(&typed.issuer, &typed.key_id).is_some())
        .map(|p| p.id.as_str())
        .collect();
    if twins.len() > 1 {
        // Runs that overlapped made one each: which one Qlik uses is not said, and --remove
        // of one leaves the others. setup-qscloud --apply keeps one and removes the twins
        // holding the same key.
        report.push(
            Check::fail(
                id::IDP,
                title::IDP,
                format!(
                    "{} JWT identity providers have issuer '{}' and key ID '{}' ({}): twins, \
                     made by runs that overlapped; keep one",
                    twins.len(),
                    typed.issuer,
                    typed.key_id,
                    twins.join(", ")
                ),
            )
            .with_fixes(typed.apply(local, &typed.key_id, now)),
        );
    } else {
        report.push(Check::pass(
            id::IDP,
            title::IDP,
            format!(
                "'{}' has issuer '{}' and key ID '{}'",
                provider.id, typed.issuer, typed.key_id
            ),
        ));
    }
    report.push(type_check(provider));
    report.push(active_check(provider));
    let server_key = pem.map(|pem| {
        keys::verifying_key_from(
            pem,
            &PublicKeyOrigin::Named(format!("the identity provider '{}''s key", provider.id)),
        )
    });
    report.push(key_check(typed, provider, server_key.as_ref(), local, now));
    let new_key_id = local.map_or_else(|| "<new key ID>".to_owned(), |l| l.public.thumbprint());
    report.push(certificate_check(
        typed,
        local,
        &new_key_id,
        pem.and_then(keys::certificate_validity),
        pem.is_some(),
        now,
    ));
    report.push(options_check(provider));
    report
}

/// Skips every check of the identity provider not run yet.
fn skip_all(report: &mut Report, why: &str) {
    let all = [
        (id::API_KEY, title::API_KEY),
        (id::IDP, title::IDP),
        (id::IDP_TYPE, title::IDP_TYPE),
        (id::IDP_ACTIVE, title::IDP_ACTIVE),
        (id::IDP_KEY, title::IDP_KEY),
        (id::IDP_CERTIFICATE, title::IDP_CERTIFICATE),
        (id::IDP_OPTIONS, title::IDP_OPTIONS),
    ];
    for (id, title) in all {
        if !report.checks.iter().any(|c| c.id == id) {
            report.push(Check::skip(id, title, why));
        }
    }
}

fn local_key_check(local: &Result<LocalKey, KeyTrouble>) -> Check {
    super::local_key_check(
        local,
        "configure it under a new key ID",
        NEW_KEY_PAIR.to_owned(),
    )
}

/// The identity provider with this issuer and key ID, of any type (the type is a check of its
/// own), an active JWT one first; and its key's PEM, when the tenant gave it.
fn find<'a>(
    providers: &'a [IdentityProvider],
    issuer: &str,
    key_id: &str,
) -> Option<(&'a IdentityProvider, Option<&'a str>)> {
    let matching = |p: &&'a IdentityProvider| {
        p.issuer.as_deref() == Some(issuer) && p.keys.iter().any(|k| k.kid == key_id)
    };
    let best = providers
        .iter()
        .filter(matching)
        .max_by_key(|p| (p.is_jwt(), p.active))?;
    let pem = best
        .keys
        .iter()
        .find(|k| k.kid == key_id)
        .and_then(|k| k.pem.as_deref());
    Some((best, pem))
}

/// No identity provider has this issuer and key ID: those that have one of the two, with the
/// value the tenant holds, and the fix that is one copy when one of them holds the local key.
fn missing(
    typed: &Typed,
    providers: &[IdentityProvider],
    local: Option<&LocalKey>,
    now: u64,
) -> Check {
    let yours = |pem: Option<&str>| match holds_local_key(pem, local) {
        Some(true) => " (your key)",
        Some(false) => " (another key)",
        None => "",
    };
    let mut found = format!(
        "no identity provider has issuer '{}' and key ID '{}'",
        typed.issuer, typed.key_id
    );
    let mut same_issuer = Vec::new();
    let mut same_kid = Vec::new();
    let mut fix = None;
    for provider in providers {
        for key in &provider.keys {
            let pem = key.pem.as_deref();
            if provider.issuer.as_deref() == Some(typed.issuer.as_str()) {
                same_issuer.push(format!(
                    "'{}' has key ID '{}'{}",
                    provider.id,
                    key.kid,
                    yours(pem)
                ));
                if fix.is_none() && holds_local_key(pem, local) == Some(true) {
                    fix = Some(typed.doctor(&typed.issuer, &key.kid));
                }
            } else if key.kid == typed.key_id {
                let issuer = provider.issuer.as_deref().unwrap_or_default();
                same_kid.push(format!(
                    "'{}' has issuer '{issuer}'{}",
                    provider.id,
                    yours(pem)
                ));
                if fix.is_none() && holds_local_key(pem, local) == Some(true) {
                    fix = Some(typed.doctor(issuer, &typed.key_id));
                }
            }
        }
    }
    if !same_issuer.is_empty() {
        found.push_str(&format!(
            "; with issuer '{}': {}",
            typed.issuer,
            same_issuer.join(", ")
        ));
    }
    if !same_kid.is_empty() {
        found.push_str(&format!(
            "; with key ID '{}': {}",
            typed.key_id,
            same_kid.join(", ")
        ));
    }
    // The issuer holds other keys and none is this one: after a rotation, this is the retired
    // key. Adding it back would undo the rotation, so it is said, not offered.
    let issuer_holds_others = local.is_some()
        && providers
            .iter()
            .filter(|p| p.issuer.as_deref() == Some(typed.issuer.as_str()))
            .flat_map(|p| &p.keys)
            .any(|k| holds_local_key(k.pem.as_deref(), local) == Some(false));
    if fix.is_some() {
        found.push_str("; sign with the key ID and issuer of the one that holds your key");
    } else if issuer_holds_others {
        found.push_str(&format!(
            "; the issuer '{}' no longer holds your key (or does not hold it yet) and holds \
             others: if your key was rotated out, sign with the issuer's current key; if it is \
             a new key being rotated in, add it under a new key ID (setup-qscloud --apply, \
             docs/qlik-setup.md \"Rotating the key (Qlik Cloud)\")",
            typed.issuer
        ));
        return Check::fail(id::IDP, title::IDP, found);
    } else if same_issuer.is_empty() && same_kid.is_empty() {
        found.push_str(&format!(
            " (the tenant has {})",
            crate::render::count(providers.len(), "identity provider")
        ));
    }
    let check = Check::fail(id::IDP, title::IDP, found);
    match fix {
        Some(fix) => check.with_fix(fix),
        None => check.with_fixes(typed.apply(local, &typed.key_id, now)),
    }
}

fn type_check(provider: &IdentityProvider) -> Check {
    if provider.is_jwt() {
        return Check::pass(id::IDP_TYPE, title::IDP_TYPE, "protocol jwtAuth");
    }
    Check::fail(
        id::IDP_TYPE,
        title::IDP_TYPE,
        format!(
            "'{}' has protocol '{}', not jwtAuth: Qlik verifies no JWT with it",
            provider.id,
            provider.protocol.as_deref().unwrap_or("(none)")
        ),
    )
}

fn active_check(provider: &IdentityProvider) -> Check {
    // `provider.active` takes a missing `active` for true (the safe side for --remove); here a
    // pass would vouch for what the tenant did not say.
    if provider
        .json
        .get("active")
        .and_then(serde_json::Value::as_bool)
        .is_none()
    {
        return Check::warn(
            id::IDP_ACTIVE,
            title::IDP_ACTIVE,
            format!(
                "the tenant did not say whether '{}' is active; the management console shows it \
                 (Administration > Identity provider)",
                provider.id
            ),
        );
    }
    if provider.active {
        return Check::pass(id::IDP_ACTIVE, title::IDP_ACTIVE, "active");
    }
    Check::fail(
        id::IDP_ACTIVE,
        title::IDP_ACTIVE,
        format!(
            "'{}' is not active: Qlik takes no token through it until a tenant admin activates \
             it in the management console (Administration > Identity provider)",
            provider.id
        ),
    )
}

fn key_check(
    typed: &Typed,
    provider: &IdentityProvider,
    server_key: Option<&Result<keys::VerifyingKey, UserError>>,
    local: Option<&LocalKey>,
    now: u64,
) -> Check {
    let server = match server_key {
        None => {
            return Check::warn(
                id::IDP_KEY,
                title::IDP_KEY,
                format!(
                    "the tenant did not return the key of '{}', so it cannot be compared; \
                     --login proves it",
                    provider.id
                ),
            );
        }
        Some(Err(err)) => {
            return Check::fail(id::IDP_KEY, title::IDP_KEY, err.to_string());
        }
        Some(Ok(key)) => key,
    };
    let Some(server_rsa) = &server.rsa else {
        return Check::fail(
            id::IDP_KEY,
            title::IDP_KEY,
            format!(
                "'{}' holds {}; Qlik verifies qs-jwt's tokens (RS256) with an RSA key",
                provider.id, server.kind
            ),
        );
    };
    let Some(local) = local else {
        return Check::skip(
            id::IDP_KEY,
            title::IDP_KEY,
            "the local key could not be read",
        );
    };
    if *server_rsa == local.public {
        return Check::pass(
            id::IDP_KEY,
            title::IDP_KEY,
            format!(
                "'{}' holds the public half of your private key (thumbprint {})",
                provider.id,
                local.public.thumbprint()
            ),
        );
    }
    let new_id = local.public.thumbprint();
    Check::fail(
        id::IDP_KEY,
        title::IDP_KEY,
        format!(
            "'{}' holds another key (thumbprint {}) than the public half of your private key \
             (thumbprint {}); Qlik never replaces a key in place: configure yours under a new \
             key ID and sign with it (docs/qlik-setup.md, \"Rotating the key (Qlik Cloud)\")",
            provider.id,
            server_rsa.thumbprint(),
            local.public.thumbprint()
        ),
    )
    .with_fixes([wrong_key_advice(
        &format!("the identity provider '{}'", provider.id),
        server_rsa,
        &typed.files,
    )])
    .with_fixes(typed.apply(Some(local), &new_id, now))
}

/// `new_key_id`: the key ID a new certificate is configured under (the key's thumbprint).
fn certificate_check(
    typed: &Typed,
    local: Option<&LocalKey>,
    new_key_id: &str,
    validity: Option<Validity>,
    has_key: bool,
    now: u64,
) -> Check {
    let Some(validity) = validity else {
        let why = if has_key {
            "the identity provider holds a public key, not a certificate: no dates to check"
        } else {
            "the tenant did not return the identity provider's key"
        };
        return Check::skip(id::IDP_CERTIFICATE, title::IDP_CERTIFICATE, why);
    };
    super::certificate_dates_check(
        CertificateLine {
            id: id::IDP_CERTIFICATE,
            title: title::IDP_CERTIFICATE,
            then: "configure it under a new key ID",
            fix: typed.apply(local, new_key_id, now),
        },
        &validity,
        now,
    )
}

/// The identity provider's options against the token create-qscloud writes: JWT logins
/// enabled, and any `claimsMapping` reading the claims it writes.
fn options_check(provider: &IdentityProvider) -> Check {
    let options = provider.json.get("options");
    if options.and_then(|o| o.get("jwtLoginEnabled")) == Some(&Value::Bool(false)) {
        return Check::fail(
            id::IDP_OPTIONS,
            title::IDP_OPTIONS,
            format!(
                "'{}' has options.jwtLoginEnabled false: Qlik takes no JWT login through it",
                provider.id
            ),
        );
    }
    let mut differ = Vec::new();
    if let Some(mapping) = options
        .and_then(|o| o.get("claimsMapping"))
        .and_then(Value::as_object)
    {
        for (attribute, claim) in CLAIMS_WRITTEN {
            let Some(read) = mapping.get(*attribute) else {
                continue;
            };
            let names: Vec<&str> = match read {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !names.contains(claim) {
                differ.push(format!(
                    "claimsMapping.{attribute} reads {}, and create-qscloud writes '{claim}'",
                    if names.is_empty() {
                        "nothing".to_owned()
                    } else {
                        names
                            .iter()
                            .map(|n| format!("'{n}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ));
            }
        }
    }
    if !differ.is_empty() {
        return Check::warn(
            id::IDP_OPTIONS,
            title::IDP_OPTIONS,
            format!(
                "{}: write that claim too (create-qscloud --claim <name>=<value>)",
                differ.join("; ")
            ),
        );
    }
    let tolerance = options
        .and_then(|o| o.get("clockToleranceSec"))
        .and_then(Value::as_u64)
        .map(|s| format!(", clock tolerance {s}s"))
        .unwrap_or_default();
    Check::pass(
        id::IDP_OPTIONS,
        title::IDP_OPTIONS,
        format!("JWT logins enabled, the claims create-qscloud writes are read{tolerance}"),
    )
}

/// The user `--login` signs in without `--sub`: its own, so that no existing user's name or
/// email is rewritten from a probe's claims (a JWT login updates the user it names).
pub const PROBE_SUBJECT: &str = "qs-jwt-doctor";
const PROBE_NAME: &str = "qs-jwt doctor probe";
const PROBE_EMAIL: &str = "qs-jwt-doctor@qs-jwt-doctor.invalid";

/// `--login`: a fresh token from the one place that signs, sent to /login/jwt-session. Neither
/// the token nor the session's cookies are shown; Qlik's error is, with the token cut out.
fn login(
    client: &Tenant,
    args: &DoctorQscloudArgs,
    key: &keys::SigningKey,
    now: u64,
) -> (Check, Check) {
    match login_result(client, args, key, now) {
        Ok(checks) => checks,
        Err(check) => (
            check,
            Check::skip(
                super::ENGINE_ID,
                super::ENGINE_TITLE,
                "no session to prove the engine with",
            ),
        ),
    }
}

fn login_result(
    client: &Tenant,
    args: &DoctorQscloudArgs,
    key: &keys::SigningKey,
    now: u64,
) -> Result<(Check, Check), Check> {
    let fail = |why: String| Check::fail(id::LOGIN, title::LOGIN, why);
    let (sub, name, email) = match (&args.sub, &args.name, &args.email) {
        (Some(sub), Some(name), Some(email)) => (sub.clone(), name.clone(), email.clone()),
        _ => (
            PROBE_SUBJECT.to_owned(),
            PROBE_NAME.to_owned(),
            PROBE_EMAIL.to_owned(),
        ),
    };
    let user = QscloudUser {
        issuer: args.issuer.clone(),
        key_id: args.keyid.clone(),
        sub: Some(sub.clone()),
        email_verified: Some(false),
        user: User {
            name: Some(name),
            email: Some(email),
            groups: Vec::new(),
            expires: std::time::Duration::from_secs(LOGIN_TOKEN_SECS),
            extra: Vec::new(),
        },
    };
    let mut random = crate::commands::random_id;
    let payload =
        claims::qscloud_claims(&user, now, &mut random).map_err(|e| fail(e.to_string()))?;
    let header = claims::qscloud_header(&args.keyid);
    let token = token::sign(&header, &payload, key).map_err(|e| fail(said(&e)))?;
    let token = SecretText::new(token);
    let reply = client
        .jwt_session(&token)
        .map_err(|e| fail(said(&e.into())))?;
    if !(200..300).contains(&reply.status) {
        let body = cloud::ErrorBody::parse(&reply.body);
        let words: Vec<&str> = [&body.title, &body.detail, &body.code]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let words = if words.is_empty() {
            String::new()
        } else {
            format!(": {}", words.join(", "))
        };
        let trace = body
            .trace_id
            .map(|t| format!(" (traceId {t})"))
            .unwrap_or_default();
        // The token is registered as a secret: error::redact_keys cuts it out of Qlik's words
        // when they are shown.
        return Err(fail(format!(
            "Qlik Cloud refused a fresh token for '{sub}' (HTTP {}){words}{trace}",
            reply.status
        )));
    }
    if reply.set_cookies.is_empty() {
        return Err(fail(format!(
            "Qlik Cloud answered HTTP {} but set no session cookie",
            reply.status
        )));
    }
    let cookies = connect::cookie_header(&reply.set_cookies);
    // The probe ends its session: the steps before leave time for that.
    crate::http::hold_back_for_cleanup();
    let engine = match &cookies {
        Some(cookies) => {
            let target = crate::commands::prove::EngineTarget {
                origin: None,
                app: None,
            };
            let report =
                crate::commands::prove::qscloud(client, Some(cookies), None, &target, None)
                    .unwrap_or_else(|e| {
                        crate::commands::prove::EngineReport::unreachable(&e, None)
                    });
            super::engine_check(&report)
        }
        None => Check::skip(super::ENGINE_ID, super::ENGINE_TITLE, "no session cookie"),
    };
    let ended = cookies.is_some_and(|cookies| connect::end_qscloud_session(client, &cookies));
    Ok((
        Check::pass(
            id::LOGIN,
            title::LOGIN,
            format!(
                "a fresh token for '{sub}' made a session (HTTP {}){}",
                reply.status,
                if ended {
                    ", ended again"
                } else {
                    ", left open (see the warning)"
                }
            ),
        ),
        engine,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::commands::doctor::EXPIRY_WARNING_SECS;
    use serde_json::json;

    const NOW: u64 = times::EXAMPLE_NOW;

    fn typed() -> Typed {
        Typed {
            tenant: "t.example".to_owned(),
            issuer: "i".to_owned(),
            key_id: "k".to_owned(),
            key_source: "--cert-privatekey-file keys/qsjwt_privatekey.pem".to_owned(),
            key_file: Some("keys/qsjwt_privatekey.pem".to_owned()),
            certificate: "keys/qsjwt_publickey.cer".to_owned(),
            files: Vec::new(),
            connection: String::new(),
        }
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name),
        )
        .unwrap()
    }

    fn one_line(pem: &str) -> String {
        pem.lines().map(str::trim).collect()
    }

    fn local(name: &str) -> LocalKey {
        let key = keys::verifying_key_from(&fixture(name), &PublicKeyOrigin::Flag).unwrap();
        let public = key.rsa.unwrap();
        LocalKey {
            bits: public.bits(),
            public,
        }
    }

    fn idp(
        id: &str,
        issuer: &str,
        kid: &str,
        pem: &str,
        active: bool,
        protocol: &str,
    ) -> IdentityProvider {
        IdentityProvider::from_json(&json!({
            "id": id, "protocol": protocol, "provider": "external", "active": active,
            "options": {"jwtLoginEnabled": true, "issuer": issuer,
                        "staticKeys": [{"kid": kid, "pem": pem}]}
        }))
    }

    fn cert() -> String {
        one_line(&fixture("rsa2048-cert.pem"))
    }

    fn status_of(report: &Report, id: &str) -> Status {
        report.checks.iter().find(|c| c.id == id).unwrap().status
    }

    fn check<'a>(report: &'a Report, id: &str) -> &'a Check {
        report.checks.iter().find(|c| c.id == id).unwrap()
    }

    #[test]
    fn all_pass_for_the_identity_provider_of_this_key() {
        let listed = Listed::Providers(vec![idp("abc", "i", "k", &cert(), true, "jwtAuth")]);
        // The fixture certificate's own time: made when the fixtures were.
        let now = keys::certificate_validity(&cert()).unwrap().not_before + 86_400;
        let report = checks(&typed(), &Ok(local("rsa2048-cert.pem")), &listed, now);
        for c in &report.checks {
            assert!(matches!(c.status, Status::Pass | Status::Skip), "{c:?}");
        }
        assert!(report.ok());
        assert_eq!(status_of(&report, id::IDP_KEY), Status::Pass);
    }

    #[test]
    fn twins_fail_with_apply_which_keeps_one() {
        let listed = Listed::Providers(vec![
            idp("a1", "i", "k", &cert(), true, "jwtAuth"),
            idp("b2", "i", "k", &cert(), true, "jwtAuth"),
        ]);
        let report = checks(&typed(), &Ok(local("rsa2048-cert.pem")), &listed, NOW);
        let c = check(&report, id::IDP);
        assert_eq!(c.status, Status::Fail);
        assert!(c.found.contains("2 JWT identity providers"), "{}", c.found);
        assert!(c.found.contains("a1, b2"), "{}", c.found);
        assert!(
            c.fix()
                .is_some_and(|f| f.contains("setup-qscloud") && f.contains("--apply")),
            "{:?}",
            c.fix()
        );
    }

    #[test]
    fn another_key_id_of_the_issuer_is_shown_and_is_the_fix() {
        let listed = Listed::Providers(vec![idp(
            "abc",
            "i",
            "server-kid",
            &cert(),
            true,
            "jwtAuth",
        )]);
        let report = checks(&typed(), &Ok(local("rsa2048-cert.pem")), &listed, NOW);
        let c = check(&report, id::IDP);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.found.contains("'abc' has key ID 'server-kid' (your key)"),
            "{}",
            c.found
        );
        assert_eq!(
            c.fix(),
            Some(
                "qs-jwt doctor-qscloud --tenant t.example --issuer i --keyid server-kid --cert-privatekey-file keys/qsjwt_privatekey.pem"
            )
        );
        assert_eq!(status_of(&report, id::IDP_KEY), Status::Skip);
    }

    #[test]
    fn the_key_id_under_another_issuer_is_shown() {
        let listed = Listed::Providers(vec![idp("abc", "other", "k", &cert(), true, "jwtAuth")]);
        let report = checks(&typed(), &Ok(local("rsa2048-cert.pem")), &listed, NOW);
        let c = check(&report, id::IDP);
        assert!(
            c.found
                .contains("with key ID 'k': 'abc' has issuer 'other' (your key)"),
            "{}",
            c.found
        );
        assert!(c.fix().unwrap().contains("--issuer other --keyid k"));
    }

    #[test]
    fn no_identity_provider_is_fixed_by_apply() {
        let report = checks(
            &typed(),
            &Ok(local("rsa2048-cert.pem")),
            &Listed::Providers(vec![]),
            NOW,
        );
        // No file here was found to hold the key: the fix makes one from the private key
        // first, and names only that.
        let steps: Vec<&str> = check(&report, id::IDP)
            .fixes
            .iter()
            .map(|f| f.text.as_str())
            .collect();
        assert_eq!(
            steps,
            [
                "openssl pkey -in keys/qsjwt_privatekey.pem -pubout -out keys/qsjwt_publickey.pem",
                "qs-jwt setup-qscloud --issuer i --keyid k --cert-publickey-file keys/qsjwt_publickey.pem --apply --tenant t.example"
            ]
        );
        // A file here that holds the key is named as it is.
        let mine = local("rsa2048-cert.pem");
        let mut with_file = typed();
        with_file.files = vec![PublicFile {
            path: "keys/mine.pem".to_owned(),
            public: mine.public.clone(),
            certificate: false,
            validity: None,
        }];
        let report = checks(&with_file, &Ok(mine), &Listed::Providers(vec![]), NOW);
        assert_eq!(
            check(&report, id::IDP).fix(),
            Some(
                "qs-jwt setup-qscloud --issuer i --keyid k --cert-publickey-file keys/mine.pem --apply --tenant t.example"
            )
        );
    }

    #[test]
    fn a_retired_key_is_said_and_never_added_back() {
        let current = one_line(&fixture("rsa2048-genpkey-public.pem"));
        let listed = Listed::Providers(vec![idp("new", "i", "k2", &current, true, "jwtAuth")]);
        let report = checks(&typed(), &Ok(local("rsa2048-cert.pem")), &listed, NOW);
        let c = check(&report, id::IDP);
        assert_eq!(c.status, Status::Fail);
        assert!(c.found.contains("no longer holds your key"), "{}", c.found);
        assert!(c.fixes.is_empty(), "{:?}", c.fixes);
    }

    #[test]
    fn another_key_fails_with_a_new_key_id() {
        let other = one_line(&fixture("rsa2048-genpkey-public.pem"));
        let listed = Listed::Providers(vec![idp("abc", "i", "k", &other, true, "jwtAuth")]);
        let mine = local("rsa2048-cert.pem");
        let report = checks(&typed(), &Ok(mine.clone()), &listed, NOW);
        let c = check(&report, id::IDP_KEY);
        assert_eq!(c.status, Status::Fail);
        // First that this key may be the wrong one, then the key added under a new key ID
        // (which replaces nothing).
        assert_eq!(c.fixes[0].effect, super::super::Effect::Advice);
        assert!(c.fixes[0].text.contains("wrong key"), "{:?}", c.fixes);
        let apply = c.fixes.last().unwrap();
        assert_eq!(apply.effect, super::super::Effect::ChangesQlik);
        assert!(apply.text.contains(&mine.public.thumbprint()));
        assert_eq!(status_of(&report, id::IDP_CERTIFICATE), Status::Skip);
    }

    #[test]
    fn inactive_and_other_types_fail() {
        let listed = Listed::Providers(vec![idp("abc", "i", "k", &cert(), false, "OIDC")]);
        let report = checks(&typed(), &Ok(local("rsa2048-cert.pem")), &listed, NOW);
        assert_eq!(status_of(&report, id::IDP_TYPE), Status::Fail);
        assert_eq!(status_of(&report, id::IDP_ACTIVE), Status::Fail);
    }

    #[test]
    fn a_short_or_unreadable_local_key_fails() {
        let short = LocalKey {
            bits: 1024,
            ..local("rsa2048-cert.pem")
        };
        let listed = Listed::Providers(vec![idp("abc", "i", "k", &cert(), true, "jwtAuth")]);
        let report = checks(&typed(), &Ok(short), &listed, NOW);
        assert_eq!(status_of(&report, "local-key"), Status::Fail);
        let report = checks(
            &typed(),
            &Err(KeyTrouble {
                said: "cannot read".to_owned(),
                new_pair: false,
            }),
            &listed,
            NOW,
        );
        assert_eq!(status_of(&report, "local-key"), Status::Fail);
        assert_eq!(check(&report, "local-key").fix(), None);
        assert_eq!(status_of(&report, id::IDP_KEY), Status::Skip);
    }

    #[test]
    fn certificate_dates() {
        let validity = keys::certificate_validity(&cert()).unwrap();
        let at = |now| certificate_check(&typed(), None, "n", Some(validity), true, now).status;
        assert_eq!(at(validity.not_before - 1), Status::Fail);
        assert_eq!(
            at(validity.not_after - EXPIRY_WARNING_SECS - 1),
            Status::Pass
        );
        assert_eq!(at(validity.not_after - 86_400), Status::Warn);
        assert_eq!(at(validity.not_after), Status::Fail);
        assert_eq!(
            certificate_check(&typed(), None, "n", None, true, NOW).status,
            Status::Skip
        );
    }

    #[test]
    fn options_that_read_other_claims_warn() {
        let mut provider = idp("abc", "i", "k", &cert(), true, "jwtAuth");
        assert_eq!(options_check(&provider).status, Status::Pass);
        provider.json["options"]["claimsMapping"] = json!({"sub": ["oid"], "name": ["name"]});
        let c = options_check(&provider);
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.found.contains("claimsMapping.sub reads 'oid'"),
            "{}",
            c.found
        );
        provider.json["options"]["jwtLoginEnabled"] = json!(false);
        assert_eq!(options_check(&provider).status, Status::Fail);
    }

    #[test]
    fn unreachable_and_refused_skip_what_follows() {
        let report = checks(
            &typed(),
            &Ok(local("rsa2048-cert.pem")),
            &Listed::Unreachable("no".into()),
            NOW,
        );
        assert_eq!(status_of(&report, id::TENANT), Status::Fail);
        assert_eq!(status_of(&report, id::API_KEY), Status::Skip);
        assert_eq!(status_of(&report, id::IDP_OPTIONS), Status::Skip);
        let report = checks(
            &typed(),
            &Ok(local("rsa2048-cert.pem")),
            &Listed::KeyRefused {
                status: 401,
                said: "refused".into(),
            },
            NOW,
        );
        assert_eq!(status_of(&report, id::TENANT), Status::Pass);
        assert_eq!(status_of(&report, id::API_KEY), Status::Fail);
        assert_eq!(status_of(&report, id::IDP), Status::Skip);
    }

    #[test]
    fn the_certificate_is_named_after_the_private_key() {
        assert_eq!(
            certificate_beside("keys/qsjwt_privatekey.pem"),
            "keys/qsjwt_publickey.cer"
        );
        assert_eq!(
            certificate_beside("keys\\signing.pem"),
            "keys\\publickey.cer"
        );
        assert_eq!(certificate_beside("signing.pem"), "publickey.cer");
    }
}
