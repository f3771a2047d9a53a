//! The build-log classifier (`diagnose`): streaming diagnosis of arbitrary
//! bytes.
//!
//! Beyond "no panic":
//! - the result is always a catalogue category with a title and a fix;
//! - secondary causes are catalogue categories too;
//! - byte and line counts match the input; evidence lines exist;
//! - feeding the log in arbitrary chunks (as `diagnose_reader` does from
//!   S3) gives exactly the same diagnosis as one `diagnose_bytes` call.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sentinel_shared::diagnose::{Diagnoser, catalogue, diagnose_bytes, diagnose_reader};

/// A reader returning the log in the chunk sizes the first input bytes pick.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: &'a [u8],
    turn: usize,
}

impl std::io::Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = if self.sizes.is_empty() {
            7
        } else {
            usize::from(self.sizes[self.turn % self.sizes.len()]).max(1)
        };
        self.turn += 1;
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let d = diagnose_bytes(data);

    let rule = catalogue::by_id(&d.category)
        .unwrap_or_else(|| panic!("category {:?} is not in the catalogue", d.category));
    assert_eq!(d.title, rule.title);
    assert_eq!(d.transient, rule.transient);
    assert!(!d.title.trim().is_empty(), "empty title for {}", d.category);
    assert!(!d.fix.trim().is_empty(), "no fix for {}", d.category);
    for s in &d.secondary {
        assert!(
            catalogue::by_id(&s.category).is_some(),
            "secondary {:?} not in the catalogue",
            s.category
        );
    }

    assert_eq!(d.bytes, data.len() as u64);
    let newlines = memchr_count(data);
    assert!(
        d.lines <= newlines + 1,
        "{} lines in {newlines} newlines",
        d.lines
    );
    for e in &d.evidence {
        assert!(
            e.line >= 1 && e.line <= newlines + 1,
            "evidence line {} outside 1..={}",
            e.line,
            newlines + 1
        );
    }

    // Chunking never changes the verdict.
    let split = data.len().min(8);
    let (sizes, _) = data.split_at(split);
    let chunked = diagnose_reader(Chunked {
        data,
        sizes,
        turn: 0,
    })
    .expect("reading from memory cannot fail");
    assert_eq!(chunked, d, "chunked feed changed the diagnosis");

    let mut streaming = Diagnoser::new();
    for piece in data.chunks(97) {
        streaming.feed(piece);
    }
    assert_eq!(
        streaming.finish(),
        d,
        "Diagnoser::feed in 97-byte pieces differs"
    );
});

fn memchr_count(data: &[u8]) -> u64 {
    data.iter().filter(|&&b| b == b'\n').count() as u64
}
