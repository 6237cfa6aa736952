"""네이버 영화 리뷰(NSMC 형식) 찾기·내려받기·읽기와 토큰 캐시 (레슨 04의 한국어 짝 장이 씁니다).

찾는 순서: 데이터 루트의 `nsmc/ratings_train.txt`, `nsmc/ratings_test.txt` (탭으로 나눈 `id document label`)
→ 공식 파일(e9t/nsmc)을 git blob id 로 확인하며 내려받기(시간 제한 있음) → 눈에 띄는 안내와 함께 템플릿으로 만든
짧은 한국어 문장 (흐름만 보여 주는 대체 데이터). 어떤 경로를 탔는지는 load 가 돌려주는 ReviewData.source
("local" | "downloaded" | "fallback")로, 공식 분할인지 같은 원자료로 다시 만든 분할인지는 ReviewData.split
("official" | "rebuilt" | "fallback")로 남습니다. 공식 파일은 `git hash-object` 값(blob id)으로 알아봅니다.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.data_utils import download_file, locate_dataset, resolve_data_dir
from utils.model_utils import CourseError

FILES = ("ratings_train.txt", "ratings_test.txt")
# 공식 NSMC v1.0 파일의 git blob id (https://github.com/e9t/nsmc). 빈 리뷰가 몇 개 들어 있습니다.
OFFICIAL_BLOB_IDS = {"ratings_train.txt": "ac0dba272895dc1d0b3dd5f11afbeaeb7abe7876",
                     "ratings_test.txt": "b6cfcd8cd1557bcd9bf06617b0e429ed73e9a367"}
URL = "https://raw.githubusercontent.com/e9t/nsmc/master/{name}"
HEADER = ["id", "document", "label"]
FALLBACK_SIZE = 1000  # 템플릿 문장 수 (학습 80% / 테스트 20%)


@dataclass
class ReviewData:
    """리뷰 원문과 레이블(0=부정, 1=긍정), 그리고 어디서 왔는지."""
    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]
    source: str       # "local" | "downloaded" | "fallback"
    split: str        # "official" | "rebuilt" | "fallback"
    name: str
    fingerprint: str  # 두 파일의 blob id (토큰 캐시의 열쇠). 대체 데이터는 "fallback-<시드>"


def git_blob_id(path: Path) -> str:
    """`git hash-object <파일>` 과 같은 값: sha1("blob <크기>\\0" + 내용)."""
    data = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def split_kind(blob_ids: dict) -> str:
    """두 파일이 모두 공식 파일이면 "official", 아니면 같은 원자료로 다시 만든 "rebuilt"."""
    return "official" if blob_ids == OFFICIAL_BLOB_IDS else "rebuilt"


def present(root: Path) -> bool:
    return all((root / "nsmc" / name).is_file() for name in FILES)


def download(root: Path) -> bool:
    """공식 파일을 받아 git blob id 가 맞을 때만 남깁니다 (강사용 download_data.py 도 씁니다)."""
    root = Path(root)
    for name in FILES:
        dest = root / "nsmc" / name
        if dest.is_file():
            continue
        try:
            print(f"  내려받는 중: {URL.format(name=name)}")
            download_file(URL.format(name=name), dest, checksum=None)
        except OSError as err:
            print(f"  실패: {err}")
            return False
        if git_blob_id(dest) != OFFICIAL_BLOB_IDS[name]:
            dest.unlink()
            print(f"  실패: {name} 의 git blob id 가 공식 파일과 다릅니다 (지웠습니다)")
            return False
    return present(root)


def read_ratings(path: Path, limit: int | None = None) -> tuple[list[str], list[int]]:
    """`id<탭>document<탭>label` 파일을 읽습니다. limit 이 있으면 앞의 limit 줄만 (--quick)."""
    texts, labels = [], []
    try:
        with open(path, encoding="utf-8", newline="\n") as f:
            if f.readline().rstrip("\r\n").split("\t") != HEADER:
                raise CourseError(f"NSMC 형식이 아닙니다: {path} (첫 줄이 'id<탭>document<탭>label' 이어야 합니다)")
            for number, line in enumerate(f, start=2):
                if limit is not None and len(texts) >= limit:
                    break
                parts = line.rstrip("\r\n").split("\t")
                if len(parts) != 3 or parts[2] not in ("0", "1"):
                    raise CourseError(f"NSMC 파일의 {number}번째 줄을 읽을 수 없습니다: {path}")
                texts.append(parts[1])
                labels.append(int(parts[2]))
    except UnicodeDecodeError:
        raise CourseError(f"UTF-8 텍스트 파일이 아닙니다: {path}") from None
    return texts, labels


SUBJECTS = ["영화", "배우 연기", "스토리", "결말", "음악", "연출", "이 작품", "주인공"]
POSITIVE = ["정말 좋았어요", "최고였다", "재밌네요 ㅋㅋㅋ", "감동적이에요", "훌륭합니다", "볼만했어요", "강추합니다"]
NEGATIVE = ["너무 지루했다", "최악이에요", "별로였음 ㅠㅠ", "시간 아깝다", "실망했어요", "유치하다", "노잼"]
TEMPLATES = ["{s} {p}", "솔직히 {s} {p}", "{s}도 {p}", "{p}. {s} 때문에", "와 {s} {p}"]


def template_reviews(n: int, seed: int) -> tuple[list[str], list[int]]:
    """대체 데이터: 긍정/부정 서술어를 템플릿에 넣어 만든 짧은 한국어 문장 (실제 리뷰가 아님)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(2))
        template, subject = rng.choice(TEMPLATES), rng.choice(SUBJECTS)
        texts.append(str(template).format(s=subject, p=rng.choice(POSITIVE if label else NEGATIVE)))
        labels.append(label)
    return texts, labels


def load(args, train_limit: int | None = None, test_limit: int | None = None) -> ReviewData:
    """로컬 → 공식 파일 내려받기 → 대체 데이터 순서로 리뷰를 읽습니다 (limit: 파일마다 앞의 몇 줄만)."""
    root = resolve_data_dir(args.data_dir)
    expected = [str(root / "nsmc" / name) for name in FILES]
    source = locate_dataset(args, "NSMC", expected, present=lambda: present(root), download=lambda: download(root))
    if source == "fallback":
        texts, labels = template_reviews(FALLBACK_SIZE, args.seed)
        n_test = FALLBACK_SIZE // 5
        return ReviewData(texts[n_test:], labels[n_test:], texts[:n_test], labels[:n_test], source, "fallback",
                          "NSMC 대체 데이터(템플릿 문장)", f"fallback-{args.seed}")
    blob_ids = {name: git_blob_id(root / "nsmc" / name) for name in FILES}
    split = split_kind(blob_ids)
    train = read_ratings(root / "nsmc" / FILES[0], train_limit)
    test = read_ratings(root / "nsmc" / FILES[1], test_limit)
    name = "NSMC (공식 분할)" if split == "official" else "NSMC 형식 (같은 원자료로 다시 만든 분할)"
    return ReviewData(*train, *test, source, split, name, "-".join(blob_ids[n][:12] for n in FILES))


def cached(folder: Path, key: dict, compute):
    """compute() 의 결과(JSON 으로 쓸 수 있는 값)를 key(파일 해시·설정)로 folder 에 저장해 두고 다시 씁니다.

    key 가 하나라도 다르면(다른 파일, 다른 설정, 다른 라이브러리 버전) 새로 계산합니다. 반쯤 쓴 파일이 남지 않게
    임시 파일에 쓴 뒤 이름을 바꿉니다. 돌려주는 값: (결과, 캐시에서 읽었는지).
    """
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]
    path = Path(folder) / f"{key.get('name', 'tokens')}-{digest}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8")), True
        except (OSError, ValueError):
            print(f"[알림] 토큰 캐시를 읽을 수 없어 다시 만듭니다: {path}")
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return result, False
