//! A stand-in for one DashScope region: a real HTTP/1.1 server on `127.0.0.1`.
//!
//! The real service is out of reach from tests and CI, yet dashkey's online check is only as
//! good as its handling of what the service really answers (the exact error bodies, keys that
//! are valid but restricted, overdue or throttled) and of what networks really do (slow
//! answers, 5xx, garbage, resets, stalls). So this crate answers like DashScope over a real
//! socket, and every fault is a few lines of plain code: it is written on
//! [`std::net::TcpListener`] and one thread per connection, with no async runtime, so that
//! "send the headers, then nothing" is exactly that.
//!
//! One [`Running`] server plays one region and has its own set of keys, because a DashScope key
//! works in exactly one region. Every request is recorded (method, target, headers, body) so
//! that tests can prove the key travelled in the `Authorization` header and nowhere else.
//!
//! ```no_run
//! use std::time::Duration;
//! use fake_dashscope::{FakeDashScope, Fault};
//!
//! let singapore = FakeDashScope::builder()
//!     .region("ap-southeast-1")
//!     .valid_key("sk-0123456789abcdef0123456789abcdef")
//!     .fault(Fault::Latency(Duration::from_millis(300)))
//!     .start()?;
//! println!("compatible-mode base URL: {}", singapore.compatible_url());
//! // ... point a client at it; the server stops when `singapore` is dropped.
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Answers, as the reference notes (`dashscope.md`, "What the service answers") record them:
//!
//! | request | valid key | bad key / no key / key of the other kind |
//! |---|---|---|
//! | `GET /compatible-mode/v1/models` | 200 `{"object":"list","data":[…]}` | 401 `{"error":{…,"code":"invalid_api_key"},…}` |
//! | `GET /api/v1/models?page_no=1&page_size=1` | 200 `{"request_id":…,"output":{"models":[…],…}}` | 401 `{"code":"InvalidApiKey",…}` |
//! | `POST /compatible-mode/v1/chat/completions` | 200 a one-choice `chat.completion` | as `/compatible-mode/v1/models` |
//! | `POST /compatible-mode/v1/embeddings` | 200 an OpenAI-style `list` of one `embedding` per input | as `/compatible-mode/v1/models` |
//! | `POST /api/v1/services/aigc/text-generation/generation` | 200 `{"output":{"choices":[…]}}` (`result_format: "message"`) or `{"output":{"text":…}}` | as `/api/v1/models` |
//! | `POST /api/v1/services/embeddings/text-embedding/text-embedding` | 200 `{"output":{"embeddings":[…]}}` | as `/api/v1/models` |
//! | `POST /apps/anthropic/v1/messages` (key in `x-api-key` or `Authorization`) | 200 an Anthropic `message` | 401 `{"type":"error","error":{"type":"authentication_error",…}}` |
//! | any other path | — | native `/api/…`: 400 `InvalidParameter` "url error"; others 404, no body |
//!
//! A server built with [`Builder::coding_plan`] plays a Coding Plan host instead: `GET
//! /v1/models`, `POST /v1/chat/completions` and `POST /apps/anthropic/v1/messages`, only for
//! `sk-sp-` keys; a standard server refuses `sk-sp-` keys. [`Builder::token_plan`] plays a
//! Token Plan host: `/compatible-mode/v1` only (models, chat, embeddings), only for `sk-sp-`
//! keys. Every refusal is the plain bad-key answer, as on the real service.
//!
//! A server built with [`Builder::workspace`] plays a workspace-dedicated host
//! (`{workspace}.{region}.maas.aliyuncs.com`): its keys work only in requests that name that
//! workspace; any other request, and any key it does not know (a standard key of the public
//! hosts), gets the plain bad-key answer.
//!
//! A key can also be not entitled to the model (403 `AccessDenied.Unpurchased`), in arrears
//! (400 `Arrearage`) or throttled (429 `Throttling.RateQuota`): see [`KeyBehaviour`].

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The region a server plays when none is given.
pub const DEFAULT_REGION: &str = "cn-beijing";

/// Longest request head accepted; a client sending more gets 431.
const MAX_HEAD: usize = 64 * 1024;
/// Longest request body accepted; a client sending more gets 413.
const MAX_BODY: usize = 1024 * 1024;
/// How long a connection may sit silent before the server gives up on it.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stall lasts at most, so that even a forgotten server stops by itself.
const DEFAULT_STALL_LIMIT: Duration = Duration::from_secs(60);

/// The models every valid key can list.
const MODELS: [&str; 3] = ["qwen-plus", "qwen-max", "qwen-turbo"];

/// What the service does with a key it knows. A key it does not know is rejected with 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyBehaviour {
    /// Accepted: model lists and completions succeed.
    Valid,
    /// Authenticated but not entitled to the model: 403 `AccessDenied.Unpurchased`.
    Restricted,
    /// Authenticated, but the account is overdue: 400 `Arrearage`.
    Arrears,
    /// Authenticated, but over its rate limit: 429 `Throttling.RateQuota`.
    Throttled,
}

impl KeyBehaviour {
    /// Every behaviour, for help texts.
    pub const ALL: [KeyBehaviour; 4] = [
        KeyBehaviour::Valid,
        KeyBehaviour::Restricted,
        KeyBehaviour::Arrears,
        KeyBehaviour::Throttled,
    ];

    /// The lowercase name used by the command line (`restricted`).
    pub fn name(self) -> &'static str {
        match self {
            KeyBehaviour::Valid => "valid",
            KeyBehaviour::Restricted => "restricted",
            KeyBehaviour::Arrears => "arrears",
            KeyBehaviour::Throttled => "throttled",
        }
    }

    /// The behaviour with this [`name`](KeyBehaviour::name).
    pub fn from_name(name: &str) -> Option<KeyBehaviour> {
        KeyBehaviour::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// Something going wrong on purpose. [`Fault::Latency`] adds up and delays every answer;
/// of the other faults, the last one set replaces the normal answer to every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long after reading a request before answering (or failing).
    Latency(Duration),
    /// Answer every request with this 5xx status and DashScope's internal-error body.
    ServerError(u16),
    /// Answer 200 with a JSON document cut in the middle.
    MalformedJson,
    /// Read the request, then close the connection with a TCP reset (`SO_LINGER` 0) and no
    /// answer.
    Reset,
    /// Send the status line and headers of a 200 with a body that never comes.
    StallAfterHeaders,
    /// Read the request and send nothing at all.
    Stall,
    /// Answer 302 with this `Location`.
    Redirect(String),
}

impl Fault {
    /// The names the command line uses for the faults that take no value.
    pub const NAMES: [&str; 5] =
        ["server-error", "malformed-json", "reset", "stall-headers", "stall"];

    /// The fault with this command-line name (`server-error` is a 500).
    pub fn from_name(name: &str) -> Option<Fault> {
        Some(match name {
            "server-error" => Fault::ServerError(500),
            "malformed-json" => Fault::MalformedJson,
            "reset" => Fault::Reset,
            "stall-headers" => Fault::StallAfterHeaders,
            "stall" => Fault::Stall,
            _ => return None,
        })
    }
}

/// One request as the server received it.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, exactly as sent (`/api/v1/models?page_no=1&page_size=1`).
    pub target: String,
    /// Header names and values in the order sent, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (empty for a `GET`).
    pub body: Vec<u8>,
}

impl Request {
    /// The value of the first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(self.target.as_str(), |(path, _)| path)
    }

    /// Every place in the request where `needle` occurs, except the values of the
    /// credential headers (`Authorization`, and Anthropic's `x-api-key`): the method, target, header names and values, and body.
    /// Empty when the needle travelled only where a credential belongs.
    pub fn occurrences_outside_authorization(&self, needle: &str) -> Vec<String> {
        let mut found = Vec::new();
        if needle.is_empty() {
            return found;
        }
        if self.method.contains(needle) {
            found.push("method".to_string());
        }
        if self.target.contains(needle) {
            found.push("target".to_string());
        }
        for (name, value) in &self.headers {
            if name.contains(needle) {
                found.push(format!("header name {name}"));
            }
            let credential = name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case("x-api-key");
            if !credential && value.contains(needle) {
                found.push(format!("header {name}"));
            }
        }
        if String::from_utf8_lossy(&self.body).contains(needle) {
            found.push("body".to_string());
        }
        found
    }
}

/// The recorded headers may hold keys, so `Debug` shows only header names.
impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("header_names", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The entry point: [`FakeDashScope::builder`].
#[derive(Debug)]
pub struct FakeDashScope;

impl FakeDashScope {
    /// A server for [`DEFAULT_REGION`] with no keys and no faults; every key is rejected
    /// until one is added.
    pub fn builder() -> Builder {
        Builder {
            port: 0,
            config: Config {
                region: DEFAULT_REGION.to_string(),
                keys: HashMap::new(),
                latency: Duration::ZERO,
                answer_fault: None,
                compatible_models: true,
                coding_plan: false,
                workspace: None,
                token_plan: false,
                stall_limit: DEFAULT_STALL_LIMIT,
            },
        }
    }
}

/// How a server will behave; [`Builder::start`] opens the socket.
#[derive(Debug, Clone)]
pub struct Builder {
    port: u16,
    config: Config,
}

impl Builder {
    /// The region this server plays (it appears in answers and in [`Running::region`]).
    pub fn region(mut self, id: impl Into<String>) -> Builder {
        self.config.region = id.into();
        self
    }

    /// Accepts this key.
    pub fn valid_key(self, key: impl Into<String>) -> Builder {
        self.key(key, KeyBehaviour::Valid)
    }

    /// Knows this key, with this behaviour.
    pub fn key(mut self, key: impl Into<String>, behaviour: KeyBehaviour) -> Builder {
        self.config.keys.insert(key.into(), behaviour);
        self
    }

    /// Adds a fault (see [`Fault`] for how several combine).
    pub fn fault(mut self, fault: Fault) -> Builder {
        self.config.apply(fault);
        self
    }

    /// Answers 404 on `GET /compatible-mode/v1/models`, as a gateway that serves only the
    /// native API would, so that clients must fall back to `GET /api/v1/models`.
    pub fn without_compatible_models(mut self) -> Builder {
        self.config.compatible_models = false;
        self
    }

    /// Plays a Coding Plan host (`coding.dashscope.aliyuncs.com`): the OpenAI-compatible API
    /// under `/v1` and the Anthropic one under `/apps/anthropic`, nothing else; only `sk-sp-`
    /// keys are accepted, which a standard host refuses like a wrong key.
    pub fn coding_plan(mut self) -> Builder {
        self.config.coding_plan = true;
        self
    }

    /// Plays the dedicated host of this workspace (`{workspace}.{region}.maas.aliyuncs.com`):
    /// its keys work only in requests that name it, in `X-DashScope-WorkSpace` or as the
    /// first label of `Host`; any other request is refused like a wrong key, as is a key
    /// this server does not know (a standard key of the public hosts).
    pub fn workspace(mut self, id: impl Into<String>) -> Builder {
        self.config.workspace = Some(id.into());
        self
    }

    /// Plays a Token Plan host (`token-plan.{cn-beijing|ap-southeast-1}.maas.aliyuncs.com`):
    /// the OpenAI-compatible API under `/compatible-mode/v1` (model list, chat, embeddings),
    /// nothing native; only `sk-sp-` keys are accepted, and a standard key gets the plain
    /// compatible-mode bad-key answer, as on the real service.
    pub fn token_plan(mut self) -> Builder {
        self.config.token_plan = true;
        self
    }

    /// How long a stall lasts at most (default one minute); a stall also ends when the
    /// server shuts down.
    pub fn stall_limit(mut self, limit: Duration) -> Builder {
        self.config.stall_limit = limit;
        self
    }

    /// Listens on this port instead of one chosen by the OS.
    pub fn port(mut self, port: u16) -> Builder {
        self.port = port;
        self
    }

    /// Binds `127.0.0.1` and starts serving on a background thread.
    ///
    /// # Errors
    ///
    /// The I/O error from binding the socket or spawning the thread.
    pub fn start(self) -> io::Result<Running> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, self.port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config: RwLock::new(self.config),
            requests: Mutex::new(Vec::new()),
            stopping: Mutex::new(false),
            wake: Condvar::new(),
            connections: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("fake-dashscope {addr}"))
            .spawn(move || accept_loop(&listener, &accept_shared))?;
        Ok(Running { addr, shared, accept: Some(accept) })
    }
}

/// A server that is listening. Dropping it stops it: the listener closes, open connections
/// are shut, stalls and delays end, and every thread is joined.
pub struct Running {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl fmt::Debug for Running {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Running").field("url", &self.url()).field("region", &self.region()).finish()
    }
}

impl Running {
    /// `http://127.0.0.1:PORT`, the host root.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The native API base (`…/api/v1`), the value for `DASHSCOPE_HTTP_BASE_URL`.
    pub fn native_url(&self) -> String {
        format!("{}/api/v1", self.url())
    }

    /// The OpenAI-compatible base (`…/compatible-mode/v1`).
    pub fn compatible_url(&self) -> String {
        format!("{}/compatible-mode/v1", self.url())
    }

    /// A Coding Plan host's OpenAI-compatible base (`…/v1`).
    pub fn coding_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// The Anthropic-compatible base (`…/apps/anthropic`), the value for `ANTHROPIC_BASE_URL`.
    pub fn anthropic_url(&self) -> String {
        format!("{}/apps/anthropic", self.url())
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The region this server plays.
    pub fn region(&self) -> String {
        read(&self.shared.config).region.clone()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Replaces all faults (an empty list restores normal service).
    pub fn set_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        let mut config = write(&self.shared.config);
        config.latency = Duration::ZERO;
        config.answer_fault = None;
        for fault in faults {
            config.apply(fault);
        }
    }

    /// Adds or changes a key.
    pub fn set_key(&self, key: impl Into<String>, behaviour: KeyBehaviour) {
        write(&self.shared.config).keys.insert(key.into(), behaviour);
    }

    /// Stops the server now (the same as dropping it).
    pub fn shutdown(self) {}
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shared.stop();
        // The accept loop blocks in `accept`: one connection wakes it to see the flag.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(accept) = self.accept.take()
            && woke
        {
            let _ = accept.join();
        }
        for stream in std::mem::take(&mut *lock(&self.shared.connections)).into_values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for thread in std::mem::take(&mut *lock(&self.shared.threads)) {
            let _ = thread.join();
        }
    }
}

#[derive(Debug, Clone)]
struct Config {
    region: String,
    keys: HashMap<String, KeyBehaviour>,
    latency: Duration,
    answer_fault: Option<Fault>,
    compatible_models: bool,
    coding_plan: bool,
    workspace: Option<String>,
    token_plan: bool,
    stall_limit: Duration,
}

impl Config {
    /// A Coding Plan or Token Plan host: it takes only `sk-sp-` keys.
    fn plan_host(&self) -> bool {
        self.coding_plan || self.token_plan
    }
}

impl Config {
    fn apply(&mut self, fault: Fault) {
        match fault {
            Fault::Latency(delay) => self.latency += delay,
            other => self.answer_fault = Some(other),
        }
    }
}

struct Shared {
    config: RwLock<Config>,
    requests: Mutex<Vec<Request>>,
    stopping: Mutex<bool>,
    wake: Condvar,
    /// A handle on every open connection, so that stopping can shut them; a connection's
    /// thread removes its handle before closing, because a socket closes (and a reset is
    /// sent) only when its last handle goes.
    connections: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    counter: AtomicU64,
}

impl Shared {
    fn stop(&self) {
        *lock(&self.stopping) = true;
        self.wake.notify_all();
    }

    fn is_stopping(&self) -> bool {
        *lock(&self.stopping)
    }

    /// Waits for `delay`; false when the server began stopping first.
    fn pause(&self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        let mut stopping = lock(&self.stopping);
        loop {
            if *stopping {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            stopping = self
                .wake
                .wait_timeout(stopping, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn forget(&self, connection: u64) {
        lock(&self.connections).remove(&connection);
    }

    fn request_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!("00000000-fa6e-4000-8000-{n:012x}")
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for (id, stream) in (0u64..).zip(listener.incoming()) {
        if shared.is_stopping() {
            break;
        }
        let Ok(stream) = stream else {
            // Out of descriptors or similar: back off instead of spinning.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let Ok(handle) = stream.try_clone() else { continue };
        lock(&shared.connections).insert(id, handle);
        let connection_shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("fake-dashscope connection".to_string())
            .spawn(move || serve(id, stream, &connection_shared));
        match spawned {
            Ok(thread) => {
                let mut threads = lock(&shared.threads);
                threads.retain(|thread| !thread.is_finished());
                threads.push(thread);
            }
            Err(_) => shared.forget(id),
        }
    }
}

/// Serves one request on one connection (every answer says `Connection: close`).
fn serve(id: u64, mut stream: TcpStream, shared: &Shared) {
    // Dropped before `stream` (locals go before parameters), so the socket really closes.
    let _registered = Registered { id, shared };
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let request = match read_request(&mut stream) {
        Ok(Some(request)) => request,
        Ok(None) => return,
        Err(error) => {
            let status = match error {
                ReadError::HeadTooLarge => 431,
                ReadError::BodyTooLarge => 413,
                ReadError::Malformed => 400,
                ReadError::Io => return,
            };
            let body = json!({"code": "BadRequest", "message": "Malformed request."});
            let _ = send(&mut stream, &Answer::json(status, &body));
            return;
        }
    };
    let config = read(&shared.config).clone();
    lock(&shared.requests).push(request.clone());
    if !config.latency.is_zero() && !shared.pause(config.latency) {
        return;
    }
    let request_id = shared.request_id();
    let answer = match &config.answer_fault {
        Some(Fault::Reset) => {
            shared.forget(id);
            return reset(stream);
        }
        Some(Fault::Stall) => {
            shared.pause(config.stall_limit);
            return;
        }
        Some(Fault::StallAfterHeaders) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Content-Length: 4096\r\nConnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).and_then(|()| stream.flush()).is_ok() {
                shared.pause(config.stall_limit);
            }
            return;
        }
        Some(Fault::ServerError(status)) => Answer::json(
            *status,
            &json!({
                "code": "InternalError",
                "message": "An internal error has occured, please try again later or contact service support.",
                "request_id": request_id,
            }),
        ),
        Some(Fault::MalformedJson) => Answer {
            status: 200,
            location: None,
            body: br#"{"object":"list","data":[{"id":"qwen-plus","object":"mo"#.to_vec(),
        },
        Some(Fault::Redirect(location)) => {
            Answer { status: 302, location: Some(location.clone()), body: Vec::new() }
        }
        Some(Fault::Latency(_)) | None => route(&config, &request, &request_id),
    };
    if send(&mut stream, &answer).is_ok() {
        // Let the client read the answer and close first, so the close is graceful.
        let _ = stream.shutdown(Shutdown::Write);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut sink = [0u8; 1024];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    }
}

struct Registered<'a> {
    id: u64,
    shared: &'a Shared,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.shared.forget(self.id);
    }
}

/// Closes with `SO_LINGER` 0, which makes the kernel send RST instead of FIN.
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

enum ReadError {
    /// The connection failed or went silent; there is nobody to answer.
    Io,
    HeadTooLarge,
    BodyTooLarge,
    Malformed,
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> ReadError {
        ReadError::Io
    }
}

/// Reads one request; `None` when the client closed without sending anything.
fn read_request(stream: &mut TcpStream) -> Result<Option<Request>, ReadError> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > MAX_HEAD {
            return Err(ReadError::HeadTooLarge);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return if buffer.is_empty() { Ok(None) } else { Err(ReadError::Malformed) };
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buffer[..head_end]).map_err(|_| ReadError::Malformed)?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (request_line.next(), request_line.next(), request_line.next(), request_line.next())
    else {
        return Err(ReadError::Malformed);
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Err(ReadError::Malformed);
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(ReadError::Malformed)?;
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut request = Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        return Err(ReadError::Malformed);
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(value) => value.parse::<usize>().map_err(|_| ReadError::Malformed)?,
    };
    if length > MAX_BODY {
        return Err(ReadError::BodyTooLarge);
    }
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(ReadError::Malformed);
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    request.body = body;
    Ok(Some(request))
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: u16, body: &Value) -> Answer {
        Answer { status, location: None, body: body.to_string().into_bytes() }
    }
}

fn send(stream: &mut TcpStream, answer: &Answer) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
    if !answer.body.is_empty() {
        head.push_str("Content-Type: application/json; charset=utf-8\r\n");
    }
    if let Some(location) = &answer.location {
        head.push_str(&format!("Location: {location}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", answer.body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(&answer.body)?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `/api/v1/…`: errors are `{"code","message","request_id"}`.
    Native,
    /// `/compatible-mode/v1/…` and a Coding Plan host's `/v1/…`: OpenAI-style errors.
    Compatible,
    /// `/apps/anthropic/…`: Anthropic-style errors.
    Anthropic,
}

/// Why a request is not served.
#[derive(Clone, Copy)]
enum Refusal {
    NoKey,
    BadKey,
    Known(KeyBehaviour),
    BadInput,
}

enum Call {
    CompatibleModels,
    NativeModels,
    Chat,
    Embeddings,
    Generation,
    NativeEmbeddings,
    Messages,
}

/// The call a request makes, or `None` for a path this host does not serve.
fn call_for(config: &Config, method: &str, path: &str) -> Option<Call> {
    if config.coding_plan {
        return match (method, path) {
            ("GET", "/v1/models") => Some(Call::CompatibleModels),
            ("POST", "/v1/chat/completions") => Some(Call::Chat),
            ("POST", "/apps/anthropic/v1/messages") => Some(Call::Messages),
            _ => None,
        };
    }
    if config.token_plan {
        return match (method, path) {
            ("GET", "/compatible-mode/v1/models") => Some(Call::CompatibleModels),
            ("POST", "/compatible-mode/v1/chat/completions") => Some(Call::Chat),
            ("POST", "/compatible-mode/v1/embeddings") => Some(Call::Embeddings),
            _ => None,
        };
    }
    Some(match (method, path) {
        ("GET", "/compatible-mode/v1/models") if config.compatible_models => Call::CompatibleModels,
        ("GET", "/api/v1/models") => Call::NativeModels,
        ("POST", "/compatible-mode/v1/chat/completions") => Call::Chat,
        ("POST", "/compatible-mode/v1/embeddings") => Call::Embeddings,
        ("POST", "/api/v1/services/aigc/text-generation/generation") => Call::Generation,
        ("POST", "/api/v1/services/embeddings/text-embedding/text-embedding") => {
            Call::NativeEmbeddings
        }
        ("POST", "/apps/anthropic/v1/messages") => Call::Messages,
        _ => return None,
    })
}

/// A workspace host serves only requests for its workspace (any request, elsewhere).
fn names_workspace(config: &Config, request: &Request) -> bool {
    let Some(workspace) = &config.workspace else { return true };
    let header = request.header("x-dashscope-workspace");
    let host = request.header("host").and_then(|h| h.split('.').next());
    header == Some(workspace.as_str()) || host == Some(workspace.as_str())
}

fn route(config: &Config, request: &Request, request_id: &str) -> Answer {
    let path = request.path();
    let api = if path.starts_with("/apps/anthropic/") {
        Api::Anthropic
    } else if path.starts_with("/api/") && !config.plan_host() {
        Api::Native
    } else {
        Api::Compatible
    };
    let Some(call) = call_for(config, &request.method, path) else {
        return not_found(api, request_id);
    };
    match credential(request, api) {
        None => return refuse(api, Refusal::NoKey, request_id),
        // Coding Plan and Token Plan keys work only on their plan's hosts, and only they
        // work there; the other kind is answered exactly like a wrong key.
        Some(key) if key.starts_with("sk-sp-") != config.plan_host() => {
            return refuse(api, Refusal::BadKey, request_id);
        }
        Some(_) if !names_workspace(config, request) => {
            return refuse(api, Refusal::BadKey, request_id);
        }
        Some(key) => match config.keys.get(key) {
            None => return refuse(api, Refusal::BadKey, request_id),
            Some(KeyBehaviour::Valid) => {}
            Some(&other) => return refuse(api, Refusal::Known(other), request_id),
        },
    }
    let body = serde_json::from_slice::<Value>(&request.body).ok();
    let model = body.as_ref().and_then(|b| b.get("model")).and_then(Value::as_str);
    let reply = format!("Hello from fake-dashscope ({}).", config.region);
    match call {
        Call::CompatibleModels => Answer::json(
            200,
            &json!({
                "object": "list",
                "data": MODELS.iter().map(|id| json!({
                    "id": id,
                    "object": "model",
                    "created": 1_700_000_000,
                    "owned_by": "system",
                })).collect::<Vec<_>>(),
            }),
        ),
        Call::NativeModels => {
            let page_no = query_number(request, "page_no").unwrap_or(1).max(1);
            let page_size = query_number(request, "page_size").unwrap_or(10).max(1);
            let models: Vec<Value> = MODELS
                .iter()
                .skip((page_no - 1).saturating_mul(page_size))
                .take(page_size)
                .map(|id| json!({"model": id, "name": id, "description": format!("{id} on {}", config.region)}))
                .collect();
            Answer::json(
                200,
                &json!({
                    "request_id": request_id,
                    "output": {
                        "total": MODELS.len(),
                        "page_no": page_no,
                        "page_size": page_size,
                        "models": models,
                    },
                }),
            )
        }
        Call::Embeddings => embeddings(request, request_id),
        Call::NativeEmbeddings => native_embeddings(body.as_ref(), request_id),
        Call::Chat => {
            let Some(model) = model else {
                return refuse(api, Refusal::BadInput, request_id);
            };
            Answer::json(
                200,
                &json!({
                    "id": format!("chatcmpl-{request_id}"),
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "model": model,
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": "stop",
                        "logprobs": null,
                    }],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 6, "total_tokens": 7},
                    "request_id": request_id,
                }),
            )
        }
        Call::Generation => {
            if model.is_none() {
                return refuse(api, Refusal::BadInput, request_id);
            }
            // The SDKs ask for `result_format: "message"` (choices) or get the older `text`
            // form; both are what the native service answers.
            let message_form = body
                .as_ref()
                .and_then(|b| b.pointer("/parameters/result_format"))
                .and_then(Value::as_str)
                == Some("message");
            let output = if message_form {
                json!({"choices": [{
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": reply},
                }]})
            } else {
                json!({"text": reply, "finish_reason": "stop"})
            };
            Answer::json(
                200,
                &json!({
                    "output": output,
                    "usage": {"input_tokens": 1, "output_tokens": 6, "total_tokens": 7},
                    "request_id": request_id,
                }),
            )
        }
        Call::Messages => {
            let Some(model) = model else {
                return refuse(api, Refusal::BadInput, request_id);
            };
            Answer::json(
                200,
                &json!({
                    "id": format!("msg_{request_id}"),
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": reply}],
                    "stop_reason": "end_turn",
                    "stop_sequence": null,
                    "usage": {"input_tokens": 1, "output_tokens": 6},
                }),
            )
        }
    }
}

/// The compatible-mode embeddings answer: one vector per input (a string or a list of them),
/// in the shape DashScope's OpenAI-compatible endpoint returns; the vector is small and
/// fixed, since no client checks its values.
fn embeddings(request: &Request, request_id: &str) -> Answer {
    let body = serde_json::from_slice::<Value>(&request.body).ok();
    let model = body.as_ref().and_then(|b| b.get("model")).and_then(Value::as_str);
    let inputs = match body.as_ref().and_then(|b| b.get("input")) {
        Some(Value::String(_)) => Some(1),
        Some(Value::Array(items)) if !items.is_empty() => Some(items.len()),
        _ => None,
    };
    let (Some(model), Some(inputs)) = (model, inputs) else {
        return refuse(Api::Compatible, Refusal::BadInput, request_id);
    };
    let data: Vec<Value> = (0..inputs)
        .map(|index| json!({"object": "embedding", "index": index, "embedding": [0.125, -0.25, 0.5, 0.0625]}))
        .collect();
    Answer::json(
        200,
        &json!({
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": inputs, "total_tokens": inputs},
            "id": request_id,
        }),
    )
}

/// The native text-embedding answer (`input.texts`, one `{text_index, embedding}` per text),
/// what langchain-community's `DashScopeEmbeddings` reads through the SDK.
fn native_embeddings(body: Option<&Value>, request_id: &str) -> Answer {
    let model = body.and_then(|b| b.get("model")).and_then(Value::as_str);
    let texts = match body.and_then(|b| b.pointer("/input/texts")) {
        Some(Value::String(_)) => Some(1),
        Some(Value::Array(items)) if !items.is_empty() => Some(items.len()),
        _ => None,
    };
    let (Some(_), Some(texts)) = (model, texts) else {
        return refuse(Api::Native, Refusal::BadInput, request_id);
    };
    let embeddings: Vec<Value> = (0..texts)
        .map(|index| json!({"text_index": index, "embedding": [0.125, -0.25, 0.5, 0.0625]}))
        .collect();
    Answer::json(
        200,
        &json!({
            "output": {"embeddings": embeddings},
            "usage": {"total_tokens": texts},
            "request_id": request_id,
        }),
    )
}

/// A path this host does not serve: the native API answers 400 `InvalidParameter` ("url
/// error"), the others a bare 404 with no body, as the reference records.
fn not_found(api: Api, request_id: &str) -> Answer {
    match api {
        Api::Native => Answer::json(
            400,
            &json!({
                "code": "InvalidParameter",
                "message": "url error, please check url\u{ff01} For details, see: https://help.aliyun.com/zh/model-studio/error-code#error-url",
                "request_id": request_id,
            }),
        ),
        Api::Compatible | Api::Anthropic => {
            Answer { status: 404, location: None, body: Vec::new() }
        }
    }
}

fn refuse(api: Api, refusal: Refusal, request_id: &str) -> Answer {
    let (status, code, message) = match refusal {
        Refusal::NoKey => (401, "InvalidApiKey", "No API-key provided."),
        Refusal::BadKey => (401, "InvalidApiKey", "Invalid API-key provided."),
        Refusal::Known(KeyBehaviour::Restricted) => (
            403,
            "AccessDenied.Unpurchased",
            "Access to model denied. Please make sure you are eligible for using the model.",
        ),
        Refusal::Known(KeyBehaviour::Arrears) => {
            (400, "Arrearage", "Access denied, please make sure your account is in good standing.")
        }
        Refusal::Known(KeyBehaviour::Throttled) => {
            (429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.")
        }
        Refusal::Known(KeyBehaviour::Valid) => (500, "InternalError", "Unreachable."),
        Refusal::BadInput => (400, "InvalidParameter", "The request body must name a model."),
    };
    match api {
        Api::Native => Answer::json(
            status,
            &json!({"code": code, "message": message, "request_id": request_id}),
        ),
        Api::Compatible => {
            let (message, kind, code) = match refusal {
                Refusal::BadKey => {
                    ("Incorrect API key provided. ", "invalid_request_error", "invalid_api_key")
                }
                Refusal::NoKey => (message, "invalid_request_error", "invalid_api_key"),
                Refusal::BadInput => (message, "invalid_request_error", "invalid_parameter_error"),
                Refusal::Known(_) => (message, code, code),
            };
            Answer::json(
                status,
                &json!({
                    "error": {"message": message, "type": kind, "param": null, "code": code},
                    "request_id": request_id,
                }),
            )
        }
        // The reference records no body for this endpoint: Anthropic's own error envelope,
        // which Anthropic clients parse, with DashScope's message inside.
        Api::Anthropic => {
            let kind = match status {
                401 => "authentication_error",
                403 => "permission_error",
                429 => "rate_limit_error",
                400 => "invalid_request_error",
                _ => "api_error",
            };
            Answer::json(
                status,
                &json!({
                    "type": "error",
                    "error": {"type": kind, "message": message},
                    "request_id": request_id,
                }),
            )
        }
    }
}

/// The key a request carries: `x-api-key` (what Anthropic clients send from
/// `ANTHROPIC_API_KEY`) on the Anthropic endpoint, else `Authorization: Bearer`.
fn credential(request: &Request, api: Api) -> Option<&str> {
    if api == Api::Anthropic
        && let Some(key) = request.header("x-api-key").map(str::trim).filter(|k| !k.is_empty())
    {
        return Some(key);
    }
    bearer(request)
}

/// The key in `Authorization: Bearer <key>`; `None` when absent or empty.
fn bearer(request: &Request) -> Option<&str> {
    let value = request.header("authorization")?;
    let key = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ if value.eq_ignore_ascii_case("bearer") => "",
        _ => value.trim(),
    };
    (!key.is_empty()).then_some(key)
}

fn query_number(request: &Request, name: &str) -> Option<usize> {
    let (_, query) = request.target.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| value.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-fake0123456789abcdef0123456789ab";

    /// A minimal client: one request, the whole answer back as (status, body).
    fn call(server: &Running, method: &str, target: &str, key: Option<&str>) -> (u16, Value) {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        let auth = key.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
        let body = if method == "POST" { r#"{"model":"qwen-plus","messages":[]}"# } else { "" };
        write!(
            stream,
            "{method} {target} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        let body = answer.split_once("\r\n\r\n").unwrap().1;
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    #[test]
    fn answers_like_dashscope_for_good_bad_and_missing_keys() {
        let server = FakeDashScope::builder().valid_key(KEY).start().unwrap();
        let (status, body) = call(&server, "GET", "/compatible-mode/v1/models", Some(KEY));
        assert_eq!(status, 200);
        assert_eq!(body["object"], "list");
        assert_eq!(body["data"][0]["id"], "qwen-plus");
        let (status, body) =
            call(&server, "GET", "/api/v1/models?page_no=1&page_size=1", Some(KEY));
        assert_eq!(status, 200);
        assert_eq!(body["output"]["models"].as_array().unwrap().len(), 1);
        let (status, body) = call(&server, "GET", "/api/v1/models", Some("sk-other"));
        assert_eq!((status, body["code"].as_str()), (401, Some("InvalidApiKey")));
        assert_eq!(body["message"], "Invalid API-key provided.");
        let (status, body) = call(&server, "GET", "/api/v1/models", None);
        assert_eq!((status, body["message"].as_str()), (401, Some("No API-key provided.")));
        let (status, body) = call(&server, "GET", "/compatible-mode/v1/models", Some("sk-other"));
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "invalid_api_key");
        assert_eq!(body["error"]["message"], "Incorrect API key provided. ");
        assert!(body["request_id"].is_string());
        let (status, body) =
            call(&server, "POST", "/compatible-mode/v1/chat/completions", Some(KEY));
        assert_eq!(status, 200);
        assert_eq!(body["choices"][0]["message"]["role"], "assistant");
        assert_eq!(server.requests().len(), 6);
    }

    #[test]
    fn embeddings_answer_one_vector_per_input_and_refuse_a_bad_key_like_chat() {
        let server = FakeDashScope::builder().valid_key(KEY).start().unwrap();
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        let body = r#"{"model":"text-embedding-v4","input":["a","b"]}"#;
        write!(
            stream,
            "POST /compatible-mode/v1/embeddings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let json: Value = serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(json["data"].as_array().unwrap().len(), 2);
        assert_eq!(json["data"][1]["index"], 1);
        assert_eq!(json["model"], "text-embedding-v4");
        let (status, body) =
            call(&server, "POST", "/compatible-mode/v1/embeddings", Some("sk-other"));
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "invalid_api_key");
    }

    #[test]
    fn key_behaviours_have_their_own_answers() {
        let server = FakeDashScope::builder()
            .key("sk-r", KeyBehaviour::Restricted)
            .key("sk-a", KeyBehaviour::Arrears)
            .key("sk-t", KeyBehaviour::Throttled)
            .start()
            .unwrap();
        for (key, status, code) in [
            ("sk-r", 403, "AccessDenied.Unpurchased"),
            ("sk-a", 400, "Arrearage"),
            ("sk-t", 429, "Throttling.RateQuota"),
        ] {
            let (got, body) = call(&server, "GET", "/api/v1/models", Some(key));
            assert_eq!((got, body["code"].as_str()), (status, Some(code)));
            let (got, body) = call(&server, "GET", "/compatible-mode/v1/models", Some(key));
            assert_eq!((got, body["error"]["code"].as_str()), (status, Some(code)));
        }
    }

    /// One POST with this JSON body and these extra header lines; (status, raw body).
    fn post(server: &Running, target: &str, headers: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        write!(
            stream,
            "POST {target} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        (status, answer.split_once("\r\n\r\n").unwrap().1.to_string())
    }

    #[test]
    fn native_generation_answers_in_both_result_formats() {
        let server =
            FakeDashScope::builder().region("ap-southeast-1").valid_key(KEY).start().unwrap();
        let auth = format!("Authorization: Bearer {KEY}\r\n");
        let path = "/api/v1/services/aigc/text-generation/generation";
        let message = r#"{"model":"qwen-plus","input":{"messages":[{"role":"user","content":"hi"}]},"parameters":{"result_format":"message"}}"#;
        let (status, body) = post(&server, path, &auth, message);
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(json["output"]["choices"][0]["message"]["role"], "assistant");
        assert!(json["request_id"].is_string() && json["usage"]["total_tokens"].is_number());
        let (status, body) =
            post(&server, path, &auth, r#"{"model":"qwen-plus","input":{"prompt":"hi"}}"#);
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status, 200);
        assert_eq!(json["output"]["finish_reason"], "stop");
        assert!(json["output"]["text"].as_str().unwrap().contains("ap-southeast-1"));
        let (status, body) = post(&server, path, "Authorization: Bearer sk-other\r\n", message);
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((status, json["code"].as_str()), (401, Some("InvalidApiKey")));
        let (status, body) = post(
            &server,
            "/api/v1/services/embeddings/text-embedding/text-embedding",
            &auth,
            r#"{"model":"text-embedding-v4","input":{"texts":["a","b","c"]}}"#,
        );
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status, 200);
        assert_eq!(json["output"]["embeddings"][2]["text_index"], 2);
    }

    #[test]
    fn anthropic_messages_take_the_key_from_x_api_key_or_bearer() {
        let server = FakeDashScope::builder().valid_key(KEY).start().unwrap();
        let body =
            r#"{"model":"qwen-plus","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#;
        for headers in [format!("x-api-key: {KEY}\r\n"), format!("Authorization: Bearer {KEY}\r\n")]
        {
            let (status, answer) = post(&server, "/apps/anthropic/v1/messages", &headers, body);
            let json: Value = serde_json::from_str(&answer).unwrap();
            assert_eq!(status, 200, "{answer}");
            assert_eq!(
                (json["type"].as_str(), json["content"][0]["type"].as_str()),
                (Some("message"), Some("text"))
            );
        }
        let (status, answer) =
            post(&server, "/apps/anthropic/v1/messages", "x-api-key: sk-other\r\n", body);
        let json: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(status, 401);
        assert_eq!(json["error"]["type"], "authentication_error");
        assert!(server.requests()[0].occurrences_outside_authorization(KEY).is_empty());
    }

    #[test]
    fn wrong_paths_answer_like_the_service() {
        let server = FakeDashScope::builder().valid_key(KEY).start().unwrap();
        let (status, body) = post(&server, "/api/v1/chat/completions", "", "{}");
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((status, json["code"].as_str()), (400, Some("InvalidParameter")));
        assert!(json["message"].as_str().unwrap().starts_with("url error"));
        for path in
            ["/compatible-mode/v1/services/aigc/text-generation/generation", "/v1/chat/completions"]
        {
            let (status, body) =
                post(&server, path, &format!("Authorization: Bearer {KEY}\r\n"), "{}");
            assert_eq!((status, body.as_str()), (404, ""), "{path}");
        }
    }

    #[test]
    fn a_coding_plan_host_takes_only_coding_plan_keys_and_a_standard_host_refuses_them() {
        const CODING: &str = "sk-sp-0123456789abcdef0123456789abcdef";
        let coding = FakeDashScope::builder()
            .coding_plan()
            .valid_key(CODING)
            .valid_key(KEY)
            .start()
            .unwrap();
        let standard = FakeDashScope::builder().valid_key(CODING).valid_key(KEY).start().unwrap();
        let chat = r#"{"model":"qwen3-coder-plus","messages":[]}"#;
        let bearer = |key: &str| format!("Authorization: Bearer {key}\r\n");
        let (status, _) = post(&coding, "/v1/chat/completions", &bearer(CODING), chat);
        assert_eq!(status, 200);
        let (status, body) = call(&coding, "GET", "/v1/models", Some(CODING));
        assert_eq!((status, body["object"].as_str()), (200, Some("list")));
        let (status, body) = post(&coding, "/v1/chat/completions", &bearer(KEY), chat);
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((status, json["error"]["code"].as_str()), (401, Some("invalid_api_key")));
        let (status, body) = call(&standard, "GET", "/compatible-mode/v1/models", Some(CODING));
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_api_key")));
        let (status, _) = call(&coding, "GET", "/api/v1/models", Some(CODING));
        assert_eq!(status, 404);
        let (status, _) =
            post(&coding, "/apps/anthropic/v1/messages", &format!("x-api-key: {CODING}\r\n"), chat);
        assert_eq!(status, 200);
    }

    #[test]
    fn a_workspace_host_takes_its_keys_only_in_requests_that_name_its_workspace() {
        let host = FakeDashScope::builder().workspace("ws-1").valid_key(KEY).start().unwrap();
        let bearer = |key: &str| format!("Authorization: Bearer {key}\r\n");
        let chat = r#"{"model":"qwen-plus","messages":[]}"#;
        let named = format!("{}X-DashScope-WorkSpace: ws-1\r\n", bearer(KEY));
        assert_eq!(post(&host, "/compatible-mode/v1/chat/completions", &named, chat).0, 200);
        // No workspace, another workspace, or a key this host does not know: a wrong key.
        let other = format!("{}X-DashScope-WorkSpace: ws-2\r\n", bearer(KEY));
        let stranger = "sk-00000000000000000000000000000000";
        let unknown = format!("{}X-DashScope-WorkSpace: ws-1\r\n", bearer(stranger));
        for headers in [bearer(KEY), other, unknown] {
            let native = "/api/v1/services/aigc/text-generation/generation";
            let (status, body) = post(&host, native, &headers, chat);
            let json: Value = serde_json::from_str(&body).unwrap();
            assert_eq!((status, json["code"].as_str()), (401, Some("InvalidApiKey")), "{headers}");
        }
    }

    #[test]
    fn a_token_plan_host_serves_the_compatible_api_to_its_keys_only() {
        const TOKEN: &str = "sk-sp-00112233445566778899aabbccddeeff";
        let token = FakeDashScope::builder()
            .region("token-plan-intl")
            .token_plan()
            .valid_key(TOKEN)
            .valid_key(KEY)
            .start()
            .unwrap();
        let (status, body) = call(&token, "GET", "/compatible-mode/v1/models", Some(TOKEN));
        assert_eq!((status, body["object"].as_str()), (200, Some("list")));
        let chat = r#"{"model":"qwen3-max","messages":[]}"#;
        let bearer = |key: &str| format!("Authorization: Bearer {key}\r\n");
        let (status, body) =
            post(&token, "/compatible-mode/v1/chat/completions", &bearer(KEY), chat);
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((status, json["error"]["code"].as_str()), (401, Some("invalid_api_key")));
        let (status, _) =
            post(&token, "/compatible-mode/v1/chat/completions", &bearer(TOKEN), chat);
        assert_eq!(status, 200);
        // No native API and no Coding Plan `/v1` there.
        assert_eq!(call(&token, "GET", "/api/v1/models", Some(TOKEN)).0, 404);
        assert_eq!(call(&token, "GET", "/v1/models", Some(TOKEN)).0, 404);
    }

    #[test]
    fn drop_ends_stalls_and_connections_promptly() {
        let server = FakeDashScope::builder().fault(Fault::Stall).start().unwrap();
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream.write_all(b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let idle = TcpStream::connect(server.addr()).unwrap();
        while server.requests().is_empty() {
            thread::sleep(Duration::from_millis(5));
        }
        // Drop returns (it does not wait for the stall to end) and closes the connections.
        drop(server);
        let mut buffer = [0u8; 16];
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let closed = match stream.read(&mut buffer) {
            Ok(n) => n == 0,
            Err(e) => {
                !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
            }
        };
        assert!(closed, "the stalled connection was closed");
        drop(idle);
    }

    #[test]
    fn records_requests_without_showing_headers_in_debug() {
        let server = FakeDashScope::builder().start().unwrap();
        call(&server, "GET", "/api/v1/models?page_no=1", Some(KEY));
        let request = &server.requests()[0];
        assert_eq!(request.header("AUTHORIZATION"), Some(format!("Bearer {KEY}").as_str()));
        assert_eq!(request.path(), "/api/v1/models");
        assert!(request.occurrences_outside_authorization(KEY).is_empty());
        assert!(!format!("{request:?}").contains(KEY));
    }
}
