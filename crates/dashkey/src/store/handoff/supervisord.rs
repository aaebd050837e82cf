//! supervisord has no environment files: the variables go into the program's
//! `environment=` line, inside a marker block named after the program that remembers the
//! line it replaced, so that uninstalling restores the configuration byte for byte.

use std::path::Path;

use crate::Platform;
use crate::edit::fsx;
use crate::edit::record::Role;
use crate::edit::transaction::FileChange;
use crate::export::supervisord_value;
use crate::shell::block;
use crate::store::plan::{PersistError, Plan};
use crate::world::supervisord;

use super::service::{HandoffError, Service};

/// Plans an edit of a supervisord configuration file as a whole.
pub(super) fn edit_config(
    plan: &mut Plan,
    config: &Path,
    edit: impl FnOnce(&str) -> Result<String, HandoffError>,
) -> Result<(), HandoffError> {
    let Some(before) = fsx::read_optional(config)? else {
        return Err(HandoffError::NoConfig(config.display().to_string()));
    };
    let text = String::from_utf8(before.clone())
        .map_err(|_| PersistError::NotUtf8 { path: config.to_path_buf(), hint: String::new() })?;
    let after = edit(&text)?.into_bytes();
    let change = FileChange::new(
        config.to_path_buf(),
        Role::ServiceConfig,
        Some(before),
        Some(after),
        0o644,
    )?;
    plan.changes.extend(change);
    Ok(())
}

/// The supervisord programs holding a block of dashkey's, in the configuration supervisord
/// reads without `-c` and the files it includes (`unset` without a record).
pub fn find_supervisord_programs(platform: &Platform) -> Vec<Service> {
    let supervisord = platform.find_program("supervisord");
    let mut found: Vec<Service> = Vec::new();
    for main in supervisord::supervisor_default_paths(supervisord.as_deref(), platform.cwd()) {
        if !std::fs::symlink_metadata(&main).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let env = |name: &str| platform.var(name).map(str::to_string);
        let Ok(parsed) = supervisord::SupervisorConfig::read(&main, &env) else { continue };
        for program in parsed.programs() {
            let Ok(service) = supervisord_service(platform, program, Some(&main)) else {
                continue;
            };
            let Service::Supervisord { config, .. } = &service else { continue };
            let has_block = fsx::read_optional(config)
                .ok()
                .flatten()
                .is_some_and(|bytes| String::from_utf8_lossy(&bytes).contains(">>> dashkey"));
            if has_block && !found.contains(&service) {
                found.push(service);
            }
        }
    }
    found
}

/// The markers of a program's block.
pub(super) fn program_markers(program: &str) -> block::Markers {
    block::Markers::named(&format!("program:{program}"))
}

/// Refuses a block holding lines dashkey did not write (they would be lost).
pub(super) fn check_block(
    text: &str,
    markers: &block::Markers,
    path: &Path,
) -> Result<(), HandoffError> {
    let Ok(Some(span)) = block::find_with(text, markers) else { return Ok(()) };
    let body = block::body_with(text, markers).unwrap_or_default();
    for (index, line) in body.iter().enumerate() {
        let ours = line.starts_with("# The DashScope API key for this program")
            || line.starts_with(ORIGINAL)
            || line.starts_with("environment=");
        if !ours {
            return Err(PersistError::ForeignLineInBlock {
                path: path.to_path_buf(),
                line: span.line + 1 + index,
            }
            .into());
        }
    }
    Ok(())
}

/// The file with a block from an earlier version (unnamed markers) inside this program's
/// section taken out and the line it replaced put back, so that it can be handled as the
/// program's own named block. An unnamed block elsewhere belongs to another program.
pub(super) fn without_legacy_block(
    text: &str,
    program: &str,
    path: &Path,
) -> Result<String, HandoffError> {
    let Some(section) = program_section(text, program) else { return Ok(text.to_string()) };
    let inside = &text[section.start..section.end];
    let unnamed = block::Markers::unnamed();
    if block::find_with(inside, &unnamed).ok().flatten().is_none() {
        return Ok(text.to_string());
    }
    check_block(inside, &unnamed, path)?;
    let restored = remove_block(inside, &unnamed, path)?;
    Ok(format!("{}{restored}{}", &text[..section.start], &text[section.end..]))
}

/// Marks the line of the user's own `environment=` that a block replaced.
pub(super) const ORIGINAL: &str = "# dashkey replaced this line: ";

/// The configuration with the program's `environment=` carrying the variables, in a block
/// named after the program (other programs' blocks in the same file are left alone).
pub(super) fn supervisord_with(
    text: &str,
    program: &str,
    path: &Path,
    vars: &[(&str, &str)],
) -> Result<String, HandoffError> {
    let ours: Vec<String> =
        vars.iter().map(|(n, v)| format!("{n}={}", supervisord_value(v))).collect();
    let block_error = |source| PersistError::Block { path: path.to_path_buf(), source };
    let markers = program_markers(program);
    let text = &without_legacy_block(text, program, path)?;
    // A block already there (a rotation): keep the user's original line it remembers.
    if let Some(body) = block::body_with(text, &markers) {
        check_block(text, &markers, path)?;
        let original = body.iter().find_map(|line| line.strip_prefix(ORIGINAL)).map(str::to_string);
        let lines = supervisord_block(original.as_deref(), &ours);
        let span = block::find_with(text, &markers).map_err(block_error)?;
        return Ok(block::upsert_at_with(text, span.map_or(0, |s| s.start), &lines, &markers)
            .map_err(block_error)?);
    }
    let section = program_section(text, program).ok_or_else(|| HandoffError::NoProgram {
        program: program.to_string(),
        config: path.display().to_string(),
    })?;
    let mut offset = section.start;
    let mut insert_at = section.end_of_content;
    let mut original: Option<(usize, usize, String)> = None;
    for line in text[section.start..section.end].split_inclusive('\n') {
        let key = line.split(['=', ':']).next().unwrap_or("").trim();
        if key.eq_ignore_ascii_case("environment") && !line.starts_with([' ', '\t']) {
            let next = &text[offset + line.len()..section.end];
            if next.starts_with([' ', '\t'])
                && !next.trim_start_matches([' ', '\t']).starts_with(['\n', '\r'])
            {
                return Err(HandoffError::MultiLineEnvironment(path.display().to_string()));
            }
            original = Some((
                offset,
                offset + line.len(),
                line.trim_end_matches(['\n', '\r']).to_string(),
            ));
        }
        offset += line.len();
    }
    let mut text = text.to_string();
    if let Some((start, end, _)) = &original {
        text.replace_range(*start..*end, "");
        insert_at = *start;
    }
    let lines = supervisord_block(original.as_ref().map(|(_, _, line)| line.as_str()), &ours);
    block::upsert_at_with(&text, insert_at, &lines, &markers)
        .map_err(block_error)
        .map_err(Into::into)
}

pub(super) fn supervisord_block(original: Option<&str>, ours: &[String]) -> Vec<String> {
    let mut lines = vec![
        "# The DashScope API key for this program; remove with `dashkey service uninstall`."
            .to_string(),
    ];
    let mut pairs: Vec<String> = Vec::new();
    if let Some(line) = original {
        lines.push(format!("{ORIGINAL}{line}"));
        let value = line.split_once(['=', ':']).map_or("", |(_, v)| v).trim();
        pairs.extend(
            value
                .split(',')
                .map(str::trim)
                .filter(|pair| !pair.is_empty())
                .filter(|pair| !ours.iter().any(|o| o.split('=').next() == pair.split('=').next()))
                .map(str::to_string),
        );
    }
    pairs.extend(ours.iter().cloned());
    lines.push(format!("environment={}", pairs.join(",")));
    lines
}

/// The configuration without the program's block, with the user's original line put back.
pub(super) fn supervisord_without(
    text: &str,
    program: &str,
    path: &Path,
) -> Result<String, HandoffError> {
    let text = without_legacy_block(text, program, path)?;
    let markers = program_markers(program);
    check_block(&text, &markers, path)?;
    remove_block(&text, &markers, path)
}

/// The text without one block, with the line it replaced put back.
pub(super) fn remove_block(
    text: &str,
    markers: &block::Markers,
    path: &Path,
) -> Result<String, HandoffError> {
    let block_error = |source| PersistError::Block { path: path.to_path_buf(), source };
    let Some(span) = block::find_with(text, markers).map_err(block_error)? else {
        return Ok(text.to_string());
    };
    let original = block::body_with(text, markers)
        .unwrap_or_default()
        .iter()
        .find_map(|line| line.strip_prefix(ORIGINAL).map(str::to_string));
    let mut out = block::remove_with(text, markers).map_err(block_error)?;
    if let Some(line) = original {
        out.insert_str(span.cut_start, &format!("{line}{}", span.eol));
    }
    Ok(out)
}

/// A program's section: from its header line to the next section (or the end).
pub(super) struct Section {
    start: usize,
    end: usize,
    /// Just after the last non-blank line of the section: where a new line belongs.
    end_of_content: usize,
}

pub(super) fn program_section(text: &str, program: &str) -> Option<Section> {
    let header = format!("[program:{program}]");
    let mut offset = 0;
    let mut start = None;
    let mut end_of_content = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(s) = start {
            if trimmed.starts_with('[') {
                return Some(Section { start: s, end: offset, end_of_content });
            }
            if !trimmed.is_empty() && !trimmed.starts_with(['#', ';']) {
                end_of_content = offset + line.len();
            }
        } else if trimmed == header {
            start = Some(offset + line.len());
            end_of_content = offset + line.len();
        }
        offset += line.len();
    }
    start.map(|s| Section { start: s, end: text.len(), end_of_content })
}

/// The file holding `[program:NAME]`: the main configuration (`-c`, else where supervisord
/// looks) or one it includes, found by reading the configuration as supervisord does.
///
/// # Errors
///
/// [`HandoffError`] when there is no configuration or no such program.
pub fn supervisord_service(
    platform: &Platform,
    program: &str,
    config: Option<&Path>,
) -> Result<Service, HandoffError> {
    let main = match config {
        Some(path) => platform.resolve_path(&path.display().to_string()),
        None => {
            let supervisord = platform.find_program("supervisord");
            let candidates =
                supervisord::supervisor_default_paths(supervisord.as_deref(), platform.cwd());
            let list =
                candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            candidates.into_iter().find(|p| p.is_file()).ok_or(HandoffError::NoConfig(list))?
        }
    };
    let parsed =
        supervisord::SupervisorConfig::read(&main, &|name| platform.var(name).map(str::to_string))?;
    let no_program = || HandoffError::NoProgram {
        program: program.to_string(),
        config: main.display().to_string(),
    };
    let section = parsed.program_section(program).ok_or_else(no_program)?;
    if !section.starts_with("program:") {
        return Err(no_program());
    }
    let file = parsed.value(section, "command").map_or_else(|| main.clone(), |v| v.at.file.clone());
    Ok(Service::Supervisord { program: program.to_string(), config: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: [(&str, &str); 1] = [("DASHSCOPE_API_KEY", "sk-abc")];

    #[test]
    fn supervisord_environment_is_merged_and_restored_byte_for_byte() {
        let path = Path::new("/x/supervisord.conf");
        let original = "[program:app]\ncommand=/bin/app\nenvironment=A=\"1\",B=\"2\"\nautostart=true\n\n[program:other]\ncommand=/bin/other\n";
        let with = supervisord_with(original, "app", path, &VARS).unwrap();
        assert!(
            with.contains("environment=A=\"1\",B=\"2\",DASHSCOPE_API_KEY=\"sk-abc\"\n# <<< dashkey program:app <<<\nautostart=true"),
            "{with}"
        );
        assert_eq!(with.matches("environment=").count(), 2, "the original is only a comment now");
        let rotated =
            supervisord_with(&with, "app", path, &[("DASHSCOPE_API_KEY", "sk-new")]).unwrap();
        assert!(rotated.contains("DASHSCOPE_API_KEY=\"sk-new\"") && !rotated.contains("sk-abc"));
        assert_eq!(supervisord_without(&rotated, "app", path).unwrap(), original);
    }

    #[test]
    fn supervisord_without_environment_gets_one_at_the_end_of_the_section() {
        let path = Path::new("/x/s.conf");
        let original = "[program:app]\ncommand=/bin/app\n\n[program:b]\ncommand=x";
        let with = supervisord_with(original, "app", path, &VARS).unwrap();
        assert!(
            with.starts_with("[program:app]\ncommand=/bin/app\n# >>> dashkey program:app >>>\n"),
            "{with}"
        );
        assert_eq!(supervisord_without(&with, "app", path).unwrap(), original);
        assert!(matches!(
            supervisord_with(original, "nope", path, &VARS),
            Err(HandoffError::NoProgram { .. })
        ));
    }
}
