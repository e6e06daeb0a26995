"""What both Lambdas share: events, routing, the loop guard, S3 I/O, errors and the CLI frame."""
