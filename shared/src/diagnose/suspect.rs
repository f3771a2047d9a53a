//! When no category matches (`unknown`), the few lines that look most like
//! an error, so that the reader knows where to start.
//!
//! Nothing is paid for this while the log streams past: a failed build's
//! error is near its end, so the engine keeps the last [`TAIL`] bytes it
//! examined (whole lines) and, only when no cause was found, scores those
//! lines by the words they hold. Only the best [`KEPT`] are shown.

use crate::core::redact::mask_in_text;

use super::text::clean;
use crate::core::verdicts::Evidence;

/// How many bytes of the log's end are kept for the suspects: a few hundred
/// lines, more than the error block and Amplify's trailer.
pub const TAIL: usize = 32 * 1024;

/// How many lines are kept.
pub const KEPT: usize = 5;

/// The most bytes of a line kept.
const LINE_CAP: usize = 1024;

/// Words that make a line look like an error, with their weight.
/// Case-sensitive, as the tools print them.
pub static WORDS: &[(&str, i32)] = &[
    ("ERR!", 3),
    ("Error", 2),
    ("error", 2),
    ("ERROR", 1),
    ("FATAL", 3),
    ("Fatal", 3),
    ("fatal", 3),
    ("failed", 2),
    ("Failed", 2),
    ("FAILED", 2),
    ("Exception", 2),
    ("exception", 2),
    ("Cannot ", 2),
    ("cannot ", 2),
    ("Can't ", 2),
    ("can't ", 2),
    ("not found", 2),
    ("Unable to", 2),
    ("unable to", 2),
    ("denied", 2),
    ("Killed", 3),
];

/// Words that make a suspect line a warning, with what they take off
/// (Amplify's `[WARNING]:` prefix on stderr lines is not one of them).
static WARNING_WORDS: &[(&str, i32)] = &[
    ("npm WARN", 4),
    ("npm warn", 4),
    ("warning", 2),
    ("Warning", 2),
    ("deprecated", 2),
];

#[derive(Debug, Clone)]
struct Slot {
    score: i32,
    line: u64,
    raw: Vec<u8>,
}

/// The best-scored lines so far, at most [`KEPT`].
#[derive(Debug, Default)]
pub struct Suspects {
    slots: Vec<Slot>,
}

impl Suspects {
    /// Considers a line: [`WORDS`] add to its score, warning words take
    /// some off. On a tie the later line wins: it is nearer the failure.
    pub fn offer(&mut self, line: u64, raw: &[u8]) {
        let weigh = |words: &[(&str, i32)]| -> i32 {
            words
                .iter()
                .filter(|(w, _)| memchr::memmem::find(raw, w.as_bytes()).is_some())
                .map(|(_, weight)| weight)
                .sum()
        };
        let score = weigh(WORDS) - weigh(WARNING_WORDS);
        if score <= 0 {
            return;
        }
        let slot = Slot {
            score,
            line,
            raw: raw[..raw.len().min(LINE_CAP)].to_vec(),
        };
        if self.slots.len() < KEPT {
            self.slots.push(slot);
            return;
        }
        let weakest = (0..self.slots.len())
            .min_by_key(|&i| (self.slots[i].score, self.slots[i].line))
            .expect("KEPT > 0");
        if score >= self.slots[weakest].score {
            self.slots[weakest] = slot;
        }
    }

    /// Forgets the lines so far: a phase completed, the build survived them.
    pub fn forget(&mut self) {
        self.slots.clear();
    }

    /// The kept lines in log order, cleaned and masked.
    pub fn evidence(mut self) -> Vec<Evidence> {
        self.slots.sort_by_key(|s| s.line);
        self.slots
            .into_iter()
            .filter_map(|s| {
                let (_, text) = clean(&s.raw);
                (!text.is_empty()).then(|| Evidence {
                    line: s.line,
                    text: mask_in_text(&text),
                })
            })
            .collect()
    }
}

/// The end of the log examined so far: whole lines, at most
/// [`TAIL`] bytes once a region has been added.
#[derive(Debug, Default)]
pub struct Tail {
    bytes: Vec<u8>,
    /// The number of the line after the last newline of `bytes`: with the
    /// newlines in `bytes`, the number of its first line, counted only if
    /// the suspects are wanted.
    end_line: u64,
}

impl Tail {
    /// Adds a region that starts at line `first_line` and holds `newlines`
    /// newlines, and forgets what is now too far from the end: a copy, no
    /// pass over the region.
    pub fn keep(&mut self, region: &[u8], first_line: u64, newlines: u64) {
        let cap = TAIL;
        self.end_line = first_line + newlines;
        if region.len() >= cap {
            let start = line_start_after(region, region.len() - cap);
            self.bytes.clear();
            self.bytes.extend_from_slice(&region[start..]);
            return;
        }
        self.bytes.extend_from_slice(region);
        if self.bytes.len() > cap {
            let start = line_start_after(&self.bytes, self.bytes.len() - cap);
            self.bytes.drain(..start);
        }
    }

    /// The number of the first line of `bytes`.
    fn first_line(&self) -> u64 {
        self.end_line - memchr::memchr_iter(b'\n', &self.bytes).count() as u64
    }

    /// The kept lines with their numbers.
    pub fn lines(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.bytes.split(|&b| b == b'\n').zip(self.first_line()..)
    }
}

/// The start of the first line that begins at or after `at`.
fn line_start_after(bytes: &[u8], at: usize) -> usize {
    if at == 0 {
        return 0;
    }
    memchr::memchr(b'\n', &bytes[at - 1..]).map_or(bytes.len(), |i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_lines_are_kept_in_log_order_and_later_wins_a_tie() {
        let mut s = Suspects::default();
        let lines = [
            (1, "error"),
            (2, "npm ERR! Failed: Error"),
            (3, "error"),
            (4, "fatal"),
            (5, "failed"),
            (6, "error"),
            (7, "ERROR"),
        ];
        for (line, text) in lines {
            s.offer(line, text.as_bytes());
        }
        let lines: Vec<u64> = s.evidence().iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6]);
    }

    #[test]
    fn warnings_and_forgotten_lines_are_not_suspects() {
        let mut s = Suspects::default();
        s.offer(1, b"npm WARN deprecated request@2.88.2: cannot be trusted");
        s.offer(2, b"npm ERR! network ETIMEDOUT");
        s.forget();
        s.offer(3, b"Error: boom");
        let lines: Vec<u64> = s.evidence().iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3]);
    }

    #[test]
    fn a_kept_line_is_capped_cleaned_and_masked() {
        let mut s = Suspects::default();
        let long = format!(
            "2024-03-01T10:00:00.000Z [INFO]: Error: token=ghp_abcdefghijklmnopqrstuvwxyz0123456789 {}",
            "x".repeat(4000)
        );
        s.offer(9, long.as_bytes());
        let e = &s.evidence()[0];
        assert!(e.text.starts_with("Error: token="), "{}", e.text);
        assert!(!e.text.contains("ghp_abcdefghijklmnop"), "{}", e.text);
        assert!(e.text.len() < 1100);
    }
}
