"""The deploy targets of an avatar image: a local process, or Kubernetes objects."""
