//! Concurrent `set`, `unset` and `region` take turns: after any mix of them followed by one
//! `unset`, no key and nothing of dashkey's is left anywhere under HOME.

mod common;

use std::thread;

use common::{KEY, OTHER_KEY, Sandbox, dashkey_leftovers, file_contents};

const RUNS: usize = 32;
const ROUNDS: usize = 12;

/// The arguments and input of the i-th concurrent run: a mix of sets with two keys (some
/// with a region, some without hooks), unsets and region changes.
fn job(i: usize) -> (Vec<&'static str>, Option<&'static str>) {
    match i % 6 {
        0 => (vec!["set", "--stdin", "--offline"], Some(KEY)),
        1 => (vec!["unset"], None),
        2 => (vec!["set", "--stdin", "--offline", "--region", "ap-southeast-1"], Some(OTHER_KEY)),
        3 => (vec!["region", "us-east-1"], None),
        4 => (vec!["set", "--stdin", "--offline", "--gui"], Some(KEY)),
        _ => (vec!["unset"], None),
    }
}

fn storm(sandbox: &Sandbox) {
    thread::scope(|scope| {
        let handles: Vec<_> = (0..RUNS)
            .map(|i| {
                scope.spawn(move || {
                    let (args, stdin) = job(i);
                    (args.clone(), sandbox.run_bounded(&args, stdin))
                })
            })
            .collect();
        for handle in handles {
            let (args, run) = handle.join().unwrap();
            // `region` without a stored key says so (exit 1); nothing else may fail.
            let allowed: &[i32] = if args[0] == "region" { &[0, 1] } else { &[0] };
            assert!(
                allowed.contains(&run.code),
                "concurrent dashkey {args:?} failed ({}):\n{}\n{}",
                run.code,
                run.stdout,
                run.stderr
            );
        }
    });
}

fn final_unset_leaves_nothing(sandbox: &Sandbox, round: usize) {
    sandbox.run_bounded(&["unset"], None).expect_code(0);
    let leftovers = dashkey_leftovers(&sandbox.home);
    assert!(leftovers.is_empty(), "round {round}: after the final unset: {leftovers:#?}");
}

#[test]
fn concurrent_runs_in_a_fresh_home_leave_nothing_after_one_unset() {
    for round in 0..ROUNDS {
        let sandbox = Sandbox::new();
        storm(&sandbox);
        final_unset_leaves_nothing(&sandbox, round);
    }
}

#[test]
fn concurrent_runs_in_an_existing_home_leave_its_files_as_they_were() {
    for round in 0..ROUNDS {
        let sandbox = Sandbox::new();
        sandbox.write(".bashrc", "# my bashrc\nalias ll='ls -l'\n");
        sandbox.write(".profile", "export PATH=\"$HOME/bin:$PATH\"");
        sandbox.write(".zshrc", "setopt autocd\n");
        sandbox.write(".config/fish/config.fish", "set -g fish_greeting\n");
        sandbox.write(".config/other/settings.ini", "[a]\nb=c\n");
        // A key of the user's own in the SDK key file: it comes back after unset.
        sandbox.write(".dashscope/api_key", "sk-userown0123456789abcdef01234567\n");
        let before = file_contents(&sandbox.home);
        // Half the rounds start from a home where dashkey is already set.
        if round % 2 == 1 {
            sandbox.run_bounded(&["set", "--stdin", "--offline"], Some(KEY)).expect_code(0);
        }
        storm(&sandbox);
        sandbox.run_bounded(&["unset"], None).expect_code(0);
        let after = file_contents(&sandbox.home);
        assert_eq!(
            after.keys().collect::<Vec<_>>(),
            before.keys().collect::<Vec<_>>(),
            "round {round}: the same files"
        );
        for (path, bytes) in &before {
            assert_eq!(
                String::from_utf8_lossy(&after[path]),
                String::from_utf8_lossy(bytes),
                "round {round}: {} is back byte for byte",
                path.display()
            );
        }
    }
}
