//! Unit tests of the pieces that need no file system; the walls themselves are tested
//! through the binary (`crates/dashkey-cli/tests/project.rs`).

use std::path::Path;

use super::dotenv;
use super::walk::read_source;

#[test]
fn dotenv_lines_parse_as_the_loaders_read_them() {
    let parsed = dotenv::parse(
        "# comment\nexport A=1\nB='two words' # c\nC=\"x\"\nD=plain # note\nnot a line\nE=\n",
    );
    let pairs: Vec<(&str, &str, usize)> =
        parsed.iter().map(|a| (a.name.as_str(), a.value.as_str(), a.line)).collect();
    assert_eq!(
        pairs,
        [("A", "1", 1), ("B", "two words", 2), ("C", "x", 3), ("D", "plain", 4), ("E", "", 6)]
    );
}

#[test]
fn load_dotenv_arguments_are_literal_paths_or_the_default_search() {
    let text = "load_dotenv()\nload_dotenv('conf/.env', override=True)\n# load_dotenv('x')\nload_dotenv(find_dotenv())\n";
    assert_eq!(dotenv::load_dotenv_arguments(text), [None, Some("conf/.env".to_string()), None]);
}

#[test]
fn notebook_places_name_the_cell_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.ipynb");
    let nb = r##"{"cells": [
        {"cell_type": "markdown", "source": ["# title\n"]},
        {"cell_type": "code", "source": ["import os\n", "x = 1\n"]},
        {"cell_type": "code", "source": "y = 2\nz = 3"}
    ]}"##;
    std::fs::write(&path, nb).unwrap();
    let source = read_source(&path).unwrap();
    assert_eq!(source.text, "import os\nx = 1\ny = 2\nz = 3\n");
    assert_eq!(source.place(1), " cell 2, line 2");
    assert_eq!(source.place(3), " cell 3, line 2");
    assert!(read_source(Path::new("/nonexistent/x.py")).is_err());
}

#[test]
fn urls_are_cut_where_a_string_or_setting_ends() {
    use super::urls::urls_in;
    assert_eq!(
        urls_in("client = OpenAI(base_url=\"https://dashscope-intl.aliyuncs.com/api/v1\")"),
        ["https://dashscope-intl.aliyuncs.com/api/v1"]
    );
    assert_eq!(
        urls_in("a='http://127.0.0.1:8080/api/v1', b=`wss://x.y/api-ws/v1/inference`"),
        ["http://127.0.0.1:8080/api/v1", "wss://x.y/api-ws/v1/inference"]
    );
    assert_eq!(
        urls_in("base-url: https://dashscope.aliyuncs.com # China"),
        ["https://dashscope.aliyuncs.com"]
    );
    assert!(urls_in("ftp://files.example.com/x and file:///etc").is_empty());
}

#[test]
fn only_the_sdks_own_client_marks_the_2_0_surface() {
    use super::python::uses_v2_client;
    assert!(uses_v2_client("import dashscope\nc = dashscope.Client()\n"));
    assert!(uses_v2_client("from dashscope import Generation, Client\n"));
    assert!(!uses_v2_client("import dashscope\nimport httpx\nh = httpx.Client()\n"));
    assert!(!uses_v2_client("from dashscope import Generation\n"));
}
