//! supervisord: which environment supervisord gives the programs it starts, read from its
//! configuration the way supervisord reads it, without asking supervisord.
//!
//! A program supervisord starts never reads a shell startup file (FAQ scenario 3); what it
//! gets is written in the INI file, read with Python `configparser` rules (`=` or `:`,
//! indented continuation lines, `;`/`#` comments), `[include] files=` globs relative to the
//! main file, `%(here)s` per file, `%(ENV_X)s` from supervisord's own environment, and
//! `environment=` parsed exactly like supervisord's `dict_of_key_value_pairs` (a `shlex`
//! tokenizer). A child gets supervisord's environment, then `[supervisord] environment=`,
//! then its program's `environment=`.
//!
//! The format is small, so it is parsed here rather than through a dependency, and every
//! value carries the file and line it came from ([`Location`]). This module only reads: the
//! hand-off that writes a program's `environment=` lives with the stores.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::world::Location;
use crate::world::read::{self, Cap};

/// A supervisord configuration file cannot be used: supervisord itself would refuse it.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorConfigError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The file cannot be parsed the way supervisord would.
    #[error("{}:{line}: {message}", path.display())]
    Unparsable {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong (never the line itself, which may hold a key).
        message: String,
    },
}

/// Reads a configuration file, naming it in the error.
fn read_config_text(path: &Path) -> Result<String, SupervisorConfigError> {
    read::read_lossy(path, Cap::CONFIG)
        .map_err(|e| SupervisorConfigError::Unreadable { path: path.into(), source: e.into_io() })
}

/// One `key=value` of a supervisord configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniValue {
    /// The raw value (continuation lines joined with newlines, `%(here)s` not yet expanded).
    pub text: String,
    /// Where it is set.
    pub at: Location,
}

/// A supervisord configuration: the main file and its includes, merged as supervisord
/// merges them.
#[derive(Debug, Clone, Default)]
pub struct SupervisorConfig {
    /// The main file.
    pub path: PathBuf,
    /// Every file read, the main one first.
    pub files: Vec<PathBuf>,
    sections: BTreeMap<String, BTreeMap<String, IniValue>>,
}

/// A `%(name)s` expansion names something that is not defined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// The name is not defined (supervisord refuses to load such a file).
    #[error("%({0})s is not defined")]
    Undefined(String),
    /// A `%` that does not start `%%` or `%(name)s`.
    #[error("a % that is not %% or %(name)s")]
    BadFormat,
}

/// `environment=` cannot be parsed (supervisord refuses to load such a file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvironmentError {
    /// An expansion failed.
    #[error(transparent)]
    Expand(#[from] ExpandError),
    /// Not a list of `KEY=value` pairs.
    #[error("environment= is not a comma-separated list of KEY=value pairs: {0}")]
    Syntax(String),
}

/// Where supervisord looks for its configuration without `-c`, in order (relative paths
/// are relative to its working directory).
pub fn supervisor_default_paths(executable: Option<&Path>, cwd: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(here) = executable.and_then(Path::parent).and_then(Path::parent) {
        paths.push(here.join("etc/supervisord.conf"));
        paths.push(here.join("supervisord.conf"));
    }
    paths.push(cwd.join("supervisord.conf"));
    paths.push(cwd.join("etc/supervisord.conf"));
    paths.push(PathBuf::from("/etc/supervisord.conf"));
    paths.push(PathBuf::from("/etc/supervisor/supervisord.conf"));
    paths
}

/// The `-c`/`--configuration` argument of a supervisord command line.
pub fn supervisor_config_argument(args: &[String]) -> Option<String> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "-c" || arg == "--configuration" {
            return iter.next().cloned();
        }
        if let Some(value) = arg.strip_prefix("--configuration=") {
            return Some(value.to_string());
        }
        if let Some(value) =
            arg.strip_prefix("-c").filter(|v| !v.is_empty() && !arg.starts_with("--"))
        {
            return Some(value.to_string());
        }
    }
    None
}

impl SupervisorConfig {
    /// Reads a configuration (give an absolute path: includes are relative to its
    /// directory) and the files its `[include]` section names. `env` answers
    /// `%(ENV_X)s` in the include patterns (supervisord's own environment).
    ///
    /// # Errors
    ///
    /// [`SupervisorConfigError`] when a file cannot be read or parsed.
    pub fn read(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SupervisorConfig, SupervisorConfigError> {
        let mut config = SupervisorConfig {
            path: path.to_path_buf(),
            files: Vec::new(),
            sections: BTreeMap::new(),
        };
        config.merge(path)?;
        // Only the main file's [include] is followed, as supervisord does.
        if let Some(include) = config.sections.get("include").and_then(|s| s.get("files")).cloned()
        {
            let here = parent_text(&include.at.file);
            let expanded = expand_percent(&include.text, &|name| match name {
                "here" => Some(here.clone()),
                "host_node_name" => Some(host_name()),
                other => other.strip_prefix("ENV_").and_then(env),
            })
            .map_err(|e| SupervisorConfigError::Unparsable {
                path: include.at.file.clone(),
                line: include.at.line,
                message: format!("[include] files: {e}"),
            })?;
            let base = path.parent().unwrap_or(Path::new("/")).to_path_buf();
            for pattern in expanded.split_whitespace() {
                let mut matches = glob(&base.join(pattern));
                matches.sort();
                for file in matches {
                    config.merge(&file)?;
                }
            }
        }
        Ok(config)
    }

    fn merge(&mut self, path: &Path) -> Result<(), SupervisorConfigError> {
        let text = read_config_text(path)?;
        self.files.push(path.to_path_buf());
        let mut section: Option<String> = None;
        let mut last_key: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.starts_with([';', '#']) {
                continue;
            }
            if trimmed.is_empty() {
                last_key = None;
                continue;
            }
            // An indented line continues the previous value.
            if raw.starts_with([' ', '\t'])
                && let (Some(name), Some(key)) = (&section, &last_key)
                && let Some(value) =
                    self.sections.get_mut(name).and_then(|section| section.get_mut(key))
            {
                value.text.push('\n');
                value.text.push_str(strip_inline_comment(trimmed));
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = Some(name.trim().to_string());
                self.sections.entry(name.trim().to_string()).or_default();
                last_key = None;
                continue;
            }
            let Some(name) = &section else {
                return Err(SupervisorConfigError::Unparsable {
                    path: path.to_path_buf(),
                    line,
                    message: "a setting before any [section] header".to_string(),
                });
            };
            let Some(at) = trimmed.find(['=', ':']) else {
                return Err(SupervisorConfigError::Unparsable {
                    path: path.to_path_buf(),
                    line,
                    // Never quote the line: it may be a pasted key.
                    message: "not a key=value line (nor a [section] header)".to_string(),
                });
            };
            let key = trimmed[..at].trim().to_ascii_lowercase();
            let value = strip_inline_comment(trimmed[at + 1..].trim()).to_string();
            let location = Location { file: path.to_path_buf(), line };
            self.sections
                .entry(name.clone())
                .or_default()
                .insert(key.clone(), IniValue { text: value, at: location });
            last_key = Some(key);
        }
        Ok(())
    }

    /// The section that defines program `name` (`[program:name]`, or an fcgi-program or
    /// event listener). `group:name` is accepted as supervisorctl writes it.
    pub fn program_section(&self, name: &str) -> Option<&str> {
        let name = name.rsplit(':').next().unwrap_or(name);
        ["program", "fcgi-program", "eventlistener"].iter().find_map(|kind| {
            let section = format!("{kind}:{name}");
            self.sections.get_key_value(&section).map(|(k, _)| k.as_str())
        })
    }

    /// The programs this configuration defines.
    pub fn programs(&self) -> Vec<&str> {
        self.sections
            .keys()
            .filter_map(|s| {
                s.strip_prefix("program:")
                    .or_else(|| s.strip_prefix("fcgi-program:"))
                    .or_else(|| s.strip_prefix("eventlistener:"))
            })
            .collect()
    }

    /// One value of one section.
    pub fn value(&self, section: &str, key: &str) -> Option<&IniValue> {
        self.sections.get(section)?.get(key)
    }

    /// The `environment=` of a section, expanded and parsed as supervisord does. `env`
    /// answers `%(ENV_X)s` (supervisord's environment, plus for a program the
    /// `[supervisord] environment=`).
    ///
    /// # Errors
    ///
    /// [`EnvironmentError`] when supervisord would refuse the value.
    pub fn environment(
        &self,
        section: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<(String, String, Location)>, EnvironmentError> {
        let Some(value) = self.value(section, "environment") else { return Ok(Vec::new()) };
        let here = parent_text(&value.at.file);
        let program = section.split_once(':').map(|(_, name)| name.to_string());
        let expanded = expand_percent(&value.text, &|name| match name {
            "here" => Some(here.clone()),
            "host_node_name" => Some(host_name()),
            "program_name" | "group_name" => program.clone(),
            "process_num" => Some("0".to_string()),
            "numprocs" => Some("1".to_string()),
            other => other.strip_prefix("ENV_").and_then(env),
        })?;
        Ok(key_value_pairs(&expanded)?.into_iter().map(|(k, v)| (k, v, value.at.clone())).collect())
    }
}

fn parent_text(file: &Path) -> String {
    file.parent().map(|p| p.display().to_string()).unwrap_or_default()
}

/// Python configparser's inline comments: `;` or `#` after whitespace.
fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for (index, &b) in bytes.iter().enumerate() {
        if (b == b';' || b == b'#') && index > 0 && bytes[index - 1].is_ascii_whitespace() {
            return value[..index].trim_end();
        }
    }
    value
}

fn host_name() -> String {
    crate::world::read::read_proc(Path::new("/proc/sys/kernel/hostname"))
        .map(|h| String::from_utf8_lossy(&h).trim().to_string())
        .unwrap_or_default()
}

/// Python's `s % mapping` for `%(name)s`-style formats and `%%`.
pub fn expand_percent(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('%') {
            out.push('%');
            rest = after;
            continue;
        }
        let inner = rest.strip_prefix('(').ok_or(ExpandError::BadFormat)?;
        let close = inner.find(')').ok_or(ExpandError::BadFormat)?;
        let name = &inner[..close];
        let after = &inner[close + 1..];
        // Flags and width, then one conversion character.
        let spec_len = after
            .find(|c: char| c.is_ascii_alphabetic())
            .filter(|&i| after[..i].chars().all(|c| "#0- +.0123456789".contains(c)))
            .ok_or(ExpandError::BadFormat)?;
        let value = lookup(name).ok_or_else(|| ExpandError::Undefined(name.to_string()))?;
        out.push_str(&value);
        rest = &after[spec_len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// supervisord's `dict_of_key_value_pairs`: a non-POSIX `shlex` tokenizer (word characters
/// are letters, digits, `_` and `/.+-():`; quotes stay on the token; `#` starts a comment),
/// then `KEY = value` triples separated by one token (a comma), quotes stripped.
fn key_value_pairs(text: &str) -> Result<Vec<(String, String)>, EnvironmentError> {
    let tokens = shlex_tokens(text)?;
    let mut pairs = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let triple = &tokens[index..tokens.len().min(index + 3)];
        if triple.len() != 3 || triple[1] != "=" {
            return Err(EnvironmentError::Syntax("unexpected end of key/value pairs".to_string()));
        }
        let value = triple[2].trim_matches(['\'', '"']).to_string();
        pairs.push((triple[0].clone(), value));
        index += 4;
    }
    Ok(pairs)
}

fn shlex_tokens(text: &str) -> Result<Vec<String>, EnvironmentError> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || "/.+-():".contains(c);
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '#' {
            while chars.next().is_some_and(|c| c != '\n') {}
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut token = c.to_string();
            loop {
                match chars.next() {
                    Some(q) if q == c => {
                        token.push(q);
                        break;
                    }
                    Some(other) => token.push(other),
                    None => {
                        return Err(EnvironmentError::Syntax("no closing quotation".to_string()));
                    }
                }
            }
            tokens.push(token);
        } else if is_word(c) {
            let mut token = String::new();
            while let Some(&c) = chars.peek() {
                if is_word(c) || c == '"' || c == '\'' {
                    token.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(token);
        } else {
            chars.next();
            tokens.push(c.to_string());
        }
    }
    Ok(tokens)
}

/// Python's `glob.glob` for absolute patterns: `*`, `?` and `[...]` in any component;
/// wildcards do not match a leading `.`.
pub fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::from("/")];
    for component in pattern.components() {
        let part = component.as_os_str().to_string_lossy();
        if matches!(component, std::path::Component::RootDir) {
            continue;
        }
        let wild = part.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for dir in &current {
            if !wild {
                let candidate = dir.join(&*part);
                if candidate.symlink_metadata().is_ok() {
                    next.push(candidate);
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && !part.starts_with('.') {
                    continue;
                }
                if fnmatch(&part, &name) {
                    next.push(entry.path());
                }
            }
        }
        current = next;
    }
    current
}

/// Shell-style matching of one name: `*`, `?`, `[abc]`, `[!abc]`, `[a-z]`.
fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|skip| go(&p[1..], &n[skip..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().skip(2).position(|&c| c == ']').map(|i| i + 2) else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let (negate, set) = match p[1] {
                    '!' => (true, &p[2..close]),
                    _ => (false, &p[1..close]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == c;
                        i += 1;
                    }
                }
                hit != negate && go(&p[close + 1..], &n[1..])
            }
            Some(&c) => n.first() == Some(&c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn percent_expansion_is_pythons() {
        let lookup = |name: &str| (name == "ENV_X").then(|| "v".to_string());
        assert_eq!(expand_percent("a%(ENV_X)sb%%c", &lookup).unwrap(), "avb%c");
        assert_eq!(
            expand_percent("%(ENV_Y)s", &lookup),
            Err(ExpandError::Undefined("ENV_Y".into()))
        );
        assert_eq!(expand_percent("100%", &lookup), Err(ExpandError::BadFormat));
    }

    #[test]
    fn environment_pairs_follow_supervisords_shlex() {
        let pairs =
            key_value_pairs("A=\"x,y\",B='q',URL=https://h/api/v1,KEY=sk-abc.def,C=1").unwrap();
        let pairs: Vec<(&str, &str)> =
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("A", "x,y"),
                ("B", "q"),
                ("URL", "https://h/api/v1"),
                ("KEY", "sk-abc.def"),
                ("C", "1")
            ]
        );
        assert!(key_value_pairs("A=\"open").is_err());
        assert!(key_value_pairs("A=1,B").is_err());
    }

    #[test]
    fn supervisor_config_includes_continuations_and_here() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("conf.d")).unwrap();
        let main = dir.path().join("supervisord.conf");
        fs::write(
            &main,
            "[supervisord]\nenvironment = LANG=C ; comment\n\n[include]\nfiles = conf.d/*.conf\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("conf.d/app.conf"),
            "[program:app]\ncommand=/bin/sleep 60\nenvironment=A=\"%(here)s\",\n  KEY=\"%(ENV_DASHSCOPE_API_KEY)s\"\n",
        )
        .unwrap();
        fs::write(dir.path().join("conf.d/.hidden.conf"), "[program:hidden]\ncommand=x\n").unwrap();
        let none = |_: &str| None;
        let config = SupervisorConfig::read(&main, &none).unwrap();
        assert_eq!(config.programs(), ["app"]);
        assert_eq!(config.program_section("group:app"), Some("program:app"));
        let err = config.environment("program:app", &none).unwrap_err();
        assert_eq!(
            err,
            EnvironmentError::Expand(ExpandError::Undefined("ENV_DASHSCOPE_API_KEY".into()))
        );
        let env = |name: &str| (name == "DASHSCOPE_API_KEY").then(|| "sk-x".to_string());
        let pairs = config.environment("program:app", &env).unwrap();
        assert_eq!(pairs[0].1, dir.path().join("conf.d").display().to_string());
        assert_eq!((pairs[1].0.as_str(), pairs[1].1.as_str()), ("KEY", "sk-x"));
        assert_eq!(pairs[1].2.line, 3);
        let global = config.environment("supervisord", &none).unwrap();
        assert_eq!((global[0].0.as_str(), global[0].1.as_str()), ("LANG", "C"));
    }

    #[test]
    fn a_line_that_is_not_a_setting_is_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("supervisord.conf");
        fs::write(&main, "[program:x]\nsk-0123456789abcdef0123456789abcdef\n").unwrap();
        let error = SupervisorConfig::read(&main, &|_| None).unwrap_err().to_string();
        assert!(error.contains(":2:") && !error.contains("0123456789"), "{error}");
    }

    #[test]
    fn supervisord_command_lines_and_globs() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            supervisor_config_argument(&args(&[
                "python3",
                "/usr/bin/supervisord",
                "-c",
                "/x.conf"
            ]))
            .as_deref(),
            Some("/x.conf")
        );
        assert_eq!(
            supervisor_config_argument(&args(&["supervisord", "--configuration=/y"])).as_deref(),
            Some("/y")
        );
        assert_eq!(
            supervisor_config_argument(&args(&["supervisord", "-c/z"])).as_deref(),
            Some("/z")
        );
        assert_eq!(supervisor_config_argument(&args(&["supervisord", "-n"])), None);
        assert!(fnmatch("*.conf", "a.conf") && !fnmatch("*.conf", "a.ini"));
        assert!(fnmatch("[a-c]?.conf", "b1.conf") && !fnmatch("[!a-c]?.conf", "b1.conf"));
    }
}
