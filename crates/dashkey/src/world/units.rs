//! systemd units: which environment systemd gives the program a unit starts, read from the
//! unit files the way systemd reads them, without asking systemd (which may not run, or may
//! belong to someone else).
//!
//! A program started by a service manager never reads a shell startup file, so a key stored
//! for shells does not reach it (FAQ scenario 3). Whether it does is written in the unit:
//! the file found first on the unit search path (`SYSTEMD_UNIT_PATH` when set, with a
//! trailing `:` meaning "and the defaults"), template units for `name@instance`, drop-ins
//! (`<unit>.d/*.conf` and `service.d/*.conf`, merged by file name and applied in name order),
//! masking, line continuations, the common specifiers (`%h`, `%i`, `%%`, …), and the
//! `Environment=`, `EnvironmentFile=` (with the `-` prefix for an optional file),
//! `PassEnvironment=` and `UnsetEnvironment=` settings, in systemd's order of precedence
//! (passed < `Environment=` < `EnvironmentFile=`, then unset).
//!
//! The format is small, so it is parsed here rather than through a dependency, and every
//! value carries the file and line it came from ([`Location`]). This module only reads: the
//! hand-off that writes a drop-in lives with the stores.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::platform::Platform;
use crate::world::Location;
use crate::world::read::{self, Cap};

mod syntax;

pub use syntax::parse_env_file;
use syntax::{Specifiers, is_variable_name, split_words, unit_entries};

/// A unit file or a drop-in exists but cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the unit file {}: {source}", path.display())]
pub struct UnitFileError {
    /// The file.
    pub path: PathBuf,
    /// What the OS said.
    #[source]
    pub source: io::Error,
}

/// Reads a unit file, naming it in the error.
fn read_unit_text(path: &Path) -> Result<String, UnitFileError> {
    read::read_lossy(path, Cap::CONFIG)
        .map_err(|e| UnitFileError { path: path.into(), source: e.into_io() })
}

/// One environment-related setting of a unit's `[Service]` section, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvSetting {
    /// `Environment=NAME=value`.
    Assign {
        /// The variable.
        name: String,
        /// Its value, after specifier expansion.
        value: String,
        /// Where.
        at: Location,
    },
    /// `Environment=` with an empty value: forget the assignments before it.
    ResetAssignments {
        /// Where.
        at: Location,
    },
    /// `EnvironmentFile=[-]path`.
    File {
        /// The file, after specifier expansion.
        path: PathBuf,
        /// `-` prefix: a missing file is ignored (otherwise the unit fails to start).
        optional: bool,
        /// Where.
        at: Location,
    },
    /// `EnvironmentFile=` with an empty value: forget the files before it.
    ResetFiles {
        /// Where.
        at: Location,
    },
    /// `PassEnvironment=`: variables taken from the service manager's own environment.
    Pass {
        /// The variables.
        names: Vec<String>,
        /// Where.
        at: Location,
    },
    /// `UnsetEnvironment=`: variables removed at the end.
    Unset {
        /// The variables (or `NAME=value` pairs, removed only with that value).
        names: Vec<String>,
        /// Where.
        at: Location,
    },
}

/// A systemd unit as the manager would load it.
#[derive(Debug, Clone)]
pub struct SystemdUnit {
    /// The unit name, with its type suffix (`app.service`).
    pub name: String,
    /// Whether it was found on the user manager's search path.
    pub user: bool,
    /// The unit file (for an instance, the template's file when there is no instance file).
    pub path: PathBuf,
    /// Drop-in files, in the order they apply.
    pub dropins: Vec<PathBuf>,
    /// The unit is masked (its file is empty or a link to `/dev/null`).
    pub masked: bool,
    /// `User=`, when set.
    pub run_as: Option<String>,
    /// The environment settings, in the order they apply.
    pub settings: Vec<EnvSetting>,
}

/// What an `EnvironmentFile=` holds for one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvFileState {
    /// The file was read; the variable's value and line, if it is there.
    Read {
        /// Value and 1-based line.
        value: Option<(String, usize)>,
        /// Permission bits.
        mode: Option<u32>,
    },
    /// The file does not exist.
    Missing,
    /// The file exists but cannot be read (by this user).
    Unreadable(io::ErrorKind),
    /// The file was not read: not a regular file (a FIFO would block), or too large.
    Refused(crate::world::read::Refusal),
}

/// An `EnvironmentFile=` that is in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    /// The file.
    pub path: PathBuf,
    /// Whether a missing file is ignored.
    pub optional: bool,
    /// Where it is named.
    pub at: Location,
    /// What it holds.
    pub state: EnvFileState,
}

/// Where a unit's value of a variable comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitOrigin {
    /// An `Environment=` line.
    Environment(Location),
    /// A line of an `EnvironmentFile=`.
    EnvironmentFile(Location),
}

/// What a unit gives its processes for one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitVariable {
    /// The value and its origin, when the unit sets it.
    pub value: Option<(String, UnitOrigin)>,
    /// The environment files in force (all of them, with what each holds).
    pub files: Vec<EnvFile>,
    /// `PassEnvironment=` names it: the value comes from the manager's environment.
    pub passed: bool,
    /// `UnsetEnvironment=` removes it.
    pub unset: bool,
}

/// Unit types, for telling `app` (a service) from `app.socket`.
const UNIT_TYPES: [&str; 11] = [
    "service",
    "socket",
    "target",
    "timer",
    "path",
    "mount",
    "automount",
    "swap",
    "slice",
    "scope",
    "device",
];

/// The unit name as systemd completes it: `app` means `app.service`.
pub fn unit_name(name: &str) -> String {
    let has_type = name.rsplit_once('.').is_some_and(|(_, suffix)| UNIT_TYPES.contains(&suffix));
    if has_type { name.to_string() } else { format!("{name}.service") }
}

/// The directories the system manager (`user: false`) or this user's manager
/// (`user: true`) loads units from, highest priority first. `SYSTEMD_UNIT_PATH` replaces
/// them; an empty last element (`dir:`) appends the defaults.
pub fn unit_search_path(platform: &Platform, user: bool) -> Vec<PathBuf> {
    let defaults = || default_unit_path(platform, user);
    match platform.var("SYSTEMD_UNIT_PATH") {
        None => defaults(),
        Some(value) => {
            let mut dirs: Vec<PathBuf> =
                value.split(':').filter(|d| !d.is_empty()).map(PathBuf::from).collect();
            if value.is_empty() || value.ends_with(':') {
                dirs.extend(defaults());
            }
            dirs
        }
    }
}

fn default_unit_path(platform: &Platform, user: bool) -> Vec<PathBuf> {
    let fixed = |dirs: &[&str]| dirs.iter().map(PathBuf::from).collect::<Vec<_>>();
    if !user {
        return fixed(&[
            "/etc/systemd/system.control",
            "/run/systemd/system.control",
            "/run/systemd/transient",
            "/run/systemd/generator.early",
            "/etc/systemd/system",
            "/etc/systemd/system.attached",
            "/run/systemd/system",
            "/run/systemd/system.attached",
            "/run/systemd/generator",
            "/usr/local/lib/systemd/system",
            "/usr/lib/systemd/system",
            "/lib/systemd/system",
            "/run/systemd/generator.late",
        ]);
    }
    let mut dirs = Vec::new();
    let config = platform.config_dir();
    let runtime = platform.var_non_empty("XDG_RUNTIME_DIR").map(PathBuf::from);
    let data = platform
        .var_non_empty("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| platform.home().map(|home| home.join(".local/share")));
    dirs.extend(config.as_ref().map(|c| c.join("systemd/user.control")));
    dirs.extend(runtime.as_ref().map(|r| r.join("systemd/user.control")));
    dirs.extend(runtime.as_ref().map(|r| r.join("systemd/transient")));
    dirs.extend(config.as_ref().map(|c| c.join("systemd/user")));
    dirs.push(PathBuf::from("/etc/systemd/user"));
    dirs.extend(runtime.as_ref().map(|r| r.join("systemd/user")));
    dirs.push(PathBuf::from("/run/systemd/user"));
    dirs.extend(data.map(|d| d.join("systemd/user")));
    dirs.extend(fixed(&[
        "/usr/local/share/systemd/user",
        "/usr/share/systemd/user",
        "/usr/local/lib/systemd/user",
        "/usr/lib/systemd/user",
    ]));
    dirs
}

/// Finds and reads a unit. With `user: None`, the system path is searched first, then the
/// user's; `Some(true)` and `Some(false)` search only one. `Ok(None)`: no such unit.
///
/// # Errors
///
/// [`UnitFileError`] when a unit or drop-in file exists but cannot be read.
pub fn find_unit(
    platform: &Platform,
    name: &str,
    user: Option<bool>,
) -> Result<Option<SystemdUnit>, UnitFileError> {
    let name = unit_name(name);
    let managers: &[bool] = match user {
        None => &[false, true],
        Some(false) => &[false],
        Some(true) => &[true],
    };
    for &user in managers {
        let dirs = unit_search_path(platform, user);
        if let Some(unit) = load_unit(platform, &name, user, &dirs)? {
            return Ok(Some(unit));
        }
    }
    Ok(None)
}

/// `foo@bar.service` → (`foo@.service`, `bar`).
fn template_of(name: &str) -> Option<(String, String)> {
    let (prefix, rest) = name.split_once('@')?;
    let (instance, suffix) = rest.rsplit_once('.')?;
    (!instance.is_empty()).then(|| (format!("{prefix}@.{suffix}"), instance.to_string()))
}

fn load_unit(
    platform: &Platform,
    name: &str,
    user: bool,
    dirs: &[PathBuf],
) -> Result<Option<SystemdUnit>, UnitFileError> {
    let template = template_of(name);
    let mut names = vec![name.to_string()];
    names.extend(template.as_ref().map(|(t, _)| t.clone()));
    let Some(path) = names
        .iter()
        .find_map(|n| dirs.iter().map(|dir| dir.join(n)).find(|p| p.symlink_metadata().is_ok()))
    else {
        return Ok(None);
    };
    let masked = is_masked(&path);

    // Drop-ins: by file name across every directory, the first directory winning, applied
    // in name order.
    let suffix = name.rsplit_once('.').map_or("service", |(_, s)| s);
    let mut dropin_dirs = vec![format!("{name}.d")];
    dropin_dirs.extend(template.as_ref().map(|(t, _)| format!("{t}.d")));
    dropin_dirs.push(format!("{suffix}.d"));
    let mut dropins: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in dirs {
        for sub in &dropin_dirs {
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                if file.ends_with(".conf") {
                    dropins.entry(file).or_insert_with(|| entry.path());
                }
            }
        }
    }
    let dropins: Vec<PathBuf> = dropins.into_values().filter(|p| !is_masked(p)).collect();

    let context = Specifiers {
        name: name.to_string(),
        instance: template.as_ref().map(|(_, i)| i.clone()),
        user,
        home: if user {
            platform.home().map(|h| h.display().to_string())
        } else {
            Some("/root".to_string())
        },
        runtime: if user {
            platform.var_non_empty("XDG_RUNTIME_DIR").map(str::to_string)
        } else {
            Some("/run".to_string())
        },
        config: if user {
            platform.config_dir().map(|c| c.display().to_string())
        } else {
            Some("/etc".to_string())
        },
    };
    let mut unit = SystemdUnit {
        name: name.to_string(),
        user,
        path: path.clone(),
        dropins: dropins.clone(),
        masked,
        run_as: None,
        settings: Vec::new(),
    };
    if masked {
        return Ok(Some(unit));
    }
    for file in std::iter::once(&path).chain(&dropins) {
        let text = read_unit_text(file)?;
        for (section, key, value, line) in unit_entries(&text) {
            if section != "Service" {
                continue;
            }
            let at = Location { file: file.clone(), line };
            match key.as_str() {
                "Environment" if value.trim().is_empty() => {
                    unit.settings.push(EnvSetting::ResetAssignments { at });
                }
                "Environment" => {
                    for word in split_words(&context.expand(&value)) {
                        if let Some((name, value)) = word.split_once('=')
                            && is_variable_name(name)
                        {
                            unit.settings.push(EnvSetting::Assign {
                                name: name.to_string(),
                                value: value.to_string(),
                                at: at.clone(),
                            });
                        }
                    }
                }
                "EnvironmentFile" if value.trim().is_empty() => {
                    unit.settings.push(EnvSetting::ResetFiles { at });
                }
                "EnvironmentFile" => {
                    let value = value.trim();
                    let (optional, path) = match value.strip_prefix('-') {
                        Some(rest) => (true, rest),
                        None => (false, value),
                    };
                    let path = PathBuf::from(context.expand(path));
                    unit.settings.push(EnvSetting::File { path, optional, at });
                }
                "PassEnvironment" => {
                    let names = split_words(&value);
                    unit.settings.push(EnvSetting::Pass { names, at });
                }
                "UnsetEnvironment" => {
                    let names = split_words(&context.expand(&value));
                    unit.settings.push(EnvSetting::Unset { names, at });
                }
                "User" => unit.run_as = Some(context.expand(value.trim())),
                _ => {}
            }
        }
    }
    Ok(Some(unit))
}

impl SystemdUnit {
    /// What the unit gives its processes for `name`, reading its environment files.
    pub fn variable(&self, name: &str) -> UnitVariable {
        let mut assigned: Option<(String, UnitOrigin)> = None;
        let mut files: Vec<(PathBuf, bool, Location)> = Vec::new();
        let mut passed = false;
        let mut unset = false;
        for setting in &self.settings {
            match setting {
                EnvSetting::Assign { name: n, value, at } if n == name => {
                    assigned = Some((value.clone(), UnitOrigin::Environment(at.clone())));
                }
                EnvSetting::Assign { .. } => {}
                EnvSetting::ResetAssignments { .. } => assigned = None,
                EnvSetting::File { path, optional, at } => {
                    files.push((path.clone(), *optional, at.clone()));
                }
                EnvSetting::ResetFiles { .. } => files.clear(),
                EnvSetting::Pass { names, .. } => passed |= names.iter().any(|n| n == name),
                EnvSetting::Unset { names, .. } => {
                    unset |= names.iter().any(|n| n == name);
                }
            }
        }
        let mut value = assigned;
        let files: Vec<EnvFile> = files
            .into_iter()
            .map(|(path, optional, at)| {
                let state = read_env_file(&path, name);
                if let EnvFileState::Read { value: Some((found, line)), .. } = &state {
                    let origin = Location { file: path.clone(), line: *line };
                    value = Some((found.clone(), UnitOrigin::EnvironmentFile(origin)));
                }
                EnvFile { path, optional, at, state }
            })
            .collect();
        if unset {
            value = None;
        }
        UnitVariable { value, files, passed, unset }
    }
}

fn read_env_file(path: &Path, name: &str) -> EnvFileState {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return EnvFileState::Missing,
        Err(e) => return EnvFileState::Unreadable(e.kind()),
    };
    match crate::world::read::read(path, crate::world::read::Cap::CONFIG) {
        Ok(bytes) => {
            let bytes = zeroize::Zeroizing::new(bytes);
            let text = zeroize::Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
            let value = parse_env_file(&text)
                .into_iter()
                .filter(|(n, _, _)| n == name)
                .map(|(_, value, line)| (value, line))
                .next_back();
            EnvFileState::Read { value, mode: read::mode(&metadata) }
        }
        Err(e) if let Some(refusal) = e.refusal() => EnvFileState::Refused(refusal),
        Err(e) => EnvFileState::Unreadable(e.kind()),
    }
}

/// A unit file, or a drop-in, that is a link to `/dev/null` or empty.
fn is_masked(path: &Path) -> bool {
    std::fs::read_link(path).is_ok_and(|target| target == Path::new("/dev/null"))
        || std::fs::metadata(path).is_ok_and(|m| m.len() == 0)
}

#[cfg(test)]
mod tests;
