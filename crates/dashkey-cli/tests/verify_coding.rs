//! Coding Plan keys (`sk-sp-`) are checked on the Coding Plan hosts, with `fake-dashscope`
//! playing one: `verify` asks them (and not the standard regions, which refuse such keys)
//! and says where the key works; a standard key sent to a coding host is rejected like a
//! wrong key; `set` points at the check.

mod common;

use common::world::REGIONS;
use common::{KEY, Sandbox};
use fake_dashscope::{FakeDashScope, Running};

const CODING: &str = "sk-sp-3f9a1c0b7d2e4f6a8b0c1d2e3f4a5b6c";
/// A Token Plan key: the same prefix, told apart only by the host that accepts it.
const TOKEN: &str = "sk-sp-7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d";
/// The plan hosts, as `dashkey::verify::PLAN_HOSTS` names them.
const PLAN_HOSTS: [&str; 4] = ["coding", "coding-intl", "token-plan", "token-plan-intl"];

/// The four standard regions and the four plan hosts, all on loopback, written to
/// `config.toml`: the international Coding Plan host accepts `CODING`, the international
/// Token Plan host `TOKEN`, Singapore `KEY`. The plan hosts come back in [`PLAN_HOSTS`] order.
fn servers(sandbox: &mut Sandbox) -> (Vec<Running>, Vec<Running>) {
    let standard: Vec<Running> = REGIONS
        .iter()
        .map(|region| {
            let builder = FakeDashScope::builder().region(*region);
            let builder =
                if *region == "ap-southeast-1" { builder.valid_key(KEY) } else { builder };
            builder.start().unwrap()
        })
        .collect();
    let plan: Vec<Running> = PLAN_HOSTS
        .iter()
        .map(|id| {
            let builder = FakeDashScope::builder().region(*id);
            let builder = match *id {
                "coding-intl" => builder.coding_plan().valid_key(CODING),
                "token-plan-intl" => builder.token_plan().valid_key(TOKEN),
                id if id.starts_with("coding") => builder.coding_plan(),
                _ => builder.token_plan(),
            };
            builder.start().unwrap()
        })
        .collect();
    let config: String = REGIONS
        .iter()
        .copied()
        .zip(&standard)
        .chain(PLAN_HOSTS.into_iter().zip(&plan))
        .map(|(region, server)| format!("[regions.{region}]\nendpoint = \"{}\"\n\n", server.url()))
        .collect();
    sandbox.write(".config/dashkey/config.toml", config);
    sandbox.env("DASHKEY_HTTP_TIMEOUT_MS", "5000");
    (standard, plan)
}

#[test]
fn a_coding_plan_key_is_checked_on_the_plan_hosts_only() {
    let mut sandbox = Sandbox::new();
    let (standard, plan) = servers(&mut sandbox);
    let coding = &plan[1];
    let run = sandbox.run(&["verify", "--stdin", "--wait-all", "--json"], Some(CODING));
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["verdict"], "accepted", "{json}");
    let checked: Vec<&str> =
        json["regions"].as_array().unwrap().iter().map(|r| r["region"].as_str().unwrap()).collect();
    assert_eq!(checked, PLAN_HOSTS, "{json}");
    assert_eq!(json["plan"], "coding-plan", "{json}");
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
    let (_standard, plan) = servers(&mut sandbox);
    let coding = &plan[1];
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
    let (_standard, _plan) = servers(&mut sandbox);
    let run = sandbox.run(&["set", "--stdin", "--no-modify-rc"], Some(CODING));
    run.expect_code(0);
    assert!(run.stderr.contains("dashkey verify --stdin"), "{}", run.stderr);
    // The check it names, run: accepted on the coding host.
    sandbox.run(&["verify", "--stdin"], Some(CODING)).expect_code(0);
}

/// The plan `set` recorded beside the key (`null`: none).
fn recorded_plan(sandbox: &Sandbox) -> serde_json::Value {
    let record = sandbox.read(".config/dashkey/record.json");
    serde_json::from_slice::<serde_json::Value>(&record).unwrap()["plan"].clone()
}

#[test]
fn set_checks_a_plan_key_on_the_plan_hosts_and_records_which_plan_accepted_it() {
    let mut sandbox = Sandbox::new();
    sandbox.secret(CODING).secret(TOKEN);
    let (standard, plan) = servers(&mut sandbox);
    // A Token Plan key: only the international Token Plan host accepts it.
    let run = sandbox.run(&["set", "--stdin", "--no-modify-rc"], Some(TOKEN));
    run.expect_code(0);
    assert!(run.stderr.contains("it is a Token Plan key"), "{}", run.stderr);
    assert_eq!(
        recorded_plan(&sandbox),
        serde_json::json!({"plan": "token-plan", "host": "token-plan-intl"})
    );
    for (id, server) in PLAN_HOSTS.iter().zip(&plan) {
        assert!(!server.requests().is_empty(), "{id} was not asked");
    }
    for server in &standard {
        assert!(server.requests().is_empty(), "{} was asked", server.region());
    }
    sandbox.assert_no_secret(&run, &[]);
    // Stored like any key; `verify` names the same plan.
    let stored = String::from_utf8(sandbox.read(".config/dashkey/env.sh")).unwrap();
    assert!(stored.contains(TOKEN));
    let verify = sandbox.run(&["verify", "--stdin", "--wait-all", "--json"], Some(TOKEN));
    assert_eq!(verify.json()["plan"], "token-plan", "{}", verify.stdout);
    let text = sandbox.run(&["verify", "--stdin"], Some(TOKEN));
    text.expect_code(0);
    assert!(text.stdout.contains("It is a Token Plan key"), "{}", text.stdout);
    assert!(
        text.stdout.contains(&format!("{}/compatible-mode/v1", plan[3].url())),
        "{}",
        text.stdout
    );
    // Rotating to a Coding Plan key records the other plan.
    let run = sandbox.run(&["set", "--stdin", "--no-modify-rc"], Some(CODING));
    run.expect_code(0);
    assert!(run.stderr.contains("it is a Coding Plan key"), "{}", run.stderr);
    assert_eq!(
        recorded_plan(&sandbox),
        serde_json::json!({"plan": "coding-plan", "host": "coding-intl"})
    );
}

#[test]
fn a_plan_key_every_plan_host_rejects_is_refused_and_offline_asks_nobody() {
    let mut sandbox = Sandbox::new();
    let (standard, plan) = servers(&mut sandbox);
    let unknown = "sk-sp-00000000000000000000000000000000";
    sandbox.secret(unknown);
    let before = common::snapshot(&sandbox.home);
    let run = sandbox.run(&["set", "--stdin", "--no-modify-rc"], Some(unknown));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("rejected this sk-sp- key"), "{}", run.stderr);
    assert_eq!(common::snapshot(&sandbox.home), before, "a refused key changed files");
    // Offline: stored unchecked, no host asked, no plan recorded.
    for server in standard.iter().chain(&plan) {
        server.clear_requests();
    }
    sandbox.run(&["set", "--stdin", "--no-modify-rc", "--offline"], Some(unknown)).expect_code(0);
    for server in standard.iter().chain(&plan) {
        assert!(server.requests().is_empty(), "{} was asked offline", server.region());
    }
    assert_eq!(recorded_plan(&sandbox), serde_json::Value::Null);
}

#[test]
fn doctor_names_a_token_plan_key_on_a_standard_host_and_a_standard_key_on_a_token_plan_host() {
    let mut sandbox = Sandbox::new();
    sandbox.secret(TOKEN);
    let (standard, plan) = servers(&mut sandbox);
    sandbox.run(&["set", "--stdin", "--no-modify-rc"], Some(TOKEN)).expect_code(0);
    // The SDKs pointed at a pay-as-you-go host with the Token Plan key.
    sandbox
        .env("DASHSCOPE_API_KEY", TOKEN)
        .env("DASHSCOPE_HTTP_BASE_URL", "https://dashscope-intl.aliyuncs.com/api/v1");
    let titles = |sandbox: &Sandbox, args: &[&str]| -> String {
        let json = sandbox.run(args, None).json();
        let findings = json["findings"].as_array().unwrap().iter();
        findings.map(|f| f["title"].as_str().unwrap().to_string()).collect::<Vec<_>>().join(" | ")
    };
    let doctor = titles(&sandbox, &["doctor", "--json"]);
    assert!(
        doctor.contains(
            "DASHSCOPE_HTTP_BASE_URL is a pay-as-you-go host, but the key is a Token Plan key"
        ),
        "{doctor}"
    );
    // An OpenAI-style client: the Token Plan key on a standard host, then on a coding host.
    sandbox
        .env("OPENAI_API_KEY", TOKEN)
        .env("OPENAI_BASE_URL", format!("{}/compatible-mode/v1", standard[1].url()));
    let client = titles(&sandbox, &["doctor", "--client", "openai", "--json"]);
    assert!(client.contains("a Token Plan key (sk-sp-) is sent to a standard host"), "{client}");
    sandbox.env("OPENAI_BASE_URL", plan[1].coding_url());
    let client = titles(&sandbox, &["doctor", "--client", "openai", "--json"]);
    assert!(
        client.contains("a Token Plan key is sent to a Coding Plan host, which refuses it"),
        "{client}"
    );
    // Its own host: no such finding.
    sandbox.env("OPENAI_BASE_URL", format!("{}/compatible-mode/v1", plan[3].url()));
    let client = titles(&sandbox, &["doctor", "--client", "openai", "--json"]);
    assert!(
        client.contains("openai: it sends the key") && !client.contains("openai: a "),
        "{client}"
    );
    // Its plan's other family: the China Token Plan host, and the China Coding Plan host
    // for a Coding Plan key the international one accepted.
    sandbox.env("OPENAI_BASE_URL", format!("{}/compatible-mode/v1", plan[2].url()));
    let client = titles(&sandbox, &["doctor", "--client", "openai", "--json"]);
    assert!(
        client.contains(
            "the key was accepted on Token Plan (international) (token-plan-intl), but it is \
             sent to Token Plan (China) (token-plan), which refuses it"
        ),
        "{client}"
    );
    sandbox.secret(CODING);
    sandbox.run(&["set", "--stdin", "--no-modify-rc"], Some(CODING)).expect_code(0);
    sandbox.env("OPENAI_API_KEY", CODING).env("OPENAI_BASE_URL", plan[0].coding_url());
    let client = titles(&sandbox, &["doctor", "--client", "openai", "--json"]);
    assert!(
        client.contains(
            "the key was accepted on Coding Plan (international) (coding-intl), but it is sent \
             to Coding Plan (China) (coding), which refuses it"
        ),
        "{client}"
    );
    sandbox.env("OPENAI_BASE_URL", plan[1].coding_url());
    let client = titles(&sandbox, &["doctor", "--client", "openai", "--json"]);
    assert!(!client.contains("which refuses it"), "{client}");
    // A standard key on the Token Plan host.
    sandbox.env("OPENAI_BASE_URL", format!("{}/compatible-mode/v1", plan[3].url()));
    sandbox.env("OPENAI_API_KEY", KEY);
    let client = titles(&sandbox, &["doctor", "--client", "openai", "--json"]);
    assert!(client.contains("a standard key is sent to a Token Plan host"), "{client}");
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
    let (standard, plan) = servers(&mut sandbox);
    let coding = &plan[1];
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
    // A standard key sent to the Token Plan host: the real 401, and doctor names it.
    let token_plan = format!("{}/compatible-mode/v1", plan[3].url());
    sandbox.env("OPENAI_API_KEY", KEY).env("OPENAI_BASE_URL", &token_plan);
    let answer = ask(&sandbox);
    assert!(answer.starts_with("error 401 ") && answer.contains("invalid_api_key"), "{answer}");
    let title = client_problem(&sandbox);
    assert!(title.contains("a standard key is sent to a Token Plan host"), "{title}");
    // A Token Plan key there: 200.
    sandbox.env("OPENAI_API_KEY", TOKEN);
    assert_eq!(ask(&sandbox), "200 Hello from fake-dashscope (token-plan-intl).");
    // The same key on the China Token Plan host, once `set` recorded which host took it: the
    // real 401, and doctor names the other family.
    sandbox.secret(TOKEN);
    sandbox.run(&["set", "--stdin", "--no-modify-rc"], Some(TOKEN)).expect_code(0);
    sandbox.env("OPENAI_BASE_URL", format!("{}/compatible-mode/v1", plan[2].url()));
    let answer = ask(&sandbox);
    assert!(answer.starts_with("error 401 ") && answer.contains("invalid_api_key"), "{answer}");
    let title = client_problem(&sandbox);
    assert!(title.contains("but it is sent to Token Plan (China) (token-plan)"), "{title}");
}
