//! Every bash example in README.md and docs/ runs as written. The blocks of one document run in
//! order in one bash (`set -euo pipefail`), in a new folder, with the built `qs-jwt` on PATH, so
//! a document is one story: what its first example makes, the later ones use. `curl` is a stand-in
//! that reaches no server and says so; a block that cannot run here (it builds qs-jwt, needs a
//! Vault server, takes minutes) carries `<!-- not run by tests/it/examples.rs: why -->` right above
//! its fence. A line that starts with `cargo` (the quick start's `cargo install`, `cargo test`)
//! is left out: the built binary is on PATH, and the tests are this run itself. README.md and
//! docs/qlik-setup.md run against local stand-ins for Qlik Cloud and a QSEoW site, their host
//! names replaced by the stand-ins' addresses.

#![cfg(unix)]

use crate::common::identity_providers::ADMIN_API_KEY;
use crate::common::oauth_server::{OauthClient, OauthConfig};
use crate::common::qlik_server::{Behaviour, QlikServer, Trust};
use crate::common::qrs_server::QrsServer;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;

const SKIP: &str = "<!-- not run by tests/it/examples.rs:";

/// The bash blocks of a Markdown text, each with its line number, less the marked ones.
fn bash_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines().enumerate().peekable();
    let mut previous = "";
    while let Some((number, line)) = lines.next() {
        if line.trim() == "```bash" {
            let mut block = String::new();
            for (_, inner) in lines.by_ref() {
                if inner.trim() == "```" {
                    break;
                }
                block.push_str(inner.trim_start_matches("   "));
                block.push('\n');
            }
            if !previous.trim_start().starts_with(SKIP) {
                blocks.push((number + 1, block));
            }
        }
        previous = line;
    }
    blocks
}

/// Marks a sample of output: the `text` (or `json`) block below it is what the bash block above
/// printed. Every such block of README.md carries it (`every_output_sample_is_pinned`).
const SAMPLE: &str = "<!-- output of the bash block above, pinned by tests/it/examples.rs -->";

/// The document with each marked sample replaced by `output(line)`, the standard output of the
/// bash block that starts on `line` (as `bash_blocks` numbers it).
fn with_samples(markdown: &str, output: impl Fn(usize) -> String) -> String {
    let mut out = String::new();
    let mut last_bash = None;
    let mut lines = markdown.lines().enumerate();
    let mut samples = 0;
    while let Some((number, line)) = lines.next() {
        out.push_str(line);
        out.push('\n');
        if line.trim() == "```bash" {
            last_bash = Some(number + 1);
        }
        if line.trim() == SAMPLE {
            let (_, open) = lines.next().expect("a text block follows the marker");
            assert!(
                open == "```text" || open == "```json",
                "a text or json block follows the marker, not {open}"
            );
            out.push_str(open);
            out.push('\n');
            for (_, inner) in lines.by_ref() {
                if inner == "```" {
                    break;
                }
            }
            out.push_str(&output(last_bash.expect("a bash block above the sample")));
            out.push_str("```\n");
            samples += 1;
        }
    }
    assert!(samples > 0, "no sample is pinned");
    out
}

/// Whether a document's `curl` is the stand-in that reaches no server, or the real one (for
/// docs/serve.md, whose curl asks qs-jwt's own server on 127.0.0.1).
#[derive(Clone, Copy, PartialEq)]
enum Curl {
    StandIn,
    Real,
}

/// A folder of stand-ins for what reaches the network, and `qs-jwt` itself.
fn tools(dir: &Path, curl: Curl) -> String {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_qs-jwt"), bin.join("qs-jwt")).unwrap();
    if curl == Curl::Real {
        return format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
    }
    let curl = bin.join("curl");
    fs::write(
        &curl,
        "#!/bin/sh\necho 'curl (a stand-in in tests/it/examples.rs) reached no server' >&2\n\
         echo '{}'\n",
    )
    .unwrap();
    fs::set_permissions(&curl, fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs the blocks in one bash, each block's standard output in `dir`/out-<line>.txt. Bash
/// leads a process group of its own, and whatever a block left running in the background (a
/// server of a failed block) is killed with the group when bash ends; its output goes to
/// files, so that nothing left holding a pipe keeps the test waiting.
fn runs_in(
    document: &str,
    blocks: &[(usize, String)],
    dir: &Path,
    work: &Path,
    hosts: &[(&str, String)],
    vars: &[(&str, String)],
    curl: Curl,
) {
    let mut script = String::from("set -euo pipefail\n");
    for (line, block) in blocks {
        let block = hosts
            .iter()
            .fold(block.clone(), |block, (host, url)| block.replace(host, url));
        let block = block
            .replace("cargo run --release -- ", "qs-jwt ")
            .lines()
            .filter(|l| !l.starts_with("cargo "))
            .collect::<Vec<_>>()
            .join("\n");
        // Each block's standard output in a file of its own, for the samples that show it.
        script.push_str(&format!(
            "echo '>>> {document}:{line}' >&2\n{{\n{block}\n}} > '{}/out-{line}.txt'\n",
            dir.display()
        ));
    }
    let mut bash = crate::common::command("bash");
    let stderr_file = dir.join("stderr.txt");
    bash.arg("-c")
        .arg(&script)
        .current_dir(work)
        .env("PATH", tools(dir, curl))
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&stderr_file).unwrap())
        .process_group(0);
    for (name, value) in vars {
        bash.env(name, value);
    }
    let mut child = bash.spawn().unwrap();
    let status = child.wait().unwrap();
    // The group bash led: what its blocks left running, if anything (an error: none left).
    let _ = crate::common::command("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let stderr = fs::read_to_string(&stderr_file).unwrap();
    let last = stderr
        .lines()
        .rfind(|l| l.starts_with(">>> "))
        .unwrap_or("before the first block");
    assert!(
        status.success(),
        "{last} fails (exit {:?}):\n{stderr}",
        status.code()
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The README from its first line to its last, as a newcomer follows it: the quick start's key,
/// the three commands to a login on each platform, and every later example, against stand-ins
/// configured as the README tells an admin to configure Qlik.
#[test]
fn the_readme_runs_as_written() {
    if !["jq", "openssl"]
        .map(crate::common::skip::require_tool)
        .iter()
        .all(|has| *has)
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    let trust = Trust {
        issuer: "mytenant.eu.qlikcloud.com".to_owned(),
        key_id: "my-key-id".to_owned(),
        prefix: "jwt".to_owned(),
        audience: "hdJh34wkK".to_owned(),
        certificate: Some(work.join("publickey.cer")),
        oauth: OauthConfig {
            clients: vec![OauthClient {
                id: "0123456789abcdef".to_owned(),
                public_key_file: Some(work.join("jwk.json")),
                client_credentials: true,
                impersonation: true,
                ..OauthClient::default()
            }],
            users: vec![("anna", "64d0f0a7a1b2c3d4e5f60718")],
            ..OauthConfig::default()
        },
        ..Trust::default()
    };
    let cloud = QlikServer::start_with(Behaviour::QlikCloud, trust);
    let qseow = QrsServer::start();
    // The QMC's export, where the README's commands read it.
    qseow.write_certificates(&work);
    let authorities = dir.path().join("test-ca.pem");
    fs::write(&authorities, format!("{}{}", cloud.ca_pem, qseow.root_pem)).unwrap();
    let bare = |url: String| url.trim_start_matches("https://").to_owned();

    let markdown =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let blocks = bash_blocks(&markdown);
    runs_in(
        "README.md",
        &blocks,
        dir.path(),
        &work,
        &[
            ("https://mytenant.eu.qlikcloud.com", cloud.url()),
            // A bare host, as the README gives --tenant and --qrs: host:port here.
            (
                "--tenant mytenant.eu.qlikcloud.com",
                format!("--tenant {}", bare(cloud.url())),
            ),
            ("https://qlikserver.example.com:4242", qseow.qrs_url()),
            (
                "--qrs qlikserver.example.com",
                format!("--qrs {}", bare(qseow.qrs_url())),
            ),
            ("https://qlikserver.example.com", qseow.proxy_url()),
            ("https://qlik.example.com", qseow.proxy_url()),
            // The names in the host allow list: the stand-in's host (the engine's WebSocket
            // checks the Origin against them).
            (
                "--allow-host qlikserver.example.com",
                "--allow-host 127.0.0.1".to_owned(),
            ),
            (
                "--allow-host qlik.example.com",
                "--allow-host 127.0.0.1".to_owned(),
            ),
        ],
        &[
            ("SSL_CERT_FILE", authorities.display().to_string()),
            ("QLIK_API_KEY", ADMIN_API_KEY.to_owned()),
        ],
        Curl::StandIn,
    );
    let requests = |server: &QlikServer, path: &str| {
        server
            .requests()
            .iter()
            .filter(|r| r.target.starts_with(path))
            .count()
    };
    // The samples of output the README shows are what the blocks above them printed, with the
    // stand-ins' addresses back to the README's hosts and the values of this run's key and
    // Qlik's ids as the README shows them. `SNAPSHOTS=overwrite` rewrites them.
    let thumbprint: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(work.join("jwk.json")).unwrap()).unwrap();
    let idp = cloud.identity_providers()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let vp = qseow.virtual_proxies()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown: Vec<(String, &str)> = vec![
        (cloud.url(), "https://mytenant.eu.qlikcloud.com"),
        (bare(cloud.url()), "mytenant.eu.qlikcloud.com"),
        (qseow.qrs_url(), "https://qlikserver.example.com:4242"),
        (qseow.proxy_url(), "https://qlikserver.example.com"),
        (
            thumbprint["kid"].as_str().unwrap().to_owned(),
            "3rUm1BJ2mCPwGmgUyn3AImRrI3Tr3LQ8k5nLpSfxxAQ",
        ),
        (idp, "6752e3f1a0b1c2d3e4f50617"),
        (vp, "0b3c5f0e-7d1a-4c2b-9e8f-1a2b3c4d5e6f"),
    ];
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let regenerated = with_samples(&markdown, |line| {
        let output = fs::read_to_string(dir.path().join(format!("out-{line}.txt"))).unwrap();
        let output = shown
            .iter()
            .fold(output, |text, (from, to)| text.replace(from.as_str(), to));
        // The stand-in gives each session's user a new id: the README shows one.
        output
            .lines()
            .map(|line| match line.strip_prefix("User id:") {
                Some(_) => "User id:        65f1c0ffee0123456789abcd\n".to_owned(),
                // The engine names the session's user by that id too (a Qlik Cloud id has no
                // '=', QSEoW's UserDirectory=...; UserId=... is kept), and the session app's
                // name is new each time.
                None if (line.starts_with("PASS  engine")
                    || line.contains("authenticatedUser the engine's user is"))
                    && line.ends_with('\'')
                    && !line.contains("UserId=") =>
                {
                    let (head, _) = line[..line.len() - 1].rsplit_once('\'').unwrap();
                    format!("{head}'65f1c0ffee0123456789abcd'\n")
                }
                None if line.contains("/app/SessionApp_") => {
                    let (head, rest) = line.split_once("/app/SessionApp_").unwrap();
                    let tail = rest.split_once(' ').map_or("", |(_, tail)| tail);
                    format!("{head}/app/SessionApp_Xq7LmN2pR4sT6vW8yZ0bC1dE {tail}\n")
                }
                None => format!("{line}\n"),
            })
            .collect::<String>()
    });
    snapbox::Assert::new()
        .action_env("SNAPSHOTS")
        .normalize_paths(false)
        .eq(regenerated, snapbox::Data::read_from(&readme, None));
    assert!(requests(&cloud, "/login/jwt-session") >= 2, "the logins");
    assert!(requests(&cloud, "/oauth/token") >= 1, "the OAuth token");
    assert_eq!(cloud.identity_providers().len(), 1);
    assert!(
        qseow
            .proxy_requests()
            .iter()
            .any(|r| r.target.starts_with("/jwt/qrs/about")),
        "a login through the virtual proxy"
    );
}

/// The OAuth client's secret in the walk, from "the secret store" (the environment).
const OAUTH_SECRET: &str = "walk-client-secret-0f6a";

/// The walk from a new key to a proven login, for both kinds of Qlik, against local stand-ins
/// configured as the walk tells an admin to configure Qlik (issuer, key ID, prefix, audience,
/// and the certificate the walk's first step makes).
#[test]
fn qlik_setup_runs_as_written_to_a_proven_login() {
    if !crate::common::skip::require_tool("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    let trust = Trust {
        issuer: "myorg.example.com".to_owned(),
        key_id: "qsjwt-2026-11".to_owned(),
        prefix: "jwt".to_owned(),
        audience: "qlik-jwt".to_owned(),
        certificate: Some(work.join("keys/qsjwt_publickey.cer")),
        // The OAuth client the walk tells the admin to make, holding the JWK the walk writes.
        oauth: OauthConfig {
            clients: vec![OauthClient {
                id: "0123456789abcdef0123456789abcdef".to_owned(),
                secret: Some(OAUTH_SECRET.to_owned()),
                public_key_file: Some(work.join("jwk.json")),
                more_key_files: vec![work.join("jwk-es384.json")],
                client_credentials: true,
                impersonation: true,
                ..OauthClient::default()
            }],
            users: vec![("anna", "64d0f0a7a1b2c3d4e5f60718")],
            ..OauthConfig::default()
        },
        ..Trust::default()
    };
    let cloud = QlikServer::start_with(Behaviour::QlikCloud, trust);
    // The QSEoW site: a repository with no virtual proxy for JWT, which the walk's
    // setup-qseow --apply configures, and its proxy, where the walk's login goes.
    let qseow = QrsServer::start();
    // The QMC's export, copied where the walk says.
    let exported = work.join("qmc-certs");
    fs::create_dir(&exported).unwrap();
    qseow.write_certificates(&exported);
    // rustls-native-certs reads SSL_CERT_FILE in place of the system's store.
    let authorities = dir.path().join("test-ca.pem");
    fs::write(&authorities, format!("{}{}", cloud.ca_pem, qseow.root_pem)).unwrap();

    let markdown =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/qlik-setup.md"))
            .unwrap();
    let blocks = bash_blocks(&markdown);
    runs_in(
        "docs/qlik-setup.md",
        &blocks,
        dir.path(),
        &work,
        &[
            ("https://mytenant.eu.qlikcloud.com", cloud.url()),
            // The repository's port first: the hub's origin is a prefix of it.
            ("https://qlikserver.example.com:4242", qseow.qrs_url()),
            ("https://qlikserver.example.com", qseow.proxy_url()),
            // The hub's host name in the host allow list is the stand-in's.
            (
                "--allow-host qlikserver.example.com",
                "--allow-host 127.0.0.1".to_owned(),
            ),
        ],
        &[
            ("SSL_CERT_FILE", authorities.display().to_string()),
            ("QLIK_API_KEY", ADMIN_API_KEY.to_owned()),
            ("QLIK_CLIENT_SECRET", OAUTH_SECRET.to_owned()),
        ],
        Curl::StandIn,
    );
    let logins = |server: &QlikServer, path: &str| {
        server
            .requests()
            .iter()
            .filter(|r| r.target.starts_with(path))
            .count()
    };
    assert_eq!(
        logins(&cloud, "/login/jwt-session"),
        3,
        "three logins: the walk's, doctor-qscloud --login's, and the rotation's with the new key"
    );
    // --apply made the identity provider, the second --apply changed nothing, the rotation
    // added the new key's and removed the old one.
    let idps = cloud.identity_providers();
    assert_eq!(idps.len(), 1, "{idps:?}");
    assert_eq!(idps[0]["options"]["staticKeys"][0]["kid"], "qsjwt-2027-05");
    assert_eq!(
        idps[0]["options"]["staticKeys"][0]["pem"],
        fs::read_to_string(work.join("keys/qsjwt2_publickey.cer"))
            .unwrap()
            .lines()
            .collect::<String>()
    );
    let posts = cloud
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.target == "/api/v1/identity-providers")
        .count();
    assert_eq!(
        posts, 2,
        "one identity provider per key, the second --apply sent nothing"
    );
    assert!(
        logins(&cloud, "/api/v1/users") >= 1,
        "the session's user was read"
    );
    let through_proxy = |path: &str| {
        qseow
            .proxy_requests()
            .iter()
            .filter(|r| r.target.starts_with(path))
            .count()
    };
    assert_eq!(
        through_proxy("/jwt/qrs/about"),
        4,
        "four logins through the virtual proxy: the walk's, doctor-qseow --login's, the \
         rotation's with the new key, and the old key's, refused"
    );
    assert!(through_proxy("/jwt/qps/user") >= 1);
    // --apply created the virtual proxy and linked it; the second --apply sent nothing.
    let writes: Vec<String> = qseow
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.target.split('?').next().unwrap()))
        .collect();
    assert_eq!(
        writes.len(),
        3,
        "one POST of the virtual proxy, one PUT of the proxy service, the rotation's PUT of \
         the virtual proxy: {writes:?}"
    );
    let vps = qseow.virtual_proxies();
    assert_eq!(vps.len(), 1);
    assert_eq!(vps[0]["jwtAudience"], "qlik-jwt");
    // The rotation put the new certificate in place of the old, and removed the old key.
    let bare = |text: &str| text.split_whitespace().collect::<String>();
    assert_eq!(
        bare(vps[0]["jwtPublicKeyCertificate"].as_str().unwrap()),
        bare(&fs::read_to_string(work.join("keys/qsjwt2_publickey.cer")).unwrap())
    );
    assert!(!work.join("keys/qsjwt_privatekey.pem").exists());
    // The deliberately broken QSEoW configuration: the audience the virtual proxy takes, and
    // the doctor with it as the fix.
    let doctor = fs::read_to_string(work.join("doctor-qseow.txt")).unwrap();
    assert!(
        doctor.contains("FAIL  audience                     'jwt' takes the audience 'qlik-jwt', and you sign with 'qlik-jwt-test'")
            && doctor.contains("fix: qs-jwt doctor-qseow --qrs https://127.0.0.1:")
            && doctor.contains("--prefix jwt --audience qlik-jwt --cert-privatekey-file keys/qsjwt_privatekey.pem --qrs-cert qmc-certs/client.pem --qrs-key qmc-certs/client_key.pem --cacert qmc-certs/root.pem\n")
            && doctor.ends_with("11 checks: 10 passed, 1 failed\n"),
        "{doctor}"
    );
    // Each rotation's change was planned first (--dry-run), and the plan is the change the
    // run after it made; the dry runs sent nothing (the POST and PUT counts above).
    let plan = |name: &str| -> serde_json::Value {
        serde_json::from_str(&fs::read_to_string(work.join(name)).unwrap()).unwrap()
    };
    let added = plan("rotate-qscloud-plan.json");
    assert_eq!(added["dry_run"], true, "{added}");
    assert_eq!(added["changes"][0]["action"], "create", "{added}");
    assert_eq!(added["changes"][0]["key_id"], "qsjwt-2027-05", "{added}");
    let removed = plan("rotate-qscloud-remove-plan.json");
    assert_eq!(removed["changes"][0]["action"], "remove", "{removed}");
    assert_eq!(removed["changes"].as_array().unwrap().len(), 1, "{removed}");
    let replaced = plan("rotate-qseow-plan.json");
    let fields: Vec<&str> = replaced["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert_eq!(fields, ["jwtPublicKeyCertificate"], "{replaced}");
    assert_eq!(replaced["changes"][0]["id"], vps[0]["id"], "{replaced}");
    // Before the new certificate was applied, the new key failed the key's line alone.
    let rotate = fs::read_to_string(work.join("rotate-qseow.txt")).unwrap();
    assert!(
        rotate.contains("FAIL  same key  ")
            && rotate.contains("      note: you may be signing with the wrong key: the virtual proxy 'jwt' holds the key with thumbprint ")
            && rotate.contains("(as keys/qsjwt_publickey.cer, keys/qsjwt_publickey.pem here do)")
            && rotate.contains("fix (changes Qlik, replaces its key and locks out every signer of the old one): qs-jwt setup-qseow --audience qlik-jwt --prefix jwt --cert-publickey-file keys/qsjwt2_publickey.cer --apply")
            && rotate.ends_with("11 checks: 10 passed, 1 failed\n"),
        "{rotate}"
    );
    assert_eq!(
        vps[0]["websocketCrossOriginWhiteList"],
        serde_json::json!(["qlik.example.com", "127.0.0.1"])
    );
    // Four token requests (the key, Anna by subject, Anna with the ES384 key, a user by ID with
    // the secret), each
    // answered with a token: a refusal would have stopped the walk (set -e).
    assert_eq!(
        logins(&cloud, "/oauth/token"),
        4,
        "the OAuth walk's token requests"
    );
    assert!(
        fs::read_to_string(work.join("token.txt"))
            .unwrap()
            .starts_with("ey")
    );
    // The deliberately broken configuration: the key ID the tenant holds, and the fix with it.
    let doctor = fs::read_to_string(work.join("doctor.txt")).unwrap();
    assert!(
        doctor.contains("FAIL  identity provider  no identity provider has issuer 'myorg.example.com' and key ID 'qsjwt-2026-12'")
            && doctor.contains("has key ID 'qsjwt-2026-11' (your key)")
            && doctor.contains("fix: qs-jwt doctor-qscloud --tenant https://127.0.0.1:")
            && doctor.contains("--issuer myorg.example.com --keyid qsjwt-2026-11 --cert-privatekey-file keys/qsjwt_privatekey.pem\n"),
        "{doctor}"
    );
    let jar = fs::read_to_string(work.join("cookies.txt")).unwrap();
    assert!(
        jar.starts_with("# Netscape HTTP Cookie File") && jar.contains("eas.sid"),
        "{jar}"
    );
    let jar = fs::read_to_string(work.join("qseow-cookies.txt")).unwrap();
    assert!(jar.contains("X-Qlik-Session-jwt"), "{jar}");
}

/// A sample of output in README.md (a `text` or `json` block) is the output of the bash block
/// above it, pinned by `the_readme_runs_as_written`: none is written by hand.
#[test]
fn every_output_sample_is_pinned() {
    let markdown =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut previous = "";
    let mut unpinned = Vec::new();
    let mut inside = false;
    for (number, line) in markdown.lines().enumerate() {
        if !inside && (line == "```text" || line == "```json") && previous != SAMPLE {
            unpinned.push(number + 1);
        }
        if line.trim_start().starts_with("```") {
            inside = !inside;
        }
        previous = line;
    }
    assert!(
        unpinned.is_empty(),
        "README.md's samples at lines {unpinned:?} are not pinned: put {SAMPLE} above them"
    );
}

#[test]
fn every_document_with_bash_examples_is_run() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut with_examples: Vec<String> = fs::read_dir(docs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let text = fs::read_to_string(p).unwrap_or_default();
            !bash_blocks(&text).is_empty()
        })
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    with_examples.sort();
    assert_eq!(
        with_examples,
        ["qlik-setup.md", "serve.md"],
        "run the new document's examples in a test here"
    );
}

/// The serve walk: its servers started in the background, asked with the real curl on
/// 127.0.0.1, and stopped by the block that says so; the OAuth client is the tenant
/// stand-in's, the page server (python3) listens on a free port in place of 5173, and the
/// walk's token server on `--port 0` in place of 8765 (the page's).
#[test]
fn serve_runs_as_written_against_a_tenant_stand_in() {
    if !["jq", "curl", "python3"]
        .map(crate::common::skip::require_tool)
        .iter()
        .all(|has| *has)
    {
        return;
    }
    let client_id = "0123456789abcdef0123456789abcdef";
    let cloud = QlikServer::start_with(
        Behaviour::QlikCloud,
        Trust {
            oauth: OauthConfig {
                clients: vec![OauthClient {
                    id: client_id.to_owned(),
                    secret: Some(OAUTH_SECRET.to_owned()),
                    impersonation: true,
                    ..OauthClient::default()
                }],
                users: vec![("anna", "64d0f0a7a1b2c3d4e5f60718")],
                ..OauthConfig::default()
            },
            ..Trust::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    // The key the walk says the virtual proxy and the identity provider trust.
    fs::copy(
        crate::common::fixture("rsa2048-pkcs8.pem"),
        work.join("privatekey.pem"),
    )
    .unwrap();
    let authorities = dir.path().join("test-ca.pem");
    fs::write(&authorities, &cloud.ca_pem).unwrap();
    let page_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let markdown =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/serve.md")).unwrap();
    let replaced = [
        (
            "--tenant mytenant.eu.qlikcloud.com",
            format!("--tenant {}", cloud.url()),
        ),
        ("--port 8765", "--port 0".to_owned()),
        ("5173", page_port.to_string()),
    ];
    for (text, _) in &replaced {
        assert!(
            markdown.contains(text),
            "docs/serve.md no longer says {text}"
        );
    }
    runs_in(
        "docs/serve.md",
        &bash_blocks(&markdown),
        dir.path(),
        &work,
        &replaced,
        &[
            ("SSL_CERT_FILE", authorities.display().to_string()),
            ("CLIENT_ID", client_id.to_owned()),
            ("CLIENT_SECRET", OAUTH_SECRET.to_owned()),
        ],
        Curl::Real,
    );
    // Each block's standard output: anna's access token's expires_in; ben's directory, then
    // the decoded Qlik Cloud JWT.
    let outputs: Vec<String> = bash_blocks(&markdown)
        .iter()
        .map(|(line, _)| fs::read_to_string(dir.path().join(format!("out-{line}.txt"))).unwrap())
        .collect();
    assert_eq!(outputs[0], "21600\n", "{outputs:?}");
    assert!(
        outputs[2].starts_with("\"PARTNER\"\n") && outputs[2].contains("\"sub\": \"anna\""),
        "{outputs:?}"
    );
    let token_requests = cloud
        .requests()
        .iter()
        .filter(|r| r.target.starts_with("/oauth/token"))
        .count();
    assert_eq!(
        token_requests, 1,
        "the walk's curl got anna's token from Qlik"
    );
    // The secret file the walk writes is the owner's alone.
    let mode = fs::metadata(work.join("secret.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
}
