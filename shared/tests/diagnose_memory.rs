//! The diagnosis engine's memory stays constant whatever the log's size: a
//! 200 MB log, generated on the fly (never held), with its cause near the
//! end, is diagnosed while a counting allocator records the peak of live
//! heap bytes.

use std::io::Read;

use sentinel_shared::diagnose::diagnose_reader;
use sentinel_shared::measure::{self, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A build log of `total` bytes: noise (with colours, CRLF, warnings and a
/// very long line now and then), then the cause and the trailer.
struct GeneratedLog {
    total: usize,
    produced: usize,
    line: usize,
    pending: Vec<u8>,
    /// Bytes of a very long line still to produce (never held whole).
    long_remaining: usize,
    tail: Option<Vec<u8>>,
}

impl GeneratedLog {
    fn new(total: usize) -> Self {
        let tail = [
            "2023-07-28T05:58:08.801Z [INFO]: > next build",
            "2023-07-28T05:58:08.802Z [INFO]: <--- Last few GCs --->",
            "2023-07-28T05:58:08.803Z [INFO]: FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
            "2023-07-28T05:58:08.810Z [ERROR]: !!! Build failed",
            "2023-07-28T05:58:08.810Z [ERROR]: !!! Error: Command failed with exit code 134",
            "Terminating logging...",
        ]
        .join("\n")
            + "\n";
        Self {
            total,
            produced: 0,
            line: 0,
            pending: Vec::with_capacity(256),
            long_remaining: 0,
            tail: Some(tail.into_bytes()),
        }
    }

    fn next_line(&mut self) {
        self.line += 1;
        let n = self.line;
        self.pending.clear();
        let text = match n % 5 {
            0 => format!(
                "2023-07-28T05:57:{:02}.000Z [INFO]: \x1b[32m✓\x1b[0m Compiled module {n} in 12ms\r\n",
                n % 60
            ),
            1 => format!(
                "2023-07-28T05:57:{:02}.000Z [WARNING]: npm WARN deprecated pkg-{n}@1.0.0: use something else\n",
                n % 60
            ),
            2 if n % 100_000 == 2 => {
                self.long_remaining = 2 * 1024 * 1024;
                "\n".to_owned()
            }
            _ => format!(
                "2023-07-28T05:57:{:02}.000Z [INFO]: added package {n} to the tree, resolving peers and fetching tarballs\n",
                n % 60
            ),
        };
        self.pending.extend_from_slice(text.as_bytes());
    }
}

impl Read for GeneratedLog {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.long_remaining > 0 {
            let n = buf.len().min(self.long_remaining);
            buf[..n].fill(b'x');
            self.long_remaining -= n;
            self.produced += n;
            return Ok(n);
        }
        if self.pending.is_empty() {
            if self.produced < self.total {
                self.next_line();
            } else if let Some(tail) = self.tail.take() {
                self.pending = tail;
            } else {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        self.produced += n;
        Ok(n)
    }
}

#[test]
fn a_200_mb_log_is_diagnosed_in_constant_memory() {
    let size = 200 * 1024 * 1024;
    let before = measure::start();
    let diagnosis = diagnose_reader(GeneratedLog::new(size)).unwrap();
    let peak = measure::peak_since(before);
    assert_eq!(diagnosis.category, "node-heap-oom");
    assert!(diagnosis.bytes > size as u64);
    assert!(
        diagnosis.evidence[0].line > 1_000_000,
        "{:?}",
        diagnosis.evidence
    );
    // The engine's buffer (256 KiB), the reader's chunk (64 KiB), the
    // automaton and regexes, and small change: far under the 32 MB the
    // issue allows, and independent of the log's size.
    let bound = 3 * 1024 * 1024;
    eprintln!("peak heap while diagnosing {size} bytes: {peak} bytes");
    assert!(peak < bound, "peak heap {peak} bytes is over {bound}");
}
