//! The user's startup files: the key written in plain text into a file that is often
//! published (worse, inside a git repository), the key assigned in several places with a
//! different winner per kind of shell, and an assignment that some of the user's shells never
//! read (`.bashrc` only, for a login shell that does not source it; `.zshrc` only, which zsh
//! scripts skip). Which shell reads what comes from `crate::world::startup`, which replays each kind
//! of session over the real files.

use std::path::{Path, PathBuf};

use crate::edit::fsx;
use crate::key::{ApiKey, ValueProblem};
use crate::shell::{self, Dialect};
use crate::vars;
use crate::world::read::Refusal;
use crate::world::startup::{Event, Session, ValueLine};

use super::{Context, Finding, Severity, id};

const MIGRATE: &str =
    "dashkey set --migrate   (hooks the file each shell reads, and moves the assignment there)";
/// `set` again with the stored key, without a prompt or argv.
const RESTORE: &str = "dashkey set --keep-key";
const MIGRATE_FROM_ENV: &str = "dashkey set --from-env --migrate   (stores the key this \
     environment has, hooks the file each shell reads, and moves the assignment there)";

impl Context<'_> {
    /// `--migrate`, taking the key from this environment when nothing is stored yet and the
    /// variable is here (no paste needed).
    fn migrate_fix(&self) -> &'static str {
        let here = self.env_key.as_ref().is_some_and(|key| !key.is_empty());
        if self.stored_key.is_none() && here { MIGRATE_FROM_ENV } else { MIGRATE }
    }

    pub(super) fn check_startup_files(&self, out: &mut Vec<Finding>) {
        self.check_unread(out);
        let assignments = self.key_assignments();
        self.check_plaintext(&assignments, out);
        self.check_conflicts(&assignments, out);
        self.check_coverage(&assignments, out);
        self.check_crlf(out);
    }

    /// `crlf-startup-file`: a file saved with Windows line endings. The shells that read it
    /// take the CR as part of each line: `fi\r` and `then\r` are syntax errors that stop the
    /// file there, and a value assigned on such a line ends in a CR.
    fn check_crlf(&self, out: &mut Vec<Finding>) {
        for file in self.startup.files().iter().filter(|file| file.crlf) {
            if shell::dialect_of_file(&file.path) == Dialect::PowerShell {
                continue;
            }
            let target = file.path.canonicalize().unwrap_or_else(|_| file.path.clone());
            let home = self.platform.home();
            let quoted = shell::path_expression(Dialect::Posix, &target, home.as_deref());
            out.push(
                Finding::new(
                    id::CRLF_STARTUP_FILE,
                    Severity::Warn,
                    format!("{} has Windows (CRLF) line endings", self.show(&file.path)),
                )
                .detail(
                    "The shells that read it take the CR as part of each line: `then` and `fi` \
                     followed by a CR are syntax errors that stop the file there, and values set \
                     on such lines end in a CR. (dashkey's own block in it is LF.)",
                )
                .fix(format!("sed -i 's/\\r$//' {quoted}")),
            );
        }
    }

    /// `skipped-file`: a startup file that is a FIFO, a device or huge was not read.
    fn check_unread(&self, out: &mut Vec<Finding>) {
        for error in self.startup.unread() {
            let Some(refusal) = error.refusal() else { continue };
            out.push(
                Finding::new(
                    id::SKIPPED_FILE,
                    Severity::Warn,
                    format!("{} was not read: {refusal}", self.show(&error.path)),
                )
                .detail(match refusal {
                    Refusal::NotRegular(_) => {
                        "A shell that reads it blocks on it (a FIFO) or reads without end (a \
                         device); dashkey skipped it, so what it sets is not counted here."
                    }
                    Refusal::TooLarge(_) => {
                        "dashkey skipped it, so what it sets is not counted here."
                    }
                })
                .fix(format!("make {} a regular file, or remove it", self.show(&error.path))),
            );
        }
    }

    /// `plaintext-in-dotfiles`.
    fn check_plaintext(&self, assignments: &[(&Path, &ValueLine)], out: &mut Vec<Finding>) {
        for (path, assignment) in assignments {
            let Some(key) = &assignment.value else { continue };
            let not_a_key = key.problems().iter().any(|p| {
                matches!(
                    p,
                    ValueProblem::Empty
                        | ValueProblem::Placeholder
                        | ValueProblem::UnexpandedVariable
                )
            });
            if not_a_key {
                continue;
            }
            let mode = std::fs::metadata(path).ok().as_ref().and_then(fsx::mode);
            let readable = mode
                .filter(|m| fsx::readable_by_others(*m))
                .map(|m| format!(" Other users can read it too (mode {m:04o})."))
                .unwrap_or_default();
            let (severity, exposure) = match git_repository(path) {
                Some(repo) => (
                    Severity::Fail,
                    format!(
                        " It is in the git repository {}: if that is pushed, the key is public; \
                         rotate it in the console.",
                        self.show(&repo)
                    ),
                ),
                None => {
                    (Severity::Warn, " Startup files are often published as dotfiles.".to_string())
                }
            };
            let line = assignment.line;
            out.push(
                Finding::new(
                    id::PLAINTEXT_IN_DOTFILES,
                    severity,
                    format!("{} holds the key in plain text (line {line})", self.show(path)),
                )
                .detail(format!(
                    "Line {line} assigns {} literally.{exposure}{readable}",
                    Self::describe_key(key)
                ))
                .fix(format!(
                    "{}   (moves the key into a 0600 file dashkey owns, removing the line after \
                     a backup)",
                    if self.migrate_fix() == MIGRATE_FROM_ENV {
                        "dashkey set --from-env --migrate"
                    } else {
                        "dashkey set --migrate"
                    }
                )),
            );
        }
    }

    /// `conflicting-assignments`: several places set the key; which one wins where.
    fn check_conflicts(&self, assignments: &[(&Path, &ValueLine)], out: &mut Vec<Finding>) {
        let hooks = self.startup.files().iter().filter(|f| f.hook_line.is_some()).count();
        let has_dashkey = self.stored_key.is_some() && hooks > 0;
        if assignments.len() + usize::from(has_dashkey) < 2 {
            return;
        }
        let value_text = |value: Option<&ApiKey>| {
            value.map_or_else(|| "a computed value".to_string(), Self::describe_key)
        };
        let mut places: Vec<String> = assignments
            .iter()
            .map(|(path, a)| {
                format!("{}:{} = {}", self.show(path), a.line, value_text(a.value.as_ref()))
            })
            .collect();
        if has_dashkey {
            places.push(format!(
                "dashkey's hook ({hooks} startup file{}) = {}",
                if hooks == 1 { "" } else { "s" },
                value_text(self.stored_key.as_ref())
            ));
        }
        // Which line wins, with the sessions where it does.
        let mut wins: Vec<(String, Vec<&str>)> = Vec::new();
        let mut overridden = false;
        for &session in &self.sessions {
            let events = self.startup.events(session, vars::API_KEY);
            let Some(last) = events.last() else { continue };
            let winner = match &last {
                Event::Hook { .. } => "dashkey's hook".to_string(),
                Event::Assignment { path, assignment } => {
                    if let Some(stored) = &self.stored_key
                        && assignment.value.as_ref().is_none_or(|value| value != stored)
                    {
                        overridden = true;
                    }
                    format!("{}:{}", self.show(path), assignment.line)
                }
            };
            match wins.iter_mut().find(|(w, _)| *w == winner) {
                Some((_, sessions)) => sessions.push(session.describe()),
                None => wins.push((winner, vec![session.describe()])),
            }
        }
        let wins = if wins.is_empty() {
            "No shell of yours reads any of them.".to_string()
        } else {
            let wins: Vec<String> = wins
                .into_iter()
                .map(|(winner, sessions)| format!("{winner} wins in {}", sessions.join(", ")))
                .collect();
            format!("{}.", wins.join("; "))
        };
        let mut fingerprints: Vec<Option<String>> =
            assignments.iter().map(|(_, a)| a.value.as_ref().map(ApiKey::fingerprint)).collect();
        if has_dashkey {
            fingerprints.push(self.stored_key.as_ref().map(ApiKey::fingerprint));
        }
        fingerprints.sort();
        fingerprints.dedup();
        let differ = fingerprints.len() > 1 || fingerprints.first().is_some_and(Option::is_none);
        let (severity, why) = if overridden {
            (Severity::Fail, " A line read after dashkey's hook overrides the stored key.")
        } else if differ {
            (Severity::Warn, " They do not all hold the same key.")
        } else {
            (Severity::Info, "")
        };
        out.push(
            Finding::new(
                id::CONFLICTING_ASSIGNMENTS,
                severity,
                format!("DASHSCOPE_API_KEY is set in {} places", places.len()),
            )
            .detail(format!("{}.{why} {wins}", places.join(", ")))
            .fix(
                "keep one: dashkey set --migrate   (removes the other assignments after a 0600 \
                 backup)",
            ),
        );
    }

    /// `login-vs-interactive`: some of the user's shells never read what sets the key.
    fn check_coverage(&self, assignments: &[(&Path, &ValueLine)], out: &mut Vec<Finding>) {
        if self.sessions.is_empty() || (assignments.is_empty() && self.stored_key.is_none()) {
            return;
        }
        let (with, without): (Vec<Session>, Vec<Session>) = self
            .sessions
            .iter()
            .partition(|&&session| !self.startup.events(session, vars::API_KEY).is_empty());
        if without.is_empty() {
            return;
        }
        let missing: Vec<&str> = without.iter().map(|s| s.describe()).collect();
        let missing = missing.join(", ");
        if with.is_empty() {
            let finding = if self.stored_key.is_some() && assignments.is_empty() {
                Finding::new(
                    id::LOGIN_VS_INTERACTIVE,
                    Severity::Warn,
                    "no startup file loads dashkey's file",
                )
                .detail(format!(
                    "The key is stored, but none of your shells ({missing}) reads a file that \
                     loads it (dashkey set --no-modify-rc?)."
                ))
                .fix(format!("{RESTORE}   (adds the guarded line to each shell's startup file)"))
            } else {
                let files: Vec<String> = assignments
                    .iter()
                    .map(|(p, a)| format!("{}:{}", self.show(p), a.line))
                    .collect();
                Finding::new(
                    id::LOGIN_VS_INTERACTIVE,
                    Severity::Warn,
                    "none of your shells reads the file that sets the key",
                )
                .detail(format!("It is set in {}, which {missing} never read.", files.join(", ")))
                .fix(self.migrate_fix())
            };
            return out.push(finding);
        }
        let mut files: Vec<String> = Vec::new();
        let mut listed = std::collections::HashSet::new();
        for &session in &with {
            for event in self.startup.events(session, vars::API_KEY).iter() {
                let (path, line) = event.location();
                let text = format!("{}:{line}", self.show(path));
                if listed.insert(text.clone()) {
                    files.push(text);
                }
            }
        }
        out.push(
            Finding::new(
                id::LOGIN_VS_INTERACTIVE,
                Severity::Warn,
                format!("some of your shells never read {}", files.join(", ")),
            )
            .detail(format!(
                "The key is set only there, and {missing} never read that file, so programs \
                 started from them have no key."
            ))
            .fix(if self.stored_key.is_some() {
                format!("{RESTORE}   (adds the guarded line to the file each shell reads)")
            } else {
                self.migrate_fix().to_string()
            }),
        );
    }
}

/// The git repository a file (followed through symlinks: a dotfiles repo) lives in, found as
/// git finds it, up to the root.
fn git_repository(path: &Path) -> Option<PathBuf> {
    super::git::work_tree(&path.canonicalize().ok()?, None)
}
