"""The person's approval of a trained avatar (issue #8): each evaluation of a generation is a round;
a round that passes its preset's limits is sent to the person as a preview with its measures in
plain words, and the person approves it (the avatar may be deployed) or rejects it with a reason,
which applies an adjustment and retrains from the accepted sub-models (host/retraining.py).

A round is a row of its own (`models.Round`), opened when a `quality_eval` run succeeds and given
its verdict when the person approves or rejects it, so the history and deployment read the facts
from it; its measures and previews stay in the evaluation run's summary and outputs. The
notifications (`preview_ready`, `avatar_approved`, ...) only tell the person. Only an approval of
the newest round lets the avatar be deployed (`can_deploy`): a rejection, a new evaluation or a
retrain never does.

The evaluation's contract (docs/evaluation.md, docs/approval.md): the run's summary holds `passed`
(bool), `preset`, and `summary` (sentences in English) and/or `mean` (each role's measures), and
`results` (the verdict per rule as codes and values, plugins/evaluation/report.py), which the bot and
the web app say in the person's language; its outputs hold the preview (kind `preview`). Its
generation is that of the model files it measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import peewee

from host import retraining, use_cases
from host.errors import IllegalTransition, InvalidArgument, NotFound
from host.flow import Flow
from host.state import StageState
from host.storage import models
from host.storage.models import utcnow
from host.unit_of_work import UnitOfWork

EVALUATION_STAGE = "quality_eval"
PREVIEW_KIND = "preview"
VOICE_PREVIEW_KIND = "voice_preview"
MODEL_KIND = "model"
PREVIEW_READY = "preview_ready"
BELOW_LIMITS = "evaluation_below_limits"
APPROVED = "avatar_approved"
REJECTED = "avatar_rejected"


@dataclass(frozen=True)
class Adjustment:
    words: str  # what the person is told happens next
    retrain_from: str | None  # the sub-model kept (accepted) whose downstream is retrained; None: no retrain
    scale: dict[str, dict[str, float]] = field(default_factory=dict)  # stage -> multipliers of its preset values


# What each reason for a rejection changes: the one place to tune (docs/approval.md). Multipliers
# compound over rounds (a second "lips off" gives four times the sync weight), up to MOST_SCALE
# times the preset's value: past that a weight drowns the other losses and a run outgrows its time.
ADJUSTMENTS: dict[str, Adjustment] = {
    "lips_off": Adjustment(
        "the lips are retrained against the sync expert with twice its weight and half again as many steps, then the generator and the refiner",
        "syncnet", {"audio2lip": {"sync_weight": 2.0, "iterations": 1.5}},
    ),
    "blurry_mouth": Adjustment("the refiner is retrained twice as long, to sharpen the mouth", "generator",
                               {"refiner": {"iterations": 2.0, "epochs": 2.0}}),
    "jitter": Adjustment(
        "the lips are smoothed over twice as many frames, and the generator and the refiner are retrained half again as long",
        "audio2lip", {"generator": {"iterations": 1.5, "epochs": 1.5, "smooth_frames": 2.0}, "refiner": {"iterations": 1.5, "epochs": 1.5}},
    ),
    "wrong_clip": Adjustment(
        "nothing is retrained: choose another driving clip in the materials (twinforge materials versions {avatar}, then "
        "twinforge materials edit {avatar} choose --param driving=<clip id>), and the model is trained on it", None,
    ),
    "other": Adjustment(
        "nothing is retrained yet: an operator reads your words and answers you, with a retrain or by giving the round back to you",
        None,
    ),
}
REASONS = tuple(ADJUSTMENTS)
MOST_SCALE = 8.0


def evaluation_finished(uow: UnitOfWork, run: models.StageRun) -> None:
    """Called for every finished run (host/run_finished.py): a succeeded evaluation opens a round and
    tells the person, with the preview when it passed, with what fell short when not."""
    if run.stage != EVALUATION_STAGE or run.state != StageState.SUCCEEDED.value:
        return
    found = _as_dict(_open_round(run))
    payload = {key: found[key] for key in ("generation", "passed", "preset", "words", "results", "preview", "voice_preview", "voice")}
    uow.notify(run.avatar_id, PREVIEW_READY if found["passed"] else BELOW_LIMITS, payload, run_id=run.id, stage=run.stage)


def rounds(avatar_id: str) -> list[dict[str, Any]]:
    """Every round of the avatar, oldest first, each with its measures and the person's verdict."""
    use_cases.get_avatar(avatar_id)
    query = (
        models.Round.select(models.Round, models.StageRun).join(models.StageRun)
        .where(models.Round.avatar == avatar_id).order_by(models.Round.number)
    )
    return [_as_dict(row) for row in query]


def approve(uow: UnitOfWork, avatar_id: str, by: str) -> dict[str, Any]:
    """Approves the newest round; only a round that passed can be approved."""
    current = _judgeable(avatar_id)
    if not current["passed"]:
        raise IllegalTransition(
            stage=EVALUATION_STAGE, code="not_passed",
            cause=f"round {current['round']} (generation {current['generation']}) did not pass the {current['preset']} limits",
            advice=f"reject it with a reason so that it is retrained (twinforge avatar reject {avatar_id} REASON)",
        )
    _decide(avatar_id, current, verdict="approved", verdict_by=by)
    uow.notify(avatar_id, APPROVED, {"by": by, "generation": current["generation"]}, run_id=current["evaluation_run"], stage=EVALUATION_STAGE)
    return {**current, "verdict": "approved", "by": by}


def reject(
    uow: UnitOfWork, avatar_id: str, by: str, reason: str, text: str, flow: Flow, known_stages: set[str], most_rejections: int
) -> tuple[dict[str, Any], list[models.StageRun], str]:
    """Rejects the newest round and applies the reason's adjustment: returns the round, the runs a
    retrain submitted (the caller enqueues them after the commit) and what the person is told. An
    avatar rejected `most_rejections` times is not retrained again: each round costs a training,
    and one that fails that often needs a new recording, not another adjustment."""
    if reason not in ADJUSTMENTS:
        raise InvalidArgument(
            stage=EVALUATION_STAGE, code="unknown_reason",
            cause=f"{reason!r} is not a reason for a rejection", advice=f"use one of {', '.join(REASONS)}",
        )
    if reason == "other" and not text.strip():
        raise InvalidArgument(stage=EVALUATION_STAGE, code="no_reason", cause="'other' needs a few words",
                              advice="say what is wrong, e.g. --text 'the teeth look grey'")
    current = _judgeable(avatar_id)
    rejected = models.Round.select().where((models.Round.avatar == avatar_id) & (models.Round.verdict == "rejected")).count()
    if rejected >= most_rejections:
        raise IllegalTransition(
            stage=EVALUATION_STAGE, code="too_many_rejections",
            cause=f"avatar {avatar_id} was rejected {rejected} times, the most one avatar may be (TWINFORGE_MAX_REJECTIONS)",
            advice="record a new video and submit it (a longer take, in even light, gives the model more to learn), "
                   "or approve the newest round if it will do",
        )
    adjustment = ADJUSTMENTS[reason]
    started: list[models.StageRun] = []
    if adjustment.retrain_from is not None:
        started = retrain_with(uow, avatar_id, adjustment, f"{reason}: {text}".strip(": "), flow, known_stages)
    words = adjustment.words.format(avatar=avatar_id)
    payload = {
        "by": by, "reason": reason, "text": text.strip(), "generation": current["generation"], "adjustment": words,
        "retrain_generation": use_cases.run_generation(started[0]) if started else None,
        "parameters": {run.stage: json.loads(run.parameters_json) for run in started},
    }
    _decide(avatar_id, current, verdict="rejected", verdict_by=by, verdict_reason=reason, verdict_text=payload["text"],
            adjustment=words, retrain_generation=payload["retrain_generation"])
    if reason == "other":  # free words: an operator answers them (host/operator_tasks.py)
        judged = models.Round.get((models.Round.avatar == avatar_id) & (models.Round.number == current["round"]))
        payload["task"] = models.OperatorTask.create(avatar=avatar_id, round=judged, text=payload["text"], asked_by=by).id
    uow.notify(avatar_id, REJECTED, payload, run_id=current["evaluation_run"], stage=EVALUATION_STAGE)
    return {**current, "verdict": "rejected", **payload}, started, words


def can_deploy(avatar_id: str) -> tuple[bool, str]:
    """Whether the avatar may be deployed, and why: only the person's approval of the newest round
    allows it."""
    found = rounds(avatar_id)
    if not found:
        return False, "the avatar has no evaluation yet"
    newest = found[-1]
    if newest["verdict"] == "approved":
        return True, f"{newest['by']} approved round {newest['round']} (generation {newest['generation']})"
    if newest["verdict"] == "rejected":
        return False, f"round {newest['round']} was rejected ({newest['reason']}); the adjusted model must pass and be approved"
    if not newest["passed"]:
        return False, f"round {newest['round']} did not pass its limits"
    return False, f"round {newest['round']} passed and waits for the person's approval"


def retrain_with(uow: UnitOfWork, avatar_id: str, adjustment: Adjustment, why: str, flow: Flow,
                 known_stages: set[str]) -> list[models.StageRun]:
    """Keeps the adjustment's sub-model (accepting it unless it already is), marks the rerun
    sub-models' current runs rejected, and retrains them with the scaled presets."""
    kept = adjustment.retrain_from
    version = use_cases.latest_submission_version(avatar_id)
    runs = use_cases.succeeded_runs(avatar_id, kept, version)
    if runs and retraining.verdict(runs[0].id) != "accepted":
        retraining.accept(uow, avatar_id, kept, flow)
    overrides = {}
    for stage in flow.downstream(kept):
        if stage == EVALUATION_STAGE or not use_cases.succeeded_runs(avatar_id, stage, version):
            continue
        previous = retraining.reject(uow, avatar_id, stage, why, flow)
        if stage in adjustment.scale:
            overrides[stage] = {"scale": compounded(json.loads(previous.parameters_json or "{}").get("scale", {}), adjustment.scale[stage])}
    return retraining.retrain(uow, avatar_id, kept, flow, known_stages, overrides)


def compounded(scale: dict[str, float], factors: dict[str, float]) -> dict[str, float]:
    """The multipliers of a stage's preset values after one more adjustment: each earlier one
    times its factor, at most MOST_SCALE."""
    return {**scale, **{key: min(MOST_SCALE, scale.get(key, 1.0) * factor) for key, factor in factors.items()}}


def _judgeable(avatar_id: str) -> dict[str, Any]:
    """The newest round, if it can still be judged: it has no verdict, and no newer generation has
    started since (that one's evaluation is the round to judge)."""
    found = rounds(avatar_id)
    if not found:
        raise NotFound(
            stage=EVALUATION_STAGE, code="no_evaluation",
            cause=f"avatar {avatar_id} has no finished evaluation to judge",
            advice=f"wait for {EVALUATION_STAGE} to finish (twinforge watch {avatar_id})",
        )
    newest = found[-1]
    if newest["verdict"] is not None:
        raise IllegalTransition(
            stage=EVALUATION_STAGE, code="already_judged",
            cause=f"round {newest['round']} was already {newest['verdict']} by {newest['by']}",
            advice=f"wait for the next evaluation (twinforge avatar rounds {avatar_id})",
        )
    version = use_cases.latest_submission_version(avatar_id)
    trained = models.StageRun.select().where(
        (models.StageRun.avatar == avatar_id) & (models.StageRun.submission_version == version) & (models.StageRun.stage != EVALUATION_STAGE)
    )
    newer = [run for run in trained if use_cases.run_generation(run) > newest["generation"]]
    if newer:
        raise IllegalTransition(
            stage=EVALUATION_STAGE, code="newer_generation",
            cause=f"generation {use_cases.run_generation(newer[0])} was started after round {newest['round']} was measured",
            advice=f"judge that generation's evaluation once it is ready (twinforge watch {avatar_id})",
        )
    return newest


def _open_round(run: models.StageRun) -> models.Round:
    """The round of a succeeded evaluation, numbered after the avatar's last one; the avatar row is
    locked (on PostgreSQL) so two evaluations ending at once cannot take the same number."""
    use_cases.locked_avatar(run.avatar_id)
    last = models.Round.select(peewee.fn.MAX(models.Round.number)).where(models.Round.avatar == run.avatar_id).scalar()
    summary = json.loads(run.summary_json or "{}")
    return models.Round.create(
        avatar=run.avatar_id, number=(last or 0) + 1, evaluation_run=run, submission_version=run.submission_version,
        generation=_generation(run), passed=bool(summary.get("passed")), preset=summary.get("preset") or "", created_at=run.updated_at,
    )


def _decide(avatar_id: str, current: dict[str, Any], **verdict: Any) -> None:
    """Writes the person's verdict on the round `current`, unless one was written since it was read
    (two people judging at once): the later one is refused, and its unit of work rolls back."""
    written = models.Round.update(decided_at=utcnow(), **verdict).where(
        (models.Round.avatar == avatar_id) & (models.Round.number == current["round"]) & models.Round.verdict.is_null()
    ).execute()
    if not written:
        raise IllegalTransition(
            stage=EVALUATION_STAGE, code="already_judged",
            cause=f"round {current['round']} was judged by someone else a moment ago",
            advice=f"see its verdict (twinforge avatar rounds {avatar_id})",
        )


def _as_dict(row: models.Round) -> dict[str, Any]:
    """A round as the host's API shows it: the facts of its row, and the measures and previews
    its evaluation run keeps in its summary and outputs (decoded here, and only here)."""
    run = row.evaluation_run
    summary = json.loads(run.summary_json or "{}")
    outputs = json.loads(run.outputs_json or "[]")
    voice_preview = next((ref for ref in outputs if ref["kind"] == VOICE_PREVIEW_KIND), {})
    return {
        "round": row.number,
        "evaluation_run": run.id,
        "submission_version": row.submission_version,
        "generation": row.generation,
        "measured_at": row.created_at.isoformat(),
        "passed": row.passed,
        "preset": row.preset,
        "words": plain_words(summary),
        "results": summary.get("results") or {},
        "mean": summary.get("mean", {}),
        "preview": next((ref["key"] for ref in outputs if ref["kind"] == PREVIEW_KIND), ""),
        "voice_preview": voice_preview.get("key", ""),
        "voice": json.loads(voice_preview.get("metadata_json") or "{}").get("voice", ""),
        "verdict": row.verdict,
        "by": row.verdict_by,
        "reason": row.verdict_reason,
        "text": row.verdict_text,
        "adjustment": row.adjustment,
        "retrain_generation": row.retrain_generation,
    }


def _generation(run: models.StageRun) -> int:
    """The generation of the model files the evaluation measured (the newest among them), so that
    an evaluation submitted by hand is placed as well as one the flow started."""
    keys = [ref["key"] for ref in json.loads(run.inputs_json or "[]") if ref["kind"] == MODEL_KIND]
    makers = models.StageRun.select().join(models.Artifact, on=(models.Artifact.run == models.StageRun.id)).where(models.Artifact.key.in_(keys))
    return max((use_cases.run_generation(maker) for maker in makers), default=use_cases.run_generation(run))


def plain_words(summary: dict[str, Any]) -> list[str]:
    """The evaluation's sentences for the person; where it gave none, its mean measures as lines of
    the render beside the unchanged driving clip (the floor) and the real recording (the ceiling)."""
    if summary.get("summary"):
        return [str(line) for line in summary["summary"]]
    verdict = "passes" if summary.get("passed") else "does not pass"
    lines = [f"The video {verdict} the limits of the {summary.get('preset', 'chosen')} preset."]
    mean = summary.get("mean", {})
    for name, value in sorted(mean.get("render", {}).items()):
        beside = [f"{label} {mean[role][name]:.3g}" for role, label in (("floor", "unchanged clip"), ("ceiling", "real recording"))
                  if mean.get(role, {}).get(name) is not None]
        shown = "not measured" if value is None else f"{value:.3g}"
        lines.append(f"{name}: {shown}" + (f" ({', '.join(beside)})" if beside else ""))
    return lines
