"""The least-privilege scan's parts (tests/localstack/least_privilege.py
gathers them and says what the scan reads): the tree scanned (`paths`), Rust
source and its call graph (`rust`), the AWS adapters' port methods as AWS
requests (`adapters`), each function's code as the port methods it calls
(`calls`), what Lambda, SNS and SSM use a role for (`rules`), template.yaml
read offline (`template`), and the roles against the code (`roles`)."""
