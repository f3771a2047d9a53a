"""What a role is used for beside the code's own calls: AWS's rules, stated
once (Lambda's, SNS's with a KMS-encrypted topic, SSM's for GitHub's
credentials)."""


# What Lambda does with the function's role, by what the template gives the
# function (AWS's documentation of each).
PLATFORM = {
    # LoggingConfig.LogGroup: the runtime writes the function's logs.
    "logs": {"logs:CreateLogStream", "logs:PutLogEvents"},
    # Tracing: Active (Globals).
    "tracing": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
    # An SQS event source (Events: Type: SQS): the poller receives and
    # deletes the records and reads the queue's attributes; it never changes
    # a message's visibility (AWSLambdaSQSQueueExecutionRole grants these
    # three).
    "sqs-event-source": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
}
# Actions an action needs on another resource: SNS encrypts a message
# published to a topic with a KMS key under the publisher's identity.
IMPLIED = {"sns:Publish": {"kms:GenerateDataKey*", "kms:Decrypt"}}
# GitHub on (the stack's GitHubAppId/GitHubPrivateKeyParameter or
# GitHubTokenParameter): a function given GitHub's credentials by the name of
# their SSM parameter (GITHUB_KEY_PARAMETER or GITHUB_TOKEN_PARAMETER in its
# environment) reads that SecureString on first use
# (shared/src/github/settings.rs): GetParameter with decryption, which SSM
# decrypts with KMS under the caller's identity; and the alerter, given
# SENTINEL_ALERTER_QUEUE_URL, sends its GitHub retries to its own queue.
GITHUB_CREDENTIALS = {"ssm:GetParameter", "kms:Decrypt"}
GITHUB_CREDENTIAL_VARIABLES = ("GITHUB_KEY_PARAMETER", "GITHUB_TOKEN_PARAMETER")
