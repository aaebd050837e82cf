//! Fault injection: `set`, `unset` and `region` with a plain, a hard-linked and a symlinked
//! `~/.bashrc`, under real faults injected by strace.
//!
//! For each command and configuration, the syscalls dashkey makes are counted once (write,
//! fsync, renameat, unlink, ftruncate); then, walking N over those calls (every call when
//! there are few, and every write into the hard-linked configuration; an even spread of
//! [`MAX_PER_SYSCALL`] of them otherwise):
//! (a) the Nth call fails with EIO (`strace -e inject=SYS:error=EIO:when=N`);
//! (b) dashkey is killed at the Nth call (`strace -e inject=SYS:signal=KILL:when=N`), which
//!     is deterministic, unlike a timer.
//!
//! After each trial, in this order:
//! 1. Recovery, exactly as the next dashkey command that takes the lock runs it first
//!    (`dashkey::store::lock`: it completes or undoes an in-place write that a kill
//!    interrupted, removes temporaries, and the empty directories a killed run's directory
//!    journal lists). Then **every file under HOME holds its old bytes or its
//!    new bytes** (old: before the faulted command; new: after the same command run without
//!    faults in an identical home), the hard link is still one inode, the symlink still a
//!    link, and the record, when present, parses and names the key that was set.
//! 2. The command is run again without faults (the user's retry) and must succeed.
//! 3. `unset` runs, and then no key is left anywhere under HOME (every file is searched) and
//!    HOME is exactly as it was before the first dashkey command: no temporaries, journals,
//!    empty created files, stray backups or directories.
//!
//! On top of the walk, [`kills_at_random_delays`] kills each case at random moments (seed
//! printed; `DASHKEY_FAULT_SEED` replays it), with the same checks.

// Unix only: these tests use unix modes, owners, links, devices or signals (std::os::unix).
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use common::{KEY, Sandbox, paths_containing, tool};
use dashkey::ApiKey;

/// At most this many values of N per syscall and fault kind.
const MAX_PER_SYSCALL: usize = 8;
const SYSCALLS: [&str; 5] = ["write", "fsync", "renameat", "unlink", "ftruncate"];
const BASHRC: &str = "# my bashrc\nalias ll='ls -l'\nexport EDITOR=vi\n";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Config {
    Plain,
    HardLink,
    SymLink,
}

impl Config {
    const ALL: [Config; 3] = [Config::Plain, Config::HardLink, Config::SymLink];

    fn name(self) -> &'static str {
        match self {
            Config::Plain => "plain",
            Config::HardLink => "hardlink",
            Config::SymLink => "symlink",
        }
    }
}

/// A home with the configuration's `.bashrc`; for `unset` and `region`, after a clean `set`.
/// Returns the sandbox and the snapshot of HOME before any dashkey command.
fn prepare(command: &str, config: Config) -> (Sandbox, BTreeMap<PathBuf, String>) {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.home.join("dotfiles")).unwrap();
    match config {
        Config::Plain => {
            sandbox.write(".bashrc", BASHRC);
        }
        Config::HardLink => {
            let rc = sandbox.write(".bashrc", BASHRC);
            fs::hard_link(rc, sandbox.home.join("dotfiles/bashrc")).unwrap();
        }
        Config::SymLink => {
            sandbox.write("dotfiles/bashrc", BASHRC);
            symlink("dotfiles/bashrc", sandbox.home.join(".bashrc")).unwrap();
        }
    }
    let pristine = common::snapshot(&sandbox.home);
    if command != "set" {
        sandbox.run(&set_args(), Some(KEY)).expect_code(0);
    }
    (sandbox, pristine)
}

fn set_args() -> Vec<&'static str> {
    vec!["set", "--offline", "--stdin", "--shell", "bash"]
}

fn args_of(command: &str) -> Vec<&'static str> {
    match command {
        "set" => set_args(),
        "unset" => vec!["unset"],
        _ => vec!["region", "ap-southeast-1"],
    }
}

/// Every regular file under HOME by relative path, HOME's own path written as `~` (so homes
/// can be compared), without the record (which holds times) and the transient files.
fn contents(home: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let home_text = home.to_string_lossy().into_owned();
    let mut out = BTreeMap::new();
    let mut stack = vec![home.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() && !transient(&name) && name != "record.json" {
                let text =
                    String::from_utf8_lossy(&fs::read(&path).unwrap()).replace(&home_text, "~");
                out.insert(path.strip_prefix(home).unwrap().to_path_buf(), text.into_bytes());
            }
        }
    }
    out
}

fn transient(name: &str) -> bool {
    (name.contains(".dashkey-") && name.ends_with(".tmp")) || name.starts_with(".dashkey-journal-")
}

/// How many times the command makes each syscall, from one run without faults.
fn count_syscalls(strace: &str, command: &str, config: Config) -> BTreeMap<&'static str, usize> {
    let (sandbox, _) = prepare(command, config);
    let trace = sandbox.root().join("trace");
    let filter = format!("trace={}", SYSCALLS.join(","));
    let wrapper = [strace, "-f", "-qq", "-o", trace.to_str().unwrap(), "-e", &filter];
    sandbox.run_wrapped(&wrapper, &args_of(command), Some(KEY)).expect_code(0);
    let text = fs::read_to_string(&trace).unwrap();
    let mut counts = BTreeMap::new();
    for line in text.lines().filter(|l| !l.contains("resumed>")) {
        let call = line.split_whitespace().find(|w| w.contains('(')).unwrap_or("");
        let name = call.split('(').next().unwrap_or("");
        if let Some(known) = SYSCALLS.iter().find(|s| **s == name) {
            *counts.entry(*known).or_insert(0) += 1;
        }
    }
    counts
}

/// The values of N to try for a syscall made `count` times.
fn walk(count: usize) -> Vec<usize> {
    if count <= MAX_PER_SYSCALL {
        return (1..=count).collect();
    }
    let mut out: Vec<usize> =
        (0..MAX_PER_SYSCALL).map(|i| 1 + i * (count - 1) / (MAX_PER_SYSCALL - 1)).collect();
    out.dedup();
    out
}

#[derive(Default)]
struct Tally {
    trials: usize,
    failures: Vec<String>,
}

impl Tally {
    /// Prints the trial count (the README quotes it) and fails with every failed trial.
    fn finish(&self, what: &str) {
        println!("{what}: {} trials", self.trials);
        assert!(
            self.failures.is_empty(),
            "{} failed trial(s):\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

fn run_suite(command: &str) {
    let Some(strace) = tool("strace") else { return };
    let strace = strace.to_str().unwrap().to_string();
    let mut tally = Tally::default();
    for config in Config::ALL {
        // The new state: the same command without faults, in an identical home.
        let (reference, _) = prepare(command, config);
        reference.run(&args_of(command), Some(KEY)).expect_code(0);
        let new = contents(&reference.home);
        let counts = count_syscalls(&strace, command, config);
        for (syscall, count) in &counts {
            // The in-place write of a hard-linked file is walked call by call.
            let every = config == Config::HardLink && matches!(*syscall, "write" | "ftruncate");
            let values = if every { (1..=*count).collect() } else { walk(*count) };
            for n in values {
                for fault in ["error=EIO", "signal=KILL"] {
                    tally.trials += 1;
                    let label = format!("{command} {} {syscall}:{fault}:when={n}", config.name());
                    let fault = Fault::Strace { strace: &strace, syscall, what: fault, n };
                    trial(command, config, fault, &new, &label, &mut tally);
                }
            }
        }
    }
    tally.finish(&format!("fault injection, {command}"));
}

/// One way to interrupt the command.
enum Fault<'a> {
    /// strace injects `what` (`error=EIO`, `signal=KILL`) at the Nth call of `syscall`.
    Strace { strace: &'a str, syscall: &'a str, what: &'a str, n: usize },
    /// SIGKILL after this long.
    Delay(std::time::Duration),
}

fn trial(
    command: &str,
    config: Config,
    fault: Fault,
    new: &BTreeMap<PathBuf, Vec<u8>>,
    label: &str,
    tally: &mut Tally,
) {
    let (sandbox, pristine) = prepare(command, config);
    let home = &sandbox.home;
    let old = contents(home);
    match fault {
        Fault::Strace { strace, syscall, what, n } => {
            let filter = format!("trace={syscall}");
            let inject = format!("inject={syscall}:{what}:when={n}");
            let wrapper = [strace, "-f", "-qq", "-o", "/dev/null", "-e", &filter, "-e", &inject];
            sandbox.run_wrapped(&wrapper, &args_of(command), Some(KEY));
        }
        Fault::Delay(delay) => {
            use std::io::Write;
            let mut command_line = sandbox.command();
            command_line.args(args_of(command));
            command_line.stdin(std::process::Stdio::piped());
            command_line.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
            let mut child = command_line.spawn().unwrap();
            let _ = child.stdin.take().unwrap().write_all(KEY.as_bytes());
            std::thread::sleep(delay);
            let _ = child.kill();
            child.wait().unwrap();
        }
    }

    let mut failures: Vec<String> = Vec::new();

    // 1. What the next locked command does first; then every file is old or new.
    let platform = dashkey::Platform::simulated(
        dashkey::Os::Linux,
        [("HOME", home.to_str().expect("a UTF-8 sandbox path"))],
    );
    drop(dashkey::store::lock(&platform).expect("the next command takes the lock"));
    let now = contents(home);
    for path in old.keys().chain(new.keys()).chain(now.keys()) {
        let current = now.get(path);
        if current != old.get(path) && current != new.get(path) {
            failures.push(format!(
                "{} is neither old nor new: {:?}",
                path.display(),
                current.map(|b| String::from_utf8_lossy(b).into_owned())
            ));
        }
    }
    match config {
        Config::HardLink => {
            let a = fs::metadata(home.join(".bashrc")).unwrap();
            let b = fs::metadata(home.join("dotfiles/bashrc")).unwrap();
            if a.ino() != b.ino() {
                failures.push("the hard link was split".to_string());
            }
        }
        Config::SymLink => {
            if !fs::symlink_metadata(home.join(".bashrc")).unwrap().file_type().is_symlink() {
                failures.push("the symlink was replaced".to_string());
            }
        }
        Config::Plain => {}
    }
    // The record is written last by set and removed last by unset: when it is there, it is
    // whole and names the key that was set.
    let record = home.join(".config/dashkey/record.json");
    if let Ok(bytes) = fs::read(&record) {
        match serde_json::from_slice::<dashkey::edit::record::Record>(&bytes) {
            Ok(record) if record.fingerprint == Some(ApiKey::verbatim(KEY).fingerprint()) => {}
            Ok(_) => failures.push("record.json names another key".to_string()),
            Err(e) => failures.push(format!("record.json does not parse: {e}")),
        }
    }

    // 2. The user's retry.
    let retry = sandbox.run(&args_of(command), Some(KEY));
    if retry.code != 0 {
        failures.push(format!("the retry failed: {}", retry.stderr.trim()));
    }

    // 3. unset leaves nothing: no key, and HOME as it was before dashkey.
    let unset = sandbox.run(&["unset"], None);
    if unset.code != 0 {
        failures.push(format!("unset failed: {}", unset.stderr.trim()));
    }
    let keys: Vec<PathBuf> = paths_containing(home, KEY)
        .into_iter()
        .map(|p| p.strip_prefix(home).unwrap().to_path_buf())
        .collect();
    let after = common::snapshot(home);
    let extra: Vec<&PathBuf> = after.keys().filter(|p| !pristine.contains_key(*p)).collect();
    let changed: Vec<&PathBuf> =
        pristine.keys().filter(|p| after.get(*p) != pristine.get(*p)).collect();
    if !(keys.is_empty() && extra.is_empty() && changed.is_empty()) {
        failures.push(format!("after unset: key in {keys:?}, left {extra:?}, changed {changed:?}"));
    }
    tally.failures.extend(failures.into_iter().map(|what| format!("{label}: {what}")));
}

/// Kills at random delays per command and configuration, on top of the deterministic walk.
const RANDOM_KILLS: usize = 4;

/// SIGKILL after a random delay (up to the command's usual run time), with a printed seed;
/// `DASHKEY_FAULT_SEED` replays a run.
#[test]
fn kills_at_random_delays() {
    let seed: u64 = std::env::var("DASHKEY_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as u64
        })
        | 1;
    println!("random kills: seed {seed} (replay with DASHKEY_FAULT_SEED={seed})");
    let mut state = seed;
    let mut next = move || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut tally = Tally::default();
    for command in ["set", "unset", "region"] {
        for config in Config::ALL {
            let (reference, _) = prepare(command, config);
            let started = std::time::Instant::now();
            reference.run(&args_of(command), Some(KEY)).expect_code(0);
            let usual = started.elapsed().as_micros().max(1) as u64;
            let new = contents(&reference.home);
            for _ in 0..RANDOM_KILLS {
                let delay = std::time::Duration::from_micros(next() % usual);
                tally.trials += 1;
                let label =
                    format!("{command} {} kill after {delay:?} (seed {seed})", config.name());
                trial(command, config, Fault::Delay(delay), &new, &label, &mut tally);
            }
        }
    }
    tally.finish(&format!("random kills (seed {seed})"));
}

#[test]
fn faults_during_set() {
    run_suite("set");
}

#[test]
fn faults_during_unset() {
    run_suite("unset");
}

#[test]
fn faults_during_region() {
    run_suite("region");
}
