"""The request budget as a plan: the probe plan first, a reserve for retries, the rest by weight.

Against a live target, requests are what a run has least of (``--max-requests``, 600 by
default, and a shared account may allow far less). A run spends them in this order:

1. **The probe plan**, whole: every property's probe, a fixed number of deterministic
   requests known before the run starts (``probe_requests``). It tries every check and
   every invariant of the spec once, where drift shows first. A budget below it cannot
   test the contract, and is refused before anything is sent (``minimum``).
2. **Reserves**: retries of 429/502/503/504 and of dropped connections count against the
   budget, so ``reserve`` requests (5% of the budget, at least 2) are never planned for
   anything else; and ``confirmation`` requests (5% more, unless ``--no-confirm``) are kept
   to send each new finding's requests once more before the run ends.
3. **Exploration**: what is left, shared among the properties by their weights
   (``ContractProperty.weight``). When a property begins, it gets its weight's part of what
   the budget still has beyond the reserve, so that requests a property did not need (its
   ``--max-examples`` ran out first) go to the ones after it.

    plan = BudgetPlan.of(spec, target, max_requests=120, properties=list(PROPERTIES.values()))
    plan.probe_requests, plan.reserve  # (23, 6) with the packaged spec and an empty instance
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dcs_contract.contract.spec import Spec
from dcs_contract.errors import ConfigError
from dcs_contract.settings.target import Target

if TYPE_CHECKING:
    from dcs_contract.engine.properties import ContractProperty

__all__ = ["CONFIRM_PERCENT", "MIN_RESERVE", "RESERVE_PERCENT", "BudgetPlan"]

# The part of the budget kept for retries, and its floor: one throttled answer retried twice.
RESERVE_PERCENT = 5
MIN_RESERVE = 2
# The part of the budget kept to send new findings' requests once more (none at all is fine).
CONFIRM_PERCENT = 5


@dataclass(frozen=True)
class BudgetPlan:
    """How a run will spend ``max_requests``: the probes by property, the reserve, the weights."""

    max_requests: int
    probes: dict[str, int]
    weights: dict[str, int]
    confirm: bool = True

    @classmethod
    def of(
        cls,
        spec: Spec,
        target: Target,
        *,
        max_requests: int,
        properties: Sequence[ContractProperty],
        confirm: bool = True,
    ) -> BudgetPlan:
        """The plan for these properties, in this order: the survey counts once, in the first probe that reads it."""
        probes: dict[str, int] = {}
        surveyed = False
        for prop in properties:
            survey = 1 if prop.probe_part is not None and prop.surveys and not surveyed else 0
            surveyed = surveyed or bool(survey)
            probes[prop.name] = prop.cost(spec, target) + survey
        return cls(max_requests, probes, {prop.name: prop.weight for prop in properties}, confirm)

    @property
    def probe_requests(self) -> int:
        return sum(self.probes.values())

    @property
    def reserve(self) -> int:
        return max(MIN_RESERVE, self.max_requests * RESERVE_PERCENT // 100)

    @property
    def confirmation(self) -> int:
        """Requests kept to confirm findings: a run that finds none leaves them unsent."""
        return self.max_requests * CONFIRM_PERCENT // 100 if self.confirm else 0

    @property
    def minimum(self) -> int:
        """The smallest budget that sends the whole probe plan and keeps the smallest reserve."""
        return self.probe_requests + MIN_RESERVE

    def check(self, flag: str = "--max-requests") -> None:
        """A ConfigError (exit 2) when the budget cannot send the probe plan; it names the minimum."""
        if self.max_requests < self.minimum:
            raise ConfigError(
                f"{flag}={self.max_requests}, but the probe plan alone sends {self.probe_requests} requests "
                f"and keeps {MIN_RESERVE} for retries: give at least {flag} {self.minimum}"
            )

    def share(self, name: str, *, left: int, after: Sequence[str]) -> int:
        """The exploration requests of ``name``: its weight's part of ``left`` beyond the reserve.

        ``left``: what the budget still has; ``after``: the properties still to explore,
        ``name`` first, which share it by weight.
        """
        weight = self.weights.get(name, 0)
        total = sum(self.weights.get(other, 0) for other in after)
        if not weight or not total:
            return 0
        return max(0, left - self.reserve - self.confirmation) * weight // total

    def describe(self) -> str:
        """One line for the summary: the budget, the probe plan, the reserve and the weights."""
        explored = max(0, self.max_requests - self.probe_requests - self.reserve - self.confirmation)
        weights = ", ".join(f"{name} {weight}" for name, weight in self.weights.items() if weight)
        return (
            f"budget {self.max_requests}: probe plan {self.probe_requests}, reserve {self.reserve}, "
            f"confirmation {self.confirmation}, "
            f"exploration up to {explored} by weight ({weights})"
        )
