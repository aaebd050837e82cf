//! Per-project profiles: the link file `dashkey link NAME` writes in a directory, and the one
//! choice of which profile applies to a command — `--profile`, else the nearest link file
//! walking up from the working directory, else the profile in use. `run`, `env`, `export`,
//! `key`, `verify`, `status`, `doctor` and `region` all ask [`choose`], so that a command and
//! an interactive shell in the same directory (see [`crate::shell::link`]) agree.
//!
//! The link file holds a profile's name and nothing else, so it is safe to commit; it is the
//! user's file in the user's project, so `unset` never hunts the disk for it, and a link to a
//! profile that no longer exists is harmless (shells fall back to the profile in use) and
//! reported by `status` and `doctor`.

use std::path::{Path, PathBuf};

use crate::Platform;
use crate::edit::fsx::{self, FsError};
use crate::edit::record::Record;
pub use crate::shell::link::LINK_FILE;
use crate::store::Stored;
use crate::store::plan::{BadProfileName, PersistError, ProfileName};
use crate::store::profile::{self, Profile};
use crate::world::read::{Cap, read_optional};

/// A link file found walking up from a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The link file.
    pub path: PathBuf,
    /// The profile it names, or what it holds when that is not a profile name.
    pub name: Result<ProfileName, BadProfileName>,
}

/// The nearest link file at or above `start`, as the shells' switch finds it: the first line,
/// without its line ending. A link file that cannot be read counts as absent, as it does for
/// the shells' `[ -f ]` and `read`.
pub fn nearest(start: &Path) -> Option<Link> {
    start.ancestors().find_map(|dir| {
        let path = dir.join(LINK_FILE);
        let bytes = read_optional(&path, Cap::KEY).ok()??;
        let text = String::from_utf8_lossy(&bytes);
        let line = text.lines().next().unwrap_or("");
        Some(Link { name: ProfileName::parse(line), path })
    })
}

/// Why a profile applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// It was named with `--profile`.
    Flag,
    /// A link file names it.
    Link(PathBuf),
    /// It is the profile in use.
    InUse,
}

/// The profile that applies, and why.
#[derive(Debug, Clone)]
pub struct Choice {
    /// Its name.
    pub name: ProfileName,
    /// Why it applies.
    pub why: Why,
    /// What it stores; `None` when no profile of that name is stored.
    pub profile: Option<Profile>,
}

/// A choice that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ChoiceError {
    /// `--profile` named something that is not a profile name.
    #[error(transparent)]
    BadName(#[from] BadProfileName),
    /// A link file holds something that is not a profile name.
    #[error("the link file {} does not name a profile ('{}')", .path.display(), .text)]
    BadLink {
        /// The link file.
        path: PathBuf,
        /// What it holds.
        text: String,
    },
    /// A profile's file could not be read.
    #[error(transparent)]
    Persist(#[from] PersistError),
}

/// Which profile applies in the platform's working directory: `flag` (from `--profile`),
/// else the nearest link file, else the one in use.
///
/// # Errors
///
/// [`ChoiceError`] when the flag or the link is not a profile name, or a file cannot be read.
pub fn choose(platform: &Platform, flag: Option<&str>) -> Result<Choice, ChoiceError> {
    let (name, why) = match (flag, nearest(platform.cwd())) {
        (Some(flag), _) => (ProfileName::parse(flag)?, Why::Flag),
        (None, Some(Link { path, name: Ok(name) })) => (name, Why::Link(path)),
        (None, Some(Link { path, name: Err(BadProfileName(text)) })) => {
            return Err(ChoiceError::BadLink { path, text });
        }
        (None, None) => {
            let dir = platform.dashkey_dir().ok_or(PersistError::NoHome)?;
            let record = Record::load(&dir).ok().flatten();
            (profile::in_use(record.as_ref()), Why::InUse)
        }
    };
    let profile = profile::load(platform, &name)?;
    Ok(Choice { name, why, profile })
}

/// What a program started where `stored` applies is handed (`dashkey run`, `env`, `export`,
/// `key`), as an interactive shell's switch leaves it ([`crate::shell::link`]): the profile's
/// own variables and the Coding Plan key beside them — the profile's own key when it is one,
/// else the one dashkey's `env.sh` in use exports beside its own.
///
/// # Errors
///
/// [`PersistError`] when the `env.sh` in use cannot be read.
pub fn handed(platform: &Platform, mut stored: Stored) -> Result<Stored, PersistError> {
    let name = crate::vars::CODING_PLAN_API_KEY;
    let coding = stored.key().filter(|key| key.kind() == crate::KeyKind::CodingPlan);
    let beside = match coding {
        Some(key) => Some(zeroize::Zeroizing::new(key.expose().to_string())),
        None if stored.get(name).is_some() => None,
        None => crate::store::load_stored(platform)?
            .and_then(|in_use| in_use.get(name).map(|v| zeroize::Zeroizing::new(v.to_string()))),
    };
    if let Some(value) = beside {
        stored.vars.retain(|(n, _)| n != name);
        stored.vars.push((name.to_string(), value));
    }
    Ok(stored)
}

/// Whether the shells that load dashkey's own files switch on `cd`: its `env.sh` carries the
/// switch (one written before per-directory profiles existed does not).
pub fn shells_switch(platform: &Platform) -> bool {
    let Some(dir) = platform.dashkey_dir() else { return false };
    let path = crate::store::owned_path(&dir, crate::shell::Dialect::Posix);
    match read_optional(&path, Cap::KEY) {
        Ok(Some(bytes)) => crate::shell::link::is_in(&String::from_utf8_lossy(&bytes)),
        _ => false,
    }
}

/// Writes the link file naming `name` in `dir` (atomically; the file holds no secret, so it
/// is an ordinary 0644 file), and returns its path and the name it named before, if any.
///
/// # Errors
///
/// [`FsError`] when it cannot be written (a directory or a device in its place included).
pub fn write(dir: &Path, name: &ProfileName) -> Result<(PathBuf, Option<Link>), FsError> {
    let path = dir.join(LINK_FILE);
    let before = nearest(dir).filter(|link| link.path == path);
    fsx::write_atomic(&path, format!("{name}\n").as_bytes(), 0o644)?;
    Ok((path, before))
}

/// Removes the link file in `dir`, returning what it named; `None` when there is none.
///
/// # Errors
///
/// [`FsError`] when it cannot be removed.
pub fn remove(dir: &Path) -> Result<Option<Link>, FsError> {
    let Some(link) = nearest(dir).filter(|link| link.path == dir.join(LINK_FILE)) else {
        return Ok(None);
    };
    fsx::remove_file(&link.path)?;
    Ok(Some(link))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_link_wins_and_a_bad_one_is_reported_as_written() {
        let root = tempfile::tempdir().unwrap();
        let inner = root.path().join("a/b/c");
        std::fs::create_dir_all(&inner).unwrap();
        assert_eq!(nearest(&inner).filter(|l| l.path.starts_with(root.path())), None);
        std::fs::write(root.path().join("a").join(LINK_FILE), "work\n").unwrap();
        let found = nearest(&inner).unwrap();
        assert_eq!(found.name.unwrap().as_str(), "work");
        std::fs::write(root.path().join("a/b").join(LINK_FILE), "home").unwrap();
        assert_eq!(nearest(&inner).unwrap().name.unwrap().as_str(), "home");
        std::fs::write(root.path().join("a/b").join(LINK_FILE), "../x\n").unwrap();
        assert_eq!(nearest(&inner).unwrap().name, Err(BadProfileName("../x".into())));
    }
}
