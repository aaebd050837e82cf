//! Desktop sessions: where apps started from a launcher, a dock or the Start menu get their
//! environment. They never read `~/.bashrc`, which is why an IDE says "No api key provided"
//! while the terminal is fine (FAQ scenarios 1 and 2).
//!
//! - **Linux**: `~/.config/environment.d/60-dashkey.conf`, read by the systemd user manager
//!   at the next login and handed to everything it starts.
//! - **macOS**: `launchctl setenv` for the running session, and a LaunchAgent that repeats it
//!   at each login. The agent reads the key from dashkey's own file, so the plist holds no
//!   secret; `launchctl` itself only accepts the value as an argument, which is a known
//!   limitation of launchd (see README).
//! - **Windows**: `HKCU\Environment`, the per-user environment every new program inherits,
//!   followed by the `WM_SETTINGCHANGE` broadcast that tells Explorer to reload it.
//!
//! The file contents are computed here for every OS and unit-tested on Linux. The calls that
//! only exist on one OS (registry, broadcast, launchctl) sit behind [`SessionEnv`], with
//! one `cfg` module per OS exporting the same function.

use std::path::{Path, PathBuf};

use crate::platform::{Os, Platform};

/// Name of the Linux environment.d drop-in.
pub const ENVIRONMENT_D_NAME: &str = "60-dashkey.conf";
/// Label of the macOS LaunchAgent.
pub const LAUNCH_AGENT_LABEL: &str = "io.dashkey.environment";

/// The desktop session file dashkey writes on this platform, if any.
pub fn session_file(platform: &Platform) -> Option<PathBuf> {
    match platform.os() {
        Os::Linux => {
            platform.config_dir().map(|dir| dir.join("environment.d").join(ENVIRONMENT_D_NAME))
        }
        Os::MacOs => platform.home().map(|home| {
            home.join("Library/LaunchAgents").join(format!("{LAUNCH_AGENT_LABEL}.plist"))
        }),
        Os::Windows => None,
    }
}

/// Whether this Linux user has a graphical or systemd user session that would read
/// environment.d (a server reached over SSH has neither, and gets no desktop file).
pub fn linux_session_present(platform: &Platform) -> bool {
    let desktop = ["XDG_CURRENT_DESKTOP", "DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| platform.var_non_empty(name).is_some());
    let systemd_user = platform
        .var_non_empty("XDG_RUNTIME_DIR")
        .is_some_and(|dir| Path::new(dir).join("systemd").is_dir());
    desktop || systemd_user
}

/// The environment.d file: `NAME=value` lines, with `\`, `$` and quotes escaped because
/// systemd expands and unquotes them.
pub fn environment_d(vars: &[(&str, &str)]) -> String {
    let mut out = String::from(
        "# Written by dashkey for desktop sessions (read at login). Remove with `dashkey unset`.\n",
    );
    for (name, value) in vars {
        let mut escaped = String::with_capacity(value.len());
        for c in value.chars() {
            if matches!(c, '\\' | '$' | '"' | '\'' | '`') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        out.push_str(&format!("{name}={escaped}\n"));
    }
    out
}

/// The macOS LaunchAgent: at login, load dashkey's `env.sh` and publish each variable to
/// launchd. The plist names the file, never the key.
pub fn launch_agent(env_sh: &Path, names: &[&str]) -> String {
    let mut script = format!(". {}", crate::shell::quote_posix(&env_sh.display().to_string()));
    for name in names {
        script.push_str(&format!(" && /bin/launchctl setenv {name} \"${name}\""));
    }
    let escaped = script.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{LAUNCH_AGENT_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
    <string>/bin/sh</string>
    <string>-c</string>
    <string>{escaped}</string>
  </array>
  <key>RunAtLoad</key>
  <true/>
</dict>
</plist>
"#
    )
}

/// A session failed to take a variable.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {name} in the {store}: {detail}")]
pub struct SessionError {
    /// What was being done.
    pub op: &'static str,
    /// The variable.
    pub name: String,
    /// Which store ("Windows registry (HKCU\\Environment)", "launchd session").
    pub store: &'static str,
    /// What went wrong (never the value).
    pub detail: String,
}

/// A per-user environment outside of files: the Windows registry, the launchd session.
pub trait SessionEnv {
    /// The current value, if set.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store cannot be read.
    fn get(&self, name: &str) -> Result<Option<String>, SessionError>;
    /// Sets a value.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store refuses.
    fn set(&mut self, name: &str, value: &str) -> Result<(), SessionError>;
    /// Removes a value; absent is fine.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store refuses.
    fn remove(&mut self, name: &str) -> Result<(), SessionError>;
    /// Tells running programs that the environment changed, waiting a bounded time.
    fn announce(&mut self) {}
}

/// An in-memory session, standing in for the registry in tests on any OS, and the session
/// of an OS that has none. Its `Debug` shows names only.
#[derive(Default, Clone)]
pub struct MemorySession {
    /// The variables.
    pub vars: std::collections::BTreeMap<String, String>,
    /// How many times [`SessionEnv::announce`] was called.
    pub announcements: usize,
}

impl std::fmt::Debug for MemorySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySession")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("announcements", &self.announcements)
            .finish()
    }
}

impl SessionEnv for MemorySession {
    fn get(&self, name: &str) -> Result<Option<String>, SessionError> {
        Ok(self.vars.get(name).cloned())
    }
    fn set(&mut self, name: &str, value: &str) -> Result<(), SessionError> {
        self.vars.insert(name.to_string(), value.to_string());
        Ok(())
    }
    fn remove(&mut self, name: &str) -> Result<(), SessionError> {
        self.vars.remove(name);
        Ok(())
    }
    fn announce(&mut self) {
        self.announcements += 1;
    }
}

/// The real session store of the OS this binary runs on, when it has one that dashkey
/// writes (Windows registry, macOS launchd). Linux uses the environment.d file instead.
pub fn native_session() -> Option<Box<dyn SessionEnv>> {
    sys::native_session()
}

#[cfg(windows)]
mod sys {
    //! `HKCU\Environment` through the `windows-registry` crate, and the settings broadcast.
    #![allow(unsafe_code)]

    use super::{SessionEnv, SessionError};

    const STORE: &str = "Windows registry (HKCU\\Environment)";

    struct Registry;

    fn error(op: &'static str, name: &str, e: impl std::fmt::Display) -> SessionError {
        SessionError { op, name: name.to_string(), store: STORE, detail: e.to_string() }
    }

    impl SessionEnv for Registry {
        fn get(&self, name: &str) -> Result<Option<String>, SessionError> {
            let key = windows_registry::CURRENT_USER
                .open("Environment")
                .map_err(|e| error("read", name, e))?;
            Ok(key.get_string(name).ok())
        }

        fn set(&mut self, name: &str, value: &str) -> Result<(), SessionError> {
            // REG_SZ, written directly: never `setx`, which truncates at 1024 characters
            // and would put the value on a command line.
            let key = windows_registry::CURRENT_USER
                .create("Environment")
                .map_err(|e| error("open", name, e))?;
            key.set_string(name, value).map_err(|e| error("set", name, e))
        }

        fn remove(&mut self, name: &str) -> Result<(), SessionError> {
            let key = windows_registry::CURRENT_USER
                .create("Environment")
                .map_err(|e| error("open", name, e))?;
            match key.get_string(name) {
                Ok(_) => key.remove_value(name).map_err(|e| error("remove", name, e)),
                Err(_) => Ok(()),
            }
        }

        fn announce(&mut self) {
            use windows_sys::Win32::UI::WindowsAndMessaging::{
                HWND_BROADCAST, SMTO_ABORTIFHUNG, SendMessageTimeoutW, WM_SETTINGCHANGE,
            };
            // The timeout applies per window; a thread and a bounded wait cap the total.
            let (done, wait) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let area: Vec<u16> = "Environment\0".encode_utf16().collect();
                let mut result = 0usize;
                unsafe {
                    SendMessageTimeoutW(
                        HWND_BROADCAST,
                        WM_SETTINGCHANGE,
                        0,
                        area.as_ptr() as isize,
                        SMTO_ABORTIFHUNG,
                        1000,
                        &mut result,
                    );
                }
                let _ = done.send(());
            });
            let _ = wait.recv_timeout(std::time::Duration::from_secs(3));
        }
    }

    pub fn native_session() -> Option<Box<dyn SessionEnv>> {
        Some(Box::new(Registry))
    }
}

#[cfg(target_os = "macos")]
mod sys {
    //! The running launchd session, through `launchctl`.
    use super::{SessionEnv, SessionError};
    use std::process::Command;

    const STORE: &str = "launchd session";

    struct Launchd;

    fn run(op: &'static str, name: &str, args: &[&str]) -> Result<String, SessionError> {
        let output = Command::new("/bin/launchctl").args(args).output().map_err(|e| {
            SessionError { op, name: name.to_string(), store: STORE, detail: e.to_string() }
        })?;
        if !output.status.success() {
            return Err(SessionError {
                op,
                name: name.to_string(),
                store: STORE,
                detail: format!("launchctl exited with {}", output.status),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_string())
    }

    impl SessionEnv for Launchd {
        fn get(&self, name: &str) -> Result<Option<String>, SessionError> {
            let value = run("read", name, &["getenv", name])?;
            Ok((!value.is_empty()).then_some(value))
        }
        fn set(&mut self, name: &str, value: &str) -> Result<(), SessionError> {
            run("set", name, &["setenv", name, value]).map(|_| ())
        }
        fn remove(&mut self, name: &str) -> Result<(), SessionError> {
            run("remove", name, &["unsetenv", name]).map(|_| ())
        }
    }

    pub fn native_session() -> Option<Box<dyn SessionEnv>> {
        Some(Box::new(Launchd))
    }
}

#[cfg(not(any(windows, target_os = "macos")))]
mod sys {
    use super::SessionEnv;

    pub fn native_session() -> Option<Box<dyn SessionEnv>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_d_escapes_what_systemd_expands() {
        let text = environment_d(&[("A", "sk-1"), ("B", "x$y\\z\"")]);
        assert!(text.lines().any(|l| l == "A=sk-1"));
        assert!(text.lines().any(|l| l == "B=x\\$y\\\\z\\\""));
    }

    #[test]
    fn launch_agent_names_the_file_not_the_key() {
        let plist =
            launch_agent(Path::new("/Users/ana/.config/dashkey/env.sh"), &["DASHSCOPE_API_KEY"]);
        assert!(plist.contains("<string>io.dashkey.environment</string>"));
        assert!(plist.contains(". '/Users/ana/.config/dashkey/env.sh' &amp;&amp; /bin/launchctl setenv DASHSCOPE_API_KEY \"$DASHSCOPE_API_KEY\""));
        assert!(plist.contains("<key>RunAtLoad</key>"));
    }

    #[test]
    fn session_file_per_os() {
        let linux = Platform::simulated(Os::Linux, [("HOME", "/home/ana")]);
        assert_eq!(
            session_file(&linux).unwrap(),
            Path::new("/home/ana/.config/environment.d/60-dashkey.conf")
        );
        let mac = Platform::simulated(Os::MacOs, [("HOME", "/Users/ana")]);
        assert_eq!(
            session_file(&mac).unwrap(),
            Path::new("/Users/ana/Library/LaunchAgents/io.dashkey.environment.plist")
        );
        let windows = Platform::simulated(Os::Windows, [("USERPROFILE", "C:\\Users\\ana")]);
        assert_eq!(session_file(&windows), None);
    }

    #[test]
    fn linux_session_is_detected_from_desktop_variables() {
        assert!(!linux_session_present(&Platform::simulated(Os::Linux, [("HOME", "/h")])));
        assert!(linux_session_present(&Platform::simulated(
            Os::Linux,
            [("WAYLAND_DISPLAY", "wayland-0")]
        )));
    }
}
