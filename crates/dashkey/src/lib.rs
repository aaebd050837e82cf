//! Find, validate and hand out an Alibaba Cloud Model Studio (DashScope) API key exactly as
//! the official SDKs do.
//!
//! The library never prints, prompts or exits: it answers questions ("which key would the
//! Python SDK send from this process, and why?") and the `dashkey` binary turns the answers
//! into sentences. Everything that depends on the machine goes through [`Platform`], so a
//! program can reason about another process's environment, or a test about a made-up home.
//!
//! Resolve the key the way the Python SDK would:
//!
//! ```no_run
//! let platform = dashkey::Platform::current();
//! let found = dashkey::resolve::python(&platform).into_result()?;
//! println!("{} from {}, calling {}", found.key.mask(), found.source, found.urls.http.url);
//! # Ok::<(), dashkey::resolve::ResolveError>(())
//! ```

pub mod clients;
pub mod doctor;
pub mod edit;
pub mod export;
pub mod key;
pub mod mask;
pub mod platform;
pub mod project;
pub mod reach;
pub mod region;
pub mod resolve;
pub mod shell;
pub mod store;
pub mod vars;
pub mod verify;
pub mod world;

pub use key::{ApiKey, KeyError, KeyKind, ParsedKey};
pub use platform::{Os, Platform};
pub use region::config::Config;
pub use region::{Endpoint, Region, RegionEndpoint};
pub use resolve::{Resolution, Sdk};
