"""09장 모델 서빙의 배관: 마이크로 배처, FastAPI 앱, 한국어 오류 응답, 백그라운드 서버, 부하 생성기.

장(09_model_serving.py)은 '모델이 무엇을 계산하는가'(배치 하나 → 답 목록)만 정하고, HTTP·스레드·큐·오류 처리는 여기에 둡니다.

    python -m utils.serving --url http://127.0.0.1:8000/api/digit --file 숫자.png --concurrency 16 --seconds 20
        # 부하 생성기: 서버와 다른 프로세스에서 동시 클라이언트로 요청하고 결과를 JSON 한 줄로 출력
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import importlib.util
import io
import ipaddress
import json
import queue
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx
import numpy as np
import uvicorn
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

MAX_BODY_BYTES = 5 * 1024 * 1024      # 업로드 한도 5 MB → 넘으면 413
MAX_TEXT_CHARS = 2000                 # 리뷰·번역 문장의 글자 수 한도
MAX_IMAGE_PIXELS = 4096 * 4096        # 작은 파일로 거대한 이미지를 만드는 '압축 폭탄' 방어
REQUEST_TIMEOUT_S = 10.0              # 요청 하나의 처리 시간 한도 → 넘으면 504
MAX_SEED = 2**31 - 1
LOOPBACK_HOSTS = {"localhost"}
WEB_DIR = Path(__file__).resolve().parents[1] / "web"


# ---------------------------------------------------------------------------
# 1. 마이크로 배처: 짧은 시간 동안 모인 요청을 한 배치로 계산하고 답을 각 요청에 돌려줍니다
# ---------------------------------------------------------------------------
class QueueFull(Exception):
    """대기열이 가득 찼습니다 (HTTP 503)."""


class MicroBatcher:
    """요청(item)을 대기열에 넣으면 작업 스레드가 max_wait_ms 동안 최대 max_batch 개를 모아 fn(items) 를 한 번 부릅니다.

    fn 은 입력 목록 → 같은 순서의 답 목록. 배치 계산이 예외를 내면 하나씩 다시 계산해 잘못된 요청만 실패시킵니다
    (같은 배치에 들어간 다른 요청은 정상 답을 받음). 이벤트 루프가 아닌 작업 스레드에서 계산하므로 느린 요청이
    다른 요청의 접수·응답을 막지 않습니다. 대기열은 max_queue 개로 제한해, 넘치면 기다리게 두지 않고 QueueFull.
    """

    def __init__(self, fn: Callable[[list], list], max_batch: int = 32, max_wait_ms: float = 2.0,
                 max_queue: int = 256, name: str = "batcher"):
        self.fn, self.max_batch, self.max_wait, self.name = fn, max_batch, max_wait_ms / 1000, name
        self.queue: queue.Queue = queue.Queue(max_queue)
        self.batch_sizes: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "MicroBatcher":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        while not self.queue.empty():  # 남은 요청은 기다리게 두지 않고 실패로 끝냅니다
            _, future = self.queue.get_nowait()
            if future.set_running_or_notify_cancel():
                future.set_exception(QueueFull("서버가 종료 중입니다."))

    def submit(self, item) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            self.queue.put_nowait((item, future))
        except queue.Full:
            raise QueueFull(f"대기열({self.queue.maxsize}개)이 가득 찼습니다.") from None
        return future

    def __call__(self, items: list) -> list:
        """배치 하나를 같은 스레드에서 바로 계산 (비교 측정·테스트용)."""
        return self.fn(items)

    def _gather(self) -> list:
        try:
            batch = [self.queue.get(timeout=0.1)]
        except queue.Empty:
            return []
        deadline = time.perf_counter() + self.max_wait
        while len(batch) < self.max_batch:
            try:  # 이미 쌓인 요청은 기다리지 않고 가져오고, 비었으면 마감 시각까지만 기다립니다
                batch.append(self.queue.get_nowait() if not self.queue.empty()
                             else self.queue.get(timeout=max(0.0, deadline - time.perf_counter())))
            except queue.Empty:
                break
        return batch

    def _loop(self) -> None:
        while not self._stop.is_set():
            batch = [(item, f) for item, f in self._gather() if f.set_running_or_notify_cancel()]  # 시간 초과로 취소된 요청은 뺌
            if batch:
                self.batch_sizes.append(len(batch))
                self._run(batch)

    def _run(self, batch: list) -> None:
        try:
            results = self.fn([item for item, _ in batch])
        except Exception as err:  # noqa: BLE001 — 어느 요청 때문인지 하나씩 다시 계산해 가려냅니다
            if len(batch) == 1:
                batch[0][1].set_exception(err)
                return
            for pair in batch:
                self._run([pair])
            return
        for (_, future), result in zip(batch, results):
            future.set_result(result)


# ---------------------------------------------------------------------------
# 2. 요청·응답 스키마 (pydantic): /openapi.json 에 그대로 실립니다
# ---------------------------------------------------------------------------
class TextRequest(BaseModel):
    text: str = Field(max_length=MAX_TEXT_CHARS, description=f"리뷰 또는 문장 (최대 {MAX_TEXT_CHARS:,}자)")

    @field_validator("text")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("빈 텍스트입니다. 글을 입력해 주세요.")
        return value


class SeedRequest(BaseModel):
    seed: int = Field(ge=0, le=MAX_SEED, description="난수 시드 (같은 시드 → 같은 얼굴)")


class DigitAnswer(BaseModel):
    label: int
    probabilities: list[float]
    model: str


class SentimentAnswer(BaseModel):
    label: str | None
    probability: float | None
    model: str
    note: str = ""


class TranslationAnswer(BaseModel):
    translation: str
    model: str


class Box(BaseModel):
    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    score: float


class DetectionAnswer(BaseModel):
    boxes: list[Box]
    width: int
    height: int
    model: str


class GenerationAnswer(BaseModel):
    image_png_base64: str
    model: str


@dataclass
class Service:
    """엔드포인트 하나 뒤의 모델. batcher 가 None 이면 체크포인트가 없어 note(학습 명령 안내)만 돌려줍니다."""
    name: str
    batcher: MicroBatcher | None
    note: str = ""
    info: dict = field(default_factory=dict)   # /health 와 페이지에 보일 설명 (데이터셋, --quick 여부 등)


# ---------------------------------------------------------------------------
# 3. 한국어 오류 응답: 모든 4xx·5xx 를 {"detail": "한국어 한 줄"} 로
# ---------------------------------------------------------------------------
class ServingError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


VALIDATION_MESSAGES = {
    "missing": "항목이 없습니다",
    "string_type": "문자열이어야 합니다",
    "int_type": "정수여야 합니다",
    "int_parsing": "정수여야 합니다",
    "int_from_float": "정수여야 합니다",
    "greater_than_equal": "{ge} 이상이어야 합니다",
    "less_than_equal": "{le} 이하여야 합니다",
    "string_too_long": "너무 깁니다 (최대 {max_length:,}자)",
    "model_attributes_type": "요청 본문은 JSON 객체여야 합니다",
    "dict_type": "요청 본문은 JSON 객체여야 합니다",
}
STATUS_MESSAGES = {400: "요청 본문을 읽을 수 없습니다.", 404: "없는 주소입니다.",
                   405: "이 주소는 이 HTTP 메서드를 받지 않습니다."}


def korean_validation_message(errors: list[dict]) -> str:
    """pydantic 의 영어 오류 목록 → '요청이 올바르지 않습니다: text: 너무 깁니다 (최대 2,000자)' 같은 한 줄."""
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        if err["type"] == "json_invalid":
            parts.append("요청 본문이 올바른 JSON 이 아닙니다")
            continue
        if err["type"] == "value_error":
            text = str(err.get("ctx", {}).get("error", err["msg"]))
        else:
            text = VALIDATION_MESSAGES.get(err["type"], "값이 올바르지 않습니다").format(**err.get("ctx", {}))
        parts.append(f"{where}: {text}" if where else text)
    return "요청이 올바르지 않습니다: " + "; ".join(parts)


def korean_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


class BodyLimit:
    """요청 본문이 max_bytes 를 넘으면 끝까지 읽지 않고 413 (Content-Length 가 없는 조각 전송도 세어 가며 막음)."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._too_large(scope, receive, send)
        seen, started = 0, False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise ServingError(413, self.message)
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except ServingError as err:
            if err.status != 413 or started:
                raise
            await self._too_large(scope, receive, send)

    @property
    def message(self) -> str:
        return f"요청이 너무 큽니다 (최대 {self.max_bytes / 2**20:g} MB). 더 작은 파일을 보내 주세요."

    async def _too_large(self, scope, receive, send):
        await korean_error(413, self.message)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation(_request: Request, err: RequestValidationError):
        return korean_error(422, korean_validation_message(err.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, err: StarletteHTTPException):
        return korean_error(err.status_code, STATUS_MESSAGES.get(err.status_code, f"요청을 처리할 수 없습니다 ({err.status_code})."))

    @app.exception_handler(ServingError)
    async def serving_error(_request: Request, err: ServingError):
        return korean_error(err.status, err.message)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, err: Exception):  # 트레이스백은 서버 로그에만, 응답에는 한국어 한 줄
        print(f"[서버 오류] {type(err).__name__}: {err}", file=sys.stderr)
        return korean_error(500, "서버 내부 오류입니다. 서버 로그를 확인하세요.")


# ---------------------------------------------------------------------------
# 4. 앱 만들기
# ---------------------------------------------------------------------------
def read_upload_image(data: bytes) -> Image.Image:
    """업로드된 바이트 → PIL 이미지. 이미지가 아니거나 픽셀이 너무 많으면 한국어 4xx."""
    if not data:
        raise ServingError(422, "빈 파일입니다. 이미지 파일(PNG·JPEG)을 올려 주세요.")
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise ServingError(413, f"이미지가 너무 큽니다: {image.width}×{image.height} (최대 4096×4096 픽셀)")
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ServingError(415, "이미지 파일이 아닙니다. PNG·JPEG 같은 이미지를 올려 주세요.") from None
    return image


async def answer(services: dict[str, Service], name: str, item, timeout: float) -> dict:
    """요청 하나를 그 모델의 배처에 넣고, 작업 스레드가 계산한 답을 이벤트 루프를 막지 않고 기다립니다."""
    service = services.get(name)
    if service is None or service.batcher is None:
        raise ServingError(503, service.note if service else "이 모델은 이 서버에 없습니다.")
    try:
        future = service.batcher.submit(item)
    except QueueFull:
        raise ServingError(503, "서버가 바쁩니다 (대기열이 가득 찼습니다). 잠시 뒤 다시 시도해 주세요.") from None
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except (asyncio.TimeoutError, TimeoutError):
        future.cancel()
        raise ServingError(504, f"처리 시간이 {timeout:g}초를 넘었습니다. 더 짧은 입력으로 다시 시도해 주세요.") from None
    except ValueError as err:  # 모델 쪽에서 입력을 거절한 경우 (예: 아는 단어가 없음)
        raise ServingError(422, str(err)) from None


def create_app(services: dict[str, Service], *, timeout: float = REQUEST_TIMEOUT_S, web_dir: Path = WEB_DIR,
               max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """모델들을 미리 불러 둔 Service 들로 앱을 만듭니다. 배처 스레드는 서버가 시작할 때 켜고 끝날 때 끕니다.

    FastAPI 의 /docs·/redoc 은 CDN 에서 스크립트를 받으므로 끄고, 스키마는 /openapi.json 으로 둡니다.
    CORS 는 열지 않습니다: 페이지와 API 가 같은 출처(origin)라 필요 없고, 열면 다른 사이트가 이 서버를 부를 수 있습니다.
    """
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        for s in services.values():
            if s.batcher is not None:
                s.batcher.start()
        yield
        for s in services.values():
            if s.batcher is not None:
                s.batcher.stop()

    app = FastAPI(title="딥러닝 과정 모델 서버 (09장)", docs_url=None, redoc_url=None, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.mount("/static", StaticFiles(directory=web_dir), name="static")

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(web_dir / "index.html")

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "models": {name: {"ready": s.batcher is not None, "note": s.note, **s.info}
                                           for name, s in services.items()}}

    @app.post("/api/digit", response_model=DigitAnswer)
    async def digit(file: UploadFile = File(description="숫자 이미지 (PNG·JPEG)")):
        return await answer(services, "digit", read_upload_image(await file.read()), timeout)

    @app.post("/api/sentiment", response_model=SentimentAnswer)
    async def sentiment(body: TextRequest):
        return await answer(services, "sentiment", body.text, timeout)

    @app.post("/api/translate", response_model=TranslationAnswer)
    async def translate(body: TextRequest):
        return await answer(services, "translate", body.text, timeout)

    @app.post("/api/detect", response_model=DetectionAnswer)
    async def detect(file: UploadFile = File(description="사진 (PNG·JPEG)")):
        return await answer(services, "detect", read_upload_image(await file.read()), timeout)

    @app.post("/api/generate", response_model=GenerationAnswer)
    async def generate(body: SeedRequest):
        return await answer(services, "generate", body.seed, timeout)

    return app


# ---------------------------------------------------------------------------
# 5. 서버 실행: 명령행(--serve) 과 백그라운드 스레드(노트북·테스트·부하 테스트)
# ---------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in LOOPBACK_HOSTS


def exposure_warning(host: str) -> str | None:
    if is_loopback(host):
        return None
    return (f"[경고] --host {host}: 이 컴퓨터 밖에서도 서버에 접속할 수 있습니다. 인증이 없으므로 믿을 수 있는 "
            "네트워크에서만 쓰고, 인터넷에 직접 열지 마세요 (앞에 인증·HTTPS 를 갖춘 프록시를 두세요).")


def server_stack() -> str:
    """uvicorn 이 고를 HTTP 해석기와 이벤트 루프 (기본값 'auto': 설치돼 있으면 C 로 만든 httptools·uvloop, 없으면 순수 파이썬 h11·asyncio)."""
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{http} + {loop}"


def serve_forever(app: FastAPI, host: str, port: int) -> None:
    """uvicorn 워커 하나로 실행합니다. Ctrl+C 를 누르면 진행 중인 요청을 마치고 배처를 멈춘 뒤 끝납니다."""
    warning = exposure_warning(host)
    if warning:
        print(warning)
    print(f"서버를 시작합니다: 브라우저에서 http://{host if ':' not in host else f'[{host}]'}:{port}/ 을 여세요 "
          "(끝내려면 Ctrl+C)")
    uvicorn.run(app, host=host, port=port, workers=1, log_level="warning", access_log=False)
    print("서버를 멈췄습니다.")


class BackgroundServer:
    """uvicorn 을 백그라운드 스레드에서 실행합니다 (노트북 커널은 이미 이벤트 루프를 돌리고 있어 uvicorn.run 을 못 씀).

    with BackgroundServer(app) as server: server.url  — port=0 이면 비어 있는 포트를 운영체제가 고릅니다.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0):
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, workers=1, log_level="warning",
                                                   access_log=False))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.host = host

    def __enter__(self) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("서버가 시작하지 못했습니다 (포트가 이미 쓰이는지 확인하세요).")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://{self.host}:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


# ---------------------------------------------------------------------------
# 6. 실제 브라우저로 페이지 보기: 데비안의 chromium 패키지를 Playwright 로 (브라우저를 내려받지 않음)
# ---------------------------------------------------------------------------
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def chromium_page(executable: str):
    """설치된 chromium 으로 새 페이지 하나. `playwright install` 은 쓰지 않습니다 (오프라인, 내려받기 없음)."""
    from playwright.sync_api import sync_playwright  # 개발용 패키지(requirements-dev.txt): 화면을 찍을 때만 필요

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900}, locale="ko-KR")
        finally:
            browser.close()


def draw_digit_seven(page) -> None:
    """캔버스에 마우스로 '7' 을 그립니다 (위 가로줄 → 비스듬한 줄기)."""
    box = page.locator("#digit-canvas").bounding_box()
    x0, y0 = box["x"], box["y"]
    for (ax, ay), (bx, by) in [((80, 60), (200, 60)), ((200, 60), (120, 230))]:
        page.mouse.move(x0 + ax, y0 + ay)
        page.mouse.down()
        page.mouse.move(x0 + bx, y0 + by, steps=12)
        page.mouse.up()


def screenshot_page(url: str, path: Path, review: str | None = None) -> Path | None:
    """페이지를 열어 숫자를 그려 예측하고 (리뷰가 있으면 분류까지) 화면을 PNG 로. chromium 이 없으면 None.

    새 스레드에서 찍습니다: 노트북 커널의 스레드에는 이벤트 루프가 돌고 있어 Playwright 의 동기 API 가 거절합니다."""
    executable = find_chromium()
    if executable is None:
        return None
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(_screenshot, executable, url, Path(path), review).result()


def _screenshot(executable: str, url: str, path: Path, review: str | None) -> Path:
    with chromium_page(executable) as page:
        page.goto(url + "/")
        page.wait_for_selector("#model-status li.ready")
        draw_digit_seven(page)
        page.click("#digit-predict")
        page.wait_for_selector("#digit-label")
        if review:
            page.fill("#review-text", review)
            page.click("#review-submit")
            page.wait_for_selector("#review-result .big")
        page.screenshot(path=str(path), full_page=True)
    return path


# ---------------------------------------------------------------------------
# 7. 부하 생성기: 서버와 다른 프로세스에서 동시 클라이언트 N개가 정해진 시간 동안 요청
#    부하 생성기는 서버와 같은 2코어를 나눠 씁니다. 생성기가 쓴 CPU 는 곧 서버에서 빼앗은 CPU 라서, wrk 처럼
#    요청 바이트를 한 번 만들어 두고 연결마다 그대로 보내며 응답은 상태 줄과 Content-Length 만큼만 읽습니다
#    (httpx 클라이언트는 요청마다 약 3.5 ms 의 CPU 를 써 코어 하나를 거의 다 차지했습니다 — docs/notes/09).
# ---------------------------------------------------------------------------
def raw_request(url: str, request: dict) -> tuple[str, int, bytes]:
    """httpx 로 요청(헤더·multipart 본문)을 한 번 만들어 HTTP/1.1 바이트로 → (호스트, 포트, 보낼 바이트)."""
    built = httpx.Request("POST", url, **request)
    body = built.read()
    head = [f"POST {built.url.raw_path.decode()} HTTP/1.1",
            *(f"{k}: {v}" for k, v in built.headers.items())]
    return built.url.host, built.url.port, ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    """응답 하나를 끝까지 읽고 상태 코드를 돌려줍니다 (본문 길이는 Content-Length 로; 연결은 다음 요청에 다시 씀)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            await reader.readexactly(int(line[15:]))
            return status
    raise ConnectionError("Content-Length 가 없는 응답")


async def _client(address: tuple[str, int, bytes], stop_at: float, latencies: list, errors: list) -> None:
    """stop_at 시각까지 요청을 하나씩 보내고 기다립니다 (적어도 한 번: stop_at=0 이면 요청 하나)."""
    host, port, payload = address
    reader = writer = None
    more = True
    while more:
        t0 = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(payload)
            ok = await read_response(reader) == 200
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            ok = False
            if writer is not None:  # 끊긴 연결은 닫아 버리고 다음 요청에서 새로 엽니다
                writer.close()
                writer = None
        done = time.perf_counter()
        if ok:
            latencies.append(done - t0)
        else:
            errors.append(1)
        more = done < stop_at
    if writer is not None:
        writer.close()


async def generate_load(url: str, request: dict, concurrency: int, seconds: float) -> dict:
    """동시 클라이언트 concurrency 개(각자 연결 하나)가 seconds 초 동안 쉬지 않고 요청합니다 → 초당 요청 수, 지연 시간 백분위, 오류 수."""
    address = raw_request(url, request)
    await _client(address, 0, [], [])  # 예열: 요청 하나 (첫 연결·첫 계산은 재지 않음)
    latencies, errors = [], []
    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(_client(address, t0 + seconds, latencies, errors) for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    ms = np.array(latencies) * 1000 if latencies else np.zeros(1)
    return {"concurrency": concurrency, "seconds": round(elapsed, 2), "requests": len(latencies),
            "rps": round(len(latencies) / elapsed, 1), "errors": len(errors),
            "client_cpu_ms": round(cpu * 1000 / max(len(latencies), 1), 2),  # 요청 하나에 부하 생성기가 쓴 CPU 시간
            **{f"p{q}_ms": round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)}}


def request_kwargs(file: str | None, body: str | None) -> dict:
    if file is not None:
        return {"files": {"file": (Path(file).name, Path(file).read_bytes(), "image/png")}}
    return {"json": json.loads(body)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="서빙 부하 생성기 (09장)")
    p.add_argument("--url", required=True)
    p.add_argument("--file", help="업로드할 이미지 파일 (multipart 'file')")
    p.add_argument("--json", help="보낼 JSON 본문")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args(argv)
    result = asyncio.run(generate_load(args.url, request_kwargs(args.file, args.json), args.concurrency, args.seconds))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
