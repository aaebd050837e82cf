//! The user's crontab for the cron row of the matrix, through `world::crontab`.
//!
//! A crontab belongs to the account, not to `$HOME`: when `$HOME` is not the account's home
//! (another user's files, a scratch home), the account's crontab says nothing about the
//! programs of that home, and it is not read, unless `DASHKEY_CRONTAB` names the program to
//! ask (as the crontab writer honours it).

use crate::platform::{Os, Platform};
use crate::world::crontab;

pub use crontab::variables;

/// The crontab text (`Some("")` when the user has none); `None` when it cannot be read or
/// is not this home's.
pub fn read_crontab(platform: &Platform) -> Option<String> {
    if !crontab_applies(platform) {
        return None;
    }
    crontab::read(platform).ok().map(Option::unwrap_or_default)
}

/// Whether this home has a crontab to read: the account's home, or a `DASHKEY_CRONTAB`
/// named. Callers that will not run `crontab` (status, which must start no process) use it
/// to say which of the two reasons left the row unread.
pub fn crontab_applies(platform: &Platform) -> bool {
    if platform.os() == Os::Windows {
        return false;
    }
    let named = platform.var_non_empty(crontab::PROGRAM_VAR).is_some();
    named || platform.home().as_deref() == platform.account_home()
}
