//! Python: the environment changed after `import dashscope` has already read it.
//!
//! The SDK's 1.x surface (`Generation.call`, `TextEmbedding`…, what LangChain and qwen-agent
//! use) reads its variables once, when `dashscope` is imported: `dashscope/common/env.py`
//! (SDK 2.0.2) runs `os.environ.get` for `DASHSCOPE_API_KEY`, `DASHSCOPE_API_KEY_FILE_PATH`,
//! `DASHSCOPE_HTTP_BASE_URL`, `DASHSCOPE_WEBSOCKET_BASE_URL`, `DASHSCOPE_COMPATIBLE_BASE_URL`,
//! `DASHSCOPE_API_REGION`, `DASHSCOPE_WORKSPACE_ID` and `DASHSCOPE_API_VERSION` at import and
//! keeps the values as module globals (`dashscope.api_key`, `dashscope.base_http_api_url`…);
//! only the key file (`~/.dashscope/api_key`) is read later, at the call. So a `load_dotenv()`
//! or an `os.environ[...] = …` that runs after the import never reaches those calls.
//!
//! The limit: only the top-level statements of one module are ordered (an import in another
//! module, or one done inside a function, is not followed), and a module that uses the 2.0
//! surface (`dashscope.Client(`, or `Client` imported from `dashscope`), which reads the
//! environment when the client is built, is left alone. A notebook counts as one module, its
//! code cells in order.

use crate::vars;

use super::dotenv::{self, load_dotenv_arguments};
use super::walk::{Lang, Source};
use super::{Finding, Scan, Severity, id};

/// What `import dashscope` reads (the list above, which is `vars::ALL`).
const READ_AT_IMPORT: [&str; 8] = vars::ALL;

impl Scan<'_> {
    pub(super) fn check_import_order(&self, out: &mut Vec<Finding>) {
        for source in self.sources.iter().filter(|s| s.lang == Lang::Python) {
            if !source.text.contains("dashscope") || uses_v2_client(&source.text) {
                continue;
            }
            let lines: Vec<&str> = source.text.lines().collect();
            let Some(import) = lines.iter().position(|l| imports_dashscope(l)) else { continue };
            for (index, line) in lines.iter().enumerate().skip(import + 1) {
                if line.starts_with([' ', '\t']) || line.trim_start().starts_with('#') {
                    continue;
                }
                let (what, names) = match self.changed_names(source, line) {
                    Some(found) => found,
                    None => continue,
                };
                let names: Vec<&str> = names
                    .into_iter()
                    .filter(|n| {
                        // `dashscope.api_key = os.environ[...]` later hands the key over itself.
                        !(*n == vars::API_KEY && sets_api_key_after(&lines, index))
                    })
                    .collect();
                if names.is_empty() {
                    continue;
                }
                let key = names.contains(&vars::API_KEY);
                let at = |i: usize| format!("{}{}", self.show(&source.path), source.place(i));
                out.push(
                    Finding::new(
                        id::IMPORT_ORDER,
                        if key { Severity::Fail } else { Severity::Warn },
                        format!("{} {what} after `import dashscope` ({})", at(index), at(import)),
                    )
                    .detail(format!(
                        "The SDK reads {} once, at import; calls such as Generation.call never see \
                         {}{}.",
                        names.join(", "),
                        if names.len() == 1 { "the new value" } else { "the new values" },
                        if key {
                            " and send the old key, or none (\"No api key provided\")"
                        } else {
                            ""
                        }
                    ))
                    .fix(format!(
                        "move line {} above `import dashscope` in {}",
                        index_of(source, index),
                        self.show(&source.path)
                    )),
                );
            }
        }
    }

    /// What a top-level line changes in the environment that the import read: a description
    /// and the names.
    fn changed_names(&self, source: &Source, line: &str) -> Option<(String, Vec<&'static str>)> {
        if line.contains("load_dotenv(") {
            let argument = load_dotenv_arguments(line).into_iter().next()?;
            let path = match argument {
                Some(literal) => source.dir().join(literal),
                None => source.dir().ancestors().map(|d| d.join(".env")).find(|p| p.is_file())?,
            };
            let text = self
                .dotenvs
                .iter()
                .find(|d| d.source.path == path)
                .map(|d| d.source.text.clone())?;
            let names: Vec<&'static str> = dotenv::parse(&text)
                .iter()
                .filter_map(|a| READ_AT_IMPORT.iter().copied().find(|n| *n == a.name))
                .collect();
            return Some((format!("loads {}", self.show(&path)), names));
        }
        let sets = ["os.environ[", "os.environ.setdefault(", "os.putenv(", "os.environ.update("];
        if !sets.iter().any(|s| line.contains(s)) {
            return None;
        }
        let names: Vec<&'static str> =
            READ_AT_IMPORT.iter().copied().filter(|n| mentions(line, n)).collect();
        let assigns = line.contains("os.environ[") && !line.contains("] =") && !line.contains("]=");
        if assigns {
            return None;
        }
        Some(("sets the environment".to_string(), names))
    }
}

/// The line number (1-based) as the user's editor shows it: in a notebook, within its cell.
fn index_of(source: &Source, index: usize) -> String {
    if source.is_notebook() {
        source.place(index).trim_start().to_string()
    } else {
        (index + 1).to_string()
    }
}

/// `NAME` quoted on the line (`"DASHSCOPE_API_KEY"` or `'DASHSCOPE_API_KEY'`).
fn mentions(line: &str, name: &str) -> bool {
    line.contains(&format!("\"{name}\"")) || line.contains(&format!("'{name}'"))
}

/// `import dashscope`, `import os, dashscope as ds`, `from dashscope import …` at top level.
fn imports_dashscope(line: &str) -> bool {
    let is_dashscope = |name: &str| {
        let name = name.split(" as ").next().unwrap_or("").trim();
        name == "dashscope" || name.starts_with("dashscope.")
    };
    if let Some(rest) = line.strip_prefix("import ") {
        return rest.split(',').any(is_dashscope);
    }
    line.strip_prefix("from ")
        .and_then(|rest| rest.split_whitespace().next())
        .is_some_and(is_dashscope)
}

fn sets_api_key_after(lines: &[&str], from: usize) -> bool {
    lines[from..].iter().any(|l| {
        let t = l.trim_start();
        t.contains(".api_key =") || t.contains(".api_key=")
    })
}

/// The 2.0 surface: `dashscope.Client(`/`AsyncClient(`, or either imported from `dashscope`
/// (another library's `Client(`, such as httpx's, does not count).
pub(super) fn uses_v2_client(text: &str) -> bool {
    text.contains("dashscope.Client(")
        || text.contains("dashscope.AsyncClient(")
        || text.lines().any(|line| {
            line.trim_start().starts_with("from dashscope import")
                && line.split([',', ' ', '(']).any(|w| w == "Client" || w == "AsyncClient")
        })
}
