"""Progress bars for long searches: one bar per genome with the current cost, accuracy and global sparsity."""
from __future__ import annotations

from .._progress import bar
from ..search.loop import Callback


class LayerProgress(Callback):
    """A tqdm bar per genome (a layer, or the whole model) counting its evaluations."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar = None

    def on_unit_start(self, search) -> None:
        if not self.enabled:
            return
        st = search.state
        self.bar = bar(total=st.unit_budget, initial=st.unit_evals, unit="eval", leave=True,
                        desc=f"{search.algorithm.name} {search.unit_label}")

    def on_row(self, search, row: dict) -> None:
        if self.bar is None and self.enabled:  # a run resumed in the middle of a layer
            self.on_unit_start(search)
        if self.bar is None:
            return
        self.bar.update(search.state.unit_evals - self.bar.n)
        if row["cost"] != "":
            self.bar.set_postfix(refresh=False, cost=f"{row['cost']:.4g}", acc=f"{row['accuracy']:.4f}",
                                 sparsity=f"{row['sparsity_global']:.3f}")

    def on_unit_end(self, search, entry: dict) -> None:
        if self.bar is not None:
            self.bar.update(search.state.unit_evals - self.bar.n)
            self.bar.close()
            self.bar = None
