//! Startup files: the one owner of their names, of which of them each shell reads, and of
//! which of them dashkey hooks or cleans.
//!
//! Every list of startup-file names in dashkey is built here from [`names`]: the files
//! `set` hooks ([`startup_files`]), the files `unset` cleans ([`all_hook_candidates`]), the
//! files that show a user has a shell ([`own_files`], [`owns_file`]), the order each session reads them in
//! (`world::startup`, from the constants), and a file's dialect ([`dialect_of_file`]).

use std::path::{Path, PathBuf};

use super::{Dialect, Probes, Shell};
use crate::platform::{Os, Platform};

/// The name of every startup file dashkey knows, relative to the directory the shell finds
/// it in: the home (`ZDOTDIR` for zsh's), or the configuration directory for the fish and
/// nushell ones.
pub mod names {
    /// Read by every POSIX login shell; by bash only when it has no `.bash_profile` or
    /// `.bash_login`.
    pub const PROFILE: &str = ".profile";
    /// Interactive bash (and `ssh host command`).
    pub const BASHRC: &str = ".bashrc";
    /// bash login shells, first choice.
    pub const BASH_PROFILE: &str = ".bash_profile";
    /// bash login shells, second choice.
    pub const BASH_LOGIN: &str = ".bash_login";
    /// Every zsh.
    pub const ZSHENV: &str = ".zshenv";
    /// zsh login shells, before `.zshrc`.
    pub const ZPROFILE: &str = ".zprofile";
    /// Interactive zsh.
    pub const ZSHRC: &str = ".zshrc";
    /// zsh login shells, last.
    pub const ZLOGIN: &str = ".zlogin";
    /// Interactive ksh, when `ENV` is unset.
    pub const KSHRC: &str = ".kshrc";
    /// Interactive mksh, when `ENV` is unset.
    pub const MKSHRC: &str = ".mkshrc";
    /// tcsh, first choice.
    pub const TCSHRC: &str = ".tcshrc";
    /// tcsh without a `.tcshrc`, and csh.
    pub const CSHRC: &str = ".cshrc";
    /// tcsh login shells, after `.tcshrc`.
    pub const LOGIN: &str = ".login";
    /// dashkey's own fish drop-in, read before `config.fish`.
    pub const FISH_HOOK: &str = "fish/conf.d/dashkey.fish";
    /// fish's own configuration.
    pub const FISH_CONFIG: &str = "fish/config.fish";
    /// nushell's environment file where nushell is not asked.
    pub const NU_ENV: &str = "nushell/env.nu";
    /// PowerShell profiles, in the home, that an older layout may have hooked.
    pub const POWERSHELL_PROFILES: [&str; 2] =
        [".config/powershell/profile.ps1", ".config/powershell/Microsoft.PowerShell_profile.ps1"];
    /// Windows PowerShell profiles, in the home.
    pub const WINDOWS_POWERSHELL_PROFILES: [&str; 2] =
        ["Documents/PowerShell/profile.ps1", "Documents/WindowsPowerShell/profile.ps1"];

    /// A bash login shell reads the first of these that exists.
    pub const BASH_LOGIN_FILES: [&str; 3] = [BASH_PROFILE, BASH_LOGIN, PROFILE];
    /// Every zsh file, in the order a zsh login shell reads them.
    pub const ZSH_FILES: [&str; 4] = [ZSHENV, ZPROFILE, ZSHRC, ZLOGIN];
    /// tcsh reads the first of these that exists.
    pub const TCSH_FILES: [&str; 2] = [TCSHRC, CSHRC];
}

use names::*;

/// The files in the home (`ZDOTDIR` for zsh) that only this shell reads: one of them
/// existing shows the user uses the shell. (`.profile` is shared, so it is nobody's.)
pub fn own_files(shell: Shell) -> &'static [&'static str] {
    match shell {
        Shell::Bash => &[BASHRC, BASH_PROFILE, BASH_LOGIN],
        Shell::Zsh => &ZSH_FILES,
        Shell::Ksh => &[KSHRC],
        Shell::Mksh => &[MKSHRC],
        Shell::Tcsh => &[TCSHRC, CSHRC, LOGIN],
        Shell::Sh | Shell::Fish | Shell::Nu | Shell::PowerShell => &[],
    }
}

/// True when the startup file at `path` is one only this shell reads, by its name: one of
/// [`own_files`], or, for fish, its `config.fish` or dashkey's drop-in. `doctor` counts a
/// shell as used when one of these exists.
pub fn owns_file(shell: Shell, path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else { return false };
    match shell {
        Shell::Fish => [FISH_CONFIG, FISH_HOOK].iter().any(|file| file_name(file) == name),
        _ => own_files(shell).contains(&name),
    }
}

/// The shell whose hook a startup file holds, from the file's name: the shell `set` hooked
/// it for (`.profile` is sh's). `None` for a name that no shell reads by default, such as
/// the file ksh's or mksh's `ENV` names.
pub fn shell_of_hook_file(path: &Path) -> Option<Shell> {
    let name = path.file_name()?.to_str()?;
    if name == file_name(FISH_HOOK) {
        return Some(Shell::Fish);
    }
    if name == PROFILE {
        return Some(Shell::Sh);
    }
    if name.ends_with(".nu") {
        return Some(Shell::Nu);
    }
    if name.ends_with(".ps1") {
        return Some(Shell::PowerShell);
    }
    [Shell::Bash, Shell::Zsh, Shell::Ksh, Shell::Mksh, Shell::Tcsh]
        .into_iter()
        .find(|shell| own_files(*shell).contains(&name))
}

/// The last component of one of [`names`].
fn file_name(name: &'static str) -> &'static str {
    name.rsplit('/').next().unwrap_or(name)
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
        Shell::Bash => vec![first_existing(&BASH_LOGIN_FILES, PROFILE), home.join(BASHRC)],
        Shell::Zsh => {
            let dir = probes
                .zsh_zdotdir
                .clone()
                .or_else(|| platform.var_non_empty("ZDOTDIR").map(PathBuf::from))
                .unwrap_or_else(|| home.clone());
            vec![dir.join(ZSHENV)]
        }
        Shell::Fish => {
            platform.config_dir().map(|dir| vec![dir.join(FISH_HOOK)]).unwrap_or_default()
        }
        Shell::Sh => vec![home.join(PROFILE)],
        Shell::Ksh => vec![home.join(PROFILE), env_file(platform, &home, KSHRC)],
        Shell::Mksh => vec![home.join(PROFILE), env_file(platform, &home, MKSHRC)],
        Shell::Tcsh => vec![first_existing(&TCSH_FILES, TCSHRC)],
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
        let every =
            [BASHRC].iter().chain(&BASH_LOGIN_FILES).chain(&[ZSHENV, ZSHRC, ZPROFILE, ZLOGIN]);
        let every = every.chain(&[KSHRC, MKSHRC]).chain(&TCSH_FILES).chain(&[LOGIN]);
        files.extend(every.map(|name| home.join(name)));
        files.extend(POWERSHELL_PROFILES.iter().map(|name| home.join(name)));
        if platform.os() == Os::Windows {
            files.extend(WINDOWS_POWERSHELL_PROFILES.iter().map(|name| home.join(name)));
        }
    }
    if let Some(config) = platform.config_dir() {
        files.push(config.join(FISH_HOOK));
        files.push(config.join(NU_ENV));
    }
    for shell in Shell::ALL {
        files.extend(startup_files(shell, platform, probes));
    }
    dedup(files)
}

/// Removes duplicates (as paths: `a//b` is `a/b`), keeping first occurrences. The lists are
/// a few dozen paths under one home, so each is compared with those kept, as bytes when both
/// are written the one way a path can be (hashing paths component by component, or
/// comparing them so, cost `status` more than reading the files).
pub fn dedup(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut kept: Vec<(PathBuf, bool)> = Vec::with_capacity(paths.len());
    for path in paths {
        let normal = is_normal(&path);
        let same = |(seen, seen_normal): &(PathBuf, bool)| {
            seen.as_os_str() == path.as_os_str() || (!(normal && *seen_normal) && *seen == path)
        };
        if !kept.iter().any(same) {
            kept.push((path, normal));
        }
    }
    kept.into_iter().map(|(path, _)| path).collect()
}

/// Whether a path's bytes are its components joined by `/`, so that two such paths are the
/// same path exactly when their bytes are equal: no repeated or trailing separator, no `.`
/// component, nothing (`\`, `:`) another platform's paths give a meaning.
fn is_normal(path: &Path) -> bool {
    let bytes = path.as_os_str().as_encoded_bytes();
    let mut before = [0u8; 2];
    for &byte in bytes {
        let repeated = byte == b'/' && (before[1] == b'/' || before == *b"/.");
        if repeated || byte == b'\\' || byte == b':' {
            return false;
        }
        before = [before[1], byte];
    }
    !bytes.is_empty() && before[1] != b'/' && before != *b"/."
}

/// The dialect of a startup file, from its name.
pub fn dialect_of_file(path: &Path) -> Dialect {
    match path.extension().and_then(|e| e.to_str()) {
        Some("fish") => Dialect::Fish,
        Some("nu") => Dialect::Nu,
        Some("ps1") => Dialect::PowerShell,
        _ => match path.file_name().and_then(|n| n.to_str()) {
            Some(name) if [TCSHRC, CSHRC, LOGIN].contains(&name) => Dialect::Csh,
            _ => Dialect::Posix,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_the_first_of_each_path_however_it_is_written() {
        let written = [
            "/h/.bashrc",
            "/h//.bashrc",
            "/h/./.bashrc",
            "/h/.bashrc/",
            "/h/.zshrc",
            "./a",
            "a",
            ".//a",
            "a/.",
            "/",
            "//",
            "/h/.bashrc",
            "/h/a:b",
            "/h/a:b/",
            "/h/x\\y",
            "/h/.profile",
        ];
        let paths: Vec<PathBuf> = written.iter().map(PathBuf::from).collect();
        // The reference: a set of paths, compared as paths.
        let mut seen = std::collections::HashSet::new();
        let expected: Vec<PathBuf> = paths.iter().filter(|p| seen.insert(*p)).cloned().collect();
        assert_eq!(dedup(paths), expected);
        assert_eq!(expected.len(), 8, "{expected:?}");
    }

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
    fn a_hooked_file_names_its_shell() {
        let shell = |name: &str| shell_of_hook_file(&Path::new("/h").join(name));
        assert_eq!(shell(".bash_profile"), Some(Shell::Bash));
        assert_eq!(shell(".zshenv"), Some(Shell::Zsh));
        assert_eq!(shell(".config/fish/conf.d/dashkey.fish"), Some(Shell::Fish));
        assert_eq!(shell(".profile"), Some(Shell::Sh));
        assert_eq!(shell(".mkshrc"), Some(Shell::Mksh));
        assert_eq!(shell(".cshrc"), Some(Shell::Tcsh));
        assert_eq!(shell(".config/nushell/env.nu"), Some(Shell::Nu));
        assert_eq!(shell("Documents/PowerShell/profile.ps1"), Some(Shell::PowerShell));
        assert_eq!(shell(".shrc"), None);
    }

    #[test]
    fn fish_owns_its_config_and_no_shell_owns_profile() {
        let home = Path::new("/h");
        assert!(owns_file(Shell::Fish, &home.join(".config").join(names::FISH_CONFIG)));
        assert!(owns_file(Shell::Fish, &home.join(".config").join(names::FISH_HOOK)));
        assert!(owns_file(Shell::Zsh, &home.join(names::ZLOGIN)));
        assert!(Shell::ALL.iter().all(|shell| !owns_file(*shell, &home.join(names::PROFILE))));
    }

    #[test]
    fn unset_cleans_every_file_a_shell_owns() {
        let dir = tempfile::tempdir().unwrap();
        let candidates = all_hook_candidates(&linux(dir.path()), &Probes::default());
        for shell in Shell::ALL {
            for name in own_files(shell) {
                assert!(candidates.contains(&dir.path().join(name)), "{name}");
            }
        }
    }
}
