//! `dashkey doctor --project`: the walls that live in a project's code, `.env` files and
//! configuration, each shown on a small tree built here, each with a healthy twin that stays
//! silent; bad input (missing directory, unreadable, binary, huge files, FIFOs, link loops)
//! skipped with a note or refused with a clear error, every run bounded; and the real Python
//! SDK run on the test project, to show it calls what doctor says it calls.

// Unix only: FIFOs, symlinks and strace's fault injection.
#![cfg(unix)]

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{KEY, OTHER_KEY, Run, Sandbox, mkfifo, python_sdk, tool};
use fake_dashscope::FakeDashScope;
use serde_json::Value;

/// A sandbox where `set` stored KEY for Singapore and this environment has loaded it.
fn healthy_sandbox() -> Sandbox {
    let mut sandbox = Sandbox::new();
    sandbox
        .run(&["set", "--stdin", "--offline", "--region", "ap-southeast-1"], Some(KEY))
        .expect_code(0);
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    sandbox
}

/// Writes `files` (path, content) under a new project directory `name` beside HOME.
fn project(sandbox: &Sandbox, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = sandbox.root().join(name);
    for (path, content) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `git init` and `git add` of `files` (tracked, not committed: the index is what counts).
fn git_add(dir: &Path, files: &[&str]) {
    let Some(git) = tool("git") else { return };
    let run = |args: &[&str]| {
        let status = Command::new(&git).arg("-C").arg(dir).args(args).status().unwrap();
        assert!(status.success(), "git {args:?}");
    };
    run(&["init", "-q"]);
    if !files.is_empty() {
        let mut add = vec!["add", "--"];
        add.extend_from_slice(files);
        run(&add);
    }
}

/// The project scan as JSON, bounded, with the leak check; the project is left unchanged.
fn scan(sandbox: &Sandbox, dir: &Path) -> (Run, Vec<Value>) {
    let before = tree(dir);
    let run = sandbox.run_bounded(&["doctor", "--project", dir.to_str().unwrap(), "--json"], None);
    assert_eq!(tree(dir), before, "the scan changed the project");
    let findings = run.json()["findings"].as_array().cloned().unwrap_or_default();
    (run, findings)
}

/// Every entry under `root` with what it is: a file's bytes and mtime (which
/// `common::snapshot` leaves out: a scan must not even touch a file), a link's target, a FIFO
/// as such (never opened).
fn tree(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let value = if meta.file_type().is_symlink() {
                format!("link {}", fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else if meta.is_file() {
                format!("file {:?} {:?}", meta.modified().ok(), fs::read(&path).unwrap())
            } else {
                format!("special {:?}", meta.file_type())
            };
            out.push((path, value));
        }
    }
    out.sort();
    out
}

/// The findings that are not `ok`.
fn problems(findings: &[Value]) -> Vec<&Value> {
    findings.iter().filter(|f| f["severity"] != "ok").collect()
}

fn find<'a>(findings: &'a [Value], id: &str, title: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| f["id"] == id && f["title"].as_str().unwrap_or("").contains(title))
        .unwrap_or_else(|| panic!("no {id} finding with {title:?} in {findings:#?}"))
}

#[track_caller]
fn assert_silent(run: &Run, findings: &[Value]) {
    assert!(problems(findings).is_empty(), "the healthy twin is not silent: {findings:#?}");
    run.expect_code(0);
}

const FLASK_APP: &str = "\
import os
import dashscope
from dotenv import load_dotenv
from flask import Flask
from openai import OpenAI

load_dotenv()
dashscope.base_http_api_url = 'https://dashscope.aliyuncs.com/api/v1'
client = OpenAI(
    api_key=os.getenv('DASHSCOPE_API_KEY'),
    base_url='https://dashscope-intl.aliyuncs.com/api/v1',
)
app = Flask(__name__)
";

const FLASK_TWIN: &str = "\
import os
from dotenv import load_dotenv
load_dotenv()
import dashscope
from flask import Flask
from openai import OpenAI

dashscope.base_http_api_url = 'https://dashscope-intl.aliyuncs.com/api/v1'
client = OpenAI(
    api_key=os.getenv('DASHSCOPE_API_KEY'),
    base_url='https://dashscope-intl.aliyuncs.com/compatible-mode/v1',
)
app = Flask(__name__)
";

#[test]
fn flask_app_wrong_region_wrong_style_and_load_dotenv_after_import() {
    let sandbox = healthy_sandbox();
    let env = format!("DASHSCOPE_API_KEY={KEY}\n");
    let wall = project(&sandbox, "flask", &[("app.py", FLASK_APP), (".env", &env)]);
    git_add(&wall, &["app.py"]);
    fs::write(wall.join(".gitignore"), ".env\n").unwrap();
    let (run, findings) = scan(&sandbox, &wall);
    run.expect_code(1);
    let region = find(&findings, "project-url", "app.py:8 calls China (Beijing)");
    assert_eq!(region["severity"], "fail");
    assert_eq!(region["fix"], "use https://dashscope-intl.aliyuncs.com/api/v1 there");
    let style = find(&findings, "project-url", "app.py:11 gives an OpenAI client the native");
    assert_eq!(style["fix"], "use https://dashscope-intl.aliyuncs.com/compatible-mode/v1 there");
    let order = find(
        &findings,
        "project-import-order",
        "app.py:7 loads .env after `import dashscope` (app.py:2)",
    );
    assert_eq!(order["severity"], "fail");
    // The stored key in an ignored .env is where it belongs: no key finding.
    assert!(findings.iter().all(|f| f["id"] != "project-key"), "{findings:#?}");

    let twin = project(&sandbox, "flask-twin", &[("app.py", FLASK_TWIN), (".env", &env)]);
    git_add(&twin, &["app.py"]);
    fs::write(twin.join(".gitignore"), ".env\n").unwrap();
    let (run, findings) = scan(&sandbox, &twin);
    assert_silent(&run, &findings);
}

#[test]
fn node_script_with_a_stale_env_file_and_a_native_url_for_openai() {
    let sandbox = healthy_sandbox();
    let script = "\
require('dotenv').config();
const OpenAI = require('openai');
const client = new OpenAI({
  apiKey: process.env.DASHSCOPE_API_KEY,
  baseURL: 'https://dashscope-intl.aliyuncs.com/api/v1',
});
";
    let twin_script = script.replace("/api/v1", "/compatible-mode/v1");
    // node_modules is other people's code: a wrong URL there is never reported.
    let vendored = "module.exports = 'https://dashscope.aliyuncs.com/compatible-mode/v1';\n";
    let stale = format!("DASHSCOPE_API_KEY={OTHER_KEY}\n");
    let wall = project(
        &sandbox,
        "node",
        &[("index.js", script), (".env", &stale), ("node_modules/x/index.js", vendored)],
    );
    let (run, findings) = scan(&sandbox, &wall);
    run.expect_code(1);
    find(&findings, "project-url", "index.js:5 gives an OpenAI client the native /api/v1 URL");
    let dotenv = find(
        &findings,
        "project-dotenv",
        ".env:1 sets DASHSCOPE_API_KEY, but this environment's value wins",
    );
    assert!(dotenv["detail"].as_str().unwrap().contains("Node's dotenv (in index.js)"), "{dotenv}");
    let key = find(&findings, "project-key", ".env:1 holds a key, sk-…6b5a");
    assert_eq!(key["severity"], "warn");
    assert!(key["detail"].as_str().unwrap().contains("unknown to dashkey"), "{key}");
    assert!(
        findings.iter().all(|f| !f["title"].as_str().unwrap().contains("node_modules")),
        "node_modules was scanned: {findings:#?}"
    );

    let fresh = format!("DASHSCOPE_API_KEY={KEY}\n");
    let twin = project(
        &sandbox,
        "node-twin",
        &[("index.js", &twin_script), (".env", &fresh), ("node_modules/x/index.js", vendored)],
    );
    let (run, findings) = scan(&sandbox, &twin);
    assert_silent(&run, &findings);
}

#[test]
fn spring_application_yml_with_a_path_and_a_committed_key() {
    let sandbox = healthy_sandbox();
    let yml = format!(
        "spring:\n  application:\n    name: demo\n  ai:\n    dashscope:\n      api-key: {OTHER_KEY}\n      base-url: https://dashscope-intl.aliyuncs.com/compatible-mode/v1\n"
    );
    let twin_yml = "spring:\n  ai:\n    dashscope:\n      api-key: ${AI_DASHSCOPE_API_KEY}\n      base-url: https://dashscope-intl.aliyuncs.com\n";
    let path = "src/main/resources/application.yml";
    let wall = project(&sandbox, "spring", &[(path, &yml)]);
    git_add(&wall, &[path]);
    let (run, findings) = scan(&sandbox, &wall);
    run.expect_code(1);
    let url = find(&findings, "project-url", "application.yml:7 gives Spring AI Alibaba");
    assert_eq!(url["fix"], "use https://dashscope-intl.aliyuncs.com there");
    let key = find(&findings, "project-key", "application.yml:6 holds a key, sk-…6b5a");
    assert_eq!(key["severity"], "fail");
    assert!(key["detail"].as_str().unwrap().contains("tracked by git"), "{key}");

    let twin = project(&sandbox, "spring-twin", &[(path, twin_yml)]);
    git_add(&twin, &[path]);
    let (run, findings) = scan(&sandbox, &twin);
    assert_silent(&run, &findings);
}

/// A notebook with these code cells (a markdown cell first, so cell numbers are positions).
fn notebook(cells: &[&str]) -> String {
    let mut all = vec![serde_json::json!({"cell_type": "markdown", "source": ["# Demo\n"]})];
    for cell in cells {
        let lines: Vec<String> = cell.split_inclusive('\n').map(str::to_string).collect();
        all.push(serde_json::json!({"cell_type": "code", "source": lines, "outputs": []}));
    }
    serde_json::json!({"cells": all, "nbformat": 4, "nbformat_minor": 5}).to_string()
}

#[test]
fn notebook_code_cells_are_scanned_with_cell_and_line() {
    let sandbox = healthy_sandbox();
    let wall = notebook(&[
        "import dashscope\n",
        "import os\nos.environ['DASHSCOPE_API_KEY'] = os.getenv('MY_KEY', '')\ndashscope.base_http_api_url = 'https://dashscope-us.aliyuncs.com/api/v1'\n",
    ]);
    let twin = notebook(&[
        "import os\nos.environ['DASHSCOPE_API_KEY'] = os.getenv('MY_KEY', '')\n",
        "import dashscope\ndashscope.base_http_api_url = 'https://dashscope-intl.aliyuncs.com/api/v1'\n",
    ]);
    // A URL in a markdown cell is prose, not code.
    let wall = wall.replace("# Demo", "# Demo https://dashscope.aliyuncs.com/compatible-mode/v1");
    let dir = project(&sandbox, "nb", &[("analysis.ipynb", &wall)]);
    let (run, findings) = scan(&sandbox, &dir);
    run.expect_code(1);
    find(&findings, "project-url", "analysis.ipynb cell 3, line 3 calls US (Virginia)");
    let order = find(
        &findings,
        "project-import-order",
        "analysis.ipynb cell 3, line 2 sets the environment",
    );
    assert!(
        order["title"].as_str().unwrap().contains("(analysis.ipynb cell 2, line 1)"),
        "{order}"
    );
    assert_eq!(order["fix"], "move line cell 3, line 2 above `import dashscope` in analysis.ipynb");
    assert_eq!(problems(&findings).len(), 2, "{findings:#?}");

    let dir = project(&sandbox, "nb-twin", &[("analysis.ipynb", &twin)]);
    let (run, findings) = scan(&sandbox, &dir);
    assert_silent(&run, &findings);
}

#[test]
fn a_missing_directory_or_a_file_is_a_clear_error() {
    let sandbox = healthy_sandbox();
    let missing = sandbox.root().join("no-such-project");
    let run = sandbox.run_bounded(&["doctor", "--project", missing.to_str().unwrap()], None);
    run.expect_code(2);
    assert!(run.stderr.contains("no-such-project does not exist"), "{}", run.stderr);
    let file = sandbox.root().join("file.py");
    fs::write(&file, "x = 1\n").unwrap();
    let run = sandbox.run_bounded(&["doctor", "--project", file.to_str().unwrap()], None);
    run.expect_code(2);
    assert!(run.stderr.contains("file.py is not a directory"), "{}", run.stderr);
}

/// A wrong URL, so that a file that is read shows up as a finding.
const WRONG: &str =
    "import dashscope\ndashscope.base_http_api_url = 'https://dashscope.aliyuncs.com/api/v1'\n";

#[test]
fn binary_huge_fifo_and_link_loops_are_skipped_with_notes() {
    let sandbox = healthy_sandbox();
    let dir = project(&sandbox, "bad", &[("ok.py", "x = 1\n")]);
    let mut binary = WRONG.as_bytes().to_vec();
    binary.extend_from_slice(b"\0\x01\x02");
    fs::write(dir.join("blob.py"), binary).unwrap();
    let mut huge = WRONG.to_string();
    huge.push_str(&"#".repeat(3 << 20));
    fs::write(dir.join("huge.py"), huge).unwrap();
    mkfifo(&dir.join("pipe.py"));
    symlink(".", dir.join("loop")).unwrap();
    symlink("selfloop", dir.join("selfloop")).unwrap();
    fs::create_dir(dir.join("sub")).unwrap();
    symlink("../sub", dir.join("sub/again")).unwrap();
    let (run, findings) = scan(&sandbox, &dir);
    run.expect_code(0);
    assert!(
        findings.iter().all(|f| f["id"] != "project-url"),
        "a skipped file was read: {findings:#?}"
    );
    find(&findings, "project-skipped", "1 file(s) not read: binary");
    find(&findings, "project-skipped", "1 file(s) not read: larger than the scan's cap");
    let fifo = find(&findings, "project-skipped", "not regular files");
    assert!(fifo["detail"].as_str().unwrap().contains("pipe.py"), "{fifo}");
    let links = find(&findings, "project-skipped", "2 file(s) not read: links to directories");
    assert!(links["detail"].as_str().unwrap().contains("loop (a loop)"), "{links}");
    assert!(links["detail"].as_str().unwrap().contains("sub/again (a loop)"), "{links}");
    let unreadable = find(&findings, "project-skipped", "1 file(s) not read: unreadable");
    assert!(unreadable["detail"].as_str().unwrap().contains("selfloop ("), "{unreadable}");
}

#[test]
fn an_unreadable_file_is_a_note_and_the_rest_is_scanned() {
    // Tests run as root, where chmod changes nothing: the open itself fails, injected by
    // strace for that one path.
    let Some(strace) = tool("strace") else { return };
    let sandbox = healthy_sandbox();
    let dir = project(&sandbox, "eacces", &[("locked.py", WRONG), ("other.py", WRONG)]);
    let locked = dir.join("locked.py");
    let wrapper = [
        strace.to_str().unwrap(),
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "-P",
        locked.to_str().unwrap(),
        "-e",
        "trace=openat",
        "-e",
        "inject=openat:error=EACCES",
    ];
    let run = sandbox.run_wrapped(
        &wrapper,
        &["doctor", "--project", dir.to_str().unwrap(), "--json"],
        None,
    );
    run.expect_code(1);
    let findings = run.json()["findings"].as_array().cloned().unwrap();
    let note = find(&findings, "project-skipped", "1 file(s) not read: unreadable");
    assert!(note["detail"].as_str().unwrap().contains("locked.py (Permission denied"), "{note}");
    find(&findings, "project-url", "other.py:2 calls China (Beijing)");
    assert!(!run.stdout.contains("locked.py:2"), "{}", run.stdout);
}

/// Runs the project's Python module with the real SDK and makes one 1.x call.
fn run_sdk(sandbox: &Sandbox, python: &Path, dir: &Path, module: &str) -> std::process::Output {
    let code = format!(
        "import sys; sys.path.insert(0, {dir:?}); import {module}\n\
         from dashscope import Generation\n\
         r = Generation.call(model='qwen-plus', prompt='hi')\n\
         print(getattr(r, 'status_code', None))\n",
        dir = dir.to_str().unwrap()
    );
    let mut command = sandbox.program(python);
    command.args(["-c", &code]);
    let mut command = assert_cmd::Command::from_std(command);
    command.timeout(Duration::from_secs(60));
    command.output().unwrap()
}

#[test]
fn the_python_sdk_calls_the_url_doctor_names() {
    let Some(python) = python_sdk() else { return };
    let sandbox = healthy_sandbox();
    let fake = FakeDashScope::builder().region("ap-southeast-1").valid_key(KEY).start().unwrap();
    let url = fake.native_url();
    let app = format!("import dashscope\ndashscope.base_http_api_url = '{url}'\n");
    let dir = project(&sandbox, "real", &[("app.py", &app)]);
    let (run, findings) = scan(&sandbox, &dir);
    run.expect_code(0);
    let named = find(&findings, "project-url", "app.py:2 sends the DashScope SDK");
    let title = named["title"].as_str().unwrap();
    let said = title.rsplit(" to ").next().unwrap();
    assert_eq!(said, url, "{title}");

    let output = run_sdk(&sandbox, &python, &dir, "app");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let requests = fake.requests();
    let path = url.split_once("://").unwrap().1.split_once('/').unwrap().1;
    assert!(
        requests.iter().any(|r| r.path().starts_with(&format!("/{path}/services/aigc/"))),
        "the SDK did not call {url}: {:?}",
        requests.iter().map(|r| r.path().to_string()).collect::<Vec<_>>()
    );
}

#[test]
fn the_python_sdk_never_sees_a_key_set_after_import() {
    let Some(python) = python_sdk() else { return };
    let mut sandbox = healthy_sandbox();
    // This shell has the old key; the module sets the stored one, after the import.
    sandbox.env("DASHSCOPE_API_KEY", OTHER_KEY);
    let fake = FakeDashScope::builder().region("ap-southeast-1").valid_key(KEY).start().unwrap();
    let url = fake.native_url();
    let app = format!(
        "import os\nimport dashscope\nos.environ['DASHSCOPE_API_KEY'] = open({path:?}).read().strip()\ndashscope.base_http_api_url = '{url}'\n",
        path = sandbox.root().join("key.txt").to_str().unwrap()
    );
    fs::write(sandbox.root().join("key.txt"), KEY).unwrap();
    let twin = app
        .replace("import os\nimport dashscope\n", "import os\n")
        .replace("dashscope.base_http_api_url", "import dashscope\ndashscope.base_http_api_url");
    let dir = project(&sandbox, "late", &[("late.py", &app), ("early.py", &twin)]);
    let (run, findings) = scan(&sandbox, &dir);
    run.expect_code(1);
    find(
        &findings,
        "project-import-order",
        "late.py:3 sets the environment after `import dashscope` (late.py:2)",
    );
    assert!(
        findings
            .iter()
            .all(|f| !f["title"].as_str().unwrap().starts_with("early.py")
                || f["severity"] == "info"),
        "{findings:#?}"
    );

    let auth = |module: &str| {
        fake.clear_requests();
        let output = run_sdk(&sandbox, &python, &dir, module);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let requests = fake.requests();
        let request = requests.last().expect("the SDK sent a request");
        request.header("authorization").unwrap_or_default().to_string()
    };
    assert_eq!(
        auth("late"),
        format!("Bearer {OTHER_KEY}"),
        "the SDK used the key set after import"
    );
    assert_eq!(auth("early"), format!("Bearer {KEY}"));
}

#[test]
fn online_judges_the_project_against_where_the_key_works() {
    // Stored for Singapore, but DashScope (four fake regions on loopback) accepts the key only
    // in US (Virginia), where the project sends it.
    let mut sandbox = healthy_sandbox();
    let servers = common::fake_regions(&mut sandbox, Some("us-east-1"));
    let app = "import dashscope\ndashscope.base_http_api_url = 'https://dashscope-us.aliyuncs.com/api/v1'\n";
    let dir = project(&sandbox, "online", &[("config.py", app)]);
    let (run, findings) = scan(&sandbox, &dir);
    run.expect_code(1);
    let offline = find(
        &findings,
        "project-url",
        "config.py:2 calls US (Virginia) (us-east-1), but the key works in Singapore",
    );
    assert!(offline["detail"].as_str().unwrap().contains("the stored key's region"), "{offline}");

    let path = dir.to_str().unwrap();
    let run = sandbox.run_bounded(&["doctor", "--project", path, "--online", "--json"], None);
    let findings = run.json()["findings"].as_array().cloned().unwrap();
    assert_silent(&run, &findings);
    let asked = servers.iter().filter(|(_, s)| !s.requests().is_empty()).count();
    assert_eq!(asked, 4, "every region was asked");
}

#[test]
fn a_key_in_a_file_is_the_stored_one_an_old_one_or_unknown() {
    // `set --migrate` replaces the old key of .bashrc and keeps a backup: dashkey knows it.
    let mut sandbox = Sandbox::new();
    sandbox.env("SHELL", "/bin/bash");
    sandbox.write(".bashrc", format!("export DASHSCOPE_API_KEY={OTHER_KEY}\n"));
    sandbox.run(&["set", "--stdin", "--offline", "--migrate"], Some(KEY)).expect_code(0);
    let unknown = "sk-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";
    let old = format!("KEY = '{OTHER_KEY}'\n");
    let other = format!("KEY = '{unknown}'\n");
    let dir = project(&sandbox, "keys", &[("old.py", &old), ("other.py", &other)]);
    let (run, findings) = scan(&sandbox, &dir);
    assert!(!run.stdout.contains(unknown), "{}", run.stdout);
    run.expect_code(0);
    let found = find(&findings, "project-key", "old.py:1 holds a key, sk-…6b5a");
    assert_eq!(found["severity"], "warn");
    assert!(
        found["detail"]
            .as_str()
            .unwrap()
            .contains("an old key (known from dashkey's backup ~/.bashrc.dashkey-backup-"),
        "{found}"
    );
    let found = find(&findings, "project-key", "other.py:1 holds a key, sk-…5c4d");
    assert!(found["detail"].as_str().unwrap().contains("a key unknown to dashkey"), "{found}");

    // Twin: the stored key, outside any git work tree, is the user's own business.
    let stored = format!("KEY = '{KEY}'\n");
    let twin = project(&sandbox, "keys-twin", &[("app.py", &stored)]);
    let (run, findings) = scan(&sandbox, &twin);
    assert_silent(&run, &findings);
}
