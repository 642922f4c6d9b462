"""Streaming access to a submitted video's pictures and sound, shared by the preprocessing plugins."""
