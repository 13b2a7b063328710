"""One declaration per metric family, registered once: what the scorer, the config, the layout check and
the accumulator know about a family all come from here.

A `Family` is what a sub-score is made of: its name (the sub-score key and reason code), the raw metrics
whose worst sub-score it is (`sources`, each with its calibrated bad boundary), its weight in the
aggregate, the raw metrics its meters report, the signals it needs (`needs`: why it cannot be computed
on a layout, or None) and the per-frame thresholds only it reads. Each family module declares its family
with `FAMILIES.register(Family(...))` on its meter class, the way LeRobot's `ProcessorStepRegistry`
registers processor steps, and `FAMILIES.meter` adds a meter that serves a family declared elsewhere.

Families are kept in declaration order (the order of sub-scores in a report, so the aggregate sums in
the same order); meters in their `ORDER` (the order they see a frame: a meter that leaves a fact for
others runs before them, and the order their raw metrics are reported in).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    from sim_teleop.quality.config import SignalLayout
    from sim_teleop.quality.frame import FrameFacts, MeterSetup


class Kind(enum.Enum):
    """What a family judges: the demonstration's motion, one camera's images (a sub-score per camera),
    or the recording itself."""

    MOTION = "motion"
    CAMERA = "camera"
    INTEGRITY = "integrity"


@dataclass(frozen=True)
class Source:
    """A raw metric (or a value the scorer derives, such as `slow`) a family's sub-score is the worst of,
    and its bad boundary: the sub-score is 0.5 at `half` (overridable by `half_name` in the config)."""

    key: str
    half: float
    half_name: str = ""

    @property
    def name(self) -> str:
        """The name its boundary goes by in `QualityConfig.half`."""
        return self.half_name or self.key


def always(layout: SignalLayout) -> str | None:
    """Computable on any layout."""
    return None


@dataclass(frozen=True)
class Family:
    name: str
    kind: Kind
    sources: tuple[Source, ...]
    weight: float
    raw_keys: tuple[str, ...]
    needs: Callable[[SignalLayout], str | None] = always
    thresholds: Mapping[str, float] = field(default_factory=dict)


class Meter(Protocol):
    """A running measurement: state of its own, one update per recorded frame, its raw values at the end."""

    ORDER: ClassVar[int]

    @classmethod
    def build(cls, setup: MeterSetup) -> Meter | None:
        """A meter for this episode, or None where the layout lacks its signals."""
        ...

    def update(self, f: FrameFacts) -> None: ...

    def raw(self) -> dict[str, float]: ...


M = TypeVar("M", bound=type)


class FamilyRegistry:
    """Family name -> its declaration, and the meters that measure them."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}
        self._meters: list[type[Meter]] = []

    def declare(self, family: Family) -> Family:
        """Register `family`; a second declaration of the same name is an error."""
        if family.name in self._families:
            raise ValueError(f"metric family {family.name!r} is declared twice")
        self._families[family.name] = family
        return family

    def register(self, *families: Family) -> Callable[[M], M]:
        """Class decorator: declare `families` and register the class as the meter that measures them."""

        def wrap(cls: M) -> M:
            for family in families:
                self.declare(family)
            return self.meter(cls)

        return wrap

    def meter(self, cls: M) -> M:
        """Class decorator: register a meter (one that serves a family declared elsewhere)."""
        if cls in self._meters:
            raise ValueError(f"meter {cls.__name__} is registered twice")
        self._meters.append(cls)
        self._meters.sort(key=lambda m: m.ORDER)
        return cls

    def __getitem__(self, name: str) -> Family:
        return self._families[name]

    def __iter__(self) -> Iterator[Family]:
        return iter(self._families.values())

    def __len__(self) -> int:
        return len(self._families)

    def names(self, kind: Kind | None = None) -> tuple[str, ...]:
        return tuple(f.name for f in self if kind is None or f.kind is kind)

    @property
    def meters(self) -> tuple[type[Meter], ...]:
        return tuple(self._meters)

    def halves(self) -> dict[str, float]:
        """Every source's bad boundary by the name the config knows it by."""
        return {s.name: s.half for f in self for s in f.sources}

    def weights(self) -> dict[str, float]:
        return {f.name: f.weight for f in self}

    def thresholds(self) -> dict[str, float]:
        """The per-frame thresholds the families declare (each read by its own family only)."""
        out: dict[str, float] = {}
        for f in self:
            for key, value in f.thresholds.items():
                if key in out:
                    raise ValueError(f"threshold {key!r} is declared by two families")
                out[key] = value
        return out


FAMILIES = FamilyRegistry()
"""The one registry; `quality.families` fills it when imported."""
