//! dashkey's lock, and what taking it repairs before anything is planned.
//!
//! The lock is held on the home directory itself, which no dashkey run ever creates or
//! removes: a lock on a directory `unset` may delete (dashkey's own, or a `~/.config` that
//! `set` created) lets a run that waited on the deleted directory and a run that created a
//! new one both hold "the" lock. Nothing is created to take it. Which places to clean is
//! the stores' knowledge; this module only knows the order: lock, check dashkey's
//! directory, remove a killed run's temporaries, recover its journals.

use std::path::{Path, PathBuf};

use crate::edit::fsx::{self, FsError, PrivateDirError, Recovery};
use crate::edit::transaction::DIRS_JOURNAL;

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The home directory could not be locked.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// dashkey's own directory cannot be trusted with the key.
    #[error(transparent)]
    PrivateDir(#[from] PrivateDirError),
}

/// The lock, held until dropped, and what taking it fixed.
#[derive(Debug)]
pub struct Taken {
    /// Held until dropped.
    pub lock: fsx::Lock,
    /// dashkey's directory was open to other users and was narrowed to 0700: its old mode.
    pub made_private: Option<(PathBuf, u32)>,
    /// Half-done in-place writes of a killed run, completed or undone.
    pub recovered: Vec<Recovery>,
}

/// Takes the lock on `home`. Then, under it: dashkey's directory `own_dir` must be a real
/// directory of this user's (a wider mode is narrowed to 0700), the temporaries a killed
/// run left in `temp_dirs` and beside `temp_files` are removed, and its journals are
/// recovered ([`fsx::recover`], [`fsx::recover_dirs`]).
///
/// # Errors
///
/// [`LockError`] when the lock cannot be taken or dashkey's directory cannot be trusted.
pub fn take(
    home: &Path,
    own_dir: Option<&Path>,
    temp_dirs: &[PathBuf],
    temp_files: &[PathBuf],
) -> Result<Taken, LockError> {
    let lock = fsx::lock_dir(home)?;
    let mut made_private = None;
    // Absent is fine (a plan creates it 0700); anything else there is checked first.
    if let Some(dir) = own_dir.filter(|d| std::fs::symlink_metadata(d).is_ok())
        && let Some(was) = fsx::secure_private_dir(dir)?
    {
        made_private = Some((dir.to_path_buf(), was));
    }
    // Temporaries of a run that was killed half-way; no other dashkey runs now.
    for dir in own_dir.into_iter().chain(temp_dirs.iter().map(PathBuf::as_path)) {
        fsx::remove_stale_temporaries_in(dir);
    }
    for file in temp_files {
        // Beside the real file: a symlinked startup file is written where it points.
        fsx::remove_stale_temporaries(&fsx::write_target(file).unwrap_or_else(|_| file.clone()));
    }
    let recovered = own_dir.map(fsx::recover).unwrap_or_default();
    let dirs_journal = home.join(DIRS_JOURNAL);
    fsx::remove_stale_temporaries(&dirs_journal);
    fsx::recover_dirs(&dirs_journal, home);
    Ok(Taken { lock, made_private, recovered })
}
