//! `dashkey export`: the stored key for containers, Kubernetes, CI, service managers and
//! other shells. Files are written 0600; a terminal only sees the key with `--reveal`.

use std::io::IsTerminal;

use anyhow::anyhow;
use dashkey::Platform;
use dashkey::edit::fsx;
use dashkey::export::{self, ExportOptions, Format};
use zeroize::Zeroizing;

use crate::cli::ExportArgs;
use crate::exit::{Exit, Failure, Outcome};
use crate::output::{DIM, paint, show_path};

pub fn run(platform: &Platform, args: &ExportArgs) -> Outcome {
    let format = Format::from_name(&args.format).ok_or_else(|| Failure {
        exit: Exit::Usage,
        error: anyhow!(
            "unknown format '{}': use one of {}",
            args.format,
            Format::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
        ),
    })?;
    let Some(stored) = crate::profiles::stored(platform, args.profile.as_deref())? else {
        return Err(Failure {
            exit: Exit::Problem,
            error: anyhow!(
                "no key is stored for this user: {}",
                crate::output::set_first(platform)
            ),
        });
    };
    let pairs: Vec<(&str, &str)> =
        stored.vars.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let usage = |e: export::ExportError| Failure { exit: Exit::Usage, error: e.into() };
    let options = ExportOptions { name: args.name.clone(), namespace: args.namespace.clone() };

    // `-` and `/dev/stdout` mean standard output: never replace the device with a file.
    let output = args.output.as_ref().filter(|path| {
        !matches!(path.to_str(), Some("-" | "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1"))
    });
    let Some(output) = output else {
        let text = Zeroizing::new(export::render(format, &pairs, &options).map_err(usage)?);
        if format.contains_secret() && std::io::stdout().is_terminal() && !args.reveal {
            return Err(Failure {
                exit: Exit::Usage,
                error: anyhow!(
                    "this prints your key on the screen: write it to a file with --output FILE, \
                     pipe it where it goes, or add --reveal"
                ),
            });
        }
        print!("{}", text.as_str());
        return Ok(Exit::Ok);
    };
    // compose: the file is the env file; the snippet that uses it goes to the screen.
    let (file_format, snippet) = match format {
        Format::Compose => {
            let name = output.file_name().map(|n| n.to_string_lossy().into_owned());
            let snippet =
                export::render(Format::Compose, &[], &ExportOptions { name, namespace: None })
                    .map_err(usage)?;
            (Format::DockerEnv, Some(snippet))
        }
        other => (other, None),
    };
    let text = Zeroizing::new(export::render(file_format, &pairs, &options).map_err(usage)?);
    let written = fsx::write_private(output, text.as_bytes(), 0o600)?;
    anstream::eprintln!(
        "wrote {} ({} format, readable only by you)",
        show_path(platform, &written.real_path),
        format.name()
    );
    if let Some(snippet) = snippet {
        anstream::print!("{snippet}");
    }
    if format == Format::Systemd {
        anstream::eprintln!(
            "{}",
            paint(
                DIM,
                "tip: `dashkey service install --systemd UNIT` keeps the key out of unit files"
            )
        );
    }
    Ok(Exit::Ok)
}
