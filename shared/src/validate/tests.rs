//! Every rule against its failing and passing fixture
//! (`tests/fixtures/validate/<rule>/{fail,pass}`), plus the guarantees that
//! cut across rules.

use std::path::{Path, PathBuf};

use super::local::input_from_dir;
use super::*;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/validate")
}

/// Loads a fixture directory the way `sentinel validate --dir D --env-file
/// D/case.env --policy D/policy.yaml $(cat D/args)` does. A `secrets` file
/// stands for what the validator function finds in SSM (a checkout has no
/// Amplify secrets): full parameter names, one a line, or `unchecked: why`.
pub fn run_fixture(dir: &Path) -> Report {
    let args = std::fs::read_to_string(dir.join("args")).unwrap_or_default();
    let words: Vec<&str> = args.split_whitespace().collect();
    let arg = |flag: &str| {
        words
            .iter()
            .position(|w| *w == flag)
            .and_then(|i| words.get(i + 1))
            .copied()
    };
    let environment = arg("--env").unwrap_or("dev").parse().unwrap();
    let platform = arg("--platform").and_then(Platform::parse);
    let input = input_from_dir(
        dir,
        Some(&dir.join("case.env")),
        std::iter::empty(),
        environment,
        platform,
        8,
    )
    .unwrap();
    let mut input = input;
    if let Ok(text) = std::fs::read_to_string(dir.join("secrets")) {
        input.secrets = secrets_from(&text);
    }
    let policy = match std::fs::read_to_string(dir.join("policy.yaml")) {
        Ok(text) => BranchPolicy::parse(&text, "policy.yaml").unwrap(),
        Err(_) => BranchPolicy::default(),
    };
    validate(&input, &policy).unwrap()
}

/// A fixture's `secrets` file as the validator's lookup would give it.
fn secrets_from(text: &str) -> Secrets {
    if let Some(why) = text.trim().strip_prefix("unchecked:") {
        return Secrets::Unchecked(why.trim().to_owned());
    }
    Secrets::Found(
        text.lines()
            .filter_map(|line| line.trim().rsplit_once('/'))
            .map(|(path, name)| (name.to_owned(), format!("{path}/")))
            .collect(),
    )
}

#[test]
fn every_rule_has_a_failing_and_a_passing_fixture() {
    for (rule, _, _) in RULES {
        let fail = run_fixture(&fixtures().join(rule).join("fail"));
        let pass = run_fixture(&fixtures().join(rule).join("pass"));
        assert!(
            fail.findings.iter().any(|f| f.rule == *rule),
            "{rule}/fail: {:#?}",
            fail.findings
        );
        assert!(
            !pass.findings.iter().any(|f| f.rule == *rule),
            "{rule}/pass: {:#?}",
            pass.findings
        );
        for f in &fail.findings {
            assert!(!f.message.is_empty() && !f.fix.is_empty(), "{rule}: {f:?}");
        }
    }
}

#[test]
fn the_passing_project_is_clean() {
    let report = run_fixture(&fixtures().join("deps.lockfile-missing/pass"));
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(report.passed);
}

#[test]
fn a_policy_raises_and_lowers_severities() {
    let dir = fixtures().join("buildspec.node-memory/fail");
    let input = input_from_dir(
        &dir,
        Some(&dir.join("case.env")),
        std::iter::empty(),
        Environment::Prod,
        Some(Platform::WebCompute),
        8,
    )
    .unwrap();
    let raised = BranchPolicy::parse("severity:\n  buildspec.node-memory: error\n", "p").unwrap();
    let report = validate(&input, &raised).unwrap();
    assert_eq!(report.errors, 1);
    assert!(!report.passed);
    let off = BranchPolicy::parse("severity:\n  buildspec.node-memory: off\n", "p").unwrap();
    assert!(validate(&input, &off).unwrap().findings.is_empty());
}

#[test]
fn secret_values_never_appear_in_a_report() {
    const CANARY: &str = "sk_live_CANARY0123456789abcdefghijKLMNOP";
    let mut input = ValidationInput::new(Environment::Prod);
    input.platform = Some(Platform::WebCompute);
    for name in [
        "NEXT_PUBLIC_STRIPE_SECRET",
        "DATABASE_URL",
        "API_URL",
        "NEXT_PUBLIC_X",
        "WORKER_TIMEOUT_MS",
        "SERVER_ONLY",
    ] {
        input.variables.insert(name.into(), CANARY.into());
        input.declared.push(name.into());
    }
    input.build_spec = Some(SourceFile {
        name: "amplify.yml".into(),
        text: format!("version: 1\nfrontend: [{CANARY}\n"),
    });
    let report = validate(&input, &BranchPolicy::default()).unwrap();
    assert!(report.errors >= 3, "{report:#?}");
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains("CANARY0123"), "{text}");
}

/// Characters a password is typed with, unencoded, that end a URL's
/// authority for a parser (issue #28, item 7).
const AWKWARD: [char; 5] = ['/', '@', ':', '#', '?'];

fn leaked(text: &str) -> bool {
    text.contains("Kq7vWx") || text.contains("Zt9wPm")
}

#[test]
fn a_url_password_never_appears_in_a_finding_or_its_json() {
    for c in AWKWARD {
        let value = format!("redis://default:Kq7vWx{c}Zt9wPm@cache.internal:6379");
        let mut input = ValidationInput::new(Environment::Prod);
        for name in [
            "REDIS_URL",
            "CACHE_URI",
            "DATABASE_URL",
            "NEXTAUTH_URL",
            "NEXT_PUBLIC_REDIS_URL",
        ] {
            input.variables.insert(name.into(), value.clone());
            input.declared.push(name.into());
        }
        let report = validate(&input, &BranchPolicy::default()).unwrap();
        let json = serde_json::to_string(&report).unwrap();
        assert!(!leaked(&json), "{c:?}: {json}");
        // The public one is a secret sent to browsers, whatever its password holds.
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.rule == "env.secret-exposed"
                    && f.location.as_deref() == Some("NEXT_PUBLIC_REDIS_URL")),
            "{c:?}: {json}"
        );
    }
}

#[test]
fn a_url_that_does_not_parse_is_named_not_quoted() {
    let mut input = ValidationInput::new(Environment::Dev);
    input.variables.insert(
        "REDIS_URL".into(),
        "redis://default:Kq7vWx/Zt9wPm@cache.internal:6379".into(),
    );
    let report = validate(&input, &BranchPolicy::default()).unwrap();
    let f = report
        .findings
        .iter()
        .find(|f| f.rule == "env.malformed")
        .unwrap_or_else(|| panic!("{report:#?}"));
    assert!(
        f.message.starts_with("REDIS_URL is not a URL"),
        "{}",
        f.message
    );
    assert!(!f.message.contains("redis:"), "{}", f.message);
    assert!(f.fix.contains("percent-encode"), "{}", f.fix);
}

#[test]
fn the_central_masker_masks_a_url_password_any_rule_quotes() {
    for c in AWKWARD {
        let quoted = format!("postgres://app:Kq7vWx{c}Zt9wPm@db.internal:5432/shop");
        let finding = Finding::new(
            "buildspec.invalid",
            format!("amplify.yml:3: the command `psql {quoted}` fails"),
            format!("replace {quoted} by a secret"),
        )
        .at(format!("{quoted} (line 3)"))
        .masked();
        let json = serde_json::to_string(&finding).unwrap();
        assert!(!leaked(&json), "{c:?}: {json}");
        // A build spec that quotes one reaches a report masked.
        let mut input = ValidationInput::new(Environment::Dev);
        input.build_spec = Some(SourceFile {
            name: "amplify.yml".into(),
            text: format!("version: 1\nfrontend: [{quoted}\n"),
        });
        let json =
            serde_json::to_string(&validate(&input, &BranchPolicy::default()).unwrap()).unwrap();
        assert!(!leaked(&json), "{c:?}: {json}");
    }
}

#[test]
fn malformed_package_files_name_the_file_and_place() {
    let mut input = ValidationInput::new(Environment::Dev);
    input.package_json = Some(SourceFile {
        name: "package.json".into(),
        text: "{\n  \"name\": \"x\",\n  oops\n}".into(),
    });
    let err = validate(&input, &BranchPolicy::default()).unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("package.json", 3));
    input.package_json = Some(SourceFile {
        name: "package.json".into(),
        text: "{}".into(),
    });
    input.package_lock = Some(SourceFile {
        name: "package-lock.json".into(),
        text: "{\"packages\": [}".into(),
    });
    let err = validate(&input, &BranchPolicy::default()).unwrap_err();
    assert_eq!(err.file, "package-lock.json");
    assert_eq!(err.line, 1);
}

#[test]
fn a_build_spec_that_is_not_yaml_is_a_finding_with_its_place() {
    let mut input = ValidationInput::new(Environment::Dev);
    input.build_spec = Some(SourceFile {
        name: "amplify.yml".into(),
        text: "version: 1\nfrontend:\n  phases: [\n".into(),
    });
    let report = validate(&input, &BranchPolicy::default()).unwrap();
    let f = report
        .findings
        .iter()
        .find(|f| f.rule == "buildspec.invalid")
        .unwrap();
    assert!(f.message.starts_with("amplify.yml:"), "{}", f.message);
}

/// The `env.secret*` findings of one `NEXT_PUBLIC_` variable.
fn exposure_findings(name: &str, value: &str, policy: &BranchPolicy) -> Vec<(String, Severity)> {
    let mut input = ValidationInput::new(Environment::Prod);
    input.variables.insert(name.into(), value.into());
    input.declared.push(name.into());
    validate(&input, policy)
        .unwrap()
        .findings
        .into_iter()
        .filter(|f| f.rule.starts_with("env.secret"))
        .map(|f| (f.rule, f.severity))
        .collect()
}

#[test]
fn a_secret_name_alone_warns_and_the_policy_can_make_it_an_error() {
    let default = BranchPolicy::default();
    let warned = exposure_findings("NEXT_PUBLIC_API_TOKEN", "storefront-search", &default);
    assert_eq!(
        warned,
        vec![("env.secret-suspected".to_owned(), Severity::Warning)]
    );
    // A name the team declares secret in its policy is its own word: an error.
    let declared = BranchPolicy::parse("secret_names: [SEARCH]\n", "p").unwrap();
    let refused = exposure_findings("NEXT_PUBLIC_SEARCH_ID", "storefront-search", &declared);
    assert_eq!(
        refused,
        vec![("env.secret-exposed".to_owned(), Severity::Error)]
    );
    // A public format passes whatever the name; a secret fails whatever it.
    let mapbox = "pk.eyJ1Ijoic3RvcmVmcm9udCIsImEiOiJjbHh5ejEyMzQwMDAwMmpwZzRrZzVhYmNkIn0.AbCdEfGhIjKlMnOpQrStUv";
    assert!(exposure_findings("NEXT_PUBLIC_MAPBOX_SECRET_TOKEN", mapbox, &default).is_empty());
    let stripe = "sk_live_51H8aBcDeFgHiJkLmNoPqRsTuVwXyZ";
    assert_eq!(
        exposure_findings("NEXT_PUBLIC_CHECKOUT", stripe, &default),
        vec![("env.secret-exposed".to_owned(), Severity::Error)]
    );
    // A commit SHA is neither.
    let sha = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
    assert!(exposure_findings("NEXT_PUBLIC_COMMIT", sha, &default).is_empty());
}

/// Required variables kept as Amplify secrets (SSM Parameter Store): the
/// engine's rule, and the reaction's lookup through the in-memory ports.
mod amplify_secrets {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::adapters::memory::{
        InMemory, MemoryAmplify, MemoryPublisher, MemorySecrets, MemoryStore,
    };
    use crate::core::deployment::{Deployment, DeploymentKey};
    use crate::core::error::{Error, SecretsError};
    use crate::core::events::BuildEvent;
    use crate::core::model::{BuildStatus, JobId};
    use crate::policy::PolicyStore;
    use crate::ports::DeploymentStore;
    use crate::validate::reaction::Validator;

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
                "AccessDeniedException (400): not authorized to perform ssm:DescribeParameters"
                    .into(),
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
            let validator = Validator::<InMemory> {
                store: &self.store,
                amplify: &self.amplify,
                secrets: &self.secrets,
                publisher: &self.publisher,
                github: None,
                environment: Environment::Prod,
                enforcement: crate::core::enforcement::Enforcement::Enforce,
            };
            let event = BuildEvent {
                event_id: "d1abc/x/7/STARTED".into(),
                environment: Environment::Prod,
                app_id: self.key.app_id.clone(),
                branch_name: self.key.branch_name.clone(),
                job_id: self.key.job_id,
                status: BuildStatus::Started,
                commit_id: None,
                commit_message: None,
                commit_time: None,
                first_commit_time: None,
                job_type: None,
                start_time: None,
                end_time: None,
                duration_seconds: None,
                is_rollback: false,
                rollback_of: None,
            };
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
            vec![
                "DATABASE_URL: present as an SSM secret (/amplify/d1abc/feature/pay/DATABASE_URL)"
            ]
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
}

#[tokio::test]
async fn a_deploy_that_is_not_an_amplify_job_is_not_validated_and_amplify_is_not_asked() {
    use crate::adapters::memory::{
        InMemory, MemoryAmplify, MemoryPublisher, MemorySecrets, MemoryStore,
    };
    use crate::core::events::BuildEvent;
    use crate::core::model::{BuildStatus, Environment, JobId};
    use crate::validate::reaction::Validator;

    let store = MemoryStore::default();
    let amplify = MemoryAmplify::default();
    let publisher = MemoryPublisher::default();
    let secrets = MemorySecrets::with(&[]);
    let validator = Validator::<InMemory> {
        store: &store,
        amplify: &amplify,
        secrets: &secrets,
        publisher: &publisher,
        github: None,
        environment: Environment::Prod,
        enforcement: crate::core::enforcement::Enforcement::Enforce,
    };
    let event = BuildEvent {
        event_id: "svc:shop-api/prod/0000000007/STARTED".into(),
        environment: Environment::Prod,
        app_id: "svc:shop-api".parse().unwrap(),
        branch_name: "prod".parse().unwrap(),
        job_id: JobId::new(7),
        status: BuildStatus::Started,
        commit_id: None,
        commit_message: None,
        commit_time: None,
        first_commit_time: None,
        job_type: None,
        start_time: None,
        end_time: None,
        duration_seconds: None,
        is_rollback: false,
        rollback_of: None,
    };
    // Without the guard, GetApp answers NotFound and the delivery fails.
    let out = validator.on_build_started(&event).await.unwrap();
    assert!(out.passed && !out.stopped && out.published == 0);
    assert!(store.deployments().is_empty());
    assert!(publisher.detail_types().is_empty());
}
