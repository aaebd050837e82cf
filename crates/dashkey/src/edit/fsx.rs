//! File-system operations with the care a secret and a user's dotfiles need.
//!
//! - **Atomic**: a write goes to a temporary file in the target's own directory, created
//!   with its final mode (never chmod-after-write, so a secret is never briefly readable),
//!   is flushed to disk, and is renamed over the target; then the directory is flushed.
//! - **Symlinks are followed, never replaced**: dotfile managers (stow, chezmoi, yadm) link
//!   `~/.bashrc` into a repository; dashkey writes the link's target and keeps the link.
//! - **Hard links are kept**: a file with several names is rewritten in place, because a
//!   rename would silently split it; a write-ahead journal in dashkey's directory makes that
//!   in-place write old-or-new too (see [`write()`] for the exact guarantee, [`recover`]).
//! - **Only regular files** are written (or absent ones created): a device, FIFO, socket or
//!   directory is refused by name, so `/dev/null` is never turned into a file holding the key.
//! - **dashkey's own places trust no link**: there a symlink is refused for writing and never
//!   followed for removal ([`refuse_link`], [`remove_own`]), and dashkey's directory must be
//!   the user's own, 0700 ([`secure_private_dir`]).
//! - **Owner and mode are kept** for files that already exist.
//! - **The umask cannot widen anything**: files are created with their final mode, parent
//!   directories 0755 at most.
//!
//! Modes are a Unix concept; on Windows, access is governed by the ACLs of the user's
//! profile, so the Windows variants create files normally and report no mode.

use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

mod journal;
use journal::write_in_place;
pub use journal::{
    Recovery, pending_journals, recover, recover_dirs, save_rescue, verify, write_dirs_journal,
};

/// A file-system operation failed; the message names the operation and the path.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {}: {source}{}", path.display(), kept_note(kept.as_deref()))]
pub struct FsError {
    /// What was being done ("write", "read", "create directory", …).
    pub op: &'static str,
    /// The path involved.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: io::Error,
    /// Where the file's old bytes are kept, when putting them back failed too.
    pub kept: Option<PathBuf>,
}

fn kept_note(kept: Option<&Path>) -> String {
    kept.map(|p| format!("; its old content is kept in {}", p.display())).unwrap_or_default()
}

impl FsError {
    /// Wraps an I/O error with its operation and path.
    pub fn new(op: &'static str, path: &Path, source: io::Error) -> FsError {
        FsError { op, path: path.to_path_buf(), source, kept: None }
    }
}

/// Permission bits of a file (`0o600`), where the platform has them: the readers' own
/// ([`crate::world::read::mode`]), so that a writer and a reader never disagree on a mode.
pub fn mode(metadata: &Metadata) -> Option<u32> {
    crate::world::read::mode(metadata)
}

/// True when users other than the owner can read the file.
pub fn readable_by_others(mode: u32) -> bool {
    mode & 0o044 != 0
}

/// Reads a file, or `None` when it does not exist, through [`crate::world::read`]: never blocks,
/// refuses what is not a regular file, and reads at most [`crate::world::read::Cap::STARTUP`].
///
/// # Errors
///
/// [`FsError`] for any failure other than absence.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, FsError> {
    crate::world::read::read_optional(path, crate::world::read::Cap::STARTUP)
        .map_err(|e| FsError::new("read", path, e.into_io()))
}

/// The file a write to `path` must change: the final target of a chain of symlinks (which
/// may not exist yet), or `path` itself.
///
/// # Errors
///
/// [`FsError`] when a link cannot be read or the chain loops.
pub fn write_target(path: &Path) -> Result<PathBuf, FsError> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)
                    .map_err(|e| FsError::new("read symlink", &current, e))?;
                current = match current.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(FsError::new(
        "follow symlinks of",
        path,
        io::Error::other("too many levels of symbolic links"),
    ))
}

/// Creates a directory (and its parents) whose last component is private to the user
/// (0700). An existing directory is left as it is. Parents are created 0755 at most, whatever
/// the umask, so a `umask 000` never makes `~/.config` world-writable.
///
/// # Errors
///
/// [`FsError`] when the directory cannot be created.
pub fn create_private_dir(path: &Path) -> Result<(), FsError> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        sys::create_dir_all(parent, 0o755)
            .map_err(|e| FsError::new("create directory", parent, e))?;
    }
    match sys::create_dir(path, 0o700) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(FsError::new("create directory", path, e)),
    }
}

/// Why dashkey's own directory cannot hold the key.
#[derive(Debug, thiserror::Error)]
pub enum PrivateDirError {
    /// It is a symbolic link (which could point anywhere, out of the user's reach).
    #[error(
        "{} is a symbolic link; dashkey keeps your key only in a real directory",
        path.display()
    )]
    Symlink {
        /// The directory.
        path: PathBuf,
    },
    /// It is not a directory.
    #[error("{} is not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// Another user owns it, and could read or replace the key.
    #[error(
        "{} belongs to user id {owner}, not to you (user id {me}); dashkey keeps your key only \
         in a directory you own",
        path.display()
    )]
    ForeignOwner {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// This process's user.
        me: u32,
    },
    /// It cannot be inspected or fixed.
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// Makes sure dashkey's own directory is a real directory of this user's, private (0700): a
/// wider mode is narrowed, and the mode it had is returned so the user can be told.
///
/// # Errors
///
/// [`PrivateDirError`] for a symlink, something else than a directory, or a directory of
/// another user (root may use any user's directory: that is what `sudo` is for).
pub fn secure_private_dir(path: &Path) -> Result<Option<u32>, PrivateDirError> {
    let meta = fs::symlink_metadata(path).map_err(|e| FsError::new("inspect", path, e))?;
    if meta.file_type().is_symlink() {
        return Err(PrivateDirError::Symlink { path: path.to_path_buf() });
    }
    if !meta.is_dir() {
        return Err(PrivateDirError::NotADirectory { path: path.to_path_buf() });
    }
    if let Some((owner, me)) = sys::foreign_owner(&meta) {
        return Err(PrivateDirError::ForeignOwner { path: path.to_path_buf(), owner, me });
    }
    match mode(&meta) {
        Some(was) if was & 0o077 != 0 => {
            sys::chmod(path, 0o700).map_err(|e| FsError::new("make private", path, e))?;
            Ok(Some(was))
        }
        _ => Ok(None),
    }
}

/// What [`write_atomic`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The file that was really changed (the symlink target, when `path` was a link).
    pub real_path: PathBuf,
    /// True when the file did not exist before.
    pub created: bool,
}

/// How [`write()`] treats the path it is given and the file it finds there.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions<'a> {
    /// Mode of a new file (and of an existing one, with `force_mode`).
    pub mode: u32,
    /// The file ends up with `mode` even when it existed with another one.
    pub force_mode: bool,
    /// Follow a symlink at the path (a user's dotfile managed by stow, chezmoi, yadm…).
    /// `false` for dashkey's own places, where a symlink is refused and a hard link is split.
    pub follow_links: bool,
    /// Where the journal of an in-place write goes (dashkey's directory, where the next
    /// locked run recovers it); `None`: beside the file.
    pub journal_dir: Option<&'a Path>,
}

/// Replaces the content of `path` atomically, following symlinks. A new file gets
/// `new_mode`; an existing one keeps its mode and owner.
///
/// # Errors
///
/// [`FsError`] naming the file; on error the target is unchanged.
pub fn write_atomic(path: &Path, content: &[u8], new_mode: u32) -> Result<Written, FsError> {
    let options =
        WriteOptions { mode: new_mode, force_mode: false, follow_links: true, journal_dir: None };
    write(path, content, &options)
}

/// Like [`write_atomic`], but the file always ends up with `mode`, even when it existed with
/// another one: for files that receive a secret (`dashkey export --output`).
///
/// # Errors
///
/// [`FsError`] naming the file; on error the target is unchanged.
pub fn write_private(path: &Path, content: &[u8], mode: u32) -> Result<Written, FsError> {
    let options = WriteOptions { mode, force_mode: true, follow_links: true, journal_dir: None };
    write(path, content, &options)
}

/// Writes `content` to `path` so that, after any failure or a kill at any point, the file
/// holds either its old bytes or the new ones.
///
/// - Only a regular file is written (or an absent one created): a device, FIFO, socket or
///   directory at the path (after following a user's symlink) is refused by name, and
///   nothing changes.
/// - A file with one name is replaced by a rename from a flushed temporary file beside it:
///   the old or the new bytes, whatever happens.
/// - A file with several names (a hard link into a dotfiles repository) is rewritten in
///   place, so every name keeps seeing it, under a write-ahead journal: first a 0600 journal
///   holding the path, device and inode, the old bytes and the SHA-256 of the new bytes is
///   written atomically (into `journal_dir`); then the file is overwritten from offset 0,
///   cut to length and flushed; then the journal is removed. A failure in this process puts
///   the old bytes back at once; after a kill, [`recover`] (which every dashkey command that
///   takes the lock runs first) puts the old bytes back unless the file already holds the
///   new ones. The guarantee therefore is: old or new bytes after any failure, and after a
///   kill, old or new bytes once the next locked dashkey command has started.
///
/// # Errors
///
/// [`FsError`] naming the file; on error the file holds its old bytes (or, when even
/// restoring them failed, [`FsError::kept`] names the journal that holds them).
pub fn write(path: &Path, content: &[u8], options: &WriteOptions) -> Result<Written, FsError> {
    let (written, dir) = write_unflushed(path, content, options)?;
    sys::sync_dir(&dir);
    Ok(written)
}

/// Like [`write()`], without flushing the directory that the rename changed; returns that
/// directory, for [`flush_dirs`]. The file's bytes are flushed before the rename, so the
/// file holds its old or its new bytes even after a power loss; only whether the rename
/// (the new bytes) survives one is left to the caller's later flush. A transaction writing
/// several files into one directory flushes it once ([`crate::edit::transaction::apply`]).
///
/// # Errors
///
/// As [`write()`].
pub fn write_unflushed(
    path: &Path,
    content: &[u8],
    options: &WriteOptions,
) -> Result<(Written, PathBuf), FsError> {
    let target = if options.follow_links {
        write_target(path)?
    } else {
        refuse_link(path, "write")?;
        path.to_path_buf()
    };
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let existing = match fs::symlink_metadata(&target) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(FsError::new("inspect", &target, e)),
    };
    if let Some(meta) = &existing {
        ensure_regular(&target, meta)?;
        if sys::link_count(meta) > 1 && options.follow_links {
            let mode = options.force_mode.then_some(options.mode);
            write_in_place(&target, content, meta, mode, options.journal_dir.unwrap_or(dir))?;
            let dir = dir.to_path_buf();
            return Ok((Written { real_path: target, created: false }, dir));
        }
    }
    let mode = if options.force_mode {
        options.mode
    } else {
        existing.as_ref().and_then(mode).unwrap_or(options.mode)
    };
    let mut temp = sys::temp_builder(mode)
        .prefix(&temp_prefix(&target))
        .suffix(".tmp")
        .tempfile_in(dir)
        // tempfile's error repeats the path; keep only what the OS said.
        .map_err(|e| {
            // (It wraps the OS error in a message ending `at path "…"`, without its code.)
            let said = e.to_string();
            let e = match said.split_once(" at path \"") {
                Some((os, _)) => std::io::Error::new(e.kind(), os.to_string()),
                None => e,
            };
            FsError::new("create a temporary file in", dir, e)
        })?;
    temp.write_all(content).map_err(|e| FsError::new("write", temp.path(), e))?;
    if let Some(meta) = &existing {
        sys::copy_owner(temp.as_file(), meta)
            .map_err(|e| FsError::new("keep the owner of", &target, e))?;
    }
    temp.as_file().sync_all().map_err(|e| FsError::new("flush", temp.path(), e))?;
    temp.persist(&target).map_err(|e| FsError::new("replace", &target, e.error))?;
    let dir = dir.to_path_buf();
    Ok((Written { real_path: target, created: existing.is_none() }, dir))
}

/// Flushes each directory once (what [`write_unflushed`] left to do), in order.
pub fn flush_dirs(dirs: &[PathBuf]) {
    for dir in dirs {
        sys::sync_dir(dir);
    }
}

/// Why [`refuse_link`] refused a path, carried as its [`FsError`]'s I/O error, so that the
/// binary can tell it apart and say what to do about it.
#[derive(Debug, thiserror::Error)]
#[error(
    "it is a symbolic link, and dashkey never writes or removes through a link in its own places"
)]
pub struct LinkRefused;

/// Refuses a symlink at one of dashkey's own places (its directory, the files in it, the
/// SDK key file): a link planted there would carry the key out of the private directory,
/// or make `unset` delete the link's target.
///
/// # Errors
///
/// [`FsError`] naming the link.
pub fn refuse_link(path: &Path, op: &'static str) -> Result<(), FsError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(FsError::new(op, path, io::Error::other(LinkRefused)))
        }
        _ => Ok(()),
    }
}

/// Refuses anything but a regular file, by name.
fn ensure_regular(path: &Path, meta: &Metadata) -> Result<(), FsError> {
    if meta.is_file() {
        return Ok(());
    }
    Err(FsError::new(
        "write",
        path,
        io::Error::other(format!(
            "it is {}, not a regular file, and dashkey writes only regular files",
            sys::kind(meta)
        )),
    ))
}

/// Checks, before anything is written, that a write to `path` would be allowed: not a link
/// in dashkey's own places (`follow_links: false`), and a regular file or nothing at the
/// end of a user's links.
///
/// # Errors
///
/// [`FsError`] naming the path, as [`write()`] would fail.
pub fn check_write(path: &Path, follow_links: bool) -> Result<(), FsError> {
    let target = if follow_links {
        write_target(path)?
    } else {
        refuse_link(path, "write")?;
        path.to_path_buf()
    };
    match fs::symlink_metadata(&target) {
        Ok(meta) => ensure_regular(&target, &meta),
        Err(_) => Ok(()),
    }
}

/// Temporary files are hidden and name their target: `.bashrc.dashkey-XXXX.tmp`.
fn temp_prefix(target: &Path) -> String {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.starts_with('.') { format!("{name}.dashkey-") } else { format!(".{name}.dashkey-") }
}

/// Whether this process may change the file (or create it, when it does not exist yet).
pub fn writable(path: &Path) -> bool {
    let target = if path.exists() {
        path
    } else {
        match path.ancestors().skip(1).find(|p| p.exists()) {
            Some(dir) => dir,
            None => return false,
        }
    };
    sys::writable(target)
}

/// Removes a file (following a symlink to remove its target's *content* would be wrong, so
/// a link itself is removed). Returns whether something was removed.
///
/// # Errors
///
/// [`FsError`] for any failure other than absence.
pub fn remove_file(path: &Path) -> Result<bool, FsError> {
    let removed = remove_file_unflushed(path)?;
    if removed && let Some(dir) = path.parent() {
        sys::sync_dir(dir);
    }
    Ok(removed)
}

/// Like [`remove_file`], without flushing the directory (see [`write_unflushed`]).
///
/// # Errors
///
/// As [`remove_file`].
pub fn remove_file_unflushed(path: &Path) -> Result<bool, FsError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(FsError::new("remove", path, e)),
    }
}

/// Removes one of dashkey's own files (its directory's files, the SDK key file), refusing a
/// symlink there: the link is not followed, so its target survives. Returns whether
/// something was removed.
///
/// # Errors
///
/// [`FsError`] naming a link, or for any failure other than absence.
pub fn remove_own(path: &Path) -> Result<bool, FsError> {
    refuse_link(path, "remove")?;
    remove_file(path)
}

/// Like [`remove_own`], without flushing the directory (see [`write_unflushed`]).
///
/// # Errors
///
/// As [`remove_own`].
pub fn remove_own_unflushed(path: &Path) -> Result<bool, FsError> {
    refuse_link(path, "remove")?;
    remove_file_unflushed(path)
}

/// Removes temporary files left by a write that was killed half-way. Only called under the
/// lock, so no other dashkey is using them.
pub fn remove_stale_temporaries(target: &Path) {
    let Some(dir) = target.parent() else { return };
    let prefix = temp_prefix(target);
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with(&prefix) && file_name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Removes every dashkey temporary in a directory dashkey owns.
pub fn remove_stale_temporaries_in(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".dashkey-") && name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// An exclusive lock held until dropped, so that concurrent dashkey runs take turns.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Takes an exclusive lock on a directory, waiting for another holder to finish. On Unix
/// the directory itself is locked, so no lock file is ever created (or left behind); on
/// Windows, where a directory cannot be opened as a file, a `.dashkey.lock` file in it is.
///
/// # Errors
///
/// [`FsError`] when the directory cannot be opened or locked.
pub fn lock_dir(dir: &Path) -> Result<Lock, FsError> {
    let file = sys::open_for_lock(dir).map_err(|e| FsError::new("open for locking", dir, e))?;
    file.lock().map_err(|e| FsError::new("lock", dir, e))?;
    Ok(Lock { _file: file })
}

#[cfg(unix)]
#[path = "fsx/unix.rs"]
mod sys;
#[cfg(windows)]
#[path = "fsx/windows.rs"]
mod sys;

#[cfg(all(test, unix))]
mod tests;
