"""10장의 여러 프로세스 실습을 torchrun 으로 띄우고 결과를 모으는 배관.

노트북 셀에서 정의한 함수는 새 프로세스로 넘길(pickle) 수 없으므로, 각 프로세스는 장 파일
`10_distributed_training.py` 를 모듈로 가져와(가져오기에는 부작용이 없습니다) 거기 정의된 함수를 부릅니다.

    python -m torch.distributed.run --standalone --nproc_per_node=2 -m utils.distributed_demos 결과.json '[["ring", {"lengths": [10]}]]'

단계(데모 이름, 인자)마다 프로세스별 결과(사전)를 all_gather 로 모아, 랭크 0이 [단계별 [랭크별 결과]] 를 결과.json 에 씁니다.
"""
from __future__ import annotations

import datetime
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "10_distributed_training"


def torchrun_command(nproc: int, target: list[str], nnodes: int = 1, endpoint: str | None = None,
                     node_rank: int | None = None) -> list[str]:
    """`torchrun …` 과 같은 명령 (가상 환경의 torch 를 쓰도록 python -m torch.distributed.run)."""
    cmd = [sys.executable, "-m", "torch.distributed.run"]
    if nnodes == 1:
        cmd.append("--standalone")  # 한 컴퓨터: 빈 포트에 랑데부 저장소를 스스로 엽니다
    else:
        cmd += [f"--nnodes={nnodes}", f"--node-rank={node_rank}", "--rdzv-backend=c10d",
                f"--rdzv-endpoint={endpoint}"]
    return [*cmd, f"--nproc_per_node={nproc}", *target]


def launch_steps(steps: list, nproc: int, folder, threads: int = 1, timeout: float = 600) -> list[list[dict]]:
    """[(데모 이름, {인자}), …] 를 nproc 개 프로세스에서 차례로 실행하고, 단계마다 랭크별 결과 리스트를 돌려줍니다.

    프로세스를 띄우는 비용(프로세스마다 torch import, 몇 초)을 한 번만 내도록 여러 단계를 한 번에 실행합니다.
    """
    from utils.model_utils import CourseError

    out = Path(folder) / f"{'+'.join(name for name, _ in steps)}-{nproc}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    cmd = torchrun_command(nproc, ["-m", "utils.distributed_demos", str(out.resolve()), json.dumps(steps)])
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not out.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise CourseError(f"torchrun 실행이 실패했습니다 (종료 코드 {proc.returncode}): {' '.join(cmd[3:6])} …\n{tail}")
    results = json.loads(out.read_text(encoding="utf-8"))
    for step in results:
        for r in step:
            r["launch_seconds"] = round(time.perf_counter() - t0, 2)
    return results


def launch(demo: str, nproc: int, folder, threads: int = 1, **params) -> list[dict]:
    """데모 하나를 nproc 개 프로세스로 실행하고 랭크별 결과 리스트를 돌려줍니다 (결과 파일은 folder 에)."""
    return launch_steps([(demo, params)], nproc, folder, threads=threads)[0]


def main(argv: list[str]) -> int:
    """torchrun 이 띄운 프로세스 하나: 프로세스 그룹 → 장의 데모 함수들 → 결과 모으기 → 랭크 0이 기록."""
    import torch.distributed as dist

    out, steps = Path(argv[0]), json.loads(argv[1])
    sys.path.insert(0, str(ROOT))
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    try:
        chapter = importlib.import_module(CHAPTER)
        results = []
        for name, params in steps:
            gathered = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, chapter.DEMOS[name](**params))
            results.append(gathered)
        if dist.get_rank() == 0:
            tmp = out.with_name(out.name + ".tmp")
            tmp.write_text(json.dumps(results, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, out)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
