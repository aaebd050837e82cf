//! DashScope base URLs written in a project: their region against the key's, and their API
//! style against the client that is given them.
//!
//! A URL is taken apart by `region::Endpoint` (the one region table and host shapes: public,
//! workspace `{ws}.{region}.maas.aliyuncs.com`, Coding Plan hosts); only DashScope hosts are
//! reported, plus any URL assigned to a setting that only DashScope clients read
//! (`dashscope.base_http_api_url`, `DASHSCOPE_HTTP_BASE_URL`), so that a gateway or a local
//! test server there is named too (as a note).
//!
//! The client is inferred from the line and the few before it, where the code says which it
//! is: an `OpenAI(`/`new OpenAI(`/`OpenAIOkHttpClient` or an `OPENAI_BASE_URL` wants
//! `/compatible-mode/v1`; `dashscope.base_http_api_url`, `DASHSCOPE_HTTP_BASE_URL` and the
//! Java SDK's `Constants.baseHttpApiUrl` want `/api/v1`; an Anthropic client wants
//! `/apps/anthropic`; Spring AI Alibaba's `spring.ai.dashscope.base-url` wants the host root
//! (it adds the path itself). Where nothing tells, only the region is judged.

use crate::key::KeyKind;
use crate::region::{ApiShape, Endpoint, HostRegion, Region};

use super::walk::{Lang, Source};
use super::{Finding, Scan, Severity, id};

/// How many lines above a URL may hold the constructor it is passed to.
const CONTEXT_LINES: usize = 6;

/// The URL style a client needs, or a URL has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Native,
    Compatible,
    Anthropic,
    WebSocket,
    /// `https://host` with no path (Spring AI Alibaba adds `/api/v1` itself).
    HostRoot,
}

impl Style {
    fn of(endpoint: &Endpoint) -> Option<Style> {
        let path = endpoint.path.trim_end_matches('/');
        match endpoint.shape {
            Some(ApiShape::Native) => Some(Style::Native),
            Some(ApiShape::Compatible) => Some(Style::Compatible),
            Some(ApiShape::WebSocket) => Some(Style::WebSocket),
            None if path.is_empty() => Some(Style::HostRoot),
            None if path == "/apps/anthropic" => Some(Style::Anthropic),
            // A Coding Plan host's OpenAI-compatible path.
            None if path == "/v1" && matches!(endpoint.region, HostRegion::Coding { .. }) => {
                Some(Style::Compatible)
            }
            None => None,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Style::Native => ApiShape::Native.path(),
            Style::Compatible => ApiShape::Compatible.path(),
            Style::WebSocket => ApiShape::WebSocket.path(),
            Style::Anthropic => "/apps/anthropic",
            Style::HostRoot => "",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Style::Native => "the native /api/v1",
            Style::Compatible => "the OpenAI-compatible /compatible-mode/v1",
            Style::Anthropic => "the Anthropic-compatible /apps/anthropic",
            Style::WebSocket => "the WebSocket /api-ws/v1/inference",
            Style::HostRoot => "a bare host",
        }
    }
}

/// Who is given the URL, and what that means for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Client {
    name: &'static str,
    wants: Style,
    /// A setting only DashScope clients read: a custom host there is reported too.
    dashscope_setting: bool,
}

/// Variable names (in `.env`, YAML, properties, `os.environ[...]`, `process.env.…`).
const VARIABLES: [(&str, &str, Style, bool); 7] = [
    ("DASHSCOPE_HTTP_BASE_URL", "the DashScope SDK (DASHSCOPE_HTTP_BASE_URL)", Style::Native, true),
    ("DASHSCOPE_BASE_URL", "the DashScope 2.0 SDK (DASHSCOPE_BASE_URL)", Style::Native, true),
    (
        "DASHSCOPE_COMPATIBLE_BASE_URL",
        "the DashScope SDK (DASHSCOPE_COMPATIBLE_BASE_URL)",
        Style::Compatible,
        true,
    ),
    (
        "DASHSCOPE_WEBSOCKET_BASE_URL",
        "the DashScope SDK (DASHSCOPE_WEBSOCKET_BASE_URL)",
        Style::WebSocket,
        true,
    ),
    ("OPENAI_BASE_URL", "OpenAI clients (OPENAI_BASE_URL)", Style::Compatible, false),
    ("OPENAI_API_BASE", "OpenAI clients (OPENAI_API_BASE)", Style::Compatible, false),
    ("ANTHROPIC_BASE_URL", "Anthropic clients (ANTHROPIC_BASE_URL)", Style::Anthropic, false),
];

/// Settings in code, matched on the URL's own line.
const SETTINGS: [(&str, &str, Style); 6] = [
    ("base_http_api_url", "the DashScope SDK (dashscope.base_http_api_url)", Style::Native),
    (
        "base_compatible_api_url",
        "the DashScope SDK (dashscope.base_compatible_api_url)",
        Style::Compatible,
    ),
    (
        "base_websocket_api_url",
        "the DashScope SDK (dashscope.base_websocket_api_url)",
        Style::WebSocket,
    ),
    ("baseHttpApiUrl", "the DashScope Java SDK (Constants.baseHttpApiUrl)", Style::Native),
    (
        "baseWebsocketApiUrl",
        "the DashScope Java SDK (Constants.baseWebsocketApiUrl)",
        Style::WebSocket,
    ),
    (
        "spring.ai.dashscope.base-url",
        "Spring AI Alibaba (spring.ai.dashscope.base-url)",
        Style::HostRoot,
    ),
];

/// Constructors, matched on the URL's line and the lines just above it.
const CONSTRUCTORS: [(&str, &str, Style); 8] = [
    ("AsyncOpenAI(", "an OpenAI client", Style::Compatible),
    ("OpenAI(", "an OpenAI client", Style::Compatible),
    ("createOpenAI(", "an OpenAI client", Style::Compatible),
    ("OpenAIOkHttpClient", "an OpenAI client", Style::Compatible),
    ("OpenAiApi", "an OpenAI client", Style::Compatible),
    ("Anthropic(", "an Anthropic client", Style::Anthropic),
    ("AnthropicOkHttpClient", "an Anthropic client", Style::Anthropic),
    ("ChatAnthropic(", "an Anthropic client", Style::Anthropic),
];

/// One URL in a file.
struct Found<'a> {
    source: &'a Source,
    line: usize,
    url: String,
    endpoint: Endpoint,
    client: Option<Client>,
}

impl Scan<'_> {
    pub(super) fn check_urls(&self, out: &mut Vec<Finding>) {
        let mut found = Vec::new();
        for source in &self.sources {
            find_urls(source, &mut found);
        }
        let key_kind = self.known.key.as_ref().map(|k| k.kind());
        let mut regions: Vec<(String, String)> = Vec::new();
        for f in &found {
            let at = format!("{}{}", self.show(&f.source.path), f.source.place(f.line));
            let before = out.len();
            self.judge(f, &at, key_kind, out);
            if out.len() == before
                && let Some(region) = f.endpoint.region.region_id()
            {
                regions.push((at, region.to_string()));
            }
        }
        // Without a known key region, URLs that name different regions still cannot all work.
        if self.known.region.is_none() {
            let mut distinct: Vec<&str> = regions.iter().map(|(_, r)| r.as_str()).collect();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() > 1 {
                let list: Vec<String> =
                    regions.iter().map(|(at, r)| format!("{at} → {r}")).collect();
                out.push(
                    Finding::new(
                        id::URL,
                        Severity::Warn,
                        "the project's URLs name different regions",
                    )
                    .detail(format!(
                        "{}: a key works in exactly one region, so some of these calls answer \
                             401 like a wrong key.",
                        list.join(", ")
                    ))
                    .fix(
                        "dashkey doctor --project --online   (tells which region the key works in)",
                    ),
                );
            }
        }
    }

    fn judge(&self, f: &Found<'_>, at: &str, key_kind: Option<KeyKind>, out: &mut Vec<Finding>) {
        let url = &f.url;
        let host = &f.endpoint.host;
        let style = Style::of(&f.endpoint);
        if let Some(client) = f.client
            && style != Some(client.wants)
            && !(client.wants == Style::Native
                && style.is_none()
                && f.endpoint.region == HostRegion::Custom)
        {
            let (why, severity) = match (client.wants, style) {
                (Style::Compatible, Some(Style::Native)) => (
                    "OpenAI clients call <base>/chat/completions, which DashScope serves only \
                     under /compatible-mode/v1: the call gets 404 with no body.",
                    Severity::Fail,
                ),
                (Style::Native, Some(Style::Compatible)) => (
                    "The DashScope SDK appends its own paths (/services/aigc/…) to an /api/v1 \
                     base; under /compatible-mode/v1 they do not exist and the call fails like a \
                     wrong key.",
                    Severity::Fail,
                ),
                (Style::HostRoot, _) => (
                    "Spring AI Alibaba adds /api/v1 to this host root itself, so a path here is \
                     doubled and every call fails.",
                    Severity::Fail,
                ),
                _ => ("That client builds its paths for another API style.", Severity::Fail),
            };
            let scheme = if client.wants == Style::WebSocket { "wss" } else { "https" };
            let fixed = format!("{scheme}://{host}{}", client.wants.path());
            out.push(
                Finding::new(
                    id::URL,
                    severity,
                    format!(
                        "{at} gives {} {} URL",
                        client.name,
                        style.map_or("an unknown-style", Style::describe)
                    ),
                )
                .detail(format!("{url}: {why}"))
                .fix(format!("use {fixed} there")),
            );
            return;
        }
        match (&f.endpoint.region, key_kind) {
            (region, Some(kind)) if kind != KeyKind::CodingPlan && region.plan().is_some() => {
                let plan = region.plan().map_or("", crate::region::Plan::name);
                out.push(
                    Finding::new(
                        id::URL,
                        Severity::Fail,
                        format!("{at} calls a {plan} host, but the stored key is not a {plan} key"),
                    )
                    .detail(format!(
                        "{url}: {plan} hosts accept only sk-sp- keys; others get 401."
                    )),
                );
                return;
            }
            (
                HostRegion::Public { .. } | HostRegion::Workspace { .. },
                Some(KeyKind::CodingPlan),
            ) => {
                out.push(
                    Finding::new(
                        id::URL,
                        Severity::Fail,
                        format!("{at} calls a pay-as-you-go host, but the stored key is a Coding Plan key"),
                    )
                    .detail(format!(
                        "{url}: Coding Plan keys (sk-sp-) work only on coding.dashscope.aliyuncs.com \
                         or coding-intl."
                    )),
                );
                return;
            }
            _ => {}
        }
        let name = |id: &str| {
            Region::find(id).map_or_else(|| id.to_string(), |r| format!("{} ({id})", r.name))
        };
        if let (Some(region), Some(expected)) = (f.endpoint.region.region_id(), &self.known.region)
            && region != expected
        {
            let fix = match (Region::find(expected), &f.endpoint.region, style) {
                (Some(right), HostRegion::Public { .. }, Some(style))
                    if style != Style::HostRoot =>
                {
                    let scheme = if style == Style::WebSocket { "wss" } else { "https" };
                    format!("use {scheme}://{}{} there", right.host, style.path())
                }
                (Some(right), HostRegion::Public { .. }, _) => {
                    format!("use the host {} there", right.host)
                }
                _ => format!("use a host of {} there", name(expected)),
            };
            out.push(
                Finding::new(
                    id::URL,
                    Severity::Fail,
                    format!("{at} calls {}, but the key works in {}", name(region), name(expected)),
                )
                .detail(format!(
                    "{url}: a key works in exactly one region ({}); any other region answers 401 \
                     Invalid API-key provided, exactly like a wrong key (FAQ scenario 5).",
                    self.known.region_origin
                ))
                .fix(fix),
            );
            return;
        }
        if f.endpoint.region == HostRegion::Custom
            && let Some(client) = f.client
        {
            out.push(
                Finding::new(
                    id::URL,
                    Severity::Info,
                    format!("{at} sends {} to {url}", client.name),
                )
                .detail("A host that is not DashScope's (a gateway, a proxy, a test server): the key must work there."),
            );
        }
    }
}

/// Every URL in `source` worth judging, with the client it is given.
fn find_urls<'a>(source: &'a Source, out: &mut Vec<Found<'a>>) {
    let lines: Vec<&str> = source.text.lines().collect();
    let mut yaml_path: Vec<(usize, String)> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if source.lang == Lang::Yaml {
            track_yaml(line, &mut yaml_path);
        }
        if source.lang.is_comment(line) || !line.contains("://") {
            continue;
        }
        for url in urls_in(line) {
            let Ok(endpoint) = Endpoint::parse(&url) else { continue };
            let client = client_of(source, &lines, index, &yaml_path);
            let dashscope_host = endpoint.region != HostRegion::Custom;
            if !dashscope_host && !client.is_some_and(|c| c.dashscope_setting) {
                continue;
            }
            out.push(Found { source, line: index, url, endpoint, client });
        }
    }
}

/// `http://`, `https://` and `wss://` URLs on a line, up to the first character no URL in a
/// string or setting has.
pub(super) fn urls_in(line: &str) -> Vec<String> {
    let mut urls = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("://") {
        let start = rest[..at].rfind(|c: char| !c.is_ascii_alphanumeric()).map_or(0, |n| n + 1);
        let scheme = &rest[start..at];
        let after = &rest[at + 3..];
        let len = after
            .find(|c: char| c.is_whitespace() || "\"'`,;)(]}<>\\".contains(c))
            .unwrap_or(after.len());
        if matches!(scheme, "http" | "https" | "wss") && len > 0 {
            urls.push(format!("{scheme}://{}", &after[..len]));
        }
        rest = &after[len..];
    }
    urls
}

/// The client the URL on line `index` is given, when the code says.
fn client_of(
    source: &Source,
    lines: &[&str],
    index: usize,
    yaml: &[(usize, String)],
) -> Option<Client> {
    let line = lines[index];
    let setting =
        |name: &'static str, wants, dashscope_setting| Client { name, wants, dashscope_setting };
    if source.lang == Lang::Yaml {
        let key = line.trim_start().split(':').next().unwrap_or("").trim();
        let mut path: Vec<&str> = yaml.iter().map(|(_, k)| k.as_str()).collect();
        if path.last() != Some(&key) {
            path.push(key);
        }
        let dotted = path.join(".");
        if dotted.ends_with("spring.ai.dashscope.base-url")
            || dotted.ends_with("spring.ai.dashscope.base_url")
        {
            return Some(setting(
                "Spring AI Alibaba (spring.ai.dashscope.base-url)",
                Style::HostRoot,
                true,
            ));
        }
    }
    for (pattern, name, wants) in SETTINGS {
        if line.contains(pattern) {
            return Some(setting(name, wants, true));
        }
    }
    for (variable, name, wants, dashscope) in VARIABLES {
        if let Some(at) = line.find(variable) {
            // The whole name, not a longer one (`DASHSCOPE_BASE_URL` in `MY_DASHSCOPE_BASE_URL_X`).
            let before = line[..at].chars().next_back();
            let after = line[at + variable.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            if !word(before) && !word(after) {
                return Some(setting(name, wants, dashscope));
            }
        }
    }
    if !matches!(source.lang, Lang::Python | Lang::JavaScript | Lang::Java) {
        return None;
    }
    // A constructor on this line or just above, as long as the statement is still open.
    let first = index.saturating_sub(CONTEXT_LINES);
    for at in (first..=index).rev() {
        let text = lines[at];
        for (pattern, name, wants) in CONSTRUCTORS {
            if text.contains(pattern) {
                return Some(setting(name, wants, false));
            }
        }
        if at < index && (text.trim_end().ends_with(')') || text.trim_end().ends_with(");")) {
            break;
        }
    }
    None
}

/// Keeps the chain of YAML mapping keys above the current line, by indentation.
fn track_yaml(line: &str, path: &mut Vec<(usize, String)>) {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('-') {
        return;
    }
    let indent = line.len() - trimmed.len();
    let Some((key, _)) = trimmed.split_once(':') else { return };
    while path.last().is_some_and(|(i, _)| *i >= indent) {
        path.pop();
    }
    path.push((indent, key.trim().trim_matches(['"', '\'']).to_string()));
}
