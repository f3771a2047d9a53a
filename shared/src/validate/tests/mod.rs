//! Every rule against its failing and passing fixture
//! (`tests/fixtures/validate/<rule>/{fail,pass}`), plus the guarantees that
//! cut across rules.

use std::path::{Path, PathBuf};

use super::local::input_from_dir;
use super::*;
use crate::adapters::memory::{
    InMemory, MemoryAmplify, MemoryPublisher, MemorySecrets, MemoryStore,
};
use crate::core::model::Environment;
use crate::policy::BranchPolicy;

mod amplify_secrets;
mod masking;
mod reported;
mod rules;

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

/// "Build Started" of `key` in prod, all details unknown.
fn started(
    event_id: &str,
    key: &crate::core::deployment::DeploymentKey,
) -> crate::core::events::BuildEvent {
    crate::core::deployment::tests::build_event(
        event_id,
        key,
        crate::core::model::BuildStatus::Started,
    )
}

/// The validator of a prod stack in enforce mode, without GitHub.
fn validator<'a>(
    store: &'a MemoryStore,
    amplify: &'a MemoryAmplify,
    secrets: &'a MemorySecrets,
    publisher: &'a MemoryPublisher,
) -> crate::validate::reaction::Validator<'a, InMemory> {
    crate::validate::reaction::Validator {
        store,
        amplify,
        secrets,
        publisher,
        github: None,
        environment: Environment::Prod,
        enforcement: crate::core::enforcement::Enforcement::Enforce,
    }
}
