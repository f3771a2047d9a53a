//! What a deploy is checked at, and with what: the site's URL (the
//! policy's, the stack's template, the custom domain or Amplify's; a
//! reported deploy's own) and the basic auth, or why no check can start.

use tracing::warn;

use super::HealthChecker;
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{AmplifyError, Error};
use crate::health::{CheckError, Checker, HealthPolicy, SiteChoice, site};
use crate::ports::{AmplifyApi, BasicAuth};
use crate::stack::Stack;

/// The URL recorded when the branch has no site URL that may be requested.
pub const NO_URL: &str = "(no valid site URL)";

/// The longest a reported service's check runs, whatever its policy says:
/// anyone with the reporter policy can send a URL that never gives a
/// verdict, and each such check holds one of the health checker's
/// invocations until its deadline (`docs/reporting.md`, "Health of a
/// reported service").
pub const REPORTED_DEADLINE_MS: u64 = 120_000;

impl<K: Stack> HealthChecker<'_, K> {
    /// [`Self::checker`] for a deployment: a reported deploy is checked at
    /// the policy's URL, else the URL it reported, never through Amplify.
    pub(super) async fn checker_for(
        &self,
        record: &Deployment,
        policy: HealthPolicy,
    ) -> Result<(String, Result<Checker, CheckError>), Error> {
        if record.key.app_id.is_amplify() {
            return self.checker(&record.key, policy).await;
        }
        let Some(url) = reported_site(record, &policy) else {
            return Ok((NO_URL.to_owned(), Err(CheckError("no URL reported".into()))));
        };
        let policy = HealthPolicy {
            deadline_ms: policy.deadline_ms.min(REPORTED_DEADLINE_MS),
            ..policy
        };
        // The team's own server: refusing connections is it being down.
        let checker =
            Checker::new(&url, policy, self.outbound).map(|c| c.refused_connection_fails(true));
        Ok((url, checker))
    }

    /// The site's URL (as recorded) and its checker, or why no check can
    /// start there (a URL the outbound rules refuse, a branch name that
    /// makes no host): that is recorded as an Inconclusive verdict and
    /// alerted, not dead-lettered.
    async fn checker(
        &self,
        key: &DeploymentKey,
        policy: HealthPolicy,
    ) -> Result<(String, Result<Checker, CheckError>), Error> {
        Ok(match self.site(key, &policy).await? {
            Ok((url, basic_auth)) => {
                let checker = Checker::new(&url, policy, self.outbound)
                    .map(|c| c.with_basic_auth(basic_auth));
                (url, checker)
            }
            Err(refused) => (NO_URL.to_owned(), Err(refused)),
        })
    }

    /// Where the site is, and the basic auth to check it with: the policy's
    /// URL (a host the team names: no credentials go there), else the
    /// stack's template (with `{appId}`, `{branch}`, `{displayName}` and
    /// `{host}` filled in), else where the branch's users reach it — its
    /// custom domain when Amplify serves one for it and the policy's `site`
    /// allows, else Amplify's `https://{displayName}.{defaultDomain}` (see
    /// [`crate::health::site`]). The branch's own site, on either host, is
    /// checked with the branch's (else the app's) basic auth when it is
    /// password-protected.
    async fn site(
        &self,
        key: &DeploymentKey,
        policy: &HealthPolicy,
    ) -> Result<Result<(String, Option<BasicAuth>), CheckError>, Error> {
        if let Some(url) = policy.url.as_deref() {
            return Ok(Ok((
                site::fill(url, &key.app_id, &key.branch_name, None),
                None,
            )));
        }
        let branch = match self.amplify.get_branch(&key.app_id, &key.branch_name).await {
            Ok(branch) => Some(branch),
            // Gone from Amplify: its site, if any, is not protected by it.
            Err(AmplifyError::NotFound(_)) if self.site_url_template.is_some() => None,
            Err(e) => return Err(e.into()),
        };
        let own_auth = branch.as_ref().and_then(|b| b.basic_auth.clone());
        let needs_app = own_auth.is_none() || self.site_url_template.is_none();
        let app = match needs_app {
            false => None,
            true => match self.amplify.get_app(&key.app_id).await {
                Ok(app) => Some(app),
                Err(AmplifyError::NotFound(_)) if self.site_url_template.is_some() => None,
                Err(e) => return Err(e.into()),
            },
        };
        let basic_auth = own_auth.or_else(|| app.as_ref().and_then(|a| a.basic_auth.clone()));
        let custom = match &branch {
            Some(_) => self.custom_domain(key, policy).await?,
            None => None,
        };
        let display = branch.as_ref().map_or_else(
            || key.branch_name.display_name(),
            |b| b.display_name.clone(),
        );
        // Without a template, Amplify answered for both the branch and the
        // app (a NotFound returned above): there is a host to build on.
        if self.site_url_template.is_none() && (branch.is_none() || app.is_none()) {
            return Err(Error::DeadLetter(format!(
                "no site for {}/{}: Amplify has no such app or branch",
                key.app_id, key.branch_name
            )));
        }
        let url = site::branch_url(
            self.site_url_template,
            &key.app_id,
            &key.branch_name,
            &display,
            app.as_ref().map(|a| a.default_domain.as_str()),
            custom.as_deref(),
        );
        Ok(url
            .map(|url| (url, basic_auth))
            .map_err(|e| CheckError(e.to_string())))
    }

    /// The branch's custom-domain host, when the policy wants it checked
    /// there (and a template, if any, has a `{host}` to put it in). Custom
    /// domains Amplify refuses to list (e.g. a role without
    /// `amplify:ListDomainAssociations`) leave Amplify's domain, with a
    /// warning; an unavailable Amplify is retried.
    async fn custom_domain(
        &self,
        key: &DeploymentKey,
        policy: &HealthPolicy,
    ) -> Result<Option<String>, Error> {
        let wanted = policy.site == SiteChoice::CustomDomain
            && self.site_url_template.is_none_or(|t| t.contains("{host}"));
        if !wanted {
            return Ok(None);
        }
        match self.amplify.list_domain_associations(&key.app_id).await {
            Ok(domains) => Ok(site::custom_domain_host(&domains, &key.branch_name)),
            Err(e @ AmplifyError::Unavailable(_)) => Err(e.into()),
            Err(e) => {
                warn!(error = %e, "custom domains not listed; checking Amplify's domain");
                Ok(None)
            }
        }
    }
}

/// Where a reported deploy is checked: the policy's URL (`{appId}`,
/// `{branch}` filled in) when it names one, else the URL the report gave.
pub(super) fn reported_site(record: &Deployment, policy: &HealthPolicy) -> Option<String> {
    let key = &record.key;
    policy
        .url
        .as_deref()
        .map(|url| site::fill(url, &key.app_id, &key.branch_name, None))
        .or_else(|| record.reported.as_ref().and_then(|r| r.url.clone()))
}

/// What the site must serve: a reported `--version`, else the commit.
pub(super) fn expected_version(record: &Deployment) -> Option<&str> {
    record
        .reported
        .as_ref()
        .and_then(|r| r.version.as_deref())
        .or(record.details.commit_id.as_deref())
}
