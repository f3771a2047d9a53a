//! What every alert starts from: where it is about (the [`Context`]: the
//! job's page in the Amplify console, the site, who pushed), the branch's
//! alert policy, and a plain [`Content`] to fill.

use super::alerter::Alerter;
use super::stack;
use crate::alert::console::console_url;
use crate::alert::message::{Content, Context};
use crate::alert::{AlertPolicy, Severity};
use crate::core::error::Error;
use crate::core::model::{AppId, BranchName, Environment, JobId};
use crate::policy::PolicyStore;
use crate::stack::Stack;

impl<K: Stack> Alerter<'_, K> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn context(
        &self,
        environment: Environment,
        app_id: &AppId,
        branch_name: &BranchName,
        job_id: Option<JobId>,
        commit_id: Option<String>,
        commit_message: Option<String>,
        site_url: Option<String>,
    ) -> Context {
        if app_id.source() == crate::core::model::Source::CloudFormation {
            return stack::context(
                self.region,
                environment,
                app_id,
                branch_name,
                job_id,
                commit_id,
                commit_message,
                site_url,
            );
        }
        // A reported service's site is the one its report named. An Amplify
        // branch's is built as the health checker builds the one it checks:
        // the branch's name is the committer's, and `x@evil%2Ecom#` must not
        // link to another host.
        let site_url = site_url.or_else(|| {
            if !app_id.is_amplify() {
                return None;
            }
            crate::health::site::branch_url(
                self.site_url_template,
                app_id,
                branch_name,
                &branch_name.display_name(),
                None,
                None,
            )
            .inspect_err(|e| tracing::warn!(error = %e, "the alert links to no site"))
            .ok()
        });
        Context {
            environment,
            app_id: app_id.clone(),
            branch_name: branch_name.clone(),
            job_id,
            commit_id,
            commit_message,
            // Only an Amplify job has a page in the Amplify console.
            console_url: job_id
                .filter(|_| app_id.is_amplify())
                .map(|j| console_url(self.region, app_id, branch_name, j)),
            site_url,
            author: self
                .extras
                .as_ref()
                .and_then(|x| x.author.as_ref())
                .map(crate::alert::message::Author::from),
            custom_site_url: self.extras.as_ref().and_then(|x| x.custom_site_url.clone()),
        }
    }

    pub(super) async fn policy(
        &self,
        app: &AppId,
        branch: &BranchName,
    ) -> Result<AlertPolicy, Error> {
        Ok(match self.store.get_policy(app, branch).await? {
            Some(stored) => stored.policy.alerts,
            None => AlertPolicy::default(),
        })
    }
}

pub(super) fn plain(
    event_type: &str,
    headline: &str,
    category: &str,
    severity: Severity,
    summary: String,
) -> Content {
    Content {
        event_type: event_type.into(),
        headline: headline.into(),
        category: category.into(),
        severity,
        summary,
        diagnosis: None,
        fix: None,
        evidence: Vec::new(),
        details: Vec::new(),
    }
}
