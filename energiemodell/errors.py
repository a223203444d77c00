"""Errors raised by the energiemodell core.

::

    EnergiemodellError
    ├── SiteError        bad site, series, state or scenario input (lists every problem found)
    ├── ModelBuildError  the model could not be built; names the asset
    └── SolveError       the solver is missing or crashed (infeasible and time-limited solves are
                         outcomes, not errors: see ``energiemodell.model.solve.SolveStatus``)
"""

from __future__ import annotations

from dataclasses import dataclass


class EnergiemodellError(Exception):
    """Base class of every error raised by :mod:`energiemodell`."""


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where it is, what is wrong, how to fix it."""

    file: str
    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}: " if self.path else f"{self.file}: "
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"


class SiteError(EnergiemodellError):
    """Invalid site, series, plant state or scenario input.

    The message has one line per problem, each of the form ``FILE: path.to.field: problem (hint)``.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @classmethod
    def one(cls, file: str, path: str, message: str, hint: str = "") -> SiteError:
        """Build the error for a single problem."""
        return cls([Problem(file, path, message, hint)])


class ModelBuildError(EnergiemodellError):
    """The optimisation model could not be built; the message names the asset."""


class SolveError(EnergiemodellError):
    """The solver is not available or failed in a way that produced no outcome."""
