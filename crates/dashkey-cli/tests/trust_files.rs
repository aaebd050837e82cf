//! Issue 9, scope "files": writes survive faults (hard links included), nothing but regular
//! files is written, dashkey's own places refuse planted links, and its directory is private.
//!
//! Faults are injected for real with strace (`-P` restricts them to one file); special files
//! are made with `mknod`/`mkfifo` inside the sandbox, never in `/dev`.

// Unix only: these tests use unix modes, owners, links, devices or signals (std::os::unix).
#![cfg(unix)]

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use common::{KEY, OTHER_KEY, Sandbox, paths_containing, tool};

const BASHRC: &str = "# my bashrc\nalias ll='ls -l'\nexport EDITOR=vi\n";

fn set_args() -> Vec<&'static str> {
    vec!["set", "--offline", "--stdin", "--shell", "bash"]
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A sandbox whose `~/.bashrc` is hard-linked into a dotfiles directory.
fn hard_linked() -> Sandbox {
    let sandbox = Sandbox::new();
    let rc = sandbox.write(".bashrc", BASHRC);
    fs::create_dir(sandbox.home.join("dotfiles")).unwrap();
    fs::hard_link(&rc, sandbox.home.join("dotfiles/bashrc")).unwrap();
    sandbox
}

/// `strace` arguments that watch one syscall on `path` only and inject `fault` into it
/// (`write:error=EIO:when=1`, `ftruncate:signal=KILL:when=1`).
fn inject(strace: &Path, path: &Path, fault: &str) -> Vec<String> {
    let syscall = fault.split(':').next().expect("a syscall");
    [strace.to_str().unwrap(), "-f", "-qq", "-o", "/dev/null", "-P", path.to_str().unwrap()]
        .into_iter()
        .map(str::to_string)
        .chain(["-e".to_string(), format!("trace={syscall}"), "-e".to_string()])
        .chain([format!("inject={fault}")])
        .collect()
}

fn assert_still_linked(sandbox: &Sandbox) {
    let a = fs::metadata(sandbox.home.join(".bashrc")).unwrap();
    let b = fs::metadata(sandbox.home.join("dotfiles/bashrc")).unwrap();
    assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "the hard link was split");
}

#[test]
fn a_failed_write_of_a_hard_linked_startup_file_leaves_its_old_bytes() {
    let Some(strace) = tool("strace") else { return };
    let sandbox = hard_linked();
    let rc = sandbox.home.join(".bashrc");
    // The first write into .bashrc fails with EIO (the repro).
    let faulted = inject(&strace, &rc, "write:error=EIO:when=1");
    let faulted: Vec<&str> = faulted.iter().map(String::as_str).collect();
    let run = sandbox.run_wrapped(&faulted, &set_args(), Some(KEY));
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(fs::read_to_string(&rc).unwrap(), BASHRC, "{run:?}");
    assert!(run.stderr.contains("nothing changed"), "{}", run.stderr);
    assert_still_linked(&sandbox);
    assert!(paths_containing(&sandbox.home, KEY).is_empty(), "a key was left behind");

    // Every write into .bashrc fails, the restore too: no "nothing changed", and the error
    // says where the old bytes are; the next command puts them back.
    let always = inject(&strace, &rc, "write:error=EIO:when=1+");
    let always: Vec<&str> = always.iter().map(String::as_str).collect();
    let run = sandbox.run_wrapped(&always, &set_args(), Some(KEY));
    assert_ne!(run.code, 0, "{run:?}");
    assert!(!run.stderr.contains("nothing changed"), "{}", run.stderr);
    assert!(run.stderr.contains("could not put back"), "{}", run.stderr);
    assert!(run.stderr.contains("old content is in"), "{}", run.stderr);
    sandbox.run(&set_args(), Some(KEY)).expect_code(0);
    assert_still_linked(&sandbox);
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(fs::read_to_string(&rc).unwrap(), BASHRC);
    assert_still_linked(&sandbox);
}

#[test]
fn a_kill_during_an_in_place_write_is_recovered_by_the_next_command() {
    let Some(strace) = tool("strace") else { return };
    // Killed at the first write into .bashrc (old code had truncated it at open), and killed
    // after the write but before the file is cut to length (a torn file: the journal's case).
    for (command, syscall) in [("set", "write"), ("unset", "write"), ("unset", "ftruncate")] {
        let sandbox = hard_linked();
        let rc = sandbox.home.join(".bashrc");
        let before_command = if command == "unset" {
            sandbox.run(&set_args(), Some(KEY)).expect_code(0);
            fs::read_to_string(&rc).unwrap()
        } else {
            BASHRC.to_string()
        };
        let args: Vec<&str> = if command == "set" { set_args() } else { vec!["unset"] };
        let wrapper = inject(&strace, &rc, &format!("{syscall}:signal=KILL:when=1"));
        let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
        let run = sandbox.run_wrapped(&wrapper, &args, Some(KEY));
        assert_ne!(run.code, 0, "{command} {syscall}: not killed: {run:?}");
        let now = fs::read_to_string(&rc).unwrap();
        if now != before_command {
            // Torn or new: a journal must say so, and status must mention it.
            let status = sandbox.run(&["status"], None);
            assert!(status.stderr.contains("pending recovery"), "{command} {syscall}: {now:?}");
            let doctor = sandbox.run(&["doctor", "--json"], None);
            assert!(doctor.stdout.contains("pending-recovery"), "{command} {syscall}");
        }
        // The next command that takes the lock recovers first, then does its work.
        sandbox.run(&set_args(), Some(KEY)).expect_code(0);
        sandbox.run(&["unset"], None).expect_code(0);
        assert_eq!(fs::read_to_string(&rc).unwrap(), BASHRC, "{command} {syscall}");
        assert_still_linked(&sandbox);
        // (Whether a killed `set` leaves ~/.dashscope/api_key behind is the record's business,
        // checked by the fault suite; here: the startup file and its journal.)
        assert!(!String::from_utf8_lossy(&sandbox.read(".bashrc")).contains(KEY));
        assert!(
            fs::read_dir(sandbox.home.join(".config/dashkey"))
                .map(|d| d.flatten().all(|e| !e.file_name().to_string_lossy().contains("journal")))
                .unwrap_or(true),
            "{command} {syscall}: a journal is left"
        );
    }
}

#[test]
fn a_rollback_restores_the_old_mode_of_each_file() {
    let Some(strace) = tool("strace") else { return };
    let sandbox = hard_linked();
    // `dashscope auth login` leaves the SDK key file world-readable; set makes it 0600.
    let sdk = sandbox.write(".dashscope/api_key", format!("{OTHER_KEY}\n"));
    fs::set_permissions(&sdk, fs::Permissions::from_mode(0o644)).unwrap();
    let rc = sandbox.home.join(".bashrc");
    let wrapper = inject(&strace, &rc, "write:error=EIO:when=1");
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let run = sandbox.run_wrapped(&wrapper, &set_args(), Some(KEY));
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("nothing changed"), "{}", run.stderr);
    assert_eq!(fs::read_to_string(&sdk).unwrap(), format!("{OTHER_KEY}\n"));
    assert_eq!(mode(&sdk), 0o644, "the SDK key file came back with another mode");
}

#[test]
fn export_never_replaces_a_device_or_a_fifo_and_dash_means_stdout() {
    let mut sandbox = Sandbox::new();
    sandbox.secret(KEY);
    sandbox.run(&["set", "--offline", "--stdin", "--no-modify-rc"], Some(KEY)).expect_code(0);
    let device = sandbox.root().join("null-device");
    if common::mknod_null(&device) {
        let run = sandbox.run_limited(
            &["export", "--format", "env", "--output", device.to_str().unwrap()],
            None,
            false,
        );
        run.expect_code(3);
        assert!(run.stderr.contains("null-device"), "{}", run.stderr);
        assert!(run.stderr.contains("character device"), "{}", run.stderr);
        assert!(fs::symlink_metadata(&device).unwrap().file_type().is_char_device());
        // Through a user's symlink too.
        let link = sandbox.root().join("env-link");
        symlink(&device, &link).unwrap();
        sandbox
            .run_limited(
                &["export", "--format", "env", "--output", link.to_str().unwrap()],
                None,
                false,
            )
            .expect_code(3);
        assert!(fs::symlink_metadata(&device).unwrap().file_type().is_char_device());
    } else {
        assert!(!common::required(), "mknod failed (tests run as root in CI)");
        eprintln!("notice: mknod not permitted; skipping the device case");
    }
    let fifo = sandbox.root().join("pipe");
    common::mkfifo(&fifo);
    let run = sandbox.run_limited(
        &["export", "--format", "env", "--output", fifo.to_str().unwrap()],
        None,
        false,
    );
    run.expect_code(3);
    assert!(run.stderr.contains("FIFO"), "{}", run.stderr);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    let directory = sandbox.root().join("a-directory");
    fs::create_dir(&directory).unwrap();
    let run = sandbox.run_limited(
        &["export", "--format", "env", "--output", directory.to_str().unwrap()],
        None,
        false,
    );
    run.expect_code(3);
    assert!(directory.is_dir());

    for stdout in ["-", "/dev/stdout"] {
        let run =
            sandbox.run_limited(&["export", "--format", "env", "--output", stdout], None, true);
        run.expect_code(0);
        assert!(run.stdout.contains(KEY), "{stdout}: {run:?}");
    }
    assert!(!sandbox.root().join("-").exists());
}

#[test]
fn set_refuses_a_startup_file_that_links_to_a_device_and_changes_nothing() {
    let sandbox = Sandbox::new();
    let device = sandbox.root().join("null-device");
    if !common::mknod_null(&device) {
        assert!(!common::required(), "mknod failed (tests run as root in CI)");
        return;
    }
    symlink(&device, sandbox.home.join(".bashrc")).unwrap();
    let before = common::snapshot(&sandbox.home);
    let run = sandbox.run(&set_args(), Some(KEY));
    assert_ne!(run.code, 0, "{run:?}");
    // Refused when it is read, before anything is planned: the startup file is named.
    assert!(run.stderr.contains(".bashrc"), "{}", run.stderr);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    assert!(fs::symlink_metadata(&device).unwrap().file_type().is_char_device());
    assert_eq!(common::snapshot(&sandbox.home), before);
}

#[test]
fn links_planted_in_dashkeys_own_places_are_refused_and_their_targets_survive() {
    // A link planted at dashkey's own file: set refuses by name and writes nothing.
    for planted in
        [".config/dashkey/env.sh", ".dashscope/api_key", ".config/environment.d/60-dashkey.conf"]
    {
        let sandbox = Sandbox::new();
        let victim = sandbox.write("elsewhere/victim", "precious\n");
        let link = sandbox.home.join(planted);
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(&victim, &link).unwrap();
        // Not even a dry run shows what the link points to.
        let mut args = set_args();
        args.push("--gui");
        let mut dry = args.clone();
        dry.push("--dry-run");
        let run = sandbox.run(&dry, Some(KEY));
        assert_ne!(run.code, 0, "{planted}: {run:?}");
        assert!(!run.stdout.contains("precious") && !run.stderr.contains("precious"), "{run:?}");
        let run = sandbox.run(&args, Some(KEY));
        assert_ne!(run.code, 0, "{planted}: {run:?}");
        assert!(run.stderr.contains(planted), "{planted}: {}", run.stderr);
        // Refused as a link, or (env.sh) already at planning as a file dashkey did not write.
        assert!(
            run.stderr.contains("symbolic link") || run.stderr.contains("not written by dashkey"),
            "{planted}: {}",
            run.stderr
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n", "{planted}");
        assert!(paths_containing(&sandbox.home, KEY).is_empty(), "{planted}");
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    }
    // A link planted after set: unset never follows it, so its target survives.
    let sandbox = Sandbox::new();
    sandbox.run(&set_args(), Some(KEY)).expect_code(0);
    let victim = sandbox.write("elsewhere/victim", "precious\n");
    let owned = sandbox.home.join(".config/dashkey/env.fish");
    fs::remove_file(&owned).unwrap();
    symlink(&victim, &owned).unwrap();
    let run = sandbox.run(&["unset"], None);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n", "{run:?}");
    // unset removes everything else, and keeps the link, saying so.
    run.expect_code(0);
    assert!(run.stderr.contains("env.fish"), "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    // Once the link is gone, unset completes.
    fs::remove_file(&owned).unwrap();
    sandbox.run(&["unset"], None).expect_code(0);
    assert!(paths_containing(&sandbox.home, KEY).is_empty());
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn dashkeys_directory_is_made_private_or_refused() {
    let sandbox = Sandbox::new();
    sandbox.run(&set_args(), Some(KEY)).expect_code(0);
    let dir = sandbox.home.join(".config/dashkey");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let run = sandbox.run(&set_args(), Some(OTHER_KEY));
    run.expect_code(0);
    assert_eq!(mode(&dir), 0o700);
    assert!(run.stderr.contains("made it private"), "{}", run.stderr);

    // dashkey's directory as a symlink to somewhere else is refused.
    let sandbox = Sandbox::new();
    let elsewhere = sandbox.root().join("shared");
    fs::create_dir(&elsewhere).unwrap();
    fs::create_dir_all(sandbox.home.join(".config")).unwrap();
    symlink(&elsewhere, sandbox.home.join(".config/dashkey")).unwrap();
    let run = sandbox.run(&set_args(), Some(KEY));
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains(".config/dashkey"), "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn under_umask_000_nothing_dashkey_creates_is_group_or_world_writable() {
    let Some(sh) = tool("sh") else { return };
    let mut sandbox = Sandbox::new();
    sandbox.env("XDG_CONFIG_HOME", sandbox.home.join(".config").to_str().unwrap());
    let wrapper = [sh.to_str().unwrap(), "-c", "umask 000; exec \"$@\"", "sh"];
    // Hooks bash (a new .bashrc), the SDK key file, dashkey's own files, the desktop session.
    let mut args = set_args();
    args.push("--gui");
    sandbox.run_wrapped(&wrapper, &args, Some(KEY)).expect_code(0);
    let mut checked = 0;
    for (path, entry) in common::snapshot(&sandbox.home) {
        if entry.starts_with("link") {
            continue;
        }
        let meta = fs::symlink_metadata(sandbox.home.join(&path)).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o022,
            0,
            "{} is group- or world-writable: {entry}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} entries were created");
}

#[test]
fn a_dashkey_directory_owned_by_someone_else_is_refused() {
    let Some(setpriv) = tool("setpriv") else { return };
    let sandbox = Sandbox::new();
    // The user is "nobody" (65534); their dashkey directory belongs to root, and is open to
    // everyone (so writing the key there would succeed, and anyone could swap it).
    fs::set_permissions(sandbox.root(), fs::Permissions::from_mode(0o755)).unwrap();
    let dir = sandbox.home.join(".config/dashkey");
    fs::create_dir_all(&dir).unwrap();
    for path in [sandbox.home.clone(), sandbox.home.join(".config")] {
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    }
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let wrapper = [setpriv.to_str().unwrap(), "--reuid=65534", "--regid=65534", "--clear-groups"];
    let run = sandbox.run_wrapped(&wrapper, &set_args(), Some(KEY));
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains(".config/dashkey"), "{}", run.stderr);
    assert!(run.stderr.contains("belongs to user id 0"), "{}", run.stderr);
    assert!(paths_containing(&sandbox.home, KEY).is_empty());
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn unset_restores_a_hard_linked_startup_file_after_dashkeys_directory_was_deleted() {
    let sandbox = hard_linked();
    sandbox.run(&set_args(), Some(KEY)).expect_code(0);
    fs::remove_dir_all(sandbox.home.join(".config/dashkey")).unwrap();
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(fs::read_to_string(sandbox.home.join(".bashrc")).unwrap(), BASHRC);
    assert_still_linked(&sandbox);
    // The directory made again for the journal is gone again.
    assert!(!sandbox.home.join(".config/dashkey").exists());
}
