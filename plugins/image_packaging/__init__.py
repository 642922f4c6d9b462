"""Image packaging: one avatar's inference service as an OCI image, built without a container
daemon, stored in the data storage and pushed to a registry (docs/deployment.md)."""
