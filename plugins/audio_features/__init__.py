"""The `audio_features` stage: the video's sound as a wav and as Whisper's log-mel spectrogram."""
