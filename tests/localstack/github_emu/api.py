"""The served operations, one method each: the App, check runs, commit
statuses, deployments and their statuses, compare and commits, issue
comments, the rate limit; and GitHub's pagination."""

import json
import re
import time
from urllib.parse import parse_qs, urlencode, urlsplit

from .common import MAX_COMPARE_COMMITS, MAX_COMPARE_FILES, GitHubError, iso, node_id, not_found, sha_of, user


class Api:
    """The served operations: (status, answer, extra headers)."""

    def __init__(self, state, who, path="/"):
        self.s, self.who, self.path = state, who, path

    def call(self, op_id, params, body, query):
        name = "op_" + re.sub(r"[^a-z0-9]+", "_", op_id.lower())
        return getattr(self, name)(params, body, query)

    def actor(self):
        return user(self.s.url, "local-dev", 4001) if self.who == "pat" else self.s.app_user()

    def performed_via(self):
        return None if self.who == "pat" else self.s.app()

    # ----- the App -----
    def op_apps_get_authenticated(self, p, body, q):
        return 200, self.s.app(), {}

    def op_apps_get_repo_installation(self, p, body, q):
        if not self.s.installed_on(p["owner"], p["repo"]):
            raise not_found()
        return 200, self.s.installation_object(), {}

    def op_apps_create_installation_access_token(self, p, body, q):
        if p["installation_id"] != self.s.installation["id"]:
            raise not_found()
        return 201, self.s.mint_token(body), {}

    # ----- check runs -----
    def check_run_view(self, run):
        out = {k: v for k, v in run.items() if k not in ("repo", "annotations", "last_body", "updates")}
        out["output"] = dict(run["output"], annotations_count=len(run["annotations"]))
        out["output"].pop("annotations", None)
        return out

    def op_checks_create(self, p, body, q):
        s = self.s
        run_id = s.new_id()
        now = iso(time.time())
        base = f"{s.repo_url(p['owner'], p['repo'])}/check-runs/{run_id}"
        run = {"repo": f"{p['owner']}/{p['repo']}", "id": run_id, "node_id": node_id("CR", run_id),
               "head_sha": body["head_sha"], "name": body["name"], "external_id": body.get("external_id", ""),
               "url": base, "html_url": f"https://github.com/{p['owner']}/{p['repo']}/runs/{run_id}",
               "details_url": body.get("details_url"), "status": "queued", "conclusion": None,
               "started_at": body.get("started_at", now), "completed_at": None,
               "output": {"title": None, "summary": None, "text": None,
                          "annotations_url": f"{base}/annotations"},
               "check_suite": {"id": run_id + 500000}, "app": s.app(), "pull_requests": [],
               "annotations": [], "last_body": None, "updates": 0}
        self.apply_check(run, body)
        s.check_runs[run_id] = run
        return 201, self.check_run_view(run), {}

    def apply_check(self, run, body):
        """GitHub's update rules: given members replace, `output`'s
        annotations are appended, a conclusion completes the run
        (docs.github.com/rest/checks/runs#update-a-check-run)."""
        if (body.get("status") == "completed" or body.get("completed_at")) and not body.get("conclusion") \
                and run["conclusion"] is None:
            raise GitHubError(422, "Invalid request.\n\nFor 'properties/conclusion', a value is required when "
                                   "'status' is 'completed' or 'completed_at' is given.")
        for key in ("name", "details_url", "external_id", "started_at", "status"):
            if key in body:
                run[key] = body[key]
        if body.get("conclusion"):
            run["conclusion"], run["status"] = body["conclusion"], "completed"
            run["completed_at"] = body.get("completed_at") or run["completed_at"] or iso(time.time())
        if "output" in body:
            out = body["output"]
            for key in ("title", "summary", "text"):
                if key in out:
                    run["output"][key] = out[key]
            run["annotations"].extend(out.get("annotations", []))
        run["last_body"], run["updates"] = body, run["updates"] + 1

    @staticmethod
    def of_repo(item, p):
        """The item, if it is of the path's repository; else GitHub's 404."""
        if item is None or item["repo"] != f"{p['owner']}/{p['repo']}":
            raise not_found()
        return item

    def check_run(self, p):
        return self.of_repo(self.s.check_runs.get(p["check_run_id"]), p)

    def op_checks_get(self, p, body, q):
        return 200, self.check_run_view(self.check_run(p)), {}

    def op_checks_update(self, p, body, q):
        run = self.check_run(p)
        self.apply_check(run, body)
        return 200, self.check_run_view(run), {}

    # ----- commit statuses -----
    def op_repos_create_commit_status(self, p, body, q):
        s = self.s
        number = s.new_id()
        now = iso(time.time())
        status = {"url": f"{s.repo_url(p['owner'], p['repo'])}/statuses/{p['sha']}",
                  "avatar_url": "https://avatars.githubusercontent.com/u/4001?v=4", "id": number,
                  "node_id": node_id("SC", number), "state": body["state"], "description": body.get("description"),
                  "target_url": body.get("target_url"), "context": body.get("context", "default"),
                  "created_at": now, "updated_at": now, "creator": self.actor()}
        s.statuses.append(dict(status, repo=f"{p['owner']}/{p['repo']}", sha=p["sha"]))
        return 201, status, {}

    # ----- deployments -----
    def deployment_view(self, d):
        return {k: v for k, v in d.items() if k not in ("repo", "statuses")}

    def op_repos_create_deployment(self, p, body, q):
        s = self.s
        number = s.new_id()
        now = iso(time.time())
        ref = body["ref"]
        environment = body.get("environment", "production")
        base = f"{s.repo_url(p['owner'], p['repo'])}/deployments/{number}"
        sha = ref if re.fullmatch(r"[0-9a-f]{40}", ref) else sha_of(ref)
        d = {"repo": f"{p['owner']}/{p['repo']}", "url": base, "id": number, "node_id": node_id("DE", number),
             "sha": sha, "ref": ref, "task": body.get("task", "deploy"), "payload": body.get("payload", {}),
             "original_environment": environment, "environment": environment,
             "description": body.get("description"), "creator": self.actor(), "created_at": now,
             "updated_at": now, "statuses_url": f"{base}/statuses",
             "repository_url": s.repo_url(p["owner"], p["repo"]),
             "transient_environment": body.get("transient_environment", False),
             "production_environment": body.get("production_environment", environment == "production"),
             "performed_via_github_app": self.performed_via(), "statuses": []}
        if isinstance(d["payload"], str):
            # GitHub takes the payload as an object or as a JSON string.
            try:
                d["payload"] = json.loads(d["payload"]) if d["payload"] else {}
            except ValueError:
                raise GitHubError(422, "Invalid request.\n\nFor 'properties/payload' (payload), the string is not JSON.")
        s.deployments[number] = d
        return 201, self.deployment_view(d), {}

    def op_repos_list_deployments(self, p, body, q):
        repo = f"{p['owner']}/{p['repo']}"
        found = [d for d in sorted(self.s.deployments.values(), key=lambda d: -d["id"]) if d["repo"] == repo]
        for key in ("sha", "ref", "task", "environment"):
            if p.get(key) not in (None, "", "none"):
                found = [d for d in found if d[key] == p[key]]
        page, headers = self.page(found, p)
        return 200, [self.deployment_view(d) for d in page], headers

    def deployment(self, p):
        return self.of_repo(self.s.deployments.get(p["deployment_id"]), p)

    def op_repos_create_deployment_status(self, p, body, q):
        s = self.s
        d = self.deployment(p)
        state = body["state"]
        status = self.new_deployment_status(d, state, body)
        if state == "success" and body.get("auto_inactive", True):
            # "Adds a new inactive status to all prior non-transient,
            # non-production environment deployments with the same repository
            # and environment name … only added to deployments that had a
            # success state" (the description's auto_inactive,
            # docs.github.com/rest/deployments/statuses).
            for other in s.deployments.values():
                if other is not d and other["repo"] == d["repo"] and other["environment"] == d["environment"] \
                        and not other["transient_environment"] and not other["production_environment"] \
                        and other["statuses"] \
                        and other["statuses"][-1]["state"] == "success":
                    self.new_deployment_status(other, "inactive", {})
        return 201, status, {}

    def new_deployment_status(self, d, state, body):
        s = self.s
        number = s.new_id()
        now = iso(time.time())
        status = {"url": f"{d['url']}/statuses/{number}", "id": number, "node_id": node_id("DES", number),
                  "state": state, "creator": self.actor(), "description": body.get("description", ""),
                  "environment": body.get("environment", d["environment"]),
                  "target_url": body.get("target_url", body.get("log_url", "")),
                  "created_at": now, "updated_at": now, "deployment_url": d["url"],
                  "repository_url": d["repository_url"], "environment_url": body.get("environment_url", ""),
                  "log_url": body.get("log_url", body.get("target_url", "")),
                  "performed_via_github_app": self.performed_via()}
        d["statuses"].append(status)
        if "environment" in body:
            d["environment"] = body["environment"]
        d["updated_at"] = now
        return status

    def op_repos_list_deployment_statuses(self, p, body, q):
        d = self.deployment(p)
        page, headers = self.page(list(reversed(d["statuses"])), p)
        return 200, page, headers

    # ----- compare and commits -----
    def commit(self, owner, repo, sha, scripted=None):
        """A commit as GitHub answers it; the author is scripted
        (PUT /_emulator/commits or a compare's commits) or "Local Dev"."""
        s = self.s
        info = scripted or s.commits.get((owner, repo, sha))
        if info is None:
            info = s.commits.setdefault((owner, repo, sha), {"author_name": "Local Dev", "author_login": "local-dev",
                                                             "date": iso(time.time()), "message": "local commit"})
        base = s.repo_url(owner, repo)
        git_author = {"name": info.get("author_name", "Local Dev"),
                      "email": f"{info.get('author_login') or 'local-dev'}@users.noreply.github.com",
                      "date": info.get("date") or iso(time.time())}
        login = info.get("author_login")
        account = user(s.url, login, 5000 + int(sha_of(login)[:6], 16) % 100000) if login else None
        parent = sha_of(sha + "^")
        return {"url": f"{base}/commits/{sha}", "sha": sha, "node_id": node_id("C", sha[:12]),
                "html_url": f"https://github.com/{owner}/{repo}/commit/{sha}",
                "comments_url": f"{base}/commits/{sha}/comments",
                "commit": {"url": f"{base}/git/commits/{sha}", "author": git_author,
                           "committer": dict(git_author, date=info.get("committed_at") or git_author["date"]),
                           "message": info.get("message", "local commit"), "comment_count": 0,
                           "tree": {"sha": sha_of(sha + "tree"), "url": f"{base}/git/trees/{sha_of(sha + 'tree')}"}},
                "author": account, "committer": account,
                "parents": [{"sha": parent, "url": f"{base}/commits/{parent}",
                             "html_url": f"https://github.com/{owner}/{repo}/commit/{parent}"}]}

    def op_repos_get_commit(self, p, body, q):
        ref = p["ref"]
        sha = ref if re.fullmatch(r"[0-9a-f]{40}", ref) else sha_of(ref)
        out = self.commit(p["owner"], p["repo"], sha, self.s.commits.get((p["owner"], p["repo"], ref)))
        out["files"], out["stats"] = [], {"additions": 0, "deletions": 0, "total": 0}
        return 200, out, {}

    def op_repos_compare_commits_with_basehead(self, p, body, q):
        s = self.s
        base, _, head = p["basehead"].partition("...")
        script = s.compares.get((p["owner"], p["repo"], base, head))
        if script is None:
            raise not_found()
        owner, repo = p["owner"], p["repo"]
        root = s.repo_url(owner, repo)
        files = []
        for f in script["files"]:
            f = {"filename": f} if isinstance(f, str) else f
            entry = {"sha": sha_of(f["filename"]), "filename": f["filename"], "status": f.get("status", "modified"),
                     "additions": 1, "deletions": 0, "changes": 1,
                     "blob_url": f"https://github.com/{owner}/{repo}/blob/{head}/{f['filename']}",
                     "raw_url": f"https://github.com/{owner}/{repo}/raw/{head}/{f['filename']}",
                     "contents_url": f"{root}/contents/{f['filename']}?ref={head}"}
            if f.get("previous_filename"):
                entry["previous_filename"] = f["previous_filename"]
            files.append(entry)
        if script.get("truncated"):
            # The list of changed files "includes up to 300 changed files for
            # the entire comparison" and nothing says more were left out (the
            # description's compare, docs.github.com/rest/commits/commits
            # #compare-two-commits): a truncated answer has exactly 300.
            n = 0
            while len(files) < MAX_COMPARE_FILES:
                n += 1
                name = f"zz-unlisted/{n}.txt"
                files.append({"sha": sha_of(name), "filename": name, "status": "modified", "additions": 1,
                              "deletions": 0, "changes": 1, "blob_url": f"https://github.com/{owner}/{repo}/blob/x",
                              "raw_url": f"https://github.com/{owner}/{repo}/raw/x",
                              "contents_url": f"{root}/contents/{name}"})
            files = files[:MAX_COMPARE_FILES]
        # Without paging "the returned list is limited to 250 commits, and the
        # last commit in the list is the most recent" (same page).
        commits = [self.commit(owner, repo, c["sha"], c) for c in script["commits"]][-MAX_COMPARE_COMMITS:]
        total = script.get("total_commits", len(script["commits"]))
        status = script.get("status", "ahead" if total else "identical")
        base_sha = base if re.fullmatch(r"[0-9a-f]{40}", base) else sha_of(base)
        out = {"url": f"{root}/compare/{base}...{head}",
               "html_url": f"https://github.com/{owner}/{repo}/compare/{base}...{head}",
               "permalink_url": f"https://github.com/{owner}/{repo}/compare/{owner}:{base}...{owner}:{head}",
               "diff_url": f"https://github.com/{owner}/{repo}/compare/{base}...{head}.diff",
               "patch_url": f"https://github.com/{owner}/{repo}/compare/{base}...{head}.patch",
               "base_commit": self.commit(owner, repo, base_sha), "merge_base_commit": self.commit(owner, repo, base_sha),
               "status": status, "ahead_by": script.get("ahead_by", total), "behind_by": script.get("behind_by", 0),
               "total_commits": total, "commits": commits, "files": files}
        return 200, out, {}

    # ----- issue comments -----
    def comment_view(self, c):
        return {k: v for k, v in c.items() if k not in ("repo", "issue")}

    def op_issues_list_comments(self, p, body, q):
        repo = f"{p['owner']}/{p['repo']}"
        found = [c for c in sorted(self.s.comments.values(), key=lambda c: c["id"])
                 if c["repo"] == repo and c["issue"] == p["issue_number"]]
        if p.get("since"):
            found = [c for c in found if c["updated_at"] >= p["since"]]
        page, headers = self.page(found, p)
        return 200, [self.comment_view(c) for c in page], headers

    def op_issues_create_comment(self, p, body, q):
        s = self.s
        number = s.new_id()
        now = iso(time.time())
        owner, repo, issue = p["owner"], p["repo"], p["issue_number"]
        c = {"repo": f"{owner}/{repo}", "issue": issue, "id": number, "node_id": node_id("IC", number),
             "url": f"{s.repo_url(owner, repo)}/issues/comments/{number}",
             "html_url": f"https://github.com/{owner}/{repo}/pull/{issue}#issuecomment-{number}",
             "body": body["body"], "user": self.actor(), "created_at": now, "updated_at": now,
             "issue_url": f"{s.repo_url(owner, repo)}/issues/{issue}", "author_association": "NONE",
             "performed_via_github_app": self.performed_via()}
        s.comments[number] = c
        return 201, self.comment_view(c), {}

    def op_issues_update_comment(self, p, body, q):
        c = self.of_repo(self.s.comments.get(p["comment_id"]), p)
        c["body"], c["updated_at"] = body["body"], iso(time.time())
        return 200, self.comment_view(c), {}

    # ----- rate limit -----
    def op_rate_limit_get(self, p, body, q):
        core = {k: v for k, v in self.s.rate(self.who or "anonymous").items() if k != "resource"}
        search = {"limit": 30, "remaining": 30, "used": 0, "reset": int(time.time()) + 60}
        return 200, {"resources": {"core": core, "search": search}, "rate": core}, {}

    # ----- pagination -----
    def page(self, items, p):
        """`per_page` (default 30, at most 100) and `page`, with GitHub's
        `Link` header (docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api)."""
        per_page = min(int(p.get("per_page") or 30), 100)
        number = max(int(p.get("page") or 1), 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(number - 1) * per_page:number * per_page]
        path = urlsplit(self.path).path
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

        def link(n, rel):
            return f'<{self.s.url}{path}?{urlencode(dict(query, per_page=per_page, page=n))}>; rel="{rel}"'

        rels = []
        if number > 1:
            rels += [link(number - 1, "prev")]
        if number < last:
            rels += [link(number + 1, "next"), link(last, "last")]
        if number > 1:
            rels += [link(1, "first")]
        return chunk, ({"link": ", ".join(rels)} if rels else {})
