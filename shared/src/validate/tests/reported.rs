//! A deploy that is not an Amplify job (a reported service): not validated,
//! and Amplify is not asked.

use super::*;

#[tokio::test]
async fn a_deploy_that_is_not_an_amplify_job_is_not_validated_and_amplify_is_not_asked() {
    use crate::core::deployment::DeploymentKey;
    use crate::core::model::JobId;

    let store = MemoryStore::default();
    let amplify = MemoryAmplify::default();
    let publisher = MemoryPublisher::default();
    let secrets = MemorySecrets::with(&[]);
    let validator = validator(&store, &amplify, &secrets, &publisher);
    let key = DeploymentKey {
        app_id: "svc:shop-api".parse().unwrap(),
        branch_name: "prod".parse().unwrap(),
        job_id: JobId::new(7),
    };
    let event = started("svc:shop-api/prod/0000000007/STARTED", &key);
    // Without the guard, GetApp answers NotFound and the delivery fails.
    let out = validator.on_build_started(&event).await.unwrap();
    assert!(out.passed && !out.stopped && out.published == 0);
    assert!(store.deployments().is_empty());
    assert!(publisher.detail_types().is_empty());
}
