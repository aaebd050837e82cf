//! Fake DashScope regions on loopback, started by a test and reached through the sandbox's
//! `config.toml`. Every server is the test's own (OS-chosen ports), so tests run in parallel.

use fake_dashscope::{Builder, FakeDashScope, Running};

use super::{Run, Sandbox};

pub const REGIONS: [&str; 4] = ["cn-beijing", "ap-southeast-1", "us-east-1", "cn-hongkong"];

/// A sandbox whose config.toml sends every built-in region (and any extra one) to a fake.
pub struct World {
    pub sandbox: Sandbox,
    pub servers: Vec<(String, Running)>,
}

impl World {
    /// Four fake regions, each set up by `setup(region, builder)`.
    pub fn new(setup: impl Fn(&str, Builder) -> Builder) -> World {
        World::with_extra(setup, &[])
    }

    /// The four built-in regions plus extra ones that config.toml adds.
    pub fn with_extra(setup: impl Fn(&str, Builder) -> Builder, extra: &[&str]) -> World {
        let servers: Vec<(String, Running)> = REGIONS
            .iter()
            .chain(extra)
            .map(|region| {
                let server =
                    setup(region, FakeDashScope::builder().region(*region)).start().unwrap();
                (region.to_string(), server)
            })
            .collect();
        let mut sandbox = Sandbox::new();
        sandbox.env("DASHKEY_HTTP_TIMEOUT_MS", "5000");
        let config: String = servers
            .iter()
            .map(|(region, server)| {
                format!("[regions.{region}]\nendpoint = \"{}\"\n\n", server.url())
            })
            .collect();
        sandbox.write(".config/dashkey/config.toml", config);
        World { sandbox, servers }
    }

    pub fn server(&self, region: &str) -> &Running {
        &self.servers.iter().find(|(r, _)| r == region).unwrap().1
    }

    pub fn verify(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut all = vec!["verify"];
        all.extend_from_slice(args);
        self.sandbox.run(&all, stdin)
    }
}
