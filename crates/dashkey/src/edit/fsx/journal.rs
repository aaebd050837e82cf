//! The write-ahead journals that make dashkey's writes survivable: the journal of an
//! in-place write of a hard-linked file (old bytes, new bytes' hash, the inode), which
//! [`recover`] completes or undoes after a kill, and the directory journal, which lists the
//! directories a run is about to create or remove so that [`recover_dirs`] removes the empty
//! ones a killed run left. Kept apart from [`super`]'s atomic writes because recovery is a
//! protocol of its own: what is written first, what a later run may trust.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::*;
/// Journals are hidden files named after the inode they protect.
const JOURNAL_PREFIX: &str = ".dashkey-journal-";
pub(super) const JOURNAL_MAGIC: &[u8] = b"dashkey journal 1\n";

/// What a journal says about the write it protects.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct JournalHeader {
    pub(super) path: PathBuf,
    pub(super) dev: u64,
    pub(super) ino: u64,
    pub(super) new_sha256: String,
}

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn journal_path(journal_dir: &Path, dev: u64, ino: u64) -> PathBuf {
    journal_dir.join(format!("{JOURNAL_PREFIX}{dev}-{ino}"))
}

/// Rewrites a hard-linked file through its existing inode, so every name sees the change,
/// under a journal (see [`write()`]).
pub(super) fn write_in_place(
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
pub(super) fn overwrite(
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
