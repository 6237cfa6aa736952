"""교재의 문체: 마크다운 셀은 한 가지 높임(합니다체)으로 씁니다 (이슈 15).

'…한다.' '…본다:' 처럼 '니다' 가 아닌 '다' 로 끝나는 문장(한다체)을 찾습니다. 코드 셀·식별자는 보지 않습니다.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in ROOT.glob("[01][0-9]*_*.py"))
# 한 단어가 '다' 로 끝나고 바로 뒤에 문장 부호나 줄 끝이 오는 것. '니다'(합니다체), 명사 '바다', 조사 '마다'·'보다'는 제외.
PLAIN_ENDING = re.compile(r"[가-힣]*(?<!니)(?<!바)(?<!마)(?<!보)다(?=[.:)]|\s*$)")


def markdown_lines(path: Path):
    in_markdown = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("# %%"):
            in_markdown = "[markdown]" in line
        elif in_markdown and line.startswith("#"):
            yield number, line.lstrip("# ")


def test_the_rule_catches_plain_style_and_spares_polite_style():
    assert PLAIN_ENDING.search("같은 값인지 확인한다.") and PLAIN_ENDING.search("어텐션을 직접 구현한다: 마스크")
    assert not PLAIN_ENDING.search("같은 값인지 확인합니다.") and not PLAIN_ENDING.search("푸른 바다.")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_markdown_cells_use_one_register(path):
    found = [f"{path.name}:{n}: {line.strip()[:80]}" for n, line in markdown_lines(path) if PLAIN_ENDING.search(line)]
    assert not found, "합니다체로 바꿔 주세요:\n" + "\n".join(found)
