//! The unix half of [`super`]: file owners and accounts through the OS's user database.

use std::path::{Path, PathBuf};

use super::Os;

pub fn host_os() -> Os {
    if cfg!(target_os = "macos") { Os::MacOs } else { Os::Linux }
}

pub fn owner_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.uid())
}

pub fn account_home() -> Option<PathBuf> {
    let user = nix::unistd::User::from_uid(nix::unistd::getuid()).ok()??;
    Some(user.dir)
}

pub fn home_of(name: &str) -> Option<PathBuf> {
    Some(nix::unistd::User::from_name(name).ok()??.dir)
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[allow(unsafe_code)] // the one libc call with no safe wrapper that needs no extra feature
pub fn ignore_broken_pipe_signal() {
    // SAFETY: setting a signal's disposition to "ignore" installs no handler, so nothing can
    // run at an unexpected time; it is what Rust's runtime does before `main`.
    unsafe { nix::libc::signal(nix::libc::SIGPIPE, nix::libc::SIG_IGN) };
}
