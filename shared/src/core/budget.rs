//! Size budgets: every free-text field has one, enforced where the field is
//! first produced (a health reason, an alert's detail lines), and a last
//! guard shrinks whatever is about to cross an AWS limit — a DynamoDB item
//! (400 KB), an EventBridge entry (256 KB), an SNS message (256 KB) — so
//! that an oversized value is cut, never rejected. A rejected write is
//! non-retryable: the delivery would go to the DLQ and an unhealthy deploy
//! would get no verdict, no alert and no rollback.
//!
//! A cut keeps the start of the text and ends it with `…(cut, N bytes)`.
//! `docs/reliability.md` lists the budgets.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A reason (a health check's, per endpoint and for the verdict).
pub const REASON: usize = 1024;
/// A value quoted inside a reason (a JSON value a check did not expect).
pub const QUOTED_VALUE: usize = 200;
/// One line of a diagnosis's evidence, and how many lines an alert shows.
pub const EVIDENCE_LINE: usize = 500;
pub const EVIDENCE_LINES: usize = 20;
/// A commit message: its first line, at most this many characters.
pub const COMMIT_MESSAGE_CHARS: usize = 500;
/// One line of an alert's details, and how many lines it shows.
pub const DETAIL_LINE: usize = 500;
pub const DETAIL_LINES: usize = 30;
/// An alert's summary and fix paragraphs.
pub const PARAGRAPH: usize = 4 * 1024;
/// Endpoints kept in a health report.
pub const ENDPOINTS: usize = 50;

/// DynamoDB's limit on an item.
pub const DYNAMODB_ITEM_LIMIT: usize = 400 * 1024;
/// EventBridge's limit on an entry (detail, detail-type, source, …).
pub const EVENTBRIDGE_ENTRY_LIMIT: usize = 256 * 1024;
/// SNS's limit on a message (all protocols' bodies and attributes).
pub const SNS_MESSAGE_LIMIT: usize = 256 * 1024;

/// The last guard on an event's detail (JSON), well under EventBridge's
/// limit; a record's outbox holds a few of them.
pub const EVENT_DETAIL: usize = 64 * 1024;
/// The last guard on a deployment record without its outbox, which adds
/// at most [`OUTBOX`]: together well under DynamoDB's limit.
pub const RECORD: usize = 128 * 1024;
/// The last guard on a record's outbox, all entries together.
pub const OUTBOX: usize = 160 * 1024;
/// The last guard on each body of an SNS message (e-mail, chat), as JSON
/// text: two of them are well under SNS's limit.
pub const MESSAGE_BODY: usize = 96 * 1024;

/// `text` in at most `max` bytes: cut on a char boundary and marked
/// `…(cut, N bytes)` (N: the bytes removed).
pub fn truncate_to(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let marker_len = marker(text.len()).len();
    if max < marker_len {
        return text[..floor_boundary(text, max)].to_owned();
    }
    let keep = floor_boundary(text, max - marker_len);
    format!("{}{}", &text[..keep], marker(text.len() - keep))
}

/// [`truncate_to`] in place.
pub fn truncate_in_place(text: &mut String, max: usize) {
    if text.len() > max {
        *text = truncate_to(text, max);
    }
}

/// At most `count` lines of at most `max` bytes each; the cut lines are
/// replaced by one saying how many.
pub fn lines(lines: &mut Vec<String>, count: usize, max: usize) {
    for line in lines.iter_mut() {
        truncate_in_place(line, max);
    }
    if lines.len() > count {
        let dropped = lines.len() - count.saturating_sub(1);
        lines.truncate(count.saturating_sub(1));
        lines.push(format!("…(cut, {dropped} more lines)"));
    }
}

/// Text whose JSON encoding (quotes and escapes included) takes at most
/// `max` bytes.
pub fn truncate_json_text(text: &str, max: usize) -> String {
    let mut out = text.to_owned();
    let mut budget = max.saturating_sub(2);
    for _ in 0..32 {
        let encoded = json_len(&out);
        if encoded <= max {
            return out;
        }
        budget = budget.saturating_sub(encoded - max).min(out.len() / 2 + 64);
        out = truncate_to(text, budget);
    }
    truncate_to(text, max / 6)
}

/// Shrinks `value` until its JSON text takes at most `max` bytes: the
/// longest strings are cut first, then the longest arrays. Answers whether
/// it fits.
pub fn shrink_json(value: &mut Value, max: usize) -> bool {
    for _ in 0..256 {
        let size = json_len(value);
        if size <= max {
            return true;
        }
        let excess = size - max;
        let longest = longest_string(value).map_or(0, |s| s.len());
        if longest > 256 {
            let s = longest_string(value).expect("a longest string");
            // Cut at least the excess (plus the marker), at most half.
            let keep = s
                .len()
                .saturating_sub(excess + 32)
                .max(s.len() / 2)
                .min(s.len() - 1);
            *s = truncate_to(s, keep);
        } else if let Some(array) = longest_array(value).filter(|a| a.len() > 1) {
            let keep = array.len() / 2;
            array.truncate(keep);
        } else {
            return false;
        }
    }
    json_len(value) <= max
}

/// `item` shrunk to at most `max` bytes of JSON, or `None` when it fits
/// already (or cannot be shrunk into a valid `T`).
pub fn fit<T: Serialize + DeserializeOwned>(item: &T, max: usize) -> Option<T> {
    let mut value = serde_json::to_value(item).ok()?;
    if json_len(&value) <= max {
        return None;
    }
    shrink_json(&mut value, max);
    serde_json::from_value(value).ok()
}

/// A serialized JSON detail (an event's) shrunk to at most `max` bytes, as
/// JSON again: never cut as text, which would leave it unreadable.
pub fn fit_json_text(detail: &str, max: usize) -> String {
    if detail.len() <= max {
        return detail.to_owned();
    }
    match serde_json::from_str::<Value>(detail) {
        Ok(mut value) => {
            shrink_json(&mut value, max);
            value.to_string()
        }
        Err(_) => detail.to_owned(),
    }
}

/// The JSON text of `detail` within `max` bytes.
pub fn json_detail<T: Serialize>(detail: &T, max: usize) -> Option<String> {
    let mut value = serde_json::to_value(detail).ok()?;
    shrink_json(&mut value, max);
    Some(value.to_string())
}

/// The length of `value`'s JSON text.
pub fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

fn marker(cut: usize) -> String {
    format!("…(cut, {cut} bytes)")
}

fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn longest_string(value: &mut Value) -> Option<&mut String> {
    match value {
        Value::String(s) => Some(s),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(longest_string)
            .max_by_key(|s| s.len()),
        Value::Object(map) => map
            .values_mut()
            .filter_map(longest_string)
            .max_by_key(|s| s.len()),
        _ => None,
    }
}

/// The JSON pointer of the array (of more than one item) whose text is
/// the longest.
fn biggest_array(value: &Value, path: &str, best: &mut Option<(usize, String)>) {
    match value {
        Value::Array(items) => {
            if items.len() > 1 {
                let size = json_len(value);
                if best.as_ref().is_none_or(|(b, _)| *b < size) {
                    *best = Some((size, path.to_owned()));
                }
            }
            for (i, item) in items.iter().enumerate() {
                biggest_array(item, &format!("{path}/{i}"), best);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let key = k.replace('~', "~0").replace('/', "~1");
                biggest_array(v, &format!("{path}/{key}"), best);
            }
        }
        _ => {}
    }
}

fn longest_array(value: &mut Value) -> Option<&mut Vec<Value>> {
    let mut best = None;
    biggest_array(value, "", &mut best);
    let (_, path) = best?;
    value.pointer_mut(&path)?.as_array_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_cuts_on_a_char_boundary_and_says_so() {
        assert_eq!(truncate_to("short", 10), "short");
        let long = "é".repeat(1000);
        let cut = truncate_to(&long, 100);
        assert!(cut.len() <= 100, "{}", cut.len());
        assert!(cut.ends_with(" bytes)"), "{cut}");
        assert!(cut.contains("…(cut, "));
        assert!(cut.starts_with("éé"));
        assert_eq!(truncate_to(&long, 3).len(), 2);
    }

    #[test]
    fn json_text_budget_counts_escapes() {
        let quotes = "\"".repeat(10_000);
        let cut = truncate_json_text(&quotes, 1000);
        assert!(json_len(&cut) <= 1000, "{}", json_len(&cut));
    }

    #[test]
    fn shrinking_cuts_the_longest_string_first_and_arrays_last() {
        let mut v = serde_json::json!({"id": "abc", "big": "x".repeat(100_000), "small": "y"});
        assert!(shrink_json(&mut v, 2000));
        assert!(json_len(&v) <= 2000);
        assert_eq!(v["id"], "abc");
        assert_eq!(v["small"], "y");
        let mut many = serde_json::json!({"ids": (0..50_000).collect::<Vec<_>>()});
        assert!(shrink_json(&mut many, 10_000));
        assert!(json_len(&many) <= 10_000);
    }

    #[test]
    fn a_detail_stays_json() {
        let detail = serde_json::json!({"reason": "z".repeat(300_000)}).to_string();
        let fitted = fit_json_text(&detail, EVENT_DETAIL);
        assert!(fitted.len() <= EVENT_DETAIL);
        let back: Value = serde_json::from_str(&fitted).unwrap();
        assert!(back["reason"].as_str().unwrap().contains("…(cut, "));
    }
}
