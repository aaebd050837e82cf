//! Named profiles: several keys, one in use.
//!
//! The profile in use is what dashkey's own files, the SDK key file, `config.toml` and the
//! desktop session hold, exactly as before profiles existed; `default` is the unnamed key, so
//! a user who never names a profile has the same files and the same record as ever. Every
//! other profile keeps its variables in `profiles/NAME/env.sh` in dashkey's directory (0600 in
//! 0700 directories, written through `edit/`, rendered and parsed like `env.sh`), and the
//! record lists it with its region id and fingerprint. While another profile is in use, the
//! `default` key is parked the same way in `profiles/default/env.sh`, and `use default` takes
//! it back out, so that the files are what they were before the first `use`.

use std::path::{Path, PathBuf};

use crate::edit::fsx;
use crate::edit::record::{KeyStore, ProfileEntry, Record, RecordedFile, Role};
use crate::shell::{self, Dialect};
use crate::store::owned::{Stored, is_owned_text, load_stored, load_stored_at, owned_path};
use crate::store::plan::{
    Beside, NotRemovedReason, Note, PersistError, Plan, ProfileName, SetOptions, SetRun, Settings,
    UnsetRun, missing_ancestors, own_file, pairs, push_change, read_text,
};
use crate::{ApiKey, KeyKind, Platform};

/// The directory of dashkey's directory that holds the profiles not in use.
pub const PROFILES_DIR: &str = "profiles";

/// The dialects a profile's variables are kept in: `env.sh`, the truth every command reads,
/// and `env.fish`, which fish's per-directory switch loads (see [`crate::shell::link`]).
pub const DIALECTS: [Dialect; 2] = [Dialect::Posix, Dialect::Fish];

/// Where a profile not in use keeps its variables.
pub fn profile_file(dir: &Path, name: &ProfileName) -> PathBuf {
    dialect_file(dir, name, Dialect::Posix)
}

/// A profile's file in one of its [`DIALECTS`].
pub fn dialect_file(dir: &Path, name: &ProfileName, dialect: Dialect) -> PathBuf {
    dir.join(PROFILES_DIR).join(name.as_str()).join(dialect.owned_file_name())
}

/// Each dialect's text of a profile holding these variables.
fn rendered(
    variables: &[(&'static str, zeroize::Zeroizing<String>)],
) -> Result<Vec<(Dialect, Vec<u8>)>, PersistError> {
    let pairs = pairs(variables);
    DIALECTS.into_iter().map(|d| Ok((d, shell::owned_file(d, &pairs)?.into_bytes()))).collect()
}

/// The profile in use according to the record (`default` without one).
pub fn in_use(record: Option<&Record>) -> ProfileName {
    record
        .and_then(|r| r.profile.as_deref())
        .and_then(|name| ProfileName::parse(name).ok())
        .unwrap_or_else(ProfileName::default_profile)
}

/// One stored profile. Its `Debug` shows no secret ([`Stored`]'s shows names only).
#[derive(Debug, Clone)]
pub struct Profile {
    /// Its name.
    pub name: ProfileName,
    /// Its variables.
    pub stored: Stored,
    /// The region id it was stored with, if any.
    pub region: Option<String>,
    /// The workspace whose dedicated host it was stored for, if any.
    pub workspace: Option<String>,
    /// Whether it is the profile in use.
    pub in_use: bool,
}

/// Reads one profile, or `None` when no profile of that name is stored.
///
/// # Errors
///
/// [`PersistError`] when its file exists but was not written by dashkey.
pub fn load(platform: &Platform, name: &ProfileName) -> Result<Option<Profile>, PersistError> {
    let dir = platform.dashkey_dir().ok_or(PersistError::NoHome)?;
    let record = Record::load(&dir).ok().flatten();
    let in_use = *name == in_use(record.as_ref());
    // A profile's own file is the truth whenever it exists, also for the one in use: a
    // `use` killed between the record and the files in use leaves those files behind the
    // record, and the retry must read the profile, not them. `default` has its own file
    // only while it is parked.
    let own = load_stored_at(&profile_file(&dir, name))?;
    let from_own = own.is_some();
    let stored = match own {
        Some(stored) => Some(stored),
        None if name.is_default() => load_stored(platform)?,
        None => None,
    };
    let Some(stored) = stored else { return Ok(None) };
    let (region, workspace) = match &record {
        Some(record) if from_own => {
            entry(record, name).map(|e| (e.region.clone(), e.workspace.clone())).unwrap_or_default()
        }
        Some(record) => (record.region.clone(), record.workspace.clone()),
        None => (None, None),
    };
    Ok(Some(Profile { name: name.clone(), stored, region, workspace, in_use }))
}

/// Every stored profile, `default` first, then by name: the names the record lists and
/// those found in the profiles directory (the record is a hint, the files are the truth).
///
/// # Errors
///
/// [`PersistError`] when a profile's file was not written by dashkey.
pub fn list(platform: &Platform) -> Result<Vec<Profile>, PersistError> {
    let dir = platform.dashkey_dir().ok_or(PersistError::NoHome)?;
    let record = Record::load(&dir).ok().flatten();
    let mut names = vec![in_use(record.as_ref())];
    names.extend(
        record.iter().flat_map(|r| &r.profiles).filter_map(|e| ProfileName::parse(&e.name).ok()),
    );
    names.extend(found_names(&dir));
    names.sort_by(|a, b| (!a.is_default(), a).cmp(&(!b.is_default(), b)));
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        out.extend(load(platform, &name)?);
    }
    Ok(out)
}

/// The profile names with a directory under `profiles/`.
fn found_names(dir: &Path) -> Vec<ProfileName> {
    let Ok(entries) = std::fs::read_dir(dir.join(PROFILES_DIR)) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| ProfileName::parse(n).ok()))
        .collect()
}

fn entry<'r>(record: &'r Record, name: &ProfileName) -> Option<&'r ProfileEntry> {
    record.profiles.iter().find(|e| e.name == name.as_str())
}

fn upsert(record: &mut Record, name: &ProfileName, settings: &Settings) {
    let new = ProfileEntry {
        name: name.to_string(),
        region: settings.region.as_ref().map(|r| r.region.clone()),
        workspace: settings.region.as_ref().and_then(|r| r.workspace.clone()),
        fingerprint: settings.key.fingerprint(),
    };
    match record.profiles.iter_mut().find(|e| e.name == name.as_str()) {
        Some(old) => *old = new,
        None => record.profiles.push(new),
    }
}

/// The directories a profile's file needs, created when missing and recorded as dashkey's.
fn need_dirs(plan: &mut Plan, record: &mut Record, file: &Path) {
    let Some(parent) = file.parent() else { return };
    for path in missing_ancestors(parent) {
        if !plan.create_dirs.contains(&path) {
            plan.create_dirs.push(path.clone());
        }
        if !record.created_dirs.contains(&path) {
            record.created_dirs.push(path);
        }
    }
}

/// Writes a profile's file (refusing one dashkey did not write) and lists it in the record.
fn write_file(
    plan: &mut Plan,
    record: &mut Record,
    old: &Record,
    (dialect, path): (Dialect, PathBuf),
    bytes: Vec<u8>,
) -> Result<(), PersistError> {
    let before = read_text(&path)?;
    if let Some(text) = before.as_deref() {
        let text = std::str::from_utf8(text)
            .map_err(|_| PersistError::ForeignOwnedFile { path: path.clone(), line: 1 })?;
        if !is_owned_text(dialect, text) {
            return Err(PersistError::ForeignOwnedFile { path, line: 1 });
        }
        plan.secrets.extend(crate::store::owned::stored_key(text));
    }
    need_dirs(plan, record, &path);
    let created = before.is_none() || old.created(&path);
    record.files.retain(|f| f.path != path);
    record.files.push(RecordedFile { path: path.clone(), role: Role::Profile, created });
    push_change(plan, path, Role::Profile, before, Some(bytes), 0o600)
}

/// Takes a profile's files out (each when it is dashkey's).
fn remove_files(plan: &mut Plan, dir: &Path, name: &ProfileName) -> Result<(), PersistError> {
    for dialect in DIALECTS {
        let path = dialect_file(dir, name, dialect);
        if let Some(before) = own_file(plan, &path)? {
            match std::str::from_utf8(&before) {
                Ok(text) if is_owned_text(dialect, text) => {
                    plan.secrets.extend(crate::store::owned::stored_key(text));
                    push_change(plan, path, Role::Profile, Some(before), None, 0o600)?;
                }
                _ => plan.notes.push(Note::NotRemoved { path, reason: NotRemovedReason::Foreign }),
            }
        }
    }
    Ok(())
}

/// Takes a profile's files out (when they are dashkey's), its directory, and its entry.
fn remove_file(
    plan: &mut Plan,
    record: &mut Record,
    dir: &Path,
    name: &ProfileName,
) -> Result<(), PersistError> {
    remove_files(plan, dir, name)?;
    let profile_dir = dir.join(PROFILES_DIR).join(name.as_str());
    record.files.retain(|f| f.path.parent() != Some(profile_dir.as_path()));
    record.profiles.retain(|e| e.name != name.as_str());
    let mut gone = vec![profile_dir];
    if record.profiles.is_empty() {
        gone.push(dir.join(PROFILES_DIR));
    }
    for path in gone {
        if record.created_dirs.contains(&path) {
            record.created_dirs.retain(|d| *d != path);
            plan.remove_dirs.push(path);
        }
    }
    Ok(())
}

/// Plans `set --profile NAME` for a profile that is not in use: its own file and the record,
/// nothing any shell, desktop or SDK reads.
///
/// # Errors
///
/// [`PersistError`]; [`PersistError::ProfileInUse`] for the profile in use, which `set`
/// writes everywhere instead ([`crate::store::plan_set`]).
pub fn plan_store(
    platform: &Platform,
    name: &ProfileName,
    settings: &Settings,
) -> Result<Plan, PersistError> {
    let (dir, _home, old, mut plan) = super::begin(platform)?;
    let old = old.unwrap_or(Record { version: Record::VERSION, ..Record::default() });
    if in_use(Some(&old)) == *name {
        return Err(PersistError::ProfileInUse { name: name.to_string() });
    }
    if old.store == KeyStore::Keyring {
        return Err(PersistError::ProfileWithKeyring);
    }
    plan.secrets.push(settings.key.clone());
    let mut record = old.clone();
    for (dialect, bytes) in rendered(&settings.variables())? {
        let path = dialect_file(&dir, name, dialect);
        write_file(&mut plan, &mut record, &old, (dialect, path), bytes)?;
    }
    upsert(&mut record, name, settings);
    // The services installed with this profile follow its rotation.
    let services = old.services.iter().filter(|s| s.profile.as_deref() == Some(name.as_str()));
    let variables = settings.variables();
    super::handoff::rewrite(platform, services, &pairs(&variables), &mut plan);
    if old.written_at == 0 {
        record.written_at = super::plan::now();
    }
    push_record(&mut plan, &dir, record)?;
    Ok(plan)
}

/// Plans `unset --profile NAME`: that profile's file, its directory and its entry.
///
/// # Errors
///
/// [`PersistError::UnknownProfile`] when it is not stored, [`PersistError::ProfileInUse`]
/// for the one in use: nothing is planned then.
pub fn plan_remove(platform: &Platform, name: &ProfileName) -> Result<Plan, PersistError> {
    let (dir, _home, old, mut plan) = super::begin(platform)?;
    let old = old.unwrap_or_default();
    if in_use(Some(&old)) == *name {
        return Err(PersistError::ProfileInUse { name: name.to_string() });
    }
    let path = profile_file(&dir, name);
    if entry(&old, name).is_none() && std::fs::symlink_metadata(&path).is_err() {
        return Err(PersistError::UnknownProfile { name: name.to_string() });
    }
    let mut record = old.clone();
    remove_file(&mut plan, &mut record, &dir, name)?;
    // A record that lists nothing any more was written for this profile alone.
    let empty = record.files.is_empty()
        && record.fingerprint.is_none()
        && record.services.is_empty()
        && record.profiles.is_empty();
    if empty {
        let record_path = dir.join(crate::edit::record::FILE_NAME);
        let before = read_text(&record_path)?;
        push_change(&mut plan, record_path, Role::Record, before, None, 0o600)?;
        plan.remove_dirs.extend(record.created_dirs.iter().rev().cloned());
        if !plan.remove_dirs.contains(&dir) {
            plan.remove_dirs.push(dir);
        }
    } else {
        push_record(&mut plan, &dir, record)?;
    }
    Ok(plan)
}

fn push_record(plan: &mut Plan, dir: &Path, record: Record) -> Result<(), PersistError> {
    let path = dir.join(crate::edit::record::FILE_NAME);
    let before = read_text(&path)?;
    if let Some(change) = crate::edit::transaction::FileChange::new(
        path,
        Role::Record,
        before.map(|b| b.to_vec()),
        Some(record.to_bytes()),
        0o600,
    )? {
        plan.changes.insert(0, change);
    }
    Ok(())
}

/// The profiles' part of a `set` that writes the profile in use (or switches, `use`): the
/// profile's own copy follows the files in use; leaving `default` parks its key, coming back
/// to it takes the parked copy out.
pub(super) fn finish_set(run: &mut SetRun, record: &mut Record) -> Result<(), PersistError> {
    let from = in_use(Some(&run.old_record));
    let to = run.options.profile.clone().unwrap_or_else(|| from.clone());
    record.profiles = run.old_record.profiles.clone();
    record.profile = (!to.is_default()).then(|| to.to_string());
    let old = run.old_record.clone();
    let park = profile_file(&run.dir, &ProfileName::default_profile());
    let parked = std::fs::symlink_metadata(&park).is_ok();
    // A parked copy that exists already is the default key (see [`load`]): never replaced
    // by what the files in use hold. Each dialect's is parked on its own, before anything
    // else is written (see `store::finish_set`), so a retry parks what a killed run did not.
    let default = ProfileName::default_profile();
    if from.is_default() && !to.is_default() && owned_path(&run.dir, Dialect::Posix).is_file() {
        let posix = owned_path(&run.dir, Dialect::Posix);
        if let Some(bytes) = fsx::read_optional(&posix)? {
            let bytes = zeroize::Zeroizing::new(bytes);
            for (dialect, text) in own_variables(&posix, &bytes)? {
                let path = dialect_file(&run.dir, &default, dialect);
                if std::fs::symlink_metadata(&path).is_ok() {
                    continue;
                }
                write_file(&mut run.plan, record, &old, (dialect, path), text)?;
            }
        }
        if !parked {
            let entry = ProfileEntry {
                name: default.to_string(),
                region: old.region.clone(),
                workspace: old.workspace.clone(),
                fingerprint: old.fingerprint.clone().unwrap_or_default(),
            };
            record.profiles.retain(|e| e.name != entry.name);
            record.profiles.push(entry);
        }
    }
    if to.is_default() && parked {
        remove_file(&mut run.plan, record, &run.dir.clone(), &to)?;
    }
    if !to.is_default() {
        for (dialect, bytes) in rendered(&run.settings.variables())? {
            let path = dialect_file(&run.dir, &to, dialect);
            write_file(&mut run.plan, record, &old, (dialect, path), bytes)?;
        }
        upsert(record, &to, run.settings);
    }
    match &run.options.beside {
        Some(Beside::Store(name, settings)) => {
            for (dialect, bytes) in rendered(&settings.variables())? {
                let path = dialect_file(&run.dir, name, dialect);
                write_file(&mut run.plan, record, &old, (dialect, path), bytes)?;
            }
            upsert(record, name, settings);
        }
        Some(Beside::Remove(name)) => remove_file(&mut run.plan, record, &run.dir.clone(), name)?,
        None => {}
    }
    Ok(())
}

/// The default profile's files when it is parked, from the `env.sh` in use: its variables in
/// each of [`DIALECTS`], without the Coding Plan key the files in use export beside its own.
fn own_variables(path: &Path, bytes: &[u8]) -> Result<Vec<(Dialect, Vec<u8>)>, PersistError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| PersistError::ForeignOwnedFile { path: path.to_path_buf(), line: 1 })?;
    let vars = crate::store::owned::parse_owned_posix(text)
        .map_err(|line| PersistError::ForeignOwnedFile { path: path.to_path_buf(), line })?;
    let kept: Vec<(&'static str, zeroize::Zeroizing<String>)> = vars
        .iter()
        .filter(|(name, _)| name != crate::vars::CODING_PLAN_API_KEY)
        .filter_map(|(name, value)| {
            Some((
                crate::store::plan::vars_static(name)?,
                zeroize::Zeroizing::new(value.to_string()),
            ))
        })
        .collect();
    rendered(&kept)
}

/// The Coding Plan key the files in use export as `BAILIAN_CODING_PLAN_API_KEY` after this
/// `set`: it names another variable than `DASHSCOPE_API_KEY`, so a Coding Plan profile is
/// exported beside the standard key in use, whether it is in use or not. The one in use when
/// it is a Coding Plan key, else the first Coding Plan profile by name (one variable holds
/// one key).
///
/// # Errors
///
/// [`PersistError`] when a profile's file was not written by dashkey.
pub(super) fn coding_key(
    platform: &Platform,
    settings: &Settings,
    options: &SetOptions,
    record: &Record,
) -> Result<Option<ApiKey>, PersistError> {
    if settings.key.kind() == KeyKind::CodingPlan {
        return Ok(Some(settings.key.clone()));
    }
    let using = options.profile.clone().unwrap_or_else(|| in_use(Some(record)));
    let mut found: Vec<(ProfileName, ApiKey)> = list(platform)?
        .into_iter()
        .filter(|p| p.name != using)
        .filter_map(|p| Some((p.name, p.stored.key()?)))
        .collect();
    match &options.beside {
        Some(Beside::Store(name, settings)) => {
            found.retain(|(n, _)| n != name);
            found.push((name.clone(), settings.key.clone()));
        }
        Some(Beside::Remove(name)) => found.retain(|(n, _)| n != name),
        None => {}
    }
    found.retain(|(_, key)| key.kind() == KeyKind::CodingPlan);
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found.into_iter().next().map(|(_, key)| key))
}

/// The profiles' part of a plain `unset`: every profile's file that is dashkey's, and the
/// directories, innermost first.
pub(super) fn plan_unset_all(run: &mut UnsetRun) -> Result<(), PersistError> {
    let mut names = found_names(&run.dir);
    names.sort();
    for name in &names {
        remove_files(&mut run.plan, &run.dir, name)?;
        run.service_dirs.push(run.dir.join(PROFILES_DIR).join(name.as_str()));
    }
    if run.dir.join(PROFILES_DIR).is_dir() {
        run.service_dirs.push(run.dir.join(PROFILES_DIR));
    }
    Ok(())
}

/// Whether a recorded path is where a profile's file goes.
pub(super) fn holds(dir: &Path, path: &Path) -> bool {
    let name = path.parent().and_then(Path::file_name).and_then(|n| n.to_str());
    match name.map(ProfileName::parse) {
        Some(Ok(name)) => DIALECTS.iter().any(|d| dialect_file(dir, &name, *d) == path),
        _ => false,
    }
}
