//! `dashkey key`, the key helper: what a program that runs it through a pipe reads, what a
//! terminal sees, and what it says when nothing is stored.

// Unix only: the terminal is a real pty made by `script`.
#![cfg(unix)]

mod common;

use common::{KEY, OTHER_KEY, Sandbox, tool};

/// A sandbox with `key` stored for Singapore, no startup file touched.
fn stored(key: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    set(&sandbox, key);
    sandbox
}

fn set(sandbox: &Sandbox, key: &str) {
    sandbox
        .run(
            &["set", "--stdin", "--offline", "--no-modify-rc", "--region", "ap-southeast-1"],
            Some(key),
        )
        .expect_code(0);
}

#[test]
fn a_pipe_reads_the_stored_key_alone_on_one_line() {
    let sandbox = stored(KEY);
    let run = sandbox.run_revealing(&["key"], None);
    run.expect_code(0);
    assert_eq!(run.stdout, format!("{KEY}\n"));
    assert!(!run.stderr.contains(KEY), "{}", run.stderr);
}

#[test]
fn it_is_the_key_run_hands_over_and_follows_a_new_set() {
    let sandbox = stored(KEY);
    set(&sandbox, OTHER_KEY);
    let helper = sandbox.run_revealing(&["key"], None);
    helper.expect_code(0);
    let run = sandbox.run_revealing(&["run", "--", "printenv", "DASHSCOPE_API_KEY"], None);
    run.expect_code(0);
    assert_eq!(helper.stdout, run.stdout);
    assert_eq!(helper.stdout.trim_end(), OTHER_KEY);
}

/// Runs `dashkey ARGS` on a pty (`script`), killed after 60 s; returns the screen and status.
fn on_terminal(sandbox: &Sandbox, args: &str) -> Option<(String, i32)> {
    let script = tool("script")?;
    let timeout = tool("timeout")?;
    let bin = assert_cmd::cargo::cargo_bin("dashkey");
    let output: std::process::Output = sandbox
        .program(timeout)
        .arg("60")
        .arg(script)
        .args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"])
        .output()
        .unwrap();
    Some((String::from_utf8_lossy(&output.stdout).into_owned(), output.status.code().unwrap_or(-1)))
}

#[test]
fn a_terminal_is_refused_without_reveal_and_sees_the_key_with_it() {
    let sandbox = stored(KEY);
    let Some((screen, code)) = on_terminal(&sandbox, "key") else { return };
    assert_eq!(code, 2, "{screen}");
    assert!(screen.contains("--reveal") && !screen.contains(KEY), "{screen}");
    let Some((screen, code)) = on_terminal(&sandbox, "key --reveal") else { return };
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains(KEY), "{screen}");
}

#[test]
fn nothing_stored_is_status_1_with_the_fix_and_prints_nothing() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["key"], None);
    run.expect_code(1);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("no key is stored") && run.stderr.contains("dashkey set"));
}

/// A terminal that has the key but nothing stored is pointed at `set --from-env`, which then
/// makes `dashkey key` answer.
#[test]
fn nothing_stored_with_the_key_in_the_environment_names_set_from_env_and_that_works() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let run = sandbox.run(&["key"], None);
    run.expect_code(1);
    assert!(run.stderr.contains("dashkey set --from-env"), "{}", run.stderr);
    sandbox.run(&["set", "--from-env", "--offline", "--no-modify-rc"], None).expect_code(0);
    let run = sandbox.run_revealing(&["key"], None);
    run.expect_code(0);
    assert_eq!(run.stdout, format!("{KEY}\n"));
}
