//! The leak test: every subcommand, with `--help`, `--json` and `--dry-run`, given a key-like
//! argument in every position (bare, `--opt key`, `--opt=key`, attached to a short option,
//! inside a longer argument, after `--`), must never print that key; and the ordinary
//! commands (set, status, doctor, verify, export, service and unset dry runs) must never print
//! a key in clear, neither the stored one nor other people's secrets in the files they show.

// Unix only: these tests use unix modes, owners, links, devices or signals (std::os::unix).
#![cfg(unix)]

mod common;

use common::world::World;
use common::{KEY, Sandbox, run_bounded};

/// Keys given as arguments: never the stored one, so that commands whose job is to print the
/// stored key (`env`, `export`) can still be grepped.
const ARGUMENT_KEYS: [&str; 3] = [
    "sk-7e1d2c3b4a5968778695a4b3c2d1e0f9",
    "sk-sp-a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "sk-ws-H.ABCDEFG.9XYZ.0a1b2c3d4e5f6a7b8c9d_-QRS",
];

/// Other people's secrets, in the context of files dashkey shows in a diff.
const QWEN_KEY: &str = "sk-a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5";
const AWS_SECRET: &str = "wJalrXUtnFEMI0K7MDENGbPxRfiCYEXAMPLEKEY0x9";
const OTHER_TOKEN: &str = "ghp_0123456789abcdefABCDEF0123456789abcd";

/// The body of a key: what must not appear (the prefix alone may).
fn body(key: &str) -> &str {
    &key[key.len() - 24..]
}

fn stored() -> Sandbox {
    let sandbox = Sandbox::new();
    run_bounded(&sandbox, &["set", "--offline", "--stdin", "--no-modify-rc"], Some(KEY))
        .expect_code(0);
    sandbox
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[test]
fn no_subcommand_repeats_a_key_like_argument_in_any_position() {
    let sandbox = stored();
    // Each subcommand with the options that take a value.
    let commands: [(&[&str], &[&str]); 15] = [
        (&["set"], &["--shell", "--region", "--key"]),
        (&["region"], &[]),
        (&["run"], &["--region"]),
        (&["sudo"], &["-u"]),
        (&["export"], &["--format", "--output", "--name", "--namespace", "-f"]),
        (&["service", "install"], &["--systemd", "--supervisord", "--root", "-c"]),
        (&["service", "uninstall"], &["--systemd", "--supervisord"]),
        (&["service", "list"], &[]),
        (&["unset"], &[]),
        (&["env"], &["--shell"]),
        (&["status"], &[]),
        (&["verify"], &["--region", "--base-url"]),
        (&["doctor"], &["--systemd", "--supervisord", "--pid", "-c"]),
        (&["completions"], &[]),
        (&["man"], &[]),
    ];
    let mut runs = 0;
    for (command, options) in commands {
        for extra in [&[][..], &["--help"], &["--json"], &["--dry-run"]] {
            for key in ARGUMENT_KEYS {
                let opt_eq: Vec<String> =
                    options.iter().chain(&["--bogus"]).map(|o| format!("{o}={key}")).collect();
                let inside = [format!("DASHSCOPE_API_KEY={key}"), format!("app,{key}")];
                let mut positions: Vec<Vec<String>> = vec![vec![key.to_string()]];
                for option in options.iter().chain(&["--bogus"]) {
                    positions.push(vec![option.to_string(), key.to_string()]);
                }
                positions.extend(opt_eq.iter().map(|a| vec![a.clone()]));
                positions.extend(inside.iter().map(|a| vec![a.clone()]));
                positions.push(vec![format!("-x{key}")]);
                // After `--`, `run` and `sudo` start a command of that name: it must fail
                // without the key in the message (sudo as non-root would ask for a password).
                if command != ["sudo"] || is_root() {
                    positions.push(vec!["--".to_string(), key.to_string()]);
                }
                for position in positions {
                    let mut args: Vec<&str> = command.to_vec();
                    args.extend(extra.iter());
                    args.extend(position.iter().map(String::as_str));
                    let run = run_bounded(&sandbox, &args, None);
                    runs += 1;
                    for text in [&run.stdout, &run.stderr] {
                        assert!(
                            !text.contains(body(key)),
                            "dashkey {args:?} repeated the key:\n{}\n{}",
                            run.stdout,
                            run.stderr
                        );
                    }
                    if extra != ["--help"] {
                        assert_ne!(run.code, 0, "dashkey {args:?} accepted a key argument");
                    }
                }
            }
        }
    }
    eprintln!("leak test: {runs} runs, no key repeated");
}

#[test]
fn a_key_as_an_argument_is_refused_with_exit_2_and_the_way_to_pipe_it() {
    let sandbox = Sandbox::new();
    let key = ARGUMENT_KEYS[0];
    for args in [
        vec!["verify", key],
        vec!["status", key],
        vec!["run", key],
        vec!["export", "--format", key],
        vec!["set", "--shell", key],
        vec!["doctor", "--systemd", key],
        vec!["verify", "--", key],
        vec!["export", &format!("-f{key}")],
        vec!["doctor", &format!("--systemd=app,{key}")],
    ]
    .iter()
    .map(|a| a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = run_bounded(&sandbox, &args, None);
        run.expect_code(2);
        assert!(
            run.stderr.contains("refusing to take the key from the command line"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("--stdin"), "{}", run.stderr);
        assert!(!run.stderr.contains(body(key)), "{}", run.stderr);
    }
}

/// A home with other people's secrets where dashkey's diffs show them as context.
fn home_with_other_secrets(sandbox: &Sandbox) -> std::path::PathBuf {
    sandbox.write(
        ".bashrc",
        format!(
            "alias ll='ls -l'\nexport AWS_SECRET_ACCESS_KEY=\"{AWS_SECRET}\"\n\
             export QWEN_API_KEY={QWEN_KEY}\nexport GITHUB_TOKEN='{OTHER_TOKEN}'\n"
        ),
    );
    sandbox.write(
        "supervisord.conf",
        format!(
            "[supervisord]\nlogfile=/tmp/x.log\n\n[program:b]\ncommand=/bin/true\n\n\
             [program:a]\nenvironment=QWEN_API_KEY=\"{QWEN_KEY}\",GITHUB_TOKEN=\"{OTHER_TOKEN}\"\n\
             command=/bin/true\n"
        ),
    )
}

fn assert_clean(run: &common::Run, what: &str) {
    for secret in [KEY, QWEN_KEY, AWS_SECRET, OTHER_TOKEN] {
        for text in [&run.stdout, &run.stderr] {
            assert!(!text.contains(body(secret)), "{what} printed a secret:\n{text}");
        }
    }
}

#[test]
fn service_uninstall_dry_run_masks_the_key() {
    let sandbox = stored();
    run_bounded(&sandbox, &["service", "install", "--systemd", "app", "--user"], None)
        .expect_code(0);
    let run = run_bounded(
        &sandbox,
        &["service", "uninstall", "--systemd", "app", "--user", "--dry-run"],
        None,
    );
    run.expect_code(0);
    assert!(run.stdout.contains("DASHSCOPE_API_KEY="), "{}", run.stdout);
    assert!(run.stdout.contains("sk-…5b6c"), "{}", run.stdout);
    assert_clean(&run, "service uninstall --dry-run");
}

#[test]
fn diffs_mask_other_peoples_secrets_in_their_context() {
    let sandbox = Sandbox::new();
    let conf = home_with_other_secrets(&sandbox);
    let conf = conf.to_str().unwrap();
    let set = run_bounded(&sandbox, &["set", "--offline", "--stdin", "--dry-run"], Some(KEY));
    set.expect_code(0);
    assert!(set.stdout.contains("QWEN_API_KEY=sk-…c4d5"), "{}", set.stdout);
    assert_clean(&set, "set --dry-run");
    run_bounded(&sandbox, &["set", "--offline", "--stdin"], Some(KEY)).expect_code(0);
    for args in [
        vec!["service", "install", "--supervisord", "b", "-c", conf, "--dry-run"],
        vec!["unset", "--dry-run"],
        vec!["region", "us-east-1", "--dry-run"],
    ] {
        let run = run_bounded(&sandbox, &args, None);
        run.expect_code(0);
        assert_clean(&run, &format!("{args:?}"));
    }
    let install = run_bounded(
        &sandbox,
        &["service", "install", "--supervisord", "b", "-c", conf, "--dry-run"],
        None,
    );
    assert!(
        install.stdout.contains("QWEN_API_KEY=\"sk-…c4d5\",GITHUB_TOKEN=\"…abcd\""),
        "{}",
        install.stdout
    );
}

#[test]
fn ordinary_commands_never_print_a_key_in_clear() {
    let mut world =
        World::new(
            |region, builder| {
                if region == "ap-southeast-1" { builder.valid_key(KEY) } else { builder }
            },
        );
    let conf = home_with_other_secrets(&world.sandbox);
    let conf = conf.to_str().unwrap().to_string();
    let sandbox = &world.sandbox;
    let mut runs = Vec::new();
    runs.push(("set", run_bounded(sandbox, &["set", "--stdin"], Some(KEY))));
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["doctor"],
        &["doctor", "--json"],
        &["verify"],
        &["verify", "--json"],
        &["export", "--format", "github-actions"],
        &["service", "install", "--systemd", "app", "--user", "--dry-run"],
        &["service", "install", "--supervisord", "b", "-c", &conf, "--dry-run"],
        &["service", "list"],
        &["unset", "--dry-run"],
        &["region", "--json"],
    ] {
        runs.push(("command", run_bounded(sandbox, args, None)));
    }
    for (what, run) in &runs {
        assert_clean(run, what);
    }
    // What the verify run saw is the healthy case: the key was accepted.
    world.sandbox.env("DASHSCOPE_API_KEY", KEY);
    let verify = world.verify(&[], None);
    verify.expect_code(0);
    assert_clean(&verify, "verify");
}

/// The findings of `doctor --json` with this id, as (severity, title).
fn findings(sandbox: &Sandbox, id: &str) -> Vec<(String, String)> {
    let run = run_bounded(sandbox, &["doctor", "--json"], None);
    assert_clean(&run, "doctor --json");
    run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .map(|f| (f["severity"].as_str().unwrap().into(), f["title"].as_str().unwrap().into()))
        .collect()
}

fn git(sandbox: &Sandbox, args: &[&str]) {
    let status = sandbox
        .program("git")
        .args(args)
        .current_dir(&sandbox.home)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[test]
fn doctor_flags_a_copy_of_the_key_that_git_tracks_or_would_commit() {
    if common::tool("git").is_none() {
        return;
    }
    let sandbox = stored();
    // The healthy twin first: no repository, no finding.
    assert_eq!(findings(&sandbox, "key-in-git"), []);

    // A dotfiles repository at ~: the SDK key file is inside it and not ignored.
    git(&sandbox, &["init", "-q"]);
    let found = findings(&sandbox, "key-in-git");
    assert!(
        found.contains(&(
            "warn".into(),
            "~/.dashscope/api_key holds the key inside the git work tree ~ and is not ignored"
                .into()
        )),
        "{found:?}"
    );

    // Staged (tracked) is a failure, whatever .gitignore says.
    sandbox.write(".gitignore", "/.dashscope/\n/.config/dashkey/\n");
    git(&sandbox, &["add", "-f", ".config/dashkey/env.sh"]);
    let found = findings(&sandbox, "key-in-git");
    assert_eq!(
        found,
        [(
            "fail".to_string(),
            "~/.config/dashkey/env.sh holds the key and is tracked by the git repository ~"
                .to_string()
        )]
    );

    // Ignored and untracked: healthy again.
    git(&sandbox, &["rm", "-q", "--cached", ".config/dashkey/env.sh"]);
    assert_eq!(findings(&sandbox, "key-in-git"), []);
}

#[test]
fn a_git_repository_in_config_only_is_found_too() {
    if common::tool("git").is_none() {
        return;
    }
    let sandbox = stored();
    let config = sandbox.home.join(".config");
    let status = sandbox.program("git").args(["init", "-q"]).current_dir(&config).status().unwrap();
    assert!(status.success());
    let status = sandbox
        .program("git")
        .args(["add", "-f", "dashkey/env.sh"])
        .current_dir(&config)
        .status()
        .unwrap();
    assert!(status.success());
    let found = findings(&sandbox, "key-in-git");
    assert!(
        found.contains(&(
            "fail".into(),
            "~/.config/dashkey/env.sh holds the key and is tracked by the git repository ~/.config"
                .into()
        )),
        "{found:?}"
    );
    assert!(!found.iter().any(|(_, title)| title.contains(".dashscope")), "{found:?}");
}
