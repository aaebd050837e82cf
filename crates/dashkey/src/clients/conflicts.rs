//! Where a generic variable (`OPENAI_API_KEY`, `ANTHROPIC_BASE_URL`…) already holds another
//! value: such names may belong to another provider, so `set --client` refuses to shadow
//! them without `--force`, and says where the other value lives.

use std::path::PathBuf;

use crate::platform::Platform;
use crate::shell::{self, Probes, block};
use crate::store::Stored;

/// Where the other value lives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Place {
    /// The environment `dashkey` runs in (a shell, a terminal, an IDE set it).
    Environment,
    /// The desktop session's variables (the Windows registry's `HKCU\Environment`, launchd).
    DesktopSession,
    /// A line of a shell startup file, outside dashkey's block.
    StartupFile {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// A line of the `.env` file in the working directory (which most clients load).
    DotEnv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// The `env` of a client's own settings file (Claude Code's `settings.json`), which the
    /// client applies over the shell's variables: no value dashkey writes can shadow it.
    ClientSettings {
        /// The file.
        path: PathBuf,
    },
}

/// One variable that already holds a different value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    /// The variable.
    pub name: &'static str,
    /// Where.
    pub place: Place,
}

impl Place {
    /// The place in words (paths shown with `~`).
    pub fn describe(&self, platform: &Platform) -> String {
        match self {
            Place::Environment => "this environment".to_string(),
            Place::DesktopSession => "the desktop session's variables".to_string(),
            Place::StartupFile { path, line } | Place::DotEnv { path, line } => {
                format!("{} line {line}", platform.show_path(path))
            }
            Place::ClientSettings { path } => format!("{}'s env", platform.show_path(path)),
        }
    }
}

/// Every place one of `wanted` (name, value) already holds another value, except the value
/// dashkey itself stored before (`stored`): re-running `set` never conflicts with itself.
pub fn conflicts(
    platform: &Platform,
    wanted: &[(&'static str, &str)],
    stored: Option<&Stored>,
    session: Option<&dyn crate::edit::session::SessionEnv>,
) -> Vec<Conflict> {
    let ours = |name: &str, value: &str| {
        wanted.iter().any(|(n, v)| *n == name && *v == value)
            || stored.and_then(|s| s.get(name)) == Some(value)
    };
    let mut found = Vec::new();
    for (name, _) in wanted {
        if let Some(value) = platform.var(name)
            && !ours(name, value)
        {
            found.push(Conflict { name, place: Place::Environment });
        }
        // An unreadable session is `set`'s to report when it writes there.
        if let Some(value) = session.and_then(|s| s.get(name).ok().flatten())
            && !ours(name, &value)
        {
            found.push(Conflict { name, place: Place::DesktopSession });
        }
    }
    let files = crate::world::dotfiles::candidate_files(platform, &Probes::default());
    for path in files {
        let Ok(text) = crate::world::read::read_text(&path, crate::world::read::Cap::STARTUP)
        else {
            continue;
        };
        for (line, content) in block::lines_outside(&text) {
            for (name, _) in wanted {
                if let Some(value) = assigned(content, name)
                    && !ours(name, &value)
                {
                    found.push(Conflict {
                        name,
                        place: Place::StartupFile { path: path.clone(), line },
                    });
                }
            }
        }
    }
    let dotenv = platform.cwd().join(".env");
    if let Ok(text) = crate::world::read::read_text(&dotenv, crate::world::read::Cap::STARTUP) {
        for (index, content) in text.lines().enumerate() {
            for (name, _) in wanted {
                if let Some(value) = assigned(content, name)
                    && !ours(name, &value)
                {
                    found.push(Conflict {
                        name,
                        place: Place::DotEnv { path: dotenv.clone(), line: index + 1 },
                    });
                }
            }
        }
    }
    found
}

/// The value a line assigns to `name` in any shell dialect or dotenv (`None`: it assigns
/// nothing to it). A computed value (`$(…)`, `$OTHER`) counts as another value.
fn assigned(line: &str, name: &str) -> Option<String> {
    let text = line.trim();
    if text.starts_with('#') || !text.contains(name) {
        return None;
    }
    let prefixes = [
        format!("export {name}="),
        format!("{name}="),
        format!("declare -x {name}="),
        format!("set -gx {name} "),
        format!("set -x {name} "),
        format!("set -Ux {name} "),
        format!("setenv {name} "),
        format!("$env.{name} = "),
        format!("$env:{name} = "),
        format!("$env:{name}="),
    ];
    let rest = prefixes.iter().find_map(|p| text.strip_prefix(p.as_str()))?;
    Some(shell::unquote_word(rest.trim()).unwrap_or_else(|| rest.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_in_each_dialect_are_read() {
        for line in [
            "export OPENAI_API_KEY='sk-user'",
            "OPENAI_API_KEY=sk-user",
            "set -gx OPENAI_API_KEY sk-user",
            "setenv OPENAI_API_KEY \"sk-user\"",
        ] {
            assert_eq!(assigned(line, "OPENAI_API_KEY").as_deref(), Some("sk-user"), "{line}");
        }
        assert_eq!(assigned("# export OPENAI_API_KEY=x", "OPENAI_API_KEY"), None);
        assert_eq!(assigned("export OPENAI_API_KEY_OLD=x", "OPENAI_API_KEY"), None);
    }

    #[test]
    fn a_different_value_in_the_environment_the_session_or_dotenv_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        std::fs::write(dir.path().join(".env"), "# x\nOPENAI_BASE_URL=https://api.openai.com/v1\n")
            .unwrap();
        let platform = Platform::simulated(
            crate::platform::Os::Linux,
            [("HOME", home), ("OPENAI_API_KEY", "sk-other")],
        )
        .with_cwd(dir.path());
        let mut session = crate::edit::session::MemorySession::default();
        session.vars.insert("OPENAI_API_KEY".into(), "sk-other".into());
        let wanted =
            [("OPENAI_API_KEY", "sk-ours"), ("OPENAI_BASE_URL", "https://x/compatible-mode/v1")];
        let found = conflicts(&platform, &wanted, None, Some(&session));
        let places: Vec<(&str, &Place)> = found.iter().map(|c| (c.name, &c.place)).collect();
        assert_eq!(
            places,
            [
                ("OPENAI_API_KEY", &Place::Environment),
                ("OPENAI_API_KEY", &Place::DesktopSession),
                ("OPENAI_BASE_URL", &Place::DotEnv { path: dir.path().join(".env"), line: 2 }),
            ]
        );
        // The values dashkey itself would write are no conflict.
        let same = [("OPENAI_API_KEY", "sk-other")];
        assert!(conflicts(&platform, &same, None, Some(&session)).is_empty());
    }
}
