//! The defects a new user's walk through dashkey found (issue 11), each proved with the real
//! binary in a sandbox HOME and, where a shell reads the file, the real shell.

// Unix only: real shells, sudo, a pseudo-terminal.
#![cfg(unix)]

mod common;

use common::{KEY, OTHER_KEY, Run, Sandbox, snapshot, tool};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

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
    // And set said what it did.
    assert!(run.stderr.contains("CRLF") && run.stderr.contains("is LF"), "{}", run.stderr);

    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(snapshot(sandbox.root()), before, "unset restores the CRLF file byte for byte");
}

#[test]
fn every_shell_reads_the_key_through_its_own_crlf_startup_file() {
    let sandbox = Sandbox::new();
    for (file, line) in [
        (".profile", "export FOO=1"),
        (".zshenv", "export FOO=1"),
        (".kshrc", "alias ll=ls"),
        (".mkshrc", "alias ll=ls"),
        (".tcshrc", "set foo=1"),
    ] {
        sandbox.write(file, format!("{line}\r\n"));
    }
    let before = snapshot(sandbox.root());
    let shells = ["--shell", "zsh", "--shell", "ksh", "--shell", "mksh", "--shell", "tcsh"];
    let run = set(&sandbox, KEY, &shells);
    run.expect_code(0);
    assert_eq!(run.stderr.matches("CRLF").count(), 5, "one note per file: {}", run.stderr);
    let print = "printf '%s' \"$DASHSCOPE_API_KEY\"";
    for (name, args) in [
        ("zsh", ["-c", print].as_slice()),
        ("ksh", &["-l", "-c", print]),
        ("ksh", &["-i", "-c", print]),
        ("mksh", &["-l", "-c", print]),
        ("mksh", &["-i", "-c", print]),
        ("tcsh", &["-c", print]),
    ] {
        let Some(program) = tool(name) else { continue };
        let out = shell_out(&sandbox, &program, args);
        assert!(out.ends_with(KEY), "{name} {args:?} printed {out:?}");
    }
    sandbox.run(&["unset"], None).expect_code(0);
    for history in [".sh_history", ".mksh_history", ".history"] {
        let _ = std::fs::remove_file(sandbox.home.join(history));
    }
    assert!(snapshot(sandbox.root()) == before, "unset did not restore every CRLF file");
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
        let typescript = sandbox.root().join("typescript");
        let mut command = sandbox.program("timeout");
        command.arg("30").arg(script).args(["-qec", &line]).arg(&typescript);
        let out = String::from_utf8_lossy(&command.output().unwrap().stdout).into_owned();
        assert!(out.contains(KEY), "ksh -i on a terminal printed {out:?}");
    }
    // Not interactive: a login shell reads .profile, which is hooked too.
    let out = shell_out(&sandbox, &ksh, &["-l", "-c", print]);
    assert!(out.ends_with(KEY), "ksh -l printed {out:?}");

    sandbox.run(&["unset"], None).expect_code(0);
    // ksh keeps its history in the home; it is not dashkey's.
    let _ = std::fs::remove_file(sandbox.home.join(".sh_history"));
    let _ = std::fs::remove_file(sandbox.root().join("typescript"));
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
    for name in dashkey::store::DASHSCOPE_VARS {
        assert!(names.contains(&name), "{name} is not kept: {fix}");
    }
    assert!(fix.contains(&format!("{} sudo -u nobody -- <command>", bin_path())), "{fix}");
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

// 5. Wording and exit statuses

#[test]
fn set_gui_says_a_new_login_is_needed_and_region_says_it_moved_the_key() {
    let sandbox = Sandbox::new();
    let run = set(&sandbox, KEY, &["--no-modify-rc", "--gui"]);
    run.expect_code(0);
    assert!(
        sandbox.home.join(".config/environment.d").is_dir(),
        "--gui wrote no session file: {}",
        run.stdout
    );
    assert!(run.stdout.contains("log out and back in"), "{}", run.stdout);
    let run = set(&sandbox, KEY, &["--no-modify-rc"]);
    assert!(!run.stdout.contains("log out"), "no desktop file changed this time: {}", run.stdout);

    let run = sandbox.run(&["region", "ap-southeast-1"], None);
    run.expect_code(0);
    assert!(run.stdout.contains("Moved the stored key sk-…5b6c"), "{}", run.stdout);
    assert!(run.stdout.contains("to region ap-southeast-1"), "{}", run.stdout);
    assert!(!run.stdout.contains("Saved the DashScope API key"), "{}", run.stdout);
}

#[test]
fn a_routine_rotation_is_a_plain_line() {
    let sandbox = Sandbox::new();
    set(&sandbox, KEY, &["--no-modify-rc"]).expect_code(0);
    let run = set(&sandbox, OTHER_KEY, &["--no-modify-rc"]);
    run.expect_code(0);
    let line = run.stderr.lines().find(|l| l.contains("held a different key")).expect(&run.stderr);
    assert!(!line.trim_start().starts_with('!'), "an alarm for a rotation: {line}");
    assert!(!run.stderr.lines().any(|l| l.starts_with('!')), "{}", run.stderr);
}

#[test]
fn no_check_mark_beside_a_value_that_is_not_a_key() {
    let mut sandbox = Sandbox::new();
    // The documentation's placeholder, exported as the seed page shows.
    sandbox.env("DASHSCOPE_API_KEY", "YOUR_DASHSCOPE_API_KEY");
    let found = findings(&sandbox);
    assert!(
        found.iter().any(|f| f["severity"] == "fail" && f["id"] == "placeholder"),
        "{found:#?}"
    );
    let sdks = with_id(&found, "sdk-disagree");
    assert!(sdks.iter().all(|f| f["severity"] != "ok"), "{sdks:#?}");
    let text = sandbox.run(&["doctor"], None).stdout;
    assert!(!text.lines().any(|l| l.contains('✓') && l.contains("all use")), "{text}");
}

#[test]
fn no_stored_key_is_claimed_when_dashkey_stored_none() {
    let mut sandbox = Sandbox::new();
    // The seed page's way: the key in .bashrc, nothing stored by dashkey.
    sandbox.write(".bashrc", format!("export DASHSCOPE_API_KEY='{KEY}'\n"));
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let found = findings(&sandbox);
    let stale = with_id(&found, "stale-env");
    assert!(!stale.is_empty(), "{found:#?}");
    for finding in &stale {
        assert!(!finding["title"].as_str().unwrap().contains("stored key"), "{finding}");
    }
    assert!(
        stale.iter().any(|f| f["title"] == "this environment has the key your startup files set")
    );
}

#[test]
fn ctrl_d_at_the_hidden_prompt_is_a_cancel() {
    let Some(script) = tool("script") else { return };
    let sandbox = Sandbox::new();
    let line = format!("'{}' set --offline --no-modify-rc", bin_path());
    let typescript = sandbox.root().join("typescript");
    let mut command = sandbox.program("timeout");
    command.arg("30").arg(script).args(["-qec", &line]).arg(&typescript).env("TERM", "dumb");
    // Ctrl-D (EOT) on the empty line the prompt reads.
    let output = common::feed(command, Some("\u{4}"));
    let screen = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{screen}");
    assert!(screen.contains("cancelled"), "{screen}");
    assert!(!screen.contains("cannot read from the terminal"), "{screen}");
    assert!(!sandbox.home.join(".config/dashkey").exists(), "a cancel changed something");
}

/// The `name(1)` references of a roff page (`dashkey\-set(1)`).
fn named_pages(roff: &str) -> Vec<String> {
    let mut names = Vec::new();
    for piece in roff.split("(1)") {
        let word: String = piece
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '\\')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let word = word.replace("\\-", "-");
        if word.starts_with("dashkey") {
            names.push(word);
        }
    }
    names
}

#[test]
fn every_man_page_the_main_page_names_is_generated_and_parses() {
    let sandbox = Sandbox::new();
    let main = sandbox.run(&["man"], None);
    main.expect_code(0);
    let dir = sandbox.root().join("man1");
    std::fs::create_dir(&dir).unwrap();
    let run = sandbox.run(&["man", "--output", dir.to_str().unwrap()], None);
    run.expect_code(0);
    assert_eq!(std::fs::read_to_string(dir.join("dashkey.1")).unwrap(), main.stdout);
    let mut named = named_pages(&main.stdout);
    assert!(named.contains(&"dashkey-set".to_string()), "{named:?}");
    let mut checked = std::collections::BTreeSet::new();
    while let Some(name) = named.pop() {
        if !checked.insert(name.clone()) {
            continue;
        }
        let page = dir.join(format!("{name}.1"));
        let roff = std::fs::read_to_string(&page)
            .unwrap_or_else(|_| panic!("{name}(1) is named but was not generated"));
        assert!(
            roff.contains(&format!(".TH {name} 1")),
            "{name}: {}",
            &roff[..200.min(roff.len())]
        );
        named.extend(named_pages(&roff));
    }
    // The main page and its subcommands, and `service`'s three.
    assert!(checked.len() >= 16, "{checked:?}");
    assert!(checked.contains("dashkey-service-install"), "{checked:?}");
    if let Some(groff) = tool("groff") {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let output = Command::new(&groff)
                .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
                .arg(&path)
                .output();
            let output = output.unwrap();
            assert!(
                output.status.success() && output.stderr.is_empty(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    // A missing directory is refused by name and nothing is written.
    let missing = sandbox.root().join("nope");
    let run = sandbox.run(&["man", "--output", missing.to_str().unwrap()], None);
    run.expect_code(2);
    assert!(run.stderr.contains("nope") && !missing.exists(), "{}", run.stderr);
}

#[test]
fn nushell_completions_name_every_subcommand() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["completions", "nushell"], None);
    run.expect_code(0);
    let nu = &run.stdout;
    assert!(nu.starts_with("module completions {"), "{}", &nu[..100.min(nu.len())]);
    assert!(nu.trim_end().ends_with("export use completions *"), "{nu}");
    let help = sandbox.run(&["--help"], None).stdout;
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 12, "{commands:?}");
    for command in commands {
        assert!(nu.contains(&format!("export extern \"dashkey {command}\" [")), "{command}");
    }
    // Brackets and braces balance, as nu's parser needs.
    for (open, close) in [('[', ']'), ('{', '}'), ('(', ')')] {
        let depth = nu.chars().filter(|c| *c == open).count() as i64
            - nu.chars().filter(|c| *c == close).count() as i64;
        assert_eq!(depth, 0, "{open}{close} unbalanced");
    }
    assert_eq!(sandbox.run(&["completions", "nu"], None).stdout, *nu, "nu is an alias");
}

#[test]
fn the_needs_root_refusal_names_dashkey_by_its_full_path() {
    let Some(setpriv) = tool("setpriv") else { return };
    if !std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    }) {
        return;
    }
    let sandbox = Sandbox::new();
    set(&sandbox, KEY, &["--no-modify-rc"]).expect_code(0);
    // As a user who is not root: a system unit's files need root.
    let output = sandbox
        .program(&setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(common::dashkey_bin())
        .args(["service", "install", "--systemd", "app"])
        .current_dir("/")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let printed = format!("`sudo {} service install --systemd app`", bin_path());
    assert!(stderr.contains(&printed), "{stderr}");
}
