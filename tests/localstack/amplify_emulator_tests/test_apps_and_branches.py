"""Apps and branches: every field of the model, updates, lists and their pages,
deletion, names with a slash, the branch quota."""

import re
import time
from datetime import datetime

import pytest



def test_create_app_answers_every_field_of_the_model_with_the_right_types(amp):
    app = amp.create_app(name="shop", platform="WEB_COMPUTE", environmentVariables={"NODE_ENV": "production"},
                         buildSpec="version: 1\n", enableBranchAutoBuild=True, tags={"team": "web"})["app"]
    assert re.fullmatch(r"d[a-z0-9]{13}", app["appId"])
    assert app["appArn"] == f"arn:aws:amplify:us-east-1:123456789012:apps/{app['appId']}"
    assert app["defaultDomain"] == f"{app['appId']}.amplifyapp.com"
    assert (app["name"], app["platform"], app["buildSpec"]) == ("shop", "WEB_COMPUTE", "version: 1\n")
    assert app["environmentVariables"] == {"NODE_ENV": "production"} and app["tags"] == {"team": "web"}
    assert app["enableBranchAutoBuild"] is True and app["enableBasicAuth"] is False
    assert app["jobConfig"] == {"buildComputeType": "STANDARD_8GB"}
    for key in ("createTime", "updateTime"):
        assert isinstance(app[key], datetime)
        assert abs(app[key].timestamp() - time.time()) < 60, "epoch seconds, not milliseconds"
    got = amp.get_app(appId=app["appId"])["app"]
    assert got == app


def test_update_list_and_delete_apps(amp, ctl):
    ids = [amp.create_app(name=f"a{i}")["app"]["appId"] for i in range(5)]
    updated = amp.update_app(appId=ids[0], environmentVariables={"A": "1"}, name="renamed")["app"]
    assert updated["name"] == "renamed" and updated["environmentVariables"] == {"A": "1"}
    assert updated["updateTime"] >= updated["createTime"]
    first = amp.list_apps(maxResults=2)
    assert len(first["apps"]) == 2 and first["nextToken"]
    listed = [a["appId"] for a in amp.get_paginator("list_apps").paginate(
        PaginationConfig={"PageSize": 2}).build_full_result()["apps"]]
    assert listed == ids
    deleted = amp.delete_app(appId=ids[1])["app"]
    assert deleted["appId"] == ids[1]
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_app(appId=ids[1])
    assert [a["appId"] for a in amp.list_apps()["apps"]] == [ids[0]] + ids[2:]


def test_deleting_an_app_deletes_its_branches_and_jobs(amp, ctl):
    ctl.app("dgone0000000001")
    ctl.manual("dgone0000000001")
    amp.delete_app(appId="dgone0000000001")
    ctl.app("dgone0000000001")
    assert amp.list_jobs(appId="dgone0000000001", branchName="main")["jobSummaries"] == []


# ----- branches -----

def test_a_branch_name_with_a_slash_round_trips(amp, ctl):
    ctl.app("dbranch00000001")
    created = amp.create_branch(appId="dbranch00000001", branchName="feature/login.v2", stage="DEVELOPMENT",
                                framework="Next.js - SSR", environmentVariables={"API": "x"})["branch"]
    assert created["branchArn"].endswith(":apps/dbranch00000001/branches/feature/login.v2")
    branch = amp.get_branch(appId="dbranch00000001", branchName="feature/login.v2")["branch"]
    assert branch["branchName"] == "feature/login.v2" and branch["displayName"] == "feature-login-v2"
    assert branch["stage"] == "DEVELOPMENT" and branch["enableAutoBuild"] is True
    assert (branch["activeJobId"], branch["totalNumberOfJobs"]) == ("", "0")
    assert isinstance(branch["createTime"], datetime) and branch["customDomains"] == []
    names = {b["branchName"] for b in amp.list_branches(appId="dbranch00000001")["branches"]}
    assert names == {"main", "feature/login.v2"}
    amp.delete_branch(appId="dbranch00000001", branchName="feature/login.v2")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_branch(appId="dbranch00000001", branchName="feature/login.v2")


def test_update_branch_replaces_what_it_is_given(amp, ctl):
    ctl.app("dupdate00000001")
    before = amp.get_branch(appId="dupdate00000001", branchName="main")["branch"]
    amp.update_branch(appId="dupdate00000001", branchName="main", environmentVariables={"A": "1", "B": "2"})
    after = amp.update_branch(appId="dupdate00000001", branchName="main", enableAutoBuild=False,
                              environmentVariables={"C": "3"}, buildSpec="version: 1\nfrontend: {}\n",
                              stage="BETA", framework="Next.js - SSG", displayName="live")["branch"]
    got = amp.get_branch(appId="dupdate00000001", branchName="main")["branch"]
    assert got == after
    assert got["enableAutoBuild"] is False
    assert got["environmentVariables"] == {"C": "3"}, "the map is replaced, not merged"
    assert (got["buildSpec"], got["stage"], got["framework"], got["displayName"]) == (
        "version: 1\nfrontend: {}\n", "BETA", "Next.js - SSG", "live")
    assert got["updateTime"] > before["updateTime"] and got["createTime"] == before["createTime"]


def test_list_branches_pages(amp, ctl):
    ctl.app("dpages000000001")
    for i in range(4):
        amp.create_branch(appId="dpages000000001", branchName=f"b{i}")
    pages = list(amp.get_paginator("list_branches").paginate(appId="dpages000000001",
                                                             PaginationConfig={"PageSize": 2}))
    assert [len(p["branches"]) for p in pages] == [2, 2, 1]
    assert "nextToken" not in pages[-1]
    assert [b["branchName"] for p in pages for b in p["branches"]] == ["main", "b0", "b1", "b2", "b3"]


def test_the_branch_quota_answers_limit_exceeded(amp, ctl):
    ctl("/config", {"maxBranchesPerApp": 2})
    ctl.app("dquota000000001")
    amp.create_branch(appId="dquota000000001", branchName="two")
    with pytest.raises(amp.exceptions.LimitExceededException):
        amp.create_branch(appId="dquota000000001", branchName="three")
