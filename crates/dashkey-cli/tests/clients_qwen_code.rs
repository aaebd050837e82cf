//! Qwen Code's own files: `status --client qwen-code` and `doctor --client qwen-code` read
//! the `.env` files and `settings.json` it fills its environment from, say which value wins
//! and where it is, and judge the base URL's region against the key's. Qwen Code itself is
//! not installed here: the trees are built by the tests from its loader's rules
//! (`packages/cli/src/config/environment.ts`).

mod common;

use std::path::{Path, PathBuf};

use common::{KEY, OTHER_KEY, Run, Sandbox, launch_fake_regions};

const SG: &str = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1";
const BJ: &str = "https://dashscope.aliyuncs.com/compatible-mode/v1";
const US: &str = "https://dashscope-us.aliyuncs.com/compatible-mode/v1";

/// `dashkey ARGS` with the working directory `cwd`.
fn run_in(sandbox: &Sandbox, cwd: &Path, args: &[&str]) -> Run {
    let mut command = sandbox.command();
    command.args(args).current_dir(cwd);
    let run = Run::from(command.output().unwrap());
    sandbox.assert_no_secret(&run, args);
    run
}

fn status(sandbox: &Sandbox, cwd: &Path) -> serde_json::Value {
    let json = run_in(sandbox, cwd, &["status", "--client", "qwen-code", "--json"]).json();
    json["clients"][0].clone()
}

fn path(value: &serde_json::Value) -> Option<PathBuf> {
    value.as_str().map(PathBuf::from)
}

/// A project under HOME with a nested working directory.
fn project(sandbox: &Sandbox) -> (PathBuf, PathBuf) {
    let home = sandbox.home.clone();
    let cwd = home.join("proj/sub");
    std::fs::create_dir_all(&cwd).unwrap();
    (home, cwd)
}

#[test]
fn the_shell_then_the_project_file_then_the_home_files_then_settings() {
    let mut sandbox = Sandbox::new();
    let (home, cwd) = project(&sandbox);
    sandbox.write("proj/.qwen/.env", format!("OPENAI_BASE_URL={SG}\n"));
    sandbox.write(".qwen/.env", format!("OPENAI_API_KEY={KEY}\n"));
    sandbox.write(".env", format!("OPENAI_BASE_URL={BJ}\nOPENAI_MODEL=qwen3-coder-plus\n"));
    sandbox.write(
        ".qwen/settings.json",
        serde_json::json!({"env": {"OPENAI_API_KEY": OTHER_KEY, "OPENAI_MODEL": "qwen-max"}})
            .to_string(),
    );
    let row = status(&sandbox, &cwd);
    assert_eq!(row["base_url"], SG, "{row}");
    assert_eq!(row["region"], "ap-southeast-1");
    assert_eq!(row["key_found"], true, "{row}");
    assert_eq!(row["key_source"]["name"], "OPENAI_API_KEY");
    let files = &row["files"];
    assert_eq!(path(&files["base_url_file"]), Some(home.join("proj/.qwen/.env")), "{files}");
    assert_eq!(path(&files["key_file"]), Some(home.join(".qwen/.env")), "{files}");
    let hidden: Vec<(String, PathBuf, Option<PathBuf>)> = files["hidden"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (h["name"].as_str().unwrap().to_string(), path(&h["file"]).unwrap(), path(&h["winner"]))
        })
        .collect();
    assert_eq!(
        hidden,
        [
            ("OPENAI_BASE_URL".to_string(), home.join(".env"), Some(home.join("proj/.qwen/.env"))),
            (
                "OPENAI_API_KEY".to_string(),
                home.join(".qwen/settings.json"),
                Some(home.join(".qwen/.env"))
            ),
            ("OPENAI_MODEL".to_string(), home.join(".qwen/settings.json"), Some(home.join(".env"))),
        ]
    );

    // A non-empty shell value wins over every file; an empty one is filled from them.
    sandbox.env("OPENAI_BASE_URL", US).env("OPENAI_API_KEY", "");
    let row = status(&sandbox, &cwd);
    assert_eq!(row["base_url"], US);
    assert!(row["files"]["base_url_file"].is_null(), "{row}");
    assert_eq!(path(&row["files"]["key_file"]), Some(home.join(".qwen/.env")));
    let text = run_in(&sandbox, &cwd, &["status", "--client", "qwen-code"]);
    assert!(
        text.stdout.contains("in ~/proj/.qwen/.env not used: the shell's value wins"),
        "{}",
        text.stdout
    );
    sandbox.unenv("OPENAI_BASE_URL").unenv("OPENAI_API_KEY");

    // The nearest file walking up is the project file; the farther one is not read.
    sandbox.write("proj/sub/.env", format!("OPENAI_BASE_URL={US}\n"));
    let row = status(&sandbox, &cwd);
    assert_eq!(row["base_url"], US);
    assert_eq!(path(&row["files"]["base_url_file"]), Some(home.join("proj/sub/.env")));
    let hidden = row["files"]["hidden"].to_string();
    assert!(!hidden.contains("proj/.qwen/.env"), "{hidden}");
    // The working directory outside the project: only the home files count.
    let row = status(&sandbox, &home);
    assert_eq!(row["base_url"], BJ);
    assert_eq!(path(&row["files"]["base_url_file"]), Some(home.join(".env")));
}

#[test]
fn doctor_names_the_file_whose_url_calls_another_region_than_the_keys() {
    let mut sandbox = Sandbox::new();
    let (home, cwd) = project(&sandbox);
    let servers = launch_fake_regions(&mut sandbox, "cn-beijing");
    let url = |region: &str| servers.iter().find(|(r, _)| r == region).unwrap().1.compatible_url();
    sandbox
        .run(
            &["set", "--stdin", "--offline", "--region", "cn-beijing", "--no-modify-rc"],
            Some(KEY),
        )
        .expect_code(0);
    sandbox.write(".qwen/.env", format!("OPENAI_API_KEY={KEY}\n"));
    sandbox.write("proj/.env", format!("OPENAI_BASE_URL={}\n", url("ap-southeast-1")));
    let json = run_in(&sandbox, &cwd, &["doctor", "--client", "qwen-code", "--json"]).json();
    let finding = common::client_problem(&json);
    let title = finding["title"].as_str().unwrap();
    assert!(title.contains("it calls ap-southeast-1, but the key works in cn-beijing"), "{title}");
    let detail = finding["detail"].as_str().unwrap();
    assert!(detail.contains("from OPENAI_BASE_URL in ~/proj/.env"), "{detail}");
    assert!(detail.contains("from OPENAI_API_KEY in ~/.qwen/.env"), "{detail}");
    // The file is what to edit; nothing dashkey stores moves it.
    assert!(finding["fix"].is_null(), "{finding}");

    // Edited to the key's region, it works.
    sandbox.write("proj/.env", format!("OPENAI_BASE_URL={}\n", url("cn-beijing")));
    let json = run_in(&sandbox, &cwd, &["doctor", "--client", "qwen-code", "--json"]).json();
    let ids: Vec<&str> =
        json["findings"].as_array().unwrap().iter().filter_map(|f| f["id"].as_str()).collect();
    assert!(ids.contains(&"client-ok") && !ids.contains(&"client-problem"), "{json}");
    assert_eq!(
        path(&status(&sandbox, &cwd)["files"]["base_url_file"]),
        Some(home.join("proj/.env"))
    );
}

#[test]
fn an_unreadable_settings_file_is_named_and_nothing_changes() {
    let sandbox = Sandbox::new();
    let (home, cwd) = project(&sandbox);
    sandbox.write(".qwen/settings.json", "{ not json");
    sandbox.write(".env", format!("OPENAI_API_KEY={KEY}\nOPENAI_BASE_URL={BJ}\n"));
    let before = common::file_contents(sandbox.root());
    let row = status(&sandbox, &cwd);
    let unreadable = row["files"]["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1, "{row}");
    assert_eq!(path(&unreadable[0]["file"]), Some(home.join(".qwen/settings.json")));
    assert_eq!(row["base_url"], BJ);
    assert_eq!(common::file_contents(sandbox.root()), before);
}
