//! Running processes: what they are, when they started, and which environment they got.
//!
//! A program keeps the environment it was started with. An IDE opened before the key was
//! stored never sees it, however many terminals the user opens afterwards (FAQ scenario 2),
//! and the only fix is to restart it. To say so with certainty, `dashkey doctor` reads what
//! Linux publishes about each process under `/proc`: its name and start time from
//! `/proc/<pid>/stat`, its command line, and its *initial* environment from
//! `/proc/<pid>/environ` (readable for the user's own processes; permission denied for
//! others', which is an answer too).
//!
//! Everything is read from a root directory given by the caller, `/proc` by default, so that
//! tests can point a [`ProcTable`] at a made-up tree. Listing reads one small file per
//! process and nothing else, so a machine with hundreds of processes is scanned in a few
//! milliseconds; command lines and environments are read only for the processes asked about.
//!
//! On systems without `/proc` (macOS, Windows) the table is simply empty.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

/// One process, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Process id.
    pub pid: u32,
    /// Parent's process id.
    pub ppid: u32,
    /// The kernel's name for it (`comm`: the executable's base name, at most 15 bytes).
    pub name: String,
    /// Start time in clock ticks after boot (`/proc/<pid>/stat` field 22).
    pub start_ticks: u64,
}

/// Why a process's environment could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvironError {
    /// The process belongs to another user (or is not dumpable).
    #[error("permission denied")]
    Denied,
    /// The process has exited.
    #[error("the process has exited")]
    Gone,
    /// Any other failure.
    #[error("cannot be read")]
    Unreadable,
}

/// A view of the processes of a Linux-style proc file system.
#[derive(Debug)]
pub struct ProcTable {
    root: PathBuf,
    ticks_per_second: u64,
    boot: OnceLock<Option<f64>>,
}

impl ProcTable {
    /// The running system's `/proc`, with the kernel's clock-tick rate.
    pub fn system() -> ProcTable {
        ProcTable::at("/proc", sys::clock_ticks())
    }

    /// A proc tree at another root (tests build one in a temporary directory), whose `stat`
    /// start times count `ticks_per_second` ticks per second.
    pub fn at(root: impl Into<PathBuf>, ticks_per_second: u64) -> ProcTable {
        ProcTable {
            root: root.into(),
            ticks_per_second: ticks_per_second.max(1),
            boot: OnceLock::new(),
        }
    }

    /// The root directory this table reads.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every process, in no particular order. Processes that exit while the table is read are
    /// left out.
    pub fn list(&self) -> Vec<Process> {
        let Ok(entries) = std::fs::read_dir(&self.root) else { return Vec::new() };
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| self.process(pid))
            .collect()
    }

    /// One process, or `None` when there is no such process.
    pub fn process(&self, pid: u32) -> Option<Process> {
        let stat =
            crate::world::read::read_proc(&self.root.join(pid.to_string()).join("stat")).ok()?;
        parse_stat(pid, &String::from_utf8_lossy(&stat))
    }

    /// The command line: the program as started and its arguments (empty for kernel threads).
    pub fn cmdline(&self, pid: u32) -> Option<Vec<String>> {
        let bytes =
            crate::world::read::read_proc(&self.root.join(pid.to_string()).join("cmdline")).ok()?;
        Some(
            bytes
                .split(|&b| b == 0)
                .filter(|part| !part.is_empty())
                .map(|part| String::from_utf8_lossy(part).into_owned())
                .collect(),
        )
    }

    /// The working directory, when it can be read.
    pub fn cwd(&self, pid: u32) -> Option<PathBuf> {
        std::fs::read_link(self.root.join(pid.to_string()).join("cwd")).ok()
    }

    /// The user id that owns the process.
    pub fn owner(&self, pid: u32) -> Option<u32> {
        sys::owner(&self.root.join(pid.to_string()))
    }

    /// The variables the process was started with, keeping only those `keep` accepts (the
    /// rest of a process's environment is none of dashkey's business, and may hold other
    /// secrets).
    ///
    /// # Errors
    ///
    /// [`EnvironError`] when the process is gone or its environment cannot be read.
    pub fn environ(
        &self,
        pid: u32,
        keep: impl Fn(&str) -> bool,
    ) -> Result<BTreeMap<String, String>, EnvironError> {
        let path = self.root.join(pid.to_string()).join("environ");
        let bytes =
            Zeroizing::new(crate::world::read::read_proc(&path).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => EnvironError::Gone,
                io::ErrorKind::PermissionDenied => EnvironError::Denied,
                _ => EnvironError::Unreadable,
            })?);
        Ok(bytes
            .split(|&b| b == 0)
            .filter_map(|entry| {
                let text = std::str::from_utf8(entry).ok()?;
                let (name, value) = text.split_once('=')?;
                keep(name).then(|| (name.to_string(), value.to_string()))
            })
            .collect())
    }

    /// When the process started, as wall-clock time: boot time plus its start ticks.
    pub fn started_at(&self, process: &Process) -> Option<SystemTime> {
        let boot = (*self.boot.get_or_init(|| self.read_boot_time()))?;
        let seconds = boot + process.start_ticks as f64 / self.ticks_per_second as f64;
        (seconds >= 0.0).then(|| UNIX_EPOCH + Duration::from_secs_f64(seconds))
    }

    /// Boot time in seconds since the epoch. `/proc/stat`'s `btime` is whole seconds, which
    /// is too coarse to order a process against a file written in the same second; when
    /// `/proc/uptime` agrees with it, "now minus uptime" gives the fraction as well.
    fn read_boot_time(&self) -> Option<f64> {
        let stat = crate::world::read::read_proc(&self.root.join("stat")).ok()?;
        let stat = String::from_utf8_lossy(&stat);
        let btime: f64 =
            stat.lines().find_map(|line| line.strip_prefix("btime "))?.trim().parse().ok()?;
        let precise =
            crate::world::read::read_proc(&self.root.join("uptime")).ok().and_then(|text| {
                let text = String::from_utf8_lossy(&text);
                let uptime: f64 = text.split_whitespace().next()?.parse().ok()?;
                let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
                Some(now - uptime)
            });
        Some(match precise {
            Some(precise) if (precise - btime).abs() < 1.5 => precise,
            _ => btime,
        })
    }
}

/// Parses `/proc/<pid>/stat`: `pid (comm) state ppid … starttime …`. The name may hold
/// spaces and parentheses, so the fields after it are found from the *last* `)`.
fn parse_stat(pid: u32, text: &str) -> Option<Process> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // fields[0] is field 3 (state); field N is fields[N - 3].
    let ppid = fields.get(4 - 3)?.parse().ok()?;
    let start_ticks = fields.get(22 - 3)?.parse().ok()?;
    Some(Process { pid, ppid, name, start_ticks })
}

/// The user id of this process (the owner of the processes it can fully inspect).
pub fn current_uid() -> Option<u32> {
    sys::current_uid()
}

#[cfg(unix)]
#[path = "procs/unix.rs"]
mod sys;
#[cfg(not(unix))]
#[path = "procs/windows.rs"]
mod sys;

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A proc tree with one process and a boot time.
    fn tree(stat: &str, environ: &[u8]) -> (tempfile::TempDir, ProcTable) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("stat"), "cpu 1 2 3\nbtime 1700000000\nprocesses 9\n").unwrap();
        let proc = dir.path().join("42");
        fs::create_dir(&proc).unwrap();
        fs::write(proc.join("stat"), stat).unwrap();
        fs::write(proc.join("environ"), environ).unwrap();
        fs::write(proc.join("cmdline"), b"/usr/bin/python3\0-m\0jupyter\0lab\0").unwrap();
        let table = ProcTable::at(dir.path(), 100);
        (dir, table)
    }

    const STAT: &str = "42 (my (odd) name) S 7 42 42 0 -1 4194304 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000 50 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";

    #[test]
    fn stat_fields_are_found_after_the_last_parenthesis() {
        let process = parse_stat(42, STAT).unwrap();
        assert_eq!(
            process,
            Process { pid: 42, ppid: 7, name: "my (odd) name".into(), start_ticks: 12345 }
        );
        assert_eq!(parse_stat(1, "1 (x) S"), None);
    }

    #[test]
    fn start_time_is_boot_time_plus_ticks() {
        let (_dir, table) = tree(STAT, b"");
        let process = table.list().pop().unwrap();
        let started = table.started_at(&process).unwrap();
        let seconds = started.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        assert!((seconds - 1_700_000_123.45).abs() < 1e-3, "{seconds}");
    }

    #[test]
    fn environ_keeps_only_what_is_asked_and_cmdline_splits_on_nul() {
        let (_dir, table) = tree(STAT, b"HOME=/home/ana\0SECRET=x\0DASHSCOPE_API_KEY=sk-1\0junk\0");
        let env = table.environ(42, |name| name != "SECRET").unwrap();
        assert_eq!(env.len(), 2);
        assert_eq!(env["DASHSCOPE_API_KEY"], "sk-1");
        assert_eq!(table.cmdline(42).unwrap(), ["/usr/bin/python3", "-m", "jupyter", "lab"]);
        assert_eq!(table.environ(7, |_| true), Err(EnvironError::Gone));
    }

    #[test]
    fn an_unreadable_environ_is_reported_not_fatal() {
        let (dir, table) = tree(STAT, b"");
        let environ = dir.path().join("42/environ");
        fs::remove_file(&environ).unwrap();
        fs::create_dir(&environ).unwrap();
        assert_eq!(table.environ(42, |_| true), Err(EnvironError::Unreadable));
    }

    #[test]
    fn the_real_proc_lists_this_process() {
        let table = ProcTable::system();
        if !table.root().join("self").exists() {
            return;
        }
        let me = std::process::id();
        let process = table.process(me).unwrap();
        let started = table.started_at(&process).unwrap();
        let age = SystemTime::now().duration_since(started).unwrap_or_default();
        assert!(age < Duration::from_secs(3600), "{age:?}");
        assert!(table.list().iter().any(|p| p.pid == me));
    }
}
