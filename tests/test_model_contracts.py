"""Every network in the registry keeps the shared model contract (tests/model_contract.py)."""

from __future__ import annotations

import test_flow_model
import test_hpn_model
import test_preprocess_parser
import test_warp_refine
from model_contract import ModelContract

from core import registry

CONTRACT_MODULES = (test_hpn_model, test_flow_model, test_preprocess_parser, test_warp_refine)


def test_every_registered_model_type_has_a_contract_test_class():
    tested = {
        value.model_type
        for module in CONTRACT_MODULES
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ModelContract)
        and value is not ModelContract
    }
    assert tested == set(registry.model_types())
