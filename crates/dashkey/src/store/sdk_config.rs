//! The 2.0 SDK's own configuration file, `~/.dashscope/config.toml`, whose `base_url` (a
//! native base, ending in `/api/v1`) `dashscope.Client()` reads when neither
//! `DASHSCOPE_BASE_URL` nor `DASHSCOPE_HTTP_BASE_URL` is set: programs started outside any
//! shell still talk to the region `set --region` chose.
//!
//! The file is the user's as much as dashkey's, so it is merged, never replaced: only the
//! top-level `base_url` is written (with `toml_edit`, which keeps every other key, comment
//! and blank line as it was), 0600. A file that is not valid TOML is refused with its path
//! and line — the SDK itself raises on it, and dashkey never rewrites what it cannot parse.
//! A file that was there before dashkey is saved first, 0600 in dashkey's directory
//! ([`SDK_CONFIG_BACKUP`]); a `base_url` dashkey did not write is replaced, with a note
//! naming that backup. `unset` puts the saved bytes back (or removes the file dashkey
//! created) while the file is exactly as dashkey left it; when the user changed it since,
//! only dashkey's `base_url` goes (the user's own comes back) and their changes stay.
//!
//! `DASHSCOPE_CONFIG` (the SDK's override of the path) is not followed: a program started
//! outside a shell does not have the variable the shell running `set` had, and reads the
//! default path.

use std::path::{Path, PathBuf};

use toml_edit::DocumentMut;

use crate::Platform;
use crate::edit::fsx;
use crate::edit::record::{Record, Role};
use crate::region::config::Config;
use crate::store::plan::{
    NotRemovedReason, Note, PersistError, Plan, SetRun, UnsetRun, fsx_is_link, own_file,
    push_change, read_text,
};

/// Where `set` keeps the `config.toml` it found (in dashkey's directory, 0600), for `unset`.
pub const SDK_CONFIG_BACKUP: &str = "config.toml.before-dashkey";

/// The key dashkey writes.
const KEY: &str = "base_url";

/// `~/.dashscope/config.toml` under a home.
pub fn sdk_config_file(home: &Path) -> PathBuf {
    home.join(".dashscope").join("config.toml")
}

/// The `base_url` a `config.toml` holds now, for `status` (none: no file, no key, or a file
/// that cannot be read as TOML).
pub fn base_url(platform: &Platform) -> Option<(PathBuf, String)> {
    let path = sdk_config_file(&platform.home()?);
    let bytes = std::fs::read(&path).ok()?;
    let doc = std::str::from_utf8(&bytes).ok()?.parse::<DocumentMut>().ok()?;
    let url = doc.get(KEY)?.as_str()?.to_string();
    Some((path, url))
}

/// The native URL dashkey wrote for the region (and workspace) a record names.
fn recorded_url(platform: &Platform, record: &Record) -> Option<String> {
    let id = record.region.as_deref()?;
    let config = Config::load(platform).unwrap_or_default();
    let endpoint = match record.workspace.as_deref() {
        Some(workspace) => {
            let workspace = crate::region::WorkspaceId::parse(workspace).ok()?;
            config.workspace_endpoint(id, &workspace).ok()
        }
        None => config.endpoint(id),
    };
    endpoint.map(|endpoint| endpoint.native())
}

/// Parses the file, or says where it is not TOML.
fn parse(path: &Path, bytes: &[u8]) -> Result<DocumentMut, PersistError> {
    let invalid = |offset: usize, message: String| {
        let line = bytes[..offset.min(bytes.len())].iter().filter(|b| **b == b'\n').count() + 1;
        PersistError::InvalidToml { path: path.to_path_buf(), line, message }
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|e| invalid(e.valid_up_to(), "not UTF-8 text".to_string()))?;
    text.parse::<DocumentMut>().map_err(|e| {
        let offset = e.span().map_or(0, |span| span.start);
        invalid(offset, e.message().trim().to_string())
    })
}

/// Writes `url` as the top-level `base_url`, keeping a replaced value's comment.
fn put(doc: &mut DocumentMut, url: &str) {
    match doc.get_mut(KEY).and_then(toml_edit::Item::as_value_mut) {
        Some(value) => {
            let decor = value.decor().clone();
            *value = url.into();
            *value.decor_mut() = decor;
        }
        None => doc[KEY] = toml_edit::value(url),
    }
}

/// What dashkey leaves in a file that held `original` (none: there was no file).
fn merged(original: Option<&[u8]>, url: &str) -> Option<Vec<u8>> {
    let mut doc = match original {
        Some(bytes) => std::str::from_utf8(bytes).ok()?.parse::<DocumentMut>().ok()?,
        None => DocumentMut::new(),
    };
    put(&mut doc, url);
    Some(doc.to_string().into_bytes())
}

/// Whether the record says dashkey wrote the file, and (when it existed before) the saved
/// original is still there to prove what it held.
fn written_by_dashkey(record: &Record, path: &Path, backup: &Path) -> bool {
    record.files.iter().any(|f| f.path == path && f.role == Role::SdkConfig)
        && (record.created(path) || backup.exists())
}

/// `set`: the region's native URL as `base_url`, after saving a file dashkey did not write;
/// without a region, dashkey's earlier `base_url` goes.
pub(super) fn plan_set(run: &mut SetRun) -> Result<(), PersistError> {
    let path = sdk_config_file(&run.home);
    let backup = run.dir.join(SDK_CONFIG_BACKUP);
    let Some(region) = &run.settings.region else {
        if run.old_record.files.iter().any(|f| f.path == path && f.role == Role::SdkConfig) {
            let ours = recorded_url(run.platform, &run.old_record);
            let created = run.old_record.created(&path);
            return retract(&mut run.plan, path, backup, ours, created);
        }
        return Ok(());
    };
    run.dirs.push(run.home.join(".dashscope"));
    fsx::refuse_link(&path, "write")?;
    let before = read_text(&path)?;
    let url = region.native();
    let mut doc = match before.as_deref() {
        Some(bytes) => parse(&path, bytes)?,
        None => DocumentMut::new(),
    };
    let ours = written_by_dashkey(&run.old_record, &path, &backup);
    if let Some(old_bytes) = before.as_deref() {
        if !ours && !backup.exists() {
            let saved = Some(old_bytes.to_vec());
            push_change(&mut run.plan, backup.clone(), Role::Backup, None, saved, 0o600)?;
        }
        let old = doc.get(KEY).map(|item| match item.as_str() {
            Some(s) => s.to_string(),
            None => item.to_string().trim().to_string(),
        });
        let dashkeys = ours.then(|| recorded_url(run.platform, &run.old_record)).flatten();
        if let Some(old) = old.filter(|old| *old != url && Some(old) != dashkeys.as_ref()) {
            run.plan.notes.push(Note::ReplacedSdkBaseUrl { path: path.clone(), old, backup });
        }
    }
    put(&mut doc, &url);
    run.managed.push((path.clone(), Role::SdkConfig));
    let after = doc.to_string().into_bytes();
    push_change(&mut run.plan, path, Role::SdkConfig, before, Some(after), 0o600)
}

/// `unset`: the file as it was before dashkey, or only dashkey's `base_url` when the user
/// changed the file since.
pub(super) fn plan_unset(run: &mut UnsetRun) -> Result<(), PersistError> {
    let path = sdk_config_file(&run.home);
    let backup = run.dir.join(SDK_CONFIG_BACKUP);
    let listed = run.record.files.iter().any(|f| f.path == path && f.role == Role::SdkConfig);
    if !listed && std::fs::symlink_metadata(&backup).is_err() {
        // Nothing says dashkey ever wrote it (without a record, a `base_url` cannot be
        // told from the user's own): it is the user's.
        return Ok(());
    }
    let ours = recorded_url(run.platform, &run.record);
    let created = run.record.created(&path);
    retract(&mut run.plan, path, backup, ours, created)
}

/// Takes back what dashkey wrote: byte for byte while the file is as dashkey left it.
fn retract(
    plan: &mut Plan,
    path: PathBuf,
    backup: PathBuf,
    ours: Option<String>,
    created: bool,
) -> Result<(), PersistError> {
    let original = own_file(plan, &backup)?;
    if fsx_is_link(&path) {
        plan.notes.push(Note::NotRemoved { path, reason: NotRemovedReason::Link });
        if original.is_some() {
            plan.notes.push(Note::KeptBackup { path: backup });
        }
        return Ok(());
    }
    let Some(current) = read_text(&path)? else {
        if let Some(original) = original {
            // dashkey's copy is gone already: the user's original comes back.
            push_change(plan, path, Role::SdkConfig, None, Some(original.to_vec()), 0o600)?;
            push_change(plan, backup, Role::Backup, Some(original), None, 0o600)?;
        }
        return Ok(());
    };
    let doc = std::str::from_utf8(&current).ok().and_then(|t| t.parse::<DocumentMut>().ok());
    let value = doc.as_ref().and_then(|d| d.get(KEY)).and_then(|i| i.as_str());
    let Some(url) = value.filter(|v| ours.as_deref() == Some(*v)).map(str::to_string) else {
        if original.as_ref().map(|o| &o[..]) == Some(&current[..]) {
            // A `set` stopped between saving the file and writing it: the backup goes.
            push_change(plan, backup, Role::Backup, original, None, 0o600)?;
        } else {
            plan.notes.push(Note::KeptSdkConfig { path });
            if original.is_some() {
                plan.notes.push(Note::KeptBackup { path: backup });
            }
        }
        return Ok(());
    };
    let base = original.as_ref().map(|o| o.to_vec());
    let as_left = (created || base.is_some())
        && merged(base.as_deref(), &url).as_deref() == Some(&current[..]);
    let after = if as_left {
        base
    } else {
        // The user changed the file since: only dashkey's line goes, and their own
        // `base_url` (in the saved original) comes back.
        let mut doc = doc.unwrap_or_default();
        let theirs = base
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| t.parse::<DocumentMut>().ok())
            .and_then(|d| d.get(KEY).cloned());
        match theirs {
            Some(item) => doc[KEY] = item,
            None => {
                doc.remove(KEY);
            }
        }
        plan.notes.push(Note::KeptSdkConfigChanges { path: path.clone() });
        Some(doc.to_string().into_bytes())
    };
    push_change(plan, path, Role::SdkConfig, Some(current), after, 0o600)?;
    push_change(plan, backup, Role::Backup, original, None, 0o600)
}
