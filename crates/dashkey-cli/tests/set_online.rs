//! `dashkey set` checks the key with DashScope before storing it, and writes the region that
//! accepted it; `dashkey region` moves the stored key to another region. Against fake
//! regions on loopback (the one stand-in), with real shells reading the result.

mod common;

use common::world::World;
use common::{KEY, Sandbox, snapshot, tool};
use fake_dashscope::Builder;

fn valid_in(region: &'static str) -> impl Fn(&str, Builder) -> Builder {
    move |r, builder| if r == region { builder.valid_key(KEY) } else { builder }
}

fn env_sh(sandbox: &Sandbox) -> String {
    String::from_utf8(sandbox.read(".config/dashkey/env.sh")).unwrap()
}

#[test]
fn set_finds_the_region_online_and_writes_its_base_urls() {
    let world = World::new(valid_in("ap-southeast-1"));
    let run = world.sandbox.run(&["set", "--stdin", "--shell", "bash"], Some(KEY));
    run.expect_code(0);
    assert!(run.stderr.contains("accepts the key in ap-southeast-1"), "{}", run.stderr);
    let singapore = world.server("ap-southeast-1").url();
    let env = env_sh(&world.sandbox);
    assert!(env.contains(&format!("export DASHSCOPE_HTTP_BASE_URL='{singapore}/api/v1'")), "{env}");
    assert!(
        env.contains(&format!("DASHSCOPE_COMPATIBLE_BASE_URL='{singapore}/compatible-mode/v1'"))
    );
    // Exactly one request per region reached the fakes, each with the key only in its header.
    for (_, server) in &world.servers {
        assert!(
            server.requests().iter().all(|r| r.occurrences_outside_authorization(KEY).is_empty())
        );
    }
    if let Some(bash) = tool("bash") {
        let out = world
            .sandbox
            .program(&bash)
            .args(["-l", "-c", "printf %s \"$DASHSCOPE_HTTP_BASE_URL\""])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{singapore}/api/v1"));
    }
}

#[test]
fn a_key_rejected_everywhere_is_not_stored() {
    let world = World::new(|_, builder| builder);
    let before = snapshot(world.sandbox.root());
    let run = world.sandbox.run(&["set", "--stdin"], Some(KEY));
    run.expect_code(1);
    assert!(run.stderr.contains("rejected this key in every region"), "{}", run.stderr);
    assert_eq!(snapshot(world.sandbox.root()), before);
}

#[test]
fn asking_for_the_wrong_region_is_refused_with_the_right_one() {
    let world = World::new(valid_in("ap-southeast-1"));
    let before = snapshot(world.sandbox.root());
    let run = world.sandbox.run(&["set", "--stdin", "--region", "us-east-1"], Some(KEY));
    run.expect_code(1);
    assert!(run.stderr.contains("--region ap-southeast-1"), "{}", run.stderr);
    assert_eq!(snapshot(world.sandbox.root()), before);
}

#[test]
fn an_unreachable_service_warns_and_stores_the_key_unchecked() {
    let mut sandbox = Sandbox::new();
    // Every region points at a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config: String = common::world::REGIONS
        .iter()
        .map(|r| format!("[regions.{r}]\nendpoint = \"http://127.0.0.1:{closed}\"\n"))
        .collect();
    sandbox.write(".config/dashkey/config.toml", config);
    sandbox.env("DASHKEY_HTTP_TIMEOUT_MS", "2000");
    let run = sandbox.run(&["set", "--stdin", "--no-modify-rc"], Some(KEY));
    run.expect_code(0);
    assert!(run.stderr.contains("could not reach DashScope"), "{}", run.stderr);
    assert!(!run.stderr.to_lowercase().contains("invalid"));
    assert_eq!(String::from_utf8(sandbox.read(".dashscope/api_key")).unwrap(), format!("{KEY}\n"));
}

#[test]
fn region_moves_the_stored_key_and_verify_stops_complaining() {
    let world = World::new(valid_in("cn-hongkong"));
    let sandbox = &world.sandbox;
    // Stored for the wrong region without checking, as a user following old advice would.
    sandbox
        .run(
            &["set", "--stdin", "--offline", "--region", "us-east-1", "--shell", "bash"],
            Some(KEY),
        )
        .expect_code(0);
    let bashrc = sandbox.read(".bashrc");
    let verify = sandbox.run(&["verify"], None);
    verify.expect_code(0);
    assert!(verify.stdout.contains("dashkey region cn-hongkong"), "{}", verify.stdout);

    sandbox.run(&["region", "cn-hongkong"], None).expect_code(0);
    let hongkong = world.server("cn-hongkong").url();
    assert!(env_sh(sandbox).contains(&format!("DASHSCOPE_HTTP_BASE_URL='{hongkong}/api/v1'")));
    assert_eq!(sandbox.read(".bashrc"), bashrc, "a region change touches only dashkey's files");
    assert_eq!(sandbox.run(&["region"], None).stdout.trim(), "cn-hongkong");
    assert_eq!(sandbox.run(&["region", "--json"], None).json()["region"], "cn-hongkong");
    // This process loaded nothing: it still calls the default region, and the fix is to
    // load what is stored (a second `dashkey region` would change nothing).
    let verify = sandbox.run(&["verify", "--json"], None).json();
    assert_eq!(verify["configured"]["stored_region"], "cn-hongkong");
    assert_eq!(verify["configured_region_accepts"], false);
    assert_eq!(verify["fix"], ". \"$HOME/.config/dashkey/env.sh\"");
    let bin = common::dashkey_bin();
    let loaded =
        sandbox.run(&["run", "--", bin.to_str().unwrap(), "verify", "--json"], None).json();
    assert_eq!(loaded["configured_region_accepts"], true);
    assert_eq!(loaded["fix"], serde_json::Value::Null);
}

#[test]
fn region_without_a_stored_key_says_so() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["region", "ap-southeast-1"], None);
    run.expect_code(1);
    assert!(run.stderr.contains("dashkey set"), "{}", run.stderr);
    let run = sandbox.run(&["region", "mars-1"], None);
    run.expect_code(2);
    assert!(run.stderr.contains("unknown region 'mars-1'"));
}
