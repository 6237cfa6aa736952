"""용어집(../shared/COURSE.md 의 "Korean terms"): 한 개념에는 한 용어만 씁니다.

검사 대상: 레슨 파일(`0N_….py`), `utils/**/*.py`, `README.md`. 금지한 변형과 쓸 말:

| 금지 (정규식)                          | 대신          | 규칙                                                                 |
|----------------------------------------|---------------|----------------------------------------------------------------------|
| `기울기`                               | 그래디언트    | 어디서든 금지                                                        |
| `라벨`                                 | 레이블        | 어디서든 금지 (`라벨 스무딩` 도 여기서 걸림)                         |
| `레이블스무딩`, `레이블 평활`          | 레이블 스무딩 | 레이블 스무딩은 이 한 가지 표기만                                    |
| `시험` (`시험해`·`시험하`·`시험 삼아` 제외) | 테스트 (세트) | 데이터 나눔을 뜻하는 `시험 세트`·`시험 이미지`·`시험 600장` 모두 금지; 동사 '시험해 보다'는 허용 |
| `상자` (`수상자`·`부상자`·`사상자`·`감상자`·`연상자` 제외) | 바운딩 박스 | 단독(`상자를`)이든 합성어(`바운딩 상자`, `예측상자`)든 금지; 앞 음절과 합쳐 다른 낱말이 되는 다섯 낱말만 허용 |
"""
from __future__ import annotations

import re

import pytest

from conftest import ROOT
from tools.build_notebooks import lesson_files

BANNED = {
    "기울기": (re.compile(r"기울기"), "그래디언트"),
    "라벨": (re.compile(r"라벨"), "레이블"),
    "레이블 스무딩 변형": (re.compile(r"레이블스무딩|레이블\s*평활"), "레이블 스무딩"),
    "시험": (re.compile(r"시험(?!해|하|\s?삼아)"), "테스트 (세트)"),
    "상자": (re.compile(r"(?<![수부사감연])상자"), "바운딩 박스"),
}


def checked_files():
    return [*lesson_files(), *sorted((ROOT / "utils").rglob("*.py")), ROOT / "README.md"]


def banned_uses(text: str) -> list[tuple[int, str, str]]:
    """(줄 번호, 금지어 이름, 그 줄) 목록."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for name, (pattern, _) in BANNED.items():
            if pattern.search(line):
                found.append((number, name, line.strip()))
    return found


@pytest.mark.parametrize("path", checked_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_banned_term_variants(path):
    uses = banned_uses(path.read_text(encoding="utf-8"))
    assert not uses, "용어집과 다른 말:\n" + "\n".join(
        f"  {path.name}:{n}: '{name}' → '{BANNED[name][1]}': {line}" for n, name, line in uses)


def test_the_rules_catch_each_variant_and_spare_other_words():
    caught = ["손실의 기울기", "라벨 스무딩", "정수 라벨을", "레이블스무딩", "레이블 평활화", "시험 세트",
              "시험세트 평가", "학습·검증·시험 이미지", "시험 600장", "상자를 그린", "바운딩 상자", "예측상자",
              "경계 상자(bounding box)"]
    spared = ["그래디언트", "레이블 스무딩", "테스트 세트", "바운딩 박스", "직접 시험해 보세요", "시험 삼아",
              "수상자", "사상자 수", "감상자"]
    assert all(banned_uses(text) for text in caught), [t for t in caught if not banned_uses(t)]
    assert not any(banned_uses(text) for text in spared), [t for t in spared if banned_uses(t)]
    assert {name for text in caught for _, name, _ in banned_uses(text)} == set(BANNED)
