//! Sending a message once: the decision over the branch's alert state and
//! the queued, claimed message are one conditional write; the message is
//! sent, then settled (removed, or its claim released for the retry).

use chrono::{DateTime, Duration, Utc};
use tracing::info;

use crate::alert::message::{Content, Context, render};
use crate::alert::ports::{AlertStore, Notifier};
use crate::alert::{AlertState, Decision, Severity, Signal};
use crate::core::budget;
use crate::core::error::{Error, StoreError};
use crate::effects::{Decided, read_decide_write};
use crate::stack::Stack;

use super::alerter::{AlertOutcome, Alerter};

impl<K: Stack> Alerter<'_, K> {
    /// Decides, queues (claimed) and publishes the message for one event.
    pub(super) async fn alert(
        &self,
        event_id: &str,
        ctx: Context,
        content: Content,
        signal: Signal,
        category: Option<String>,
    ) -> Result<AlertOutcome, Error> {
        let content = within_budget(content);
        let policy = self.policy(&ctx.app_id, &ctx.branch_name).await?;
        let now = Utc::now();
        let claimer = claimer_id();
        let (mut state, decided) = read_decide_write(
            async || {
                Ok(self
                    .store
                    .get_alert_state(&ctx.app_id, &ctx.branch_name)
                    .await?
                    .unwrap_or_else(|| {
                        AlertState::new(
                            ctx.app_id.clone(),
                            ctx.branch_name.clone(),
                            ctx.environment,
                        )
                    }))
            },
            |state| {
                let decision = state.decide(event_id, &signal, now, &policy);
                let mut to_send = Vec::new();
                let mut held_back = false;
                if decision == Decision::Duplicate {
                    // An earlier delivery may have queued its message and died.
                    to_send = orphans(state, event_id, now, &claimer);
                    if to_send.is_empty() {
                        return Ok(Decided::Keep(None));
                    }
                } else if decision.sends() {
                    let severity = if matches!(decision, Decision::Resolved(_)) {
                        Severity::Info
                    } else {
                        content.severity
                    };
                    let resolved_muted =
                        matches!(decision, Decision::Resolved(_)) && !policy.send_resolved;
                    if !resolved_muted {
                        if state.admit(severity, now, &policy) {
                            if let Some(n) =
                                render(event_id, &ctx, &content, &decision, state.suppressed)
                            {
                                to_send.push(n.id.clone());
                                state.enqueue(n, now + CLAIM, &claimer);
                            }
                        } else {
                            held_back = true;
                        }
                    }
                }
                for id in &to_send {
                    if let Some(p) = state.outbox.get_mut(id) {
                        p.claimed_until = Some(now + CLAIM);
                        p.claimed_by = Some(claimer.clone());
                    }
                }
                let decision = if held_back { None } else { Some(decision) };
                Ok(Decided::Write(Some((decision, to_send))))
            },
            async |state| self.store.save_alert_state(state).await,
        )
        .await?;
        let Some((decision, to_send)) = decided else {
            return Ok(AlertOutcome {
                decision: "duplicate".into(),
                sent: 0,
                category,
            });
        };
        let decision_name = decision.as_ref().map_or("held-back", name).to_owned();
        let mut sent = Vec::new();
        for id in &to_send {
            let Some(pending) = state.outbox.get(id) else {
                continue;
            };
            match self.notifier.notify(&pending.notification).await {
                Ok(()) => {
                    info!(id = %id, subject = %pending.notification.subject, "alert sent");
                    sent.push(id.clone());
                }
                Err(e) => {
                    // Release the claim so that the retry sends it at once.
                    self.settle(&mut state, &sent, to_send.as_slice()).await?;
                    return Err(e.into());
                }
            }
        }
        self.settle(&mut state, &sent, &[]).await?;
        Ok(AlertOutcome {
            decision: decision_name,
            sent: sent.len(),
            category,
        })
    }

    /// Removes sent messages from the outbox and releases `unclaim`'s claims.
    async fn settle(
        &self,
        state: &mut AlertState,
        sent: &[String],
        unclaim: &[String],
    ) -> Result<(), Error> {
        if sent.is_empty() && unclaim.is_empty() {
            return Ok(());
        }
        // The first attempt writes the state this delivery holds; a conflict
        // re-reads it.
        let mut held = Some(state.clone());
        let (app, branch) = (state.app_id.clone(), state.branch_name.clone());
        let (settled, ()) = read_decide_write(
            async || match held.take() {
                Some(state) => Ok(state),
                None => Ok(self
                    .store
                    .get_alert_state(&app, &branch)
                    .await?
                    .ok_or_else(|| StoreError::Unavailable("alert state vanished".into()))?),
            },
            |state| {
                for id in sent {
                    state.outbox.remove(id);
                }
                for id in unclaim {
                    if let Some(p) = state.outbox.get_mut(id) {
                        p.claimed_until = None;
                        p.claimed_by = None;
                    }
                }
                Ok(Decided::Write(()))
            },
            async |state| self.store.save_alert_state(state).await,
        )
        .await?;
        *state = settled;
        Ok(())
    }
}

/// Messages of this event left queued by a delivery that did not finish
/// (its claim has run out), or claimed by this very delivery in a write
/// whose answer was lost (the retried write then conflicts with itself).
fn orphans(state: &AlertState, event_id: &str, now: DateTime<Utc>, claimer: &str) -> Vec<String> {
    state
        .outbox
        .iter()
        .filter(|(id, p)| {
            (id.as_str() == event_id || id.starts_with(&format!("{event_id}/")))
                && (p.claimed_until.is_none_or(|until| until <= now)
                    || p.claimed_by.as_deref() == Some(claimer))
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// Unique per call of `alert` in this process and across processes.
fn claimer_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// How long an invocation owns a queued message before another delivery of
/// the same event may send it.
const CLAIM: Duration = Duration::seconds(60);

fn name(decision: &Decision) -> &'static str {
    match decision {
        Decision::Duplicate => "duplicate",
        Decision::Stale => "stale",
        Decision::Opened(_) => "opened",
        Decision::Reminder(_) => "reminder",
        Decision::Joined(_) => "joined",
        Decision::Resolved(_) => "resolved",
        Decision::NothingOpen => "nothing-open",
        Decision::Notice => "notice",
    }
}

/// What an alert says, within the budgets of its free text (the event's
/// reason, a site's answer, evidence), before the message is rendered.
fn within_budget(mut content: Content) -> Content {
    budget::truncate_in_place(&mut content.summary, budget::PARAGRAPH);
    if let Some(fix) = &mut content.fix {
        budget::truncate_in_place(fix, budget::PARAGRAPH);
    }
    budget::lines(
        &mut content.details,
        budget::DETAIL_LINES,
        budget::DETAIL_LINE,
    );
    content.evidence.truncate(budget::EVIDENCE_LINES);
    for e in &mut content.evidence {
        budget::truncate_in_place(&mut e.text, budget::EVIDENCE_LINE);
    }
    content
}
