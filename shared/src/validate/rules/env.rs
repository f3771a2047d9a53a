//! Rules on environment variables: required, exposed secrets, malformed
//! values.

use super::public_values::{Exposure, classify};
use crate::core::model::Environment;
use crate::core::redact::{mask, secret_by_name};
use crate::core::verdicts::Finding;
use crate::validate::input::{Secrets, ValidationInput};
use crate::validate::policy::ValidationPolicy;

pub const PUBLIC_PREFIX: &str = "NEXT_PUBLIC_";

/// Suffixes of settings that must be numbers.
const NUMERIC_SUFFIXES: &[&str] = &[
    "_PORT",
    "_TIMEOUT",
    "_TIMEOUT_MS",
    "_MS",
    "_SECONDS",
    "_TTL",
    "_MAX_CONNECTIONS",
    "_POOL_SIZE",
];

pub fn check(input: &ValidationInput, policy: &ValidationPolicy) -> Vec<Finding> {
    let mut out = Vec::new();
    required_missing(input, policy, &mut out);
    for (name, value) in &input.variables {
        secret_exposed(name, value, policy, &mut out);
        malformed(name, value, input.environment, &mut out);
    }
    out
}

fn required_missing(input: &ValidationInput, policy: &ValidationPolicy, out: &mut Vec<Finding>) {
    let mut unverified = Vec::new();
    for name in policy.required_in(input.environment) {
        let state = match input.variables.get(name) {
            _ if input.secrets.location(name).is_some() => continue,
            None => "is not set",
            Some(v) if v.trim().is_empty() => "is empty",
            Some(_) => continue,
        };
        if matches!(input.secrets, Secrets::Unchecked(_)) {
            // It may be a secret we could not see: no error on a guess.
            unverified.push(name);
            continue;
        }
        out.push(
            Finding::new(
                "env.required-missing",
                format!(
                    "{name} {state}; the policy requires it in {}",
                    input.environment
                ),
                format!(
                    "set {name} in Amplify (App settings → Environment variables) for this branch, \
                     or as an Amplify secret (SSM parameter /amplify/{{appId}}/{{branch}}/{name}), \
                     or remove it from the policy's required list"
                ),
            )
            .at(name),
        );
    }
    if let (Secrets::Unchecked(why), false) = (&input.secrets, unverified.is_empty()) {
        out.push(
            Finding::new(
                "env.secrets-unchecked",
                format!(
                    "could not check SSM Parameter Store for Amplify secrets ({}); {} not among \
                     Amplify's environment variables and may be secrets there: not reported missing",
                    bounded(why),
                    unverified.join(", ")
                ),
                "let the validator list parameter names (ssm:DescribeParameters in its role, as \
                 template.yaml grants), or set these variables in Amplify's environment variables",
            )
            .at("SSM Parameter Store"),
        );
    }
}

/// SSM's own words, masked and cut: they go into the report and alerts.
fn bounded(why: &str) -> String {
    const MAX: usize = 300;
    let masked = crate::core::redact::mask_in_text(why);
    match masked.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &masked[..at]),
        None => masked,
    }
}

/// Required variables found only as Amplify secrets, and where: the
/// report's notes (names and paths, never values).
pub fn notes(input: &ValidationInput, policy: &ValidationPolicy) -> Vec<String> {
    policy
        .required_in(input.environment)
        .into_iter()
        .filter(|name| {
            input
                .variables
                .get(*name)
                .is_none_or(|v| v.trim().is_empty())
        })
        .filter_map(|name| {
            let path = input.secrets.location(name)?;
            Some(format!("{name}: present as an SSM secret ({path}{name})"))
        })
        .collect()
}

/// Judges a `NEXT_PUBLIC_` value by its format first: a key made to be
/// public passes whatever its name; a secret fails whatever its name; only
/// when the format says nothing does the name count, and then as a warning
/// (a build is never stopped over a name) — unless the policy's
/// `secret_names` says the team keeps secrets under it.
fn secret_exposed(name: &str, value: &str, policy: &ValidationPolicy, out: &mut Vec<Finding>) {
    let Some(server_name) = name.strip_prefix(PUBLIC_PREFIX) else {
        return;
    };
    let fix = format!(
        "rename it to {server_name} (without {PUBLIC_PREFIX}) and read it only on the server; \
         then rotate the secret, it has been public"
    );
    let exposure = classify(server_name, value);
    if let Exposure::Secret(what) = exposure {
        let reason = format!("its value looks like {what} ({})", mask(value));
        out.push(exposed("env.secret-exposed", name, &reason, fix));
        return;
    }
    if matches!(exposure, Exposure::Public(_)) {
        return;
    }
    let named = secret_by_name(server_name, policy.secret_names);
    if let Some(extra) = named.filter(|extra| !extra.is_empty()) {
        let reason = format!("its name contains {extra:?}, a secret name in the policy");
        out.push(exposed("env.secret-exposed", name, &reason, fix));
        return;
    }
    let reason = match (exposure, named) {
        (Exposure::Suspect, _) => format!(
            "its value looks like a generated key of no known public format ({})",
            mask(value)
        ),
        (_, Some(_)) => "its name marks a secret, and its value is no known public key".to_owned(),
        _ => return,
    };
    let fix = format!(
        "if it is a key meant for browsers, keep it (or set env.secret-suspected to off in the \
         policy); if it is a secret, {fix}"
    );
    out.push(exposed("env.secret-suspected", name, &reason, fix));
}

fn exposed(rule: &str, name: &str, reason: &str, fix: String) -> Finding {
    Finding::new(
        rule,
        format!("{name} is inlined into the JavaScript sent to every browser, and {reason}"),
        fix,
    )
    .at(name)
}

/// A value is never quoted in a finding (the finding reaches the record,
/// the events, the archive, alerts and `--json`, and a URL's password can
/// take any shape): it names the variable and, for a URL that parses, at
/// most its scheme.
fn malformed(name: &str, value: &str, environment: Environment, out: &mut Vec<Finding>) {
    let value = value.trim();
    if value.is_empty() {
        return;
    }
    let problem = if name.ends_with("DATABASE_URL") {
        match url::Url::parse(value) {
            Err(url::ParseError::RelativeUrlWithoutBase) => Some((
                "has no scheme (postgres://, mysql://, …)".to_owned(),
                DATABASE_URL_SHAPE.to_owned(),
            )),
            Err(e) => Some((
                format!("does not parse as a URL ({e})"),
                format!("{DATABASE_URL_SHAPE}; {ENCODE_PASSWORD}"),
            )),
            Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                Some(("has no host".to_owned(), DATABASE_URL_SHAPE.to_owned()))
            }
            Ok(_) => None,
        }
    } else if name.ends_with("_URL") || name.ends_with("_URI") {
        match url::Url::parse(value) {
            Err(e) => Some((
                format!("is not a URL ({e})"),
                format!(
                    "set {name} to an absolute URL such as https://example.com; {ENCODE_PASSWORD}"
                ),
            )),
            Ok(u)
                if name == "NEXTAUTH_URL"
                    && environment != Environment::Dev
                    && u.scheme() != "https" =>
            {
                Some((
                    format!(
                        "uses {}:// in {environment}; NextAuth needs https outside development",
                        u.scheme()
                    ),
                    "set NEXTAUTH_URL to the site's https:// address".to_owned(),
                ))
            }
            Ok(_) => None,
        }
    } else if NUMERIC_SUFFIXES.iter().any(|s| name.ends_with(s)) && value.parse::<f64>().is_err() {
        Some((
            "is not a number".to_owned(),
            format!("set {name} to a number"),
        ))
    } else {
        None
    };
    if let Some((what, fix)) = problem {
        out.push(Finding::new("env.malformed", format!("{name} {what}"), fix).at(name));
    }
}

const DATABASE_URL_SHAPE: &str = "write it as scheme://user:password@host:port/database";

/// The usual cause of a URL with a password that does not parse.
const ENCODE_PASSWORD: &str = "if its password holds / @ : # or ?, percent-encode them \
                               (%2F %40 %3A %23 %3F)";
