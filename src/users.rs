//! The user table of `--users`: CSV with a header row, or JSON Lines, one user a row. Every row
//! is read and checked here before anything is signed, so a bad file costs no key and prints
//! no token. Pure: text in, rows (or every bad row, up to a limit) out.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;
use unicode_normalization::UnicodeNormalization;

use crate::claims::{ExtraClaim, claim_value, claims_set_by};
use crate::qlik::rules::Profile;
use crate::render::count;
use crate::secret;

/// How many bad rows a failed read names; the rest are counted.
pub const MAX_BAD_ROWS: usize = 20;

/// The two layouts of a users file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// A header row, then a user a row (RFC 4180 quoting, LF or CRLF).
    Csv,
    /// A JSON object a line.
    JsonLines,
}

impl TableFormat {
    /// JSON Lines for a file that ends in `.jsonl` or `.ndjson`, else CSV.
    pub fn from_file_name(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Self::JsonLines
        } else {
            Self::Csv
        }
    }
}

/// What the table's rows are checked against: the command, and the values its options give
/// every user.
#[derive(Debug, Clone, Copy)]
pub struct TableRules<'a> {
    /// Which create command reads the table: it decides the columns.
    pub profile: Profile,
    /// `--userdir`: the user directory of every row that leaves its own empty (create-qseow).
    pub default_userdir: Option<&'a str>,
    /// The claims `--claim` gives every user: a column may not give them again.
    pub shared_claims: &'a [&'a str],
    /// The file as messages name it: `'users.csv'` or `standard input`.
    pub file: &'a str,
}

/// One user of the table, checked: `id` is the subject (create-qscloud) or the user id
/// (create-qseow), and `userdir` is set for create-qseow, from the row or `--userdir`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserRow {
    /// The line the row starts on, for messages.
    pub line: u64,
    pub id: Box<str>,
    pub userdir: Option<Arc<str>>,
    pub name: Option<Box<str>>,
    pub email: Option<Box<str>>,
    pub email_verified: Option<bool>,
    pub groups: Vec<Arc<str>>,
    pub claims: Box<[RowClaim]>,
}

/// A claim of a row: its name and its value as JSON text, parsed when the row's token is made.
#[derive(Debug, Clone, PartialEq)]
pub struct RowClaim {
    pub name: Arc<str>,
    pub json: Arc<str>,
}

impl RowClaim {
    /// The claim as `--claim` gives one.
    pub fn to_extra(&self) -> ExtraClaim {
        ExtraClaim {
            name: self.name.to_string(),
            // The text was written by serde_json from a value: it parses.
            value: serde_json::from_str(&self.json).unwrap_or(Value::Null),
        }
    }
}

/// Why a table cannot be used: something about the whole file (its header, no users), or the
/// bad rows, the first [`MAX_BAD_ROWS`] of them with their line, column and fix.
#[derive(Debug, Clone, PartialEq)]
pub enum TableError {
    File(String),
    Rows { listed: Vec<String>, count: usize },
}

/// The columns (CSV) or fields (JSON Lines) of each command.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    Id,
    Userdir,
    Name,
    Email,
    EmailVerified,
    Groups,
    Claim(String),
}

/// The column that names each user: `sub` or `userid`.
pub fn id_column(profile: Profile) -> &'static str {
    match profile {
        Profile::Qscloud => "sub",
        Profile::Qseow => "userid",
    }
}

/// The columns a command reads, in the order the docs list them.
fn known_columns(profile: Profile) -> &'static [&'static str] {
    match profile {
        Profile::Qscloud => &["sub", "name", "email", "email_verified", "groups"],
        Profile::Qseow => &["userid", "userdir", "name", "email", "groups"],
    }
}

fn known_list(profile: Profile) -> String {
    format!("{} and claim.<name>", known_columns(profile).join(", "))
}

/// A column name as written in the header (or a JSON field name), in any letter case for the
/// fixed ones; `None` when the command does not read it.
fn column(profile: Profile, name: &str) -> Option<Column> {
    let name = name.trim();
    if let Some(claim) = name
        .get(..6)
        .filter(|prefix| prefix.eq_ignore_ascii_case("claim."))
        .map(|_| name[6..].trim())
    {
        return (!claim.is_empty()).then(|| Column::Claim(claim.to_owned()));
    }
    let lower = name.to_ascii_lowercase();
    let fixed = match (profile, lower.as_str()) {
        (Profile::Qscloud, "sub") | (Profile::Qseow, "userid") => Column::Id,
        (Profile::Qseow, "userdir") => Column::Userdir,
        (_, "name") => Column::Name,
        (_, "email") => Column::Email,
        (Profile::Qscloud, "email_verified") => Column::EmailVerified,
        (_, "groups") => Column::Groups,
        _ => return None,
    };
    Some(fixed)
}

/// The name a message gives a column of this command.
fn column_name(profile: Profile, column: &Column) -> String {
    match column {
        Column::Id => id_column(profile).to_owned(),
        Column::Userdir => "userdir".to_owned(),
        Column::Name => "name".to_owned(),
        Column::Email => "email".to_owned(),
        Column::EmailVerified => "email_verified".to_owned(),
        Column::Groups => "groups".to_owned(),
        Column::Claim(name) => format!("claim.{name}"),
    }
}

/// Reads and checks every row of `text` (already decoded: no byte order mark): the rows, or
/// every bad row. The whole table in memory, for tests and the fuzz target; a run reads its
/// file with [`check_table`] and [`read_rows`], which hold a row at a time.
pub fn read_table(
    text: String,
    format: TableFormat,
    rules: &TableRules,
) -> Result<Vec<UserRow>, TableError> {
    let mut rows = Vec::new();
    check_table(
        text.as_bytes(),
        || Ok(text.as_bytes()),
        format,
        rules,
        &mut |row| rows.push(row.clone()),
    )?;
    Ok(rows)
}

/// Reads and checks every row of a table (UTF-8 text, no byte order mark), a row at a time,
/// handing each good row to `each`; the number of users, or every bad row, users given twice
/// included. Memory holds one row and 8 bytes a user (a keyed hash of who the user is, for the
/// duplicate check), never the table. When hashes meet, `again` opens the same text once more
/// and the rows that share a hash are compared as they are ([`same_user`]): the lines and the
/// forms written, for the message, and no user refused for a hash alone.
pub fn check_table<R: Read>(
    first: R,
    again: impl FnOnce() -> io::Result<R>,
    format: TableFormat,
    rules: &TableRules,
    each: &mut dyn FnMut(&UserRow),
) -> Result<usize, TableError> {
    let hasher = RandomState::new();
    let mut digests = Vec::new();
    let (users, mut listed, bad) = scan(
        first,
        format,
        rules,
        Some((&hasher, &mut digests)),
        &mut |row| {
            each(&row);
            true
        },
    )?;
    digests.sort_unstable();
    let suspects: HashSet<u64> = digests
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
        .collect();
    drop(digests);
    let mut repeated = 0;
    if !suspects.is_empty() {
        let reader = again().map_err(|err| TableError::File(read_failure(rules, &err)))?;
        let (duplicates, count) = duplicates(reader, format, rules, &hasher, &suspects)?;
        listed.extend(duplicates);
        repeated = count;
    }
    if bad + repeated > 0 {
        listed.sort_by_key(|(line, _)| *line);
        listed.truncate(MAX_BAD_ROWS);
        return Err(TableError::Rows {
            listed: listed.into_iter().map(|(_, text)| text).collect(),
            count: bad + repeated,
        });
    }
    if users == 0 {
        return Err(TableError::File(format!(
            "{} holds no users; give one user a row",
            rules.file
        )));
    }
    Ok(users)
}

/// Reads the rows of a table [`check_table`] has checked, in order, handing each to `each`
/// until it returns false. A bad row (the text is not what was checked) is an error.
pub fn read_rows<R: Read>(
    reader: R,
    format: TableFormat,
    rules: &TableRules,
    each: &mut dyn FnMut(UserRow) -> bool,
) -> Result<(), TableError> {
    let (_, listed, bad) = scan(reader, format, rules, None, each)?;
    if bad > 0 {
        return Err(TableError::Rows {
            listed: listed.into_iter().map(|(_, text)| text).collect(),
            count: bad,
        });
    }
    Ok(())
}

/// What a read of every row finds: the good rows, the bad rows listed with their lines, and
/// how many are bad.
type Scanned = (usize, Vec<(u64, String)>, usize);

/// Reads every row once: the number of good rows, the bad rows listed (the first
/// [`MAX_BAD_ROWS`], with their lines) and how many are bad. With `digests`, each good row's
/// user hash is kept.
fn scan<R: Read>(
    reader: R,
    format: TableFormat,
    rules: &TableRules,
    digests: Option<(&RandomState, &mut Vec<u64>)>,
    each: &mut dyn FnMut(UserRow) -> bool,
) -> Result<Scanned, TableError> {
    let mut table = Table {
        rules,
        listed: Vec::new(),
        bad: 0,
        users: 0,
        digests,
        each,
        stopped: false,
    };
    let reader = BufReader::with_capacity(64 * 1024, reader);
    match format {
        TableFormat::Csv => read_csv(reader, &mut table)?,
        TableFormat::JsonLines => read_json_lines(reader, &mut table)?,
    }
    Ok((table.users, table.listed, table.bad))
}

/// A failed read of the table's text: the reader's message names the file already (see
/// `input::UsersFile`); any other is said with the file.
fn read_failure(rules: &TableRules, err: &io::Error) -> String {
    match err.get_ref() {
        Some(inner) if err.kind() == io::ErrorKind::Other => inner.to_string(),
        _ => format!("cannot read {}: {err}", rules.file),
    }
}

/// The rows read so far: how many were good, the bad ones (the first [`MAX_BAD_ROWS`], with
/// their lines), and where each good row goes.
struct Table<'a, 'h> {
    rules: &'a TableRules<'a>,
    listed: Vec<(u64, String)>,
    bad: usize,
    users: usize,
    digests: Option<(&'h RandomState, &'h mut Vec<u64>)>,
    each: &'h mut dyn FnMut(UserRow) -> bool,
    /// `each` asked for no more rows.
    stopped: bool,
}

impl Table<'_, '_> {
    /// What a failed read says of a bad row: the file, the line, the column, the problem.
    fn describe(&self, line: u64, column: Option<&Column>, problem: &str) -> String {
        describe(self.rules, line, column, problem)
    }

    fn bad_row(&mut self, line: u64, column: Option<&Column>, problem: &str) {
        self.bad += 1;
        if self.listed.len() < MAX_BAD_ROWS {
            let text = self.describe(line, column, problem);
            self.listed.push((line, text));
        }
    }

    /// A group, user directory or claim: no longer held once for all rows, since the table is
    /// no longer held (a table of names grew with the file).
    fn shared(&mut self, name: String) -> Arc<str> {
        Arc::from(name)
    }

    /// Checks a row whose cells were read, and hands it on or lists what is wrong with it.
    fn add(&mut self, cells: Cells) {
        let line = cells.line;
        match self.check(cells) {
            Ok(row) => {
                self.users += 1;
                if let Some((hasher, digests)) = &mut self.digests {
                    digests.push(user_hash(*hasher, self.rules.profile, &row));
                }
                if !(self.each)(row) {
                    self.stopped = true;
                }
            }
            Err((column, problem)) => self.bad_row(line, column.as_ref(), &problem),
        }
    }

    /// The row the cells make, or the first thing wrong with it.
    fn check(&mut self, cells: Cells) -> Result<UserRow, RowProblem> {
        let profile = self.rules.profile;
        let mut row = UserRow {
            line: cells.line,
            ..UserRow::default()
        };
        let mut claims = Vec::new();
        for (column, value) in cells.values {
            let bad = |problem: String| (Some(column.clone()), problem);
            // Every cell goes into the user's token: key text there would be signed and sent.
            if secret::holds_key_material(value.as_written()) {
                return Err(bad(
                    "holds key text (a PEM block or a key's base64), which would be signed into \
                     the user's token; write the user's value, never a key"
                        .to_owned(),
                ));
            }
            match &column {
                Column::Id => row.id = value.text().map_err(bad)?.unwrap_or_default().into(),
                Column::Userdir => {
                    row.userdir = value.text().map_err(bad)?.map(|dir| self.shared(dir));
                }
                Column::Name => row.name = value.text().map_err(bad)?.map(Into::into),
                Column::Email => row.email = value.text().map_err(bad)?.map(Into::into),
                Column::EmailVerified => row.email_verified = value.boolean().map_err(bad)?,
                Column::Groups => {
                    let groups = value.groups().map_err(bad)?;
                    row.groups = groups.into_iter().map(|g| self.shared(g)).collect();
                }
                Column::Claim(name) => {
                    if let Some(json) = value.claim() {
                        let name = self.shared(name.clone());
                        let json = self.shared(json);
                        claims.push(RowClaim { name, json });
                    }
                }
            }
        }
        row.claims = claims.into_boxed_slice();
        // A line break or other control character in a user's id is a mistake in the file (an
        // unclosed quote, a pasted value), and Qlik would make a user of it.
        for (column, text) in [
            (Column::Id, Some(&*row.id)),
            (Column::Userdir, row.userdir.as_deref()),
        ] {
            if text.is_some_and(|t| t.chars().any(char::is_control)) {
                return Err((
                    Some(column),
                    "holds a line break or another control character; a user's id and \
                     directory are one line of text"
                        .to_owned(),
                ));
            }
        }
        if row.id.trim().is_empty() {
            let what = match profile {
                Profile::Qscloud => "subject",
                Profile::Qseow => "user id",
            };
            return Err((
                Some(Column::Id),
                format!("is empty; every user needs a {what}"),
            ));
        }
        if profile == Profile::Qseow {
            if row.userdir.is_none() {
                row.userdir = self
                    .rules
                    .default_userdir
                    .map(|dir| self.shared(dir.to_owned()));
            }
            if row.userdir.is_none() {
                return Err((
                    Some(Column::Userdir),
                    "is empty; fill it, or give --userdir <directory> for the users that have \
                     none"
                        .to_owned(),
                ));
            }
        }
        if profile == Profile::Qscloud && row.email.is_some() && row.email_verified.is_none() {
            return Err((
                Some(Column::EmailVerified),
                "is empty; Qlik Cloud reads email_verified with every email: write true if you \
                 have verified that the email belongs to the user, else false"
                    .to_owned(),
            ));
        }
        Ok(row)
    }
}

/// What a failed read says of a bad row: the file, the line, the column, the problem.
fn describe(rules: &TableRules, line: u64, column: Option<&Column>, problem: &str) -> String {
    let at = match column {
        Some(column) => format!(", column {}", column_name(rules.profile, column)),
        None => String::new(),
    };
    format!("{} line {line}{at}: {problem}", rules.file)
}

/// Users found on more than one line, among the rows whose hash is in `suspects`: the first
/// [`MAX_BAD_ROWS`] of the later lines, and how many there are. Only the users of those hashes
/// are kept (their id and directory), compared as they are when hashes meet.
fn duplicates<R: Read>(
    reader: R,
    format: TableFormat,
    rules: &TableRules,
    hasher: &RandomState,
    suspects: &HashSet<u64>,
) -> Result<(Vec<(u64, String)>, usize), TableError> {
    let profile = rules.profile;
    let mut firsts: HashMap<u64, Vec<UserRow>> = HashMap::new();
    let mut listed = Vec::new();
    let mut count = 0;
    scan(reader, format, rules, None, &mut |row| {
        let hash = user_hash(hasher, profile, &row);
        if !suspects.contains(&hash) {
            return true;
        }
        let seen = firsts.entry(hash).or_default();
        let Some(earlier) = seen.iter().find(|other| same_user(profile, other, &row)) else {
            seen.push(UserRow {
                line: row.line,
                id: row.id,
                userdir: row.userdir,
                ..UserRow::default()
            });
            return true;
        };
        count += 1;
        if listed.len() < MAX_BAD_ROWS {
            let who = |row: &UserRow| match &row.userdir {
                Some(dir) => format!("user {dir}\\{}", row.id),
                None => format!("{} {}", id_column(profile), row.id),
            };
            // A user written otherwise on the first line: both forms, and why they are one.
            let written = if earlier.id == row.id && earlier.userdir == row.userdir {
                String::new()
            } else {
                format!(
                    " (written {}\\{} there; QSEoW compares user ids and directories \
                         regardless of letter case and Unicode form, NFC or NFD)",
                    earlier.userdir.as_deref().unwrap_or_default(),
                    earlier.id
                )
            };
            let problem = format!(
                "{} is also on line {}{written}; give each user once (a second token for \
                     the same user is a second session)",
                who(&row),
                earlier.line
            );
            listed.push((
                row.line,
                describe(rules, row.line, Some(&Column::Id), &problem),
            ));
        }
        true
    })?;
    Ok((listed, count))
}

/// Whether two rows name one user. QSEoW finds users by directory and id without regard to
/// letter case (`CORP\Anna` is `corp\anna`), and text that looks the same may come in either
/// Unicode form (`é` as one character, NFC, or `e` and a combining accent, NFD, as macOS and
/// some exports write it): both are folded. A Qlik Cloud subject is an opaque id that the
/// identity provider compares as it is (Okta's `00u1abcd2EFGH3ijk4x7` and `00u1ABCD2efgh3ijk4x7`
/// are two users), so it is compared exactly.
fn same_user(profile: Profile, a: &UserRow, b: &UserRow) -> bool {
    match profile {
        Profile::Qscloud => a.id == b.id && a.userdir == b.userdir,
        Profile::Qseow => {
            let dirs = match (&a.userdir, &b.userdir) {
                (Some(x), Some(y)) => folded(x).eq(folded(y)),
                (None, None) => true,
                _ => false,
            };
            dirs && folded(&a.id).eq(folded(&b.id))
        }
    }
}

/// A hash that rows [`same_user`] takes for one user share.
fn user_hash(hasher: &impl BuildHasher, profile: Profile, row: &UserRow) -> u64 {
    let mut state = hasher.build_hasher();
    match profile {
        Profile::Qscloud => (row.userdir.as_deref(), &*row.id).hash(&mut state),
        Profile::Qseow => {
            for c in row.userdir.as_deref().map(folded).into_iter().flatten() {
                state.write_u32(u32::from(c));
            }
            // Not a character: the end of the directory, so that `ab\c` and `a\bc` differ.
            state.write_u32(u32::MAX);
            for c in folded(&row.id) {
                state.write_u32(u32::from(c));
            }
        }
    }
    state.finish()
}

/// A QSEoW name as it is compared: lower case, in Unicode's composed form (NFC).
fn folded(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().flat_map(char::to_lowercase).nfc()
}

/// A QSEoW user id or directory as QSEoW compares it (the same folding that finds two rows of
/// one user in a --users file): two names that fold alike are one.
pub fn qseow_folded(text: &str) -> String {
    folded(text).collect()
}

/// What is wrong with a row: the column, when it is one column's, and the problem with its fix.
type RowProblem = (Option<Column>, String);

/// The values of one row, by column, before they are checked.
struct Cells<'t> {
    line: u64,
    values: Vec<(Column, Cell<'t>)>,
}

/// One value as the file wrote it: a CSV cell, or a JSON value as its text (so that a number
/// keeps its digits: `12345678901234567890123` is not rounded, `1e2` stays `1e2`).
enum Cell<'t> {
    Csv(&'t str),
    Json(Box<RawValue>),
}

impl Cell<'_> {
    /// The value as the file wrote it (JSON with its quotes and escapes).
    fn as_written(&self) -> &str {
        match self {
            Cell::Csv(text) => text,
            Cell::Json(raw) => raw.get(),
        }
    }

    /// The JSON value, parsed.
    fn json(raw: &RawValue) -> Value {
        // It was parsed once already, as part of its line.
        serde_json::from_str(raw.get()).unwrap_or(Value::Null)
    }

    /// Text, or `None` when empty (a CSV cell) or null or "" (JSON).
    fn text(&self) -> Result<Option<String>, String> {
        match self {
            Cell::Csv(text) => Ok((!text.is_empty()).then(|| (*text).to_owned())),
            Cell::Json(raw) => match Self::json(raw) {
                Value::Null => Ok(None),
                Value::String(text) => Ok((!text.is_empty()).then_some(text)),
                // An id exported from a database may be a number: it is the text written.
                Value::Number(_) => Ok(Some(raw.get().to_owned())),
                other => Err(format!(
                    "{} is not text; write a string, such as \"anna\"",
                    json_kind(&other)
                )),
            },
        }
    }

    /// true or false (any letter case in CSV; a boolean or the text in JSON), `None` when empty.
    fn boolean(&self) -> Result<Option<bool>, String> {
        let text = match self {
            Cell::Json(raw) => match Self::json(raw) {
                Value::Bool(value) => return Ok(Some(value)),
                Value::Null => return Ok(None),
                Value::String(text) => text,
                other => {
                    return Err(format!(
                        "{} is not true or false; write true or false",
                        json_kind(&other)
                    ));
                }
            },
            Cell::Csv(text) => (*text).to_owned(),
        };
        match text.to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(format!(
                "{} is not true or false; write true or false",
                quoted(&text)
            )),
        }
    }

    /// Groups: `;`-separated in CSV (blank around each dropped), an array of strings in JSON.
    fn groups(&self) -> Result<Vec<String>, String> {
        match self {
            Cell::Csv(text) => Ok(text
                .split(';')
                .map(str::trim)
                .filter(|group| !group.is_empty())
                .map(str::to_owned)
                .collect()),
            Cell::Json(raw) => match Self::json(raw) {
                Value::Null => Ok(Vec::new()),
                Value::Array(items) => items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(group) if !group.is_empty() => Ok(group),
                        Value::String(_) => {
                            Err("holds an empty group name; leave it out".to_owned())
                        }
                        other => Err(format!(
                            "holds {}, not a group name; write an array of strings, such as \
                             [\"sales\",\"finance\"]",
                            json_kind(&other)
                        )),
                    })
                    .collect(),
                other => Err(format!(
                    "{} is not an array; write an array of strings, such as \
                     [\"sales\",\"finance\"]",
                    json_kind(&other)
                )),
            },
        }
    }

    /// A claim's value, as JSON text: read as `--claim` reads one, from the cell (CSV) or from
    /// the value's JSON text (JSON Lines, so that a number too big for 64 bits stays its digits
    /// in both formats); `None` for an empty cell or a JSON null.
    fn claim(&self) -> Option<String> {
        let value = match self {
            Cell::Csv("") => return None,
            Cell::Json(raw) if raw.get() == "null" => return None,
            Cell::Csv(text) => claim_value(text),
            Cell::Json(raw) => claim_value(raw.get()),
        };
        Some(value.to_string())
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The columns of a CSV header, checked as a whole: each known, none twice, the required ones
/// there, no claim that the command or `--claim` already writes.
fn header_columns(header: &csv::StringRecord, rules: &TableRules) -> Result<Vec<Column>, String> {
    let profile = rules.profile;
    let file = rules.file;
    let mut columns: Vec<Column> = Vec::with_capacity(header.len());
    // A first line with no column the command reads is no header: another file given by
    // mistake, perhaps a passphrase file, whose first line must not be quoted back.
    if !header.iter().any(|name| column(profile, name).is_some())
        && !header
            .iter()
            .next()
            .is_some_and(|name| name.trim_start().starts_with('{'))
    {
        return Err(format!(
            "{file}: its first line names none of the columns create-{} reads (it is not shown, \
             in case the file is not a users table but holds a secret); the first line must name \
             the columns, such as {}",
            profile.name(),
            known_columns(profile).join(",")
        ));
    }
    for name in header {
        let Some(column) = column(profile, name) else {
            let shown = if name.trim().is_empty() {
                "a column with no name".to_owned()
            } else {
                format!("column {}", quoted(name.trim()))
            };
            // JSON Lines read as CSV: the first line is one "column" that starts with a brace.
            if name.trim_start().starts_with('{') {
                return Err(format!(
                    "{file} looks like JSON Lines, not CSV (its first line starts with {{); give \
                     --users-format jsonl, or name the file .jsonl"
                ));
            }
            return Err(format!(
                "{file}: {shown} is not one create-{} reads; its columns are {}",
                profile.name(),
                known_list(profile)
            ));
        };
        if columns.contains(&column) {
            return Err(format!(
                "{file}: column {} is there twice; keep one",
                column_name(profile, &column)
            ));
        }
        claim_allowed(&column, rules)?;
        columns.push(column);
    }
    if !columns.contains(&Column::Id) {
        let header_text: Vec<&str> = header.iter().collect();
        return Err(format!(
            "{file} has no column {} in its header row ({}); the first row names the columns, \
             such as {}",
            id_column(profile),
            header_text.join(","),
            known_columns(profile).join(",")
        ));
    }
    if profile == Profile::Qseow
        && rules.default_userdir.is_none()
        && !columns.contains(&Column::Userdir)
    {
        return Err(format!(
            "{file} has no column userdir; add it, or give --userdir <directory> for all users"
        ));
    }
    if profile == Profile::Qscloud
        && columns.contains(&Column::Email)
        && !columns.contains(&Column::EmailVerified)
    {
        return Err(format!(
            "{file} has column email but no column email_verified: Qlik Cloud reads \
             email_verified with every email; add it, with true or false for each user"
        ));
    }
    Ok(columns)
}

/// A `claim.<name>` column may not give a claim the command writes or `--claim` gives all.
fn claim_allowed(column: &Column, rules: &TableRules) -> Result<(), String> {
    let Column::Claim(name) = column else {
        return Ok(());
    };
    if claims_set_by(rules.profile).contains(&name.as_str()) {
        // The claims a column gives: say which; the others (times, audience) have none.
        let instead = match (rules.profile, name.as_str()) {
            (_, "name" | "email" | "email_verified") => format!("use column {name}"),
            (Profile::Qscloud, "sub") => "use column sub".to_owned(),
            (Profile::Qscloud, "groups") | (Profile::Qseow, "group") => {
                "use column groups".to_owned()
            }
            (Profile::Qseow, "userId") => "use column userid".to_owned(),
            (Profile::Qseow, "userDirectory") => "use column userdir".to_owned(),
            _ => "use another claim name".to_owned(),
        };
        return Err(format!(
            "{}: column claim.{name}: create-{} sets claim {name} itself; {instead}",
            rules.file,
            rules.profile.name()
        ));
    }
    if rules.shared_claims.contains(&name.as_str()) {
        return Err(format!(
            "{}: column claim.{name} gives claim {name}, which --claim {name}=... gives every \
             user; drop one of the two",
            rules.file
        ));
    }
    Ok(())
}

/// The first line of `input`, through its line end (LF, CRLF or a CR alone), at most
/// [`MAX_HEADER`] bytes: what decides the separator and how lines end.
fn first_line(input: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(line);
        }
        if let Some(end) = buffer.iter().position(|b| matches!(b, b'\n' | b'\r')) {
            let end_byte = buffer[end];
            line.extend_from_slice(&buffer[..=end]);
            input.consume(end + 1);
            if end_byte == b'\r' && input.fill_buf()?.first() == Some(&b'\n') {
                line.push(b'\n');
                input.consume(1);
            }
            return Ok(line);
        }
        let taken = buffer.len();
        line.extend_from_slice(buffer);
        input.consume(taken);
        if line.len() > MAX_HEADER {
            return Ok(line);
        }
    }
}

/// The most of a first line read to find the separator: no header is longer.
const MAX_HEADER: usize = 1024 * 1024;

/// Skips `input` past its next LF.
fn skip_line(input: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            input.consume(end + 1);
            return Ok(());
        }
        let taken = buffer.len();
        input.consume(taken);
    }
}

fn read_csv(mut input: impl BufRead, table: &mut Table) -> Result<(), TableError> {
    let rules = table.rules;
    let failed = |err: io::Error| TableError::File(read_failure(rules, &err));
    // Windows PowerShell 5.1's Export-Csv writes a "#TYPE ..." line first unless it is given
    // -NoTypeInformation; it is no column.
    let mut header_line = first_line(&mut input).map_err(failed)?;
    let mut skipped = 0;
    if header_line.starts_with(b"#TYPE ") {
        if !header_line.ends_with(b"\n") {
            skip_line(&mut input).map_err(failed)?;
        }
        header_line = first_line(&mut input).map_err(failed)?;
        skipped = 1;
    }
    let header_text = String::from_utf8_lossy(&header_line);
    let delimiter =
        Delimiter::of_header(header_text.split(['\n', '\r']).next().unwrap_or_default());
    // Lines end at CR alone in a file whose header row does (old Mac line ends, which the csv
    // crate reads too). Elsewhere a lone CR is a character inside a value.
    let cr_lines = header_line.ends_with(b"\r");
    let tap = LineCounter::new(
        io::Cursor::new(header_line).chain(input),
        skipped,
        cr_lines,
        delimiter.byte(),
    );
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter.byte())
        .has_headers(true)
        .flexible(true)
        // Values are trimmed here, as they are used: the csv reader's own trimming makes two
        // new records a row (issue 31).
        .trim(csv::Trim::None)
        .from_reader(tap);
    let csv_failed = |err: csv::Error| match err.kind() {
        csv::ErrorKind::Io(err) => TableError::File(read_failure(rules, err)),
        _ => TableError::File(format!("{}: {err}", rules.file)),
    };
    let header = match reader.headers() {
        Ok(header) if header.iter().any(|name| !name.trim().is_empty()) => {
            header.iter().map(str::trim).collect::<csv::StringRecord>()
        }
        Ok(_) => {
            return Err(TableError::File(format!(
                "{} is empty; the first row names the columns, such as {}",
                rules.file,
                known_columns(rules.profile).join(",")
            )));
        }
        Err(err) => return Err(csv_failed(err)),
    };
    let columns = header_columns(&header, rules).map_err(TableError::File)?;
    let mut record = csv::StringRecord::new();
    while !table.stopped {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(err) if matches!(err.kind(), csv::ErrorKind::Io(_)) => {
                return Err(csv_failed(err));
            }
            // The text is UTF-8 already and the reader is flexible: nothing else can fail, but
            // a failure is a bad row, never a panic.
            Err(err) => {
                let at = reader.position().byte();
                let line = reader.get_mut().line_at(at);
                table.bad_row(line, None, &err.to_string());
                continue;
            }
        }
        let at = record.position().map_or(0, csv::Position::byte);
        let line = reader.get_mut().line_at(at);
        // A row of empty values (a blank line, spaces, commas only, as a spreadsheet writes
        // below its data) is no user.
        if record.iter().all(|value| value.trim().is_empty()) {
            continue;
        }
        if record.len() != columns.len() {
            table.bad_row(
                line,
                None,
                &format!(
                    "has {}, the header has {}; {}",
                    count(record.len(), "value"),
                    columns.len(),
                    delimiter.quote_advice()
                ),
            );
            continue;
        }
        let values = columns
            .iter()
            .cloned()
            .zip(record.iter().map(|value| Cell::Csv(value.trim())))
            .collect();
        table.add(Cells { line, values });
    }
    // A quote opened and never closed takes everything to the end of the file into one value,
    // which the csv reader takes as closed: a user `bjorn` from a last line `"bjorn`, or one
    // whose name runs over a thousand lines. Said as such, with the quote's line.
    if let Some(line) = reader.get_ref().unclosed_quote()
        && !table.stopped
    {
        return Err(TableError::File(format!(
            "{}: a quote (\") on line {line} is not closed, so everything from there to the end \
             of the file is one value; close it, or write a quote inside a quoted value as \"\"",
            rules.file
        )));
    }
    Ok(())
}

/// What separates the values of a CSV file: a comma, or what the file's header row uses
/// instead. Excel writes "CSV" with semicolons where the comma is the decimal mark (much of
/// Europe), and tabs as "Unicode text"; `Export-Csv -UseCulture` does the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delimiter {
    Comma,
    Semicolon,
    Tab,
}

impl Delimiter {
    /// A header with no comma but a semicolon (or a tab) between its names is separated by it;
    /// a column name holds neither.
    fn of_header(header: &str) -> Self {
        if header.contains(',') {
            Self::Comma
        } else if header.contains(';') {
            Self::Semicolon
        } else if header.contains('\t') {
            Self::Tab
        } else {
            Self::Comma
        }
    }

    fn byte(self) -> u8 {
        match self {
            Self::Comma => b',',
            Self::Semicolon => b';',
            Self::Tab => b'\t',
        }
    }

    /// How to keep a value that holds the separator in one column.
    fn quote_advice(self) -> &'static str {
        match self {
            Self::Comma => "quote a value that holds a comma, such as \"Anderson, Anna\"",
            Self::Semicolon => {
                "the file is separated by semicolons (its header row is): quote a value that \
                 holds a semicolon, such as \"group1;group 2\""
            }
            Self::Tab => {
                "the file is separated by tabs (its header row is): quote a value that \
                 holds a tab"
            }
        }
    }
}

/// The line a CSV record starts on. The csv crate's own line count misses blank lines and CRLF
/// line ends, and its byte offset points at the line end before the record, so the lines are
/// counted here, from that offset past any line ends. It reads the text for the csv reader and
/// notes where each line end is, until the records before it are counted: memory holds what
/// the csv reader has read ahead, not the file.
struct LineCounter<R> {
    inner: R,
    /// Lines end at CR, not LF.
    cr_lines: bool,
    /// The offset of each CR and LF read and not yet counted, with the byte.
    ends: VecDeque<(u64, u8)>,
    /// How many bytes were read.
    read: u64,
    line: u64,
    /// Where the text read so far stands in RFC 4180's quoting, as the csv reader reads it.
    quote: QuoteState,
    /// Line ends read so far (CR in a file of CR lines, else LF), for the line a quote opens on.
    lines_read: u64,
    /// The line of the last quote that opened a value.
    open_quote: Option<u64>,
    delimiter: u8,
}

/// Where a CSV text stands in its quoting, as csv-core reads it (double quotes escaped by
/// doubling, a quote quoting only at the start of a value, a CR or LF ending a row). The csv
/// reader takes an unclosed quote at the end of the input as closed; this notes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    /// At the start of a value.
    Start,
    /// Inside a value that is not quoted: a quote here is a character of it.
    Unquoted,
    /// Inside a quoted value.
    Quoted,
    /// A quote inside a quoted value: it closes the value, or a second quote follows.
    QuoteInQuoted,
}

impl<R: Read> LineCounter<R> {
    fn new(inner: R, skipped: u64, cr_lines: bool, delimiter: u8) -> Self {
        Self {
            inner,
            cr_lines,
            ends: VecDeque::new(),
            read: 0,
            line: 1 + skipped,
            quote: QuoteState::Start,
            lines_read: skipped,
            open_quote: None,
            delimiter,
        }
    }

    /// The line a quote opened on that the text read so far never closed: the whole text read,
    /// a quote still open at its end.
    fn unclosed_quote(&self) -> Option<u64> {
        self.open_quote.filter(|_| self.quote == QuoteState::Quoted)
    }

    /// Offsets only grow, so each line end is counted once.
    fn line_at(&mut self, offset: u64) -> u64 {
        let end = if self.cr_lines { b'\r' } else { b'\n' };
        let mut start = offset;
        while let Some(&(at, byte)) = self.ends.front() {
            if at > start {
                break;
            }
            // A line end at the record's offset is before the record: skipped and counted.
            if at == start {
                start += 1;
            }
            if byte == end {
                self.line += 1;
            }
            self.ends.pop_front();
        }
        self.line
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        let line_end = if self.cr_lines { b'\r' } else { b'\n' };
        let mut quote = self.quote;
        for (index, &byte) in buf[..read].iter().enumerate() {
            let is_end = matches!(byte, b'\r' | b'\n');
            if is_end {
                self.ends.push_back((self.read + index as u64, byte));
            }
            quote = match (quote, byte) {
                (QuoteState::Start, b'"') => {
                    self.open_quote = Some(1 + self.lines_read);
                    QuoteState::Quoted
                }
                (QuoteState::Quoted, b'"') => QuoteState::QuoteInQuoted,
                (QuoteState::Quoted, _) => QuoteState::Quoted,
                (QuoteState::QuoteInQuoted, b'"') => QuoteState::Quoted,
                (_, b'\r' | b'\n') => QuoteState::Start,
                (_, byte) if byte == self.delimiter => QuoteState::Start,
                _ => QuoteState::Unquoted,
            };
            if byte == line_end {
                self.lines_read += 1;
            }
        }
        self.quote = quote;
        self.read += read as u64;
        Ok(read)
    }
}

fn read_json_lines(mut input: impl BufRead, table: &mut Table) -> Result<(), TableError> {
    let rules = table.rules;
    let mut bytes = Vec::new();
    let mut line = 0;
    while !table.stopped {
        bytes.clear();
        let read = input
            .read_until(b'\n', &mut bytes)
            .map_err(|err| TableError::File(read_failure(rules, &err)))?;
        if read == 0 {
            break;
        }
        line += 1;
        // The text is UTF-8 (the reader checked it), and a line ends between characters.
        let line_text = String::from_utf8_lossy(&bytes);
        let line_text = line_text.strip_suffix('\n').unwrap_or(&line_text);
        let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
        if line_text.trim().is_empty() {
            continue;
        }
        match json_fields(line_text, rules.profile).and_then(|fields| json_cells(fields, rules)) {
            Ok(values) => table.add(Cells { line, values }),
            Err((column, problem)) => table.bad_row(line, column.as_ref(), &problem),
        }
    }
    Ok(())
}

/// The fields of one line's JSON object, in order, each value as its JSON text, or what is
/// wrong with the line. A field given twice is an error: serde_json would keep the last value
/// without a word.
fn json_fields(line: &str, profile: Profile) -> Result<Vec<(String, Box<RawValue>)>, RowProblem> {
    if !line.trim_start().starts_with('{') {
        let problem = match serde_json::from_str::<Value>(line) {
            Ok(other) => format!(
                "is {}, not a JSON object; write one user a line, such as {{\"{}\": \"anna\"}}",
                json_kind(&other),
                id_column(profile)
            ),
            Err(err) => format!("is not JSON ({err}); write one JSON object a line"),
        };
        return Err((None, problem));
    }
    let fields: JsonFields = serde_json::from_str(line).map_err(|err| {
        (
            None,
            format!("is not JSON ({err}); write one JSON object a line"),
        )
    })?;
    let mut seen = HashSet::new();
    for (name, _) in &fields.0 {
        if !seen.insert(name.as_str()) {
            return Err((
                None,
                format!("field {} is there twice; keep one", quoted(name)),
            ));
        }
    }
    Ok(fields.0)
}

/// A JSON object's fields in order, repeats kept (for [`json_fields`] to refuse).
struct JsonFields(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for JsonFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = JsonFields;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<JsonFields, M::Error> {
                let mut fields = Vec::new();
                while let Some(field) = map.next_entry::<String, Box<RawValue>>()? {
                    fields.push(field);
                }
                Ok(JsonFields(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// The fields of one JSON object, each known, the required ones there.
fn json_cells(
    object: Vec<(String, Box<RawValue>)>,
    rules: &TableRules,
) -> Result<Vec<(Column, Cell<'static>)>, RowProblem> {
    let profile = rules.profile;
    let mut values = Vec::with_capacity(object.len());
    for (name, value) in object {
        let Some(column) = column(profile, &name) else {
            return Err((
                None,
                format!(
                    "field {} is not one create-{} reads; its fields are {}",
                    quoted(&name),
                    profile.name(),
                    known_list(profile)
                ),
            ));
        };
        if values.iter().any(|(seen, _)| *seen == column) {
            return Err((
                Some(column.clone()),
                format!(
                    "is there twice (in other letter case); keep one {}",
                    column_name(profile, &column)
                ),
            ));
        }
        claim_allowed(&column, rules).map_err(|problem| {
            // The file is named at the start of the row's message already.
            let problem = problem
                .strip_prefix(&format!("{}: ", rules.file))
                .unwrap_or(&problem)
                .to_owned();
            (None, problem.replace("column claim.", "field claim."))
        })?;
        values.push((column, Cell::Json(value)));
    }
    if !values.iter().any(|(column, _)| *column == Column::Id) {
        return Err((
            Some(Column::Id),
            "is missing; every user needs one".to_owned(),
        ));
    }
    Ok(values)
}

/// A value from the file quoted in a message, cut to [`MAX_QUOTED`] characters: a message about a
/// cell of 40 million characters would otherwise cost gigabytes to make safe for a terminal.
fn quoted(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED) {
        Some((at, _)) => format!("'{}...'", &text[..at]),
        None => format!("'{text}'"),
    }
}

/// The most characters of a value a message quotes.
const MAX_QUOTED: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(profile: Profile) -> TableRules<'static> {
        TableRules {
            profile,
            default_userdir: None,
            shared_claims: &[],
            file: "'users.csv'",
        }
    }

    fn cloud(text: &str) -> Result<Vec<UserRow>, TableError> {
        read_table(text.to_owned(), TableFormat::Csv, &rules(Profile::Qscloud))
    }

    fn cloud_lines(text: &str) -> Result<Vec<UserRow>, TableError> {
        read_table(
            text.to_owned(),
            TableFormat::JsonLines,
            &rules(Profile::Qscloud),
        )
    }

    fn listed(result: Result<Vec<UserRow>, TableError>) -> Vec<String> {
        match result {
            Err(TableError::Rows { listed, .. }) => listed,
            other => panic!("expected bad rows, got {other:?}"),
        }
    }

    fn file_error(result: Result<Vec<UserRow>, TableError>) -> String {
        match result {
            Err(TableError::File(message)) => message,
            other => panic!("expected a file error, got {other:?}"),
        }
    }

    #[test]
    fn a_csv_row_has_every_column() {
        let rows = cloud(
            "sub,name,email,email_verified,groups,claim.level,claim.dept\n\
             anna,\"Anderson, Anna\",a@b.c,TRUE,g1; g 2 ;;,3,sales\n",
        )
        .unwrap();
        assert_eq!(
            rows,
            [UserRow {
                line: 2,
                id: "anna".into(),
                name: Some("Anderson, Anna".into()),
                email: Some("a@b.c".into()),
                email_verified: Some(true),
                groups: vec!["g1".into(), "g 2".into()],
                claims: vec![
                    RowClaim {
                        name: "level".into(),
                        json: "3".into()
                    },
                    RowClaim {
                        name: "dept".into(),
                        json: "\"sales\"".into()
                    },
                ]
                .into(),
                ..UserRow::default()
            }]
        );
    }

    #[test]
    fn csv_quotes_crlf_blank_lines_and_empty_cells() {
        let rows =
            cloud("Sub , Name\r\n\"a \"\"quoted\"\" one\",\"two\r\nlines\"\r\n\r\nbob,\r\n   \r\n")
                .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(&*rows[0].id, "a \"quoted\" one");
        assert_eq!(rows[0].name.as_deref(), Some("two\r\nlines"));
        assert_eq!((rows[1].line, rows[1].name.as_deref()), (5, None));
    }

    #[test]
    fn powershell_type_line_is_skipped_and_lines_still_count() {
        let rows = cloud("#TYPE System.Management.Automation.PSCustomObject\n\"sub\"\n\"anna\"\n")
            .unwrap();
        assert_eq!((rows[0].line, &*rows[0].id), (3, "anna"));
    }

    #[test]
    fn every_bad_row_is_listed_with_its_line_and_column() {
        let bad = listed(cloud(
            "sub,email,email_verified\n\
             ,a@b.c,true\n\
             anna,a@b.c,yes\n\
             bob,b@b.c,\n\
             carl\n\
             anna,,\n",
        ));
        assert_eq!(
            bad,
            [
                "'users.csv' line 2, column sub: is empty; every user needs a subject",
                "'users.csv' line 3, column email_verified: 'yes' is not true or false; write \
                 true or false",
                "'users.csv' line 4, column email_verified: is empty; Qlik Cloud reads \
                 email_verified with every email: write true if you have verified that the email \
                 belongs to the user, else false",
                "'users.csv' line 5: has 1 value, the header has 3; quote a value that holds a \
                 comma, such as \"Anderson, Anna\"",
            ]
        );
    }

    #[test]
    fn semicolons_or_tabs_separate_a_file_whose_header_has_no_comma() {
        let excel = "sub;name;email;email_verified;groups\r\n\
                     anna;\"Anderson, Anna\";a@b.c;TRUE;\"g1;g 2\"\r\nbob;Bob;;;g3\r\n";
        let rows = cloud(excel).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name.as_deref(), Some("Anderson, Anna"));
        assert_eq!(rows[0].groups, ["g1".into(), "g 2".into()]);
        assert_eq!((&*rows[1].id, rows[1].email.as_deref()), ("bob", None));
        // Export-Csv -UseCulture: every name quoted, after its type line.
        let rows = cloud("#TYPE x\n\"sub\";\"name\"\n\"anna\";\"Anna\"\n").unwrap();
        assert_eq!((rows[0].line, rows[0].name.as_deref()), (3, Some("Anna")));
        // Old Mac line ends: the header is the first line still.
        let rows = cloud("sub;name\ranna;Anna, A.\rbob;Bob\r").unwrap();
        assert_eq!(rows[0].name.as_deref(), Some("Anna, A."));
        let rows = cloud("sub\tname\nanna\tAnna, A.\n").unwrap();
        assert_eq!(rows[0].name.as_deref(), Some("Anna, A."));
        // A comma in the header decides for commas; one column needs no separator.
        assert_eq!(
            cloud("sub,name\nanna;x,A\n").unwrap()[0].id.as_ref(),
            "anna;x"
        );
        assert_eq!(cloud("sub\nanna;bob\n").unwrap()[0].id.as_ref(), "anna;bob");
        // Groups unquoted in a semicolon file: the row is too long, and the fix says so.
        let bad = listed(cloud("sub;groups\nanna;g1;g2\n"));
        assert_eq!(
            bad,
            [
                "'users.csv' line 2: has 3 values, the header has 2; the file is separated by \
              semicolons (its header row is): quote a value that holds a semicolon, such as \
              \"group1;group 2\""
            ]
        );
    }

    #[test]
    fn a_duplicate_user_names_the_first_line() {
        let bad = listed(cloud("sub\nanna\nbob\nanna\n"));
        assert_eq!(
            bad,
            [
                "'users.csv' line 4, column sub: sub anna is also on line 2; give each user once \
              (a second token for the same user is a second session)"
            ]
        );
    }

    #[test]
    fn qseow_users_are_told_apart_by_directory_and_id() {
        let rules = TableRules {
            default_userdir: Some("CORP"),
            ..rules(Profile::Qseow)
        };
        let rows = read_table(
            "userid,userdir\nanna,\nanna,EXT\n".into(),
            TableFormat::Csv,
            &rules,
        )
        .unwrap();
        assert_eq!(rows[0].userdir.as_deref(), Some("CORP"));
        assert_eq!(rows[1].userdir.as_deref(), Some("EXT"));
        let bad = listed(read_table(
            "userid,userdir\nanna,\nanna,CORP\n".into(),
            TableFormat::Csv,
            &rules,
        ));
        assert!(
            bad[0].contains("user CORP\\anna is also on line 2"),
            "{bad:?}"
        );
    }

    #[test]
    fn qseow_users_differing_in_letter_case_or_unicode_form_are_one_user() {
        let qseow = TableRules {
            default_userdir: Some("CORP"),
            ..rules(Profile::Qseow)
        };
        let read = |text: &str| read_table(text.into(), TableFormat::Csv, &qseow);
        // "Björn" in NFC (ö one character) and in NFD (o and a combining diaeresis).
        let nfc = "Bj\u{f6}rn";
        let nfd = "Bjo\u{308}rn";
        let bad = listed(read(&format!(
            "userid,userdir\nanna,\nANNA,corp\n{nfc},EXT\n{nfd},ext\nbob,\nCarl,Ext\n"
        )));
        assert_eq!(
            bad,
            [
                "'users.csv' line 3, column userid: user corp\\ANNA is also on line 2 (written \
                 CORP\\anna there; QSEoW compares user ids and directories regardless of letter \
                 case and Unicode form, NFC or NFD); give each user once (a second token for the \
                 same user is a second session)"
                    .to_owned(),
                format!(
                    "'users.csv' line 5, column userid: user ext\\{nfd} is also on line 4 \
                     (written EXT\\{nfc} there; QSEoW compares user ids and directories \
                     regardless of letter case and Unicode form, NFC or NFD); give each user once \
                     (a second token for the same user is a second session)"
                ),
            ]
        );
        // Exact duplicates read as before; other users stay apart.
        let bad = listed(read("userid,userdir\nanna,\nanna,CORP\n"));
        assert!(bad[0].ends_with("user CORP\\anna is also on line 2; give each user once (a second token for the same user is a second session)"), "{bad:?}");
        assert_eq!(
            read("userid,userdir\nab,c\na,bc\nanna,\nanne,\n")
                .unwrap()
                .len(),
            4
        );
        // Each later line counts, in line order, against the first.
        match read("userid\nx\nX\nx\n") {
            Err(TableError::Rows { listed, count }) => {
                assert_eq!(count, 2);
                assert!(
                    listed.iter().all(|l| l.contains("is also on line 2")),
                    "{listed:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn qlik_cloud_subjects_are_opaque_and_compared_exactly() {
        let rows =
            cloud("sub\n00u1abcd2EFGH3ijk4x7\n00u1ABCD2efgh3ijk4x7\nBj\u{f6}rn\nBjo\u{308}rn\n")
                .unwrap();
        assert_eq!(rows.len(), 4);
    }

    #[test]
    fn qseow_needs_a_user_directory_from_the_row_or_the_option() {
        let qseow = rules(Profile::Qseow);
        let message = file_error(read_table(
            "userid\nanna\n".into(),
            TableFormat::Csv,
            &qseow,
        ));
        assert!(message.contains("no column userdir"), "{message}");
        let bad = listed(read_table(
            "userid,userdir\nanna,\n".into(),
            TableFormat::Csv,
            &qseow,
        ));
        assert!(bad[0].contains("column userdir: is empty"), "{bad:?}");
    }

    #[test]
    fn at_most_twenty_bad_rows_are_listed_and_all_are_counted() {
        let text = format!("sub,email_verified\n{}", "anna,maybe\n".repeat(57));
        match cloud(&text) {
            Err(TableError::Rows { listed, count }) => {
                assert_eq!((listed.len(), count), (MAX_BAD_ROWS, 57));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_first_line_with_no_known_column_is_not_quoted() {
        // A passphrase file given to --users by mistake: its one line must not come back.
        for text in ["correct-horse-battery\n", "Secr3t,pass;word\n", "hunter2"] {
            let message = file_error(cloud(text));
            assert!(
                message.contains("names none of the columns create-qscloud reads"),
                "{message}"
            );
            for piece in text.trim().split([',', ';']) {
                assert!(!message.contains(piece), "{piece} shown: {message}");
            }
        }
    }

    #[test]
    fn header_errors_name_the_known_columns() {
        let message = file_error(cloud("sub,mail\nanna,a@b.c\n"));
        assert_eq!(
            message,
            "'users.csv': column 'mail' is not one create-qscloud reads; its columns are sub, \
             name, email, email_verified, groups and claim.<name>"
        );
        assert!(file_error(cloud("name\nAnna\n")).contains("no column sub"));
        assert!(file_error(cloud("sub,SUB\na,b\n")).contains("twice"));
        assert!(file_error(cloud("sub,email\na,a@b.c\n")).contains("no column email_verified"));
        assert!(file_error(cloud("sub,claim.jti\na,1\n")).contains("sets claim jti itself"));
        assert!(file_error(cloud("")).contains("is empty"));
        assert!(file_error(cloud("sub\n")).contains("holds no users"));
        let shared = TableRules {
            shared_claims: &["dept"],
            ..rules(Profile::Qscloud)
        };
        let message = file_error(read_table(
            "sub,claim.dept\na,x\n".into(),
            TableFormat::Csv,
            &shared,
        ));
        assert!(message.contains("--claim dept=..."), "{message}");
    }

    #[test]
    fn json_lines_take_typed_values() {
        let rows = cloud_lines(
            "{\"sub\":\"anna\",\"email\":\"a@b.c\",\"email_verified\":false,\"groups\":[\"a;b\",\"c\"],\"claim.level\":\"3\",\"claim.n\":3}\r\n\
             \n\
             {\"sub\":42,\"name\":null}\n",
        )
        .unwrap();
        assert_eq!(rows[0].email_verified, Some(false));
        assert_eq!(rows[0].groups, ["a;b".into(), "c".into()] as [Arc<str>; 2]);
        assert_eq!(rows[0].claims[0].to_extra().value, json!("3"));
        assert_eq!(rows[0].claims[1].to_extra().value, json!(3));
        assert_eq!((rows[1].line, &*rows[1].id), (3, "42"));
    }

    #[test]
    fn bad_json_lines_are_listed() {
        let bad = listed(cloud_lines(
            "{\"sub\":\"a\",\"groups\":\"x\"}\n\
             [1]\n\
             {\"sub\":\n\
             {\"name\":\"x\"}\n\
             {\"sub\":\"b\",\"mail\":1}\n\
             {\"sub\":\"c\",\"email\":\"c@d.e\"}\n\
             {\"sub\":true}\n",
        ));
        let expected = [
            "line 1, column groups: a string is not an array",
            "line 2: is an array, not a JSON object",
            "line 3: is not JSON",
            "line 4, column sub: is missing",
            "line 5: field 'mail' is not one create-qscloud reads",
            "line 6, column email_verified: is empty",
            "line 7, column sub: a boolean is not text",
        ];
        assert_eq!(bad.len(), expected.len(), "{bad:#?}");
        for (line, expected) in bad.iter().zip(expected) {
            assert!(line.contains(expected), "{line} lacks {expected}");
        }
    }

    #[test]
    fn mistakes_a_spreadsheet_or_an_editor_makes() {
        // Rows of commas below the data, and a line of spaces: no users, no errors.
        let rows = cloud("sub,name\nanna,A\n,\n  \n,\n").unwrap();
        assert_eq!(rows.len(), 1);
        let rows = cloud("sub\nanna\n  \nbob\n").unwrap();
        assert_eq!(rows.len(), 2);
        // A quote never closed: said as such, with its line.
        let message = file_error(cloud("sub\n\"anna\nbob\ncarl\n"));
        assert!(
            message.contains("a quote (\") on line 2 is not closed"),
            "{message}"
        );
        let message = file_error(cloud("sub,name\nanna,\"Anna\nbob,B\n"));
        assert!(message.contains("on line 2 is not closed"), "{message}");
        // ...but a value over two lines, closed, is fine.
        assert!(cloud("sub,name\nanna,\"A\nB\"\n").is_ok());
        // Old Mac line ends (CR alone) count as lines.
        let bad = listed(cloud("sub,email_verified\ra,true\rb,yes\r"));
        assert!(bad[0].starts_with("'users.csv' line 3,"), "{bad:?}");
        // A control character in an id.
        let bad = listed(cloud_lines(
            "{\"sub\":\"anna\\u0000\"}\n{\"sub\":\"a\\nb\"}\n",
        ));
        assert_eq!(bad.len(), 2);
        assert!(
            bad[0].contains("column sub: holds a line break or another control"),
            "{bad:?}"
        );
        // A blank id in JSON is empty, as it is in CSV.
        let bad = listed(cloud_lines("{\"sub\":\"   \"}\n"));
        assert!(bad[0].contains("is empty"), "{bad:?}");
    }

    #[test]
    fn a_quote_opened_on_the_last_line_and_never_closed_is_refused() {
        // The csv reader takes the end of the text as closing the quote: `"bjorn` would be read
        // as a user bjorn, with or without a line end after it, in any separator.
        for (text, line) in [
            ("sub\nanna\n\"bjorn", 3),
            ("sub\nanna\n\"bjorn\n", 3),
            ("sub\r\nanna\r\n\"bjorn\r\n", 3),
            ("sub\ranna\r\"bjorn\r", 3),
            ("sub;name\nanna;A\nbjorn;\"B\n", 3),
            ("sub\tname\nanna\tA\n\"bjorn\tB", 3),
            ("sub,name\nanna,A\n\"bjorn,B", 3),
            (
                "#TYPE x\n\"sub\";\"name\"\n\"anna\";\"A\"\n\"bjorn\";\"B\n",
                4,
            ),
            // Escaped quotes inside do not close it; the line is the opening quote's.
            ("sub,name\nanna,\"A \"\"x\"\"\nstill\nopen\n", 2),
        ] {
            let message = file_error(cloud(text));
            assert_eq!(
                message,
                format!(
                    "'users.csv': a quote (\") on line {line} is not closed, so everything from \
                     there to the end of the file is one value; close it, or write a quote \
                     inside a quoted value as \"\""
                ),
                "{text:?}"
            );
        }
        // Closed quotes, escaped quotes and a quote inside an unquoted value are fine.
        for text in [
            "sub\nanna\n\"bjorn\"",
            "sub\nanna\n\"bj\"\"orn\"\n",
            "sub\nanna\n\"bjorn\"\"\"\n",
            "sub\nan\"na\nbjorn\n",
            "sub;name\nanna;\"A;\nB\"\r\n",
        ] {
            assert!(cloud(text).is_ok(), "{text:?}: {:?}", cloud(text));
        }
    }

    #[test]
    fn json_lines_keep_numbers_as_written_and_refuse_a_field_twice() {
        let rows = cloud_lines(
            "{\"sub\":12345678901234567890123,\"claim.id\":12345678901234567890123}\n\
             {\"sub\":1e2,\"claim.n\":1e2}\n",
        )
        .unwrap();
        assert_eq!(&*rows[0].id, "12345678901234567890123");
        // As --claim and a CSV cell read it: too big for 64 bits, so the digits as a string.
        assert_eq!(
            rows[0].claims[0].to_extra().value,
            json!("12345678901234567890123")
        );
        assert_eq!(&*rows[1].id, "1e2");
        assert_eq!(rows[1].claims[0].to_extra().value, json!(100.0));
        let bad = listed(cloud_lines("{\"sub\":\"anna\",\"sub\":\"bob\"}\n"));
        assert_eq!(
            bad,
            ["'users.csv' line 1: field 'sub' is there twice; keep one"]
        );
    }

    #[test]
    fn a_huge_value_is_quoted_in_part() {
        let text = format!("sub,email_verified\nanna,{}\n", "x".repeat(100_000));
        let bad = listed(cloud(&text));
        assert!(bad[0].len() < 300, "{}", bad[0].len());
        assert!(
            bad[0].contains("xxx...' is not true or false"),
            "{}",
            bad[0]
        );
    }

    #[test]
    fn format_follows_the_file_name() {
        assert_eq!(
            TableFormat::from_file_name("u.JSONL"),
            TableFormat::JsonLines
        );
        assert_eq!(
            TableFormat::from_file_name("u.ndjson"),
            TableFormat::JsonLines
        );
        assert_eq!(TableFormat::from_file_name("u.csv"), TableFormat::Csv);
        assert_eq!(TableFormat::from_file_name("-"), TableFormat::Csv);
    }
}
