//! Startup-file hooks: a guarded source line of dashkey's own file, inside a marker block,
//! in each shell's startup files; never the key itself. Dotfiles are often public, so the
//! key stays out of them.
//!
//! `set --migrate` also takes the user's own `export DASHSCOPE_API_KEY=…` lines out, after a
//! 0600 backup beside the file; `unset` removes the block by its markers in every shell's
//! files and puts the migrated lines back from the backup while the file is as `set` left
//! it. A block holding a line dashkey did not write, a file that is not UTF-8 or is
//! read-only, stop the plan before anything is written.
//!
//! Without `--migrate`, `set` judges which assignment wins over the hook on the files as
//! they will be after it ([`Startup::read_planned`]); that one read also yields the literal
//! keys to mask in the diffs.

use std::path::{Path, PathBuf};

use crate::edit::fsx;
use crate::edit::record::Role;
use crate::shell::block;
use crate::shell::{self, Dialect};
use crate::store::owned::owned_path;
use crate::store::plan::{
    Note, PersistError, Plan, SetRun, UnsetRun, fsx_is_link, now, push_change, read_text,
};
use crate::world::dotfiles::{self, Assignment};
use crate::world::startup::Startup;
use crate::{ApiKey, vars};

/// `set`: a hook in each requested shell's startup files (`--migrate`: the user's own
/// assignments out, after a backup), then which assignment wins over it.
pub(super) fn plan_set(run: &mut SetRun) -> Result<(), PersistError> {
    let (platform, probes, options) = (run.platform, run.probes, run.options);
    let mut hook_files: Vec<(PathBuf, Dialect)> = Vec::new();
    if !options.no_modify_rc {
        let shells = options.shells.clone().unwrap_or_else(|| shell::detect(platform));
        for shell in shells {
            let files = shell::startup_files(shell, platform, probes);
            if files.is_empty() {
                run.plan.notes.push(Note::NoStartupFile { shell });
            }
            for file in files {
                if !hook_files.iter().any(|(path, _)| *path == file) {
                    hook_files.push((file, shell.dialect()));
                }
            }
        }
    }
    let assignments = if options.migrate {
        // The keys to mask, from the files as they are; the assignments to take out.
        run.plan.secrets.extend(keys_in_startup_files(&Startup::read(platform)));
        dotfiles::find(&dotfiles::candidate_files(platform, probes))
    } else {
        Vec::new()
    };
    let migrating: Vec<&Assignment> =
        assignments.iter().filter(|a| a.name == vars::API_KEY || a.literal).collect();
    let mut edited: Vec<PathBuf> = Vec::new();
    let keyring_exe = run.keyring_exe()?;
    for (path, dialect) in &hook_files {
        run.dirs.extend(path.parent().map(Path::to_path_buf));
        let owned = owned_path(&run.dir, *dialect);
        let lines = match &keyring_exe {
            Some(exe) => shell::keyring_hook_lines(*dialect, &owned, Some(&run.home), exe),
            None => shell::hook_lines(*dialect, &owned, Some(&run.home)),
        };
        let before = read_text(path)?;
        let text = utf8(path, before.as_deref().map(Vec::as_slice), *dialect, &owned)?;
        check_block_lines(path, &text)?;
        let text = migrate_lines(&mut run.plan, path, &text, &migrating)?;
        let offset = shell::hook_offset(path, &text);
        // PowerShell reads CRLF; every other shell stops at a `fi\r`, so their block is LF.
        let after = if *dialect == Dialect::PowerShell {
            block::upsert_at(&text, offset, &lines)
        } else {
            if block::has_crlf(&text) {
                run.plan.notes.push(Note::CrlfStartupFile { path: path.clone() });
            }
            block::upsert_lf_at(&text, offset, &lines)
        }
        .map_err(|source| PersistError::Block { path: path.clone(), source })?;
        run.managed.push((path.clone(), Role::Hook));
        let after = Some(after.into_bytes());
        push_change(&mut run.plan, path.clone(), Role::Hook, before, after, 0o644)?;
        edited.push(path.clone());
    }
    // Assignments in files that get no hook are migrated on their own.
    for path in migrating.iter().map(|a| &a.path) {
        if edited.contains(path) {
            continue;
        }
        edited.push(path.clone());
        let before = read_text(path)?;
        let text = utf8(
            path,
            before.as_deref().map(Vec::as_slice),
            shell::dialect_of_file(path),
            &owned_path(&run.dir, Dialect::Posix),
        )?;
        let after = Some(migrate_lines(&mut run.plan, path, &text, &migrating)?.into_bytes());
        push_change(&mut run.plan, path.clone(), Role::Hook, before, after, 0o644)?;
    }
    if !options.migrate {
        // Judge "which one wins" on the files as they will be after this set; the hooks
        // change no assignment, so the same read gives the literal keys to mask.
        let planned: Vec<(PathBuf, String)> = run
            .plan
            .changes
            .iter()
            .filter(|c| c.role == Role::Hook)
            .filter_map(|c| {
                Some((c.path.clone(), String::from_utf8(c.after.as_deref()?.to_vec()).ok()?))
            })
            .collect();
        let startup = Startup::read_planned(platform, &planned);
        run.plan.secrets.extend(keys_in_startup_files(&startup));
        for file in startup.files() {
            for found in &file.assignments {
                run.plan.notes.push(Note::Assignment {
                    overrides_dashkey: startup.overrides_hook(&file.path, found.line, found.name),
                    assignment: Assignment {
                        path: file.path.clone(),
                        line: found.line,
                        name: found.name,
                        literal: found.literal,
                    },
                });
            }
        }
    }
    Ok(())
}

/// `unset`: dashkey's block, found by its markers, in every shell's files (and the ones the
/// record lists); the lines `set --migrate` removed come back from its backup while the
/// file is as it was. A file dashkey created that is empty again goes.
pub(super) fn plan_unset(run: &mut UnsetRun) -> Result<(), PersistError> {
    let mut hooks = shell::all_hook_candidates(run.platform, run.probes);
    hooks.extend(dotfiles::candidate_files(run.platform, run.probes));
    hooks.extend(run.recorded_hooks.iter().cloned());
    for path in shell::dedup(hooks) {
        let Some(before) = read_text(&path)? else { continue };
        let Ok(text) = std::str::from_utf8(&before) else { continue };
        let text = text.to_string();
        let span = block::find(&text)
            .map_err(|source| PersistError::Block { path: path.clone(), source })?;
        if span.is_some() {
            check_block_lines(&path, &text)?;
        }
        let without = block::remove(&text)
            .map_err(|source| PersistError::Block { path: path.clone(), source })?;
        let only_block = span.is_some() && without.is_empty();
        let restored = restore_migrated(&mut run.plan, &path, without)?;
        // Created by dashkey: as the record says, or, without a record, a file that is
        // nothing but dashkey's block.
        let created = run.record.created(&path) || (!run.trusted && only_block);
        let remove = restored.is_empty() && created && !fsx_is_link(&path);
        let after = (!remove).then(|| restored.into_bytes());
        push_change(&mut run.plan, path, Role::Hook, Some(before), after, 0o644)?;
    }
    Ok(())
}

/// Keys written literally in startup files (the documented `export DASHSCOPE_API_KEY=...`),
/// so that diffs of those files show them masked.
pub(super) fn keys_in_startup_files(startup: &Startup) -> Vec<ApiKey> {
    startup
        .files()
        .iter()
        .flat_map(|file| &file.assignments)
        .filter(|a| a.name == vars::API_KEY || a.name == vars::OPENAI_API_KEY)
        .filter_map(|a| a.value.clone())
        .collect()
}

/// A user's file as text, refusing files that are not UTF-8 or are read-only.
fn utf8(
    path: &Path,
    bytes: Option<&[u8]>,
    dialect: Dialect,
    owned: &Path,
) -> Result<String, PersistError> {
    let target = fsx::write_target(path)?;
    if std::fs::metadata(&target).is_ok_and(|meta| meta.permissions().readonly()) {
        return Err(PersistError::ReadOnly { path: target });
    }
    match bytes {
        None => Ok(String::new()),
        Some(bytes) => String::from_utf8(bytes.to_vec()).map_err(|_| PersistError::NotUtf8 {
            path: path.to_path_buf(),
            hint: shell::hook_lines(dialect, owned, None).pop().unwrap_or_default(),
        }),
    }
}

/// Removes migrated assignment lines from one file and plans its 0600 backup.
fn migrate_lines(
    plan: &mut Plan,
    path: &Path,
    text: &str,
    migrating: &[&Assignment],
) -> Result<String, PersistError> {
    let lines: Vec<usize> = migrating.iter().filter(|a| a.path == path).map(|a| a.line).collect();
    if lines.is_empty() {
        return Ok(text.to_string());
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let backup = path.with_file_name(format!("{name}.dashkey-backup-{}", now()));
    push_change(plan, backup.clone(), Role::Backup, None, Some(text.as_bytes().to_vec()), 0o600)?;
    plan.notes.push(Note::Migrated { path: path.to_path_buf(), backup, lines: lines.clone() });
    Ok(dotfiles::remove_lines(text, &lines))
}

/// Whether a file holds nothing but dashkey's block.
pub(super) fn only_block(path: &Path) -> bool {
    let Ok(Some(bytes)) = read_text(path) else { return false };
    std::str::from_utf8(&bytes).is_ok_and(|text| {
        matches!(block::find(text), Ok(Some(_))) && block::remove(text).is_ok_and(|t| t.is_empty())
    })
}

/// The lines dashkey writes in a startup file's block: its comment and a guarded source line
/// of its own file, in any dialect.
fn is_hook_line(line: &str) -> bool {
    let line = line.trim();
    let comment = shell::hook_lines(Dialect::Posix, Path::new("/"), None).remove(0);
    line == comment
        || line.is_empty()
        || (line.starts_with("if ")
            && line.contains("dashkey/env.")
            && !line.contains('`')
            && !line.contains("$("))
}

/// Refuses a block holding a line dashkey did not write: `set` and `unset` would drop it.
fn check_block_lines(path: &Path, text: &str) -> Result<(), PersistError> {
    let Ok(Some(span)) = block::find(text) else { return Ok(()) };
    for (number, line) in (span.line + 1..).zip(text[span.start..span.end].lines().skip(1)) {
        let line = line.trim_end_matches('\r');
        if line.trim() == block::END {
            break;
        }
        if !is_hook_line(line) {
            return Err(PersistError::ForeignLineInBlock {
                path: path.to_path_buf(),
                line: number,
            });
        }
    }
    Ok(())
}

/// The startup file `path` was edited by `set --migrate` into `<name>.dashkey-backup-<time>`?
/// Returns the file a backup path belongs to.
pub(super) fn migrate_backup_of(backup: &Path) -> Option<PathBuf> {
    let name = backup.file_name()?.to_str()?;
    let (file, stamp) = name.rsplit_once(".dashkey-backup-")?;
    (!file.is_empty() && !stamp.is_empty() && stamp.bytes().all(|b| b.is_ascii_digit()))
        .then(|| backup.with_file_name(file))
}

/// The `set --migrate` backups of a file, newest first.
fn migrate_backups(path: &Path) -> Vec<PathBuf> {
    let Some(parent) = path.parent() else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(parent) else { return Vec::new() };
    let mut found: Vec<(u64, PathBuf)> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|backup| migrate_backup_of(backup).as_deref() == Some(path))
        .filter(|backup| std::fs::symlink_metadata(backup).is_ok_and(|m| m.is_file()))
        .filter_map(|backup| {
            let name = backup.file_name()?.to_str()?.to_string();
            let stamp = name.rsplit_once(".dashkey-backup-")?.1.parse().ok()?;
            Some((stamp, backup))
        })
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    found.into_iter().map(|(_, backup)| backup).collect()
}

/// Whether `now` is `original` with only assignment lines taken out, as `--migrate` does.
fn is_migration_of(original: &str, now: &str) -> bool {
    let mut now_lines = now.split_inclusive('\n').peekable();
    for line in original.split_inclusive('\n') {
        if now_lines.peek() == Some(&line) {
            now_lines.next();
        } else if !dotfiles::parse_assignment(line.trim_end_matches(['\n', '\r']))
            .is_some_and(|(name, literal)| name == vars::API_KEY || literal)
        {
            return false;
        }
    }
    now_lines.next().is_none()
}

/// The file as it was before `set --migrate`, from its backups, while it is still as
/// `set` left it (apart from dashkey's block); each backup used is removed. When the user
/// changed the file since, their changes stay, the backup too, and a note says where.
fn restore_migrated(
    plan: &mut Plan,
    path: &Path,
    mut text: String,
) -> Result<String, PersistError> {
    for backup in migrate_backups(path) {
        let Some(bytes) = read_text(&backup)? else { continue };
        let original = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|saved| block::remove(saved).ok())
            .filter(|saved| is_migration_of(saved, &text));
        match original {
            Some(original) => {
                text = original;
                push_change(plan, backup, Role::Backup, Some(bytes), None, 0o600)?;
            }
            None => {
                plan.notes.push(Note::MigratedNotRestored { path: path.to_path_buf(), backup });
                break;
            }
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nushells_keyring_hook_is_a_line_of_dashkeys_block() {
        let home = Path::new("/home/ana");
        let owned = home.join(".config/dashkey/env.nu");
        let lines =
            shell::keyring_hook_lines(Dialect::Nu, &owned, Some(home), Path::new("/bin/dk"));
        let text = block::upsert("", &lines).unwrap();
        assert!(check_block_lines(Path::new("config.nu"), &text).is_ok(), "{text}");
        assert_eq!(block::remove(&text).unwrap(), "", "unset takes it out whole");
    }
}
