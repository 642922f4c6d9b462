"""The model spec: the default model's graph (levels, needs, presets), the flow built from it, and
a broken spec refused with a message that names the sub-model and the fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from host.flow import PREPROCESSING_FLOW, with_model
from plugins.crop.server import CROP_SIZES
from plugins.trainer.spec import DEFAULT_SPEC, SpecError, load_spec, validate_spec, with_presets_file


@pytest.fixture
def default() -> dict:
    """The default spec with its presets file merged in, as load_spec validates it."""
    data = yaml.safe_load(DEFAULT_SPEC.read_text())
    return with_presets_file(data, yaml.safe_load((DEFAULT_SPEC.parent / data.pop("presets_file")).read_text()))


def refused(data: dict) -> str:
    with pytest.raises(SpecError) as caught:
        validate_spec(data)
    return str(caught.value)


def test_the_default_model_trains_the_sync_expert_then_the_lips_against_it_then_generator_then_refiner() -> None:
    spec = load_spec()
    assert spec.by_level() == [["syncnet"], ["audio2lip"], ["generator"], ["refiner"]]
    assert spec.submodels["audio2lip"].needs == ("syncnet",)
    assert spec.submodels["generator"].needs == ("audio2lip",)
    assert spec.submodels["refiner"].needs == ("generator",)
    for model in spec.submodels.values():
        assert set(model.presets) == {"tiny", "draft", "standard", "high"}
        assert model.inputs == ("training_set", "materials")
        sizes = [model.presets[p]["crop_size"] for p in ("tiny", "draft", "standard", "high")]
        assert sizes == [96, 128, 128, 256]  # presets.yaml: draft's generator needs 128 px crops
        assert sizes == [CROP_SIZES[p] for p in ("tiny", "draft", "standard", "high")]  # what the crop stage makes


def test_the_networks_presets_come_from_their_file_and_the_spec_adds_to_them(tmp_path: Path) -> None:
    (tmp_path / "nets.yaml").write_text(
        "tiny: {one: {iterations: 2, batch_size: 4, lr: 0.1, checkpoint_every: 2, crop_size: 96, max_minutes: 1}}\n"
        "draft: {one: {iterations: 10, batch_size: 4, lr: 0.1, checkpoint_every: 5, crop_size: 96, channels: 8, max_minutes: 1}}\n"
        "standard: {one: {iterations: 20, batch_size: 4, lr: 0.1, checkpoint_every: 5, crop_size: 128}}\n"
        "high: {one: {iterations: 40, batch_size: 4, lr: 0.1, checkpoint_every: 5, crop_size: 256}}\n"
    )
    (tmp_path / "spec.yaml").write_text(
        "format: twinforge.model_spec\nformat_version: 1\npresets_file: nets.yaml\n"
        "submodels:\n  one:\n    level: 1\n    presets:\n"
        "      draft: {max_minutes: 2}\n      standard: {max_minutes: 3}\n      high: {max_minutes: 4, lr: 0.01}\n"
    )
    presets = load_spec(tmp_path / "spec.yaml").submodels["one"].presets
    assert presets["draft"] == {"iterations": 10, "batch_size": 4, "lr": 0.1, "checkpoint_every": 5, "crop_size": 96, "channels": 8, "max_minutes": 2}
    assert presets["high"]["lr"] == 0.01 and presets["standard"]["max_minutes"] == 3
    assert load_spec().submodels["syncnet"].presets["draft"]["window"] > 0  # from plugins/lipsync/presets.yaml


def test_the_flow_runs_every_trainer_after_the_training_set_and_the_materials_and_evaluates_the_graph() -> None:
    flow = with_model(PREPROCESSING_FLOW, load_spec())
    assert flow.needs["material_extraction"] == ("crop",)
    assert flow.needs["syncnet"] == ("crop", "material_extraction")
    assert flow.needs["audio2lip"] == ("crop", "material_extraction", "syncnet")
    assert flow.needs["generator"] == ("crop", "material_extraction", "audio2lip")
    assert flow.needs["refiner"] == ("crop", "material_extraction", "generator")
    assert {s: flow.needs[s] for s in PREPROCESSING_FLOW.needs} == PREPROCESSING_FLOW.needs
    evaluation = ["sync_detection", "quality_eval"]  # the whole graph is measured after any retrain, sync first
    graph = ("crop", "material_extraction", "syncnet", "audio2lip", "generator", "refiner")
    assert flow.needs["sync_detection"] == graph and flow.needs["quality_eval"] == (*graph, "sync_detection")
    assert flow.downstream("syncnet") == ["audio2lip", "generator", "refiner", *evaluation]
    assert flow.downstream("audio2lip") == ["generator", "refiner", *evaluation]
    assert flow.downstream("generator") == ["refiner", *evaluation] and flow.downstream("refiner") == evaluation


def test_an_unknown_need_is_named(default: dict) -> None:
    default["submodels"]["generator"]["needs"] = ["audio2lip", "lipreader"]
    assert "'generator' needs 'lipreader', which is not a sub-model" in refused(default)


def test_a_cycle_is_shown_as_a_path(default: dict) -> None:
    default["submodels"]["syncnet"]["needs"] = ["refiner"]
    message = refused(default)
    assert "cycle" in message and "syncnet -> refiner -> generator -> audio2lip -> syncnet" in message


def test_a_need_on_the_same_or_a_later_level_is_refused(default: dict) -> None:
    default["submodels"]["refiner"]["level"] = 3
    message = refused(default)
    assert "'refiner' (level 3) needs 'generator' of level 3" in message and "raise 'refiner'" in message


def test_a_missing_preset_and_bad_values_are_all_listed_at_once(default: dict) -> None:
    del default["submodels"]["audio2lip"]["presets"]["high"]
    default["submodels"]["syncnet"]["presets"]["draft"]["batch_size"] = 0
    default["submodels"]["refiner"]["presets"]["standard"]["lr"] = "fast"
    message = refused(default)
    assert "'audio2lip': the presets ['high'] are missing" in message
    assert "'syncnet', preset 'draft': `batch_size` must be a whole number from 1" in message
    assert "'refiner', preset 'standard': `lr` must be a number above 0" in message


def test_bad_resources_early_stop_and_names_are_refused(default: dict) -> None:
    broken = copy.deepcopy(default)
    broken["submodels"]["generator"]["resources"] = {"cpu_cores": 2, "gpus": 4}
    assert "'generator': `resources` must be" in refused(broken)
    broken = copy.deepcopy(default)
    broken["submodels"]["syncnet"]["early_stop"] = {"measure": "loss", "patience": 0}
    assert "'syncnet': `early_stop` must be" in refused(broken)
    broken = copy.deepcopy(default)
    broken["submodels"]["Bad-Name"] = broken["submodels"].pop("refiner")
    assert "lower-case Python identifier" in refused(broken)


def test_a_file_that_is_not_a_spec_says_so(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("format: something.else\nsubmodels: {}\n")
    with pytest.raises(SpecError, match="submodels"):
        load_spec(path)
    path.write_text("submodels: [oops")
    with pytest.raises(SpecError, match="cannot be read"):
        load_spec(path)
