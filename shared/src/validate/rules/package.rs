//! The package manifest and its lockfile, parsed once and read by the
//! build-spec and dependency rules.

use semver::Version;
use serde_json::Value;

use crate::validate::input::{InputError, SourceFile};

/// A `package.json` and, when there is one, its lockfile.
pub struct Package {
    pub manifest: Value,
    pub lock: Option<Value>,
    pub(super) manifest_name: String,
    pub(super) lock_name: Option<String>,
}

fn parse_json(file: &SourceFile) -> Result<Value, InputError> {
    serde_json::from_str(&file.text).map_err(|e| InputError {
        file: file.name.clone(),
        line: e.line(),
        column: e.column(),
        reason: format!("not valid JSON: {e}")
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    })
}

impl Package {
    /// `None` without a package.json; an error when either file is not JSON.
    pub fn read(
        manifest: Option<&SourceFile>,
        lock: Option<&SourceFile>,
    ) -> Result<Option<Self>, InputError> {
        let Some(manifest) = manifest else {
            return Ok(None);
        };
        let parsed = parse_json(manifest)?;
        if !parsed.is_object() {
            return Err(InputError {
                file: manifest.name.clone(),
                line: 1,
                column: 1,
                reason: "is not a JSON object".into(),
            });
        }
        let lock_value = lock.map(parse_json).transpose()?;
        Ok(Some(Self {
            manifest: parsed,
            lock: lock_value,
            manifest_name: manifest.name.clone(),
            lock_name: lock.map(|l| l.name.clone()),
        }))
    }

    /// The range package.json declares for `name` (dependencies first).
    pub fn declared(&self, name: &str) -> Option<&str> {
        ["dependencies", "devDependencies"]
            .iter()
            .find_map(|section| self.manifest.get(section)?.get(name)?.as_str())
    }

    pub(super) fn declared_all(&self) -> Vec<(String, String)> {
        ["dependencies", "devDependencies"]
            .iter()
            .filter_map(|s| self.manifest.get(s)?.as_object())
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect()
    }

    /// The version the lockfile installs for a top-level `name`.
    pub fn installed(&self, name: &str) -> Option<Version> {
        let lock = self.lock.as_ref()?;
        let raw = lock
            .get("packages")
            .and_then(|p| {
                p.get(format!("node_modules/{name}"))?
                    .get("version")?
                    .as_str()
            })
            .or_else(|| {
                lock.get("dependencies")?
                    .get(name)?
                    .get("version")?
                    .as_str()
            })?;
        Version::parse(raw).ok()
    }

    /// The major that will be used: installed, else the lowest the range allows.
    pub(super) fn major(&self, name: &str) -> Option<u64> {
        self.installed(name).map(|v| v.major).or_else(|| {
            let declared = self.declared(name)?;
            let digits: String = declared
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
    }
}
