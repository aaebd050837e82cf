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
//! As a store: `set` writes the session file and the session variables; `unset` removes
//! the file only at the one place dashkey writes it and only while its content is dashkey's,
//! and the variables the record lists. The file contents are computed here for every OS and
//! unit-tested on Linux. The calls that only exist on one OS (registry, broadcast,
//! launchctl) sit behind [`SessionEnv`], in one file per OS (`desktop/windows.rs`,
//! `desktop/macos.rs`, `desktop/other.rs`) exporting the same function.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::ApiKey;
use crate::edit::record::{Record, Role};
pub use crate::edit::session::{MemorySession, SessionEnv, SessionError};
use crate::edit::transaction::SessionChange;
use crate::platform::{Os, Platform};
use crate::shell::Dialect;
use crate::store::copies::{CopyState, KeyCopy, PlaceKind, PlaceProblem, file_copy};
use crate::store::owned::owned_path;
use crate::store::plan::{
    NotRemovedReason, Note, PersistError, SetRun, UnsetRun, WRITTEN_VARS, own_file, pairs,
    push_change, read_text, vars_static,
};

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

/// Whether a systemd user manager serves this Linux user, so that environment.d reaches
/// what it starts: desktop apps and the IDEs they launch, and user services alike.
///
/// Any of: a desktop session's variables; the manager's runtime directory
/// (`$XDG_RUNTIME_DIR/systemd`, which only a running user manager creates, and which
/// `pam_systemd` also gives an SSH login); lingering enabled for the user
/// (`/var/lib/systemd/linger/$USER`), whose manager starts at boot with no login at all, which
/// is how a headless server runs user services. A server reached over SSH without
/// `pam_systemd`, a container, a `su` shell: none of these, and no file.
pub fn linux_session_present(platform: &Platform) -> bool {
    let desktop = ["XDG_CURRENT_DESKTOP", "DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| platform.var_non_empty(name).is_some());
    let systemd_user = platform
        .var_non_empty("XDG_RUNTIME_DIR")
        .is_some_and(|dir| Path::new(dir).join("systemd").is_dir());
    let lingering = platform
        .var_non_empty("USER")
        .filter(|user| !user.contains('/') && *user != "." && *user != "..")
        .is_some_and(|user| Path::new(LINGER_DIR).join(user).exists());
    desktop || systemd_user || lingering
}

/// Where `loginctl enable-linger` marks the users whose manager starts at boot.
const LINGER_DIR: &str = "/var/lib/systemd/linger";

/// Whether this `set` keeps out of the desktop session: asked now, or asked by an earlier
/// `set` and not undone by `--gui`.
pub(super) fn opted_out(options: &crate::store::SetOptions, record: &Record) -> bool {
    options.no_desktop || (record.no_desktop && !options.gui)
}

/// The environment.d file: `NAME=value` lines, with `\` and quotes escaped because systemd
/// unquotes them, and `$` doubled because it expands `$NAME` after unquoting (a `\$` is
/// unquoted first and then expanded: systemd 252's generator turns `a\$b` into `a`).
pub fn environment_d(vars: &[(&str, &str)]) -> String {
    let mut out = String::from(
        "# Written by dashkey for desktop sessions (read at login). Remove with `dashkey unset`.\n",
    );
    for (name, value) in vars {
        let mut escaped = String::with_capacity(value.len());
        for c in value.chars() {
            match c {
                '$' => escaped.push('$'),
                '\\' | '"' | '\'' | '`' => escaped.push('\\'),
                _ => {}
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

/// `set`: the session file (environment.d on Linux when a desktop session is there or
/// `--gui` asks; the LaunchAgent on macOS), and the session variables (registry, launchd).
pub(super) fn plan_set(run: &mut SetRun) -> Result<(), PersistError> {
    let plain = run.plain_variables();
    let pairs = pairs(&plain);
    if opted_out(run.options, &run.old_record) {
        return plan_opt_out(run);
    }
    match run.platform.os() {
        Os::Linux if run.options.gui || linux_session_present(run.platform) => {
            if let Some(path) = session_file(run.platform) {
                run.dirs.extend(path.parent().map(Path::to_path_buf));
                let before = read_text(&path)?;
                if let Some(line) = before.as_deref().and_then(|b| foreign_line(b)) {
                    return Err(PersistError::ForeignOwnedFile { path, line });
                }
                let after = environment_d(&pairs).into_bytes();
                run.managed.push((path.clone(), Role::Desktop));
                push_change(&mut run.plan, path, Role::Desktop, before, Some(after), 0o600)?;
            }
        }
        Os::Linux => {}
        Os::MacOs | Os::Windows => {
            if let Some(path) = session_file(run.platform) {
                run.dirs.extend(path.parent().map(Path::to_path_buf));
                let names: Vec<&str> = pairs.iter().map(|(n, _)| *n).collect();
                let before = read_text(&path)?;
                let env_sh = owned_path(&run.dir, Dialect::Posix);
                let after = launch_agent(&env_sh, &names).into_bytes();
                run.managed.push((path.clone(), Role::Desktop));
                push_change(&mut run.plan, path, Role::Desktop, before, Some(after), 0o600)?;
            }
            if let Some(session) = run.session {
                for (name, value) in &plain {
                    let current = session.get(name)?;
                    if current.as_deref() != Some(value.as_str()) {
                        run.plan.session.push(SessionChange { name, after: Some(value.clone()) });
                    }
                    // Still displaced from an earlier set, or displaced now: a generic name
                    // (another provider's) that held a value dashkey did not write.
                    let earlier = run.old_record.session_displaced.iter().find(|d| d.name == *name);
                    let ours = run.old_record.session_vars.iter().any(|v| v == name);
                    match (earlier, current) {
                        (Some(earlier), _) => run.displaced.push(earlier.clone()),
                        (None, Some(current))
                            if !ours && !name.starts_with("DASHSCOPE_") && current != **value =>
                        {
                            run.displaced.push(crate::edit::record::Displaced {
                                name: (*name).to_string(),
                                value: current,
                            });
                        }
                        _ => {}
                    }
                }
                for name in stale_session_vars(&run.old_record, &plain) {
                    let before = run.old_record.session_displaced.iter().find(|d| d.name == name);
                    let after = before.map(|d| Zeroizing::new(d.value.clone()));
                    run.plan.session.push(SessionChange { name, after });
                }
                if run.platform.os() == Os::Windows {
                    let names: Vec<&str> = plain.iter().map(|(n, _)| *n).collect();
                    let current = session.get(wslenv::WSLENV)?;
                    let (after, ours) =
                        wslenv::merged(current.as_deref(), &names, &run.old_record.wslenv);
                    if after != current {
                        run.plan.session.push(SessionChange {
                            name: wslenv::WSLENV,
                            after: after.map(Zeroizing::new),
                        });
                    }
                    run.wslenv = ours;
                }
            }
        }
    }
    Ok(())
}

/// `set --no-desktop` (or a `set` after one): what an earlier `set` wrote to the desktop
/// session is taken back as `unset` would, and nothing new is written.
fn plan_opt_out(run: &mut SetRun) -> Result<(), PersistError> {
    let record = &run.old_record;
    take_back(
        run.platform,
        run.session,
        &record.session_vars,
        &record.wslenv,
        &record.session_displaced,
        &mut run.plan,
    )
}

/// `unset`: the session file by its content, at the one place dashkey writes it, and the
/// session variables the record lists.
pub(super) fn plan_unset(run: &mut UnsetRun) -> Result<(), PersistError> {
    let record = &run.record;
    take_back(
        run.platform,
        run.session,
        &record.session_vars,
        &record.wslenv,
        &record.session_displaced,
        &mut run.plan,
    )
}

/// Removes the session file when its content is dashkey's (a file the user wrote there is
/// kept, with a note), the session variables `recorded` lists, and dashkey's `WSLENV`
/// entries (`wsl`).
fn take_back(
    platform: &Platform,
    session: Option<&dyn SessionEnv>,
    recorded: &[String],
    wsl: &[String],
    displaced: &[crate::edit::record::Displaced],
    plan: &mut crate::store::Plan,
) -> Result<(), PersistError> {
    if let Some(path) = session_file(platform)
        && let Some(before) = own_file(plan, &path)?
    {
        if std::str::from_utf8(&before).is_ok_and(is_desktop_text) {
            push_change(plan, path, Role::Desktop, Some(before), None, 0o600)?;
        } else {
            plan.notes.push(Note::NotRemoved { path, reason: NotRemovedReason::Foreign });
        }
    }
    if let Some(session) = session {
        for name in recorded {
            let Some(name) = vars_static(name) else { continue };
            // A value dashkey wrote over goes back as it was; dashkey's own goes.
            let before = displaced.iter().find(|d| d.name == name).map(|d| d.value.clone());
            let current = session.get(name)?;
            if current != before {
                plan.session.push(SessionChange { name, after: before.map(Zeroizing::new) });
            }
        }
        if !wsl.is_empty()
            && let Some(current) = session.get(wslenv::WSLENV)?
        {
            let after = wslenv::unmerged(&current, wsl);
            if after.as_deref() != Some(current.as_str()) {
                plan.session
                    .push(SessionChange { name: wslenv::WSLENV, after: after.map(Zeroizing::new) });
            }
        }
    }
    Ok(())
}

/// What is there now: the key in the environment.d file (the LaunchAgent holds none).
pub(super) fn found(platform: &Platform) -> Vec<KeyCopy> {
    let Some(path) = session_file(platform).filter(|p| p.extension().is_some_and(|e| e == "conf"))
    else {
        return Vec::new();
    };
    let mut copy = file_copy(PlaceKind::DesktopSession, path);
    if let CopyState::Present(text) = &copy.state {
        let value =
            text.expose().lines().find_map(|line| line.strip_prefix("DASHSCOPE_API_KEY=")).map(
                |raw| {
                    let raw = raw.trim();
                    crate::shell::unquote_whole(raw).unwrap_or_else(|| raw.to_string())
                },
            );
        copy.problems.retain(|p| matches!(p, PlaceProblem::ReadableByOthers { .. }));
        copy.state = match value {
            Some(value) => {
                let key = ApiKey::verbatim(value);
                copy.problems.extend(key.problems().into_iter().map(PlaceProblem::Value));
                CopyState::Present(key)
            }
            None => CopyState::Absent,
        };
    }
    vec![copy]
}

/// Session variables written last time that this `set` no longer writes.
fn stale_session_vars(
    record: &Record,
    variables: &[(&'static str, Zeroizing<String>)],
) -> Vec<&'static str> {
    WRITTEN_VARS
        .into_iter()
        .filter(|name| record.session_vars.iter().any(|v| v == name))
        .filter(|name| !variables.iter().any(|(n, _)| n == name))
        .collect()
}

/// The first line (1-based) of an environment.d file at dashkey's name that dashkey did not
/// write: `set` would overwrite it, so it refuses instead.
fn foreign_line(bytes: &[u8]) -> Option<usize> {
    let Ok(text) = std::str::from_utf8(bytes) else { return Some(1) };
    if !text.starts_with("# Written by dashkey") {
        return Some(1);
    }
    text.lines().enumerate().skip(1).find_map(|(index, line)| {
        let ours =
            line.is_empty() || line.split_once('=').is_some_and(|(n, _)| vars_static(n).is_some());
        (!ours).then_some(index + 1)
    })
}

/// Whether a desktop session file is one dashkey wrote (environment.d or LaunchAgent).
fn is_desktop_text(text: &str) -> bool {
    let environment_d = text.starts_with("# Written by dashkey")
        && text.lines().skip(1).all(|line| {
            line.is_empty() || line.split_once('=').is_some_and(|(n, _)| vars_static(n).is_some())
        });
    let agent = text.contains(&format!("<string>{}</string>", LAUNCH_AGENT_LABEL));
    environment_d || agent
}

pub mod wslenv;

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
        assert!(text.lines().any(|l| l == "B=x$$y\\\\z\\\""));
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
