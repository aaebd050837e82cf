//! The real npm clients (openai, @ai-sdk/alibaba with ai, @langchain/community, pinned in
//! `.ci/run`, installed into `.node-clients`) after `dashkey set --client ID`: each makes a
//! real request from a fresh login shell to `fake-dashscope` playing Singapore; with a key
//! stored for the wrong region the request gets the service's 401 and `doctor --client ID
//! --online` names the cause. Parity: the base URL `status --client ID --json` reports is the
//! one in the URL the installed client really fetches.
//!
//! `@ai-sdk/alibaba` and `@langchain/community` have DashScope's public hosts in their code
//! (no variable moves them), so a `--require`d preload (`clients_node/redirect.cjs`) records
//! every URL the client fetches and sends those hosts to the fake regions, as /etc/hosts would.

mod common;

use std::path::PathBuf;

use common::{KEY, Run, Sandbox, launch_fake_regions, node_clients, tool};

const REDIRECT: &str = include_str!("clients_node/redirect.cjs");
const REQUEST: &str = include_str!("clients_node/request.cjs");

/// Compatible-mode clients call `BASE/chat/completions`; ChatAlibabaTongyi calls the native
/// text-generation service under `BASE` (`…/api/v1`).
const CLIENTS: [(&str, &str); 3] = [
    ("openai-node", "/chat/completions"),
    ("ai-sdk", "/chat/completions"),
    ("langchain-js", "/services/aigc/text-generation/generation"),
];

/// DashScope's public hosts and the region each plays.
const HOSTS: [(&str, &str); 3] = [
    ("https://dashscope.aliyuncs.com", "cn-beijing"),
    ("https://dashscope-intl.aliyuncs.com", "ap-southeast-1"),
    ("https://dashscope-us.aliyuncs.com", "us-east-1"),
];

struct Setup {
    bash: PathBuf,
    node: PathBuf,
    scripts: PathBuf,
}

fn setup(sandbox: &mut Sandbox) -> Option<Setup> {
    let bash = tool("bash")?;
    let (node, clients) = node_clients()?;
    let scripts = sandbox.root().join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::write(scripts.join("redirect.cjs"), REDIRECT).unwrap();
    std::fs::write(scripts.join("request.cjs"), REQUEST).unwrap();
    sandbox.env("DASHKEY_NODE_CLIENTS", clients.to_str().unwrap());
    Some(Setup { bash, node, scripts })
}

/// Sends DashScope's public hosts to the fake servers playing their regions.
fn redirect_hosts(sandbox: &mut Sandbox, servers: &[(String, fake_dashscope::Running)]) {
    let map: serde_json::Map<String, serde_json::Value> = HOSTS
        .iter()
        .map(|(host, region)| {
            let server = &servers.iter().find(|(r, _)| r == region).unwrap().1;
            (host.to_string(), server.url().into())
        })
        .collect();
    sandbox.env("DASHKEY_TEST_REDIRECT", serde_json::Value::Object(map).to_string());
}

/// The client's request from a new login shell: its answer line and the URLs it fetched.
fn request(sandbox: &mut Sandbox, setup: &Setup, client: &str) -> (String, Vec<String>) {
    let sent = sandbox.root().join(format!("sent-{client}"));
    let _ = std::fs::remove_file(&sent);
    sandbox.env("DASHKEY_TEST_SENT", sent.to_str().unwrap());
    let command = format!(
        "'{}' --require '{}' '{}' {client}",
        setup.node.display(),
        setup.scripts.join("redirect.cjs").display(),
        setup.scripts.join("request.cjs").display()
    );
    let run = common::login_shell(sandbox, &setup.bash, &command);
    let answer = run.stdout.trim().lines().last().unwrap_or_default().to_string();
    let urls = std::fs::read_to_string(&sent).unwrap_or_default();
    let urls = urls.lines().map(|line| line.split('\t').next().unwrap().to_string()).collect();
    (answer, urls)
}

fn set_for_clients(sandbox: &Sandbox, extra: &[&str]) {
    let mut args = vec!["set", "--stdin", "--shell", "bash"];
    args.extend_from_slice(extra);
    for (client, _) in CLIENTS {
        args.extend(["--client", client]);
    }
    sandbox.run(&args, Some(KEY)).expect_code(0);
}

#[test]
fn after_set_the_npm_clients_call_singapore_from_a_new_login_shell_and_get_200() {
    let mut sandbox = Sandbox::new();
    let Some(setup) = setup(&mut sandbox) else { return };
    let servers = launch_fake_regions(&mut sandbox, "ap-southeast-1");
    redirect_hosts(&mut sandbox, &servers);
    set_for_clients(&sandbox, &[]);
    let singapore = &servers.iter().find(|(r, _)| r == "ap-southeast-1").unwrap().1;
    for client in ["openai-node", "ai-sdk"] {
        singapore.clear_requests();
        let (answer, _) = request(&mut sandbox, &setup, client);
        assert_eq!(answer, "200 Hello from fake-dashscope (ap-southeast-1).", "{client}");
        let paths: Vec<String> =
            singapore.requests().iter().map(|r| r.path().to_string()).collect();
        assert_eq!(paths, ["/compatible-mode/v1/chat/completions"], "{client}");
    }
    // ChatAlibabaTongyi calls Singapore's native text-generation service.
    singapore.clear_requests();
    let (answer, urls) = request(&mut sandbox, &setup, "langchain-js");
    assert_eq!(
        urls,
        ["https://dashscope-intl.aliyuncs.com/api/v1/services/aigc/text-generation/generation"]
    );
    assert_eq!(singapore.requests().len(), 1);
    assert_eq!(answer, "200 Hello from fake-dashscope (ap-southeast-1).", "langchain-js");
}

#[test]
fn a_key_stored_for_the_wrong_region_gets_the_401_and_doctor_names_the_cause() {
    let mut sandbox = Sandbox::new();
    let Some(setup) = setup(&mut sandbox) else { return };
    let servers = launch_fake_regions(&mut sandbox, "cn-beijing");
    redirect_hosts(&mut sandbox, &servers);
    set_for_clients(&sandbox, &["--offline", "--region", "ap-southeast-1"]);
    for client in ["openai-node", "ai-sdk"] {
        let (answer, _) = request(&mut sandbox, &setup, client);
        assert!(answer.starts_with("error ") && answer.contains(" 401 "), "{client}: {answer}");
        assert!(answer.contains("invalid_api_key"), "{client}: {answer}");
        assert!(answer.contains("Incorrect API key provided"), "{client}: {answer}");
    }
    // ChatAlibabaTongyi on the native API gets the native refusal.
    let (answer, _) = request(&mut sandbox, &setup, "langchain-js");
    assert!(answer.starts_with("error "), "langchain-js: {answer}");
    assert!(answer.contains("InvalidApiKey") || answer.contains("Invalid API-key"), "{answer}");
    for (client, _) in CLIENTS {
        let bin = assert_cmd::cargo::cargo_bin("dashkey");
        let command = format!("'{}' doctor --client {client} --online --json", bin.display());
        let json = common::login_shell(&sandbox, &setup.bash, &command).json();
        let finding = common::client_problem(&json);
        let title = finding["title"].as_str().unwrap();
        assert!(
            title.contains("it calls ap-southeast-1, but the key works in cn-beijing"),
            "{client}: {title}"
        );
        if client == "ai-sdk" {
            // Its URL is an option in code: no command of dashkey's moves it.
            assert!(finding["fix"].is_null(), "{}", finding["fix"]);
            assert!(finding["detail"].as_str().unwrap().contains("baseURL"), "{finding}");
        } else {
            assert_eq!(
                finding["fix"], "dashkey region cn-beijing, then start it from a new terminal",
                "{client}"
            );
        }
    }
    // The fix, run: a new terminal's openai and ChatAlibabaTongyi call Beijing and get 200;
    // @ai-sdk/alibaba still calls Singapore.
    sandbox.run(&["region", "cn-beijing"], None).expect_code(0);
    let (answer, _) = request(&mut sandbox, &setup, "openai-node");
    assert_eq!(answer, "200 Hello from fake-dashscope (cn-beijing).");
    let (answer, urls) = request(&mut sandbox, &setup, "langchain-js");
    assert_eq!(
        urls,
        ["https://dashscope.aliyuncs.com/api/v1/services/aigc/text-generation/generation"]
    );
    assert_eq!(answer, "200 Hello from fake-dashscope (cn-beijing).", "langchain-js");
    let (answer, urls) = request(&mut sandbox, &setup, "ai-sdk");
    assert!(answer.contains(" 401 "), "{answer}");
    assert_eq!(urls, ["https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions"]);
}

/// What `status --client ID --json` says the client sends as its key, in the preload's words.
fn key_shape(row: &serde_json::Value) -> &'static str {
    let problems: Vec<&str> =
        row["problems"].as_array().unwrap().iter().filter_map(|p| p["id"].as_str()).collect();
    if row["key_source"].is_null() {
        "none"
    } else if problems.contains(&"empty-key-sent") {
        "empty"
    } else if problems.contains(&"bad-key") {
        "padded"
    } else {
        "key"
    }
}

#[test]
fn status_client_says_the_base_url_and_key_each_installed_npm_client_sends() {
    let mut sandbox = Sandbox::new();
    let Some(setup) = setup(&mut sandbox) else { return };
    sandbox.env("DASHKEY_TEST_DRY", "1");
    // A key with spaces around it (the test's key, so the sandbox catches it leaking).
    let padded = format!("  {KEY}  ");
    let situations: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("nothing set", vec![]),
        (
            "Singapore",
            vec![
                ("OPENAI_BASE_URL", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
                ("ALIBABA_REGION", "singapore"),
            ],
        ),
        (
            "a gateway with spaces, the US",
            vec![("OPENAI_BASE_URL", "  https://gw.example.com/v1 "), ("ALIBABA_REGION", "us")],
        ),
        ("empty values", vec![("OPENAI_BASE_URL", ""), ("ALIBABA_REGION", "china")]),
        (
            "a trailing slash, a region word it does not know",
            vec![
                ("OPENAI_BASE_URL", "https://dashscope-us.aliyuncs.com/compatible-mode/v1/"),
                ("ALIBABA_REGION", "hongkong"),
            ],
        ),
        ("an empty region word", vec![("ALIBABA_REGION", "")]),
        ("empty keys", vec![("OPENAI_API_KEY", ""), ("ALIBABA_API_KEY", "")]),
        ("padded keys", vec![("OPENAI_API_KEY", &padded), ("ALIBABA_API_KEY", &padded)]),
    ];
    for (name, vars) in situations {
        sandbox.env("OPENAI_API_KEY", KEY).env("ALIBABA_API_KEY", KEY);
        for (var, value) in &vars {
            sandbox.env(var, *value);
        }
        for (client, call) in CLIENTS {
            let sent = sandbox.root().join("sent");
            let _ = std::fs::remove_file(&sent);
            sandbox.env("DASHKEY_TEST_SENT", sent.to_str().unwrap());
            let mut command = sandbox.program("/usr/bin/timeout");
            command
                .arg("120")
                .arg(&setup.node)
                .arg("--require")
                .arg(setup.scripts.join("redirect.cjs"))
                .arg(setup.scripts.join("request.cjs"))
                .arg(client);
            let run = Run::from(command.output().unwrap());
            let urls = std::fs::read_to_string(&sent).unwrap_or_default();
            let json = sandbox.run(&["status", "--client", client, "--json"], None).json();
            let row = &json["clients"][0];
            let ours = &row["base_url"];
            let lines: Vec<(&str, &str)> =
                urls.lines().map(|line| line.split_once('\t').unwrap()).collect();
            if let [(_, shape)] = lines[..] {
                assert_eq!(key_shape(row), shape, "{name}: {client}: {row}");
            }
            if lines.is_empty() {
                // It refused before fetching (no key): we must not say it sends one.
                assert_eq!(key_shape(row), "none", "{name}: {client}: {}", run.stdout);
                continue;
            }
            match lines.iter().map(|(url, _)| *url).collect::<Vec<_>>()[..] {
                [url] => match url.strip_suffix(call) {
                    Some(base) if base.contains("://") => {
                        // openai joins `BASE/` and `/chat/completions` with one slash.
                        let ours = ours.as_str().map(|url| url.trim_end_matches('/'));
                        assert_eq!(ours, Some(base), "{name}: {client}")
                    }
                    // No scheme: the client built a URL it cannot fetch.
                    _ => assert!(ours.is_null(), "{name}: {client} fetches {url}, we say {ours}"),
                },
                _ => panic!("{name}: {client} fetched {urls:?}: {} {}", run.stdout, run.stderr),
            }
        }
        for (var, _) in &vars {
            sandbox.unenv(var);
        }
    }
}
