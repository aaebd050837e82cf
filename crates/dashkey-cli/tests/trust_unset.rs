//! `unset` removes only what dashkey can prove it wrote; a record is a hint, never needed;
//! blocks keep what users add; `--migrate` is undone; hand-off blocks name their program;
//! dashkey's directory stays out of git.

// Unix only: these tests use unix modes, owners, links, devices or signals (std::os::unix).
#![cfg(unix)]

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use common::{KEY, OTHER_KEY, Sandbox, dashkey_leftovers, file_contents, tool};

const USER_KEY: &str = "sk-userown0123456789abcdef01234567";

fn set(sandbox: &Sandbox, extra: &[&str]) -> common::Run {
    let mut args = vec!["set", "--stdin", "--offline"];
    args.extend_from_slice(extra);
    sandbox.run_bounded(&args, Some(KEY))
}

fn record_path(sandbox: &Sandbox) -> std::path::PathBuf {
    sandbox.home.join(".config/dashkey/record.json")
}

/// Adds entries to the record's file list.
fn plant_in_record(sandbox: &Sandbox, entries: serde_json::Value) {
    let path = record_path(sandbox);
    let mut record: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let files = record["files"].as_array_mut().unwrap();
    files.extend(entries.as_array().unwrap().iter().cloned());
    fs::write(&path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
}

#[test]
fn unset_keeps_files_the_record_lists_outside_dashkeys_places_and_never_deletes_through_links() {
    let mut sandbox = Sandbox::new();
    sandbox.secret(USER_KEY);
    sandbox.write(".bashrc", "alias ll='ls -l'\n");
    set(&sandbox, &["--shell", "bash"]).expect_code(0);
    let precious = sandbox.write("notes/precious.txt", "my thesis\n");
    let target = sandbox.write("notes/linked.txt", "linked\n");
    let elsewhere = sandbox.root().join("outside.txt");
    fs::write(&elsewhere, "outside home\n").unwrap();
    let home = sandbox.home.display().to_string();
    plant_in_record(
        &sandbox,
        serde_json::json!([
            {"path": precious, "role": "owned", "created": false},
            {"path": format!("{home}/notes/linked.txt"), "role": "desktop", "created": true},
            {"path": elsewhere, "role": "hook", "created": true},
            {"path": format!("{home}/notes"), "role": "backup", "created": true},
            {"path": format!("{home}/.config/dashkey/../../notes/precious.txt"), "role": "record", "created": true},
        ]),
    );
    // A service entry whose "files" are the user's.
    let record = record_path(&sandbox);
    let mut json: serde_json::Value = serde_json::from_slice(&fs::read(&record).unwrap()).unwrap();
    json["services"] = serde_json::json!([{
        "service": {"manager": "systemd", "unit": "x.service", "user": true,
                    "env_file": precious, "unit_env_file": precious,
                    "drop_in": format!("{home}/notes/linked.txt")},
        "created_dirs": [format!("{home}/notes")]
    }]);
    fs::write(&record, serde_json::to_vec(&json).unwrap()).unwrap();
    // Links planted at dashkey's names: the link may go, never its target.
    let env_fish = sandbox.home.join(".config/dashkey/env.fish");
    fs::remove_file(&env_fish).unwrap();
    symlink(&target, &env_fish).unwrap();
    fs::remove_file(sandbox.home.join(".dashscope/api_key")).unwrap();
    let user_key_file = sandbox.write("keys/dashscope", format!("{USER_KEY}\n"));
    symlink(&user_key_file, sandbox.home.join(".dashscope/api_key")).unwrap();

    let run = sandbox.run_bounded(&["unset"], None);
    run.expect_code(0);
    assert_eq!(fs::read_to_string(&precious).unwrap(), "my thesis\n");
    assert_eq!(fs::read_to_string(&target).unwrap(), "linked\n");
    assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "outside home\n");
    assert_eq!(fs::read_to_string(&user_key_file).unwrap(), format!("{USER_KEY}\n"));
    assert!(sandbox.home.join("notes").is_dir());
    assert!(
        run.stderr.contains("ignored") && run.stderr.contains("precious.txt"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(fs::read_to_string(sandbox.home.join(".bashrc")).unwrap(), "alias ll='ls -l'\n");
    assert!(!sandbox.home.join(".config/dashkey/env.sh").exists());
}

#[test]
fn unset_keeps_a_file_at_dashkeys_names_that_dashkey_did_not_write() {
    let sandbox = Sandbox::new();
    set(&sandbox, &["--no-modify-rc"]).expect_code(0);
    let env_csh = sandbox.home.join(".config/dashkey/env.csh");
    fs::write(&env_csh, "# Written by dashkey (once)\nrm -rf ~\nmy own notes\n").unwrap();
    let run = sandbox.run_bounded(&["unset"], None);
    run.expect_code(0);
    assert!(env_csh.is_file(), "a file dashkey's parser does not recognise stays");
    assert!(run.stderr.contains("env.csh"), "{}", run.stderr);
    assert!(!sandbox.home.join(".config/dashkey/env.sh").exists());
}

/// Records that cannot be used, and what each should be called.
const BROKEN_RECORDS: [(&str, &str, &str); 4] = [
    ("empty", "", "empty"),
    ("truncated", "{\"version\": 1, \"region\": null, \"files\": [{\"pa", "damaged"),
    ("garbage", "\u{1}\u{2}not json at all", "damaged"),
    ("future", "{\"version\": 7, \"files\": \"a new shape\"}", "newer dashkey"),
];

fn broken(sandbox: &Sandbox, content: &str) {
    fs::write(record_path(sandbox), content).unwrap();
}

#[test]
fn a_broken_record_blocks_neither_status_nor_set_nor_unset() {
    for (name, content, called) in BROKEN_RECORDS {
        let sandbox = Sandbox::new();
        sandbox.write(".bashrc", "# mine\n");
        sandbox.write(".dashscope/api_key", format!("{USER_KEY}\n"));
        let before = file_contents(&sandbox.home);
        // supervisord's own default place: the working directory's supervisord.conf.
        let conf = sandbox.root().join("supervisord.conf");
        fs::write(&conf, TWO_PROGRAMS).unwrap();
        set(&sandbox, &["--shell", "bash", "--gui"]).expect_code(0);
        sandbox
            .run_bounded(&["service", "install", "--systemd", "worker", "--user"], None)
            .expect_code(0);
        sandbox.run_bounded(&["service", "install", "--supervisord", "b"], None).expect_code(0);
        assert!(fs::read_to_string(&conf).unwrap().contains(KEY));
        broken(&sandbox, content);

        let status = sandbox.run_bounded(&["status"], None);
        assert!(status.code == 0 || status.code == 1, "{name}: status failed: {}", status.stderr);
        let said = format!("{}{}", status.stdout, status.stderr);
        assert!(said.contains("record.json") && said.contains(called), "{name}: {said}");
        assert!(said.contains("dashkey unset") && said.contains("dashkey set"), "{name}: {said}");

        // unset finds everything without the record, the user unit's files included.
        let run = sandbox.run_bounded(&["unset"], None);
        run.expect_code(0);
        assert!(run.stderr.contains(called), "{name}: {}", run.stderr);
        let leftovers = dashkey_leftovers(&sandbox.home);
        assert!(leftovers.is_empty(), "{name}: {leftovers:#?}");
        assert_eq!(file_contents(&sandbox.home), before, "{name}: files back as they were");
        assert_eq!(fs::read_to_string(&conf).unwrap(), TWO_PROGRAMS, "{name}: and the service's");

        // set writes a sane record over a broken one.
        set(&sandbox, &["--shell", "bash"]).expect_code(0);
        broken(&sandbox, content);
        let run = set(&sandbox, &["--shell", "bash"]);
        run.expect_code(0);
        assert!(run.stderr.contains(called), "{name}: {}", run.stderr);
        let record: serde_json::Value =
            serde_json::from_slice(&fs::read(record_path(&sandbox)).unwrap())
                .unwrap_or_else(|e| panic!("{name}: set left an unreadable record: {e}"));
        assert_eq!(record["version"], 1, "{name}");
        let files = record["files"].as_array().unwrap();
        assert!(files.iter().any(|f| f["path"].as_str().unwrap().ends_with("env.sh")), "{name}");
        sandbox.run_bounded(&["unset"], None).expect_code(0);
        assert_eq!(file_contents(&sandbox.home), before, "{name}: files back as they were");
    }
}

#[test]
fn a_line_added_inside_dashkeys_block_is_refused_by_set_and_unset_with_its_line() {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# mine\n");
    set(&sandbox, &["--shell", "bash"]).expect_code(0);
    let bashrc = sandbox.home.join(".bashrc");
    let text = fs::read_to_string(&bashrc).unwrap();
    let edited = text.replace("# <<< dashkey <<<", "alias gs='git status'\n# <<< dashkey <<<");
    let line = edited.lines().position(|l| l.starts_with("alias gs")).unwrap() + 1;
    fs::write(&bashrc, &edited).unwrap();
    for args in [&["set", "--stdin", "--offline", "--shell", "bash"][..], &["unset"][..]] {
        let run = sandbox.run_bounded(args, Some(OTHER_KEY));
        run.expect_code(1);
        assert!(run.stderr.contains(&format!(".bashrc:{line}")), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("move it"), "{}", run.stderr);
        assert_eq!(fs::read_to_string(&bashrc).unwrap(), edited, "{args:?} changed nothing");
    }
    // Moved out of the block, the line is kept by both.
    let moved = format!("alias gs='git status'\n{text}");
    fs::write(&bashrc, &moved).unwrap();
    set(&sandbox, &["--shell", "bash"]).expect_code(0);
    sandbox.run_bounded(&["unset"], None).expect_code(0);
    assert_eq!(fs::read_to_string(&bashrc).unwrap(), "alias gs='git status'\n# mine\n");
}

#[test]
fn unset_after_set_migrate_puts_the_removed_lines_back_byte_for_byte() {
    let mut sandbox = Sandbox::new();
    sandbox.secret(USER_KEY);
    let original = format!("# mine\nexport DASHSCOPE_API_KEY={USER_KEY}\nalias ll='ls -l'\r\nlast");
    sandbox.write(".bashrc", &original);
    let before = file_contents(&sandbox.home);
    set(&sandbox, &["--shell", "bash", "--migrate"]).expect_code(0);
    assert!(!fs::read_to_string(sandbox.home.join(".bashrc")).unwrap().contains(USER_KEY));
    sandbox.run_bounded(&["unset"], None).expect_code(0);
    assert_eq!(file_contents(&sandbox.home), before, "the file and nothing else, as before");
}

#[test]
fn unset_after_set_migrate_keeps_later_changes_and_the_backup_and_says_where_it_is() {
    let mut sandbox = Sandbox::new();
    sandbox.secret(USER_KEY);
    sandbox.write(".bashrc", format!("# mine\nexport DASHSCOPE_API_KEY={USER_KEY}\n"));
    set(&sandbox, &["--shell", "bash", "--migrate"]).expect_code(0);
    let bashrc = sandbox.home.join(".bashrc");
    let mut text = fs::read_to_string(&bashrc).unwrap();
    text.push_str("alias later=1\n");
    fs::write(&bashrc, &text).unwrap();
    let run = sandbox.run_bounded(&["unset"], None);
    run.expect_code(0);
    assert_eq!(fs::read_to_string(&bashrc).unwrap(), "# mine\nalias later=1\n");
    let backups: Vec<_> = fs::read_dir(&sandbox.home)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".bashrc.dashkey-backup-"))
        .collect();
    assert_eq!(backups.len(), 1, "the backup stays");
    let name = backups[0].file_name().to_string_lossy().into_owned();
    assert!(run.stderr.contains(&name) && run.stderr.contains("changed since"), "{}", run.stderr);
}

#[test]
fn the_sdk_key_file_backup_is_not_called_a_migrate_backup() {
    let mut sandbox = Sandbox::new();
    sandbox.secret(USER_KEY);
    sandbox.write(".dashscope/api_key", format!("{USER_KEY}\n"));
    set(&sandbox, &["--no-modify-rc"]).expect_code(0);
    sandbox.write(".dashscope/api_key", format!("{OTHER_KEY}\n"));
    let run = sandbox.run_bounded(&["unset"], None);
    run.expect_code(0);
    assert!(run.stderr.contains("api_key.before-dashkey"), "{}", run.stderr);
    assert!(!run.stderr.contains("--migrate"), "{}", run.stderr);
}

#[test]
fn after_a_killed_set_unset_leaves_no_empty_created_files_temporaries_or_backups() {
    let Some(strace) = tool("strace") else { return };
    let mut trials = 0;
    for (symlinked, syscall) in
        [(false, "openat"), (false, "rename"), (false, "write"), (true, "openat"), (true, "rename")]
    {
        for when in (1..=60).step_by(3) {
            let mut sandbox = Sandbox::new();
            sandbox.secret(USER_KEY);
            let bashrc = format!("# mine\nexport DASHSCOPE_API_KEY={USER_KEY}\n");
            if symlinked {
                // A dotfiles repository: the startup file is a link into it.
                sandbox.write("dotfiles/bashrc", bashrc);
                symlink("dotfiles/bashrc", sandbox.home.join(".bashrc")).unwrap();
            } else {
                sandbox.write(".bashrc", bashrc);
            }
            sandbox.write(".dashscope/api_key", format!("{USER_KEY}\n"));
            let before = file_contents(&sandbox.home);
            let mut command = sandbox.program(&strace);
            command
                .args(["-f", "-qq", "-o", "/dev/null", "-e"])
                .arg(format!("trace={syscall}"))
                .arg("-e")
                .arg(format!("inject={syscall}:signal=KILL:when={when}"))
                .arg(assert_cmd::cargo::cargo_bin("dashkey"))
                .args(["set", "--stdin", "--offline", "--migrate", "--gui"]);
            let mut command = assert_cmd::Command::from_std(command);
            command.write_stdin(KEY).timeout(std::time::Duration::from_secs(60));
            let killed = command.output().unwrap();
            assert!(killed.status.code() != Some(3), "{syscall}@{when}: {killed:?}");
            let run = sandbox.run_bounded(&["unset"], None);
            run.expect_code(0);
            let after = file_contents(&sandbox.home);
            assert_eq!(
                after.keys().collect::<Vec<_>>(),
                before.keys().collect::<Vec<_>>(),
                "{syscall}@{when} (symlinked: {symlinked}): only the user's files are left"
            );
            assert_eq!(
                after, before,
                "{syscall}@{when} (symlinked: {symlinked}): and they hold what they held"
            );
            if symlinked {
                let link = fs::symlink_metadata(sandbox.home.join(".bashrc")).unwrap();
                assert!(link.file_type().is_symlink(), "{syscall}@{when}: the link stays");
            }
            trials += 1;
        }
    }
    eprintln!("{trials} killed sets, each followed by unset");
}

/// A supervisord configuration with two programs.
const TWO_PROGRAMS: &str = "[supervisord]\nnodaemon=true\n\n[program:a]\ncommand=/bin/a\nenvironment=A=\"1\"\n\n[program:b]\ncommand=/bin/b\n";

fn stored() -> Sandbox {
    let sandbox = Sandbox::new();
    set(&sandbox, &["--no-modify-rc"]).expect_code(0);
    sandbox
}

fn section<'a>(text: &'a str, program: &str) -> &'a str {
    let header = format!("[program:{program}]");
    let start = text.find(&header).unwrap();
    let rest = &text[start + header.len()..];
    &rest[..rest.find("\n[").map_or(rest.len(), |end| end + 1)]
}

#[test]
fn two_supervisord_programs_in_one_file_each_get_and_lose_only_their_own_block() {
    let sandbox = stored();
    let conf = sandbox.root().join("supervisord.conf");
    fs::write(&conf, TWO_PROGRAMS).unwrap();
    let c = conf.to_str().unwrap();
    for program in ["a", "b"] {
        sandbox
            .run_bounded(&["service", "install", "--supervisord", program, "-c", c], None)
            .expect_code(0);
    }
    let text = fs::read_to_string(&conf).unwrap();
    for program in ["a", "b"] {
        let own = section(&text, program);
        assert!(own.contains(&format!("DASHSCOPE_API_KEY=\"{KEY}\"")), "{program}:\n{text}");
        assert!(own.contains(&format!("# >>> dashkey program:{program} >>>")), "{text}");
    }
    assert!(section(&text, "a").contains("A=\"1\""), "a keeps its own variable");
    sandbox
        .run_bounded(&["service", "uninstall", "--supervisord", "b", "-c", c], None)
        .expect_code(0);
    let text = fs::read_to_string(&conf).unwrap();
    assert!(section(&text, "a").contains(KEY), "uninstalling b leaves a's key:\n{text}");
    assert!(!section(&text, "b").contains(KEY), "{text}");
    check_with_supervisord(&sandbox, &conf);
    sandbox
        .run_bounded(&["service", "uninstall", "--supervisord", "a", "-c", c], None)
        .expect_code(0);
    assert_eq!(fs::read_to_string(&conf).unwrap(), TWO_PROGRAMS, "byte for byte");
}

/// supervisord itself accepts the file (it refuses a malformed one at start).
fn check_with_supervisord(sandbox: &Sandbox, conf: &Path) {
    let Some(supervisord) = tool("supervisord") else { return };
    let dir = sandbox.root().join("sv");
    fs::create_dir_all(&dir).unwrap();
    let text = fs::read_to_string(conf).unwrap();
    let text = text.replace(
        "[supervisord]\nnodaemon=true\n",
        &format!(
            "[supervisord]\nnodaemon=true\nuser=root\nlogfile={d}/log\npidfile={d}/pid\n\
             [unix_http_server]\nfile={d}/sock\n[rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            d = dir.display()
        ),
    );
    let text = text.replace("/bin/a", "/bin/true").replace("/bin/b", "/bin/true");
    let copy = dir.join("check.conf");
    fs::write(&copy, text).unwrap();
    // `supervisord -c FILE` with a bad option exits at once with an error; a good file runs,
    // and is stopped after it started (its log says so).
    let mut child = std::process::Command::new(supervisord)
        .arg("-c")
        .arg(&copy)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = dir.join("log");
    let mut started = false;
    for _ in 0..200 {
        if fs::read_to_string(&log).is_ok_and(|l| l.contains("supervisord started")) {
            started = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    assert!(started, "supervisord refused the file: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_block_from_an_earlier_version_is_recognised_in_its_own_program_section_only() {
    let sandbox = stored();
    let conf = sandbox.root().join("supervisord.conf");
    // What earlier versions wrote for program a (unnamed markers), with b untouched.
    let legacy = format!(
        "[supervisord]\nnodaemon=true\n\n[program:a]\ncommand=/bin/a\n# >>> dashkey >>>\n\
         # The DashScope API key for this program; remove with `dashkey service uninstall`.\n\
         # dashkey replaced this line: environment=A=\"1\"\n\
         environment=A=\"1\",DASHSCOPE_API_KEY=\"{KEY}\"\n# <<< dashkey <<<\n\n[program:b]\ncommand=/bin/b\n"
    );
    fs::write(&conf, &legacy).unwrap();
    let c = conf.to_str().unwrap();
    sandbox
        .run_bounded(&["service", "install", "--supervisord", "b", "-c", c], None)
        .expect_code(0);
    let text = fs::read_to_string(&conf).unwrap();
    assert!(section(&text, "a").contains(KEY) && section(&text, "b").contains(KEY), "{text}");
    sandbox
        .run_bounded(&["service", "uninstall", "--supervisord", "a", "-c", c], None)
        .expect_code(0);
    let text = fs::read_to_string(&conf).unwrap();
    assert!(!section(&text, "a").contains(KEY), "{text}");
    assert!(section(&text, "a").contains("environment=A=\"1\"\n"), "a's own line is back");
    assert!(section(&text, "b").contains(KEY), "b keeps its key:\n{text}");
    sandbox
        .run_bounded(&["service", "uninstall", "--supervisord", "b", "-c", c], None)
        .expect_code(0);
    assert_eq!(fs::read_to_string(&conf).unwrap(), TWO_PROGRAMS);
}

#[test]
fn a_config_directory_tracked_by_git_never_shows_dashkeys_files() {
    let Some(git) = tool("git") else { return };
    let sandbox = Sandbox::new();
    let config = sandbox.home.join(".config");
    fs::create_dir_all(&config).unwrap();
    let git_run = |args: &[&str]| {
        let output = sandbox
            .program(&git)
            .arg("-C")
            .arg(&config)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    git_run(&["init", "-q"]);
    fs::write(config.join("tracked.conf"), "x\n").unwrap();
    set(&sandbox, &["--no-modify-rc", "--gui"]).expect_code(0);
    let status = git_run(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(!status.contains("dashkey/"), "git sees dashkey's files:\n{status}");
    assert!(status.contains("tracked.conf"), "git still sees the user's own: {status}");
    assert_eq!(
        fs::read_to_string(config.join("dashkey/.gitignore")).unwrap().lines().last(),
        Some("*")
    );
    sandbox.run_bounded(&["unset"], None).expect_code(0);
    assert!(!config.join("dashkey").exists(), "unset removes the .gitignore with the directory");
}

#[test]
fn a_line_added_inside_a_programs_block_is_refused_with_its_line() {
    let sandbox = stored();
    let conf = sandbox.root().join("supervisord.conf");
    fs::write(&conf, TWO_PROGRAMS).unwrap();
    let c = conf.to_str().unwrap();
    sandbox
        .run_bounded(&["service", "install", "--supervisord", "a", "-c", c], None)
        .expect_code(0);
    let text = fs::read_to_string(&conf).unwrap();
    let edited = text
        .replace("# <<< dashkey program:a <<<", "autorestart=true\n# <<< dashkey program:a <<<");
    let line = edited.lines().position(|l| l == "autorestart=true").unwrap() + 1;
    fs::write(&conf, &edited).unwrap();
    for verb in ["install", "uninstall"] {
        let run = sandbox.run_bounded(&["service", verb, "--supervisord", "a", "-c", c], None);
        assert_ne!(run.code, 0, "{verb}: {}", run.stdout);
        assert!(run.stderr.contains(&format!("supervisord.conf:{line}")), "{verb}: {}", run.stderr);
        assert_eq!(fs::read_to_string(&conf).unwrap(), edited, "{verb} changed nothing");
    }
}
