//! `dashkey doctor`: name the wall a program hit, and the fix.
//!
//! A program that says "No api key provided" or "Invalid API-key provided" while `echo
//! $DASHSCOPE_API_KEY` shows the key has hit one of a handful of walls, and Model Studio's FAQ
//! lists them: the variable was only set in one terminal (scenario 1), the IDE or service was
//! started before it was set (2), the program runs under systemd or supervisord, whose
//! configuration must carry it (3), `sudo` dropped it (4), or the base URL points at another
//! region than the key's (5). To those this module adds the ones seen in the field: quotes,
//! spaces or a CR in the value, the documentation's placeholder, an empty variable that hides
//! the key file, a key file others can read, five `export` lines in five dotfiles, and a key in
//! a dotfile that is pushed to GitHub.
//!
//! Each check looks at one wall and returns [`Finding`]s: a stable id, a [`Severity`], one
//! line saying what is wrong and why, and one line saying what to do. Checks read; they never
//! change anything and never show a key (values appear masked, with their fingerprint).
//! Everything they read comes through a [`Platform`] (the environment and home) and a
//! [`Host`] (the process table and sudo's policy), so tests can build any situation, and so
//! that a healthy setup produces no `warn` or `fail`: a false alarm sends a user to fix what
//! is not broken, which is a bug here.

mod contexts;
mod environment;
pub(crate) mod git;
mod keyring;
mod managers;
mod processes;
mod profiles;
mod startup_files;
mod sudo;
mod urls;
mod values;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::key::ApiKey;
use crate::platform::Platform;
use crate::region::RegionEndpoint;
use crate::resolve::{self, Resolution, Sdk};
use crate::shell::{self, Dialect, Shell};
use crate::store::Stored;
use crate::store::{self, KeyCopy, PlaceKind};
use crate::vars;
use crate::verify::Prober;
use crate::world::procs::ProcTable;
use crate::world::startup::{Event, Session, Startup, ValueLine};

/// The stable identifiers of findings. Scripts and tests rely on them; they never change
/// meaning.
pub mod id {
    /// The key is in this environment but stored nowhere (FAQ scenario 1).
    pub const TEMPORARY: &str = "temporary";
    /// The key is stored, but this environment has not loaded it (scenarios 1 and 2).
    pub const NOT_LOADED: &str = "not-loaded";
    /// This environment holds another key, or other base URLs, than the ones stored.
    pub const STALE_ENV: &str = "stale-env";
    /// The stores themselves hold different keys.
    pub const STORES_DISAGREE: &str = "stores-disagree";
    /// A running program started before the key was stored, or without it (scenario 2).
    pub const STALE_PROCESS: &str = "stale-process";
    /// A startup file was not read: it is not a regular file (a FIFO, a device), or it is
    /// too large.
    pub const SKIPPED_FILE: &str = "skipped-file";
    /// A systemd unit does not give its processes the key (scenario 3).
    pub const SERVICE_SYSTEMD: &str = "service-systemd";
    /// A supervisord program does not get the key (scenario 3).
    pub const SERVICE_SUPERVISORD: &str = "service-supervisord";
    /// sudo dropped the key, or left HOME pointing at another user's home (scenario 4).
    pub const SUDO: &str = "sudo";
    /// A base URL variable is malformed, insecure, of the wrong API, or disagrees (scenario 5).
    pub const BASE_URL: &str = "base-url";
    /// The key works in another region than the one configured (scenario 5, `--online`).
    pub const REGION_MISMATCH: &str = "region-mismatch";
    /// No region accepts the key (`--online`).
    pub const KEY_REJECTED: &str = "key-rejected";
    /// The key is the documentation's placeholder.
    pub const PLACEHOLDER: &str = "placeholder";
    /// Quotes are part of the key.
    pub const QUOTED: &str = "quoted";
    /// Spaces, tabs, CR or LF around the key.
    pub const WHITESPACE: &str = "whitespace";
    /// The key is a `$VARIABLE` that was never expanded.
    pub const UNEXPANDED_VARIABLE: &str = "unexpanded-variable";
    /// The key has characters no key has.
    pub const MALFORMED: &str = "malformed";
    /// The key does not start with a prefix DashScope issues.
    pub const UNKNOWN_PREFIX: &str = "unknown-prefix";
    /// `DASHSCOPE_API_KEY` is set but empty, hiding the key file.
    pub const EMPTY_SHADOWS_FILE: &str = "empty-shadows-file";
    /// `DASHSCOPE_API_KEY_FILE_PATH` names a missing file or has a literal `~`.
    pub const KEY_FILE_PATH: &str = "key-file-path";
    /// A file holding the key is readable by other users.
    pub const KEY_FILE_PERMS: &str = "key-file-perms";
    /// A key file has several lines.
    pub const KEY_FILE_LINES: &str = "key-file-lines";
    /// The key is assigned in several startup files or lines.
    pub const CONFLICTING_ASSIGNMENTS: &str = "conflicting-assignments";
    /// A startup file holds the key in plain text.
    pub const PLAINTEXT_IN_DOTFILES: &str = "plaintext-in-dotfiles";
    /// A file holding the key is tracked by git, or inside a work tree and not ignored.
    pub const KEY_IN_GIT: &str = "key-in-git";
    /// Some shells of this user never read the file that sets the key.
    pub const LOGIN_VS_INTERACTIVE: &str = "login-vs-interactive";
    /// A startup file a POSIX shell, csh or fish reads has CRLF line endings.
    pub const CRLF_STARTUP_FILE: &str = "crlf-startup-file";
    /// The Python, Java and Node SDKs would use different keys, or some none.
    pub const SDK_DISAGREE: &str = "sdk-disagree";
    /// No SDK finds any key here.
    pub const NO_KEY: &str = "no-key";
    /// Programs started from a launch context (a shell, the desktop, cron…) get no key.
    pub const CONTEXT_KEY: &str = "context-key";
    /// Programs started from a launch context send the key to another region than its own.
    pub const CONTEXT_REGION: &str = "context-region";
    /// A link file (`dashkey link`) decides the profile here, or names one that is not stored.
    pub const PROFILE_LINK: &str = "profile-link";

    /// The keyring that holds the key (`set --store keyring`) cannot be reached.
    pub const KEYRING_UNREACHABLE: &str = "keyring-unreachable";
    /// The key is in the keyring, which cron, system services and sudo cannot reach.
    pub const KEYRING_CONTEXTS: &str = "keyring-contexts";

    /// Every id, in the order the checks run.
    pub const ALL: [&str; 33] = [
        TEMPORARY,
        NOT_LOADED,
        STALE_ENV,
        STORES_DISAGREE,
        STALE_PROCESS,
        SERVICE_SYSTEMD,
        SERVICE_SUPERVISORD,
        SUDO,
        BASE_URL,
        REGION_MISMATCH,
        KEY_REJECTED,
        PLACEHOLDER,
        QUOTED,
        WHITESPACE,
        UNEXPANDED_VARIABLE,
        MALFORMED,
        UNKNOWN_PREFIX,
        EMPTY_SHADOWS_FILE,
        KEY_FILE_PATH,
        KEY_FILE_PERMS,
        KEY_FILE_LINES,
        CONFLICTING_ASSIGNMENTS,
        PLAINTEXT_IN_DOTFILES,
        KEY_IN_GIT,
        LOGIN_VS_INTERACTIVE,
        CRLF_STARTUP_FILE,
        SDK_DISAGREE,
        NO_KEY,
        CONTEXT_KEY,
        CONTEXT_REGION,
        KEYRING_UNREACHABLE,
        KEYRING_CONTEXTS,
        PROFILE_LINK,
    ];
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Checked, and fine.
    Ok,
    /// Worth knowing; nothing is wrong.
    Info,
    /// Something will bite some programs, or could not be checked.
    Warn,
    /// A program will not get a working key.
    Fail,
}

impl Severity {
    /// The stable name (`ok`, `info`, `warn`, `fail`).
    pub fn id(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Fail => "fail",
        }
    }
}

/// One thing the doctor found. Nothing in it ever contains a key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable identifier (see [`id`]).
    pub id: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// What is wrong, in one line.
    pub title: String,
    /// Why, in one line.
    pub detail: String,
    /// What to do, in one line (a command where there is one); `None` when nothing is to do.
    pub fix: Option<String>,
}

impl Finding {
    pub(crate) fn new(id: &'static str, severity: Severity, title: impl Into<String>) -> Finding {
        Finding { id, severity, title: title.into(), detail: String::new(), fix: None }
    }

    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Finding {
        self.detail = detail.into();
        self
    }

    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }
}

/// What the machine offers beyond the environment: the process table and sudo's policy.
#[derive(Debug)]
pub struct Host {
    /// Running processes.
    pub procs: ProcTable,
    /// sudo's policy file.
    pub sudoers: PathBuf,
    /// The user id this runs as (its processes are the ones it can inspect).
    pub uid: Option<u32>,
}

impl Host {
    /// The real machine: `/proc`, `/etc/sudoers`, this process's user.
    pub fn system() -> Host {
        Host {
            procs: ProcTable::system(),
            sudoers: PathBuf::from("/etc/sudoers"),
            uid: crate::world::procs::current_uid(),
        }
    }
}

/// What the user asked to have checked besides this environment.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Processes to check (`--pid`).
    pub pids: Vec<u32>,
    /// systemd units to check (`--systemd`).
    pub systemd: Vec<String>,
    /// Look the units up only in the user manager's search path (`--user`).
    pub systemd_user: bool,
    /// supervisord programs to check (`--supervisord`).
    pub supervisord: Vec<String>,
    /// supervisord's configuration file, when not the one found automatically (`-c`).
    pub supervisord_config: Option<PathBuf>,
    /// The user's crontab text, for the launch-context matrix (`None`: not read).
    pub crontab: Option<String>,
    /// How fixes name the `dashkey` program: the absolute path of the running binary, so a
    /// fix is right under `sudo`, whose `secure_path` rarely has `~/.cargo/bin` (none:
    /// `dashkey`).
    pub program: Option<PathBuf>,
    /// The profile to check against (`--profile`); without it, a link file's, else the one
    /// in use ([`store::link::choose`]).
    pub profile: Option<String>,
}

/// The online check: a client and the regions to try.
#[derive(Debug, Clone, Copy)]
pub struct Online<'a> {
    /// The HTTP client.
    pub prober: &'a Prober,
    /// Every region (built-in and from `config.toml`).
    pub targets: &'a [RegionEndpoint],
}

/// The doctor cannot run as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DoctorError {
    /// `--pid` names a process that does not exist.
    #[error("there is no process with id {0}")]
    NoSuchProcess(u32),
}

/// Runs every check and returns the findings, in check order.
///
/// # Errors
///
/// [`DoctorError`] when a process named in `options` does not exist.
pub fn diagnose(
    platform: &Platform,
    host: &Host,
    options: &Options,
    online: Option<Online<'_>>,
) -> Result<Vec<Finding>, DoctorError> {
    for &pid in &options.pids {
        if host.procs.process(pid).is_none() {
            return Err(DoctorError::NoSuchProcess(pid));
        }
    }
    let cx = Context::new(platform, host, options);
    let mut out = Vec::new();
    cx.check_profile(&mut out);
    cx.check_persistence(&mut out);
    cx.check_stores(&mut out);
    cx.check_processes(&mut out);
    for unit in &options.systemd {
        cx.check_systemd(unit, &mut out);
    }
    for program in &options.supervisord {
        cx.check_supervisord(program, &mut out);
    }
    cx.check_sudo(&mut out);
    cx.check_base_urls(&mut out);
    let probed = online.and_then(|online| cx.check_online(online, &mut out));
    let inputs = crate::reach::Inputs {
        crontab: options.crontab.clone(),
        sudoers: Some(host.sudoers.clone()),
        probed_region: probed,
    };
    let jobs = options.crontab.as_deref().is_some_and(|text| {
        text.lines()
            .map(str::trim)
            .any(|l| !l.is_empty() && !l.starts_with('#') && !is_assignment(l))
    });
    cx.check_contexts(&crate::reach::matrix(platform, &inputs), jobs, &mut out);
    cx.check_keyring(&mut out);
    cx.check_values(&mut out);
    cx.check_key_files(&mut out);
    cx.check_startup_files(&mut out);
    cx.check_git(&mut out);
    cx.check_sdks(&mut out);
    cx.no_set_under_sudo(&mut out);
    Ok(out)
}

/// Everything the checks share, read once.
struct Context<'a> {
    platform: &'a Platform,
    host: &'a Host,
    options: &'a Options,
    /// `DASHSCOPE_API_KEY` here, verbatim (may be empty).
    env_key: Option<ApiKey>,
    /// Which profile applies here (see [`store::link::choose`]).
    profile: Result<store::link::Choice, store::link::ChoiceError>,
    /// What `dashkey set` stored for that profile (its `env.sh`).
    stored: Option<Stored>,
    stored_key: Option<ApiKey>,
    /// dashkey's `env.sh`, when it exists.
    owned_file: Option<PathBuf>,
    /// When the key new shells load was last written.
    written_at: Option<SystemTime>,
    copies: Vec<KeyCopy>,
    resolutions: Vec<Resolution>,
    startup: Startup,
    /// The sessions of the shells this user has.
    sessions: Vec<Session>,
    /// The session a new terminal of the user's login shell starts.
    login_session: Session,
    /// `SUDO_USER`, when this runs under sudo.
    sudo_user: Option<String>,
    /// The key new shells get: dashkey's, else the startup files' literal one.
    persisted_key: Option<ApiKey>,
    /// The key a newly started program of this user should have: the persisted one, else
    /// this environment's.
    expected: Option<ApiKey>,
}

impl<'a> Context<'a> {
    fn new(platform: &'a Platform, host: &'a Host, options: &'a Options) -> Context<'a> {
        let env_key = platform.var(vars::API_KEY).map(ApiKey::verbatim);
        let profile = store::link::choose(platform, options.profile.as_deref());
        let stored = match &profile {
            Ok(choice) if choice.why != store::link::Why::InUse => {
                choice.profile.as_ref().map(|p| p.stored.clone())
            }
            _ => store::load_stored(platform).ok().flatten(),
        };
        let stored_key = stored.as_ref().and_then(Stored::key).filter(|k| !k.is_empty());
        let owned_file = platform
            .dashkey_dir()
            .map(|dir| store::owned_path(&dir, Dialect::Posix))
            .filter(|path| path.is_file());
        let startup = Startup::read(platform);
        let shells = relevant_shells(platform, &startup);
        let sessions: Vec<Session> =
            shells.iter().flat_map(|shell| Session::of(*shell).iter().copied()).collect();
        let login_session = match shells.first() {
            Some(Shell::Zsh) => Session::ZshInteractive,
            Some(Shell::Fish) => Session::Fish,
            Some(Shell::Tcsh) => Session::Tcsh,
            Some(Shell::Ksh) => Session::KshInteractive,
            Some(Shell::Mksh) => Session::MkshInteractive,
            Some(Shell::Sh) => Session::ShLogin,
            _ => Session::BashInteractive,
        };
        let winning = startup.events(login_session, vars::API_KEY).last().cloned();
        let written_at = match (&owned_file, &winning) {
            (Some(path), _) => mtime(path),
            (None, Some(event)) => mtime(event.location().0),
            (None, None) => None,
        };
        let literal = |event: &Event| match event {
            Event::Assignment { assignment, .. } => assignment.value.clone(),
            Event::Hook { .. } => None,
        };
        let persisted_key = stored_key
            .clone()
            .or_else(|| winning.as_ref().and_then(literal))
            .or_else(|| {
                startup
                    .files()
                    .iter()
                    .flat_map(|f| &f.assignments)
                    .find_map(|a| (a.name == vars::API_KEY).then(|| a.value.clone()).flatten())
            })
            .filter(|key| !key.is_empty());
        let expected =
            persisted_key.clone().or_else(|| env_key.clone()).filter(|key| !key.is_empty());
        Context {
            platform,
            host,
            options,
            env_key,
            profile,
            stored,
            stored_key,
            owned_file,
            written_at,
            copies: store::scan(platform),
            resolutions: Sdk::ALL.iter().map(|&sdk| resolve::resolve(sdk, platform)).collect(),
            startup,
            sessions,
            login_session,
            sudo_user: platform.var_non_empty("SUDO_USER").map(str::to_string),
            persisted_key,
            expected,
        }
    }

    fn show(&self, path: &Path) -> String {
        self.platform.show_path(path)
    }

    /// `sk-…5b6c (6c21cd30)`.
    fn describe_key(key: &ApiKey) -> String {
        if key.is_empty() {
            return "an empty value".to_string();
        }
        format!("{} ({})", key.mask(), key.fingerprint())
    }

    /// Every assignment of the key in a startup file: file, assignment.
    fn key_assignments(&self) -> Vec<(&Path, &ValueLine)> {
        self.startup
            .files()
            .iter()
            .flat_map(|file| file.assignments.iter().map(move |a| (file.path.as_path(), a)))
            .filter(|(_, a)| a.name == vars::API_KEY)
            .collect()
    }

    /// Where the key is kept for new shells and programs, described.
    fn persisted_in(&self) -> Vec<String> {
        let mut places = Vec::new();
        if let (Some(_), Some(path)) = (&self.stored_key, &self.owned_file) {
            places.push(format!("dashkey's file {}", self.show(path)));
        }
        for (path, assignment) in self.key_assignments() {
            places.push(format!("{}:{}", self.show(path), assignment.line));
        }
        if let Some(copy) = self.copy(PlaceKind::DesktopSession)
            && let (Some(_), Some(path)) = (copy.value(), &copy.path)
        {
            places.push(format!("the desktop session file {}", self.show(path)));
        }
        places
    }

    fn copy(&self, kind: PlaceKind) -> Option<&KeyCopy> {
        self.copies.iter().find(|copy| copy.kind == kind)
    }

    fn resolution(&self, sdk: Sdk) -> &Resolution {
        self.resolutions.iter().find(|r| r.sdk == sdk).expect("every SDK is resolved")
    }

    /// The line that loads the stored key into the user's shell.
    fn load_line(&self) -> String {
        if let Some(command) = self.profile_load_line() {
            return command;
        }
        if self.stored_key.is_some()
            && let Some(command) = store::load_command(self.platform)
        {
            return command;
        }
        let winning = self.startup.events(self.login_session, vars::API_KEY).last().cloned();
        match winning {
            Some(event) => {
                let path = event.location().0;
                shell::dialect_of_file(path).source_command(path, self.platform.home().as_deref())
            }
            None => "eval \"$(dashkey env)\"".to_string(),
        }
    }

    fn under_sudo(&self) -> bool {
        self.sudo_user.is_some()
    }
}

/// The shells this user really uses: the login shell, and every shell with a startup file of
/// its own. (`.profile` is shared, so it does not count for any shell.)
fn relevant_shells(platform: &Platform, startup: &Startup) -> Vec<Shell> {
    let mut shells: Vec<Shell> =
        platform.var("SHELL").and_then(Shell::from_name).into_iter().collect();
    let used = [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Tcsh, Shell::Ksh, Shell::Mksh];
    for shell in used {
        let present = startup.files().iter().any(|file| shell::owns_file(shell, &file.path));
        if present && !shells.contains(&shell) {
            shells.push(shell);
        }
    }
    shells
}

/// A crontab line that sets a variable rather than running a job.
fn is_assignment(line: &str) -> bool {
    !crate::reach::crontab_variables(line).is_empty()
}

/// When a file was last written.
fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// `2025-11-26 17:05:03 UTC`.
fn utc(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// `0.4 s`, `12 min`, `3 h`, `2 days`.
fn span(duration: std::time::Duration) -> String {
    let secs = duration.as_secs_f64();
    match secs {
        s if s < 60.0 => format!("{s:.1} s"),
        s if s < 3600.0 => format!("{} min", (s / 60.0).round()),
        s if s < 172_800.0 => format!("{} h", (s / 3600.0).round()),
        s => format!("{} days", (s / 86_400.0).round()),
    }
}

#[cfg(test)]
mod tests;
