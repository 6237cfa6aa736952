# %% [markdown]
# # 04 (한국어). 네이버 영화 리뷰 감성 분류 — 어절 vs 음절 vs 형태소 vs 서브워드
#
# **학습 목표**
# - 한국어는 조사·어미가 단어에 붙는 교착어라서, 띄어쓰기 단위(어절)로 사전을 만들면 "영화는", "영화가", "영화를" 이
#   모두 다른 단어가 되어 사전이 폭발하고 모르는 단어(`<unk>`)가 많아지는 것을 숫자로 봅니다.
# - 같은 리뷰를 네 가지로 토큰화합니다: **어절**(공백), **음절**(글자 하나), **형태소**(`kiwipiepy` 형태소 분석기),
#   **서브워드**(`tokenizers` 의 BPE 를 학습 리뷰로만 학습).
# - 토큰화마다 95% 토큰을 덮는 사전 크기, 테스트 세트의 `<unk>` 비율, 리뷰당 토큰 수, 토큰화 시간을 재고,
#   04장의 모델(양방향 GRU + 마스킹 풀링)을 같은 크기·같은 에폭으로 학습해 테스트 정확도를 비교합니다.
# - 한국어 입력에서 실제로 부딪히는 문제를 다룹니다: 유니코드 정규화(macOS 의 NFD → NFC), "ㅋㅋㅋㅋ"·"ㅠㅠ" 같은
#   감정 신호는 지우지 않기, 빈 글·기호만 있는 글.
#
# **데이터셋**: 네이버 영화 리뷰 말뭉치(NSMC, Lucy Park 2016, CC0) 형식의 `DL_DATA_DIR/nsmc/ratings_{train,test}.txt`
# (학습 150,000 / 테스트 50,000, 탭으로 나눈 `id document label`, 1 = 긍정(9~10점), 0 = 부정(1~4점)).
# 강의용 파일은 공식 분할이 아니라 같은 원자료(NSMC 의 원본 수집 자료)를 NSMC 의 규칙으로 다시 나눈 것입니다.
# 공식 파일을 넣으면 git blob id 로 알아보고 `metrics.json` 의 `nsmc_split` 에 `official`/`rebuilt` 를 남깁니다.
# 파일이 없으면 공식 파일을 내려받고(blob id 확인), 그것도 안 되면 템플릿으로 만든 짧은 문장으로 흐름만 보여 줍니다.
#
# **핵심 개념**: 교착어와 어절 · 음절 · 형태소 분석 · 서브워드(BPE) · 95% 덮는 사전 크기 · `<unk>` 비율 ·
# 유니코드 정규화(NFC/NFD) · 토큰 캐시 · 같은 모델·같은 예산으로 비교하기
#
# **실행 방법**
# ```
# python 04_rnn_text_classification-nsmc.py                   # 전체 (토큰화 4가지 × 같은 GRU)
# python 04_rnn_text_classification-nsmc.py --quick           # 리뷰 2,000개로 흐름만
# python 04_rnn_text_classification-nsmc.py --text "배우들 연기가 정말 좋았어요"
# python 04_rnn_text_classification-nsmc.py --text-file my_reviews.txt   # 한 줄에 리뷰 하나
# python 04_rnn_text_classification-nsmc.py --check-file tests/fixtures/04_korean_reviews.txt  # 레이블 붙은 리뷰 채점
# ```
# 영어 장(`04_rnn_text_classification.py --text`)에 한글 리뷰를 넣어도 이 장의 모델이 분류합니다.
# 결과는 `runs/04_rnn_text_classification-nsmc[-quick]/` 에 따로 저장되어 IMDB 모델을 덮어쓰지 않습니다.
#
# **예상 시간** (측정값은 `docs/RESULTS.md`): 2코어 CPU에서 토큰 캐시가 빈 상태로 전체 약 18분, `--quick` 약 20초.

# %%
import functools
import importlib
import os
import time
import unicodedata
from collections import Counter

import kiwipiepy
import numpy as np
import tokenizers
import torch
from kiwipiepy import Kiwi
from torch import nn

from utils.chapter import section, start_chapter
from utils.datasets import nsmc
from utils.korean_text import MAX_REPEAT, has_hangul, normalize_review, review_problem
from utils.model_utils import CourseError, count_parameters, evaluate, load_checkpoint, make_parser, positive_int
from utils.visualization import new_figure, plot_learning_curves, save_figure

base = importlib.import_module("04_rnn_text_classification")  # 04장의 사전·자르기·배치·모델·학습을 그대로 씁니다

# %% tags=["parameters"]
QUICK = False      # True: 리뷰 2,000개(학습 1,500 / 테스트 500)와 짧은 에폭으로 흐름만 확인
DATA_DIR = None    # 데이터 루트 (None: 환경 변수 DL_DATA_DIR, 없으면 ./data)
OUT_DIR = "runs"   # 그림·체크포인트·metrics.json 을 둘 곳

# %% [markdown]
# 실행 설정. 네 토큰화는 **같은 모델**(04장의 양방향 GRU + 마스킹 풀링, 같은 크기), **같은 에폭**, 같은 배치로 학습하고,
# 리뷰 길이는 토큰화마다 학습 리뷰 길이의 95번째 백분위수에서 자릅니다 (같은 비율의 리뷰가 잘리도록).

# %%
LESSON = "04_rnn_text_classification-nsmc"
TOKENIZERS = {"eojeol": "어절", "syllable": "음절", "morpheme": "형태소", "subword": "서브워드"}
COVERAGE = 0.95           # "사전 크기" 비교: 학습 토큰의 95%를 덮는 데 필요한 서로 다른 토큰 수
LENGTH_PERCENTILE = 95    # 토큰화마다 이 백분위수 길이에서 자릅니다
SUBWORD_VOCAB = 16_000    # BPE 가 학습할 서브워드 수 (특수 토큰 포함)
QUICK_REVIEWS = (1_500, 500)  # --quick: 파일마다 앞의 몇 줄만 읽어 토큰화합니다 (모두 2,000개)
QUICK_BATCH_SIZE = 16
TOKEN_CACHE = "nsmc_token_cache"  # 결과 폴더(runs/) 아래. 데이터 폴더(공유될 수 있음)에는 쓰지 않습니다
EXAMPLES = ["영화는 재밌었다", "영화가 재밌네요", "이 영화를 재밌게 봤어요ㅋㅋㅋㅋㅋ", "배우들 연기가 정말 좋았어요"]


def lesson_settings(args, source: str) -> dict:
    quick = args.quick or source == "fallback"
    return {
        # 04장 본 모델과 같은 구조. 음절 토큰은 리뷰당 수십 개라 CPU 시간 예산에 맞춰 은닉 크기를 64로 둡니다.
        # 드롭아웃은 0.1: 학습 리뷰가 IMDB 의 6배이고 3에폭뿐이라 과적합보다 덜 배우는 쪽이 문제였습니다
        # (형태소, 측정: 0.3 → 테스트 86.30 %, 0.1 → 86.85 %; docs/notes/04_rnn_text_classification-nsmc.md).
        "gru": dict(cell="gru", embed_dim=32 if quick else 128, hidden=32 if quick else 64, bidirectional=True,
                    readout="pool", embed_dropout=0.1, dropout=0.1),
        "epochs": (3 if source == "fallback" else 1) if args.quick else args.epochs,
        "batch_size": min(args.batch_size, QUICK_BATCH_SIZE) if args.quick else args.batch_size,
        "min_freq": 1 if source == "fallback" else 2,
    }


def build_parser():
    p = make_parser(f"{LESSON}.py", "한국어 영화 리뷰(NSMC 형식) 감성 분류: 어절·음절·형태소·서브워드 토큰화 비교",
                    epochs=3, batch_size=128, lr=2e-3)
    p.add_argument("--vocab-size", type=positive_int, default=30_000, help="토큰화마다 어휘 사전 최대 크기 (기본 30000)")
    p.add_argument("--tokenizers", nargs="+", choices=list(TOKENIZERS), default=list(TOKENIZERS),
                   help="비교할 토큰화 (기본: 네 가지 모두)")
    p.add_argument("--text", help='학습된 모델로 내 한국어 리뷰 분류: --text "배우들 연기가 정말 좋았어요"')
    p.add_argument("--text-file", help="한 줄에 리뷰 하나씩 적은 UTF-8 파일을 분류해 표로 출력")
    p.add_argument("--check-file", help="'긍정<탭>리뷰' / '부정<탭>리뷰' 줄로 된 파일을 분류해 맞힌 수를 셉니다")
    return p


# %%
if __name__ == "__main__":
    args, run = start_chapter(LESSON, build_parser(), quick=QUICK, data_dir=DATA_DIR, out_dir=OUT_DIR,
                              actions={"text": "predict_user_texts", "text_file": "predict_user_texts",
                                       "check_file": "score_labeled_reviews"})

# %% [markdown]
# ## 1. 데이터 읽기
# 한 줄이 리뷰 하나입니다: `id<탭>리뷰<탭>레이블`. 140자 이하의 짧은 글이고 맞춤법·띄어쓰기가 자유로우며
# "ㅋㅋ", "ㅠㅠ", "^^" 같은 표현이 많습니다. 찾기·내려받기·공식 파일 알아보기는 `utils/datasets/nsmc.py` 가 맡습니다.

# %%
if __name__ == "__main__":
    section("1. 데이터 읽기")
    data = nsmc.load(args, *(QUICK_REVIEWS if args.quick else ()))
    settings = lesson_settings(args, data.source)
    print(f"데이터: {data.name} | 학습 {len(data.train_texts):,} / 테스트 {len(data.test_texts):,} "
          f"(긍정 비율 {np.mean(data.train_labels):.1%}, 출처: {data.source}, 분할: {data.split})")
    for i in range(3):
        print(f"  [{base.CLASS_NAMES[data.train_labels[i]]}] {data.train_texts[i]!r}")
    metrics = {"nsmc_split": data.split}

# %% [markdown]
# ## 2. 토큰화 전에: 유니코드 정규화와 감정 신호
# 한글 음절 '한' 은 문자 하나(U+D55C, **NFC**)로 쓸 수도, 자모 셋 'ᄒ'+'ᅡ'+'ᆫ'(**NFD**)으로 쓸 수도 있습니다.
# 화면에는 똑같이 보이지만 다른 문자열이라, macOS 에서 복사해 온 글(NFD)은 사전에서 찾지 못합니다.
# 그래서 모든 리뷰를 NFC 로 맞춥니다. "ㅋㅋㅋㅋㅋㅋ", "ㅠㅠㅠ", "!!!!" 는 감정의 신호라 지우지 않고, 네 번 이상 반복되면
# 세 번으로 줄여 길이만 다른 변형을 한 토큰으로 모읍니다. (`utils/korean_text.py` 의 `normalize_review`)

# %%
if __name__ == "__main__":
    section("2. 유니코드 정규화와 감정 신호")
    nfc = "재밌었다ㅋㅋㅋㅋㅋㅋ ㅠㅠ!!!!"
    nfd = unicodedata.normalize("NFD", nfc)  # macOS 에서 복사한 글처럼
    print(f"  NFD 글자 수 {len(nfd)}, NFC 글자 수 {len(nfc)}, 같은 문자열인가? {nfd == nfc} (화면에는 같아 보임)")
    print(f"  정규화: {nfd!r} → {normalize_review(nfd)!r}")

# %% [markdown]
# ## 3. 어절 · 음절 · 형태소
# - **어절**: 띄어쓰기로 자른 덩어리. "영화는", "영화가", "영화를" 이 모두 다른 토큰이라 사전이 커지고, 학습 때 못 본
#   활용형("재밌었는데")은 모두 `<unk>` 가 됩니다. 영어의 단어 토큰화를 그대로 옮기면 이렇게 됩니다.
# - **음절**: 글자 하나씩. 사전은 2천여 개로 작고 `<unk>` 도 거의 없지만, 리뷰가 길어지고(계산이 늘고) 한 글자로는
#   뜻이 모호해 모델이 글자를 다시 묶는 일을 배워야 합니다.
# - **형태소**: 뜻을 가진 가장 작은 단위로 자르고(형태소 분석) "영화 + 는", "재밌 + 었 + 다" 처럼 어간과 조사·어미를 나눕니다.
#   `kiwipiepy`(Kiwi)는 pip 로 설치되는 C++ 형태소 분석기입니다(KoNLPy 와 달리 Java 가 필요 없음).
#   한 리뷰에 수 ms 가 걸리므로 리뷰 목록을 한꺼번에 넘겨(`tokenize(list)`) 여러 스레드로 분석하고, 결과는 캐시합니다.

# %%
def eojeol_tokens(texts: list[str]) -> list[list[str]]:
    """어절: 공백으로 자릅니다."""
    return [t.split() for t in texts]


def syllable_tokens(texts: list[str]) -> list[list[str]]:
    """음절: 공백을 뺀 글자 하나하나."""
    return [[ch for ch in t if not ch.isspace()] for t in texts]


@functools.cache
def morpheme_analyzer() -> Kiwi:
    """Kiwi 는 만들 때 모델을 읽느라 1~2초 걸리므로 한 번만 만듭니다. 스레드는 코어 수만큼."""
    return Kiwi(num_workers=os.cpu_count() or 1)


def morpheme_tokens(texts: list[str]) -> list[list[str]]:
    """형태소: 목록을 한 번에 넘겨 Kiwi 가 여러 스레드로 분석합니다 (한 편씩 부르면 몇 배 느림)."""
    return [[m.form for m in morphs] for morphs in morpheme_analyzer().tokenize(texts)]


def show_tokens(texts: list[str], tokenize_fn, label: str) -> None:
    for text, tokens in zip(texts, tokenize_fn(texts)):
        print(f"  {label:<5} {text!r:<28} → {tokens}")


# %%
if __name__ == "__main__":
    section("3. 어절 · 음절 · 형태소")
    examples = [normalize_review(t) for t in EXAMPLES]
    for fn, label in [(eojeol_tokens, "어절"), (syllable_tokens, "음절"), (morpheme_tokens, "형태소")]:
        show_tokens(examples, fn, label)
    print("  어절에서는 '영화는'·'영화가'·'영화를' 이 서로 다른 토큰, 형태소에서는 모두 '영화' + 조사입니다.")

# %% [markdown]
# ## 4. 서브워드: 학습 리뷰로 BPE 사전 만들기
# 서브워드는 언어 지식 대신 **빈도**로 자릅니다. BPE(byte-pair encoding)는 글자에서 시작해, 학습 데이터에서 가장 자주
# 붙어 나오는 두 조각을 하나로 합치기를 사전이 정한 크기가 될 때까지 되풀이합니다. 자주 나오는 "영화", "재밌" 은 한 조각,
# 드문 말은 작은 조각으로 나뉘므로 `<unk>` 가 거의 없습니다. 사전은 **학습 리뷰로만** 학습합니다 (검증·테스트 리뷰가
# 들어가면 데이터 누수). `▁` 은 단어의 시작(앞의 공백)을 표시해 조각들을 다시 원문으로 되돌릴 수 있게 합니다.

# %%
def train_subword(texts: list[str], vocab_size: int) -> tokenizers.Tokenizer:
    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token=base.UNK))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Metaspace()
    tokenizer.decoder = tokenizers.decoders.Metaspace()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2,
                                             special_tokens=[base.PAD, base.UNK], show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def train_subword_timed(texts: list[str], vocab_size: int) -> dict:
    """BPE 학습 결과(JSON 문자열)와 걸린 시간 — 캐시에 함께 저장해 다음 실행에도 처음 잰 시간을 보고합니다."""
    t0 = time.perf_counter()
    return {"json": train_subword(texts, vocab_size).to_str(), "seconds": time.perf_counter() - t0}


def subword_tokens(texts: list[str], tokenizer: tokenizers.Tokenizer) -> list[list[str]]:
    return [e.tokens for e in tokenizer.encode_batch(texts)]


def split_train_val(n: int, seed: int) -> tuple[list[int], list[int]]:
    """학습 리뷰의 10%를 검증 세트로 (04장과 같은 규칙). (학습 번호, 검증 번호)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = max(1, int(n * base.VAL_FRACTION))
    return order[n_val:], order[:n_val]


# %%
if __name__ == "__main__":
    section("4. 서브워드(BPE): 학습 리뷰로만 학습")
    train_texts = [normalize_review(t) for t in data.train_texts]
    test_texts = [normalize_review(t) for t in data.test_texts]
    tr_idx, val_idx = split_train_val(len(train_texts), args.seed)
    cache_dir = run.out.parent / TOKEN_CACHE
    bpe_key = {"name": "bpe", "data": data.fingerprint, "n": len(train_texts), "repeat": MAX_REPEAT,
               "seed": args.seed, "vocab": SUBWORD_VOCAB, "lib": tokenizers.__version__}
    bpe, _ = nsmc.cached(cache_dir, bpe_key,
                         lambda: train_subword_timed([train_texts[i] for i in tr_idx], SUBWORD_VOCAB))
    subword = tokenizers.Tokenizer.from_str(bpe["json"])
    print(f"  BPE 사전 {subword.get_vocab_size():,}개 (학습 {bpe['seconds']:.1f}초)")
    show_tokens(examples, lambda texts: subword_tokens(texts, subword), "서브워드")
    roundtrip = subword.decode(subword.encode(examples[-1]).ids)
    print(f"  되돌리기: {examples[-1]!r} → 조각 → {roundtrip!r} (같은가? {roundtrip == examples[-1]})")

# %% [markdown]
# ## 5. 말뭉치 전체를 네 가지로 토큰화하고 재기
# 토큰화마다 다음을 잽니다.
# - **95% 사전 크기**: 학습 토큰을 자주 나온 순서로 세어 전체의 95%를 덮는 데 필요한 서로 다른 토큰 수 (작을수록 좋음).
# - **`<unk>` 비율**: 학습 리뷰로 만든 사전(최소 빈도 2, 최대 `--vocab-size`)에 없어 `<unk>` 가 되는 테스트 토큰의 비율.
# - **리뷰당 토큰 수**와 자를 길이(학습 리뷰 길이의 95번째 백분위수): RNN 의 계산 시간은 이 길이에 비례합니다.
# - **토큰화 시간**: 학습+테스트 리뷰 전체 (서브워드는 BPE 학습 포함). 한 번 잰 토큰은 파일 해시·설정을 열쇠로
#   `runs/nsmc_token_cache/` 에 저장해 두고 다음 실행에서 다시 씁니다 (시간은 처음 잰 값을 보고합니다).

# %%
def vocab_size_for_coverage(token_lists, coverage: float = COVERAGE) -> int:
    """자주 나온 토큰부터 세어 전체 토큰의 coverage 를 덮는 데 필요한 서로 다른 토큰 수."""
    counts = np.array(sorted(Counter(t for tokens in token_lists for t in tokens).values(), reverse=True))
    if counts.size == 0:
        return 0
    return int(np.searchsorted(np.cumsum(counts), coverage * counts.sum()) + 1)


def tokenize_corpus(name: str, train_texts, test_texts, subword) -> dict:
    """학습·테스트 리뷰를 한 토큰화로 바꾸고 걸린 시간을 잽니다 (JSON 으로 캐시할 수 있는 값)."""
    fn = {"eojeol": eojeol_tokens, "syllable": syllable_tokens, "morpheme": morpheme_tokens,
          "subword": lambda texts: subword_tokens(texts, subword)}[name]
    t0 = time.perf_counter()
    train, test = fn(train_texts), fn(test_texts)
    return {"train": train, "test": test, "seconds": time.perf_counter() - t0}


def encode_split(tokens: dict, labels: dict, tr_idx, val_idx, vocab, max_len: int) -> dict:
    """(번호 열, 레이블) 을 학습/검증/테스트로. 번호 바꾸기·자르기는 04장의 encode_texts."""
    def part(token_lists, idx):
        return base.encode_texts([token_lists[i] for i in idx], vocab, max_len), [labels["train"][i] for i in idx]
    return {"train": part(tokens["train"], tr_idx), "val": part(tokens["train"], val_idx),
            "test": (base.encode_texts(tokens["test"], vocab, max_len), labels["test"])}


def corpus_stats(name: str, tokens: dict, tr_idx, args, settings) -> tuple[dict, base.Vocab, int]:
    fit_tokens = [tokens["train"][i] for i in tr_idx]
    vocab = base.build_vocab(fit_tokens, args.vocab_size, settings["min_freq"])
    max_len = max(1, int(np.ceil(np.percentile([len(t) for t in fit_tokens], LENGTH_PERCENTILE))))
    stats = {"vocab_95": vocab_size_for_coverage(fit_tokens), "vocab_size": len(vocab),
             "unk_rate": round(1 - base.vocab_coverage(tokens["test"], vocab), 4),
             "tokens_per_review": round(float(np.mean([len(t) for t in tokens["train"]])), 2), "max_len": max_len}
    return stats, vocab, max_len


# %%
if __name__ == "__main__":
    section("5. 말뭉치 전체 토큰화와 통계")
    labels = {"train": data.train_labels, "test": data.test_labels}
    stats, splits, vocabs = {}, {}, {}
    print(f"  {'토큰화':<6}{'95% 사전':>10}{'사전':>8}{'<unk> 비율':>11}{'토큰/리뷰':>10}{'자를 길이':>9}{'초':>8}")
    for name in args.tokenizers:
        # 캐시 열쇠: 파일 해시·읽은 줄 수·정규화 설정·라이브러리 버전 (서브워드는 BPE 사전을 정한 시드·크기도)
        key = {"name": name, "data": data.fingerprint, "n": [len(train_texts), len(test_texts)], "repeat": MAX_REPEAT,
               "lib": kiwipiepy.__version__ if name == "morpheme" else tokenizers.__version__,
               **({"seed": args.seed, "bpe": SUBWORD_VOCAB} if name == "subword" else {})}
        tokens, was_cached = nsmc.cached(cache_dir, key, lambda: tokenize_corpus(name, train_texts, test_texts, subword))
        stats[name], vocabs[name], max_len = corpus_stats(name, tokens, tr_idx, args, settings)
        stats[name]["tokenize_seconds"] = round(tokens["seconds"] + (bpe["seconds"] if name == "subword" else 0), 2)
        splits[name] = encode_split(tokens, labels, tr_idx, val_idx, vocabs[name], max_len)
        s = stats[name]
        print(f"  {TOKENIZERS[name]:<6}{s['vocab_95']:>10,}{s['vocab_size']:>8,}{s['unk_rate']:>11.2%}"
              f"{s['tokens_per_review']:>10.1f}{s['max_len']:>9}{s['tokenize_seconds']:>8.1f}"
              + ("  (캐시에서 읽음)" if was_cached else ""))
        del tokens  # 토큰 문자열은 수백만 개라 번호 열만 남깁니다
    print(f"  번호 열: 학습 {len(tr_idx):,} / 검증 {len(val_idx):,} / 테스트 {len(test_texts):,}")

# %% [markdown]
# ## 6. 같은 모델·같은 예산으로 학습
# 04장의 본 모델(임베딩 → 양방향 GRU → 마스킹한 평균·최댓값 풀링 → 선형층)을 토큰화마다 같은 크기·같은 시드·
# 같은 에폭·같은 학습률로 학습합니다. 다른 것은 입력 토큰과 사전뿐입니다. 학습 루프·그래디언트 클리핑·검증 정확도로
# 에폭 고르기·`--resume` 은 04장의 `train_model`(공용 `fit`)을 그대로 씁니다.

# %%
if __name__ == "__main__":
    section("6. 같은 GRU 로 학습 (토큰화만 다름)")
    histories, results, models = {}, {}, {}
    with base.rnn_on_cpu(run.device):
        for name in args.tokenizers:
            split, label = splits[name], TOKENIZERS[name]
            train_batches = base.BucketBatches(*split["train"], settings["batch_size"], shuffle=True, seed=args.seed)
            val_batches, test_batches = base.BucketBatches(*split["val"], 256), base.BucketBatches(*split["test"], 256)
            torch.manual_seed(args.seed)
            models[name] = base.build_model(dict(vocab_size=len(vocabs[name]), **settings["gru"])).to(run.device)
            print(f"\n[{label}] 파라미터 {count_parameters(models[name]):,}개, {settings['epochs']} 에폭")
            histories[label] = base.train_model(name, label, models[name], train_batches, val_batches,
                                                settings["epochs"], args, run)
            test = evaluate(models[name], test_batches, nn.CrossEntropyLoss(), run.device)
            scores = base.classification_scores(test["targets"], test["predictions"])
            results[name] = dict(scores=scores, val_accuracy=max(histories[label]["val_accuracy"]),
                                 best_epoch=histories[label]["best_epoch"],
                                 seconds_per_epoch=float(np.mean(histories[label]["epoch_seconds"])))
            print(f"  테스트 정확도 {scores['accuracy']:.4f} (검증 {results[name]['val_accuracy']:.4f})")

# %% [markdown]
# ## 7. 비교: 표와 그림
# 테스트 세트는 모델마다 한 번만 평가했고, 최종 모델은 **검증 정확도**로 고릅니다.

# %%
def plot_comparison(stats: dict, results: dict, path):
    panels = [("테스트 정확도", lambda n: results[n]["scores"]["accuracy"], "{:.3f}"),
              ("95% 덮는 사전 크기", lambda n: stats[n]["vocab_95"], "{:,}"),
              ("테스트 <unk> 비율", lambda n: stats[n]["unk_rate"], "{:.2%}"),
              ("리뷰당 토큰 수", lambda n: stats[n]["tokens_per_review"], "{:.1f}"),
              ("토큰화 시간(초)", lambda n: stats[n]["tokenize_seconds"], "{:.1f}")]
    fig, axes = new_figure(ncols=len(panels), size=(3.3, 3.6))
    names = list(results)
    for ax, (title, value, fmt) in zip(axes[0], panels):
        values = [value(n) for n in names]
        bars = ax.bar([TOKENIZERS[n] for n in names], values, color="tab:blue")
        for bar, v in zip(bars, values):
            ax.annotate(fmt.format(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                        va="bottom", fontsize=8)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("토큰화 비교 (같은 양방향 GRU, 같은 에폭)", y=1.03)  # 칸 제목과 겹치지 않게
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("7. 토큰화 비교 (테스트 세트 전체, 모델마다 한 번만 평가)")
    print(f"  {'토큰화':<6}{'테스트 정확도':>10}{'검증':>8}{'F1':>8}{'95% 사전':>10}{'<unk>':>8}{'토큰/리뷰':>9}"
          f"{'토큰화 초':>9}{'에폭당 초':>9}")
    for name, r in results.items():
        s = stats[name]
        print(f"  {TOKENIZERS[name]:<6}{r['scores']['accuracy']:>10.4f}{r['val_accuracy']:>8.4f}"
              f"{r['scores']['f1']:>8.4f}{s['vocab_95']:>10,}{s['unk_rate']:>8.2%}{s['tokens_per_review']:>9.1f}"
              f"{s['tokenize_seconds']:>9.1f}{r['seconds_per_epoch']:>9.1f}")
        metrics.update({f"{name}_accuracy": round(r["scores"]["accuracy"], 4), f"{name}_f1": round(r["scores"]["f1"], 4),
                        f"{name}_val_accuracy": round(r["val_accuracy"], 4), f"{name}_best_epoch": r["best_epoch"],
                        f"{name}_seconds_per_epoch": round(r["seconds_per_epoch"], 1),
                        **{f"{name}_{k}": v for k, v in s.items()}})
    best_name = max(results, key=lambda n: results[n]["val_accuracy"])  # 테스트가 아니라 검증으로 고릅니다
    metrics.update(best_model=best_name, test_accuracy=round(results[best_name]["scores"]["accuracy"], 4),
                   test_f1=round(results[best_name]["scores"]["f1"], 4))
    print(f"  검증 정확도로 고른 토큰화: {TOKENIZERS[best_name]} → 테스트 정확도 {metrics['test_accuracy']:.4f}")
    plot_comparison(stats, results, run.path("tokenizer_comparison.png"))
    plot_learning_curves(histories, run.path("learning_curves.png"), "토큰화별 학습 곡선 (같은 GRU)")

# %% [markdown]
# ## 8. 결과 기록
# 고른 모델을 사전·자를 길이·**토큰화 방법**(서브워드면 BPE 사전 전체)과 함께 `checkpoint.pt` 로 저장합니다.
# `--text` 와 09장(모델 서빙)은 04장의 `load_review_classifier` 로 이 체크포인트를 열어 학습 때와 똑같이 토큰화합니다.

# %%
if __name__ == "__main__":
    section("8. 결과 기록")
    best_model = models[best_name].cpu()
    run.save({"model": best_model.state_dict(), "config": best_model.config, "vocab": vocabs[best_name].itos,
              "max_len": stats[best_name]["max_len"], "name": best_name, "tokenizer": best_name,
              "tokenizer_state": bpe["json"] if best_name == "subword" else ""})
    print(f"  체크포인트: {run.checkpoint_path} ({TOKENIZERS[best_name]})")
    metrics["cpu_seconds"] = round(time.process_time(), 1)
    run.write_metrics(dataset=data.name, data_source=data.source, epochs=settings["epochs"],
                      n_train=len(tr_idx), n_test=len(test_texts), metrics=metrics)

# %% [markdown]
# ## 9. 내 리뷰 분류하기 (`--text`, `--text-file`, `--check-file`)
# 저장된 모델로 내 한국어 리뷰를 분류합니다. 입력도 학습 때와 똑같이 정규화 → 토큰화 → 번호 → 자르기를 거칩니다.
# 빈 글, 기호만 있는 글은 이유를 알려 주고, 한글이 없는 글(영어 리뷰)은 영어 장의 모델을 안내합니다.
# 반대로 영어 장에 한글 리뷰를 넣으면(`04_rnn_text_classification.py --text "..."`) 이 장의 모델이 분류합니다.
# `--check-file` 은 `긍정<탭>리뷰` 줄로 된 파일을 분류해 맞힌 수를 셉니다 (`tests/fixtures/04_korean_reviews.txt`).

# %%
TOKENIZE = {"eojeol": eojeol_tokens, "syllable": syllable_tokens, "morpheme": morpheme_tokens}
ENGLISH_NOTE = ("한글이 없는 글입니다. 이 모델은 한국어 리뷰로 학습했습니다. 영어 리뷰는 "
                "python 04_rnn_text_classification.py --text \"...\" (IMDB 모델)로 분류하세요.")


def restore_tokenizer(state: dict):
    """체크포인트에 기록된 토큰화 → 리뷰 한 편을 토큰 목록으로 바꾸는 함수 (정규화 포함, 학습 때와 같음)."""
    name = state["tokenizer"]
    if name == "subword":
        tokenizer = tokenizers.Tokenizer.from_str(state["tokenizer_state"])
        return lambda text: subword_tokens([normalize_review(text)], tokenizer)[0]
    return lambda text: TOKENIZE[name]([normalize_review(text)])[0]


def review_classifier(checkpoint_path):
    """체크포인트 → classify(text) → {"label", "probability", "note"} (판단할 수 없으면 label=None 과 이유)."""
    model, encode, _, class_names = base.load_review_classifier(checkpoint_path)

    def classify(text: str) -> dict:
        problem = review_problem(text) or (None if has_hangul(text) else ENGLISH_NOTE)
        ids = encode(text) if problem is None else []
        if problem is None and all(i == base.UNK_IDX for i in ids):
            problem = "아는 토큰이 하나도 없어 판단할 수 없습니다 (학습 리뷰에 나온 말을 넣어 보세요)."
        if problem:
            return {"label": None, "probability": None, "note": problem}
        with torch.no_grad():
            probs = torch.softmax(model(torch.tensor([ids]), torch.tensor([len(ids)])), dim=1)[0]
        label = int(probs.argmax())
        return {"label": class_names[label], "probability": probs[label].item(),
                "note": "한글이 있어 한국어 모델(NSMC 형식 리뷰로 학습)로 분류했습니다."}

    return classify


def open_classifier(run):
    """--quick 을 함께 주면 빠른 실행의 모델을, 아니면 전체 실행의 모델을 씁니다."""
    return review_classifier(base.trained_checkpoint(run, LESSON))


def print_results(texts: list[str], results: list[dict]) -> None:
    print(f"\n{'번호':>4}  {'예측':<4} {'확률':>6}  리뷰 (앞 60자) / 참고")
    for i, (text, r) in enumerate(zip(texts, results), 1):
        head = f"{i:>4}  " + (f"{r['label']:<4} {r['probability']:>6.1%}" if r["label"] else f"{'-':<4} {'-':>6}")
        print(f"{head}  {text[:60]}" + ("" if r["label"] else f"\n{'':>18}참고: {r['note']}"))


def predict_user_texts(args, run) -> list[dict]:
    """--text 는 한 편을, --text-file 은 파일의 줄마다 분류합니다."""
    if args.text is not None and args.text_file is not None:
        raise CourseError("--text 와 --text-file 은 함께 쓸 수 없습니다. 하나만 고르세요.")
    texts = base.read_text_file(args.text_file) if args.text_file else [args.text]
    classify = open_classifier(run)
    results = [classify(t) for t in texts]
    if args.text_file is not None:
        print_results(texts, results)
        return results
    r = results[0]
    if r["label"] is None:
        raise CourseError(r["note"])
    print(f"\n리뷰: {texts[0][:200]}\n예측: {r['label']} (확률 {r['probability']:.1%})\n참고: {r['note']}")
    return results


def read_labeled_reviews(path: str) -> tuple[list[str], list[str]]:
    """'긍정<탭>리뷰' 줄들 → (리뷰, 레이블). 형식이 틀린 줄은 번호와 함께 알립니다."""
    texts, labels = [], []
    for number, line in enumerate(base.read_text_file(path), start=1):
        label, _, text = line.partition("\t")
        if label not in base.CLASS_NAMES or not text.strip():
            raise CourseError(f"{path} 의 {number}번째 줄: '긍정<탭>리뷰' 또는 '부정<탭>리뷰' 형식이어야 합니다.")
        texts.append(text)
        labels.append(label)
    return texts, labels


def score_labeled_reviews(args, run) -> int:
    """--check-file: 레이블 붙은 리뷰를 분류해 표와 맞힌 수를 출력합니다."""
    texts, labels = read_labeled_reviews(args.check_file)
    results = [open_classifier(run)(t) for t in texts]
    print_results(texts, results)
    correct = sum(r["label"] == label for r, label in zip(results, labels))
    wrong = [i for i, (r, label) in enumerate(zip(results, labels), 1) if r["label"] != label]
    print(f"\n맞힌 리뷰: {correct}/{len(texts)}" + (f" (틀린 번호: {wrong})" if wrong else ""))
    return correct


# %%
if __name__ == "__main__":
    section("9. 내 리뷰 분류하기")
    classify = review_classifier(run.checkpoint_path)
    for sample in ["배우들 연기가 정말 좋았어요", "시간 아깝다 ㅠㅠ", "This movie was great", "ㅋㅋㅋㅋ", "!!!"]:
        r = classify(sample)
        print(f"  예시 {sample!r} → " + (f"{r['label']} ({r['probability']:.1%})" if r["label"] else r["note"]))
    print(f"\n내 리뷰 분류: python {LESSON}.py{' --quick' if args.quick else ''} --text \"...\"")

# %% [markdown]
# ## 해 보세요
# 측정은 직접 해 보세요 (2코어 CPU에서 토큰 캐시가 차 있으면 형태소 분석은 다시 하지 않습니다).
# - 토큰화 하나만 바꿔 보기: `python 04_rnn_text_classification-nsmc.py --tokenizers morpheme subword --epochs 5`
#   — 에폭을 늘리면 형태소와 서브워드의 차이가 줄어드나요, 커지나요?
# - 서브워드 사전 크기: 코드의 `SUBWORD_VOCAB` 을 4,000 과 32,000 으로 바꿔 실행하고, 리뷰당 토큰 수·`<unk>` 비율·정확도를
#   5절 표에서 비교해 보세요. 사전이 작을수록 서브워드는 음절에, 클수록 어절에 가까워집니다.
# - 어절 사전을 줄여 보기: `python 04_rnn_text_classification-nsmc.py --tokenizers eojeol --vocab-size 5000` —
#   `<unk>` 비율이 얼마나 늘고 정확도는 얼마나 떨어지나요?
# - `utils/korean_text.py` 의 `MAX_REPEAT` 를 1로 바꾸면("ㅋㅋㅋ" → "ㅋ") 정확도가 달라지나요? 반복이 신호인지 확인해 보세요.
#
# <details><summary>왜 어절 사전은 95%를 덮는 데 그렇게 많은 토큰이 필요한가요?</summary>
#
# 한국어 어절은 어간에 조사·어미가 붙은 덩어리라 같은 말이 "영화", "영화는", "영화가", "영화를", "영화도" … 처럼
# 수십 가지 모양으로 나옵니다. 모양마다 사전 칸이 하나씩 필요하고, 대부분은 드물게 나와 임베딩을 배우기도 어렵습니다.
# 형태소·서브워드는 "영화" 를 한 번만 사전에 두고 조사를 따로 세므로 같은 범위를 훨씬 작은 사전으로 덮습니다.
# </details>
#
# <details><summary>음절은 `<unk>` 가 거의 없는데 왜 늘 가장 좋지는 않나요?</summary>
#
# 음절 하나는 뜻이 모호하고("재" 는 재미의 재일 수도, 재방송의 재일 수도), 리뷰가 어절보다 3~4배 길어져 RNN이 더 먼
# 거리의 관계를 배워야 하며 계산 시간도 그만큼 늘어납니다. 같은 에폭이라는 예산 안에서는 뜻 단위를 미리 잘라 준
# 형태소·서브워드가 유리한 경우가 많습니다. 직접 5절 표의 '토큰/리뷰' 와 7절의 '에폭당 초' 를 비교해 보세요.
# </details>
