//! The checks of [`super::diagnose`] run against a simulated home and process table.

use super::*;
use crate::platform::Os;
use std::fs;
use std::time::Duration;

const KEY: &str = "sk-0123456789abcdef0123456789abcdef";

/// A home with dashkey's file (written now), and a proc tree that booted 1000 s ago.
struct World {
    dir: tempfile::TempDir,
    platform: Platform,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let owned = home.join(".config/dashkey/env.sh");
        fs::create_dir_all(owned.parent().unwrap()).unwrap();
        fs::write(&owned, shell::owned_file(Dialect::Posix, &[(vars::API_KEY, KEY)]).unwrap())
            .unwrap();
        let proc = dir.path().join("proc");
        fs::create_dir_all(&proc).unwrap();
        let boot = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() - 1000;
        fs::write(proc.join("stat"), format!("cpu 0\nbtime {boot}\n")).unwrap();
        let platform = Platform::simulated(
            Os::Linux,
            [("HOME", home.to_str().unwrap()), (vars::API_KEY, KEY)],
        );
        World { dir, platform }
    }

    /// A process started `after_boot` seconds after boot.
    fn process(&self, pid: u32, ppid: u32, name: &str, after_boot: u64, env: Option<&str>) {
        let dir = self.dir.path().join("proc").join(pid.to_string());
        fs::create_dir_all(&dir).unwrap();
        let ticks = after_boot * 100;
        let fields = format!("S {ppid} 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 {ticks} 0 0");
        fs::write(dir.join("stat"), format!("{pid} ({name}) {fields}\n")).unwrap();
        fs::write(dir.join("cmdline"), format!("{name}\0")).unwrap();
        match env {
            Some(env) => fs::write(dir.join("environ"), env.replace(';', "\0")).unwrap(),
            // A directory cannot be read as a file: the environment is unreadable.
            None => fs::create_dir(dir.join("environ")).unwrap(),
        }
    }

    fn diagnose(&self, options: &Options) -> Vec<Finding> {
        let host = Host {
            procs: ProcTable::at(self.dir.path().join("proc"), 100),
            sudoers: self.dir.path().join("sudoers"),
            uid: crate::world::procs::current_uid(),
        };
        diagnose(&self.platform, &host, options, None).unwrap()
    }
}

fn find<'f>(findings: &'f [Finding], id: &str) -> Vec<&'f Finding> {
    findings.iter().filter(|f| f.id == id).collect()
}

#[test]
fn an_unreadable_process_started_before_the_key_was_written_is_a_warning() {
    let world = World::new();
    world.process(300, 1, "python3", 10, None);
    let options = Options { pids: vec![300], ..Options::default() };
    let findings = world.diagnose(&options);
    let stale = find(&findings, id::STALE_PROCESS);
    assert_eq!(stale.len(), 1, "{findings:#?}");
    assert_eq!(stale[0].severity, Severity::Warn);
    assert!(stale[0].title.contains("started before the key was stored"), "{stale:?}");
    assert!(stale[0].detail.contains("cannot read its environment"), "{stale:?}");
    assert!(stale[0].detail.contains("min after it started"), "{stale:?}");

    // Started after the write (in the future of this fixture): only a note.
    let world = World::new();
    world.process(301, 1, "python3", 2000, None);
    let findings = world.diagnose(&Options { pids: vec![301], ..Options::default() });
    assert_eq!(find(&findings, id::STALE_PROCESS)[0].severity, Severity::Info);
}

#[test]
fn ides_are_found_once_per_tree_and_only_for_this_home() {
    let world = World::new();
    let home = world.platform.var("HOME").unwrap().to_string();
    let mine = format!("HOME={home};");
    world.process(100, 1, "code", 10, Some(&mine));
    world.process(101, 100, "code", 11, Some(&mine));
    world.process(200, 1, "cursor", 10, Some("HOME=/home/someone-else;"));
    world.process(400, 1, "jupyter-lab", 10, Some(&format!("{mine}DASHSCOPE_API_KEY={KEY};")));
    let findings = world.diagnose(&Options::default());
    let stale = find(&findings, id::STALE_PROCESS);
    assert_eq!(stale.len(), 2, "{stale:#?}");
    assert!(stale[0].title.starts_with("VS Code (pid 100,"), "{stale:?}");
    assert_eq!(stale[0].severity, Severity::Warn);
    assert!(stale[1].title.starts_with("Jupyter (pid 400,"), "{stale:?}");
    assert_eq!(stale[1].severity, Severity::Ok);
}

#[test]
fn a_missing_pid_is_an_error() {
    let world = World::new();
    let options = Options { pids: vec![999_999], ..Options::default() };
    let host = Host {
        procs: ProcTable::at(world.dir.path().join("proc"), 100),
        sudoers: PathBuf::from("/nonexistent"),
        uid: None,
    };
    let error = diagnose(&world.platform, &host, &options, None).unwrap_err();
    assert_eq!(error, DoctorError::NoSuchProcess(999_999));
}

#[test]
fn times_are_utc_and_spans_are_short() {
    assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
    assert_eq!(utc(UNIX_EPOCH + Duration::from_secs(1_795_711_895)), "2026-11-26 16:51:35 UTC");
    assert_eq!(utc(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29 00:00:00 UTC");
    assert_eq!(span(Duration::from_millis(400)), "0.4 s");
    assert_eq!(span(Duration::from_secs(750)), "13 min");
    assert_eq!(span(Duration::from_secs(7200)), "2 h");
    assert_eq!(span(Duration::from_secs(864_000)), "10 days");
}

#[test]
fn findings_never_show_the_key() {
    let world = World::new();
    world.process(300, 1, "code", 10, Some(&format!("HOME=/x;DASHSCOPE_API_KEY={KEY};")));
    let findings = world.diagnose(&Options { pids: vec![300], ..Options::default() });
    let text = serde_json::to_string(&findings).unwrap();
    assert!(!text.contains(KEY), "{text}");
    assert!(text.contains("sk-…cdef"), "{text}");
}
