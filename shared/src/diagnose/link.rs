//! Linking a symptom to the warning that explains it.
//!
//! webpack reports an import of a name a module does not export as a
//! warning (`Attempted import error: 'formatPrice' is not exported from
//! '@/lib/currency'`), and the build goes on; the code then calls
//! `undefined`, and the build dies later, while Next.js collects page data
//! or pre-renders, with `TypeError: (0 , _lib_currency__WEBPACK_IMPORTED_MODULE_2__.formatPrice)
//! is not a function`. The warning is the cause, the `TypeError` its
//! symptom: they are linked when they name the same export of the same
//! module.

use std::sync::LazyLock;

use regex::Regex;

/// An import a warning says cannot be satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingImport {
    /// The exported name (`default` for a default import).
    pub name: String,
    /// The local name, when the warning gives one.
    pub alias: Option<String>,
    /// The module request, split into lowercase words.
    pub module: Vec<String>,
}

/// A value a `TypeError` says was not callable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedCall {
    pub name: String,
    /// The module it came from, in words, when the bundler's variable
    /// names it (`_lib_currency__WEBPACK_IMPORTED_MODULE_2__`); `None`
    /// when minified (`(0 , n.formatPrice)`) or a bare name.
    pub module: Option<Vec<String>>,
}

static IMPORT: LazyLock<[Regex; 4]> = LazyLock::new(|| {
    [
        // webpack 4/5 through Next.js and react-scripts.
        r"'(?P<name>[^']+)' is not exported from '(?P<module>[^']+)'(?: \(imported as '(?P<alias>[^']+)'\))?",
        // webpack 5's own wording.
        r"export '(?P<name>[^']+)' \(imported as '(?P<alias>[^']+)'\) was not found in '(?P<module>[^']+)'",
        // A default import.
        r"'(?P<module>[^']+)' does not contain a default export(?: \(imported as '(?P<alias>[^']+)'\))?",
        // Rollup and Vite.
        r#""(?P<name>[^"]+)" is not exported by "(?P<module>[^"]+)""#,
    ]
    .map(|re| Regex::new(re).expect("import regexes compile"))
});

static CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"TypeError: (?P<expr>.+?) is not a (?:function|constructor)\b")
        .expect("call regex compiles")
});

/// The import a warning line reports as missing, if it is such a warning.
pub fn missing_import(text: &str) -> Option<MissingImport> {
    IMPORT.iter().find_map(|re| {
        let c = re.captures(text)?;
        Some(MissingImport {
            name: c.name("name").map_or("default", |m| m.as_str()).to_owned(),
            alias: c.name("alias").map(|m| m.as_str().to_owned()),
            module: words(&c["module"]),
        })
    })
}

/// The value a `TypeError: … is not a function` line names, if it is one.
pub fn failed_call(text: &str) -> Option<FailedCall> {
    let expr = CALL.captures(text)?.name("expr")?.as_str().trim();
    // `(0 , x.f)` (webpack 5), `Object(x["f"])` (webpack 4), `x.f`, `f`.
    let expr = expr
        .strip_prefix("(0 , ")
        .or_else(|| expr.strip_prefix("(0, "))
        .or_else(|| expr.strip_prefix("Object("))
        .and_then(|e| e.strip_suffix(')'))
        .unwrap_or(expr);
    let (object, name) = match expr.strip_suffix("\"]").or_else(|| expr.strip_suffix("']")) {
        Some(e) => {
            let at = e.rfind('[')?;
            (Some(&e[..at]), e[at + 1..].trim_matches(['"', '\'']))
        }
        None => match expr.rsplit_once('.') {
            Some((object, name)) => (Some(object), name),
            None => (None, expr),
        },
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    {
        return None;
    }
    Some(FailedCall {
        name: name.to_owned(),
        module: object.and_then(bundled_module),
    })
}

/// Whether the warning explains the failed call: the same name (or its
/// alias) and, when the call still names its module, the same module.
pub fn explains(import: &MissingImport, call: &FailedCall) -> bool {
    let same_name = call.name == import.name || import.alias.as_deref() == Some(&call.name);
    same_name
        && call.module.as_ref().is_none_or(|words| {
            !import.module.is_empty()
                && words
                    .windows(import.module.len())
                    .any(|w| w == import.module.as_slice())
        })
}

/// The module named by a bundler's import variable, in words.
fn bundled_module(object: &str) -> Option<Vec<String>> {
    if let Some((module, _)) = object.split_once("__WEBPACK_IMPORTED_MODULE_") {
        return Some(words(module));
    }
    // Turbopack: `__TURBOPACK__imported__module__$5b$project$5d2f$src$2f$lib…`,
    // with `$xx$` standing for a byte in hex.
    let (_, module) = object.split_once("__TURBOPACK__imported__module__")?;
    // Text and hex alternate: `text$hex$text$hex$…`.
    let mut decoded = String::with_capacity(module.len());
    for (i, part) in module.split('$').enumerate() {
        if i % 2 == 0 {
            decoded.push_str(part);
            continue;
        }
        for pair in part.as_bytes().chunks(2) {
            if let Some(b) = std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
            {
                decoded.push(char::from(b));
            }
        }
    }
    Some(words(&decoded))
}

/// Lowercase alphanumeric words: `@/lib/currency` and
/// `_lib_currency` both give `["lib", "currency"]`.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(text: &str) -> MissingImport {
        missing_import(text).unwrap_or_else(|| panic!("no import in {text:?}"))
    }

    fn call(text: &str) -> FailedCall {
        failed_call(text).unwrap_or_else(|| panic!("no call in {text:?}"))
    }

    #[test]
    fn the_wordings_of_a_missing_export_give_the_name_and_module() {
        let i = import(
            "Attempted import error: 'formatPrice' is not exported from '@/lib/currency' (imported as 'fmt').",
        );
        assert_eq!(i.name, "formatPrice");
        assert_eq!(i.alias.as_deref(), Some("fmt"));
        assert_eq!(i.module, ["lib", "currency"]);
        let i = import(
            "export 'default' (imported as 'Amplify') was not found in 'aws-amplify' (possible exports: API)",
        );
        assert_eq!(
            (i.name.as_str(), i.module.join("/")),
            ("default", "aws/amplify".into())
        );
        let i = import(
            "Attempted import error: 'aws-amplify' does not contain a default export (imported as 'Amplify').",
        );
        assert_eq!(i.name, "default");
        let i = import(
            r#""GoThreeBars" is not exported by "node_modules/react-icons/go/index.esm.js", imported by "x.js"."#,
        );
        assert_eq!(i.name, "GoThreeBars");
        assert!(missing_import("Module not found: Can't resolve 'encoding'").is_none());
    }

    #[test]
    fn the_shapes_of_a_failed_call_give_the_name_and_module() {
        let c = call(
            "TypeError: (0 , _lib_currency__WEBPACK_IMPORTED_MODULE_2__.formatPrice) is not a function",
        );
        assert_eq!(c.name, "formatPrice");
        assert_eq!(
            c.module.map(|m| m.join("/")).as_deref(),
            Some("lib/currency")
        );
        let c = call(
            "TypeError: Object(_utils__WEBPACK_IMPORTED_MODULE_1__[\"slugify\"]) is not a function",
        );
        assert_eq!(
            (c.name.as_str(), c.module.unwrap()),
            ("slugify", vec!["utils".to_owned()])
        );
        let c = call("TypeError: (0 , n.formatPrice) is not a function");
        assert_eq!((c.name.as_str(), c.module), ("formatPrice", None));
        let c = call("TypeError: formatPrice is not a function");
        assert_eq!((c.name.as_str(), c.module), ("formatPrice", None));
        let c = call(
            "TypeError: (0 , __TURBOPACK__imported__module__$5b$project$5d2f$src$2f$lib$2f$currency$2e$ts__$5b$app$2d$ssr$5d$__$28$ecmascript$29$__.formatPrice) is not a function",
        );
        assert_eq!(c.name, "formatPrice");
        assert!(
            c.module
                .unwrap()
                .windows(2)
                .any(|w| w == ["lib", "currency"])
        );
        assert!(
            failed_call("TypeError: Cannot read properties of undefined (reading 'map')").is_none()
        );
    }

    #[test]
    fn a_call_is_explained_only_by_the_same_name_of_the_same_module() {
        let warning = import(
            "Attempted import error: 'formatPrice' is not exported from '@/lib/currency' (imported as 'formatPrice').",
        );
        let same = call(
            "TypeError: (0 , _lib_currency__WEBPACK_IMPORTED_MODULE_2__.formatPrice) is not a function",
        );
        let other_module = call(
            "TypeError: (0 , _lib_money__WEBPACK_IMPORTED_MODULE_2__.formatPrice) is not a function",
        );
        let other_name = call(
            "TypeError: (0 , _lib_currency__WEBPACK_IMPORTED_MODULE_2__.parsePrice) is not a function",
        );
        let minified = call("TypeError: (0 , n.formatPrice) is not a function");
        assert!(explains(&warning, &same));
        assert!(!explains(&warning, &other_module));
        assert!(!explains(&warning, &other_name));
        assert!(
            explains(&warning, &minified),
            "no module to compare: the name decides"
        );
    }
}
