//! The `.env` files a project's clients read, and the values of this environment that win
//! over them.
//!
//! Each loader finds its file its own way (see the shared reference `clients.md`):
//!
//! - python-dotenv's `load_dotenv()` with no path runs `find_dotenv()`: `.env` in the calling
//!   file's directory, then each parent up to `/`; a literal path argument is taken as given,
//!   from the file's directory;
//! - Node's `dotenv` (`require('dotenv').config()`, `import 'dotenv/config'`) reads `.env` in
//!   the working directory (taken to be the project's root), and `node --env-file=FILE` in a
//!   `package.json` script reads FILE beside that `package.json`;
//! - Qwen Code (when the project or the home has a `.qwen` directory) takes the first
//!   `.qwen/.env` or `.env` walking up from the working directory.
//!
//! None of them overrides a variable the environment already has (python-dotenv's default
//! `override=False`, Node's `--env-file` and `dotenv` alike, Qwen Code for a non-empty value),
//! so a value in this shell that differs from the file's is the one the program gets.

use std::path::{Path, PathBuf};

use crate::key::{ApiKey, is_secret_name};
use crate::vars;

use super::walk::{self, Lang, Skip, Source};
use super::{Finding, Scan, Severity, describe, id};

/// Variables whose `.env` value a shell value hides, worth saying.
const WATCHED: [&str; 12] = [
    vars::API_KEY,
    vars::API_KEY_FILE_PATH,
    vars::HTTP_BASE_URL,
    vars::WEBSOCKET_BASE_URL,
    vars::COMPATIBLE_BASE_URL,
    vars::API_REGION,
    vars::WORKSPACE_ID,
    "DASHSCOPE_BASE_URL",
    "DASHSCOPE_REGION",
    "DASHSCOPE_WORKSPACE",
    vars::OPENAI_API_KEY,
    vars::OPENAI_BASE_URL,
];

/// A `.env` file that some client of the project reads.
#[derive(Debug, Clone)]
pub(super) struct DotEnv {
    pub source: Source,
    /// Who reads it (`python-dotenv (load_dotenv in app.py)`).
    pub readers: Vec<String>,
}

/// One `NAME=value` line.
#[derive(Debug)]
pub(crate) struct Assignment {
    pub name: String,
    pub value: String,
    /// 0-based.
    pub line: usize,
}

/// Parses `.env` syntax as python-dotenv and Node's dotenv read it: `[export ]NAME=value`,
/// single or double quotes, `#` comments after an unquoted value.
pub(crate) fn parse(text: &str) -> Vec<Assignment> {
    let mut out = Vec::new();
    for (line, raw) in text.lines().enumerate() {
        let t = raw.trim();
        let t = t.strip_prefix("export ").map_or(t, str::trim_start);
        if t.starts_with('#') {
            continue;
        }
        let Some((name, value)) = t.split_once('=') else { continue };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let value = value.trim();
        let value = match value.chars().next() {
            Some(q @ ('"' | '\'')) => {
                value[1..].split_once(q).map_or(&value[1..], |(inner, _)| inner).to_string()
            }
            _ => value.split(" #").next().unwrap_or("").trim_end().to_string(),
        };
        out.push(Assignment { name: name.to_string(), value, line });
    }
    out
}

/// Finds the `.env` files the project's clients read, reading those the walk did not.
pub(super) fn locate(
    root: &Path,
    home: Option<&Path>,
    sources: &[Source],
    skipped: &mut Vec<(PathBuf, Skip)>,
) -> Vec<DotEnv> {
    let mut found: Vec<(PathBuf, String)> = Vec::new();
    for source in sources {
        let name = source.path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        let shown = source.path.strip_prefix(root).unwrap_or(&source.path).display().to_string();
        match source.lang {
            Lang::Python => {
                for argument in load_dotenv_arguments(&source.text) {
                    let path = match argument {
                        Some(literal) => Some(source.dir().join(literal)),
                        None => walk_up(source.dir(), &[".env"]),
                    };
                    if let Some(path) = path {
                        found.push((path, format!("python-dotenv (load_dotenv in {shown})")));
                    }
                }
            }
            Lang::JavaScript if uses_node_dotenv(&source.text) => {
                found.push((root.join(".env"), format!("Node's dotenv (in {shown})")));
            }
            Lang::Json if name == "package.json" => {
                for file in env_file_flags(&source.text) {
                    found.push((source.dir().join(file), format!("node --env-file ({shown})")));
                }
            }
            _ => {}
        }
    }
    let qwen = root.join(".qwen").is_dir() || home.is_some_and(|h| h.join(".qwen").is_dir());
    if qwen && let Some(path) = walk_up(root, &[".qwen/.env", ".env"]) {
        found.push((path, "Qwen Code".to_string()));
    }
    let mut out: Vec<DotEnv> = Vec::new();
    for (path, reader) in found {
        if let Some(known) = out.iter_mut().find(|d| d.source.path == path) {
            if !known.readers.contains(&reader) {
                known.readers.push(reader);
            }
            continue;
        }
        let source = match sources.iter().find(|s| s.path == path) {
            Some(source) => source.clone(),
            None if path.exists() => match walk::read_source(&path) {
                Ok(mut source) => {
                    source.lang = Lang::Env;
                    source
                }
                Err(skip) => {
                    skipped.push((path, skip));
                    continue;
                }
            },
            None => continue,
        };
        out.push(DotEnv { source, readers: vec![reader] });
    }
    out
}

/// The first of `names` that exists in `dir` or a parent.
fn walk_up(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    dir.ancestors().find_map(|d| names.iter().map(|n| d.join(n)).find(|p| p.is_file()))
}

/// The path argument of every `load_dotenv(...)` call: `None` for the default search.
pub(super) fn load_dotenv_arguments(text: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with('#') {
            continue;
        }
        let Some(at) = t.find("load_dotenv(") else { continue };
        let args = &t[at + "load_dotenv(".len()..];
        let first = args.trim_start();
        let literal = match first.chars().next() {
            Some(q @ ('"' | '\'')) => first[1..].split_once(q).map(|(s, _)| s.to_string()),
            _ => None,
        };
        // `load_dotenv(find_dotenv())` and `load_dotenv(override=True)` search as the default.
        out.push(literal);
    }
    out
}

fn uses_node_dotenv(text: &str) -> bool {
    text.contains("require('dotenv')")
        || text.contains("require(\"dotenv\")")
        || text.contains("dotenv/config")
        || text.contains("from 'dotenv'")
        || text.contains("from \"dotenv\"")
}

/// The files of `--env-file=FILE` / `--env-file FILE` in a `package.json`'s scripts.
fn env_file_flags(json: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = json;
    while let Some(at) = rest.find("--env-file") {
        rest = &rest[at + "--env-file".len()..];
        let value = rest.strip_prefix('=').or_else(|| rest.strip_prefix(' '));
        let Some(value) = value else { continue };
        let file: String =
            value.chars().take_while(|c| !c.is_whitespace() && !"\"'&;|".contains(*c)).collect();
        if !file.is_empty() && !out.contains(&file) {
            out.push(file);
        }
    }
    out
}

impl Scan<'_> {
    pub(super) fn check_dotenv(&self, out: &mut Vec<Finding>) {
        for file in &self.dotenvs {
            for assignment in parse(&file.source.text) {
                if !WATCHED.contains(&assignment.name.as_str()) {
                    continue;
                }
                let name = &assignment.name;
                let Some(shell) = self.platform.var(name) else { continue };
                if shell == assignment.value {
                    continue;
                }
                let show = |value: &str| {
                    if is_secret_name(name) {
                        describe(&ApiKey::verbatim(value))
                    } else {
                        format!("'{value}'")
                    }
                };
                let at = format!(
                    "{}{}",
                    self.show(&file.source.path),
                    file.source.place(assignment.line)
                );
                out.push(
                    Finding::new(
                        id::DOTENV,
                        Severity::Warn,
                        format!("{at} sets {name}, but this environment's value wins over it"),
                    )
                    .detail(format!(
                        "{} read this file without overriding what is already set: they get {} \
                         here, not the file's {}.",
                        file.readers.join(", "),
                        show(shell),
                        show(&assignment.value)
                    ))
                    .fix(format!(
                        "make them agree: delete the line from {} or change {name} where it is set \
                         (dashkey status shows where)",
                        self.show(&file.source.path)
                    )),
                );
            }
        }
    }
}
