//! The launch-context section of `status`: one row per place programs start from, ✓/✗ for
//! the key and for the region, and the files that give it. The rows are the library's
//! [`dashkey::reach::Matrix`]; this file lays them out and serialises them.
//!
//! # `status --json`: `contexts`
//!
//! ```text
//! "key_region": { "region": "ap-southeast-1" | null, "from": "stored" | "probed" | null },
//! "contexts": [ {
//!   "context": "this-process" | "login-shell" | "interactive-shell" | "ssh-command"
//!            | "desktop" | "user-service" | "cron" | "sudo",
//!   "label": string,
//!   "coverage": { "state": "computed" } | { "state": "partial", "reason": string },
//!   "given_by": [ string ],          // files that give the context its DashScope variables
//!   "key": bool | null,              // every surface gets a key; null: not computed (cron:
//!                                    // status reads no crontab, `doctor` does)
//!   "region": bool | null,           // every surface with a key calls the key's region; null: unknown
//!   "surfaces": [ {                  // empty when not computed
//!     "surface": "python-1x" | "python-client" | "java" | "node",
//!     "key": bool,
//!     "key_from": { "type": "variable" | "file-path-variable" | "default-file", "path"?: string } | null,
//!     "url": string | null,          // the native base URL it calls; null: it fails first
//!     "region": string | null,
//!     "region_ok": bool | null
//!   } ]
//! } ]
//! ```

use dashkey::Platform;
use dashkey::reach::{
    self, ContextReach, Coverage, Inputs, LaunchContext, Matrix, RegionKnown, SurfaceReach,
};
use dashkey::resolve::Source;
use serde::Serialize;

use crate::output::{BOLD, DIM, FAIL, OK, WARN, paint};

/// The matrix for `status`, which starts no process: the crontab is only readable through
/// `crontab -l` (the spool is root's), so status leaves the cron row open (see [`unread`])
/// and `dashkey doctor` reads it.
pub fn matrix(platform: &Platform) -> Matrix {
    reach::matrix(platform, &Inputs::default())
}

/// The rows status did not compute: cron, whose environment comes from the crontab status
/// does not read. Their marks are `?` and their JSON verdicts `null`, never a guess made
/// without the crontab.
fn unread(row: &ContextReach) -> bool {
    row.context == LaunchContext::Cron
}

/// Why a row is partial, with status's own reason for the row it leaves to `doctor`.
fn coverage(platform: &Platform, row: &ContextReach) -> Coverage {
    if unread(row) && reach::crontab_applies(platform) {
        return Coverage::Partial(
            "status runs no program to read the crontab: `dashkey doctor` reads it".to_string(),
        );
    }
    row.coverage.clone()
}

#[derive(Serialize)]
pub struct KeyRegionReport {
    region: Option<String>,
    from: Option<RegionKnown>,
}

#[derive(Serialize)]
pub struct ContextReport {
    context: &'static str,
    label: &'static str,
    coverage: Coverage,
    given_by: Vec<String>,
    key: Option<bool>,
    region: Option<bool>,
    surfaces: Vec<SurfaceReport>,
}

#[derive(Serialize)]
struct SurfaceReport {
    surface: &'static str,
    key: bool,
    key_from: Option<Source>,
    url: Option<String>,
    region: Option<String>,
    region_ok: Option<bool>,
}

pub fn key_region(matrix: &Matrix) -> KeyRegionReport {
    KeyRegionReport { region: matrix.key_region.clone(), from: matrix.key_region_from }
}

pub fn report(platform: &Platform, matrix: &Matrix) -> Vec<ContextReport> {
    matrix
        .contexts
        .iter()
        .map(|row| ContextReport {
            context: row.context.id(),
            label: row.context.label(),
            coverage: coverage(platform, row),
            given_by: row.given_by.clone(),
            key: (!unread(row)).then(|| row.key_ok()),
            region: if unread(row) { None } else { region_ok(row) },
            surfaces: row
                .surfaces
                .iter()
                .filter(|_| !unread(row))
                .map(|s| SurfaceReport {
                    surface: s.surface.id(),
                    key: s.key_ok(),
                    key_from: s.key_from.clone(),
                    url: s.url.clone(),
                    region: s.region.clone(),
                    region_ok: s.region_ok,
                })
                .collect(),
        })
        .collect()
}

/// Every surface that gets a key calls the key's region (`None`: the region is unknown, or
/// no surface gets a key).
fn region_ok(row: &ContextReach) -> Option<bool> {
    let keyed: Vec<&SurfaceReach> = row.surfaces.iter().filter(|s| s.key_ok()).collect();
    if keyed.is_empty() {
        return None;
    }
    let verdicts: Option<Vec<bool>> = keyed.iter().map(|s| s.region_ok).collect();
    verdicts.map(|all| all.into_iter().all(|ok| ok))
}

/// The section: a header naming the key's region, then a row per context.
pub fn render(out: &mut String, platform: &Platform, matrix: &Matrix) {
    outln!(out);
    let known = match (&matrix.key_region, matrix.key_region_from) {
        (Some(region), Some(RegionKnown::Probed)) => {
            format!("the key works in {region} (checked online)")
        }
        // The record keeps no trace of an online check: what is stored is not proof.
        (Some(region), _) => format!("the key is stored for {region}"),
        (None, _) => {
            "the key's region is not known: nothing is stored (dashkey verify tells)".to_string()
        }
    };
    outln!(
        out,
        "{} {}",
        paint(BOLD, "Where programs get the key"),
        paint(DIM, format!("({known})"))
    );
    let width = matrix.contexts.iter().map(|r| r.context.label().len()).max().unwrap_or(0);
    let rows: Vec<(&ContextReach, Cell, Cell)> = matrix
        .contexts
        .iter()
        .map(|row| {
            if unread(row) {
                let open = |text: &str| Cell { mark: "?", style: DIM, text: text.into() };
                return (row, open("key"), open("region"));
            }
            (row, key_cell(row), region_cell(row, matrix.key_region.is_some()))
        })
        .collect();
    let key_width = rows.iter().map(|(_, key, _)| key.width()).max().unwrap_or(0);
    let region_width = rows.iter().map(|(_, _, region)| region.width()).max().unwrap_or(0);
    for (row, key, region) in &rows {
        let from = if unread(row) {
            "the crontab, not read".to_string()
        } else if row.given_by.is_empty() {
            row.surfaces
                .iter()
                .find_map(|s| s.key_from.as_ref().and_then(Source::path))
                .map_or_else(|| "nothing".to_string(), |p| platform.show_path(p))
        } else {
            row.given_by.join(" + ")
        };
        outln!(
            out,
            "  {:width$}  {}  {}  {}",
            row.context.label(),
            key.render(key_width),
            region.render(region_width),
            paint(DIM, format!("from {from}"))
        );
        if let Coverage::Partial(reason) = &coverage(platform, row) {
            outln!(out, "  {:width$}  {}", "", paint(DIM, format!("({reason})")));
        }
    }
}

/// A mark and its words, padded by their visible width.
struct Cell {
    mark: &'static str,
    style: anstyle::Style,
    text: String,
}

impl Cell {
    fn width(&self) -> usize {
        self.mark.chars().count() + 1 + self.text.chars().count()
    }

    fn render(&self, width: usize) -> String {
        let pad = width.saturating_sub(self.width());
        format!("{} {}{}", paint(self.style, self.mark), self.text, " ".repeat(pad))
    }
}

/// `✓ key`, `✗ key`, or `✗ key (none in Java, Node)`.
fn key_cell(row: &ContextReach) -> Cell {
    let missing = row.keyless();
    match missing.len() {
        0 => Cell { mark: "✓", style: OK, text: "key".into() },
        n if n == row.surfaces.len() => Cell { mark: "✗", style: FAIL, text: "key".into() },
        _ => Cell { mark: "✗", style: WARN, text: format!("key (none in {})", names(&missing)) },
    }
}

/// `✓ region`, `? region` (unknown), `- region` (no key at all), or
/// `✗ region (Python 1.x → cn-beijing)`.
fn region_cell(row: &ContextReach, known: bool) -> Cell {
    let wrong = row.wrong_region();
    if row.keyless().len() == row.surfaces.len() {
        return Cell { mark: "-", style: DIM, text: "region".into() };
    }
    if !known {
        return Cell { mark: "?", style: DIM, text: "region".into() };
    }
    if wrong.is_empty() {
        return Cell { mark: "✓", style: OK, text: "region".into() };
    }
    let keyed = row.surfaces.iter().filter(|s| s.key_ok()).count();
    let who = if wrong.len() == keyed { "all".to_string() } else { names(&wrong) };
    let to = wrong[0].region.clone().unwrap_or_else(|| "a custom endpoint".into());
    Cell { mark: "✗", style: FAIL, text: format!("region ({who} → {to})") }
}

fn names(surfaces: &[&SurfaceReach]) -> String {
    surfaces.iter().map(|s| s.surface.label()).collect::<Vec<_>>().join(", ")
}
