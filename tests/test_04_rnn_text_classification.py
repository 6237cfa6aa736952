"""레슨 04 테스트: 토큰화·어휘 사전, 패딩 누수 없음(packed/길이별 배치), 직접 만든 RNN, 지문(원래 코드와 같은 학습),
빠른 실행(대체 데이터)·중단 후 이어서 학습, --text, 데이터 배관(utils/datasets/imdb.py)."""
from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest
import torch
from torch import nn

from conftest import lesson, read_metrics, run_main
from utils import model_utils
from utils.datasets import imdb
from utils.model_utils import fit

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


def test_bucket_batches_state_dict_restores_the_shuffle_order():
    """fit 이 체크포인트에 넣는 섞기 상태: 되살리면 다음 에폭의 배치 순서가 같습니다 (--resume)."""
    seqs = [torch.ones(n, dtype=torch.long) for n in range(1, 101)]
    a = L.BucketBatches(seqs, [0] * 100, 8, shuffle=True, seed=3)
    list(a)  # 한 에폭
    state = a.state_dict()
    expected = [idx.tolist() for idx in a.batch_indices()]
    b = L.BucketBatches(seqs, [0] * 100, 8, shuffle=True, seed=99)
    b.load_state_dict(state)
    assert [idx.tolist() for idx in b.batch_indices()] == expected


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


# --- 지문: 기본 실행의 본 모델을 3걸음 학습한 결과가 정리 전 코드(c6c022a)와 같음 ---------------------
FINGERPRINT = Path(__file__).parent / "fixtures" / f"{NAME}_fingerprint.json"


def test_default_model_training_matches_fingerprint_of_original_code():
    """양방향 GRU+풀링(기본 크기) · Adam · 선형 감소(5에폭 기준) · 클리핑 1.0, 합성 번호 열 192개(배치 64 × 3걸음)."""
    fp = json.loads(FINGERPRINT.read_text(encoding="utf-8"))
    args = L.build_parser().parse_args([])
    settings = L.lesson_settings(args, "local")
    key, _, config = settings["models"][-1]
    assert key == "bigru" and config == fp["config"] and settings["max_len"] == 400
    g = torch.Generator().manual_seed(fp["seed"])
    vocab = L.Vocab([L.PAD, L.UNK] + [f"w{i}" for i in range(fp["vocab_size"] - 2)])
    lengths = torch.randint(3, 460, (fp["n_seqs"],), generator=g).tolist()
    tokens = [[f"w{int(i)}" for i in torch.randint(0, fp["vocab_size"] + 200, (n,), generator=g)] for n in lengths]
    labels = torch.randint(0, 2, (fp["n_seqs"],), generator=g).tolist()
    batches = L.BucketBatches(L.encode_texts(tokens, vocab, settings["max_len"]), labels, settings["batch_size"],
                              shuffle=True, seed=fp["seed"])
    torch.manual_seed(fp["seed"])
    model = L.build_model(dict(vocab_size=len(vocab), **config))
    optimizer = L.make_optimizer(model, args.lr)
    scheduler = L.linear_decay(optimizer, settings["epochs"] * len(batches))
    torch.manual_seed(fp["seed"])
    cpu = torch.device("cpu")
    with L.rnn_on_cpu(cpu):
        history = fit(model, batches, None, nn.CrossEntropyLoss(), optimizer, cpu, 1, scheduler=scheduler,
                      clip_grad_norm=L.CLIP_GRAD_NORM)
    assert len(batches) == 3 and scheduler.get_last_lr()[0] == pytest.approx(fp["lr_after"])
    assert history["train_loss"][0] == pytest.approx(fp["train_loss"], rel=1e-5)
    params = dict(model.named_parameters())
    assert sorted(params) == sorted(fp["params"])
    for name, p in params.items():
        want, p = fp["params"][name], p.detach().double()
        torch.testing.assert_close(p.sum().item(), want["sum"], rtol=1e-5, atol=1e-6, msg=name)
        torch.testing.assert_close(p.abs().sum().item(), want["abs_sum"], rtol=1e-5, atol=1e-6, msg=name)
        torch.testing.assert_close(p.flatten()[:4].tolist(), want["first4"], rtol=1e-5, atol=1e-6, msg=name)


# --- 빠른 실행: 대체 데이터 (실제 데이터의 --quick 은 tests/test_notebooks.py 가 노트북으로 돌립니다) ----------
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
    assert (run_dir / "checkpoint.pt").is_file()  # 고른 모델 (--text 가 씀)
    assert all((run_dir / f"{k}_checkpoint.pt").is_file() for k in ("rnn", "lstm", "gru", "bigru"))  # --resume 용
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
    m = metrics["metrics"]
    assert m["test_accuracy"] >= 0.75  # 템플릿 문장은 감정 단어만 알면 쉽게 맞힙니다
    # 템플릿 문장 2,000개 = 테스트 400 + 학습 1,600 (그중 10% 160개는 검증), 3 에폭
    assert (metrics["n_train"], metrics["n_test"], metrics["epochs"]) == (1440, 400, 3)
    # 사전: <pad>, <unk> + 템플릿에 나오는 서로 다른 단어 43개 (최소 빈도 1)
    assert m["vocab_size"] == 45 and m["vocab_coverage"] == 1.0
    assert [m[f"{k}_epochs"] for k in ("rnn", "lstm", "gru", "bigru")] == [3, 3, 3, 3]
    assert all(1 <= m[f"{k}_best_epoch"] <= 3 for k in ("rnn", "lstm", "gru", "bigru"))


def test_interrupted_run_resumes_to_the_same_result(fallback_run, tmp_path, capsys, monkeypatch):
    """LSTM 2번째 에폭에서 멈춘 뒤 --resume: 끝난 RNN은 건너뛰고, 끝까지 한 번에 돈 실행과 같은 결과."""
    out = tmp_path / "중단"
    argv = ["--quick", "--no-download", "--data-dir", str(fallback_run[1]), "--out-dir", str(out)]
    real_epoch = model_utils.train_one_epoch

    def interrupt(*args, **kwargs):
        if kwargs.get("desc", "").startswith("LSTM 에폭 2/"):
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(model_utils, "train_one_epoch", interrupt)
    assert run_main(L, argv) == 130
    assert "--resume" in capsys.readouterr().err
    monkeypatch.undo()
    assert run_main(L, [*argv, "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "rnn_checkpoint.pt 의 3 에폭 다음부터" in printed and "lstm_checkpoint.pt 의 1 에폭 다음부터" in printed
    resumed, straight = read_metrics(out, NAME)["metrics"], read_metrics(fallback_run[0], NAME)["metrics"]
    for key, value in straight.items():
        if "seconds" not in key and key not in ("packed_slowdown", "cpu_seconds"):
            assert resumed[key] == value, key
    # 모델 설정이 달라지는 옵션(사전 크기)으로는 이어 가지 않습니다
    assert run_main(L, [*argv, "--resume", "--vocab-size", "10"]) == 2
    assert "config 가 지금 설정과 다릅니다" in capsys.readouterr().err


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
    for folder in imdb.FOLDERS:
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
        for folder in imdb.FOLDERS:
            data = b"a fine film"
            info = tarfile.TarInfo(f"aclImdb/{folder}/0_7.txt")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_imdb_download_verifies_and_extracts(tmp_path, monkeypatch):
    archive = tiny_imdb_archive()
    served = tmp_path / "served"
    served.mkdir()
    (served / "aclImdb_v1.tar.gz").write_bytes(archive)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(imdb, "URL", f"http://127.0.0.1:{server.server_port}/aclImdb_v1.tar.gz")
        monkeypatch.setattr(imdb, "MD5", "0" * 32)  # 체크섬이 틀리면 받지 않습니다
        assert imdb.download(tmp_path / "bad") is False
        assert not (tmp_path / "bad" / "aclImdb_v1.tar.gz").exists()
        monkeypatch.setattr(imdb, "MD5", hashlib.md5(archive).hexdigest())
        assert imdb.download(tmp_path / "good") is True
        assert (tmp_path / "good" / "aclImdb" / "test" / "neg" / "0_7.txt").read_text() == "a fine film"
    finally:
        server.shutdown()
