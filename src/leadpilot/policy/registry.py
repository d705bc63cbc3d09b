"""The router's extension points: the strategies a pool may use and the eligibility rules a
pool may apply, each kept in a registry.

Every built-in strategy (``leadpilot.policy.strategies``) and rule
(``leadpilot.policy.rules``) is one module with a ``register(registry)`` function, found the
way an extension is found: every module of those two packages, then every module named by an
entry point of the ``leadpilot.routing`` group (another package's
``[project.entry-points."leadpilot.routing"]``). The policy file's allowed values, the
exclusion codes, the explanations and ``policy check`` all read these registries, so a new
strategy or rule is one new module plus its tests.

This module imports nothing else of the policy package (the policy file validates against
it); what a strategy or rule is handed when it runs (``ChoiceContext``, ``RuleInput``) is
defined next to the code that calls it.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, Protocol, TypeVar

from leadpilot.errors import ConfigError

__all__ = [
    "ENTRY_POINT_GROUP",
    "RULES",
    "STRATEGIES",
    "EligibilityRule",
    "Registries",
    "Registry",
    "Strategy",
]

ENTRY_POINT_GROUP = "leadpilot.routing"
_BUILTIN_PACKAGES = ("leadpilot.policy.strategies", "leadpilot.policy.rules")


class Strategy(Protocol):
    """How a rep is picked among a pool's eligible reps.

    ``choose(ctx)`` gets a ``leadpilot.policy.choice.ChoiceContext`` and returns a
    ``Choice`` (the probability of each eligible rep, with the model's scores when it used
    them) or a ``Fallback`` (the pool's fallback strategy decides, for the reason given).
    ``record(ctx, rep_id)`` returns the extra pool credits to store when ``rep_id`` gets
    the lead (keys must start with ``"@"``, so they never collide with rotation credits).
    """

    @property
    def name(self) -> str:
        """The value of ``strategy:`` / ``fallback:`` in the policy file."""
        ...

    @property
    def explanation(self) -> str:
        """Why the rep was chosen, in words (the reason ``NAME`` in explanations)."""
        ...

    @property
    def order(self) -> int:
        """Position in listings (the policy's allowed values)."""
        ...

    @property
    def needs_scorer(self) -> bool:
        """True: needs a model, so it cannot be a pool's fallback."""
        ...

    @property
    def weighted(self) -> bool:
        """True: the pool's rotation credits grow by the pool's weights."""
        ...

    @property
    def priced(self) -> bool:
        """True: reads the pool's shadow prices (refreshed before routing)."""
        ...

    def choose(self, ctx: Any) -> Any:
        """A ``Choice`` over ``ctx.eligible`` or a ``Fallback``."""
        ...

    def record(self, ctx: Any, rep_id: str) -> dict[str, float]:
        """Extra pool credits to write when ``rep_id`` gets the lead."""
        ...


@dataclass(frozen=True, slots=True)
class EligibilityRule:
    """A rule a pool can switch on under ``eligibility:`` in the policy file.

    ``key``: the policy key; ``setting``: its type (e.g. ``bool``) and ``default`` (a rule
    whose setting is falsy is off); ``code``: the exclusion code of a rep who fails it;
    ``explanation``: why, in words ("does not speak the lead's language");
    ``check(rule_input)``: whether the rep may take the lead (a
    ``leadpilot.policy.eligibility.RuleInput``); ``lead_value(view)``: the lead's value the
    rule looks at (for ``policy check`` messages); ``lint(policy, setting, members)``:
    optional roster checks, each ``(sub-path, message)`` of a warning; ``order``: rules run
    in this order and a rep is excluded with the first failing rule's code.
    ``lead_key(view, setting)``: everything of the lead ``check`` reads, hashable: two leads
    with equal keys get the same verdict for every rep under the same policy and setting,
    so the router remembers verdicts per key across leads (``None``: checked per lead).
    """

    key: str
    code: str
    explanation: str
    check: Callable[[Any], bool]
    lead_value: Callable[[Any], object]
    setting: Any = bool
    default: Any = False
    order: int = 100
    lint: Callable[[Any, Any, Sequence[Any]], Sequence[tuple[str, str]]] | None = None
    lead_key: Callable[[Any, Any], Hashable] | None = None


class _Named(Protocol):
    @property
    def order(self) -> int: ...


T = TypeVar("T", bound=_Named)


class Registry(Generic[T]):
    """Named entries in ``order``; loads the built-ins and plugins on first read."""

    def __init__(self, what: str, name_of: Callable[[T], str]) -> None:
        self._what = what
        self._name_of = name_of
        self._entries: dict[str, T] = {}
        # names registered by a caller at run time, not by the built-ins or a plugin's entry
        # point: a fresh process (simulate's workers) loads those two itself, not these
        self._at_run_time: list[str] = []

    def register(self, entry: T) -> T:
        """Add ``entry``; a second entry under the same name is a configuration error."""
        name = self._name_of(entry)
        if name in self._entries and self._entries[name] is not entry:
            raise ConfigError(
                f"two {self._what}s are registered as {name!r}",
                hint="Rename one of them (a plugin may not replace a built-in).",
            )
        if name not in self._entries and not getattr(_in_load, "active", False):
            self._at_run_time.append(name)
        self._entries[name] = entry
        return entry

    def registered_at_run_time(self) -> list[T]:
        """The entries a caller registered itself (not the built-ins, not plugins)."""
        return [self._entries[name] for name in self._at_run_time]

    def get(self, name: str) -> T:
        """The entry called ``name`` (``ConfigError`` when there is none)."""
        _load()
        entry = self._entries.get(name)
        if entry is None:
            raise ConfigError(
                f"unknown {self._what} {name!r}",
                hint=f"Use one of: {', '.join(self.names())}.",
            )
        return entry

    def names(self) -> tuple[str, ...]:
        """Every registered name, in order."""
        return tuple(self._name_of(e) for e in self)

    def __iter__(self) -> Iterator[T]:
        _load()
        return iter(sorted(self._entries.values(), key=lambda e: e.order))

    def __contains__(self, name: object) -> bool:
        _load()
        return name in self._entries


@dataclass(frozen=True, slots=True)
class Registries:
    """What a plugin's ``register`` function receives."""

    strategies: Registry[Strategy]
    rules: Registry[EligibilityRule]


STRATEGIES: Registry[Strategy] = Registry("strategy", lambda s: s.name)
RULES: Registry[EligibilityRule] = Registry("eligibility rule", lambda r: r.key)

_loaded = False
_loading = threading.RLock()
_in_load = threading.local()  # .active: this thread is inside _load (built-ins, plugins)


def _load() -> None:
    """Import the built-in modules and the entry points once (re-entrant: a module being
    registered may read the registries)."""
    global _loaded
    if _loaded:
        return
    with _loading:
        if _loaded:
            return
        _loaded = True
        _in_load.active = True
        try:
            _load_all()
        finally:
            _in_load.active = False


def _load_all() -> None:
    target = Registries(STRATEGIES, RULES)
    for package_name in _BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if info.name.startswith("_"):
                continue
            _register(importlib.import_module(f"{package_name}.{info.name}"), target)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        _register(point.load(), target)


def _register(module: object, target: Registries) -> None:
    register = getattr(module, "register", None)
    if callable(register):
        register(target)
