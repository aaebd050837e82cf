//! The unix half of [`super`]: the clock tick, and who owns a process.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|ticks| u64::try_from(ticks).ok())
        .unwrap_or(100)
}

pub fn owner(dir: &Path) -> Option<u32> {
    std::fs::metadata(dir).ok().map(|meta| meta.uid())
}

pub fn current_uid() -> Option<u32> {
    Some(nix::unistd::geteuid().as_raw())
}
