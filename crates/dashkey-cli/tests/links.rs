//! Per-project profiles: `dashkey link NAME` in a directory, real interactive bash, zsh and
//! fish switching on `cd` (and back on leaving), nested links, the `execve` count of a `cd`,
//! the commands that follow a link (`run`, `env`, `export`, `key`, `verify`, `status`,
//! `doctor`, `region`), a link to a profile that is gone, and `unset` with links present.

// Unix only: real shells, strace and unix file modes.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};

use common::{KEY, OTHER_KEY, Sandbox, snapshot, tool};

const THIRD_KEY: &str = "sk-5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const BJ_URL: &str = "https://dashscope.aliyuncs.com/api/v1";
const SG_URL: &str = "https://dashscope-intl.aliyuncs.com/api/v1";
const US_URL: &str = "https://dashscope-us.aliyuncs.com/api/v1";
const PRINT: &str = "printf '%s|%s' \"$DASHSCOPE_API_KEY\" \"$DASHSCOPE_HTTP_BASE_URL\"";

/// A bash, zsh and fish user whose default key is stored for Beijing.
fn bash_zsh_fish_user(sandbox: &Sandbox) {
    sandbox.write(".bashrc", "# bashrc\n");
    sandbox.write(".zshrc", "# zshrc\n");
    sandbox.write(".config/fish/config.fish", "# fish\n");
    let shells = ["--region", "cn-beijing", "--shell", "bash", "--shell", "zsh", "--shell", "fish"];
    sandbox.set_offline(KEY, &shells).expect_code(0);
}

/// A bash, zsh and fish user with `default` (Beijing) in use, `work` (Singapore) and `side`
/// (Virginia) stored; projects outside HOME: `proj` linked to work, `proj/inner` to side,
/// and `plain` with no link.
fn linked() -> Sandbox {
    let mut sandbox = Sandbox::new();
    sandbox.secret(THIRD_KEY);
    bash_zsh_fish_user(&sandbox);
    sandbox
        .set_offline(OTHER_KEY, &["--region", "ap-southeast-1", "--profile", "work"])
        .expect_code(0);
    sandbox.set_offline(THIRD_KEY, &["--region", "us-east-1", "--profile", "side"]).expect_code(0);
    for dir in ["proj/sub", "proj/inner/deep", "plain"] {
        std::fs::create_dir_all(project(&sandbox, dir)).unwrap();
    }
    link(&sandbox, "proj", "work").expect_code(0);
    link(&sandbox, "proj/inner", "side").expect_code(0);
    sandbox
}

fn project(sandbox: &Sandbox, dir: &str) -> PathBuf {
    sandbox.root().join("projects").join(dir)
}

/// `dashkey ARGS` with its working directory in a project.
fn in_dir(sandbox: &Sandbox, dir: &str, args: &[&str]) -> common::Run {
    let mut command = sandbox.command();
    command.args(args).current_dir(project(sandbox, dir));
    common::feed(command, None).into()
}

fn link(sandbox: &Sandbox, dir: &str, name: &str) -> common::Run {
    in_dir(sandbox, dir, &["link", name])
}

/// An interactive shell fed `script` on stdin, as a user types it; what it printed.
fn interactive(sandbox: &Sandbox, shell: &Path, script: &str) -> String {
    let mut command = sandbox.program(shell);
    command.arg("-i").env("TERM", "dumb");
    let output = common::feed(command, Some(script));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The script: each step `cd`s and prints `@KEY|URL`, then the shell exits.
fn walk(sandbox: &Sandbox, steps: &[&str]) -> String {
    let mut script = String::new();
    for step in steps {
        let dir = match *step {
            "/" => "/".to_string(),
            dir => project(sandbox, dir).display().to_string(),
        };
        script.push_str(&format!(
            "cd '{dir}'\necho \"@$DASHSCOPE_API_KEY|$DASHSCOPE_HTTP_BASE_URL\"\n"
        ));
    }
    script.push_str("exit\n");
    script
}

/// The one finding of doctor's report with this id.
#[track_caller]
fn finding(report: &serde_json::Value, id: &str) -> serde_json::Value {
    let all = report["findings"].as_array().unwrap();
    all.iter().find(|f| f["id"] == id).unwrap_or_else(|| panic!("no {id}: {report}")).clone()
}

fn seen(output: &str) -> Vec<String> {
    output.lines().filter_map(|l| l.strip_prefix('@')).map(str::to_string).collect()
}

#[test]
fn a_linked_tree_switches_on_cd_and_back_on_leaving_and_the_nearest_link_wins() {
    let sandbox = linked();
    let text = std::fs::read_to_string(project(&sandbox, "proj/.dashkey-profile")).unwrap();
    assert_eq!(text, "work\n", "the link file is the name alone");
    let steps = ["proj/sub", "proj/inner/deep", "proj", "plain", "proj/inner", "/"];
    let expected: Vec<String> = [
        (OTHER_KEY, SG_URL),
        (THIRD_KEY, US_URL),
        (OTHER_KEY, SG_URL),
        (KEY, BJ_URL),
        (THIRD_KEY, US_URL),
        (KEY, BJ_URL),
    ]
    .iter()
    .map(|(k, u)| format!("{k}|{u}"))
    .collect();
    for name in ["bash", "zsh", "fish"] {
        let Some(shell) = tool(name) else { continue };
        let out = interactive(&sandbox, &shell, &walk(&sandbox, &steps));
        assert_eq!(seen(&out), expected, "{name}: {out}");
    }
    // A shell started inside a linked tree has its profile from the first prompt on.
    for name in ["bash", "zsh", "fish"] {
        let Some(shell) = tool(name) else { continue };
        let mut command = sandbox.program(&shell);
        command.arg("-i").env("TERM", "dumb").current_dir(project(&sandbox, "proj/sub"));
        let script = "echo \"@$DASHSCOPE_API_KEY|$DASHSCOPE_HTTP_BASE_URL\"\nexit\n";
        let out = String::from_utf8_lossy(&common::feed(command, Some(script)).stdout).into_owned();
        assert_eq!(seen(&out), [format!("{OTHER_KEY}|{SG_URL}")], "{name}: {out}");
    }
    // Leaving the tree gives the profile in use, whichever it is now.
    sandbox.run_bounded(&["use", "side"], None).expect_code(0);
    for name in ["bash", "zsh", "fish"] {
        let Some(shell) = tool(name) else { continue };
        let out = interactive(&sandbox, &shell, &walk(&sandbox, &["proj", "plain"]));
        let expected = [format!("{OTHER_KEY}|{SG_URL}"), format!("{THIRD_KEY}|{US_URL}")];
        assert_eq!(seen(&out), expected, "{name} after `use side`: {out}");
    }
}

/// The switch is pure shell: a `cd` into a linked directory (which loads another profile's
/// file) starts exactly as many programs as a `cd` into a plain one, in each shell.
#[test]
fn a_cd_into_a_linked_directory_starts_no_more_processes_than_into_a_plain_one() {
    let sandbox = linked();
    for name in ["bash", "zsh", "fish"] {
        let Some(shell) = tool(name) else { continue };
        let mut counts = Vec::new();
        for dir in ["proj/inner/deep", "plain"] {
            let script = format!("cd '{}'\ncd ..\nexit\n", project(&sandbox, dir).display());
            let log = format!("execve-{name}-{}.log", dir.replace('/', "-"));
            let Some((started, _)) =
                common::traced_execs(&sandbox, &shell, &["-i"], Some(&script), &log)
            else {
                return;
            };
            counts.push(started);
        }
        assert_eq!(counts[0].len(), counts[1].len(), "{name}: linked {counts:?}");
        assert_eq!(counts[0].len(), 1, "{name} started programs: {:?}", counts[0]);
    }
}

#[test]
fn commands_follow_the_nearest_link_and_profile_beats_it() {
    let sandbox = linked();
    let run = in_dir(&sandbox, "proj/sub", &["run", "--", "sh", "-c", PRINT]);
    assert_eq!(run.stdout, format!("{OTHER_KEY}|{SG_URL}"), "{}", run.stderr);
    let run = in_dir(&sandbox, "proj/inner/deep", &["run", "--", "sh", "-c", PRINT]);
    assert_eq!(run.stdout, format!("{THIRD_KEY}|{US_URL}"), "{}", run.stderr);
    let run =
        in_dir(&sandbox, "proj/sub", &["run", "--profile", "default", "--", "sh", "-c", PRINT]);
    assert_eq!(run.stdout, format!("{KEY}|{BJ_URL}"), "{}", run.stderr);
    let run = in_dir(&sandbox, "plain", &["run", "--", "sh", "-c", PRINT]);
    assert_eq!(run.stdout, format!("{KEY}|{BJ_URL}"), "{}", run.stderr);

    let export = in_dir(&sandbox, "proj", &["export", "--format", "dotenv"]);
    assert!(export.stdout.contains(OTHER_KEY) && !export.stdout.contains(KEY), "{}", export.stdout);
    let export = in_dir(&sandbox, "proj", &["export", "--format", "dotenv", "--profile", "side"]);
    assert!(export.stdout.contains(THIRD_KEY), "{}", export.stdout);
    let key = in_dir(&sandbox, "proj/inner", &["key"]);
    assert_eq!(key.stdout, format!("{THIRD_KEY}\n"), "{}", key.stderr);
    let env = in_dir(&sandbox, "proj", &["env", "--shell", "fish"]);
    assert!(env.stdout.contains(OTHER_KEY) && env.stdout.contains(SG_URL), "{}", env.stdout);

    assert_eq!(in_dir(&sandbox, "proj", &["region"]).stdout, "ap-southeast-1\n");
    assert_eq!(in_dir(&sandbox, "plain", &["region"]).stdout, "cn-beijing\n");
    assert_eq!(in_dir(&sandbox, "plain", &["region", "--profile", "side"]).stdout, "us-east-1\n");

    let status = in_dir(&sandbox, "proj/sub", &["status", "--json"]).json();
    assert_eq!(status["profile"]["name"], "work");
    assert_eq!(status["profile"]["why"], "link");
    let link = project(&sandbox, "proj/.dashkey-profile").display().to_string();
    assert_eq!(status["profile"]["link"], link);
    assert_eq!(status["profile"]["region"], "ap-southeast-1");
    let text = in_dir(&sandbox, "proj/sub", &["status"]).stdout;
    assert!(
        text.contains("profile here: 'work' (linked by") && text.contains("sk-…6b5a"),
        "{text}"
    );
    let plain = in_dir(&sandbox, "plain", &["status", "--json"]).json();
    assert!(plain.get("profile").is_none(), "{plain}");
    let flagged = in_dir(&sandbox, "plain", &["status", "--json", "--profile", "side"]).json();
    assert_eq!(flagged["profile"]["why"], "flag");

    let doctor = in_dir(&sandbox, "proj", &["doctor", "--json"]).json();
    let found = finding(&doctor, "profile-link");
    assert_eq!(found["severity"], "ok", "{found}");
    assert!(found["title"].as_str().unwrap().contains("'work'"), "{found}");
    // doctor judges this environment against the linked profile: work's key is right in the
    // linked tree and stale outside it.
    let dashkey = common::dashkey_bin().display().to_string();
    let with_work_key = |dir: &str| {
        let args = ["run", "--profile", "work", "--", dashkey.as_str(), "doctor", "--json"];
        finding(&in_dir(&sandbox, dir, &args).json(), "stale-env")["severity"].clone()
    };
    assert_eq!(with_work_key("proj/sub"), "ok");
    assert_eq!(with_work_key("plain"), "fail");
}

#[test]
fn region_of_a_linked_profile_moves_only_that_profile() {
    let sandbox = linked();
    let before = common::file_contents(&sandbox.home);
    in_dir(&sandbox, "proj", &["region", "cn-hongkong"]).expect_code(0);
    let after = common::file_contents(&sandbox.home);
    let changed: Vec<_> =
        after.keys().filter(|p| before.get(*p) != after.get(*p)).cloned().collect();
    let expected: Vec<PathBuf> = vec![
        ".config/dashkey/profiles/work/env.fish".into(),
        ".config/dashkey/profiles/work/env.sh".into(),
        ".config/dashkey/record.json".into(),
    ];
    assert_eq!(changed, expected);
    assert_eq!(in_dir(&sandbox, "proj", &["region"]).stdout, "cn-hongkong\n");
    let run = in_dir(&sandbox, "proj", &["run", "--", "sh", "-c", PRINT]);
    assert!(run.stdout.starts_with(&format!("{OTHER_KEY}|https://")), "{}", run.stdout);
    assert!(!run.stdout.ends_with(SG_URL), "{}", run.stdout);
}

#[test]
fn a_link_to_a_profile_that_is_not_stored_is_harmless_in_shells_and_flagged() {
    let sandbox = linked();
    std::fs::write(project(&sandbox, "plain/.dashkey-profile"), "gone\n").unwrap();
    for name in ["bash", "zsh", "fish"] {
        let Some(shell) = tool(name) else { continue };
        let out = interactive(&sandbox, &shell, &walk(&sandbox, &["plain", "proj"]));
        let expected = [format!("{KEY}|{BJ_URL}"), format!("{OTHER_KEY}|{SG_URL}")];
        assert_eq!(seen(&out), expected, "{name}: {out}");
    }
    let run = in_dir(&sandbox, "plain", &["run", "--", "true"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("the profile 'gone', which is not stored"), "{}", run.stderr);
    let status = in_dir(&sandbox, "plain", &["status"]).stdout;
    assert!(status.contains("'gone'") && status.contains("dashkey unlink"), "{status}");
    let doctor = in_dir(&sandbox, "plain", &["doctor", "--json"]).json();
    let found = finding(&doctor, "profile-link");
    assert_eq!(found["severity"], "warn", "{found}");
    assert_eq!(found["fix"], "dashkey unlink");
    // Something that is not a name at all is ignored by shells and flagged the same way.
    std::fs::write(project(&sandbox, "plain/.dashkey-profile"), "$(touch /tmp/x)\n").unwrap();
    let doctor = in_dir(&sandbox, "plain/", &["doctor", "--json"]).json();
    assert_eq!(finding(&doctor, "profile-link")["severity"], "warn");
    if let Some(bash) = tool("bash") {
        let out = interactive(&sandbox, &bash, &walk(&sandbox, &["plain"]));
        assert_eq!(seen(&out), [format!("{KEY}|{BJ_URL}")], "{out}");
    }
}

#[test]
fn link_and_unlink_refuse_bad_input_and_change_nothing() {
    let sandbox = linked();
    let home = snapshot(&sandbox.home);
    let projects = snapshot(&sandbox.root().join("projects"));
    for (dir, args, says) in [
        ("plain", vec!["link", "nope"], "no profile 'nope' is stored"),
        ("plain", vec!["link", "../x"], "'../x' is not a profile name"),
        ("plain", vec!["link", "Work"], "'Work' is not a profile name"),
        ("plain", vec!["unlink"], "no .dashkey-profile in this directory"),
        ("proj/sub", vec!["unlink"], "the link that applies here is"),
        ("plain", vec!["run", "--profile", "a b", "--", "true"], "'a b' is not a profile name"),
        ("proj", vec!["verify", "--profile", "nope"], "no profile 'nope' is stored"),
        ("proj", vec!["region", "--profile", "nope"], "no profile 'nope' is stored"),
        ("proj", vec!["key", "--profile", "nope"], "no profile 'nope' is stored"),
    ] {
        let run = in_dir(&sandbox, dir, &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert_eq!(snapshot(&sandbox.home), home, "{args:?} changed HOME");
        assert_eq!(snapshot(&sandbox.root().join("projects")), projects, "{args:?}");
    }
    // Removing the profile a link names is the user's choice; the link then falls back.
    sandbox.run_bounded(&["unset", "--profile", "side"], None).expect_code(0);
    let run = in_dir(&sandbox, "proj/inner", &["run", "--", "true"]);
    assert!(run.stderr.contains("'side', which is not stored"), "{}", run.stderr);
    // unlink removes the link in this directory and says which one applies now.
    let run = in_dir(&sandbox, "proj/inner", &["unlink"]);
    run.expect_code(0);
    assert!(run.stdout.contains("still links this tree to 'work'"), "{}", run.stdout);
    assert!(!project(&sandbox, "proj/inner/.dashkey-profile").exists());
    let run = in_dir(&sandbox, "proj/inner", &["run", "--", "sh", "-c", PRINT]);
    assert_eq!(run.stdout, format!("{OTHER_KEY}|{SG_URL}"));
}

#[test]
fn unset_with_links_present_restores_home_byte_for_byte_and_leaves_the_links() {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# bashrc\n");
    sandbox.write(".config/fish/config.fish", "# fish\n");
    let pristine = snapshot(&sandbox.home);
    sandbox
        .set_offline(KEY, &["--region", "cn-beijing", "--shell", "bash", "--shell", "fish"])
        .expect_code(0);
    let with_default = snapshot(&sandbox.home);
    sandbox
        .set_offline(OTHER_KEY, &["--region", "ap-southeast-1", "--profile", "work"])
        .expect_code(0);
    std::fs::create_dir_all(project(&sandbox, "proj")).unwrap();
    link(&sandbox, "proj", "work").expect_code(0);
    sandbox.run_bounded(&["unset", "--profile", "work"], None).expect_code(0);
    assert_eq!(snapshot(&sandbox.home), with_default);
    sandbox
        .set_offline(OTHER_KEY, &["--region", "ap-southeast-1", "--profile", "work"])
        .expect_code(0);
    sandbox.run_bounded(&["use", "work"], None).expect_code(0);
    sandbox.run_bounded(&["unset"], None).expect_code(0);
    assert_eq!(snapshot(&sandbox.home), pristine);
    // The link is the user's file: still there, and harmless with nothing stored.
    assert!(project(&sandbox, "proj/.dashkey-profile").is_file());
    if let Some(bash) = tool("bash") {
        let out = interactive(&sandbox, &bash, &walk(&sandbox, &["proj"]));
        assert_eq!(seen(&out), ["|"], "{out}");
    }
}

/// `link` says when the shells cannot switch yet: dashkey's `env.sh` was written by a dashkey
/// without the switch (its trailer missing), or no profile is in use; `set --keep-key` adds it.
#[test]
fn link_says_when_shells_will_not_switch_and_set_keep_key_adds_the_switch() {
    let sandbox = linked();
    let env_sh = sandbox.home.join(".config/dashkey/env.sh");
    let text = std::fs::read_to_string(&env_sh).unwrap();
    let old = &text[..text.find("# >>> dashkey link").unwrap()];
    std::fs::write(&env_sh, old).unwrap();
    let run = link(&sandbox, "plain", "work");
    assert!(run.stdout.contains("an older dashkey wrote"), "{}", run.stdout);
    if let Some(bash) = tool("bash") {
        let out = interactive(&sandbox, &bash, &walk(&sandbox, &["plain"]));
        assert_eq!(seen(&out), [format!("{KEY}|{BJ_URL}")], "no switch without it: {out}");
    }
    sandbox.run_bounded(&["set", "--keep-key"], None).expect_code(0);
    let run = link(&sandbox, "plain", "work");
    assert!(!run.stdout.contains("older dashkey"), "{}", run.stdout);
    if let Some(bash) = tool("bash") {
        let out = interactive(&sandbox, &bash, &walk(&sandbox, &["plain"]));
        assert_eq!(seen(&out), [format!("{OTHER_KEY}|{SG_URL}")], "{out}");
    }
    let only_profiles = Sandbox::new();
    only_profiles.set_offline(OTHER_KEY, &["--profile", "work"]).expect_code(0);
    std::fs::create_dir_all(project(&only_profiles, "p")).unwrap();
    let run = link(&only_profiles, "p", "work");
    assert!(run.stdout.contains("No profile is in use"), "{}", run.stdout);
}

/// A switch hands over exactly what `dashkey run` hands over in that directory: the Coding
/// Plan key stays beside a standard profile and is a Coding Plan profile's own key in its
/// tree; a `--client` name and a workspace of one profile are gone in a profile that does not
/// set them; and a name dashkey never wrote is left alone.
#[test]
fn a_switch_keeps_the_coding_plan_key_and_drops_what_the_next_profile_does_not_set() {
    let sandbox = clients_and_workspaces();
    let steps = ["proj", "wsd", "cp", "proj", "plain", "wsd", "plain", "cp", "plain"];
    let expected: Vec<String> = steps.iter().flat_map(|dir| truth(&sandbox, dir)).collect();
    assert_eq!(expected[0], format!("{OTHER_KEY}|{CODING}|{OTHER_KEY}|||mine|"));
    assert_eq!(expected[1], format!("{THIRD_KEY}|{CODING}||ws-frank1|ws-frank1|mine|"));
    assert_eq!(expected[2], format!("{CODING}|{CODING}||||mine|"));
    assert_eq!(expected[4], format!("{KEY}|{CODING}||||mine|"));
    let mut script = String::new();
    for dir in steps {
        let dir = project(&sandbox, dir).display().to_string();
        script.push_str(&format!("cd '{dir}'\necho \"@{}\"\n", print_names()));
    }
    script.push_str("exit\n");
    for name in ["bash", "zsh", "fish"] {
        let Some(shell) = tool(name) else { continue };
        let mut command = sandbox.program(&shell);
        command.arg("-i").env("TERM", "dumb").env("AI_DASHSCOPE_API_KEY", "mine");
        let out =
            String::from_utf8_lossy(&common::feed(command, Some(&script)).stdout).into_owned();
        assert_eq!(seen(&out), expected, "{name}: {out}");
    }
}

/// A shell started from a switched shell (`bash -i` typed in a linked tree, a multiplexer
/// pane) inherits the profile's values: on leaving the tree it puts back the user's own
/// values and the profile in use, not the parent's profile's, whether it started inside the
/// tree, moves to another profile's tree, or started outside.
#[test]
fn a_shell_started_inside_a_linked_tree_does_not_keep_its_profile_on_leaving() {
    let sandbox = clients_and_workspaces();
    let print = print_names();
    let at = |dir: &str| project(&sandbox, dir).display().to_string();
    // The parent is in `wsd` (a workspace profile) or `proj` (a --client profile); the child
    // starts there, leaves, enters the other tree, leaves; the parent is still switched.
    let cases = [("wsd", ["plain", "proj", "plain"]), ("proj", ["plain", "wsd", "cp"])];
    for name in ["bash", "zsh", "fish"] {
        let Some(shell) = tool(name) else { continue };
        for (start, moves) in cases {
            let mut child = format!("echo \"@{print}\"\n");
            for dir in moves {
                child.push_str(&format!("cd '{}'\necho \"@{print}\"\n", at(dir)));
            }
            child.push_str("exit\n");
            let child = sandbox.write(&format!("child-{name}-{start}"), child);
            let script = format!(
                "cd '{}'\n'{}' -i < '{}'\necho \"@{print}\"\ncd '{}'\necho \"@{print}\"\nexit\n",
                at(start),
                shell.display(),
                child.display(),
                at("plain")
            );
            let mut command = sandbox.program(&shell);
            command.arg("-i").env("TERM", "dumb").env("AI_DASHSCOPE_API_KEY", "mine");
            let out =
                String::from_utf8_lossy(&common::feed(command, Some(&script)).stdout).into_owned();
            let steps = [start].into_iter().chain(moves).chain([start, "plain"]);
            let expected: Vec<String> = steps.flat_map(|dir| truth(&sandbox, dir)).collect();
            assert_eq!(seen(&out), expected, "{name} from {start}: {out}");
        }
    }
}

const CODING: &str = "sk-sp-3f9a1c0b7d2e4f6a8b0c1d2e3f4a5b6c";

/// The names the two tests above print, as shell text: `$NAME|` each.
fn print_names() -> String {
    let names = [
        "DASHSCOPE_API_KEY",
        "BAILIAN_CODING_PLAN_API_KEY",
        "OPENAI_API_KEY",
        "DASHSCOPE_WORKSPACE_ID",
        "DASHSCOPE_WORKSPACE",
        "AI_DASHSCOPE_API_KEY",
    ];
    names.iter().map(|n| format!("${n}|")).collect()
}

/// What `dashkey run` hands over in `dir`, with the user's own value of a name dashkey
/// writes for another client (none of its files sets it) beside.
fn truth(sandbox: &Sandbox, dir: &str) -> Vec<String> {
    let mut command = sandbox.command();
    command.args(["run", "--", "sh", "-c", &format!("echo \"@{}\"", print_names())]);
    command.current_dir(project(sandbox, dir)).env("AI_DASHSCOPE_API_KEY", "mine");
    let run: common::Run = common::feed(command, None).into();
    run.expect_code(0);
    seen(&run.stdout)
}

/// A bash, zsh and fish user with profiles `coding` (a Coding Plan key), `work` (a
/// `--client openai` profile) and `ws` (a workspace) linked from `cp`, `proj` and `wsd`, and
/// `plain` not linked.
fn clients_and_workspaces() -> Sandbox {
    let mut sandbox = Sandbox::new();
    sandbox.secret(THIRD_KEY);
    sandbox.secret(CODING);
    bash_zsh_fish_user(&sandbox);
    sandbox.set_offline(CODING, &["--profile", "coding"]).expect_code(0);
    sandbox
        .set_offline(
            OTHER_KEY,
            &["--region", "ap-southeast-1", "--profile", "work", "--client", "openai"],
        )
        .expect_code(0);
    sandbox
        .set_offline(
            THIRD_KEY,
            &["--profile", "ws", "--workspace", "ws-frank1", "--region", "eu-central-1"],
        )
        .expect_code(0);
    for (dir, name) in
        [("proj", Some("work")), ("cp", Some("coding")), ("wsd", Some("ws")), ("plain", None)]
    {
        std::fs::create_dir_all(project(&sandbox, dir)).unwrap();
        if let Some(name) = name {
            link(&sandbox, dir, name).expect_code(0);
        }
    }
    sandbox
}
