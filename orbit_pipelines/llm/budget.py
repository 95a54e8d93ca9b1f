"""What a model call costs, the budgets that stop the next one, and a client that keeps to them.

Shared by every job that asks a model: the prices and budgets are the `llm` resource's; the spending
is what the ledger's `orbit.llm_usage` says (other runs and other jobs included).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Optional

from sqlalchemy import Engine

from orbit_pipelines.llm.client import ChatAnswer, ChatClient
from orbit_pipelines.llm.store import record_usage, usage_for_task, usage_today

MICRO_DOLLAR = Decimal("0.000001")


class BudgetExceeded(Exception):
    pass


@dataclass(frozen=True)
class Prices:
    input_per_1k: Decimal
    output_per_1k: Decimal


def call_cost(prompt_tokens: int, completion_tokens: int, prices: Prices) -> Decimal:
    cost = (Decimal(prompt_tokens) * prices.input_per_1k + Decimal(completion_tokens) * prices.output_per_1k) / 1000
    return cost.quantize(MICRO_DOLLAR, rounding=ROUND_HALF_UP)


def check_budget(
    *, task_id: int, spent_task: Decimal, task_budget: Decimal, spent_today: Decimal, daily_budget: Decimal
) -> None:
    """Refuse the next call once a budget is used up. The call that crosses a budget is allowed, so
    one call's cost (bounded by max_tokens) is the most a budget can be overrun by."""
    if spent_task >= task_budget:
        raise BudgetExceeded(
            f"task budget exhausted: task {task_id} has spent ${spent_task} on model calls of its "
            f"${task_budget} (ORBIT_LLM_TASK_BUDGET_USD); no further calls are made"
        )
    if spent_today >= daily_budget:
        raise BudgetExceeded(
            f"daily budget exhausted: ${spent_today} spent on model calls today (UTC) of "
            f"${daily_budget} (ORBIT_LLM_DAILY_BUDGET_USD); no further calls are made until tomorrow"
        )


@dataclass
class MeteredChat:
    """A ChatClient whose every call is checked against the budgets first and recorded in the ledger after."""

    client: ChatClient
    engine: Engine
    task_id: int
    run_id: str
    prices: Prices
    task_budget: Decimal
    daily_budget: Decimal
    max_tokens: int
    temperature: float = 0.0
    log: Optional[Callable[[str], None]] = None

    def ask(self, messages: Sequence[dict[str, str]], *, json_mode: bool) -> ChatAnswer:
        check_budget(
            task_id=self.task_id,
            spent_task=usage_for_task(self.engine, self.task_id).cost_usd,
            task_budget=self.task_budget,
            spent_today=usage_today(self.engine).cost_usd,
            daily_budget=self.daily_budget,
        )
        answer = self.client.complete(
            messages, max_tokens=self.max_tokens, temperature=self.temperature, json_mode=json_mode
        )
        cost = call_cost(answer.prompt_tokens, answer.completion_tokens, self.prices)
        record_usage(
            self.engine,
            task_id=self.task_id,
            run_id=self.run_id,
            model=answer.model,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            cost_usd=cost,
        )
        if self.log:
            self.log(
                f"{answer.model} answered: {answer.prompt_tokens} prompt + {answer.completion_tokens} "
                f"completion tokens, ${cost}"
            )
        return answer

    def close(self) -> None:
        self.client.close()
