# %% [markdown]
# # 04. 순환 신경망(RNN)으로 영화 리뷰 감성 분류하기 (IMDB)
#
# **학습 목표**
# - 토큰화(tokenization)와 어휘 사전(vocabulary)을 직접 만들고, 문장을 번호 열로 바꾸는 과정을 봅니다.
# - 임베딩(embedding)이 단어를 벡터로 바꾸고, 학습 후 비슷한 단어가 가까워지는 것을 확인합니다.
# - Elman RNN 셀을 텐서 연산으로 직접 펼쳐 보고 `nn.RNN` 과 같은 값을 내는지 확인합니다.
# - 순수 RNN · LSTM · GRU 를 같은 데이터로 학습해 비교하고, 그래디언트 소실(vanishing gradient)을 그림으로 봅니다.
# - 길이가 다른 문장을 배치로 묶을 때 패딩이 결과에 새어 들지 않게 하는 두 방법
#   (`pack_padded_sequence`, 길이별 배치 + 마스킹)을 배우고 속도를 재 봅니다.
#
# **데이터셋**: IMDB 영화 리뷰 (Maas et al., ACL 2011): 학습 25,000 / 테스트 25,000, 긍정·부정 반반.
# `DL_DATA_DIR/aclImdb/{train,test}/{pos,neg}/*.txt` (공식 배포 구조). 없으면 공식 압축 파일을
# 체크섬을 확인하며 내려받고, 그것도 안 되면 템플릿으로 만든 짧은 영어 문장 수백 개로 흐름만 보여 줍니다
# (결과에 `fallback` 으로 기록). 검증 세트는 학습 데이터에서 떼어 내며, 테스트 세트는 모델마다 마지막에 한 번만 평가합니다.
#
# **핵심 개념**: 토큰화 · 어휘 사전(`<pad>`, `<unk>`, 최소 빈도, 크기 제한) · 자르기(앞+뒤)와 패딩 · `nn.Embedding` ·
# Elman RNN 셀 · LSTM/GRU 게이트 · 양방향 RNN · 마스킹한 평균/최대 풀링(pooling) · `pack_padded_sequence` ·
# 그래디언트 소실 · 그래디언트 클리핑(gradient clipping) · 검증 정확도로 에폭 고르기 · 정밀도/재현율/F1
#
# **실행 방법**
# ```
# python 04_rnn_text_classification.py                    # 전체 학습 (모델 4개 비교)
# python 04_rnn_text_classification.py --quick            # 작은 부분집합으로 흐름만 (몇 초)
# python 04_rnn_text_classification.py --text "This movie was surprisingly good"
# python 04_rnn_text_classification.py --text-file my_reviews.txt   # 한 줄에 리뷰 하나
# ```
# 노트북(`notebooks/04_rnn_text_classification.ipynb`)에서는 아래 매개변수 셀의 `QUICK` 으로 고릅니다.
#
# **예상 시간** (측정값은 `docs/RESULTS.md`): 2코어 CPU에서 전체 약 17분, `--quick` 약 10초 / GPU: 전체 몇 분.

# %%
import contextlib
import copy
import importlib
import math
import re
import time
from collections import Counter
from pathlib import Path

import matplotlib.ticker
import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from utils.chapter import section, start_chapter
from utils.datasets import imdb
from utils.model_utils import (CourseError, count_parameters, cpu_threads, evaluate, fit, load_checkpoint,
                               make_parser, positive_int, run_folder)
from utils.visualization import (confusion_matrix, new_figure, plot_bars, plot_confusion_matrix,
                                 plot_learning_curves, save_figure)

# %% tags=["parameters"]
QUICK = False      # True: 폴더마다 앞의 몇백 개 리뷰와 짧은 에폭으로 흐름만 확인
DATA_DIR = None    # 데이터 루트 (None: 환경 변수 DL_DATA_DIR, 없으면 ./data)
OUT_DIR = "runs"   # 그림·체크포인트·metrics.json 을 둘 곳

# %% [markdown]
# 실행 설정: 스크립트로 실행하면 명령행 옵션(`--quick`, `--epochs` …)을, 노트북에서는 위 매개변수 셀을 씁니다.
# 비교 모델 3개(RNN·LSTM·GRU)는 같은 데이터·같은 크기·같은 에폭으로, 본 모델(양방향 GRU + 풀링)은 `--epochs` 만큼 학습합니다.

# %%
LESSON = "04_rnn_text_classification"
CLASS_NAMES = ["부정", "긍정"]  # 레이블 0 = neg, 1 = pos
PAD, UNK = "<pad>", "<unk>"
PAD_IDX, UNK_IDX = 0, 1
VAL_FRACTION = 0.1
CLIP_GRAD_NORM = 1.0
QUICK_FILES = (500, 250)  # --quick: 학습/테스트 폴더마다 앞의 몇백 개 파일만 읽습니다 (전체를 읽지 않음)
QUICK_BATCH_SIZE = 16  # --quick: 한 에폭이 짧아도 갱신 횟수가 충분하도록 작은 배치


def lesson_settings(args, source: str) -> dict:
    """데이터 크기에 맞춘 설정. 비교 모델 3개(RNN·LSTM·GRU)는 같은 데이터·같은 크기·같은 에폭으로 학습합니다."""
    quick = args.quick or source == "fallback"
    size = 32 if quick else 128
    compare = dict(embed_dim=size, hidden=size, bidirectional=False, readout="last", embed_dropout=0.2, dropout=0.2)
    best = dict(cell="gru", embed_dim=size, hidden=size, bidirectional=True, readout="pool",
                embed_dropout=0.3, dropout=0.3)
    return {
        "max_len": args.max_len or (64 if source == "fallback" else 128 if quick else 400),
        # --quick 은 리뷰가 적어 드문 단어의 임베딩을 배울 수 없으므로 사전을 5,000개로 줄입니다.
        "vocab_size": min(args.vocab_size, 5_000) if args.quick else args.vocab_size,
        "min_freq": 1 if source == "fallback" else 2,
        "batch_size": min(args.batch_size, QUICK_BATCH_SIZE) if args.quick else args.batch_size,
        # --quick 은 짧은 에폭 하나. 단, 대체 데이터(템플릿 문장)는 한 에폭이 1초도 안 걸리므로 3 에폭.
        "epochs": (3 if source == "fallback" else 1) if args.quick else args.epochs,
        "compare_epochs": (3 if source == "fallback" else 1) if args.quick else min(args.compare_epochs, args.epochs),
        "models": [("rnn", "RNN", dict(cell="rnn", **compare)), ("lstm", "LSTM", dict(cell="lstm", **compare)),
                   ("gru", "GRU", dict(cell="gru", **compare)), ("bigru", "양방향 GRU+풀링", best)],
    }


def build_parser():
    p = make_parser(f"{LESSON}.py", "RNN으로 IMDB 영화 리뷰 감성 분류 (토큰화, 임베딩, RNN/LSTM/GRU, 그래디언트 소실)",
                    epochs=5, batch_size=64, lr=2e-3)
    p.add_argument("--compare-epochs", type=positive_int, default=2,
                   help="비교 모델(RNN·LSTM·GRU)의 에폭 수 (기본 2, 양방향 GRU는 --epochs)")
    p.add_argument("--max-len", type=positive_int, default=None, help="리뷰당 최대 토큰 수 (기본 400, --quick 128)")
    p.add_argument("--vocab-size", type=positive_int, default=30_000, help="어휘 사전 크기 (기본 30000)")
    # type: --text "" 도 '분류할 리뷰'로 받아 빈 텍스트 안내를 보여 줍니다 (start_chapter 는 값이 있는 옵션만 실행)
    p.add_argument("--text", help='학습된 모델로 내 영어 리뷰 분류: --text "This movie was great"')
    p.add_argument("--text-file", help="한 줄에 리뷰 하나씩 적은 UTF-8 파일을 분류해 표로 출력")
    return p


# %%
if __name__ == "__main__":
    args, run = start_chapter(LESSON, build_parser(), quick=QUICK, data_dir=DATA_DIR, out_dir=OUT_DIR,
                              actions={"text": "predict_user_texts", "text_file": "predict_user_texts"})

# %% [markdown]
# ## 1. 데이터 읽기
# 리뷰 한 편은 텍스트 파일 하나입니다. `aclImdb/train/pos/123_9.txt` 처럼 폴더 이름(pos/neg)이 레이블이고,
# 파일 이름 끝의 숫자는 별점(긍정 7~10, 부정 1~4)입니다. 중간 점수(5~6)의 리뷰는 들어 있지 않습니다.
# 찾기·내려받기·대체 데이터는 `utils/datasets/imdb.py` 가 맡고, 여기서는 원문과 레이블만 받습니다.

# %%
if __name__ == "__main__":
    section("1. 데이터 읽기")
    data = imdb.load(args, *(QUICK_FILES if args.quick else ()))
    settings = lesson_settings(args, data.source)
    print(f"데이터: {data.name} | 학습 {len(data.train_texts):,} / 테스트 {len(data.test_texts):,} "
          f"(긍정 비율 {np.mean(data.train_labels):.1%}, 출처: {data.source})")
    print(f"  예: [{CLASS_NAMES[data.train_labels[-1]]}] {data.train_texts[-1][:150]!r}")

# %% [markdown]
# ## 2. 토큰화와 어휘 사전
# 신경망은 문자열이 아니라 숫자를 받습니다. 먼저 문장을 **토큰**(여기서는 소문자 단어와 `!` `?`)으로 자르고,
# 학습 데이터에 나온 토큰마다 번호를 매긴 **어휘 사전**을 만듭니다. 0번 `<pad>` 는 패딩, 1번 `<unk>` 는 사전에 없는 단어입니다.
# 사전은 학습 부분만으로 만듭니다 (검증·테스트의 단어가 들어가면 데이터 누수). 드문 단어(최소 빈도 미만)는 버리고
# 자주 나온 순서로 크기를 제한합니다: 한두 번 나온 단어의 임베딩은 배울 수 없고 표만 커지기 때문입니다.

# %%
# 단어(소문자 영문·숫자, don't 같은 축약 포함)와 감정을 담는 문장 부호 ! ? 만 토큰으로 남깁니다.
# 마침표·쉼표 등은 구분자로만 씁니다: 문장을 짧게 유지해 RNN의 순차 계산 시간을 줄이려는 선택입니다.
TOKEN_PATTERN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")
HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
HANGUL = re.compile(r"[\u3131-\u318e\uac00-\ud7a3]")  # 한글 자모(ㅋㅋ)와 완성형 음절


def tokenize(text: str) -> list[str]:
    """소문자로 바꾸고, IMDB 원문에 섞인 <br /> 줄바꿈 태그를 지우고, 단어와 ! ? 로 나눕니다."""
    return TOKEN_PATTERN.findall(HTML_BREAK.sub(" ", text).lower())


class Vocab:
    """토큰 ↔ 번호 사전. 0 = <pad>(패딩), 1 = <unk>(사전에 없는 단어)."""

    def __init__(self, itos: list[str]):
        if itos[:2] != [PAD, UNK]:
            raise ValueError("어휘 사전의 앞 두 자리는 <pad>, <unk> 여야 합니다")
        self.itos = list(itos)
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, tokens: list[str]) -> list[int]:
        get = self.stoi.get
        return [get(tok, UNK_IDX) for tok in tokens]

    def decode(self, ids) -> list[str]:
        return [self.itos[i] for i in ids]


def build_vocab(token_lists, max_size: int, min_freq: int) -> Vocab:
    """학습 데이터만으로 만듭니다 (테스트 단어가 사전에 들어가면 데이터 누수(data leakage)).

    min_freq 번 미만 나온 단어는 버리고(오타·고유명사는 일반화에 도움이 안 됨), 자주 나온 순서로
    max_size 개(특수 토큰 포함)까지만 남깁니다. 빈도가 같으면 알파벳 순서로 정해 결과가 늘 같습니다.
    """
    counts = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
    return Vocab([PAD, UNK] + words[:max(0, max_size - 2)])


def vocab_coverage(token_lists, vocab: Vocab) -> float:
    """사전에 있는 토큰의 비율 (<unk> 로 바뀌지 않는 비율)."""
    total = known = 0
    for tokens in token_lists:
        total += len(tokens)
        known += sum(1 for t in tokens if t in vocab.stoi)
    return known / max(total, 1)


# %%
if __name__ == "__main__":
    section("2. 토큰화와 어휘 사전")
    t0 = time.perf_counter()
    train_tokens = [tokenize(t) for t in data.train_texts]
    test_tokens = [tokenize(t) for t in data.test_texts]
    # 학습 데이터의 10%를 검증 세트로 떼어 냅니다 (시드로 고정한 무작위 순서)
    order = torch.randperm(len(train_tokens), generator=torch.Generator().manual_seed(args.seed)).tolist()
    n_val = max(1, int(len(order) * VAL_FRACTION))
    val_idx, tr_idx = order[:n_val], order[n_val:]
    fit_tokens = [train_tokens[i] for i in tr_idx]
    vocab = build_vocab(fit_tokens, settings["vocab_size"], settings["min_freq"])
    print(f"토큰화 {time.perf_counter() - t0:.1f}초. 어휘 사전 {len(vocab):,}개 (학습 부분만 사용, "
          f"최소 빈도 {settings['min_freq']}, 최대 {settings['vocab_size']:,})")
    print(f"  가장 자주 나온 단어: {vocab.itos[2:14]}")
    coverage, test_coverage = vocab_coverage(fit_tokens, vocab), vocab_coverage(test_tokens, vocab)
    print(f"  사전이 덮는 토큰 비율: 학습 {coverage:.1%}, 테스트 {test_coverage:.1%} (나머지는 <unk>)")

# %% [markdown]
# ## 3. 자르기와 패딩: 리뷰가 번호 열이 되기까지
# 리뷰 길이는 수십~수천 토큰으로 제각각입니다. 너무 긴 리뷰는 최대 길이 $L$ 로 자르는데, 총평은 끝에 오는 경우가
# 많으므로 **앞 $L/4$ + 뒤 $3L/4$** 를 남깁니다. 배치로 묶을 때는 가장 긴 문장에 맞춰 짧은 문장 뒤에 `<pad>`(0)를
# 채우고, 각 문장의 실제 길이를 함께 넘겨 모델이 패딩 칸을 읽지 않게 합니다.

# %%
def truncate_head_tail(ids: list[int], max_len: int) -> list[int]:
    """너무 긴 리뷰는 앞 1/4 + 뒤 3/4 만 남깁니다. 리뷰의 결론(총평)은 끝에 오는 경우가 많기 때문입니다."""
    if len(ids) <= max_len:
        return ids
    head = max_len // 4
    return ids[:head] + ids[len(ids) - (max_len - head):]


def encode_texts(token_lists, vocab: Vocab, max_len: int) -> list[torch.Tensor]:
    return [torch.tensor(truncate_head_tail(vocab.encode(t), max_len) or [UNK_IDX], dtype=torch.long)
            for t in token_lists]


def pad_batch(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """길이가 다른 번호 열들을 가장 긴 것에 맞춰 뒤쪽에 <pad>(0)를 채웁니다. (토큰, 길이)를 돌려줍니다."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    return pad_sequence(seqs, batch_first=True, padding_value=PAD_IDX), lengths


def show_encoding(text: str, vocab: Vocab, max_len: int) -> None:
    """리뷰 하나가 토큰 → 번호 → 자르기 → 패딩 으로 바뀌는 과정을 보여 줍니다."""
    tokens = tokenize(text)
    ids = vocab.encode(tokens)
    print("\n[리뷰 하나의 변환 과정]")
    print(f"  원문 앞부분: {text[:100]!r}")
    print(f"  토큰 앞 12개: {tokens[:12]}")
    print(f"  번호 앞 12개: {ids[:12]}  (1 = <unk>)")
    kept = truncate_head_tail(ids, max_len)
    if len(ids) > max_len:
        head = max_len // 4
        print(f"  자르기: 토큰 {len(ids)}개 > 최대 {max_len}개 → 앞 {head}개 + 뒤 {max_len - head}개만 남김. "
              f"이어 붙인 자리: {vocab.decode(kept[head - 3:head])} | {vocab.decode(kept[head:head + 3])}")
    else:
        print(f"  자르기: 토큰 {len(ids)}개 ≤ 최대 {max_len}개 → 자르지 않고 그대로 씁니다")
    short, longer = ids[:max(1, min(5, len(ids) // 2))], ids[:min(8, len(ids))]  # 짧은 리뷰도 길이가 다르게
    padded, lengths = pad_batch([torch.tensor(short), torch.tensor(longer)])
    print(f"  앞 {len(short)}개와 앞 {len(longer)}개 토큰을 배치로 묶으면(짧은 쪽 뒤에 패딩 0):\n"
          f"  {padded.tolist()}  길이 {lengths.tolist()}")


def plot_length_histogram(lengths: list[int], max_len: int, path: Path) -> Path:
    fig, axes = new_figure(size=(7, 4))
    ax = axes[0, 0]
    ax.hist(lengths, bins=60, color="tab:blue", alpha=0.8)
    ax.axvline(max_len, color="tab:red", ls="--", label=f"최대 길이 {max_len} (넘으면 앞+뒤만 사용)")
    ax.set_xlabel("리뷰 길이 (토큰 수)")
    ax.set_ylabel("리뷰 수")
    ax.set_title("학습 리뷰의 길이 분포")
    ax.legend()
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("3. 자르기와 패딩")
    max_len = settings["max_len"]
    lengths = [len(t) for t in fit_tokens]
    print(f"  리뷰 길이(토큰): 중앙값 {int(np.median(lengths))}, 90% {int(np.percentile(lengths, 90))}, "
          f"최대 {max(lengths)} → {max_len} 토큰을 넘는 리뷰 {np.mean(np.array(lengths) > max_len):.1%} 는 앞+뒤만 씁니다")
    plot_length_histogram(lengths, max_len, run.path("length_histogram.png"))
    # 자르기까지 보여 주려고 최대 길이를 넘는 첫 리뷰를 예로 씁니다 (없으면 첫 리뷰)
    example = next((i for i in tr_idx if len(train_tokens[i]) > max_len), tr_idx[0])
    show_encoding(data.train_texts[example], vocab, max_len)
    labels = data.train_labels
    split = {
        "train": (encode_texts(fit_tokens, vocab, max_len), [labels[i] for i in tr_idx]),
        "val": (encode_texts([train_tokens[i] for i in val_idx], vocab, max_len), [labels[i] for i in val_idx]),
        "test": (encode_texts(test_tokens, vocab, max_len), data.test_labels),
    }
    print(f"  번호 열: 학습 {len(split['train'][1]):,} / 검증 {len(split['val'][1]):,} / 테스트 {len(split['test'][1]):,}")

# %% [markdown]
# ## 4. 길이별 배치(bucketing): 패딩을 거의 없애기
# 무작위로 묶으면 짧은 리뷰가 긴 리뷰에 맞춰 패딩되어 계산의 절반 가까이가 `<pad>` 칸에 쓰입니다.
# 섞은 뒤 `batch_size × pool` 개씩 길이순으로 정렬해 자르면 비슷한 길이끼리 묶여 패딩이 거의 사라지고,
# 배치의 순서는 다시 섞어 매 에폭 다른 조합을 봅니다. 섞는 난수 상태(`state_dict`)는 체크포인트에 들어가
# `--resume` 뒤에도 같은 순서가 나옵니다.

# %%
class BucketBatches:
    """길이별 배치: 섞은 뒤 batch_size*pool 개씩 길이순으로 정렬해 자릅니다. 평가(shuffle=False)는 전체를 길이순으로.

    한 배치는 ((토큰, 길이), 레이블) 이라 utils 의 fit/evaluate 가 그대로 씁니다.
    """

    def __init__(self, seqs, labels, batch_size: int, shuffle: bool = False, seed: int = 0, pool: int = 50):
        self.seqs, self.labels = seqs, torch.as_tensor(labels, dtype=torch.long)
        self.lengths = torch.tensor([len(s) for s in seqs])
        self.batch_size, self.shuffle, self.pool = batch_size, shuffle, pool
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return math.ceil(len(self.seqs) / self.batch_size)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    def batch_indices(self) -> list[torch.Tensor]:
        bs = self.batch_size
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True)
            return list(order.split(bs))
        order = torch.randperm(len(self.seqs), generator=self.generator)
        batches = []
        for chunk in order.split(bs * self.pool):
            chunk = chunk[torch.argsort(self.lengths[chunk], stable=True)]
            batches += list(chunk.split(bs))
        return [batches[i] for i in torch.randperm(len(batches), generator=self.generator)]

    def __iter__(self):
        for idx in self.batch_indices():
            yield pad_batch([self.seqs[i] for i in idx.tolist()]), self.labels[idx]


def padding_fraction(seqs, batch_size: int, bucketed: bool, seed: int = 0) -> float:
    """배치를 만들었을 때 전체 칸 중 <pad> 칸의 비율 (무작위 배치 vs 길이별 배치 비교용)."""
    lengths = torch.tensor([len(s) for s in seqs])
    order = torch.randperm(len(seqs), generator=torch.Generator().manual_seed(seed))
    if bucketed:
        order = order[torch.argsort(lengths[order], stable=True)]
    cells = sum(lengths[idx].max().item() * len(idx) for idx in order.split(batch_size))
    return 1 - lengths.sum().item() / cells


# %%
if __name__ == "__main__":
    section("4. 길이별 배치")
    batch_size = settings["batch_size"]
    train_batches = BucketBatches(*split["train"], batch_size, shuffle=True, seed=args.seed)
    val_batches = BucketBatches(*split["val"], 256)
    test_batches = BucketBatches(*split["test"], 256)
    pad_random = padding_fraction(split["train"][0], batch_size, bucketed=False, seed=args.seed)
    pad_bucket = padding_fraction(split["train"][0], batch_size, bucketed=True, seed=args.seed)
    print(f"  배치 안의 <pad> 칸 비율: 무작위 배치 {pad_random:.1%} → 길이별 배치 {pad_bucket:.1%}")
    metrics = {"vocab_size": len(vocab), "vocab_coverage": round(coverage, 4),
               "test_vocab_coverage": round(test_coverage, 4),
               "padding_fraction_random": round(pad_random, 4), "padding_fraction_bucketed": round(pad_bucket, 4)}

# %% [markdown]
# ## 5. RNN 셀 직접 만들기
# Elman RNN 은 매 시점 지금 입력 $x_t$ 와 이전 기억 $h_{t-1}$ 을 섞어 새 기억을 만듭니다:
# $$h_t = \tanh(x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh})$$
# 같은 가중치를 모든 시점에 다시 쓰므로, 시간 방향으로 펼치면(unrolled) 아주 깊은 신경망이 됩니다.
# 직접 펼친 반복이 `nn.RNN`(같은 가중치)과 같은 값을 내는지 확인합니다.

# %%
def rnn_cell(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):
    """h_t = tanh(x_t W_ihᵀ + b_ih + h_(t-1) W_hhᵀ + b_hh): 지금 입력과 이전 기억을 섞어 새 기억을 만듭니다."""
    return torch.tanh(x_t @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)


def rnn_unrolled(x, h0, w_ih, w_hh, b_ih, b_hh):
    """x: (배치, 시간, 입력) → 모든 시점의 은닉 상태 (배치, 시간, 은닉)와 마지막 상태.

    같은 가중치를 모든 시점에 다시 씁니다. 역전파는 이 반복을 거꾸로 따라가며 W_hh 를 시간 길이만큼
    곱하게 되는데, 이것이 그래디언트 소실/폭주의 원인입니다 (10절 그림).
    """
    h, outputs = h0, []
    for t in range(x.shape[1]):
        h = rnn_cell(x[:, t], h, w_ih, w_hh, b_ih, b_hh)
        outputs.append(h)
    return torch.stack(outputs, dim=1), h


def check_rnn_by_hand(seed: int) -> float:
    """직접 만든 RNN과 nn.RNN(같은 가중치)의 출력 차이 최댓값."""
    torch.manual_seed(seed)
    rnn = nn.RNN(8, 16, batch_first=True)
    x, h0 = torch.randn(3, 12, 8), torch.zeros(3, 16)
    with torch.no_grad():
        ours, _ = rnn_unrolled(x, h0, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
        ref, _ = rnn(x, h0.unsqueeze(0))
    return (ours - ref).abs().max().item()


# %%
if __name__ == "__main__":
    section("5. RNN 셀 직접 만들기")
    print(f"  직접 펼친 RNN과 nn.RNN(같은 가중치)의 출력 차이 최댓값: {check_rnn_by_hand(args.seed):.2e}")

# %% [markdown]
# ## 6. 감성 분류 모델: 임베딩 → (양방향) RNN → 읽어 내기 → 선형층
# - `nn.Embedding`: 단어 번호 $i$ → 표의 $i$ 번째 행(벡터). 표는 분류 손실을 줄이도록 함께 학습됩니다.
# - RNN 층: `nn.RNN`(위의 Elman 셀), `nn.LSTM`·`nn.GRU`(게이트로 기억을 덧셈으로 전달해 먼 과거도 기억; 아래 글).
# - 읽어 내기: `last` 는 마지막 실제 토큰 위치의 상태 하나, `pool` 은 실제 위치들의 평균·최댓값 (패딩은 마스크로 제외).
# - 양방향: 거꾸로 읽는 RNN을 하나 더 둡니다. 문장을 **자기 길이 안에서만** 뒤집어 넣어 패딩이 늘 뒤쪽에 오게 하므로
#   길이별 배치(패딩을 함께 계산)와 `pack_padded_sequence`(패딩을 계산하지 않음)가 같은 결과를 냅니다.
#
# **게이트(gate) 미리 보기 — LSTM·GRU 가 순수 RNN 과 다른 점.** 게이트는 시그모이드로 만든 0~1 사이의 벡터
# $g = \sigma(x_t W_x^\top + h_{t-1} W_h^\top + b)$ 입니다. 어떤 값에 원소별로 곱하면($g \odot v$) 1에 가까운 칸은
# 그대로 통과하고 0에 가까운 칸은 지워지므로, '무엇을 남기고 무엇을 버릴지'를 정하는 밸브가 됩니다. 게이트도
# 가중치로 계산되므로 그 결정을 데이터에서 배웁니다.
# - **LSTM**: 은닉 상태 $h_t$ 와 따로 셀 상태 $c_t$(장기 기억)를 두고, 망각 게이트 $f$·입력 게이트 $i$·출력 게이트
#   $o$ 와 후보 값 $g$ 로 $c_t = f \odot c_{t-1} + i \odot g$, $h_t = o \odot \tanh(c_t)$ 를 계산합니다.
# - **GRU**: 셀 상태 없이 게이트 둘(갱신 $z$, 재설정 $r$)로 더 가볍게: $h_t = z \odot h_{t-1} + (1 - z) \odot n_t$
#   ($n_t$ 는 재설정 게이트를 거친 후보; PyTorch 의 표기).
#
# 두 식 모두 이전 기억이 $\tanh(W_{hh}\,\cdot)$ 를 거듭 통과하지 않고 게이트를 곱한 **덧셈**으로 다음 시점에
# 이어집니다. 망각(갱신) 게이트가 1 가까이 열려 있는 동안 그래디언트가 먼 과거까지 덜 줄어드는 까닭입니다 (10절 그림).
# 이 장에서는 `nn.LSTM`·`nn.GRU` 를 그대로 쓰고, LSTM 셀 전체(네 게이트 i·f·g·o)는 05장에서 손으로 만들어
# `nn.LSTM` 과 같은 값을 내는지 확인합니다.

# %%
RNN_CLASSES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """각 문장을 자기 길이 안에서만 뒤집습니다: [a b c <pad>] → [c b a <pad>].

    이렇게 하면 거꾸로 읽는 RNN도 패딩을 맨 끝에 만나므로, 실제 토큰 위치의 출력은 패딩에 영향받지 않습니다.
    """
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
    last = (lengths.to(x.device) - 1).unsqueeze(1)
    idx = torch.where(steps <= last, last - steps, steps)
    return x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class SentimentRNN(nn.Module):
    """리뷰 → 긍정/부정 점수 2개.

    readout="last": 마지막 실제 토큰 위치의 은닉 상태 하나로 판단 (고전적인 방식, 긴 거리 기억이 필요).
    readout="pool": 모든 실제 위치의 은닉 상태를 평균·최댓값으로 모읍니다 (패딩 위치는 마스크로 제외).
    양방향은 정방향/역방향 RNN 두 개로 직접 만듭니다. packed=True 면 pack_padded_sequence 로 계산합니다.
    """

    def __init__(self, vocab_size: int, cell: str = "gru", embed_dim: int = 128, hidden: int = 128,
                 bidirectional: bool = False, readout: str = "last", embed_dropout: float = 0.0,
                 dropout: float = 0.0):
        super().__init__()
        # 체크포인트에 평범한 dict 로 저장해 두었다가 --text 때 같은 모델을 다시 만듭니다.
        self.config = dict(vocab_size=vocab_size, cell=cell, embed_dim=embed_dim, hidden=hidden,
                           bidirectional=bidirectional, readout=readout, embed_dropout=embed_dropout,
                           dropout=dropout)
        self.readout = readout
        self.packed = False
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_IDX)
        self.embed_dropout = nn.Dropout(embed_dropout)
        rnn_class = RNN_CLASSES[cell]
        self.forward_rnn = rnn_class(embed_dim, hidden, batch_first=True)
        self.backward_rnn = rnn_class(embed_dim, hidden, batch_first=True) if bidirectional else None
        features = hidden * (2 if bidirectional else 1) * (2 if readout == "pool" else 1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(features, 2)

    def run_rnn(self, rnn, x, lengths):
        """(배치, 시간, 특성) → 모든 시점의 출력. packed=True 면 패딩 칸을 아예 계산하지 않습니다."""
        if not self.packed:
            return rnn(x)[0]
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = rnn(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]

    def read_out(self, outputs, lengths):
        """시간 축을 없애 문장 하나당 벡터 하나로 만듭니다 (패딩 위치는 절대 쓰지 않음)."""
        if self.readout == "last":
            idx = (lengths.to(outputs.device) - 1).view(-1, 1, 1).expand(-1, 1, outputs.shape[-1])
            return outputs.gather(1, idx).squeeze(1)
        mask = (torch.arange(outputs.shape[1], device=outputs.device).unsqueeze(0)
                < lengths.to(outputs.device).unsqueeze(1)).unsqueeze(-1)
        mean = (outputs * mask).sum(1) / mask.sum(1)
        largest = outputs.masked_fill(~mask, float("-inf")).amax(1)
        return torch.cat([mean, largest], dim=1)

    def forward(self, tokens, lengths):
        x = self.embed_dropout(self.embedding(tokens))
        features = [self.read_out(self.run_rnn(self.forward_rnn, x, lengths), lengths)]
        if self.backward_rnn is not None:
            # 역방향 출력은 뒤집힌 순서 그대로 둡니다: 풀링은 순서와 무관하고, "last"는 길이-1 위치가
            # 원래 문장의 첫 토큰까지 읽은 상태이기 때문입니다.
            reversed_x = reverse_within_length(x, lengths)
            features.append(self.read_out(self.run_rnn(self.backward_rnn, reversed_x, lengths), lengths))
        return self.classifier(self.dropout(torch.cat(features, dim=1)))


def build_model(config: dict) -> SentimentRNN:
    return SentimentRNN(**config)


# %%
if __name__ == "__main__":
    section("6. 감성 분류 모델")
    models = {}
    for key, label, config in settings["models"]:
        torch.manual_seed(args.seed)  # 모델마다 같은 시드로 초기화
        models[key] = build_model(dict(vocab_size=len(vocab), **config)).to(run.device)
        print(f"  {label:<14} 파라미터 {count_parameters(models[key]):>10,}개  ({config['cell']}, {config['readout']})")
    print(models["bigru"])

# %% [markdown]
# ## 7. 패딩 처리 두 방법의 속도: `pack_padded_sequence` vs 길이별 배치 + 마스킹
# `pack_padded_sequence` 는 시점마다 '아직 끝나지 않은 문장'만 모아 계산하므로 패딩 칸을 아예 계산하지 않지만,
# 시점마다 배치 크기가 바뀌어 CPU에서는 작은 연산이 잘게 쪼개집니다. 길이별 배치는 패딩이 거의 없는 배치를
# 통째로 계산하고, 패딩 위치는 읽어 낼 때 마스크로 뺍니다. 두 방법 모두 실제 토큰 위치의 출력이 패딩과 무관합니다(테스트로 확인).
#
# CPU에서 RNN을 돌릴 때의 설정 두 가지(측정해서 고른 것, 이 절부터 계산하는 셀에서 씁니다):
# - RNN은 시점마다 작은 연산을 차례로 하므로 스레드를 나눠도 빨라지지 않고, 다른 프로그램이 CPU를 함께 쓰면
#   스레드끼리 기다리느라 몇 배 느려집니다. 그래서 스레드 1개로 계산합니다.
# - 그래디언트 소실의 숨은 비용: 역전파 중 그래디언트가 1e-38 아래(비정규 수, denormal)로 작아지면 CPU가 그 곱셈을
#   수십 배 느리게 합니다 (마지막 상태만 읽는 RNN의 역전파가 7배 느려졌습니다). `set_flush_denormal(True)` 는
#   그런 값을 0으로 바꿔 이 비용을 없앱니다 (결과에는 영향이 없을 만큼 작은 값).

# %%
@contextlib.contextmanager
def rnn_on_cpu(device: torch.device):
    """CPU면 스레드 1개 + 비정규 수를 0으로. 끝나면 원래대로 돌려놓습니다 (GPU에서는 아무것도 바꾸지 않음)."""
    if device.type != "cpu":
        yield
        return
    torch.set_flush_denormal(True)
    try:
        with cpu_threads(1):
            yield
    finally:
        torch.set_flush_denormal(False)


def make_optimizer(model, lr: float):
    """Adam. fused=True 는 모든 매개변수의 갱신을 한 번에 계산해 CPU에서 약 5배 빠릅니다(측정: 임베딩 3.8M개,
    12ms → 2.4ms). 그 기능이 없는 옛 PyTorch에서는 보통 Adam을 씁니다."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except RuntimeError:
        return torch.optim.Adam(model.parameters(), lr=lr)


def seconds_per_train_step(model: SentimentRNN, batches: list, packed: bool, device) -> float:
    """같은 배치들로 학습 한 걸음(순전파+역전파+갱신)의 평균 시간. 첫 배치는 준비 운동으로 뺍니다."""
    model = copy.deepcopy(model).to(device).train()
    model.packed = packed
    optimizer = make_optimizer(model, 1e-3)
    times = []
    for (tokens, lengths), labels in batches:
        t0 = time.perf_counter()
        loss = nn.functional.cross_entropy(model(tokens.to(device), lengths), labels.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - t0)
    return float(np.mean(times[1:] if len(times) > 1 else times))


def compare_packing(model: SentimentRNN, train_batches: BucketBatches, n_batches: int, device) -> dict:
    """같은 양방향 GRU·같은 배치로 학습 한 걸음의 시간을 잽니다: packed vs 길이별 배치 + 마스킹."""
    batches = [b for _, b in zip(range(n_batches), train_batches)]
    bucketed = seconds_per_train_step(model, batches, packed=False, device=device)
    packed = seconds_per_train_step(model, batches, packed=True, device=device)
    ratio = packed / bucketed
    verdict = (f"packed 가 {ratio:.1f}배 느립니다" if ratio >= 1 else
               f"이번에는 packed 가 {1 / ratio:.1f}배 빠릅니다 (작은 모델·짧은 문장에서는 차이가 작고 측정이 흔들림)")
    print(f"  학습 한 걸음: 길이별 배치+마스킹 {bucketed * 1000:.0f}ms, "
          f"pack_padded_sequence {packed * 1000:.0f}ms → {verdict}")
    print("  전체 설정(긴 리뷰, 큰 모델)에서 빠른 쪽인 길이별 배치로 학습합니다 "
          "(전체 실행에서 잰 배율은 metrics.json 의 packed_slowdown).")
    return {"bucketed_seconds_per_step": round(bucketed, 4), "packed_seconds_per_step": round(packed, 4),
            "packed_slowdown": round(ratio, 2)}


# %%
if __name__ == "__main__":
    section("7. pack_padded_sequence 와 길이별 배치의 속도 비교 (양방향 GRU)")
    with rnn_on_cpu(run.device):
        metrics.update(compare_packing(models["bigru"], train_batches, 3 if args.quick else 8, run.device))

# %% [markdown]
# ## 8. 학습: RNN · LSTM · GRU, 그리고 양방향 GRU + 마스킹 풀링
# 네 모델을 같은 데이터로 학습합니다 (비교 모델 셋은 같은 크기·같은 에폭). 모두 `fit` 한 가지 루프로:
# - Adam + 학습률을 처음 값에서 끝 무렵 10%까지 **선형으로 줄이는** 스케줄: $\eta_s = \eta_0\,(1 - 0.9\,s/S)$ (초반엔 크게, 끝에는 미세하게).
# - **그래디언트 클리핑**: 그래디언트 벡터의 길이가 1.0을 넘으면 방향은 두고 길이만 줄입니다.
#   RNN은 긴 문장에서 그래디언트가 가끔 폭발(exploding)하는데, 한 번의 큰 걸음이 학습을 망치지 않게 막아 줍니다.
# - **검증 정확도로 에폭 고르기**: 가장 좋았던 에폭의 가중치로 끝냅니다 (테스트 세트는 고르는 데 쓰지 않음).
#
# 모델마다 체크포인트(`<모델>_checkpoint.pt`)를 따로 저장하므로 `--resume` 은 끝난 모델을 건너뛰고 중단된 모델부터 이어 갑니다.

# %%
def linear_decay(optimizer, total_steps: int):
    """학습률을 처음 값에서 total_steps 걸음 뒤 10% 까지 선형으로 줄이는 스케줄 (걸음마다 step)."""
    total_steps = max(1, total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - 0.9 * min(step, total_steps) / total_steps)


def train_model(key: str, label: str, model, train_batches, val_batches, epochs: int, args, run) -> dict:
    """fit 으로 학습하고, 검증 정확도가 가장 높았던 에폭의 가중치를 남깁니다. 에폭별 기록을 돌려줍니다."""
    optimizer = make_optimizer(model, args.lr)
    scheduler = linear_decay(optimizer, epochs * len(train_batches))
    history = fit(model, train_batches, val_batches, nn.CrossEntropyLoss(), optimizer, run.device, epochs,
                  scheduler=scheduler, clip_grad_norm=CLIP_GRAD_NORM, select_best="val_accuracy",
                  run=run, resume=args.resume, checkpoint=run.path(f"{key}_checkpoint.pt"), name=f"{label} ",
                  checkpoint_extra={"config": model.config}, check_extra=True)  # 다른 설정으로 이어 가지 않게
    print(f"  → {label}: 검증 정확도가 가장 높은 {history['best_epoch']} 에폭의 가중치를 씁니다.")
    return history


def classification_scores(targets: torch.Tensor, predictions: torch.Tensor) -> dict:
    """긍정(1)을 양성으로 본 정밀도·재현율·F1."""
    cm = confusion_matrix(targets, predictions, 2)
    tp, fp, fn = cm[1, 1], cm[0, 1], cm[1, 0]
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"accuracy": float(np.trace(cm) / cm.sum()), "precision": float(precision), "recall": float(recall),
            "f1": float(f1), "confusion_matrix": cm}


# %%
if __name__ == "__main__":
    section("8. 모델 학습: RNN · LSTM · GRU (같은 데이터·크기·에폭), 그리고 양방향 GRU + 마스킹 풀링")
    histories, results = {}, {}
    with rnn_on_cpu(run.device):
        for key, label, config in settings["models"]:
            model = models[key]
            epochs = settings["epochs"] if key == "bigru" else settings["compare_epochs"]
            print(f"\n[{label}] 파라미터 {count_parameters(model):,}개, {epochs} 에폭")
            histories[label] = train_model(key, label, model, train_batches, val_batches, epochs, args, run)
            test = evaluate(model, test_batches, nn.CrossEntropyLoss(), run.device)
            scores = classification_scores(test["targets"], test["predictions"])
            val_best = max(histories[label]["val_accuracy"])
            results[key] = dict(label=label, scores=scores, val_accuracy=val_best,
                                best_epoch=histories[label]["best_epoch"], parameters=count_parameters(model),
                                epochs=epochs, seconds_per_epoch=float(np.mean(histories[label]["epoch_seconds"])))
            print(f"  테스트 정확도 {scores['accuracy']:.4f} (검증 {val_best:.4f})")

# %% [markdown]
# ## 9. 결과 비교
# 테스트 세트 전체로 모델마다 한 번만 평가한 결과입니다. 최종 모델은 테스트가 아니라 **검증 정확도**로 고릅니다.
# 정밀도 = 긍정이라고 한 것 중 맞은 비율, 재현율 = 실제 긍정 중 찾아낸 비율, F1 = 둘의 조화 평균
# $\;F_1 = \dfrac{2PR}{P+R}$.

# %%
if __name__ == "__main__":
    section("9. 결과 비교 (테스트 세트 전체, 모델마다 한 번만 평가)")
    print(f"  {'모델':<14}{'테스트 정확도':>10}{'F1':>8}{'파라미터':>12}{'에폭당 초':>10}{'에폭':>6}")
    for key, r in results.items():
        print(f"  {r['label']:<14}{r['scores']['accuracy']:>10.4f}{r['scores']['f1']:>8.4f}"
              f"{r['parameters']:>12,}{r['seconds_per_epoch']:>10.1f}{r['epochs']:>6}")
        metrics.update({f"{key}_accuracy": round(r["scores"]["accuracy"], 4), f"{key}_f1": round(r["scores"]["f1"], 4),
                        f"{key}_val_accuracy": round(r["val_accuracy"], 4),
                        f"{key}_seconds_per_epoch": round(r["seconds_per_epoch"], 1),
                        **{f"{key}_{name}": r[name] for name in ("parameters", "epochs", "best_epoch")}})
    best_key = max(results, key=lambda k: results[k]["val_accuracy"])  # 테스트가 아니라 검증으로 고릅니다
    best = results[best_key]
    metrics.update(best_model=best_key, **{f"test_{name}": round(best["scores"][name], 4)
                                           for name in ("accuracy", "precision", "recall", "f1")})
    print(f"  검증 정확도로 고른 모델: {best['label']} → 테스트 정확도 {best['scores']['accuracy']:.4f}, "
          f"정밀도 {best['scores']['precision']:.4f}, 재현율 {best['scores']['recall']:.4f}, F1 {best['scores']['f1']:.4f}")
    plot_learning_curves(histories, run.path("learning_curves.png"), "모델별 학습 곡선")
    plot_confusion_matrix(best["scores"]["confusion_matrix"], CLASS_NAMES, run.path("confusion_matrix.png"),
                          f"혼동 행렬: {best['label']} (테스트 {len(split['test'][1]):,}개)")
    plot_bars({r["label"]: r["scores"]["accuracy"] for r in results.values()}, run.path("model_comparison.png"),
              "모델별 테스트 정확도", "정확도")

# %% [markdown]
# ## 10. 그래디언트 소실: 긴 리뷰에서 시점별 $\lVert \partial L / \partial x_t \rVert$
# 손실을 각 시점의 입력(임베딩) $x_t$ 로 미분한 크기를 시점마다 그립니다. 값이 작을수록 그 시점의 단어가
# 학습에 거의 반영되지 않습니다. 순수 RNN은 역전파 때 같은 $W_{hh}$ 와 $\tanh$ 미분(≤1)을 시점마다 곱하므로
# 먼 과거로 갈수록 그래디언트가 지수적으로 줄어듭니다. LSTM/GRU는 게이트가 열려 있으면 기억이 덧셈으로
# 전달되어 훨씬 천천히 줄어듭니다.

# %%
def input_gradient_norms(model: SentimentRNN, tokens: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """시점 t의 임베딩 입력에 대한 손실의 그래디언트 크기 ‖∂L/∂x_t‖ (리뷰들 평균). 길이 = 시간 축.

    패딩 없는 같은 길이의 리뷰만 넣습니다.
    """
    captured = {}

    def keep_embedding(module, inputs, output):
        output.retain_grad()
        captured["x"] = output

    # float64 로 계산합니다: 순수 RNN의 그래디언트는 수백 시점 만에 float32 로 표현할 수 없을 만큼
    # (1e-38 아래로) 작아져 0이 되기 때문입니다. 원래 모델은 건드리지 않도록 복사본을 씁니다.
    model = copy.deepcopy(model).cpu().double().eval()
    handle = model.embedding.register_forward_hook(keep_embedding)
    try:
        lengths = torch.full((tokens.shape[0],), tokens.shape[1], dtype=torch.long)
        loss = nn.functional.cross_entropy(model(tokens, lengths), labels)
        model.zero_grad(set_to_none=True)
        loss.backward()
    finally:
        handle.remove()
    return captured["x"].grad.norm(dim=-1).mean(0).numpy()


def long_review_batch(seqs, labels, length: int, n: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """길이가 length 이상인 리뷰 n개의 마지막 length 토큰 (패딩 없이 모두 같은 길이)."""
    idx = [i for i, s in enumerate(seqs) if len(s) >= length][:n]
    if not idx:
        return None
    return torch.stack([seqs[i][-length:] for i in idx]), torch.as_tensor([labels[i] for i in idx])


def plot_gradient_norms(curves: dict, accuracies: dict, path: Path) -> Path:
    fig, axes = new_figure(size=(8, 4.5))
    ax = axes[0, 0]
    for name, norms in curves.items():
        steps = np.arange(1, len(norms) + 1)
        ax.semilogy(steps, norms, label=f"{name} (테스트 정확도 {accuracies[name]:.1%})")
    # 로그 눈금의 기본 레이블(10^-3)은 나눔고딕에 없는 유니코드 마이너스를 쓰므로 1e-03 형식으로 씁니다.
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.0e}"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("시점 t (오른쪽 끝 = 마지막 토큰, 출력에 가장 가까움)")
    ax.set_ylabel("입력 x_t 에 대한 손실의 그래디언트 크기 (로그 눈금)")
    ax.set_title("그래디언트 소실: 출력에서 먼 시점일수록 순수 RNN의 그래디언트가 급격히 작아집니다")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("10. 그래디언트 소실: 긴 리뷰에서 시점별 ‖∂손실/∂x_t‖")
    grad_len = min(settings["max_len"], 400)
    batch = long_review_batch(*split["test"], grad_len, 32) or long_review_batch(
        *split["test"], min(len(s) for s in split["test"][0]), 32)
    with rnn_on_cpu(run.device):
        curves = {results[k]["label"]: input_gradient_norms(models[k], *batch) for k in ["rnn", "lstm", "gru"]}
    plot_gradient_norms(curves, {r["label"]: r["scores"]["accuracy"] for r in results.values()},
                        run.path("vanishing_gradient.png"))
    for name, norms in curves.items():
        ratio = norms[0] / norms[-1]  # 첫 토큰(출력에서 가장 먼 곳)과 마지막 토큰의 그래디언트 크기 비
        metrics[f"{name.lower()}_grad_first_over_last"] = float(f"{ratio:.3g}")
        print(f"  {name:<5} 첫 토큰 / 마지막 토큰 그래디언트 비율: {ratio:.2e}")
    print("  반대로 곱이 1보다 커지면 폭발하므로, 학습 때 그래디언트 클리핑(최대 길이 1.0)을 씁니다.")

# %% [markdown]
# ## 11. 학습된 임베딩 들여다보기
# `nn.Embedding` 은 (어휘 크기 × 차원) 표입니다. 번호 $i$ 를 넣으면 $i$ 번째 행을 꺼내는데, 이는 원-핫 벡터 $e_i$ 와
# 표의 곱 $e_i^\top E$ 와 같은 계산입니다. 학습 후 벡터 사이 각도(코사인 유사도
# $\cos\theta = \dfrac{u\cdot v}{\lVert u\rVert\,\lVert v\rVert}$)가 가까운 단어를 찾고, 감정 단어들을 PCA로 2차원에 투영해 봅니다.

# %%
PROBE_WORDS = ["good", "bad", "great", "boring", "excellent", "worst"]
SENTIMENT_WORDS = {
    "긍정": ["great", "excellent", "wonderful", "best", "love", "amazing", "perfect", "brilliant", "enjoyed",
             "beautiful", "superb", "fantastic", "favorite", "loved", "highly"],
    "부정": ["bad", "worst", "awful", "boring", "terrible", "waste", "horrible", "poor", "stupid", "dull",
             "worse", "mess", "lame", "pointless", "annoying"],
}


def explain_embedding(weights: torch.Tensor, vocab: Vocab, word: str) -> float:
    """번호로 행을 꺼내기 == 원-핫 벡터 × 표 임을 숫자로 확인하고 그 차이(0이어야 함)를 돌려줍니다."""
    i = vocab.stoi.get(word, UNK_IDX)
    looked_up = nn.functional.embedding(torch.tensor([i]), weights)[0]
    via_one_hot = nn.functional.one_hot(torch.tensor(i), len(vocab)).to(weights.dtype) @ weights
    diff = (looked_up - via_one_hot).abs().max().item()
    print(f"  nn.Embedding 표: {tuple(weights.shape)} = 단어 {weights.shape[0]:,}개 × {weights.shape[1]}차원")
    print(f"  '{vocab.itos[i]}'(번호 {i}) → 벡터 앞 4개 값 {[round(v, 3) for v in looked_up[:4].tolist()]}; "
          f"원-핫 벡터 × 표 와의 차이 {diff:.1e} (같은 계산, 행을 바로 꺼내므로 빠름)")
    print(f"  표의 값은 처음엔 무작위이고 분류 손실을 줄이도록 역전파로 함께 학습됩니다. <pad>(0번) 행은 "
          f"padding_idx 라서 0으로 고정되고 갱신되지 않습니다 (크기 {weights[PAD_IDX].norm():.1f}).")
    return diff


def nearest_words(weights: torch.Tensor, vocab: Vocab, word: str, k: int = 5) -> list[tuple[str, float]]:
    """코사인 유사도(벡터 사이 각도)가 가장 큰 단어 k개 (<pad>, <unk>, 자기 자신 제외)."""
    if word not in vocab.stoi:
        return []
    unit = nn.functional.normalize(weights, dim=1)
    sims = unit @ unit[vocab.stoi[word]]
    sims[[PAD_IDX, UNK_IDX, vocab.stoi[word]]] = -2.0
    top = torch.topk(sims, k=min(k, len(vocab) - 3))
    return [(vocab.itos[i], v) for v, i in zip(top.values.tolist(), top.indices.tolist())]


def plot_embedding_projection(weights: torch.Tensor, vocab: Vocab, path: Path) -> Path | None:
    """감정 단어들의 임베딩을 PCA로 2차원에 투영해 레이블과 함께 그립니다."""
    from sklearn.decomposition import PCA

    groups = {g: [w for w in words if w in vocab.stoi] for g, words in SENTIMENT_WORDS.items()}
    words = [w for ws in groups.values() for w in ws]
    if len(words) < 3:
        return None
    points = PCA(n_components=2).fit_transform(weights[[vocab.stoi[w] for w in words]].numpy())
    fig, axes = new_figure(size=(7, 5.5))
    ax = axes[0, 0]
    start = 0
    for (group, ws), color in zip(groups.items(), ["tab:blue", "tab:red"]):
        pts = points[start:start + len(ws)]
        ax.scatter(pts[:, 0], pts[:, 1], color=color, label=f"{group} 단어")
        for (x, y), w in zip(pts, ws):
            ax.annotate(w, (x, y), fontsize=8, xytext=(3, 3), textcoords="offset points")
        start += len(ws)
    ax.set_title("학습된 임베딩의 2차원 투영 (PCA): 긍정 단어와 부정 단어의 위치")
    ax.set_xlabel("주성분 1")
    ax.set_ylabel("주성분 2")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("11. 학습된 임베딩: 단어 번호 → 벡터, 코사인 유사도가 가까운 단어")
    weights = models[best_key].embedding.weight.detach().cpu()
    example_word = next((w for w in PROBE_WORDS if w in vocab.stoi), vocab.itos[min(2, len(vocab) - 1)])
    explain_embedding(weights, vocab, example_word)
    for word in PROBE_WORDS:
        neighbours = nearest_words(weights, vocab, word)
        if neighbours:
            print(f"  {word:<10} → " + ", ".join(f"{w}({s:.2f})" for w, s in neighbours))
    plot_embedding_projection(weights, vocab, run.path("embedding_pca.png"))

# %% [markdown]
# ## 12. 결과 기록
# 검증 정확도로 고른 모델을 어휘 사전·최대 길이와 함께 `checkpoint.pt` 로 저장하고(13절의 `--text` 가 씀),
# 숫자 결과를 `metrics.json` 에 남깁니다 (`cpu_seconds`: 이 프로세스가 실제로 쓴 CPU 시간, 다른 프로그램의 영향이 적음).

# %%
if __name__ == "__main__":
    section("12. 결과 기록")
    best_model = models[best_key].cpu()
    run.save({"model": best_model.state_dict(), "config": best_model.config, "vocab": vocab.itos,
              "max_len": settings["max_len"], "name": best_key})
    print(f"  체크포인트: {run.checkpoint_path} ({best['label']})")
    metrics["cpu_seconds"] = round(time.process_time(), 1)
    run.write_metrics(dataset=data.name, data_source=data.source, epochs=settings["epochs"],
                      n_train=len(split["train"][1]), n_test=len(split["test"][1]), metrics=metrics)

# %% [markdown]
# ## 13. 내 리뷰 분류하기 (`--text`, `--text-file`)
# 저장된 모델로 내가 쓴 영어 리뷰를 분류합니다. 입력도 학습 때와 똑같이 토큰화 → 번호 → 자르기를 거칩니다.
# 빈 글, 아는 단어가 하나도 없는 글은 판단하지 않고 이유를 알려 줍니다. 한국어 리뷰는 영어로 학습한 이 모델이
# 읽을 수 없으므로, 한글이 든 리뷰는 짝 장 `04_rnn_text_classification-nsmc.py` 가 네이버 영화 리뷰(NSMC 형식)로
# 학습한 모델이 분류합니다 (아직 학습하지 않았으면 그 명령을 안내합니다).
# 스크립트에서는 `python 04_rnn_text_classification.py --text "..."` 로 이 절만 실행됩니다
# (`--quick` 을 함께 주면 빠른 실행의 모델을 씁니다).

# %%
KOREAN_LESSON = "04_rnn_text_classification-nsmc"  # 한국어 리뷰(NSMC 형식)를 읽는 짝 장
NSMC_NOTE = ("이 모델은 영어 영화 리뷰(IMDB)로 학습했습니다. 한국어 리뷰는 네이버 영화 리뷰(NSMC 형식)로 학습하는 "
             f"짝 장의 모델이 읽습니다: 먼저 python {KOREAN_LESSON}.py 로 학습하세요.")


def load_review_classifier(checkpoint_path) -> tuple[SentimentRNN, object, int, list[str]]:
    """체크포인트 → (평가 모드 모델 — model(x, lengths) 로 부름, encode, 최대 길이, 클래스 이름). 09장(서빙)이 씁니다.

    encode(text) → 번호 목록: 학습 때와 같은 토큰화(기록된 tokenizer 가 있으면 한국어 장의 것)·사전·앞+뒤 자르기."""
    state = load_checkpoint(checkpoint_path)
    model = build_model(state["config"])
    model.load_state_dict(state["model"])
    vocab, max_len = Vocab(state["vocab"]), int(state["max_len"])
    split = importlib.import_module(KOREAN_LESSON).restore_tokenizer(state) if "tokenizer" in state else tokenize

    def encode(text: str) -> list[int]:
        return truncate_head_tail(vocab.encode(split(text)), max_len)

    return model.eval(), encode, max_len, list(CLASS_NAMES)


def trained_checkpoint(run, lesson: str) -> Path:  # 예측에 쓸 체크포인트: --quick 을 함께 주면 빠른 실행의 것
    return run_folder(run.out.parent, lesson, "--quick" in run.argv) / "checkpoint.pt"


def korean_classifier(run):
    """한글이 든 리뷰를 맡을 한국어 장의 분류 함수(text → 결과). 그 모델이 아직 없으면 학습 명령을 안내합니다."""
    path = trained_checkpoint(run, KOREAN_LESSON)
    if path.is_file():
        return importlib.import_module(KOREAN_LESSON).review_classifier(path)
    return lambda text: {"label": None, "probability": None, "note": NSMC_NOTE}


def classify_text(model: SentimentRNN, vocab: Vocab, max_len: int, text: str) -> dict:
    """리뷰 한 편 → {"label", "probability", "note"}. 판단할 수 없으면 label=None 과 이유(note)."""
    tokens = tokenize(text)
    if not text.strip():
        return {"label": None, "probability": None, "note": "빈 텍스트입니다. 영어 리뷰 문장을 넣어 주세요."}
    # 한국어 리뷰에 섞인 숫자(10점)·부호만으로 판단하지 않도록, 아는 '영어 단어'가 있는지 봅니다.
    if HANGUL.search(text) and not any(t in vocab.stoi and t[0].isalpha() for t in tokens):
        return {"label": None, "probability": None, "note": NSMC_NOTE}
    ids = vocab.encode(tokens)
    if not ids or all(i == UNK_IDX for i in ids):
        return {"label": None, "probability": None,
                "note": "아는 단어가 하나도 없어 판단할 수 없습니다 (학습 데이터에 나온 영어 단어를 넣어 보세요)."}
    notes = []
    if len(ids) > max_len:
        notes.append(f"긴 글이라 {len(ids):,}개 토큰 중 앞 {max_len // 4}개와 뒤 {max_len - max_len // 4}개만 읽었습니다.")
    if HANGUL.search(text):
        notes.append(NSMC_NOTE)
    x = torch.tensor([truncate_head_tail(ids, max_len)])
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(x, torch.tensor([x.shape[1]])), dim=1)[0]
    label = int(probs.argmax())
    return {"label": CLASS_NAMES[label], "probability": probs[label].item(), "note": " ".join(notes)}


def read_text_file(path: str) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise CourseError(f"--text-file 파일을 찾을 수 없습니다: {p}")
    try:
        lines = [line for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise CourseError(f"UTF-8 텍스트 파일이 아닙니다: {p}") from None
    if not lines:
        raise CourseError(f"파일에 리뷰가 한 줄도 없습니다: {p} (한 줄에 리뷰 하나씩 적어 주세요)")
    return lines


def predict_user_texts(args, run) -> list[dict]:
    """--text 는 한 편을, --text-file 은 파일의 줄마다 분류해 표로 출력합니다."""
    if args.text is not None and args.text_file is not None:
        raise CourseError("--text 와 --text-file 은 함께 쓸 수 없습니다. 하나만 고르세요.")
    texts = read_text_file(args.text_file) if args.text_file else [args.text]
    # 한글이 든 리뷰는 한국어 장의 모델이 (학습되어 있으면) 분류합니다. 영어 리뷰가 있으면 IMDB 모델도 엽니다.
    korean = korean_classifier(run) if any(HANGUL.search(t) for t in texts) else None
    if korean is None or not all(HANGUL.search(t) for t in texts):
        state = load_checkpoint(trained_checkpoint(run, LESSON))
        model, vocab, max_len = build_model(state["config"]), Vocab(state["vocab"]), int(state["max_len"])
        model.load_state_dict(state["model"])
    results = [korean(t) if korean and HANGUL.search(t) else classify_text(model, vocab, max_len, t) for t in texts]
    if args.text_file is None:
        r = results[0]
        if r["label"] is None:
            raise CourseError(r["note"])
        print(f"\n리뷰: {texts[0][:200]}\n예측: {r['label']} (확률 {r['probability']:.1%})")
        if r["note"]:
            print(f"참고: {r['note']}")
        return results
    print(f"\n{'번호':>4}  {'예측':<4} {'확률':>6}  리뷰 (앞 60자) / 참고")
    for i, (text, r) in enumerate(zip(texts, results), 1):
        head = f"{i:>4}  " + (f"{r['label']:<4} {r['probability']:>6.1%}" if r["label"] else f"{'-':<4} {'-':>6}")
        print(f"{head}  {text[:60]}" + (f"\n{'':>18}참고: {r['note']}" if r["note"] else ""))
    return results


# %%
if __name__ == "__main__":
    section("13. 내 리뷰 분류하기")
    for sample in ["This movie was surprisingly good", "A boring, predictable waste of two hours.", "정말 재미있는 영화"]:
        r = classify_text(best_model, vocab, settings["max_len"], sample)
        print(f"  예시 '{sample}' → " + (f"{r['label']} ({r['probability']:.1%})" if r["label"] else r["note"]))
    print(f"\n내 리뷰 분류: python {LESSON}.py{' --quick' if args.quick else ''} --text \"...\"")

# %% [markdown]
# ## 해 보세요
# 아래 세 실험은 학습 없이 2·4·10절의 함수만 다시 부릅니다: 노트북에서 `QUICK = False` 로 1~6절만 실행한 뒤(학습 전까지,
# 몇 분) 새 셀에서 2절의 `train_tokens`·`test_tokens`(학습 25,000편·테스트 25,000편 전체)로 해 보세요. 숫자는 이 과정을 만든
# 2코어 CPU(AMD EPYC, 다른 작업과 함께)에서 잰 값이고, 세 실험을 모두 합쳐 4분이 걸렸습니다
# (명령과 출력: `docs/notes/04_rnn_text_classification.md`).
#
# 1. **사전 크기**: `build_vocab(train_tokens, 5_000, 2)` · `30_000` · `100_000` 으로 사전을 만들고
#    `1 - vocab_coverage(test_tokens, vocab)` 로 테스트 세트의 `<unk>` 비율을 재 보세요. → 10.1 % · 2.2 % · 1.4 %
#    (100,000 으로 해도 두 번 이상 나온 단어가 49,994개뿐이라 사전이 거기서 멈춥니다). 5,000개 사전은 열 단어 중 하나를
#    `<unk>` 로 읽습니다 — `--vocab-size 5000` 으로 학습하면 정확도가 얼마나 떨어질지 예상해 보세요.
# 2. **길이별 배치의 효과**: `seqs = encode_texts(train_tokens, build_vocab(train_tokens, 30_000, 2), 400)` 으로 번호 열을 만들고
#    `padding_fraction(seqs, b, bucketed=False)` 와 `bucketed=True` 를 배치 크기 b = 32 · 128 · 512 에서
#    비교해 보세요. → 무작위 배치는 세 경우 모두 47.7 % 가 패딩, 길이별 배치는 0.1 % · 0.5 % · 1.7 %. 배치가 클수록 한 배치
#    안의 길이 차이가 커지지만, 길이별 배치는 512 에서도 패딩이 2 % 아래입니다.
# 3. **학습 전의 그래디언트 소실**: 10절의 `input_gradient_norms` 를 학습하기 **전** 모델(시드 42, 4절 설정, 단방향, 마지막 상태
#    읽기)에 `long_review_batch(seqs, data.train_labels, 길이, 32)` 로 고른 길이 50 과 200 의 리뷰 32편을 넣어
#    첫 토큰/마지막 토큰 비율(`g[0] / g[-1]`)을 재 보세요.
#    → 길이 50: RNN 2e-17, LSTM 1.1e-11, GRU 2.7e-11 / 길이 200: RNN 1.2e-68, LSTM 1.9e-44, GRU 2.0e-42.
#    학습 전에는 게이트가 있는 LSTM·GRU 도 그래디언트가 사라집니다. 학습한 뒤(10절, 길이 400)에는 GRU 0.37, LSTM 1.9e-4,
#    RNN 3.9e-48 이었습니다: 게이트는 그 자체로 기억을 지키는 것이 아니라, 학습하며 '잊지 않는 법'을 배웁니다.
#
# <details><summary>질문 1. 사전을 테스트 세트까지 포함해 만들면 안 되는 이유는?</summary>
#
# 테스트 세트의 단어 목록과 빈도가 사전(= 모델의 입력 표현)에 들어가면, 평가할 데이터의 정보가 학습에 새어 들어갑니다
# (데이터 누수). 실제 서비스에서 새 리뷰의 단어는 미리 알 수 없으므로, 학습 데이터만으로 만든 사전이 정직한 조건입니다.
# 그래서 2절은 학습 부분만으로 사전을 만들고, 테스트의 `<unk>` 비율을 따로 보고합니다.
# </details>
#
# <details><summary>질문 2. 양방향 GRU 에서 '마지막 상태 읽기' 대신 '마스킹 풀링'을 쓰는 이유는?</summary>
#
# 마지막 상태는 주로 리뷰 끝부분의 정보를 담고, 앞부분의 신호는 수백 시점을 거치며 약해집니다(10절). 패딩을 뺀 모든 시점의
# 출력을 평균·최댓값으로 모으면(마스킹 풀링) 리뷰 어디에 있는 "terrible" 도 곧바로 분류기에 닿습니다. 패딩 위치는 마스크로
# 빼야 합니다 — 그렇지 않으면 짧은 리뷰일수록 0 벡터가 평균을 끌어내립니다.
# </details>
