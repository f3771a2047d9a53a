//! Builds that should not run, over the in-memory adapters: superseded
//! builds (no GitHub) and the monorepo path filter with the lead time's
//! first commit (GitHub's compare scripted).

use chrono::{Duration, TimeZone};

use super::*;
use crate::adapters::memory::{
    GitHubCall, InMemory, MemoryAmplify, MemoryGitHub, MemoryPublisher, MemorySecrets, MemoryStore,
};
use crate::core::deployment::JobDetails;
use crate::github::api::{CommitInfo, Comparison, GitHubError};
use crate::ports::BranchPointer;
use crate::rollback::ports::RollbackStore;

mod lead_time;
mod paths;
mod superseded;

const BASE: &str = "1111111111111111111111111111111111111111";
const HEAD: &str = "2222222222222222222222222222222222222222";

struct World {
    store: MemoryStore,
    amplify: MemoryAmplify,
    publisher: MemoryPublisher,
    secrets: MemorySecrets,
    github: MemoryGitHub,
}

fn key(job: u64) -> DeploymentKey {
    DeploymentKey::of("main", job)
}

fn at(secs: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + secs, 0).unwrap()
}

impl World {
    /// Job 6 (a push of BASE) and job 7 (a push of HEAD), both started.
    async fn two_pushes(&self) {
        self.job(6, BuildStatus::Started, "WEB_HOOK", BASE).await;
        self.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    }

    /// A branch of an app connected to `acme/shop`, with `policy`.
    async fn new(policy: &str, app_root: Option<&str>) -> Self {
        let amplify = MemoryAmplify::with_branch(&key(1), |_| {});
        {
            let mut apps = amplify.apps.lock().unwrap();
            let app = apps.get_mut("d1abc").unwrap();
            app.repository = Some("https://github.com/acme/shop".into());
            if let Some(root) = app_root {
                app.environment_variables
                    .insert("AMPLIFY_MONOREPO_APP_ROOT".into(), root.into());
            }
        }
        let w = Self {
            store: MemoryStore::default(),
            amplify,
            publisher: MemoryPublisher::default(),
            secrets: MemorySecrets::default(),
            github: MemoryGitHub::default(),
        };
        if !policy.is_empty() {
            let policy = BranchPolicy::parse(policy, "p.yaml").unwrap();
            w.store
                .put_policy(&key(1).app_id, Some(&key(1).branch_name), &policy)
                .await
                .unwrap();
        }
        w
    }

    /// Job `n` of the branch as Amplify lists it and as ingest recorded it
    /// (a started job's record, with its commit).
    async fn job(&self, n: u64, status: BuildStatus, job_type: &str, commit: &str) {
        self.amplify.jobs.lock().unwrap().insert(
            ("d1abc".into(), "main".into(), n),
            JobDetails {
                commit_id: Some(commit.into()),
                job_type: Some(job_type.into()),
                status: Some(status.clone()),
                ..Default::default()
            },
        );
        let mut d = Deployment::new(key(n), Environment::Prod);
        d.details.commit_id = Some(commit.into());
        d.details.commit_time = Some(at(n as i64 * 100));
        d.details.job_type = Some(job_type.into());
        for s in [BuildStatus::Started, status] {
            d.apply(Observation {
                event_id: format!("amplify-{n}-{s}"),
                status: s,
                at: at(n as i64 * 100 + 10),
            });
        }
        d.outbox.clear();
        self.store.save_deployment(&d).await.unwrap();
    }

    /// "Build Started" of job `n`, delivered.
    async fn started(
        &self,
        n: u64,
        stack: Enforcement,
        github: bool,
    ) -> Result<ValidationOutcome, Error> {
        let mut d = self.record(n).await;
        d.status = BuildStatus::Started;
        let event = BuildEvent::from_deployment(&d).unwrap();
        Validator::<InMemory> {
            store: &self.store,
            amplify: &self.amplify,
            secrets: &self.secrets,
            publisher: &self.publisher,
            github: github.then_some(&self.github),
            environment: Environment::Prod,
            enforcement: stack,
        }
        .on_build_started(&event)
        .await
    }

    async fn record(&self, n: u64) -> Deployment {
        self.store.get_deployment(&key(n)).await.unwrap().unwrap()
    }

    fn stopped(&self) -> Vec<u64> {
        self.amplify
            .stopped
            .lock()
            .unwrap()
            .iter()
            .map(|k| k.job_id.number())
            .collect()
    }

    fn published(&self, detail_type: &str) -> Vec<serde_json::Value> {
        self.publisher
            .published
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.detail_type == detail_type)
            .map(|e| serde_json::from_str(&e.detail).unwrap())
            .collect()
    }

    /// The branch's last deploy was `BASE`.
    async fn deployed(&self, commit: &str) {
        self.store
            .advance_pointer(&key(1), Some(commit), BranchPointer::Live)
            .await
            .unwrap();
    }
}

fn comparison(files: &[&str], truncated: bool) -> Comparison {
    Comparison {
        status: "ahead".into(),
        total_commits: 2,
        commits: [at(-3_600), at(-60)]
            .into_iter()
            .enumerate()
            .map(|(i, t)| CommitInfo {
                sha: format!("{i}{}", &HEAD[1..]),
                author_name: Some("dev".into()),
                author_login: None,
                authored_at: Some(t),
                committed_at: Some(t + Duration::seconds(5)),
            })
            .collect(),
        files: files.iter().map(|f| (*f).to_owned()).collect(),
        truncated,
    }
}

/// An app rooted at apps/web whose last deploy was BASE; job 7 builds HEAD.
async fn monorepo(policy: &str, answer: Result<Comparison, GitHubError>) -> World {
    let w = World::new(policy, Some("apps/web")).await;
    w.job(5, BuildStatus::Succeeded, "WEB_HOOK", BASE).await;
    w.deployed(BASE).await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.github.script_compare(BASE, HEAD, answer);
    w
}
