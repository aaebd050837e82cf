//! `dashkey status`: what it reports, and proof that its choice for Python is the real SDK's.

mod common;

use common::{KEY, OTHER_KEY, Sandbox};
use serde_json::Value;

fn sdk<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["sdks"].as_array().unwrap().iter().find(|s| s["sdk"] == id).unwrap()
}

fn copy<'a>(report: &'a Value, place: &str) -> &'a Value {
    report["copies"].as_array().unwrap().iter().find(|c| c["place"] == place).unwrap()
}

#[test]
fn no_key_anywhere_exits_1_and_names_what_was_checked() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["status"], None);
    run.expect_code(1);
    assert!(run.stdout.contains("would find no API key"), "{}", run.stdout);
    let report = sandbox.run(&["status", "--json"], None).json();
    assert_eq!(report["all_found"], false);
    assert_eq!(sdk(&report, "python")["outcome"], "missing");
    assert_eq!(sdk(&report, "node")["candidates"][0]["reason"], "not set");
}

#[test]
fn variable_is_masked_fingerprinted_and_used_by_every_sdk() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let run = sandbox.run(&["status"], None);
    run.expect_code(0);
    assert!(run.stdout.contains("sk-…5b6c"), "{}", run.stdout);
    let report = sandbox.run(&["status", "--json"], None).json();
    let variable = copy(&report, "variable");
    assert_eq!(variable["masked"], "sk-…5b6c");
    assert_eq!(variable["fingerprint"].as_str().unwrap().len(), 8);
    assert_eq!(variable["used_by"], serde_json::json!(["python", "java", "node"]));
    assert!(variable.get("value").is_none());
    assert_eq!(sdk(&report, "python")["region"], "cn-beijing");
}

#[test]
fn reveal_shows_the_full_key_only_when_asked() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let run = sandbox.run(&["status", "--reveal"], None);
    assert!(run.stdout.contains(KEY));
    let report = sandbox.run(&["status", "--json", "--reveal"], None).json();
    assert_eq!(copy(&report, "variable")["value"], KEY);
}

#[cfg(unix)]
#[test]
fn world_readable_key_file_and_tilde_path_are_problems() {
    use std::os::unix::fs::PermissionsExt;
    let mut sandbox = Sandbox::new();
    let file = sandbox.write(".dashscope/api_key", format!("{KEY}\n"));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    sandbox.env("DASHSCOPE_API_KEY_FILE_PATH", "~/.dashscope/api_key");
    let report = sandbox.run(&["status", "--json"], None).json();
    let sdk_file = copy(&report, "sdk-key-file");
    assert_eq!(sdk_file["mode"], "0644");
    assert_eq!(sdk_file["problems"][0]["id"], "readable-by-others");
    let path_var = copy(&report, "key-file-path");
    assert_eq!(path_var["problems"][0]["id"], "unexpanded-tilde");
    // Python fails on the missing named file; Java falls back to the default file.
    assert_eq!(sdk(&report, "python")["outcome"], "failed");
    assert_eq!(sdk(&report, "python")["failure"], "not-found");
    assert_eq!(sdk(&report, "java")["outcome"], "found");
    assert_eq!(sdk(&report, "java")["source"]["place"], "default-key-file");
    assert_eq!(report["all_found"], false);
}

#[test]
fn empty_variable_shadows_the_file_for_python_and_java() {
    let mut sandbox = Sandbox::new();
    sandbox.write(".dashscope/api_key", KEY);
    sandbox.env("DASHSCOPE_API_KEY", "");
    let run = sandbox.run(&["status", "--json"], None);
    run.expect_code(1);
    let report = run.json();
    let ids: Vec<&str> = copy(&report, "variable")["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["empty", "empty-shadows-files"]);
    assert_eq!(sdk(&report, "python")["length"], 0);
    assert_eq!(sdk(&report, "node")["outcome"], "missing");
}

#[test]
fn regions_come_from_base_url_variables() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    sandbox.env("DASHSCOPE_HTTP_BASE_URL", "https://dashscope-intl.aliyuncs.com/api/v1");
    let report = sandbox.run(&["status", "--json"], None).json();
    let python = sdk(&report, "python");
    assert_eq!(python["region"], "ap-southeast-1");
    assert_eq!(python["base_urls"]["http"]["origin"], "DASHSCOPE_HTTP_BASE_URL");
    assert_eq!(python["base_urls"]["compatible"]["region"], "cn-beijing");
}

/// A `config.toml` endpoint for a region counts as that region, as in `verify` and `doctor`
/// (status used to name only regions whose public host is in the URL).
#[test]
fn a_configured_endpoint_counts_as_its_region() {
    let mut sandbox = Sandbox::new();
    sandbox.write(
        ".config/dashkey/config.toml",
        "[regions.ap-southeast-1]\nendpoint = \"http://127.0.0.1:18080\"\n",
    );
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    sandbox.env("DASHSCOPE_HTTP_BASE_URL", "http://127.0.0.1:18080/api/v1");
    let report = sandbox.run(&["status", "--json"], None).json();
    assert_eq!(sdk(&report, "python")["region"], "ap-southeast-1");
    let run = sandbox.run(&["status"], None);
    assert!(
        run.stdout.contains("→ ap-southeast-1: http://127.0.0.1:18080/api/v1"),
        "{}",
        run.stdout
    );
}

#[test]
fn different_copies_are_told_apart_by_fingerprint() {
    let mut sandbox = Sandbox::new();
    sandbox.write(".dashscope/api_key", OTHER_KEY);
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let report = sandbox.run(&["status", "--json"], None).json();
    assert_ne!(
        copy(&report, "variable")["fingerprint"],
        copy(&report, "sdk-key-file")["fingerprint"]
    );
    assert_eq!(copy(&report, "sdk-key-file")["used_by"], serde_json::json!([]));
}

#[test]
fn colour_never_reaches_a_pipe_or_no_color() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let plain = sandbox.run(&["status"], None);
    assert!(!plain.stdout.contains('\u{1b}'));
    sandbox.env("NO_COLOR", "1");
    assert!(!sandbox.run(&["status"], None).stdout.contains('\u{1b}'));
}

#[test]
fn forced_colour_styles_the_same_text() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let plain = sandbox.run(&["status"], None).stdout;
    sandbox.env("CLICOLOR_FORCE", "1");
    let coloured = sandbox.run(&["status"], None).stdout;
    assert!(coloured.contains("\u{1b}["), "{coloured}");
    assert_eq!(anstream::adapter::strip_str(&coloured).to_string(), plain);
}

#[test]
fn usage_errors_exit_2_on_stderr() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["status", "--bogus"], None);
    run.expect_code(2);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("--bogus"));
}

#[test]
fn help_version_completions_and_man_page() {
    let sandbox = Sandbox::new();
    let help = sandbox.run(&["--help"], None);
    help.expect_code(0);
    assert!(help.stdout.contains("Examples:"));
    assert!(sandbox.run(&["--version"], None).stdout.starts_with("dashkey "));
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = sandbox.run(&["completions", shell], None);
        run.expect_code(0);
        assert!(run.stdout.contains("status"), "{shell}");
    }
    let man = sandbox.run(&["man"], None);
    assert!(man.stdout.contains(".TH dashkey"), "{}", &man.stdout[..200.min(man.stdout.len())]);
}
