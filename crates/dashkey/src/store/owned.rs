//! dashkey's own env files, one per shell syntax (`env.sh`, `env.fish`, `env.csh`, `env.nu`,
//! `env.ps1`, 0600 in a 0700 directory): the only copies of the key in shell syntax, which
//! each shell's startup hook sources. Their one parser ([`load_stored`], `is_owned_text`)
//! sits here beside the one renderer ([`crate::shell::owned_file`]'s caller), so that what
//! `set` writes, what `unset` recognises as dashkey's, and what `status` shows are read the
//! same way.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::edit::fsx;
use crate::edit::record::Role;
use crate::shell::{self, Dialect};
use crate::store::copies::{CopyState, KeyCopy, PlaceKind, PlaceProblem, file_copy};
use crate::store::plan::{
    NotRemovedReason, Note, PersistError, SetRun, UnsetRun, WRITTEN_VARS, own_file, pairs,
    push_change, read_text, vars_static,
};
use crate::{ApiKey, Platform, vars};

/// `set`: every dialect's file holds the variables; a file there that dashkey did not write
/// stops the plan.
pub(super) fn plan_set(run: &mut SetRun) -> Result<(), PersistError> {
    let plain = run.plain_variables();
    let pairs = pairs(&plain);
    let names = run.key_names();
    let exe = run.keyring_exe()?;
    // The names the file assigns, which a link switch takes as this file's own.
    let assigned: Vec<&str> = pairs.iter().map(|(n, _)| *n).collect();
    for dialect in Dialect::OWNED {
        let path = owned_path(&run.dir, dialect);
        let before = read_text(&path)?;
        if let Some(old) = before.as_deref().and_then(|b| std::str::from_utf8(b).ok()) {
            check_owned(&path, old)?;
            run.plan.secrets.extend(stored_key(old));
        }
        let mut after = shell::owned_file(dialect, &pairs)?;
        if let Some(exe) = &exe {
            after.push_str(&shell::keyring_lines(dialect, exe, &names));
        }
        let dir = shell::path_expression(dialect, &run.dir, Some(&run.home));
        after.extend(shell::link::switch(dialect, &dir, &assigned, &WRITTEN_VARS));
        let after = after.into_bytes();
        run.managed.push((path.clone(), Role::Owned));
        push_change(&mut run.plan, path, Role::Owned, before, Some(after), 0o600)?;
    }
    Ok(())
}

/// `unset`: its names in its directory, holding what it writes; anything else there is kept,
/// with a note.
pub(super) fn plan_unset(run: &mut UnsetRun) -> Result<(), PersistError> {
    for dialect in Dialect::OWNED {
        let path = owned_path(&run.dir, dialect);
        let Some(before) = own_file(&mut run.plan, &path)? else { continue };
        match std::str::from_utf8(&before) {
            Ok(text) if is_owned_text(dialect, text) => {
                run.plan.secrets.extend(stored_key(text));
                push_change(&mut run.plan, path, Role::Owned, Some(before), None, 0o600)?;
            }
            _ => run.plan.notes.push(Note::NotRemoved { path, reason: NotRemovedReason::Foreign }),
        }
    }
    Ok(())
}

/// What is there now: the key in `env.sh`, as new shells will load it.
pub(super) fn found(platform: &Platform) -> Vec<KeyCopy> {
    let Some(dir) = platform.dashkey_dir() else { return Vec::new() };
    let mut copy = file_copy(PlaceKind::Dashkey, owned_path(&dir, Dialect::Posix));
    if let CopyState::Present(text) = &copy.state {
        let key = text.expose().lines().find_map(|line| {
            let (name, value) = owned_assignment(line)?;
            (name == vars::API_KEY).then_some(value)
        });
        copy.problems.retain(|p| matches!(p, PlaceProblem::ReadableByOthers { .. }));
        copy.state = match key {
            Some(value) => {
                let key = ApiKey::verbatim(value.as_str());
                copy.problems.extend(key.problems().into_iter().map(PlaceProblem::Value));
                CopyState::Present(key)
            }
            None => CopyState::Absent,
        };
    }
    vec![copy]
}

/// The owned file of a dialect.
pub fn owned_path(dir: &Path, dialect: Dialect) -> PathBuf {
    dir.join(dialect.owned_file_name())
}

/// The command that loads dashkey's own file into the user's shell (`. "$HOME/…/env.sh"`,
/// `source …/env.fish`), or `None` when there is no home.
pub fn load_command(platform: &Platform) -> Option<String> {
    let dialect = shell::login_dialect(platform);
    let dir = platform.dashkey_dir()?;
    Some(dialect.source_command(&owned_path(&dir, dialect), platform.home().as_deref()))
}

/// Refuses to overwrite a file in dashkey's directory that dashkey did not write.
pub(super) fn check_owned(path: &Path, text: &str) -> Result<(), PersistError> {
    match text.lines().next() {
        Some(first) if first.contains("Written by dashkey") => Ok(()),
        _ => Err(PersistError::ForeignOwnedFile { path: path.to_path_buf(), line: 1 }),
    }
}

/// Whether an owned file holds only what dashkey writes in that dialect: its header, then
/// one assignment of one of dashkey's variables per line (env.sh through its own parser).
pub(super) fn is_owned_text(dialect: Dialect, text: &str) -> bool {
    if check_owned(Path::new(""), text).is_err() {
        return false;
    }
    if dialect == Dialect::Posix {
        return parse_owned_posix(text).is_ok();
    }
    let Some(text) = shell::link::split(dialect, text, &WRITTEN_VARS) else { return false };
    text.lines().skip(1).all(|line| {
        let line = line.trim();
        if line.starts_with(shell::KEYRING_MARKER) || shell::is_keyring_loader(dialect, line) {
            return true;
        }
        let rest = match dialect {
            Dialect::Fish => line.strip_prefix("set -gx "),
            Dialect::Csh => line.strip_prefix("setenv "),
            Dialect::PowerShell => line.strip_prefix("$env:"),
            Dialect::Nu if line == "{" || line == "}" => return true,
            Dialect::Nu => Some(line),
            Dialect::Posix | Dialect::Cmd => None,
        };
        line.is_empty()
            || rest.is_some_and(|rest| {
                let name: String =
                    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                vars_static(&name).is_some()
            })
    })
}

/// The variables dashkey stored, read back from its `env.sh`. Its `Debug` shows names only.
#[derive(Clone)]
pub struct Stored {
    /// Name and value of each variable, in file order.
    pub vars: Vec<(String, Zeroizing<String>)>,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.vars.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Stored").field("vars", &names).finish()
    }
}

impl Stored {
    /// The stored key.
    pub fn key(&self) -> Option<ApiKey> {
        self.get(vars::API_KEY).map(ApiKey::verbatim)
    }

    /// One stored variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Reads what dashkey stored, or `None` when nothing is stored.
///
/// # Errors
///
/// [`PersistError`] when the file exists but cannot be read or was not written by dashkey.
pub fn load_stored(platform: &Platform) -> Result<Option<Stored>, PersistError> {
    let dir = platform.dashkey_dir().ok_or(PersistError::NoHome)?;
    let Some(mut stored) = load_stored_at(&owned_path(&dir, Dialect::Posix))? else {
        return Ok(None);
    };
    // The keyring store: the key's names are in the file, their value in the keyring.
    if let Some(names) = names_in_keyring(&dir) {
        let key = crate::store::keyring::read(platform)?;
        if let Some(key) = key {
            for name in names.into_iter().rev() {
                stored.vars.insert(0, (name, Zeroizing::new(key.expose().to_string())));
            }
        }
    }
    Ok(Some(stored))
}

/// The names dashkey's `env.sh` loads from the keyring (`set --store keyring`); `None` when
/// it holds the key itself (or is not there).
pub fn names_in_keyring(dir: &Path) -> Option<Vec<String>> {
    let bytes = Zeroizing::new(fsx::read_optional(&owned_path(dir, Dialect::Posix)).ok()??);
    let text = std::str::from_utf8(&bytes).ok()?;
    let names = shell::keyring_names(text)?;
    Some(names.into_iter().filter_map(vars_static).map(str::to_string).collect())
}

/// Reads an `env.sh` dashkey wrote at `path` (its own, or a profile's), or `None` when
/// there is none.
///
/// # Errors
///
/// [`PersistError`] when the file exists but cannot be read or was not written by dashkey.
pub fn load_stored_at(path: &Path) -> Result<Option<Stored>, PersistError> {
    let path = path.to_path_buf();
    let Some(bytes) = fsx::read_optional(&path)? else { return Ok(None) };
    let bytes = Zeroizing::new(bytes);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| PersistError::ForeignOwnedFile { path: path.clone(), line: 1 })?;
    check_owned(&path, text)?;
    match parse_owned_posix(text) {
        Ok(vars) => Ok(Some(Stored { vars })),
        Err(line) => Err(PersistError::ForeignOwnedFile { path, line }),
    }
}

/// dashkey's parser of its own `env.sh`: comments, blank lines, and `export NAME='value'`.
/// The error is the 1-based number of the first line it does not recognise.
pub(super) fn parse_owned_posix(text: &str) -> Result<Vec<(String, Zeroizing<String>)>, usize> {
    // The per-directory switch `set` appends is dashkey's only when it is exactly as written.
    let Some(text) = shell::link::split(Dialect::Posix, text, &WRITTEN_VARS) else {
        return Err(text.lines().count());
    };
    let mut vars = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#')
            || line.is_empty()
            || shell::is_keyring_loader(Dialect::Posix, line)
        {
            continue;
        }
        let parsed = line
            .strip_prefix("export ")
            .and_then(|rest| rest.split_once('='))
            .and_then(|(name, value)| Some((name, unquote_as_written(value)?)));
        match parsed {
            Some((name, value)) => vars.push((name.to_string(), Zeroizing::new(value))),
            None => return Err(index + 1),
        }
    }
    Ok(vars)
}

/// The key in an owned file's text, if it has one (used to mask it in diffs).
pub(super) fn stored_key(text: &str) -> Option<ApiKey> {
    text.lines().find_map(|line| {
        let value = line
            .strip_prefix("export DASHSCOPE_API_KEY=")
            .or_else(|| line.strip_prefix("set -gx DASHSCOPE_API_KEY "))
            .or_else(|| line.strip_prefix("setenv DASHSCOPE_API_KEY "))?;
        shell::unquote_whole(value).map(ApiKey::verbatim)
    })
}

/// One `export NAME=value` line of `env.sh`, as a shell reads it: the value unquoted when it
/// is quoted as dashkey quotes it, else as written (a hand-edited file). `status` shows what
/// this finds; `set` and `unset` trust only [`parse_owned_posix`], which refuses the latter.
fn owned_assignment(line: &str) -> Option<(&str, Zeroizing<String>)> {
    let (name, raw) = line.strip_prefix("export ")?.split_once('=')?;
    let raw = raw.trim();
    Some((name, Zeroizing::new(shell::unquote_whole(raw).unwrap_or_else(|| raw.to_string()))))
}

/// The value of a word exactly as dashkey writes it ([`shell::quote_posix`]), through the
/// one unquote in `shell`: `None` for any other spelling of the same value, so that a line
/// dashkey did not write keeps its file foreign.
fn unquote_as_written(word: &str) -> Option<String> {
    shell::unquote_whole(word).filter(|value| shell::quote_posix(value) == word)
}
