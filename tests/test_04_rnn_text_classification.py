"""레슨 04 테스트: 토큰화·어휘 사전, 패딩 누수 없음(packed/길이별 배치), 직접 만든 RNN, 빠른 실행, --text."""
from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading

import pytest
import torch
from torch import nn

from conftest import lesson, read_metrics, run_main

L = lesson("04_rnn_text_classification")
NAME = "04_rnn_text_classification"
FIGURES = ["length_histogram.png", "learning_curves.png", "confusion_matrix.png", "model_comparison.png",
           "vanishing_gradient.png", "embedding_pca.png"]


# --- 토큰화와 어휘 사전 -------------------------------------------------------
def test_tokenize_lowercases_removes_html_breaks_and_splits_punctuation():
    assert L.tokenize("Great movie!<br /><br />I didn't LIKE it? 10/10.") == [
        "great", "movie", "!", "i", "didn't", "like", "it", "?", "10", "10"]
    assert L.tokenize("") == []


def test_vocab_min_frequency_size_cap_unknown_and_padding():
    docs = [["good", "bad", "good"], ["good", "bad", "rare"], ["film"]]
    vocab = L.build_vocab(docs, max_size=10, min_freq=2)
    assert vocab.itos == ["<pad>", "<unk>", "good", "bad"]  # rare/film: 1번뿐이라 제외
    assert vocab.stoi["<pad>"] == L.PAD_IDX == 0 and vocab.stoi["<unk>"] == L.UNK_IDX == 1
    assert vocab.encode(["good", "film", "zzz", "bad"]) == [2, 1, 1, 3]
    assert vocab.decode([2, 3]) == ["good", "bad"]
    assert L.build_vocab(docs, max_size=3, min_freq=1).itos == ["<pad>", "<unk>", "good"]
    with pytest.raises(ValueError):
        L.Vocab(["good", "<pad>"])


def test_truncation_keeps_head_and_tail_and_padding_uses_pad_index():
    assert L.truncate_head_tail(list(range(20)), 8) == [0, 1, 14, 15, 16, 17, 18, 19]
    assert L.truncate_head_tail([5, 6], 8) == [5, 6]
    tokens, lengths = L.pad_batch([torch.tensor([4, 5, 6]), torch.tensor([7])])
    assert tokens.tolist() == [[4, 5, 6], [7, 0, 0]] and lengths.tolist() == [3, 1]


def test_show_encoding_prints_truncation_of_a_long_review(capsys):
    vocab = L.build_vocab([["good", "bad"]], max_size=10, min_freq=1)
    L.show_encoding(" ".join(["good"] * 10 + ["bad"] * 10), vocab, 8)
    out = capsys.readouterr().out
    assert "토큰 20개 > 최대 8개" in out and "앞 2개 + 뒤 6개" in out
    L.show_encoding("good bad good bad", vocab, 8)
    out = capsys.readouterr().out
    assert "자르지 않고" in out and "[[3, 2, 0, 0], [3, 2, 3, 2]]  길이 [2, 4]" in out


def test_explain_embedding_lookup_equals_one_hot_product(capsys):
    vocab = L.build_vocab([["good", "bad", "good"]], max_size=10, min_freq=1)
    torch.manual_seed(0)
    emb = nn.Embedding(len(vocab), 6, padding_idx=L.PAD_IDX)
    assert L.explain_embedding(emb.weight.detach(), vocab, "good") == 0.0
    out = capsys.readouterr().out
    assert "(4, 6)" in out and "'good'(번호 2)" in out and "크기 0.0" in out


def test_bucket_batches_cover_every_review_once_with_little_padding():
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randint(2, 50, (int(n),), generator=g) for n in torch.randint(1, 300, (500,), generator=g)]
    labels = [i % 2 for i in range(500)]
    batches = L.BucketBatches(seqs, labels, 32, shuffle=True, seed=1)
    seen = sorted(i for idx in batches.batch_indices() for i in idx.tolist())
    assert seen == list(range(500)) and len(batches) == 16
    (tokens, lengths), y = next(iter(batches))
    assert tokens.shape == (len(y), lengths.max().item())
    assert L.padding_fraction(seqs, 32, bucketed=True) < 0.1 < L.padding_fraction(seqs, 32, bucketed=False)


def test_reverse_within_length_keeps_padding_at_the_end():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]]).unsqueeze(-1)
    assert L.reverse_within_length(x, torch.tensor([3, 2])).squeeze(-1).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]


# --- 패딩이 결과에 새지 않음: 배치 안의 결과 == 문장 하나씩 따로 돌린 결과 ----------------
@pytest.mark.parametrize("cell,bidirectional,readout", [("gru", True, "pool"), ("lstm", False, "last"),
                                                        ("rnn", True, "last")])
def test_padded_batch_gives_same_result_as_each_sequence_alone(cell, bidirectional, readout):
    torch.manual_seed(0)
    model = L.SentimentRNN(40, cell=cell, embed_dim=8, hidden=6, bidirectional=bidirectional,
                           readout=readout).eval()
    seqs = [torch.randint(2, 40, (n,)) for n in [7, 3, 5, 1]]
    tokens, lengths = L.pad_batch(seqs)
    with torch.no_grad():
        alone = torch.cat([model(s.unsqueeze(0), torch.tensor([len(s)])) for s in seqs])
        bucketed = model(tokens, lengths)
        model.packed = True
        packed = model(tokens, lengths)
    torch.testing.assert_close(bucketed, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(packed, alone, atol=1e-5, rtol=1e-5)
    # 패딩 칸에 다른 번호를 넣어도 결과가 그대로여야 합니다 (마스킹 확인).
    with torch.no_grad():
        model.packed = False
        noisy = tokens.masked_fill(tokens == L.PAD_IDX, 17)
        torch.testing.assert_close(model(noisy, lengths), alone, atol=1e-5, rtol=1e-5)


# --- 직접 만든 RNN vs nn.RNN (값과 그래디언트) ------------------------------------------
def test_hand_rnn_matches_nn_rnn_values_and_gradients(monkeypatch):
    torch.manual_seed(0)
    ref = nn.RNN(5, 7, batch_first=True)
    x = torch.randn(3, 9, 5)
    h0 = torch.randn(3, 7)
    params = [p.detach().clone().requires_grad_() for p in
              (ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0, ref.bias_hh_l0)]
    x_hand = x.clone().requires_grad_()

    def forbidden(*args, **kwargs):
        raise AssertionError("직접 만든 RNN이 라이브러리 RNN을 부르면 안 됩니다")

    with monkeypatch.context() as m:
        m.setattr(nn.RNN, "forward", forbidden)
        m.setattr(nn.RNNCell, "forward", forbidden)
        m.setattr(torch, "rnn_tanh", forbidden)
        m.setattr(torch, "rnn_tanh_cell", forbidden)
        out, h_last = L.rnn_unrolled(x_hand, h0, *params)
        (out.pow(2).sum() + h_last.sum()).backward()

    x_ref = x.clone().requires_grad_()
    out_ref, h_ref = ref(x_ref, h0.unsqueeze(0))
    (out_ref.pow(2).sum() + h_ref.sum()).backward()
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h_last, h_ref[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x_hand.grad, x_ref.grad, atol=1e-5, rtol=1e-5)
    for mine, theirs in zip(params, (ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0, ref.bias_hh_l0)):
        torch.testing.assert_close(mine.grad, theirs.grad, atol=1e-5, rtol=1e-5)


def test_input_gradient_norms_has_one_value_per_time_step():
    torch.manual_seed(0)
    model = L.SentimentRNN(30, cell="rnn", embed_dim=4, hidden=4)
    norms = L.input_gradient_norms(model, torch.randint(2, 30, (3, 11)), torch.tensor([0, 1, 1]))
    assert norms.shape == (11,) and (norms > 0).all()
    assert all(p.grad is None for p in model.parameters())  # 원래 모델은 그대로


# --- 빠른 실행: 실제 데이터와 대체 데이터 ------------------------------------------------
def check_run(out, source):
    metrics = read_metrics(out, NAME)
    assert metrics["data_source"] == source and metrics["lesson"] == NAME
    m = metrics["metrics"]
    for key in ["test_accuracy", "test_precision", "test_recall", "test_f1", "rnn_accuracy", "lstm_accuracy",
                "gru_accuracy", "bigru_accuracy", "rnn_seconds_per_epoch", "packed_slowdown", "vocab_size"]:
        assert key in m, key
    assert m["best_model"] in {"rnn", "lstm", "gru", "bigru"}
    assert m["test_accuracy"] == m[f"{m['best_model']}_accuracy"]
    run_dir = out / f"{NAME}-quick"
    for fig in FIGURES:
        assert (run_dir / fig).stat().st_size > 5_000, fig
    assert (run_dir / "checkpoint.pt").is_file()
    return metrics


@pytest.fixture(scope="module")
def fallback_run(tmp_path_factory):
    """대체 데이터로 한 번 학습해 두고 --text 테스트들이 그 체크포인트를 씁니다."""
    out = tmp_path_factory.mktemp("out04")
    empty = tmp_path_factory.mktemp("빈 데이터")
    assert run_main(L, ["--quick", "--no-download", "--data-dir", str(empty), "--out-dir", str(out)]) == 0
    return out, empty


def test_quick_run_on_fallback(fallback_run, capsys):
    metrics = check_run(fallback_run[0], "fallback")
    assert metrics["metrics"]["test_accuracy"] >= 0.75  # 템플릿 문장은 감정 단어만 알면 쉽게 맞힙니다
    assert metrics["n_train"] + metrics["metrics"]["vocab_size"] > 0


def test_quick_run_on_real_data(real_data_dir, tmp_path, capsys):
    assert run_main(L, ["--quick", "--data-dir", str(real_data_dir), "--out-dir", str(tmp_path)]) == 0
    metrics = check_run(tmp_path, "local")
    assert metrics["n_train"] == 900 and metrics["n_test"] == 500  # 폴더마다 500/250개만 읽고 10%는 검증
    # 리뷰 900개로 짧은 한 에폭: 시드 42에서 약 0.6 (우연 수준 0.5보다 높아야 합니다)
    assert metrics["metrics"]["test_accuracy"] >= 0.53


# --- --text / --text-file ----------------------------------------------------
def classify(fallback_run, capsys, *argv):
    out, empty = fallback_run
    code = run_main(L, ["--quick", "--data-dir", str(empty), "--out-dir", str(out), *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_text_prediction_prints_label_and_probability(fallback_run, capsys):
    code, text = classify(fallback_run, capsys, "--text", "the movie was wonderful and brilliant")
    assert code == 0 and "예측: 긍정" in text and "%" in text


@pytest.mark.parametrize("review,expected", [
    ("", "빈 텍스트"), ("   ", "빈 텍스트"),
    ("zxq qwv", "아는 단어가 하나도 없어"),
    ("정말 재미있는 영화였어요", "NSMC"),
    ("ㅋㅋ 10점 만점에 10점!", "NSMC"),   # 숫자·부호는 사전에 있어도 한국어 리뷰로 봅니다
])
def test_text_edge_cases_give_korean_answers(fallback_run, capsys, review, expected):
    code, text = classify(fallback_run, capsys, "--text", review)
    assert code == 2 and expected in text and "Traceback" not in text


def test_very_long_text_is_truncated_with_a_note(fallback_run, capsys):
    code, text = classify(fallback_run, capsys, "--text", "the story was boring " * 2000)
    assert code == 0 and "긴 글이라" in text and "예측: 부정" in text


def test_text_file_prints_a_table(fallback_run, capsys, tmp_path):
    f = tmp_path / "reviews.txt"
    f.write_text("the acting was excellent\n\nthe plot was awful and dull\n한국어 리뷰\nzxq qwv\n", encoding="utf-8")
    code, text = classify(fallback_run, capsys, "--text-file", str(f))
    assert code == 0 and "긍정" in text and "부정" in text and "NSMC" in text
    assert "아는 단어가 하나도 없어" in text and "Traceback" not in text
    rows = [line for line in text.splitlines() if line[:4].strip().isdigit()]
    assert [row.split()[1] for row in rows] == ["긍정", "부정", "-", "-"]
    code, text = classify(fallback_run, capsys, "--text-file", str(tmp_path / "없는파일.txt"))
    assert code == 2 and "찾을 수 없습니다" in text


def test_text_and_text_file_together_is_a_korean_error(tmp_path, capsys):
    code = run_main(L, ["--text", "good", "--text-file", "a.txt", "--out-dir", str(tmp_path)])
    assert code == 2 and "함께 쓸 수 없습니다" in capsys.readouterr().err


def test_text_without_trained_model_says_train_first(tmp_path, capsys):
    code = run_main(L, ["--text", "good", "--out-dir", str(tmp_path)])
    assert code == 2 and "체크포인트가 없습니다" in capsys.readouterr().err


# --- 데이터가 망가졌거나 없을 때 ------------------------------------------------------
def test_partial_aclimdb_folder_names_what_is_missing(tmp_path, capsys):
    pos = tmp_path / "aclImdb" / "train" / "pos"
    pos.mkdir(parents=True)
    (pos / "0_9.txt").write_text("great", encoding="utf-8")
    (tmp_path / "aclImdb" / "test" / "neg").mkdir(parents=True)
    code = run_main(L, ["--quick", "--data-dir", str(tmp_path), "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "불완전" in err
    assert "aclImdb/train/neg" in err and "aclImdb/test/neg" in err and "aclImdb/test/pos" in err
    assert "aclImdb/train/pos" not in err


def test_corrupt_review_file_is_named(tmp_path, capsys):
    for folder in L.IMDB_FOLDERS:
        d = tmp_path / "aclImdb" / folder
        d.mkdir(parents=True)
        (d / "0_7.txt").write_text("a fine film", encoding="utf-8")
    (tmp_path / "aclImdb" / "train" / "neg" / "1_2.txt").write_bytes(b"\xff\xfe\x00broken")
    code = run_main(L, ["--quick", "--data-dir", str(tmp_path), "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "리뷰 파일을 읽을 수 없습니다" in err and "1_2.txt" in err and "Traceback" not in err


def test_require_data_without_data_is_a_korean_error(empty_data_dir, tmp_path, capsys):
    code = run_main(L, ["--quick", "--require-data", "--data-dir", str(empty_data_dir), "--out-dir", str(tmp_path)])
    assert code == 2 and "aclImdb" in capsys.readouterr().err


def tiny_imdb_archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for folder in L.IMDB_FOLDERS:
            data = b"a fine film"
            info = tarfile.TarInfo(f"aclImdb/{folder}/0_7.txt")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_download_dataset_verifies_and_extracts(tmp_path, monkeypatch):
    archive = tiny_imdb_archive()
    served = tmp_path / "served"
    served.mkdir()
    (served / "aclImdb_v1.tar.gz").write_bytes(archive)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(L, "IMDB_URL", f"http://127.0.0.1:{server.server_port}/aclImdb_v1.tar.gz")
        monkeypatch.setattr(L, "IMDB_MD5", "0" * 32)  # 체크섬이 틀리면 받지 않습니다
        assert L.download_dataset(tmp_path / "bad") is False
        assert not (tmp_path / "bad" / "aclImdb_v1.tar.gz").exists()
        monkeypatch.setattr(L, "IMDB_MD5", hashlib.md5(archive).hexdigest())
        assert L.download_dataset(tmp_path / "good") is True
        assert (tmp_path / "good" / "aclImdb" / "test" / "neg" / "0_7.txt").read_text() == "a fine film"
    finally:
        server.shutdown()
