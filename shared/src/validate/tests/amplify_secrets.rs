//! Required variables kept as Amplify secrets (SSM Parameter Store): the
//! engine's rule, and the reaction's lookup through the in-memory ports.

use std::sync::atomic::Ordering;

use super::*;
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{Error, SecretsError};
use crate::core::model::{BuildStatus, JobId};
use crate::policy::PolicyStore;
use crate::ports::DeploymentStore;

fn policy() -> BranchPolicy {
    BranchPolicy::parse(
        "required:\n  all: [DATABASE_URL, NEXTAUTH_URL]\n",
        "policy.yaml",
    )
    .unwrap()
}

fn input(secrets: Secrets) -> ValidationInput {
    let mut input = ValidationInput::new(Environment::Prod);
    input
        .variables
        .insert("NEXTAUTH_URL".into(), "https://shop.example.com".into());
    input.secrets = secrets;
    input
}

fn found(pairs: &[(&str, &str)]) -> Secrets {
    Secrets::Found(
        pairs
            .iter()
            .map(|(n, p)| ((*n).to_owned(), (*p).to_owned()))
            .collect(),
    )
}

#[test]
fn a_required_variable_kept_as_a_secret_is_present_and_the_report_says_where() {
    let report = validate(
        &input(found(&[("DATABASE_URL", "/amplify/d1/main/")])),
        &policy(),
    )
    .unwrap();
    assert!(report.passed, "{:#?}", report.findings);
    assert!(!report.findings.iter().any(|f| f.rule.starts_with("env.")));
    assert_eq!(
        report.notes,
        vec!["DATABASE_URL: present as an SSM secret (/amplify/d1/main/DATABASE_URL)"]
    );
}

#[test]
fn a_required_variable_in_neither_place_is_missing() {
    let report = validate(&input(found(&[("OTHER", "/amplify/d1/main/")])), &policy()).unwrap();
    assert!(!report.passed);
    let missing: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == "env.required-missing")
        .collect();
    assert_eq!(missing.len(), 1, "{missing:#?}");
    assert!(missing[0].message.starts_with("DATABASE_URL is not set"));
    assert!(
        missing[0]
            .fix
            .contains("/amplify/{appId}/{branch}/DATABASE_URL")
    );
    assert!(report.notes.is_empty());
}

#[test]
fn secrets_that_could_not_be_listed_make_a_warning_not_a_false_error() {
    let report = validate(
        &input(Secrets::Unchecked(
            "AccessDeniedException (400): not authorized to perform ssm:DescribeParameters".into(),
        )),
        &policy(),
    )
    .unwrap();
    assert!(report.passed, "{:#?}", report.findings);
    let [warning] = report.findings.as_slice() else {
        panic!("one finding: {:#?}", report.findings);
    };
    assert_eq!(warning.rule, "env.secrets-unchecked");
    assert_eq!(warning.severity, Severity::Warning);
    assert!(
        warning.message.contains("could not check SSM"),
        "{warning:?}"
    );
    assert!(warning.message.contains("DATABASE_URL"));
    assert!(warning.message.contains("AccessDeniedException"));
    // A policy that wants certainty can make it an error.
    let strict = BranchPolicy::parse(
        "required:\n  all: [DATABASE_URL]\nseverity:\n  env.secrets-unchecked: error\n",
        "policy.yaml",
    )
    .unwrap();
    let report = validate(&input(Secrets::Unchecked("denied".into())), &strict).unwrap();
    assert!(!report.passed);
}

#[test]
fn an_empty_variable_counts_as_present_when_the_secret_exists() {
    let mut input = input(found(&[("DATABASE_URL", "/amplify/shared/d1/")]));
    input.variables.insert("DATABASE_URL".into(), " ".into());
    let report = validate(&input, &policy()).unwrap();
    assert!(report.passed, "{:#?}", report.findings);
    assert_eq!(
        report.notes,
        vec!["DATABASE_URL: present as an SSM secret (/amplify/shared/d1/DATABASE_URL)"]
    );
}

struct World {
    store: MemoryStore,
    amplify: MemoryAmplify,
    publisher: MemoryPublisher,
    secrets: MemorySecrets,
    key: DeploymentKey,
}

impl World {
    async fn new(branch: &str, variables: &[(&str, &str)], secrets: &[&str]) -> Self {
        let key = DeploymentKey {
            app_id: "d1abc".parse().unwrap(),
            branch_name: branch.parse().unwrap(),
            job_id: JobId::new(7),
        };
        let amplify = MemoryAmplify::with_branch(&key, |b| {
            b.environment_variables = variables
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
        });
        let store = MemoryStore::default();
        let mut record = Deployment::new(key.clone(), Environment::Prod);
        record.status = BuildStatus::Started;
        store.save_deployment(&record).await.unwrap();
        store
            .put_policy(&key.app_id, None, &policy())
            .await
            .unwrap();
        Self {
            store,
            amplify,
            publisher: MemoryPublisher::default(),
            secrets: MemorySecrets::with(secrets),
            key,
        }
    }

    async fn validate(&self) -> Result<Report, Error> {
        let validator = validator(&self.store, &self.amplify, &self.secrets, &self.publisher);
        let event = started("d1abc/x/7/STARTED", &self.key);
        validator.on_build_started(&event).await?;
        let record = self.store.get_deployment(&self.key).await?.unwrap();
        Ok(record.validation.unwrap().report)
    }
}

const URL: (&str, &str) = ("NEXTAUTH_URL", "https://shop.example.com");

#[tokio::test]
async fn the_branch_s_secret_and_the_app_s_shared_one_both_count() {
    let world = World::new(
        "feature/pay",
        &[URL],
        &["/amplify/d1abc/feature/pay/DATABASE_URL"],
    )
    .await;
    let report = world.validate().await.unwrap();
    assert!(report.passed, "{:#?}", report.findings);
    assert_eq!(
        report.notes,
        vec!["DATABASE_URL: present as an SSM secret (/amplify/d1abc/feature/pay/DATABASE_URL)"]
    );

    let world = World::new("main", &[URL], &["/amplify/shared/d1abc/DATABASE_URL"]).await;
    let report = world.validate().await.unwrap();
    assert!(report.passed, "{:#?}", report.findings);
    assert!(report.notes[0].contains("/amplify/shared/d1abc/DATABASE_URL"));
}

#[tokio::test]
async fn another_branch_s_or_app_s_secret_does_not_count() {
    let world = World::new(
        "main",
        &[URL],
        &[
            "/amplify/d1abc/develop/DATABASE_URL",
            "/amplify/d9other/main/DATABASE_URL",
            "/amplify/d1abc/main/nested/DATABASE_URL",
        ],
    )
    .await;
    let report = world.validate().await.unwrap();
    assert!(!report.passed);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "env.required-missing" && f.message.contains("DATABASE_URL"))
    );
}

#[tokio::test]
async fn ssm_is_not_asked_when_every_required_variable_is_set() {
    let world = World::new("main", &[URL, ("DATABASE_URL", "postgres://db/x")], &[]).await;
    let report = world.validate().await.unwrap();
    assert!(report.passed, "{:#?}", report.findings);
    assert_eq!(world.secrets.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn access_denied_is_reported_and_throttling_is_retried() {
    let world = World::new("main", &[URL], &[]).await;
    *world.secrets.fail.lock().unwrap() = Some(SecretsError::Rejected(
        "AccessDeniedException (400): not authorized".into(),
    ));
    let report = world.validate().await.unwrap();
    assert!(report.passed, "{:#?}", report.findings);
    assert_eq!(report.findings[0].rule, "env.secrets-unchecked");

    let world = World::new("main", &[URL], &[]).await;
    *world.secrets.fail.lock().unwrap() = Some(SecretsError::Unavailable(
        "ThrottlingException (400)".into(),
    ));
    let e = world.validate().await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert_eq!(e.error_type(), "Retryable.Secrets");
    let record = world
        .store
        .get_deployment(&world.key)
        .await
        .unwrap()
        .unwrap();
    assert!(record.validation.is_none(), "nothing decided on a guess");
}
