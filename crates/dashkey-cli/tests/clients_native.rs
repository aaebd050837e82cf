//! The native-API Python clients after `dashkey set`: the DashScope SDK's 1.x surface
//! (`dashscope.Generation.call`) and its 2.0 `Client()` from the SDK venv, and
//! langchain-community's `ChatTongyi` (and `DashScopeEmbeddings`) and qwen-agent's DashScope
//! model server from the clients venv. Each
//! makes a real request from a fresh login shell to `fake-dashscope` playing the key's region
//! and gets 200; with a key stored for the wrong region each gets the service's real 401
//! body, and `doctor --client ID --online` names the cause.

mod common;

use std::path::PathBuf;

use common::{KEY, Sandbox, clients_python, launch_fake_regions, python_sdk, tool};

/// One request per client, printing `200 <text>` or `error <status> <code> <message>` (never
/// the key).
const REQUEST: &str = r#"
import sys, warnings
warnings.simplefilter("ignore")
which = sys.argv[1]
messages = [{"role": "user", "content": "hi"}]
try:
    if which == "dashscope":
        import dashscope
        r = dashscope.Generation.call(model="qwen-plus", messages=messages, result_format="message")
        if r.status_code == 200:
            print("200", r.output.choices[0].message.content)
        else:
            print("error", r.status_code, r.code, r.message)
    elif which == "dashscope-client":
        import dashscope
        r = dashscope.Client(max_retries=0).chat.completions.create(model="qwen-plus", messages=messages)
        print("200", r.choices[0].message.content)
    elif which == "langchain":
        from langchain_community.chat_models.tongyi import ChatTongyi
        print("200", ChatTongyi(model="qwen-plus", max_retries=1).invoke("hi").content)
    elif which == "qwen-agent":
        # qwen-agent 0.0.34 imports soundfile (for audio only) without depending on it: an
        # empty module stands in when it is absent, so that the text path can be tried.
        import types
        try:
            import soundfile
        except ImportError:
            sys.modules["soundfile"] = types.ModuleType("soundfile")
        from qwen_agent.llm import get_chat_model
        cfg = {"max_retries": 0, "use_raw_api": False}
        llm = get_chat_model({"model": "qwen-plus", "model_server": "dashscope", "generate_cfg": cfg})
        print("200", llm.chat(messages=messages, stream=False)[-1]["content"])
    elif which == "langchain-embeddings":
        from langchain_community.embeddings import DashScopeEmbeddings
        print("200", len(DashScopeEmbeddings(model="text-embedding-v4", max_retries=1).embed_query("hi")))
except Exception as error:
    status = getattr(error, "status_code", "") or getattr(error, "status", "")
    code = getattr(error, "code", "")
    print("error", status, code, str(error).replace("\n", " "))
"#;

struct Setup {
    bash: PathBuf,
    sdk: PathBuf,
    clients: PathBuf,
    script: PathBuf,
}

fn setup(sandbox: &Sandbox) -> Option<Setup> {
    let bash = tool("bash")?;
    let sdk = python_sdk()?;
    let clients = clients_python()?;
    let script = sandbox.root().join("request.py");
    std::fs::write(&script, REQUEST).unwrap();
    Some(Setup { bash, sdk, clients, script })
}

/// The answer line of one client's request, run from a new login shell.
fn request(sandbox: &Sandbox, setup: &Setup, client: &str) -> String {
    let clients = client.starts_with("langchain") || client == "qwen-agent";
    let python = if clients { &setup.clients } else { &setup.sdk };
    let command = format!("'{}' '{}' {client}", python.display(), setup.script.display());
    let run = common::login_shell(sandbox, &setup.bash, &command);
    run.stdout.trim().lines().last().unwrap_or_default().to_string()
}

const CLIENTS: [&str; 5] =
    ["dashscope", "dashscope-client", "langchain", "langchain-embeddings", "qwen-agent"];

#[test]
fn after_set_every_native_client_gets_200_from_the_keys_region_in_a_new_login_shell() {
    let mut sandbox = Sandbox::new();
    let Some(setup) = setup(&sandbox) else { return };
    let servers = launch_fake_regions(&mut sandbox, "ap-southeast-1");
    sandbox.run(&["set", "--stdin", "--shell", "bash"], Some(KEY)).expect_code(0);
    for client in CLIENTS {
        let answer = request(&sandbox, &setup, client);
        let expected = if client == "langchain-embeddings" {
            "200 4"
        } else {
            "200 Hello from fake-dashscope (ap-southeast-1)."
        };
        assert_eq!(answer, expected, "{client}");
    }
    // They spoke the native API, with the key only in the Authorization header.
    let singapore = &servers.iter().find(|(region, _)| region == "ap-southeast-1").unwrap().1;
    let paths: Vec<String> = singapore.requests().iter().map(|r| r.path().to_string()).collect();
    assert!(
        paths.iter().any(|p| p == "/api/v1/services/aigc/text-generation/generation"),
        "{paths:?}"
    );
    assert!(
        paths.iter().any(|p| p == "/api/v1/services/embeddings/text-embedding/text-embedding"),
        "{paths:?}"
    );
    for request in singapore.requests() {
        assert!(request.occurrences_outside_authorization(KEY).is_empty(), "{request:?}");
    }
}

#[test]
fn a_key_stored_for_the_wrong_region_gets_the_real_401_and_doctor_names_the_cause() {
    let mut sandbox = Sandbox::new();
    let Some(setup) = setup(&sandbox) else { return };
    let _servers = launch_fake_regions(&mut sandbox, "cn-beijing");
    sandbox
        .run(
            &["set", "--stdin", "--offline", "--region", "ap-southeast-1", "--shell", "bash"],
            Some(KEY),
        )
        .expect_code(0);
    for client in CLIENTS {
        let answer = request(&sandbox, &setup, client);
        assert!(answer.starts_with("error "), "{client}: {answer}");
        assert!(
            answer.contains("InvalidApiKey") && answer.contains("Invalid API-key provided."),
            "{client}: {answer}"
        );
    }
    for client in ["dashscope", "dashscope-client", "langchain", "qwen-agent"] {
        let bin = assert_cmd::cargo::cargo_bin("dashkey");
        let command = format!("'{}' doctor --client {client} --online --json", bin.display());
        let json = common::login_shell(&sandbox, &setup.bash, &command).json();
        let finding = common::client_problem(&json);
        let title = finding["title"].as_str().unwrap();
        assert!(
            title.contains("it calls ap-southeast-1, but the key works in cn-beijing"),
            "{client}: {title}"
        );
    }
}
