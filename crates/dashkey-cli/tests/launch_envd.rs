//! environment.d for programs no shell starts: `set` writes
//! `~/.config/environment.d/60-dashkey.conf` whenever a systemd user manager serves the user
//! (not only with `--gui`), read here by the REAL environment.d generator; a process built
//! from exactly what the generator hands the user manager (`env -i` + its variables) gets
//! the region `set` found online, through the real Python SDK's 1.x and 2.0 surfaces.
//! `--no-desktop` opts out and takes the earlier file back; `unset` restores the home byte
//! for byte; a file the user wrote at that name is never overwritten or removed.
#![cfg(unix)]

mod common;

use std::path::Path;

use common::{KEY, Sandbox, snapshot};

const FILE: &str = ".config/environment.d/60-dashkey.conf";
const GENERATOR: &str =
    "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator";

/// The generator, or a skip (a failure when CI requires every program).
fn generator() -> Option<&'static Path> {
    let path = Path::new(GENERATOR);
    if path.is_file() {
        return Some(path);
    }
    assert!(!common::required(), "{GENERATOR} is required (DASHKEY_REQUIRE_SHELLS=1)");
    eprintln!("notice: no environment.d generator; skipping");
    None
}

/// A sandbox whose user has a running systemd user manager, as `pam_systemd` leaves it: a
/// runtime directory with the manager's `systemd` directory in it.
fn with_user_manager() -> Sandbox {
    let mut sandbox = Sandbox::new();
    let runtime = sandbox.root().join("run-user");
    std::fs::create_dir_all(runtime.join("systemd")).unwrap();
    sandbox.env("XDG_RUNTIME_DIR", runtime.to_str().unwrap());
    sandbox
}

/// What the user manager would get from environment.d: the real generator's output for the
/// sandbox's HOME, as (name, value) pairs (values it quotes are unquoted).
fn generated(sandbox: &Sandbox, generator: &Path) -> Vec<(String, String)> {
    let output = sandbox.program("/usr/bin/timeout").arg("30").arg(generator).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| {
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .map(|v| v.replace("\\\"", "\"").replace("\\\\", "\\"))
                .unwrap_or_else(|| value.to_string());
            (name.to_string(), value)
        })
        .collect()
}

fn value<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn set(sandbox: &Sandbox, extra: &[&str]) -> common::Run {
    let mut args = vec!["set", "--stdin", "--no-modify-rc"];
    args.extend_from_slice(extra);
    sandbox.run(&args, Some(KEY))
}

#[test]
fn the_generator_hands_a_shell_less_sdk_the_key_and_the_region_set_found() {
    let Some(generator) = generator() else { return };
    let mut sandbox = with_user_manager();
    let servers = common::launch_fake_regions(&mut sandbox, "ap-southeast-1");
    let singapore = &servers.iter().find(|(r, _)| r == "ap-southeast-1").unwrap().1;
    // (`set` narrows dashkey's directory to 0700; the test's config.toml made it 0755)
    let dashkey_dir = sandbox.home.join(".config/dashkey");
    std::fs::set_permissions(&dashkey_dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .unwrap();
    let before = snapshot(&sandbox.home);
    assert_eq!(value(&generated(&sandbox, generator), "DASHSCOPE_HTTP_BASE_URL"), None);

    // No --gui, no --region: the user manager is reason enough, the region is found online.
    let run = set(&sandbox, &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("~/.config/environment.d/60-dashkey.conf feeds"), "{}", run.stdout);
    assert!(run.stdout.contains("systemd user services"), "{}", run.stdout);
    assert!(run.stdout.contains("next login"), "{}", run.stdout);
    let vars = generated(&sandbox, generator);
    assert_eq!(value(&vars, "DASHSCOPE_API_KEY"), Some(KEY));
    assert_eq!(value(&vars, "DASHSCOPE_HTTP_BASE_URL"), Some(singapore.native_url().as_str()));
    assert_eq!(
        value(&vars, "DASHSCOPE_COMPATIBLE_BASE_URL"),
        Some(singapore.compatible_url().as_str())
    );
    let websocket = value(&vars, "DASHSCOPE_WEBSOCKET_BASE_URL").unwrap();
    assert!(websocket.starts_with("ws://127.0.0.1:"), "{websocket}");

    // A process with nothing but what the generator gives (and a HOME with no key file and
    // no config.toml, so the variables alone must carry it): both SDK surfaces call Singapore.
    if let Some(python) = common::python_sdk() {
        let empty = sandbox.root().join("empty-home");
        std::fs::create_dir(&empty).unwrap();
        let mut process: Vec<(String, String)> =
            vars.iter().filter(|(n, _)| n.starts_with("DASHSCOPE_")).cloned().collect();
        process.push(("HOME".to_string(), empty.display().to_string()));
        let (v1, v2, has_key) = common::launch_sdk_urls(&python, &process);
        assert_eq!(v1, singapore.native_url());
        assert_eq!(v2, singapore.native_url());
        assert!(has_key);
    }

    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(snapshot(&sandbox.home), before);
    assert_eq!(value(&generated(&sandbox, generator), "DASHSCOPE_API_KEY"), None);
}

#[test]
fn without_a_user_manager_or_a_desktop_no_file_is_written() {
    // A container or an SSH login without pam_systemd: no runtime directory.
    let sandbox = Sandbox::new();
    set(&sandbox, &["--offline", "--region", "ap-southeast-1"]).expect_code(0);
    assert!(!sandbox.home.join(FILE).exists());
    // A runtime directory without a user manager in it is not one either.
    let mut sandbox = Sandbox::new();
    let runtime = sandbox.root().join("run-user");
    std::fs::create_dir_all(&runtime).unwrap();
    sandbox.env("XDG_RUNTIME_DIR", runtime.to_str().unwrap());
    set(&sandbox, &["--offline", "--region", "ap-southeast-1"]).expect_code(0);
    assert!(!sandbox.home.join(FILE).exists());
    // A desktop session is.
    sandbox.env("WAYLAND_DISPLAY", "wayland-0");
    set(&sandbox, &["--offline", "--region", "ap-southeast-1"]).expect_code(0);
    assert!(sandbox.home.join(FILE).is_file());
}

#[test]
fn no_desktop_takes_the_file_back_and_later_sets_keep_to_it_until_gui() {
    let Some(generator) = generator() else { return };
    let sandbox = with_user_manager();
    let before = snapshot(&sandbox.home);
    let sg = ["--offline", "--region", "ap-southeast-1"];
    set(&sandbox, &sg).expect_code(0);
    assert!(sandbox.home.join(FILE).is_file());

    let run = set(&sandbox, &["--offline", "--region", "ap-southeast-1", "--no-desktop"]);
    run.expect_code(0);
    assert!(run.stdout.contains("removed"), "{}", run.stdout);
    assert!(!run.stdout.contains("feeds"), "{}", run.stdout);
    assert!(!sandbox.home.join(FILE).exists());
    assert_eq!(value(&generated(&sandbox, generator), "DASHSCOPE_API_KEY"), None);
    // The choice holds for a plain set, and for a region change.
    set(&sandbox, &sg).expect_code(0);
    assert!(!sandbox.home.join(FILE).exists());
    sandbox.run(&["region", "us-east-1"], None).expect_code(0);
    assert!(!sandbox.home.join(FILE).exists());
    // --gui asks again.
    set(&sandbox, &["--offline", "--region", "ap-southeast-1", "--gui"]).expect_code(0);
    assert!(sandbox.home.join(FILE).is_file());
    set(&sandbox, &sg).expect_code(0);
    assert!(sandbox.home.join(FILE).is_file());
    // The two cannot be asked together.
    set(&sandbox, &["--offline", "--gui", "--no-desktop"]).expect_code(2);

    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(snapshot(&sandbox.home), before);
}

#[test]
fn a_file_the_user_wrote_at_that_name_is_neither_overwritten_nor_removed() {
    let sandbox = with_user_manager();
    let mine = "# my own\nDASHSCOPE_HTTP_BASE_URL=https://gateway.example.com/api/v1\n";
    sandbox.write(FILE, mine);
    let others = "PATH=$PATH:$HOME/bin\n";
    sandbox.write(".config/environment.d/50-mine.conf", others);
    let run = set(&sandbox, &["--offline", "--region", "ap-southeast-1"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("60-dashkey.conf"), "{}", run.stderr);
    assert!(run.stderr.contains("not written by dashkey"), "{}", run.stderr);
    assert_eq!(sandbox.read(FILE), mine.as_bytes());
    // With the opt-out the rest is written and the file is kept, with a note.
    let run = set(&sandbox, &["--offline", "--region", "ap-southeast-1", "--no-desktop"]);
    run.expect_code(0);
    assert_eq!(sandbox.read(FILE), mine.as_bytes());
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(sandbox.read(FILE), mine.as_bytes());
    assert_eq!(sandbox.read(".config/environment.d/50-mine.conf"), others.as_bytes());
}

/// The generator is run with the sandbox's environment only: it must never read the real
/// home's files (a guard for the test itself).
#[test]
fn the_generator_reads_the_sandbox_home() {
    let Some(generator) = generator() else { return };
    let sandbox = Sandbox::new();
    sandbox.write(".config/environment.d/10-probe.conf", "DASHKEY_PROBE=sandbox\n");
    assert_eq!(value(&generated(&sandbox, generator), "DASHKEY_PROBE"), Some("sandbox"));
}

/// A headless server with lingering (`loginctl enable-linger`): no login, no runtime
/// directory, yet the user manager starts at boot and runs the user's services, so the file
/// is written. The linger mark is made in a private mount namespace (a tmpfs over
/// `/var/lib/systemd`), never on the machine.
#[test]
fn lingering_alone_gets_the_file() {
    let sandbox = Sandbox::new();
    let script = "mount -t tmpfs tmpfs /var/lib/systemd && mkdir /var/lib/systemd/linger \
                  && touch /var/lib/systemd/linger/tester && exec \"$0\" \"$@\"";
    let mut command = sandbox.program("/usr/bin/unshare");
    command
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .arg(common::dashkey_bin())
        .args(["set", "--stdin", "--offline", "--no-modify-rc", "--region", "ap-southeast-1"]);
    let output = common::feed(command, Some(KEY));
    if !output.status.success() && String::from_utf8_lossy(&output.stderr).contains("unshare") {
        assert!(!common::required(), "cannot make a private mount namespace");
        return;
    }
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(sandbox.home.join(FILE).is_file());
    assert!(!Path::new("/var/lib/systemd/linger/tester").exists());
}
