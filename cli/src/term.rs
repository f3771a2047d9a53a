//! The terminal conventions of every command: progress on stderr only when
//! stderr is a terminal (silent in scripts and CI logs), colour only when
//! stdout is a terminal and `NO_COLOR` is not set (<https://no-color.org>),
//! times shown with their zone (UTC, or the machine's with `--local`), and
//! a closed pipe ending the program quietly, as any Unix tool does.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Local, Utc};

/// Makes a write to a closed pipe (`sentinel deployments | head`) end the
/// program with the usual SIGPIPE status, quietly, instead of a panic in
/// `println!` (Rust ignores SIGPIPE by default).
pub fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal at start,
    // before any thread is spawned; no handler runs our code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

static LOCAL: OnceLock<bool> = OnceLock::new();

/// `--local`: times in the machine's zone instead of UTC.
pub fn use_local_time(local: bool) {
    let _ = LOCAL.set(local);
}

/// `t` as `pattern`, followed by its zone (`UTC`, or the offset).
pub fn time(t: DateTime<Utc>, pattern: &str) -> String {
    if LOCAL.get().copied().unwrap_or(false) {
        let local = t.with_timezone(&Local);
        format!("{} {}", local.format(pattern), local.format("%:z"))
    } else {
        format!("{} UTC", t.format(pattern))
    }
}

/// Whether to colour what goes to stdout.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `text` in green (`ok`) or red, when colouring.
pub fn paint(text: &str, ok: bool) -> String {
    if !colour() {
        return text.to_owned();
    }
    let code = if ok { 32 } else { 31 };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// A spinner with what is being done, on stderr while it is a terminal;
/// nothing otherwise. Cleared when dropped.
pub struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    pub fn start(what: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(indicatif::ProgressStyle::default_spinner());
        bar.set_message(what.to_owned());
        bar.tick();
        bar.enable_steady_tick(Duration::from_millis(120));
        Self(Some(bar))
    }

    #[cfg(test)]
    pub fn shown(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_carry_their_zone() {
        let t = Utc.with_ymd_and_hms(2026, 11, 27, 8, 5, 0).unwrap();
        assert_eq!(time(t, "%Y-%m-%d %H:%M"), "2026-11-27 08:05 UTC");
    }

    #[test]
    fn progress_and_colour_only_on_a_terminal() {
        assert_eq!(
            Progress::start("working").shown(),
            std::io::stderr().is_terminal()
        );
        assert_eq!(paint("✓", true) == "✓", !colour());
    }
}
