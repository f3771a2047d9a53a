"""provision.py creates the stack's resources from template.yaml, and the
dispatcher plays the SQS event source against them.

These tests start their own moto on a free port (fixtures.py: one per
module; they reset it between tests), so they never disturb a running local
stack."""
