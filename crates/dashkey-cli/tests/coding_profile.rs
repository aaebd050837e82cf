//! A Coding Plan key beside the standard key: a profile holding an `sk-sp-` key is exported
//! by dashkey's files as `BAILIAN_CODING_PLAN_API_KEY` (what Qwen Code's Coding Plan preset
//! reads), in use or not, while `DASHSCOPE_API_KEY` keeps the key in use; real bash and fish
//! login shells get both; `use`, rotation, `status` and `unset --profile` (byte for byte).

#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{KEY, Sandbox, snapshot, tool};

const CODING: &str = "sk-sp-3f9a1c0b7d2e4f6a8b0c1d2e3f4a5b6c";
const PRINT: &str = "printf '%s|%s' \"$DASHSCOPE_API_KEY\" \"$BAILIAN_CODING_PLAN_API_KEY\"";

/// A bash and fish user with the standard key stored for Singapore.
fn standard_user() -> Sandbox {
    let mut sandbox = Sandbox::new();
    sandbox.secret(CODING);
    sandbox.write(".bashrc", "# bashrc\n");
    sandbox.write(".config/fish/config.fish", "# fish\n");
    sandbox
        .set_offline(KEY, &["--region", "ap-southeast-1", "--shell", "bash", "--shell", "fish"])
        .expect_code(0);
    sandbox
}

/// What new bash and fish login shells print: the key in use, then the Coding Plan key.
fn new_shells_get(sandbox: &Sandbox, expected: &str) {
    for (name, args) in [("bash", ["-l", "-c", PRINT]), ("fish", ["-l", "-c", PRINT])] {
        let program = tool(name).expect("bash and fish");
        let output = sandbox.program(&program).args(args).env("TERM", "dumb").output().unwrap();
        let out = String::from_utf8_lossy(&output.stdout);
        assert_eq!(out, expected, "{name}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

/// Every file under HOME but what the shells themselves create (fish's `~/.local`).
fn files(sandbox: &Sandbox) -> BTreeMap<PathBuf, String> {
    let mut all = snapshot(&sandbox.home);
    all.retain(|path, _| !path.starts_with(".local"));
    all
}

/// [`files`] with the record's `written_at` left out: each switch rewrites the files in use,
/// so it is the time of the last one (doctor compares process start times with it), and a run
/// under load crosses a second boundary between two switches.
fn files_but_time(sandbox: &Sandbox) -> BTreeMap<PathBuf, String> {
    let mut all = files(sandbox);
    for (path, entry) in all.iter_mut() {
        if path.ends_with("record.json") {
            // A snapshot entry shows bytes; the record is read again as text to drop the line.
            let text = String::from_utf8(std::fs::read(sandbox.home.join(path)).unwrap()).unwrap();
            assert!(text.contains("\"written_at\""), "{text}");
            *entry = text.lines().filter(|l| !l.contains("\"written_at\"")).collect();
        }
    }
    all
}

#[test]
fn a_coding_plan_profile_is_exported_beside_the_standard_key_in_bash_and_fish() {
    let sandbox = standard_user();
    let before = files(&sandbox);
    let run = sandbox.set_offline(CODING, &["--profile", "coding"]);
    run.expect_code(0);
    assert!(run.stdout.contains("BAILIAN_CODING_PLAN_API_KEY (what Qwen Code"), "{}", run.stdout);
    assert!(run.stdout.contains("in DASHSCOPE_API_KEY (the SDKs"), "{}", run.stdout);
    assert!(!run.stdout.contains(CODING) && !run.stderr.contains(CODING));
    new_shells_get(&sandbox, &format!("{KEY}|{CODING}"));
    // The SDK key file and config.toml keep the standard key's.
    assert_eq!(sandbox.read(".dashscope/api_key"), format!("{KEY}\n").as_bytes());

    let status = sandbox.run(&["status", "--json"], None).json();
    assert_eq!(status["stored"]["coding_plan_key"]["masked"], "sk-sp-…5b6c", "{status}");
    let text = sandbox.run(&["status"], None).stdout;
    assert!(text.contains("Coding Plan key sk-sp-…5b6c"), "{text}");
    let listed = sandbox.run_bounded(&["profiles", "--json"], None).expect_code(0).json();
    let coding = listed["profiles"].as_array().unwrap().iter().find(|r| r["name"] == "coding");
    assert_eq!(coding.unwrap()["kind"], "coding-plan", "{listed}");
    // Which contexts hold which key, and in which variable.
    let held = |name: &str, variable: &str| -> Vec<String> {
        let row = listed["profiles"].as_array().unwrap().iter().find(|r| r["name"] == name);
        let contexts = row.unwrap()["contexts"].as_array().unwrap().clone();
        contexts
            .iter()
            .filter(|c| c["variable"] == variable)
            .map(|c| c["context"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(held("coding", "BAILIAN_CODING_PLAN_API_KEY").contains(&"login-shell".into()));
    assert!(held("coding", "DASHSCOPE_API_KEY").is_empty(), "{listed}");
    assert!(held("default", "DASHSCOPE_API_KEY").contains(&"login-shell".into()), "{listed}");
    let text = sandbox.run_bounded(&["profiles"], None).expect_code(0).stdout.clone();
    assert!(text.contains("login shell (BAILIAN_CODING_PLAN_API_KEY)"), "{text}");

    // Rotating the standard key keeps the Coding Plan key beside it.
    const NEW: &str = "sk-66666666666666666666666666666666";
    let mut sandbox = sandbox;
    sandbox.secret(NEW);
    let shells = ["--shell", "bash", "--shell", "fish"];
    sandbox.set_offline(NEW, &shells).expect_code(0);
    new_shells_get(&sandbox, &format!("{NEW}|{CODING}"));
    sandbox.set_offline(KEY, &shells).expect_code(0);

    // `unset --profile` takes it out of every file, which are then as they were.
    sandbox.run_bounded(&["unset", "--profile", "coding"], None).expect_code(0);
    new_shells_get(&sandbox, &format!("{KEY}|"));
    let mut after = files(&sandbox);
    let mut expected = before.clone();
    // The two rotations rewrote the record's time.
    after.remove(&PathBuf::from(".config/dashkey/record.json"));
    expected.remove(&PathBuf::from(".config/dashkey/record.json"));
    let changed: Vec<&PathBuf> =
        after.keys().chain(expected.keys()).filter(|p| after.get(*p) != expected.get(*p)).collect();
    assert!(changed.is_empty(), "changed: {changed:?}");
}

#[test]
fn storing_and_removing_a_coding_profile_restores_every_file_byte_for_byte() {
    let sandbox = standard_user();
    let before = files(&sandbox);
    sandbox.set_offline(CODING, &["--profile", "coding"]).expect_code(0);
    assert_ne!(files(&sandbox), before);
    sandbox.run_bounded(&["unset", "--profile", "coding"], None).expect_code(0);
    assert_eq!(files(&sandbox), before);
}

#[test]
fn use_of_the_coding_profile_keeps_its_variable_and_use_default_brings_the_standard_key_back() {
    let sandbox = standard_user();
    sandbox.set_offline(CODING, &["--profile", "coding"]).expect_code(0);
    let stored = files_but_time(&sandbox);
    sandbox.run_bounded(&["use", "coding"], None).expect_code(0);
    new_shells_get(&sandbox, &format!("{CODING}|{CODING}"));
    // The parked default holds its own variables only.
    let parked =
        String::from_utf8(sandbox.read(".config/dashkey/profiles/default/env.sh")).unwrap();
    assert!(parked.contains(KEY) && !parked.contains("BAILIAN"), "{parked}");
    sandbox.run_bounded(&["use", "default"], None).expect_code(0);
    new_shells_get(&sandbox, &format!("{KEY}|{CODING}"));
    assert_eq!(files_but_time(&sandbox), stored);
    sandbox.run_bounded(&["unset"], None).expect_code(0);
    assert!(common::dashkey_leftovers(&sandbox.home).is_empty());
}
