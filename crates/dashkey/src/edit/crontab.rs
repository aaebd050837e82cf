//! Writing the user's crontab: only through the real `crontab` program (`crontab -` installs
//! a whole new crontab atomically, `crontab -r` removes it), after checking that it still
//! holds what the plan was made from, so that a `crontab -e` in between is never lost.

use zeroize::Zeroizing;

pub use crate::world::crontab::CrontabError;
use crate::world::crontab::{failed, read_with, run};

/// The crontab a plan replaces. Its `Debug` shows sizes only: with `--with-key` it holds the
/// key.
#[derive(Clone)]
pub struct CrontabChange {
    /// The `crontab` program.
    pub program: String,
    /// The crontab now, as `crontab -l` printed it (`None`: the user has none).
    pub before: Option<Zeroizing<String>>,
    /// The crontab after (`None`: removed with `crontab -r`).
    pub after: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for CrontabChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrontabChange")
            .field("program", &self.program)
            .field("before_len", &self.before.as_ref().map(|b| b.len()))
            .field("after_len", &self.after.as_ref().map(|a| a.len()))
            .finish()
    }
}

/// Installs the change: the crontab must still be `before`; then `after` replaces it whole
/// (or `crontab -r` removes it), and it is read back to check.
///
/// # Errors
///
/// [`CrontabError::Changed`] when the crontab is not `before` any more (nothing written);
/// any other [`CrontabError`] from `crontab` itself.
pub fn install(change: &CrontabChange) -> Result<(), CrontabError> {
    let program = change.program.as_str();
    let now = read_with(program)?;
    if now.as_deref() != change.before.as_deref().map(String::as_str) {
        return Err(CrontabError::Changed);
    }
    match &change.after {
        Some(text) => {
            let (status, _, stderr) = run(program, &["-"], Some(text.as_bytes()))?;
            if status != Some(0) {
                return Err(failed(program, &["-"], status, &stderr));
            }
        }
        None => {
            let (status, _, stderr) = run(program, &["-r"], None)?;
            if status != Some(0) {
                return Err(failed(program, &["-r"], status, &stderr));
            }
        }
    }
    let written = read_with(program)?;
    if written.as_deref() != change.after.as_deref().map(String::as_str) {
        return Err(CrontabError::Changed);
    }
    Ok(())
}
