//! `create-key`: a key pair and its certificate, the first step of configuring Qlik, without
//! inventing a user to sign a token for. The files are written as `--cert-create` writes them
//! (`keys::create_key_files`); this module prints where they went.

use std::time::SystemTime;

use anyhow::Result;
use serde_json::json;
use tracing::info;

use crate::cli::key::{CreateKeyArgs, KeyFormat};
use crate::cli::output::LogLevel;
use crate::commands::{JsonAskedBy, Output, Run};
use crate::keys::{self, NewKey, NewKeyOptions};
use crate::render;

impl Run for CreateKeyArgs {
    fn log_level(&self) -> LogLevel {
        self.log.loglevel
    }

    fn json_failure(&self) -> bool {
        self.output == KeyFormat::Json
    }

    fn run(&self, now: SystemTime) -> Result<Output> {
        create_key(self, now)
    }

    fn json_asked_by() -> JsonAskedBy {
        JsonAskedBy::OutputJson
    }
}

fn create_key(args: &CreateKeyArgs, now: SystemTime) -> Result<Output> {
    let passphrase =
        keys::passphrase(&args.options(), std::env::var_os(keys::PASSPHRASE_VARIABLE))?;
    let made = keys::create_key_files(
        &NewKeyOptions {
            prefix: &args.cert_file_prefix,
            days: args.cert_create_expires_days,
            force: args.force,
            key_type: args.new_key_type()?,
        },
        passphrase.as_ref(),
        now,
    )?;
    let certificate = render::shell_quoted(&made.files.certificate.display().to_string());
    info!(
        "next: give Qlik the certificate, qs-jwt setup-qscloud ... --cert-publickey-file \
         {certificate} (Qlik Cloud) or qs-jwt setup-qseow ... --cert-publickey-file \
         {certificate} (QSEoW)"
    );
    let stdout = render_new_key(&made, args.output);
    Ok(Output {
        pending_files: Some(made.files.pending),
        ..Output::product(stdout)
    })
}

/// What create-key prints: the three paths, a line each, or one JSON object.
fn render_new_key(made: &NewKey, format: KeyFormat) -> String {
    let thumbprint = &made.thumbprint;
    let made = &made.files;
    let paths = [&made.private_key, &made.public_key, &made.certificate]
        .map(|path| path.display().to_string());
    match format {
        KeyFormat::Text => paths
            .iter()
            .map(|path| render::escape(path).into_owned())
            .collect::<Vec<_>>()
            .join("\n"),
        KeyFormat::Json => {
            let [private_key, public_key, certificate] = paths;
            let object = json!({
                "privateKey": private_key,
                "publicKey": public_key,
                "certificate": certificate,
                "keyType": made.key_type.name(),
                "keySize": made.key_type.bits(),
                "encrypted": made.encrypted,
                "thumbprint": thumbprint,
                "notBefore": humantime::format_rfc3339_seconds(made.not_before).to_string(),
                "notAfter": humantime::format_rfc3339_seconds(made.not_after).to_string(),
            });
            render::json_for_terminal(&object.to_string()).into_owned()
        }
    }
}
