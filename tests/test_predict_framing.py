"""--predict 의 전처리(`utils.data_utils.frame_like_dataset`): 학습자가 큰 종이 한쪽에 쓴 숫자·찍은 옷을
데이터셋이 만들어진 방식 그대로 28×28 에 놓는지, 그리고 01 의 --predict 가 그 덕에 같은 답을 내는지."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import lesson
from utils import data_utils as du

L01 = lesson("01_pytorch_basics")
SCALE, CANVAS = 6, (300, 400)                    # 28×28 숫자를 6배(168×168)로, 세로 300 × 가로 400 종이에
PAPER_RGB, INK_RGB = (246, 240, 222), (35, 35, 70)  # 미색 종이, 남색 잉크


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    w = img.astype(np.float64)
    return ((w.sum(1) * np.arange(w.shape[0])).sum() / w.sum(), (w.sum(0) * np.arange(w.shape[1])).sum() / w.sum())


def ink_box(img: np.ndarray, level: int = 1) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero((img >= level).any(1)), np.flatnonzero((img >= level).any(0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def on_paper(item28: np.ndarray, rng: np.random.Generator, scale: int = SCALE) -> Image.Image:
    """밝은 종이(약간의 잡음) 한 귀퉁이 쪽에 어두운 잉크로 scale 배 키워 붙인 RGB 그림 (한가운데는 피함)."""
    side = 28 * scale
    big = np.asarray(Image.fromarray(item28).resize((side, side), Image.BILINEAR), dtype=np.float32)[..., None] / 255
    h, w = CANVAS
    top = int(rng.choice([rng.integers(0, 25), rng.integers(h - side - 25, h - side + 1)]))
    left = int(rng.choice([rng.integers(0, 50), rng.integers(w - side - 50, w - side + 1)]))
    page = np.array(PAPER_RGB, np.float32) + rng.normal(0, 3, (h, w, 1)).astype(np.float32)
    page = np.broadcast_to(page, (h, w, 3)).copy()
    patch = page[top:top + side, left:left + side]
    page[top:top + side, left:left + side] = patch * (1 - big) + np.array(INK_RGB, np.float32) * big
    return Image.fromarray(np.clip(page, 0, 255).round().astype(np.uint8))


# 1. 틀 맞추기 자체 -----------------------------------------------------------------------
def test_mnist_framing_fits_20_pixels_and_centres_the_mass():
    page = np.zeros((300, 400), np.uint8)
    page[30:150, 300:360] = 200          # 오른쪽 위의 세로로 긴 획 (120×60)
    page[140:150, 300:390] = 255         # 아래쪽 가로 획
    out = du.frame_like_dataset(page, "mnist")
    top, bottom, left, right = ink_box(out)
    assert out.shape == (28, 28) and out.dtype == np.uint8 and out.max() >= 200
    assert max(bottom - top, right - left) == 20                       # 긴 변 20픽셀
    assert abs((bottom - top) / (right - left) - 120 / 90) < 0.15       # 비율 유지 (찌그러지지 않음)
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5                 # 질량 중심이 (14, 14)


def test_fashion_framing_fits_the_long_side_and_centres_the_box():
    page = np.full((200, 300), 20, np.uint8)   # 어두운 회색 배경 → 0이 되도록 뺌
    page[10:70, 200:230] = 180                 # 세로 60 × 가로 30 인 물체
    out = du.frame_like_dataset(page, "fashion")
    top, bottom, left, right = ink_box(out, level=20)
    assert (top, bottom) == (0, 28) and right - left == 14 and left == 7      # 긴 변 28, 가운데
    assert out[0, 0] == 0 and 150 <= out[14, 14] <= 165                        # 배경 0, 밝기는 늘리지 않음 (180−20)


def test_framing_of_an_empty_picture_and_bad_arguments(tmp_path):
    assert du.frame_like_dataset(np.full((50, 80), 7, np.uint8), "mnist").max() == 0
    with pytest.raises(ValueError):
        du.frame_like_dataset(np.zeros((5, 5), np.uint8), "cifar")
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(ValueError):
        du.load_user_images([str(tmp_path / "a.png")], 32, channels=3, framing="mnist")


# 2. 실제 데이터: 이미 28×28 인 숫자·옷은 거의 그대로, 큰 종이 위의 것은 원래 모습으로 ---------------------
def _real(name, real_data_dir):
    args = SimpleNamespace(data_dir=str(real_data_dir), require_data=True, no_download=True, seed=0)
    return du.load_mnist_family(name, args)


def test_real_items_keep_their_framing(real_data_dir):
    """데이터셋 자신의 이미지를 다시 틀에 맞춰도 거의 바뀌지 않습니다 (같은 절차로 만들어졌으니까)."""
    for name, framing, limit in [("MNIST", "mnist", 2.0), ("FashionMNIST", "fashion", 4.0)]:
        items = _real(name, real_data_dir).test_x[:200, 0].numpy()
        diffs = [np.abs(du.frame_like_dataset(x, framing).astype(float) - x).mean() for x in items]
        assert np.mean(diffs) < limit, (name, np.mean(diffs))


def test_items_on_a_large_page_come_back_to_their_dataset_look(real_data_dir):
    """밝은 종이(잡음 포함) 한쪽에 5·6배로 놓은 숫자·옷을 반전해 틀에 맞추면 원래 28×28 과 가깝고,
    그림 전체를 줄이던 예전 방법보다 훨씬 가깝습니다 (잰 값, 평균 절대 차이: MNIST 9 대 43, Fashion 22 대 69 —
    Fashion 의 22는 대부분 종이와 잉크의 대비가 255보다 작아 어두워진 만큼입니다)."""
    for name, framing, scale, near, squashed_far in [("MNIST", "mnist", 6, 15, 30), ("FashionMNIST", "fashion", 5, 30, 50)]:
        rng = np.random.default_rng(0)
        framed, squashed = [], []
        for x in _real(name, real_data_dir).test_x[:20, 0].numpy():
            negative = 255 - np.asarray(on_paper(x, rng, scale=scale).convert("L"))
            framed.append(np.abs(du.frame_like_dataset(negative, framing).astype(float) - x).mean())
            squashed.append(np.abs(np.asarray(Image.fromarray(negative).resize((28, 28)), float) - x).mean())
        assert np.mean(framed) < near and np.mean(squashed) > squashed_far, (name, np.mean(framed), np.mean(squashed))


# 3. 01 의 --predict: 큰 종이 한쪽의 숫자 20개 ---------------------------------------------------
@pytest.fixture(scope="module")
def small_mnist_model(real_data_dir, tmp_path_factory):
    """실제 MNIST 5,000장으로 몇 초(2에폭) 학습한 01 의 MLP 와 그 체크포인트 (레슨의 predict 가 읽는 형식).

    테스트 세트 정확도 약 0.9. 다른 일이 CPU를 함께 쓸 때 스레드끼리 다투지 않도록 스레드 하나로 돌립니다.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    data = _real("MNIST", real_data_dir)
    torch.manual_seed(0)
    model = L01.MLP(hidden=(256,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = L01.normalize(data.train_x[:5000]), data.train_y[:5000]
    model.train()
    for _ in range(2):
        for i in torch.randperm(len(y), generator=torch.Generator().manual_seed(1)).split(128):
            optimizer.zero_grad()
            F.cross_entropy(model(x[i]), y[i]).backward()
            optimizer.step()
    model.eval()
    checkpoint = tmp_path_factory.mktemp("ckpt") / "checkpoint.pt"
    torch.save({"model": model.state_dict(), "hidden": [256], "classes": data.classes}, checkpoint)
    yield model, checkpoint, data
    torch.set_num_threads(threads)


def test_off_centre_digits_on_a_large_page_keep_their_predictions(small_mnist_model, tmp_path, capsys):
    model, checkpoint, data = small_mnist_model
    with torch.no_grad():
        direct = model(L01.normalize(data.test_x[:100])).argmax(1)
    correct = torch.nonzero(direct == data.test_y[:100]).flatten()[:20]   # 28×28 로는 맞히는 숫자 20개
    assert len(correct) == 20
    pages = tmp_path / "내 숫자"
    pages.mkdir()
    rng = np.random.default_rng(0)
    for k, i in enumerate(correct.tolist()):
        on_paper(data.test_x[i, 0].numpy(), rng).save(pages / f"숫자 {k:02d}.png")
    run = SimpleNamespace(device=torch.device("cpu"), out=tmp_path, path=lambda name: tmp_path / name)
    rows = L01.predict(SimpleNamespace(predict=None), run, [str(pages)], checkpoint=checkpoint)
    expected = [data.classes[direct[i]] for i in correct.tolist()]
    kept = sum(row["label"] == label for row, label in zip(rows, expected))
    assert kept >= 19, f"{kept}/20"
    assert (tmp_path / "predict_inputs.png").stat().st_size > 10_000                 # 원본과 28×28 을 나란히
    # 예전처럼 그림 전체를 28×28 로 줄이면 대부분 틀립니다 (이 테스트가 잡으려는 문제)
    _, squashed = du.load_user_images([str(pages)], size=28, channels=1, framing=None)
    with torch.no_grad():
        old = model(L01.normalize(squashed)).argmax(1)
    assert (old == direct[correct]).sum().item() <= 5      # 잰 값: 20개 중 0~3개만 그대로
