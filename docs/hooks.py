"""MkDocs hooks for the tinygrad_mv site (``hooks: [docs/hooks.py]`` in mkdocs.yml).

1. The course notebooks, ``examples/notebooks/NN_topic.py`` (Jupytext percent format), live
   outside ``docs/``. ``on_files`` adds each one that exists as ``notebooks/NN_topic.py``, before
   mkdocs-jupyter turns them into pages (it runs, executes and renders them); ``on_config`` fills
   the "Notebooks" section of the nav with them, and ``on_page_markdown`` writes their list into
   ``docs/notebooks/index.md``. A notebook that is missing or added changes the nav, never breaks
   the build. ``TINYGRAD_MV_NOTEBOOKS=DIR`` reads them from another folder (for trying the site
   out); the default is ``examples/notebooks`` beside mkdocs.yml.

2. The site documents and runs the package beside mkdocs.yml, not another copy that happens to
   be installed (an editable install of another checkout, an older release): ``on_config`` puts
   that folder first on ``sys.path`` before anything imports ``tinygrad_mv``, and on
   ``PYTHONPATH`` for the kernels that run the notebooks.

3. The API reference is read by mkdocstrings from the imported package (``force_inspection``),
   since Tensor's methods are bound at import time and most operations are made by
   ``tg.primitive``. Such a function says it comes from ``tinygrad_mv.autograd`` (where
   ``primitive`` is), where it cannot be found under that name, so griffe could not resolve
   ``tinygrad_mv.exp``. ``on_config`` points each of them at a module that holds it.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

NOTEBOOK_GLOB = "[0-9][0-9]_*.py"
NAV_SECTION = "Notebooks"
LIST_MARKER = "<!-- notebook-list -->"

_notebooks: list[tuple[Path, str]] = []  # (source, title), filled by on_config


def _notebook_dir(config) -> Path:
    override = os.environ.get("TINYGRAD_MV_NOTEBOOKS")
    if override:
        folder = Path(override).resolve()
        if folder.name != "notebooks":
            raise PluginError(f"TINYGRAD_MV_NOTEBOOKS={override}: the folder must be named "
                              "'notebooks' (its files are published under notebooks/)")
        return folder
    return Path(config.config_file_path).resolve().parent / "examples" / "notebooks"


def _title(source: Path) -> str:
    """The notebook's first Markdown heading (``# # Title`` in percent format), else its name."""
    try:
        text = source.read_text(encoding="utf-8")
    except OSError:
        text = ""
    in_markdown = False
    for line in text.splitlines():
        if line.startswith("# %%"):
            in_markdown = "[markdown]" in line
            continue
        if in_markdown:
            match = re.match(r"#\s+#{1,2}\s+(.+)", line)
            if match:
                return match.group(1).strip()
    stem = source.stem
    number, _, topic = stem.partition("_")
    return f"{int(number)}. {topic.replace('_', ' ').capitalize()}"


def _nav_entries() -> list[dict[str, str]]:
    return [{title: f"notebooks/{source.name}"} for source, title in _notebooks]


def _use_this_checkout(config) -> None:
    """Import (and let the notebooks' kernels import) the tinygrad_mv beside mkdocs.yml."""
    root = str(Path(config.config_file_path).resolve().parent)
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    others = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    os.environ["PYTHONPATH"] = os.pathsep.join([root, *others])
    loaded = sys.modules.get("tinygrad_mv")
    if loaded is not None and not str(Path(loaded.__file__).resolve()).startswith(root + os.sep):
        raise PluginError(f"tinygrad_mv was already imported from {loaded.__file__}, not from "
                          f"{root}: the site would document that copy")


def on_config(config, **kwargs):
    _use_this_checkout(config)
    _notebooks[:] = [(p, _title(p)) for p in sorted(_notebook_dir(config).glob(NOTEBOOK_GLOB))]
    nav = config.nav or []
    for item in nav:
        if isinstance(item, dict) and NAV_SECTION in item:
            section = item[NAV_SECTION]
            if not isinstance(section, list):
                section = [section]
            item[NAV_SECTION] = [e for e in section if not _is_notebook_entry(e)] + _nav_entries()
    _fix_primitive_modules()
    return config


def _is_notebook_entry(entry) -> bool:
    path = entry if isinstance(entry, str) else next(iter(entry.values()), "")
    return isinstance(path, str) and path.startswith("notebooks/") and path.endswith(".py")


@event_priority(100)  # before mkdocs-jupyter's on_files, which wraps the notebooks as pages
def on_files(files, config, **kwargs):
    for source, _ in _notebooks:
        uri = f"notebooks/{source.name}"
        if files.get_file_from_path(uri) is None:
            # a real File whose src_dir is the notebooks' parent, so that abs_src_path survives
            # mkdocs-jupyter's wrapper (which recomputes it from src_dir and src_uri)
            files.append(File(uri, src_dir=str(source.parent.parent), dest_dir=config.site_dir,
                              use_directory_urls=config.use_directory_urls))
    return files


def on_page_markdown(markdown, page, config, files, **kwargs):
    if LIST_MARKER not in markdown:
        return markdown
    if _notebooks:
        # mkdocs-jupyter's include_source copies NN_topic.py beside the page NN_topic/
        lines = [f'{i}. [{title}]({source.name}) '
                 f'(<a href="{source.stem}/{source.name}" download>source</a>)'
                 for i, (source, title) in enumerate(_notebooks, start=1)]
        listing = "\n".join(lines)
    else:
        listing = "*No notebook has been written yet.*"
    return markdown.replace(LIST_MARKER, listing)


def on_serve(server, config, builder, **kwargs):
    folder = _notebook_dir(config)
    if folder.is_dir():
        server.watch(str(folder))
    return server


def _fix_primitive_modules() -> None:
    """Give each function made by ``tg.primitive`` a ``__module__``/``__qualname__`` where
    griffe finds it (the module that holds it, public names first); the package's own
    behaviour does not depend on either attribute."""
    package = importlib.import_module("tinygrad_mv")
    for info in pkgutil.walk_packages(package.__path__, "tinygrad_mv."):
        if info.name.rsplit(".", 1)[-1] == "__main__" or ".examples" in info.name:
            continue  # the command line, and example scripts, are not the API
        try:
            importlib.import_module(info.name)
        except Exception:  # an optional dependency missing: griffe will say so if it matters
            pass
    holders: dict[int, tuple[tuple, str, str]] = {}
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("tinygrad_mv") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if not callable(value) or _resolves(value):
                continue
            # prefer public names, then the deepest module (where it is defined, not re-exported)
            rank = (attr.startswith("_"), -module_name.count("."), module_name, attr)
            if id(value) not in holders or rank < holders[id(value)][0]:
                holders[id(value)] = (rank, module_name, attr)
    by_id = {id(v): v for m in list(sys.modules.values()) if m is not None
             and getattr(m, "__name__", "").startswith("tinygrad_mv") for v in vars(m).values()}
    for key, (_, module_name, attr) in holders.items():
        value = by_id[key]
        try:
            value.__module__ = module_name
            value.__qualname__ = attr
        except (AttributeError, TypeError):
            pass


def _resolves(value) -> bool:
    module_name = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if not isinstance(module_name, str) or not module_name.startswith("tinygrad_mv"):
        return True  # not ours
    if not isinstance(qualname, str) or "<locals>" in qualname:
        return True  # griffe does not follow these either way
    target = sys.modules.get(module_name)
    try:
        for part in qualname.split("."):
            target = getattr(target, part)
    except AttributeError:
        return False
    return target is value
