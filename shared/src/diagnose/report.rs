//! Building the report: what the stream engine kept (candidates, survived
//! warnings, the log's tail) concluded into one [`Diagnosis`]: the root
//! cause among the candidates, its evidence and fix, the secondary causes,
//! or, when no rule matched, the lines that look most like an error.

use crate::core::redact::mask_in_text;
use crate::core::verdicts::{Diagnosis, Evidence, Secondary};

use super::catalogue::{self, Marker};
use super::engine::{ENGINE, Kind};
use super::stream::{Candidate, Diagnoser, WRAP_WINDOW};
use super::suspect::{Suspects, Tail};
use super::text::{clean, is_boilerplate, is_frame};

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

impl Diagnoser {
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
