"""Developer tools: local servers for tests and `make demo`. Not shipped in the Lambda images."""
