//! `set` and `unset` as plans, applied all together or not at all.
//!
//! Planning reads everything and writes nothing, so `--dry-run` shows exactly what `set`
//! would do, and every refusal (a non-UTF-8 `.bashrc`, broken markers) happens before the
//! first byte is written. Applying writes each file so that it holds its old or its new
//! bytes after any fault (see [`fsx::write()`]) and, if any write fails, puts back every
//! change already made and re-reads each, so the user never ends up with half a setup, and
//! is told exactly what could not be put back when that happens.
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
    pub fn of(target: &crate::region::RegionEndpoint) -> RegionEndpoints {
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
        Ok(RegionEndpoints::of(&crate::region::RegionEndpoint::public(region)))
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
    /// A line inside dashkey's block that dashkey did not write: rewriting or removing the
    /// block would lose it.
    #[error(
        "{}:{line}: this line is inside dashkey's block (between `{}` and `{}`) but dashkey did \
         not write it, so dashkey would drop it; move it above or below the block, then run \
         dashkey again",
        path.display(),
        block::BEGIN,
        block::END
    )]
    ForeignLineInBlock {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// dashkey's own directory cannot be trusted with the key.
    #[error(transparent)]
    PrivateDir(#[from] fsx::PrivateDirError),
    /// A write failed; everything already changed was put back, and each file was re-read
    /// and found as it was (bytes and mode).
    #[error(
        "{source}; dashkey put back the {restored} change(s) it had already made and checked \
         them, so nothing changed"
    )]
    Applied {
        /// The failure.
        #[source]
        source: Box<PersistError>,
        /// How many changes (files and session variables) were restored.
        restored: usize,
    },
    /// A write failed, and putting some changes back failed too.
    #[error(
        "{source}; dashkey put back {restored} change(s), but could not put back: {}",
        not_restored.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    RollbackIncomplete {
        /// The failure.
        #[source]
        source: Box<PersistError>,
        /// How many changes were restored and verified.
        restored: usize,
        /// Each change that was not.
        not_restored: Vec<NotRestored>,
    },
}

/// A change that a failed apply could not put back.
#[derive(Debug)]
pub enum NotRestored {
    /// A file.
    File {
        /// The file.
        path: PathBuf,
        /// Where its old content is kept (`None`: it could not be saved anywhere; it was
        /// absent before when `was_absent`).
        kept: Option<PathBuf>,
        /// The file did not exist before (it should be removed).
        was_absent: bool,
        /// What went wrong.
        error: FsError,
    },
    /// A session variable (registry, launchd).
    Session {
        /// The variable.
        name: &'static str,
        /// What went wrong.
        error: SessionError,
    },
}

impl std::fmt::Display for NotRestored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotRestored::File { path, was_absent: true, error, .. } => {
                write!(
                    f,
                    "{} did not exist before and could not be removed ({error})",
                    path.display()
                )
            }
            NotRestored::File { path, kept: Some(kept), error, .. } => {
                write!(f, "{} ({error}); its old content is in {}", path.display(), kept.display())
            }
            NotRestored::File { path, kept: None, error, .. } => write!(
                f,
                "{} ({error}); its old content could not be saved anywhere",
                path.display()
            ),
            NotRestored::Session { name, error } => {
                write!(f, "the session variable {name} ({error})")
            }
        }
    }
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
    /// The record cannot be used; dashkey works without it (and `set` writes a new one).
    UntrustedRecord {
        /// What is wrong with it.
        problem: crate::record::RecordProblem,
    },
    /// The record lists a path outside the places dashkey writes: it is ignored.
    IgnoredRecordEntry {
        /// The path.
        path: PathBuf,
    },
    /// A file in one of dashkey's places that `unset` keeps, because dashkey cannot prove
    /// it wrote it.
    NotRemoved {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: NotRemovedReason,
    },
    /// The SDK key file dashkey saved before replacing it, kept because the SDK key file
    /// holds another key now.
    KeptSdkKeyBackup {
        /// The saved file.
        path: PathBuf,
    },
    /// A file `set --migrate` edited was changed since, so `unset` kept the changes and
    /// did not put back the removed lines: they are in the backup.
    MigratedNotRestored {
        /// The edited file.
        path: PathBuf,
        /// The backup holding the removed lines.
        backup: PathBuf,
    },
    /// dashkey's directory was open to other users; it was made private (0700).
    MadePrivate {
        /// The directory.
        path: PathBuf,
        /// The mode it had.
        was: u32,
    },
    /// An in-place write killed half-way was completed (or could not be).
    Recovered(fsx::Recovery),
}

/// Why `unset` keeps a file in one of dashkey's places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRemovedReason {
    /// Its content is not what dashkey writes.
    Foreign,
    /// It is a symbolic link, which dashkey never follows to delete.
    Link,
    /// It is a directory, a device, a FIFO.
    NotAFile,
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
    /// Where journals of in-place writes go (dashkey's directory, recovered under the lock);
    /// `None`: beside each file.
    pub journal_dir: Option<PathBuf>,
    /// Where the directory journal goes (in the home directory, which the lock is held on):
    /// the directories this plan creates or removes, listed before the first is touched, so
    /// that after a kill the next locked run removes the empty ones ([`fsx::recover_dirs`]).
    pub dirs_journal: Option<PathBuf>,
}

/// The directory journal's name in the home directory; it exists only while a run creates or
/// removes directories, or after such a run was killed.
pub const DIRS_JOURNAL: &str = ".dashkey-dirs.json";

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
    /// What taking the lock fixed or recovered ([`Note::MadePrivate`], [`Note::Recovered`]).
    pub notes: Vec<Note>,
}

impl Locked {
    /// Releases the lock and removes what taking it created, for a run that changed nothing.
    pub fn undo(self) {
        let Locked { lock, created_dirs, .. } = self;
        drop(lock);
        for dir in created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
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
    let lock = fsx::lock_dir(&home)?;
    let dir = platform.dashkey_dir();
    let mut notes = Vec::new();
    // Absent is fine (a plan creates it 0700); anything else there is checked first.
    if let Some(dir) = dir.as_deref().filter(|d| std::fs::symlink_metadata(d).is_ok())
        && let Some(was) = fsx::secure_private_dir(dir)?
    {
        notes.push(Note::MadePrivate { path: dir.to_path_buf(), was });
    }
    // Temporaries of a run that was killed half-way; no other dashkey runs now.
    if let Some(dir) = platform.dashkey_dir() {
        fsx::remove_stale_temporaries_in(&dir);
    }
    fsx::remove_stale_temporaries_in(&home.join(".dashscope"));
    if let Some(dir) = desktop::session_file(platform).as_deref().and_then(Path::parent) {
        fsx::remove_stale_temporaries_in(dir);
    }
    for file in shell::all_hook_candidates(platform, &Probes::default()) {
        // Beside the real file: a symlinked startup file is written where it points.
        fsx::remove_stale_temporaries(&fsx::write_target(&file).unwrap_or(file));
    }
    if let Some(dir) = &dir {
        notes.extend(fsx::recover(dir).into_iter().map(Note::Recovered));
    }
    let dirs_journal = home.join(DIRS_JOURNAL);
    fsx::remove_stale_temporaries(&dirs_journal);
    fsx::recover_dirs(&dirs_journal, &home);
    Ok(Locked { lock, created_dirs: Vec::new(), notes })
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

/// Adds a change unless it changes nothing. A symlink in one of dashkey's own places is
/// refused already here, so that `--dry-run` never shows what such a link points to.
fn push_change(
    plan: &mut Plan,
    path: PathBuf,
    role: Role,
    before: Option<Zeroizing<Vec<u8>>>,
    after: Option<Vec<u8>>,
    mode: u32,
) -> Result<(), PersistError> {
    if own_place(role) {
        fsx::refuse_link(&path, if after.is_some() { "write" } else { "remove" })?;
    }
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
    let (old_record, problem) = Record::inspect(&dir);
    let old_record = old_record.unwrap_or_default();
    let variables = settings.variables();
    let pairs: Vec<(&str, &str)> = variables.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let mut plan = Plan {
        secrets: vec![settings.key.clone()],
        journal_dir: Some(dir.clone()),
        dirs_journal: Some(home.join(DIRS_JOURNAL)),
        ..Plan::default()
    };
    let untrusted = problem.is_some();
    if let Some(problem) = problem {
        // Rewritten below from what this set writes.
        plan.notes.push(Note::UntrustedRecord { problem });
    }
    plan.secrets.extend(keys_in_startup_files(platform));
    let mut dirs = vec![dir.clone()];
    // Every file this set writes, changed or not, for the record.
    let mut managed: Vec<(PathBuf, Role)> = Vec::new();

    // dashkey's own files: the only copies in shell syntax.
    for dialect in Dialect::OWNED {
        let path = owned_path(&dir, dialect);
        let before = read_text(&path)?;
        if let Some(old) = before.as_deref().and_then(|b| std::str::from_utf8(b).ok()) {
            check_owned(&path, old)?;
            plan.secrets.extend(stored_key(old));
        }
        let after = shell::owned_file(dialect, &pairs)?.into_bytes();
        managed.push((path.clone(), Role::Owned));
        push_change(&mut plan, path, Role::Owned, before, Some(after), 0o600)?;
    }
    // A `~/.config` tracked by git never shows dashkey's files as untracked.
    let ignore = dir.join(GITIGNORE);
    let before = read_text(&ignore)?;
    if let Some(old) = before.as_deref()
        && old != GITIGNORE_TEXT.as_bytes()
    {
        return Err(PersistError::ForeignOwnedFile { path: ignore, line: 1 });
    }
    push_change(&mut plan, ignore, Role::Owned, before, Some(GITIGNORE_TEXT.into()), 0o600)?;

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
    managed.push((sdk_file.clone(), Role::SdkKeyFile));
    push_change(&mut plan, sdk_file, Role::SdkKeyFile, before, Some(after), 0o600)?;

    // The desktop session.
    match platform.os() {
        Os::Linux if options.gui || desktop::linux_session_present(platform) => {
            if let Some(path) = desktop::session_file(platform) {
                dirs.extend(path.parent().map(Path::to_path_buf));
                let before = read_text(&path)?;
                let after = desktop::environment_d(&pairs).into_bytes();
                managed.push((path.clone(), Role::Desktop));
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
                managed.push((path.clone(), Role::Desktop));
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
        check_block_lines(path, &text)?;
        let text = migrate_lines(&mut plan, path, &text, &migrating)?;
        let after = block::upsert_at(&text, shell::hook_offset(path, &text), &lines)
            .map_err(|source| PersistError::Block { path: path.clone(), source })?;
        managed.push((path.clone(), Role::Hook));
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
            managed.iter().filter(|(path, _)| !plan.changes.iter().any(|c| c.path == *path)).map(
                |(path, role)| RecordedFile {
                    path: path.clone(),
                    role: *role,
                    // Without a usable old record, a startup file that is nothing but
                    // dashkey's block was created by dashkey.
                    created: old_record.created(path)
                        || (untrusted && *role == Role::Hook && only_block(path)),
                },
            ),
        )
        .chain(
            old_record
                .files
                .iter()
                .filter(|f| !plan.changes.iter().any(|c| c.path == f.path))
                .filter(|f| !managed.iter().any(|(path, _)| *path == f.path))
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
        // First, not last: a `set` killed half-way leaves a record listing every file it
        // may have created, so that `unset` removes them (an empty `.profile` it created
        // included). A link or a directory planted there is refused by the write.
        let path = dir.join(crate::record::FILE_NAME);
        let before = read_text(&path).ok().flatten();
        let change = FileChange::new(
            path,
            Role::Record,
            before.map(|b| b.to_vec()),
            Some(record.to_bytes()),
            0o600,
        )?;
        if let Some(change) = change {
            plan.changes.insert(0, change);
        }
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

/// Plans `dashkey unset`: removes only what dashkey can prove it wrote.
///
/// - its own files by their names in its directory and by their content (a file there that
///   dashkey's parser does not recognise is kept, and a note says so);
/// - the SDK key file only while it holds the key dashkey stored (putting back the one it
///   replaced);
/// - the desktop session file by its content, at the one place dashkey writes it;
/// - blocks by their markers, in the startup files of every shell;
/// - services' files by their markers and content.
///
/// The record is a hint, not an authority: the places above are scanned whether or not it
/// exists, a path it lists outside them is ignored (with a note), and a record that cannot
/// be read is reported and replaced by the scan. A symbolic link is never followed to
/// delete its target.
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
    let (record, problem) = Record::inspect(&dir);
    let trusted = record.is_some();
    let record = record.unwrap_or_default();
    let mut plan = Plan {
        secrets: keys_in_startup_files(platform),
        journal_dir: Some(dir.clone()),
        dirs_journal: Some(home.join(DIRS_JOURNAL)),
        ..Plan::default()
    };
    if let Some(problem) = problem {
        plan.notes.push(Note::UntrustedRecord { problem });
    }
    let places = Places::of(platform, &dir, &home);
    for file in &record.files {
        if !places.holds(file) {
            plan.notes.push(Note::IgnoredRecordEntry { path: file.path.clone() });
        }
    }
    // A foreign env.sh is kept below; it does not stop the rest.
    let stored = load_stored(platform).ok().flatten();
    let key = stored.as_ref().and_then(Stored::key);
    plan.secrets.extend(key.clone());

    // dashkey's own files: its names in its directory, holding what it writes.
    for dialect in Dialect::OWNED {
        let path = owned_path(&dir, dialect);
        let Some(before) = own_file(&mut plan, &path)? else { continue };
        match std::str::from_utf8(&before) {
            Ok(text) if is_owned_text(dialect, text) => {
                plan.secrets.extend(stored_key(text));
                push_change(&mut plan, path, Role::Owned, Some(before), None, 0o600)?;
            }
            _ => plan.notes.push(Note::NotRemoved { path, reason: NotRemovedReason::Foreign }),
        }
    }
    let ignore = dir.join(GITIGNORE);
    if let Some(before) = own_file(&mut plan, &ignore)? {
        if before.as_slice() == GITIGNORE_TEXT.as_bytes() {
            push_change(&mut plan, ignore, Role::Owned, Some(before), None, 0o600)?;
        } else {
            plan.notes.push(Note::NotRemoved { path: ignore, reason: NotRemovedReason::Foreign });
        }
    }

    // The SDK key file, while it holds dashkey's key; the one it replaced comes back.
    let sdk_file = home.join(".dashscope").join("api_key");
    let backup = dir.join(SDK_KEY_BACKUP);
    let original = own_file(&mut plan, &backup)?;
    if let Some(original) = &original {
        plan.secrets.push(ApiKey::verbatim(String::from_utf8_lossy(original).trim()));
    }
    let sdk_link = fsx_is_link(&sdk_file);
    let current = if sdk_link { None } else { read_text(&sdk_file)? };
    if let Some(before) = current {
        let found = ApiKey::verbatim(String::from_utf8_lossy(&before).trim());
        let ours = key.as_ref() == Some(&found)
            || record.fingerprint.as_deref() == Some(found.fingerprint().as_str());
        if ours {
            plan.secrets.push(found);
            // Put back the file that was there before dashkey, or remove dashkey's.
            let after = original.as_ref().map(|bytes| bytes.to_vec());
            push_change(&mut plan, sdk_file, Role::SdkKeyFile, Some(before), after, 0o600)?;
            push_change(&mut plan, backup, Role::Backup, original, None, 0o600)?;
        } else if original.as_deref() == Some(&before) {
            // A `set` stopped between saving the user's file and replacing it: the backup
            // is the same bytes as the file, so it goes.
            plan.notes.push(Note::KeptSdkKeyFile { path: sdk_file });
            push_change(&mut plan, backup, Role::Backup, original, None, 0o600)?;
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
        push_change(&mut plan, sdk_file, Role::SdkKeyFile, None, Some(original.to_vec()), 0o600)?;
        push_change(&mut plan, backup, Role::Backup, Some(original), None, 0o600)?;
    }

    // The desktop session file, at the one place dashkey writes it.
    if let Some(path) = desktop::session_file(platform)
        && let Some(before) = own_file(&mut plan, &path)?
    {
        if std::str::from_utf8(&before).is_ok_and(is_desktop_text) {
            push_change(&mut plan, path, Role::Desktop, Some(before), None, 0o600)?;
        } else {
            plan.notes.push(Note::NotRemoved { path, reason: NotRemovedReason::Foreign });
        }
    }

    // Startup files: dashkey's block, found by its markers, in every shell's files; the
    // lines `set --migrate` removed come back from its backup while the file is as it was.
    let mut hooks = shell::all_hook_candidates(platform, probes);
    hooks.extend(dotfiles::candidate_files(platform, probes));
    hooks.extend(
        record
            .files
            .iter()
            .filter(|f| f.role == Role::Hook && places.holds(f))
            .map(|f| f.path.clone()),
    );
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
        let restored = restore_migrated(&mut plan, &path, without)?;
        // Created by dashkey: as the record says, or, without a record, a file that is
        // nothing but dashkey's block.
        let created = record.created(&path) || (!trusted && only_block);
        let remove = restored.is_empty() && created && !fsx_is_link(&path);
        let after = (!remove).then(|| restored.into_bytes());
        push_change(&mut plan, path, Role::Hook, Some(before), after, 0o644)?;
    }

    // Services given the key: the record's, and the user units found by their drop-ins.
    let mut services: Vec<(crate::service::Service, Vec<PathBuf>)> = record
        .services
        .iter()
        .map(|installed| (installed.service.clone(), installed.created_dirs.clone()))
        .collect();
    let mut found = crate::service::find_user_units(platform);
    if !trusted {
        found.extend(crate::service::find_supervisord_programs(platform));
    }
    for service in found {
        if !services.iter().any(|(known, _)| *known == service) {
            // Found without the record: the directories of its files go when empty.
            let dirs = match &service {
                crate::service::Service::Systemd { env_file, drop_in, .. } => [env_file, drop_in]
                    .iter()
                    .filter_map(|f| f.parent())
                    .map(Path::to_path_buf)
                    .collect(),
                crate::service::Service::Supervisord { .. } => Vec::new(),
            };
            services.push((service, dirs));
        }
    }
    let mut service_dirs = Vec::new();
    for (service, created_dirs) in &services {
        match crate::service::plan_uninstall(service) {
            Ok(service_plan) if service_plan.changes.is_empty() => {}
            Ok(service_plan)
                if service_plan.changes.iter().all(|c| fsx::writable(&c.real_path)) =>
            {
                plan.changes.extend(service_plan.changes);
                plan.notes.extend(service_plan.notes);
                // Only directories that hold this service's own files (rmdir of an empty one).
                let files: Vec<PathBuf> = match service {
                    crate::service::Service::Systemd { env_file, drop_in, .. } => {
                        vec![env_file.clone(), drop_in.clone()]
                    }
                    crate::service::Service::Supervisord { .. } => Vec::new(),
                };
                service_dirs.extend(
                    created_dirs
                        .iter()
                        .rev()
                        .filter(|d| files.iter().any(|f| f.starts_with(d) && f != *d))
                        .cloned(),
                );
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

    // The record, last, so that an interrupted unset can be run again.
    let record_path = dir.join(crate::record::FILE_NAME);
    if !fsx_is_link(&record_path)
        && std::fs::symlink_metadata(&record_path).is_ok_and(|m| m.is_file())
    {
        let before = read_text(&record_path)?;
        push_change(&mut plan, record_path, Role::Record, before, None, 0o600)?;
    } else if fsx_is_link(&record_path) {
        plan.notes.push(Note::NotRemoved { path: record_path, reason: NotRemovedReason::Link });
    }
    let mut remove_dirs: Vec<PathBuf> = record
        .created_dirs
        .iter()
        .filter(|d| d.starts_with(&home) && **d != home)
        .rev()
        .cloned()
        .collect();
    if !remove_dirs.contains(&dir) {
        remove_dirs.push(dir);
    }
    if !trusted {
        // Without a record, the directories a `set` may have created are tried too; only
        // empty ones go.
        remove_dirs.push(home.join(".dashscope"));
    }
    service_dirs.extend(remove_dirs);
    plan.remove_dirs = service_dirs;
    Ok(plan)
}

/// Whether a file holds nothing but dashkey's block.
fn only_block(path: &Path) -> bool {
    let Ok(Some(bytes)) = read_text(path) else { return false };
    std::str::from_utf8(&bytes).is_ok_and(|text| {
        matches!(block::find(text), Ok(Some(_))) && block::remove(text).is_ok_and(|t| t.is_empty())
    })
}

/// The places dashkey writes, against which the record's entries are checked.
struct Places {
    dir: PathBuf,
    home: PathBuf,
    sdk_file: PathBuf,
    desktop: Option<PathBuf>,
}

impl Places {
    fn of(platform: &Platform, dir: &Path, home: &Path) -> Places {
        Places {
            dir: dir.to_path_buf(),
            home: home.to_path_buf(),
            sdk_file: home.join(".dashscope").join("api_key"),
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
            Role::Desktop => self.desktop.as_ref() == Some(path),
            Role::Record => in_dir && name == crate::record::FILE_NAME,
            Role::Backup => {
                (in_dir && name == SDK_KEY_BACKUP)
                    || (path.starts_with(&self.home) && migrate_backup_of(path).is_some())
            }
            Role::Hook => path.starts_with(&self.home) && !path.starts_with(&self.dir),
            // Services are recorded apart, with their own checks.
            Role::ServiceEnv | Role::ServiceConfig => false,
        }
    }
}

/// The name of a `.gitignore` in dashkey's directory, and what dashkey writes in it: a
/// `~/.config` tracked by git never shows dashkey's files.
pub const GITIGNORE: &str = ".gitignore";
/// The content of dashkey's `.gitignore`.
pub const GITIGNORE_TEXT: &str =
    "# Written by dashkey: keeps this directory, which holds a key, out of git.\n*\n";

fn fsx_is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// The content of a file in one of dashkey's places, when it is a regular file; a link or
/// anything else there is left alone, with a note.
fn own_file(plan: &mut Plan, path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, PersistError> {
    match std::fs::symlink_metadata(path) {
        Err(_) => Ok(None),
        Ok(meta) if meta.file_type().is_symlink() => {
            plan.notes.push(Note::NotRemoved {
                path: path.to_path_buf(),
                reason: NotRemovedReason::Link,
            });
            Ok(None)
        }
        Ok(meta) if !meta.is_file() => {
            plan.notes.push(Note::NotRemoved {
                path: path.to_path_buf(),
                reason: NotRemovedReason::NotAFile,
            });
            Ok(None)
        }
        Ok(_) => read_text(path),
    }
}

/// Whether an owned file holds only what dashkey writes in that dialect: its header, then
/// one assignment of one of dashkey's variables per line (env.sh through its own parser).
fn is_owned_text(dialect: Dialect, text: &str) -> bool {
    if check_owned(Path::new(""), text).is_err() {
        return false;
    }
    if dialect == Dialect::Posix {
        return parse_owned_posix(text).is_ok();
    }
    text.lines().skip(1).all(|line| {
        let line = line.trim();
        let rest = match dialect {
            Dialect::Fish => line.strip_prefix("set -gx "),
            Dialect::Csh => line.strip_prefix("setenv "),
            Dialect::PowerShell => line.strip_prefix("$env:"),
            Dialect::Nu if line == "{" || line == "}" => return true,
            Dialect::Nu => Some(line),
            Dialect::Posix | Dialect::Cmd => None,
        };
        line.is_empty()
            || rest.is_some_and(|rest| {
                let name: String =
                    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                vars_static(&name).is_some()
            })
    })
}

/// Whether a desktop session file is one dashkey wrote (environment.d or LaunchAgent).
fn is_desktop_text(text: &str) -> bool {
    let environment_d = text.starts_with("# Written by dashkey")
        && text.lines().skip(1).all(|line| {
            line.is_empty() || line.split_once('=').is_some_and(|(n, _)| vars_static(n).is_some())
        });
    let agent = text.contains(&format!("<string>{}</string>", desktop::LAUNCH_AGENT_LABEL));
    environment_d || agent
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
fn migrate_backup_of(backup: &Path) -> Option<PathBuf> {
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

/// dashkey's own places, where a symlink is refused for writing and never followed for
/// removal: its directory's files, the SDK key file, and the desktop session file that
/// dashkey names (`60-dashkey.conf`, which holds the key: a link there, such as one a dotfiles
/// manager adopted, would carry the key into a repository).
fn own_place(role: Role) -> bool {
    match role {
        Role::Owned | Role::Record | Role::Backup | Role::SdkKeyFile | Role::Desktop => true,
        Role::Hook | Role::ServiceEnv | Role::ServiceConfig => false,
    }
}

/// A change already made, with what is needed to undo it.
struct Done<'a> {
    change: &'a FileChange,
    /// The mode the file had before (absent files have none).
    mode: Option<u32>,
}

/// Applies a plan: all of it, or (after restoring what was changed) none of it.
///
/// Before the first write, every change is checked: no symlink in dashkey's own places, and
/// nothing but regular files (or absent ones) at the end of a user's links. Each file is
/// written by [`fsx::write()`] (old or new bytes after any fault). When a write fails, every
/// change already made (files and session variables) is put back in reverse order, with its
/// old bytes and its old mode, and each is re-read to check it.
///
/// # Errors
///
/// [`PersistError::Applied`] naming the failure when everything was put back and verified;
/// [`PersistError::RollbackIncomplete`] listing each change that was not, and where each
/// file's old content is kept.
pub fn apply(
    plan: &Plan,
    mut session: Option<&mut (dyn SessionEnv + 'static)>,
) -> Result<Applied, PersistError> {
    for change in &plan.changes {
        let own = own_place(change.role);
        if own {
            fsx::refuse_link(
                &change.path,
                if change.after.is_some() { "write" } else { "remove" },
            )?;
        }
        if change.after.is_some() {
            fsx::check_write(&change.path, !own)?;
        }
    }
    let journal_dir = plan.journal_dir.as_deref();
    let mut made_dirs = Vec::new();
    let mut done: Vec<Done> = Vec::new();
    let mut done_session: Vec<(&'static str, Option<Zeroizing<String>>)> = Vec::new();
    let mut applied = Applied::default();
    let mut journaled: Vec<PathBuf> =
        plan.create_dirs.iter().filter(|dir| !dir.exists()).cloned().collect();
    journaled.extend(plan.remove_dirs.iter().cloned());
    // A home that does not exist yet (a simulated one) has nothing a journal could protect.
    let dirs_journal = plan
        .dirs_journal
        .as_deref()
        .filter(|journal| !journaled.is_empty() && journal.parent().is_some_and(Path::is_dir));
    if let Some(journal) = dirs_journal {
        fsx::write_dirs_journal(journal, &journaled)?;
    }
    let result = (|| -> Result<(), PersistError> {
        for dir in &plan.create_dirs {
            if !dir.exists() {
                fsx::create_private_dir(dir)?;
                made_dirs.push(dir.clone());
            }
        }
        for change in &plan.changes {
            fsx::remove_stale_temporaries(&change.real_path);
            let own = own_place(change.role);
            let mode = std::fs::metadata(&change.real_path).ok().and_then(|m| fsx::mode(&m));
            match &change.after {
                Some(content) => {
                    let options = fsx::WriteOptions {
                        mode: if change.role.is_private() { 0o600 } else { change.mode },
                        force_mode: change.role.is_private(),
                        follow_links: !own,
                        journal_dir,
                    };
                    // A failed write leaves the old bytes: nothing to undo for this change.
                    fsx::write(&change.path, content, &options)?;
                }
                None if own => {
                    fsx::remove_own(&change.path)?;
                }
                None => {
                    fsx::remove_file(&change.real_path)?;
                }
            }
            done.push(Done { change, mode });
        }
        if let Some(session) = session.as_deref_mut() {
            for change in &plan.session {
                let before = session.get(change.name)?.map(Zeroizing::new);
                match &change.after {
                    Some(value) => session.set(change.name, value)?,
                    None => session.remove(change.name)?,
                }
                done_session.push((change.name, before));
                applied.session.push(change.name);
            }
            if !plan.session.is_empty() {
                session.announce();
            }
        }
        Ok(())
    })();
    if let Err(error) = result {
        let mut not_restored = Vec::new();
        let mut restored = 0;
        if let Some(session) = session {
            for (name, before) in done_session.iter().rev() {
                let put_back = match before {
                    Some(value) => session.set(name, value),
                    None => session.remove(name),
                };
                let checked = put_back.and_then(|()| {
                    let now = session.get(name)?.map(Zeroizing::new);
                    if now.as_deref() == before.as_deref() {
                        Ok(())
                    } else {
                        Err(SessionError {
                            op: "verify",
                            name: (*name).to_string(),
                            store: "session",
                            detail: "it holds another value than before".to_string(),
                        })
                    }
                });
                match checked {
                    Ok(()) => restored += 1,
                    Err(error) => not_restored.push(NotRestored::Session { name, error }),
                }
            }
            if !done_session.is_empty() {
                session.announce();
            }
        }
        for done in done.iter().rev() {
            match restore(done, journal_dir) {
                Ok(()) => restored += 1,
                Err(failure) => not_restored.push(failure),
            }
        }
        for dir in made_dirs.iter().rev() {
            if let Err(e) = std::fs::remove_dir(dir)
                && dir.exists()
            {
                not_restored.push(NotRestored::File {
                    path: dir.clone(),
                    kept: None,
                    was_absent: true,
                    error: FsError::new("remove directory", dir, e),
                });
            }
        }
        // The failed write itself could not put its file's old bytes back either.
        if let PersistError::Fs(FsError { path, kept: Some(kept), .. }) = &error {
            not_restored.push(NotRestored::File {
                path: path.clone(),
                kept: Some(kept.clone()),
                was_absent: false,
                error: FsError::new(
                    "restore",
                    path,
                    std::io::Error::other("writing its old bytes back failed too"),
                ),
            });
        }
        if let Some(journal) = dirs_journal {
            let _ = fsx::remove_own(journal);
        }
        let source = Box::new(error);
        if not_restored.is_empty() {
            return Err(PersistError::Applied { source, restored });
        }
        return Err(PersistError::RollbackIncomplete { source, restored, not_restored });
    }
    for dir in &plan.remove_dirs {
        let _ = std::fs::remove_dir(dir);
    }
    if let Some(journal) = dirs_journal {
        // Everything it listed is done: created dirs hold the record, removed ones are gone.
        let _ = fsx::remove_own(journal);
    }
    applied.files = plan
        .changes
        .iter()
        .map(|c| (c.path.clone(), c.real_path.clone(), c.role, c.after.is_none()))
        .collect();
    Ok(applied)
}

/// Puts one change back: old bytes and old mode (or absence), then re-reads it.
fn restore(done: &Done, journal_dir: Option<&Path>) -> Result<(), NotRestored> {
    let change = done.change;
    let own = own_place(change.role);
    // dashkey's own places are written by name (never through a link); a user's file is
    // restored where it really is.
    let path = if own { &change.path } else { &change.real_path };
    match &change.before {
        Some(content) => {
            let mode = done.mode.unwrap_or(change.mode);
            let options =
                fsx::WriteOptions { mode, force_mode: true, follow_links: !own, journal_dir };
            let result = fsx::write(path, content, &options)
                .and_then(|_| fsx::verify(path, content, done.mode));
            result.map_err(|error| {
                let kept = error.kept.clone().or_else(|| {
                    let dir = journal_dir.or_else(|| path.parent()).unwrap_or(Path::new("."));
                    fsx::save_rescue(dir, path, content)
                });
                NotRestored::File { path: path.clone(), kept, was_absent: false, error }
            })
        }
        None => {
            let removed = if own { fsx::remove_own(path) } else { fsx::remove_file(path) };
            let result = removed.and_then(|_| match std::fs::symlink_metadata(path) {
                Err(_) => Ok(()),
                Ok(_) => Err(FsError::new(
                    "verify the removal of",
                    path,
                    std::io::Error::other("it is still there"),
                )),
            });
            result.map_err(|error| NotRestored::File {
                path: path.clone(),
                kept: None,
                was_absent: true,
                error,
            })
        }
    }
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
    match parse_owned_posix(text) {
        Ok(vars) => Ok(Some(Stored { vars })),
        Err(line) => Err(PersistError::ForeignOwnedFile { path, line }),
    }
}

/// dashkey's parser of its own `env.sh`: comments, blank lines, and `export NAME='value'`.
/// The error is the 1-based number of the first line it does not recognise.
fn parse_owned_posix(text: &str) -> Result<Vec<(String, Zeroizing<String>)>, usize> {
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
            None => return Err(index + 1),
        }
    }
    Ok(vars)
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

    /// A session that refuses to set one variable, standing in for a registry that fails.
    struct FailingSession {
        inner: MemorySession,
        refuse: &'static str,
    }

    impl SessionEnv for FailingSession {
        fn get(&self, name: &str) -> Result<Option<String>, SessionError> {
            self.inner.get(name)
        }
        fn set(&mut self, name: &str, value: &str) -> Result<(), SessionError> {
            if name == self.refuse {
                return Err(SessionError {
                    op: "set",
                    name: name.to_string(),
                    store: "test session",
                    detail: "refused".to_string(),
                });
            }
            self.inner.set(name, value)
        }
        fn remove(&mut self, name: &str) -> Result<(), SessionError> {
            self.inner.remove(name)
        }
    }

    #[test]
    fn a_failed_session_change_puts_back_the_session_and_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("ana");
        let appdata = home.join("AppData/Roaming");
        let platform = Platform::simulated(
            Os::Windows,
            [("USERPROFILE", home.to_str().unwrap()), ("APPDATA", appdata.to_str().unwrap())],
        );
        let mut inner = MemorySession::default();
        inner.set(vars::API_KEY, "sk-the-old-one-0123456789abcdef").unwrap();
        let mut session = FailingSession { inner, refuse: vars::COMPATIBLE_BASE_URL };
        let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
        let plan = plan_set(
            &platform,
            &settings(Some("ap-southeast-1")),
            &options,
            &Probes::default(),
            Some(&session),
        )
        .unwrap();
        let error = apply(&plan, Some(&mut session)).unwrap_err();
        assert!(matches!(error, PersistError::Applied { .. }), "{error}");
        assert!(error.to_string().contains("nothing changed"), "{error}");
        // The key set before the failure is back to the old one; the new base URLs are gone.
        assert_eq!(
            session.inner.vars.get(vars::API_KEY).map(String::as_str),
            Some("sk-the-old-one-0123456789abcdef")
        );
        assert_eq!(session.inner.vars.len(), 1, "{:?}", session.inner);
        assert!(!appdata.join("dashkey").exists());
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
