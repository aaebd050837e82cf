//! Named profiles: `set --profile`, `use`, `profiles`, and `--profile` on `run`, `env`,
//! `export` and `unset`, against the real binary, real shells, keys through stdin.

// Unix only: these tests use real shells and unix file modes.
#![cfg(unix)]

mod common;

use std::path::Path;

use common::{KEY, OTHER_KEY, Sandbox, file_contents, snapshot, tool};

const BJ_URL: &str = "https://dashscope.aliyuncs.com/api/v1";
const SG_URL: &str = "https://dashscope-intl.aliyuncs.com/api/v1";
const PRINT: &str = "printf '%s|%s' \"$DASHSCOPE_API_KEY\" \"$DASHSCOPE_HTTP_BASE_URL\"";

/// A sandbox with a bash, zsh and fish user and nothing stored.
fn shell_user() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# bashrc\n");
    sandbox.write(".zshrc", "# zshrc\n");
    sandbox.write(".config/fish/config.fish", "# fish\n");
    sandbox
}

/// A sandbox with a bash, zsh and fish user whose default key is stored for Beijing and a
/// `work` profile for Singapore.
fn two_profiles() -> Sandbox {
    let sandbox = shell_user();
    sandbox
        .set_offline(
            KEY,
            &[
                "--region",
                "cn-beijing",
                "--gui",
                "--shell",
                "bash",
                "--shell",
                "zsh",
                "--shell",
                "fish",
            ],
        )
        .expect_code(0);
    sandbox
        .set_offline(OTHER_KEY, &["--region", "ap-southeast-1", "--profile", "work"])
        .expect_code(0);
    sandbox
}

fn shell_out(sandbox: &Sandbox, program: &Path, args: &[&str]) -> String {
    let output = sandbox.program(program).args(args).env("TERM", "dumb").output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What new interactive bash, zsh and fish shells get.
fn new_shells_get(sandbox: &Sandbox, expected: &str) {
    for (name, args) in
        [("bash", ["-i", "-c", PRINT]), ("zsh", ["-i", "-c", PRINT]), ("fish", ["-i", "-c", PRINT])]
    {
        let Some(program) = tool(name) else { continue };
        let out = shell_out(sandbox, &program, &args);
        assert!(out.ends_with(expected), "{name} printed {out:?}, expected {expected:?}");
    }
}

fn profile_file(sandbox: &Sandbox, name: &str) -> std::path::PathBuf {
    sandbox.home.join(".config/dashkey/profiles").join(name).join("env.sh")
}

#[test]
fn a_profile_not_in_use_gets_only_its_own_file_and_use_switches_every_new_shell() {
    let sandbox = two_profiles();
    let file = profile_file(&sandbox, "work");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(OTHER_KEY) && text.contains(SG_URL), "{text}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        assert_eq!(mode(file.parent().unwrap().parent().unwrap()), 0o700);
    }
    // Storing `work` changed nothing any shell or SDK reads.
    new_shells_get(&sandbox, &format!("{KEY}|{BJ_URL}"));
    assert_eq!(sandbox.read(".dashscope/api_key"), format!("{KEY}\n").as_bytes());

    let mut before_use = file_contents(&sandbox.home);
    before_use.remove(Path::new(".config/dashkey/record.json"));
    sandbox.run_bounded(&["use", "work"], None).expect_code(0);
    new_shells_get(&sandbox, &format!("{OTHER_KEY}|{SG_URL}"));
    assert_eq!(sandbox.read(".dashscope/api_key"), format!("{OTHER_KEY}\n").as_bytes());
    let config = String::from_utf8(sandbox.read(".dashscope/config.toml")).unwrap();
    assert!(config.contains("dashscope-intl.aliyuncs.com"), "{config}");
    let desktop = String::from_utf8(sandbox.read(".config/environment.d/60-dashkey.conf")).unwrap();
    assert!(desktop.contains(OTHER_KEY) && desktop.contains(SG_URL), "{desktop}");

    let listed = sandbox.run_bounded(&["profiles", "--json"], None).expect_code(0).json();
    let rows = listed["profiles"].as_array().unwrap();
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap().clone();
    assert_eq!(row("work")["in_use"], true);
    assert_eq!(row("default")["in_use"], false);
    assert_eq!(row("work")["region"], "ap-southeast-1");
    assert_eq!(row("default")["region"], "cn-beijing");
    assert_eq!(row("work")["kind"], "standard");
    assert_eq!(row("work")["key"], "sk-…6b5a");

    // And back: every new shell has the default key again, every file but the record as it was.
    sandbox.run_bounded(&["use", "default"], None).expect_code(0);
    let mut now = file_contents(&sandbox.home);
    now.remove(Path::new(".config/dashkey/record.json"));
    assert_eq!(now, before_use);
    new_shells_get(&sandbox, &format!("{KEY}|{BJ_URL}"));
    assert!(!profile_file(&sandbox, "default").exists());
}

#[test]
fn run_env_and_export_hand_over_the_named_profile() {
    let sandbox = two_profiles();
    let run = sandbox.run_revealing(&["run", "--profile", "work", "--", "sh", "-c", PRINT], None);
    assert_eq!(run.stdout, format!("{OTHER_KEY}|{SG_URL}"), "{}", run.stderr);
    let run = sandbox.run_revealing(&["run", "--", "sh", "-c", PRINT], None);
    assert_eq!(run.stdout, format!("{KEY}|{BJ_URL}"));
    let export =
        sandbox.run_revealing(&["export", "--format", "dotenv", "--profile", "work"], None);
    assert!(export.stdout.contains(OTHER_KEY) && !export.stdout.contains(KEY), "{}", export.stdout);
    let env = sandbox.run_revealing(&["env", "--shell", "sh", "--profile", "work"], None);
    assert!(env.stdout.contains(OTHER_KEY) && env.stdout.contains(SG_URL), "{}", env.stdout);
    // The parked default, while `work` is in use.
    sandbox.run_bounded(&["use", "work"], None).expect_code(0);
    let run =
        sandbox.run_revealing(&["run", "--profile", "default", "--", "sh", "-c", PRINT], None);
    assert_eq!(run.stdout, format!("{KEY}|{BJ_URL}"));
}

#[test]
fn rotating_one_profile_leaves_the_other_untouched() {
    const NEW: &str = "sk-77777777777777777777777777777777";
    let mut sandbox = two_profiles();
    sandbox.secret(NEW);
    let before = file_contents(&sandbox.home);
    sandbox.set_offline(NEW, &["--region", "ap-southeast-1", "--profile", "work"]).expect_code(0);
    let after = file_contents(&sandbox.home);
    let changed: Vec<_> =
        after.keys().filter(|p| before.get(*p) != after.get(*p)).cloned().collect();
    let expected: Vec<std::path::PathBuf> = vec![
        ".config/dashkey/profiles/work/env.fish".into(),
        ".config/dashkey/profiles/work/env.sh".into(),
        ".config/dashkey/record.json".into(),
    ];
    assert_eq!(changed, expected);
    new_shells_get(&sandbox, &format!("{KEY}|{BJ_URL}"));

    // Rotating the profile in use writes everywhere and leaves the parked default alone.
    sandbox.run_bounded(&["use", "work"], None).expect_code(0);
    let parked = std::fs::read(profile_file(&sandbox, "default")).unwrap();
    sandbox
        .set_offline(OTHER_KEY, &["--region", "ap-southeast-1", "--profile", "work"])
        .expect_code(0);
    new_shells_get(&sandbox, &format!("{OTHER_KEY}|{SG_URL}"));
    assert_eq!(std::fs::read(profile_file(&sandbox, "default")).unwrap(), parked);
    assert!(std::fs::read_to_string(profile_file(&sandbox, "work")).unwrap().contains(OTHER_KEY));
}

#[test]
fn unset_profile_and_unset_restore_every_file_byte_for_byte() {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# bashrc\n");
    sandbox.write(".zshrc", "# zshrc\n");
    let pristine = snapshot(&sandbox.home);
    sandbox
        .set_offline(KEY, &["--region", "cn-beijing", "--shell", "bash", "--shell", "zsh"])
        .expect_code(0);
    let with_default = snapshot(&sandbox.home);
    sandbox
        .set_offline(OTHER_KEY, &["--region", "ap-southeast-1", "--profile", "work"])
        .expect_code(0);
    sandbox.run_bounded(&["unset", "--profile", "work"], None).expect_code(0);
    assert_eq!(snapshot(&sandbox.home), with_default);

    // Everything, with a profile parked and another in use.
    sandbox
        .set_offline(OTHER_KEY, &["--region", "ap-southeast-1", "--profile", "work"])
        .expect_code(0);
    sandbox.run_bounded(&["use", "work"], None).expect_code(0);
    assert!(profile_file(&sandbox, "default").exists());
    sandbox.run_bounded(&["unset"], None).expect_code(0);
    assert_eq!(snapshot(&sandbox.home), pristine);
}

#[test]
fn a_profile_alone_is_removed_with_its_record_and_directories() {
    let sandbox = Sandbox::new();
    let pristine = snapshot(&sandbox.home);
    sandbox
        .set_offline(OTHER_KEY, &["--region", "ap-southeast-1", "--profile", "work"])
        .expect_code(0);
    let listed = sandbox.run_bounded(&["profiles"], None).expect_code(0).stdout.clone();
    assert!(listed.contains("none is in use") && listed.contains("dashkey use work"), "{listed}");
    sandbox.run_bounded(&["unset", "--profile", "work"], None).expect_code(0);
    assert_eq!(snapshot(&sandbox.home), pristine);
}

/// With only a named profile stored and none in use, `status` does not claim new terminals
/// load a key: they load none, and it says how to pick one.
#[test]
fn status_with_only_a_profile_not_in_use_says_no_key_is_in_use() {
    let sandbox = Sandbox::new();
    sandbox
        .set_offline(OTHER_KEY, &["--region", "ap-southeast-1", "--profile", "work"])
        .expect_code(0);
    let status = sandbox.run_bounded(&["status"], None).stdout.clone();
    assert!(!status.contains("new terminals load dashkey's copy"), "{status}");
    assert!(status.contains("no key is in use") && status.contains("dashkey use NAME"), "{status}");
    sandbox.run_bounded(&["use", "work"], None).expect_code(0);
    let status = sandbox.run_bounded(&["status"], None).stdout.clone();
    assert!(status.contains("new terminals load dashkey's copy"), "{status}");
}

#[test]
fn bad_input_is_a_clear_error_and_changes_nothing() {
    let sandbox = two_profiles();
    let before = snapshot(&sandbox.home);
    for (args, says) in [
        (vec!["use", "nope"], "no profile 'nope' is stored"),
        (vec!["unset", "--profile", "nope"], "no profile 'nope' is stored"),
        (vec!["run", "--profile", "nope", "--", "true"], "no profile 'nope' is stored"),
        (vec!["export", "--format", "dotenv", "--profile", "nope"], "no profile 'nope' is stored"),
        (vec!["env", "--profile", "nope"], "no profile 'nope' is stored"),
        (vec!["use", "../x"], "'../x' is not a profile name"),
        (vec!["unset", "--profile", "Work"], "'Work' is not a profile name"),
        (vec!["unset", "--profile", "default"], "the profile 'default' is in use"),
    ] {
        let run = sandbox.run_bounded(&args, None);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert_eq!(snapshot(&sandbox.home), before, "{args:?} changed files");
    }
    for name in ["a/b", "", "x y", "-lead", &"a".repeat(33)] {
        let run = sandbox.set_offline(KEY, &[&format!("--profile={name}")]);
        assert_eq!(run.code, 2, "{name:?}: {}", run.stderr);
        assert!(run.stderr.contains("is not a profile name"), "{}", run.stderr);
        assert_eq!(snapshot(&sandbox.home), before, "set --profile {name:?} changed files");
    }
    // The one in use, after a switch.
    sandbox.run_bounded(&["use", "work"], None).expect_code(0);
    let before = snapshot(&sandbox.home);
    let run = sandbox.run_bounded(&["unset", "--profile", "work"], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("the profile 'work' is in use"), "{}", run.stderr);
    assert_eq!(snapshot(&sandbox.home), before);
}

#[test]
fn while_another_profile_is_in_use_a_plain_set_rotates_the_parked_default_only() {
    const NEW: &str = "sk-88888888888888888888888888888888";
    let mut sandbox = two_profiles();
    sandbox.secret(NEW);
    sandbox.run_bounded(&["use", "work"], None).expect_code(0);
    let before = file_contents(&sandbox.home);
    sandbox.set_offline(NEW, &[]).expect_code(0);
    let after = file_contents(&sandbox.home);
    let changed: Vec<_> =
        after.keys().filter(|p| before.get(*p) != after.get(*p)).cloned().collect();
    let expected: Vec<std::path::PathBuf> = vec![
        ".config/dashkey/profiles/default/env.fish".into(),
        ".config/dashkey/profiles/default/env.sh".into(),
        ".config/dashkey/record.json".into(),
    ];
    assert_eq!(changed, expected);
    new_shells_get(&sandbox, &format!("{OTHER_KEY}|{SG_URL}"));
    // The parked default kept its region; `--keep-key --profile` writes that profile's key.
    let run =
        sandbox.run_revealing(&["run", "--profile", "default", "--", "sh", "-c", PRINT], None);
    assert_eq!(run.stdout, format!("{NEW}|{BJ_URL}"));
    sandbox.run_bounded(&["set", "--keep-key", "--profile", "default"], None).expect_code(0);
    assert_eq!(file_contents(&sandbox.home), after);
    sandbox.run_bounded(&["use", "default"], None).expect_code(0);
    new_shells_get(&sandbox, &format!("{NEW}|{BJ_URL}"));
}

/// The syscalls a `use` writes with, for the fault walk.
const SYSCALLS: [&str; 4] = ["write", "fsync", "renameat", "unlink"];

/// Every file under HOME, without the transaction's own temporaries and journals.
fn settled(home: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut files = file_contents(home);
    files.retain(|path, _| {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let temporary = name.contains(".dashkey-") && name.ends_with(".tmp");
        !temporary && !name.starts_with(".dashkey-journal-")
    });
    files
}

/// `use` under faults injected by strace: the Nth write, fsync, rename or unlink fails with
/// EIO, or dashkey is killed there. After the recovery the next command runs first, every
/// file holds its bytes from before or after the switch; the retry succeeds and ends where
/// a `use` without faults ends.
#[test]
fn use_under_injected_faults_leaves_every_file_old_or_new() {
    walk_injected_faults(&["use", "work"], None, |_, _| {});
}

/// A rotation of the default key (plain `set` with a new key) while `work` is stored beside
/// it, under the same faults as `use`: every file old or new, the retry completes, `work`'s
/// file and key are untouched, and `unset` then restores HOME byte for byte.
#[test]
fn a_rotation_under_injected_faults_leaves_every_file_old_or_new_and_work_untouched() {
    const NEW: &str = "sk-77777777777777777777777777777777";
    let pristine = snapshot(&shell_user().home);
    let parked = std::fs::read(profile_file(&two_profiles(), "work")).unwrap();
    walk_injected_faults(&["set", "--stdin", "--offline"], Some(NEW), |sandbox, label| {
        let work = std::fs::read(profile_file(sandbox, "work")).unwrap();
        assert!(work == parked, "{label}: the work profile's file changed");
        let run =
            sandbox.run_revealing(&["run", "--profile", "work", "--", "sh", "-c", PRINT], None);
        assert_eq!(run.expect_code(0).stdout, format!("{OTHER_KEY}|{SG_URL}"), "{label}");
        let run = sandbox.run_revealing(&["run", "--", "sh", "-c", PRINT], None);
        assert_eq!(run.expect_code(0).stdout, format!("{NEW}|{BJ_URL}"), "{label}");
        sandbox.run_bounded(&["unset"], None).expect_code(0);
        assert_eq!(snapshot(&sandbox.home), pristine, "{label}: unset left HOME changed");
    });
}

/// `unset` after a rotation killed before the SDK key file was rewritten (here: that file
/// given the previous key back by hand, the state the kill leaves): the previous key is
/// dashkey's copy (the record keeps its fingerprint), so `unset` takes it away too and HOME
/// ends as it began, rather than with a key the user never wrote.
#[test]
fn unset_after_an_interrupted_rotation_leaves_no_old_key_behind() {
    const NEW: &str = "sk-77777777777777777777777777777777";
    let mut sandbox = Sandbox::new();
    sandbox.secret(NEW);
    let pristine = snapshot(&sandbox.home);
    sandbox.set_offline(KEY, &[]).expect_code(0);
    let sdk_file = sandbox.home.join(".dashscope/api_key");
    let previous = std::fs::read(&sdk_file).unwrap();
    sandbox.set_offline(NEW, &[]).expect_code(0);
    std::fs::write(&sdk_file, &previous).unwrap();
    sandbox.run_bounded(&["unset"], None).expect_code(0);
    assert!(!sdk_file.exists(), "unset left the previous key in the SDK key file");
    assert_eq!(snapshot(&sandbox.home), pristine);
}

/// Walks faults over `dashkey ARGS` (fed `stdin`, a key kept out of every output) in fresh [`two_profiles`] sandboxes:
/// strace makes the Nth write, fsync, rename or unlink fail with EIO, or kills dashkey
/// there. After the recovery the next command runs first, every file holds its bytes from
/// before or after the command; the retry succeeds and ends where a run without faults ends;
/// then `after_retry` checks the sandbox further.
fn walk_injected_faults(args: &[&str], stdin: Option<&str>, after_retry: impl Fn(&Sandbox, &str)) {
    let Some(strace) = tool("strace") else { return };
    let strace = strace.to_str().unwrap().to_string();
    let fresh = || {
        let mut sandbox = two_profiles();
        if let Some(key) = stdin {
            sandbox.secret(key);
        }
        sandbox
    };
    let clean = fresh();
    let old = settled(&clean.home);
    let trace = clean.root().join("trace");
    let filter = format!("trace={}", SYSCALLS.join(","));
    let wrapper = [strace.as_str(), "-f", "-qq", "-o", trace.to_str().unwrap(), "-e", &filter];
    clean.run_wrapped(&wrapper, args, stdin).expect_code(0);
    let new = settled(&clean.home);
    assert_ne!(old, new);
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut trials = 0;
    for syscall in SYSCALLS {
        let count = text
            .lines()
            .filter(|l| !l.contains("resumed>"))
            .filter(|l| l.split_whitespace().any(|w| w.starts_with(&format!("{syscall}("))))
            .count();
        // Every call when there are few, an even spread of 12 otherwise.
        let ns: Vec<usize> = if count <= 12 {
            (1..=count).collect()
        } else {
            (0..12).map(|i| 1 + i * (count - 1) / 11).collect()
        };
        for n in ns {
            for what in ["error=EIO", "signal=KILL"] {
                trials += 1;
                let label = format!("{args:?}: {syscall} {what} at {n}");
                let sandbox = fresh();
                let inject = format!("inject={syscall}:{what}:when={n}");
                let fault_filter = format!("trace={syscall}");
                let wrapper = [
                    strace.as_str(),
                    "-f",
                    "-qq",
                    "-o",
                    "/dev/null",
                    "-e",
                    &fault_filter,
                    "-e",
                    &inject,
                ];
                sandbox.run_wrapped(&wrapper, args, stdin);
                let platform = dashkey::Platform::simulated(
                    dashkey::Os::Linux,
                    [("HOME", sandbox.home.to_str().unwrap())],
                );
                drop(dashkey::store::lock(&platform).expect("the next command takes the lock"));
                let now = settled(&sandbox.home);
                // Paths are relative to each sandbox's HOME, so they compare across sandboxes
                // except inside the record, which names absolute paths.
                for path in old.keys().chain(new.keys()).chain(now.keys()) {
                    if path.ends_with("record.json") {
                        continue;
                    }
                    let current = now.get(path);
                    assert!(
                        current == old.get(path) || current == new.get(path),
                        "{label}: {} is neither old nor new",
                        path.display()
                    );
                }
                sandbox.run_bounded(args, stdin).expect_code(0);
                let mut done = settled(&sandbox.home);
                let mut expected = new.clone();
                done.retain(|p, _| !p.ends_with("record.json"));
                expected.retain(|p, _| !p.ends_with("record.json"));
                let differ: Vec<_> = done
                    .keys()
                    .chain(expected.keys())
                    .filter(|p| done.get(*p) != expected.get(*p))
                    .collect();
                assert!(differ.is_empty(), "{label}: the retry ends elsewhere in {differ:?}");
                after_retry(&sandbox, &label);
            }
        }
    }
    assert!(trials > 0);
}

/// `service install --profile work` gives the unit work's key and keeps it there: through
/// rotations of the default key, `use` of another profile and back, and it follows work's own
/// rotation; a unit installed without a profile follows the profile in use.
#[test]
fn a_service_installed_with_a_profile_keeps_it_through_rotations_and_use() {
    const NEW_WORK: &str = "sk-66666666666666666666666666666666";
    const NEW_DEFAULT: &str = "sk-44444444444444444444444444444444";
    let mut sandbox = two_profiles();
    sandbox.secret(NEW_WORK).secret(NEW_DEFAULT);
    let install = ["service", "install", "--systemd", "pinned", "--user", "--profile", "work"];
    sandbox.run_bounded(&install, None).expect_code(0);
    sandbox
        .run_bounded(&["service", "install", "--systemd", "follows", "--user"], None)
        .expect_code(0);
    let key_of = |unit: &str| {
        let path = format!(".config/dashkey/services/{unit}.service.env");
        let text = String::from_utf8(sandbox.read(&path)).unwrap();
        let line = text.lines().find(|l| l.starts_with("DASHSCOPE_API_KEY=")).unwrap();
        line.trim_start_matches("DASHSCOPE_API_KEY=").to_string()
    };
    assert_eq!((key_of("pinned"), key_of("follows")), (OTHER_KEY.into(), KEY.into()));
    sandbox.set_offline(NEW_DEFAULT, &["--region", "cn-beijing"]).expect_code(0);
    assert_eq!((key_of("pinned"), key_of("follows")), (OTHER_KEY.into(), NEW_DEFAULT.into()));
    sandbox
        .set_offline(NEW_WORK, &["--region", "ap-southeast-1", "--profile", "work"])
        .expect_code(0);
    assert_eq!((key_of("pinned"), key_of("follows")), (NEW_WORK.into(), NEW_DEFAULT.into()));
    sandbox.run_bounded(&["use", "work"], None).expect_code(0);
    assert_eq!((key_of("pinned"), key_of("follows")), (NEW_WORK.into(), NEW_WORK.into()));
    sandbox.run_bounded(&["use", "default"], None).expect_code(0);
    assert_eq!((key_of("pinned"), key_of("follows")), (NEW_WORK.into(), NEW_DEFAULT.into()));
    let before = snapshot(&sandbox.home);
    let run = sandbox.run_bounded(&["unset", "--profile", "work"], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("was given to the systemd user unit pinned"), "{}", run.stderr);
    assert_eq!(snapshot(&sandbox.home), before);
    let run = sandbox.run_bounded(
        &["service", "install", "--systemd", "x", "--user", "--profile", "nope"],
        None,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no profile 'nope' is stored"), "{}", run.stderr);
}

/// `service list` names the profile each service keeps, and `service uninstall --profile`
/// takes back only a service that keeps that profile: any other is refused, naming what it
/// keeps, with nothing changed.
#[test]
fn service_list_shows_each_profile_and_uninstall_profile_takes_back_only_that_one() {
    let sandbox = two_profiles();
    let unit = |name: &str| ["--systemd", name, "--user"].map(str::to_string).to_vec();
    let with = |verb: &str, name: &str, extra: &[&str]| {
        let mut args = vec!["service".to_string(), verb.to_string()];
        args.extend(unit(name));
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sandbox.run_bounded(&args, None)
    };
    run(with("install", "pinned", &["--profile", "work"])).expect_code(0);
    run(with("install", "follows", &[])).expect_code(0);
    let list = sandbox.run(&["service", "list"], None);
    let line = |unit: &str| list.stdout.lines().find(|l| l.contains(unit)).unwrap().to_string();
    assert!(line("pinned.service").contains("profile work"), "{}", list.stdout);
    assert!(line("follows.service").contains("the profile in use"), "{}", list.stdout);
    let json = sandbox.run(&["service", "list", "--json"], None).json();
    let profiles: Vec<(String, serde_json::Value)> = json["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["unit"].as_str().unwrap().to_string(), s["profile"].clone()))
        .collect();
    assert!(profiles.contains(&("pinned.service".into(), "work".into())), "{json}");
    assert!(profiles.contains(&("follows.service".into(), serde_json::Value::Null)), "{json}");
    let before = snapshot(&sandbox.home);
    for (name, profile, says) in [
        ("pinned", "default", "keeps the profile 'work', not 'default'"),
        ("follows", "work", "follows the profile in use, not 'work'"),
        ("pinned", "Bad Name", "not a profile name"),
    ] {
        let refused = run(with("uninstall", name, &["--profile", profile]));
        assert_eq!(refused.code, 2, "{name}: {}", refused.stderr);
        assert!(refused.stderr.contains(says), "{name}: {}", refused.stderr);
        assert_eq!(snapshot(&sandbox.home), before, "{name}: nothing changed");
    }
    run(with("uninstall", "pinned", &["--profile", "work"])).expect_code(0);
    let list = sandbox.run(&["service", "list"], None).stdout;
    assert!(!list.contains("pinned.service") && list.contains("follows.service"), "{list}");
}
