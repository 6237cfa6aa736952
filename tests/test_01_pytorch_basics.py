"""레슨 01: 개념 함수의 값, --quick 실행(실제/대체 데이터), 잘못된 입력, --predict, --resume."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, lesson, read_metrics, run_main
from utils import model_utils
from utils.data_utils import digits_stand_in

L01 = lesson("01_pytorch_basics")
NAME = "01_pytorch_basics"
FIGURES = ["samples.png", "optimizers.png", "learning_curves.png", "confusion_matrix.png", "mistakes.png"]


def test_tensor_basics_values():
    out = L01.tensor_basics()
    assert out["broadcast"].tolist() == [[11, 22, 33], [14, 25, 36]]
    assert out["reshaped"].tolist() == [[1, 2], [3, 4], [5, 6]]
    assert out["shared"][0].item() == 100.0  # NumPy와 메모리 공유
    assert out["int_dtype"] == torch.int64


def test_autograd_matches_hand_derivation():
    auto, hand = L01.autograd_demo()
    assert torch.allclose(auto, hand)
    assert torch.allclose(auto, torch.tensor([9.2, 18.4, 27.6]))


def test_mlp_output_shape_and_normalize():
    model = L01.MLP()
    assert model(torch.zeros(4, 1, 28, 28)).shape == (4, 10)
    x = L01.normalize(torch.full((1, 1, 28, 28), 255, dtype=torch.uint8))
    assert torch.allclose(x, torch.full_like(x, (1 - L01.MNIST_MEAN) / L01.MNIST_STD))


def test_quick_run_on_real_mnist(real_data_dir, tmp_path):
    out = tmp_path / "결과 폴더"
    assert run_main(L01, ["--quick", "--data-dir", str(real_data_dir), "--out-dir", str(out), "--require-data"]) == 0
    m = read_metrics(out, NAME)
    assert m["data_source"] == "local" and m["dataset"] == "MNIST"
    assert (m["n_train"], m["n_test"], m["epochs"]) == (L01.QUICK_TRAIN, L01.QUICK_TEST, 1)
    assert m["metrics"]["test_accuracy"] >= 0.75  # 우연(0.10)보다 훨씬 높아야 함
    for fig in FIGURES:
        assert (out / f"{NAME}-quick" / fig).stat().st_size > 5000


def test_quick_run_on_stand_in(empty_data_dir, tmp_path, capsys):
    out = tmp_path / "결과 폴더"
    assert run_main(L01, ["--quick", "--no-download", "--data-dir", str(empty_data_dir), "--out-dir", str(out)]) == 0
    assert "[주의]" in capsys.readouterr().out
    m = read_metrics(out, NAME)
    assert m["data_source"] == "fallback" and m["n_test"] == 300
    assert m["metrics"]["test_accuracy"] >= 0.5


def test_require_data_names_expected_files(empty_data_dir, tmp_path, capsys):
    code = run_main(L01, ["--quick", "--require-data", "--data-dir", str(empty_data_dir), "--out-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "MNIST 데이터를 찾을 수 없습니다" in err and "train-images-idx3-ubyte.gz" in err
    assert "Traceback" not in err


def test_truncated_data_file_gets_korean_error(real_data_dir, tmp_path, capsys):
    root = tmp_path / "손상 데이터"
    shutil.copytree(real_data_dir / "MNIST", root / "MNIST")
    target = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    target.write_bytes(target.read_bytes()[:100_000])
    assert run_main(L01, ["--quick", "--data-dir", str(root), "--out-dir", str(tmp_path)]) == 2
    assert "손상되었거나 일부만" in capsys.readouterr().err


def test_invalid_option_value(capsys):
    assert run_main(L01, ["--batch-size", "-3"]) == 2
    assert "1 이상의 정수" in capsys.readouterr().err


def test_interrupt_resume_and_predict_on_stand_in(empty_data_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "결과 폴더"
    base = ["--no-download", "--data-dir", str(empty_data_dir), "--out-dir", str(out)]
    real_epoch = model_utils.train_one_epoch
    calls = {"main": 0}

    def interrupt_second_main_epoch(*args, **kwargs):
        if kwargs.get("desc", "").startswith("에폭"):  # 본 학습(이름 없는 fit)만 센다
            calls["main"] += 1
            if calls["main"] == 2:
                raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(model_utils, "train_one_epoch", interrupt_second_main_epoch)
    assert run_main(L01, [*base, "--epochs", "2"]) == 130
    assert "--resume" in capsys.readouterr().err
    monkeypatch.undo()
    assert run_main(L01, [*base, "--epochs", "3", "--resume"]) == 2  # 계획과 다른 에폭 수는 거부
    assert "--epochs 2" in capsys.readouterr().err
    assert run_main(L01, [*base, "--epochs", "2", "--resume"]) == 0
    assert "1 에폭 다음부터" in capsys.readouterr().out
    m = read_metrics(out, NAME, quick=False)
    assert m["epochs"] == 2 and "--resume" in m["command"]

    # 테스트 숫자를 '흰 종이에 검은 글씨'로 저장해 --predict (반전 처리 확인)
    _, _, test_x, _ = digits_stand_in(42)
    photos = tmp_path / "내 숫자"
    photos.mkdir()
    for i in range(5):
        img = 255 - test_x[i, 0].numpy()
        Image.fromarray(img).resize((112, 112)).save(photos / f"숫자 {i}.png")
    (photos / "메모.png").write_text("이미지가 아님")
    assert run_main(L01, [*base, "--predict", str(photos / "숫자 0.png"), str(photos / "숫자 1.png")]) == 0
    table = capsys.readouterr().out
    assert "숫자 0.png" in table and "%" in table
    assert run_main(L01, [*base, "--predict", str(photos / "메모.png")]) == 2
    assert "이미지로 읽을 수 없는" in capsys.readouterr().err
    assert run_main(L01, [*base, "--predict", str(photos / "없음.png")]) == 2
    assert "찾을 수 없습니다" in capsys.readouterr().err


def test_predict_without_checkpoint(tmp_path, capsys):
    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(img)
    assert run_main(L01, ["--predict", str(img), "--out-dir", str(tmp_path / "없는 결과")]) == 2
    assert "체크포인트가 없습니다" in capsys.readouterr().err


def test_killed_child_resumes_to_the_same_weights(empty_data_dir, tmp_path):
    """진짜 중단: 자식 프로세스를 SIGKILL 로 죽이고 --resume 한 결과가 끊기지 않은 학습과 똑같아야 합니다.

    체크포인트에 난수 상태(드롭아웃)와 배치 순서 상태가 들어 있으므로 CPU에서는 가중치가 비트 단위로 같습니다.
    """
    base = [sys.executable, str(ROOT / f"{NAME}.py"), "--no-download", "--data-dir", str(empty_data_dir),
            "--epochs", "25", "--device", "cpu"]
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}  # 스레드 수가 같아야 합 순서도 같습니다
    straight, killed = tmp_path / "한 번에", tmp_path / "중단"
    subprocess.run([*base, "--out-dir", str(straight)], env=env, check=True, capture_output=True, timeout=300)

    child = subprocess.Popen([*base, "--out-dir", str(killed)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clock = killed / NAME / "elapsed.json"
    deadline = time.monotonic() + 240
    while child.poll() is None and time.monotonic() < deadline:
        if clock.exists() and model_utils.load_checkpoint(killed / NAME / "checkpoint.pt")["epoch"] >= 3:
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, "학습이 끝나기 전에 죽이지 못했습니다"
    stopped_at = model_utils.load_checkpoint(killed / NAME / "checkpoint.pt")["epoch"]
    assert 3 <= stopped_at < 25

    subprocess.run([*base, "--out-dir", str(killed), "--resume"], env=env, check=True, capture_output=True,
                   timeout=300)
    a = model_utils.load_checkpoint(straight / NAME / "checkpoint.pt")["model"]
    b = model_utils.load_checkpoint(killed / NAME / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    m_straight, m_resumed = read_metrics(straight, NAME, quick=False), read_metrics(killed, NAME, quick=False)
    assert m_resumed["metrics"]["test_accuracy"] == m_straight["metrics"]["test_accuracy"]
    assert m_resumed["wall_seconds"] > 0


def test_cross_entropy_by_hand_matches_library_without_calling_it(monkeypatch):
    torch.manual_seed(0)
    logits = torch.randn(16, 10) * 30  # 큰 점수: 최댓값을 빼지 않으면 exp 가 넘칩니다
    targets = torch.randint(0, 10, (16,))
    expected = torch.nn.functional.cross_entropy(logits, targets)

    def blocked(*args, **kwargs):
        raise AssertionError("손 구현이 라이브러리를 불렀습니다")

    for name in ("cross_entropy", "log_softmax", "softmax", "nll_loss"):
        monkeypatch.setattr(torch.nn.functional, name, blocked)
    monkeypatch.setattr(torch, "log_softmax", blocked)
    monkeypatch.setattr(torch, "logsumexp", blocked)
    by_hand = L01.cross_entropy_by_hand(logits, targets)
    monkeypatch.undo()
    assert torch.isfinite(by_hand)
    assert by_hand.item() == pytest.approx(expected.item(), rel=1e-5)


def test_training_loop_by_hand_reaches_the_same_weights_as_fit():
    _, _, test_x, test_y = digits_stand_in(0)
    data = type("Data", (), {"train_x": test_x, "train_y": test_y})
    args = type("Args", (), {"seed": 3})
    assert L01.same_as_fit(data, args, n=300) == 0.0
