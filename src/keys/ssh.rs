//! Keys in the formats of SSH tools, which people hand qs-jwt because they are the keys they
//! have: OpenSSH's private key (`BEGIN OPENSSH PRIVATE KEY`), its public key line
//! (`ssh-rsa AAAA... comment`, an `id_rsa.pub`), PuTTY's `.ppk` and the SSH2 public key PuTTYgen
//! saves (RFC 4716). None of them is read as a key: this module only says what the text is (the
//! key type, from the public part, which no format encrypts) and gives the command that converts
//! it, so that nobody converts an Ed25519 key that Qlik could never use.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::render;

/// The kind of an SSH key, from the key type its public part names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshKeyType {
    /// `ssh-rsa`, with the modulus size when the public part was read.
    Rsa {
        bits: Option<usize>,
    },
    Ed25519,
    Ecdsa {
        curve: &'static str,
    },
    Dsa,
    /// A FIDO security key (`sk-...@openssh.com`): its private half never leaves the device.
    SecurityKey,
    Other(String),
}

impl SshKeyType {
    fn from_name(name: &str) -> Self {
        match name {
            "ssh-rsa" => Self::Rsa { bits: None },
            "ssh-ed25519" => Self::Ed25519,
            "ecdsa-sha2-nistp256" => Self::Ecdsa { curve: "P-256" },
            "ecdsa-sha2-nistp384" => Self::Ecdsa { curve: "P-384" },
            "ecdsa-sha2-nistp521" => Self::Ecdsa { curve: "P-521" },
            "ssh-dss" => Self::Dsa,
            name if name.starts_with("sk-") => Self::SecurityKey,
            // At most a line's worth of what the file says, shown escaped by the caller.
            name => Self::Other(name.chars().take(40).collect()),
        }
    }

    /// The type of an SSH public key blob (RFC 4253: a string naming the type, then the key;
    /// for RSA the exponent and the modulus).
    fn from_blob(blob: &[u8]) -> Option<Self> {
        let mut reader = Reader(blob);
        let name = std::str::from_utf8(reader.string()?).ok()?;
        Some(match Self::from_name(name) {
            Self::Rsa { .. } => {
                let _exponent = reader.string()?;
                let modulus = reader.string()?;
                let first = modulus
                    .iter()
                    .position(|b| *b != 0)
                    .unwrap_or(modulus.len());
                Self::Rsa {
                    bits: Some(super::pem::bit_length(&modulus[first..])),
                }
            }
            other => other,
        })
    }

    pub fn is_rsa(&self) -> bool {
        matches!(self, Self::Rsa { .. })
    }

    /// An RSA key smaller than Qlik takes.
    pub fn too_small(&self) -> Option<usize> {
        match self {
            Self::Rsa { bits: Some(bits) } if *bits < super::pem::MIN_RSA_BITS => Some(*bits),
            _ => None,
        }
    }
}

impl fmt::Display for SshKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits: Some(bits) } => write!(f, "a {bits}-bit RSA key"),
            Self::Rsa { bits: None } => f.write_str("an RSA key"),
            Self::Ed25519 => f.write_str("an Ed25519 key"),
            Self::Ecdsa { curve } => write!(f, "an ECDSA ({curve}) key"),
            Self::Dsa => f.write_str("a DSA key"),
            Self::SecurityKey => f.write_str("a security key (FIDO) key"),
            Self::Other(name) => write!(f, "a key of type '{}'", render::escape(name)),
        }
    }
}

/// SSH's wire format: big-endian 32-bit lengths before each string.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<usize> {
        let bytes: [u8; 4] = self.take(4)?.try_into().ok()?;
        usize::try_from(u32::from_be_bytes(bytes)).ok()
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()?;
        self.take(n)
    }
}

/// The key type of an `OPENSSH PRIVATE KEY` block's contents (PROTOCOL.key in OpenSSH: the
/// magic, cipher, KDF and its options, the number of keys, then the first public key in the
/// clear, also when the private part is encrypted).
pub fn openssh_private_key_type(der: &[u8]) -> Option<SshKeyType> {
    let mut reader = Reader(der.strip_prefix(b"openssh-key-v1\0")?);
    let _cipher = reader.string()?;
    let _kdf = reader.string()?;
    let _kdf_options = reader.string()?;
    let _keys = reader.u32()?;
    SshKeyType::from_blob(reader.string()?)
}

/// Key text in an SSH tool's format that is not PEM at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshText {
    /// A PuTTY private key file (`.ppk`).
    Putty(SshKeyType),
    /// An OpenSSH public key line, as in `id_rsa.pub` or `authorized_keys`.
    OpenSshPublic(SshKeyType),
    /// An SSH2 public key (RFC 4716), as PuTTYgen saves a public key.
    Ssh2Public(SshKeyType),
}

/// What the text is, when an SSH tool wrote it.
pub fn ssh_text(text: &str) -> Option<SshText> {
    let text = text.trim_start();
    if let Some(rest) = text.strip_prefix("PuTTY-User-Key-File-") {
        let first_line = rest.lines().next()?;
        let (_, name) = first_line.split_once(':')?;
        let key = public_lines(text)
            .and_then(|blob| SshKeyType::from_blob(&blob))
            .unwrap_or_else(|| SshKeyType::from_name(name.trim()));
        return Some(SshText::Putty(key));
    }
    if text.starts_with("---- BEGIN SSH2 PUBLIC KEY ----") {
        let body: String = text
            .lines()
            .skip(1)
            .take_while(|line| !line.starts_with("---- END"))
            // Headers are `Name: value` and may continue on a line ending in a backslash.
            .filter(|line| !line.contains(':') && !line.ends_with('\\'))
            .collect();
        let key = STANDARD
            .decode(body.trim())
            .ok()
            .and_then(|blob| SshKeyType::from_blob(&blob))
            .unwrap_or(SshKeyType::Other("unknown".into()));
        return Some(SshText::Ssh2Public(key));
    }
    // `ssh-rsa AAAA... comment`: the type, then the blob, which names the type again.
    let mut words = text.split_whitespace();
    let (name, blob) = (words.next()?, words.next()?);
    let blob = STANDARD.decode(blob).ok()?;
    let key = SshKeyType::from_blob(&blob)?;
    (SshKeyType::from_name(name) == key || key.is_rsa() && name == "ssh-rsa")
        .then_some(SshText::OpenSshPublic(key))
}

/// The public key of a `.ppk` file: `Public-Lines: N` and N lines of base64.
fn public_lines(text: &str) -> Option<Vec<u8>> {
    let mut lines = text.lines();
    let count: usize = lines
        .by_ref()
        .find_map(|line| line.strip_prefix("Public-Lines:"))?
        .trim()
        .parse()
        .ok()?;
    let body: String = lines.take(count.min(64)).map(str::trim).collect();
    STANDARD.decode(body).ok()
}

/// A file the user gave, quoted for a shell, and a new file beside it named after it
/// (`id_rsa` and `-pkcs8.pem` make `id_rsa-pkcs8.pem`), or a placeholder when the key did not
/// come from a file.
fn file_and_beside(path: Option<&Path>, placeholder: &str, suffix: &str) -> (String, PathBuf) {
    match path {
        Some(path) => {
            let stem = path
                .file_stem()
                .map_or_else(|| "key".into(), |s| s.to_string_lossy());
            (
                render::shell_quoted(&path.display().to_string()),
                path.with_file_name(format!("{stem}{suffix}")),
            )
        }
        None => (
            placeholder.to_owned(),
            PathBuf::from(format!("key{suffix}")),
        ),
    }
}

fn quoted(path: &Path) -> String {
    render::shell_quoted(&path.display().to_string())
}

/// Converts a copy of an OpenSSH RSA private key to PKCS#8, which qs-jwt reads, and names the
/// copy; ssh-keygen asks for the key's passphrase, if it has one, and for the copy's (none
/// leaves it plain). Never in place: the original stays the key SSH uses.
pub fn openssh_to_pkcs8(path: Option<&Path>) -> (String, PathBuf) {
    let (key, copy) = file_and_beside(path, "<OpenSSH key file>", "-pkcs8.pem");
    let copy_quoted = quoted(&copy);
    let command = format!("cp {key} {copy_quoted}; ssh-keygen -p -m PKCS8 -f {copy_quoted}");
    (command, copy)
}

/// Converts a PuTTY RSA private key to the PEM (PKCS#1) qs-jwt reads, and names the new file.
pub fn putty_to_pem(path: Option<&Path>) -> (String, PathBuf) {
    let (key, pem) = file_and_beside(path, "<key.ppk>", "-pkcs1.pem");
    let command = format!("puttygen {key} -O private-openssh -o {}", quoted(&pem));
    (command, pem)
}

/// Makes a PEM public key of an OpenSSH public key line.
pub fn openssh_public_to_pem(path: Option<&Path>) -> String {
    let (key, pem) = file_and_beside(path, "<key.pub>", "-public.pem");
    format!("ssh-keygen -e -m PKCS8 -f {key} > {}", quoted(&pem))
}

/// Makes a PEM public key of an SSH2 public key, through the OpenSSH public key line (ssh-keygen
/// converts from RFC 4716 to its own format only).
pub fn ssh2_to_pem(path: Option<&Path>) -> String {
    let (key, line) = file_and_beside(path, "<key.pub>", "-openssh.pub");
    format!(
        "ssh-keygen -i -m RFC4716 -f {key} > {}; {}",
        quoted(&line),
        openssh_public_to_pem(Some(&line))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn private_type(name: &str) -> Option<SshKeyType> {
        let block = pem::parse(fixture(name)).unwrap();
        assert_eq!(block.tag(), "OPENSSH PRIVATE KEY");
        openssh_private_key_type(block.contents())
    }

    #[test]
    fn the_key_type_of_an_openssh_private_key_is_read_from_its_public_part() {
        let rsa = SshKeyType::Rsa { bits: Some(2048) };
        assert_eq!(private_type("openssh-rsa2048"), Some(rsa.clone()));
        assert_eq!(private_type("openssh-ed25519"), Some(SshKeyType::Ed25519));
        // Encrypted with the passphrase "fixture": the public part is in the clear.
        assert_eq!(
            private_type("openssh-ecdsa-encrypted"),
            Some(SshKeyType::Ecdsa { curve: "P-256" })
        );
        assert_eq!(openssh_private_key_type(b"openssh-key-v1\0\0\0"), None);
        assert_eq!(openssh_private_key_type(b"garbage"), None);
    }

    #[test]
    fn ssh_tools_text_is_named() {
        let rsa = SshKeyType::Rsa { bits: Some(2048) };
        assert_eq!(
            ssh_text(&fixture("openssh-rsa2048.pub")),
            Some(SshText::OpenSshPublic(rsa.clone()))
        );
        assert_eq!(
            ssh_text(&fixture("openssh-ed25519.pub")),
            Some(SshText::OpenSshPublic(SshKeyType::Ed25519))
        );
        assert_eq!(
            ssh_text(&fixture("putty-rsa2048.ppk")),
            Some(SshText::Putty(rsa.clone()))
        );
        assert_eq!(
            ssh_text(&fixture("putty-ed25519.ppk")),
            Some(SshText::Putty(SshKeyType::Ed25519))
        );
        assert_eq!(
            ssh_text(&fixture("putty-rsa2048-ssh2.pub")),
            Some(SshText::Ssh2Public(rsa))
        );
        for other in ["hello", "ssh-rsa notbase64!", "ssh-ed25519 AAAA", ""] {
            assert_eq!(ssh_text(other), None, "{other:?}");
        }
    }

    #[test]
    fn commands_name_the_users_file_and_write_beside_it() {
        let path = Path::new("keys/id_rsa");
        // Beside the key as the platform writes a path: keys\id_rsa-pkcs8.pem on Windows.
        let copy = path.with_file_name("id_rsa-pkcs8.pem");
        assert_eq!(
            openssh_to_pkcs8(Some(path)).0,
            format!(
                "cp 'keys/id_rsa' '{0}'; ssh-keygen -p -m PKCS8 -f '{0}'",
                copy.display()
            )
        );
        assert_eq!(
            putty_to_pem(Some(Path::new("my key.ppk"))).0,
            "puttygen 'my key.ppk' -O private-openssh -o 'my key-pkcs1.pem'"
        );
        assert_eq!(
            ssh2_to_pem(Some(Path::new("k.pub"))),
            "ssh-keygen -i -m RFC4716 -f 'k.pub' > 'k-openssh.pub'; ssh-keygen -e -m PKCS8 -f \
             'k-openssh.pub' > 'k-openssh-public.pem'"
        );
        assert_eq!(
            openssh_public_to_pem(Some(Path::new("id_rsa.pub"))),
            "ssh-keygen -e -m PKCS8 -f 'id_rsa.pub' > 'id_rsa-public.pem'"
        );
        assert!(
            openssh_to_pkcs8(None)
                .0
                .starts_with("cp <OpenSSH key file> 'key-pkcs8.pem'")
        );
    }
}
