//! `dashkey doctor --project`: the walls that live in the user's code, not in the machine.
//!
//! Model Studio's FAQ 5 offers two ways to set the region: a variable, or a line in the code
//! (`dashscope.base_http_api_url = 'https://dashscope-intl.aliyuncs.com/api/v1'`). The rest of
//! doctor sees only the first. This module reads a project the way ripgrep walks it and
//! reports, in doctor's [`Finding`] shape and with `file:line`:
//!
//! - DashScope base URLs in code and configuration: their region against the key's, and their
//!   API style against the client that is given them (`urls.rs`);
//! - keys written in files, masked: tracked by git or not, the stored key, an old one, or one
//!   dashkey never saw (`keys.rs`);
//! - the `.env` files the project's clients read, and the shell values that win over them
//!   (`dotenv.rs`);
//! - in Python, an `os.environ[…]` assignment or a `load_dotenv()` after `import dashscope`,
//!   which the SDK never sees (`python.rs`).
//!
//! It is a reader: nothing in the project is ever written, no file that is not a regular
//! file is opened, every file has a size cap, and no key leaves this module unmasked. The
//! walk itself (`walk.rs`) says what is skipped and why; each skipped file becomes a note.

pub(crate) mod dotenv;
mod keys;
mod python;
mod urls;
mod walk;

use std::path::{Path, PathBuf};

use crate::doctor::{Finding, Severity};
use crate::edit::record::{Record, Role};
use crate::key::ApiKey;
use crate::platform::Platform;
use crate::region::Endpoint;
use crate::store::{self, Stored};
use crate::vars;
use crate::world::read::{self, Cap};

pub use walk::MAX_FILE;

/// The stable identifiers of the project findings (beside doctor's own).
pub mod id {
    /// A DashScope base URL in the project: wrong region, or a style its client cannot use.
    pub const URL: &str = "project-url";
    /// A key written in a project file.
    pub const KEY: &str = "project-key";
    /// A `.env` value that a value of this environment overrides.
    pub const DOTENV: &str = "project-dotenv";
    /// In Python, the environment is changed after `import dashscope` has read it.
    pub const IMPORT_ORDER: &str = "project-import-order";
    /// Files the scan did not read (binary, too large, unreadable, not regular, links).
    pub const SKIPPED: &str = "project-skipped";
    /// What was scanned.
    pub const SCANNED: &str = "project-scanned";

    /// Every id, in the order the checks run.
    pub const ALL: [&str; 6] = [URL, KEY, DOTENV, IMPORT_ORDER, SKIPPED, SCANNED];
}

/// The project cannot be scanned at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectError {
    /// The directory does not exist.
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    /// The path is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The directory cannot be listed.
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
}

/// What dashkey knows that a project's values are compared with.
#[derive(Debug, Default)]
struct Known {
    /// The stored key.
    key: Option<ApiKey>,
    /// The key's region: from `--online`, else the stored base URL, else the record.
    region: Option<String>,
    /// Where `region` came from, for the sentences.
    region_origin: &'static str,
    /// Fingerprints of keys dashkey once held (the record's, the backups'), with where.
    old: Vec<(String, String)>,
}

impl Known {
    fn read(platform: &Platform, online_region: Option<&str>) -> Known {
        let stored = store::load_stored(platform).ok().flatten();
        let key = stored.as_ref().and_then(Stored::key).filter(|k| !k.is_empty());
        let dir = platform.dashkey_dir();
        let record = dir.as_deref().and_then(|dir| Record::load(dir).ok().flatten());
        let stored_region = stored
            .as_ref()
            .and_then(|s| s.get(vars::HTTP_BASE_URL))
            .and_then(|url| Endpoint::parse(url).ok())
            .and_then(|endpoint| endpoint.region.region_id().map(str::to_string))
            .or_else(|| record.as_ref().and_then(|r| r.region.clone()));
        let (region, region_origin) = match (online_region, stored_region) {
            (Some(online), _) => (Some(online.to_string()), "where DashScope accepts the key"),
            (None, Some(stored)) => (Some(stored), "the stored key's region"),
            (None, None) => (None, ""),
        };
        let current = key.as_ref().map(ApiKey::fingerprint);
        let mut old = Vec::new();
        if let Some(record) = &record {
            if let Some(fp) = record.fingerprint.clone().filter(|fp| Some(fp) != current.as_ref()) {
                old.push((fp, "dashkey's record".to_string()));
            }
            for file in record.files.iter().filter(|f| f.role == Role::Backup) {
                let Ok(text) = read::read_lossy(&file.path, Cap::KEY) else { continue };
                for span in crate::mask::key_like_spans(&text, false) {
                    let fp = ApiKey::verbatim(&text[span]).fingerprint();
                    if Some(&fp) != current.as_ref() && !old.iter().any(|(o, _)| *o == fp) {
                        old.push((
                            fp,
                            format!("dashkey's backup {}", platform.show_path(&file.path)),
                        ));
                    }
                }
            }
        }
        Known { key, region, region_origin, old }
    }
}

/// Everything the checks share.
struct Scan<'a> {
    platform: &'a Platform,
    root: PathBuf,
    known: Known,
    /// Every file read: the walk's, and the `.env` files the clients read.
    sources: Vec<walk::Source>,
    /// The `.env` files the project's clients read, with who reads them.
    dotenvs: Vec<dotenv::DotEnv>,
}

impl Scan<'_> {
    /// `app/config.py`, relative to the project (or as the platform shows it when outside).
    fn show(&self, path: &Path) -> String {
        match path.strip_prefix(&self.root) {
            Ok(relative) if !relative.as_os_str().is_empty() => relative.display().to_string(),
            _ => self.platform.show_path(path),
        }
    }
}

/// Scans the project at `dir` and returns its findings in check order, ending with a note of
/// what was skipped and an `ok` line of what was scanned. `online_region` is the region
/// where DashScope accepted the stored key (from `--online`), when known.
///
/// # Errors
///
/// [`ProjectError`] when `dir` is missing, not a directory or cannot be listed.
pub fn scan(
    dir: &Path,
    platform: &Platform,
    online_region: Option<&str>,
) -> Result<Vec<Finding>, ProjectError> {
    let root: PathBuf = platform.cwd().join(dir).components().collect();
    let meta = std::fs::metadata(&root).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ProjectError::Missing(root.clone()),
        _ => ProjectError::Unreadable { path: root.clone(), reason: e.to_string() },
    })?;
    if !meta.is_dir() {
        return Err(ProjectError::NotADirectory(root));
    }
    std::fs::read_dir(&root)
        .map_err(|e| ProjectError::Unreadable { path: root.clone(), reason: e.to_string() })?;
    let walked = walk::walk(&root);
    let mut sources = walked.sources;
    let mut skipped = walked.skipped;
    let dotenvs = dotenv::locate(&root, platform.home().as_deref(), &sources, &mut skipped);
    for file in &dotenvs {
        if !sources.iter().any(|s| s.path == file.source.path) {
            sources.push(file.source.clone());
        }
    }
    let scan =
        Scan { platform, root, known: Known::read(platform, online_region), sources, dotenvs };
    let mut out = Vec::new();
    scan.check_urls(&mut out);
    scan.check_keys(&mut out);
    scan.check_dotenv(&mut out);
    scan.check_import_order(&mut out);
    out.extend(walk::skipped_findings(&scan, &skipped));
    out.push(
        Finding::new(
            id::SCANNED,
            Severity::Ok,
            format!("scanned {} file(s) of {}", walked.files, scan.platform.show_path(&scan.root)),
        )
        .detail(
            "Walked like ripgrep: .gitignore and hidden files respected (.env files read), \
             node_modules, virtual environments and build output left out.",
        ),
    );
    Ok(out)
}

/// `sk-…5b6c (6c21cd30)`.
fn describe(key: &ApiKey) -> String {
    format!("{} ({})", key.mask(), key.fingerprint())
}

#[cfg(test)]
mod tests;
