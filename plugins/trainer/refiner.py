"""`python -m plugins.trainer.refiner`: the refiner trainer's plugin process."""

from plugins.sdk.server import main
from plugins.trainer.plugin import Trainer

if __name__ == "__main__":
    main(Trainer("refiner"))
