//! [`SecretNames`] over SSM Parameter Store's `DescribeParameters`: the
//! names of Amplify's secrets, never their values. DescribeParameters answers
//! metadata only (name, type, dates), so no value — not even an encrypted
//! one — ever reaches the validator; `docs/security.md` weighs it against
//! GetParametersByPath.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::ParameterStringFilter;

use super::sdk::{Failure, classify};
use crate::ports::{SecretNames, SecretsError};

pub struct SsmSecretNames {
    client: Client,
}

impl SsmSecretNames {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn secrets_error(e: Failure) -> SecretsError {
    match e {
        Failure::Transient(m) => SecretsError::Unavailable(m),
        Failure::Rejected(m) | Failure::NotFound(m) => SecretsError::Rejected(m),
        Failure::ConditionFailed => SecretsError::Rejected("condition failed".into()),
    }
}

/// Characters a parameter name may hold: a path with any other cannot have
/// parameters under it (and SSM would refuse the filter).
fn valid_path(path: &str) -> bool {
    path.starts_with('/')
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
}

/// The last segment of `name` when it is directly under `path`.
pub(crate) fn one_level<'a>(path: &str, name: &'a str) -> Option<&'a str> {
    let rest = name
        .strip_prefix(path.trim_end_matches('/'))?
        .strip_prefix('/')?;
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

impl SecretNames for SsmSecretNames {
    async fn names_under(&self, path: &str) -> Result<Vec<String>, SecretsError> {
        let path = path.trim_end_matches('/');
        if !valid_path(path) {
            return Ok(Vec::new());
        }
        let filter = ParameterStringFilter::builder()
            .key("Path")
            .option("OneLevel")
            .values(path)
            .build()
            .map_err(|e| SecretsError::Rejected(format!("DescribeParameters filter: {e}")))?;
        let pages: Vec<_> = self
            .client
            .describe_parameters()
            .parameter_filters(filter)
            .into_paginator()
            .page_size(50)
            .send()
            .try_collect()
            .await
            .map_err(|e| secrets_error(classify(&e)))?;
        let mut names: Vec<String> = pages
            .iter()
            .flat_map(|page| page.parameters())
            .filter_map(|p| one_level(path, p.name()?))
            .map(str::to_owned)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::{one_level, valid_path};

    #[test]
    fn only_names_directly_under_the_path_count() {
        let path = "/amplify/d1/main";
        assert_eq!(
            one_level(path, "/amplify/d1/main/DATABASE_URL"),
            Some("DATABASE_URL")
        );
        assert_eq!(
            one_level("/amplify/d1/main/", "/amplify/d1/main/X"),
            Some("X")
        );
        assert_eq!(one_level(path, "/amplify/d1/main/deeper/X"), None);
        assert_eq!(one_level(path, "/amplify/d1/mainline/X"), None);
        assert_eq!(one_level(path, "/amplify/d1/main/"), None);
        assert_eq!(one_level(path, "/amplify/d1/other/X"), None);
    }

    #[test]
    fn a_path_no_parameter_can_have_is_not_asked_for() {
        assert!(valid_path("/amplify/d1/feature/x-1.2"));
        assert!(!valid_path("/amplify/d1/feat ure"));
        assert!(!valid_path("/amplify/d1/ümlaut"));
        assert!(!valid_path("amplify/d1/main"));
    }
}
