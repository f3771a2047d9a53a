//! The adapters of one running stack, named once: every port a function
//! may use, the shared ones (`ports`) and each feature's own. A reaction is
//! generic over one [`Stack`] rather than over each port it uses.

use crate::alert::ports::{AlertStore, Notifier};
use crate::diagnose::ports::LogSource;
use crate::github::api::GitHubApi;
use crate::github::ports::GitHubStateStore;
use crate::policy::PolicyStore;
use crate::ports::{
    AmplifyApi, CloudFormationApi, DeadLetterSink, DeploymentStore, EventPublisher, MetricsStore,
    SecretNames,
};
use crate::rollback::ports::RollbackStore;

/// The adapters of one running stack, named once: the AWS ones in the
/// functions and the CLI (`adapters::Aws`), the in-memory ones in unit
/// tests (`adapters::memory::InMemory`). A reaction is generic over one
/// `Stack` rather than over each port it uses.
pub trait Stack: 'static {
    type Store: DeploymentStore
        + PolicyStore
        + AlertStore
        + RollbackStore
        + MetricsStore
        + GitHubStateStore;
    type Amplify: AmplifyApi;
    type CloudFormation: CloudFormationApi;
    type Publisher: EventPublisher;
    type DeadLetter: DeadLetterSink;
    type Notifier: Notifier;
    type Logs: LogSource;
    type Secrets: SecretNames;
    type GitHub: GitHubApi;
}
