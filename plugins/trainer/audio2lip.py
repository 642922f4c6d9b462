"""`python -m plugins.trainer.audio2lip`: the audio2lip trainer's plugin process."""

from plugins.sdk.server import main
from plugins.trainer.plugin import Trainer

if __name__ == "__main__":
    main(Trainer("audio2lip"))
