"""The `vad` stage: which video frames carry speech, from silero's voice activity model."""
