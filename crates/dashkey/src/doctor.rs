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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::key::{ApiKey, KeyKind, ValueProblem};
use crate::persist::{self, Stored};
use crate::platform::Platform;
use crate::procs::{EnvironError, ProcTable, Process};
use crate::region::{ApiShape, Endpoint, HostRegion, Region, UrlError, WORKSPACE_REGIONS};
use crate::resolve::{self, Outcome, Resolution, Sdk, Source};
use crate::services::{self, EnvFileState, SupervisorConfig, UnitOrigin};
use crate::shell::{self, Dialect, Shell};
use crate::startup::{Event, Session, Startup};
use crate::store::{self, Copy, PlaceKind, PlaceProblem};
use crate::sudoers::EnvPolicy;
use crate::verify::{self, Prober, Target};
use crate::{fsx, vars};

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
    /// Some shells of this user never read the file that sets the key.
    pub const LOGIN_VS_INTERACTIVE: &str = "login-vs-interactive";
    /// The Python, Java and Node SDKs would use different keys, or some none.
    pub const SDK_DISAGREE: &str = "sdk-disagree";
    /// No SDK finds any key here.
    pub const NO_KEY: &str = "no-key";

    /// Every id, in the order the checks run.
    pub const ALL: [&str; 26] = [
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
        LOGIN_VS_INTERACTIVE,
        SDK_DISAGREE,
        NO_KEY,
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
    fn new(id: &'static str, severity: Severity, title: impl Into<String>) -> Finding {
        Finding { id, severity, title: title.into(), detail: String::new(), fix: None }
    }

    fn detail(mut self, detail: impl Into<String>) -> Finding {
        self.detail = detail.into();
        self
    }

    fn fix(mut self, fix: impl Into<String>) -> Finding {
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
            uid: crate::procs::current_uid(),
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
}

/// The online check: a client and the regions to try.
#[derive(Debug, Clone, Copy)]
pub struct Online<'a> {
    /// The HTTP client.
    pub prober: &'a Prober,
    /// Every region (built-in and from `config.toml`).
    pub targets: &'a [Target],
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
    if let Some(online) = online {
        cx.check_online(online, &mut out);
    }
    cx.check_values(&mut out);
    cx.check_key_files(&mut out);
    cx.check_dotfiles(&mut out);
    cx.check_sdks(&mut out);
    Ok(out)
}

/// Everything the checks share, read once.
struct Context<'a> {
    platform: &'a Platform,
    host: &'a Host,
    options: &'a Options,
    /// `DASHSCOPE_API_KEY` here, verbatim (may be empty).
    env_key: Option<ApiKey>,
    /// What `dashkey set` stored (its `env.sh`).
    stored: Option<Stored>,
    stored_key: Option<ApiKey>,
    /// dashkey's `env.sh`, when it exists.
    owned_file: Option<PathBuf>,
    /// When the key new shells load was last written.
    written_at: Option<SystemTime>,
    copies: Vec<Copy>,
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
        let stored = persist::load_stored(platform).ok().flatten();
        let stored_key = stored.as_ref().and_then(Stored::key).filter(|k| !k.is_empty());
        let owned_file = platform
            .dashkey_dir()
            .map(|dir| persist::owned_path(&dir, Dialect::Posix))
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
        let winning = startup.events(login_session, vars::API_KEY).pop();
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
    fn key_assignments(&self) -> Vec<(&Path, &crate::startup::Assignment)> {
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

    fn copy(&self, kind: PlaceKind) -> Option<&Copy> {
        self.copies.iter().find(|copy| copy.kind == kind)
    }

    fn resolution(&self, sdk: Sdk) -> &Resolution {
        self.resolutions.iter().find(|r| r.sdk == sdk).expect("every SDK is resolved")
    }

    /// The line that loads the stored key into the user's shell.
    fn load_line(&self) -> String {
        if self.stored_key.is_some()
            && let Some(command) = persist::load_command(self.platform)
        {
            return command;
        }
        let winning = self.startup.events(self.login_session, vars::API_KEY).pop();
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

    // -- scenario 1 and 2: this environment against the stores --------------------------

    fn check_persistence(&self, out: &mut Vec<Finding>) {
        if self.under_sudo() {
            // This environment came from another user's: their setup is checked without sudo.
            return;
        }
        let persisted = self.persisted_in();
        let env_key = self.env_key.as_ref().filter(|key| !key.is_empty());
        match (env_key, persisted.is_empty()) {
            (Some(key), true) => {
                let in_sdk_file = self
                    .copy(PlaceKind::SdkKeyFile)
                    .and_then(Copy::value)
                    .is_some_and(|file| file.fingerprint() == key.fingerprint());
                let (severity, also) = if in_sdk_file {
                    (
                        Severity::Warn,
                        " Only the SDK key file ~/.dashscope/api_key has it too, which the \
                         Python and Java SDKs read, but not the Node SDK or other tools.",
                    )
                } else {
                    (Severity::Fail, "")
                };
                out.push(
                    Finding::new(
                        id::TEMPORARY,
                        severity,
                        "DASHSCOPE_API_KEY is set only in this environment",
                    )
                    .detail(format!(
                        "The key {} is in this terminal's environment but stored nowhere, so new \
                         terminals, IDEs and services will not have it (FAQ scenario 1).{also}",
                        Self::describe_key(key)
                    ))
                    .fix("printf '%s' \"$DASHSCOPE_API_KEY\" | dashkey set --stdin"),
                );
            }
            (Some(_), false) => {}
            (None, false) if self.env_key.is_none() => {
                out.push(
                    Finding::new(
                        id::NOT_LOADED,
                        Severity::Warn,
                        "this environment has not loaded the stored key",
                    )
                    .detail(format!(
                        "The key is stored ({}), but DASHSCOPE_API_KEY is not set here: this \
                         terminal was opened before it was stored, or never reads that file, so \
                         programs started from it do not get the variable.",
                        persisted.join(", ")
                    ))
                    .fix(format!("{}   (or open a new terminal)", self.load_line())),
                );
            }
            _ => {}
        }
        self.check_stale_env(out);
    }

    fn check_stale_env(&self, out: &mut Vec<Finding>) {
        let Some(env_key) = self.env_key.as_ref().filter(|key| !key.is_empty()) else { return };
        let Some(expected) = &self.persisted_key else { return };
        let stored_by_dashkey = self.stored_key.is_some();
        let same = |a: &ApiKey, b: &ApiKey| a.expose().trim() == b.expose().trim();
        if !same(env_key, expected) {
            let from = if stored_by_dashkey {
                "dashkey stored".to_string()
            } else {
                "the startup files set".to_string()
            };
            let when = self.written_at.map(|t| format!(" at {}", utc(t))).unwrap_or_default();
            out.push(
                Finding::new(
                    id::STALE_ENV,
                    Severity::Fail,
                    "this environment holds a different key than the one stored",
                )
                .detail(format!(
                    "DASHSCOPE_API_KEY here is {}, but {from} {}{when}: this terminal (or \
                     whatever started this program) was opened before the key was changed.",
                    Self::describe_key(env_key),
                    Self::describe_key(expected),
                ))
                .fix(format!("{}   (or open a new terminal)", self.load_line())),
            );
            return;
        }
        let mut stale_urls = Vec::new();
        if let Some(stored) = &self.stored {
            for name in [vars::HTTP_BASE_URL, vars::WEBSOCKET_BASE_URL, vars::COMPATIBLE_BASE_URL] {
                if let Some(value) = stored.get(name)
                    && self.platform.var(name) != Some(value)
                {
                    stale_urls.push(name);
                }
            }
        }
        if stale_urls.is_empty() {
            out.push(
                Finding::new(id::STALE_ENV, Severity::Ok, "this environment has the stored key")
                    .detail(format!("DASHSCOPE_API_KEY is {}.", Self::describe_key(env_key))),
            );
            return;
        }
        let region = self
            .stored
            .as_ref()
            .and_then(|s| s.get(vars::HTTP_BASE_URL))
            .and_then(|url| Endpoint::parse(url).ok())
            .and_then(|e| e.region.region_id().map(str::to_string))
            .unwrap_or_else(|| "another region".to_string());
        out.push(
            Finding::new(
                id::STALE_ENV,
                Severity::Warn,
                format!("this environment lacks the stored base URLs ({region})"),
            )
            .detail(format!(
                "The key here is the stored one, but {} here {} not what dashkey stored for \
                 {region}: the SDKs would send the key to the wrong region (401 Invalid \
                 API-key provided).",
                stale_urls.join(", "),
                if stale_urls.len() == 1 { "is" } else { "are" }
            ))
            .fix(format!("{}   (or open a new terminal)", self.load_line())),
        );
    }

    fn check_stores(&self, out: &mut Vec<Finding>) {
        let Some(stored) = &self.stored_key else { return };
        for kind in [PlaceKind::SdkKeyFile, PlaceKind::JavaKeyFile, PlaceKind::DesktopSession] {
            let Some(copy) = self.copy(kind) else { continue };
            let (Some(value), Some(path)) = (copy.value(), &copy.path) else { continue };
            if value.is_empty() || value.fingerprint() == stored.fingerprint() {
                continue;
            }
            let who = match kind {
                PlaceKind::DesktopSession => {
                    "desktop apps and IDEs started after the next login get it"
                }
                _ => {
                    "the Python and Java SDKs use it in every program without DASHSCOPE_API_KEY \
                     (IDE run configurations, cron, services)"
                }
            };
            out.push(
                Finding::new(
                    id::STORES_DISAGREE,
                    Severity::Warn,
                    format!("{} holds another key than dashkey's file", self.show(path)),
                )
                .detail(format!(
                    "It holds {}, dashkey's file {}: {who}.",
                    Self::describe_key(value),
                    Self::describe_key(stored)
                ))
                .fix("store one key everywhere: printf '%s' \"$KEY\" | dashkey set --stdin"),
            );
        }
    }

    // -- scenario 2: programs started before the key -------------------------------------

    fn check_processes(&self, out: &mut Vec<Finding>) {
        let procs = &self.host.procs;
        let mut targets: Vec<(Process, String, bool)> = self
            .host_processes_named()
            .into_iter()
            .map(|(process, name)| (process, name, false))
            .collect();
        for &pid in &self.options.pids {
            targets.retain(|(p, _, _)| p.pid != pid);
            if let Some(process) = procs.process(pid) {
                let name = process.name.clone();
                targets.push((process, name, true));
            }
        }
        for (process, name, named) in targets {
            out.push(self.process_finding(&process, &name, named));
        }
    }

    /// Running IDEs of this user (same user id and, when readable, same HOME), one per IDE
    /// process tree.
    fn host_processes_named(&self) -> Vec<(Process, String)> {
        let procs = &self.host.procs;
        let all = procs.list();
        let by_pid: BTreeMap<u32, &Process> = all.iter().map(|p| (p.pid, p)).collect();
        let classify = |process: &Process| -> Option<&'static str> {
            ide_of(&process.name, || procs.cmdline(process.pid).unwrap_or_default())
        };
        let kinds: BTreeMap<u32, &'static str> =
            all.iter().filter_map(|p| Some((p.pid, classify(p)?))).collect();
        let home = self.platform.var("HOME");
        let mut found = Vec::new();
        for (&pid, &kind) in &kinds {
            let process = by_pid[&pid];
            if kinds.get(&process.ppid) == Some(&kind) {
                continue;
            }
            if self.host.uid.is_some() && procs.owner(pid) != self.host.uid {
                continue;
            }
            match procs.environ(pid, |name| name == "HOME") {
                Ok(env) if env.get("HOME").map(String::as_str) != home => continue,
                Err(EnvironError::Gone) => continue,
                _ => {}
            }
            found.push((process.clone(), kind.to_string()));
        }
        found
    }

    fn process_finding(&self, process: &Process, name: &str, named: bool) -> Finding {
        let procs = &self.host.procs;
        let started = procs.started_at(process);
        let started_text = started.map(utc).unwrap_or_else(|| "an unknown time".to_string());
        let label = format!("{name} (pid {}, started {started_text})", process.pid);
        let before = match (started, self.written_at) {
            (Some(started), Some(written)) => Some(started < written),
            _ => None,
        };
        let written_text = match (started, self.written_at) {
            (Some(started), Some(written)) => match written.duration_since(started) {
                Ok(gap) => format!(" at {} ({} after it started)", utc(written), span(gap)),
                Err(_) => format!(" at {}", utc(written)),
            },
            (None, Some(written)) => format!(" at {}", utc(written)),
            (_, None) => String::new(),
        };
        let restart = format!("restart {name} (quit it completely, then start it again)");
        let bad = if named { Severity::Fail } else { Severity::Warn };
        let env = procs.environ(process.pid, |n| n == vars::API_KEY);
        match env {
            Ok(env) => {
                let has = env.get(vars::API_KEY).map(ApiKey::verbatim).filter(|k| !k.is_empty());
                match (has, &self.expected) {
                    (Some(key), Some(expected))
                        if key.expose().trim() == expected.expose().trim() =>
                    {
                        Finding::new(
                            id::STALE_PROCESS,
                            Severity::Ok,
                            format!("{label} has the key"),
                        )
                        .detail(format!("Its environment holds {}.", Self::describe_key(&key)))
                    }
                    (Some(key), Some(expected)) => Finding::new(
                        id::STALE_PROCESS,
                        bad,
                        format!("{label} holds an old key"),
                    )
                    .detail(format!(
                        "Its environment holds {}, but the stored key is {}{written_text}: a \
                         program keeps the environment it was started with (FAQ scenario 2).",
                        Self::describe_key(&key),
                        Self::describe_key(expected)
                    ))
                    .fix(restart),
                    (Some(key), None) => Finding::new(
                        id::STALE_PROCESS,
                        Severity::Info,
                        format!("{label} has a key, and none is stored"),
                    )
                    .detail(format!(
                        "Its environment holds {}; no stored key to compare it with.",
                        Self::describe_key(&key)
                    )),
                    (None, None) => Finding::new(
                        id::STALE_PROCESS,
                        Severity::Info,
                        format!("{label} has no key, and none is stored"),
                    )
                    .detail("Restarting it will not help until a key is stored.")
                    .fix("dashkey set, then restart it"),
                    (None, Some(_)) if before != Some(false) => Finding::new(
                        id::STALE_PROCESS,
                        bad,
                        format!("{label} started before the key was stored"),
                    )
                    .detail(format!(
                        "Its environment has no DASHSCOPE_API_KEY: it started before the key was \
                         written{written_text}, and a program keeps the environment it was \
                         started with (FAQ scenario 2)."
                    ))
                    .fix(restart),
                    (None, Some(_)) => Finding::new(
                        id::STALE_PROCESS,
                        bad,
                        format!("{label} was started without the key"),
                    )
                    .detail(format!(
                        "It started after the key was written{written_text}, but its environment \
                         has no DASHSCOPE_API_KEY: whatever started it (a desktop launcher, a \
                         service, a shell that never loaded the key) did not have it."
                    ))
                    .fix(format!(
                        "start {name} from a terminal that has the key, or run dashkey set --gui \
                         and log in again so that desktop apps get it"
                    )),
                }
            }
            Err(error) => {
                let why = format!("dashkey cannot read its environment ({error})");
                match before {
                    Some(true) => Finding::new(
                        id::STALE_PROCESS,
                        Severity::Warn,
                        format!("{label} started before the key was stored"),
                    )
                    .detail(format!(
                        "{why}, but it started before the key was written{written_text}, so it \
                         cannot have it (FAQ scenario 2)."
                    ))
                    .fix(restart),
                    _ => Finding::new(
                        id::STALE_PROCESS,
                        Severity::Info,
                        format!("{label}: environment not readable"),
                    )
                    .detail(format!(
                        "{why}; {}",
                        if before == Some(false) {
                            "it started after the key was written, so it may have it"
                        } else {
                            "no time of writing is known to compare its start with"
                        }
                    ))
                    .fix("run dashkey doctor as the process's user (or root) to check it"),
                }
            }
        }
    }

    // -- scenario 3: service managers ----------------------------------------------------

    /// The verdict on a value a service gives its program.
    fn service_value(
        &self,
        id: &'static str,
        what: &str,
        value: &str,
        origin: &str,
        fix: &str,
    ) -> Finding {
        let key = ApiKey::verbatim(value);
        if key.is_empty() {
            return Finding::new(
                id,
                Severity::Fail,
                format!("{what} sets DASHSCOPE_API_KEY empty"),
            )
            .detail(format!(
                "{origin} sets it to an empty value: the Python and Java SDKs send an empty \
                     key (401), the Node SDK reports it missing."
            ))
            .fix(fix.to_string());
        }
        if let Some(problem) = key.problems().into_iter().find(|p| {
            !matches!(p, ValueProblem::UnknownPrefix | ValueProblem::SurroundingWhitespace)
        }) {
            return Finding::new(id, Severity::Fail, format!("{what} gives an unusable key"))
                .detail(format!("{origin}: {problem}."))
                .fix(fix.to_string());
        }
        match &self.expected {
            Some(expected) if expected.expose().trim() != value.trim() => Finding::new(
                id,
                Severity::Warn,
                format!("{what} gives another key than the stored one"),
            )
            .detail(format!(
                "{origin} sets {}, but the stored key is {}: the service runs with an old \
                         or different key.",
                Self::describe_key(&key),
                Self::describe_key(expected)
            ))
            .fix(fix.to_string()),
            _ => Finding::new(id, Severity::Ok, format!("{what} provides the key"))
                .detail(format!("{origin} sets {}.", Self::describe_key(&key))),
        }
    }

    fn check_systemd(&self, requested: &str, out: &mut Vec<Finding>) {
        let scope = if self.options.systemd_user { Some(true) } else { None };
        let name = services::unit_name(requested);
        let fix_for = |user: bool| {
            format!("dashkey service install --systemd {name}{}", if user { " --user" } else { "" })
        };
        let unit = match services::find_unit(self.platform, &name, scope) {
            Ok(Some(unit)) => unit,
            Ok(None) => {
                let mut dirs = services::unit_search_path(self.platform, false);
                dirs.extend(services::unit_search_path(self.platform, true));
                let dirs: Vec<String> = shell::dedup(dirs)
                    .iter()
                    .filter(|d| d.is_dir())
                    .map(|d| self.show(d))
                    .collect();
                out.push(
                    Finding::new(
                        id::SERVICE_SYSTEMD,
                        Severity::Fail,
                        format!("no systemd unit named {name}"),
                    )
                    .detail(format!(
                        "Looked in {}.",
                        if dirs.is_empty() {
                            "no existing directory".to_string()
                        } else {
                            dirs.join(", ")
                        }
                    ))
                    .fix(format!(
                        "check the name: systemctl list-unit-files '{}*'",
                        name.trim_end_matches(".service")
                    )),
                );
                return;
            }
            Err(error) => {
                out.push(
                    Finding::new(
                        id::SERVICE_SYSTEMD,
                        Severity::Warn,
                        format!("cannot read the unit {name}"),
                    )
                    .detail(error.to_string())
                    .fix("run dashkey doctor as root to read it"),
                );
                return;
            }
        };
        let what = format!("the systemd unit {name}{}", if unit.user { " (user)" } else { "" });
        let fix = fix_for(unit.user);
        if unit.masked {
            out.push(
                Finding::new(id::SERVICE_SYSTEMD, Severity::Fail, format!("{what} is masked"))
                    .detail(format!(
                        "{} is empty or a link to /dev/null: the unit cannot start.",
                        self.show(&unit.path)
                    ))
                    .fix(format!(
                        "systemctl{} unmask {name}",
                        if unit.user { " --user" } else { "" }
                    )),
            );
            return;
        }
        let variable = unit.variable(vars::API_KEY);
        for file in &variable.files {
            match &file.state {
                EnvFileState::Missing if !file.optional => out.push(
                    Finding::new(
                        id::SERVICE_SYSTEMD,
                        Severity::Fail,
                        format!("{what} names an environment file that does not exist"),
                    )
                    .detail(format!(
                        "EnvironmentFile={} ({}) has no '-' prefix, so the unit fails to start \
                         without it.",
                        file.path.display(),
                        file.at
                    ))
                    .fix(fix.clone()),
                ),
                EnvFileState::Unreadable(kind) => out.push(
                    Finding::new(
                        id::SERVICE_SYSTEMD,
                        Severity::Warn,
                        format!(
                            "cannot read {}, an environment file of {name}",
                            file.path.display()
                        ),
                    )
                    .detail(format!("{}: {kind}; the key may be in it.", file.at))
                    .fix("run dashkey doctor as root to read it"),
                ),
                EnvFileState::Read { value: Some((value, _)), mode: Some(mode) }
                    if fsx::readable_by_others(*mode) && !value.is_empty() =>
                {
                    out.push(
                        Finding::new(
                            id::KEY_FILE_PERMS,
                            Severity::Warn,
                            format!(
                                "other users can read {} (mode {mode:04o})",
                                file.path.display()
                            ),
                        )
                        .detail(format!("It holds the key for {name}; keep such files 0600."))
                        .fix(format!("chmod 600 {}", file.path.display())),
                    );
                }
                _ => {}
            }
        }
        let finding = match (&variable.value, variable.unset, variable.passed) {
            (_, true, _) => Finding::new(
                id::SERVICE_SYSTEMD,
                Severity::Fail,
                format!("{what} removes DASHSCOPE_API_KEY"),
            )
            .detail("UnsetEnvironment= names it, so its processes never have it.")
            .fix(fix.clone()),
            (Some((value, origin)), _, _) => {
                let origin = match origin {
                    UnitOrigin::Environment(at) => format!("Environment= in {at}"),
                    UnitOrigin::EnvironmentFile(at) => format!("the environment file {at}"),
                };
                self.service_value(id::SERVICE_SYSTEMD, &what, value, &origin, &fix)
            }
            (None, _, true) => Finding::new(
                id::SERVICE_SYSTEMD,
                Severity::Warn,
                format!("{what} takes DASHSCOPE_API_KEY from the service manager"),
            )
            .detail(
                "PassEnvironment= names it, so it has the key only if the manager's own \
                 environment does (systemctl show-environment), which dashkey cannot see.",
            )
            .fix(fix.clone()),
            (None, _, false) => {
                let session = self.copy(PlaceKind::DesktopSession).and_then(Copy::value);
                match session {
                    Some(key) if unit.user && !key.is_empty() => Finding::new(
                        id::SERVICE_SYSTEMD,
                        Severity::Info,
                        format!("{what} gets the key from the user manager"),
                    )
                    .detail(format!(
                        "The user manager reads the desktop session file (environment.d, {}) at \
                         login and hands it to every user unit; a manager started before it was \
                         written needs a new login (or systemctl --user daemon-reexec).",
                        Self::describe_key(key)
                    )),
                    _ => Finding::new(
                        id::SERVICE_SYSTEMD,
                        Severity::Fail,
                        format!("{what} does not provide DASHSCOPE_API_KEY"),
                    )
                    .detail(format!(
                        "A service never reads shell startup files, and neither {} nor its \
                         drop-ins set the variable with Environment= or EnvironmentFile= (FAQ \
                         scenario 3).",
                        self.show(&unit.path)
                    ))
                    .fix(fix.clone()),
                }
            }
        };
        out.push(finding);
    }

    fn check_supervisord(&self, program: &str, out: &mut Vec<Finding>) {
        let procs = &self.host.procs;
        let explicit = self.options.supervisord_config.clone();
        // The running supervisords, with the configuration each uses.
        let running: Vec<(Process, PathBuf)> = procs
            .list()
            .into_iter()
            .filter_map(|process| {
                let args = procs.cmdline(process.pid)?;
                let is_supervisord = process.name == "supervisord"
                    || args.iter().take(2).any(|a| a.rsplit('/').next() == Some("supervisord"));
                if !is_supervisord {
                    return None;
                }
                let cwd = procs.cwd(process.pid).unwrap_or_else(|| PathBuf::from("/"));
                let config = match services::supervisor_config_argument(&args) {
                    Some(path) => cwd.join(path),
                    None => {
                        let exe =
                            args.iter().find(|a| a.ends_with("supervisord")).map(PathBuf::from);
                        services::supervisor_default_paths(exe.as_deref(), &cwd)
                            .into_iter()
                            .find(|p| p.exists())?
                    }
                };
                Some((process, config))
            })
            .collect();
        let env_names = |_: &str| true;
        let read = |path: &Path, env: Option<&BTreeMap<String, String>>| {
            let lookup = |name: &str| env.and_then(|e| e.get(name).cloned());
            SupervisorConfig::read(path, &lookup)
        };
        // Which configuration, and which running supervisord (for its environment).
        let mut chosen: Option<(PathBuf, Option<Process>)> = None;
        if let Some(path) = &explicit {
            let path = self.platform.resolve_path(&path.display().to_string());
            let process =
                running.iter().find(|(_, config)| same_file(config, &path)).map(|(p, _)| p.clone());
            chosen = Some((path, process));
        } else {
            for (process, config) in &running {
                let env = procs.environ(process.pid, env_names).ok();
                if read(config, env.as_ref()).is_ok_and(|c| c.program_section(program).is_some()) {
                    chosen = Some((config.clone(), Some(process.clone())));
                    break;
                }
            }
            if chosen.is_none() {
                chosen = services::supervisor_default_paths(None, self.platform.cwd())
                    .into_iter()
                    .find(|p| p.is_file())
                    .map(|p| (p, None));
            }
        }
        let what = format!("the supervisord program {program}");
        let Some((config_path, process)) = chosen else {
            out.push(
                Finding::new(
                    id::SERVICE_SUPERVISORD,
                    Severity::Fail,
                    "cannot find supervisord's configuration",
                )
                .detail(
                    "No running supervisord defines this program, and none of supervisord's \
                     default files (supervisord.conf here, /etc/supervisord.conf, \
                     /etc/supervisor/supervisord.conf) exists.",
                )
                .fix(format!(
                    "dashkey doctor --supervisord {program} -c /path/to/supervisord.conf"
                )),
            );
            return;
        };
        let default_conf =
            [Path::new("/etc/supervisor/supervisord.conf"), Path::new("/etc/supervisord.conf")]
                .contains(&config_path.as_path());
        let fix = if default_conf {
            format!("dashkey service install --supervisord {program}")
        } else {
            format!("dashkey service install --supervisord {program} -c {}", config_path.display())
        };
        // supervisord's own environment, when it runs and can be read.
        let (sup_env, sup_env_error) = match &process {
            Some(process) => match procs.environ(process.pid, env_names) {
                Ok(env) => (Some(env), None),
                Err(error) => (
                    None,
                    Some(format!(
                        "cannot read the environment of supervisord (pid {}): {error}",
                        process.pid
                    )),
                ),
            },
            None => (
                None,
                Some("supervisord is not running, so its environment is unknown".to_string()),
            ),
        };
        let config = match read(&config_path, sup_env.as_ref()) {
            Ok(config) => config,
            Err(error) => {
                out.push(
                    Finding::new(
                        id::SERVICE_SUPERVISORD,
                        Severity::Fail,
                        format!(
                            "cannot read supervisord's configuration {}",
                            config_path.display()
                        ),
                    )
                    .detail(error.to_string())
                    .fix(format!(
                        "dashkey doctor --supervisord {program} -c /path/to/supervisord.conf"
                    )),
                );
                return;
            }
        };
        let Some(section) = config.program_section(program) else {
            let known = config.programs();
            out.push(
                Finding::new(
                    id::SERVICE_SUPERVISORD,
                    Severity::Fail,
                    format!("no program {program} in {}", config_path.display()),
                )
                .detail(format!(
                    "Read {}; programs defined: {}.",
                    config
                        .files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ))
                .fix(format!(
                    "dashkey doctor --supervisord <program> -c {}",
                    config_path.display()
                )),
            );
            return;
        };
        let outer = |name: &str| sup_env.as_ref().and_then(|e| e.get(name).cloned());
        let global = config.environment("supervisord", &outer);
        let global_pairs = global.as_ref().map(Vec::as_slice).unwrap_or_default();
        let with_global = |name: &str| {
            global_pairs
                .iter()
                .rev()
                .find(|(k, _, _)| k == name)
                .map(|(_, v, _)| v.clone())
                .or_else(|| outer(name))
        };
        let own = config.environment(section, &with_global);
        for result in [&global, &own] {
            if let Err(error) = result {
                let unknown = matches!(error, services::EnvironmentError::Expand(services::ExpandError::Undefined(name)) if name.starts_with("ENV_"))
                    && sup_env.is_none();
                let finding = if unknown {
                    Finding::new(id::SERVICE_SUPERVISORD, Severity::Warn, format!("{what} takes the key from supervisord's environment"))
                        .detail(format!("Its environment= uses {error}, which comes from supervisord's own environment at start; {}.", sup_env_error.clone().unwrap_or_default()))
                        .fix(fix.clone())
                } else {
                    Finding::new(
                        id::SERVICE_SUPERVISORD,
                        Severity::Fail,
                        format!("supervisord refuses the environment= of {program}"),
                    )
                    .detail(format!("{error}: supervisord will not load this configuration."))
                    .fix(fix.clone())
                };
                out.push(finding);
                return;
            }
        }
        let own = own.unwrap_or_default();
        let found = own
            .iter()
            .rev()
            .find(|(k, _, _)| k == vars::API_KEY)
            .map(|(_, v, at)| (v.clone(), format!("environment= in {at}"), Some(at.clone())))
            .or_else(|| {
                global_pairs.iter().rev().find(|(k, _, _)| k == vars::API_KEY).map(|(_, v, at)| {
                    (v.clone(), format!("[supervisord] environment= in {at}"), Some(at.clone()))
                })
            })
            .or_else(|| {
                let process = process.as_ref()?;
                let value = sup_env.as_ref()?.get(vars::API_KEY)?.clone();
                Some((value, format!("supervisord's own environment (pid {})", process.pid), None))
            });
        match found {
            Some((value, origin, at)) => {
                if let Some(at) = at
                    && let Some(text) = config
                        .value(section, "environment")
                        .or_else(|| config.value("supervisord", "environment"))
                    && !text.text.contains("%(ENV_")
                    && let Some(mode) =
                        std::fs::metadata(&at.file).ok().as_ref().and_then(fsx::mode)
                    && fsx::readable_by_others(mode)
                    && !value.is_empty()
                {
                    out.push(
                        Finding::new(
                            id::KEY_FILE_PERMS,
                            Severity::Warn,
                            format!("other users can read {} (mode {mode:04o})", at.file.display()),
                        )
                        .detail(format!(
                            "It holds the key for {program} in plain text; keep such files 0600."
                        ))
                        .fix(format!("chmod 600 {}", at.file.display())),
                    );
                }
                out.push(self.service_value(id::SERVICE_SUPERVISORD, &what, &value, &origin, &fix));
            }
            None => {
                let unknown = sup_env.is_none();
                let (severity, also) = if unknown {
                    (Severity::Fail, format!(" ({})", sup_env_error.unwrap_or_default()))
                } else {
                    (Severity::Fail, String::new())
                };
                out.push(
                    Finding::new(id::SERVICE_SUPERVISORD, severity, format!("{what} does not get DASHSCOPE_API_KEY"))
                        .detail(format!(
                            "Neither [{section}] nor [supervisord] in {} sets it in environment=, and supervisord's own environment does not have it{also}: a supervised program never reads shell startup files (FAQ scenario 3).",
                            config_path.display()
                        ))
                        .fix(fix),
                );
            }
        }
    }

    // -- scenario 4: sudo ------------------------------------------------------------------

    fn check_sudo(&self, out: &mut Vec<Finding>) {
        let Some(invoker) = &self.sudo_user else { return };
        let user = self
            .platform
            .var_non_empty("USER")
            .or_else(|| self.platform.var_non_empty("LOGNAME"))
            .unwrap_or("the target user")
            .to_string();
        let has_key = self.env_key.as_ref().is_some_and(|key| !key.is_empty());
        if has_key {
            out.push(Finding::new(id::SUDO, Severity::Ok, "sudo kept DASHSCOPE_API_KEY").detail(
                format!(
                    "Running as {user} under sudo (from {invoker}) with the key in the environment."
                ),
            ));
        } else {
            let policy = EnvPolicy::read(&self.host.sudoers);
            let why = match &policy {
                Ok(policy) if !policy.env_reset => format!(
                    "{} turns env_reset off, so sudo passes the environment on: the shell that ran sudo did not have the key either.",
                    self.host.sudoers.display()
                ),
                Ok(policy) if policy.keeps(vars::API_KEY) => format!(
                    "{} keeps it (env_keep{}), so the shell that ran sudo did not have it either.",
                    self.host.sudoers.display(),
                    if policy.qualified { ", for some users" } else { "" }
                ),
                Ok(_) => format!(
                    "sudo resets the environment (env_reset) and keeps only the variables in env_keep; {} does not list DASHSCOPE_API_KEY.",
                    self.host.sudoers.display()
                ),
                Err(error) => format!(
                    "sudo resets the environment (env_reset, on by default) and keeps only the variables in env_keep (cannot read {}: {error}).",
                    self.host.sudoers.display()
                ),
            };
            let python = self.resolution(Sdk::Python);
            let (severity, also) = match python.key().filter(|k| !k.is_empty()) {
                Some(_) => (
                    Severity::Warn,
                    format!(" Only the Python and Java SDKs still find {user}'s own key file."),
                ),
                None => (Severity::Fail, String::new()),
            };
            out.push(
                Finding::new(id::SUDO, severity, format!("sudo dropped DASHSCOPE_API_KEY (running as {user}, from {invoker})"))
                    .detail(format!("{why}{also} (FAQ scenario 4)"))
                    .fix("sudo --preserve-env=DASHSCOPE_API_KEY <command>   (or: dashkey sudo -- <command>)"),
            );
        }
        if let (Some(home), Some(account)) = (self.platform.home(), self.platform.account_home())
            && home != account
        {
            out.push(
                Finding::new(id::SUDO, Severity::Warn, format!("HOME is not {user}'s home under sudo"))
                    .detail(format!(
                        "HOME is {} but {user}'s home is {}: the Python SDK reads {}/.dashscope/api_key, the Java SDK {}/.dashscope/api_key, and files the program writes land in another user's home.",
                        home.display(),
                        account.display(),
                        home.display(),
                        account.display()
                    ))
                    .fix("sudo -H --preserve-env=DASHSCOPE_API_KEY <command>   (-H sets HOME to the target user's)"),
            );
        }
    }

    // -- scenario 5: base URLs -------------------------------------------------------------

    fn check_base_urls(&self, out: &mut Vec<Finding>) {
        let before = out.len();
        let mut regions: Vec<(&'static str, String)> = Vec::new();
        let key_kind = self.resolution(Sdk::Python).key().map(ApiKey::kind);
        for (name, shape) in [
            (vars::HTTP_BASE_URL, ApiShape::Native),
            (vars::WEBSOCKET_BASE_URL, ApiShape::WebSocket),
            (vars::COMPATIBLE_BASE_URL, ApiShape::Compatible),
        ] {
            let Some(url) = self.platform.var(name) else { continue };
            let right = match shape {
                ApiShape::Native => Region::default_region().native_url(),
                ApiShape::WebSocket => Region::default_region().websocket_url(),
                ApiShape::Compatible => Region::default_region().compatible_url(),
            };
            let fail = |title: String, detail: String| {
                Finding::new(id::BASE_URL, Severity::Fail, title).detail(detail)
            };
            let endpoint = match Endpoint::parse(url) {
                Ok(endpoint) => endpoint,
                Err(UrlError::Empty) => {
                    out.push(
                        fail(format!("{name} is set but empty"), "The Python SDK then calls an empty URL and fails; unset it to use the default.".to_string())
                            .fix(format!("unset {name}")),
                    );
                    continue;
                }
                Err(error) => {
                    out.push(
                        fail(
                            format!("{name} is not a URL"),
                            format!("{error}; for example {right}."),
                        )
                        .fix(format!("export {name}='{right}'   (with your region's host)")),
                    );
                    continue;
                }
            };
            let secure = if shape == ApiShape::WebSocket { "wss" } else { "https" };
            if endpoint.scheme != secure {
                if endpoint.is_loopback() && (endpoint.scheme == "http" || endpoint.scheme == "ws")
                {
                    out.push(
                        Finding::new(
                            id::BASE_URL,
                            Severity::Info,
                            format!("{name} points at a local server ({})", endpoint.host),
                        )
                        .detail(
                            "Plain http is fine on loopback (a test server or a local gateway).",
                        ),
                    );
                } else {
                    out.push(
                        fail(format!("{name} does not use {secure}://"), format!("It starts with {}://: the key would travel unencrypted or the connection fails.", endpoint.scheme))
                            .fix(format!("export {name}='{secure}://{}{}'", endpoint.host, endpoint.path)),
                    );
                }
            }
            match endpoint.shape {
                Some(found) if found != shape => {
                    let wanted = match shape {
                        ApiShape::Native => "the native API (/api/v1)",
                        ApiShape::Compatible => "the OpenAI-compatible API (/compatible-mode/v1)",
                        ApiShape::WebSocket => "the WebSocket API (/api-ws/v1/inference)",
                    };
                    let fixed = format!("{}://{}{}", endpoint.scheme, endpoint.host, shape.path());
                    out.push(
                        fail(format!("{name} points at the {found}"), format!("{name} must name {wanted}; with the {found} URL every request answers 404 or fails."))
                            .fix(format!("export {name}='{fixed}'")),
                    );
                }
                None if endpoint.region != HostRegion::Custom => {
                    out.push(
                        Finding::new(
                            id::BASE_URL,
                            Severity::Warn,
                            format!("{name} has an unexpected path"),
                        )
                        .detail(format!(
                            "The path {:?} is not {}: requests will not reach the API.",
                            endpoint.path,
                            shape.path()
                        ))
                        .fix(format!(
                            "export {name}='{}://{}{}'",
                            endpoint.scheme,
                            endpoint.host,
                            shape.path()
                        )),
                    );
                }
                _ => {}
            }
            let wrong_api = endpoint.shape.is_some_and(|found| found != shape);
            if endpoint.trailing_slash && !wrong_api {
                out.push(
                    Finding::new(id::BASE_URL, Severity::Warn, format!("{name} ends with a slash"))
                        .detail("The Node SDK joins paths onto it and the doubled slash breaks its requests.")
                        .fix(format!("export {name}='{}'", url.trim_end_matches('/'))),
                );
            }
            match (&endpoint.region, key_kind) {
                (HostRegion::Coding { .. }, Some(kind)) if kind != KeyKind::CodingPlan => out.push(
                    fail(format!("{name} is a Coding Plan host, but the key is not a Coding Plan key"), "Coding Plan hosts accept only sk-sp- keys; a pay-as-you-go key gets 401 there.".to_string())
                        .fix(format!("unset {name}   (or use your region's host)")),
                ),
                (HostRegion::Public { .. } | HostRegion::Workspace { .. }, Some(KeyKind::CodingPlan)) => out.push(
                    fail(format!("{name} is a pay-as-you-go host, but the key is a Coding Plan key"), "Coding Plan keys (sk-sp-) work only on coding.dashscope.aliyuncs.com (or coding-intl.).".to_string())
                        .fix(format!("export {name}='https://coding-intl.dashscope.aliyuncs.com/v1'   (or coding. for China)")),
                ),
                _ => {}
            }
            if let Some(region) = endpoint.region.region_id() {
                regions.push((name, region.to_string()));
            }
        }
        let distinct: std::collections::BTreeSet<&str> =
            regions.iter().map(|(_, r)| r.as_str()).collect();
        if distinct.len() > 1 {
            let list: Vec<String> = regions.iter().map(|(n, r)| format!("{n} → {r}")).collect();
            out.push(
                Finding::new(
                    id::BASE_URL,
                    Severity::Fail,
                    "the base URL variables point at different regions",
                )
                .detail(format!(
                    "{}: a key works in exactly one region, so one of these APIs answers 401.",
                    list.join(", ")
                ))
                .fix("dashkey region <id>   (writes all three URLs for one region)"),
            );
        }
        if let Some(region) = self.platform.var_non_empty(vars::API_REGION) {
            if !WORKSPACE_REGIONS.contains(&region) {
                out.push(
                    Finding::new(
                        id::BASE_URL,
                        Severity::Warn,
                        format!("{} is not a known region ({region})", vars::API_REGION),
                    )
                    .detail(format!("Known: {}.", WORKSPACE_REGIONS.join(", ")))
                    .fix(format!("unset {}", vars::API_REGION)),
                );
            } else if region != crate::region::DEFAULT_REGION
                && self.platform.var_non_empty(vars::WORKSPACE_ID).is_none()
            {
                out.push(
                    Finding::new(
                        id::BASE_URL,
                        Severity::Fail,
                        format!(
                            "{} is {region} but {} is not set",
                            vars::API_REGION,
                            vars::WORKSPACE_ID
                        ),
                    )
                    .detail(
                        "The Python SDK then builds https://{workspace_id}.".to_string()
                            + region
                            + ".maas.aliyuncs.com and raises InputRequired.",
                    )
                    .fix(format!(
                        "export {}=<your workspace id>   (or unset {})",
                        vars::WORKSPACE_ID,
                        vars::API_REGION
                    )),
                );
            }
        }
        if out.len() == before {
            let urls = &self.resolution(Sdk::Python).urls;
            let region =
                resolve::region_of(urls).unwrap_or_else(|| "a custom endpoint".to_string());
            let any_set =
                [vars::HTTP_BASE_URL, vars::WEBSOCKET_BASE_URL, vars::COMPATIBLE_BASE_URL]
                    .iter()
                    .any(|name| self.platform.var(name).is_some());
            if any_set {
                out.push(
                    Finding::new(
                        id::BASE_URL,
                        Severity::Ok,
                        format!("the base URLs point at {region}"),
                    )
                    .detail(format!("The native API is {}.", urls.http.url)),
                );
            } else {
                out.push(
                    Finding::new(id::BASE_URL, Severity::Info, format!("no base URL is set: the SDKs call {region}"))
                        .detail("That is right for a key from China (Beijing); a key from another region fails there with 401 (dashkey doctor --online tells)."),
                );
            }
        }
    }

    fn check_online(&self, online: Online<'_>, out: &mut Vec<Finding>) {
        let python = self.resolution(Sdk::Python);
        let Some(found) = python.key().filter(|k| !k.is_empty()) else { return };
        // Check the key itself: padding and quotes are reported by their own findings.
        let key = ApiKey::parse(found.expose()).map(|p| p.key).unwrap_or_else(|_| found.clone());
        let Ok(probes) = online.prober.probe_all(&key, online.targets) else { return };
        let configured = verify::configured_region(&python.urls, online.targets);
        let accepted: Vec<&str> = probes
            .iter()
            .filter(|p| p.classification.is_accepted())
            .map(|p| p.target.region.as_str())
            .collect();
        let configured_accepts = configured.as_deref().map(|c| accepted.contains(&c));
        let name = |region: &str| {
            Region::find(region)
                .map_or_else(|| region.to_string(), |r| format!("{} ({region})", r.name))
        };
        let calls = configured.as_deref().map_or_else(|| python.urls.http.url.clone(), name);
        match verify::Verdict::of(&probes) {
            verify::Verdict::Accepted if configured_accepts == Some(true) => out.push(
                Finding::new(id::REGION_MISMATCH, Severity::Ok, format!("the key works in {calls}, where the SDKs send it"))
                    .detail(format!("Checked {} region(s) online.", probes.len())),
            ),
            verify::Verdict::Accepted => {
                let region = accepted.first().copied().unwrap_or_default();
                out.push(
                    Finding::new(id::REGION_MISMATCH, Severity::Fail, format!("the key works in {}, but the SDKs call {calls}", name(region)))
                        .detail(format!(
                            "A key works in exactly one region; {calls} answers 401 Invalid API-key provided for it (FAQ scenario 5)."
                        ))
                        .fix(format!("dashkey region {region}")),
                );
            }
            verify::Verdict::Rejected => out.push(
                Finding::new(id::KEY_REJECTED, Severity::Fail, "no region accepts the key")
                    .detail(format!(
                        "Every region that answered rejected {}: it is mistyped, incomplete or deleted{}.",
                        Self::describe_key(&key),
                        if key.kind() == KeyKind::CodingPlan { " (Coding Plan keys work only on the coding hosts)" } else { "" }
                    ))
                    .fix("copy the key again from the Model Studio console (API-KEY page), then dashkey set"),
            ),
            verify::Verdict::Unknown => out.push(
                Finding::new(id::REGION_MISMATCH, Severity::Info, "could not check the key online")
                    .detail("No region answered about the key (network, proxy or firewall); nothing is known to be wrong.")
                    .fix("dashkey verify   (later, or with HTTPS_PROXY set)"),
            ),
        }
    }

    // -- the value itself ------------------------------------------------------------------

    fn check_values(&self, out: &mut Vec<Finding>) {
        for copy in &self.copies {
            let Some(key) = copy.value() else { continue };
            let used = self.resolutions.iter().any(
                |r| matches!(&r.outcome, Outcome::Found { source, .. } if copy.is_source(source)),
            );
            let (label, fix) = match (&copy.kind, &copy.path) {
                (PlaceKind::Variable, _) => (
                    vars::API_KEY.to_string(),
                    "set it again without them (Windows: set DASHSCOPE_API_KEY=sk-... with no quotes), or store it cleanly: dashkey set".to_string(),
                ),
                (_, Some(path)) => (self.show(path), "write just the key into the file: dashkey set".to_string()),
                (_, None) => continue,
            };
            for problem in &copy.problems {
                if let PlaceProblem::Value(problem) = problem
                    && let Some(finding) = value_finding(problem, key, &label, used, &fix)
                {
                    out.push(finding);
                }
            }
        }
        for (path, assignment) in self.key_assignments() {
            let Some(key) = &assignment.value else { continue };
            let wins = self.sessions.iter().any(|&session| {
                self.startup
                    .events(session, vars::API_KEY)
                    .last()
                    .is_some_and(|event| event.location() == (path, assignment.line))
            });
            let label = format!("{}:{}", self.show(path), assignment.line);
            let fix = format!("fix {label}, or move the key out of it: dashkey set --migrate");
            for problem in key.problems() {
                if problem == ValueProblem::Empty {
                    continue;
                }
                if let Some(finding) = value_finding(&problem, key, &label, wins, &fix) {
                    out.push(finding);
                }
            }
        }
    }

    fn check_key_files(&self, out: &mut Vec<Finding>) {
        let python_failed = matches!(
            self.resolution(Sdk::Python).outcome,
            Outcome::Failed { source: Source::FilePathVariable { .. }, .. }
        );
        for copy in &self.copies {
            let shown = copy.path.as_deref().map(|p| self.show(p)).unwrap_or_default();
            for problem in &copy.problems {
                match problem {
                    PlaceProblem::EmptyShadowsFiles => {
                        let hidden = self
                            .copies
                            .iter()
                            .filter(|c| matches!(c.kind, PlaceKind::FilePathVariable | PlaceKind::SdkKeyFile))
                            .find(|c| c.value().is_some_and(|k| !k.is_empty()))
                            .and_then(|c| c.path.as_deref())
                            .map(|p| format!(" instead of reading {}", self.show(p)))
                            .unwrap_or_default();
                        out.push(
                            Finding::new(id::EMPTY_SHADOWS_FILE, Severity::Fail, "DASHSCOPE_API_KEY is set but empty")
                                .detail(format!("The Python and Java SDKs count an empty variable as set and send an empty key (401){hidden}; the Node SDK reports it missing."))
                                .fix("unset DASHSCOPE_API_KEY   (and remove the empty assignment where it comes from: a .env file, docker compose environment:, a startup file)"),
                        );
                    }
                    PlaceProblem::UnexpandedTilde => out.push(
                        Finding::new(id::KEY_FILE_PATH, if python_failed { Severity::Fail } else { Severity::Warn }, "DASHSCOPE_API_KEY_FILE_PATH starts with ~")
                            .detail("No SDK expands ~: the Python SDK fails with \"file not found\" (no fallback), the Java SDK silently falls back to ~/.dashscope/api_key.")
                            .fix("export DASHSCOPE_API_KEY_FILE_PATH=\"$HOME/...\"   (an absolute path)"),
                    ),
                    PlaceProblem::MissingFile if !copy.problems.contains(&PlaceProblem::UnexpandedTilde) => out.push(
                        Finding::new(id::KEY_FILE_PATH, if python_failed { Severity::Fail } else { Severity::Warn }, format!("DASHSCOPE_API_KEY_FILE_PATH names a missing file ({shown})"))
                            .detail("The Python SDK fails with \"file not found\" (no fallback); the Java SDK silently falls back to ~/.dashscope/api_key.")
                            .fix("unset DASHSCOPE_API_KEY_FILE_PATH   (or point it at the file that holds the key)"),
                    ),
                    PlaceProblem::ReadableByOthers { mode } => out.push(
                        Finding::new(id::KEY_FILE_PERMS, Severity::Warn, format!("other users can read {shown} (mode {mode:04o})"))
                            .detail("It holds the key; anyone with an account on this machine can copy it (dashscope auth login and save_api_key() create it with the default umask).")
                            .fix(format!("chmod 600 {shown}")),
                    ),
                    PlaceProblem::SeveralLines => out.push(
                        Finding::new(id::KEY_FILE_LINES, Severity::Warn, format!("{shown} has several lines"))
                            .detail("The Java SDK reads only the first line; the Python SDK reads the whole file, so the two send different keys.")
                            .fix("keep only the key in it: dashkey set (rewrites it)"),
                    ),
                    _ => {}
                }
            }
        }
    }

    // -- startup files ---------------------------------------------------------------------

    fn check_dotfiles(&self, out: &mut Vec<Finding>) {
        let assignments = self.key_assignments();
        let hooks: Vec<(&Path, usize)> = self
            .startup
            .files()
            .iter()
            .filter_map(|f| f.hook_line.map(|line| (f.path.as_path(), line)))
            .collect();
        let has_dashkey = self.stored_key.is_some() && !hooks.is_empty();

        // plaintext-in-dotfiles
        for (path, assignment) in &assignments {
            let Some(key) = &assignment.value else { continue };
            if key.is_empty()
                || key.problems().iter().any(|p| {
                    matches!(p, ValueProblem::Placeholder | ValueProblem::UnexpandedVariable)
                })
            {
                continue;
            }
            let repo = git_repository(path);
            let mode = std::fs::metadata(path).ok().as_ref().and_then(fsx::mode);
            let readable = mode
                .filter(|m| fsx::readable_by_others(*m))
                .map(|m| format!(" It is readable by other users (mode {m:04o})."))
                .unwrap_or_default();
            let (severity, where_) = match &repo {
                Some(repo) => (
                    Severity::Fail,
                    format!(
                        " It is in the git repository {}: if that is pushed, the key is public; rotate it in the console.",
                        self.show(repo)
                    ),
                ),
                None => {
                    (Severity::Warn, " Startup files are often published as dotfiles.".to_string())
                }
            };
            out.push(
                Finding::new(id::PLAINTEXT_IN_DOTFILES, severity, format!("{} holds the key in plain text (line {})", self.show(path), assignment.line))
                    .detail(format!("Line {} assigns {} literally.{where_}{readable}", assignment.line, Self::describe_key(key)))
                    .fix("dashkey set --migrate   (moves the key into a 0600 file dashkey owns, removing the line after a backup)"),
            );
        }

        // conflicting-assignments
        if assignments.len() + usize::from(has_dashkey) >= 2 {
            let value_text = |value: Option<&ApiKey>| {
                value.map_or_else(|| "a computed value".to_string(), Self::describe_key)
            };
            let mut places: Vec<String> = assignments
                .iter()
                .map(|(path, a)| {
                    format!("{}:{} = {}", self.show(path), a.line, value_text(a.value.as_ref()))
                })
                .collect();
            if has_dashkey {
                let count = hooks.len();
                places.push(format!(
                    "dashkey's hook ({count} startup file{}) = {}",
                    if count == 1 { "" } else { "s" },
                    value_text(self.stored_key.as_ref())
                ));
            }
            // Which line wins, with the sessions where it does.
            let mut wins: Vec<(String, Vec<&str>)> = Vec::new();
            let mut overridden = false;
            for &session in &self.sessions {
                let Some(last) = self.startup.events(session, vars::API_KEY).pop() else {
                    continue;
                };
                let (path, line) = last.location();
                let winner = match &last {
                    Event::Hook { .. } => "dashkey's hook".to_string(),
                    Event::Assignment { assignment, .. } => {
                        if let Some(stored) = &self.stored_key
                            && assignment.value.as_ref().is_none_or(|v| v != stored)
                        {
                            overridden = true;
                        }
                        format!("{}:{line}", self.show(path))
                    }
                };
                let name = session.describe();
                match wins.iter_mut().find(|(w, _)| *w == winner) {
                    Some((_, sessions)) => sessions.push(name),
                    None => wins.push((winner, vec![name])),
                }
            }
            let wins: Vec<String> = wins
                .into_iter()
                .map(|(winner, sessions)| format!("{winner} wins in {}", sessions.join(", ")))
                .collect();
            let mut fingerprints: Vec<Option<String>> = assignments
                .iter()
                .map(|(_, a)| a.value.as_ref().map(ApiKey::fingerprint))
                .collect();
            if has_dashkey {
                fingerprints.push(self.stored_key.as_ref().map(ApiKey::fingerprint));
            }
            fingerprints.sort();
            fingerprints.dedup();
            let differ =
                fingerprints.len() > 1 || fingerprints.first().is_some_and(Option::is_none);
            let (severity, why) = if overridden {
                (Severity::Fail, " A line read after dashkey's hook overrides the stored key.")
            } else if differ {
                (Severity::Warn, " They do not all hold the same key.")
            } else {
                (Severity::Info, "")
            };
            let wins = if wins.is_empty() {
                "No shell of yours reads any of them.".to_string()
            } else {
                format!("{}.", wins.join("; "))
            };
            out.push(
                Finding::new(
                    id::CONFLICTING_ASSIGNMENTS,
                    severity,
                    format!("DASHSCOPE_API_KEY is set in {} places", places.len()),
                )
                .detail(format!("{}.{why} {wins}", places.join(", ")))
                .fix("keep one: dashkey set --migrate   (removes the other assignments after a 0600 backup)"),
            );
        }

        // login-vs-interactive
        if self.sessions.is_empty() || (assignments.is_empty() && self.stored_key.is_none()) {
            return;
        }
        let (with, without): (Vec<Session>, Vec<Session>) = self
            .sessions
            .iter()
            .partition(|&&session| !self.startup.events(session, vars::API_KEY).is_empty());
        if without.is_empty() {
            return;
        }
        let missing: Vec<&str> = without.iter().map(|s| s.describe()).collect();
        if with.is_empty() {
            if self.stored_key.is_some() && assignments.is_empty() {
                out.push(
                    Finding::new(id::LOGIN_VS_INTERACTIVE, Severity::Warn, "no startup file loads dashkey's file")
                        .detail(format!("The key is stored, but none of your shells ({}) reads a file that loads it (dashkey set --no-modify-rc?).", missing.join(", ")))
                        .fix("dashkey set   (adds the guarded line to each shell's startup file)"),
                );
            } else {
                let files: Vec<String> = assignments
                    .iter()
                    .map(|(p, a)| format!("{}:{}", self.show(p), a.line))
                    .collect();
                out.push(
                    Finding::new(id::LOGIN_VS_INTERACTIVE, Severity::Warn, "none of your shells reads the file that sets the key")
                        .detail(format!("It is set in {}, which {} never read.", files.join(", "), missing.join(", ")))
                        .fix("dashkey set --migrate   (hooks the file each shell reads, and moves the assignment there)"),
                );
            }
            return;
        }
        let mut files: Vec<String> = Vec::new();
        for &session in &with {
            for event in self.startup.events(session, vars::API_KEY) {
                let (path, line) = event.location();
                let text = format!("{}:{line}", self.show(path));
                if !files.contains(&text) {
                    files.push(text);
                }
            }
        }
        out.push(
            Finding::new(id::LOGIN_VS_INTERACTIVE, Severity::Warn, format!("some of your shells never read {}", files.join(", ")))
                .detail(format!("The key is set only there, and {} never read that file, so programs started from them have no key.", missing.join(", ")))
                .fix(if self.stored_key.is_some() {
                    "dashkey set   (adds the guarded line to the file each shell reads)".to_string()
                } else {
                    "dashkey set --migrate   (hooks the file each shell reads, and moves the assignment there)".to_string()
                }),
        );
    }

    // -- what each SDK would do --------------------------------------------------------------

    fn check_sdks(&self, out: &mut Vec<Finding>) {
        let picks: Vec<(Sdk, Option<&ApiKey>)> =
            self.resolutions.iter().map(|r| (r.sdk, r.key().filter(|k| !k.is_empty()))).collect();
        let describe = |r: &Resolution| -> String {
            match &r.outcome {
                Outcome::Found { key, source } if !key.is_empty() => {
                    format!("{} from {}", Self::describe_key(key), self.describe_source(source))
                }
                Outcome::Found { source, .. } => {
                    format!("an empty key from {}", self.describe_source(source))
                }
                Outcome::Missing => match r.sdk {
                    Sdk::Node => "no key (it reads only DASHSCOPE_API_KEY)".to_string(),
                    _ => "no key".to_string(),
                },
                Outcome::Failed { source, failure } => {
                    format!("an error reading {} ({failure})", self.describe_source(source))
                }
            }
        };
        let all: Vec<String> = self
            .resolutions
            .iter()
            .map(|r| format!("{}: {}", r.sdk.name().trim_end_matches(" SDK"), describe(r)))
            .collect();
        let fix_missing =
            if self.env_key.is_none() && !self.persisted_in().is_empty() && !self.under_sudo() {
                format!("{}   (or open a new terminal)", self.load_line())
            } else {
                "dashkey set".to_string()
            };
        if picks.iter().all(|(_, key)| key.is_none()) {
            out.push(
                Finding::new(id::NO_KEY, Severity::Fail, "no SDK finds a key here")
                    .detail(format!("{}.", all.join("; ")))
                    .fix(fix_missing),
            );
            return;
        }
        let mut fingerprints: Vec<Option<String>> =
            picks.iter().map(|(_, k)| k.map(ApiKey::fingerprint)).collect();
        fingerprints.dedup();
        if fingerprints.len() == 1 {
            let key = picks[0].1.expect("all found");
            out.push(
                Finding::new(
                    id::SDK_DISAGREE,
                    Severity::Ok,
                    format!("the Python, Java and Node SDKs all use {}", Self::describe_key(key)),
                )
                .detail(format!("{}.", all.join("; "))),
            );
            return;
        }
        let missing = picks.iter().any(|(_, k)| k.is_none());
        out.push(
            Finding::new(
                id::SDK_DISAGREE,
                Severity::Fail,
                if missing {
                    "not every SDK finds a key here"
                } else {
                    "the SDKs would use different keys"
                },
            )
            .detail(format!("{}.", all.join("; ")))
            .fix(if missing {
                fix_missing
            } else {
                "store one key everywhere: printf '%s' \"$KEY\" | dashkey set --stdin".to_string()
            }),
        );
    }

    fn describe_source(&self, source: &Source) -> String {
        match source.path() {
            Some(path) => self.show(path),
            None => source.to_string(),
        }
    }
}

/// The shells this user really uses: the login shell, and every shell with a startup file of
/// its own. (`.profile` is shared, so it does not count for any shell.)
fn relevant_shells(platform: &Platform, startup: &Startup) -> Vec<Shell> {
    let mut shells: Vec<Shell> =
        platform.var("SHELL").and_then(Shell::from_name).into_iter().collect();
    let own: [(Shell, &[&str]); 6] = [
        (Shell::Bash, &[".bashrc", ".bash_profile", ".bash_login"]),
        (Shell::Zsh, &[".zshenv", ".zshrc", ".zprofile", ".zlogin"]),
        (Shell::Fish, &["config.fish", "dashkey.fish"]),
        (Shell::Tcsh, &[".tcshrc", ".cshrc", ".login"]),
        (Shell::Ksh, &[".kshrc"]),
        (Shell::Mksh, &[".mkshrc"]),
    ];
    for (shell, names) in own {
        let present = startup.files().iter().any(|file| {
            file.path.file_name().and_then(|n| n.to_str()).is_some_and(|n| names.contains(&n))
        });
        if present && !shells.contains(&shell) {
            shells.push(shell);
        }
    }
    shells
}

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

/// Which IDE (or notebook server) a process is, from its name and, for interpreters, its
/// command line.
fn ide_of(name: &str, cmdline: impl FnOnce() -> Vec<String>) -> Option<&'static str> {
    let base = name.strip_suffix(".sh").unwrap_or(name);
    let known = match base {
        "code" | "code-insiders" | "code-oss" | "codium" | "vscodium" => Some("VS Code"),
        "cursor" | "Cursor" => Some("Cursor"),
        "windsurf" | "Windsurf" => Some("Windsurf"),
        "pycharm" | "pycharm64" => Some("PyCharm"),
        "idea" | "idea64" => Some("IntelliJ IDEA"),
        "webstorm" => Some("WebStorm"),
        "goland" => Some("GoLand"),
        "clion" => Some("CLion"),
        "rider" => Some("Rider"),
        "datagrip" => Some("DataGrip"),
        "phpstorm" => Some("PhpStorm"),
        "rubymine" => Some("RubyMine"),
        "jupyter" | "jupyter-lab" | "jupyter-noteboo" | "jupyter-notebook" | "jupyter-server" => {
            Some("Jupyter")
        }
        _ => None,
    };
    if known.is_some() {
        return known;
    }
    let interpreter = name == "java" || name == "node" || name.starts_with("python");
    if !interpreter {
        return None;
    }
    let args = cmdline();
    let any = |needle: &str| args.iter().any(|a| a.contains(needle));
    if name == "java" {
        if any("idea.platform.prefix=Python") {
            return Some("PyCharm");
        }
        if any("com.intellij.idea.Main") || any("idea.paths.selector") {
            return Some("IntelliJ IDEA");
        }
        return None;
    }
    if any(".vscode-server") {
        return Some("VS Code Server");
    }
    if any(".cursor-server") {
        return Some("Cursor Server");
    }
    let jupyter = args.iter().take(3).any(|a| {
        let base = a.rsplit('/').next().unwrap_or(a);
        base.starts_with("jupyter")
    });
    jupyter.then_some("Jupyter")
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// The git repository a file (followed through symlinks) lives in.
fn git_repository(path: &Path) -> Option<PathBuf> {
    let real = path.canonicalize().ok()?;
    real.ancestors().skip(1).find(|dir| dir.join(".git").exists()).map(Path::to_path_buf)
}

/// The finding for one problem with a value found at `label`.
fn value_finding(
    problem: &ValueProblem,
    key: &ApiKey,
    label: &str,
    used: bool,
    fix: &str,
) -> Option<Finding> {
    let bad = if used { Severity::Fail } else { Severity::Warn };
    let used_text = if used {
        "An SDK uses this value as it is, so the service answers 401 Invalid API-key provided."
    } else {
        "No SDK uses this copy right now, but it is wrong."
    };
    let (id, severity, title) = match problem {
        ValueProblem::Empty => return None,
        ValueProblem::Placeholder => {
            (id::PLACEHOLDER, bad, format!("{label} is the documentation's placeholder, not a key"))
        }
        ValueProblem::Quoted => (id::QUOTED, bad, format!("quotes are part of the key in {label}")),
        ValueProblem::SurroundingWhitespace => {
            let cr = key.expose().ends_with('\r') || key.expose().contains("\r\n");
            let what = if cr { "a Windows line ending (CR)" } else { "spaces or line endings" };
            (id::WHITESPACE, bad, format!("the key in {label} has {what} around it"))
        }
        ValueProblem::UnexpandedVariable => {
            (id::UNEXPANDED_VARIABLE, bad, format!("{label} holds a variable name, not a key"))
        }
        ValueProblem::UnknownPrefix => (
            id::UNKNOWN_PREFIX,
            if used { Severity::Warn } else { Severity::Info },
            format!("the key in {label} does not start with sk-, sk-sp-, sk-ws- or st-"),
        ),
        ValueProblem::Malformed(_) => (id::MALFORMED, bad, format!("{label} cannot be a key")),
    };
    let detail = match problem {
        ValueProblem::UnknownPrefix => {
            "Check that it is a Model Studio API key (API-KEY page), not another service's."
                .to_string()
        }
        ValueProblem::Malformed(error) => format!("{} ({error}). {used_text}", key.mask()),
        other => format!("{} ({other}). {used_text}", key.mask()),
    };
    Some(Finding::new(id, severity, title).detail(detail).fix(fix.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Os;
    use std::fs;
    use std::time::Duration;

    const KEY: &str = "sk-0123456789abcdef0123456789abcdef";

    /// A home with dashkey's file, and a proc tree whose boot was `boot_ago` seconds ago.
    struct World {
        dir: tempfile::TempDir,
        platform: Platform,
    }

    impl World {
        fn new() -> World {
            let dir = tempfile::tempdir().unwrap();
            let home = dir.path().join("home");
            let owned = home.join(".config/dashkey/env.sh");
            fs::create_dir_all(owned.parent().unwrap()).unwrap();
            fs::write(&owned, shell::owned_file(Dialect::Posix, &[(vars::API_KEY, KEY)]).unwrap())
                .unwrap();
            let proc = dir.path().join("proc");
            fs::create_dir_all(&proc).unwrap();
            let boot = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() - 1000;
            fs::write(proc.join("stat"), format!("cpu 0\nbtime {boot}\n")).unwrap();
            let platform = Platform::simulated(
                Os::Linux,
                [("HOME", home.to_str().unwrap()), (vars::API_KEY, KEY)],
            );
            World { dir, platform }
        }

        /// A process started `after_boot` seconds after boot.
        fn process(&self, pid: u32, ppid: u32, name: &str, after_boot: u64, env: Option<&str>) {
            let dir = self.dir.path().join("proc").join(pid.to_string());
            fs::create_dir_all(&dir).unwrap();
            let ticks = after_boot * 100;
            let fields = format!("S {ppid} 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 {ticks} 0 0");
            fs::write(dir.join("stat"), format!("{pid} ({name}) {fields}\n")).unwrap();
            fs::write(dir.join("cmdline"), format!("{name}\0")).unwrap();
            match env {
                Some(env) => fs::write(dir.join("environ"), env.replace(';', "\0")).unwrap(),
                // A directory cannot be read as a file: the environment is unreadable.
                None => fs::create_dir(dir.join("environ")).unwrap(),
            }
        }

        fn diagnose(&self, options: &Options) -> Vec<Finding> {
            let host = Host {
                procs: ProcTable::at(self.dir.path().join("proc"), 100),
                sudoers: self.dir.path().join("sudoers"),
                uid: crate::procs::current_uid(),
            };
            diagnose(&self.platform, &host, options, None).unwrap()
        }
    }

    fn find<'f>(findings: &'f [Finding], id: &str) -> Vec<&'f Finding> {
        findings.iter().filter(|f| f.id == id).collect()
    }

    #[test]
    fn an_unreadable_process_started_before_the_key_was_written_is_a_warning() {
        let world = World::new();
        world.process(300, 1, "python3", 10, None);
        let options = Options { pids: vec![300], ..Options::default() };
        let findings = world.diagnose(&options);
        let stale = find(&findings, id::STALE_PROCESS);
        assert_eq!(stale.len(), 1, "{findings:#?}");
        assert_eq!(stale[0].severity, Severity::Warn);
        assert!(stale[0].title.contains("started before the key was stored"), "{stale:?}");
        assert!(stale[0].detail.contains("cannot read its environment"), "{stale:?}");
        assert!(stale[0].detail.contains("min after it started"), "{stale:?}");

        // Started after the write (in the future of this fixture): only a note.
        let world = World::new();
        world.process(301, 1, "python3", 2000, None);
        let findings = world.diagnose(&Options { pids: vec![301], ..Options::default() });
        assert_eq!(find(&findings, id::STALE_PROCESS)[0].severity, Severity::Info);
    }

    #[test]
    fn ides_are_found_once_per_tree_and_only_for_this_home() {
        let world = World::new();
        let home = world.platform.var("HOME").unwrap().to_string();
        let mine = format!("HOME={home};");
        world.process(100, 1, "code", 10, Some(&mine));
        world.process(101, 100, "code", 11, Some(&mine));
        world.process(200, 1, "cursor", 10, Some("HOME=/home/someone-else;"));
        world.process(400, 1, "jupyter-lab", 10, Some(&format!("{mine}DASHSCOPE_API_KEY={KEY};")));
        let findings = world.diagnose(&Options::default());
        let stale = find(&findings, id::STALE_PROCESS);
        assert_eq!(stale.len(), 2, "{stale:#?}");
        assert!(stale[0].title.starts_with("VS Code (pid 100,"), "{stale:?}");
        assert_eq!(stale[0].severity, Severity::Warn);
        assert!(stale[1].title.starts_with("Jupyter (pid 400,"), "{stale:?}");
        assert_eq!(stale[1].severity, Severity::Ok);
    }

    #[test]
    fn a_missing_pid_is_an_error() {
        let world = World::new();
        let options = Options { pids: vec![999_999], ..Options::default() };
        let host = Host {
            procs: ProcTable::at(world.dir.path().join("proc"), 100),
            sudoers: PathBuf::from("/nonexistent"),
            uid: None,
        };
        let error = diagnose(&world.platform, &host, &options, None).unwrap_err();
        assert_eq!(error, DoctorError::NoSuchProcess(999_999));
    }

    #[test]
    fn interpreters_are_classified_by_their_command_line() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(ide_of("pycharm.sh", Vec::new), Some("PyCharm"));
        assert_eq!(
            ide_of("java", || args(&["java", "-Didea.platform.prefix=Python", "x"])),
            Some("PyCharm")
        );
        assert_eq!(
            ide_of("java", || args(&["java", "com.intellij.idea.Main"])),
            Some("IntelliJ IDEA")
        );
        assert_eq!(ide_of("java", || args(&["java", "-jar", "app.jar"])), None);
        assert_eq!(
            ide_of("python3", || args(&["/usr/bin/python3", "/usr/local/bin/jupyter-notebook"])),
            Some("Jupyter")
        );
        assert_eq!(
            ide_of("node", || args(&["/home/a/.vscode-server/bin/x/node"])),
            Some("VS Code Server")
        );
        assert_eq!(ide_of("python3", || args(&["python3", "app.py"])), None);
        assert_eq!(ide_of("sleep", || panic!("no command line needed")), None);
    }

    #[test]
    fn times_are_utc_and_spans_are_short() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(UNIX_EPOCH + Duration::from_secs(1_795_711_895)), "2026-11-26 16:51:35 UTC");
        assert_eq!(utc(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29 00:00:00 UTC");
        assert_eq!(span(Duration::from_millis(400)), "0.4 s");
        assert_eq!(span(Duration::from_secs(750)), "13 min");
        assert_eq!(span(Duration::from_secs(7200)), "2 h");
        assert_eq!(span(Duration::from_secs(864_000)), "10 days");
    }

    #[test]
    fn findings_never_show_the_key() {
        let world = World::new();
        world.process(300, 1, "code", 10, Some(&format!("HOME=/x;DASHSCOPE_API_KEY={KEY};")));
        let findings = world.diagnose(&Options { pids: vec![300], ..Options::default() });
        let text = serde_json::to_string(&findings).unwrap();
        assert!(!text.contains(KEY), "{text}");
        assert!(text.contains("sk-…cdef"), "{text}");
    }
}
