//! Test support: the real `dashkey` binary in a temporary HOME with a cleared environment,
//! real shells, and the real DashScope Python SDK.
//!
//! Nothing here touches the real home directory: every command starts from `env -i` with
//! HOME, the XDG directories and the JVM's `user.home` pointing into the sandbox.
//!
//! External programs (shells, the Python SDK) are skipped with a printed notice when absent,
//! and are a failure when `DASHKEY_REQUIRE_SHELLS=1` (CI installs them all and sets it).

#![allow(dead_code)]

pub mod world;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A key that looks real and is used by default.
pub const KEY: &str = "sk-3f9a1c0b7d2e4f6a8b0c1d2e3f4a5b6c";
/// A second, different key.
pub const OTHER_KEY: &str = "sk-0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a";

/// A temporary home and the environment every command gets.
pub struct Sandbox {
    root: tempfile::TempDir,
    pub home: PathBuf,
    vars: Vec<(String, String)>,
    secrets: Vec<String>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let root = tempfile::Builder::new().prefix("dashkey-test-").tempdir().unwrap();
        let home = root.path().join("home");
        fs::create_dir(&home).unwrap();
        let home_str = home.to_str().unwrap().to_string();
        let vars = vec![
            ("HOME".to_string(), home_str.clone()),
            ("PATH".to_string(), std::env::var("PATH").unwrap_or_default()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
            ("USER".to_string(), "tester".to_string()),
            // The JVM ignores $HOME; point its user.home into the sandbox too.
            ("JAVA_TOOL_OPTIONS".to_string(), format!("-Duser.home={home_str}")),
        ];
        Sandbox { root, home, vars, secrets: vec![KEY.to_string(), OTHER_KEY.to_string()] }
    }

    /// The sandbox's scratch directory (parent of HOME).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Sets a variable for every command run from now on.
    pub fn env(&mut self, name: &str, value: impl Into<String>) -> &mut Sandbox {
        let value = value.into();
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_string(), value));
        self
    }

    /// Removes a variable.
    pub fn unenv(&mut self, name: &str) -> &mut Sandbox {
        self.vars.retain(|(n, _)| n != name);
        self
    }

    /// Registers a value that must never appear in any output without `--reveal`.
    pub fn secret(&mut self, value: &str) -> &mut Sandbox {
        if value.len() >= 8 {
            self.secrets.push(value.to_string());
        }
        self
    }

    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// Writes a file under HOME, creating parents.
    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.home.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        path
    }

    /// Reads a file under HOME.
    pub fn read(&self, relative: &str) -> Vec<u8> {
        fs::read(self.home.join(relative)).unwrap()
    }

    /// A `dashkey` command with the sandbox environment and nothing else.
    pub fn command(&self) -> Command {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("dashkey"));
        command.env_clear().envs(self.vars.iter().map(|(k, v)| (k, v))).current_dir(self.root());
        command
    }

    /// Any program, with the sandbox environment and nothing else.
    pub fn program(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env_clear().envs(self.vars.iter().map(|(k, v)| (k, v))).current_dir(self.root());
        command
    }

    /// Runs `dashkey` with arguments and optional stdin, and checks that no registered secret
    /// leaked unless `--reveal` was asked for.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = self.command();
        command.args(args);
        let output = feed(command, stdin);
        let run = Run::from(output);
        if !args.contains(&"--reveal") {
            self.assert_no_secret(&run, args);
        }
        run
    }

    /// Runs `dashkey` for a command whose job is to print the key (`env`, `export`): no
    /// leak check.
    pub fn run_revealing(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = self.command();
        command.args(args);
        Run::from(feed(command, stdin))
    }

    /// Fails if a registered secret appears in the output.
    pub fn assert_no_secret(&self, run: &Run, context: &[&str]) {
        for secret in &self.secrets {
            assert!(
                !run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()),
                "a key leaked into the output of dashkey {context:?}:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
    }
}

/// Runs a command, writing `stdin` to it if given.
pub fn feed(mut command: Command, stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("start command");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // A writer thread, so a command that stops reading early cannot deadlock the test.
        let input = input.to_string();
        std::thread::spawn(move || {
            let _ = pipe.write_all(input.as_bytes());
        });
    }
    child.wait_with_output().expect("wait for command")
}

/// Drives an interactive program: waits for each expected text on its output, then types
/// the answer. Returns everything it printed. Gives up after 20 seconds per step.
pub fn converse(mut command: Command, script: &[(&str, &str)]) -> String {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start program");
    let screen = Arc::new(Mutex::new(String::new()));
    let mut readers = Vec::new();
    for mut stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let screen = Arc::clone(&screen);
        readers.push(std::thread::spawn(move || {
            let mut buffer = [0u8; 1024];
            while let Ok(n) = stream.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                screen.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        }));
    }
    let mut input = child.stdin.take().unwrap();
    let mut seen = 0;
    for (expect, answer) in script {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let text = screen.lock().unwrap().clone();
            if let Some(at) = text[seen..].find(expect) {
                seen += at + expect.len();
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never saw {expect:?}; screen:\n{text}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        input.write_all(answer.as_bytes()).unwrap();
        input.flush().unwrap();
    }
    drop(input);
    let _ = child.wait();
    for reader in readers {
        let _ = reader.join();
    }
    screen.lock().unwrap().clone()
}

/// Every file, link and directory under a root: content, mode, link target, inode count.
pub fn snapshot(root: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let (mode, nlink) = sys::mode_and_links(&meta);
            let value = if meta.file_type().is_symlink() {
                format!("link -> {}", fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {mode:o}")
            } else if meta.is_file() {
                format!("file {mode:o} nlink={nlink} {:?}", fs::read(&path).unwrap())
            } else {
                // A FIFO or socket: reading it would block, and its kind is what matters.
                format!("special {mode:o}")
            };
            out.insert(rel, value);
        }
    }
    out
}

/// The result of a command, decoded.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }

    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "unexpected exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// True when CI asked for every external program to be present.
pub fn required() -> bool {
    std::env::var("DASHKEY_REQUIRE_SHELLS").is_ok_and(|v| v == "1")
}

/// Finds a program on PATH; skips (None, with a notice) or fails when it is missing.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(!required(), "{name} is required (DASHKEY_REQUIRE_SHELLS=1) but not on PATH");
        eprintln!("notice: {name} is not installed; skipping the checks that need it");
    }
    found
}

/// The Python interpreter of the virtual environment that has the `dashscope` package:
/// `$DASHKEY_PYTHON`, else `.venv/bin/python` at the workspace root.
pub fn python_sdk() -> Option<PathBuf> {
    let candidate = std::env::var_os("DASHKEY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    let works = candidate.is_file()
        && Command::new(&candidate)
            .args(["-c", "import dashscope"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !works {
        assert!(
            !required(),
            "the DashScope Python SDK is required (DASHKEY_REQUIRE_SHELLS=1) but {} cannot import dashscope",
            candidate.display()
        );
        eprintln!(
            "notice: no Python with the dashscope package (.venv or DASHKEY_PYTHON); skipping SDK checks"
        );
        return None;
    }
    Some(candidate)
}

// ---- scope "leaks": bounded runs for the leak and bad-input tests ----

/// Runs `dashkey` like [`Sandbox::run_revealing`] (no leak check: the caller greps), but
/// killed after 60 seconds, so a regression that hangs fails instead of stalling CI.
pub fn run_bounded(sandbox: &Sandbox, args: &[&str], stdin: Option<&str>) -> Run {
    sandbox.run_within(args, stdin, std::time::Duration::from_secs(60))
}

// ---- scope "unset": bounded runs and leftover checks --------------------------------------

impl Sandbox {
    /// `dashkey set` without the online check, the key on stdin, bounded like
    /// [`Sandbox::run_bounded`].
    #[track_caller]
    pub fn set_offline(&self, key: &str, extra: &[&str]) -> Run {
        let mut args = vec!["set", "--stdin", "--offline"];
        args.extend_from_slice(extra);
        self.run_bounded(&args, Some(key))
    }

    /// Runs `dashkey` like [`Sandbox::run`], killed and failed after [`HANG_GUARD`], so a
    /// regression that hangs fails instead of hanging CI.
    #[track_caller]
    pub fn run_bounded(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let run = self.run_within(args, stdin, HANG_GUARD);
        assert_ne!(run.code, -1, "dashkey {args:?} was killed:\n{}", run.stderr);
        self.assert_no_secret(&run, args);
        run
    }

    /// Runs `dashkey` with `stdin` (or none), failing the test if it does not finish within
    /// `limit`: the one bounded runner the others are made of. No leak check of its own.
    #[track_caller]
    pub fn run_within(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        limit: std::time::Duration,
    ) -> Run {
        let mut std_command = self.command();
        std_command.stdin(std::process::Stdio::null());
        let mut command = assert_cmd::Command::from_std(std_command);
        command.args(args).timeout(limit);
        if let Some(input) = stdin {
            command.write_stdin(input.to_string());
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("dashkey {args:?} did not finish within {limit:?} ({e})"));
        Run::from(output)
    }

    /// Makes a FIFO at `relative` under HOME (creating parents).
    pub fn fifo(&self, relative: &str) -> PathBuf {
        let path = self.home.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        mkfifo(&path);
        path
    }
}

/// How long a run may take before it counts as hung: far above any normal run, so it never
/// decides a passing test, only turns a hang into a failure.
pub const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(90);

/// Every regular file under `root` holding one of `needles` (paths relative to `root`), with
/// the needle found.
pub fn files_containing(root: &Path, needles: &[&str]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for (path, bytes) in regular_files(root) {
        let text = String::from_utf8_lossy(&bytes);
        let relative = path.strip_prefix(root).unwrap_or(&path);
        for needle in needles {
            if text.contains(needle) {
                found.push((relative.to_path_buf(), needle.to_string()));
            }
        }
    }
    found
}

// ---- scope "files": fault injection, special files, modes ----

/// The `dashkey` binary under test.
pub fn dashkey_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("dashkey")
}

impl Sandbox {
    /// Runs `dashkey ARGS` behind a wrapper program (`strace …`, `sh -c …`): the wrapper's
    /// arguments come first, then the binary, then `args`. Bounded by a timeout, so a hang
    /// fails the test instead of CI; a killed run has code -1.
    pub fn run_wrapped(&self, wrapper: &[&str], args: &[&str], stdin: Option<&str>) -> Run {
        let (program, rest) = wrapper.split_first().expect("a wrapper program");
        let mut command = self.program(program);
        command.args(rest).arg(dashkey_bin()).args(args);
        let mut command = assert_cmd::Command::from_std(command);
        command.timeout(std::time::Duration::from_secs(60));
        command.write_stdin(stdin.unwrap_or("").as_bytes().to_vec());
        let run = Run::from(command.output().expect("run wrapped dashkey"));
        self.assert_no_secret(&run, args);
        run
    }

    /// Runs `dashkey ARGS` bounded by a timeout (for commands that must not block).
    pub fn run_limited(&self, args: &[&str], stdin: Option<&str>, reveal: bool) -> Run {
        let run = self.run_within(args, stdin, std::time::Duration::from_secs(30));
        if !reveal {
            self.assert_no_secret(&run, args);
        }
        run
    }
}

/// Every regular file under `root` whose content holds `needle`.
pub fn paths_containing(root: &Path, needle: &str) -> Vec<PathBuf> {
    regular_files(root)
        .into_iter()
        .filter(|(_, bytes)| String::from_utf8_lossy(bytes).contains(needle))
        .map(|(path, _)| path)
        .collect()
}

/// Every regular file under `root` with its bytes; links are not followed, and FIFOs, devices
/// and unreadable entries are passed over, so a search never blocks.
fn regular_files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = fs::symlink_metadata(&path) else { continue };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file()
                && let Ok(bytes) = fs::read(&path)
            {
                found.push((path, bytes));
            }
        }
    }
    found
}

/// What dashkey may leave nowhere after `unset`: its directory, a key, blocks, temporaries
/// and backups. Returns a description of each leftover.
pub fn dashkey_leftovers(home: &Path) -> Vec<String> {
    let mut out: Vec<String> =
        files_containing(home, &[KEY, OTHER_KEY, ">>> dashkey", "<<< dashkey"])
            .into_iter()
            .map(|(path, needle)| format!("{} holds {needle:?}", path.display()))
            .collect();
    for (path, value) in snapshot(home) {
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let dashkey_dir = path.ends_with(".config/dashkey") || path.starts_with(".config/dashkey");
        if dashkey_dir
            || name.contains(".dashkey-")
            || name.ends_with(".tmp")
            || name.contains("before-dashkey")
        {
            out.push(format!("{} is left ({})", path.display(), &value[..value.len().min(40)]));
        }
    }
    out
}

/// Regular files under `root` with their bytes (directories and modes left out).
pub fn file_contents(root: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    snapshot(root)
        .into_iter()
        .filter(|(_, value)| value.starts_with("file "))
        .map(|(path, _)| {
            let bytes = fs::read(root.join(&path)).unwrap();
            (path, bytes)
        })
        .collect()
}

/// Makes a character device like /dev/null (1:3) inside the sandbox (tests run as root).
pub fn mknod_null(path: &Path) -> bool {
    Command::new("mknod").arg(path).args(["c", "1", "3"]).status().is_ok_and(|s| s.success())
}

/// Makes a FIFO.
pub fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success(), "mkfifo");
}

/// What a snapshot records of a file that only unix has: permission bits and link count.
#[cfg(unix)]
mod sys {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    pub fn mode_and_links(meta: &std::fs::Metadata) -> (u32, u64) {
        (meta.permissions().mode() & 0o7777, meta.nlink())
    }
}

/// Elsewhere a snapshot records contents and links only.
#[cfg(not(unix))]
mod sys {
    pub fn mode_and_links(_meta: &std::fs::Metadata) -> (u32, u64) {
        (0, 1)
    }
}

// ---- scope "launch": programs no shell starts (environment.d, cron) ----

/// Four fake regions on loopback (the built-in ones, [`world::REGIONS`]), the key valid only
/// in `valid_in` (or nowhere), named in the sandbox's config.toml, so that `set`, `verify`
/// and `doctor --online` ask them as they would ask DashScope.
pub fn fake_regions(
    sandbox: &mut Sandbox,
    valid_in: Option<&str>,
) -> Vec<(String, fake_dashscope::Running)> {
    let servers: Vec<(String, fake_dashscope::Running)> = world::REGIONS
        .iter()
        .map(|region| {
            let mut builder = fake_dashscope::FakeDashScope::builder().region(*region);
            if Some(*region) == valid_in {
                builder = builder.valid_key(KEY);
            }
            (region.to_string(), builder.start().unwrap())
        })
        .collect();
    let config: String = servers
        .iter()
        .map(|(region, server)| format!("[regions.{region}]\nendpoint = \"{}\"\n\n", server.url()))
        .collect();
    sandbox.write(".config/dashkey/config.toml", config);
    sandbox.env("DASHKEY_HTTP_TIMEOUT_MS", "5000");
    servers
}

/// [`fake_regions`] with the key valid in `valid_in`.
pub fn launch_fake_regions(
    sandbox: &mut Sandbox,
    valid_in: &str,
) -> Vec<(String, fake_dashscope::Running)> {
    fake_regions(sandbox, Some(valid_in))
}

/// What the real Python SDK resolves, in a process started with exactly `vars` (`env -i`):
/// the 1.x surface (`dashscope.base_http_api_url`) and the 2.0 `Client()`'s base URL, and
/// whether the 2.0 client found a key.
pub fn launch_sdk_urls(python: &Path, vars: &[(String, String)]) -> (String, String, bool) {
    let probe = "import dashscope\n\
                 print(dashscope.base_http_api_url)\n\
                 c = dashscope.Client()\n\
                 print(c._config.base_url)\n\
                 print(c._config.api_key is not None)";
    // The variables go in the environment, never on a command line (one holds the key).
    let output = Command::new("/usr/bin/timeout")
        .env_clear()
        .envs(vars.iter().map(|(n, v)| (n, v)))
        .arg("60")
        .arg(python)
        .args(["-c", probe])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let out = String::from_utf8(output.stdout).unwrap();
    let mut lines = out.lines();
    let v1 = lines.next().unwrap_or_default().to_string();
    let v2 = lines.next().unwrap_or_default().to_string();
    (v1, v2, lines.next() == Some("True"))
}

// ---- scope "clients": the real third-party clients ----

/// The Python interpreter that has the real clients (`openai`, `litellm`, `langchain-qwq`):
/// `$DASHKEY_CLIENTS_PYTHON`, else `.venv-clients/bin/python` at the workspace root. `None`
/// (a skip, with a notice) when it cannot import them; a failure under
/// `DASHKEY_REQUIRE_SHELLS=1`.
pub fn clients_python() -> Option<PathBuf> {
    venv_python("DASHKEY_CLIENTS_PYTHON", ".venv-clients", "openai, litellm, langchain_qwq")
}

/// The Python interpreter of the venv that has llama-index (`llama-index-llms-dashscope`,
/// which pins `dashscope==1.22.2` and so has a venv of its own): `$DASHKEY_LLAMA_PYTHON`,
/// else `.venv-llama/bin/python` at the workspace root; missing is a skip, or a failure under
/// `DASHKEY_REQUIRE_SHELLS=1`.
pub fn llama_python() -> Option<PathBuf> {
    venv_python("DASHKEY_LLAMA_PYTHON", ".venv-llama", "llama_index.llms.dashscope")
}

/// `$variable`, else `<venv>/bin/python` at the workspace root, when it can import `modules`.
fn venv_python(variable: &str, venv: &str, modules: &str) -> Option<PathBuf> {
    let candidate = std::env::var_os(variable).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(venv).join("bin/python")
    });
    let works = candidate.is_file()
        && Command::new(&candidate)
            .args(["-c", &format!("import {modules}")])
            .output()
            .is_ok_and(|o| o.status.success());
    if !works {
        assert!(
            !required(),
            "{modules} are required (DASHKEY_REQUIRE_SHELLS=1) but {} cannot import them",
            candidate.display()
        );
        eprintln!("notice: no Python with {modules} ({variable}); skipping");
        return None;
    }
    Some(candidate)
}

/// A real-client suite's tools: bash for fresh login shells, the client's Python, and the
/// directory its scripts are written to.
pub struct PythonScripts {
    pub bash: PathBuf,
    pub python: PathBuf,
    pub dir: PathBuf,
}

impl PythonScripts {
    /// Writes `scripts` (file name, text) beside the sandbox; `None` (a skip) without bash or
    /// without `python`.
    pub fn new(
        sandbox: &Sandbox,
        python: Option<PathBuf>,
        scripts: &[(&str, &str)],
    ) -> Option<PythonScripts> {
        let bash = tool("bash")?;
        let python = python?;
        let dir = sandbox.root().join("scripts");
        fs::create_dir_all(&dir).unwrap();
        for (name, text) in scripts {
            fs::write(dir.join(name), text).unwrap();
        }
        Some(PythonScripts { bash, python, dir })
    }

    /// The last line `script ARGS` prints when run from a fresh login shell (a client may print
    /// banners before its answer).
    pub fn answer(&self, sandbox: &Sandbox, script: &str, args: &str) -> String {
        let path = self.dir.join(script);
        let command = format!("'{}' '{}' {args}", self.python.display(), path.display());
        let run = login_shell(sandbox, &self.bash, &command);
        run.stdout.trim().lines().last().unwrap_or_default().to_string()
    }
}

// --- clients3: the npm clients ---

/// `node` and the directory the npm clients are installed in (`npm install --prefix`):
/// `$DASHKEY_NODE_CLIENTS`, else `.node-clients` at the workspace root. Missing is a skip,
/// or a failure under `DASHKEY_REQUIRE_SHELLS=1`.
pub fn node_clients() -> Option<(PathBuf, PathBuf)> {
    const PACKAGES: [&str; 4] = ["openai", "@ai-sdk/alibaba", "ai", "@langchain/community"];
    let dir = std::env::var_os("DASHKEY_NODE_CLIENTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.node-clients"));
    let node = tool("node")?;
    let missing: Vec<&str> = PACKAGES
        .into_iter()
        .filter(|p| !dir.join("node_modules").join(p).join("package.json").is_file())
        .collect();
    if !missing.is_empty() {
        assert!(
            !required(),
            "the npm clients are required (DASHKEY_REQUIRE_SHELLS=1) but {} lacks {missing:?}",
            dir.display()
        );
        eprintln!("notice: no npm clients in {} (DASHKEY_NODE_CLIENTS); skipping", dir.display());
        return None;
    }
    Some((node, dir.canonicalize().unwrap()))
}

// --- shared by fix_loop and status_cost ---

/// A stand-in `crontab` program (what `DASHKEY_CRONTAB` names): `-l`, `-` and `-r` on a
/// file in the sandbox, never the machine's crontab.
pub fn fake_crontab(sandbox: &mut Sandbox, text: &str) {
    let spool = sandbox.root().join("spool");
    std::fs::write(&spool, text).unwrap();
    let script = sandbox.root().join("crontab");
    let body = format!(
        "#!/bin/sh\nf='{}'\ncase \"$1\" in\n  -l) [ -f \"$f\" ] && exec cat \"$f\"; \
         echo 'no crontab for tester' >&2; exit 1;;\n  -r) rm -f \"$f\";;\n  -) cat > \"$f\";;\n\
         esac\n",
        spool.display()
    );
    std::fs::write(&script, body).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    sandbox.env("DASHKEY_CRONTAB", script.display().to_string());
}

// --- shared by the client tests ---

/// The `client-problem` finding of a `doctor --client ID --json` report (panics with the
/// report when there is none).
pub fn client_problem(json: &serde_json::Value) -> serde_json::Value {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "client-problem")
        .unwrap_or_else(|| panic!("no client-problem finding: {json}"))
        .clone()
}

/// `command` in a fresh login shell of bash (the real-client tests' way of starting a program
/// as a new terminal would), bounded by `timeout` at 120 s and checked for leaked keys.
pub fn login_shell(sandbox: &Sandbox, bash: &Path, command: &str) -> Run {
    let mut child = sandbox.program("/usr/bin/timeout");
    child.args(["120", bash.to_str().unwrap(), "-l", "-c", command]).env("TERM", "dumb");
    let run = Run::from(child.output().unwrap());
    sandbox.assert_no_secret(&run, &[command]);
    run
}

/// The programs `program ARGS` started under `strace -f -e trace=execve` (the successful
/// execve calls, its own first) and its stdout, fed `stdin`; bounded by `timeout`, outside
/// the traced tree. `None` when strace is not installed (a failure when it is required).
pub fn traced_execs(
    sandbox: &Sandbox,
    program: &Path,
    args: &[&str],
    stdin: Option<&str>,
    log: &str,
) -> Option<(Vec<String>, String)> {
    let Some(strace) = tool("strace") else {
        eprintln!("notice: strace is not installed; skipping");
        return None;
    };
    let log = sandbox.root().join(log);
    let mut command = sandbox.program("timeout");
    command.arg("60").arg(&strace).args(["-f", "-qq", "-e", "trace=execve", "-o"]).arg(&log);
    command.arg(program).args(args);
    let output = feed(command, stdin);
    assert_ne!(output.status.code(), Some(124), "{} {args:?} hung under strace", program.display());
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let text = std::fs::read_to_string(&log).unwrap();
    let started = text
        .lines()
        .filter(|line| line.contains("execve(") && line.trim_end().ends_with("= 0"))
        .map(|line| line.split('"').nth(1).unwrap_or_default().to_string())
        .collect();
    Some((started, stdout))
}
