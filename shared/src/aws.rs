//! Building the SDK clients, once per process. Endpoints come from the
//! standard variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`), so
//! the local stack and AWS use the same code path.
//!
//! Every call carries the function's name as the SDK's app name (`app/NAME`
//! in the user agent): CloudTrail shows which function made a call, and the
//! reliability suite's proxy counts calls per function.

use aws_config::{AppName, BehaviorVersion, SdkConfig};

pub async fn load() -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    match std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .and_then(|name| app_name(&name))
    {
        Some(name) => loader.app_name(name),
        None => loader,
    }
    .load()
    .await
}

/// The function's name as an app name: characters the user agent does not
/// allow become `-`, and it is cut to the 50 characters allowed.
fn app_name(function: &str) -> Option<AppName> {
    let cleaned: String = function
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(50)
        .collect();
    AppName::new(cleaned).ok()
}

#[cfg(test)]
mod tests {
    use super::app_name;

    #[test]
    fn a_function_name_becomes_a_valid_app_name() {
        assert_eq!(
            app_name("deploy-sentinel-prod-AlerterFunction-1AB2")
                .unwrap()
                .to_string(),
            "deploy-sentinel-prod-AlerterFunction-1AB2"
        );
        assert_eq!(app_name("a b/c").unwrap().to_string(), "a-b-c");
        assert_eq!(app_name(&"x".repeat(80)).unwrap().to_string().len(), 50);
        assert!(app_name("").is_none());
    }
}
