//! Claude Code's own settings, which decide which key it sends before the shell does.
//!
//! Claude Code applies the `env` object of its global `~/.claude.json` and then of its
//! `settings.json` files to its process over the shell's variables (`@anthropic-ai/claude-code`
//! 1.0.128's `cli.js`: `Object.assign(process.env, …env)` at start). It then sends
//! `ANTHROPIC_API_KEY` as `X-Api-Key` (in an interactive session only once the user approved
//! that key) and, beside it, `ANTHROPIC_AUTH_TOKEN` (what dashkey writes) as `Authorization:
//! Bearer`; its `apiKeyHelper` is asked only when no `ANTHROPIC_API_KEY` is set. Which of two
//! different keys DashScope's `/apps/anthropic` honours was not checked (the service is out of
//! reach here), so another key in `ANTHROPIC_API_KEY` is refused wherever it lives: `set
//! --client claude-code` names the place. A value in one of these files cannot be shadowed by
//! anything dashkey writes, so even `--force` leaves it to the user.

use std::path::PathBuf;

use super::conflicts::{Conflict, Place};
use crate::platform::Platform;
use crate::vars;
use crate::world::read::{self, Cap};

/// The catalogue id.
pub const ID: &str = "claude-code";

/// The settings files whose `env` Claude Code applies, the one that wins first: the project's
/// `.claude/settings.local.json` and `.claude/settings.json` (in the working directory), then
/// the user's `settings.json` in `$CLAUDE_CONFIG_DIR` (default `~/.claude`), then its global
/// configuration: `.config.json` in that directory when it exists, else `.claude.json` in
/// `$CLAUDE_CONFIG_DIR` or the home directory. 1.0.128's `cli.js` copies the global file's
/// `env` over the process environment first and the settings' `env` after it. Managed settings
/// (`/etc/claude-code/managed-settings.json`) are the administrator's and not read.
pub fn settings_files(platform: &Platform) -> Vec<PathBuf> {
    let cwd = platform.cwd();
    let mut files =
        vec![cwd.join(".claude/settings.local.json"), cwd.join(".claude/settings.json")];
    if let Some(home) = platform.home() {
        let config_dir = platform.var_non_empty("CLAUDE_CONFIG_DIR").map(PathBuf::from);
        let dir = config_dir.clone().unwrap_or_else(|| home.join(".claude"));
        files.push(dir.join("settings.json"));
        let legacy = dir.join(".config.json");
        files.push(if legacy.is_file() {
            legacy
        } else {
            config_dir.unwrap_or(home).join(".claude.json")
        });
    }
    files.dedup();
    files
}

/// Every settings file whose `env` gives `ANTHROPIC_API_KEY` a non-empty value other than
/// `key` (an empty one is skipped by the SDK, so it takes nothing from dashkey's token). An
/// unreadable or invalid file is not judged here: `doctor --client claude-code` is where a
/// broken settings file is someone's finding.
pub fn other_api_keys(platform: &Platform, key: &str) -> Vec<Conflict> {
    settings_files(platform)
        .into_iter()
        .filter(|file| {
            let Ok(Some(bytes)) = read::read_optional(file, Cap::CONFIG) else { return false };
            super::qwen_code::settings_env(&bytes).is_ok_and(|env| {
                env.iter().any(|(name, value)| {
                    name == vars::ANTHROPIC_API_KEY
                        && !value.trim().is_empty()
                        && value.trim() != key
                })
            })
        })
        .map(|path| Conflict {
            name: vars::ANTHROPIC_API_KEY,
            place: Place::ClientSettings { path },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_api_key_in_a_settings_env_is_found_and_the_same_or_an_empty_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let (home, project) = (dir.path().join("home"), dir.path().join("project"));
        std::fs::create_dir_all(home.join(".claude")).unwrap();
        std::fs::create_dir_all(project.join(".claude")).unwrap();
        let write = |path: PathBuf, value: &str| {
            let json = format!(r#"{{"env": {{"ANTHROPIC_API_KEY": "{value}"}}, "model": "x"}}"#);
            std::fs::write(path, json).unwrap();
        };
        write(home.join(".claude/settings.json"), "sk-ant-other");
        write(project.join(".claude/settings.local.json"), "sk-ours");
        write(project.join(".claude/settings.json"), " ");
        let platform =
            Platform::simulated(crate::platform::Os::Linux, [("HOME", home.to_str().unwrap())])
                .with_cwd(&project);
        let found = other_api_keys(&platform, "sk-ours");
        let places: Vec<&Place> = found.iter().map(|c| &c.place).collect();
        assert_eq!(places, [&Place::ClientSettings { path: home.join(".claude/settings.json") }]);
        // CLAUDE_CONFIG_DIR moves the user's file.
        let moved = platform.clone().with_vars([
            ("HOME".to_string(), home.display().to_string()),
            ("CLAUDE_CONFIG_DIR".to_string(), dir.path().display().to_string()),
        ]);
        assert!(other_api_keys(&moved, "sk-ours").is_empty());

        // The global configuration's `env` counts too, after every settings file.
        std::fs::remove_file(home.join(".claude/settings.json")).unwrap();
        write(home.join(".claude.json"), "sk-ant-global");
        let found = other_api_keys(&platform, "sk-ours");
        let places: Vec<&Place> = found.iter().map(|c| &c.place).collect();
        assert_eq!(places, [&Place::ClientSettings { path: home.join(".claude.json") }]);
        // A `.config.json` in the configuration directory replaces `~/.claude.json`.
        std::fs::write(home.join(".claude/.config.json"), "{}").unwrap();
        assert!(other_api_keys(&platform, "sk-ours").is_empty());
        let files = settings_files(&platform);
        assert_eq!(files.last(), Some(&home.join(".claude/.config.json")), "{files:?}");
    }
}
