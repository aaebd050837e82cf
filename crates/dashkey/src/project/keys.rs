//! Keys written in project files: a key hard-coded in a constructor shadows the variable, and
//! a key in a committed file is in the history for good.
//!
//! A key is whatever `mask.rs` takes for one (the one definition of a key shape, the same
//! that masks every message), holding a digit so that `sk-learn-style-words` stay words. Each is
//! shown masked with its fingerprint and compared, by fingerprint, with the key dashkey
//! stores and with the ones it once held (the record's fingerprint, the keys in the backups
//! `set --migrate` kept); any other is "unknown to dashkey".
//!
//! git is asked once per repository, not once per file: one `ls-files` and one
//! `check-ignore` with every file that holds a key (`doctor/git.rs` runs them, bounded).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::doctor::git::{self, GitState};
use crate::key::ApiKey;
use crate::mask;

use super::{Finding, Scan, Severity, describe, id};

/// One distinct key in one file.
struct Hit {
    path: PathBuf,
    at: String,
    key: ApiKey,
    /// How many times it appears in the file.
    count: usize,
}

/// Which key it is.
enum Identity {
    Stored,
    Old(String),
    Unknown,
}

impl Scan<'_> {
    pub(super) fn check_keys(&self, out: &mut Vec<Finding>) {
        let mut hits: Vec<Hit> = Vec::new();
        for source in &self.sources {
            if !source.text.contains("sk-") && !source.text.contains("st-") {
                continue;
            }
            let mut seen: Vec<usize> = Vec::new();
            for span in mask::key_like_spans(&source.text, false) {
                let value = &source.text[span.clone()];
                if !mask::contains_key(value, false) {
                    continue;
                }
                let key = ApiKey::verbatim(value);
                if let Some(&n) = seen.iter().find(|&&n| hits[n].key.expose() == value) {
                    hits[n].count += 1;
                    continue;
                }
                let line = source.text[..span.start].matches('\n').count();
                seen.push(hits.len());
                hits.push(Hit {
                    path: source.path.clone(),
                    at: format!("{}{}", self.show(&source.path), source.place(line)),
                    key,
                    count: 1,
                });
            }
        }
        if hits.is_empty() {
            return;
        }
        let states = self.git_states(&hits);
        for hit in &hits {
            let state = states.get(&hit.path).cloned();
            let identity = self.identity(&hit.key);
            let shown = describe(&hit.key);
            let times =
                if hit.count > 1 { format!(" ({} times)", hit.count) } else { String::new() };
            let (which, which_severity) = match &identity {
                Identity::Stored => ("the stored key".to_string(), Severity::Info),
                Identity::Old(place) => {
                    (format!("an old key (known from {place}), not the stored one"), Severity::Warn)
                }
                Identity::Unknown if self.known.key.is_some() => {
                    ("a key unknown to dashkey, not the stored one".to_string(), Severity::Warn)
                }
                Identity::Unknown => ("a key unknown to dashkey".to_string(), Severity::Info),
            };
            let (where_, git_severity, fix) = match state {
                Some((GitState::Tracked, repo)) => (
                    format!("; the file is tracked by git ({})", self.platform.show_path(&repo)),
                    Severity::Fail,
                    Some(format!(
                        "rotate the key on the Model Studio console, remove it from {} (read it \
                         from DASHSCOPE_API_KEY), then: dashkey set",
                        self.show(&hit.path)
                    )),
                ),
                Some((GitState::Unignored, repo)) => (
                    "; the file is not ignored by git: the next `git add -A` commits it"
                        .to_string(),
                    Severity::Warn,
                    Some(format!(
                        "read the key from DASHSCOPE_API_KEY instead, or: echo '/{}' >> {}/.gitignore",
                        hit.path.strip_prefix(&repo).unwrap_or(&hit.path).display(),
                        self.platform.show_path(&repo)
                    )),
                ),
                _ => (String::new(), Severity::Ok, None),
            };
            let severity = which_severity.max(git_severity);
            // The stored key in an ignored or untracked file outside git is where it belongs.
            if severity <= Severity::Info && matches!(identity, Identity::Stored) {
                continue;
            }
            let detail = match identity {
                Identity::Stored => format!("It is {which}{where_}."),
                _ => format!(
                    "It is {which}{where_}; a program that reads this file sends it instead of \
                     DASHSCOPE_API_KEY, and gets 401 once it is revoked."
                ),
            };
            let fix = fix.or_else(|| {
                (!matches!(identity, Identity::Stored)).then(|| {
                    format!("remove it from {} and read DASHSCOPE_API_KEY", self.show(&hit.path))
                })
            });
            let mut finding =
                Finding::new(id::KEY, severity, format!("{} holds a key, {shown}{times}", hit.at))
                    .detail(detail);
            finding.fix = fix;
            out.push(finding);
        }
    }

    fn identity(&self, key: &ApiKey) -> Identity {
        if self.known.key.as_ref().is_some_and(|stored| stored.expose() == key.expose()) {
            return Identity::Stored;
        }
        let fp = key.fingerprint();
        match self.known.old.iter().find(|(old, _)| *old == fp) {
            Some((_, place)) => Identity::Old(place.clone()),
            None => Identity::Unknown,
        }
    }

    /// What git says about each file holding a key, with its work tree: one pair of git runs
    /// per repository.
    fn git_states(&self, hits: &[Hit]) -> BTreeMap<PathBuf, (GitState, PathBuf)> {
        let mut states = BTreeMap::new();
        let Some(program) = self.platform.find_program("git") else { return states };
        let mut trees: BTreeMap<PathBuf, Vec<(PathBuf, PathBuf)>> = BTreeMap::new();
        for hit in hits {
            let Ok(real) = hit.path.canonicalize() else { continue };
            let Some(tree) = git::work_tree(&real, None) else { continue };
            let Ok(relative) = real.strip_prefix(&tree).map(Path::to_path_buf) else { continue };
            let files = trees.entry(tree).or_default();
            if !files.iter().any(|(p, _)| *p == hit.path) {
                files.push((hit.path.clone(), relative));
            }
        }
        for (tree, files) in trees {
            let relatives: Vec<&Path> = files.iter().map(|(_, r)| r.as_path()).collect();
            let answers = git::git_states(&program, &tree, &relatives);
            for ((path, _), state) in files.iter().zip(answers) {
                states.insert(path.clone(), (state, tree.clone()));
            }
        }
        states
    }
}
