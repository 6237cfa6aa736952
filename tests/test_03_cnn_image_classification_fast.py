"""레슨 03 빠른 레시피 짝 장: 화이트닝(직접 계산한 공분산과 비교), 항등 초기화, 파라미터 무리·삼각형 학습률·떼어 낸
가중치 감쇠, Lookahead(직접 계산한 느린 가중치와 비교, state_dict), --quick(대체 데이터)과 --resume."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import lesson, read_metrics, run_main

F03 = lesson("03_cnn_image_classification-fast")
NAME = "03_cnn_image_classification-fast"
FIGURES = ["whitening_filters.png", "schedules.png", "learning_curves.png", "time_to_accuracy.png",
           "confusion_matrix.png"]


def correlated_images(n: int = 64, seed: int = 0) -> torch.Tensor:
    """이웃 픽셀이 비슷한(상관된) 3채널 이미지."""
    smooth = F.avg_pool2d(torch.randn(n, 3, 20, 20, generator=torch.Generator().manual_seed(seed)), 3, 1)
    return smooth * torch.tensor([1.0, 0.5, 2.0]).view(1, 3, 1, 1)


def test_patch_covariance_matches_a_loop_over_every_patch():
    x = torch.randn(3, 2, 5, 4, generator=torch.Generator().manual_seed(0))
    rows = [x[n, :, i:i + 2, j:j + 2].flatten() for n in range(3) for i in range(4) for j in range(3)]
    patches = torch.stack(rows)
    assert torch.allclose(F03.patch_covariance(x, 2), patches.T @ patches / len(rows), atol=1e-6)


def test_whitening_filters_decorrelate_patches():
    """W C Wᵀ = diag(λ/(λ+eps)): 화이트닝한 12채널은 서로 상관이 없고, 분산은 고윳값이 정한 대로입니다."""
    images = correlated_images()
    w = F03.whitening_weights(images, patch=2, eps=1e-4)
    assert w.shape == (24, 3, 2, 2) and torch.equal(w[12:], -w[:12])
    eigenvalues = torch.linalg.eigvalsh(F03.patch_covariance(images, 2)).double()
    cov = F03.patch_covariance(F.conv2d(images.double(), w[:12].double()), 1)
    assert torch.allclose(cov, torch.diag(eigenvalues / (eigenvalues + 1e-4)), atol=1e-4)
    assert cov.diagonal().min() > 0.9 and eigenvalues.max() / eigenvalues.min() > 100   # 길쭉한 입력을 둥글게


def test_fast_model_starts_as_identity_and_trains_only_batchnorm_biases():
    torch.manual_seed(0)
    whitening = F03.whitening_weights(correlated_images())
    model = F03.build_fast_model((24, 32, 32), 10, torch.device("cpu"), whitening)
    assert torch.equal(model.stem[0].weight, whitening)
    conv = model.blocks[0][0]                       # 24 → 24 채널 3×3: 앞 24개 필터가 입력을 그대로 통과
    x = torch.randn(2, 24, 8, 8)
    assert torch.allclose(conv(x), x, atol=1e-6)
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    assert frozen[0] == "stem.0.weight" and len(frozen) == 1 + 6       # 화이트닝 필터 + 배치 정규화 6개의 γ
    assert all(m.momentum == F03.BN_MOMENTUM for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    logits = model(torch.randn(2, 3, 32, 32).contiguous(memory_format=torch.channels_last))
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()


def test_fast_optimizer_groups_schedule_and_decoupled_weight_decay():
    torch.manual_seed(0)
    model = F03.build_fast_model((8, 16, 16), 10, torch.device("cpu"), F03.whitening_weights(correlated_images()))
    lookahead, scheduler = F03.make_fast_optimizer(model, 0.5, epochs=2, steps_per_epoch=50)
    biases, others = lookahead.optimizer.param_groups
    assert biases["lr"] / others["lr"] == pytest.approx(F03.BIAS_LR_SCALE)
    # 한 단계에 줄어드는 비율(학습률 × weight_decay)은 두 무리가 같고, 최대 학습률에서 WEIGHT_DECAY
    assert biases["lr"] * biases["weight_decay"] == pytest.approx(others["lr"] * others["weight_decay"])
    assert others["lr"] / F03.START_LR * others["weight_decay"] == pytest.approx(F03.WEIGHT_DECAY)
    assert len(biases["params"]) + len(others["params"]) == sum(p.requires_grad for p in model.parameters())
    rates = []
    for _ in range(100):
        rates.append(others["lr"])
        lookahead.step()
        scheduler.step()
        assert lookahead.optimizer.param_groups[1]["momentum"] == F03.MOMENTUM   # 모멘텀은 고정
    assert rates[0] == pytest.approx(0.1) and max(rates) == pytest.approx(0.5)   # 0.2배 → 최대 → 0.07배
    assert rates.index(max(rates)) == 22 and rates[-1] == pytest.approx(0.035)


def test_lookahead_matches_the_slow_average_computed_by_hand():
    """5단계마다 slow ← β·slow + (1-β)·fast, fast ← slow (β = 0.95⁵·(t/T)³), 마지막 단계는 늘 slow."""
    model = torch.nn.Linear(1, 1, bias=False)
    model.weight.data.fill_(1.0)
    total = 12
    lookahead = F03.Lookahead(torch.optim.SGD(model.parameters(), lr=0.1), model, total_steps=total)
    fast = slow = 1.0
    for t in range(1, total + 1):
        model.weight.grad = torch.ones(1, 1)      # 기울기 1 → 한 단계에 0.1 씩 줄어듦
        lookahead.step()
        fast -= 0.1
        if t % 5 == 0:
            beta = 0.95 ** 5 * (t / total) ** 3
            slow = beta * slow + (1 - beta) * fast
            fast = slow
        elif t == total:
            fast = slow
        assert model.weight.item() == pytest.approx(fast, abs=1e-6), t
    again = F03.Lookahead(torch.optim.SGD(model.parameters(), lr=0.1), model, total_steps=total)
    again.load_state_dict(lookahead.state_dict())
    assert again.steps == total and again.slow[0].item() == pytest.approx(slow, abs=1e-6)


def test_lookahead_averages_batchnorm_statistics_too():
    """느린 가중치에는 배치 정규화의 이동 평균도 들어갑니다 (평가 때 쓰는 통계가 가중치와 같은 시점이 되게)."""
    model = torch.nn.BatchNorm2d(2)
    lookahead = F03.Lookahead(torch.optim.SGD(model.parameters(), lr=0.0), model, total_steps=5, every=5)
    slow = model.running_mean.clone()                   # 0
    model(torch.randn(8, 2, 4, 4) + 3.0)                # 학습 모드: 이동 평균이 3 쪽으로 움직임
    fast = model.running_mean.clone()
    for _ in range(5):
        lookahead.step()                                # 다섯 번째 단계에서 β = 0.95⁵·(5/5)³ 로 당김
    beta = 0.95 ** 5
    assert fast.abs().min() > 0.1
    assert torch.allclose(model.running_mean, beta * slow + (1 - beta) * fast, atol=1e-6)


@pytest.fixture(scope="module")
def quick_stand_in(tmp_path_factory):
    root = tmp_path_factory.mktemp("빈 데이터")
    out = tmp_path_factory.mktemp("결과")
    return run_main(F03, ["--quick", "--no-download", "--data-dir", str(root), "--out-dir", str(out)]), root, out


def test_quick_run_on_stand_in_writes_both_recipes_and_figures(quick_stand_in):
    code, _, out = quick_stand_in
    assert code == 0
    m = read_metrics(out, NAME)
    assert m["data_source"] == "fallback" and m["metrics"]["cifar_copy"] == "fallback"
    metrics = m["metrics"]
    assert 0 <= metrics["test_accuracy"] <= 1 and 0 <= metrics["baseline_test_accuracy"] <= 1
    assert len(metrics["accuracy_vs_train_seconds"]) == m["epochs"] == 4
    assert metrics["whitening_eigenvalue_ratio"] > 1
    for name in FIGURES:
        assert (out / f"{NAME}-quick" / name).stat().st_size > 5_000, name


def test_resume_after_the_last_epoch_keeps_the_trained_weights(quick_stand_in, capsys):
    _, root, out = quick_stand_in
    first = read_metrics(out, NAME)["metrics"]["test_accuracy"]
    capsys.readouterr()
    assert run_main(F03, ["--quick", "--no-download", "--data-dir", str(root), "--out-dir", str(out), "--resume"]) == 0
    assert "이어서 학습" in capsys.readouterr().out
    assert read_metrics(out, NAME)["metrics"]["test_accuracy"] == first
