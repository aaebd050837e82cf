//! Coding Plan keys (`sk-sp-`) are checked on the Coding Plan hosts, with `fake-dashscope`
//! playing one: `verify` asks them (and not the standard regions, which refuse such keys)
//! and says where the key works; a standard key sent to a coding host is rejected like a
//! wrong key; `set` points at the check.

mod common;

use common::world::REGIONS;
use common::{KEY, Sandbox};
use fake_dashscope::{FakeDashScope, Running};

const CODING: &str = "sk-sp-3f9a1c0b7d2e4f6a8b0c1d2e3f4a5b6c";

/// The four standard regions and a Coding Plan international host, all on loopback,
/// written to `config.toml`; the coding host accepts `CODING`, Singapore accepts `KEY`.
fn servers(sandbox: &mut Sandbox) -> (Vec<Running>, Running) {
    let standard: Vec<Running> = REGIONS
        .iter()
        .map(|region| {
            let builder = FakeDashScope::builder().region(*region);
            let builder =
                if *region == "ap-southeast-1" { builder.valid_key(KEY) } else { builder };
            builder.start().unwrap()
        })
        .collect();
    let coding = FakeDashScope::builder()
        .region("coding-intl")
        .coding_plan()
        .valid_key(CODING)
        .start()
        .unwrap();
    let mut config: String = REGIONS
        .iter()
        .zip(&standard)
        .map(|(region, server)| format!("[regions.{region}]\nendpoint = \"{}\"\n\n", server.url()))
        .collect();
    config.push_str(&format!("[regions.coding-intl]\nendpoint = \"{}\"\n", coding.url()));
    sandbox.write(".config/dashkey/config.toml", config);
    sandbox.env("DASHKEY_HTTP_TIMEOUT_MS", "5000");
    (standard, coding)
}

#[test]
fn a_coding_plan_key_is_checked_on_the_coding_hosts_only() {
    let mut sandbox = Sandbox::new();
    let (standard, coding) = servers(&mut sandbox);
    let run = sandbox.run(&["verify", "--stdin", "--wait-all", "--json"], Some(CODING));
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["verdict"], "accepted", "{json}");
    let checked: Vec<&str> =
        json["regions"].as_array().unwrap().iter().map(|r| r["region"].as_str().unwrap()).collect();
    assert_eq!(checked, ["coding", "coding-intl"], "{json}");
    assert_eq!(json["fix"], serde_json::Value::Null, "{json}");
    assert!(coding.requests().iter().any(|r| r.path() == "/v1/models"));
    for server in &standard {
        assert!(server.requests().is_empty(), "{} was asked", server.region());
    }
    let text = sandbox.run(&["verify", "--stdin"], Some(CODING));
    text.expect_code(0);
    assert!(text.stdout.contains("Coding Plan key"), "{}", text.stdout);
    assert!(text.stdout.contains(&format!("{}/v1", coding.url())), "{}", text.stdout);
    assert!(!text.stdout.contains("dashkey region"), "{}", text.stdout);
}

#[test]
fn keys_of_the_other_kind_are_rejected_and_standard_checks_skip_the_coding_host() {
    let mut sandbox = Sandbox::new();
    let (_standard, coding) = servers(&mut sandbox);
    // A standard key on the coding host: 401 like a wrong key.
    let run = sandbox.run(&["verify", "--stdin", "--region", "coding-intl", "--json"], Some(KEY));
    assert_eq!(run.json()["verdict"], "rejected");
    // The whole standard check leaves the coding host out and finds Singapore.
    coding.clear_requests();
    let run = sandbox.run(&["verify", "--stdin", "--wait-all", "--json"], Some(KEY));
    run.expect_code(0);
    let json = run.json();
    let checked: Vec<&str> =
        json["regions"].as_array().unwrap().iter().map(|r| r["region"].as_str().unwrap()).collect();
    assert!(!checked.contains(&"coding-intl"), "{json}");
    assert!(coding.requests().is_empty());
    // A Coding Plan key no coding host knows is rejected, with the Coding Plan explanation.
    let unknown = "sk-sp-00000000000000000000000000000000";
    let run = sandbox.run(&["verify", "--stdin", "--region", "coding-intl"], Some(unknown));
    assert!(run.stdout.contains("Coding Plan"), "{}", run.stdout);
    assert_ne!(run.code, 0);
}

#[test]
fn set_with_a_coding_plan_key_points_at_the_check_that_works() {
    let mut sandbox = Sandbox::new();
    let (_standard, _coding) = servers(&mut sandbox);
    let run = sandbox.run(&["set", "--stdin", "--no-modify-rc"], Some(CODING));
    run.expect_code(0);
    assert!(run.stderr.contains("dashkey verify --stdin"), "{}", run.stderr);
    // The check it names, run: accepted on the coding host.
    sandbox.run(&["verify", "--stdin"], Some(CODING)).expect_code(0);
}

/// The real openai client's answer to one chat request, or its error's status and body.
const OPENAI: &str = r#"
import json
from openai import OpenAI
try:
    r = OpenAI(max_retries=0).chat.completions.create(model="qwen3-coder-plus", messages=[{"role": "user", "content": "hi"}])
    print("200", r.choices[0].message.content)
except Exception as error:
    print("error", getattr(error, "status_code", ""), json.dumps(getattr(error, "body", None)))
"#;

fn client_problem(sandbox: &Sandbox) -> String {
    let json = sandbox.run(&["doctor", "--client", "openai", "--json"], None).json();
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "client-problem")
        .map(|f| f["title"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn keys_of_the_wrong_kind_get_the_real_401_from_openai_and_doctor_client_names_it() {
    let mut sandbox = Sandbox::new();
    let Some(python) = common::clients_python() else { return };
    let (standard, coding) = servers(&mut sandbox);
    let script = sandbox.write("ask_openai.py", OPENAI);
    let ask = |sandbox: &Sandbox| {
        let mut command = sandbox.program("/usr/bin/timeout");
        command.args(["120", python.to_str().unwrap(), script.to_str().unwrap()]);
        let run = common::Run::from(command.output().unwrap());
        let last = run.stdout.trim().lines().last().unwrap_or_default().to_string();
        if last.is_empty() { run.stderr } else { last }
    };
    // A Coding Plan key sent to a standard host (Singapore).
    sandbox
        .env("OPENAI_API_KEY", CODING)
        .env("OPENAI_BASE_URL", format!("{}/compatible-mode/v1", standard[1].url()));
    let answer = ask(&sandbox);
    assert!(answer.starts_with("error 401 ") && answer.contains("invalid_api_key"), "{answer}");
    let title = client_problem(&sandbox);
    assert!(title.contains("a Coding Plan key (sk-sp-) is sent to a standard host"), "{title}");
    // A standard key sent to the Coding Plan host.
    sandbox.env("OPENAI_API_KEY", KEY).env("OPENAI_BASE_URL", coding.coding_url());
    let answer = ask(&sandbox);
    assert!(answer.starts_with("error 401 ") && answer.contains("invalid_api_key"), "{answer}");
    let title = client_problem(&sandbox);
    assert!(title.contains("a standard key is sent to a Coding Plan host"), "{title}");
    // The right kind: 200 from the coding host, and no such finding.
    sandbox.env("OPENAI_API_KEY", CODING);
    assert_eq!(ask(&sandbox), "200 Hello from fake-dashscope (coding-intl).");
    assert!(!client_problem(&sandbox).contains("Coding Plan"), "{}", client_problem(&sandbox));
}
