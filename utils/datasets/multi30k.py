"""Multi30k task 1 (독일어-영어 사진 설명) 찾기·내려받기·읽기, 그리고 레슨 08의 배관(옵션·입력 확인·그림).

찾는 순서: 데이터 루트의 `multi30k/{train,val,test_2016_flickr}.{de,en}` (압축을 푼 것, 없으면 `.gz`) →
공식 저장소(github.com/multi30k/dataset, data/task1/raw/)의 .gz 6개를 sha256으로 확인하며 내려받기 →
눈에 띄는 안내와 함께 규칙으로 만든 작은 독일어-영어 문장 쌍.
문장은 파일에 적힌 그대로 돌려줍니다 (정규화·토큰화는 레슨이 합니다).
"""
from __future__ import annotations

import gzip
import itertools
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.data_utils import fetch_verified, locate_dataset, resolve_data_dir
from utils.model_utils import CourseError, add_threads_option, fraction, positive_int
from utils.visualization import new_figure, save_figure

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


def check_sentence(tokenizer, text: str, limit: int | None = None) -> str:
    """--translate 의 문장 하나(정규화한 것)를 번역 전에 살펴 알려 줍니다: 어휘 사전에 없는 글자(<unk>가 됨),
    알아볼 글자가 하나도 없는 문장(오류), 모델이 읽는 토큰 수(limit)를 넘어 번역되지 않을 뒷부분(그 글자 그대로)."""
    enc, unk = tokenizer.encode(text), tokenizer.token_to_id("<unk>")
    unknown = sorted({text[a:b] for tid, (a, b) in zip(enc.ids, enc.offsets) if tid == unk})
    if unknown and all(tid == unk or token == "▁" for tid, token in zip(enc.ids, enc.tokens)):
        raise CourseError(f"문장의 글자를 하나도 알아볼 수 없습니다: {' '.join(unknown)}\n"
                          "       이 모델은 Multi30k의 독일어 문장으로만 학습했습니다. 독일어 문장을 넣어 주세요.")
    if unknown:
        print(f"[알림] 어휘 사전에 없는 글자는 <unk>로 바꿔 번역합니다: {' '.join(unknown)}", file=sys.stderr)
    if limit is not None and len(enc.ids) > limit:
        print(f"[알림] 한 문장이 모델이 읽는 길이(토큰 {limit}개)보다 길어 앞부분만 번역합니다. "
              f"번역하지 않은 뒷부분: «{text[enc.offsets[limit][0]:].strip()}»", file=sys.stderr)
    return text


# ---------------------------------------------------------------------------
# 레슨 08의 배관: 명령행 옵션과 그림 (가르치는 계산은 모두 레슨에 있습니다)
# ---------------------------------------------------------------------------
def add_options(p) -> None:
    """레슨 08 고유의 명령행 옵션. 기본값이 docs/results 에 기록한 전체 실행의 설정입니다."""
    p.add_argument("--vocab-size", type=positive_int, default=8000, help="공유 BPE 어휘 크기 (기본 8000)")
    p.add_argument("--d-model", type=positive_int, default=256, help="모델 너비 (기본 256)")
    p.add_argument("--heads", type=positive_int, default=4, help="어텐션 헤드 수 (기본 4)")
    p.add_argument("--layers", type=positive_int, default=3, help="인코더·디코더 층 수 (기본 3+3)")
    p.add_argument("--d-ff", type=positive_int, default=1024, help="피드포워드 너비 (기본 1024)")
    p.add_argument("--dropout", type=fraction, default=0.1, help="드롭아웃 비율 (기본 0.1)")
    p.add_argument("--label-smoothing", type=fraction, default=0.1, help="레이블 스무딩 ε (기본 0.1)")
    p.add_argument("--weight-decay", type=fraction, default=0.01, help="가중치 감쇠 (기본 0.01)")
    p.add_argument("--warmup", type=fraction, default=0.05, help="워밍업 비율 (전체 갱신 단계 중, 기본 0.05)")
    p.add_argument("--average", type=positive_int, default=3, help="가중치를 평균할 마지막 에폭 수 (기본 3)")
    p.add_argument("--learned-pos", action="store_true", help="사인 인코딩 대신 학습되는 위치 임베딩")
    p.add_argument("--post-norm", action="store_true", help="프리-노름 대신 원 논문의 포스트-노름")
    p.add_argument("--beam", type=positive_int, default=5, help="빔 크기 (1 = 탐욕 디코딩, 기본 5)")
    p.add_argument("--train-limit", type=positive_int, default=None, help="학습 문장 쌍을 앞에서 N개만 (빠른 실험용)")
    add_threads_option(p)
    p.add_argument("--translate", metavar="문장", help="저장된 모델로 독일어 문장(여러 문장이면 문장마다)을 번역")
    p.add_argument("--translate-file", metavar="파일", help="한 줄씩 번역해 표준 출력으로")


def check_options(args) -> None:
    """옵션끼리의 조건: 학습 도중 트레이스백 대신 시작할 때 한국어로 알립니다."""
    if args.d_model % args.heads:
        raise CourseError(f"--d-model({args.d_model})은 --heads({args.heads})로 나누어떨어져야 합니다.")
    if args.d_model % 2 and not args.learned_pos:
        raise CourseError(f"사인 위치 인코딩은 (sin, cos) 쌍을 쓰므로 --d-model 이 짝수여야 합니다 (받은 값: {args.d_model}).")


def plot_positional_encoding(pe, path):
    """위치 인코딩 표(위치 × 차원)와, 두 기준 위치에서 잰 내적 PE[기준]·PE[위치]."""
    fig, axes = new_figure(ncols=2, size=(6, 4))
    im = axes[0, 0].imshow(pe.numpy(), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
    axes[0, 0].set(title="사인/코사인 위치 인코딩", xlabel="차원", ylabel="위치")
    fig.colorbar(im, ax=axes[0, 0])
    for ref in (10, 50):
        axes[0, 1].plot((pe @ pe[ref]).numpy(), label=f"기준 위치 {ref}")
    axes[0, 1].set(title="위치 사이의 내적: 거리에만 달려 있음", xlabel="위치", ylabel="내적 PE[기준]·PE[위치]")
    axes[0, 1].legend()
    axes[0, 1].grid(alpha=0.3)
    return save_figure(fig, path)


def plot_lr_schedule(lr: list[float], path):
    fig, axes = new_figure(size=(6, 3.5))
    axes[0, 0].plot(np.arange(1, len(lr) + 1), lr)
    axes[0, 0].set(title="학습률: 워밍업 후 코사인 감소", xlabel="갱신 단계", ylabel="학습률")
    axes[0, 0].grid(alpha=0.3)
    return save_figure(fig, path)


def plot_history(history: dict, path):
    """손실(학습·검증)과 누적 학습 시간에 따른 검증 BLEU (점 옆 숫자 = 에폭)."""
    fig, axes = new_figure(ncols=2, size=(5.5, 4))
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    axes[0, 0].plot(epochs, history["train_loss"], "-o", ms=3, label="학습")
    axes[0, 0].plot(epochs, history["val_loss"], "--s", ms=3, label="검증")
    axes[0, 0].set(title="손실 (레이블 스무딩 포함)", xlabel="에폭", ylabel="손실")
    axes[0, 0].legend()
    minutes = np.cumsum(history["epoch_seconds"]) / 60
    axes[0, 1].plot(minutes, history["val_bleu"], "-o", ms=3, color="tab:green")
    for x, y, e in zip(minutes, history["val_bleu"], epochs):
        axes[0, 1].annotate(str(e), (x, y), fontsize=7, textcoords="offset points", xytext=(0, 4))
    axes[0, 1].set(title="검증 BLEU (탐욕 디코딩, 점 옆 숫자 = 에폭)", xlabel="학습 시간 (분, 누적)", ylabel="BLEU")
    for ax in axes[0]:
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


TOKEN_FONTS = ["NanumGothic", "DejaVu Sans"]  # 그림의 토큰 레이블: 나눔고딕에 없는 글자(▁ 등)는 DejaVu Sans로


def plot_attention(enc, cross, src_tokens, out_tokens, path):
    """인코더 셀프 어텐션(원문 × 원문)과 디코더 교차 어텐션(번역 × 원문) 가중치를 나란히."""
    fig, axes = new_figure(ncols=2, size=(0.38 * len(src_tokens) + 2.5, 0.38 * max(len(src_tokens), len(out_tokens)) + 2))
    panels = [(axes[0, 0], enc, src_tokens, src_tokens, "인코더 셀프 어텐션 (마지막 층)", "원문 토큰 (키)", "원문 토큰 (질의)"),
              (axes[0, 1], cross, src_tokens, out_tokens, "디코더 교차 어텐션 (마지막 층)", "원문 토큰 (키)", "번역 토큰 (질의)")]
    for ax, weights, xt, yt, title, xlabel, ylabel in panels:
        ax.imshow(weights.numpy(), cmap="viridis", vmin=0)
        ax.set_xticks(range(len(xt)))
        ax.set_xticklabels(xt, rotation=90, fontfamily=TOKEN_FONTS, fontsize=8)
        ax.set_yticks(range(len(yt)))
        ax.set_yticklabels(yt, fontfamily=TOKEN_FONTS, fontsize=8)
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return save_figure(fig, path)
