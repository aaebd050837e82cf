//! Qwen Code's own files: before it reads a variable it fills its environment from `.env`
//! files and `settings.json`, so the shell alone does not say what it sends.
//!
//! Read from Qwen Code's `packages/cli/src/config/environment.ts` (`findEnvFiles`,
//! `loadEnvironment`): the files are the first `.qwen/.env` or `.env` walking up from the
//! working directory (the walk stops at the home directory), then `~/.qwen/.env` (the
//! directory is `$QWEN_HOME` when set, with the legacy `~/.qwen/.env` after it), then
//! `~/.env`; each fills only variables still unset or empty, in that order; then `env` of
//! `settings.json` (the project's `.qwen/settings.json` over the user's) fills what is left.
//! A non-empty shell value always wins. `/etc/qwen-code/settings.json` (system settings) and
//! folder trust (off by default: project files are read) are not modelled.

use std::path::{Path, PathBuf};

use crate::platform::Platform;
use crate::project::dotenv;
use crate::world::read::{self, Cap};

/// The row these files belong to.
pub const ID: &str = "qwen-code";

/// One variable Qwen Code takes from a file, not from the shell.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileValue {
    /// The variable.
    pub name: String,
    /// The file it came from (a `.env` or a `settings.json`).
    pub file: PathBuf,
}

/// A value that loses: set in `file` too, but an earlier layer (`winner`: the shell or an
/// earlier file) gave the variable a different value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hidden {
    /// The variable.
    pub name: String,
    /// The file whose value is not used.
    pub file: PathBuf,
    /// Where the used value is (`None`: the shell).
    pub winner: Option<PathBuf>,
}

/// Qwen Code's environment as it would build it here.
#[derive(Debug, Clone)]
pub struct Layered {
    /// The shell with the files' values filled in.
    pub platform: Platform,
    /// What came from where.
    pub files: Files,
}

/// Which of Qwen Code's values came from its files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Files {
    /// Variables taken from files, in file order.
    pub from_files: Vec<FileValue>,
    /// Values in files that another layer hides.
    pub hidden: Vec<Hidden>,
    /// Files it would read that could not be read or parsed, with why.
    pub unreadable: Vec<(PathBuf, String)>,
}

impl Files {
    /// The file a variable's value came from (`None`: the shell, or unset).
    pub fn file_of(&self, name: &str) -> Option<&Path> {
        self.from_files.iter().find(|v| v.name == name).map(|v| v.file.as_path())
    }
}

/// The `.env` files in the order Qwen Code applies them (only those that exist).
pub fn env_files(platform: &Platform) -> Vec<PathBuf> {
    let home = platform.home();
    let mut found = Vec::new();
    let mut dir = Some(platform.cwd());
    while let Some(current) = dir {
        if home.as_deref() == Some(current) {
            break;
        }
        if let Some(file) = [current.join(".qwen/.env"), current.join(".env")]
            .into_iter()
            .find(|candidate| candidate.is_file())
        {
            found.push(file);
            break;
        }
        dir = current.parent();
    }
    let Some(home) = home else { return found };
    let legacy = home.join(".qwen");
    let global = platform.var_non_empty("QWEN_HOME").map_or_else(|| legacy.clone(), PathBuf::from);
    let mut homes = vec![global.join(".env")];
    if global != legacy {
        homes.push(legacy.join(".env"));
    }
    homes.push(home.join(".env"));
    for file in homes {
        if file.is_file() && !found.contains(&file) {
            found.push(file);
        }
    }
    found
}

/// The `settings.json` files whose `env` Qwen Code reads, the one that wins first.
pub fn settings_files(platform: &Platform) -> Vec<PathBuf> {
    let mut files = vec![platform.cwd().join(".qwen/settings.json")];
    if let Some(home) = platform.home() {
        let global =
            platform.var_non_empty("QWEN_HOME").map_or_else(|| home.join(".qwen"), PathBuf::from);
        files.push(global.join("settings.json"));
    }
    files.dedup();
    files
}

/// Builds Qwen Code's environment from the shell, its `.env` files and its settings.
pub fn layer(platform: &Platform) -> Layered {
    let mut vars: Vec<(String, String)> =
        platform.vars().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    let mut from_files: Vec<FileValue> = Vec::new();
    let mut hidden = Vec::new();
    let mut unreadable = Vec::new();
    let mut layers: Vec<(PathBuf, Vec<(String, String)>)> = Vec::new();
    for file in env_files(platform) {
        match read::read_text(&file, Cap::CONFIG) {
            Ok(text) => {
                let values = dotenv::parse(&text).into_iter().map(|a| (a.name, a.value)).collect();
                layers.push((file, values));
            }
            Err(error) => unreadable.push((file, error.to_string())),
        }
    }
    // The project's settings win over the user's: apply them first.
    for file in settings_files(platform) {
        match read::read_optional(&file, Cap::CONFIG) {
            Ok(None) => {}
            Ok(Some(bytes)) => match settings_env(&bytes) {
                Ok(values) => layers.push((file, values)),
                Err(why) => unreadable.push((file, why)),
            },
            Err(error) => unreadable.push((file, error.to_string())),
        }
    }
    for (file, values) in layers {
        for (name, value) in values {
            match vars.iter_mut().find(|(n, _)| *n == name) {
                Some((_, current)) if current.is_empty() => {
                    *current = value;
                    from_files.retain(|v| v.name != name);
                    from_files.push(FileValue { name, file: file.clone() });
                }
                Some((_, current)) => {
                    if *current != value {
                        let winner =
                            from_files.iter().find(|v| v.name == name).map(|v| v.file.clone());
                        hidden.push(Hidden { name, file: file.clone(), winner });
                    }
                }
                None => {
                    vars.push((name.clone(), value));
                    from_files.push(FileValue { name, file: file.clone() });
                }
            }
        }
    }
    let files = Files { from_files, hidden, unreadable };
    Layered { platform: platform.clone().with_vars(vars), files }
}

/// The string values of `env` in a settings file (others are ignored, as Qwen Code does).
pub(super) fn settings_env(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let Some(env) = json.get("env").and_then(serde_json::Value::as_object) else {
        return Ok(Vec::new());
    };
    Ok(env
        .iter()
        .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_string())))
        .collect())
}
