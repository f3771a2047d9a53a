"""The branch sites: the deployed commit and the overrides, a retry's
redeploy, basic auth, custom domains, the traffic metrics."""

import base64
import re
import time

import pytest
import requests

from .fixtures import COMMIT, OTHER, wait_until


def test_the_site_serves_the_last_succeeded_commit_and_follows_overrides(amp, ctl, emu_url):
    ctl.app("dsite0000000001", branch="release/1.2")
    site = f"{emu_url}/_sites/dsite0000000001/release-1-2"
    host = {"Host": "release-1-2.dsite0000000001.amplifyapp.com"}
    assert requests.get(site + "/", timeout=5).status_code == 404, "no deployment yet"
    job = ctl.manual("dsite0000000001", branch="release/1.2", commitId=COMMIT)
    ctl.advance("dsite0000000001", job["jobId"], "RUNNING", branch="release/1.2")
    assert requests.get(site + "/", timeout=5).status_code == 404, "still building"
    ctl.advance("dsite0000000001", job["jobId"], "SUCCEED", branch="release/1.2")
    health = requests.get(site + "/api/health", timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok", "commit": COMMIT}
    assert health.headers["x-deployed-commit"] == COMMIT
    page = requests.get(f"{emu_url}/any/path", headers=host, timeout=5)
    assert f'<meta name="x-deployed-commit" content="{COMMIT}">' in page.text
    assert page.headers["x-deployed-commit"] == COMMIT

    failed = ctl.manual("dsite0000000001", branch="release/1.2", commitId=OTHER)
    ctl.advance("dsite0000000001", failed["jobId"], "FAILED", branch="release/1.2")
    assert requests.get(site + "/", timeout=5).headers["x-deployed-commit"] == COMMIT, "a failed build deploys nothing"

    ctl("/apps/dsite0000000001/branches/release%2F1.2/site", {"status": 503, "latencyMs": 300})
    started = time.time()
    slow = requests.get(site + "/api/health", timeout=5)
    assert slow.status_code == 503 and slow.json()["status"] == "error" and time.time() - started >= 0.3
    ctl("/apps/dsite0000000001/branches/release%2F1.2/site", {"commitId": OTHER, "body": "<h1>old</h1>"})
    odd = requests.get(site + "/", headers=host, timeout=5)
    assert odd.text == "<h1>old</h1>" and odd.headers["x-deployed-commit"] == OTHER
    ctl("/apps/dsite0000000001/branches/release%2F1.2/site", {})
    assert requests.get(site + "/api/health", timeout=5).json()["commit"] == COMMIT, "{} clears the override"

    amp.update_branch(appId="dsite0000000001", branchName="release/1.2", displayName="rc")
    assert requests.get(f"{emu_url}/_sites/dsite0000000001/rc/", timeout=5).status_code == 200
    moved = requests.get(f"{emu_url}/", headers={"Host": "rc.dsite0000000001.amplifyapp.com"}, timeout=5)
    assert moved.headers["x-deployed-commit"] == COMMIT


def test_a_retry_redeploys_the_old_commit(amp, ctl, emu_url):
    ctl.app("dretry000000001")
    ctl("/apps/dretry000000001/branches/main/builds", {"stepDelayMs": 10, "wait": True, "emit": False})
    ctl("/apps/dretry000000001/branches/main/push", {"commitId": OTHER})  # auto-build: job 2 builds OTHER
    wait_until(lambda: requests.get(f"{emu_url}/_sites/dretry000000001/main/", timeout=5),
               lambda r: r.headers.get("x-deployed-commit") == OTHER, timeout=10)
    retry = amp.start_job(appId="dretry000000001", branchName="main", jobType="RETRY", jobId="1")["jobSummary"]
    assert retry["commitId"] == COMMIT
    served = wait_until(lambda: requests.get(f"{emu_url}/_sites/dretry000000001/main/", timeout=5),
                        lambda r: r.headers.get("x-deployed-commit") == COMMIT, timeout=10)
    assert served.headers["x-deployed-commit"] == COMMIT


def test_basic_auth_is_returned_as_given_and_guards_the_site(amp, ctl, emu_url):
    ctl.app("dauth0000000001")
    creds = base64.b64encode(b"team:s3cret-pass").decode()
    got = amp.update_branch(appId="dauth0000000001", branchName="main", enableBasicAuth=True,
                            basicAuthCredentials=creds)["branch"]
    assert got["enableBasicAuth"] is True and got["basicAuthCredentials"] == creds
    assert amp.get_branch(appId="dauth0000000001", branchName="main")["branch"]["basicAuthCredentials"] == creds
    ctl("/apps/dauth0000000001/branches/main/builds", {"outcome": "SUCCEED", "stepDelayMs": 10, "emit": False, "wait": True})
    site = f"{emu_url}/_sites/dauth0000000001/main/"
    refused = requests.get(site, timeout=5)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    assert requests.get(site, auth=("team", "wrong"), timeout=5).status_code == 401
    assert requests.get(site, auth=("team", "s3cret-pass"), timeout=5).status_code == 200
    # The app's protection covers a branch without its own.
    amp.update_branch(appId="dauth0000000001", branchName="main", enableBasicAuth=False)
    assert requests.get(site, timeout=5).status_code == 200
    app_creds = base64.b64encode(b"all:branches").decode()
    amp.update_app(appId="dauth0000000001", enableBasicAuth=True, basicAuthCredentials=app_creds)
    assert requests.get(site, timeout=5).status_code == 401
    assert requests.get(site, auth=("all", "branches"), timeout=5).status_code == 200


def test_custom_domains_in_amplify_s_wire_format_and_their_sites(amp, ctl, emu_url):
    ctl.app("ddomain00000001")
    ctl("/apps/ddomain00000001/branches", {"branchName": "develop", "stage": "DEVELOPMENT"})
    for branch in ("main", "develop"):
        ctl(f"/apps/ddomain00000001/branches/{branch}/builds",
            {"outcome": "SUCCEED", "stepDelayMs": 10, "emit": False, "wait": True})
    created = amp.create_domain_association(
        appId="ddomain00000001", domainName="shop.example.test",
        subDomainSettings=[{"prefix": "www", "branchName": "main"}, {"prefix": "", "branchName": "main"},
                           {"prefix": "beta", "branchName": "develop"}])["domainAssociation"]
    assert created["domainStatus"] == "CREATING" and created["domainName"] == "shop.example.test"
    assert [s["verified"] for s in created["subDomains"]] == [False, False, False]
    assert created["subDomains"][0]["subDomainSetting"] == {"prefix": "www", "branchName": "main"}
    assert "CNAME" in created["subDomains"][0]["dnsRecord"]
    assert created["domainAssociationArn"].endswith(":apps/ddomain00000001/domains/shop.example.test")

    # The raw wire: GetDomainAssociation's path and shape.
    raw = requests.get(f"{emu_url}/apps/ddomain00000001/domains/shop.example.test", timeout=5)
    assert raw.status_code == 200 and raw.json()["domainAssociation"]["domainStatus"] == "CREATING"
    got = amp.get_domain_association(appId="ddomain00000001", domainName="shop.example.test")
    assert got["domainAssociation"] == created

    # Not served while being set up.
    site = f"{emu_url}/_sites/www.shop.example.test/"
    assert requests.get(site, timeout=5).status_code == 404
    ctl("/apps/ddomain00000001/domains/shop.example.test", {"domainStatus": "AVAILABLE", "verified": True})
    listed = amp.list_domain_associations(appId="ddomain00000001")["domainAssociations"]
    assert [d["domainStatus"] for d in listed] == ["AVAILABLE"]
    assert all(s["verified"] for s in listed[0]["subDomains"])
    for host, branch in [("www.shop.example.test", "main"), ("shop.example.test", "main"),
                         ("beta.shop.example.test", "develop")]:
        by_path = requests.get(f"{emu_url}/_sites/{host}/", timeout=5)
        by_host = requests.get(f"{emu_url}/", headers={"Host": host}, timeout=5)
        assert by_path.status_code == by_host.status_code == 200, host
        assert f"<h1>{branch}</h1>" in by_path.text and f"<h1>{branch}</h1>" in by_host.text, host
    # Amplify's own host still serves, in the same path form.
    assert requests.get(f"{emu_url}/_sites/main.ddomain00000001.amplifyapp.com/", timeout=5).status_code == 200
    assert requests.get(f"{emu_url}/_sites/www.unknown.example.test/", timeout=5).status_code == 404

    # Paging, errors as Amplify names them, the model's validation.
    for i in range(3):
        amp.create_domain_association(appId="ddomain00000001", domainName=f"extra{i}.example.test",
                                      subDomainSettings=[{"prefix": "", "branchName": "develop"}])
    first = amp.list_domain_associations(appId="ddomain00000001", maxResults=2)
    assert len(first["domainAssociations"]) == 2 and first["nextToken"]
    rest = amp.list_domain_associations(appId="ddomain00000001", maxResults=2, nextToken=first["nextToken"])
    assert len(rest["domainAssociations"]) == 2 and "nextToken" not in rest
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_domain_association(appId="ddomain00000001", domainName="nope.example.test")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.create_domain_association(appId="ddomain00000001", domainName="x.example.test",
                                      subDomainSettings=[{"prefix": "", "branchName": "no-such-branch"}])
    with pytest.raises(amp.exceptions.BadRequestException):
        amp.create_domain_association(appId="ddomain00000001", domainName="shop.example.test",
                                      subDomainSettings=[{"prefix": "", "branchName": "main"}])
    with pytest.raises(amp.exceptions.BadRequestException):
        amp.create_domain_association(appId="ddomain00000001", domainName="not a domain",
                                      subDomainSettings=[{"prefix": "", "branchName": "main"}])
    ctl("/apps/ddomain00000001/domains/shop.example.test", {"domainStatus": "SOON"}, status=400)
    ctl("/apps/ddomain00000001/domains/shop.example.test", {"verified": "yes"}, status=400)
    # Unverified again: no longer served.
    ctl("/apps/ddomain00000001/domains/shop.example.test", {"verified": False})
    assert requests.get(site, timeout=5).status_code == 404


def test_the_metrics_answer_once_a_site_has_been_requested(ctl, emu_url):
    # As a new user: a site asked for (even before any deploy), then the metrics.
    ctl.app("dmetrics0000001")
    assert requests.get(f"{emu_url}/_sites/dmetrics0000001/main/", timeout=5).status_code == 404
    got = requests.get(f"{emu_url}/_emulator/metrics", timeout=5)
    assert got.status_code == 200, got.text
    [minute] = got.json()["minutes"]
    assert minute["appId"] == "dmetrics0000001" and minute["requests"] == 1 and minute["4xx"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00Z", minute["minute"])
