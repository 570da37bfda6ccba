//! Qlik's half: its published rules (`rules`), a token checked against them (`check`). Imports
//! neither the command line nor the commands.

pub mod check;
pub mod rules;
