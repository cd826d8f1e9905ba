"""The book as a whole: configuration, table of contents, committed notebooks,
references, the method-map figure, the build helpers, and the built HTML as a
browser sees it.

The browser tests read the already-built ``_build/html`` (``make test`` builds
the book first); they skip where Playwright or /usr/bin/chromium is missing.
"""
from __future__ import annotations

import functools
import html.parser
import http.server
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
SITE = REPO / "_build" / "html"
CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# What the issue asks for, written out here independently of the files under test.
TITLE = "Gradient Descent, from First Principles to Adam"
AUTHOR = "The optlib authors"
FOUNDATIONS = ["book/gradient_descent", "book/sgd", "book/minibatch_sgd"]
APPENDIX = ["book/api", "book/bibliography"]
API_MODULES = ["optimizers", "schedules", "surfaces", "rates", "data", "nn", "train", "plot",
               "widgets", "threads", "fused", "sweep"]
REQUIRED_MACROS = {  # macro -> a fragment its expansion must contain
    "vx": r"\mathbf{x}", "vg": r"\mathbf{g}", "vm": r"\mathbf{m}", "vv": r"\mathbf{v}",
    "R": r"\mathbb{R}", "E": r"\mathbb{E}", "grad": r"\nabla", "lr": r"\eta",
}
# key -> (surname of the first author, year), from the list of works
REQUIRED_REFERENCES = {
    "cauchy1847": ("Cauchy", 1847), "robbins1951": ("Robbins", 1951),
    "polyak1964": ("Polyak", 1964), "nesterov1983": ("Nesterov", 1983),
    "sutskever2013": ("Sutskever", 2013), "duchi2011": ("Duchi", 2011),
    "tieleman2012": ("Tieleman", 2012), "zeiler2012": ("Zeiler", 2012),
    "kingma2015": ("Kingma", 2015), "reddi2018": ("Reddi", 2018),
    "loshchilov2019": ("Loshchilov", 2019), "loshchilov2017": ("Loshchilov", 2017),
    "zaheer2018": ("Zaheer", 2018), "goyal2017": ("Goyal", 2017),
    "bottou2018": ("Bottou", 2018), "smith2017": ("Smith", 2017), "smith2019": ("Smith", 2019),
    "zhang2023": ("Zhang", 2023), "goh2017": ("Goh", 2017), "lecun1998": ("LeCun", 1998),
    "xiao2017": ("Xiao", 2017), "nocedal2006": ("Nocedal", 2006), "boyd2004": ("Boyd", 2004),
}
# The relations the preface's map must draw (issue: GD -> SGD -> minibatch ->
# Momentum -> NAG; AdaGrad -> RMSProp -> Adadelta; Momentum + RMSProp -> Adam
# -> AMSGrad/AdamW/Yogi).
METHOD_EDGES = {
    ("GD", "SGD"), ("SGD", "Minibatch_SGD"), ("Minibatch_SGD", "Momentum"),
    ("Momentum", "NAG"), ("AdaGrad", "RMSProp"), ("RMSProp", "Adadelta"),
    ("Momentum", "Adam"), ("RMSProp", "Adam"), ("Adam", "AMSGrad"), ("Adam", "AdamW"),
    ("Adam", "Yogi"),
}


def _load(name: str, path: pathlib.Path):
    """Import a helper script of the book by path (book/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"book_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look modules up here
    spec.loader.exec_module(module)
    return module


chapter_tools = _load("chapter_tools", BOOK / "_scripts" / "chapter_tools.py")
offline_mathjax = _load("offline_mathjax", BOOK / "_ext" / "offline_mathjax.py")
unique_scripts = _load("unique_scripts", BOOK / "_ext" / "unique_scripts.py")


def _notebooks() -> list[pathlib.Path]:
    return sorted(p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


@pytest.fixture(scope="module")
def yaml():
    return pytest.importorskip("yaml")


@pytest.fixture(scope="module")
def config(yaml):
    return yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def toc(yaml):
    return yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))


def _toc_files(node) -> list[str]:
    if isinstance(node, dict):
        own = [node["file"]] if "file" in node else []
        if "root" in node:
            own.insert(0, node["root"])
        return own + [f for key, value in node.items() if key not in ("file", "root")
                      for f in _toc_files(value)]
    if isinstance(node, list):
        return [f for item in node for f in _toc_files(item)]
    return []


# --------------------------------------------------------------------------
# _config.yml and _toc.yml
# --------------------------------------------------------------------------

def test_config_names_the_book(config):
    assert config["title"] == TITLE
    assert config["author"] == AUTHOR


def test_config_executes_every_chapter_and_fails_on_errors(config):
    execute = config["execute"]
    assert execute["execute_notebooks"] in ("force", "cache")
    assert execute["allow_errors"] is False
    assert isinstance(execute["timeout"], int) and execute["timeout"] > 0


def test_config_defines_the_notation_macros(config):
    macros = config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    for name, fragment in REQUIRED_MACROS.items():
        assert name in macros, f"MathJax macro \\{name} is not defined in _config.yml"
        expansion = macros[name] if isinstance(macros[name], str) else macros[name][0]
        assert fragment in expansion, f"\\{name} expands to {expansion!r}, expected {fragment}"


def test_config_has_launch_download_and_repository_buttons(config):
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config["launch_buttons"]["binderhub_url"].startswith("https://")
    assert config["html"]["use_repository_button"] is True
    assert config["repository"]["url"].startswith("https://github.com/")


def test_config_loads_the_extensions_the_chapters_use(config):
    extensions = config["sphinx"]["extra_extensions"]
    for name in ("sphinx_proof", "sphinx.ext.autodoc", "sphinx.ext.napoleon"):
        assert name in extensions, f"{name} missing from sphinx.extra_extensions"
    local = config["sphinx"]["local_extensions"]
    assert (REPO / local["offline_mathjax"] / "offline_mathjax.py").is_file()
    for bib in config["bibtex_bibfiles"]:
        assert (REPO / bib).is_file(), f"bibtex file {bib} in _config.yml does not exist"


def _kernel_client_extension():
    spec = importlib.util.spec_from_file_location(
        "kernel_client", REPO / "book" / "_ext" / "kernel_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_build_stops_each_kernel_immediately(config, monkeypatch):
    # book/_ext/kernel_client.py: graceful kernel shutdown was seen to hang under load
    assert config["sphinx"]["local_extensions"]["kernel_client"] == "book/_ext"
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    channels = pytest.importorskip("jupyter_client.channels")
    trait = nbclient.NotebookClient.class_traits()["shutdown_kernel"]
    monkeypatch.setattr(trait, "default_value", "graceful")
    monkeypatch.setattr(channels.AsyncZMQSocketChannel, "get_msg",
                        channels.AsyncZMQSocketChannel.get_msg)
    _kernel_client_extension().setup(None)
    assert nbclient.NotebookClient(nbformat.v4.new_notebook()).shutdown_kernel == "immediate"
    assert channels.AsyncZMQSocketChannel.get_msg.sliced


def test_a_kernel_message_is_waited_for_in_short_slices():
    # a missed wake-up costs one slice, not the whole timeout (or forever)
    import asyncio
    from queue import Empty

    module = _kernel_client_extension()
    asked = []

    async def get_msg(self, timeout=None):       # the message shows up on the 3rd look
        asked.append(timeout)
        if len(asked) < 3:
            raise Empty
        return {"msg_type": "execute_reply"}

    sliced = module._sliced(get_msg)
    assert asyncio.run(sliced(None, timeout=None))["msg_type"] == "execute_reply"
    assert len(asked) == 3 and all(0 <= t <= module.POLL_SLICE for t in asked)
    asked.clear()

    async def never(self, timeout=None):
        asked.append(timeout)
        raise Empty

    with pytest.raises(Empty):                   # a real deadline still ends the wait
        asyncio.run(module._sliced(never)(None, timeout=0.01))
    assert asked and all(t <= 0.01 for t in asked)


def test_config_excludes_the_author_notes_from_the_build(config):
    assert "book/CONVENTIONS.md" in config["exclude_patterns"]


def test_toc_has_the_preface_foundations_and_appendix(toc):
    assert toc["root"] == "book/intro"
    parts = {part["caption"]: [c["file"] for c in part["chapters"]] for part in toc["parts"]}
    assert parts["Foundations"] == FOUNDATIONS
    assert parts["Appendix"][-len(APPENDIX):] == APPENDIX, \
        "the appendix must end with the API reference and the bibliography"
    assert list(parts)[-1] == "Appendix", "the appendix must stay the last part"


def test_every_toc_entry_exists(toc):
    missing = [f for f in _toc_files(toc)
               if not any((REPO / f"{f}{ext}").is_file() for ext in ("", ".md", ".ipynb"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_every_notebook_is_in_the_toc(toc):
    listed = set(_toc_files(toc))
    orphans = [str(p.relative_to(REPO)) for p in _notebooks()
               if p.relative_to(REPO).with_suffix("").as_posix() not in listed]
    assert not orphans, f"notebooks not in _toc.yml (they would not be built): {orphans}"


# --------------------------------------------------------------------------
# Committed notebooks
# --------------------------------------------------------------------------

NOTEBOOK_IDS = [p.relative_to(REPO).as_posix() for p in _notebooks()]


@pytest.mark.parametrize("path", _notebooks(), ids=NOTEBOOK_IDS)
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.relative_to(REPO)}: cells {dirty} have outputs or execution "
                       "counts; run `python book/_scripts/chapter_tools.py clean` on it")


@pytest.mark.parametrize("path", _notebooks(), ids=NOTEBOOK_IDS)
def test_notebook_starts_with_a_title_and_the_canonical_setup_cell(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    first_markdown = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    assert re.search(r"^# \S", _cell_source(first_markdown), re.M), \
        f"{path.relative_to(REPO)}: the first markdown cell has no '# Title'"
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert _cell_source(first_code).strip() == chapter_tools.FIRST_CELL, (
        f"{path.relative_to(REPO)}: the first code cell is not the setup cell "
        "of book/CONVENTIONS.md")


def _cells(path: pathlib.Path, kind: str) -> list[tuple[int, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [(i, _cell_source(c)) for i, c in enumerate(nb["cells"]) if c["cell_type"] == kind]


@pytest.mark.parametrize("path", _notebooks(), ids=NOTEBOOK_IDS)
def test_code_lines_fit_the_text_column(path):
    # 88 characters of code fit the 672 px column without a scroll bar (CONVENTIONS.md)
    long = [(i, n, len(line)) for i, text in _cells(path, "code")
            for n, line in enumerate(text.split("\n"), start=1) if len(line) > 88]
    assert not long, f"{path.relative_to(REPO)}: (cell, line, length) over 88: {long}"
    assert chapter_tools.MAX_LINE == 88


@pytest.mark.parametrize("path", _notebooks(), ids=NOTEBOOK_IDS)
def test_equation_references_are_not_bracketed_twice(path):
    # {eq} renders "(3.2)" itself; "({eq}`x`)" shows "((3.2))"
    found = [(i, m.group(0)) for i, text in _cells(path, "markdown")
             for m in re.finditer(r"\(\s*\{eq\}`[^`]*`\s*\)", text)]
    assert not found, f"{path.relative_to(REPO)}: double brackets around {found}"


@pytest.mark.parametrize("path", _notebooks(), ids=NOTEBOOK_IDS)
def test_a_captioned_figure_cell_ends_with_its_figure(path):
    # myst-nb puts the caption and name on every output of the cell: a trailing
    # expression (ax.legend(...)), print or table would become a second figure
    # with the same name, a duplicate-label warning that -W turns into an error
    nb = json.loads(path.read_text(encoding="utf-8"))
    bad = [i for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
           and "figure" in cell.get("metadata", {}).get("mystnb", {})
           and not _ends_quietly(_cell_source(cell))]
    assert not bad, (f"{path.relative_to(REPO)}: captioned figure cells {bad} must end "
                     "with plt.show() (or a statement ending in ';'); move tables and "
                     "prints to the next cell")


def _ends_quietly(source: str) -> bool:
    last = source.rstrip().split("\n")[-1].strip()
    return last == "plt.show()" or last.endswith(";")


@pytest.mark.parametrize("path", _notebooks(), ids=NOTEBOOK_IDS)
def test_figures_are_no_wider_than_the_text_column(path):
    # a figure wider than 6.72 in is shrunk into the column, and its text with it
    wide = [(i, m.group(0)) for i, text in _cells(path, "code")
            for m in re.finditer(r"figsize\s*=\s*\(\s*([0-9.]+)", text)
            if float(m.group(1)) > 6.72 + 1e-9]
    assert not wide, (f"{path.relative_to(REPO)}: figures wider than the column {wide}; "
                      "use optlib.plot.subplots")


def test_setup_cell_installs_on_colab_then_imports_and_seeds():
    cell = chapter_tools.FIRST_CELL
    lines = cell.splitlines()
    guard = next(i for i, line in enumerate(lines) if line.startswith("if "))
    assert '"google.colab" in sys.modules' in lines[guard]
    assert 'find_spec("optlib") is None' in lines[guard]
    assert lines[guard + 1].strip().startswith("%pip install")
    assert f'"git+{chapter_tools.REPOSITORY_URL}"' in lines[guard + 1]
    assert lines.index("import optlib") > guard
    assert re.search(r"default_rng\(\w+\)", cell)


def test_repository_url_is_the_same_everywhere(config):
    url = chapter_tools.REPOSITORY_URL
    assert config["repository"]["url"] == url
    texts = {p: p.read_text(encoding="utf-8") for p in [*BOOK.rglob("*"), REPO / "README.md"]
             if p.suffix in (".md", ".ipynb") and p.is_file()
             and ".ipynb_checkpoints" not in p.parts}
    installs = [(p, m) for p, text in texts.items()
                for m in re.findall(r"git\+(https://[\w.-]+/[^\s\"'`\\]+)", text)]
    assert installs, "no `git+https://...` install line found in the book"
    wrong = [f"{p.relative_to(REPO)}: {m}" for p, m in installs if m != url]
    assert not wrong, f"install lines that do not use {url}: {wrong}"
    for path in _notebooks():
        assert f"git+{url}" in json.dumps(json.loads(path.read_text(encoding="utf-8"))["cells"])


def test_conventions_show_the_setup_cell_verbatim():
    assert chapter_tools.FIRST_CELL in (BOOK / "CONVENTIONS.md").read_text(encoding="utf-8")


def test_chapter_tools_report_outputs_and_a_wrong_first_cell_then_clean_fixes_them(tmp_path):
    path = tmp_path / "draft.ipynb"
    nb = chapter_tools.new_chapter("Draft", "ch:draft")
    nb["cells"][1]["source"] = "import numpy as np"
    nb["cells"].append({"cell_type": "code", "execution_count": 3, "metadata": {},
                        "outputs": [{"output_type": "stream", "name": "stdout", "text": "1"}],
                        "source": "print(1)"})
    path.write_text(json.dumps(nb), encoding="utf-8")
    found = chapter_tools.problems(path)
    assert any("cell 2 has outputs" in msg and str(path) in msg for msg in found)
    assert any("cell 2 has execution_count 3" in msg for msg in found)
    assert any("cell 1 (the first code cell) is not the canonical" in msg for msg in found)
    chapter_tools.write(chapter_tools.clean(chapter_tools.read(path)), path)
    assert chapter_tools.problems(path) == []
    assert chapter_tools.main(["check", str(path)]) == 0


def test_chapter_tools_reject_a_broken_notebook_and_an_existing_file(tmp_path, capsys):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.ipynb: not a valid notebook"):
        chapter_tools.problems(broken)
    assert chapter_tools.main(["new", str(broken), "Title"]) == 2
    assert "broken.ipynb exists already" in capsys.readouterr().err


def test_with_seed_replaces_the_seed_line_of_the_setup_cell_only():
    nb = chapter_tools.new_chapter("Draft", "ch:draft")
    nb["cells"].append(chapter_tools.code_cell("SEED = 0  # not the setup cell"))
    chapter_tools.with_seed(nb, 7)
    lines = chapter_tools.source(nb["cells"][1]).split("\n")
    assert "SEED = 7" in lines and "SEED = 0" not in lines
    assert chapter_tools.source(nb["cells"][2]) == "SEED = 0  # not the setup cell"
    nb["cells"][1]["source"] = "SEED = 3"
    with pytest.raises(ValueError, match="no line 'SEED = 0' to replace"):
        chapter_tools.with_seed(nb, 1)
    with pytest.raises(ValueError, match="non-negative integer"):
        chapter_tools.with_seed(chapter_tools.new_chapter("D", "ch:d"), -1)


def _seed_probe_book(root: pathlib.Path) -> pathlib.Path:
    """A copy of the seeded_notebooks plugin and its tools beside one chapter that asserts SEED."""
    book = root / "book"
    (book / "_scripts").mkdir(parents=True)
    for name in ("seeded_notebooks.py", "chapter_tools.py"):
        (book / "_scripts" / name).write_text(
            (BOOK / "_scripts" / name).read_text(encoding="utf-8"))
    nb = chapter_tools.new_chapter("Probe", "ch:probe")
    nb["cells"][1]["source"] = "SEED = 0"          # no optlib import needed here
    nb["cells"].append(chapter_tools.code_cell("assert SEED == 2, SEED"))
    chapter_tools.write(nb, book / "probe.ipynb")
    return book


@pytest.mark.slow
def test_notebook_tests_run_each_chapter_with_the_second_seed(tmp_path):
    book = _seed_probe_book(tmp_path)
    run = functools.partial(subprocess.run, [sys.executable, "-m", "pytest", "-q",
                                             "-p", "no:cacheprovider",
                                             "-p", "seeded_notebooks", str(book)],
                            cwd=tmp_path, capture_output=True, text=True)
    env = {k: v for k, v in os.environ.items() if k != "OPTLIB_BOOK_SEED"}
    env["PYTHONPATH"] = str(book / "_scripts")
    default = run(env=env)                            # seed 1: the probe's assert fails
    assert default.returncode == 1 and "1 failed, 1 passed" in default.stdout, default.stdout
    second = run(env={**env, "OPTLIB_BOOK_SEED": "2"})
    assert second.returncode == 0 and "2 passed" in second.stdout, second.stdout
    wrong = run(env={**env, "OPTLIB_BOOK_SEED": "two"})
    assert wrong.returncode != 0 and "OPTLIB_BOOK_SEED must be" in wrong.stdout + wrong.stderr


# --------------------------------------------------------------------------
# References and the API appendix
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bibliography():
    pybtex = pytest.importorskip("pybtex.database")
    return pybtex.parse_file(str(BOOK / "references.bib"), bib_format="bibtex")


@pytest.mark.parametrize("key", sorted(REQUIRED_REFERENCES))
def test_required_reference_has_author_year_title_and_venue(bibliography, key):
    assert key in bibliography.entries, f"references.bib has no entry {key}"
    entry = bibliography.entries[key]
    surname, year = REQUIRED_REFERENCES[key]
    first = entry.persons["author"][0]
    assert " ".join(first.last_names) == surname, f"{key}: first author {first}"
    assert int(entry.fields["year"]) == year, f"{key}: year {entry.fields['year']}"
    assert entry.fields.get("title"), f"{key}: no title"
    venue = {"journal", "booktitle", "publisher", "howpublished"} & set(entry.fields)
    assert venue, f"{key}: no journal, booktitle, publisher or howpublished field"


def test_every_entry_is_complete(bibliography):
    for key, entry in bibliography.entries.items():
        assert "author" in entry.persons and entry.fields.get("title") and \
            entry.fields.get("year"), f"references.bib entry {key} lacks author, title or year"
        link = {"doi", "url", "eprint", "pages"} & set(entry.fields)
        assert link or entry.type == "book", f"{key}: give a DOI, URL, arXiv id or pages"


def test_every_cited_key_is_in_references_bib(bibliography):
    cite = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
    missing = []
    for path in list(BOOK.rglob("*.md")) + _notebooks():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            text = "\n".join(_cell_source(c) for c in json.loads(text)["cells"])
        for group in cite.findall(text):
            missing += [f"{path.relative_to(REPO)}: {k.strip()}" for k in group.split(",")
                        if k.strip() not in bibliography.entries]
    assert not missing, f"citations without an entry in book/references.bib: {missing}"


def test_api_appendix_documents_every_module():
    text = (BOOK / "api.md").read_text(encoding="utf-8")
    documented = re.findall(r"^\.\. automodule:: optlib\.(\w+)\s*$", text, re.M)
    assert documented == API_MODULES


class _Docstrings:
    """Render optlib's docstrings the way the API appendix does (napoleon, then
    reStructuredText) and collect docutils' warnings, without building the book.

    Sphinx's own roles and directives are registered as inert stand-ins so only
    reST mistakes are reported (the usual one: prose after a Parameters section
    that is not under a ``Notes`` heading, which napoleon reads as parameters).
    """

    SPHINX_ROLES = ("class", "meth", "func", "mod", "attr", "data", "exc", "obj", "ref",
                    "doc", "eq", "numref", "term", "cite", "cite:p", "cite:t", "prf:ref",
                    "py:class", "py:func", "py:meth", "py:attr", "py:mod", "py:data")
    SPHINX_DIRECTIVES = ("attribute", "method", "function", "data", "index", "seealso",
                         "versionadded", "versionchanged", "deprecated", "code-block",
                         "plot", "doctest", "testcode", "autolink")

    def __init__(self) -> None:
        import docutils.nodes
        from docutils.parsers.rst import Directive, directives, roles
        from sphinx.ext.napoleon import Config

        class Inert(Directive):
            has_content, optional_arguments, final_argument_whitespace = True, 10, True
            option_spec = None

            def run(self):
                return []

        for name in self.SPHINX_DIRECTIVES:
            directives.register_directive(name, Inert)
        for name in self.SPHINX_ROLES:
            roles.register_generic_role(name, docutils.nodes.literal)
        self.config = Config(napoleon_use_param=True, napoleon_use_rtype=False,
                             napoleon_google_docstring=False, napoleon_numpy_docstring=True)

    def warnings(self, obj, label: str) -> list[str]:
        import inspect
        import io

        import docutils.core
        from sphinx.ext.napoleon.docstring import NumpyDocstring

        doc = inspect.getdoc(obj)
        if not doc:
            return []
        stream = io.StringIO()
        docutils.core.publish_doctree(
            str(NumpyDocstring(doc, self.config)),
            settings_overrides={"warning_stream": stream, "report_level": 2, "halt_level": 5})
        return [f"{label}: {line}" for line in stream.getvalue().splitlines()
                if "(WARNING" in line or "(ERROR" in line or "(SEVERE" in line]

    def module_warnings(self, module) -> list[str]:
        import inspect

        found = self.warnings(module, module.__name__)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            found += self.warnings(obj, f"{module.__name__}.{name}")
            if inspect.isclass(obj):
                for member, value in vars(obj).items():
                    if not member.startswith("_") and (
                            inspect.isfunction(value) or isinstance(value, property)):
                        found += self.warnings(value, f"{module.__name__}.{name}.{member}")
        return found


@pytest.mark.parametrize("module", API_MODULES)
def test_docstrings_render_in_the_api_appendix_without_warnings(module):
    pytest.importorskip("sphinx")
    try:
        imported = importlib.import_module(f"optlib.{module}")
    except ImportError as err:
        pytest.fail(f"book/api.md documents optlib.{module}, which does not import: {err}")
    problems = _Docstrings().module_warnings(imported)
    assert not problems, "docstrings the book build (-W) would reject:\n  " + \
        "\n  ".join(problems)


# --------------------------------------------------------------------------
# The method map
# --------------------------------------------------------------------------

def _svg_structure(path: pathlib.Path) -> tuple[set[str], set[tuple[str, str]]]:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg", f"{path} is not an SVG"
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    nodes = {i[len("node-"):] for i in ids if i.startswith("node-")}
    edges = {tuple(i[len("edge-"):].split("--")) for i in ids if i.startswith("edge-")}
    return nodes, edges


def test_method_map_script_reproduces_the_committed_figure(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "map.svg"
    subprocess.run([sys.executable, str(BOOK / "figures" / "make_method_map.py"), str(out)],
                   check=True, capture_output=True, text=True, timeout=120)
    nodes, edges = _svg_structure(out)
    assert edges == METHOD_EDGES
    assert nodes == {name for edge in METHOD_EDGES for name in edge}
    assert _svg_structure(BOOK / "figures" / "method_map.svg") == (nodes, edges), \
        "book/figures/method_map.svg is stale: run book/figures/make_method_map.py"


def test_method_map_script_rejects_a_non_svg_output():
    result = subprocess.run(
        [sys.executable, str(BOOK / "figures" / "make_method_map.py"), "map.png"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "map.png must end in .svg" in result.stderr


def test_preface_shows_the_method_map():
    assert "figures/method_map.svg" in (BOOK / "intro.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# Build helpers: offline MathJax and the chapter timer
# --------------------------------------------------------------------------

def test_offline_mathjax_copies_what_the_page_loads(tmp_path):
    es5 = offline_mathjax.find_mathjax_es5()
    offline_mathjax.copy_mathjax(es5, tmp_path)
    entry = tmp_path / offline_mathjax.MATHJAX_ENTRY.split("/", 1)[1]
    assert entry.is_file() and entry.stat().st_size > 100_000
    fonts = list((tmp_path / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert any(f.name == "MathJax_Main-Regular.woff" for f in fonts)
    assert (tmp_path / "input" / "tex" / "extensions" / "boldsymbol.js").is_file()
    assert (tmp_path / "ui" / "menu.js").is_file()
    assert "Apache License" in (tmp_path / "LICENSE").read_text(encoding="utf-8")


def test_offline_mathjax_names_the_missing_package(monkeypatch):
    monkeypatch.setattr(offline_mathjax.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(offline_mathjax.MathJaxNotFound, match="django-static-mathjax"):
        offline_mathjax.find_mathjax_es5()


def test_offline_mathjax_names_a_missing_component(tmp_path):
    (tmp_path / "es5").mkdir()
    (tmp_path / "es5" / "tex-chtml.js").write_text("", encoding="utf-8")
    with pytest.raises(offline_mathjax.MathJaxNotFound, match=r"input/tex/extensions is missing"):
        offline_mathjax.copy_mathjax(tmp_path / "es5", tmp_path / "out")


def test_offline_outputs_drops_the_cdn_stylesheet_of_matplotlib_animations():
    pytest.importorskip("sphinx")
    offline_outputs = _load("offline_outputs", BOOK / "_ext" / "offline_outputs.py")
    animation_data = pytest.importorskip("matplotlib._animation_data")
    html = animation_data.JS_INCLUDE  # what Animation.to_jshtml() puts in every output
    assert offline_outputs.remote_resources(html), "matplotlib no longer loads a CDN file?"
    cleaned = offline_outputs.strip_redundant(html)
    assert offline_outputs.remote_resources(cleaned) == []
    assert cleaned.count("<script") == html.count("<script"), "only the <link> may go"


def test_offline_outputs_finds_other_remote_files_but_not_links_or_local_files():
    pytest.importorskip("sphinx")
    offline_outputs = _load("offline_outputs", BOOK / "_ext" / "offline_outputs.py")
    html = ('<script src="https://cdn.example.org/x.js"></script>'
            '<link rel="stylesheet" href="//fonts.example.org/f.css">'
            '<img src="data:image/png;base64,AAAA"><img src="../_images/a.png">'
            '<a href="https://example.org/paper.pdf">paper</a>')
    assert offline_outputs.remote_resources(html) == [
        "https://cdn.example.org/x.js", "//fonts.example.org/f.css"]


def test_unique_scripts_keeps_the_first_of_repeated_tags_in_order():
    sphinx_assets = pytest.importorskip("sphinx.builders.html._assets")
    js = sphinx_assets._JavaScript
    config = 'const THEBE_JS_URL = "x"'
    scripts = [js("a.js"), js(None, body=config), js("b.js", **{"async": "async"}),
               js("", body=config), js("a.js"), js("c.js")]
    kept = unique_scripts.unique(scripts)
    assert [(s.filename or "", s.attributes.get("body")) for s in kept] == [
        ("a.js", None), ("", config), ("b.js", None), ("c.js", None)]


@pytest.fixture(scope="module")
def chapter_times():
    pytest.importorskip("nbclient")
    return _load("chapter_times", BOOK / "_scripts" / "chapter_times.py")


def test_chapter_times_lists_the_toc_chapters_in_order(chapter_times):
    found = [p.relative_to(REPO).with_suffix("").as_posix() for p in chapter_times.toc_notebooks()]
    assert found[:3] == FOUNDATIONS


def test_chapter_times_prints_a_table_and_flags_a_failing_chapter(chapter_times, tmp_path, capsys):
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    for path, code in ((good, "x = 1 + 1"), (bad, "1 / 0")):
        chapter_tools.write(
            {"cells": [chapter_tools.code_cell(code)], "metadata": chapter_tools.NOTEBOOK_METADATA,
             "nbformat": 4, "nbformat_minor": 5}, path)
    assert chapter_times.main([str(good)]) == 0
    table = capsys.readouterr().out
    assert re.search(r"good\.ipynb\s+\d+\.\d\s+ok", table)
    assert re.search(r"^total\s+\d+\.\d\s+ok", table, re.M)
    assert chapter_times.main([str(good), str(bad)]) == 1
    table = capsys.readouterr().out
    assert re.search(r"bad\.ipynb\s+-\s+FAILED: ZeroDivisionError", table)
    assert "\x1b" not in table, "colour codes of the traceback leaked into the table"


def test_chapter_times_names_a_missing_notebook(chapter_times, capsys):
    with pytest.raises(SystemExit):
        chapter_times.main(["book/no_such_chapter.ipynb"])
    assert "notebook not found: book/no_such_chapter.ipynb" in capsys.readouterr().err


# --------------------------------------------------------------------------
# The built HTML in a browser
# --------------------------------------------------------------------------

SKIPPED_PAGES = {"genindex.html", "search.html", "py-modindex.html", "index.html"}
# _modules: the library source behind the API appendix's [source] links (viewcode),
# a listing of the code as it is, not a page of the book
SKIPPED_DIRS = {"_static", "_sources", "_images", "_downloads", "reports", "_modules"}


def _built_pages() -> list[str]:
    if not SITE.is_dir():
        return []
    return sorted(
        p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
        if p.relative_to(SITE).as_posix() not in SKIPPED_PAGES
        and not SKIPPED_DIRS & set(p.relative_to(SITE).parts[:-1]))


class _Anchors(html.parser.HTMLParser):
    """Collects every id and name attribute of a page: the valid #fragments."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.anchors.update(v for k, v in attrs if k in ("id", "name") and v)


@functools.lru_cache(maxsize=None)
def _anchors(path: pathlib.Path) -> frozenset[str]:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return frozenset(parser.anchors)


@pytest.fixture(scope="module")
def site():
    """Serve _build/html on 127.0.0.1; fail (not skip) when the book is not built."""
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE / 'index.html'} does not exist: run `make book` first "
                    "(`make test` builds the book, then runs the tests)")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest's output readable
        pass


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (install it with `apt-get install chromium`)")
    manager = sync_api.sync_playwright().start()
    chromium = manager.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    manager.stop()


# Text nodes outside typeset math and code that still contain TeX: $$, $..^..$,
# \begin{, \frac, \( \) \[ \] or any other backslash command.
FIND_RAW_TEX = r"""() => {
  const skip = 'mjx-container, code, pre, script, style, textarea, kbd, samp, .highlight';
  const tex = /\$\$|\$[^$\s][^$]*[\\^_{}][^$]*\$|\\begin\{|\\end\{|\\frac|\\\(|\\\)|\\\[|\\\]|\\[a-zA-Z]{2,}/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement && !node.parentElement.closest(skip) && tex.test(node.textContent)) {
      found.push(node.textContent.trim().slice(0, 120));
    }
  }
  return found;
}"""

# Images that failed to load; lazy images are made eager and awaited first.
FIND_BROKEN_IMAGES = """async () => {
  const images = Array.from(document.images);
  await Promise.all(images.map(img => {
    img.loading = 'eager';
    return img.complete ? null : new Promise(done => { img.onload = img.onerror = done; });
  }));
  return images.filter(img => img.naturalWidth === 0).map(img => img.src);
}"""


# Code blocks, outputs and tables that do not fit the text column: a <pre>
# that scrolls sideways (code cut off at the column's edge), a table wider
# than the article. Returns a short description of each.
FIND_OVERFLOW = """() => {
  const found = [];
  const article = document.querySelector('main article, article.bd-article, main');
  const column = article ? article.clientWidth : document.body.clientWidth;
  for (const pre of document.querySelectorAll('article pre, main pre')) {
    if (pre.scrollWidth > pre.clientWidth + 1) {
      const line = pre.innerText.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '');
      found.push(`code block ${pre.scrollWidth - pre.clientWidth} px too wide: ${line.slice(0, 80)}`);
    }
  }
  for (const table of document.querySelectorAll('article table, main table')) {
    if (table.getBoundingClientRect().width > column + 1) {
      found.push(`table ${Math.round(table.getBoundingClientRect().width)} px wide in a ` +
                 `${column} px column: ${table.innerText.slice(0, 60)}`);
    }
  }
  return found;
}"""

#: A phone's viewport: the page must not scroll sideways there.
PHONE = {"width": 390, "height": 844}


def _page_problems(browser, site: str, page_path: str) -> list[str]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    foreign, failed, errors = [], [], []

    def route(r):
        url = urllib.parse.urlsplit(r.request.url)
        if url.scheme in ("data", "blob", "about") or url.hostname == "127.0.0.1":
            r.continue_()
        else:  # neither readers offline nor CI can reach other hosts
            foreign.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("response", lambda resp: failed.append(f"HTTP {resp.status}: {resp.url}")
            if resp.status >= 400 else None)
    page.on("requestfailed", lambda req: failed.append(f"request failed: {req.url}")
            if req.url not in foreign else None)
    page.on("pageerror", lambda exc: errors.append(f"JavaScript error: {exc}"))
    try:
        page.goto(f"{site}/{page_path}", wait_until="load")
        problems = _check_page(page, site, page_path)
    finally:
        context.close()
    problems += [f"request to a non-local host: {u}" for u in foreign]
    return problems + failed + errors


def _wait_for_mathjax(page) -> None:
    """Until MathJax has typeset the page (equations change the layout)."""
    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise",
                           timeout=30_000)
    page.evaluate("MathJax.startup.promise.then(() => true)")


def _check_page(page, site: str, page_path: str) -> list[str]:
    problems = []
    has_math = page.locator(".math").count() > 0
    if page_path == "book/intro.html" and not has_math:
        problems.append("the preface has no math (the notation table should)")
    if has_math:
        _wait_for_mathjax(page)
        if page.locator("mjx-container").count() == 0:
            problems.append("the page has math but MathJax typeset none of it")
        if page.locator("mjx-merror").count():
            problems.append(f"MathJax errors: {page.locator('mjx-merror').all_inner_texts()}")
    problems += [f"raw TeX in the text: {t!r}" for t in page.evaluate(FIND_RAW_TEX)]
    problems += [f"image did not load: {src}" for src in page.evaluate(FIND_BROKEN_IMAGES)]
    if "Traceback (most recent call last)" in page.inner_text("body"):
        problems.append("a Python traceback is shown")
    if page.locator(".output.error, .output.traceback, .output_error").count():
        problems.append("an error output cell is shown")
    hrefs = page.evaluate("Array.from(document.querySelectorAll('a[href]'), a => a.href)")
    problems += _broken_links(hrefs, site)
    problems += page.evaluate(FIND_OVERFLOW)
    return problems


def _phone_width_problems(browser, site: str, page_path: str) -> list[str]:
    """At a phone's width, the page itself must not scroll sideways."""
    context = browser.new_context(viewport=PHONE)
    context.route("**/*", lambda r: r.continue_() if urllib.parse.urlsplit(
        r.request.url).hostname in (None, "127.0.0.1") else r.abort())
    page = context.new_page()
    try:
        page.goto(f"{site}/{page_path}", wait_until="load")
        if page.locator(".math").count():
            _wait_for_mathjax(page)
        width = page.evaluate("document.documentElement.scrollWidth")
    finally:
        context.close()
    limit = PHONE["width"]
    return [] if width <= limit + 1 else [f"the page scrolls sideways at {limit} px: "
                                          f"{width} px wide"]


def _broken_links(hrefs: list[str], site: str) -> list[str]:
    broken = []
    for href in set(hrefs):
        if not href.startswith(site + "/"):
            continue  # external (not checked: no network) or mailto:
        url = urllib.parse.urlsplit(href)
        rel = urllib.parse.unquote(url.path).lstrip("/")
        target = SITE / rel
        if rel == "" or target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"link to a missing page: {href}")
        elif url.fragment and target.suffix == ".html" and \
                urllib.parse.unquote(url.fragment) not in _anchors(target):
            broken.append(f"link to a missing anchor: {href}")
    return sorted(broken)


@pytest.mark.parametrize("page_path", _built_pages() or ["book/intro.html"])
def test_built_page_renders_in_a_browser(browser, site, page_path):
    problems = _page_problems(browser, site, page_path)
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("page_path", _built_pages() or ["book/intro.html"])
def test_built_page_does_not_scroll_sideways_on_a_phone(browser, site, page_path):
    problems = _phone_width_problems(browser, site, page_path)
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)


def test_built_book_has_every_toc_page_and_a_working_front_page(browser, site, toc):
    pages = set(_built_pages())
    missing = [f for f in _toc_files(toc) if f"{f}.html" not in pages]
    assert not missing, f"_toc.yml entries without a built page: {missing}"
    redirect = re.search(r'url=([^"]+)"', (SITE / "index.html").read_text(encoding="utf-8"))
    assert redirect and (SITE / redirect.group(1)).is_file(), "index.html redirects nowhere"


def _require_build() -> None:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE / 'index.html'} does not exist: run `make book` first")


@pytest.mark.parametrize("path", _notebooks(), ids=NOTEBOOK_IDS)
def test_built_chapter_has_colab_binder_and_download_buttons(config, path):
    _require_build()
    rel = path.relative_to(REPO).as_posix()
    page = (SITE / rel).with_suffix(".html")
    assert page.is_file(), f"{rel} was not built into {page}"
    html_text = page.read_text(encoding="utf-8")
    repo = urllib.parse.urlsplit(chapter_tools.REPOSITORY_URL).path.strip("/")
    branch = config["repository"]["branch"]
    expected = [
        f"https://colab.research.google.com/github/{repo}/blob/{branch}/{rel}",
        f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/{rel}",
        f"_sources/{rel}",
    ]
    missing = [url for url in expected if url not in html_text]
    assert not missing, f"{page.relative_to(REPO)} lacks the buttons linking to {missing}"
    assert (SITE / "_sources" / rel).is_file(), f"the .ipynb download _sources/{rel} is missing"


# --------------------------------------------------------------------------
# The configuration and local extensions, on a two-page book built from scratch
# --------------------------------------------------------------------------

def test_full_rebuild_marks_every_page_outdated_only_in_force_mode():
    full_rebuild = _load("full_rebuild", BOOK / "_ext" / "full_rebuild.py")

    class App:
        def __init__(self, mode):
            self.config = {"nb_execution_mode": mode}

    class Env:
        found_docs = {"book/intro", "book/a", "book/b", "book/new"}

    outdated = full_rebuild._everything(App("force"), Env(), {"book/new"}, {"book/a"}, set())
    assert outdated == ["book/b", "book/intro"]
    assert full_rebuild._everything(App("cache"), Env(), set(), set(), set()) == []


MINI_CHAPTER_CODE = '''\
from IPython.display import HTML, Markdown, display
from matplotlib import animation
display(Markdown("| $b$ | $\\\\frac{\\\\sigma^2}{b}$ |\\n|---:|---:|\\n| 1 | 2 |"))
fig, ax = plt.subplots(figsize=(2, 2))
line, = ax.plot([0, 1], [0, 1])
anim = animation.FuncAnimation(fig, lambda i: line.set_ydata([0, i]), frames=2)
display(HTML(anim.to_jshtml()))
plt.close(fig)'''


def _mini_book(root: pathlib.Path) -> pathlib.Path:
    """A book with the real _config.yml, book/_ext and bibliography, and one chapter."""
    import shutil

    (root / "book").mkdir(parents=True)
    shutil.copy(REPO / "_config.yml", root / "_config.yml")
    shutil.copytree(BOOK / "_ext", root / "book" / "_ext",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("references.bib", "bibliography.md"):
        shutil.copy(BOOK / name, root / "book" / name)
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/chapter\n"
        "  - file: book/bibliography\n", encoding="utf-8")
    (root / "book" / "intro.md").write_text(
        "# Intro\n\nThe update $\\vx_t = \\vx_{t-1} - \\lr \\vg_t$ {cite:p}`cauchy1847`.\n",
        encoding="utf-8")
    nb = chapter_tools.new_chapter("Chapter", "ch:chapter")
    nb["cells"].append(chapter_tools.code_cell(MINI_CHAPTER_CODE))
    chapter_tools.write(nb, root / "book" / "chapter.ipynb")
    return root


def _build(root: pathlib.Path) -> subprocess.CompletedProcess:
    jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
    return subprocess.run([str(jupyter_book), "build", str(root), "-W", "--keep-going"],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_config_builds_an_offline_book_and_fails_on_a_broken_chapter_every_time(tmp_path):
    pytest.importorskip("jupyter_book")
    pytest.importorskip("matplotlib")
    root = _mini_book(tmp_path / "mini")
    result = _build(root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    site = root / "_build" / "html"
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()
    page = (site / "book" / "chapter.html").read_text(encoding="utf-8")
    intro = (site / "book" / "intro.html").read_text(encoding="utf-8")
    assert '_static/mathjax/tex-chtml.js' in intro and "cdn.jsdelivr" not in intro
    assert "maxcdn" not in page, "the animation's CDN stylesheet was not removed"
    assert page.count("const THEBE_JS_URL") == 1, "the thebe script is declared twice"
    assert re.search(r"<table[^>]*>.*\\\(b\\\)", page, re.S), "the Markdown table was not rendered"
    assert "colab.research.google.com/github/optlib-book/optlib" in page

    nb = chapter_tools.read(root / "book" / "chapter.ipynb")
    nb["cells"].append(chapter_tools.code_cell("1 / 0"))
    chapter_tools.write(nb, root / "book" / "chapter.ipynb")
    assert _build(root).returncode != 0, "a chapter that raises must fail the build"
    second = _build(root)  # nothing changed since: Sphinx alone would skip the chapter
    assert second.returncode != 0, "the second build passed although the chapter still raises"
    assert "ZeroDivisionError" in (site / "reports" / "book" / "chapter.err.log").read_text()
