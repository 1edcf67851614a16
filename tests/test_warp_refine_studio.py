"""The warp-and-refine HPN on the canonical view's inputs: studio prior, composition, --init.

The canonical view (:func:`hpn.repose.repose` with a refiner) replaces the photo's scene by
the studio backdrop; training with ``--studio`` must show the network the same thing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hpn.part_warp import sample
from hpn.warp_refine import Refinement, compose, prior_image
from tryon.cli import main


def _canvas(seed: int = 0) -> dict[str, torch.Tensor]:
    """A source, a prior grid and a validity with person, backdrop and holes (disjoint)."""
    generator = torch.Generator().manual_seed(seed)
    size = 16
    source = torch.rand(1, 3, size, size, generator=generator) * 2 - 1
    grid = torch.rand(1, size, size, 2, generator=generator) * 1.6 - 0.8
    coverage = torch.zeros(1, 1, size, size)
    coverage[..., :, :6] = 1.0
    coverage[..., :, 6] = 0.4  # a partial edge
    background = torch.zeros(1, 1, size, size)
    background[..., :10, 7:] = 1.0  # the rest of the bottom right is a hole
    return {
        "source": source,
        "grid": grid,
        "validity": torch.cat([coverage, background], dim=1),
        "backdrop": torch.rand(1, 3, size, size, generator=generator) * 2 - 1,
    }


def test_studio_composition_is_the_canonical_views() -> None:
    """compose(backdrop=...) = v*cov*warped + v*bg*backdrop + (1 - v*(cov+bg))*generated,
    the formula of hpn.repose._refined; without a backdrop the scene is the source's."""
    canvas = _canvas()
    visibility = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    generated = torch.rand(1, 3, 16, 16) * 2 - 1
    refinement = Refinement(torch.zeros(1, 2, 16, 16), visibility, generated)
    coverage, background = canvas["validity"][:, :1], canvas["validity"][:, 1:]
    warped = sample(canvas["source"], canvas["grid"])
    studio, _ = compose(
        canvas["source"], canvas["grid"], canvas["validity"], refinement, canvas["backdrop"]
    )
    expected = (
        visibility * coverage * warped
        + visibility * background * canvas["backdrop"]
        + (1 - visibility * (coverage + background)) * generated
    )
    torch.testing.assert_close(studio, expected)
    scene, _ = compose(canvas["source"], canvas["grid"], canvas["validity"], refinement)
    off = background[0, 0] > 0
    assert not torch.allclose(scene[..., off], studio[..., off])
    prior = prior_image(canvas["source"], canvas["grid"], canvas["validity"], canvas["backdrop"])
    torch.testing.assert_close(prior[..., off], canvas["backdrop"][..., off])
    torch.testing.assert_close(prior, coverage * warped + (1 - coverage) * canvas["backdrop"])
    assert torch.equal(prior_image(canvas["source"], canvas["grid"], canvas["validity"]), warped)


@pytest.fixture(scope="module")
def studio_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("studio") / "set"
    main(["data", "synth", "--out", str(root), "--identities", "5", "--poses", "3",
          "--size", "64", "--style", "photo", "--target-backdrop", "studio",
          "--workers", "1"])  # fmt: skip
    return root


def test_studio_pairs_carry_the_canonical_views_inputs(studio_root) -> None:
    from core.images import tensor_to_uint8
    from hpn.part_warp import part_warp
    from hpn.repose import canvas_validity, holes_to_fill, studio_backdrop
    from tryon.data import DeepFashionPairs
    from tryon.data.prior_pairs import PriorPairs

    pairs = DeepFashionPairs(studio_root, "train", 64, targets="studio")
    scene = PriorPairs(DeepFashionPairs(studio_root, "train", 64))
    studio = PriorPairs(pairs, studio=True)
    assert 0 < len(studio) < len(scene)  # pairs whose target shows what the frame cut off go
    ramp = torch.from_numpy(np.round(studio_backdrop((64, 64)))).permute(2, 0, 1) / 127.5 - 1
    moved_away = 0
    for index in range(len(studio)):
        item = studio[index]
        reference, target = item["reference_name"], item["target_name"]
        lost = np.isnan(pairs.keypoints[reference]).any(axis=1)
        assert not (lost & ~np.isnan(pairs.keypoints[target]).any(axis=1)).any()
        torch.testing.assert_close(item["backdrop"], ramp)
        mask = item["reference_person_mask"][0].numpy() > 0.5
        keypoints = item["reference_keypoints"].numpy(), item["target_keypoints"].numpy()
        warp = part_warp(*keypoints, mask, (64, 64))
        holes, _ = holes_to_fill(warp, *keypoints, (64, 64))
        np.testing.assert_array_equal(
            item["validity"].numpy(), canvas_validity(warp.coverage, holes)
        )
        moved_away += int(((item["validity"][1] > 0).numpy() & mask).any())
        photo = pairs[studio.indices[index]]
        assert torch.equal(item["reference"][:, mask], photo["reference"][:, mask])
        studio_target = tensor_to_uint8(item["target"])
        assert (studio_target == tensor_to_uint8(ramp)).all(axis=-1).mean() > 0.2
    # Where the person stood and no longer stands is backdrop (valid), unlike the scene prior.
    assert moved_away > 0


def test_train_from_a_trained_model_on_studio_inputs_and_score_them(
    studio_root, tmp_path, vgg16_path
) -> None:
    fast = [
        "--config", "tiny", "--steps-per-level", "2", "--batch-size", "2",
        "--vgg-layers", "relu1_2", "--device", "cpu", "--num-workers", "0",
    ]  # fmt: skip
    first = tmp_path / "first"
    main(["train", "hpn-refine", "--data", str(studio_root), "--out", str(first),
          "--levels", "32,64", *fast])  # fmt: skip
    tuned = tmp_path / "tuned"
    init = first / "levels" / "0032"
    main(["train", "hpn-refine", "--data", str(studio_root), "--out", str(tuned),
          "--levels", "32,64", "--studio", "--init", str(init), *fast])  # fmt: skip
    options = json.loads((tuned / "options.json").read_text())
    assert options["init"] == str(init) and options["studio"] is True
    scores_path = tmp_path / "scores.json"
    main(["eval", "hpn-refine", "--model", str(tuned / "final"), "--data", str(studio_root),
          "--resolution", "64", "--studio", "--limit", "2", "--json", str(scores_path),
          "--device", "cpu"])  # fmt: skip
    scores = json.loads(scores_path.read_text())
    assert scores["studio"] is True and scores["pairs"] == 2
    assert {"warp_refine", "part_warp"} <= set(scores["methods"])
    with pytest.raises(SystemExit) as exit_info:  # the 64 level cannot restart at 32
        main(["train", "hpn-refine", "--data", str(studio_root), "--out", str(tmp_path / "x"),
              "--levels", "32,64", "--init", str(first / "levels" / "0064"), *fast])  # fmt: skip
    assert exit_info.value.code == 2


def test_an_initialised_task_starts_from_the_given_weights(tmp_path, vgg16_path) -> None:
    from core.perceptual import VGG16Features
    from hpn.warp_refine import WarpRefineConfig, WarpRefineHPN
    from hpn.warp_refine_trainer import WarpRefineTask, WarpRefineTrainConfig

    config = WarpRefineConfig.tiny()
    trained = WarpRefineHPN(config)
    trained.grow()
    with torch.no_grad():
        trained.network.to_rgb.weight.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
    trained.save_pretrained(tmp_path / "trained", dtype=torch.float16)
    backbone = VGG16Features.from_file(vgg16_path, layers=("relu1_2",))
    options = WarpRefineTrainConfig(levels=(64, 128), steps_per_level=1, batch_sizes=(1,))
    task = WarpRefineTask(config, options, backbone, init=tmp_path / "trained")
    model = task.build_model()
    assert model.resolution == 64 and next(model.parameters()).dtype == torch.float32
    for name, value in trained.state_dict().items():
        expected = value.half().float() if value.is_floating_point() else value
        torch.testing.assert_close(model.state_dict()[name], expected)
    low = WarpRefineTrainConfig(levels=(32, 64), steps_per_level=1, batch_sizes=(1,))
    with pytest.raises(ValueError, match="must not be below"):
        WarpRefineTask(config, low, backbone, init=tmp_path / "trained").build_model()
