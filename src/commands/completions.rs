//! Shell completion scripts. clap_complete writes them from the clap types that parse the
//! command line, so a new option or value is completed with no change here; this module only
//! works around what clap_complete 4.6 gets wrong or cannot say for qs-jwt. tests/it/completions.rs
//! runs bash, zsh and fish on the scripts, so each workaround can go once a clap_complete
//! upgrade makes it unneeded and those tests still pass.

use std::collections::HashSet;

use std::time::SystemTime;

use clap::{Arg, Command, CommandFactory, ValueHint};
use clap_complete::Shell;

use crate::cli::output::LogLevel;
use crate::cli::{Cli, CompletionsArgs};
use crate::commands::{Output, Run};

/// The name the scripts complete: the installed binary's.
const BIN_NAME: &str = "qs-jwt";

/// The value name `cli` gives every option parsed by its `parse_true_false`.
const TRUE_FALSE: &str = "true|false";

/// The completion script for `shell`, without a trailing newline.
pub fn script(shell: Shell) -> String {
    let mut command = completion_command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, BIN_NAME, &mut script);
    // clap_complete only writes the Rust strings it was given, so nothing is ever replaced.
    let script = String::from_utf8_lossy(&script);
    let script = match shell {
        Shell::Bash => fix_bash_case_labels(&script),
        Shell::Fish => add_fish_positional_values(&script, &command),
        Shell::PowerShell => add_powershell_values(&script, &command),
        _ => script.into_owned(),
    };
    script.trim_end().to_owned()
}

/// The command as the completion generator should see it; it never parses anything.
fn completion_command() -> Command {
    with_true_false_values(Cli::command())
}

/// Options that take true|false are parsed by a function (any letter case is accepted, as in
/// qs-jwt 1.x), so clap cannot list their values and no shell would offer them. Listing them
/// in `cli` instead would change `--help` and the error text for a wrong value.
fn with_true_false_values(command: Command) -> Command {
    command
        .mut_args(|arg| {
            if takes_true_false(&arg) {
                arg.value_parser(["true", "false"])
            } else {
                arg
            }
        })
        .mut_subcommands(with_true_false_values)
}

fn takes_true_false(arg: &Arg) -> bool {
    arg.get_possible_values().is_empty()
        && arg
            .get_value_names()
            .is_some_and(|names| names.iter().any(|name| name == TRUE_FALSE))
}

/// clap_complete's bash script (clap-rs/clap#6421, open in 4.6.11) walks the words typed and
/// sets `cmd="qs__jwt__subcmd__decode"` (the `-` of the binary name made `__`), but labels the
/// branch that completes decode's options `qs__subcmd__jwt__subcmd__decode)` (the `-` made
/// `__subcmd__`): no branch after a subcommand ever matches, so nothing after one is completed.
///
/// This renames each branch label the walk never assigns to the name it does assign. It goes
/// by what the script itself contains rather than patching one known output, so it is a no-op
/// if upstream makes the two names agree either way. (Generating under a name without the `-`
/// would avoid the bug, but renaming that name back to `qs-jwt` in `complete` and wherever
/// else the script spells it depends on more of the script's shape than this does.)
/// Drop it when #6421 is fixed.
fn fix_bash_case_labels(script: &str) -> String {
    let walk_prefix = BIN_NAME.replace('-', "__");
    let label_prefix = BIN_NAME.replace('-', "__subcmd__");
    let assigned: HashSet<&str> = script
        .lines()
        .filter_map(|line| line.trim().strip_prefix("cmd=\"")?.strip_suffix('"'))
        .collect();
    let mut fixed = String::with_capacity(script.len());
    for line in script.split_inclusive('\n') {
        let renamed = line
            .trim()
            .strip_suffix(')')
            .filter(|label| !assigned.contains(label))
            .and_then(|label| Some((label, label.strip_prefix(&label_prefix)?)))
            .map(|(label, rest)| (label, format!("{walk_prefix}{rest}")))
            .filter(|(_, name)| assigned.contains(name.as_str()));
        match renamed {
            Some((label, name)) => fixed.push_str(&line.replacen(label, &name, 1)),
            None => fixed.push_str(line),
        }
    }
    fixed
}

/// clap_complete's fish generator completes options only, not positional arguments (its docs
/// say so), so `qs-jwt completions <TAB>` would offer no shell. This adds a line per
/// subcommand positional that has a list of values, offered until one of them is typed.
fn add_fish_positional_values(script: &str, command: &Command) -> String {
    let mut script = script.trim_end().to_owned();
    for (path, sub) in commands_with_paths(command) {
        if path.is_empty() {
            continue;
        }
        for positional in sub.get_positionals() {
            let values = visible_values(positional);
            // A value fish would have to unquote would need two layers of quoting (the line,
            // then complete's own expansion of -a); qs-jwt has none, and the fish tests would
            // show one missing.
            if values.is_empty() || !values.iter().all(|value| is_plain_word(value)) {
                continue;
            }
            let seen: Vec<String> = path
                .iter()
                .map(|name| format!("__fish_seen_subcommand_from {name}"))
                .collect();
            let values = values.join(" ");
            script.push_str(&format!(
                "\ncomplete -c {BIN_NAME} -n \"{}; and not __fish_seen_subcommand_from {values}\" -f -a \"{values}\"",
                seen.join("; and "),
            ));
        }
    }
    script
}

/// clap_complete's PowerShell script completes subcommand and option names only: no value
/// lists, and option names even after a file option. This puts a block before its own
/// `switch`: the word before the cursor, after the subcommands typed, picks an option's values
/// (or a subcommand's first positional's, the word before being the subcommand), or nothing
/// after a file option, so that PowerShell falls back to completing paths. If clap_complete
/// changes the line this goes before, nothing is added and tests/it/completions.rs fails.
fn add_powershell_values(script: &str, command: &Command) -> String {
    const ANCHOR: &str = "    $completions = @(switch ($command) {";
    let Some((before, after)) = script.split_once(ANCHOR) else {
        return script.to_owned();
    };
    let mut cases = String::new();
    for (path, sub) in commands_with_paths(command) {
        let prefix: String = std::iter::once(BIN_NAME)
            .chain(path.iter().copied())
            .collect::<Vec<_>>()
            .join(";");
        for option in sub.get_opts() {
            let result = match visible_values(option) {
                values if !values.is_empty() => format!("$values = {}", powershell_list(&values)),
                _ if takes_path(option) => "return".to_owned(),
                _ => continue,
            };
            for long in option.get_long_and_visible_aliases().unwrap_or_default() {
                let key = powershell_quote(&format!("{prefix};--{long}"));
                cases.push_str(&format!("        {key} {{ {result} }}\n"));
            }
        }
        let first_values = sub.get_positionals().next().map(visible_values);
        if let (Some(name), Some(values)) = (path.last(), first_values)
            && !values.is_empty()
        {
            let key = powershell_quote(&format!("{prefix};{name}"));
            let values = powershell_list(&values);
            cases.push_str(&format!("        {key} {{ $values = {values} }}\n"));
        }
    }
    let block = [
        "    # Added by qs-jwt: value lists, and paths after a file option.\n",
        "    $previous = ''\n",
        "    foreach ($element in $commandElements) {\n",
        "        if ($element.Extent.EndOffset -lt $cursorPosition) { $previous = $element.Extent.Text }\n",
        "    }\n",
        "    $values = $null\n",
        "    switch (\"$command;$previous\") {\n",
        &cases,
        "    }\n",
        "    if ($null -ne $values) {\n",
        "        return $values.Where{ $_ -like \"$wordToComplete*\" } | ForEach-Object {\n",
        "            [CompletionResult]::new($_, $_, [CompletionResultType]::ParameterValue, $_)\n",
        "        }\n",
        "    }\n",
        "\n",
    ]
    .concat();
    format!("{before}{block}{ANCHOR}{after}")
}

fn powershell_list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|value| powershell_quote(value)).collect();
    format!("@({})", quoted.join(", "))
}

/// A PowerShell single-quoted string: only `'` is special, written twice.
fn powershell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Every command in the tree with the subcommand names that lead to it; the root's is empty.
fn commands_with_paths(command: &Command) -> Vec<(Vec<&str>, &Command)> {
    let mut found = vec![(Vec::new(), command)];
    let mut next = 0;
    while let Some((path, cmd)) = found.get(next).cloned() {
        for sub in cmd.get_subcommands() {
            let mut sub_path = path.clone();
            sub_path.push(sub.get_name());
            found.push((sub_path, sub));
        }
        next += 1;
    }
    found
}

fn visible_values(arg: &Arg) -> Vec<String> {
    arg.get_possible_values()
        .iter()
        .filter(|value| !value.is_hide_set())
        .map(|value| value.get_name().to_owned())
        .collect()
}

fn takes_path(arg: &Arg) -> bool {
    matches!(
        arg.get_value_hint(),
        ValueHint::FilePath | ValueHint::AnyPath | ValueHint::DirPath
    )
}

fn is_plain_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Run for CompletionsArgs {
    fn log_level(&self) -> LogLevel {
        LogLevel::Info
    }

    fn run(&self, _now: SystemTime) -> anyhow::Result<Output> {
        Ok(Output::product(script(self.shell)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bash_fix_renames_only_labels_the_walk_never_sets() {
        // The shape of clap_complete 4.6.11's script, cut down.
        let buggy = r#"
    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
        case "${cmd},${i}" in
            ",$1")
                cmd="qs__jwt"
                ;;
            qs__jwt,decode)
                cmd="qs__jwt__subcmd__decode"
                ;;
    case "${cmd}" in
        qs__jwt)
        qs__subcmd__jwt__subcmd__decode)
            case "${prev}" in
                --check)
"#;
        let fixed = fix_bash_case_labels(buggy);
        assert_eq!(
            fixed,
            buggy.replace(
                "qs__subcmd__jwt__subcmd__decode)",
                "qs__jwt__subcmd__decode)"
            )
        );
    }

    #[test]
    fn the_bash_fix_is_a_no_op_when_the_names_agree() {
        // Upstream might fix #6421 by making the walk use the labels' spelling instead.
        let agreeing = "    cmd=\"qs__subcmd__jwt__subcmd__decode\"\n        qs__subcmd__jwt__subcmd__decode)\n";
        assert_eq!(fix_bash_case_labels(agreeing), agreeing);
        let agreeing = "    cmd=\"qs__jwt__subcmd__decode\"\n        qs__jwt__subcmd__decode)\n";
        assert_eq!(fix_bash_case_labels(agreeing), agreeing);
    }

    #[test]
    fn true_false_options_get_their_two_values_for_completion_only() {
        let command = completion_command();
        let values = |sub: &str, arg: &str| -> Vec<String> {
            command
                .find_subcommand(sub)
                .and_then(|sub| sub.get_arguments().find(|a| a.get_id() == arg))
                .map(|a| {
                    a.get_possible_values()
                        .iter()
                        .map(|v| v.get_name().to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(values("create-qseow", "cert_create"), ["true", "false"]);
        assert_eq!(
            values("create-qscloud", "useremail_verified"),
            ["true", "false"]
        );
        assert_eq!(values("create-qseow", "output"), ["token", "json"]);
        assert!(values("create-qseow", "userdir").is_empty());
    }
}
