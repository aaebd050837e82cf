//! Reading a file whose path a user (or anyone who can plant a file) controls, without
//! hanging and without reading without end.
//!
//! A startup file, a key file, `$ENV`, an `EnvironmentFile=`, a supervisord include can each
//! be a FIFO (an `open` that waits forever for a writer), a link to `/dev/zero` (a read that
//! never ends), a terminal, a socket or a directory. Every read of such a path goes through
//! [`read`]:
//!
//! - the path's metadata is checked first, so a device is never even opened;
//! - the open never blocks (`O_NONBLOCK`) and never takes a controlling terminal
//!   (`O_NOCTTY`) on Unix;
//! - the handle is checked again (`fstat`), so a file swapped for a FIFO between the two
//!   checks is refused too;
//! - anything that is not a regular file is refused with [`Refusal::NotRegular`];
//! - at most a cap of bytes is read, chosen per kind of file, and a larger file is refused
//!   with [`Refusal::TooLarge`] rather than read in part.
//!
//! The caps are far above any legitimate file of the kind and far below what would hurt:
//!
//! | kind | cap | why |
//! |---|---|---|
//! | [`Cap::KEY`] key files (`~/.dashscope/api_key`, `DASHSCOPE_API_KEY_FILE_PATH`, dashkey's own) | 1 MiB | a key is ~40 bytes; the SDKs read the whole file |
//! | [`Cap::CONFIG`] configuration (`config.toml`, the record, units, `EnvironmentFile=`, supervisord, sudoers, desktop files) | 16 MiB | hand-written files of a few KiB |
//! | [`Cap::STARTUP`] startup files and what they source | 256 MiB | generated `.bashrc`s of tens of MiB exist and must still work |
//! | [`Cap::PROC`] `/proc` files (`environ`, `cmdline`, `stat`) | 16 MiB | the kernel bounds them by the argument limit |
//!
//! `/proc` files report a size of 0, so the cap is enforced while reading, never from the
//! size alone.

use std::fs::Metadata;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How many bytes a read may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap(pub u64);

impl Cap {
    /// Key files.
    pub const KEY: Cap = Cap(1 << 20);
    /// Configuration files.
    pub const CONFIG: Cap = Cap(16 << 20);
    /// Shell startup files.
    pub const STARTUP: Cap = Cap(256 << 20);
    /// Files under `/proc`.
    pub const PROC: Cap = Cap(16 << 20);
}

/// What a path is when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotRegular {
    /// A directory.
    Directory,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character device (a terminal, `/dev/zero`).
    CharDevice,
    /// A block device (a disk).
    BlockDevice,
    /// Anything else.
    Other,
}

impl NotRegular {
    /// "a FIFO (named pipe)", for messages.
    pub fn describe(self) -> &'static str {
        match self {
            NotRegular::Directory => "a directory",
            NotRegular::Fifo => "a FIFO (named pipe)",
            NotRegular::Socket => "a socket",
            NotRegular::CharDevice => "a character device",
            NotRegular::BlockDevice => "a block device",
            NotRegular::Other => "a special file",
        }
    }
}

/// Why dashkey refused to read a file that the operating system would have opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The path is not a regular file; it was not read.
    #[error("it is {}, not a regular file", .0.describe())]
    NotRegular(NotRegular),
    /// The file is larger than the cap for its kind; it was not read.
    #[error("it is larger than {}, more than a file of this kind can be", size(.0.0))]
    TooLarge(Cap),
}

/// Why a file could not be read (the path is in [`ReadError`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Problem {
    /// The operating system refused (absent, permission denied, …).
    #[error("{0}")]
    Io(#[source] Arc<io::Error>),
    /// dashkey refused: not a regular file, or too large.
    #[error("{0}")]
    Refused(Refusal),
    /// The file is not UTF-8 text (only from [`read_text`]).
    #[error("it is not UTF-8 text")]
    NotUtf8,
}

/// A file could not be read; the message names it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot read {}: {problem}", path.display())]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub problem: Problem,
}

impl ReadError {
    fn new(path: &Path, problem: Problem) -> ReadError {
        ReadError { path: path.to_path_buf(), problem }
    }

    fn io(path: &Path, error: io::Error) -> ReadError {
        ReadError::new(path, Problem::Io(Arc::new(error)))
    }

    /// True when the file was refused by dashkey (not a regular file, too large), not by
    /// the operating system.
    pub fn refusal(&self) -> Option<Refusal> {
        match self.problem {
            Problem::Refused(refusal) => Some(refusal),
            _ => None,
        }
    }

    /// True when the file (or a directory above it) does not exist.
    pub fn is_absent(&self) -> bool {
        matches!(&self.problem, Problem::Io(e)
            if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory))
    }

    /// The kind of I/O error this amounts to, for callers that classify by kind.
    pub fn kind(&self) -> io::ErrorKind {
        match &self.problem {
            Problem::Io(e) => e.kind(),
            Problem::Refused(Refusal::NotRegular(NotRegular::Directory)) => {
                io::ErrorKind::IsADirectory
            }
            Problem::Refused(Refusal::NotRegular(_)) | Problem::NotUtf8 => {
                io::ErrorKind::InvalidData
            }
            Problem::Refused(Refusal::TooLarge(_)) => io::ErrorKind::FileTooLarge,
        }
    }

    /// The error as an [`io::Error`] of [`ReadError::kind`] whose message is the problem
    /// (without the path, for callers that name the path themselves).
    pub fn into_io(self) -> io::Error {
        let kind = self.kind();
        match self.problem {
            Problem::Io(e) => Arc::try_unwrap(e).unwrap_or_else(|e| io::Error::new(e.kind(), e)),
            problem => io::Error::new(kind, problem),
        }
    }
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 { format!("{} MiB", bytes >> 20) } else { format!("{} KiB", bytes >> 10) }
}

/// The permission bits of a file that was read (`None` where the OS has none), so that a
/// reader can say "readable by others" without depending on the writers.
pub fn mode(metadata: &Metadata) -> Option<u32> {
    sys::mode(metadata)
}

/// Reads a regular file of at most `cap` bytes.
///
/// # Errors
///
/// [`ReadError`] naming the path: the I/O error, not a regular file, or larger than `cap`.
pub fn read(path: &Path, cap: Cap) -> Result<Vec<u8>, ReadError> {
    let err = |problem| ReadError::new(path, problem);
    let io = |error| ReadError::io(path, error);
    // Checked before opening, so that a device is never opened at all.
    let before = std::fs::metadata(path).map_err(io)?;
    regular(&before, cap).map_err(err)?;
    let file = sys::open(path).map_err(io)?;
    // Checked again on the handle: the path may have been replaced in between.
    let metadata = file.metadata().map_err(io)?;
    regular(&metadata, cap).map_err(err)?;
    let expected = usize::try_from(metadata.len().min(cap.0)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(expected.saturating_add(1));
    file.take(cap.0.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > cap.0 {
        return Err(err(Problem::Refused(Refusal::TooLarge(cap))));
    }
    Ok(bytes)
}

/// Like [`read`], `None` when the file does not exist.
///
/// # Errors
///
/// As [`read`], for anything but absence.
pub fn read_optional(path: &Path, cap: Cap) -> Result<Option<Vec<u8>>, ReadError> {
    match read(path, cap) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.is_absent() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Like [`read`], for a file that must be UTF-8 text.
///
/// # Errors
///
/// As [`read`], and [`Problem::NotUtf8`].
pub fn read_text(path: &Path, cap: Cap) -> Result<String, ReadError> {
    String::from_utf8(read(path, cap)?).map_err(|_| ReadError::new(path, Problem::NotUtf8))
}

/// Like [`read`], for a configuration file whose invalid UTF-8 is replaced, as the programs
/// that read those files do.
///
/// # Errors
///
/// As [`read`].
pub fn read_lossy(path: &Path, cap: Cap) -> Result<String, ReadError> {
    Ok(String::from_utf8_lossy(&read(path, cap)?).into_owned())
}

/// Reads a file under `/proc` (or a test's copy of it), at most [`Cap::PROC`] bytes.
///
/// # Errors
///
/// As [`read`].
pub fn read_proc(path: &Path) -> Result<Vec<u8>, ReadError> {
    read(path, Cap::PROC)
}

fn regular(metadata: &Metadata, cap: Cap) -> Result<(), Problem> {
    let file_type = metadata.file_type();
    let refusal = if file_type.is_dir() {
        Refusal::NotRegular(NotRegular::Directory)
    } else if !file_type.is_file() {
        Refusal::NotRegular(sys::special(&file_type))
    } else if metadata.len() > cap.0 {
        Refusal::TooLarge(cap)
    } else {
        return Ok(());
    };
    Err(Problem::Refused(refusal))
}

#[cfg(unix)]
#[path = "read/unix.rs"]
mod sys;
#[cfg(windows)]
#[path = "read/windows.rs"]
mod sys;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_whole_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read(&path, Cap(5)).unwrap(), b"12345");
        let error = read(&path, Cap(4)).unwrap_err();
        assert_eq!(error.refusal(), Some(Refusal::TooLarge(Cap(4))), "{error}");
        assert!(read_optional(&dir.path().join("absent"), Cap::KEY).unwrap().is_none());
        let error = read(dir.path(), Cap::KEY).unwrap_err();
        assert_eq!(error.refusal(), Some(Refusal::NotRegular(NotRegular::Directory)));
        assert_eq!(error.kind(), io::ErrorKind::IsADirectory);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let error = read(&path, Cap::STARTUP).unwrap_err();
        assert_eq!(error.refusal(), Some(Refusal::NotRegular(NotRegular::Fifo)), "{error}");
        assert!(error.to_string().contains("pipe: it is a FIFO"), "{error}");
        // The handle check alone (as when the path is swapped after the first check).
        let file = sys::open(&path).unwrap();
        let metadata = file.metadata().unwrap();
        let refused = regular(&metadata, Cap::KEY);
        assert!(matches!(refused, Err(Problem::Refused(Refusal::NotRegular(NotRegular::Fifo)))));
    }
}
