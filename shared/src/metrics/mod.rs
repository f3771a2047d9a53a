//! Delivery metrics: the DORA keys and build figures of a window
//! (`dora`), CloudWatch Embedded Metric Format lines (`emf`), and early
//! warnings of degradation (`warnings`); how fine the metrics are
//! (`dimensions`).

pub mod dora;
pub mod emf;
pub mod event_metrics;
pub mod reaction;
pub mod warnings;

#[cfg(test)]
mod tests;
