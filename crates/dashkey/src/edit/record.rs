//! The record of what dashkey wrote, so that `unset` can find every copy later.
//!
//! It holds no secret: paths, which of them dashkey created, the region and the key's
//! fingerprint (to recognise, at `unset`, whether the SDK key file still holds dashkey's
//! key or something the user wrote since).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::edit::fsx::{self, FsError};

/// File name of the record inside dashkey's directory.
pub const FILE_NAME: &str = "record.json";

/// A record that exists but cannot be used. dashkey then works without it: `set` writes a
/// new one, `unset` finds dashkey's files and blocks by scanning the places it writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct RecordProblem {
    /// The record's path.
    pub path: PathBuf,
    /// What is wrong with it.
    pub kind: ProblemKind,
}

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    /// Zero bytes (or only blanks): a write that never finished.
    #[error("the record is empty")]
    Empty,
    /// Not JSON, or truncated.
    #[error("the record is damaged ({0})")]
    Garbage(String),
    /// Written by a newer dashkey.
    #[error("the record was written by a newer dashkey (format {0}, this one reads {v})", v = Record::VERSION)]
    Newer(u32),
    /// A link, a directory, a device: not something dashkey wrote.
    #[error("the record is not a regular file")]
    NotAFile,
    /// It cannot be read.
    #[error("the record cannot be read ({0})")]
    Unreadable(String),
}

/// What one `set` left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Format version.
    pub version: u32,
    /// Region whose base URLs were written, if any.
    pub region: Option<String>,
    /// The workspace whose dedicated host those URLs name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Whether `OPENAI_API_KEY`/`OPENAI_BASE_URL` were written too.
    #[serde(default)]
    pub openai_compatible: bool,
    /// The generic variables written for `set --client` (besides the OpenAI pair), so that
    /// the next `set` and `region` keep writing them.
    #[serde(default)]
    pub client_vars: Vec<String>,
    /// Fingerprint of the key written.
    pub fingerprint: Option<String>,
    /// Fingerprint of the key this one replaced (a rotation, a `use`). The record is written
    /// first, so a run killed before the SDK key file was rewritten leaves the replaced key
    /// there: this is how the retry (and `unset`) still know that copy is dashkey's and not
    /// the user's own file to save and put back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<String>,
    /// When (seconds since the Unix epoch).
    pub written_at: u64,
    /// Every file written.
    #[serde(default)]
    pub files: Vec<RecordedFile>,
    /// Directories dashkey created, removed by `unset` when empty.
    #[serde(default)]
    pub created_dirs: Vec<PathBuf>,
    /// Session variables set outside files (Windows registry, macOS launchd).
    #[serde(default)]
    pub session_vars: Vec<String>,
    /// Services given the key with `dashkey service install`, rewritten by every `set`.
    #[serde(default)]
    pub services: Vec<InstalledService>,
    /// The user asked for no desktop session file (`set --no-desktop`): later `set`s and
    /// `region` keep to it until `--gui` asks again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_desktop: bool,
    /// The `WSLENV` entries dashkey added (Windows), exactly as written: `unset` takes out
    /// these and no entry of the user's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wslenv: Vec<String>,
    /// Session variables (Windows registry, launchd) that held another value when `set
    /// --client --force` wrote dashkey's over it: `unset` puts these back byte for byte.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_displaced: Vec<Displaced>,
    /// The profile whose key every new shell, desktop session and SDK file gets, when it is
    /// not `default`. Absent for users who never switched, so their record is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Named profiles stored beside the one in use (and `default`, while another is in use).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<ProfileEntry>,
    /// Where the key itself is kept (`set --store`). Absent for the file store, so that the
    /// record of a user who never chose is byte for byte what it was.
    #[serde(default, skip_serializing_if = "KeyStore::is_file")]
    pub store: KeyStore,
    /// For an `sk-sp-` key, the plan host that accepted it when `set` checked it online: the
    /// prefix does not tell a Coding Plan key from a Token Plan key. Absent for other keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<KeyPlan>,
}

/// Where the key itself is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStore {
    /// dashkey's env files and the SDK key file (the default: what every program reads).
    #[default]
    File,
    /// The OS keyring; no file holds the key, shells load it through `dashkey env`.
    Keyring,
}

impl KeyStore {
    /// Whether this is the file store (the default).
    pub fn is_file(&self) -> bool {
        *self == KeyStore::File
    }

    /// The word `--store` takes.
    pub fn name(self) -> &'static str {
        match self {
            KeyStore::File => "file",
            KeyStore::Keyring => "keyring",
        }
    }
}

/// Which plan an `sk-sp-` key belongs to, as the online check found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPlan {
    /// The plan.
    pub plan: crate::region::Plan,
    /// The id of the plan host that accepted the key (`coding-intl`, `token-plan`), which
    /// names the host family (China or international).
    pub host: String,
}

/// A named profile: where its key is kept is `store::profile`'s; the record keeps what the
/// file cannot say (the region id it was stored with) and the fingerprint, no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileEntry {
    /// The profile's name.
    pub name: String,
    /// The region whose URLs were written with its key, if any.
    pub region: Option<String>,
    /// The workspace whose dedicated host those URLs name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Fingerprint of its key.
    pub fingerprint: String,
}

/// A session variable's value from before dashkey wrote over it. It may be another
/// provider's secret, so it is never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Displaced {
    /// The variable.
    pub name: String,
    /// Its value before, exactly.
    pub value: String,
}

impl std::fmt::Debug for Displaced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Displaced").field("name", &self.name).finish_non_exhaustive()
    }
}

/// A service dashkey gave the key to: the data the record keeps (how it is written and
/// described is `store::handoff`'s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "manager", rename_all = "kebab-case")]
pub enum Service {
    /// A systemd unit.
    Systemd {
        /// The unit name (`app.service`).
        unit: String,
        /// A user unit (`systemctl --user`) rather than a system one.
        user: bool,
        /// The environment file holding the key.
        env_file: PathBuf,
        /// The same file as the unit names it: differs from `env_file` when the files are
        /// written under another root directory (an image being built, a test).
        unit_env_file: PathBuf,
        /// The drop-in pointing the unit at it.
        drop_in: PathBuf,
        /// The key goes as a systemd credential (`LoadCredential=`, `env_file` holding the
        /// key alone) instead of into the unit's environment. Absent in older records.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        credential: bool,
    },
    /// A supervisord program.
    Supervisord {
        /// The program name (`[program:NAME]`).
        program: String,
        /// The configuration file that holds the program's section.
        config: PathBuf,
    },
    /// The user's crontab: the region's variables (and the key only when asked) in a
    /// marker block, for every job.
    Cron {
        /// The key is in the block too (`--with-key`).
        with_key: bool,
        /// The user had no crontab before: taking the block out removes it (`crontab -r`).
        created: bool,
    },
}

/// A service dashkey gave the key to, and the directories it created for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledService {
    /// The service.
    pub service: Service,
    /// Directories created for its files, removed again on uninstall when empty.
    #[serde(default)]
    pub created_dirs: Vec<PathBuf>,
    /// The profile it was installed with (`service install --profile`): rotations of that
    /// profile rewrite it and `use` of another leaves it. `None` follows the profile in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// One file dashkey wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFile {
    /// The path (as named; may be a symlink).
    pub path: PathBuf,
    /// Its role.
    pub role: Role,
    /// Whether the file did not exist before dashkey wrote it.
    pub created: bool,
}

/// What a written file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A file dashkey owns, holding the key in one shell syntax.
    Owned,
    /// The SDKs' `~/.dashscope/api_key`.
    SdkKeyFile,
    /// The 2.0 SDK's `~/.dashscope/config.toml`, holding the region's `base_url`.
    SdkConfig,
    /// A user's startup file holding a hook block.
    Hook,
    /// A desktop session file (environment.d, LaunchAgent).
    Desktop,
    /// A backup made by `set --migrate`.
    Backup,
    /// The record itself.
    Record,
    /// A service's environment file, holding the key.
    ServiceEnv,
    /// A service manager's configuration (a systemd drop-in, a supervisord file).
    ServiceConfig,
    /// A named profile's key (`profiles/NAME/env.sh` in dashkey's directory).
    Profile,
}

impl Role {
    /// Files dashkey owns that hold the key (or, for the record, say where it is): always
    /// written 0600, even over a file that had looser permissions (`dashscope auth login`
    /// creates `~/.dashscope/api_key` world-readable).
    pub fn is_private(self) -> bool {
        match self {
            Role::Owned
            | Role::SdkKeyFile
            | Role::SdkConfig
            | Role::Desktop
            | Role::Backup
            | Role::Record
            | Role::ServiceEnv
            | Role::Profile => true,
            Role::Hook | Role::ServiceConfig => false,
        }
    }
}

impl Record {
    /// Whether the key of this fingerprint is one dashkey wrote: the key in use, or the one
    /// it replaced (see [`Record::replaced`]).
    pub fn wrote_key(&self, fingerprint: &str) -> bool {
        [&self.fingerprint, &self.replaced].iter().any(|f| f.as_deref() == Some(fingerprint))
    }

    /// Current format version.
    pub const VERSION: u32 = 1;

    /// Reads the record from dashkey's directory; `None` when there is none, or when it
    /// cannot be used (see [`Record::inspect`] for why): a record is a hint, never needed.
    ///
    /// # Errors
    ///
    /// None today; the `Result` is kept for callers.
    pub fn load(dir: &Path) -> Result<Option<Record>, FsError> {
        Ok(Record::inspect(dir).0)
    }

    /// The plan recorded for this key, when the record is about this very key (a hint, like
    /// the whole record: an edited `env.sh` may hold another key).
    pub fn plan_of(&self, key: &crate::key::ApiKey) -> Option<crate::region::Plan> {
        let same = self.fingerprint.as_deref() == Some(key.fingerprint().as_str());
        self.plan.as_ref().filter(|_| same).map(|p| p.plan)
    }

    /// The id of the plan host that accepted this key (`token-plan-intl`), on the same terms
    /// as [`Record::plan_of`].
    pub fn plan_host_of(&self, key: &crate::key::ApiKey) -> Option<&str> {
        let same = self.fingerprint.as_deref() == Some(key.fingerprint().as_str());
        self.plan.as_ref().filter(|_| same).map(|p| p.host.as_str())
    }

    /// Reads the record, and says why it cannot be used when it exists but is empty,
    /// truncated, garbage, not a regular file, or from a newer dashkey.
    pub fn inspect(dir: &Path) -> (Option<Record>, Option<RecordProblem>) {
        let path = dir.join(FILE_NAME);
        let problem = |kind| (None, Some(RecordProblem { path: path.clone(), kind }));
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (None, None),
            Err(e) => return problem(ProblemKind::Unreadable(e.to_string())),
            Ok(meta) if !meta.is_file() => return problem(ProblemKind::NotAFile),
            Ok(_) => {}
        }
        let bytes = match fsx::read_optional(&path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return (None, None),
            Err(e) => return problem(ProblemKind::Unreadable(e.to_string())),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return problem(ProblemKind::Empty);
        }
        // The version first, so a newer format is named as such rather than as garbage.
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        if let Ok(Version { version }) = serde_json::from_slice::<Version>(&bytes)
            && version > Record::VERSION
        {
            return problem(ProblemKind::Newer(version));
        }
        match serde_json::from_slice::<Record>(&bytes) {
            Ok(record) => (Some(record), None),
            Err(e) => problem(ProblemKind::Garbage(e.to_string())),
        }
    }

    /// The record as the bytes of its file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut text = serde_json::to_string_pretty(self).expect("a record always serializes");
        text.push('\n');
        text.into_bytes()
    }

    /// Whether dashkey created this file (so `unset` may delete it when it is empty again).
    pub fn created(&self, path: &Path) -> bool {
        self.files.iter().any(|file| file.path == path && file.created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(content: &[u8]) -> (Option<Record>, Option<ProblemKind>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), content).unwrap();
        let (record, problem) = Record::inspect(dir.path());
        (record, problem.map(|p| p.kind))
    }

    #[test]
    fn a_record_that_cannot_be_used_says_why_and_is_not_used() {
        assert_eq!(inspect(b"").1, Some(ProblemKind::Empty));
        assert_eq!(inspect(b" \n").1, Some(ProblemKind::Empty));
        assert!(matches!(inspect(b"{\"version\": 1, \"fi").1, Some(ProblemKind::Garbage(_))));
        assert!(matches!(inspect(b"\x00\x01").1, Some(ProblemKind::Garbage(_))));
        assert_eq!(inspect(b"{\"version\": 9, \"files\": 3}").1, Some(ProblemKind::Newer(9)));
        for broken in [&b""[..], b"{", b"{\"version\": 9}"] {
            assert_eq!(inspect(broken).0, None);
        }
        let good = Record { version: Record::VERSION, ..Record::default() };
        assert_eq!(inspect(&good.to_bytes()), (Some(good), None));
    }

    #[test]
    fn no_record_is_no_problem_and_a_directory_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Record::inspect(dir.path()), (None, None));
        std::fs::create_dir(dir.path().join(FILE_NAME)).unwrap();
        let (record, problem) = Record::inspect(dir.path());
        assert_eq!((record, problem.map(|p| p.kind)), (None, Some(ProblemKind::NotAFile)));
    }
}
