//! What a user's startup files already say about the key, outside dashkey's blocks.
//!
//! The documentation's own procedure leaves `export DASHSCOPE_API_KEY='...'` in `~/.bashrc`.
//! Such a line may override dashkey's value (it is read later), may be overridden by it,
//! and, worst, puts the key in a file that is often published. This module finds those
//! lines, says which one wins, and can cut them out for `set --migrate`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::shell::block;
use crate::shell::{self, Probes};
use crate::{Platform, vars};

/// A line outside dashkey's block that assigns one of the DashScope variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// The variable assigned.
    pub name: &'static str,
    /// Whether the line holds a literal value (not a reference like `$(cat …)`).
    pub literal: bool,
}

/// The variables whose assignments matter: the key and the endpoints.
const WATCHED: [&str; 5] = [
    vars::API_KEY,
    vars::HTTP_BASE_URL,
    vars::WEBSOCKET_BASE_URL,
    vars::COMPATIBLE_BASE_URL,
    vars::API_KEY_FILE_PATH,
];

/// What every watched name contains (checked by a test).
pub(crate) const WATCHED_PART: &str = "DASHSCOPE_";

/// The files to look in: every startup file a shell may read, plus fish's `config.fish`.
pub fn candidate_files(platform: &Platform, probes: &Probes) -> Vec<PathBuf> {
    let mut files = shell::all_hook_candidates(platform, probes);
    if let Some(config) = platform.config_dir() {
        files.push(config.join(shell::names::FISH_CONFIG));
    }
    shell::dedup(files)
}

/// Finds every assignment outside dashkey's blocks in the given files. Unreadable and
/// non-UTF-8 files are skipped: this is a report, not an edit.
pub fn find(files: &[PathBuf]) -> Vec<Assignment> {
    let mut found = Vec::new();
    for path in files {
        let Ok(text) = crate::world::read::read_text(path, crate::world::read::Cap::STARTUP) else {
            continue;
        };
        for (number, line) in block::lines_outside(&text) {
            if let Some((name, literal)) = parse_assignment(line) {
                found.push(Assignment { path: path.clone(), line: number, name, literal });
            }
        }
    }
    found
}

/// Recognises an assignment in any of the dialects, ignoring comments.
pub fn parse_assignment(line: &str) -> Option<(&'static str, bool)> {
    let (name, rest) = split_assignment(line)?;
    let value = rest.trim().trim_matches(['\'', '"']);
    let literal = !value.is_empty() && !value.contains(['$', '`', '(']);
    Some((name, literal))
}

/// The value a literal assignment gives its variable, unquoted as the shell would
/// ([`shell::unquote_word`]). `None` for lines that are not assignments or whose value is computed (`$(…)`,
/// `$OTHER`).
pub fn literal_value(line: &str) -> Option<String> {
    let (_, rest) = split_assignment(line)?;
    shell::unquote_word(rest.trim_start())
}

/// The variable an assignment line sets, and the text after the assignment operator.
fn split_assignment(line: &str) -> Option<(&'static str, &str)> {
    let text = line.trim();
    if text.starts_with('#') {
        return None;
    }
    // Every watched name contains this: most lines are ruled out by one search.
    if !text.contains(WATCHED_PART) {
        return None;
    }
    patterns()
        .iter()
        .find_map(|(name, pattern)| Some((*name, text.strip_prefix(pattern.as_str())?)))
}

/// The beginnings of an assignment line, per variable, in the order they are tried; built
/// once (a startup file of 20,000 lines must not build them 20,000 times).
fn patterns() -> &'static [(&'static str, String)] {
    static PATTERNS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        WATCHED
            .iter()
            .flat_map(|name| {
                [
                    format!("export {name}="),
                    format!("{name}="),
                    format!("declare -x {name}="),
                    format!("typeset -x {name}="),
                    format!("set -gx {name} "),
                    format!("set -x {name} "),
                    format!("set -Ux {name} "),
                    format!("set -xg {name} "),
                    format!("setenv {name} "),
                    format!("$env.{name} ="),
                    format!("$env.{name}="),
                    format!("$env:{name} ="),
                    format!("$env:{name}="),
                ]
                .map(|pattern| (*name, pattern))
            })
            .collect()
    })
}

/// The file without the given lines (1-based), for `set --migrate`. Line endings of the
/// remaining lines are untouched.
pub fn remove_lines(text: &str, lines: &[usize]) -> String {
    let lines: HashSet<usize> = lines.iter().copied().collect();
    text.split_inclusive('\n')
        .enumerate()
        .filter(|(index, _)| !lines.contains(&(index + 1)))
        .map(|(_, line)| line)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_assignments_in_every_dialect() {
        for line in [
            "export DASHSCOPE_API_KEY='sk-1'",
            "  DASHSCOPE_API_KEY=sk-1",
            "set -gx DASHSCOPE_API_KEY sk-1",
            "setenv DASHSCOPE_API_KEY sk-1",
            "$env.DASHSCOPE_API_KEY = 'sk-1'",
            "$env:DASHSCOPE_API_KEY = 'sk-1'",
        ] {
            assert_eq!(parse_assignment(line), Some((vars::API_KEY, true)), "{line}");
        }
        assert_eq!(
            parse_assignment("export DASHSCOPE_API_KEY=$(cat ~/.key)"),
            Some((vars::API_KEY, false))
        );
        assert_eq!(parse_assignment("# export DASHSCOPE_API_KEY=sk-1"), None);
        assert_eq!(parse_assignment("export OTHER=1"), None);
    }

    #[test]
    fn literal_values_are_unquoted_like_the_shell_does() {
        let value = |line: &str| literal_value(line);
        assert_eq!(value("export DASHSCOPE_API_KEY='sk-1'").as_deref(), Some("sk-1"));
        assert_eq!(value("export DASHSCOPE_API_KEY=\"sk-1\" # old").as_deref(), Some("sk-1"));
        assert_eq!(
            value("DASHSCOPE_API_KEY=sk-1; export DASHSCOPE_API_KEY").as_deref(),
            Some("sk-1")
        );
        assert_eq!(value("set -gx DASHSCOPE_API_KEY sk-1").as_deref(), Some("sk-1"));
        assert_eq!(value("export DASHSCOPE_API_KEY='a'\"b\"").as_deref(), Some("ab"));
        assert_eq!(value("export DASHSCOPE_API_KEY=").as_deref(), Some(""));
        assert_eq!(value("export DASHSCOPE_API_KEY=$(cat ~/.k)"), None);
        assert_eq!(value("export DASHSCOPE_API_KEY=\"$KEY\""), None);
        assert_eq!(value("export OTHER=1"), None);
    }

    #[test]
    fn every_watched_name_passes_the_quick_filter() {
        assert!(WATCHED.iter().all(|name| name.contains(WATCHED_PART)));
        assert_eq!(patterns().len(), WATCHED.len() * 13);
    }

    #[test]
    fn remove_lines_keeps_everything_else_byte_for_byte() {
        assert_eq!(remove_lines("a\r\nb\nc", &[2]), "a\r\nc");
    }
}
