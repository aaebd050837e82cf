//! Each launch context's environment, rebuilt from the files that give it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Coverage, Inputs, LaunchContext, exists_on};
use crate::platform::{Os, Platform};
use crate::shell::{self, Shell};
use crate::store::{PlaceKind, Stored};
use crate::vars;
use crate::world::read::{self, Cap};
use crate::world::startup::{Event, Session, Startup};
use crate::world::sudoers::EnvPolicy;

/// A context's environment, as a platform the SDK lookups can be replayed on.
pub(super) struct Built {
    pub platform: Platform,
    pub coverage: Coverage,
    pub given_by: Vec<String>,
}

/// Everything the contexts are built from, read once.
pub(super) struct World<'a> {
    platform: &'a Platform,
    /// dashkey's stored variables, when its `env.sh` exists (what a hook loads).
    stored: Option<&'a Stored>,
    startup: Startup,
    login_shell: Shell,
    inputs: &'a Inputs,
}

impl<'a> World<'a> {
    pub(super) fn read(
        platform: &'a Platform,
        stored: Option<&'a Stored>,
        inputs: &'a Inputs,
    ) -> World<'a> {
        let login_shell = platform.var("SHELL").and_then(Shell::from_name).unwrap_or(Shell::Bash);
        World { platform, stored, startup: Startup::read(platform), login_shell, inputs }
    }

    pub(super) fn environment(&self, context: LaunchContext) -> Option<Built> {
        let os = self.platform.os();
        if !exists_on(context, os) {
            return None;
        }
        Some(match context {
            LaunchContext::ThisProcess => Built {
                platform: self.platform.clone(),
                coverage: Coverage::Computed,
                given_by: vec!["this environment".to_string()],
            },
            LaunchContext::LoginShell => self.shell(login_session(self.login_shell), None),
            LaunchContext::InteractiveShell => {
                self.shell(interactive_session(self.login_shell), None)
            }
            LaunchContext::SshCommand => self.ssh(),
            LaunchContext::Desktop => self.desktop(),
            LaunchContext::UserService => {
                let mut built = self.desktop();
                if built.coverage == Coverage::Computed {
                    built.coverage = Coverage::Partial(
                        "each unit's own Environment= is not included (dashkey doctor \
                         --systemd UNIT --user checks one)"
                            .to_string(),
                    );
                }
                built
            }
            LaunchContext::Cron => self.cron(),
            LaunchContext::Sudo => self.sudo(),
        })
    }

    /// The variables every context of this user starts with: the home, the user name, and
    /// (taken from this environment, like `HOME`) the JVM's option variables, which can move
    /// Java's `user.home` and so its key file.
    fn base(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let names = [
            "HOME",
            "USER",
            "LOGNAME",
            "XDG_CONFIG_HOME",
            "JAVA_TOOL_OPTIONS",
            "JDK_JAVA_OPTIONS",
            "_JAVA_OPTIONS",
        ];
        for name in names {
            if let Some(value) = self.platform.var_non_empty(name) {
                env.insert(name.to_string(), value.to_string());
            }
        }
        env
    }

    fn built(
        &self,
        env: BTreeMap<String, String>,
        coverage: Coverage,
        given_by: Vec<String>,
    ) -> Built {
        Built { platform: self.platform.with_environment(env), coverage, given_by }
    }

    fn show(&self, path: &Path) -> String {
        self.platform.show_path(path)
    }

    /// A shell session: the base, then every assignment and dashkey hook the session meets
    /// (only those `keep` accepts), in order.
    fn shell(&self, session: Session, keep: Option<&dyn Fn(&Event) -> bool>) -> Built {
        let mut env = self.base();
        let given_by = self.replay(session, keep, &mut env);
        self.built(env, Coverage::Computed, given_by)
    }

    fn replay(
        &self,
        session: Session,
        keep: Option<&dyn Fn(&Event) -> bool>,
        env: &mut BTreeMap<String, String>,
    ) -> Vec<String> {
        let mut given_by = Vec::new();
        let mut note = |text: String| {
            if !given_by.contains(&text) {
                given_by.push(text);
            }
        };
        // The SDKs' variables, and the Coding Plan key dashkey exports beside them.
        for name in vars::ALL.into_iter().chain([vars::CODING_PLAN_API_KEY]) {
            for event in self.startup.events(session, name).iter() {
                if keep.is_some_and(|keep| !keep(event)) {
                    continue;
                }
                match event {
                    Event::Hook { path, .. } => {
                        if let Some(value) = self.stored.and_then(|s| s.get(name)) {
                            env.insert(name.to_string(), value.to_string());
                            note(format!("{} (dashkey's hook)", self.show(path)));
                        }
                    }
                    Event::Assignment { path, assignment } => {
                        if let Some(value) = &assignment.value {
                            env.insert(name.to_string(), value.expose().to_string());
                            note(format!("{}:{}", self.show(path), assignment.line));
                        }
                    }
                }
            }
        }
        given_by
    }

    /// `ssh host cmd` runs the login shell with `-c`: bash reads `.bashrc` (sshd's rule, as
    /// Debian builds it) up to a guard that returns from non-interactive shells, zsh reads
    /// `.zshenv`, fish and tcsh their usual files, sh, ksh and mksh nothing.
    fn ssh(&self) -> Built {
        match self.login_shell {
            Shell::Bash => {
                let bashrc = self.platform.home().map(|home| home.join(".bashrc"));
                let guard = bashrc.as_deref().and_then(guard_line);
                match (bashrc, guard) {
                    (Some(bashrc), Some(guard)) => {
                        // Only what `.bashrc` itself does before the guard; files it sources
                        // before the guard are not followed here.
                        let keep = move |event: &Event| {
                            let (path, line) = event.location();
                            path == bashrc && line < guard
                        };
                        let mut built = self.shell(Session::BashInteractive, Some(&keep));
                        built.coverage = Coverage::Partial(format!(
                            "~/.bashrc returns at line {guard} for non-interactive shells"
                        ));
                        built
                    }
                    _ => self.shell(Session::BashInteractive, None),
                }
            }
            Shell::Zsh => self.shell(Session::ZshScript, None),
            Shell::Fish => self.shell(Session::Fish, None),
            Shell::Tcsh => self.shell(Session::Tcsh, None),
            _ => self.built(self.base(), Coverage::Computed, Vec::new()),
        }
    }

    /// Desktop apps: environment.d on Linux; on macOS and Windows, the desktop store's
    /// file or record (the LaunchAgent publishes dashkey's stored variables at login; the
    /// registry holds them for every new program).
    fn desktop(&self) -> Built {
        let mut env = self.base();
        let mut given_by = Vec::new();
        match self.platform.os() {
            Os::Linux => {
                let (vars, files) = environment_d_vars(self.platform);
                env.extend(vars);
                given_by.extend(files.iter().map(|f| self.show(f)));
            }
            Os::MacOs | Os::Windows => {
                let copy = crate::store::scan(self.platform)
                    .into_iter()
                    .find(|copy| copy.kind == PlaceKind::DesktopSession);
                if let (Some(copy), Some(stored)) =
                    (copy.filter(|c| c.value().is_some()), self.stored)
                {
                    for (name, value) in &stored.vars {
                        env.insert(name.clone(), value.to_string());
                    }
                    given_by.push(
                        copy.path
                            .as_deref()
                            .map_or_else(|| "the registry".to_string(), |p| self.show(p)),
                    );
                }
            }
        }
        self.built(env, Coverage::Computed, given_by)
    }

    /// cron gives a job HOME, LOGNAME, SHELL=/bin/sh and a short PATH, then the crontab's
    /// own `NAME=value` lines; no startup file is read.
    fn cron(&self) -> Built {
        let mut env = self.base();
        env.insert("SHELL".to_string(), "/bin/sh".to_string());
        env.insert("PATH".to_string(), "/usr/bin:/bin".to_string());
        let mut given_by = Vec::new();
        let coverage = match &self.inputs.crontab {
            Some(text) => {
                let set: Vec<(String, String)> = super::crontab::variables(text)
                    .into_iter()
                    .filter(|(name, _)| name.starts_with("DASHSCOPE_"))
                    .collect();
                if !set.is_empty() {
                    given_by.push("the crontab".to_string());
                }
                env.extend(set);
                Coverage::Computed
            }
            None => Coverage::Partial(
                "the crontab was not read (no crontab program, or $HOME is not this account's \
                 home)"
                    .to_string(),
            ),
        };
        self.built(env, coverage, given_by)
    }

    /// `sudo cmd` from a terminal window: what sudo's policy keeps of that shell's
    /// environment, with the target user's home (root's own files are not read here).
    fn sudo(&self) -> Built {
        let terminal = self.shell(interactive_session(self.login_shell), None);
        let path = self.inputs.sudoers.clone().unwrap_or_else(|| PathBuf::from("/etc/sudoers"));
        let offered: Vec<(&str, &str)> =
            terminal.platform.vars().filter(|(name, _)| name.starts_with("DASHSCOPE_")).collect();
        // With nothing to keep, whether the policy is readable is all the reason needs.
        let (policy, unread) = if offered.is_empty() {
            (None, EnvPolicy::check(&path).err().map(|_| self.show(&path)))
        } else {
            match EnvPolicy::read(&path) {
                Ok(policy) => (Some(policy), None),
                Err(_) => (Some(EnvPolicy::default()), Some(self.show(&path))),
            }
        };
        let env: BTreeMap<String, String> = offered
            .into_iter()
            .filter(|(name, _)| policy.as_ref().is_some_and(|policy| policy.keeps(name)))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let reason = match unread {
            Some(file) => format!(
                "{file} could not be read (sudo's defaults assumed: env_reset, nothing kept); \
                 root's own key files are not read"
            ),
            None => "root's own key files are not read".to_string(),
        };
        let given_by = if env.is_empty() { Vec::new() } else { terminal.given_by };
        Built {
            platform: self.platform.with_environment(env).with_account_home(None),
            coverage: Coverage::Partial(reason),
            given_by,
        }
    }
}

/// The session a login shell of this kind starts.
fn login_session(shell: Shell) -> Session {
    match shell {
        Shell::Zsh => Session::ZshLogin,
        Shell::Fish => Session::Fish,
        Shell::Tcsh => Session::TcshLogin,
        Shell::Ksh => Session::KshLogin,
        Shell::Mksh => Session::MkshLogin,
        Shell::Sh => Session::ShLogin,
        _ => Session::BashLogin,
    }
}

/// The session a terminal window of this login shell starts.
fn interactive_session(shell: Shell) -> Session {
    match shell {
        Shell::Zsh => Session::ZshInteractive,
        Shell::Fish => Session::Fish,
        Shell::Tcsh => Session::Tcsh,
        Shell::Ksh => Session::KshInteractive,
        Shell::Mksh => Session::MkshInteractive,
        Shell::Sh => Session::ShLogin,
        _ => Session::BashInteractive,
    }
}

/// The line of `.bashrc`'s non-interactive guard, when its first command (outside dashkey's
/// block) is one.
fn guard_line(bashrc: &Path) -> Option<usize> {
    let text = read::read_text(bashrc, Cap::STARTUP).ok()?;
    crate::shell::block::lines_outside(&text)
        .map(|(number, line)| (number, line.trim()))
        .find(|(_, code)| !code.is_empty() && !code.starts_with('#'))
        .filter(|(_, code)| shell::is_interactive_guard(code))
        .map(|(number, _)| number)
}

/// The variables the user's `environment.d` files set (`~/.config/environment.d/*.conf`, in
/// name order, later files winning), and the files that set any DashScope variable.
pub fn environment_d_vars(platform: &Platform) -> (Vec<(String, String)>, Vec<PathBuf>) {
    let Some(dir) = platform.config_dir().map(|d| d.join("environment.d")) else {
        return (Vec::new(), Vec::new());
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "conf"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut setting = Vec::new();
    for file in files {
        let Ok(text) = read::read_text(&file, Cap::CONFIG) else { continue };
        let mut any = false;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else { continue };
            if name.starts_with("DASHSCOPE_") || name == vars::CODING_PLAN_API_KEY {
                vars.insert(name.to_string(), unescape(value));
                any = true;
            }
        }
        if any {
            setting.push(file);
        }
    }
    (vars.into_iter().collect(), setting)
}

/// environment.d's backslash escapes, as `store::desktop::environment_d` writes them.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// The same platform without one variable.
pub(super) fn without_var(platform: &Platform, name: &str) -> Platform {
    let vars: Vec<(String, String)> = platform
        .vars()
        .filter(|(n, _)| *n != name)
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    platform.clone().with_vars(vars)
}
