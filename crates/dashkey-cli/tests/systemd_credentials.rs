//! `service install --systemd UNIT --credential`: the key as a systemd credential. The unit
//! and drop-in are checked by `systemd-analyze verify`, and the unit's command is run the way
//! systemd runs it (`$CREDENTIALS_DIRECTORY` holding a copy of the credential, an environment
//! of exactly the drop-in's `Environment=` lines): the real Python SDK must find the key in the
//! credential file, and the key must appear in no unit file and no environment.

// Unix only: unix modes, and the SDK started with `env -i`.
#![cfg(unix)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{KEY, OTHER_KEY, Sandbox, files_containing, python_sdk, snapshot, tool};

const SG_URL: &str = "https://dashscope-intl.aliyuncs.com/api/v1";
const DROP_IN: &str = "etc/systemd/system/app.service.d/50-dashkey.conf";
const CREDENTIAL: &str = "etc/dashkey/app.service.credential";
const ENV_FILE: &str = "etc/dashkey/app.service.env";

/// A sandbox with `key` stored for Singapore, and an alternate root for system units.
fn stored() -> (Sandbox, PathBuf) {
    let sandbox = Sandbox::new();
    set(&sandbox, KEY);
    let root = sandbox.root().join("sysroot");
    fs::create_dir(&root).unwrap();
    (sandbox, root)
}

fn set(sandbox: &Sandbox, key: &str) {
    sandbox
        .run(
            &["set", "--stdin", "--offline", "--no-modify-rc", "--region", "ap-southeast-1"],
            Some(key),
        )
        .expect_code(0);
}

fn service(sandbox: &Sandbox, root: &Path, args: &[&str]) -> common::Run {
    let root = root.to_str().unwrap();
    let mut all = vec!["service"];
    all.extend_from_slice(&args[..1]);
    all.extend_from_slice(&["--systemd", "app", "--root", root]);
    all.extend_from_slice(&args[1..]);
    sandbox.run(&all, None)
}

/// The drop-in's `Environment="NAME=value"` lines, systemd's escapes undone and `%d` (the
/// credentials directory) expanded to `credentials`, as systemd hands them to the process.
fn unit_environment(drop_in: &str, credentials: &Path) -> Vec<(String, String)> {
    drop_in
        .lines()
        .filter_map(|line| line.strip_prefix("Environment=\"")?.strip_suffix('"'))
        .map(|quoted| {
            let value = quoted
                .replace("%d", &credentials.display().to_string())
                .replace("%%", "%")
                .replace("\\\"", "\"")
                .replace("\\\\", "\\");
            let (name, value) = value.split_once('=').unwrap();
            (name.to_string(), value.to_string())
        })
        .collect()
}

/// The `LoadCredential=NAME:PATH` of a drop-in.
fn load_credential(drop_in: &str) -> (String, PathBuf) {
    let line = drop_in.lines().find_map(|l| l.strip_prefix("LoadCredential=")).unwrap();
    let (name, path) = line.split_once(':').unwrap();
    (name.to_string(), PathBuf::from(path.replace("%%", "%")))
}

/// What the real Python SDK finds, started like the unit's command: `env -i` with exactly
/// `vars`, in an empty HOME (so no default key file can answer instead): the 1.x key, the
/// 2.0 client's key, and the 1.x base URL, one per line.
fn python_in_unit(python: &Path, vars: &[(String, String)], home: &Path) -> Vec<String> {
    let probe = "import dashscope\n\
                 from dashscope.common.api_key import get_default_api_key\n\
                 try:\n    print(get_default_api_key())\nexcept Exception as e:\n    print('none')\n\
                 c = dashscope.Client()\n\
                 print(c._config.api_key)\n\
                 print(dashscope.base_http_api_url)";
    let output = Command::new("/usr/bin/timeout")
        .env_clear()
        .envs(vars.iter().map(|(n, v)| (n, v)))
        .env("HOME", home)
        .arg("60")
        .arg(python)
        .args(["-c", probe])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(str::to_string).collect()
}

/// `systemd-analyze verify` (`--user` for a user unit) on a unit with this drop-in; returns
/// its complaints.
fn systemd_verify(sandbox: &Sandbox, drop_in: &str, user: bool) -> Option<String> {
    let analyze = tool("systemd-analyze")?;
    let units = sandbox.root().join(if user { "user-units" } else { "units" });
    fs::create_dir_all(units.join("app.service.d")).unwrap();
    fs::write(
        units.join("app.service"),
        "[Unit]\nDescription=test\n[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    fs::write(units.join("app.service.d/50-dashkey.conf"), drop_in).unwrap();
    let runtime = sandbox.root().join("runtime");
    fs::create_dir_all(&runtime).unwrap();
    let mut command = Command::new(analyze);
    command
        .env("SYSTEMD_UNIT_PATH", format!("{}:", units.display()))
        .env("XDG_RUNTIME_DIR", &runtime)
        .arg("verify");
    if user {
        command.arg("--user");
    }
    let output = command.arg(units.join("app.service")).output().unwrap();
    Some(String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn the_unit_gets_a_credential_and_an_environment_without_the_key() {
    let (sandbox, root) = stored();
    let run = service(&sandbox, &root, &["install", "--credential"]);
    run.expect_code(0);
    // The output names the clients this leaves without a key, and the plain hand-off.
    assert!(run.stdout.contains("Node") && run.stdout.contains("OpenAI"), "{}", run.stdout);
    assert!(run.stdout.contains("dashkey service install --systemd app --root"), "{}", run.stdout);

    let drop_in = fs::read_to_string(root.join(DROP_IN)).unwrap();
    let credential = root.join(CREDENTIAL);
    assert_eq!(fs::read_to_string(&credential).unwrap(), format!("{KEY}\n"));
    assert_eq!(fs::metadata(&credential).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!root.join(ENV_FILE).exists());
    let (name, path) = load_credential(&drop_in);
    assert_eq!(path, Path::new("/").join(CREDENTIAL), "{drop_in}");

    // Only the credential holds the key: not the unit's files, not the environment.
    let holding: Vec<PathBuf> =
        files_containing(&root, &[KEY]).into_iter().map(|(path, _)| path).collect();
    assert_eq!(holding, [PathBuf::from(CREDENTIAL)]);
    let credentials = sandbox.root().join("credentials");
    fs::create_dir(&credentials).unwrap();
    let environment = unit_environment(&drop_in, &credentials);
    assert!(environment.iter().all(|(_, value)| !value.contains(KEY)), "{environment:?}");
    assert!(environment.iter().all(|(n, _)| n != "DASHSCOPE_API_KEY" && n != "OPENAI_API_KEY"));

    if let Some(complaints) = systemd_verify(&sandbox, &drop_in, false) {
        assert!(!complaints.contains("50-dashkey.conf"), "{complaints}");
        assert!(!complaints.contains("Unknown key"), "{complaints}");
    }

    let Some(python) = python_sdk() else { return };
    let empty_home = sandbox.root().join("service-home");
    fs::create_dir(&empty_home).unwrap();
    // Without the credential in place the SDK finds no key: the file is what answers.
    let without = python_in_unit(&python, &environment, &empty_home);
    assert_eq!(without[0], "none", "{without:?}");
    fs::copy(&credential, credentials.join(&name)).unwrap();
    let mut with_dir = environment.clone();
    with_dir.push(("CREDENTIALS_DIRECTORY".into(), credentials.display().to_string()));
    let found = python_in_unit(&python, &with_dir, &empty_home);
    assert_eq!(found, [KEY, KEY, SG_URL], "{drop_in}");
}

#[test]
fn a_new_key_rewrites_the_credential_and_uninstall_leaves_the_root_as_it_was() {
    let (sandbox, root) = stored();
    let before = snapshot(&root);
    service(&sandbox, &root, &["install", "--credential"]).expect_code(0);
    let drop_in = fs::read(root.join(DROP_IN)).unwrap();
    set(&sandbox, OTHER_KEY);
    assert_eq!(fs::read_to_string(root.join(CREDENTIAL)).unwrap(), format!("{OTHER_KEY}\n"));
    assert_eq!(fs::read(root.join(DROP_IN)).unwrap(), drop_in, "the drop-in holds no key");
    assert!(files_containing(&root, &[KEY]).is_empty());
    service(&sandbox, &root, &["uninstall"]).expect_code(0);
    assert_eq!(snapshot(&root), before);
    let list = sandbox.run(&["service", "list", "--json"], None);
    assert_eq!(list.json()["services"], serde_json::json!([]));
}

#[test]
fn switching_between_the_plain_and_the_credential_hand_off_leaves_no_copy_behind() {
    let (sandbox, root) = stored();
    service(&sandbox, &root, &["install"]).expect_code(0);
    assert!(root.join(ENV_FILE).is_file());
    service(&sandbox, &root, &["install", "--credential"]).expect_code(0);
    assert!(!root.join(ENV_FILE).exists());
    let holding: Vec<PathBuf> =
        files_containing(&root, &[KEY]).into_iter().map(|(path, _)| path).collect();
    assert_eq!(holding, [PathBuf::from(CREDENTIAL)]);
    service(&sandbox, &root, &["install"]).expect_code(0);
    assert!(!root.join(CREDENTIAL).exists() && root.join(ENV_FILE).is_file());
    let list = sandbox.run(&["service", "list", "--json"], None);
    assert_eq!(list.json()["services"].as_array().unwrap().len(), 1, "{}", list.stdout);
}

#[test]
fn unset_takes_a_user_units_credential_back() {
    let (sandbox, _) = stored();
    sandbox
        .run(&["service", "install", "--systemd", "worker", "--user", "--credential"], None)
        .expect_code(0);
    let credential = sandbox.home.join(".config/dashkey/services/worker.service.credential");
    assert_eq!(fs::read_to_string(&credential).unwrap(), format!("{KEY}\n"));
    let drop_in = sandbox.home.join(".config/systemd/user/worker.service.d/50-dashkey.conf");
    let text = fs::read_to_string(&drop_in).unwrap();
    assert!(text.contains("LoadCredential=dashscope_api_key:"), "{text}");
    if let Some(complaints) = systemd_verify(&sandbox, &text, true) {
        assert!(!complaints.contains("50-dashkey.conf"), "{complaints}");
        assert!(!complaints.contains("Unknown key"), "{complaints}");
    }
    sandbox.run(&["unset"], None).expect_code(0);
    assert!(!credential.exists() && !drop_in.exists());
    assert!(files_containing(&sandbox.home, &[KEY]).is_empty());
}

#[test]
fn doctor_names_a_credential_unit_and_the_clients_it_leaves_without_a_key() {
    let (sandbox, _) = stored();
    sandbox.write(".config/systemd/user/worker.service", "[Service]\nExecStart=/bin/true\n");
    let doctor = |sandbox: &Sandbox| {
        let run = sandbox.run(&["doctor", "--systemd", "worker", "--user", "--json"], None);
        run.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == "service-systemd")
            .cloned()
            .unwrap()
    };
    // Its twin without the hand-off is a failure.
    assert_eq!(doctor(&sandbox)["severity"], "fail");
    sandbox
        .run(&["service", "install", "--systemd", "worker", "--user", "--credential"], None)
        .expect_code(0);
    let finding = doctor(&sandbox);
    assert_eq!(finding["severity"], "info", "{finding}");
    assert!(finding["title"].as_str().unwrap().contains("systemd credential"), "{finding}");
    assert!(finding["detail"].as_str().unwrap().contains("Node"), "{finding}");
    let fix = finding["fix"].as_str().unwrap();
    assert!(fix.contains("dashkey service install --systemd worker.service --user"), "{fix}");
    // The fix it names works: the plain hand-off gives the unit the key itself.
    let plain: Vec<&str> = fix.trim_start_matches("for those clients: ").split(' ').collect();
    sandbox.run(&plain[1..], None).expect_code(0);
    assert_eq!(doctor(&sandbox)["severity"], "ok");
}
