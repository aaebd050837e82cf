//! What `status` may cost: it starts no process. The crontab (the one input only a program
//! can read) is left to `doctor`, and the cron row says so with `?` marks instead of a
//! verdict made without it. Counted with `strace -f -e trace=execve`: the only successful
//! execve of a `status` run is its own, in a home with a cron hand-off and in one without.
//!
//! And `doctor --online` ends when the answer is decided, like `verify`: a stalled region
//! is "no answer yet" once another accepted the key. That run is bounded by a hang guard far
//! shorter than the stall's timeout, so waiting for the stalled region fails the test; no
//! test here measures time.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::world::World;
use common::{KEY, Sandbox};
use fake_dashscope::{Builder, Fault};

/// The programs a `dashkey ARGS` run started (successful execve calls, its own first), and
/// its stdout.
fn execs(sandbox: &Sandbox, args: &[&str]) -> (Vec<String>, String) {
    let log = format!("execve-{}.log", args.join("-"));
    common::traced_execs(sandbox, &common::dashkey_bin(), args, None, &log).unwrap_or_default()
}

fn assert_only_itself(started: &[String], context: &str) {
    if started.is_empty() && !common::required() {
        return;
    }
    assert_eq!(started.len(), 1, "{context}: status started other programs: {started:?}");
    assert_eq!(
        Path::new(&started[0]).file_name(),
        common::dashkey_bin().file_name(),
        "{context}: {started:?}"
    );
}

/// The cron row of `status --json`: no verdict, a reason naming `doctor`.
fn assert_cron_row_left_to_doctor(sandbox: &Sandbox) {
    let report = sandbox.run(&["status", "--json"], None).json();
    let cron = report["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["context"] == "cron")
        .expect("a cron row")
        .clone();
    assert!(cron["key"].is_null(), "{cron}");
    assert!(cron["region"].is_null(), "{cron}");
    assert_eq!(cron["coverage"]["state"], "partial", "{cron}");
    assert!(cron["coverage"]["reason"].as_str().unwrap().contains("dashkey doctor"), "{cron}");
    let text = sandbox.run(&["status"], None).stdout;
    let row = text.lines().find(|l| l.trim_start().starts_with("cron")).expect("cron row");
    assert!(row.contains("? key") && row.contains("? region"), "{text}");
}

#[test]
fn status_starts_no_program_in_a_home_with_a_cron_hand_off() {
    let mut sandbox = Sandbox::new();
    common::fake_crontab(&mut sandbox, "*/5 * * * * python3 /srv/job.py\n");
    sandbox
        .run(&["set", "--stdin", "--offline", "--region", "ap-southeast-1"], Some(KEY))
        .expect_code(0);
    sandbox.run(&["service", "install", "--cron"], None).expect_code(0);
    let spool = std::fs::read_to_string(sandbox.root().join("spool")).unwrap();
    assert!(spool.contains("DASHSCOPE_HTTP_BASE_URL"), "no hand-off was made:\n{spool}");

    let (started, stdout) = execs(&sandbox, &["status"]);
    assert_only_itself(&started, "with a cron hand-off");
    assert!(stdout.contains("cron"), "{stdout}");
    assert_cron_row_left_to_doctor(&sandbox);

    // The count sees programs when there are some: doctor still reads the crontab.
    let (started, _) = execs(&sandbox, &["doctor"]);
    if common::tool("strace").is_some() {
        assert!(
            started.iter().any(|p| p.ends_with("/crontab")),
            "doctor no longer reads the crontab: {started:?}"
        );
    }
}

#[test]
fn status_starts_no_program_in_a_home_without_a_hand_off() {
    let mut sandbox = Sandbox::new();
    common::fake_crontab(&mut sandbox, "*/5 * * * * python3 /srv/job.py\n");
    sandbox.run(&["set", "--stdin", "--offline"], Some(KEY)).expect_code(0);
    let (started, stdout) = execs(&sandbox, &["status"]);
    assert_only_itself(&started, "without a hand-off");
    assert!(stdout.contains("cron"), "{stdout}");
    let (started, _) = execs(&sandbox, &["status", "--json"]);
    assert_only_itself(&started, "status --json without a hand-off");
    assert_cron_row_left_to_doctor(&sandbox);
}

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

#[test]
fn doctor_online_stops_waiting_for_a_stalled_region_once_another_accepted() {
    let mut world = World::new(singapore_accepts_beijing_stalls);
    // 30 s of timeout against an 8 s guard: a doctor that waits for Beijing is killed.
    world.sandbox.env("DASHSCOPE_API_KEY", KEY).env("DASHKEY_HTTP_TIMEOUT_MS", "30000");
    let args = ["doctor", "--online", "--json"];
    let run = world.sandbox.run_within(&args, None, Duration::from_secs(8));
    world.sandbox.assert_no_secret(&run, &args);
    assert_ne!(run.code, -1, "doctor --online was killed waiting for the stalled region");
    let report = run.json();
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "region-mismatch")
        .unwrap_or_else(|| panic!("no region finding: {report}"))
        .clone();
    // The SDKs call Beijing by default: the key's region is still found and named.
    assert_eq!(finding["severity"], "fail", "{finding}");
    assert_eq!(finding["fix"], "dashkey region ap-southeast-1", "{finding}");
    let detail = finding["detail"].as_str().unwrap();
    assert!(detail.contains("No answer yet from cn-beijing"), "{finding}");
    assert!(!detail.contains("us-east-1"), "a region that answered is not pending: {finding}");
}
