//! Identifiers and statuses, parsed once at the edge so that domain code never
//! sees an invalid one ("parse, don't validate").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an identifier or status could not be parsed. The message names the field
/// and the rule it broke; the offending value is included only when it is short
/// and cannot be a secret (ids, statuses).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ParseError {
    pub field: &'static str,
    pub reason: String,
}

impl ParseError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Shortens a value for an error message so that an oversized field cannot
/// flood a log line.
pub(crate) fn preview(value: &str) -> String {
    const MAX: usize = 40;
    // A token pasted where an id belongs must not reach the error (logs,
    // the DLQ's errorMessage): secret-shaped values are masked first.
    let masked = crate::core::redact::mask_in_text(value);
    let value = masked.as_str();
    if value.chars().count() <= MAX {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head:?}… ({} bytes)", value.len())
    }
}

/// Whether a job's commit id names a git commit (7 or more hex digits). A
/// manual deployment (CreateDeployment, no repository) reports `HEAD`,
/// which names no code: two such jobs are two different artifacts.
pub fn is_git_commit(text: &str) -> bool {
    text.len() >= 7 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

macro_rules! string_newtype_serde {
    ($ty:ident) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                raw.parse().map_err(serde::de::Error::custom)
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Where a deployment comes from. Amplify jobs are what Sentinel was built
/// for; CloudFormation stack operations (SAM stacks included) arrive as
/// CloudFormation's own events; any other deploy (a PM2 script, a CI job)
/// reports itself with `sentinel report`. `docs/reporting.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Source {
    #[default]
    Amplify,
    CloudFormation,
    Report,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Amplify, Source::CloudFormation, Source::Report];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Amplify => "amplify",
            Source::CloudFormation => "cloudformation",
            Source::Report => "report",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Source::ALL
            .into_iter()
            .find(|source| source.as_str() == s)
            .ok_or_else(|| {
                ParseError::new(
                    "source",
                    format!("{} is not amplify, cloudformation or report", preview(s)),
                )
            })
    }
}

/// What a deployment deploys: an Amplify app (`d` followed by lowercase
/// letters and digits, at most 20 characters: Amplify's own constraint), a
/// CloudFormation stack (`cfn:` and the stack's name) or a service that
/// reports its deploys (`svc:` and its name). The prefixes cannot begin an
/// Amplify app id, so one key space holds all three; [`AppId::source`] says
/// which, and nothing calls Amplify for an id that is not an Amplify app's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppId(String);

impl AppId {
    pub const STACK_PREFIX: &'static str = "cfn:";
    pub const SERVICE_PREFIX: &'static str = "svc:";

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn source(&self) -> Source {
        if self.0.starts_with(Self::STACK_PREFIX) {
            Source::CloudFormation
        } else if self.0.starts_with(Self::SERVICE_PREFIX) {
            Source::Report
        } else {
            Source::Amplify
        }
    }

    pub fn is_amplify(&self) -> bool {
        self.source() == Source::Amplify
    }

    /// The stack's or service's name (the app id itself for Amplify).
    pub fn name(&self) -> &str {
        self.0
            .strip_prefix(Self::STACK_PREFIX)
            .or_else(|| self.0.strip_prefix(Self::SERVICE_PREFIX))
            .unwrap_or(&self.0)
    }

    /// A CloudFormation stack, by name: a letter, then letters, digits and
    /// hyphens, at most 128 characters (CloudFormation's rule).
    pub fn stack(name: &str) -> Result<Self, ParseError> {
        let valid = !name.is_empty()
            && name.len() <= 128
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if valid {
            Ok(Self(format!("{}{name}", Self::STACK_PREFIX)))
        } else {
            Err(ParseError::new(
                "stack",
                format!(
                    "{} is not a CloudFormation stack name (a letter, then letters, digits or hyphens, at most 128)",
                    preview(name)
                ),
            ))
        }
    }

    /// A reporting service, by name: a letter or digit, then letters,
    /// digits, `-`, `_` or `.`, at most 64 characters.
    pub fn service(name: &str) -> Result<Self, ParseError> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(Self(format!("{}{name}", Self::SERVICE_PREFIX)))
        } else {
            Err(ParseError::new(
                "service",
                format!(
                    "{} is not a service name (a letter or digit, then letters, digits, '-', '_' or '.', at most 64)",
                    preview(name)
                ),
            ))
        }
    }

    /// An Amplify app id only (an Amplify event's `appId`, the
    /// `AmplifyAppIds` parameter).
    pub fn amplify(s: &str) -> Result<Self, ParseError> {
        let valid = s.len() >= 2
            && s.len() <= 20
            && s.starts_with('d')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "appId",
                format!(
                    "{} is not an Amplify app id (d followed by 1-19 lowercase letters or digits)",
                    preview(s)
                ),
            ))
        }
    }
}

impl FromStr for AppId {
    type Err = ParseError;
    /// Any of the three forms: `d…`, `cfn:<stack>`, `svc:<service>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(name) = s.strip_prefix(Self::STACK_PREFIX) {
            Self::stack(name)
        } else if let Some(name) = s.strip_prefix(Self::SERVICE_PREFIX) {
            Self::service(name)
        } else {
            Self::amplify(s)
        }
    }
}
string_newtype_serde!(AppId);

/// A git branch name as Amplify knows it: 1-255 characters, no control
/// characters, no `.` or `..` component (git's rules too).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BranchName(String);

impl BranchName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sub-domain Amplify serves the branch on: `/` and `.` become `-`.
    pub fn display_name(&self) -> String {
        self.0.replace(['/', '.'], "-")
    }
}

impl FromStr for BranchName {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ParseError::new("branchName", "is empty"));
        }
        if s.len() > 255 {
            return Err(ParseError::new(
                "branchName",
                format!("is {} bytes long; Amplify allows at most 255", s.len()),
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(ParseError::new(
                "branchName",
                format!("{} contains control characters", preview(s)),
            ));
        }
        // git refuses these too; in a URL they would be dot segments that
        // move the path (`/sites/../admin`), encoded or not.
        if s.split('/').any(|part| part == "." || part == "..") {
            return Err(ParseError::new(
                "branchName",
                format!("{} has a `.` or `..` component", preview(s)),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}
string_newtype_serde!(BranchName);

/// An Amplify job id. Amplify writes it unpadded in events and API answers
/// (`"4"`) and padded to ten digits in ARNs (`0000000004`); both parse to the
/// same value. The canonical text form is the unpadded one; [`JobId::padded`]
/// gives the sortable form used in keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(u64);

impl JobId {
    pub fn new(n: u64) -> Self {
        Self(n)
    }
    pub fn number(self) -> u64 {
        self.0
    }
    pub fn padded(self) -> String {
        format!("{:010}", self.0)
    }
}

impl FromStr for JobId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new(
                "jobId",
                format!("{} is not a job id (1-19 digits)", preview(s)),
            ));
        }
        s.parse::<u64>()
            .map(Self)
            .map_err(|e| ParseError::new("jobId", e.to_string()))
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for JobId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for JobId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// The environment a stack serves. One stack per environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Dev,
    Staging,
    Prod,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Staging => "staging",
            Self::Prod => "prod",
        }
    }
}

impl FromStr for Environment {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dev" => Ok(Self::Dev),
            "staging" => Ok(Self::Staging),
            "prod" => Ok(Self::Prod),
            other => Err(ParseError::new(
                "environment",
                format!("{} is not one of dev, staging, prod", preview(other)),
            )),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A build's status. Amplify's events carry STARTED, SUCCEED and FAILED; its API
/// also knows PENDING, PROVISIONING, RUNNING, CANCELLING and CANCELLED. Anything
/// else is kept verbatim as `Unknown` rather than rejected, because AWS may add
/// statuses and losing an event is worse than not understanding it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BuildStatus {
    Started,
    Succeeded,
    Failed,
    Cancelled,
    Unknown(String),
}

impl BuildStatus {
    /// Parses Amplify's spelling (events and API alike).
    pub fn from_amplify(raw: &str) -> Self {
        match raw {
            "STARTED" | "PENDING" | "PROVISIONING" | "RUNNING" | "CANCELLING" => Self::Started,
            "SUCCEED" | "SUCCEEDED" => Self::Succeeded,
            "FAILED" => Self::Failed,
            "CANCELLED" => Self::Cancelled,
            other => Self::Unknown(other.to_owned()),
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }

    /// The stored spelling (also Amplify's, so records read like the console).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Started => "STARTED",
            Self::Succeeded => "SUCCEED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Unknown(raw) => raw,
        }
    }
}

impl fmt::Display for BuildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for BuildStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BuildStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_amplify(&String::deserialize(d)?))
    }
}

/// Amplify's basic-auth credentials of a password-protected site
/// (`basicAuthCredentials`: base64 of `user:password`). A secret: never
/// printed, logged or serialized; only the health checker sends it, and only
/// to the site's own origin.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth(String);

impl BasicAuth {
    /// From `enableBasicAuth` and `basicAuthCredentials`: `None` when the
    /// protection is off or has no credentials.
    pub fn from_amplify(enabled: bool, credentials: Option<&str>) -> Option<Self> {
        let credentials = credentials?.trim();
        (enabled && !credentials.is_empty()).then(|| Self(credentials.to_owned()))
    }

    /// The `Authorization` header's value.
    pub fn header_value(&self) -> String {
        format!("Basic {}", self.0)
    }
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BasicAuth(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_id_accepts_padded_and_unpadded_forms_as_one_value() {
        let a: JobId = "4".parse().unwrap();
        let b: JobId = "0000000004".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "4");
        assert_eq!(a.padded(), "0000000004");
    }

    #[test]
    fn job_id_rejects_non_digits_and_empty() {
        for bad in ["", "4a", "-1", " 4", "12345678901234567890"] {
            let err = bad.parse::<JobId>().unwrap_err();
            assert_eq!(err.field, "jobId", "{bad}");
        }
    }

    #[test]
    fn app_id_follows_amplify_pattern() {
        assert!("d1a2b3c4d5e6f7".parse::<AppId>().is_ok());
        for bad in ["", "d", "D123", "x123", "d12_3", "d123456789012345678901"] {
            assert!(bad.parse::<AppId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn stacks_and_services_share_the_key_space_without_colliding_with_apps() {
        let stack: AppId = "cfn:shop-api-prod".parse().unwrap();
        assert_eq!(stack.source(), Source::CloudFormation);
        assert_eq!(stack.name(), "shop-api-prod");
        assert_eq!(AppId::stack("shop-api-prod").unwrap(), stack);
        let service: AppId = "svc:web.eu-1".parse().unwrap();
        assert_eq!(service.source(), Source::Report);
        assert_eq!(service.name(), "web.eu-1");
        let app: AppId = "d1abc".parse().unwrap();
        assert!(app.is_amplify() && !stack.is_amplify() && !service.is_amplify());
        assert_eq!(app.name(), "d1abc");
        for bad in [
            "cfn:", "cfn:1abc", "cfn:a_b", "cfn:a#b", "svc:", "svc:-x", "svc:a/b", "svc:a#b",
            "svc:a:b",
        ] {
            assert!(bad.parse::<AppId>().is_err(), "{bad}");
        }
        assert!(AppId::stack(&"a".repeat(129)).is_err());
        assert!(AppId::service(&"a".repeat(65)).is_err());
        // An Amplify event or parameter never takes the other forms.
        let err = AppId::amplify("cfn:shop").unwrap_err();
        assert_eq!(err.field, "appId");
        for source in Source::ALL {
            assert_eq!(source.as_str().parse::<Source>().unwrap(), source);
        }
        assert!(
            "sam"
                .parse::<Source>()
                .unwrap_err()
                .reason
                .contains("amplify, cloudformation or report")
        );
    }

    #[test]
    fn branch_name_limits_and_display_name() {
        let b: BranchName = "feature/login.v2".parse().unwrap();
        assert_eq!(b.display_name(), "feature-login-v2");
        assert!("".parse::<BranchName>().is_err());
        assert!("a\nb".parse::<BranchName>().is_err());
        let long = "x".repeat(256);
        let err = long.parse::<BranchName>().unwrap_err();
        assert!(err.reason.contains("256"), "{err}");
        for dots in [".", "..", "a/../b", "./a", "a/."] {
            let err = dots.parse::<BranchName>().unwrap_err();
            assert!(err.reason.contains("component"), "{dots}: {err}");
        }
        assert!(
            "a..b/.c/d.".parse::<BranchName>().is_ok(),
            "dots inside names"
        );
    }

    #[test]
    fn unknown_status_is_kept_verbatim() {
        let s = BuildStatus::from_amplify("PAUSED");
        assert_eq!(s, BuildStatus::Unknown("PAUSED".into()));
        assert_eq!(s.as_str(), "PAUSED");
        assert!(!s.is_terminal());
    }

    #[test]
    fn oversized_values_are_previewed_not_echoed() {
        let huge = "d".repeat(10_000);
        let err = huge.parse::<AppId>().unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    #[test]
    fn a_token_in_an_id_field_is_not_repeated_in_the_error() {
        let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
        let err = token.parse::<JobId>().unwrap_err().to_string();
        assert!(!err.contains(token), "{err}");
        assert!(err.contains("jobId") && err.contains("ghp_"), "{err}");
        let err = format!("sk_live_{}", "a1B2c3D4".repeat(4))
            .parse::<AppId>()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("a1B2c3D4a1B2"), "{err}");
        // An ordinary bad value is still shown, so the error says what was wrong.
        let err = "four".parse::<JobId>().unwrap_err().to_string();
        assert!(err.contains("\"four\""), "{err}");
    }
}
