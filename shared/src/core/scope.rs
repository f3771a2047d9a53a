//! The watch scope: which apps and branches a stack acts on. One definition
//! (the `AmplifyAppIds` and `WatchedBranches` parameters), applied by every
//! function and command: an event, a record or a branch outside it is never
//! recorded, reconciled, checked, alerted or rolled back.
//!
//! Branch patterns: `*` matches any run of characters (`/` included), so
//! `main,release/*` watches `main` and every release branch; a pattern
//! starting with `!` excludes (`*,!pr-*`: every branch but previews). A
//! branch is watched when an including pattern matches it and no excluding
//! one does.
//!
//! The apps and branch patterns scope Amplify. CloudFormation stacks are
//! watched only when named (`WatchedStacks`: names, `*` for a prefix such as
//! `shop-*`); none by default. A reported service (`sentinel report`) is
//! always in scope: its report is an explicit, IAM-authenticated act, and
//! its "branch" is the environment it names, which the branch patterns (git
//! branches) do not describe.

use crate::core::model::{AppId, BranchName, ParseError, Source};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Empty: every app.
    apps: Vec<AppId>,
    include: Vec<String>,
    exclude: Vec<String>,
    /// CloudFormation stack name patterns; empty: no stack.
    stacks: Vec<String>,
}

impl Default for Scope {
    /// Every app, every branch.
    fn default() -> Self {
        Self {
            apps: Vec::new(),
            include: vec!["*".into()],
            exclude: Vec::new(),
            stacks: Vec::new(),
        }
    }
}

impl Scope {
    /// From the apps and the comma-separated branch patterns (empty: `*`).
    pub fn new(apps: Vec<AppId>, branches: &str) -> Result<Self, ParseError> {
        let mut scope = Self {
            apps,
            include: Vec::new(),
            exclude: Vec::new(),
            stacks: Vec::new(),
        };
        for pattern in branches.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (list, pattern) = match pattern.strip_prefix('!') {
                Some(excluded) => (&mut scope.exclude, excluded.trim()),
                None => (&mut scope.include, pattern),
            };
            if pattern.is_empty() || pattern.len() > 255 || pattern.contains(char::is_whitespace) {
                return Err(ParseError::new(
                    "branch pattern",
                    format!("{pattern:?} is not a branch name pattern"),
                ));
            }
            list.push(pattern.to_owned());
        }
        if scope.include.is_empty() {
            scope.include.push("*".into());
        }
        Ok(scope)
    }

    /// Adds the watched CloudFormation stacks: comma-separated names or
    /// patterns (`shop-*`); empty: none.
    pub fn with_stacks(mut self, stacks: &str) -> Result<Self, ParseError> {
        self.stacks.clear();
        for pattern in stacks.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let valid = pattern.len() <= 128
                && pattern
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*');
            if !valid {
                return Err(ParseError::new(
                    "stack pattern",
                    format!(
                        "{pattern:?} is not a stack name or pattern (letters, digits, '-', '*')"
                    ),
                ));
            }
            self.stacks.push(pattern.to_owned());
        }
        Ok(self)
    }

    pub fn apps(&self) -> &[AppId] {
        &self.apps
    }

    pub fn stacks(&self) -> &[String] {
        &self.stacks
    }

    /// Whether the stack named `name` is watched.
    pub fn covers_stack_name(&self, name: &str) -> bool {
        self.stacks.iter().any(|p| glob(p, name))
    }

    pub fn covers_app(&self, app: &AppId) -> bool {
        match app.source() {
            Source::Amplify => self.apps.is_empty() || self.apps.contains(app),
            Source::CloudFormation => self.covers_stack_name(app.name()),
            Source::Report => true,
        }
    }

    /// For ids not yet parsed (an event's detail).
    pub fn covers_app_name(&self, app: &str) -> bool {
        self.apps.is_empty() || self.apps.iter().any(|a| a.as_str() == app)
    }

    /// The branch patterns are git branches: they scope Amplify apps only
    /// (a stack's or service's "branch" is its environment).
    pub fn covers(&self, app: &AppId, branch: &BranchName) -> bool {
        self.covers_app(app) && (!app.is_amplify() || self.covers_branch_name(branch.as_str()))
    }

    /// For names not yet parsed (an event's detail).
    pub fn covers_branch_name(&self, branch: &str) -> bool {
        self.include.iter().any(|p| glob(p, branch))
            && !self.exclude.iter().any(|p| glob(p, branch))
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let apps: Vec<&str> = self.apps.iter().map(AppId::as_str).collect();
        let mut branches = self.include.clone();
        branches.extend(self.exclude.iter().map(|p| format!("!{p}")));
        let apps = if apps.is_empty() {
            "every app".to_owned()
        } else {
            apps.join(",")
        };
        write!(f, "{apps}; branches {}", branches.join(","))?;
        if !self.stacks.is_empty() {
            write!(f, "; stacks {}", self.stacks.join(","))?;
        }
        Ok(())
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(apps: &[&str], branches: &str) -> Scope {
        Scope::new(apps.iter().map(|a| a.parse().unwrap()).collect(), branches).unwrap()
    }

    #[test]
    fn patterns_include_and_exclude() {
        let s = scope(&[], "main,release/*");
        for (branch, watched) in [
            ("main", true),
            ("release/1.2", true),
            ("release/", true),
            ("mainline", false),
            ("feature/release/1", false),
        ] {
            assert_eq!(s.covers_branch_name(branch), watched, "{branch}");
        }
        let s = scope(&[], "*, !pr-*, !unwatched/*");
        assert!(s.covers_branch_name("develop"));
        assert!(!s.covers_branch_name("pr-12"));
        assert!(!s.covers_branch_name("unwatched/x"));
        let s = scope(&[], "*-hotfix-*");
        assert!(s.covers_branch_name("v2-hotfix-login"));
        assert!(!s.covers_branch_name("v2-hotfix"));
    }

    #[test]
    fn no_pattern_watches_every_branch_and_no_app_every_app() {
        let s = scope(&[], "");
        assert!(s.covers(
            &"dany".parse().unwrap(),
            &"anything/at/all".parse().unwrap()
        ));
        assert_eq!(s, Scope::default());
        let s = scope(&["d1abc"], "*");
        assert!(s.covers(&"d1abc".parse().unwrap(), &"main".parse().unwrap()));
        assert!(!s.covers(&"d2def".parse().unwrap(), &"main".parse().unwrap()));
        assert_eq!(s.to_string(), "d1abc; branches *");
    }

    #[test]
    fn stacks_are_watched_only_when_named_and_services_always() {
        let s = scope(&["d1abc"], "main");
        let stack = |name: &str| AppId::stack(name).unwrap();
        let env: BranchName = "prod".parse().unwrap();
        assert!(!s.covers(&stack("shop-api"), &env), "no stack by default");
        let s = s.with_stacks("shop-*, billing").unwrap();
        assert!(
            s.covers(&stack("shop-api"), &env),
            "branch patterns do not apply"
        );
        assert!(s.covers(&stack("billing"), &env));
        assert!(!s.covers(&stack("billing-v2"), &env));
        assert!(!s.covers(&stack("myshop-api"), &env));
        assert!(s.covers(&AppId::service("web").unwrap(), &env));
        assert!(!s.covers(&"d2def".parse().unwrap(), &"main".parse().unwrap()));
        assert!(
            !s.covers(&"d1abc".parse().unwrap(), &env),
            "Amplify keeps its branch patterns"
        );
        assert_eq!(s.to_string(), "d1abc; branches main; stacks shop-*,billing");
        let err = Scope::default().with_stacks("a b").unwrap_err();
        assert!(err.reason.contains("not a stack name"), "{err}");
    }

    #[test]
    fn a_bad_pattern_is_named() {
        for bad in ["!", "a b", "!  "] {
            let err = Scope::new(vec![], bad).unwrap_err();
            assert!(
                err.reason.contains("not a branch name pattern"),
                "{bad}: {err:?}"
            );
        }
    }
}
