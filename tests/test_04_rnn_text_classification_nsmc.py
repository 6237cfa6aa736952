"""레슨 04 한국어 짝 장 테스트: 네 토큰화(고정 문장의 조각), 서브워드 되돌리기, NFD→NFC, 공식/다시 만든 분할 알아보기,
토큰 캐시, 빠른 실행(대체 데이터·실제 파일), --text 경계 사례, 04장의 한글 라우팅과 load_review_classifier."""
from __future__ import annotations

import functools
import http.server
import re
import threading
import unicodedata
from argparse import Namespace
from pathlib import Path

import pytest
import tokenizers
import torch

from conftest import lesson, read_metrics, run_main
from utils.datasets import nsmc
from utils.korean_text import EMPTY_NOTE, SYMBOLS_NOTE, normalize_review, review_problem
from utils.model_utils import save_checkpoint

K = lesson("04_rnn_text_classification-nsmc")
B = lesson("04_rnn_text_classification")
NAME = "04_rnn_text_classification-nsmc"
FIXTURE = Path(__file__).parent / "fixtures" / "04_korean_reviews.txt"
PREDICTION = re.compile(r"예측: (긍정|부정) \(확률 \d{1,3}\.\d%\)")
TRAIN_ROWS = "id\tdocument\tlabel\n1\t정말 좋아요\t1\n2\t별로\t0\n"
TEST_ROWS = "id\tdocument\tlabel\n3\t최고\t1\n4\t\t0\n"  # 공식 파일처럼 빈 리뷰 하나
# `git hash-object` 로 잰 두 파일의 blob id
TRAIN_BLOB, TEST_BLOB = "251e06be1ebca6d792bd8e2c048c039fb7fe0430", "7aba5c8743b1f1fb6a20d95a2ff3d7ee2fc473f4"


# --- 토큰화: 고정 문장의 조각 ------------------------------------------------------
def test_eojeol_and_syllable_tokens():
    assert K.eojeol_tokens(["영화는 재밌었다", ""]) == [["영화는", "재밌었다"], []]
    assert K.syllable_tokens(["영화는 재밌었다"]) == [["영", "화", "는", "재", "밌", "었", "다"]]


def test_morpheme_tokens_split_stems_from_particles_and_endings():
    assert K.morpheme_tokens(["영화는 재밌었다", "영화가 재밌네요", ""]) == [
        ["영화", "는", "재밌", "었", "다"], ["영화", "가", "재밌", "네요"], []]


def test_subword_learns_frequent_pieces_and_round_trips():
    corpus = ["영화 재밌다", "영화 재밌네요", "영화 최고", "재밌다 최고"] * 20
    tokenizer = K.train_subword(corpus, 60)
    assert K.subword_tokens(["영화 재밌다"], tokenizer) == [["▁영화", "▁재밌다"]]
    assert tokenizer.token_to_id(K.base.PAD) == 0 and tokenizer.token_to_id(K.base.UNK) == 1
    for text in ["영화 재밌네요 최고", "최고 영화"]:  # 조각 → 원문 (공백 자리는 ▁ 이 기억합니다)
        assert tokenizer.decode(tokenizer.encode(text).ids) == text
    assert "<unk>" in K.subword_tokens(["뷁"], tokenizer)[0]  # 학습 리뷰에 없던 글자


def test_vocab_size_for_coverage_counts_types_needed():
    docs = [["a"] * 90 + ["b"] * 5 + ["c"] * 5]
    assert K.vocab_size_for_coverage(docs, 0.90) == 1
    assert K.vocab_size_for_coverage(docs, 0.95) == 2
    assert K.vocab_size_for_coverage(docs, 1.0) == 3
    assert K.vocab_size_for_coverage([[]]) == 0


# --- 한국어 글 다듬기 ----------------------------------------------------------
def test_nfd_text_becomes_nfc_and_emotion_signals_are_kept():
    nfc = "영화 재밌었다"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc and len(nfd) > len(nfc)
    assert normalize_review(nfd) == nfc
    assert normalize_review("재밌다ㅋㅋㅋㅋㅋㅋㅋ  ㅠㅠ!!!!!") == "재밌다ㅋㅋㅋ ㅠㅠ!!!"
    # NFD 로 들어온 리뷰도 학습 때(NFC)와 같은 토큰이 됩니다
    assert K.eojeol_tokens([normalize_review(nfd)]) == [["영화", "재밌었다"]]


def test_review_problem_for_empty_and_symbol_only_input():
    assert review_problem("") == review_problem("  \n") == EMPTY_NOTE
    assert review_problem("!!! ^^ ★") == SYMBOLS_NOTE
    assert review_problem("ㅋㅋㅋ") is None and review_problem("ㅠㅠ") is None  # 자모도 신호
    assert review_problem("10점") is None


# --- 데이터: 공식 vs 다시 만든 분할, 형식 오류, 내려받기, 캐시 ---------------------------------
def write_nsmc(root: Path, train: str = TRAIN_ROWS, test: str = TEST_ROWS) -> Path:
    (root / "nsmc").mkdir(parents=True, exist_ok=True)
    (root / "nsmc" / "ratings_train.txt").write_text(train, encoding="utf-8")
    (root / "nsmc" / "ratings_test.txt").write_text(test, encoding="utf-8")
    return root


def load_args(root: Path) -> Namespace:
    return Namespace(data_dir=str(root), require_data=True, no_download=True, seed=0)


def test_loader_tells_official_from_rebuilt_by_git_blob_id(tmp_path, monkeypatch):
    root = write_nsmc(tmp_path)
    assert nsmc.git_blob_id(root / "nsmc" / "ratings_train.txt") == TRAIN_BLOB
    monkeypatch.setattr(nsmc, "OFFICIAL_BLOB_IDS", {"ratings_train.txt": TRAIN_BLOB, "ratings_test.txt": TEST_BLOB})
    data = nsmc.load(load_args(root))
    assert (data.split, data.source) == ("official", "local") and "공식" in data.name
    assert (data.train_texts, data.train_labels) == (["정말 좋아요", "별로"], [1, 0])
    assert (data.test_texts, data.test_labels) == (["최고", ""], [1, 0])
    assert data.fingerprint == f"{TRAIN_BLOB[:12]}-{TEST_BLOB[:12]}"
    write_nsmc(root, test=TEST_ROWS.replace("최고", "최고다"))  # 한 글자만 달라도 공식 파일이 아닙니다
    assert nsmc.load(load_args(root)).split == "rebuilt"
    assert nsmc.load(load_args(root), 1, 1).train_texts == ["정말 좋아요"]  # --quick: 앞의 몇 줄만


@pytest.mark.parametrize("train,expected", [("document\tlabel\n좋아요\t1\n", "NSMC 형식이 아닙니다"),
                                            ("id\tdocument\tlabel\n1\t좋아요\t5\n", "2번째 줄")])
def test_malformed_file_is_a_korean_error(tmp_path, capsys, train, expected):
    root = write_nsmc(tmp_path, train=train)
    code = run_main(K, ["--quick", "--data-dir", str(root), "--out-dir", str(tmp_path / "out")])
    assert code == 2 and expected in capsys.readouterr().err


def test_download_keeps_only_files_with_the_official_blob_id(tmp_path, monkeypatch):
    served = write_nsmc(tmp_path / "served") / "nsmc"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(nsmc, "URL", f"http://127.0.0.1:{server.server_port}/{{name}}")
        monkeypatch.setattr(nsmc, "OFFICIAL_BLOB_IDS", {"ratings_train.txt": "0" * 40, "ratings_test.txt": TEST_BLOB})
        assert nsmc.download(tmp_path / "bad") is False
        assert not (tmp_path / "bad" / "nsmc" / "ratings_train.txt").exists()
        monkeypatch.setattr(nsmc, "OFFICIAL_BLOB_IDS", {"ratings_train.txt": TRAIN_BLOB, "ratings_test.txt": TEST_BLOB})
        assert nsmc.download(tmp_path / "good") is True
        assert nsmc.split_kind({n: nsmc.git_blob_id(tmp_path / "good" / "nsmc" / n) for n in nsmc.FILES}) == "official"
    finally:
        server.shutdown()


def test_token_cache_is_keyed_by_file_hash_and_settings(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"train": [["영화"]], "seconds": 1.5}

    key = {"name": "morpheme", "data": "abc", "seed": 0}
    assert nsmc.cached(tmp_path, key, compute) == ({"train": [["영화"]], "seconds": 1.5}, False)
    assert nsmc.cached(tmp_path, key, compute) == ({"train": [["영화"]], "seconds": 1.5}, True)
    nsmc.cached(tmp_path, {**key, "data": "other-file"}, compute)
    assert len(calls) == 2 and len(list(tmp_path.glob("morpheme-*.json"))) == 2


# --- 빠른 실행 ---------------------------------------------------------------
def check_run(out: Path, source: str, split: str) -> dict:
    metrics = read_metrics(out, NAME)
    assert (metrics["lesson"], metrics["data_source"]) == (NAME, source)
    m = metrics["metrics"]
    assert m["nsmc_split"] == split and m["best_model"] in K.TOKENIZERS
    assert m["test_accuracy"] == m[f"{m['best_model']}_accuracy"]
    for name in K.TOKENIZERS:
        for stat in ("accuracy", "val_accuracy", "vocab_95", "vocab_size", "unk_rate", "tokens_per_review",
                     "max_len", "tokenize_seconds"):
            assert f"{name}_{stat}" in m, f"{name}_{stat}"
        assert 0 <= m[f"{name}_unk_rate"] <= 1
    run_dir = out / f"{NAME}-quick"
    for fig in ("tokenizer_comparison.png", "learning_curves.png"):
        assert (run_dir / fig).stat().st_size > 5_000, fig
    assert (run_dir / "checkpoint.pt").is_file() and not (out / "04_rnn_text_classification-quick").exists()
    assert any((out / K.TOKEN_CACHE).glob("morpheme-*.json"))  # 캐시는 결과 폴더 아래 (데이터 폴더가 아님)
    return m


@pytest.fixture(scope="module")
def fallback_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("out04k")
    empty = tmp_path_factory.mktemp("빈 데이터")
    assert run_main(K, ["--quick", "--no-download", "--data-dir", str(empty), "--out-dir", str(out)]) == 0
    return out, empty


def test_quick_run_on_the_stand_in(fallback_run):
    m = check_run(fallback_run[0], "fallback", "fallback")
    assert m["test_accuracy"] >= 0.75  # 템플릿 문장은 서술어만 알면 맞힙니다
    assert m["syllable_unk_rate"] == 0.0 and m["eojeol_tokens_per_review"] < m["syllable_tokens_per_review"]


def test_quick_run_on_the_real_files(real_data_dir, tmp_path, capsys):
    assert run_main(K, ["--quick", "--data-dir", str(real_data_dir), "--out-dir", str(tmp_path)]) == 0
    m = check_run(tmp_path, "local", "rebuilt")
    # 교착어: 어절 사전이 형태소·서브워드보다 크고, 모르는 토큰도 가장 많습니다
    assert m["eojeol_vocab_95"] > m["morpheme_vocab_95"] > m["syllable_vocab_95"]
    assert m["eojeol_unk_rate"] > m["morpheme_unk_rate"] > m["syllable_unk_rate"]
    assert "(캐시에서 읽음)" not in capsys.readouterr().out
    assert run_main(K, ["--quick", "--data-dir", str(real_data_dir), "--out-dir", str(tmp_path),
                        "--tokenizers", "morpheme"]) == 0
    assert capsys.readouterr().out.count("(캐시에서 읽음)") == 1  # 두 번째 실행은 형태소 분석을 다시 하지 않습니다
    # 실제 리뷰로 학습한 빠른 모델의 --text 출력 형식과 고정 리뷰 20개 채점 (정확도는 전체 모델에서 잽니다)
    code = run_main(K, ["--quick", "--out-dir", str(tmp_path), "--text", "배우들 연기가 정말 좋았어요"])
    assert code == 0 and PREDICTION.search(capsys.readouterr().out)
    assert run_main(K, ["--quick", "--out-dir", str(tmp_path), "--check-file", str(FIXTURE)]) == 0
    assert re.search(r"맞힌 리뷰: \d{1,2}/20", capsys.readouterr().out)


# --- --text / --text-file / --check-file ------------------------------------------
def classify(module, fallback_run, capsys, *argv):
    code = run_main(module, ["--quick", "--out-dir", str(fallback_run[0]), *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_korean_text_prints_label_and_probability(fallback_run, capsys):
    code, text = classify(K, fallback_run, capsys, "--text", "배우 연기 정말 좋았어요")
    assert code == 0 and PREDICTION.search(text) and "한국어 모델" in text


@pytest.mark.parametrize("review,expected", [("", "빈 텍스트"), ("   ", "빈 텍스트"), ("!!! ^^", "기호만"),
                                            ("This movie was great", "한글이 없는 글"),
                                            ("뷁뷁", "아는 토큰이 하나도 없어")])
def test_korean_text_edge_cases(fallback_run, capsys, review, expected):
    code, text = classify(K, fallback_run, capsys, "--text", review)
    assert code == 2 and expected in text and "Traceback" not in text


def test_nfd_input_gets_the_same_prediction_as_nfc(fallback_run):
    classify_fn = K.review_classifier(fallback_run[0] / f"{NAME}-quick" / "checkpoint.pt")
    nfc = "스토리 최악이에요 ㅠㅠ"
    assert classify_fn(unicodedata.normalize("NFD", nfc)) == classify_fn(nfc)
    assert classify_fn("ㅋㅋㅋㅋ")["label"] in K.base.CLASS_NAMES  # 자모만 있어도 분류합니다


def test_check_file_scores_the_committed_reviews(fallback_run, capsys):
    code, text = classify(K, fallback_run, capsys, "--check-file", str(FIXTURE))
    assert code == 0 and re.search(r"맞힌 리뷰: \d{1,2}/20", text)
    rows = [line for line in text.splitlines() if line[:4].strip().isdigit()]
    # 대체 데이터의 작은 사전에 없는 말뿐인 리뷰는 "-" (판단 못 함) 와 그 이유가 나옵니다
    assert len(rows) == 20 and all(row.split()[1] in ("긍정", "부정", "-") for row in rows)


def test_check_file_with_a_bad_line_is_a_korean_error(fallback_run, capsys, tmp_path):
    f = tmp_path / "labeled.txt"
    f.write_text("긍정\t좋아요\n좋음 재밌다\n", encoding="utf-8")
    code, text = classify(K, fallback_run, capsys, "--check-file", str(f))
    assert code == 2 and "2번째 줄" in text


def test_english_chapter_routes_hangul_to_the_korean_model(fallback_run, capsys, tmp_path):
    code, text = classify(B, fallback_run, capsys, "--text", "배우 연기 정말 좋았어요")
    assert code == 0 and PREDICTION.search(text) and "한국어 모델" in text
    # 한국어 모델이 아직 없으면 그 장의 학습 명령을 안내합니다
    code = run_main(B, ["--text", "정말 좋았어요", "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and f"python {NAME}.py" in err


# --- 09장이 쓰는 입구: load_review_classifier ----------------------------------------
def test_load_review_classifier_reproduces_imdb_encoding(tmp_path):
    vocab = B.build_vocab([["good", "bad", "movie"]], max_size=10, min_freq=1)
    torch.manual_seed(0)
    model = B.build_model(dict(vocab_size=len(vocab), cell="gru", embed_dim=8, hidden=6, bidirectional=True,
                               readout="pool"))
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"model": model.state_dict(), "config": model.config, "vocab": vocab.itos, "max_len": 4}, path)
    loaded, encode, max_len, classes = B.load_review_classifier(path)
    text = "Good movie! <br />bad bad zzz"
    assert encode(text) == B.truncate_head_tail(vocab.encode(B.tokenize(text)), 4) == [3, 2, 2, 1]  # good … bad bad zzz (앞 1 + 뒤 3)
    assert (max_len, classes, loaded.training) == (4, B.CLASS_NAMES, False)
    x = torch.tensor([encode(text)])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, torch.tensor([4])), model.eval()(x, torch.tensor([4])))


def test_load_review_classifier_reproduces_korean_training_tokenization(fallback_run):
    path = fallback_run[0] / f"{NAME}-quick" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    model, encode, max_len, _ = B.load_review_classifier(path)
    vocab = B.Vocab(state["vocab"])
    text = unicodedata.normalize("NFD", "솔직히 영화 최고였다ㅋㅋㅋㅋㅋ")
    tokens = {"eojeol": K.eojeol_tokens, "syllable": K.syllable_tokens, "morpheme": K.morpheme_tokens,
              "subword": lambda t: K.subword_tokens(t, tokenizers.Tokenizer.from_str(state["tokenizer_state"]))}[state["tokenizer"]]([normalize_review(text)])[0]
    assert encode(text) == B.truncate_head_tail(vocab.encode(tokens), max_len) and encode(text)
    assert not model.training
