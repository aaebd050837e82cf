//! A plan of changes, applied all together or not at all.
//!
//! Planning (in the stores) reads everything and writes nothing, so `--dry-run` shows exactly
//! what a command would do, and every refusal happens before the first byte is written. This
//! module applies a [`Plan`]: each file is written so that it holds its old or its new bytes
//! after any fault (see [`fsx::write()`]) and, if any change fails, every change already made
//! (files and session variables) is put back and re-read, so the user never ends up with half
//! a setup, and is told exactly what could not be put back when that happens
//! ([`ApplyError::RollbackIncomplete`]).
//!
//! A plan carries the stores' notes as a type parameter: what to tell the user is theirs,
//! how to write is this module's.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::ApiKey;
use crate::edit::crontab::{CrontabChange, CrontabError};
use crate::edit::fsx::{self, FsError};
use crate::edit::keyring::{KeyringChange, KeyringError};
use crate::edit::record::Role;
use crate::edit::session::{SessionEnv, SessionError};

/// Why applying a plan failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A file operation failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The desktop session refused a variable.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// `crontab` refused the new crontab, or it changed meanwhile.
    #[error(transparent)]
    Crontab(#[from] CrontabError),
    /// The keyring refused the key's entry.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// A write failed; everything already changed was put back, and each file was re-read
    /// and found as it was (bytes and mode).
    #[error(
        "{source}; dashkey put back the {restored} change(s) it had already made and checked \
         them, so nothing changed"
    )]
    Applied {
        /// The failure.
        #[source]
        source: Box<ApplyError>,
        /// How many changes (files and session variables) were restored.
        restored: usize,
    },
    /// A write failed, and putting some changes back failed too.
    #[error(
        "{source}; dashkey put back {restored} change(s), but could not put back: {}",
        not_restored.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    RollbackIncomplete {
        /// The failure.
        #[source]
        source: Box<ApplyError>,
        /// How many changes were restored and verified.
        restored: usize,
        /// Each change that was not.
        not_restored: Vec<NotRestored>,
    },
}

/// A change that a failed apply could not put back.
#[derive(Debug)]
pub enum NotRestored {
    /// A file.
    File {
        /// The file.
        path: PathBuf,
        /// Where its old content is kept (`None`: it could not be saved anywhere; it was
        /// absent before when `was_absent`).
        kept: Option<PathBuf>,
        /// The file did not exist before (it should be removed).
        was_absent: bool,
        /// What went wrong.
        error: FsError,
    },
    /// A session variable (registry, launchd).
    Session {
        /// The variable.
        name: &'static str,
        /// What went wrong.
        error: SessionError,
    },
    /// The key's keyring entry.
    Keyring {
        /// Where it lives.
        place: &'static str,
        /// What went wrong.
        error: KeyringError,
    },
}

impl std::fmt::Display for NotRestored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotRestored::File { path, was_absent: true, error, .. } => {
                write!(
                    f,
                    "{} did not exist before and could not be removed ({error})",
                    path.display()
                )
            }
            NotRestored::File { path, kept: Some(kept), error, .. } => {
                write!(f, "{} ({error}); its old content is in {}", path.display(), kept.display())
            }
            NotRestored::File { path, kept: None, error, .. } => write!(
                f,
                "{} ({error}); its old content could not be saved anywhere",
                path.display()
            ),
            NotRestored::Session { name, error } => {
                write!(f, "the session variable {name} ({error})")
            }
            NotRestored::Keyring { place, error } => {
                write!(f, "the key's entry in {place} ({error})")
            }
        }
    }
}

/// One file a plan changes. Its `Debug` shows sizes, not contents, which hold the key.
#[derive(Clone)]
pub struct FileChange {
    /// The path as named (may be a symlink).
    pub path: PathBuf,
    /// The file that will really change (the link's target).
    pub real_path: PathBuf,
    /// What the file is for.
    pub role: Role,
    /// Content now (`None`: absent).
    pub before: Option<Zeroizing<Vec<u8>>>,
    /// Content after (`None`: removed).
    pub after: Option<Zeroizing<Vec<u8>>>,
    /// Mode for a new file.
    pub mode: u32,
}

/// One per-user session variable a plan changes (Windows registry, launchd). Its `Debug`
/// shows the name only.
#[derive(Clone)]
pub struct SessionChange {
    /// The variable.
    pub name: &'static str,
    /// New value (`None`: removed).
    pub after: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for FileChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileChange")
            .field("path", &self.path)
            .field("real_path", &self.real_path)
            .field("role", &self.role)
            .field("before_len", &self.before.as_ref().map(|b| b.len()))
            .field("after_len", &self.after.as_ref().map(|a| a.len()))
            .field("mode", &format_args!("{:o}", self.mode))
            .finish()
    }
}

impl std::fmt::Debug for SessionChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionChange")
            .field("name", &self.name)
            .field("removed", &self.after.is_none())
            .finish()
    }
}

/// Everything one `set` or `unset` would do.
#[derive(Debug, Clone)]
pub struct Plan<N> {
    /// File changes, in the order they are applied; no-ops are left out.
    pub changes: Vec<FileChange>,
    /// Session variable changes.
    pub session: Vec<SessionChange>,
    /// The key's keyring entry, changed before every file and put back after them.
    pub keyring: Option<KeyringChange>,
    /// The user's crontab, replaced last (after every file and variable), so that when
    /// `crontab` refuses, everything before it is rolled back and nothing needs undoing in it.
    pub crontab: Option<CrontabChange>,
    /// Directories to create (0700) before writing.
    pub create_dirs: Vec<PathBuf>,
    /// Directories to remove after writing, when they are empty.
    pub remove_dirs: Vec<PathBuf>,
    /// Things to tell the user.
    pub notes: Vec<N>,
    /// Keys that appear in the changed files, to mask in anything shown.
    pub secrets: Vec<ApiKey>,
    /// Where journals of in-place writes go (dashkey's directory, recovered under the lock);
    /// `None`: beside each file.
    pub journal_dir: Option<PathBuf>,
    /// Where the directory journal goes (in the home directory, which the lock is held on):
    /// the directories this plan creates or removes, listed before the first is touched, so
    /// that after a kill the next locked run removes the empty ones ([`fsx::recover_dirs`]).
    pub dirs_journal: Option<PathBuf>,
}

/// The directory journal's name in the home directory; it exists only while a run creates or
/// removes directories, or after such a run was killed.
pub const DIRS_JOURNAL: &str = ".dashkey-dirs.json";

impl<N> Default for Plan<N> {
    fn default() -> Plan<N> {
        Plan {
            changes: Vec::new(),
            session: Vec::new(),
            keyring: None,
            crontab: None,
            create_dirs: Vec::new(),
            remove_dirs: Vec::new(),
            notes: Vec::new(),
            secrets: Vec::new(),
            journal_dir: None,
            dirs_journal: None,
        }
    }
}

impl<N> Plan<N> {
    /// True when applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.session.is_empty()
            && self.crontab.is_none()
            && self.keyring.is_none()
    }
}

/// What applying did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Each file changed: (path as named, file really written, role, removed?).
    pub files: Vec<(PathBuf, PathBuf, Role, bool)>,
    /// Session variables changed.
    pub session: Vec<&'static str>,
    /// The crontab was replaced.
    pub crontab: bool,
    /// The keyring entry was written or deleted.
    pub keyring: bool,
}

impl FileChange {
    /// A change from `before` to `after`, or `None` when they are the same bytes.
    ///
    /// # Errors
    ///
    /// [`FsError`] when the path's symlinks cannot be followed.
    pub fn new(
        path: PathBuf,
        role: Role,
        before: Option<Vec<u8>>,
        after: Option<Vec<u8>>,
        mode: u32,
    ) -> Result<Option<FileChange>, FsError> {
        let before = before.map(Zeroizing::new);
        let after = after.map(Zeroizing::new);
        if before.as_deref() == after.as_deref() {
            return Ok(None);
        }
        let real_path = fsx::write_target(&path)?;
        Ok(Some(FileChange { path, real_path, role, before, after, mode }))
    }
}

/// dashkey's own places, where a symlink is refused for writing and never followed for
/// removal: its directory's files, the SDK key file, and the desktop session file that
/// dashkey names (`60-dashkey.conf`, which holds the key: a link there, such as one a dotfiles
/// manager adopted, would carry the key into a repository).
pub fn own_place(role: Role) -> bool {
    match role {
        Role::Owned
        | Role::Record
        | Role::Backup
        | Role::SdkKeyFile
        | Role::SdkConfig
        | Role::Desktop
        | Role::Profile => true,
        Role::Hook | Role::ServiceEnv | Role::ServiceConfig => false,
    }
}

/// A change already made, with what is needed to undo it.
struct Done<'a> {
    change: &'a FileChange,
    /// The mode the file had before (absent files have none).
    mode: Option<u32>,
}

/// Applies a plan: all of it, or (after restoring what was changed) none of it.
///
/// Before the first write, every change is checked: no symlink in dashkey's own places, and
/// nothing but regular files (or absent ones) at the end of a user's links. Each file is
/// written by [`fsx::write()`] (old or new bytes after any fault). When a write fails, every
/// change already made (files and session variables) is put back in reverse order, with its
/// old bytes and its old mode, and each is re-read to check it.
///
/// # Errors
///
/// [`ApplyError::Applied`] naming the failure when everything was put back and verified;
/// [`ApplyError::RollbackIncomplete`] listing each change that was not, and where each
/// file's old content is kept.
pub fn apply<N>(
    plan: &Plan<N>,
    mut session: Option<&mut (dyn SessionEnv + 'static)>,
) -> Result<Applied, ApplyError> {
    for change in &plan.changes {
        let own = own_place(change.role);
        if own {
            fsx::refuse_link(
                &change.path,
                if change.after.is_some() { "write" } else { "remove" },
            )?;
        }
        if change.after.is_some() {
            fsx::check_write(&change.path, !own)?;
        }
    }
    let journal_dir = plan.journal_dir.as_deref();
    let mut made_dirs = Vec::new();
    let mut done: Vec<Done> = Vec::new();
    let mut done_session: Vec<(&'static str, Option<Zeroizing<String>>)> = Vec::new();
    let mut applied = Applied::default();
    let mut journaled: Vec<PathBuf> =
        plan.create_dirs.iter().filter(|dir| !dir.exists()).cloned().collect();
    journaled.extend(plan.remove_dirs.iter().cloned());
    // A home that does not exist yet (a simulated one) has nothing a journal could protect.
    let dirs_journal = plan
        .dirs_journal
        .as_deref()
        .filter(|journal| !journaled.is_empty() && journal.parent().is_some_and(Path::is_dir));
    if let Some(journal) = dirs_journal {
        fsx::write_dirs_journal(journal, &journaled)?;
    }
    // Directories whose renames and removals are flushed once, after the last change in
    // them (a flush per file was a third of a `set`'s fsyncs, mostly of the same two
    // directories).
    let mut unflushed: Vec<PathBuf> = Vec::new();
    let mut keyring_done = false;
    let result = (|| -> Result<(), ApplyError> {
        // First: a keyring that refuses (locked, no D-Bus) stops the run before any file.
        if let Some(change) = &plan.keyring {
            change.apply()?;
            keyring_done = true;
        }
        for dir in &plan.create_dirs {
            if !dir.exists() {
                fsx::create_private_dir(dir)?;
                made_dirs.push(dir.clone());
            }
        }
        for change in &plan.changes {
            fsx::remove_stale_temporaries(&change.real_path);
            let own = own_place(change.role);
            let mode = std::fs::metadata(&change.real_path).ok().and_then(|m| fsx::mode(&m));
            // The record says what the other files are: whatever came before it is flushed
            // before it changes, and it is flushed at once, so that a power loss never
            // leaves files it does not list (nor a record listing files not yet there).
            let record = change.role == Role::Record;
            if record {
                fsx::flush_dirs(&unflushed);
                unflushed.clear();
            }
            let dir = match &change.after {
                Some(content) => {
                    let options = fsx::WriteOptions {
                        mode: if change.role.is_private() { 0o600 } else { change.mode },
                        force_mode: change.role.is_private(),
                        follow_links: !own,
                        journal_dir,
                    };
                    // A failed write leaves the old bytes: nothing to undo for this change.
                    fsx::write_unflushed(&change.path, content, &options)?.1
                }
                None => {
                    if own {
                        fsx::remove_own_unflushed(&change.path)?;
                    } else {
                        fsx::remove_file_unflushed(&change.real_path)?;
                    }
                    let path = if own { &change.path } else { &change.real_path };
                    path.parent().unwrap_or(Path::new(".")).to_path_buf()
                }
            };
            if record {
                fsx::flush_dirs(std::slice::from_ref(&dir));
            } else if !unflushed.contains(&dir) {
                unflushed.push(dir);
            }
            done.push(Done { change, mode });
        }
        // Every file is durable before the session variables change or the directory
        // journal goes.
        fsx::flush_dirs(&unflushed);
        if let Some(session) = session.as_deref_mut() {
            for change in &plan.session {
                let before = session.get(change.name)?.map(Zeroizing::new);
                match &change.after {
                    Some(value) => session.set(change.name, value)?,
                    None => session.remove(change.name)?,
                }
                done_session.push((change.name, before));
                applied.session.push(change.name);
            }
            if !plan.session.is_empty() {
                session.announce();
            }
        }
        if let Some(change) = &plan.crontab {
            crate::edit::crontab::install(change)?;
            applied.crontab = true;
        }
        Ok(())
    })();
    if let Err(error) = result {
        let mut not_restored = Vec::new();
        let mut restored = 0;
        if let Some(session) = session {
            for (name, before) in done_session.iter().rev() {
                let put_back = match before {
                    Some(value) => session.set(name, value),
                    None => session.remove(name),
                };
                let checked = put_back.and_then(|()| {
                    let now = session.get(name)?.map(Zeroizing::new);
                    if now.as_deref() == before.as_deref() {
                        Ok(())
                    } else {
                        Err(SessionError {
                            op: "verify",
                            name: (*name).to_string(),
                            store: "session",
                            detail: "it holds another value than before".to_string(),
                        })
                    }
                });
                match checked {
                    Ok(()) => restored += 1,
                    Err(error) => not_restored.push(NotRestored::Session { name, error }),
                }
            }
            if !done_session.is_empty() {
                session.announce();
            }
        }
        for done in done.iter().rev() {
            match restore(done, journal_dir) {
                Ok(()) => restored += 1,
                Err(failure) => not_restored.push(failure),
            }
        }
        for dir in made_dirs.iter().rev() {
            if let Err(e) = std::fs::remove_dir(dir)
                && dir.exists()
            {
                not_restored.push(NotRestored::File {
                    path: dir.clone(),
                    kept: None,
                    was_absent: true,
                    error: FsError::new("remove directory", dir, e),
                });
            }
        }
        // Last, as it was first: the files that held the key before are back already.
        if let Some(change) = plan.keyring.as_ref().filter(|_| keyring_done) {
            match change.restore() {
                Ok(()) => restored += 1,
                Err(error) => not_restored
                    .push(NotRestored::Keyring { place: change.entry.describe(), error }),
            }
        }
        // The failed write itself could not put its file's old bytes back either.
        if let ApplyError::Fs(FsError { path, kept: Some(kept), .. }) = &error {
            not_restored.push(NotRestored::File {
                path: path.clone(),
                kept: Some(kept.clone()),
                was_absent: false,
                error: FsError::new(
                    "restore",
                    path,
                    std::io::Error::other("writing its old bytes back failed too"),
                ),
            });
        }
        if let Some(journal) = dirs_journal {
            let _ = fsx::remove_own(journal);
        }
        let source = Box::new(error);
        if not_restored.is_empty() {
            return Err(ApplyError::Applied { source, restored });
        }
        return Err(ApplyError::RollbackIncomplete { source, restored, not_restored });
    }
    for dir in &plan.remove_dirs {
        let _ = std::fs::remove_dir(dir);
    }
    if let Some(journal) = dirs_journal {
        // Everything it listed is done: created dirs hold the record, removed ones are gone.
        let _ = fsx::remove_own(journal);
    }
    applied.files = plan
        .changes
        .iter()
        .map(|c| (c.path.clone(), c.real_path.clone(), c.role, c.after.is_none()))
        .collect();
    applied.keyring = keyring_done;
    Ok(applied)
}

/// Puts one change back: old bytes and old mode (or absence), then re-reads it.
fn restore(done: &Done, journal_dir: Option<&Path>) -> Result<(), NotRestored> {
    let change = done.change;
    let own = own_place(change.role);
    // dashkey's own places are written by name (never through a link); a user's file is
    // restored where it really is.
    let path = if own { &change.path } else { &change.real_path };
    match &change.before {
        Some(content) => {
            let mode = done.mode.unwrap_or(change.mode);
            let options =
                fsx::WriteOptions { mode, force_mode: true, follow_links: !own, journal_dir };
            let result = fsx::write(path, content, &options)
                .and_then(|_| fsx::verify(path, content, done.mode));
            result.map_err(|error| {
                let kept = error.kept.clone().or_else(|| {
                    let dir = journal_dir.or_else(|| path.parent()).unwrap_or(Path::new("."));
                    fsx::save_rescue(dir, path, content)
                });
                NotRestored::File { path: path.clone(), kept, was_absent: false, error }
            })
        }
        None => {
            let removed = if own { fsx::remove_own(path) } else { fsx::remove_file(path) };
            let result = removed.and_then(|_| match std::fs::symlink_metadata(path) {
                Err(_) => Ok(()),
                Ok(_) => Err(FsError::new(
                    "verify the removal of",
                    path,
                    std::io::Error::other("it is still there"),
                )),
            });
            result.map_err(|error| NotRestored::File {
                path: path.clone(),
                kept: None,
                was_absent: true,
                error,
            })
        }
    }
}
