//! Online checks end when the answer is decided: a key works in one region, so once a region
//! has accepted it, `verify` gives the others a short grace and shows the silent ones as "no
//! answer yet", and `set` stops waiting at once. Against fake regions on loopback, one of
//! which stalls for far longer than any test may take.
//!
//! No test here measures time. Each run is bounded by a hang guard far shorter than the
//! stall (30 s of timeout against an 8 s guard), so a check that waits for the stalled
//! region fails the test instead of passing slowly.

mod common;

use std::time::Duration;

use common::world::World;
use common::{KEY, Run};
use fake_dashscope::{Builder, Fault};
use serde_json::Value;

/// Far longer than the guard: a run that waits for the stalled region is killed.
const STALL_TIMEOUT_MS: &str = "30000";
/// The hang guard of runs that must not wait for the stalled region.
const GUARD: Duration = Duration::from_secs(8);

/// Singapore accepts the key (after 300 ms), Beijing stalls, the others reject it.
fn singapore_accepts_beijing_stalls(region: &str, builder: Builder) -> Builder {
    match region {
        "ap-southeast-1" => {
            builder.valid_key(KEY).fault(Fault::Latency(Duration::from_millis(300)))
        }
        "cn-beijing" => builder.fault(Fault::Stall).stall_limit(Duration::from_secs(60)),
        _ => builder,
    }
}

fn results(report: &Value) -> Vec<String> {
    report["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}={}", r["region"].as_str().unwrap(), r["result"].as_str().unwrap()))
        .collect()
}

fn verify(world: &World, args: &[&str], limit: Duration) -> Run {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    let run = world.sandbox.run_within(&all, None, limit);
    world.sandbox.assert_no_secret(&run, &all);
    run
}

#[test]
fn verify_shows_a_stalled_region_as_no_answer_yet_once_another_accepted() {
    let mut world = World::new(singapore_accepts_beijing_stalls);
    world.sandbox.env("DASHSCOPE_API_KEY", KEY).env("DASHKEY_HTTP_TIMEOUT_MS", STALL_TIMEOUT_MS);

    let report = verify(&world, &["--json"], GUARD).expect_code(0).json();
    assert_eq!(
        results(&report),
        [
            "cn-beijing=pending",
            "ap-southeast-1=accepted",
            "us-east-1=rejected",
            "cn-hongkong=rejected"
        ]
    );
    assert_eq!(report["verdict"], "accepted");
    assert_eq!(report["accepted_in"], serde_json::json!(["ap-southeast-1"]));
    assert_eq!(report["pending"], serde_json::json!(["cn-beijing"]));
    let beijing = &report["regions"][0];
    assert_eq!(beijing["accepted"], false);
    assert_eq!(beijing["status"], Value::Null);
    assert_eq!(beijing["unreachable"], Value::Null, "a pending region is not unreachable");
    assert_eq!(report["fix"], "dashkey region ap-southeast-1");

    let run = verify(&world, &[], GUARD);
    run.expect_code(0);
    let beijing_row = run
        .stdout
        .lines()
        .find(|line| line.split_whitespace().nth(1) == Some("cn-beijing"))
        .unwrap();
    assert!(beijing_row.contains("no answer yet"), "{}", run.stdout);
    assert!(!beijing_row.contains("unreachable"), "{}", run.stdout);
    assert!(run.stdout.contains("The key works in Singapore (ap-southeast-1)"), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "Stopped waiting 400 ms after the key was accepted; no answer yet from cn-beijing"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("--wait-all"), "{}", run.stdout);
    // The configured region did not answer: nothing may say that it rejects the key.
    assert!(!run.stdout.contains("rejects it"), "{}", run.stdout);
    assert!(run.stdout.contains("which had not answered"), "{}", run.stdout);
    assert_eq!(report["configured_region_accepts"], Value::Null);
}

#[test]
fn wait_all_waits_for_the_stalled_region_to_time_out() {
    let mut world = World::new(singapore_accepts_beijing_stalls);
    // A short timeout, so that waiting for it fits in the guard.
    world.sandbox.env("DASHSCOPE_API_KEY", KEY).env("DASHKEY_HTTP_TIMEOUT_MS", "1500");
    let report =
        verify(&world, &["--json", "--wait-all"], Duration::from_secs(60)).expect_code(0).json();
    assert_eq!(
        results(&report),
        [
            "cn-beijing=unreachable",
            "ap-southeast-1=accepted",
            "us-east-1=rejected",
            "cn-hongkong=rejected"
        ]
    );
    assert_eq!(report["regions"][0]["unreachable"], "timeout");
    assert_eq!(report["pending"], serde_json::json!([]));
    let run = verify(&world, &["--wait-all"], Duration::from_secs(60));
    assert!(!run.stdout.contains("no answer yet"), "{}", run.stdout);
    assert!(!run.stdout.contains("Stopped waiting"), "{}", run.stdout);
}

#[test]
fn rejections_do_not_end_the_check_only_an_acceptance_does() {
    // Nobody accepts: the stalled region may hold the key, so verify waits for its timeout.
    let mut world = World::new(|region, builder| match region {
        "cn-beijing" => builder.fault(Fault::Stall).stall_limit(Duration::from_secs(60)),
        _ => builder,
    });
    world.sandbox.env("DASHSCOPE_API_KEY", KEY).env("DASHKEY_HTTP_TIMEOUT_MS", "1500");
    let report = verify(&world, &["--json"], Duration::from_secs(60)).expect_code(1).json();
    assert_eq!(report["verdict"], "rejected");
    assert_eq!(report["regions"][0]["result"], "unreachable");
    assert_eq!(report["pending"], serde_json::json!([]));
}

#[test]
fn set_stops_waiting_once_a_region_accepted_the_key() {
    let mut world = World::new(singapore_accepts_beijing_stalls);
    world.sandbox.env("DASHKEY_HTTP_TIMEOUT_MS", STALL_TIMEOUT_MS);
    let args = ["set", "--stdin", "--shell", "bash"];
    let run = world.sandbox.run_within(&args, Some(KEY), GUARD);
    world.sandbox.assert_no_secret(&run, &args);
    run.expect_code(0);
    assert!(run.stderr.contains("accepts the key in ap-southeast-1"), "{}", run.stderr);
    assert!(!run.stderr.contains("could not reach"), "{}", run.stderr);
    let singapore = world.server("ap-southeast-1").url();
    let env = String::from_utf8(world.sandbox.read(".config/dashkey/env.sh")).unwrap();
    assert!(env.contains(&format!("export DASHSCOPE_HTTP_BASE_URL='{singapore}/api/v1'")), "{env}");
}
