//! Claude Code (the Anthropic SDK) on DashScope's `/apps/anthropic`: `set --client
//! claude-code` writes `ANTHROPIC_AUTH_TOKEN` and the region's `ANTHROPIC_BASE_URL`, and
//! `doctor --client claude-code` judges them: the region, the URL style, two different keys
//! in its two key variables, padded values (the SDK trims them). Claude Code itself is not
//! installed here; the rows were read from `@anthropic-ai/sdk` 0.71.2's client.

mod common;

use std::path::Path;

use common::{KEY, OTHER_KEY, Run, Sandbox, launch_fake_regions, tool};

/// `dashkey ARGS` in a fresh login shell of bash, bounded.
fn in_login_shell(sandbox: &Sandbox, bash: &Path, args: &str) -> Run {
    let bin = assert_cmd::cargo::cargo_bin("dashkey");
    let mut child = sandbox.program("/usr/bin/timeout");
    let command = format!("'{}' {args}", bin.display());
    child.args(["60", bash.to_str().unwrap(), "-l", "-c", &command]).env("TERM", "dumb");
    let run = Run::from(child.output().unwrap());
    sandbox.assert_no_secret(&run, &[&command]);
    run
}

fn client_row(run: &Run) -> serde_json::Value {
    run.json()["clients"][0].clone()
}

fn problem_ids(row: &serde_json::Value) -> Vec<String> {
    row["problems"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().into()).collect()
}

#[test]
fn set_client_claude_code_writes_the_regions_anthropic_url_and_doctor_fixes_a_wrong_region() {
    let Some(bash) = tool("bash") else { return };
    let mut sandbox = Sandbox::new();
    let servers = launch_fake_regions(&mut sandbox, "cn-beijing");
    let anthropic = |region: &str| {
        format!("{}/apps/anthropic", servers.iter().find(|(r, _)| r == region).unwrap().1.url())
    };
    let set = ["set", "--stdin", "--offline", "--region", "ap-southeast-1", "--shell", "bash"];
    let mut args = set.to_vec();
    args.extend(["--client", "claude-code"]);
    sandbox.run(&args, Some(KEY)).expect_code(0);
    let row = client_row(&in_login_shell(&sandbox, &bash, "status --client claude-code --json"));
    assert_eq!(row["base_url"], anthropic("ap-southeast-1"), "{row}");
    assert_eq!(row["url_style"], "anthropic");
    assert_eq!(row["key_source"]["name"], "ANTHROPIC_AUTH_TOKEN");

    // The key works in Beijing: doctor --online says so, and its fix moves the URL.
    let json =
        in_login_shell(&sandbox, &bash, "doctor --client claude-code --online --json").json();
    let finding = common::client_problem(&json);
    let title = finding["title"].as_str().unwrap();
    assert!(title.contains("it calls ap-southeast-1, but the key works in cn-beijing"), "{title}");
    assert_eq!(finding["fix"], "dashkey region cn-beijing, then start it from a new terminal");
    sandbox.run(&["region", "cn-beijing"], None).expect_code(0);
    let run = in_login_shell(&sandbox, &bash, "doctor --client claude-code --online --json");
    let ids: Vec<String> = run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.contains(&"client-ok".to_string()), "{ids:?}");
    assert!(!ids.contains(&"client-problem".to_string()), "{}", run.stdout);
    let row = client_row(&in_login_shell(&sandbox, &bash, "status --client claude-code --json"));
    assert_eq!(row["base_url"], anthropic("cn-beijing"));
}

#[test]
fn doctor_client_claude_code_judges_style_two_keys_and_padding() {
    let mut sandbox = Sandbox::new();
    let status = |sandbox: &Sandbox| {
        client_row(&sandbox.run(&["status", "--client", "claude-code", "--json"], None))
    };
    sandbox
        .env("ANTHROPIC_AUTH_TOKEN", KEY)
        .env("ANTHROPIC_BASE_URL", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1");
    let row = status(&sandbox);
    assert_eq!(problem_ids(&row), ["wrong-style"], "{row}");

    // The SDK trims both values: padding is no problem for it.
    sandbox
        .env("ANTHROPIC_AUTH_TOKEN", format!(" {KEY}\n"))
        .env("ANTHROPIC_BASE_URL", " https://dashscope-intl.aliyuncs.com/apps/anthropic ");
    let row = status(&sandbox);
    assert_eq!(row["verdict"], "works", "{row}");
    assert_eq!(row["base_url"], "https://dashscope-intl.aliyuncs.com/apps/anthropic");

    // Another key in ANTHROPIC_API_KEY: both are sent, and doctor says so.
    sandbox.env("ANTHROPIC_API_KEY", OTHER_KEY);
    let row = status(&sandbox);
    assert_eq!(problem_ids(&row), ["two-keys"], "{row}");
    assert_eq!(row["key_source"]["name"], "ANTHROPIC_API_KEY");
    let run = sandbox.run(&["doctor", "--client", "claude-code"], None);
    assert!(
        run.stdout.contains("ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN hold different keys"),
        "{}",
        run.stdout
    );
    // The same key in both is one key.
    sandbox.env("ANTHROPIC_API_KEY", KEY);
    assert_eq!(status(&sandbox)["verdict"], "works");
    // An empty token alone is sent as `Bearer `.
    sandbox.unenv("ANTHROPIC_API_KEY").env("ANTHROPIC_AUTH_TOKEN", "");
    assert_eq!(problem_ids(&status(&sandbox)), ["empty-key-sent"]);
}

/// Claude Code prefers `ANTHROPIC_API_KEY` over the `ANTHROPIC_AUTH_TOKEN` dashkey writes, so
/// another key there (the environment, a startup file) is refused, naming where; `--force`
/// writes dashkey's key into it too, and `unset` gives the user's line back byte for byte. In
/// Claude Code's own settings `env` it is refused even with `--force`: that wins over the shell.
#[test]
fn set_client_claude_code_refuses_another_anthropic_api_key_and_force_shadows_it_reversibly() {
    let Some(bash) = tool("bash") else { return };
    let mut sandbox = Sandbox::new();
    let set = ["set", "--stdin", "--offline", "--shell", "bash", "--client", "claude-code"];
    // In the environment.
    sandbox.env("ANTHROPIC_API_KEY", OTHER_KEY);
    let before = common::snapshot(&sandbox.home);
    let run = sandbox.run(&set, Some(KEY));
    run.expect_code(2);
    assert!(run.stderr.contains("ANTHROPIC_API_KEY in this environment"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Claude Code sends ANTHROPIC_API_KEY (as X-Api-Key)"),
        "{}",
        run.stderr
    );
    assert_eq!(common::snapshot(&sandbox.home), before, "a refused set changed files");
    sandbox.unenv("ANTHROPIC_API_KEY");

    // In a startup file: refused, then --force shadows it in new shells.
    let bashrc = "# mine\nexport ANTHROPIC_API_KEY='sk-ant-api03-user-own-key'\n";
    sandbox.write(".bashrc", bashrc);
    let run = sandbox.run(&set, Some(KEY));
    run.expect_code(2);
    assert!(run.stderr.contains("ANTHROPIC_API_KEY in ~/.bashrc line 2"), "{}", run.stderr);
    let mut forced = set.to_vec();
    forced.push("--force");
    sandbox.run(&forced, Some(KEY)).expect_code(0);
    let row = client_row(&in_login_shell(&sandbox, &bash, "status --client claude-code --json"));
    assert_eq!(row["key_source"]["name"], "ANTHROPIC_API_KEY", "{row}");
    assert_eq!(row["key_masked"], ApiKeyMask::of(KEY), "{row}");
    assert_eq!(row["verdict"], "works", "{row}");
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(sandbox.read(".bashrc"), bashrc.as_bytes(), "unset did not restore ~/.bashrc");

    // In Claude Code's user settings: refused even with --force, nothing written.
    std::fs::remove_file(sandbox.home.join(".bashrc")).unwrap();
    sandbox.write(".claude/settings.json", r#"{"env": {"ANTHROPIC_API_KEY": "sk-ant-api03-x"}}"#);
    let before = common::snapshot(&sandbox.home);
    let run = sandbox.run(&forced, Some(KEY));
    run.expect_code(2);
    assert!(run.stderr.contains("~/.claude/settings.json's env"), "{}", run.stderr);
    assert!(run.stderr.contains("not even with --force"), "{}", run.stderr);
    assert_eq!(common::snapshot(&sandbox.home), before, "a refused set changed files");
    // With the same key there, it is no conflict.
    sandbox
        .write(".claude/settings.json", format!(r#"{{"env": {{"ANTHROPIC_API_KEY": "{KEY}"}}}}"#));
    sandbox.run(&set, Some(KEY)).expect_code(0);
}

/// The refusal over another `ANTHROPIC_API_KEY` in a settings file's `env` names the file and
/// the exact edit, and either edit it names (deleting the entry, or `apiKeyHelper` with
/// `dashkey key` in its place) lets the same `set` through, without dashkey touching the file.
#[test]
fn the_settings_env_refusal_names_the_edit_and_each_edit_it_names_lets_set_through() {
    let mut sandbox = Sandbox::new();
    let other = "sk-ant-api03-settings-own-key";
    sandbox.secret(other);
    let set = ["set", "--stdin", "--offline", "--no-modify-rc", "--client", "claude-code"];
    let project = sandbox.root().join(".claude/settings.local.json");
    std::fs::create_dir_all(project.parent().unwrap()).unwrap();
    let user_settings = sandbox.home.join(".claude/settings.json");
    // The global configuration's `env` applies too; the helper goes in a settings file.
    for (file, path, helper_in) in [
        ("~/.claude/settings.json".to_string(), user_settings.clone(), user_settings.clone()),
        (project.display().to_string(), project.clone(), project.clone()),
        ("~/.claude.json".to_string(), sandbox.home.join(".claude.json"), user_settings.clone()),
    ] {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mine = format!(
            "{{\"model\": \"qwen3-coder-plus\", \"env\": {{\"ANTHROPIC_API_KEY\": \"{other}\"}}}}"
        );
        std::fs::write(&path, &mine).unwrap();
        let run = sandbox.run(&set, Some(KEY));
        run.expect_code(2);
        sandbox.assert_no_secret(&run, &[]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), mine, "dashkey edited {file}");
        let shown = run.stderr.replace('\n', " ");
        assert!(
            shown.contains("delete the \"ANTHROPIC_API_KEY\" entry from the \"env\" object of"),
            "{shown}"
        );
        assert!(shown.contains("\"apiKeyHelper\": \"dashkey key\""), "{shown}");
        assert!(shown.contains(&format!("\"env\" object of {file}, then")), "{shown}");
        // The first edit it names: the entry deleted.
        std::fs::write(&path, r#"{"model": "qwen3-coder-plus", "env": {}}"#).unwrap();
        sandbox.run(&set, Some(KEY)).expect_code(0);
        // The second: the helper in its place.
        std::fs::write(&path, r#"{"env": {}}"#).unwrap();
        std::fs::write(&helper_in, r#"{"apiKeyHelper": "dashkey key", "env": {}}"#).unwrap();
        sandbox.run(&set, Some(KEY)).expect_code(0);
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&helper_in);
    }
}

/// The mask `status` shows for a key (`sk-…5b6c`).
struct ApiKeyMask;

impl ApiKeyMask {
    fn of(key: &str) -> String {
        format!("sk-…{}", &key[key.len() - 4..])
    }
}
