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

use std::fmt;
use std::path::{Path, PathBuf};

use crate::platform::{Os, Platform};

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

/// `'v'`, with each `'` written as `'"'"'`.
pub fn quote_posix(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\"'\"'"))
}

/// `'v'`, with `\` and `'` backslash-escaped (the only escapes fish honours in single quotes).
pub fn quote_fish(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `'v'`, with `'` written as `'\''` and `!` as `\!` (history expansion happens even inside
/// single quotes in csh).
pub fn quote_csh(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''").replace('!', "\\!"))
}

/// A raw string `r#'v'#` with more `#` than any `'#…` run inside the value.
pub fn quote_nu_raw(value: &str) -> String {
    let mut longest = 0;
    for (index, _) in value.match_indices('\'') {
        let run = value[index + 1..].chars().take_while(|&c| c == '#').count();
        longest = longest.max(run);
    }
    let hashes = "#".repeat(longest + 1);
    format!("r{hashes}'{value}'{hashes}")
}

/// `'v'`, with every single-quote character doubled, including the typographic ones
/// (U+2018–U+201B) that PowerShell also treats as quotes.
pub fn quote_powershell(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}'..='\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A JSON/NUON double-quoted string.
pub fn quote_nuon(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The header every owned file starts with: what it is and how to change it.
const OWNED_HEADER: &str =
    "Written by dashkey. Change with `dashkey set`, remove with `dashkey unset`.";

/// The full text of the owned file in a dialect, holding these variables.
///
/// # Errors
///
/// [`QuoteError`] when a value cannot be represented in the dialect.
pub fn owned_file(dialect: Dialect, vars: &[(&str, &str)]) -> Result<String, QuoteError> {
    let mut out = String::new();
    if dialect == Dialect::Nu {
        // A NUON record: the hook loads it at run time with `load-env`, because nushell's
        // `source` is resolved at parse time and cannot be guarded against a missing file.
        out.push_str(&format!("# {OWNED_HEADER}\n{{\n"));
        for (name, value) in vars {
            out.push_str(&format!("  {name}: {}\n", quote_nuon(value)));
        }
        out.push_str("}\n");
        return Ok(out);
    }
    let comment = if dialect == Dialect::Cmd { "rem" } else { "#" };
    out.push_str(&format!("{comment} {OWNED_HEADER}\n"));
    for (name, value) in vars {
        out.push_str(&dialect.assignment(name, value)?);
        out.push('\n');
    }
    Ok(out)
}

/// A path as an expression in a dialect: relative to `$HOME` when it is under the home (so
/// published dotfiles carry no user name), else the absolute path, quoted.
pub fn path_expression(dialect: Dialect, path: &Path, home: Option<&Path>) -> String {
    let rest = home
        .and_then(|home| path.strip_prefix(home).ok())
        .map(|rest| rest.to_string_lossy().replace('\\', "/"))
        .filter(|rest| !rest.is_empty())
        .filter(|rest| rest.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c)));
    let absolute = path.display().to_string();
    match (dialect, rest) {
        (Dialect::Posix | Dialect::Fish | Dialect::Csh | Dialect::PowerShell, Some(rest)) => {
            format!("\"$HOME/{rest}\"")
        }
        (Dialect::Nu, Some(rest)) => format!("($nu.home-path | path join {})", quote_nuon(&rest)),
        (Dialect::Posix, None) => quote_posix(&absolute),
        (Dialect::Fish, None) => quote_fish(&absolute),
        (Dialect::Csh, None) => quote_csh(&absolute),
        (Dialect::Nu, None) => quote_nu_raw(&absolute),
        (Dialect::PowerShell, None) => quote_powershell(&absolute),
        (Dialect::Cmd, _) => format!("\"{absolute}\""),
    }
}

/// The lines of the hook block that loads `owned` (an owned file) in `dialect`, guarded so
/// that a deleted owned file never makes a new shell print an error.
pub fn hook_lines(dialect: Dialect, owned: &Path, home: Option<&Path>) -> Vec<String> {
    let path = path_expression(dialect, owned, home);
    let comment =
        "# Loads the DashScope API key from a file dashkey owns; the key is not in this file.";
    let line = match dialect {
        Dialect::Posix => format!("if [ -f {path} ]; then . {path}; fi"),
        Dialect::Fish => format!("if test -f {path}; source {path}; end"),
        Dialect::Csh => format!("if ( -f {path} ) source {path}"),
        Dialect::Nu => {
            format!("if ({path} | path exists) {{ open --raw {path} | from nuon | load-env }}")
        }
        Dialect::PowerShell => format!("if (Test-Path {path}) {{ . {path} }}"),
        Dialect::Cmd => format!("if exist {path} call {path}"),
    };
    vec![comment.to_string(), line]
}

/// Where a new hook block goes in a startup file: the end, except in a `.bashrc` that
/// *starts* by returning early from non-interactive shells. Debian's and Ubuntu's `.bashrc`
/// begin that way, and `ssh host command` runs bash non-interactively *through* `.bashrc`:
/// a hook after the guard would never run there, so it goes just before it. Only the first
/// command of the file counts as a guard: the same words inside a function or an `if` later
/// on are not one, and the hook is appended as usual.
pub fn hook_offset(path: &Path, text: &str) -> usize {
    if path.file_name().and_then(|n| n.to_str()) != Some(".bashrc") {
        return text.len();
    }
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let code = line.trim();
        if code.is_empty() || code.starts_with('#') {
            offset += line.len();
            continue;
        }
        let guard = code.starts_with("case $- in")
            || code.starts_with("case \"$-\" in")
            || (code.contains("return") && (code.contains("$-") || code.contains("PS1")));
        return if guard { offset } else { text.len() };
    }
    text.len()
}

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

fn existing_rc_files(shell: Shell, platform: &Platform) -> impl Iterator<Item = PathBuf> {
    let home = platform.home();
    let names: &[&str] = match shell {
        Shell::Bash => &[".bashrc", ".bash_profile", ".bash_login"],
        Shell::Zsh => &[".zshenv", ".zshrc", ".zprofile"],
        Shell::Ksh => &[".kshrc"],
        Shell::Mksh => &[".mkshrc"],
        Shell::Tcsh => &[".tcshrc", ".cshrc"],
        Shell::Sh | Shell::Fish | Shell::Nu | Shell::PowerShell => &[],
    };
    names
        .iter()
        .filter_map(move |name| home.as_ref().map(|home| home.join(name)))
        .filter(|path| path.exists())
}

/// The startup files to hook for a shell, in the order the shell reads them.
pub fn startup_files(shell: Shell, platform: &Platform, probes: &Probes) -> Vec<PathBuf> {
    let Some(home) = platform.home() else { return Vec::new() };
    let first_existing = |names: &[&str], fallback: &str| -> PathBuf {
        names
            .iter()
            .map(|name| home.join(name))
            .find(|path| path.exists())
            .unwrap_or_else(|| home.join(fallback))
    };
    match shell {
        // Never create .bash_profile: it would stop bash from reading an existing .profile.
        Shell::Bash => vec![
            first_existing(&[".bash_profile", ".bash_login", ".profile"], ".profile"),
            home.join(".bashrc"),
        ],
        Shell::Zsh => {
            let dir = probes
                .zsh_zdotdir
                .clone()
                .or_else(|| platform.var_non_empty("ZDOTDIR").map(PathBuf::from))
                .unwrap_or_else(|| home.clone());
            vec![dir.join(".zshenv")]
        }
        Shell::Fish => platform
            .config_dir()
            .map(|dir| vec![dir.join("fish").join("conf.d").join("dashkey.fish")])
            .unwrap_or_default(),
        Shell::Sh => vec![home.join(".profile")],
        Shell::Ksh => vec![home.join(".profile"), env_file(platform, &home, ".kshrc")],
        Shell::Mksh => vec![home.join(".profile"), env_file(platform, &home, ".mkshrc")],
        Shell::Tcsh => vec![first_existing(&[".tcshrc", ".cshrc"], ".tcshrc")],
        Shell::Nu => probes.nu_env_path.iter().cloned().collect(),
        Shell::PowerShell => match (&probes.pwsh_profile, platform.os()) {
            (Some(path), _) => vec![path.clone()],
            // PowerShell is not asked for a path it does not have: only where it is installed.
            (None, _) => Vec::new(),
        },
    }
}

/// The file an interactive ksh reads: `$ENV` (with `~` and `$HOME` expanded) or the default.
pub(crate) fn env_file(platform: &Platform, home: &Path, default: &str) -> PathBuf {
    match platform.var_non_empty("ENV") {
        Some(value) => {
            let home_str = home.display().to_string();
            let expanded = if let Some(rest) = value.strip_prefix("~/") {
                format!("{home_str}/{rest}")
            } else {
                value.replace("${HOME}", &home_str).replace("$HOME", &home_str)
            };
            platform.resolve_path(&expanded)
        }
        None => home.join(default),
    }
}

/// Every file that may hold a dashkey hook, whether or not dashkey would write it today:
/// `unset` cleans them all, so that a hook written under an older layout is not left behind.
pub fn all_hook_candidates(platform: &Platform, probes: &Probes) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(home) = platform.home() {
        for name in [
            ".bashrc",
            ".bash_profile",
            ".bash_login",
            ".profile",
            ".zshenv",
            ".zshrc",
            ".zprofile",
            ".zlogin",
            ".kshrc",
            ".mkshrc",
            ".tcshrc",
            ".cshrc",
            ".login",
        ] {
            files.push(home.join(name));
        }
        files.push(home.join(".config/powershell/profile.ps1"));
        files.push(home.join(".config/powershell/Microsoft.PowerShell_profile.ps1"));
        if platform.os() == Os::Windows {
            files.push(home.join("Documents/PowerShell/profile.ps1"));
            files.push(home.join("Documents/WindowsPowerShell/profile.ps1"));
        }
    }
    if let Some(config) = platform.config_dir() {
        files.push(config.join("fish/conf.d/dashkey.fish"));
        files.push(config.join("nushell/env.nu"));
    }
    for shell in Shell::ALL {
        files.extend(startup_files(shell, platform, probes));
    }
    dedup(files)
}

/// Removes duplicates, keeping first occurrences.
pub fn dedup(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    paths.into_iter().filter(|path| seen.insert(path.clone())).collect()
}

/// The dialect of a startup file, from its name.
pub fn dialect_of_file(path: &Path) -> Dialect {
    match path.extension().and_then(|e| e.to_str()) {
        Some("fish") => Dialect::Fish,
        Some("nu") => Dialect::Nu,
        Some("ps1") => Dialect::PowerShell,
        _ => match path.file_name().and_then(|n| n.to_str()) {
            Some(".tcshrc" | ".cshrc" | ".login") => Dialect::Csh,
            _ => Dialect::Posix,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(home: &Path) -> Platform {
        Platform::simulated(Os::Linux, [("HOME", home.to_str().unwrap()), ("PATH", "/nonexistent")])
    }

    #[test]
    fn bash_never_creates_bash_profile_over_profile() {
        let dir = tempfile::tempdir().unwrap();
        let platform = linux(dir.path());
        assert_eq!(
            startup_files(Shell::Bash, &platform, &Probes::default()),
            [dir.path().join(".profile"), dir.path().join(".bashrc")]
        );
        std::fs::write(dir.path().join(".bash_login"), "").unwrap();
        assert_eq!(
            startup_files(Shell::Bash, &platform, &Probes::default())[0],
            dir.path().join(".bash_login")
        );
    }

    #[test]
    fn zsh_uses_the_zdotdir_zsh_starts_with() {
        let dir = tempfile::tempdir().unwrap();
        let platform = linux(dir.path());
        assert_eq!(
            startup_files(Shell::Zsh, &platform, &Probes::default()),
            [dir.path().join(".zshenv")]
        );
        let probes = Probes { zsh_zdotdir: Some(dir.path().join("zdot")), ..Probes::default() };
        assert_eq!(
            startup_files(Shell::Zsh, &platform, &probes),
            [dir.path().join("zdot/.zshenv")]
        );
    }

    #[test]
    fn ksh_env_file_expands_home() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let platform = Platform::simulated(Os::Linux, [("HOME", home), ("ENV", "$HOME/.shrc")]);
        assert_eq!(
            startup_files(Shell::Ksh, &platform, &Probes::default())[1],
            dir.path().join(".shrc")
        );
    }

    #[test]
    fn bashrc_hooks_go_before_the_non_interactive_guard() {
        let rc = Path::new("/h/.bashrc");
        let debian = "# comment\ncase $- in\n    *i*) ;;\n      *) return;;\nesac\nalias x=y\n";
        assert_eq!(hook_offset(rc, debian), "# comment\n".len());
        let oneliner = "[ -z \"$PS1\" ] && return\n";
        assert_eq!(hook_offset(rc, oneliner), 0);
        assert_eq!(hook_offset(rc, "alias x=y\n"), 10);
        let function = "export P=1\nf() {\n  case $- in\n    *i*) echo i;;\n  esac\n}\n";
        assert_eq!(hook_offset(rc, function), function.len(), "not a guard inside a function");
        assert_eq!(hook_offset(Path::new("/h/.profile"), debian), debian.len());
    }

    #[test]
    fn shell_names_and_paths_parse() {
        assert_eq!(Shell::from_name("/usr/bin/zsh"), Some(Shell::Zsh));
        assert_eq!(Shell::from_name("-bash"), Some(Shell::Bash));
        assert_eq!(Shell::from_name("C:\\x\\pwsh.exe"), Some(Shell::PowerShell));
        assert_eq!(Shell::from_name("dash"), Some(Shell::Sh));
        assert_eq!(Shell::from_name("python"), None);
    }

    #[test]
    fn quoting_rules_per_dialect() {
        assert_eq!(quote_posix("a'b"), "'a'\"'\"'b'");
        assert_eq!(quote_fish("a'b\\c"), "'a\\'b\\\\c'");
        assert_eq!(quote_csh("a'b!c"), "'a'\\''b\\!c'");
        assert_eq!(quote_nu_raw("a'#b"), "r##'a'#b'##");
        assert_eq!(quote_powershell("a'b\u{2019}c"), "'a''b\u{2019}\u{2019}c'");
        assert!(Dialect::Csh.assignment("X", "a\nb").is_err());
        assert!(Dialect::Posix.assignment("X", "a\0b").is_err());
    }

    #[test]
    fn hooks_are_guarded_and_home_relative() {
        let home = Path::new("/home/ana");
        let owned = home.join(".config/dashkey/env.sh");
        let lines = hook_lines(Dialect::Posix, &owned, Some(home));
        assert_eq!(
            lines[1],
            "if [ -f \"$HOME/.config/dashkey/env.sh\" ]; then . \"$HOME/.config/dashkey/env.sh\"; fi"
        );
        let elsewhere = hook_lines(Dialect::Posix, Path::new("/etc/dk/env.sh"), Some(home));
        assert!(elsewhere[1].contains("'/etc/dk/env.sh'"));
        let ps =
            hook_lines(Dialect::PowerShell, Path::new("C:\\Users\\ana\\AppData\\env.ps1"), None);
        assert!(ps[1].starts_with("if (Test-Path 'C:\\Users\\ana\\AppData\\env.ps1')"));
    }

    #[test]
    fn owned_files_hold_every_variable() {
        let vars = [("DASHSCOPE_API_KEY", "sk-1"), ("DASHSCOPE_HTTP_BASE_URL", "https://h/api/v1")];
        for dialect in Dialect::OWNED {
            let text = owned_file(dialect, &vars).unwrap();
            assert!(text.contains("sk-1") && text.contains("https://h/api/v1"), "{dialect}");
            assert!(text.starts_with('#'));
        }
        assert_eq!(
            owned_file(Dialect::Nu, &vars).unwrap().lines().nth(2).unwrap(),
            "  DASHSCOPE_API_KEY: \"sk-1\""
        );
    }
}
