//! The cleanup reaction: reads the inventory and Amplify, reconciles stuck
//! and missed jobs through ingest, and applies the plan. The one file of the
//! feature that talks to ports.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::plan::{
    AmplifyView, ChangeKind, REPORT_ENDS_WITHIN_HOURS, Retention, plan, reconciliation_event, stuck,
};
use super::report::{CLEANUP_COMPLETED, OWNER_CLEANUP, Report};
use crate::cleanup::ports::{CleanupStore, ItemKey, StoredEntry, StoredItem};
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{AmplifyError, CloudFormationError, Error};
use crate::core::events::OWNER_HEALTH;
use crate::core::model::{AppId, BuildStatus, Environment, Source};
use crate::core::scope::Scope;
use crate::core::transitions::Observation;
use crate::effects::{self, Decided, read_decide_write};
use crate::health::bake::{BakePolicy, overdue};
use crate::ingest::reaction::Ingest;
use crate::ingest::stack_event::{self, StackStatusMeaning};
use crate::ingest::stack_operation::{Operation, read_operation};
use crate::ports::{AmplifyApi, DeploymentStore, EventPublisher};
use crate::stack::Stack;

/// ListJobs looks at this many recent jobs per branch.
pub const RECENT_JOBS: usize = 20;

pub struct Cleanup<'a, K: Stack> {
    pub store: &'a K::Store,
    pub amplify: &'a K::Amplify,
    /// A watched stack's operation stuck in Started is reconciled with its
    /// events.
    pub cloudformation: &'a K::CloudFormation,
    pub publisher: &'a K::Publisher,
    pub environment: Environment,
    pub retention: Retention,
    /// The apps whose branches are reconciled (empty: every app).
    /// The stack's watch scope: only its apps' branches are reconciled,
    /// and only its branches' jobs.
    pub scope: &'a Scope,
    /// Limits the whole run to these apps' items and branches (empty: the
    /// whole table). For an operator cleaning one app, and for tests that
    /// share a table.
    pub only_apps: &'a [AppId],
    pub dry_run: bool,
}

/// Deployments whose bake runs past its end, or was ended by an earlier
/// run whose event is still in the record's outbox.
fn unfinished_bakes(entries: &[StoredEntry], now: DateTime<Utc>) -> Vec<&Deployment> {
    entries
        .iter()
        .filter_map(|e| match &e.item {
            StoredItem::Deployment(d) => Some(d.as_ref()),
            _ => None,
        })
        .filter(|d| {
            let running = d.bake.as_ref().is_some_and(|b| overdue::overdue(b, now));
            let unpublished = d.bake.is_some() && d.outbox.contains_key(&d.key.event_id("bake"));
            running || unpublished
        })
        .collect()
}

/// The app an item belongs to, if it belongs to one.
fn app_of(item: &StoredItem) -> Option<&AppId> {
    match item {
        StoredItem::Deployment(d) => Some(&d.key.app_id),
        StoredItem::BranchState { app_id, .. } => Some(app_id),
        StoredItem::Alerts(a) => Some(&a.app_id),
        StoredItem::Rollback(r) => Some(&r.app_id),
        StoredItem::Snapshot(_) | StoredItem::Claim | StoredItem::Other => None,
    }
}

impl<K: Stack> Cleanup<'_, K>
where
    K::Store: CleanupStore,
{
    pub async fn run(&self, now: DateTime<Utc>) -> Result<Report, Error> {
        let mut report = Report {
            event_id: format!(
                "cleanup/{}/{}",
                self.environment,
                now.format("%Y-%m-%dT%H:%M")
            ),
            environment: Some(self.environment),
            dry_run: self.dry_run,
            ..Report::default()
        };
        let mut entries = self.store.inventory().await?;
        report.items_scanned = entries.len();
        if !self.only_apps.is_empty() {
            entries.retain(|e| app_of(&e.item).is_some_and(|a| self.only_apps.contains(a)));
        }
        let view = self.amplify_view(&entries).await?;

        let mut handled = HashSet::new();
        for d in stuck(&entries, now) {
            if !self.scope.covers(&d.key.app_id, &d.key.branch_name) {
                continue;
            }
            handled.insert(d.key.clone());
            self.reconcile_stuck(d, now, &mut report).await?;
        }
        self.ingest_missed(&entries, &view, &handled, now, &mut report)
            .await?;
        for d in unfinished_bakes(&entries, now) {
            if self.scope.covers(&d.key.app_id, &d.key.branch_name) {
                self.conclude_bake(d, now, &mut report).await?;
            }
        }

        let plan = plan(&entries, self.environment, self.retention, &view, now);
        report.count(&plan);
        if !self.dry_run {
            for c in &plan.changes {
                let key = ItemKey {
                    pk: c.pk.clone(),
                    sk: c.sk.clone(),
                };
                match (c.action.clone(), c.expires_at) {
                    (ChangeKind::ExtendExpiry, Some(at)) => self.store.set_expiry(&key, at).await?,
                    (ChangeKind::ExtendExpiry, None) => {}
                    _ => self.store.delete_item(&key).await?,
                }
            }
            if let Some(entry) = crate::core::outbox::entry(
                &report.event_id,
                OWNER_CLEANUP,
                CLEANUP_COMPLETED,
                &report,
            ) {
                self.publisher.publish(&[entry]).await?;
            }
        }
        tracing::info!(
            dry_run = self.dry_run,
            scanned = report.items_scanned,
            changes = report.changes.len(),
            reconciled = report.stuck_reconciled + report.missed_ingested,
            timed_out = report.timed_out,
            "cleanup"
        );
        Ok(report)
    }

    /// ListApps, then ListBranches of the watched apps and of every listed
    /// app the table holds state for.
    async fn amplify_view(&self, entries: &[StoredEntry]) -> Result<AmplifyView, Error> {
        let listed: BTreeSet<AppId> = self.amplify.list_apps().await?.into_iter().collect();
        let mut wanted: BTreeSet<AppId> = self.watched().into_iter().collect();
        let listed: BTreeSet<AppId> = if self.only_apps.is_empty() {
            listed
        } else {
            listed
                .into_iter()
                .filter(|a| self.only_apps.contains(a))
                .collect()
        };
        for e in entries {
            if let StoredItem::BranchState { app_id, .. } = &e.item {
                wanted.insert(app_id.clone());
            }
            if let StoredItem::Alerts(a) = &e.item {
                wanted.insert(a.app_id.clone());
            }
            if let StoredItem::Rollback(r) = &e.item {
                wanted.insert(r.app_id.clone());
            }
        }
        let mut view = AmplifyView::default();
        for app in &listed {
            let branches = if wanted.contains(app) {
                match self.amplify.list_branches(app).await {
                    Ok(b) => b.into_iter().collect(),
                    // Deleted between the two calls.
                    Err(AmplifyError::NotFound(_)) => BTreeSet::new(),
                    Err(e) => return Err(e.into()),
                }
            } else {
                BTreeSet::new()
            };
            view.apps.insert(app.clone(), branches);
        }
        Ok(view)
    }

    fn watched(&self) -> Vec<AppId> {
        if self.only_apps.is_empty() {
            self.scope.apps().to_vec()
        } else {
            self.only_apps.to_vec()
        }
    }

    fn ingest(&self) -> Ingest<'_, K> {
        Ingest {
            store: self.store,
            amplify: self.amplify,
            publisher: self.publisher,
            environment: self.environment,
        }
    }

    async fn reconcile_stuck(
        &self,
        d: &Deployment,
        now: DateTime<Utc>,
        report: &mut Report,
    ) -> Result<(), Error> {
        let key = &d.key;
        let name = format!("{}/{}/{}", key.app_id, key.branch_name, key.job_id);
        if key.app_id.source() == Source::CloudFormation {
            return self.reconcile_stack(d, &name, now, report).await;
        }
        if key.app_id.source() == Source::Report {
            // No one to ask: the script that reported its start never
            // reported its end (it died, or forgot) within a day.
            report.timed_out += 1;
            report.reconciled.push(format!(
                "{name}: no end reported within {REPORT_ENDS_WITHIN_HOURS} h; marked timed out"
            ));
            if !self.dry_run {
                self.mark_timed_out(key, now).await?;
            }
            return Ok(());
        }
        match self.amplify.get_job(key).await {
            Ok(job) => match job.status {
                Some(status) if status.is_terminal() => {
                    report.stuck_reconciled += 1;
                    report.reconciled.push(format!(
                        "{name}: stuck in {}, Amplify says {status}",
                        d.status
                    ));
                    if !self.dry_run {
                        let at = job.end_time.unwrap_or(now);
                        self.ingest()
                            .ingest(&reconciliation_event(key, status, at))
                            .await?;
                    }
                }
                _ => report.stuck_still_running += 1,
            },
            Err(AmplifyError::NotFound(_)) => {
                report.timed_out += 1;
                report
                    .reconciled
                    .push(format!("{name}: Amplify has no such job; marked timed out"));
                if !self.dry_run {
                    self.mark_timed_out(key, now).await?;
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// A stack operation stuck in Started: its events say how it ended (a
    /// missed event is ingested under a deterministic id), that it still
    /// runs, or — stack or operation gone — it is marked timed out.
    async fn reconcile_stack(
        &self,
        d: &Deployment,
        name: &str,
        now: DateTime<Utc>,
        report: &mut Report,
    ) -> Result<(), Error> {
        let key = &d.key;
        let started = i64::try_from(key.job_id.number()).unwrap_or(i64::MAX);
        let found = match read_operation(
            self.cloudformation,
            key.app_id.name(),
            Operation::StartedAt(started),
        )
        .await
        {
            Ok(found) => found,
            Err(CloudFormationError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let Some((_, events)) = found else {
            report.timed_out += 1;
            report.reconciled.push(format!(
                "{name}: CloudFormation has no such operation; marked timed out"
            ));
            if !self.dry_run {
                self.mark_timed_out(key, now).await?;
            }
            return Ok(());
        };
        let ended = events.iter().rev().find_map(|e| {
            let StackStatusMeaning::Record(status) = stack_event::meaning(&e.resource_status, None)
            else {
                return None;
            };
            (e.is_stack_level() && status.is_terminal()).then_some((e, status))
        });
        let Some((last, status)) = ended else {
            report.stuck_still_running += 1;
            return Ok(());
        };
        report.stuck_reconciled += 1;
        report.reconciled.push(format!(
            "{name}: stuck in {}, CloudFormation says {}",
            d.status, last.resource_status
        ));
        if !self.dry_run {
            let observation = Observation {
                event_id: format!(
                    "reconcile/{}/{}/{}/{}",
                    key.app_id,
                    key.branch_name,
                    key.job_id.padded(),
                    last.resource_status
                ),
                status,
                at: last.timestamp,
            };
            let stored = self.store.get_deployment(key).await?;
            if !stored
                .as_ref()
                .is_some_and(|s| s.has_seen(&observation.event_id))
            {
                self.ingest().record(key, stored, observation, None).await?;
            }
        }
        Ok(())
    }

    /// A bake still running past its end (a step whose message was lost
    /// or dead-lettered never came back): ended Inconclusive, its event
    /// published and so alerted. A conclusion whose event did not go out
    /// (the publish failed) is published by the next run.
    async fn conclude_bake(
        &self,
        d: &Deployment,
        now: DateTime<Utc>,
        report: &mut Report,
    ) -> Result<(), Error> {
        let key = &d.key;
        if d.bake.as_ref().is_some_and(|b| overdue::overdue(b, now)) {
            report.bakes_concluded += 1;
            report.reconciled.push(format!(
                "{}/{}/{}: bake still running past its end; ended inconclusive",
                key.app_id, key.branch_name, key.job_id
            ));
        }
        if self.dry_run || self.store.get_deployment(key).await?.is_none() {
            return Ok(());
        }
        // The cleanup reads no policy (its role's keys are BRANCH#… and
        // METRICS#… only): the evidence's baseline is chosen by the default
        // bake rules; every figure comes from the record.
        let policy = BakePolicy::default();
        let record =
            effects::update(self.store, key, |d| Ok(overdue::conclude(d, &policy, now))).await?;
        effects::flush(self.store, self.publisher, &record, OWNER_HEALTH).await?;
        Ok(())
    }

    async fn mark_timed_out(&self, key: &DeploymentKey, now: DateTime<Utc>) -> Result<(), Error> {
        read_decide_write(
            async || Ok(self.store.get_deployment(key).await?),
            |record: &mut Option<Deployment>| {
                Ok(match record {
                    // Absent (removed since the inventory), ended or already
                    // marked: the job is no longer stuck.
                    Some(d) if !d.status.is_terminal() && d.timed_out_at.is_none() => {
                        d.timed_out_at = Some(now);
                        Decided::Write(())
                    }
                    _ => Decided::Keep(()),
                })
            },
            async |record| match record {
                Some(d) => self.store.save_deployment(d).await,
                // Unreachable: only a present record is decided `Write`.
                None => Ok(()),
            },
        )
        .await?;
        Ok(())
    }

    async fn ingest_missed(
        &self,
        entries: &[StoredEntry],
        view: &AmplifyView,
        handled: &HashSet<DeploymentKey>,
        now: DateTime<Utc>,
        report: &mut Report,
    ) -> Result<(), Error> {
        let recorded: HashMap<&DeploymentKey, &Deployment> = entries
            .iter()
            .filter_map(|e| match &e.item {
                StoredItem::Deployment(d) => Some((&d.key, d.as_ref())),
                _ => None,
            })
            .collect();
        let oldest = now - Duration::days(i64::from(self.retention.deployment_days));
        let watched = self.watched();
        for (app, branches) in &view.apps {
            if !watched.is_empty() && !watched.contains(app) {
                continue;
            }
            for branch in branches.iter().filter(|b| self.scope.covers(app, b)) {
                let jobs = match self.amplify.list_jobs(app, branch, RECENT_JOBS).await {
                    Ok(jobs) => jobs,
                    Err(AmplifyError::NotFound(_)) => continue,
                    Err(e) => return Err(e.into()),
                };
                for job in jobs {
                    let key = DeploymentKey {
                        app_id: app.clone(),
                        branch_name: branch.clone(),
                        job_id: job.job_id,
                    };
                    // Never bring back what retention removed.
                    if job.start_time.is_some_and(|t| t < oldest) || handled.contains(&key) {
                        continue;
                    }
                    let known = recorded.get(&key).map(|d| &d.status);
                    let missing = match known {
                        None => true,
                        Some(status) => job.status.is_terminal() && *status != job.status,
                    };
                    if !missing || matches!(job.status, BuildStatus::Unknown(_)) {
                        continue;
                    }
                    report.missed_ingested += 1;
                    report.reconciled.push(format!(
                        "{app}/{branch}/{}: {} by Amplify, {} here",
                        job.job_id,
                        job.status,
                        known.map_or("not recorded".to_owned(), |s| s.to_string())
                    ));
                    if !self.dry_run {
                        let at = if job.status.is_terminal() {
                            job.end_time
                        } else {
                            job.start_time
                        };
                        self.ingest()
                            .ingest(&reconciliation_event(
                                &key,
                                job.status.clone(),
                                at.unwrap_or(now),
                            ))
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }
}
