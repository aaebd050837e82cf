//! The real clients (openai, LiteLLM, langchain-qwq, installed from PyPI, pinned in
//! `.ci/run`) after `dashkey set`: each makes a real request from a fresh login shell to
//! `fake-dashscope` playing the key's region and gets 200; with a key stored for the wrong
//! region each gets the service's real 401 body, `doctor --client --online` names the
//! cause, and its fix, run, makes the request work. Parity: what `status --client ID --json`
//! says each client calls is what the installed client really resolves.

mod common;

use common::{KEY, Run, Sandbox, clients_python, launch_fake_regions};

/// One request per client, printing the answer's text or the error's text (never the key).
const REQUEST: &str = r#"
import os, sys
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
which = sys.argv[1]
messages = [{"role": "user", "content": "hi"}]
try:
    if which == "openai":
        from openai import OpenAI
        r = OpenAI(max_retries=0).chat.completions.create(model="qwen-plus", messages=messages)
        print("200", r.choices[0].message.content)
    elif which == "openai-embeddings":
        from openai import OpenAI
        r = OpenAI(max_retries=0).embeddings.create(model="text-embedding-v4", input="hi")
        print("200", len(r.data[0].embedding))
    elif which == "litellm":
        import litellm
        litellm.suppress_debug_info = True
        r = litellm.completion(model="dashscope/qwen-plus", messages=messages, num_retries=0)
        print("200", r.choices[0].message.content)
    elif which == "langchain-qwq":
        from langchain_qwq import ChatQwen
        r = ChatQwen(model="qwen-plus", max_retries=0).invoke("hi")
        print("200", r.content)
except Exception as error:
    import json
    body = getattr(error, "body", None)
    if body is None:
        # LiteLLM keeps the service's answer on the response it wraps.
        body = getattr(getattr(error, "response", None), "text", None)
    body = json.dumps(body)
    status = getattr(error, "status_code", "")
    print("error", type(error).__name__, status, str(error).replace("\n", " "), body)
"#;

/// What each installed client resolves as its base URL.
const RESOLVE: &str = r#"
import os, sys
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
which = sys.argv[1]
if which == "openai":
    from openai import OpenAI
    print(str(OpenAI(api_key=os.environ.get("OPENAI_API_KEY") or "x").base_url))
elif which == "litellm":
    from litellm.llms.dashscope.common_utils import resolve_dashscope_openai_api_base
    print(resolve_dashscope_openai_api_base(None))
elif which == "langchain-qwq":
    from langchain_qwq import ChatQwen
    print(ChatQwen(model="qwen-plus", api_key=os.environ.get("DASHSCOPE_API_KEY") or "x").api_base)
"#;

const CLIENTS: [&str; 3] = ["openai", "litellm", "langchain-qwq"];

type Setup = common::PythonScripts;

fn setup(sandbox: &Sandbox) -> Option<Setup> {
    let scripts = [("request.py", REQUEST), ("resolve.py", RESOLVE)];
    Setup::new(sandbox, clients_python(), &scripts)
}

fn request(sandbox: &Sandbox, setup: &Setup, client: &str) -> String {
    setup.answer(sandbox, "request.py", client)
}

fn dashkey_in_login(sandbox: &Sandbox, setup: &Setup, args: &str) -> Run {
    let bin = assert_cmd::cargo::cargo_bin("dashkey");
    common::login_shell(sandbox, &setup.bash, &format!("'{}' {args}", bin.display()))
}

#[test]
fn after_set_every_client_gets_200_from_the_keys_region_in_a_new_login_shell() {
    let mut sandbox = Sandbox::new();
    let Some(setup) = setup(&sandbox) else { return };
    let _servers = launch_fake_regions(&mut sandbox, "ap-southeast-1");
    sandbox
        .run(&["set", "--stdin", "--shell", "bash", "--client", "openai"], Some(KEY))
        .expect_code(0);
    for client in CLIENTS {
        let answer = request(&sandbox, &setup, client);
        assert_eq!(answer, "200 Hello from fake-dashscope (ap-southeast-1).", "{client}");
    }
    assert_eq!(request(&sandbox, &setup, "openai-embeddings"), "200 4");
}

#[test]
fn a_key_stored_for_the_wrong_region_gets_the_real_401_and_doctor_names_and_fixes_it() {
    let mut sandbox = Sandbox::new();
    let Some(setup) = setup(&sandbox) else { return };
    let _servers = launch_fake_regions(&mut sandbox, "cn-beijing");
    sandbox
        .run(
            &[
                "set",
                "--stdin",
                "--offline",
                "--region",
                "ap-southeast-1",
                "--shell",
                "bash",
                "--openai-compatible",
            ],
            Some(KEY),
        )
        .expect_code(0);
    for client in CLIENTS.iter().copied().chain(["openai-embeddings"]) {
        let answer = request(&sandbox, &setup, client);
        assert!(
            answer.starts_with("error ") && answer.contains("AuthenticationError 401 "),
            "{client}: {answer}"
        );
        assert!(answer.contains("invalid_api_key"), "{client}: {answer}");
        assert!(answer.contains("Incorrect API key provided"), "{client}: {answer}");
    }
    for client in ["litellm", "langchain-qwq"] {
        let run = dashkey_in_login(
            &sandbox,
            &setup,
            &format!("doctor --client {client} --online --json"),
        );
        let json = run.json();
        let finding = common::client_problem(&json);
        let title = finding["title"].as_str().unwrap();
        assert!(
            title.contains("it calls ap-southeast-1, but the key works in cn-beijing"),
            "{title}"
        );
        assert_eq!(finding["fix"], "dashkey region cn-beijing, then start it from a new terminal");
    }
    // The fix, run: a new terminal's LiteLLM and langchain-qwq now call Beijing and get 200.
    sandbox.run(&["region", "cn-beijing"], None).expect_code(0);
    for client in ["litellm", "langchain-qwq"] {
        let answer = request(&sandbox, &setup, client);
        assert_eq!(answer, "200 Hello from fake-dashscope (cn-beijing).", "{client}");
    }
}

#[test]
fn status_client_says_the_base_url_each_installed_client_resolves() {
    let mut sandbox = Sandbox::new();
    let Some(setup) = setup(&sandbox) else { return };
    let situations: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("nothing set", vec![]),
        (
            "Singapore compatible",
            vec![
                ("DASHSCOPE_API_BASE", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
                ("OPENAI_BASE_URL", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
            ],
        ),
        (
            "native URLs",
            vec![
                ("DASHSCOPE_API_BASE", "https://dashscope-intl.aliyuncs.com/api/v1"),
                ("OPENAI_BASE_URL", "https://dashscope-us.aliyuncs.com/api/v1"),
            ],
        ),
        (
            "bare hosts",
            vec![
                ("DASHSCOPE_API_BASE", "https://dashscope-us.aliyuncs.com"),
                ("OPENAI_BASE_URL", "https://dashscope.aliyuncs.com"),
            ],
        ),
        ("Hong Kong", vec![("DASHSCOPE_API_BASE", "https://cn-hongkong.dashscope.aliyuncs.com")]),
        (
            "anthropic path",
            vec![("DASHSCOPE_API_BASE", "https://dashscope.aliyuncs.com/apps/anthropic")],
        ),
        (
            "a gateway",
            vec![
                ("DASHSCOPE_API_BASE", "https://gw.example.com/qwen/v1"),
                ("OPENAI_BASE_URL", "https://gw.example.com/v1"),
            ],
        ),
    ];
    let resolve = setup.dir.join("resolve.py");
    for (name, vars) in situations {
        for (var, value) in &vars {
            sandbox.env(var, *value);
        }
        sandbox.env("DASHSCOPE_API_KEY", KEY).env("OPENAI_API_KEY", KEY);
        for client in CLIENTS {
            let mut command = sandbox.program("/usr/bin/timeout");
            command.args([
                "120",
                setup.python.to_str().unwrap(),
                resolve.to_str().unwrap(),
                client,
            ]);
            let real = Run::from(command.output().unwrap());
            assert!(real.code == 0, "{name} {client}: {}", real.stderr);
            let json = sandbox.run(&["status", "--client", client, "--json"], None).json();
            let ours = json["clients"][0]["base_url"].as_str().unwrap_or_default().to_string();
            // openai normalises its base URL with a trailing slash.
            assert_eq!(
                ours.trim_end_matches('/'),
                real.stdout.trim().trim_end_matches('/'),
                "{name}: {client}"
            );
        }
        for (var, _) in &vars {
            sandbox.unenv(var);
        }
    }
}
