//! Every place dashkey keeps the key or its region, one file each, behind one closed enum.
//!
//! `set` plans each [`Store`] in turn into one [`Plan`], then one transaction applies it
//! ([`apply`]); `unset` does the same with each store's removal, and `status`/`doctor` list
//! what each holds now ([`scan`]). Adding a place means adding one file here and one variant.
//!
//! Why a closed enum rather than a trait: the places are known and few, the order matters
//! (it is the order of the changes shown and applied), and a `match` that must name every
//! store turns a new place into a compile error at each of set, unset, describe and
//! scan — which is the point. A trait object would hide a forgotten place behind a default
//! method. The per-place logic stays in its file; this file only dispatches and records.
//!
//! - [`keyring`]: the OS keyring entry (`set --store keyring`), the key's home instead of files;
//! - [`owned`]: dashkey's own env files (the one parser beside the one renderer);
//! - [`gitignore`]: the `.gitignore` in dashkey's directory;
//! - [`sdk_key`]: the SDKs' `~/.dashscope/api_key`, and the file it replaced;
//! - [`sdk_config`]: the 2.0 SDK's `~/.dashscope/config.toml` (`base_url`), merged;
//! - [`desktop`]: the desktop session (environment.d, LaunchAgent, registry, launchd);
//! - [`hooks`]: startup-file hooks, and `--migrate`;
//! - [`handoff`]: services given the key (systemd, supervisord).
//!
//! Beside them, [`profile`] keeps the profiles not in use and [`link`] chooses which profile
//! applies to a command (`--profile`, a `dashkey link` file, the one in use).
//!
//! [`plan`] holds what they share (settings, errors, notes, the run); [`copies`] what a copy
//! found looks like. The writing itself is [`crate::edit`]'s.

use std::path::{Path, PathBuf};

pub mod copies;
pub mod desktop;
pub mod gitignore;
pub mod handoff;
pub mod hooks;
pub mod keyring;
pub mod link;
pub mod owned;
pub mod plan;
pub mod profile;
pub mod sdk_config;
pub mod sdk_key;

pub use crate::edit::transaction::{
    Applied, ApplyError, DIRS_JOURNAL, FileChange, NotRestored, SessionChange, apply,
};
pub use copies::{CopyState, KeyCopy, PlaceKind, PlaceProblem, sdk_key_file};
pub use gitignore::{GITIGNORE, GITIGNORE_TEXT};
pub use owned::{Stored, load_command, load_stored, owned_path};
pub use plan::{
    BadProfileName, Beside, CLIENT_VARS, DASHSCOPE_VARS, NotRemovedReason, NotUpdated, Note,
    PersistError, Plan, ProfileName, SetOptions, Settings, WRITTEN_VARS, client_value,
    missing_ancestors,
};
pub use sdk_config::SDK_CONFIG_BACKUP;
pub use sdk_key::SDK_KEY_BACKUP;

use crate::edit::fsx;
use crate::edit::record::{KeyStore, Record, RecordedFile, Role};
use crate::edit::session::SessionEnv;
use crate::shell::{self, Dialect, Probes};
use crate::{Os, Platform};
use plan::{SetRun, UnsetRun, fsx_is_link, now, push_change, read_text};

/// One place dashkey keeps the key (or what points at it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The OS keyring entry (`set --store keyring`).
    Keyring,
    /// dashkey's own env files, one per shell syntax.
    Owned,
    /// The `.gitignore` in dashkey's directory.
    GitIgnore,
    /// The SDKs' key file, and the file it replaced.
    SdkKeyFile,
    /// The 2.0 SDK's `config.toml`, holding the region's `base_url`.
    SdkConfig,
    /// The desktop session.
    Desktop,
    /// The hooks in shells' startup files.
    Hooks,
    /// Services given the key.
    Handoffs,
}

impl Store {
    /// Every store, in the order their changes are planned, shown and applied.
    pub const ALL: [Store; 8] = [
        Store::Keyring,
        Store::Owned,
        Store::GitIgnore,
        Store::SdkKeyFile,
        Store::SdkConfig,
        Store::Desktop,
        Store::Hooks,
        Store::Handoffs,
    ];

    /// What the place is, for a reader.
    pub fn describe(self) -> &'static str {
        match self {
            Store::Keyring => "the OS keyring (set --store keyring)",
            Store::Owned => "dashkey's own files, one per shell syntax",
            Store::GitIgnore => "the .gitignore in dashkey's directory",
            Store::SdkKeyFile => "the SDKs' key file (~/.dashscope/api_key)",
            Store::SdkConfig => "the 2.0 SDK's configuration (~/.dashscope/config.toml)",
            Store::Desktop => "the desktop session",
            Store::Hooks => "the hooks in shells' startup files",
            Store::Handoffs => "services given the key",
        }
    }

    /// The changes `set` makes here.
    fn plan_set(self, run: &mut SetRun) -> Result<(), PersistError> {
        match self {
            Store::Keyring => keyring::plan_set(run),
            Store::Owned => owned::plan_set(run),
            Store::GitIgnore => gitignore::plan_set(run),
            Store::SdkKeyFile => sdk_key::plan_set(run),
            Store::SdkConfig => sdk_config::plan_set(run),
            Store::Desktop => desktop::plan_set(run),
            Store::Hooks => hooks::plan_set(run),
            Store::Handoffs => handoff::plan_set(run),
        }
    }

    /// The changes `unset` makes here.
    fn plan_unset(self, run: &mut UnsetRun) -> Result<(), PersistError> {
        match self {
            Store::Keyring => keyring::plan_unset(run),
            Store::Owned => owned::plan_unset(run),
            Store::GitIgnore => gitignore::plan_unset(run),
            Store::SdkKeyFile => sdk_key::plan_unset(run),
            Store::SdkConfig => sdk_config::plan_unset(run),
            Store::Desktop => desktop::plan_unset(run),
            Store::Hooks => hooks::plan_unset(run),
            Store::Handoffs => handoff::plan_unset(run),
        }
    }

    /// The copies of the key that are here now, as an SDK or a shell would read them
    /// (startup-file assignments are the `startup` reader's; services' files are listed by
    /// `dashkey service list`).
    /// `recorded` is the store the record names: only the keyring's copy depends on it.
    pub fn found(self, platform: &Platform, recorded: KeyStore) -> Vec<KeyCopy> {
        match self {
            Store::Keyring => keyring::found(platform, recorded),
            Store::Owned => owned::found(platform),
            Store::SdkKeyFile => sdk_key::found(platform),
            Store::Desktop => desktop::found(platform),
            // config.toml holds the region, not the key (`status` shows it apart).
            Store::GitIgnore | Store::SdkConfig | Store::Hooks | Store::Handoffs => Vec::new(),
        }
    }
}

/// Lists every place the key can be for this platform, in the order the SDKs look: the
/// environment, then each store's copies ([`Store::found`]).
pub fn scan(platform: &Platform) -> Vec<KeyCopy> {
    let record = platform.dashkey_dir().and_then(|dir| Record::load(&dir).ok().flatten());
    scan_recorded(platform, record.as_ref())
}

/// [`scan`] with the record the caller has already read (`status`), so that it is read once.
pub fn scan_recorded(platform: &Platform, record: Option<&Record>) -> Vec<KeyCopy> {
    let recorded = record.map_or(KeyStore::File, |record| record.store);
    let mut copies = vec![copies::variable_copy(platform)];
    if let Some(copy) = copies::path_variable_copy(platform) {
        copies.push(copy);
    }
    for store in Store::ALL {
        copies.extend(store.found(platform, recorded));
    }
    // The stores are in the order they are written; a report lists them as the SDKs look.
    copies.sort_by_key(|copy| copy.kind);
    copies
}

/// Plans `dashkey set`: each store plans its changes, in order; then the directories they
/// need and the record.
///
/// # Errors
///
/// [`PersistError`] for anything that would make the result incomplete or wrong; nothing
/// has been written when it returns.
pub fn plan_set(
    platform: &Platform,
    settings: &Settings,
    options: &SetOptions,
    probes: &Probes,
    session: Option<&dyn SessionEnv>,
) -> Result<Plan, PersistError> {
    let mut run = SetRun::read(platform, settings, options, probes, session)?;
    for store in Store::ALL {
        store.plan_set(&mut run)?;
    }
    finish_set(run)
}

/// Plans `dashkey unset`: each store removes only what dashkey can prove it wrote; then the
/// record and the directories dashkey created.
///
/// The record is a hint, not an authority: every place is scanned whether or not it exists,
/// a path it lists outside them is ignored (with a note), and a record that cannot be read
/// is reported and replaced by the scan. A symbolic link is never followed to delete its
/// target.
///
/// # Errors
///
/// [`PersistError`] when a file cannot be read or its markers cannot be trusted.
pub fn plan_unset(
    platform: &Platform,
    probes: &Probes,
    session: Option<&dyn SessionEnv>,
) -> Result<Plan, PersistError> {
    let mut run = UnsetRun::read(platform, probes, session)?;
    for store in Store::ALL {
        store.plan_unset(&mut run)?;
    }
    finish_unset(run)
}

/// What every run starts from: dashkey's directory, the home, the record (read once; a
/// record that cannot be used is noted), and a plan whose journals go where the lock
/// protects them.
fn begin(platform: &Platform) -> Result<(PathBuf, PathBuf, Option<Record>, Plan), PersistError> {
    let dir = platform.dashkey_dir().ok_or(PersistError::NoHome)?;
    let home = platform.home().ok_or(PersistError::NoHome)?;
    let (record, problem) = Record::inspect(&dir);
    let mut plan = Plan {
        journal_dir: Some(dir.clone()),
        dirs_journal: Some(home.join(DIRS_JOURNAL)),
        ..Plan::default()
    };
    plan.notes.extend(problem.map(|problem| Note::UntrustedRecord { problem }));
    Ok((dir, home, record, plan))
}

impl<'a> SetRun<'a> {
    /// Reads what every store of one `set` shares: the record (once), the variables.
    fn read(
        platform: &'a Platform,
        settings: &'a Settings,
        options: &'a SetOptions,
        probes: &'a Probes,
        session: Option<&'a dyn SessionEnv>,
    ) -> Result<SetRun<'a>, PersistError> {
        let (dir, home, old_record, mut plan) = begin(platform)?;
        plan.secrets.push(settings.key.clone());
        // An untrusted record is rewritten at the end from what this set writes.
        let untrusted = !plan.notes.is_empty();
        let mut variables = settings.variables();
        let record = old_record.clone().unwrap_or_default();
        if let Some(coding) = profile::coding_key(platform, settings, options, &record)? {
            variables.push((crate::vars::CODING_PLAN_API_KEY, coding.expose().to_string().into()));
            plan.secrets.push(coding);
        }
        Ok(SetRun {
            platform,
            settings,
            options,
            probes,
            session,
            dirs: vec![dir.clone()],
            dir,
            home,
            record_usable: old_record.is_some(),
            store: options
                .store
                .unwrap_or_else(|| old_record.as_ref().map_or(KeyStore::File, |r| r.store)),
            old_record: old_record.unwrap_or_default(),
            untrusted,
            variables,
            plan,
            managed: Vec::new(),
            wslenv: Vec::new(),
            displaced: Vec::new(),
        })
    }
}

impl<'a> UnsetRun<'a> {
    /// Reads what every store of one `unset` shares: the record (once, its entries checked
    /// against the places dashkey writes), the stored key, the literal keys in startup files.
    fn read(
        platform: &'a Platform,
        probes: &'a Probes,
        session: Option<&'a dyn SessionEnv>,
    ) -> Result<UnsetRun<'a>, PersistError> {
        let (dir, home, record, mut plan) = begin(platform)?;
        let trusted = record.is_some();
        let record = record.unwrap_or_default();
        let startup = crate::world::startup::Startup::read(platform);
        plan.secrets.extend(hooks::keys_in_startup_files(&startup));
        let places = Places::of(platform, &dir, &home);
        for file in &record.files {
            if !places.holds(file) {
                plan.notes.push(Note::IgnoredRecordEntry { path: file.path.clone() });
            }
        }
        let recorded_hooks = record
            .files
            .iter()
            .filter(|f| f.role == Role::Hook && places.holds(f))
            .map(|f| f.path.clone())
            .collect();
        // A foreign env.sh is kept by its store; it does not stop the rest.
        let key = load_stored(platform).ok().flatten().as_ref().and_then(Stored::key);
        plan.secrets.extend(key.clone());
        Ok(UnsetRun {
            platform,
            probes,
            session,
            dir,
            home,
            record,
            trusted,
            recorded_hooks,
            key,
            plan,
            service_dirs: Vec::new(),
        })
    }
}

/// The end of a `set`: the directories its files need, and the record, which lists every
/// file written so that `unset` finds them all again.
fn finish_set(mut run: SetRun) -> Result<Plan, PersistError> {
    // Directories to create: the ones that do not exist yet, outermost first.
    let mut created_dirs = run.old_record.created_dirs.clone();
    for dir in shell::dedup(std::mem::take(&mut run.dirs)) {
        if !dir.exists() {
            let missing = missing_ancestors(&dir);
            for path in missing {
                if !run.plan.create_dirs.contains(&path) {
                    run.plan.create_dirs.push(path.clone());
                }
                if !created_dirs.contains(&path) {
                    created_dirs.push(path);
                }
            }
        }
    }

    // The record, last: what unset will need to find everything again.
    let no_desktop = desktop::opted_out(run.options, &run.old_record);
    let files: Vec<RecordedFile> = run
        .plan
        .changes
        .iter()
        // A desktop file taken back by `--no-desktop` is not dashkey's any more, nor an SDK
        // key file taken out by `--store keyring`.
        .filter(|c| {
            !(matches!(c.role, Role::Desktop | Role::SdkKeyFile | Role::Backup)
                && c.after.is_none())
        })
        .map(|c| RecordedFile {
            path: c.path.clone(),
            role: c.role,
            created: c.before.is_none() || run.old_record.created(&c.path),
        })
        .chain(
            run.managed
                .iter()
                .filter(|(path, _)| !run.plan.changes.iter().any(|c| c.path == *path))
                .map(|(path, role)| RecordedFile {
                    path: path.clone(),
                    role: *role,
                    // Without a usable old record, a startup file that is nothing but
                    // dashkey's block was created by dashkey.
                    created: run.old_record.created(path)
                        || (run.untrusted && *role == Role::Hook && hooks::only_block(path)),
                }),
        )
        .chain(
            run.old_record
                .files
                .iter()
                .filter(|f| !run.plan.changes.iter().any(|c| c.path == f.path))
                .filter(|f| !run.managed.iter().any(|(path, _)| *path == f.path))
                .cloned(),
        )
        .filter(|f| f.role != Role::Record)
        .collect();
    // Files listed before keep their place, so that a `set` that takes back what the one
    // before it did (a profile stored, then removed) gives back the record as it was.
    let mut files = files;
    let place = |f: &RecordedFile| run.old_record.files.iter().position(|old| old.path == f.path);
    files.sort_by_key(|f| place(f).unwrap_or(usize::MAX));
    let mut record = Record {
        version: Record::VERSION,
        region: run.settings.region.as_ref().map(|r| r.region.clone()),
        workspace: run.settings.region.as_ref().and_then(|r| r.workspace.clone()),
        openai_compatible: run.settings.openai_compatible,
        client_vars: run.settings.client_vars.iter().map(|n| (*n).to_string()).collect(),
        fingerprint: Some(run.settings.key.fingerprint()),
        replaced: match run.old_record.fingerprint.clone() {
            Some(old) if old != run.settings.key.fingerprint() => Some(old),
            _ => run.old_record.replaced.clone(),
        },
        // A profile stored or removed beside the one in use leaves its key's time alone.
        written_at: if run.plan.is_empty() || run.options.beside.is_some() {
            run.old_record.written_at
        } else {
            now()
        },
        files,
        created_dirs,
        services: run.old_record.services.clone(),
        session_vars: match run.platform.os() {
            Os::Linux => Vec::new(),
            _ if no_desktop => Vec::new(),
            Os::MacOs | Os::Windows => {
                run.plain_variables().iter().map(|(n, _)| (*n).to_string()).collect()
            }
        },
        no_desktop,
        wslenv: std::mem::take(&mut run.wslenv),
        session_displaced: std::mem::take(&mut run.displaced),
        profile: None,
        profiles: Vec::new(),
        store: run.store,
        plan: run.settings.plan.clone(),
    };
    profile::finish_set(&mut run, &mut record)?;
    // A key a profile keeps (the default parked by `use`) is known by that profile's entry:
    // the record of a `use` and back is then the record it was.
    if let Some(replaced) = &record.replaced
        && record.profiles.iter().any(|p| p.fingerprint == *replaced)
    {
        record.replaced = None;
    }
    if !run.plan.is_empty() || !run.record_usable {
        // First, not last: a `set` killed half-way leaves a record listing every file it
        // may have created, so that `unset` removes them (an empty `.profile` it created
        // included). A link or a directory planted there is refused by the write.
        let path = run.dir.join(crate::edit::record::FILE_NAME);
        let before = read_text(&path).ok().flatten();
        let change = FileChange::new(
            path,
            Role::Record,
            before.map(|b| b.to_vec()),
            Some(record.to_bytes()),
            0o600,
        )?;
        if let Some(change) = change {
            run.plan.changes.insert(0, change);
        }
    }
    // Parking the default key goes before the record that says another profile is in use:
    // a run killed in between leaves a copy, never a record pointing away from the only one.
    for dialect in profile::DIALECTS.into_iter().rev() {
        let park = profile::dialect_file(&run.dir, &ProfileName::default_profile(), dialect);
        if let Some(at) = run.plan.changes.iter().position(|c| c.path == park && c.after.is_some())
        {
            let change = run.plan.changes.remove(at);
            run.plan.changes.insert(0, change);
        }
    }
    Ok(run.plan)
}

/// The end of an `unset`: the record goes last, so that an interrupted unset can be run
/// again; then the directories dashkey created, when empty.
fn finish_unset(mut run: UnsetRun) -> Result<Plan, PersistError> {
    profile::plan_unset_all(&mut run)?;
    // The record, last, so that an interrupted unset can be run again.
    let record_path = run.dir.join(crate::edit::record::FILE_NAME);
    if !fsx_is_link(&record_path)
        && std::fs::symlink_metadata(&record_path).is_ok_and(|m| m.is_file())
    {
        let before = read_text(&record_path)?;
        push_change(&mut run.plan, record_path, Role::Record, before, None, 0o600)?;
    } else if fsx_is_link(&record_path) {
        run.plan.notes.push(Note::NotRemoved { path: record_path, reason: NotRemovedReason::Link });
    }
    let mut remove_dirs: Vec<PathBuf> = run
        .record
        .created_dirs
        .iter()
        .filter(|d| d.starts_with(&run.home) && **d != run.home)
        .rev()
        .cloned()
        .collect();
    if !remove_dirs.contains(&run.dir) {
        remove_dirs.push(run.dir.clone());
    }
    if !run.trusted {
        // Without a record, the directories a `set` may have created are tried too; only
        // empty ones go.
        remove_dirs.push(run.home.join(".dashscope"));
    }
    run.service_dirs.extend(remove_dirs);
    run.plan.remove_dirs = run.service_dirs;
    Ok(run.plan)
}

/// The places dashkey writes, against which the record's entries are checked.
struct Places {
    dir: PathBuf,
    home: PathBuf,
    sdk_file: PathBuf,
    sdk_config: PathBuf,
    desktop: Option<PathBuf>,
}

impl Places {
    fn of(platform: &Platform, dir: &Path, home: &Path) -> Places {
        Places {
            dir: dir.to_path_buf(),
            home: home.to_path_buf(),
            sdk_file: home.join(".dashscope").join("api_key"),
            sdk_config: sdk_config::sdk_config_file(home),
            desktop: desktop::session_file(platform),
        }
    }

    /// Whether a recorded file is where dashkey writes files of its role.
    fn holds(&self, file: &RecordedFile) -> bool {
        let path = &file.path;
        let in_dir = path.parent() == Some(self.dir.as_path());
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        match file.role {
            Role::Owned => {
                in_dir
                    && (name == GITIGNORE
                        || Dialect::OWNED.iter().any(|d| d.owned_file_name() == name))
            }
            Role::SdkKeyFile => *path == self.sdk_file,
            Role::SdkConfig => *path == self.sdk_config,
            Role::Desktop => self.desktop.as_ref() == Some(path),
            Role::Record => in_dir && name == crate::edit::record::FILE_NAME,
            Role::Backup => {
                (in_dir && (name == SDK_KEY_BACKUP || name == SDK_CONFIG_BACKUP))
                    || (path.starts_with(&self.home) && hooks::migrate_backup_of(path).is_some())
            }
            Role::Hook => path.starts_with(&self.home) && !path.starts_with(&self.dir),
            // Services are recorded apart, with their own checks.
            Role::ServiceEnv | Role::ServiceConfig => false,
            Role::Profile => profile::holds(&self.dir, path),
        }
    }
}

/// dashkey's lock (taking it creates nothing), and what taking it repaired.
#[derive(Debug)]
pub struct Locked {
    /// Held until dropped.
    pub lock: fsx::Lock,
    /// What taking the lock fixed or recovered ([`Note::MadePrivate`], [`Note::Recovered`]).
    pub notes: Vec<Note>,
}

/// Takes dashkey's lock. It is held on the home directory itself, which no dashkey run ever
/// creates or removes: a lock on a directory `unset` may delete (dashkey's own, or a
/// `~/.config` that `set` created) lets a run that waited on the deleted directory and a run
/// that created a new one both hold "the" lock. Nothing is created to take it.
///
/// Under the lock, before anything is planned: dashkey's directory must be a real directory
/// of this user's (a wider mode is narrowed to 0700 and noted), the temporaries of a killed
/// run are removed, and its half-done in-place writes are recovered ([`fsx::recover`]).
///
/// # Errors
///
/// [`PersistError`] when there is no home, the directory cannot be trusted, or the lock
/// cannot be taken.
pub fn lock(platform: &Platform) -> Result<Locked, PersistError> {
    let home = platform.home().ok_or(PersistError::NoHome)?;
    let dir = platform.dashkey_dir();
    let mut temp_dirs = vec![home.join(".dashscope")];
    temp_dirs.extend(
        desktop::session_file(platform).as_deref().and_then(Path::parent).map(Path::to_path_buf),
    );
    let temp_files = shell::all_hook_candidates(platform, &Probes::default());
    let taken = crate::edit::lock::take(&home, dir.as_deref(), &temp_dirs, &temp_files).map_err(
        |error| match error {
            crate::edit::lock::LockError::Fs(e) => PersistError::Fs(e),
            crate::edit::lock::LockError::PrivateDir(e) => PersistError::PrivateDir(e),
        },
    )?;
    let mut notes = Vec::new();
    if let Some((path, was)) = taken.made_private {
        notes.push(Note::MadePrivate { path, was });
    }
    notes.extend(taken.recovered.into_iter().map(Note::Recovered));
    Ok(Locked { lock: taken.lock, notes })
}

#[cfg(test)]
mod tests;
