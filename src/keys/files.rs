//! The files `--cert-create` writes: all three or none, never over an existing file without
//! `--force`, and the private key readable by its owner only.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tempfile::NamedTempFile;

use crate::error::UserError;

/// `<prefix>privatekey.pem`, `<prefix>publickey.pem` and `<prefix>publickey.cer`, the names
/// qs-jwt 1.x used.
#[derive(Debug)]
pub struct KeyFiles {
    pub private_key: PathBuf,
    pub public_key: PathBuf,
    pub certificate: PathBuf,
    prefix: String,
}

/// What goes into the three files.
pub struct KeyFileContents<'a> {
    pub private_key: &'a str,
    pub public_key: &'a str,
    pub certificate: &'a str,
}

impl KeyFiles {
    pub fn new(prefix: &str) -> Self {
        Self {
            private_key: PathBuf::from(format!("{prefix}privatekey.pem")),
            public_key: PathBuf::from(format!("{prefix}publickey.pem")),
            certificate: PathBuf::from(format!("{prefix}publickey.cer")),
            prefix: prefix.to_owned(),
        }
    }

    pub fn paths(&self) -> [&Path; 3] {
        [&self.private_key, &self.public_key, &self.certificate]
    }

    /// The folder the files go into; the current one for a prefix without a folder.
    fn folder(&self) -> &Path {
        match self.private_key.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder,
            _ => Path::new("."),
        }
    }

    /// Checks that the files can be written before the slow part (making a 4096-bit key), so a
    /// mistake costs nothing and leaves nothing behind.
    pub fn check(&self, force: bool) -> Result<(), UserError> {
        let folder = self.folder();
        match fs::metadata(folder) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(UserError::runtime(format!(
                    "'{}' (from --cert-file-prefix '{}') is not a folder",
                    folder.display(),
                    self.prefix
                )));
            }
            Err(e) => {
                let reason = if e.kind() == io::ErrorKind::NotFound {
                    "does not exist; create it first".to_owned()
                } else {
                    format!("cannot be read: {e}")
                };
                return Err(UserError::runtime(format!(
                    "folder '{}' (from --cert-file-prefix '{}') {reason}",
                    folder.display(),
                    self.prefix
                )));
            }
        }

        let mut existing = Vec::new();
        for path in self.paths() {
            // symlink_metadata: a dangling link is still a name we would replace.
            if let Ok(meta) = fs::symlink_metadata(path) {
                if meta.is_dir() {
                    return Err(UserError::runtime(format!(
                        "'{}' is a folder; --cert-create writes a file there (choose another \
                         --cert-file-prefix)",
                        path.display()
                    )));
                }
                existing.push(format!("'{}'", path.display()));
            }
        }
        if !existing.is_empty() && !force {
            let (names, verb) = match existing.len() {
                1 => (existing[0].clone(), "exists"),
                _ => (existing.join(", "), "exist"),
            };
            return Err(UserError::runtime(format!(
                "{names} already {verb}; pass --force to replace the key files, or choose another \
                 --cert-file-prefix"
            )));
        }
        Ok(())
    }

    /// Writes each file to a temporary file in the same folder, then renames all three into
    /// place. If any step fails, the temporary files go and any file already renamed is
    /// removed again, so the user never gets a private key without its certificate.
    pub fn write(&self, contents: &KeyFileContents, force: bool) -> Result<()> {
        let folder = self.folder();
        let items = [
            (&self.private_key, contents.private_key, 0o600),
            (&self.public_key, contents.public_key, 0o644),
            (&self.certificate, contents.certificate, 0o644),
        ];

        let mut staged = Vec::with_capacity(items.len());
        for (path, text, mode) in items {
            let file = stage(folder, text, mode).with_context(|| {
                format!(
                    "cannot write '{}' in folder '{}'",
                    path.display(),
                    folder.display()
                )
            })?;
            staged.push((file, path));
        }

        let mut placed: Vec<&Path> = Vec::with_capacity(staged.len());
        for (file, path) in staged {
            let result = if force {
                file.persist(path).map(drop)
            } else {
                // No clobber even though check() looked: another process may have been faster.
                file.persist_noclobber(path).map(drop)
            };
            if let Err(err) = result {
                for done in &placed {
                    let _ = fs::remove_file(done);
                }
                return Err(err.error)
                    .with_context(|| format!("cannot write '{}'", path.display()));
            }
            placed.push(path);
        }
        Ok(())
    }
}

/// A temporary file in `folder` holding `text`, created with `mode` on Unix (the umask may
/// only take permissions away), flushed to disk before it is renamed.
fn stage(folder: &Path, text: &str, mode: u32) -> io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".qs-jwt-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = builder.tempfile_in(folder)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTENTS: KeyFileContents<'static> = KeyFileContents {
        private_key: "private",
        public_key: "public",
        certificate: "certificate",
    };

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn names_follow_the_prefix() {
        let files = KeyFiles::new("keys/qsjwt_");
        assert_eq!(files.private_key, Path::new("keys/qsjwt_privatekey.pem"));
        assert_eq!(files.public_key, Path::new("keys/qsjwt_publickey.pem"));
        assert_eq!(files.certificate, Path::new("keys/qsjwt_publickey.cer"));
        assert_eq!(files.folder(), Path::new("keys"));
        assert_eq!(KeyFiles::new("").folder(), Path::new("."));
        assert_eq!(KeyFiles::new("x_").folder(), Path::new("."));
    }

    #[test]
    fn writes_all_three() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeyFiles::new(&format!("{}/k_", dir.path().display()));
        files.check(false).unwrap();
        files.write(&CONTENTS, false).unwrap();
        assert_eq!(
            names_in(dir.path()),
            ["k_privatekey.pem", "k_publickey.cer", "k_publickey.pem"]
        );
        assert_eq!(fs::read_to_string(&files.private_key).unwrap(), "private");
        assert_eq!(
            fs::read_to_string(&files.certificate).unwrap(),
            "certificate"
        );
    }

    #[test]
    fn a_failed_rename_removes_the_files_already_written() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeyFiles::new(&format!("{}/k_", dir.path().display()));
        // The third name is taken by a folder, so its rename fails after two succeeded.
        fs::create_dir(&files.certificate).unwrap();
        let err = files.write(&CONTENTS, true).unwrap_err();
        assert!(format!("{err:#}").contains("k_publickey.cer"), "{err:#}");
        assert_eq!(names_in(dir.path()), ["k_publickey.cer"]);
    }

    #[test]
    fn no_clobber_without_force_even_after_check() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeyFiles::new(&format!("{}/k_", dir.path().display()));
        files.check(false).unwrap();
        fs::write(&files.public_key, "someone else's").unwrap();
        assert!(files.write(&CONTENTS, false).is_err());
        assert_eq!(names_in(dir.path()), ["k_publickey.pem"]);
        assert_eq!(
            fs::read_to_string(&files.public_key).unwrap(),
            "someone else's"
        );
    }

    #[test]
    fn check_names_every_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeyFiles::new(&format!("{}/k_", dir.path().display()));
        fs::write(&files.private_key, "old").unwrap();
        fs::write(&files.certificate, "old").unwrap();
        let err = files.check(false).unwrap_err().to_string();
        assert!(
            err.contains("k_privatekey.pem") && err.contains("k_publickey.cer"),
            "{err}"
        );
        assert!(err.contains("--force"), "{err}");
        assert!(files.check(true).is_ok());
    }
}
