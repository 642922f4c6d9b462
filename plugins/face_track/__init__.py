"""The `face_track` stage: the face mesh in every frame and a steady square crop box around it."""
