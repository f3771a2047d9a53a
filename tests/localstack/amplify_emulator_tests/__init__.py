"""The Amplify emulator through boto3 (botocore's model, the same one the AWS
CLI uses), through raw HTTP where the wire format itself is the point, and
through the AWS CLI.

Each module starts its own emulator and its own moto server on free ports, so
it can reset state freely (fixtures.py) and never disturbs a running local stack."""
