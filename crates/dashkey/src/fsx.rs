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

use zeroize::Zeroizing;

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
        "{} is a symbolic link; dashkey keeps your key only in a real directory: remove the link \
         and run dashkey again",
        path.display()
    )]
    Symlink {
        /// The directory.
        path: PathBuf,
    },
    /// It is not a directory.
    #[error("{} is not a directory: move it away and run dashkey again", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// Another user owns it, and could read or replace the key.
    #[error(
        "{} belongs to user id {owner}, not to you (user id {me}); dashkey keeps your key only \
         in a directory you own: remove it (or `chown` it to yourself) and run dashkey again",
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
            return Ok(Written { real_path: target, created: false });
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
    sys::sync_dir(dir);
    Ok(Written { real_path: target, created: existing.is_none() })
}

/// Refuses a symlink at one of dashkey's own places (its directory, the files in it, the
/// SDK key file): a link planted there would carry the key out of the private directory,
/// or make `unset` delete the link's target.
///
/// # Errors
///
/// [`FsError`] naming the link.
pub fn refuse_link(path: &Path, op: &'static str) -> Result<(), FsError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(FsError::new(
            op,
            path,
            io::Error::other(
                "it is a symbolic link, and dashkey never writes or removes through a link in \
                 its own places: remove the link and run dashkey again",
            ),
        )),
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

/// Journals are hidden files named after the inode they protect.
const JOURNAL_PREFIX: &str = ".dashkey-journal-";
const JOURNAL_MAGIC: &[u8] = b"dashkey journal 1\n";

/// What a journal says about the write it protects.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct JournalHeader {
    path: PathBuf,
    dev: u64,
    ino: u64,
    new_sha256: String,
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn journal_path(journal_dir: &Path, dev: u64, ino: u64) -> PathBuf {
    journal_dir.join(format!("{JOURNAL_PREFIX}{dev}-{ino}"))
}

/// Rewrites a hard-linked file through its existing inode, so every name sees the change,
/// under a journal (see [`write()`]).
fn write_in_place(
    path: &Path,
    content: &[u8],
    meta: &Metadata,
    mode: Option<u32>,
    journal_dir: &Path,
) -> Result<(), FsError> {
    let (dev, ino) = sys::identity(meta);
    let old = Zeroizing::new(fs::read(path).map_err(|e| FsError::new("read", path, e))?);
    let old_mode = self::mode(meta);
    let header =
        JournalHeader { path: path.to_path_buf(), dev, ino, new_sha256: sha256_hex(content) };
    let mut journal = Zeroizing::new(JOURNAL_MAGIC.to_vec());
    let header = serde_json::to_vec(&header)
        .map_err(|e| FsError::new("journal the write of", path, io::Error::other(e)))?;
    journal.extend_from_slice(&header);
    journal.push(b'\n');
    journal.extend_from_slice(&old);
    // dashkey's directory may be gone (an `unset` after the user deleted it): make it again;
    // the `unset` that needed it removes it when done.
    create_private_dir(journal_dir)?;
    let journal_file = journal_path(journal_dir, dev, ino);
    let private =
        WriteOptions { mode: 0o600, force_mode: true, follow_links: false, journal_dir: None };
    write(&journal_file, &journal, &private)?;
    // A journal that cannot be removed counts as a failed write: the old bytes go back, so
    // that this file agrees with the rest of the transaction, which is rolled back too.
    let written = overwrite(path, content, (dev, ino), mode)
        .and_then(|()| remove_file(&journal_file).map(|_| ()));
    match written {
        Ok(()) => Ok(()),
        Err(error) => {
            let restored =
                overwrite(path, &old, (dev, ino), old_mode).and_then(|()| verify(path, &old, None));
            match restored {
                Ok(()) => {
                    let _ = remove_file(&journal_file);
                    Err(error)
                }
                Err(_) => Err(FsError { kept: Some(journal_file), ..error }),
            }
        }
    }
}

/// Overwrites the file with this identity from offset 0, cuts it to length and flushes it.
fn overwrite(
    path: &Path,
    content: &[u8],
    identity: (u64, u64),
    mode: Option<u32>,
) -> Result<(), FsError> {
    let mut file = sys::open_existing(path).map_err(|e| FsError::new("open", path, e))?;
    let meta = file.metadata().map_err(|e| FsError::new("inspect", path, e))?;
    ensure_regular(path, &meta)?;
    if sys::identity(&meta) != identity {
        return Err(FsError::new(
            "write",
            path,
            io::Error::other("it was replaced by another file while dashkey was writing it"),
        ));
    }
    if let Some(mode) = mode {
        sys::set_mode(&file, mode).map_err(|e| FsError::new("set the mode of", path, e))?;
    }
    file.write_all(content).map_err(|e| FsError::new("write", path, e))?;
    file.set_len(content.len() as u64).map_err(|e| FsError::new("cut to length", path, e))?;
    file.sync_all().map_err(|e| FsError::new("flush", path, e))
}

/// Re-reads a file and checks that it holds `content` (and has `mode`, when given).
///
/// # Errors
///
/// [`FsError`] when it cannot be read or differs.
pub fn verify(path: &Path, content: &[u8], mode: Option<u32>) -> Result<(), FsError> {
    let now = Zeroizing::new(fs::read(path).map_err(|e| FsError::new("re-read", path, e))?);
    if now.as_slice() != content {
        return Err(FsError::new("verify", path, io::Error::other("it holds other bytes")));
    }
    if let Some(mode) = mode {
        let meta = fs::metadata(path).map_err(|e| FsError::new("inspect", path, e))?;
        if self::mode(&meta).is_some_and(|m| m != mode) {
            return Err(FsError::new("verify", path, io::Error::other("its mode differs")));
        }
    }
    Ok(())
}

/// What [`recover`] did with one journal left by a killed in-place write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// The file was torn; its old bytes are back.
    RestoredOld {
        /// The file.
        path: PathBuf,
    },
    /// The file already held the new bytes (the kill came after the write).
    KeptNew {
        /// The file.
        path: PathBuf,
    },
    /// The file still held its old bytes (the kill came before the write).
    Untouched {
        /// The file.
        path: PathBuf,
    },
    /// The journal could not be applied; it is kept.
    Stuck {
        /// The file it protects (when the journal could be read).
        path: Option<PathBuf>,
        /// The journal, holding the old bytes.
        journal: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The journals of in-place writes that were killed half-way, in `dir` (dashkey's
/// directory): (file, journal).
pub fn pending_journals(dir: &Path) -> Vec<(Option<PathBuf>, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(Option<PathBuf>, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(JOURNAL_PREFIX))
        .map(|e| {
            let journal = e.path();
            (read_journal(&journal).ok().map(|(h, _)| h.path), journal)
        })
        .collect();
    out.sort();
    out
}

fn read_journal(journal: &Path) -> Result<(JournalHeader, Zeroizing<Vec<u8>>), String> {
    refuse_link(journal, "read").map_err(|e| e.to_string())?;
    let bytes = Zeroizing::new(fs::read(journal).map_err(|e| e.to_string())?);
    let rest = bytes.strip_prefix(JOURNAL_MAGIC).ok_or("it is not a dashkey journal")?;
    let end = rest.iter().position(|b| *b == b'\n').ok_or("its header is cut short")?;
    let header: JournalHeader =
        serde_json::from_slice(&rest[..end]).map_err(|e| format!("its header is damaged: {e}"))?;
    Ok((header, Zeroizing::new(rest[end + 1..].to_vec())))
}

/// Completes the in-place writes that a killed dashkey left half-done: each file gets its
/// old bytes back unless it already holds the new ones; then its journal goes. Call it only
/// under dashkey's lock.
pub fn recover(dir: &Path) -> Vec<Recovery> {
    pending_journals(dir).into_iter().map(|(_, journal)| recover_one(&journal)).collect()
}

fn recover_one(journal: &Path) -> Recovery {
    let stuck = |path: Option<PathBuf>, reason: String| Recovery::Stuck {
        path,
        journal: journal.to_path_buf(),
        reason,
    };
    let (header, old) = match read_journal(journal) {
        Ok(found) => found,
        Err(reason) => return stuck(None, reason),
    };
    let path = header.path.clone();
    let meta = match fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_file() && sys::identity(&meta) == (header.dev, header.ino) => meta,
        Ok(_) => return stuck(Some(path), "the file was replaced since".to_string()),
        Err(e) => return stuck(Some(path), e.to_string()),
    };
    let current = match fs::read(&path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) => return stuck(Some(path), e.to_string()),
    };
    let outcome = if sha256_hex(&current) == header.new_sha256 {
        Recovery::KeptNew { path: path.clone() }
    } else if current.as_slice() == old.as_slice() {
        Recovery::Untouched { path: path.clone() }
    } else {
        let restored = overwrite(&path, &old, (header.dev, header.ino), mode(&meta))
            .and_then(|()| verify(&path, &old, None));
        if let Err(e) = restored {
            return stuck(Some(path), e.to_string());
        }
        Recovery::RestoredOld { path: path.clone() }
    };
    match remove_file(journal) {
        Ok(_) => outcome,
        Err(e) => stuck(Some(path), e.to_string()),
    }
}

/// Saves bytes that could not be put back into a 0600 file in `dir`, so the user can; returns
/// where.
pub fn save_rescue(dir: &Path, original: &Path, content: &[u8]) -> Option<PathBuf> {
    let name = original.file_name()?.to_string_lossy().into_owned();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = dir.join(format!("{}.dashkey-rescue-{stamp}", name.trim_start_matches('.')));
    let private =
        WriteOptions { mode: 0o600, force_mode: true, follow_links: false, journal_dir: None };
    write(&path, content, &private).ok().map(|_| path)
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

/// Lists, before any of them is created or removed, the directories a run is about to
/// create or remove (a 0600 JSON array, never written through a link). A directory cannot be
/// created together with the record that names it, so a run killed between the two would
/// otherwise leave empty directories that no later run knows are dashkey's.
///
/// # Errors
///
/// [`FsError`] when the journal cannot be written.
pub fn write_dirs_journal(journal: &Path, dirs: &[PathBuf]) -> Result<(), FsError> {
    let listed: Vec<String> = dirs.iter().map(|d| d.to_string_lossy().into_owned()).collect();
    let bytes = serde_json::to_vec(&listed).unwrap_or_default();
    let options =
        WriteOptions { mode: 0o600, force_mode: true, follow_links: false, journal_dir: None };
    write(journal, &bytes, &options).map(|_| ())
}

/// Finishes what a killed run's directory journal lists: each listed directory inside `home`
/// that is empty is removed (deepest first), and the journal goes. A directory holding
/// anything (the record, a key file) is kept: the record names it for `unset`. Only called
/// under the lock.
pub fn recover_dirs(journal: &Path, home: &Path) {
    let Ok(meta) = fs::symlink_metadata(journal) else { return };
    if meta.is_file() && meta.len() <= 64 * 1024 {
        let listed: Vec<String> = fs::read(journal)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut dirs: Vec<PathBuf> = listed
            .into_iter()
            .map(PathBuf::from)
            .filter(|d| d.is_absolute() && d.starts_with(home) && d != home)
            .collect();
        // Deepest first, so a parent is empty once its children are gone.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            if fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                let _ = fs::remove_dir(&dir);
            }
        }
    }
    let _ = remove_own(journal);
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

    pub fn create_dir_all(path: &Path, mode: u32) -> io::Result<()> {
        // The umask narrows `mode` further; it cannot widen it.
        std::fs::DirBuilder::new().recursive(true).mode(mode).create(path)
    }

    pub fn chmod(path: &Path, mode: u32) -> io::Result<()> {
        std::fs::set_permissions(path, Permissions::from_mode(mode))
    }

    pub fn set_mode(file: &File, mode: u32) -> io::Result<()> {
        file.set_permissions(Permissions::from_mode(mode))
    }

    pub fn identity(metadata: &Metadata) -> (u64, u64) {
        (metadata.dev(), metadata.ino())
    }

    pub fn foreign_owner(metadata: &Metadata) -> Option<(u32, u32)> {
        let me = nix::unistd::geteuid().as_raw();
        (me != 0 && metadata.uid() != me).then_some((metadata.uid(), me))
    }

    pub fn kind(metadata: &Metadata) -> &'static str {
        use std::os::unix::fs::FileTypeExt;
        let kind = metadata.file_type();
        if kind.is_dir() {
            "a directory"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_symlink() {
            "a symbolic link"
        } else {
            "a special file"
        }
    }

    /// Opens an existing file for writing without following a link, truncating, or
    /// blocking (a FIFO swapped in is then refused by the caller's check).
    pub fn open_existing(path: &Path) -> io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(path)
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

    pub fn create_dir_all(path: &Path, _mode: u32) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    pub fn chmod(_path: &Path, _mode: u32) -> io::Result<()> {
        Ok(())
    }

    pub fn set_mode(_file: &File, _mode: u32) -> io::Result<()> {
        Ok(())
    }

    pub fn identity(_metadata: &Metadata) -> (u64, u64) {
        (0, 0)
    }

    pub fn foreign_owner(_metadata: &Metadata) -> Option<(u32, u32)> {
        None
    }

    pub fn kind(metadata: &Metadata) -> &'static str {
        if metadata.is_dir() { "a directory" } else { "a special file" }
    }

    pub fn open_existing(path: &Path) -> io::Result<File> {
        OpenOptions::new().write(true).open(path)
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
    fn a_torn_in_place_write_is_recovered_from_its_journal() {
        let dir = tempfile::tempdir().unwrap();
        let journals = dir.path().join("dashkey");
        fs::create_dir(&journals).unwrap();
        let a = dir.path().join("a");
        fs::write(&a, "old old old\n").unwrap();
        fs::hard_link(&a, dir.path().join("b")).unwrap();
        let options = WriteOptions {
            mode: 0o644,
            force_mode: false,
            follow_links: true,
            journal_dir: Some(&journals),
        };
        // Simulate a kill after the journal and half the write: journal the write, then tear it.
        let meta = fs::metadata(&a).unwrap();
        let (dev, ino) = sys::identity(&meta);
        let header = JournalHeader { path: a.clone(), dev, ino, new_sha256: sha256_hex(b"new\n") };
        let mut journal = JOURNAL_MAGIC.to_vec();
        journal.extend(serde_json::to_vec(&header).unwrap());
        journal.push(b'\n');
        journal.extend(b"old old old\n");
        write(&journal_path(&journals, dev, ino), &journal, &options).unwrap();
        overwrite(&a, b"new\n", (dev, ino), None).unwrap();
        fs::OpenOptions::new().write(true).open(&a).unwrap().set_len(8).unwrap();
        let torn = fs::read(&a).unwrap();
        assert_ne!(torn, b"old old old\n");
        assert_eq!(pending_journals(&journals).len(), 1);
        assert_eq!(recover(&journals), [Recovery::RestoredOld { path: a.clone() }]);
        assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"old old old\n");
        assert!(pending_journals(&journals).is_empty());

        // A write that completed before the kill keeps its new bytes.
        write(&journal_path(&journals, dev, ino), &journal, &options).unwrap();
        overwrite(&a, b"new\n", (dev, ino), None).unwrap();
        assert_eq!(recover(&journals), [Recovery::KeptNew { path: a.clone() }]);
        assert_eq!(fs::read(&a).unwrap(), b"new\n");
        // And a normal in-place write leaves no journal.
        write(&a, b"newer\n", &options).unwrap();
        assert!(pending_journals(&journals).is_empty());
        assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"newer\n");
    }

    #[test]
    fn only_regular_files_are_written_and_own_places_refuse_links() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let error = write_atomic(&sub, b"x", 0o600).unwrap_err();
        assert!(error.to_string().contains("a directory, not a regular file"), "{error}");
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let link = dir.path().join("own");
        symlink(&victim, &link).unwrap();
        let own =
            WriteOptions { mode: 0o600, force_mode: true, follow_links: false, journal_dir: None };
        let error = write(&link, b"secret", &own).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert!(remove_own(&link).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn a_wide_private_dir_is_narrowed_and_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dashkey");
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o775)).unwrap();
        assert_eq!(secure_private_dir(&path).unwrap(), Some(0o775));
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(secure_private_dir(&path).unwrap(), None);
        let link = dir.path().join("link");
        symlink(&path, &link).unwrap();
        assert!(matches!(secure_private_dir(&link), Err(PrivateDirError::Symlink { .. })));
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
