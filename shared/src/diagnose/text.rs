//! Turning one raw log line into readable text: CR and ANSI escape codes
//! removed, invalid UTF-8 replaced, Amplify's `timestamp [LEVEL]: ` prefix
//! taken off, and the length capped.

/// The longest evidence text kept for one line, in characters.
pub const MAX_TEXT_CHARS: usize = 300;

/// Amplify's level of a line (`[INFO]`, `[WARNING]`, `[ERROR]`), if it has
/// the timestamped prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
    /// A continuation line (no prefix).
    None,
}

/// Removes ANSI escape sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL`
/// or `ESC \`) and two-byte escapes.
pub fn strip_ansi(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !raw.contains(&0x1b) {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    strip_ansi_into(raw, &mut out);
    std::borrow::Cow::Owned(out)
}

/// [`strip_ansi`] into a buffer the caller reuses (cleared first).
pub fn strip_ansi_into(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while let Some(esc) = memchr::memchr(0x1b, &raw[i..]) {
        out.extend_from_slice(&raw[i..i + esc]);
        i += esc;
        i += escape_len(&raw[i..]);
    }
    out.extend_from_slice(&raw[i..]);
}

/// Removes ANSI escape sequences from many lines at once, in place, and
/// returns the new length. A sequence never takes a newline with it (a
/// malformed one ends at the line's end), so lines keep their count and
/// order.
pub fn strip_ansi_in_place(buf: &mut [u8]) -> usize {
    let Some(first) = memchr::memchr(0x1b, buf) else {
        return buf.len();
    };
    let mut write = first;
    let mut read = first;
    loop {
        read += escape_len(&buf[read..]);
        match memchr::memchr(0x1b, &buf[read..]) {
            Some(n) => {
                buf.copy_within(read..read + n, write);
                write += n;
                read += n;
            }
            None => {
                let n = buf.len() - read;
                buf.copy_within(read.., write);
                return write + n;
            }
        }
    }
}

/// The length of the escape sequence at the start of `bytes` (which starts
/// with ESC): CSI (`ESC [ … final`), OSC (`ESC ] … BEL` or `ESC \`),
/// `ESC ( B` and two-byte escapes; never past a newline.
fn escape_len(bytes: &[u8]) -> usize {
    let in_line = |i: usize| i < bytes.len() && bytes[i] != b'\n';
    match bytes.get(1) {
        Some(b'[') => {
            // Parameter and intermediate bytes, then one final byte.
            let mut i = 2;
            while in_line(i) {
                if (0x40..=0x7e).contains(&bytes[i]) {
                    return i + 1;
                }
                i += 1;
            }
            i
        }
        Some(b']') => {
            let mut i = 2;
            while in_line(i) {
                if bytes[i] == 0x07 {
                    return i + 1;
                }
                if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'\\') {
                    return i + 2;
                }
                i += 1;
            }
            i
        }
        // Intermediate bytes, then a final byte (`ESC ( B`).
        Some(0x20..=0x2f) => {
            let mut i = 2;
            while in_line(i) && (0x20..=0x2f).contains(&bytes[i]) {
                i += 1;
            }
            if in_line(i) { i + 1 } else { i }
        }
        Some(b'\n') | None => 1,
        Some(_) => 2,
    }
}

/// The line's readable text and Amplify level.
pub fn clean(raw: &[u8]) -> (Level, String) {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let bytes = strip_ansi(raw);
    let text = String::from_utf8_lossy(&bytes);
    let (level, rest) = split_prefix(&text);
    let rest = rest.trim_end();
    let capped: String = if rest.chars().count() > MAX_TEXT_CHARS {
        let mut s: String = rest.chars().take(MAX_TEXT_CHARS).collect();
        s.push('…');
        s
    } else {
        rest.to_owned()
    };
    (level, capped)
}

/// Splits `2023-07-28T05:58:08.810Z [INFO]: text` into its level and text;
/// continuation lines (leading spaces, no timestamp) lose their indentation.
fn split_prefix(line: &str) -> (Level, &str) {
    let bytes = line.as_bytes();
    let looks_timestamped = bytes.len() > 20
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[10] == b'T';
    if looks_timestamped && let Some(z) = line.find("Z [") {
        let after = &line[z + 3..];
        for (tag, level) in [
            ("INFO]:", Level::Info),
            ("WARNING]:", Level::Warning),
            ("ERROR]:", Level::Error),
        ] {
            if let Some(rest) = after.strip_prefix(tag) {
                return (level, rest.strip_prefix(' ').unwrap_or(rest));
            }
        }
    }
    (Level::None, line.trim_start())
}

/// A stack frame (`at render (/codebuild/…/page.js:1:3321)`): where the
/// error was, not what it was; never evidence.
pub(super) fn is_frame(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with("at ") && text.contains(':')
}

/// Amplify's own lines (the trailer, phase markers), never evidence.
pub(super) fn is_boilerplate(text: &str) -> bool {
    text.starts_with("!!! ")
        || text.starts_with("# ")
        || text.starts_with("## ")
        || text == "Terminating logging..."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ansi_and_crlf_are_removed() {
        let raw = b"2023-07-28T05:58:08.810Z [WARNING]: \x1b[31mnpm ERR!\x1b[39m code ERESOLVE\r";
        let (level, text) = clean(raw);
        assert_eq!(level, Level::Warning);
        assert_eq!(text, "npm ERR! code ERESOLVE");
    }

    #[test]
    fn continuation_lines_and_invalid_utf8() {
        let (level, text) =
            clean(b"                                 ## Starting Frontend Build \xff");
        assert_eq!(level, Level::None);
        assert_eq!(text, "## Starting Frontend Build \u{fffd}");
    }

    #[test]
    fn stripping_in_place_keeps_every_line() {
        let mut buf =
            b"a\x1b[31mb\x1b[0m\nc\x1b[1\nd\x1b]0;t\x07e\x1b\n\x1b[2Kf\x1b(Bg\r\n".to_vec();
        let n = strip_ansi_in_place(&mut buf);
        assert_eq!(&buf[..n], b"ab\nc\nde\nfg\r\n");
        let line = b"x\x1b[35mERE\x1b[0mSOLVE";
        let mut out = Vec::new();
        strip_ansi_into(line, &mut out);
        let mut in_place = line.to_vec();
        let n = strip_ansi_in_place(&mut in_place);
        assert_eq!(out, &in_place[..n]);
    }

    #[test]
    fn osc_sequences_and_long_lines() {
        let (_, text) = clean(b"\x1b]0;title\x07done");
        assert_eq!(text, "done");
        let long = vec![b'x'; 5000];
        let (_, text) = clean(&long);
        assert_eq!(text.chars().count(), MAX_TEXT_CHARS + 1);
    }
}
