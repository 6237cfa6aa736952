# %% [markdown]
# # 08. Transformer 번역: 독일어 → 영어 (Multi30k)
#
# **학습 목표**
# - 어텐션(attention)을 직접 구현합니다: 스케일드 닷-프로덕트 어텐션, 멀티 헤드 어텐션(multi-head attention),
#   패딩 마스크와 미래를 가리는 인과(causal, look-ahead) 마스크.
# - 사인/코사인 위치 인코딩(positional encoding)을 만들고, 왜 상대 위치가 선형 변환으로 표현되는지 봅니다.
# - BPE 합치기를 작은 말뭉치에서 손으로 돌려 보고, 잔차 연결(residual connection)과 층 정규화(layer normalization)를
#   직접 만듭니다.
# - 이 부품들로 인코더-디코더(encoder-decoder) Transformer를 조립해 번역을 학습합니다
#   (프리-노름, 가중치 공유, 레이블 스무딩, 워밍업 + 코사인 감소 학습률, 그래디언트 클리핑, 체크포인트 평균).
# - 탐욕(greedy) 디코딩과 빔 탐색(beam search)으로 번역하고, BLEU를 손으로 써서 sacreBLEU와 같은 값인지 확인합니다.
#
# **데이터셋**: Multi30k task 1 (Flickr30k 사진 설명의 독일어-영어 쌍): 학습 29,000 / 검증 1,014 /
# 테스트 test_2016_flickr 1,000. `DL_DATA_DIR/multi30k/{train,val,test_2016_flickr}.{de,en}[.gz]` 를 읽고,
# 없으면 공식 저장소(github.com/multi30k/dataset)에서 sha256을 확인하며 내려받습니다 (`utils/datasets/multi30k.py`).
# 그래도 없으면 눈에 띄는 안내와 함께 규칙으로 만든 작은 독일어-영어 문장 쌍으로 대신합니다 (결과에 `fallback`).
#
# **핵심 개념**: 토큰화(tokenization)와 공유 BPE 서브워드(subword) 어휘 사전(vocabulary), 셀프 어텐션(self-attention)·
# 교차 어텐션·멀티 헤드 어텐션, 위치 인코딩, 인코더-디코더, 잔차 연결(residual connection)과 층 정규화(layer normalization),
# 레이블 스무딩(label smoothing), 워밍업 학습률, 토큰 수 기준 배치와 길이 버킷, 빔 탐색,
# BLEU (잘라 센 n-gram 정밀도·짧은 번역 벌점, sacreBLEU와 비교)
#
# **실행 방법**
# ```
# python 08_transformer_nlp.py                       # 전체 학습
# python 08_transformer_nlp.py --quick               # 몇 초 안에 전체 흐름만 확인
# python 08_transformer_nlp.py --translate "Ein Mann fährt Fahrrad. Zwei Hunde spielen." --beam 5   # 여러 문장도 한 번에
# python 08_transformer_nlp.py --translate-file 문장들.de.txt   # 한 줄에 한 문장, 번역만 표준 출력으로
# ```
# 주요 옵션: `--epochs --batch-size`(배치당 토큰 수) `--lr --vocab-size --d-model --layers --beam --threads`
# `--learned-pos`(학습되는 위치 임베딩) `--post-norm` `--average`(평균할 마지막 에폭 수) `--resume`.
# 노트북(`notebooks/08_transformer_nlp.ipynb`)에서는 아래 매개변수 셀의 `QUICK` 으로 고릅니다.
#
# **예상 시간** (측정값은 `docs/RESULTS.md`): 2코어 CPU에서 전체 실행 약 37분, `--quick` 약 10초. GPU에서는 몇 분.

# %%
import math
import random
import re
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from sacrebleu.metrics import BLEU
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from torch import nn

from utils.chapter import section, start_chapter
from utils.datasets import multi30k
from utils.model_utils import CourseError, count_parameters, cpu_threads, fit, load_checkpoint, make_parser

# %% tags=["parameters"]
QUICK = False      # True: Multi30k 앞부분 3,000쌍과 작은 모델 1에폭으로 몇 초 만에 흐름만 확인
DATA_DIR = None    # 데이터 루트 (None: 환경 변수 DL_DATA_DIR, 없으면 ./data)
OUT_DIR = "runs"   # 그림·체크포인트·metrics.json 을 둘 곳

# %% [markdown]
# 실행 설정: 스크립트로 실행하면 명령행 옵션을, 노트북에서는 위 매개변수 셀을 씁니다.
# 시드를 고정하고 장치(CPU/GPU)와 결과 폴더를 정합니다. 옵션끼리의 조건(헤드 수로 나누어떨어지는 너비 등)은
# 학습을 시작하기 전에 확인합니다.

# %%
LESSON = "08_transformer_nlp"
SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
PAD, BOS, EOS, UNK = range(4)
MAX_LEN = 128  # 학습 문장은 토큰 128개에서 자릅니다
QUICK_LIMITS = {"train": 3000, "val": 100, "test_2016_flickr": 100}  # --quick: 분할마다 앞에서 읽을 문장 쌍 수
SMALL_MODEL = {"d_model": 64, "n_heads": 4, "n_layers": 1, "d_ff": 128}  # --quick·대체 데이터의 작은 모델
EMPTY_SENTENCE = "번역할 문장이 비어 있습니다. 예: --translate \"Ein Mann fährt Fahrrad.\""


def build_parser():
    p = make_parser(f"{LESSON}.py", "Transformer 번역 (Multi30k 독일어 → 영어)", epochs=10, batch_size=2500, lr=1e-3)
    multi30k.add_options(p)  # --vocab-size --d-model --heads --layers --d-ff --dropout --warmup --beam 등
    return p


# %%
if __name__ == "__main__":
    args, run = start_chapter(LESSON, build_parser(), quick=QUICK, data_dir=DATA_DIR, out_dir=OUT_DIR,
                              actions={"translate": "translate", "translate_file": "translate"},
                              action_output_only=True)
    multi30k.check_options(args)  # 옵션끼리의 조건 (예: --d-model 이 --heads 로 나누어떨어지는지)

# %% [markdown]
# ## 1. 데이터: Multi30k 독일어-영어 문장 쌍
# 사진 한 장에 대한 독일어 설명과 그 영어 번역이 한 쌍입니다. 학습 세트로 모델과 어휘 사전을 만들고,
# 검증 세트로 에폭마다 BLEU를 재며, 테스트 세트(test_2016_flickr)는 마지막에 한 번만 씁니다.
# 찾기·내려받기·대체 데이터는 `utils/datasets/multi30k.py` 가 맡습니다.

# %%
if __name__ == "__main__":
    section("1. 데이터: Multi30k 독일어-영어 문장 쌍")
    corpus = multi30k.load(args, QUICK_LIMITS if args.quick else {"train": args.train_limit})
    fallback = corpus.source == "fallback"
    small = args.quick or fallback  # --quick·대체 데이터는 작은 어휘·작은 모델
    print(f"  {corpus.name} | 학습 {len(corpus.train):,} / 검증 {len(corpus.val):,} / "
          f"테스트 {len(corpus.test):,} 문장 쌍 (출처: {corpus.source})")
    for de, en in corpus.train[:2]:
        print(f"  {de}\n   = {en}")

# %% [markdown]
# ## 2. 토큰화: BPE 합치기를 손으로, 그리고 학습 문장만으로 만든 공유 BPE 어휘 사전
# 단어 단위 어휘 사전은 처음 보는 단어(합성어가 많은 독일어에 특히 많음)를 `<unk>` 로 잃고, 글자 단위는 문장이 너무 길어집니다.
# 그 사이의 **서브워드(subword)** 를 BPE(byte-pair encoding)가 만듭니다. 단어를 글자 기호로 쪼갠 데서 시작해
# 1. 모든 단어에서 이웃한 기호 쌍을 (단어의 빈도만큼) 세고,
# 2. 가장 많은 쌍을 새 기호 하나로 합치고 (동점이면 먼저 생긴 기호의 쌍: 글자는 유니코드 순, 합친 기호는 만든 순),
# 3. 이것을 $k$ 번 되풀이합니다. 합친 순서(merge 목록)가 곧 토크나이저입니다: 새 단어도 같은 순서로 합쳐 조각으로 나눕니다.
#
# 작은 말뭉치(low 5번, lower 2번, newest 6번, widest 3번; 단어 앞의 `▁` 는 띄어쓰기 자리)에서 손으로 돌려 보고,
# 이 레슨이 쓰는 `tokenizers` 라이브러리의 BPE 학습기가 같은 말뭉치에서 같은 조각을 같은 순서로 만드는지 비교합니다.
# 그다음 같은 학습기로 Multi30k 학습 문장에서 합치기를 수천 번 해 어휘 사전을 만듭니다.
# 독일어와 영어를 **한 어휘 사전**으로 만들면 이름·숫자 같은 공통 조각을 나눠 쓰고 임베딩도 하나로 묶을 수 있습니다.
# 어휘 사전은 학습 문장만으로 만듭니다 (검증·테스트 문장을 보면 데이터 누수(data leakage)).
# 원문은 `[토큰…, <eos>]`, 번역문은 `[<bos>, 토큰…, <eos>]` 가 됩니다.

# %%
TOY_WORDS = {"▁low": 5, "▁lower": 2, "▁newest": 6, "▁widest": 3}  # BPE 원 논문(Sennrich 등, 2016)의 예


def learn_bpe(word_counts: dict[str, int], k: int) -> list[tuple[str, str]]:
    """BPE 합치기 k번을 손으로: 이웃 쌍 세기 → 가장 많은 쌍 합치기 → 되풀이. 돌려주는 값: 합친 쌍들(순서대로)."""
    words = {" ".join(w): c for w, c in word_counts.items()}  # 단어 = 공백으로 띄운 기호들 (처음엔 글자 하나씩)
    rank = {ch: i for i, ch in enumerate(sorted({ch for w in word_counts for ch in w}))}  # 기호가 생긴 순서 (동점 가르기)
    merges = []
    for _ in range(k):
        pairs = Counter()
        for w, c in words.items():
            symbols = w.split()
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += c  # 단어가 c번 나왔으면 그 안의 쌍도 c번
        if not pairs:  # 모든 단어가 기호 하나가 됨
            break
        a, b = min(pairs, key=lambda p: (-pairs[p], rank[p[0]], rank[p[1]]))  # 가장 많은 쌍, 동점이면 먼저 생긴 기호
        merges.append((a, b))
        rank.setdefault(a + b, len(rank))
        pattern = re.compile(rf"(?<!\S){re.escape(a)} {re.escape(b)}(?!\S)")  # 기호 a 다음의 기호 b (기호 경계에서만)
        words = {pattern.sub(lambda _: a + b, w): c for w, c in words.items()}  # 왼쪽부터 a b → ab
    return merges


def normalize(text: str) -> str:
    """학습·번역 모두 같은 정규화: 유니코드 NFC, 공백 한 칸. (토크나이저 왕복이 이 형태를 보존합니다)"""
    return " ".join(unicodedata.normalize("NFC", text).split())


def train_tokenizer(texts: list[str], vocab_size: int):
    """Metaspace는 공백을 '▁' 기호로 토큰 안에 남겨, 디코딩만으로 원래 띄어쓰기가 돌아옵니다(디토큰화 불필요).
    그래서 sacreBLEU에 모델 출력을 그대로(디토큰화된, 대소문자 그대로) 넘길 수 있습니다."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    # 문장부호는 단어에서 떼어 따로 배웁니다 ("bushes." 와 "bushes" 가 같은 조각을 쓰도록).
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text).ids


def decode(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode([i for i in ids if i >= len(SPECIALS)])


def encode_pairs(tokenizer, pairs, max_len: int) -> tuple[list[list[int]], list[list[int]]]:
    """원문은 [토큰..., <eos>], 번역문은 [<bos>, 토큰..., <eos>]. 너무 긴 문장은 max_len에서 자릅니다."""
    src = [enc.ids[:max_len - 1] + [EOS] for enc in tokenizer.encode_batch([d for d, _ in pairs])]
    tgt = [[BOS] + enc.ids[:max_len - 2] + [EOS] for enc in tokenizer.encode_batch([e for _, e in pairs])]
    return src, tgt


# %%
if __name__ == "__main__":
    section("2. 토큰화: BPE 합치기와 공유 BPE 어휘 사전")
    merges = learn_bpe(TOY_WORDS, 10)
    base = len(SPECIALS) + len({ch for w in TOY_WORDS for ch in w})  # 특수 토큰·글자 기호 다음 번호부터가 합친 조각
    toy = train_tokenizer([w[1:] for w, c in TOY_WORDS.items() for _ in range(c)], base + len(merges))
    made = [toy.id_to_token(i) for i in range(base, toy.get_vocab_size())]
    print(f"  {', '.join(f'{w}×{c}' for w, c in TOY_WORDS.items())} 에서 손으로 합친 10번:\n    "
          f"{'  '.join(f'{a}+{b}' for a, b in merges)}\n  tokenizers BPE 학습기가 만든 조각: {' '.join(made)}"
          f"  ({'손으로 한 것과 같은 순서로 같음' if made == [a + b for a, b in merges] else '손으로 한 것과 다름'})\n"
          f"  처음 보는 단어도 아는 조각으로: lowest → {' '.join(toy.encode('lowest').tokens)}")
    train, val, test = ([(normalize(d), normalize(e)) for d, e in split]
                        for split in (corpus.train, corpus.val, corpus.test))
    tokenizer = train_tokenizer([s for p in train for s in p], min(args.vocab_size, 1000) if small else args.vocab_size)
    print(f"  어휘 사전: {tokenizer.get_vocab_size():,}개 (특수 토큰 {' '.join(SPECIALS)})")
    for text in train[0]:
        print(f"  {text}\n   → {' '.join(tokenizer.encode(text).tokens)}")
    train_src, train_tgt = encode_pairs(tokenizer, train, MAX_LEN)
    val_src, val_tgt = encode_pairs(tokenizer, val, MAX_LEN)

# %% [markdown]
# ## 3. 길이 버킷과 토큰 수 기준 배치
# 문장 길이가 제각각이라 배치를 문장 수로 자르면 짧은 문장이 긴 문장에 맞춰 `<pad>` 로 가득 찹니다.
# 길이가 비슷한 문장끼리 묶고(길이 버킷), 배치마다 `문장 수 × 최대 길이` 가 정한 토큰 수 이하가 되게 자릅니다.
# 디코더 입력은 `<bos>` 부터, 정답은 그것을 한 칸 민 것입니다 (teacher forcing: 정답의 앞부분을 보고 다음 토큰을 맞힘).

# %%
def pad_batch(seqs: list[list[int]]) -> torch.Tensor:
    out = torch.full((len(seqs), max(map(len, seqs))), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s)
    return out


class TokenBatches:
    """토큰 수 기준 배치 ((원문, 디코더 입력), 정답). 에폭마다 새로 섞고, 섞는 난수는 체크포인트에 들어가 --resume 이 이어집니다."""

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

    def state_dict(self) -> dict:
        return {"rng": self.rng.getstate(), "batches": self.batches}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate(state["rng"])
        self.batches = state["batches"]


# %%
if __name__ == "__main__":
    section("3. 길이 버킷과 토큰 수 기준 배치")
    # 대체 데이터는 문장이 수백 개뿐이라 작은 배치로 짧은 에폭을 여러 번 돌아야 규칙을 배웁니다.
    batch_tokens = min(args.batch_size, 300 if fallback else 1000) if small else args.batch_size
    train_batches = TokenBatches(train_src, train_tgt, batch_tokens, shuffle=True, seed=args.seed)
    val_batches = TokenBatches(val_src, val_tgt, batch_tokens, shuffle=False)
    (src, tgt_in), tgt_out = next(iter(val_batches))
    print(f"  배치당 약 {batch_tokens} 토큰 → 학습 {len(train_batches)}개, 검증 {len(val_batches)}개 배치\n"
          f"  검증 첫 배치: 원문 {tuple(src.shape)}, 디코더 입력 {tuple(tgt_in.shape)}, 정답 {tuple(tgt_out.shape)}, "
          f"<pad> 비율 {(src == PAD).float().mean():.1%}")

# %% [markdown]
# ## 4. 스케일드 닷-프로덕트 어텐션과 마스크
# 질의(query)마다 모든 키(key)와의 유사도를 재고, 그 비율로 값(value)을 섞습니다:
# $$\mathrm{Attention}(Q,K,V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V$$
# $\sqrt{d_k}$ 로 나누는 이유: 내적의 분산이 $d_k$ 에 비례해 커지면 softmax가 한 칸에 몰려(포화) 그래디언트가 사라집니다.
# **패딩 마스크**는 `<pad>` 키를, **인과 마스크**는 아직 만들지 않은 미래 토큰을 가립니다 (가린 칸은 softmax 뒤 정확히 0).

# %%
def scaled_dot_product_attention(q, k, v, mask=None, dropout_p: float = 0.0):
    """(softmax(Q Kᵀ / √d_k) V, 어텐션 가중치). mask: True = 볼 수 있음 (F.scaled_dot_product_attention 과 같은 약속)."""
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
    """(T, T) 아래 삼각형: i번째 위치는 0..i만 봅니다 (정답 문장 전체를 한 번에 넣어도 미래 단어를 엿보지 못하게)."""
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


# %%
if __name__ == "__main__":
    section("4. 스케일드 닷-프로덕트 어텐션과 마스크")
    g = torch.Generator().manual_seed(0)  # 예시용 난수 (본 모델의 초기값에 영향을 주지 않게 따로)
    x = torch.randn(1, 4, 8, generator=g)
    tokens = torch.tensor([[7, 8, 9, PAD]])
    _, w = scaled_dot_product_attention(x, x, x, causal_mask(4) & padding_mask(tokens)[0, 0])
    print("  인과 마스크 + 패딩 마스크(마지막 토큰이 <pad>)를 건 어텐션 가중치 (행 = 질의, 열 = 키):")
    print("\n".join("    " + "  ".join(f"{v:.2f}" for v in row) for row in w[0].tolist()))
    print("  → 대각선 위(미래)와 마지막 열(<pad>)은 정확히 0, 각 행의 합은 1")

# %% [markdown]
# ## 5. 멀티 헤드 어텐션
# `d_model` 을 헤드 수만큼의 작은 공간($d_k = d_{model}/h$)으로 나눠 어텐션을 따로 계산하고 이어 붙입니다.
# 헤드마다 다른 관계(어순, 관사-명사, 원문-번역 정렬)를 볼 수 있습니다.
# 모델 안에서는 같은 계산을 하는 PyTorch의 `F.scaled_dot_product_attention` 을 씁니다 (메모리를 덜 쓰고 조금 빠름).
# 가중치를 그림으로 그릴 때만 위의 손 구현으로 계산합니다. 둘이 같은 값을 내는지 확인해 봅니다.

# %%
class MultiHeadAttention(nn.Module):
    """fused=True면 핵심 계산에 F.scaled_dot_product_attention 을 씁니다 (테스트로 손 구현과 값·그래디언트가
    1e-5 안에서 같음을 확인). need_weights=True면 손 구현으로 계산해 가중치를 last_weights 에 남깁니다."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, fused: bool = True):
        super().__init__()
        self.n_heads, self.d_k, self.dropout, self.fused = n_heads, d_model // n_heads, dropout, fused
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d_model, d_model) for _ in range(4))
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


# %%
if __name__ == "__main__":
    section("5. 멀티 헤드 어텐션")
    mha = MultiHeadAttention(16, 4)
    x = torch.randn(2, 5, 16, generator=g)
    fused = mha(x, x, x, causal_mask(5))
    by_hand = mha(x, x, x, causal_mask(5), need_weights=True)
    print(f"  입력 {tuple(x.shape)} → 출력 {tuple(fused.shape)}, 헤드별 가중치 {tuple(mha.last_weights.shape)}\n"
          f"  PyTorch 구현과 손 구현의 최대 차이: {(fused - by_hand).abs().max():.1e}")

# %% [markdown]
# ## 6. 위치 인코딩: 어텐션은 순서를 모릅니다
# 어텐션은 키들의 순서를 바꿔도 같은 값을 내므로, 위치 정보를 임베딩에 더해 줍니다:
# $PE_{pos,2i} = \sin(pos/10000^{2i/d})$, $PE_{pos,2i+1} = \cos(pos/10000^{2i/d})$.
# 주파수 $\omega_i$ 마다 (sin, cos) 한 쌍이므로, 위치를 $k$ 칸 옮기는 것은 각 쌍을 각도 $\omega_i k$ 만큼 돌리는
# 회전 행렬 $R(k)$ (위치와 무관)를 곱하는 것과 같습니다: $PE_{pos+k} = PE_{pos}\,R(k)$.
# 그래서 상대 위치를 선형 변환 하나로 읽어 낼 수 있고, 내적 $PE_a\cdot PE_b$ 는 거리 $|a-b|$ 에만 달려 있습니다.
# (`--learned-pos` 는 위치마다 학습되는 벡터를 씁니다.)

# %%
def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
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

    def forward(self, x):  # x: (B, T, d). 입력은 경계(encode_pairs, 디코딩 길이 상한)에서 max_len 안으로 자릅니다
        return x + self.table[:x.size(1)]


# %%
if __name__ == "__main__":
    section("6. 위치 인코딩")
    d_model = SMALL_MODEL["d_model"] if small else args.d_model
    pe = sinusoidal_encoding(100, d_model)
    print(f"  그림: {multi30k.plot_positional_encoding(pe, run.path('positional_encoding.png'))}")
    explain_positional_encoding(d_model)

# %% [markdown]
# ## 7. 잔차 연결과 층 정규화
# 층을 깊이 쌓으면 역전파에서 그래디언트가 층마다 (야코비 행렬로) 곱해져, 입력 쪽에 닿기 전에 사라지거나 커집니다.
# - **잔차 연결(residual connection)**: 부분층 $f$ 의 출력을 입력에 더합니다: $y = x + f(x)$.
#   미분이 $\partial y/\partial x = I + \partial f/\partial x$ 이므로 $f$ 의 그래디언트가 작아도 항등 경로($I$)로 그래디언트가
#   그대로 흐릅니다. 아래에서 신호를 절반쯤으로 줄이는 작은 층 20개를 쌓고, 입력까지 돌아온 그래디언트의 크기를
#   잔차 연결 없이·있이 비교합니다 (없으면 $0.5^{20} \approx 10^{-6}$ 배쯤으로 사라짐).
# - **층 정규화(layer normalization)**: 토큰 하나의 벡터(마지막 차원의 $d$ 개 값)마다 평균 $\mu$ 와 분산 $\sigma^2$ 을 재서
#   $\hat x = (x-\mu)/\sqrt{\sigma^2+\epsilon}$ 로 맞춘 뒤, 학습되는 배율 $\gamma$ 와 이동 $\beta$ 로 $\gamma \hat x + \beta$ 를 냅니다.
#   배치 정규화(02장)와 달리 배치의 다른 문장을 보지 않으므로, 길이가 제각각인 문장에서도, 한 문장씩 번역할 때도 똑같이 동작합니다.
#   잔차 연결로 층마다 값이 더해져 커지는 것도 층 정규화가 다음 부분층 앞에서 제자리로 돌려놓습니다.
# - 둘을 묶은 것이 부분층 하나입니다. **프리-노름**(기본) $x + f(\mathrm{LN}(x))$ 은 잔차 경로가 정규화를 거치지 않아
#   그래디언트가 곧게 흐르므로 워밍업이 짧아도 안정적입니다. 원 논문의 **포스트-노름** $\mathrm{LN}(x + f(x))$ 은 `--post-norm`.
#
# 손으로 쓴 `LayerNorm` 이 PyTorch `nn.LayerNorm` 과 같은 값을 내는지 봅니다 (테스트는 그래디언트까지 비교).
# 모델 안에서는 같은 계산을 하나의 연산으로 하는 `nn.LayerNorm` 을 씁니다.

# %%
class LayerNorm(nn.Module):
    """손으로 쓴 층 정규화: 마지막 차원의 평균·분산으로 x̂ = (x - μ)/√(σ² + ε) 를 만들고 γ·x̂ + β."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(d_model)), nn.Parameter(torch.zeros(d_model)), eps

    def forward(self, x):
        mean = x.mean(-1, keepdim=True)
        var = (x - mean).square().mean(-1, keepdim=True)  # d로 나눈 분산 (d-1 이 아님, nn.LayerNorm 과 같음)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias  # weight = γ, bias = β


def residual_gradients(depth: int = 20, d: int = 16, seed: int = 0) -> dict[bool, float]:
    """층 tanh(h W) 를 depth개 쌓고, 출력에서 크기 1로 시작한 그래디언트가 입력에 닿았을 때의 크기. {잔차 연결 여부: 크기}"""
    g = torch.Generator().manual_seed(seed)  # 예시용 난수 (본 모델의 초기값에 영향을 주지 않게 따로)
    weights = [torch.randn(d, d, generator=g) * 0.5 / math.sqrt(d) for _ in range(depth)]  # 신호를 절반쯤으로 줄이는 층
    x0, norms = torch.randn(1, d, generator=g), {}
    for residual in (False, True):
        h = x = x0.clone().requires_grad_()
        for w in weights:
            h = h + torch.tanh(h @ w) if residual else torch.tanh(h @ w)
        h.sum().backward()  # 출력 쪽 그래디언트는 모든 성분이 1 (크기 √d) → √d로 나눠 1 기준으로
        norms[residual] = x.grad.norm().item() / math.sqrt(d)
    return norms


class Sublayer(nn.Module):
    """잔차 연결 + 층 정규화(LayerNorm) 하나: 프리-노름 x + f(LN(x)) 또는 포스트-노름 LN(x + f(x))."""

    def __init__(self, d_model: int, dropout: float, post_norm: bool):
        super().__init__()
        self.norm, self.drop, self.post_norm = nn.LayerNorm(d_model), nn.Dropout(dropout), post_norm

    def forward(self, x, fn):
        if self.post_norm:
            return self.norm(x + self.drop(fn(x)))
        return x + self.drop(fn(self.norm(x)))


# %%
if __name__ == "__main__":
    section("7. 잔차 연결과 층 정규화")
    norms = residual_gradients()
    print(f"  층 20개를 거슬러 입력에 닿은 그래디언트의 크기 (출력 쪽 = 1): 잔차 연결 없이 {norms[False]:.1e}, 있으면 {norms[True]:.2f}")
    x = torch.tensor([[1.0, 2.0, 3.0, 10.0]])
    y = LayerNorm(4)(x)
    print(f"  층 정규화 (γ = 1, β = 0): {x[0].tolist()} → {[round(v, 3) for v in y[0].tolist()]}  "
          f"(평균 {y.mean():.1e}, 분산 {y.var(unbiased=False):.3f})\n"
          f"  nn.LayerNorm 과의 최대 차이: {(y - nn.LayerNorm(4)(x)).abs().max():.1e}")

# %% [markdown]
# ## 8. 인코더-디코더 Transformer 조립
# - **인코더 층**: 셀프 어텐션(패딩 마스크) → 피드포워드. 원문 토큰마다 문맥을 담은 벡터(memory)를 만듭니다.
# - **디코더 층**: 셀프 어텐션(인과 마스크) → 교차 어텐션(질의 = 디코더, 키·값 = 인코더 출력) → 피드포워드.
# - 어텐션·피드포워드는 모두 7절의 부분층(`Sublayer`: 잔차 연결 + 층 정규화) 안에 들어갑니다.
# - 원문·번역문이 어휘 사전 하나를 공유하므로 임베딩 하나를 인코더 입력·디코더 입력·출력층이 함께 씁니다
#   (가중치 공유, weight tying): 파라미터가 줄고 일반화가 좋아집니다.

# %%
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
    """인코더 N층 + 디코더 N층, 임베딩 하나를 입력 두 곳과 출력층이 공유."""

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


def model_config(args, vocab_size: int, small: bool) -> ModelConfig:
    sizes = SMALL_MODEL if small else {"d_model": args.d_model, "n_heads": args.heads, "n_layers": args.layers,
                                       "d_ff": args.d_ff}
    return ModelConfig(vocab_size=vocab_size, **sizes, dropout=args.dropout, max_len=MAX_LEN + 2,
                       learned_pos=args.learned_pos, post_norm=args.post_norm)


# %%
if __name__ == "__main__":
    section("8. 인코더-디코더 Transformer 조립")
    config = model_config(args, tokenizer.get_vocab_size(), small)
    torch.manual_seed(args.seed)  # 실행마다 같은 초기 가중치
    model = Seq2SeqTransformer(config).to(run.device)
    print(f"  {'포스트' if config.post_norm else '프리'}-노름: d_model {config.d_model}, 헤드 {config.n_heads}, "
          f"층 {config.n_layers}+{config.n_layers}, 파라미터 {count_parameters(model):,}개 (임베딩·출력층 공유)")

# %% [markdown]
# ## 9. 손실과 학습률: 레이블 스무딩, 워밍업 + 코사인 감소
# **레이블 스무딩**: 정답에 확률 1 대신 $1-\varepsilon$, 나머지 어휘에 $\varepsilon$ 을 나눠 줘 모델이 지나치게 확신하지 않게 합니다
# (`<pad>` 위치는 손실에서 뺍니다). **워밍업**: 처음 몇 % 단계 동안 학습률을 0에서 선형으로 올려, 초기의 큰 그래디언트에
# Adam 통계가 적응할 시간을 줍니다. 그 뒤 코사인으로 최대값의 2%까지 내립니다.
# 옵티마이저는 AdamW ($\beta_2=0.98$, $\varepsilon=10^{-9}$), 가중치 감쇠는 가중치 행렬에만 줍니다.

# %%
def translation_loss(label_smoothing: float):
    def loss_fn(logits, targets):
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1),
                               ignore_index=PAD, label_smoothing=label_smoothing)
    return loss_fn


def warmup_cosine(total_steps: int, warmup_steps: int, final_fraction: float = 0.02):
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * t))
    return factor


def make_optimizer(model, args, steps_per_epoch: int):
    """AdamW + 갱신 단계마다 바뀌는 학습률. 편향·LayerNorm 같은 1차원 파라미터는 가중치 감쇠에서 뺍니다."""
    params = list(model.parameters())
    optimizer = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": args.weight_decay},
                                   {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    total = args.epochs * steps_per_epoch
    schedule = warmup_cosine(total, max(1, int(args.warmup * total)))
    lr_curve = [args.lr * schedule(s) for s in range(total)]
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule), lr_curve


# %%
if __name__ == "__main__":
    section("9. 손실과 학습률: 레이블 스무딩, 워밍업 + 코사인 감소")
    if small:
        args.lr *= 3  # 작은 모델은 학습률을 3배로
    if args.quick:
        args.epochs = 12 if fallback else 1
    loss_fn = translation_loss(args.label_smoothing)
    optimizer, scheduler, lr_curve = make_optimizer(model, args, len(train_batches))
    print(f"  레이블 스무딩 ε = {args.label_smoothing}: 찍기(균등 분포)의 손실 ln V = "
          f"{math.log(tokenizer.get_vocab_size()):.2f} 에서 시작합니다.\n"
          f"  학습률: {len(lr_curve)}단계 중 처음 {max(1, int(args.warmup * len(lr_curve)))}단계 워밍업 → 최대 {args.lr:g}"
          f" → 코사인 감소")
    multi30k.plot_lr_schedule(lr_curve, run.path("lr_schedule.png"))

# %% [markdown]
# ## 10. 디코딩: 탐욕 디코딩과 빔 탐색
# 번역은 `<bos>` 에서 시작해 한 토큰씩 만듭니다. **탐욕 디코딩**은 매 단계 가장 확률이 높은 토큰 하나만 고릅니다.
# **빔 탐색**은 지금까지의 로그 확률 합이 높은 후보 $k$ 개를 유지하며 넓히므로, 첫 토큰은 덜 그럴듯해도
# 문장 전체로는 더 그럴듯한 번역을 찾을 수 있습니다. 끝난 후보(`<eos>`)는 점수를 그대로 두고, 마지막에
# 길이 벌점 $((5+\text{길이})/6)^{\alpha}$ 로 나눈 점수로 고릅니다 (짧은 번역만 고르는 편향을 줄임).
# 아래 함수들은 "지금까지의 번역 → 다음 토큰의 로그 확률" 함수(`step`)만 알면 되므로, 손으로 정한 확률표로도 돌려 볼 수 있습니다.

# %%
def decoder_step(model, src, copies: int = 1):
    """원문을 한 번 인코딩해 두고(빔이면 후보 수만큼 복사), 지금까지의 번역 ys → 다음 토큰의 로그 확률을 주는 함수.
    문장이 짧아 캐시 없이 매번 전체를 다시 계산합니다."""
    memory, src_mask = model.encode(src)
    memory, src_mask = memory.repeat_interleave(copies, 0), src_mask.repeat_interleave(copies, 0)
    return lambda ys: torch.log_softmax(model.logits(model.decode(ys, memory, src_mask)[:, -1]).float(), dim=-1)


def max_steps(model, src) -> int:
    """번역 길이 상한: 원문의 1.5배 + 10, 단 위치 인코딩 표(max_len)를 넘지 않게 (긴 입력에서도 오류 없이 끝남)."""
    return min(int((src != PAD).sum(1).max()) * 3 // 2 + 10, model.config.max_len)


def _strip(ids: list[int]) -> list[int]:
    return ids[:ids.index(EOS)] if EOS in ids else [i for i in ids if i != PAD]


def greedy_search(step, n: int, limit: int, device="cpu") -> tuple[list[list[int]], list[float]]:
    """문장 n개를 한꺼번에 탐욕 디코딩합니다. 돌려주는 값: (토큰들, 고른 토큰들의 로그 확률 합)."""
    ys = torch.full((n, 1), BOS, dtype=torch.long, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    score = torch.zeros(n, device=device)
    for _ in range(limit):
        logp = step(ys)
        nxt = logp.argmax(-1)
        score += logp.gather(1, nxt[:, None])[:, 0].masked_fill(done, 0.0)
        nxt = nxt.masked_fill(done, PAD)
        ys = torch.cat([ys, nxt[:, None]], dim=1)
        done |= nxt == EOS
        if done.all():
            break
    return [_strip(row) for row in ys[:, 1:].tolist()], score.tolist()


def beam_search(step, n: int, limit: int, device="cpu", beam: int = 5,
                alpha: float = 0.6) -> tuple[list[list[int]], list[float]]:
    """문장 n개 × 후보 beam개를 한 번에 넓힙니다 (beam=1이면 탐욕과 같음). 돌려주는 값: (고른 후보의 토큰들, 로그 확률 합)."""
    k = beam
    ys = torch.full((n * k, 1), BOS, dtype=torch.long, device=device)
    scores = torch.full((n, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # 처음에는 후보가 하나뿐 (같은 후보가 K번 뽑히지 않게)
    done = torch.zeros(n * k, dtype=torch.bool, device=device)
    lengths = torch.zeros(n * k, device=device)
    for _ in range(limit):
        logp = step(ys)
        logp[done] = float("-inf")
        logp[done, PAD] = 0.0  # 끝난 후보는 점수를 그대로 둔 채 <pad>로만 늘어납니다
        vocab = logp.size(-1)
        top_scores, top_idx = (scores.reshape(-1, 1) + logp).view(n, k * vocab).topk(k, dim=1)
        parent = (torch.arange(n, device=device)[:, None] * k + top_idx // vocab).reshape(-1)
        token = (top_idx % vocab).reshape(-1)
        lengths = lengths[parent] + (~done[parent]).float()
        done = done[parent] | (token == EOS)
        ys = torch.cat([ys[parent], token[:, None]], dim=1)
        scores = top_scores
        if done.all():
            break
    penalty = ((5.0 + lengths) / 6.0) ** alpha
    best = (scores.reshape(-1) / penalty).view(n, k).argmax(1) + torch.arange(n, device=device) * k
    return [_strip(row) for row in ys[best, 1:].tolist()], scores.reshape(-1)[best].tolist()


@torch.no_grad()
def decode_batch(model, src, beam: int = 1) -> list[list[int]]:
    model.eval()
    step, limit = decoder_step(model, src, copies=beam), max_steps(model, src)
    if beam == 1:
        return greedy_search(step, src.size(0), limit, src.device)[0]
    return beam_search(step, src.size(0), limit, src.device, beam)[0]


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
        for i, h in zip(chunk, decode_batch(model, pad_batch([ids[i] for i in chunk]).to(device), beam)):
            out[i] = decode(tokenizer, h)
    return out


def toy_step(ys):
    """손으로 정한 다음 토큰 확률 (어휘: <pad> <bos> <eos> <unk> A B). 첫 토큰은 A 0.6 / B 0.4,
    A 다음에는 <eos> 0.4 (A·B 0.3씩), B 다음에는 <eos> 0.9 (A·B 0.05씩)."""
    table = {BOS: [0, 0, 0, 0, 0.6, 0.4], 4: [0, 0, 0.4, 0, 0.3, 0.3], 5: [0, 0, 0.9, 0, 0.05, 0.05]}
    return torch.tensor([table.get(t, [1.0, 0, 0, 0, 0, 0]) for t in ys[:, -1].tolist()]).log()


# %%
if __name__ == "__main__":
    section("10. 디코딩: 탐욕 디코딩과 빔 탐색")
    names = ["<pad>", "<bos>", "<eos>", "<unk>", "A", "B"]
    for title, (ids, scores) in [("탐욕 디코딩", greedy_search(toy_step, 1, 5)),
                                 ("빔 탐색 (빔 2)", beam_search(toy_step, 1, 5, beam=2))]:
        print(f"  {title:<12} {' '.join(names[i] for i in ids[0])} <eos>   문장 확률 {math.exp(scores[0]):.2f}")
    print("  → 탐욕은 첫 토큰에서 더 그럴듯한 A(0.6)를 골라 0.6×0.4 = 0.24, 빔은 B(0.4)도 남겨 0.4×0.9 = 0.36을 찾습니다.")

# %% [markdown]
# ## 11. BLEU를 손으로: 잘라 센 n-gram 정밀도와 짧은 번역 벌점
# BLEU는 모델 번역이 참조 번역과 얼마나 많은 1~4-gram(이어진 토큰 1~4개)을 함께 가졌는지로 번역을 잽니다.
# 문장마다 점수를 내 평균하지 않고 **테스트 세트 전체(말뭉치)의 개수를 모아** 한 번에 계산합니다.
# 1. **토큰화**: 점수가 토큰화에 달려 있으므로 기계 번역 평가의 표준 규칙(13a, mteval-v13a 와 같음)을 씁니다.
#    문장부호·기호를 단어에서 떼고(숫자 안의 `3.5`·`1,000` 은 그대로), 공백으로 나눕니다. 대소문자는 구분합니다.
# 2. **잘라 센(clipped) n-gram 정밀도** $p_n = \dfrac{\sum_{\text{n-gram}} \min(\text{번역에 나온 수}, \text{참조에 나온 수})}
#    {\sum_{\text{n-gram}} \text{번역에 나온 수}}$ ($n = 1..4$, 분자·분모 모두 모든 문장의 합).
#    참조에 한 번 나온 "the" 는 번역에 여섯 번 써도 한 번만 맞은 것으로 셉니다 ("the the the …" 가 높은 점수를 받지 못하게).
# 3. **짧은 번역 벌점(brevity penalty)**: 정밀도만 보면 짧게, 확실한 단어만 쓸수록 유리하므로, 번역의 토큰 수 $c$ 가
#    참조의 토큰 수 $r$ 보다 적으면 $\mathrm{BP} = e^{\,1 - r/c}$ (아니면 1)를 곱합니다.
# 4. $\mathrm{BLEU} = 100\cdot\mathrm{BP}\cdot\exp\big(\tfrac14\sum_{n=1}^{4}\log p_n\big)$ (정밀도 네 개의 기하 평균).
#    맞은 개수가 0인 차수가 있으면 $\log 0$ 이 되므로 sacreBLEU의 기본값(exp 스무딩)처럼 그런 차수마다 차례로
#    $p_n = 1/(2^k \cdot \text{그 차수의 n-gram 수})$ 를 씁니다 ($k$ = 1, 2, …: 0이었던 차수의 순번).
#    맞은 n-gram이 하나도 없거나, 번역 전체에 4-gram이 하나도 없으면 (모든 번역이 3토큰 이하) 0입니다.
#
# 표준 구현 sacreBLEU와 같은 값을 내는지 보고(테스트는 sacreBLEU를 못 쓰게 막고 계산한 뒤 비교), 학습 중 검증과
# 결과 기록에는 sacreBLEU를 씁니다: 설정을 담은 서명(signature)을 함께 남겨 다른 논문의 점수와 비교할 수 있게.

# %%
TOKENIZE_13A = [(re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),  # 기호({ | } ~ [ \ ] ^ _ ` ! " # $ % & 등)를 띄움
                (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # 마침표·쉼표는 앞이 숫자가 아니면 떼고
                (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),  # 뒤가 숫자가 아니어도 뗌 (앞뒤 모두 숫자인 3.5 만 그대로)
                (re.compile(r"([0-9])(-)"), r"\1 \2 ")]  # 숫자 뒤의 하이픈도 뗌


def tokenize_13a(line: str) -> list[str]:
    """sacreBLEU 기본 토큰화(13a)를 옮긴 것: HTML 엔티티 되돌리기 → 기호 떼기 → 공백으로 나누기."""
    line = line.rstrip().replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    line = " " + line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">") + " "
    for pattern, replacement in TOKENIZE_13A:
        line = pattern.sub(replacement, line)
    return line.split()


def ngram_counts(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu_by_hand(hypotheses: list[str], references: list[str], max_n: int = 4) -> dict:
    """말뭉치 BLEU (번역마다 참조 하나). sacreBLEU 기본값과 같은 규칙: 13a 토큰화, 대소문자 구분, exp 스무딩."""
    matched, total, c, r = [0] * max_n, [0] * max_n, 0, 0
    for hyp, ref in zip(hypotheses, references, strict=True):
        h, rf = tokenize_13a(hyp), tokenize_13a(ref)
        c, r = c + len(h), r + len(rf)
        for n in range(1, max_n + 1):
            h_counts, r_counts = ngram_counts(h, n), ngram_counts(rf, n)
            total[n - 1] += sum(h_counts.values())
            matched[n - 1] += sum(min(k, r_counts[g]) for g, k in h_counts.items())  # 참조에 나온 수까지만 (clip)
    bp = 1.0 if c >= r else (math.exp(1 - r / c) if c else 0.0)
    score, zeros = 0.0, 0
    if any(matched) and all(total):
        log_p = []
        for m, t in zip(matched, total):
            zeros += m == 0
            log_p.append(math.log(m / t if m else 1 / (2 ** zeros * t)))  # exp 스무딩: 0인 차수마다 절반씩 작게
        score = 100 * bp * math.exp(sum(log_p) / max_n)
    return {"score": score, "precisions": [100 * m / t if t else 0.0 for m, t in zip(matched, total)],
            "bp": bp, "hyp_len": c, "ref_len": r}


def corpus_bleu(hypotheses: list[str], references: list[str]):
    """sacreBLEU: 디토큰화된, 대소문자를 구분하는 출력 그대로 (표준 13a 토큰화). 점수와 서명을 돌려줍니다."""
    metric = BLEU()
    score = metric.corpus_score(hypotheses, [references])
    return score, str(metric.get_signature())


# %%
if __name__ == "__main__":
    section("11. BLEU를 손으로")
    ref = "The cat sat on the mat."
    print(f"  참조 {ref!r} → 13a 토큰 {tokenize_13a(ref)}")
    for hyp in [ref, "The cat is on the mat.", "the cat sat on the mat", "the the the the the the.", "The cat sat on"]:
        mine, lib = bleu_by_hand([hyp], [ref]), corpus_bleu([hyp], [ref])[0]
        print(f"  번역 {hyp!r:<26} 정밀도(%) {'/'.join(f'{p:.0f}' for p in mine['precisions']):<12} "
              f"BP {mine['bp']:.3f}  BLEU 손 {mine['score']:6.2f} | sacreBLEU {lib.score:6.2f}")
    print("  → 'the' 여섯 번은 한 번만 맞은 것으로(잘라 세기), 정밀도 100%인 'The cat sat on' 도 짧아서 벌점")

# %% [markdown]
# ## 12. 학습: 에폭마다 검증 손실과 검증 BLEU, 마지막 에폭들의 가중치 평균
# 학습 루프는 과정 공용 `fit` 입니다 (그래디언트 클리핑 1.0, 갱신마다 학습률 스케줄, 에폭마다 체크포인트와 `--resume`).
# 에폭이 끝날 때마다 검증 문장을 탐욕 디코딩해 BLEU를 재고, 가중치를 저장해 둡니다.
# 학습이 끝나면 **마지막 몇 에폭의 가중치를 평균**합니다: 학습률이 작아진 끝부분의 흔들림이 상쇄되어 보통 BLEU가 오릅니다.

# %%
class WeightAverage:
    """마지막 k 에폭의 가중치를 모아 평균합니다 (체크포인트 평균). 체크포인트에 함께 저장되어 --resume 해도 이어집니다."""

    def __init__(self, k: int):
        self.k, self.snapshots = k, []

    def add(self, model) -> None:
        self.snapshots = (self.snapshots + [{k: v.detach().clone() for k, v in model.state_dict().items()}])[-self.k:]

    def average(self) -> dict:
        return {key: torch.stack([s[key].float() for s in self.snapshots]).mean(0).to(self.snapshots[0][key].dtype)
                for key in self.snapshots[0]}

    def state_dict(self) -> dict:
        return {"snapshots": self.snapshots}

    def load_state_dict(self, state: dict) -> None:
        self.snapshots = state["snapshots"]


def validation_bleu(model, tokenizer, pairs, device, averager: WeightAverage):
    """fit 의 on_epoch_end: 검증 문장을 탐욕 디코딩한 BLEU를 기록하고, 이 에폭의 가중치를 평균용으로 남깁니다."""
    sources, refs = [d for d, _ in pairs], [e for _, e in pairs]

    def on_epoch_end(epoch, history):
        bleu, _ = corpus_bleu(translate_sentences(model, tokenizer, sources, device), refs)
        averager.add(model)
        return {"val_bleu": bleu.score}
    return on_epoch_end


# %%
if __name__ == "__main__":
    section("12. 학습")
    print(f"  {args.epochs} 에폭 × {len(train_batches)} 배치 (배치당 약 {batch_tokens} 토큰)")
    averager = WeightAverage(args.average)
    with cpu_threads(args.threads):
        history = fit(model, train_batches, val_batches, loss_fn, optimizer, run.device, args.epochs,
                      scheduler=scheduler, clip_grad_norm=1.0, run=run, resume=args.resume,
                      on_epoch_end=validation_bleu(model, tokenizer, val, run.device, averager),
                      labels={"train_accuracy": None, "val_bleu": "검증 BLEU(탐욕)"},
                      checkpoint_extra={"config": vars(config), "tokenizer": tokenizer.to_str()}, check_extra=True,
                      extra_state={"averager": averager})
    multi30k.plot_history(history, run.path("learning_curves.png"))

# %% [markdown]
# ## 13. 테스트 BLEU: 탐욕 디코딩 vs 빔 탐색
# 마지막 에폭들의 평균 가중치로 테스트 세트(test_2016_flickr)를 한 번 번역합니다.
# 점수는 sacreBLEU로 내고, 11절에서 손으로 쓴 BLEU로 같은 번역을 다시 채점해 같은 값인지 봅니다.
# 빔 탐색은 후보를 $k$ 배로 계산하므로 느리지만 보통 BLEU가 조금 오릅니다.

# %%
if __name__ == "__main__":
    section("13. 테스트 BLEU: 탐욕 디코딩 vs 빔 탐색")
    model.load_state_dict(averager.average())
    n_avg = len(averager.snapshots)
    sources, refs = [d for d, _ in test], [e for _, e in test]
    with cpu_threads(args.threads):
        t0 = time.perf_counter()
        greedy_bleu, _ = corpus_bleu(translate_sentences(model, tokenizer, sources, run.device), refs)
        t1 = time.perf_counter()
        beam_hyps = translate_sentences(model, tokenizer, sources, run.device, beam=args.beam)
        beam_bleu, signature = corpus_bleu(beam_hyps, refs)
        t2 = time.perf_counter()
    print(f"  test sacreBLEU (마지막 {n_avg}에폭 평균 가중치)\n"
          f"  탐욕 디코딩      {greedy_bleu.score:5.2f}  ({t1 - t0:.0f}초)\n"
          f"  빔 탐색 (빔 {args.beam})  {beam_bleu.score:5.2f}  ({t2 - t1:.0f}초)  {beam_bleu}\n  서명: {signature}")
    by_hand = bleu_by_hand(beam_hyps, refs)  # 11절의 손 구현으로 같은 번역을 다시 채점
    print(f"  손으로 쓴 BLEU (11절) {by_hand['score']:.6f} = sacreBLEU {beam_bleu.score:.6f} "
          f"(차이 {abs(by_hand['score'] - beam_bleu.score):.1e})")
    examples = [{"source": d, "reference": e, "model": h} for (d, e), h in list(zip(test, beam_hyps))[:6]]
    print("\n  번역 예시 (원문 / 참조 번역 / 모델 번역)")
    for r in examples:
        print(f"  원문  {r['source']}\n  참조  {r['reference']}\n  모델  {r['model']}\n")

# %% [markdown]
# ## 14. 어텐션 지도
# 번역 한 문장의 어텐션 가중치(마지막 층, 헤드 평균)를 그립니다. 인코더 셀프 어텐션은 원문 토큰끼리의 관계를,
# 디코더 교차 어텐션은 번역 토큰마다 원문의 어디를 보았는지(정렬)를 보여 줍니다 — 잘 학습되면 대각선에 가깝게 정렬됩니다.

# %%
@torch.no_grad()
def attention_maps(model, tokenizer, sentence: str, device):
    """한 문장을 탐욕 번역한 뒤, 손 구현 어텐션으로 한 번 더 계산해 가중치를 꺼냅니다 (헤드 평균)."""
    model.eval()
    src_ids = encode(tokenizer, sentence)[:model.config.max_len - 2] + [EOS]
    src = torch.tensor([src_ids], device=device)
    out_ids = decode_batch(model, src)[0]
    memory, src_mask = model.encode(src, need_weights=True)
    model.decode(torch.tensor([[BOS] + out_ids], device=device), memory, src_mask, need_weights=True)
    enc = model.encoder[-1].self_attn.last_weights[0].mean(0).cpu()
    cross = model.decoder[-1].cross_attn.last_weights[0].mean(0).cpu()
    src_tokens = [tokenizer.id_to_token(i) for i in src_ids]
    return enc, cross, src_tokens, [tokenizer.id_to_token(i) for i in out_ids + [EOS]]


# %%
if __name__ == "__main__":
    section("14. 어텐션 지도")
    enc, cross, src_tokens, out_tokens = attention_maps(model, tokenizer, test[0][0], run.device)
    print(f"  원문 {' '.join(src_tokens)}\n  번역 {' '.join(out_tokens)}")
    print(f"  그림: {multi30k.plot_attention(enc, cross, src_tokens, out_tokens, run.path('attention.png'))}")

# %% [markdown]
# ## 15. 결과 기록
# 점수·설정·에폭별 기록을 `metrics.json` 에 남깁니다. 체크포인트(`checkpoint.pt`)에는 마지막 가중치와
# 평균할 가중치들, 모델 설정, 어휘 사전이 들어 있어 다음 절의 `--translate` 가 그것을 씁니다.

# %%
if __name__ == "__main__":
    section("15. 결과 기록")
    run.write_metrics(dataset=corpus.name, data_source=corpus.source, epochs=len(history["train_loss"]),
                      n_train=len(train), n_test=len(test), metrics={
                          "bleu": round(beam_bleu.score, 2), "bleu_greedy": round(greedy_bleu.score, 2),
                          "beam": args.beam, "bleu_signature": signature, "averaged_epochs": n_avg,
                          "val_bleu_per_epoch": [round(b, 2) for b in history["val_bleu"]],
                          "val_loss_per_epoch": [round(v, 4) for v in history["val_loss"]],
                          "uniform_loss": round(math.log(tokenizer.get_vocab_size()), 4),
                          "epoch_seconds": [round(s, 1) for s in history["epoch_seconds"]],
                          "vocab_size": tokenizer.get_vocab_size(), "parameters": count_parameters(model),
                          "bleu_by_hand": round(by_hand["score"], 6), "examples": examples[:3]})

# %% [markdown]
# ## 16. 내 문장 번역하기 (`--translate`)
# 저장된 체크포인트(전체 학습의 것)의 평균 가중치로 독일어 문장을 번역합니다. 빈 문장·어휘 사전에 없는 글자는
# 번역 전에 알려 줍니다 (`utils/datasets/multi30k.py` 의 `check_sentence`).
# 모델은 문장 하나를 토큰 128개까지만 읽습니다(`MAX_LEN`). 그래서 여러 문장을 한꺼번에 넣으면 문장부호(. ! ?) 다음의
# 공백에서 문장으로 나눠 하나씩 번역하고 이어 붙입니다. 한 문장이 그래도 길면 번역하지 않은 뒷부분을 그대로 보여 줍니다.
# 스크립트에서는 이 절만 실행됩니다:
# `python 08_transformer_nlp.py --translate "Ein Mann fährt Fahrrad."` 또는 `--translate-file 문장들.de.txt`
# (줄마다 따로 번역, 번역만 표준 출력으로 — 안내는 표준 오류로 보내므로 `> 번역.en` 으로 받을 수 있습니다).

# %%
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")  # 마침표·느낌표·물음표 바로 뒤의 공백에서 자릅니다 (부호는 앞 문장에 남음)


def split_sentences(text: str) -> list[str]:
    """문단 → 문장들. 약어("z. B.")에서도 잘리지만 조각마다 번역되므로 빠지는 말은 없습니다."""
    return [s for s in SENTENCE_END.split(normalize(text)) if s]


def load_translator(path, device):
    state = load_checkpoint(path, map_location=device)
    try:
        tokenizer = Tokenizer.from_str(state["tokenizer"])
        model = Seq2SeqTransformer(ModelConfig(**state["config"])).to(device)
        averager = WeightAverage(1)
        averager.load_state_dict(state["averager"])
        model.load_state_dict(averager.average())
    except (KeyError, TypeError, RuntimeError, ValueError, IndexError) as err:
        raise CourseError(f"체크포인트가 이 레슨의 번역 모델이 아닙니다: {path} ({type(err).__name__})") from None
    return model, tokenizer


def translate(args, run) -> None:
    """줄마다 문장으로 나눠 번역하고 이어 붙여 표준 출력으로 (빈 줄은 빈 줄로). 안내는 표준 오류로 보냅니다."""
    if args.translate is not None and not normalize(args.translate):
        raise CourseError(EMPTY_SENTENCE)
    lines = [args.translate] if args.translate is not None else multi30k.read_user_sentences(args.translate_file)
    model, tokenizer = load_translator(run.checkpoint_path, run.device)
    limit = model.config.max_len - 2  # translate_sentences 가 원문에서 읽는 토큰 수 (<eos> 자리와 한 칸 여유를 빼고)
    per_line = [[multi30k.check_sentence(tokenizer, s, limit) for s in split_sentences(line)] for line in lines]
    outputs = iter(translate_sentences(model, tokenizer, [s for ss in per_line for s in ss], run.device, args.beam))
    print(f"[번역] {run.checkpoint_path} | {'탐욕 디코딩' if args.beam == 1 else f'빔 탐색 (빔 {args.beam})'}", file=sys.stderr)
    for sentences in per_line:
        print(" ".join(next(outputs) for _ in sentences))


# %%
if __name__ == "__main__":
    section("16. 내 문장 번역하기")
    sentences = split_sentences("Ein Mann fährt Fahrrad. Zwei Kinder spielen im Park.")  # 문단 하나 → 문장 둘
    for text, out in zip(sentences, translate_sentences(model, tokenizer, sentences, run.device, beam=args.beam)):
        print(f"  {text}  →  {out}")

# %% [markdown]
# ## 해 보세요
# 전체 학습(약 37분) 없이 한 절만 바꿔 다시 실행하거나 `--quick` 끼리 비교합니다. 아래 숫자는 이 과정을 만든 2코어 CPU(AMD EPYC)에서
# 잰 값이고, 명령·출력·걸린 시간은 `docs/notes/08_transformer_nlp.md` 에 있습니다.
#
# 1. **잔차 연결과 깊이** (7절): 7절 실행 셀의 `residual_gradients()` 를 `residual_gradients(depth=5)`, `residual_gradients(depth=50)` 으로
#    바꿔 실행해 보세요. 입력에 닿은 그래디언트의 크기가 잔차 연결 없이 4.4e-02(층 5개) → 9.0e-07(20개) → 1.4e-16(50개)로
#    사라지고, 잔차 연결이 있으면 1.56 → 1.82 → 4.05 로 남습니다. 깊은 Transformer가 학습되는 것은 이 항등 경로 덕분입니다.
# 2. **짧은 번역 벌점** (11절): 테스트 세트의 참조 번역 1,000개를 번역이라 치고, 문장마다 앞 절반의 단어만 남겨 채점해 보세요
#    (`refs = [e for _, e in test]` 뒤 `bleu_by_hand([" ".join(r.split()[:max(1, len(r.split()) // 2)]) for r in refs], refs)`).
#    1~4-gram 정밀도는 모두 100 % 인데 번역 토큰이 5,748개로 참조(12,955개)보다 훨씬 적어 BP = 0.285, BLEU 28.54 입니다.
# 3. **어순과 대소문자** (11절): 같은 방법으로 문장마다 단어 순서를 뒤섞으면(`random.Random(0)`) 1-gram 정밀도는 100 % 그대로인데
#    2/3/4-gram 정밀도가 18.9/2.4/0.3 % 로 떨어져 BLEU 6.22, 모두 소문자로 바꾸면 BLEU 89.81 입니다 (sacreBLEU 기본값은
#    대소문자를 구분). 손으로 쓴 값과 sacreBLEU가 네 경우 모두 소수 둘째 자리까지 같습니다.
# 4. **프리-노름 vs 포스트-노름** (`--quick`): `python 08_transformer_nlp.py --quick` 과 `--quick --post-norm` 의 1에폭 뒤 손실을
#    비교해 보세요. 검증 손실 5.3087 대 5.2742, 학습 손실 5.6494 대 5.6104 로 포스트-노름이 조금 낮습니다. 층이 하나뿐인 작은 모델에서는
#    잔차 경로가 짧아 프리-노름의 이점(7절)이 드러나지 않습니다 — 깊이와 워밍업이 중요할 때의 차이라는 것을 기억하세요.
#
# **질문**
#
# <details><summary>1. 빔 탐색은 BLEU를 얼마나 올리고, 빔을 키우면 늘 좋아질까요?</summary>
#
# 게시된 전체 실행(`docs/results/08_transformer_nlp.json`)에서 탐욕 디코딩 37.57, 빔 5 가 38.82 입니다 (+1.25). 빔 탐색은 모델이 더
# 그럴듯하다고 보는 문장을 찾을 뿐이고, 모델의 확률이 높은 문장이 참조 번역과 더 닮았다는 보장은 없습니다. 그래서 빔을 키우면
# BLEU가 제자리이거나 내려가기도 하고(그래서 10절은 길이 벌점으로 짧은 번역 편향을 줄입니다), 시간은 빔 크기에 비례해 늘어납니다.
# </details>
#
# <details><summary>2. 디코더 셀프 어텐션에서 인과 마스크를 빼고 학습하면 어떻게 될까요?</summary>
#
# 학습 때 디코더는 정답 문장 전체를 한꺼번에 입력받으므로(teacher forcing), 마스크가 없으면 위치 $t$ 가 $t+1$ 번째 정답 토큰을
# 그대로 볼 수 있습니다. 학습 손실은 빠르게 내려가지만 모델은 '다음 토큰 베끼기'를 배운 것이라, 앞 토큰만 보고 한 토큰씩 만드는
# 실제 번역에서는 엉뚱한 문장을 냅니다. 인과 마스크가 학습과 추론의 조건을 같게 만듭니다.
# </details>
#
# <details><summary>3. 레이블 스무딩을 쓰면 검증 손실이 0 까지 내려갈 수 없는 이유는?</summary>
#
# 목표 분포가 정답에 $1-\varepsilon$, 나머지 어휘에 $\varepsilon$ 을 나눠 주는 분포이므로, 모델이 그 분포를 정확히 맞혀도 교차 엔트로피는
# 목표 분포의 엔트로피(0보다 큼)에서 멈춥니다. 그래서 `--label-smoothing 0` 과 손실 값을 바로 비교하면 안 되고, BLEU로 비교합니다.
# </details>
