"""Masks: sparsity measures, packing, the masks.npz schema and its checks."""
import numpy as np
import pytest

from evoprune.errors import EvopruneError
from evoprune.network.masks import (LayerSpec, check_masks, digest, flatten, full_masks, load_masks, pack, sparsity_global,
                            sparsity_layer_mean, split, unpack)
from evoprune.results import io

SPECS = [LayerSpec("a", 0, (2, 5)), LayerSpec("b", 3, (30,))]


def test_sparsities_by_hand():
    masks = full_masks(SPECS)
    masks["a"][0, :] = False          # a: 5 of 10 pruned -> 0.5
    masks["b"][:3] = False            # b: 3 of 30 pruned -> 0.1
    assert sparsity_layer_mean(masks) == pytest.approx((0.5 + 0.1) / 2)
    assert sparsity_global(masks) == pytest.approx(8 / 40)


def test_pack_roundtrip_and_size():
    bits = np.random.default_rng(0).integers(0, 2, 48000)
    packed = pack(bits.tolist())
    assert packed.dtype == np.uint8 and packed.size == 6000
    np.testing.assert_array_equal(unpack(packed, bits.size), bits.astype(bool))


def test_digest_skips_the_named_layer():
    m1, m2 = full_masks(SPECS), full_masks(SPECS)
    m2["a"][0, 0] = False
    assert digest(m1) != digest(m2)
    assert digest(m1, skip="a") == digest(m2, skip="a")


def test_masks_npz_schema_roundtrip(tmp_path):
    masks = full_masks(SPECS)
    masks["b"][::2] = False
    path = str(tmp_path / "masks.npz")
    io.save_npz(path, masks)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["masks.npz"]  # no temporary left behind
    loaded = load_masks(path, SPECS)
    assert list(loaded) == ["a", "b"]
    for name in masks:
        assert loaded[name].dtype == bool
        np.testing.assert_array_equal(loaded[name], masks[name])


def test_masks_that_do_not_fit_are_refused(tmp_path):
    with pytest.raises(EvopruneError, match="missing layers"):
        check_masks({"a": np.ones((2, 5))}, SPECS)
    with pytest.raises(EvopruneError, match="shape"):
        check_masks({"a": np.ones((5, 2)), "b": np.ones(30)}, SPECS)
    with pytest.raises(EvopruneError, match="no such masks file"):
        load_masks(str(tmp_path / "none.npz"), SPECS)


def test_whole_model_genome_layout_is_the_layers_in_spec_order():
    specs = [LayerSpec("b", 3, (2, 2)), LayerSpec("a", 1, (3,))]
    masks = {"a": np.array([1, 0, 1], bool), "b": np.array([[0, 1], [1, 1]], bool)}
    genome = flatten(masks, specs)
    assert genome.tolist() == [0, 1, 1, 1, 1, 0, 1]  # "b" first: the specs' order, not the dict's
    back = split(genome, specs)
    assert list(back) == ["b", "a"] and all(np.array_equal(back[k], masks[k]) for k in masks)
    assert back["b"].shape == (2, 2)
