"""The personal lip-sync model: audio features, the four sub-models, and the inference graph."""
