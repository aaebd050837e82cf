//! `dashkey doctor` end to end: each wall of the FAQ (and the field's traps) built for real in
//! a temporary HOME, with real shells, real processes started before and after `set`, real
//! unit files checked by `systemd-analyze verify`, a real supervisord on its own socket, real
//! `sudo` to another user and fake DashScope regions on loopback. Every scenario asserts the
//! exact finding id and severity, and has a healthy twin that must show no `warn` or `fail`:
//! a false alarm is a bug. The harness checks that no key ever appears in the output.
//!
//! Parallel-safe: every test has its own HOME, its own processes (found by the doctor only
//! through that HOME, or by pid), its own supervisord socket and uniquely named programs.

// Unix only: these tests use unix modes, owners, links, devices or signals (std::os::unix).
#![cfg(unix)]

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{KEY, OTHER_KEY, Run, Sandbox, fake_regions, tool};
use serde_json::Value;

const SG_NATIVE: &str = "https://dashscope-intl.aliyuncs.com/api/v1";
const SG_WS: &str = "wss://dashscope-intl.aliyuncs.com/api-ws/v1/inference";
const SG_COMPATIBLE: &str = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1";

/// The findings of one `dashkey doctor --json` run.
struct Report {
    run: Run,
    findings: Vec<Value>,
}

impl Report {
    fn of(run: Run) -> Report {
        let json = run.json();
        let findings = json["findings"].as_array().expect("findings").clone();
        for finding in &findings {
            let mut keys: Vec<&str> =
                finding.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["detail", "fix", "id", "severity", "title"], "{finding}");
            let severity = finding["severity"].as_str().unwrap();
            assert!(["ok", "info", "warn", "fail"].contains(&severity), "{finding}");
        }
        // Exit 1 exactly when something is `fail`.
        let failed = findings.iter().any(|f| f["severity"] == "fail");
        assert_eq!(run.code, i32::from(failed), "exit status vs findings:\n{}", run.stdout);
        Report { run, findings }
    }

    fn list(&self) -> String {
        self.findings
            .iter()
            .map(|f| {
                format!(
                    "  {} {}: {} | {} | {}",
                    f["severity"], f["id"], f["title"], f["detail"], f["fix"]
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The finding with this id and severity (the first of them).
    #[track_caller]
    fn expect(&self, id: &str, severity: &str) -> &Value {
        self.findings.iter().find(|f| f["id"] == id && f["severity"] == severity).unwrap_or_else(
            || {
                panic!(
                    "no {severity} {id} finding; found:\n{}\nstderr: {}",
                    self.list(),
                    self.run.stderr
                )
            },
        )
    }

    #[track_caller]
    fn absent(&self, id: &str) {
        assert!(
            !self.findings.iter().any(|f| f["id"] == id && f["severity"] != "ok"),
            "unexpected {id} finding:\n{}",
            self.list()
        );
    }

    /// The healthy twin: nothing to warn about, nothing failing, exit 0.
    #[track_caller]
    fn healthy(&self) -> &Report {
        let bad: Vec<&Value> = self
            .findings
            .iter()
            .filter(|f| f["severity"] == "warn" || f["severity"] == "fail")
            .collect();
        assert!(bad.is_empty(), "a healthy setup got warnings or failures:\n{}", self.list());
        assert_eq!(self.run.code, 0);
        self
    }
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_string()
}

fn doctor(sandbox: &Sandbox, args: &[&str]) -> Report {
    let mut all = vec!["doctor", "--json"];
    all.extend_from_slice(args);
    Report::of(sandbox.run(&all, None))
}

/// `dashkey set` with the key on stdin, without the online check (doctor is under test).
fn set(sandbox: &Sandbox, key: &str, extra: &[&str]) {
    let mut args = vec!["set", "--stdin", "--offline"];
    args.extend_from_slice(extra);
    sandbox.run(&args, Some(key)).expect_code(0);
}

/// A sandbox where `set` stored KEY and this environment has loaded it (what a new terminal
/// has): the base of every healthy twin.
fn healthy_sandbox() -> Sandbox {
    let mut sandbox = Sandbox::new();
    set(&sandbox, KEY, &[]);
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    sandbox
}

/// A process the test started; killed when the test ends, even when it fails.
struct Spawned(Child);

impl Spawned {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sleep 60` under the given name (a symlink, so the kernel calls it that) with the
/// sandbox environment without the key, plus `vars`.
fn spawn_as(sandbox: &Sandbox, name: &str, vars: &[(&str, &str)]) -> Spawned {
    let sleep = tool("sleep").expect("sleep is part of coreutils");
    let dir = sandbox.root().join("bin");
    fs::create_dir_all(&dir).unwrap();
    let link = dir.join(name);
    if !link.exists() {
        symlink(&sleep, &link).unwrap();
    }
    let mut command = sandbox.program(&link);
    command.arg("60").env_remove("DASHSCOPE_API_KEY").envs(vars.iter().copied());
    command.stdin(Stdio::null()).stdout(Stdio::null());
    let child = command.spawn().unwrap();
    // Let it start before anything else happens, so "started before" is unambiguous.
    std::thread::sleep(Duration::from_millis(60));
    Spawned(child)
}

/// Output of a real shell started in the sandbox, without the key in its environment: what
/// it prints is what its startup files gave it.
fn shell_prints(sandbox: &Sandbox, program: &Path, args: &[&str]) -> String {
    let mut command = sandbox.program(program);
    command.args(args).env("TERM", "dumb").env_remove("DASHSCOPE_API_KEY");
    let output = command.stderr(Stdio::null()).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const PRINT_KEY: &str = "printf '[%s]' \"$DASHSCOPE_API_KEY\"";

// ---------------------------------------------------------------------------------------
// FAQ scenario 1: temporary, not loaded

#[test]
fn temporary_key_only_in_this_environment_fails_until_set() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let report = doctor(&sandbox, &[]);
    let finding = report.expect("temporary", "fail");
    assert_eq!(text(finding, "fix"), "dashkey set --from-env", "{finding}");
    assert!(text(finding, "detail").contains("sk-…5b6c"), "{finding}");

    // Twin: the same key, stored.
    set(&sandbox, KEY, &[]);
    doctor(&sandbox, &[]).healthy().absent("temporary");
}

#[test]
fn a_key_a_service_manager_sets_is_not_temporary() {
    for marker in ["INVOCATION_ID", "SUPERVISOR_ENABLED"] {
        let mut sandbox = Sandbox::new();
        sandbox.env("DASHSCOPE_API_KEY", KEY).env(marker, "1");
        let report = doctor(&sandbox, &[]);
        report.healthy().expect("temporary", "info");
        report.absent("not-loaded");
    }
    // Its twin without the marker is the temporary failure above.
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    doctor(&sandbox, &[]).expect("temporary", "fail");
}

#[test]
fn temporary_key_also_in_the_sdk_key_file_is_only_a_warning() {
    let mut sandbox = Sandbox::new();
    let file = sandbox.write(".dashscope/api_key", format!("{KEY}\n"));
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    doctor(&sandbox, &[]).expect("temporary", "warn");

    let twin = healthy_sandbox();
    doctor(&twin, &[]).healthy();
}

#[test]
fn not_loaded_gives_the_source_line_of_the_users_shell() {
    let mut sandbox = Sandbox::new();
    set(&sandbox, KEY, &[]);
    sandbox.env("SHELL", "/bin/bash");
    let report = doctor(&sandbox, &[]);
    let finding = report.expect("not-loaded", "warn");
    assert!(text(finding, "fix").starts_with(". \"$HOME/.config/dashkey/env.sh\""), "{finding}");
    // Without the variable the Node SDK finds nothing (Python and Java read the key file).
    report.expect("sdk-disagree", "fail");

    sandbox.env("SHELL", "/usr/bin/fish");
    let report = doctor(&sandbox, &[]);
    let finding = report.expect("not-loaded", "warn");
    assert!(
        text(finding, "fix").starts_with("source \"$HOME/.config/dashkey/env.fish\""),
        "{finding}"
    );
}

/// The requirement in the issue: a fresh sandbox after `dashkey set`, with doctor run from a
/// real shell that loaded the key, is all ok/info.
#[test]
fn healthy_after_set_when_run_from_real_shells_that_loaded_it() {
    let sandbox = Sandbox::new();
    set(&sandbox, KEY, &[]);
    let bin = assert_cmd::cargo::cargo_bin("dashkey");
    let line = format!("'{}' doctor --json", bin.display());
    let cases: [(&str, &[&str]); 5] = [
        ("bash", &["-l", "-c"]),
        ("bash", &["-i", "-c"]),
        ("zsh", &["-c"]),
        ("fish", &["-c"]),
        ("dash", &["-l", "-c"]),
    ];
    let mut ran = 0;
    for (name, flags) in cases {
        let Some(program) = tool(name) else { continue };
        let mut command = sandbox.program(&program);
        command
            .args(flags)
            .arg(&line)
            .env("SHELL", &program)
            .env("TERM", "dumb")
            .stdin(Stdio::null());
        let run = Run::from(command.output().unwrap());
        sandbox.assert_no_secret(&run, &["doctor", "from", name]);
        let report = Report::of(run);
        report.healthy();
        report.expect("stale-env", "ok");
        report.expect("sdk-disagree", "ok");
        ran += 1;
    }
    assert!(ran > 0 || !common::required());
}

#[test]
fn the_documented_bashrc_export_is_found_unloaded_plaintext_and_missing_for_login_shells() {
    let mut sandbox = Sandbox::new();
    sandbox.write(".bashrc", format!("export DASHSCOPE_API_KEY='{KEY}'\n"));
    sandbox.env("SHELL", "/bin/bash");
    if let Some(bash) = tool("bash") {
        // What the doctor claims, seen for real: interactive bash has it, a login bash not.
        assert_eq!(shell_prints(&sandbox, &bash, &["-i", "-c", PRINT_KEY]), format!("[{KEY}]"));
        assert_eq!(shell_prints(&sandbox, &bash, &["-l", "-c", PRINT_KEY]), "[]");
    }
    let report = doctor(&sandbox, &[]);
    let finding = report.expect("not-loaded", "warn");
    assert!(text(finding, "fix").starts_with(". \"$HOME/.bashrc\""), "{finding}");
    report.expect("plaintext-in-dotfiles", "warn");
    let finding = report.expect("login-vs-interactive", "warn");
    assert!(text(finding, "detail").contains("bash login shells"), "{finding}");
    report.expect("no-key", "fail");

    // Twin: `set --migrate` moves the key into dashkey's file and hooks every shell.
    set(&sandbox, KEY, &["--migrate"]);
    if let Some(bash) = tool("bash") {
        assert_eq!(shell_prints(&sandbox, &bash, &["-l", "-c", PRINT_KEY]), format!("[{KEY}]"));
    }
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    doctor(&sandbox, &[]).healthy();
}

// ---------------------------------------------------------------------------------------
// Rotation: stale environment, stores that disagree

#[test]
fn a_terminal_from_before_a_rotation_holds_a_stale_key() {
    let mut sandbox = Sandbox::new();
    set(&sandbox, KEY, &[]);
    sandbox.env("DASHSCOPE_API_KEY", OTHER_KEY);
    let report = doctor(&sandbox, &[]);
    let finding = report.expect("stale-env", "fail");
    assert!(
        text(finding, "detail").contains("sk-…6b5a")
            && text(finding, "detail").contains("sk-…5b6c")
    );

    sandbox.env("DASHSCOPE_API_KEY", KEY);
    doctor(&sandbox, &[]).healthy().expect("stale-env", "ok");
}

#[test]
fn a_terminal_from_before_a_region_change_lacks_the_stored_base_urls() {
    let mut sandbox = Sandbox::new();
    set(&sandbox, KEY, &["--region", "ap-southeast-1"]);
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let finding = doctor(&sandbox, &[]).expect("stale-env", "warn").clone();
    assert!(text(&finding, "title").contains("ap-southeast-1"), "{finding}");

    // Twin: a real login shell loads all of it.
    if let Some(bash) = tool("bash") {
        sandbox.unenv("DASHSCOPE_API_KEY");
        let bin = assert_cmd::cargo::cargo_bin("dashkey");
        let mut command = sandbox.program(&bash);
        command.args(["-l", "-c", &format!("'{}' doctor --json", bin.display())]);
        let run = Run::from(command.output().unwrap());
        sandbox.assert_no_secret(&run, &["doctor"]);
        Report::of(run).healthy();
    }
    sandbox
        .env("DASHSCOPE_API_KEY", KEY)
        .env("DASHSCOPE_HTTP_BASE_URL", SG_NATIVE)
        .env("DASHSCOPE_WEBSOCKET_BASE_URL", SG_WS)
        .env("DASHSCOPE_COMPATIBLE_BASE_URL", SG_COMPATIBLE);
    doctor(&sandbox, &[]).healthy();
}

#[test]
fn a_key_file_overwritten_by_another_tool_disagrees_with_the_store() {
    let sandbox = healthy_sandbox();
    // What `dashscope auth login` or save_api_key() would do after dashkey set.
    fs::write(sandbox.home.join(".dashscope/api_key"), format!("{OTHER_KEY}\n")).unwrap();
    doctor(&sandbox, &[]).expect("stores-disagree", "warn");

    doctor(&healthy_sandbox(), &[]).healthy().absent("stores-disagree");
}

// ---------------------------------------------------------------------------------------
// FAQ scenario 2: programs started before the key

#[test]
fn an_ide_started_before_set_is_named_with_pid_and_start_time() {
    let mut sandbox = Sandbox::new();
    let ide = spawn_as(&sandbox, "code", &[]);
    set(&sandbox, KEY, &[]);
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let report = doctor(&sandbox, &[]);
    let finding = report.expect("stale-process", "warn");
    let title = text(finding, "title");
    assert!(title.starts_with(&format!("VS Code (pid {}, started 20", ide.pid())), "{title}");
    assert!(
        title.contains("UTC") && title.contains("started before the key was stored"),
        "{title}"
    );
    assert!(text(finding, "fix").starts_with("restart VS Code"), "{finding}");
    drop(ide);

    // Twin: the IDE started after set, from an environment that has the key.
    let ide = spawn_as(&sandbox, "code", &[("DASHSCOPE_API_KEY", KEY)]);
    let report = doctor(&sandbox, &[]);
    report.healthy();
    assert!(text(report.expect("stale-process", "ok"), "title").contains(&ide.pid().to_string()));
}

#[test]
fn a_named_process_with_an_old_key_fails() {
    let mut sandbox = Sandbox::new();
    let old = spawn_as(&sandbox, "sleep", &[("DASHSCOPE_API_KEY", OTHER_KEY)]);
    set(&sandbox, KEY, &[]);
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let pid = old.pid().to_string();
    let finding = doctor(&sandbox, &["--pid", &pid]).expect("stale-process", "fail").clone();
    assert!(text(&finding, "title").contains("holds an old key"), "{finding}");
    assert!(text(&finding, "title").contains(&format!("pid {pid}")), "{finding}");

    let fresh = spawn_as(&sandbox, "sleep", &[("DASHSCOPE_API_KEY", KEY)]);
    doctor(&sandbox, &["--pid", &fresh.pid().to_string()]).healthy().expect("stale-process", "ok");
}

#[test]
fn a_process_started_after_set_without_the_key_was_started_from_elsewhere() {
    let mut sandbox = Sandbox::new();
    set(&sandbox, KEY, &[]);
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    std::thread::sleep(Duration::from_millis(30));
    let launched = spawn_as(&sandbox, "sleep", &[]);
    let pid = launched.pid().to_string();
    let finding = doctor(&sandbox, &["--pid", &pid]).expect("stale-process", "fail").clone();
    assert!(text(&finding, "title").contains("was started without the key"), "{finding}");

    let good = spawn_as(&sandbox, "sleep", &[("DASHSCOPE_API_KEY", KEY)]);
    doctor(&sandbox, &["--pid", &good.pid().to_string()]).healthy();
}

#[test]
fn a_pid_that_does_not_exist_is_bad_usage() {
    let sandbox = healthy_sandbox();
    let run = sandbox.run(&["doctor", "--pid", "4194304"], None);
    run.expect_code(2);
    assert!(run.stderr.contains("no process with id 4194304"), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------
// FAQ scenario 3: systemd

/// `systemd-analyze verify` on the unit, when it can run here.
fn verify_unit(sandbox: &Sandbox, units: &Path, name: &str) {
    let Some(analyze) = tool("systemd-analyze") else { return };
    let output = sandbox
        .program(&analyze)
        .args(["verify", "--man=no"])
        .arg(units.join(name))
        .env("SYSTEMD_LOG_LEVEL", "err")
        // The test's directory first (so its drop-ins are read), then the system's units,
        // which satisfy the unit's default dependencies.
        .env("SYSTEMD_UNIT_PATH", format!("{}:", units.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        return;
    }
    assert!(!stderr.contains(name), "systemd-analyze rejects {name}:\n{stderr}");
    eprintln!(
        "notice: systemd-analyze verify cannot run in this container; skipping it ({})",
        stderr.trim()
    );
}

fn unit_dir(sandbox: &mut Sandbox) -> PathBuf {
    let units = sandbox.root().join("units");
    fs::create_dir_all(&units).unwrap();
    sandbox.env("SYSTEMD_UNIT_PATH", units.to_str().unwrap());
    units
}

const UNIT: &str =
    "[Unit]\nDescription=An app that calls DashScope\n\n[Service]\nExecStart=/bin/sleep 60\n";

#[test]
fn a_systemd_unit_without_the_key_fails_with_the_install_command() {
    let mut sandbox = healthy_sandbox();
    let units = unit_dir(&mut sandbox);
    fs::write(units.join("qwen-app.service"), UNIT).unwrap();
    verify_unit(&sandbox, &units, "qwen-app.service");
    let report = doctor(&sandbox, &["--systemd", "qwen-app"]);
    let finding = report.expect("service-systemd", "fail");
    assert_eq!(text(finding, "fix"), "dashkey service install --systemd qwen-app.service");

    // Twin: an optional EnvironmentFile holding the key, private.
    let env_file = sandbox.root().join("qwen-app.env");
    fs::write(&env_file, format!("# for qwen-app\nDASHSCOPE_API_KEY={KEY}\n")).unwrap();
    fs::set_permissions(&env_file, fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(
        units.join("qwen-app.service"),
        format!("{UNIT}EnvironmentFile=-{}\n", env_file.display()),
    )
    .unwrap();
    verify_unit(&sandbox, &units, "qwen-app.service");
    let report = doctor(&sandbox, &["--systemd", "qwen-app.service"]);
    report.healthy().expect("service-systemd", "ok");

    // The same file readable by everyone is a warning of its own.
    fs::set_permissions(&env_file, fs::Permissions::from_mode(0o644)).unwrap();
    doctor(&sandbox, &["--systemd", "qwen-app"]).expect("key-file-perms", "warn");
}

#[test]
fn systemd_drop_ins_and_a_missing_required_environment_file() {
    let mut sandbox = healthy_sandbox();
    let units = unit_dir(&mut sandbox);
    fs::write(units.join("worker@.service"), UNIT).unwrap();
    fs::create_dir_all(units.join("worker@.service.d")).unwrap();
    fs::write(
        units.join("worker@.service.d/10-env.conf"),
        format!("[Service]\nEnvironmentFile={}/missing.env\n", sandbox.root().display()),
    )
    .unwrap();
    verify_unit(&sandbox, &units, "worker@.service");
    let report = doctor(&sandbox, &["--systemd", "worker@blue"]);
    let findings: Vec<&Value> =
        report.findings.iter().filter(|f| f["id"] == "service-systemd").collect();
    assert!(
        findings.iter().any(|f| text(f, "title").contains("does not exist")),
        "{}",
        report.list()
    );
    assert!(
        findings.iter().any(|f| text(f, "title").contains("does not provide")),
        "{}",
        report.list()
    );

    // Twin: the drop-in sets the key, and the file is optional.
    fs::write(
        units.join("worker@.service.d/10-env.conf"),
        format!(
            "[Service]\nEnvironmentFile=-{}/missing.env\nEnvironment=\"DASHSCOPE_API_KEY={KEY}\" \"MODE=%i\"\n",
            sandbox.root().display()
        ),
    )
    .unwrap();
    verify_unit(&sandbox, &units, "worker@.service");
    doctor(&sandbox, &["--systemd", "worker@blue"]).healthy().expect("service-systemd", "ok");
}

#[test]
fn a_systemd_unit_with_an_old_key_is_a_warning() {
    let mut sandbox = healthy_sandbox();
    let units = unit_dir(&mut sandbox);
    fs::write(
        units.join("old.service"),
        format!("{UNIT}Environment=DASHSCOPE_API_KEY={OTHER_KEY}\n"),
    )
    .unwrap();
    verify_unit(&sandbox, &units, "old.service");
    doctor(&sandbox, &["--systemd", "old"]).expect("service-systemd", "warn");

    fs::write(units.join("old.service"), format!("{UNIT}Environment=DASHSCOPE_API_KEY={KEY}\n"))
        .unwrap();
    doctor(&sandbox, &["--systemd", "old"]).healthy();
}

#[test]
fn a_user_unit_fix_says_user_and_the_desktop_session_provides_the_key() {
    let mut sandbox = Sandbox::new();
    let units = unit_dir(&mut sandbox);
    fs::write(units.join("agent.service"), UNIT).unwrap();
    verify_unit(&sandbox, &units, "agent.service");
    set(&sandbox, KEY, &[]);
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let report = doctor(&sandbox, &["--systemd", "agent", "--user"]);
    let finding = report.expect("service-systemd", "fail");
    assert_eq!(text(finding, "fix"), "dashkey service install --systemd agent.service --user");

    // Twin: with the desktop session file (environment.d), the user manager hands it over.
    set(&sandbox, KEY, &["--gui"]);
    doctor(&sandbox, &["--systemd", "agent", "--user"]).healthy().expect("service-systemd", "info");
}

// ---------------------------------------------------------------------------------------
// FAQ scenario 3: supervisord, for real

static PROGRAMS: AtomicUsize = AtomicUsize::new(0);

/// A unique program name, so that parallel tests' supervisords never answer for each other.
fn program_name(kind: &str) -> String {
    format!("dk-{kind}-{}-{}", std::process::id(), PROGRAMS.fetch_add(1, Ordering::SeqCst))
}

/// A real supervisord on a temporary configuration and unix socket; stopped on drop.
struct Supervisor {
    child: Child,
    conf: PathBuf,
    ctl: PathBuf,
}

impl Supervisor {
    /// Writes `supervisord.conf` (including `conf.d/*.conf`) in `dir`.
    fn configure(dir: &Path, programs: &[(&str, &str)]) -> PathBuf {
        fs::create_dir_all(dir.join("conf.d")).unwrap();
        let conf = dir.join("supervisord.conf");
        let d = dir.display();
        fs::write(
            &conf,
            format!(
                "[unix_http_server]\nfile={d}/s.sock\n\n[supervisord]\nlogfile={d}/supervisord.log\n\
                 pidfile={d}/supervisord.pid\nchildlogdir={d}\nnodaemon=true\n\n\
                 [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
                 [supervisorctl]\nserverurl=unix://{d}/s.sock\n\n[include]\nfiles = conf.d/*.conf\n"
            ),
        )
        .unwrap();
        for (name, extra) in programs {
            let file = dir.join("conf.d").join(format!("{name}.conf"));
            fs::write(
                &file,
                format!("[program:{name}]\ncommand=/bin/sleep 60\nstartsecs=0\n{extra}"),
            )
            .unwrap();
            fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        }
        conf
    }

    /// Starts supervisord with the sandbox environment without the key, plus `vars`; waits
    /// until every program runs.
    fn start(
        sandbox: &Sandbox,
        conf: &Path,
        vars: &[(&str, &str)],
        programs: usize,
    ) -> Option<Supervisor> {
        let supervisord = tool("supervisord")?;
        let ctl = tool("supervisorctl")?;
        let child = sandbox
            .program(&supervisord)
            .arg("-c")
            .arg(conf)
            .env_remove("DASHSCOPE_API_KEY")
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let supervisor = Supervisor { child, conf: conf.to_path_buf(), ctl };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let status = supervisor.ctl(&["status"]);
            if status.matches("RUNNING").count() == programs {
                return Some(supervisor);
            }
            assert!(Instant::now() < deadline, "supervisord did not start its programs:\n{status}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn ctl(&self, args: &[&str]) -> String {
        let output = Command::new(&self.ctl).arg("-c").arg(&self.conf).args(args).output().unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Whether the running program's real environment has the key (read from /proc).
    fn program_has_key(&self, program: &str) -> bool {
        let pid = self.ctl(&["pid", program]).trim().to_string();
        let environ = fs::read(format!("/proc/{pid}/environ")).unwrap();
        environ
            .split(|&b| b == 0)
            .any(|entry| entry == format!("DASHSCOPE_API_KEY={KEY}").as_bytes())
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // SIGTERM: supervisord stops its programs, then exits.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_running_supervisord_is_found_and_its_program_without_the_key_fails() {
    let sandbox = healthy_sandbox();
    let bare = program_name("bare");
    let keyed = program_name("keyed");
    let dir = sandbox.root().join("sup");
    let literal = format!("environment=DASHSCOPE_API_KEY=\"{KEY}\",LANG=\"C.UTF-8\"\n");
    let conf = Supervisor::configure(&dir, &[(&bare, ""), (&keyed, &literal)]);
    // Started from an environment without the key, as a boot-time service would be.
    let Some(supervisor) = Supervisor::start(&sandbox, &conf, &[], 2) else { return };
    // What the doctor will say, seen for real in the programs' environments.
    assert!(!supervisor.program_has_key(&bare));
    assert!(supervisor.program_has_key(&keyed));

    // No -c: the doctor reads the configuration the running supervisord uses.
    let report = doctor(&sandbox, &["--supervisord", &bare]);
    let finding = report.expect("service-supervisord", "fail");
    assert_eq!(
        text(finding, "fix"),
        format!("dashkey service install --supervisord {bare} -c {}", conf.display())
    );

    // Twin: the program whose include file (0600) gives it the key.
    let report = doctor(&sandbox, &["--supervisord", &keyed]);
    report.healthy().expect("service-supervisord", "ok");
}

#[test]
fn supervisord_environment_expansion_before_and_after_it_runs() {
    let sandbox = healthy_sandbox();
    let program = program_name("env");
    let dir = sandbox.root().join("sup");
    let conf = Supervisor::configure(
        &dir,
        &[(&program, "environment=DASHSCOPE_API_KEY=\"%(ENV_DASHSCOPE_API_KEY)s\"\n")],
    );
    let conf_text = conf.to_str().unwrap().to_string();
    // Not running: the value depends on the environment it will be started with.
    let report = doctor(&sandbox, &["--supervisord", &program, "-c", &conf_text]);
    report.expect("service-supervisord", "warn");

    // Twin: started with the key in its environment, which %(ENV_…)s passes on.
    let Some(supervisor) = Supervisor::start(&sandbox, &conf, &[("DASHSCOPE_API_KEY", KEY)], 1)
    else {
        return;
    };
    assert!(supervisor.program_has_key(&program));
    doctor(&sandbox, &["--supervisord", &program]).healthy().expect("service-supervisord", "ok");
}

#[test]
fn a_supervisord_config_readable_by_everyone_with_the_key_in_it() {
    let sandbox = healthy_sandbox();
    let program = program_name("open");
    let dir = sandbox.root().join("sup");
    let conf = Supervisor::configure(
        &dir,
        &[(&program, &format!("environment=DASHSCOPE_API_KEY=\"{KEY}\"\n"))],
    );
    let include = dir.join("conf.d").join(format!("{program}.conf"));
    fs::set_permissions(&include, fs::Permissions::from_mode(0o644)).unwrap();
    let conf = conf.to_str().unwrap().to_string();
    doctor(&sandbox, &["--supervisord", &program, "-c", &conf]).expect("key-file-perms", "warn");

    fs::set_permissions(&include, fs::Permissions::from_mode(0o600)).unwrap();
    doctor(&sandbox, &["--supervisord", &program, "-c", &conf]).healthy();
}

// ---------------------------------------------------------------------------------------
// FAQ scenario 4: sudo, for real

/// `sudo <sudo args> -u nobody dashkey doctor --json <args>`, from the sandbox environment
/// (with the key), as root.
fn doctor_under_sudo(sandbox: &Sandbox, sudo_args: &[&str], args: &[&str]) -> Option<Report> {
    let sudo = tool("sudo")?;
    let bin = assert_cmd::cargo::cargo_bin("dashkey");
    let mut command = sandbox.program(&sudo);
    command
        .args(["-n"])
        .args(sudo_args)
        .args(["-u", "nobody"])
        .arg(bin)
        .args(["doctor", "--json"])
        .args(args);
    command.current_dir("/");
    let run = Run::from(command.output().unwrap());
    sandbox.assert_no_secret(&run, &["sudo", "doctor"]);
    Some(Report::of(run))
}

#[test]
fn sudo_drops_the_key_and_preserve_env_keeps_it() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    if let Some(sudo) = tool("sudo") {
        // The wall, for real: sudo's env_reset drops the variable.
        let output = sandbox
            .program(&sudo)
            .args(["-n", "-u", "nobody", "printenv", "DASHSCOPE_API_KEY"])
            .output()
            .unwrap();
        assert!(output.stdout.is_empty());
    }
    let Some(report) = doctor_under_sudo(&sandbox, &[], &[]) else { return };
    let finding = report.expect("sudo", "fail");
    assert!(text(finding, "fix").contains("sudo --preserve-env=DASHSCOPE_API_KEY"), "{finding}");
    assert!(text(finding, "fix").contains("dashkey sudo -u nobody --"), "{finding}");
    assert!(text(finding, "title").contains("from root"), "{finding}");

    // Twin: the key preserved explicitly; HOME stays the target user's.
    let report = doctor_under_sudo(&sandbox, &["--preserve-env=DASHSCOPE_API_KEY"], &[]).unwrap();
    report.healthy().expect("sudo", "ok");
}

#[test]
fn sudo_with_the_callers_home_is_flagged() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let Some(report) = doctor_under_sudo(&sandbox, &["--preserve-env=DASHSCOPE_API_KEY,HOME"], &[])
    else {
        return;
    };
    let finding = report
        .findings
        .iter()
        .find(|f| f["id"] == "sudo" && f["severity"] == "warn")
        .unwrap_or_else(|| panic!("no sudo warning:\n{}", report.list()));
    assert!(text(finding, "title").contains("HOME is not nobody's home"), "{finding}");
    assert!(text(finding, "fix").starts_with("sudo -H"), "{finding}");

    doctor_under_sudo(&sandbox, &["--preserve-env=DASHSCOPE_API_KEY"], &[]).unwrap().healthy();
}

#[test]
fn a_process_whose_environment_cannot_be_read_is_judged_by_its_start_time() {
    let sandbox = healthy_sandbox();
    let root_process = spawn_as(&sandbox, "sleep", &[("DASHSCOPE_API_KEY", KEY)]);
    let pid = root_process.pid().to_string();
    // As nobody, root's /proc/<pid>/environ is permission denied.
    let Some(report) =
        doctor_under_sudo(&sandbox, &["--preserve-env=DASHSCOPE_API_KEY"], &["--pid", &pid])
    else {
        return;
    };
    let finding = report.expect("stale-process", "info");
    assert!(text(finding, "detail").contains("permission denied"), "{finding}");
    report.healthy();

    // Twin: readable (as root), and it has the key.
    doctor(&sandbox, &["--pid", &pid]).healthy().expect("stale-process", "ok");
}

// ---------------------------------------------------------------------------------------
// FAQ scenario 5: base URLs

/// Runs the doctor on a healthy sandbox with extra variables.
fn with_vars(vars: &[(&str, &str)]) -> Report {
    let mut sandbox = healthy_sandbox();
    for (name, value) in vars {
        sandbox.env(name, *value);
    }
    doctor(&sandbox, &[])
}

#[test]
fn a_compatible_mode_url_in_the_native_variable_fails() {
    let report = with_vars(&[("DASHSCOPE_HTTP_BASE_URL", SG_COMPATIBLE)]);
    let finding = report.expect("base-url", "fail");
    assert_eq!(text(finding, "fix"), format!("export DASHSCOPE_HTTP_BASE_URL='{SG_NATIVE}'"));
    with_vars(&[("DASHSCOPE_HTTP_BASE_URL", SG_NATIVE)]).healthy().expect("base-url", "ok");
}

#[test]
fn a_native_url_in_the_compatible_variable_fails() {
    with_vars(&[("DASHSCOPE_COMPATIBLE_BASE_URL", SG_NATIVE)]).expect("base-url", "fail");
    with_vars(&[("DASHSCOPE_COMPATIBLE_BASE_URL", SG_COMPATIBLE)]).healthy();
}

#[test]
fn a_trailing_slash_breaks_node() {
    let report =
        with_vars(&[("DASHSCOPE_HTTP_BASE_URL", "https://dashscope-intl.aliyuncs.com/api/v1/")]);
    assert!(text(report.expect("base-url", "warn"), "detail").contains("Node"));
    with_vars(&[("DASHSCOPE_HTTP_BASE_URL", SG_NATIVE)]).healthy();
}

#[test]
fn a_key_pasted_into_a_url_is_never_repeated() {
    // The harness fails the run if the key appears anywhere in the output.
    let url = format!("http://dashscope-intl.aliyuncs.com/compatible-mode/v1/?api_key={KEY}");
    let report = with_vars(&[("DASHSCOPE_HTTP_BASE_URL", &url)]);
    report.expect("base-url", "fail");
    let url = format!("https://dashscope-intl.aliyuncs.com/{KEY}/");
    with_vars(&[("DASHSCOPE_HTTP_BASE_URL", &url)]).expect("base-url", "warn");
}

#[test]
fn plain_http_fails_except_on_loopback() {
    with_vars(&[("DASHSCOPE_HTTP_BASE_URL", "http://dashscope-intl.aliyuncs.com/api/v1")])
        .expect("base-url", "fail");
    with_vars(&[("DASHSCOPE_HTTP_BASE_URL", "http://127.0.0.1:8080/api/v1")])
        .healthy()
        .expect("base-url", "info");
}

#[test]
fn base_urls_of_different_regions_fail() {
    let report = with_vars(&[
        ("DASHSCOPE_HTTP_BASE_URL", SG_NATIVE),
        ("DASHSCOPE_WEBSOCKET_BASE_URL", "wss://dashscope-us.aliyuncs.com/api-ws/v1/inference"),
    ]);
    let finding = report.expect("base-url", "fail");
    assert!(text(finding, "title").contains("different regions"), "{finding}");
    with_vars(&[("DASHSCOPE_HTTP_BASE_URL", SG_NATIVE), ("DASHSCOPE_WEBSOCKET_BASE_URL", SG_WS)])
        .healthy();
}

#[test]
fn a_workspace_region_without_a_workspace_id_fails() {
    with_vars(&[("DASHSCOPE_API_REGION", "ap-southeast-1")]).expect("base-url", "fail");
    with_vars(&[
        ("DASHSCOPE_API_REGION", "ap-southeast-1"),
        ("DASHSCOPE_WORKSPACE_ID", "ws-12345"),
    ])
    .healthy();
}

#[test]
fn a_malformed_or_empty_base_url_fails() {
    with_vars(&[("DASHSCOPE_HTTP_BASE_URL", "dashscope-intl.aliyuncs.com/api/v1")])
        .expect("base-url", "fail");
    with_vars(&[("DASHSCOPE_HTTP_BASE_URL", "")]).expect("base-url", "fail");
    with_vars(&[]).healthy().expect("base-url", "info");
}

// ---------------------------------------------------------------------------------------
// FAQ scenario 5, online: against fake regions on loopback

#[test]
fn online_a_key_from_another_region_gives_dashkey_region() {
    let mut sandbox = healthy_sandbox();
    let servers = fake_regions(&mut sandbox, Some("ap-southeast-1"));
    let report = doctor(&sandbox, &["--online"]);
    let finding = report.expect("region-mismatch", "fail");
    assert_eq!(text(finding, "fix"), "dashkey region ap-southeast-1");

    // Twin: this process sends to the region that accepts the key; new shells still load
    // the stored (default) region, which the launch-context rows say, with the fix.
    let singapore = &servers.iter().find(|(r, _)| r == "ap-southeast-1").unwrap().1;
    sandbox.env("DASHSCOPE_HTTP_BASE_URL", singapore.native_url());
    let report = doctor(&sandbox, &["--online"]);
    report.expect("region-mismatch", "ok");
    let shells = report.expect("context-region", "warn");
    assert_eq!(text(shells, "fix"), "dashkey region ap-southeast-1");
    sandbox.run(&["region", "ap-southeast-1"], None).expect_code(0);
    let fixed = doctor(&sandbox, &["--online"]);
    fixed.expect("region-mismatch", "ok");
    let shell_rows = fixed
        .findings
        .iter()
        .filter(|f| f["id"] == "context-region" && text(f, "title").starts_with("terminal window"));
    assert_eq!(shell_rows.count(), 0, "{}", fixed.list());
}

/// `verify` and `doctor` once computed the configured region differently, and then agreed
/// on a false verdict: with the key stored for Singapore and no base URL in this environment,
/// both called Singapore "configured", although the process calls Beijing. Both now judge
/// the process (`resolve::configured_region`), keep the stored region beside it, and give
/// the fix that changes it: loading dashkey's file, never `dashkey region` (a loop).
#[test]
fn online_doctor_and_verify_agree_on_the_stored_region() {
    let mut sandbox = Sandbox::new();
    let servers = fake_regions(&mut sandbox, Some("ap-southeast-1"));
    set(&sandbox, KEY, &["--region", "ap-southeast-1"]);
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let verify = sandbox.run(&["verify", "--json"], None).json();
    assert_eq!(verify["configured"]["region"], "cn-beijing");
    assert_eq!(verify["configured"]["origin"], "default");
    assert_eq!(verify["configured"]["stored_region"], "ap-southeast-1");
    assert_eq!(verify["configured_region_accepts"], false);
    let load = ". \"$HOME/.config/dashkey/env.sh\"";
    assert_eq!(verify["fix"], load);
    let report = doctor(&sandbox, &["--online"]);
    let finding = report.expect("region-mismatch", "fail");
    assert!(text(finding, "fix").starts_with(load), "{finding}");

    // Twin: the process loaded dashkey's file.
    let singapore = &servers.iter().find(|(r, _)| r == "ap-southeast-1").unwrap().1;
    sandbox.env("DASHSCOPE_HTTP_BASE_URL", singapore.native_url());
    let verify = sandbox.run(&["verify", "--json"], None).json();
    assert_eq!(verify["configured"]["region"], "ap-southeast-1");
    assert_eq!(verify["configured_region_accepts"], true);
    doctor(&sandbox, &["--online"]).expect("region-mismatch", "ok");
}

#[test]
fn online_a_key_no_region_accepts_is_rejected() {
    let mut sandbox = healthy_sandbox();
    let _servers = fake_regions(&mut sandbox, None);
    doctor(&sandbox, &["--online"]).expect("key-rejected", "fail");

    let mut twin = healthy_sandbox();
    let _servers = fake_regions(&mut twin, Some("cn-beijing"));
    doctor(&twin, &["--online"]).healthy().expect("region-mismatch", "ok");
}

// ---------------------------------------------------------------------------------------
// The value itself

#[test]
fn the_documentation_placeholder_fails() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", "YOUR_DASHSCOPE_API_KEY");
    doctor(&sandbox, &[]).expect("placeholder", "fail");
    doctor(&healthy_sandbox(), &[]).healthy().absent("placeholder");
}

#[test]
fn a_placeholder_left_in_bashrc_is_found_there() {
    let mut sandbox = healthy_sandbox();
    sandbox.write(".bashrc", "export DASHSCOPE_API_KEY='YOUR_DASHSCOPE_API_KEY'\n");
    sandbox.env("SHELL", "/bin/bash");
    let finding = doctor(&sandbox, &[]).expect("placeholder", "fail").clone();
    assert!(text(&finding, "title").starts_with("~/.bashrc:1"), "{finding}");
    // plaintext-in-dotfiles is about keys, not placeholders.
    doctor(&sandbox, &[]).absent("plaintext-in-dotfiles");
}

#[test]
fn quotes_in_the_value_fail() {
    let mut sandbox = healthy_sandbox();
    // What Windows `set DASHSCOPE_API_KEY="sk-..."` leaves in the variable.
    sandbox.env("DASHSCOPE_API_KEY", format!("\"{KEY}\""));
    doctor(&sandbox, &[]).expect("quoted", "fail");
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    doctor(&sandbox, &[]).healthy();
}

#[test]
fn a_trailing_cr_or_space_fails() {
    let mut sandbox = healthy_sandbox();
    sandbox.env("DASHSCOPE_API_KEY", format!("{KEY}\r"));
    let finding = doctor(&sandbox, &[]).expect("whitespace", "fail").clone();
    assert!(text(&finding, "title").contains("CR"), "{finding}");
    sandbox.env("DASHSCOPE_API_KEY", format!(" {KEY}"));
    doctor(&sandbox, &[]).expect("whitespace", "fail");
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    doctor(&sandbox, &[]).healthy();
}

#[test]
fn an_empty_variable_shadows_the_key_file() {
    let mut sandbox = healthy_sandbox();
    sandbox.env("DASHSCOPE_API_KEY", "");
    let finding = doctor(&sandbox, &[]).expect("empty-shadows-file", "fail").clone();
    assert!(text(&finding, "detail").contains("~/.dashscope/api_key"), "{finding}");
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    doctor(&sandbox, &[]).healthy();
}

// ---------------------------------------------------------------------------------------
// Key files

#[test]
fn a_key_file_path_with_a_literal_tilde() {
    let mut sandbox = healthy_sandbox();
    sandbox.env("DASHSCOPE_API_KEY_FILE_PATH", "~/.dashscope/api_key");
    // The variable wins for now, so the Python SDK does not reach the path: a warning.
    doctor(&sandbox, &[]).expect("key-file-path", "warn");
    // Without it, the Python SDK fails on the path: a failure.
    sandbox.unenv("DASHSCOPE_API_KEY");
    doctor(&sandbox, &[]).expect("key-file-path", "fail");

    let path = sandbox.home.join(".dashscope/api_key");
    sandbox
        .env("DASHSCOPE_API_KEY", KEY)
        .env("DASHSCOPE_API_KEY_FILE_PATH", path.to_str().unwrap());
    doctor(&sandbox, &[]).healthy();
}

#[test]
fn a_key_file_path_naming_a_missing_file() {
    let mut sandbox = healthy_sandbox();
    sandbox
        .unenv("DASHSCOPE_API_KEY")
        .env("DASHSCOPE_API_KEY_FILE_PATH", "/nonexistent/dashscope-key");
    doctor(&sandbox, &[]).expect("key-file-path", "fail");
    doctor(&healthy_sandbox(), &[]).healthy().absent("key-file-path");
}

#[test]
fn a_key_file_others_can_read() {
    let sandbox = healthy_sandbox();
    let file = sandbox.home.join(".dashscope/api_key");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let finding = doctor(&sandbox, &[]).expect("key-file-perms", "warn").clone();
    assert_eq!(text(&finding, "fix"), "chmod 600 ~/.dashscope/api_key");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    doctor(&sandbox, &[]).healthy();
}

#[test]
fn a_key_file_with_two_lines() {
    let sandbox = healthy_sandbox();
    let file = sandbox.home.join(".dashscope/api_key");
    fs::write(&file, format!("{KEY}\n{OTHER_KEY}\n")).unwrap();
    doctor(&sandbox, &[]).expect("key-file-lines", "warn");
    fs::write(&file, format!("{KEY}\n")).unwrap();
    doctor(&sandbox, &[]).healthy();
}

// ---------------------------------------------------------------------------------------
// Startup files

#[test]
fn an_old_export_after_the_hook_overrides_the_stored_key() {
    let mut sandbox = Sandbox::new();
    set(&sandbox, KEY, &[]);
    let bashrc = sandbox.home.join(".bashrc");
    let mut text_now = fs::read_to_string(&bashrc).unwrap();
    text_now.push_str(&format!("export DASHSCOPE_API_KEY='{OTHER_KEY}'\n"));
    fs::write(&bashrc, text_now).unwrap();
    sandbox.env("DASHSCOPE_API_KEY", KEY).env("SHELL", "/bin/bash");
    if let Some(bash) = tool("bash") {
        // Seen for real: a new interactive bash gets the old key, a login bash dashkey's.
        assert_eq!(
            shell_prints(&sandbox, &bash, &["-i", "-c", PRINT_KEY]),
            format!("[{OTHER_KEY}]")
        );
        assert_eq!(shell_prints(&sandbox, &bash, &["-l", "-c", PRINT_KEY]), format!("[{KEY}]"));
    }
    let report = doctor(&sandbox, &[]);
    let finding = report.expect("conflicting-assignments", "fail");
    let detail = text(finding, "detail");
    assert!(
        detail.contains("~/.bashrc:") && detail.contains("wins in interactive bash"),
        "{detail}"
    );
    assert!(detail.contains("dashkey's hook wins in bash login shells"), "{detail}");
    assert_eq!(
        text(finding, "fix"),
        "keep one: dashkey set --migrate   (removes the other assignments after a 0600 backup)"
    );

    // Twin: migrated.
    set(&sandbox, KEY, &["--migrate"]);
    if let Some(bash) = tool("bash") {
        assert_eq!(shell_prints(&sandbox, &bash, &["-i", "-c", PRINT_KEY]), format!("[{KEY}]"));
    }
    doctor(&sandbox, &[]).healthy();
}

#[test]
fn the_same_key_in_two_startup_files_is_a_note_about_conflicts() {
    let mut sandbox = Sandbox::new();
    sandbox.write(".profile", format!("export DASHSCOPE_API_KEY='{KEY}'\n"));
    sandbox.write(".bashrc", format!("export DASHSCOPE_API_KEY=\"{KEY}\"\n"));
    sandbox.env("DASHSCOPE_API_KEY", KEY).env("SHELL", "/bin/bash");
    let report = doctor(&sandbox, &[]);
    report.expect("conflicting-assignments", "info");
    report.expect("plaintext-in-dotfiles", "warn");

    set(&sandbox, KEY, &["--migrate"]);
    doctor(&sandbox, &[]).healthy();
}

#[test]
fn a_key_in_a_dotfile_that_lives_in_a_git_repository_fails() {
    let Some(git) = tool("git") else { return };
    let mut sandbox = Sandbox::new();
    let dotfiles = sandbox.home.join("dotfiles");
    fs::create_dir_all(&dotfiles).unwrap();
    let status =
        sandbox.program(&git).args(["init", "-q"]).current_dir(&dotfiles).status().unwrap();
    assert!(status.success());
    fs::write(dotfiles.join("bashrc"), format!("export DASHSCOPE_API_KEY={KEY}\n")).unwrap();
    symlink(dotfiles.join("bashrc"), sandbox.home.join(".bashrc")).unwrap();
    sandbox.env("DASHSCOPE_API_KEY", KEY).env("SHELL", "/bin/bash");
    let report = doctor(&sandbox, &[]);
    let finding = report.expect("plaintext-in-dotfiles", "fail");
    assert!(text(finding, "detail").contains("git repository ~/dotfiles"), "{finding}");
    assert!(text(finding, "fix").starts_with("dashkey set --from-env --migrate"), "{finding}");

    set(&sandbox, KEY, &["--migrate"]);
    // The link is kept; the line is gone from the repository's file.
    assert!(fs::symlink_metadata(sandbox.home.join(".bashrc")).unwrap().file_type().is_symlink());
    doctor(&sandbox, &[]).healthy();
}

#[test]
fn a_key_only_in_zshrc_is_missed_by_zsh_scripts() {
    let mut sandbox = Sandbox::new();
    sandbox.write(".zshrc", format!("export DASHSCOPE_API_KEY='{KEY}'\n"));
    sandbox.env("DASHSCOPE_API_KEY", KEY).env("SHELL", "/usr/bin/zsh");
    if let Some(zsh) = tool("zsh") {
        assert_eq!(shell_prints(&sandbox, &zsh, &["-c", PRINT_KEY]), "[]");
        assert_eq!(shell_prints(&sandbox, &zsh, &["-i", "-c", PRINT_KEY]), format!("[{KEY}]"));
    }
    let report = doctor(&sandbox, &[]);
    let finding = report.expect("login-vs-interactive", "warn");
    assert!(text(finding, "detail").contains("zsh scripts"), "{finding}");

    set(&sandbox, KEY, &["--migrate"]);
    if let Some(zsh) = tool("zsh") {
        assert_eq!(shell_prints(&sandbox, &zsh, &["-c", PRINT_KEY]), format!("[{KEY}]"));
    }
    doctor(&sandbox, &[]).healthy();
}

#[test]
fn a_stored_key_no_startup_file_loads() {
    let mut sandbox = Sandbox::new();
    set(&sandbox, KEY, &["--no-modify-rc"]);
    sandbox.write(".bashrc", "# nothing about keys\n");
    sandbox.env("DASHSCOPE_API_KEY", KEY).env("SHELL", "/bin/bash");
    doctor(&sandbox, &[]).expect("login-vs-interactive", "warn");
    set(&sandbox, KEY, &[]);
    doctor(&sandbox, &[]).healthy();
}

// ---------------------------------------------------------------------------------------
// What each SDK would do

#[test]
fn sdks_that_would_use_different_keys() {
    let mut sandbox = healthy_sandbox();
    sandbox.unenv("DASHSCOPE_API_KEY");
    // The JVM's user.home has a key file with another key.
    let jvm_home = sandbox.root().join("jvm-home");
    fs::create_dir_all(jvm_home.join(".dashscope")).unwrap();
    let file = jvm_home.join(".dashscope/api_key");
    fs::write(&file, format!("{OTHER_KEY}\n")).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    sandbox.env("JAVA_TOOL_OPTIONS", format!("-Duser.home={}", jvm_home.display()));
    let report = doctor(&sandbox, &[]);
    let finding = report.expect("sdk-disagree", "fail");
    let detail = text(finding, "detail");
    assert!(detail.contains("Python: sk-…5b6c") && detail.contains("Java: sk-…6b5a"), "{detail}");
    assert!(detail.contains("Node: no key"), "{detail}");

    doctor(&healthy_sandbox(), &[]).healthy().expect("sdk-disagree", "ok");
}

#[test]
fn nothing_anywhere_is_no_key() {
    let sandbox = Sandbox::new();
    let report = doctor(&sandbox, &[]);
    assert_eq!(text(report.expect("no-key", "fail"), "fix"), "dashkey set");
    doctor(&healthy_sandbox(), &[]).healthy().absent("no-key");
}

// ---------------------------------------------------------------------------------------
// Human output

#[test]
fn text_output_groups_by_severity_with_why_and_fix() {
    let mut sandbox = Sandbox::new();
    sandbox
        .env("DASHSCOPE_API_KEY", KEY)
        .env("DASHSCOPE_HTTP_BASE_URL", "https://dashscope-intl.aliyuncs.com/api/v1/");
    let run = sandbox.run(&["doctor"], None);
    run.expect_code(1);
    let out = &run.stdout;
    let fail = out.find("Problems (fail)").expect(out);
    let warn = out.find("Warnings (warn)").expect(out);
    assert!(fail < warn, "{out}");
    assert!(out.contains("[temporary]") && out.contains("why: ") && out.contains("fix: "), "{out}");
    assert!(out.contains("1 problem and 1 warning"), "{out}");
    assert!(!out.contains('\u{1b}'), "no colours into a pipe:\n{out}");

    let run = healthy_sandbox().run(&["doctor"], None);
    run.expect_code(0);
    assert!(run.stdout.contains("No problems found."), "{}", run.stdout);
}

#[test]
fn the_readme_documents_every_finding_id() {
    // The README lists these; the library's list must match it.
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    for id in dashkey::doctor::id::ALL {
        assert!(readme.contains(&format!("`{id}`")), "README does not document {id}");
    }
}
