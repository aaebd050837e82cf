//! The defects a new user's walk through dashkey found (issue 11), each proved with the real
//! binary in a sandbox HOME and, where a shell reads the file, the real shell.

// Unix only: real shells, sudo, a pseudo-terminal.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{KEY, OTHER_KEY, Run, Sandbox, snapshot, tool};
use serde_json::Value;

const PRINT: &str = "printf '%s|%s' \"$DASHSCOPE_API_KEY\" \"$DASHSCOPE_HTTP_BASE_URL\"";
const SG_URL: &str = "https://dashscope-intl.aliyuncs.com/api/v1";

/// `set` without the online check, the key on stdin.
fn set(sandbox: &Sandbox, key: &str, extra: &[&str]) -> Run {
    let mut args = vec!["set", "--stdin", "--offline"];
    args.extend_from_slice(extra);
    sandbox.run(&args, Some(key))
}

/// A program in the sandbox environment, bounded, and what it printed on stdout.
fn shell_out(sandbox: &Sandbox, program: &Path, args: &[&str]) -> String {
    let mut command = sandbox.program("timeout");
    command.arg("30").arg(program).args(args).env("TERM", "dumb");
    let output = command.output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The findings of `dashkey doctor --json`.
fn findings(sandbox: &Sandbox) -> Vec<Value> {
    let run = sandbox.run(&["doctor", "--json"], None);
    run.json()["findings"].as_array().expect("findings").clone()
}

fn with_id<'a>(findings: &'a [Value], id: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["id"] == id).collect()
}

// 1. A CRLF startup file

#[test]
fn a_crlf_profile_gets_an_lf_block_that_bash_and_dash_login_shells_read() {
    let mut sandbox = Sandbox::new();
    let profile = "# ~/.profile, saved on Windows\r\nexport EDITOR=vi\r\n";
    sandbox.write(".profile", profile);
    let before = snapshot(sandbox.root());
    let run =
        set(&sandbox, KEY, &["--shell", "sh", "--shell", "bash", "--region", "ap-southeast-1"]);
    run.expect_code(0);
    assert!(run.stderr.contains("CRLF") && run.stderr.contains("is LF"), "{}", run.stderr);
    let written = String::from_utf8(sandbox.read(".profile")).unwrap();
    assert!(written.starts_with(profile), "the user's bytes stay as they were: {written:?}");
    assert!(!written[profile.len()..].contains('\r'), "{written:?}");
    let expected = format!("{KEY}|{SG_URL}");
    for (name, args) in [("bash", ["-l", "-c", PRINT]), ("dash", ["-l", "-c", PRINT])] {
        let Some(program) = tool(name) else { continue };
        assert_eq!(shell_out(&sandbox, &program, &args), expected, "{name} -l");
    }
    // `sh` as a login shell, whatever sh is here.
    sandbox.env("SHELL", "/bin/sh");
    assert_eq!(shell_out(&sandbox, Path::new("/bin/sh"), &["-l", "-c", PRINT]), expected, "sh -l");

    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(snapshot(sandbox.root()), before, "unset restores the CRLF file byte for byte");
}

#[test]
fn doctor_flags_a_crlf_startup_file_and_its_fix_clears_the_finding() {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "alias ll='ls -l'\r\n");
    set(&sandbox, KEY, &["--shell", "bash"]).expect_code(0);
    let found = findings(&sandbox);
    let crlf = with_id(&found, "crlf-startup-file");
    assert_eq!(crlf.len(), 1, "{found:#?}");
    assert_eq!(crlf[0]["severity"], "warn");
    assert!(crlf[0]["title"].as_str().unwrap().contains("~/.bashrc"), "{}", crlf[0]);
    let fix = crlf[0]["fix"].as_str().unwrap().to_string();
    assert!(fix.starts_with("sed -i 's/\\r$//' "), "{fix}");
    // The fix, run as printed.
    let status = sandbox.program("/bin/sh").args(["-c", &fix]).status().unwrap();
    assert!(status.success());
    assert!(!sandbox.read(".bashrc").contains(&b'\r'));
    assert!(with_id(&findings(&sandbox), "crlf-startup-file").is_empty());
    // And the key still loads in the converted file.
    if let Some(bash) = tool("bash") {
        let out = shell_out(&sandbox, &bash, &["-i", "-c", "printf %s \"$DASHSCOPE_API_KEY\""]);
        assert!(out.ends_with(KEY), "{out:?}");
    }
}

// 2. Debian's skeleton .kshrc

/// Debian's `/etc/skel/.kshrc` (from the ksh93u+m package) when it is here, else its first
/// lines as that package ships them.
fn debian_kshrc() -> String {
    std::fs::read_to_string("/etc/skel/.kshrc").unwrap_or_else(|_| {
        "# skip this setup for non-interactive shells\n[[ -o interactive && -t 0 ]] || return\n\n\
         # disable core dumps\nulimit -c 0\n"
            .to_string()
    })
}

#[test]
fn the_hook_in_debians_kshrc_runs_before_its_terminal_guard() {
    let Some(ksh) = tool("ksh") else { return };
    let sandbox = Sandbox::new();
    let skel = debian_kshrc();
    assert!(skel.contains("|| return"), "not Debian's guard: {skel}");
    sandbox.write(".kshrc", &skel);
    let before = snapshot(sandbox.root());
    set(&sandbox, KEY, &["--shell", "ksh"]).expect_code(0);
    let kshrc = String::from_utf8(sandbox.read(".kshrc")).unwrap();
    let (hook, guard) =
        (kshrc.find("# >>> dashkey >>>").unwrap(), kshrc.find("|| return").unwrap());
    assert!(hook < guard, "the block is after the guard:\n{kshrc}");

    let print = "printf %s \"$DASHSCOPE_API_KEY\"";
    // Interactive without a terminal (stdin is not one): the guard returns.
    let mut command = sandbox.program("timeout");
    command.args(["30"]).arg(&ksh).args(["-i", "-c", print]).stdin(std::process::Stdio::null());
    let out = String::from_utf8_lossy(&command.output().unwrap().stdout).into_owned();
    assert!(out.ends_with(KEY), "ksh -i without a terminal printed {out:?}");
    // Interactive on a terminal, through a pseudo-terminal.
    if let Some(script) = tool("script") {
        let line = format!("'{}' -i -c '{print}'", ksh.display());
        let mut command = sandbox.program("timeout");
        command.arg("30").arg(script).args(["-qec", &line, "/dev/null"]);
        let out = String::from_utf8_lossy(&command.output().unwrap().stdout).into_owned();
        assert!(out.contains(KEY), "ksh -i on a terminal printed {out:?}");
    }
    // Not interactive: a login shell reads .profile, which is hooked too.
    let out = shell_out(&sandbox, &ksh, &["-l", "-c", print]);
    assert!(out.ends_with(KEY), "ksh -l printed {out:?}");

    sandbox.run(&["unset"], None).expect_code(0);
    // ksh keeps its history in the home; it is not dashkey's.
    let _ = std::fs::remove_file(sandbox.home.join(".sh_history"));
    assert!(snapshot(sandbox.root()) == before, "unset did not restore the home");
}

// 3. doctor under sudo, and 6. every printed sudo command runs as printed

/// `sudo -n -u nobody /abs/dashkey doctor --json` from the sandbox environment.
fn doctor_under_sudo(sandbox: &Sandbox) -> Option<Vec<Value>> {
    let sudo = tool("sudo")?;
    let mut command = sandbox.program(&sudo);
    command.args(["-n", "-u", "nobody"]).arg(common::dashkey_bin()).args(["doctor", "--json"]);
    command.current_dir("/");
    let run = Run::from(command.output().unwrap());
    sandbox.assert_no_secret(&run, &["sudo", "doctor"]);
    Some(run.json()["findings"].as_array().expect("findings").clone())
}

/// The canonical path of the binary under test, as dashkey prints it.
fn bin_path() -> String {
    std::fs::canonicalize(common::dashkey_bin()).unwrap().display().to_string()
}

#[test]
fn doctor_under_sudo_keeps_the_region_and_never_suggests_set() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let Some(found) = doctor_under_sudo(&sandbox) else { return };
    let sudo = with_id(&found, "sudo");
    let dropped = sudo.iter().find(|f| f["severity"] == "fail").expect("the sudo finding");
    let fix = dropped["fix"].as_str().unwrap();
    let preserve = fix.split("--preserve-env=").nth(1).expect(fix).split(' ').next().unwrap();
    let names: Vec<&str> = preserve.split(',').collect();
    for name in dashkey::store::WRITTEN_VARS {
        assert!(names.contains(&name), "{name} is not kept: {fix}");
    }
    assert!(fix.contains(&format!("{} sudo -- <command>", bin_path())), "{fix}");
    for finding in &found {
        let fix = finding["fix"].as_str().unwrap_or_default();
        assert!(!fix.contains("dashkey set"), "under sudo, a fix says set: {finding}");
    }
}

#[test]
fn a_printed_sudo_fix_runs_as_printed_under_secure_path() {
    let Some(_) = tool("sudo") else { return };
    let mut sandbox = Sandbox::new();
    set(&sandbox, KEY, &["--no-modify-rc", "--region", "ap-southeast-1"]).expect_code(0);
    // The doctor's fix, taken from a run under sudo without the key.
    let found = doctor_under_sudo(&sandbox).unwrap();
    let fix = with_id(&found, "sudo")
        .into_iter()
        .find_map(|f| f["fix"].as_str().map(str::to_string))
        .unwrap();
    let command = fix.split("without sudo: ").nth(1).unwrap().split("   (").next().unwrap();
    let command =
        command.replace("<command>", "printenv DASHSCOPE_API_KEY DASHSCOPE_HTTP_BASE_URL");
    // A PATH without dashkey: only the printed path finds it.
    sandbox.env("PATH", "/usr/bin:/bin");
    let output = sandbox.program("/bin/sh").args(["-c", &command]).output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{command}: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(out, format!("{KEY}\n{SG_URL}\n"), "{command}");
    // The `sudo /abs/dashkey` every printed sudo command starts with works under secure_path.
    let output = sandbox
        .program("/bin/sh")
        .args(["-c", &format!("sudo -n {} --version", bin_path())])
        .output();
    assert!(output.unwrap().status.success());
    // `service --help` shows the form that works from any PATH.
    let help = sandbox.run(&["service", "--help"], None);
    assert!(
        help.stdout.contains("sudo \"$(command -v dashkey)\" service install"),
        "{}",
        help.stdout
    );
}

// 4. status with config.toml endpoints

#[test]
fn status_labels_a_gateway_with_its_region_and_warns_once_only_when_true() {
    let mut sandbox = Sandbox::new();
    // A gateway for Singapore, named in dashkey's config.toml.
    sandbox.write(
        ".config/dashkey/config.toml",
        "[regions.ap-southeast-1]\nendpoint = \"https://gateway.example.com\"\n",
    );
    set(&sandbox, KEY, &["--no-modify-rc", "--region", "ap-southeast-1"]).expect_code(0);
    let loaded = "set -a; . \"$HOME/.config/dashkey/env.sh\"; set +a";
    let bin = bin_path();
    let run = |sandbox: &Sandbox, line: &str| {
        let output = sandbox.program("/bin/sh").args(["-c", line]).output().unwrap();
        let run = Run::from(output);
        sandbox.assert_no_secret(&run, &["status"]);
        run
    };
    // A terminal that loaded dashkey's file: every SDK on the gateway, labelled Singapore,
    // and nothing to warn about.
    let out = run(&sandbox, &format!("{loaded}; '{bin}' status")).stdout;
    let labelled = out.matches("→ ap-southeast-1: https://gateway.example.com/api/v1").count();
    assert_eq!(labelled, 3, "{out}");
    assert!(!out.contains("custom endpoint"), "{out}");
    assert!(!out.lines().any(|l| l.starts_with('!')), "a warning where all is well:\n{out}");
    // A terminal with only the key (an old `export`): one warning naming the three SDKs.
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let out = run(&sandbox, &format!("'{bin}' status")).stdout;
    let warnings: Vec<&str> = out.lines().filter(|l| l.contains("stored key belongs to")).collect();
    assert_eq!(warnings.len(), 1, "{out}");
    assert!(
        warnings[0].contains("the Python, Java and Node SDKs here would call cn-beijing"),
        "{out}"
    );
}
