//! Resolve the DashScope API key exactly as the official Python SDK would in this process,
//! and say where it came from and which endpoint it would be sent to.
//!
//! ```sh
//! cargo run -p dashkey --example resolve
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let platform = dashkey::Platform::current();
    match dashkey::resolve::python(&platform).into_result() {
        Ok(found) => {
            let region = dashkey::resolve::region_of(&found.urls);
            println!("key:      {} ({})", found.key.mask(), found.key.fingerprint());
            println!("from:     {}", found.source);
            println!(
                "endpoint: {} ({})",
                found.urls.http.url,
                region.as_deref().unwrap_or("custom")
            );
            for problem in found.key.problems() {
                println!("warning:  {problem}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
