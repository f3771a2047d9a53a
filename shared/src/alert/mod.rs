//! Alerts: a branch's alert state and the pure decisions over it
//! ([`state`]: one message per incident, reminders, resolve notices, an
//! hourly budget), how a message reads in each channel ([`message`]) and
//! the Amplify console page it links to ([`console`]), the policy section
//! ([`policy`]), and the alerter's reaction to domain events ([`reaction`]:
//! diagnose, record, publish, notify).

pub mod console;
pub mod escape;
pub mod message;
pub mod policy;
pub mod ports;
pub mod reaction;
pub mod state;

pub use message::Notification;
pub use policy::AlertPolicy;
pub use state::{AlertState, Decision, Incident, Pending, Severity, Signal};
