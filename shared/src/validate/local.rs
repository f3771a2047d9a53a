//! Building a [`ValidationInput`] from a checkout: an env file (or the
//! process environment) and the files of a directory. Used by
//! `sentinel validate` and by the tests.

use std::collections::BTreeMap;
use std::path::Path;

use super::input::{InputError, Platform, SourceFile, ValidationInput};
use crate::core::model::Environment;

/// Parses `KEY=VALUE` lines (`export ` prefixes, `#` comments, single or
/// double quotes). A line that is none of these is an error naming it.
pub fn parse_env_file(text: &str, name: &str) -> Result<BTreeMap<String, String>, InputError> {
    let mut vars = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let error = |reason: &str| InputError {
            file: name.to_owned(),
            line: i + 1,
            column: 1,
            reason: reason.to_owned(),
        };
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| error("expected KEY=VALUE"))?;
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(error("the name before = must be letters, digits and _"));
        }
        let value = value.trim();
        let unquoted = match (value.chars().next(), value.chars().last()) {
            (Some(q @ ('"' | '\'')), Some(end)) if value.len() >= 2 && end == q => {
                &value[1..value.len() - 1]
            }
            (Some('"' | '\''), _) => return Err(error("unterminated quote")),
            _ => value,
        };
        vars.insert(key.to_owned(), unquoted.to_owned());
    }
    Ok(vars)
}

fn read_optional(dir: &Path, file: &str) -> Result<Option<SourceFile>, InputError> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(SourceFile {
            name: file.to_owned(),
            text,
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(InputError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            reason: e.to_string(),
        }),
    }
}

/// Reads `amplify.yml`, `package.json` and `package-lock.json` from `dir`
/// when present, and the variables from `env_file` or else `process_env`.
pub fn input_from_dir(
    dir: &Path,
    env_file: Option<&Path>,
    process_env: impl Iterator<Item = (String, String)>,
    environment: Environment,
    platform: Option<Platform>,
    build_memory_gib: u32,
) -> Result<ValidationInput, InputError> {
    let mut input = ValidationInput::new(environment);
    input.platform = platform;
    input.build_memory_gib = build_memory_gib;
    match env_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| InputError {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                reason: e.to_string(),
            })?;
            input.variables = parse_env_file(&text, &path.display().to_string())?;
            input.declared = input.variables.keys().cloned().collect();
        }
        None => input.variables = process_env.collect(),
    }
    input.build_spec = read_optional(dir, "amplify.yml")?;
    input.package_json = read_optional(dir, "package.json")?;
    input.package_lock = read_optional(dir, "package-lock.json")?;
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_accept_quotes_exports_and_comments() {
        let vars = parse_env_file("# c\nexport A=1\nB=\"two words\"\nC='x=y'\n\n", ".env").unwrap();
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "two words");
        assert_eq!(vars["C"], "x=y");
    }

    #[test]
    fn a_bad_env_line_is_named() {
        let err = parse_env_file("A=1\nthis is not a variable\n", "prod.env").unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("prod.env", 2));
        let err = parse_env_file("A=\"open\n", "prod.env").unwrap_err();
        assert!(err.reason.contains("quote"));
    }
}
