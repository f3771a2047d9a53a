//! Where a branch's site is: the pure rules the health checker's reaction
//! applies to what Amplify answers (GetBranch, GetApp,
//! ListDomainAssociations).
//!
//! A branch served on a custom domain is checked where its users reach it:
//! `https://{prefix}.{domainName}/` (the apex for an empty prefix) when the
//! domain is `AVAILABLE` and the branch's sub-domain verified; otherwise —
//! a domain still being set up, failed, or none — Amplify's own
//! `https://{displayName}.{defaultDomain}/`.

use crate::core::model::{AppId, BranchName};
use crate::ports::DomainAssociation;

/// The domain status in which Amplify serves a custom domain.
pub const AVAILABLE: &str = "AVAILABLE";

/// The host where users reach `branch` on a custom domain, if any: its
/// verified sub-domain of an `AVAILABLE` domain. Several (an apex and a
/// `www`, two domains): the first by domain name, the apex before a prefix,
/// then by prefix — the same answer whatever order Amplify lists them in.
/// A name that is not a valid DNS host (Amplify's model allows any prefix)
/// is never used: credentials may go to this host.
pub fn custom_domain_host(domains: &[DomainAssociation], branch: &BranchName) -> Option<String> {
    domains
        .iter()
        .filter(|d| d.domain_status == AVAILABLE)
        .flat_map(|d| {
            d.sub_domains
                .iter()
                .filter(|s| s.verified && s.branch_name == branch.as_str())
                .map(move |s| (d.domain_name.trim_end_matches('.'), s.prefix.as_str()))
        })
        .map(|(domain, prefix)| {
            let host = match prefix {
                "" => domain.to_ascii_lowercase(),
                p => format!("{p}.{domain}").to_ascii_lowercase(),
            };
            ((domain.to_ascii_lowercase(), prefix.to_owned()), host)
        })
        .filter(|(_, host)| valid_host(host))
        .min()
        .map(|(_, host)| host)
}

/// Amplify's own host of a branch: `{displayName}.{defaultDomain}`; the
/// default domain is `{appId}.amplifyapp.com` when GetApp was not needed.
/// `None` when that is not a valid DNS host: a display name comes from a
/// branch name, which git lets hold `@`, `#`, `:` — characters that would
/// move a URL's host (`x@evil.example#`).
pub fn amplify_host(
    app_id: &AppId,
    display_name: &str,
    default_domain: Option<&str>,
) -> Option<String> {
    let host = match default_domain {
        Some(domain) => format!("{display_name}.{domain}"),
        None => format!("{display_name}.{app_id}.amplifyapp.com"),
    };
    valid_host(&host).then_some(host)
}

/// What may stand unencoded in a URL: RFC 3986's unreserved characters.
const ENCODED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A URL template (the policy's `url`, the stack's `SiteUrlTemplate`) with
/// `{appId}`, `{branch}`, `{displayName}` and — given a host — `{host}`
/// filled in. A branch name is the committer's: it and its display name
/// are percent-encoded, so that no character of theirs (`@`, `#`, `/`,
/// `:`, `?`) changes the URL's host, port or path; `{host}` must be a
/// host this module checked ([`custom_domain_host`], [`amplify_host`]).
pub fn fill(template: &str, app_id: &AppId, branch: &BranchName, host: Option<&str>) -> String {
    let encode = |text: &str| percent_encoding::utf8_percent_encode(text, ENCODED).to_string();
    let filled = template
        .replace("{appId}", &encode(app_id.as_str()))
        .replace("{branch}", &encode(branch.as_str()))
        .replace("{displayName}", &encode(&branch.display_name()));
    match host {
        Some(host) => filled.replace("{host}", host),
        None => filled,
    }
}

/// Why a branch has no site address to give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoSite {
    /// Its display name makes no valid DNS name (`x@evil.example#`).
    #[error("{0:?} (the branch's display name) makes no valid host name")]
    NoHost(String),
    /// The template, filled, is no absolute URL with a host (a
    /// percent-encoded `@` or `#` in its host part, a relative template).
    #[error("the site URL template makes no URL with a host for this branch ({0})")]
    NotAUrl(String),
}

/// The address of a branch's site, the one way every feature builds it
/// (the health checker checks it; alerts link to it): the stack's
/// template, `{host}` filled with the custom domain's host or else
/// Amplify's; without a template, `https://{host}/`. Both hosts are
/// checked ([`custom_domain_host`], [`amplify_host`]), the branch's name is
/// percent-encoded ([`fill`]), and the result must parse with a host, so
/// that no branch name moves it to another host or makes a link that is
/// none. `default_domain` is the app's (GetApp), when known.
pub fn branch_url(
    template: Option<&str>,
    app_id: &AppId,
    branch: &BranchName,
    display_name: &str,
    default_domain: Option<&str>,
    custom_host: Option<&str>,
) -> Result<String, NoSite> {
    let host = custom_host
        .map(str::to_owned)
        .or_else(|| amplify_host(app_id, display_name, default_domain));
    let filled = match (template, host) {
        (Some(template), host) if host.is_some() || !template.contains("{host}") => {
            fill(template, app_id, branch, host.as_deref())
        }
        (None, Some(host)) => format!("https://{host}/"),
        _ => return Err(NoSite::NoHost(display_name.to_owned())),
    };
    match url::Url::parse(&filled) {
        Ok(url) if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(filled),
        Ok(_) => Err(NoSite::NotAUrl("no host".to_owned())),
        Err(e) => Err(NoSite::NotAUrl(e.to_string())),
    }
}

/// Letters, digits and hyphens in dot-separated labels of 1 to 63
/// characters, at most 253 in all, at least two labels.
fn valid_host(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').count() >= 2
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::SubDomain;

    fn domain(name: &str, status: &str, subs: &[(&str, &str, bool)]) -> DomainAssociation {
        DomainAssociation {
            domain_name: name.into(),
            domain_status: status.into(),
            sub_domains: subs
                .iter()
                .map(|(prefix, branch, verified)| SubDomain {
                    prefix: (*prefix).into(),
                    branch_name: (*branch).into(),
                    verified: *verified,
                })
                .collect(),
        }
    }

    fn branch(name: &str) -> BranchName {
        name.parse().unwrap()
    }

    #[test]
    fn a_verified_sub_domain_of_an_available_domain_is_where_the_branch_is() {
        let domains = [domain(
            "shop.example.com",
            "AVAILABLE",
            &[("www", "main", true), ("beta", "develop", true)],
        )];
        assert_eq!(
            custom_domain_host(&domains, &branch("main")).as_deref(),
            Some("www.shop.example.com")
        );
        assert_eq!(
            custom_domain_host(&domains, &branch("develop")).as_deref(),
            Some("beta.shop.example.com")
        );
        assert_eq!(custom_domain_host(&domains, &branch("feature/x")), None);
    }

    #[test]
    fn an_empty_prefix_is_the_apex_and_comes_first() {
        let domains = [domain(
            "Shop.Example.com.",
            "AVAILABLE",
            &[("www", "main", true), ("", "main", true)],
        )];
        assert_eq!(
            custom_domain_host(&domains, &branch("main")).as_deref(),
            Some("shop.example.com")
        );
    }

    #[test]
    fn a_domain_being_set_up_or_an_unverified_sub_domain_is_not_used() {
        for status in [
            "CREATING",
            "PENDING_VERIFICATION",
            "AWAITING_APP_CNAME",
            "PENDING_DEPLOYMENT",
            "REQUESTING_CERTIFICATE",
            "IN_PROGRESS",
            "UPDATING",
            "FAILED",
        ] {
            let domains = [domain("shop.example.com", status, &[("www", "main", true)])];
            assert_eq!(
                custom_domain_host(&domains, &branch("main")),
                None,
                "{status}"
            );
        }
        let unverified = [domain(
            "shop.example.com",
            "AVAILABLE",
            &[("www", "main", false)],
        )];
        assert_eq!(custom_domain_host(&unverified, &branch("main")), None);
        // A second domain that is ready wins over one that is not.
        let mixed = [
            domain(
                "a.example.com",
                "PENDING_VERIFICATION",
                &[("", "main", false)],
            ),
            domain("b.example.com", "AVAILABLE", &[("www", "main", true)]),
        ];
        assert_eq!(
            custom_domain_host(&mixed, &branch("main")).as_deref(),
            Some("www.b.example.com")
        );
    }

    #[test]
    fn the_choice_does_not_depend_on_amplify_s_order() {
        let one = domain("b.example.com", "AVAILABLE", &[("www", "main", true)]);
        let two = domain("a.example.com", "AVAILABLE", &[("app", "main", true)]);
        let forward = [one.clone(), two.clone()];
        let backward = [two, one];
        assert_eq!(
            custom_domain_host(&forward, &branch("main")),
            custom_domain_host(&backward, &branch("main"))
        );
        assert_eq!(
            custom_domain_host(&forward, &branch("main")).as_deref(),
            Some("app.a.example.com")
        );
    }

    #[test]
    fn a_prefix_that_would_make_another_host_is_never_used() {
        for prefix in [
            "evil.test/x",
            "user@evil.test#",
            "a b",
            "-www",
            "www:8443",
            &"x".repeat(64),
        ] {
            let domains = [domain(
                "shop.example.com",
                "AVAILABLE",
                &[(prefix, "main", true)],
            )];
            assert_eq!(
                custom_domain_host(&domains, &branch("main")),
                None,
                "{prefix}"
            );
        }
    }

    #[test]
    fn templates_are_filled_and_amplify_s_host_is_known_without_get_app() {
        let app: AppId = "d1abc".parse().unwrap();
        let b = branch("feature/new.ui");
        assert_eq!(
            fill(
                "http://127.0.0.1:1/_sites/{host}/",
                &app,
                &b,
                Some("www.shop.example.com")
            ),
            "http://127.0.0.1:1/_sites/www.shop.example.com/"
        );
        assert_eq!(
            fill(
                "https://{displayName}.{appId}.example/{branch}",
                &app,
                &b,
                None
            ),
            "https://feature-new-ui.d1abc.example/feature%2Fnew.ui"
        );
        assert_eq!(
            amplify_host(&app, "feature-new-ui", None).as_deref(),
            Some("feature-new-ui.d1abc.amplifyapp.com")
        );
        assert_eq!(
            amplify_host(&app, "main", Some("d1abc.amplifyapp.com")).as_deref(),
            Some("main.d1abc.amplifyapp.com")
        );
    }

    const HOSTILE: &[&str] = &[
        "x@evil.example#",
        "a:b@evil.example",
        "x/..a/admin",
        "x?host=evil.example",
        "x:8443",
        "x\\evil.example",
        "x%2F..%2F",
        "<!channel>",
    ];

    #[test]
    fn a_branch_name_cannot_move_the_host_port_or_path_of_a_template() {
        let app: AppId = "d1abc".parse().unwrap();
        for name in HOSTILE {
            let template = "https://preview.example.com/sites/{branch}/{displayName}";
            let filled = fill(template, &app, &branch(name), None);
            let url = url::Url::parse(&filled).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                url.host_str(),
                Some("preview.example.com"),
                "{name}: {filled}"
            );
            assert_eq!(url.port(), None, "{name}: {filled}");
            assert_eq!(url.username(), "", "{name}: {filled}");
            assert_eq!(url.query(), None, "{name}: {filled}");
            assert_eq!(url.fragment(), None, "{name}: {filled}");
            assert_eq!(
                url.path_segments().map(|s| s.count()),
                Some(3),
                "{name} changed the path's segments: {filled}"
            );
            // In the host, it is no host at all, or a sub-domain of the
            // template's.
            let template = "https://{displayName}.preview.example.com/";
            let filled = fill(template, &app, &branch(name), None);
            if let Ok(url) = url::Url::parse(&filled) {
                assert!(
                    url.host_str()
                        .is_some_and(|h| h.ends_with(".preview.example.com")),
                    "{name} moved the host: {filled}"
                );
                assert_eq!(url.username(), "", "{name}: {filled}");
                assert_eq!(url.port(), None, "{name}: {filled}");
            }
        }
    }

    #[test]
    fn a_hostile_branch_s_site_is_on_the_app_s_domain_or_there_is_none() {
        let app: AppId = "d1abc".parse().unwrap();
        for name in HOSTILE.iter().chain(&["x@evil%2Ecom#"]) {
            let b = branch(name);
            for template in [None, Some("https://{displayName}.{appId}.amplifyapp.com/")] {
                match branch_url(template, &app, &b, &b.display_name(), None, None) {
                    Ok(link) => {
                        let url = url::Url::parse(&link).unwrap_or_else(|e| panic!("{name}: {e}"));
                        assert!(
                            url.host_str()
                                .is_some_and(|h| h.ends_with(".d1abc.amplifyapp.com")),
                            "{name} moved the host: {link}"
                        );
                        assert_eq!(url.username(), "", "{name}: {link}");
                    }
                    // No link: the reason names the display name or the URL.
                    Err(NoSite::NoHost(display)) => assert_eq!(display, b.display_name()),
                    Err(NoSite::NotAUrl(_)) => {}
                }
            }
        }
    }

    #[test]
    fn a_template_without_a_host_needs_none_and_a_custom_domain_wins() {
        let app: AppId = "d1abc".parse().unwrap();
        let b = branch("x@evil.example#");
        assert_eq!(
            branch_url(
                Some("https://preview.example.com/{branch}"),
                &app,
                &b,
                "x@evil.example#",
                None,
                None
            )
            .as_deref(),
            Ok("https://preview.example.com/x%40evil.example%23")
        );
        let main = branch("main");
        assert_eq!(
            branch_url(
                None,
                &app,
                &main,
                "main",
                None,
                Some("www.shop.example.com")
            )
            .as_deref(),
            Ok("https://www.shop.example.com/")
        );
        assert_eq!(
            branch_url(
                None,
                &app,
                &main,
                "main",
                Some("d1abc.amplifyapp.com"),
                None
            )
            .as_deref(),
            Ok("https://main.d1abc.amplifyapp.com/")
        );
        assert!(branch_url(Some("https://{host}/"), &app, &b, "x@evil", None, None).is_err());
    }

    #[test]
    fn amplify_s_host_is_refused_for_a_display_name_that_is_no_dns_label() {
        let app: AppId = "d1abc".parse().unwrap();
        for display in ["x@evil.example#", "a:b", "x y", "-x", ""] {
            assert_eq!(amplify_host(&app, display, None), None, "{display}");
            assert_eq!(
                amplify_host(&app, display, Some("d1abc.amplifyapp.com")),
                None,
                "{display}"
            );
        }
    }
}
