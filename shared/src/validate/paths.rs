//! The monorepo path filter (pure): whether a push changed anything an app
//! builds from. An app's own paths are its app root (Amplify's
//! `AMPLIFY_MONOREPO_APP_ROOT`, else the build spec's `applications[].appRoot`)
//! and the policy's `paths:`; a change under the policy's `shared_paths:`
//! (packages, lockfiles) always builds. `docs/validation.md` says when a
//! build is skipped.
//!
//! Globs are `globset`'s with `*` kept within one path segment (`**`
//! crosses them); a pattern also matches everything under it, so
//! `packages/ui` means the folder.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::github::api::Comparison;
pub use crate::validate::rules::buildspec::normalise_root;

/// The variable Amplify reads an app's folder from in a monorepo.
pub const APP_ROOT_VARIABLE: &str = "AMPLIFY_MONOREPO_APP_ROOT";

/// What a description of the app's paths keeps (policy text: bounded).
const DESCRIBE_MAX: usize = 300;

fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).build()
}

/// Compiles the policy field `field`'s globs, naming the first bad one.
pub fn compile(field: &str, patterns: &[String]) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for raw in patterns {
        let pattern = raw.trim().trim_start_matches("./");
        if pattern.is_empty() {
            return Err(format!("{field}: an empty glob"));
        }
        if pattern.starts_with('/') {
            return Err(format!(
                "{field}: {} is absolute; write it from the repository's root (apps/web/**)",
                crate::core::model::preview(raw)
            ));
        }
        let bad = |e: globset::Error| {
            format!(
                "{field}: {} is not a glob: {}",
                crate::core::model::preview(raw),
                e.kind()
            )
        };
        set.add(glob(pattern).map_err(bad)?);
        let folder = pattern.trim_end_matches('/');
        if !folder.ends_with("**") {
            set.add(glob(&format!("{folder}/**")).map_err(bad)?);
        }
    }
    set.build()
        .map_err(|e| format!("{field}: the globs do not compile: {e}"))
}

/// An app's paths in its repository.
#[derive(Debug, Clone)]
pub struct AppPaths {
    roots: Vec<String>,
    paths: Vec<String>,
    own: GlobSet,
    shared: GlobSet,
}

/// Whether a build goes on, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathVerdict {
    Build(String),
    /// Nothing the app builds from changed: "no change under apps/web".
    Skip(String),
}

impl AppPaths {
    /// `None` when the app has neither a root nor `paths:` (not filtered).
    pub fn new(
        roots: Vec<String>,
        paths: &[String],
        shared_paths: &[String],
    ) -> Result<Option<Self>, String> {
        let roots: Vec<String> = roots
            .iter()
            .map(|r| normalise_root(r))
            .filter(|r| !r.is_empty())
            .collect();
        if roots.is_empty() && paths.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            roots,
            paths: paths.to_vec(),
            own: compile("paths", paths)?,
            shared: compile("shared_paths", shared_paths)?,
        }))
    }

    /// The roots (a monorepo's build spec's, else the variable's) and paths
    /// of one app: the variable names the app's folder when set.
    pub fn roots_of(
        variables: &std::collections::BTreeMap<String, String>,
        spec: &crate::validate::rules::buildspec::BuildSpec,
    ) -> Vec<String> {
        match variables
            .get(APP_ROOT_VARIABLE)
            .map(|v| normalise_root(v))
            .filter(|v| !v.is_empty())
        {
            Some(root) => vec![root],
            None => spec.app_roots(),
        }
    }

    /// "apps/web" or "apps/web, libs/ui/**" (bounded).
    pub fn describe(&self) -> String {
        let all: Vec<&str> = self
            .roots
            .iter()
            .chain(&self.paths)
            .map(String::as_str)
            .collect();
        let text = all.join(", ");
        if text.chars().count() <= DESCRIBE_MAX {
            return text;
        }
        let mut cut: String = text.chars().take(DESCRIBE_MAX - 1).collect();
        cut.push('…');
        cut
    }

    fn is_own(&self, file: &str) -> bool {
        self.roots
            .iter()
            .any(|r| file == r || file.starts_with(&format!("{r}/")))
            || self.own.is_match(file)
    }

    /// The verdict on a comparison of the deployed commit (base) with the
    /// built one (head). Only a head that descends from the base (`ahead`)
    /// with a complete, non-empty file list all outside the app is skipped.
    /// GitHub lists at most 300 changed files and 250 commits in one
    /// comparison ("Compare two commits",
    /// <https://docs.github.com/en/rest/commits/commits#compare-two-commits>),
    /// so a truncated list proves nothing; and its files are those of the
    /// three-dot diff (from the merge base), so a `diverged` head (a force
    /// push) may have dropped changes the list does not show.
    pub fn judge(&self, cmp: &Comparison) -> PathVerdict {
        if cmp.status != "ahead" {
            return PathVerdict::Build(format!(
                "the commit is {} of the deployed one, not ahead",
                crate::core::model::preview(&cmp.status)
            ));
        }
        if cmp.truncated {
            return PathVerdict::Build(
                "GitHub truncated the list of changed files: it cannot prove that nothing else changed"
                    .into(),
            );
        }
        if cmp.files.is_empty() {
            return PathVerdict::Build("no file changed: a rebuild".into());
        }
        if cmp.files.iter().any(|f| self.shared.is_match(f.as_str())) {
            return PathVerdict::Build("a shared path changed".into());
        }
        if cmp.files.iter().any(|f| self.is_own(f)) {
            return PathVerdict::Build(format!("changes under {}", self.describe()));
        }
        PathVerdict::Skip(format!("no change under {}", self.describe()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(status: &str, files: &[&str], truncated: bool) -> Comparison {
        Comparison {
            status: status.into(),
            total_commits: 1,
            commits: Vec::new(),
            files: files.iter().map(|f| (*f).to_owned()).collect(),
            truncated,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn web() -> AppPaths {
        AppPaths::new(
            vec!["./apps/web/".into()],
            &[],
            &strings(&["packages/**", "package-lock.json", "pnpm-lock.yaml"]),
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn only_changes_all_outside_the_app_skip() {
        let web = web();
        assert_eq!(
            web.judge(&cmp("ahead", &["apps/api/src/x.ts", "README.md"], false)),
            PathVerdict::Skip("no change under apps/web".into())
        );
        for files in [
            &["apps/web/page.tsx"][..],
            &["apps/api/x.ts", "apps/web"],
            &["packages/ui/button.tsx"],
            &["pnpm-lock.yaml"],
        ] {
            assert!(
                matches!(
                    web.judge(&cmp("ahead", files, false)),
                    PathVerdict::Build(_)
                ),
                "{files:?}"
            );
        }
        // A sibling folder whose name starts like the root is outside it.
        assert!(matches!(
            web.judge(&cmp("ahead", &["apps/web-admin/x.ts"], false)),
            PathVerdict::Skip(_)
        ));
    }

    #[test]
    fn a_list_that_cannot_prove_anything_never_skips() {
        let web = web();
        for (status, files, truncated) in [
            ("ahead", &["apps/api/x.ts"][..], true),
            ("ahead", &[][..], false),
            ("behind", &["apps/api/x.ts"][..], false),
            ("diverged", &["apps/api/x.ts"][..], false),
            ("identical", &[][..], false),
        ] {
            assert!(
                matches!(
                    web.judge(&cmp(status, files, truncated)),
                    PathVerdict::Build(_)
                ),
                "{status} {files:?} {truncated}"
            );
        }
    }

    #[test]
    fn policy_paths_are_globs_and_folders() {
        let p = AppPaths::new(vec![], &strings(&["libs/ui", "config/*.json"]), &[])
            .unwrap()
            .unwrap();
        assert!(matches!(
            p.judge(&cmp("ahead", &["libs/ui/deep/x.ts"], false)),
            PathVerdict::Build(_)
        ));
        assert!(matches!(
            p.judge(&cmp("ahead", &["config/site.json"], false)),
            PathVerdict::Build(_)
        ));
        // `*` stays within its folder.
        assert_eq!(
            p.judge(&cmp("ahead", &["config/old/site.json"], false)),
            PathVerdict::Skip("no change under libs/ui, config/*.json".into())
        );
        assert!(
            AppPaths::new(vec![], &[], &strings(&["x/**"]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_bad_glob_is_named() {
        let err = compile("shared_paths", &strings(&["packages/**", "apps/[web"])).unwrap_err();
        assert!(
            err.starts_with("shared_paths: \"apps/[web\" is not a glob"),
            "{err}"
        );
        let err = compile("paths", &strings(&["/abs"])).unwrap_err();
        assert!(err.contains("absolute"), "{err}");
        assert!(
            compile("paths", &strings(&[" "]))
                .unwrap_err()
                .contains("empty")
        );
    }

    #[test]
    fn the_variable_names_the_root_else_the_build_spec_s_applications() {
        use crate::validate::SourceFile;
        use crate::validate::rules::buildspec::BuildSpec;
        let file = SourceFile {
            name: "amplify.yml".into(),
            text: "version: 1\napplications:\n  - appRoot: apps/web\n    frontend: {}\n  - appRoot: ./apps/docs/\n    frontend: {}\n".into(),
        };
        let spec = BuildSpec::read(Some(&file));
        let mut vars = std::collections::BTreeMap::new();
        assert_eq!(
            AppPaths::roots_of(&vars, &spec),
            strings(&["apps/web", "apps/docs"])
        );
        vars.insert(APP_ROOT_VARIABLE.into(), "apps/docs".into());
        assert_eq!(AppPaths::roots_of(&vars, &spec), strings(&["apps/docs"]));
        assert!(AppPaths::roots_of(&Default::default(), &BuildSpec::read(None)).is_empty());
    }
}
