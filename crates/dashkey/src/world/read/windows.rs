//! The Windows half of [`super`]: a plain open, and no special files to name.

use super::NotRegular;
use std::fs::{File, FileType};
use std::path::Path;

pub fn open(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

pub fn special(_: &FileType) -> NotRegular {
    NotRegular::Other
}
