"""The platform's quality presets, from the quickest to the best. One order for every part that
reads a preset (the intake check's limits, the trainer's budgets, the verdict's rules, the host's
submissions), kept here so the host needs no plugin to know it."""

PRESETS_ORDER = ("tiny", "draft", "standard", "high")
