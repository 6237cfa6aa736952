"""08. Transformer 번역: 독일어 → 영어 (Multi30k)

학습 목표
  - 어텐션(attention)을 직접 구현합니다: 스케일드 닷-프로덕트 어텐션, 멀티 헤드 어텐션(multi-head attention),
    패딩 마스크와 미래를 가리는 인과(causal, look-ahead) 마스크.
  - 사인/코사인 위치 인코딩(positional encoding)을 만들고, 왜 상대 위치가 선형 변환으로 표현되는지 봅니다.
  - 이 부품들로 인코더-디코더(encoder-decoder) Transformer를 조립해 번역을 학습합니다
    (프리-노름, 가중치 공유, 레이블 스무딩, 워밍업 + 코사인 감소 학습률, 그래디언트 클리핑, 체크포인트 평균).
  - 탐욕(greedy) 디코딩과 빔 탐색(beam search)으로 번역하고 sacreBLEU로 평가합니다.

데이터셋
  Multi30k task 1 (Flickr30k 사진 설명의 독일어-영어 쌍): 학습 29,000 / 검증 1,014 / 테스트 test_2016_flickr 1,000.
  DL_DATA_DIR/multi30k/{train,val,test_2016_flickr}.{de,en}[.gz] 를 읽고, 없으면 공식 저장소
  (github.com/multi30k/dataset, data/task1/raw/)에서 sha256을 확인하며 내려받습니다.
  그래도 없으면 눈에 띄는 안내와 함께 규칙으로 만든 작은 독일어-영어 문장 쌍으로 대신합니다.

핵심 개념
  토큰화(tokenization): 학습 문장만으로 학습한 공유 BPE 서브워드 어휘 사전(vocabulary) (HF tokenizers)
  셀프 어텐션(self-attention) · 교차 어텐션 · 멀티 헤드 어텐션 · 위치 인코딩 · 인코더-디코더
  레이블 스무딩 · 워밍업 학습률 · 토큰 수 기준 배치와 길이 버킷 · 빔 탐색 · BLEU (sacreBLEU, 대소문자 구분)

실행 방법
  python 08_transformer_nlp.py                       # 전체 학습 (CPU 2코어 약 55분)
  python 08_transformer_nlp.py --quick               # 몇 초 안에 전체 흐름만 확인
  python 08_transformer_nlp.py --translate "Ein Mann fährt Fahrrad." --beam 5
  python 08_transformer_nlp.py --translate-file 문장들.de.txt   # 한 줄에 한 문장, 번역은 표준 출력으로
  주요 옵션: --epochs --batch-size(배치당 토큰 수) --lr --vocab-size --d-model --layers --beam
             --learned-pos(학습되는 위치 임베딩) --post-norm --average(평균할 마지막 에폭 수)

예상 시간 (측정)
  CPU 2코어(다른 작업과 공유): 전체 실행 약 55분 / --quick 약 10초. GPU에서는 몇 분.
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import math
import random
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.data_utils import fetch_verified, locate_dataset, resolve_data_dir
from utils.model_utils import (CourseError, add_threads_option, choose_device, count_parameters, cpu_threads,
                               evaluate, lesson_main, load_checkpoint, make_parser, positive_int, save_checkpoint,
                               set_seed, start_run, train_one_epoch)
from utils.visualization import new_figure, save_figure

LESSON = "08_transformer_nlp"
SPLITS = ["train", "val", "test_2016_flickr"]
MULTI30K_COMMIT = "a3d2e0d26b56f3846f66a952536ffed4e401d05a"
MULTI30K_URL = f"https://raw.githubusercontent.com/multi30k/dataset/{MULTI30K_COMMIT}/data/task1/raw/"
MULTI30K_SHA256 = {
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
}
SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
PAD, BOS, EOS, UNK = range(4)
# 그림의 토큰 라벨: 나눔고딕에 없는 글자(Ä, Ö, ▁ 등)는 DejaVu Sans로 대신 그립니다.
TOKEN_FONTS = ["NanumGothic", "DejaVu Sans"]


# ---------------------------------------------------------------------------
# 1. 데이터: Multi30k 원본 파일 찾기 → 내려받기 → 대체 데이터
# ---------------------------------------------------------------------------
@dataclass
class Corpus:
    """문장 쌍 (독일어 원문, 영어 참조 번역). test는 공식 test_2016_flickr 입니다."""
    train: list[tuple[str, str]]
    val: list[tuple[str, str]]
    test: list[tuple[str, str]]
    source: str
    name: str


def _split_file(root: Path, split: str, lang: str) -> Path | None:
    """압축을 푼 파일이 있으면 그것을, 없으면 .gz 를 씁니다."""
    for name in (f"{split}.{lang}", f"{split}.{lang}.gz"):
        path = root / "multi30k" / name
        if path.is_file():
            return path
    return None


def multi30k_present(root: Path) -> bool:
    return all(_split_file(root, s, lang) for s in SPLITS for lang in ("de", "en"))


def download_dataset(root: Path) -> bool:
    """강사용 미리 받기: 공식 저장소의 원본 .gz 6개를 sha256으로 확인하며 받습니다."""
    root = Path(root)
    ok = True
    for name, digest in MULTI30K_SHA256.items():
        ok = fetch_verified([MULTI30K_URL + name], root / "multi30k" / name, digest, "sha256") and ok
    return ok and multi30k_present(root)


def read_lines(path: Path, limit: int | None = None) -> list[str]:
    """한 줄에 한 문장. limit가 있으면 앞의 limit줄만 읽습니다 (--quick은 전체를 풀지 않음)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return [line.rstrip("\n") for line in itertools.islice(f, limit)]
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise CourseError(f"Multi30k 파일이 손상되었습니다: {path} ({type(err).__name__})\n"
                          "       파일을 지우고 다시 내려받으세요.") from None


def load_multi30k(root: Path, limits: dict) -> list[list[tuple[str, str]]]:
    splits = []
    for split in SPLITS:
        de = read_lines(_split_file(root, split, "de"), limits.get(split))
        en = read_lines(_split_file(root, split, "en"), limits.get(split))
        if len(de) != len(en):
            raise CourseError(f"Multi30k {split}의 독일어({len(de)}줄)와 영어({len(en)}줄) 줄 수가 다릅니다.")
        splits.append([(normalize(d), normalize(e)) for d, e in zip(de, en)])
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


def load_corpus(args, quick: bool) -> Corpus:
    root = resolve_data_dir(args.data_dir)
    expected = [str(root / "multi30k" / f"{s}.{lang}[.gz]") for s in SPLITS for lang in ("de", "en")]
    source = locate_dataset(args, "Multi30k", expected, present=lambda: multi30k_present(root),
                            download=lambda: download_dataset(root))
    if source == "fallback":
        train, val, test = stand_in_pairs(args.seed)
        return Corpus(train, val, test, source, "규칙으로 만든 독일어-영어 문장 쌍 (대체 데이터)")
    limits = {"train": 3000, "val": 100, "test_2016_flickr": 100} if quick else {"train": args.train_limit}
    train, val, test = load_multi30k(root, limits)
    return Corpus(train, val, test, source, "Multi30k task1 de-en (test_2016_flickr)")


# ---------------------------------------------------------------------------
# 2. 토큰화: 학습 문장만으로 학습한 공유 BPE 어휘 사전
# ---------------------------------------------------------------------------
def normalize(text: str) -> str:
    """학습·번역 모두 같은 정규화: 유니코드 NFC, 공백 한 칸. (토크나이저 왕복이 이 형태를 보존합니다)"""
    return " ".join(unicodedata.normalize("NFC", text).split())


def train_tokenizer(texts: list[str], vocab_size: int):
    """독일어와 영어를 한 어휘 사전으로: 두 언어가 같은 서브워드(이름, 숫자)를 공유하고 임베딩도 하나로 묶습니다.

    Metaspace는 공백을 '▁' 기호로 토큰 안에 남겨, 디코딩만으로 원래 띄어쓰기가 돌아옵니다(디토큰화 불필요).
    그래서 sacreBLEU에 모델 출력을 그대로(디토큰화된, 대소문자 그대로) 넘길 수 있습니다.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    # 문장부호는 단어에서 떼어 따로 배웁니다 ("bushes." 와 "bushes" 가 같은 조각을 쓰도록).
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def tokenizer_from_json(text: str):
    from tokenizers import Tokenizer
    return Tokenizer.from_str(text)


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text).ids


def decode(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode([i for i in ids if i >= len(SPECIALS)])


def encode_pairs(tokenizer, pairs, max_len: int) -> tuple[list[list[int]], list[list[int]]]:
    """원문은 [토큰..., <eos>], 번역문은 [<bos>, 토큰..., <eos>]. 너무 긴 문장은 max_len에서 자릅니다."""
    src = [enc.ids[:max_len - 1] + [EOS] for enc in tokenizer.encode_batch([d for d, _ in pairs])]
    tgt = [[BOS] + enc.ids[:max_len - 2] + [EOS] for enc in tokenizer.encode_batch([e for _, e in pairs])]
    return src, tgt


def pad_batch(seqs: list[list[int]]) -> torch.Tensor:
    out = torch.full((len(seqs), max(map(len, seqs))), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s)
    return out


class TokenBatches:
    """토큰 수 기준 배치: 길이가 비슷한 문장끼리 묶어(길이 버킷) 패딩 낭비를 줄이고,
    배치마다 '문장 수 × 최대 길이' 가 max_tokens 이하가 되게 합니다. 에폭마다 순서를 새로 섞습니다.

    배치는 ((원문, 디코더 입력), 정답) — 정답은 디코더 입력을 한 칸 민 것(teacher forcing).
    """

    def __init__(self, src, tgt, max_tokens: int, shuffle: bool, seed: int = 0):
        self.src, self.tgt, self.max_tokens, self.shuffle = src, tgt, max_tokens, shuffle
        self.rng = random.Random(seed)
        self.batches = self._make_batches()

    def _make_batches(self) -> list[list[int]]:
        idx = list(range(len(self.src)))
        if self.shuffle:
            self.rng.shuffle(idx)  # 같은 길이끼리의 순서가 에폭마다 달라지도록 먼저 섞고
        idx.sort(key=lambda i: (len(self.src[i]), len(self.tgt[i])))  # 안정 정렬로 길이별로 모읍니다
        batches, cur, longest = [], [], 0
        for i in idx:
            width = max(longest, len(self.src[i]), len(self.tgt[i]) - 1)
            if cur and width * (len(cur) + 1) > self.max_tokens:
                batches.append(cur)
                cur, width = [], max(len(self.src[i]), len(self.tgt[i]) - 1)
            cur.append(i)
            longest = width
        if cur:
            batches.append(cur)
        if self.shuffle:
            self.rng.shuffle(batches)
        return batches

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        batches, self.batches = self.batches, (self._make_batches() if self.shuffle else self.batches)
        for b in batches:
            tgt = pad_batch([self.tgt[i] for i in b])
            yield (pad_batch([self.src[i] for i in b]), tgt[:, :-1]), tgt[:, 1:]


# ---------------------------------------------------------------------------
# 3. 어텐션을 직접: 스케일드 닷-프로덕트, 마스크, 멀티 헤드
# ---------------------------------------------------------------------------
def scaled_dot_product_attention(q, k, v, mask=None, dropout_p: float = 0.0):
    """softmax(Q Kᵀ / √d_k) V.  √d_k로 나누는 이유: 내적의 분산이 d_k에 비례해 커지면
    softmax가 한 칸에 몰려(포화) 그래디언트가 사라지기 때문입니다.

    mask: True = 볼 수 있음 (F.scaled_dot_product_attention의 불리언 마스크와 같은 약속).
    돌려주는 값: (출력, 어텐션 가중치)
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # 가린 칸은 softmax 뒤 정확히 0
    weights = torch.softmax(scores, dim=-1)
    if dropout_p > 0:
        weights = F.dropout(weights, dropout_p)
    return weights @ v, weights


def padding_mask(tokens: torch.Tensor) -> torch.Tensor:
    """(B, S) → (B, 1, 1, S): 패딩 토큰은 키로 보지 않습니다 (모든 헤드·모든 질의에 공통)."""
    return (tokens != PAD)[:, None, None, :]


def causal_mask(size: int, device=None) -> torch.Tensor:
    """(T, T) 아래 삼각형: i번째 위치는 0..i만 봅니다. 학습 때 정답 문장 전체를 한 번에 넣어도
    미래 단어를 엿보지 못하게 하는 것이 인과(look-ahead) 마스크입니다."""
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


class MultiHeadAttention(nn.Module):
    """d_model을 n_heads개의 작은 공간(d_k = d_model / n_heads)으로 나눠 어텐션을 따로 계산하고 이어 붙입니다.
    헤드마다 다른 관계(어순, 관사-명사, 정렬)를 볼 수 있습니다.

    fused=True면 핵심 계산에 PyTorch의 F.scaled_dot_product_attention을 씁니다. 테스트로 위의 손 구현과
    값·그래디언트가 1e-5 안에서 같음을 확인했고, CPU에서 메모리를 덜 쓰고 조금 더 빠르기 때문입니다.
    가중치를 그림으로 그릴 때(need_weights=True)는 손 구현으로 계산합니다.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, fused: bool = True):
        super().__init__()
        if d_model % n_heads:
            raise CourseError(f"d_model({d_model})은 헤드 수({n_heads})로 나누어떨어져야 합니다.")
        self.n_heads, self.d_k, self.dropout, self.fused = n_heads, d_model // n_heads, dropout, fused
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.last_weights = None  # 그림용: need_weights=True일 때의 (B, H, T_q, T_k)

    def _split_heads(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.d_k).transpose(1, 2)  # (B, H, T, d_k)

    def forward(self, query, key, value, mask=None, need_weights: bool = False):
        q, k, v = self._split_heads(self.q_proj(query)), self._split_heads(self.k_proj(key)), \
            self._split_heads(self.v_proj(value))
        p = self.dropout if self.training else 0.0
        if self.fused and not need_weights:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:
            out, weights = scaled_dot_product_attention(q, k, v, mask, p)
            self.last_weights = weights.detach() if need_weights else None
        b, _, t, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, t, self.n_heads * self.d_k))


# ---------------------------------------------------------------------------
# 4. 위치 인코딩: 어텐션은 순서를 모르므로 위치 정보를 더해 줍니다
# ---------------------------------------------------------------------------
def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)),  PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).

    주파수 ω_i마다 (sin, cos) 한 쌍이므로, 위치를 k만큼 옮기는 것은 각 쌍을 각도 ω_i·k만큼 돌리는
    회전 행렬(위치 pos와 무관)을 곱하는 것과 같습니다: PE[pos+k] = R(k) · PE[pos].
    그래서 상대 위치는 선형 변환으로 읽어 낼 수 있고, 내적 PE[a]·PE[b]는 거리 |a-b|에만 달려 있습니다.
    """
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe


def shift_rotation(d_model: int, k: int) -> torch.Tensor:
    """위치를 k칸 옮기는 선형 변환 R(k): (sin, cos) 쌍마다 각도 ω_i·k 의 2×2 회전. 행 벡터 기준 PE[pos+k] = PE[pos] @ R(k)."""
    angle = k * torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.block_diag(*[torch.stack([torch.stack([ci, -si]), torch.stack([si, ci])]) for ci, si in zip(c, s)])


def explain_positional_encoding(d_model: int, k: int = 3) -> float:
    """상대 위치가 선형이라는 것을 숫자로 보여 줍니다. 돌려주는 값: PE[pos+k]와 PE[pos] @ R(k)의 최대 오차."""
    pe = sinusoidal_encoding(60, d_model)
    error = (pe[:-k] @ shift_rotation(d_model, k) - pe[k:]).abs().max().item()
    print(f"  PE[pos+{k}] = PE[pos] @ R({k}) (R은 pos와 무관한 회전 행렬): 위치 0~{59 - k} 에서 최대 오차 {error:.1e}\n"
          f"  → 모델은 '{k}칸 뒤' 같은 상대 위치를 선형 변환 하나로 배울 수 있습니다.\n"
          f"  내적은 거리에만 달려 있음: PE[10]·PE[14] = {pe[10] @ pe[14]:.3f}, PE[40]·PE[44] = {pe[40] @ pe[44]:.3f}, "
          f"PE[10]·PE[30] = {pe[10] @ pe[30]:.3f}")
    return error


class PositionalEncoding(nn.Module):
    """고정된 사인 인코딩(기본) 또는 --learned-pos 의 학습되는 위치 임베딩."""

    def __init__(self, d_model: int, max_len: int, learned: bool = False):
        super().__init__()
        self.learned = learned
        if learned:
            self.table = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        else:
            self.register_buffer("table", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, x):  # x: (B, T, d)
        if x.size(1) > self.table.size(0):
            raise CourseError(f"문장이 너무 깁니다 ({x.size(1)} 토큰, 최대 {self.table.size(0)}).")
        return x + self.table[:x.size(1)]


# ---------------------------------------------------------------------------
# 5. 인코더-디코더 Transformer 조립 (프리-노름)
# ---------------------------------------------------------------------------
@dataclass
class ModelConfig:
    vocab_size: int
    d_model: int = 256
    n_heads: int = 4
    n_layers: int = 3
    d_ff: int = 1024
    dropout: float = 0.1
    max_len: int = 256
    learned_pos: bool = False
    post_norm: bool = False


class FeedForward(nn.Sequential):
    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))


class Sublayer(nn.Module):
    """잔차 연결 + 층 정규화(LayerNorm) 하나.

    프리-노름(기본): x + f(LN(x)) — 잔차 경로가 정규화를 거치지 않아 그래디언트가 곧게 흐르므로,
      워밍업이 짧거나 학습률이 커도 안정적입니다 (마지막에 LN 한 번 더).
    포스트-노름(--post-norm, 원 논문): LN(x + f(x)) — 잘 맞추면 조금 더 좋기도 하지만 워밍업에 민감합니다.
    """

    def __init__(self, d_model: int, dropout: float, post_norm: bool):
        super().__init__()
        self.norm, self.drop, self.post_norm = nn.LayerNorm(d_model), nn.Dropout(dropout), post_norm

    def forward(self, x, fn):
        if self.post_norm:
            return self.norm(x + self.drop(fn(x)))
        return x + self.drop(fn(self.norm(x)))


class EncoderLayer(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        self.self_attn = MultiHeadAttention(c.d_model, c.n_heads)
        self.ff = FeedForward(c.d_model, c.d_ff, c.dropout)
        self.sub1, self.sub2 = Sublayer(c.d_model, c.dropout, c.post_norm), Sublayer(c.d_model, c.dropout, c.post_norm)

    def forward(self, x, src_mask, need_weights=False):
        x = self.sub1(x, lambda h: self.self_attn(h, h, h, src_mask, need_weights))
        return self.sub2(x, self.ff)


class DecoderLayer(nn.Module):
    """셀프 어텐션(인과 마스크) → 교차 어텐션(질의 = 디코더, 키·값 = 인코더 출력) → 피드포워드."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.self_attn = MultiHeadAttention(c.d_model, c.n_heads)
        self.cross_attn = MultiHeadAttention(c.d_model, c.n_heads)
        self.ff = FeedForward(c.d_model, c.d_ff, c.dropout)
        self.subs = nn.ModuleList(Sublayer(c.d_model, c.dropout, c.post_norm) for _ in range(3))

    def forward(self, y, memory, tgt_mask, src_mask, need_weights=False):
        y = self.subs[0](y, lambda h: self.self_attn(h, h, h, tgt_mask, need_weights))
        y = self.subs[1](y, lambda h: self.cross_attn(h, memory, memory, src_mask, need_weights))
        return self.subs[2](y, self.ff)


class Seq2SeqTransformer(nn.Module):
    """인코더 N층 + 디코더 N층. 원문·번역문이 어휘 사전 하나를 공유하므로 임베딩 하나를
    인코더 입력·디코더 입력·출력층(가중치 공유, weight tying)이 함께 씁니다 — 파라미터가 줄고 일반화가 좋아집니다."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.config = c
        self.embed = nn.Embedding(c.vocab_size, c.d_model, padding_idx=PAD)
        nn.init.normal_(self.embed.weight, std=c.d_model ** -0.5)
        self.pos = PositionalEncoding(c.d_model, c.max_len, c.learned_pos)
        self.drop = nn.Dropout(c.dropout)
        self.encoder = nn.ModuleList(EncoderLayer(c) for _ in range(c.n_layers))
        self.decoder = nn.ModuleList(DecoderLayer(c) for _ in range(c.n_layers))
        # 프리-노름은 마지막 층의 출력이 정규화되지 않았으므로 한 번 더 정규화합니다.
        self.enc_norm = nn.Identity() if c.post_norm else nn.LayerNorm(c.d_model)
        self.dec_norm = nn.Identity() if c.post_norm else nn.LayerNorm(c.d_model)

    def _embed(self, tokens):
        # √d를 곱해 임베딩(표준편차 d^-0.5)과 위치 인코딩(크기 1 정도)의 크기를 맞춥니다.
        return self.drop(self.pos(self.embed(tokens) * math.sqrt(self.config.d_model)))

    def encode(self, src, need_weights=False):
        src_mask = padding_mask(src)
        x = self._embed(src)
        for layer in self.encoder:
            x = layer(x, src_mask, need_weights)
        return self.enc_norm(x), src_mask

    def decode(self, tgt_in, memory, src_mask, need_weights=False):
        # 패딩은 항상 문장 오른쪽 끝에 있으므로 인과 마스크만으로 충분합니다(실제 토큰은 패딩을 보지 않음).
        tgt_mask = causal_mask(tgt_in.size(1), tgt_in.device)
        y = self._embed(tgt_in)
        for layer in self.decoder:
            y = layer(y, memory, tgt_mask, src_mask, need_weights)
        return self.dec_norm(y)

    def logits(self, hidden):
        return hidden @ self.embed.weight.t()

    def forward(self, src, tgt_in):
        memory, src_mask = self.encode(src)
        return self.logits(self.decode(tgt_in, memory, src_mask))


def translation_loss(label_smoothing: float):
    """레이블 스무딩: 정답에 1 대신 1-ε, 나머지 어휘에 ε를 나눠 줘 모델이 지나치게 확신하지 않게 합니다.
    패딩 위치는 손실에서 뺍니다."""
    def loss_fn(logits, targets):
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1),
                               ignore_index=PAD, label_smoothing=label_smoothing)
    return loss_fn


def warmup_cosine(total_steps: int, warmup_steps: int, final_fraction: float = 0.02):
    """처음 warmup_steps 동안 0에서 최대 학습률까지 선형으로 올리고(초기의 큰 그래디언트에 Adam 통계가
    적응할 시간을 줌), 그 뒤 코사인으로 최대값의 final_fraction까지 내립니다."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * t))
    return factor


# ---------------------------------------------------------------------------
# 6. 디코딩: 탐욕 디코딩과 배치 빔 탐색
# ---------------------------------------------------------------------------
def _next_log_probs(model, ys, memory, src_mask):
    """지금까지의 번역(ys)으로 다음 토큰의 로그 확률. 문장이 짧아 캐시 없이 매번 전체를 다시 계산합니다."""
    return torch.log_softmax(model.logits(model.decode(ys, memory, src_mask)[:, -1]).float(), dim=-1)


def _max_steps(model, src) -> int:
    """번역 길이 상한: 원문의 1.5배 + 10, 단 위치 인코딩 표(max_len)를 넘지 않게 (긴 입력에서도 오류 없이 끝남)."""
    return min(int((src != PAD).sum(1).max()) * 3 // 2 + 10, model.config.max_len)


@torch.no_grad()
def greedy_decode(model, src) -> list[list[int]]:
    """매 단계 가장 확률이 높은 토큰 하나만 고릅니다. 문장 묶음을 한꺼번에 처리합니다."""
    model.eval()
    memory, src_mask = model.encode(src)
    ys = torch.full((src.size(0), 1), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    for _ in range(_max_steps(model, src)):
        nxt = _next_log_probs(model, ys, memory, src_mask).argmax(-1)
        nxt = nxt.masked_fill(done, PAD)
        ys = torch.cat([ys, nxt[:, None]], dim=1)
        done |= nxt == EOS
        if done.all():
            break
    return [_strip(row) for row in ys[:, 1:].tolist()]


def _strip(ids: list[int]) -> list[int]:
    return ids[:ids.index(EOS)] if EOS in ids else [i for i in ids if i != PAD]


@torch.no_grad()
def beam_search(model, src, beam: int = 5, alpha: float = 0.6) -> list[list[int]]:
    """문장마다 점수(로그 확률 합)가 높은 후보 beam개를 유지하며 넓힙니다. 배치 B개 × 빔 K개를 한 번에 계산합니다.

    끝난 후보(<eos>)는 점수를 그대로 둔 채 <pad>로만 늘어나고, 마지막에 길이 벌점
    ((5 + 길이) / 6)^alpha 로 나눈 점수로 고릅니다 (짧은 번역만 고르는 편향을 줄임). beam=1이면 탐욕 디코딩과 같습니다.
    """
    model.eval()
    b, k = src.size(0), beam
    memory, src_mask = model.encode(src)
    memory, src_mask = memory.repeat_interleave(k, 0), src_mask.repeat_interleave(k, 0)
    ys = torch.full((b * k, 1), BOS, dtype=torch.long, device=src.device)
    scores = torch.full((b, k), float("-inf"), device=src.device)
    scores[:, 0] = 0.0  # 처음에는 후보가 하나뿐 (같은 후보가 K번 뽑히지 않게)
    done = torch.zeros(b * k, dtype=torch.bool, device=src.device)
    lengths = torch.zeros(b * k, device=src.device)
    for _ in range(_max_steps(model, src)):
        logp = _next_log_probs(model, ys, memory, src_mask)
        logp[done] = float("-inf")
        logp[done, PAD] = 0.0
        vocab = logp.size(-1)
        top_scores, top_idx = (scores.reshape(-1, 1) + logp).view(b, k * vocab).topk(k, dim=1)
        parent = (torch.arange(b, device=src.device)[:, None] * k + top_idx // vocab).reshape(-1)
        token = (top_idx % vocab).reshape(-1)
        lengths = lengths[parent] + (~done[parent]).float()
        done = done[parent] | (token == EOS)
        ys = torch.cat([ys[parent], token[:, None]], dim=1)
        scores = top_scores
        if done.all():
            break
    penalty = ((5.0 + lengths) / 6.0) ** alpha
    best = (scores.reshape(-1) / penalty).view(b, k).argmax(1) + torch.arange(b, device=src.device) * k
    return [_strip(row) for row in ys[best, 1:].tolist()]


@torch.no_grad()
def translate_sentences(model, tokenizer, sentences: list[str], device, beam: int = 1,
                        batch_size: int = 100) -> list[str]:
    """긴 문장부터 묶어(패딩 최소) 번역하고 원래 순서로 돌려놓습니다."""
    max_src = model.config.max_len - 1
    ids = [encode(tokenizer, s)[:max_src - 1] + [EOS] for s in sentences]
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out = [""] * len(ids)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        src = pad_batch([ids[i] for i in chunk]).to(device)
        hyps = greedy_decode(model, src) if beam == 1 else beam_search(model, src, beam)
        for i, h in zip(chunk, hyps):
            out[i] = decode(tokenizer, h)
    return out


def corpus_bleu(hypotheses: list[str], references: list[str]):
    """sacreBLEU: 디토큰화된, 대소문자를 구분하는 출력 그대로 (표준 13a 토큰화). 점수와 서명을 돌려줍니다."""
    from sacrebleu.metrics import BLEU

    metric = BLEU()
    score = metric.corpus_score(hypotheses, [references])
    return score, str(metric.get_signature())


# ---------------------------------------------------------------------------
# 7. 학습: 에폭마다 검증 손실 + 검증 BLEU, 체크포인트, 마지막 에폭들의 가중치 평균
# ---------------------------------------------------------------------------
def average_state_dicts(states: list[dict]) -> dict:
    """마지막 몇 에폭의 가중치를 평균합니다: 학습률이 작아진 끝부분의 흔들림이 상쇄되어 보통 BLEU가 오릅니다."""
    return {key: torch.stack([s[key].float() for s in states]).mean(0).to(states[0][key].dtype)
            for key in states[0]}


def train_model(model, tokenizer, data, run, args, config: dict) -> tuple[dict, dict]:
    """공용 train_one_epoch(배치 = (입력, 정답))로 한 에폭씩 학습하고, 번역 특유의 검증 BLEU와
    가중치 스냅숏을 위해 에폭 반복만 여기서 씁니다."""
    device = run.device
    train_batches, val_batches, val_pairs = data
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.dim() < 2 else decay).append(p)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    total = args.epochs * len(train_batches)
    schedule = warmup_cosine(total, max(1, int(args.warmup * total)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    loss_fn = translation_loss(args.label_smoothing)
    history = {"train_loss": [], "val_loss": [], "val_bleu": [], "epoch_seconds": [], "elapsed": []}
    snapshots, start = [], 0
    if args.resume and run.checkpoint_path.exists():
        state = load_checkpoint(run.checkpoint_path, map_location=device)
        if state.get("config") != config or state.get("tokenizer") != tokenizer.to_str():
            raise CourseError("저장된 체크포인트와 모델 설정(또는 어휘 사전)이 다릅니다. 같은 옵션으로 --resume 하세요.")
        model.load_state_dict(state["last_model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, snapshots, start = state["history"], state["snapshots"], state["epoch"]
        run.previous_seconds, run.started = state["elapsed"], time.perf_counter()
        print(f"[이어서 학습] {start} 에폭 다음부터 계속합니다.")
    val_src, val_ref = [d for d, _ in val_pairs], [e for _, e in val_pairs]
    for epoch in range(start, args.epochs):
        t0 = time.perf_counter()
        tr = train_one_epoch(model, train_batches, loss_fn, optimizer, device, scheduler=scheduler,
                             clip_grad_norm=1.0, desc=f"에폭 {epoch + 1}/{args.epochs}")
        va = evaluate(model, val_batches, loss_fn, device)
        bleu, _ = corpus_bleu(translate_sentences(model, tokenizer, val_src, device), val_ref)
        for key, value in [("train_loss", tr["loss"]), ("val_loss", va["loss"]), ("val_bleu", bleu.score),
                           ("epoch_seconds", time.perf_counter() - t0), ("elapsed", run.elapsed())]:
            history[key].append(value)
        print(f"  에폭 {epoch + 1:>2}/{args.epochs}  학습 손실 {tr['loss']:.3f}  검증 손실 {va['loss']:.3f}  "
              f"검증 BLEU(탐욕) {bleu.score:5.2f}  ({history['epoch_seconds'][-1]:.0f}초, 누적 {run.elapsed() / 60:.1f}분)")
        snapshots = (snapshots + [{k: v.detach().clone() for k, v in model.state_dict().items()}])[-args.average:]
        save_checkpoint({"model": average_state_dicts(snapshots), "last_model": model.state_dict(),
                         "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                         "snapshots": snapshots, "epoch": epoch + 1, "history": history,
                         "elapsed": run.elapsed(), "config": config, "tokenizer": tokenizer.to_str()},
                        run.checkpoint_path)
    history["lr"] = [args.lr * schedule(s) for s in range(total)]
    return history, average_state_dicts(snapshots) if snapshots else model.state_dict()


# ---------------------------------------------------------------------------
# 8. 그림: 위치 인코딩, 학습률, 학습 곡선, 어텐션 지도
# ---------------------------------------------------------------------------
def plot_positional_encoding(path: Path, d_model: int) -> Path:
    pe = sinusoidal_encoding(100, d_model)
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


def plot_lr_schedule(lr: list[float], path: Path) -> Path:
    fig, axes = new_figure(size=(6, 3.5))
    axes[0, 0].plot(np.arange(1, len(lr) + 1), lr)
    axes[0, 0].set(title="학습률: 워밍업 후 코사인 감소", xlabel="갱신 단계", ylabel="학습률")
    axes[0, 0].grid(alpha=0.3)
    return save_figure(fig, path)


def plot_history(history: dict, path: Path) -> Path:
    fig, axes = new_figure(ncols=2, size=(5.5, 4))
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    axes[0, 0].plot(epochs, history["train_loss"], "-o", ms=3, label="학습")
    axes[0, 0].plot(epochs, history["val_loss"], "--s", ms=3, label="검증")
    axes[0, 0].set(title="손실 (레이블 스무딩 포함)", xlabel="에폭", ylabel="손실")
    axes[0, 0].legend()
    minutes = np.array(history["elapsed"]) / 60
    axes[0, 1].plot(minutes, history["val_bleu"], "-o", ms=3, color="tab:green")
    for x, y, e in zip(minutes, history["val_bleu"], epochs):
        axes[0, 1].annotate(str(e), (x, y), fontsize=7, textcoords="offset points", xytext=(0, 4))
    axes[0, 1].set(title="검증 BLEU (탐욕 디코딩, 점 옆 숫자 = 에폭)", xlabel="경과 시간 (분)", ylabel="BLEU")
    for ax in axes[0]:
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


@torch.no_grad()
def attention_maps(model, tokenizer, sentence: str, device):
    """한 문장을 탐욕 번역한 뒤, 손 구현 어텐션으로 한 번 더 계산해 가중치를 꺼냅니다 (헤드 평균)."""
    model.eval()
    src_ids = encode(tokenizer, sentence)[:model.config.max_len - 2] + [EOS]
    src = torch.tensor([src_ids], device=device)
    out_ids = greedy_decode(model, src)[0]
    tgt_in = torch.tensor([[BOS] + out_ids], device=device)
    memory, src_mask = model.encode(src, need_weights=True)
    model.decode(tgt_in, memory, src_mask, need_weights=True)
    enc = model.encoder[-1].self_attn.last_weights[0].mean(0).cpu()
    cross = model.decoder[-1].cross_attn.last_weights[0].mean(0).cpu()
    src_tokens = [tokenizer.id_to_token(i) for i in src_ids]
    out_tokens = [tokenizer.id_to_token(i) for i in out_ids + [EOS]]
    return enc, cross, src_tokens, out_tokens


def plot_attention(enc, cross, src_tokens, out_tokens, path: Path) -> Path:
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


# ---------------------------------------------------------------------------
# 9. 직접 쓴 문장 번역 (--translate / --translate-file)
# ---------------------------------------------------------------------------
def load_translator(out_dir: Path, device):
    state = load_checkpoint(out_dir / "checkpoint.pt", map_location=device)
    try:
        tokenizer = tokenizer_from_json(state["tokenizer"])
        model = Seq2SeqTransformer(ModelConfig(**state["config"])).to(device)
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, RuntimeError, ValueError) as err:
        raise CourseError(f"체크포인트가 이 레슨의 번역 모델이 아닙니다: {out_dir / 'checkpoint.pt'} "
                          f"({type(err).__name__})") from None
    return model, tokenizer


def check_sentence(tokenizer, sentence: str) -> str:
    """빈 문장·어휘 사전에 없는 글자를 번역 전에 알려 줍니다. 돌려주는 값: 정규화한 문장."""
    text = normalize(sentence)
    if not text:
        raise CourseError("번역할 문장이 비어 있습니다. 예: --translate \"Ein Mann fährt Fahrrad.\"")
    enc = tokenizer.encode(text)
    unknown = sorted({text[a:b] for tid, (a, b) in zip(enc.ids, enc.offsets) if tid == UNK})
    if unknown and all(tid == UNK or token == "▁" for tid, token in zip(enc.ids, enc.tokens)):
        raise CourseError(f"문장의 글자를 하나도 알아볼 수 없습니다: {' '.join(unknown)}\n"
                          "       이 모델은 Multi30k의 독일어 문장으로만 학습했습니다. 독일어 문장을 넣어 주세요.")
    if unknown:
        print(f"[알림] 어휘 사전에 없는 글자는 <unk>로 바꿔 번역합니다: {' '.join(unknown)}", file=sys.stderr)
    return text


def read_sentence_file(path: str) -> list[str]:
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


def translate_mode(args) -> None:
    """학습 없이 저장된 모델로 번역합니다. 번역만 표준 출력으로, 안내는 표준 오류로 보냅니다."""
    set_seed(args.seed)
    device = choose_device(args.device)
    out_dir = Path(args.out_dir) / (f"{LESSON}-quick" if args.quick else LESSON)
    if args.translate is not None:
        if not normalize(args.translate):
            raise CourseError("번역할 문장이 비어 있습니다. 예: --translate \"Ein Mann fährt Fahrrad.\"")
        lines = [args.translate]
    else:
        lines = read_sentence_file(args.translate_file)
    model, tokenizer = load_translator(out_dir, device)
    texts = [check_sentence(tokenizer, line) if normalize(line) else "" for line in lines]
    kept = [t for t in texts if t]
    outputs = iter(translate_sentences(model, tokenizer, kept, device, beam=args.beam))
    print(f"[번역] {out_dir / 'checkpoint.pt'} | {'탐욕 디코딩' if args.beam == 1 else f'빔 탐색 (빔 {args.beam})'}",
          file=sys.stderr)
    for t in texts:
        print(next(outputs) if t else "")


# ---------------------------------------------------------------------------
# 10. 실행
# ---------------------------------------------------------------------------
def fraction(text: str) -> float:
    """드롭아웃·레이블 스무딩·가중치 감쇠·워밍업 비율: 0 이상 1 미만 (범위 밖이면 학습 도중이 아니라 시작할 때 한국어로 알림)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"숫자가 필요합니다 (받은 값: {text!r})") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"0 이상 1 미만이어야 합니다 (받은 값: {text!r})")
    return value


def build_parser():
    p = make_parser(f"{LESSON}.py", "Transformer 번역 (Multi30k 독일어 → 영어)", epochs=10, batch_size=2500, lr=1e-3)
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
    p.add_argument("--translate", metavar="문장", help="저장된 모델로 독일어 문장 하나를 번역")
    p.add_argument("--translate-file", metavar="파일", help="한 줄에 한 문장씩 번역해 표준 출력으로")
    return p


def print_examples(pairs, hyps, n: int = 6) -> list[dict]:
    rows = [{"source": d, "reference": e, "model": h} for (d, e), h in list(zip(pairs, hyps))[:n]]
    print("\n번역 예시 (원문 / 참조 번역 / 모델 번역)")
    for r in rows:
        print(f"  원문  {r['source']}\n  참조  {r['reference']}\n  모델  {r['model']}\n")
    return rows


def parse_args(argv):
    """옵션끼리의 조건도 학습을 시작하기 전에 확인합니다 (한참 뒤 트레이스백으로 멈추지 않게)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.d_model % args.heads:
        parser.error(f"--d-model({args.d_model})은 --heads({args.heads})로 나누어떨어져야 합니다.")
    if args.d_model % 2 and not args.learned_pos:
        parser.error(f"사인 위치 인코딩은 (sin, cos) 쌍을 쓰므로 --d-model 이 짝수여야 합니다 (받은 값: {args.d_model}).")
    return args


@lesson_main
def main(argv=None):
    args = parse_args(argv)
    if args.translate is not None or args.translate_file is not None:
        return translate_mode(args)
    run = start_run(LESSON, args, argv)
    with cpu_threads(args.threads):
        return train_and_evaluate(args, run)


def train_and_evaluate(args, run) -> int:
    """레슨의 본 흐름: 데이터 → 토큰화 → 위치 인코딩 → 모델 → 학습 → 테스트 BLEU → 어텐션 지도 → 기록."""

    # 1) 데이터
    corpus = load_corpus(args, args.quick)
    print(f"\n[1] 데이터: {corpus.name} | 학습 {len(corpus.train):,} / 검증 {len(corpus.val):,} / "
          f"테스트 {len(corpus.test):,} 문장 쌍")

    # 2) 토큰화: 학습 문장만으로 (검증·테스트 문장을 보면 데이터 누수)
    vocab_size = min(args.vocab_size, 1000) if args.quick or corpus.source == "fallback" else args.vocab_size
    tokenizer = train_tokenizer([s for pair in corpus.train for s in pair], vocab_size)
    print(f"\n[2] 공유 BPE 어휘 사전: {tokenizer.get_vocab_size():,}개 (특수 토큰 {' '.join(SPECIALS)})")
    for text in [t for pair in corpus.train[:2] for t in pair]:
        print(f"  {text}\n   → {' '.join(tokenizer.encode(text).tokens)}")
    max_len = 128
    train_src, train_tgt = encode_pairs(tokenizer, corpus.train, max_len)
    val_src, val_tgt = encode_pairs(tokenizer, corpus.val, max_len)

    # 3) 위치 인코딩 그림
    small = args.quick or corpus.source == "fallback"
    config = ModelConfig(vocab_size=tokenizer.get_vocab_size(), d_model=64 if small else args.d_model,
                         n_heads=4 if small else args.heads, n_layers=1 if small else args.layers,
                         d_ff=128 if small else args.d_ff, dropout=args.dropout, max_len=max_len + 2,
                         learned_pos=args.learned_pos, post_norm=args.post_norm)
    plot_positional_encoding(run.path("positional_encoding.png"), config.d_model)
    print(f"\n[3] 위치 인코딩 그림: {run.path('positional_encoding.png')}")
    explain_positional_encoding(config.d_model)

    # 4) 모델
    model = Seq2SeqTransformer(config).to(run.device)
    print(f"\n[4] 인코더-디코더 Transformer ({'포스트' if config.post_norm else '프리'}-노름): "
          f"d_model {config.d_model}, 헤드 {config.n_heads}, 층 {config.n_layers}+{config.n_layers}, "
          f"파라미터 {count_parameters(model):,}개 (임베딩·출력층 공유)")

    # 5) 학습
    # --quick·대체 데이터는 작은 모델이라 학습률을 3배로. 대체 데이터는 문장이 수백 개뿐이라
    # 작은 배치로 짧은 에폭을 여러 번 돌아야 규칙을 배웁니다.
    fallback = corpus.source == "fallback"
    if small:
        args.lr *= 3
    if args.quick:
        args.epochs = 12 if fallback else 1
    batch_tokens = min(args.batch_size, 300 if fallback else 1000) if small else args.batch_size
    train_batches = TokenBatches(train_src, train_tgt, batch_tokens, shuffle=True, seed=args.seed)
    val_batches = TokenBatches(val_src, val_tgt, batch_tokens, shuffle=False)
    print(f"\n[5] 학습: {args.epochs} 에폭 × {len(train_batches)} 배치 (배치당 약 {batch_tokens} 토큰)")
    history, averaged = train_model(model, tokenizer, (train_batches, val_batches, corpus.val), run, args,
                                    vars(config))
    plot_history(history, run.path("learning_curves.png"))
    plot_lr_schedule(history["lr"], run.path("lr_schedule.png"))

    # 6) 테스트: 마지막 에폭들의 평균 가중치로 탐욕 / 빔 탐색
    model.load_state_dict(averaged)
    n_avg = min(args.average, len(history["train_loss"]))
    src, refs = [d for d, _ in corpus.test], [e for _, e in corpus.test]
    t0 = time.perf_counter()
    greedy_hyps = translate_sentences(model, tokenizer, src, run.device, beam=1)
    greedy_bleu, _ = corpus_bleu(greedy_hyps, refs)
    t1 = time.perf_counter()
    beam_hyps = translate_sentences(model, tokenizer, src, run.device, beam=args.beam)
    beam_bleu, signature = corpus_bleu(beam_hyps, refs)
    t2 = time.perf_counter()
    print(f"\n[6] test_2016_flickr sacreBLEU (마지막 {n_avg}에폭 평균 가중치)\n"
          f"  탐욕 디코딩      {greedy_bleu.score:5.2f}  ({t1 - t0:.0f}초)\n"
          f"  빔 탐색 (빔 {args.beam})  {beam_bleu.score:5.2f}  ({t2 - t1:.0f}초)  {beam_bleu}\n"
          f"  서명: {signature}")
    examples = print_examples(corpus.test, beam_hyps)

    # 7) 어텐션 지도
    enc, cross, src_tokens, out_tokens = attention_maps(model, tokenizer, corpus.test[0][0], run.device)
    plot_attention(enc, cross, src_tokens, out_tokens, run.path("attention.png"))
    print(f"[7] 어텐션 지도: {run.path('attention.png')}")

    # 8) 기록 (체크포인트의 "model"은 이미 평균 가중치: --translate가 그것을 씁니다)
    run.write_metrics(dataset=corpus.name, data_source=corpus.source, epochs=len(history["train_loss"]),
                      n_train=len(corpus.train), n_test=len(corpus.test), metrics={
                          "bleu": round(beam_bleu.score, 2), "bleu_greedy": round(greedy_bleu.score, 2),
                          "beam": args.beam, "bleu_signature": signature, "averaged_epochs": n_avg,
                          "val_bleu_per_epoch": [round(b, 2) for b in history["val_bleu"]],
                          "val_loss_per_epoch": [round(v, 4) for v in history["val_loss"]],
                          "uniform_loss": round(math.log(tokenizer.get_vocab_size()), 4),
                          "epoch_seconds": [round(s, 1) for s in history["epoch_seconds"]],
                          "vocab_size": tokenizer.get_vocab_size(), "parameters": count_parameters(model),
                          "examples": examples[:3]})
    return 0


if __name__ == "__main__":
    main()
