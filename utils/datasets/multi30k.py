"""Multi30k task 1 (독일어-영어 사진 설명) 찾기·내려받기·읽기 (레슨 08이 씁니다).

찾는 순서: 데이터 루트의 `multi30k/{train,val,test_2016_flickr}.{de,en}` (압축을 푼 것, 없으면 `.gz`) →
공식 저장소(github.com/multi30k/dataset, data/task1/raw/)의 .gz 6개를 sha256으로 확인하며 내려받기 →
눈에 띄는 안내와 함께 규칙으로 만든 작은 독일어-영어 문장 쌍.
문장은 파일에 적힌 그대로 돌려줍니다 (정규화·토큰화는 레슨이 합니다).
"""
from __future__ import annotations

import gzip
import itertools
import random
from dataclasses import dataclass
from pathlib import Path

from utils.data_utils import fetch_verified, locate_dataset, resolve_data_dir
from utils.model_utils import CourseError

SPLITS = ["train", "val", "test_2016_flickr"]
COMMIT = "a3d2e0d26b56f3846f66a952536ffed4e401d05a"
URL = f"https://raw.githubusercontent.com/multi30k/dataset/{COMMIT}/data/task1/raw/"
SHA256 = {
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
}
NAME = "Multi30k task1 de-en (test_2016_flickr)"
STAND_IN_NAME = "규칙으로 만든 독일어-영어 문장 쌍 (대체 데이터)"


@dataclass
class Corpus:
    """문장 쌍 (독일어 원문, 영어 참조 번역). test는 공식 test_2016_flickr 입니다."""
    train: list[tuple[str, str]]
    val: list[tuple[str, str]]
    test: list[tuple[str, str]]
    source: str  # "local" | "downloaded" | "fallback"
    name: str


def split_file(root: Path, split: str, lang: str) -> Path | None:
    """압축을 푼 파일이 있으면 그것을, 없으면 .gz 를 씁니다."""
    for name in (f"{split}.{lang}", f"{split}.{lang}.gz"):
        path = Path(root) / "multi30k" / name
        if path.is_file():
            return path
    return None


def present(root: Path) -> bool:
    return all(split_file(root, s, lang) for s in SPLITS for lang in ("de", "en"))


def download(root: Path) -> bool:
    """강사용 미리 받기 (download_data.py): 공식 저장소의 원본 .gz 6개를 sha256으로 확인하며 받습니다."""
    root = Path(root)
    ok = True
    for name, digest in SHA256.items():
        ok = fetch_verified([URL + name], root / "multi30k" / name, digest, "sha256") and ok
    return ok and present(root)


def read_lines(path: Path, limit: int | None = None) -> list[str]:
    """한 줄에 한 문장. limit가 있으면 앞의 limit줄만 읽습니다 (--quick은 전체를 풀지 않음)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return [line.rstrip("\n") for line in itertools.islice(f, limit)]
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise CourseError(f"Multi30k 파일이 손상되었습니다: {path} ({type(err).__name__})\n"
                          "       파일을 지우고 다시 내려받으세요.") from None


def read_splits(root: Path, limits: dict) -> list[list[tuple[str, str]]]:
    """[학습, 검증, 테스트] 문장 쌍. limits = {분할 이름: 앞에서 읽을 줄 수 | None}."""
    splits = []
    for split in SPLITS:
        de = read_lines(split_file(root, split, "de"), limits.get(split))
        en = read_lines(split_file(root, split, "en"), limits.get(split))
        if len(de) != len(en):
            raise CourseError(f"Multi30k {split}의 독일어({len(de)}줄)와 영어({len(en)}줄) 줄 수가 다릅니다.")
        splits.append(list(zip(de, en)))
    return splits


def stand_in_pairs(seed: int = 0) -> list[list[tuple[str, str]]]:
    """실제 데이터가 없을 때: 주어·동사·장소를 조합해 만든 독일어-영어 문장 쌍 (규칙이 단순해 금방 배움)."""
    subjects = [("Ein Mann", "A man", 0), ("Eine Frau", "A woman", 0), ("Ein Kind", "A child", 0),
                ("Ein Hund", "A dog", 0), ("Zwei Männer", "Two men", 1), ("Drei Kinder", "Three children", 1)]
    verbs = [("läuft", "laufen", "is running", "are running"), ("spielt", "spielen", "is playing", "are playing"),
             ("sitzt", "sitzen", "is sitting", "are sitting"), ("steht", "stehen", "is standing", "are standing"),
             ("schläft", "schlafen", "is sleeping", "are sleeping"), ("wartet", "warten", "is waiting", "are waiting")]
    places = [("im Park", "in the park"), ("auf der Straße", "on the street"), ("am Strand", "on the beach"),
              ("im Schnee", "in the snow"), ("vor dem Haus", "in front of the house"), ("im Wasser", "in the water"),
              ("auf dem Gras", "on the grass"), ("in der Stadt", "in the city")]
    pairs = [(f"{sd} {v[s]} {pd}.", f"{se} {v[2 + s]} {pe}.")
             for sd, se, s in subjects for v in verbs for pd, pe in places]
    random.Random(seed).shuffle(pairs)
    return [pairs[60:], pairs[30:60], pairs[:30]]


def load(args, limits: dict | None = None) -> Corpus:
    """로컬 → 내려받기 → 대체 데이터 순서로 찾아 읽습니다 (--require-data 면 대체 데이터 대신 오류).

    limits: 분할마다 앞에서 읽을 줄 수 (예: --quick 의 {"train": 3000, ...}). 대체 데이터에는 쓰지 않습니다.
    """
    root = resolve_data_dir(args.data_dir)
    expected = [str(root / "multi30k" / f"{s}.{lang}[.gz]") for s in SPLITS for lang in ("de", "en")]
    source = locate_dataset(args, "Multi30k", expected, present=lambda: present(root),
                            download=lambda: download(root))
    if source == "fallback":
        return Corpus(*stand_in_pairs(args.seed), source, STAND_IN_NAME)
    return Corpus(*read_splits(root, limits or {}), source, NAME)


def read_user_sentences(path: str) -> list[str]:
    """--translate-file: 한 줄에 한 문장인 UTF-8 파일 (빈 줄도 그대로 돌려주어 번역 결과의 줄이 맞게)."""
    file = Path(path)
    if not file.is_file():
        raise CourseError(f"번역할 파일이 없습니다: {file}")
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise CourseError(f"UTF-8 텍스트 파일이 아닙니다: {file}") from None
    if not any(line.strip() for line in lines):
        raise CourseError(f"파일에 번역할 문장이 없습니다 (빈 파일): {file}")
    return lines
