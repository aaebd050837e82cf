//! The `.gitignore` in dashkey's directory: a `~/.config` tracked by git (a dotfiles
//! repository) never shows dashkey's files, which hold the key, as untracked, so a
//! `git add -A` cannot publish them. Written by `set`, removed by `unset` only while it holds
//! exactly what dashkey writes.

use crate::edit::record::Role;
use crate::store::plan::{
    NotRemovedReason, Note, PersistError, SetRun, UnsetRun, own_file, push_change, read_text,
};

/// The name of a `.gitignore` in dashkey's directory, and what dashkey writes in it: a
/// `~/.config` tracked by git never shows dashkey's files.
pub const GITIGNORE: &str = ".gitignore";

/// The content of dashkey's `.gitignore`.
pub const GITIGNORE_TEXT: &str =
    "# Written by dashkey: keeps this directory, which holds a key, out of git.\n*\n";

/// `set`: the file, unless one dashkey did not write is there.
pub(super) fn plan_set(run: &mut SetRun) -> Result<(), PersistError> {
    let ignore = run.dir.join(GITIGNORE);
    let before = read_text(&ignore)?;
    if let Some(old) = before.as_deref()
        && old != GITIGNORE_TEXT.as_bytes()
    {
        return Err(PersistError::ForeignOwnedFile { path: ignore, line: 1 });
    }
    push_change(&mut run.plan, ignore, Role::Owned, before, Some(GITIGNORE_TEXT.into()), 0o600)
}

/// `unset`: the file while it holds exactly what dashkey writes.
pub(super) fn plan_unset(run: &mut UnsetRun) -> Result<(), PersistError> {
    let ignore = run.dir.join(GITIGNORE);
    if let Some(before) = own_file(&mut run.plan, &ignore)? {
        if before.as_slice() == GITIGNORE_TEXT.as_bytes() {
            push_change(&mut run.plan, ignore, Role::Owned, Some(before), None, 0o600)?;
        } else {
            run.plan
                .notes
                .push(Note::NotRemoved { path: ignore, reason: NotRemovedReason::Foreign });
        }
    }
    Ok(())
}
