"""YAML from strangers refuses aliases ("billion laughs"): a few hundred bytes of anchors and
aliases would otherwise expand into billions of items once a harvester walks the data. Each reader
(JKAN front matter, a YAML catalogue, the sources file, a theme file) says which file and line."""

from __future__ import annotations

import time

import pytest

from explorer.guards import safe_yaml
from explorer.catalogue.sources import SourcesError, load_sources
from explorer.catalogue.harvest import HarvestError, harvest
from explorer.catalogue.registry import Registry
from explorer.settings import Settings
from explorer.themes.theme_files import ThemeError, load_theme

# Ten levels of ten: 10**10 items if aliases were expanded (about 300 bytes of text).
LAUGHS = "".join(
    [f"l0: &l0 [{', '.join(['lol'] * 10)}]\n"]
    + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 10)])


def test_an_alias_is_refused_before_anything_is_expanded():
    started = time.perf_counter()
    with pytest.raises(safe_yaml.AliasRefused) as caught:
        safe_yaml.load(LAUGHS)
    assert time.perf_counter() - started < 5  # bounded work: nothing expanded (10**10 otherwise)
    assert caught.value.problem_mark.line + 1 == 2  # the first alias is on the second line
    # one alias, harmless in size, is refused too (catalogues need none); plain YAML still reads
    with pytest.raises(safe_yaml.AliasRefused):
        safe_yaml.load("base: &b {licence: OGL}\nentry: *b\n")
    assert safe_yaml.load("title: Trees\ntags: [a, b]\n") == {"title": "Trees", "tags": ["a", "b"]}
    assert safe_yaml.load("") is None


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path / "home", offline=True, sources="bundled")


def test_jkan_front_matter_with_aliases_is_rejected_naming_the_file(tmp_path, settings):
    root = tmp_path / "portal" / "_datasets"
    root.mkdir(parents=True)
    (root / "trees.md").write_text("---\ntitle: Street trees\norganization: Camden\n---\n", encoding="utf-8")
    (root / "laughs.md").write_text(f"---\ntitle: Laughs\n{LAUGHS}---\n", encoding="utf-8")
    reg = Registry(tmp_path / "r.sqlite3")
    report = harvest(str(root.parent), reg, settings, kind="jkan")
    assert report.added == ["trees"]   # the good file is kept
    [rejected] = report.rejected
    assert rejected.entry == "laughs"   # the file's name (laughs.md)
    assert rejected.field == "front matter" and "alias" in rejected.reason
    assert reg.get("laughs") is None


def test_a_yaml_catalogue_with_aliases_is_refused_naming_the_file(tmp_path, settings):
    path = tmp_path / "catalogue.yaml"
    path.write_text("datasets:\n" + "".join("  " + line + "\n" for line in LAUGHS.splitlines()),
                    encoding="utf-8")
    with pytest.raises(HarvestError, match=r"catalogue\.yaml.*refused at line 3.*alias"):
        harvest(str(path), Registry(tmp_path / "r.sqlite3"), settings)


def test_a_sources_file_with_aliases_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("defaults: &d {kind: bundled, url: bundled}\n"
                    "sources:\n  - name: bundled\n    <<: *d\n", encoding="utf-8")
    with pytest.raises(SourcesError, match=r"sources\.yaml: refused at line 4.*alias"):
        load_sources(Settings(home=tmp_path / "home", sources=str(path)))


def test_a_theme_file_with_aliases_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text("id: laughs\ntitle: Laughs\n" + LAUGHS, encoding="utf-8")
    with pytest.raises(ThemeError, match="alias") as caught:
        load_theme(path)
    assert "laughs.yaml" in str(caught.value)
