//! The user's crontab for the cron row of the matrix, through `world::crontab`.
//!
//! A crontab belongs to the account, not to `$HOME`: when `$HOME` is not the account's home
//! (another user's files, a scratch home), the account's crontab says nothing about the
//! programs of that home, and it is not read, unless `DASHKEY_CRONTAB` names the program to
//! ask (as the crontab writer honours it).

use crate::platform::Platform;
use crate::world::crontab;

pub use crontab::{applies as crontab_applies, variables};

/// The crontab text (`Some("")` when the user has none); `None` when it cannot be read or
/// is not this home's.
pub fn read_crontab(platform: &Platform) -> Option<String> {
    if !crontab::applies(platform) {
        return None;
    }
    crontab::read(platform).ok().map(Option::unwrap_or_default)
}
