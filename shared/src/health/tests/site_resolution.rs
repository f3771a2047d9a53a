//! The reaction's choice of site over the in-memory Amplify: a custom
//! domain where users reach the branch, Amplify's domain as the fallback,
//! the policy's choice and URL. The stack's template `/_sites/{host}/`
//! points every host at a local server, as on the local stack.

use std::sync::Mutex;

use super::*;
use crate::adapters::memory::{InMemory, MemoryAmplify, MemoryPublisher, MemoryStore};
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{AmplifyError, Error};
use crate::core::model::{BuildStatus, Environment, JobId};
use crate::health::reaction::HealthChecker;
use crate::policy::BranchPolicy;
use crate::policy::PolicyStore;
use crate::ports::{DeploymentStore, DomainAssociation, SubDomain};

/// (path, Authorization) of every request the site got.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct World {
    store: MemoryStore,
    amplify: MemoryAmplify,
    publisher: MemoryPublisher,
    template: String,
    outbound: Outbound,
    seen: Seen,
    key: DeploymentKey,
}

impl World {
    async fn new(domains: Vec<DomainAssociation>, policy: HealthPolicy) -> Self {
        let seen: Seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let addr = serve_head(move |head, _| {
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            log.lock().unwrap().push((path, authorization(head)));
            Reply::ok("<html>ok</html>")
        })
        .await;
        let key = DeploymentKey {
            app_id: "d1abc".parse().unwrap(),
            branch_name: "main".parse().unwrap(),
            job_id: JobId::new(3),
        };
        let amplify = MemoryAmplify::with_branch(&key, |b| {
            b.basic_auth = BasicAuth::from_amplify(true, Some("dXNlcjpwYXNz"));
        });
        amplify
            .domains
            .lock()
            .unwrap()
            .insert("d1abc".into(), domains);
        let store = MemoryStore::default();
        let mut record = Deployment::new(key.clone(), Environment::Prod);
        record.status = BuildStatus::Succeeded;
        store.save_deployment(&record).await.unwrap();
        let policy = BranchPolicy {
            health: policy,
            ..BranchPolicy::default()
        };
        store.put_policy(&key.app_id, None, &policy).await.unwrap();
        Self {
            store,
            amplify,
            publisher: MemoryPublisher::default(),
            template: format!("http://{addr}/_sites/{{host}}/"),
            outbound: local(addr),
            seen,
            key,
        }
    }

    /// The URL the deploy was checked at.
    async fn checked_url(&self) -> Result<String, Error> {
        let checker = HealthChecker::<InMemory> {
            store: &self.store,
            amplify: &self.amplify,
            publisher: &self.publisher,
            site_url_template: Some(&self.template),
            outbound: &self.outbound,
        };
        let event = succeeded(&self.key);
        let outcome = checker.on_build_succeeded(&event).await?;
        assert_eq!(outcome.verdict, Some(Verdict::Healthy));
        let record = self.store.get_deployment(&self.key).await?.unwrap();
        Ok(record.health.unwrap().url)
    }
}

fn shop(status: &str, verified: bool) -> DomainAssociation {
    DomainAssociation {
        domain_name: "shop.example.com".into(),
        domain_status: status.into(),
        sub_domains: vec![
            SubDomain {
                prefix: "www".into(),
                branch_name: "main".into(),
                verified,
            },
            SubDomain {
                prefix: "beta".into(),
                branch_name: "develop".into(),
                verified: true,
            },
        ],
    }
}

#[tokio::test]
async fn a_branch_on_an_available_custom_domain_is_checked_there_with_its_credentials() {
    let world = World::new(vec![shop("AVAILABLE", true)], fast()).await;
    let url = world.checked_url().await.unwrap();
    assert!(url.ends_with("/_sites/www.shop.example.com/"), "{url}");
    let seen = world.seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(
            |(path, auth)| path.starts_with("/_sites/www.shop.example.com/")
                && auth.as_deref() == Some("Basic dXNlcjpwYXNz")
        ),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_domain_not_ready_or_an_unverified_sub_domain_falls_back_to_amplify_s() {
    for (status, verified) in [
        ("PENDING_VERIFICATION", true),
        ("AWAITING_APP_CNAME", true),
        ("FAILED", true),
        ("AVAILABLE", false),
    ] {
        let world = World::new(vec![shop(status, verified)], fast()).await;
        let url = world.checked_url().await.unwrap();
        assert!(
            url.ends_with("/_sites/main.d1abc.amplifyapp.com/"),
            "{status} {verified}: {url}"
        );
    }
    let none = World::new(Vec::new(), fast()).await;
    assert!(
        none.checked_url()
            .await
            .unwrap()
            .ends_with("/_sites/main.d1abc.amplifyapp.com/")
    );
}

#[tokio::test]
async fn the_policy_can_ask_for_amplify_s_domain_and_an_explicit_url_still_wins() {
    let policy = HealthPolicy {
        site: SiteChoice::AmplifyDomain,
        ..fast()
    };
    let world = World::new(vec![shop("AVAILABLE", true)], policy).await;
    // Not even asked: a failing ListDomainAssociations changes nothing.
    *world.amplify.fail_domains.lock().unwrap() =
        Some(AmplifyError::Unavailable("throttled".into()));
    let url = world.checked_url().await.unwrap();
    assert!(url.ends_with("/_sites/main.d1abc.amplifyapp.com/"), "{url}");

    let addr = serve_head(|_, _| Reply::ok("<html>explicit</html>")).await;
    let policy = HealthPolicy {
        url: Some(format!("http://{addr}/explicit/{{branch}}/")),
        ..fast()
    };
    let mut world = World::new(vec![shop("AVAILABLE", true)], policy).await;
    world.outbound = local(addr);
    let url = world.checked_url().await.unwrap();
    assert_eq!(url, format!("http://{addr}/explicit/main/"));
}

#[tokio::test]
async fn unlisted_domains_fall_back_but_an_unavailable_amplify_is_retried() {
    let world = World::new(vec![shop("AVAILABLE", true)], fast()).await;
    *world.amplify.fail_domains.lock().unwrap() = Some(AmplifyError::Rejected(
        "AccessDeniedException: not authorized to perform amplify:ListDomainAssociations".into(),
    ));
    let url = world.checked_url().await.unwrap();
    assert!(url.ends_with("/_sites/main.d1abc.amplifyapp.com/"), "{url}");

    let world = World::new(vec![shop("AVAILABLE", true)], fast()).await;
    *world.amplify.fail_domains.lock().unwrap() =
        Some(AmplifyError::Unavailable("ThrottlingException".into()));
    let e = world.checked_url().await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let record = world
        .store
        .get_deployment(&world.key)
        .await
        .unwrap()
        .unwrap();
    assert!(record.health.is_none(), "no verdict on a guess");
}
