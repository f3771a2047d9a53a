//! The bake's rules (pure) and its steps against in-memory ports, by what
//! they decide; here the figures, policies and world they share.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::analysis::{self, Limits};
use super::reaction::{BAKE_STEP, BakeStepEvent, Baker, StepResult, plan};
use super::{BakePolicy, Number};
use crate::adapters::memory::{InMemory, MemoryMetrics, MemoryPublisher, MemorySteps, MemoryStore};
use crate::core::bake::{
    Alarm, AlarmState, BakeOutcome, BakeRecord, BakeStep, Baseline, Figures, StepOutcome,
};
use crate::core::deployment::{Deployment, DeploymentKey, HealthRecord};
use crate::core::events::detail_type;
use crate::core::model::{Environment, JobId};
use crate::core::verdicts::Verdict;
use crate::policy::PolicyStore;
use crate::ports::{BranchPointer, DeploymentStore};

mod alarms;
mod interval;
mod outcome;
mod policy;
mod steps;

fn figures(requests: u64, errors_5xx: u64, p90: u64) -> Figures {
    Figures {
        requests,
        errors_5xx,
        errors_4xx: 0,
        errors_5xx_missing: false,
        p90_latency_ms: Some(p90),
        datapoints: 5,
    }
}

fn on() -> BakePolicy {
    BakePolicy {
        enabled: true,
        duration_minutes: 15,
        interval_minutes: 5,
        ..BakePolicy::default()
    }
}

/// The bake on, and its limits over a quiet baseline.
fn on_quiet() -> (BakePolicy, Limits) {
    let p = on();
    let l = analysis::limits(&p, &quiet_baseline());
    (p, l)
}

fn quiet_baseline() -> Baseline {
    Baseline {
        before_deploy: figures(3_000, 3, 120),
        week_ago: figures(2_800, 0, 110),
        alarms: Vec::new(),
    }
}

struct World {
    store: MemoryStore,
    publisher: MemoryPublisher,
    metrics: MemoryMetrics,
    steps: MemorySteps,
    bake: BakeRecord,
}

fn key(n: u64) -> DeploymentKey {
    DeploymentKey::of("main", n)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 30).unwrap()
}

impl World {
    /// The branch's last known good job.
    async fn last_known_good(&self) -> Option<JobId> {
        self.store
            .get_branch_state(&key(2).app_id, &key(2).branch_name)
            .await
            .unwrap()
            .last_known_good_job
    }

    /// Step 1 ends the bake as superseded, publishing nothing.
    async fn stops_without_verdict(&self) {
        assert_eq!(
            self.step(1).await,
            StepResult::Finished(BakeOutcome::Superseded)
        );
        assert!(self.publisher.detail_types().is_empty());
    }

    /// A bake watching the alarm `checkout-errors`.
    async fn watching_checkout_errors() -> Self {
        Self::new(BakePolicy {
            alarms: vec!["checkout-errors".into()],
            ..on()
        })
        .await
    }

    /// Job 2 live and Healthy by its probes, its bake planned at `t0`;
    /// job 1 the last known good.
    async fn new(policy: BakePolicy) -> Self {
        let store = MemoryStore::default();
        let mut branch_policy = crate::policy::BranchPolicy::default();
        branch_policy.health.bake = policy.clone();
        store
            .put_policy(&key(2).app_id, Some(&key(2).branch_name), &branch_policy)
            .await
            .unwrap();
        for n in [1, 2] {
            store
                .advance_pointer(&key(n), Some("c0ffee0"), BranchPointer::Live)
                .await
                .unwrap();
        }
        store
            .advance_pointer(&key(1), Some("c0ffee0"), BranchPointer::LastKnownGood)
            .await
            .unwrap();
        // Deployed 20 s before the probes' verdict.
        let bake = plan(&policy, Some(t0() - Duration::seconds(20)), t0());
        let mut d = Deployment::new(key(2), Environment::Prod);
        d.health = Some(HealthRecord {
            verdict: Verdict::Healthy,
            reason: "2 consecutive rounds passed".into(),
            url: "https://main.d1abc.amplifyapp.com/".into(),
            checked_at: t0(),
            rounds: 2,
            endpoints: Vec::new(),
        });
        d.bake = Some(bake.clone());
        store.save_deployment(&d).await.unwrap();
        let metrics = MemoryMetrics::default();
        metrics.set_default(Some(figures(1_000, 1, 120)));
        Self {
            store,
            publisher: MemoryPublisher::default(),
            metrics,
            steps: MemorySteps::default(),
            bake,
        }
    }

    fn baker(&self) -> Baker<'_, InMemory, MemoryMetrics, MemorySteps> {
        Baker {
            store: &self.store,
            publisher: &self.publisher,
            metrics: &self.metrics,
            steps: &self.steps,
            region: "eu-west-1",
        }
    }

    /// Delivers step `n` just after its window settled.
    async fn step(&self, n: u32) -> StepResult {
        let (_, to) = self.bake.window(n);
        let event = BakeStepEvent {
            app_id: key(2).app_id,
            branch_name: key(2).branch_name,
            job_id: JobId::new(2),
            step: n,
        };
        self.baker()
            .on_step(&event, to + Duration::seconds(61))
            .await
            .unwrap()
    }

    async fn record(&self) -> Deployment {
        self.store.get_deployment(&key(2)).await.unwrap().unwrap()
    }
}
