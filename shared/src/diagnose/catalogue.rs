//! The catalogue of failure causes: each with a stable id (users filter on
//! it), a title, whether a retry can help, the fix, and how to recognise it.
//!
//! Recognition is two-staged: literal `triggers` (exact, case-sensitive
//! strings as the tools print them) find candidate lines fast, then the
//! optional `confirm` regex decides on the cleaned line. Rules are tried in
//! catalogue order, so a specific rule comes before the general one it
//! refines (`amplify-backend-missing` before `module-not-found`).
//! `docs/diagnosis.md` lists the catalogue; the fixtures under
//! `shared/tests/fixtures/diagnose/` show each category in a real log's shape.

/// One cause of failure.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id, kebab-case.
    pub id: &'static str,
    pub title: &'static str,
    /// Whether retrying the same commit can succeed.
    pub transient: bool,
    pub fix: &'static str,
    /// Literals that make a line a candidate.
    pub triggers: &'static [&'static str],
    /// A regex the cleaned line must match as well.
    pub confirm: Option<&'static str>,
    /// Literals that rule the line out (a warning, a retry).
    pub exclude: &'static [&'static str],
    /// Evidence lines kept before and after the line.
    pub before: usize,
    pub after: usize,
    /// Only in Amplify's caching step (after the build proper).
    pub caching_only: bool,
    /// A symptom that usually wraps the real cause printed right after it
    /// (a prerender error's stack): a more specific cause within the next
    /// lines takes precedence.
    pub wrapper: bool,
    /// A tool may print it as a warning the build survives (webpack's
    /// "Compiled with warnings"): inside such a block it is remembered, not
    /// a cause. A line of any other category ends the block.
    pub warning: bool,
    /// Amplify's own verdict (`!!! CustomerError: …`) is the cause even
    /// without a trigger: this regex on its text says it is this category.
    pub platform: Option<&'static str>,
    /// The build environment itself cannot run the toolchain (a binary the
    /// image cannot load): what failed before it in the log failed for the
    /// same reason, so it is the cause wherever it appears.
    pub environment: bool,
}

const fn rule(id: &'static str, title: &'static str, fix: &'static str) -> Rule {
    Rule {
        id,
        title,
        transient: false,
        fix,
        triggers: &[],
        confirm: None,
        exclude: &[],
        before: 0,
        after: 2,
        caching_only: false,
        wrapper: false,
        warning: false,
        platform: None,
        environment: false,
    }
}

/// The category of a failure nothing in the catalogue recognised.
pub const UNKNOWN: Rule = rule(
    "unknown",
    "The build failed without a recognisable cause",
    "Open the log at the evidence lines: the failing command and its exit code are shown. If the cause is a new kind, add it to the catalogue.",
);

/// The category when the build's log could not be read (expired or absent).
pub const LOG_UNAVAILABLE: Rule = rule(
    "log-unavailable",
    "The build failed; its log could not be read",
    "Open the job in the Amplify console to read its log. Amplify's log links expire after a few minutes, so a delivery delayed that long finds none.",
);

/// A build killed for lack of memory (also the category of exit code 137
/// with no other cause).
pub const BUILD_INSTANCE_OOM: Rule = Rule {
    triggers: &[
        "process exited too early",
        "ran out of memory or someone called",
        "signal SIGKILL",
        "Killed",
    ],
    // A bare `Killed` is also the caching step's; here only bash's report of
    // a command it lost to SIGKILL (`amplify.sh: line 18:  2807 Killed  npm run build`).
    confirm: Some(
        r"process exited too early|ran out of memory or someone called|signal SIGKILL|line \d+:\s+\d+ Killed\b",
    ),
    ..rule(
        "build-instance-oom",
        "The build container ran out of memory and the build was killed",
        "Use a larger build instance (App settings → Build settings → Build instance type: LARGE_16GB or XLARGE_72GB), or lower the build's parallelism (e.g. `experimental.cpus` in next.config.js, fewer parallel jobs in a monorepo).",
    )
};

/// Every rule, most specific first.
pub static RULES: &[Rule] = &[
    BUILD_INSTANCE_OOM,
    Rule {
        triggers: &[
            "JavaScript heap out of memory",
            "Reached heap limit",
            "ERR_FS_FILE_TOO_LARGE",
            "Unable to write cache",
            "Killed",
            "out of memory",
        ],
        confirm: Some(
            r"(?i)heap out of memory|reached heap limit|ERR_FS_FILE_TOO_LARGE|unable to write cache|^killed\b|out of memory",
        ),
        caching_only: true,
        ..rule(
            "cache-step-oom",
            "The build succeeded but saving its cache failed (too large or out of memory)",
            "Cache less: drop `.next/cache/**/*` or `node_modules/**/*` from `cache.paths` in amplify.yml (or cache only `.npm/**/*` with `npm ci --cache .npm --prefer-offline`), or clear the app's cache (App settings → Build settings → Clear cache) and use a larger build instance.",
        )
    },
    Rule {
        triggers: &[
            "JavaScript heap out of memory",
            "Reached heap limit",
            "Ineffective mark-compacts near heap limit",
            "Allocation failed - JavaScript heap",
        ],
        before: 0,
        after: 1,
        ..rule(
            "node-heap-oom",
            "Node.js ran out of heap memory during the build",
            "Raise Node's heap limit: add `export NODE_OPTIONS=--max-old-space-size=7168` before the build command in amplify.yml (the default STANDARD_8GB instance has 8 GB), or move the app to a larger build instance (App settings → Build settings → Build instance type: LARGE_16GB) and raise the limit to 14336.",
        )
    },
    Rule {
        triggers: &[
            "exceeds the max allowed size",
            "exceeds the maximum allowed size",
            "exceeds the maximum size",
            "output exceeds",
            "Build output size",
            "too large to deploy",
        ],
        confirm: Some(r"(?i)exceed|too large"),
        ..rule(
            "build-output-too-large",
            "The build output is larger than Amplify accepts",
            "Shrink what is deployed: make sure `.next/cache` is not in the artifacts, move large files out of `public/` to S3 or a CDN, and trim the server bundle (`outputFileTracingExcludes` in next.config.js, remove unused dependencies). Amplify's limit for the compute bundle is 220 MB.",
        )
    },
    Rule {
        triggers: &["GLIBC_", "GLIBCXX_"],
        confirm: Some(r"GLIBC(XX)?_[0-9.]+'? not found"),
        environment: true,
        ..rule(
            "build-image-glibc",
            "A binary needs a newer glibc than the build image has",
            "Use the Amazon Linux 2023 build image (App settings → Build settings → Build image settings: Amazon Linux:2023), which Node.js 18 and later need; or pin the tool to a version built for the older image.",
        )
    },
    Rule {
        triggers: &[
            "aws-exports",
            "amplify_outputs",
            "amplifyconfiguration",
            "amplify-meta.json",
        ],
        confirm: Some(
            r"(?i)(can't resolve|cannot find|could not be found|not found|no such file|ENOENT|does not exist|doesn't exist|missing|failed to resolve)",
        ),
        warning: true,
        ..rule(
            "amplify-backend-missing",
            "The app imports Amplify backend configuration that this build did not generate",
            "Generate the backend outputs in the build: connect the branch to its backend environment (App settings → Backend environments) for Gen 1 (`amplifyPush --simple` in the backend phase), or add `npx ampx pipeline-deploy --branch $AWS_BRANCH --app-id $AWS_APP_ID` (or `npx ampx generate outputs`) for Gen 2. Do not commit aws-exports.js.",
        )
    },
    Rule {
        triggers: &[
            "Node.js version",
            "EBADENGINE",
            "The engine \"node\" is incompatible",
            "Unsupported engine",
            "You are using Node.js",
            "requires Node",
            "ERR_PNPM_UNSUPPORTED_ENGINE",
            "Unsupported Node",
        ],
        confirm: Some(
            r#"(?i)node\.js version .* (is )?required|you are using node\.js|npm (ERR!|error) (code |notsup )?EBADENGINE|npm ERR! notsup|error .*the engine "node" is incompatible|ERR_PNPM_UNSUPPORTED_ENGINE|requires node(\.js)?( version)? *[>=^~v]|unsupported node"#,
        ),
        exclude: &["npm WARN", "npm warn"],
        after: 1,
        ..rule(
            "node-version",
            "The build runs a Node.js version the project does not support",
            "Select the Node.js version in the build: add `nvm install 20 && nvm use 20` (or the version in package.json `engines.node` / .nvmrc) as the first preBuild command, or set a live package override for Node.js (App settings → Build settings → Build image settings).",
        )
    },
    Rule {
        triggers: &[
            "package.json and package-lock.json",
            "are not in sync",
            "lockfile needs to be updated",
            "ERR_PNPM_OUTDATED_LOCKFILE",
            "ERR_PNPM_LOCKFILE",
            "lockfile would have been modified",
            "frozen-lockfile",
            "Missing: ",
            "can only install packages with an existing package-lock.json",
        ],
        confirm: Some(
            r"(?i)not in sync|can only install packages when your package\.json and package-lock\.json|lockfile needs to be updated|ERR_PNPM_OUTDATED_LOCKFILE|ERR_PNPM_LOCKFILE|lockfile would have been modified|missing: \S+@\S+ from lock ?file|frozen-lockfile.*(fail|error|not)|can only install packages with an existing package-lock\.json",
        ),
        ..rule(
            "lockfile-out-of-sync",
            "The lockfile does not match package.json",
            "Run `npm install` (or `yarn install` / `pnpm install`) locally, commit the updated lockfile, and push. Keep one package manager: delete the lockfiles of the others.",
        )
    },
    Rule {
        triggers: &[
            "ERESOLVE",
            "unable to resolve dependency tree",
            "Could not resolve dependency",
            "ERR_PNPM_PEER_DEP_ISSUES",
            "No matching version found",
            "ETARGET",
            "Couldn't find any versions for",
            "ERR_PNPM_NO_MATCHING_VERSION",
        ],
        confirm: Some(
            r"(?i)npm (ERR!|error) (code )?(ERESOLVE|ETARGET)|unable to resolve dependency tree|could not resolve dependency|ERR_PNPM_PEER_DEP_ISSUES|ERR_PNPM_NO_MATCHING_VERSION|no matching version found|couldn't find any versions for",
        ),
        exclude: &["npm WARN", "npm warn"],
        after: 3,
        ..rule(
            "dependency-resolution",
            "npm could not resolve the dependency tree (peer dependency conflict)",
            "Fix the conflicting versions in package.json so that peers agree; as a stopgap, install with `npm ci --legacy-peer-deps` in amplify.yml (or `legacy-peer-deps=true` in .npmrc, committed) and make the same change locally so the lockfile matches.",
        )
    },
    Rule {
        triggers: &[
            "E401",
            "E403",
            "ENEEDAUTH",
            "Unable to authenticate",
            "Incorrect or missing password",
            "authentication token seems to be invalid",
            "401 Unauthorized",
            "403 Forbidden",
            "ERR_PNPM_FETCH_401",
            "ERR_PNPM_FETCH_403",
        ],
        confirm: Some(
            r#"(?i)npm (ERR!|error) code (E401|E403|ENEEDAUTH)|unable to authenticate|incorrect or missing password|authentication token seems to be invalid|ERR_PNPM_FETCH_40[13]|40[13] (Unauthorized|Forbidden)( - (GET|PUT)|")"#,
        ),
        exclude: &["npm WARN", "npm warn"],
        after: 2,
        ..rule(
            "registry-auth",
            "The package registry refused the build's credentials",
            "Give the build a valid token for the private registry: keep it in an environment variable or secret (e.g. `NPM_TOKEN`) and write it to .npmrc in preBuild (`echo \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" >> .npmrc`, with your registry's host), renew it if it expired or was revoked, and check that a committed .npmrc holds no stale token and points each scope at the right registry.",
        )
    },
    Rule {
        triggers: &[
            "missing script:",
            "Missing script:",
            "Couldn't find a script named",
            "ERR_PNPM_NO_SCRIPT",
            "error Command \"",
        ],
        confirm: Some(
            r#"(?i)missing script:|couldn't find a script named|ERR_PNPM_NO_SCRIPT|error command "[^"]+" not found"#,
        ),
        after: 3,
        ..rule(
            "missing-script",
            "The build runs a package.json script that does not exist",
            "Run a script that package.json defines (`npm run build` needs a `\"build\"` entry under `scripts`): check the command's spelling in amplify.yml, and in a monorepo set `appRoot` (or `AMPLIFY_MONOREPO_APP_ROOT`) to the folder whose package.json has the script.",
        )
    },
    Rule {
        triggers: &[
            "ETIMEDOUT",
            "ECONNRESET",
            "EAI_AGAIN",
            "ESOCKETTIMEDOUT",
            "ECONNREFUSED",
            "socket hang up",
            "503 Service Unavailable",
            "502 Bad Gateway",
            "504 Gateway",
            "429 Too Many Requests",
            "E503",
            "E502",
            "E429",
            "E500",
            "network connection",
            "ERR_SOCKET_TIMEOUT",
            "ERR_PNPM_META_FETCH_FAIL",
            "ERR_PNPM_FETCH_",
        ],
        confirm: Some(
            r"(?i)^(npm (ERR!|error)|error\b|err_pnpm|yarn error)|ERR_PNPM_(META_)?FETCH|fetch failed|request to \S+ failed|network connection|socket hang up|npm (ERR!|error) (code |network (read |connect )?)E(TIMEDOUT|CONNRESET|AI_AGAIN|SOCKETTIMEDOUT|CONNREFUSED)",
        ),
        exclude: &[
            "npm WARN",
            "npm warn",
            "Retrying",
            "retrying",
            "info There appears",
        ],
        after: 2,
        ..Rule {
            transient: true,
            ..rule(
                "network-transient",
                "A network error reaching a package registry or download",
                "Usually passing: retry the build. If it keeps failing, cache dependencies (`npm ci --cache .npm --prefer-offline` with `.npm/**/*` in cache.paths), and check the registry's status or a proxy/.npmrc registry setting.",
            )
        }
    },
    Rule {
        triggers: &[
            "Unable to clone repository",
            "Permission denied (publickey)",
            "Repository not found",
            "could not read Username",
            "Authentication failed for",
            "Could not read from remote repository",
            "fatal: unable to access",
            "Failed to clone",
        ],
        ..rule(
            "repository-clone",
            "Amplify could not clone the repository",
            "Reconnect the repository so Amplify gets fresh access (App settings → Repository settings → Reconnect repository); check that the GitHub App / deploy key still has access to the repository and to any private submodules.",
        )
    },
    Rule {
        triggers: &[
            "Unable to assume specified IAM Role",
            "Unable to assume IAM role",
            "not authorized to perform: sts:AssumeRole",
            "is not authorized to perform",
            "AccessDenied",
            "AWS access credentials can not be found",
        ],
        confirm: Some(
            r"(?i)unable to assume|sts:AssumeRole|is not authorized to perform|AccessDenied(Exception)?:? |aws access credentials can not be found",
        ),
        ..rule(
            "iam-role",
            "The build's service role is missing or lacks a permission",
            "Check the app's service role (App settings → General settings → Service role): it must exist, trust `amplify.amazonaws.com`, and allow the action named in the evidence (e.g. AdministratorAccess-Amplify for backend builds).",
        )
    },
    Rule {
        triggers: &[
            "Unable to locate credentials",
            "ExpiredToken",
            "security token included in the request is invalid",
            "security token included in the request is expired",
            "InvalidClientTokenId",
            "Missing credentials in config",
            "CredentialsProviderError",
            "Could not load credentials",
            "The config profile",
        ],
        ..rule(
            "aws-credentials",
            "AWS credentials in the build are missing, expired or invalid",
            "Let the build use the app's service role instead of keys: remove AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE from the app's environment variables (or rotate them if they are meant to be there).",
        )
    },
    Rule {
        triggers: &[
            "An error occurred during the push operation",
            "An error occurred when pushing the resources",
            "is not in the state stackUpdateComplete",
            "state and can not be updated",
            "was not successfully updated",
            "was not successfully created",
            "Following resources failed",
            "UPDATE_FAILED",
            "CREATE_FAILED",
            "CloudFormationDeploymentError",
            "Failed to create/update the stack",
        ],
        wrapper: true,
        after: 3,
        ..rule(
            "backend-deploy-failed",
            "The backend deployment (CloudFormation) failed",
            "Open the backend stack's events in the CloudFormation console (the amplify-<app>-<branch> stack with nested stacks shown, or Detect root cause) to see which resource failed and why, fix it and redeploy. A stack left in UPDATE_ROLLBACK_FAILED must be recovered first (Stack actions → Continue update rollback); two deployments of the same backend at once make one fail, so redeploy when the other has finished.",
        )
    },
    Rule {
        triggers: &["required-server-files.json", "deploy-manifest.json"],
        confirm: Some(
            r"(?i)can't find|cannot find|could not find|not found|missing|does not exist|unable to|no such file|ENOENT|failed to (find|validate)",
        ),
        // A file the deploy needs is not in the build output.
        platform: Some(
            r"(?i)\b(file|[\w.-]+\.(json|m?js|cjs|html))\b.*\b(cannot be found|not found|is missing|missing|does not exist|doesn't exist)\b|\b(can't|cannot|could not|couldn't|unable to|failed to) (find|locate|read|open)\b.*\b(file|[\w.-]+\.(json|m?js|cjs|html))\b",
        ),
        ..rule(
            "deploy-manifest-missing",
            "The build output has no Next.js server manifest Amplify needs to deploy",
            "Deploy the Next.js build output as is: set `baseDirectory: .next` in amplify.yml's artifacts, do not use `output: 'export'` or `distDir` changes for an SSR app, and check the app's platform is WEB_COMPUTE (Next.js 12+).",
        )
    },
    Rule {
        triggers: &[
            "Artifact directory doesn't exist",
            "artifact directory",
            "Artifact directory",
            "baseDirectory",
        ],
        confirm: Some(r"(?i)(doesn't|does not|didn't) exist|not found|no such"),
        platform: Some(
            r"(?i)\b(directory|folder)\b.*\b((doesn't|does not|didn't) exist|not found|is missing)|\b(can't|cannot|could not|unable to|failed to) find\b.*\b(directory|folder)\b",
        ),
        ..rule(
            "artifact-directory-missing",
            "The artifacts directory in the build spec does not exist after the build",
            "Point `artifacts.baseDirectory` in amplify.yml at what the build really produces: `.next` for Next.js SSR, `out` for `output: 'export'`, `build` or `dist` for other frameworks.",
        )
    },
    Rule {
        triggers: &[
            "Could not load the \"sharp\" module",
            "npm has a bug related to optional dependencies",
            "@rollup/rollup-linux-",
            "Failed to load SWC binary",
            "Cannot find native binding",
            "lightningcss.linux-",
            "installed esbuild for another platform",
            "was compiled against a different Node.js version",
        ],
        after: 3,
        ..rule(
            "native-binary-missing",
            "A native module has no binary for the build's platform (Linux x64)",
            "Install dependencies on the build image instead of bringing them from another machine: do not commit node_modules, clear a cache built with another Node.js version (App settings → Build settings → Clear cache), keep optional dependencies (no `--omit=optional`), and regenerate a lockfile made on macOS or Windows (`rm -rf node_modules package-lock.json && npm install`, or pnpm's `supportedArchitectures`); for sharp, `npm install --os=linux --cpu=x64 sharp`.",
        )
    },
    Rule {
        triggers: &[
            "Attempted import error",
            "is not exported from",
            "does not provide an export named",
            "was not found in",
            "is not exported by",
        ],
        confirm: Some(
            r"(?i)attempted import error|is not exported (from|by)|does not provide an export named|export '[^']+' \(imported as '[^']+'\) was not found in",
        ),
        after: 1,
        warning: true,
        ..rule(
            "missing-export",
            "A module imports a name the other module does not export",
            "Fix the import named in the evidence: check the exported name and default vs named export, or the version of the package it comes from (its API may have changed).",
        )
    },
    Rule {
        triggers: &[
            "Module not found",
            "Cannot find module",
            "Can't resolve",
            "ERR_MODULE_NOT_FOUND",
            "Cannot find package",
            "Failed to resolve import",
        ],
        after: 3,
        warning: true,
        ..rule(
            "module-not-found",
            "A module the code imports cannot be found",
            "Add the missing package to package.json `dependencies` (not only devDependencies if it is needed at build time) and commit the lockfile; for a local file, check the path's letter case (Amplify builds on a case-sensitive file system).",
        )
    },
    Rule {
        triggers: &["Type error:", "Type Error:", "error TS"],
        confirm: Some(r"(?i)type error:|error TS\d+"),
        before: 1,
        after: 3,
        ..rule(
            "typescript-error",
            "TypeScript type checking failed",
            "Fix the type error shown (run `npx tsc --noEmit` locally to see all of them). Next.js type-checks during `next build`; `typescript.ignoreBuildErrors` in next.config.js skips that, at your own risk.",
        )
    },
    Rule {
        triggers: &[
            "Error: ",
            "problems (",
            "ESLint",
            "eslint",
            "Treating warnings as errors because process.env.CI",
        ],
        confirm: Some(
            r"^\d+:\d+\s+Error:\s|✖ \d+ problems? \([1-9]\d* errors?|(?i)eslint.*(failed|error).*(\d+ errors?|lint)|treating warnings as errors because process\.env\.CI",
        ),
        before: 1,
        after: 2,
        warning: true,
        ..rule(
            "lint-error",
            "ESLint reported errors, which fail the build",
            "Fix the lint errors shown (run `npx next lint` or `npx eslint .` locally). To keep them from failing the build, Next.js has `eslint.ignoreDuringBuilds` in next.config.js.",
        )
    },
    Rule {
        triggers: &[
            "Error occurred prerendering page",
            "Export encountered errors",
            "Error: Failed to collect page data",
            "Failed to collect page data",
        ],
        after: 3,
        wrapper: true,
        ..rule(
            "prerender-error",
            "A page failed while Next.js pre-rendered it at build time",
            "Run `npm run build` locally to reproduce; the error under the page's name is the cause. Pages that need request-time data or secrets should be dynamic (`export const dynamic = 'force-dynamic'`) or guard missing data; variables the page reads at build time must be set for the branch.",
        )
    },
    Rule {
        triggers: &[
            "environment variable",
            "Environment variable",
            "ENVIRONMENT VARIABLE",
            "Invalid environment variables",
            "env var",
            "Env var",
            "is not defined in the environment",
            "Missing required env",
            "Missing env",
            "must be set",
        ],
        confirm: Some(
            r"(?i)missing (required )?env|environment variables?\b.*\b(missing|not set|required|undefined|not defined|is not|must be)|invalid environment variables|env(ironment)? var(iable)?s?\b.*\b(missing|not set|required|undefined)|not defined in the environment|\b[A-Z][A-Z0-9_]{2,}\b.*must be set",
        ),
        exclude: &["npm WARN", "warn  -", "⚠"],
        after: 2,
        ..rule(
            "missing-env-var",
            "A required environment variable is not set for this branch",
            "Set the variable named in the evidence for this branch (App settings → Environment variables, or Secrets for secret values). For Next.js server code, variables must also be written to `.env.production` in the build (`env | grep -e NAME >> .env.production`) to be readable at runtime.",
        )
    },
    Rule {
        triggers: &[
            "Build timed out",
            "build timed out",
            "Build timeout",
            "exceeded the build timeout",
            "exceeded the maximum build time",
            "BUILD_TIMEOUT",
            "timed out after",
        ],
        confirm: Some(
            r"(?i)build (has )?timed out|build timeout|exceeded the (maximum )?build (timeout|time)|timed out after \d+ ?min",
        ),
        ..rule(
            "build-timeout",
            "The build ran longer than the app's build timeout",
            "Make the build faster (cache `.npm/**/*` and `.next/cache/**/*`, use a larger build instance) or raise the timeout with the `_BUILD_TIMEOUT` environment variable (minutes, up to 120).",
        )
    },
    Rule {
        triggers: &["Tests:", "Test Suites:", "Test Files", "FAIL "],
        confirm: Some(r"^(Tests|Test Suites|Test Files):?\s+\d+ failed|^FAIL\s+\S+|\d+ failing$"),
        after: 4,
        ..rule(
            "test-failure",
            "Tests failed in the build",
            "Fix the failing tests shown (run the test command locally with `CI=true`); tests that need services or secrets absent in the build should be skipped there.",
        )
    },
    Rule {
        triggers: &[
            "command not found",
            "not found: ",
            ": not found",
            "is not recognized as",
            " ENOENT",
        ],
        confirm: Some(
            r"(?i): command not found|^(ba)?sh: (line )?\d*:? ?\S+: not found|: not found$|spawn \S+ ENOENT",
        ),
        ..rule(
            "command-not-found",
            "A command in the build spec is not installed in the build image",
            "Install the tool before using it (e.g. `npm install -g pnpm` or `corepack enable` in preBuild), or call it through the package manager (`npx next build`); check that its package is in dependencies and that `npm ci` ran first.",
        )
    },
    Rule {
        triggers: &[
            "ENOSPC",
            "No space left on device",
            "no space left on device",
        ],
        ..rule(
            "disk-full",
            "The build ran out of disk space",
            "Free space in the build: cache less (`cache.paths`), delete intermediate files, or use a larger build instance.",
        )
    },
];

/// Lines that change what the engine knows about where it is in the log;
/// never causes.
pub static MARKERS: &[(&str, Marker)] = &[
    ("# Starting phase:", Marker::PhaseStarted),
    ("# Completed phase:", Marker::PhaseCompleted),
    ("# Executing command:", Marker::Command),
    ("# Starting environment caching", Marker::Caching),
    ("# Starting caching", Marker::Caching),
    ("# Creating cache artifact", Marker::Caching),
    ("# Uploading cache artifact", Marker::Caching),
    ("## Caching", Marker::Caching),
    ("Compiled with warnings", Marker::WarningsStart),
    ("Compiled with warning", Marker::WarningsStart),
    ("Failed to compile", Marker::WarningsEnd),
    ("Compiled successfully", Marker::WarningsEnd),
    ("Linting and checking validity", Marker::WarningsEnd),
    ("Collecting page data", Marker::WarningsEnd),
    (
        "Creating an optimized production build",
        Marker::WarningsEnd,
    ),
    ("The build folder is ready", Marker::WarningsEnd),
    ("!!! Build failed", Marker::Trailer),
    ("Command failed with exit code", Marker::Trailer),
    ("Non-Zero Exit Code", Marker::Trailer),
    ("CustomerError", Marker::Platform),
    ("is not a function", Marker::Symptom),
    ("is not a constructor", Marker::Symptom),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    PhaseStarted,
    PhaseCompleted,
    Command,
    Caching,
    WarningsStart,
    WarningsEnd,
    Trailer,
    /// Amplify's own verdict on the build (`!!! CustomerError: …`).
    Platform,
    /// A runtime error that is a symptom (`TypeError: x is not a function`):
    /// never a cause itself, but a warning may explain it.
    Symptom,
}

/// A category by id (the catalogue, or the built-in fallbacks).
pub fn by_id(id: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .chain([&UNKNOWN, &LOG_UNAVAILABLE])
        .find(|r| r.id == id)
}

/// Every category id, catalogue order, fallbacks last.
pub fn ids() -> Vec<&'static str> {
    let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    // cache-step-oom shares triggers with node-heap-oom; listed once.
    ids.dedup();
    ids.extend([LOG_UNAVAILABLE.id, UNKNOWN.id]);
    ids
}

/// The catalogue as Markdown (`docs/diagnosis.md` embeds it; a test keeps
/// the two equal).
pub fn markdown() -> String {
    let mut out =
        String::from("| id | what it means | transient | recognised by |\n|---|---|---|---|\n");
    let mut fixes = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for rule in RULES
        .iter()
        .chain([&BUILD_INSTANCE_OOM, &LOG_UNAVAILABLE, &UNKNOWN])
    {
        if seen.contains(&rule.id) {
            continue;
        }
        seen.push(rule.id);
        let recognised = if rule.triggers.is_empty() {
            match rule.id {
                "log-unavailable" => {
                    "the log's URL answers an error, or the job has no log".to_owned()
                }
                _ => "nothing else matched".to_owned(),
            }
        } else {
            rule.triggers
                .iter()
                .take(4)
                .map(|t| format!("`{}`", t.replace('|', "\\|").replace('`', "'")))
                .collect::<Vec<_>>()
                .join(", ")
                + if rule.caching_only {
                    ", in the caching step"
                } else {
                    ""
                }
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            rule.id,
            rule.title,
            if rule.transient { "yes" } else { "no" },
            recognised
        ));
        fixes.push_str(&format!(
            "### `{}`\n\n{}\n\n**Fix:** {}\n\n",
            rule.id, rule.title, rule.fix
        ));
    }
    out.push('\n');
    out.push_str(&fixes);
    out
}
