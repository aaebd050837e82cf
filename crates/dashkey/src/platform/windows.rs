//! The half of [`super`] for systems without unix accounts (Windows): no owners, no
//! account database, never root.

use std::path::{Path, PathBuf};

use super::Os;

pub fn host_os() -> Os {
    Os::Windows
}

pub fn owner_of(_path: &Path) -> Option<u32> {
    None
}

pub fn account_home() -> Option<PathBuf> {
    None
}

pub fn home_of(_name: &str) -> Option<PathBuf> {
    None
}

pub fn is_root() -> bool {
    false
}

/// Windows has no SIGPIPE: a closed pipe is already a write error.
pub fn ignore_broken_pipe_signal() {}
