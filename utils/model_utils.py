"""모든 레슨이 함께 쓰는 실행 도구: 명령행 옵션, 시드, 장치, 학습/평가 루프, 체크포인트, metrics.json.

레슨 파일은 '무엇을 배우는가'에 집중하고, 반복되는 뼈대는 여기에 한 번만 둡니다.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn
from tqdm import tqdm  # 노트북에서도 글자 진행 막대 (위젯 경고 없이)

from utils import distributed as dist_utils  # torchrun 아래에서만 일하는 배관

DEFAULT_SEED = 42
DEFAULT_OUT_DIR = "runs"


# ---------------------------------------------------------------------------
# 1. 사용자에게 보여 줄 오류: 트레이스백 대신 한국어 한 줄과 종료 코드
# ---------------------------------------------------------------------------
class CourseError(Exception):
    """학습자가 고칠 수 있는 문제(경로, 파일, 옵션 값). 메시지는 한국어로 씁니다."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


# ---------------------------------------------------------------------------
# 2. 공통 명령행 옵션 (모든 레슨이 같은 이름과 의미를 씁니다)
# ---------------------------------------------------------------------------
class KoreanArgumentParser(argparse.ArgumentParser):
    """argparse의 영어 오류 대신 한국어 안내를 출력합니다 (종료 코드 2)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"[오류] 명령행 옵션이 잘못되었습니다: {message}\n"
              f"       사용법은 'python {self.prog} --help' 로 확인하세요.", file=sys.stderr)
        raise SystemExit(2)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"정수가 필요합니다 (받은 값: {text!r})") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"1 이상의 정수여야 합니다 (받은 값: {text!r})")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"숫자가 필요합니다 (받은 값: {text!r})") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"0보다 큰 유한한 숫자여야 합니다 (받은 값: {text!r})")
    return value


def fraction(text: str) -> float:
    """0 이상 1 미만의 비율 (드롭아웃·레이블 스무딩·가중치 감쇠 등): 범위 밖이면 학습 도중이 아니라 시작할 때 알림."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"숫자가 필요합니다 (받은 값: {text!r})") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"0 이상 1 미만이어야 합니다 (받은 값: {text!r})")
    return value


def make_parser(prog: str, description: str, epochs: int, batch_size: int, lr: float) -> KoreanArgumentParser:
    """레슨마다 기본값만 다른 공통 옵션. 레슨 고유 옵션은 돌려받은 parser에 더 추가합니다."""
    p = KoreanArgumentParser(prog=prog, description=description,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="작은 부분집합과 짧은 학습으로 몇 초 만에 전체 흐름만 확인 (결과는 runs/<레슨>-quick/)")
    p.add_argument("--epochs", type=positive_int, default=epochs, help=f"에폭 수 (기본 {epochs})")
    p.add_argument("--batch-size", type=positive_int, default=batch_size, help=f"배치 크기 (기본 {batch_size})")
    p.add_argument("--lr", type=positive_float, default=lr, help=f"학습률 (기본 {lr})")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto",
                   help="계산 장치 (기본 auto: cuda > mps > cpu)")
    p.add_argument("--data-dir", default=None,
                   help="데이터 루트 (기본: 환경 변수 DL_DATA_DIR, 없으면 ./data)")
    p.add_argument("--out-dir", default=DEFAULT_OUT_DIR, help="결과 폴더 (기본 runs/)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"난수 시드 (기본 {DEFAULT_SEED})")
    p.add_argument("--no-download", action="store_true",
                   help="내려받지 않고 로컬 파일만 사용 (없으면 내장 대체 데이터)")
    p.add_argument("--require-data", action="store_true",
                   help="실제 데이터가 없으면 대체 데이터 대신 오류로 종료 (종료 코드 2)")
    p.add_argument("--resume", action="store_true", help="저장된 체크포인트에서 이어서 학습")
    return p


# ---------------------------------------------------------------------------
# 3. 재현성과 장치
# ---------------------------------------------------------------------------
def set_seed(seed: int) -> None:
    """파이썬·NumPy·PyTorch의 난수를 한 번에 고정해 같은 명령이 같은 결과를 내게 합니다."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def choose_device(name: str = "auto") -> torch.device:
    """auto는 cuda > mps > cpu 순. 요청한 장치가 없으면 알리고 CPU로 계속합니다."""
    cuda_ok = torch.cuda.is_available()
    mps_ok = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda_ok else "mps" if mps_ok else "cpu")
    if (name == "cuda" and not cuda_ok) or (name == "mps" and not mps_ok):
        print(f"[알림] --device {name} 를 요청했지만 이 컴퓨터에서 쓸 수 없습니다. CPU로 계속합니다.")
        return torch.device("cpu")
    return torch.device(name)


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """--threads: 학습이 무거운 레슨이 붙이는 옵션. 값은 cpu_threads 가 씁니다."""
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="CPU 스레드 수 (기본: 다른 작업이 코어를 모두 쓰고 있으면 1, 아니면 PyTorch 기본값)")


@contextlib.contextmanager
def cpu_threads(requested: int | None):
    """CPU 스레드 수를 정해 두고, 끝나면 원래 값으로 돌려놓습니다 (--threads 옵션).

    요청이 없을 때: 다른 작업이 이미 코어를 모두 차지하고 있으면(1분 평균 부하 ≥ 코어 수) 1개만 씁니다.
    연산 하나를 여러 스레드가 나눠 계산하면 매 연산 끝에 서로를 기다리는데, 코어를 나눠 쓰는 중이면
    한 스레드가 자주 밀려나 나머지가 기다리기만 합니다 (2코어·부하 10에서 측정: 2스레드가 1스레드보다 4배 느림).
    반대로 방금 끝난 작업 때문에 부하 평균만 조금 남은 경우(2코어·부하 1.4)에 1개로 내리면 두 배 가까이 느려지므로
    (레슨 03에서 측정: 에폭 82초 → 148초) 코어가 모두 찬 경우에만 내립니다.
    """
    previous = torch.get_num_threads()
    cores = os.cpu_count() or 1
    busy = requested is None and hasattr(os, "getloadavg") and os.getloadavg()[0] >= cores
    threads = requested or (1 if busy else previous)
    torch.set_num_threads(threads)
    print(f"  CPU 스레드: {threads}" + (" (다른 작업으로 CPU가 바빠 1개만 사용; --threads 로 지정 가능)" if busy else ""))
    try:
        yield threads
    finally:
        torch.set_num_threads(previous)  # 같은 프로세스의 다른 코드(테스트 등)에 영향을 남기지 않음


def describe_machine(device: torch.device) -> str:
    """metrics.json에 남길 한 줄짜리 하드웨어 설명 (시간은 하드웨어와 함께 읽어야 합니다)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores, {platform.system()}"
    if device.type == "cuda":
        text += f"; GPU {torch.cuda.get_device_name(device)}"
    elif device.type == "mps":
        text += "; Apple MPS"
    return text


def peak_memory_mb() -> float:
    """프로세스의 최대 상주 메모리(MB). Linux는 KB, macOS는 바이트 단위로 돌려줍니다."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------
# 4. 체크포인트: 원자적 저장(임시 파일 → rename), weights_only=True 로드
# ---------------------------------------------------------------------------
def save_checkpoint(state: dict, path: Path) -> None:
    """저장 도중 중단돼도 이전 체크포인트가 온전히 남도록 임시 파일에 쓴 뒤 이름을 바꿉니다."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    """weights_only=True: 텐서·숫자·문자열만 읽어 임의 코드 실행을 막습니다."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"체크포인트가 없습니다: {path}\n"
                          "       먼저 옵션 없이 레슨을 실행해 모델을 학습·저장하세요.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # 잘린 파일, 다른 형식의 파일 등
        raise CourseError(f"체크포인트를 읽을 수 없습니다 (손상되었거나 다른 형식): {path}\n"
                          f"       파일을 지우고 다시 학습하세요. 원인: {type(err).__name__}") from None


# ---------------------------------------------------------------------------
# 5. 실행 한 번의 기록: 결과 폴더, 시간, metrics.json
# ---------------------------------------------------------------------------
CLOCK_FILE = "elapsed.json"  # 중단된 실행이 마지막 체크포인트까지 쓴 시간 (--resume 이 이어서 셉니다)


@dataclass
class Run:
    """레슨 실행 한 번. 결과 폴더·장치·경과 시간을 들고 다니며 마지막에 metrics.json을 씁니다.

    경과 시간 규칙(모든 레슨 공통): 이전 실행들이 마지막 체크포인트를 저장한 시각까지의 시간
    + 이번 실행의 처음부터 지금까지. 체크포인트는 모두 run.save 로 저장해 이 시계가 함께 기록됩니다.
    """
    lesson: str
    args: argparse.Namespace
    argv: list
    device: torch.device
    out: Path
    started: float = field(default_factory=time.perf_counter)
    previous_seconds: float = 0.0  # --resume 이전 실행들이 쓴 시간

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def elapsed(self) -> float:
        return self.previous_seconds + time.perf_counter() - self.started

    def path(self, name: str) -> Path:
        return self.out / name

    def save(self, state: dict, path: Path | None = None) -> None:
        """체크포인트를 원자적으로 저장하고, 지금까지의 경과 시간을 시계 파일에 남깁니다."""
        elapsed = self.elapsed()
        if dist_utils.is_main():  # torchrun: 랭크 0만 쓰고, 나머지는 다 쓸 때까지 기다립니다
            save_checkpoint({**state, "elapsed": elapsed}, path or self.checkpoint_path)
            write_text_atomic(self.out / CLOCK_FILE, json.dumps({"elapsed": elapsed}))
        dist_utils.barrier()

    def stage(self, name: str, compute):
        """학습 앞의 한 단계(비교 실험·탐색 등)를 compute() 로 하고 그 결과를 run.save 로 남깁니다.

        --resume 이면 이미 끝난 단계는 다시 하지 않고 저장된 결과를 돌려줍니다 (중단된 본 학습만 이어서).
        결과는 평범한 값(숫자·문자열·리스트·사전)이어야 합니다. 파일: 결과 폴더의 <name>.pt
        """
        path = self.path(f"{name}.pt")
        if getattr(self.args, "resume", False) and path.is_file():
            print(f"[이어서 학습] {path} 에 저장된 결과를 씁니다 (다시 계산하지 않음).")
            return load_checkpoint(path)["result"]
        result = compute()
        self.save({"result": result}, path)
        return result

    def resume_clock(self) -> None:
        """--resume: 이전 실행들의 시간을 이어서 셉니다 (없으면 0부터)."""
        clock = self.out / CLOCK_FILE
        if clock.is_file():
            self.previous_seconds = json.loads(clock.read_text(encoding="utf-8"))["elapsed"]

    def write_metrics(self, *, dataset: str, data_source: str, epochs: int, n_train: int,
                      n_test: int, metrics: dict) -> dict:
        record = {
            "lesson": self.lesson,
            "dataset": dataset,
            "data_source": data_source,
            "command": " ".join(["python", f"{self.lesson}.py", *self.argv]),
            "device": str(self.device),
            "machine": describe_machine(self.device),
            "seed": self.args.seed,
            "epochs": epochs,
            "n_train": int(n_train),
            "n_test": int(n_test),
            "wall_seconds": round(self.elapsed(), 1),
            "peak_memory_mb": peak_memory_mb(),
            "metrics": metrics,
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "torchvision": torchvision.__version__},
        }
        if self.device.type == "cuda":
            record["cuda_peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        record.update(dist_utils.record_fields(f"{self.lesson}.py", self.argv))  # torchrun 일 때만
        if not dist_utils.is_main():
            return record
        text = json.dumps(record, ensure_ascii=False, indent=2)
        (self.out / "metrics.json").write_text(text + "\n", encoding="utf-8")
        print(f"\n결과 기록: {self.out / 'metrics.json'}  (총 {record['wall_seconds']}초, {record['machine']})")
        return record


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run_folder(out_dir, lesson: str, quick: bool) -> Path:
    """레슨의 결과 폴더. --quick 결과는 전체 실행 결과를 덮어쓰지 않도록 `<레슨>-quick` 에 따로 둡니다."""
    return Path(out_dir) / (f"{lesson}-quick" if quick else lesson)


def start_run(lesson: str, args: argparse.Namespace, argv) -> Run:
    """시드·장치·결과 폴더를 준비합니다."""
    set_seed(args.seed)
    dist_utils.silence_other_ranks()
    device = dist_utils.setup(choose_device(args.device))  # torchrun 이 아니면 그대로
    out = run_folder(args.out_dir, lesson, args.quick)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test{dist_utils.rank() or ''}"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as err:
        raise CourseError(f"결과 폴더를 만들거나 쓸 수 없습니다: {out} ({err.strerror})") from None
    print(f"[{lesson}] 장치: {device} | 결과 폴더: {out} | 시드: {args.seed}")
    if dist_utils.active():
        print(dist_utils.world_note(getattr(args, "batch_size", None)))
    run = Run(lesson=lesson, args=args, argv=list(argv if argv is not None else sys.argv[1:]),
              device=device, out=out)
    if getattr(args, "resume", False):
        run.resume_clock()
    return run


# ---------------------------------------------------------------------------
# 6. 공통 학습/평가 루프
# ---------------------------------------------------------------------------
def _to_device(batch, device):
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device) for b in batch)
    return batch.to(device, non_blocking=True) if torch.is_tensor(batch) else batch


def _forward(model, inputs):
    return model(*inputs) if isinstance(inputs, (tuple, list)) else model(inputs)


def _autocast(device: torch.device):
    """CUDA에서는 bfloat16 혼합 정밀도로 빠르게, 그 밖의 장치에서는 그대로 float32."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def train_one_epoch(model, batches, loss_fn, optimizer, device, *, scheduler=None,
                    clip_grad_norm=None, desc="학습") -> dict:
    """배치마다 순전파 → 손실 → 역전파 → 갱신. (inputs, targets) 배치를 받습니다."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    bar = tqdm(batches, desc=desc, leave=False, dynamic_ncols=True, mininterval=1.0,
               disable=None)  # 터미널이 아니면(로그 파일·CI) 진행 막대를 끕니다
    for inputs, targets in bar:
        inputs, targets = _to_device(inputs, device), _to_device(targets, device)
        with _autocast(device):
            outputs = _forward(model, inputs)
            loss = loss_fn(outputs, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        n = targets.shape[0]
        total_loss += loss.item() * n
        seen += n
        if outputs.dim() == 2 and targets.dim() == 1 and not targets.is_floating_point():
            correct += (outputs.argmax(1) == targets).sum().item()
        bar.set_postfix(손실=f"{total_loss / seen:.4f}")
    return {"loss": total_loss / max(seen, 1), "accuracy": correct / max(seen, 1)}


@torch.no_grad()
def evaluate(model, batches, loss_fn, device) -> dict:
    """평가: 그래디언트를 계산하지 않아(no_grad) 빠르고 메모리를 적게 씁니다.

    돌려주는 값: loss, accuracy(분류일 때), predictions/targets (혼동 행렬·오분류 그림용).
    """
    if dist_utils.active() and not isinstance(batches, dist_utils.ShardedBatches):
        return dist_utils.evaluate(evaluate, model, batches, loss_fn, device)  # 조각마다 평가해 합을 모음
    model.eval()
    total_loss, seen, preds, trues = 0.0, 0, [], []
    for inputs, targets in batches:
        inputs, targets = _to_device(inputs, device), _to_device(targets, device)
        with _autocast(device):
            outputs = _forward(model, inputs)
            loss = loss_fn(outputs, targets)
        n = targets.shape[0]
        total_loss += loss.item() * n
        seen += n
        if outputs.dim() == 2 and targets.dim() == 1 and not targets.is_floating_point():
            preds.append(outputs.argmax(1).cpu())
            trues.append(targets.cpu())
    result = {"loss": total_loss / max(seen, 1)}
    if preds:
        p, t = torch.cat(preds), torch.cat(trues)
        result.update(accuracy=(p == t).float().mean().item(), predictions=p, targets=t)
    return result


def rng_state() -> dict:
    """파이썬·NumPy·PyTorch 난수 상태 (체크포인트에 넣어 이어서 학습해도 같은 난수가 나오게)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                       "has_gauss": has_gauss, "gauss": gauss}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _state_dicts(obj):
    """옵티마이저·스케줄러 하나 또는 {이름: 객체} 사전의 state_dict (GAN 은 둘씩 씁니다)."""
    if obj is None:
        return None
    return {k: v.state_dict() for k, v in obj.items()} if isinstance(obj, dict) else obj.state_dict()


def _load_state_dicts(obj, state) -> None:
    if obj is None or state is None:
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            v.load_state_dict(state[k])
    else:
        obj.load_state_dict(state)


def _custom_epoch(train_step, batches, desc: str) -> dict:
    """레슨이 직접 쓴 학습 단계(GAN 의 두 단계 등)를 배치마다 부르고, 돌려준 값들을 평균합니다."""
    sums, count = {}, 0
    for batch in tqdm(batches, desc=desc, leave=False, dynamic_ncols=True, mininterval=1.0, disable=None):
        for key, value in train_step(batch).items():
            sums[key] = sums.get(key, 0.0) + float(value)
        count += 1
    return {k: v / max(count, 1) for k, v in sums.items()}


def _format_epoch(history: dict, index: int, labels: dict | None = None) -> str:
    names = {"train_loss": "학습 손실", "train_accuracy": "학습 정확도", "val_loss": "검증 손실",
             "val_accuracy": "검증 정확도", **(labels or {})}
    parts = []
    for key, values in history.items():
        if key in ("epoch_seconds", "best_epoch") or len(values) <= index or names.get(key, key) is None:
            continue
        value = values[index]
        if isinstance(value, float) and value == value:  # NaN(검증 없음)은 건너뜀
            parts.append(f"{names.get(key, key)} {value:.4f}")
    return "  ".join(parts)


def fit(model, train_batches, val_batches, loss_fn, optimizer, device, epochs: int, *,
        scheduler=None, clip_grad_norm=None, train_step=None, evaluate_fn=None,
        select_best: str | None = None, minimize: bool = False, patience: int | None = None,
        on_epoch_end=None, run: Run | None = None, resume: bool = False, checkpoint: Path | None = None,
        checkpoint_extra: dict | None = None, name: str = "", labels: dict | None = None,
        extra_state: dict | None = None, check_extra: bool = False, distributed: bool | None = None) -> dict:
    """과정 전체가 함께 쓰는 하나뿐인 학습 루프: 에폭 반복, 기록, 체크포인트, --resume.

    - 기본 학습 단계: 순전파 → 손실 → 역전파 → (클리핑) → 갱신. train_step(batch) -> {이름: 값} 을 주면
      그 레슨이 직접 쓴 단계(GAN 의 판별자·생성자 두 단계 등)를 씁니다.
    - 검증: evaluate(model, val_batches, loss_fn) 또는 evaluate_fn(model) -> {이름: 값} ("val_" 을 붙여 기록).
    - select_best="val_accuracy" (minimize=True 면 작을수록 좋음): 가장 좋았던 에폭의 가중치로 끝냅니다.
      patience: 그 값이 patience 에폭 동안 나아지지 않으면 일찍 멈춥니다(조기 종료).
    - on_epoch_end(epoch, history) -> {이름: 값} | None: 에폭마다 더 잴 것(예: 검증 BLEU).
    - run 이 있으면 에폭마다 원자적 체크포인트. 모델·옵티마이저·스케줄러·기록·난수 상태·배치 순서 상태를
      저장하므로, 중단 후 --resume 한 학습은 CPU에서 끊기지 않은 학습과 같은 가중치에 도달합니다.
    - labels={"val_bleu": "검증 BLEU"}: 에폭 줄에 쓸 이름 (None 이면 그 값은 줄에서 뺌).
    - extra_state={"averager": obj}: state_dict()/load_state_dict() 가 있는 것(가중치 평균 등)도 체크포인트에
      넣고 --resume 때 되살립니다. check_extra=True: --resume 할 때 checkpoint_extra 가 저장된 값과 같아야 합니다.
    - torchrun 아래에서 distributed(기본: run 이 있는 본 학습이면 True)이면 모델을 DistributedDataParallel 로
      감싸고 전체 배치마다 이 프로세스의 조각만 학습합니다 (utils/distributed.py). run 없는 작은 비교 실험은
      프로세스마다 똑같이 돌아 1프로세스와 같은 결과를 냅니다. 체크포인트는 감싸지 않은 모델에서 저장합니다.
    돌려주는 history: 키마다 에폭별 값의 리스트 (+ select_best 가 있으면 "best_epoch", 1부터).
    """
    history = {"train_loss": [], "train_accuracy": [], "val_loss": [], "val_accuracy": [], "epoch_seconds": []}
    if train_step is not None:
        history = {"epoch_seconds": []}
    path = checkpoint or (run.checkpoint_path if run is not None else None)
    best = {"value": None, "epoch": 0, "model": None}
    start_epoch = 0
    if path is not None and resume and Path(path).exists():
        state = load_checkpoint(path, map_location=device)
        if state.get("planned_epochs", epochs) != epochs:  # 학습률 스케줄이 에폭 수에 묶여 있기 때문
            raise CourseError(f"체크포인트는 --epochs {state['planned_epochs']} 로 계획된 학습입니다. "
                              "같은 값으로 이어서 학습하거나, --resume 없이 새로 시작하세요.")
        for key, value in (checkpoint_extra or {}).items() if check_extra else ():
            if state.get(key) != value:
                raise CourseError(f"체크포인트의 {key} 가 지금 설정과 다릅니다. 같은 옵션으로 --resume 하거나, "
                                  "--resume 없이 새로 시작하세요.")
        model.load_state_dict(state["model"])
        _load_state_dicts(optimizer, state["optimizer"])
        _load_state_dicts(scheduler, state.get("scheduler"))
        history, start_epoch, best = state["history"], state["epoch"], state["best"]
        set_rng_state(state["rng"])
        if "batches" in state:
            train_batches.load_state_dict(state["batches"])
        for key, obj in (extra_state or {}).items():
            obj.load_state_dict(state[key])
        print(f"[이어서 학습] {path} 의 {start_epoch} 에폭 다음부터 계속합니다.")
    train_model, train_batches = dist_utils.prepare(  # torchrun 이 아니면 그대로
        model, train_batches, device, enabled=run is not None if distributed is None else distributed,
        custom_step=train_step is not None)
    for epoch in range(start_epoch, epochs):
        if patience is not None and epoch - best["epoch"] >= patience and best["epoch"] > 0:
            print(f"  {name}검증 {select_best} 가 {patience} 에폭 동안 나아지지 않아 멈춥니다 (조기 종료).")
            break
        t0 = time.perf_counter()
        desc = f"{name}에폭 {epoch + 1}/{epochs}"
        if train_step is None:
            tr = train_one_epoch(train_model, train_batches, loss_fn, optimizer, device, scheduler=scheduler,
                                 clip_grad_norm=clip_grad_norm, desc=desc)
            if train_model is not model:
                tr = dist_utils.average(tr)  # 프로세스마다 잰 학습 손실·정확도의 평균
        else:
            tr = _custom_epoch(train_step, train_batches, desc)
        if evaluate_fn is not None:
            va = evaluate_fn(model)
        elif val_batches is not None:
            va = {k: v for k, v in evaluate(model, val_batches, loss_fn, device).items()
                  if k in ("loss", "accuracy")}
        else:
            va = {}
        extra = on_epoch_end(epoch, history) if on_epoch_end is not None else None
        row = {**{f"train_{k}": v for k, v in tr.items()}, **{f"val_{k}": v for k, v in va.items()}, **(extra or {})}
        if train_step is None and not va:
            row.update(val_loss=float("nan"), val_accuracy=float("nan"))
        for key, value in row.items():
            history.setdefault(key, []).append(value)
        history["epoch_seconds"].append(time.perf_counter() - t0)
        if select_best is not None:
            value = history[select_best][-1]
            if best["value"] is None or (value < best["value"] if minimize else value > best["value"]):
                best = {"value": value, "epoch": epoch + 1,
                        "model": {k: v.detach().clone() for k, v in model.state_dict().items()}}
            history["best_epoch"] = best["epoch"]
        print(f"  {name}에폭 {epoch + 1:>2}/{epochs}  {_format_epoch(history, epoch, labels)}"
              f"  ({history['epoch_seconds'][-1]:.1f}초)")
        if run is not None:
            state = {"model": model.state_dict(), "optimizer": _state_dicts(optimizer),
                     "epoch": epoch + 1, "planned_epochs": epochs, "history": history, "best": best,
                     "rng": rng_state(), **(checkpoint_extra or {}),
                     **{key: obj.state_dict() for key, obj in (extra_state or {}).items()}}
            if scheduler is not None:
                state["scheduler"] = _state_dicts(scheduler)
            if hasattr(train_batches, "state_dict"):
                state["batches"] = train_batches.state_dict()
            run.save(state, path)
    if best["model"] is not None:
        model.load_state_dict(best["model"])
    return history


@torch.no_grad()
def print_predictions(model, images, paths, class_names, device, transform, top_k: int = 3) -> list[dict]:
    """--predict 결과를 표로 출력합니다: 파일마다 상위 k개 클래스와 확률."""
    model.eval()
    probs = torch.softmax(model(transform(images).to(device)).float(), dim=1).cpu()
    rows = []
    print(f"\n{'파일':<32} 예측 (확률)")
    for path, p in zip(paths, probs):
        top = torch.topk(p, k=min(top_k, len(class_names)))
        text = ", ".join(f"{class_names[i]} ({v:.1%})" for v, i in zip(top.values.tolist(), top.indices.tolist()))
        print(f"{str(path)[-32:]:<32} {text}")
        rows.append({"path": str(path), "label": class_names[top.indices[0]], "probability": top.values[0].item()})
    return rows
