"""07 GAN: 모델 모양·초기화, 손실(라이브러리와 비교), 학습 한 단계, 원래 코드의 지문, 이어서 학습, 모드 세기,
보간, 최근접 거리, CelebA 데이터 모듈, 대체 데이터 실행, 잘못된 입력."""
from __future__ import annotations

import csv
import json
import math
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import lesson, read_metrics, run_main
from utils.data_utils import TensorBatches
from utils.datasets import celeba
from utils.model_utils import CourseError, cpu_threads, load_checkpoint, start_run

L = lesson("07_gan_image_generation")
NAME = "07_gan_image_generation"
FINGERPRINT = Path(__file__).parent / "fixtures" / f"{NAME}_fingerprint.json"


# --- 모델 ------------------------------------------------------------------
@pytest.mark.parametrize("channels,size", [(3, 64), (1, 32)])
def test_generator_and_discriminator_shapes(channels, size):
    g, d = L.build_dcgan(channels, size, width=8)
    z = torch.randn(5, L.LATENT_DIM)
    x = g(z)
    assert x.shape == (5, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1          # tanh 출력
    assert d(x).shape == (5,)


@pytest.mark.parametrize("size_in,kernel,stride,padding,output_padding", [
    (1, 4, 1, 0, 0), (4, 4, 2, 1, 0), (7, 3, 2, 1, 1), (5, 5, 3, 2, 2), (10, 2, 2, 0, 0), (3, 3, 1, 1, 0),
    (6, 4, 3, 0, 1),
])
def test_conv_transpose_output_size_formula_matches_layer(size_in, kernel, stride, padding, output_padding):
    """손으로 쓴 출력 크기 식 = 실제 nn.ConvTranspose2d 의 출력 (높이·너비를 다르게 넣어 둘 다 확인)."""
    layer = torch.nn.ConvTranspose2d(2, 3, kernel, stride, padding, output_padding)
    with torch.no_grad():
        out = layer(torch.zeros(1, 2, size_in, size_in + 1))
    expected = tuple(L.conv_transpose_output_size(s, kernel, stride, padding, output_padding)
                     for s in (size_in, size_in + 1))
    assert out.shape[-2:] == expected


@pytest.mark.parametrize("image_size,sizes", [(64, [4, 8, 16, 32, 64]), (32, [4, 8, 16, 32])])
def test_generator_layer_sizes_follow_the_formula(image_size, sizes, capsys):
    g, _ = L.build_dcgan(3, image_size, width=8)
    rows = L.check_generator_sizes(g)
    assert [r["formula"] for r in rows] == [r["actual"] for r in rows] == sizes
    assert [r["in"] for r in rows] == [1] + sizes[:-1]
    assert "(4-1)·2-2·1+4+0" in capsys.readouterr().out


def test_hand_conv_transpose1d_matches_library(monkeypatch):
    """'찍고 더하기'로 쓴 1차원 전치 합성곱(라이브러리 금지) = F.conv_transpose1d, 길이 = 출력 크기 식."""
    gen = torch.Generator().manual_seed(0)
    for n, k, s, p in [(3, 4, 2, 1), (5, 3, 1, 0), (4, 5, 3, 2), (1, 4, 1, 0), (6, 2, 2, 0)]:
        x, w = torch.randn(n, generator=gen, dtype=torch.float64), torch.randn(k, generator=gen, dtype=torch.float64)
        with monkeypatch.context() as m:
            def forbidden(*a, **kw):
                raise AssertionError("라이브러리 함수 호출 금지")
            m.setattr(F, "conv_transpose1d", forbidden)
            m.setattr(torch, "conv_transpose1d", forbidden)
            hand = L.conv_transpose1d_by_hand(x, w, s, p)
        ref = F.conv_transpose1d(x.view(1, 1, -1), w.view(1, 1, -1), stride=s, padding=p).flatten()
        assert hand.shape == ref.shape and len(hand) == L.conv_transpose_output_size(n, k, s, p)
        assert torch.allclose(hand, ref, atol=1e-12)


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


def test_model_range_round_trip():
    x = torch.tensor([0, 1, 127, 128, 254, 255], dtype=torch.uint8)
    y = L.to_model_range(x)
    assert y.min() == -1 and y.max() == 1
    assert torch.equal(L.to_uint8(y), x)


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
    """미니맥스 손실의 그래디언트는 -D(G(z)) (초반에 사라짐), non-saturating 은 -(1 - D(G(z)))."""
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


# --- 결과가 바뀌지 않았는지: 원래 코드(c6c022a)의 지문 -----------------------------------
def test_default_run_first_three_steps_match_the_fingerprint(tmp_path):
    """기본 전체 실행(폭 64, 배치 64, Adam 2e-4/β1 0.5, 시드 42)의 처음 3단계를 본 학습과 같은 길
    (시드 → build_dcgan → describe_models → 고정 z → train_gan/fit)로 돌리면 c6c022a 에서 기록한 값과 같아야 합니다.

    데이터만 합성 얼굴(시드 1234의 uint8 3×64×64, 배치 3개)입니다. 버퍼(배치 정규화 통계)까지 봅니다.
    """
    fp = json.loads(FINGERPRINT.read_text(encoding="utf-8"))
    args = L.build_parser().parse_args(["--device", "cpu", "--out-dir", str(tmp_path)])
    assert (args.width, args.batch_size, args.lr, args.seed) == (fp["width"], fp["batch_size"], 2e-4, 42)
    run = start_run(NAME, args, [])                                   # 시드 42 (start_chapter 와 같은 준비)
    images = torch.randint(0, 256, (fp["steps"] * args.batch_size, 3, L.IMAGE_SIZE, L.IMAGE_SIZE),
                           dtype=torch.uint8, generator=torch.Generator().manual_seed(fp["data_seed"]))
    generator, discriminator = L.build_dcgan(3, L.IMAGE_SIZE, args.width)
    L.describe_models(generator, discriminator, (3, L.IMAGE_SIZE, L.IMAGE_SIZE))
    batches = TensorBatches(images, torch.zeros(len(images)), args.batch_size, shuffle=True,
                            transform=L.to_model_range, seed=args.seed)
    fixed_z = L.sample_latent(64, L.LATENT_DIM, run.device)
    t0 = time.perf_counter()
    with cpu_threads(None):   # 코어가 바쁘면 1스레드 (이 계산은 스레드 수와 무관하게 같은 값: 1·2스레드로 확인)
        history = L.train_gan(generator, discriminator, batches, 1, args.lr, run, fixed_z,
                              config={"channels": 3, "image_size": L.IMAGE_SIZE, "width": args.width})
    print(f"세 단계 + 격자·체크포인트: {time.perf_counter() - t0:.1f}초")

    def close(got, want):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)

    close(fixed_z.sum().item(), fp["fixed_z"]["sum"])
    steps = L.per_iteration(history)
    for i, want in enumerate(fp["step_stats"]):
        for key, value in want.items():
            close(steps[key][i], value)
    for prefix, net in (("generator", generator), ("discriminator", discriminator)):
        state = net.state_dict()
        assert set(state) == set(fp[prefix])
        for name, want in fp[prefix].items():
            flat = state[name].detach().double().flatten()
            close(flat.sum().item(), want["sum"])
            close(flat.abs().sum().item(), want["abs_sum"])
            for got, value in zip(flat[:4].tolist(), want["first4"]):
                close(got, value)


# --- 이어서 학습 (fit 의 체크포인트) --------------------------------------------------
def _tiny_gan(run, epochs, fixed_z, resume=False, width=8):
    torch.manual_seed(1)
    g, d = L.build_dcgan(1, 32, width=width)
    x = torch.randint(0, 256, (16, 1, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    batches = TensorBatches(x, torch.zeros(16), 8, shuffle=True, transform=L.to_model_range, seed=3)
    history = L.train_gan(g, d, batches, epochs, 2e-4, run, fixed_z,
                          config={"channels": 1, "image_size": 32, "width": width}, resume=resume)
    return g, d, history


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, capsys, monkeypatch):
    def make_run(name, resume=False):
        return start_run(NAME, L.build_parser().parse_args(["--out-dir", str(tmp_path / name), "--quick"]
                                                           + (["--resume"] if resume else [])), [])

    def z():
        return torch.randn(4, L.LATENT_DIM, generator=torch.Generator().manual_seed(5))

    g_ref, d_ref, h_ref = _tiny_gan(make_run("끊김 없음"), 2, z())

    run = make_run("중단")
    stale = run.path("grids") / "epoch_009.png"          # 이전의 더 긴 실행이 남긴 격자
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")
    real_step, calls = L.train_step, {"n": 0}

    def interrupt_in_second_epoch(*args):
        calls["n"] += 1
        if calls["n"] == 3:                               # 에폭 1 = 2단계, 에폭 2의 첫 단계에서 Ctrl+C
            raise KeyboardInterrupt
        return real_step(*args)

    monkeypatch.setattr(L, "train_step", interrupt_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        _tiny_gan(run, 2, z())
    monkeypatch.undo()
    assert not stale.exists()                              # 새 학습의 GIF 에 옛 격자가 섞이지 않음
    assert load_checkpoint(run.checkpoint_path)["epoch"] == 1

    run = make_run("중단", resume=True)
    g, d, h = _tiny_gan(run, 2, torch.zeros(4, L.LATENT_DIM), resume=True)   # 고정 z 는 체크포인트에서
    assert "1 에폭 다음부터" in capsys.readouterr().out
    for a, b in zip([*g.state_dict().values(), *d.state_dict().values()],
                    [*g_ref.state_dict().values(), *d_ref.state_dict().values()]):
        assert torch.equal(a, b)
    assert L.per_iteration(h) == L.per_iteration(h_ref) and len(L.per_iteration(h)["d_loss"]) == 4
    assert h["train_d_loss"] == pytest.approx(h_ref["train_d_loss"])
    assert L.save_training_gif(run.path("grids"), run.path("training.gif")) == 2
    ref_grid = np.asarray(Image.open(tmp_path / "끊김 없음" / f"{NAME}-quick" / "grids" / "epoch_002.png"))
    assert np.array_equal(np.asarray(Image.open(run.path("grids") / "epoch_002.png")), ref_grid)  # 같은 고정 z

    with pytest.raises(CourseError, match="네트워크 모양이 지금 설정과 다릅니다"):   # 다른 --width 로 --resume
        _tiny_gan(run, 2, torch.zeros(4, L.LATENT_DIM), resume=True, width=16)


def test_gan_history_plot_uses_every_iteration(tmp_path):
    history = {"epoch_seconds": [1.0, 1.0],
               "iterations": [{k: [0.5, 0.6] for k in ("d_loss", "g_loss", "d_real", "d_fake")}] * 2}
    assert L.per_iteration(history)["d_loss"] == [0.5, 0.6, 0.5, 0.6]
    assert L.plot_gan_history(history, tmp_path / "곡선.png").stat().st_size > 5000


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


def test_minibatch_std_feature_sees_spread():
    collapsed, spread = torch.ones(16, 4), torch.randn(16, 4)
    assert L.MinibatchStd()(collapsed)[:, -1].eq(0).all()
    assert L.MinibatchStd()(spread).shape == (16, 5) and L.MinibatchStd()(spread)[0, -1] > 0.5


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


def test_fid_unavailable_offline_is_explained(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise AssertionError("네트워크를 쓰면 안 됩니다")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    reason = L.fid_unavailable_reason(allow_download=False)
    assert reason and ("torchmetrics" in reason or "--no-download" in reason)


# --- CelebA 데이터 모듈 ------------------------------------------------------
def _face(path: Path, value: int, size=(80, 100)) -> None:
    Image.new("RGB", size, (value, 255 - value, 7)).save(path)


def _data_args(root, **kw):
    args = L.build_parser().parse_args(["--data-dir", str(root)])
    for k, v in kw.items():
        setattr(args, k, v)
    return args


def test_celeba64_split_crop_and_quick_subset(tmp_path):
    faces = tmp_path / "celeba64" / "faces"
    faces.mkdir(parents=True)
    with open(tmp_path / "celeba64" / "list.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["filename", "celeba_identity", "source_split"])
        for i in range(200):
            _face(faces / f"{i:06d}.jpg", i)
            w.writerow([f"{i:06d}.jpg", i, "test" if i % 5 == 0 else "train"])
    full = celeba.load(_data_args(tmp_path))
    assert full["source"] == "local" and (len(full["train"]), len(full["test"])) == (160, 40)
    assert full["train"].shape[1:] == (3, 64, 64) and full["train"].dtype == torch.uint8   # 가운데 정사각형 → 64×64
    assert abs(int(full["test"][1, 0, 32, 32]) - 5) <= 6                                   # 평가 = source_split test
    quick = celeba.load(_data_args(tmp_path, quick=True))
    assert (len(quick["train"]), len(quick["test"])) == (celeba.QUICK_TRAIN, celeba.QUICK_TEST)


def test_download_extracts_the_official_zip_safely(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils

    def fake_drive(file_id, root, filename, md5):
        Path(root).mkdir(parents=True, exist_ok=True)
        buffer = Path(root) / "face.jpg"
        _face(buffer, 10)
        with zipfile.ZipFile(Path(root) / filename, "w") as zf:
            for i in range(3):
                zf.write(buffer, f"img_align_celeba/{i:06d}.jpg")
        buffer.unlink()

    monkeypatch.setattr(tv_utils, "download_file_from_google_drive", fake_drive)
    assert celeba.download(tmp_path / "good") is True
    assert len(list(celeba.official_dir(tmp_path / "good").glob("*.jpg"))) == 3

    def evil_drive(file_id, root, filename, md5):
        Path(root).mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(Path(root) / filename, "w") as zf:
            zf.writestr("../../밖.jpg", b"x")

    monkeypatch.setattr(tv_utils, "download_file_from_google_drive", evil_drive)
    assert celeba.download(tmp_path / "bad") is False                     # 위험한 zip 은 풀지 않음
    assert not (tmp_path / "밖.jpg").exists()


# --- 전체 실행 (대체 데이터; 실제 데이터의 --quick 은 노트북 테스트가 돌립니다) -----------------
def test_quick_run_on_stand_in(empty_data_dir, tmp_path, capsys):
    out = tmp_path / "runs"
    code = run_main(L, ["--quick", "--no-download", "--data-dir", str(empty_data_dir), "--out-dir", str(out),
                        "--ring-steps", "150"])
    assert code == 0
    assert "대체 데이터" in capsys.readouterr().out
    metrics = read_metrics(out, NAME)
    assert metrics["data_source"] == "fallback" and metrics["epochs"] == 1
    run_dir = out / f"{NAME}-quick"
    for name in ["real_samples.png", "final_grid.png", "gan_curves.png", "mode_collapse.png", "interpolation.png",
                 "latent_arithmetic.png", "temperature.png", "nearest_neighbours.png", "training.gif"]:
        assert (run_dir / name).stat().st_size > 1000, name
    m = metrics["metrics"]
    assert 0 <= m["high_quality_plain"] <= 1 and 0 <= m["high_quality_fixed"] <= 1
    assert 0 <= m["modes_covered_plain"] <= 8 and 0 <= m["modes_covered_fixed"] <= 8
    # 1 에폭짜리 생성자도 '베끼기'(≈0)나 잡음(수 배)은 아님
    assert 0.3 < m["nn_ratio"] < 4.0
    assert "fid" not in m                                   # --quick 에서는 FID 를 계산하지 않음


def test_require_data_fails_in_korean(empty_data_dir, tmp_path, capsys):
    code = run_main(L, ["--quick", "--require-data", "--data-dir", str(empty_data_dir), "--out-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "CelebA 데이터를 찾을 수 없습니다" in err and "celeba64" in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["0", "-5", "많이"])
def test_bad_ring_steps_is_a_korean_error(tmp_path, capsys, value):
    assert run_main(L, ["--quick", "--ring-steps", value, "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "[오류] 명령행 옵션이 잘못되었습니다" in err and "Traceback" not in err


@pytest.mark.parametrize("content", ["empty", "text", "too_few"])
def test_image_dir_without_enough_images_is_a_korean_error(tmp_path, capsys, content):
    folder = tmp_path / "사진"
    folder.mkdir()
    if content == "text":
        (folder / "메모.txt").write_text("이미지가 아님", encoding="utf-8")
        (folder / "가짜.jpg").write_bytes(b"not a jpeg")
    elif content == "too_few":
        for i in range(3):
            _face(folder / f"{i}.png", 50 * i)
    code = run_main(L, ["--quick", "--image-dir", str(folder), "--out-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    expected = {"empty": "폴더에 이미지 파일이 없습니다", "text": "이미지로 읽을 수 있는 파일이 하나도 없습니다",
                "too_few": "읽을 수 있는 이미지가 너무 적습니다 (3장)"}[content]
    assert "[오류] " in err and expected in err


# --- 그림과 글이 같은 실행을 말하는지 (이슈 15) -----------------------------------
def test_mode_collapse_figure_label_describes_the_plotted_run():
    runs = [{"seed": 1, "modes": 8, "high_quality": 0.9}, {"seed": 2, "modes": 5, "high_quality": 0.7},
            {"seed": 3, "modes": 6, "high_quality": 0.8}]
    assert L.median_run(runs)["seed"] == 3                       # 모드 수 5·6·8 의 가운데
    demo = L.mode_collapse_demo(seeds=[0, 1, 2], steps=30)
    for key in ("plain", "fixed"):
        shown = demo["shown"][key]
        assert demo["summary"][f"modes_covered_{key}"] == shown["modes"]
        assert demo["summary"][f"high_quality_{key}"] == round(shown["high_quality"], 4)
        # 그림의 행 이름은 그린 실행 자신의 시드·모드 수·품질
        label = L.mode_collapse_label("보통 GAN", shown)
        assert f"시드 {shown['seed']}" in label and f"{shown['modes']}/8" in label
        # 그린 점들로 다시 세어도 같은 수
        assert L.count_modes(shown["snapshots"][-1][1])[0] == shown["modes"]


def test_mean_pairwise_distance_and_pixel_distance():
    black, white = -torch.ones(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    assert L.pixel_distance(black, white) == pytest.approx(1.0)
    images = torch.cat([black, white, black])                    # 쌍 3개 중 2개가 거리 1
    assert L.mean_pairwise_distance(images) == pytest.approx(2 / 3)
