//! `set` and `unset` as plans, applied all together or not at all.
//!
//! Planning reads everything and writes nothing, so `--dry-run` shows exactly what `set`
//! would do, and every refusal (a non-UTF-8 `.bashrc`, broken markers) happens before the
//! first byte is written. Applying writes each file atomically and, if any write fails,
//! puts back the ones already written, so the user never ends up with half a setup.
//!
//! Where the key goes: dashkey's own files (one per shell syntax, 0600 in a 0700
//! directory), the SDKs' `~/.dashscope/api_key`, the desktop session, and a guarded source
//! line in each shell's startup file. The startup files never receive the key itself.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::block::{self, BlockError};
use crate::desktop::{self, SessionEnv, SessionError};
use crate::dotfiles::{self, Assignment};
use crate::fsx::{self, FsError};
use crate::record::{Record, RecordedFile, Role};
use crate::region::Region;
use crate::shell::{self, Dialect, Probes, QuoteError, Shell};
use crate::{ApiKey, Os, Platform, vars};

/// Where `set` keeps the SDK key file it found (in dashkey's directory, 0600), for `unset`.
pub const SDK_KEY_BACKUP: &str = "api_key.before-dashkey";

/// What `set` stores.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The key.
    pub key: ApiKey,
    /// The region whose base URLs are written beside the key (none: the SDK defaults).
    pub region: Option<RegionEndpoints>,
    /// Also write `OPENAI_API_KEY` and `OPENAI_BASE_URL` for OpenAI-SDK users.
    pub openai_compatible: bool,
}

/// A region and the three base URLs written for it: the public host of a built-in region,
/// or the endpoint `config.toml` gives it (a gateway, a private endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionEndpoints {
    /// Region id.
    pub id: String,
    /// `DASHSCOPE_HTTP_BASE_URL`.
    pub native: String,
    /// `DASHSCOPE_WEBSOCKET_BASE_URL`.
    pub websocket: String,
    /// `DASHSCOPE_COMPATIBLE_BASE_URL` (and `OPENAI_BASE_URL`).
    pub compatible: String,
}

impl RegionEndpoints {
    /// The endpoints of a verification target (built-in or from `config.toml`).
    pub fn of(target: &crate::verify::Target) -> RegionEndpoints {
        use crate::region::ApiShape;
        RegionEndpoints {
            id: target.region.clone(),
            native: target.url(ApiShape::Native),
            websocket: target.url(ApiShape::WebSocket),
            compatible: target.url(ApiShape::Compatible),
        }
    }

    /// A built-in region on its public host.
    ///
    /// # Errors
    ///
    /// [`PersistError::UnknownRegion`] for an id that is not built in.
    pub fn builtin(id: &str) -> Result<RegionEndpoints, PersistError> {
        let region = Region::find(id).ok_or_else(|| PersistError::UnknownRegion(id.to_string()))?;
        Ok(RegionEndpoints::of(&crate::verify::Target::builtin(region)))
    }
}

impl Settings {
    /// The variables, in the order they are written.
    pub fn variables(&self) -> Vec<(&'static str, Zeroizing<String>)> {
        let mut out = vec![(vars::API_KEY, Zeroizing::new(self.key.expose().to_string()))];
        if let Some(region) = &self.region {
            out.push((vars::HTTP_BASE_URL, Zeroizing::new(region.native.clone())));
            out.push((vars::WEBSOCKET_BASE_URL, Zeroizing::new(region.websocket.clone())));
            out.push((vars::COMPATIBLE_BASE_URL, Zeroizing::new(region.compatible.clone())));
        }
        if self.openai_compatible {
            let base = match &self.region {
                Some(region) => region.compatible.clone(),
                None => Region::default_region().compatible_url(),
            };
            out.push((vars::OPENAI_API_KEY, Zeroizing::new(self.key.expose().to_string())));
            out.push((vars::OPENAI_BASE_URL, Zeroizing::new(base)));
        }
        out
    }
}

/// How `set` reaches the shells and the desktop.
#[derive(Debug, Clone, Default)]
pub struct SetOptions {
    /// Only these shells (none: every shell the user has).
    pub shells: Option<Vec<Shell>>,
    /// Leave startup files alone.
    pub no_modify_rc: bool,
    /// Write the desktop session file even when no desktop session is detected.
    pub gui: bool,
    /// Remove existing assignments from startup files, after a backup.
    pub migrate: bool,
    /// Directories this run already created before planning (for the lock), so that the
    /// record lists them and `unset` removes them again.
    pub created_dirs: Vec<PathBuf>,
}

/// Why a plan cannot be made or applied.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// No home directory is known.
    #[error("no home directory: set HOME (or USERPROFILE on Windows)")]
    NoHome,
    /// `--region` names an unknown region.
    #[error("unknown region '{0}': use one of cn-beijing, ap-southeast-1, us-east-1, cn-hongkong")]
    UnknownRegion(String),
    /// A file operation failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// A startup file's markers cannot be trusted.
    #[error("{}: {source}", path.display())]
    Block {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: BlockError,
    },
    /// A startup file is not UTF-8; dashkey does not edit what it cannot read.
    #[error(
        "{} is not UTF-8 text, so dashkey will not edit it; skip it with --shell or --no-modify-rc, \
         or add the line yourself: {hint}",
        path.display()
    )]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The line to add by hand.
        hint: String,
    },
    /// A startup file is read-only; its owner does not want it edited.
    #[error(
        "{} is read-only, so dashkey will not edit it; make it writable (chmod u+w) or skip it \
         with --shell or --no-modify-rc",
        path.display()
    )]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// A value cannot be written in a shell syntax.
    #[error(transparent)]
    Quote(#[from] QuoteError),
    /// The desktop session refused a variable.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Dashkey's own file holds something it did not write.
    #[error("{} was not written by dashkey (line {line}); move it away and run dashkey again", path.display())]
    ForeignOwnedFile {
        /// The file.
        path: PathBuf,
        /// The first line dashkey does not recognise.
        line: usize,
    },
    /// A write failed; the files already written were put back.
    #[error(
        "{source}; dashkey put back the {restored} file(s) it had already written, so nothing changed"
    )]
    Applied {
        /// The failure.
        #[source]
        source: Box<PersistError>,
        /// How many files were restored.
        restored: usize,
    },
}

/// One file a plan changes. Its `Debug` shows sizes, not contents, which hold the key.
#[derive(Clone)]
pub struct FileChange {
    /// The path as named (may be a symlink).
    pub path: PathBuf,
    /// The file that will really change (the link's target).
    pub real_path: PathBuf,
    /// What the file is for.
    pub role: Role,
    /// Content now (`None`: absent).
    pub before: Option<Zeroizing<Vec<u8>>>,
    /// Content after (`None`: removed).
    pub after: Option<Zeroizing<Vec<u8>>>,
    /// Mode for a new file.
    pub mode: u32,
}

/// One per-user session variable a plan changes (Windows registry, launchd). Its `Debug`
/// shows the name only.
#[derive(Clone)]
pub struct SessionChange {
    /// The variable.
    pub name: &'static str,
    /// New value (`None`: removed).
    pub after: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for FileChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileChange")
            .field("path", &self.path)
            .field("real_path", &self.real_path)
            .field("role", &self.role)
            .field("before_len", &self.before.as_ref().map(|b| b.len()))
            .field("after_len", &self.after.as_ref().map(|a| a.len()))
            .field("mode", &format_args!("{:o}", self.mode))
            .finish()
    }
}

impl std::fmt::Debug for SessionChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionChange")
            .field("name", &self.name)
            .field("removed", &self.after.is_none())
            .finish()
    }
}

/// Something the user should know about a plan.
#[derive(Debug, Clone)]
pub enum Note {
    /// The SDK key file held another key, which is replaced.
    ReplacedSdkKey {
        /// Fingerprint of the key being replaced.
        old: String,
        /// Fingerprint of the new key.
        new: String,
    },
    /// The SDK key file holds a key dashkey did not write; `unset` keeps it.
    KeptSdkKeyFile {
        /// The file.
        path: PathBuf,
    },
    /// An assignment outside dashkey's blocks.
    Assignment {
        /// Where, and what it sets.
        assignment: Assignment,
        /// Whether some shell session reads it after dashkey's hook, so its value wins.
        overrides_dashkey: bool,
    },
    /// `--migrate` removed assignments after backing the file up.
    Migrated {
        /// The edited file.
        path: PathBuf,
        /// The 0600 backup holding the original.
        backup: PathBuf,
        /// The removed lines (1-based).
        lines: Vec<usize>,
    },
    /// A backup made by an earlier `--migrate`, kept by `unset`.
    KeptBackup {
        /// The backup.
        path: PathBuf,
    },
    /// An installed service gets the new value; it must be restarted to use it.
    ServiceUpdated {
        /// The service.
        service: String,
        /// The command that restarts it.
        restart: String,
    },
    /// An installed service could not be updated by this user.
    ServiceNotUpdated {
        /// The service.
        service: String,
        /// Why, and what to run instead.
        reason: String,
    },
    /// A shell was requested but has no startup file to hook here.
    NoStartupFile {
        /// The shell.
        shell: Shell,
    },
}

/// Everything one `set` or `unset` would do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// File changes, in the order they are applied; no-ops are left out.
    pub changes: Vec<FileChange>,
    /// Session variable changes.
    pub session: Vec<SessionChange>,
    /// Directories to create (0700) before writing.
    pub create_dirs: Vec<PathBuf>,
    /// Directories to remove after writing, when they are empty.
    pub remove_dirs: Vec<PathBuf>,
    /// Things to tell the user.
    pub notes: Vec<Note>,
    /// Keys that appear in the changed files, to mask in anything shown.
    pub secrets: Vec<ApiKey>,
}

impl Plan {
    /// True when applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.session.is_empty()
    }
}

/// What applying did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Each file changed: (path as named, file really written, role, removed?).
    pub files: Vec<(PathBuf, PathBuf, Role, bool)>,
    /// Session variables changed.
    pub session: Vec<&'static str>,
}

/// The owned file of a dialect.
pub fn owned_path(dir: &Path, dialect: Dialect) -> PathBuf {
    dir.join(dialect.owned_file_name())
}

/// The command that loads dashkey's own file into the user's shell (`. "$HOME/…/env.sh"`,
/// `source …/env.fish`), or `None` when there is no home.
pub fn load_command(platform: &Platform) -> Option<String> {
    let dialect = shell::login_dialect(platform);
    let dir = platform.dashkey_dir()?;
    Some(dialect.source_command(&owned_path(&dir, dialect), platform.home().as_deref()))
}

/// dashkey's lock, and the directories created to hold it.
#[derive(Debug)]
pub struct Locked {
    /// Held until dropped.
    pub lock: fsx::Lock,
    /// Directories that did not exist before (for [`SetOptions::created_dirs`]).
    pub created_dirs: Vec<PathBuf>,
}

impl Locked {
    /// Releases the lock and removes what taking it created, for a run that changed nothing.
    pub fn undo(self) {
        let Locked { lock, created_dirs } = self;
        drop(lock);
        for dir in created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Takes dashkey's lock, creating its directory (0700) if needed. The lock is held on the
/// configuration directory that contains dashkey's, which `unset` never removes while
/// another run may be waiting for it (dashkey's own directory does go away).
///
/// # Errors
///
/// [`PersistError`] when there is no home or the lock cannot be taken.
pub fn lock(platform: &Platform) -> Result<Locked, PersistError> {
    let dir = platform.dashkey_dir().ok_or(PersistError::NoHome)?;
    let created_dirs = missing_ancestors(&dir);
    fsx::create_private_dir(&dir)?;
    let lock = fsx::lock_dir(dir.parent().unwrap_or(&dir))?;
    // Temporaries of a run that was killed half-way; no other dashkey runs now.
    fsx::remove_stale_temporaries_in(&dir);
    if let Some(home) = platform.home() {
        fsx::remove_stale_temporaries_in(&home.join(".dashscope"));
    }
    Ok(Locked { lock, created_dirs })
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The current bytes of a file about to be edited (through its symlinks; an error names the
/// path as given, `~/.bashrc`, not the link's target).
fn read_text(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, PersistError> {
    fsx::write_target(path)?;
    Ok(fsx::read_optional(path)?.map(Zeroizing::new))
}

impl FileChange {
    /// A change from `before` to `after`, or `None` when they are the same bytes.
    ///
    /// # Errors
    ///
    /// [`FsError`] when the path's symlinks cannot be followed.
    pub fn new(
        path: PathBuf,
        role: Role,
        before: Option<Vec<u8>>,
        after: Option<Vec<u8>>,
        mode: u32,
    ) -> Result<Option<FileChange>, FsError> {
        let before = before.map(Zeroizing::new);
        let after = after.map(Zeroizing::new);
        if before.as_deref() == after.as_deref() {
            return Ok(None);
        }
        let real_path = fsx::write_target(&path)?;
        Ok(Some(FileChange { path, real_path, role, before, after, mode }))
    }
}

/// Adds a change unless it changes nothing.
fn push_change(
    plan: &mut Plan,
    path: PathBuf,
    role: Role,
    before: Option<Zeroizing<Vec<u8>>>,
    after: Option<Vec<u8>>,
    mode: u32,
) -> Result<(), PersistError> {
    let before = before.map(|b| b.to_vec());
    plan.changes.extend(FileChange::new(path, role, before, after, mode)?);
    Ok(())
}

/// Plans `dashkey set`.
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
    let dir = platform.dashkey_dir().ok_or(PersistError::NoHome)?;
    let home = platform.home().ok_or(PersistError::NoHome)?;
    let old_record = Record::load(&dir)?.unwrap_or_default();
    let variables = settings.variables();
    let pairs: Vec<(&str, &str)> = variables.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let mut plan = Plan { secrets: vec![settings.key.clone()], ..Plan::default() };
    plan.secrets.extend(keys_in_startup_files(platform));
    let mut dirs = vec![dir.clone()];

    // dashkey's own files: the only copies in shell syntax.
    for dialect in Dialect::OWNED {
        let path = owned_path(&dir, dialect);
        let before = read_text(&path)?;
        if let Some(old) = before.as_deref().and_then(|b| std::str::from_utf8(b).ok()) {
            check_owned(&path, old)?;
            plan.secrets.extend(stored_key(old));
        }
        let after = shell::owned_file(dialect, &pairs)?.into_bytes();
        push_change(&mut plan, path, Role::Owned, before, Some(after), 0o600)?;
    }

    // The SDKs' own key file, for programs started outside any shell.
    let sdk_file = home.join(".dashscope").join("api_key");
    dirs.push(home.join(".dashscope"));
    let before = read_text(&sdk_file)?;
    if let Some(old_bytes) = before.as_deref() {
        let old = ApiKey::verbatim(String::from_utf8_lossy(old_bytes).trim());
        if !old.is_empty() && old != settings.key {
            plan.notes.push(Note::ReplacedSdkKey {
                old: old.fingerprint(),
                new: settings.key.fingerprint(),
            });
        }
        // A file dashkey did not write (from `dashscope auth login`, say) is kept, so that
        // `unset` can put it back as it was.
        let written_by_dashkey =
            old_record.fingerprint.as_deref() == Some(old.fingerprint().as_str());
        let backup = dir.join(SDK_KEY_BACKUP);
        if !written_by_dashkey && !backup.exists() {
            push_change(&mut plan, backup, Role::Backup, None, Some(old_bytes.to_vec()), 0o600)?;
        }
        plan.secrets.push(old);
    }
    let after = format!("{}\n", settings.key.expose()).into_bytes();
    push_change(&mut plan, sdk_file, Role::SdkKeyFile, before, Some(after), 0o600)?;

    // The desktop session.
    match platform.os() {
        Os::Linux if options.gui || desktop::linux_session_present(platform) => {
            if let Some(path) = desktop::session_file(platform) {
                dirs.extend(path.parent().map(Path::to_path_buf));
                let before = read_text(&path)?;
                let after = desktop::environment_d(&pairs).into_bytes();
                push_change(&mut plan, path, Role::Desktop, before, Some(after), 0o600)?;
            }
        }
        Os::Linux => {}
        Os::MacOs | Os::Windows => {
            if let Some(path) = desktop::session_file(platform) {
                dirs.extend(path.parent().map(Path::to_path_buf));
                let names: Vec<&str> = pairs.iter().map(|(n, _)| *n).collect();
                let before = read_text(&path)?;
                let after =
                    desktop::launch_agent(&owned_path(&dir, Dialect::Posix), &names).into_bytes();
                push_change(&mut plan, path, Role::Desktop, before, Some(after), 0o600)?;
            }
            if let Some(session) = session {
                for (name, value) in &variables {
                    if session.get(name)?.as_deref() != Some(value.as_str()) {
                        plan.session.push(SessionChange { name, after: Some(value.clone()) });
                    }
                }
                for name in stale_session_vars(&old_record, &variables) {
                    plan.session.push(SessionChange { name, after: None });
                }
            }
        }
    }

    // Startup files: a guarded source line, never the key.
    let candidates = dotfiles::candidate_files(platform, probes);
    let assignments = dotfiles::find(&candidates);
    let mut hook_files: Vec<(PathBuf, Dialect)> = Vec::new();
    if !options.no_modify_rc {
        let shells = options.shells.clone().unwrap_or_else(|| shell::detect(platform));
        for shell in shells {
            let files = shell::startup_files(shell, platform, probes);
            if files.is_empty() {
                plan.notes.push(Note::NoStartupFile { shell });
            }
            for file in files {
                if !hook_files.iter().any(|(path, _)| *path == file) {
                    hook_files.push((file, shell.dialect()));
                }
            }
        }
    }
    let migrating: Vec<&Assignment> = if options.migrate {
        assignments.iter().filter(|a| a.name == vars::API_KEY || a.literal).collect()
    } else {
        Vec::new()
    };
    let mut edited: Vec<PathBuf> = Vec::new();
    for (path, dialect) in &hook_files {
        dirs.extend(path.parent().map(Path::to_path_buf));
        let owned = owned_path(&dir, *dialect);
        let lines = shell::hook_lines(*dialect, &owned, Some(&home));
        let before = read_text(path)?;
        let text = utf8(path, before.as_deref().map(Vec::as_slice), *dialect, &owned)?;
        let text = migrate_lines(&mut plan, path, &text, &migrating)?;
        let after = block::upsert_at(&text, shell::hook_offset(path, &text), &lines)
            .map_err(|source| PersistError::Block { path: path.clone(), source })?;
        push_change(&mut plan, path.clone(), Role::Hook, before, Some(after.into_bytes()), 0o644)?;
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
            &owned_path(&dir, Dialect::Posix),
        )?;
        let after = migrate_lines(&mut plan, path, &text, &migrating)?;
        push_change(&mut plan, path.clone(), Role::Hook, before, Some(after.into_bytes()), 0o644)?;
    }
    if !options.migrate {
        // Judge "which one wins" on the files as they will be after this set.
        let planned: Vec<(PathBuf, String)> = plan
            .changes
            .iter()
            .filter(|c| c.role == Role::Hook)
            .filter_map(|c| {
                Some((c.path.clone(), String::from_utf8(c.after.as_deref()?.to_vec()).ok()?))
            })
            .collect();
        let startup = crate::startup::Startup::read_planned(platform, &planned);
        for file in startup.files() {
            for found in &file.assignments {
                plan.notes.push(Note::Assignment {
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

    // Services given the key earlier get the new value too.
    for installed in &old_record.services {
        let service = &installed.service;
        match crate::service::plan_install(service, &pairs) {
            Ok(service_plan) if service_plan.changes.is_empty() => {}
            Ok(service_plan) => {
                if service_plan.changes.iter().all(|c| fsx::writable(&c.real_path)) {
                    plan.notes.push(Note::ServiceUpdated {
                        service: service.describe(),
                        restart: service.restart_command(),
                    });
                    plan.create_dirs.extend(service_plan.create_dirs);
                    plan.changes.extend(service_plan.changes);
                } else {
                    plan.notes.push(Note::ServiceNotUpdated {
                        service: service.describe(),
                        reason:
                            "its files need root: run `sudo dashkey service install` for it again"
                                .to_string(),
                    });
                }
            }
            Err(error) => plan.notes.push(Note::ServiceNotUpdated {
                service: service.describe(),
                reason: error.to_string(),
            }),
        }
    }

    // Directories to create: the ones that do not exist yet, outermost first.
    let mut created_dirs = old_record.created_dirs.clone();
    for dir in &options.created_dirs {
        if !created_dirs.contains(dir) {
            created_dirs.push(dir.clone());
        }
    }
    for dir in shell::dedup(dirs) {
        if !dir.exists() {
            let missing = missing_ancestors(&dir);
            for path in missing {
                if !plan.create_dirs.contains(&path) {
                    plan.create_dirs.push(path.clone());
                }
                if !created_dirs.contains(&path) {
                    created_dirs.push(path);
                }
            }
        }
    }

    // The record, last: what unset will need to find everything again.
    let files = plan
        .changes
        .iter()
        .map(|c| RecordedFile {
            path: c.path.clone(),
            role: c.role,
            created: c.before.is_none() || old_record.created(&c.path),
        })
        .chain(
            old_record
                .files
                .iter()
                .filter(|f| !plan.changes.iter().any(|c| c.path == f.path))
                .cloned(),
        )
        .filter(|f| f.role != Role::Record)
        .collect();
    let record = Record {
        version: Record::VERSION,
        region: settings.region.as_ref().map(|r| r.id.clone()),
        openai_compatible: settings.openai_compatible,
        fingerprint: Some(settings.key.fingerprint()),
        written_at: if plan.is_empty() { old_record.written_at } else { now() },
        files,
        created_dirs,
        services: old_record.services.clone(),
        session_vars: match platform.os() {
            Os::Linux => Vec::new(),
            Os::MacOs | Os::Windows => pairs.iter().map(|(n, _)| (*n).to_string()).collect(),
        },
    };
    if !plan.is_empty() || Record::load(&dir)?.is_none() {
        let path = dir.join(crate::record::FILE_NAME);
        let before = read_text(&path)?;
        push_change(&mut plan, path, Role::Record, before, Some(record.to_bytes()), 0o600)?;
    }
    Ok(plan)
}

/// Keys written literally in startup files (the documented `export DASHSCOPE_API_KEY=...`),
/// so that diffs of those files show them masked.
fn keys_in_startup_files(platform: &Platform) -> Vec<ApiKey> {
    let startup = crate::startup::Startup::read(platform);
    startup
        .files()
        .iter()
        .flat_map(|file| &file.assignments)
        .filter(|a| a.name == vars::API_KEY || a.name == vars::OPENAI_API_KEY)
        .filter_map(|a| a.value.clone())
        .collect()
}

/// Session variables written last time that this `set` no longer writes.
fn stale_session_vars(
    record: &Record,
    variables: &[(&'static str, Zeroizing<String>)],
) -> Vec<&'static str> {
    const ALL: [&str; 6] = [
        vars::API_KEY,
        vars::HTTP_BASE_URL,
        vars::WEBSOCKET_BASE_URL,
        vars::COMPATIBLE_BASE_URL,
        vars::OPENAI_API_KEY,
        vars::OPENAI_BASE_URL,
    ];
    ALL.into_iter()
        .filter(|name| record.session_vars.iter().any(|v| v == name))
        .filter(|name| !variables.iter().any(|(n, _)| n == name))
        .collect()
}

/// The directories of `dir`'s path that do not exist yet, outermost first.
pub fn missing_ancestors(dir: &Path) -> Vec<PathBuf> {
    let mut missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .map(Path::to_path_buf)
        .collect();
    missing.reverse();
    missing
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

/// Refuses to overwrite a file in dashkey's directory that dashkey did not write.
fn check_owned(path: &Path, text: &str) -> Result<(), PersistError> {
    match text.lines().next() {
        Some(first) if first.contains("Written by dashkey") => Ok(()),
        _ => Err(PersistError::ForeignOwnedFile { path: path.to_path_buf(), line: 1 }),
    }
}

/// Plans `dashkey unset`: every hook, owned file, desktop entry, and the SDK key file when
/// it still holds the key dashkey wrote.
///
/// # Errors
///
/// [`PersistError`] when a file cannot be read or its markers cannot be trusted.
pub fn plan_unset(
    platform: &Platform,
    probes: &Probes,
    session: Option<&dyn SessionEnv>,
) -> Result<Plan, PersistError> {
    let dir = platform.dashkey_dir().ok_or(PersistError::NoHome)?;
    let home = platform.home().ok_or(PersistError::NoHome)?;
    let record = Record::load(&dir)?.unwrap_or_default();
    let mut plan = Plan { secrets: keys_in_startup_files(platform), ..Plan::default() };
    let stored = load_stored(platform)?;
    let key = stored.as_ref().and_then(Stored::key);
    plan.secrets.extend(key.clone());

    let mut owned: Vec<PathBuf> = Dialect::OWNED.iter().map(|d| owned_path(&dir, *d)).collect();
    owned.extend(record.files.iter().filter(|f| f.role == Role::Owned).map(|f| f.path.clone()));
    for path in shell::dedup(owned) {
        let before = read_text(&path)?;
        if let Some(text) = before.as_deref().and_then(|b| std::str::from_utf8(b).ok()) {
            plan.secrets.extend(stored_key(text));
        }
        push_change(&mut plan, path, Role::Owned, before, None, 0o600)?;
    }

    let sdk_file = home.join(".dashscope").join("api_key");
    let backup = dir.join(SDK_KEY_BACKUP);
    let original = read_text(&backup)?;
    if let Some(original) = &original {
        plan.secrets.push(ApiKey::verbatim(String::from_utf8_lossy(original).trim()));
    }
    if let Some(before) = read_text(&sdk_file)? {
        let found = ApiKey::verbatim(String::from_utf8_lossy(&before).trim());
        let ours = key.as_ref() == Some(&found)
            || record.fingerprint.as_deref() == Some(found.fingerprint().as_str());
        if ours {
            plan.secrets.push(found);
            // Put back the file that was there before dashkey, or remove dashkey's.
            let after = original.as_ref().map(|bytes| bytes.to_vec());
            push_change(&mut plan, sdk_file, Role::SdkKeyFile, Some(before), after, 0o600)?;
            push_change(&mut plan, backup, Role::Backup, original, None, 0o600)?;
        } else {
            plan.notes.push(Note::KeptSdkKeyFile { path: sdk_file });
            if original.is_some() {
                plan.notes.push(Note::KeptBackup { path: backup });
            }
        }
    } else if let Some(original) = original {
        // dashkey's copy is gone already: the user's original comes back.
        push_change(&mut plan, sdk_file, Role::SdkKeyFile, None, Some(original.to_vec()), 0o600)?;
        push_change(&mut plan, backup, Role::Backup, Some(original), None, 0o600)?;
    }

    let mut desktop_files: Vec<PathBuf> = desktop::session_file(platform).into_iter().collect();
    desktop_files
        .extend(record.files.iter().filter(|f| f.role == Role::Desktop).map(|f| f.path.clone()));
    for path in shell::dedup(desktop_files) {
        let before = read_text(&path)?;
        push_change(&mut plan, path, Role::Desktop, before, None, 0o600)?;
    }

    let mut hooks = shell::all_hook_candidates(platform, probes);
    hooks.extend(record.files.iter().filter(|f| f.role == Role::Hook).map(|f| f.path.clone()));
    for path in shell::dedup(hooks) {
        let Some(before) = read_text(&path)? else { continue };
        let Ok(text) = std::str::from_utf8(&before) else { continue };
        let span = block::find(text)
            .map_err(|source| PersistError::Block { path: path.clone(), source })?;
        if span.is_none() {
            continue;
        }
        let after = block::remove(text)
            .map_err(|source| PersistError::Block { path: path.clone(), source })?;
        let after = (!(after.is_empty() && record.created(&path))).then(|| after.into_bytes());
        push_change(&mut plan, path, Role::Hook, Some(before), after, 0o644)?;
    }
    let sdk_backup = dir.join(SDK_KEY_BACKUP);
    for backup in record.files.iter().filter(|f| f.role == Role::Backup && f.path.exists()) {
        if backup.path != sdk_backup {
            plan.notes.push(Note::KeptBackup { path: backup.path.clone() });
        }
    }

    // Services given the key: their copies go too, and their files come back as they were.
    let mut service_dirs = Vec::new();
    for installed in &record.services {
        let service = &installed.service;
        match crate::service::plan_uninstall(service) {
            Ok(service_plan)
                if service_plan.changes.iter().all(|c| fsx::writable(&c.real_path)) =>
            {
                plan.changes.extend(service_plan.changes);
                service_dirs.extend(installed.created_dirs.iter().rev().cloned());
                plan.notes.push(Note::ServiceUpdated {
                    service: service.describe(),
                    restart: service.restart_command(),
                });
            }
            Ok(_) => plan.notes.push(Note::ServiceNotUpdated {
                service: service.describe(),
                reason: "its files need root: run `sudo dashkey service uninstall` for it"
                    .to_string(),
            }),
            Err(error) => plan.notes.push(Note::ServiceNotUpdated {
                service: service.describe(),
                reason: error.to_string(),
            }),
        }
    }

    if let Some(session) = session {
        for name in &record.session_vars {
            if let Some(name) = vars_static(name)
                && session.get(name)?.is_some()
            {
                plan.session.push(SessionChange { name, after: None });
            }
        }
    }

    let record_path = dir.join(crate::record::FILE_NAME);
    let before = read_text(&record_path)?;
    push_change(&mut plan, record_path, Role::Record, before, None, 0o600)?;
    let mut remove_dirs = service_dirs;
    remove_dirs.extend(record.created_dirs.iter().rev().cloned());
    if !remove_dirs.contains(&dir) {
        remove_dirs.push(dir);
    }
    plan.remove_dirs = remove_dirs;
    Ok(plan)
}

fn vars_static(name: &str) -> Option<&'static str> {
    [
        vars::API_KEY,
        vars::HTTP_BASE_URL,
        vars::WEBSOCKET_BASE_URL,
        vars::COMPATIBLE_BASE_URL,
        vars::OPENAI_API_KEY,
        vars::OPENAI_BASE_URL,
    ]
    .into_iter()
    .find(|v| *v == name)
}

/// Applies a plan: all of it, or (after restoring what was written) none of it.
///
/// # Errors
///
/// [`PersistError::Applied`] naming the failure; every file is as it was before.
pub fn apply(
    plan: &Plan,
    mut session: Option<&mut (dyn SessionEnv + 'static)>,
) -> Result<Applied, PersistError> {
    let mut made_dirs = Vec::new();
    let mut done: Vec<&FileChange> = Vec::new();
    let mut applied = Applied::default();
    let result = (|| -> Result<(), PersistError> {
        for dir in &plan.create_dirs {
            if !dir.exists() {
                fsx::create_private_dir(dir)?;
                made_dirs.push(dir.clone());
            }
        }
        for change in &plan.changes {
            fsx::remove_stale_temporaries(&change.real_path);
            match &change.after {
                Some(content) if change.role.is_private() => {
                    fsx::write_private(&change.path, content, 0o600)?;
                }
                Some(content) => {
                    fsx::write_atomic(&change.path, content, change.mode)?;
                }
                None => {
                    fsx::remove_file(&change.real_path)?;
                }
            }
            done.push(change);
        }
        if let Some(session) = session.as_deref_mut() {
            for change in &plan.session {
                match &change.after {
                    Some(value) => session.set(change.name, value)?,
                    None => session.remove(change.name)?,
                }
                applied.session.push(change.name);
            }
            if !plan.session.is_empty() {
                session.announce();
            }
        }
        Ok(())
    })();
    if let Err(error) = result {
        let restored = done.len();
        for change in done.iter().rev() {
            let _ = match &change.before {
                Some(content) => {
                    fsx::write_atomic(&change.real_path, content, change.mode).map(|_| ())
                }
                None => fsx::remove_file(&change.real_path).map(|_| ()),
            };
        }
        for dir in made_dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(PersistError::Applied { source: Box::new(error), restored });
    }
    for dir in &plan.remove_dirs {
        let _ = std::fs::remove_dir(dir);
    }
    applied.files = plan
        .changes
        .iter()
        .map(|c| (c.path.clone(), c.real_path.clone(), c.role, c.after.is_none()))
        .collect();
    Ok(applied)
}

/// The variables dashkey stored, read back from its `env.sh`. Its `Debug` shows names only.
#[derive(Clone)]
pub struct Stored {
    /// Name and value of each variable, in file order.
    pub vars: Vec<(String, Zeroizing<String>)>,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.vars.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Stored").field("vars", &names).finish()
    }
}

impl Stored {
    /// The stored key.
    pub fn key(&self) -> Option<ApiKey> {
        self.get(vars::API_KEY).map(ApiKey::verbatim)
    }

    /// One stored variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Reads what dashkey stored, or `None` when nothing is stored.
///
/// # Errors
///
/// [`PersistError`] when the file exists but cannot be read or was not written by dashkey.
pub fn load_stored(platform: &Platform) -> Result<Option<Stored>, PersistError> {
    let dir = platform.dashkey_dir().ok_or(PersistError::NoHome)?;
    let path = owned_path(&dir, Dialect::Posix);
    let Some(bytes) = fsx::read_optional(&path)? else { return Ok(None) };
    let bytes = Zeroizing::new(bytes);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| PersistError::ForeignOwnedFile { path: path.clone(), line: 1 })?;
    check_owned(&path, text)?;
    let mut vars = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let parsed = line
            .strip_prefix("export ")
            .and_then(|rest| rest.split_once('='))
            .and_then(|(name, value)| Some((name.to_string(), unquote_posix(value)?)));
        match parsed {
            Some((name, value)) => vars.push((name, Zeroizing::new(value))),
            None => return Err(PersistError::ForeignOwnedFile { path, line: index + 1 }),
        }
    }
    Ok(Some(Stored { vars }))
}

/// The key in an owned file's text, if it has one (used to mask it in diffs).
fn stored_key(text: &str) -> Option<ApiKey> {
    text.lines().find_map(|line| {
        let value = line
            .strip_prefix("export DASHSCOPE_API_KEY=")
            .or_else(|| line.strip_prefix("set -gx DASHSCOPE_API_KEY "))
            .or_else(|| line.strip_prefix("setenv DASHSCOPE_API_KEY "))?;
        unquote_posix(value).map(ApiKey::verbatim)
    })
}

/// Reverses [`shell::quote_posix`]: a sequence of `'…'` and `"…"` segments.
fn unquote_posix(quoted: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(open) = chars.next() {
        if open != '\'' && open != '"' {
            return None;
        }
        loop {
            match chars.next() {
                Some(c) if c == open => break,
                Some(c) => out.push(c),
                None => return None,
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desktop::MemorySession;

    const KEY: &str = "sk-0123456789abcdef0123456789abcdef";

    fn settings(region: Option<&str>) -> Settings {
        Settings {
            key: ApiKey::verbatim(KEY),
            region: region.map(|id| RegionEndpoints::builtin(id).unwrap()),
            openai_compatible: false,
        }
    }

    #[test]
    fn debug_of_plans_and_stored_values_never_shows_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let platform = Platform::simulated(Os::Linux, [("HOME", dir.path().to_str().unwrap())]);
        let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
        let plan =
            plan_set(&platform, &settings(None), &options, &Probes::default(), None).unwrap();
        assert!(!format!("{plan:?}").contains(KEY));
        apply(&plan, None).unwrap();
        let stored = load_stored(&platform).unwrap().unwrap();
        assert!(!format!("{stored:?}").contains(KEY));
        assert_eq!(stored.key().unwrap().expose(), KEY);
    }

    #[test]
    fn unquote_reverses_quote() {
        for value in ["plain", "it's", "''", "a'b'c", ""] {
            assert_eq!(unquote_posix(&shell::quote_posix(value)).as_deref(), Some(value));
        }
    }

    #[test]
    fn windows_set_writes_the_registry_through_the_session_abstraction() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("ana");
        let appdata = home.join("AppData/Roaming");
        let platform = Platform::simulated(
            Os::Windows,
            [("USERPROFILE", home.to_str().unwrap()), ("APPDATA", appdata.to_str().unwrap())],
        );
        let mut session = MemorySession::default();
        let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
        let plan_for = |session: &MemorySession| {
            plan_set(
                &platform,
                &settings(Some("ap-southeast-1")),
                &options,
                &Probes::default(),
                Some(session),
            )
            .unwrap()
        };
        let plan = plan_for(&session);
        let names: Vec<&str> = plan.session.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                vars::API_KEY,
                vars::HTTP_BASE_URL,
                vars::WEBSOCKET_BASE_URL,
                vars::COMPATIBLE_BASE_URL
            ]
        );
        apply(&plan, Some(&mut session)).unwrap();
        assert_eq!(session.vars.get(vars::API_KEY).map(String::as_str), Some(KEY));
        assert_eq!(session.announcements, 1);
        assert!(appdata.join("dashkey/env.ps1").is_file());

        // A second identical set changes nothing; unset removes every variable it wrote.
        let again = plan_for(&session);
        assert!(
            again.is_empty(),
            "{:?}",
            again.changes.iter().map(|c| &c.path).collect::<Vec<_>>()
        );
        let unset = plan_unset(&platform, &Probes::default(), Some(&session)).unwrap();
        apply(&unset, Some(&mut session)).unwrap();
        assert!(session.vars.is_empty());
        assert!(!appdata.join("dashkey").exists());
    }

    #[test]
    fn macos_set_writes_a_launch_agent_without_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let platform = Platform::simulated(Os::MacOs, [("HOME", dir.path().to_str().unwrap())]);
        let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
        let session = MemorySession::default();
        let plan =
            plan_set(&platform, &settings(None), &options, &Probes::default(), Some(&session))
                .unwrap();
        let agent = plan.changes.iter().find(|c| c.role == Role::Desktop).unwrap();
        assert!(agent.path.ends_with("Library/LaunchAgents/io.dashkey.environment.plist"));
        let text = String::from_utf8(agent.after.as_deref().unwrap().to_vec()).unwrap();
        assert!(!text.contains(KEY));
        assert_eq!(agent.mode, 0o600);
    }

    #[test]
    fn a_failed_write_restores_everything() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::write(home.join(".bashrc"), "original\n").unwrap();
        // ~/.dashscope is a file, so the SDK key file cannot be written: apply fails mid-way.
        std::fs::write(home.join(".dashscope"), "not a directory").unwrap();
        let platform = Platform::simulated(Os::Linux, [("HOME", home.to_str().unwrap())]);
        let options = SetOptions { shells: Some(vec![Shell::Bash]), ..SetOptions::default() };
        let plan =
            plan_set(&platform, &settings(None), &options, &Probes::default(), None).unwrap();
        let error = apply(&plan, None).unwrap_err();
        assert!(error.to_string().contains("api_key"), "{error}");
        assert_eq!(std::fs::read_to_string(home.join(".bashrc")).unwrap(), "original\n");
        assert!(!home.join(".config/dashkey").exists());
    }
}
