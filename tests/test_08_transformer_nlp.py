"""08 Transformer 번역: 손으로 쓴 어텐션·위치 인코딩·디코딩을 PyTorch/sacreBLEU와 비교하고,
원본(c6c022a)과 같은 학습 3걸음(지문), 대체 데이터 실행·--resume·--translate·잘못된 입력을 확인."""
from __future__ import annotations

import itertools
import json
import math
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import ROOT, lesson, read_metrics, run_main
from utils import model_utils
from utils.datasets import multi30k

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
    train, _, _ = multi30k.stand_in_pairs()
    texts = [L.normalize(t) for pair in train for t in pair] + [L.normalize("  Ein  Mann, der „Äpfel“ isst!  ")]
    tok = L.train_tokenizer(texts, 300)
    assert [tok.id_to_token(i) for i in range(4)] == L.SPECIALS
    for text in texts:
        assert L.decode(tok, L.encode(tok, text)) == text
    restored = L.Tokenizer.from_str(tok.to_str())  # 체크포인트에 넣은 어휘 사전이 그대로 돌아옴
    assert restored.encode(texts[0]).ids == tok.encode(texts[0]).ids


def test_tokenizer_round_trip_on_real_text(real_data_dir):
    """실제 Multi30k 문장(독일어 움라우트·ß, 따옴표, 하이픈 포함)도 정규화한 형태 그대로 돌아와야 합니다."""
    train, _, _ = multi30k.read_splits(real_data_dir, {"train": 500, "val": 1, "test_2016_flickr": 1})
    assert len(train) == 500
    texts = [L.normalize(t) for pair in train for t in pair]
    tok = L.train_tokenizer(texts, 1000)
    mismatches = [t for t in texts if L.decode(tok, L.encode(tok, t)) != t]
    assert not mismatches, mismatches[:3]


# ---------------------------------------------------------------------------
# 디코딩: 손으로 정한 확률표에서 빔 탐색이 탐욕 디코딩을 이겨야 합니다
# ---------------------------------------------------------------------------
X, Y, Z = 4, 5, 6
NEXT = {  # 마지막 토큰 → 다음 토큰 확률 (어휘: <pad> <bos> <eos> <unk> x y z)
    L.BOS: {X: 0.5, Y: 0.45, L.EOS: 0.05},
    X: {Z: 0.4, Y: 0.35, L.EOS: 0.25},
    Y: {Z: 0.9, X: 0.05, L.EOS: 0.05},
    Z: {L.EOS: 1.0},
}


def fake_step(ys):
    """디코더 대신: 지금까지의 번역(ys)의 마지막 토큰만 보고 NEXT 표의 로그 확률을 돌려줍니다."""
    rows = []
    for last in ys[:, -1].tolist():
        probs = torch.zeros(7)
        for token, p in NEXT.get(last, {L.PAD: 1.0}).items():
            probs[token] = p
        rows.append(probs.log())
    return torch.stack(rows)


def test_beam_finds_the_better_sentence_that_greedy_misses():
    """탐욕은 첫 토큰 x(0.5)를 골라 x z = 0.5×0.4×1 = 0.2, 빔 2는 y(0.45)도 남겨 y z = 0.45×0.9×1 = 0.405."""
    greedy_ids, greedy_scores = L.greedy_search(fake_step, 1, 10)
    beam_ids, beam_scores = L.beam_search(fake_step, 1, 10, beam=2)
    assert greedy_ids == [[X, Z]] and beam_ids == [[Y, Z]]
    assert greedy_scores[0] == pytest.approx(math.log(0.5 * 0.4), abs=1e-5)
    assert beam_scores[0] == pytest.approx(math.log(0.45 * 0.9), abs=1e-5)
    assert beam_scores[0] > greedy_scores[0]
    # 빔 1은 탐욕과 같고, 문장 여러 개를 한꺼번에 넣어도 문장마다 같은 답
    assert L.beam_search(fake_step, 1, 10, beam=1) == (greedy_ids, greedy_scores)
    ids, scores = L.beam_search(fake_step, 3, 10, beam=2)
    assert ids == [[Y, Z]] * 3 and scores == pytest.approx([math.log(0.405)] * 3, abs=1e-5)


def test_lesson_toy_example_prints_what_it_claims():
    assert L.greedy_search(L.toy_step, 1, 5)[0] == [[4]]
    ids, scores = L.beam_search(L.toy_step, 1, 5, beam=2)
    assert ids == [[5]] and math.exp(scores[0]) == pytest.approx(0.36, abs=1e-6)


def test_beam_one_equals_greedy_on_a_model():
    model = _tiny_model()
    src = torch.tensor([[5, 6, 7, 8, L.EOS], [9, 10, L.EOS, L.PAD, L.PAD], [11, 12, 13, L.EOS, L.PAD]])
    greedy = L.decode_batch(model, src)
    limit = L.max_steps(model, src)
    with torch.no_grad():
        beam_one, beam_one_scores = L.beam_search(L.decoder_step(model, src), 3, limit, beam=1)
        _, greedy_scores = L.greedy_search(L.decoder_step(model, src), 3, limit)
        beam_four = L.beam_search(L.decoder_step(model, src, copies=4), 3, limit, beam=4)[0]
    assert beam_one == greedy and beam_one_scores == pytest.approx(greedy_scores, abs=1e-5)
    assert beam_four == L.decode_batch(model, src, beam=4)


def test_decoding_stops_within_positional_table():
    """긴 원문(1.5배 규칙이면 위치 표 64칸을 넘음)도 디코딩이 위치 표 안에서 멈춥니다."""
    model = _tiny_model()
    src = torch.tensor([[5 + i % 20 for i in range(59)] + [L.EOS]])
    for beam in (1, 2):
        hyps = L.decode_batch(model, src, beam=beam)
        assert len(hyps) == 1 and len(hyps[0]) <= model.config.max_len


def test_bleu_through_sacrebleu_known_pair():
    score, signature = L.corpus_bleu(["The cat is on the mat."], ["The cat sat on the mat."])
    # 13a 토큰: 1~4-gram 정밀도 6/7, 4/6, 2/5, 1/4, 길이 같음(BP=1)
    assert score.score == pytest.approx(100 * (6 / 7 * 4 / 6 * 2 / 5 * 1 / 4) ** 0.25, abs=1e-3)
    assert "case:mixed" in signature and "tok:13a" in signature
    assert L.corpus_bleu(["A dog runs."], ["A dog runs."])[0].score == pytest.approx(100.0)
    assert L.corpus_bleu(["a dog runs."], ["A dog runs."])[0].score < 100.0  # 대소문자 구분


# ---------------------------------------------------------------------------
# 배치, 가중치 평균, 원본과 같은 학습 (지문)
# ---------------------------------------------------------------------------
def test_token_batches_respect_budget_and_resume_order():
    src = [[5] * n + [L.EOS] for n in range(1, 40)]
    tgt = [[L.BOS] + [6] * n + [L.EOS] for n in range(1, 40)]
    batches = L.TokenBatches(src, tgt, max_tokens=60, shuffle=True, seed=0)
    seen = 0
    for (s, t_in), t_out in batches:
        assert s.numel() <= 60 and t_in.numel() <= 60 or s.size(0) == 1
        assert t_in.shape == t_out.shape
        assert torch.equal(t_in[:, 1:], t_out[:, :-1])  # 정답 = 디코더 입력을 한 칸 민 것
        seen += s.size(0)
    assert seen == len(src)
    # 상태를 저장해 새 반복기에 넣으면 다음 에폭들의 배치 순서가 똑같습니다 (--resume)
    copy = L.TokenBatches(src, tgt, max_tokens=60, shuffle=True, seed=123)
    copy.load_state_dict(batches.state_dict())
    for _ in range(2):
        assert [b[0][0].tolist() for b in batches] == [b[0][0].tolist() for b in copy]


def test_weight_average_keeps_last_k():
    model = nn.Linear(2, 1)
    avg = L.WeightAverage(2)
    for value in (1.0, 2.0, 4.0):
        with torch.no_grad():
            model.weight.fill_(value)
        avg.add(model)
    assert len(avg.snapshots) == 2
    torch.testing.assert_close(avg.average()["weight"], torch.full((1, 2), 3.0))
    restored = L.WeightAverage(2)
    restored.load_state_dict(avg.state_dict())
    torch.testing.assert_close(restored.average()["weight"], torch.full((1, 2), 3.0))


def test_three_training_steps_match_the_original_fingerprint():
    """원본 레슨(c6c022a)의 기본 실행 설정으로 3걸음 학습한 파라미터와 같아야 합니다 (tests/fixtures 참고)."""
    fp = json.loads((ROOT / "tests" / "fixtures" / "08_transformer_nlp_fingerprint.json").read_text(encoding="utf-8"))
    args = L.build_parser().parse_args([])
    rng = random.Random(fp["seed"])
    src, tgt = [], []
    for _ in range(fp["n_pairs"]):
        s = [rng.randrange(len(L.SPECIALS), fp["vocab_size"]) for _ in range(rng.randint(4, 30))]
        t = [rng.randrange(len(L.SPECIALS), fp["vocab_size"]) for _ in range(rng.randint(4, 30))]
        src.append(s + [L.EOS])
        tgt.append([L.BOS] + t + [L.EOS])
    config = L.model_config(args, fp["vocab_size"], small=False)
    assert vars(config) == fp["config"]
    torch.manual_seed(args.seed)
    model = L.Seq2SeqTransformer(config)
    train_batches = L.TokenBatches(src, tgt, args.batch_size, shuffle=True, seed=args.seed)
    optimizer, scheduler, lr_curve = L.make_optimizer(model, args, len(train_batches))
    assert len(lr_curve) == fp["total_steps"]
    batches = list(itertools.islice(iter(train_batches), 3))
    assert [list(b[0][0].shape) + list(b[0][1].shape) for b in batches] == fp["batch_shapes"]
    result = model_utils.train_one_epoch(model, batches, L.translation_loss(args.label_smoothing), optimizer,
                                         torch.device("cpu"), scheduler=scheduler, clip_grad_norm=1.0)
    assert result["loss"] == pytest.approx(fp["train_loss"], rel=1e-5)
    assert scheduler.get_last_lr()[0] == pytest.approx(fp["lr_after"], rel=1e-9)
    params = dict(model.named_parameters())
    assert set(params) == set(fp["params"])
    for name, expected in fp["params"].items():
        d = params[name].detach().double()
        actual = [d.sum().item(), d.abs().sum().item(), *d.flatten()[:4].tolist()]
        wanted = [expected["sum"], expected["abs_sum"], *expected["first4"]]
        assert actual == pytest.approx(wanted, rel=1e-5, abs=1e-6), name


# ---------------------------------------------------------------------------
# 대체 데이터로 전체 흐름, --resume, --translate
# ---------------------------------------------------------------------------
FALLBACK_EPOCHS = "4"


def _fallback_argv(empty, out, *extra):
    return ["--no-download", "--data-dir", str(empty), "--out-dir", str(out), "--epochs", FALLBACK_EPOCHS,
            "--threads", "1", *extra]


@pytest.fixture(scope="module")
def fallback_root(tmp_path_factory):
    return tmp_path_factory.mktemp("빈 데이터")


@pytest.fixture(scope="module")
def fallback_run(tmp_path_factory, fallback_root):
    """대체 데이터로 끝까지 (작은 모델, 4에폭). --translate 가 쓰는 전체 학습 폴더에 체크포인트를 남깁니다."""
    out = tmp_path_factory.mktemp("08 대체")
    assert run_main(L, _fallback_argv(fallback_root, out)) == 0
    return out


def test_fallback_run_learns_and_records(fallback_run):
    m = read_metrics(fallback_run, NAME, quick=False)
    assert m["data_source"] == "fallback" and m["epochs"] == 4 and m["n_train"] == 228 and m["n_test"] == 30
    assert {"bleu", "bleu_greedy"} <= set(m["metrics"]) and 0 <= m["metrics"]["bleu"] <= 100
    assert m["metrics"]["averaged_epochs"] == 3 and len(m["metrics"]["val_bleu_per_epoch"]) == 4
    # 찍기(균등 분포)의 손실 ln(V)보다 확실히 낮아야 학습된 것
    assert m["metrics"]["val_loss_per_epoch"][-1] < m["metrics"]["uniform_loss"] - 1.0
    for fig in ["positional_encoding.png", "learning_curves.png", "lr_schedule.png", "attention.png"]:
        assert (fallback_run / NAME / fig).stat().st_size > 5000


def test_interrupted_run_resumes_to_the_same_weights(fallback_run, fallback_root, tmp_path, capsys, monkeypatch):
    """3번째 에폭에서 멈춘 뒤 --resume 하면 끊기지 않은 실행과 같은 가중치·평균·검증 BLEU에 도달합니다."""
    real_epoch, calls = model_utils.train_one_epoch, {"n": 0}

    def stop_at_third_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(model_utils, "train_one_epoch", stop_at_third_epoch)
    assert run_main(L, _fallback_argv(fallback_root, tmp_path)) == 130
    monkeypatch.undo()
    assert run_main(L, _fallback_argv(fallback_root, tmp_path, "--resume")) == 0
    assert "2 에폭 다음부터" in capsys.readouterr().out
    a = model_utils.load_checkpoint(fallback_run / NAME / "checkpoint.pt")
    b = model_utils.load_checkpoint(tmp_path / NAME / "checkpoint.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert len(b["averager"]["snapshots"]) == 3
    for sa, sb in zip(a["averager"]["snapshots"], b["averager"]["snapshots"]):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    ma, mb = read_metrics(fallback_run, NAME, quick=False), read_metrics(tmp_path, NAME, quick=False)
    assert mb["metrics"]["val_bleu_per_epoch"] == ma["metrics"]["val_bleu_per_epoch"]
    assert mb["metrics"]["bleu"] == ma["metrics"]["bleu"]
    # 어휘 사전(모델 설정)이 달라지는 옵션으로는 이어서 학습하지 않습니다
    assert run_main(L, _fallback_argv(fallback_root, tmp_path, "--resume", "--vocab-size", "100")) == 2
    assert "체크포인트의 config 가 지금 설정과 다릅니다" in capsys.readouterr().err


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
    (["--translate", ""], "번역할 문장이 비어 있습니다"),
])
def test_invalid_option_values(argv, message, tmp_path, capsys):
    assert run_main(L, [*argv, "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / NAME / "checkpoint.pt").exists()  # 학습을 시작하지 않음


def _translate(out_dir, *extra):
    return run_main(L, ["--out-dir", str(out_dir), *extra])


def test_translate_sentence_and_file(fallback_run, tmp_path, capsys):
    assert _translate(fallback_run, "--translate", "Ein Mann läuft im Park.", "--beam", "3") == 0
    captured = capsys.readouterr()
    out = captured.out.strip().splitlines()
    assert len(out) == 1 and out[0]  # 표준 출력에는 번역만 (시작 안내는 표준 오류로)
    assert "[08_transformer_nlp]" in captured.err and "빔 탐색 (빔 3)" in captured.err
    lines = tmp_path / "문장.txt"
    lines.write_text("Ein Hund sitzt im Schnee.\n\nZwei Männer spielen am Strand.\n", encoding="utf-8")
    assert _translate(fallback_run, "--translate-file", str(lines)) == 0
    out = capsys.readouterr().out.split("\n")
    assert len(out) == 4 and out[0] and out[1] == "" and out[2] and out[3] == ""  # 빈 줄은 빈 줄로


def test_translate_uses_the_averaged_weights(fallback_run):
    """--translate 의 모델 = 체크포인트에 저장한 마지막 3에폭의 평균 (마지막 가중치가 아님)."""
    state = model_utils.load_checkpoint(fallback_run / NAME / "checkpoint.pt")
    model, tokenizer = L.load_translator(fallback_run / NAME / "checkpoint.pt", torch.device("cpu"))
    key = "embed.weight"
    mean = torch.stack([s[key] for s in state["averager"]["snapshots"]]).mean(0)
    torch.testing.assert_close(model.state_dict()[key], mean)
    assert not torch.equal(model.state_dict()[key], state["model"][key])
    assert tokenizer.to_str() == state["tokenizer"]


@pytest.mark.parametrize("argv, message", [
    (["--translate", "   "], "번역할 문장이 비어 있습니다"),
    (["--translate", "안녕하세요"], "글자를 하나도 알아볼 수 없습니다"),
    (["--translate-file", "없는파일.txt"], "번역할 파일이 없습니다"),
])
def test_translate_bad_input(fallback_run, argv, message, capsys):
    assert _translate(fallback_run, *argv) == 2
    assert message in capsys.readouterr().err


def test_translate_very_long_sentence(fallback_run, capsys):
    """위치 인코딩 표보다 긴 입력(문장 60개)도 문장마다 번역해 한 줄로 끝납니다 (오류·트레이스백 없음)."""
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
    other = tmp_path / NAME
    other.mkdir(exist_ok=True)
    model_utils.save_checkpoint({"model": {}}, other / "checkpoint.pt")  # 다른 레슨의 체크포인트 흉내
    assert _translate(tmp_path, "--translate", "Ein Mann.") == 2
    assert "이 레슨의 번역 모델이 아닙니다" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# 잔차 연결과 층 정규화 (7절)
# ---------------------------------------------------------------------------
def _no_library(*args, **kwargs):
    raise AssertionError("손 구현이 라이브러리 구현을 몰래 불렀습니다")


def test_hand_layer_norm_matches_torch(monkeypatch):
    torch.manual_seed(3)
    x = (torch.randn(2, 5, 16, dtype=torch.float64) * 3 + 1).requires_grad_()
    mine = L.LayerNorm(16).double()
    with torch.no_grad():  # γ, β 도 1·0이 아닌 값으로
        mine.weight.copy_(torch.randn(16))
        mine.bias.copy_(torch.randn(16))
    ref = nn.LayerNorm(16).double()
    ref.load_state_dict(mine.state_dict())  # 파라미터 이름도 같음 (weight = γ, bias = β)
    monkeypatch.setattr(F, "layer_norm", _no_library)
    monkeypatch.setattr(torch, "layer_norm", _no_library)
    with pytest.raises(AssertionError):
        ref(x)  # 막혔는지 확인
    out = mine(x)
    grads = torch.autograd.grad(out.square().sum(), (x, mine.weight, mine.bias))
    plain = L.LayerNorm(16).double()(x)  # γ = 1, β = 0: 토큰마다 평균 0, 분산 1
    monkeypatch.undo()
    ref_out = ref(x)
    ref_grads = torch.autograd.grad(ref_out.square().sum(), (x, ref.weight, ref.bias))
    torch.testing.assert_close(out, ref_out, atol=1e-10, rtol=1e-10)
    for g, rg in zip(grads, ref_grads):
        torch.testing.assert_close(g, rg, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(plain.mean(-1), torch.zeros(2, 5, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(plain.var(-1, unbiased=False), torch.ones(2, 5, dtype=torch.float64), atol=1e-4, rtol=0)
    # 모델의 부분층이 쓰는 nn.LayerNorm 과 같은 eps
    assert L.LayerNorm(8).eps == L.Sublayer(8, 0.0, False).norm.eps


def test_residual_connection_keeps_the_gradient():
    norms = L.residual_gradients()
    assert norms[False] < 1e-3 < 0.5 < norms[True]  # 잔차 없이 20층: 그래디언트가 거의 사라짐
    assert norms == L.residual_gradients()  # 자기 난수 생성기만 씀 (전역 난수와 무관, 매번 같은 값)
    state = torch.random.get_rng_state()
    L.residual_gradients()
    assert torch.equal(state, torch.random.get_rng_state())


# ---------------------------------------------------------------------------
# BPE 합치기 (2절)
# ---------------------------------------------------------------------------
TOY_MERGES = [("e", "s"), ("es", "t"), ("l", "o"), ("▁", "lo"), ("▁lo", "w"), ("e", "w"), ("n", "ew"),
              ("▁", "new"), ("▁new", "est"), ("d", "est")]


def test_hand_bpe_merges_on_the_toy_corpus():
    """손으로 센 결과: es·st·t 뒤(9번)가 먼저, 그다음 l o(7번)… 동점이면 먼저 생긴 기호의 쌍."""
    assert L.learn_bpe(L.TOY_WORDS, 10) == TOY_MERGES
    assert L.learn_bpe({"▁aaa": 1}, 5) == [("a", "a"), ("▁", "aa"), ("▁aa", "a")]  # 왼쪽부터 합침, 다 합치면 멈춤
    assert L.learn_bpe({"ab": 2, "ba": 2}, 1) == [("a", "b")]  # 동점: 유니코드 순으로 앞선 기호


def test_hand_bpe_equals_the_tokenizers_library():
    """레슨이 쓰는 tokenizers BPE 학습기도 같은 말뭉치에서 같은 조각을 같은 순서로 만듭니다."""
    corpus = [w[1:] for w, c in L.TOY_WORDS.items() for _ in range(c)]
    base = len(L.SPECIALS) + len({ch for w in L.TOY_WORDS for ch in w})
    for k in (10, 14):
        tok = L.train_tokenizer(corpus, base + k)
        made = [tok.id_to_token(i) for i in range(base, tok.get_vocab_size())]
        assert made == [a + b for a, b in L.learn_bpe(L.TOY_WORDS, k)]
        merges = json.loads(tok.to_str())["model"]["merges"]
        assert [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges] == L.learn_bpe(L.TOY_WORDS, k)
    assert tok.encode("lowest").tokens == ["▁low", "est"]


# ---------------------------------------------------------------------------
# BLEU를 손으로 (11절): sacreBLEU를 못 쓰게 막고 계산한 뒤 sacreBLEU와 비교
# ---------------------------------------------------------------------------
@pytest.fixture
def no_sacrebleu(monkeypatch):
    import sacrebleu
    from sacrebleu.metrics import bleu, helpers
    from sacrebleu.tokenizers import tokenizer_13a, tokenizer_re

    for owner, name in [(bleu.BLEU, "corpus_score"), (bleu.BLEU, "sentence_score"), (bleu.BLEU, "_compute_score_from_stats"),
                        (sacrebleu, "corpus_bleu"), (sacrebleu, "sentence_bleu"), (sacrebleu, "BLEU"),
                        (tokenizer_13a.Tokenizer13a, "__call__"), (tokenizer_re.TokenizerRegexp, "__call__"),
                        (helpers, "extract_all_word_ngrams"), (bleu, "extract_all_word_ngrams")]:
        monkeypatch.setattr(owner, name, _no_library)
    monkeypatch.setattr(bleu.BLEU, "compute_bleu", staticmethod(_no_library))
    return monkeypatch


def _check_against_sacrebleu(no_sacrebleu, hyps, refs):
    import sacrebleu

    with pytest.raises(AssertionError):
        sacrebleu.corpus_bleu(hyps, [refs])  # 막혔는지 확인
    mine = L.bleu_by_hand(hyps, refs)
    tokens = [L.tokenize_13a(s) for s in hyps + refs]
    no_sacrebleu.undo()
    lib = sacrebleu.corpus_bleu(hyps, [refs])
    assert abs(mine["score"] - lib.score) <= 1e-6, (mine, lib)
    assert mine["bp"] == pytest.approx(lib.bp, abs=1e-12)
    assert (mine["hyp_len"], mine["ref_len"]) == (lib.sys_len, lib.ref_len)
    for p, count, lib_p in zip(mine["precisions"], lib.counts, lib.precisions):
        if count:  # 맞은 n-gram이 있는 차수의 정밀도 (0인 차수는 sacreBLEU가 스무딩한 값을 보여 줌)
            assert p == pytest.approx(lib_p, abs=1e-9)
    tokenizer = sacrebleu.tokenizers.tokenizer_13a.Tokenizer13a()
    assert tokens == [tokenizer(s.rstrip()).split() for s in hyps + refs]
    # 레슨의 corpus_bleu (학습 중 검증·결과 기록에 쓰는 sacreBLEU) 도 같은 값
    assert L.corpus_bleu(hyps, refs)[0].score == pytest.approx(lib.score, abs=1e-9)
    return mine, lib


def _perturb(ref: str, i: int) -> str:
    """참조 번역을 체계적으로 망가뜨린 모델 번역 흉내 (12가지)."""
    w = ref.split()
    return [ref, " ".join(w[:-1]), " ".join(w[1:2] + w[:1] + w[2:]), ref.lower(),
            " ".join("something" if j % 3 == 2 else x for j, x in enumerate(w)), " ".join(w[:len(w) // 2]),
            " ".join([w[0]] * 4 + w), ref.replace(".", "").replace(",", ""), ref + " in the picture .",
            " ".join(reversed(w)), "", " ".join(w[:2])][i % 12]


def test_hand_bleu_equals_sacrebleu_on_multi30k_references(no_sacrebleu, real_data_dir):
    # 테스트 세트 1,000문장 전부 (12가지로 망가뜨린 번역). 본 학습 모델의 번역 1,000개에 대한 비교는 실행마다
    # metrics.json 의 bleu 와 bleu_by_hand 로 남습니다.
    _, _, test = multi30k.read_splits(real_data_dir, {"train": 1, "val": 1, "test_2016_flickr": None})
    assert len(test) == 1000
    refs = [L.normalize(e) for _, e in test]
    hyps = [_perturb(r, i) for i, r in enumerate(refs)]
    mine, lib = _check_against_sacrebleu(no_sacrebleu, hyps, refs)
    assert 20 < lib.score < 90 and lib.bp < 1.0  # 현실적인 범위의 점수, 짧은 번역 벌점도 걸림
    assert mine["precisions"][3] > 0


EDGE_CASES = {
    "모두 빈 번역": (["", "", ""], ["A man sleeps.", "Two dogs run.", "A child plays."]),
    "아주 짧은 번역 (4-gram 없음)": (["A man.", "Dogs", "A"], ["A man sleeps.", "Two dogs run.", "A child plays."]),
    "한 개만 빔": (["", "A man is riding a bike down the street."], ["A dog.", "A man is riding a bike down the street."]),
    "4-gram 일치 없음": (["A man is on a bike down a street."], ["A man is riding a bike down the street."]),
    "3·4-gram 일치 없음": (["A man riding is a bike the street down."], ["A man is riding a bike down the street."]),
    "2·3·4-gram 일치 없음": (["street the down bike a riding is man A ."], ["A man is riding a bike down the street."]),
    "일치 없음": (["Zwei Hunde"], ["A man is riding a bike down the street."]),
    "참조보다 김": (["the the the the the the the the cat cat cat on the mat mat ."], ["The cat is on the mat."]),
    "숫자·기호·엔티티": (["It costs $3.50, isn't it &amp; 5-6 people (maybe)?", "Ein „Test“ -- a-\nb <skipped> x\n"],
                  ["It costs $3.50 , isn't it & 5-6 people (maybe) ?", "Ein „Test“ -- ab x"]),
}


@pytest.mark.parametrize("case", EDGE_CASES, ids=list(EDGE_CASES))
def test_hand_bleu_equals_sacrebleu_on_edge_cases(no_sacrebleu, case):
    hyps, refs = EDGE_CASES[case]
    mine, lib = _check_against_sacrebleu(no_sacrebleu, hyps, refs)
    if case in ("모두 빈 번역", "아주 짧은 번역 (4-gram 없음)", "일치 없음"):
        assert mine["score"] == lib.score == 0.0
    if case.endswith("-gram 일치 없음"):
        assert 0 < mine["score"] < 100 and mine["precisions"][3] == 0  # exp 스무딩이 쓰인 경우


def test_bleu_known_values_by_hand():
    """11절이 출력하는 예: 잘라 세기와 짧은 번역 벌점."""
    ref = "The cat sat on the mat."
    r = L.bleu_by_hand(["the the the the the the."], [ref])
    assert r["precisions"][0] == pytest.approx(100 * 2 / 7)  # "the" 6번 중 1번 + "." 만 맞음
    r = L.bleu_by_hand(["The cat sat on"], [ref])
    assert r["precisions"] == [100.0] * 4 and r["bp"] == pytest.approx(math.exp(1 - 7 / 4))
    assert r["score"] == pytest.approx(100 * math.exp(1 - 7 / 4))
    assert L.bleu_by_hand(["The cat."], [ref])["score"] == 0.0  # 4-gram이 없음
    assert L.bleu_by_hand([ref], [ref])["score"] == pytest.approx(100.0)


# ---------------------------------------------------------------------------
# --translate: 여러 문장은 문장마다, 그래도 긴 문장은 잘린 부분을 알림 (16절)
# ---------------------------------------------------------------------------
def test_split_sentences():
    assert L.split_sentences("Ein Mann läuft.  Zwei Hunde spielen! Wer ist das? Ende") == \
        ["Ein Mann läuft.", "Zwei Hunde spielen!", "Wer ist das?", "Ende"]
    assert L.split_sentences("3.5 Meter. Gut") == ["3.5 Meter.", "Gut"]  # 숫자 안의 점에서는 자르지 않음
    assert L.split_sentences("   ") == [] and L.split_sentences("Ein Satz.") == ["Ein Satz."]


def test_translate_paragraph_sentence_by_sentence(fallback_run, monkeypatch, capsys):
    """짧은 독일어 문장 200개의 문단 → 문장마다 번역해 이어 붙인 영어 문장 200개 (잘려서 하나만 나오지 않음)."""
    _, _, test_pairs = multi30k.stand_in_pairs()
    pairs = (test_pairs * 7)[:200]
    german, english = [d for d, _ in pairs], [e for _, e in pairs]
    paragraph = " ".join(german)
    # 1) 실제 (대체 데이터로 4에폭 학습한) 모델: 문장 200개가 하나씩 모델에 들어가고, 출력은 그 번역들을 이어 붙인 것
    seen, real = [], L.translate_sentences

    def spy(model, tokenizer, sentences, *args, **kwargs):
        seen.append(list(sentences))
        return real(model, tokenizer, sentences, *args, **kwargs)

    monkeypatch.setattr(L, "translate_sentences", spy)
    assert _translate(fallback_run, "--translate", paragraph, "--beam", "1") == 0
    captured = capsys.readouterr()
    out = captured.out.strip().splitlines()
    assert len(out) == 1 and seen == [german]
    assert "앞부분만 번역" not in captured.err
    model, tokenizer = L.load_translator(fallback_run / NAME / "checkpoint.pt", torch.device("cpu"))
    assert out[0] == " ".join(real(model, tokenizer, german, torch.device("cpu")))
    # 2) 문장마다 정답을 내는 번역기로 바꿔 끼우면: 영어 문장 200개가 순서대로 돌아옴
    lookup = dict(test_pairs)
    monkeypatch.setattr(L, "translate_sentences", lambda model, tok, sentences, *a, **k: [lookup[s] for s in sentences])
    assert _translate(fallback_run, "--translate", paragraph) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [" ".join(english)] and len(L.split_sentences(out[0])) == 200


def test_translate_says_what_was_cut(fallback_run, capsys):
    """마침표 없이 토큰 128개를 넘는 한 문장: 번역하지 않은 뒷부분을 그대로 알려 줍니다."""
    text = " ".join(["Ein Mann läuft im Park"] * 40) + " und ein Hund schläft"
    assert _translate(fallback_run, "--translate", text) == 0
    captured = capsys.readouterr()
    assert len(captured.out.strip().splitlines()) == 1
    assert "앞부분만 번역합니다" in captured.err and "토큰 128개" in captured.err
    tail = captured.err.split("«")[1].split("»")[0]
    assert tail and text.endswith(tail) and tail.endswith("und ein Hund schläft")
    _, tokenizer = L.load_translator(fallback_run / NAME / "checkpoint.pt", torch.device("cpu"))
    assert len(tokenizer.encode(text[:-len(tail)].rstrip()).ids) == 128  # 잘린 앞부분 = 모델이 읽는 토큰 128개
