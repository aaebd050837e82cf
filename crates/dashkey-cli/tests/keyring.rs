//! `set --store keyring`: the key in a real Secret Service (`gnome-keyring-daemon` on a private
//! D-Bus session bus, both started and stopped by each test, their files in the sandbox), and
//! no plaintext copy anywhere under HOME. Without a bus, or with a daemon that does not
//! answer, every command fails with the fix and changes nothing.

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{KEY, OTHER_KEY, Sandbox, files_containing, snapshot, tool};

/// A session bus with a Secret Service on it, for one sandbox. Dropping it stops both, by pid.
struct SecretService {
    bus: Child,
    daemon: Child,
}

/// A bus that activates nothing: no service directory, so no daemon starts behind the
/// test's back (Debian's session bus would start gnome-keyring on the first call).
const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=@SOCKET@</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

impl SecretService {
    /// Starts the bus and an unlocked, empty login keyring; `None` (skipped) without the
    /// programs, a failure when CI requires them.
    fn start(sandbox: &mut Sandbox) -> Option<SecretService> {
        let dbus = tool("dbus-daemon")?;
        let keyring = tool("gnome-keyring-daemon")?;
        let run = sandbox.root().join("run");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let socket = run.join("bus");
        let config = sandbox.root().join("bus.conf");
        std::fs::write(&config, BUS_CONFIG.replace("@SOCKET@", socket.to_str().unwrap())).unwrap();
        let address = format!("unix:path={}", socket.display());
        let home = sandbox.home.clone();
        sandbox
            .env("XDG_RUNTIME_DIR", run.to_str().unwrap())
            .env("XDG_DATA_HOME", home.join(".local/share").to_str().unwrap())
            .env("DBUS_SESSION_BUS_ADDRESS", address);
        let bus = sandbox
            .program(dbus)
            .args(["--nofork", "--nopidfile", "--config-file"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(|| socket.exists(), "the bus socket");
        let mut daemon = sandbox
            .program(keyring)
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // An empty password: a new login keyring, created unlocked.
        std::io::Write::write_all(daemon.stdin.as_mut().unwrap(), b"\n").unwrap();
        drop(daemon.stdin.take());
        let service = SecretService { bus, daemon };
        wait_for(|| service.has_name(sandbox), "org.freedesktop.secrets on the bus");
        Some(service)
    }

    fn has_name(&self, sandbox: &Sandbox) -> bool {
        sandbox
            .program("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.ListNames",
            ])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("org.freedesktop.secrets"))
    }

    /// What the Secret Service holds for dashkey, asked with libsecret's own tool.
    fn lookup(&self, sandbox: &Sandbox) -> Option<String> {
        let out = sandbox
            .program("secret-tool")
            .args(["lookup", "service", "dashkey", "username", "DASHSCOPE_API_KEY"])
            .output()
            .unwrap();
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Locks the login collection, as a screen lock or `secret-tool lock` does, through the
    /// Secret Service's own `Lock` call. Reading it then asks for a prompt, which a session
    /// without a prompter dismisses.
    fn lock(&self, sandbox: &Sandbox) {
        let out = sandbox
            .program("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                "array:objpath:/org/freedesktop/secrets/collection/login",
            ])
            .output()
            .unwrap();
        let reply = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && reply.contains("collection/login"), "{reply}");
    }

    fn signal(&self, signal: &str) {
        let pid = self.daemon.id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

fn wait_for(ready: impl Fn() -> bool, what: &str) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("{what} did not appear within 5 s");
}

fn set(sandbox: &Sandbox, key: &str, store: &[&str]) -> common::Run {
    let mut args = vec!["set", "--stdin", "--offline", "--shell", "bash"];
    args.extend_from_slice(store);
    sandbox.run(&args, Some(key))
}

/// A new interactive bash, as a terminal starts it: what it has in the variable, and what
/// it said on stderr.
fn new_bash(sandbox: &Sandbox) -> (String, String) {
    let bash = tool("bash").expect("bash");
    let out = sandbox
        .program(bash)
        .args(["-ic", "printf '%s' \"$DASHSCOPE_API_KEY\""])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.contains("job control") && !l.contains("terminal process group"))
        .map(|l| format!("{l}\n"))
        .collect();
    (String::from_utf8_lossy(&out.stdout).to_string(), stderr)
}

/// Everything under HOME except the Secret Service's own encrypted keyring file.
fn home_without_keyring(home: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    let mut all = snapshot(home);
    all.retain(|path, _| !path.starts_with(".local"));
    all
}

#[test]
fn the_keyring_store_gives_new_shells_the_key_and_no_file_holds_it() {
    let mut sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# mine\n");
    let Some(service) = SecretService::start(&mut sandbox) else { return };
    let before = home_without_keyring(&sandbox.home);

    let run = set(&sandbox, KEY, &["--store", "keyring"]);
    run.expect_code(0);
    assert!(run.stdout.contains("Secret Service"), "{}", run.stdout);
    assert_eq!(service.lookup(&sandbox).as_deref(), Some(KEY));
    // No file under HOME holds the key: not dashkey's, not the SDK's, not the keyring's.
    assert_eq!(files_containing(&sandbox.home, &[KEY]), Vec::new());
    assert!(!sandbox.home.join(".dashscope/api_key").exists());

    let (key, stderr) = new_bash(&sandbox);
    assert_eq!(key, KEY, "a new shell loads the key from the keyring; stderr: {stderr}");
    assert_eq!(stderr, "");
    let env = sandbox.run_revealing(&["env", "--shell", "sh"], None);
    env.expect_code(0);
    assert!(env.stdout.contains(&format!("export DASHSCOPE_API_KEY='{KEY}'")), "{}", env.stdout);
    let key = sandbox.run_revealing(&["key"], None);
    assert_eq!(key.stdout.trim(), KEY);

    let status = sandbox.run(&["status"], None);
    assert!(status.stdout.contains("the Secret Service"), "{}", status.stdout);
    assert!(status.stdout.contains("sk-…5b6c"), "the keyring copy, masked: {}", status.stdout);

    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(service.lookup(&sandbox), None, "unset removes the keyring entry");
    assert_eq!(home_without_keyring(&sandbox.home), before, "unset restores HOME");
}

#[test]
fn moving_between_stores_leaves_no_copy_in_the_other() {
    let mut sandbox = Sandbox::new();
    let Some(service) = SecretService::start(&mut sandbox) else { return };
    set(&sandbox, KEY, &[]).expect_code(0);
    assert_eq!(sandbox.read(".dashscope/api_key"), format!("{KEY}\n").into_bytes());
    assert_eq!(service.lookup(&sandbox), None, "the file store does not touch the keyring");

    sandbox.run(&["set", "--keep-key", "--store", "keyring"], None).expect_code(0);
    assert_eq!(service.lookup(&sandbox).as_deref(), Some(KEY));
    assert_eq!(files_containing(&sandbox.home, &[KEY]), Vec::new());

    // A later set keeps the store: the new key goes to the keyring only.
    set(&sandbox, OTHER_KEY, &[]).expect_code(0);
    assert_eq!(service.lookup(&sandbox).as_deref(), Some(OTHER_KEY));
    assert_eq!(files_containing(&sandbox.home, &[KEY, OTHER_KEY]), Vec::new());

    sandbox.run(&["set", "--keep-key", "--store", "file"], None).expect_code(0);
    assert_eq!(service.lookup(&sandbox), None, "back to files: the keyring entry is gone");
    assert_eq!(sandbox.read(".dashscope/api_key"), format!("{OTHER_KEY}\n").into_bytes());
    let (key, _) = new_bash(&sandbox);
    assert_eq!(key, OTHER_KEY);
}

#[test]
fn without_a_session_bus_set_fails_with_the_fix_and_changes_nothing() {
    let mut sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# mine\n");
    for address in [None, Some("unix:path=/nonexistent/dashkey-test-bus")] {
        match address {
            Some(address) => sandbox.env("DBUS_SESSION_BUS_ADDRESS", address),
            None => sandbox.unenv("DBUS_SESSION_BUS_ADDRESS"),
        };
        sandbox.env("XDG_RUNTIME_DIR", sandbox.root().join("no-run").to_str().unwrap());
        let before = snapshot(&sandbox.home);
        let run =
            sandbox.run_bounded(&["set", "--stdin", "--offline", "--store", "keyring"], Some(KEY));
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert!(run.stderr.contains("no keyring service can be reached"), "{}", run.stderr);
        assert!(run.stderr.contains("dashkey set --store file"), "the fix: {}", run.stderr);
        assert_eq!(snapshot(&sandbox.home), before, "HOME is byte for byte as it was");
    }
    // And from the file store: the key stays where it was, with nothing half-moved.
    sandbox.unenv("DBUS_SESSION_BUS_ADDRESS");
    set(&sandbox, KEY, &[]).expect_code(0);
    let before = snapshot(&sandbox.home);
    let run = sandbox.run_bounded(&["set", "--keep-key", "--store", "keyring"], None);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(snapshot(&sandbox.home), before);
}

#[test]
fn a_daemon_that_does_not_answer_costs_the_timeout_and_one_line_in_a_new_shell() {
    let mut sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# mine\n");
    let Some(service) = SecretService::start(&mut sandbox) else { return };
    set(&sandbox, KEY, &["--store", "keyring"]).expect_code(0);
    sandbox.env("DASHKEY_KEYRING_TIMEOUT_MS", "300");
    service.signal("-STOP");
    let env = sandbox.run_bounded(&["env", "--shell", "sh"], None);
    let (key, stderr) = new_bash(&sandbox);
    let before = snapshot(&sandbox.home);
    let unset = sandbox.run_bounded(&["unset"], None);
    let after = snapshot(&sandbox.home);
    service.signal("-CONT");
    assert_ne!(env.code, 0);
    assert!(env.stderr.contains("did not answer within 300 ms"), "{}", env.stderr);
    assert_eq!(env.stdout, "");
    assert_eq!(key, "", "no key, and the shell still starts");
    short_warning(&stderr);
    assert!(!stderr.contains(KEY));
    assert_eq!(unset.code, 3, "unset cannot remove the entry: {}", unset.stderr);
    assert_eq!(after, before, "and changes nothing");
    assert_eq!(service.lookup(&sandbox).as_deref(), Some(KEY));
}

/// The warning a new shell prints at every start while the keyring is away: a few lines, none
/// wider than a terminal.
fn short_warning(stderr: &str) {
    assert!(stderr.lines().count() <= 3, "one short warning: {stderr}");
    assert!(stderr.lines().all(|l| l.chars().count() <= 100), "wrapped to 100 columns: {stderr}");
}

#[test]
fn a_locked_keyring_stops_every_command_with_the_unlock_fix_and_changes_nothing() {
    let mut sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# mine\n");
    let Some(service) = SecretService::start(&mut sandbox) else { return };
    set(&sandbox, KEY, &["--store", "keyring"]).expect_code(0);
    service.lock(&sandbox);
    // All of HOME, the Secret Service's encrypted keyring file included.
    let before = snapshot(&sandbox.home);
    let unlock = |run: &common::Run, what: &str| {
        assert_eq!(run.code, 3, "{what}: {}", run.stderr);
        assert!(run.stderr.contains("locked"), "{what}: {}", run.stderr);
        assert!(run.stderr.contains("unlock the keyring"), "{what}, the fix: {}", run.stderr);
        assert!(run.stderr.contains("dashkey set --store file"), "{what}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{what}");
    };
    let again = sandbox
        .run_bounded(&["set", "--stdin", "--offline", "--store", "keyring"], Some(OTHER_KEY));
    unlock(&again, "set --store keyring");
    unlock(
        &sandbox.run_bounded(&["set", "--keep-key", "--store", "file"], None),
        "set --store file",
    );
    unlock(&sandbox.run_bounded(&["env", "--shell", "sh"], None), "env");
    unlock(&sandbox.run_bounded(&["run", "--", "printenv", "DASHSCOPE_API_KEY"], None), "run");
    unlock(&sandbox.run_bounded(&["unset"], None), "unset");
    let (key, stderr) = new_bash(&sandbox);
    assert_eq!(key, "", "no key, and the shell still starts");
    short_warning(&stderr);
    assert!(stderr.contains("locked"), "{stderr}");
    assert!(!stderr.contains(KEY) && !stderr.contains(OTHER_KEY));
    assert_eq!(snapshot(&sandbox.home), before, "HOME is byte for byte as it was");
    let status = sandbox.run_bounded(&["status"], None);
    assert!(status.stdout.contains("unlock the keyring"), "{}", status.stdout);
    let row = status.stdout.lines().find(|l| l.contains("the Secret Service")).unwrap();
    assert!(row.contains("cannot be read"), "a locked entry is not a missing one: {row}");
    let json = sandbox.run_bounded(&["status", "--json"], None);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect(&json.stdout);
    let entry = report["copies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["place"] == "keyring")
        .unwrap_or_else(|| panic!("{}", json.stdout));
    assert_eq!(entry["state"], "unreadable", "the JSON says what the text row says: {entry}");
    assert!(entry["error"].as_str().unwrap().contains("locked"), "with the reason: {entry}");
    assert!(!json.stdout.contains(KEY));
}

#[test]
fn a_file_that_fails_after_the_keyring_write_takes_the_new_entry_back() {
    let Some(strace) = tool("strace") else { return };
    let mut sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# mine\n");
    let Some(service) = SecretService::start(&mut sandbox) else { return };
    let before = home_without_keyring(&sandbox.home);
    // The first rename is the directory journal; the second, the first file, after the keyring
    // entry.
    let strace = strace.to_str().unwrap();
    let run = sandbox.run_wrapped(
        &[
            strace,
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "inject=rename,renameat,renameat2:error=EIO:when=2",
        ],
        &["set", "--stdin", "--offline", "--store", "keyring", "--shell", "bash"],
        Some(KEY),
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    // One change was made before the failure, the keyring entry, and it was put back.
    assert!(run.stderr.contains("put back the 1 change(s)"), "{}", run.stderr);
    assert_eq!(service.lookup(&sandbox), None, "the new entry was deleted again");
    assert_eq!(home_without_keyring(&sandbox.home), before);
}

/// The ids of `doctor --json`'s findings that are problems.
fn doctor_problems(sandbox: &Sandbox) -> Vec<(String, String)> {
    let run = sandbox.run(&["doctor", "--json"], None);
    run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "warn" || f["severity"] == "fail")
        .map(|f| (f["id"].as_str().unwrap().to_string(), f["fix"].as_str().unwrap_or("").into()))
        .collect()
}

#[test]
fn doctor_flags_the_contexts_the_keyring_cannot_reach_and_its_fix_works() {
    let mut sandbox = Sandbox::new();
    let Some(service) = SecretService::start(&mut sandbox) else { return };
    // A desktop session: environment.d is written, without the key.
    sandbox.env("XDG_CURRENT_DESKTOP", "GNOME");
    set(&sandbox, KEY, &["--store", "keyring"]).expect_code(0);
    let problems = doctor_problems(&sandbox);
    // The desktop's usual fix (`set --keep-key --gui`) would give it no key here.
    assert!(!problems.iter().any(|(_, fix)| fix.contains("--gui")), "{problems:?}");
    let (_, fix) = problems
        .iter()
        .find(|(id, _)| id == "keyring-contexts")
        .unwrap_or_else(|| panic!("no keyring-contexts finding: {problems:?}"));
    // The fix, as printed (the part before the gloss), run by sh with dashkey on PATH.
    let command = fix.split("   (").next().unwrap();
    let path = format!(
        "{}:{}",
        common::dashkey_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sh = sandbox.program("sh").env("PATH", path).args(["-c", command]).output().unwrap();
    assert!(sh.status.success(), "{command}: {}", String::from_utf8_lossy(&sh.stderr));
    assert!(!doctor_problems(&sandbox).iter().any(|(id, _)| id.starts_with("keyring-")));
    assert_eq!(service.lookup(&sandbox), None);

    // A keyring that cannot be reached is a failure with the way out.
    set(&sandbox, KEY, &["--store", "keyring"]).expect_code(0);
    sandbox.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/dashkey-test-bus");
    let problems = doctor_problems(&sandbox);
    let (_, fix) = problems
        .iter()
        .find(|(id, _)| id == "keyring-unreachable")
        .unwrap_or_else(|| panic!("no keyring-unreachable finding: {problems:?}"));
    assert!(fix.contains("dashkey set --store file"), "{fix}");
}

#[test]
fn every_shell_loads_the_key_from_the_keyring_through_its_own_file() {
    let mut sandbox = Sandbox::new();
    let Some(_service) = SecretService::start(&mut sandbox) else { return };
    sandbox.run(&["set", "--stdin", "--offline", "--store", "keyring"], Some(KEY)).expect_code(0);
    assert_eq!(files_containing(&sandbox.home, &[KEY]), Vec::new());
    let print = "printf '%s' \"$DASHSCOPE_API_KEY\"";
    let cases: [(&str, &[&str], &str); 7] = [
        ("bash", &["-ic"], print),
        ("zsh", &["-c"], print),
        ("dash", &["-lc"], print),
        ("ksh", &["-ic"], print),
        ("mksh", &["-ic"], print),
        ("fish", &["-c"], "printf '%s' $DASHSCOPE_API_KEY"),
        ("tcsh", &["-c"], "printf '%s' \"$DASHSCOPE_API_KEY\""),
    ];
    for (shell, flags, command) in cases {
        let Some(path) = tool(shell) else { continue };
        let out =
            sandbox.program(path).args(flags).arg(command).stdin(Stdio::null()).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            KEY,
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The hand-offs read the keyring too.
    let run = sandbox.run_revealing(&["run", "--", "printenv", "DASHSCOPE_API_KEY"], None);
    assert_eq!(run.stdout.trim(), KEY, "{}", run.stderr);
    let export = sandbox.run_revealing(&["export", "--format", "docker-env"], None);
    assert!(export.stdout.contains(KEY), "{}", export.stderr);
}

#[test]
fn the_keyring_store_keeps_one_key_so_named_profiles_are_refused() {
    let mut sandbox = Sandbox::new();
    let Some(service) = SecretService::start(&mut sandbox) else { return };
    set(&sandbox, KEY, &["--store", "keyring"]).expect_code(0);
    let before = home_without_keyring(&sandbox.home);
    let work = ["set", "--stdin", "--offline", "--profile", "work"];
    let run = sandbox.run(&work, Some(OTHER_KEY));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("default profile only"), "{}", run.stderr);
    assert_eq!(home_without_keyring(&sandbox.home), before);
    assert_eq!(service.lookup(&sandbox).as_deref(), Some(KEY));

    // The way out it names: back to files, then the profile.
    let fix = "dashkey set --store file --keep-key";
    assert!(run.stderr.contains(fix), "{}", run.stderr);
    sandbox.run(&fix.split(' ').skip(1).collect::<Vec<_>>(), None).expect_code(0);
    sandbox.run(&work, Some(OTHER_KEY)).expect_code(0);
    assert_eq!(service.lookup(&sandbox), None);

    // And the other way: with a profile stored, the keyring store says how to make room.
    let before = home_without_keyring(&sandbox.home);
    let run = sandbox.run(&["set", "--keep-key", "--store", "keyring"], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("dashkey unset --profile NAME"), "{}", run.stderr);
    assert_eq!(home_without_keyring(&sandbox.home), before);
    assert_eq!(service.lookup(&sandbox), None);
    sandbox.run(&["unset", "--profile", "work"], None).expect_code(0);
    sandbox.run(&["set", "--keep-key", "--store", "keyring"], None).expect_code(0);
    assert_eq!(service.lookup(&sandbox).as_deref(), Some(KEY));
}
