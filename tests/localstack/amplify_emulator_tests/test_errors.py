"""Errors: not found, the REST-JSON convention on the wire, bad input, injected
faults (all calls, or one branch's)."""

import pytest
import requests



def test_missing_apps_branches_and_jobs_are_not_found(amp, ctl):
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_app(appId="dmissing")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.delete_app(appId="dmissing")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.list_branches(appId="dmissing")
    ctl.app("dnotfound000001")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_branch(appId="dnotfound000001", branchName="nope")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.list_jobs(appId="dnotfound000001", branchName="nope")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_job(appId="dnotfound000001", branchName="main", jobId="999")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.stop_job(appId="dnotfound000001", branchName="main", jobId="999")


def test_errors_follow_the_rest_json_convention_on_the_wire(emu_url):
    # The Rust SDK and botocore both name the error from this header.
    resp = requests.get(f"{emu_url}/apps/dmissing", timeout=5)
    assert resp.status_code == 404
    assert resp.headers["x-amzn-errortype"] == "NotFoundException"
    assert resp.headers["content-type"] == "application/json"
    assert set(resp.json()) == {"message"} and "dmissing" in resp.json()["message"]
    unknown = requests.get(f"{emu_url}/no/such/thing", timeout=5)
    assert unknown.status_code == 404 and unknown.headers["x-amzn-errortype"] == "UnknownOperationException"


def test_bad_input_is_a_bad_request(amp, ctl, emu_url):
    with pytest.raises(amp.exceptions.BadRequestException, match="regular expression"):
        amp.get_app(appId="Not_An_App")
    with pytest.raises(amp.exceptions.BadRequestException, match="length"):
        amp.get_app(appId="d" + "a" * 20)
    ctl.app("dbadrequest0001")
    with pytest.raises(amp.exceptions.BadRequestException):
        amp.get_job(appId="dbadrequest0001", branchName="main", jobId="abc")
    with pytest.raises(amp.exceptions.BadRequestException, match="RETRY"):
        amp.start_job(appId="dbadrequest0001", branchName="main", jobType="RETRY")
    with pytest.raises(amp.exceptions.BadRequestException, match="Cannot retry job 42"):
        amp.start_job(appId="dbadrequest0001", branchName="main", jobType="RETRY", jobId="42")
    with pytest.raises(amp.exceptions.BadRequestException, match="enum"):
        amp.update_branch(appId="dbadrequest0001", branchName="main", stage="STAGING")
    with pytest.raises(amp.exceptions.BadRequestException, match="already exists"):
        amp.create_branch(appId="dbadrequest0001", branchName="main")
    with pytest.raises(amp.exceptions.BadRequestException, match="nextToken"):
        amp.list_jobs(appId="dbadrequest0001", branchName="main", nextToken="garbage")
    # What botocore would refuse before sending, sent raw.
    too_many = requests.get(f"{emu_url}/apps/dbadrequest0001/branches?maxResults=500", timeout=5)
    assert too_many.status_code == 400 and too_many.headers["x-amzn-errortype"] == "BadRequestException"
    nameless = requests.post(f"{emu_url}/apps", json={"platform": "WEB"}, timeout=5)
    assert nameless.status_code == 400 and "'name'" in nameless.json()["message"]
    wrong_type = requests.post(f"{emu_url}/apps/dbadrequest0001/branches/main", json={"enableAutoBuild": "no"},
                               timeout=5)
    assert wrong_type.status_code == 400 and "boolean" in wrong_type.json()["message"]


def test_injected_faults_answer_the_modelled_errors(amp, ctl):
    ctl.app("dfaults00000001")
    ctl("/faults", {"operation": "GetApp", "error": "LimitExceededException", "count": 1})
    with pytest.raises(amp.exceptions.LimitExceededException):
        amp.get_app(appId="dfaults00000001")
    assert amp.get_app(appId="dfaults00000001")["app"]["appId"] == "dfaults00000001", "count is honoured"
    ctl("/faults", {"operation": "*", "error": "UnauthorizedException"})
    with pytest.raises(amp.exceptions.UnauthorizedException):
        amp.list_apps()
    ctl("/faults", {"error": "NoSuchError"}, status=400)


def test_a_fault_naming_a_branch_fails_only_calls_about_it(amp, ctl):
    ctl.app("dfaults00000002")
    # More failures than the client's retries: a call that takes it fails.
    ctl("/faults", {"operation": "GetBranch", "error": "InternalFailureException", "count": 20,
                    "branchName": "other"})
    # A call about another branch does not take the fault.
    assert amp.get_branch(appId="dfaults00000002", branchName="main")["branch"]["branchName"] == "main"
    ctl("/apps/dfaults00000002/branches", {"branchName": "other"})
    with pytest.raises(amp.exceptions.InternalFailureException):
        amp.get_branch(appId="dfaults00000002", branchName="other")
    requests.delete(f"{amp.meta.endpoint_url}/_emulator/faults", timeout=5)
    assert amp.get_branch(appId="dfaults00000002", branchName="other")["branch"]["branchName"] == "other"
