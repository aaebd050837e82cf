//! `dashkey verify` end to end: the real binary, in a sandboxed HOME, against fake DashScope
//! regions on loopback that the test starts and points at through the sandbox's
//! `config.toml`. Every server is the test's own (OS-chosen ports), so tests run in parallel.

mod common;

use std::time::Duration;

use common::world::{REGIONS, World};
use common::{KEY, OTHER_KEY, Run, Sandbox};
use fake_dashscope::{Builder, Fault, KeyBehaviour};
use serde_json::Value;

fn valid_in(region: &'static str) -> impl Fn(&str, Builder) -> Builder {
    move |r, builder| if r == region { builder.valid_key(KEY) } else { builder }
}

fn region<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["regions"].as_array().unwrap().iter().find(|r| r["region"] == id).unwrap()
}

fn results(report: &Value) -> Vec<String> {
    report["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}={}", r["region"].as_str().unwrap(), r["result"].as_str().unwrap()))
        .collect()
}

#[test]
fn a_key_valid_only_in_singapore_is_found_there_and_the_fix_is_given() {
    let mut world = World::new(valid_in("ap-southeast-1"));
    world.sandbox.env("DASHSCOPE_API_KEY", KEY);
    let run = world.verify(&[], None);
    run.expect_code(0);
    assert!(run.stdout.contains("The key works in Singapore (ap-southeast-1)"), "{}", run.stdout);
    assert!(run.stdout.contains("configured for China (Beijing)"), "{}", run.stdout);
    assert!(run.stdout.contains("dashkey region ap-southeast-1"), "{}", run.stdout);

    let report = world.verify(&["--json"], None).expect_code(0).json();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["verdict"], "accepted");
    assert_eq!(report["accepted_in"], serde_json::json!(["ap-southeast-1"]));
    assert_eq!(report["configured"]["region"], "cn-beijing");
    assert_eq!(report["configured_region_accepts"], false);
    assert_eq!(report["fix"], "dashkey region ap-southeast-1");
    assert_eq!(report["key"]["masked"], "sk-…5b6c");
    assert_eq!(report["key"]["source"], "variable");
    assert_eq!(
        results(&report),
        [
            "cn-beijing=rejected",
            "ap-southeast-1=accepted",
            "us-east-1=rejected",
            "cn-hongkong=rejected"
        ]
    );
    let beijing = region(&report, "cn-beijing");
    assert_eq!(beijing["configured"], true);
    assert_eq!(beijing["origin"], "config");
    assert_eq!(beijing["status"], 401);
    assert_eq!(beijing["code"], "invalid_api_key");
    assert_eq!(region(&report, "ap-southeast-1")["api"], "compatible");
}

#[test]
fn the_configured_region_accepting_the_key_needs_no_fix() {
    let mut world = World::new(valid_in("ap-southeast-1"));
    let singapore = world.server("ap-southeast-1").native_url();
    world.sandbox.env("DASHSCOPE_API_KEY", KEY).env("DASHSCOPE_HTTP_BASE_URL", singapore);
    let report = world.verify(&["--json"], None).expect_code(0).json();
    assert_eq!(report["configured"]["region"], "ap-southeast-1");
    assert_eq!(report["configured"]["origin"], "DASHSCOPE_HTTP_BASE_URL");
    assert_eq!(report["configured_region_accepts"], true);
    assert_eq!(report["fix"], Value::Null);
    let run = world.verify(&[], None).expect_code(0).stdout.clone();
    assert!(!run.contains("dashkey region"), "{run}");
}

#[test]
fn a_key_valid_nowhere_exits_1() {
    let mut world = World::new(|_, builder| builder.valid_key(OTHER_KEY));
    world.sandbox.env("DASHSCOPE_API_KEY", KEY);
    let run = world.verify(&[], None);
    run.expect_code(1);
    assert!(run.stdout.contains("No region accepted the key"), "{}", run.stdout);
    let report = world.verify(&["--json"], None).expect_code(1).json();
    assert_eq!(report["verdict"], "rejected");
    assert_eq!(report["accepted_in"], serde_json::json!([]));
    assert!(report["regions"].as_array().unwrap().iter().all(|r| r["result"] == "rejected"));
}

#[test]
fn each_fault_is_classified_and_none_is_called_a_rejection() {
    // Timeout 2 s: 200 ms of latency is fine (even on a busy machine), a stall is a timeout.
    let extra = ["stall-headers", "stall", "native-only"];
    let mut world = World::with_extra(
        |region, builder| {
            let builder = builder.valid_key(KEY);
            match region {
                "cn-beijing" => builder.fault(Fault::Latency(Duration::from_millis(200))),
                "ap-southeast-1" => builder.fault(Fault::ServerError(503)),
                "us-east-1" => builder.fault(Fault::MalformedJson),
                "cn-hongkong" => builder.fault(Fault::Reset),
                "stall-headers" => builder.fault(Fault::StallAfterHeaders),
                "stall" => builder.fault(Fault::Stall),
                _ => builder.without_compatible_models(),
            }
        },
        &extra,
    );
    world.sandbox.env("DASHSCOPE_API_KEY", KEY).env("DASHKEY_HTTP_TIMEOUT_MS", "2000");
    // Every region's own answer: without --wait-all the stalls would be "pending".
    let report = world.verify(&["--json", "--wait-all"], None).expect_code(0).json();
    assert_eq!(
        results(&report),
        [
            "cn-beijing=accepted",
            "ap-southeast-1=server-error",
            "us-east-1=unexpected",
            "cn-hongkong=unreachable",
            "native-only=accepted",
            "stall=unreachable",
            "stall-headers=unreachable",
        ]
    );
    assert_eq!(report["timeout_ms"], 2000);
    assert_eq!(region(&report, "ap-southeast-1")["status"], 503);
    assert_eq!(region(&report, "us-east-1")["status"], 200);
    assert_eq!(region(&report, "cn-hongkong")["unreachable"], "connect");
    assert_eq!(region(&report, "stall")["unreachable"], "timeout");
    assert_eq!(region(&report, "stall-headers")["unreachable"], "timeout");
    assert_eq!(region(&report, "native-only")["api"], "native");
    assert_eq!(region(&report, "native-only")["name"], Value::Null);
    assert_eq!(region(&report, "native-only")["origin"], "config");
    assert!(report["accepted_in"].as_array().unwrap().len() == 2);
}

#[test]
fn valid_but_refused_keys_count_as_accepted() {
    let world = World::new(|region, builder| match region {
        "cn-beijing" => builder.key(KEY, KeyBehaviour::Restricted),
        "ap-southeast-1" => builder.key(KEY, KeyBehaviour::Arrears),
        "us-east-1" => builder.key(KEY, KeyBehaviour::Throttled),
        _ => builder,
    });
    let report = world.verify(&["--stdin", "--json"], Some(KEY)).expect_code(0).json();
    assert_eq!(
        results(&report),
        [
            "cn-beijing=accepted-restricted",
            "ap-southeast-1=accepted-arrears",
            "us-east-1=accepted-throttled",
            "cn-hongkong=rejected"
        ]
    );
    assert_eq!(region(&report, "ap-southeast-1")["code"], "Arrearage");
    let text = world.verify(&["--stdin"], Some(KEY)).expect_code(0).stdout.clone();
    assert!(text.contains("account is overdue"), "{text}");
}

#[test]
fn all_regions_down_exits_3_and_never_says_invalid() {
    let closed: Vec<u16> = (0..4)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
        .collect();
    let mut sandbox = Sandbox::new();
    // The config directory comes from XDG_CONFIG_HOME when it is set.
    let xdg = sandbox.root().join("xdg");
    std::fs::create_dir_all(xdg.join("dashkey")).unwrap();
    let config: String = REGIONS
        .iter()
        .zip(&closed)
        .map(|(region, port)| {
            format!("[regions.{region}]\nendpoint = \"http://127.0.0.1:{port}\"\n")
        })
        .collect();
    std::fs::write(xdg.join("dashkey/config.toml"), config).unwrap();
    sandbox.env("XDG_CONFIG_HOME", xdg.to_str().unwrap()).env("DASHSCOPE_API_KEY", KEY);
    for args in [&["verify"][..], &["verify", "--json"]] {
        let run = sandbox.run(args, None);
        run.expect_code(3);
        let all = format!("{}{}", run.stdout, run.stderr).to_lowercase();
        assert!(!all.contains("invalid"), "exit 3 must not call the key invalid:\n{all}");
    }
    let report = sandbox.run(&["verify", "--json"], None).json();
    assert_eq!(report["verdict"], "unknown");
    assert!(report["regions"].as_array().unwrap().iter().all(|r| r["unreachable"] == "connect"));
    let text = sandbox.run(&["verify"], None).stdout;
    assert!(text.contains("Could not tell whether the key works"), "{text}");
}

#[test]
fn the_key_appears_only_in_the_authorization_header() {
    let mut world = World::new(|region, builder| match region {
        "us-east-1" => builder.valid_key(KEY).without_compatible_models(),
        _ => builder,
    });
    world.sandbox.env("DASHSCOPE_API_KEY", KEY);
    world.verify(&[], None).expect_code(0);
    world.verify(&["--stdin", "--region", "cn-hongkong"], Some(KEY)).expect_code(1);
    let mut seen = 0;
    for (region, server) in &world.servers {
        for request in server.requests() {
            seen += 1;
            let elsewhere = request.occurrences_outside_authorization(KEY);
            assert!(elsewhere.is_empty(), "{region}: the key is also in {elsewhere:?}");
            assert_eq!(request.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
            assert!(request.header("user-agent").unwrap().starts_with("dashkey/"));
        }
    }
    // Four compatible-mode checks, one native fallback, one single-region check.
    assert_eq!(seen, 6);
}

#[test]
fn plain_http_to_a_remote_host_in_config_is_refused() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    sandbox.write(
        ".config/dashkey/config.toml",
        "[regions.us-east-1]\nendpoint = \"http://dashscope-us.example.com:8080\"\n",
    );
    let run = sandbox.run(&["verify"], None);
    run.expect_code(2);
    assert!(run.stderr.contains(".config/dashkey/config.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("[regions.us-east-1]"), "{}", run.stderr);
    assert!(run.stderr.contains("use https"), "{}", run.stderr);
    let base_url = sandbox.run(&["verify", "--base-url", "http://dashscope.aliyuncs.com"], None);
    base_url.expect_code(2);
    assert!(base_url.stderr.contains("unencrypted"), "{}", base_url.stderr);
}

#[test]
fn stdin_keys_are_cleaned_like_a_paste_and_bad_input_exits_2() {
    let world = World::new(valid_in("cn-hongkong"));
    let report = world
        .verify(&["--stdin", "--json"], Some(&format!("  \"{KEY}\"\r\n")))
        .expect_code(0)
        .json();
    assert_eq!(report["key"]["source"], "stdin");
    assert_eq!(report["accepted_in"], serde_json::json!(["cn-hongkong"]));
    for (input, message) in [
        ("YOUR_DASHSCOPE_API_KEY", "placeholder"),
        ("sk-abc def", "space or line break"),
        ("", "the key is empty"),
    ] {
        let run = world.verify(&["--stdin"], Some(input));
        run.expect_code(2);
        assert!(run.stderr.contains(message), "{input:?}: {}", run.stderr);
    }
    let too_long = "a".repeat(5000);
    world.verify(&["--stdin"], Some(&too_long)).expect_code(2);
    // Only the good key was sent: one request per region.
    assert!(world.servers.iter().all(|(_, server)| server.requests().len() == 1));
}

#[test]
fn a_padded_variable_is_checked_cleaned_with_a_warning() {
    let mut world = World::new(valid_in("cn-beijing"));
    world.sandbox.env("DASHSCOPE_API_KEY", format!(" {KEY}\r"));
    let run = world.verify(&[], None);
    run.expect_code(0);
    assert!(run.stderr.contains("warning:"), "{}", run.stderr);
    assert!(run.stderr.contains("spaces or line endings"), "{}", run.stderr);
    assert!(
        run.stdout.contains("That is the region the Python SDK is configured for"),
        "{}",
        run.stdout
    );
}

#[test]
fn no_key_anywhere_exits_1_and_says_where_it_looked() {
    let world = World::new(valid_in("cn-beijing"));
    let run = world.verify(&[], None);
    run.expect_code(1);
    assert!(run.stderr.contains("would find no API key"), "{}", run.stderr);
    assert!(run.stderr.contains("--stdin"), "{}", run.stderr);
    assert!(world.servers.iter().all(|(_, s)| s.requests().is_empty()));
}

#[test]
fn region_and_base_url_check_a_single_endpoint() {
    let mut world = World::new(valid_in("us-east-1"));
    world.sandbox.env("DASHSCOPE_API_KEY", KEY);
    let report = world.verify(&["--region", "us-east-1", "--json"], None).expect_code(0).json();
    assert_eq!(results(&report), ["us-east-1=accepted"]);
    assert_eq!(report["fix"], "dashkey region us-east-1");
    let run = world.verify(&["--region", "cn-beijing"], None);
    run.expect_code(1);
    assert!(run.stdout.contains("Other regions were not checked"), "{}", run.stdout);
    let unknown = world.verify(&["--region", "mars-north-1"], None);
    unknown.expect_code(2);
    assert!(unknown.stderr.contains("known regions: cn-beijing"), "{}", unknown.stderr);
    let url = world.server("us-east-1").compatible_url();
    let report = world.verify(&["--base-url", &url, "--json"], None).expect_code(0).json();
    assert_eq!(results(&report), ["custom=accepted"]);
    assert_eq!(report["regions"][0]["origin"], "base-url");
    world.verify(&["--region", "us-east-1", "--base-url", &url], None).expect_code(2);
}

#[test]
fn a_bad_timeout_setting_is_a_usage_error() {
    let mut world = World::new(valid_in("cn-beijing"));
    world.sandbox.env("DASHSCOPE_API_KEY", KEY).env("DASHKEY_HTTP_TIMEOUT_MS", "soon");
    let run = world.verify(&[], None);
    run.expect_code(2);
    assert!(run.stderr.contains("DASHKEY_HTTP_TIMEOUT_MS"), "{}", run.stderr);
}

/// The official CLI (`dashscope auth whoami`, run as `python -m dashscope.cli`) judges keys
/// through the fake exactly as dashkey does: authenticated for a good key, invalid for a bad one.
#[test]
fn the_official_python_sdk_agrees_with_the_fake() {
    let Some(python) = common::python_sdk() else { return };
    let world = World::new(valid_in("ap-southeast-1"));
    let singapore = world.server("ap-southeast-1");
    let whoami = |key: &str| -> Run {
        let mut command = world.sandbox.program(&python);
        command
            .args(["-m", "dashscope.cli", "auth", "whoami"])
            .env("DASHSCOPE_API_KEY", key)
            .env("DASHSCOPE_HTTP_BASE_URL", singapore.native_url());
        let run = Run::from(common::feed(command, None));
        world.sandbox.assert_no_secret(&run, &["python", "-m", "dashscope.cli", "auth", "whoami"]);
        run
    };
    let good = whoami(KEY);
    good.expect_code(0);
    assert!(good.stdout.contains("Authenticated"), "{}\n{}", good.stdout, good.stderr);
    let bad = whoami(OTHER_KEY);
    bad.expect_code(2);
    assert!(bad.stderr.contains("Invalid API key"), "{}", bad.stderr);
    assert!(bad.stderr.contains("InvalidApiKey"), "{}", bad.stderr);

    let requests = singapore.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.method, "GET");
        assert_eq!(request.target, "/api/v1/models?page_no=1&page_size=1");
    }
    assert!(requests[0].occurrences_outside_authorization(KEY).is_empty());

    // dashkey, pointed at the same native base URL, reaches the same two verdicts.
    let url = singapore.native_url();
    world.verify(&["--stdin", "--base-url", &url], Some(KEY)).expect_code(0);
    world.verify(&["--stdin", "--base-url", &url], Some(OTHER_KEY)).expect_code(1);
}

/// HTTPS_PROXY is honoured for public hosts: with a proxy that refuses connections, the real
/// Singapore host is never contacted directly and the failure is named as the proxy's. (Only
/// the loopback proxy port is touched.)
#[test]
fn a_refusing_proxy_is_reported_as_a_proxy_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut sandbox = Sandbox::new();
    sandbox.env("HTTPS_PROXY", format!("http://127.0.0.1:{port}"));
    let report = sandbox
        .run(&["verify", "--stdin", "--region", "ap-southeast-1", "--json"], Some(KEY))
        .expect_code(3)
        .json();
    let singapore = region(&report, "ap-southeast-1");
    assert_eq!(singapore["result"], "unreachable");
    assert_eq!(singapore["unreachable"], "proxy");
    assert_eq!(singapore["endpoint"], "https://dashscope-intl.aliyuncs.com");
}
