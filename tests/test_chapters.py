"""장(chapter) 파일의 약속: 크기, 배관 코드는 utils 로, 가져오기에 부작용 없음."""
from __future__ import annotations

import ast
import re

import pytest

from tools.build_notebooks import lesson_files

LESSONS = lesson_files()
MAX_CODE_LINES = 650
PLUMBING_MODULES = {"tarfile", "zipfile", "urllib", "hashlib", "argparse"}
PLUMBING_CALLS = re.compile(r"torch\.set_num_threads|save_checkpoint\(|torch\.save\(|os\.replace\(")


def code_lines(path) -> int:
    """마크다운 셀과 빈 줄을 뺀 줄 수."""
    count, in_markdown = 0, False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            in_markdown = "[markdown]" in line
            continue
        if line.strip() and not in_markdown:
            count += 1
    return count


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_chapter_is_one_sitting(lesson):
    assert code_lines(lesson) <= MAX_CODE_LINES


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_chapter_leaves_plumbing_to_utils(lesson):
    text = lesson.read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & PLUMBING_MODULES
    assert not PLUMBING_CALLS.search(text), "스레드 설정·체크포인트 쓰기는 utils 가 합니다"
    assert "# %% [markdown]" in text and 'tags=["parameters"]' in text
