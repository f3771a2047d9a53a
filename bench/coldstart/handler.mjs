// The Node.js 20 equivalent of a Deploy Sentinel function's start-up, for
// scripts/bench-coldstart.py: the AWS SDK v3 clients the Rust function
// builds (BENCH_CLIENTS, comma-separated), created at module load as a
// Node.js Lambda handler does, then the Runtime API loop (GET next, one
// DynamoDB call, POST the response). Generous to Node: no managed-runtime
// bootstrap around it.
import { AmplifyClient } from "@aws-sdk/client-amplify";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";

const constructors = {
  amplify: AmplifyClient,
  dynamodb: DynamoDBClient,
  eventbridge: EventBridgeClient,
  sns: SNSClient,
  sqs: SQSClient,
};
const clients = (process.env.BENCH_CLIENTS || "dynamodb,amplify,eventbridge,sqs")
  .split(",")
  .map((name) => new constructors[name]({}));

const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation`;
for (;;) {
  const next = await fetch(`${api}/next`);
  const id = next.headers.get("lambda-runtime-aws-request-id");
  const event = await next.json();
  // The first AWS call, as the Rust functions make one (the stub refuses it).
  let outcome;
  try {
    await clients[0].send(
      new GetItemCommand({ TableName: process.env.SENTINEL_TABLE, Key: { PK: { S: event.id } } }),
    );
    outcome = "ok";
  } catch (e) {
    outcome = e.name;
  }
  await fetch(`${api}/${id}/response`, {
    method: "POST",
    body: JSON.stringify({ clients: clients.length, outcome }),
  });
}
