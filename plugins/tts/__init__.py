"""Text to speech: the text a person types turned into the audio their avatar speaks."""
