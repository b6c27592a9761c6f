//! Where in an experiment file a problem is: `FILE:LINE:COLUMN` for a section and key found
//! by scanning the text, or for serde's own errors refined to the offending key or value.

/// A problem with an experiment file, as one line.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ConfigError {
    /// `FILE`, or `FILE:LINE:COLUMN` where the place is known.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

/// A place in an experiment file: a section (with its index for `[[controller]]` entries)
/// and optionally a key in it.
#[derive(Debug, Clone, Copy)]
pub struct KeyPath<'a> {
    /// The section, e.g. `budget` (`""` for the top level).
    pub section: &'a str,
    /// Which `[[section]]` entry.
    pub index: Option<usize>,
    /// The key.
    pub key: Option<&'a str>,
}

/// 1-based line and column of a byte offset.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

/// Serde reports unknown fields and variants at the enclosing table; point at the offending
/// key (`name =`) or value (`"name"`) itself when it follows in the text.
pub(super) fn refine(text: &str, start: usize, message: &str) -> usize {
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
    };
    let found = if let Some(key) = quoted("unknown field `") {
        text[start..]
            .lines()
            .scan(start, |offset, line| {
                let at = *offset;
                *offset += line.len() + 1;
                Some((at, line))
            })
            .find(|(_, line)| {
                let t = line.trim_start();
                t.strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with('='))
            })
            .map(|(at, line)| at + line.len() - line.trim_start().len())
    } else if let Some(value) = quoted("unknown variant `") {
        text[start..]
            .find(&format!("\"{value}\""))
            .map(|i| start + i)
    } else {
        None
    };
    found.unwrap_or(start)
}

/// Finds a section (and key) in TOML text by scanning its lines: headers `[section]` and
/// `[[section]]` (the `index`-th), then `key =` below them.
pub(super) fn locate(text: &str, at: KeyPath<'_>) -> Option<(usize, usize)> {
    let mut in_section = at.section.is_empty();
    let mut seen = 0usize;
    let mut header_line = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            let name = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim();
            in_section = false;
            if name == at.section {
                let wanted = at.index.unwrap_or(0);
                in_section = seen == wanted;
                if in_section {
                    header_line = Some(n + 1);
                }
                seen += 1;
            }
            continue;
        }
        if let (true, Some(key)) = (in_section, at.key) {
            let rest = trimmed.strip_prefix(key).map(str::trim_start);
            if rest.is_some_and(|r| r.starts_with('=')) {
                return Some((n + 1, line.len() - trimmed.len() + 1));
            }
        }
    }
    header_line.map(|l| (l, 1))
}
