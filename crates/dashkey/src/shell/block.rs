//! The managed block: the only text dashkey ever puts into a file it does not own.
//!
//! A block is a begin marker line, dashkey's lines, and an end marker line. Editing is a pure
//! function from the old bytes to the new bytes, so it is easy to test exhaustively and to
//! show as a diff before anything is written. Three promises hold:
//!
//! - **Reversible to the byte.** When the file did not end in a newline, dashkey must add one
//!   before its block; the begin marker then says so (`(newline added)`), and removal takes
//!   that newline away again. Set-then-unset returns the original bytes.
//! - **Line endings are kept where the reader allows it.** A CRLF file gets a CRLF block from
//!   [`upsert`]; startup files use [`upsert_lf_at`], because a POSIX shell reads `fi\r` as a
//!   syntax error and would stop reading the file at dashkey's line.
//! - **No guessing.** Two begin markers, an end without a begin, or markers out of order mean
//!   someone edited by hand; dashkey refuses and names the lines instead of picking one.

/// The begin marker when the block was appended after an existing final newline.
pub const BEGIN: &str = "# >>> dashkey >>>";
/// The begin marker when dashkey had to add a newline before the block.
pub const BEGIN_JOINED: &str = "# >>> dashkey (newline added) >>>";
/// The end marker.
pub const END: &str = "# <<< dashkey <<<";

/// What every marker line contains, named or not (checked by a test).
const MARKER_WORD: &str = "dashkey";

/// The three marker lines of one kind of block: dashkey's own (unnamed) block in a startup
/// file, or a block named after what it belongs to (`program:app` in a supervisord file
/// holding several programs, each with its own block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markers {
    begin: String,
    begin_joined: String,
    end: String,
}

impl Markers {
    /// The unnamed markers ([`BEGIN`], [`BEGIN_JOINED`], [`END`]).
    pub fn unnamed() -> Markers {
        Markers {
            begin: BEGIN.to_string(),
            begin_joined: BEGIN_JOINED.to_string(),
            end: END.to_string(),
        }
    }

    /// Markers naming what the block belongs to: `# >>> dashkey program:app >>>`.
    pub fn named(label: &str) -> Markers {
        Markers {
            begin: format!("# >>> dashkey {label} >>>"),
            begin_joined: format!("# >>> dashkey {label} (newline added) >>>"),
            end: format!("# <<< dashkey {label} <<<"),
        }
    }

    /// The end marker line.
    pub fn end(&self) -> &str {
        &self.end
    }
}

/// Why a file's markers cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// More than one begin or end marker.
    #[error("dashkey's markers appear more than once (lines {})", join(lines))]
    Duplicated {
        /// 1-based line numbers of every marker.
        lines: Vec<usize>,
    },
    /// A begin without an end, an end without a begin, or the end before the begin.
    #[error("dashkey's markers are unbalanced (lines {})", join(lines))]
    Unbalanced {
        /// 1-based line numbers of every marker.
        lines: Vec<usize>,
    },
}

fn join(lines: &[usize]) -> String {
    lines.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
}

/// Where a block sits in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Byte offset where removal starts: includes the newline dashkey added before a joined
    /// block, but only while the block still ends the file (text the user added after it
    /// needs that newline to stay on its own line).
    pub cut_start: usize,
    /// The begin marker says dashkey added a newline before the block.
    pub joined: bool,
    /// Byte offset of the begin marker line.
    pub start: usize,
    /// Byte offset just past the end marker line and its line ending.
    pub end: usize,
    /// 1-based line number of the begin marker.
    pub line: usize,
    /// The block's own line ending, kept when it is rewritten.
    pub eol: &'static str,
}

/// Finds the block, strictly.
///
/// # Errors
///
/// [`BlockError`] when the markers are duplicated or unbalanced.
pub fn find(content: &str) -> Result<Option<Span>, BlockError> {
    find_with(content, &Markers::unnamed())
}

/// Like [`find`], for the block with these markers.
///
/// # Errors
///
/// [`BlockError`] when the markers are duplicated or unbalanced.
pub fn find_with(content: &str, markers: &Markers) -> Result<Option<Span>, BlockError> {
    let mut begins = Vec::new();
    let mut ends = Vec::new();
    // Only lines holding "dashkey" can be markers: they are found by a fast search of the
    // whole text (a startup file may be megabytes), not by looking at every line.
    let bytes = content.as_bytes();
    let (mut index, mut counted, mut searched, mut start) = (0, 0, 0, 0);
    let mut last = None;
    // Built once: a finder's setup costs more than searching a small file.
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(MARKER_WORD));
    for hit in FINDER.find_iter(bytes) {
        if let Some(newline) = memchr::memrchr(b'\n', &bytes[searched..hit]) {
            start = searched + newline + 1;
        }
        searched = hit;
        if last == Some(start) {
            continue;
        }
        last = Some(start);
        index += memchr::memchr_iter(b'\n', &bytes[counted..start]).count();
        counted = start;
        let offset = start;
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(content.len(), |at| start + at + 1);
        let line = &content[start..end];
        marker_line(markers, line, index, offset, &mut begins, &mut ends);
    }
    span_of(content, &begins, &ends)
}

/// A begin marker found: its 1-based line, byte offset, the newline a joined block added
/// before it (empty when none) and the block's line ending.
type Begin = (usize, usize, &'static str, &'static str);
/// An end marker found: its 1-based line and the byte offset just after it.
type End = (usize, usize);

/// Records `line` (number `index` from 0, starting at byte `offset`) when it is one of the
/// markers.
fn marker_line(
    markers: &Markers,
    line: &str,
    index: usize,
    offset: usize,
    begins: &mut Vec<Begin>,
    ends: &mut Vec<End>,
) {
    let text = line.trim_end_matches(['\n', '\r']).trim();
    if text == markers.begin || text == markers.begin_joined {
        // A joined block's added newline is the same line ending as its own lines.
        let eol = if line.ends_with("\r\n") { "\r\n" } else { "\n" };
        let added = if text == markers.begin_joined { eol } else { "" };
        begins.push((index + 1, offset, added, eol));
    } else if text == markers.end {
        ends.push((index + 1, offset + line.len()));
    }
}

/// The one block the markers found delimit, or why there is not exactly one.
fn span_of(content: &str, begins: &[Begin], ends: &[End]) -> Result<Option<Span>, BlockError> {
    let mut lines: Vec<usize> =
        begins.iter().map(|b| b.0).chain(ends.iter().map(|e| e.0)).collect();
    lines.sort_unstable();
    match (begins, ends) {
        ([], []) => Ok(None),
        ([(line, start, added, eol)], [(end_line, end)]) if end_line > line => {
            let at_end = *end == content.len();
            let cut_start = if at_end && content[..*start].ends_with(added) {
                start - added.len()
            } else {
                *start
            };
            let joined = !added.is_empty();
            Ok(Some(Span { cut_start, joined, start: *start, end: *end, line: *line, eol }))
        }
        _ if begins.len() > 1 || ends.len() > 1 => Err(BlockError::Duplicated { lines }),
        _ => Err(BlockError::Unbalanced { lines }),
    }
}

/// The file's line ending: CRLF when its first line ends in CRLF, else LF.
pub fn line_ending(content: &str) -> &'static str {
    match content.find('\n') {
        Some(at) if content[..at].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

fn render(body: &[String], joined: bool, eol: &str, markers: &Markers) -> String {
    let mut block = String::new();
    block.push_str(if joined { &markers.begin_joined } else { &markers.begin });
    block.push_str(eol);
    for line in body {
        block.push_str(line);
        block.push_str(eol);
    }
    block.push_str(&markers.end);
    block.push_str(eol);
    block
}

/// The file with the block set to `body`: unchanged if identical, replaced in place if
/// different, appended if absent.
///
/// # Errors
///
/// [`BlockError`] when the existing markers cannot be trusted.
pub fn upsert(content: &str, body: &[String]) -> Result<String, BlockError> {
    upsert_at(content, content.len(), body)
}

/// Like [`upsert`], but a new block goes at `offset` (the start of a line, or the end of the
/// file) instead of the end: for formats where a block must sit inside a section.
///
/// # Errors
///
/// [`BlockError`] when the existing markers cannot be trusted.
pub fn upsert_at(content: &str, offset: usize, body: &[String]) -> Result<String, BlockError> {
    upsert_at_with(content, offset, body, &Markers::unnamed())
}

/// Like [`upsert_at`], for the block with these markers.
///
/// # Errors
///
/// [`BlockError`] when the existing markers cannot be trusted.
pub fn upsert_at_with(
    content: &str,
    offset: usize,
    body: &[String],
    markers: &Markers,
) -> Result<String, BlockError> {
    upsert_eol(content, offset, body, markers, None)
}

/// Like [`upsert_at`], but the block's lines always end in LF, whatever the file's own line
/// endings: for files a POSIX shell, csh or fish reads, where a CR left at the end of `fi`
/// or `end` is a syntax error. Removal gives back the original bytes as for any block.
///
/// # Errors
///
/// [`BlockError`] when the existing markers cannot be trusted.
pub fn upsert_lf_at(content: &str, offset: usize, body: &[String]) -> Result<String, BlockError> {
    upsert_eol(content, offset, body, &Markers::unnamed(), Some("\n"))
}

/// Whether any line of `content` ends in CRLF.
pub fn has_crlf(content: &str) -> bool {
    content.contains("\r\n")
}

/// The upsert, with the block's line ending forced (`Some`) or taken from the block or the
/// file (`None`).
fn upsert_eol(
    content: &str,
    offset: usize,
    body: &[String],
    markers: &Markers,
    forced: Option<&'static str>,
) -> Result<String, BlockError> {
    match find_with(content, markers)? {
        Some(span) => {
            let joined = span.joined;
            let eol = forced.unwrap_or(span.eol);
            let mut out = String::with_capacity(content.len());
            // A joined block's added newline changes with the block's own line ending.
            let before = &content[..span.start];
            match before.strip_suffix(span.eol) {
                Some(rest) if joined && span.eol != eol => {
                    out.push_str(rest);
                    out.push_str(eol);
                }
                _ => out.push_str(before),
            }
            out.push_str(&render(body, joined, eol, markers));
            out.push_str(&content[span.end..]);
            Ok(out)
        }
        None => {
            let eol = forced.unwrap_or_else(|| line_ending(content));
            let (before, after) = content.split_at(offset.min(content.len()));
            let joined = !before.is_empty() && !before.ends_with('\n');
            let mut out = String::with_capacity(content.len() + 256);
            out.push_str(before);
            if joined {
                out.push_str(eol);
            }
            out.push_str(&render(body, joined, eol, markers));
            out.push_str(after);
            Ok(out)
        }
    }
}

/// The lines of a file outside dashkey's block, with their 1-based numbers (a file whose
/// markers cannot be trusted is taken whole).
pub fn lines_outside(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let span = find(text).ok().flatten();
    let mut offset = 0;
    text.split_inclusive('\n').enumerate().filter_map(move |(index, line)| {
        let inside = span.is_some_and(|s| offset >= s.start && offset < s.end);
        offset += line.len();
        (!inside).then_some((index + 1, line))
    })
}

/// The lines between the markers, without line endings.
pub fn body(content: &str) -> Option<Vec<String>> {
    body_with(content, &Markers::unnamed())
}

/// Like [`body`], for the block with these markers.
pub fn body_with(content: &str, markers: &Markers) -> Option<Vec<String>> {
    let span = find_with(content, markers).ok()??;
    let lines: Vec<String> = content[span.start..span.end]
        .lines()
        .map(|line| line.trim_end_matches('\r').to_string())
        .collect();
    Some(lines[1..lines.len() - 1].to_vec())
}

/// The file without the block, exactly as it was before the block was added.
///
/// # Errors
///
/// [`BlockError`] when the existing markers cannot be trusted.
pub fn remove(content: &str) -> Result<String, BlockError> {
    remove_with(content, &Markers::unnamed())
}

/// Like [`remove`], for the block with these markers.
///
/// # Errors
///
/// [`BlockError`] when the existing markers cannot be trusted.
pub fn remove_with(content: &str, markers: &Markers) -> Result<String, BlockError> {
    Ok(match find_with(content, markers)? {
        Some(span) => format!("{}{}", &content[..span.cut_start], &content[span.end..]),
        None => content.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn body() -> Vec<String> {
        vec!["if [ -f \"$HOME/x\" ]; then . \"$HOME/x\"; fi".to_string()]
    }

    #[test]
    fn appends_to_empty_and_newline_terminated_files() {
        let out = upsert("", &body()).unwrap();
        assert!(out.starts_with(BEGIN) && out.ends_with("<<<\n"));
        let out = upsert("alias ll='ls -l'\n", &body()).unwrap();
        assert!(out.starts_with("alias ll='ls -l'\n# >>> dashkey >>>\n"));
        assert_eq!(remove(&out).unwrap(), "alias ll='ls -l'\n");
    }

    #[test]
    fn never_glues_onto_a_last_line_without_newline_and_undoes_it() {
        let original = "export PATH=$PATH:/opt/bin";
        let out = upsert(original, &body()).unwrap();
        assert!(out.starts_with("export PATH=$PATH:/opt/bin\n# >>> dashkey (newline added) >>>\n"));
        assert_eq!(remove(&out).unwrap(), original);
    }

    #[test]
    fn text_added_after_a_joined_block_keeps_its_own_line_on_removal() {
        let with = upsert("no newline", &body()).unwrap();
        let edited = format!("{with}alias x=y\n");
        assert_eq!(remove(&edited).unwrap(), "no newline\nalias x=y\n");
        let rewritten = upsert(&edited, &["other".to_string()]).unwrap();
        assert!(rewritten.contains(BEGIN_JOINED), "the marker keeps saying a newline was added");
    }

    #[test]
    fn keeps_crlf() {
        let original = "echo hi\r\n";
        let out = upsert(original, &body()).unwrap();
        assert!(out.contains("# >>> dashkey >>>\r\n") && out.ends_with("# <<< dashkey <<<\r\n"));
        assert!(!out.replace("\r\n", "").contains('\n'));
        assert_eq!(remove(&out).unwrap(), original);
    }

    #[test]
    fn startup_file_blocks_are_lf_in_a_crlf_file_and_come_out_to_the_byte() {
        for original in ["echo hi\r\nexport A=1\r\n", "echo hi\r\nno newline", ""] {
            let out = upsert_lf_at(original, original.len(), &body()).unwrap();
            let block = &out[find(&out).unwrap().unwrap().start..];
            assert!(!block.contains('\r'), "{out:?}");
            assert_eq!(upsert_lf_at(&out, out.len(), &body()).unwrap(), out);
            assert_eq!(remove(&out).unwrap(), original);
        }
        // A CRLF block an older dashkey wrote becomes LF, its added newline too.
        let old = upsert("a\r\nb", &body()).unwrap();
        let new = upsert_lf_at(&old, old.len(), &body()).unwrap();
        assert_eq!(new, upsert_lf_at("a\r\nb", 5, &body()).unwrap());
        assert_eq!(remove(&new).unwrap(), "a\r\nb");
        assert!(has_crlf("a\r\n") && !has_crlf("a\n"));
    }

    #[test]
    fn identical_block_is_a_no_op_and_different_block_is_replaced_in_place() {
        let out = upsert("a\n", &body()).unwrap();
        assert_eq!(upsert(&out, &body()).unwrap(), out);
        let edited = format!("{out}b\n");
        let replaced = upsert(&edited, &["new".to_string()]).unwrap();
        assert_eq!(replaced, "a\n# >>> dashkey >>>\nnew\n# <<< dashkey <<<\nb\n");
    }

    #[test]
    fn every_marker_holds_the_word_searched_for() {
        for markers in [Markers::unnamed(), Markers::named("program:app")] {
            for marker in [&markers.begin, &markers.begin_joined, &markers.end] {
                assert!(marker.contains(MARKER_WORD), "{marker}");
            }
        }
        // Lines around the block that mention dashkey are not markers; line numbers count
        // every line, and a marker on the very first or a last unterminated line is found.
        let text = "dashkey\n# >>> dashkey >>>\nx dashkey dashkey\n# <<< dashkey <<<";
        let span = find(text).unwrap().unwrap();
        assert_eq!((span.line, span.start, span.end), (2, 8, text.len()));
        let first = "  # >>> dashkey >>>  \r\n# <<< dashkey <<<\r\n";
        assert_eq!(find(first).unwrap().unwrap().line, 1);
    }

    #[test]
    fn refuses_duplicated_and_unbalanced_markers() {
        let twice = format!("{BEGIN}\nx\n{END}\n{BEGIN}\nx\n{END}\n");
        assert_eq!(
            upsert(&twice, &body()),
            Err(BlockError::Duplicated { lines: vec![1, 3, 4, 6] })
        );
        let lonely = format!("a\n{BEGIN}\nx\n");
        assert_eq!(remove(&lonely), Err(BlockError::Unbalanced { lines: vec![2] }));
        let reversed = format!("{END}\n{BEGIN}\n");
        assert_eq!(find(&reversed), Err(BlockError::Unbalanced { lines: vec![1, 2] }));
    }

    #[test]
    fn error_messages_name_the_lines() {
        let message = BlockError::Duplicated { lines: vec![3, 9] }.to_string();
        assert!(message.contains("lines 3, 9"), "{message}");
    }

    #[test]
    fn named_blocks_are_apart_from_each_other_and_from_the_unnamed_one() {
        let a = Markers::named("program:a");
        let b = Markers::named("program:b");
        let text = upsert_at_with("x\n", 2, &["A".to_string()], &a).unwrap();
        let text = upsert_at_with(&text, text.len(), &["B".to_string()], &b).unwrap();
        assert_eq!(find(&text), Ok(None));
        assert_eq!(body_with(&text, &a), Some(vec!["A".to_string()]));
        let without_b = remove_with(&text, &b).unwrap();
        assert_eq!(body_with(&without_b, &a), Some(vec!["A".to_string()]));
        assert_eq!(remove_with(&without_b, &a).unwrap(), "x\n");
    }

    /// `find_with` as it was before it searched: every line looked at.
    fn find_line_by_line(content: &str, markers: &Markers) -> Result<Option<Span>, BlockError> {
        let mut begins = Vec::new();
        let mut ends = Vec::new();
        let mut offset = 0;
        for (index, line) in content.split_inclusive('\n').enumerate() {
            marker_line(markers, line, index, offset, &mut begins, &mut ends);
            offset += line.len();
        }
        span_of(content, &begins, &ends)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_search_finds_the_markers_reading_every_line_finds(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                BEGIN, BEGIN_JOINED, END, "# >>> dashkey x >>>", "# <<< dashkey x <<<", " ",
                "\n", "\r\n", "dashkey", "x", "é",
            ]), 0..24)
        ) {
            let text: String = pieces.concat();
            for markers in [Markers::unnamed(), Markers::named("x")] {
                prop_assert_eq!(find_with(&text, &markers), find_line_by_line(&text, &markers));
            }
        }
    }

    proptest! {
        #[test]
        fn set_then_unset_restores_any_file(original in "(\\PC|\r|\n){0,200}", lines in proptest::collection::vec("[ -~]{0,40}", 0..4)) {
            prop_assume!(find(&original).ok() == Some(None));
            let with = upsert(&original, &lines).unwrap();
            prop_assert!(with.starts_with(&original));
            prop_assert_eq!(upsert(&with, &lines).unwrap(), with.clone());
            prop_assert_eq!(remove(&with).unwrap(), original);
        }
    }
}
