//! Coding Plan keys (`sk-sp-`) are checked on the Coding Plan hosts, with `fake-dashscope`
//! playing one: `verify` asks them (and not the standard regions, which refuse such keys)
//! and says where the key works; a standard key sent to a coding host is rejected like a
//! wrong key; `set` points at the check.

mod common;

use common::{KEY, LAUNCH_REGIONS, Sandbox};
use fake_dashscope::{FakeDashScope, Running};

const CODING: &str = "sk-sp-3f9a1c0b7d2e4f6a8b0c1d2e3f4a5b6c";

/// The four standard regions and a Coding Plan international host, all on loopback,
/// written to `config.toml`; the coding host accepts `CODING`, Singapore accepts `KEY`.
fn servers(sandbox: &mut Sandbox) -> (Vec<Running>, Running) {
    let standard: Vec<Running> = LAUNCH_REGIONS
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
    let mut config: String = LAUNCH_REGIONS
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
