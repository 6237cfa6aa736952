# %% [markdown]
# # 09. 모델 서빙 — 학습한 모델을 FastAPI 서비스와 한국어 웹 페이지 뒤에 두기
#
# **학습 목표**
# - 앞 장들이 저장한 체크포인트(01 숫자, 04 리뷰 감성, 08 독→영 번역, 있으면 06 탐지·07 얼굴 생성)를 안전하게 불러옵니다.
# - 추론 모드(`eval()`, `torch.inference_mode()`, 스레드 수)와 배치 크기에 따른 지연 시간·처리량을 잽니다.
# - 숫자 MLP와 리뷰 GRU를 ONNX로 내보내 ONNX Runtime 으로 실행하고, 결과가 PyTorch 와 같은지 확인합니다. int8 양자화의 정확도 변화를 잽니다.
# - FastAPI 서비스(스키마, 작업 스레드에서의 추론, 한국어 오류, 요청 크기·시간 제한)와 오프라인 웹 페이지를 만듭니다.
# - 마이크로 배칭과 부하 테스트(동시 클라이언트, 초당 요청 수, p50/p95/p99 지연 시간)로 서비스를 잽니다.
#
# **데이터셋**: 새로 학습하지 않습니다. 양자화한 리뷰 모델의 정확도는 그 모델의 테스트 세트(NSMC 또는 IMDB)로 잽니다.
#
# **핵심 개념**: 추론 모드, 지연 시간(latency)과 처리량(throughput), ONNX·ONNX Runtime, 동적 양자화(int8),
# REST API, pydantic 스키마, 이벤트 루프와 작업 스레드, 마이크로 배칭, 대기열과 역압(503), 부하 테스트, 꼬리 지연 시간(p95·p99)
#
# **실행 방법**
# ```
# python 09_model_serving.py                 # 내보내기·검사·벤치마크·부하 테스트·그림·metrics.json (끝나면 종료)
# python 09_model_serving.py --quick         # 짧은 부하 테스트로 흐름만 확인
# python 09_model_serving.py --serve         # 서비스 시작 → 브라우저에서 http://127.0.0.1:8000/ (Ctrl+C 로 종료)
# python 09_model_serving.py --serve --host 0.0.0.0 --port 8080   # 다른 컴퓨터에서도 접속 (경고를 읽으세요)
# ```
# 먼저 01·04·08장을 실행해 체크포인트를 만드세요 (`--quick` 체크포인트도 받지만 그렇다고 표시합니다).
# 노트북(`notebooks/09_model_serving.ipynb`)에서는 서버가 백그라운드 스레드에서 돕니다.
#
# **예상 시간** (측정값은 `docs/RESULTS.md`): 2코어 CPU에서 약 4분, `--quick` 은 1분 안팎.

# %%
import base64
import importlib
import io
import json
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from fastapi.testclient import TestClient
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image

from utils.chapter import section, start_chapter
from utils.data_utils import frame_like_dataset
from utils.datasets import imdb, nsmc
from utils.model_utils import CourseError, cpu_threads, load_checkpoint, make_parser, positive_int, run_folder
from utils.serving import (BackgroundServer, MicroBatcher, Service, create_app, screenshot_page, serve_forever,
                           server_stack)
from utils.visualization import new_figure, save_figure

# %% tags=["parameters"]
QUICK = False      # True: 짧은 부하 테스트와 작은 테스트 세트로 흐름만 확인
DATA_DIR = None    # 데이터 루트 (None: 환경 변수 DL_DATA_DIR, 없으면 ./data)
OUT_DIR = "runs"   # 그림·ONNX 파일·metrics.json 을 둘 곳 (앞 장들의 체크포인트도 여기서 찾습니다)

# %% [markdown]
# 실행 설정: 스크립트로 실행하면 명령행 옵션을, 노트북에서는 위 매개변수 셀을 씁니다.
# `--serve` 는 아래 10절의 `serve` 함수만 실행합니다 (서버를 띄우고 Ctrl+C 를 기다림).

# %%
LESSON = "09_model_serving"
DIGITS, REVIEWS, TRANSLATOR = "01_pytorch_basics", "04_rnn_text_classification", "08_transformer_nlp"
DETECTOR, FACES = "06_yolo_object_detection", "07_gan_image_generation"
KOREAN_REVIEWS = "04_rnn_text_classification-nsmc"   # 04장의 한국어 짝 장 (있으면 먼저 씁니다)
BEAM = 5
GERMAN_12_WORDS = "Ein junger Mann in einem roten Hemd fährt mit seinem Fahrrad durch die Stadt."
LOAD_SECONDS, QUICK_LOAD_SECONDS = 20.0, 2.0
CLIENTS, BATCHING_CLIENTS = 16, 32
QUICK_TEST_PER_CLASS = 200    # --quick: 양자화 정확도를 재는 테스트 리뷰 수 (클래스마다)
BATCH_SIZES = [1, 4, 16, 64]


def build_parser():
    p = make_parser(f"{LESSON}.py", "09. 모델 서빙: 체크포인트 → ONNX → FastAPI 서비스 → 웹 페이지 → 부하 테스트",
                    epochs=1, batch_size=32, lr=1e-3)
    p.add_argument("--serve", action="store_true", help="서비스를 시작하고 Ctrl+C 를 기다립니다")
    p.add_argument("--host", default="127.0.0.1", help="서버 주소 (기본 127.0.0.1: 이 컴퓨터에서만 접속)")
    p.add_argument("--port", type=positive_int, default=8000, help="서버 포트 (기본 8000)")
    p.add_argument("--threads", type=positive_int, default=None, help="PyTorch CPU 스레드 수 (기본: cpu_threads 정책)")
    p.add_argument("--load-seconds", type=float, default=None,
                   help=f"부하 테스트의 엔드포인트당 시간(초) (기본 {LOAD_SECONDS:g}, --quick {QUICK_LOAD_SECONDS:g})")
    return p


# %%
if __name__ == "__main__":
    args, run = start_chapter(LESSON, build_parser(), quick=QUICK, data_dir=DATA_DIR, out_dir=OUT_DIR,
                              actions={"serve": "serve"})

# %% [markdown]
# ## 1. 학습한 모델 불러오기
# 서버는 모델을 **시작할 때 한 번** 불러 메모리에 둡니다 (요청마다 읽으면 디스크를 매번 읽어 느립니다).
# `--quick` 에서는 없는 01·04·08 모델을 그 장의 `--quick` 으로 먼저 학습합니다 (노트북·CI 가 준비물 없이 돌도록).
# 체크포인트는 `weights_only=True` 로 읽어 텐서·숫자·문자열만 받습니다: 피클(pickle)로 저장된 임의 객체를
# 풀면 그 안의 코드가 실행될 수 있기 때문입니다. 모델 클래스는 복사하지 않고 각 장 파일을 모듈로 가져와 씁니다
# (장 파일은 가져와도 실행 코드가 돌지 않습니다). 전체 학습의 체크포인트가 없으면 `--quick` 체크포인트를 쓰고 그렇게 표시하며,
# 둘 다 없으면 학습 명령을 알려 줍니다.

# %%
def lesson_module(name: str):
    return importlib.import_module(name)


def find_checkpoint(out_dir: Path, lesson: str) -> tuple[Path, bool] | None:
    """(체크포인트 경로, --quick 여부). 전체 학습의 것을 먼저 찾습니다."""
    for quick in (False, True):
        path = run_folder(out_dir, lesson, quick) / "checkpoint.pt"
        if path.is_file():
            return path, quick
    return None


def missing_note(lesson: str) -> str:
    return f"아직 학습한 모델이 없습니다. 먼저 'python {lesson}.py' 를 실행하세요 (빠르게: --quick)."


def load_digits(path: Path) -> dict:
    state = load_checkpoint(path)
    model = lesson_module(DIGITS).MLP(hidden=tuple(state["hidden"]))
    model.load_state_dict(state["model"])
    return {"model": model.eval(), "classes": state["classes"], "description": "MNIST MLP"}


def load_reviews(path: Path, lesson: str) -> dict:
    model, encode, max_len, classes = lesson_module(REVIEWS).load_review_classifier(path)
    korean = lesson == KOREAN_REVIEWS
    return {"model": model, "encode": encode, "max_len": max_len, "classes": classes, "korean": korean,
            "description": "한국어 리뷰 (NSMC) GRU" if korean else "영어 리뷰 (IMDB) GRU — 한국어 모델은 아직 없음",
            "placeholder": "예: 배우들 연기가 정말 좋았어요" if korean else "예: This movie was surprisingly good"}


def load_translator(path: Path) -> dict:
    model, tokenizer = lesson_module(TRANSLATOR).load_translator(path, torch.device("cpu"))
    return {"model": model.eval(), "tokenizer": tokenizer, "description": f"Multi30k 트랜스포머 (빔 {BEAM})"}


def load_detector(path: Path) -> dict:
    state = load_checkpoint(path)
    model = lesson_module(DETECTOR).TinyYOLO(state["num_classes"])
    model.load_state_dict(state["model"])
    return {"model": model.eval(), "classes": state["class_names"], "description": "TinyYOLO (도형 탐지)"}


def load_faces(path: Path) -> dict:
    state, faces = load_checkpoint(path), lesson_module(FACES)
    generator = faces.Generator(faces.LATENT_DIM, **state["config"])
    prefix = "generator."  # 07장은 생성자·판별자를 한 ModuleDict 로 저장합니다
    generator.load_state_dict({k[len(prefix):]: v for k, v in state["model"].items() if k.startswith(prefix)})
    return {"model": generator.eval(), "latent_dim": faces.LATENT_DIM, "description": "DCGAN 얼굴 생성자"}


def train_quick(lesson: str, args) -> None:
    """--quick 에서만: 필수 모델의 체크포인트가 없으면 그 장의 `--quick` 으로 먼저 학습합니다 (새 프로세스, 같은 결과 폴더)."""
    out = Path(args.out_dir)
    if not args.quick or find_checkpoint(out, lesson) or (lesson == REVIEWS and find_checkpoint(out, KOREAN_REVIEWS)):
        return
    command = [sys.executable, lesson_module(lesson).__file__, "--quick", "--out-dir", str(args.out_dir),
               *(["--data-dir", str(args.data_dir)] if args.data_dir else [])]
    print(f"  [학습] {lesson} 의 체크포인트가 없어 먼저 학습합니다: python {' '.join(command[1:])}")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CourseError(f"{lesson} --quick 학습이 실패했습니다: {done.stderr.strip()[-300:]}")


def load_all(out_dir: Path) -> dict:
    """이름 → {"model", …, "quick", "checkpoint"} 또는 {"note": 학습 명령 안내}."""
    review_found = find_checkpoint(out_dir, KOREAN_REVIEWS)
    review_lesson = KOREAN_REVIEWS if review_found else REVIEWS
    plan = {"digit": (DIGITS, load_digits), "sentiment": (review_lesson, lambda p: load_reviews(p, review_lesson)),
            "translate": (TRANSLATOR, load_translator), "detect": (DETECTOR, load_detector),
            "generate": (FACES, load_faces)}
    loaded = {}
    for name, (lesson, load) in plan.items():
        found = review_found if name == "sentiment" and review_found else find_checkpoint(out_dir, lesson)
        if found is None:
            loaded[name] = {"note": missing_note(lesson if name != "sentiment" else KOREAN_REVIEWS)}
            continue
        loaded[name] = {**load(found[0]), "quick": found[1], "checkpoint": str(found[0])}
    return loaded


# %%
if __name__ == "__main__":  # --quick 이고 모델이 없을 때만 학습합니다. 노트북의 셀 하나가 너무 길지 않도록 장마다 한 셀씩
    section("1. 학습한 모델 불러오기")
    train_quick(DIGITS, args)

# %%
if __name__ == "__main__":
    train_quick(REVIEWS, args)

# %%
if __name__ == "__main__":
    train_quick(TRANSLATOR, args)
    models = load_all(Path(args.out_dir))
    for name, m in models.items():
        print(f"  {name:<10} " + (f"{m['description']}  ← {m['checkpoint']}" + ("  [--quick 모델]" if m["quick"] else "")
                                  if "model" in m else f"없음: {m['note']}"))
    for needed in ("digit", "sentiment", "translate"):  # 06·07 은 있으면 씁니다
        if "model" not in models[needed]:
            raise CourseError(f"이 장에 꼭 필요한 모델이 없습니다 ({needed}). {models[needed]['note']}")

# %% [markdown]
# ## 2. 추론 모드: 지연 시간과 처리량
# 서빙에서는 학습 때 켜 두던 것들을 끕니다. `model.eval()` 은 드롭아웃을 끄고 배치 정규화가 학습 때 모은 평균을 쓰게 하며,
# `torch.inference_mode()` 는 그래디언트 기록을 통째로 꺼 `no_grad` 보다도 조금 가볍습니다.
# **지연 시간**(요청 하나가 답을 받기까지)과 **처리량**(초당 처리하는 입력 수)은 배치 크기에 따라 반대로 움직입니다:
# 여러 입력을 한 번에 계산하면 행렬 곱이 커져 CPU를 효율적으로 쓰므로 처리량이 늘지만, 배치 하나가 끝날 때까지 모두 기다립니다.
# CPU 스레드 수는 `cpu_threads`(과정 공통 정책)가 정합니다: 서버는 요청을 받는 스레드와 계산 스레드가 코어를 나눠 씁니다.

# %%
def digit_batch(n: int) -> torch.Tensor:
    return torch.randn(n, 1, 28, 28)


def review_batch(n: int, length: int = 40, vocab: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(n)
    return torch.randint(2, vocab, (n, length), generator=generator), torch.full((n,), length)


def median_seconds(fn, repeats: int) -> float:
    fn()  # 예열: 첫 호출은 메모리 할당 등으로 느립니다
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def latency_by_batch(model, make_inputs, repeats: int) -> dict:
    """배치 크기마다 (배치 하나의 지연 시간 ms, 초당 처리 수)."""
    rows = {}
    for n in BATCH_SIZES:
        inputs = make_inputs(n)
        with torch.inference_mode():
            seconds = median_seconds(lambda: model(*inputs), repeats)
        rows[n] = {"latency_ms": seconds * 1000, "per_second": n / seconds}
    return rows


def plot_batch_curves(curves: dict, path: Path) -> Path:
    fig, axes = new_figure(ncols=2, size=(5.5, 4))
    ax1, ax2 = axes[0]
    for name, rows in curves.items():
        sizes = list(rows)
        ax1.plot(sizes, [rows[n]["latency_ms"] for n in sizes], "o-", label=name)
        ax2.plot(sizes, [rows[n]["per_second"] for n in sizes], "o-", label=name)
    for ax, title, ylabel in [(ax1, "배치 하나의 지연 시간", "밀리초"), (ax2, "처리량", "초당 입력 수")]:
        ax.set(xscale="log", yscale="log", xlabel="배치 크기", ylabel=ylabel, title=title)
        ax.set_xticks(BATCH_SIZES, [str(n) for n in BATCH_SIZES])
        ax.yaxis.set_major_formatter("{x:g}")  # 10⁻¹ 대신 0.1 (한국어 글꼴에는 수식용 마이너스 글리프가 없음)
        ax.yaxis.set_minor_formatter("")
        ax.legend()
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("2. 추론 모드: 지연 시간과 처리량")
    repeats = 5 if args.quick else 30
    with cpu_threads(args.threads):
        curves = {"숫자 MLP": latency_by_batch(models["digit"]["model"], lambda n: (digit_batch(n),), repeats),
                  "리뷰 GRU (40토큰)": latency_by_batch(models["sentiment"]["model"], review_batch, repeats)}
    for name, rows in curves.items():
        print(f"  {name}: " + ", ".join(f"배치 {n}: {r['latency_ms']:.2f} ms·{r['per_second']:,.0f}개/초"
                                        for n, r in rows.items()))
    plot_batch_curves(curves, run.path("batch_latency.png"))

# %% [markdown]
# ## 3. ONNX 로 내보내기와 int8 양자화
# **ONNX** 는 신경망을 연산 그래프로 저장하는 공개 형식입니다. 파이썬 없이도 C++·C#·자바·브라우저에서 **ONNX Runtime** 으로
# 실행할 수 있고, 실행기가 그래프 전체를 보고 연산을 합쳐 빠르게 만듭니다. torch 2.14 의 `torch.onnx.export` 는
# `torch.export` 로 그래프를 얻는 dynamo 방식이 기본이고 `onnxscript` 가 필요합니다. 배치 크기·문장 길이는 `dynamic_shapes` 로
# 열어 둡니다. 리뷰 GRU 는 패킹(pack_padded_sequence)이 아닌 **마스킹 경로**로 내보냅니다 (04장 7절: 결과는 같음).
# 내보낸 모델은 반드시 **같은 입력에서 PyTorch 와 출력이 같은지** 확인합니다: 예전 onnxscript 는 GRU 게이트를 오류 없이
# 틀리게 내보냈고, 이 비교만이 그것을 잡습니다.
#
# **동적 양자화(int8)**: 가중치를 8비트 정수로 저장하고(크기 약 1/4), 실행할 때 입력의 범위를 보고 정수 행렬 곱을 합니다.
# 값이 조금 바뀌므로 정확도가 얼마나 변하는지 테스트 세트로 잽니다. (PyTorch 의 `torch.ao.quantization.quantize_dynamic` 도
# 같은 일을 하지만 더 이상 개발되지 않을 예정이라, 여기서는 ONNX Runtime 의 양자화기를 씁니다.)

# %%
def export_onnx(model, inputs: tuple, names: list[str], dynamic: tuple, path: Path) -> Path:
    """모델 → ONNX 파일 하나 (가중치를 따로 떼지 않음). dynamic: 입력마다 {축: Dim}.

    verbose=False 는 '[torch.onnx] …' 진행 줄을 끕니다. torch.export 내부의 FutureWarning·UserWarning 은 학습자가 고칠 수
    없는 것이라 숨기고, 내보낸 결과가 맞는지는 아래에서 PyTorch 와 출력을 비교해 확인합니다."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(model, inputs, str(path), input_names=names, output_names=["logits"],
                          dynamic_shapes=dynamic, external_data=False, verbose=False)
    return path


def onnx_session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # PyTorch 와 같은 스레드 수로 공정하게 비교
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_runner(session: ort.InferenceSession):
    """ONNX 세션을 PyTorch 모델처럼 부를 수 있게: runner(*텐서) → 텐서."""
    names = [i.name for i in session.get_inputs()]
    return lambda *xs: torch.from_numpy(session.run(None, {n: x.numpy() for n, x in zip(names, xs)})[0])


def export_digits(model, folder: Path) -> tuple[Path, float]:
    x = digit_batch(8)
    path = export_onnx(model, (x,), ["images"], ({0: torch.export.Dim("batch")},), folder / "digits.onnx")
    with torch.inference_mode():
        diff = (onnx_runner(onnx_session(path))(x) - model(x)).abs().max().item()
    return path, diff


def export_reviews(model, folder: Path) -> tuple[Path, float]:
    """길이가 서로 다른 리뷰(패딩 포함) 배치로 내보내고, 다른 모양의 배치로도 확인합니다."""
    batch, time_ = torch.export.Dim("batch"), torch.export.Dim("time", min=2, max=4096)
    tokens, lengths = review_batch(3, length=17)
    lengths = torch.tensor([17, 9, 4])
    tokens[1, 9:], tokens[2, 4:] = 0, 0
    path = export_onnx(model, (tokens, lengths), ["tokens", "lengths"], ({0: batch, 1: time_}, {0: batch}),
                       folder / "reviews.onnx")
    runner = onnx_runner(onnx_session(path))
    check_tokens, check_lengths = review_batch(5, length=60)
    check_lengths = torch.tensor([60, 45, 30, 12, 2])
    with torch.inference_mode():
        diff = max((runner(t, l) - model(t, l)).abs().max().item()
                   for t, l in [(tokens, lengths), (check_tokens, check_lengths)])
    return path, diff


def quantize_reviews(path: Path) -> Path:
    """ONNX Runtime 이 권하는 순서: 전처리(모양 추론·그래프 정리) → 동적 양자화(가중치를 int8 로).

    전처리의 '기호 모양 추론'은 양방향 GRU 의 Concat 에서 실패하므로 건너뛰고 ONNX 의 모양 추론만 씁니다."""
    prepared, target = path.with_name(path.stem + "_prep.onnx"), path.with_name(path.stem + "_int8.onnx")
    quant_pre_process(str(path), str(prepared), skip_symbolic_shape=True)
    quantize_dynamic(str(prepared), str(target), weight_type=QuantType.QInt8)
    return target


# %%
if __name__ == "__main__":
    section("3. ONNX 로 내보내기와 int8 양자화")
    with cpu_threads(args.threads):
        digit_onnx, digit_diff = export_digits(models["digit"]["model"], run.out)
        review_onnx, review_diff = export_reviews(models["sentiment"]["model"], run.out)
        review_int8 = quantize_reviews(review_onnx)
    export_max_abs_diff = max(digit_diff, review_diff)
    print(f"  숫자 MLP  → {digit_onnx.name}: PyTorch 와의 최대 절대 차이 {digit_diff:.2e}")
    print(f"  리뷰 GRU  → {review_onnx.name}: 최대 절대 차이 {review_diff:.2e} (목표 1e-4 이하)")
    print(f"  int8 양자화 → {review_int8.name}: 파일 크기 {review_onnx.stat().st_size / 1024:.0f} KB → "
          f"{review_int8.stat().st_size / 1024:.0f} KB")

# %% [markdown]
# ### 양자화한 모델의 정확도와 세 실행기의 지연 시간
# 테스트 세트의 리뷰를 모델의 `encode` (학습 때와 같은 토큰화·사전·자르기)로 바꿔, 길이가 비슷한 것끼리 묶어 평가합니다.
# 같은 배치를 eager PyTorch, ONNX Runtime(float32), ONNX Runtime(int8) 로 계산해 정확도와 시간을 비교합니다.

# %%
def review_test_set(models_entry: dict, args) -> tuple[list[str], list[int], str, str]:
    """(리뷰들, 레이블들, 데이터 이름, 출처). 한국어 모델이면 짝 장의 NSMC 읽기를, 아니면 IMDB 를 씁니다."""
    per_class = QUICK_TEST_PER_CLASS if args.quick else None
    if models_entry["korean"]:  # NSMC 파일은 긍정·부정이 섞여 있어 앞에서 2배를 읽습니다
        data = nsmc.load(args, 1, per_class and 2 * per_class)
    else:                       # IMDB 는 neg/ pos/ 폴더마다 앞의 몇 개
        data = imdb.load(args, 1, per_class)
    return data.test_texts, data.test_labels, data.name, data.source


def length_sorted_batches(ids: list[list[int]], labels: list[int], size: int):
    """길이가 비슷한 리뷰끼리 묶어 패딩을 줄입니다 → (토큰, 길이, 레이블). 빈 리뷰는 <unk> 하나로."""
    ids = [i or [lesson_module(REVIEWS).UNK_IDX] for i in ids]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    for start in range(0, len(order), size):
        chunk = order[start:start + size]
        lengths = torch.tensor([len(ids[i]) for i in chunk])
        tokens = torch.zeros(len(chunk), int(lengths.max()), dtype=torch.long)
        for row, i in enumerate(chunk):
            tokens[row, :len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
        yield tokens, lengths, torch.tensor([labels[i] for i in chunk])


def accuracy_and_time(runner, batches: list) -> tuple[float, float]:
    correct, seconds = 0, 0.0
    for tokens, lengths, labels in batches:
        t0 = time.perf_counter()
        with torch.inference_mode():
            logits = runner(tokens, lengths)
        seconds += time.perf_counter() - t0
        correct += (logits.argmax(1) == labels).sum().item()
    return correct / sum(len(b[2]) for b in batches), seconds


def compare_runtimes(model, encode, texts, labels, onnx_path: Path, int8_path: Path) -> dict:
    batches = list(length_sorted_batches([encode(t) for t in texts], labels, 64))
    runners = {"eager PyTorch": model, "ONNX Runtime": onnx_runner(onnx_session(onnx_path)),
               "ONNX int8": onnx_runner(onnx_session(int8_path))}
    result = {}
    for name, runner in runners.items():
        accuracy, seconds = accuracy_and_time(runner, batches)
        single = median_seconds(lambda r=runner: r(*review_batch(1)), 20)
        result[name] = {"accuracy": accuracy, "ms_per_review": seconds * 1000 / len(texts), "batch1_ms": single * 1000}
    return result


def plot_runtimes(result: dict, path: Path) -> Path:
    fig, axes = new_figure(ncols=2, size=(5.5, 4))
    ax1, ax2 = axes[0]
    names = list(result)
    ax1.bar(names, [r["ms_per_review"] for r in result.values()], color=["#888", "#2f6fde", "#e07b39"])
    ax1.set(title="테스트 세트: 리뷰 하나당 시간 (배치 64)", ylabel="밀리초")
    ax2.bar(names, [r["accuracy"] * 100 for r in result.values()], color=["#888", "#2f6fde", "#e07b39"])
    low = min(r["accuracy"] for r in result.values()) * 100
    ax2.set(title="테스트 세트 정확도", ylabel="%", ylim=(max(0, low - 3), min(100, low + 3)))
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelsize=9)
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    texts, labels, review_data_name, review_source = review_test_set(models["sentiment"], args)
    with cpu_threads(args.threads):
        runtimes = compare_runtimes(models["sentiment"]["model"], models["sentiment"]["encode"], texts, labels,
                                    review_onnx, review_int8)
    for name, r in runtimes.items():
        print(f"  {name:<14} 정확도 {r['accuracy']:.2%} | 리뷰당 {r['ms_per_review']:.3f} ms (배치 64) | "
              f"배치 1: {r['batch1_ms']:.2f} ms")
    quantized_accuracy_drop = runtimes["ONNX Runtime"]["accuracy"] - runtimes["ONNX int8"]["accuracy"]
    print(f"  int8 양자화의 정확도 변화: {-quantized_accuracy_drop:+.2%}p ({len(texts):,}편, {review_data_name})")
    plot_runtimes(runtimes, run.path("runtimes.png"))

# %% [markdown]
# ## 4. FastAPI 서비스
# 모델마다 '입력 목록 → 답 목록' 함수 하나를 정하면, `utils/serving.py` 가 그것을 HTTP 엔드포인트로 만듭니다:
# - **스키마**: 요청·응답을 pydantic 모델로 적어 두면 FastAPI 가 입력을 검사하고 `/openapi.json` 에 명세를 씁니다.
#   (FastAPI 의 `/docs` 페이지는 CDN 에서 스크립트를 받으므로 오프라인에서는 비어 보입니다. 그래서 끄고 명세만 둡니다.)
# - **이벤트 루프는 막지 않습니다**: uvicorn 은 한 스레드의 이벤트 루프가 수많은 연결을 돌아가며 처리합니다.
#   그 스레드에서 모델을 계산하면 그동안 다른 요청은 접수조차 못 합니다. 그래서 계산은 모델마다 둔 **작업 스레드**가 하고,
#   이벤트 루프는 답을 `await` 로 기다리기만 합니다. 요청마다 **시간 제한**(10초)이 있어 넘으면 504 를 돌려줍니다.
# - **오류는 한국어 한 줄의 JSON**: 이미지가 아닌 파일(415), 빈 글·2,000자가 넘는 글·빠진 항목(422), 5 MB 가 넘는 요청(413),
#   대기열이 가득 참(503). FastAPI 의 영어 422 응답도 바꿉니다. 서버 안의 예외는 트레이스백 대신 500 과 한국어 한 줄.
# 숫자 엔드포인트는 01장 `--predict` 와 똑같이 이미지를 MNIST 틀에 맞춥니다 (잉크만 잘라 20픽셀, 질량 중심을 가운데).

# %%
def digit_answers(entry: dict):
    normalize = lesson_module(DIGITS).normalize

    def predict(images: list[Image.Image]) -> list[dict]:
        arrays = []
        for image in images:
            gray = np.asarray(image.convert("L"))
            gray = 255 - gray if gray.mean() > 127 else gray   # 흰 종이의 검은 글씨 → MNIST 처럼 뒤집기
            arrays.append(frame_like_dataset(gray, "mnist"))
        x = normalize(torch.from_numpy(np.stack(arrays)).unsqueeze(1))
        with torch.inference_mode():
            probs = torch.softmax(entry["model"](x), dim=1)
        return [{"label": int(p.argmax()), "probabilities": [round(v, 5) for v in p.tolist()],
                 "model": entry["description"]} for p in probs]
    return predict


def sentiment_answers(entry: dict):
    def predict(texts: list[str]) -> list[dict]:
        ids = [entry["encode"](t) for t in texts]
        if any(not i for i in ids):
            raise ValueError("읽을 수 있는 단어가 하나도 없습니다. 문장으로 된 리뷰를 넣어 주세요.")
        tokens, lengths, _ = next(length_sorted_batches(ids, [0] * len(ids), len(ids)))  # 짧은 것부터, 패딩은 뒤에
        with torch.inference_mode():
            probs = torch.softmax(entry["model"](tokens, lengths), dim=1)
        answers = [None] * len(ids)
        for row, i in enumerate(sorted(range(len(ids)), key=lambda i: len(ids[i]))):  # 원래 순서로 되돌림
            label = int(probs[row].argmax())
            answers[i] = {"label": entry["classes"][label], "probability": round(probs[row, label].item(), 5),
                          "model": entry["description"], "note": ""}
        return answers
    return predict


def translate_answers(entry: dict):
    translator = lesson_module(TRANSLATOR)

    def predict(texts: list[str]) -> list[dict]:
        outputs = translator.translate_sentences(entry["model"], entry["tokenizer"], texts, torch.device("cpu"),
                                                 beam=BEAM)
        return [{"translation": out, "model": entry["description"]} for out in outputs]
    return predict


def detect_answers(entry: dict):
    detector = lesson_module(DETECTOR)

    def predict(images: list[Image.Image]) -> list[dict]:
        answers = []
        for image in images:  # 크기가 제각각이라 한 장씩 (탐지기 입력 크기로 줄였다가 박스를 원래 크기로)
            det = detector.detect_frame(entry["model"], np.asarray(image.convert("RGB")).copy(), torch.device("cpu"))
            boxes = [{"x1": b[0], "y1": b[1], "x2": b[2], "y2": b[3], "label": entry["classes"][c], "score": s}
                     for b, s, c in zip(det["boxes"].tolist(), det["scores"].tolist(), det["labels"].tolist())]
            answers.append({"boxes": boxes, "width": image.width, "height": image.height,
                            "model": entry["description"]})
        return answers
    return predict


def generate_answers(entry: dict):
    to_uint8 = lesson_module(FACES).to_uint8

    def predict(seeds: list[int]) -> list[dict]:
        z = torch.stack([torch.randn(entry["latent_dim"], generator=torch.Generator().manual_seed(s)) for s in seeds])
        with torch.inference_mode():
            images = to_uint8(entry["model"](z))
        answers = []
        for image in images:
            buffer = io.BytesIO()
            Image.fromarray(image.permute(1, 2, 0).squeeze(-1).numpy()).save(buffer, format="PNG")
            answers.append({"image_png_base64": base64.b64encode(buffer.getvalue()).decode(),
                            "model": entry["description"]})
        return answers
    return predict


ANSWERS = {"digit": digit_answers, "sentiment": sentiment_answers, "translate": translate_answers,
           "detect": detect_answers, "generate": generate_answers}


def build_services(models: dict, batching: bool = True, max_queue: int = 256) -> dict[str, Service]:
    """모델마다 배처 하나. batching=False 면 배치 크기 1 (한 번에 요청 하나씩)."""
    services = {}
    for name, entry in models.items():
        if "model" not in entry:
            services[name] = Service(name, None, note=entry["note"])
            continue
        batcher = MicroBatcher(ANSWERS[name](entry), max_batch=32 if batching else 1, max_queue=max_queue, name=name)
        info = {"description": entry["description"], "quick": entry["quick"], "placeholder": entry.get("placeholder", "")}
        services[name] = Service(name, batcher, info=info)
    return services


def sample_review(models: dict) -> str:
    return "배우들 연기가 정말 좋았어요. 또 보고 싶네요" if models["sentiment"]["korean"] else "A wonderful, moving film."


def demo_png() -> bytes:
    """흰 바탕에 검은 '7' (페이지의 캔버스와 비슷한 손글씨 숫자 이미지)."""
    image = Image.new("L", (140, 140), 255)
    pixels = np.array(image)
    pixels[30:40, 35:105] = 0                                   # 윗줄
    for row in range(40, 115):                                  # 비스듬한 줄기
        col = 105 - (row - 40) * 45 // 75
        pixels[row, col - 5:col + 5] = 0
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# %%
if __name__ == "__main__":
    section("4. FastAPI 서비스")
    app = create_app(build_services(models))
    with cpu_threads(args.threads), TestClient(app) as client:
        print("  GET /health →", json.dumps(client.get("/health").json()["models"]["digit"], ensure_ascii=False))
        print("  POST /api/digit (손으로 그린 7) →", client.post("/api/digit", files={"file": ("7.png", demo_png())}).json()["label"])
        review = sample_review(models)
        print(f"  POST /api/sentiment {review!r} →", client.post("/api/sentiment", json={"text": review}).json())
        print("  POST /api/translate →", client.post("/api/translate", json={"text": GERMAN_12_WORDS}).json()["translation"])
        print(f"  /openapi.json 의 경로: {sorted(client.get('/openapi.json').json()['paths'])}")

# %% [markdown]
# ## 5. 한국어 웹 페이지
# 같은 앱이 `web/` 의 페이지(`index.html`, `app.js`, `style.css`)를 보냅니다. 외부 스크립트·글꼴·CDN 을 쓰지 않아
# 오프라인 실습실에서도 됩니다. 페이지와 API 가 **같은 출처**(주소·포트)라 CORS 를 열 필요가 없고, 열지 않았으므로
# 다른 사이트의 스크립트가 학습자의 브라우저를 통해 이 서버를 부를 수 없습니다.
# 노트북 커널은 이미 이벤트 루프를 돌리고 있어 `uvicorn.run` 을 부를 수 없으므로 서버를 **백그라운드 스레드**에서 띄웁니다.
# 설치된 Chromium 이 있으면 페이지를 열어 숫자를 그려 예측한 화면을 `page.png` 로 남깁니다.

# %%
if __name__ == "__main__":
    section("5. 한국어 웹 페이지")
    with cpu_threads(args.threads), BackgroundServer(create_app(build_services(models))) as server:
        print(f"  서버: {server.url}/  (노트북이라면 지금 이 주소를 브라우저에서 열 수 있습니다)")
        shot = screenshot_page(server.url, run.path("page.png"), review=sample_review(models))
        print(f"  페이지 화면: {shot}" if shot else "  Chromium 이 없어 화면은 건너뜁니다 (apt-get install chromium fonts-nanum).")

# %% [markdown]
# ## 6. 마이크로 배칭
# 요청이 동시에 많이 오면, 하나씩 계산하는 대신 **몇 밀리초 동안 모인 요청을 한 배치로** 계산하고 답을 각 요청에 나눠 줍니다
# (TorchServe·Triton 의 dynamic batching). 2절에서 봤듯 배치 32 의 계산은 배치 1 의 32배보다 훨씬 빠르기 때문입니다.
# `MicroBatcher` 는 대기열에서 첫 요청을 꺼낸 뒤 최대 2 ms 동안 최대 32개를 더 모읍니다. 배치 계산이 예외를 내면
# 하나씩 다시 계산해 문제의 요청만 실패시키고, 대기열이 가득 차면 기다리게 두지 않고 바로 503 을 돌려줍니다(역압).
# 부하 생성기는 서버와 **다른 프로세스**에서 돌립니다 (같은 프로세스면 클라이언트와 서버가 파이썬 GIL 을 두고 다툽니다).
# 같은 32개의 동시 클라이언트로, 배치를 켠 서버와 끈 서버(배치 크기 1)의 처리량을 비교합니다.

# %%
def load_test(url: str, seconds: float, concurrency: int, *, file: Path | None = None, body: dict | None = None) -> dict:
    """부하 생성기(python -m utils.serving)를 새 프로세스로 실행하고 결과(JSON)를 받습니다.

    요청 하나에 쓴 CPU 시간(서버 server_cpu_ms, 부하 생성기 client_cpu_ms)도 함께 남겨, 시간이 어디에 드는지 봅니다."""
    command = [sys.executable, "-m", "utils.serving", "--url", url, "--concurrency", str(concurrency),
               "--seconds", str(seconds), *(["--file", str(file)] if file else ["--json", json.dumps(body)])]
    cpu0 = time.process_time()  # 이 프로세스(서버 스레드들)가 부하를 받는 동안 쓴 CPU 시간
    limit = seconds + 120  # 서버가 멈춰 답이 없으면 부하 생성기도 끝나지 않으므로 부하 시간 + 2분에서 끊습니다
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=limit)
    except subprocess.TimeoutExpired:
        raise CourseError(f"부하 생성기가 {limit:g}초 안에 끝나지 않았습니다 (서버가 답하지 않음).") from None
    if done.returncode != 0:
        raise CourseError(f"부하 생성기가 실패했습니다: {done.stderr.strip()[-300:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "server_cpu_ms": round((time.process_time() - cpu0) * 1000 / max(result["requests"], 1), 2)}


def batching_comparison(models: dict, seconds: float, threads) -> dict:
    body = {"text": sample_review(models)}
    results = {}
    for label, batching in [("배치", True), ("하나씩", False)]:
        services = build_services(models, batching)
        with cpu_threads(threads), BackgroundServer(create_app(services)) as server:
            results[label] = load_test(f"{server.url}/api/sentiment", seconds, BATCHING_CLIENTS, body=body)
        sizes = services["sentiment"].batcher.batch_sizes
        print(f"  {label:<4} 초당 {results[label]['rps']:>7,.1f}건 | p50 {results[label]['p50_ms']} ms, "
              f"p95 {results[label]['p95_ms']} ms | 오류 {results[label]['errors']} | 평균 배치 {np.mean(sizes or [0]):.1f}")
    return results


# %%
if __name__ == "__main__":
    section("6. 마이크로 배칭")
    seconds = args.load_seconds or (QUICK_LOAD_SECONDS if args.quick else LOAD_SECONDS)
    batching = batching_comparison(models, seconds, args.threads)
    sentiment_batching_speedup = batching["배치"]["rps"] / max(batching["하나씩"]["rps"], 1e-9)
    print(f"  → 마이크로 배칭이 처리량을 {sentiment_batching_speedup:.1f}배로 (동시 클라이언트 {BATCHING_CLIENTS}개)")

# %% [markdown]
# ## 7. 부하 테스트
# 동시 클라이언트 16개가 쉬지 않고 요청할 때 **초당 요청 수**와 지연 시간의 **백분위**를 잽니다. 평균은 꼬리를 숨깁니다:
# p95 는 요청 20개 중 가장 느린 1개가 겪는 시간입니다. 사용자가 페이지에서 여러 번 누르면 한 번은 꼬리를 만납니다.
# 번역은 한 문장을 빔 탐색으로 만드는 데 시간이 걸리므로, 클라이언트 하나가 12단어 문장을 보낼 때의 지연 시간(p50)도 따로 잽니다.
#
# 이 측정에서는 서버와 부하 생성기가 **같은 2코어**를 나눠 씁니다. 그래서 둘 다 요청 하나에 쓰는 CPU 시간을 남깁니다.
# - 부하 생성기는 wrk 같은 도구처럼 요청 바이트를 한 번 만들어 두고 그대로 보냅니다. 처음 쓴 httpx 클라이언트는 요청마다
#   약 3.5 ms 의 CPU 를 써 코어 하나를 거의 다 차지했고(그만큼 서버가 못 씀), 지금은 약 0.2 ms 입니다.
# - 서버 쪽 시간의 대부분은 모델이 아니라 HTTP 해석과 프레임워크입니다. uvicorn 은 `httptools`(C 로 만든 HTTP 해석기)와
#   `uvloop`(C 로 만든 이벤트 루프)이 설치돼 있으면 저절로 그것을 씁니다 (requirements.txt 에 있음; 어느 쪽인지 아래에 출력).

# %%
def plot_load(results: dict, path: Path) -> Path:
    fig, axes = new_figure(ncols=2, size=(6, 4))
    ax1, ax2 = axes[0]
    names = list(results)
    ax1.bar(names, [r["rps"] for r in results.values()], color="#2f6fde")
    ax1.set(title="초당 처리한 요청 수", ylabel="요청/초")
    width = 0.25
    for k, q in enumerate(["p50_ms", "p95_ms", "p99_ms"]):
        ax2.bar(np.arange(len(names)) + (k - 1) * width, [r[q] for r in results.values()], width,
                label=q.replace("_ms", ""))
    ax2.set_xticks(np.arange(len(names)), names)
    ax2.set(title="지연 시간 백분위", ylabel="밀리초", yscale="log")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelsize=8)
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("7. 부하 테스트")
    digit_file = run.path("digit_7.png")
    digit_file.write_bytes(demo_png())
    load = {f"감성 배치 ({BATCHING_CLIENTS})": batching["배치"], f"감성 하나씩 ({BATCHING_CLIENTS})": batching["하나씩"]}
    print(f"  HTTP 해석기 + 이벤트 루프: {server_stack()}")
    with cpu_threads(args.threads), BackgroundServer(create_app(build_services(models))) as server:
        load[f"숫자 ({CLIENTS})"] = load_test(f"{server.url}/api/digit", seconds, CLIENTS, file=digit_file)
        load[f"번역 ({CLIENTS})"] = load_test(f"{server.url}/api/translate", seconds, CLIENTS,
                                             body={"text": GERMAN_12_WORDS})
        load["번역 (1)"] = load_test(f"{server.url}/api/translate", seconds, 1, body={"text": GERMAN_12_WORDS})
    for name, r in load.items():
        print(f"  {name:<14} 초당 {r['rps']:>7,.1f}건 | p50 {r['p50_ms']:>7} ms | p95 {r['p95_ms']:>7} ms | "
              f"p99 {r['p99_ms']:>7} ms | 오류 {r['errors']} | 요청당 CPU: 서버 {r['server_cpu_ms']} ms, "
              f"부하 생성기 {r['client_cpu_ms']} ms")
    plot_load(load, run.path("load_test.png"))
    errors_under_load = sum(r["errors"] for r in load.values())

# %% [markdown]
# ## 8. 안전: 잘못된 입력은 4xx 와 한국어 한 줄
# 서버는 믿을 수 없는 입력을 받습니다. 기본 주소는 127.0.0.1 (이 컴퓨터에서만 접속)이고, `--host` 로 바꾸면 경고합니다.
# 사용자가 파일 경로를 보낼 수 있는 엔드포인트는 없습니다 (업로드한 바이트만 받음). 아래는 같은 앱에 잘못된 요청을 보낸 결과입니다.

# %%
BAD_REQUESTS = [
    ("텍스트 파일을 이미지로", "post", "/api/digit", {"files": {"file": ("note.txt", b"hello", "text/plain")}}),
    ("빈 리뷰", "post", "/api/sentiment", {"json": {"text": "   "}}),
    ("2,001자 리뷰", "post", "/api/sentiment", {"json": {"text": "가" * 2001}}),
    ("항목 이름이 틀림", "post", "/api/translate", {"json": {"txt": "Hallo"}}),
    ("6 MB 업로드", "post", "/api/digit", {"files": {"file": ("big.png", b"0" * (6 * 2**20), "image/png")}}),
    ("없는 주소", "get", "/api/없음", {}),
]


# %%
if __name__ == "__main__":
    section("8. 안전: 잘못된 입력")
    with TestClient(create_app(build_services(models))) as client:
        for title, method, url, kwargs in BAD_REQUESTS:
            response = getattr(client, method)(url, **kwargs)
            print(f"  {title:<12} → {response.status_code} {response.json()['detail']}")

# %% [markdown]
# ## 9. 결과 기록
# 목표(2코어 CPU, 클라이언트와 서버가 같은 기계): 숫자 엔드포인트 초당 300건 이상·p95 100 ms 이하, 마이크로 배칭 2배 이상,
# 12단어 번역(빔 5) p50 500 ms 이하, 내보낸 출력 차이 1e-4 이하, 양자화 정확도 하락 1%p 이하, 부하 중 오류 0.

# %%
if __name__ == "__main__":
    section("9. 결과 기록")
    digit_load, translate_single = load[f"숫자 ({CLIENTS})"], load["번역 (1)"]
    metrics = {"digit_rps": digit_load["rps"], "digit_p95_ms": digit_load["p95_ms"],
               "sentiment_batching_speedup": round(sentiment_batching_speedup, 2),
               "translate_p50_ms": translate_single["p50_ms"],
               "export_max_abs_diff": float(f"{export_max_abs_diff:.3g}"),
               "quantized_accuracy_drop": round(quantized_accuracy_drop, 4),
               "errors_under_load": errors_under_load,
               "review_model": "nsmc" if models["sentiment"]["korean"] else "imdb",
               "float_accuracy": round(runtimes["ONNX Runtime"]["accuracy"], 4),
               "int8_accuracy": round(runtimes["ONNX int8"]["accuracy"], 4),
               "load_seconds_per_endpoint": seconds, "server_stack": server_stack(),
               "quick_checkpoints": sorted(n for n, m in models.items() if m.get("quick")),
               "load_test": load}
    run.write_metrics(dataset=f"{review_data_name} 테스트 세트 (양자화 정확도) + 부하 테스트", data_source=review_source,
                      epochs=0, n_train=0, n_test=len(texts), metrics=metrics)

# %% [markdown]
# ## 10. 서비스 실행하기 (`--serve`)
# `python 09_model_serving.py --serve` 는 모델을 한 번 불러 uvicorn 워커 하나로 서비스를 띄우고 열 주소를 알려 줍니다.
# Ctrl+C 를 누르면 진행 중인 요청을 마치고 배처 스레드를 멈춘 뒤 깔끔하게 끝납니다.

# %%
def serve(args, run) -> None:
    models = load_all(Path(args.out_dir))
    for name, m in models.items():
        print(f"  {name:<10} " + (m["description"] + (" [--quick 모델]" if m["quick"] else "") if "model" in m
                                  else f"없음: {m['note']}"))
    with cpu_threads(args.threads):
        serve_forever(create_app(build_services(models)), args.host, args.port)


# %%
if __name__ == "__main__":
    section("10. 서비스 실행하기")
    print(f"  서비스 시작: python {LESSON}.py --serve   (다른 컴퓨터에서도: --host 0.0.0.0 --port 8080)")

# %% [markdown]
# ## 해 보세요
# 명령 하나씩 바꿔 실행하고 `runs/09_model_serving/metrics.json` 의 값을 기본 실행과 비교해 보세요.
#
# 1. **스레드 수**: `python 09_model_serving.py --threads 1` 과 `--threads 2` — 서버의 계산 스레드와 이벤트 루프,
#    부하 생성기가 코어 2개를 나눠 쓸 때 `digit_rps` 와 `digit_p95_ms` 는 어느 쪽이 좋은가요?
# 2. **배치를 모으는 시간**: `utils/serving.py` 의 `MicroBatcher` 기본값 `max_wait_ms=2.0` 을 20 으로 바꾸고
#    `python 09_model_serving.py --quick` — 배치는 커지는데 p50 지연 시간은 어떻게 되나요?
# 3. **부하 시간**: `python 09_model_serving.py --load-seconds 60` — 20초와 비교해 p99 가 안정되나요?
# 4. 서버를 띄운 채(`--serve`) 다른 터미널에서 `python -m utils.serving --url http://127.0.0.1:8000/api/translate
#    --json '{"text": "Zwei Hunde spielen im Schnee."}' --concurrency 64 --seconds 10` — 대기열이 차면 503 이 나오나요?
#
# **질문**
#
# <details><summary>1. 왜 모델 계산을 async 엔드포인트 안에서 바로 하지 않고 작업 스레드로 보낼까요?</summary>
#
# uvicorn 의 이벤트 루프는 스레드 하나에서 모든 연결을 번갈아 처리합니다. 그 안에서 번역처럼 수백 ms 걸리는 계산을 하면,
# 그동안 다른 요청은 접수도 응답도 못 해 짧은 숫자 요청까지 번역 시간만큼 늦어집니다. 작업 스레드로 보내면 PyTorch 연산은
# GIL 을 놓고 계산하므로 이벤트 루프는 계속 다른 요청을 받고, 그 요청들이 마이크로 배치로 모입니다.
# </details>
#
# <details><summary>2. 대기열이 가득 찼을 때 기다리게 하지 않고 503 을 돌려주는 이유는?</summary>
#
# 서버가 처리할 수 있는 양보다 요청이 많으면, 대기열을 무한히 늘려도 처리량은 그대로이고 모든 요청의 지연 시간만 끝없이
# 늘어납니다 (결국 모두 시간 초과). 한도를 넘은 요청을 바로 거절하면 받아들인 요청은 제시간에 끝나고, 클라이언트는
# 잠시 뒤 다시 시도하거나 다른 서버로 갈 수 있습니다. 이것을 역압(backpressure)이라고 합니다.
# </details>
#
# <details><summary>3. 양자화하면 왜 정확도가 조금 바뀌고, 왜 항상 더 빠르지는 않을까요?</summary>
#
# 가중치를 256단계의 정수로 반올림하므로 출력이 조금 달라지고, 경계에 있던 몇몇 리뷰의 판단이 바뀝니다. 속도는 정수 행렬 곱이
# 빠른 만큼 이득이지만, 매번 입력을 정수로 바꾸는 비용이 추가되고 GRU 처럼 시점마다 작은 연산을 하는 모델은 그 비용의 비중이
# 큽니다. 그래서 '빠를 것'이라고 가정하지 않고 3절처럼 잽니다.
# </details>
