//! Many users in one run (`--users`). Every row of the users file is read and checked first, so
//! a bad file signs nothing and makes no key; then the key is read (or made) once, the tokens
//! are signed on every core, a chunk at a time, and written in the file's order as each chunk
//! is done. The file is read twice, check then sign, never held: memory holds a row (8 bytes a
//! user for the duplicate check) while checking, and one chunk of rows and tokens while
//! signing.

use std::fmt;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use jsonwebtoken::Header;
use rayon::prelude::*;
use serde_json::{Map, Value};
use tracing::{Level, info, warn};

use super::{Created, json_object, warn_about_unused_key_options};
use crate::claims::{self, User};
use crate::cli::create::{CreateQscloudArgs, CreateQseowArgs, TokenFormat, UsersArgs, UsersFormat};
use crate::commands::Output;
use crate::commands::random_id;
use crate::error::UserError;
use crate::input;
use crate::keys::{self, KeySource, PendingKeyFiles};
use crate::qlik::check;
use crate::qlik::rules::Profile;
use crate::render::count;
use crate::stdio::ProductLines;
use crate::times;
use crate::token;
use crate::users::{self, RowClaim, TableError, TableFormat, TableRules, UserRow};
use crate::verbose;

/// Tokens a thread signs between two writes. The last tokens of a chunk leave cores idle while
/// the others finish, so a chunk is many tokens a core; a reader still sees the first tokens
/// within a second, and memory holds one chunk.
const CHUNK_PER_THREAD: usize = 64;

/// How many line numbers a warning about a Qlik Cloud rule names.
const LINES_NAMED: usize = 5;

/// A user's payload and its `exp`, from a row and the options every user shares, issued at the
/// given time (seconds since 1970), with the given source of random ids (`jti`).
type Payload<'a> = dyn Fn(&UserRow, u64, &mut dyn FnMut() -> String) -> Result<(Map<String, Value>, u64)>
    + Sync
    + 'a;

/// What both commands hand to [`run`].
struct Batch<'a> {
    profile: Profile,
    header: Header,
    payload: &'a Payload<'a>,
    users: &'a UsersArgs,
    userdir: Option<&'a str>,
    shared_claims: Vec<&'a str>,
    format: TokenFormat,
}

pub fn create_qseow(args: &CreateQseowArgs, users: &Path, now: SystemTime) -> Result<Output> {
    refuse_per_user_options(&args.per_user_options())?;
    let now_seconds = times::unix_seconds(now)?;
    let shared = args.token_input();
    let payload = |row: &UserRow, issued: u64, _: &mut dyn FnMut() -> String| {
        let mut input = shared.clone();
        input.user_id = row.id.to_string();
        input.user_directory = row.userdir.as_deref().unwrap_or_default().to_owned();
        apply_row(&mut input.user, row);
        let claims = claims::qseow_claims(&input, issued)?;
        Ok((json_object(&claims)?, claims.exp))
    };
    // The options every user shares are checked once, before the file is read: an --expires
    // past 9999 or a --claim the command sets is a usage error, as for one user.
    claims::qseow_claims(&shared, now_seconds)?;
    let batch = Batch {
        profile: Profile::Qseow,
        header: jsonwebtoken::Header::new(args.alg.into()),
        payload: &payload,
        users: &args.users,
        userdir: args.userdir.as_deref(),
        shared_claims: args.user.claim.iter().map(|c| c.name.as_str()).collect(),
        format: args.output.output,
    };
    run(&batch, users, &args.key, now)
}

pub fn create_qscloud(args: &CreateQscloudArgs, users: &Path, now: SystemTime) -> Result<Output> {
    refuse_per_user_options(&args.per_user_options())?;
    let now_seconds = times::unix_seconds(now)?;
    let shared = args.token_input();
    let payload = |row: &UserRow, issued: u64, ids: &mut dyn FnMut() -> String| {
        let mut input = shared.clone();
        input.sub = Some(row.id.to_string());
        input.email_verified = row.email_verified;
        apply_row(&mut input.user, row);
        let claims = claims::qscloud_claims(&input, issued, ids)?;
        Ok((json_object(&claims)?, claims.exp))
    };
    claims::qscloud_claims(&shared, now_seconds, &mut random_id)?;
    let batch = Batch {
        profile: Profile::Qscloud,
        header: claims::qscloud_header(&args.keyid),
        payload: &payload,
        users: &args.users,
        userdir: None,
        shared_claims: args.user.claim.iter().map(|c| c.name.as_str()).collect(),
        format: args.output.output,
    };
    run(&batch, users, &args.key, now)
}

/// The row's values on top of what the options give every user: `--groups` first, then the
/// row's groups; `--claim` and the row's claims (a header that repeats a `--claim` is refused).
fn apply_row(user: &mut User, row: &UserRow) {
    user.name = row.name.as_deref().map(str::to_owned);
    user.email = row.email.as_deref().map(str::to_owned);
    user.groups
        .extend(row.groups.iter().map(|group| group.to_string()));
    user.extra.extend(row.claims.iter().map(RowClaim::to_extra));
}

/// The options for one user are a usage error with `--users`: the file gives them, a user a
/// row. Naming the column tells the user where the value goes.
fn refuse_per_user_options(given: &[(&str, &str)]) -> Result<(), UserError> {
    match given.first() {
        Some((option, column)) => Err(UserError::usage(format!(
            "{option} is for one user; with --users, give each user's value in column {column} \
             of the users file"
        ))),
        None => Ok(()),
    }
}

fn run(
    batch: &Batch,
    path: &Path,
    key: &crate::cli::key::KeyArgs,
    now: SystemTime,
) -> Result<Output> {
    let env_key = std::env::var_os(keys::KEY_VARIABLE);
    let source = keys::key_source(&key.options(), env_key.as_deref())?;
    let from_stdin = path.as_os_str() == "-";
    if from_stdin && source == KeySource::Stdin {
        return Err(UserError::usage(
            "--users - and --cert-privatekey-file - both read standard input, which can carry \
             only one of them; give the key in a file or in QSJWTPRIVKEY",
        )
        .into());
    }
    if from_stdin
        && key
            .cert_privatekey_passphrase_file
            .as_ref()
            .is_some_and(|file| file.as_os_str() == "-")
    {
        return Err(UserError::usage(
            "--users - and --cert-privatekey-passphrase-file - both read standard input, which \
             can carry only one of them; give the passphrase in a file or in QSJWTPASSPHRASE",
        )
        .into());
    }
    let shown = if from_stdin {
        "standard input".to_owned()
    } else {
        format!("'{}'", path.display())
    };

    let file = input::UsersFile::open(path)?;
    let format = match batch.users.users_format {
        Some(UsersFormat::Csv) => TableFormat::Csv,
        Some(UsersFormat::Jsonl) => TableFormat::JsonLines,
        None => TableFormat::from_file_name(&path.to_string_lossy()),
    };
    let rules = TableRules {
        profile: batch.profile,
        default_userdir: batch.userdir,
        shared_claims: &batch.shared_claims,
        file: &shown,
    };
    // The header as JSON, once: the rules read it, and every token's --output json shows it.
    let header = json_object(&batch.header)?;
    let mut checks = RowChecks::new(batch, &header, &shown, times::unix_seconds(now)?);
    let checked = users::check_table(
        file.first_pass()?,
        || file.reread(),
        format,
        &rules,
        &mut |row| checks.row(row),
    );
    if let Some(err) = file.empty_stdin() {
        return Err(err.into());
    }
    let users = checked.map_err(|err| table_error(err, &shown))?;
    checks.finish(users)?;
    warn_about_unused_key_options(key);
    file.unchanged()?;

    let loaded = keys::signing_key(&source, super::passphrase(key)?.as_ref(), now)?;
    let table = Table {
        file: &file,
        format,
        rules: &rules,
        users,
    };
    let mut out = ProductLines::open()?;
    if let Err(err) = sign_all(batch, &header, &table, &loaded.key, &mut out) {
        // The tokens made before the failure are good: out with them if they can go, and all
        // writing done before the key's fate is decided (dropping a buffer writes it).
        let _ = out.flush();
        let delivered = out.delivered();
        drop(out);
        return Err(after_failure(err, delivered, users, loaded.pending_files));
    }
    Ok(Output::streamed(loaded.pending_files))
}

/// A run that fails part way (a reader that went away, a full disk, a signal) says how many
/// tokens went out whole. A key made for the run stays once one of its tokens went out: those
/// tokens are good only with that key's certificate. A key whose tokens all stayed behind is
/// taken back, as for one token (its files are dropped with `pending`).
fn after_failure(
    err: anyhow::Error,
    delivered: usize,
    total: usize,
    pending: Option<PendingKeyFiles>,
) -> anyhow::Error {
    let done = match (delivered, pending) {
        // The error as it is; a new key's files go with `pending`, and say so.
        (0, _) => return err,
        (_, None) => format!("{delivered} of {total} tokens were written whole before this"),
        (_, Some(files)) => format!(
            "{delivered} of {total} tokens were written whole before this, signed by the new \
             key, which is kept for them: {}",
            files.keep()
        ),
    };
    match err.downcast_ref::<UserError>() {
        Some(user) => UserError::runtime(format!("{user}; {done}")).into(),
        None => UserError::runtime(format!("{err:#}; {done}")).into(),
    }
}

/// A table that cannot be used: one line for the file, or one for each bad row listed, then
/// the count.
fn table_error(err: TableError, shown: &str) -> UserError {
    match err {
        TableError::File(message) => UserError::runtime(message),
        TableError::Rows { listed, count } => {
            let which = if listed.len() == count {
                if count == 1 {
                    "listed above".to_owned()
                } else {
                    "all listed above".to_owned()
                }
            } else {
                format!("the first {} listed above", listed.len())
            };
            UserError::runtime(format!(
                "{} in {shown} ({which}); nothing was signed: fix them and run again",
                self::count(count, "bad row")
            ))
            .with_details(listed)
        }
    }
}

/// Builds every user's payload once before signing: a row the claims refuse is a bad row, and
/// each Qlik Cloud rule that tokens would break is said once for the run, with how many users
/// and which lines, not once per user. Fed a row at a time by the first read of the file.
///
/// Who the user is (the subject, or the user id) is checked by the table (`users.rs`: not
/// empty, one line, no key text); here the payload is built with a placeholder in its place, so
/// rows that differ only in who they are give the same answer. The answer for the last row's
/// values is kept: a file of one column, or of users alike but for their ids, is checked once
/// and each row then costs a comparison, not a payload and its rules (issue 31: 7,600,000 rows
/// of one column took 27 s, mostly here).
struct RowChecks<'a> {
    batch: &'a Batch<'a>,
    header: &'a Map<String, Value>,
    shown: &'a str,
    now: u64,
    /// The bad rows listed (the first [`users::MAX_BAD_ROWS`]), and how many there are.
    bad: Vec<String>,
    bad_count: usize,
    /// Each failing rule, in the order first seen: its text, its lines, its count.
    broken: Vec<(String, String, Vec<u64>, usize)>,
    /// The last row checked, with the placeholder for its id, and its answer.
    last: Option<(UserRow, RowAnswer)>,
}

/// What the payload check says of a row: the claims refuse it (the message), or the rules of
/// `broken` its token would break (their indices; none for a good row or QSEoW).
enum RowAnswer {
    Refused(String),
    Breaks(Vec<usize>),
}

/// What the payload of a row under check holds in place of the user's id.
const PLACEHOLDER_ID: &str = "id";

impl<'a> RowChecks<'a> {
    fn new(batch: &'a Batch<'a>, header: &'a Map<String, Value>, shown: &'a str, now: u64) -> Self {
        Self {
            batch,
            header,
            shown,
            now,
            bad: Vec::new(),
            bad_count: 0,
            broken: Vec::new(),
            last: None,
        }
    }

    fn row(&mut self, row: &UserRow) {
        if !matches!(&self.last, Some((last, _)) if alike_but_id(last, row)) {
            let shape = UserRow {
                line: 0,
                id: PLACEHOLDER_ID.into(),
                ..row.clone()
            };
            let answer = self.answer(&shape);
            self.last = Some((shape, answer));
        }
        let Some((_, answer)) = &self.last else {
            return; // Set just above.
        };
        match answer {
            RowAnswer::Refused(err) => {
                self.bad_count += 1;
                if self.bad.len() < users::MAX_BAD_ROWS {
                    self.bad
                        .push(format!("{} line {}: {err}", self.shown, row.line));
                }
            }
            RowAnswer::Breaks(rules) => {
                for &index in rules {
                    let (_, _, lines, count) = &mut self.broken[index];
                    *count += 1;
                    if lines.len() < LINES_NAMED {
                        lines.push(row.line);
                    }
                }
            }
        }
    }

    /// Builds the payload of `row` and runs Qlik Cloud's rules over it; a rule seen failing for
    /// the first time joins `broken`, with no line yet.
    fn answer(&mut self, row: &UserRow) -> RowAnswer {
        let mut placeholder = || String::from(PLACEHOLDER_ID);
        let payload = match (self.batch.payload)(row, self.now, &mut placeholder) {
            Ok((payload, _)) => payload,
            Err(err) => return RowAnswer::Refused(format!("{err:#}")),
        };
        if self.batch.profile != Profile::Qscloud {
            return RowAnswer::Breaks(Vec::new());
        }
        let report = check::evaluate(Profile::Qscloud, self.header, &payload, self.now, None);
        let mut breaks = Vec::new();
        for failure in report.failures() {
            let index = match self
                .broken
                .iter()
                .position(|(rule, ..)| *rule == failure.rule)
            {
                Some(index) => index,
                None => {
                    self.broken.push((
                        failure.rule.clone(),
                        failure.failure_text_for_users_file(),
                        Vec::new(),
                        0,
                    ));
                    self.broken.len() - 1
                }
            };
            breaks.push(index);
        }
        RowAnswer::Breaks(breaks)
    }

    /// The bad rows as an error, else the warnings, once the table is read (`users` rows).
    fn finish(self, users: usize) -> Result<()> {
        if self.bad_count > 0 {
            let rows = TableError::Rows {
                listed: self.bad,
                count: self.bad_count,
            };
            return Err(table_error(rows, self.shown).into());
        }
        for (_, text, lines, count) in self.broken {
            if count == users {
                warn!("Qlik Cloud will reject every token: {text}");
            } else {
                let mut named: Vec<String> = lines.iter().map(u64::to_string).collect();
                if count > lines.len() {
                    named.push("...".to_owned());
                }
                warn!(
                    "Qlik Cloud will reject the tokens of {count} of {users} users: {text} ({} {})",
                    if named.len() == 1 { "line" } else { "lines" },
                    named.join(", ")
                );
            }
        }
        Ok(())
    }
}

/// Whether two rows hold the same values but for who the user is and the line.
fn alike_but_id(a: &UserRow, b: &UserRow) -> bool {
    a.userdir == b.userdir
        && a.name == b.name
        && a.email == b.email
        && a.email_verified == b.email_verified
        && a.groups == b.groups
        && a.claims == b.claims
}

/// The checked table, for the second read: the rows are read again a chunk at a time.
struct Table<'a> {
    file: &'a input::UsersFile,
    format: TableFormat,
    rules: &'a TableRules<'a>,
    users: usize,
}

/// Signs a chunk of rows at a time on every core, writing each chunk in the rows' order.
///
/// Each chunk's tokens are issued when the chunk is signed, not when the run began: a long run,
/// or one paced by a slow reader (a login a token, through a pipe that fills and blocks the
/// writes), hands out tokens as fresh as one run a user would.
///
/// Once a token is written, whatever fails is a run-time failure (exit 1), never a usage error:
/// the tokens already out are good, and the command line was not wrong.
///
/// The rows come from a second read of the file, each of its blocks compared with the first
/// read's before its rows are used: a file changed in place stops the run, and no row that the
/// first read did not check is signed.
fn sign_all(
    batch: &Batch,
    header: &Map<String, Value>,
    table: &Table,
    key: &keys::SigningKey,
    out: &mut ProductLines,
) -> Result<()> {
    let threads = rayon::current_num_threads();
    let stop = crate::commands::stop::requested();
    let started = Instant::now();
    let users = table.users;
    let progress = Progress::start(users);
    let mut written = 0;
    verbose!(
        "signing with a {}-bit RSA key on {}",
        key.bits,
        count(threads, "thread")
    );
    let chunk_size = CHUNK_PER_THREAD * threads;
    let mut sign_chunk = |chunk: &mut Vec<UserRow>| -> Result<()> {
        if stop.load(Ordering::SeqCst) {
            return Err(UserError::runtime("stopped by a signal").into());
        }
        // A file that grew or was cut since the first read: refused before more is signed.
        table.file.unchanged()?;
        let issued = times::unix_seconds(SystemTime::now())?;
        let lines: Vec<Result<String>> = chunk
            .par_iter()
            .map(|row| {
                let (payload, expires_at) = (batch.payload)(row, issued, &mut random_id)?;
                let created = Created {
                    token: token::sign(&batch.header, &payload, key)?,
                    header: header.clone(),
                    payload,
                    expires_at,
                    pending_files: None,
                };
                Ok(created.render_for(batch.format, &identity(batch.profile, row)))
            })
            .collect();
        for line in lines {
            let line = line.map_err(|err| after_first_write(err, written))?;
            out.line(&line)?;
            written += 1;
        }
        out.flush()?;
        progress.advance(chunk.len());
        chunk.clear();
        Ok(())
    };
    let mut chunk = Vec::with_capacity(chunk_size);
    let mut failure = None;
    let read = users::read_rows(
        table.file.second_pass()?,
        table.format,
        table.rules,
        &mut |row| {
            chunk.push(row);
            if chunk.len() < chunk_size {
                return true;
            }
            match sign_chunk(&mut chunk) {
                Ok(()) => true,
                Err(err) => {
                    failure = Some(err);
                    false
                }
            }
        },
    );
    if let Some(err) = failure {
        return Err(err);
    }
    read.map_err(|err| table_error(err, table.rules.file))?;
    if !chunk.is_empty() {
        sign_chunk(&mut chunk)?;
    }
    out.flush()?;
    drop(progress);
    let seconds = started.elapsed().as_secs_f64();
    info!(
        "signed a token for each of {} in {seconds:.2} s: {:.0} tokens a second on {}",
        count(users, "user"),
        users as f64 / seconds.max(1e-9),
        count(threads, "thread")
    );
    Ok(())
}

/// A failure once tokens are out is the run's, not the command line's: a usage error (an expiry
/// that passes the year 9999 in a run that lasts past the check) becomes a run-time one.
fn after_first_write(err: anyhow::Error, written: usize) -> anyhow::Error {
    match err.downcast_ref::<UserError>() {
        Some(user) if user.is_usage() && written > 0 => UserError::runtime(user.to_string()).into(),
        _ => err,
    }
}

/// Whose token a JSON line holds: the fields that name the user, as the file's columns do.
fn identity(profile: Profile, row: &UserRow) -> Vec<(&'static str, &str)> {
    match profile {
        Profile::Qscloud => vec![("sub", &*row.id)],
        Profile::Qseow => vec![
            ("userdir", row.userdir.as_deref().unwrap_or_default()),
            ("userid", &*row.id),
        ],
    }
}

/// A progress bar on standard error while the tokens are signed: only on a terminal (and not
/// when the tokens go to the same terminal), and only when info lines are shown (not with
/// --loglevel warning or --minimal-output).
struct Progress(Option<ProgressBar>);

impl Progress {
    fn start(users: usize) -> Self {
        // Tokens on the same terminal would be drawn over by the bar, and copied with it.
        if !std::io::stderr().is_terminal()
            || std::io::stdout().is_terminal()
            || !tracing::enabled!(Level::INFO)
        {
            return Self(None);
        }
        let bar = ProgressBar::with_draw_target(Some(users as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{bar:30} {pos}/{len} tokens, {rate}, {eta} left")
        {
            // indicatif's own {per_sec} shows four decimals: 1,215.6656/s.
            let rate = |state: &ProgressState, out: &mut dyn fmt::Write| {
                let _ = write!(out, "{:.0}/s", state.per_sec());
            };
            bar.set_style(style.with_key("rate", rate));
        }
        // One frame now: with a ticker, `inc` never draws, and a short batch could end
        // before the ticker's thread first runs, leaving no bar at all.
        bar.tick();
        bar.enable_steady_tick(Duration::from_millis(200));
        Self(Some(bar))
    }

    fn advance(&self, tokens: usize) {
        if let Some(bar) = &self.0 {
            bar.inc(tokens as u64);
        }
    }
}

/// The bar goes when the signing ends, however it ends, before the summary or the error.
impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
