use super::*;
use crate::platform::Os;
use crate::region::Region;
use std::fs;

const KEY: &str = "sk-0123456789abcdef0123456789abcdef";

fn home_with_file(content: Option<&[u8]>) -> (tempfile::TempDir, Platform) {
    let dir = tempfile::tempdir().unwrap();
    if let Some(content) = content {
        fs::create_dir_all(dir.path().join(".dashscope")).unwrap();
        fs::write(dir.path().join(".dashscope/api_key"), content).unwrap();
    }
    let home = dir.path().to_str().unwrap().to_string();
    let platform = Platform::simulated(Os::Linux, [("HOME", home)]);
    (dir, platform)
}

fn found(resolution: &Resolution) -> Option<String> {
    resolution.key().map(|key| key.expose().to_string())
}

#[test]
fn nothing_anywhere_is_missing_for_every_sdk_with_a_full_list() {
    let (_dir, platform) = home_with_file(None);
    for sdk in Sdk::ALL {
        let resolution = resolve(sdk, &platform);
        assert!(matches!(resolution.outcome, Lookup::Missing), "{sdk:?}");
        let message = resolution.into_result().unwrap_err().to_string();
        assert!(message.contains("DASHSCOPE_API_KEY (not set)"), "{message}");
    }
}

#[test]
fn empty_variable_is_a_key_for_python_and_java_but_missing_for_node() {
    let (dir, platform) = home_with_file(Some(KEY.as_bytes()));
    let platform = platform.with_vars([
        ("HOME".to_string(), dir.path().to_str().unwrap().to_string()),
        (vars::API_KEY.to_string(), String::new()),
    ]);
    assert_eq!(found(&python(&platform)).as_deref(), Some(""));
    assert_eq!(found(&java(&platform)).as_deref(), Some(""));
    assert!(matches!(node(&platform).outcome, Lookup::Missing));
}

#[test]
fn file_reads_differ_python_whole_file_java_first_line() {
    let (_dir, platform) = home_with_file(Some(b"  sk-first\r\nsk-second\n"));
    assert_eq!(found(&python(&platform)).as_deref(), Some("sk-first\nsk-second"));
    let java_platform = platform.clone().with_account_home(platform.home());
    assert_eq!(found(&java(&java_platform)).as_deref(), Some("sk-first"));
}

#[test]
fn missing_named_file_fails_python_but_java_falls_back() {
    let (dir, platform) = home_with_file(Some(KEY.as_bytes()));
    let home = dir.path().to_str().unwrap().to_string();
    let platform = platform.with_vars([
        ("HOME".to_string(), home),
        (vars::API_KEY_FILE_PATH.to_string(), "/nonexistent/key".to_string()),
    ]);
    let py = python(&platform);
    assert!(matches!(py.outcome, Lookup::Failed { failure: ReadFailure::NotFound, .. }));
    assert_eq!(py.candidates[2].verdict, CandidateVerdict::NotReached);
    assert_eq!(found(&java(&platform)).as_deref(), Some(KEY));
}

#[test]
fn java_home_comes_from_the_account_database_or_jvm_options() {
    let (dir, platform) = home_with_file(Some(KEY.as_bytes()));
    let elsewhere = platform.clone().with_account_home(Some(PathBuf::from("/nonexistent")));
    assert!(matches!(java(&elsewhere).outcome, Lookup::Missing));
    let home = dir.path().to_str().unwrap();
    let with_option = elsewhere.with_vars([
        ("HOME".to_string(), home.to_string()),
        ("JAVA_TOOL_OPTIONS".to_string(), format!("-Xmx1g -Duser.home={home}")),
    ]);
    assert_eq!(found(&java(&with_option)).as_deref(), Some(KEY));
}

#[test]
fn node_trims_the_variable() {
    let platform = Platform::simulated(Os::Linux, [(vars::API_KEY, format!(" {KEY}\r\n"))]);
    assert_eq!(found(&node(&platform)).as_deref(), Some(KEY));
    assert_eq!(found(&python(&platform)).as_deref(), Some(format!(" {KEY}\r\n").as_str()));
}

#[test]
fn python_urls_follow_region_and_workspace() {
    let platform = Platform::simulated(
        Os::Linux,
        [(vars::API_REGION, "ap-southeast-1"), (vars::WORKSPACE_ID, "ws-1")],
    );
    let urls = python(&platform).urls;
    assert_eq!(urls.http.url, "https://ws-1.ap-southeast-1.maas.aliyuncs.com/api/v1");
    assert_eq!(region_of(&urls).as_deref(), Some("ap-southeast-1"));
    let platform = Platform::simulated(Os::Linux, [(vars::HTTP_BASE_URL, "")]);
    assert_eq!(python(&platform).urls.http.url, "");
    assert_eq!(node(&platform).urls.http.url, Region::default_region().native_url());
}
