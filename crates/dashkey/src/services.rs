//! Service managers: which environment systemd and supervisord give the programs they start.
//!
//! A program started by a service manager never reads a shell startup file, so a key stored
//! for shells does not reach it (FAQ scenario 3). Whether it does is written in the manager's
//! configuration, and this module reads that configuration the way the manager does, without
//! asking the manager (which may not run, or may belong to someone else):
//!
//! - **systemd**: the unit file found first on the unit search path (`SYSTEMD_UNIT_PATH`
//!   when set, with a trailing `:` meaning "and the defaults"), template units for
//!   `name@instance`, drop-ins (`<unit>.d/*.conf` and `service.d/*.conf`, merged by file name
//!   and applied in name order), masking, line continuations, the common specifiers (`%h`,
//!   `%i`, `%%`, …), and the `Environment=`, `EnvironmentFile=` (with the `-` prefix for an
//!   optional file), `PassEnvironment=` and `UnsetEnvironment=` settings, in systemd's order
//!   of precedence (passed < `Environment=` < `EnvironmentFile=`, then unset).
//! - **supervisord**: the INI file with Python `configparser` rules (`=` or `:`, indented
//!   continuation lines, `;`/`#` comments), `[include] files=` globs relative to the main
//!   file, `%(here)s` per file, `%(ENV_X)s` from supervisord's own environment, and
//!   `environment=` parsed exactly like supervisord's `dict_of_key_value_pairs` (a `shlex`
//!   tokenizer). A child gets supervisord's environment, then `[supervisord] environment=`,
//!   then its program's `environment=`.
//!
//! Both formats are small, so they are parsed here rather than through a dependency, and
//! every value carries the file and line it came from.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::platform::Platform;

/// A configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The file cannot be parsed the way its manager would.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// A place in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Reads a file, naming it in the error.
fn read_text(path: &Path) -> Result<String, ServiceError> {
    let bytes = crate::read::read(path, crate::read::Cap::CONFIG)
        .map_err(|e| ServiceError::Read { path: path.into(), source: e.into_io() })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

// ---------------------------------------------------------------------------------------
// systemd

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
    Refused(crate::read::Refusal),
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
/// [`ServiceError`] when a unit or drop-in file exists but cannot be read.
pub fn find_unit(
    platform: &Platform,
    name: &str,
    user: Option<bool>,
) -> Result<Option<SystemdUnit>, ServiceError> {
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
) -> Result<Option<SystemdUnit>, ServiceError> {
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
        let text = read_text(file)?;
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
    match crate::read::read(path, crate::read::Cap::CONFIG) {
        Ok(bytes) => {
            let bytes = zeroize::Zeroizing::new(bytes);
            let text = zeroize::Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
            let value = parse_env_file(&text)
                .into_iter()
                .filter(|(n, _, _)| n == name)
                .map(|(_, value, line)| (value, line))
                .next_back();
            EnvFileState::Read { value, mode: crate::edit::fsx::mode(&metadata) }
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

/// `(section, key, value, line)` for each setting, with continuation lines joined.
fn unit_entries(text: &str) -> Vec<(String, String, String, usize)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut pending: Option<(String, String, usize)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some((key, mut value, at)) = pending.take() {
            // Comment lines inside a continuation are skipped.
            if line.starts_with(['#', ';']) {
                pending = Some((key, value, at));
                continue;
            }
            match line.strip_suffix('\\') {
                Some(part) => {
                    value.push(' ');
                    value.push_str(part);
                    pending = Some((key, value, at));
                }
                None => {
                    value.push(' ');
                    value.push_str(line);
                    out.push((section.clone(), key, value, at));
                }
            }
            continue;
        }
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let (key, value) = (key.trim().to_string(), value.trim_start().to_string());
        match value.strip_suffix('\\') {
            Some(part) => pending = Some((key, part.to_string(), index + 1)),
            None => out.push((section.clone(), key, value, index + 1)),
        }
    }
    if let Some((key, value, at)) = pending {
        out.push((section, key, value, at));
    }
    out
}

/// Splits a value into words the way systemd does for `Environment=`: whitespace separates,
/// double or single quotes group, a backslash escapes (with the C escapes `\n`, `\t`).
fn split_words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return words;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => match chars.next() {
                    Some('n') => word.push('\n'),
                    Some('t') => word.push('\t'),
                    Some(other) => word.push(other),
                    None => {}
                },
                (_, c) => word.push(c),
            }
        }
        words.push(word);
    }
}

fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `NAME=value` lines of a systemd environment file: `#`/`;` comments, optional quotes
/// (backslash escapes inside double quotes), `\` continuing a line. Returns name, value and
/// 1-based line.
pub fn parse_env_file(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let mut line = raw.trim().to_string();
        while line.ends_with('\\') && !line.ends_with("\\\\") {
            line.pop();
            match lines.next() {
                Some((_, next)) => line.push_str(next.trim()),
                None => break,
            }
        }
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else { continue };
        let name = name.trim();
        if !is_variable_name(name) {
            continue;
        }
        let value = value.trim();
        let value = if let Some(inner) =
            value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).filter(|_| value.len() > 1)
        {
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    out.extend(chars.next());
                } else {
                    out.push(c);
                }
            }
            out
        } else if let Some(inner) =
            value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).filter(|_| value.len() > 1)
        {
            inner.to_string()
        } else {
            value.to_string()
        };
        out.push((name.to_string(), value, index + 1));
    }
    out
}

/// What the specifiers of one unit expand to.
struct Specifiers {
    name: String,
    instance: Option<String>,
    user: bool,
    home: Option<String>,
    runtime: Option<String>,
    config: Option<String>,
}

impl Specifiers {
    /// Expands `%%` and the specifiers that name paths and the unit; others stay as written.
    fn expand(&self, text: &str) -> String {
        let prefix = self.name.split(['@', '.']).next().unwrap_or(&self.name).to_string();
        let without_type = self.name.rsplit_once('.').map_or(&*self.name, |(n, _)| n).to_string();
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(spec) = chars.next() else {
                out.push('%');
                break;
            };
            let value = match spec {
                '%' => Some("%".to_string()),
                'n' => Some(self.name.clone()),
                'N' => Some(without_type.clone()),
                'p' => Some(prefix.clone()),
                'i' | 'I' => Some(self.instance.clone().unwrap_or_default()),
                'h' => self.home.clone(),
                't' => self.runtime.clone(),
                'E' => self.config.clone(),
                'S' if !self.user => Some("/var/lib".to_string()),
                'C' if !self.user => Some("/var/cache".to_string()),
                'L' if !self.user => Some("/var/log".to_string()),
                _ => None,
            };
            match value {
                Some(value) => out.push_str(&value),
                None => {
                    out.push('%');
                    out.push(spec);
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// supervisord

/// One `key=value` of a supervisord configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniValue {
    /// The raw value (continuation lines joined with newlines, `%(here)s` not yet expanded).
    pub text: String,
    /// Where it is set.
    pub at: Location,
}

/// A supervisord configuration: the main file and its includes, merged as supervisord
/// merges them.
#[derive(Debug, Clone, Default)]
pub struct SupervisorConfig {
    /// The main file.
    pub path: PathBuf,
    /// Every file read, the main one first.
    pub files: Vec<PathBuf>,
    sections: BTreeMap<String, BTreeMap<String, IniValue>>,
}

/// A `%(name)s` expansion names something that is not defined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// The name is not defined (supervisord refuses to load such a file).
    #[error("%({0})s is not defined")]
    Undefined(String),
    /// A `%` that does not start `%%` or `%(name)s`.
    #[error("a % that is not %% or %(name)s")]
    BadFormat,
}

/// `environment=` cannot be parsed (supervisord refuses to load such a file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvironmentError {
    /// An expansion failed.
    #[error(transparent)]
    Expand(#[from] ExpandError),
    /// Not a list of `KEY=value` pairs.
    #[error("environment= is not a comma-separated list of KEY=value pairs: {0}")]
    Syntax(String),
}

/// Where supervisord looks for its configuration without `-c`, in order (relative paths
/// are relative to its working directory).
pub fn supervisor_default_paths(executable: Option<&Path>, cwd: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(here) = executable.and_then(Path::parent).and_then(Path::parent) {
        paths.push(here.join("etc/supervisord.conf"));
        paths.push(here.join("supervisord.conf"));
    }
    paths.push(cwd.join("supervisord.conf"));
    paths.push(cwd.join("etc/supervisord.conf"));
    paths.push(PathBuf::from("/etc/supervisord.conf"));
    paths.push(PathBuf::from("/etc/supervisor/supervisord.conf"));
    paths
}

/// The `-c`/`--configuration` argument of a supervisord command line.
pub fn supervisor_config_argument(args: &[String]) -> Option<String> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "-c" || arg == "--configuration" {
            return iter.next().cloned();
        }
        if let Some(value) = arg.strip_prefix("--configuration=") {
            return Some(value.to_string());
        }
        if let Some(value) =
            arg.strip_prefix("-c").filter(|v| !v.is_empty() && !arg.starts_with("--"))
        {
            return Some(value.to_string());
        }
    }
    None
}

impl SupervisorConfig {
    /// Reads a configuration (give an absolute path: includes are relative to its
    /// directory) and the files its `[include]` section names. `env` answers
    /// `%(ENV_X)s` in the include patterns (supervisord's own environment).
    ///
    /// # Errors
    ///
    /// [`ServiceError`] when a file cannot be read or parsed.
    pub fn read(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SupervisorConfig, ServiceError> {
        let mut config = SupervisorConfig {
            path: path.to_path_buf(),
            files: Vec::new(),
            sections: BTreeMap::new(),
        };
        config.merge(path)?;
        // Only the main file's [include] is followed, as supervisord does.
        if let Some(include) = config.sections.get("include").and_then(|s| s.get("files")).cloned()
        {
            let here = parent_text(&include.at.file);
            let expanded = expand_percent(&include.text, &|name| match name {
                "here" => Some(here.clone()),
                "host_node_name" => Some(host_name()),
                other => other.strip_prefix("ENV_").and_then(env),
            })
            .map_err(|e| ServiceError::Parse {
                path: include.at.file.clone(),
                line: include.at.line,
                message: format!("[include] files: {e}"),
            })?;
            let base = path.parent().unwrap_or(Path::new("/")).to_path_buf();
            for pattern in expanded.split_whitespace() {
                let mut matches = glob(&base.join(pattern));
                matches.sort();
                for file in matches {
                    config.merge(&file)?;
                }
            }
        }
        Ok(config)
    }

    fn merge(&mut self, path: &Path) -> Result<(), ServiceError> {
        let text = read_text(path)?;
        self.files.push(path.to_path_buf());
        let mut section: Option<String> = None;
        let mut last_key: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.starts_with([';', '#']) {
                continue;
            }
            if trimmed.is_empty() {
                last_key = None;
                continue;
            }
            // An indented line continues the previous value.
            if raw.starts_with([' ', '\t'])
                && let (Some(name), Some(key)) = (&section, &last_key)
                && let Some(value) =
                    self.sections.get_mut(name).and_then(|section| section.get_mut(key))
            {
                value.text.push('\n');
                value.text.push_str(strip_inline_comment(trimmed));
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = Some(name.trim().to_string());
                self.sections.entry(name.trim().to_string()).or_default();
                last_key = None;
                continue;
            }
            let Some(name) = &section else {
                return Err(ServiceError::Parse {
                    path: path.to_path_buf(),
                    line,
                    message: "a setting before any [section] header".to_string(),
                });
            };
            let Some(at) = trimmed.find(['=', ':']) else {
                return Err(ServiceError::Parse {
                    path: path.to_path_buf(),
                    line,
                    // Never quote the line: it may be a pasted key.
                    message: "not a key=value line (nor a [section] header)".to_string(),
                });
            };
            let key = trimmed[..at].trim().to_ascii_lowercase();
            let value = strip_inline_comment(trimmed[at + 1..].trim()).to_string();
            let location = Location { file: path.to_path_buf(), line };
            self.sections
                .entry(name.clone())
                .or_default()
                .insert(key.clone(), IniValue { text: value, at: location });
            last_key = Some(key);
        }
        Ok(())
    }

    /// The section that defines program `name` (`[program:name]`, or an fcgi-program or
    /// event listener). `group:name` is accepted as supervisorctl writes it.
    pub fn program_section(&self, name: &str) -> Option<&str> {
        let name = name.rsplit(':').next().unwrap_or(name);
        ["program", "fcgi-program", "eventlistener"].iter().find_map(|kind| {
            let section = format!("{kind}:{name}");
            self.sections.get_key_value(&section).map(|(k, _)| k.as_str())
        })
    }

    /// The programs this configuration defines.
    pub fn programs(&self) -> Vec<&str> {
        self.sections
            .keys()
            .filter_map(|s| {
                s.strip_prefix("program:")
                    .or_else(|| s.strip_prefix("fcgi-program:"))
                    .or_else(|| s.strip_prefix("eventlistener:"))
            })
            .collect()
    }

    /// One value of one section.
    pub fn value(&self, section: &str, key: &str) -> Option<&IniValue> {
        self.sections.get(section)?.get(key)
    }

    /// The `environment=` of a section, expanded and parsed as supervisord does. `env`
    /// answers `%(ENV_X)s` (supervisord's environment, plus for a program the
    /// `[supervisord] environment=`).
    ///
    /// # Errors
    ///
    /// [`EnvironmentError`] when supervisord would refuse the value.
    pub fn environment(
        &self,
        section: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<(String, String, Location)>, EnvironmentError> {
        let Some(value) = self.value(section, "environment") else { return Ok(Vec::new()) };
        let here = parent_text(&value.at.file);
        let program = section.split_once(':').map(|(_, name)| name.to_string());
        let expanded = expand_percent(&value.text, &|name| match name {
            "here" => Some(here.clone()),
            "host_node_name" => Some(host_name()),
            "program_name" | "group_name" => program.clone(),
            "process_num" => Some("0".to_string()),
            "numprocs" => Some("1".to_string()),
            other => other.strip_prefix("ENV_").and_then(env),
        })?;
        Ok(key_value_pairs(&expanded)?.into_iter().map(|(k, v)| (k, v, value.at.clone())).collect())
    }
}

fn parent_text(file: &Path) -> String {
    file.parent().map(|p| p.display().to_string()).unwrap_or_default()
}

/// Python configparser's inline comments: `;` or `#` after whitespace.
fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for (index, &b) in bytes.iter().enumerate() {
        if (b == b';' || b == b'#') && index > 0 && bytes[index - 1].is_ascii_whitespace() {
            return value[..index].trim_end();
        }
    }
    value
}

fn host_name() -> String {
    crate::read::read_proc(Path::new("/proc/sys/kernel/hostname"))
        .map(|h| String::from_utf8_lossy(&h).trim().to_string())
        .unwrap_or_default()
}

/// Python's `s % mapping` for `%(name)s`-style formats and `%%`.
pub fn expand_percent(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('%') {
            out.push('%');
            rest = after;
            continue;
        }
        let inner = rest.strip_prefix('(').ok_or(ExpandError::BadFormat)?;
        let close = inner.find(')').ok_or(ExpandError::BadFormat)?;
        let name = &inner[..close];
        let after = &inner[close + 1..];
        // Flags and width, then one conversion character.
        let spec_len = after
            .find(|c: char| c.is_ascii_alphabetic())
            .filter(|&i| after[..i].chars().all(|c| "#0- +.0123456789".contains(c)))
            .ok_or(ExpandError::BadFormat)?;
        let value = lookup(name).ok_or_else(|| ExpandError::Undefined(name.to_string()))?;
        out.push_str(&value);
        rest = &after[spec_len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// supervisord's `dict_of_key_value_pairs`: a non-POSIX `shlex` tokenizer (word characters
/// are letters, digits, `_` and `/.+-():`; quotes stay on the token; `#` starts a comment),
/// then `KEY = value` triples separated by one token (a comma), quotes stripped.
fn key_value_pairs(text: &str) -> Result<Vec<(String, String)>, EnvironmentError> {
    let tokens = shlex_tokens(text)?;
    let mut pairs = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let triple = &tokens[index..tokens.len().min(index + 3)];
        if triple.len() != 3 || triple[1] != "=" {
            return Err(EnvironmentError::Syntax("unexpected end of key/value pairs".to_string()));
        }
        let value = triple[2].trim_matches(['\'', '"']).to_string();
        pairs.push((triple[0].clone(), value));
        index += 4;
    }
    Ok(pairs)
}

fn shlex_tokens(text: &str) -> Result<Vec<String>, EnvironmentError> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || "/.+-():".contains(c);
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '#' {
            while chars.next().is_some_and(|c| c != '\n') {}
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut token = c.to_string();
            loop {
                match chars.next() {
                    Some(q) if q == c => {
                        token.push(q);
                        break;
                    }
                    Some(other) => token.push(other),
                    None => {
                        return Err(EnvironmentError::Syntax("no closing quotation".to_string()));
                    }
                }
            }
            tokens.push(token);
        } else if is_word(c) {
            let mut token = String::new();
            while let Some(&c) = chars.peek() {
                if is_word(c) || c == '"' || c == '\'' {
                    token.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(token);
        } else {
            chars.next();
            tokens.push(c.to_string());
        }
    }
    Ok(tokens)
}

/// Python's `glob.glob` for absolute patterns: `*`, `?` and `[...]` in any component;
/// wildcards do not match a leading `.`.
pub fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::from("/")];
    for component in pattern.components() {
        let part = component.as_os_str().to_string_lossy();
        if matches!(component, std::path::Component::RootDir) {
            continue;
        }
        let wild = part.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for dir in &current {
            if !wild {
                let candidate = dir.join(&*part);
                if candidate.symlink_metadata().is_ok() {
                    next.push(candidate);
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && !part.starts_with('.') {
                    continue;
                }
                if fnmatch(&part, &name) {
                    next.push(entry.path());
                }
            }
        }
        current = next;
    }
    current
}

/// Shell-style matching of one name: `*`, `?`, `[abc]`, `[!abc]`, `[a-z]`.
fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|skip| go(&p[1..], &n[skip..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().skip(2).position(|&c| c == ']').map(|i| i + 2) else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let (negate, set) = match p[1] {
                    '!' => (true, &p[2..close]),
                    _ => (false, &p[1..close]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == c;
                        i += 1;
                    }
                }
                hit != negate && go(&p[close + 1..], &n[1..])
            }
            Some(&c) => n.first() == Some(&c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Os;
    use std::fs;

    fn platform(home: &Path, unit_path: &Path) -> Platform {
        Platform::simulated(
            Os::Linux,
            [
                ("HOME", home.to_str().unwrap().to_string()),
                ("SYSTEMD_UNIT_PATH", unit_path.to_str().unwrap().to_string()),
            ],
        )
    }

    #[test]
    fn unit_names_get_their_type() {
        assert_eq!(unit_name("app"), "app.service");
        assert_eq!(unit_name("app.socket"), "app.socket");
        assert_eq!(unit_name("my.app"), "my.app.service");
        assert_eq!(template_of("web@8080.service"), Some(("web@.service".into(), "8080".into())));
    }

    #[test]
    fn search_path_honours_systemd_unit_path_and_its_trailing_colon() {
        let p = Platform::simulated(Os::Linux, [("SYSTEMD_UNIT_PATH", "/a:/b")]);
        assert_eq!(unit_search_path(&p, false), [PathBuf::from("/a"), PathBuf::from("/b")]);
        let p = Platform::simulated(Os::Linux, [("SYSTEMD_UNIT_PATH", "/a:")]);
        let dirs = unit_search_path(&p, false);
        assert_eq!(dirs[0], PathBuf::from("/a"));
        assert!(dirs.contains(&PathBuf::from("/etc/systemd/system")));
        let p = Platform::simulated(Os::Linux, [("HOME", "/home/ana")]);
        assert!(
            unit_search_path(&p, true).contains(&PathBuf::from("/home/ana/.config/systemd/user"))
        );
    }

    #[test]
    fn environment_words_quotes_escapes_and_continuations() {
        assert_eq!(
            split_words(r#""A=one two" B='x y' C=plain D=a\"b"#),
            ["A=one two", "B=x y", "C=plain", "D=a\"b"]
        );
        let entries = unit_entries("[Service]\nEnvironment=A=1 \\\n  B=2\n# c\nUser=ana\n");
        assert_eq!(entries[0], ("Service".into(), "Environment".into(), "A=1  B=2".into(), 2));
        assert_eq!(entries[1].1, "User");
    }

    #[test]
    fn dropins_override_the_unit_files_are_read_and_resets_apply() {
        let dir = tempfile::tempdir().unwrap();
        let units = dir.path().join("units");
        fs::create_dir_all(units.join("app.service.d")).unwrap();
        fs::create_dir_all(units.join("service.d")).unwrap();
        fs::write(
            units.join("app.service"),
            "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\nEnvironment=DASHSCOPE_API_KEY=sk-unit OTHER=1\n",
        )
        .unwrap();
        let env_file = dir.path().join("key.env");
        fs::write(&env_file, "# key\nDASHSCOPE_API_KEY=\"sk-file\"\n").unwrap();
        fs::write(
            units.join("app.service.d/20-file.conf"),
            format!(
                "[Service]\nEnvironmentFile=-{}\nEnvironmentFile=-/nonexistent\n",
                env_file.display()
            ),
        )
        .unwrap();
        fs::write(units.join("service.d/10-pass.conf"), "[Service]\nPassEnvironment=LANG\n")
            .unwrap();
        let p = platform(dir.path(), &units);
        let unit = find_unit(&p, "app", None).unwrap().unwrap();
        assert!(!unit.user && !unit.masked);
        assert_eq!(unit.dropins.len(), 2);
        assert!(unit.dropins[0].ends_with("service.d/10-pass.conf"));
        let var = unit.variable("DASHSCOPE_API_KEY");
        let (value, origin) = var.value.clone().unwrap();
        assert_eq!(value, "sk-file");
        assert_eq!(origin, UnitOrigin::EnvironmentFile(Location { file: env_file, line: 2 }));
        assert_eq!(var.files.len(), 2);
        assert_eq!(var.files[1].state, EnvFileState::Missing);

        // A later empty EnvironmentFile= forgets the file; Environment= still holds.
        fs::write(units.join("app.service.d/30-reset.conf"), "[Service]\nEnvironmentFile=\n")
            .unwrap();
        let unit = find_unit(&p, "app.service", None).unwrap().unwrap();
        let var = unit.variable("DASHSCOPE_API_KEY");
        assert_eq!(var.value.unwrap().0, "sk-unit");
        assert!(var.files.is_empty());
        fs::write(
            units.join("app.service.d/40-unset.conf"),
            "[Service]\nUnsetEnvironment=DASHSCOPE_API_KEY\n",
        )
        .unwrap();
        let var = find_unit(&p, "app", None).unwrap().unwrap().variable("DASHSCOPE_API_KEY");
        assert!(var.unset && var.value.is_none());
    }

    #[test]
    fn templates_specifiers_and_masks() {
        let dir = tempfile::tempdir().unwrap();
        let units = dir.path().join("units");
        fs::create_dir_all(&units).unwrap();
        fs::write(
            units.join("web@.service"),
            "[Service]\nEnvironmentFile=%h/.config/%p/%i.env\nEnvironment=\"PCT=100%%\"\n",
        )
        .unwrap();
        let p = platform(dir.path(), &units);
        let unit = find_unit(&p, "web@blue", Some(true)).unwrap().unwrap();
        assert!(unit.user);
        let expected = dir.path().join(".config/web/blue.env");
        assert!(matches!(&unit.settings[0], EnvSetting::File { path, .. } if *path == expected));
        assert_eq!(unit.variable("PCT").value.unwrap().0, "100%");
        std::os::unix::fs::symlink("/dev/null", units.join("gone.service")).unwrap();
        assert!(find_unit(&p, "gone", None).unwrap().unwrap().masked);
        assert!(find_unit(&p, "absent", None).unwrap().is_none());
    }

    #[test]
    fn env_files_parse_quotes_comments_and_continuations() {
        let parsed = parse_env_file(
            "# c\n; c\nA=1\nB='two words'\nC=\"x\\\"y\"\nD=a\\\nb\n  E = e \nbad line\n",
        );
        let pairs: Vec<(&str, &str)> =
            parsed.iter().map(|(n, v, _)| (n.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("A", "1"), ("B", "two words"), ("C", "x\"y"), ("D", "ab"), ("E", "e")]);
    }

    #[test]
    fn percent_expansion_is_pythons() {
        let lookup = |name: &str| (name == "ENV_X").then(|| "v".to_string());
        assert_eq!(expand_percent("a%(ENV_X)sb%%c", &lookup).unwrap(), "avb%c");
        assert_eq!(
            expand_percent("%(ENV_Y)s", &lookup),
            Err(ExpandError::Undefined("ENV_Y".into()))
        );
        assert_eq!(expand_percent("100%", &lookup), Err(ExpandError::BadFormat));
    }

    #[test]
    fn environment_pairs_follow_supervisords_shlex() {
        let pairs =
            key_value_pairs("A=\"x,y\",B='q',URL=https://h/api/v1,KEY=sk-abc.def,C=1").unwrap();
        let pairs: Vec<(&str, &str)> =
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("A", "x,y"),
                ("B", "q"),
                ("URL", "https://h/api/v1"),
                ("KEY", "sk-abc.def"),
                ("C", "1")
            ]
        );
        assert!(key_value_pairs("A=\"open").is_err());
        assert!(key_value_pairs("A=1,B").is_err());
    }

    #[test]
    fn supervisor_config_includes_continuations_and_here() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("conf.d")).unwrap();
        let main = dir.path().join("supervisord.conf");
        fs::write(
            &main,
            "[supervisord]\nenvironment = LANG=C ; comment\n\n[include]\nfiles = conf.d/*.conf\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("conf.d/app.conf"),
            "[program:app]\ncommand=/bin/sleep 60\nenvironment=A=\"%(here)s\",\n  KEY=\"%(ENV_DASHSCOPE_API_KEY)s\"\n",
        )
        .unwrap();
        fs::write(dir.path().join("conf.d/.hidden.conf"), "[program:hidden]\ncommand=x\n").unwrap();
        let none = |_: &str| None;
        let config = SupervisorConfig::read(&main, &none).unwrap();
        assert_eq!(config.programs(), ["app"]);
        assert_eq!(config.program_section("group:app"), Some("program:app"));
        let err = config.environment("program:app", &none).unwrap_err();
        assert_eq!(
            err,
            EnvironmentError::Expand(ExpandError::Undefined("ENV_DASHSCOPE_API_KEY".into()))
        );
        let env = |name: &str| (name == "DASHSCOPE_API_KEY").then(|| "sk-x".to_string());
        let pairs = config.environment("program:app", &env).unwrap();
        assert_eq!(pairs[0].1, dir.path().join("conf.d").display().to_string());
        assert_eq!((pairs[1].0.as_str(), pairs[1].1.as_str()), ("KEY", "sk-x"));
        assert_eq!(pairs[1].2.line, 3);
        let global = config.environment("supervisord", &none).unwrap();
        assert_eq!((global[0].0.as_str(), global[0].1.as_str()), ("LANG", "C"));
    }

    #[test]
    fn a_line_that_is_not_a_setting_is_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("supervisord.conf");
        fs::write(&main, "[program:x]\nsk-0123456789abcdef0123456789abcdef\n").unwrap();
        let error = SupervisorConfig::read(&main, &|_| None).unwrap_err().to_string();
        assert!(error.contains(":2:") && !error.contains("0123456789"), "{error}");
    }

    #[test]
    fn supervisord_command_lines_and_globs() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            supervisor_config_argument(&args(&[
                "python3",
                "/usr/bin/supervisord",
                "-c",
                "/x.conf"
            ]))
            .as_deref(),
            Some("/x.conf")
        );
        assert_eq!(
            supervisor_config_argument(&args(&["supervisord", "--configuration=/y"])).as_deref(),
            Some("/y")
        );
        assert_eq!(
            supervisor_config_argument(&args(&["supervisord", "-c/z"])).as_deref(),
            Some("/z")
        );
        assert_eq!(supervisor_config_argument(&args(&["supervisord", "-n"])), None);
        assert!(fnmatch("*.conf", "a.conf") && !fnmatch("*.conf", "a.ini"));
        assert!(fnmatch("[a-c]?.conf", "b1.conf") && !fnmatch("[!a-c]?.conf", "b1.conf"));
    }
}
