//! Reading `template.yaml` as text, for the tests that keep code and
//! template in step (a timeout, a rule's detail types, the wiring the
//! doctor expects). Text, not YAML: the file's CloudFormation tags (`!Ref`,
//! `!Sub`) need a loader of their own, and these checks need lines only.
//! The caller passes the text (`include_str!`), so nothing is embedded in
//! the binaries.

/// Resource `name`'s lines (its header, then everything indented under it,
/// up to the next resource).
pub fn resource(template: &str, name: &str) -> String {
    let head = format!("  {name}:");
    template
        .lines()
        .skip_while(|l| *l != head)
        .enumerate()
        .take_while(|(i, l)| {
            *i == 0
                || !(l.starts_with("  ")
                    && l.as_bytes().get(2).is_some_and(u8::is_ascii_alphabetic))
        })
        .map(|(_, l)| format!("{l}\n"))
        .collect()
}

/// The first `key: value` of a resource's lines, as a number.
pub fn number(section: &str, key: &str) -> Option<u64> {
    let key = format!("{key}:");
    section
        .lines()
        .find_map(|l| l.trim().strip_prefix(key.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str =
        "Resources:\n  A:\n    Type: X\n    Properties:\n      Timeout: 90\n  B:\n    Type: Y\n";

    #[test]
    fn a_resource_is_its_lines_up_to_the_next() {
        assert_eq!(
            resource(TEMPLATE, "A"),
            "  A:\n    Type: X\n    Properties:\n      Timeout: 90\n"
        );
        assert_eq!(number(&resource(TEMPLATE, "A"), "Timeout"), Some(90));
        assert_eq!(number(&resource(TEMPLATE, "B"), "Timeout"), None);
        assert_eq!(resource(TEMPLATE, "C"), "");
    }
}
