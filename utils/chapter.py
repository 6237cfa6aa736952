"""레슨 파일 하나가 스크립트이자 노트북인 '장(chapter)'이 되게 하는 약속 (docs/CHAPTERS.md).

- 스크립트: `python 01_pytorch_basics.py --quick` → 명령행 옵션을 읽습니다.
- 노트북(Jupyter·VS Code·Colab): 커널의 명령행은 레슨의 것이 아니므로, 맨 위 매개변수 셀의
  QUICK·DATA_DIR 값을 옵션으로 씁니다.
- 가져오기(import, 테스트): 절마다 `if __name__ == "__main__":` 안에 둔 실행 코드는 돌지 않습니다.
어느 쪽이든 CourseError 는 트레이스백 대신 한국어 한 줄로 끝납니다.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import runpy
import sys
from pathlib import Path

from utils.model_utils import CourseError, start_run

INTERRUPTED = ("[중단] 사용자가 학습을 멈췄습니다. 마지막 에폭의 체크포인트가 남아 있으면 "
               "--resume 으로 이어서 학습할 수 있습니다.")


def in_notebook() -> bool:
    """Jupyter 계열 커널 안에서 실행 중인가 (Colab·VS Code 포함). ipykernel 을 import 만 한 프로세스는 아닙니다."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


def _korean_exit(err: BaseException) -> tuple[str, int] | None:
    """CourseError·Ctrl+C 를 (한국어 한 줄, 종료 코드)로. 그 밖의 예외는 None (평소처럼 트레이스백)."""
    if isinstance(err, CourseError):
        return f"\n[오류] {err}", err.exit_code
    if isinstance(err, KeyboardInterrupt):
        return f"\n{INTERRUPTED}", 130
    return None


def _script_excepthook(kind, err, tb, _default=sys.excepthook):
    """스크립트에서 잡히지 않은 CourseError·Ctrl+C 를 한국어 한 줄과 종료 코드로 바꿉니다."""
    korean = _korean_exit(err)
    if korean is None:
        return _default(kind, err, tb)
    print(korean[0], file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    # 예외 훅 안에서는 SystemExit 가 종료 코드로 쓰이지 않으므로 여기서 바로 끝냅니다.
    os._exit(korean[1])


def _notebook_error_handler(shell, kind, err, tb, tb_offset=None):
    print(f"[오류] {err}", file=sys.stderr)
    return []


def start_chapter(lesson: str, parser, *, quick: bool = False, data_dir: str | None = None,
                  out_dir: str = "runs", actions: dict[str, str] | None = None, action_output_only: bool = False):
    """장의 첫 실행 셀이 부릅니다: 옵션을 정하고 시드·장치·결과 폴더를 준비해 (args, run) 을 돌려줍니다.

    actions={"predict": "predict"}: 스크립트에 --predict 가 있으면 이 장의 predict(args, run) 만 하고 끝냅니다.
    (그 함수는 장의 뒤쪽 절에 있으므로 장 파일을 부작용 없는 모듈로 가져와 부릅니다.)
    action_output_only=True: 그때 시작 안내 줄을 표준 오류로 보내, 표준 출력에는 결과만 남깁니다
    (예: `--translate-file 문장.de > 번역.en`).
    """
    if in_notebook():
        argv = ["--quick"] if quick else []
        args = parser.parse_args(argv)
        args.data_dir, args.out_dir = data_dir or None, out_dir
        sys.modules["IPython"].get_ipython().set_custom_exc((CourseError,), _notebook_error_handler)
    else:
        argv = sys.argv[1:]
        args = parser.parse_args(argv)
        sys.excepthook = _script_excepthook
    # 빈 문자열(--text "")도 '주어진 옵션'입니다: 기본값(None·False)일 때만 건너뜁니다.
    action = next((name for option, name in (actions or {}).items()
                   if getattr(args, option, None) not in (None, False)), None)
    if action is not None:
        args.quick = False  # 예측 등은 전체 학습의 체크포인트를 씁니다
    if action is not None and action_output_only:
        with contextlib.redirect_stdout(sys.stderr):
            run = start_run(lesson, args, argv)
    else:
        run = start_run(lesson, args, argv)
    if action is not None:
        getattr(importlib.import_module(lesson), action)(args, run)
        end_script()
    return args, run


def section(title: str) -> None:
    """스크립트 출력에 절 제목을 찍습니다 (노트북에서는 마크다운 셀이 제목이므로 생략)."""
    if not in_notebook():
        print(f"\n## {title}")


def end_script() -> None:
    """--predict 처럼 한 가지 일만 하는 실행을 여기서 조용히 끝냅니다 (나머지 절은 돌지 않음)."""
    raise SystemExit(0)


def run_chapter(path: str | Path, argv: list[str]) -> int:
    """장을 `python 파일 옵션…` 과 똑같이 이 프로세스 안에서 실행하고 종료 코드를 돌려줍니다.

    테스트·download_data.py 가 씁니다 (torch 를 다시 import 하지 않아 빠릅니다).
    """
    saved_argv, saved_hook = sys.argv, sys.excepthook
    sys.argv = [str(path), *argv]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except (CourseError, KeyboardInterrupt) as err:  # 스크립트의 예외 훅과 같은 한 줄과 종료 코드
        message, code = _korean_exit(err)
        print(message, file=sys.stderr)
        return code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv, sys.excepthook = saved_argv, saved_hook
    return 0

