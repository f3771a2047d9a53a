"""The Amplify emulator's parts (tests/localstack/amplify_emulator.py starts
it): the shared names and errors (`common`), the wire contract from
botocore's model (`model`), build logs in Amplify's format (`logs`), the
state: apps, branches and domains (`store`), the job state machine and its
events (`jobs`), manual deployments (`deployments`), what the API shows of a
job (`views`), the traffic of the branch sites (`traffic`), the API's
operations (`api`), HTTP (`handler`, with the sites in `sites`) and the
control API (`control`)."""
