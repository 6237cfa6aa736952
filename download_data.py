"""강사용: 모든 레슨의 데이터를 한 번에 내려받아 검증합니다 (오프라인 실습실에 복사해 가기 위해).

    python download_data.py --data-dir /shared/data          # 전체
    python download_data.py --data-dir /shared/data 01 03    # 일부 레슨만

각 레슨 파일의 download_dataset(root) 가 자기 데이터를 받아 체크섬을 확인합니다.
받은 뒤에는 DL_DATA_DIR=/shared/data 로 지정하거나 --data-dir 로 넘기세요.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from utils.data_utils import resolve_data_dir

# 저장소 맨 위의 "두 자리 번호_이름.py" 파일이 곧 레슨 목록입니다 (목록을 따로 적어 두지 않음).
LESSONS = sorted(p.stem for p in Path(__file__).resolve().parent.glob("[0-9][0-9]_*.py"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="강의 데이터 미리 내려받기")
    p.add_argument("--data-dir", default=None, help="데이터 루트 (기본: DL_DATA_DIR, 없으면 ./data)")
    p.add_argument("lessons", nargs="*", help="레슨 번호 (예: 01 03). 비우면 전체")
    args = p.parse_args(argv)
    root = resolve_data_dir(args.data_dir)
    chosen = [name for name in LESSONS if not args.lessons or name[:2] in args.lessons]
    failed = []
    for name in chosen:
        module = importlib.import_module(name)
        print(f"[{name}] 데이터 준비 → {root}")
        if not module.download_dataset(root):
            failed.append(name)
    if failed:
        print(f"[실패] 다음 레슨의 데이터를 받지 못했습니다: {', '.join(failed)}"
              " (인터넷 연결 또는 방화벽을 확인하세요)", file=sys.stderr)
        return 1
    print(f"완료. 이제 DL_DATA_DIR={root} 로 실행하세요.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
