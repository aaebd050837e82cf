//! Parity with the real DashScope Python SDK: in each situation, `dashkey status --json`'s
//! answer for Python must equal what `dashscope.common.api_key.get_default_api_key()`
//! returns (or raises) in a fresh process with the same environment, HOME and working
//! directory, and the base URL must equal `dashscope.base_http_api_url`.

mod common;

use common::{KEY, OTHER_KEY, Sandbox};

/// Prints what the real SDK resolves, as JSON, in a fresh interpreter.
const PROBE: &str = r#"
import json
try:
    import dashscope
    from dashscope.common.api_key import get_default_api_key
except Exception as error:
    print(json.dumps({"outcome": "import-error", "error": type(error).__name__}))
    raise SystemExit(0)
result = {"http": dashscope.base_http_api_url}
try:
    result.update(outcome="found", key=get_default_api_key())
except dashscope.common.error.AuthenticationError:
    result.update(outcome="missing")
except FileNotFoundError:
    result.update(outcome="failed", failure="not-found")
except IsADirectoryError:
    result.update(outcome="failed", failure="is-directory")
except PermissionError:
    result.update(outcome="failed", failure="permission-denied")
except UnicodeDecodeError:
    result.update(outcome="failed", failure="not-utf8")
print(json.dumps(result))
"#;

struct Situation {
    name: &'static str,
    vars: Vec<(&'static str, String)>,
    files: Vec<(&'static str, Vec<u8>)>,
    dirs: Vec<&'static str>,
}

fn situation(name: &'static str) -> Situation {
    Situation { name, vars: vec![], files: vec![], dirs: vec![] }
}

impl Situation {
    fn var(mut self, name: &'static str, value: impl Into<String>) -> Situation {
        self.vars.push((name, value.into()));
        self
    }
    fn file(mut self, path: &'static str, content: impl AsRef<[u8]>) -> Situation {
        self.files.push((path, content.as_ref().to_vec()));
        self
    }
    fn dir(mut self, path: &'static str) -> Situation {
        self.dirs.push(path);
        self
    }
}

const DEFAULT_FILE: &str = ".dashscope/api_key";

fn situations() -> Vec<Situation> {
    vec![
        situation("nothing at all"),
        situation("variable set").var("DASHSCOPE_API_KEY", KEY),
        situation("variable empty").var("DASHSCOPE_API_KEY", ""),
        situation("variable padded with spaces").var("DASHSCOPE_API_KEY", format!("  {KEY} ")),
        situation("variable with a trailing CR").var("DASHSCOPE_API_KEY", format!("{KEY}\r")),
        situation("variable quoted").var("DASHSCOPE_API_KEY", format!("\"{KEY}\"")),
        situation("variable wins over default file")
            .var("DASHSCOPE_API_KEY", KEY)
            .file(DEFAULT_FILE, OTHER_KEY),
        situation("empty variable shadows default file")
            .var("DASHSCOPE_API_KEY", "")
            .file(DEFAULT_FILE, OTHER_KEY),
        situation("path variable names a file")
            .var("DASHSCOPE_API_KEY_FILE_PATH", "@HOME/keys/dashscope")
            .file("keys/dashscope", format!("{KEY}\n")),
        situation("path variable names a missing file")
            .var("DASHSCOPE_API_KEY_FILE_PATH", "@HOME/keys/nothing")
            .file(DEFAULT_FILE, OTHER_KEY),
        situation("path variable with a literal tilde")
            .var("DASHSCOPE_API_KEY_FILE_PATH", "~/.dashscope/api_key")
            .file(DEFAULT_FILE, KEY),
        situation("path variable empty falls through to default file")
            .var("DASHSCOPE_API_KEY_FILE_PATH", "")
            .file(DEFAULT_FILE, KEY),
        situation("path variable relative to the working directory")
            .var("DASHSCOPE_API_KEY_FILE_PATH", "home/relative.key")
            .file("relative.key", KEY),
        situation("path variable names a directory")
            .var("DASHSCOPE_API_KEY_FILE_PATH", "@HOME/keys")
            .dir("keys"),
        situation("variable wins over path variable")
            .var("DASHSCOPE_API_KEY", OTHER_KEY)
            .var("DASHSCOPE_API_KEY_FILE_PATH", "@HOME/keys/nothing"),
        situation("default file present").file(DEFAULT_FILE, KEY),
        situation("default file with trailing newline").file(DEFAULT_FILE, format!("{KEY}\n")),
        situation("default file empty").file(DEFAULT_FILE, ""),
        situation("default file only whitespace").file(DEFAULT_FILE, " \n\t\n"),
        situation("default file multi-line").file(DEFAULT_FILE, format!("{KEY}\n{OTHER_KEY}\n")),
        situation("default file CRLF multi-line")
            .file(DEFAULT_FILE, format!("{KEY}\r\n{OTHER_KEY}\r\n")),
        situation("default file with no-break spaces")
            .file(DEFAULT_FILE, format!("\u{a0}{KEY}\u{a0}\n")),
        situation("default file with a byte-order mark")
            .file(DEFAULT_FILE, format!("\u{feff}{KEY}\n")),
        situation("default file not UTF-8").file(DEFAULT_FILE, b"sk-\xff\xfe0123456789\n"),
        situation("default file is a directory").dir(DEFAULT_FILE),
        situation("base URL variable")
            .var("DASHSCOPE_API_KEY", KEY)
            .var("DASHSCOPE_HTTP_BASE_URL", "https://dashscope-intl.aliyuncs.com/api/v1"),
        situation("workspace region")
            .var("DASHSCOPE_API_KEY", KEY)
            .var("DASHSCOPE_API_REGION", "ap-southeast-1")
            .var("DASHSCOPE_WORKSPACE_ID", "ws-abc123"),
        situation("workspace region without workspace id")
            .var("DASHSCOPE_API_KEY", KEY)
            .var("DASHSCOPE_API_REGION", "us-east-1"),
        situation("empty base URL variable")
            .var("DASHSCOPE_API_KEY", KEY)
            .var("DASHSCOPE_HTTP_BASE_URL", ""),
    ]
}

#[test]
fn status_agrees_with_the_python_sdk_in_every_situation() {
    let Some(python) = common::python_sdk() else {
        return;
    };
    let situations = situations();
    assert!(situations.len() >= 15);
    // Each situation starts a Python interpreter (about a second); run four at a time.
    let chunks: Vec<&[Situation]> = situations.chunks(situations.len().div_ceil(4)).collect();
    std::thread::scope(|scope| {
        for chunk in chunks {
            let python = &python;
            scope.spawn(move || chunk.iter().for_each(|s| check(python, s)));
        }
    });
}

fn check(python: &std::path::Path, situation: &Situation) {
    let mut sandbox = Sandbox::new();
    let home = sandbox.home.to_str().unwrap().to_string();
    for (name, value) in &situation.vars {
        sandbox.env(name, value.replace("@HOME", &home));
    }
    for dir in &situation.dirs {
        std::fs::create_dir_all(sandbox.home.join(dir)).unwrap();
    }
    for (path, content) in &situation.files {
        sandbox.write(path, content);
    }

    let probe = sandbox.program(python).args(["-c", PROBE]).output().unwrap();
    let name = situation.name;
    assert!(probe.status.success(), "{name}: {}", String::from_utf8_lossy(&probe.stderr));
    let truth: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();

    let report = sandbox.run(&["status", "--json", "--reveal"], None).json();
    let ours = report["sdks"].as_array().unwrap().iter().find(|s| s["sdk"] == "python").unwrap();

    assert_eq!(ours["outcome"], truth["outcome"], "{name}: outcome");
    match truth["outcome"].as_str().unwrap() {
        "found" => assert_eq!(ours["value"], truth["key"], "{name}: key"),
        "failed" => assert_eq!(ours["failure"], truth["failure"], "{name}: failure"),
        _ => {}
    }
    assert_eq!(ours["base_urls"]["http"]["url"], truth["http"], "{name}: base URL");
}
