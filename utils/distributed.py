"""torchrun 으로 여러 프로세스(여러 CPU 코어·GPU·컴퓨터)에서 학습할 때의 배관. 공용 fit·Run·save_figure 가 부릅니다.

    torchrun --nproc_per_node=2 01_pytorch_basics.py [옵션]     # = python -m torch.distributed.run ...

`python 0N_….py` 로 실행하면 여기의 함수는 모두 아무 일도 하지 않습니다 (active() 가 False).
torchrun 아래에서는:
- start_run 이 setup() 으로 프로세스 그룹을 만듭니다 (CPU: gloo, CUDA: NCCL, 60초 안에 모이지 못하면 한국어 오류).
  랭크 0이 아닌 프로세스의 표준 출력은 버립니다 (같은 줄이 N번 찍히지 않게).
- fit(run=...) 이 모델을 DistributedDataParallel 로 감싸고, 배치 반복기를 ShardedBatches 로 감쌉니다:
  --batch-size 는 모든 프로세스를 합친 '전체 배치'이고, 프로세스마다 그 배치의 1/N 조각을 씁니다.
  모든 프로세스가 같은 시드로 같은 순서를 만들므로 조각은 서로 겹치지 않고, 배치 수도 모두 같습니다.
- evaluate 는 조각마다 평가한 합을 모아(all-reduce) 정확히 n_test 개를 셉니다 (중복·채우기 없음).
- 파일(체크포인트·그림·metrics.json)은 랭크 0만 쓰고, 나머지는 barrier 에서 기다립니다.
"""
from __future__ import annotations

import atexit
import datetime
import os
import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

INIT_TIMEOUT_SECONDS = int(os.environ.get("DL_DIST_TIMEOUT", "60"))


# ---------------------------------------------------------------------------
# 1. 지금 분산 실행 중인가, 나는 몇 번인가
# ---------------------------------------------------------------------------
def launched() -> bool:
    """torchrun 이 띄운 프로세스인가 (torchrun 은 RANK·WORLD_SIZE·LOCAL_RANK·MASTER_ADDR 를 정해 줍니다)."""
    return all(key in os.environ for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR"))


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """파일을 쓰고 출력하는 프로세스 (랭크 0). 분산 실행이 아니면 언제나 True."""
    return rank() == 0


def backend() -> str | None:
    return dist.get_backend() if active() else None


def barrier() -> None:
    """모든 프로세스가 여기에 올 때까지 기다립니다 (랭크 0이 파일을 다 쓴 뒤 다른 랭크가 읽도록)."""
    if active():
        dist.barrier()


# ---------------------------------------------------------------------------
# 2. 프로세스 그룹 만들기
# ---------------------------------------------------------------------------
class _NotATerminal:
    """랭크 0이 아닌 프로세스의 표준 오류: 오류 메시지는 그대로 보이되, 진행 막대(tqdm)는 꺼지게 합니다."""

    def __init__(self, stream):
        self._stream = stream

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name):
        return getattr(self._stream, name)


def silence_other_ranks() -> None:
    """torchrun 아래의 랭크 0이 아닌 프로세스: 표준 출력은 버리고, 진행 막대를 끕니다."""
    if launched() and int(os.environ["RANK"]) != 0 and not isinstance(sys.stderr, _NotATerminal):
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (프로세스가 끝날 때까지 씀)
        sys.stderr = _NotATerminal(sys.stderr)


def choose_backend(device: torch.device) -> str:
    """NCCL 은 리눅스의 CUDA 전용(가장 빠름), gloo 는 CPU 와 윈도우용."""
    if device.type == "cuda" and sys.platform.startswith("linux") and dist.is_nccl_available():
        return "nccl"
    return "gloo"


def setup(device: torch.device) -> torch.device:
    """torchrun 이 정한 환경 변수로 프로세스 그룹을 만들고, 이 프로세스가 쓸 장치를 돌려줍니다.

    분산 실행이 아니면 device 를 그대로 돌려줍니다.
    """
    from utils.model_utils import CourseError

    if not launched():
        return device
    local_rank = int(os.environ["LOCAL_RANK"])
    if device.type == "mps":  # MPS 에는 프로세스 사이 통신(DDP)이 없습니다
        print("[알림] Apple MPS 는 분산 학습(DistributedDataParallel)을 지원하지 않아 CPU(gloo)로 학습합니다.")
        device = torch.device("cpu")
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise CourseError(f"이 컴퓨터의 GPU 는 {torch.cuda.device_count()}개인데 프로세스를 "
                              f"{os.environ.get('LOCAL_WORLD_SIZE', '?')}개 띄웠습니다. "
                              "--nproc_per_node 를 GPU 수 이하로 하거나 --device cpu 로 실행하세요.")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if active():
        return device
    name = choose_backend(device)
    if sys.platform == "win32":
        os.environ.setdefault("USE_LIBUV", "0")  # 윈도우용 PyTorch 는 libuv 없이 만들어진 경우가 많습니다
    hook = sys.excepthook
    try:
        dist.init_process_group(name, timeout=datetime.timedelta(seconds=INIT_TIMEOUT_SECONDS))
        # init_process_group 은 예외 훅을 '표준 오류를 모았다가 랭크 번호를 붙여 출력'하는 것으로 바꾸는데,
        # 과정의 훅(한국어 한 줄 + 바로 종료)과 겹치면 메시지가 사라집니다: 원래 훅으로 되돌립니다.
        sys.excepthook = hook
        dist.barrier()  # 모두 모였는지 여기서 확인 (한 프로세스라도 없으면 시간 제한 뒤 오류)
    except Exception as err:  # 시간 초과, 주소·포트 문제 등
        raise CourseError(
            f"분산 학습을 시작하지 못했습니다 ({INIT_TIMEOUT_SECONDS}초 안에 {os.environ['WORLD_SIZE']}개 "
            f"프로세스가 {os.environ['MASTER_ADDR']}:{os.environ.get('MASTER_PORT', '?')} 에 모이지 못함).\n"
            "       한 컴퓨터라면 'torchrun --standalone --nproc_per_node=N 파일.py' 로, 여러 컴퓨터라면 모든 "
            "컴퓨터에서 같은 --rdzv-endpoint 주소:포트와 --nnodes 로 실행했는지, 방화벽이 그 포트를 막지 않는지 "
            f"확인하세요. 원인: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None
    atexit.register(_cleanup)
    if name == "gloo" and device.type == "cuda":
        print("[알림] 이 플랫폼에는 NCCL 이 없어 gloo 로 GPU 사이 통신을 합니다 (느릴 수 있음).")
    return device


def save_once(image, path):
    """PIL 이미지를 파일로: torchrun 이면 랭크 0만 쓰고 모두 기다립니다 (여러 프로세스가 같은 파일을 동시에 쓰고
    읽다가 잘린 파일을 읽는 일이 없게). 레슨의 '내 이미지로 예측하기' 예시 파일이 씁니다."""
    if is_main():
        image.save(path)
    barrier()
    return path


def _cleanup() -> None:
    if active():
        dist.destroy_process_group()


def world_note(batch_size: int | None = None) -> str:
    """시작할 때 한 줄: 몇 개 프로세스가 어떤 통신 방식으로 무엇을 나누는가."""
    if not active():
        return ""
    text = f"[분산 학습] 프로세스 {world_size()}개 ({backend()})"
    if batch_size:
        text += f", --batch-size {batch_size} 는 모든 프로세스를 합친 전체 배치 (프로세스마다 1/{world_size()})"
        if batch_size % world_size():
            text += " — 나누어떨어지지 않아 조각 크기가 1씩 다르고, 그래디언트 평균이 큰 배치 하나와 아주 조금 다릅니다"
    return text


# ---------------------------------------------------------------------------
# 3. 전체 배치를 조각으로: 프로세스마다 같은 순서의 배치에서 자기 몫만
# ---------------------------------------------------------------------------
def _batch_len(batch) -> int:
    if torch.is_tensor(batch):
        return batch.shape[0]
    return _batch_len(batch[-1]) if isinstance(batch, (tuple, list)) else 0


def _take(batch, part: int, parts: int, n: int):
    """batch 안의 (첫 차원이 n 인) 텐서마다 tensor_split 으로 parts 조각 중 part 번째를 잘라 냅니다."""
    if torch.is_tensor(batch) and batch.dim() > 0 and batch.shape[0] == n:
        return batch.tensor_split(parts)[part]
    if isinstance(batch, (tuple, list)):
        return type(batch)(_take(b, part, parts, n) for b in batch)
    return batch


def chunk_sizes(n: int, parts: int) -> list[int]:
    """tensor_split 이 n 개를 parts 조각으로 나눌 때의 크기 (앞 조각이 1개씩 더 많음)."""
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


class ShardedBatches:
    """배치 반복기를 감싸, 전체 배치마다 이 프로세스의 조각(1/world_size)만 내줍니다.

    모든 프로세스가 같은 시드로 같은 순서의 전체 배치를 만들기 때문에 조각은 겹치지 않습니다.
    학습(drop_short=True): 프로세스 수보다 작은 마지막 배치는 건너뜁니다 — 어떤 프로세스가 빈 조각을 받으면
    DDP 의 그래디언트 모으기 횟수가 달라져 멈추기(hang) 때문입니다. 평가(drop_short=False): 빈 조각은 건너뛰되
    전체 배치 크기를 sizes 에 적어, 모은 예측을 원래 순서로 되돌릴 수 있게 합니다.
    len(), state_dict() 등은 감싼 반복기의 것을 그대로 씁니다 (학습률 스케줄의 단계 수도 그대로).
    """

    def __init__(self, batches, part: int, parts: int, drop_short: bool = True):
        self.batches, self.part, self.parts, self.drop_short = batches, part, parts, drop_short
        self.sizes: list[int] = []

    def __len__(self):
        return len(self.batches)

    def __getattr__(self, name):
        if name == "batches":
            raise AttributeError(name)
        return getattr(self.batches, name)

    def __iter__(self):
        self.sizes = []
        for batch in self.batches:
            n = _batch_len(batch)
            if n < self.parts and self.drop_short:
                continue
            self.sizes.append(n)
            if chunk_sizes(n, self.parts)[self.part] > 0:
                yield _take(batch, self.part, self.parts, n)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def prepare(model: nn.Module, batches, device: torch.device, *, enabled: bool, custom_step: bool = False):
    """fit 이 부릅니다: 분산 실행이면 (DDP 로 감싼 모델, 이 프로세스의 조각만 내주는 반복기), 아니면 그대로."""
    if not (enabled and active()):
        return model, batches
    if custom_step:
        from utils.model_utils import CourseError

        raise CourseError("이 레슨은 학습 단계를 직접 씁니다(train_step: GAN 의 두 모델, YOLO 등). torchrun 분산 학습은 "
                          "공용 학습 단계를 쓰는 레슨(01·02·03·04·05·08)만 지원합니다. 'python 레슨.py' 로 실행하세요.")
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids), ShardedBatches(batches, rank(), world_size())


# ---------------------------------------------------------------------------
# 4. 프로세스들의 값 모으기
# ---------------------------------------------------------------------------
def _comm_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if backend() == "nccl" else torch.device("cpu")


def all_reduce_sum(values: list[float]) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return t.tolist()


def average(metrics: dict) -> dict:
    """프로세스마다 잰 평균(학습 손실·정확도)을 모든 프로세스의 평균으로 (조각 크기가 같으므로 전체 평균)."""
    if not active() or not metrics:
        return metrics
    keys = sorted(metrics)
    sums = all_reduce_sum([float(metrics[k]) for k in keys])
    return {k: s / world_size() for k, s in zip(keys, sums)}


def evaluate(evaluate_local, model, batches, loss_fn, device) -> dict:
    """조각마다 evaluate_local 로 평가하고 합을 모읍니다: 손실 합·개수는 all-reduce, 예측은 원래 순서로 모으기."""
    shard = ShardedBatches(batches, rank(), world_size(), drop_short=False)
    local = evaluate_local(unwrap(model), shard, loss_fn, device)
    seen = sum(chunk_sizes(n, world_size())[rank()] for n in shard.sizes)
    loss_sum, total = all_reduce_sum([local["loss"] * seen, seen])
    result = {"loss": loss_sum / max(total, 1)}
    parts = [None] * world_size()
    dist.all_gather_object(parts, (local.get("predictions"), local.get("targets")))
    if any(p[0] is not None for p in parts):
        streams = [(p if p[0] is not None else (torch.empty(0, dtype=torch.long),) * 2) for p in parts]
        offsets, preds, trues = [0] * world_size(), [], []
        for n in shard.sizes:  # 전체 배치마다 랭크 0, 1, … 의 조각을 차례로 이어 붙이면 원래 순서
            for r, size in enumerate(chunk_sizes(n, world_size())):
                preds.append(streams[r][0][offsets[r]:offsets[r] + size])
                trues.append(streams[r][1][offsets[r]:offsets[r] + size])
                offsets[r] += size
        p, t = torch.cat(preds), torch.cat(trues)
        result.update(accuracy=(p == t).float().mean().item(), predictions=p, targets=t)
    return result


# ---------------------------------------------------------------------------
# 5. metrics.json 에 남길 것
# ---------------------------------------------------------------------------
def command(script: str, argv: list) -> str | None:
    """분산 실행을 다시 하는 명령 (예: torchrun --nproc_per_node=2 01_pytorch_basics.py). 아니면 None."""
    if not active():
        return None
    nodes = int(os.environ.get("GROUP_WORLD_SIZE", "1"))
    per_node = os.environ.get("LOCAL_WORLD_SIZE", str(world_size()))
    parts = ["torchrun", *([f"--nnodes={nodes}"] if nodes > 1 else []), f"--nproc_per_node={per_node}", script]
    return " ".join([*parts, *argv])


def record_fields(script: str, argv: list) -> dict:
    """분산 실행일 때만 metrics.json 에 더하는 값 (python 으로 실행한 기록은 예전과 똑같습니다)."""
    if not active():
        return {}
    return {"command": command(script, argv), "world_size": world_size(), "backend": backend()}
