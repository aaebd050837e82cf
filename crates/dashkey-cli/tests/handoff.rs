//! Handing the key to what shells never reach — `run`, `sudo`, `export`, `service` — each
//! consumed by its real consumer: shells, sudo, supervisord, systemd-analyze, a YAML parser.

// Unix only: these tests use unix modes, owners, links, devices or signals (std::os::unix).
#![cfg(unix)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{KEY, OTHER_KEY, Sandbox, snapshot, tool};

const SG_URL: &str = "https://dashscope-intl.aliyuncs.com/api/v1";

/// A sandbox with KEY stored for Singapore, no startup file touched.
fn stored() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox
        .run(
            &["set", "--stdin", "--offline", "--no-modify-rc", "--region", "ap-southeast-1"],
            Some(KEY),
        )
        .expect_code(0);
    sandbox
}

/// Whether the tests run as root (the owner of /proc/self is the process's user).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[test]
fn run_gives_the_stored_key_to_a_process_started_without_any_environment() {
    let sandbox = stored();
    let bin = assert_cmd::cargo::cargo_bin("dashkey");
    let home = sandbox.home.to_str().unwrap();
    let output = Command::new("/usr/bin/env")
        .args(["-i", &format!("HOME={home}"), "PATH=/usr/bin:/bin"])
        .arg(&bin)
        .args(["run", "--", "printenv", "DASHSCOPE_API_KEY", "DASHSCOPE_HTTP_BASE_URL"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{KEY}\n{SG_URL}\n"));
    let region = sandbox.run_revealing(
        &["run", "--region", "us-east-1", "--", "printenv", "DASHSCOPE_HTTP_BASE_URL"],
        None,
    );
    assert_eq!(region.stdout, "https://dashscope-us.aliyuncs.com/api/v1\n");
}

#[test]
fn run_passes_the_exit_status_and_signals_through() {
    let sandbox = stored();
    assert_eq!(sandbox.run(&["run", "--", "sh", "-c", "exit 7"], None).code, 7);
    let status =
        sandbox.command().args(["run", "--", "sh", "-c", "kill -TERM $$"]).status().unwrap();
    assert_eq!(status.signal(), Some(15), "dashkey must be replaced by the command");
    let missing = sandbox.run(&["run", "--", "no-such-command-here"], None);
    missing.expect_code(127);
    assert!(missing.stderr.contains("command not found"));
}

#[test]
fn run_without_a_stored_key_says_so() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["run", "--", "true"], None);
    run.expect_code(1);
    assert!(run.stderr.contains("dashkey set"));
}

#[test]
fn sudo_keeps_only_the_dashscope_variables() {
    let Some(sudo) = tool("sudo") else { return };
    if !is_root() {
        eprintln!("notice: not root; skipping the sudo test");
        return;
    }
    let mut sandbox = stored();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    sandbox.env("UNRELATED_SECRET", "must-not-pass");
    let plain = sandbox
        .program(&sudo)
        .args(["-u", "nobody", "printenv", "DASHSCOPE_API_KEY"])
        .output()
        .unwrap();
    assert!(plain.stdout.is_empty(), "sudo itself is expected to drop the variable");
    sandbox.unenv("DASHSCOPE_API_KEY");
    let run = sandbox.run_revealing(
        &["sudo", "-u", "nobody", "--", "printenv", "DASHSCOPE_API_KEY", "DASHSCOPE_HTTP_BASE_URL"],
        None,
    );
    assert_eq!(run.stdout, format!("{KEY}\n{SG_URL}\n"), "{}", run.stderr);
    let other = sandbox.run(&["sudo", "-u", "nobody", "--", "printenv", "UNRELATED_SECRET"], None);
    assert_eq!(other.code, 1, "only the DashScope variables are preserved");
}

/// Writes an export to a file and returns its text.
fn export(sandbox: &Sandbox, format: &str, extra: &[&str]) -> (PathBuf, String) {
    let path = sandbox.root().join(format!("export.{format}"));
    let mut args = vec!["export", "--format", format, "--output", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    sandbox.run(&args, None).expect_code(0);
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{format}");
    let text = fs::read_to_string(&path).unwrap();
    (path, text)
}

#[test]
fn shell_exports_are_read_back_by_each_shell() {
    let sandbox = stored();
    let print = "printf '%s|%s' \"$DASHSCOPE_API_KEY\" \"$DASHSCOPE_HTTP_BASE_URL\"";
    for (format, shell, flags) in [
        ("sh", "bash", vec![]),
        ("sh", "dash", vec![]),
        ("sh", "zsh", vec!["-f"]),
        ("sh", "ksh", vec![]),
        ("fish", "fish", vec!["--no-config"]),
        ("csh", "tcsh", vec!["-f"]),
    ] {
        let Some(program) = tool(shell) else { continue };
        let (path, _) = export(&sandbox, format, &[]);
        let source = if shell == "fish" || shell == "tcsh" { "source" } else { "." };
        let script = format!("{source} {}; {print}", path.display());
        let output = sandbox.program(&program).args(&flags).args(["-c", &script]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{KEY}|{SG_URL}"), "{shell}");
    }
    let (_, ps) = export(&sandbox, "powershell", &[]);
    assert!(ps.contains(&format!("$env:DASHSCOPE_API_KEY = '{KEY}'")));
    let (_, nu) = export(&sandbox, "nu", &[]);
    assert!(nu.contains(&format!("$env.DASHSCOPE_API_KEY = r#'{KEY}'#")));
    let (_, cmd) = export(&sandbox, "cmd", &[]);
    assert!(cmd.contains(&format!("set \"DASHSCOPE_API_KEY={KEY}\"")));
}

/// `docker run --env-file`, as Docker documents it: one `NAME=value` per line, `#` comments
/// and blank lines skipped, leading whitespace trimmed, the value taken literally (quotes
/// included).
fn parse_docker_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim_start)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, value) = line.split_once('=').expect("NAME=value");
            assert!(!name.contains(char::is_whitespace), "variable names have no spaces");
            (name.to_string(), value.to_string())
        })
        .collect()
}

/// A `.env` file as compose reads it: like Docker's, but one pair of surrounding single
/// quotes is taken literally and double quotes unescape `\\` and `\"`.
fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    parse_docker_env(text)
        .into_iter()
        .map(|(name, value)| {
            let value = if let Some(inner) =
                value.strip_prefix('\'').and_then(|v| v.strip_suffix('\''))
            {
                inner.to_string()
            } else if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                inner.replace("\\\"", "\"").replace("\\\\", "\\")
            } else {
                value
            };
            (name, value)
        })
        .collect()
}

fn expected_pairs() -> Vec<(String, String)> {
    vec![
        ("DASHSCOPE_API_KEY".into(), KEY.into()),
        ("DASHSCOPE_HTTP_BASE_URL".into(), SG_URL.into()),
        (
            "DASHSCOPE_WEBSOCKET_BASE_URL".into(),
            "wss://dashscope-intl.aliyuncs.com/api-ws/v1/inference".into(),
        ),
        (
            "DASHSCOPE_COMPATIBLE_BASE_URL".into(),
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1".into(),
        ),
        (
            "DASHSCOPE_API_BASE".into(),
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1".into(),
        ),
    ]
}

#[test]
fn docker_env_dotenv_compose_and_json_exports_parse_to_the_stored_values() {
    let sandbox = stored();
    assert_eq!(parse_docker_env(&export(&sandbox, "docker-env", &[]).1), expected_pairs());
    assert_eq!(parse_dotenv(&export(&sandbox, "dotenv", &[]).1), expected_pairs());
    let path = sandbox.root().join("dashscope.env");
    let run =
        sandbox.run(&["export", "--format", "compose", "--output", path.to_str().unwrap()], None);
    assert!(
        run.stdout.contains("env_file:") && run.stdout.contains("- dashscope.env"),
        "{}",
        run.stdout
    );
    assert_eq!(parse_docker_env(&fs::read_to_string(&path).unwrap()), expected_pairs());
    let json: serde_json::Value = serde_json::from_str(&export(&sandbox, "json", &[]).1).unwrap();
    assert_eq!(json["DASHSCOPE_API_KEY"], KEY);
}

#[test]
fn k8s_secret_is_a_valid_secret_manifest() {
    let sandbox = stored();
    let (path, _) = export(&sandbox, "k8s-secret", &["--name", "qwen", "--namespace", "ml"]);
    let Some(python) = common::python_sdk() else { return };
    // PyYAML comes with the dashscope package; a schema check of what the API server requires.
    let check = r#"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
assert doc["apiVersion"] == "v1" and doc["kind"] == "Secret", doc
assert doc["metadata"] == {"name": "qwen", "namespace": "ml"}, doc["metadata"]
assert doc["type"] == "Opaque"
assert set(doc) <= {"apiVersion", "kind", "metadata", "type", "stringData", "data"}
assert all(isinstance(k, str) and isinstance(v, str) for k, v in doc["stringData"].items())
print(doc["stringData"]["DASHSCOPE_API_KEY"], end="")
"#;
    let output = Command::new(&python).args(["-c", check]).arg(&path).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout), KEY);
    let bad = sandbox.run(
        &["export", "--format", "k8s-secret", "--name", "Bad_Name", "--output", "/dev/null"],
        None,
    );
    bad.expect_code(2);
}

#[test]
fn github_actions_export_holds_no_secret_and_feeds_gh_on_stdin() {
    let sandbox = stored();
    let run = sandbox.run(&["export", "--format", "github-actions"], None);
    run.expect_code(0);
    assert!(run.stdout.contains("| gh secret set DASHSCOPE_API_KEY"));
    assert!(run.stdout.contains("gh variable set DASHSCOPE_HTTP_BASE_URL"));
}

#[test]
fn a_terminal_only_sees_the_key_with_reveal() {
    let Some(script) = tool("script") else { return };
    let sandbox = stored();
    let bin = assert_cmd::cargo::cargo_bin("dashkey");
    let hidden = sandbox
        .program(&script)
        .args(["-qec", &format!("{} export --format sh", bin.display()), "/dev/null"])
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&hidden.stdout);
    assert!(screen.contains("--reveal") && !screen.contains(KEY), "{screen}");
    let shown = sandbox
        .program(&script)
        .args(["-qec", &format!("{} export --format sh --reveal", bin.display()), "/dev/null"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&shown.stdout).contains(KEY));
}

/// Reads systemd's `Environment="NAME=value"` lines back, undoing its escapes.
fn parse_systemd_environment(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.strip_prefix("Environment=\"")?.strip_suffix('"'))
        .map(|quoted| {
            let value = quoted.replace("%%", "%").replace("\\\"", "\"").replace("\\\\", "\\");
            let (name, value) = value.split_once('=').unwrap();
            (name.to_string(), value.to_string())
        })
        .collect()
}

/// `systemd-analyze verify` on a unit with the given drop-in; returns its complaints.
fn systemd_verify(dir: &Path, drop_in: &str) -> Option<String> {
    let analyze = tool("systemd-analyze")?;
    fs::write(
        dir.join("app.service"),
        "[Unit]\nDescription=test\n[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    fs::create_dir_all(dir.join("app.service.d")).unwrap();
    fs::write(dir.join("app.service.d/50-dashkey.conf"), drop_in).unwrap();
    let output = Command::new(analyze)
        .env("SYSTEMD_UNIT_PATH", format!("{}:", dir.display()))
        .arg("verify")
        .arg(dir.join("app.service"))
        .output()
        .unwrap();
    Some(String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn systemd_export_is_accepted_by_systemd_analyze_and_parses_back() {
    let sandbox = stored();
    let (_, text) = export(&sandbox, "systemd", &[]);
    assert_eq!(parse_systemd_environment(&text), expected_pairs());
    let units = sandbox.root().join("units");
    fs::create_dir_all(&units).unwrap();
    if let Some(complaints) = systemd_verify(&units, &text) {
        assert!(!complaints.contains("50-dashkey.conf"), "{complaints}");
    }
}

/// A real supervisord on a temporary config and socket, stopped on drop.
struct Supervisor {
    child: Child,
    config: PathBuf,
    dir: PathBuf,
}

impl Supervisor {
    /// Starts supervisord with one program that writes its environment to `app.env`.
    fn start(dir: &Path, environment: &str) -> Option<Supervisor> {
        let supervisord = tool("supervisord")?;
        let config = dir.join("supervisord.conf");
        fs::write(
            &config,
            format!(
                "[unix_http_server]\nfile={d}/supervisor.sock\n\n\
                 [supervisord]\nnodaemon=true\nuser=root\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\nchildlogdir={d}\n\n\
                 [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
                 [supervisorctl]\nserverurl=unix://{d}/supervisor.sock\n\n\
                 [program:app]\ncommand=/bin/sh -c 'env > {d}/app.env.tmp && mv {d}/app.env.tmp {d}/app.env && exec sleep 600'\n\
                 autostart=true\nstartsecs=0\nstopsignal=KILL\n{environment}",
                d = dir.display()
            ),
        )
        .unwrap();
        let child = Command::new(supervisord)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let supervisor = Supervisor { child, config, dir: dir.to_path_buf() };
        supervisor.wait_for_env(|_| true);
        Some(supervisor)
    }

    /// Waits until the program has written an environment that satisfies `ok`.
    fn wait_for_env(&self, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = fs::read_to_string(self.dir.join("app.env"))
                && ok(&text)
            {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "supervisord's program never wrote the expected environment"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ctl(&self, args: &[&str]) {
        let ctl = tool("supervisorctl").expect("supervisorctl comes with supervisord");
        let status = Command::new(ctl)
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success() || args == ["shutdown"]);
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let _ = terminate(self.child.id());
        let _ = self.child.wait();
    }
}

fn terminate(pid: u32) -> std::io::Result<()> {
    Command::new("kill").arg("-TERM").arg(pid.to_string()).status().map(|_| ())
}

fn value_in(env: &str, name: &str) -> Option<String> {
    env.lines().find_map(|line| line.strip_prefix(&format!("{name}=")).map(str::to_string))
}

#[test]
fn supervisord_export_is_read_by_a_real_supervisord() {
    let sandbox = stored();
    let line = sandbox.run_revealing(&["export", "--format", "supervisord"], None).stdout;
    let dir = sandbox.root().join("supervisor");
    fs::create_dir_all(&dir).unwrap();
    let Some(supervisor) = Supervisor::start(&dir, &line) else { return };
    let env = supervisor.wait_for_env(|env| env.contains("DASHSCOPE_API_KEY="));
    assert_eq!(value_in(&env, "DASHSCOPE_API_KEY").as_deref(), Some(KEY));
    assert_eq!(value_in(&env, "DASHSCOPE_HTTP_BASE_URL").as_deref(), Some(SG_URL));
}

#[test]
fn service_install_reaches_a_running_supervisord_program_and_uninstall_restores_its_config() {
    let sandbox = stored();
    let dir = sandbox.root().join("supervisor");
    fs::create_dir_all(&dir).unwrap();
    let Some(supervisor) = Supervisor::start(&dir, "environment=EXISTING=\"kept\"\n") else {
        return;
    };
    let original = fs::read(&supervisor.config).unwrap();
    let config = supervisor.config.to_str().unwrap().to_string();

    let run = sandbox.run(&["service", "install", "--supervisord", "app", "-c", &config], None);
    run.expect_code(0);
    assert!(run.stdout.contains("supervisorctl -c"), "{}", run.stdout);
    fs::remove_file(dir.join("app.env")).unwrap();
    supervisor.ctl(&["update"]);
    let env = supervisor.wait_for_env(|env| env.contains("DASHSCOPE_API_KEY="));
    assert_eq!(value_in(&env, "DASHSCOPE_API_KEY").as_deref(), Some(KEY));
    assert_eq!(
        value_in(&env, "EXISTING").as_deref(),
        Some("kept"),
        "the program's own variables stay"
    );

    sandbox
        .run(&["service", "uninstall", "--supervisord", "app", "-c", &config], None)
        .expect_code(0);
    assert_eq!(
        fs::read(&supervisor.config).unwrap(),
        original,
        "uninstall restores the config byte for byte"
    );
    fs::remove_file(dir.join("app.env")).unwrap();
    supervisor.ctl(&["update"]);
    let env = supervisor.wait_for_env(|_| true);
    assert_eq!(value_in(&env, "DASHSCOPE_API_KEY"), None);
}

#[test]
fn systemd_service_install_in_a_temporary_root_is_private_valid_and_reversible() {
    let sandbox = stored();
    let root = sandbox.root().join("sysroot");
    fs::create_dir_all(root.join("etc/systemd/system")).unwrap();
    fs::write(root.join("etc/systemd/system/app.service"), "[Service]\nExecStart=/bin/true\n")
        .unwrap();
    let before = snapshot(&root);
    let root_arg = root.to_str().unwrap();
    sandbox
        .run(&["service", "install", "--systemd", "app", "--root", root_arg], None)
        .expect_code(0);

    let env_file = root.join("etc/dashkey/app.service.env");
    assert_eq!(fs::metadata(&env_file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(fs::read_to_string(&env_file).unwrap().contains(&format!("DASHSCOPE_API_KEY={KEY}\n")));
    let drop_in =
        fs::read_to_string(root.join("etc/systemd/system/app.service.d/50-dashkey.conf")).unwrap();
    assert!(
        drop_in.contains("[Service]\nEnvironmentFile=/etc/dashkey/app.service.env\n"),
        "{drop_in}"
    );
    assert!(!drop_in.contains(KEY), "the drop-in holds no secret");
    let units = sandbox.root().join("verify-units");
    fs::create_dir_all(&units).unwrap();
    if let Some(complaints) = systemd_verify(&units, &drop_in) {
        assert!(!complaints.contains("50-dashkey.conf"), "{complaints}");
    }
    assert!(sandbox.run(&["service", "list"], None).stdout.contains("systemd unit app.service"));
    let listed = sandbox.run(&["service", "list", "--json"], None).json();
    assert_eq!(listed["services"][0]["manager"], "systemd");
    assert_eq!(listed["services"][0]["unit"], "app.service");

    sandbox
        .run(&["service", "uninstall", "--systemd", "app", "--root", root_arg], None)
        .expect_code(0);
    assert_eq!(snapshot(&root), before, "uninstall restores the root exactly");
}

#[test]
fn a_system_unit_without_root_is_refused_and_nothing_changes() {
    let Some(setpriv) = tool("setpriv") else { return };
    if !is_root() {
        return;
    }
    let sandbox = stored();
    let before = snapshot(sandbox.root());
    let output = sandbox
        .program(&setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("dashkey"))
        .args(["service", "install", "--systemd", "app"])
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs root"));
    assert_eq!(snapshot(sandbox.root()), before);
}

/// A system unit under `root`, a user unit, and a supervisord program in `conf`.
fn install_three_services(sandbox: &Sandbox, root: &Path, conf: &Path) {
    let root = root.to_str().unwrap();
    let conf = conf.to_str().unwrap();
    for args in [
        vec!["service", "install", "--systemd", "app", "--root", root],
        vec!["service", "install", "--systemd", "worker", "--user"],
        vec!["service", "install", "--supervisord", "app", "-c", conf],
    ] {
        sandbox.run(&args, None).expect_code(0);
    }
}

#[test]
fn a_new_key_reaches_every_installed_service() {
    let sandbox = stored();
    let root = sandbox.root().join("sysroot");
    let supervisor_conf = sandbox.root().join("supervisord.conf");
    fs::write(&supervisor_conf, "[program:app]\ncommand=/bin/true\n").unwrap();
    install_three_services(&sandbox, &root, &supervisor_conf);

    let run = sandbox.run(&["set", "--stdin", "--offline", "--no-modify-rc"], Some(OTHER_KEY));
    run.expect_code(0);
    for file in [
        root.join("etc/dashkey/app.service.env"),
        sandbox.home.join(".config/dashkey/services/worker.service.env"),
        supervisor_conf.clone(),
    ] {
        let text = fs::read_to_string(&file).unwrap();
        assert!(text.contains(OTHER_KEY) && !text.contains(KEY), "{}", file.display());
    }
    for restart in [
        "systemctl restart app.service",
        "systemctl --user restart worker.service",
        "supervisorctl -c",
    ] {
        assert!(run.stderr.contains(restart), "missing {restart:?} in:\n{}", run.stderr);
    }
}

#[test]
fn no_process_dashkey_starts_ever_sees_the_key_in_its_arguments() {
    let Some(strace) = tool("strace") else { return };
    let sandbox = stored();
    let trace = sandbox.root().join("trace");
    let root = sandbox.root().join("sysroot");
    let root_arg = root.to_str().unwrap().to_string();
    let mut runs: Vec<(Vec<&str>, Option<&str>)> = vec![
        (vec!["set", "--stdin", "--offline"], Some(OTHER_KEY)),
        (vec!["run", "--", "printenv", "DASHSCOPE_API_KEY"], None),
        (vec!["export", "--format", "sh"], None),
        (vec!["service", "install", "--systemd", "app", "--root", &root_arg], None),
        (vec!["env", "--shell", "fish"], None),
    ];
    if is_root() && tool("sudo").is_some() {
        runs.push((vec!["sudo", "-u", "nobody", "--", "printenv", "DASHSCOPE_API_KEY"], None));
    }
    for (args, stdin) in runs {
        let mut command = sandbox.program(&strace);
        command
            .args(["-f", "-qq", "-s", "65536", "-e", "trace=execve", "-o"])
            .arg(&trace)
            .arg(assert_cmd::cargo::cargo_bin("dashkey"))
            .args(&args);
        common::feed(command, stdin);
        let calls = fs::read_to_string(&trace).unwrap();
        assert!(calls.contains("execve("), "strace recorded nothing for {args:?}");
        for key in [KEY, OTHER_KEY] {
            assert!(!calls.contains(key), "a key was on a command line during {args:?}:\n{calls}");
        }
    }
}

#[test]
fn a_program_in_an_included_file_is_edited_there() {
    let sandbox = stored();
    let etc = sandbox.root().join("etc-supervisor");
    fs::create_dir_all(etc.join("conf.d")).unwrap();
    let main = etc.join("supervisord.conf");
    fs::write(&main, "[supervisord]\nnodaemon=true\n\n[include]\nfiles = conf.d/*.conf\n").unwrap();
    let included = etc.join("conf.d/app.conf");
    let original = "[program:app]\ncommand=/bin/true\n";
    fs::write(&included, original).unwrap();
    let main_before = fs::read(&main).unwrap();
    let main_arg = main.to_str().unwrap();
    sandbox
        .run(&["service", "install", "--supervisord", "app", "-c", main_arg], None)
        .expect_code(0);
    assert_eq!(fs::read(&main).unwrap(), main_before, "the main file is not touched");
    assert!(
        fs::read_to_string(&included).unwrap().contains(&format!("DASHSCOPE_API_KEY=\"{KEY}\""))
    );
    sandbox
        .run(&["service", "uninstall", "--supervisord", "app", "-c", main_arg], None)
        .expect_code(0);
    assert_eq!(fs::read_to_string(&included).unwrap(), original);
    let missing =
        sandbox.run(&["service", "install", "--supervisord", "nope", "-c", main_arg], None);
    missing.expect_code(3);
    assert!(missing.stderr.contains("no [program:nope] section"), "{}", missing.stderr);
}

#[test]
fn unset_takes_the_key_back_from_every_installed_service() {
    let sandbox = Sandbox::new();
    let root = sandbox.root().join("sysroot");
    fs::create_dir_all(root.join("etc/systemd/system")).unwrap();
    let supervisor_conf = sandbox.root().join("supervisord.conf");
    fs::write(&supervisor_conf, "[program:app]\ncommand=/bin/true\nenvironment=A=\"1\"\n").unwrap();
    let before = snapshot(sandbox.root());
    sandbox.run(&["set", "--stdin", "--offline", "--no-modify-rc"], Some(KEY)).expect_code(0);
    install_three_services(&sandbox, &root, &supervisor_conf);
    let run = sandbox.run(&["unset"], None);
    run.expect_code(0);
    assert!(run.stderr.contains("supervisorctl -c"), "{}", run.stderr);
    assert_eq!(snapshot(sandbox.root()), before, "unset leaves no trace, in services either");
}
