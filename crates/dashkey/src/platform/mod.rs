//! The one place that knows which OS this is, where home is, and what the environment says.
//!
//! Everything else in dashkey receives a [`Platform`] instead of calling `std::env` or
//! guessing paths. That is what lets the tests build a macOS or Windows layout inside a
//! temporary directory on Linux, and what guarantees no test reads the real home directory:
//! a simulated platform knows only the variables it was given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::vars;

/// Makes writing to a closed pipe an error (`EPIPE`) instead of a silent death by SIGPIPE, as
/// Rust's own start-up does: the binary starts without it (see its `main`), and a report piped
/// into `head` should end like any other write error.
pub fn ignore_broken_pipe_signal() {
    sys::ignore_broken_pipe_signal();
}

/// Operating-system families whose conventions differ for dashkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Os {
    /// Linux and the other XDG-style Unixes.
    Linux,
    /// macOS.
    MacOs,
    /// Windows.
    Windows,
}

impl Os {
    /// The OS this binary was built for.
    pub fn host() -> Os {
        sys::host_os()
    }
}

/// A snapshot of the process context dashkey reasons about.
///
/// Its `Debug` lists variable names only: the environment usually holds the key.
#[derive(Clone)]
pub struct Platform {
    os: Os,
    vars: BTreeMap<String, String>,
    account_home: Option<PathBuf>,
    cwd: PathBuf,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("os", &self.os)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("account_home", &self.account_home)
            .field("cwd", &self.cwd)
            .finish()
    }
}

impl Platform {
    /// The real process: its OS, environment, working directory, and the home directory
    /// recorded for its user in the account database (which Java uses instead of `$HOME`).
    pub fn current() -> Platform {
        Platform {
            os: Os::host(),
            vars: std::env::vars_os()
                .map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()))
                .collect(),
            account_home: sys::account_home(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }

    /// A made-up context for tests and for reasoning about another process: only the given
    /// variables exist, and the account-database home is taken to be `$HOME` (or
    /// `%USERPROFILE%`) unless [`Platform::with_account_home`] says otherwise.
    pub fn simulated<K, V>(os: Os, vars: impl IntoIterator<Item = (K, V)>) -> Platform
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut platform = Platform {
            os,
            vars: vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            account_home: None,
            cwd: PathBuf::from("/"),
        };
        platform.account_home = platform.home();
        platform
    }

    /// This platform with exactly `vars` as its environment, without copying the current
    /// one first (the launch-context matrix builds one per context on every `status`).
    pub fn with_environment(&self, vars: BTreeMap<String, String>) -> Platform {
        Platform {
            os: self.os,
            vars,
            account_home: self.account_home.clone(),
            cwd: self.cwd.clone(),
        }
    }

    /// Replaces the home directory of the account database.
    pub fn with_account_home(mut self, home: Option<PathBuf>) -> Platform {
        self.account_home = home;
        self
    }

    /// Replaces the working directory that relative paths are resolved against.
    pub fn with_cwd(mut self, cwd: impl Into<PathBuf>) -> Platform {
        self.cwd = cwd.into();
        self
    }

    /// The same platform with a different environment (for example another process's).
    pub fn with_vars<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Platform
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.vars = vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        self
    }

    /// Under `sudo`, the user who ran it, with their home: where their stored key lives.
    /// `None` when not running as root under sudo, or when that user is unknown.
    pub fn sudo_invoker(&self) -> Option<Platform> {
        if !sys::is_root() {
            return None;
        }
        let user = self.var_non_empty("SUDO_USER").filter(|u| *u != "root")?;
        let home = sys::home_of(user)?;
        let mut vars = self.vars.clone();
        vars.insert("HOME".to_string(), home.display().to_string());
        vars.insert("USER".to_string(), user.to_string());
        vars.remove("XDG_CONFIG_HOME");
        Some(Platform { vars, account_home: Some(home), ..self.clone() })
    }

    /// Whether the home directory is one a command may write into, and whose it is.
    ///
    /// On Unix, `$HOME` must be set to an absolute path (an unset or empty one would
    /// silently fall back to the account database, a relative one would land wherever the
    /// command runs). Under sudo (root, with `SUDO_UID` of another user), files root creates
    /// would be owned by root: in the user's home (`sudo -E`) that breaks their own SDK and
    /// `dashkey unset`, and in root's home (plain `sudo`) the key is stored for the wrong
    /// person. Both are reported, with whose home it is, for the caller to refuse.
    ///
    /// # Errors
    ///
    /// A [`HomeProblem`] saying what is wrong.
    pub fn writable_home(&self) -> Result<PathBuf, HomeProblem> {
        if self.os == Os::Windows {
            return self.home().ok_or(HomeProblem::Unset);
        }
        let home = match self.var("HOME") {
            None => return Err(HomeProblem::Unset),
            Some("") => return Err(HomeProblem::Empty),
            Some(home) if !Path::new(home).is_absolute() => {
                return Err(HomeProblem::Relative { home: PathBuf::from(home) });
            }
            Some(home) => PathBuf::from(home),
        };
        if let Some(uid) = self.sudo_uid() {
            let user = self
                .var_non_empty("SUDO_USER")
                .map_or_else(|| format!("uid {uid}"), str::to_string);
            let problem = if sys::owner_of(&home) == Some(uid) {
                HomeProblem::SudoInUserHome { user, uid, home }
            } else {
                HomeProblem::SudoInOtherHome { user, uid, home }
            };
            return Err(problem);
        }
        Ok(home)
    }

    /// The home a reading command uses when `$HOME` does not say (unset or empty): the
    /// account database's, returned so that the caller can tell the user. `None` when `$HOME`
    /// is set, or on Windows.
    pub fn home_fallback(&self) -> Option<PathBuf> {
        if self.os == Os::Windows || self.var_non_empty("HOME").is_some() {
            return None;
        }
        self.account_home.clone()
    }

    /// Under sudo as root, the invoking user's uid (`SUDO_UID`), unless that is root too.
    pub fn sudo_uid(&self) -> Option<u32> {
        if !sys::is_root() {
            return None;
        }
        self.var_non_empty("SUDO_UID")?.parse::<u32>().ok().filter(|uid| *uid != 0)
    }

    /// Whether this process runs with administrator rights (root).
    pub fn is_root(&self) -> bool {
        sys::is_root()
    }

    /// Which OS conventions apply.
    pub fn os(&self) -> Os {
        self.os
    }

    /// A variable, exactly as set (an empty value is `Some("")`, which matters: several SDKs
    /// treat an empty key as a key).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// A variable, with an empty value treated as unset (the convention for paths).
    pub fn var_non_empty(&self, name: &str) -> Option<&str> {
        self.var(name).filter(|value| !value.is_empty())
    }

    /// Every variable, for handing this environment to a child process.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A program found on this platform's `PATH`, as a shell would find it.
    pub fn find_program(&self, name: &str) -> Option<PathBuf> {
        let separator = if self.os == Os::Windows { ';' } else { ':' };
        self.var_non_empty("PATH")?
            .split(separator)
            .filter(|dir| !dir.is_empty())
            .map(|dir| Path::new(dir).join(name))
            .find(|candidate| candidate.is_file())
    }

    /// The DashScope variables that are set, in report order.
    pub fn dashscope_vars(&self) -> impl Iterator<Item = (&'static str, &str)> {
        vars::ALL.into_iter().filter_map(|name| self.var(name).map(|value| (name, value)))
    }

    /// The working directory.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// The user's home as programs that honour the environment see it: `$HOME` on Unix,
    /// `%USERPROFILE%` on Windows.
    pub fn home(&self) -> Option<PathBuf> {
        match self.os {
            Os::Windows => self.var_non_empty("USERPROFILE").map(PathBuf::from).or_else(|| {
                let drive = self.var_non_empty("HOMEDRIVE")?;
                let path = self.var_non_empty("HOMEPATH")?;
                Some(PathBuf::from(format!("{drive}{path}")))
            }),
            Os::Linux | Os::MacOs => {
                self.var_non_empty("HOME").map(PathBuf::from).or_else(|| self.account_home.clone())
            }
        }
    }

    /// The home directory recorded for this user in the account database, which is what the
    /// JVM uses for `user.home` on Unix regardless of `$HOME`.
    pub fn account_home(&self) -> Option<&Path> {
        self.account_home.as_deref()
    }

    /// The directory for user configuration: `$XDG_CONFIG_HOME` when it is a non-empty
    /// absolute path (an empty value counts as unset, per the XDG spec), else `~/.config`;
    /// `%APPDATA%` on Windows. macOS follows XDG too, as most command-line tools there do.
    pub fn config_dir(&self) -> Option<PathBuf> {
        match self.os {
            Os::Windows => self.var_non_empty("APPDATA").map(PathBuf::from),
            Os::Linux | Os::MacOs => self
                .var_non_empty("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .filter(|path| path.is_absolute())
                .or_else(|| self.home().map(|home| home.join(".config"))),
        }
    }

    /// dashkey's own directory, which holds the files it owns.
    pub fn dashkey_dir(&self) -> Option<PathBuf> {
        self.config_dir().map(|dir| dir.join("dashkey"))
    }

    /// A path as the user would type it: `~/…` under the home directory, else as it is.
    pub fn show_path(&self, path: &Path) -> String {
        if let Some(home) = self.home()
            && let Ok(rest) = path.strip_prefix(&home)
        {
            if rest.as_os_str().is_empty() {
                return "~".to_string();
            }
            return format!("~/{}", rest.display());
        }
        path.display().to_string()
    }

    /// A path as a program running here would open it: relative paths are relative to the
    /// working directory, and `~` is *not* expanded (no SDK expands it).
    pub fn resolve_path(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        if path.is_absolute() { path.to_path_buf() } else { self.cwd.join(path) }
    }
}

/// Why a command must not write into the home directory it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HomeProblem {
    /// `$HOME` is not set.
    #[error("HOME is not set")]
    Unset,
    /// `$HOME` is set to the empty string.
    #[error("HOME is empty")]
    Empty,
    /// `$HOME` is a relative path.
    #[error("HOME is a relative path: {}", home.display())]
    Relative {
        /// The value of `$HOME`.
        home: PathBuf,
    },
    /// Root under sudo, with `$HOME` still the invoking user's (`sudo -E`).
    #[error("running as root under sudo in {user}'s home {}", home.display())]
    SudoInUserHome {
        /// `SUDO_USER`, or `uid N`.
        user: String,
        /// `SUDO_UID`.
        uid: u32,
        /// The home directory.
        home: PathBuf,
    },
    /// Root under sudo, in a home that is not the invoking user's (root's, usually).
    #[error("running as root under sudo: {} is not {user}'s home", home.display())]
    SudoInOtherHome {
        /// `SUDO_USER`, or `uid N`.
        user: String,
        /// `SUDO_UID`.
        uid: u32,
        /// The home directory.
        home: PathBuf,
    },
}

#[cfg(unix)]
#[path = "unix.rs"]
mod sys;
#[cfg(not(unix))]
#[path = "windows.rs"]
mod sys;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_config_dir_honours_xdg_but_not_empty_or_relative() {
        let base = [("HOME", "/home/ana")];
        let p = Platform::simulated(Os::Linux, base);
        assert_eq!(p.dashkey_dir().unwrap(), Path::new("/home/ana/.config/dashkey"));
        let p = Platform::simulated(Os::Linux, [("HOME", "/home/ana"), ("XDG_CONFIG_HOME", "")]);
        assert_eq!(p.config_dir().unwrap(), Path::new("/home/ana/.config"));
        let p = Platform::simulated(Os::Linux, [("HOME", "/home/ana"), ("XDG_CONFIG_HOME", "rel")]);
        assert_eq!(p.config_dir().unwrap(), Path::new("/home/ana/.config"));
        let p = Platform::simulated(Os::Linux, [("HOME", "/h"), ("XDG_CONFIG_HOME", "/x")]);
        assert_eq!(p.dashkey_dir().unwrap(), Path::new("/x/dashkey"));
    }

    #[test]
    fn windows_uses_userprofile_and_appdata() {
        let p = Platform::simulated(
            Os::Windows,
            [("USERPROFILE", "C:\\Users\\ana"), ("APPDATA", "C:\\Users\\ana\\AppData\\Roaming")],
        );
        assert_eq!(p.home().unwrap(), PathBuf::from("C:\\Users\\ana"));
        assert_eq!(p.config_dir().unwrap(), PathBuf::from("C:\\Users\\ana\\AppData\\Roaming"));
        let p = Platform::simulated(Os::Windows, [("HOMEDRIVE", "D:"), ("HOMEPATH", "\\ana")]);
        assert_eq!(p.home().unwrap(), PathBuf::from("D:\\ana"));
    }

    #[test]
    fn empty_values_are_kept_for_keys_and_dropped_for_paths() {
        let p = Platform::simulated(Os::Linux, [(vars::API_KEY, ""), ("HOME", "")]);
        assert_eq!(p.var(vars::API_KEY), Some(""));
        assert_eq!(p.var_non_empty(vars::API_KEY), None);
        assert_eq!(p.home(), None);
    }

    #[test]
    fn debug_shows_variable_names_but_never_values() {
        let p = Platform::simulated(Os::Linux, [(vars::API_KEY, "sk-secret-value-1234")]);
        let shown = format!("{p:?}");
        assert!(shown.contains("DASHSCOPE_API_KEY") && !shown.contains("secret-value"));
    }

    #[test]
    fn simulated_platform_never_sees_the_real_environment() {
        let p = Platform::simulated(Os::Linux, [("A", "1")]);
        assert_eq!(p.var("PATH"), None);
        assert_eq!(p.dashscope_vars().count(), 0);
    }
}
