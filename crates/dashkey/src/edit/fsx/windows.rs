//! The Windows side of [`super`]: link counts, and the lock on a file in the directory.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::path::Path;

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
