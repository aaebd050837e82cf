//! The walk: which files of a project are read, and the text of each.
//!
//! It walks like ripgrep (the `ignore` crate): `.gitignore`, `.ignore` and git's exclude files
//! are respected, and hidden files are skipped, except `.env` files (`.env`, `.env.local`…),
//! which hold exactly what this scan looks for. Directories no project's own code lives in
//! are never entered: `node_modules`, virtual environments (`.venv`, `venv`, or any directory
//! holding a `pyvenv.cfg`), `target`, `dist`, `build`, `__pycache__`.
//!
//! Symbolic links are not followed, as ripgrep does by default: a link to a regular file is
//! read, a link to a directory is noted and not entered, so a link loop can never make the
//! walk go round. Every file is read through `world::read` (a FIFO or a device is never
//! opened, nothing blocks), files over [`MAX_FILE`] are not read, and a file with a NUL byte
//! in its first 8 KiB is binary and passed over; each becomes a note.
//!
//! Notebooks (`.ipynb`) are JSON: only their code cells are scanned, joined in order (the
//! order Jupyter's "Run all" executes them), and a place in one is shown as
//! `analysis.ipynb cell 3, line 2`, cells counted from 1 over all cells, as the notebook
//! lists them.

use std::path::{Path, PathBuf};

use ignore::WalkBuilder;

use super::{Finding, Scan, Severity, id};
use crate::world::read::{self, Cap, Problem, Refusal};

/// Files larger than this are not read: source and configuration files are a few KiB, and
/// a bundle or data file of megabytes holds no configuration a person wrote.
pub const MAX_FILE: u64 = 2 << 20;

/// Notebooks carry their outputs (images in base64), so they get more room.
const MAX_NOTEBOOK: u64 = 32 << 20;

/// How much of a file decides that it is binary (as git and ripgrep do).
const SNIFF: usize = 8 << 10;

/// Directories that hold other people's code or build output.
const SKIP_DIRS: [&str; 8] =
    ["node_modules", ".venv", "venv", "target", "dist", "build", "__pycache__", ".tox"];

/// The language of a file, from its name: what its lines can mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    Python,
    JavaScript,
    Java,
    /// `application.properties` and other `key=value` files.
    Properties,
    Yaml,
    Toml,
    Json,
    /// `.env` files.
    Env,
    /// Anything else that is text: scanned for keys only.
    Other,
}

impl Lang {
    fn of(name: &str) -> Lang {
        if name == ".env" || name.starts_with(".env.") || name.ends_with(".env") {
            return Lang::Env;
        }
        let ext = name.rsplit_once('.').map_or("", |(_, ext)| ext).to_ascii_lowercase();
        match ext.as_str() {
            "py" | "pyw" | "ipynb" => Lang::Python,
            "js" | "mjs" | "cjs" | "jsx" | "ts" | "mts" | "cts" | "tsx" => Lang::JavaScript,
            "java" | "kt" | "kts" | "groovy" | "scala" => Lang::Java,
            "properties" | "ini" | "cfg" | "conf" => Lang::Properties,
            "yml" | "yaml" => Lang::Yaml,
            "toml" => Lang::Toml,
            "json" => Lang::Json,
            _ => Lang::Other,
        }
    }

    /// The comment markers of a whole line.
    pub(super) fn is_comment(self, line: &str) -> bool {
        let t = line.trim_start();
        match self {
            Lang::Python | Lang::Yaml | Lang::Toml | Lang::Env => t.starts_with('#'),
            Lang::JavaScript | Lang::Java => {
                t.starts_with("//") || t.starts_with("/*") || t.starts_with('*')
            }
            Lang::Properties => t.starts_with('#') || t.starts_with('!') || t.starts_with(';'),
            Lang::Json | Lang::Other => false,
        }
    }
}

/// One file's text, with where each line came from.
#[derive(Debug, Clone)]
pub(super) struct Source {
    pub path: PathBuf,
    pub lang: Lang,
    pub text: String,
    /// For a notebook: the first line (0-based, in `text`) of each code cell, with the
    /// cell's number (1-based).
    pub cells: Option<Vec<(usize, usize)>>,
}

impl Source {
    /// Where line `index` (0-based) of `text` is: `12`, or `cell 3, line 2`.
    pub fn place(&self, index: usize) -> String {
        match &self.cells {
            None => format!(":{}", index + 1),
            Some(cells) => {
                let at = cells.iter().rposition(|(start, _)| *start <= index).unwrap_or(0);
                let (start, cell) = cells.get(at).copied().unwrap_or((0, 1));
                format!(" cell {cell}, line {}", index - start + 1)
            }
        }
    }

    pub fn is_notebook(&self) -> bool {
        self.cells.is_some()
    }

    /// The directory the file is in.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }
}

/// Why a file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Skip {
    Binary,
    TooLarge,
    /// Not a regular file: a FIFO, a socket, a device.
    NotRegular(&'static str),
    /// A link to a directory, not entered; `true` when it leads back above itself (a loop).
    LinkedDir(bool),
    /// The OS refused, or the file is not a notebook's JSON.
    Unreadable(String),
}

/// The result of the walk.
#[derive(Debug, Default)]
pub(super) struct Walked {
    pub sources: Vec<Source>,
    pub skipped: Vec<(PathBuf, Skip)>,
    /// Files looked at (read or skipped).
    pub files: usize,
}

/// Walks `root` and reads every text file.
pub(super) fn walk(root: &Path) -> Walked {
    let mut walked = Walked::default();
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .follow_links(false)
        .filter_entry(|entry| {
            let name = entry.file_name().to_string_lossy();
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            if entry.depth() == 0 {
                return true;
            }
            if is_dir {
                let skipped = name.starts_with('.') || SKIP_DIRS.contains(&name.as_ref());
                return !(skipped || entry.path().join("pyvenv.cfg").exists());
            }
            !name.starts_with('.') || Lang::of(&name) == Lang::Env
        })
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                let path = error_path(&error).unwrap_or_else(|| root.to_path_buf());
                walked.skipped.push((path, Skip::Unreadable(error.to_string())));
                continue;
            }
        };
        let Some(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            continue;
        }
        let path = entry.path().to_path_buf();
        walked.files += 1;
        if kind.is_symlink() && path.is_dir() {
            let loops = path.canonicalize().is_ok_and(|target| {
                path.parent()
                    .and_then(|p| p.canonicalize().ok())
                    .is_some_and(|p| p.starts_with(&target))
            });
            walked.skipped.push((path, Skip::LinkedDir(loops)));
            continue;
        }
        match read_source(&path) {
            Ok(source) => walked.sources.push(source),
            Err(skip) => walked.skipped.push((path, skip)),
        }
    }
    walked
}

fn error_path(error: &ignore::Error) -> Option<PathBuf> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

/// Reads one file as a [`Source`], or says why not.
pub(super) fn read_source(path: &Path) -> Result<Source, Skip> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let notebook = name.to_ascii_lowercase().ends_with(".ipynb");
    let cap = Cap(if notebook { MAX_NOTEBOOK } else { MAX_FILE });
    let bytes = read::read(path, cap).map_err(|e| match e.problem {
        Problem::Refused(Refusal::TooLarge(_)) => Skip::TooLarge,
        Problem::Refused(Refusal::NotRegular(what)) => Skip::NotRegular(what.describe()),
        Problem::Io(io) => Skip::Unreadable(io.to_string()),
        Problem::NotUtf8 => Skip::Binary,
    })?;
    if bytes[..bytes.len().min(SNIFF)].contains(&0) {
        return Err(Skip::Binary);
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if notebook {
        return notebook_source(path, &text);
    }
    Ok(Source { path: path.to_path_buf(), lang: Lang::of(&name), text, cells: None })
}

/// A notebook's code cells, joined, with the line each cell starts at.
fn notebook_source(path: &Path, json: &str) -> Result<Source, Skip> {
    let doc: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Skip::Unreadable(format!("not a notebook's JSON ({e})")))?;
    let mut text = String::new();
    let mut cells = Vec::new();
    let mut line = 0;
    let empty = Vec::new();
    let all = doc.get("cells").and_then(|c| c.as_array()).unwrap_or(&empty);
    for (n, cell) in all.iter().enumerate() {
        if cell.get("cell_type").and_then(|t| t.as_str()) != Some("code") {
            continue;
        }
        // `source` is a list of lines (each with its `\n`) or one string.
        let body: String = match cell.get("source") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(parts)) => {
                parts.iter().filter_map(|p| p.as_str()).collect()
            }
            _ => String::new(),
        };
        cells.push((line, n + 1));
        let body = body.strip_suffix('\n').unwrap_or(&body);
        text.push_str(body);
        text.push('\n');
        line += body.split('\n').count();
    }
    Ok(Source { path: path.to_path_buf(), lang: Lang::Python, text, cells: Some(cells) })
}

/// One note per reason, listing the files.
pub(super) fn skipped_findings(scan: &Scan<'_>, skipped: &[(PathBuf, Skip)]) -> Vec<Finding> {
    type Matches = fn(&Skip) -> bool;
    let reasons: [(&str, Matches); 5] = [
        ("binary", |s| *s == Skip::Binary),
        ("larger than the scan's cap", |s| *s == Skip::TooLarge),
        ("not regular files", |s| matches!(s, Skip::NotRegular(_))),
        ("links to directories, not followed", |s| matches!(s, Skip::LinkedDir(_))),
        ("unreadable", |s| matches!(s, Skip::Unreadable(_))),
    ];
    let mut out = Vec::new();
    for (reason, matches) in reasons {
        let group: Vec<&(PathBuf, Skip)> = skipped.iter().filter(|(_, s)| matches(s)).collect();
        if group.is_empty() {
            continue;
        }
        let shown: Vec<String> = group
            .iter()
            .take(5)
            .map(|(path, skip)| {
                let name = scan.show(path);
                match skip {
                    Skip::NotRegular(what) => format!("{name} ({what})"),
                    Skip::LinkedDir(true) => format!("{name} (a loop)"),
                    Skip::Unreadable(why) => format!("{name} ({why})"),
                    _ => name,
                }
            })
            .collect();
        let more = group.len().saturating_sub(5);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        out.push(
            Finding::new(
                id::SKIPPED,
                Severity::Info,
                format!("{} file(s) not read: {reason}", group.len()),
            )
            .detail(format!("{}{more}.", shown.join(", "))),
        );
    }
    out
}
