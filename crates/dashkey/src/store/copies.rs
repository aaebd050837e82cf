//! Every place a key can live, and what is in each.
//!
//! "I have five copies of the key and don't know which one wins" is a problem of inventory.
//! [`crate::store::scan`] lists each place an SDK or a shell may take the key from, reads
//! what is there without changing anything, and attaches the problems that make a copy
//! dangerous or useless: a key file other users can read, an empty value that shadows a good
//! file, a `~` that no SDK expands. This file holds what a copy found looks like, how a key
//! file is read for it (`file_copy`), and the copies in this process's environment; each
//! store reads its own place ([`crate::store::Store::found`]).

use std::io;
use std::path::PathBuf;

use crate::edit::fsx;
use crate::key::{ApiKey, ValueProblem};
use crate::platform::Platform;
use crate::resolve::{self, ReadFailure, Source};
use crate::vars;

/// Which kind of place a copy lives in.
/// Ordered as the SDKs look, which is the order [`crate::store::scan`] lists them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlaceKind {
    /// `DASHSCOPE_API_KEY` in this process's environment.
    Variable,
    /// The file named by `DASHSCOPE_API_KEY_FILE_PATH`.
    FilePathVariable,
    /// `~/.dashscope/api_key` under `$HOME` (the Python SDK's default file).
    SdkKeyFile,
    /// `~/.dashscope/api_key` under the JVM's `user.home`, when that is another directory.
    JavaKeyFile,
    /// dashkey's own `env.sh`, which new shells load through their startup-file hook.
    Dashkey,
    /// The OS keyring (`set --store keyring`), which `env.sh` reads through `dashkey env`.
    Keyring,
    /// The desktop session file (`environment.d`), read at the next login.
    DesktopSession,
}

impl PlaceKind {
    /// A stable identifier for scripts (`--json`).
    pub fn id(self) -> &'static str {
        match self {
            PlaceKind::Variable => "variable",
            PlaceKind::FilePathVariable => "key-file-path",
            PlaceKind::SdkKeyFile => "sdk-key-file",
            PlaceKind::JavaKeyFile => "java-key-file",
            PlaceKind::Dashkey => "dashkey",
            PlaceKind::Keyring => "keyring",
            PlaceKind::DesktopSession => "desktop-session",
        }
    }
}

/// A place and what it holds.
#[derive(Debug, Clone)]
pub struct KeyCopy {
    /// What kind of place.
    pub kind: PlaceKind,
    /// The file, for file places.
    pub path: Option<PathBuf>,
    /// What is there.
    pub state: CopyState,
    /// File permission bits, when it is a file that exists.
    pub mode: Option<u32>,
    /// What is wrong with it.
    pub problems: Vec<PlaceProblem>,
}

/// What a place holds.
#[derive(Debug, Clone)]
pub enum CopyState {
    /// Nothing: the variable is unset or the file does not exist.
    Absent,
    /// A value, as the SDKs would read it (files: whole content, stripped).
    Present(ApiKey),
    /// The file exists but cannot be read.
    Unreadable(ReadFailure),
}

impl KeyCopy {
    /// The value, when there is one.
    pub fn value(&self) -> Option<&ApiKey> {
        match &self.state {
            CopyState::Present(key) => Some(key),
            CopyState::Absent | CopyState::Unreadable(_) => None,
        }
    }

    /// True when this copy is the source an SDK resolution chose.
    pub fn is_source(&self, source: &Source) -> bool {
        match (self.kind, source) {
            (PlaceKind::Variable, Source::Variable) => true,
            (PlaceKind::FilePathVariable, Source::FilePathVariable { .. }) => true,
            (PlaceKind::SdkKeyFile | PlaceKind::JavaKeyFile, Source::DefaultFile { path }) => {
                self.path.as_deref() == Some(path.as_path())
            }
            _ => false,
        }
    }
}

/// Something wrong with a place or its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceProblem {
    /// The value itself is wrong.
    Value(ValueProblem),
    /// Other users can read the file.
    ReadableByOthers {
        /// The file's mode.
        mode: u32,
    },
    /// The file has more than one non-empty line; Java reads only the first.
    SeveralLines,
    /// `DASHSCOPE_API_KEY_FILE_PATH` starts with `~`, which no SDK expands.
    UnexpandedTilde,
    /// `DASHSCOPE_API_KEY_FILE_PATH` names a file that does not exist.
    MissingFile,
    /// The variable is set but empty, so Python and Java never look at the key files.
    EmptyShadowsFiles,
    /// The keyring that should hold the key cannot be read.
    Keyring(crate::edit::keyring::KeyringError),
}

impl PlaceProblem {
    /// A stable identifier for scripts (`--json`).
    pub fn id(&self) -> &'static str {
        match self {
            PlaceProblem::Value(problem) => problem.id(),
            PlaceProblem::ReadableByOthers { .. } => "readable-by-others",
            PlaceProblem::SeveralLines => "several-lines",
            PlaceProblem::UnexpandedTilde => "unexpanded-tilde",
            PlaceProblem::MissingFile => "missing-file",
            PlaceProblem::EmptyShadowsFiles => "empty-shadows-files",
            PlaceProblem::Keyring(_) => "keyring-unreachable",
        }
    }
}

impl std::fmt::Display for PlaceProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlaceProblem::Value(problem) => problem.fmt(f),
            PlaceProblem::ReadableByOthers { mode } => {
                write!(f, "other users can read this file (mode {mode:04o}; should be 0600)")
            }
            PlaceProblem::SeveralLines => {
                f.write_str("the file has several lines; the Java SDK reads only the first")
            }
            PlaceProblem::UnexpandedTilde => {
                f.write_str("the path starts with ~, which no SDK expands; use an absolute path")
            }
            PlaceProblem::MissingFile => f.write_str("the file it names does not exist"),
            PlaceProblem::EmptyShadowsFiles => f.write_str(
                "set but empty: the Python and Java SDKs send an empty key instead of reading the key file",
            ),
            PlaceProblem::Keyring(error) => write!(
                f,
                "{error}: new shells cannot load the key; {}",
                crate::store::keyring::FIX
            ),
        }
    }
}

/// The SDK's default key file under the home the user's programs see.
pub fn sdk_key_file(platform: &Platform) -> Option<PathBuf> {
    platform.home().map(|home| home.join(".dashscope").join("api_key"))
}

pub(super) fn variable_copy(platform: &Platform) -> KeyCopy {
    let (state, problems) = match platform.var(vars::API_KEY) {
        None => (CopyState::Absent, Vec::new()),
        Some(value) => {
            let key = ApiKey::verbatim(value);
            let mut problems: Vec<PlaceProblem> =
                key.problems().into_iter().map(PlaceProblem::Value).collect();
            if value.is_empty() {
                problems.push(PlaceProblem::EmptyShadowsFiles);
            }
            (CopyState::Present(key), problems)
        }
    };
    KeyCopy { kind: PlaceKind::Variable, path: None, state, mode: None, problems }
}

pub(super) fn path_variable_copy(platform: &Platform) -> Option<KeyCopy> {
    let raw = platform.var_non_empty(vars::API_KEY_FILE_PATH)?;
    let path = platform.resolve_path(raw);
    let mut copy = file_copy(PlaceKind::FilePathVariable, path);
    if raw.starts_with('~') {
        copy.problems.insert(0, PlaceProblem::UnexpandedTilde);
    }
    if matches!(copy.state, CopyState::Absent) {
        copy.problems.push(PlaceProblem::MissingFile);
    }
    Some(copy)
}

pub(super) fn file_copy(kind: PlaceKind, path: PathBuf) -> KeyCopy {
    let mut copy =
        KeyCopy { kind, path: None, state: CopyState::Absent, mode: None, problems: vec![] };
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            copy.path = Some(path);
            return copy;
        }
        Err(e) => {
            copy.state = CopyState::Unreadable(resolve::classify_io(&e, &path));
            copy.path = Some(path);
            return copy;
        }
    };
    copy.mode = fsx::mode(&metadata);
    if metadata.is_dir() {
        copy.state = CopyState::Unreadable(ReadFailure::IsDirectory);
        copy.path = Some(path);
        return copy;
    }
    match crate::world::read::read(&path, crate::world::read::Cap::KEY).map(zeroize::Zeroizing::new)
    {
        Err(e) => copy.state = CopyState::Unreadable(resolve::classify_read(&e)),
        Ok(bytes) => match std::str::from_utf8(&bytes) {
            Err(_) => copy.state = CopyState::Unreadable(ReadFailure::NotUtf8),
            Ok(text) => {
                let value = text.trim();
                let key = ApiKey::verbatim(value);
                if value.lines().filter(|line| !line.trim().is_empty()).count() > 1 {
                    copy.problems.push(PlaceProblem::SeveralLines);
                } else {
                    copy.problems.extend(key.problems().into_iter().map(PlaceProblem::Value));
                }
                copy.state = CopyState::Present(key);
            }
        },
    }
    if let Some(mode) = copy.mode
        && fsx::readable_by_others(mode)
        && copy.value().is_some_and(|key| !key.is_empty())
    {
        copy.problems.push(PlaceProblem::ReadableByOthers { mode });
    }
    copy.path = Some(path);
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Os;
    use crate::store::scan;
    use std::fs;

    #[cfg(unix)]
    #[test]
    fn world_readable_multi_line_and_tilde_are_reported() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        fs::create_dir_all(home.join(".dashscope")).unwrap();
        let file = home.join(".dashscope/api_key");
        fs::write(&file, "sk-0123456789abcdef0123456789abcdef\nsk-other0123456789\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let platform = Platform::simulated(
            Os::Linux,
            [("HOME", home.to_str().unwrap()), (vars::API_KEY_FILE_PATH, "~/.dashscope/api_key")],
        )
        .with_cwd(home);
        let copies = scan(&platform);
        let ids = |kind: PlaceKind| -> Vec<&str> {
            copies
                .iter()
                .find(|c| c.kind == kind)
                .unwrap()
                .problems
                .iter()
                .map(PlaceProblem::id)
                .collect()
        };
        assert_eq!(ids(PlaceKind::SdkKeyFile), ["several-lines", "readable-by-others"]);
        assert_eq!(ids(PlaceKind::FilePathVariable), ["unexpanded-tilde", "missing-file"]);
        assert!(copies.iter().all(|c| c.kind != PlaceKind::JavaKeyFile));
    }

    #[test]
    fn empty_variable_is_flagged_as_shadowing() {
        let platform = Platform::simulated(Os::Linux, [(vars::API_KEY, "")]);
        let copy = &scan(&platform)[0];
        assert_eq!(
            copy.problems,
            [PlaceProblem::Value(ValueProblem::Empty), PlaceProblem::EmptyShadowsFiles]
        );
    }
}
