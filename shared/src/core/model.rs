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

/// An Amplify app id: `d` followed by lowercase letters and digits, at most 20
/// characters (Amplify's own constraint).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppId(String);

impl AppId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AppId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
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
