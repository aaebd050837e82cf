//! File-system operations with the care a secret and a user's dotfiles need.
//!
//! - **Atomic**: a write goes to a temporary file in the target's own directory, created
//!   with its final mode (never chmod-after-write, so a secret is never briefly readable),
//!   is flushed to disk, and is renamed over the target; then the directory is flushed.
//! - **Symlinks are followed, never replaced**: dotfile managers (stow, chezmoi, yadm) link
//!   `~/.bashrc` into a repository; dashkey writes the link's target and keeps the link.
//! - **Hard links are kept**: a file with several names is rewritten in place, because a
//!   rename would silently split it.
//! - **Owner and mode are kept** for files that already exist.
//!
//! Modes are a Unix concept; on Windows, access is governed by the ACLs of the user's
//! profile, so the Windows variants create files normally and report no mode.

use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file-system operation failed; the message names the operation and the path.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {}: {source}", path.display())]
pub struct FsError {
    /// What was being done ("write", "read", "create directory", …).
    pub op: &'static str,
    /// The path involved.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: io::Error,
}

impl FsError {
    /// Wraps an I/O error with its operation and path.
    pub fn new(op: &'static str, path: &Path, source: io::Error) -> FsError {
        FsError { op, path: path.to_path_buf(), source }
    }
}

/// Permission bits of a file (`0o600`), where the platform has them.
pub fn mode(metadata: &Metadata) -> Option<u32> {
    sys::mode(metadata)
}

/// True when users other than the owner can read the file.
pub fn readable_by_others(mode: u32) -> bool {
    mode & 0o044 != 0
}

/// Reads a file, or `None` when it does not exist, through [`crate::read`]: never blocks,
/// refuses what is not a regular file, and reads at most [`crate::read::Cap::STARTUP`].
///
/// # Errors
///
/// [`FsError`] for any failure other than absence.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, FsError> {
    crate::read::read_optional(path, crate::read::Cap::STARTUP)
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
/// (0700). An existing directory is left as it is.
///
/// # Errors
///
/// [`FsError`] when the directory cannot be created.
pub fn create_private_dir(path: &Path) -> Result<(), FsError> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| FsError::new("create directory", parent, e))?;
    }
    match sys::create_dir(path, 0o700) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(FsError::new("create directory", path, e)),
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

/// Replaces the content of `path` atomically, following symlinks. A new file gets
/// `new_mode`; an existing one keeps its mode and owner.
///
/// # Errors
///
/// [`FsError`] naming the file; on error the target is unchanged.
pub fn write_atomic(path: &Path, content: &[u8], new_mode: u32) -> Result<Written, FsError> {
    write_with(path, content, new_mode, false)
}

/// Like [`write_atomic`], but the file always ends up with `mode`, even when it existed with
/// another one: for files that receive a secret (`dashkey export --output`).
///
/// # Errors
///
/// [`FsError`] naming the file; on error the target is unchanged.
pub fn write_private(path: &Path, content: &[u8], mode: u32) -> Result<Written, FsError> {
    write_with(path, content, mode, true)
}

fn write_with(
    path: &Path,
    content: &[u8],
    new_mode: u32,
    force_mode: bool,
) -> Result<Written, FsError> {
    let target = write_target(path)?;
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let existing = match fs::metadata(&target) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(FsError::new("inspect", &target, e)),
    };
    if let Some(meta) = &existing {
        if meta.is_dir() {
            return Err(FsError::new("write", &target, io::Error::other("it is a directory")));
        }
        if sys::link_count(meta) > 1 && !force_mode {
            write_in_place(&target, content)?;
            return Ok(Written { real_path: target, created: false });
        }
    }
    let mode =
        if force_mode { new_mode } else { existing.as_ref().and_then(mode).unwrap_or(new_mode) };
    let mut temp = sys::temp_builder(mode)
        .prefix(&temp_prefix(&target))
        .suffix(".tmp")
        .tempfile_in(dir)
        // tempfile's error repeats the path; keep only what the OS said.
        .map_err(|e| {
            let e = e.raw_os_error().map_or(e, std::io::Error::from_raw_os_error);
            FsError::new("create a temporary file in", dir, e)
        })?;
    temp.write_all(content).map_err(|e| FsError::new("write", temp.path(), e))?;
    if let Some(meta) = &existing {
        sys::copy_owner(temp.as_file(), meta)
            .map_err(|e| FsError::new("keep the owner of", &target, e))?;
    }
    temp.as_file().sync_all().map_err(|e| FsError::new("flush", temp.path(), e))?;
    temp.persist(&target).map_err(|e| FsError::new("replace", &target, e.error))?;
    sys::sync_dir(dir);
    Ok(Written { real_path: target, created: existing.is_none() })
}

/// Temporary files are hidden and name their target: `.bashrc.dashkey-XXXX.tmp`.
fn temp_prefix(target: &Path) -> String {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.starts_with('.') { format!("{name}.dashkey-") } else { format!(".{name}.dashkey-") }
}

/// Rewrites a hard-linked file through its existing inode, so every name sees the change.
fn write_in_place(path: &Path, content: &[u8]) -> Result<(), FsError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| FsError::new("open", path, e))?;
    file.write_all(content).map_err(|e| FsError::new("write", path, e))?;
    file.sync_all().map_err(|e| FsError::new("flush", path, e))
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
    match fs::remove_file(path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                sys::sync_dir(dir);
            }
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(FsError::new("remove", path, e)),
    }
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
mod sys {
    use std::fs::{File, Metadata, Permissions};
    use std::io;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    use std::path::Path;

    pub fn mode(metadata: &Metadata) -> Option<u32> {
        Some(metadata.permissions().mode() & 0o7777)
    }

    pub fn link_count(metadata: &Metadata) -> u64 {
        metadata.nlink()
    }

    pub fn create_dir(path: &Path, mode: u32) -> io::Result<()> {
        std::fs::DirBuilder::new().mode(mode).create(path)
    }

    pub fn temp_builder(mode: u32) -> tempfile::Builder<'static, 'static> {
        let mut builder = tempfile::Builder::new();
        builder.permissions(Permissions::from_mode(mode));
        builder
    }

    pub fn copy_owner(file: &File, original: &Metadata) -> io::Result<()> {
        let current = file.metadata()?;
        if current.uid() == original.uid() && current.gid() == original.gid() {
            return Ok(());
        }
        std::os::unix::fs::fchown(file, Some(original.uid()), Some(original.gid()))
    }

    pub fn sync_dir(dir: &Path) {
        if let Ok(handle) = File::open(dir) {
            let _ = handle.sync_all();
        }
    }

    pub fn writable(path: &Path) -> bool {
        nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok()
    }

    pub fn open_for_lock(dir: &Path) -> io::Result<File> {
        File::open(dir)
    }
}

#[cfg(windows)]
mod sys {
    use std::fs::{File, Metadata, OpenOptions};
    use std::io;
    use std::path::Path;

    pub fn mode(_metadata: &Metadata) -> Option<u32> {
        None
    }

    pub fn link_count(_metadata: &Metadata) -> u64 {
        1
    }

    pub fn create_dir(path: &Path, _mode: u32) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    pub fn temp_builder(_mode: u32) -> tempfile::Builder<'static, 'static> {
        tempfile::Builder::new()
    }

    pub fn copy_owner(_file: &File, _original: &Metadata) -> io::Result<()> {
        Ok(())
    }

    pub fn sync_dir(_dir: &Path) {}

    pub fn open_private(path: &Path) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
    }

    pub fn writable(path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|meta| !meta.permissions().readonly())
    }

    pub fn open_for_lock(dir: &Path) -> io::Result<File> {
        open_private(&dir.join(".dashkey.lock"))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    #[test]
    fn new_files_are_created_with_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let written = write_atomic(&path, b"x", 0o600).unwrap();
        assert!(written.created);
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn existing_mode_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rc");
        fs::write(&path, "a").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"b", 0o600).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(fs::read(&path).unwrap(), b"b");
    }

    #[test]
    fn symlinks_are_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("dotfiles")).unwrap();
        let target = dir.path().join("dotfiles/bashrc");
        fs::write(&target, "a\n").unwrap();
        let link = dir.path().join(".bashrc");
        symlink("dotfiles/bashrc", &link).unwrap();
        let written = write_atomic(&link, b"b\n", 0o600).unwrap();
        assert_eq!(written.real_path, target);
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&link).unwrap(), b"b\n");
    }

    #[test]
    fn hard_links_are_edited_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, "1").unwrap();
        fs::hard_link(&a, &b).unwrap();
        write_atomic(&a, b"2", 0o600).unwrap();
        assert_eq!(fs::read(&b).unwrap(), b"2");
        assert_eq!(fs::metadata(&a).unwrap().ino(), fs::metadata(&b).unwrap().ino());
    }

    #[test]
    fn private_dir_is_0700() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/dashkey");
        create_private_dir(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn stale_temporaries_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join(".bashrc");
        fs::write(dir.path().join(".bashrc.dashkey-abc.tmp"), "torn").unwrap();
        fs::write(dir.path().join("keep"), "").unwrap();
        remove_stale_temporaries(&target);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
