//! What the tests need from the local stack that `make local-up` starts:
//! moto (DynamoDB, EventBridge, SQS), the Amplify emulator, and cargo-lambda
//! running the real function binaries. Endpoints come from `.local/env`
//! (sourced by `make test`), exactly as the functions get them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use build_event_handler::Deps;
use sentinel_shared::adapters::Aws;
use sentinel_shared::adapters::amplify::AmplifyClient;
use sentinel_shared::adapters::dynamodb::DynamoStore;
use sentinel_shared::adapters::eventbridge::EventBridgePublisher;
use sentinel_shared::adapters::sqs::SqsDeadLetter;
use sentinel_shared::core::model::{AppId, Environment};
use sentinel_shared::lambda::runtime::Clients;
use serde_json::{Value, json};

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the local stack is not running. Run `make test`, or `make local-up` and `. .local/env`")
    })
}

/// A unique app id per test, so tests share one stack without seeing each
/// other's records.
pub fn unique_app_id() -> AppId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let n = nanos ^ (COUNTER.fetch_add(1, Ordering::SeqCst) << 48) ^ u64::from(std::process::id());
    format!("dit{}", base36(n)).parse().expect("valid app id")
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Port 9 (discard) is closed on loopback: connections are refused.
const REFUSING: &str = "http://127.0.0.1:9";

pub struct Stack {
    pub sdk: SdkConfig,
    pub table: String,
    pub bus: String,
    pub amplify_url: String,
    pub http: reqwest::Client,
}

impl Stack {
    pub async fn new() -> Stack {
        let sdk = sentinel_shared::lambda::aws::load().await;
        Stack {
            sdk,
            table: env("SENTINEL_TABLE"),
            bus: env("SENTINEL_EVENT_BUS"),
            amplify_url: env("AWS_ENDPOINT_URL_AMPLIFY"),
            http: reqwest::Client::new(),
        }
    }

    pub fn environment(&self) -> Environment {
        env("SENTINEL_ENVIRONMENT")
            .parse()
            .expect("SENTINEL_ENVIRONMENT")
    }

    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.table, 90)
    }

    pub fn amplify(&self) -> AmplifyClient {
        AmplifyClient::new(aws_sdk_amplify::Client::new(&self.sdk))
    }

    /// CloudFormation (the Amplify emulator serves DescribeStacks and
    /// DescribeStackEvents: moto cannot produce a failing operation).
    pub fn cloudformation(
        &self,
    ) -> sentinel_shared::adapters::cloudformation::CloudFormationClient {
        sentinel_shared::adapters::cloudformation::CloudFormationClient::new(
            aws_sdk_cloudformation::Client::new(&self.sdk),
        )
    }

    pub fn amplify_sdk(&self) -> aws_sdk_amplify::Client {
        aws_sdk_amplify::Client::new(&self.sdk)
    }

    /// SSM Parameter Store (moto): where Amplify keeps secrets.
    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.sdk)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    pub fn events(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.sdk)
    }

    /// The handler's dependencies over the real SDK clients, publishing to
    /// `bus`.
    pub fn deps(&self, bus: &str) -> Deps<Aws> {
        Deps {
            clients: Clients {
                store: self.store(),
                amplify: self.amplify(),
                cloudformation: self.cloudformation(),
                publisher: EventBridgePublisher::new(self.events(), bus),
                dead_letter: None::<SqsDeadLetter>,
                environment: self.environment(),
                site_url_template: None,
                scope: Default::default(),
                // The tests of what the stack does: it acts.
                enforcement: sentinel_shared::core::enforcement::Enforcement::Enforce,
            },
        }
    }

    /// An Amplify client whose endpoint refuses connections: a real transient
    /// failure (after the SDK's own retries, cut to one attempt here).
    pub fn broken_amplify(&self) -> aws_sdk_amplify::Client {
        let config = aws_sdk_amplify::config::Builder::from(&self.sdk)
            .endpoint_url(REFUSING)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .build();
        aws_sdk_amplify::Client::from_conf(config)
    }

    /// An EventBridge client whose endpoint refuses connections.
    pub fn broken_events(&self) -> aws_sdk_eventbridge::Client {
        let config = aws_sdk_eventbridge::config::Builder::from(&self.sdk)
            .endpoint_url(REFUSING)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .build();
        aws_sdk_eventbridge::Client::from_conf(config)
    }

    // ----- the Amplify emulator's control API -----

    pub async fn control(&self, path: &str, body: Value) -> Result<Value> {
        let url = format!("{}/_emulator{path}", self.amplify_url);
        let resp = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("POST {url} → {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("POST {url}: {text}"))
    }

    /// Creates an app with one branch whose head is `commit`.
    pub async fn create_app(&self, app_id: &AppId, branch: &str, commit: &str) -> Result<()> {
        self.control(
            "/apps",
            json!({"appId": app_id.as_str(), "name": format!("app-{app_id}"), "platform": "WEB_COMPUTE"}),
        )
        .await?;
        self.control(
            &format!("/apps/{app_id}/branches"),
            json!({"branchName": branch, "stage": "PRODUCTION",
                   "headCommit": {"commitId": commit, "commitMessage": "feat: first"}}),
        )
        .await?;
        Ok(())
    }

    /// Starts a build the test advances by hand; returns the job id.
    pub async fn manual_build(&self, app_id: &AppId, branch: &str, commit: &str) -> Result<String> {
        let out = self
            .control(
                &format!("/apps/{app_id}/branches/{}/builds", encode(branch)),
                json!({"commitId": commit, "commitMessage": "feat: checkout\n\nbody",
                       "mode": "manual", "emit": false}),
            )
            .await?;
        job_id_of(&out)
    }

    /// Moves a manual job to `to` and returns the Amplify events it generated.
    pub async fn advance(
        &self,
        app_id: &AppId,
        branch: &str,
        job: &str,
        to: &str,
        emit: bool,
    ) -> Result<Vec<Value>> {
        let out = self
            .control(
                &format!(
                    "/apps/{app_id}/branches/{}/jobs/{job}/advance",
                    encode(branch)
                ),
                json!({"to": to, "emit": emit}),
            )
            .await?;
        Ok(events_of(&out))
    }

    // ----- observing EventBridge through SQS -----

    /// A queue receiving everything published on `bus` whose detail matches
    /// `detail_pattern` (moto really filters).
    pub async fn capture(&self, bus: &str, detail_pattern: Value) -> Result<Capture> {
        let sqs = self.sqs();
        let name = format!("capture-{}", unique_app_id());
        let url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await?
            .queue_url
            .context("queue url")?;
        let arn = format!("arn:aws:sqs:us-east-1:123456789012:{name}");
        let events = self.events();
        events
            .put_rule()
            .name(&name)
            .event_bus_name(bus)
            .event_pattern(json!({"detail": detail_pattern}).to_string())
            .send()
            .await?;
        events
            .put_targets()
            .rule(&name)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("capture")
                    .arn(arn)
                    .build()?,
            )
            .send()
            .await?;
        Ok(Capture { sqs, url })
    }

    /// A queue subscribed to the stack's alert topic, receiving only the
    /// alerts about `branch` (an SNS filter policy on the `branch` message
    /// attribute, as a team would filter).
    pub async fn subscribe_alerts(&self, branch: &str) -> Result<Capture> {
        self.subscribe_alerts_where("branch", branch).await
    }

    /// A queue subscribed to the alert topic, receiving the alerts whose
    /// message attribute `attribute` (`app`, `branch`, …) is `value`.
    pub async fn subscribe_alerts_where(&self, attribute: &str, value: &str) -> Result<Capture> {
        let sqs = self.sqs();
        let name = format!("alerts-{}", unique_app_id());
        let url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await?
            .queue_url
            .context("queue url")?;
        let arn = format!("arn:aws:sqs:us-east-1:123456789012:{name}");
        aws_sdk_sns::Client::new(&self.sdk)
            .subscribe()
            .topic_arn(env("SENTINEL_TOPIC_ALERT_TOPIC"))
            .protocol("sqs")
            .endpoint(arn)
            .attributes("FilterPolicy", json!({ attribute: [value] }).to_string())
            .send()
            .await?;
        Ok(Capture { sqs, url })
    }

    /// The Amplify emulator's log of API calls (operation, params, time).
    pub async fn amplify_calls(&self) -> Vec<Value> {
        let calls = self
            .get_json(&format!("{}/_emulator/calls", self.amplify_url))
            .await;
        calls["calls"].as_array().cloned().unwrap_or_default()
    }

    /// The JSON a GET of `url` answers (a local server's control API).
    pub async fn get_json(&self, url: &str) -> Value {
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Invokes a function directly (as `aws lambda invoke` would) and
    /// expects an answer that is not an error.
    pub async fn invoke(&self, function: &str, payload: Value) -> Value {
        let (status, body) = self.invoke_answer(function, payload).await;
        assert!(
            status.is_success() && body.get("errorType").is_none(),
            "{body}"
        );
        body
    }

    /// Invokes a function directly and returns its answer as it is, an
    /// error included (`errorType`, `errorMessage`).
    pub async fn invoke_answer(
        &self,
        function: &str,
        payload: Value,
    ) -> (reqwest::StatusCode, Value) {
        let endpoint = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            env("SENTINEL_LAMBDA_ENDPOINT")
        );
        let answer = self
            .http
            .post(&endpoint)
            .json(&payload)
            .send()
            .await
            .unwrap();
        (answer.status(), answer.json().await.unwrap())
    }

    /// Sends `body` straight into the queue whose URL `.local/env` names
    /// `queue_variable` (`SENTINEL_QUEUE_VALIDATOR_QUEUE`): a delivery
    /// again, or one EventBridge never made.
    pub async fn send_to_queue(&self, queue_variable: &str, body: impl Into<String>) {
        self.sqs()
            .send_message()
            .queue_url(env(queue_variable))
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Creates a bus of the test's own.
    pub async fn create_bus(&self) -> Result<String> {
        let name = format!("test-{}", unique_app_id());
        self.events().create_event_bus().name(&name).send().await?;
        Ok(name)
    }
}

/// The stack's DLQ message whose body holds `marker` (waits for it). Each
/// receive hides what it got for a few seconds, so successive receives page
/// through a queue holding more than one batch (other tests' dead letters).
pub async fn dead_letter_with(stack: &Stack, marker: &str) -> aws_sdk_sqs::types::Message {
    let sqs = stack.sqs();
    let dlq = env("SENTINEL_DLQ_URL");
    eventually(Duration::from_secs(90), "the event in the DLQ", || async {
        let out = sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .visibility_timeout(3)
            .wait_time_seconds(1)
            .send()
            .await?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.body.as_deref().is_some_and(|b| b.contains(marker))))
    })
    .await
    .expect("a dead letter")
}

/// The `errorType` and `errorMessage` of the DLQ message holding `marker`.
pub async fn dead_letter_reason(stack: &Stack, marker: &str) -> (String, String) {
    let attrs = dead_letter_with(stack, marker)
        .await
        .message_attributes
        .unwrap_or_default();
    let text = |name: &str| {
        attrs
            .get(name)
            .and_then(|a| a.string_value.clone())
            .unwrap_or_default()
    };
    (text("errorType"), text("errorMessage"))
}

pub fn encode(branch: &str) -> String {
    branch.replace('/', "%2F")
}

fn job_id_of(out: &Value) -> Result<String> {
    out.pointer("/job/summary/jobId")
        .or_else(|| out.pointer("/jobSummary/jobId"))
        .or_else(|| out.pointer("/jobId"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no job id in {out}"))
}

fn events_of(out: &Value) -> Vec<Value> {
    out.get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

pub struct Capture {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl Capture {
    /// Receives until `want` events arrived or `within` passed; then keeps
    /// listening for `settle` more to catch extra (duplicate) events.
    pub async fn collect(
        &self,
        want: usize,
        within: Duration,
        settle: Duration,
    ) -> Result<Vec<Value>> {
        let mut got = Vec::new();
        let deadline = Instant::now() + within;
        let mut settle_until: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if got.len() >= want && settle_until.is_none() {
                settle_until = Some(now + settle);
            }
            if settle_until.is_some_and(|t| now >= t) || (settle_until.is_none() && now >= deadline)
            {
                return Ok(got);
            }
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await?;
            for m in out.messages.unwrap_or_default() {
                if let Some(body) = m.body {
                    got.push(serde_json::from_str(&body)?);
                }
                if let Some(handle) = m.receipt_handle {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.url)
                        .receipt_handle(handle)
                        .send()
                        .await?;
                }
            }
        }
    }
}

/// Polls `check` until it returns `Some`, at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Reads a fixture from `events/`, moved to the test's app and job.
pub fn fixture_for(name: &str, app_id: &AppId, job: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let padded = format!("{:0>10}", job);
    text.replace("dsentinel0001", app_id.as_str())
        .replace("\"jobId\": \"4\"", &format!("\"jobId\": \"{job}\""))
        .replace("jobs/0000000004", &format!("jobs/{padded}"))
}

/// The GitHub emulator's answers for the watched apps' repositories are
/// shared by every test: a test that makes GitHub fail for one of them
/// (`github_report.rs`'s outage) holds this lock for writing, and a test
/// whose assertions need GitHub answering for them holds it for reading.
/// Tests on a repository of their own scope the emulator's modes to it
/// (`PUT /_emulator/mode` with `repo`) and need no lock.
pub static GITHUB_ANSWERS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());
