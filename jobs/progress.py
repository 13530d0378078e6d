"""Progress bars for long work, on an interactive terminal only (tqdm on stderr).

Cron and CI see no bar (stderr is not a terminal, or `--json` asked for JSON
only), so their logs stay one JSON object per line. `Stages` is for work made
of a few long steps (dump, upload, restore...), `iterate` for many small ones.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Never, TypeVar

if TYPE_CHECKING:
    from tqdm import tqdm

T = TypeVar("T")


def on_terminal(json_output: bool = False) -> bool:
    return sys.stderr.isatty() and not json_output


def _width() -> int:
    """The terminal's width; 80 when it reports none (a pseudo-terminal opened without a size)."""
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def iterate(iterable: Iterable[T], *, total: int | None, desc: str, enabled: bool) -> Iterator[T]:
    if not enabled:
        yield from iterable
        return
    from tqdm import tqdm

    yield from tqdm(iterable, total=total, desc=desc, file=sys.stderr, ncols=_width())


class Stages:
    """A bar that advances one step per named stage: `with Stages(...) as s: s.step("dump")`."""

    def __init__(self, names: Sequence[str], *, desc: str, enabled: bool) -> None:
        self.names, self.desc, self.enabled = list(names), desc, enabled
        self._bar: tqdm[Never] | None = None  # a bar over no iterable: updated by hand
        self._done = 0
        self._current: str | None = None

    def __enter__(self) -> "Stages":
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=len(self.names), desc=self.desc, file=sys.stderr, ncols=_width(),
                             bar_format="{desc}: {n_fmt}/{total_fmt} |{bar}| {postfix} [{elapsed}]")
        return self

    def step(self, name: str) -> None:
        """Mark the stages before `name` done and show `name` as running."""
        if self._bar is None:
            return
        position = self.names.index(name)
        self._bar.update(position - self._done)
        self._done, self._current = position, name
        self._bar.set_postfix_str(name)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 _tb: TracebackType | None) -> None:
        """Complete when the last stage was reached without an error; otherwise say where it stopped."""
        if self._bar is not None:
            if exc_type is None and self._current == self.names[-1]:
                self._bar.update(len(self.names) - self._done)
                self._bar.set_postfix_str("done")
            else:
                self._bar.set_postfix_str(f"stopped at {self._current or self.names[0]}")
            self._bar.close()
