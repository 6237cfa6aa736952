"""한국어 리뷰를 토큰화하기 전에 다듬는 작은 도구들 (레슨 04의 한국어 짝 장이 씁니다).

- 유니코드 정규화: macOS 에서 복사한 글은 '한' 이 자모 셋(ᄒ ᅡ ᆫ, NFD)으로 나뉘어 있어, 눈에는 같아도 다른 문자열입니다.
  NFC 로 합쳐 두지 않으면 사전에서 찾지 못해 <unk> 가 됩니다.
- 반복: "ㅋㅋㅋㅋㅋㅋ", "ㅠㅠㅠㅠ", "!!!!" 는 감정의 신호이므로 지우지 않고 세 번까지로 줄입니다
  (길이만 다른 변형들이 한 토큰으로 모여 사전이 덜 흩어집니다).
- 빈 글·기호만 있는 글은 판단할 거리가 없으므로 한국어 안내로 돌려보냅니다.
"""
from __future__ import annotations

import re
import unicodedata

HANGUL = re.compile(r"[\u1100-\u11ff\u3131-\u318e\uac00-\ud7a3]")  # 자모(ㅋ, ㅠ)와 완성형 음절
REPEATS = re.compile(r"(.)\1{3,}")  # 같은 글자가 네 번 이상
MAX_REPEAT = 3
EMPTY_NOTE = "빈 텍스트입니다. 한국어 리뷰 문장을 넣어 주세요."
SYMBOLS_NOTE = "글자 없이 기호만 있어 판단할 수 없습니다. 한국어 리뷰 문장을 넣어 주세요."


def normalize_review(text: str) -> str:
    """NFC 정규화 → 네 번 이상 반복된 글자는 세 번으로 → 공백 정리. 감정 표현(ㅋㅋ, ㅠㅠ, !!)은 남깁니다."""
    text = unicodedata.normalize("NFC", text)
    text = REPEATS.sub(lambda m: m.group(1) * MAX_REPEAT, text)
    return " ".join(text.split())


def has_hangul(text: str) -> bool:
    return HANGUL.search(text) is not None


def review_problem(text: str) -> str | None:
    """분류할 수 없는 입력이면 그 이유(한국어 한 줄), 아니면 None. 자모(ㅋㅋ, ㅠㅠ)만 있는 글은 분류합니다."""
    if not text.strip():
        return EMPTY_NOTE
    if not any(ch.isalnum() for ch in text):  # 한글 자모도 isalnum() 이 참입니다
        return SYMBOLS_NOTE
    return None
