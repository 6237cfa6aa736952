"""공용 utils 단위 테스트: 옵션, 장치, 체크포인트, 학습 루프/재개, metrics, 내려받기, 데이터, 그림."""
from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from utils import data_utils as du
from utils import model_utils as mu
from utils import visualization as vis


# --- 명령행 옵션 ------------------------------------------------------------------
def make_args(argv):
    return mu.make_parser("test.py", "테스트", epochs=3, batch_size=8, lr=0.1).parse_args(argv)


def test_parser_defaults_and_values():
    args = make_args(["--epochs", "5", "--lr", "0.01", "--device", "cpu"])
    assert (args.epochs, args.batch_size, args.lr, args.device, args.seed) == (5, 8, 0.01, "cpu", 42)
    assert args.out_dir == "runs" and not args.quick and not args.resume


@pytest.mark.parametrize("argv, fragment", [
    (["--epochs", "0"], "1 이상의 정수"),
    (["--epochs", "abc"], "정수가 필요"),
    (["--lr", "-1"], "0보다 큰"),
    (["--lr", "nan"], "0보다 큰"),
    (["--device", "tpu"], "--device"),
])
def test_parser_rejects_bad_values_in_korean(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exc:
        make_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "[오류] 명령행 옵션이 잘못되었습니다" in err and fragment in err


# --- 시드와 장치 --------------------------------------------------------------------
def test_set_seed_is_reproducible():
    mu.set_seed(7)
    a = (torch.rand(3), np.random.rand(3))
    mu.set_seed(7)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_choose_device_falls_back_to_cpu_with_notice(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert mu.choose_device("cuda").type == "cpu"
    assert "CPU로 계속합니다" in capsys.readouterr().out
    assert mu.choose_device("cpu").type == "cpu"


def test_describe_machine_and_memory():
    text = mu.describe_machine(torch.device("cpu"))
    assert "cores" in text
    assert mu.peak_memory_mb() > 10


# --- 체크포인트 -----------------------------------------------------------------------
def test_checkpoint_roundtrip_weights_only(tmp_path):
    path = tmp_path / "체크 포인트" / "c.pt"
    mu.save_checkpoint({"w": torch.arange(3), "classes": ["고양이", "개"], "epoch": 2}, path)
    state = mu.load_checkpoint(path)
    assert state["epoch"] == 2 and state["classes"] == ["고양이", "개"] and torch.equal(state["w"], torch.arange(3))


def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    mu.save_checkpoint({"epoch": 1}, path)

    def crash_midway(obj, f):
        f.write(b"partial bytes")
        raise KeyboardInterrupt  # 저장 도중 Ctrl+C

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        mu.save_checkpoint({"epoch": 2}, path)
    monkeypatch.undo()
    assert mu.load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # 임시 파일도 남지 않음


def test_load_checkpoint_errors_are_korean(tmp_path):
    with pytest.raises(mu.CourseError, match="체크포인트가 없습니다"):
        mu.load_checkpoint(tmp_path / "없음.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(mu.CourseError, match="읽을 수 없습니다"):
        mu.load_checkpoint(bad)


def test_load_checkpoint_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"obj": SimpleNamespace(a=1)}, path)  # 임의 객체는 weights_only 로 읽히지 않아야 함
    with pytest.raises(mu.CourseError):
        mu.load_checkpoint(path)


# --- 학습 루프, 재개, metrics ------------------------------------------------------
def toy_problem(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return x, y


def toy_run(tmp_path, argv):
    args = make_args(["--out-dir", str(tmp_path / "결과 폴더"), *argv])
    return args, mu.start_run("00_test", args, argv)


def test_fit_learns_and_evaluate_reports_predictions(tmp_path):
    x, y = toy_problem()
    model = nn.Linear(2, 2)
    batches = du.TensorBatches(x, y, 32, shuffle=True)
    history = mu.fit(model, batches, du.TensorBatches(x, y, 64), nn.CrossEntropyLoss(),
                     torch.optim.SGD(model.parameters(), lr=0.5), torch.device("cpu"), 5)
    assert len(history["train_loss"]) == 5 and history["train_loss"][-1] < history["train_loss"][0]
    result = mu.evaluate(model, du.TensorBatches(x, y, 64), nn.CrossEntropyLoss(), torch.device("cpu"))
    assert result["accuracy"] > 0.9
    assert len(result["predictions"]) == len(y)


class InterruptAfter:
    """에폭 n번을 돈 뒤 Ctrl+C(KeyboardInterrupt)를 흉내 내는 배치 반복기."""

    def __init__(self, batches, epochs: int):
        self.batches, self.left = batches, epochs

    def __iter__(self):  # 생성기: 본문은 첫 배치를 꺼낼 때 실행됩니다
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        yield from self.batches


def test_resume_continues_from_saved_epoch(tmp_path, capsys):
    x, y = toy_problem()
    loss_fn = nn.CrossEntropyLoss()

    def train(argv, epochs, batches):
        args, run = toy_run(tmp_path, argv)
        torch.manual_seed(0)
        model = nn.Linear(2, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        history = mu.fit(model, batches, None, loss_fn, opt, run.device, epochs, run=run, resume=args.resume)
        return run, history

    _, straight = train(["--out-dir", str(tmp_path / "한 번에")], 4, du.TensorBatches(x, y, 32))
    with pytest.raises(KeyboardInterrupt):
        train([], 4, InterruptAfter(du.TensorBatches(x, y, 32), 2))
    _, run = toy_run(tmp_path, [])
    assert mu.load_checkpoint(run.checkpoint_path)["epoch"] == 2
    run, resumed = train(["--resume"], 4, du.TensorBatches(x, y, 32))
    assert "2 에폭 다음부터" in capsys.readouterr().out
    # 중단 후 이어 한 학습은 한 번에 끝낸 학습과 같은 손실 곡선을 그립니다
    assert resumed["train_loss"] == pytest.approx(straight["train_loss"], rel=1e-6)
    assert run.previous_seconds > 0  # 재개한 실행도 앞선 시간을 합산
    with pytest.raises(mu.CourseError, match="--epochs 4"):
        train(["--resume"], 6, du.TensorBatches(x, y, 32))


def test_stage_result_is_reused_only_on_resume(tmp_path, capsys):
    """run.stage: 끝난 단계(비교 실험 등)의 결과는 --resume 때만 저장된 것을 쓰고, 새 실행은 다시 계산합니다."""
    calls = []

    def compute():
        calls.append(1)
        return {"정확도": [0.5, 0.75], "이름": "ReLU", "순위": [{"lr": 1e-3, "width": 256}]}

    _, run = toy_run(tmp_path, [])
    first = run.stage("비교", compute)
    assert (run.out / "비교.pt").is_file() and (run.out / mu.CLOCK_FILE).is_file()
    _, run = toy_run(tmp_path, ["--resume"])
    assert run.stage("비교", compute) == first and len(calls) == 1  # 이어서: 다시 계산하지 않음
    assert "저장된 결과" in capsys.readouterr().out
    _, run = toy_run(tmp_path, [])
    run.stage("비교", compute)
    assert len(calls) == 2  # --resume 이 없으면 다시 계산


def test_write_metrics_schema(tmp_path):
    args, run = toy_run(tmp_path, ["--quick"])
    assert run.out.name == "00_test-quick"
    record = run.write_metrics(dataset="장난감", data_source="fallback", epochs=1, n_train=10, n_test=5,
                               metrics={"test_accuracy": 0.5})
    saved = json.loads((run.out / "metrics.json").read_text(encoding="utf-8"))
    assert saved == record
    for key in ["lesson", "dataset", "data_source", "command", "device", "machine", "seed", "epochs",
                "n_train", "n_test", "wall_seconds", "peak_memory_mb", "metrics", "versions"]:
        assert key in saved
    assert saved["command"] == "python 00_test.py --quick"
    assert set(saved["versions"]) == {"python", "torch", "torchvision"}


def test_start_run_rejects_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    args = make_args(["--out-dir", str(blocker)])
    with pytest.raises(mu.CourseError, match="결과 폴더"):
        mu.start_run("00_test", args, [])


# --- 내려받기: 127.0.0.1 의 http.server 로만 시험 (외부 네트워크 없음) -----------------
class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}

    def do_GET(self):  # noqa: N802
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        if self.path == "/slow":
            time.sleep(3)
        self.send_response(200)
        claimed = len(body) * 2 if self.path == "/partial" else len(body)
        self.send_header("Content-Length", str(claimed))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    _Handler.files = {"/good": b"hello data", "/partial": b"half", "/slow": b"late"}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def md5(data: bytes) -> str:
    import hashlib
    return hashlib.md5(data).hexdigest()


def test_download_verifies_checksum(http_server, tmp_path):
    dest = tmp_path / "d" / "good.bin"
    du.download_file(f"{http_server}/good", dest, md5(b"hello data"))
    assert dest.read_bytes() == b"hello data"


def test_download_wrong_checksum_is_rejected_and_removed(http_server, tmp_path):
    dest = tmp_path / "bad.bin"
    with pytest.raises(ValueError):
        du.download_file(f"{http_server}/good", dest, md5(b"something else"))
    assert list(tmp_path.iterdir()) == []


def test_download_partial_file_is_removed(http_server, tmp_path):
    dest = tmp_path / "partial.bin"
    with pytest.raises(OSError):
        du.download_file(f"{http_server}/partial", dest, None)
    assert list(tmp_path.iterdir()) == []


def test_download_times_out(http_server, tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(OSError):
        du.download_file(f"{http_server}/slow", tmp_path / "slow.bin", None, timeout=0.5)
    assert time.perf_counter() - t0 < 2.5
    assert list(tmp_path.iterdir()) == []


def test_fetch_verified_tries_mirrors_and_skips_verified_files(http_server, tmp_path, capsys):
    dest = tmp_path / "f.bin"
    assert du.fetch_verified([f"{http_server}/missing", f"{http_server}/good"], dest, md5(b"hello data"))
    assert "실패" in capsys.readouterr().out  # 첫 미러 실패를 알림
    assert du.fetch_verified(["http://127.0.0.1:9/never-called"], dest, md5(b"hello data"))
    assert not du.fetch_verified([f"{http_server}/missing"], tmp_path / "none.bin", None)


# --- 데이터 찾기 -------------------------------------------------------------------
def test_resolve_data_dir_priority(monkeypatch):
    monkeypatch.setenv("DL_DATA_DIR", "/env/dir")
    assert du.resolve_data_dir("/cli") == Path("/cli")
    assert du.resolve_data_dir(None) == Path("/env/dir")
    monkeypatch.delenv("DL_DATA_DIR")
    assert du.resolve_data_dir(None) == Path("data")


@pytest.mark.parametrize("present, require, no_download, downloads, expected", [
    (True, False, False, False, "local"),
    (False, False, False, True, "downloaded"),
    (False, False, False, False, "fallback"),
    (False, False, True, True, "fallback"),
])
def test_locate_dataset_order(present, require, no_download, downloads, expected, capsys):
    state = {"present": present}

    def download():
        state["present"] = downloads
        return downloads

    args = SimpleNamespace(require_data=require, no_download=no_download)
    assert du.locate_dataset(args, "장난감", ["a.bin"], lambda: state["present"], download) == expected
    if expected == "fallback":
        assert "[주의]" in capsys.readouterr().out


def test_locate_dataset_require_data_names_files():
    args = SimpleNamespace(require_data=True, no_download=False)
    with pytest.raises(mu.CourseError, match="a.bin"):
        du.locate_dataset(args, "장난감", ["a.bin"], lambda: False, lambda: True)


# --- 배치, 분할 ---------------------------------------------------------------------
def test_tensor_batches_cover_everything_and_reshuffle():
    x = torch.arange(10).float().unsqueeze(1)
    y = torch.arange(10)
    batches = du.TensorBatches(x, y, 4, shuffle=True, transform=lambda b: b * 2, seed=1)
    assert len(batches) == 3
    first = torch.cat([yb for _, yb in batches])
    second = torch.cat([yb for _, yb in batches])
    assert sorted(first.tolist()) == list(range(10)) and not torch.equal(first, second)
    for xb, yb in batches:
        assert torch.equal(xb.squeeze(1), yb.float() * 2)  # 변환 적용, 쌍 유지


def test_split_train_val_is_disjoint_and_complete():
    x = torch.arange(100)
    tx, ty, vx, vy = du.split_train_val(x, x.clone(), 0.2, seed=0)
    assert len(vx) == 20 and len(tx) == 80
    assert set(tx.tolist()).isdisjoint(vx.tolist()) and set(tx.tolist()) | set(vx.tolist()) == set(range(100))
    sx, sy = du.take_subset(x, x.clone(), 10, seed=0)
    assert torch.equal(sx, sy) and len(sx) == 10


def test_stand_ins_have_expected_shapes():
    x, y, tx, ty = du.digits_stand_in()
    assert x.shape[1:] == (1, 28, 28) and x.dtype == torch.uint8 and set(y.tolist()) == set(range(10))
    assert len(x) + len(tx) == 1797
    x, y, tx, ty = du.fashion_stand_in()
    assert x.shape[1:] == (1, 28, 28) and len(set(ty.tolist())) == 10


# --- 사용자 이미지 -----------------------------------------------------------------
def test_load_user_images_inverts_light_background(tmp_path):
    img = np.full((60, 40), 255, dtype=np.uint8)
    img[20:40, 15:25] = 0  # 흰 종이 위 검은 글씨
    Image.fromarray(img).save(tmp_path / "숫자 한개.png")
    Image.fromarray(np.zeros((10, 10, 3), dtype=np.uint8)).save(tmp_path / "b.jpg")
    paths, images = du.load_user_images([str(tmp_path)], size=28, channels=1)
    assert images.shape == (2, 1, 28, 28) and images.dtype == torch.uint8
    assert images[0].float().mean() < 127  # 반전되어 어두운 배경


def test_load_user_images_errors(tmp_path):
    with pytest.raises(mu.CourseError, match="찾을 수 없습니다"):
        du.load_user_images([str(tmp_path / "없는 파일.png")], 28)
    (tmp_path / "note.png").write_text("이미지가 아님")
    with pytest.raises(mu.CourseError, match="이미지로 읽을 수 없는"):
        du.load_user_images([str(tmp_path / "note.png")], 28)
    empty = tmp_path / "빈 폴더"
    empty.mkdir()
    with pytest.raises(mu.CourseError, match="이미지 파일이 없습니다"):
        du.load_user_images([str(empty)], 28)


# --- 그림 -------------------------------------------------------------------------
def test_confusion_matrix_counts():
    cm = vis.confusion_matrix(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 2]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_figures_render_hangul_without_missing_glyphs(tmp_path):
    # pytest.ini 가 'Glyph ... missing' 경고를 오류로 바꾸므로, 글꼴이 빠지면 여기서 실패합니다.
    history = {"train_loss": [1.0, 0.5], "train_accuracy": [0.5, 0.8], "val_loss": [1.1, 0.7],
               "val_accuracy": [0.4, 0.7]}
    outputs = [
        vis.plot_learning_curves({"모델": history}, tmp_path / "곡선.png", title="학습 곡선 -1"),
        vis.plot_confusion_matrix(np.eye(3, dtype=int), ["고양이", "개", "새"], tmp_path / "cm.png"),
        vis.plot_image_grid(torch.zeros(3, 1, 8, 8, dtype=torch.uint8), ["가", "나", "다"], tmp_path / "g.png", "격자"),
        vis.plot_bars({"가": 0.5, "나": -0.2}, tmp_path / "b.png", "막대", "값"),
    ]
    for path in outputs:
        assert path.stat().st_size > 1000
    import matplotlib.pyplot as plt
    assert plt.rcParams["font.family"] == [vis.KOREAN_FONT]


def test_fetch_hub_weights_checks_hash_prefix_and_cache(http_server, tmp_path, monkeypatch):
    import hashlib
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "허브"))
    data = b"pretrained weights"
    good_name = f"net-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    _Handler.files.update({f"/{good_name}": data, "/net-00000000.pth": data})
    assert "--no-download" in du.fetch_hub_weights(f"{http_server}/{good_name}", allow_download=False)
    assert du.fetch_hub_weights(f"{http_server}/{good_name}", allow_download=True) is None
    assert du.hub_weights_path(good_name).read_bytes() == data
    # 이름의 해시와 내용이 다르면 지우고 이유를 돌려줍니다
    assert "해시" in du.fetch_hub_weights(f"{http_server}/net-00000000.pth", allow_download=True)
    assert not du.hub_weights_path("net-00000000.pth").exists()
    # 캐시에 있으면 네트워크 없이 바로 사용
    server_gone = f"http://127.0.0.1:9/{good_name}"
    assert du.fetch_hub_weights(server_gone, allow_download=True) is None


# --- CPU 스레드 수 ------------------------------------------------------------------
@pytest.mark.parametrize("load, expected", [(0.3, "previous"), (1.4, "previous"), (2.5, 1)])
def test_cpu_threads_drops_to_one_only_when_all_cores_are_busy(monkeypatch, load, expected):
    """부하 평균이 코어 수 이상일 때만 1개로 내리고, 끝나면 원래 스레드 수로 돌려놓습니다."""
    monkeypatch.setattr(mu.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(mu.os, "getloadavg", lambda: (load, load, load))
    previous = torch.get_num_threads()
    with mu.cpu_threads(None) as threads:
        assert threads == (previous if expected == "previous" else expected)
        assert torch.get_num_threads() == threads
    assert torch.get_num_threads() == previous


def test_cpu_threads_honours_the_request_and_restores(monkeypatch):
    monkeypatch.setattr(mu.os, "getloadavg", lambda: (50.0, 50.0, 50.0))   # 바빠도 요청이 우선
    previous = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with mu.cpu_threads(3) as threads:
            assert threads == 3 and torch.get_num_threads() == 3
            raise RuntimeError("학습 중 오류")
    assert torch.get_num_threads() == previous
