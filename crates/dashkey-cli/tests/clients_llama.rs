//! llama-index (`llama-index-llms-dashscope` 0.7.0 on the `dashscope` 1.22.2 it pins, in its
//! own venv, see `.ci/run`) after `dashkey set`: code that passes `api_key=` from
//! `DASHSCOPE_API_KEY`, as DashScope's samples do, makes a real request from a fresh login
//! shell to `fake-dashscope` playing the key's region and gets 200; with the key stored for the
//! wrong region it gets the real 401 (which llama-index turns into an empty answer), `doctor
//! --client llama-index --online` names the cause, and its fix, run, makes the request work.
//! Parity: `status --client llama-index --json` says the base URL the installed SDK uses.

mod common;

use common::{KEY, Run, Sandbox, launch_fake_regions, llama_python};

/// One chat request, printing the answer, or the status, code and message of the refusal
/// llama-index hides behind an empty answer (never the key).
const REQUEST: &str = r#"
import os
from llama_index.llms.dashscope import DashScope
from llama_index.core.llms import ChatMessage
llm = DashScope(model_name="qwen-plus", api_key=os.environ["DASHSCOPE_API_KEY"])
r = llm.chat([ChatMessage(role="user", content="hi")])
if r.raw["status_code"] == 200:
    print("200", r.message.content)
else:
    print("error", r.raw["status_code"], r.raw["code"], r.raw["message"], repr(r.message.content))
"#;

/// The base URL the installed SDK sends llama-index's requests to.
const RESOLVE: &str = r#"
import llama_index.llms.dashscope, dashscope
print(dashscope.base_http_api_url)
"#;

type Setup = common::PythonScripts;

fn setup(sandbox: &Sandbox) -> Option<Setup> {
    Setup::new(sandbox, llama_python(), &[("request.py", REQUEST), ("resolve.py", RESOLVE)])
}

fn request(sandbox: &Sandbox, setup: &Setup) -> String {
    setup.answer(sandbox, "request.py", "")
}

#[test]
fn after_set_llama_index_gets_200_from_the_keys_region_in_a_new_login_shell() {
    let mut sandbox = Sandbox::new();
    let Some(setup) = setup(&sandbox) else { return };
    let _servers = launch_fake_regions(&mut sandbox, "ap-southeast-1");
    sandbox.run(&["set", "--stdin", "--shell", "bash"], Some(KEY)).expect_code(0);
    assert_eq!(request(&sandbox, &setup), "200 Hello from fake-dashscope (ap-southeast-1).");
}

#[test]
fn a_key_stored_for_the_wrong_region_gets_the_real_401_and_doctor_names_and_fixes_it() {
    let mut sandbox = Sandbox::new();
    let Some(setup) = setup(&sandbox) else { return };
    let _servers = launch_fake_regions(&mut sandbox, "cn-beijing");
    let set = ["set", "--stdin", "--offline", "--region", "ap-southeast-1", "--shell", "bash"];
    sandbox.run(&set, Some(KEY)).expect_code(0);
    // The service's native 401, which llama-index returns as an empty answer.
    assert_eq!(request(&sandbox, &setup), "error 401 InvalidApiKey Invalid API-key provided. None");
    let bin = assert_cmd::cargo::cargo_bin("dashkey");
    let doctor = format!("'{}' doctor --client llama-index --online --json", bin.display());
    let json = common::login_shell(&sandbox, &setup.bash, &doctor).json();
    let problems: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "client-problem")
        .collect();
    let region = problems
        .iter()
        .find(|f| f["title"].as_str().unwrap().contains("it calls ap-southeast-1"))
        .unwrap_or_else(|| panic!("no wrong-region finding: {json}"));
    let title = region["title"].as_str().unwrap();
    assert!(title.contains("but the key works in cn-beijing"), "{title}");
    assert_eq!(region["fix"], "dashkey region cn-beijing, then start it from a new terminal");
    // The fix, run: a new terminal's llama-index calls Beijing and gets 200.
    sandbox.run(&["region", "cn-beijing"], None).expect_code(0);
    assert_eq!(request(&sandbox, &setup), "200 Hello from fake-dashscope (cn-beijing).");
}

#[test]
fn status_client_llama_index_says_the_base_url_the_installed_sdk_uses() {
    let mut sandbox = Sandbox::new();
    let Some(setup) = setup(&sandbox) else { return };
    let situations: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("nothing set", vec![]),
        (
            "Singapore",
            vec![("DASHSCOPE_HTTP_BASE_URL", "https://dashscope-intl.aliyuncs.com/api/v1")],
        ),
        ("empty", vec![("DASHSCOPE_HTTP_BASE_URL", "")]),
        // dashscope 1.22.2 builds no workspace host from these (the 2.0 line does).
        (
            "workspace region",
            vec![("DASHSCOPE_API_REGION", "ap-southeast-1"), ("DASHSCOPE_WORKSPACE_ID", "ws-1")],
        ),
        (
            "compatible URLs",
            vec![(
                "DASHSCOPE_COMPATIBLE_BASE_URL",
                "https://dashscope-us.aliyuncs.com/compatible-mode/v1",
            )],
        ),
    ];
    let resolve = setup.dir.join("resolve.py");
    sandbox.env("DASHSCOPE_API_KEY", KEY);
    for (name, vars) in situations {
        for (var, value) in &vars {
            sandbox.env(var, *value);
        }
        let mut command = sandbox.program("/usr/bin/timeout");
        command.args(["120", setup.python.to_str().unwrap(), resolve.to_str().unwrap()]);
        let real = Run::from(command.output().unwrap());
        assert!(real.code == 0, "{name}: {}", real.stderr);
        let json = sandbox.run(&["status", "--client", "llama-index", "--json"], None).json();
        let row = &json["clients"][0];
        assert_eq!(
            row["base_url"].as_str().unwrap_or_default(),
            real.stdout.trim_end_matches('\n'),
            "{name}: {row}"
        );
        for (var, _) in &vars {
            sandbox.unenv(var);
        }
    }
}
