//! Trust, reads: no file a user (or an attacker) can put in dashkey's way makes it hang, read
//! without end, or take more than linear time.
//!
//! Every run here is bounded by a hang guard (`Sandbox::run_bounded`), so a regression fails
//! instead of hanging CI. FIFOs and devices are made inside the sandbox, never under `/dev`.

// Unix only: these tests use unix modes, owners, links, devices or signals (std::os::unix).
#![cfg(unix)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{KEY, Sandbox};

/// Both outputs of a run, for "says why" checks.
fn said(run: &common::Run) -> String {
    format!("{}\n{}", run.stdout, run.stderr)
}

/// `status` and `doctor` both finish and name `path` as not a regular file.
#[track_caller]
fn status_and_doctor_skip(sandbox: &Sandbox, path: &Path, doctor_args: &[&str]) {
    // Reports may show the path under HOME as `~/…`: the file name is in either form.
    let shown = path.file_name().unwrap().to_string_lossy().into_owned();
    let status = sandbox.run_bounded(&["status"], None);
    assert!(status.code == 0 || status.code == 1, "{}", said(&status));
    let mut args = vec!["doctor"];
    args.extend_from_slice(doctor_args);
    let doctor = sandbox.run_bounded(&args, None);
    assert!(doctor.code >= 0, "{}", said(&doctor));
    let text = said(&doctor);
    assert!(
        text.contains(&shown) && text.contains("not a regular file"),
        "doctor does not say that {shown} was skipped:\n{text}"
    );
    let json = sandbox.run_bounded(&[&args[..], &["--json"]].concat(), None);
    json.json();
}

#[test]
fn a_fifo_as_profile_is_skipped_by_status_and_doctor() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.fifo(".profile");
    status_and_doctor_skip(&sandbox, &fifo, &[]);
}

#[test]
fn a_fifo_as_env_is_skipped_by_status_and_doctor() {
    let mut sandbox = Sandbox::new();
    let fifo = sandbox.fifo("kshenv");
    sandbox.env("ENV", fifo.to_str().unwrap());
    status_and_doctor_skip(&sandbox, &fifo, &[]);
}

#[test]
fn a_fifo_as_the_sdk_key_file_is_reported_not_read() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.fifo(".dashscope/api_key");
    let status = sandbox.run_bounded(&["status"], None);
    let text = said(&status);
    assert!(text.contains("not a regular file"), "{text}");
    status_and_doctor_skip(&sandbox, &fifo, &[]);
}

#[test]
fn a_fifo_named_by_the_file_path_variable_is_reported_not_read() {
    let mut sandbox = Sandbox::new();
    let fifo = sandbox.fifo("key-pipe");
    sandbox.env("DASHSCOPE_API_KEY_FILE_PATH", fifo.to_str().unwrap());
    let status = sandbox.run_bounded(&["status", "--json"], None);
    assert!(said(&status).contains("not-regular"), "{}", said(&status));
    status_and_doctor_skip(&sandbox, &fifo, &[]);
}

#[test]
fn a_fifo_as_a_units_environment_file_is_reported_not_read() {
    let mut sandbox = Sandbox::new();
    let units = sandbox.root().join("units");
    fs::create_dir_all(&units).unwrap();
    sandbox.env("SYSTEMD_UNIT_PATH", units.to_str().unwrap());
    let fifo = sandbox.fifo("app.env");
    fs::write(
        units.join("app.service"),
        format!("[Service]\nExecStart=/bin/true\nEnvironmentFile={}\n", fifo.display()),
    )
    .unwrap();
    status_and_doctor_skip(&sandbox, &fifo, &["--systemd", "app"]);
}

#[test]
fn a_fifo_as_a_supervisord_include_is_reported_not_read() {
    let sandbox = Sandbox::new();
    let dir = sandbox.home.join("supervisor");
    fs::create_dir_all(dir.join("conf.d")).unwrap();
    let conf = dir.join("supervisord.conf");
    fs::write(&conf, "[supervisord]\nnodaemon=true\n\n[include]\nfiles = conf.d/*.conf\n").unwrap();
    fs::write(dir.join("conf.d/a.conf"), "[program:app]\ncommand=/bin/true\n").unwrap();
    let fifo = sandbox.fifo("supervisor/conf.d/b.conf");
    let conf = conf.to_str().unwrap().to_string();
    status_and_doctor_skip(&sandbox, &fifo, &["--supervisord", "app", "-c", &conf]);
}

/// `.bashrc` a symlink to a character device: `mknod c 1 5` (the zero device) inside the
/// sandbox, which reads zeros without end.
#[test]
fn a_bashrc_linked_to_an_endless_device_is_skipped_and_set_refuses_it() {
    let sandbox = Sandbox::new();
    let device = sandbox.root().join("zero");
    let made = Command::new("mknod").arg(&device).args(["c", "1", "5"]).status().unwrap();
    assert!(made.success(), "mknod needs root (tests run as root)");
    std::os::unix::fs::symlink(&device, sandbox.home.join(".bashrc")).unwrap();
    status_and_doctor_skip(&sandbox, &sandbox.home.join(".bashrc"), &[]);

    // set names the file and does not hang; the device is still a device.
    let set = sandbox.run_bounded(&["set", "--stdin", "--offline", "--dry-run"], Some(KEY));
    assert_ne!(set.code, 0, "{}", said(&set));
    assert!(said(&set).contains(".bashrc"), "{}", said(&set));
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::metadata(&device).unwrap().file_type().is_char_device());
}

#[test]
fn set_refuses_a_fifo_startup_file_by_name_without_hanging() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.fifo(".bashrc");
    for args in
        [&["set", "--stdin", "--offline", "--dry-run"][..], &["set", "--stdin", "--offline"]]
    {
        let set = sandbox.run_bounded(args, Some(KEY));
        assert_ne!(set.code, 0, "{}", said(&set));
        let text = said(&set);
        assert!(text.contains(".bashrc") && text.contains("not a regular file"), "{text}");
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

/// A sudoers `@includedir` loop: every file in `sudoers.d` includes its own directory again.
/// `doctor` reads sudo's policy from `/etc/sudoers`, so the test runs it in a private mount
/// namespace where the sandbox's policy is bind-mounted there (nothing outside changes);
/// skipped where namespaces are not allowed.
#[test]
fn a_sudoers_include_loop_reads_each_file_once() {
    let mut sandbox = Sandbox::new();
    let policy = sandbox.root().join("sudoers");
    let dir = sandbox.root().join("sudoers.d");
    fs::create_dir(&dir).unwrap();
    fs::write(&policy, format!("Defaults env_reset\n@includedir {}\n", dir.display())).unwrap();
    for name in ["a", "b", "c", "d", "e", "f"] {
        fs::write(dir.join(name), "@includedir .\nDefaults env_keep += \"DASHSCOPE_*\"\n").unwrap();
    }
    let probe = Command::new("unshare")
        .args(["-m", "sh", "-c", "mount --bind \"$1\" /etc/sudoers", "sh"])
        .arg(&policy)
        .stderr(std::process::Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("notice: cannot make a mount namespace here; skipping the sudoers loop test");
        return;
    }
    sandbox.env("SUDO_USER", "ana");
    let bin = assert_cmd::cargo::cargo_bin("dashkey");
    let mut command = sandbox.program("unshare");
    command
        .args(["-m", "sh", "-c", "mount --bind \"$1\" /etc/sudoers && exec \"$2\" doctor --json"])
        .arg("sh")
        .arg(&policy)
        .arg(&bin)
        .stdin(std::process::Stdio::null());
    let output =
        assert_cmd::Command::from_std(command).timeout(common::HANG_GUARD).output().unwrap();
    assert!(output.status.code().is_some(), "doctor hung on the include loop");
    let run = common::Run::from(output);
    let finding = run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "sudo")
        .cloned()
        .unwrap_or_else(|| panic!("no sudo finding:\n{}", run.stdout));
    // The policy was read (through the loop) and its env_keep seen.
    assert!(finding["detail"].as_str().unwrap().contains("keeps it"), "{finding}");
}

// ---------------------------------------------------------------------------------------
// Linear work: big startup files finish (under the hang guard) with the right verdict.

/// The `conflicting-assignments` finding's detail from `doctor --json`.
fn conflicts(sandbox: &Sandbox) -> String {
    let run = sandbox.run_bounded(&["doctor", "--json"], None);
    let report = run.json();
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "conflicting-assignments")
        .cloned()
        .unwrap_or_else(|| panic!("no conflicting-assignments finding"));
    finding["detail"].as_str().unwrap().to_string()
}

fn key(i: usize) -> String {
    format!("sk-{i:032x}")
}

/// `~/.profile` and `~/.bashrc` each hold 1,000 `. <the other>` + assignment pairs: the
/// replay used to walk the other file once per `.` line (a million walks per session).
#[test]
fn a_thousand_sourcing_pairs_finish_with_the_last_line_winning() {
    let sandbox = Sandbox::new();
    let mut profile = String::new();
    let mut bashrc = String::new();
    for i in 0..1000 {
        profile.push_str(&format!(". ~/.bashrc\nexport DASHSCOPE_API_KEY={}\n", key(i)));
        bashrc.push_str(&format!(". ~/.profile\nexport DASHSCOPE_API_KEY={}\n", key(5000 + i)));
    }
    sandbox.write(".profile", profile);
    sandbox.write(".bashrc", bashrc);
    let detail = conflicts(&sandbox);
    assert!(detail.contains("~/.profile:2000 wins in bash login shells"), "{detail}");
    assert!(detail.contains("~/.bashrc:2000 wins in interactive bash"), "{detail}");
    let set = sandbox.run_bounded(&["set", "--stdin", "--offline", "--dry-run"], Some(KEY));
    set.expect_code(0);
    // Both last lines are met after a hook in some session (the other file's hook), as
    // before; what matters here is that set finishes and names them.
    for last in ["~/.bashrc:2000 sets DASHSCOPE_API_KEY", "~/.profile:2000 sets DASHSCOPE_API_KEY"]
    {
        assert!(said(&set).contains(last), "{last}:\n{}", said(&set));
    }
}

/// 20,000 `export DASHSCOPE_API_KEY=` lines (each line used to format ~65 patterns, and each
/// "which line wins" question replayed every session).
#[test]
fn twenty_thousand_assignments_finish_with_the_last_line_winning() {
    let sandbox = Sandbox::new();
    let text: String =
        (0..20_000).map(|i| format!("export DASHSCOPE_API_KEY={}\n", key(i))).collect();
    sandbox.write(".bashrc", text);
    let detail = conflicts(&sandbox);
    assert!(detail.contains("~/.bashrc:20000 wins in interactive bash"), "{detail}");
    let set = sandbox.run_bounded(&["set", "--stdin", "--offline", "--dry-run"], Some(KEY));
    set.expect_code(0);
    assert!(said(&set).contains("~/.bashrc:20000 also sets"), "{}", said(&set));
    // Migrating them all: the diff masks 20,000 keys in one pass, the note is one line.
    let migrate =
        sandbox.run_bounded(&["set", "--stdin", "--offline", "--migrate", "--dry-run"], Some(KEY));
    migrate.expect_code(0);
    assert!(
        said(&migrate).contains("removed line(s) 1-20000 from ~/.bashrc"),
        "{}",
        said(&migrate)
    );
}

/// 10 MB of ordinary lines and one assignment at the end: read, judged and edited.
#[test]
fn ten_megabytes_of_ordinary_lines_are_handled() {
    let sandbox = Sandbox::new();
    let line = "alias ll='ls -alF --color=auto'  # an ordinary line of a generated bashrc\n";
    let mut text = line.repeat(10 * 1024 * 1024 / line.len());
    let lines = text.lines().count();
    text.push_str(&format!("export DASHSCOPE_API_KEY={OTHER}\n", OTHER = common::OTHER_KEY));
    sandbox.write(".bashrc", &text);
    let run = sandbox.run_bounded(&["doctor", "--json"], None);
    let report = run.json();
    let plaintext = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "plaintext-in-dotfiles")
        .cloned()
        .unwrap_or_else(|| panic!("no plaintext-in-dotfiles finding:\n{}", run.stdout));
    let at = format!("line {}", lines + 1);
    assert!(plaintext["title"].as_str().unwrap().contains(&at), "{plaintext}");
    sandbox.run_bounded(&["set", "--stdin", "--offline"], Some(KEY)).expect_code(0);
    let after = String::from_utf8(sandbox.read(".bashrc")).unwrap();
    assert!(after.starts_with(&text), "the 10 MB before the hook are kept byte for byte");
    assert!(after.contains("# >>> dashkey >>>"));
}

/// Files larger than their kind's cap are refused by size, before any byte is read: a sparse
/// 300 MiB `.bashrc` (no disk used) and a sparse 2 MiB key file.
#[test]
fn files_far_larger_than_their_kind_are_skipped_by_size() {
    let sandbox = Sandbox::new();
    let bashrc = sandbox.write(".bashrc", "");
    fs::File::options().write(true).open(&bashrc).unwrap().set_len(300 << 20).unwrap();
    let key_file = sandbox.write(".dashscope/api_key", "");
    fs::File::options().write(true).open(&key_file).unwrap().set_len(2 << 20).unwrap();
    let doctor = sandbox.run_bounded(&["doctor"], None);
    let text = said(&doctor);
    assert!(text.contains("~/.bashrc was not read: it is larger than 256 MiB"), "{text}");
    let status = sandbox.run_bounded(&["status"], None);
    assert!(said(&status).contains("too large for a key file; not read"), "{}", said(&status));
    let set = sandbox.run_bounded(&["set", "--stdin", "--offline", "--dry-run"], Some(KEY));
    assert_ne!(set.code, 0, "{}", said(&set));
    assert!(said(&set).contains(".bashrc: it is larger than 256 MiB"), "{}", said(&set));
}
