//! Rules on environment variables: required, exposed secrets, malformed
//! values.

use super::public_values::{Exposure, classify};
use crate::core::model::Environment;
use crate::core::redact::{mask, secret_by_name, secret_by_value};
use crate::policy::BranchPolicy;
use crate::validate::{Finding, ValidationInput};

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

pub fn check(input: &ValidationInput, policy: &BranchPolicy) -> Vec<Finding> {
    let mut out = Vec::new();
    required_missing(input, policy, &mut out);
    for (name, value) in &input.variables {
        secret_exposed(name, value, policy, &mut out);
        malformed(name, value, input.environment, &mut out);
    }
    out
}

fn required_missing(input: &ValidationInput, policy: &BranchPolicy, out: &mut Vec<Finding>) {
    for name in policy.required_in(input.environment) {
        let state = match input.variables.get(name) {
            None => "is not set",
            Some(v) if v.trim().is_empty() => "is empty",
            Some(_) => continue,
        };
        out.push(
            Finding::new(
                "env.required-missing",
                format!(
                    "{name} {state}; the policy requires it in {}",
                    input.environment
                ),
                format!(
                    "set {name} in Amplify (App settings → Environment variables) for this branch, \
                     or remove it from the policy's required list"
                ),
            )
            .at(name),
        );
    }
}

/// Judges a `NEXT_PUBLIC_` value by its format first: a key made to be
/// public passes whatever its name; a secret fails whatever its name; only
/// when the format says nothing does the name count, and then as a warning
/// (a build is never stopped over a name) — unless the policy's
/// `secret_names` says the team keeps secrets under it.
fn secret_exposed(name: &str, value: &str, policy: &BranchPolicy, out: &mut Vec<Finding>) {
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
    let named = secret_by_name(server_name, &policy.secret_names);
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

fn malformed(name: &str, value: &str, environment: Environment, out: &mut Vec<Finding>) {
    let value = value.trim();
    if value.is_empty() {
        return;
    }
    let secret = secret_by_name(name, &[]).is_some() || secret_by_value(value).is_some();
    let shown = if secret {
        mask(value)
    } else {
        format!("{value:?}")
    };
    let problem = if name.ends_with("DATABASE_URL") {
        match url::Url::parse(value) {
            Err(_) => Some((
                "has no scheme (postgres://, mysql://, …)".to_owned(),
                "write it as scheme://user:password@host:port/database".to_owned(),
            )),
            Ok(u) if u.host_str().is_none_or(str::is_empty) => Some((
                "has no host".to_owned(),
                "write it as scheme://user:password@host:port/database".to_owned(),
            )),
            Ok(_) => None,
        }
    } else if name.ends_with("_URL") || name.ends_with("_URI") {
        match url::Url::parse(value) {
            Err(e) => Some((
                format!("is not a URL ({e})"),
                format!("set {name} to an absolute URL such as https://example.com"),
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
        out.push(Finding::new("env.malformed", format!("{name} ({shown}) {what}"), fix).at(name));
    }
}
