"""테스트 공용 준비물: 실제 데이터 루트, 레슨 모듈 불러오기, 장을 프로세스 안에서 실행."""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils.chapter import run_chapter

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def lesson(name: str):
    """'01_pytorch_basics' 처럼 숫자로 시작하는 레슨 파일을 모듈로 불러옵니다 (부작용 없음)."""
    return importlib.import_module(name)


def run_main(module, argv: list[str]) -> int:
    """장을 `python 파일 argv…` 처럼 같은 프로세스에서 실행하고 종료 코드를 돌려줍니다 (torch를 다시 import 하지 않음)."""
    return run_chapter(module.__file__, argv)


def read_metrics(out_dir: Path, lesson_name: str, quick: bool = True) -> dict:
    run_dir = out_dir / (f"{lesson_name}-quick" if quick else lesson_name)
    return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def real_data_dir(tmp_path_factory) -> Path:
    """실제 데이터 루트: DL_DATA_DIR(CI가 prepare.py로 만든 것) → ../shared에서 준비 → 없으면 skip."""
    env = os.environ.get("DL_DATA_DIR")
    if env and Path(env).is_dir():
        return Path(env)
    if not (SHARED_DATASETS / "prepare.py").is_file():
        pytest.skip("실제 데이터가 없습니다 (DL_DATA_DIR 미설정, ../shared/datasets 없음)")
    out = tmp_path_factory.mktemp("dl-data")
    subprocess.run([sys.executable, str(SHARED_DATASETS / "prepare.py"), "--out", str(out)],
                   check=True, capture_output=True)
    return out


@pytest.fixture
def empty_data_dir(tmp_path) -> Path:
    """데이터가 하나도 없는 루트 (대체 데이터·--require-data 검사용)."""
    d = tmp_path / "빈 데이터"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def serving_run(real_data_dir, tmp_path_factory) -> Path:
    """09장을 --quick 으로 한 번 실행한 결과 폴더 (01·04·08 의 --quick 체크포인트도 그 안에서 학습됨). 09 테스트들이 함께 씁니다."""
    out = tmp_path_factory.mktemp("serving")
    code = run_main(lesson("09_model_serving"), ["--quick", "--out-dir", str(out), "--data-dir", str(real_data_dir),
                                                 "--load-seconds", "1"])
    assert code == 0
    return out
