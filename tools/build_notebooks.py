"""레슨 파일(jupytext percent 형식의 장)에서 notebooks/*.ipynb 를 만듭니다. 노트북은 손으로 고치지 않습니다.

    python tools/build_notebooks.py            # 모든 장
    python tools/build_notebooks.py 01 03      # 번호로 고르기

만드는 규칙 (docs/CHAPTERS.md):
- 맨 앞에 준비 셀 하나: 과정 폴더(utils/ 가 있는 곳)로 옮기고, Colab 이면 패키지를 설치하고 데이터 폴더를 정합니다.
- `if __name__ == "__main__":` 만으로 된 셀은 그 안쪽만 꺼내 보여 줍니다 (커널에서는 어차피 참이므로).
- 출력 없이, 매개변수 셀은 QUICK = False 그대로 저장합니다.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
MAIN_GUARD = 'if __name__ == "__main__":'

SETUP_CELL = '''\
# 준비 셀: 이 노트북을 과정 폴더(utils/ 가 있는 곳)에서 실행합니다. 그대로 실행하세요.
import os
import subprocess
import sys
from pathlib import Path

IN_COLAB = "google.colab" in sys.modules


def find_course_folder():
    """지금 폴더와 그 위, Colab 이면 /content 와 마운트한 Drive 아래에서 utils/chapter.py 가 있는 폴더를 찾습니다."""
    here = Path.cwd()
    candidates = [here, *here.parents]
    if IN_COLAB:
        candidates += sorted(Path("/content").glob("*/")) + sorted(Path("/content/drive/MyDrive").glob("*/"))
    return next((c for c in candidates if (c / "utils" / "chapter.py").is_file()), None)


COURSE = find_course_folder()
if COURSE is None:
    raise SystemExit(
        "과정 파일(utils/ 폴더와 레슨 파일)을 찾을 수 없습니다.\\n"
        "- Jupyter·VS Code: 과정 저장소를 내려받은(clone) 폴더의 notebooks/ 에서 이 노트북을 여세요.\\n"
        "- Colab: 강사나 과정 안내에 있는 저장소 주소로 `!git clone <저장소 주소>` 를 실행해 /content 아래에 받거나,\\n"
        "  과정 폴더를 zip 으로 올려 `!unzip` 하거나, Google Drive 에 올린 뒤 드라이브를 마운트하고 이 셀을 다시 실행하세요.")
os.chdir(COURSE)
sys.path.insert(0, str(COURSE))
if IN_COLAB:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", "requirements.txt"], check=True)
    os.environ.setdefault("DL_DATA_DIR", "/content/data")  # Colab 작업 폴더 (Drive 를 쓰려면 그 경로로 바꾸세요)
print(f"과정 폴더: {COURSE}")
'''


def lesson_files(selected: list[str] | None = None) -> list[Path]:
    """번호로 시작하는 장 파일들 (01_… ~ 10_…)."""
    files = sorted(p for p in ROOT.glob("[0-9][0-9]_*.py"))
    return [p for p in files if not selected or p.name[:2] in selected]


def unwrap_main_guard(source: str) -> str:
    """셀 전체가 `if __name__ == "__main__":` 블록이면 그 안쪽을 들여쓰기 없이 돌려줍니다."""
    lines = source.splitlines()
    if not lines or lines[0].strip() != MAIN_GUARD:
        return source
    body = lines[1:]
    if any(line and not line.startswith("    ") for line in body):
        return source  # 블록 밖의 코드가 섞인 셀은 그대로 둡니다
    return textwrap.dedent("\n".join(body)).strip("\n")


def build_notebook(lesson: Path) -> nbformat.NotebookNode:
    notebook = jupytext.read(lesson, fmt="py:percent")
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = unwrap_main_guard(cell.source)
        cell.pop("id", None)
    setup = nbformat.v4.new_code_cell(SETUP_CELL.rstrip("\n"), metadata={"tags": ["setup"]})
    notebook.cells.insert(1, setup)  # 여는 마크다운 셀 바로 다음
    notebook.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}}
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    return notebook


def notebook_path(lesson: Path) -> Path:
    return NOTEBOOK_DIR / f"{lesson.stem}.ipynb"


def comparable(notebook) -> list[tuple]:
    """비교할 것: 셀 종류·소스·태그 (id 와 버전 표기는 빼고)."""
    return [(c.cell_type, c.source, tuple(c.get("metadata", {}).get("tags", []))) for c in notebook.cells]


def main(selected: list[str]) -> None:
    NOTEBOOK_DIR.mkdir(exist_ok=True)
    for lesson in lesson_files(selected):
        notebook = build_notebook(lesson)
        for i, cell in enumerate(notebook.cells):
            cell.id = f"cell-{i}"  # 만들 때마다 같은 id (커밋 차이가 생기지 않게)
        nbformat.write(notebook, notebook_path(lesson))
        print(f"{notebook_path(lesson).relative_to(ROOT)} ← {lesson.name} ({len(notebook.cells)}개 셀)")


if __name__ == "__main__":
    main(sys.argv[1:])
