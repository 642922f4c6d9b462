"""The model spec: the default model's graph (modules, roles, levels, needs, presets), the flow and the
trainer processes built from it, and a broken spec refused with a message that names the sub-model
and the fix."""

from __future__ import annotations

import copy
import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from host.flow import PREPROCESSING_FLOW, with_model
from host.supervisor import BUILTIN_PLUGINS, builtin_plugins
from plugins.crop.server import CROP_SIZES
from plugins.trainer.__main__ import chosen_submodel
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


def test_each_sub_model_names_the_module_of_its_network_and_says_what_it_does() -> None:
    spec = load_spec()
    assert {name: model.module for name, model in spec.submodels.items()} == {name: f"plugins.lipsync.{name}" for name in spec.submodels}
    assert spec.submodels["syncnet"].role.startswith("the sync expert")
    for model in spec.submodels.values():
        assert model.role and "\n" not in model.role
        assert importlib.util.find_spec(model.module) is not None, f"{model.name}'s module {model.module} is not there"


def test_up_starts_one_trainer_per_sub_model_at_the_ports_the_trainers_always_had() -> None:
    trainers = [(index, plugin.name, plugin.argv) for index, plugin in enumerate(BUILTIN_PLUGINS) if plugin.module == "plugins.trainer"]
    assert trainers == [(8 + i, name, ("-m", "plugins.trainer", name)) for i, name in enumerate(load_spec().submodels)]
    assert len({plugin.name for plugin in BUILTIN_PLUGINS}) == len(BUILTIN_PLUGINS)  # a log and a process name each
    assert BUILTIN_PLUGINS[0].argv == ("-m", "plugins.probe.server") and BUILTIN_PLUGINS[-1].name == "deployment"
    spec = load_spec()
    grown = replace(spec, submodels={**spec.submodels, "lipreader": replace(spec.submodels["refiner"], name="lipreader", level=5)})
    assert ("lipreader", ("-m", "plugins.trainer", "lipreader")) in [(plugin.name, plugin.argv) for plugin in builtin_plugins(grown)]


def test_the_trainer_entry_point_names_the_known_sub_models_when_given_none_or_another() -> None:
    spec = load_spec()
    assert chosen_submodel(["generator"], spec) == "generator"
    for args in ([], ["lipreader"], ["syncnet", "refiner"]):
        with pytest.raises(SystemExit) as stopped:
            chosen_submodel(args, spec)
        assert "syncnet, audio2lip, generator, refiner" in str(stopped.value.code)
    with pytest.raises(SystemExit, match="'lipreader' is not a sub-model of the model spec"):
        chosen_submodel(["lipreader"], spec)


def test_the_networks_presets_come_from_their_file_and_the_spec_adds_to_them(tmp_path: Path) -> None:
    (tmp_path / "nets.yaml").write_text(
        "tiny: {one: {iterations: 2, batch_size: 4, lr: 0.1, checkpoint_every: 2, crop_size: 96, max_minutes: 1}}\n"
        "draft: {one: {iterations: 10, batch_size: 4, lr: 0.1, checkpoint_every: 5, crop_size: 96, channels: 8, max_minutes: 1}}\n"
        "standard: {one: {iterations: 20, batch_size: 4, lr: 0.1, checkpoint_every: 5, crop_size: 128}}\n"
        "high: {one: {iterations: 40, batch_size: 4, lr: 0.1, checkpoint_every: 5, crop_size: 256}}\n"
    )
    (tmp_path / "spec.yaml").write_text(
        "format: twinforge.model_spec\nformat_version: 1\npresets_file: nets.yaml\n"
        "submodels:\n  one:\n    module: nets.one\n    role: a test's one network\n    level: 1\n    presets:\n"
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


def test_a_missing_or_malformed_module_or_role_is_named(default: dict) -> None:
    del default["submodels"]["syncnet"]["module"]
    default["submodels"]["audio2lip"]["module"] = "plugins/lipsync/audio2lip.py"
    del default["submodels"]["generator"]["role"]
    default["submodels"]["refiner"]["role"] = ["sharpens", "the mouth"]
    message = refused(default)
    assert "'syncnet': `module` is missing: name the Python module whose prepare(setup) builds its network" in message
    assert "'audio2lip': `module` must be a dotted Python module name such as plugins.lipsync.syncnet, not 'plugins/lipsync/audio2lip.py'" in message
    assert "'generator': `role` is missing: say in one short phrase what it does" in message
    assert "'refiner': `role` must be one short line of text saying what it does, not ['sharpens', 'the mouth']" in message


def test_a_file_that_is_not_a_spec_says_so(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("format: something.else\nsubmodels: {}\n")
    with pytest.raises(SpecError, match="submodels"):
        load_spec(path)
    path.write_text("submodels: [oops")
    with pytest.raises(SpecError, match="cannot be read"):
        load_spec(path)
