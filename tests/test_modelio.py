"""Model directories: the config.json format, migration of older documents, the registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from core import registry
from core.errors import CheckpointError, UnknownModelTypeError
from core.modelio import (
    CONFIG_FILE,
    FORMAT_VERSION,
    data_name,
    find_absolute_paths,
    library_version,
    migrate_document,
    read_config_json,
    read_raw_config_json,
)

OLD = Path(__file__).parent / "fixtures" / "old_format"
SHIPPED = Path(__file__).parent.parent / "tryon" / "demo" / "models"


def _inputs() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 16, 16, generator=generator) * 2 - 1
    maps = torch.rand(1, 18, 4, 4, generator=generator)
    garment = torch.rand(1, 3, 16, 16, generator=generator) * 2 - 1
    mask = (torch.rand(1, 1, 16, 16, generator=generator) > 0.5).float()
    return {"image": image, "maps": maps, "garment": garment, "mask": mask}


def test_directories_written_before_format_versions_load_and_compute_as_before():
    """Golden values: what the old code's from_pretrained computed on these inputs."""
    from flow.model import AppearanceFlowNet
    from hpn.model import HPN

    inputs = _inputs()
    hpn = HPN.from_pretrained(OLD / "hpn")
    flow = AppearanceFlowNet.from_pretrained(OLD / "flow")
    assert hpn.resolution == 16 and not hpn.training
    with torch.no_grad():
        generated = hpn(inputs["image"], inputs["maps"])
        warped = flow(inputs["garment"], inputs["mask"], inputs["mask"])
    expected = torch.tensor([0.266083, 0.142619, -0.082483])
    torch.testing.assert_close(generated[0, :, 0, 0], expected, atol=1e-6, rtol=0)
    assert generated.sum().item() == pytest.approx(75.94778442382812, abs=1e-4)
    torch.testing.assert_close(
        warped.flow[0, :, 0, 0], torch.tensor([0.0002535, 0.0003728]), atol=1e-7, rtol=0
    )
    assert warped.warped_garment.sum().item() == pytest.approx(-4.4664530754089355, abs=1e-4)


def test_old_metadata_is_migrated_to_one_schema_without_paths():
    assert "format_version" not in read_raw_config_json(OLD / "hpn")
    hpn = read_config_json(OLD / "hpn")
    assert hpn["format_version"] == FORMAT_VERSION and hpn["model_type"] == "hpn"
    metadata = hpn["metadata"]
    assert metadata["steps"] == 8 and metadata["data"] == "hpn_data2"
    assert metadata["data_items"] == 12 and metadata["train"]["steps_per_level"] == 4
    assert metadata["backbone"] == {
        "name": "vgg16-hed",
        "sha256": "0" * 64,
        "convention": "caffe_bgr",
        "layers": ["relu1_2"],
    }
    assert metadata["shipped_from"] == {"sha256": "1" * 64, "dtype": "float16"}
    assert (metadata["flip"], metadata["preset"]) == (0.0, "tiny")  # other keys are kept
    assert find_absolute_paths(metadata) == []
    flow = read_config_json(OLD / "flow")["metadata"]
    assert flow["backbone"] == {"sha256": "2" * 64} and flow["data"] == "flow_data/viton"
    assert flow["steps"] == 3


def test_old_model_type_spellings_are_migrated():
    parser = read_config_json(OLD / "parser")
    assert parser["model_type"] == "human_parser"
    assert parser["metadata"]["steps"] == 776 and parser["metadata"]["data"] == "flow_data"
    assert parser["metadata"]["data_items"] == 1280
    assert registry.entry("human-parser") is registry.entry("human_parser")


def test_saving_a_migrated_model_writes_the_current_format(tmp_path):
    from hpn.model import HPN

    model = HPN.from_pretrained(OLD / "hpn")
    model.save_pretrained(tmp_path / "hpn")  # keeps the (migrated) metadata it was loaded with
    document = read_raw_config_json(tmp_path / "hpn")
    assert document["format_version"] == FORMAT_VERSION
    assert document["library_version"] == library_version()
    assert document["metadata"] == read_config_json(OLD / "hpn")["metadata"]


def test_a_newer_format_or_no_model_type_is_refused(tmp_path):
    shutil.copytree(OLD / "flow", tmp_path / "flow")
    path = tmp_path / "flow" / CONFIG_FILE
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(CheckpointError, match="newer than the 1 this hpn-tryon"):
        read_config_json(tmp_path / "flow")
    with pytest.raises(CheckpointError, match="names no model_type"):
        migrate_document({"config": {}}, "somewhere")


def test_shipped_models_are_in_the_current_format_without_paths():
    for name in ("hpn", "flow", "parser"):
        document = read_raw_config_json(SHIPPED / name)
        assert document["format_version"] == FORMAT_VERSION, name
        assert document["model_type"] in registry.model_types(), name
        assert find_absolute_paths(document) == [], name
        assert migrate_document(document) == document, name  # nothing left to migrate
        assert {"steps", "data", "backbone", "shipped_from"} <= set(document["metadata"]), name


def test_data_names_drop_the_machine():
    assert data_name("/tmp/hpn_data2") == "hpn_data2"
    assert data_name("runs/flow_data/viton") == "flow_data/viton"
    assert data_name("C:\\data\\synth") == "synth"
    assert find_absolute_paths({"a": ["x", {"b": "/root/file"}]}) == ["a[1].b: /root/file"]


def test_registry_lists_every_network_and_refuses_unknown_types():
    assert registry.model_types() == ("appearance_flow", "hpn", "hpn_warp_refine", "human_parser")
    assert registry.model_class("hpn").__name__ == "HPN"
    assert registry.entry("hpn").preset("tiny").final_resolution == 128
    assert registry.entry("appearance_flow").preset().coarsest_stride == 16  # the default
    with pytest.raises(UnknownModelTypeError, match="known: appearance_flow, hpn"):
        registry.entry("unet")
    with pytest.raises(UnknownModelTypeError, match="no preset 'huge'"):
        registry.entry("hpn").preset("huge")
    with pytest.raises(ValueError, match="already taken"):
        registry.register(registry.ModelEntry("other", "x:Y", aliases=("hpn",)))
    for model_type in registry.model_types():
        model_class = registry.model_class(model_type)
        assert model_class.model_type == model_type
        for preset in registry.entry(model_type).presets:
            assert isinstance(registry.entry(model_type).preset(preset), model_class.config_class)
