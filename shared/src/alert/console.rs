//! Links into the Amplify console: the page of a job, which an alert links
//! to and a check run's details point at (`github::render`).

use crate::core::model::{AppId, BranchName, JobId};

/// The Amplify console's page of a job.
pub fn console_url(region: &str, app: &AppId, branch: &BranchName, job: JobId) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/amplify/apps/{app}/branches/{}/deployments/{}",
        urlencode(branch.as_str()),
        job.number()
    )
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
