//! The Amplify emulator answers the real Rust SDK for every operation the
//! project calls, NotFound included.

use aws_sdk_amplify::error::ProvideErrorMetadata;
use sentinel_shared::core::deployment::DeploymentKey;
use sentinel_shared::core::error::AmplifyError;
use sentinel_shared::core::model::{BuildStatus, JobId};
use sentinel_shared::ports::{AmplifyApi, StartJob};

use crate::helpers::*;

const COMMIT: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[tokio::test]
async fn the_emulator_answers_every_operation_the_project_calls() {
    let stack = Stack::new().await;
    let app = unique_app_id();
    let branch = "feature/login.v2";
    stack.create_app(&app, branch, COMMIT).await.unwrap();
    let amplify = stack.amplify();
    let branch_name = branch.parse().unwrap();

    let info = amplify.get_app(&app).await.unwrap();
    assert_eq!(info.app_id, app);
    assert!(!info.default_domain.is_empty());

    let b = amplify.get_branch(&app, &branch_name).await.unwrap();
    assert_eq!(b.display_name, "feature-login-v2");

    let job = stack.manual_build(&app, branch, COMMIT).await.unwrap();
    stack
        .advance(&app, branch, &job, "RUNNING", false)
        .await
        .unwrap();
    stack
        .advance(&app, branch, &job, "SUCCEED", false)
        .await
        .unwrap();
    let key = DeploymentKey {
        app_id: app.clone(),
        branch_name: branch_name.clone(),
        job_id: job.parse().unwrap(),
    };
    let details = amplify.get_job(&key).await.unwrap();
    assert_eq!(details.commit_id.as_deref(), Some(COMMIT));
    assert_eq!(details.status, Some(BuildStatus::Succeeded));
    assert!(details.start_time <= details.end_time);
    assert!(!details.steps.is_empty());

    // Padded and unpadded job ids name the same job.
    let padded = amplify_sdk_get_job(&stack, &app, branch, &format!("{job:0>10}")).await;
    assert_eq!(padded.unwrap(), COMMIT);

    let retry = amplify
        .start_job(
            &app,
            &branch_name,
            StartJob::Retry(key.job_id),
            "rollback test",
        )
        .await
        .unwrap();
    assert!(retry > key.job_id);
    let retried = amplify
        .get_job(&DeploymentKey {
            job_id: retry,
            ..key.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        retried.commit_id.as_deref(),
        Some(COMMIT),
        "RETRY rebuilds the old commit"
    );
    assert_eq!(retried.job_type.as_deref(), Some("RETRY"));

    let release = amplify
        .start_job(&app, &branch_name, StartJob::Release, "release")
        .await
        .unwrap();
    let stopped = amplify
        .stop_job(&DeploymentKey {
            job_id: release,
            ..key.clone()
        })
        .await
        .unwrap();
    assert_ne!(stopped, BuildStatus::Succeeded);

    let jobs = amplify.list_jobs(&app, &branch_name, 10).await.unwrap();
    let ids: Vec<JobId> = jobs.iter().map(|j| j.job_id).collect();
    assert_eq!(ids, vec![release, retry, key.job_id], "newest first");

    amplify
        .set_auto_build(&app, &branch_name, false)
        .await
        .unwrap();
    assert!(
        !amplify
            .get_branch(&app, &branch_name)
            .await
            .unwrap()
            .enable_auto_build
    );
    amplify
        .set_auto_build(&app, &branch_name, true)
        .await
        .unwrap();
    assert!(
        amplify
            .get_branch(&app, &branch_name)
            .await
            .unwrap()
            .enable_auto_build
    );
}

async fn amplify_sdk_get_job(
    stack: &Stack,
    app: &sentinel_shared::core::model::AppId,
    branch: &str,
    job: &str,
) -> Option<String> {
    let out = stack
        .amplify_sdk()
        .get_job()
        .app_id(app.as_str())
        .branch_name(branch)
        .job_id(job)
        .send()
        .await
        .ok()?;
    Some(out.job()?.summary()?.commit_id().to_owned())
}

#[tokio::test]
async fn missing_apps_branches_and_jobs_are_not_found() {
    let stack = Stack::new().await;
    let app = unique_app_id();
    let amplify = stack.amplify();
    let main = "main".parse().unwrap();

    assert!(matches!(
        amplify.get_app(&app).await,
        Err(AmplifyError::NotFound(_))
    ));
    stack.create_app(&app, "main", COMMIT).await.unwrap();
    assert!(matches!(
        amplify.get_branch(&app, &"nope".parse().unwrap()).await,
        Err(AmplifyError::NotFound(_))
    ));
    let key = DeploymentKey {
        app_id: app.clone(),
        branch_name: main,
        job_id: JobId::new(999),
    };
    assert!(matches!(
        amplify.get_job(&key).await,
        Err(AmplifyError::NotFound(_))
    ));

    // The raw SDK sees the modelled error type, as with AWS.
    let err = stack
        .amplify_sdk()
        .get_job()
        .app_id(app.as_str())
        .branch_name("main")
        .job_id("999")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NotFoundException"));
    assert!(err.into_service_error().is_not_found_exception());
}
