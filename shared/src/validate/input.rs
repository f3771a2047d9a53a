//! What a validation looks at ([`ValidationInput`]): the platform, the
//! variables, the build spec, the manifest and its lockfile, the names of
//! the branch's Amplify secrets; and why an input cannot be read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::model::{AppId, BranchName, Environment};

/// The hosting platform: static (`WEB`) or server-side rendering (`WEB_COMPUTE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Platform {
    #[serde(rename = "WEB")]
    Web,
    #[serde(rename = "WEB_COMPUTE")]
    WebCompute,
}

impl Platform {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "WEB" | "WEB_DYNAMIC" => Some(Self::Web),
            "WEB_COMPUTE" => Some(Self::WebCompute),
            _ => None,
        }
    }
}

/// A text file given to the engine, with the name findings will cite.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// What is known of the branch's Amplify secrets (SSM Parameter Store,
/// `/amplify/{appId}/{branch}/` and `/amplify/shared/{appId}/`): names and
/// where each was found, never a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Secrets {
    /// Not looked up: `sentinel validate` (a checkout has no Amplify
    /// secrets), or every required variable is among the variables.
    #[default]
    NotLooked,
    /// Name → the path it was found under (the branch's wins).
    Found(BTreeMap<String, String>),
    /// The lookup failed (access denied, …): why, in SSM's words.
    Unchecked(String),
}

impl Secrets {
    /// Where `name` was found, if it was.
    pub fn location(&self, name: &str) -> Option<&str> {
        match self {
            Self::Found(names) => names.get(name).map(String::as_str),
            _ => None,
        }
    }
}

/// Where an Amplify build reads its secrets (SSM Parameter Store): the
/// branch's path, then the app's shared one (Amplify's documentation:
/// `/amplify/{appId}/{branch}/NAME` and `/amplify/shared/{appId}/NAME`).
pub fn secret_paths(app_id: &AppId, branch: &BranchName) -> [String; 2] {
    [
        format!("/amplify/{app_id}/{branch}/"),
        format!("/amplify/shared/{app_id}/"),
    ]
}

/// Everything a validation looks at. Absent parts skip the rules that need
/// them (listed in the report's `skipped`).
#[derive(Debug, Clone)]
pub struct ValidationInput {
    pub environment: Environment,
    pub platform: Option<Platform>,
    /// Amplify's framework string of the branch (e.g. "Next.js - SSR").
    pub framework: Option<String>,
    /// The build's environment variables, app and branch merged.
    pub variables: BTreeMap<String, String>,
    /// Variables the user declared (Amplify console, env file): the ones
    /// `env.server-vars-not-exported` considers. The process environment of a
    /// shell holds many more that are not the app's.
    pub declared: Vec<String>,
    pub build_spec: Option<SourceFile>,
    pub package_json: Option<SourceFile>,
    pub package_lock: Option<SourceFile>,
    /// Memory of the build instance in GiB: 8 (standard), 16 (large), 72 (xlarge).
    pub build_memory_gib: u32,
    /// The names of the branch's Amplify secrets, when they were looked up.
    pub secrets: Secrets,
}

impl ValidationInput {
    pub fn new(environment: Environment) -> Self {
        Self {
            environment,
            platform: None,
            framework: None,
            variables: BTreeMap::new(),
            declared: Vec::new(),
            build_spec: None,
            package_json: None,
            package_lock: None,
            build_memory_gib: 8,
            secrets: Secrets::NotLooked,
        }
    }

    /// Memory of Amplify's build compute types.
    pub fn memory_for_compute_type(compute_type: &str) -> u32 {
        match compute_type {
            "LARGE_16GB" => 16,
            "XLARGE_72GB" => 72,
            _ => 8,
        }
    }
}

/// A package.json or lockfile that cannot be read: the validation cannot
/// run, and the caller says which file and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {reason}")]
pub struct InputError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}
