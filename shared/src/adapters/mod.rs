//! Adapters: the ports implemented over the AWS SDK, and in memory for unit
//! tests. No SDK type leaves this module.

pub mod amplify;
pub mod cloudformation;
pub mod cloudwatch;
pub mod dynamodb;
pub mod eventbridge;
pub mod github;
pub mod http_log;
pub mod memory;
mod sdk;
pub mod sns;
pub mod sqs;
pub mod ssm;

/// The stack as deployed: every port on AWS.
pub struct Aws;

impl crate::stack::Stack for Aws {
    type Store = dynamodb::DynamoStore;
    type Amplify = amplify::AmplifyClient;
    type CloudFormation = cloudformation::CloudFormationClient;
    type Publisher = eventbridge::EventBridgePublisher;
    type DeadLetter = sqs::SqsDeadLetter;
    type Notifier = sns::SnsNotifier;
    type Logs = http_log::HttpLogSource;
    type Secrets = ssm::SsmSecretNames;
    type GitHub = github::GitHubClient;
}
