//! The files `--cert-create` writes: all three or none, never over an existing file without
//! `--force`, the private key readable by its owner only, and no key ever lost.
//!
//! The order of the steps is what keeps keys safe, whatever fails and wherever a run is killed:
//! 1. take the prefix's lock, so that two runs never mix their files;
//! 2. write each new file under a temporary name in the same folder;
//! 3. with `--force`, move each old file aside to `<name>.qs-jwt-old` (a rename: nothing is
//!    deleted yet);
//! 4. rename the new files into place;
//! 5. the caller delivers the token; only then does [`PendingKeyFiles::commit`] delete the old
//!    files. A failure before that, or a `PendingKeyFiles` dropped without commit, removes the
//!    new files and moves the old ones back.
//!
//! A run killed between steps 3 and 5 leaves the old files under `<name>.qs-jwt-old`; the next
//! run refuses to touch the prefix until the user has looked at them.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::NamedTempFile;
use tracing::{error, info, warn};

use crate::error::UserError;

/// How long a run waits for another run that holds the prefix's lock: longer than making a
/// 4096-bit key takes, short enough that a script never hangs.
const LOCK_WAIT: Duration = Duration::from_secs(10);
const LOCK_POLL: Duration = Duration::from_millis(50);

/// What an old file is renamed to while its replacement is put in place.
const OLD_SUFFIX: &str = ".qs-jwt-old";

/// `<prefix>privatekey.pem`, `<prefix>publickey.pem` and `<prefix>publickey.cer`, the names
/// qs-jwt 1.x used.
#[derive(Debug)]
pub struct KeyFiles {
    pub private_key: PathBuf,
    pub public_key: PathBuf,
    pub certificate: PathBuf,
    prefix: String,
    maker: Maker,
}

/// What writes the files, for the advice when they exist: `--cert-create` signs a token with the
/// new key, `create-key` only makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Maker {
    CertCreate,
    CreateKey,
}

/// What goes into the three files.
pub struct KeyFileContents<'a> {
    pub private_key: &'a str,
    pub public_key: &'a str,
    pub certificate: &'a str,
}

impl KeyFiles {
    /// The files of `prefix`. A prefix that names an existing folder without a separator at
    /// its end (`--cert-file-prefix keys`) means that folder: the files go into it, rather than
    /// beside it as `keyspublickey.pem`, which nobody asking for `keys` wants.
    pub fn for_prefix(prefix: &str, maker: Maker) -> Self {
        let ends_with_separator =
            prefix.ends_with('/') || prefix.ends_with(std::path::MAIN_SEPARATOR);
        if !prefix.is_empty() && !ends_with_separator && Path::new(prefix).is_dir() {
            let folder = format!("{prefix}{}", std::path::MAIN_SEPARATOR);
            let mut files = Self::new(&folder);
            files.maker = maker;
            info!(
                "--cert-file-prefix '{prefix}' is a folder: the key files go into it, as {}",
                files.private_key.display()
            );
            return files;
        }
        Self {
            maker,
            ..Self::new(prefix)
        }
    }

    pub fn new(prefix: &str) -> Self {
        Self {
            private_key: PathBuf::from(format!("{prefix}privatekey.pem")),
            public_key: PathBuf::from(format!("{prefix}publickey.pem")),
            certificate: PathBuf::from(format!("{prefix}publickey.cer")),
            prefix: prefix.to_owned(),
            maker: Maker::CertCreate,
        }
    }

    pub fn paths(&self) -> [&Path; 3] {
        [&self.private_key, &self.public_key, &self.certificate]
    }

    /// The folder the files go into; the current one for a prefix without a folder.
    fn folder(&self) -> &Path {
        folder_of(&self.private_key)
    }

    /// The lock file of this prefix: hidden, beside the keys, and removed when the run ends.
    fn lock_path(&self) -> PathBuf {
        let name = self
            .private_key
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.folder().join(format!(".{name}.lock"))
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
                        "'{}' is a folder; {} writes a file there (choose another \
                         --cert-file-prefix)",
                        path.display(),
                        match self.maker {
                            Maker::CertCreate => "--cert-create",
                            Maker::CreateKey => "create-key",
                        }
                    )));
                }
                existing.push(format!("'{}'", path.display()));
            }
        }
        if !existing.is_empty() && !force {
            let private_key = self.private_key.display();
            let (names, verb) = join_names(&existing, "exists", "exist");
            let advice = match self.maker {
                Maker::CertCreate => format!(
                    "sign with the key you have: --cert-privatekey-file '{private_key}' instead \
                     of --cert-create"
                ),
                Maker::CreateKey => format!(
                    "keep that key and sign with it: --cert-privatekey-file '{private_key}'"
                ),
            };
            return Err(
                UserError::runtime(format!("{names} already {verb}; {advice}")).with_hint(
                    "--force replaces the key files, and Qlik then rejects tokens until it has the \
                 new certificate; or choose another --cert-file-prefix",
                ),
            );
        }
        Ok(())
    }

    /// Files a run left behind when it was killed: `.qs-jwt-old` files, which may hold the only
    /// copy of a key Qlik trusts, temporary files of this prefix, which may hold a new private
    /// key, and new files put in place before the run died. Nothing goes on until they are dealt
    /// with: the error names each and gives the commands that restore the last complete pair.
    /// Called under the lock: a run that holds it has such files for a moment, and is not
    /// interrupted.
    pub fn check_left_over(&self) -> Result<(), UserError> {
        if let Some(left) = self.left_over() {
            return Err(left.refusal());
        }
        let temporary: Vec<String> = fs::read_dir(self.folder())
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| {
                name.starts_with(".qs-jwt-")
                    && name.ends_with(".tmp")
                    && temporary_of(name).is_none()
            })
            .collect();
        if !temporary.is_empty() {
            warn!(
                "folder '{}' holds temporary files of a qs-jwt run that was killed ({}); one may \
                 hold a private key: delete them",
                self.folder().display(),
                temporary.join(", ")
            );
        }
        Ok(())
    }

    /// The same check before the lock is taken, so that a run told to sign with the key it has
    /// (or to use --force) hears of an interrupted run first. Skipped while another run holds
    /// the lock: its files are not left over.
    pub fn check_interrupted(&self) -> Result<(), UserError> {
        match self.left_over_unlocked() {
            Some(left) => Err(left.refusal()),
            None => Ok(()),
        }
    }

    /// [`Self::left_over`] by a run that does not hold the lock: what it finds counts only if
    /// no other run holds the lock (a lock that cannot be taken at all, in a folder that takes
    /// no files, is no such run). Nothing is written when nothing is found.
    fn left_over_unlocked(&self) -> Option<LeftOver<'_>> {
        self.left_over()?;
        let _lock = match KeyLock::try_take(&self.lock_path()) {
            Ok(None) => return None,
            Ok(Some(lock)) => Some(lock),
            Err(_) => None,
        };
        self.left_over()
    }

    /// What an interrupted run left for this prefix, and what to do with it; `None` when it
    /// left nothing.
    fn left_over(&self) -> Option<LeftOver<'_>> {
        let mut temporaries = Vec::new();
        for entry in fs::read_dir(self.folder()).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let Some(target) = name.to_str().and_then(temporary_of) else {
                continue;
            };
            if let Some(role) = ROLES
                .into_iter()
                .find(|role| self.path(*role).file_name().is_some_and(|n| n == target))
            {
                temporaries.push((role, self.private_key.with_file_name(&name)));
            }
        }
        temporaries.sort();
        let found = ROLES.map(|role| Found {
            in_place: fs::symlink_metadata(self.path(role)).is_ok(),
            old: fs::symlink_metadata(old_name(self.path(role))).is_ok(),
            temporary: temporaries.iter().any(|(r, _)| *r == role),
        });
        let plan = plan(found)?;
        Some(LeftOver {
            files: self,
            found,
            temporaries,
            plan,
        })
    }

    fn path(&self, role: Role) -> &Path {
        match role {
            Role::PrivateKey => &self.private_key,
            Role::PublicKey => &self.public_key,
            Role::Certificate => &self.certificate,
        }
    }

    /// Takes the prefix's lock, waiting a while for another run that holds it.
    pub fn lock(&self) -> Result<KeyLock, UserError> {
        let path = self.lock_path();
        let started = Instant::now();
        let mut told = false;
        loop {
            match KeyLock::try_take(&path) {
                Ok(Some(lock)) => return Ok(lock),
                Ok(None) if started.elapsed() < LOCK_WAIT => {
                    if !told {
                        info!(
                            "waiting for another qs-jwt run that is writing key files with \
                             --cert-file-prefix '{}'",
                            self.prefix
                        );
                        told = true;
                    }
                    std::thread::sleep(LOCK_POLL);
                }
                Ok(None) => {
                    return Err(UserError::runtime(format!(
                        "another qs-jwt run is writing key files with --cert-file-prefix '{}' \
                         (it holds the lock file '{}'); run again when it has finished",
                        self.prefix,
                        path.display()
                    )));
                }
                Err(_) if fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink()) => {
                    return Err(UserError::runtime(format!(
                        "the lock file '{}' is a symbolic link, which qs-jwt does not follow; \
                         remove it if no qs-jwt run is writing keys there",
                        path.display()
                    )));
                }
                // The lock file is the first file the run creates in the folder: a folder that
                // takes no files fails here, and the user hears of the file they asked for.
                Err(e) => {
                    return Err(UserError::runtime(format!(
                        "cannot write '{}' in folder '{}': {}",
                        self.private_key.display(),
                        self.folder().display(),
                        plain_io(&e)
                    )));
                }
            }
        }
    }

    /// Puts the new files in place (see the module comment) and returns them pending: the
    /// caller commits once the token is delivered. Takes the lock, which the pending files keep
    /// until they are committed or rolled back.
    pub fn write(
        &self,
        contents: &KeyFileContents,
        force: bool,
        lock: KeyLock,
    ) -> Result<PendingKeyFiles, UserError> {
        let folder = self.folder();
        let items = [
            (&self.private_key, contents.private_key, 0o600),
            (&self.public_key, contents.public_key, 0o644),
            (&self.certificate, contents.certificate, 0o644),
        ];

        let mut staged = Vec::with_capacity(items.len());
        for (path, text, mode) in items {
            let file = stage_key(folder, path, text, mode).map_err(|e| {
                UserError::runtime(format!(
                    "cannot write '{}' in folder '{}': {}",
                    path.display(),
                    folder.display(),
                    plain_io(&e)
                ))
            })?;
            staged.push((file, path.clone()));
        }

        let mut pending = PendingKeyFiles {
            placed: Vec::new(),
            moved_aside: Vec::new(),
            _lock: lock,
            done: false,
        };
        // On a failure, the staged files not yet in place are removed here rather than on drop,
        // so that one that cannot be removed (an append-only folder) is named in the error: the
        // first of them holds the new private key.
        let discard = |staged: Vec<(NamedTempFile, PathBuf)>| -> Result<(), String> {
            let stuck: Vec<String> = staged
                .into_iter()
                .filter_map(|(file, _)| {
                    let path = file.path().to_path_buf();
                    file.close().err().map(|_| format!("'{}'", path.display()))
                })
                .collect();
            match stuck.as_slice() {
                [] => Ok(()),
                _ => Err(format!(
                    "the temporary files {} could not be removed (they hold the new key files): \
                     delete them",
                    stuck.join(", ")
                )),
            }
        };
        if force {
            for path in self.paths() {
                if fs::symlink_metadata(path).is_err() {
                    continue;
                }
                let old = old_name(path);
                if let Err(e) = fs::rename(path, &old) {
                    let undo = join_undo(pending.roll_back(), discard(staged));
                    return Err(failed(
                        format!(
                            "cannot move the existing '{}' aside to replace it: {}",
                            path.display(),
                            plain_io(&e)
                        ),
                        undo,
                    ));
                }
                pending.moved_aside.push((path.to_path_buf(), old));
            }
        }
        let mut staged = staged.into_iter();
        while let Some((file, path)) = staged.next() {
            // No clobber: the old files were moved aside, and without --force a file that
            // appeared since check() belongs to someone else.
            if let Err(e) = file.persist_noclobber(&path) {
                let mut rest = vec![(e.file, path.clone())];
                rest.extend(staged);
                let undo = join_undo(pending.roll_back(), discard(rest));
                return Err(failed(
                    format!("cannot write '{}': {}", path.display(), plain_io(&e.error)),
                    undo,
                ));
            }
            pending.placed.push(path);
        }
        Ok(pending)
    }
}

/// New key files in place, the files they replace kept aside, and the prefix's lock held,
/// until the run knows whether the token was delivered.
#[must_use = "dropping PendingKeyFiles removes the new key files again"]
pub struct PendingKeyFiles {
    placed: Vec<PathBuf>,
    /// (original name, name while aside)
    moved_aside: Vec<(PathBuf, PathBuf)>,
    _lock: KeyLock,
    done: bool,
}

impl PendingKeyFiles {
    /// The token is out: the new files stay, and the old ones they replace are deleted.
    pub fn commit(mut self) {
        self.done = true;
        let mut replaced = Vec::new();
        for (path, old) in &self.moved_aside {
            replaced.push(format!("'{}'", path.display()));
            if let Err(e) = fs::remove_file(old) {
                warn!(
                    "could not delete '{}', the file '{}' held before --force replaced it ({}); \
                     delete it yourself",
                    old.display(),
                    path.display(),
                    plain_io(&e)
                );
            }
        }
        if !replaced.is_empty() {
            warn!(
                "--force replaced {}; give Qlik the new certificate, or it rejects the new tokens",
                replaced.join(", ")
            );
        }
    }

    /// The same when tokens went out although the run failed afterwards: the key that signed
    /// them stays. Returns the files for the message: "'privatekey.pem' (give Qlik its
    /// certificate 'publickey.cer')".
    pub fn keep(self) -> String {
        let names = match (self.placed.first(), self.placed.last()) {
            (Some(key), Some(certificate)) => format!(
                "'{}' (give Qlik its certificate '{}')",
                key.display(),
                certificate.display()
            ),
            _ => String::new(),
        };
        self.commit();
        names
    }

    /// Removes the new files and moves the old ones back. `Err` names what could not be
    /// restored and where the old files are, so that the user can put them back.
    fn roll_back(&mut self) -> Result<(), String> {
        self.done = true;
        let mut problems = Vec::new();
        for path in self.placed.drain(..) {
            if let Err(e) = fs::remove_file(&path) {
                problems.push(format!(
                    "the new '{}' could not be removed ({})",
                    path.display(),
                    plain_io(&e)
                ));
            }
        }
        for (path, old) in self.moved_aside.drain(..).rev() {
            // rename, not copy: the old file comes back exactly as it was, mode and all.
            if let Err(e) = fs::rename(&old, &path) {
                problems.push(format!(
                    "the previous '{}' is kept as '{}' ({}); rename it back",
                    path.display(),
                    old.display(),
                    plain_io(&e)
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

impl Drop for PendingKeyFiles {
    /// Not committed: the token never reached its reader, so the new key must not stay.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let previous = !self.moved_aside.is_empty();
        match self.roll_back() {
            Ok(()) if previous => {
                info!("the new key files were removed; the previous files are back in place")
            }
            Ok(()) => info!("the new key files were removed"),
            Err(problems) => error!("restoring the key files: {problems}"),
        }
    }
}

/// One of the three files of a prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    PrivateKey,
    PublicKey,
    Certificate,
}

const ROLES: [Role; 3] = [Role::PrivateKey, Role::PublicKey, Role::Certificate];

impl Role {
    fn what(self) -> &'static str {
        match self {
            Role::PrivateKey => "private key",
            Role::PublicKey => "public key",
            Role::Certificate => "certificate",
        }
    }
}

/// What a folder holds of one file of a prefix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Found {
    /// Under its own name.
    in_place: bool,
    /// Under `<name>.qs-jwt-old`.
    old: bool,
    /// In a temporary file of a run that wrote it (`.qs-jwt-XXXXXX.<name>.tmp`).
    temporary: bool,
}

/// One step of the way back to a complete key pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// `<name>.qs-jwt-old` back to `<name>`, over a new file if one is there.
    PutBack(Role),
    /// A new file the interrupted run put in place, which no delivered token needs.
    RemoveNew(Role),
    /// A `.qs-jwt-old` file whose key the new pair replaced.
    RemoveOld(Role),
    /// The temporary files: none of them signed anything.
    RemoveTemporaries,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Goal {
    /// The run died before its new files were all in place: the previous pair comes back.
    RestorePrevious,
    /// The same, with no complete pair before the run: what it left goes.
    RemoveLeftovers,
    /// The run put the whole new pair in place: back to the previous one...
    GoBack,
    /// ... or keep the new one.
    KeepNew,
    /// No complete pair in place, and nothing temporary: the old files go back.
    PutBackOld,
}

#[derive(Debug, PartialEq, Eq)]
struct Plan {
    primary: (Goal, Vec<Step>),
    alternative: Option<(Goal, Vec<Step>)>,
    /// The files in place that the interrupted run put there.
    placed_new: [bool; 3],
    /// The run died before its new files were all in place: its new key signed nothing.
    unfinished: bool,
}

/// What to do with what an interrupted run left: a pure reading of the folder against the
/// order in which [`KeyFiles::write`] works (stage all three, move every old file aside, rename
/// the new ones into place one by one, sign and deliver, delete the old files). `None` when
/// nothing is left over.
fn plan(found: [Found; 3]) -> Option<Plan> {
    let any_old = found.iter().any(|f| f.old);
    let unfinished = found.iter().any(|f| f.temporary);
    if !any_old && !unfinished {
        return None;
    }
    // With an old file aside, every old file was aside before the first new one went into
    // place: a file in place without a temporary of its name is new. With none aside, the run
    // had nothing to replace; it died part way through putting its files in place when each
    // file is either in place or temporary, never both.
    let part_way = !any_old && found.iter().all(|f| f.in_place != f.temporary);
    let placed_new = found.map(|f| f.in_place && !f.temporary && (any_old || part_way));
    let previous = |i: usize| found[i].old || (found[i].in_place && !placed_new[i]);
    let previous_complete = previous(0) && previous(2);

    let mut back: Vec<Step> = ROLES
        .into_iter()
        .zip(found.iter().zip(placed_new))
        .filter_map(|(role, (f, new))| {
            if f.old {
                Some(Step::PutBack(role))
            } else if new {
                Some(Step::RemoveNew(role))
            } else {
                None
            }
        })
        .collect();
    if unfinished {
        back.push(Step::RemoveTemporaries);
        let goal = if previous_complete {
            Goal::RestorePrevious
        } else {
            Goal::RemoveLeftovers
        };
        return Some(Plan {
            primary: (goal, back),
            alternative: None,
            placed_new,
            unfinished,
        });
    }
    let new_complete = found[0].in_place && found[2].in_place;
    if !new_complete {
        // Not a state a run leaves (someone moved files since): the old files go back.
        return Some(Plan {
            primary: (Goal::PutBackOld, back),
            alternative: None,
            placed_new,
            unfinished,
        });
    }
    let keep: Vec<Step> = ROLES
        .into_iter()
        .zip(found)
        .filter(|(_, f)| f.old)
        .map(|(role, _)| Step::RemoveOld(role))
        .collect();
    let (primary, alternative) = if previous_complete {
        ((Goal::GoBack, back), Some((Goal::KeepNew, keep)))
    } else {
        ((Goal::KeepNew, keep), None)
    };
    Some(Plan {
        primary,
        alternative,
        placed_new,
        unfinished,
    })
}

/// What an interrupted run left for a prefix, as found on disk.
struct LeftOver<'a> {
    files: &'a KeyFiles,
    found: [Found; 3],
    temporaries: Vec<(Role, PathBuf)>,
    plan: Plan,
}

impl LeftOver<'_> {
    /// Each file left, and what it holds: "'privatekey.pem.qs-jwt-old' (the previous private
    /// key)".
    fn items(&self) -> Vec<String> {
        let mut items = Vec::new();
        for (i, role) in ROLES.into_iter().enumerate() {
            if self.found[i].old {
                items.push(format!(
                    "'{}' (the previous {})",
                    old_name(self.files.path(role)).display(),
                    role.what()
                ));
            }
            if self.plan.unfinished && self.plan.placed_new[i] {
                items.push(format!(
                    "'{}' (a new {} it put in place)",
                    self.files.path(role).display(),
                    role.what()
                ));
            }
        }
        for (role, path) in &self.temporaries {
            items.push(format!(
                "'{}' (a new {}, never used)",
                path.display(),
                role.what()
            ));
        }
        items
    }

    /// How the files stand, and the other way out when there are two.
    fn state(&self) -> String {
        let certificate = self.files.certificate.display();
        match (&self.plan.primary.0, &self.plan.alternative) {
            (Goal::RestorePrevious, _) => {
                "the previous key pair is complete, and the new key signed nothing".to_owned()
            }
            (Goal::RemoveLeftovers, _) => {
                "there was no key pair before it, and the new key signed nothing".to_owned()
            }
            (_, Some((goal, steps))) => format!(
                "the new key pair in place is complete (its token may have been printed), and the \
                 previous pair, which Qlik may still trust, is in the .qs-jwt-old files; {}, \
                 run: {}",
                self.goal(*goal),
                self.commands(steps)
            ),
            (Goal::PutBackOld, _) => "the files in place are no complete key pair".to_owned(),
            (_, None) => format!(
                "the new key pair in place is complete (its token may have been printed; give \
                 Qlik '{certificate}'), and what is left of the previous files is no complete \
                 pair"
            ),
        }
    }

    fn goal(&self, goal: Goal) -> String {
        match goal {
            Goal::RestorePrevious => "to restore the previous key pair".to_owned(),
            Goal::RemoveLeftovers => "to remove what it left".to_owned(),
            Goal::GoBack => "to go back to the previous key pair".to_owned(),
            Goal::PutBackOld => "to put the previous files back".to_owned(),
            Goal::KeepNew => format!(
                "to keep the new key pair (and give Qlik '{}')",
                self.files.certificate.display()
            ),
        }
    }

    /// The primary way back, as a line to run: "to restore the previous key pair, run: mv ...".
    fn advice(&self) -> String {
        let (goal, steps) = &self.plan.primary;
        format!("{}, run: {}", self.goal(*goal), self.commands(steps))
    }

    /// What happened, for an error or a warning.
    fn description(&self) -> String {
        format!(
            "an earlier qs-jwt run was interrupted while writing the key files of \
             --cert-file-prefix '{}', and left {}; {}",
            self.files.prefix,
            self.items().join(", "),
            self.state()
        )
    }

    /// `--cert-create` goes no further until the files are dealt with.
    fn refusal(&self) -> UserError {
        UserError::runtime(self.description()).with_hint(self.advice())
    }

    /// The steps as one command line: the moves first, then one removal. Bash on Unix,
    /// PowerShell on Windows, where the user reads it.
    fn commands(&self, steps: &[Step]) -> String {
        let mut moves = Vec::new();
        let mut removals = Vec::new();
        for step in steps {
            match *step {
                Step::PutBack(role) => {
                    moves.push((old_name(self.files.path(role)), self.files.path(role)));
                }
                Step::RemoveNew(role) => removals.push(self.files.path(role).to_path_buf()),
                Step::RemoveOld(role) => removals.push(old_name(self.files.path(role))),
                Step::RemoveTemporaries => {
                    removals.extend(self.temporaries.iter().map(|(_, path)| path.clone()));
                }
            }
        }
        let quoted = |path: &Path| quoted(&path.display().to_string());
        let mut commands: Vec<String> = moves
            .iter()
            .map(|(from, to)| move_command(&quoted(from), &quoted(to)))
            .collect();
        if !removals.is_empty() {
            let paths: Vec<String> = removals.iter().map(|path| quoted(path)).collect();
            commands.push(remove_command(&paths));
        }
        commands.join(COMMAND_SEPARATOR)
    }
}

#[cfg(not(windows))]
const COMMAND_SEPARATOR: &str = " && ";
#[cfg(windows)]
const COMMAND_SEPARATOR: &str = "; ";

#[cfg(not(windows))]
fn quoted(text: &str) -> String {
    crate::render::shell_quoted(text)
}

#[cfg(windows)]
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(not(windows))]
fn move_command(from: &str, to: &str) -> String {
    format!("mv -f -- {from} {to}")
}

#[cfg(windows)]
fn move_command(from: &str, to: &str) -> String {
    format!("Move-Item -Force -LiteralPath {from} -Destination {to}")
}

#[cfg(not(windows))]
fn remove_command(paths: &[String]) -> String {
    format!("rm -f -- {}", paths.join(" "))
}

#[cfg(windows)]
fn remove_command(paths: &[String]) -> String {
    format!("Remove-Item -Force -LiteralPath {}", paths.join(", "))
}

/// The file name a key file's temporary file stands for: `.qs-jwt-XXXXXX.<name>.tmp` gives
/// `<name>`. `None` for other names, and for the temporary files of other writers (the cookie
/// jar's `.qs-jwt-XXXXXX.tmp`).
fn temporary_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(".qs-jwt-")?.strip_suffix(".tmp")?;
    let (random, target) = (rest.get(..RANDOM_CHARS)?, rest.get(RANDOM_CHARS..)?);
    let target = target.strip_prefix('.')?;
    (random.bytes().all(|b| b.is_ascii_alphanumeric()) && !target.is_empty()).then_some(target)
}

/// The random characters in a temporary file's name (tempfile's default).
const RANDOM_CHARS: usize = 6;

/// Before signing with `--cert-privatekey-file <prefix>privatekey.pem`: files an interrupted
/// run left for that prefix are named, with the commands that restore the last complete pair;
/// a key whose certificate is not in place (its run died before putting it there) or that is
/// not in place itself is refused, since Qlik would reject every token.
pub fn check_key_file(path: &Path) -> Result<(), UserError> {
    let Some(prefix) = path.to_str().and_then(|p| p.strip_suffix("privatekey.pem")) else {
        return Ok(());
    };
    let files = KeyFiles::new(prefix);
    let Some(left) = files.left_over_unlocked() else {
        return Ok(());
    };
    let key = left.found[0];
    let what = format!(
        "--cert-privatekey-file '{}': {}",
        path.display(),
        left.description()
    );
    if !key.in_place || (left.plan.unfinished && left.plan.placed_new[0]) {
        let why = if key.in_place {
            "its certificate is not in place, so Qlik would reject every token"
        } else {
            "the key is not in place"
        };
        return Err(UserError::runtime(format!("{what}; {why}")).with_hint(left.advice()));
    }
    warn!("{what}; {}", left.advice());
    Ok(())
}

/// An error after a rollback: the cause, and what the rollback could not undo.
fn failed(cause: String, undo: Result<(), String>) -> UserError {
    match undo {
        Ok(()) => UserError::runtime(format!("{cause}; no key file was changed")),
        Err(problems) => UserError::runtime(format!("{cause}; {problems}")),
    }
}

fn join_undo(first: Result<(), String>, second: Result<(), String>) -> Result<(), String> {
    match (first, second) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(a), Ok(())) | (Ok(()), Err(a)) => Err(a),
        (Err(a), Err(b)) => Err(format!("{a}; {b}")),
    }
}

/// The folder a file goes into: its parent, or the current folder for a bare name.
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    }
}

/// The name an old file has while its replacement is put in place.
fn old_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(OLD_SUFFIX);
    PathBuf::from(name)
}

/// The names and the verb that fits their number: "'a' exists", "'a', 'b' exist".
fn join_names(names: &[String], one: &str, many: &str) -> (String, String) {
    match names {
        [name] => (name.clone(), one.to_owned()),
        _ => (names.join(", "), many.to_owned()),
    }
}

/// An I/O error as its cause alone: tempfile adds the temporary file's name, which is ours,
/// not the user's.
pub fn plain_io(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code).to_string(),
        None => e.kind().to_string(),
    }
}

/// A temporary file in `folder` holding `text`, flushed to disk before it is renamed. Created
/// with `mode` on Unix (the umask may only take permissions away); on Windows a `mode` that
/// gives nothing to group and others (0600) means an owner-only access control list from the
/// file's creation, and any other mode the folder's inherited one.
pub fn stage(folder: &Path, text: &str, mode: u32) -> io::Result<NamedTempFile> {
    stage_as(folder, ".tmp", text, mode)
}

/// The same for a key file: the temporary name says which file it stands for
/// (`.qs-jwt-XXXXXX.privatekey.pem.tmp`), so that what a killed run leaves can be told apart
/// and put right (a name too long for that gets the plain one).
fn stage_key(folder: &Path, path: &Path, text: &str, mode: u32) -> io::Result<NamedTempFile> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    match name {
        Some(name) if name.len() + 20 <= 255 => {
            stage_as(folder, &format!(".{name}.tmp"), text, mode)
        }
        _ => stage(folder, text, mode),
    }
}

fn stage_as(folder: &Path, suffix: &str, text: &str, mode: u32) -> io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder
        .prefix(".qs-jwt-")
        .rand_bytes(RANDOM_CHARS)
        .suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(windows)]
    let mut file = if mode & 0o077 == 0 {
        builder.make_in(folder, super::windows_acl::create_owner_only)?
    } else {
        builder.tempfile_in(folder)?
    };
    #[cfg(not(windows))]
    let mut file = builder.tempfile_in(folder)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    Ok(file)
}

/// An exclusive lock on a prefix's lock file, released (and the file removed) on drop, also
/// when the run ends early. The operating system releases it if the process dies.
pub struct KeyLock {
    path: PathBuf,
    file: Option<File>,
}

impl KeyLock {
    /// `Ok(None)` when another run holds the lock.
    #[cfg(not(windows))]
    fn try_take(path: &Path) -> io::Result<Option<Self>> {
        use std::os::unix::fs::MetadataExt;
        // A few rounds at most: each one means another run removed the file between our open
        // and our lock, which happens only as that run finishes.
        for _ in 0..100 {
            use std::os::unix::fs::OpenOptionsExt;
            // O_NOFOLLOW: a link planted at the lock's name (the folder may be shared) must not
            // make qs-jwt create or lock a file elsewhere.
            let file = File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => return Ok(None),
                Err(fs::TryLockError::Error(e)) => return Err(e),
            }
            // The holder before us removes the file when it is done; a lock on a removed file
            // guards nothing, so make sure the name still leads to the file we locked.
            let locked = file.metadata()?;
            match fs::metadata(path) {
                Ok(now) if now.dev() == locked.dev() && now.ino() == locked.ino() => {
                    return Ok(Some(Self {
                        path: path.to_path_buf(),
                        file: Some(file),
                    }));
                }
                _ => continue,
            }
        }
        Ok(None)
    }

    /// On Windows a file opened without sharing is itself the lock, and the system deletes it
    /// when the last handle closes, also when the process dies.
    #[cfg(windows)]
    fn try_take(path: &Path) -> io::Result<Option<Self>> {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_FLAG_DELETE_ON_CLOSE: u32 = 0x0400_0000;
        const ERROR_SHARING_VIOLATION: i32 = 32;
        const ERROR_ACCESS_DENIED: i32 = 5;
        match File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .share_mode(0)
            .custom_flags(FILE_FLAG_DELETE_ON_CLOSE)
            .open(path)
        {
            Ok(file) => Ok(Some(Self {
                path: path.to_path_buf(),
                file: Some(file),
            })),
            // Access denied: the file is being deleted by the run that held it.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(ERROR_SHARING_VIOLATION | ERROR_ACCESS_DENIED)
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for KeyLock {
    fn drop(&mut self) {
        // Removed while still locked, so that no run can lock the old file after we let go.
        #[cfg(not(windows))]
        let _ = fs::remove_file(&self.path);
        #[cfg(windows)]
        let _ = &self.path;
        drop(self.file.take());
    }
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

    fn files_in(dir: &Path) -> KeyFiles {
        KeyFiles::new(&format!("{}/k_", dir.display()))
    }

    fn write(files: &KeyFiles, force: bool) -> Result<PendingKeyFiles, UserError> {
        files.write(&CONTENTS, force, files.lock().unwrap())
    }

    #[test]
    fn names_follow_the_prefix() {
        let files = KeyFiles::new("keys/qsjwt_");
        assert_eq!(files.private_key, Path::new("keys/qsjwt_privatekey.pem"));
        assert_eq!(files.public_key, Path::new("keys/qsjwt_publickey.pem"));
        assert_eq!(files.certificate, Path::new("keys/qsjwt_publickey.cer"));
        assert_eq!(files.folder(), Path::new("keys"));
        assert_eq!(
            files.lock_path(),
            Path::new("keys/.qsjwt_privatekey.pem.lock")
        );
        assert_eq!(KeyFiles::new("").folder(), Path::new("."));
        assert_eq!(KeyFiles::new("x_").folder(), Path::new("."));
    }

    #[test]
    fn a_prefix_that_is_a_folder_means_that_folder() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("keys");
        fs::create_dir(&prefix).unwrap();
        let files = KeyFiles::for_prefix(&prefix.display().to_string(), Maker::CertCreate);
        assert_eq!(files.private_key, prefix.join("privatekey.pem"));
        let files = KeyFiles::for_prefix(&format!("{}/k_", prefix.display()), Maker::CertCreate);
        assert_eq!(files.private_key, prefix.join("k_privatekey.pem"));
        let missing = dir.path().join("nokeys");
        let files = KeyFiles::for_prefix(&missing.display().to_string(), Maker::CertCreate);
        assert_eq!(
            files.private_key,
            Path::new(&format!("{}privatekey.pem", missing.display()))
        );
    }

    #[test]
    fn writes_all_three_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        files.check(false).unwrap();
        write(&files, false).unwrap().commit();
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
    fn dropped_without_commit_puts_the_old_files_back() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        for path in files.paths() {
            fs::write(path, "old").unwrap();
        }
        let pending = write(&files, true).unwrap();
        assert_eq!(fs::read_to_string(&files.private_key).unwrap(), "private");
        drop(pending);
        assert_eq!(
            names_in(dir.path()),
            ["k_privatekey.pem", "k_publickey.cer", "k_publickey.pem"]
        );
        for path in files.paths() {
            assert_eq!(fs::read_to_string(path).unwrap(), "old");
        }
    }

    #[test]
    fn a_failed_move_aside_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        for path in files.paths() {
            fs::write(path, format!("old {}", path.display())).unwrap();
        }
        // The certificate's aside name is taken by a folder that is not empty, so moving it
        // aside fails after the two keys were moved.
        let blocker = old_name(&files.certificate);
        fs::create_dir(&blocker).unwrap();
        fs::write(blocker.join("inside"), "x").unwrap();
        let err = write(&files, true).err().unwrap().to_string();
        assert!(err.contains("k_publickey.cer"), "{err}");
        assert!(err.contains("no key file was changed"), "{err}");
        for path in files.paths() {
            assert_eq!(
                fs::read_to_string(path).unwrap(),
                format!("old {}", path.display())
            );
        }
        assert_eq!(
            names_in(dir.path()),
            [
                "k_privatekey.pem",
                "k_publickey.cer",
                "k_publickey.cer.qs-jwt-old",
                "k_publickey.pem"
            ]
        );
    }

    #[test]
    fn no_clobber_without_force_even_after_check() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        files.check(false).unwrap();
        fs::write(&files.public_key, "someone else's").unwrap();
        assert!(write(&files, false).is_err());
        assert_eq!(names_in(dir.path()), ["k_publickey.pem"]);
        assert_eq!(
            fs::read_to_string(&files.public_key).unwrap(),
            "someone else's"
        );
    }

    #[test]
    fn check_names_every_existing_file_and_offers_the_key_first() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        fs::write(&files.private_key, "old").unwrap();
        fs::write(&files.certificate, "old").unwrap();
        let err = files.check(false).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("k_privatekey.pem") && text.contains("k_publickey.cer"),
            "{text}"
        );
        assert!(text.contains("--cert-privatekey-file"), "{text}");
        assert!(files.check(true).is_ok());
    }

    #[test]
    fn files_left_by_an_interrupted_run_stop_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        fs::write(old_name(&files.private_key), "the only copy").unwrap();
        assert!(
            files.check(true).is_ok(),
            "not before the lock: a live run has them too"
        );
        let err = files.check_left_over().unwrap_err().to_string();
        assert!(err.contains("k_privatekey.pem.qs-jwt-old"), "{err}");
    }

    #[test]
    fn what_to_do_with_left_over_files_depends_on_the_set_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        fs::write(old_name(&files.public_key), "old").unwrap();
        let err = files.check_left_over().unwrap_err();
        assert!(
            err.to_string()
                .contains("the files in place are no complete key pair"),
            "{err}"
        );
        for path in files.paths() {
            fs::write(path, "new").unwrap();
        }
        let err = files.check_left_over().unwrap_err().to_string();
        assert!(
            err.contains("the new key pair in place is complete"),
            "{err}"
        );
    }

    /// (in place, old, temporary) for the private key, the public key and the certificate.
    fn state(f: [(bool, bool, bool); 3]) -> [Found; 3] {
        f.map(|(in_place, old, temporary)| Found {
            in_place,
            old,
            temporary,
        })
    }

    const ALL: [Role; 3] = ROLES;

    #[test]
    fn a_run_killed_at_each_step_of_force_gets_its_previous_pair_back() {
        use Step::*;
        let put_back_all: Vec<Step> = ALL.map(PutBack).to_vec();
        // Killed before its first rename: the previous pair in place, three temporaries.
        let plan1 = plan(state([(true, false, true); 3])).unwrap();
        assert_eq!(
            plan1.primary,
            (Goal::RestorePrevious, vec![RemoveTemporaries])
        );
        assert_eq!(plan1.placed_new, [false; 3]);
        // At the second rename: the private key aside, the rest in place.
        let plan2 = plan(state([
            (false, true, true),
            (true, false, true),
            (true, false, true),
        ]))
        .unwrap();
        assert_eq!(
            plan2.primary,
            (
                Goal::RestorePrevious,
                vec![PutBack(Role::PrivateKey), RemoveTemporaries]
            )
        );
        // All aside, the new private key in place: it goes, the old one comes back.
        let plan5 = plan(state([
            (true, true, false),
            (false, true, true),
            (false, true, true),
        ]))
        .unwrap();
        let mut back = put_back_all.clone();
        back.push(RemoveTemporaries);
        assert_eq!(plan5.primary, (Goal::RestorePrevious, back));
        assert_eq!(plan5.placed_new, [true, false, false]);
        assert!(plan5.unfinished);
        // Every new file in place, the old ones not yet deleted: back, or keep the new pair.
        let done = plan(state([(true, true, false); 3])).unwrap();
        assert_eq!(done.primary, (Goal::GoBack, put_back_all));
        assert_eq!(
            done.alternative,
            Some((Goal::KeepNew, ALL.map(RemoveOld).to_vec()))
        );
        // The old private key already deleted: only the new pair is whole.
        let late = plan(state([
            (true, false, false),
            (true, true, false),
            (true, true, false),
        ]))
        .unwrap();
        assert_eq!(
            late.primary,
            (
                Goal::KeepNew,
                vec![RemoveOld(Role::PublicKey), RemoveOld(Role::Certificate)]
            )
        );
        assert_eq!(late.alternative, None);
    }

    #[test]
    fn a_first_run_killed_part_way_leaves_nothing_behind_once_cleaned() {
        use Step::*;
        assert_eq!(plan(state([(true, false, false); 3])), None);
        assert_eq!(plan(state([(false, false, false); 3])), None);
        // The new private key in place, its certificate still temporary.
        let part = plan(state([
            (true, false, false),
            (true, false, false),
            (false, false, true),
        ]))
        .unwrap();
        assert_eq!(
            part.primary,
            (
                Goal::RemoveLeftovers,
                vec![
                    RemoveNew(Role::PrivateKey),
                    RemoveNew(Role::PublicKey),
                    RemoveTemporaries
                ]
            )
        );
        // Killed while writing the temporaries.
        let staged = plan(state([
            (false, false, true),
            (false, false, false),
            (false, false, false),
        ]))
        .unwrap();
        assert_eq!(
            staged.primary,
            (Goal::RemoveLeftovers, vec![RemoveTemporaries])
        );
    }

    #[test]
    fn temporary_names_say_which_file_they_stand_for() {
        assert_eq!(
            temporary_of(".qs-jwt-Ab12Cd.k_privatekey.pem.tmp"),
            Some("k_privatekey.pem")
        );
        assert_eq!(temporary_of(".qs-jwt-Ab12Cd.tmp"), None);
        assert_eq!(temporary_of(".qs-jwt-Ab-2Cd.privatekey.pem.tmp"), None);
        assert_eq!(temporary_of(".qs-jwt-é1.x.tmp"), None);
        assert_eq!(temporary_of("privatekey.pem"), None);
    }

    #[test]
    fn the_commands_restore_the_previous_pair() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        for path in files.paths() {
            fs::write(old_name(path), "old").unwrap();
        }
        fs::write(&files.private_key, "new").unwrap();
        let tmp = dir.path().join(".qs-jwt-Ab12Cd.k_publickey.cer.tmp");
        fs::write(&tmp, "new").unwrap();
        // Another prefix's temporary file in the same folder is not this prefix's business.
        fs::write(dir.path().join(".qs-jwt-Zz99Yy.x_k_publickey.cer.tmp"), "").unwrap();
        let left = files.left_over().unwrap();
        let advice = left.advice();
        #[cfg(not(windows))]
        let expected = format!(
            "to restore the previous key pair, run: mv -f -- '{0}/k_privatekey.pem.qs-jwt-old' \
             '{0}/k_privatekey.pem' && mv -f -- '{0}/k_publickey.pem.qs-jwt-old' \
             '{0}/k_publickey.pem' && mv -f -- '{0}/k_publickey.cer.qs-jwt-old' \
             '{0}/k_publickey.cer' && rm -f -- '{0}/.qs-jwt-Ab12Cd.k_publickey.cer.tmp'",
            dir.path().display()
        );
        #[cfg(windows)]
        let expected = format!(
            "to restore the previous key pair, run: Move-Item -Force -LiteralPath \
             '{0}/k_privatekey.pem.qs-jwt-old' -Destination '{0}/k_privatekey.pem'; Move-Item \
             -Force -LiteralPath '{0}/k_publickey.pem.qs-jwt-old' -Destination \
             '{0}/k_publickey.pem'; Move-Item -Force -LiteralPath \
             '{0}/k_publickey.cer.qs-jwt-old' -Destination '{0}/k_publickey.cer'; Remove-Item \
             -Force -LiteralPath '{0}\\.qs-jwt-Ab12Cd.k_publickey.cer.tmp'",
            dir.path().display()
        );
        assert_eq!(advice, expected);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_the_locks_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        let victim = dir.path().join("victim");
        std::os::unix::fs::symlink(&victim, files.lock_path()).unwrap();
        let err = files.lock().err().unwrap().to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        assert!(!victim.exists());
    }

    #[test]
    fn the_lock_is_exclusive_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        let lock = KeyLock::try_take(&files.lock_path()).unwrap().unwrap();
        assert!(
            KeyLock::try_take(&files.lock_path()).unwrap().is_none(),
            "a second lock while the first is held"
        );
        drop(lock);
        assert!(names_in(dir.path()).is_empty());
        assert!(KeyLock::try_take(&files.lock_path()).unwrap().is_some());
    }
}
