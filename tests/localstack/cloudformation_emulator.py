"""CloudFormation's DescribeStacks and DescribeStackEvents, for the Amplify
emulator (moto cannot produce a failing stack operation's events).

Speaks CloudFormation's query protocol exactly as botocore's model
(botocore/data/cloudformation/2010-05-15/service-2.json) describes it: a form
POST to `/` with `Action` and `Version`, the input validated against the
operation's input shape (required members, lengths, patterns), the answer an
XML document serialized from the output shape (members in the model's
order, lists as `<member>`, timestamps ISO 8601 with milliseconds, the
`resultWrapper`), and errors as `<ErrorResponse>` with CloudFormation's own
codes (`ValidationError` "Stack with id X does not exist").

Stacks the emulator does not script (the local stack's own
`deploy-sentinel-local`, which provisioning registers for `sentinel
--stack`) and actions it does not serve are forwarded as they are to moto's
CloudFormation (AWS_ENDPOINT_URL), so one endpoint
(AWS_ENDPOINT_URL_CLOUDFORMATION) serves both.

Tests script stacks and operations through the emulator's control API
(`/_emulator/stacks`, see tests/localstack/README.md): each stack-level status
of a scripted operation is also put on the default bus as CloudFormation's
"CloudFormation Stack Status Change" event.
"""

import os
import re
import threading
import urllib.error
import urllib.request
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from botocore.loaders import Loader

REGION, ACCOUNT = "us-east-1", "123456789012"
SERVED = ["DescribeStacks", "DescribeStackEvents"]
PAGE = 100  # DescribeStackEvents' page (the API's own is "1 MB")
STACK_TYPE = "AWS::CloudFormation::Stack"


class QueryError(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def iso_millis(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}Z"


def iso_seconds(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Model:
    def __init__(self):
        self.raw = Loader().load_service_model("cloudformation", "service-2")
        self.shapes, self.ops = self.raw["shapes"], self.raw["operations"]
        self.namespace = self.raw["metadata"]["xmlNamespace"]
        self.version = self.raw["metadata"]["apiVersion"]

    def request(self, form):
        """The operation and its input, validated as CloudFormation does."""
        action = form.get("Action")
        if not action or action not in self.ops:
            raise QueryError("InvalidAction", f"Could not find operation {action}")
        if form.get("Version") != self.version:
            raise QueryError("InvalidParameterValue", f"Version must be {self.version}")
        if action not in SERVED:
            raise QueryError("InvalidAction", f"{action} is not emulated (served: {', '.join(SERVED)}).")
        shape = self.shapes[self.ops[action]["input"]["shape"]]
        params, errors = {}, []
        for name in shape.get("required", []):
            if name not in form:
                errors.append(f"1 validation error detected: Value null at '{name}' failed to satisfy constraint: "
                              f"Member must not be null")
        for name, member in shape["members"].items():
            if name not in form:
                continue
            value, target = form[name], self.shapes[member["shape"]]
            if target["type"] == "string":
                if len(value) < target.get("min", 0) or len(value) > target.get("max", 1 << 30):
                    errors.append(f"Value at '{name}' failed to satisfy constraint: Member must have length "
                                  f"between {target.get('min', 0)} and {target.get('max')}")
                if "pattern" in target and not re.fullmatch(target["pattern"], value):
                    errors.append(f"Value at '{name}' failed to satisfy constraint: pattern {target['pattern']}")
            params[name] = value
        if errors:
            raise QueryError("ValidationError", "; ".join(errors))
        return action, params

    def answer(self, action, out):
        """The XML answer, serialized from the output shape."""
        op = self.ops[action]
        body = self.serialize(op["output"]["shape"], out)
        wrapper = op["output"].get("resultWrapper", f"{action}Result")
        return (f'<{action}Response xmlns="{self.namespace}"><{wrapper}>{body}</{wrapper}>'
                f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>")

    def serialize(self, shape_name, value):
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            missing = [m for m in shape.get("required", []) if value.get(m) is None]
            if missing:  # the SDK refuses an answer without its required members
                raise QueryError("InternalFailure", f"emulator answer lacks {shape_name}.{missing}", 500)
            parts = []
            for name, member in shape["members"].items():
                if value.get(name) is None:
                    continue
                tag = member.get("locationName", name)
                parts.append(f"<{tag}>{self.serialize(member['shape'], value[name])}</{tag}>")
            return "".join(parts)
        if kind == "list":
            member = shape["member"]
            tag = member.get("locationName", "member")
            return "".join(f"<{tag}>{self.serialize(member['shape'], v)}</{tag}>" for v in value)
        if kind == "timestamp":
            return iso_millis(value)
        if kind == "boolean":
            return "true" if value else "false"
        # A stack's own events carry its status (UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS)
        # in ResourceStatus, as CloudFormation answers: the SDKs take enums as open sets.
        allowed = set(shape.get("enum", []))
        if shape_name == "ResourceStatus":
            allowed |= set(self.shapes["StackStatus"]["enum"])
        if kind == "string" and "enum" in shape and value not in allowed:
            raise QueryError("InternalFailure", f"emulator answer: {value!r} is not a {shape_name}", 500)
        return escape(str(value))

    @staticmethod
    def error(e):
        kind = "Sender" if e.status < 500 else "Receiver"
        return (f'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>{kind}</Type>'
                f"<Code>{e.code}</Code><Message>{escape(e.message)}</Message></Error>"
                f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")


def is_query(method, path, headers):
    return method == "POST" and path in ("", "/") and \
        (headers.get("content-type") or "").startswith("application/x-www-form-urlencoded")


class Stacks:
    """Stacks and their events; the control API scripts operations."""

    def __init__(self, deliver, forward_url=None):
        self.forward_url = forward_url if forward_url is not None else os.environ.get("AWS_ENDPOINT_URL", "")
        self.lock = threading.RLock()
        self.model = Model()
        self.deliver = deliver  # PutEvents on the default bus (the Amplify emulator's)
        self.reset()

    def reset(self):
        with self.lock:
            self.stacks = {}  # stack id -> stack
            self.events = {}  # stack id -> events, oldest first
            self.calls = []

    # ----- the query API -----
    def knows(self, name_or_id):
        with self.lock:
            try:
                self.find(name_or_id)
                return True
            except QueryError:
                return False

    def forward(self, raw_body, headers):
        """moto's answer to the same request, as it is."""
        keep = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length", "connection")}
        request = urllib.request.Request(self.forward_url.rstrip("/") + "/", data=raw_body, headers=keep,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def serve(self, raw_body, headers=None):
        """(status, xml) for one query request: a scripted stack's, or
        forwarded to moto."""
        form = {k: v[0] for k, v in parse_qs(raw_body.decode(), keep_blank_values=True).items()}
        name = form.get("StackName")
        if self.forward_url and not (name is not None and self.knows(name)):
            try:
                if form.get("Action") in SERVED:
                    self.model.request(form)  # a malformed request is answered here
                return self.forward(raw_body, dict(headers or {}))
            except QueryError as e:
                return e.status, self.model.error(e)
        call = {"operation": form.get("Action"), "params": {k: v for k, v in form.items()
                                                             if k not in ("Action", "Version")}}
        try:
            action, params = self.model.request(form)
            with self.lock:
                out = getattr(self, action)(params)
                xml = self.model.answer(action, out)
            call["status"] = 200
            return 200, xml
        except QueryError as e:
            call.update(status=e.status, error=e.code)
            return e.status, self.model.error(e)
        finally:
            with self.lock:
                self.calls.append(call)

    def find(self, name_or_id):
        stack = self.stacks.get(name_or_id)
        if stack is None:
            live = [s for s in self.stacks.values()
                    if s["StackName"] == name_or_id and s["StackStatus"] != "DELETE_COMPLETE"]
            stack = live[0] if live else None
        if stack is None:
            raise QueryError("ValidationError", f"Stack with id {name_or_id} does not exist")
        return stack

    def DescribeStacks(self, p):
        if "StackName" in p:
            stacks = [self.find(p["StackName"])]
        else:
            stacks = [s for s in self.stacks.values() if s["StackStatus"] != "DELETE_COMPLETE"]
        return {"Stacks": [{k: v for k, v in s.items() if not k.startswith("_")} for s in stacks]}

    def DescribeStackEvents(self, p):
        stack = self.find(p["StackName"])
        events = list(reversed(self.events.get(stack["StackId"], [])))  # newest first
        start = 0
        if "NextToken" in p:
            try:
                start = int(p["NextToken"])
            except ValueError:
                raise QueryError("ValidationError", "Invalid NextToken")
        page = events[start:start + PAGE]
        out = {"StackEvents": page}
        if start + PAGE < len(events):
            out["NextToken"] = str(start + PAGE)
        return out

    # ----- the control API: /_emulator/stacks -----
    def control(self, method, p, body):
        """Routes /_emulator/stacks[...]; returns a dict or a callable."""
        if p == [] and method == "POST":
            return {"stack": self.create(body)}
        if p == [] and method == "GET":
            return {"stacks": list(self.stacks.values())}
        if len(p) == 2 and p[1] == "operations" and method == "POST":
            return self.operate(p[0], body)
        if len(p) == 2 and p[1] == "events" and method == "GET":
            stack = self.find(p[0])
            return {"events": self.events.get(stack["StackId"], [])}
        raise QueryError("UnknownOperationException", f"Unknown control call {method} /_emulator/stacks/{'/'.join(p)}")

    def create(self, body):
        name = body.get("stackName", "")
        if not re.fullmatch(r"[A-Za-z][-A-Za-z0-9]{0,127}", name):
            raise QueryError("ValidationError", f"stackName {name!r} is not a stack name")
        tags = body.get("tags") or {}
        if not isinstance(tags, dict):
            raise QueryError("ValidationError", "tags must be an object of key: value")
        with self.lock:
            if any(s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE" for s in self.stacks.values()):
                raise QueryError("AlreadyExistsException", f"Stack [{name}] already exists")
            stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/{uuid.uuid4()}"
            stack = {"StackId": stack_id, "StackName": name, "CreationTime": time.time(),
                     "StackStatus": body.get("status", "CREATE_COMPLETE"),
                     "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            if body.get("parentId"):
                stack["ParentId"] = stack["RootId"] = self.find(body["parentId"])["StackId"]
            self.stacks[stack_id] = stack
            self.events[stack_id] = []
            return stack

    def operate(self, name, body):
        """Plays an operation: `steps` are its events in order, each
        `{"status", "reason"?}` for the stack itself or with `logicalId`,
        `type` (and `physicalId`) for a resource; one `stepMs` apart, the
        first `startedSecondsAgo` ago. Stack-level steps are emitted on the
        default bus unless `emit` is false."""
        steps = body.get("steps")
        if not isinstance(steps, list) or not steps:
            raise QueryError("ValidationError", "steps must be a non-empty list")
        statuses = set(self.model.shapes["ResourceStatus"]["enum"]) | set(self.model.shapes["StackStatus"]["enum"])
        token = body.get("clientRequestToken")
        emit = body.get("emit", True)
        with self.lock:
            stack = self.find(name)
            t = time.time() - float(body.get("startedSecondsAgo", 0))
            step_ms = float(body.get("stepMs", 1000))
            made, announced = [], []
            for step in steps:
                status = step.get("status")
                if status not in statuses:
                    raise QueryError("ValidationError", f"status {status!r} is not a stack or resource status")
                logical = step.get("logicalId", stack["StackName"])
                own = logical == stack["StackName"]
                event = {"StackId": stack["StackId"], "EventId": f"{logical}-{uuid.uuid4()}",
                         "StackName": stack["StackName"], "LogicalResourceId": logical,
                         "PhysicalResourceId": stack["StackId"] if own else step.get("physicalId", f"{logical}-{uuid.uuid4().hex[:12]}"),
                         "ResourceType": STACK_TYPE if own else step.get("type", "AWS::CloudFormation::WaitConditionHandle"),
                         "Timestamp": round(t, 3), "ResourceStatus": status}
                if step.get("reason"):
                    event["ResourceStatusReason"] = step["reason"]
                if token:
                    event["ClientRequestToken"] = token
                self.events[stack["StackId"]].append(event)
                made.append(event)
                if own:
                    stack["StackStatus"] = status
                    if step.get("reason"):
                        stack["StackStatusReason"] = step["reason"]
                    else:
                        stack.pop("StackStatusReason", None)
                    if not status.startswith("CREATE_"):
                        stack["LastUpdatedTime"] = round(t, 3)
                    announced.append(self.status_event(stack, event))
                t += step_ms / 1000

        def respond():
            deliveries = [self.deliver(e) for e in announced] if emit else []
            return {"stack": {k: v for k, v in stack.items()}, "stackEvents": made,
                    "events": announced, "deliveries": deliveries}
        return respond

    @staticmethod
    def status_event(stack, event):
        """CloudFormation's EventBridge event for a stack-level status."""
        detail = {"stack-id": stack["StackId"],
                  "status-details": {"status": event["ResourceStatus"],
                                     "status-reason": event.get("ResourceStatusReason", "")}}
        if event.get("ClientRequestToken"):
            detail["client-request-token"] = event["ClientRequestToken"]
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "CloudFormation Stack Status Change",
                "source": "aws.cloudformation", "account": ACCOUNT, "time": iso_seconds(event["Timestamp"]),
                "region": REGION, "resources": [stack["StackId"]], "detail": detail}
