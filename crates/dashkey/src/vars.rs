//! Names of the environment variables the official SDKs read, as constants, so that a typo
//! is a compile error instead of a silent miss.

/// The key itself. Read by every SDK.
pub const API_KEY: &str = "DASHSCOPE_API_KEY";
/// Path of a file holding the key. Read by the Python and Java SDKs.
pub const API_KEY_FILE_PATH: &str = "DASHSCOPE_API_KEY_FILE_PATH";
/// Base URL of the native API.
pub const HTTP_BASE_URL: &str = "DASHSCOPE_HTTP_BASE_URL";
/// Base URL of the streaming API.
pub const WEBSOCKET_BASE_URL: &str = "DASHSCOPE_WEBSOCKET_BASE_URL";
/// Base URL of the OpenAI-compatible API (recent Python SDKs).
pub const COMPATIBLE_BASE_URL: &str = "DASHSCOPE_COMPATIBLE_BASE_URL";
/// Region that selects a workspace host (recent Python SDKs).
pub const API_REGION: &str = "DASHSCOPE_API_REGION";
/// Workspace that fills `{workspace_id}` in workspace hosts.
pub const WORKSPACE_ID: &str = "DASHSCOPE_WORKSPACE_ID";
/// The 2.0 surface's (`dashscope.Client()`) workspace, which picks its workspace host and
/// goes in `X-DashScope-WorkSpace`.
pub const WORKSPACE: &str = "DASHSCOPE_WORKSPACE";
/// The 2.0 surface's region (one of the six workspace regions).
pub const REGION: &str = "DASHSCOPE_REGION";
/// The Coding Plan key (`sk-sp-`) Qwen Code's Coding Plan preset reads. It names another
/// variable than the standard key, so a Coding Plan profile can be exported beside it.
pub const CODING_PLAN_API_KEY: &str = "BAILIAN_CODING_PLAN_API_KEY";
/// API version in the default URLs (`v1`).
pub const API_VERSION: &str = "DASHSCOPE_API_VERSION";
/// The OpenAI-compatible base URL that LiteLLM (`dashscope/…` models) and langchain-qwq
/// read. It carries DashScope in its name and means exactly this key's region, so `set`
/// writes it by default, in compatible-mode form.
pub const API_BASE: &str = "DASHSCOPE_API_BASE";
/// The OpenAI SDK's key, which users of Qwen through that SDK set to a DashScope key.
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
/// The OpenAI SDK's base URL.
pub const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";

/// `@langchain/community`'s and `@ai-sdk/alibaba`'s key (written only with `--client`).
pub const ALIBABA_API_KEY: &str = "ALIBABA_API_KEY";
/// `@langchain/community`'s region word: `china`, `singapore` or `us`.
pub const ALIBABA_REGION: &str = "ALIBABA_REGION";
/// Spring AI Alibaba's key when its property is not set.
pub const AI_DASHSCOPE_API_KEY: &str = "AI_DASHSCOPE_API_KEY";
/// Spring AI Alibaba's base URL property (`spring.ai.dashscope.base-url`), a host root.
pub const SPRING_AI_BASE_URL: &str = "SPRING_AI_DASHSCOPE_BASE_URL";
/// The Anthropic SDK's bearer token (Claude Code on DashScope's `/apps/anthropic`).
pub const ANTHROPIC_AUTH_TOKEN: &str = "ANTHROPIC_AUTH_TOKEN";
/// The Anthropic SDK's base URL.
pub const ANTHROPIC_BASE_URL: &str = "ANTHROPIC_BASE_URL";
/// The Anthropic SDK's API key (`X-Api-Key`), which Claude Code prefers over
/// `ANTHROPIC_AUTH_TOKEN`: `set --client claude-code` writes it only over another value, with
/// `--force`.
pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";

/// Every variable that carries the key or decides where it is sent, in the order dashkey
/// reports them.
pub const ALL: [&str; 8] = [
    API_KEY,
    API_KEY_FILE_PATH,
    HTTP_BASE_URL,
    WEBSOCKET_BASE_URL,
    COMPATIBLE_BASE_URL,
    API_REGION,
    WORKSPACE_ID,
    API_VERSION,
];
