//! The Windows half of [`super`]: a plain open, no special files to name, no mode bits.

use super::NotRegular;
use std::fs::{File, FileType, Metadata};
use std::path::Path;

pub fn open(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

pub fn special(_: &FileType) -> NotRegular {
    NotRegular::Other
}

pub fn mode(_: &Metadata) -> Option<u32> {
    None
}
