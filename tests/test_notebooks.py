"""노트북: 커밋된 notebooks/*.ipynb 가 장 파일에서 만든 것과 같은지, 새 커널에서 끝까지 도는지."""
from __future__ import annotations

import json
import re

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT
from tools.build_notebooks import build_notebook, comparable, lesson_files, notebook_path

LESSONS = lesson_files()
SECTION = re.compile(r"^## (\d+)\.", re.MULTILINE)


def numbered_sections_with_output(notebook) -> tuple[list[str], list[str]]:
    """(번호 붙은 절 전체, 그중 코드 셀 출력이 하나라도 있는 절)."""
    sections, with_output, current = [], set(), None
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and (m := SECTION.search(cell.source)):
            current = m.group(1)
            sections.append(current)
        elif cell.cell_type == "code" and current is not None and cell.get("outputs"):
            with_output.add(current)
    return sections, [s for s in sections if s in with_output]


def inject_parameters(notebook, **values) -> None:
    """papermill 처럼 parameters 태그 셀 바로 뒤에 값을 덮어쓰는 셀을 넣습니다."""
    index = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in values.items())
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_committed_notebook_matches_its_chapter(lesson):
    path = notebook_path(lesson)
    assert path.is_file(), f"{path} 가 없습니다: python tools/build_notebooks.py 로 만드세요"
    committed = nbformat.read(path, as_version=4)
    assert comparable(committed) == comparable(build_notebook(lesson)), \
        f"{path.name} 가 {lesson.name} 와 다릅니다: python tools/build_notebooks.py 로 다시 만드세요"
    assert all(not c.get("outputs") for c in committed.cells if c.cell_type == "code"), "출력 없이 커밋합니다"
    params = next(c for c in committed.cells if "parameters" in c.metadata.get("tags", []))
    assert "QUICK = False" in params.source


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_notebook_runs_in_a_fresh_kernel(lesson, real_data_dir, tmp_path):
    notebook = nbformat.read(notebook_path(lesson), as_version=4)
    inject_parameters(notebook, QUICK=True, DATA_DIR=str(real_data_dir), OUT_DIR=str(tmp_path))
    NotebookClient(notebook, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    sections, shown = numbered_sections_with_output(notebook)
    assert len(sections) >= 3 and shown == sections, f"출력이 없는 절: {sorted(set(sections) - set(shown))}"
    metrics = json.loads((tmp_path / f"{lesson.stem}-quick" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["lesson"] == lesson.stem and metrics["data_source"] == "local"
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, "그림이 노트북 안에도 보여야 합니다"


def test_course_error_in_a_notebook_is_one_korean_line(tmp_path):
    """노트북에서 CourseError 는 트레이스백 대신 한국어 한 줄로 끝나고, 그 셀에서 실행이 멈춥니다."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("from utils.chapter import start_chapter\n"
                                  "from utils.model_utils import CourseError, make_parser\n"
                                  f"args, run = start_chapter('00_test', make_parser('t', 't', 1, 1, 0.1), "
                                  f"out_dir={str(tmp_path)!r})"),
        nbformat.v4.new_code_cell("raise CourseError('데이터 폴더가 없습니다: /없는/곳')"),
    ]
    NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = notebook.cells[1].outputs
    text = "".join(o.get("text", "") for o in outputs)
    assert text == "[오류] 데이터 폴더가 없습니다: /없는/곳\n"
    assert not any(o.get("traceback") for o in outputs)
