//! The catalogue itself: one row per client, read from the client's own code (the version is
//! in each row's name; `reference/clients.md` in the project's shared notes has the sources).
//! Where a fact could not be confirmed from code, the row's note says so.

use super::{Client, Empty, KeyChain, KeyVar, Style, UrlChain, UrlRule, UrlVar};
use crate::vars;

const fn key(name: &'static str, empty: Empty, trimmed: bool) -> KeyVar {
    KeyVar { name, empty, trimmed, only_with: None }
}

const fn url(name: &'static str, rule: UrlRule) -> UrlVar {
    UrlVar { name, rule }
}

const BEIJING_NATIVE: &str = "https://dashscope.aliyuncs.com/api/v1";
const BEIJING_COMPATIBLE: &str = "https://dashscope.aliyuncs.com/compatible-mode/v1";
const SINGAPORE_COMPATIBLE: &str = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1";

/// Every client dashkey knows, in the order `dashkey clients` lists them.
pub static CATALOGUE: [Client; 14] = [
    Client {
        id: "dashscope",
        name: "DashScope Python SDK 2.0.2, 1.x surface (Generation.call, TextEmbedding; what \
               LangChain, LlamaIndex and qwen-agent call)",
        key_vars: &[],
        key_chain: KeyChain::Sdk1x,
        url_vars: &[],
        url_chain: UrlChain::Sdk1x,
        style: Style::Native,
        default_url: Some(BEIJING_NATIVE),
        whitespace_is_connection_error: false,
        set_vars: &[],
        note: "reads the variable once, at import; an empty value is sent as the key",
    },
    Client {
        id: "dashscope-client",
        name: "DashScope Python SDK 2.0.2, 2.0 surface (dashscope.Client())",
        key_vars: &[],
        key_chain: KeyChain::Sdk2,
        url_vars: &[],
        url_chain: UrlChain::Sdk2,
        style: Style::Native,
        default_url: Some(BEIJING_NATIVE),
        whitespace_is_connection_error: false,
        set_vars: &[],
        note: "DASHSCOPE_BASE_URL, then DASHSCOPE_HTTP_BASE_URL, then ~/.dashscope/config.toml",
    },
    Client {
        id: "openai",
        name: "openai (Python, 1.x-2.x) with Qwen models",
        key_vars: &[key(vars::OPENAI_API_KEY, Empty::CountsAsSet, false)],
        key_chain: KeyChain::Variables,
        url_vars: &[url(vars::OPENAI_BASE_URL, UrlRule::Verbatim)],
        url_chain: UrlChain::Variables,
        style: Style::Compatible,
        default_url: Some("https://api.openai.com/v1"),
        whitespace_is_connection_error: true,
        set_vars: &[vars::OPENAI_API_KEY, vars::OPENAI_BASE_URL],
        note: "generic names another provider may own: written only with --client openai",
    },
    Client {
        id: "openai-node",
        name: "openai (npm, 4-7; read from 6.30.1) with Qwen models",
        // `readEnv` trims, and only `undefined` counts as missing: "" (or spaces) is sent.
        key_vars: &[key(vars::OPENAI_API_KEY, Empty::CountsAsSet, true)],
        key_chain: KeyChain::Variables,
        url_vars: &[url(vars::OPENAI_BASE_URL, UrlRule::NonEmpty)],
        url_chain: UrlChain::Variables,
        style: Style::Compatible,
        default_url: Some("https://api.openai.com/v1"),
        whitespace_is_connection_error: false,
        set_vars: &[vars::OPENAI_API_KEY, vars::OPENAI_BASE_URL],
        note: "trims both values; an empty key is sent, an empty URL is the default; \
               written only with --client openai-node (or openai)",
    },
    Client {
        id: "litellm",
        name: "LiteLLM 1.x (model dashscope/...)",
        key_vars: &[key(vars::API_KEY, Empty::Skipped, false)],
        key_chain: KeyChain::Variables,
        url_vars: &[url(super::API_BASE, UrlRule::LiteLlmRewrite)],
        url_chain: UrlChain::Variables,
        style: Style::Compatible,
        default_url: Some(BEIJING_COMPATIBLE),
        whitespace_is_connection_error: false,
        set_vars: &[],
        note: "defaults to Beijing (1.74 defaulted to Singapore); a missing key surfaces as \
               InternalServerError",
    },
    Client {
        id: "langchain",
        name: "langchain-community 0.4 (ChatTongyi, Tongyi, DashScopeEmbeddings)",
        key_vars: &[key(vars::API_KEY, Empty::Skipped, false)],
        key_chain: KeyChain::Variables,
        url_vars: &[],
        url_chain: UrlChain::Sdk1x,
        style: Style::Native,
        default_url: Some(BEIJING_NATIVE),
        whitespace_is_connection_error: false,
        set_vars: &[],
        note: "the key file is not used: construction fails without the variable",
    },
    Client {
        id: "langchain-qwq",
        name: "langchain-qwq 0.3 (ChatQwen)",
        key_vars: &[
            key(vars::API_KEY, Empty::CountsAsSet, false),
            KeyVar {
                name: vars::OPENAI_API_KEY,
                empty: Empty::CountsAsSet,
                trimmed: false,
                only_with: Some(super::API_BASE),
            },
        ],
        key_chain: KeyChain::Variables,
        url_vars: &[url(super::API_BASE, UrlRule::Verbatim)],
        url_chain: UrlChain::Variables,
        style: Style::Compatible,
        default_url: Some(SINGAPORE_COMPATIBLE),
        whitespace_is_connection_error: false,
        set_vars: &[],
        note: "defaults to Singapore; with a custom base and no key it sends OPENAI_API_KEY",
    },
    Client {
        id: "langchain-js",
        name: "@langchain/community (ChatAlibabaTongyi)",
        key_vars: &[key("ALIBABA_API_KEY", Empty::Skipped, false)],
        key_chain: KeyChain::Variables,
        url_vars: &[url("ALIBABA_REGION", UrlRule::AlibabaRegion)],
        url_chain: UrlChain::Variables,
        style: Style::Native,
        default_url: Some(BEIJING_NATIVE),
        whitespace_is_connection_error: false,
        set_vars: &["ALIBABA_API_KEY", "ALIBABA_REGION"],
        note: "ALIBABA_REGION is china, singapore or us (no Hong Kong); embeddings always call \
               Beijing",
    },
    Client {
        id: "llama-index",
        name: "llama-index-llms-dashscope 0.7.0 (on dashscope 1.22.2)",
        key_vars: &[],
        key_chain: KeyChain::InCodeOnly,
        // dashscope 1.22.2 (which it pins) reads only this variable, at import, empty included:
        // its `DASHSCOPE_API_REGION` builds no workspace host, unlike the 2.0 line's 1.x surface.
        url_vars: &[url(vars::HTTP_BASE_URL, UrlRule::Verbatim)],
        url_chain: UrlChain::Variables,
        style: Style::Native,
        default_url: Some(BEIJING_NATIVE),
        whitespace_is_connection_error: false,
        set_vars: &[],
        note: "api_key= must be passed in code; it pins dashscope 1.22.2; a 401 comes back as \
               an empty answer",
    },
    Client {
        id: "qwen-agent",
        name: "qwen-agent 0.0.34 (native model server)",
        key_vars: &[key(vars::API_KEY, Empty::Skipped, false)],
        key_chain: KeyChain::ThenSdkFiles,
        url_vars: &[url("DASHSCOPE_HTTP_URL", UrlRule::NonEmpty)],
        url_chain: UrlChain::Sdk1x,
        style: Style::Native,
        default_url: Some(BEIJING_NATIVE),
        whitespace_is_connection_error: false,
        set_vars: &[],
        note: "with model_server set to a URL it is an OpenAI client (OPENAI_API_KEY)",
    },
    Client {
        id: "ai-sdk",
        name: "@ai-sdk/alibaba (Vercel AI SDK)",
        key_vars: &[key("ALIBABA_API_KEY", Empty::CountsAsSet, false)],
        key_chain: KeyChain::Variables,
        url_vars: &[],
        url_chain: UrlChain::InCodeOnly,
        style: Style::Compatible,
        default_url: Some(SINGAPORE_COMPATIBLE),
        whitespace_is_connection_error: false,
        set_vars: &["ALIBABA_API_KEY"],
        note: "defaults to Singapore; the base URL is an option in code only (baseURL)",
    },
    Client {
        id: "spring-ai",
        name: "Spring AI Alibaba (DashScope starter)",
        key_vars: &[
            key("SPRING_AI_DASHSCOPE_API_KEY", Empty::CountsAsSet, false),
            key("AI_DASHSCOPE_API_KEY", Empty::CountsAsSet, false),
        ],
        key_chain: KeyChain::Variables,
        url_vars: &[url("SPRING_AI_DASHSCOPE_BASE_URL", UrlRule::Verbatim)],
        url_chain: UrlChain::Variables,
        style: Style::HostRoot,
        default_url: Some("https://dashscope.aliyuncs.com"),
        whitespace_is_connection_error: false,
        set_vars: &["AI_DASHSCOPE_API_KEY", "SPRING_AI_DASHSCOPE_BASE_URL"],
        note: "spring.ai.dashscope.* properties (SPRING_AI_DASHSCOPE_* by Spring's relaxed \
               binding) win over AI_DASHSCOPE_API_KEY; the base URL is a host root",
    },
    Client {
        id: "qwen-code",
        name: "Qwen Code 0.24",
        key_vars: &[
            key(vars::OPENAI_API_KEY, Empty::Skipped, false),
            key("BAILIAN_CODING_PLAN_API_KEY", Empty::Skipped, false),
            key(vars::API_KEY, Empty::Skipped, false),
        ],
        key_chain: KeyChain::Variables,
        url_vars: &[url(vars::OPENAI_BASE_URL, UrlRule::NonEmpty)],
        url_chain: UrlChain::Variables,
        style: Style::Compatible,
        default_url: None,
        whitespace_is_connection_error: false,
        set_vars: &[vars::OPENAI_API_KEY, vars::OPENAI_BASE_URL],
        note: "OPENAI_API_KEY with OPENAI_BASE_URL and OPENAI_MODEL; a non-empty shell \
               value wins, then the first .qwen/.env or .env up from the working directory, \
               ~/.qwen/.env, ~/.env, then settings.json's env (dashkey reads them all)",
    },
    Client {
        id: "claude-code",
        name: "Claude Code (Anthropic SDK) on DashScope's /apps/anthropic",
        // @anthropic-ai/sdk 0.71.2: `readEnv` trims; an empty ANTHROPIC_API_KEY alone fails
        // ("Could not resolve authentication method"), an empty token is sent as `Bearer `.
        key_vars: &[
            key("ANTHROPIC_API_KEY", Empty::Skipped, true),
            key("ANTHROPIC_AUTH_TOKEN", Empty::CountsAsSet, true),
        ],
        key_chain: KeyChain::Variables,
        url_vars: &[url("ANTHROPIC_BASE_URL", UrlRule::NonEmpty)],
        url_chain: UrlChain::Variables,
        style: Style::Anthropic,
        default_url: Some("https://api.anthropic.com"),
        whitespace_is_connection_error: false,
        set_vars: &["ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"],
        note: "with both set the SDK sends both (X-Api-Key and Authorization: Bearer) and \
               Claude Code warns; the X-Api-Key one is taken as what it sends; values are \
               trimmed",
    },
];
