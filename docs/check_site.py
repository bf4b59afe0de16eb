"""After ``mkdocs build``: every notebook has its page with its pictures, and every public name
of the package (and of tg.linalg, nn, optim, optimize, forward_ad, onnx) has an entry in the API
reference. Usage: python docs/check_site.py SITE_DIR (exit status 1 with the problems listed)."""
from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's package, as the site built from it documents

import tinygrad_mv as tg  # noqa: E402
# a function named as its own module is documented under the module's path
SHADOWED = {"tinygrad_mv.tensor": "tinygrad_mv.creation.tensor",
            "tinygrad_mv.gradcheck": "tinygrad_mv.gradcheck.gradcheck",
            "tinygrad_mv.onnx.export": "tinygrad_mv.onnx.export.export"}


def public_names() -> list[str]:
    names = []
    for prefix, module in [("tinygrad_mv", tg), ("tinygrad_mv.linalg", tg.linalg),
                           ("tinygrad_mv.nn", tg.nn), ("tinygrad_mv.optim", tg.optim),
                           ("tinygrad_mv.optimize", tg.optimize),
                           ("tinygrad_mv.forward_ad", tg.forward_ad),
                           ("tinygrad_mv.onnx", tg.onnx)]:
        for name, value in vars(module).items():
            if name.startswith("_") or inspect.ismodule(value) or not callable(value):
                continue
            home = getattr(value, "__module__", "") or ""
            # the package's own names; a submodule's, not what it imported (optim's Tensor)
            if home.startswith(prefix if module is not tg else "tinygrad_mv"):
                names.append(f"{prefix}.{name}")
    return names


def main(site: Path) -> int:
    problems = []
    for source in sorted((ROOT / "examples" / "notebooks").glob("[0-9][0-9]_*.py")):
        page = site / "notebooks" / source.stem / "index.html"
        if not page.is_file():
            problems.append(f"no page for the notebook {source.name}")
        elif not re.search(r'src="data:image/(png|svg)|jp-RenderedSVG', page.read_text()):
            problems.append(f"the notebook page {source.stem} shows no picture")
    ids: set[str] = set()
    for page in (site / "reference").rglob("*.html"):
        ids |= set(re.findall(r'id="([^"]+)"', page.read_text()))
    for name in public_names():
        if name not in ids and SHADOWED.get(name) not in ids:
            problems.append(f"the API reference has no entry for {name}")
    for problem in problems:
        print(problem)
    print(f"site check: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
