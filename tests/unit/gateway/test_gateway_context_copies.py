"""Each association negotiates on its own copy of the gateway's presentation contexts."""

from __future__ import annotations

from garde.dicom_gateway.contexts import scp_contexts
from garde.dicom_gateway.server import _copy_contexts


def test_copies_are_equal_and_independent():
    contexts = scp_contexts()
    copies = _copy_contexts(contexts)
    assert [(c.abstract_syntax, c.transfer_syntax) for c in copies] == [
        (c.abstract_syntax, c.transfer_syntax) for c in contexts
    ]
    copies[1].transfer_syntax.append("1.2.3")  # what a negotiation may do to its copy
    copies[1].context_id = 7
    assert "1.2.3" not in contexts[1].transfer_syntax
    assert contexts[1].context_id is None
