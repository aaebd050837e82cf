//! The reachability matrix and true verdicts, with the real Python SDK (dashscope 2.0.2) and
//! a Singapore key against fake regions: after `set`, a process no shell started (`env -i
//! HOME=…`) gets Singapore through `dashscope.Client()` (config.toml) but Beijing through the
//! 1.x calls; `status` and `doctor` say exactly that, and the fix doctor prints works.
//! Also `set --from-env`, from the seed page's `.bashrc`.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::Command;

use common::world::World;
use common::{KEY, Run, Sandbox, dashkey_bin, tool};
use fake_dashscope::Builder;
use serde_json::Value;

fn valid_in(region: &'static str) -> impl Fn(&str, Builder) -> Builder {
    move |r, builder| if r == region { builder.valid_key(KEY) } else { builder }
}

/// `PATH` for a bare process: dashkey's directory, then the system's.
fn bare_path() -> String {
    format!("{}:/usr/bin:/bin", dashkey_bin().parent().unwrap().display())
}

/// A process started with no shell and nothing but HOME, PATH and the JVM's home (so that no
/// lookup strays into the real home): what a desktop launcher or a scheduler gives a program.
fn bare(sandbox: &Sandbox, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("HOME", &sandbox.home)
        .env("PATH", bare_path())
        .env("JAVA_TOOL_OPTIONS", format!("-Duser.home={}", sandbox.home.display()))
        .current_dir(sandbox.root());
    command
}

fn run_bare(sandbox: &Sandbox, args: &[&str]) -> Run {
    let output = bare(sandbox, dashkey_bin()).args(args).output().unwrap();
    let run = Run::from(output);
    sandbox.assert_no_secret(&run, args);
    run
}

/// The base URL each Python surface resolves, by the real SDK, in a bare process that first
/// runs `prelude` in sh (empty: nothing).
fn sdk_urls(sandbox: &Sandbox, python: &Path, prelude: &str) -> (String, String) {
    let probe = "import dashscope\nfrom dashscope.v2._config import resolve_config\n\
                 print(dashscope.base_http_api_url)\nprint(resolve_config().base_url)";
    let script = format!("{prelude}\nexec \"$0\" -c '{probe}'");
    let output = bare(sandbox, "sh").args(["-c", &script]).arg(python).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines = text.lines().map(str::to_string);
    (lines.next().unwrap(), lines.next().unwrap())
}

fn context<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["contexts"].as_array().unwrap().iter().find(|c| c["context"] == id).unwrap()
}

fn surface<'a>(row: &'a Value, id: &str) -> &'a Value {
    row["surfaces"].as_array().unwrap().iter().find(|s| s["surface"] == id).unwrap()
}

fn finding<'a>(report: &'a Value, id: &str, severity: &str) -> Option<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id && f["severity"] == severity)
}

/// The command part of a fix: the text before a `   (gloss)`.
fn command_of(fix: &str) -> &str {
    fix.split("   (").next().unwrap().trim()
}

#[test]
fn a_shell_less_process_gets_singapore_through_client_and_beijing_through_1x_and_is_told() {
    let Some(python) = common::python_sdk() else { return };
    let world = World::new(valid_in("ap-southeast-1"));
    let sandbox = &world.sandbox;
    sandbox.run(&["set", "--stdin", "--shell", "bash"], Some(KEY)).expect_code(0);
    let singapore = format!("{}/api/v1", world.server("ap-southeast-1").url());

    // The real SDK, no shell: Client() reads config.toml, the 1.x calls only variables.
    let (legacy, client) = sdk_urls(sandbox, &python, "");
    assert_eq!(client, singapore);
    assert_eq!(legacy, "https://dashscope.aliyuncs.com/api/v1");

    // status there: the same two answers, as ✓/✗ against the stored region.
    let status = run_bare(sandbox, &["status", "--json"]).json();
    assert_eq!(status["key_region"]["region"], "ap-southeast-1");
    assert_eq!(status["key_region"]["from"], "stored");
    let here = context(&status, "this-process");
    assert_eq!(surface(here, "python-client")["url"], singapore.as_str());
    assert_eq!(surface(here, "python-client")["region_ok"], true);
    assert_eq!(surface(here, "python-1x")["region"], "cn-beijing");
    assert_eq!(surface(here, "python-1x")["region_ok"], false);
    assert_eq!(here["region"], false);
    // New terminals load dashkey's file: both surfaces call Singapore there.
    let terminal = context(&status, "interactive-shell");
    assert_eq!(terminal["key"], true);
    assert_eq!(terminal["region"], true);
    let text = run_bare(sandbox, &["status"]).stdout;
    assert!(text.contains("Where programs get the key"), "{text}");
    assert!(text.contains("✗ region (Python 1.x, Java → cn-beijing)"), "{text}");

    // doctor there: a failure, never "right for Beijing", and a fix that is not a loop.
    let run = run_bare(sandbox, &["doctor", "--json"]);
    assert_eq!(run.code, 1);
    let report = run.json();
    let wrong = finding(&report, "base-url", "fail").expect("base-url fail");
    assert!(wrong["title"].as_str().unwrap().contains("stored for Singapore"), "{wrong}");
    let all = report.to_string();
    assert!(!all.contains("right for a key from China"), "{all}");
    let fix = command_of(wrong["fix"].as_str().unwrap()).to_string();
    assert!(!fix.starts_with("dashkey region"), "{fix}");

    // The fix, run as printed in the same bare environment: the 1.x surface reaches
    // Singapore, and doctor has nothing left to say about the region.
    let (legacy, client) = sdk_urls(sandbox, &python, &fix);
    assert_eq!((legacy.as_str(), client.as_str()), (singapore.as_str(), singapore.as_str()));
    let after = bare(sandbox, "sh")
        .args(["-c", &format!("{fix}\nexec dashkey doctor --json")])
        .output()
        .unwrap();
    let after: Value = serde_json::from_slice(&after.stdout).unwrap();
    assert!(finding(&after, "base-url", "fail").is_none(), "{after}");
    assert!(finding(&after, "base-url", "ok").is_some(), "{after}");

    // verify in the bare process: Beijing is "configured" (what it calls), never Singapore.
    let verify = run_bare(sandbox, &["verify", "--json"]).json();
    let configured: Vec<&str> = verify["regions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["configured"] == true)
        .map(|r| r["region"].as_str().unwrap())
        .collect();
    assert_eq!(configured, ["cn-beijing"]);
    assert_eq!(verify["fix"], fix.as_str());
}

#[test]
fn without_a_stored_region_doctor_says_it_does_not_know_and_never_calls_beijing_right() {
    let sandbox = Sandbox::new();
    let report = {
        let mut sandbox = Sandbox::new();
        sandbox.env("DASHSCOPE_API_KEY", KEY);
        sandbox.run(&["doctor", "--json"], None).json()
    };
    let note = finding(&report, "base-url", "info").expect("base-url info");
    let detail = note["detail"].as_str().unwrap();
    assert!(detail.contains("knows no region"), "{detail}");
    assert!(detail.contains("right only for a key from China"), "{detail}");
    // And status has no region verdict at all.
    let status = sandbox.run(&["status", "--json"], None).json();
    assert_eq!(status["key_region"]["region"], Value::Null);
    assert!(
        status["contexts"].as_array().unwrap().iter().all(|c| c["region"] != false),
        "{status}"
    );
}

/// The seed page's reader: `export DASHSCOPE_API_KEY='…'` in `.bashrc`. `set --from-env`
/// adopts it (from dashkey's own environment, never argv), finds its region online, names
/// the old line with the `--migrate` command, and that command takes it out.
#[test]
fn set_from_env_adopts_the_key_of_the_old_export_line_and_offers_migrate() {
    let Some(bash) = tool("bash") else { return };
    let world = World::new(valid_in("ap-southeast-1"));
    let sandbox = &world.sandbox;
    sandbox.write(".bashrc", format!("export DASHSCOPE_API_KEY='{KEY}'\n"));
    // Nothing stored yet: doctor's fixes already point at --from-env.
    let doctor = sandbox
        .program(&bash)
        .args(["-c", ". ~/.bashrc; exec \"$0\" doctor --json"])
        .arg(dashkey_bin())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let fixes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["fix"].as_str())
        .filter(|fix| fix.starts_with("dashkey set"))
        .collect();
    assert!(!fixes.is_empty(), "{report}");
    assert!(fixes.iter().all(|fix| fix.starts_with("dashkey set --from-env")), "{fixes:?}");

    let in_shell = |args: &str| {
        let output = sandbox
            .program(&bash)
            .args(["-c", &format!(". ~/.bashrc; exec \"$0\" {args}")])
            .arg(dashkey_bin())
            .output()
            .unwrap();
        let run = Run::from(output);
        sandbox.assert_no_secret(&run, &[args]);
        run
    };
    let run = in_shell("set --from-env --shell bash");
    run.expect_code(0);
    assert!(run.stderr.contains("accepts the key in ap-southeast-1"), "{}", run.stderr);
    assert!(run.stdout.contains("~/.bashrc:1"), "{}", run.stdout);
    assert!(run.stdout.contains("dashkey set --keep-key --migrate"), "{}", run.stdout);
    let status = sandbox.run(&["status", "--json"], None).json();
    assert_eq!(status["stored"]["region"], "ap-southeast-1");

    let run = in_shell("set --keep-key --migrate --shell bash");
    run.expect_code(0);
    let bashrc = String::from_utf8(sandbox.read(".bashrc")).unwrap();
    assert!(!bashrc.contains(KEY), "{bashrc}");
    // A new interactive bash still gets the key, now from dashkey's file, and Singapore.
    let out = sandbox
        .program(&bash)
        .args(["-i", "-c", "printf '%s|%s' \"$DASHSCOPE_API_KEY\" \"$DASHSCOPE_HTTP_BASE_URL\""])
        .output()
        .unwrap();
    let singapore = format!("{}/api/v1", world.server("ap-southeast-1").url());
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{KEY}|{singapore}"));
}

#[test]
fn set_from_env_without_the_variable_is_a_usage_error_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let before = common::snapshot(sandbox.root());
    let run = sandbox.run(&["set", "--from-env", "--offline"], None);
    run.expect_code(2);
    assert!(run.stderr.contains("DASHSCOPE_API_KEY"), "{}", run.stderr);
    assert_eq!(common::snapshot(sandbox.root()), before);
    // Nothing stored and the variable here: the other commands say --from-env, too.
    let mut with = Sandbox::new();
    with.env("DASHSCOPE_API_KEY", KEY);
    let run = with.run(&["env", "--shell", "sh"], None);
    assert!(run.stderr.contains("dashkey set --from-env"), "{}", run.stderr);
}

/// `ssh host cmd` runs bash non-interactively through `.bashrc`: a line after Debian's
/// guard reaches terminal windows only, and the matrix says so for the ssh row.
#[test]
fn an_export_after_the_bashrc_guard_reaches_terminals_but_not_ssh_commands() {
    let mut sandbox = Sandbox::new();
    sandbox.env("SHELL", "/bin/bash");
    sandbox.write(
        ".bashrc",
        format!(
            "case $- in\n    *i*) ;;\n      *) return;;\nesac\nexport DASHSCOPE_API_KEY='{KEY}'\n"
        ),
    );
    let status = sandbox.run(&["status", "--json"], None).json();
    assert_eq!(context(&status, "interactive-shell")["key"], true);
    let ssh = context(&status, "ssh-command");
    assert_eq!(ssh["key"], false, "{ssh}");
    assert!(ssh["coverage"]["reason"].as_str().unwrap().contains("line 1"), "{ssh}");
    // The real bash agrees: non-interactive, it stops at the guard.
    if let Some(bash) = tool("bash") {
        let out = sandbox
            .program(&bash)
            .args(["-c", ". ~/.bashrc; printf %s \"$DASHSCOPE_API_KEY\""])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    }
}
