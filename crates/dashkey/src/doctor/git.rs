//! A copy of the key inside a git work tree: a dotfiles repository at `~`, a `~/.config`
//! tracked by git. If git tracks the file, the key is in the history (and public once pushed);
//! if git does not ignore it, the next `git add -A` puts it there.
//!
//! For each file that holds the key (the key files, dashkey's directory, the desktop session
//! file), the nearest `.git` above it is looked for, up to the home directory (never above it,
//! unless the file really lives elsewhere), and git itself is asked: `ls-files --error-unmatch`
//! (tracked?) and `check-ignore -q` (ignored?). git runs with its fsmonitor disabled and is
//! killed after a few seconds, so a planted repository can neither run code nor stall the
//! doctor. Startup files holding the key literally have their own finding
//! (`plaintext-in-dotfiles`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Context, Finding, Severity, id};

/// How long one question to git may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Files in dashkey's directory larger than this are not read (none of dashkey's are).
const MAX_OWNED_FILE: u64 = 1 << 20;

/// What git says about one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GitState {
    /// In the index: committed, or about to be.
    Tracked,
    /// Neither tracked nor ignored: `git add -A` would take it.
    Unignored,
    /// Ignored, or git could not tell.
    Safe,
}

impl Context<'_> {
    pub(super) fn check_git(&self, out: &mut Vec<Finding>) {
        let Some(git) = self.platform.find_program("git") else { return };
        let home_parent = self.platform.home().and_then(|h| h.parent().map(Path::to_path_buf));
        let mut seen = Vec::new();
        for path in self.key_holding_files() {
            let Ok(real) = path.canonicalize() else { continue };
            if seen.contains(&real) {
                continue;
            }
            seen.push(real.clone());
            let Some(tree) = work_tree(&real, home_parent.as_deref()) else { continue };
            let Ok(relative) = real.strip_prefix(&tree) else { continue };
            let state = git_state(&git, &tree, relative);
            let shown = self.show(&path);
            let repo = self.show(&tree);
            let rel = relative.display();
            match state {
                GitState::Tracked => out.push(
                    Finding::new(
                        id::KEY_IN_GIT,
                        Severity::Fail,
                        format!(
                            "{shown} holds the key and is tracked by the git repository {repo}"
                        ),
                    )
                    .detail(
                        "Whoever can read that repository (its remote too, once pushed) has the \
                         key; removing the file now does not remove it from the history.",
                    )
                    .fix(format!(
                        "rotate the key on the Model Studio console, then: git -C {repo} rm \
                         --cached {rel} && echo '/{rel}' >> {repo}/.gitignore && dashkey set"
                    )),
                ),
                GitState::Unignored => out.push(
                    Finding::new(
                        id::KEY_IN_GIT,
                        Severity::Warn,
                        format!(
                            "{shown} holds the key inside the git work tree {repo} and is not \
                             ignored"
                        ),
                    )
                    .detail(
                        "The next `git add -A` or `git commit -a` of that repository commits \
                         the key; dotfiles repositories are often public.",
                    )
                    .fix(format!("echo '/{rel}' >> {repo}/.gitignore")),
                ),
                GitState::Safe => {}
            }
        }
    }

    /// Every file that holds a copy of the key: the places the SDKs read, and the files in
    /// dashkey's directory that contain the stored key.
    fn key_holding_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .copies
            .iter()
            .filter(|copy| copy.value().is_some_and(|key| !key.is_empty()))
            .filter_map(|copy| copy.path.clone())
            .collect();
        if let (Some(dir), Some(key)) = (self.platform.dashkey_dir(), &self.stored_key)
            && let Ok(entries) = std::fs::read_dir(&dir)
        {
            let mut owned: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| holds(path, key.expose()))
                .collect();
            owned.sort();
            files.extend(owned);
        }
        files
    }
}

/// Whether a small regular file contains `needle`. Never opens what is not a regular file.
fn holds(path: &Path, needle: &str) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return false };
    if !meta.is_file() || meta.len() > MAX_OWNED_FILE {
        return false;
    }
    let mut text = Vec::new();
    let read = std::fs::File::open(path)
        .and_then(|file| file.take(MAX_OWNED_FILE).read_to_end(&mut text))
        .is_ok();
    read && text.windows(needle.len().max(1)).any(|w| w == needle.as_bytes())
}

/// The git work tree around `file`: the nearest directory above it with a `.git`, not above
/// `stop` (the home directory's parent).
pub(crate) fn work_tree(file: &Path, stop: Option<&Path>) -> Option<PathBuf> {
    file.ancestors()
        .skip(1)
        .take_while(|dir| Some(*dir) != stop)
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}

/// Asks git whether `relative` (inside `tree`) is tracked, ignored, or neither.
fn git_state(git: &Path, tree: &Path, relative: &Path) -> GitState {
    let ask = |args: &[&str]| {
        let mut command = Command::new(git);
        command
            .arg("-C")
            .arg(tree)
            .args(["-c", "core.fsmonitor=false"])
            .args(args)
            .arg("--")
            .arg(relative)
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        run_bounded(command)
    };
    match ask(&["ls-files", "--error-unmatch"]) {
        Some(0) => return GitState::Tracked,
        Some(1) => {}
        _ => return GitState::Safe,
    }
    match ask(&["check-ignore", "-q"]) {
        Some(1) => GitState::Unignored,
        _ => GitState::Safe,
    }
}

/// Runs a command and returns its exit code; `None` when it could not run, was killed by a
/// signal, or took longer than [`GIT_TIMEOUT`] (then it is killed).
fn run_bounded(mut command: Command) -> Option<i32> {
    let mut child = command.spawn().ok()?;
    let deadline = Instant::now() + GIT_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// What git says about several files of one work tree, in their order: one `ls-files` and
/// one `check-ignore` for all of them (`doctor --project` asks about every file of a project
/// that holds a key). A file git could not be asked about counts as [`GitState::Safe`].
pub(crate) fn git_states(git: &Path, tree: &Path, relatives: &[&Path]) -> Vec<GitState> {
    let listed = |args: &[&str]| -> Option<Vec<PathBuf>> {
        let out = tempfile::tempfile().ok()?;
        let mut command = Command::new(git);
        command
            .arg("-C")
            .arg(tree)
            .args(["-c", "core.fsmonitor=false"])
            .args(args)
            .arg("--")
            .args(relatives)
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null())
            .stdout(out.try_clone().ok()?)
            .stderr(Stdio::null());
        // ls-files answers 0, check-ignore 0 (some ignored) or 1 (none): both mean "listed".
        run_bounded(command).filter(|code| *code == 0 || *code == 1)?;
        let mut text = Vec::new();
        let mut out = out;
        std::io::Seek::rewind(&mut out).ok()?;
        out.read_to_end(&mut text).ok()?;
        Some(
            text.split(|b| *b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
                .collect(),
        )
    };
    let Some(tracked) = listed(&["ls-files", "-z"]) else {
        return vec![GitState::Safe; relatives.len()];
    };
    let ignored = listed(&["check-ignore", "-z"]);
    relatives
        .iter()
        .map(|relative| {
            if tracked.iter().any(|t| t == relative) {
                GitState::Tracked
            } else {
                match &ignored {
                    Some(ignored) if !ignored.iter().any(|i| i == relative) => GitState::Unignored,
                    _ => GitState::Safe,
                }
            }
        })
        .collect()
}
