"""08 Transformer 번역: 손으로 쓴 어텐션·위치 인코딩·디코딩을 PyTorch/sacreBLEU와 비교하고, --quick 실행과 --translate를 확인."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import lesson, read_metrics, run_main

L = lesson("08_transformer_nlp")
NAME = "08_transformer_nlp"


@pytest.fixture(autouse=True)
def one_thread():
    """공유된 2코어에서는 스레드 1개가 훨씬 빠르고 안정적입니다 (utils.model_utils.cpu_threads 참고)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _raise(*args, **kwargs):
    raise AssertionError("손 구현이 PyTorch 어텐션을 몰래 불렀습니다")


@pytest.fixture
def no_torch_attention(monkeypatch):
    """손 구현이 도는 동안 PyTorch의 어텐션 구현을 부르면 실패하게 합니다."""
    monkeypatch.setattr(F, "scaled_dot_product_attention", _raise)
    monkeypatch.setattr(F, "multi_head_attention_forward", _raise)
    monkeypatch.setattr(nn.MultiheadAttention, "forward", _raise)
    return monkeypatch


def _masks(b=3, h=2, t=5, s=6):
    lengths = torch.tensor([6, 4, 2])
    tokens = torch.where(torch.arange(s)[None] < lengths[:, None], torch.tensor(7), torch.tensor(L.PAD))
    return L.padding_mask(tokens), L.causal_mask(t)


# ---------------------------------------------------------------------------
# 어텐션
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("use_mask", ["none", "padding", "causal", "padding_causal"])
def test_attention_matches_sdpa(no_torch_attention, use_mask):
    torch.manual_seed(0)
    pad, causal = _masks()
    t = 6 if "causal" in use_mask else 5
    q = torch.randn(3, 2, t, 8, dtype=torch.float64, requires_grad=True)
    k = torch.randn(3, 2, 6, 8, dtype=torch.float64, requires_grad=True)
    v = torch.randn(3, 2, 6, 8, dtype=torch.float64, requires_grad=True)
    mask = {"none": None, "padding": pad, "causal": L.causal_mask(6),
            "padding_causal": pad & L.causal_mask(6)}[use_mask]
    out, weights = L.scaled_dot_product_attention(q, k, v, mask)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    no_torch_attention.undo()
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    ref_grads = torch.autograd.grad(ref.square().sum(), (q, k, v))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    for g, rg in zip(grads, ref_grads):
        torch.testing.assert_close(g, rg, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)))
    if "padding" in use_mask:  # 패딩 키에는 가중치가 정확히 0
        assert weights[2, :, :, 2:].abs().max() == 0
    if "causal" in use_mask:  # 미래 키에도 정확히 0
        assert weights.triu(1).abs().max() == 0


def _copy_to_torch_mha(mine: L.MultiHeadAttention, d: int, heads: int) -> nn.MultiheadAttention:
    ref = nn.MultiheadAttention(d, heads, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([mine.q_proj.weight, mine.k_proj.weight, mine.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([mine.q_proj.bias, mine.k_proj.bias, mine.v_proj.bias]))
        ref.out_proj.weight.copy_(mine.out_proj.weight)
        ref.out_proj.bias.copy_(mine.out_proj.bias)
    return ref


@pytest.mark.parametrize("kind", ["cross_padding", "self_causal"])
def test_multi_head_attention_matches_torch(no_torch_attention, kind):
    torch.manual_seed(1)
    d, heads = 16, 4
    mine = L.MultiHeadAttention(d, heads, fused=False)
    ref = _copy_to_torch_mha(mine, d, heads)
    pad, _ = _masks()
    x = torch.randn(3, 5 if kind == "cross_padding" else 6, d, requires_grad=True)
    mem = torch.randn(3, 6, d, requires_grad=True)
    if kind == "cross_padding":
        key, mask, torch_kwargs = mem, pad, {"key_padding_mask": ~pad[:, 0, 0, :]}
    else:
        key, mask, torch_kwargs = x, L.causal_mask(6), {"attn_mask": ~L.causal_mask(6)}
    out = mine(x, key, key, mask, need_weights=True)
    params = (mine.q_proj.weight, mine.k_proj.weight, mine.v_proj.weight, mine.out_proj.weight)
    grads = torch.autograd.grad(out.square().sum(), (x, mem, *params), allow_unused=True)
    weights = mine.last_weights
    no_torch_attention.undo()
    ref_out, ref_weights = ref(x, key, key, need_weights=True, average_attn_weights=False, **torch_kwargs)
    ref_grads = torch.autograd.grad(ref_out.square().sum(), (x, mem, ref.in_proj_weight, ref.out_proj.weight),
                                    allow_unused=True)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, ref_weights, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grads[0], ref_grads[0], atol=1e-5, rtol=1e-5)
    if kind == "cross_padding":
        torch.testing.assert_close(grads[1], ref_grads[1], atol=1e-5, rtol=1e-5)
    for i, in_proj_rows in enumerate(ref_grads[2].split(d)):  # in_proj_weight = [W_q; W_k; W_v]
        torch.testing.assert_close(grads[2 + i], in_proj_rows, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grads[5], ref_grads[3], atol=1e-5, rtol=1e-5)
    # 모델 안에서 쓰는 fused 경로(F.scaled_dot_product_attention)도 같은 값
    mine.fused = True
    torch.testing.assert_close(mine(x, key, key, mask), out, atol=1e-5, rtol=1e-5)


def _tiny_model(vocab=30, **kw):
    torch.manual_seed(0)
    model = L.Seq2SeqTransformer(L.ModelConfig(vocab_size=vocab, d_model=32, n_heads=4, n_layers=2, d_ff=64,
                                               dropout=0.0, max_len=64, **kw))
    return model.eval()


@pytest.mark.parametrize("post_norm", [False, True])
def test_causal_mask_prevents_looking_ahead(post_norm):
    model = _tiny_model(post_norm=post_norm)
    src = torch.tensor([[5, 6, 7, 8, L.EOS]])
    tgt = torch.tensor([[L.BOS, 9, 10, 11, 12, 13]])
    changed = tgt.clone()
    changed[0, 4:] = torch.tensor([20, 21])  # 미래(4번째 이후) 토큰만 바꿈
    with torch.no_grad():
        a, b = model(src, tgt), model(src, changed)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert (a[:, 4:] - b[:, 4:]).abs().max() > 1e-3


def test_positional_encoding_values():
    pe = L.sinusoidal_encoding(50, 8)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0] * 4))
    assert pe[1, 0].item() == pytest.approx(math.sin(1.0), abs=1e-6)
    assert pe[1, 1].item() == pytest.approx(math.cos(1.0), abs=1e-6)
    assert pe[7, 2].item() == pytest.approx(math.sin(7 / 10000 ** (2 / 8)), abs=1e-6)
    assert pe[7, 7].item() == pytest.approx(math.cos(7 / 10000 ** (6 / 8)), abs=1e-6)
    # 상대 위치 k만큼 옮기기 = pos와 무관한 회전(선형 변환): PE[pos + 3] = PE[pos] @ R(3)
    w = torch.exp(-math.log(10000.0) * torch.arange(0, 8, 2) / 8) * 3
    rot = torch.zeros(8, 8)
    for i, a in enumerate(w):
        rot[2 * i:2 * i + 2, 2 * i:2 * i + 2] = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    torch.testing.assert_close(pe[:40] @ rot, pe[3:43], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(L.shift_rotation(8, 3), rot)  # 레슨이 출력하는 설명도 같은 회전을 씀
    assert L.explain_positional_encoding(8) < 1e-5
    # 내적은 거리에만 달려 있음
    assert (pe[10] @ pe[14]).item() == pytest.approx((pe[30] @ pe[34]).item(), abs=1e-5)
    # 학습되는 위치 임베딩도 선택할 수 있음
    learned = L.PositionalEncoding(8, 50, learned=True)
    assert learned.table.requires_grad


def test_tokenizer_round_trip():
    train, _, _ = L.stand_in_pairs()
    texts = [L.normalize(t) for pair in train for t in pair] + [L.normalize("  Ein  Mann, der „Äpfel“ isst!  ")]
    tok = L.train_tokenizer(texts, 300)
    assert [tok.id_to_token(i) for i in range(4)] == L.SPECIALS
    for text in texts:
        assert L.decode(tok, L.encode(tok, text)) == text
    restored = L.tokenizer_from_json(tok.to_str())
    assert restored.encode(texts[0]).ids == tok.encode(texts[0]).ids


def test_tokenizer_round_trip_on_real_text(real_data_dir):
    """실제 Multi30k 문장(독일어 움라우트·ß, 따옴표, 하이픈 포함)도 정규화한 형태 그대로 돌아와야 합니다."""
    train, _, _ = L.load_multi30k(real_data_dir, {"train": 500, "val": 1, "test_2016_flickr": 1})
    texts = [t for pair in train for t in pair]
    tok = L.train_tokenizer(texts, 1000)
    mismatches = [t for t in texts if L.decode(tok, L.encode(tok, t)) != t]
    assert not mismatches, mismatches[:3]


def test_beam_one_equals_greedy_and_beam_is_not_worse():
    model = _tiny_model()
    src = torch.tensor([[5, 6, 7, 8, L.EOS], [9, 10, L.EOS, L.PAD, L.PAD], [11, 12, 13, L.EOS, L.PAD]])
    greedy = L.greedy_decode(model, src)
    assert L.beam_search(model, src, beam=1) == greedy
    assert all(len(h) > 0 for h in L.beam_search(model, src, beam=4))


def test_decoding_stops_within_positional_table():
    """긴 원문(1.5배 규칙이면 위치 표 64칸을 넘음)도 디코딩이 위치 표 안에서 멈춥니다."""
    model = _tiny_model()
    src = torch.tensor([[5 + i % 20 for i in range(59)] + [L.EOS]])
    for hyps in (L.greedy_decode(model, src), L.beam_search(model, src, beam=2)):
        assert len(hyps) == 1 and len(hyps[0]) <= model.config.max_len


def test_bleu_through_sacrebleu_known_pair():
    score, signature = L.corpus_bleu(["The cat is on the mat."], ["The cat sat on the mat."])
    # 13a 토큰: 1~4-gram 정밀도 6/7, 4/6, 2/5, 1/4, 길이 같음(BP=1)
    assert score.score == pytest.approx(100 * (6 / 7 * 4 / 6 * 2 / 5 * 1 / 4) ** 0.25, abs=1e-3)
    assert "case:mixed" in signature and "tok:13a" in signature
    assert L.corpus_bleu(["A dog runs."], ["A dog runs."])[0].score == pytest.approx(100.0)
    assert L.corpus_bleu(["a dog runs."], ["A dog runs."])[0].score < 100.0  # 대소문자 구분


def test_token_batches_respect_budget():
    src = [[5] * n + [L.EOS] for n in range(1, 40)]
    tgt = [[L.BOS] + [6] * n + [L.EOS] for n in range(1, 40)]
    batches = L.TokenBatches(src, tgt, max_tokens=60, shuffle=True, seed=0)
    seen = 0
    for (s, t_in), t_out in batches:
        assert s.numel() <= 60 and t_in.numel() <= 60 or s.size(0) == 1
        assert t_in.shape == t_out.shape
        seen += s.size(0)
    assert seen == len(src)


# ---------------------------------------------------------------------------
# --quick 실행 (실제 데이터 / 대체 데이터)과 --translate
# ---------------------------------------------------------------------------
def _check_run(out_dir, source):
    m = read_metrics(out_dir, NAME)
    assert m["data_source"] == source
    assert {"bleu", "bleu_greedy"} <= set(m["metrics"])
    assert 0 <= m["metrics"]["bleu"] <= 100 and m["wall_seconds"] > 0
    # 찍기(균등 분포)의 손실 ln(V)보다 확실히 낮아야 학습된 것
    assert m["metrics"]["val_loss_per_epoch"][-1] < m["metrics"]["uniform_loss"] - 1.0
    run_dir = out_dir / f"{NAME}-quick"
    for fig in ["positional_encoding.png", "learning_curves.png", "lr_schedule.png", "attention.png"]:
        assert (run_dir / fig).stat().st_size > 5000
    return m


def test_quick_real_data(real_data_dir, tmp_path):
    assert run_main(L, ["--quick", "--data-dir", str(real_data_dir), "--out-dir", str(tmp_path)]) == 0
    m = _check_run(tmp_path, "local")
    assert m["n_train"] == 3000 and m["n_test"] == 100


@pytest.fixture(scope="module")
def fallback_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("08 대체")
    empty = tmp_path_factory.mktemp("빈 데이터")
    assert run_main(L, ["--quick", "--no-download", "--data-dir", str(empty), "--out-dir", str(out)]) == 0
    return out


def test_quick_fallback(fallback_run):
    _check_run(fallback_run, "fallback")


def test_require_data_fails_clearly(empty_data_dir, tmp_path, capsys):
    code = run_main(L, ["--quick", "--require-data", "--data-dir", str(empty_data_dir), "--out-dir", str(tmp_path)])
    assert code == 2
    assert "Multi30k 데이터를 찾을 수 없습니다" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--dropout", "1.5"], "0 이상 1 미만"),
    (["--label-smoothing", "abc"], "숫자가 필요합니다"),
    (["--beam", "0"], "1 이상의 정수"),
    (["--d-model", "30", "--heads", "4"], "나누어떨어져야"),
    (["--d-model", "255", "--heads", "5"], "짝수"),
])
def test_invalid_option_values(argv, message, capsys):
    assert run_main(L, argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def _translate(out_dir, *extra):
    return run_main(L, ["--quick", "--out-dir", str(out_dir), *extra])


def test_translate_sentence_and_file(fallback_run, tmp_path, capsys):
    assert _translate(fallback_run, "--translate", "Ein Mann läuft im Park.", "--beam", "3") == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0]
    lines = tmp_path / "문장.txt"
    lines.write_text("Ein Hund sitzt im Schnee.\n\nZwei Männer spielen am Strand.\n", encoding="utf-8")
    assert _translate(fallback_run, "--translate-file", str(lines)) == 0
    out = capsys.readouterr().out.split("\n")
    assert len(out) == 4 and out[0] and out[1] == "" and out[2] and out[3] == ""  # 빈 줄은 빈 줄로


@pytest.mark.parametrize("argv, message", [
    (["--translate", "   "], "번역할 문장이 비어 있습니다"),
    (["--translate", "안녕하세요"], "글자를 하나도 알아볼 수 없습니다"),
    (["--translate-file", "없는파일.txt"], "번역할 파일이 없습니다"),
])
def test_translate_bad_input(fallback_run, argv, message, capsys):
    assert _translate(fallback_run, *argv) == 2
    assert message in capsys.readouterr().err


def test_translate_very_long_sentence(fallback_run, capsys):
    """위치 인코딩 표보다 긴 입력도 잘라서 번역하고 한 줄로 끝납니다 (오류·트레이스백 없음)."""
    assert _translate(fallback_run, "--translate", " ".join(["Ein Mann läuft im Park."] * 60)) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0]


def test_translate_unknown_chars_and_missing_checkpoint(fallback_run, tmp_path, capsys):
    assert _translate(fallback_run, "--translate", "Ein Mann läuft im Park ☃.") == 0
    assert "어휘 사전에 없는 글자" in capsys.readouterr().err
    empty = tmp_path / "e.txt"
    empty.write_text("\n\n", encoding="utf-8")
    assert _translate(fallback_run, "--translate-file", str(empty)) == 2
    assert "빈 파일" in capsys.readouterr().err
    assert _translate(tmp_path, "--translate", "Ein Mann.") == 2
    assert "체크포인트가 없습니다" in capsys.readouterr().err
