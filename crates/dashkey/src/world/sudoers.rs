//! What sudo does to the environment, read from its policy file.
//!
//! `sudo python app.py` starts the program with a fresh environment: with `env_reset` (on by
//! default, and in every distribution's `/etc/sudoers`) only the variables listed in
//! `env_keep` survive, so `DASHSCOPE_API_KEY` is dropped (FAQ scenario 4). Whether it is,
//! on this machine, is written in `/etc/sudoers` and the files it includes; this module
//! reads the `Defaults` lines that decide it. The file is usually readable by root only, so
//! an unreadable policy is a normal answer, not an error to stop on.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use crate::world::read::{self, Cap, ReadError};

/// sudo's environment policy, as far as the `Defaults` lines say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvPolicy {
    /// `env_reset`: only `env_keep` variables pass (on unless `!env_reset`).
    pub env_reset: bool,
    /// Patterns of variables kept (`NAME`, or `PREFIX*`).
    pub env_keep: Vec<String>,
    /// Some `Defaults` lines apply only to certain users, hosts, commands or run-as users
    /// (`Defaults:ana`); they are counted as if they applied.
    pub qualified: bool,
    /// Every policy file read, the main one first.
    pub files: Vec<PathBuf>,
}

impl Default for EnvPolicy {
    fn default() -> EnvPolicy {
        EnvPolicy { env_reset: true, env_keep: Vec::new(), qualified: false, files: Vec::new() }
    }
}

impl EnvPolicy {
    /// Reads the policy from `path` (normally `/etc/sudoers`) and its includes.
    ///
    /// # Errors
    ///
    /// The I/O error of the main file (permission denied for anyone but root, usually).
    /// Included files that cannot be read are skipped.
    pub fn read(path: &Path) -> io::Result<EnvPolicy> {
        let mut policy = EnvPolicy::default();
        let text = read_policy(path).map_err(ReadError::into_io)?;
        let mut seen = HashSet::new();
        seen.insert(identity(path));
        policy.apply(path, &text, 0, &mut seen);
        Ok(policy)
    }

    /// Whether the main file can be read, without reading its rules or includes: enough when
    /// no variable could be kept anyway, which is `status`'s usual case (the includes are most
    /// of the policy's cost).
    ///
    /// # Errors
    ///
    /// The same error [`EnvPolicy::read`] would give.
    pub fn check(path: &Path) -> io::Result<()> {
        read_policy(path).map(drop).map_err(ReadError::into_io)
    }

    /// True when a variable survives `sudo`'s environment reset.
    pub fn keeps(&self, name: &str) -> bool {
        !self.env_reset
            || self.env_keep.iter().any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => pattern == name,
            })
    }

    /// Applies one file. `seen` holds every file already read (by canonical path), so an
    /// include loop (`@includedir .`, two files including each other) reads each file once
    /// instead of until the depth limit, which could mean millions of reads.
    fn apply(&mut self, path: &Path, text: &str, depth: usize, seen: &mut HashSet<PathBuf>) {
        self.files.push(path.to_path_buf());
        let dir = path.parent().unwrap_or(Path::new("/"));
        for line in logical_lines(text) {
            let line = line.trim();
            // Most lines are comments and rules: only `Defaults` and include lines matter.
            if !["Defaults", "@include", "#include"].iter().any(|start| line.starts_with(start)) {
                continue;
            }
            let include = ["@includedir ", "#includedir ", "@include ", "#include "]
                .iter()
                .find_map(|prefix| line.strip_prefix(prefix).map(|rest| (*prefix, rest.trim())));
            if let Some((directive, target)) = include {
                if depth > 8 {
                    continue;
                }
                let target = dir.join(target.trim_matches('"'));
                if directive.ends_with("includedir ") {
                    let mut files: Vec<PathBuf> = std::fs::read_dir(&target)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|entry| entry.path())
                        .filter(|p| {
                            p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|name| !name.ends_with('~') && !name.contains('.'))
                        })
                        .collect();
                    files.sort();
                    for file in files {
                        self.include(&file, depth + 1, seen);
                    }
                } else {
                    self.include(&target, depth + 1, seen);
                }
                continue;
            }
            let line = line.split('#').next().unwrap_or_default().trim();
            let Some(rest) = line.strip_prefix("Defaults") else { continue };
            let rest = match rest.chars().next() {
                Some(':' | '@' | '!' | '>') => {
                    self.qualified = true;
                    rest.split_once(char::is_whitespace).map_or("", |(_, params)| params)
                }
                Some(c) if c.is_whitespace() => rest,
                _ => continue,
            };
            for param in split_params(rest) {
                self.apply_param(param.trim());
            }
        }
    }

    /// Reads and applies an included file, unless it was read before; unreadable files
    /// (and FIFOs, devices, huge files) are skipped.
    fn include(&mut self, path: &Path, depth: usize, seen: &mut HashSet<PathBuf>) {
        if !seen.insert(identity(path)) {
            return;
        }
        if let Ok(text) = read_policy(path) {
            self.apply(path, &text, depth, seen);
        }
    }

    fn apply_param(&mut self, param: &str) {
        if param == "env_reset" {
            self.env_reset = true;
            return;
        }
        if param == "!env_reset" {
            self.env_reset = false;
            return;
        }
        let Some(rest) = param.strip_prefix("env_keep") else { return };
        let rest = rest.trim_start();
        let (op, value) = if let Some(v) = rest.strip_prefix("+=") {
            ('+', v)
        } else if let Some(v) = rest.strip_prefix("-=") {
            ('-', v)
        } else if let Some(v) = rest.strip_prefix('=') {
            ('=', v)
        } else {
            return;
        };
        let names: Vec<String> =
            value.trim().trim_matches('"').split_whitespace().map(str::to_string).collect();
        match op {
            '+' => self.env_keep.extend(names),
            '-' => self.env_keep.retain(|n| !names.contains(n)),
            _ => self.env_keep = names,
        }
    }
}

/// A policy file's text, read through [`crate::world::read`] (never blocking on a FIFO).
fn read_policy(path: &Path) -> Result<String, ReadError> {
    read::read_text(path, Cap::CONFIG)
}

/// What makes two paths the same file: the canonical path (links and `..` resolved).
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Lines with `\` continuations joined (only those lines are copied).
fn logical_lines(text: &str) -> Vec<Cow<'_, str>> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None if current.is_empty() => out.push(Cow::Borrowed(line)),
            None => {
                current.push_str(line);
                out.push(Cow::Owned(std::mem::take(&mut current)));
            }
        }
    }
    if !current.is_empty() {
        out.push(Cow::Owned(current));
    }
    out
}

/// Splits `a, b = "x, y", c` at commas outside quotes.
fn split_params(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (index, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn debian_default_resets_and_keeps_nothing_of_ours() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("sudoers");
        fs::write(
            &main,
            "Defaults\tenv_reset\nDefaults\tsecure_path=\"/usr/bin:/bin\"\n\
             root ALL=(ALL:ALL) ALL\n@includedir sudoers.d\n",
        )
        .unwrap();
        fs::create_dir(dir.path().join("sudoers.d")).unwrap();
        fs::write(dir.path().join("sudoers.d/README"), "# nothing\n").unwrap();
        let policy = EnvPolicy::read(&main).unwrap();
        assert!(policy.env_reset);
        assert!(!policy.keeps("DASHSCOPE_API_KEY"));
        assert_eq!(policy.files.len(), 2);
    }

    #[test]
    fn env_keep_lists_patterns_includes_and_qualifiers() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("sudoers");
        fs::write(&main, "Defaults env_reset\n#includedir d\n").unwrap();
        fs::create_dir(dir.path().join("d")).unwrap();
        fs::write(
            dir.path().join("d/dashscope"),
            "Defaults:ana env_keep += \"DASHSCOPE_* \\\n OTHER\", !lecture\n",
        )
        .unwrap();
        fs::write(dir.path().join("d/ignored.bak"), "Defaults !env_reset\n").unwrap();
        let policy = EnvPolicy::read(&main).unwrap();
        assert!(policy.qualified);
        assert!(policy.keeps("DASHSCOPE_API_KEY") && policy.keeps("OTHER"));
        assert!(!policy.keeps("HOME"));
        let mut off = EnvPolicy::default();
        off.apply_param("!env_reset");
        assert!(off.keeps("ANYTHING"));
    }

    #[test]
    fn an_include_loop_reads_each_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("sudoers");
        fs::write(&main, "Defaults env_reset\n@includedir d\n@include sudoers\n").unwrap();
        fs::create_dir(dir.path().join("d")).unwrap();
        // Before each file was remembered, this read ~20,000 files (3 includes per file, to
        // the depth limit); with six files per directory it was millions.
        for name in ["a", "b"] {
            // Each file includes its own directory and the main file again.
            fs::write(
                dir.path().join("d").join(name),
                format!("@includedir .\n@include ../sudoers\nDefaults env_keep += \"K_{name}\"\n"),
            )
            .unwrap();
        }
        let policy = EnvPolicy::read(&main).unwrap();
        assert_eq!(policy.files.len(), 3, "{:?}", policy.files);
        assert!(policy.keeps("K_a") && policy.keeps("K_b"));
    }
}
