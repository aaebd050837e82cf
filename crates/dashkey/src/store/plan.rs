//! What the stores plan with: the settings `set` stores, the errors and notes of a plan, the
//! readings of one run that every store shares, and the small helpers every store uses to
//! add a change. It depends on no store, so that every store can depend on it.
//!
//! A run (`SetRun`, `UnsetRun`) is read once, before the first store plans: the record
//! (one read), the variables, the home and dashkey's directory. Each store then adds its
//! changes and notes to the run's one [`Plan`].

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::edit::fsx::{self, FsError};
use crate::edit::keyring::KeyringError;
use crate::edit::record::{KeyStore, Record, Role};
use crate::edit::session::{SessionEnv, SessionError};
use crate::edit::transaction::{FileChange, own_place};
use crate::region::{Region, RegionEndpoint};
use crate::shell::block::{self, BlockError};
use crate::shell::{Probes, QuoteError, Shell};
use crate::world::dotfiles::Assignment;
use crate::{ApiKey, Platform, vars};

/// Everything one `set` or `unset` would do, with what to tell the user about it.
pub type Plan = crate::edit::transaction::Plan<Note>;

/// What `set` stores.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The key.
    pub key: ApiKey,
    /// The region whose base URLs are written beside the key (none: the SDK defaults).
    pub region: Option<RegionEndpoint>,
    /// Also write `OPENAI_API_KEY` and `OPENAI_BASE_URL` for OpenAI-SDK users.
    pub openai_compatible: bool,
    /// Other generic variables asked for with `set --client` (names from [`CLIENT_VARS`]).
    pub client_vars: Vec<&'static str>,
    /// The plan an `sk-sp-` key belongs to, when known (recorded, never written as a variable).
    pub plan: Option<crate::edit::record::KeyPlan>,
}

/// The generic variables `set --client` can write besides the OpenAI pair: names another
/// provider may own, so never written by default.
pub const CLIENT_VARS: [&str; 7] = [
    vars::ALIBABA_API_KEY,
    vars::ALIBABA_REGION,
    vars::AI_DASHSCOPE_API_KEY,
    vars::SPRING_AI_BASE_URL,
    vars::ANTHROPIC_AUTH_TOKEN,
    vars::ANTHROPIC_BASE_URL,
    vars::ANTHROPIC_API_KEY,
];

/// A client variable's value for this key and region; `None` when the client has no way to
/// name the region (`ALIBABA_REGION` knows only China, Singapore and the US).
pub fn client_value(name: &str, key: &ApiKey, region: &RegionEndpoint) -> Option<String> {
    match name {
        vars::ALIBABA_API_KEY
        | vars::AI_DASHSCOPE_API_KEY
        | vars::ANTHROPIC_AUTH_TOKEN
        | vars::ANTHROPIC_API_KEY => Some(key.expose().to_string()),
        vars::ALIBABA_REGION => match region.region.as_str() {
            "cn-beijing" => Some("china".to_string()),
            "ap-southeast-1" => Some("singapore".to_string()),
            "us-east-1" => Some("us".to_string()),
            _ => None,
        },
        vars::SPRING_AI_BASE_URL => Some(region.base.clone()),
        vars::ANTHROPIC_BASE_URL => Some(format!("{}/apps/anthropic", region.base)),
        _ => None,
    }
}

impl Settings {
    /// The variables, in the order they are written.
    pub fn variables(&self) -> Vec<(&'static str, Zeroizing<String>)> {
        let mut out = vec![(vars::API_KEY, Zeroizing::new(self.key.expose().to_string()))];
        if let Some(region) = &self.region {
            out.push((vars::HTTP_BASE_URL, Zeroizing::new(region.native())));
            out.push((vars::WEBSOCKET_BASE_URL, Zeroizing::new(region.websocket())));
            out.push((vars::COMPATIBLE_BASE_URL, Zeroizing::new(region.compatible())));
            out.push((vars::API_BASE, Zeroizing::new(region.compatible())));
            // A workspace host: what both SDK surfaces read to build it themselves, beside the
            // URLs (the 1.x surface builds no workspace host for Beijing).
            if let Some(workspace) = &region.workspace {
                out.push((vars::API_REGION, Zeroizing::new(region.region.clone())));
                out.push((vars::WORKSPACE_ID, Zeroizing::new(workspace.clone())));
                out.push((vars::REGION, Zeroizing::new(region.region.clone())));
                out.push((vars::WORKSPACE, Zeroizing::new(workspace.clone())));
            }
        }
        if self.openai_compatible {
            let base = match &self.region {
                Some(region) => region.compatible(),
                None => Region::default_region().compatible_url(),
            };
            out.push((vars::OPENAI_API_KEY, Zeroizing::new(self.key.expose().to_string())));
            out.push((vars::OPENAI_BASE_URL, Zeroizing::new(base)));
        }
        let region = self.region.clone().unwrap_or_else(|| {
            RegionEndpoint::builtin(crate::region::DEFAULT_REGION).expect("the default region")
        });
        for name in &self.client_vars {
            if let Some(value) = client_value(name, &self.key, &region) {
                out.push((name, Zeroizing::new(value)));
            }
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
    /// Write no desktop session file, and take back the one an earlier `set` wrote.
    pub no_desktop: bool,
    /// Remove existing assignments from startup files, after a backup.
    pub migrate: bool,
    /// The profile this set makes the one in use (`dashkey use`); `None` keeps the one in use.
    pub profile: Option<ProfileName>,
    /// Where the key goes (`--store`); `None` keeps the store the record names.
    pub store: Option<KeyStore>,
    /// A profile not in use stored or removed in the same transaction, because the files in
    /// use export its key too (a Coding Plan key, as `BAILIAN_CODING_PLAN_API_KEY`).
    pub beside: Option<Beside>,
}

/// A profile beside the one in use that one `set` stores or removes.
#[derive(Debug, Clone)]
pub enum Beside {
    /// Store this profile with these settings.
    Store(ProfileName, Box<Settings>),
    /// Remove this profile.
    Remove(ProfileName),
}

/// The name every profile is known by: a plain word, so that it is a safe directory name,
/// a safe shell word and the same on every system.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProfileName(String);

/// A profile name that is not a plain word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a profile name: use 1 to 32 lowercase letters, digits, '-' or '_', starting \
     with a letter or digit"
)]
pub struct BadProfileName(pub String);

impl ProfileName {
    /// The unnamed key's profile, whose files are the ones dashkey always wrote.
    pub const DEFAULT: &'static str = "default";

    /// Checks `[a-z0-9][a-z0-9_-]{0,31}`.
    ///
    /// # Errors
    ///
    /// [`BadProfileName`] for anything else (`..`, a slash, upper case, a space, empty).
    pub fn parse(name: &str) -> Result<ProfileName, BadProfileName> {
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if first_ok && rest_ok && name.len() <= 32 {
            Ok(ProfileName(name.to_string()))
        } else {
            Err(BadProfileName(name.to_string()))
        }
    }

    /// `default`.
    pub fn default_profile() -> ProfileName {
        ProfileName(Self::DEFAULT.to_string())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `default`.
    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }
}

impl std::fmt::Display for ProfileName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a plan cannot be made or applied.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// No home directory is known.
    #[error("no home directory: set HOME (or USERPROFILE on Windows)")]
    NoHome,
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
    #[error("{} is not UTF-8 text, so dashkey will not edit it", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The line to add by hand.
        hint: String,
    },
    /// A startup file is read-only; its owner does not want it edited.
    #[error("{} is read-only, so dashkey will not edit it", path.display())]
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
    #[error("{} was not written by dashkey (line {line})", path.display())]
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
         not write it, so dashkey would drop it",
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
    /// A TOML file dashkey would merge into is not valid TOML; dashkey does not rewrite
    /// what it cannot parse (and the SDK raises on it too).
    #[error("{}:{line}: not valid TOML ({message}), so dashkey will not edit it", path.display())]
    InvalidToml {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the error.
        line: usize,
        /// What the parser says.
        message: String,
    },
    /// dashkey's own directory cannot be trusted with the key.
    #[error(transparent)]
    PrivateDir(#[from] fsx::PrivateDirError),
    /// No profile of that name is stored.
    #[error("no profile '{name}' is stored")]
    UnknownProfile {
        /// The name asked for.
        name: String,
    },
    /// The keyring that holds (or is to hold) the key cannot be used.
    #[error("{place}: {error}", place = crate::store::keyring::place(), error = .0)]
    Keyring(#[from] KeyringError),
    /// The keyring store keeps one key, the default profile's.
    #[error("the keyring store keeps one key, and named profiles are stored")]
    KeyringWithProfiles,
    /// A named profile cannot be stored beside the keyring store's one key.
    #[error("the keyring store keeps one key, the default profile's")]
    ProfileWithKeyring,
    /// The profile in use cannot be removed alone: new shells would be left without it.
    #[error("the profile '{name}' is in use")]
    ProfileInUse {
        /// The profile.
        name: String,
    },
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
        /// Why.
        reason: NotUpdated,
    },
    /// A startup file has CRLF line endings: dashkey's block in it is LF, so that the shell
    /// can parse it, but the file's own lines may still break that shell.
    CrlfStartupFile {
        /// The file.
        path: PathBuf,
    },
    /// A shell was requested but has no startup file to hook here.
    NoStartupFile {
        /// The shell.
        shell: Shell,
    },
    /// The record cannot be used; dashkey works without it (and `set` writes a new one).
    UntrustedRecord {
        /// What is wrong with it.
        problem: crate::edit::record::RecordProblem,
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
    /// `config.toml` held a `base_url` dashkey did not write; it is replaced, and the file
    /// as it was is saved in `backup` for `unset`.
    ReplacedSdkBaseUrl {
        /// The `config.toml`.
        path: PathBuf,
        /// The value replaced.
        old: String,
        /// Where the file as it was is kept.
        backup: PathBuf,
    },
    /// `config.toml` was changed since dashkey wrote it: only dashkey's `base_url` was
    /// taken out (the user's own put back), and the changes kept.
    KeptSdkConfigChanges {
        /// The `config.toml`.
        path: PathBuf,
    },
    /// `config.toml` does not hold the `base_url` dashkey wrote (it was changed, or is not
    /// TOML now), so `unset` left it as it is.
    KeptSdkConfig {
        /// The `config.toml`.
        path: PathBuf,
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

/// Why a service given the key was left as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotUpdated {
    /// Its files need root: `set` (`install`) or `unset` cannot rewrite them as this user.
    NeedsRoot {
        /// `set` (the service would get the new key) rather than `unset`.
        install: bool,
    },
    /// Its plan failed (what the error says, which names no command).
    Failed(String),
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

pub(super) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The current bytes of a file about to be edited (through its symlinks; an error names the
/// path as given, `~/.bashrc`, not the link's target).
pub(super) fn read_text(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, PersistError> {
    fsx::write_target(path)?;
    Ok(fsx::read_optional(path)?.map(Zeroizing::new))
}

/// Adds a change unless it changes nothing. A symlink in one of dashkey's own places is
/// refused already here, so that `--dry-run` never shows what such a link points to.
pub(super) fn push_change(
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

pub(super) fn fsx_is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// The content of a file in one of dashkey's places, when it is a regular file; a link or
/// anything else there is left alone, with a note.
pub(super) fn own_file(
    plan: &mut Plan,
    path: &Path,
) -> Result<Option<Zeroizing<Vec<u8>>>, PersistError> {
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

pub(super) fn vars_static(name: &str) -> Option<&'static str> {
    WRITTEN_VARS.into_iter().find(|v| *v == name)
}

/// The variables with DashScope in their name that dashkey writes by default: the key, the
/// region's base URLs and, for a workspace, the region and workspace both SDK surfaces read. `dashkey sudo` keeps these across sudo (with any `--client` names that
/// are stored), and `doctor` prints the same list in its sudo fixes, so that a program under
/// sudo keeps the region as well as the key.
pub const DASHSCOPE_VARS: [&str; 9] = [
    vars::API_KEY,
    vars::HTTP_BASE_URL,
    vars::WEBSOCKET_BASE_URL,
    vars::COMPATIBLE_BASE_URL,
    vars::API_BASE,
    vars::API_REGION,
    vars::WORKSPACE_ID,
    vars::REGION,
    vars::WORKSPACE,
];

/// Every variable dashkey writes: [`DASHSCOPE_VARS`], a Coding Plan profile's key, and the
/// generic names a client reads that are written only with `set --client`.
pub const WRITTEN_VARS: [&str; 18] = [
    vars::API_KEY,
    vars::HTTP_BASE_URL,
    vars::WEBSOCKET_BASE_URL,
    vars::COMPATIBLE_BASE_URL,
    vars::API_BASE,
    vars::API_REGION,
    vars::WORKSPACE_ID,
    vars::REGION,
    vars::WORKSPACE,
    vars::CODING_PLAN_API_KEY,
    vars::OPENAI_API_KEY,
    vars::OPENAI_BASE_URL,
    CLIENT_VARS[0],
    CLIENT_VARS[1],
    CLIENT_VARS[2],
    CLIENT_VARS[3],
    CLIENT_VARS[4],
    CLIENT_VARS[5],
];

/// The variables as (name, value) pairs, the shape the renderers take.
pub(super) fn pairs<'v>(
    variables: &'v [(&'static str, Zeroizing<String>)],
) -> Vec<(&'static str, &'v str)> {
    variables.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

/// One `set`, read once and planned into by every store in turn.
pub(super) struct SetRun<'a> {
    pub(super) platform: &'a Platform,
    pub(super) settings: &'a Settings,
    pub(super) options: &'a SetOptions,
    pub(super) probes: &'a Probes,
    pub(super) session: Option<&'a dyn SessionEnv>,
    /// dashkey's directory.
    pub(super) dir: PathBuf,
    pub(super) home: PathBuf,
    /// The record of the last `set` (empty when there is none or it cannot be used).
    pub(super) old_record: Record,
    /// The record exists and can be used.
    pub(super) record_usable: bool,
    /// The record exists but cannot be used.
    pub(super) untrusted: bool,
    /// Where the key goes after this set.
    pub(super) store: KeyStore,
    /// What is written, in order ([`Settings::variables`]).
    pub(super) variables: Vec<(&'static str, Zeroizing<String>)>,
    pub(super) plan: Plan,
    /// Directories the written files go in (created when missing).
    pub(super) dirs: Vec<PathBuf>,
    /// Every file this set writes, changed or not, for the record.
    pub(super) managed: Vec<(PathBuf, Role)>,
    /// The `WSLENV` entries that are dashkey's after this set, for the record.
    pub(super) wslenv: Vec<String>,
    /// Session values that `set --client --force` writes over (see [`Record`]'s
    /// `session_displaced`), with those an earlier `set` displaced.
    pub(super) displaced: Vec<crate::edit::record::Displaced>,
}

/// One `unset`, read once and planned into by every store in turn.
pub(super) struct UnsetRun<'a> {
    pub(super) platform: &'a Platform,
    pub(super) probes: &'a Probes,
    pub(super) session: Option<&'a dyn SessionEnv>,
    pub(super) dir: PathBuf,
    pub(super) home: PathBuf,
    /// The record (empty when there is none or it cannot be used).
    pub(super) record: Record,
    /// The record exists and can be used.
    pub(super) trusted: bool,
    /// The startup files the record lists where dashkey writes hooks.
    pub(super) recorded_hooks: Vec<PathBuf>,
    /// The key dashkey stored, when its `env.sh` can be read.
    pub(super) key: Option<ApiKey>,
    pub(super) plan: Plan,
    /// Directories of services' files to remove when empty, innermost first.
    pub(super) service_dirs: Vec<PathBuf>,
}

impl SetRun<'_> {
    /// The variables that go into files programs read at start: all of them, or, with the
    /// keyring store, those that do not hold the key (the key's names are [`Self::key_names`]).
    pub(super) fn plain_variables(&self) -> Vec<(&'static str, Zeroizing<String>)> {
        let key = self.settings.key.expose();
        self.variables
            .iter()
            .filter(|(_, value)| self.store != KeyStore::Keyring || value.as_str() != key)
            .cloned()
            .collect()
    }

    /// The names whose value is the key, when the keyring holds it (none with the file store).
    pub(super) fn key_names(&self) -> Vec<&'static str> {
        let key = self.settings.key.expose();
        self.variables
            .iter()
            .filter(|(_, value)| self.store == KeyStore::Keyring && value.as_str() == key)
            .map(|(name, _)| *name)
            .collect()
    }

    /// The path of this dashkey, which the keyring store's files and nushell's hook run (a
    /// shell's PATH may not have it yet when its startup files are read); `None` with the
    /// file store.
    pub(super) fn keyring_exe(&self) -> Result<Option<PathBuf>, PersistError> {
        if self.key_names().is_empty() {
            return Ok(None);
        }
        std::env::current_exe()
            .map(Some)
            .map_err(|e| FsError::new("find the path of", Path::new("dashkey"), e).into())
    }
}
