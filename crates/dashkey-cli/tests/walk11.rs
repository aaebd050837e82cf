//! Issue 11's end-to-end walk, the gaps it still found: a true verdict under sudo when sudo
//! keeps the key but drops the base URLs, a fix a person would type for the desktop and
//! user-service rows, and a status header that says what is stored, not what was proved.

// Unix only: real sudo, a private mount namespace.
#![cfg(unix)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{KEY, Run, Sandbox, dashkey_bin, tool};
use serde_json::Value;

const SG_URL: &str = "https://dashscope-intl.aliyuncs.com/api/v1";

/// `set` without the online check, the key on stdin.
fn set(sandbox: &Sandbox, extra: &[&str]) -> Run {
    let mut args = vec!["set", "--stdin", "--offline"];
    args.extend_from_slice(extra);
    sandbox.run(&args, Some(KEY))
}

fn findings(run: &Run) -> Vec<Value> {
    run.json()["findings"].as_array().unwrap().clone()
}

fn with_id<'a>(found: &'a [Value], id: &str) -> Vec<&'a Value> {
    found.iter().filter(|f| f["id"] == id).collect()
}

// ---- sudo keeping the key and dropping the base URLs ----

/// A user that exists only inside a private mount namespace: temporary copies of
/// `/etc/passwd`, `/etc/group`, `/etc/shadow` and `/etc/sudoers` naming `walker` (home: the
/// sandbox's HOME, allowed `sudo` without a password) and giving root a home in the sandbox,
/// bind-mounted over the real ones in that namespace only. The real files are never
/// written; root's crontab spool is hidden under a tmpfs there.
struct Walker {
    etc: PathBuf,
    uid: u32,
}

impl Walker {
    fn new(sandbox: &Sandbox) -> Option<Walker> {
        for name in ["unshare", "setpriv", "sudo", "mount"] {
            tool(name)?;
        }
        let euid = Command::new("id").arg("-u").output().unwrap().stdout;
        if String::from_utf8_lossy(&euid).trim() != "0" {
            assert!(!common::required(), "the sudo walk needs root to make a namespace");
            eprintln!("notice: not root; skipping the sudo walk");
            return None;
        }
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
        let taken =
            |uid: u32| passwd.lines().any(|l| l.split(':').nth(2) == Some(&uid.to_string()));
        let uid = (4242..5000).find(|uid| !taken(*uid)).unwrap();
        let etc = sandbox.root().join("etc");
        std::fs::create_dir(&etc).unwrap();
        let root_home = sandbox.root().join("roothome");
        std::fs::create_dir(&root_home).unwrap();
        let home = sandbox.home.display().to_string();
        let mut fake: String = passwd
            .lines()
            .map(|line| {
                let mut fields: Vec<&str> = line.split(':').collect();
                let root = root_home.display().to_string();
                if fields.first() == Some(&"root") && fields.len() == 7 {
                    fields[5] = &root;
                    return fields.join(":") + "\n";
                }
                format!("{line}\n")
            })
            .collect();
        fake.push_str(&format!("walker:x:{uid}:{uid}:walker:{home}:/bin/sh\n"));
        std::fs::write(etc.join("passwd"), fake).unwrap();
        let mut group = std::fs::read_to_string("/etc/group").unwrap();
        group.push_str(&format!("walker:x:{uid}:\n"));
        std::fs::write(etc.join("group"), group).unwrap();
        let mut shadow = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
        shadow.push_str("walker:*:19000:0:99999:7:::\n");
        std::fs::write(etc.join("shadow"), shadow).unwrap();
        std::fs::write(
            etc.join("sudoers"),
            "Defaults env_reset\nDefaults secure_path=\"/usr/sbin:/usr/bin:/sbin:/bin\"\n\
             root ALL=(ALL:ALL) ALL\nwalker ALL=(ALL) NOPASSWD: ALL\n",
        )
        .unwrap();
        let status = Command::new("chmod").arg("0440").arg(etc.join("sudoers")).status().unwrap();
        assert!(status.success());
        // walker owns the sandbox, as a user owns their home.
        let owner = format!("{uid}:{uid}");
        let chown = |recursive: bool, path: &std::path::Path| {
            let mut command = Command::new("chown");
            if recursive {
                command.arg("-R");
            }
            assert!(command.arg(&owner).arg(path).status().unwrap().success());
        };
        chown(false, sandbox.root());
        chown(true, &sandbox.home);
        Some(Walker { etc, uid })
    }

    /// `program args…` run as walker inside the namespace, with the sandbox environment
    /// plus `extra` (the key goes there, never on the command line).
    fn run(&self, sandbox: &Sandbox, extra: &[(&str, &str)], program: &[&str]) -> Run {
        let etc = self.etc.display();
        let script = format!(
            "set -e\n\
             for f in passwd group shadow sudoers; do mount --bind {etc}/$f /etc/$f; done\n\
             if [ -d /var/spool/cron/crontabs ]; then mount -t tmpfs tmpfs /var/spool/cron/crontabs; fi\n\
             exec setpriv --reuid={uid} --regid={uid} --clear-groups \"$@\"",
            uid = self.uid
        );
        let output = sandbox
            .program("/usr/bin/timeout")
            .env("USER", "walker")
            .env("LOGNAME", "walker")
            .envs(extra.iter().copied())
            .args(["60", "unshare", "--mount", "--propagation", "private", "sh", "-c", &script])
            .arg("sh")
            .args(program)
            .output()
            .unwrap();
        let run = Run::from(output);
        sandbox.assert_no_secret(&run, program);
        run
    }
}

fn bin() -> String {
    dashkey_bin().display().to_string()
}

fn sudo_findings(run: &Run) -> Vec<Value> {
    let found = findings(run);
    with_id(&found, "sudo").into_iter().cloned().collect()
}

/// With a Singapore key stored by walker, `sudo --preserve-env=DASHSCOPE_API_KEY` passes
/// the key and drops the base URLs: the SDKs under sudo call Beijing. doctor says so (not
/// "sudo kept DASHSCOPE_API_KEY" as ok), and the fix it prints, run as printed by walker,
/// makes the finding ok.
#[test]
fn sudo_keeping_only_the_key_of_a_singapore_user_is_a_failure_with_a_working_fix() {
    let sandbox = Sandbox::new();
    set(&sandbox, &["--region", "ap-southeast-1", "--shell", "bash"]).expect_code(0);
    let passwd_before = std::fs::read("/etc/passwd").unwrap();
    let Some(walker) = Walker::new(&sandbox) else { return };

    let doctor = [bin(), "doctor".into(), "--json".into()];
    let mut kept_key = vec!["sudo", "-n", "--preserve-env=DASHSCOPE_API_KEY"];
    kept_key.extend(doctor.iter().map(String::as_str));
    let run = walker.run(&sandbox, &[("DASHSCOPE_API_KEY", KEY)], &kept_key);
    let sudo = sudo_findings(&run);
    let finding = sudo
        .iter()
        .find(|f| f["title"].as_str().unwrap().starts_with("sudo kept"))
        .unwrap_or_else(|| panic!("no sudo finding: {}\n{}", run.stdout, run.stderr));
    assert_eq!(finding["severity"], "fail", "{finding}");
    let detail = finding["detail"].as_str().unwrap();
    assert!(detail.contains("ap-southeast-1") && detail.contains("cn-beijing"), "{detail}");

    // The fix, as printed, from walker's own shell (no key in its environment).
    let fix = finding["fix"].as_str().unwrap();
    let command = fix.split("without sudo: ").nth(1).unwrap().split("   (").next().unwrap();
    let command = command.replace("<command>", &doctor.join(" "));
    let after = walker.run(&sandbox, &[], &["sh", "-c", &command]);
    let sudo = sudo_findings(&after);
    assert!(!sudo.is_empty(), "{}\n{}", after.stdout, after.stderr);
    assert!(sudo.iter().all(|f| f["severity"] == "ok"), "{sudo:?}");

    // The namespace left the machine's own files alone.
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), passwd_before);
}

/// The same sudo with all of dashkey's variables kept is ok: the failure above is about the
/// URLs, not about sudo as such.
#[test]
fn sudo_keeping_the_key_and_its_urls_is_ok() {
    let sandbox = Sandbox::new();
    set(&sandbox, &["--region", "ap-southeast-1", "--shell", "bash"]).expect_code(0);
    let Some(walker) = Walker::new(&sandbox) else { return };
    let run = walker.run(
        &sandbox,
        &[("DASHSCOPE_API_KEY", KEY), ("DASHSCOPE_HTTP_BASE_URL", SG_URL)],
        &[
            "sudo",
            "-n",
            "--preserve-env=DASHSCOPE_API_KEY,DASHSCOPE_HTTP_BASE_URL",
            &bin(),
            "doctor",
            "--json",
        ],
    );
    let sudo = sudo_findings(&run);
    assert!(!sudo.is_empty(), "{}\n{}", run.stdout, run.stderr);
    assert!(sudo.iter().all(|f| f["severity"] == "ok"), "{sudo:?}");
}

// ---- the desktop and user-service rows' fix ----

/// `set --keep-key` writes the stored key again with no prompt, no stdin and no argv.
#[test]
fn set_keep_key_rewrites_the_stored_key_without_input() {
    let sandbox = Sandbox::new();
    set(&sandbox, &["--region", "ap-southeast-1", "--shell", "bash"]).expect_code(0);
    let env_d = ".config/environment.d/60-dashkey.conf";
    assert!(!sandbox.home.join(env_d).exists());
    // stdin is empty (not a terminal): nothing to prompt with, and none needed.
    let run = sandbox.run(&["set", "--keep-key", "--gui"], Some(""));
    run.expect_code(0);
    let written = String::from_utf8(sandbox.read(env_d)).unwrap();
    assert!(written.contains(&format!("DASHSCOPE_HTTP_BASE_URL={SG_URL}")), "{written}");
    assert!(written.contains(KEY), "the desktop file lacks the stored key");
}

/// With nothing stored, `--keep-key` refuses, says what to run, and writes nothing.
#[test]
fn set_keep_key_with_nothing_stored_changes_nothing() {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# mine\n");
    let before = common::snapshot(sandbox.root());
    let run = sandbox.run(&["set", "--keep-key"], Some(""));
    run.expect_code(1);
    assert!(run.stderr.contains("no key is stored") && run.stderr.contains("dashkey set"));
    assert_eq!(common::snapshot(sandbox.root()), before);
}

/// The desktop and user-service rows print `dashkey set --keep-key --gui`, what a person
/// types, and running it (as printed) gives those rows the key and the region.
#[test]
fn desktop_and_user_service_rows_print_set_keep_key_gui_and_it_works() {
    let sandbox = Sandbox::new();
    set(&sandbox, &["--region", "ap-southeast-1", "--shell", "bash"]).expect_code(0);
    let found = findings(&sandbox.run(&["doctor", "--json"], None));
    let rows: Vec<&Value> = found
        .iter()
        .filter(|f| f["id"] == "context-key" || f["id"] == "context-region")
        .filter(|f| {
            let title = f["title"].as_str().unwrap();
            title.starts_with("desktop apps") || title.starts_with("systemd user service")
        })
        .collect();
    assert!(rows.len() >= 2, "{found:?}");
    for row in &rows {
        assert_eq!(row["fix"], "dashkey set --keep-key --gui", "{row}");
    }
    sandbox.run(&["set", "--keep-key", "--gui"], Some("")).expect_code(0);
    let status = sandbox.run(&["status", "--json"], None).json();
    for context in ["desktop", "user-service"] {
        let row = status["contexts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["context"] == context)
            .unwrap();
        assert_eq!(
            (row["key"].clone(), row["region"].clone()),
            (true.into(), true.into()),
            "{row}"
        );
    }
}

// ---- the status header ----

/// An offline `set` proves nothing about where the key works (and the record keeps no
/// trace of a check): the header says the region is stored, not that the key works there.
#[test]
fn the_status_header_says_stored_for_unless_checked_online() {
    let sandbox = Sandbox::new();
    set(&sandbox, &["--region", "ap-southeast-1", "--shell", "bash"]).expect_code(0);
    let run = sandbox.run(&["status"], None);
    assert!(run.stdout.contains("(the key is stored for ap-southeast-1)"), "{}", run.stdout);
    assert!(!run.stdout.contains("the key works in"), "{}", run.stdout);
}

// ---- `region` with nothing stored ----

/// `dashkey region <id>` with nothing stored, in a terminal that has the key (the seed
/// reader's `export` line): the error's command takes the key from there, and running it as
/// printed stores the key for that region.
#[test]
fn region_with_nothing_stored_points_at_set_from_env_and_that_works() {
    let mut sandbox = Sandbox::new();
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    let run = sandbox.run(&["region", "ap-southeast-1"], None);
    run.expect_code(1);
    let printed = run.stderr.split('`').nth(1).expect("a command in backticks").to_string();
    assert_eq!(printed, "dashkey set --from-env --region ap-southeast-1", "{}", run.stderr);
    let args: Vec<&str> =
        printed.split(' ').skip(1).chain(["--offline", "--shell", "bash"]).collect();
    sandbox.run(&args, None).expect_code(0);
    let region = sandbox.run(&["region"], None);
    region.expect_code(0);
    assert_eq!(region.stdout.trim(), "ap-southeast-1");

    // Without the variable, the plain paste.
    let bare = Sandbox::new();
    let run = bare.run(&["region", "ap-southeast-1"], None);
    assert!(run.stderr.contains("`dashkey set --region ap-southeast-1`"), "{}", run.stderr);
}

// ---- the whole walk, and back ----

/// The new user's walk in one go, as the issue tells it: Debian's skeleton `.bashrc` and
/// `.profile`, a `config.toml` and a crontab of their own, a systemd user manager running;
/// `set` finds Singapore online (fake regions), `service install --cron` adds the crontab
/// block; the shell-less contexts then have the key's region where the files reach them.
/// `unset` then gives back every file byte for byte, the crontab (real `crontab`, private
/// spool) included.
#[test]
fn the_walk_and_unset_give_back_every_file_and_the_crontab_byte_for_byte() {
    for name in ["unshare", "crontab"] {
        if tool(name).is_none() {
            return;
        }
    }
    let mut sandbox = Sandbox::new();
    let runtime = sandbox.root().join("run-user");
    std::fs::create_dir_all(runtime.join("systemd")).unwrap();
    sandbox.env("XDG_RUNTIME_DIR", runtime.to_str().unwrap());
    let servers = common::launch_fake_regions(&mut sandbox, "ap-southeast-1");
    let singapore = format!("{}/api/v1", servers[1].1.url());
    for skel in [".bashrc", ".profile"] {
        let text =
            std::fs::read(format!("/etc/skel/{skel}")).unwrap_or_else(|_| b"# mine\n".into());
        sandbox.write(skel, text);
    }
    sandbox.write(".dashscope/config.toml", "# my SDK settings\n[http]\ntimeout = 30 # seconds\n");
    let users_crontab = "# my jobs\nMAILTO=\"\"\n0 3 * * *\t/usr/bin/backup --all  # nightly\n";
    let before = common::file_contents(sandbox.root());

    let bin = bin();
    // Inside a private mount namespace over an empty spool: the user's crontab, the walk,
    // the crontab after each step (between markers), `unset`, the crontab again.
    let script = format!(
        "set -e\n\
         mount -t tmpfs -o mode=1730 tmpfs /var/spool/cron/crontabs\n\
         chgrp crontab /var/spool/cron/crontabs\n\
         printf '%s' \"$USERS_CRONTAB\" | crontab -\n\
         {bin} set --stdin --shell bash >&2\n\
         {bin} service install --cron >&2\n\
         echo '@@installed'; crontab -l\n\
         {bin} status --json </dev/null > \"$STATUS_JSON\" || true\n\
         {bin} unset >&2\n\
         echo '@@unset'; crontab -l\n"
    );
    let status_json = sandbox.root().join("status.json");
    let mut command = sandbox.program("/usr/bin/timeout");
    command.env("USERS_CRONTAB", users_crontab).env("STATUS_JSON", &status_json).args([
        "120",
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
    ]);
    let run = Run::from(common::feed(command, Some(KEY)));
    sandbox.assert_no_secret(&run, &["walk"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let installed =
        run.stdout.split("@@installed\n").nth(1).unwrap().split("@@unset\n").next().unwrap();
    let after_unset = run.stdout.split("@@unset\n").nth(1).unwrap();

    // The crontab block carries the region's URLs, atop the user's own lines, no key.
    let vars = dashkey::world::crontab::variables(installed);
    assert!(vars.contains(&("DASHSCOPE_HTTP_BASE_URL".into(), singapore.clone())), "{installed}");
    assert!(installed.ends_with(users_crontab), "{installed}");
    assert!(!installed.contains(KEY));
    // The matrix then: the shells and the environment.d rows have the key and its region.
    // (The cron row is judged from the crontab only when HOME is the account's home, which
    // a sandbox HOME is not; the crontab's own contents are checked above.)
    let status: Value = serde_json::from_slice(&std::fs::read(&status_json).unwrap()).unwrap();
    assert_eq!(status["key_region"]["region"], "ap-southeast-1", "{status}");
    for context in ["login-shell", "interactive-shell", "desktop", "user-service"] {
        let row = status["contexts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["context"] == context)
            .unwrap_or_else(|| panic!("no {context} row: {status}"));
        assert_eq!(
            (row["key"].clone(), row["region"].clone()),
            (true.into(), true.into()),
            "{row}"
        );
    }

    // Back: the crontab, and every file, byte for byte.
    assert_eq!(after_unset, users_crontab);
    std::fs::remove_file(&status_json).unwrap();
    let after = common::file_contents(sandbox.root());
    let changed: Vec<_> = before
        .iter()
        .filter(|(path, bytes)| after.get(*path) != Some(bytes))
        .map(|(path, _)| path.display().to_string())
        .chain(after.keys().filter(|p| !before.contains_key(*p)).map(|p| p.display().to_string()))
        .collect();
    assert!(changed.is_empty(), "not given back: {changed:?}");
}

// ---- sentences as printed ----

/// A run of four or more spaces inside a sentence: a string literal whose line break lost
/// its `\`, so the next line's indentation is printed (fixes keep their `   (gloss)`).
fn gap(text: &str) -> Option<&str> {
    text.split('\n').find(|line| line.trim_start().contains("    "))
}

/// The CRLF startup-file note of `set`, doctor's CRLF finding, and the finding of a key a
/// service manager sets read as sentences, not with a source line's indentation inside.
#[test]
fn walk_sentences_have_no_source_indentation_inside() {
    let sandbox = Sandbox::new();
    sandbox.write(".profile", "# mine\r\nif [ -n \"$BASH\" ]; then\r\n  :\r\nfi\r\n");
    let run = set(&sandbox, &["--shell", "sh"]);
    run.expect_code(0);
    let note = run.stdout.lines().chain(run.stderr.lines()).find(|l| l.contains("CRLF"));
    let note = note.unwrap_or_else(|| panic!("no CRLF note: {}\n{}", run.stdout, run.stderr));
    assert_eq!(gap(note), None, "{note}");
    let found = findings(&sandbox.run(&["doctor", "--json"], None));
    let crlf = with_id(&found, "crlf-startup-file");
    assert!(!crlf.is_empty(), "{found:?}");

    let mut service = Sandbox::new();
    service.env("INVOCATION_ID", "0123456789abcdef").env("DASHSCOPE_API_KEY", KEY);
    let managed = findings(&service.run(&["doctor", "--json"], None));
    let temporary = with_id(&managed, "temporary");
    assert!(!temporary.is_empty(), "{managed:?}");

    for finding in crlf.iter().chain(temporary.iter()) {
        for field in ["title", "detail"] {
            let text = finding[field].as_str().unwrap_or_default();
            assert_eq!(gap(text), None, "{finding}");
        }
    }
}

// ---- adopting the old export line ----

/// After `set --from-env` adopted the seed reader's `export` line, both places that name
/// the old line give one command, `dashkey set --keep-key --migrate`; run as printed from a
/// shell without the variable, it takes the line out and new shells still get the key.
#[test]
fn the_old_export_line_is_taken_out_by_the_one_command_set_prints() {
    let Some(bash) = tool("bash") else { return };
    let sandbox = Sandbox::new();
    let skel = std::fs::read_to_string("/etc/skel/.bashrc").unwrap_or_default();
    sandbox.write(".bashrc", format!("{skel}export DASHSCOPE_API_KEY='{KEY}'\n"));
    let output = sandbox
        .program(&bash)
        .args(["-i", "-c", "exec \"$0\" set --from-env --offline --region ap-southeast-1"])
        .arg(dashkey_bin())
        .output()
        .unwrap();
    let run = Run::from(output);
    sandbox.assert_no_secret(&run, &["set", "--from-env"]);
    run.expect_code(0);
    let printed = format!("{}{}", run.stdout, run.stderr);
    let commands: Vec<&str> =
        printed.match_indices("dashkey set ").map(|(at, _)| &printed[at..]).collect();
    assert!(commands.len() >= 2, "{printed}");
    for command in &commands {
        assert!(command.starts_with("dashkey set --keep-key --migrate"), "{printed}");
    }
    // As printed, with the old line's variable nowhere in this environment.
    let after = sandbox.run(&["set", "--keep-key", "--migrate"], Some(""));
    after.expect_code(0);
    let bashrc = String::from_utf8(sandbox.read(".bashrc")).unwrap();
    assert!(!bashrc.contains(KEY), "{bashrc}");
    let out = sandbox
        .program(&bash)
        .args(["-i", "-c", "printf '%s|%s' \"$DASHSCOPE_API_KEY\" \"$DASHSCOPE_HTTP_BASE_URL\""])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{KEY}|{SG_URL}"));
    let found = findings(&sandbox.run(&["doctor", "--json"], None));
    assert!(with_id(&found, "plaintext-in-dotfiles").is_empty(), "{found:?}");
}

// ---- the README's sudo commands ----

/// `sudo` searches its `secure_path`, not `~/.cargo/bin`: every `sudo … dashkey` the README
/// shows names dashkey by its path, as its install paragraph promises.
#[test]
fn every_readme_sudo_command_names_dashkey_by_its_path() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .unwrap();
    let bare: Vec<&str> = readme.lines().filter(|line| line.contains("sudo dashkey ")).collect();
    assert!(bare.is_empty(), "{bare:#?}");
}
