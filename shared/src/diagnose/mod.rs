//! The diagnosis engine: reads a failed build's log as a stream and names
//! the root cause, its fix, and the evidence.
//!
//! How it stays fast and small:
//! - the log is fed in chunks ([`Diagnoser::feed`], or read straight into
//!   the buffer with [`Diagnoser::read_from`]) into a buffer of at most
//!   [`BUFFER`] bytes; nothing else grows with the log (at most one
//!   candidate per category and a few remembered warnings are kept), so
//!   memory is constant whatever its size;
//! - per buffer, not per line: ANSI escape codes (which can split a literal)
//!   are removed in place when `memchr` finds one, then Teddy, the SIMD
//!   searcher of `aho-corasick`, looks for rare fragments of every trigger
//!   and marker literal ([`finder`]); lines are counted with `memchr`. Only a
//!   line holding a literal is cleaned (CR, invalid UTF-8, Amplify's prefix)
//!   and checked against the rules' regexes.
//!
//! How it finds the root cause, not a symptom (`docs/diagnosis.md` has
//! examples):
//! - the generic trailer (`!!! Build failed`, `Command failed with exit
//!   code 1`) is never a cause, only the fallback's evidence; Amplify's own
//!   verdict (`!!! CustomerError: …`) is one, after a build that completed;
//! - warnings the build survived are not causes: inside a "Compiled with
//!   warnings" block, categories a compiler reports as warnings are
//!   remembered, not candidates; a line of any other category ends the
//!   block and counts. Candidates of a phase that later completed
//!   (`# Completed phase: build`) are dropped;
//! - a symptom (`TypeError: x is not a function`) that a remembered warning
//!   explains (`'x' is not exported from '…'`, the same name and module)
//!   makes that warning the cause, with both lines as evidence;
//! - a build image that cannot run the toolchain (`GLIBC_2.27 not found`)
//!   is the cause wherever it appears: what failed before it failed for
//!   that reason;
//! - the earliest remaining candidate wins, except that a wrapper symptom
//!   (a pre-render error) yields to a specific cause printed right after
//!   it, and takes a connection error next to it as its own evidence; the
//!   others are listed as secondary.

pub mod catalogue;
mod finder;
mod link;
pub mod stack;
mod suspect;
pub mod text;

pub use crate::core::verdicts::{Diagnosis, Evidence, Secondary};

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{LazyLock, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use regex::Regex;

use crate::core::redact::mask_in_text;
use catalogue::{MARKERS, Marker, RULES, Rule};
use finder::Finder;
use suspect::{Suspects, Tail};
use text::{Level, clean};

/// The most bytes held at once, whatever the log's size; a line longer than
/// this is examined in pieces.
pub const BUFFER: usize = 256 * 1024;

/// How far from a wrapper symptom a specific cause takes precedence, or a
/// connection error becomes its evidence.
const WRAP_WINDOW: u64 = 40;

/// How many survived warnings are remembered for a symptom still to come
/// (the latest).
const SURVIVED: usize = 16;

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
            from_report: false,
            bytes: 0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Rule(usize),
    Marker(Marker),
}

struct Engine {
    /// Finds the lines holding a literal: most lines hold none.
    finder: Finder,
    /// Names every literal a found line holds.
    automaton: AhoCorasick,
    kinds: Vec<Kind>,
    confirms: Vec<Lazy>,
    platforms: Vec<Lazy>,
    exit_code: Lazy,
}

/// A rule's regex, compiled on its first use: a log needs a few of them,
/// and compiling all of them would be most of the start-up.
struct Lazy {
    source: Option<&'static str>,
    regex: OnceLock<Regex>,
}

impl Lazy {
    fn new(source: Option<&'static str>) -> Self {
        Self {
            source,
            regex: OnceLock::new(),
        }
    }

    fn get(&self) -> Option<&Regex> {
        let source = self.source?;
        Some(
            self.regex
                .get_or_init(|| Regex::new(source).expect("catalogue regexes compile")),
        )
    }
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
    Engine {
        finder: Finder::new(&literals),
        // Run on found lines only: quick to build matters more than speed.
        automaton: AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&literals)
            .expect("the catalogue's literals build an automaton"),
        kinds,
        confirms: RULES.iter().map(|r| Lazy::new(r.confirm)).collect(),
        platforms: RULES.iter().map(|r| Lazy::new(r.platform)).collect(),
        exit_code: Lazy::new(Some(r"exit code:? (\d+)")),
    }
});

/// How the engine finds candidate lines on this machine (`teddy: …` or
/// `automaton`), for the benchmark's record.
pub fn searcher() -> String {
    ENGINE.finder.describe()
}

/// Compiles every rule's regexes now (they are otherwise compiled on first
/// use): a test's way to know they all compile.
pub fn compile_all() -> usize {
    ENGINE
        .confirms
        .iter()
        .chain(&ENGINE.platforms)
        .filter_map(Lazy::get)
        .count()
}

/// One cause found, with its evidence.
#[derive(Debug, Clone)]
struct Candidate {
    rule: &'static Rule,
    line: u64,
    evidence: Vec<Evidence>,
    phase_seq: u32,
}

/// A warning the build survived, remembered in case a later symptom is
/// its consequence.
#[derive(Debug)]
struct Survivor {
    rule: &'static Rule,
    line: u64,
    import: link::MissingImport,
    evidence: Evidence,
}

/// Lines still wanted after a candidate's line, as its evidence.
#[derive(Debug, Clone, Copy)]
struct After {
    candidate: usize,
    wanted: usize,
    /// The candidate's level: a line of another level comes from the other
    /// stream (stdout is `[INFO]`, stderr `[WARNING]`), not from its error.
    level: Level,
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
    /// Amplify's first `CustomerError` line, for the fallback's evidence.
    platform: Option<Evidence>,
    /// The last `TypeError: … is not a function`, for a wrapper after it.
    last_symptom: Option<Evidence>,
    exit_code: Option<i32>,
}

/// A streaming diagnosis: [`feed`](Self::feed) the log in chunks of any size
/// (or [`read_from`](Self::read_from) a reader), then
/// [`finish`](Self::finish).
#[derive(Debug)]
pub struct Diagnoser {
    /// The bytes not yet examined are `buf[..len]`; allocated once, at the
    /// buffer's size ([`BUFFER`] unless a test asks for less).
    buf: Box<[u8]>,
    len: usize,
    /// Complete lines before `buf[0]`.
    lines_done: u64,
    bytes: u64,
    /// The last complete line before `buf[0]` (capped), for context.
    prev_tail: Vec<u8>,
    /// `buf[0]` is in the middle of a line: the line before it filled the
    /// whole buffer and was examined as far as it went.
    mid_line: bool,
    /// A candidate still waiting for lines after it.
    pending_after: Option<After>,
    state: State,
    candidates: Vec<Candidate>,
    /// Warnings the build survived that a symptom may still link to.
    survived: VecDeque<Survivor>,
    /// The end of the log examined so far, for `unknown`'s suspects.
    tail: Tail,
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
        Self {
            buf: vec![0; bytes.max(256)].into_boxed_slice(),
            len: 0,
            lines_done: 0,
            bytes: 0,
            prev_tail: Vec::new(),
            mid_line: false,
            pending_after: None,
            state: State::default(),
            candidates: Vec::new(),
            survived: VecDeque::new(),
            tail: Tail::default(),
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
            let take = (self.buf.len() - self.len).min(data.len());
            self.buf[self.len..self.len + take].copy_from_slice(&data[..take]);
            self.len += take;
            data = &data[take..];
            if self.len == self.buf.len() {
                self.process(false);
            }
        }
    }

    /// Reads the next bytes of the log from `reader` straight into the
    /// buffer (one copy fewer than [`feed`](Self::feed)); how many were
    /// read, 0 at the end of the log.
    pub fn read_from<R: Read>(&mut self, reader: &mut R) -> std::io::Result<usize> {
        let n = loop {
            match reader.read(&mut self.buf[self.len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.len += n;
        self.bytes += n as u64;
        if self.len == self.buf.len() {
            self.process(false);
        }
        Ok(n)
    }

    /// Processes the buffer's complete lines (all of it at the end of the
    /// log, or when one line fills the whole buffer).
    fn process(&mut self, eof: bool) {
        let filled = self.len;
        let end = if eof {
            filled
        } else {
            memchr::memrchr(b'\n', &self.buf[..filled]).map_or(filled, |i| i + 1)
        };
        let mut buf = std::mem::take(&mut self.buf);
        // Escape codes can split a literal (`ERE\x1b[0mSOLVE`): they go
        // first, in place; lines keep their count and order.
        let kept = text::strip_ansi_in_place(&mut buf[..end]);
        let region = &buf[..kept];
        let newlines = self.scan(region);
        // The last complete line of the region, for the next one's context.
        if newlines > 0 {
            let body = &region[..region.len() - 1];
            let start = memchr::memrchr(b'\n', body).map_or(0, |i| i + 1);
            self.prev_tail.clear();
            self.prev_tail
                .extend_from_slice(&body[start..body.len().min(start + 1024)]);
        }
        self.tail.keep(region, self.lines_done + 1, newlines);
        self.lines_done += newlines;
        // A line longer than the buffer was examined up to the buffer's
        // end; what is left of it is not a line of its own.
        self.mid_line = !eof && end == filled && region.last().is_some_and(|&b| b != b'\n');
        buf.copy_within(end..filled, 0);
        self.len = filled - end;
        self.buf = buf;
    }

    /// Examines the lines of `region` that hold a literal; returns how many
    /// lines (newlines) the region has.
    fn scan(&mut self, region: &[u8]) -> u64 {
        let engine = &*ENGINE;
        // Lines still owed to the previous region's last candidate.
        if let Some(after) = self.pending_after.take() {
            if self.mid_line {
                // The rest of the line the candidate's evidence came from is
                // not a line after it: start at the next one.
                match memchr::memchr(b'\n', region) {
                    Some(i) => self.capture_after(region, i + 1, self.lines_done + 2, after),
                    None => self.pending_after = Some(after),
                }
            } else {
                self.capture_after(region, 0, self.lines_done + 1, after);
            }
        }
        let mut hits = engine.finder.hits(region);
        // Newlines in region[..counted_at].
        let mut counted = 0;
        let mut counted_at = 0;
        let mut pos = 0;
        while let Some(at) = hits.next_from(pos) {
            let start = memchr::memrchr(b'\n', &region[..at]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &region[at..]).map_or(region.len(), |i| at + i);
            counted += memchr::memchr_iter(b'\n', &region[counted_at..start]).count() as u64;
            counted_at = start;
            let line_no = self.lines_done + counted + 1;
            let tail = std::mem::take(&mut self.prev_tail);
            let prev: &[u8] = if start > 0 {
                let body = &region[..start - 1];
                &body[memchr::memrchr(b'\n', body).map_or(0, |i| i + 1)..]
            } else {
                &tail
            };
            let found = self.on_line(line_no, &region[start..end], prev);
            self.prev_tail = tail;
            if let Some(after) = found {
                self.capture_after(region, end + 1, line_no + 1, after);
            }
            pos = end + 1;
        }
        counted + memchr::memchr_iter(b'\n', &region[counted_at..]).count() as u64
    }

    /// Adds the lines wanted from `region[from..]` to a candidate's
    /// evidence (continuation lines and lines of its level, stack frames
    /// left out); what the region lacks is owed by the next one.
    fn capture_after(&mut self, region: &[u8], mut from: usize, mut line_no: u64, after: After) {
        let mut wanted = after.wanted;
        while wanted > 0 {
            if from >= region.len() {
                self.pending_after = Some(After { wanted, ..after });
                return;
            }
            let end = memchr::memchr(b'\n', &region[from..]).map_or(region.len(), |i| from + i);
            let (level, text) = clean(&region[from..end]);
            if level != Level::None && level != after.level {
                return;
            }
            if !text.is_empty() && !is_boilerplate(&text) && !is_frame(&text) {
                self.candidates[after.candidate].evidence.push(Evidence {
                    line: line_no,
                    text: mask_in_text(&text),
                });
                wanted -= 1;
            }
            from = end + 1;
            line_no += 1;
        }
    }

    /// Examines one line holding a literal. Returns a new candidate's wish
    /// for the lines that follow, as evidence.
    fn on_line(&mut self, line_no: u64, raw: &[u8], prev: &[u8]) -> Option<After> {
        let engine = &*ENGINE;
        // First, without cleaning: which literals does the line hold? Most
        // found lines are a marker that needs no text.
        let mut rules: Vec<usize> = Vec::new();
        let mut with_text: Vec<Marker> = Vec::new();
        let mut structural = false;
        for m in engine.automaton.find_overlapping_iter(raw) {
            match engine.kinds[m.pattern().as_usize()] {
                Kind::Rule(index) => rules.push(index),
                Kind::Marker(
                    marker @ (Marker::PhaseStarted
                    | Marker::Command
                    | Marker::Trailer
                    | Marker::Platform
                    | Marker::Symptom),
                ) => with_text.push(marker),
                Kind::Marker(marker) => {
                    structural |= self.on_marker(marker, line_no, "");
                }
            }
        }
        if rules.is_empty() && with_text.is_empty() {
            return None;
        }
        let (level, text) = clean(raw);
        let platform = with_text.contains(&Marker::Platform);
        for marker in with_text {
            match marker {
                Marker::Platform => {
                    self.state.platform.get_or_insert_with(|| Evidence {
                        line: line_no,
                        text: mask_in_text(&text),
                    });
                }
                Marker::Symptom => self.on_symptom(line_no, &text),
                marker => structural |= self.on_marker(marker, line_no, &text),
            }
        }
        if structural {
            return None;
        }
        rules.sort_unstable();
        rules.dedup();
        // Amplify's verdict needs no confirmation for the categories that
        // expect it (`platform`), and is classified by their pattern when
        // it holds none of their triggers.
        let trusted = |i: usize| platform && engine.platforms[i].source.is_some();
        let rule_index = rules
            .into_iter()
            .find(|&i| {
                let rule = &RULES[i];
                (!rule.caching_only || self.state.caching)
                    && !rule.exclude.iter().any(|x| text.contains(x))
                    && (trusted(i) || engine.confirms[i].get().is_none_or(|re| re.is_match(&text)))
            })
            .or_else(|| {
                platform
                    .then(|| {
                        engine
                            .platforms
                            .iter()
                            .position(|p| p.get().is_some_and(|re| re.is_match(&text)))
                    })
                    .flatten()
            })?;
        let rule = &RULES[rule_index];
        if self.state.in_warnings {
            if rule.warning {
                self.survive(rule, line_no, &text);
                return None;
            }
            // No compiler reports this as a warning: the block is over.
            self.state.in_warnings = false;
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
        // A wrapper printed under the error it wraps (`Failed to collect
        // page data` after the `TypeError`) shows that error too.
        if rule.wrapper
            && let Some(symptom) = &self.state.last_symptom
            && symptom.line < line_no
            && line_no - symptom.line <= WRAP_WINDOW
            && evidence.iter().all(|e| e.line != symptom.line)
        {
            evidence.insert(0, symptom.clone());
        }
        evidence.push(Evidence {
            line: line_no,
            text: mask_in_text(&text),
        });
        self.candidates.push(Candidate {
            rule,
            line: line_no,
            evidence,
            // Amplify's verdict comes after the phases: no phase's end
            // drops it.
            phase_seq: if platform {
                u32::MAX
            } else {
                self.state.phase_seq
            },
        });
        Some(After {
            candidate: self.candidates.len() - 1,
            wanted: rule.after,
            level,
        })
    }

    /// Remembers a warning the build survived, if a later symptom could be
    /// linked to it.
    fn survive(&mut self, rule: &'static Rule, line_no: u64, text: &str) {
        let Some(import) = link::missing_import(text) else {
            return;
        };
        if self.survived.len() == SURVIVED {
            self.survived.pop_front();
        }
        self.survived.push_back(Survivor {
            rule,
            line: line_no,
            import,
            evidence: Evidence {
                line: line_no,
                text: mask_in_text(text),
            },
        });
    }

    /// A `TypeError: … is not a function`: a runtime failure (so no longer a
    /// compile warnings block), and the consequence of a survived warning
    /// that names the same import, which becomes the cause.
    fn on_symptom(&mut self, line_no: u64, text: &str) {
        self.state.in_warnings = false;
        let symptom = Evidence {
            line: line_no,
            text: mask_in_text(text),
        };
        self.state.last_symptom = Some(symptom.clone());
        let Some(call) = link::failed_call(text) else {
            return;
        };
        let Some(at) = self
            .survived
            .iter()
            .rposition(|s| link::explains(&s.import, &call))
        else {
            return;
        };
        let Some(survivor) = self.survived.remove(at) else {
            return;
        };
        if self
            .candidates
            .iter()
            .any(|c| c.rule.id == survivor.rule.id)
        {
            return;
        }
        self.candidates.push(Candidate {
            rule: survivor.rule,
            line: survivor.line,
            evidence: vec![survivor.evidence, symptom],
            phase_seq: self.state.phase_seq,
        });
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
                self.candidates.retain(|c| c.phase_seq != seq);
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
                        .get()
                        .and_then(|re| re.captures(text))
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
            // Handled by `on_line` with the line's text.
            Marker::Platform | Marker::Symptom => false,
        }
    }

    /// Concludes.
    pub fn finish(mut self) -> Diagnosis {
        if self.len > 0 {
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
        // A linked warning is found after the lines that follow it.
        candidates.sort_by_key(|c| c.line);
        absorb_connection_errors(&mut candidates);
        let environment = candidates.iter().position(|c| c.rule.environment);
        let primary_at = match (environment, candidates.first()) {
            (Some(at), _) => at,
            (None, Some(first)) if first.rule.wrapper => candidates
                .iter()
                .position(|c| {
                    !c.rule.wrapper && c.line > first.line && c.line - first.line <= WRAP_WINDOW
                })
                .unwrap_or(0),
            _ => 0,
        };
        let suspects = if candidates.is_empty() {
            suspects(&self.tail)
        } else {
            Vec::new()
        };
        let suspected = !suspects.is_empty();
        let (rule, evidence, secondary) = if candidates.is_empty() {
            let rule = if state.exit_code == Some(137) {
                &catalogue::BUILD_INSTANCE_OOM
            } else {
                &catalogue::UNKNOWN
            };
            let mut evidence: Vec<Evidence> = state
                .command
                .iter()
                .chain(state.platform.iter())
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
            from_report: false,
            bytes: self.bytes,
        }
    }
}

/// The lines of the log's end that look most like an error, after the last
/// phase that completed and outside warning blocks, Amplify's own lines
/// and stack frames.
fn suspects(tail: &Tail) -> Vec<Evidence> {
    let engine = &*ENGINE;
    let mut suspects = Suspects::default();
    let mut in_warnings = false;
    for (raw, line_no) in tail.lines() {
        let mut structural = false;
        for m in engine.automaton.find_overlapping_iter(raw) {
            match engine.kinds[m.pattern().as_usize()] {
                Kind::Marker(Marker::WarningsStart) => in_warnings = true,
                Kind::Marker(Marker::WarningsEnd | Marker::Symptom) => in_warnings = false,
                Kind::Marker(Marker::PhaseCompleted) => {
                    suspects.forget();
                    structural = true;
                }
                Kind::Marker(Marker::PhaseStarted | Marker::Command | Marker::Trailer) => {
                    in_warnings = false;
                    structural = true;
                }
                _ => {}
            }
        }
        if structural || in_warnings {
            continue;
        }
        let (_, text) = clean(raw);
        if !text.is_empty() && !is_boilerplate(&text) && !is_frame(&text) {
            suspects.offer(line_no, raw);
        }
    }
    suspects.evidence()
}

/// A connection error within a wrapper's window (a page that failed to
/// pre-render, or its data that failed to load) is that page's data source
/// failing, often the app's own API that does not run at build time: the
/// wrapper's evidence, not a transient cause that a retry would fix.
fn absorb_connection_errors(candidates: &mut Vec<Candidate>) {
    let mut i = 0;
    while i < candidates.len() {
        let near =
            |w: &Candidate| w.rule.wrapper && w.line.abs_diff(candidates[i].line) <= WRAP_WINDOW;
        let Some(w) = (candidates[i].rule.transient)
            .then(|| candidates.iter().position(near))
            .flatten()
        else {
            i += 1;
            continue;
        };
        let absorbed = candidates.remove(i);
        let wrapper = &mut candidates[if w > i { w - 1 } else { w }];
        let root = absorbed
            .evidence
            .into_iter()
            .find(|e| e.line == absorbed.line);
        if let Some(root) = root
            && wrapper.evidence.iter().all(|e| e.line != root.line)
        {
            wrapper.evidence.push(root);
            wrapper.evidence.sort_by_key(|e| e.line);
        }
    }
}

/// A stack frame (`at render (/codebuild/…/page.js:1:3321)`): where the
/// error was, not what it was; never evidence.
fn is_frame(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with("at ") && text.contains(':')
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
    while diagnoser.read_from(&mut reader)? > 0 {}
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
