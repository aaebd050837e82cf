//! No fix loops: every fix `doctor` prints as a command changes its finding when run.
//!
//! For each finding id with a command fix, a sandbox is put in the situation, `doctor --json`
//! is run, the printed fix is run *as printed* (the part before a `   (gloss)`) by `sh` in
//! the same environment, and `doctor` runs again in that shell: the finding must be gone, or
//! changed (another title, severity or fix). A changed finding is followed the same way, at
//! most three rounds, until it is gone or no longer a problem: `dashkey region X` that
//! answered "nothing changed" (the old loop) fails here. `dashkey` is on `PATH`, as a user's.
//!
//! Ids deliberately left out, and why:
//! - `no-key`: its fix is `dashkey set`, a hidden prompt that needs a terminal to paste into
//!   (the piped form is what every `set` test runs).
//! - `stores-disagree`: the fix pipes `$KEY`, the key the user chooses to keep; no command can
//!   choose it for them.
//! - `stale-process`: "restart <program>", not a command dashkey can run.
//! - `service-systemd`, `service-supervisord`: the fix is `dashkey service install`, tested in
//!   `handoff.rs` against real unit files and a real supervisord, not through doctor here.
//! - `sudo`: needs a run under real sudo as another user; `walk_defects.rs`
//!   (`a_printed_sudo_fix_runs_as_printed_under_secure_path`) runs its printed fix as printed,
//!   and `walk11.rs` runs the fix of the kept-key-dropped-URLs failure as a user under sudo.
//! - `key-rejected`: "copy the key again from the console".
//! - `placeholder`, `quoted`, `whitespace`, `unexpanded-variable`, `malformed`,
//!   `unknown-prefix`, `key-file-lines`, `skipped-file`: their fixes are sentences about the
//!   user's own value or file, not commands.
//! - `conflicting-assignments`: "keep one: dashkey set --migrate" asks which one to keep.
//! - `key-in-git` (tracked): the fix starts with rotating the key on the console.
//! - `stale-env` with a different key: covered (the load line), like `not-loaded`.
//! - `keyring-contexts`, `keyring-unreachable`: they need a real Secret Service; `keyring.rs`
//!   (`doctor_flags_the_contexts_the_keyring_cannot_reach_and_its_fix_works`) runs the first's
//!   printed fix as printed; the second's is a sentence (start or unlock the keyring) and
//!   `dashkey set`, a hidden prompt.
#![cfg(unix)]

mod common;

use std::collections::BTreeSet;

use common::world::World;
use common::{KEY, OTHER_KEY, Sandbox, dashkey_bin, tool};
use fake_dashscope::Builder;
use serde_json::Value;

fn valid_in(region: &'static str) -> impl Fn(&str, Builder) -> Builder {
    move |r, builder| if r == region { builder.valid_key(KEY) } else { builder }
}

/// A world of fake regions where only Singapore accepts KEY, with dashkey on PATH.
fn world() -> World {
    let mut world = World::new(valid_in("ap-southeast-1"));
    let path = format!(
        "{}:{}",
        dashkey_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    world.sandbox.env("PATH", path).env("SHELL", "/bin/bash");
    world
}

fn set(sandbox: &Sandbox, extra: &[&str]) {
    let mut args = vec!["set", "--stdin", "--offline"];
    args.extend_from_slice(extra);
    sandbox.run(&args, Some(KEY)).expect_code(0);
}

/// `doctor --json ARGS` in `sh`, after running `prelude` there (which must succeed).
fn doctor_after(sandbox: &Sandbox, prelude: &str, args: &[&str]) -> Vec<Value> {
    let sh = tool("sh").expect("sh");
    let script =
        format!("{{ {prelude}\n}} >&2 || exit 97\nexec dashkey doctor --json {}", args.join(" "));
    let output = sandbox.program(sh).args(["-c", &script]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_ne!(
        output.status.code(),
        Some(97),
        "the fix failed: {prelude}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for secret in [KEY, OTHER_KEY] {
        assert!(!stdout.contains(secret), "doctor printed a key");
    }
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    report["findings"].as_array().unwrap().clone()
}

/// The command part of a fix.
fn command_of(fix: &str) -> String {
    fix.split("   (").next().unwrap().trim().to_string()
}

fn problem<'a>(findings: &'a [Value], id: &str, title: Option<&str>) -> Option<&'a Value> {
    findings.iter().find(|f| {
        f["id"] == id
            && f["severity"] != "ok"
            && f["fix"].is_string()
            && title.is_none_or(|t| f["title"].as_str().unwrap().starts_with(t))
    })
}

/// Runs the fix of the first `id` finding (whose title starts with `title`, when given) and
/// follows changed findings until it is gone. Returns the fixes run.
#[track_caller]
fn loop_free(sandbox: &Sandbox, id: &str, title: Option<&str>, args: &[&str]) -> Vec<String> {
    let mut findings = doctor_after(sandbox, ":", args);
    let mut prelude = ":".to_string();
    let mut ran = Vec::new();
    let mut seen = BTreeSet::new();
    let first = problem(&findings, id, title)
        .unwrap_or_else(|| panic!("no {id} finding with a fix: {findings:#?}"))
        .clone();
    let mut current = first;
    for _round in 0..3 {
        let fix = command_of(current["fix"].as_str().unwrap());
        assert!(seen.insert(current.to_string()), "a loop: {current} came back");
        prelude = format!("{prelude}\n{fix}");
        ran.push(fix);
        findings = doctor_after(sandbox, &prelude, args);
        let same = findings.iter().any(|f| {
            f["id"] == id
                && f["title"] == current["title"]
                && f["severity"] == current["severity"]
                && f["fix"] == current["fix"]
        });
        assert!(!same, "running `{}` left {current} as it was", ran.last().unwrap());
        match problem(&findings, id, title) {
            Some(next) if next["severity"] == "fail" || next["severity"] == "warn" => {
                current = next.clone();
            }
            _ => return ran,
        }
    }
    panic!("{id} still there after {ran:?}: {current}");
}

#[test]
fn temporary_is_fixed_by_set_from_env() {
    let mut world = world();
    world.sandbox.env("DASHSCOPE_API_KEY", KEY);
    assert_eq!(loop_free(&world.sandbox, "temporary", None, &[]), ["dashkey set --from-env"]);
}

#[test]
fn not_loaded_and_sdk_disagree_are_fixed_by_the_load_line() {
    let world = world();
    set(&world.sandbox, &["--region", "ap-southeast-1"]);
    loop_free(&world.sandbox, "not-loaded", None, &[]);
    loop_free(&world.sandbox, "sdk-disagree", None, &[]);
}

#[test]
fn stale_env_is_fixed_by_the_load_line() {
    let mut world = world();
    set(&world.sandbox, &["--region", "ap-southeast-1"]);
    world.sandbox.env("DASHSCOPE_API_KEY", OTHER_KEY);
    loop_free(&world.sandbox, "stale-env", None, &[]);
}

/// The repro of the old lie: stored for Singapore, this process calls Beijing. The fix is
/// loading dashkey's file, never `dashkey region ap-southeast-1` ("nothing changed").
#[test]
fn the_process_region_is_fixed_by_loading_not_by_dashkey_region() {
    let mut world = world();
    set(&world.sandbox, &["--region", "ap-southeast-1"]);
    world.sandbox.env("DASHSCOPE_API_KEY", KEY);
    let ran = loop_free(&world.sandbox, "base-url", Some("this process calls"), &[]);
    assert!(ran.iter().all(|fix| !fix.starts_with("dashkey region")), "{ran:?}");
}

#[test]
fn base_url_variable_fixes_change_their_findings() {
    for (value, title) in [
        ("", "DASHSCOPE_HTTP_BASE_URL is set but empty"),
        (
            "https://dashscope-intl.aliyuncs.com/api/v1/",
            "DASHSCOPE_HTTP_BASE_URL ends with a slash",
        ),
        ("http://dashscope-intl.aliyuncs.com/api/v1", "DASHSCOPE_HTTP_BASE_URL does not use"),
        (
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
            "DASHSCOPE_HTTP_BASE_URL points at",
        ),
        ("dashscope-intl", "DASHSCOPE_HTTP_BASE_URL is not a URL"),
    ] {
        let mut world = world();
        world.sandbox.env("DASHSCOPE_API_KEY", KEY).env("DASHSCOPE_HTTP_BASE_URL", value);
        loop_free(&world.sandbox, "base-url", Some(title), &[]);
    }
}

#[test]
fn an_empty_variable_and_a_missing_key_file_path_are_fixed_by_unset() {
    let mut world = world();
    set(&world.sandbox, &["--region", "ap-southeast-1"]);
    world.sandbox.env("DASHSCOPE_API_KEY", "");
    loop_free(&world.sandbox, "empty-shadows-file", None, &[]);

    let mut world = self::world();
    world.sandbox.env("DASHSCOPE_API_KEY_FILE_PATH", "/nonexistent/dashkey-test-key");
    loop_free(&world.sandbox, "key-file-path", None, &[]);
}

#[test]
fn key_file_perms_is_fixed_by_chmod() {
    use std::os::unix::fs::PermissionsExt;
    let world = world();
    set(&world.sandbox, &["--region", "ap-southeast-1"]);
    let file = world.sandbox.home.join(".dashscope/api_key");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    loop_free(&world.sandbox, "key-file-perms", None, &[]);
}

/// A `.profile` saved with Windows line endings: the printed `sed` makes it LF.
#[test]
fn a_crlf_startup_file_is_fixed_by_the_printed_sed() {
    let world = world();
    std::fs::write(world.sandbox.home.join(".profile"), "umask 022\r\nPATH=$PATH:/opt\r\n")
        .unwrap();
    set(&world.sandbox, &["--region", "ap-southeast-1"]);
    loop_free(&world.sandbox, "crlf-startup-file", None, &[]);
}

/// The region dashkey stored is not the key's (`--online` finds Singapore): `dashkey region`
/// first, then the finding changes to "stored there, but this process calls …" and the load
/// line ends it.
#[test]
fn region_mismatch_goes_through_dashkey_region_then_the_load_line() {
    let mut world = world();
    set(&world.sandbox, &["--region", "us-east-1"]);
    world.sandbox.env("DASHSCOPE_API_KEY", KEY);
    let ran = loop_free(&world.sandbox, "region-mismatch", None, &["--online"]);
    assert_eq!(ran[0], "dashkey region ap-southeast-1", "{ran:?}");
    assert_eq!(ran.len(), 2, "{ran:?}");
}

/// The seed page's `.bashrc`: the old line, nothing stored, the key in the environment.
#[test]
fn plaintext_and_login_shells_are_fixed_by_set_from_env_migrate() {
    for id in ["plaintext-in-dotfiles", "login-vs-interactive"] {
        let mut world = world();
        world.sandbox.write(".bashrc", format!("export DASHSCOPE_API_KEY='{KEY}'\n"));
        world.sandbox.env("DASHSCOPE_API_KEY", KEY);
        let ran = loop_free(&world.sandbox, id, None, &[]);
        assert!(ran[0].starts_with("dashkey set --from-env --migrate"), "{ran:?}");
    }
}

#[test]
fn no_startup_file_loading_dashkeys_file_is_fixed_without_a_prompt() {
    let mut world = world();
    set(&world.sandbox, &["--region", "ap-southeast-1", "--no-modify-rc"]);
    world.sandbox.env("DASHSCOPE_API_KEY", KEY);
    loop_free(&world.sandbox, "login-vs-interactive", None, &[]);
}

/// Launch contexts: bash never hooked (`--shell zsh`) gives terminal windows no Node key and
/// the wrong region; the desktop row lacks environment.d. Each printed fix ends its row.
#[test]
fn context_rows_are_fixed_by_their_commands() {
    for (id, title) in [
        ("context-key", "terminal window"),
        ("context-region", "terminal window"),
        ("context-key", "desktop apps"),
        ("context-region", "desktop apps"),
    ] {
        let mut world = world();
        set(&world.sandbox, &["--region", "ap-southeast-1", "--shell", "zsh"]);
        world.sandbox.env("DASHSCOPE_API_KEY", KEY);
        loop_free(&world.sandbox, id, Some(title), &[]);
    }
}

/// cron: a crontab with a job and no DashScope variables sends 1.x and Java to Beijing and
/// gives Node no key; `service install --cron` (and `--with-key` for the key) end each row.
#[test]
fn cron_rows_are_fixed_by_the_crontab_hand_off() {
    for id in ["context-region", "context-key"] {
        let mut world = world();
        common::fake_crontab(&mut world.sandbox, "*/5 * * * * python3 /srv/job.py\n");
        set(&world.sandbox, &["--region", "ap-southeast-1"]);
        world.sandbox.env("DASHSCOPE_API_KEY", KEY);
        let ran = loop_free(&world.sandbox, id, Some("cron job"), &[]);
        assert!(ran[0].starts_with("dashkey service install --cron"), "{ran:?}");
    }
}

#[test]
fn an_unignored_key_file_in_a_work_tree_is_fixed_by_the_gitignore_line() {
    let Some(git) = tool("git") else { return };
    let world = world();
    set(&world.sandbox, &["--region", "ap-southeast-1"]);
    let status = world
        .sandbox
        .program(&git)
        .args(["init", "-q"])
        .current_dir(&world.sandbox.home)
        .status()
        .unwrap();
    assert!(status.success());
    loop_free(&world.sandbox, "key-in-git", None, &[]);
}

#[test]
fn a_link_to_a_profile_that_is_not_stored_is_fixed_by_unlink() {
    let world = world();
    set(&world.sandbox, &["--region", "ap-southeast-1"]);
    std::fs::write(world.sandbox.root().join(".dashkey-profile"), "gone\n").unwrap();
    assert_eq!(loop_free(&world.sandbox, "profile-link", None, &[]), ["dashkey unlink"]);
}

#[test]
fn a_plan_key_sent_to_its_plan_s_other_host_family_is_fixed_by_the_printed_export() {
    // A Token Plan key only the international Token Plan host accepts; the China one refuses it.
    const TOKEN: &str = "sk-sp-7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d";
    let plan_hosts = ["coding", "coding-intl", "token-plan", "token-plan-intl"];
    let mut world = World::with_extra(
        |r, builder| match r {
            "token-plan-intl" => builder.token_plan().valid_key(TOKEN),
            "token-plan" => builder.token_plan(),
            r if r.starts_with("coding") => builder.coding_plan(),
            _ => builder,
        },
        &plan_hosts,
    );
    let path = format!(
        "{}:{}",
        dashkey_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    world.sandbox.env("PATH", path).env("SHELL", "/bin/bash");
    world.sandbox.run(&["set", "--stdin", "--no-modify-rc"], Some(TOKEN)).expect_code(0);
    let china = format!("{}/compatible-mode/v1", world.server("token-plan").url());
    let intl = format!("{}/compatible-mode/v1", world.server("token-plan-intl").url());
    world.sandbox.env("OPENAI_API_KEY", TOKEN).env("OPENAI_BASE_URL", &china);
    let title = "openai: the key was accepted on Token Plan (international)";
    let ran = loop_free(&world.sandbox, "client-problem", Some(title), &["--client", "openai"]);
    assert_eq!(ran, [format!("export OPENAI_BASE_URL='{intl}'")]);
    // The SDKs' variable on the China Token Plan host: `doctor` names it, and its fix is the
    // international host.
    let compatible = "DASHSCOPE_COMPATIBLE_BASE_URL";
    let china = "https://token-plan.cn-beijing.maas.aliyuncs.com/compatible-mode/v1";
    world.sandbox.env("DASHSCOPE_API_KEY", TOKEN).env(compatible, china);
    let title = format!("{compatible} is the other Token Plan host");
    let ran = loop_free(&world.sandbox, "base-url", Some(&title), &[]);
    let intl = "https://token-plan.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1";
    assert_eq!(ran, [format!("export {compatible}='{intl}'")]);
}

/// Every id is covered above or listed as left out in this file's header: a new id fails
/// here until it is one or the other.
#[test]
fn every_id_is_covered_or_listed() {
    let source = include_str!("fix_loop.rs");
    let (header, body) = source.split_once("#![cfg(unix)]").unwrap();
    for id in dashkey::doctor::id::ALL {
        let quoted = format!("\"{id}\"");
        assert!(
            header.contains(&format!("`{id}`")) || body.contains(&quoted),
            "{id} is neither covered by a fix-loop case nor listed as left out"
        );
    }
}
