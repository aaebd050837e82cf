//! `dashkey set`, `unset` and `env` against real files in a temporary HOME and real shells.

// Unix only: these tests use unix modes, owners, links, devices or signals (std::os::unix).
#![cfg(unix)]

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use common::{KEY, OTHER_KEY, Sandbox, snapshot, tool};

/// `set` without the online check (the tests of that check start their own DashScope).
fn set(sandbox: &Sandbox, key: &str, extra: &[&str]) -> common::Run {
    let mut args = vec!["set", "--stdin", "--offline"];
    args.extend_from_slice(extra);
    sandbox.run(&args, Some(key))
}

/// Runs a shell command line in the sandbox and returns its stdout.
fn shell_out(sandbox: &Sandbox, program: &Path, args: &[&str]) -> String {
    let output = sandbox.program(program).args(args).env("TERM", "dumb").output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const PRINT: &str = "printf '%s|%s' \"$DASHSCOPE_API_KEY\" \"$DASHSCOPE_HTTP_BASE_URL\"";
const SG_URL: &str = "https://dashscope-intl.aliyuncs.com/api/v1";

#[test]
fn every_shell_reads_back_the_exact_key_and_base_url() {
    let mut sandbox = Sandbox::new();
    // Interactive ksh and mksh read the file named by ENV (as a .profile would export it).
    let env_file = sandbox.home.join(".shrc").to_str().unwrap().to_string();
    sandbox.env("ENV", env_file);
    set(&sandbox, KEY, &["--region", "ap-southeast-1"]).expect_code(0);
    let expected = format!("{KEY}|{SG_URL}");
    let script = sandbox.write("script.zsh", format!("{PRINT}\n"));
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("bash", vec!["-l".into(), "-c".into(), PRINT.into()]),
        ("bash", vec!["-i".into(), "-c".into(), PRINT.into()]),
        ("zsh", vec!["-l".into(), "-c".into(), PRINT.into()]),
        ("zsh", vec!["-i".into(), "-c".into(), PRINT.into()]),
        ("zsh", vec![script.to_str().unwrap().into()]),
        ("fish", vec!["-c".into(), PRINT.into()]),
        ("fish", vec!["-l".into(), "-c".into(), PRINT.into()]),
        ("dash", vec!["-l".into(), "-c".into(), PRINT.into()]),
        ("ksh", vec!["-l".into(), "-c".into(), PRINT.into()]),
        ("ksh", vec!["-i".into(), "-c".into(), PRINT.into()]),
        ("mksh", vec!["-l".into(), "-c".into(), PRINT.into()]),
        ("mksh", vec!["-i".into(), "-c".into(), PRINT.into()]),
        ("tcsh", vec!["-c".into(), PRINT.into()]),
        ("tcsh", vec!["-l".into()]),
    ];
    for (name, args) in cases {
        let Some(program) = tool(name) else { continue };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = if args == ["-l"] {
            // A tcsh login shell reading its commands from stdin.
            let mut command = sandbox.program(&program);
            command.args(&args).env("TERM", "dumb");
            let output = common::feed(command, Some(&format!("{PRINT}\nexit\n")));
            String::from_utf8_lossy(&output.stdout).into_owned()
        } else {
            shell_out(&sandbox, &program, &args)
        };
        assert!(out.ends_with(&expected), "{name} {args:?} printed {out:?}");
    }
}

#[test]
fn quoting_survives_every_printable_ascii_character_in_real_shells() {
    use dashkey::shell::{Dialect, owned_file};
    // Deterministic pseudo-random values over all of printable ASCII, plus the nasty ones.
    let mut values: Vec<String> = vec![
        "'".into(),
        "''".into(),
        "\"".into(),
        "\\".into(),
        "!".into(),
        "$HOME".into(),
        "`id`".into(),
        "a'#b".into(),
        "%PATH%".into(),
        " lead".into(),
        "trail ".into(),
        (32u8..127).map(char::from).collect(),
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    while values.len() < 300 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 24) as usize + 1;
        let value: String = (0..len)
            .map(|i| char::from(32 + ((seed >> (i % 8 * 8)) as u8 ^ i as u8) % 95))
            .collect();
        values.push(value);
    }
    let sandbox = Sandbox::new();
    let cases = [
        ("bash", Dialect::Posix, "env.sh", ". "),
        ("dash", Dialect::Posix, "env.sh", ". "),
        ("zsh", Dialect::Posix, "env.sh", ". "),
        ("ksh", Dialect::Posix, "env.sh", ". "),
        ("mksh", Dialect::Posix, "env.sh", ". "),
        ("fish", Dialect::Fish, "env.fish", "source "),
        ("tcsh", Dialect::Csh, "env.csh", "source "),
    ];
    for (name, dialect, file, source) in cases {
        let Some(program) = tool(name) else { continue };
        let vars: Vec<(String, String)> =
            values.iter().enumerate().map(|(i, v)| (format!("DK_Q{i}"), v.clone())).collect();
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let path = sandbox.write(file, owned_file(dialect, &pairs).unwrap());
        let names: Vec<String> = vars.iter().map(|(n, _)| format!("\"${n}\"")).collect();
        let script = sandbox.write(
            &format!("print.{name}"),
            format!("{source}{}\nprintf '%s\\001' {}\n", path.display(), names.join(" ")),
        );
        let flags: &[&str] = if name == "tcsh" { &["-f"] } else { &[] };
        let mut command = sandbox.program(&program);
        command.args(flags).arg(&script);
        let output = command.output().unwrap();
        let printed = String::from_utf8_lossy(&output.stdout);
        let got: Vec<&str> = printed.split('\u{1}').collect();
        assert_eq!(
            got.len(),
            values.len() + 1,
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        for (value, got) in values.iter().zip(got) {
            assert_eq!(got, value, "{name} changed a value");
        }
    }
}

#[test]
fn python_sdk_finds_the_key_from_a_login_shell_and_without_any_shell() {
    let Some(python) = common::python_sdk() else { return };
    let Some(bash) = tool("bash") else { return };
    let sandbox = Sandbox::new();
    set(&sandbox, KEY, &["--region", "us-east-1"]).expect_code(0);
    let probe = "import dashscope; from dashscope.common.api_key import get_default_api_key as g; \
                 print(g() + '|' + dashscope.base_http_api_url, end='')";
    let from_shell =
        shell_out(&sandbox, &bash, &["-l", "-c", &format!("{} -c \"{probe}\"", python.display())]);
    assert_eq!(from_shell, format!("{KEY}|https://dashscope-us.aliyuncs.com/api/v1"));
    // No shell at all: an IDE run configuration, cron, a service of the user.
    let output = sandbox.program(&python).args(["-c", probe]).output().unwrap();
    let bare = String::from_utf8_lossy(&output.stdout);
    assert!(bare.starts_with(&format!("{KEY}|")), "{bare}");
}

/// `set` then `unset` must leave the home exactly as it was, for each fixture.
fn assert_round_trip(sandbox: &Sandbox, extra: &[&str]) {
    let before = snapshot(sandbox.root());
    set(sandbox, KEY, extra).expect_code(0);
    assert_ne!(snapshot(sandbox.root()), before, "set changed nothing");
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(snapshot(sandbox.root()), before);
}

#[test]
fn round_trip_on_an_empty_home() {
    assert_round_trip(&Sandbox::new(), &[]);
}

#[test]
fn symlinked_startup_file_keeps_its_link_and_edits_the_target() {
    let sandbox = Sandbox::new();
    let target = sandbox.write("dotfiles/bashrc", "alias ll='ls -l'\n");
    symlink("dotfiles/bashrc", sandbox.home.join(".bashrc")).unwrap();
    let run = set(&sandbox, KEY, &["--shell", "bash"]);
    assert!(run.stdout.contains("~/.bashrc → ~/dotfiles/bashrc"), "{}", run.stdout);
    assert!(fs::symlink_metadata(sandbox.home.join(".bashrc")).unwrap().file_type().is_symlink());
    assert!(fs::read_to_string(&target).unwrap().contains("# >>> dashkey >>>"));
    sandbox.run(&["unset"], None).expect_code(0);
    let sandbox2 = Sandbox::new();
    sandbox2.write("dotfiles/bashrc", "alias ll='ls -l'\n");
    symlink("dotfiles/bashrc", sandbox2.home.join(".bashrc")).unwrap();
    assert_round_trip(&sandbox2, &["--shell", "bash"]);
}

#[test]
fn crlf_and_missing_final_newline_round_trip() {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "echo one\r\necho two\r\n");
    sandbox.write(".profile", "export PATH=$PATH:/opt/bin");
    assert_round_trip(&sandbox, &["--shell", "bash"]);
    set(&sandbox, KEY, &["--shell", "bash"]).expect_code(0);
    let bashrc = String::from_utf8(sandbox.read(".bashrc")).unwrap();
    // The user's CRLF lines stay; dashkey's block is LF, which bash can parse.
    assert!(bashrc.starts_with("echo one\r\necho two\r\n# >>> dashkey >>>\n"), "{bashrc:?}");
    assert!(bashrc.ends_with("# <<< dashkey <<<\n"));
    let profile = String::from_utf8(sandbox.read(".profile")).unwrap();
    assert!(profile.starts_with("export PATH=$PATH:/opt/bin\n# >>> dashkey (newline added) >>>\n"));
}

#[test]
fn hard_linked_startup_file_stays_linked() {
    let sandbox = Sandbox::new();
    let rc = sandbox.write(".bashrc", "echo hi\n");
    fs::hard_link(&rc, sandbox.root().join("bashrc-twin")).unwrap();
    assert_round_trip(&sandbox, &["--shell", "bash"]);
    set(&sandbox, KEY, &["--shell", "bash"]).expect_code(0);
    assert_eq!(fs::read(&rc).unwrap(), fs::read(sandbox.root().join("bashrc-twin")).unwrap());
    assert_eq!(fs::metadata(&rc).unwrap().nlink(), 2);
}

#[test]
fn profile_without_bash_profile_is_used_and_bash_profile_never_created() {
    let sandbox = Sandbox::new();
    sandbox.write(".profile", "# my profile\n");
    assert_round_trip(&sandbox, &["--shell", "bash"]);
    set(&sandbox, KEY, &["--shell", "bash"]).expect_code(0);
    assert!(!sandbox.home.join(".bash_profile").exists());
    assert!(String::from_utf8(sandbox.read(".profile")).unwrap().contains("dashkey"));
}

#[test]
fn zdotdir_set_inside_zshenv_is_honoured() {
    let mut sandbox = Sandbox::new();
    sandbox.write(".zshenv", "export ZDOTDIR=\"$HOME/.config/zsh\"\n");
    sandbox.write(".config/zsh/.zshrc", "# zshrc\n");
    sandbox.env("SHELL", "/bin/bash");
    assert_round_trip(&sandbox, &["--shell", "zsh"]);
    set(&sandbox, KEY, &["--shell", "zsh"]).expect_code(0);
    assert!(String::from_utf8(sandbox.read(".zshenv")).unwrap().contains("dashkey"));
    if let Some(zsh) = tool("zsh") {
        assert_eq!(
            shell_out(&sandbox, &zsh, &["-i", "-c", "printf %s \"$DASHSCOPE_API_KEY\""]),
            KEY
        );
        assert_eq!(shell_out(&sandbox, &zsh, &["-c", "printf %s \"$DASHSCOPE_API_KEY\""]), KEY);
    }
}

#[test]
fn empty_xdg_config_home_counts_as_unset() {
    let mut sandbox = Sandbox::new();
    sandbox.env("XDG_CONFIG_HOME", "");
    assert_round_trip(&sandbox, &["--shell", "fish"]);
    set(&sandbox, KEY, &["--shell", "fish"]).expect_code(0);
    assert!(sandbox.home.join(".config/dashkey/env.fish").is_file());
    assert!(sandbox.home.join(".config/fish/conf.d/dashkey.fish").is_file());
}

/// Refusals: a clear error, and not one byte changed anywhere.
fn assert_refused(sandbox: &Sandbox, extra: &[&str], code: i32, message: &str) {
    let before = snapshot(sandbox.root());
    let run = set(sandbox, KEY, extra);
    run.expect_code(code);
    assert!(run.stderr.contains(message), "expected {message:?} in:\n{}", run.stderr);
    assert_eq!(snapshot(sandbox.root()), before, "a refused set changed files");
}

#[test]
fn non_utf8_startup_file_is_refused_and_nothing_changes() {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", b"echo caf\xe9\n");
    assert_refused(&sandbox, &["--shell", "bash"], 1, "is not UTF-8");
}

#[test]
fn read_only_startup_file_is_refused_and_nothing_changes() {
    let sandbox = Sandbox::new();
    let rc = sandbox.write(".bashrc", "echo hi\n");
    fs::set_permissions(&rc, fs::Permissions::from_mode(0o444)).unwrap();
    assert_refused(&sandbox, &["--shell", "bash"], 1, "is read-only");
}

#[test]
fn a_write_failing_half_way_restores_every_file() {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "echo hi\n");
    // ~/.dashscope is a file: the SDK key file cannot be written, after dashkey's own files.
    sandbox.write(".dashscope", "in the way\n");
    assert_refused(&sandbox, &["--shell", "bash"], 3, "so nothing changed");
}

#[test]
fn duplicated_or_unbalanced_markers_are_refused() {
    let sandbox = Sandbox::new();
    sandbox.write(
        ".bashrc",
        "# >>> dashkey >>>\nx\n# <<< dashkey <<<\n# >>> dashkey >>>\n# <<< dashkey <<<\n",
    );
    assert_refused(&sandbox, &["--shell", "bash"], 1, "more than once (lines 1, 3, 4, 5)");
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "echo\n# >>> dashkey >>>\n");
    assert_refused(&sandbox, &["--shell", "bash"], 1, "unbalanced (lines 2)");
    let run = set(&sandbox, KEY, &["--shell", "bash"]);
    assert_eq!(run.stderr.matches("unbalanced").count(), 1, "said once: {}", run.stderr);
}

#[test]
fn documented_export_line_is_reported_and_migrated_on_request() {
    let sandbox = Sandbox::new();
    let original = format!("alias ll='ls -l'\nexport DASHSCOPE_API_KEY='{OTHER_KEY}'\n");
    sandbox.write(".bashrc", &original);
    let run = set(&sandbox, KEY, &["--shell", "bash"]);
    assert!(
        run.stderr.contains(
            "~/.bashrc:2 also sets DASHSCOPE_API_KEY (dashkey's value is read later and wins)"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--migrate"));
    // A line added after the hook wins over dashkey in interactive bash, and set says so.
    let after_set = String::from_utf8(sandbox.read(".bashrc")).unwrap();
    sandbox.write(".bashrc", format!("{after_set}export DASHSCOPE_API_KEY='{OTHER_KEY}'\n"));
    let run = set(&sandbox, KEY, &["--shell", "bash"]);
    assert!(
        run.stderr
            .contains("~/.bashrc:7 sets DASHSCOPE_API_KEY itself and is read after dashkey's hook"),
        "{}",
        run.stderr
    );
    sandbox.write(".bashrc", &after_set);
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(String::from_utf8(sandbox.read(".bashrc")).unwrap(), original);

    let run = set(&sandbox, KEY, &["--shell", "bash", "--migrate"]);
    run.expect_code(0);
    let bashrc = String::from_utf8(sandbox.read(".bashrc")).unwrap();
    assert!(
        !bashrc.contains(OTHER_KEY) && bashrc.starts_with("alias ll='ls -l'\n# >>> dashkey >>>")
    );
    let backup = fs::read_dir(&sandbox.home)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".bashrc.dashkey-backup-"))
        .expect("a backup");
    assert_eq!(fs::read_to_string(&backup).unwrap(), original);
    assert_eq!(fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn set_twice_changes_nothing_the_second_time() {
    let sandbox = Sandbox::new();
    set(&sandbox, KEY, &[]).expect_code(0);
    let first = snapshot(sandbox.root());
    let run = set(&sandbox, KEY, &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("nothing changed"), "{}", run.stdout);
    assert_eq!(snapshot(sandbox.root()), first);
}

#[test]
fn rotation_rewrites_only_dashkeys_files_and_reports_the_replaced_key() {
    let sandbox = Sandbox::new();
    set(&sandbox, KEY, &["--region", "cn-hongkong"]).expect_code(0);
    let rc_before = sandbox.read(".bashrc");
    let run = set(&sandbox, OTHER_KEY, &[]);
    run.expect_code(0);
    assert_eq!(sandbox.read(".bashrc"), rc_before);
    let old = dashkey::ApiKey::verbatim(KEY).fingerprint();
    assert!(run.stderr.contains(&old), "{}", run.stderr);
    let env = String::from_utf8(sandbox.read(".config/dashkey/env.sh")).unwrap();
    assert!(env.contains(OTHER_KEY) && env.contains("cn-hongkong.dashscope.aliyuncs.com"));
}

#[test]
fn sixteen_parallel_sets_leave_one_block_and_one_key() {
    let sandbox = Sandbox::new();
    let keys: Vec<String> = (0..16).map(|i| format!("sk-{i:02}{}", &KEY[5..])).collect();
    std::thread::scope(|scope| {
        for key in &keys {
            let sandbox = &sandbox;
            scope.spawn(move || {
                set(sandbox, key, &["--shell", "bash", "--shell", "fish"]).expect_code(0);
            });
        }
    });
    let env_sh = String::from_utf8(sandbox.read(".config/dashkey/env.sh")).unwrap();
    let winner = keys.iter().find(|k| env_sh.contains(k.as_str())).expect("one of the keys");
    assert_eq!(
        String::from_utf8(sandbox.read(".dashscope/api_key")).unwrap(),
        format!("{winner}\n")
    );
    assert!(
        String::from_utf8(sandbox.read(".config/dashkey/env.fish"))
            .unwrap()
            .contains(winner.as_str())
    );
    for rc in [".bashrc", ".profile", ".config/fish/conf.d/dashkey.fish"] {
        let text = String::from_utf8(sandbox.read(rc)).unwrap();
        assert_eq!(text.matches("# >>> dashkey").count(), 1, "{rc}");
    }
}

#[test]
fn killing_set_at_random_moments_never_leaves_a_torn_file() {
    use std::process::Stdio;
    let sandbox = Sandbox::new();
    set(&sandbox, KEY, &["--shell", "bash"]).expect_code(0);
    // The two whole files a run may leave: the first set's, and the same with the other key.
    let env_a = String::from_utf8(sandbox.read(".config/dashkey/env.sh")).unwrap();
    assert!(env_a.contains(KEY));
    let env_b = env_a.replace(KEY, OTHER_KEY);
    let rc = sandbox.read(".bashrc");
    let mut seed: u64 = 42;
    for trial in 0..200 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let key = if trial % 2 == 0 { OTHER_KEY } else { KEY };
        let mut child = sandbox
            .command()
            .args(["set", "--stdin", "--offline", "--shell", "bash"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(key.as_bytes()).unwrap();
        std::thread::sleep(std::time::Duration::from_micros(seed >> 51));
        let _ = child.kill();
        let _ = child.wait();
        let env = String::from_utf8(sandbox.read(".config/dashkey/env.sh")).unwrap();
        assert!(env == env_a || env == env_b, "torn env.sh after trial {trial}: {env:?}");
        let sdk = String::from_utf8(sandbox.read(".dashscope/api_key")).unwrap();
        assert!(sdk == format!("{KEY}\n") || sdk == format!("{OTHER_KEY}\n"), "torn api_key");
        assert_eq!(sandbox.read(".bashrc"), rc, "torn .bashrc after trial {trial}");
        let record = sandbox.read(".config/dashkey/record.json");
        serde_json::from_slice::<serde_json::Value>(&record).expect("record is whole");
    }
    // A later run cleans up temporaries a killed run left behind.
    set(&sandbox, KEY, &["--shell", "bash"]).expect_code(0);
    let leftovers: Vec<_> = fs::read_dir(sandbox.home.join(".config/dashkey"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".dashkey-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_input_exits_2_with_a_clear_message_and_writes_nothing() {
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "the key is empty"),
        ("   \n".into(), "the key is empty"),
        ("YOUR_DASHSCOPE_API_KEY".into(), "placeholder"),
        ("sk-xxxxxxxxxxxxxxxx".into(), "placeholder"),
        ("sk-3f9a1c0b 7d2e4f6a8b0c".into(), "space or line break"),
        ("'sk-3f9a1c0b7d2e4f6a8b0c\"".into(), "which API keys never contain"),
        ("sk-3f9a1c0b\u{1b}[0m7d2e".into(), "control character"),
        ("sk-3f9a1c0b7d2e4f6a8b0c\u{201d}".into(), "non-ASCII"),
        ("x".repeat(1 << 20), "longer than an API key"),
    ];
    for (input, message) in cases {
        let sandbox = Sandbox::new();
        let before = snapshot(sandbox.root());
        let run = sandbox.run(&["set", "--stdin", "--offline"], Some(&input));
        run.expect_code(2);
        assert!(
            run.stderr.contains(message),
            "input {:?}: {}",
            &input[..input.len().min(40)],
            run.stderr
        );
        assert_eq!(snapshot(sandbox.root()), before);
    }
}

#[test]
fn a_key_on_the_command_line_is_refused_without_echoing_it() {
    let sandbox = Sandbox::new();
    for args in [vec!["set", KEY], vec!["set", "--key", KEY], vec!["set", "--region", KEY]] {
        let before = snapshot(sandbox.root());
        let run = sandbox.run(&args, None);
        run.expect_code(2);
        assert!(run.stderr.contains("command line"), "{}", run.stderr);
        assert_eq!(snapshot(sandbox.root()), before);
    }
    let run = sandbox.run(&["set", KEY], None);
    assert!(run.stderr.contains("--stdin"));
}

#[test]
fn no_terminal_and_no_stdin_flag_is_a_clear_error() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["set"], Some(KEY));
    run.expect_code(2);
    assert!(run.stderr.contains("add --stdin"), "{}", run.stderr);
}

#[test]
fn the_hidden_prompt_reads_the_terminal_and_asks_again_after_a_typo() {
    let Some(script) = tool("script") else { return };
    let sandbox = Sandbox::new();
    let binary = assert_cmd::cargo::cargo_bin("dashkey");
    let mut command = sandbox.program(&script);
    command.args([
        "-qec",
        &format!("{} set --offline --no-modify-rc", binary.display()),
        "/dev/null",
    ]);
    // Answer each prompt only once it is on the screen, as a person would: typing ahead
    // would be echoed by the terminal before dashkey turns echo off.
    let screen = common::converse(
        command,
        &[("input hidden", "YOUR_API_KEY\n"), ("placeholder", &format!("{KEY}\n"))],
    );
    assert!(screen.contains("Saved the DashScope API key sk-…5b6c"), "{screen}");
    assert!(!screen.contains(KEY), "the terminal showed the key:\n{screen}");
    assert_eq!(String::from_utf8(sandbox.read(".dashscope/api_key")).unwrap(), format!("{KEY}\n"));
}

#[test]
fn files_holding_the_key_are_private_and_startup_files_never_hold_it() {
    let sandbox = Sandbox::new();
    set(&sandbox, KEY, &["--gui"]).expect_code(0);
    let dir = sandbox.home.join(".config/dashkey");
    assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            path.display()
        );
    }
    for path in [".dashscope/api_key", ".config/environment.d/60-dashkey.conf"] {
        let meta = fs::metadata(sandbox.home.join(path)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{path}");
    }
    for rc in [".bashrc", ".profile", ".zshenv", ".tcshrc", ".config/fish/conf.d/dashkey.fish"] {
        if let Ok(text) = fs::read_to_string(sandbox.home.join(rc)) {
            assert!(!text.contains(KEY), "{rc} holds the key");
        }
    }
}

#[test]
fn dry_run_shows_a_masked_diff_and_writes_nothing() {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "echo hi\n");
    let before = snapshot(sandbox.root());
    let run = set(&sandbox, KEY, &["--dry-run", "--shell", "bash"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("+++ b/~/.bashrc")
            && run.stdout.contains("+export DASHSCOPE_API_KEY='sk-…5b6c'")
    );
    assert_eq!(snapshot(sandbox.root()), before);
}

#[test]
fn env_prints_assignments_each_shell_can_eval() {
    let sandbox = Sandbox::new();
    set(&sandbox, KEY, &["--no-modify-rc", "--region", "ap-southeast-1"]).expect_code(0);
    let posix = sandbox.run_revealing(&["env", "--shell", "sh"], None);
    assert!(posix.stdout.contains(&format!("export DASHSCOPE_API_KEY='{KEY}'")));
    if let Some(bash) = tool("bash") {
        let out = shell_out(
            &sandbox,
            &bash,
            &[
                "-c",
                &format!("eval \"$(dashkey_bin env --shell bash)\"; {PRINT}").replace(
                    "dashkey_bin",
                    assert_cmd::cargo::cargo_bin("dashkey").to_str().unwrap(),
                ),
            ],
        );
        assert_eq!(out, format!("{KEY}|{SG_URL}"));
    }
    if let Some(fish) = tool("fish") {
        let bin = assert_cmd::cargo::cargo_bin("dashkey");
        let out = shell_out(
            &sandbox,
            &fish,
            &["-c", &format!("{} env --shell fish | source; {PRINT}", bin.display())],
        );
        assert_eq!(out, format!("{KEY}|{SG_URL}"));
    }
    let cmd = sandbox.run_revealing(&["env", "--shell", "cmd"], None);
    assert!(cmd.stdout.contains(&format!("set \"DASHSCOPE_API_KEY={KEY}\"")));
}

#[test]
fn env_without_a_stored_key_exits_1() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["env", "--shell", "sh"], None);
    run.expect_code(1);
    assert!(run.stderr.contains("dashkey set"));
}

#[test]
fn a_new_shell_runs_no_extra_program_because_of_the_hook() {
    let Some(strace) = tool("strace") else { return };
    let Some(bash) = tool("bash") else { return };
    let count = |sandbox: &Sandbox| -> usize {
        let output = sandbox
            .program(&strace)
            .args(["-f", "-qq", "-e", "trace=execve", "-o", "/dev/stdout"])
            .arg(&bash)
            .args(["-i", "-c", "exit"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).lines().filter(|l| l.contains("execve(")).count()
    };
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# plain\n");
    let without = count(&sandbox);
    set(&sandbox, KEY, &["--shell", "bash"]).expect_code(0);
    let with = count(&sandbox);
    assert_eq!(with, without, "the hook made bash start extra programs");
}

#[test]
fn the_hook_in_bashrc_runs_before_debians_non_interactive_guard() {
    let Some(bash) = tool("bash") else { return };
    let mut sandbox = Sandbox::new();
    let guard = "# ~/.bashrc\ncase $- in\n    *i*) ;;\n      *) return;;\nesac\nalias ll='ls -l'\n";
    sandbox.write(".bashrc", guard);
    assert_round_trip(&sandbox, &["--shell", "bash"]);
    set(&sandbox, KEY, &["--shell", "bash"]).expect_code(0);
    assert!(
        String::from_utf8(sandbox.read(".bashrc"))
            .unwrap()
            .starts_with("# ~/.bashrc\n# >>> dashkey >>>\n")
    );
    // sshd runs `ssh host command` as a non-interactive bash that reads .bashrc.
    sandbox.env("SSH_CLIENT", "192.0.2.1 50000 22");
    assert_eq!(shell_out(&sandbox, &bash, &["-c", "printf %s \"$DASHSCOPE_API_KEY\""]), KEY);
}

#[test]
fn a_world_readable_sdk_key_file_becomes_private_and_comes_back_on_unset() {
    let sandbox = Sandbox::new();
    let original = OTHER_KEY.to_string();
    let file = sandbox.write(".dashscope/api_key", &original);
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let run = set(&sandbox, KEY, &["--no-modify-rc"]);
    assert!(
        run.stderr.contains(&dashkey::ApiKey::verbatim(OTHER_KEY).fingerprint()),
        "{}",
        run.stderr
    );
    assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(fs::read_to_string(&file).unwrap(), format!("{KEY}\n"));
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(fs::read_to_string(&file).unwrap(), original, "the user's own key file is back");
    assert!(!sandbox.home.join(".config/dashkey").exists());
}

#[test]
fn dry_runs_mask_keys_already_written_in_startup_files() {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", format!("export DASHSCOPE_API_KEY={OTHER_KEY}\n"));
    // The harness fails the test if OTHER_KEY appears in any output.
    let run = set(&sandbox, KEY, &["--shell", "bash", "--dry-run", "--migrate"]);
    assert!(run.stdout.contains("sk-…6b5a"), "{}", run.stdout);
    set(&sandbox, KEY, &["--shell", "bash"]).expect_code(0);
    sandbox.run(&["unset", "--dry-run"], None).expect_code(0);
}

#[test]
fn a_key_typed_as_any_argument_is_refused_and_never_repeated() {
    let sandbox = Sandbox::new();
    for args in [
        vec!["verify", KEY],
        vec!["status", KEY],
        vec!["set", "--shell", KEY],
        vec!["export", &format!("--format={KEY}")],
        vec!["doctor", "--pid", KEY],
    ] {
        let run = sandbox.run(&args, None);
        run.expect_code(2);
        assert!(run.stderr.contains("refusing to take the key from the command line"), "{args:?}");
    }
    assert!(sandbox.run(&["verify", KEY], None).stderr.contains("dashkey verify --stdin"));
}

#[test]
fn a_coding_plan_key_is_stored_offline_like_any_key() {
    // Online, `set` checks it on the plan hosts (tests/verify_coding.rs plays them).
    let sandbox = Sandbox::new();
    let coding = "sk-sp-3f9a1c0b7d2e4f6a8b0c1d2e3f4a5b6c";
    let run = sandbox.run(&["set", "--stdin", "--no-modify-rc", "--offline"], Some(coding));
    run.expect_code(0);
    assert_eq!(
        String::from_utf8(sandbox.read(".dashscope/api_key")).unwrap(),
        format!("{coding}\n")
    );
}
