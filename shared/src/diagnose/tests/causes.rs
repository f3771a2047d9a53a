//! Which failure is the cause: the earliest, the specific one under a
//! wrapper, not a warning the build survived nor a completed phase's error.

use super::*;

#[test]
fn an_image_that_cannot_run_the_toolchain_is_the_cause_of_what_failed_before() {
    let d = diagnose_failing(&[
        "Error: Cannot find module '/root/.nvm/versions/node/v20.11.1/lib/node_modules/pnpm/package.json'",
        "node: /lib64/libc.so.6: version `GLIBC_2.28' not found (required by node)",
    ]);
    assert_eq!(d.category, "build-image-glibc", "{d:#?}");
    assert_eq!(d.secondary.len(), 1);
    assert_eq!(d.secondary[0].category, "module-not-found");
}

#[test]
fn a_failed_backend_deployment_yields_to_the_denial_that_caused_it() {
    let d = diagnose_failing(&[
        "CloudFormationDeploymentError: The CloudFormation deployment has failed.",
        "Resolution: Find more information in the CloudFormation AWS Console for this stack.",
        "Cause: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/AmplifyRole/BuildSession is not authorized to perform: ssm:GetParameter",
    ]);
    assert_eq!(d.category, "iam-role");
    assert_eq!(d.secondary.len(), 1);
    assert_eq!(d.secondary[0].category, "backend-deploy-failed");
}

#[test]
fn the_earliest_cause_wins_and_the_rest_are_secondary() {
    let d = diagnose_failing(&[
        "Module not found: Can't resolve 'lodash-es' in '/codebuild/output/src1/src/shop/app'",
        "./app/page.tsx:4:1",
        "Type error: Cannot find name 'foo'.",
    ]);
    assert_eq!(d.category, "module-not-found");
    assert_eq!(d.evidence[0].line, 9);
    assert_eq!(d.secondary.len(), 1);
    assert_eq!(d.secondary[0].category, "typescript-error");
    assert_eq!(d.secondary[0].line, 11);
}

#[test]
fn warnings_the_build_survived_are_not_causes() {
    let d = diagnose_failing(&[
        "Compiled with warnings",
        "./lib/util.js",
        "Attempted import error: 'helper' is not exported from './helpers'.",
        "Linting and checking validity of types ...",
        "Failed to compile.",
        "./app/page.tsx:12:5",
        "Type error: Property 'id' does not exist on type 'User'.",
    ]);
    assert_eq!(d.category, "typescript-error");
    assert!(d.secondary.is_empty(), "{:?}", d.secondary);
    assert_eq!(d.evidence[0].text, "./app/page.tsx:12:5");
    assert_eq!(d.evidence[1].line, 15);
}

#[test]
fn an_error_in_a_phase_that_completed_is_not_the_cause() {
    let mut lines = vec![
        "# Starting phase: preBuild",
        "# Executing command: npm ci || npm install",
        "npm ERR! code ETIMEDOUT",
        "npm ERR! network request to https://registry.npmjs.org/react failed",
        "added 900 packages in 40s",
        "# Completed phase: preBuild",
        "# Starting phase: build",
        "# Executing command: npm run build",
        "Type error: Argument of type 'string' is not assignable to parameter of type 'number'.",
    ];
    lines.extend(TAIL);
    let d = diagnose_bytes(log(&lines).as_bytes());
    assert_eq!(d.category, "typescript-error");
    assert!(!d.transient, "a retry cannot fix a type error");
    assert!(d.secondary.is_empty());
}

#[test]
fn npm_retry_warnings_are_not_network_failures() {
    let d = diagnose_failing(&[
        "npm WARN tarball tarball data for react@18.2.0 seems to be corrupted. Trying again.",
        "npm warn retry will retry, error on last attempt: Error: read ECONNRESET",
        "Type error: Cannot find name 'x'.",
    ]);
    assert_eq!(d.category, "typescript-error");
}

#[test]
fn a_real_network_failure_is_transient() {
    let d = diagnose_failing(&[
        "npm ERR! code ECONNRESET",
        "npm ERR! network aborted",
        "npm ERR! network This is a problem related to network connectivity.",
    ]);
    assert_eq!(d.category, "network-transient");
    assert!(d.transient);
}

#[test]
fn a_wrapper_yields_to_the_specific_cause_printed_under_it() {
    let d = diagnose_failing(&[
        "Error occurred prerendering page \"/pricing\". Read more: https://nextjs.org/docs/messages/prerender-error",
        "Error: Missing required environment variable NEXT_PUBLIC_API_URL",
        "    at getConfig (/codebuild/output/src1/src/shop/.next/server/chunks/12.js:1:200)",
    ]);
    assert_eq!(d.category, "missing-env-var");
    assert_eq!(d.secondary[0].category, "prerender-error");
}

#[test]
fn a_killed_build_without_another_cause_is_out_of_memory() {
    let mut lines: Vec<&str> = HEAD.to_vec();
    lines.extend([
        "!!! Build failed",
        "!!! Error: Command failed with exit code 137",
    ]);
    let d = diagnose_bytes(log(&lines).as_bytes());
    assert_eq!(d.category, "build-instance-oom");
    assert_eq!(d.exit_code, Some(137));
}

#[test]
fn the_caching_step_is_told_apart_from_the_build() {
    let mut lines: Vec<&str> = HEAD.to_vec();
    lines.extend([
        "Compiled successfully",
        "# Completed phase: build",
        "## Completed Frontend Build",
        "# Starting environment caching...",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        "!!! Build failed",
    ]);
    let d = diagnose_bytes(log(&lines).as_bytes());
    assert_eq!(d.category, "cache-step-oom");
}
