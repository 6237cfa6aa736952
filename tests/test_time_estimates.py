"""레슨 여는 셀의 '예상 시간'이 `docs/results/<레슨>.json` 에 기록된 측정값(wall_seconds)과 맞는지.

형식 (docs/CHAPTERS.md): 여는 마크다운 셀의 `**예상 시간**` 줄에 `2코어 CPU에서 … 약 N분` (1분 반 미만이면
`약 N초`) — 범위(`17~20분`)가 아닌 숫자 하나. N 은 측정값과 ±25 % 안에서 맞아야 합니다.
측정 기록(docs/results)이 아직 없는 새 레슨은 건너뜁니다.
"""
from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT
from tools.build_notebooks import lesson_files

ESTIMATE = re.compile(r"2코어 CPU에서[^,]*?약 (\d+)(분|초)(?![~\d])")
TOLERANCE = 0.25


def opening_cell(text: str) -> str:
    """첫 `# %%` 셀(여는 마크다운)의 글, 줄 앞의 '# ' 는 뗀 채로."""
    lines = text.splitlines()
    end = next(i for i, line in enumerate(lines[1:], start=1) if line.startswith("# %%"))
    return "\n".join(line.removeprefix("#").strip() for line in lines[1:end])


def claimed_seconds(cell: str) -> int | None:
    line = next((line for line in cell.splitlines() if "**예상 시간**" in line), "")
    match = ESTIMATE.search(line)
    if match is None:
        return None
    return int(match[1]) * (60 if match[2] == "분" else 1)


@pytest.mark.parametrize("lesson", lesson_files(), ids=lambda p: p.stem[:2])
def test_time_estimate_matches_the_measured_run(lesson):
    record = ROOT / "docs" / "results" / f"{lesson.stem}.json"
    if not record.is_file():
        pytest.skip(f"아직 측정 기록이 없습니다: {record.relative_to(ROOT)}")
    cell = opening_cell(lesson.read_text(encoding="utf-8"))
    claimed = claimed_seconds(cell)
    assert claimed is not None, "여는 셀의 **예상 시간** 줄에 '2코어 CPU에서 … 약 N분(또는 N초)' 이 없습니다"
    measured = json.loads(record.read_text(encoding="utf-8"))
    seconds = measured["wall_seconds"]
    assert abs(claimed - seconds) <= TOLERANCE * seconds, (
        f"예상 {claimed}초, 측정 {seconds}초 (약 {round(seconds / 60)}분) — 여는 셀을 측정값에 맞추세요")


def test_estimate_format_rejects_ranges_and_parses_units():
    assert claimed_seconds("**예상 시간** (측정값): 2코어 CPU에서 전체 약 17분, `--quick` 약 10초") == 17 * 60
    assert claimed_seconds("**예상 시간**: 2코어 CPU에서 기본 실행 약 15초, `--quick` 은 몇 초") == 15
    assert claimed_seconds("**예상 시간**: 2코어 CPU에서 전체 약 17~20분") is None
    assert claimed_seconds("**예상 시간**: 2코어 CPU에서 약 30초~1분") is None
    assert claimed_seconds("**예상 시간**: CPU 2코어에서 약 37분") is None
