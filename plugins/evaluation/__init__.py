"""Measuring a digital human against its floor and its ceiling: the `sync_detection` and
`quality_eval` stages and `twinforge evaluate` (docs/evaluation.md)."""
