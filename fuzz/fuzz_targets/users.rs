//! The users file reader of `--users`: any text, as CSV and as JSON Lines, for both commands.
//! It answers with rows or the bad rows, never a panic, and what it lists is bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qs_jwt::qlik::rules::Profile;
use qs_jwt::users::{MAX_BAD_ROWS, TableError, TableFormat, TableRules, read_table};

fuzz_target!(|text: &str| {
    for profile in [Profile::Qscloud, Profile::Qseow] {
        for format in [TableFormat::Csv, TableFormat::JsonLines] {
            for default_userdir in [None, Some("DIR")] {
                let rules = TableRules {
                    profile,
                    default_userdir,
                    shared_claims: &["dept"],
                    file: "'users'",
                };
                match read_table(text.to_owned(), format, &rules) {
                    Ok(rows) => {
                        assert!(!rows.is_empty());
                        for row in &rows {
                            assert!(!row.id.is_empty());
                            assert_eq!(row.userdir.is_some(), profile == Profile::Qseow);
                        }
                    }
                    Err(TableError::Rows { listed, count }) => {
                        assert!(!listed.is_empty() && listed.len() <= MAX_BAD_ROWS);
                        assert!(count >= listed.len());
                    }
                    Err(TableError::File(message)) => assert!(!message.is_empty()),
                }
            }
        }
    }
});
