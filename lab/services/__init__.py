"""The processes that run inside lab nodes, each in its node's network and mount namespaces.

In a lab, the `launcher` forks each service from one process that has imported them all, and each
child enters its node's namespaces, then runs the service's `run(config, ready)`; the same service
also runs on its own as `python -m lab.services.<name> --config FILE.json` (tests, debugging). A
service writes one line, `READY <pid>`, to stdout once it listens, and stops on SIGTERM. Nothing
else ever reaches stdout (diagnostics go to stderr, records of what the service saw go to JSON-lines
files), so the reader of that pipe needs no parsing and need not drain it afterwards. (`probe` is
the exception: a one-shot client, not a service, whose result is the one JSON line it prints.)

    ca        the lab's certificate authority (runs in the realizer, not in a node)
    config    the JSON each process is started with, parsed strictly
    errors    ServiceError: why a service could not start
    process   what every service process shares: stdout discipline, logging, SIGTERM, JSONL logs
    access    one HTTP request as the service saw it (ingress, client, bucket, key), and the request log
    s3errors  S3's XML error bodies, where moto leaves them empty, and for policy denials
    policy    the IAM policy language: parse a policy, evaluate it, combine endpoint and bucket policies
    authorize S3 request -> action, resource and condition keys; the policy check before moto
    seed      buckets and tables declared in the topology, created through the service's own API
    launcher  the parent of a lab's services: imports once, forks each into its node
    front     an AWS regional service front on moto, one HTTP(S) port pair per ingress
    catalog   the moto-backed interface-only services (SQS, STS, Secrets Manager, KMS) as one table
    api_front the front of a catalog service: Action=/X-Amz-Target read once, SigV4, endpoint policy
    resolver  a VPC's Route 53 Resolver (AmazonProvidedDNS) answering from planned records
    probe     a client for scenario steps: resolve, connect, one GET; prints what happened
"""
