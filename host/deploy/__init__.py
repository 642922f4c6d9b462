"""Deploy targets for an avatar's inference service: a local process or a Kubernetes Deployment."""
