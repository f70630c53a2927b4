"""The documentation in docs/ matches the code: the CLI reference is regenerated and compared,
and the other pages link to files that exist and mention the commands and functions they document."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
PAGES = ["cli.md", "how-it-works.md", "metabase.md", "python-api.md"]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_cli_docs", REPO_ROOT / "scripts" / "gen_cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_up_to_date():
    expected = _generator().render()
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert committed == expected, (
        "docs/cli.md differs from the CLI's help; run `python scripts/gen_cli_docs.py`"
    )


def test_cli_reference_covers_every_command():
    import typer

    from autometa.cli import app

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    root = typer.main.get_command(app)
    paths = []
    for name, command in root.commands.items():
        paths.append(f"autometa {name}")
        paths += [f"autometa {name} {sub}" for sub in getattr(command, "commands", {})]
    assert "autometa metabase build" in paths and "autometa fit" in paths
    for path in paths:
        assert f"\n## {path}\n" in text, f"docs/cli.md has no section for `{path}`"
    for option in ("--trials", "--warm-start / --no-warm-start", "--configs-per-algorithm", "--source"):
        assert option in text
    assert "\x1b[" not in text, "colour codes in docs/cli.md"
    assert max(len(line) for line in text.split("```text")[1].splitlines()) <= 100


def test_cli_reference_ignores_the_terminal(monkeypatch):
    gen = _generator()
    monkeypatch.setenv("COLUMNS", "37")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert gen.render() == (DOCS / "cli.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", PAGES)
def test_page_links_resolve(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    assert len(text) > 1500, f"docs/{page} is nearly empty"
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", target):  # http(s): and mailto: links are not checked offline
            continue
        assert (DOCS / target).resolve().exists(), f"docs/{page} links to missing {target}"
    for marker in ("/work/", "/home/", "/root/"):
        assert marker not in text, f"docs/{page} mentions a machine path"


def test_how_it_works_has_both_diagrams():
    text = (DOCS / "how-it-works.md").read_text(encoding="utf-8")
    assert "```mermaid" in text
    ascii_blocks = [b for b in re.findall(r"```text\n(.*?)```", text, flags=re.S) if "-->" in b or "->" in b]
    assert ascii_blocks, "docs/how-it-works.md needs an ASCII version of the diagram"
    for step in ("meta-features", "metabase", "knn", "portfolio", "ranker", "enqueue", "TPE", "refit"):
        assert step.lower() in text.lower(), step


def test_python_api_documents_the_public_names():
    import autometa

    text = (DOCS / "python-api.md").read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("#")]
    for name in ("AutoMetaClassifier", "AutoMetaRegressor", "recommend", "extract_metafeatures",
                 "load_data", "run_search"):
        assert name in autometa.__all__
        assert any(f"`{name}`" in h for h in headings), f"docs/python-api.md has no section for {name}"


def test_python_api_examples_run_quickly():
    """The short, self-contained examples (marked `<!-- doctest -->`) in python-api.md run."""
    text = (DOCS / "python-api.md").read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- doctest -->\n```python\n(.*?)```", text, flags=re.S)
    assert blocks, "python-api.md should mark at least one example with <!-- doctest -->"
    for block in blocks:
        exec(compile(block, "docs/python-api.md", "exec"), {"__name__": "__docs__"})


def test_metabase_page_matches_the_shipped_metabase():
    from autometa.metabase import open_metabase

    text = (DOCS / "metabase.md").read_text(encoding="utf-8")
    assert "scripts/build_metabase.sh" in text and "csv:" in text and "import-openml" in text
    algorithms = set(open_metabase().configs()["algorithm"])
    assert algorithms
    for algorithm in algorithms:
        assert f"`{algorithm}`" in text, f"docs/metabase.md does not mention the algorithm {algorithm}"


def _metabase_docs():
    spec = importlib.util.spec_from_file_location("gen_metabase_docs", REPO_ROOT / "scripts" / "gen_metabase_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def metabase_blocks():
    """The generator and the blocks it would write now (from the shipped metabase)."""
    gen = _metabase_docs()
    return gen, gen.render()


def test_metabase_counts_are_generated_from_the_shipped_metabase(metabase_blocks):
    gen, expected = metabase_blocks
    assert set(expected) == {"README.md", "docs/metabase.md"}
    for name, block in expected.items():
        text = (REPO_ROOT / name).read_text(encoding="utf-8")
        assert gen.current_block(text, name) == block, (
            f"{name}: the metabase counts no longer match the shipped metabase; "
            "run `python scripts/gen_metabase_docs.py`"
        )


def test_no_metabase_count_is_quoted_outside_the_generated_blocks(metabase_blocks):
    """README, docs/*.md and the notebooks' markdown quote no dataset or run count by hand (the
    notebooks print them when they run)."""
    import json

    gen, _ = metabase_blocks
    summary = gen.facts()["summary"]
    counts = {summary["n_datasets"], summary["n_datasets_with_runs"], summary["n_runs"], summary["n_runs_ok"]}
    # 99822 also matches "99,822" and "99 822"; not when part of a longer number
    patterns = [re.compile(r"(?<![\d.,])" + f"{n:,}".replace(",", "[, ]?") + r"(?!\d|[.,]\d)")
                for n in counts if n >= 100]
    texts = {name: (REPO_ROOT / name).read_text(encoding="utf-8") for name in ["README.md", *(f"docs/{p}" for p in PAGES)]}
    for name in list(texts):
        if gen.START in texts[name]:
            texts[name] = texts[name].replace(gen.current_block(texts[name], name), "")
    for notebook in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        texts[f"notebooks/{notebook.name}"] = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for name, text in texts.items():
        for pattern in patterns:
            hit = pattern.search(text)
            assert not hit, (f"{name} quotes the metabase count {hit.group(0)} by hand; put it in the generated "
                             "block (scripts/gen_metabase_docs.py) or print it from the metabase")


def test_readme_links_docs_and_notebooks():
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Documentation" in text and "## Notebooks" in text
    for page in PAGES:
        assert f"docs/{page}" in text
    for notebook in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        assert f"notebooks/{notebook.name}" in text
