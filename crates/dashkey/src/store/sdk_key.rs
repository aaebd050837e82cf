//! The SDKs' own key file, `~/.dashscope/api_key` (0600), which the Python and Java SDKs read
//! when the variable is absent: programs started outside any shell still find the key.
//!
//! A file dashkey did not write (from `dashscope auth login`, say) is saved first, 0600 in
//! dashkey's directory ([`SDK_KEY_BACKUP`]), so that `unset` puts it back as it was; `unset`
//! removes the file only while it holds the key dashkey stored.

use crate::ApiKey;
use crate::Platform;
use crate::edit::record::Role;
use crate::store::copies::{KeyCopy, PlaceKind, file_copy, sdk_key_file};
use crate::store::plan::{
    NotRemovedReason, Note, PersistError, Plan, SetRun, UnsetRun, fsx_is_link, own_file,
    push_change, read_text,
};
use std::path::Path;

use crate::edit::record::KeyStore;

/// Where `set` keeps the SDK key file it found (in dashkey's directory, 0600), for `unset`.
pub const SDK_KEY_BACKUP: &str = "api_key.before-dashkey";

/// `set`: the key, after saving a file dashkey did not write.
pub(super) fn plan_set(run: &mut SetRun) -> Result<(), PersistError> {
    let key = &run.settings.key;
    if run.store == KeyStore::Keyring {
        // No plaintext copy: dashkey's file goes (the user's comes back), as at `unset`.
        let record = &run.old_record;
        let ours = |found: &ApiKey| found == key || record.wrote_key(&found.fingerprint());
        return plan_removal(&mut run.plan, &run.home, &run.dir, &ours);
    }
    let sdk_file = run.home.join(".dashscope").join("api_key");
    run.dirs.push(run.home.join(".dashscope"));
    let before = read_text(&sdk_file)?;
    if let Some(old_bytes) = before.as_deref() {
        let old = ApiKey::verbatim(String::from_utf8_lossy(old_bytes).trim());
        if !old.is_empty() && old != *key {
            run.plan
                .notes
                .push(Note::ReplacedSdkKey { old: old.fingerprint(), new: key.fingerprint() });
        }
        // A file dashkey did not write (from `dashscope auth login`, say) is kept, so that
        // `unset` can put it back as it was.
        // A key of one of dashkey's profiles is dashkey's too, as is the key its own env.sh
        // holds: a `use` or a rotation killed after the record was written leaves the SDK
        // file holding the previous key, which must not be saved as the user's.
        let fingerprint = old.fingerprint();
        let in_env_sh = crate::store::owned::load_stored(run.platform)
            .ok()
            .flatten()
            .and_then(|stored| stored.key())
            .is_some_and(|stored| stored == old);
        let written_by_dashkey = run.old_record.wrote_key(&fingerprint)
            || run.old_record.profiles.iter().any(|p| p.fingerprint == fingerprint)
            || in_env_sh;
        let backup = run.dir.join(SDK_KEY_BACKUP);
        if !written_by_dashkey && !backup.exists() {
            let saved = Some(old_bytes.to_vec());
            push_change(&mut run.plan, backup, Role::Backup, None, saved, 0o600)?;
        }
        run.plan.secrets.push(old);
    }
    let after = format!("{}\n", key.expose()).into_bytes();
    run.managed.push((sdk_file.clone(), Role::SdkKeyFile));
    push_change(&mut run.plan, sdk_file, Role::SdkKeyFile, before, Some(after), 0o600)
}

/// `unset`: the file while it holds dashkey's key; the one it replaced comes back.
pub(super) fn plan_unset(run: &mut UnsetRun) -> Result<(), PersistError> {
    let (key, record) = (run.key.as_ref(), &run.record);
    let ours = |found: &ApiKey| key == Some(found) || record.wrote_key(&found.fingerprint());
    plan_removal(&mut run.plan, &run.home, &run.dir, &ours)
}

/// Takes out the SDK key file while it holds a key of dashkey's (`ours`), and puts back the
/// file it replaced: `unset`, and `set --store keyring`, which leaves no plaintext copy.
fn plan_removal(
    plan: &mut Plan,
    home: &Path,
    dir: &Path,
    ours: &dyn Fn(&ApiKey) -> bool,
) -> Result<(), PersistError> {
    let sdk_file = home.join(".dashscope").join("api_key");
    let backup = dir.join(SDK_KEY_BACKUP);
    let original = own_file(plan, &backup)?;
    if let Some(original) = &original {
        plan.secrets.push(ApiKey::verbatim(String::from_utf8_lossy(original).trim()));
    }
    let sdk_link = fsx_is_link(&sdk_file);
    let current = if sdk_link { None } else { read_text(&sdk_file)? };
    if let Some(before) = current {
        let found = ApiKey::verbatim(String::from_utf8_lossy(&before).trim());
        if ours(&found) {
            plan.secrets.push(found);
            // Put back the file that was there before dashkey, or remove dashkey's.
            let after = original.as_ref().map(|bytes| bytes.to_vec());
            push_change(plan, sdk_file, Role::SdkKeyFile, Some(before), after, 0o600)?;
            push_change(plan, backup, Role::Backup, original, None, 0o600)?;
        } else if original.as_deref() == Some(&before) {
            // A `set` stopped between saving the user's file and replacing it: the backup
            // is the same bytes as the file, so it goes.
            plan.notes.push(Note::KeptSdkKeyFile { path: sdk_file });
            push_change(plan, backup, Role::Backup, original, None, 0o600)?;
        } else {
            plan.notes.push(Note::KeptSdkKeyFile { path: sdk_file });
            if original.is_some() {
                plan.notes.push(Note::KeptSdkKeyBackup { path: backup });
            }
        }
    } else if sdk_link {
        plan.notes.push(Note::NotRemoved { path: sdk_file, reason: NotRemovedReason::Link });
        if original.is_some() {
            plan.notes.push(Note::KeptSdkKeyBackup { path: backup });
        }
    } else if let Some(original) = original {
        // dashkey's copy is gone already: the user's original comes back.
        push_change(plan, sdk_file, Role::SdkKeyFile, None, Some(original.to_vec()), 0o600)?;
        push_change(plan, backup, Role::Backup, Some(original), None, 0o600)?;
    }
    Ok(())
}

/// What is there now: the file under `$HOME`, and under the JVM's `user.home` when that is
/// another directory.
pub(super) fn found(platform: &Platform) -> Vec<KeyCopy> {
    let mut copies = Vec::new();
    let sdk_file = sdk_key_file(platform);
    if let Some(path) = &sdk_file {
        copies.push(file_copy(PlaceKind::SdkKeyFile, path.clone()));
    }
    if let Some(home) = crate::resolve::java_user_home(platform) {
        let path = home.join(".dashscope").join("api_key");
        if sdk_file.as_ref() != Some(&path) {
            copies.push(file_copy(PlaceKind::JavaKeyFile, path));
        }
    }
    copies
}
