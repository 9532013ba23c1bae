"""The architecture-design MDP of MetaQNN (reference.md section 5), framework-free.

An agent designs a CNN one layer at a time. A *state* is the last layer chosen with
what the next choice depends on (depth, the spatial side of the representation, the
number of dense layers so far); an *action* is the next layer, itself a layer spec of
``shared.specs`` (so the action space is the suite's own network spec), or
``TERMINATE``. The rules, from the source:

- convolutions (ReLU, stride 1, ``same`` padding) keep the side; their kernel may not
  exceed it; max pools (valid) shrink it, their window may not exceed it, and a pool
  never follows a pool;
- once a dense layer is chosen, only dense layers (at most ``max_dense``) or the end
  may follow;
- at most ``max_depth`` chosen layers; the end is allowed after at least one.

``valid_actions`` lists exactly the actions these rules allow, so an agent that picks
among them always ends with a valid network. ``to_network`` turns a design into a
``Network``: the chosen layers, ``Flatten`` before the first dense layer (or before the
classifier), and the classifier ``Dense(n_classes)`` with linear output (logits);
``Network`` validates it with the same code as every other spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from shared.specs import Conv2D, Dense, Flatten, Layer, MaxPool2D, Network, SpecError


class _Terminate:
    """The action that ends a design (MetaQNN's terminal state: the classifier)."""

    _instance: _Terminate | None = None

    def __new__(cls) -> _Terminate:  # one instance, so equality is identity
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "TERMINATE"

    def __reduce__(self) -> str:
        return "TERMINATE"


TERMINATE: Final = _Terminate()
Action = Conv2D | MaxPool2D | Dense | _Terminate
Design = tuple[Conv2D | MaxPool2D | Dense, ...]  # the chosen layers, in order


@dataclass(frozen=True)
class DesignState:
    """Where a design stands: ``depth`` layers chosen, the last being ``last`` (None at
    the start), a representation ``side`` x ``side`` wide (1 once flattened), and
    ``dense`` dense layers so far. The Q-table's key."""

    depth: int
    last: Conv2D | MaxPool2D | Dense | None
    side: int
    dense: int


@dataclass(frozen=True)
class SearchSpace:
    """Layer choices and limits for square ``(channels, side, side)`` images.

    ``pools``: ``(size, stride)`` pairs. The defaults fit 8x8 digits: 9 convolutions,
    2 pools and 3 dense widths, 15 layer actions."""

    input_shape: tuple[int, int, int] = (1, 8, 8)
    n_classes: int = 10
    conv_filters: tuple[int, ...] = (8, 16, 32)
    conv_kernels: tuple[int, ...] = (1, 3, 5)
    pools: tuple[tuple[int, int], ...] = ((2, 2), (3, 2))
    dense_units: tuple[int, ...] = (32, 64, 128)
    max_depth: int = 8
    max_dense: int = 2

    def __post_init__(self) -> None:
        _, height, width = self.input_shape
        if height != width:
            raise SpecError(f"the search space needs square images, got {self.input_shape}")
        if any(kernel % 2 == 0 for kernel in self.conv_kernels):
            raise SpecError("conv kernels must be odd (same padding)")
        if self.max_depth < 1 or self.max_dense < 0 or self.n_classes < 2:
            raise SpecError("max_depth must be >= 1, max_dense >= 0 and n_classes >= 2")
        Network(self.input_shape, (Flatten(), Dense(self.n_classes)))  # checks the sizes

    @property
    def start(self) -> DesignState:
        return DesignState(depth=0, last=None, side=self.input_shape[1], dense=0)

    def layer_actions(self) -> tuple[Conv2D | MaxPool2D | Dense, ...]:
        """Every layer action in a fixed order (convolutions, pools, dense)."""
        convs = tuple(
            Conv2D(filters, kernel, padding="same", activation="relu")
            for filters in self.conv_filters
            for kernel in self.conv_kernels
        )
        pools = tuple(MaxPool2D(size, stride) for size, stride in self.pools)
        dense = tuple(Dense(units, "relu") for units in self.dense_units)
        return convs + pools + dense

    def valid_actions(self, state: DesignState) -> tuple[Action, ...]:
        """The actions the rules allow in ``state``, in ``layer_actions`` order, then
        ``TERMINATE``; never empty."""
        ends = (TERMINATE,) if state.depth >= 1 else ()
        if state.depth >= self.max_depth:
            return (TERMINATE,)
        return tuple(a for a in self.layer_actions() if self._allows(state, a)) + ends

    def _allows(self, state: DesignState, action: Conv2D | MaxPool2D | Dense) -> bool:
        if isinstance(action, Dense):
            return state.dense < self.max_dense
        if state.dense:  # nothing spatial after a dense layer
            return False
        if isinstance(action, Conv2D):
            return action.kernel <= state.side
        return action.size <= state.side and not isinstance(state.last, MaxPool2D)

    def step(self, state: DesignState, action: Action) -> DesignState | None:
        """The state after ``action`` (None after ``TERMINATE``); raises SpecError for an
        action ``valid_actions`` does not list."""
        if action not in self.valid_actions(state):
            raise SpecError(f"action {action!r} is not allowed in {state}")
        if action is TERMINATE:
            return None
        side, dense = state.side, state.dense
        if isinstance(action, MaxPool2D):
            side = (side - action.size) // action.step + 1
        elif isinstance(action, Dense):
            side, dense = 1, dense + 1
        return DesignState(state.depth + 1, action, side, dense)

    def states_of(self, design: Design) -> list[DesignState]:
        """The states a design passes through, the start first and the last layer's state
        last (``len(design) + 1`` of them); raises SpecError for an invalid design."""
        states = [self.start]
        for action in design:
            states.append(self.step(states[-1], action))
        return states

    def to_network(self, design: Design) -> Network:
        """The design as a classifier ``Network`` (see the module docstring)."""
        self.step(self.states_of(design)[-1], TERMINATE)  # checks that it may end here
        first_dense = next((i for i, a in enumerate(design) if isinstance(a, Dense)), None)
        spatial = design if first_dense is None else design[:first_dense]
        dense = () if first_dense is None else design[first_dense:]
        layers: list[Layer] = [*spatial, Flatten(), *dense, Dense(self.n_classes, "linear")]
        return Network(self.input_shape, tuple(layers))


def design_key(design: Sequence[Action]) -> str:
    """A short readable name of a design, unique per design: ``C16k3-P2s2-D64``."""
    parts = []
    for action in design:
        if isinstance(action, Conv2D):
            parts.append(f"C{action.filters}k{action.kernel}")
        elif isinstance(action, MaxPool2D):
            parts.append(f"P{action.size}s{action.step}")
        elif isinstance(action, Dense):
            parts.append(f"D{action.units}")
    return "-".join(parts) or "linear"


def design_from_key(key: str) -> Design:
    """Inverse of ``design_key`` (for records read back)."""
    if key == "linear":
        return ()
    design: list[Conv2D | MaxPool2D | Dense] = []
    for part in key.split("-"):
        kind, rest = part[0], part[1:]
        if kind == "C":
            filters, kernel = rest.split("k")
            design.append(Conv2D(int(filters), int(kernel), padding="same", activation="relu"))
        elif kind == "P":
            size, stride = rest.split("s")
            design.append(MaxPool2D(int(size), int(stride)))
        elif kind == "D":
            design.append(Dense(int(rest), "relu"))
        else:
            raise SpecError(f"not a design key: {key!r}")
    return tuple(design)
