"""레슨 03: 직접 만든 합성곱·풀링 vs torch, 출력 크기 공식, 증강, 학습 설정, 기본 실행의 지문(c6c022a 와 같은 계산),
--quick(대체 데이터; 실제 데이터는 노트북 테스트가 돌림), --predict, 전이 학습 경로 선택(네트워크 없이), 잘못된 입력,
utils/datasets/cifar10.py (빠른 부분집합 읽기, JPEG 캐시, 내려받기 뒤 안전한 압축 풀기)."""
from __future__ import annotations

import io
import json
import shutil
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import lesson, read_metrics, run_main
from utils.data_utils import ImageData, hub_weights_path
from utils.datasets import cifar10 as C10
from utils.model_utils import CourseError, cpu_threads

L03 = lesson("03_cnn_image_classification")
NAME = "03_cnn_image_classification"
FINGERPRINT = Path(__file__).parent / "fixtures" / f"{NAME}_fingerprint.json"
FIGURES = ["samples.png", "augmentation.png", "lr_schedule.png", "learning_curves.png", "confusion_matrix.png",
           "mistakes.png", "filters.png", "feature_maps.png", "grad_cam.png", "augmentation_compare.png", "comparisons.png"]
# 이슈가 이름을 정한 metrics.json 키 (기본 실행과 --quick 이 같은 코드로 씁니다)
METRIC_KEYS = ["test_accuracy", "wall_seconds", "aug_accuracy", "noaug_accuracy", "transfer_accuracy",
               "scratch_accuracy", "transfer_path", "cifar_copy"]


def _forbid(name):
    def raiser(*args, **kwargs):
        raise AssertionError(f"직접 구현이 {name} 를 부르면 안 됩니다")
    return raiser


# 1. 합성곱·풀링 직접 구현 -------------------------------------------------------------
@pytest.mark.parametrize("n,k,s,p", [(32, 3, 1, 1), (32, 3, 2, 1), (32, 5, 1, 0), (7, 3, 2, 0), (9, 4, 3, 2)])
def test_output_size_formula_matches_torch(n, k, s, p):
    out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p)
    assert out.shape[-1] == L03.conv_output_size(n, k, s, p)
    assert L03.conv_output_size(32, 3, 1, 1) == 32 and L03.conv_output_size(7, 3, 2, 0) == 3


@pytest.mark.parametrize("shape,out_ch,kernel,stride,padding", [
    ((2, 3, 8, 8), 4, (3, 3), 1, 0), ((1, 3, 9, 9), 5, (3, 3), 2, 1), ((3, 1, 7, 10), 2, (2, 3), 1, 2),
    ((2, 4, 12, 12), 6, (5, 5), 3, 2)])
def test_conv2d_manual_matches_torch(monkeypatch, shape, out_ch, kernel, stride, padding):
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(shape, generator=g), torch.randn(out_ch, shape[1], *kernel, generator=g)
    b = torch.randn(out_ch, generator=g)
    expected = F.conv2d(x, w, b, stride=stride, padding=padding)
    with monkeypatch.context() as m:
        m.setattr(torch.nn.functional, "conv2d", _forbid("F.conv2d"))
        m.setattr(torch, "conv2d", _forbid("torch.conv2d"))
        got = L03.conv2d_manual(x, w, b, stride=stride, padding=padding)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shape,kernel,stride,padding", [
    ((2, 3, 8, 8), 2, None, 0), ((1, 2, 9, 9), 3, 2, 1), ((2, 3, 7, 11), 3, 1, 1), ((1, 1, 10, 10), 4, 3, 2)])
def test_pooling_manual_matches_torch(monkeypatch, shape, kernel, stride, padding):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    exp_max = F.max_pool2d(x, kernel, stride, padding)
    exp_avg = F.avg_pool2d(x, kernel, stride, padding)
    with monkeypatch.context() as m:
        for fn in ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d"):
            m.setattr(torch.nn.functional, fn, _forbid(f"F.{fn}"))
        m.setattr(torch, "max_pool2d", _forbid("torch.max_pool2d"))
        got_max = L03.max_pool2d_manual(x, kernel, stride, padding)
        got_avg = L03.avg_pool2d_manual(x, kernel, stride, padding)
    assert torch.allclose(got_max, exp_max, atol=1e-5) and torch.allclose(got_avg, exp_avg, atol=1e-5)


def test_convolution_demo_prints_formula_and_matches_torch(capsys):
    diffs = L03.convolution_demo(seed=0)
    assert set(diffs) == {"conv2d", "max_pool2d", "avg_pool2d"} and max(diffs.values()) < 1e-5
    out = capsys.readouterr().out
    assert "출력 크기 = ⌊(입력 + 2×패딩 - 커널) / 스트라이드⌋ + 1" in out
    assert "입력 32, 커널 3, 스트라이드 2, 패딩 1 → 출력 16" in out


# 2. 데이터 증강과 모델 ----------------------------------------------------------------
def test_augmentation_keeps_shape_dtype_and_labels():
    x = torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8)
    y = torch.arange(20)
    t = L03.BatchTransform(augment=True, seed=0, channels_last=True)
    batches = L03.TensorBatches(x, y, 8, shuffle=True, transform=t, seed=0)
    seen = []
    for xb, yb in batches:
        assert xb.dtype == torch.float32 and xb.shape == (len(yb), 3, 32, 32)
        assert xb.is_contiguous(memory_format=torch.channels_last)
        seen.append(yb)
    assert sorted(torch.cat(seen).tolist()) == y.tolist()  # 라벨은 하나도 바뀌거나 빠지지 않음


def test_crop_and_flip_move_pixels_but_keep_content():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32)
    t = L03.BatchTransform(augment=True, pad=0, seed=0)       # 패딩 0 → 자르기는 항등, 뒤집기만
    flipped = t.random_flip(x.repeat(8, 1, 1, 1))
    for img, orig in zip(flipped, x.repeat(8, 1, 1, 1)):
        assert torch.equal(img, orig) or torch.equal(img, orig.flip(2))
    crops = L03.BatchTransform(pad=2, seed=0).random_crop(x)
    assert crops.shape == x.shape
    # 가운데 28×28은 어떤 이동에서도 원본의 어딘가에 있음: 이동량은 최대 2픽셀
    for img, orig in zip(crops, x):
        shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                  if torch.equal(img[:, 2:30, 2:30], orig[:, 2 + dy:30 + dy, 2 + dx:30 + dx])]
        assert shifts


def test_progressive_resize_shrinks_only_the_first_epochs_and_survives_resume():
    """앞 low_res_epochs 에폭만 24×24, 그다음은 32×32. 에폭은 스케줄러 단계 수로 세므로 재개 후에도 맞습니다."""
    x, y = torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8), torch.arange(20)
    batches = L03.TensorBatches(x, y, 8, shuffle=True, transform=L03.BatchTransform(channels_last=True))
    model = torch.nn.Linear(1, 1)
    optimizer, scheduler = L03.make_optimizer(model, 0.1, epochs=4, steps_per_epoch=len(batches))
    train = L03.ProgressiveResize(batches, scheduler, low_res_epochs=2)

    def one_epoch():
        sizes, labels = set(), []
        for xb, yb in train:
            sizes.add(tuple(xb.shape[2:]))
            assert xb.is_contiguous(memory_format=torch.channels_last)
            labels += yb.tolist()
            optimizer.step()
            scheduler.step()
        assert sorted(labels) == y.tolist()     # 크기만 바뀌고 라벨은 그대로
        return sizes

    assert [one_epoch() for _ in range(3)] == [{(24, 24)}, {(24, 24)}, {(32, 32)}]
    # --resume: 새 스케줄러에 저장된 상태를 불러오면 세 번째 에폭부터 이어지므로 곧바로 32×32
    _, resumed = L03.make_optimizer(model, 0.1, epochs=4, steps_per_epoch=len(batches))
    resumed.load_state_dict(scheduler.state_dict())
    assert {tuple(xb.shape[2:]) for xb, _ in L03.ProgressiveResize(batches, resumed, 2)} == {(32, 32)}


def test_model_shapes_and_summary(capsys):
    model = L03.CifarCNN((8, 16, 16), n_classes=10)
    assert model(torch.zeros(3, 3, 32, 32)).shape == (3, 10)
    rows = L03.layer_summary(model)
    assert rows[-1]["shape"] == (10,)
    conv = next(r for r in rows if r["layer"] == "stem.0")
    assert conv["macs"] == 32 * 32 * 8 * 3 * 9 and conv["params"] == 8 * 3 * 9  # 줄기 채널 수는 최소 8
    assert "MFLOPs" in capsys.readouterr().out


def test_autocast_model_computes_the_same_as_the_plain_model():
    """6절의 AutocastCNN(channels_last) 은 4절의 CifarCNN 과 같은 층·같은 가중치 이름·같은 출력입니다."""
    torch.manual_seed(0)
    plain = L03.CifarCNN((8, 16, 16)).eval()
    torch.manual_seed(0)
    fast = L03.build_model((8, 16, 16), 10, torch.device("cpu")).eval()
    assert list(plain.state_dict()) == list(fast.state_dict())
    x = torch.randn(4, 3, 32, 32)
    assert torch.allclose(plain(x), fast(x.contiguous(memory_format=torch.channels_last)), atol=1e-5)


def test_label_smoothing_targets_match_cross_entropy_option():
    target = L03.smoothed_targets(torch.tensor([2]), 10)[0]
    assert target[2].item() == pytest.approx(0.82) and target[0].item() == pytest.approx(0.02)
    assert target.sum().item() == pytest.approx(1.0)
    logits, y = torch.randn(5, 10, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 3, 9, 2, 2])
    by_hand = -(L03.smoothed_targets(y, 10) * logits.log_softmax(1)).sum(1).mean()
    assert torch.allclose(by_hand, F.cross_entropy(logits, y, label_smoothing=L03.LABEL_SMOOTHING))


def test_one_cycle_learning_rates_warm_up_then_anneal():
    rates = L03.learning_rates(0.2, epochs=4, steps_per_epoch=25)
    assert len(rates) == 100 and rates[0] == pytest.approx(0.02)
    peak = rates.index(max(rates))
    assert max(rates) == pytest.approx(0.2) and 20 <= peak <= 25     # 앞 25% 동안 올라감
    assert rates[-1] < 0.0005 and all(a >= b for a, b in zip(rates[peak:], rates[peak + 1:]))


def test_stand_in_data_shapes():
    tx, ty, vx, vy = C10.pattern_stand_in(20, 5, seed=0)
    assert tx.shape == (200, 3, 32, 32) and tx.dtype == torch.uint8 and vx.shape == (50, 3, 32, 32)
    assert torch.bincount(ty).tolist() == [20] * 10 and torch.bincount(vy).tolist() == [5] * 10


# 3. 기본 실행의 지문: 리팩터링 전(c6c022a)과 같은 계산 ------------------------------------
def test_default_run_first_three_steps_match_the_fingerprint(monkeypatch):
    """기본 전체 실행(40/160/160, 배치 128, lr 0.2, 23에폭 × 372단계 원사이클, 앞 11에폭 24×24, 레이블 스무딩, 시드 42)의
    처음 3단계를 본 학습과 같은 train_cnn 으로 돌리면 c6c022a 에서 기록한 가중치·버퍼와 같아야 합니다.

    합성 이미지 3배치뿐이므로 스케줄 길이와 저해상도 에폭 수만 전체 실행(47,500장)의 값으로 고정합니다.
    """
    expected = json.loads(FINGERPRINT.read_text(encoding="utf-8"))
    args = L03.build_parser().parse_args([])
    widths = L03.parse_widths(args.widths)
    steps_per_epoch = -(-(50000 - L03.VAL_SIZE) // args.batch_size)
    n_low_res = L03.low_res_epochs(args.epochs)
    assert (widths, args.epochs, steps_per_epoch, n_low_res) == ((40, 160, 160), 23, 372, 11)
    real_make_optimizer = L03.make_optimizer
    monkeypatch.setattr(L03, "make_optimizer",
                        lambda model, lr, epochs, steps: real_make_optimizer(model, lr, args.epochs, steps_per_epoch))
    monkeypatch.setattr(L03, "low_res_epochs", lambda epochs, fraction: n_low_res)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (3 * args.batch_size, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (3 * args.batch_size,), generator=g)
    torch.manual_seed(args.seed)
    model = L03.build_model(widths, 10, torch.device("cpu"))
    model.use_bf16 = False   # 지문은 float32 경로 (AMX CPU 에서만 켜지는 bf16 은 다른 계산)
    with cpu_threads(1):   # 지문은 1스레드로 기록: 스레드 수가 다르면 합성곱 역전파의 덧셈 순서가 달라 값이 조금 바뀝니다
        history = L03.train_cnn(model, (x, y), None, epochs=1, lr=args.lr, batch_size=args.batch_size,
                                augment=True, seed=args.seed, device=torch.device("cpu"))
    assert history["train_loss"][0] == pytest.approx(expected["config"]["train_loss"], rel=1e-5)
    state = model.state_dict()
    assert set(state) == set(expected["state"])
    for name, want in expected["state"].items():
        flat = state[name].detach().double().flatten()
        got = [flat.sum().item(), flat.abs().sum().item(), *flat[:4].tolist()]
        assert np.allclose(got, [want["sum"], want["abs_sum"], *want["first4"]], rtol=1e-5, atol=1e-6), name


# 4. --quick 실행 (대체 데이터; 실제 데이터의 --quick 은 tests/test_notebooks.py 가 돌립니다) ----------
@pytest.fixture(scope="module")
def quick_stand_in(tmp_path_factory):
    """데이터 없는 폴더에서 --quick: 대체 데이터(생성한 무늬)로 장 전체가 돌고, 체크포인트를 남깁니다."""
    root = tmp_path_factory.mktemp("빈 데이터")
    out = tmp_path_factory.mktemp("결과")
    mp = pytest.MonkeyPatch()
    mp.setattr(torch.hub, "get_dir", lambda: str(root / "hub"))   # 캐시된 ResNet 가중치를 못 보게
    try:
        code = run_main(L03, ["--quick", "--no-download", "--data-dir", str(root), "--out-dir", str(out)])
    finally:
        mp.undo()
    return code, out


def test_quick_run_on_stand_in(quick_stand_in):
    code, out = quick_stand_in
    assert code == 0
    m = read_metrics(out, NAME)
    assert m["data_source"] == "fallback" and m["metrics"]["cifar_copy"] == "fallback" and m["n_test"] == 200
    assert m["epochs"] == L03.QUICK_EPOCHS and m["n_train"] == 900   # 1,000장에서 검증 100장을 뗌
    assert m["metrics"]["transfer_path"] == "cifar5_standin"
    assert m["metrics"]["widths"] == list(L03.SMALL_WIDTHS)
    metrics = m["metrics"]
    assert not set(METRIC_KEYS) - set(metrics), f"빠진 키: {set(METRIC_KEYS) - set(metrics)}"
    for key in ("aug_accuracy", "noaug_accuracy", "transfer_accuracy", "scratch_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["test_accuracy"] >= 0.3   # 우연(0.10)의 세 배
    for fig in FIGURES:
        assert (out / f"{NAME}-quick" / fig).stat().st_size > 5000, fig


def test_quick_subset_of_real_cifar_is_read_at_load_time(real_data_dir, tmp_path):
    args = L03.build_parser().parse_args(["--quick", "--require-data", "--data-dir", str(real_data_dir),
                                          "--out-dir", str(tmp_path)])
    data, copy = C10.load(args)
    assert copy in ("official", "jpeg") and data.source == "local" and data.classes == C10.CLASSES_KO
    assert data.train_x.shape == (2000, 3, 32, 32) and data.train_x.dtype == torch.uint8
    assert torch.bincount(data.test_y).tolist() == [C10.QUICK_PER_CLASS[1]] * 10
    assert not (tmp_path / "cache").exists()   # 부분집합은 캐시하지 않음


# 5. --predict -------------------------------------------------------------------------
@pytest.fixture
def full_run_dir(quick_stand_in, tmp_path):
    """--predict 는 전체 학습의 체크포인트를 씁니다: --quick 의 체크포인트를 그 자리에 복사해 둡니다."""
    _, out = quick_stand_in
    (tmp_path / NAME).mkdir()
    shutil.copy(out / f"{NAME}-quick" / "checkpoint.pt", tmp_path / NAME / "checkpoint.pt")
    return tmp_path


def test_predict_colour_photo_and_greyscale_png(full_run_dir, tmp_path, capsys):
    rng = np.random.default_rng(0)
    photo, grey = tmp_path / "사진.jpg", tmp_path / "흑백.png"
    Image.fromarray(rng.integers(0, 255, (300, 420, 3), dtype=np.uint8)).save(photo)
    Image.fromarray(rng.integers(0, 255, (50, 40), dtype=np.uint8), mode="L").save(grey)
    capsys.readouterr()
    assert run_main(L03, ["--out-dir", str(full_run_dir), "--predict", str(photo), str(grey)]) == 0
    text = capsys.readouterr().out
    assert "사진.jpg" in text and "흑백.png" in text
    assert any(name in text for name in C10.STAND_IN_CLASSES) and text.count("%") >= 6  # 파일마다 상위 3개
    assert "## 1." not in text   # 예측만 하고 끝남 (나머지 절은 돌지 않음)


def test_predict_bad_inputs(full_run_dir, tmp_path, capsys):
    missing = tmp_path / "없는파일.jpg"
    assert run_main(L03, ["--out-dir", str(full_run_dir), "--predict", str(missing)]) == 2
    assert "찾을 수 없습니다" in capsys.readouterr().err
    not_image = tmp_path / "메모.jpg"
    not_image.write_text("이미지가 아닙니다", encoding="utf-8")
    assert run_main(L03, ["--out-dir", str(full_run_dir), "--predict", str(not_image)]) == 2
    err = capsys.readouterr().err
    assert "이미지로 읽을 수 없는 파일" in err and "Traceback" not in err


def test_predict_without_checkpoint(tmp_path, capsys):
    assert run_main(L03, ["--out-dir", str(tmp_path), "--predict", "아무거나.jpg"]) == 2
    assert "체크포인트가 없습니다" in capsys.readouterr().err


# 6. 전이 학습 경로 (네트워크 호출 없이) -------------------------------------------------
@pytest.fixture
def no_network(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(urllib.request, "urlopen", _forbid("urlopen"))


def test_transfer_path_without_weights(no_network):
    assert not hub_weights_path(L03.RESNET18_URL).exists()
    assert L03.choose_transfer_path(allow_download=False) == "cifar5_standin"


def test_transfer_path_failed_download_falls_back(monkeypatch, no_network):
    def offline(*args, **kwargs):
        raise OSError("오프라인")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert L03.choose_transfer_path(allow_download=True) == "cifar5_standin"
    assert not hub_weights_path(L03.RESNET18_URL).exists()


def test_imagenet_path_with_cached_weights(no_network):
    """캐시에 가중치 파일이 있으면 ResNet-18 경로를 고르고, 미세 조정 vs 처음부터가 돌아갑니다."""
    from torchvision.models import resnet18

    path = hub_weights_path(L03.RESNET18_URL)
    path.parent.mkdir(parents=True)
    torch.save(resnet18().state_dict(), path)   # 진짜 ImageNet 가중치 대신 같은 모양의 무작위 가중치
    assert L03.choose_transfer_path(allow_download=True) == "imagenet_resnet18"
    tx, ty, vx, vy = C10.pattern_stand_in(3, 2, seed=0)
    data = ImageData(tx, ty, vx, vy, classes=C10.STAND_IN_CLASSES, source="fallback", name="테스트")
    args = L03.build_parser().parse_args(["--quick"])
    result = L03.imagenet_transfer(data, args, torch.device("cpu"), few_per_class=2, epochs=1)
    assert 0.0 <= result["transfer_accuracy"] <= 1.0 and 0.0 <= result["scratch_accuracy"] <= 1.0
    assert result["transfer_classes"] == 10


# 7. 잘못된 옵션과 없는 데이터 ------------------------------------------------------------
def test_bad_widths_and_missing_data(empty_data_dir, tmp_path, capsys):
    assert run_main(L03, ["--quick", "--widths", "64,abc", "--out-dir", str(tmp_path)]) == 2
    assert "--widths 는 쉼표로 구분한 양의 정수 3개" in capsys.readouterr().err
    assert run_main(L03, ["--quick", "--require-data", "--data-dir", str(empty_data_dir),
                          "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "CIFAR-10 데이터를 찾을 수 없습니다" in err and "cifar-10-batches-py" in err and "Traceback" not in err


def test_decode_jpegs_matches_pixels_and_names_a_corrupt_file(tmp_path):
    rng = np.random.default_rng(0)
    good = tmp_path / "좋은.png"  # 무손실 형식이라 픽셀을 그대로 비교할 수 있음
    pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(good)
    decoded = C10.decode_jpegs([good])
    assert decoded.shape == (1, 3, 32, 32) and decoded.dtype == torch.uint8
    assert torch.equal(decoded[0].permute(1, 2, 0), torch.from_numpy(pixels))
    broken = tmp_path / "깨진.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(CourseError, match="깨진.jpg"):
        C10.decode_jpegs([good, broken])


def test_download_extracts_the_verified_archive_safely(tmp_path, monkeypatch):
    """download(root): md5 를 확인한 tar.gz 를 utils.archives.safe_extract 로 풉니다 (네트워크 없이 흉내)."""
    from torchvision.datasets import CIFAR10

    def fake_fetch(urls, dest, checksum):
        assert urls == [CIFAR10.url] and checksum == CIFAR10.tgz_md5
        with tarfile.open(dest, "w:gz") as tf:
            for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = 3
                tf.addfile(info, io.BytesIO(b"abc"))
        return True

    monkeypatch.setattr(C10, "fetch_verified", fake_fetch)
    assert C10.download(tmp_path) and C10.official_present(tmp_path)
    monkeypatch.setattr(C10, "fetch_verified", lambda *a: (_ for _ in ()).throw(AssertionError("다시 받으면 안 됨")))
    assert C10.download(tmp_path)   # 이미 있으면 내려받지 않음


def test_download_refuses_an_archive_that_escapes(tmp_path, monkeypatch):
    def evil_fetch(urls, dest, checksum):
        with tarfile.open(dest, "w:gz") as tf:
            info = tarfile.TarInfo("../밖.txt")
            info.size = 1
            tf.addfile(info, io.BytesIO(b"x"))
        return True

    monkeypatch.setattr(C10, "fetch_verified", evil_fetch)
    root = tmp_path / "data"
    root.mkdir()
    with pytest.raises(CourseError, match="위험한 항목"):
        C10.download(root)
    assert not (tmp_path / "밖.txt").exists()


def write_jpeg_folder(root, seed: int) -> None:
    """root/cifar10/{train,test}/<클래스>/0.jpg: 클래스마다 무작위 JPEG 한 장씩 (prepare.py 와 같은 배치)."""
    rng = np.random.default_rng(seed)
    for split in ["train", "test"]:
        for name in C10.CLASSES_EN:
            (root / "cifar10" / split / name).mkdir(parents=True)
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
                root / "cifar10" / split / name / "0.jpg")


def test_jpeg_cache_is_reused_and_a_corrupt_cache_is_ignored(tmp_path, capsys):
    write_jpeg_folder(tmp_path, seed=0)
    cache_dir = tmp_path / "캐시"
    first = C10.read_jpeg_folder(tmp_path, None, cache_dir)
    assert "캐시" not in capsys.readouterr().out
    second = C10.read_jpeg_folder(tmp_path, None, cache_dir)
    assert "디코딩해 둔 캐시를 씁니다" in capsys.readouterr().out
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    for cache in cache_dir.glob("*.pt"):
        cache.write_bytes(b"broken")
    third = C10.read_jpeg_folder(tmp_path, None, cache_dir)
    assert "캐시를 씁니다" not in capsys.readouterr().out
    assert all(torch.equal(a, b) for a, b in zip(first, third))


def test_jpeg_cache_notices_a_replaced_file(tmp_path, capsys):
    """파일 수가 같아도 내용(크기·수정 시각)이 바뀌면 옛 캐시를 쓰지 않고 다시 디코딩합니다."""
    write_jpeg_folder(tmp_path, seed=1)
    cache_dir = tmp_path / "cache"
    C10.read_jpeg_folder(tmp_path, None, cache_dir)
    replaced = tmp_path / "cifar10" / "train" / "cat" / "0.jpg"
    new_pixels = np.full((32, 32, 3), 200, dtype=np.uint8)
    Image.fromarray(new_pixels).save(replaced, quality=100)
    capsys.readouterr()
    train_x, train_y, _, _ = C10.read_jpeg_folder(tmp_path, None, cache_dir)
    assert "캐시를 씁니다" not in capsys.readouterr().out
    cat = C10.CLASSES_EN.index("cat")
    assert abs(train_x[train_y == cat].float().mean().item() - 200) < 2


def test_test_time_augment_averages_the_flipped_and_shifted_views():
    """TTA 의 여섯 모습(원본·1픽셀 이동 2개, 각각 좌우 뒤집기)과 가중치를 손으로 계산한 값과 비교합니다."""
    class PixelProbe(torch.nn.Module):   # 로짓 = (1,1) 위치의 픽셀 값: 어떤 모습이 들어왔는지 드러납니다
        def forward(self, x):
            return x[:, 0, 1, 1:2]

    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    got = L03.TestTimeAugment(PixelProbe())(x)
    c, w = x[:, 0], 6
    expected = (0.5 * (c[:, 1, 1] + c[:, 1, w - 2]) / 2          # 원본과 뒤집기
                + 0.25 * (c[:, 0, 0] + c[:, 0, w - 3]) / 2       # 자르는 창을 왼쪽 위로 1픽셀 (+ 뒤집기)
                + 0.25 * (c[:, 2, 2] + c[:, 2, w - 1]) / 2)      # 자르는 창을 오른쪽 아래로 1픽셀 (+ 뒤집기)
    assert torch.allclose(got[:, 0], expected)


# 8. Grad-CAM: 훅으로 따로 잰 값과 같고, 지우기 검사는 모델이 쓰는 곳을 지울 때만 확률이 떨어짐 ---------------
def test_grad_cam_matches_a_hook_based_computation():
    torch.manual_seed(0)
    model = L03.CifarCNN(L03.SMALL_WIDTHS).eval()
    x, y = torch.randn(3, 3, 32, 32), torch.tensor([0, 4, 7])
    store = {}
    handle = model.blocks[1].register_forward_hook(lambda m, i, out: store.update(a=out))
    logits = model(x)
    handle.remove()
    grads = torch.autograd.grad(logits.gather(1, y.view(-1, 1)).sum(), store["a"])[0]
    cam = F.relu((grads.mean(dim=(2, 3), keepdim=True) * store["a"]).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    mine = L03.grad_cam(model, x, y)
    # 무작위 초기값의 열지도는 1e-7 크기라 grad_cam 의 1e-8(0으로 나누기 방지)이 보이므로, 최댓값으로만 나눠 비교
    unit = lambda c: c / c.amax(dim=(1, 2), keepdim=True)  # noqa: E731
    assert torch.allclose(unit(mine), unit(cam.detach()), atol=1e-5)


def test_grad_cam_deletion_drops_only_where_the_model_looks():
    class TopLeftModel(torch.nn.Module):          # 정답(클래스 0) 점수가 왼쪽 위 8×8 밝기에만 달린 모델
        def forward(self, x):
            evidence = x[:, :, :8, :8].mean(dim=(1, 2, 3))
            return torch.stack([evidence, torch.zeros_like(evidence)], dim=1)

    x = torch.ones(2, 3, 32, 32) * 3
    target = torch.zeros(2, dtype=torch.long)
    cams = torch.zeros(2, 32, 32)
    cams[:, :8, :8] = 1.0                          # 열지도가 모델이 실제로 보는 곳을 가리킴
    drops = L03.grad_cam_deletion(TopLeftModel(), x, target, cams, fraction=64 / 1024)
    base = torch.softmax(torch.tensor([3.0, 0.0]), 0)[0].item()
    assert drops["top"] == pytest.approx(base - 0.5, abs=1e-6)   # 근거를 지우면 점수 3 → 0, 확률 0.5
    assert drops["bottom"] == pytest.approx(0.0, abs=1e-6)       # 다른 곳을 지우면 그대로
