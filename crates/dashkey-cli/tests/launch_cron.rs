//! cron: `dashkey service install --cron` puts the region's variables (no key unless
//! `--with-key`) atop the user's crontab through the REAL `crontab`; uninstall and `unset`
//! give it back byte for byte (a crontab that did not exist goes again); a line the user put
//! inside dashkey's block is refused with the line; the job environment cron builds from the
//! crontab makes the real Python SDK call Singapore.
//!
//! Every test runs `crontab` in a private mount namespace over a temporary spool (a tmpfs on
//! `/var/spool/cron/crontabs`, modes as Debian's cron makes them), never the machine's own:
//! a `sleep` holds the namespace, and each command enters it with `nsenter`. The real spool is
//! checked unchanged after each test.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{KEY, Run, Sandbox};
use dashkey::world::crontab::variables;

const SPOOL: &str = "/var/spool/cron/crontabs";
const SG_URL: &str = "https://dashscope-intl.aliyuncs.com/api/v1";
const US_URL: &str = "https://dashscope-us.aliyuncs.com/api/v1";
const BEGIN: &str = "# >>> dashkey: DashScope for cron jobs >>>";

/// A private spool: a namespace held by a `sleep`, stopped by its pid when dropped, and what
/// the real spool held when it was made.
struct Spool {
    holder: Child,
    real_before: Vec<(PathBuf, Vec<u8>)>,
}

fn real_spool() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(SPOOL)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| (e.path(), std::fs::read(e.path()).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

impl Spool {
    /// `None` (a skip, or a failure under `DASHKEY_REQUIRE_SHELLS=1`) without cron or
    /// without the right to make a mount namespace.
    fn new() -> Option<Spool> {
        let present = Path::new("/usr/bin/crontab").is_file() && Path::new(SPOOL).is_dir();
        if !present {
            assert!(!common::required(), "cron is required (DASHKEY_REQUIRE_SHELLS=1)");
            eprintln!("notice: cron is not installed; skipping");
            return None;
        }
        let real_before = real_spool();
        let script = format!(
            "mount -t tmpfs -o mode=1730 tmpfs {SPOOL} && chgrp crontab {SPOOL} && echo ready \
             && exec sleep 600"
        );
        let mut holder = Command::new("/usr/bin/unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        use std::io::Read;
        let mut out = holder.stdout.take().unwrap();
        let mut byte = [0u8; 1];
        while out.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            ready.push(byte[0] as char);
        }
        if ready != "ready" {
            let _ = holder.kill();
            let _ = holder.wait();
            assert!(!common::required(), "cannot make a private mount namespace for cron");
            eprintln!("notice: no private mount namespace here; skipping");
            return None;
        }
        Some(Spool { holder, real_before })
    }

    /// A program run inside the namespace with the sandbox's environment only.
    fn command(&self, sandbox: &Sandbox, program: &Path) -> Command {
        let mut command = sandbox.program("/usr/bin/nsenter");
        command.arg(format!("--target={}", self.holder.id())).arg("--mount").arg("--").arg(program);
        command
    }

    fn dashkey(&self, sandbox: &Sandbox, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = self.command(sandbox, &common::dashkey_bin());
        command.args(args);
        let run = Run::from(common::feed(command, stdin));
        sandbox.assert_no_secret(&run, args);
        run
    }

    /// `crontab -l` inside: (exit code, stdout, stderr).
    fn list(&self, sandbox: &Sandbox) -> (i32, String, String) {
        let output =
            self.command(sandbox, Path::new("/usr/bin/crontab")).arg("-l").output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn crontab(&self, sandbox: &Sandbox) -> String {
        let (code, out, err) = self.list(sandbox);
        assert_eq!(code, 0, "{err}");
        out
    }

    /// Installs a crontab of the user's own, with the real `crontab -`.
    fn install(&self, sandbox: &Sandbox, text: &str) {
        let mut command = self.command(sandbox, Path::new("/usr/bin/crontab"));
        command.arg("-");
        let output = common::feed(command, Some(text));
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        if !std::thread::panicking() {
            assert_eq!(real_spool(), self.real_before, "the machine's own crontabs changed");
        }
    }
}

fn set(spool: &Spool, sandbox: &Sandbox, region: &str) {
    spool
        .dashkey(
            sandbox,
            &["set", "--stdin", "--offline", "--no-modify-rc", "--region", region],
            Some(KEY),
        )
        .expect_code(0);
}

/// What the real Python SDK resolves in the environment cron gives a job: the crontab's
/// variables, and the HOME cron sets, nothing else.
fn job_sdk(crontab: &str, home: &Path) -> Option<(String, String, bool)> {
    let python = common::python_sdk()?;
    let mut vars = variables(crontab);
    vars.push(("HOME".to_string(), home.display().to_string()));
    Some(common::launch_sdk_urls(&python, &vars))
}

const USERS: &str = "# my jobs\nMAILTO=\"\"\nSHELL=/bin/bash\n\n0 3 * * *\t/usr/bin/backup --all  # nightly\n@reboot /bin/true\n";

#[test]
fn install_goes_atop_the_users_crontab_and_uninstall_gives_it_back_byte_for_byte() {
    let Some(spool) = Spool::new() else { return };
    let sandbox = Sandbox::new();
    spool.install(&sandbox, USERS);
    set(&spool, &sandbox, "ap-southeast-1");
    let run = spool.dashkey(&sandbox, &["service", "install", "--cron"], None);
    run.expect_code(0);
    assert!(run.stdout.contains("Node"), "{}", run.stdout);
    assert!(run.stdout.contains("run --"), "{}", run.stdout);
    let crontab = spool.crontab(&sandbox);
    assert!(crontab.starts_with(BEGIN), "{crontab}");
    assert!(crontab.ends_with(USERS), "{crontab}");
    assert!(!crontab.contains(KEY), "no key in the crontab unless asked");
    let vars = variables(&crontab);
    assert!(
        vars.contains(&("DASHSCOPE_HTTP_BASE_URL".to_string(), SG_URL.to_string())),
        "{vars:?}"
    );

    // A job: the 1.x surface reads only the variable (Singapore from the crontab); the 2.0
    // client finds the key in the SDK key file under the HOME cron sets.
    if let Some((v1, v2, has_key)) = job_sdk(&crontab, &sandbox.home) {
        assert_eq!(v1, SG_URL);
        assert_eq!(v2, SG_URL);
        assert!(has_key);
    }
    // With no config.toml and no key file to lean on, the crontab alone gives both surfaces
    // the region.
    let empty = sandbox.root().join("empty");
    std::fs::create_dir(&empty).unwrap();
    if let Some((v1, v2, _)) = job_sdk(&crontab, &empty) {
        assert_eq!((v1.as_str(), v2.as_str()), (SG_URL, SG_URL));
    }

    let list = spool.dashkey(&sandbox, &["service", "list"], None);
    assert!(list.stdout.contains("crontab"), "{}", list.stdout);
    // `unset --dry-run` shows what would go, and changes nothing.
    let dry = spool.dashkey(&sandbox, &["unset", "--dry-run", "--json"], None).json();
    assert_eq!(dry["crontab"], "update", "{dry}");
    let dry = spool.dashkey(&sandbox, &["unset", "--dry-run"], None);
    assert!(dry.stdout.contains("--- a/crontab"), "{}", dry.stdout);
    assert!(dry.stdout.contains(&format!("-{BEGIN}")), "{}", dry.stdout);
    assert_eq!(spool.crontab(&sandbox), crontab);
    // Installing again changes nothing.
    spool.dashkey(&sandbox, &["service", "install", "--cron"], None).expect_code(0);
    assert_eq!(spool.crontab(&sandbox), crontab);

    spool.dashkey(&sandbox, &["service", "uninstall", "--cron"], None).expect_code(0);
    assert_eq!(spool.crontab(&sandbox), USERS);
    let list = spool.dashkey(&sandbox, &["service", "list"], None);
    assert!(!list.stdout.contains("crontab"), "{}", list.stdout);
}

#[test]
fn a_crontab_dashkey_created_follows_the_region_and_goes_with_unset() {
    let Some(spool) = Spool::new() else { return };
    let sandbox = Sandbox::new();
    assert_eq!(spool.list(&sandbox).0, 1, "no crontab yet");
    set(&spool, &sandbox, "ap-southeast-1");
    spool.dashkey(&sandbox, &["service", "install", "--cron"], None).expect_code(0);
    assert!(spool.crontab(&sandbox).contains(SG_URL));
    // `region` rewrites the block, like every installed service's copy.
    spool.dashkey(&sandbox, &["region", "us-east-1"], None).expect_code(0);
    let crontab = spool.crontab(&sandbox);
    assert!(crontab.contains(US_URL) && !crontab.contains(SG_URL), "{crontab}");
    let run = spool.dashkey(&sandbox, &["unset"], None);
    run.expect_code(0);
    assert!(run.stdout.contains("crontab"), "{}", run.stdout);
    let (code, out, err) = spool.list(&sandbox);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("no crontab for"), "{err}");
}

#[test]
fn unset_takes_away_a_block_its_record_does_not_list() {
    let Some(spool) = Spool::new() else { return };
    let first = Sandbox::new();
    spool.install(&first, USERS);
    set(&spool, &first, "ap-southeast-1");
    spool.dashkey(&first, &["service", "install", "--cron"], None).expect_code(0);
    let with_block = spool.crontab(&first);
    assert!(with_block.starts_with(BEGIN), "{with_block}");

    // Another home of the same account, whose record never heard of the block (a record
    // lost, a crontab restored from a backup): its `unset` finds the block by its markers.
    let mut second = Sandbox::new();
    second.env("DASHKEY_CRONTAB", "/usr/bin/crontab");
    set(&spool, &second, "us-east-1");
    let dry = spool.dashkey(&second, &["unset", "--dry-run", "--json"], None).json();
    assert_eq!(dry["crontab"], "update", "{dry}");
    assert_eq!(spool.crontab(&second), with_block, "a dry run changes nothing");
    spool.dashkey(&second, &["unset"], None).expect_code(0);
    assert_eq!(spool.crontab(&second), USERS);
    // Without a block, or with `crontab` failing, unset says nothing of cron.
    let run = spool.dashkey(&second, &["unset"], None);
    assert!(!run.stdout.contains("crontab"), "{}", run.stdout);
}

#[test]
fn with_key_the_key_is_in_the_job_environment_and_run_gives_it_without() {
    let Some(spool) = Spool::new() else { return };
    let sandbox = Sandbox::new();
    spool.install(&sandbox, USERS);
    set(&spool, &sandbox, "ap-southeast-1");
    // Without the key, the fix printed for clients that read only the variable is
    // `dashkey run -- …`: in a job's environment (cron's PATH, HOME, nothing else) it works.
    let run = spool.dashkey(&sandbox, &["service", "install", "--cron"], None);
    let crontab = spool.crontab(&sandbox);
    let mut job = Command::new(common::dashkey_bin());
    job.env_clear()
        .envs(variables(&crontab))
        .env("HOME", &sandbox.home)
        .env("PATH", "/usr/bin:/bin")
        .args(["run", "--", "sh", "-c", "test -n \"$DASHSCOPE_API_KEY\""]);
    assert!(job.status().unwrap().success(), "dashkey run -- gave the job no key");
    assert!(!variables(&crontab).iter().any(|(n, _)| n == "DASHSCOPE_API_KEY"));

    // The other fix it printed: --with-key.
    assert!(run.stdout.contains("dashkey service install --cron --with-key"), "{}", run.stdout);
    spool.dashkey(&sandbox, &["service", "install", "--cron", "--with-key"], None).expect_code(0);
    let crontab = spool.crontab(&sandbox);
    assert!(variables(&crontab).contains(&("DASHSCOPE_API_KEY".to_string(), KEY.to_string())));
    assert!(crontab.ends_with(USERS));
    spool.dashkey(&sandbox, &["unset"], None).expect_code(0);
    assert_eq!(spool.crontab(&sandbox), USERS);
}

#[test]
fn a_line_the_user_put_inside_the_block_is_refused_with_the_line() {
    let Some(spool) = Spool::new() else { return };
    let sandbox = Sandbox::new();
    spool.install(&sandbox, USERS);
    set(&spool, &sandbox, "ap-southeast-1");
    spool.dashkey(&sandbox, &["service", "install", "--cron"], None).expect_code(0);
    let crontab = spool.crontab(&sandbox);
    let edited =
        crontab.replace("# <<< dashkey <<<", "*/5 * * * * /usr/bin/poll\n# <<< dashkey <<<");
    spool.install(&sandbox, &edited);
    let run = spool.dashkey(&sandbox, &["service", "uninstall", "--cron"], None);
    assert_ne!(run.code, 0);
    let line = edited.lines().position(|l| l.contains("/usr/bin/poll")).unwrap() + 1;
    assert!(run.stderr.contains(&format!("crontab line {line}")), "{}", run.stderr);
    assert!(run.stderr.contains("*/5 * * * * /usr/bin/poll"), "{}", run.stderr);
    assert_eq!(spool.crontab(&sandbox), edited);
    // `unset` keeps it too, and says why.
    let run = spool.dashkey(&sandbox, &["unset"], None);
    assert!(run.stdout.contains("crontab") || run.stderr.contains("crontab"), "{run:?}");
    assert_eq!(spool.crontab(&sandbox), edited);
}

#[test]
fn a_missing_or_hanging_crontab_is_an_error_naming_it_and_changes_nothing() {
    let mut sandbox = Sandbox::new();
    sandbox
        .run(
            &["set", "--stdin", "--offline", "--no-modify-rc", "--region", "ap-southeast-1"],
            Some(KEY),
        )
        .expect_code(0);
    let record = sandbox.read(".config/dashkey/record.json");
    sandbox.env("DASHKEY_CRONTAB", "/nonexistent/crontab");
    let run = sandbox.run(&["service", "install", "--cron"], None);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("/nonexistent/crontab"), "{}", run.stderr);
    // One that never answers is killed after its time, not waited on.
    let hang = sandbox.write("bin/crontab", "#!/bin/sh\nexec sleep 600\n");
    std::fs::set_permissions(&hang, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    sandbox.env("DASHKEY_CRONTAB", hang.to_str().unwrap());
    let run = sandbox.run_within(&["service", "install", "--cron"], None, common::HANG_GUARD);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("did not finish"), "{}", run.stderr);
    assert_eq!(sandbox.read(".config/dashkey/record.json"), record);
}

#[test]
fn under_sudo_cron_is_refused_before_any_crontab_is_read() {
    let mut sandbox = Sandbox::new();
    // A crontab program that would leave a trace if it ran.
    let trace = sandbox.root().join("ran");
    let program = sandbox.write("bin/crontab", format!("#!/bin/sh\ntouch {}\n", trace.display()));
    std::fs::set_permissions(&program, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    sandbox.env("DASHKEY_CRONTAB", program.to_str().unwrap());
    sandbox.env("SUDO_USER", "nobody");
    let run = sandbox.run(&["service", "install", "--cron"], None);
    run.expect_code(2);
    assert!(run.stderr.contains("without sudo"), "{}", run.stderr);
    assert!(!trace.exists());
}

#[test]
fn a_crontab_that_refuses_the_new_one_leaves_every_file_as_it_was() {
    let mut sandbox = Sandbox::new();
    sandbox
        .run(
            &["set", "--stdin", "--offline", "--no-modify-rc", "--region", "ap-southeast-1"],
            Some(KEY),
        )
        .expect_code(0);
    let before = common::snapshot(&sandbox.home);
    // `-l`: no crontab yet; `-`: refused, as cron refuses a crontab it cannot parse.
    let program = sandbox.root().join("crontab");
    std::fs::write(
        &program,
        "#!/bin/sh\ncase \"$1\" in\n-l) echo 'no crontab for tester' >&2; exit 1;;\n\
         *) cat >/dev/null; echo '\"-\":1: bad minute' >&2; exit 1;;\nesac\n",
    )
    .unwrap();
    std::fs::set_permissions(&program, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    sandbox.env("DASHKEY_CRONTAB", program.to_str().unwrap());
    let run = sandbox.run(&["service", "install", "--cron"], None);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("bad minute"), "{}", run.stderr);
    assert_eq!(common::snapshot(&sandbox.home), before, "the record was put back");
}
