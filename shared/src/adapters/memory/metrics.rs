//! CloudWatch and the health checker's delayed steps, in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::lock;
use crate::core::bake::{Alarm, AlarmState, Figures};
use crate::core::error::{MetricsError, PublishError};
use crate::core::model::AppId;
use crate::ports::{BakeSteps, HostingMetrics, RetryQueue};

type Window = (DateTime<Utc>, DateTime<Utc>);
/// An alarm's state and when it entered it.
type AlarmEntry = (AlarmState, Option<DateTime<Utc>>);

/// Figures per window: a window given no figures reads as one without
/// datapoints (as CloudWatch answers for a quiet or unknown app).
#[derive(Default)]
pub struct MemoryMetrics {
    windows: Mutex<BTreeMap<Window, Figures>>,
    /// Any window not set: these figures (`None`: no datapoints).
    pub default: Mutex<Option<Figures>>,
    alarms: Mutex<BTreeMap<String, AlarmEntry>>,
    /// Every window read, in order (one GetMetricData each).
    pub reads: Mutex<Vec<Window>>,
    pub alarm_reads: Mutex<usize>,
    /// The next window reads fail with this.
    pub fail_next: Mutex<Option<MetricsError>>,
}

impl MemoryMetrics {
    pub fn set_window(&self, from: DateTime<Utc>, to: DateTime<Utc>, figures: Figures) {
        lock(&self.windows).insert((from, to), figures);
    }

    pub fn set_default(&self, figures: Option<Figures>) {
        *lock(&self.default) = figures;
    }

    /// `name` in `state`, with no time of entry (as an emulator may answer).
    pub fn set_alarm(&self, name: &str, state: AlarmState) {
        lock(&self.alarms).insert(name.to_owned(), (state, None));
    }

    /// `name` in `state` since `since`.
    pub fn set_alarm_since(&self, name: &str, state: AlarmState, since: DateTime<Utc>) {
        lock(&self.alarms).insert(name.to_owned(), (state, Some(since)));
    }

    pub fn reads(&self) -> Vec<Window> {
        lock(&self.reads).clone()
    }
}

impl HostingMetrics for MemoryMetrics {
    async fn hosting_figures(
        &self,
        _app_id: &AppId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Figures, MetricsError> {
        if let Some(e) = lock(&self.fail_next).take() {
            return Err(e);
        }
        lock(&self.reads).push((from, to));
        Ok(lock(&self.windows)
            .get(&(from, to))
            .copied()
            .or(*lock(&self.default))
            .unwrap_or_default())
    }

    async fn alarm_states(&self, names: &[String]) -> Result<Vec<Alarm>, MetricsError> {
        *lock(&self.alarm_reads) += 1;
        let alarms = lock(&self.alarms);
        Ok(names
            .iter()
            .map(|n| {
                let (state, since) = alarms
                    .get(n)
                    .copied()
                    .unwrap_or((AlarmState::Missing, None));
                Alarm::new(n, state, since)
            })
            .collect())
    }
}

/// The delayed messages sent, with their delay.
#[derive(Default)]
pub struct MemorySteps {
    pub sent: Mutex<Vec<(String, u32)>>,
}

impl MemorySteps {
    pub fn sent(&self) -> Vec<(String, u32)> {
        lock(&self.sent).clone()
    }
}

impl BakeSteps for MemorySteps {
    async fn schedule(&self, body: &str, delay_seconds: u32) -> Result<(), PublishError> {
        lock(&self.sent).push((body.to_owned(), delay_seconds));
        Ok(())
    }
}

/// The alerter's delayed GitHub retries: what was sent, with its delay.
#[derive(Default)]
pub struct MemoryRetries {
    pub sent: Mutex<Vec<(String, u32)>>,
    /// The next sends fail (SQS unavailable).
    pub fail: Mutex<bool>,
}

impl MemoryRetries {
    pub fn sent(&self) -> Vec<(String, u32)> {
        lock(&self.sent).clone()
    }
}

impl RetryQueue for MemoryRetries {
    async fn send_retry(&self, body: &str, delay_seconds: u32) -> Result<(), PublishError> {
        if *lock(&self.fail) {
            return Err(PublishError::Unavailable("SQS unavailable".into()));
        }
        lock(&self.sent).push((body.to_owned(), delay_seconds));
        Ok(())
    }
}
