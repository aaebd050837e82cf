//! The 2.0 SDK's `~/.dashscope/config.toml`: `set --region` merges the region's native
//! `base_url` into it (other keys and comments kept byte for byte), `unset` gives it back
//! byte for byte, a file that is not TOML or a planted link is refused, and the real Python
//! SDK, started with no shell at all, calls the chosen region.

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};

use common::{KEY, OTHER_KEY, Sandbox, snapshot};

const CONFIG: &str = ".dashscope/config.toml";
const SG_URL: &str = "https://dashscope-intl.aliyuncs.com/api/v1";
const US_URL: &str = "https://dashscope-us.aliyuncs.com/api/v1";
const BJ_URL: &str = "https://dashscope.aliyuncs.com/api/v1";

fn set(sandbox: &Sandbox, key: &str, extra: &[&str]) -> common::Run {
    let mut args = vec!["set", "--stdin", "--offline", "--no-modify-rc"];
    args.extend_from_slice(extra);
    sandbox.run(&args, Some(key))
}

fn mode(sandbox: &Sandbox, relative: &str) -> u32 {
    fs::metadata(sandbox.home.join(relative)).unwrap().permissions().mode() & 0o777
}

fn text(sandbox: &Sandbox, relative: &str) -> String {
    String::from_utf8(sandbox.read(relative)).unwrap()
}

/// What the real 2.0 SDK resolves as its base URL, from `env -i` with only HOME (no shell,
/// no variable): what a program started by a desktop or a scheduler gets.
fn sdk_base_url(sandbox: &Sandbox, python: &std::path::Path) -> String {
    let probe = "from dashscope.v2._config import resolve_config\n\
                 print(resolve_config().base_url)";
    let output = std::process::Command::new("env")
        .arg("-i")
        .arg(format!("HOME={}", sandbox.home.display()))
        .arg(python)
        .args(["-c", probe])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn the_real_sdk_without_a_shell_calls_the_region_set_chose() {
    let Some(python) = common::python_sdk() else { return };
    let sandbox = Sandbox::new();
    assert_eq!(sdk_base_url(&sandbox, &python), BJ_URL);
    set(&sandbox, KEY, &["--region", "ap-southeast-1"]).expect_code(0);
    assert_eq!(sdk_base_url(&sandbox, &python), SG_URL);
    assert_eq!(mode(&sandbox, CONFIG), 0o600);
    // Rotation: `set` again with another region rewrites it; `unset` takes it away.
    set(&sandbox, KEY, &["--region", "us-east-1"]).expect_code(0);
    assert_eq!(sdk_base_url(&sandbox, &python), US_URL);
    sandbox.run(&["unset"], None).expect_code(0);
    assert!(!sandbox.home.join(CONFIG).exists());
    assert_eq!(sdk_base_url(&sandbox, &python), BJ_URL);
}

#[test]
fn a_created_file_is_listed_by_status_rotated_by_region_and_removed_by_unset() {
    let sandbox = Sandbox::new();
    let before = snapshot(&sandbox.home);
    set(&sandbox, KEY, &["--region", "ap-southeast-1"]).expect_code(0);
    assert_eq!(text(&sandbox, CONFIG), format!("base_url = \"{SG_URL}\"\n"));
    // (exit 1: no key in this environment, which has no shell to load it)
    let run = sandbox.run(&["status", "--json"], None).json();
    assert_eq!(run["sdk_config"]["base_url"], SG_URL, "{run}");
    let status = sandbox.run(&["status"], None);
    assert!(status.stdout.contains(SG_URL), "{}", status.stdout);
    // `dashkey region` rotates it like `set` does.
    sandbox.run(&["region", "us-east-1"], None).expect_code(0);
    assert_eq!(text(&sandbox, CONFIG), format!("base_url = \"{US_URL}\"\n"));
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(snapshot(&sandbox.home), before);
}

const USERS: &str = "# my DashScope settings\n\
                     workspace = \"ws-123\"   # the team's\n\
                     \n\
                     [retry]\n\
                     # be patient\n\
                     max_retries = 5\n";

#[test]
fn a_users_file_keeps_its_keys_and_comments_and_comes_back_byte_for_byte() {
    let sandbox = Sandbox::new();
    sandbox.write(CONFIG, USERS);
    fs::set_permissions(sandbox.home.join(CONFIG), fs::Permissions::from_mode(0o644)).unwrap();
    set(&sandbox, KEY, &["--region", "ap-southeast-1"]).expect_code(0);
    let merged = text(&sandbox, CONFIG);
    assert_eq!(
        merged,
        format!(
            "# my DashScope settings\nworkspace = \"ws-123\"   # the team's\n\
             base_url = \"{SG_URL}\"\n\n[retry]\n# be patient\nmax_retries = 5\n"
        )
    );
    assert_eq!(mode(&sandbox, CONFIG), 0o600);
    assert_eq!(text(&sandbox, ".config/dashkey/config.toml.before-dashkey"), USERS);
    assert_eq!(mode(&sandbox, ".config/dashkey/config.toml.before-dashkey"), 0o600);
    // Rotation keeps the user's lines too, and the first backup.
    set(&sandbox, OTHER_KEY, &["--region", "us-east-1"]).expect_code(0);
    assert_eq!(text(&sandbox, CONFIG), merged.replace(SG_URL, US_URL));
    assert_eq!(text(&sandbox, ".config/dashkey/config.toml.before-dashkey"), USERS);
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(text(&sandbox, CONFIG), USERS);
    assert!(!sandbox.home.join(".config/dashkey").exists());
}

#[test]
fn a_users_own_base_url_is_replaced_with_a_note_and_put_back() {
    let sandbox = Sandbox::new();
    let users = format!("base_url = \"{US_URL}\" # mine\ntimeout = 30\n");
    sandbox.write(CONFIG, &users);
    let run = set(&sandbox, KEY, &["--region", "ap-southeast-1"]);
    run.expect_code(0);
    assert!(run.stderr.contains("config.toml.before-dashkey"), "{}", run.stderr);
    assert!(run.stderr.contains(US_URL), "{}", run.stderr);
    assert_eq!(text(&sandbox, CONFIG), format!("base_url = \"{SG_URL}\" # mine\ntimeout = 30\n"));
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(text(&sandbox, CONFIG), users);
}

#[test]
fn a_file_changed_since_keeps_the_changes_and_loses_only_dashkeys_line() {
    let sandbox = Sandbox::new();
    let users = format!("base_url = \"{US_URL}\"\ntimeout = 30\n");
    sandbox.write(CONFIG, &users);
    set(&sandbox, KEY, &["--region", "ap-southeast-1"]).expect_code(0);
    let now = text(&sandbox, CONFIG);
    sandbox.write(CONFIG, format!("{now}# added later\nmax_retries = 2\n"));
    let run = sandbox.run(&["unset"], None);
    run.expect_code(0);
    assert!(run.stderr.contains("changed since"), "{}", run.stderr);
    assert_eq!(
        text(&sandbox, CONFIG),
        format!("base_url = \"{US_URL}\"\ntimeout = 30\n# added later\nmax_retries = 2\n")
    );
    assert!(!sandbox.home.join(".config/dashkey/config.toml.before-dashkey").exists());

    // Created by dashkey and edited since: the user's lines stay, dashkey's goes.
    let sandbox = Sandbox::new();
    set(&sandbox, KEY, &["--region", "ap-southeast-1"]).expect_code(0);
    let now = text(&sandbox, CONFIG);
    sandbox.write(CONFIG, format!("{now}timeout = 9\n"));
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(text(&sandbox, CONFIG), "timeout = 9\n");
}

#[test]
fn a_file_that_is_not_toml_is_refused_with_its_line_and_left_alone() {
    let sandbox = Sandbox::new();
    let broken = "workspace = \"ws\"\nthis is not toml\n";
    sandbox.write(CONFIG, broken);
    let before = snapshot(&sandbox.home);
    let run = set(&sandbox, KEY, &["--region", "ap-southeast-1"]);
    run.expect_code(1);
    assert!(run.stderr.contains(".dashscope/config.toml:2"), "{}", run.stderr);
    assert_eq!(text(&sandbox, CONFIG), broken);
    assert_eq!(snapshot(&sandbox.home), before);
}

#[test]
fn a_link_planted_at_config_toml_is_refused_and_its_target_survives() {
    let sandbox = Sandbox::new();
    let victim = sandbox.write("elsewhere/victim.toml", "precious = true\n");
    fs::create_dir_all(sandbox.home.join(".dashscope")).unwrap();
    symlink(&victim, sandbox.home.join(CONFIG)).unwrap();
    let run = set(&sandbox, KEY, &["--region", "ap-southeast-1"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains(CONFIG), "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious = true\n");
    assert!(fs::symlink_metadata(sandbox.home.join(CONFIG)).unwrap().file_type().is_symlink());
    assert!(!sandbox.home.join(".config/dashkey/env.sh").exists());
}

#[test]
fn a_base_url_the_user_changed_since_is_kept_with_a_note() {
    let sandbox = Sandbox::new();
    sandbox.write(CONFIG, "timeout = 30\n");
    set(&sandbox, KEY, &["--region", "ap-southeast-1"]).expect_code(0);
    let theirs = format!("timeout = 30\nbase_url = \"{US_URL}\"\n");
    sandbox.write(CONFIG, &theirs);
    let run = sandbox.run(&["unset"], None);
    run.expect_code(0);
    assert!(run.stderr.contains("not the one dashkey wrote"), "{}", run.stderr);
    assert_eq!(text(&sandbox, CONFIG), theirs);
    // The file as it was before dashkey stays where it can be found, and is named.
    assert!(run.stderr.contains("config.toml.before-dashkey"), "{}", run.stderr);
    assert_eq!(text(&sandbox, ".config/dashkey/config.toml.before-dashkey"), "timeout = 30\n");
}

#[test]
fn a_users_config_toml_is_never_touched_by_unset_when_dashkey_did_not_write_it() {
    let sandbox = Sandbox::new();
    set(&sandbox, KEY, &[]).expect_code(0);
    let theirs = format!("base_url = \"{SG_URL}\"\n");
    sandbox.write(CONFIG, &theirs);
    sandbox.run(&["unset"], None).expect_code(0);
    assert_eq!(text(&sandbox, CONFIG), theirs);
}
