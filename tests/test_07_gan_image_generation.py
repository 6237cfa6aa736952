"""07 GAN: 모델 모양·초기화, 손실(라이브러리와 비교), 학습 한 단계, 모드 세기, 보간, 체크포인트, 실행."""
from __future__ import annotations

import math
import urllib.request

import pytest
import torch
import torch.nn.functional as F

from conftest import lesson, read_metrics, run_main

L = lesson("07_gan_image_generation")
NAME = "07_gan_image_generation"


# --- 모델 ------------------------------------------------------------------
@pytest.mark.parametrize("channels,size", [(3, 64), (1, 32)])
def test_generator_and_discriminator_shapes(channels, size):
    g, d = L.build_dcgan(channels, size, width=8)
    z = torch.randn(5, L.LATENT_DIM)
    x = g(z)
    assert x.shape == (5, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1          # tanh 출력
    assert d(x).shape == (5,)


def test_dcgan_weight_init_statistics():
    torch.manual_seed(0)
    g, d = L.build_dcgan(3, 64, width=64)
    convs = torch.cat([m.weight.flatten() for net in (g, d) for m in net.modules()
                       if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))])
    gammas = torch.cat([m.weight for net in (g, d) for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    betas = torch.cat([m.bias for net in (g, d) for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(convs.mean().item()) < 1e-3 and convs.std().item() == pytest.approx(0.02, rel=0.02)
    assert gammas.mean().item() == pytest.approx(1.0, abs=0.01) and gammas.std().item() == pytest.approx(0.02, rel=0.2)
    assert torch.all(betas == 0)


# --- 손실: 손으로 쓴 softplus 식 = PyTorch BCE-with-logits ------------------------
def test_gan_losses_match_library(monkeypatch):
    torch.manual_seed(0)
    real, fake = torch.randn(64) * 3, torch.randn(64) * 3

    def forbidden(*a, **k):
        raise AssertionError("라이브러리 BCE 를 쓰면 안 됩니다")

    monkeypatch.setattr(F, "binary_cross_entropy_with_logits", forbidden)
    monkeypatch.setattr(torch.nn.BCEWithLogitsLoss, "forward", forbidden)
    d_loss, g_loss = L.discriminator_loss(real, fake), L.generator_loss(fake)
    monkeypatch.undo()
    bce = F.binary_cross_entropy_with_logits
    assert d_loss.item() == pytest.approx((bce(real, torch.ones(64)) + bce(fake, torch.zeros(64))).item(), abs=1e-6)
    assert g_loss.item() == pytest.approx(bce(fake, torch.ones(64)).item(), abs=1e-6)


@pytest.mark.parametrize("d_fake", [0.001, 0.1, 0.5, 0.9])
def test_generator_gradients_show_saturation(d_fake):
    """미니맥스 손실의 기울기는 -D(G(z)) (초반에 사라짐), non-saturating 은 -(1 - D(G(z)))."""
    minimax, non_saturating = L.generator_gradients(d_fake)
    assert minimax == pytest.approx(-d_fake, abs=1e-9)
    assert non_saturating == pytest.approx(-(1 - d_fake), abs=1e-9)


def test_one_training_step_changes_both_networks():
    torch.manual_seed(0)
    g, d = L.build_dcgan(1, 32, width=8)
    opt_g, opt_d = L.make_optimizers(g, d, 2e-4)
    before = [p.detach().clone() for p in (*g.parameters(), *d.parameters())]
    stats = L.train_step(g, d, torch.rand(8, 1, 32, 32) * 2 - 1, opt_g, opt_d)
    after = list(g.parameters()) + list(d.parameters())
    n_g = len(list(g.parameters()))
    assert any(not torch.equal(b, a) for b, a in zip(before[:n_g], after[:n_g]))
    assert any(not torch.equal(b, a) for b, a in zip(before[n_g:], after[n_g:]))
    assert all(math.isfinite(v) for v in stats.values())
    assert 0 < stats["d_real"] < 1 and 0 < stats["d_fake"] < 1


# --- 모드 세기 -------------------------------------------------------------
def test_count_modes_on_hand_made_sets():
    gen = torch.Generator().manual_seed(0)
    all_modes = L.sample_ring(2500, gen)
    # 2차원 가우시안에서 중심으로부터 3σ 원 안의 확률은 1 - e^(-9/2) ≈ 98.9 % (1차원의 99.7 % 가 아님)
    assert L.count_modes(all_modes) == (8, pytest.approx(1 - math.exp(-4.5), abs=0.008))
    one_mode = L.ring_centres()[3] + 0.02 * torch.randn(2500, 2, generator=gen)
    assert L.count_modes(one_mode)[0] == 1
    between = torch.zeros(2500, 2)                                             # 원 중심: 어느 모드에서도 멂
    assert L.count_modes(between) == (0, 0.0)
    # 1/32 규칙: 한 모드에 1/32 미만이면 덮은 것으로 치지 않습니다.
    few = torch.cat([one_mode[:2400], L.ring_centres()[0].expand(70, 2), torch.zeros(30, 2)])
    assert L.count_modes(few)[0] == 1


# --- 잠재 공간 -------------------------------------------------------------
def test_interpolation_endpoints_and_slerp_norm():
    torch.manual_seed(0)
    z0, z1 = torch.randn(100), torch.randn(100)
    t = torch.tensor([0.0, 0.5, 1.0])
    for f in (L.lerp, L.slerp):
        path = f(z0, z1, t)
        assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    mid_lerp, mid_slerp = L.lerp(z0, z1, t)[1], L.slerp(z0, z1, t)[1]
    assert mid_lerp.norm() < 0.8 * z0.norm()                   # 선형 보간은 중간이 짧아짐
    assert mid_slerp.norm() == pytest.approx(((z0.norm() + z1.norm()) / 2).item(), rel=0.05)


def test_nearest_distances_match_sklearn():
    from sklearn.metrics import pairwise_distances

    torch.manual_seed(0)
    q = torch.randint(0, 256, (20, 3, 8, 8), dtype=torch.uint8)
    r = torch.randint(0, 256, (30, 3, 8, 8), dtype=torch.uint8)
    d, idx = L.nearest_distances(q, r, chunk=7)
    full = pairwise_distances(q.flatten(1).double().numpy() / 255, r.flatten(1).double().numpy() / 255)
    assert torch.allclose(d.double(), torch.from_numpy(full.min(1)), atol=1e-4)
    assert torch.equal(idx, torch.from_numpy(full.argmin(1)))
    ratio, _ = L.nn_ratio(r[:10], q, r)                          # 학습 이미지 그대로 = 베끼기 → 0
    assert ratio < 1e-3          # cdist 는 행렬곱으로 거리를 재므로 자기 자신과의 거리도 정확히 0 은 아님


# --- 체크포인트와 이어서 학습 ------------------------------------------------------
def test_checkpoint_save_and_resume(tmp_path, capsys):
    args = L.build_parser().parse_args(["--out-dir", str(tmp_path), "--quick"])
    run = L.start_run(NAME, args, [])
    x = torch.rand(16, 1, 32, 32) * 2 - 1
    batches = L.TensorBatches(x, torch.zeros(16), 8, shuffle=True)

    def fresh():
        torch.manual_seed(1)
        g, d = L.build_dcgan(1, 32, width=8)
        return (g, d, *L.make_optimizers(g, d, 2e-4))

    stale = run.path("grids") / "epoch_009.png"          # 이전의 더 긴 실행이 남긴 격자
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")
    g, d, og, od = fresh()
    h1 = L.train_gan(g, d, batches, og, od, "cpu", 1, run, torch.randn(4, L.LATENT_DIM), resume=False)
    assert run.checkpoint_path.is_file() and (run.path("grids") / "epoch_001.png").is_file()
    assert not stale.exists()                              # 새 학습의 GIF 에 섞이지 않음
    g2, d2, og2, od2 = fresh()
    h2 = L.train_gan(g2, d2, batches, og2, od2, "cpu", 2, run, torch.zeros(4, L.LATENT_DIM), resume=True)
    assert "1 에폭 다음부터" in capsys.readouterr().out
    assert len(h2["epoch_seconds"]) == 2 and h2["d_loss"][:2] == h1["d_loss"][:2]
    state = L.load_checkpoint(run.checkpoint_path)
    assert state["epoch"] == 2
    assert L.save_training_gif(run.path("grids"), run.path("training.gif")) == 2
    wider, wider_d = L.build_dcgan(1, 32, width=16)         # 다른 --width 로 이어서 학습 → 한국어 오류
    with pytest.raises(L.CourseError, match="네트워크 모양이 지금 설정과 다릅니다"):
        L.train_gan(wider, wider_d, batches, *L.make_optimizers(wider, wider_d, 2e-4), "cpu", 3, run,
                    torch.zeros(4, L.LATENT_DIM), resume=True)


def test_fid_unavailable_offline_is_explained(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise AssertionError("네트워크를 쓰면 안 됩니다")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    reason = L.fid_unavailable_reason(allow_download=False)
    assert reason and ("torchmetrics" in reason or "--no-download" in reason)


# --- 전체 실행 -------------------------------------------------------------
def _check_outputs(out, metrics):
    run_dir = out / f"{NAME}-quick"
    for name in ["final_grid.png", "gan_curves.png", "mode_collapse.png", "interpolation.png",
                 "latent_arithmetic.png", "temperature.png", "nearest_neighbours.png", "training.gif"]:
        assert (run_dir / name).is_file(), name
    m = metrics["metrics"]
    for key in ["modes_covered_plain", "modes_covered_fixed", "high_quality_plain", "high_quality_fixed"]:
        assert key in m
    assert 0 <= m["high_quality_plain"] <= 1 and 0 <= m["high_quality_fixed"] <= 1
    assert 0 <= m["modes_covered_plain"] <= 8 and 0 <= m["modes_covered_fixed"] <= 8
    # 1 에폭짜리 생성자도 '베끼기'(≈0)나 잡음(수 배)은 아님
    assert 0.3 < m["nn_ratio"] < 4.0
    assert "fid" not in m                                   # --quick 에서는 FID 를 계산하지 않음


def test_quick_run_on_real_data(real_data_dir, tmp_path):
    if not (real_data_dir / "celeba64" / "list.csv").is_file():
        pytest.skip("celeba64 가 데이터 루트에 없습니다")
    out = tmp_path / "runs"
    code = run_main(L, ["--quick", "--no-download", "--data-dir", str(real_data_dir), "--out-dir", str(out),
                        "--ring-steps", "150"])
    assert code == 0
    metrics = read_metrics(out, NAME)
    assert metrics["data_source"] == "local" and metrics["n_train"] == L.QUICK_TRAIN
    _check_outputs(out, metrics)


def test_quick_run_on_stand_in(empty_data_dir, tmp_path, capsys):
    out = tmp_path / "runs"
    code = run_main(L, ["--quick", "--no-download", "--data-dir", str(empty_data_dir), "--out-dir", str(out),
                        "--ring-steps", "150"])
    assert code == 0
    assert "대체 데이터" in capsys.readouterr().out
    metrics = read_metrics(out, NAME)
    assert metrics["data_source"] == "fallback"
    _check_outputs(out, metrics)


def test_require_data_fails_in_korean(empty_data_dir, tmp_path, capsys):
    code = run_main(L, ["--quick", "--require-data", "--data-dir", str(empty_data_dir), "--out-dir", str(tmp_path)])
    assert code == 2
    assert "CelebA 데이터를 찾을 수 없습니다" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-5", "많이"])
def test_bad_ring_steps_is_a_korean_error(tmp_path, capsys, value):
    assert run_main(L, ["--quick", "--ring-steps", value, "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "[오류] 명령행 옵션이 잘못되었습니다" in err and "Traceback" not in err


@pytest.mark.parametrize("content", ["empty", "text"])
def test_image_dir_without_images_is_a_korean_error(tmp_path, capsys, content):
    folder = tmp_path / "사진"
    folder.mkdir()
    if content == "text":
        (folder / "메모.txt").write_text("이미지가 아님", encoding="utf-8")
        (folder / "가짜.jpg").write_bytes(b"not a jpeg")
    code = run_main(L, ["--quick", "--image-dir", str(folder), "--out-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2
    assert "[오류]" in err and ("이미지" in err)
