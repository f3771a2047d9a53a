"""scripts/smoke-aws.py's parts that call no AWS API: its steps and waits
(`steps`), what the stack watches (`scope`), the site and the policy it
deploys (`site`), and what a run needs before it starts (`usage`). Every
AWS call stays in smoke-aws.py (test_smoke_aws.py reads them there)."""
