"""Pieces both applications share: optional matplotlib, the progress bar, output folders."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinygrad_mv.files import write_atomically

PLOT_HINT = 'pip install "tinygrad_mv[plot]"'


def figure_class() -> Any:
    """``matplotlib.figure.Figure``, or None when matplotlib is not installed.

    Figures are made directly (not through pyplot): ``savefig`` renders them with the Agg
    backend, no global backend state is touched and no window is ever opened."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def run_example(main: Any, doc: str) -> None:
    """The command line shared by the course-method examples: ``--out DIR`` and ``--quick``."""
    import argparse
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--out", default="tinygrad_mv_out", help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="small settings (for tests)")
    cli = parser.parse_args()
    main(cli.out, cli.quick)


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend, or None (with a hint) when missing: for the
    example scripts, which draw with pyplot."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('matplotlib is not installed, so no figure: pip install "tinygrad_mv[plot]" '
              "(or pip install matplotlib)")
        return None
    return plt


def plotting_available() -> bool:
    return figure_class() is not None


def progress_bar(total: int, description: str, enabled: bool | None = None) -> tqdm:
    """A tqdm bar on stderr; by default shown only when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, desc=description, disable=not enabled, leave=False,
                dynamic_ncols=True, mininterval=0.2)


def output_dir(path: str | os.PathLike) -> Path:
    """Create (if needed) and return the output folder; a clear OSError if that is impossible."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--out {os.fspath(path)!r} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_figure(fig: Any, path: str | os.PathLike, dpi: int) -> Path:
    """Save a matplotlib figure at ``path`` (its suffix names the format), whole or not at all:
    an interrupted or failed save leaves no truncated picture."""
    target = Path(path)
    fmt = target.suffix[1:].lower() or "png"
    write_atomically(target, lambda handle: fig.savefig(handle, format=fmt, dpi=dpi),
                     "savefig")
    return target


def write_csv(path: str | os.PathLike, write: Any) -> Path:
    """``write(handle)`` into a new file at ``path``, whole or not at all."""
    return write_atomically(path, write, "csv")


def save_figure(fig: Any, out: str | os.PathLike, name: str, dpi: int) -> Path:
    """Save a matplotlib figure as ``out/name``, close it, and say where it went."""
    path = write_figure(fig, output_dir(out) / name, dpi)
    import matplotlib.pyplot as plt
    plt.close(fig)
    print(f"wrote {path}")
    return path


def no_plot_message() -> str:
    return f"matplotlib is not installed, so no figure was drawn; for the plots: {PLOT_HINT}"


def print_written(paths: list[Path]) -> None:
    """Every command ends by saying where its files are."""
    for path in paths:
        print(f"wrote {path}")


def report_written(files: list[Path], figure: Path | None) -> None:
    """Say where the files went, the figure first; without matplotlib, how to get the plots."""
    if figure is None:
        print(no_plot_message())
        print_written(files)
    else:
        print_written([figure, *files])
