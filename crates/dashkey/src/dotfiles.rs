//! What a user's startup files already say about the key, outside dashkey's blocks.
//!
//! The documentation's own procedure leaves `export DASHSCOPE_API_KEY='...'` in `~/.bashrc`.
//! Such a line may override dashkey's value (it is read later), may be overridden by it,
//! and, worst, puts the key in a file that is often published. This module finds those
//! lines, says which one wins, and can cut them out for `set --migrate`.

use std::path::{Path, PathBuf};

use crate::block;
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
    /// Whether this line is read after dashkey's hook, so its value wins.
    pub overrides_dashkey: bool,
}

/// The variables whose assignments matter: the key and the endpoints.
const WATCHED: [&str; 5] = [
    vars::API_KEY,
    vars::HTTP_BASE_URL,
    vars::WEBSOCKET_BASE_URL,
    vars::COMPATIBLE_BASE_URL,
    vars::API_KEY_FILE_PATH,
];

/// The files to look in: every startup file a shell may read, plus fish's `config.fish`.
pub fn candidate_files(platform: &Platform, probes: &Probes) -> Vec<PathBuf> {
    let mut files = shell::all_hook_candidates(platform, probes);
    if let Some(config) = platform.config_dir() {
        files.push(config.join("fish/config.fish"));
    }
    shell::dedup(files)
}

/// Finds every assignment outside dashkey's blocks in the given files. Unreadable and
/// non-UTF-8 files are skipped: this is a report, not an edit.
pub fn find(files: &[PathBuf]) -> Vec<Assignment> {
    let texts: Vec<(PathBuf, String)> = files
        .iter()
        .filter_map(|path| Some((path.clone(), std::fs::read_to_string(path).ok()?)))
        .collect();
    find_in(&texts)
}

/// Like [`find`], on given contents: `set` passes the files as they will be after its
/// edit, so "which one wins" describes the result, not the past.
pub fn find_in(texts: &[(PathBuf, String)]) -> Vec<Assignment> {
    let spans: Vec<Option<block::Span>> =
        texts.iter().map(|(_, text)| block::find(text).ok().flatten()).collect();
    let hooks: Vec<(PathBuf, Option<usize>)> = texts
        .iter()
        .zip(&spans)
        .map(|((path, _), span)| (path.clone(), span.map(|s| s.line)))
        .collect();
    let mut found = Vec::new();
    for ((path, text), span) in texts.iter().zip(&spans) {
        let mut offset = 0;
        for (index, line) in text.split_inclusive('\n').enumerate() {
            let inside = span.is_some_and(|s| offset >= s.start && offset < s.end);
            offset += line.len();
            if inside {
                continue;
            }
            if let Some((name, literal)) = parse_assignment(line) {
                let number = index + 1;
                found.push(Assignment {
                    path: path.clone(),
                    line: number,
                    name,
                    literal,
                    overrides_dashkey: overrides(path, number, span.map(|s| s.line), &hooks),
                });
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

/// The value a literal assignment gives its variable, unquoted as the shell would: single
/// quotes keep everything, double quotes take `\` escapes, a bare word ends at whitespace or
/// `;`. `None` for lines that are not assignments or whose value is computed (`$(…)`,
/// `$OTHER`).
pub fn literal_value(line: &str) -> Option<String> {
    let (_, rest) = split_assignment(line)?;
    let mut chars = rest.trim_start().chars().peekable();
    let mut value = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    value.push(c);
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => value.extend(chars.next()),
                        '$' | '`' => return None,
                        c => value.push(c),
                    }
                }
            }
            '\\' => value.extend(chars.next()),
            '$' | '`' | '(' => return None,
            c if c.is_whitespace() || c == ';' => break,
            c => value.push(c),
        }
    }
    Some(value)
}

/// The variable an assignment line sets, and the text after the assignment operator.
fn split_assignment(line: &str) -> Option<(&'static str, &str)> {
    let text = line.trim();
    if text.starts_with('#') {
        return None;
    }
    for name in WATCHED {
        let patterns = [
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
        ];
        if let Some(rest) = patterns.iter().find_map(|p| text.strip_prefix(p.as_str())) {
            return Some((name, rest));
        }
    }
    None
}

/// Read-order rank of a startup file within its family, and the family. Later files win.
fn rank(path: &Path) -> Option<(&'static str, u8)> {
    let name = path.file_name()?.to_str()?;
    Some(match name {
        ".zshenv" => ("zsh", 0),
        ".zprofile" => ("zsh", 1),
        ".zshrc" => ("zsh", 2),
        ".zlogin" => ("zsh", 3),
        ".profile" | ".bash_profile" | ".bash_login" => ("sh", 0),
        ".bashrc" | ".kshrc" | ".mkshrc" => ("sh", 1),
        ".tcshrc" | ".cshrc" => ("csh", 0),
        ".login" => ("csh", 1),
        "dashkey.fish" => ("fish", 0),
        "config.fish" => ("fish", 1),
        _ => return None,
    })
}

fn overrides(
    path: &Path,
    line: usize,
    block_line: Option<usize>,
    files: &[(PathBuf, Option<usize>)],
) -> bool {
    if let Some(block_line) = block_line {
        return line > block_line;
    }
    let Some((family, own_rank)) = rank(path) else { return true };
    // The hook of the same family that this shell reads: if it is read earlier, this wins.
    let hook_ranks: Vec<u8> = files
        .iter()
        .filter(|(_, block)| block.is_some())
        .filter_map(|(p, _)| rank(p))
        .filter(|(f, _)| *f == family)
        .map(|(_, r)| r)
        .collect();
    hook_ranks.is_empty() || hook_ranks.iter().all(|&hook| hook < own_rank)
}

/// The file without the given lines (1-based), for `set --migrate`. Line endings of the
/// remaining lines are untouched.
pub fn remove_lines(text: &str, lines: &[usize]) -> String {
    text.split_inclusive('\n')
        .enumerate()
        .filter(|(index, _)| !lines.contains(&(index + 1)))
        .map(|(_, line)| line)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
    fn lines_after_the_block_override_and_lines_before_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let rc = dir.path().join(".bashrc");
        let block =
            block::upsert("export DASHSCOPE_API_KEY='sk-old'\n", &["x".to_string()]).unwrap();
        fs::write(&rc, format!("{block}export DASHSCOPE_API_KEY='sk-new'\n")).unwrap();
        let found = find(std::slice::from_ref(&rc));
        assert_eq!(found.len(), 2);
        assert!(!found[0].overrides_dashkey && found[1].overrides_dashkey);
        assert_eq!((found[0].line, found[1].line), (1, 5));
    }

    #[test]
    fn bashrc_overrides_a_hook_in_profile() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join(".profile");
        let bashrc = dir.path().join(".bashrc");
        fs::write(&profile, block::upsert("", &["x".to_string()]).unwrap()).unwrap();
        fs::write(&bashrc, "export DASHSCOPE_API_KEY=sk-1\n").unwrap();
        let found = find(&[profile, bashrc]);
        assert!(found[0].overrides_dashkey);
    }

    #[test]
    fn remove_lines_keeps_everything_else_byte_for_byte() {
        assert_eq!(remove_lines("a\r\nb\nc", &[2]), "a\r\nc");
    }
}
