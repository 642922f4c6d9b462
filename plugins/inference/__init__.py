"""The inference service: one avatar's bundle loaded once, audio or text in, video of the person out."""
