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

pub use crate::edit::session::{MemorySession, SessionEnv, SessionError};
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

/// The real session store of the OS this binary runs on, when it has one that dashkey
/// writes (Windows registry, macOS launchd). Linux uses the environment.d file instead.
pub fn native_session() -> Option<Box<dyn SessionEnv>> {
    sys::native_session()
}

#[cfg(windows)]
#[path = "desktop/windows.rs"]
mod sys;
#[cfg(target_os = "macos")]
#[path = "desktop/macos.rs"]
mod sys;
#[cfg(not(any(windows, target_os = "macos")))]
#[path = "desktop/other.rs"]
mod sys;

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
