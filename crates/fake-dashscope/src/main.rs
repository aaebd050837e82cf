//! `fake-dashscope`: one fake DashScope region on `127.0.0.1`, for scripts and benchmarks.
//!
//! It prints its URL (`http://127.0.0.1:PORT`) on the first line of standard output and serves
//! until it is killed, until `--max-seconds` pass, or until standard input closes when
//! `--until-stdin-closes` is given. Keys come from the `FAKE_DASHSCOPE_KEYS` environment
//! variable, never from the command line, following dashkey's rule that keys stay out of argv.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use fake_dashscope::{FakeDashScope, Fault, KeyBehaviour};

/// The variable holding the keys this server knows.
const KEYS_VAR: &str = "FAKE_DASHSCOPE_KEYS";

/// Serve one fake DashScope region on 127.0.0.1 and print its URL.
#[derive(Debug, Parser)]
#[command(
    name = "fake-dashscope",
    version,
    after_help = "\
Keys: FAKE_DASHSCOPE_KEYS=\"sk-a,sk-b:restricted\" (behaviours: valid, restricted, arrears,
throttled; valid when omitted). Every other key is rejected with 401 InvalidApiKey.

Example:
  FAKE_DASHSCOPE_KEYS=sk-0123 fake-dashscope --region ap-southeast-1 --latency-ms 300 --max-seconds 60"
)]
struct Args {
    /// Region this server plays.
    #[arg(long, default_value = fake_dashscope::DEFAULT_REGION)]
    region: String,
    /// Port to listen on (0: chosen by the OS).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Delay every answer by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fail every request this way: server-error, malformed-json, reset, stall-headers, stall.
    #[arg(long, value_parser = parse_fault)]
    fault: Option<Fault>,
    /// Answer 404 on GET /compatible-mode/v1/models (clients must fall back to the native API).
    #[arg(long)]
    no_compatible_models: bool,
    /// Play a Coding Plan host: /v1 and /apps/anthropic, sk-sp- keys only.
    #[arg(long)]
    coding_plan: bool,
    /// Play this workspace's dedicated host: its keys work only in requests that name it.
    #[arg(long, value_name = "ID")]
    workspace: Option<String>,
    /// Play a Token Plan host: /compatible-mode/v1 only, sk-sp- keys only.
    #[arg(long, conflicts_with = "coding_plan")]
    token_plan: bool,
    /// Stop by itself after this many seconds.
    #[arg(long)]
    max_seconds: Option<u64>,
    /// Stop when standard input reaches end of file.
    #[arg(long)]
    until_stdin_closes: bool,
}

fn parse_fault(name: &str) -> Result<Fault, String> {
    Fault::from_name(name).ok_or_else(|| format!("expected one of {}", Fault::NAMES.join(", ")))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = FakeDashScope::builder().region(&args.region).port(args.port);
    for entry in std::env::var(KEYS_VAR).unwrap_or_default().split(',').filter(|e| !e.is_empty()) {
        let (key, behaviour) = match entry.rsplit_once(':') {
            Some((key, name)) => match KeyBehaviour::from_name(name) {
                Some(behaviour) => (key, behaviour),
                None => {
                    eprintln!("fake-dashscope: unknown behaviour {name:?} in {KEYS_VAR}");
                    return ExitCode::from(2);
                }
            },
            None => (entry, KeyBehaviour::Valid),
        };
        builder = builder.key(key, behaviour);
    }
    if args.latency_ms > 0 {
        builder = builder.fault(Fault::Latency(Duration::from_millis(args.latency_ms)));
    }
    if let Some(fault) = args.fault {
        builder = builder.fault(fault);
    }
    if args.no_compatible_models {
        builder = builder.without_compatible_models();
    }
    if args.coding_plan {
        builder = builder.coding_plan();
    }
    if let Some(workspace) = args.workspace {
        builder = builder.workspace(workspace);
    }
    if args.token_plan {
        builder = builder.token_plan();
    }
    let server = match builder.start() {
        Ok(server) => server,
        Err(error) => {
            eprintln!("fake-dashscope: cannot listen: {error}");
            return ExitCode::from(3);
        }
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{}", server.url()).and_then(|()| stdout.flush()).is_err() {
        return ExitCode::from(3);
    }
    drop(stdout);
    if args.until_stdin_closes {
        let limit = args.max_seconds.map(Duration::from_secs);
        std::thread::spawn(move || {
            if let Some(limit) = limit {
                std::thread::sleep(limit);
                std::process::exit(0);
            }
        });
        for line in std::io::stdin().lock().lines() {
            if line.is_err() {
                break;
            }
        }
    } else {
        match args.max_seconds {
            Some(seconds) => std::thread::sleep(Duration::from_secs(seconds)),
            None => loop {
                std::thread::park();
            },
        }
    }
    drop(server);
    ExitCode::SUCCESS
}
