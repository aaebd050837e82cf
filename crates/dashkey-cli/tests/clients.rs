//! The client catalogue through the binary: `dashkey clients`, `status --client`,
//! `doctor --client`, the `clients` section of `status --json`, and `set` writing
//! `DASHSCOPE_API_BASE` (LiteLLM, langchain-qwq) for every login shell.

mod common;

use common::{KEY, Run, Sandbox, tool};

const SG_COMPATIBLE: &str = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1";

/// `dashkey ARGS` from a fresh login shell of bash (what a new terminal runs).
fn in_login_shell(sandbox: &Sandbox, bash: &std::path::Path, args: &str) -> Run {
    let bin = assert_cmd::cargo::cargo_bin("dashkey");
    let mut command = sandbox.program(bash);
    command.args(["-l", "-c", &format!("'{}' {args}", bin.display())]).env("TERM", "dumb");
    let run = Run::from(command.output().unwrap());
    sandbox.assert_no_secret(&run, &[args]);
    run
}

fn shell_prints(sandbox: &Sandbox, bash: &std::path::Path, script: &str) -> String {
    let output = sandbox.program(bash).args(["-l", "-c", script]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn client(run: &Run) -> serde_json::Value {
    let json = run.json();
    let clients = json["clients"].as_array().expect("a clients section");
    assert_eq!(clients.len(), 1, "{json}");
    clients[0].clone()
}

fn problem_ids(client: &serde_json::Value) -> Vec<String> {
    client["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().into())
        .collect()
}

#[test]
fn clients_lists_every_client_with_its_variables_and_style() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["clients", "--json"], None);
    run.expect_code(0);
    let json = run.json();
    let rows = json["clients"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for id in [
        "dashscope",
        "dashscope-client",
        "litellm",
        "openai",
        "langchain-qwq",
        "langchain",
        "langchain-js",
        "qwen-agent",
        "llama-index",
        "ai-sdk",
        "spring-ai",
        "qwen-code",
        "claude-code",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let litellm = rows.iter().find(|r| r["id"] == "litellm").unwrap();
    assert_eq!(litellm["url_vars"], serde_json::json!(["DASHSCOPE_API_BASE"]));
    assert_eq!(litellm["style"], "compatible");
    let claude = rows.iter().find(|r| r["id"] == "claude-code").unwrap();
    assert_eq!(claude["style"], "anthropic");
    let text = sandbox.run(&["clients"], None);
    assert!(text.stdout.contains("langchain-js") && text.stdout.contains("ALIBABA_REGION"));
    // An unknown id is a usage error naming the known ones, for status and doctor alike.
    for command in ["status", "doctor"] {
        let bad = sandbox.run(&[command, "--client", "nope"], None);
        bad.expect_code(2);
        assert!(bad.stderr.contains("litellm"), "{}", bad.stderr);
    }
}

#[test]
fn set_writes_litellms_base_for_new_shells_and_doctor_names_a_shell_that_lacks_it() {
    let Some(bash) = tool("bash") else { return };
    let sandbox = Sandbox::new();
    sandbox
        .run(
            &["set", "--stdin", "--offline", "--region", "ap-southeast-1", "--shell", "bash"],
            Some(KEY),
        )
        .expect_code(0);
    assert_eq!(shell_prints(&sandbox, &bash, "printf %s \"$DASHSCOPE_API_BASE\""), SG_COMPATIBLE);

    // A new terminal: LiteLLM and langchain-qwq call Singapore, where the key works.
    for id in ["litellm", "langchain-qwq"] {
        let run = in_login_shell(&sandbox, &bash, &format!("status --client {id} --json"));
        run.expect_code(0);
        let client = client(&run);
        assert_eq!(client["verdict"], "works", "{client}");
        assert_eq!(client["base_url"], SG_COMPATIBLE);
        assert_eq!(
            client["base_url_from"],
            serde_json::json!({"type": "variable", "name": "DASHSCOPE_API_BASE"})
        );
        assert_eq!(client["region"], "ap-southeast-1");
        assert_eq!(client["url_style"], "compatible");
        assert_eq!(client["region_ok"], true);
    }

    // A process that did not load dashkey's file: LiteLLM falls back to Beijing.
    let mut stale = sandbox_with_home(&sandbox);
    stale.env("DASHSCOPE_API_KEY", KEY);
    let run = stale.run(&["status", "--client", "litellm", "--json"], None);
    run.expect_code(1);
    let litellm = client(&run);
    assert_eq!(litellm["region"], "cn-beijing");
    assert_eq!(problem_ids(&litellm), ["wrong-region"]);
    let run = stale.run(&["doctor", "--client", "litellm", "--json"], None);
    let json = run.json();
    let finding = common::client_problem(&json);
    let title = finding["title"].as_str().unwrap();
    assert!(title.contains("cn-beijing") && title.contains("ap-southeast-1"), "{title}");
    let fix = finding["fix"].as_str().unwrap();
    assert!(fix.contains("dashkey run -- COMMAND"), "{fix}");
    // The fix, run: the same process started through `dashkey run` works.
    let fixed = stale.run(
        &[
            "run",
            "--",
            common::dashkey_bin().to_str().unwrap(),
            "status",
            "--client",
            "litellm",
            "--json",
        ],
        None,
    );
    fixed.expect_code(0);
    assert_eq!(client(&fixed)["verdict"], "works");

    // unset takes it back from new shells.
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(shell_prints(&sandbox, &bash, "printf %s \"${DASHSCOPE_API_BASE-unset}\""), "unset");
}

fn sandbox_with_home(sandbox: &Sandbox) -> Sandbox {
    let mut other = Sandbox::new();
    other.env("HOME", sandbox.home.to_str().unwrap());
    other.env("JAVA_TOOL_OPTIONS", format!("-Duser.home={}", sandbox.home.display()));
    other
}

#[test]
fn openai_whitespace_key_wrong_variable_and_native_url_are_named() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let run = sandbox.run(&["status", "--client", "openai", "--json"], None);
    run.expect_code(1);
    let openai = client(&run);
    assert_eq!(openai["key_found"], false);
    let first = &openai["problems"][0];
    assert_eq!(first["id"], "no-key");
    assert_eq!(first["elsewhere"], "DASHSCOPE_API_KEY");

    sandbox.env("OPENAI_API_KEY", format!("{KEY}\n")).env("OPENAI_BASE_URL", SG_COMPATIBLE);
    let openai = client(&sandbox.run(&["status", "--client", "openai", "--json"], None));
    assert_eq!(problem_ids(&openai), ["bad-key"]);
    assert_eq!(openai["problems"][0]["problem"], "whitespace");
    assert_eq!(openai["problems"][0]["connection_error"], true);
    let text = sandbox.run(&["status", "--client", "openai"], None);
    assert!(text.stdout.contains("Connection error."), "{}", text.stdout);
    // The Node client trims the same value and works.
    let node = client(&sandbox.run(&["status", "--client", "openai-node", "--json"], None));
    assert_eq!(node["verdict"], "works", "{node}");

    sandbox
        .env("OPENAI_API_KEY", KEY)
        .env("OPENAI_BASE_URL", "https://dashscope-intl.aliyuncs.com/api/v1");
    let openai = client(&sandbox.run(&["status", "--client", "openai", "--json"], None));
    assert_eq!(problem_ids(&openai), ["wrong-style"]);
    assert_eq!(openai["url_style"], "native");
    assert_eq!(openai["needs_style"], "compatible");
}

#[test]
fn status_json_has_a_clients_section_for_every_client() {
    let sandbox = Sandbox::new();
    let json = sandbox.run(&["status", "--json"], None).json();
    let clients = json["clients"].as_array().unwrap();
    let listed = sandbox.run(&["clients", "--json"], None).json();
    assert_eq!(clients.len(), listed["clients"].as_array().unwrap().len());
    for client in clients {
        for field in ["id", "key_source", "base_url", "region", "url_style", "verdict"] {
            assert!(client.get(field).is_some(), "{field} missing in {client}");
        }
    }
    // The sections that were there are unchanged in shape.
    assert!(json["sdks"].is_array() && json["contexts"].is_array());
}

const USERS_OPENAI: &str = "sk-openai-users-own-value-0000";

#[test]
fn set_client_refuses_to_shadow_another_value_and_force_then_unset_gives_it_back() {
    let Some(bash) = tool("bash") else { return };
    let mut sandbox = Sandbox::new();
    sandbox.secret(USERS_OPENAI);
    let bashrc = format!("# mine\nexport OPENAI_API_KEY='{USERS_OPENAI}'\n");
    sandbox.write(".bashrc", &bashrc);
    let before = common::snapshot(sandbox.root());
    let set = ["set", "--stdin", "--offline", "--region", "ap-southeast-1", "--shell", "bash"];
    let with = |extra: &[&'static str]| -> Vec<&str> { set.iter().chain(extra).copied().collect() };

    // A startup file, this environment, ./.env: each is named, and nothing changes.
    let run = sandbox.run(&with(&["--client", "openai"]), Some(KEY));
    run.expect_code(2);
    assert!(run.stderr.contains("OPENAI_API_KEY in ~/.bashrc line 2"), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(common::snapshot(sandbox.root()), before);
    // The hidden old flag is the same thing, and refuses the same way.
    sandbox.run(&with(&["--openai-compatible"]), Some(KEY)).expect_code(2);
    sandbox.env("ANTHROPIC_BASE_URL", "https://api.anthropic.com");
    let run = sandbox.run(&with(&["--client", "claude-code"]), Some(KEY));
    run.expect_code(2);
    assert!(run.stderr.contains("ANTHROPIC_BASE_URL in this environment"), "{}", run.stderr);
    sandbox.unenv("ANTHROPIC_BASE_URL");
    std::fs::write(sandbox.root().join(".env"), "ALIBABA_API_KEY=sk-another-one\n").unwrap();
    let run = sandbox.run(&with(&["--client", "ai-sdk"]), Some(KEY));
    run.expect_code(2);
    assert!(
        run.stderr.contains("ALIBABA_API_KEY in") && run.stderr.contains(".env line 1"),
        "{}",
        run.stderr
    );
    std::fs::remove_file(sandbox.root().join(".env")).unwrap();
    assert_eq!(common::snapshot(sandbox.root()), before);

    // --force: new shells get dashkey's key and Singapore's compatible URL...
    sandbox.run(&with(&["--client", "openai", "--force"]), Some(KEY)).expect_code(0);
    let same = "[ \"$OPENAI_API_KEY\" = \"$DASHSCOPE_API_KEY\" ] && printf same; printf ' %s' \"$OPENAI_BASE_URL\"";
    assert_eq!(shell_prints(&sandbox, &bash, same), format!("same {SG_COMPATIBLE}"));
    let run = in_login_shell(&sandbox, &bash, "status --client openai --json");
    assert_eq!(client(&run)["verdict"], "works");
    // ...and a second set (a new key) is no conflict with dashkey's own earlier value.
    sandbox.env("OPENAI_API_KEY", KEY);
    sandbox.run(&set, Some(common::OTHER_KEY)).expect_code(0);
    sandbox.unenv("OPENAI_API_KEY");
    let rotated = "[ \"$OPENAI_API_KEY\" = \"$DASHSCOPE_API_KEY\" ] && printf same";
    assert_eq!(shell_prints(&sandbox, &bash, rotated), "same");

    // unset: the user's value is back, their file byte for byte.
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(String::from_utf8(sandbox.read(".bashrc")).unwrap(), bashrc);
    // An interactive bash reads ~/.bashrc: the user's own value again.
    let output = sandbox
        .program(&bash)
        .args(["-i", "-c", "printf %s \"$OPENAI_API_KEY\""])
        .env("TERM", "dumb")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), USERS_OPENAI);
}

#[test]
fn set_client_serves_langchain_js_spring_ai_and_claude_code_and_keeps_them_on_the_next_set() {
    let Some(bash) = tool("bash") else { return };
    let sandbox = Sandbox::new();
    let ids = ["langchain-js", "spring-ai", "claude-code", "ai-sdk"];
    let mut args =
        vec!["set", "--stdin", "--offline", "--region", "ap-southeast-1", "--shell", "bash"];
    for id in ids {
        args.extend(["--client", id]);
    }
    sandbox.run(&args, Some(KEY)).expect_code(0);
    assert_eq!(
        shell_prints(
            &sandbox,
            &bash,
            "printf '%s %s %s' \"$ALIBABA_REGION\" \"$SPRING_AI_DASHSCOPE_BASE_URL\" \"$ANTHROPIC_BASE_URL\""
        ),
        "singapore https://dashscope-intl.aliyuncs.com https://dashscope-intl.aliyuncs.com/apps/anthropic"
    );
    let check = |label: &str| {
        for id in ids {
            let run = in_login_shell(&sandbox, &bash, &format!("status --client {id} --json"));
            let client = client(&run);
            assert_eq!(client["verdict"], "works", "{label} {id}: {client}");
            assert_eq!(client["key_found"], true);
        }
    };
    check("first set");
    // A later set without --client (a new key) keeps writing them, with the new key.
    sandbox
        .run(
            &["set", "--stdin", "--offline", "--region", "ap-southeast-1", "--shell", "bash"],
            Some(common::OTHER_KEY),
        )
        .expect_code(0);
    check("second set");
    let same = "[ \"$ANTHROPIC_AUTH_TOKEN\" = \"$DASHSCOPE_API_KEY\" ] && [ \"$ALIBABA_API_KEY\" = \"$DASHSCOPE_API_KEY\" ] && printf same";
    assert_eq!(shell_prints(&sandbox, &bash, same), "same");
    // Hong Kong has no ALIBABA_REGION word: refused, nothing changed.
    let before = common::snapshot(sandbox.root());
    let run = sandbox.run(
        &["set", "--stdin", "--offline", "--region", "cn-hongkong", "--client", "langchain-js"],
        Some(KEY),
    );
    run.expect_code(2);
    assert!(run.stderr.contains("ALIBABA_REGION cannot name cn-hongkong"), "{}", run.stderr);
    assert_eq!(common::snapshot(sandbox.root()), before);
}

#[test]
fn doctor_client_names_the_variable_the_key_is_missing_from_and_its_fix_works() {
    let Some(bash) = tool("bash") else { return };
    let sandbox = Sandbox::new();
    let set = ["set", "--stdin", "--offline", "--region", "ap-southeast-1", "--shell", "bash"];
    sandbox.run(&set, Some(KEY)).expect_code(0);
    let run = in_login_shell(&sandbox, &bash, "doctor --client openai --json");
    run.expect_code(1);
    let json = run.json();
    let findings: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "client-problem")
        .collect();
    let no_key = findings
        .iter()
        .find(|f| f["title"].as_str().unwrap().contains("no key: it reads OPENAI_API_KEY"))
        .unwrap_or_else(|| panic!("{json}"));
    assert!(no_key["title"].as_str().unwrap().contains("the key is in DASHSCOPE_API_KEY"));
    assert_eq!(no_key["fix"], "dashkey set --client openai");
    // The fix, run: a new terminal's openai client gets the key and Singapore.
    let fix: Vec<&str> = set.iter().copied().chain(["--client", "openai"]).collect();
    sandbox.run(&fix, Some(KEY)).expect_code(0);
    let run = in_login_shell(&sandbox, &bash, "doctor --client openai --json");
    let json = run.json();
    let ok = json["findings"].as_array().unwrap().iter().find(|f| f["id"] == "client-ok");
    assert!(ok.is_some(), "{json}");
    assert!(!json["findings"].as_array().unwrap().iter().any(|f| f["id"] == "client-problem"));
}
