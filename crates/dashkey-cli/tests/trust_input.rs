//! Bad input, wrong homes and hostile configuration, through the real binary: what cannot be
//! a key is refused by name with nothing written; plain http goes only to a parsed loopback
//! host; `dashkey sudo` never hands over the whole environment; a writing command never runs
//! in a home it would break; messages say exactly what is wrong.

// Unix only: these tests use unix modes, owners, links, devices or signals (std::os::unix).
#![cfg(unix)]

mod common;

use common::{KEY, Sandbox, run_bounded, snapshot};

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[test]
fn a_pasted_line_or_a_fragment_is_refused_by_name_and_nothing_is_written() {
    let cases = [
        (
            format!("DASHSCOPE_API_KEY={KEY}"),
            "you pasted the whole line `DASHSCOPE_API_KEY=…`; paste only the key",
        ),
        (
            format!("export DASHSCOPE_API_KEY={KEY}\n"),
            "you pasted the whole line `export DASHSCOPE_API_KEY=…`; paste only the key",
        ),
        ("-".to_string(), "this cannot be a key: it starts with '-'"),
        ("=x".to_string(), "this cannot be a key: it starts with '='"),
        ("--x".to_string(), "this cannot be a key: it starts with '-'"),
    ];
    for (input, message) in cases {
        let sandbox = Sandbox::new();
        let before = snapshot(&sandbox.home);
        let run = run_bounded(&sandbox, &["set", "--offline", "--stdin"], Some(&input));
        run.expect_code(2);
        assert!(run.stderr.contains(message), "{input:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains(&KEY[3..]) && !run.stdout.contains(&KEY[3..]),
            "{}",
            run.stderr
        );
        assert_eq!(snapshot(&sandbox.home), before, "{input:?} changed files");
    }
}

#[test]
fn every_documented_key_shape_is_still_stored() {
    for key in [
        KEY,
        "sk-sp-0123456789abcdef0123456789abcdef",
        "sk-ws-H.ABCDEFG.HIJK.0123456789abcdef_-ABCDEF",
        "st-0123456789abcdef0123456789abcdef",
    ] {
        let sandbox = Sandbox::new();
        let run =
            run_bounded(&sandbox, &["set", "--offline", "--stdin", "--no-modify-rc"], Some(key));
        run.expect_code(0);
        assert_eq!(String::from_utf8(sandbox.read(".dashscope/api_key")).unwrap().trim_end(), key);
    }
}

#[test]
fn a_byte_order_mark_is_called_a_byte_order_mark() {
    let sandbox = Sandbox::new();
    let run = run_bounded(
        &sandbox,
        &["set", "--offline", "--stdin", "--no-modify-rc"],
        Some(&format!("\u{feff}{KEY}")),
    );
    run.expect_code(0);
    assert!(
        run.stderr.contains(
            "note: removed a byte-order mark (BOM, added by some Windows editors) before the key"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("spaces"), "{}", run.stderr);
    sandbox.write(".dashscope/api_key", format!("\u{feff}{KEY}"));
    let doctor = run_bounded(&sandbox, &["doctor"], None);
    assert!(
        doctor
            .stdout
            .contains("the key in ~/.dashscope/api_key starts with a byte-order mark (BOM)"),
        "{}",
        doctor.stdout
    );
    let status = run_bounded(&sandbox, &["status"], None);
    assert!(
        status
            .stdout
            .contains("the value starts with a byte-order mark (BOM), which is not part of a key"),
        "{}",
        status.stdout
    );
    assert!(!status.stdout.contains("spaces"), "{}", status.stdout);
}

#[test]
fn plain_http_goes_only_to_a_host_that_parses_as_loopback() {
    for endpoint in
        ["http://127.0.0.1.evil.com", "http://localhost.evil.com:8080", "http://[::1].evil.com"]
    {
        let sandbox = Sandbox::new();
        sandbox.write(
            ".config/dashkey/config.toml",
            format!("[regions.x]\nendpoint = \"{endpoint}\"\n"),
        );
        let before = snapshot(&sandbox.home);
        let run =
            run_bounded(&sandbox, &["set", "--offline", "--stdin", "--region", "x"], Some(KEY));
        assert_ne!(run.code, 0, "{endpoint} was accepted:\n{}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("config.toml"), "{}", run.stderr);
        assert_eq!(snapshot(&sandbox.home), before, "{endpoint}: files changed");
    }
    // The healthy twin: a real loopback address is accepted and written.
    let sandbox = Sandbox::new();
    sandbox
        .write(".config/dashkey/config.toml", "[regions.x]\nendpoint = \"http://127.0.0.2:9\"\n");
    let run = run_bounded(&sandbox, &["set", "--offline", "--stdin", "--region", "x"], Some(KEY));
    run.expect_code(0);
    let env = String::from_utf8(sandbox.read(".config/dashkey/env.sh")).unwrap();
    assert!(env.contains("http://127.0.0.2:9/api/v1"), "{env}");
}

#[test]
fn sudo_refuses_to_hand_over_the_whole_environment() {
    let Some(_) = common::tool("sudo") else { return };
    let sandbox = Sandbox::new();
    run_bounded(&sandbox, &["set", "--offline", "--stdin", "--no-modify-rc"], Some(KEY))
        .expect_code(0);
    let marker = sandbox.root().join("ran");
    let touch = format!("touch {}", marker.display());
    for options in [&["-E"][..], &["-HE"], &["--preserve-env"], &["-u", "root", "-E"]] {
        let mut args = vec!["sudo"];
        args.extend(options);
        args.extend(["--", "sh", "-c", touch.as_str()]);
        let run = run_bounded(&sandbox, &args, None);
        run.expect_code(2);
        assert!(run.stderr.contains("refusing sudo's"), "{options:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("dashkey sudo --preserve-env=NAME -- COMMAND"),
            "{}",
            run.stderr
        );
        assert!(!marker.exists(), "{options:?}: the command ran");
    }
    // The healthy twin, with the real sudo: a named list is kept and the command runs.
    if is_root() {
        let run = run_bounded(&sandbox, &["sudo", "--", "sh", "-c", touch.as_str()], None);
        run.expect_code(0);
        assert!(marker.exists(), "{}", run.stderr);
    }
}

#[test]
fn under_sudo_set_refuses_in_the_users_home_and_in_roots_saying_whose_it_is() {
    if !is_root() {
        eprintln!("notice: not root; skipping the sudo home checks");
        return;
    }
    // sudo -E: HOME is still the user's (owned by SUDO_UID).
    let mut sandbox = Sandbox::new();
    std::os::unix::fs::chown(&sandbox.home, Some(4242), None).unwrap();
    sandbox.env("SUDO_UID", "4242").env("SUDO_USER", "alice");
    let before = snapshot(&sandbox.home);
    let run = run_bounded(&sandbox, &["set", "--offline", "--stdin"], Some(KEY));
    run.expect_code(2);
    let home = sandbox.home.display().to_string();
    assert!(
        run.stderr.contains(&format!(
            "refusing to run `dashkey set` as root in alice's home ({home}): the files root creates \
             there (~/.config/dashkey, ~/.dashscope) would be owned by root"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Run it as alice, without sudo:  dashkey set"), "{}", run.stderr);
    assert_eq!(snapshot(&sandbox.home), before);
    let unset = run_bounded(&sandbox, &["unset"], None);
    unset.expect_code(2);
    assert!(unset.stderr.contains("refusing to run `dashkey unset` as root"), "{}", unset.stderr);

    // Plain sudo: HOME is root's, not alice's.
    let mut sandbox = Sandbox::new();
    sandbox.env("SUDO_UID", "4242").env("SUDO_USER", "alice");
    let before = snapshot(&sandbox.home);
    let run = run_bounded(&sandbox, &["set", "--offline", "--stdin"], Some(KEY));
    run.expect_code(2);
    assert!(
        run.stderr.contains(&format!(
            "refusing to run `dashkey set` under sudo: it would act for root in {}, not for alice",
            sandbox.home.display()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&sandbox.home), before);

    // The twin: without sudo's variables the same home is used.
    sandbox.unenv("SUDO_UID").unenv("SUDO_USER");
    run_bounded(&sandbox, &["set", "--offline", "--stdin", "--no-modify-rc"], Some(KEY))
        .expect_code(0);
}

#[test]
fn an_unset_empty_or_relative_home_is_refused_by_writing_commands_and_named_by_reading_ones() {
    // Without HOME, dashkey's fallback is the account's home in the user database: run as
    // `nobody` (home /nonexistent), so that a regression can never write into the home of
    // the user running the tests.
    let Some(setpriv) = common::tool("setpriv") else { return };
    let nobody = [setpriv.to_str().unwrap(), "--reuid=65534", "--regid=65534", "--clear-groups"];
    for (home, message) in [
        (None, "HOME is not set, so there is no home to write into"),
        (Some(""), "HOME is empty, so there is no home to write into"),
        (Some("relative/home"), "HOME is the relative path `relative/home`"),
    ] {
        let mut sandbox = Sandbox::new();
        match home {
            None => sandbox.unenv("HOME"),
            Some(value) => sandbox.env("HOME", value),
        };
        let before = snapshot(sandbox.root());
        for args in [&["set", "--offline", "--stdin"][..], &["unset"], &["region", "us-east-1"]] {
            let run = sandbox.run_wrapped(&nobody, args, Some(KEY));
            run.expect_code(2);
            assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
            assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
        }
        assert_eq!(snapshot(sandbox.root()), before, "{home:?}: files changed");
        if home != Some("relative/home") {
            let status = sandbox.run_wrapped(&nobody, &["status"], None);
            assert!(status.stderr.contains("note: HOME is "), "{}", status.stderr);
            assert!(
                status.stderr.contains("this account's home in the user database"),
                "{}",
                status.stderr
            );
        }
    }
}

#[test]
fn diff_headers_of_files_outside_home_have_one_slash() {
    let sandbox = Sandbox::new();
    let outside = sandbox.root().join("xdg");
    let mut sandbox = sandbox;
    sandbox.env("XDG_CONFIG_HOME", outside.display().to_string());
    let run = run_bounded(
        &sandbox,
        &["set", "--offline", "--stdin", "--dry-run", "--no-modify-rc"],
        Some(KEY),
    );
    run.expect_code(0);
    assert!(
        run.stdout.contains(&format!("+++ b{}/dashkey/env.sh", outside.display())),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("a//") && !run.stdout.contains("b//"), "{}", run.stdout);
}

#[test]
fn a_failed_write_names_its_path_once() {
    let sandbox = Sandbox::new();
    run_bounded(&sandbox, &["set", "--offline", "--stdin", "--no-modify-rc"], Some(KEY))
        .expect_code(0);
    let missing = sandbox.root().join("no-such-dir/out.env");
    let missing = missing.to_str().unwrap();
    let run = run_bounded(&sandbox, &["export", "--format", "dotenv", "--output", missing], None);
    assert_ne!(run.code, 0);
    assert!(!run.stderr.contains("at path"), "{}", run.stderr);
    assert_eq!(run.stderr.matches("no-such-dir").count(), 1, "{}", run.stderr);
}

#[test]
fn error_messages_keep_their_words_when_masked() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.home.join(".dashscope/api_key")).unwrap();
    let run = run_bounded(&sandbox, &["set", "--offline", "--stdin", "--no-modify-rc"], Some(KEY));
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains(".dashscope/api_key"), "{}", run.stderr);
    assert!(!run.stderr.contains("****"), "a word of the message was masked: {}", run.stderr);
}
