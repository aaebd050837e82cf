//! Shells: which ones a user has, which startup files each reads, and how to write a value
//! so that each reads it back byte for byte.
//!
//! The rules are the ones other installers learned the hard way (see
//! `shared/reference/shells.md`): bash reads `.bashrc` for interactive shells and only the
//! *first* of `.bash_profile`, `.bash_login`, `.profile` for login shells, so creating
//! `.bash_profile` silently disables `.profile`; zsh reads exactly one `.zshenv`, found
//! through `ZDOTDIR` as it is *when zsh starts*; fish wants its own `conf.d` drop-in; nushell
//! and PowerShell must be asked where their files are.
//!
//! A shell is a `Copy` enum matched exhaustively, so adding one is a compile error in every
//! place that must learn about it.
//!
//! This module is the model ([`Shell`], [`Dialect`]); each of the other facts has one owner
//! beside it, re-exported here so that every caller says `shell::…`:
//!
//! | file | owns |
//! |---|---|
//! | `quote.rs` | writing a value so that a shell reads it back byte for byte, and the one reader of a quoted POSIX word |
//! | `files.rs` | the names of every shell's startup files, and which of them a shell reads or dashkey hooks |
//! | `hook.rs` | the text dashkey puts there: its owned files and the hook block that loads them |
//! | `link.rs` | the per-directory profile switch appended to the owned `env.sh` and `env.fish` (`dashkey link`), pure shell builtins |
//! | `block.rs` | dashkey's marker block in a startup file: finding, inserting and removing it, pure text in and out (a leaf, so that the readers in `world` and the stores share it without `world` depending on the writers) |
//! | `probe.rs` | asking the installed shells what the environment cannot tell (`ZDOTDIR`, nushell's and PowerShell's paths) |

use std::fmt;
use std::path::Path;

pub mod block;
mod files;
mod hook;
pub mod link;
mod probe;
mod quote;

pub(crate) use files::env_file;
pub use files::{
    all_hook_candidates, dedup, dialect_of_file, names, own_files, owns_file, shell_of_hook_file,
    startup_files,
};
pub use hook::{
    KEYRING_MARKER, hook_lines, hook_offset, is_interactive_guard, is_keyring_loader,
    keyring_hook_lines, keyring_lines, keyring_names, owned_file,
};
pub use probe::{Probes, detect, login_dialect};
pub use quote::{
    path_expression, quote_csh, quote_fish, quote_nu_raw, quote_nuon, quote_posix,
    quote_powershell, unquote_whole, unquote_word, word_posix,
};

/// A shell whose startup files dashkey can hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shell {
    /// GNU bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
    /// A POSIX sh (dash, busybox sh, bash as sh).
    Sh,
    /// The KornShell (ksh93).
    Ksh,
    /// The MirBSD KornShell.
    Mksh,
    /// tcsh and csh.
    Tcsh,
    /// nushell.
    Nu,
    /// PowerShell (pwsh).
    PowerShell,
}

/// The syntaxes dashkey writes: one owned file each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// sh, bash, zsh, ksh, mksh, dash.
    Posix,
    /// fish.
    Fish,
    /// csh and tcsh.
    Csh,
    /// nushell.
    Nu,
    /// PowerShell.
    PowerShell,
    /// Windows `cmd.exe` (only for printing; it has no startup file).
    Cmd,
}

/// A value cannot be written in a dialect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} cannot be written for {dialect}: the value contains {what}")]
pub struct QuoteError {
    /// The variable.
    pub name: String,
    /// The dialect.
    pub dialect: Dialect,
    /// What is in the way (never the value itself).
    pub what: &'static str,
}

impl Shell {
    /// Every shell, in the order dashkey reports them.
    pub const ALL: [Shell; 9] = [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Sh,
        Shell::Ksh,
        Shell::Mksh,
        Shell::Tcsh,
        Shell::Nu,
        Shell::PowerShell,
    ];

    /// Parses a shell name or a path to its binary (`/usr/bin/zsh`, `-bash`, `pwsh.exe`).
    pub fn from_name(name: &str) -> Option<Shell> {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let base = base.trim_start_matches('-');
        let base = base.strip_suffix(".exe").unwrap_or(base);
        Some(match base {
            "bash" => Shell::Bash,
            "zsh" => Shell::Zsh,
            "fish" => Shell::Fish,
            "sh" | "dash" | "ash" | "posix" => Shell::Sh,
            "ksh" | "ksh93" => Shell::Ksh,
            "mksh" | "lksh" => Shell::Mksh,
            "tcsh" | "csh" => Shell::Tcsh,
            "nu" | "nushell" => Shell::Nu,
            "pwsh" | "powershell" => Shell::PowerShell,
            _ => return None,
        })
    }

    /// The name users type (`bash`).
    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
            Shell::Sh => "sh",
            Shell::Ksh => "ksh",
            Shell::Mksh => "mksh",
            Shell::Tcsh => "tcsh",
            Shell::Nu => "nu",
            Shell::PowerShell => "pwsh",
        }
    }

    /// Binaries whose presence means the user has this shell.
    fn binaries(self) -> &'static [&'static str] {
        match self {
            Shell::Bash => &["bash"],
            Shell::Zsh => &["zsh"],
            Shell::Fish => &["fish"],
            Shell::Sh => &["sh", "dash"],
            Shell::Ksh => &["ksh", "ksh93"],
            Shell::Mksh => &["mksh"],
            Shell::Tcsh => &["tcsh", "csh"],
            Shell::Nu => &["nu"],
            Shell::PowerShell => &["pwsh", "pwsh.exe", "powershell.exe"],
        }
    }

    /// The syntax of this shell's startup files.
    pub fn dialect(self) -> Dialect {
        match self {
            Shell::Bash | Shell::Zsh | Shell::Sh | Shell::Ksh | Shell::Mksh => Dialect::Posix,
            Shell::Fish => Dialect::Fish,
            Shell::Tcsh => Dialect::Csh,
            Shell::Nu => Dialect::Nu,
            Shell::PowerShell => Dialect::PowerShell,
        }
    }
}

impl fmt::Display for Shell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Dialect {
    /// Every dialect that has an owned file.
    pub const OWNED: [Dialect; 5] =
        [Dialect::Posix, Dialect::Fish, Dialect::Csh, Dialect::Nu, Dialect::PowerShell];

    /// Parses a dialect or shell name (`sh`, `bash`, `fish`, `csh`, `nu`, `pwsh`, `cmd`).
    pub fn from_name(name: &str) -> Option<Dialect> {
        match name {
            "cmd" | "cmd.exe" => Some(Dialect::Cmd),
            "powershell" | "ps1" => Some(Dialect::PowerShell),
            other => Shell::from_name(other).map(Shell::dialect),
        }
    }

    /// File name of the owned file in this dialect.
    pub fn owned_file_name(self) -> &'static str {
        match self {
            Dialect::Posix => "env.sh",
            Dialect::Fish => "env.fish",
            Dialect::Csh => "env.csh",
            Dialect::Nu => "env.nu",
            Dialect::PowerShell => "env.ps1",
            Dialect::Cmd => "env.cmd",
        }
    }

    /// One assignment that exports `name` with `value`, quoted for this dialect.
    ///
    /// # Errors
    ///
    /// [`QuoteError`] when the value cannot be represented (a NUL anywhere, a newline for
    /// csh and cmd).
    pub fn assignment(self, name: &str, value: &str) -> Result<String, QuoteError> {
        let refuse = |what| Err(QuoteError { name: name.to_string(), dialect: self, what });
        if value.contains('\0') {
            return refuse("a NUL character");
        }
        Ok(match self {
            Dialect::Posix => format!("export {name}={}", quote_posix(value)),
            Dialect::Fish => format!("set -gx {name} {}", quote_fish(value)),
            Dialect::Csh => {
                if value.contains(['\n', '\r']) {
                    return refuse("a line break");
                }
                format!("setenv {name} {}", quote_csh(value))
            }
            Dialect::Nu => format!("$env.{name} = {}", quote_nu_raw(value)),
            Dialect::PowerShell => format!("$env:{name} = {}", quote_powershell(value)),
            Dialect::Cmd => {
                if value.contains(['\n', '\r', '"', '%']) {
                    return refuse("a line break, a double quote or a percent sign");
                }
                format!("set \"{name}={value}\"")
            }
        })
    }

    /// The command that loads an owned file into the current shell.
    pub fn source_command(self, file: &Path, home: Option<&Path>) -> String {
        let path = path_expression(self, file, home);
        match self {
            Dialect::Posix => format!(". {path}"),
            Dialect::Fish | Dialect::Csh => format!("source {path}"),
            Dialect::Nu => format!("open --raw {path} | from nuon | load-env"),
            Dialect::PowerShell => format!(". {path}"),
            Dialect::Cmd => format!("call {path}"),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Posix => "POSIX sh",
            Dialect::Fish => "fish",
            Dialect::Csh => "csh",
            Dialect::Nu => "nushell",
            Dialect::PowerShell => "PowerShell",
            Dialect::Cmd => "cmd.exe",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_names_and_paths_parse() {
        assert_eq!(Shell::from_name("/usr/bin/zsh"), Some(Shell::Zsh));
        assert_eq!(Shell::from_name("-bash"), Some(Shell::Bash));
        assert_eq!(Shell::from_name("C:\\x\\pwsh.exe"), Some(Shell::PowerShell));
        assert_eq!(Shell::from_name("dash"), Some(Shell::Sh));
        assert_eq!(Shell::from_name("python"), None);
    }
}
