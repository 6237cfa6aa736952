"""10장: torchrun(gloo, --standalone)으로 띄운 프로세스들 — 링 올리듀스, 그래디언트 평균, 랭크 0만 쓰기, 재개, 레슨 실행.

프로세스는 테스트가 직접 띄웁니다 (`sys.executable -m torch.distributed.run`, 가상 환경의 torch).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, lesson
from utils import distributed
from utils.distributed import ShardedBatches, chunk_sizes
from utils.data_utils import TensorBatches
from utils.distributed_demos import launch, launch_steps, torchrun_command
from utils.model_utils import CourseError

L10 = lesson("10_distributed_training")
NAME = "10_distributed_training"


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """프로세스 2개를 한 번만 띄워(프로세스마다 torch import 에 몇 초) 여러 실습을 차례로 실행합니다.
    duties: 끊기지 않은 3에폭 / 2번째 에폭에서 중단 / --resume 으로 이어서."""
    tmp = tmp_path_factory.mktemp("ddp")
    steps = [("ring", {"lengths": [1, 10, 257]}), ("grads", {"batch": 8, "steps": 4}),
             ("duties", {"out_dir": str(tmp / "full")}),
             ("duties", {"out_dir": str(tmp / "resumed"), "stop_after": 1}),
             ("duties", {"out_dir": str(tmp / "resumed"), "resume": True})]
    ring, grads, full, stopped, resumed = launch_steps(steps, 2, tmp)
    return {"tmp": tmp, "ring": ring, "grads": grads, "full": full, "stopped": stopped, "resumed": resumed}


def check_ring(results, world):
    assert [r["rank"] for r in results] == list(range(world))
    for r in results:
        assert set(r["max_error"]) == {"1", "10", "257"}
        assert max(r["max_error"].values()) < 1e-12


def test_hand_ring_all_reduce_equals_library_two_ranks(two_ranks):
    """손으로 쓴 링(그동안 dist.all_reduce 는 부르면 오류)이 dist.all_reduce 와 같음."""
    check_ring(two_ranks["ring"], 2)


def test_hand_ring_all_reduce_equals_library_three_ranks(tmp_path):
    """3개 랭크, 3으로 나누어떨어지지 않는 길이(1: 빈 조각, 10, 257)."""
    check_ring(launch("ring", 3, tmp_path, lengths=[1, 10, 257]), 3)


def test_ring_schedule_visits_every_chunk():
    for world in (2, 3, 4):
        for rank in range(world):
            plan = L10.ring_schedule(rank, world)
            assert len(plan) == 2 * (world - 1)
            # 모아 더하기가 끝나면 랭크 r 이 완성한 조각 (r+1) mod N 을 나눠 주기 첫 단계에서 보냅니다
            assert plan[world - 1][2] == (rank + 1) % world
            # 이웃이 보내는 조각 = 내가 받는 조각
            left = L10.ring_schedule((rank - 1) % world, world)
            assert [p[2] for p in left] == [p[3] for p in plan]


def test_two_ranks_batch_b_equal_one_process_batch_2b(two_ranks):
    results = two_ranks["grads"]
    for r in results:
        assert r["diff"]["손으로 평균"] < 1e-5 and r["diff"]["DDP"] < 1e-5
        assert r["diff"]["평균 없이"] > 1e-3  # 평균하지 않으면 다른 모델: 위 비교가 실패할 수 있음을 보임
    assert results[0]["checksum"] == results[1]["checksum"]


def test_course_shards_are_disjoint_and_complete():
    shards = L10.course_shards(10, 3, batch=6)
    flat = sorted(i for s in shards for b in s for i in b)
    assert flat == list(range(10))
    assert shards[0] == [[0, 1], [6, 7]] and shards[2] == [[4, 5], [9]]
    assert sum(len(s) for s in L10.sampler_shards(10, 3)) == 12  # DistributedSampler 는 채웁니다
    assert chunk_sizes(4, 3) == [2, 1, 1]


def test_training_shards_drop_only_batches_smaller_than_world():
    batches = TensorBatches(torch.arange(13), torch.arange(13), 6)  # 6, 6, 1
    per_rank = [[x.tolist() for x, _ in ShardedBatches(batches, r, 2)] for r in range(2)]
    assert per_rank == [[[0, 1, 2], [6, 7, 8]], [[3, 4, 5], [9, 10, 11]]]
    assert len(ShardedBatches(batches, 0, 2)) == len(batches)


def test_only_rank_zero_writes_and_ranks_agree(two_ranks):
    """랭크 1은 파일 쓰기 함수가 부르면 오류를 내도록 바뀐 채 끝까지 돌고, 두 랭크의 최종 가중치가 같습니다."""
    full = two_ranks["full"]
    assert [d["writes_attempted"] for d in full] == [0, 0] and not full[0]["stopped"]
    assert full[0]["weights"] == full[1]["weights"]
    out = two_ranks["tmp"] / "full" / NAME
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "elapsed.json", "loss.png", "metrics.json"]
    record = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert record["world_size"] == 2 and record["backend"] == "gloo" and record["n_test"] == 30
    assert record["command"].startswith("torchrun --nproc_per_node=2 10_distributed_training.py")
    state = torch.load(out / "checkpoint.pt", weights_only=True)  # torchrun 없이 읽힘
    assert state["epoch"] == 3 and not any(k.startswith("module.") for k in state["model"])
    weights = torch.cat([v.flatten() for v in state["model"].values()])
    assert torch.equal(weights, torch.tensor(full[0]["weights"]))


def test_resume_under_torchrun_reaches_the_same_weights(two_ranks):
    """2번째 에폭에서 중단 → --resume 으로 이어 학습한 가중치가 끊기지 않은 학습과 정확히 같습니다."""
    stopped, resumed, full = two_ranks["stopped"], two_ranks["resumed"], two_ranks["full"]
    assert all(d["stopped"] for d in stopped) and not any(d["stopped"] for d in resumed)
    assert stopped[0]["weights"] != full[0]["weights"]
    assert resumed[0]["weights"] == resumed[1]["weights"] == full[0]["weights"]
    state = torch.load(two_ranks["tmp"] / "resumed" / NAME / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 3


def test_lesson01_quick_under_torchrun(real_data_dir, tmp_path):
    cmd = torchrun_command(2, ["01_pytorch_basics.py", "--quick", "--device", "cpu", "--out-dir", str(tmp_path),
                               "--data-dir", str(real_data_dir)])  # GPU 가 하나뿐인 기계에서도 CPU·gloo 로
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("## 8. MNIST 분류기 학습") == 1  # 랭크 0만 출력
    runs = list(tmp_path.rglob("metrics.json"))
    assert len(runs) == 1
    record = json.loads(runs[0].read_text(encoding="utf-8"))
    assert record["world_size"] == 2 and record["backend"] == "gloo" and record["n_test"] == 1000
    assert record["command"].startswith("torchrun --nproc_per_node=2 01_pytorch_basics.py --quick")
    assert record["metrics"]["test_accuracy"] > 0.8
    state = torch.load(runs[0].parent / "checkpoint.pt", weights_only=True)
    assert not any(k.startswith("module.") for k in state["model"])


def test_broken_rendezvous_fails_with_korean_message(monkeypatch):
    """두 프로세스라고 해 놓고 하나만 띄우면, 시간 제한 뒤 한국어 오류 (기다리며 멈추지 않음)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(distributed, "INIT_TIMEOUT_SECONDS", 2)
    with pytest.raises(CourseError, match="분산 학습을 시작하지 못했습니다"):
        distributed.setup(torch.device("cpu"))
    assert not distributed.active()


def test_one_process_group_keeps_the_course_excepthook(monkeypatch):
    """init_process_group 은 예외 훅을 stderr 를 모으는 것으로 바꿉니다 — 그러면 과정의 한국어 오류 한 줄이 사라지므로
    setup 이 원래 훅으로 되돌리는지 (프로세스 1개짜리 그룹으로)."""
    import socket

    import torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(key, value)

    def course_hook(*exc):
        pass

    monkeypatch.setattr(sys, "excepthook", course_hook)
    try:
        assert distributed.setup(torch.device("cpu")) == torch.device("cpu")
        assert distributed.active() and distributed.backend() == "gloo" and distributed.world_size() == 1
        assert sys.excepthook is course_hook
    finally:
        dist.destroy_process_group()
    assert not distributed.active()


def test_plain_python_is_untouched():
    assert not distributed.active() and distributed.rank() == 0 and distributed.is_main()
    assert distributed.record_fields("01_pytorch_basics.py", []) == {}
    assert distributed.prepare("모델", "배치", torch.device("cpu"), enabled=True) == ("모델", "배치")


def test_command_for_two_machines_names_the_endpoint():
    cmd = torchrun_command(4, ["01_pytorch_basics.py"], nnodes=2, endpoint="10.0.0.1:29500", node_rank=1)
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nnodes=2" in cmd and "--node-rank=1" in cmd and "--rdzv-endpoint=10.0.0.1:29500" in cmd
    assert "--standalone" not in cmd
