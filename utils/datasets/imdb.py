"""IMDB 영화 리뷰 찾기·내려받기·읽기 (레슨 04가 씁니다).

찾는 순서: 데이터 루트의 공식 배포 구조 `aclImdb/{train,test}/{pos,neg}/*.txt` → 강의용 오프라인 사본
(`imdb/aclImdb_v1_nounsup.tar.gz`, sha256 확인) 또는 공식 압축 파일(md5 확인)을 받아 안전하게 풀기
→ 눈에 띄는 안내와 함께 템플릿으로 만든 짧은 영어 문장 (흐름만 보여 주는 대체 데이터).
어떤 경로를 탔는지는 load 가 돌려주는 TextData.source("local" | "downloaded" | "fallback")로 남습니다.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.archives import safe_extract
from utils.data_utils import fetch_verified, file_digest, locate_dataset, resolve_data_dir
from utils.model_utils import CourseError

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
# 강의용 오프라인 사본(../shared/datasets 의 prepare.py 가 쓰는 것): unsup 폴더만 뺀 같은 파일들
OFFLINE_ARCHIVE = "imdb/aclImdb_v1_nounsup.tar.gz"
OFFLINE_SHA256 = "c149fe2ca3bb78c27a7e879a6bdd1ba78929de6545882ff6960f1949157d97c3"
FOLDERS = ["train/pos", "train/neg", "test/pos", "test/neg"]
FILES_PER_FOLDER = 12_500
FALLBACK_SIZE = 2000  # 템플릿 문장 수 (학습 80% / 테스트 20%)


@dataclass
class TextData:
    """리뷰 원문과 레이블(0=부정, 1=긍정). 토큰화 전의 모습 그대로 들고 있습니다."""
    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]
    source: str  # "local" | "downloaded" | "fallback"
    name: str


def missing_parts(root: Path) -> list[str]:
    """aclImdb 안에서 없거나 비어 있는 폴더 이름 목록 (비어 있으면 온전한 것)."""
    base = root / "aclImdb"
    missing = []
    for folder in FOLDERS:
        d = base / folder
        if not d.is_dir() or not any(name.endswith(".txt") for name in os.listdir(d)):
            missing.append(f"aclImdb/{folder}/*.txt")
    return missing


def present(root: Path) -> bool:
    """aclImdb 폴더가 있으면 네 폴더가 모두 있어야 합니다. 일부만 있으면 조용히 넘어가지 않고 알립니다."""
    if not (root / "aclImdb").is_dir():
        return False
    missing = missing_parts(root)
    if missing:
        raise CourseError(f"IMDB 폴더가 불완전합니다: {root / 'aclImdb'}\n       없거나 빈 폴더: "
                          + ", ".join(missing)
                          + "\n       압축을 다시 풀거나 aclImdb 폴더를 지우고 다시 내려받으세요.")
    return True


def download(root: Path) -> bool:
    """강사용 미리 받기(download_data.py): 공식 압축 파일(md5 확인)을 받아 안전하게 풉니다.

    오프라인 사본이 데이터 루트에 있고 sha256 이 맞으면 그것을 풉니다.
    """
    root = Path(root)
    if present(root):
        return True
    offline = root / OFFLINE_ARCHIVE
    if offline.is_file() and file_digest(offline, "sha256") == OFFLINE_SHA256:
        archive = offline
    else:
        archive = root / "aclImdb_v1.tar.gz"
        if not fetch_verified([URL], archive, MD5, "md5"):
            return False
    print(f"  압축 푸는 중: {archive} → {root}")
    safe_extract(archive, root)
    return present(root)


def read_review_folder(folder: Path, limit: int | None) -> list[str]:
    """한 폴더의 리뷰 파일을 이름순으로 읽습니다. limit가 있으면 앞의 limit개만 엽니다 (--quick)."""
    names = sorted(n for n in os.listdir(folder) if n.endswith(".txt"))[:limit]
    texts = []
    for name in names:
        try:
            with open(folder / name, encoding="utf-8") as f:
                texts.append(f.read())
        except (OSError, UnicodeDecodeError) as err:
            raise CourseError(f"리뷰 파일을 읽을 수 없습니다 (손상?): {folder / name} ({type(err).__name__})") from None
    return texts


def read_split(root: Path, split: str, limit: int | None) -> tuple[list[str], list[int]]:
    """neg(레이블 0) 다음 pos(레이블 1) 순서로 읽습니다."""
    texts, labels = [], []
    for label, sentiment in [(0, "neg"), (1, "pos")]:
        part = read_review_folder(root / "aclImdb" / split / sentiment, limit)
        if limit is None and len(part) != FILES_PER_FOLDER:
            print(f"[알림] aclImdb/{split}/{sentiment} 에 리뷰가 {len(part):,}개 있습니다 "
                  f"(공식 배포는 {FILES_PER_FOLDER:,}개). 일부만 있는 사본일 수 있습니다.")
        texts += part
        labels += [label] * len(part)
    return texts, labels


POSITIVE_WORDS = ["great", "wonderful", "excellent", "amazing", "brilliant", "moving", "superb", "beautiful"]
NEGATIVE_WORDS = ["terrible", "awful", "boring", "horrible", "dull", "weak", "stupid", "painful"]
SUBJECTS = ["the movie", "this film", "the acting", "the story", "the ending", "the music", "the plot", "every scene"]
TEMPLATES = ["{s} was {a}", "i thought {s} was {a}", "honestly {s} is {a} !", "{s} felt {a} and {b}",
             "what a {a} film", "{s} looked {a} to me", "i found {s} {a} , really {b}", "{a} , just {b}"]


def template_reviews(n: int, seed: int) -> tuple[list[str], list[int]]:
    """대체 데이터: 긍정/부정 형용사를 템플릿에 넣어 만든 짧은 영어 문장 (실제 리뷰가 아님)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(2))
        words = POSITIVE_WORDS if label else NEGATIVE_WORDS
        a, b = rng.choice(words, 2)
        texts.append(str(rng.choice(TEMPLATES)).format(s=rng.choice(SUBJECTS), a=a, b=b))
        labels.append(label)
    return texts, labels


def load(args, train_limit: int | None = None, test_limit: int | None = None) -> TextData:
    """로컬 → 내려받기 → 대체 데이터 순서로 리뷰를 읽습니다.

    train_limit/test_limit: 폴더(pos·neg)마다 이름순으로 앞의 몇 개 파일만 읽습니다 (--quick, 전체를 읽지 않음).
    """
    root = resolve_data_dir(args.data_dir)
    expected = [str(root / "aclImdb" / f / "*.txt") for f in FOLDERS]
    source = locate_dataset(args, "IMDB", expected, present=lambda: present(root), download=lambda: download(root))
    if source == "fallback":
        texts, labels = template_reviews(FALLBACK_SIZE, args.seed)
        n_test = FALLBACK_SIZE // 5
        return TextData(texts[n_test:], labels[n_test:], texts[:n_test], labels[:n_test], source,
                        "IMDB 대체 데이터(템플릿 문장)")
    t0 = time.perf_counter()
    train_texts, train_labels = read_split(root, "train", train_limit)
    test_texts, test_labels = read_split(root, "test", test_limit)
    print(f"리뷰 파일 {len(train_texts) + len(test_texts):,}개를 읽었습니다 ({time.perf_counter() - t0:.1f}초).")
    return TextData(train_texts, train_labels, test_texts, test_labels, source, "IMDB")
