# %% [markdown]
# # 10. 분산 학습 — 여러 프로세스·GPU·컴퓨터가 한 모델을 함께 학습하기 (`torchrun`, DDP)
#
# **학습 목표**
# - `torchrun` 이 띄우는 프로세스, 랭크(rank)·월드 크기(world size), 프로세스들이 서로를 찾는 랑데부(rendezvous)를 이해합니다.
# - 올리듀스(all-reduce)를 점대점 `send`/`recv` 로 직접 써서(링 올리듀스) `dist.all_reduce` 와 같은지 확인합니다.
# - 그래디언트(gradient)를 프로세스끼리 평균하면 큰 배치 하나로 학습한 것과 같은 가중치가 됨을 확인합니다.
# - 데이터 나누기(`DistributedSampler` 와 이 과정의 방식), 랭크 0만 해야 하는 일, 통신 비용을 직접 잽니다.
# - 같은 명령을 GPU 2개, 컴퓨터 2대로 넓히는 법과 FSDP 가 필요해지는 때를 압니다.
#
# **데이터셋**: MNIST (01과 같은 것). 확장 측정과 01 레슨의 두 프로세스 학습에 씁니다. 나머지 실습은 작은 합성 데이터.
#
# **핵심 개념**: 분산 학습(distributed training), 데이터 병렬, 프로세스 그룹, gloo/NCCL, 올리듀스(all-reduce),
# 링 올리듀스, `DistributedDataParallel`(DDP), `DistributedSampler`, barrier, 통신 대역폭, FSDP
#
# **실행 방법**
# ```
# python 10_distributed_training.py              # 이 장 전체 (여러 프로세스 실습은 torchrun 을 하위 프로세스로 띄웁니다)
# python 10_distributed_training.py --quick      # 짧게
# torchrun --nproc_per_node=2 01_pytorch_basics.py   # 과정의 어느 레슨이든 여러 프로세스로 (01·02·03·08 …)
# ```
# 노트북에서 정의한 함수는 다른 프로세스로 넘길 수 없어서, 여러 프로세스 실습은 이 장 파일을 모듈로 가져오는
# 작은 실행기(`utils/distributed_demos.py`)를 `torchrun` 으로 띄워 결과만 받아 옵니다.
#
# **예상 시간** (측정값은 `docs/RESULTS.md`): 2코어 CPU에서 약 3분 (01 레슨 두 프로세스 전체 학습 포함), `--quick` 30초 안팎.

# %%
import json
import os
import subprocess
import time
from pathlib import Path
from unittest import mock

import matplotlib.figure
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from utils import model_utils
from utils.chapter import section, start_chapter
from utils.data_utils import TensorBatches, load_mnist_family, take_subset
from utils.distributed import ShardedBatches
from utils.distributed_demos import launch, launch_steps, torchrun_command
from utils.model_utils import cpu_threads, fit, make_parser, positive_int, run_folder, start_run
from utils.visualization import new_figure, save_figure

# %% tags=["parameters"]
QUICK = False      # True: 작은 크기·짧은 측정으로 흐름만 확인
DATA_DIR = None    # 데이터 루트 (None: 환경 변수 DL_DATA_DIR, 없으면 ./data)
OUT_DIR = "runs"   # 그림·metrics.json 을 둘 곳

# %% [markdown]
# 실행 설정: `--processes` 는 여러 프로세스 실습에 띄울 프로세스 수입니다 (이 기계는 2코어라 기본 2).

# %%
LESSON = "10_distributed_training"
ROOT = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
LESSON01 = "01_pytorch_basics"


def build_parser():
    p = make_parser(f"{LESSON}.py", "10. 분산 학습: torchrun, 올리듀스, DDP", epochs=1, batch_size=128, lr=0.05)
    p.add_argument("--processes", type=positive_int, default=2, help="여러 프로세스 실습의 프로세스 수 (기본 2)")
    return p


# %%
if __name__ == "__main__":
    args, run = start_chapter(LESSON, build_parser(), quick=QUICK, data_dir=DATA_DIR, out_dir=OUT_DIR)
    WORLD = args.processes

# %% [markdown]
# ## 1. 프로세스, 랭크, 월드 크기, 랑데부
# 데이터 병렬 분산 학습은 **같은 프로그램을 N개 프로세스로 띄우고**, 각자 데이터의 다른 조각으로 그래디언트를 구한 뒤
# 그 평균으로 모두 같은 갱신을 하는 방식입니다. `torchrun --nproc_per_node=N 파일.py` 가 프로세스를 띄우며 각자에게
# 이름표를 환경 변수로 줍니다:
# - `RANK`: 전체에서 몇 번째 프로세스인가 (0 … N−1). `WORLD_SIZE`: 전체 프로세스 수.
# - `LOCAL_RANK`: 이 컴퓨터 안에서 몇 번째인가 (GPU 번호로 씁니다). `MASTER_ADDR`·`MASTER_PORT`: 모이는 곳.
#
# **랑데부**: 프로세스들은 처음에 서로의 주소를 모릅니다. `torchrun` 이 `MASTER_ADDR:MASTER_PORT` 에 작은 키-값
# 저장소를 열고, 각 프로세스의 `dist.init_process_group("gloo")` 가 거기에 자기 주소를 적고 남의 주소를 읽어
# 서로 연결합니다. 모두 모이면 **프로세스 그룹**이 생기고, 그 안에서 올리듀스 같은 **집합 통신**을 합니다.
# 통신 방식(backend)은 CPU 에서 gloo, NVIDIA GPU 에서 NCCL 입니다.
#
# 프로세스를 띄우는 데도 비용이 듭니다: 프로세스마다 파이썬과 torch 를 새로 불러오느라 이 2코어 기계에서 10초 넘게 걸립니다.
# 그래서 이 장은 프로세스를 여기서 **한 번** 띄워, 이 절의 인사와 3·5·6절의 실습(아래에 정의된 함수들)을 차례로
# 실행해 결과를 받아 두고, 각 절에서 그 결과를 읽습니다. (2절은 랭크 3개가 필요해 따로 띄웁니다.)

# %%
def who_am_i() -> dict:
    """torchrun 이 이 프로세스에 준 이름표(환경 변수)와, 프로세스 그룹이 아는 값."""
    return {"rank": dist.get_rank(), "world_size": dist.get_world_size(), "local_rank": int(os.environ["LOCAL_RANK"]),
            "pid": os.getpid(), "store": f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}",
            "backend": dist.get_backend()}


# %%
if __name__ == "__main__":
    section("1. 프로세스, 랭크, 월드 크기, 랑데부")
    print("  실행하는 명령:", " ".join(["torchrun", *torchrun_command(WORLD, ["-m", "utils.distributed_demos"])[3:]]),
          "결과.json '[[\"hello\", {}], [\"grads\", …], …]'")
    sizes = [2**10, 2**14, 2**17, 2**20] if args.quick else [2**10, 2**12, 2**14, 2**16, 2**18, 2**20, 2**22, 2**24]
    hello, grads, duties, costs = launch_steps([
        ("hello", {}), ("grads", {"batch": 16, "steps": 5}), ("duties", {"out_dir": str(run.path("duties"))}),
        ("cost", {"sizes": sizes, "repeats": 5 if args.quick else 15})], WORLD, run.out)
    for h in hello:
        print(f"  랭크 {h['rank']}/{h['world_size']}  LOCAL_RANK {h['local_rank']}  프로세스 {h['pid']}  "
              f"랑데부 저장소 {h['store']}  통신 {h['backend']}")
    print(f"  (프로세스 {WORLD}개를 띄워 1·3·5·6절의 실습을 모두 마치는 데 {hello[0]['launch_seconds']:.1f}초)")

# %% [markdown]
# ## 2. 올리듀스(all-reduce)를 손으로: 링 올리듀스
# 올리듀스는 "모든 랭크의 텐서를 더한 값을 모든 랭크가 갖게" 하는 연산입니다. 한 랭크에 다 모아 더한 뒤
# 돌려주면 그 랭크가 $(N-1)\times$크기 를 받아야 해 병목이 됩니다. **링 올리듀스**는 랭크를 원으로 잇고 텐서를
# $N$ 조각으로 나눠, 모두가 동시에 오른쪽 이웃에게 한 조각씩 보냅니다.
# 1. **모아 더하기(reduce-scatter)** $N-1$ 단계: 단계 $s$ 에서 랭크 $r$ 은 조각 $(r-s) \bmod N$ 을 보내고,
#    받은 조각 $(r-s-1) \bmod N$ 에 더합니다. 끝나면 랭크 $r$ 은 조각 $(r+1) \bmod N$ 의 전체 합을 갖습니다.
# 2. **나눠 주기(all-gather)** $N-1$ 단계: 완성된 조각을 같은 방향으로 돌려 모두가 모든 조각을 갖습니다.
#
# 랭크 하나가 보내는 양은 $2\frac{N-1}{N}\times$크기 로, 프로세스가 늘어도 거의 그대로입니다 (NCCL·gloo 도 이런
# 방식을 씁니다). 길이가 $N$ 으로 나누어떨어지지 않아도 조각 크기만 1씩 다를 뿐 같은 절차입니다.

# %%
def ring_schedule(rank: int, world: int) -> list[tuple[str, int, int, int]]:
    """(단계 이름, 단계, 보낼 조각, 받을 조각): 모아 더하기 N−1 단계 → 나눠 주기 N−1 단계."""
    steps = [("모아 더하기", s, (rank - s) % world, (rank - s - 1) % world) for s in range(world - 1)]
    return steps + [("나눠 주기", s, (rank + 1 - s) % world, (rank - s) % world) for s in range(world - 1)]


def exchange(send: torch.Tensor, recv: torch.Tensor, right: int, left: int) -> None:
    """오른쪽 이웃에게 보내며 왼쪽 이웃에게서 받습니다. 보내기를 비동기(isend)로 해야, 모두가 동시에 보낼 때
    서로 상대가 받아 주기를 기다리며 멈추는(교착) 일이 없습니다."""
    # 길이 < N 이면 빈 조각이 생깁니다: 내가 받을 조각 = 왼쪽 이웃이 보낼 조각이라 양쪽 모두 건너뛸 줄 압니다
    request = dist.isend(send.contiguous(), right) if send.numel() else None
    if recv.numel():
        dist.recv(recv, left)
    if request is not None:
        request.wait()


def ring_all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    """링 올리듀스: 점대점 통신(isend/recv)만으로 모든 랭크의 합을 만듭니다."""
    rank, world = dist.get_rank(), dist.get_world_size()
    chunks = list(tensor.clone().tensor_split(world))  # 조각 크기는 최대 1 차이
    right, left = (rank + 1) % world, (rank - 1) % world
    for phase, _, send_i, recv_i in ring_schedule(rank, world):
        incoming = torch.empty_like(chunks[recv_i])
        exchange(chunks[send_i], incoming, right, left)
        if phase == "모아 더하기":
            chunks[recv_i] += incoming
        else:
            chunks[recv_i] = incoming
    return torch.cat(chunks)


def ring_check(lengths: list[int]) -> dict:
    """(프로세스마다) 랭크마다 다른 텐서로 손으로 쓴 링과 dist.all_reduce 를 비교합니다.
    손으로 쓴 쪽이 몰래 라이브러리를 부르지 못하게, 그동안 dist.all_reduce 는 부르면 오류가 나게 바꿔 둡니다."""
    rank, errors = dist.get_rank(), {}
    for n in lengths:
        x = torch.randn(n, generator=torch.Generator().manual_seed(1000 * rank + n), dtype=torch.float64)
        with mock.patch.object(dist, "all_reduce", side_effect=RuntimeError("손으로 쓴 링이 라이브러리를 불렀습니다")):
            mine = ring_all_reduce(x)
        library = x.clone()
        dist.all_reduce(library)
        errors[str(n)] = (mine - library).abs().max().item()
    return {"rank": rank, "max_error": errors}


# %%
if __name__ == "__main__":
    section("2. 올리듀스를 손으로: 링 올리듀스")
    ring_world = max(WORLD, 3)  # 3개 랭크와 3으로 나누어떨어지지 않는 길이(10)도 확인합니다
    for r in range(ring_world):
        plan = "  ".join(f"{p[:2]}{s + 1}: 보냄 {a}·받음 {b}" for p, s, a, b in ring_schedule(r, ring_world))
        print(f"  랭크 {r} 의 순서 — {plan}")
    rings = launch("ring", ring_world, run.out, lengths=[10, 1000])
    ring_error = max(e for r in rings for e in r["max_error"].values())
    print(f"  {ring_world}개 랭크, 길이 10·1000: 손으로 쓴 링과 dist.all_reduce 의 최대 차이 {ring_error:.1e} "
          "(더하는 순서만 달라 float64 반올림 수준)")

# %% [markdown]
# ## 3. 그래디언트 평균 = 큰 배치 하나
# 손실이 배치 평균 $L = \frac{1}{2B}\sum_{i=1}^{2B}\ell_i$ 이면, 배치를 두 조각 $A$, $B$ 로 나눠
# $L = \frac{1}{2}(L_A + L_B)$, 그러므로 $\nabla L = \frac{1}{2}(\nabla L_A + \nabla L_B)$ 입니다.
# 랭크 2개가 각자 $B$ 개로 그래디언트를 구하고 **올리듀스로 더해 2로 나누면** 1개 프로세스가 $2B$ 개로 구한
# 그래디언트와 같고, 모두 같은 가중치에서 같은 갱신을 하므로 $k$ 단계 뒤에도 가중치가 같습니다.
# `DistributedDataParallel`(DDP)이 하는 일이 바로 이것입니다 (역전파 도중 그래디언트를 묶음(bucket)으로 모아
# 계산과 통신을 겹칩니다). 같아지지 않는 경우: 드롭아웃(랭크마다 마스크가 다름), 배치 정규화(통계를 랭크마다 따로 냄),
# 조각 크기가 다를 때. 그래서 여기의 모델에는 둘 다 없습니다.

# %%
class SmallNet(nn.Module):
    """드롭아웃·배치 정규화가 없는 MLP (hidden=(512, 512) 이면 01 레슨의 MLP 와 같은 크기)."""

    def __init__(self, inputs: int = 28 * 28, hidden=(64,), n_classes: int = 10):
        super().__init__()
        layers, width = [nn.Flatten()], inputs
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.net = nn.Sequential(*layers, nn.Linear(width, n_classes))

    def forward(self, x):
        return self.net(x)


def average_gradients(model: nn.Module) -> None:
    """손으로 쓴 DDP 의 핵심: 파라미터마다 그래디언트를 올리듀스(합)하고 랭크 수로 나눕니다."""
    for p in model.parameters():
        dist.all_reduce(p.grad)
        p.grad /= dist.get_world_size()


def train_steps(model: nn.Module, batches, lr: float, sync=None) -> torch.Tensor:
    """모멘텀 SGD 로 배치마다 한 단계. sync(model): 갱신 전에 그래디언트를 맞추는 함수. 최종 가중치를 돌려줍니다."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for x, y in batches:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        if sync is not None:
            sync(model)
        optimizer.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def gradient_equivalence(batch: int = 16, steps: int = 5, seed: int = 0) -> dict:
    """(프로세스마다) 랭크 N개 × 배치 B 의 세 방법을 1개 프로세스 × 배치 N·B 와 비교합니다."""
    rank, world = dist.get_rank(), dist.get_world_size()
    g = torch.Generator().manual_seed(seed)  # 모든 랭크가 같은 '전체 배치'들을 만듭니다
    x, y = torch.randn(steps * batch * world, 28 * 28, generator=g), torch.randint(0, 10, (steps * batch * world,), generator=g)
    full = [(x[i:i + batch * world], y[i:i + batch * world]) for i in range(0, len(y), batch * world)]
    mine = [(xb.tensor_split(world)[rank], yb.tensor_split(world)[rank]) for xb, yb in full]  # 내 조각
    weights = {}
    for name in ("한 프로세스", "손으로 평균", "DDP", "평균 없이"):
        torch.manual_seed(seed)  # 같은 초기 가중치
        model = SmallNet()
        if name == "한 프로세스":
            weights[name] = train_steps(model, full, lr=0.1)
        elif name == "DDP":
            weights[name] = train_steps(DistributedDataParallel(model), mine, lr=0.1)
        else:
            weights[name] = train_steps(model, mine, lr=0.1, sync=average_gradients if name == "손으로 평균" else None)
    diff = {k: (w - weights["한 프로세스"]).abs().max().item() for k, w in weights.items() if k != "한 프로세스"}
    return {"rank": rank, "diff": diff, "checksum": weights["DDP"].double().sum().item()}


# %%
if __name__ == "__main__":
    section("3. 그래디언트 평균 = 큰 배치 하나")
    for g in grads:
        print(f"  랭크 {g['rank']}: 1프로세스×배치 {16 * WORLD} 와의 최대 가중치 차이 (5단계 뒤) — "
              + ", ".join(f"{k} {v:.1e}" for k, v in g["diff"].items()))
    grad_diff = max(max(g["diff"]["손으로 평균"], g["diff"]["DDP"]) for g in grads)
    print(f"  그래디언트를 평균하면 float 반올림 수준({grad_diff:.1e})으로 같고, 평균하지 않으면 랭크마다 다른 모델이 됩니다. "
          f"랭크들의 DDP 가중치 합: {sorted({round(g['checksum'], 9) for g in grads})}")

# %% [markdown]
# ## 4. 데이터 나누기: `DistributedSampler` 와 이 과정의 방식
# 각 랭크는 **서로 다른** 데이터를 봐야 합니다 (같은 것을 보면 N배 계산해 한 배 배운 셈). 두 가지 흔한 방법:
# - **`DistributedSampler`** (`DataLoader` 와 함께): 데이터셋 순서를 랭크 수로 나눠 랭크 $r$ 이 $r, r+N, r+2N, …$
#   번째를 가집니다. 모든 랭크의 배치 수가 같아야 하므로(다르면 DDP 가 영원히 기다립니다) **앞쪽 표본을 다시 써서
#   길이를 채웁니다**. 에폭마다 `sampler.set_epoch(epoch)` 를 불러야 섞는 순서가 바뀝니다.
# - **이 과정의 방식** (`utils/distributed.py` 의 `ShardedBatches`): 모든 랭크가 같은 시드로 같은 순서의 *전체 배치*
#   ($B$ = `--batch-size`)를 만들고, 배치마다 자기 조각($B/N$)만 씁니다. 배치 수·학습률 스케줄이 1프로세스와 같고,
#   채우는 표본이 없습니다 (학습에서는 프로세스 수보다 작은 마지막 배치만 건너뜁니다).
#
# 평가에서 채우기는 틀린 숫자를 만듭니다: 10장을 3개 랭크로 나누면 12장을 평가해 두 장이 두 번 셉니다.
# 그래서 공용 `evaluate` 는 조각마다 평가한 손실 합·개수를 올리듀스로 더하고 예측을 원래 순서로 모아, 정확히 n_test 장을 셉니다.

# %%
def sampler_shards(n: int, world: int, drop_last: bool = False) -> list[list[int]]:
    """DistributedSampler 가 랭크마다 주는 표본 번호 (섞지 않음)."""
    return [list(DistributedSampler(range(n), num_replicas=world, rank=r, shuffle=False, drop_last=drop_last))
            for r in range(world)]


def course_shards(n: int, world: int, batch: int) -> list[list[list[int]]]:
    """이 과정의 방식: 전체 배치(같은 순서)마다 랭크별 조각. 랭크 → 배치별 표본 번호."""
    batches = TensorBatches(torch.arange(n), torch.arange(n), batch)
    return [[xb.tolist() for xb, _ in ShardedBatches(batches, r, world, drop_short=False)] for r in range(world)]


# %%
if __name__ == "__main__":
    section("4. 데이터 나누기: DistributedSampler 와 이 과정의 방식")
    for r, (padded, dropped, ours) in enumerate(zip(sampler_shards(10, 3), sampler_shards(10, 3, drop_last=True),
                                                    course_shards(10, 3, batch=6))):
        print(f"  랭크 {r}: DistributedSampler {padded}  drop_last {dropped}  과정(전체 배치 6) {ours}")
    counted = sum(len(s) for s in sampler_shards(10, 3))
    print(f"  10장을 3개 랭크로: DistributedSampler 는 {counted}장(0·1번을 두 번), drop_last 는 9장(9번을 버림), "
          f"과정의 방식은 {sum(len(b) for s in course_shards(10, 3, 6) for b in s)}장을 셉니다.")

# %% [markdown]
# ## 5. 랭크 0만 하는 일
# 모든 랭크가 같은 프로그램을 끝까지 실행하므로, 그냥 두면 출력이 N번 찍히고 N개 프로세스가 **같은 파일**
# (체크포인트·그림·`metrics.json`)을 동시에 씁니다 — 한 프로세스가 쓰는 도중 다른 프로세스가 파일을 자르거나 읽어
# 깨진 파일이 남을 수 있습니다. 그래서 과정의 공용 도구는 torchrun 아래에서:
# - 랭크 0만 출력하고(나머지의 표준 출력은 버림), 그림·`metrics.json`·체크포인트를 씁니다. 나머지는 `barrier` 에서
#   랭크 0이 다 쓸 때까지 기다린 뒤 함께 다음으로 갑니다 (그래야 `--resume` 이 방금 쓴 파일을 읽습니다).
# - 체크포인트는 DDP 로 감싸기 **전** 모델의 `state_dict()` 로 저장합니다 (키에 `module.` 이 붙지 않아
#   torchrun 없이도 그대로 읽힘). 모든 랭크의 가중치가 같으므로 랭크 0의 것 하나면 됩니다.
#
# 아래 실습은 공용 `start_run`·`fit`·`save_figure`·`write_metrics` 를 torchrun 아래에서 그대로 쓰되,
# 랭크 0이 아닌 프로세스에서는 파일 쓰기 함수를 **부르면 오류가 나게** 바꿔 둡니다.

# %%
def rank_zero_duties(out_dir: str, epochs: int = 3, stop_after: int | None = None, resume: bool = False) -> dict:
    """(프로세스마다) 합성 데이터로 과정의 공용 도구를 그대로 씁니다. stop_after: 그 에폭에서 중단(재개 실습용)."""
    argv = ["--out-dir", out_dir, "--epochs", str(epochs), "--batch-size", "32", "--seed", "0", "--device", "cpu"]
    args = build_parser().parse_args(argv + (["--resume"] if resume else []))
    run = start_run(LESSON, args, argv)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(330, 20, generator=g), torch.randint(0, 3, (330,), generator=g)
    torch.manual_seed(0)
    model = SmallNet(inputs=20, hidden=(16,), n_classes=3)

    def stop(epoch, history):
        if epoch == stop_after:
            raise KeyboardInterrupt  # 중단 흉내: 이 에폭의 체크포인트는 저장되지 않습니다

    forbidden = mock.Mock(side_effect=RuntimeError("랭크 0이 아닌 프로세스가 파일을 쓰려 했습니다"))
    patches = [mock.patch.object(model_utils, "save_checkpoint", forbidden),
               mock.patch.object(model_utils, "write_text_atomic", forbidden),
               mock.patch.object(Path, "write_text", forbidden),
               mock.patch.object(matplotlib.figure.Figure, "savefig", forbidden)] if dist.get_rank() != 0 else []
    for p in patches:
        p.start()
    try:
        history = fit(model, TensorBatches(x[:300], y[:300], 32, shuffle=True, seed=0), TensorBatches(x[300:], y[300:], 7),
                      nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                      run.device, epochs, run=run, resume=resume, on_epoch_end=stop)
        fig, axes = new_figure()
        axes[0, 0].plot(history["train_loss"], "-o")
        axes[0, 0].set_title("합성 데이터 학습 손실")
        save_figure(fig, run.path("loss.png"))
        run.write_metrics(dataset="합성 데이터", data_source="local", epochs=epochs, n_train=300, n_test=30,
                          metrics={"val_accuracy": history["val_accuracy"][-1]})
        stopped = False
    except KeyboardInterrupt:
        stopped = True
    finally:
        for p in patches:
            p.stop()
    return {"rank": dist.get_rank(), "stopped": stopped, "writes_attempted": forbidden.call_count,
            "weights": torch.cat([p.detach().flatten() for p in model.parameters()]).tolist()}


# %%
if __name__ == "__main__":
    section("5. 랭크 0만 하는 일")
    written = sorted(p.name for p in (run.path("duties") / LESSON).iterdir())
    record = json.loads((run.path("duties") / LESSON / "metrics.json").read_text(encoding="utf-8"))
    same = all(d["weights"] == duties[0]["weights"] for d in duties)
    print(f"  남은 파일: {written}")
    print(f"  metrics.json: world_size {record['world_size']}, backend {record['backend']}, 명령 `{record['command']}`")
    print(f"  랭크 0이 아닌 프로세스의 파일 쓰기 시도: {[d['writes_attempted'] for d in duties[1:]]}번, "
          f"모든 랭크의 최종 가중치가 같은가: {same}")
    saved = torch.load(run.path("duties") / LESSON / "checkpoint.pt", weights_only=True)["model"]
    print(f"  체크포인트의 키 (감싸기 전 모델): {list(saved)[:2]} … — `module.` 접두사 없음")

# %% [markdown]
# ## 6. 비용: 올리듀스 시간과 계산 대 통신
# 링 올리듀스의 시간은 대략 $T(S) \approx 2(N-1)\,\alpha + 2\frac{N-1}{N}\frac{S}{\beta}$ 입니다
# ($S$: 바이트, $\alpha$: 메시지 하나의 지연, $\beta$: 대역폭). 작은 텐서는 지연이, 큰 텐서는 대역폭이 좌우합니다.
# 그래서 DDP 는 그래디언트를 약 25 MB 묶음으로 모아 보내고, 역전파가 끝난 층의 묶음부터 보내 계산과 통신을 겹칩니다.
# 아래에서 크기별 올리듀스 시간을 재고, 01 레슨 MLP 크기(드롭아웃 없이) 모델의 한 학습 단계를 통신 포함(보통 DDP)과
# 통신 없이(`no_sync()`: 그래디언트 모으기를 건너뜀)로 재어 통신이 차지하는 몫을 봅니다.

# %%
def time_it(fn, repeats: int) -> float:
    """모든 랭크가 함께 출발하도록 barrier 뒤에 재고, 가운데 값(median)을 씁니다."""
    fn()  # 첫 호출(준비)은 빼고
    times = []
    for _ in range(repeats):
        dist.barrier()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def communication_cost(sizes: list[int], repeats: int, batch: int = 128) -> dict:
    """(프로세스마다) 크기별 올리듀스 시간, 그리고 01 MLP 크기 모델의 학습 단계: 통신 포함 vs no_sync."""
    world = dist.get_world_size()
    allreduce = [[n, time_it(lambda t=torch.ones(n): dist.all_reduce(t), repeats)] for n in sizes]
    torch.manual_seed(0)
    model = DistributedDataParallel(SmallNet(hidden=(512, 512)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(batch // world, 28 * 28), torch.randint(0, 10, (batch // world,))

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    with_sync = time_it(step, repeats)
    with model.no_sync():
        without_sync = time_it(step, repeats)
    return {"rank": dist.get_rank(), "allreduce": allreduce, "step_seconds": with_sync,
            "step_seconds_no_sync": without_sync, "parameters": sum(p.numel() for p in model.parameters())}


# torchrun 이 띄운 각 프로세스가 부를 실습 함수들 (utils/distributed_demos.py 가 이름으로 찾습니다)
DEMOS = {"hello": who_am_i, "ring": ring_check, "grads": gradient_equivalence, "duties": rank_zero_duties,
         "cost": communication_cost}


# %%
if __name__ == "__main__":
    section("6. 비용: 올리듀스 시간과 계산 대 통신")
    cost = costs[0]  # 랭크 0이 잰 값 (1절에서 띄운 프로세스들이 잼)
    bus = {n: 2 * (WORLD - 1) / WORLD * 4 * n / t / 1e6 for n, t in cost["allreduce"]}  # MB/s (링의 실제 전송량 기준)
    for n, t in cost["allreduce"]:
        print(f"  float32 {n:>10,}개 ({4 * n / 2**20:7.3f} MiB): {t * 1e3:8.3f} ms  → 대역폭 {bus[n]:8.1f} MB/s")
    comm = cost["step_seconds"] - cost["step_seconds_no_sync"]
    print(f"  학습 단계 ({cost['parameters']:,} 파라미터, 랭크당 배치 {128 // WORLD}): 통신 포함 {cost['step_seconds'] * 1e3:.1f} ms, "
          f"통신 없이 {cost['step_seconds_no_sync'] * 1e3:.1f} ms → 통신 몫 약 {max(comm, 0) / cost['step_seconds']:.0%}")
    fig, axes = new_figure()
    ax = axes[0, 0]
    ax.loglog([4 * n for n, _ in cost["allreduce"]], [t * 1e3 for _, t in cost["allreduce"]], "-o")
    ax.set_xlabel("텐서 크기 (바이트)")
    ax.set_ylabel("올리듀스 시간 (ms)")
    ax.set_title(f"gloo 올리듀스 시간 — 프로세스 {WORLD}개, 이 기계")
    ax.grid(alpha=0.3, which="both")
    save_figure(fig, run.path("allreduce_time.png"))

# %% [markdown]
# ## 7. 확장 표: 이 2코어 CPU에서 정말 빨라지나
# 같은 일(01 레슨 MLP 크기 모델, 전체 배치 128의 학습 단계)을 세 가지로 재어 초당 처리한 표본 수로 비교합니다.
# 프로세스 2개는 코어 2개를 하나씩 쓰므로, **1 프로세스 × 2 스레드**가 공정한 비교 대상입니다. 한 프로세스 안의
# 스레드들은 메모리를 나눠 쓰고 통신이 없지만, 프로세스 2개는 매 단계 그래디언트 2.7 MB 를 주고받습니다.
# 작은 모델·적은 코어에서는 분산이 느릴 수 있습니다. 분산 학습이 이기는 곳은 한 장치로는 모자란 계산(큰 모델,
# 여러 GPU), 그리고 GPU 사이 통신이 빠른(NVLink·InfiniBand) 곳입니다.

# %%
def samples_per_second(x: torch.Tensor, y: torch.Tensor, batch: int, steps: int) -> float:
    """한 프로세스에서 배치 batch 의 학습 단계를 steps 번 재어 초당 표본 수를 돌려줍니다."""
    torch.manual_seed(0)
    model = SmallNet(hidden=(512, 512))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    times = []
    for i in range(steps + 1):
        xb, yb = x[i * batch % len(y):][:batch], y[i * batch % len(y):][:batch]
        t0 = time.perf_counter()
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()
        times.append(time.perf_counter() - t0)
    return batch / sorted(times[1:])[steps // 2]


# %%
if __name__ == "__main__":
    section("7. 확장 표: 이 2코어 CPU에서 정말 빨라지나")
    data = load_mnist_family("MNIST", args)
    data.train_x, data.train_y = take_subset(data.train_x, data.train_y, 2000 if args.quick else 20000, args.seed)
    xs, steps = (data.train_x.float() / 255 - 0.1307) / 0.3081, 10 if args.quick else 60
    scaling = {}
    for threads in (1, 2):
        with cpu_threads(threads):
            scaling[f"1 프로세스 × {threads} 스레드"] = samples_per_second(xs, data.train_y, 128, steps)
    scaling[f"{WORLD} 프로세스 × 1 스레드 (DDP)"] = 128 / cost["step_seconds"]
    scaling[f"{WORLD} 프로세스, 통신 없다면"] = 128 / cost["step_seconds_no_sync"]
    base = scaling["1 프로세스 × 1 스레드"]
    print(f"  {'방법':<28} {'표본/초':>9} {'1프로세스×1스레드 대비':>12}")
    for name, value in scaling.items():
        print(f"  {name:<28} {value:>9,.0f} {value / base:>10.2f}배")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  (코어 {os.cpu_count()}개, 잴 때 1분 평균 부하 {load:.1f}: 부하가 코어 수보다 크면 다른 작업과 코어를 나눠 써서 "
          "숫자가 흔들리고, 스레드 2개는 특히 느려집니다. '통신 없다면'은 그래디언트를 맞추지 않은 이론상 상한이지 학습이 아닙니다.)")

# %% [markdown]
# ## 8. 레슨을 통째로: `torchrun --nproc_per_node=2 01_pytorch_basics.py`
# 과정의 공용 학습 루프 `fit` 은 torchrun 아래에서 모델을 DDP 로 감싸고 전체 배치를 조각내므로, 레슨 코드를 한 줄도
# 고치지 않고 여러 프로세스로 학습합니다 (`fit` 을 쓰는 01·02·03·04·05·08; GAN 처럼 학습 단계를 직접 쓰는 레슨은
# 안내 메시지를 냅니다). `--batch-size` 는 모든 프로세스를 합친 전체 배치라서, 드롭아웃이 없으면 1프로세스와 같은
# 가중치를 따라가고(3절), 드롭아웃이 있어도 정확도는 거의 같아야 합니다. 전체 실행에서 01 레슨의 기본 학습을 두 프로세스로
# 돌려 테스트 정확도를 1프로세스 기록(`docs/results/01_pytorch_basics.json`)과 비교합니다.

# %%
def run_lesson(lesson: str, nproc: int, out_dir: Path, extra: list[str]) -> dict:
    """레슨을 torchrun 으로 실행하고 그 metrics.json 을 돌려줍니다."""
    cmd = torchrun_command(nproc, [f"{lesson}.py", "--out-dir", str(out_dir), *extra])
    print("  실행:", " ".join(["torchrun", *cmd[3:]]))
    code = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}).returncode
    if code != 0:
        raise model_utils.CourseError(f"{lesson} 을 torchrun 으로 실행하지 못했습니다 (종료 코드 {code}).")
    return json.loads((run_folder(out_dir, lesson, "--quick" in extra) / "metrics.json").read_text(encoding="utf-8"))


# %%
if __name__ == "__main__":
    section("8. 레슨을 통째로: torchrun 으로 01 레슨")
    reference_path = ROOT / "docs" / "results" / f"{LESSON01}.json"
    reference = json.loads(reference_path.read_text(encoding="utf-8")) if reference_path.is_file() else None
    if args.quick:
        print("  (--quick: 01 레슨의 전체 학습은 건너뜁니다. 직접 실행: torchrun --nproc_per_node=2 01_pytorch_basics.py)")
        lesson01 = None
    else:
        options = ["--data-dir", args.data_dir] if args.data_dir else []
        if torch.cuda.device_count() < WORLD:  # GPU 가 프로세스 수보다 적으면 CPU(gloo)로
            options += ["--device", "cpu"]
        lesson01 = run_lesson(LESSON01, WORLD, run.path("lessons"), options)
        gap = abs(lesson01["metrics"]["test_accuracy"] - reference["metrics"]["test_accuracy"]) if reference else None
        print(f"  {WORLD}프로세스: 테스트 정확도 {lesson01['metrics']['test_accuracy']:.4f}, {lesson01['wall_seconds']}초 "
              f"(world_size {lesson01['world_size']}, {lesson01['backend']})")
        if reference:
            print(f"  1프로세스 기록: {reference['metrics']['test_accuracy']:.4f}, {reference['wall_seconds']}초 → 차이 {gap * 100:.2f}%p")

# %% [markdown]
# ## 9. GPU 2개, 컴퓨터 2대, 그리고 FSDP
# **GPU 2개** (한 컴퓨터): 명령은 같습니다. 공용 도구가 `LOCAL_RANK` 번 GPU 를 고르고(`cuda:0`, `cuda:1`) NCCL 로
# 통신합니다. 프로세스 수는 GPU 수 이하로.
#
# **컴퓨터 2대**: 두 컴퓨터에서 같은 명령을 `--node-rank` 만 바꿔 실행합니다. `--rdzv-endpoint` 는 첫 컴퓨터의
# 주소:포트(둘 다 닿을 수 있고 방화벽이 열린)이고, 모두 모일 때까지 기다렸다가 시작합니다. 데이터는 두 컴퓨터에 같은
# 경로로 있어야 합니다. macOS 의 MPS 는 DDP 를 지원하지 않아 CPU(gloo)로, 윈도우는 NCCL 이 없어 gloo 로 학습합니다.
#
# **FSDP (Fully Sharded Data Parallel)**: DDP 는 랭크마다 모델·그래디언트·옵티마이저 상태 전체를 들고 있습니다.
# Adam 이면 파라미터당 약 16바이트(float32 가중치 4 + 그래디언트 4 + 모멘트 둘 8)라, 10억 파라미터 모델은 GPU 하나에
# 16 GB 가 넘습니다. FSDP(`torch.distributed.fsdp.fully_shard`)는 이 셋을 랭크 수로 **나눠 가지고**, 층을 계산하기
# 직전에만 그 층의 가중치를 모읍니다(all-gather), 그래디언트는 모으는 대신 나눠 더합니다(reduce-scatter —
# 2절 링의 앞 절반). 통신은 DDP 보다 1.5배쯤 많지만, 모델이 한 GPU 에 들어가지 않을 때 쓰는 방법입니다.

# %%
def memory_per_rank_gb(parameters: float, world: int, sharded: bool) -> float:
    """Adam 학습에서 랭크 하나가 드는 상태 메모리(활성값 제외): 파라미터당 16바이트, FSDP 는 랭크 수로 나눔."""
    return parameters * 16 / (world if sharded else 1) / 1e9


# %%
if __name__ == "__main__":
    section("9. GPU 2개, 컴퓨터 2대, 그리고 FSDP")
    target = [f"{LESSON01}.py"]
    print("  GPU 2개 :", " ".join(["torchrun", *torchrun_command(2, target)[3:]]))
    for node in (0, 1):
        print(f"  컴퓨터 {node + 1}:", " ".join(["torchrun", *torchrun_command(2, target, nnodes=2, endpoint="10.0.0.1:29500",
                                                                       node_rank=node)[3:]]))
    for name, n in [("01 MLP", 669_706), ("10억 파라미터", 1e9), ("70억 파라미터", 7e9)]:
        print(f"  {name:<12} GPU 8개: DDP {memory_per_rank_gb(n, 8, False):8.3f} GB/GPU, "
              f"FSDP {memory_per_rank_gb(n, 8, True):8.3f} GB/GPU")

# %% [markdown]
# ## 10. 결과 기록
# 프로세스 수·통신 방식, 올리듀스 검증, 크기별 올리듀스 시간과 대역폭, 확장 표, (전체 실행이면) 01 레슨의 두 프로세스
# 결과를 `metrics.json` 에 남깁니다.

# %%
if __name__ == "__main__":
    section("10. 결과 기록")
    metrics = {"world_size": WORLD, "backend": hello[0]["backend"], "ring_max_error": ring_error,
               "gradient_equivalence_max_diff": grad_diff, "ranks_same_weights": same,
               "allreduce_seconds": {str(4 * n): round(t, 6) for n, t in cost["allreduce"]},
               "allreduce_bus_bandwidth_mb_s": round(max(bus.values()), 1),
               "step_seconds": round(cost["step_seconds"], 5), "step_seconds_no_sync": round(cost["step_seconds_no_sync"], 5),
               "scaling_samples_per_second": {k: round(v, 1) for k, v in scaling.items()}, "load_average": round(load, 2)}
    if lesson01 is not None:
        metrics.update(lesson01_test_accuracy=lesson01["metrics"]["test_accuracy"], lesson01_wall_seconds=lesson01["wall_seconds"],
                       lesson01_command=lesson01["command"])
        if reference is not None:
            metrics.update(lesson01_reference_accuracy=reference["metrics"]["test_accuracy"],
                           lesson01_accuracy_gap=round(abs(lesson01["metrics"]["test_accuracy"] - reference["metrics"]["test_accuracy"]), 4))
    run.write_metrics(dataset=data.name, data_source=data.source, epochs=lesson01["epochs"] if lesson01 else 1,
                      n_train=lesson01["n_train"] if lesson01 else len(data.train_y),
                      n_test=lesson01["n_test"] if lesson01 else 0, metrics=metrics)

# %% [markdown]
# ## 해 보세요
# 1. `torchrun --nproc_per_node=2 01_pytorch_basics.py --quick` 를 실행하고 `runs/01_pytorch_basics-quick/metrics.json` 의
#    `world_size`·`backend`·`command` 를 보세요. 출력이 한 번만 찍히는 이유는 5절에 있습니다.
# 2. 3절의 `gradient_equivalence` 에서 `SmallNet` 에 `nn.Dropout(0.2)` 를 넣어 보세요. 어느 차이가 커지고, 왜일까요?
#    <details><summary>답</summary>랭크마다 드롭아웃 마스크가 1프로세스의 마스크와 달라 '손으로 평균'과 'DDP' 도 더는 같지
#    않습니다. 두 방법끼리는 여전히 같습니다 (같은 일을 하므로).</details>
# 3. `python 10_distributed_training.py --processes 3` 으로 확장 표를 다시 재 보세요. 코어가 2개인데 프로세스가 3개면?
#    <details><summary>답</summary>프로세스 하나가 늘 코어를 기다리고, 올리듀스는 가장 느린 랭크를 기다리므로 느려집니다.
#    프로세스 수는 코어(또는 GPU) 수 이하로 둡니다.</details>
# 4. 6절의 크기별 시간에서 지연($\alpha$)과 대역폭($\beta$)을 어림해 보세요: 가장 작은 텐서의 시간이 대략 $2(N-1)\alpha$,
#    가장 큰 텐서는 대역폭이 정합니다.
