//! The stream engine: a failed build's log fed in chunks into a buffer of
//! constant size, searched per buffer, each line holding a literal checked
//! against the rules; candidates, survived warnings and the log's tail are
//! what it keeps. [`Diagnoser::finish`] (in `report`) concludes.

use std::collections::VecDeque;
use std::io::Read;

use crate::core::redact::mask_in_text;
use crate::core::verdicts::Evidence;

use super::catalogue::{Marker, RULES, Rule};
use super::engine::{ENGINE, Kind};
use super::link;
use super::suspect::Tail;
use super::text::{self, Level, clean, is_boilerplate, is_frame};

/// The most bytes held at once, whatever the log's size; a line longer than
/// this is examined in pieces.
pub const BUFFER: usize = 256 * 1024;

/// How far from a wrapper symptom a specific cause takes precedence, or a
/// connection error becomes its evidence.
pub(super) const WRAP_WINDOW: u64 = 40;

/// How many survived warnings are remembered for a symptom still to come
/// (the latest).
pub(super) const SURVIVED: usize = 16;

/// One cause found, with its evidence.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub(super) rule: &'static Rule,
    pub(super) line: u64,
    pub(super) evidence: Vec<Evidence>,
    pub(super) phase_seq: u32,
}

/// A warning the build survived, remembered in case a later symptom is
/// its consequence.
#[derive(Debug)]
pub(super) struct Survivor {
    pub(super) rule: &'static Rule,
    pub(super) line: u64,
    pub(super) import: link::MissingImport,
    pub(super) evidence: Evidence,
}

/// Lines still wanted after a candidate's line, as its evidence.
#[derive(Debug, Clone, Copy)]
pub(super) struct After {
    pub(super) candidate: usize,
    pub(super) wanted: usize,
    /// The candidate's level: a line of another level comes from the other
    /// stream (stdout is `[INFO]`, stderr `[WARNING]`), not from its error.
    pub(super) level: Level,
}

/// Where the engine is in the log.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) phase: Option<String>,
    pub(super) phase_seq: u32,
    pub(super) command: Option<Evidence>,
    pub(super) in_warnings: bool,
    pub(super) caching: bool,
    pub(super) trailer: Option<Evidence>,
    /// Amplify's first `CustomerError` line, for the fallback's evidence.
    pub(super) platform: Option<Evidence>,
    /// The last `TypeError: … is not a function`, for a wrapper after it.
    pub(super) last_symptom: Option<Evidence>,
    pub(super) exit_code: Option<i32>,
}

/// A streaming diagnosis: [`feed`](Self::feed) the log in chunks of any size
/// (or [`read_from`](Self::read_from) a reader), then
/// [`finish`](Self::finish).
#[derive(Debug)]
pub struct Diagnoser {
    /// The bytes not yet examined are `buf[..len]`; allocated once, at the
    /// buffer's size ([`BUFFER`] unless a test asks for less).
    pub(super) buf: Box<[u8]>,
    pub(super) len: usize,
    /// Complete lines before `buf[0]`.
    pub(super) lines_done: u64,
    pub(super) bytes: u64,
    /// The last complete line before `buf[0]` (capped), for context.
    pub(super) prev_tail: Vec<u8>,
    /// `buf[0]` is in the middle of a line: the line before it filled the
    /// whole buffer and was examined as far as it went.
    pub(super) mid_line: bool,
    /// A candidate still waiting for lines after it.
    pub(super) pending_after: Option<After>,
    pub(super) state: State,
    pub(super) candidates: Vec<Candidate>,
    /// Warnings the build survived that a symptom may still link to.
    pub(super) survived: VecDeque<Survivor>,
    /// The end of the log examined so far, for `unknown`'s suspects.
    pub(super) tail: Tail,
    /// Why the reader stopped before the log's end, if it did.
    pub(super) cut: Option<String>,
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
    pub(super) fn process(&mut self, eof: bool) {
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
}
