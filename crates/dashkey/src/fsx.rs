//! File-system facts and operations with the care a secret needs.
//!
//! Modes are a Unix concept; on Windows access is governed by ACLs in the user's profile,
//! so the Windows variant reports no mode rather than a made-up one.

use std::fs::Metadata;

/// Permission bits of a file (`0o600`), where the platform has them.
pub fn mode(metadata: &Metadata) -> Option<u32> {
    sys::mode(metadata)
}

/// True when users other than the owner can read the file.
pub fn readable_by_others(mode: u32) -> bool {
    mode & 0o044 != 0
}

#[cfg(unix)]
mod sys {
    use std::fs::Metadata;
    use std::os::unix::fs::PermissionsExt;

    pub fn mode(metadata: &Metadata) -> Option<u32> {
        Some(metadata.permissions().mode() & 0o7777)
    }
}

#[cfg(not(unix))]
mod sys {
    use std::fs::Metadata;

    pub fn mode(_metadata: &Metadata) -> Option<u32> {
        None
    }
}
