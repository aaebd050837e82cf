//! The unix half of [`super`]: open without blocking on a FIFO or taking a terminal, and
//! name what a path is when it is not a regular file, and its permission bits.

use super::NotRegular;
use std::fs::{File, FileType, Metadata, OpenOptions};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Opens for reading without blocking (a FIFO with no writer) and without taking a
/// controlling terminal.
pub fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY | nix::libc::O_CLOEXEC)
        .open(path)
}

pub fn special(file_type: &FileType) -> NotRegular {
    if file_type.is_fifo() {
        NotRegular::Fifo
    } else if file_type.is_socket() {
        NotRegular::Socket
    } else if file_type.is_char_device() {
        NotRegular::CharDevice
    } else if file_type.is_block_device() {
        NotRegular::BlockDevice
    } else {
        NotRegular::Other
    }
}

pub fn mode(metadata: &Metadata) -> Option<u32> {
    Some(metadata.permissions().mode() & 0o7777)
}
