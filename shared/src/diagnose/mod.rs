//! The diagnosis engine: reads a failed build's log as a stream and names
//! the root cause, its fix, and the evidence.
//!
//! How it stays fast and small:
//! - the log is fed in chunks ([`Diagnoser::feed`]) into a buffer of at most
//!   [`BUFFER`] bytes; nothing else grows with the log (at most one
//!   candidate per category is kept), so memory is constant whatever its size;
//! - one Aho-Corasick automaton of every trigger literal and marker scans
//!   each chunk; only the lines it hits are cleaned (ANSI, CR, invalid UTF-8,
//!   Amplify's prefix) and checked against a rule's regex. Lines are counted
//!   with `memchr`.
//!
//! How it finds the root cause, not a symptom:
//! - the generic trailer (`!!! Build failed`, `Command failed with exit
//!   code 1`) is never a cause, only the fallback's evidence;
//! - warnings the build survived are not causes: candidates inside a
//!   "Compiled with warnings" block are ignored, and those of a phase that
//!   later completed (`# Completed phase: build`) are dropped;
//! - the earliest remaining candidate wins, except that a wrapper symptom
//!   (a prerender error) yields to a specific cause printed right after it;
//!   the others are listed as secondary.

pub mod catalogue;
mod suspect;
pub mod text;

pub use crate::core::verdicts::{Diagnosis, Evidence, Secondary};

use std::io::Read;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use regex::Regex;

use crate::core::redact::mask_in_text;
use catalogue::{MARKERS, Marker, RULES, Rule};
use suspect::Suspects;
use text::clean;

/// The most bytes held at once, whatever the log's size; a line longer than
/// this is examined in pieces.
pub const BUFFER: usize = 256 * 1024;

/// How far after a wrapper symptom a specific cause takes precedence.
const WRAP_WINDOW: u64 = 40;

impl Diagnosis {
    /// The diagnosis of a build whose log could not be read.
    pub fn log_unavailable(reason: &str) -> Self {
        let rule = &catalogue::LOG_UNAVAILABLE;
        Self {
            category: rule.id.into(),
            title: rule.title.into(),
            transient: false,
            fix: format!("{} ({})", rule.fix, mask_in_text(reason)),
            evidence: Vec::new(),
            secondary: Vec::new(),
            command: None,
            phase: None,
            exit_code: None,
            cut: None,
            lines: 0,
            bytes: 0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Rule(usize),
    Marker(Marker),
    /// A word that makes a line look like an error (its weight), for `unknown`.
    Suspect(i32),
}

struct Engine {
    automaton: AhoCorasick,
    kinds: Vec<Kind>,
    confirms: Vec<Option<Regex>>,
    exit_code: Regex,
}

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    let mut literals: Vec<&str> = Vec::new();
    let mut kinds = Vec::new();
    for (index, rule) in RULES.iter().enumerate() {
        for trigger in rule.triggers {
            literals.push(trigger);
            kinds.push(Kind::Rule(index));
        }
    }
    for (literal, marker) in MARKERS {
        literals.push(literal);
        kinds.push(Kind::Marker(*marker));
    }
    for (literal, weight) in suspect::WORDS {
        literals.push(literal);
        kinds.push(Kind::Suspect(*weight));
    }
    Engine {
        automaton: AhoCorasick::new(&literals)
            .expect("the catalogue's literals build an automaton"),
        kinds,
        confirms: RULES
            .iter()
            .map(|r| {
                r.confirm
                    .map(|c| Regex::new(c).expect("catalogue regexes compile"))
            })
            .collect(),
        exit_code: Regex::new(r"exit code:? (\d+)").expect("exit code regex compiles"),
    }
});

/// One cause found, with its evidence.
#[derive(Debug, Clone)]
struct Candidate {
    rule: &'static Rule,
    line: u64,
    evidence: Vec<Evidence>,
    phase_seq: u32,
}

/// Where the engine is in the log.
#[derive(Debug, Default)]
struct State {
    phase: Option<String>,
    phase_seq: u32,
    command: Option<Evidence>,
    in_warnings: bool,
    caching: bool,
    trailer: Option<Evidence>,
    exit_code: Option<i32>,
}

/// A streaming diagnosis: [`feed`](Self::feed) the log in chunks of any size,
/// then [`finish`](Self::finish).
#[derive(Debug)]
pub struct Diagnoser {
    buf: Vec<u8>,
    /// The buffer's size: [`BUFFER`] unless a test asks for less.
    cap: usize,
    /// Complete lines before `buf[0]`.
    lines_done: u64,
    bytes: u64,
    /// The last complete line before `buf[0]` (capped), for context.
    prev_tail: Vec<u8>,
    /// A candidate still waiting for lines after it: (index, lines wanted).
    pending_after: Option<(usize, usize)>,
    state: State,
    candidates: Vec<Candidate>,
    /// Causes seen in warnings or in phases that completed.
    survived: u32,
    /// The lines most like an error, shown when no cause is found.
    suspects: Suspects,
    /// Reused for a coloured line's text.
    scratch: Vec<u8>,
    /// Why the reader stopped before the log's end, if it did.
    cut: Option<String>,
}

impl Default for Diagnoser {
    fn default() -> Self {
        Self::new()
    }
}

impl Diagnoser {
    pub fn new() -> Self {
        Self::with_buffer(BUFFER)
    }

    /// A diagnoser holding at most `bytes` (at least 256) of the log at once;
    /// smaller than [`BUFFER`] only to test chunk boundaries.
    pub fn with_buffer(bytes: usize) -> Self {
        let cap = bytes.max(256);
        Self {
            buf: Vec::with_capacity(cap),
            cap,
            lines_done: 0,
            bytes: 0,
            prev_tail: Vec::new(),
            pending_after: None,
            state: State::default(),
            candidates: Vec::new(),
            survived: 0,
            suspects: Suspects::default(),
            scratch: Vec::new(),
            cut: None,
        }
    }

    /// The reader stopped before the end of the log (`why`: its budget):
    /// the diagnosis says so.
    pub fn cut(&mut self, why: String) {
        self.cut = Some(why);
    }

    /// Bytes fed so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// Takes the next bytes of the log.
    pub fn feed(&mut self, mut data: &[u8]) {
        self.bytes += data.len() as u64;
        while !data.is_empty() {
            let room = self.cap - self.buf.len();
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == self.cap {
                self.process(false);
            }
        }
    }

    /// Processes the buffer's complete lines (all of it at the end of the
    /// log, or when one line fills the whole buffer).
    fn process(&mut self, eof: bool) {
        let buf = std::mem::take(&mut self.buf);
        let end = if eof {
            buf.len()
        } else {
            memchr::memrchr(b'\n', &buf).map_or(buf.len(), |i| i + 1)
        };
        let region = &buf[..end];
        self.scan(region);
        let newlines = memchr::memchr_iter(b'\n', region).count() as u64;
        // The last complete line of the region, for the next one's context.
        if newlines > 0 {
            let body = &region[..region.len() - 1];
            let start = memchr::memrchr(b'\n', body).map_or(0, |i| i + 1);
            self.prev_tail.clear();
            self.prev_tail
                .extend_from_slice(&body[start..body.len().min(start + 1024)]);
        }
        self.lines_done += newlines;
        let mut rest = buf;
        rest.drain(..end);
        self.buf = rest;
    }

    fn scan(&mut self, region: &[u8]) {
        let engine = &*ENGINE;
        // Lines still owed to the previous region's last candidate.
        if let Some((cand, wanted)) = self.pending_after.take() {
            self.capture_after(region, 0, self.lines_done + 1, cand, wanted);
        }
        let mut counted_at = 0;
        let mut counted = self.lines_done;
        let mut pos = 0;
        // Two sorted streams of candidate lines: the automaton's hits, and
        // coloured lines (an escape code may split a literal, so they are
        // cleaned and searched again) found with memchr.
        let mut next_hit: Option<usize> = None;
        let mut next_esc: Option<usize> = None;
        while pos < region.len() {
            if next_hit.is_none_or(|at| at < pos) {
                let input = aho_corasick::Input::new(region).span(pos..region.len());
                // usize::MAX: no more hits in this region.
                next_hit = Some(
                    engine
                        .automaton
                        .find(input)
                        .map_or(usize::MAX, |m| m.start()),
                );
            }
            if next_esc.is_none_or(|at| at < pos) {
                next_esc =
                    Some(memchr::memchr(0x1b, &region[pos..]).map_or(usize::MAX, |i| pos + i));
            }
            let at = next_hit
                .unwrap_or(usize::MAX)
                .min(next_esc.unwrap_or(usize::MAX));
            if at == usize::MAX {
                break;
            }
            let start = memchr::memrchr(b'\n', &region[..at]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &region[at..]).map_or(region.len(), |i| at + i);
            counted += memchr::memchr_iter(b'\n', &region[counted_at..start]).count() as u64;
            counted_at = start;
            let line_no = counted + 1;
            let tail;
            let prev: &[u8] = if start > 0 {
                let body = &region[..start - 1];
                &body[memchr::memrchr(b'\n', body).map_or(0, |i| i + 1)..]
            } else {
                tail = self.prev_tail.clone();
                &tail
            };
            if let Some((cand, wanted)) = self.on_line(line_no, &region[start..end], prev) {
                self.capture_after(region, end + 1, line_no + 1, cand, wanted);
            }
            pos = end + 1;
        }
    }

    /// Adds up to `wanted` lines from `region[from..]` to a candidate's
    /// evidence; what the region lacks is owed by the next one.
    fn capture_after(
        &mut self,
        region: &[u8],
        mut from: usize,
        mut line_no: u64,
        cand: usize,
        mut wanted: usize,
    ) {
        while wanted > 0 {
            if from >= region.len() {
                self.pending_after = Some((cand, wanted));
                return;
            }
            let end = memchr::memchr(b'\n', &region[from..]).map_or(region.len(), |i| from + i);
            let (_, text) = clean(&region[from..end]);
            if !text.is_empty() && !is_boilerplate(&text) {
                self.candidates[cand].evidence.push(Evidence {
                    line: line_no,
                    text: mask_in_text(&text),
                });
                wanted -= 1;
            }
            from = end + 1;
            line_no += 1;
        }
    }

    /// Examines one line the automaton hit. Returns the index of a new
    /// candidate and how many following lines it wants as evidence.
    fn on_line(&mut self, line_no: u64, raw: &[u8], prev: &[u8]) -> Option<(usize, usize)> {
        let engine = &*ENGINE;
        // First, cheaply and without allocating: which literals does the
        // line hold once its colours are gone? Most hit lines are coloured
        // noise or a marker that needs no text.
        let mut scratch = std::mem::take(&mut self.scratch);
        let bytes: &[u8] = if memchr::memchr(0x1b, raw).is_some() {
            text::strip_ansi_into(raw, &mut scratch);
            &scratch
        } else {
            raw
        };
        let mut rules: Vec<usize> = Vec::new();
        let mut needs_text = false;
        let mut structural = false;
        let mut suspicion = 0;
        for m in engine.automaton.find_overlapping_iter(bytes) {
            match engine.kinds[m.pattern().as_usize()] {
                Kind::Rule(index) => rules.push(index),
                Kind::Marker(Marker::PhaseStarted | Marker::Command | Marker::Trailer) => {
                    needs_text = true;
                }
                Kind::Marker(marker) => {
                    structural |= self.on_marker(marker, line_no, "");
                }
                Kind::Suspect(weight) => suspicion += weight,
            }
        }
        self.scratch = scratch;
        if suspicion > 0 && !needs_text && !structural && !self.state.in_warnings {
            self.suspects
                .offer(suspicion, line_no, self.state.phase_seq, raw);
        }
        if rules.is_empty() && !needs_text {
            return None;
        }
        let (_, text) = clean(raw);
        if needs_text {
            for m in engine.automaton.find_overlapping_iter(&text) {
                if let Kind::Marker(
                    marker @ (Marker::PhaseStarted | Marker::Command | Marker::Trailer),
                ) = engine.kinds[m.pattern().as_usize()]
                {
                    structural |= self.on_marker(marker, line_no, &text);
                }
            }
        }
        if structural || rules.is_empty() {
            return None;
        }
        rules.sort_unstable();
        rules.dedup();
        let rule_index = rules.into_iter().find(|&i| {
            let rule = &RULES[i];
            (!rule.caching_only || self.state.caching)
                && !rule.exclude.iter().any(|x| text.contains(x))
                && engine.confirms[i]
                    .as_ref()
                    .is_none_or(|re| re.is_match(&text))
        })?;
        let rule = &RULES[rule_index];
        if self.state.in_warnings {
            self.survived += 1;
            return None;
        }
        if self.candidates.iter().any(|c| c.rule.id == rule.id) {
            return None;
        }
        let mut evidence = Vec::new();
        if rule.before > 0 && !prev.is_empty() {
            let (_, before) = clean(prev);
            if !before.is_empty() {
                evidence.push(Evidence {
                    line: line_no - 1,
                    text: mask_in_text(&before),
                });
            }
        }
        evidence.push(Evidence {
            line: line_no,
            text: mask_in_text(&text),
        });
        self.candidates.push(Candidate {
            rule,
            line: line_no,
            evidence,
            phase_seq: self.state.phase_seq,
        });
        Some((self.candidates.len() - 1, rule.after))
    }

    /// Updates the state; returns whether the line is structural (never a
    /// cause).
    fn on_marker(&mut self, marker: Marker, line_no: u64, text: &str) -> bool {
        let state = &mut self.state;
        match marker {
            Marker::PhaseStarted => {
                state.phase = text.split_once("phase:").map(|(_, p)| p.trim().to_owned());
                state.phase_seq += 1;
                state.in_warnings = false;
                true
            }
            Marker::PhaseCompleted => {
                let seq = state.phase_seq;
                let before = self.candidates.len();
                self.candidates.retain(|c| c.phase_seq != seq);
                self.survived += (before - self.candidates.len()) as u32;
                self.suspects.forget_phase(seq);
                self.pending_after = None;
                self.state.in_warnings = false;
                true
            }
            Marker::Command => {
                state.command = Some(Evidence {
                    line: line_no,
                    text: mask_in_text(text),
                });
                state.in_warnings = false;
                true
            }
            Marker::Caching => {
                state.caching = true;
                false
            }
            Marker::WarningsStart => {
                state.in_warnings = true;
                false
            }
            Marker::WarningsEnd => {
                state.in_warnings = false;
                false
            }
            Marker::Trailer => {
                if state.exit_code.is_none() {
                    state.exit_code = ENGINE
                        .exit_code
                        .captures(text)
                        .and_then(|c| c[1].parse().ok());
                }
                if state.trailer.is_none() {
                    state.trailer = Some(Evidence {
                        line: line_no,
                        text: text.to_owned(),
                    });
                }
                true
            }
        }
    }

    /// Concludes.
    pub fn finish(mut self) -> Diagnosis {
        if !self.buf.is_empty() {
            self.process(true);
        }
        let lines = self.lines_done;
        let state = std::mem::take(&mut self.state);
        let command = state.command.as_ref().map(|c| {
            c.text
                .trim_start_matches("# Executing command:")
                .trim()
                .to_owned()
        });
        let mut candidates = self.candidates;
        let primary_at = match candidates.first() {
            Some(first) if first.rule.wrapper => candidates
                .iter()
                .position(|c| {
                    !c.rule.wrapper && c.line > first.line && c.line - first.line <= WRAP_WINDOW
                })
                .unwrap_or(0),
            _ => 0,
        };
        let suspects = std::mem::take(&mut self.suspects).evidence();
        let suspected = candidates.is_empty() && !suspects.is_empty();
        let (rule, evidence, secondary) = if candidates.is_empty() {
            let rule = if state.exit_code == Some(137) {
                &catalogue::BUILD_INSTANCE_OOM
            } else {
                &catalogue::UNKNOWN
            };
            let mut evidence: Vec<Evidence> = state
                .command
                .iter()
                .chain(state.trailer.iter())
                .cloned()
                .chain(suspects)
                .collect();
            evidence.sort_by_key(|e| e.line);
            (rule, evidence, Vec::new())
        } else {
            let primary = candidates.remove(primary_at);
            let secondary = candidates
                .iter()
                .map(|c| Secondary {
                    category: c.rule.id.into(),
                    title: c.rule.title.into(),
                    line: c.line,
                })
                .collect();
            (primary.rule, primary.evidence, secondary)
        };
        let fix = if rule.id == catalogue::UNKNOWN.id {
            let what = match (&command, &state.phase) {
                (Some(c), Some(p)) => format!("The command `{c}` (phase {p})"),
                (Some(c), None) => format!("The command `{c}`"),
                _ => "The build".to_owned(),
            };
            let code = state
                .exit_code
                .map_or(String::new(), |c| format!(" with exit code {c}"));
            let shown = if suspected {
                " The lines that look most like an error are in the evidence."
            } else {
                ""
            };
            format!(
                "{what} failed{code}; the log names no known cause.{shown} {}",
                rule.fix
            )
        } else {
            rule.fix.to_owned()
        };
        Diagnosis {
            category: rule.id.into(),
            title: rule.title.into(),
            transient: rule.transient,
            fix,
            evidence,
            secondary,
            command,
            phase: state.phase,
            exit_code: state.exit_code,
            cut: self.cut,
            lines,
            bytes: self.bytes,
        }
    }
}

/// Amplify's own lines (the trailer, phase markers), never evidence.
fn is_boilerplate(text: &str) -> bool {
    text.starts_with("!!! ")
        || text.starts_with("# ")
        || text.starts_with("## ")
        || text == "Terminating logging..."
}

/// Diagnoses a whole log from a reader, in chunks.
pub fn diagnose_reader<R: Read>(mut reader: R) -> std::io::Result<Diagnosis> {
    let mut diagnoser = Diagnoser::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => diagnoser.feed(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(diagnoser.finish())
}

/// Diagnoses a log held in memory.
pub fn diagnose_bytes(log: &[u8]) -> Diagnosis {
    let mut diagnoser = Diagnoser::new();
    diagnoser.feed(log);
    diagnoser.finish()
}

/// The catalogue's trigger literals as extended regular expressions, one
/// per line (for comparing with `grep -E -f`).
pub fn trigger_patterns() -> Vec<String> {
    let mut out: Vec<String> = RULES
        .iter()
        .flat_map(|r| r.triggers.iter())
        .map(|t| ere_escape(t))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Escapes the characters special in a POSIX extended regular expression.
fn ere_escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len() + 4);
    for c in literal.chars() {
        if ".[]()*+?{}|^$\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
