//! CloudFormation in memory: stacks and their events a test sets up (by
//! stack id and by name), served newest first in pages like the real API.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::core::error::CloudFormationError;
use crate::ports::{CloudFormationApi, StackEvent, StackEventsPage, StackInfo};

use super::{lock, take_one};

/// Stacks by id; events by stack id, in any order (served newest first).
#[derive(Default)]
pub struct MemoryCloudFormation {
    pub stacks: Mutex<HashMap<String, StackInfo>>,
    pub events: Mutex<HashMap<String, Vec<StackEvent>>>,
    /// Events per page (DescribeStackEvents answers 100 at most).
    pub page_size: Option<usize>,
    /// The next calls fail as unavailable.
    pub fail_next: AtomicUsize,
    pub calls: AtomicUsize,
}

impl MemoryCloudFormation {
    pub fn put_stack(&self, stack: StackInfo) {
        lock(&self.stacks).insert(stack.stack_id.clone(), stack);
    }

    pub fn push_events(&self, events: impl IntoIterator<Item = StackEvent>) {
        let mut all = lock(&self.events);
        for e in events {
            all.entry(e.stack_id.clone()).or_default().push(e);
        }
    }

    /// The stack `name_or_id` names: its id, or the live stack of that name.
    fn resolve(&self, name_or_id: &str) -> Option<StackInfo> {
        let stacks = lock(&self.stacks);
        stacks.get(name_or_id).cloned().or_else(|| {
            stacks
                .values()
                .find(|s| s.stack_name == name_or_id && !s.status.starts_with("DELETE_COMPLETE"))
                .cloned()
        })
    }

    fn begin(&self) -> Result<(), CloudFormationError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if take_one(&self.fail_next) {
            return Err(CloudFormationError::Unavailable("injected".into()));
        }
        Ok(())
    }
}

fn missing(stack: &str) -> CloudFormationError {
    CloudFormationError::NotFound(format!("Stack with id {stack} does not exist"))
}

impl CloudFormationApi for MemoryCloudFormation {
    async fn describe_stack(&self, stack: &str) -> Result<StackInfo, CloudFormationError> {
        self.begin()?;
        self.resolve(stack).ok_or_else(|| missing(stack))
    }

    async fn stack_events(
        &self,
        stack: &str,
        next_token: Option<&str>,
    ) -> Result<StackEventsPage, CloudFormationError> {
        self.begin()?;
        let info = self.resolve(stack).ok_or_else(|| missing(stack))?;
        let mut events = lock(&self.events)
            .get(&info.stack_id)
            .cloned()
            .unwrap_or_default();
        events.sort_by(|a, b| (b.timestamp, &b.event_id).cmp(&(a.timestamp, &a.event_id)));
        let start: usize = match next_token {
            Some(t) => t
                .parse()
                .map_err(|_| CloudFormationError::Rejected(format!("bad NextToken {t}")))?,
            None => 0,
        };
        let size = self.page_size.unwrap_or(100).max(1);
        let end = (start + size).min(events.len());
        Ok(StackEventsPage {
            events: events.get(start..end).unwrap_or_default().to_vec(),
            next_token: (end < events.len()).then(|| end.to_string()),
        })
    }
}
