//! Asking the shells themselves: which shells a user has, and the paths that only a running
//! shell knows (`ZDOTDIR` after `/etc/zshenv`, nushell's `$nu.env-path`, PowerShell's
//! `$PROFILE`). Asked at `set` time, never at shell start.

use std::path::{Path, PathBuf};

use super::{Dialect, Shell, names, own_files};
use crate::platform::Platform;

/// Facts about the user's shells that cannot be derived from the environment alone, learned
/// by asking the shells themselves (at `set` time, never at shell start).
#[derive(Debug, Clone, Default)]
pub struct Probes {
    /// `ZDOTDIR` as zsh sees it before reading any user file (after `/etc/zshenv`).
    pub zsh_zdotdir: Option<PathBuf>,
    /// nushell's `$nu.env-path`.
    pub nu_env_path: Option<PathBuf>,
    /// PowerShell's `$PROFILE.CurrentUserAllHosts`.
    pub pwsh_profile: Option<PathBuf>,
}

impl Probes {
    /// Asks each installed shell that needs asking. Missing shells or failures leave the
    /// field empty; the caller falls back to the documented default.
    pub fn ask(platform: &Platform, shells: &[Shell]) -> Probes {
        let mut probes = Probes::default();
        let ask = |program: &Path, args: &[&str]| -> Option<PathBuf> {
            let output = std::process::Command::new(program)
                .args(args)
                .env_clear()
                .envs(platform.vars())
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .ok()?;
            let text = String::from_utf8(output.stdout).ok()?;
            let text = text.trim();
            (output.status.success() && !text.is_empty()).then(|| PathBuf::from(text))
        };
        for shell in shells {
            let Some(program) = shell.binaries().iter().find_map(|b| platform.find_program(b))
            else {
                continue;
            };
            match shell {
                // -f: read /etc/zshenv (which may set ZDOTDIR) and no user file.
                Shell::Zsh => {
                    probes.zsh_zdotdir = ask(&program, &["-f", "-c", "printf %s \"$ZDOTDIR\""])
                }
                Shell::Nu => probes.nu_env_path = ask(&program, &["-n", "-c", "$nu.env-path"]),
                Shell::PowerShell => {
                    probes.pwsh_profile = ask(
                        &program,
                        &[
                            "-NoProfile",
                            "-NonInteractive",
                            "-Command",
                            "$PROFILE.CurrentUserAllHosts",
                        ],
                    )
                }
                _ => {}
            }
        }
        probes
    }
}

/// The syntax of the user's shell, from `$SHELL` (POSIX when it is unset or unknown).
pub fn login_dialect(platform: &Platform) -> Dialect {
    platform.var("SHELL").and_then(Shell::from_name).map_or(Dialect::Posix, Shell::dialect)
}

/// The shells this user has: an installed binary, the login shell, or an existing startup
/// file all count.
pub fn detect(platform: &Platform) -> Vec<Shell> {
    let login = platform.var("SHELL").and_then(Shell::from_name);
    Shell::ALL
        .into_iter()
        .filter(|&shell| {
            Some(shell) == login
                || shell.binaries().iter().any(|b| platform.find_program(b).is_some())
                || existing_rc_files(shell, platform).next().is_some()
        })
        .collect()
}

/// The startup files that show a user has this shell: the ones only it reads, except the
/// login-only `.zlogin` and `.login`, which never counted.
fn existing_rc_files(shell: Shell, platform: &Platform) -> impl Iterator<Item = PathBuf> {
    let home = platform.home();
    own_files(shell)
        .iter()
        .filter(|name| ![names::ZLOGIN, names::LOGIN].contains(name))
        .filter_map(move |name| home.as_ref().map(|home| home.join(name)))
        .filter(|path| path.exists())
}
